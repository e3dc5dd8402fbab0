// HTTP/1.1 framing (RFC 9112): requests a proxy in front of berth could read differently are
// refused and their connection closed, so that nothing after them is taken for a request.
#include "harness.hpp"
#include "raw.hpp"

namespace berth_test {
namespace {

using namespace std::chrono_literals;

class FramingTest : public RegistryTest {
 protected:
  std::string auth() const {
    return "Authorization: " + basicAuthorization(registryUser(), registryPassword()) + "\r\n";
  }
  // Sends `request` on a new connection and reads until the server closes it: everything it
  // answered. Fails the test when the connection stays open.
  std::string exchange(const std::string& request) {
    RawConnection c(hostPort());
    EXPECT_TRUE(c.ok() && c.send(request));
    std::string out;
    EXPECT_TRUE(c.readToEnd(out, 10s)) << "the connection was left open after:\n" << request;
    return out;
  }
  static int responses(const std::string& bytes) {
    int n = 0;
    for (std::size_t at = bytes.find("HTTP/1.1 "); at != std::string::npos;
         at = bytes.find("HTTP/1.1 ", at + 1)) {
      ++n;
    }
    return n;
  }
};

TEST_F(FramingTest, AnHttp11RequestNeedsExactlyOneHost) {
  std::string none = exchange("GET /v2/ HTTP/1.1\r\n" + auth() + "\r\n");
  EXPECT_EQ(rawStatus(none), 400) << none;
  EXPECT_NE(none.find("\"UNSUPPORTED\""), std::string::npos) << none;
  std::string two = exchange("GET /v2/ HTTP/1.1\r\nHost: " + hostPort() + "\r\nHost: other\r\n" +
                             auth() + "\r\n");
  EXPECT_EQ(rawStatus(two), 400) << two;
  // HTTP/1.0 has no Host requirement.
  std::string old = exchange("GET /v2/ HTTP/1.0\r\n" + auth() + "\r\n");
  EXPECT_EQ(rawStatus(old), 200) << old;
}

TEST_F(FramingTest, TransferEncodingMustEndInChunkedAndBeKnown) {
  const std::string name = repo("framing/te");
  const std::string smuggled =
      "GET /v2/ HTTP/1.1\r\nHost: " + hostPort() + "\r\n" + auth() + "\r\n";
  struct Case {
    std::string encoding;
    int status;
  };
  for (const Case& c : {Case{"xchunked", 400}, Case{"chunked, gzip", 400}, Case{"gzip", 400},
                        Case{"gzip, chunked", 501}, Case{"chunked, chunked", 400}}) {
    SCOPED_TRACE(c.encoding);
    // The body is a request of its own: were the framing misread, it would be answered too.
    std::string out =
        exchange("POST /v2/" + name + "/blobs/uploads/ HTTP/1.1\r\nHost: " + hostPort() + "\r\n" +
                 auth() + "Transfer-Encoding: " + c.encoding + "\r\n\r\n" + smuggled);
    EXPECT_EQ(rawStatus(out), c.status) << out;
    EXPECT_EQ(responses(out), 1) << out;
  }
  // Two Transfer-Encoding fields are one list.
  std::string split = exchange(
      "POST /v2/" + name + "/blobs/uploads/ HTTP/1.1\r\nHost: " + hostPort() + "\r\n" + auth() +
      "Transfer-Encoding: chunked\r\nTransfer-Encoding: xchunked\r\n\r\n" + smuggled);
  EXPECT_EQ(rawStatus(split), 400) << split;
  EXPECT_EQ(responses(split), 1) << split;
  // Content-Length and Transfer-Encoding together.
  std::string both = exchange(
      "POST /v2/" + name + "/blobs/uploads/ HTTP/1.1\r\nHost: " + hostPort() + "\r\n" + auth() +
      "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled);
  EXPECT_EQ(rawStatus(both), 400) << both;
  EXPECT_EQ(responses(both), 1) << both;
}

TEST_F(FramingTest, ChunkedBodiesStillWork) {
  const std::string name = repo("framing/chunked");
  RawConnection c(hostPort());
  ASSERT_TRUE(c.ok());
  const std::string data = "hello, chunked";
  ASSERT_TRUE(
      c.send("POST /v2/" + name + "/blobs/uploads/?digest=" + sha256Digest(data) +
             " HTTP/1.1\r\nHost: " + hostPort() + "\r\n" + auth() +
             "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n9\r\n, chunked\r\n0\r\n\r\n"));
  const std::string reply = c.readResponse();
  EXPECT_EQ(rawStatus(reply), 201) << reply;
  EXPECT_EQ(http().get("/v2/" + name + "/blobs/" + sha256Digest(data)).body, data);
}

}  // namespace
}  // namespace berth_test
