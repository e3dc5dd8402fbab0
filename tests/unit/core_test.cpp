#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <vector>

#include "core/config.hpp"
#include "core/digest.hpp"
#include "core/errors.hpp"
#include "core/lru_cache.hpp"
#include "core/metrics.hpp"
#include "core/random.hpp"
#include "core/reference.hpp"

namespace berth {
namespace {

const std::string kHex64(64, 'a');

TEST(Digest, AcceptsSha256AndSha512) {
  auto d = Digest::parse("sha256:" + kHex64);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->algorithm(), "sha256");
  EXPECT_EQ(d->hex(), kHex64);
  EXPECT_TRUE(Digest::parse("sha512:" + std::string(128, '0')));
}

TEST(Digest, RejectsMalformed) {
  for (const std::string& bad : std::vector<std::string>{
           "", "sha256", "sha256:", "sha256:" + std::string(63, 'a'),
           "sha256:" + std::string(65, 'a'), "sha256:" + std::string(64, 'A'), "md5:" + kHex64,
           "sha512:" + kHex64, "sha256:../../" + std::string(58, 'a'), ":" + kHex64}) {
    EXPECT_FALSE(Digest::parse(bad)) << bad;
  }
}

TEST(Hasher, MatchesKnownSha256) {
  EXPECT_EQ(sha256Digest(""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Hasher h;
  h.update("hel");
  h.update("lo");
  EXPECT_EQ(h.finish(), "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
}

TEST(RepositoryName, AcceptsTheGrammar) {
  for (const char* good :
       {"a", "library/ubuntu", "team/app/web", "a.b", "a_b", "a__b", "a---b", "x9/y-z.q_r", "0"}) {
    EXPECT_TRUE(isValidRepositoryName(good)) << good;
  }
}

TEST(RepositoryName, RejectsOutsideTheGrammar) {
  for (const std::string& bad :
       {std::string(), std::string("A"), std::string("a//b"), std::string("/a"), std::string("a/"),
        std::string("a..b"), std::string("a___b"), std::string("-a"), std::string("a-"),
        std::string("a/../b"), std::string(".."), std::string("a b"), std::string("a%2fb"),
        std::string(256, 'a')}) {
    EXPECT_FALSE(isValidRepositoryName(bad)) << bad;
  }
  EXPECT_TRUE(isValidRepositoryName(std::string(255, 'a')));
}

TEST(Tag, AcceptsTheGrammar) {
  for (const char* good : {"latest", "v1.0.0", "_x", "A-b.C_d", "1"}) {
    EXPECT_TRUE(isValidTag(good)) << good;
  }
  EXPECT_TRUE(isValidTag(std::string(128, 'a')));
}

TEST(Tag, RejectsOutsideTheGrammar) {
  for (const std::string& bad : {std::string(), std::string(".a"), std::string("-a"),
                                 std::string("a/b"), std::string("a:b"), std::string(129, 'a')}) {
    EXPECT_FALSE(isValidTag(bad)) << bad;
  }
}

TEST(Errors, EveryCodeHasARowWithAStatus) {
  for (int i = 0; i < static_cast<int>(ApiCode::kCount); ++i) {
    const auto& row = info(static_cast<ApiCode>(i));
    EXPECT_EQ(static_cast<int>(row.code), i);
    EXPECT_FALSE(row.wire.empty());
    EXPECT_GE(row.status, 400);
    EXPECT_LT(row.status, 600);
  }
}

TEST(Errors, WireCodesAreTheSpecificationsOwn) {
  // The OCI distribution specification's error codes, and UNKNOWN for internal errors.
  const std::set<std::string_view> spec{
      "BLOB_UNKNOWN",     "BLOB_UPLOAD_INVALID",   "BLOB_UPLOAD_UNKNOWN",
      "DIGEST_INVALID",   "MANIFEST_BLOB_UNKNOWN", "MANIFEST_INVALID",
      "MANIFEST_UNKNOWN", "NAME_INVALID",          "NAME_UNKNOWN",
      "SIZE_INVALID",     "UNAUTHORIZED",          "DENIED",
      "UNSUPPORTED",      "TOOMANYREQUESTS",       "UNKNOWN"};
  for (int i = 0; i < static_cast<int>(ApiCode::kCount); ++i) {
    const auto& row = info(static_cast<ApiCode>(i));
    EXPECT_TRUE(spec.contains(row.wire)) << row.wire;
  }
}

TEST(Errors, BodyFollowsTheSpec) {
  EXPECT_EQ(
      errorBody(makeError(ApiCode::BlobUnknown, "x")),
      R"({"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry","detail":"x"}]})");
  EXPECT_EQ(makeError(ApiCode::ManifestInvalid, "", 413).httpStatus(), 413);
  EXPECT_EQ(makeError(ApiCode::ManifestInvalid).httpStatus(), 400);
}

TEST(Errors, AnExplainedErrorSaysWhyInItsMessage) {
  // Clients print the message alone: a quota or lock refusal must say so there.
  EXPECT_EQ(errorBody(explainedError(ApiCode::Denied, "storage quota exceeded")),
            R"({"errors":[{"code":"DENIED","message":"storage quota exceeded",)"
            R"("detail":"storage quota exceeded"}]})");
  EXPECT_EQ(explainedError(ApiCode::Denied, "q").httpStatus(), 403);
}

TEST(Uuid, IsVersion4AndRecognised) {
  const auto a = newUuid();
  const auto b = newUuid();
  EXPECT_NE(a, b);
  EXPECT_TRUE(isUuid(a));
  EXPECT_EQ(a[14], '4');
  EXPECT_FALSE(isUuid("../../etc/passwd"));
  EXPECT_FALSE(isUuid(a.substr(1) + "/"));
  EXPECT_FALSE(isUuid(std::string(36, 'a')));
}

TEST(LruCache, EvictsLeastRecentlyUsed) {
  LruCache<std::string, int> cache(2);
  cache.put("a", 1);
  cache.put("b", 2);
  EXPECT_EQ(cache.get("a"), 1);  // a is now the most recent
  cache.put("c", 3);
  EXPECT_FALSE(cache.get("b"));
  EXPECT_EQ(cache.get("a"), 1);
  EXPECT_EQ(cache.get("c"), 3);
  cache.eraseIf([](const std::string& k, int) { return k == "a"; });
  EXPECT_FALSE(cache.get("a"));
  EXPECT_EQ(cache.size(), 1u);
}

TEST(Config, ParsesHostPort) {
  auto hp = parseHostPort("127.0.0.1:5000");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "127.0.0.1");
  EXPECT_EQ(hp->port, 5000);
  auto v6 = parseHostPort("[::1]:0");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_FALSE(parseHostPort("nohost"));
  EXPECT_FALSE(parseHostPort("a:99999"));
  EXPECT_FALSE(parseHostPort("a:5x"));
}

class ConfigFile : public ::testing::Test {
 protected:
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("berth-config-" + newUuid() + ".json");
  void TearDown() override { std::filesystem::remove(path); }
  void write(const std::string& text) { std::ofstream(path) << text; }
};

TEST_F(ConfigFile, ReadsKnownKeys) {
  write(R"({"listen": "0.0.0.0:6000", "data": "/srv/berth", "threads": 3})");
  auto c = loadConfigFile(path.string());
  ASSERT_TRUE(c) << c.error().detail;
  EXPECT_EQ(c->listen, "0.0.0.0:6000");
  EXPECT_EQ(c->dataDir, "/srv/berth");
  EXPECT_EQ(c->threads, 3u);
}

TEST_F(ConfigFile, RejectsUnknownKeysAndBadValues) {
  write(R"({"lisen": "x"})");
  auto unknown = loadConfigFile(path.string());
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().detail.find("lisen"), std::string::npos);
  write(R"({"threads": "many"})");
  EXPECT_FALSE(loadConfigFile(path.string()));
  write("not json");
  EXPECT_FALSE(loadConfigFile(path.string()));
  EXPECT_FALSE(loadConfigFile((path.string() + ".missing")));
}

TEST_F(ConfigFile, ReadsTheLimits) {
  write(R"({"max_connections": 100, "max_connections_per_client": 0, "min_transfer_rate": 0,
            "max_header_bytes": 8192, "disk_reserve_bytes": 1048576})");
  auto c = loadConfigFile(path.string());
  ASSERT_TRUE(c) << c.error().detail;
  EXPECT_EQ(c->maxConnections, 100u);
  EXPECT_EQ(c->maxConnectionsPerClient, 0u);
  EXPECT_EQ(c->minTransferRate, 0u);
  EXPECT_EQ(c->maxHeaderBytes, 8192u);
  EXPECT_EQ(c->diskReserveBytes, 1048576u);
  // A value its setting cannot hold is refused, not cut down to size.
  for (const char* bad : {R"({"max_connections": 0})", R"({"max_connections": 4294967296})",
                          R"({"max_header_bytes": 100})", R"({"min_transfer_rate": -1})"}) {
    write(bad);
    EXPECT_FALSE(loadConfigFile(path.string())) << bad;
  }
}

TEST_F(ConfigFile, ReadsBooleansAndRefusesOtherTypesForThem) {
  write(
      R"({"metrics": false, "metrics_registry_label": true, "metrics_listen": "127.0.0.1:9464"})");
  auto c = loadConfigFile(path.string());
  ASSERT_TRUE(c) << c.error().detail;
  EXPECT_FALSE(c->metrics);
  EXPECT_TRUE(c->metricsRegistryLabel);
  EXPECT_EQ(c->metricsListen, "127.0.0.1:9464");
  write(R"({"metrics": 0})");
  auto bad = loadConfigFile(path.string());
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().detail.find("expected boolean"), std::string::npos) << bad.error().detail;
}

TEST(ConfigTable, EveryKeyIsReadFromAFileAndNamedInTheReference) {
  // A file that sets every key to its default reads back to the defaults, key by key: no key
  // of the table is missing from loading, and the reference lists each.
  const std::string reference = configReference();
  std::set<std::string_view> keys, flags;
  for (const auto& key : configKeys()) {
    EXPECT_TRUE(keys.insert(key.key).second) << "twice: " << key.key;
    if (!key.flag.empty()) {
      EXPECT_TRUE(flags.insert(key.flag).second) << "twice: " << key.flag;
    }
    EXPECT_NE(reference.find("| `" + std::string(key.key) + "` |"), std::string::npos) << key.key;
    EXPECT_FALSE(key.description.empty()) << key.key;
  }
  const ServeConfig defaults;
  const auto path =
      std::filesystem::temp_directory_path() / ("berth-config-" + newUuid() + ".json");
  std::ofstream(path) << configJson(defaults);
  auto back = loadConfigFile(path.string());
  std::filesystem::remove(path);
  ASSERT_TRUE(back) << back.error().detail;
  EXPECT_EQ(configJson(*back), configJson(defaults));
}

TEST(ConfigTable, PrintingRedactsSecretsThatAreSet) {
  static const ConfigKey keys[] = {
      {"listen", "", "where", &ServeConfig::listen},
      {"domain", "", "a secret, for the test", &ServeConfig::domain, 0, true},
      {"tls_key", "", "an unset secret", &ServeConfig::tlsKey, 0, true},
  };
  ServeConfig config;
  config.domain = "hunter2";
  const auto printed = configJson(config, keys);
  EXPECT_EQ(printed.find("hunter2"), std::string::npos) << printed;
  EXPECT_NE(printed.find(R"("domain": "<redacted>")"), std::string::npos) << printed;
  EXPECT_NE(printed.find(R"("tls_key": "")"), std::string::npos) << printed;
  EXPECT_NE(printed.find(R"("listen": "127.0.0.1:5000")"), std::string::npos) << printed;
}

TEST(Metrics, FunctionNamesComeFromSignatures) {
  EXPECT_EQ(metrics::functionName("berth::Result<int> berth::meta::Store::count(int) const"),
            "count");
  EXPECT_EQ(metrics::functionName(
                "berth::Result<std::vector<std::__cxx11::basic_string<char> > > "
                "berth::meta::sqlite::SqliteStore::listTags(berth::meta::RepositoryId)"),
            "listTags");
  EXPECT_EQ(metrics::functionName("void f()"), "f");
  EXPECT_EQ(metrics::functionName("putManifest"), "putManifest");
  EXPECT_EQ(metrics::functionName("no parameters here"), "unknown");
}

TEST(Metrics, NamedCachesCountHitsAndMisses) {
  LruCache<std::string, int> cache(4, "unit_test_cache");
  cache.put("a", 1);
  EXPECT_TRUE(cache.get("a"));
  EXPECT_TRUE(cache.get("a"));
  EXPECT_FALSE(cache.get("b"));
  const auto text = metrics::exposition();
  EXPECT_NE(text.find("berth_cache_hits_total{cache=\"unit_test_cache\"} 2"), std::string::npos);
  EXPECT_NE(text.find("berth_cache_misses_total{cache=\"unit_test_cache\"} 1"), std::string::npos);
  metrics::setEnabled(false);
  EXPECT_FALSE(cache.get("b"));
  metrics::setEnabled(true);
  EXPECT_NE(metrics::exposition().find("berth_cache_misses_total{cache=\"unit_test_cache\"} 1"),
            std::string::npos);
}

}  // namespace
}  // namespace berth
