// Authorization matrix (tests/AUTH_CONTRACT.md, "Data plane"): every data-plane endpoint ×
// every kind of credential → the exact outcome. One parameterized test per cell, each on a
// fresh server (no state shared between cells: failed-login counters, admin/anonymous toggles).
// Refused requests are also checked for side effects (nothing deleted, uploaded or mounted).
//
// Then a few data-plane tests that do not fit the table: cross-repository mount fallback,
// catalog filtering, metadata/read, scope-map patterns, the challenge's Host, malformed
// Authorization headers, the client-side token dance.
#include <algorithm>
#include <array>
#include <cctype>

#include "auth_support.hpp"

namespace berth_test::auth {
namespace {

// ---------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------
enum class Want {
  Allow = 1,          // the endpoint's success status (and a check of the result)
  Unauthorized,       // 401 UNAUTHORIZED + Bearer challenge with the row's scope
  InsufficientScope,  // same, plus error="insufficient_scope"
  Denied,             // 403 DENIED
};
constexpr Want Y = Want::Allow;
constexpr Want U = Want::Unauthorized;
constexpr Want S = Want::InsufficientScope;
constexpr Want D = Want::Denied;

// clang-format off
enum Row {
  kV2, kGetBlob, kHeadBlob, kDeleteBlob, kPostUpload, kPostMount, kPatchUpload, kPutUpload,
  kGetUpload, kDeleteUpload, kGetManifest, kHeadManifest, kPutManifest, kDeleteManifest,
  kTagsList, kCatalog, kReferrers, kRowCount
};
// clang-format on

struct RowInfo {
  const char* name;     // test name part
  const char* request;  // for messages
  long okStatus;
  // Challenge scope: "" none; "registry:catalog:*"; else the actions of
  // "repository:<name>:<actions>", alternatives separated by '|'.
  const char* scope;
};

// GET on an upload session: CONTRACT lists only POST/PATCH/PUT uploads under "push" and says the
// challenge of a GET is "pull"; the session belongs to a push, so it needs push here (most
// secure reading) and the challenge may name pull or pull,push.
constexpr std::array<RowInfo, kRowCount> kRows = {{
    {"V2", "GET /v2/", 200, ""},
    {"GetBlob", "GET /v2/<name>/blobs/<digest>", 200, "pull"},
    {"HeadBlob", "HEAD /v2/<name>/blobs/<digest>", 200, "pull"},
    {"DeleteBlob", "DELETE /v2/<name>/blobs/<digest>", 202, "delete"},
    {"PostUpload", "POST /v2/<name>/blobs/uploads/", 202, "pull,push"},
    {"PostMount", "POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<source>", 201, "pull,push"},
    {"PatchUpload", "PATCH <upload location>", 202, "pull,push"},
    {"PutUpload", "PUT <upload location>?digest=", 201, "pull,push"},
    {"GetUpload", "GET <upload location>", 204, "pull|pull,push"},
    {"DeleteUpload", "DELETE <upload location>", 204, "pull,push"},
    {"GetManifest", "GET /v2/<name>/manifests/v1", 200, "pull"},
    {"HeadManifest", "HEAD /v2/<name>/manifests/v1", 200, "pull"},
    {"PutManifest", "PUT /v2/<name>/manifests/v1", 201, "pull,push"},
    {"DeleteManifest", "DELETE /v2/<name>/manifests/<digest>", 202, "delete"},
    {"TagsList", "GET /v2/<name>/tags/list", 200, "pull"},
    {"Catalog", "GET /v2/_catalog", 200, "registry:catalog:*"},
    {"Referrers", "GET /v2/<name>/referrers/<digest>", 200, "pull"},
}};

// clang-format off
enum Col {
  kNoCredentials, kAnonymousPullOn, kWrongPassword, kDisabledAdmin, kDisabledToken,
  kExpiredTokenSecret, kPullTokenBasic, kPushTokenBasic, kDeleteTokenBasic, kOtherRepoTokenBasic,
  kExpiredJwt, kNotYetValidJwt, kTamperedJwt, kForeignKeyJwt, kUnknownKidJwt, kAlgNoneJwt,
  kHs256Jwt, kOtherAudienceJwt, kWrongIssuerJwt,
  kAdminBasic, kAdminJwt, kPullTokenJwt, kPushTokenJwt, kServerKeyJwt, kColCount
};
// clang-format on

// What each column sends (the JWTs ask for pull,push,delete on the cell's repository, pull on
// the mount source and registry:catalog:*; the token endpoint grants the intersection).
constexpr std::array<const char*, kColCount> kCols = {
    "NoCredentials",        // nothing (anonymous pull off, the default)
    "AnonymousPullOn",      // nothing, anonymous pull switched on for the request
    "WrongPassword",        // Basic default:<wrong password>
    "DisabledAdmin",        // Basic default:<right password>, admin switched off for the request
    "DisabledToken",        // Basic of a token with _repositories_push, --status disabled
    "ExpiredTokenSecret",   // Basic of a token with _repositories_push, --expiration in 2000
    "PullTokenBasic",       // Basic of a token with _repositories_pull
    "PushTokenBasic",       // Basic of a token with _repositories_push
    "DeleteTokenBasic",     // Basic of a token with content/delete only, on m/*
    "OtherRepoTokenBasic",  // Basic of a token with all five actions on elsewhere/app only
    "ExpiredJwt",           // server's key and kid, exp an hour ago
    "NotYetValidJwt",       // server's key and kid, nbf in an hour
    "TamperedJwt",          // a real pull-token JWT whose access claim was widened (old signature)
    "ForeignKeyJwt",        // server's kid, signed with a fresh P-256 key
    "UnknownKidJwt",        // fresh P-256 key, unknown kid
    "AlgNoneJwt",           // {"alg":"none"}, empty signature
    "Hs256Jwt",             // HS256 keyed with the server's public key PEM (algorithm confusion)
    "OtherAudienceJwt",     // server's key and kid, aud registry.example.com
    "WrongIssuerJwt",       // server's key and kid, iss not-berth
    "AdminBasic",           // Basic default:<password>
    "AdminJwt",             // JWT from GET /oauth2/token with admin Basic
    "PullTokenJwt",         // JWT from GET /oauth2/token with the pull token's Basic
    "PushTokenJwt",         // JWT from GET /oauth2/token with the push token's Basic
    "ServerKeyJwt",         // control: forged like the bad ones, but valid in every respect
};

// clang-format off
constexpr std::array<std::array<Want, kColCount>, kRowCount> kMatrix = {{
//      anon apul wrpw aoff toff texp pulB pshB delB othB  jexp jnbf jtmp jfky jkid jnon hs256 jaud jiss  admB admJ pulJ pshJ srvJ
/*V2*/ {U,   U,   U,   U,   U,   U,   Y,   Y,   Y,   Y,    U,   U,   U,   U,   U,   U,   U,    U,   U,    Y,   Y,   Y,   Y,   Y},
/*GBl*/{U,   Y,   U,   U,   U,   U,   Y,   Y,   D,   D,    U,   U,   U,   U,   U,   U,   U,    U,   U,    Y,   Y,   Y,   Y,   Y},
/*HBl*/{U,   Y,   U,   U,   U,   U,   Y,   Y,   D,   D,    U,   U,   U,   U,   U,   U,   U,    U,   U,    Y,   Y,   Y,   Y,   Y},
/*DBl*/{U,   U,   U,   U,   U,   U,   D,   D,   Y,   D,    U,   U,   U,   U,   U,   U,   U,    U,   U,    Y,   Y,   S,   S,   Y},
/*POS*/{U,   U,   U,   U,   U,   U,   D,   Y,   D,   D,    U,   U,   U,   U,   U,   U,   U,    U,   U,    Y,   Y,   S,   Y,   Y},
/*MNT*/{U,   U,   U,   U,   U,   U,   D,   Y,   D,   D,    U,   U,   U,   U,   U,   U,   U,    U,   U,    Y,   Y,   S,   Y,   Y},
/*PAT*/{U,   U,   U,   U,   U,   U,   D,   Y,   D,   D,    U,   U,   U,   U,   U,   U,   U,    U,   U,    Y,   Y,   S,   Y,   Y},
/*PUT*/{U,   U,   U,   U,   U,   U,   D,   Y,   D,   D,    U,   U,   U,   U,   U,   U,   U,    U,   U,    Y,   Y,   S,   Y,   Y},
/*GUp*/{U,   U,   U,   U,   U,   U,   D,   Y,   D,   D,    U,   U,   U,   U,   U,   U,   U,    U,   U,    Y,   Y,   S,   Y,   Y},
/*DUp*/{U,   U,   U,   U,   U,   U,   D,   Y,   D,   D,    U,   U,   U,   U,   U,   U,   U,    U,   U,    Y,   Y,   S,   Y,   Y},
/*GMa*/{U,   Y,   U,   U,   U,   U,   Y,   Y,   D,   D,    U,   U,   U,   U,   U,   U,   U,    U,   U,    Y,   Y,   Y,   Y,   Y},
/*HMa*/{U,   Y,   U,   U,   U,   U,   Y,   Y,   D,   D,    U,   U,   U,   U,   U,   U,   U,    U,   U,    Y,   Y,   Y,   Y,   Y},
/*PMa*/{U,   U,   U,   U,   U,   U,   D,   Y,   D,   D,    U,   U,   U,   U,   U,   U,   U,    U,   U,    Y,   Y,   S,   Y,   Y},
/*DMa*/{U,   U,   U,   U,   U,   U,   D,   D,   Y,   D,    U,   U,   U,   U,   U,   U,   U,    U,   U,    Y,   Y,   S,   S,   Y},
/*Tag*/{U,   Y,   U,   U,   U,   U,   Y,   Y,   D,   D,    U,   U,   U,   U,   U,   U,   U,    U,   U,    Y,   Y,   Y,   Y,   Y},
/*Cat*/{U,   U,   U,   U,   U,   U,   Y,   Y,   Y,   Y,    U,   U,   U,   U,   U,   U,   U,    U,   U,    Y,   Y,   Y,   Y,   Y},
/*Ref*/{U,   Y,   U,   U,   U,   U,   Y,   Y,   D,   D,    U,   U,   U,   U,   U,   U,   U,    U,   U,    Y,   Y,   Y,   Y,   Y},
}};
// clang-format on

// Every cell filled in (a missing initializer would be 0, which is no Want), every name given.
constexpr bool tableComplete() {
  for (const auto& row : kMatrix)
    for (Want w : row)
      if (w != Y && w != U && w != S && w != D) return false;
  for (const auto& r : kRows)
    if (r.name == nullptr || r.request == nullptr || r.scope == nullptr) return false;
  for (const char* c : kCols)
    if (c == nullptr) return false;
  return true;
}
static_assert(tableComplete());

// Columns whose identity may pull (or metadata/read) the cell's repository: an allowed catalog
// request must list it; the others must not.
bool seesRepository(int col) {
  switch (col) {
    case kAnonymousPullOn:  // (its catalog request is refused)
    case kPullTokenBasic:
    case kPushTokenBasic:
    case kAdminBasic:
    case kAdminJwt:
    case kPullTokenJwt:
    case kPushTokenJwt:
    case kServerKeyJwt:
      return true;
    default:
      return false;
  }
}

std::string slug(std::string_view camel) {
  std::string out;
  for (char c : camel) {
    if (std::isupper(static_cast<unsigned char>(c)) && !out.empty()) out += '-';
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

struct Cell {
  int row;
  int col;
};

void PrintTo(const Cell& c, std::ostream* os) { *os << kRows[c.row].name << " x " << kCols[c.col]; }

std::vector<Cell> allCells() {
  std::vector<Cell> out;
  for (int r = 0; r < kRowCount; ++r)
    for (int c = 0; c < kColCount; ++c) out.push_back({r, c});
  return out;
}

// ---------------------------------------------------------------------------
// The fixture: one server per cell
// ---------------------------------------------------------------------------
class AuthMatrixTest : public IsolatedAuthTest, public ::testing::WithParamInterface<Cell> {
 protected:
  // Resources the row's request works on, created by the admin before the request.
  struct Prepared {
    std::string name, source;  // the cell's repository, the mount source
    std::string blobData, blobDigest;
    std::string upload;       // upload session Location
    std::string uploadRange;  // its Range before the request
    std::string manifestBody, manifestDigest;
  };

  Prepared prepare(int row, const std::string& name) {
    Prepared p;
    p.name = name;
    p.source = name + "-src";
    p.blobData = randomBytes(100);
    p.blobDigest = sha256Digest(p.blobData);
    switch (row) {
      case kGetBlob:
      case kHeadBlob:
      case kDeleteBlob:
        pushBlob(name, p.blobData);
        break;
      case kPostMount:
        pushBlob(p.source, p.blobData);
        break;
      case kPatchUpload:
      case kPutUpload:
      case kGetUpload:
      case kDeleteUpload: {
        p.upload = startUpload(name);
        Response status = http().get(p.upload);
        EXPECT_EQ(status.status, 204) << status;
        p.uploadRange = status.headerOr("Range");
        break;
      }
      case kPutManifest: {
        Descriptor c = pushBlobAs(
            name, mt::kOciConfig,
            "{\"architecture\":\"amd64\",\"os\":\"linux\",\"n\":\"" + randomHex(8) + "\"}");
        Descriptor l = pushBlobAs(name, mt::kOciLayerGzip, randomBytes(64));
        p.manifestBody = makeImageManifest(c, {l});
        p.manifestDigest = sha256Digest(p.manifestBody);
        break;
      }
      case kGetManifest:
      case kHeadManifest:
      case kDeleteManifest:
      case kTagsList:
      case kCatalog:
        p.manifestDigest = pushRandomImage(name, "v1").digest;
        break;
      case kReferrers: {
        Descriptor subject = pushRandomImage(name, "v1");
        p.manifestDigest = subject.digest;
        pushBlob(name, kEmptyJson);
        const std::string body = makeImageManifest(
            emptyConfigDescriptor(), {emptyConfigDescriptor()},
            {.artifactType = "application/vnd.example.sbom.v1", .subject = subject});
        pushManifest(name, sha256Digest(body), mt::kOciManifest, body);
        break;
      }
      default:
        break;
    }
    return p;
  }

  Response perform(int row, const Prepared& p, const std::string& authorization) {
    HttpClient c(baseUrl());
    c.setAuthorization(authorization);
    const std::string repoPath = "/v2/" + p.name;
    const Headers octet = {{"Content-Type", "application/octet-stream"}};
    switch (row) {
      case kV2:
        return c.get("/v2/");
      case kGetBlob:
        return c.get(repoPath + "/blobs/" + p.blobDigest);
      case kHeadBlob:
        return c.head(repoPath + "/blobs/" + p.blobDigest);
      case kDeleteBlob:
        return c.del(repoPath + "/blobs/" + p.blobDigest);
      case kPostUpload:
        return c.post(repoPath + "/blobs/uploads/");
      case kPostMount:
        return c.post(repoPath + "/blobs/uploads/?mount=" + p.blobDigest + "&from=" + p.source);
      case kPatchUpload:
        return c.patch(p.upload, randomBytes(10), octet);
      case kPutUpload:
        return c.put(appendQuery(p.upload, "digest=" + p.blobDigest), p.blobData, octet);
      case kGetUpload:
        return c.get(p.upload);
      case kDeleteUpload:
        return c.del(p.upload);
      case kGetManifest:
        return c.get(repoPath + "/manifests/v1", manifestAccept());
      case kHeadManifest:
        return c.head(repoPath + "/manifests/v1", manifestAccept());
      case kPutManifest:
        return c.put(repoPath + "/manifests/v1", p.manifestBody,
                     {{"Content-Type", mt::kOciManifest}});
      case kDeleteManifest:
        return c.del(repoPath + "/manifests/" + p.manifestDigest);
      case kTagsList:
        return c.get(repoPath + "/tags/list");
      case kCatalog:
        return c.get("/v2/_catalog?n=10000");
      case kReferrers:
        return c.get(repoPath + "/referrers/" + p.manifestDigest);
      default:
        return {};
    }
  }

  // --- credentials -----------------------------------------------------------
  std::vector<std::string> requestedScopes(const Prepared& p) {
    return {repoScope(p.name, "pull,push,delete"), repoScope(p.source, "pull"), kCatalogScope};
  }

  // The `access` claim the forged tokens carry: everything the cell could need.
  json::Value fullAccess(const Prepared& p) {
    auto entry = [](const char* type, const std::string& name, std::vector<std::string> actions) {
      return json::Value::makeObject(
          {{"type", str(type)}, {"name", str(name)}, {"actions", strArray(actions)}});
    };
    return json::Value::makeArray({entry("repository", p.name, {"pull", "push", "delete"}),
                                   entry("repository", p.source, {"pull"}),
                                   entry("registry", "catalog", {"*"})});
  }

  // A real admin JWT for the cell (its payload is the template of the forged ones) and the
  // server's signing key (read from berth.db by the JWT's kid).
  struct ServerKey {
    Jwt real;
    Pkey key;
  };
  ServerKey serverKey(const Prepared& p) {
    TokenReply t = mustGetToken(adminIdentity().basic(), requestedScopes(p));
    std::string pem = signingKeyPem(dataDir(), t.jwt->kid());
    if (pem.empty()) {
      ADD_FAILURE() << "no row with kid '" << t.jwt->kid() << "' in " << dataDir()
                    << "/berth.db table signing_keys";
      throw HelperFailure("signing key not found");
    }
    Pkey key = privateKeyFromPem(pem);
    if (!key) {
      ADD_FAILURE() << "signing_keys.private_pem of kid " << t.jwt->kid()
                    << " is not a PEM private key";
      throw HelperFailure("bad signing key");
    }
    return {*t.jwt, std::move(key)};
  }

  // Claims valid in every respect (from the template, fresh times and jti, full access).
  json::Value validClaims(const Jwt& real, const Prepared& p) {
    const std::int64_t now = nowSeconds();
    return withMembers(real.payload, {{"iat", num(now)},
                                      {"nbf", num(now)},
                                      {"exp", num(now + 300)},
                                      {"jti", str(randomHex(32))},
                                      {"access", fullAccess(p)}});
  }

  static std::string headerWithAlg(const std::string& alg, const std::string& kid) {
    return "{\"alg\":" + json::quote(alg) + ",\"typ\":\"JWT\",\"kid\":" + json::quote(kid) + "}";
  }

  std::string credentials(int col, const Prepared& p) {
    switch (col) {
      case kNoCredentials:
      case kAnonymousPullOn:
        return "";
      case kWrongPassword:
        return basicAuthorization(registryUser(), "wrong-" + randomHex(20));
      case kDisabledAdmin:
      case kAdminBasic:
        return adminIdentity().basic();
      case kDisabledToken:
        return createToken("disabled",
                           {"--scope-map", "_repositories_push", "--status", "disabled"})
            .basic();
      case kExpiredTokenSecret:
        return createToken("expired", {"--scope-map", "_repositories_push", "--expiration",
                                       "2000-01-01T00:00:00Z"})
            .basic();
      case kPullTokenBasic:
        return createToken("puller", {"--scope-map", "_repositories_pull"}).basic();
      case kPushTokenBasic:
        return createToken("pusher", {"--scope-map", "_repositories_push"}).basic();
      case kDeleteTokenBasic:
        return createToken("deleter", {"--repository", "m/*", "content/delete"}).basic();
      case kOtherRepoTokenBasic:
        return createToken("elsewhere",
                           {"--repository", "elsewhere/app", "content/read", "content/write",
                            "content/delete", "metadata/read", "metadata/write"})
            .basic();
      case kAdminJwt:
        return mustGetToken(adminIdentity().basic(), requestedScopes(p)).bearer();
      case kPullTokenJwt: {
        Identity t = createToken("puller", {"--scope-map", "_repositories_pull"});
        return mustGetToken(t.basic(), requestedScopes(p)).bearer();
      }
      case kPushTokenJwt: {
        Identity t = createToken("pusher", {"--scope-map", "_repositories_push"});
        return mustGetToken(t.basic(), requestedScopes(p)).bearer();
      }
      case kTamperedJwt: {
        Identity t = createToken("puller", {"--scope-map", "_repositories_pull"});
        Jwt real = *mustGetToken(t.basic(), requestedScopes(p)).jwt;
        std::string payload = toJson(withMembers(real.payload, {{"access", fullAccess(p)}}));
        EXPECT_NE(payload, real.payloadJson);
        return bearerAuthorization(assembleJwt(real.headerJson, payload, real.signature));
      }
      default:
        break;
    }
    // Forged with OpenSSL.
    ServerKey sk = serverKey(p);
    const std::string kid = sk.real.kid();
    const std::int64_t now = nowSeconds();
    json::Value claims = validClaims(sk.real, p);
    std::string token;
    switch (col) {
      case kExpiredJwt:
        claims = withMembers(
            claims, {{"iat", num(now - 3900)}, {"nbf", num(now - 3900)}, {"exp", num(now - 3600)}});
        token = signJwt(sk.key.get(), kid, toJson(claims));
        break;
      case kNotYetValidJwt:
        claims = withMembers(claims, {{"nbf", num(now + 3600)}, {"exp", num(now + 3900)}});
        token = signJwt(sk.key.get(), kid, toJson(claims));
        break;
      case kForeignKeyJwt:
        token = signJwt(generateP256Key().get(), kid, toJson(claims));
        break;
      case kUnknownKidJwt:
        token = signJwt(generateP256Key().get(), "unknown-" + randomHex(16), toJson(claims));
        break;
      case kAlgNoneJwt:
        token = assembleJwt(headerWithAlg("none", kid), toJson(claims), "");
        break;
      case kHs256Jwt: {
        std::string input =
            base64url(headerWithAlg("HS256", kid)) + "." + base64url(toJson(claims));
        token = input + "." + base64url(hmacSha256(publicKeyPem(sk.key.get()), input));
        break;
      }
      case kOtherAudienceJwt: {
        const json::Value* aud = sk.real.payload.find("aud");
        json::Value other = (aud != nullptr && aud->isArray()) ? strArray({"registry.example.com"})
                                                               : str("registry.example.com");
        token = signJwt(sk.key.get(), kid, toJson(withMembers(claims, {{"aud", other}})));
        break;
      }
      case kWrongIssuerJwt:
        token =
            signJwt(sk.key.get(), kid, toJson(withMembers(claims, {{"iss", str("not-berth")}})));
        break;
      case kServerKeyJwt:
        token = signJwt(sk.key.get(), kid, toJson(claims));
        break;
      default:
        ADD_FAILURE() << "no credentials for column " << col;
        break;
    }
    return bearerAuthorization(token);
  }

  // Switches server state for the duration of the request only.
  struct StateGuard {
    int col;
    explicit StateGuard(int c) : col(c) {
      if (col == kDisabledAdmin) setAdminEnabled(false);
      if (col == kAnonymousPullOn) setAnonymousPull(true);
    }
    ~StateGuard() {
      try {
        if (col == kDisabledAdmin) setAdminEnabled(true);
        if (col == kAnonymousPullOn) setAnonymousPull(false);
      } catch (const HelperFailure&) {
        // already reported
      }
    }
    StateGuard(const StateGuard&) = delete;
    StateGuard& operator=(const StateGuard&) = delete;
  };

  // --- checks ----------------------------------------------------------------
  void expectAllowed(int row, int col, const Prepared& p, const Response& r) {
    ASSERT_EQ(r.status, kRows[row].okStatus) << r;
    switch (row) {
      case kGetBlob:
        EXPECT_EQ(r.body, p.blobData);
        break;
      case kGetManifest:
        EXPECT_EQ(r.headerOr("Docker-Content-Digest"), p.manifestDigest) << r;
        break;
      case kPostMount:
        EXPECT_TRUE(HasLocationPath(r, "/v2/" + p.name + "/blobs/" + p.blobDigest));
        break;
      case kTagsList: {
        auto doc = json::parse(r.body);
        ASSERT_TRUE(doc && doc->getStringArray("tags")) << r;
        EXPECT_EQ(*doc->getStringArray("tags"), std::vector<std::string>{"v1"}) << r;
        break;
      }
      case kCatalog: {
        auto doc = json::parse(r.body);
        ASSERT_TRUE(doc && doc->getStringArray("repositories")) << r;
        auto repos = *doc->getStringArray("repositories");
        bool listed = std::find(repos.begin(), repos.end(), p.name) != repos.end();
        if (seesRepository(col)) {
          EXPECT_TRUE(listed) << p.name << " missing from the catalog of " << kCols[col] << "\n"
                              << r;
        } else {
          EXPECT_FALSE(listed) << "the catalog of " << kCols[col] << " lists " << p.name
                               << ", which it may neither pull nor metadata/read\n"
                               << r;
        }
        break;
      }
      default:
        break;
    }
  }

  void expectRefused(int row, Want want, const Prepared& p, const Response& r) {
    if (want == D) {
      EXPECT_REGISTRY_ERROR(r, 403, "DENIED");
      return;
    }
    std::string scope;
    const std::string rowScope = kRows[row].scope;
    if (row == kCatalog) {
      scope = rowScope;
    } else if (!rowScope.empty()) {
      std::istringstream alternatives(rowScope);
      for (std::string a; std::getline(alternatives, a, '|');)
        scope += (scope.empty() ? "" : "|") + repoScope(p.name, a);
    }
    EXPECT_TRUE(IsChallenge(r, realm(), hostPort(), scope, want == S));
  }

  // After a refused request nothing may have changed (checked as the admin).
  void expectNoSideEffect(int row, const Prepared& p) {
    const std::string repoPath = "/v2/" + p.name;
    switch (row) {
      case kDeleteBlob:
        EXPECT_EQ(http().get(repoPath + "/blobs/" + p.blobDigest).status, 200)
            << "a refused DELETE removed the blob";
        break;
      case kPostMount:
        EXPECT_EQ(http().head(repoPath + "/blobs/" + p.blobDigest).status, 404)
            << "a refused mount linked the blob";
        break;
      case kPatchUpload:
      case kGetUpload:
      case kDeleteUpload: {
        Response s = http().get(p.upload);
        EXPECT_EQ(s.status, 204) << "the upload session did not survive a refused request\n" << s;
        EXPECT_EQ(s.headerOr("Range"), p.uploadRange) << "a refused PATCH changed the upload\n"
                                                      << s;
        break;
      }
      case kPutUpload: {
        EXPECT_EQ(http().head(repoPath + "/blobs/" + p.blobDigest).status, 404)
            << "a refused PUT completed the upload";
        EXPECT_EQ(http().get(p.upload).status, 204) << "the upload session did not survive";
        break;
      }
      case kPutManifest: {
        Response m = getManifest(p.name, "v1");
        EXPECT_EQ(m.status, 404) << "a refused manifest PUT stored the manifest\n" << m;
        break;
      }
      case kDeleteManifest:
        EXPECT_EQ(getManifest(p.name, p.manifestDigest).status, 200)
            << "a refused DELETE removed the manifest";
        EXPECT_EQ(getManifest(p.name, "v1").status, 200) << "a refused DELETE removed the tag";
        break;
      default:
        break;
    }
  }
};

TEST_P(AuthMatrixTest, Cell) {
  const auto [row, col] = GetParam();
  const Want want = kMatrix[row][col];
  const std::string name = "m/" + slug(kRows[row].name) + "-" + slug(kCols[col]);
  SCOPED_TRACE(std::string(kRows[row].request) + " with " + kCols[col] + " (repository " + name +
               ")");

  Prepared p = prepare(row, name);
  std::string authorization = credentials(col, p);
  Response r;
  {
    StateGuard guard(col);
    r = perform(row, p, authorization);
  }
  ASSERT_NE(r.status, 0) << r;
  if (want == Y) {
    expectAllowed(row, col, p, r);
  } else {
    expectRefused(row, want, p, r);
    expectNoSideEffect(row, p);
  }
}

INSTANTIATE_TEST_SUITE_P(Matrix, AuthMatrixTest, ::testing::ValuesIn(allCells()),
                         [](const ::testing::TestParamInfo<Cell>& info) {
                           return std::string(kRows[info.param.row].name) + "_" +
                                  kCols[info.param.col];
                         });

// ---------------------------------------------------------------------------
// Data-plane tests outside the table
// ---------------------------------------------------------------------------
class DataPlaneAuthTest : public IsolatedAuthTest {};

// "Cross-repository mount needs pull on the source and push on the target, else it falls back
// to a 202 session."
TEST_F(DataPlaneAuthTest, MountWithoutPullOnSourceFallsBackToSession) {
  const std::string data = randomBytes(200);
  const std::string d = pushBlob("mount/secret", data);
  Identity t = createToken("mount-target-only",
                           {"--repository", "mount/target", "content/read", "content/write"});
  HttpClient c(baseUrl());
  const std::string target = "/v2/mount/target/blobs/uploads/?mount=" + d + "&from=mount/secret";

  c.setAuthorization(t.basic());
  Response r = c.post(target);
  EXPECT_EQ(r.status, 202) << r;
  EXPECT_TRUE(r.hasHeader("Location")) << r;
  EXPECT_EQ(http().head("/v2/mount/target/blobs/" + d).status, 404)
      << "blob mounted from a repository the caller may not pull";

  TokenReply tok = mustGetToken(
      t.basic(), {repoScope("mount/target", "pull,push"), repoScope("mount/secret", "pull")});
  EXPECT_TRUE(tok.jwt->actions("repository", "mount/secret").empty()) << tok.jwt->payloadJson;
  c.setAuthorization(tok.bearer());
  r = c.post(target);
  EXPECT_EQ(r.status, 202) << r;
  EXPECT_EQ(http().head("/v2/mount/target/blobs/" + d).status, 404)
      << "blob mounted from a repository the caller may not pull";

  // With pull on the source it mounts.
  Identity both =
      createToken("mount-both", {"--repository", "mount/*", "content/read", "content/write"});
  c.setAuthorization(both.basic());
  r = c.post(target);
  EXPECT_EQ(r.status, 201) << r;
  EXPECT_EQ(http().get("/v2/mount/target/blobs/" + d).body, data);
}

// "catalog → authenticated, lists only repositories the caller may pull or metadata/read";
// "tags list → pull or metadata/read".
TEST_F(DataPlaneAuthTest, CatalogAndTagsFollowPullOrMetadataRead) {
  for (const char* n : {"cat/team/a", "cat/team/b/c", "cat/meta/app", "cat/hidden/x"})
    pushRandomImage(n, "v1");
  Identity team = createToken("cat-team", {"--repository", "cat/team/*", "content/read"});
  Identity meta = createToken("cat-meta", {"--repository", "cat/meta/app", "metadata/read"});
  Identity writer = createToken("cat-writer", {"--repository", "cat/*", "content/write"});

  auto catalog = [&](const Identity& id) { return catalogOf(id.basic(), "cat/"); };
  EXPECT_EQ(catalog(team), (std::vector<std::string>{"cat/team/a", "cat/team/b/c"}));
  EXPECT_EQ(catalog(meta), (std::vector<std::string>{"cat/meta/app"}));
  EXPECT_EQ(catalog(writer), std::vector<std::string>{}) << "content/write is not read access";

  HttpClient c(baseUrl());
  c.setAuthorization(meta.basic());
  Response tags = c.get("/v2/cat/meta/app/tags/list");
  EXPECT_EQ(tags.status, 200) << tags;
  EXPECT_REGISTRY_ERROR(c.get("/v2/cat/meta/app/manifests/v1", manifestAccept()), 403, "DENIED");
  EXPECT_REGISTRY_ERROR(c.get("/v2/cat/hidden/x/tags/list"), 403, "DENIED");
  c.setAuthorization(writer.basic());
  EXPECT_REGISTRY_ERROR(c.get("/v2/cat/team/a/tags/list"), 403, "DENIED");
}

// Patterns: exact `team/app`, prefix `team/*` (names below team/), `*`.
TEST_F(DataPlaneAuthTest, ScopeMapPatternsOnTheDataPlane) {
  for (const char* n : {"pat/app", "pat/app2", "pat/app/web", "pat", "patx/app"})
    pushRandomImage(n, "v1");
  Identity exact = createToken("pat-exact", {"--repository", "pat/app", "content/read"});
  Identity prefix = createToken("pat-prefix", {"--repository", "pat/*", "content/read"});
  Identity all = createToken("pat-all", {"--repository", "*", "content/read"});
  struct Case {
    const Identity* id;
    const char* name;
    long status;
  };
  const std::vector<Case> cases = {
      {&exact, "pat/app", 200},      {&exact, "pat/app2", 403},
      {&exact, "pat/app/web", 403},  {&exact, "pat", 403},
      {&prefix, "pat/app", 200},     {&prefix, "pat/app2", 200},
      {&prefix, "pat/app/web", 200}, {&prefix, "pat", 403},
      {&prefix, "patx/app", 403},    {&all, "pat", 200},
      {&all, "patx/app", 200},       {&all, "pat/app/web", 200},
  };
  for (const auto& k : cases) {
    SCOPED_TRACE(k.id->user + " on " + k.name);
    HttpClient c(baseUrl());
    c.setAuthorization(k.id->basic());
    Response r = c.get("/v2/" + std::string(k.name) + "/manifests/v1", manifestAccept());
    if (k.status == 200) {
      EXPECT_EQ(r.status, 200) << r;
    } else {
      EXPECT_REGISTRY_ERROR(r, 403, "DENIED");
    }
  }
}

// realm and service follow the Host header the client used.
TEST_F(DataPlaneAuthTest, ChallengeFollowsHostHeader) {
  const std::string port = hostPort().substr(hostPort().rfind(':') + 1);
  const std::string host = "localhost:" + port;
  Response r = http().get("/v2/", {noAuth(), {"Host", host}});
  EXPECT_TRUE(IsChallenge(r, "http://" + host + "/oauth2/token", host, "", false));
  r = http().get("/v2/some/repo/tags/list", {noAuth(), {"Host", host}});
  EXPECT_TRUE(
      IsChallenge(r, "http://" + host + "/oauth2/token", host, "repository:some/repo:pull", false));
  // A token for the other name is not valid here, and the other way round.
  TokenReply t = mustGetToken(adminIdentity().basic(), {repoScope("some/repo", "pull")});
  r = http().get("/v2/", {{"Authorization", t.bearer()}, {"Host", host}});
  EXPECT_TRUE(IsChallenge(r, "http://" + host + "/oauth2/token", host, "", false))
      << "a token whose aud is " << hostPort() << " was accepted with Host: " << host;
}

// (Few of these name the admin, so the failed-login limit is not reached for it.)
TEST_F(DataPlaneAuthTest, MalformedAuthorizationIsUnauthorized) {
  const std::vector<std::string> values = {
      "Basic",
      "Basic !!!not-base64!!!",
      "Basic " + base64("no-colon-here"),
      "Basic " + base64(":"),
      "Basic " + base64("nobody:"),
      "Basic " + base64(":" + registryPassword()),
      "Bearer",
      "Bearer ",
      "Bearer a.b",
      "Bearer a.b.c.d",
      "Bearer ...",
      "Bearer " + std::string(9000, 'A'),
      "Digest username=\"default\"",
      "Negotiate abc",
      basicAuthorization(registryUser(), registryPassword()) + "x",
  };
  for (const auto& v : values) {
    SCOPED_TRACE(v.substr(0, 80));
    Response r = http().get("/v2/", {{"Authorization", v}});
    if (r.status == 400 || r.status == 431) continue;  // a header the server refuses to parse
    EXPECT_TRUE(IsChallenge(r, realm(), hostPort(), "", false));
  }
  // The server is still fine.
  EXPECT_EQ(http().get("/v2/").status, 200);
}

// What docker/podman do: follow the challenge to the realm, retry with the token.
TEST_F(DataPlaneAuthTest, ClientTokenDance) {
  const std::string name = "dance/app";
  Descriptor m = pushRandomImage(name, "v1");
  Response first = http().get("/v2/" + name + "/manifests/v1", {noAuth()});
  ASSERT_EQ(first.status, 401) << first;
  auto c = parseChallenge(first.headerOr("WWW-Authenticate"));
  ASSERT_TRUE(c) << first;
  std::string tokenUrl =
      appendQuery(c->param("realm"), "service=" + urlEncode(c->param("service")));
  tokenUrl = appendQuery(tokenUrl, "scope=" + urlEncode(c->param("scope")));
  Response tok = http().get(tokenUrl);  // the admin's Basic credentials
  ASSERT_EQ(tok.status, 200) << tok;
  auto body = json::parse(tok.body);
  ASSERT_TRUE(body && body->getString("token")) << tok;
  Response second = http().get("/v2/" + name + "/manifests/v1",
                               {{"Authorization", bearerAuthorization(*body->getString("token"))},
                                manifestAccept().front()});
  EXPECT_EQ(second.status, 200) << second;
  EXPECT_EQ(second.headerOr("Docker-Content-Digest"), m.digest) << second;
}

// A JWT is not a password, a password is not a JWT.
TEST_F(DataPlaneAuthTest, CredentialsOfOneKindAreNotAcceptedAsTheOther) {
  TokenReply t = mustGetToken(adminIdentity().basic(), {kCatalogScope});
  EXPECT_TRUE(IsChallenge(
      http().get("/v2/", {{"Authorization", basicAuthorization(registryUser(), t.token)}}), realm(),
      hostPort(), "", false));
  EXPECT_TRUE(
      IsChallenge(http().get("/v2/", {{"Authorization", bearerAuthorization(registryPassword())}}),
                  realm(), hostPort(), "", false));
}

}  // namespace
}  // namespace berth_test::auth
