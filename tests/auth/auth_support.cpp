#include "auth_support.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <sqlite3.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <sstream>

namespace berth_test::auth {

// ---------------------------------------------------------------------------
// Encoding and JSON
// ---------------------------------------------------------------------------
std::string base64url(std::string_view bytes) {
  std::string s = base64(bytes);
  for (auto& c : s) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

std::optional<std::string> base64urlDecode(std::string_view text) {
  static const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    auto pos = alphabet.find(c);
    if (pos == std::string::npos) return std::nullopt;  // '=', '+', '/', spaces: not base64url
    acc = (acc << 6) | static_cast<std::uint32_t>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  if (bits >= 6) return std::nullopt;  // a lone trailing character
  return out;
}

std::string toJson(const json::Value& v) {
  switch (v.type()) {
    case json::Value::Type::Null:
      return "null";
    case json::Value::Type::Bool:
      return v.asBool() ? "true" : "false";
    case json::Value::Type::Number:
      return v.numberText();
    case json::Value::Type::String:
      return json::quote(v.asString());
    case json::Value::Type::Array: {
      std::string out = "[";
      for (std::size_t i = 0; i < v.asArray().size(); ++i) {
        if (i) out += ',';
        out += toJson(v.asArray()[i]);
      }
      return out + "]";
    }
    case json::Value::Type::Object: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, m] : v.asObject()) {
        if (!first) out += ',';
        first = false;
        out += json::quote(k) + ":" + toJson(m);
      }
      return out + "}";
    }
  }
  return "null";
}

json::Value str(std::string s) { return json::Value::makeString(std::move(s)); }
json::Value num(std::int64_t n) {
  return json::Value::makeNumber(static_cast<double>(n), std::to_string(n));
}
json::Value strArray(const std::vector<std::string>& items) {
  std::vector<json::Value> a;
  for (const auto& i : items) a.push_back(str(i));
  return json::Value::makeArray(std::move(a));
}

json::Value withMembers(const json::Value& object,
                        const std::vector<std::pair<std::string, json::Value>>& members) {
  std::vector<std::pair<std::string, json::Value>> out;
  if (object.isObject()) out = object.asObject();
  for (const auto& [k, v] : members) {
    bool replaced = false;
    for (auto& [ok, ov] : out) {
      if (ok == k) {
        ov = v;
        replaced = true;
      }
    }
    if (!replaced) out.emplace_back(k, v);
  }
  return json::Value::makeObject(std::move(out));
}

std::int64_t nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<std::int64_t> parseRfc3339(std::string_view s) {
  std::tm tm{};
  int year = 0, mon = 0, day = 0, hour = 0, min = 0, sec = 0;
  std::string text(s);
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &year, &mon, &day, &hour, &min,
                  &sec, &consumed) != 6)
    return std::nullopt;
  std::string_view rest = std::string_view(text).substr(static_cast<std::size_t>(consumed));
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    while (!rest.empty() && std::isdigit(static_cast<unsigned char>(rest.front())))
      rest.remove_prefix(1);
  }
  std::int64_t offset = 0;
  if (rest == "Z" || rest == "z") {
    offset = 0;
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
    int oh = std::atoi(std::string(rest.substr(1, 2)).c_str());
    int om = std::atoi(std::string(rest.substr(4, 2)).c_str());
    offset = (rest[0] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
  } else {
    return std::nullopt;
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  return static_cast<std::int64_t>(::timegm(&tm)) - offset;
}

// ---------------------------------------------------------------------------
// JWT
// ---------------------------------------------------------------------------
std::string Jwt::signingInput() const { return raw.substr(0, raw.rfind('.')); }

std::optional<std::int64_t> Jwt::claimInt(std::string_view name) const {
  const json::Value* v = payload.find(name);
  if (v == nullptr || !v->isNumber()) return std::nullopt;
  return static_cast<std::int64_t>(v->asNumber());
}

std::vector<std::string> Jwt::actions(std::string_view type, std::string_view name) const {
  std::vector<std::string> out;
  const json::Value* access = payload.find("access");
  if (access == nullptr || !access->isArray()) return out;
  for (const auto& e : access->asArray()) {
    if (e.getString("type") != type || e.getString("name") != name) continue;
    for (const auto& a : e.getStringArray("actions").value_or(std::vector<std::string>{}))
      out.push_back(a);
  }
  return out;
}

std::optional<Jwt> parseJwt(std::string_view token) {
  auto d1 = token.find('.');
  if (d1 == std::string_view::npos) return std::nullopt;
  auto d2 = token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
    return std::nullopt;
  Jwt j;
  j.raw = std::string(token);
  auto h = base64urlDecode(token.substr(0, d1));
  auto p = base64urlDecode(token.substr(d1 + 1, d2 - d1 - 1));
  auto s = base64urlDecode(token.substr(d2 + 1));
  if (!h || !p || !s) return std::nullopt;
  j.headerJson = *h;
  j.payloadJson = *p;
  j.signature = *s;
  auto hv = json::parse(*h);
  auto pv = json::parse(*p);
  if (!hv || !pv || !hv->isObject() || !pv->isObject()) return std::nullopt;
  j.header = *hv;
  j.payload = *pv;
  return j;
}

std::string assembleJwt(std::string_view headerJson, std::string_view payloadJson,
                        std::string_view signature) {
  return base64url(headerJson) + "." + base64url(payloadJson) + "." + base64url(signature);
}

Pkey generateP256Key() {
  Pkey k(EVP_EC_gen("P-256"));
  if (!k) throw std::runtime_error("EVP_EC_gen failed");
  return k;
}

Pkey privateKeyFromPem(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return nullptr;
  Pkey k(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return k;
}

Pkey publicKeyFromJwk(const json::Value& jwk) {
  auto x = base64urlDecode(jwk.getString("x").value_or(""));
  auto y = base64urlDecode(jwk.getString("y").value_or(""));
  if (!x || !y || x->size() != 32 || y->size() != 32) return nullptr;
  std::string point = "\x04" + *x + *y;
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0);
  OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  EVP_PKEY* key = nullptr;
  if (ctx == nullptr || EVP_PKEY_fromdata_init(ctx) <= 0 ||
      EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) <= 0)
    key = nullptr;
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  return Pkey(key);
}

std::string publicKeyPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

std::string signEs256(EVP_PKEY* key, std::string_view input) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t len = 0;
  std::string der;
  if (EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1) {
    EVP_MD_CTX_free(ctx);
    throw std::runtime_error("EVP_DigestSign failed");
  }
  der.resize(len);
  if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(der.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    EVP_MD_CTX_free(ctx);
    throw std::runtime_error("EVP_DigestSign failed");
  }
  EVP_MD_CTX_free(ctx);
  der.resize(len);
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  if (sig == nullptr) throw std::runtime_error("d2i_ECDSA_SIG failed");
  std::string raw(64, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(raw.data()), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
  ECDSA_SIG_free(sig);
  return raw;
}

bool verifyEs256(EVP_PKEY* key, std::string_view input, std::string_view rawSignature) {
  if (key == nullptr || rawSignature.size() != 64) return false;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  const auto* r = reinterpret_cast<const unsigned char*>(rawSignature.data());
  ECDSA_SIG_set0(sig, BN_bin2bn(r, 32, nullptr), BN_bin2bn(r + 32, 32, nullptr));
  unsigned char* der = nullptr;
  int derLen = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (derLen <= 0) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok =
      EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestVerify(ctx, der, static_cast<std::size_t>(derLen),
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  OPENSSL_free(der);
  return ok;
}

std::string hmacSha256(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
  return std::string(reinterpret_cast<char*>(md), len);
}

std::string signJwt(EVP_PKEY* key, std::string_view kid, std::string_view payloadJson) {
  std::string header = "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":" + json::quote(kid) + "}";
  std::string input = base64url(header) + "." + base64url(payloadJson);
  return input + "." + base64url(signEs256(key, input));
}

namespace {
struct Db {
  sqlite3* db = nullptr;
  explicit Db(const std::string& dataDir) {
    std::string path = dataDir + "/berth.db";
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      sqlite3_close(db);
      db = nullptr;
    } else {
      sqlite3_busy_timeout(db, 5000);
    }
  }
  ~Db() { sqlite3_close(db); }
  std::vector<std::vector<std::string>> query(const char* sql, const std::string& arg = {}) {
    std::vector<std::vector<std::string>> rows;
    if (db == nullptr) return rows;
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK) return rows;
    if (!arg.empty()) sqlite3_bind_text(st, 1, arg.c_str(), -1, SQLITE_TRANSIENT);
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(st); ++i) {
        const unsigned char* t = sqlite3_column_text(st, i);
        row.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
      }
      rows.push_back(std::move(row));
    }
    sqlite3_finalize(st);
    return rows;
  }
};
}  // namespace

std::string signingKeyPem(const std::string& dataDir, std::string_view kid) {
  Db db(dataDir);
  auto rows = db.query("SELECT private_pem FROM signing_keys WHERE kid = ?1", std::string(kid));
  return rows.empty() ? std::string() : rows.front().front();
}

std::vector<std::string> signingKids(const std::string& dataDir) {
  Db db(dataDir);
  std::vector<std::string> out;
  for (auto& r : db.query("SELECT kid FROM signing_keys ORDER BY created")) out.push_back(r[0]);
  return out;
}

// ---------------------------------------------------------------------------
// Challenges
// ---------------------------------------------------------------------------
std::optional<Challenge> parseChallenge(std::string_view v) {
  Challenge c;
  std::size_t i = 0;
  while (i < v.size() && v[i] == ' ') ++i;
  std::size_t sp = v.find(' ', i);
  if (sp == std::string_view::npos) {
    c.scheme = std::string(v.substr(i));
    return c.scheme.empty() ? std::nullopt : std::optional<Challenge>(c);
  }
  c.scheme = std::string(v.substr(i, sp - i));
  i = sp;
  while (i < v.size()) {
    while (i < v.size() && (v[i] == ' ' || v[i] == ',')) ++i;
    if (i >= v.size()) break;
    auto eq = v.find('=', i);
    if (eq == std::string_view::npos) return std::nullopt;
    std::string key(v.substr(i, eq - i));
    while (!key.empty() && key.back() == ' ') key.pop_back();
    i = eq + 1;
    std::string value;
    if (i < v.size() && v[i] == '"') {
      ++i;
      while (i < v.size() && v[i] != '"') {
        if (v[i] == '\\' && i + 1 < v.size()) ++i;
        value += v[i++];
      }
      if (i >= v.size()) return std::nullopt;  // unterminated quoted string
      ++i;
    } else {
      while (i < v.size() && v[i] != ',') value += v[i++];
    }
    c.params[key] = value;
  }
  return c;
}

::testing::AssertionResult IsChallenge(const Response& r, const std::string& realm,
                                       const std::string& service, const std::string& scope,
                                       bool insufficientScope) {
  auto base = IsError(r, 401, "UNAUTHORIZED");
  if (!base) return base;
  auto values = r.headerAll("WWW-Authenticate");
  if (values.size() != 1)
    return ::testing::AssertionFailure()
           << "expected one WWW-Authenticate header, got " << values.size() << "\n"
           << r;
  auto c = parseChallenge(values.front());
  if (!c) return ::testing::AssertionFailure() << "unparseable WWW-Authenticate\n" << r;
  auto fail = [&](const std::string& what) {
    return ::testing::AssertionFailure() << "WWW-Authenticate: " << what << "\n" << r;
  };
  if (c->scheme != "Bearer") return fail("scheme is '" + c->scheme + "', want Bearer");
  if (c->param("realm") != realm)
    return fail("realm is '" + c->param("realm") + "', want " + realm);
  if (c->param("service") != service)
    return fail("service is '" + c->param("service") + "', want " + service);
  if (!scope.empty()) {
    std::vector<std::string> granted, wanted;
    std::istringstream gs(c->param("scope"));
    for (std::string s; gs >> s;) granted.push_back(s);
    std::istringstream ws(scope);
    for (std::string s; std::getline(ws, s, '|');) wanted.push_back(s);
    bool ok = false;
    for (const auto& w : wanted)
      for (const auto& g : granted) ok = ok || g == w;
    if (!ok) return fail("scope is '" + c->param("scope") + "', want " + scope);
  }
  if (insufficientScope && c->param("error") != "insufficient_scope")
    return fail("error is '" + c->param("error") + "', want insufficient_scope");
  return ::testing::AssertionSuccess();
}

// ---------------------------------------------------------------------------
// Fixture
// ---------------------------------------------------------------------------
void AuthTest::TearDownTestSuite() { RegistryTest::TearDownTestSuite(); }

void AuthTest::SetUp() {
  RegistryTest::SetUp();
  if (HasFatalFailure()) return;
  if (berthBin().empty())
    GTEST_SKIP() << "the auth tests administer the server: they need $BERTH_BIN, not $REGISTRY_URL";
}

CommandResult AuthTest::adminRaw(std::vector<std::string> args) {
  std::vector<std::string> argv = {berthBin(), "admin"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--data");
  argv.push_back(dataDir());
  return runCommand(argv);
}

json::Value AuthTest::admin(std::vector<std::string> args, bool jsonOut) {
  std::string cmd = "berth admin";
  for (const auto& a : args) cmd += " " + a;
  CommandResult r = adminRaw(std::move(args));
  if (r.status != 0) {
    ADD_FAILURE() << cmd << " failed: " << r.describe();
    throw HelperFailure(cmd + " failed");
  }
  if (!jsonOut) return json::Value();
  auto doc = json::parse(r.out);
  if (!doc) {
    ADD_FAILURE() << cmd << ": stdout is not one JSON document: " << r.describe();
    throw HelperFailure(cmd + ": no JSON");
  }
  return *doc;
}

Identity AuthTest::createToken(const std::string& name, std::vector<std::string> args) {
  std::vector<std::string> a = {"token", "create", "--name", name};
  a.insert(a.end(), args.begin(), args.end());
  json::Value out = admin(a);
  const json::Value* creds = out.find("credentials");
  const json::Value* pw = creds ? creds->find("passwords") : nullptr;
  if (pw != nullptr && pw->isArray()) {
    for (const auto& p : pw->asArray()) {
      if (p.getString("name") == "password1" && p.getString("value"))
        return {creds->getString("username").value_or(name), *p.getString("value")};
    }
  }
  ADD_FAILURE() << "token create " << name << ": no password1 value in " << toJson(out);
  throw HelperFailure("token create: no password");
}

void AuthTest::setAdminEnabled(bool on) {
  json::Value out = admin({"update", "--admin-enabled", on ? "true" : "false"});
  const json::Value* v = out.find("adminUserEnabled");
  if (v == nullptr || !v->isBool() || v->asBool() != on)
    ADD_FAILURE() << "admin update: adminUserEnabled is not " << on << " in " << toJson(out);
}

void AuthTest::setAnonymousPull(bool on) {
  json::Value out = admin({"update", "--anonymous-pull-enabled", on ? "true" : "false"});
  const json::Value* v = out.find("anonymousPullEnabled");
  if (v == nullptr || !v->isBool() || v->asBool() != on)
    ADD_FAILURE() << "admin update: anonymousPullEnabled is not " << on << " in " << toJson(out);
}

namespace {
TokenReply toReply(Response r) {
  TokenReply t;
  t.response = std::move(r);
  t.body = json::parse(t.response.body);
  if (t.body && t.body->isObject()) {
    t.token = t.body->getString("token").value_or("");
    if (!t.token.empty()) t.jwt = parseJwt(t.token);
  }
  return t;
}
}  // namespace

TokenReply AuthTest::getToken(const std::string& authorization,
                              const std::vector<std::string>& scopes,
                              const std::string& extraQuery) {
  std::string target = "/oauth2/token?service=" + urlEncode(hostPort());
  for (const auto& s : scopes) target += "&scope=" + urlEncode(s);
  if (!extraQuery.empty()) target += "&" + extraQuery;
  Headers h;
  h.push_back(authorization.empty() ? noAuth()
                                    : Headers::value_type{"Authorization", authorization});
  return toReply(http().get(target, h));
}

TokenReply AuthTest::postToken(const std::vector<std::pair<std::string, std::string>>& form) {
  std::string body;
  for (const auto& [k, v] : form) {
    if (!body.empty()) body += '&';
    body += urlEncode(k) + "=" + urlEncode(v);
  }
  return toReply(http().post("/oauth2/token", body,
                             {{"Content-Type", "application/x-www-form-urlencoded"}, noAuth()}));
}

TokenReply AuthTest::mustGetToken(const std::string& authorization,
                                  const std::vector<std::string>& scopes,
                                  const std::string& extraQuery) {
  TokenReply t = getToken(authorization, scopes, extraQuery);
  if (t.response.status != 200 || !t.jwt) {
    ADD_FAILURE() << "token request expected 200 with a JWT\n" << t.response;
    throw HelperFailure("token request failed");
  }
  return t;
}

std::vector<std::string> AuthTest::catalogOf(const std::string& authorization,
                                             std::string_view prefix) {
  HttpClient c(baseUrl());
  c.setAuthorization(authorization);
  Response r = c.get("/v2/_catalog?n=10000");
  EXPECT_EQ(r.status, 200) << r;
  auto doc = json::parse(r.body);
  std::vector<std::string> out;
  for (auto& n : doc ? doc->getStringArray("repositories").value_or(out) : out) {
    if (n.rfind(prefix, 0) == 0) out.push_back(n);
  }
  return out;
}

json::Value AuthTest::jwks() {
  Response r = http().get("/oauth2/jwks", {noAuth()});
  auto doc = json::parse(r.body);
  if (r.status != 200 || !doc) {
    ADD_FAILURE() << "GET /oauth2/jwks expected 200 with JSON\n" << r;
    throw HelperFailure("jwks failed");
  }
  return *doc;
}

}  // namespace berth_test::auth
