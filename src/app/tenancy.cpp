#include "app/tenancy.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <mutex>

#include "auth/password.hpp"
#include "core/digest.hpp"
#include "core/unique_fd.hpp"
#include "storage/fs/fs_blob_store.hpp"
#include "storage/measured_blob_store.hpp"

namespace berth::app {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// "name.example:5000" -> "name.example"; "[::1]:5000" -> "[::1]".
std::string_view withoutPort(std::string_view host) {
  if (host.starts_with('[')) {
    const auto close = host.find(']');
    return close == host.npos ? host : host.substr(0, close + 1);
  }
  const auto colon = host.rfind(':');
  return colon == host.npos ? host : host.substr(0, colon);
}

Error noRegistryAt(std::string_view host) {
  return explainedError(ApiCode::NotFound,
                        "no registry is served at host \"" + std::string(host) + "\"");
}

}  // namespace

Tenancy::Tenancy(meta::IdentityStore& identities, TenancyOptions options)
    : identities_(identities),
      options_(std::move(options)),
      domainHost_(lower(withoutPort(options_.domain))) {}

std::optional<std::string> Tenancy::registryOfHost(std::string_view host) const {
  const auto name = lower(withoutPort(host));
  if (domainHost_.empty() || name.size() <= domainHost_.size() + 1) return std::nullopt;
  if (!name.ends_with(domainHost_) || name[name.size() - domainHost_.size() - 1] != '.') {
    return std::nullopt;
  }
  return name.substr(0, name.size() - domainHost_.size() - 1);
}

Result<registry::Tenant> Tenancy::resolve(std::string_view host) {
  const auto named = registryOfHost(host);
  const std::string& name = named ? *named : options_.defaultRegistry;
  // Registry names are letters and digits: anything else under the domain is nobody's.
  const bool plausible = std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  });
  if (!plausible) return noRegistryAt(host);
  auto settings = identities_.registryByName(name);
  if (!settings) return settings.takeError();
  if (!*settings) return noRegistryAt(host);
  auto blobs = blobsOf(**settings);
  if (!blobs) return blobs.takeError();
  return registry::Tenant{std::move(**settings), *blobs};
}

std::string Tenancy::loginServer(std::string_view registry) const {
  return std::string(registry) + "." + options_.domain;
}

Result<storage::StoreUrl> storeOf(const storage::StoreUrl& store,
                                  const meta::RegistrySettings& registry) {
  if (!registry.storagePath.empty()) return storage::parseStoreUrl(registry.storagePath);
  return store.child(registry.name);
}

storage::StoreUrl defaultServerStore(const std::filesystem::path& dataDir) {
  storage::StoreUrl url;
  url.path = dataDir / "registries";
  return url;
}

Result<storage::BlobStorePtr> openRegistryStore(const std::filesystem::path& dataDir,
                                                const ServerStorage& storage,
                                                const meta::RegistrySettings& settings) {
  auto server = defaultServerStore(dataDir);
  if (!storage.store.empty()) {
    auto parsed = storage::parseStoreUrl(storage.store);
    if (!parsed) return parsed.takeError();
    server = *parsed;
  }
  auto url = storeOf(server, settings);
  if (!url) return url.takeError();
  auto options = storage.options;
  options.openBlobs = 0;
  if (options.objects.spoolDir.empty()) options.objects.spoolDir = dataDir;
  return storage::openStore(*url, options, url->kind != storage::StoreUrl::Kind::File);
}

storage::StoreUrl Tenancy::defaultStore(std::string_view registry) const {
  return options_.store.child(registry);
}

Result<storage::StoreUrl> Tenancy::storeOf(const meta::RegistrySettings& registry) const {
  return app::storeOf(options_.store, registry);
}

std::string Tenancy::operatorFingerprint() const {
  return sha256Digest("berth operator session\n" + options_.operatorToken);
}

bool Tenancy::isOperatorToken(std::string_view presented) const {
  const auto& token = options_.operatorToken;
  return !token.empty() && presented.size() == token.size() &&
         CRYPTO_memcmp(presented.data(), token.data(), token.size()) == 0;
}

Result<std::shared_ptr<storage::BlobStore>> Tenancy::blobsOf(
    const meta::RegistrySettings& registry) {
  {
    std::shared_lock lock(mutex_);
    if (auto it = blobs_.find(registry.id); it != blobs_.end()) return it->second;
  }
  std::unique_lock lock(mutex_);
  if (auto it = blobs_.find(registry.id); it != blobs_.end()) return it->second;
  auto url = storeOf(registry);
  if (!url) return url.takeError();
  // Nothing is sent to an object store here: it was checked when the server started or when
  // the registry was created, and resolving a registry must not wait for the network.
  auto store = storage::openStore(*url, options_.storeOptions, false);
  if (!store) return store.takeError();
  std::shared_ptr<storage::BlobStore> shared(storage::measured(std::move(*store)));
  blobs_.emplace(registry.id, shared);
  return shared;
}

Result<std::optional<std::string>> Tenancy::readSmallBlob(const meta::RegistrySettings& registry,
                                                          const Digest& digest, uint64_t limit) {
  auto blobs = blobsOf(registry);
  if (!blobs) return blobs.takeError();
  auto size = (*blobs)->stat(digest);
  if (!size) return size.takeError();
  if (!*size || **size > limit) return std::optional<std::string>();
  auto reader = (*blobs)->openSized(digest, **size);
  if (!reader) return reader.takeError();
  std::string bytes;
  bytes.reserve(**size);
  auto read = storage::readBlob(*reader, 0, **size, [&](const char* data, size_t n) {
    if (bytes.size() + n > limit) return false;
    bytes.append(data, n);
    return true;
  });
  if (!read) return read.takeError();
  return std::optional<std::string>(std::move(bytes));
}

Result<void> Tenancy::createStorage(const meta::RegistrySettings& registry) {
  auto url = storeOf(registry);
  if (!url) return url.takeError();
  if (url->kind != storage::StoreUrl::Kind::File) {
    // One request to the store: a registry is not created on a store it cannot reach.
    auto probed = storage::openStore(*url, options_.storeOptions, true);
    if (!probed) return probed.takeError();
  }
  auto blobs = blobsOf(registry);
  if (!blobs) return blobs.takeError();
  return {};
}

Result<void> Tenancy::removeStorage(const meta::RegistrySettings& registry) {
  {
    std::unique_lock lock(mutex_);
    blobs_.erase(registry.id);
  }
  auto url = storeOf(registry);
  if (!url) return url.takeError();
  if (url->kind != storage::StoreUrl::Kind::File) return removeObjects(*url);
  // Only what berth put there: a storage path given at creation may hold other things.
  const auto root = url->path;
  std::error_code ec;
  for (const char* part : {"blobs", "uploads"}) {
    std::filesystem::remove_all(root / part, ec);
    if (ec) {
      return makeError(ApiCode::Unknown,
                       "cannot remove " + (root / part).string() + ": " + ec.message());
    }
  }
  std::filesystem::remove(root, ec);  // only when now empty; a failure leaves it be
  return {};
}

// Every blob and upload session berth stored for the registry, one by one.
Result<void> Tenancy::removeObjects(const storage::StoreUrl& url) {
  auto store = storage::openStore(url, options_.storeOptions, false);
  if (!store) return store.takeError();
  for (;;) {
    auto sessions = (*store)->staleUploads(std::numeric_limits<int64_t>::max(), 1000);
    if (!sessions) return sessions.takeError();
    for (const auto& id : *sessions) {
      if (auto r = (*store)->cancelUpload(id); !r && r.error().code != ApiCode::BlobUploadUnknown) {
        return r;
      }
    }
    if (sessions->size() < 1000) break;
  }
  std::vector<Digest> digests;
  auto listed = (*store)->forEachBlob([&](const storage::StoredBlob& blob) {
    if (auto d = Digest::parse(blob.digest)) digests.push_back(*d);
    return true;
  });
  if (!listed) return listed;
  for (const auto& d : digests) {
    if (auto r = (*store)->remove(d); !r) return r;
  }
  return {};
}

void Tenancy::forget(meta::RegistryId) {
  if (onForget_) onForget_();
}

Result<std::string> loadOperatorToken(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (in) {
    std::string token;
    std::getline(in, token);
    while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
    if (token.size() < 16) {
      return makeError(ApiCode::Unknown,
                       "operator token in " + file.string() + " is shorter than 16 characters");
    }
    return token;
  }
  if (std::filesystem::exists(file)) {
    return makeError(ApiCode::Unknown, "cannot read operator token file " + file.string());
  }
  std::error_code ec;
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
  const auto token = auth::generateSecret();
  UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) {
    return makeError(ApiCode::Unknown, "cannot create operator token file " + file.string());
  }
  const std::string line = token + "\n";
  if (::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    return makeError(ApiCode::Unknown, "cannot write operator token file " + file.string());
  }
  return token;
}

}  // namespace berth::app
