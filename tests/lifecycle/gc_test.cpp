// Online garbage collection through the data plane: what a client deletes frees storage and
// the registry's used bytes within a pass, while what is referenced stays; idle uploads expire;
// the control API reports the last pass.
#include "lifecycle_support.hpp"

namespace berth_test {
namespace {

using namespace std::chrono_literals;

class GcTest : public LifecycleTest {
 public:
  // A pass every second; links unreferenced for a second go; idle sessions after two.
  static void SetUpTestSuite() {
    startWith(R"("gc_interval_seconds": 1, "gc_grace_seconds": 1, "upload_expiry_seconds": 2)");
  }
  static void TearDownTestSuite() { stop(); }
};

TEST_F(GcTest, ADeletedBlobLeavesTheDiskAndTheUsage) {
  const std::string name = repo("gc/blob");
  const std::string data = randomBytes(20 * 1000 * 1000);
  const uint64_t before = usedBytes();
  const std::string digest = pushBlob(name, data);
  EXPECT_EQ(usedBytes(), before + data.size());
  EXPECT_TRUE(stored(digest));
  ASSERT_EQ(http().del("/v2/" + name + "/blobs/" + digest).status, 202);
  EXPECT_TRUE(eventually([&] { return !stored(digest); })) << "the file stays on disk";
  EXPECT_TRUE(eventually([&] { return usedBytes() == before; })) << usedBytes();
  EXPECT_EQ(http().head("/v2/" + name + "/blobs/" + digest).status, 404);
}

TEST_F(GcTest, ReferencedBlobsStayAndGoWithTheirManifest) {
  const std::string name = repo("gc/image");
  const auto image = pushRandomImage(name, "v1");
  Response manifest = getManifest(name, "v1");
  ASSERT_EQ(manifest.status, 200);
  auto parsed = json::parse(manifest.body);
  ASSERT_TRUE(parsed);
  std::vector<std::string> blobs{*parsed->find("config")->getString("digest")};
  for (const auto& layer : parsed->find("layers")->asArray())
    blobs.push_back(*layer.getString("digest"));
  // Several passes later, everything the tagged image references is still there.
  std::this_thread::sleep_for(3s);
  for (const auto& d : blobs) {
    EXPECT_TRUE(stored(d)) << d;
    EXPECT_EQ(http().get("/v2/" + name + "/blobs/" + d).status, 200) << d;
  }
  // Deleting the manifest lets them go, a grace period later.
  ASSERT_EQ(http().del("/v2/" + name + "/manifests/" + image.digest).status, 202);
  for (const auto& d : blobs) EXPECT_TRUE(eventually([&] { return !stored(d); })) << d;
}

TEST_F(GcTest, DeletingARepositoryFreesItsStorageButNotWhatOthersShare) {
  const std::string doomed = repo("gc/doomed");
  const std::string keeper = repo("gc/keeper");
  const std::string mine = pushBlob(doomed, randomBytes(100000));
  const std::string shared = pushBlob(doomed, randomBytes(100000));
  ASSERT_EQ(
      http().post("/v2/" + keeper + "/blobs/uploads/?mount=" + shared + "&from=" + doomed).status,
      201);
  const auto config = pushBlobAs(keeper, "application/vnd.oci.image.config.v1+json", "{}");
  Descriptor sharedLayer{"application/vnd.oci.image.layer.v1.tar", shared, 100000};
  pushManifest(keeper, "v1", "application/vnd.oci.image.manifest.v1+json",
               makeImageManifest(config, {sharedLayer}));
  ASSERT_EQ(http().del("/api/v1/registries/default/repositories/" + doomed).status, 200);
  EXPECT_TRUE(eventually([&] { return !stored(mine); }));
  std::this_thread::sleep_for(2s);
  EXPECT_TRUE(stored(shared));
  EXPECT_EQ(http().get("/v2/" + keeper + "/blobs/" + shared).status, 200);
}

TEST_F(GcTest, AnIdleUploadExpiresAndAnActiveOneDoesNot) {
  const std::string name = repo("gc/uploads");
  const std::string idle = startUpload(name);
  const std::string active = startUpload(name);
  // The active one is written to every second; the idle one not at all.
  uint64_t offset = 0;
  for (int i = 0; i < 5; ++i) {
    Response r = http().patch(
        active, "abc",
        {{"Content-Type", "application/octet-stream"},
         {"Content-Range", std::to_string(offset) + "-" + std::to_string(offset + 2)}});
    ASSERT_EQ(r.status, 202) << r;
    offset += 3;
    std::this_thread::sleep_for(1s);
  }
  EXPECT_TRUE(eventually([&] { return http().get(idle).status == 404; }));
  EXPECT_EQ(http().get(idle).status, 404);
  EXPECT_EQ(http().get(active).status, 204);
}

TEST_F(GcTest, TheControlApiReportsTheLastPass) {
  const std::string name = repo("gc/report");
  const std::string digest = pushBlob(name, randomBytes(4096));
  ASSERT_EQ(http().del("/v2/" + name + "/blobs/" + digest).status, 202);
  ASSERT_TRUE(eventually([&] { return !stored(digest); }));
  EXPECT_TRUE(eventually([&] {
    auto gc = control("/gc");
    const auto* last = gc.find("lastRun");
    return last && last->isObject() && last->find("finished")->isString() &&
           last->find("error")->isNull() && !last->find("dryRun")->asBool();
  }));
}

}  // namespace
}  // namespace berth_test
