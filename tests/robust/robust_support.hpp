// What the stays-up tests share: raw requests with the fixture's credentials, a liveness check
// that does not reap the server, and waiting for its descriptors to settle.
#pragma once

#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "harness.hpp"
#include "raw.hpp"

namespace berth_test {

class StaysUpTest : public RegistryTest {
 protected:
  // A request head with the fixture's Basic credentials; `extra` ends with "\r\n" when given.
  std::string head(const std::string& method, const std::string& path,
                   const std::string& extra = "") const {
    return method + " " + path + " HTTP/1.1\r\nHost: " + hostPort() +
           "\r\nAuthorization: " + basicAuthorization(registryUser(), registryPassword()) + "\r\n" +
           extra + "\r\n";
  }

  // The server process has not ended (checked without reaping it) and answers GET /v2/.
  ::testing::AssertionResult alive() {
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(serverPid()), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid == serverPid()) {
      return ::testing::AssertionFailure()
             << "berth ended: " << (info.si_code == CLD_EXITED ? "exit status " : "signal ")
             << info.si_status << "\n---- server stderr ----\n"
             << serverLog().substr(serverLog().size() > 4000 ? serverLog().size() - 4000 : 0);
    }
    Response r = http().get("/v2/");
    if (r.status != 200) return ::testing::AssertionFailure() << "GET /v2/ answered\n" << r;
    return ::testing::AssertionSuccess();
  }

  // The server's open descriptors: sockets (the listener and each connection) and the rest
  // (the database and its pool, open blobs, upload files).
  struct Descriptors {
    int sockets = 0;
    int all = 0;
  };
  static Descriptors descriptors() {
    return {openSockets(serverPid()), openDescriptors(serverPid())};
  }

  // Waits (at most 15 s) for the server's sockets to fall back to `baseline`. A server notices
  // a vanished client on its next read or write, at once.
  static Descriptors settled(const Descriptors& baseline) {
    Descriptors now = descriptors();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (now.sockets > baseline.sockets && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      now = descriptors();
    }
    return now;
  }

  // No connection is left open, and no other descriptor beyond those of two more pooled
  // metadata connections (db, wal, shm each): the pool opens one when a request reads while
  // the others are taken, and the server's own threads (the webhook dispatcher's poll, the
  // audit writer, garbage collection) read at moments of their own. A leak per request would
  // show hundreds.
  static ::testing::AssertionResult NoDescriptorLeaked(const Descriptors& baseline) {
    const Descriptors now = settled(baseline);
    if (now.sockets > baseline.sockets || now.all > baseline.all + 6) {
      return ::testing::AssertionFailure()
             << "descriptors leaked: sockets " << baseline.sockets << " -> " << now.sockets
             << ", all " << baseline.all << " -> " << now.all;
    }
    return ::testing::AssertionSuccess();
  }

  // Where the default registry keeps its upload sessions' files.
  static std::filesystem::path uploadsDir() {
    return std::filesystem::path(dataDir()) / "registries" / "default" / "uploads";
  }

  static std::size_t filesIn(const std::filesystem::path& dir) {
    std::error_code ec;
    std::size_t n = 0;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      ++n;
    }
    return n;
  }
};

}  // namespace berth_test
