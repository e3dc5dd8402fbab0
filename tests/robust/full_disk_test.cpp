// A full data file system is a state, not a crash: writes are refused with 507 and a message
// that says so, reads, listings and logins go on, deletes work, a refused upload leaves nothing
// behind, and berth starts on the full disk. The data directory is a small tmpfs (root only).
#include <unistd.h>

#include <fstream>

#include "robust_support.hpp"

namespace berth_test {
namespace {

constexpr int kDiskMiB = 40;
constexpr int kReserveMiB = 4;

class FullDiskTest : public StaysUpTest {
 public:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) {
      GTEST_SKIP() << "mounting the tmpfs that plays the full disk needs root";
    }
    config() =
        std::filesystem::temp_directory_path() / ("berth-full-disk-" + randomHex(8) + ".json");
    std::ofstream(config()) << "{\"disk_reserve_bytes\": " << (kReserveMiB << 20) << "}";
    setExtraServeArgs({"--config", config().string()});
    setDataDirHooks(
        [](const std::string& dir) {
          CommandResult m = runCommand({"/bin/mount", "-t", "tmpfs", "-o",
                                        "size=" + std::to_string(kDiskMiB) + "m", "tmpfs", dir});
          ASSERT_EQ(m.status, 0) << m.describe();
        },
        [](const std::string& dir) {
          runCommand({"/bin/umount", "-l", dir});
        });
    RegistryTest::SetUpTestSuite();
    setExtraServeArgs({});
    setDataDirHooks(nullptr, nullptr);
  }
  static void TearDownTestSuite() {
    if (config().empty()) return;
    setDataDirHooks(nullptr, [](const std::string& dir) {
      runCommand({"/bin/umount", "-l", dir});
    });
    RegistryTest::TearDownTestSuite();
    setDataDirHooks(nullptr, nullptr);
    std::filesystem::remove(config());
  }

 protected:
  static std::filesystem::path& config() {
    static std::filesystem::path path;
    return path;
  }
  static std::filesystem::path data() { return dataDir(); }
  static std::filesystem::path filler() { return data() / "filler"; }
  static std::filesystem::path uploads() { return data() / "registries" / "default" / "uploads"; }

  // Writes a file until the file system has no byte left, as another program might.
  static void fillDisk() {
    std::ofstream out(filler(), std::ios::binary | std::ios::app);
    const std::string block(64 * 1024, 'f');
    while (out.write(block.data(), static_cast<std::streamsize>(block.size()))) {
    }
    out.close();
    std::ofstream tail(filler(), std::ios::binary | std::ios::app);
    while (tail.put('f')) tail.flush();
  }

  // 507 with an OCI error body whose message says the disk is full.
  static ::testing::AssertionResult IsDiskFull(const Response& r) {
    if (r.status != 507) return ::testing::AssertionFailure() << "expected 507\n" << r;
    auto doc = json::parse(r.body);
    auto errors = doc ? doc->find("errors") : nullptr;
    if (!errors || !errors->isArray() || errors->asArray().empty()) {
      return ::testing::AssertionFailure() << "no OCI error body\n" << r;
    }
    const auto message = errors->asArray()[0].getString("message").value_or("");
    if (message.find("full") == std::string::npos) {
      return ::testing::AssertionFailure() << "the message does not say the disk is full\n" << r;
    }
    return ::testing::AssertionSuccess();
  }
};

TEST_F(FullDiskTest, WritesAreRefusedReadsAndDeletesGoOnAndBerthStartsAgain) {
  const std::string name = repo("full/app");
  const Descriptor image = pushRandomImage(name, "v1");
  const Descriptor second = pushRandomImage(name, "v2");
  const std::string kept = randomBytes(300 * 1024);
  const std::string keptDigest = pushBlob(name, kept);
  const Descriptor config = pushBlobAs(name, mt::kOciConfig, "{}");
  EXPECT_TRUE(std::filesystem::exists(data() / "reserve")) << "no disk reserve was made";

  fillDisk();

  // A monolithic upload and a chunked one: 507, and nothing of either stays behind.
  const std::string blob = randomBytes(1 << 20);
  Response monolithic = http().post("/v2/" + name + "/blobs/uploads/?digest=" + sha256Digest(blob),
                                    blob, {{"Content-Type", "application/octet-stream"}});
  EXPECT_TRUE(IsDiskFull(monolithic));
  EXPECT_EQ(filesIn(uploads()), 0u);
  Response session = http().post("/v2/" + name + "/blobs/uploads/");
  if (session.status == 202) {
    const std::string location = *session.header("Location");
    EXPECT_TRUE(
        IsDiskFull(http().patch(location, blob, {{"Content-Type", "application/octet-stream"}})));
    EXPECT_REGISTRY_ERROR(http().get(location), 404, "BLOB_UPLOAD_UNKNOWN");
  } else {
    EXPECT_TRUE(IsDiskFull(session));
  }
  EXPECT_EQ(filesIn(uploads()), 0u);
  // Metadata writes too, once the database needs room (a manifest of 3 MiB).
  Response big = putManifest(
      name, "big", mt::kOciManifest,
      makeImageManifest(config, {}, {.annotations = {{"pad", std::string(3 << 20, 'p')}}}));
  EXPECT_TRUE(IsDiskFull(big));

  // Not ready, saying why: a load balancer may send writes elsewhere.
  Response ready = http().get("/readyz");
  EXPECT_EQ(ready.status, 503) << ready;
  EXPECT_NE(ready.body.find(R"("disk":"the file system of the data directory is full")"),
            std::string::npos)
      << ready.body;

  // Reads, listings and logins go on.
  EXPECT_EQ(getManifest(name, "v1").headerOr("Docker-Content-Digest"), image.digest);
  EXPECT_EQ(http().get("/v2/" + name + "/blobs/" + keptDigest).body, kept);
  EXPECT_EQ(http().get("/v2/" + name + "/tags/list").status, 200);
  EXPECT_EQ(http().get("/v2/_catalog").status, 200);
  Response token =
      http().get("/oauth2/token?service=" + hostPort() + "&scope=repository:" + name + ":pull");
  ASSERT_EQ(token.status, 200) << token;

  // Deletes work (the reserve makes room for them when nothing else does).
  EXPECT_EQ(http().del("/v2/" + name + "/manifests/v1").status, 202);
  EXPECT_REGISTRY_ERROR(getManifest(name, "v1"), 404, "MANIFEST_UNKNOWN");
  EXPECT_EQ(http().del("/v2/" + name + "/manifests/" + second.digest).status, 202);

  // berth starts on the full disk and serves what it holds.
  fillDisk();
  ASSERT_TRUE(restartServer()) << serverError();
  EXPECT_EQ(getManifest(name, image.digest).status, 200);
  EXPECT_EQ(http().get("/v2/" + name + "/blobs/" + keptDigest).body, kept);
  EXPECT_TRUE(IsDiskFull(http().post("/v2/" + name + "/blobs/uploads/?digest=" + sha256Digest(blob),
                                     blob, {{"Content-Type", "application/octet-stream"}})));

  // Space back: writes work again, and the reserve is made anew.
  std::filesystem::remove(filler());
  pushBlob(name, blob);
  EXPECT_EQ(pushRandomImage(name, "v3").digest.empty(), false);
  ASSERT_TRUE(restartServer()) << serverError();
  EXPECT_TRUE(std::filesystem::exists(data() / "reserve"));
  EXPECT_TRUE(alive());
  EXPECT_EQ(http().get("/readyz").status, 200);
}

}  // namespace
}  // namespace berth_test
