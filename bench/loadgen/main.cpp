// berth_loadgen: the load generator of berth's benchmark (bench/run drives it).
//
// Every subcommand runs one measured operation against one server and prints one JSON object
// on stdout: what was measured, whether every response was correct, the wall time, and the
// CPU time of the load generator itself (getrusage) and of the server (/proc/<pid>/stat, for
// the pids given with --pids) over the measured window. The exit status is 1 when any response
// was wrong, so a smoke run fails loudly.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "curl_rps.hpp"
#include "http.hpp"
#include "task.hpp"
#include "util.hpp"

namespace lg {
namespace {

constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
constexpr const char* kOciConfig = "application/vnd.oci.image.config.v1+json";
constexpr const char* kOciLayer = "application/vnd.oci.image.layer.v1.tar+gzip";
constexpr const char* kAcceptManifests =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";

// ---------------------------------------------------------------------------------------------
// Command line: `berth_loadgen COMMAND --key value ... [--flag]`

class Args {
 public:
  Args(int argc, char** argv) {
    for (int i = 2; i < argc; ++i) {
      std::string key = argv[i];
      if (!key.starts_with("--")) throw std::runtime_error("unexpected argument " + key);
      key = key.substr(2);
      if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
        values_[key] = argv[++i];
      } else {
        values_[key] = "";
      }
    }
  }
  std::string str(const std::string& key) const {
    auto it = values_.find(key);
    if (it == values_.end()) throw std::runtime_error("missing --" + key);
    return it->second;
  }
  std::string str(const std::string& key, const std::string& fallback) const {
    auto it = values_.find(key);
    return it == values_.end() ? fallback : it->second;
  }
  std::string opt(const std::string& key) const {
    auto it = values_.find(key);
    return it == values_.end() ? std::string() : it->second;
  }
  int64_t num(const std::string& key, int64_t fallback) const {
    auto it = values_.find(key);
    return it == values_.end() ? fallback : parseSize(it->second);
  }
  double real(const std::string& key, double fallback) const {
    auto it = values_.find(key);
    return it == values_.end() ? fallback : std::stod(it->second);
  }
  bool flag(const std::string& key) const { return values_.contains(key); }

  // 4096, 4k, 8M, 256MiB
  static int64_t parseSize(const std::string& text) {
    size_t used = 0;
    const double v = std::stod(text, &used);
    std::string unit = text.substr(used);
    for (auto& c : unit) c = static_cast<char>(std::tolower(c));
    double mul = 1;
    if (unit == "k" || unit == "kib") mul = 1024;
    if (unit == "m" || unit == "mib") mul = 1024.0 * 1024;
    if (unit == "g" || unit == "gib") mul = 1024.0 * 1024 * 1024;
    return static_cast<int64_t>(v * mul);
  }

 private:
  std::map<std::string, std::string> values_;
};

std::vector<pid_t> parsePids(const std::string& text) {
  std::vector<pid_t> pids;
  size_t pos = 0;
  while (pos < text.size()) {
    auto comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    if (comma > pos) pids.push_back(static_cast<pid_t>(std::stol(text.substr(pos, comma - pos))));
    pos = comma + 1;
  }
  return pids;
}

std::vector<std::string> splitList(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    auto comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    if (comma > pos) out.push_back(text.substr(pos, comma - pos));
    pos = comma + 1;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Correctness bookkeeping and the measured window

struct Checker {
  uint64_t errors = 0;
  std::string first;
  bool check(bool ok, const std::string& what) {
    if (!ok && errors++ == 0) first = what;
    return ok;
  }
  bool status(const Response& r, int want, const std::string& what) {
    if (r.status == want) return true;
    std::string detail = what + ": want " + std::to_string(want) + ", got " +
                         std::to_string(r.status) + (r.error.empty() ? "" : " (" + r.error + ")");
    if (!r.body.empty()) detail += " " + r.body.substr(0, 200);
    return check(false, detail);
  }
};

struct Meter {
  std::vector<pid_t> pids;
  double t0 = 0, cpu0 = 0, server0 = 0, machine0 = 0;
  double wall = 0, cpu = 0, server = -1, machine = -1;
  void start() {
    t0 = now();
    cpu0 = selfCpu();
    server0 = pids.empty() ? 0 : procCpu(pids);
    machine0 = machineBusyCpu();
  }
  void stop() {
    wall = now() - t0;
    cpu = selfCpu() - cpu0;
    if (!pids.empty()) server = procCpu(pids) - server0;
    machine = machineBusyCpu() - machine0;
  }
  void report(JsonOut& out) const {
    out.num("wall_s", wall);
    out.num("loadgen_cpu_s", cpu);
    out.num("loadgen_cpu_share", wall > 0 ? cpu / wall : 0);
    if (server >= 0) {
      out.num("server_cpu_s", server);
      // CPU the machine spent on neither side: other processes, interrupts (noise).
      if (machine >= 0) out.num("other_cpu_s", std::max(0.0, machine - server - cpu));
    }
  }
};

int finish(JsonOut& out, const Checker& chk, const Loop* loop) {
  uint64_t errors = chk.errors;
  std::string first = chk.first;
  if (loop) {
    errors += loop->failures.size();
    if (first.empty() && !loop->failures.empty()) first = loop->failures.front();
  }
  out.boolean("ok", errors == 0);
  out.integer("errors", static_cast<int64_t>(errors));
  if (!first.empty()) out.str("first_error", first);
  std::cout << out.text() << std::endl;
  return errors == 0 ? 0 : 1;
}

void latencyStats(JsonOut& out, std::vector<double>& lat) {
  if (lat.empty()) return;
  out.num("p50_ms", percentile(lat, 0.50) * 1e3);
  out.num("p99_ms", percentile(lat, 0.99) * 1e3);
  out.num("max_ms", lat.back() * 1e3);
}

// ---------------------------------------------------------------------------------------------
// Registry operations

std::string withQuery(const std::string& target, const std::string& param) {
  return target + (target.find('?') == std::string::npos ? "?" : "&") + param;
}

enum class UploadMode { PostPut, Post, Chunked };

UploadMode parseMode(const std::string& mode) {
  if (mode == "postput" || mode == "mono") return UploadMode::PostPut;
  if (mode == "post") return UploadMode::Post;
  if (mode == "chunked") return UploadMode::Chunked;
  throw std::runtime_error("unknown upload mode " + mode);
}

// Pushes one blob; true when the registry answered 201 with the right digest.
Task<bool> pushBlob(Conn& c, const std::string& repo, std::string_view data,
                    const std::string& digest, Checker& chk, UploadMode mode = UploadMode::PostPut,
                    size_t chunk = 0) {
  const std::string uploads = "/v2/" + repo + "/blobs/uploads/";
  Response r;
  if (mode == UploadMode::Post) {
    Request post{"POST",
                 uploads + "?digest=" + digest,
                 {{"Content-Type", "application/octet-stream"}},
                 data};
    r = co_await c.request(std::move(post));
  } else {
    r = co_await c.request(Request{"POST", uploads});
    if (!chk.status(r, 202, "POST " + uploads)) co_return false;
    const std::string* location = r.header("location");
    if (!chk.check(location != nullptr, "POST upload: no Location")) co_return false;
    std::string loc = originForm(*location);
    std::string_view rest = data;
    if (mode == UploadMode::Chunked) {
      size_t offset = 0;
      while (!rest.empty()) {
        const size_t n = std::min(chunk, rest.size());
        Request patch{
            "PATCH",
            loc,
            {{"Content-Type", "application/octet-stream"},
             {"Content-Range", std::to_string(offset) + "-" + std::to_string(offset + n - 1)}},
            rest.substr(0, n)};
        r = co_await c.request(std::move(patch));
        if (!chk.status(r, 202, "PATCH chunk at " + std::to_string(offset))) co_return false;
        location = r.header("location");
        if (!chk.check(location != nullptr, "PATCH: no Location")) co_return false;
        loc = originForm(*location);
        offset += n;
        rest.remove_prefix(n);
      }
    }
    Request put{"PUT",
                withQuery(loc, "digest=" + digest),
                {{"Content-Type", "application/octet-stream"}},
                rest};
    r = co_await c.request(std::move(put));
  }
  if (!chk.status(r, 201, "upload commit of " + digest)) co_return false;
  const std::string* got = r.header("docker-content-digest");
  co_return chk.check(!got || *got == digest,
                      "upload: Docker-Content-Digest " + (got ? *got : "") + " != " + digest);
}

Task<bool> putManifest(Conn& c, const std::string& repo, const std::string& ref,
                       const std::string& body, const std::string& digest, Checker& chk) {
  Request put{"PUT", "/v2/" + repo + "/manifests/" + ref, {{"Content-Type", kOciManifest}}, body};
  auto r = co_await c.request(std::move(put));
  if (!chk.status(r, 201, "PUT manifest " + repo + ":" + ref)) co_return false;
  const std::string* got = r.header("docker-content-digest");
  co_return chk.check(!got || *got == digest, "PUT manifest: wrong Docker-Content-Digest");
}

struct Blob {
  std::string data;
  std::string digest;
};

Blob makeBlob(size_t size, uint64_t seed) {
  Blob b;
  b.data.resize(size);
  fillRandom(b.data.data(), size, seed);
  b.digest = sha256Digest(b.data.data(), size);
  return b;
}

Blob makeConfig(const std::string& id) {
  Blob b;
  b.data = R"({"architecture":"amd64","os":"linux","config":{"Labels":{"bench":")" + id +
           R"("}},"rootfs":{"type":"layers","diff_ids":[]}})";
  b.digest = sha256Digest(b.data.data(), b.data.size());
  return b;
}

Blob makeManifest(const Blob& config, const std::vector<const Blob*>& layers) {
  std::string m = R"({"schemaVersion":2,"mediaType":")" + std::string(kOciManifest) +
                  R"(","config":{"mediaType":")" + kOciConfig + R"(","digest":")" + config.digest +
                  R"(","size":)" + std::to_string(config.data.size()) + R"(},"layers":[)";
  for (size_t i = 0; i < layers.size(); ++i) {
    if (i) m += ",";
    m += R"({"mediaType":")" + std::string(kOciLayer) + R"(","digest":")" + layers[i]->digest +
         R"(","size":)" + std::to_string(layers[i]->data.size()) + "}";
  }
  m += "]}";
  Blob b;
  b.digest = sha256Digest(m.data(), m.size());
  b.data = std::move(m);
  return b;
}

void writeStatic(const std::string& root, const std::string& repo, const std::string& kind,
                 const std::string& name, const std::string& data) {
  if (root.empty()) return;
  writeFile(root + "/v2/" + repo + "/" + kind + "/" + name, data.data(), data.size());
}

// ---------------------------------------------------------------------------------------------
// Subcommands

struct Common {
  std::string target;
  sockaddr_in addr{};
  std::vector<pid_t> pids;
  bool verify = false;
  double watchdog = 600;
  explicit Common(const Args& a)
      : target(a.str("target")),
        addr(parseTarget(target)),
        pids(parsePids(a.opt("pids"))),
        verify(a.flag("verify")),
        watchdog(a.real("watchdog", 600)) {
    setAuthorization(a.opt("auth"));
  }
};

// upload: one blob (or --count blobs, one after the other) of --size random bytes.
int cmdUpload(const Args& a) {
  Common c(a);
  const auto repo = a.str("repo");
  const auto size = static_cast<size_t>(a.num("size", 0));
  const auto count = static_cast<int>(a.num("count", 1));
  const uint64_t seed = static_cast<uint64_t>(a.num("seed", 1));
  const auto modeName = a.str("mode", "postput");
  const auto mode = parseMode(modeName);
  const auto chunk = static_cast<size_t>(a.num("chunk", 8 << 20));
  // --parallel N: N connections push the same blobs at once, each in its own upload session
  // (the server keeps the blob once); the client holds the bytes once.
  const auto parallel = static_cast<int>(a.num("parallel", 1));
  if (parallel < 1) throw std::runtime_error("--parallel must be at least 1");
  std::vector<Blob> blobs;
  for (int i = 0; i < count; ++i) blobs.push_back(makeBlob(size, seed + static_cast<uint64_t>(i)));
  for (const auto& b : blobs) writeStatic(a.opt("static-root"), repo, "blobs", b.digest, b.data);

  Loop loop;
  Checker chk;
  Meter m{c.pids};
  std::vector<double> lat;
  m.start();
  for (int p = 0; p < parallel; ++p) {
    loop.spawn([](Loop& loop, Common& c, const std::string& repo, std::vector<Blob>& blobs,
                  Checker& chk, UploadMode mode, size_t chunk,
                  std::vector<double>& lat) -> Task<void> {
      Conn conn(loop, c.addr);
      for (const auto& b : blobs) {
        const double t = now();
        co_await pushBlob(conn, repo, b.data, b.digest, chk, mode, chunk);
        lat.push_back(now() - t);
      }
    }(loop, c, repo, blobs, chk, mode, chunk, lat));
  }
  loop.run(c.watchdog);
  m.stop();

  if (c.verify) {
    // The blob must now be readable with the same bytes.
    Loop vloop;
    vloop.spawn([](Loop& loop, Common& c, const std::string& repo, std::vector<Blob>& blobs,
                   Checker& chk) -> Task<void> {
      Conn conn(loop, c.addr);
      for (const auto& b : blobs) {
        auto r = co_await conn.request(
            Request{"GET", "/v2/" + repo + "/blobs/" + b.digest, {}, {}, BodyMode::Hash});
        if (chk.status(r, 200, "GET uploaded blob")) {
          chk.check(r.digest == b.digest, "uploaded blob reads back as " + r.digest);
        }
      }
    }(vloop, c, repo, blobs, chk));
    vloop.run(c.watchdog);
  }
  JsonOut out;
  out.str("op", "upload");
  out.str("mode", modeName);
  int64_t perBlob = mode == UploadMode::Post ? 1 : 2;
  if (mode == UploadMode::Chunked && chunk > 0) {
    perBlob += static_cast<int64_t>((size + chunk - 1) / chunk);
  }
  out.integer("bytes", static_cast<int64_t>(size) * count * parallel);
  out.integer("blobs", count);
  out.integer("parallel", parallel);
  out.integer("requests", perBlob * count * parallel);
  out.str("digest", blobs.empty() ? "" : blobs.back().digest);
  m.report(out);
  out.num("mbps", static_cast<double>(size) * count * parallel / m.wall / 1e6);
  return finish(out, chk, &loop);
}

// curl-upload: --count blobs of --size random bytes pushed with libcurl (POST, then PUT
// ?digest= with the whole body) to --url, http:// or https:// (--cacert FILE): the same client
// over both, to compare an upload over TLS with one over plain TCP.
namespace curlup {
size_t keepLocation(char* data, size_t size, size_t n, void* user) {
  std::string line(data, size * n);
  std::string lower = line;
  for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (lower.starts_with("location:")) {
    auto value = line.substr(9);
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front())))
      value.erase(0, 1);
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back())))
      value.pop_back();
    *static_cast<std::string*>(user) = value;
  }
  return size * n;
}
size_t discardBody(char*, size_t size, size_t n, void*) { return size * n; }
}  // namespace curlup

int cmdCurlUpload(const Args& a) {
  const auto base = a.str("url");
  const auto repo = a.str("repo");
  const auto size = static_cast<size_t>(a.num("size", 0));
  const auto count = static_cast<int>(a.num("count", 1));
  const uint64_t seed = static_cast<uint64_t>(a.num("seed", 1));
  const auto cacert = a.opt("cacert");
  const auto auth = a.opt("auth");
  std::vector<Blob> blobs;
  for (int i = 0; i < count; ++i) blobs.push_back(makeBlob(size, seed + static_cast<uint64_t>(i)));

  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL* h = curl_easy_init();
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
  headers = curl_slist_append(headers, "Expect:");
  if (!auth.empty()) headers = curl_slist_append(headers, ("Authorization: " + auth).c_str());
  std::string location;
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, curlup::keepLocation);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &location);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, curlup::discardBody);
  if (!cacert.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, cacert.c_str());
  Checker chk;
  Meter m{parsePids(a.opt("pids"))};
  m.start();
  for (const auto& b : blobs) {
    long status = 0;
    location.clear();
    curl_easy_setopt(h, CURLOPT_URL, (base + "/v2/" + repo + "/blobs/uploads/").c_str());
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, nullptr);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(0));
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (!chk.check(rc == CURLE_OK, std::string("POST: ") + curl_easy_strerror(rc)) ||
        !chk.check(status == 202, "POST: status " + std::to_string(status)) ||
        !chk.check(!location.empty(), "POST: no Location")) {
      break;
    }
    std::string put = location.starts_with("http") ? location : base + location;
    put += put.find('?') == std::string::npos ? '?' : '&';
    put += "digest=";
    put += b.digest;
    curl_easy_setopt(h, CURLOPT_URL, put.c_str());
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, b.data.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(b.data.size()));
    rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (!chk.check(rc == CURLE_OK, std::string("PUT: ") + curl_easy_strerror(rc)) ||
        !chk.check(status == 201, "PUT: status " + std::to_string(status))) {
      break;
    }
  }
  m.stop();
  curl_easy_cleanup(h);
  curl_slist_free_all(headers);
  JsonOut out;
  out.str("op", "curl-upload");
  out.integer("bytes", static_cast<int64_t>(size) * count);
  out.integer("blobs", count);
  out.integer("requests", 2 * count);
  m.report(out);
  out.num("mbps", static_cast<double>(size) * count / m.wall / 1e6);
  return finish(out, chk, nullptr);
}

// get: --conns connections each GET --path --repeat times (large blobs: MB/s).
int cmdGet(const Args& a) {
  Common c(a);
  const auto path = a.str("path");
  const int conns = static_cast<int>(a.num("conns", 1));
  const int repeat = static_cast<int>(a.num("repeat", 1));
  const int64_t expectSize = a.num("expect-size", -1);
  const auto expectDigest = a.opt("expect-digest");
  Loop loop;
  Checker chk;
  Meter m{c.pids};
  uint64_t bytes = 0, requests = 0;
  std::vector<double> lat;
  m.start();
  for (int i = 0; i < conns; ++i) {
    loop.spawn([](Loop& loop, Common& c, const std::string& path, int repeat, int64_t expectSize,
                  const std::string& expectDigest, Checker& chk, uint64_t& bytes,
                  uint64_t& requests, std::vector<double>& lat) -> Task<void> {
      Conn conn(loop, c.addr);
      const bool hash = c.verify && !expectDigest.empty();
      for (int k = 0; k < repeat; ++k) {
        auto r = co_await conn.request(
            Request{"GET", path, {}, {}, hash ? BodyMode::Hash : BodyMode::Discard});
        if (!chk.status(r, 200, "GET " + path)) continue;
        ++requests;
        bytes += r.bodyBytes;
        lat.push_back(r.latency);
        if (expectSize >= 0) {
          chk.check(r.bodyBytes == static_cast<uint64_t>(expectSize), "GET: wrong body length");
        }
        if (hash) chk.check(r.digest == expectDigest, "GET: body digest " + r.digest);
      }
    }(loop, c, path, repeat, expectSize, expectDigest, chk, bytes, requests, lat));
  }
  loop.run(c.watchdog);
  m.stop();
  JsonOut out;
  out.str("op", "get");
  out.integer("conns", conns);
  out.integer("requests", static_cast<int64_t>(requests));
  out.integer("bytes", static_cast<int64_t>(bytes));
  m.report(out);
  out.num("mbps", static_cast<double>(bytes) / m.wall / 1e6);
  latencyStats(out, lat);
  return finish(out, chk, &loop);
}

// rps: --conns connections issue --method on --path (comma list, round robin) for --duration
// seconds after --warmup; requests completed inside the window count.
int cmdRps(const Args& a) {
  Common c(a);
  const auto method = a.str("method", "GET");
  const auto paths = splitList(a.str("path"));
  const int conns = static_cast<int>(a.num("conns", 64));
  const double duration = a.real("duration", 3);
  const double warmup = a.real("warmup", 0.5);
  const int64_t expectSize = a.num("expect-size", -1);
  const auto expectDigest = a.opt("expect-digest");  // GET with --verify: hash every body
  const auto engine = a.str("engine", "epoll");
  std::vector<std::pair<std::string, std::string>> headers;
  if (!a.opt("accept").empty()) headers.emplace_back("Accept", a.opt("accept"));
  if (a.flag("accept-manifests")) headers.emplace_back("Accept", kAcceptManifests);

  Checker chk;
  JsonOut out;
  out.str("op", "rps");
  out.str("method", method);
  out.str("engine", engine);
  out.integer("conns", conns);

  if (engine == "curl") {
    RateOptions o;
    o.baseUrl = c.target;
    o.paths = paths;
    o.headers = headers;
    o.head = method == "HEAD";
    o.conns = conns;
    o.warmup = warmup;
    o.duration = duration;
    o.pids = c.pids;
    o.expectSize = expectSize;
    o.follow = a.flag("follow");
    auto r = curlRate(o);
    chk.errors = r.errors;
    chk.first = r.firstError;
    chk.check(r.requests > 0, "no request completed");
    out.integer("requests", static_cast<int64_t>(r.requests));
    out.integer("bytes", static_cast<int64_t>(r.bytes));
    out.num("wall_s", r.window);
    out.num("loadgen_cpu_s", r.loadgenCpu);
    out.num("loadgen_cpu_share", r.loadgenCpu / r.window);
    if (r.serverCpu >= 0) out.num("server_cpu_s", r.serverCpu);
    if (r.serverCpu >= 0 && r.machineCpu >= 0) {
      out.num("other_cpu_s", std::max(0.0, r.machineCpu - r.serverCpu - r.loadgenCpu));
    }
    out.num("rps", static_cast<double>(r.requests) / r.window);
    out.num("mbps", static_cast<double>(r.bytes) / r.window / 1e6);
    latencyStats(out, r.latencies);
    return finish(out, chk, nullptr);
  }

  Loop loop;
  const double start = now();
  const double windowStart = start + warmup;
  const double windowEnd = windowStart + duration;
  uint64_t requests = 0, bytes = 0, reconnects = 0;
  std::vector<double> lat;
  lat.reserve(1 << 20);
  Meter m{c.pids};
  bool opened = false, closed = false;
  loop.tickEvery = 0.005;
  loop.onTick = [&] {
    const double t = now();
    if (!opened && t >= windowStart) {
      opened = true;
      m.start();
    }
    if (opened && !closed && t >= windowEnd) {
      closed = true;
      m.stop();
    }
  };
  for (int i = 0; i < conns; ++i) {
    loop.spawn([](Loop& loop, Common& c, int index, const std::string& method,
                  const std::vector<std::string>& paths, const decltype(headers)& headers,
                  double windowStart, double windowEnd, int64_t expectSize,
                  const std::string& expectDigest, Checker& chk, uint64_t& requests,
                  uint64_t& bytes, uint64_t& reconnects,
                  std::vector<double>& lat) -> Task<void> {
      Conn conn(loop, c.addr);
      const bool hash = c.verify && !expectDigest.empty() && method == "GET";
      size_t next = static_cast<size_t>(index);
      while (now() < windowEnd) {
        const auto& path = paths[next++ % paths.size()];
        auto r = co_await conn.request(
            Request{method, path, headers, {}, hash ? BodyMode::Hash : BodyMode::Discard});
        const double t = now();
        if (t < windowStart || t > windowEnd) continue;
        bool ok = chk.status(r, 200, method + " " + path);
        if (ok && expectSize >= 0) {
          if (method == "HEAD") {
            const auto* len = r.header("content-length");
            ok = chk.check(len && *len == std::to_string(expectSize), "HEAD: Content-Length");
          } else {
            ok = chk.check(r.bodyBytes == static_cast<uint64_t>(expectSize), "GET: body length");
          }
        }
        if (ok && hash) ok = chk.check(r.digest == expectDigest, "GET: body digest " + r.digest);
        if (ok && method == "HEAD" && !expectDigest.empty()) {
          const auto* d = r.header("docker-content-digest");
          ok = chk.check(!d || *d == expectDigest, "HEAD: Docker-Content-Digest");
        }
        if (!ok) continue;
        ++requests;
        bytes += r.bodyBytes;
        lat.push_back(r.latency);
      }
      reconnects += conn.connects() - 1;
    }(loop, c, i, method, paths, headers, windowStart, windowEnd, expectSize, expectDigest, chk,
                                            requests, bytes, reconnects, lat));
  }
  loop.run(c.watchdog);
  if (!closed) m.stop();
  chk.check(requests > 0, "no request completed");
  out.integer("requests", static_cast<int64_t>(requests));
  out.integer("bytes", static_cast<int64_t>(bytes));
  out.integer("reconnects", static_cast<int64_t>(reconnects));
  m.report(out);
  out.num("rps", static_cast<double>(requests) / duration);
  latencyStats(out, lat);
  return finish(out, chk, &loop);
}

// push: --pushers clients each push distinct small images (config + one layer + manifest)
// to their own repository for --duration seconds after --warmup; images completed inside the
// window count.
int cmdPush(const Args& a) {
  Common c(a);
  const auto prefix = a.str("repo-prefix");
  const int pushers = static_cast<int>(a.num("pushers", 16));
  const double duration = a.real("duration", 3);
  const double warmup = a.real("warmup", 0);
  const auto layerSize = static_cast<size_t>(a.num("layer-size", 32 * 1024));
  const uint64_t seed = static_cast<uint64_t>(a.num("seed", 1));
  Loop loop;
  Checker chk;
  Meter m{c.pids};
  uint64_t images = 0, bytes = 0;
  std::vector<double> lat;
  const double windowStart = now() + warmup;
  const double windowEnd = windowStart + duration;
  bool opened = false, closed = false;
  auto tick = [&] {
    const double t = now();
    if (!opened && t >= windowStart) {
      opened = true;
      m.start();
    }
    if (opened && !closed && t >= windowEnd) {
      closed = true;
      m.stop();
    }
  };
  tick();
  loop.tickEvery = 0.005;
  loop.onTick = tick;
  for (int i = 0; i < pushers; ++i) {
    loop.spawn([](Loop& loop, Common& c, std::string repo, uint64_t seed, size_t layerSize,
                  double windowStart, double windowEnd, Checker& chk, uint64_t& images,
                  uint64_t& bytes, std::vector<double>& lat) -> Task<void> {
      Conn conn(loop, c.addr);
      for (uint64_t n = 0; now() < windowEnd; ++n) {
        const double t = now();
        const std::string id = repo + "#" + std::to_string(seed) + "." + std::to_string(n);
        Blob config = makeConfig(id);
        Blob layer = makeBlob(layerSize, (seed << 40) ^ (std::hash<std::string>{}(id)));
        Blob manifest = makeManifest(config, {&layer});
        if (!co_await pushBlob(conn, repo, config.data, config.digest, chk)) co_return;
        if (!co_await pushBlob(conn, repo, layer.data, layer.digest, chk)) co_return;
        if (!co_await putManifest(conn, repo, "i" + std::to_string(seed) + "-" + std::to_string(n),
                                  manifest.data, manifest.digest, chk)) {
          co_return;
        }
        const double done = now();
        if (done < windowStart || done > windowEnd) continue;
        ++images;
        bytes += config.data.size() + layer.data.size() + manifest.data.size();
        lat.push_back(done - t);
      }
    }(loop, c, prefix + "/p" + std::to_string(i), seed, layerSize, windowStart, windowEnd, chk,
                                                             images, bytes, lat));
  }
  loop.run(c.watchdog);
  if (!opened) m.start();
  if (!closed) m.stop();
  JsonOut out;
  out.str("op", "push");
  out.integer("pushers", pushers);
  out.integer("images", static_cast<int64_t>(images));
  out.integer("requests", static_cast<int64_t>(images * 5));
  out.integer("bytes", static_cast<int64_t>(bytes));
  m.report(out);
  out.num("images_per_s", static_cast<double>(images) / duration);
  latencyStats(out, lat);
  return finish(out, chk, &loop);
}

// seed-image: pushes one image of --layers layers of --layer-size bytes, tagged --tag; with
// --static-root also lays its files out for nginx under the same URL paths.
int cmdSeedImage(const Args& a) {
  Common c(a);
  const auto repo = a.str("repo");
  const auto tag = a.str("tag", "latest");
  const int layers = static_cast<int>(a.num("layers", 1));
  const auto layerSize = static_cast<size_t>(a.num("layer-size", 1024));
  const uint64_t seed = static_cast<uint64_t>(a.num("seed", 7));
  const int conns = static_cast<int>(a.num("conns", 4));
  const auto root = a.opt("static-root");

  std::vector<Blob> blobs;
  for (int i = 0; i < layers; ++i) blobs.push_back(makeBlob(layerSize, seed * 1000 + i));
  Blob config = makeConfig(repo + ":" + tag + "#" + std::to_string(seed));
  std::vector<const Blob*> refs;
  for (const auto& b : blobs) refs.push_back(&b);
  Blob manifest = makeManifest(config, refs);
  refs.push_back(&config);

  Loop loop;
  Checker chk;
  Meter m{c.pids};
  m.start();
  size_t next = 0;
  for (int i = 0; i < conns; ++i) {
    loop.spawn([](Loop& loop, Common& c, const std::string& repo,
                  const std::vector<const Blob*>& refs, size_t& next, Checker& chk) -> Task<void> {
      Conn conn(loop, c.addr);
      while (next < refs.size()) {
        const Blob* b = refs[next++];
        co_await pushBlob(conn, repo, b->data, b->digest, chk);
      }
    }(loop, c, repo, refs, next, chk));
  }
  loop.run(c.watchdog);
  Loop mloop;
  mloop.spawn([](Loop& loop, Common& c, const std::string& repo, const std::string& tag,
                 const Blob& manifest, Checker& chk) -> Task<void> {
    Conn conn(loop, c.addr);
    co_await putManifest(conn, repo, tag, manifest.data, manifest.digest, chk);
  }(mloop, c, repo, tag, manifest, chk));
  mloop.run(c.watchdog);
  m.stop();

  for (const Blob* b : refs) writeStatic(root, repo, "blobs", b->digest, b->data);
  writeStatic(root, repo, "manifests", tag, manifest.data);
  writeStatic(root, repo, "manifests", manifest.digest, manifest.data);

  uint64_t total = config.data.size();
  for (const auto& b : blobs) total += b.data.size();
  JsonOut out;
  out.str("op", "seed-image");
  out.str("digest", manifest.digest);
  out.integer("manifest_size", static_cast<int64_t>(manifest.data.size()));
  out.str("config", config.digest);
  out.integer("layers", layers);
  out.integer("bytes", static_cast<int64_t>(total));
  m.report(out);
  return finish(out, chk, &loop);
}

// pull: --parallel clients each pull a whole image (manifest, config, layers), one connection
// each, layers one after the other.
int cmdPull(const Args& a) {
  Common c(a);
  const auto repo = a.str("repo");
  const auto ref = a.str("ref", "latest");
  const int parallel = static_cast<int>(a.num("parallel", 8));
  const auto expectDigest = a.opt("expect-digest");
  Loop loop;
  Checker chk;
  Meter m{c.pids};
  uint64_t bytes = 0, requests = 0;
  std::vector<double> lat;
  m.start();
  for (int i = 0; i < parallel; ++i) {
    loop.spawn([](Loop& loop, Common& c, const std::string& repo, const std::string& ref,
                  const std::string& expectDigest, Checker& chk, uint64_t& bytes,
                  uint64_t& requests, std::vector<double>& lat) -> Task<void> {
      const double t = now();
      Conn conn(loop, c.addr);
      const std::string base = "/v2/" + repo;
      Request get("GET", base + "/manifests/" + ref, {{"Accept", kAcceptManifests}}, {},
                  BodyMode::Keep);
      auto r = co_await conn.request(std::move(get));
      ++requests;
      if (!chk.status(r, 200, "GET manifest")) co_return;
      bytes += r.body.size();
      const std::string manifestDigest = sha256Digest(r.body.data(), r.body.size());
      if (!expectDigest.empty()) {
        chk.check(manifestDigest == expectDigest, "pull: manifest digest " + manifestDigest);
      }
      if (const auto* d = r.header("docker-content-digest")) {
        chk.check(*d == manifestDigest, "pull: Docker-Content-Digest differs from the body");
      }
      std::vector<std::pair<std::string, uint64_t>> blobs;
      try {
        auto doc = boost::json::parse(r.body).as_object();
        const auto& config = doc.at("config").as_object();
        blobs.emplace_back(std::string(config.at("digest").as_string()),
                           config.at("size").to_number<uint64_t>());
        for (const auto& layer : doc.at("layers").as_array()) {
          const auto& o = layer.as_object();
          blobs.emplace_back(std::string(o.at("digest").as_string()),
                             o.at("size").to_number<uint64_t>());
        }
      } catch (const std::exception& e) {
        chk.check(false, std::string("pull: bad manifest: ") + e.what());
        co_return;
      }
      for (const auto& blob : blobs) {
        const std::string& digest = blob.first;
        const uint64_t size = blob.second;
        auto b = co_await conn.request(Request{"GET",
                                               base + "/blobs/" + digest,
                                               {},
                                               {},
                                               c.verify ? BodyMode::Hash : BodyMode::Discard});
        ++requests;
        if (!chk.status(b, 200, "GET blob " + digest)) continue;
        bytes += b.bodyBytes;
        chk.check(b.bodyBytes == size, "pull: blob length differs from its descriptor");
        if (c.verify) chk.check(b.digest == digest, "pull: blob digest " + b.digest);
      }
      lat.push_back(now() - t);
    }(loop, c, repo, ref, expectDigest, chk, bytes, requests, lat));
  }
  loop.run(c.watchdog);
  m.stop();
  JsonOut out;
  out.str("op", "pull");
  out.integer("parallel", parallel);
  out.integer("requests", static_cast<int64_t>(requests));
  out.integer("bytes", static_cast<int64_t>(bytes));
  m.report(out);
  out.num("seconds", m.wall);
  out.num("mbps", static_cast<double>(bytes) / m.wall / 1e6);
  latencyStats(out, lat);
  return finish(out, chk, &loop);
}

// seed-tags: one small image in --repo, then tagged --count times (t00000, t00001, ...) by
// PUTting its manifest from --conns connections.
int cmdSeedTags(const Args& a) {
  Common c(a);
  const auto repo = a.str("repo");
  const int count = static_cast<int>(a.num("count", 10000));
  const int conns = static_cast<int>(a.num("conns", 32));
  Blob config = makeConfig(repo);
  Blob layer = makeBlob(1024, 99);
  Blob manifest = makeManifest(config, {&layer});
  Loop loop;
  Checker chk;
  Meter m{c.pids};
  m.start();
  int next = 0;
  loop.spawn([](Loop& loop, Common& c, const std::string& repo, const Blob& config,
                const Blob& layer, Checker& chk) -> Task<void> {
    Conn conn(loop, c.addr);
    co_await pushBlob(conn, repo, config.data, config.digest, chk);
    co_await pushBlob(conn, repo, layer.data, layer.digest, chk);
  }(loop, c, repo, config, layer, chk));
  loop.run(c.watchdog);
  for (int i = 0; i < conns; ++i) {
    loop.spawn([](Loop& loop, Common& c, const std::string& repo, const Blob& manifest, int count,
                  int& next, Checker& chk) -> Task<void> {
      Conn conn(loop, c.addr);
      while (next < count) {
        char tag[16];
        std::snprintf(tag, sizeof tag, "t%05d", next++);
        co_await putManifest(conn, repo, tag, manifest.data, manifest.digest, chk);
      }
    }(loop, c, repo, manifest, count, next, chk));
  }
  loop.run(c.watchdog);
  m.stop();
  JsonOut out;
  out.str("op", "seed-tags");
  out.integer("tags", count);
  m.report(out);
  out.num("tags_per_s", count / m.wall);
  return finish(out, chk, &loop);
}

// seed-repos: --count repositories <prefix>/r00000 ...: the first gets a small image, the
// others mount its blobs (POST ?mount=&from=) and PUT the same manifest.
int cmdSeedRepos(const Args& a) {
  Common c(a);
  const auto prefix = a.str("prefix");
  const int count = static_cast<int>(a.num("count", 5000));
  const int conns = static_cast<int>(a.num("conns", 32));
  auto repoName = [&prefix](int i) {
    char name[16];
    std::snprintf(name, sizeof name, "r%05d", i);
    return prefix + "/" + name;
  };
  Blob config = makeConfig(prefix);
  Blob layer = makeBlob(1024, 98);
  Blob manifest = makeManifest(config, {&layer});
  Loop loop;
  Checker chk;
  Meter m{c.pids};
  m.start();
  const std::string base = repoName(0);
  loop.spawn([](Loop& loop, Common& c, const std::string& repo, const Blob& config,
                const Blob& layer, const Blob& manifest, Checker& chk) -> Task<void> {
    Conn conn(loop, c.addr);
    co_await pushBlob(conn, repo, config.data, config.digest, chk);
    co_await pushBlob(conn, repo, layer.data, layer.digest, chk);
    co_await putManifest(conn, repo, "latest", manifest.data, manifest.digest, chk);
  }(loop, c, base, config, layer, manifest, chk));
  loop.run(c.watchdog);
  int next = 1;
  for (int i = 0; i < conns; ++i) {
    loop.spawn([](Loop& loop, Common& c, const std::string& base, const Blob& config,
                  const Blob& layer, const Blob& manifest, int count, int& next,
                  decltype(repoName)& repoName, Checker& chk) -> Task<void> {
      Conn conn(loop, c.addr);
      while (next < count) {
        const std::string repo = repoName(next++);
        bool ok = true;
        for (const Blob* b : {&config, &layer}) {
          auto r = co_await conn.request(Request{
              "POST", "/v2/" + repo + "/blobs/uploads/?mount=" + b->digest + "&from=" + base});
          ok = chk.status(r, 201, "mount into " + repo) && ok;
        }
        if (ok) co_await putManifest(conn, repo, "latest", manifest.data, manifest.digest, chk);
      }
    }(loop, c, base, config, layer, manifest, count, next, repoName, chk));
  }
  loop.run(c.watchdog);
  m.stop();
  JsonOut out;
  out.str("op", "seed-repos");
  out.integer("repositories", count);
  m.report(out);
  out.num("repos_per_s", count / m.wall);
  return finish(out, chk, &loop);
}

// list: the whole tag list or catalog at --path, --page entries a page (0: one unpaged
// request), following Link headers; --repeat times, the median time reported.
int cmdList(const Args& a) {
  Common c(a);
  const auto path = a.str("path");
  const int page = static_cast<int>(a.num("page", 0));
  const int64_t expect = a.num("expect", -1);
  const int repeat = static_cast<int>(a.num("repeat", 3));
  const std::string key = path.find("_catalog") != std::string::npos ? "repositories" : "tags";
  Loop loop;
  Checker chk;
  Meter m{c.pids};
  std::vector<double> times;
  uint64_t pages = 0, items = 0, bytes = 0;
  bool sorted = true;
  m.start();
  loop.spawn([](Loop& loop, Common& c, const std::string& path, int page, int64_t expect,
                int repeat, const std::string& key, Checker& chk, std::vector<double>& times,
                uint64_t& pages, uint64_t& items, uint64_t& bytes, bool& sorted) -> Task<void> {
    Conn conn(loop, c.addr);
    for (int k = 0; k < repeat; ++k) {
      const double t = now();
      std::string target = page > 0 ? path + "?n=" + std::to_string(page) : path;
      std::vector<std::string> seen;
      pages = 0;
      bytes = 0;
      while (!target.empty()) {
        auto r = co_await conn.request(Request{"GET", target, {}, {}, BodyMode::Keep});
        ++pages;
        if (!chk.status(r, 200, "GET " + target)) co_return;
        bytes += r.body.size();
        try {
          auto doc = boost::json::parse(r.body).as_object();
          if (auto* list = doc.if_contains(key); list && !list->is_null()) {
            for (const auto& v : list->as_array()) seen.emplace_back(v.as_string());
          }
        } catch (const std::exception& e) {
          chk.check(false, std::string("list: bad JSON: ") + e.what());
          co_return;
        }
        target.clear();
        if (const auto* link = r.header("link")) {
          const auto open = link->find('<'), close = link->find('>');
          if (open != std::string::npos && close != std::string::npos && close > open) {
            target = originForm(link->substr(open + 1, close - open - 1));
          }
        }
        if (pages > 100000) {
          chk.check(false, "list: too many pages");
          co_return;
        }
      }
      times.push_back(now() - t);
      items = seen.size();
      sorted = std::is_sorted(seen.begin(), seen.end());
      std::sort(seen.begin(), seen.end());
      chk.check(std::adjacent_find(seen.begin(), seen.end()) == seen.end(),
                "list: duplicate entries");
      if (expect >= 0) {
        chk.check(
            static_cast<int64_t>(seen.size()) == expect,
            "list: " + std::to_string(seen.size()) + " entries, want " + std::to_string(expect));
      }
    }
  }(loop, c, path, page, expect, repeat, key, chk, times, pages, items, bytes, sorted));
  loop.run(c.watchdog);
  m.stop();
  JsonOut out;
  out.str("op", "list");
  out.integer("page", page);
  out.integer("pages", static_cast<int64_t>(pages));
  out.integer("items", static_cast<int64_t>(items));
  out.integer("bytes", static_cast<int64_t>(bytes));
  out.boolean("sorted", sorted);
  out.integer("requests", static_cast<int64_t>(pages) * repeat);
  m.report(out);
  out.num("seconds", times.empty() ? 0 : median(times));
  return finish(out, chk, &loop);
}

// wait: until GET --path answers (any HTTP status; --status S: that one), or --timeout.
int cmdWait(const Args& a) {
  Common c(a);
  const auto path = a.str("path", "/v2/");
  const double deadline = now() + a.real("timeout", 20);
  const int want = static_cast<int>(a.num("status", 0));
  for (;;) {
    Loop loop;
    int status = 0;
    loop.spawn([](Loop& loop, Common& c, const std::string& path, int& status) -> Task<void> {
      Conn conn(loop, c.addr);
      auto r = co_await conn.request(Request{"GET", path});
      status = r.status;
    }(loop, c, path, status));
    loop.run(5);
    if (want == 0 ? status > 0 : status == want) {
      if (a.flag("print-status")) std::cout << status << std::endl;
      return 0;
    }
    if (now() > deadline) {
      std::cerr << "berth_loadgen wait: " << c.target << path << " not ready (status " << status
                << ")\n";
      return 1;
    }
    usleep(50 * 1000);
  }
}

void usage() {
  std::cerr << R"(usage: berth_loadgen COMMAND --target http://127.0.0.1:PORT [options]

commands (each prints one JSON line; exit 1 on any wrong response):
  upload      --repo R --size N [--mode postput|post|chunked] [--chunk N] [--seed S]
              [--count K] [--parallel N] [--static-root DIR]
  curl-upload --url http(s)://HOST:PORT --repo R --size N [--seed S] [--count K]
              [--cacert FILE] [--auth VALUE]   (libcurl; --target is not used)
  get         --path P [--conns C] [--repeat K] [--expect-size N] [--expect-digest D]
  rps         --path P[,P2..] [--method GET|HEAD] [--conns C] [--duration S] [--warmup S]
              [--expect-size N] [--expect-digest D] [--accept-manifests] [--engine epoll|curl]
              [--follow] (curl: follow redirects)
  push        --repo-prefix R [--pushers P] [--duration S] [--warmup S] [--layer-size N] [--seed S]
  seed-image  --repo R [--tag T] [--layers L] [--layer-size N] [--seed S] [--static-root DIR]
  pull        --repo R [--ref T] [--parallel P] [--expect-digest D]
  seed-tags   --repo R [--count N] [--conns C]
  seed-repos  --prefix R [--count N] [--conns C]
  list        --path /v2/R/tags/list|/v2/_catalog [--page N] [--expect N] [--repeat K]
  wait        [--path /v2/] [--timeout S] [--status S] [--print-status]
common: --pids PID[,PID..] (server CPU time), --verify (hash bodies, check digests),
        --auth VALUE (an Authorization header for every request),
        --watchdog S (abort after S seconds, default 600)
sizes accept k, M, G suffixes (binary).
)";
}

}  // namespace
}  // namespace lg

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  if (argc < 2) {
    lg::usage();
    return 2;
  }
  const std::string cmd = argv[1];
  try {
    lg::Args args(argc, argv);
    if (cmd == "upload") return lg::cmdUpload(args);
    if (cmd == "curl-upload") return lg::cmdCurlUpload(args);
    if (cmd == "get") return lg::cmdGet(args);
    if (cmd == "rps") return lg::cmdRps(args);
    if (cmd == "push") return lg::cmdPush(args);
    if (cmd == "seed-image") return lg::cmdSeedImage(args);
    if (cmd == "pull") return lg::cmdPull(args);
    if (cmd == "seed-tags") return lg::cmdSeedTags(args);
    if (cmd == "seed-repos") return lg::cmdSeedRepos(args);
    if (cmd == "list") return lg::cmdList(args);
    if (cmd == "wait") return lg::cmdWait(args);
    lg::usage();
    return 2;
  } catch (const std::exception& e) {
    lg::JsonOut out;
    out.str("op", cmd);
    out.boolean("ok", false);
    out.integer("errors", 1);
    out.str("first_error", e.what());
    std::cout << out.text() << std::endl;
    return 1;
  }
}
