// What the storage-lifecycle tests share: a server with garbage collection every second, the
// registry's usage and last pass from the control API, and the blob files on its disk.
#pragma once

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <thread>

#include "harness.hpp"
#include "json.hpp"

namespace berth_test {

class LifecycleTest : public RegistryTest {
 protected:
  // Starts the suite's server with `config` (a JSON object's members, without braces).
  static void startWith(const std::string& config) { startServerWithConfig("{" + config + "}"); }
  static void stop() { stopServerWithConfig(); }

  // GET on the control API with the fixture's (admin) credentials, as JSON.
  json::Value control(const std::string& path) {
    Response r = http().get("/api/v1/registries/default" + path);
    EXPECT_EQ(r.status, 200) << r;
    auto v = json::parse(r.body);
    EXPECT_TRUE(v) << r.body;
    return v ? *v : json::Value();
  }
  // The registry's stored bytes, as show-usage reports them.
  uint64_t usedBytes() {
    auto usage = control("/usage");
    const auto* entries = usage.find("value");
    if (!entries || !entries->isArray()) return UINT64_MAX;
    for (const auto& e : entries->asArray()) {
      if (e.getString("name") == "Size")
        return static_cast<uint64_t>(e.find("currentValue")->asNumber());
    }
    return UINT64_MAX;
  }
  // Digests of the blob files of the default registry, from its directory.
  static std::set<std::string> storedBlobs() {
    std::set<std::string> out;
    const auto root = std::filesystem::path(dataDir()) / "registries" / "default" / "blobs";
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_regular_file()) {
        out.insert(it->path().parent_path().parent_path().filename().string() + ":" +
                   it->path().filename().string());
      }
    }
    return out;
  }
  static bool stored(const std::string& digest) { return storedBlobs().count(digest) > 0; }

  // Polls `done` every 100 ms for up to `limit`.
  template <class Done>
  static bool eventually(Done done, std::chrono::seconds limit = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return done();
  }
};

}  // namespace berth_test
