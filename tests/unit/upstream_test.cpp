// The upstream client against scripted registries: WWW-Authenticate, the token flow and Basic
// authentication, tokens cached per scope, Retry-After, redirects that must not carry
// credentials, and manifests whose bytes do not match.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>

#include "../support/scripted_server.hpp"
#include "auth/base64url.hpp"
#include "upstream/cache_rules.hpp"
#include "upstream/challenge.hpp"
#include "upstream/client.hpp"
#include "upstream/replicator.hpp"

namespace berth::upstream {
namespace {

using berth_test::ScriptedReply;
using berth_test::ScriptedServer;
using berth_test::SeenRequest;

const std::string kManifest =
    R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
    R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":)"
    R"("sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},)"
    R"("layers":[]})";
const std::string kOciManifest = "application/vnd.oci.image.manifest.v1+json";

ClientOptions options() {
  ClientOptions o;
  o.http.backoff = std::chrono::milliseconds(1);
  o.http.peer = "upstream";
  o.http.connectTimeout = std::chrono::seconds(2);
  return o;
}

Client clientOf(const ScriptedServer& server, Credentials credentials = {},
                ClientOptions o = options()) {
  o.insecureRegistries = {server.hostPort()};
  return Client(server.hostPort(), std::move(credentials),
                std::make_shared<storage::object::HttpClient>(o.http), o);
}

std::string basic(const std::string& user, const std::string& password) {
  return "Basic " + auth::base64Encode(user + ":" + password);
}

ScriptedReply manifestReply() {
  return {200,
          {{"Content-Type", kOciManifest}, {"Docker-Content-Digest", sha256Digest(kManifest)}},
          kManifest};
}

TEST(Challenge, BearerAndBasicAreRead) {
  auto all = parseChallenges(
      R"(Bearer realm="https://auth.example.com/token",service="registry.example.com",)"
      R"(scope="repository:a/b:pull,push", Basic realm="x \"y\"")");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].scheme, "bearer");
  EXPECT_EQ(all[0].param("realm"), "https://auth.example.com/token");
  EXPECT_EQ(all[0].param("service"), "registry.example.com");
  EXPECT_EQ(all[0].param("scope"), "repository:a/b:pull,push");
  EXPECT_EQ(all[1].scheme, "basic");
  EXPECT_EQ(all[1].param("realm"), "x \"y\"");
  EXPECT_EQ(preferredChallenge(R"(Basic realm="r")")->scheme, "basic");
  EXPECT_EQ(preferredChallenge(R"(Basic realm="r", Bearer realm="https://t")")->scheme, "bearer");
  // A Bearer challenge without a realm cannot be answered: Basic then, or nothing.
  EXPECT_FALSE(preferredChallenge(R"(Bearer service="s")"));
  EXPECT_FALSE(preferredChallenge(""));
  EXPECT_FALSE(preferredChallenge("Negotiate"));
  // An unterminated quote ends the list; what came before stays.
  all = parseChallenges(R"(Basic realm="a", Bearer realm="b)");
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].param("realm"), "a");
  EXPECT_EQ(parseChallenges(R"(BASIC REALM=x)")[0].param("realm"), "x");
}

TEST(ImageRefs, AreReadAsDockerReadsThem) {
  auto r = parseImageRef("alpine");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->str(), "docker.io/library/alpine:latest");
  r = parseImageRef("docker.io/bitnami/redis:7.2");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->host, "docker.io");
  EXPECT_EQ(r->repository, "bitnami/redis");
  EXPECT_EQ(r->tag, "7.2");
  const std::string digest = sha256Digest("x");
  r = parseImageRef("localhost:5000/team/app@" + digest);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->host, "localhost:5000");
  EXPECT_EQ(r->repository, "team/app");
  EXPECT_EQ(r->tag, "");
  EXPECT_EQ(r->reference(), digest);
  r = parseImageRef("Registry.Example.com/x:1@" + digest);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->host, "registry.example.com");
  EXPECT_EQ(r->tag, "1");
  EXPECT_EQ(apiHost("docker.io"), "registry-1.docker.io");
  for (const char* bad : {"", "Upper/Case", "host.io/x:bad tag", "host.io/x@sha256:12", "host.io/",
                          "ho$t.io/x", "a//b"}) {
    EXPECT_FALSE(parseImageRef(bad)) << bad;
  }
  EXPECT_NE(parseImageRef("Upper/Case").error().message.find("invalid image reference"),
            std::string::npos);
}

TEST(CacheRules, SourcesAndTargetsAreRepositoriesOrPrefixes) {
  EXPECT_TRUE(checkCacheRule("docker.io/library/alpine", "alpine"));
  EXPECT_TRUE(checkCacheRule("docker.io/library/*", "hub/*"));
  EXPECT_TRUE(checkCacheRule("docker.io/*", "hub/*"));
  EXPECT_TRUE(checkCacheRule("registry.example.com:5000/team/*", "mirror/team/*"));
  for (const auto& [source, target] : std::vector<std::pair<std::string, std::string>>{
           {"library/alpine", "alpine"},            // no host
           {"docker.io", "alpine"},                 // no repository
           {"docker.io/library/*", "alpine"},       // a wildcard on one side only
           {"docker.io/library/alpine", "hub/*"},   // the same, the other way
           {"docker.io/*", "*"},                    // the whole registry
           {"docker.io/Library/*", "hub/*"},        // not a repository name
           {"docker.io/library/alpine", "Alpine"},  //
       }) {
    EXPECT_FALSE(checkCacheRule(source, target)) << source << " -> " << target;
  }
}

TEST(CacheRules, APulledRepositoryMapsToItsUpstream) {
  const std::vector<meta::CacheRule> rules{
      {1, "hub", "docker.io/*", "hub/*", "hubcreds", 0, 0},
      {1, "lib", "docker.io/library/*", "hub/library/*", "", 0, 0},
      {1, "alpine", "docker.io/library/alpine", "alpine", "", 0, 0},
      {1, "team", "registry.example.com:5000/team/*", "mirror/*", "", 0, 0},
  };
  auto m = matchCacheRule(rules, "alpine");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->rule, "alpine");
  EXPECT_EQ(m->host, "docker.io");
  EXPECT_EQ(m->repository, "library/alpine");
  // Docker Hub's one-part names are under library/.
  m = matchCacheRule(rules, "hub/redis");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->rule, "hub");
  EXPECT_EQ(m->repository, "library/redis");
  EXPECT_EQ(m->credentialSet, "hubcreds");
  m = matchCacheRule(rules, "hub/bitnami/redis");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->repository, "bitnami/redis");
  // The longest prefix wins.
  m = matchCacheRule(rules, "hub/library/nginx");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->rule, "lib");
  EXPECT_EQ(m->repository, "library/nginx");
  m = matchCacheRule(rules, "mirror/app/api");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->host, "registry.example.com:5000");
  EXPECT_EQ(m->repository, "team/app/api");
  EXPECT_FALSE(matchCacheRule(rules, "hub"));
  EXPECT_FALSE(matchCacheRule(rules, "mirror"));
  EXPECT_FALSE(matchCacheRule(rules, "alpine/x"));
  EXPECT_FALSE(matchCacheRule(rules, "other/app"));
}

TEST(UpstreamClient, TheTokenFlowIsAnsweredAndItsTokenCachedPerScope) {
  std::string endpoint;
  ScriptedServer server([&](const SeenRequest& r) -> ScriptedReply {
    if (r.target.starts_with("/token?")) {
      if (r.header("authorization") != basic("ci", "s3cret")) return {401, {}, ""};
      return {200, {}, R"({"token":"tok-)" + std::to_string(r.index) + R"(","expires_in":300})"};
    }
    if (!r.header("authorization").starts_with("Bearer tok-")) {
      return {401,
              {{"WWW-Authenticate",
                R"(Bearer realm=")" + endpoint + R"(/token",service="svc",scope="x")"}},
              R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})"};
    }
    return manifestReply();
  });
  endpoint = server.endpoint();
  auto client = clientOf(server, {"ci", "s3cret"});
  auto m = client.manifest("team/app", "v1");
  ASSERT_TRUE(m) << m.error().detail;
  EXPECT_EQ(m->body, kManifest);
  EXPECT_EQ(m->mediaType, kOciManifest);
  EXPECT_EQ(m->digest, sha256Digest(kManifest));
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 3u);  // refused, token, manifest
  EXPECT_EQ(seen[1].target, "/token?service=svc&scope=repository%3Ateam%2Fapp%3Apull");
  // The token of that scope is sent at once now; another repository needs its own.
  ASSERT_TRUE(client.manifest("team/app", "v2"));
  EXPECT_EQ(server.requests(), 4);
  ASSERT_TRUE(client.manifest("team/other", "v1"));
  EXPECT_EQ(server.requests(), 7);

  // Wrong credentials: the token service's refusal, naming the upstream and the user.
  auto wrong = clientOf(server, {"ci", "wrong"});
  auto refused = wrong.manifest("team/app", "v1");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().httpStatus(), 424);
  EXPECT_EQ(refused.error().message, "upstream " + server.hostPort() +
                                         " refused the credentials of ci at its token service");
  EXPECT_FALSE(unavailable(refused.error()));
}

TEST(UpstreamClient, BasicAuthenticationIsAnsweredWithTheCredentials) {
  ScriptedServer server([&](const SeenRequest& r) -> ScriptedReply {
    if (r.header("authorization") != basic("ci", "s3cret")) {
      return {401, {{"WWW-Authenticate", R"(Basic realm="Registry Realm")"}}, ""};
    }
    return manifestReply();
  });
  auto client = clientOf(server, {"ci", "s3cret"});
  ASSERT_TRUE(client.manifest("app", "v1"));
  ASSERT_TRUE(client.manifest("app", "v1"));
  EXPECT_EQ(server.requests(), 3);  // the first 401, then Basic from the start

  auto none = clientOf(server);
  auto r = none.manifest("app", "v1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "upstream " + server.hostPort() + " requires credentials (none were given)");
  auto wrong = clientOf(server, {"ci", "nope"});
  r = wrong.manifest("app", "v1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().httpStatus(), 424);
  EXPECT_NE(r.error().message.find("refused the credentials of ci to app"), std::string::npos)
      << r.error().message;
}

TEST(UpstreamClient, RetryAfterIsHonouredWithinItsBound) {
  ScriptedServer soon([](const SeenRequest& r) -> ScriptedReply {
    if (r.index == 0) return {429, {{"Retry-After", "1"}}, ""};
    return manifestReply();
  });
  auto client = clientOf(soon);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(client.manifest("app", "v1"));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(990));
  EXPECT_EQ(soon.requests(), 2);

  // Later than the bound: the 429 is the answer, at once, and it means "unavailable".
  ScriptedServer later([](const SeenRequest&) -> ScriptedReply {
    return {429,
            {{"Retry-After", "3600"}},
            R"({"errors":[{"code":"TOOMANYREQUESTS",)"
            R"("message":"pull rate limit"}]})"};
  });
  auto limited = clientOf(later).manifest("app", "v1");
  ASSERT_FALSE(limited);
  EXPECT_EQ(later.requests(), 1);
  EXPECT_EQ(limited.error().httpStatus(), 429);
  EXPECT_TRUE(unavailable(limited.error()));
  EXPECT_NE(limited.error().message.find("TOOMANYREQUESTS: pull rate limit"), std::string::npos)
      << limited.error().message;

  // 5xx without Retry-After: the attempts allowed, then "unavailable".
  ScriptedServer broken([](const SeenRequest&) -> ScriptedReply { return {503, {}, ""}; });
  auto down = clientOf(broken).manifest("app", "v1");
  ASSERT_FALSE(down);
  EXPECT_EQ(broken.requests(), 4);
  EXPECT_TRUE(unavailable(down.error()));
}

TEST(UpstreamClient, RedirectsToStorageAreFollowedWithoutTheCredentials) {
  const std::string data(100000, 'b');
  ScriptedServer storage([&](const SeenRequest&) -> ScriptedReply { return {200, {}, data}; });
  ScriptedServer registry([&](const SeenRequest& r) -> ScriptedReply {
    if (r.header("authorization") != basic("ci", "pw")) {
      return {401, {{"WWW-Authenticate", R"(Basic realm="r")"}}, ""};
    }
    return {307, {{"Location", storage.endpoint() + "/bucket/blob?sig=1"}}, ""};
  });
  auto client = clientOf(registry, {"ci", "pw"});
  std::string got;
  auto size = client.blob("app", *Digest::parse(sha256Digest(data)), [&](const char* p, size_t n) {
    got.append(p, n);
    return true;
  });
  ASSERT_TRUE(size) << size.error().detail;
  EXPECT_EQ(*size, data.size());
  EXPECT_EQ(got, data);
  ASSERT_EQ(storage.seen().size(), 1u);
  EXPECT_EQ(storage.seen()[0].target, "/bucket/blob?sig=1");
  EXPECT_EQ(storage.seen()[0].header("authorization"), "");

  // A redirect loop ends.
  ScriptedServer loop([&](const SeenRequest&) -> ScriptedReply {
    return {302, {{"Location", "/v2/app/blobs/again"}}, ""};
  });
  auto looped = clientOf(loop).blob("app", *Digest::parse(sha256Digest(data)),
                                    [](const char*, size_t) { return true; });
  ASSERT_FALSE(looped);
  EXPECT_EQ(loop.requests(), 6);
  EXPECT_NE(looped.error().message.find("more than 5 redirects"), std::string::npos);
}

TEST(UpstreamClient, ManifestsThatAreNotWhatWasAskedAreRefused) {
  const std::string other = R"({"schemaVersion":2})";
  ScriptedServer server([&](const SeenRequest& r) -> ScriptedReply {
    if (r.target.ends_with("/lying")) {
      return {200, {{"Docker-Content-Digest", sha256Digest(other)}}, kManifest};
    }
    if (r.target.ends_with("/missing")) return {404, {}, ""};
    return {200, {{"Content-Type", "application/json"}}, kManifest};
  });
  auto client = clientOf(server);
  // Asked by digest, the bytes must have it.
  auto byDigest = client.manifest("app", sha256Digest(other));
  ASSERT_FALSE(byDigest);
  EXPECT_EQ(byDigest.error().code, ApiCode::DigestInvalid);
  EXPECT_EQ(byDigest.error().httpStatus(), 424);
  // Asked by tag, a digest the upstream names must be the bytes'.
  auto lying = client.manifest("app", "lying");
  ASSERT_FALSE(lying);
  EXPECT_EQ(lying.error().code, ApiCode::DigestInvalid);
  // A JSON content type: the media type is read from the body.
  auto plain = client.manifest("app", "v1");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->mediaType, kOciManifest);
  auto missing = client.manifest("app", "missing");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().httpStatus(), 404);
  EXPECT_EQ(missing.error().code, ApiCode::ManifestUnknown);
  // Larger than allowed: refused, not held.
  auto small = options();
  small.maxManifestBytes = 64;
  auto big = clientOf(server, {}, small).manifest("app", "v1");
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, ApiCode::ManifestInvalid);
}

TEST(UpstreamClient, TagsArePagedThroughAndHeadsSayTheDigest) {
  ScriptedServer server([&](const SeenRequest& r) -> ScriptedReply {
    if (r.target == "/v2/app/tags/list?n=1000") {
      return {200,
              {{"Link", R"(</v2/app/tags/list?n=1000&last=b>; rel="next")"}},
              R"({"name":"app","tags":["a","b"]})"};
    }
    if (r.target == "/v2/app/tags/list?n=1000&last=b") {
      return {200, {}, R"({"name":"app","tags":["c"]})"};
    }
    if (r.method == "HEAD" && r.target == "/v2/app/manifests/v1") return manifestReply();
    return {404, {}, ""};
  });
  auto client = clientOf(server);
  auto tags = client.tags("app");
  ASSERT_TRUE(tags) << tags.error().detail;
  EXPECT_EQ(*tags, (std::vector<std::string>{"a", "b", "c"}));
  auto head = client.headManifest("app", "v1");
  ASSERT_TRUE(head);
  ASSERT_TRUE(*head);
  EXPECT_EQ((*head)->digest, sha256Digest(kManifest));
  EXPECT_EQ((*head)->size, kManifest.size());
  auto gone = client.headManifest("app", "v2");
  ASSERT_TRUE(gone);
  EXPECT_FALSE(*gone);
}

TEST(UpstreamClient, AStopFlagEndsRequestsOnlyOnceSet) {
  const std::string data(3 << 20, 'd');
  ScriptedServer server([&](const SeenRequest&) -> ScriptedReply { return {200, {}, data}; });
  std::atomic<bool> stop{false};
  auto o = options();
  o.insecureRegistries = {server.hostPort()};
  Client client(server.hostPort(), {}, std::make_shared<storage::object::HttpClient>(o.http), o,
                &stop);
  uint64_t got = 0;
  int64_t announced = -2;
  auto size = client.blob(
      "app", *Digest::parse(sha256Digest(data)),
      [&](const char*, size_t n) {
        got += n;
        return true;
      },
      [&](int64_t length) { announced = length; });
  ASSERT_TRUE(size) << size.error().detail;
  EXPECT_EQ(got, data.size());
  EXPECT_EQ(announced, static_cast<int64_t>(data.size()));
  stop = true;
  auto stopped = client.blob("app", *Digest::parse(sha256Digest(data)),
                             [&](const char*, size_t) { return true; });
  ASSERT_FALSE(stopped);
  EXPECT_NE(stopped.error().message.find("stopping"), std::string::npos);
}

TEST(UpstreamClient, WhatAnUpstreamSaysIsCutToOnePrintableLine) {
  ScriptedServer server([&](const SeenRequest&) -> ScriptedReply {
    return {403,
            {},
            R"({"errors":[{"code":"DENIED","message":"no\r\nX-Injected: 1\u0000)" +
                std::string(1000, 'x') + R"("}]})"};
  });
  auto r = clientOf(server).manifest("app", "v1");
  ASSERT_FALSE(r);
  const auto& message = r.error().message;
  EXPECT_EQ(message.find_first_of(std::string("\r\n\0", 3)), std::string::npos) << message;
  EXPECT_NE(message.find("DENIED: no  X-Injected: 1"), std::string::npos) << message;
  EXPECT_LT(message.size(), 500u);
}

TEST(UpstreamClient, AnUpstreamThatIsNotThereIsUnavailableAndNamed) {
  auto o = options();
  o.http.maxAttempts = 2;
  o.insecureRegistries = {"127.0.0.1:9"};
  Client client("127.0.0.1:9", {}, std::make_shared<storage::object::HttpClient>(o.http), o);
  auto r = client.manifest("app", "v1");
  ASSERT_FALSE(r);
  EXPECT_TRUE(unavailable(r.error()));
  EXPECT_TRUE(r.error().message.starts_with("upstream 127.0.0.1:9 unreachable: "))
      << r.error().message;
}

}  // namespace
}  // namespace berth::upstream

namespace berth::upstream {
namespace {

TEST(ReplicationTargets, AreRegistriesWithAnOptionalPrefix) {
  auto t = parseReplicationTarget("https://DR.example.com:5000/mirror/prod/");
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->host, "dr.example.com:5000");
  EXPECT_EQ(t->prefix, "mirror/prod");
  EXPECT_FALSE(t->plain);
  EXPECT_EQ(t->url(), "https://dr.example.com:5000/mirror/prod");
  EXPECT_EQ(t->repository("team/app"), "mirror/prod/team/app");
  auto plain = parseReplicationTarget("http://127.0.0.1:5000");
  ASSERT_TRUE(plain);
  EXPECT_TRUE(plain->plain);
  EXPECT_EQ(plain->prefix, "");
  EXPECT_EQ(plain->repository("team/app"), "team/app");
  for (const char* bad : {"ftp://dr.example.com", "dr.example.com", "https://u:p@dr.example.com",
                          "https://dr.example.com/?x=1", "https://dr.example.com/#f",
                          "https://dr.example.com/Upper", "https:///mirror", ""}) {
    auto r = parseReplicationTarget(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_NE(r.error().message.find("invalid replication target"), std::string::npos);
    }
  }
}

// A registry that takes uploads: POST gives a relative Location, PATCHes append what their
// Content-Range says, the PUT with ?digest= ends it.
struct UploadTarget {
  std::mutex mutex;
  std::string received;
  std::vector<std::string> ranges, methods;
  std::string putTarget;
  ScriptedServer server{[this](const SeenRequest& r) -> ScriptedReply {
    std::lock_guard lock(mutex);
    methods.push_back(r.method);
    if (r.method == "POST") return {202, {{"Location", "/v2/app/blobs/uploads/u1?_state=s"}}, ""};
    if (r.method == "PATCH") {
      ranges.push_back(r.header("content-range"));
      received += r.body;
      return {202, {{"Location", "/v2/app/blobs/uploads/u1?_state=s2"}}, ""};
    }
    if (r.method == "PUT") {
      received += r.body;
      putTarget = r.target;
      return {201, {}, ""};
    }
    return {405, {}, R"({"errors":[{"code":"UNSUPPORTED","message":"not here"}]})"};
  }};
};

TEST(UpstreamClient, BlobsGoUpInChunksFromAStoreWithoutFiles) {
  UploadTarget target;
  auto o = options();
  o.chunkBytes = 4;
  auto client = clientOf(target.server, {}, o);
  const std::string bytes = "0123456789";
  storage::BlobReader reader;
  reader.size = bytes.size();
  reader.fetch = [&](uint64_t first, uint64_t length, const storage::ByteSink& sink) {
    sink(bytes.data() + first, length);
    return Result<void>();
  };
  const auto digest = *Digest::parse(sha256Digest(bytes));
  ASSERT_TRUE(client.pushBlob("app", digest, reader));
  EXPECT_EQ(target.received, bytes);
  EXPECT_EQ(target.ranges, (std::vector<std::string>{"0-3", "4-7", "8-9"}));
  EXPECT_EQ(target.putTarget, "/v2/app/blobs/uploads/u1?_state=s2&digest=" +
                                  std::string("sha256%3A") + std::string(digest.hex()));
}

TEST(UpstreamClient, BlobsGoUpInOnePutFromAFile) {
  UploadTarget target;
  auto client = clientOf(target.server);
  const std::string bytes = "a blob kept in a file";
  char path[] = "/tmp/berth-push-XXXXXX";
  UniqueFd fd(::mkstemp(path));
  ASSERT_TRUE(fd);
  ::unlink(path);
  ASSERT_EQ(::write(fd.get(), bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  storage::BlobReader reader{std::make_shared<const UniqueFd>(std::move(fd)), bytes.size()};
  ASSERT_TRUE(client.pushBlob("app", *Digest::parse(sha256Digest(bytes)), reader));
  EXPECT_EQ(target.received, bytes);
  EXPECT_EQ(target.methods, (std::vector<std::string>{"POST", "PUT"}));
  // What the target cannot do is told apart from a refusal that may pass (credentials).
  auto deleted = client.deleteManifest("app", "v1");
  ASSERT_FALSE(deleted);
  EXPECT_EQ(deleted.error().code, ApiCode::Unsupported);
  EXPECT_NE(deleted.error().message.find("deleting app:v1: HTTP 405 UNSUPPORTED"),
            std::string::npos)
      << deleted.error().message;
}

TEST(UpstreamClient, AnUploadLocationOnAnotherOriginIsRefused) {
  ScriptedServer server([](const SeenRequest&) -> ScriptedReply {
    return {202, {{"Location", "http://elsewhere.example:1/upload"}}, ""};
  });
  auto client = clientOf(server, {"ci", "secret"});
  storage::BlobReader reader;
  reader.size = 1;
  reader.fetch = [](uint64_t, uint64_t, const storage::ByteSink& sink) {
    sink("x", 1);
    return Result<void>();
  };
  auto r = client.pushBlob("app", *Digest::parse(sha256Digest("x")), reader);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("without a location on the same registry"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(server.requests(), 1);
}

}  // namespace
}  // namespace berth::upstream
