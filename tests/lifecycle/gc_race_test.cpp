// Garbage collection racing clients: pushers share layers (uploading what HEAD says is missing,
// mounting from each other's repositories), a deleter removes whole repositories, a pass runs
// every second in the server and `berth admin gc` runs passes in another process meanwhile.
// Afterwards every image acknowledged with 201, unless its repository was deleted after the push
// began, pulls byte-identical; and once the grace period has passed, the disk holds exactly the
// blobs that the remaining manifests reference.
#include <atomic>
#include <iostream>
#include <map>
#include <mutex>
#include <random>

#include "lifecycle_support.hpp"

namespace berth_test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kRepositories = 5;
constexpr int kPushers = 3;
constexpr auto kLoad = 8s;

class GcRaceTest : public LifecycleTest {
 public:
  static void SetUpTestSuite() { startWith(R"("gc_interval_seconds": 1, "gc_grace_seconds": 2)"); }
  static void TearDownTestSuite() { stop(); }

 protected:
  struct Pushed {
    std::string repository;
    std::string tag;
    std::string manifest;
    std::vector<std::string> blobs;  // digests, contents in `contents`
    Clock::time_point began;
  };

  std::unique_ptr<HttpClient> client() {
    auto c = std::make_unique<HttpClient>(baseUrl());
    c->setAuthorization(basicAuthorization(registryUser(), registryPassword()));
    c->setCheckApiVersion(false);
    return c;
  }
};

TEST_F(GcRaceTest, AcknowledgedImagesSurviveAndNothingUnreferencedStays) {
  std::vector<std::string> repositories;
  for (int i = 0; i < kRepositories; ++i)
    repositories.push_back(repo("race/r" + std::to_string(i)));
  // Layers shared by every pusher, so that uploads, mounts and collection meet on the same blobs.
  std::vector<std::string> layers;
  for (int i = 0; i < 6; ++i) layers.push_back(randomBytes(32 * 1024 + i));

  std::mutex mutex;
  std::map<std::string, std::string> contents;  // digest -> bytes
  for (const auto& l : layers) contents[sha256Digest(l)] = l;
  std::vector<Pushed> acknowledged;
  std::map<std::string, std::vector<Clock::time_point>> deletions;  // repository -> when
  std::map<std::string, int> refusals;                              // "<status> <code>" -> count
  std::atomic<bool> failed{false};
  std::atomic<int> serverErrors{0};
  const auto end = Clock::now() + kLoad;

  auto pusher = [&](int seed) {
    auto http = client();
    std::mt19937 random(static_cast<unsigned>(seed));
    for (int n = 0; Clock::now() < end; ++n) {
      Pushed p;
      p.repository = repositories[random() % repositories.size()];
      p.tag = "p" + std::to_string(seed) + "-" + std::to_string(n);
      p.began = Clock::now();
      const std::string config = "{\"nonce\":\"" + randomHex(16) + "\"}";
      std::vector<std::pair<std::string, std::string>> blobs{{sha256Digest(config), config}};
      const size_t first = random() % layers.size();
      blobs.emplace_back(sha256Digest(layers[first]), layers[first]);
      const auto& second = layers[(first + 1 + random() % (layers.size() - 1)) % layers.size()];
      blobs.emplace_back(sha256Digest(second), second);
      {
        std::lock_guard lock(mutex);
        contents[blobs[0].first] = config;
      }
      bool ok = true;
      for (const auto& [digest, data] : blobs) {
        const std::string base = "/v2/" + p.repository + "/blobs/";
        if (http->head(base + digest).status == 200) continue;
        // Half the time, try a mount from another repository first.
        if (random() % 2 == 0) {
          const auto& from = repositories[random() % repositories.size()];
          Response m = http->post(base + "uploads/?mount=" + digest + "&from=" + from);
          if (m.status == 201) continue;
          if (m.status >= 500) ++serverErrors;
        }
        Response r = http->post(base + "uploads/?digest=" + digest, data,
                                {{"Content-Type", "application/octet-stream"}});
        if (r.status != 201) {
          if (r.status >= 500) ++serverErrors;
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      Descriptor c{mt::kOciConfig, blobs[0].first, blobs[0].second.size()};
      Descriptor l1{mt::kOciLayerGzip, blobs[1].first, blobs[1].second.size()};
      Descriptor l2{mt::kOciLayerGzip, blobs[2].first, blobs[2].second.size()};
      const std::string body = makeImageManifest(c, {l1, l2});
      Response r = http->put("/v2/" + p.repository + "/manifests/" + p.tag, body,
                             {{"Content-Type", mt::kOciManifest}});
      std::lock_guard lock(mutex);
      if (r.status == 201) {
        p.manifest = body;
        for (const auto& b : blobs) p.blobs.push_back(b.first);
        acknowledged.push_back(std::move(p));
      } else {
        if (r.status >= 500) ++serverErrors;
        ++refusals[std::to_string(r.status) + " " + errorCode(r)];
      }
    }
  };
  auto deleter = [&] {
    auto http = client();
    std::mt19937 random(99);
    while (Clock::now() < end) {
      std::this_thread::sleep_for(700ms);
      const auto& victim = repositories[random() % repositories.size()];
      Response r = http->del("/api/v1/registries/default/repositories/" + victim);
      // When the deletion ended: a push that began while it was still running may have been
      // acknowledged and then removed with the rest of the repository.
      const auto at = Clock::now();
      if (r.status != 200 && r.status != 404) {
        failed = true;
        ADD_FAILURE() << "deleting " << victim << "\n" << r;
      }
      std::lock_guard lock(mutex);
      deletions[victim].push_back(at);
    }
  };

  // A second collector in another process, at the same time as the server's own passes: the
  // job running twice at once must be as safe as running once.
  std::atomic<int> adminPasses{0};
  auto secondCollector = [&] {
    while (Clock::now() < end) {
      const CommandResult r =
          runCommand({berthBin(), "admin", "gc", "--data", dataDir(), "--grace-seconds", "2"});
      if (r.status != 0) {
        failed = true;
        ADD_FAILURE() << "berth admin gc during the race\n" << r.describe();
        return;
      }
      ++adminPasses;
    }
  };

  std::vector<std::thread> threads;
  for (int i = 0; i < kPushers; ++i) threads.emplace_back(pusher, i + 1);
  threads.emplace_back(deleter);
  threads.emplace_back(secondCollector);
  for (auto& t : threads) t.join();
  ASSERT_FALSE(failed);
  EXPECT_GT(adminPasses.load(), 0);
  EXPECT_EQ(serverErrors.load(), 0);
  for (const auto& [what, count] : refusals) {
    // A layer whose link was collected between the client's HEAD and its manifest: refused
    // cleanly, and the client pushes again. Nothing else may refuse a push here.
    EXPECT_TRUE(what == "400 MANIFEST_BLOB_UNKNOWN" || what == "404 MANIFEST_BLOB_UNKNOWN")
        << what << " x" << count;
  }
  ASSERT_GE(acknowledged.size(), 20u) << "too few pushes to race anything";

  // Every acknowledged image whose repository was not deleted after its push began pulls
  // byte-identical, blobs included.
  size_t alive = 0;
  auto http = client();
  for (const auto& p : acknowledged) {
    bool deletedSince = false;
    for (auto at : deletions[p.repository]) deletedSince = deletedSince || at >= p.began;
    Response m =
        http->get("/v2/" + p.repository + "/manifests/" + p.tag, {{"Accept", mt::kOciManifest}});
    if (m.status == 404 && deletedSince) continue;
    ASSERT_EQ(m.status, 200) << p.repository << ":" << p.tag << " was acknowledged\n" << m;
    EXPECT_EQ(m.body, p.manifest);
    for (const auto& digest : p.blobs) {
      Response b = http->get("/v2/" + p.repository + "/blobs/" + digest);
      ASSERT_EQ(b.status, 200) << p.repository << ":" << p.tag << " lost " << digest;
      EXPECT_EQ(b.body, contents[digest]) << digest;
    }
    ++alive;
  }
  EXPECT_GT(alive, 0u);
  size_t refused = 0;
  for (const auto& [what, count] : refusals) refused += static_cast<size_t>(count);
  std::cout << "[race] " << acknowledged.size() << " images acknowledged, " << alive
            << " still in their repositories, " << refused << " pushes refused cleanly\n";

  // Once the grace period is over, the disk holds what the remaining manifests reference.
  std::set<std::string> referenced;
  for (const auto& p : acknowledged) {
    Response m =
        http->head("/v2/" + p.repository + "/manifests/" + p.tag, {{"Accept", mt::kOciManifest}});
    if (m.status == 200) referenced.insert(p.blobs.begin(), p.blobs.end());
  }
  EXPECT_TRUE(eventually([&] { return storedBlobs() == referenced; }, 30s))
      << storedBlobs().size() << " files stored, " << referenced.size() << " referenced";
}

}  // namespace
}  // namespace berth_test
