// The storage quota (docs/control-api.md, `quotaBytes`): a blob upload that would make the
// registry's stored blob bytes exceed its quota fails with 403 DENIED and a message naming the
// quota; nothing stored before is lost; usage reports it; each registry has its own.
#include <algorithm>
#include <cctype>

#include "control_support.hpp"

namespace berth_test::control {
namespace {

const Headers kJson = {{"Content-Type", "application/json"}};
constexpr long long kQuota = 10000;

class QuotaTest : public ControlTest {
 protected:
  void SetUp() override {
    ControlTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    reg_ = uniqueRegistryName();
    json::Value r = createRegistry(reg_, "\"quotaBytes\":" + std::to_string(kQuota));
    const json::Value* q = r.find("quota");
    EXPECT_EQ(q ? integer(*q, "storageBytes") : std::nullopt, kQuota);
    admin_ = enableAdmin(reg_);
    p_ = plane(reg_, admin_.basic());
  }
  long long sizeUsed() {
    json::Value u = usage(reg_);
    const json::Value* e = usageEntry(u, "Size");
    return e ? integer(*e, "currentValue").value_or(-1) : -1;
  }
  // 403 DENIED whose message names the quota.
  static ::testing::AssertionResult IsQuotaDenial(const Response& r) {
    auto err = IsError(r, 403, "DENIED");
    if (!err) return err;
    std::string m = errorMessages(r);
    std::transform(m.begin(), m.end(), m.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (m.find("quota") == std::string::npos)
      return ::testing::AssertionFailure() << "the DENIED message does not name the quota\n" << r;
    return ::testing::AssertionSuccess();
  }

  std::string reg_;
  Identity admin_;
  std::unique_ptr<RegistryClient> p_;
};

TEST_F(QuotaTest, UploadBeyondTheQuotaIsDeniedAndNothingIsLost) {
  std::string b1 = randomBytes(4000), b2 = randomBytes(4000), b3 = randomBytes(4000);
  p_->pushBlob("team/app", b1);
  p_->pushBlob("team/app", b2);
  EXPECT_EQ(sizeUsed(), 8000);

  Response denied = p_->postBlob("team/app", b3);
  EXPECT_TRUE(IsQuotaDenial(denied));
  EXPECT_REGISTRY_ERROR(p_->getBlob("team/app", sha256Digest(b3)), 404, "BLOB_UNKNOWN");
  EXPECT_EQ(sizeUsed(), 8000) << "the refused blob was counted";

  // Earlier content is intact.
  Response g1 = p_->getBlob("team/app", sha256Digest(b1));
  Response g2 = p_->getBlob("team/app", sha256Digest(b2));
  EXPECT_EQ(g1.status, 200);
  EXPECT_EQ(g2.status, 200);
  EXPECT_TRUE(g1.body == b1 && g2.body == b2) << "content changed after the refused push";

  json::Value u = usage(reg_);
  const json::Value* size = usageEntry(u, "Size");
  ASSERT_NE(size, nullptr);
  EXPECT_EQ(integer(*size, "limit"), kQuota);
}

TEST_F(QuotaTest, ChunkedUploadBeyondTheQuotaIsDeniedAtCompletion) {
  p_->pushBlob("team/app", randomBytes(9000));
  std::string big = randomBytes(2000);
  EXPECT_TRUE(IsQuotaDenial(p_->chunkedBlob("team/app", big)));
  EXPECT_REGISTRY_ERROR(p_->getBlob("team/app", sha256Digest(big)), 404, "BLOB_UNKNOWN");
  EXPECT_EQ(sizeUsed(), 9000);
  // One that fits still goes in, up to the quota exactly.
  std::string fits = randomBytes(1000);
  Response ok = p_->chunkedBlob("team/app", fits);
  EXPECT_EQ(ok.status, 201) << ok;
  EXPECT_EQ(sizeUsed(), kQuota);
  // Now even one byte is too many.
  EXPECT_TRUE(IsQuotaDenial(p_->postBlob("team/app", randomBytes(1))));
}

TEST_F(QuotaTest, ImagesUntilTheQuotaThenEveryEarlierImageStillPulls) {
  std::vector<RegistryClient::Image> pushed;
  Response refused;
  for (int i = 0; i < 10 && refused.status == 0; ++i) {
    std::string repo = "team/app" + std::to_string(i);
    std::string config =
        "{\"architecture\":\"amd64\",\"os\":\"linux\",\"nonce\":\"" + randomHex(16) + "\"}";
    std::string layer = randomBytes(2500);
    Response c = p_->postBlob(repo, config);
    if (c.status != 201) {
      refused = c;
      break;
    }
    Response l = p_->postBlob(repo, layer);
    if (l.status != 201) {
      refused = l;
      break;
    }
    RegistryClient::Image img;
    img.config = describe(mt::kOciConfig, config);
    img.layer = describe(mt::kOciLayerGzip, layer);
    img.body = makeImageManifest(img.config, {img.layer});
    img.manifest = describe(mt::kOciManifest, img.body);
    Response m = p_->putManifest(repo, "v1", mt::kOciManifest, img.body);
    if (m.status != 201) {
      refused = m;
      break;
    }
    pushed.push_back(img);
  }
  ASSERT_NE(refused.status, 0) << "ten images of 2.5 kB went into a 10 kB quota";
  EXPECT_TRUE(IsQuotaDenial(refused));
  ASSERT_GE(pushed.size(), 2u) << "the quota refused too early";
  for (std::size_t i = 0; i < pushed.size(); ++i) {
    SCOPED_TRACE("image " + std::to_string(i));
    std::string repo = "team/app" + std::to_string(i);
    Response m = p_->getManifest(repo, "v1");
    EXPECT_EQ(m.status, 200) << m;
    EXPECT_EQ(m.body, pushed[i].body);
    Response l = p_->getBlob(repo, pushed[i].layer.digest);
    EXPECT_EQ(sha256Digest(l.body), pushed[i].layer.digest);
    EXPECT_EQ(p_->getBlob(repo, pushed[i].config.digest).status, 200);
  }
  EXPECT_LE(sizeUsed(), kQuota);
}

TEST_F(QuotaTest, RaisingTheQuotaLetsThePushThrough) {
  p_->pushBlob("team/app", randomBytes(8000));
  std::string next = randomBytes(4000);
  EXPECT_TRUE(IsQuotaDenial(p_->postBlob("team/app", next)));
  json::Value r = expectJson(api().patch(regPath(reg_), R"({"quotaBytes":20000})", kJson), 200);
  EXPECT_EQ(integer(*r.find("quota"), "storageBytes"), 20000);
  EXPECT_EQ(p_->pushBlob("team/app", next), sha256Digest(next));
  EXPECT_EQ(sizeUsed(), 12000);
  // Lowering it below what is stored keeps the content and refuses new blobs.
  ASSERT_EQ(api().patch(regPath(reg_), R"({"quotaBytes":5000})", kJson).status, 200);
  EXPECT_TRUE(IsQuotaDenial(p_->postBlob("team/app", randomBytes(10))));
  EXPECT_EQ(p_->getBlob("team/app", sha256Digest(next)).body, next);
}

TEST_F(QuotaTest, AStoredBlobIsNotChargedTwice) {
  std::string b = randomBytes(6000);
  p_->pushBlob("team/app", b);
  // The same bytes into another repository of the registry: stored once, no new bytes.
  Response again = p_->postBlob("team/other", b);
  EXPECT_EQ(again.status, 201) << again;
  Response mount =
      p_->post("/v2/team/third/blobs/uploads/?mount=" + sha256Digest(b) + "&from=team/app");
  EXPECT_EQ(mount.status, 201) << mount;
  EXPECT_EQ(sizeUsed(), 6000);
}

TEST_F(QuotaTest, EachRegistryHasItsOwnQuota) {
  p_->pushBlob("team/app", randomBytes(9500));
  EXPECT_TRUE(IsQuotaDenial(p_->postBlob("team/app", randomBytes(1000))));
  std::string other = uniqueRegistryName();
  Identity admin = createRegistryWithAdmin(other);
  auto q = plane(other, admin.basic());
  std::string big = randomBytes(50000);
  EXPECT_EQ(q->pushBlob("team/app", big), sha256Digest(big));
  // The default registry neither.
  Response d = http().post("/v2/team/app/blobs/uploads/?digest=" + sha256Digest(big), big,
                           {{"Content-Type", "application/octet-stream"}});
  EXPECT_EQ(d.status, 201) << d;
}

TEST_F(QuotaTest, TokensMeetTheSameQuota) {
  Identity t = createToken(reg_, "ci", "_repositories_push");
  auto c = plane(reg_, t.basic());
  EXPECT_EQ(c->postBlob("team/app", randomBytes(9000)).status, 201);
  EXPECT_TRUE(IsQuotaDenial(c->postBlob("team/app", randomBytes(2000))));
}

}  // namespace
}  // namespace berth_test::control
