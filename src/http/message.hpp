#pragma once
// Requests and responses as the planes see them. Nothing here includes Beast or Asio:
// the server in server.cpp translates between these and the wire.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/errors.hpp"
#include "core/unique_fd.hpp"

namespace berth::http {

enum class Method { Get, Head, Post, Put, Patch, Delete, Options, Other };
std::string_view methodName(Method method);

// Header fields with case-insensitive names, in arrival order.
class Headers {
 public:
  void add(std::string name, std::string value) {
    fields_.emplace_back(std::move(name), std::move(value));
  }
  void set(std::string_view name, std::string value);
  void erase(std::string_view name);
  std::optional<std::string_view> get(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& all() const { return fields_; }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

struct Request {
  Method method = Method::Other;
  std::string path;                                        // the target's path, as sent
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  Headers headers;
  std::string remote;
  std::string requestId;
  bool keepAlive = true;
  bool secure = false;  // arrived over TLS
  // What answered, for metrics, set by the plane that did: its name and the route's template
  // ("/v2/{name}/manifests/{reference}"), never the raw path; and the registry when known.
  std::string_view plane = "other";
  std::string_view route = "unmatched";
  std::string registry;
  // For the audit log, set by the plane that answered: what the request did ("manifest.push";
  // empty: nothing to audit), to what ("repo:tag"), and who asked ("admin", "token:ci", or the
  // user name a refused login gave). Never a secret.
  std::string_view auditAction;
  std::string auditTarget;
  std::string identity;

  std::optional<std::string_view> param(std::string_view name) const;
  std::optional<std::string_view> header(std::string_view name) const { return headers.get(name); }
  // The Host header as sent ("registry.example:5000"), or "localhost" when absent.
  std::string_view host() const { return header("Host").value_or("localhost"); }
  // "<scheme>://<host>", the base of absolute URLs such as the token realm.
  std::string baseUrl() const;
};

// Decodes an application/x-www-form-urlencoded body into its pairs, in order.
std::vector<std::pair<std::string, std::string>> parseForm(std::string_view body);

// Bytes of an open file to go out with sendfile(2).
struct FileRange {
  std::shared_ptr<const UniqueFd> fd;  // shared: open blobs are cached and reused
  uint64_t offset = 0;
  uint64_t length = 0;
};

class BodySource;

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  std::optional<FileRange> file;
  std::shared_ptr<BodySource> source;  // with contentLength: the body, pumped on the blocking pool
  // For HEAD: the length the GET would have had, when no body or file is attached.
  std::optional<uint64_t> contentLength;

  static Response error(const Error& error);
  static Response json(int status, std::string body);
  static Response empty(int status);
};

// A response body produced somewhere that may block (an object store). The server runs pump()
// on its blocking pool; `write` hands each piece to the connection, waiting while an earlier
// piece is still going out, and returns false when the client is gone or too slow (pump should
// stop then). The length is the response's contentLength, announced with the first byte.
class BodySource {
 public:
  virtual ~BodySource() = default;
  // False when the source failed. The head goes out with the first byte written: after it,
  // the connection is closed and the client sees a short body; before it, instead() answers.
  virtual bool pump(const std::function<bool(const char*, size_t)>& write) = 0;
  // The response to send when pump() failed before writing a byte (a blob the store no longer
  // has: 404); none closes the connection.
  virtual std::optional<Response> instead() { return std::nullopt; }
};

// Receives a request body piece by piece, so that uploads stream to storage.
class BodySink {
 public:
  virtual ~BodySink() = default;
  // Returns false to stop reading: finish() then explains why.
  virtual bool write(const char* data, size_t size) = 0;
  // A sink that can take `size` bytes waiting in a pipe, filled by splice(2) from the socket,
  // without copying them through user space. The server offers a pipe only where this is true.
  virtual bool acceptsPipe() const { return false; }
  virtual bool writeFromPipe(int /*pipe*/, size_t /*size*/) { return false; }
  // A sink whose writes may block (on an object store): the server calls write() and finish()
  // on its blocking pool, one call at a time, and reads the next piece of the body only when
  // the last one was taken. Such a sink is never offered a pipe.
  virtual bool blocking() const { return false; }
  // `complete` is false when the client went away or sent a malformed body.
  virtual Response finish(bool complete) = 0;
};
using BodySinkPtr = std::unique_ptr<BodySink>;

// A sink that keeps a bounded body in memory (manifests, small JSON), then calls `done`.
template <class Done>
class BufferedSink final : public BodySink {
 public:
  // `blocks`: `done` may block (it then runs on the blocking pool, see BodySink::blocking).
  BufferedSink(size_t limit, Error tooLarge, Done done, bool blocks = false)
      : limit_(limit), tooLarge_(std::move(tooLarge)), done_(std::move(done)), blocks_(blocks) {}
  bool blocking() const override { return blocks_; }
  bool write(const char* data, size_t size) override {
    if (body_.size() + size > limit_) {
      overflow_ = true;
      return false;
    }
    body_.append(data, size);
    return true;
  }
  Response finish(bool complete) override {
    if (overflow_) return Response::error(tooLarge_);
    if (!complete) return Response::error(makeError(ApiCode::Unknown, "incomplete body", 400));
    return done_(std::move(body_));
  }

 private:
  size_t limit_;
  Error tooLarge_;
  Done done_;
  bool blocks_;
  std::string body_;
  bool overflow_ = false;
};

// What a plane does with a request whose head has arrived: answer now, take the body, or run
// work that may block (calls to an object store) on the server's blocking pool and go on with
// the Dispatch it returns. Such work may use the Request it was dispatched for: the request
// outlives it.
struct Dispatch {
  std::optional<Response> response;
  BodySinkPtr sink;
  std::function<Dispatch()> blocking;

  static Dispatch reply(Response r) { return Dispatch{std::move(r), nullptr, nullptr}; }
  static Dispatch body(BodySinkPtr s) { return Dispatch{std::nullopt, std::move(s), nullptr}; }
  static Dispatch offload(std::function<Dispatch()> work) {
    return Dispatch{std::nullopt, nullptr, std::move(work)};
  }
};

// A request answered (or given up), as the server saw it on the wire.
struct Exchange {
  const Request& request;
  int status = 0;
  uint64_t bytesIn = 0;   // the body as read
  uint64_t bytesOut = 0;  // head and body as written
  std::chrono::steady_clock::duration took{};
};

class Application {
 public:
  virtual ~Application() = default;
  virtual Dispatch dispatch(Request& request) = 0;
  // Called once a request's reply has been written, or has failed to be.
  virtual void completed(const Exchange&) {}
  // A stop signal arrived: the server serves on for its shutdown delay, then closes.
  virtual void beginShutdown() {}
};

// The address of "address:port" or "[v6 address]:port", as a request's `remote` holds it.
std::string clientAddress(std::string_view remote);

}  // namespace berth::http
