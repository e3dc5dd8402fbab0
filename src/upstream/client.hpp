#pragma once
// berth as a client of another registry (any OCI distribution registry: Docker Hub, a
// distribution, another berth, ACR …): the Docker token flow and Basic authentication read
// from WWW-Authenticate, tokens cached per scope until they expire, redirects to blob storage
// followed (credentials never sent to another origin), manifests and indexes of every media
// type berth stores, blobs streamed to the caller as they arrive. Transient failures (5xx,
// 429, transport errors) are retried with backoff by the HTTP client, honouring Retry-After.
// Calls block: they run on the blocking pool or on a job's thread. One Client per upstream
// and credentials; it is thread-safe.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.hpp"
#include "core/result.hpp"
#include "storage/blob_store.hpp"
#include "storage/object/http_client.hpp"

namespace berth::upstream {

// An image named as people write it: [HOST/]REPOSITORY[:TAG][@DIGEST]. Without a host (a first
// part with no '.' or ':' and not "localhost") it is Docker Hub's, where a one-part name is
// under library/, as docker pull reads it.
struct ImageRef {
  std::string host;        // "docker.io", "registry.example.com:5000"
  std::string repository;  // "library/alpine"
  std::string tag;         // empty when only a digest is given
  std::string digest;      // "sha256:…" or empty
  std::string reference() const { return digest.empty() ? tag : digest; }
  std::string str() const;
};
// Defaults the tag to "latest" when neither tag nor digest is given.
Result<ImageRef> parseImageRef(std::string_view text);
// Docker Hub's registry API lives at registry-1.docker.io.
std::string apiHost(std::string_view host);

struct Credentials {
  std::string username, password;
  bool empty() const { return username.empty() && password.empty(); }
};

struct ClientOptions {
  storage::object::HttpOptions http;
  // Hosts (host or host:port) reached over plain HTTP, as docker's insecure-registries.
  std::vector<std::string> insecureRegistries;
  size_t maxManifestBytes = 4 * 1024 * 1024;
  unsigned maxRedirects = 5;
  size_t maxTokens = 256;  // cached tokens, per client
  // Every token is asked for pull, push and delete (a replication's target), not pull alone.
  bool write = false;
  size_t chunkBytes = 8 << 20;  // a blob the store cannot hand out as a file goes up in these
};

// An upstream's failures, told apart by status: 404 for what it does not have; 424 when it
// refuses us (credentials, permissions, a malformed answer); 429 and 502-504 when it cannot
// answer now (see unavailable()). Every message names the upstream.
bool unavailable(const Error& error);

struct Manifest {
  std::string mediaType;
  std::string digest;  // of the bytes, checked against the digest asked for
  std::string body;
};

struct ManifestHead {
  std::string mediaType;
  std::string digest;
  uint64_t size = 0;
};

class Client {
 public:
  // `stop`, when given, ends every request soon after it turns true (the server stopping).
  Client(std::string host, Credentials credentials,
         std::shared_ptr<storage::object::HttpClient> http, ClientOptions options,
         const std::atomic<bool>* stop = nullptr);

  const std::string& host() const { return host_; }
  const Credentials& credentials() const { return credentials_; }

  // The manifest (or index) at a tag or digest.
  Result<Manifest> manifest(std::string_view repository, std::string_view reference);
  // The digest a tag points at now, without the body (nullopt: the upstream does not have it).
  Result<std::optional<ManifestHead>> headManifest(std::string_view repository,
                                                   std::string_view reference);
  // Streams a blob to `onData` (return false to stop: an error then). Returns its size. The
  // bytes are not hashed here: whoever stores them checks the digest.
  Result<uint64_t> blob(std::string_view repository, const Digest& digest,
                        const std::function<bool(const char*, size_t)>& onData,
                        const std::function<void(int64_t)>& onLength = {});
  // The tags of a repository, every page.
  Result<std::vector<std::string>> tags(std::string_view repository, size_t limit = 100000);
  // The referrers of a manifest (the OCI referrers API's index), or nullopt when the upstream
  // has no referrers API.
  Result<std::optional<std::string>> referrers(std::string_view repository, const Digest& digest);

  // Pushing (a replication's target):
  // Whether the repository has the blob.
  Result<bool> hasBlob(std::string_view repository, const Digest& digest);
  // Uploads a blob from berth's store: one PUT from a file, or PATCHes of chunkBytes read from
  // an object store, then the PUT that names the digest. Never the whole blob in memory.
  Result<void> pushBlob(std::string_view repository, const Digest& digest,
                        const storage::BlobReader& blob);
  // Stores a manifest under a tag or its digest.
  Result<void> putManifest(std::string_view repository, std::string_view reference,
                           std::string_view mediaType, std::string_view body);
  // Deletes a tag or a manifest; false when there was none.
  Result<bool> deleteManifest(std::string_view repository, std::string_view reference);

 private:
  struct Call {
    std::string method = "GET";
    std::string path;  // "/v2/…", with its query, or an absolute URL on the same origin
    storage::object::Pairs headers;
    std::string_view body;  // at most one of: bytes, or a range of a file
    int bodyFd = -1;
    uint64_t bodyOffset = 0, bodyLength = 0;
    std::function<bool(const char*, size_t)> onData;
    std::function<void(int64_t)> onLength;
    size_t responseLimit = 1 << 20;
  };
  // Sends a call for `repository` with `actions` ("pull"), answering a 401 once with
  // credentials or a token for that scope.
  Result<storage::object::HttpResponse> send(Call call, std::string_view repository,
                                             std::string_view actions);
  // One request, with the redirects it leads to.
  Result<storage::object::HttpResponse> follow(const Call& call, const std::string& authorization);
  // A POST to start an upload; where to send its bytes.
  Result<std::string> startUpload(std::string_view repository, const Digest& digest);
  // An upload's Location, resolved against the registry; an error when it leads elsewhere.
  Result<std::string> locationOf(const storage::object::HttpResponse& response,
                                 std::string_view what);
  std::string actions() const { return options_.write ? "pull,push,delete" : "pull"; }
  Result<std::string> fetchToken(const std::string& realm, const std::string& service,
                                 const std::string& scope);
  std::string authorizationFor(const std::string& scope);
  Error failure(std::string_view what, const storage::object::HttpResponse& response) const;

  std::string host_;  // as named
  std::string base_;  // scheme://api host
  Credentials credentials_;
  std::shared_ptr<storage::object::HttpClient> http_;
  ClientOptions options_;
  const std::atomic<bool>* stop_;

  enum class Scheme { Unknown, None, Basic, Bearer };
  std::mutex mutex_;
  Scheme scheme_ = Scheme::Unknown;
  std::string realm_, service_;  // of the Bearer challenge
  struct Token {
    std::string value;
    std::chrono::steady_clock::time_point expires;
  };
  std::map<std::string, Token> tokens_;  // by scope
};

}  // namespace berth::upstream
