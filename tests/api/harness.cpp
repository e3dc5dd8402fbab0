#include "harness.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "support/postgres.hpp"

namespace fs = std::filesystem;

namespace berth_test {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

std::string trim(std::string_view s) {
  std::size_t b = 0;
  std::size_t e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::mt19937_64& rng() {
  static thread_local std::mt19937_64 gen([] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), static_cast<unsigned>(::getpid())};
    return std::mt19937_64(seq);
  }());
  return gen;
}

void curlGlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] {
    curl_global_init(CURL_GLOBAL_ALL);
    std::atexit([] { curl_global_cleanup(); });
  });
}

}  // namespace

// ---------------------------------------------------------------------------
// Response
// ---------------------------------------------------------------------------
std::optional<std::string> Response::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return std::nullopt;
}

std::vector<std::string> Response::headerAll(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) out.push_back(v);
  }
  return out;
}

std::string Response::headerOr(std::string_view name, std::string_view fallback) const {
  auto v = header(name);
  return v ? *v : std::string(fallback);
}

std::string Response::describe() const {
  std::ostringstream os;
  os << method << " " << url << " -> ";
  if (!transportError.empty()) {
    os << "[transport error: " << transportError << "] ";
    if (status == 0) return os.str();
  }
  os << status << "\n";
  for (const auto& [k, v] : headers) os << "  " << k << ": " << v << "\n";
  constexpr std::size_t kMax = 600;
  bool printable = std::all_of(
      body.begin(), body.begin() + static_cast<std::ptrdiff_t>(std::min(body.size(), kMax)),
      [](char c) { return c == '\n' || c == '\r' || c == '\t' || (c >= 0x20 && c < 0x7f); });
  if (body.empty()) {
    os << "  <empty body>";
  } else if (printable) {
    os << "  body: " << body.substr(0, kMax) << (body.size() > kMax ? "...(truncated)" : "");
  } else {
    os << "  <" << body.size() << " bytes binary body>";
  }
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Response& r) { return os << r.describe(); }

// ---------------------------------------------------------------------------
// HttpClient
// ---------------------------------------------------------------------------
struct HttpClient::Impl {
  struct Deleter {
    void operator()(CURL* c) const { curl_easy_cleanup(c); }
  };
  std::unique_ptr<CURL, Deleter> handle;
};

namespace {

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

struct Collector {
  Response* resp;
};

size_t onBody(char* ptr, size_t size, size_t nmemb, void* userdata) {
  auto* c = static_cast<Collector*>(userdata);
  c->resp->body.append(ptr, size * nmemb);
  return size * nmemb;
}

size_t onHeader(char* buffer, size_t size, size_t nitems, void* userdata) {
  auto* c = static_cast<Collector*>(userdata);
  std::string_view line(buffer, size * nitems);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  if (line.rfind("HTTP/", 0) == 0) {
    // A new status line (e.g. after an interim 1xx response): start over.
    c->resp->headers.clear();
    return size * nitems;
  }
  if (line.empty()) return size * nitems;
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return size * nitems;
  c->resp->headers.emplace_back(std::string(line.substr(0, colon)), trim(line.substr(colon + 1)));
  return size * nitems;
}

}  // namespace

namespace {
struct ServerTls {
  std::string cert, key, ca;
};
ServerTls& serverTls() {
  static ServerTls tls;
  return tls;
}
}  // namespace

HttpClient::HttpClient(std::string baseUrl)
    : impl_(std::make_unique<Impl>()), base_(std::move(baseUrl)), caFile_(serverTls().ca) {
  curlGlobalInit();
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
  impl_->handle.reset(curl_easy_init());
  if (!impl_->handle) throw std::runtime_error("curl_easy_init failed");
}

HttpClient::~HttpClient() = default;

std::string HttpClient::url(std::string_view target) const {
  if (target.rfind("http://", 0) == 0 || target.rfind("https://", 0) == 0)
    return std::string(target);
  std::string u = base_;
  if (target.empty() || target.front() != '/') u += '/';
  u += target;
  return u;
}

Response HttpClient::request(std::string_view method, std::string_view target,
                             const Headers& headers, std::optional<std::string_view> body) {
  CURL* h = impl_->handle.get();
  curl_easy_reset(h);  // keeps the connection cache: connections are reused

  Response resp;
  resp.method = std::string(method);
  resp.url = url(target);
  Collector col{&resp};

  curl_easy_setopt(h, CURLOPT_URL, resp.url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);  // send "../" etc. verbatim
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, timeoutSeconds_);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &onBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &col);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &onHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &col);
  curl_easy_setopt(h, CURLOPT_PROXY, "");  // never go through an environment proxy
  curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, nullptr);
  if (!caFile_.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, caFile_.c_str());

  bool hasContentType = false;
  bool hasAuthorization = false;
  curl_slist* raw = nullptr;
  for (const auto& [k, v] : headers) {
    if (iequals(k, "Content-Type")) hasContentType = true;
    if (iequals(k, "Authorization")) {
      hasAuthorization = true;  // replaces the default credentials
      if (v.empty()) continue;  // noAuth(): no credentials at all
    }
    std::string line = v.empty() ? k + ";" : k + ": " + v;  // "Name;" sends an empty header
    raw = curl_slist_append(raw, line.c_str());
  }
  for (const auto& [k, v] : defaultHeaders_) {
    bool overridden = std::any_of(headers.begin(), headers.end(),
                                  [&](const auto& h) { return iequals(h.first, k); });
    if (overridden) continue;
    if (iequals(k, "Content-Type")) hasContentType = true;
    if (iequals(k, "Authorization")) {
      hasAuthorization = true;
      if (v.empty()) continue;
    }
    std::string line = v.empty() ? k + ";" : k + ": " + v;
    raw = curl_slist_append(raw, line.c_str());
  }
  if (!hasAuthorization && !authorization_.empty())
    raw = curl_slist_append(raw, ("Authorization: " + authorization_).c_str());
  raw = curl_slist_append(raw, "Expect:");
  if (body && !hasContentType) {
    // libcurl would otherwise add application/x-www-form-urlencoded.
    raw = curl_slist_append(raw, "Content-Type:");
  }
  std::unique_ptr<curl_slist, SlistDeleter> slist(raw);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, slist.get());

  std::string m(method);
  if (m == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (body) {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->empty() ? "" : body->data());
    if (m != "POST") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m.c_str());
  } else {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    if (m != "GET") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m.c_str());
  }

  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  CURLcode rc = curl_easy_perform(h);
  // The status is kept when headers arrived (e.g. a body shorter than its
  // Content-Length), but any transport error is a failure of the exchange.
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
  if (rc != CURLE_OK) {
    resp.transportError =
        std::string(curl_easy_strerror(rc)) + (errbuf[0] ? std::string(": ") + errbuf : "");
    if (reportTransportErrors_) {
      ADD_FAILURE() << "HTTP transport error (bad framing, reset or timeout): " << resp.describe();
    }
  }

  if (checkApiVersion_ && resp.status != 0) {
    auto v = resp.header("Docker-Distribution-API-Version");
    if (!v || *v != "registry/2.0") {
      ADD_FAILURE() << "response lacks 'Docker-Distribution-API-Version: registry/2.0' (got "
                    << (v ? *v : "<absent>") << "):\n"
                    << resp.describe();
    }
  }
  return resp;
}

// ---------------------------------------------------------------------------
// Utilities
// ---------------------------------------------------------------------------
std::string sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("EVP_Digest failed");
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 0xF];
  }
  return out;
}

std::string sha256Digest(std::string_view data) { return "sha256:" + sha256Hex(data); }

std::string base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string basicAuthorization(std::string_view user, std::string_view password) {
  return "Basic " + base64(std::string(user) + ":" + std::string(password));
}

std::string bearerAuthorization(std::string_view token) { return "Bearer " + std::string(token); }

std::string CommandResult::describe() const {
  std::ostringstream os;
  os << "exit status " << status << "\n---- stdout ----\n" << out << "\n---- stderr ----\n" << err;
  return os.str();
}

CommandResult runCommand(const std::vector<std::string>& args, int timeoutSeconds) {
  CommandResult res;
  if (args.empty()) return res;
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  int outPipe[2], errPipe[2];
  if (::pipe2(outPipe, O_CLOEXEC) != 0) return res;
  if (::pipe2(errPipe, O_CLOEXEC) != 0) {
    ::close(outPipe[0]);
    ::close(outPipe[1]);
    return res;
  }
  int nullFd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(nullFd, 0);
    ::dup2(outPipe[1], 1);
    ::dup2(errPipe[1], 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(nullFd);
  ::close(outPipe[1]);
  ::close(errPipe[1]);
  if (pid < 0) {
    ::close(outPipe[0]);
    ::close(errPipe[0]);
    res.err = std::string("fork failed: ") + std::strerror(errno);
    return res;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeoutSeconds);
  pollfd fds[2] = {{outPipe[0], POLLIN, 0}, {errPipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&res.out, &res.err};
  int openPipes = 2;
  bool killed = false;
  while (openPipes > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      killed = true;
      break;
    }
    if (::poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --openPipes;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  int st = 0;
  ::waitpid(pid, &st, 0);
  res.status = (!killed && WIFEXITED(st)) ? WEXITSTATUS(st) : -1;
  if (killed) res.err += "\n[killed after " + std::to_string(timeoutSeconds) + " s]";
  return res;
}

std::string randomBytes(std::size_t n) {
  std::string out(n, '\0');
  auto& g = rng();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t v = g();
    std::memcpy(&out[i], &v, 8);
  }
  if (i < n) {
    std::uint64_t v = g();
    std::memcpy(&out[i], &v, n - i);
  }
  return out;
}

std::string randomHex(std::size_t nChars) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(nChars);
  auto& g = rng();
  for (std::size_t i = 0; i < nChars; ++i) out += hex[g() & 0xF];
  return out;
}

std::string randomDigest() { return "sha256:" + randomHex(64); }

std::string stripSpaces(std::string_view s) {
  std::string out;
  for (char c : s)
    if (!std::isspace(static_cast<unsigned char>(c))) out += c;
  return out;
}

std::string urlEncode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xF];
    }
  }
  return out;
}

std::string appendQuery(std::string_view url, std::string_view kv) {
  std::string out(url);
  out += (out.find('?') == std::string::npos) ? '?' : '&';
  out += kv;
  return out;
}

std::string stripOrigin(std::string_view url) {
  auto scheme = url.find("://");
  if (scheme == std::string_view::npos || url.find('/') < scheme) return std::string(url);
  auto pathStart = url.find('/', scheme + 3);
  if (pathStart == std::string_view::npos) return "/";
  return std::string(url.substr(pathStart));
}

std::string pathOnly(std::string_view url) {
  std::string p = stripOrigin(url);
  auto q = p.find_first_of("?#");
  if (q != std::string::npos) p.resize(q);
  return p;
}

namespace {
std::string urlDecode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else if (s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}
}  // namespace

std::vector<std::pair<std::string, std::string>> queryParams(std::string_view url) {
  std::vector<std::pair<std::string, std::string>> out;
  auto q = url.find('?');
  if (q == std::string_view::npos) return out;
  std::string_view rest = url.substr(q + 1);
  if (auto hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view part = rest.substr(0, amp);
    auto eq = part.find('=');
    if (eq == std::string_view::npos)
      out.emplace_back(urlDecode(part), "");
    else
      out.emplace_back(urlDecode(part.substr(0, eq)), urlDecode(part.substr(eq + 1)));
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return out;
}

std::optional<std::string> queryParam(std::string_view url, std::string_view key) {
  for (auto& [k, v] : queryParams(url))
    if (k == key) return v;
  return std::nullopt;
}

std::optional<LinkHeader> parseLink(std::string_view value) {
  auto lt = value.find('<');
  auto gt = value.find('>', lt == std::string_view::npos ? 0 : lt);
  if (lt == std::string_view::npos || gt == std::string_view::npos) return std::nullopt;
  LinkHeader l;
  l.url = std::string(value.substr(lt + 1, gt - lt - 1));
  std::string_view params = value.substr(gt + 1);
  auto relPos = params.find("rel=");
  if (relPos != std::string_view::npos) {
    std::string_view r = params.substr(relPos + 4);
    if (!r.empty() && r.front() == '"') {
      r.remove_prefix(1);
      r = r.substr(0, r.find('"'));
    } else {
      r = r.substr(0, r.find_first_of("; ,"));
    }
    l.rel = std::string(r);
  }
  return l;
}

std::vector<std::string> errorCodes(const Response& r) {
  std::vector<std::string> out;
  auto doc = json::parse(r.body);
  if (!doc || !doc->isObject()) return out;
  const json::Value* errs = doc->find("errors");
  if (errs == nullptr || !errs->isArray()) return out;
  for (const auto& e : errs->asArray()) {
    if (auto c = e.getString("code")) out.push_back(*c);
  }
  return out;
}

std::string errorCode(const Response& r) {
  auto codes = errorCodes(r);
  return codes.empty() ? std::string() : codes.front();
}

::testing::AssertionResult HasContentType(const Response& r, std::string_view expected) {
  auto ct = r.header("Content-Type");
  if (!ct)
    return ::testing::AssertionFailure() << "no Content-Type (expected " << expected << ")\n" << r;
  std::string base = lower(trim(std::string_view(*ct).substr(0, ct->find(';'))));
  if (base != lower(expected))
    return ::testing::AssertionFailure()
           << "Content-Type is '" << *ct << "', expected '" << expected << "'\n"
           << r;
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult HasLocationPath(const Response& r, std::string_view path) {
  auto loc = r.header("Location");
  if (!loc)
    return ::testing::AssertionFailure() << "no Location header (expected path " << path << ")\n"
                                         << r;
  if (pathOnly(*loc) != path)
    return ::testing::AssertionFailure()
           << "Location is '" << *loc << "', expected path '" << path << "'\n"
           << r;
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult IsError(const Response& r, long status, std::vector<std::string> codes) {
  std::ostringstream want;
  want << status << " with code ";
  for (std::size_t i = 0; i < codes.size(); ++i) want << (i ? " or " : "") << codes[i];
  if (r.status != status)
    return ::testing::AssertionFailure()
           << "expected " << want.str() << ", got status " << r.status << "\n"
           << r;
  if (r.method == "HEAD") return ::testing::AssertionSuccess();  // no body to inspect
  auto ct = HasContentType(r, "application/json");
  if (!ct) return ::testing::AssertionFailure() << "error response: " << ct.message();
  auto doc = json::parse(r.body);
  if (!doc)
    return ::testing::AssertionFailure()
           << "error body is not JSON (expected " << want.str() << ")\n"
           << r;
  const json::Value* errs = doc->find("errors");
  if (errs == nullptr || !errs->isArray() || errs->asArray().empty())
    return ::testing::AssertionFailure() << "error body has no non-empty 'errors' array\n" << r;
  for (const auto& e : errs->asArray()) {
    auto code = e.getString("code");
    if (!code) return ::testing::AssertionFailure() << "error entry without string 'code'\n" << r;
    if (!e.find("message") || !e.find("message")->isString())
      return ::testing::AssertionFailure() << "error entry without string 'message'\n" << r;
  }
  auto got = errorCodes(r);
  for (const auto& c : codes) {
    if (std::find(got.begin(), got.end(), c) != got.end()) return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "expected " << want.str() << ", got code(s) "
         << (got.empty() ? std::string("<none>") : got.front()) << "\n"
         << r;
}

// ---------------------------------------------------------------------------
// Manifests
// ---------------------------------------------------------------------------
namespace {
std::string annotationsJson(const std::vector<std::pair<std::string, std::string>>& a) {
  std::string out = "{";
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (i) out += ',';
    out += json::quote(a[i].first) + ":" + json::quote(a[i].second);
  }
  return out + "}";
}
}  // namespace

std::string Descriptor::json() const {
  std::string out = "{\"mediaType\":" + json::quote(mediaType) +
                    ",\"digest\":" + json::quote(digest) + ",\"size\":" + std::to_string(size);
  if (!artifactType.empty()) out += ",\"artifactType\":" + json::quote(artifactType);
  if (!urls.empty()) {
    out += ",\"urls\":[";
    for (std::size_t i = 0; i < urls.size(); ++i) {
      if (i) out += ',';
      out += json::quote(urls[i]);
    }
    out += "]";
  }
  if (!platformJson.empty()) out += ",\"platform\":" + platformJson;
  if (!annotations.empty()) out += ",\"annotations\":" + annotationsJson(annotations);
  return out + "}";
}

Descriptor describe(std::string_view mediaType, std::string_view data) {
  Descriptor d;
  d.mediaType = std::string(mediaType);
  d.digest = sha256Digest(data);
  d.size = data.size();
  return d;
}

Descriptor emptyConfigDescriptor() {
  Descriptor d;
  d.mediaType = mt::kOciEmpty;
  d.digest = kEmptyJsonDigest;
  d.size = 2;
  return d;
}

std::string makeImageManifest(const Descriptor& config, const std::vector<Descriptor>& layers,
                              const ManifestOptions& opts) {
  std::string out = "{\"schemaVersion\":2";
  if (!opts.mediaType.empty()) out += ",\"mediaType\":" + json::quote(opts.mediaType);
  if (!opts.artifactType.empty()) out += ",\"artifactType\":" + json::quote(opts.artifactType);
  out += ",\"config\":" + config.json() + ",\"layers\":[";
  for (std::size_t i = 0; i < layers.size(); ++i) {
    if (i) out += ',';
    out += layers[i].json();
  }
  out += "]";
  if (opts.subject) out += ",\"subject\":" + opts.subject->json();
  if (!opts.annotations.empty()) out += ",\"annotations\":" + annotationsJson(opts.annotations);
  return out + "}";
}

std::string makeIndex(const std::vector<Descriptor>& manifests, ManifestOptions opts) {
  std::string out = "{\"schemaVersion\":2";
  if (!opts.mediaType.empty()) out += ",\"mediaType\":" + json::quote(opts.mediaType);
  if (!opts.artifactType.empty()) out += ",\"artifactType\":" + json::quote(opts.artifactType);
  out += ",\"manifests\":[";
  for (std::size_t i = 0; i < manifests.size(); ++i) {
    if (i) out += ',';
    out += manifests[i].json();
  }
  out += "]";
  if (opts.subject) out += ",\"subject\":" + opts.subject->json();
  if (!opts.annotations.empty()) out += ",\"annotations\":" + annotationsJson(opts.annotations);
  return out + "}";
}

Headers manifestAccept() {
  return {{"Accept", std::string(mt::kOciManifest) + ", " + mt::kOciIndex + ", " +
                         mt::kDockerManifest + ", " + mt::kDockerManifestList}};
}

// ---------------------------------------------------------------------------
// Server process
// ---------------------------------------------------------------------------
namespace {

struct Server {
  std::string baseUrl;
  pid_t pid = -1;
  fs::path tmpDir;
  fs::path dataDir;
  fs::path logFile;
  std::string bin;
  std::string user, password;     // credentials of the fixture's client ("" = none)
  std::string error;              // non-empty: the suite cannot run
  std::vector<std::string> args;  // the `berth serve` command line
};

struct DataDirHooks {
  std::function<void(const std::string&)> created;  // after mkdir, before anything is written
  std::function<void(const std::string&)> stopped;  // after the server exited, before removal
};
DataDirHooks& dataDirHooks() {
  static DataDirHooks hooks;
  return hooks;
}

Server& server() {
  static Server s;
  return s;
}

std::vector<std::string>& extraServeArgs() {
  static std::vector<std::string> args;
  return args;
}

std::string readTail(const fs::path& p, std::size_t maxBytes = 16 * 1024) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return "<no server log>";
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (all.size() > maxBytes) return "...\n" + all.substr(all.size() - maxBytes);
  return all;
}

// A free port below the kernel's ephemeral range (as tools/free-port picks one): a port the
// kernel hands out for port 0 may become the local port of any outgoing connection before the
// server binds it, and the tests open thousands of those.
int freePort() {
  int low = 32768;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> low;
  std::random_device rd;
  std::uniform_int_distribution<int> pick(10000, std::max(10001, low) - 1);
  for (int attempt = 0; attempt < 500; ++attempt) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int port = pick(rd);
    a.sin_port = htons(static_cast<uint16_t>(port));
    const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    if (bound) return port;
  }
  return -1;
}

// Polls GET /v2/ (with the fixture's credentials) until 200. Returns "" on success, else a reason.
std::string waitReady(const std::string& base, pid_t pid, std::chrono::milliseconds timeout) {
  HttpClient c(base);
  if (!server().user.empty())
    c.setAuthorization(basicAuthorization(server().user, server().password));
  c.setCheckApiVersion(false);
  c.setReportTransportErrors(false);  // connection refused while starting is expected
  c.setTimeoutSeconds(2);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last = "no attempt";
  while (std::chrono::steady_clock::now() < deadline) {
    if (pid > 0) {
      int st = 0;
      pid_t w = ::waitpid(pid, &st, WNOHANG);
      if (w == pid) {
        server().pid = -1;
        std::ostringstream os;
        os << "server exited during startup ("
           << (WIFEXITED(st) ? "status " + std::to_string(WEXITSTATUS(st))
                             : "signal " + std::to_string(WTERMSIG(st)))
           << ")";
        return os.str();
      }
    }
    Response r = c.get("/v2/");
    if (r.status == 200) return "";
    last = r.transportError.empty() ? "status " + std::to_string(r.status) : r.transportError;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return "GET /v2/ did not answer 200 within " + std::to_string(timeout.count()) +
         " ms (last: " + last + ")";
}

// A data directory whose admin account is on. Turning it on hashes two new passwords (argon2id,
// about a third of a second each), which each of the suite's server starts (one per test
// process: ctest runs every test in a process of its own) would pay again. So the first start
// with a binary makes one, and every start copies its files; a directory made for an older
// build of the same binary is removed then.
struct AdminData {
  fs::path dir;
  std::string user, password, error;
};

AdminData adminData(const std::string& bin) {
  AdminData a;
  struct stat st {};
  if (::stat(bin.c_str(), &st) != 0) {
    a.error = "cannot stat " + bin + ": " + std::strerror(errno);
    return a;
  }
  // In the temporary directory (the binary may be an installed one), named by the binary's path
  // and then its size and time.
  const fs::path parent = fs::temp_directory_path();
  const std::string prefix = "berth-test-admin-" +
                             std::to_string(std::hash<std::string>{}(fs::absolute(bin).string())) +
                             "-";
  a.dir = parent / (prefix + std::to_string(st.st_size) + "-" + std::to_string(st.st_mtim.tv_sec) +
                    "." + std::to_string(st.st_mtim.tv_nsec));
  std::error_code ec;
  if (!fs::exists(a.dir / "credentials", ec)) {
    // Made aside and renamed into place: test processes that start at once each make one, and
    // the first rename wins.
    const fs::path staging = a.dir.string() + ".making-" + std::to_string(::getpid());
    fs::remove_all(staging, ec);
    fs::create_directories(staging, ec);
    const std::string data = staging.string();
    CommandResult enable =
        runCommand({bin, "admin", "update", "--data", data, "--admin-enabled", "true"});
    CommandResult show = runCommand({bin, "admin", "credential", "show", "--data", data});
    std::string user, password;
    if (enable.status == 0 && show.status == 0) {
      if (auto doc = json::parse(show.out)) user = doc->getString("username").value_or("");
      if (auto doc = json::parse(enable.out);
          doc && doc->find("passwords") && doc->find("passwords")->isArray()) {
        for (const auto& p : doc->find("passwords")->asArray())
          if (p.getString("name") == "password") password = p.getString("value").value_or("");
      }
    }
    if (user.empty() || password.empty()) {
      fs::remove_all(staging, ec);
      a.error = "cannot set up the admin account:\n" +
                (enable.status != 0 ? enable.describe() : show.describe());
      return a;
    }
    // The disk reserve is the server's to make, in the directory it runs on.
    fs::remove(staging / "reserve", ec);
    std::ofstream(staging / "credentials") << user << "\n" << password << "\n";
    if (::rename(staging.c_str(), a.dir.c_str()) == 0) {
      for (const auto& entry : fs::directory_iterator(parent, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind(prefix, 0) == 0 && entry.path() != a.dir &&
            name.find(".making-") == std::string::npos) {
          fs::remove_all(entry.path(), ec);
        }
      }
    } else {
      fs::remove_all(staging, ec);
    }
  }
  std::ifstream in(a.dir / "credentials");
  std::getline(in, a.user);
  std::getline(in, a.password);
  if (a.user.empty() || a.password.empty()) a.error = "no credentials in " + a.dir.string();
  return a;
}

void spawnServer(Server& s);

void startServer() {
  Server& s = server();
  s = Server{};
  if (const char* url = std::getenv("REGISTRY_URL"); url != nullptr && *url != '\0') {
    s.baseUrl = url;
    while (!s.baseUrl.empty() && s.baseUrl.back() == '/') s.baseUrl.pop_back();
    if (const char* u = std::getenv("REGISTRY_USER")) s.user = u;
    if (const char* p = std::getenv("REGISTRY_PASSWORD")) s.password = p;
    std::string why = waitReady(s.baseUrl, -1, std::chrono::seconds(10));
    if (!why.empty()) s.error = "REGISTRY_URL=" + s.baseUrl + ": " + why;
    return;
  }
  const char* bin = std::getenv("BERTH_BIN");
  if (bin == nullptr || *bin == '\0') {
    s.error = "neither REGISTRY_URL nor BERTH_BIN is set: cannot start a registry";
    return;
  }
  if (::access(bin, X_OK) != 0) {
    s.error = std::string("BERTH_BIN=") + bin + " is not an executable file";
    return;
  }

  char tmpl[] = "/tmp/berth-api-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    s.error = std::string("mkdtemp failed: ") + std::strerror(errno);
    return;
  }
  s.tmpDir = tmpl;
  fs::path dataDir = s.tmpDir / "data";
  fs::create_directories(dataDir);
  s.dataDir = dataDir;
  if (dataDirHooks().created) dataDirHooks().created(dataDir.string());
  s.logFile = s.tmpDir / "server.stderr";
  s.bin = bin;

  // Authentication (tests/AUTH_CONTRACT.md): the admin account is on, with a fresh password; the
  // fixture's client sends it with every request.
  const AdminData admin = adminData(s.bin);
  if (!admin.error.empty()) {
    s.error = admin.error;
    return;
  }
  for (const auto& entry : fs::directory_iterator(admin.dir)) {
    if (entry.path().filename() == "credentials") continue;
    std::error_code ec;
    fs::copy_file(entry.path(), dataDir / entry.path().filename(), ec);
    if (ec) {
      s.error =
          "cannot copy " + entry.path().string() + " to " + dataDir.string() + ": " + ec.message();
      return;
    }
  }
  s.user = admin.user;
  s.password = admin.password;

  int port = freePort();
  if (port <= 0) {
    s.error = "could not find a free port";
    return;
  }
  std::string listen = "127.0.0.1:" + std::to_string(port);
  s.baseUrl = (serverTls().cert.empty() ? "http://" : "https://") + listen;

  s.args = {bin, "serve", "--listen", listen, "--data", dataDir.string()};
  if (!serverTls().cert.empty()) {
    s.args.insert(s.args.end(), {"--tls-cert", serverTls().cert, "--tls-key", serverTls().key});
  }
  // BERTH_TEST_STORE=DIR: the blobs go to the object store emulator tools/emulator started
  // there, each server under a prefix of its own, with the credentials it wrote beside it.
  if (const char* storeDir = std::getenv("BERTH_TEST_STORE"); storeDir && *storeDir) {
    std::ifstream in(fs::path(storeDir) / "url");
    std::string url;
    std::getline(in, url);
    std::ifstream env(fs::path(storeDir) / "env");
    for (std::string word; env >> word;) {
      const auto eq = word.find('=');
      if (word != "export" && eq != std::string::npos) {
        ::setenv(word.substr(0, eq).c_str(), word.substr(eq + 1).c_str(), 1);
      }
    }
    const auto query = url.find('?');
    if (url.empty() || query == std::string::npos) {
      s.error = std::string("no store URL in ") + storeDir + "/url (tools/emulator start)";
      return;
    }
    url.insert(query, "/" + s.tmpDir.filename().string());
    s.args.insert(s.args.end(), {"--storage", url});
  }
  // BERTH_TEST_POSTGRES=DIR: the metadata goes to a new database of the PostgreSQL server
  // tools/postgres started there, with the admin account turned on in it.
  if (const char* pgDir = std::getenv("BERTH_TEST_POSTGRES"); pgDir && *pgDir) {
    ::setenv("BERTH_TEST_POSTGRES_DIR", pgDir, 1);
    std::string url;
    try {
      url = berth_test::newPostgresDatabase();
    } catch (const std::exception& e) {
      s.error = e.what();
      return;
    }
    CommandResult enable = runCommand({s.bin, "admin", "update", "--data", dataDir.string(),
                                       "--metadata", url, "--admin-enabled", "true"});
    std::string password;
    if (auto doc = json::parse(enable.out);
        enable.status == 0 && doc && doc->find("passwords") && doc->find("passwords")->isArray()) {
      for (const auto& p : doc->find("passwords")->asArray())
        if (p.getString("name") == "password") password = p.getString("value").value_or("");
    }
    if (password.empty()) {
      s.error = "cannot turn the admin account on in " + url + ":\n" + enable.describe();
      return;
    }
    s.password = password;
    s.args.insert(s.args.end(), {"--metadata", url});
    // `berth admin` commands a test runs on the server's data directory find it there too.
    ::setenv("BERTH_METADATA", url.c_str(), 1);
  }
  s.args.insert(s.args.end(), extraServeArgs().begin(), extraServeArgs().end());
  spawnServer(s);
}

// Starts s.args with its output in s.logFile (appended) and waits until it answers.
void spawnServer(Server& s) {
  // Everything the child needs is prepared before fork (only async-signal-safe calls after).
  std::vector<std::string> args = s.args;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log = s.logFile.string();
  int logFd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int nullFd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (logFd < 0 || nullFd < 0) {
    s.error = "cannot open server log file " + log;
    if (logFd >= 0) ::close(logFd);
    if (nullFd >= 0) ::close(nullFd);
    return;
  }
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    s.error = std::string("fork failed: ") + std::strerror(errno);
    ::close(logFd);
    ::close(nullFd);
    return;
  }
  if (pid == 0) {
    // Child: die with the test process, stdin=/dev/null, stdout+stderr -> log.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(nullFd, 0);
    ::dup2(logFd, 1);
    ::dup2(logFd, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(logFd);
  ::close(nullFd);
  s.pid = pid;

  std::string why = waitReady(s.baseUrl, pid, std::chrono::seconds(10));
  if (!why.empty()) {
    std::string command;
    for (const auto& a : s.args) command += (command.empty() ? "" : " ") + a;
    s.error = "berth did not become ready: " + why + "\ncommand: " + command +
              "\n---- server stderr ----\n" + readTail(s.logFile);
  }
}

// SIGTERM, then SIGKILL after 10 s; a failure unless it exits 0 in time.
void stopProcess(Server& s) {
  if (s.pid <= 0) return;
  ::kill(s.pid, SIGTERM);
  int st = 0;
  bool exited = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    pid_t w = ::waitpid(s.pid, &st, WNOHANG);
    if (w == s.pid) {
      exited = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!exited) {
    ::kill(s.pid, SIGKILL);
    ::waitpid(s.pid, &st, 0);
    ADD_FAILURE() << "berth did not exit within 10 s of SIGTERM (killed)\n---- server stderr ----\n"
                  << readTail(s.logFile);
  } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    ADD_FAILURE() << "berth did not exit cleanly on SIGTERM: "
                  << (WIFEXITED(st) ? "exit status " + std::to_string(WEXITSTATUS(st))
                                    : "killed by signal " + std::to_string(WTERMSIG(st)))
                  << "\n---- server stderr ----\n"
                  << readTail(s.logFile);
  }
  s.pid = -1;
}

void stopServer() {
  Server& s = server();
  stopProcess(s);
  if (!s.dataDir.empty() && dataDirHooks().stopped) dataDirHooks().stopped(s.dataDir.string());
  if (!s.tmpDir.empty()) {
    std::error_code ec;
    fs::remove_all(s.tmpDir, ec);
    s.tmpDir.clear();
  }
  s = Server{};
}

}  // namespace

// ---------------------------------------------------------------------------
// Fixture
// ---------------------------------------------------------------------------
void RegistryTest::SetUpTestSuite() {
  startServer();
  if (!server().error.empty()) {
    // Reported once per suite; each test fails in SetUp as well.
    std::fprintf(stderr, "[berth-api] registry unavailable: %s\n", server().error.c_str());
  }
}

void RegistryTest::TearDownTestSuite() { stopServer(); }

void RegistryTest::SetUp() {
  if (!server().error.empty()) GTEST_FAIL() << "registry unavailable: " << server().error;
  client_ = std::make_unique<HttpClient>(server().baseUrl);
  if (!server().user.empty())
    client_->setAuthorization(basicAuthorization(server().user, server().password));
}

void RegistryTest::setExtraServeArgs(std::vector<std::string> args) {
  extraServeArgs() = std::move(args);
}

namespace {
fs::path& suiteConfigFile() {
  static fs::path path;
  return path;
}
}  // namespace

void RegistryTest::startServerWithConfig(const std::string& config) {
  suiteConfigFile() = fs::temp_directory_path() / ("berth-config-" + randomHex(8) + ".json");
  std::ofstream(suiteConfigFile()) << config;
  setExtraServeArgs({"--config", suiteConfigFile().string()});
  SetUpTestSuite();
  setExtraServeArgs({});
}

void RegistryTest::stopServerWithConfig() {
  TearDownTestSuite();
  std::error_code ec;
  fs::remove(suiteConfigFile(), ec);
}

void RegistryTest::setServerTls(std::string certFile, std::string keyFile, std::string caFile) {
  serverTls() = ServerTls{std::move(certFile), std::move(keyFile), std::move(caFile)};
}

pid_t RegistryTest::serverPid() { return server().pid; }

void RegistryTest::setDataDirHooks(std::function<void(const std::string&)> created,
                                   std::function<void(const std::string&)> stopped) {
  dataDirHooks() = DataDirHooks{std::move(created), std::move(stopped)};
}

bool RegistryTest::restartServer() {
  Server& s = server();
  if (s.args.empty()) return false;
  stopProcess(s);
  s.error.clear();
  spawnServer(s);
  return s.error.empty();
}

std::string RegistryTest::serverError() { return server().error; }

const std::string& RegistryTest::registryUser() { return server().user; }
const std::string& RegistryTest::registryPassword() { return server().password; }
std::string RegistryTest::dataDir() { return server().dataDir.string(); }
std::string RegistryTest::berthBin() { return server().bin; }

std::string RegistryTest::hostPort() {
  std::string b = server().baseUrl;
  auto scheme = b.find("://");
  if (scheme != std::string::npos) b = b.substr(scheme + 3);
  return b.substr(0, b.find('/'));
}

const std::string& RegistryTest::baseUrl() { return server().baseUrl; }

std::string RegistryTest::serverLogPath() {
  return server().pid > 0 ? server().logFile.string() : std::string();
}

std::string RegistryTest::serverLog() {
  std::string p = serverLogPath();
  if (p.empty()) return {};
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

const std::string& RegistryTest::runPrefix() {
  // Unique per process so that runs against a long-lived $REGISTRY_URL do not collide.
  static const std::string p = "t" + randomHex(10);
  return p;
}

std::string RegistryTest::repo(std::string_view suffix) {
  return runPrefix() + "/" + std::string(suffix);
}

std::string RegistryTest::pushBlob(const std::string& repoName, std::string_view data) {
  std::string d = sha256Digest(data);
  Response r = http().post("/v2/" + repoName + "/blobs/uploads/?digest=" + d, data,
                           {{"Content-Type", "application/octet-stream"}});
  if (r.status == 202 && r.header("Location")) {
    // OCI allows a registry to ignore the single-POST form and open a session
    // instead (CONTRACT.md requires 201, which UploadsTest.MonolithicPostWithDigest
    // checks); as a helper, finish like any client would.
    r = http().put(appendQuery(*r.header("Location"), "digest=" + d), data,
                   {{"Content-Type", "application/octet-stream"}});
  }
  if (r.status != 201) {
    ADD_FAILURE() << "pushBlob(" << repoName << ") expected 201\n" << r;
    throw HelperFailure("pushBlob failed");
  }
  return d;
}

Descriptor RegistryTest::pushBlobAs(const std::string& repoName, std::string_view mediaType,
                                    std::string_view data) {
  pushBlob(repoName, data);
  return describe(mediaType, data);
}

Response RegistryTest::putManifest(const std::string& repoName, std::string_view ref,
                                   std::string_view mediaType, std::string_view body) {
  return http().put("/v2/" + repoName + "/manifests/" + std::string(ref), body,
                    {{"Content-Type", std::string(mediaType)}});
}

std::string RegistryTest::pushManifest(const std::string& repoName, std::string_view ref,
                                       std::string_view mediaType, std::string_view body) {
  Response r = putManifest(repoName, ref, mediaType, body);
  if (r.status != 201) {
    ADD_FAILURE() << "pushManifest(" << repoName << ":" << ref << ") expected 201\n" << r;
    throw HelperFailure("pushManifest failed");
  }
  return sha256Digest(body);
}

Descriptor RegistryTest::pushRandomImage(const std::string& repoName, std::string_view tag,
                                         const ManifestOptions& opts) {
  std::string config =
      "{\"architecture\":\"amd64\",\"os\":\"linux\",\"nonce\":\"" + randomHex(16) + "\"}";
  Descriptor c = pushBlobAs(repoName, mt::kOciConfig, config);
  Descriptor l = pushBlobAs(repoName, mt::kOciLayerGzip, randomBytes(64));
  std::string body = makeImageManifest(c, {l}, opts);
  std::string digest = sha256Digest(body);
  pushManifest(repoName, tag.empty() ? std::string_view(digest) : tag,
               opts.mediaType.empty() ? mt::kOciManifest : opts.mediaType, body);
  Descriptor d = describe(opts.mediaType.empty() ? mt::kOciManifest : opts.mediaType, body);
  return d;
}

Response RegistryTest::getManifest(const std::string& repoName, std::string_view ref) {
  return http().get("/v2/" + repoName + "/manifests/" + std::string(ref), manifestAccept());
}

Response RegistryTest::headManifest(const std::string& repoName, std::string_view ref) {
  return http().head("/v2/" + repoName + "/manifests/" + std::string(ref), manifestAccept());
}

std::string RegistryTest::startUpload(const std::string& repoName) {
  Response r = http().post("/v2/" + repoName + "/blobs/uploads/");
  auto loc = r.header("Location");
  if (r.status != 202 || !loc) {
    ADD_FAILURE() << "startUpload(" << repoName << ") expected 202 with Location\n" << r;
    throw HelperFailure("startUpload failed");
  }
  return *loc;
}

}  // namespace berth_test
