// The object store driver on S3 (s3rver) and Azure Blob (Azurite): the BlobStore contract,
// and what object storage adds to it: parts and their boundaries, a session that outlives its
// process, concurrent commits of the same blob, a store that goes away mid-upload, expiry,
// redirects, and stores refused at open.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <thread>
#include <type_traits>

#include "../conformance/blob_store_contract.hpp"
#include "emulators.hpp"
#include "storage/object/azure_client.hpp"
#include "storage/object/s3_client.hpp"
#include "storage/object/shared_key.hpp"
#include "storage/open_store.hpp"
#include "tcp_proxy.hpp"

namespace berth::storage {
namespace {

using berth_test::Emulator;
using berth_test::TcpProxy;

ObjectStoreOptions testOptions() {
  ObjectStoreOptions options;
  options.partSize = 5 << 20;  // the smallest S3 allows, so that tests cross parts cheaply
  options.http.backoff = std::chrono::milliseconds(5);
  options.http.connectTimeout = std::chrono::seconds(2);
  return options;
}

// One store kind: its emulator, the URL of a place in it, its credentials, and a client to
// look into it; why it cannot run here, if it cannot.
template <Emulator::Kind kKind>
struct S3Like {
  static constexpr bool kPlacesOnVerify = true;
  static constexpr const char* kMissing = "NoSuchBucket";
  static constexpr const char* kCredentialVariable = "AWS_ACCESS_KEY_ID";
  static std::string unavailable() {
    return kKind == Emulator::Kind::Moto ? Emulator::motoMissing() : "";
  }
  static Emulator& emulator() {
    static Emulator e(kKind);
    static const bool created = kKind != Emulator::Kind::Moto || createBucket(e);
    (void)created;
    return e;
  }
  static StoreUrl url(const std::string& prefix, bool redirect = false,
                      const std::string& bucket = Emulator::kS3Bucket) {
    auto url =
        parseStoreUrl("s3://" + bucket + "/" + prefix + "?endpoint=" + emulator().endpoint() +
                      "&path_style=true" + (redirect ? "&redirect=true" : ""));
    EXPECT_TRUE(url) << url.error().detail;
    return *url;
  }
  // The store reached through another port of loopback (a proxy in front of the emulator).
  static StoreUrl urlThrough(uint16_t port, const std::string& prefix) {
    auto url =
        parseStoreUrl("s3://" + std::string(Emulator::kS3Bucket) + "/" + prefix +
                      "?endpoint=http://127.0.0.1:" + std::to_string(port) + "&path_style=true");
    EXPECT_TRUE(url) << url.error().detail;
    return *url;
  }
  static StoreUrl missing() { return url("x", false, "no-such-bucket"); }
  static StoreCredentials credentials() {
    StoreCredentials c;
    c.awsAccessKeyId = Emulator::kS3AccessKey;
    c.awsSecretAccessKey = Emulator::kS3SecretKey;
    return c;
  }
  static void forgetCredentials() {
    ::unsetenv("AWS_ACCESS_KEY_ID");
    ::unsetenv("AWS_SECRET_ACCESS_KEY");
  }
  static std::unique_ptr<object::ObjectApi> client(const StoreUrl& url) {
    return std::make_unique<object::S3Client>(
        url, sigv4::Credentials{Emulator::kS3AccessKey, Emulator::kS3SecretKey, ""});
  }

 private:
  // moto starts without buckets and checks no signature: a plain PUT makes one.
  static bool createBucket(Emulator& e) {
    object::HttpClient http;
    object::HttpRequest put;
    put.method = "PUT";
    put.url = e.endpoint() + "/" + Emulator::kS3Bucket;
    auto r = http.perform(put);
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : r.error().detail);
    return r && r->status == 200;
  }
};
// s3rver: installed with the npm packages, always there.
using S3 = S3Like<Emulator::Kind::S3>;
// moto: more faithful (every multipart call, S3's limits on parts), when the machine has it.
using Moto = S3Like<Emulator::Kind::Moto>;

struct Azure {
  static constexpr bool kPlacesOnVerify = true;
  static std::string unavailable() { return ""; }
  static constexpr const char* kMissing = "ContainerNotFound";
  static constexpr const char* kCredentialVariable = "AZURE_STORAGE_KEY";
  static constexpr const char* kContainer = "berth-test";
  static Emulator& emulator() {
    static Emulator e(Emulator::Kind::Azure);
    static const bool created = createContainer(e);
    (void)created;
    return e;
  }
  static StoreUrl url(const std::string& prefix, bool redirect = false,
                      const std::string& container = kContainer) {
    return urlAt(emulator(), prefix, redirect, container);
  }
  static StoreUrl missing() { return url("x", false, "no-such-container"); }
  static StoreUrl urlThrough(uint16_t port, const std::string& prefix) {
    auto url = parseStoreUrl("azblob://" + std::string(Emulator::kAzureAccount) + "/" + kContainer +
                             "/" + prefix + "?endpoint=http://127.0.0.1:" + std::to_string(port) +
                             "/" + Emulator::kAzureAccount);
    EXPECT_TRUE(url) << url.error().detail;
    return *url;
  }
  static StoreCredentials credentials() {
    StoreCredentials c;
    c.azureStorageKey = Emulator::kAzureKey;
    return c;
  }
  static void forgetCredentials() {
    ::unsetenv("AZURE_STORAGE_KEY");
    ::unsetenv("AZURE_STORAGE_SAS_TOKEN");
  }
  static std::unique_ptr<object::ObjectApi> client(const StoreUrl& url) {
    return std::make_unique<object::AzureClient>(url, Emulator::kAzureKey, "");
  }

 private:
  static StoreUrl urlAt(Emulator& e, const std::string& prefix, bool redirect,
                        const std::string& container) {
    auto url = parseStoreUrl("azblob://" + std::string(Emulator::kAzureAccount) + "/" + container +
                             (prefix.empty() ? "" : "/" + prefix) + "?endpoint=" + e.endpoint() +
                             (redirect ? "&redirect=true" : ""));
    EXPECT_TRUE(url) << url.error().detail;
    return *url;
  }
  static bool createContainer(Emulator& e) {
    object::AzureClient client(urlAt(e, "", false, kContainer), Emulator::kAzureKey, "");
    auto r = client.createContainer();
    EXPECT_TRUE(r) << r.error().detail;
    return r.ok();
  }
};

template <class Kind>
StoreOptions storeOptions(StoreCredentials credentials = Kind::credentials()) {
  StoreOptions options;
  options.credentials = std::move(credentials);
  options.objects = testOptions();
  return options;
}

template <class Kind>
BlobStorePtr openStore(const std::string& prefix, bool redirect = false) {
  auto store = storage::openStore(Kind::url(prefix, redirect), storeOptions<Kind>(), true);
  EXPECT_TRUE(store) << store.error().detail;
  return store ? std::move(*store) : nullptr;
}

template <class Kind>
struct Factory {
  static constexpr bool kPlacesOnVerify = Kind::kPlacesOnVerify;
  static std::string unavailable() { return Kind::unavailable(); }
  std::string prefix = "conformance-" + newUuid();
  BlobStorePtr make() { return openStore<Kind>(prefix); }
};

using Drivers = ::testing::Types<Factory<S3>, Factory<Moto>, Factory<Azure>>;
INSTANTIATE_TYPED_TEST_SUITE_P(Objects, BlobStoreConformance, Drivers);

std::string pattern(size_t size, char seed) {
  std::string out(size, '\0');
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<char>(seed + (i * 131) % 251);
  return out;
}

Digest digestOf(std::string_view data) { return *Digest::parse(sha256Digest(data)); }

std::string readAll(BlobStore& store, const Digest& d) {
  auto reader = store.open(d);
  EXPECT_TRUE(reader) << reader.error().detail;
  if (!reader) return "";
  std::string out;
  EXPECT_TRUE(readBlob(*reader, 0, reader->size, [&](const char* data, size_t size) {
    out.append(data, size);
    return true;
  }));
  return out;
}

void append(BlobStore& store, const std::string& id, std::string_view data, size_t piece) {
  auto w = store.appendUpload(id);
  ASSERT_TRUE(w) << w.error().detail;
  for (size_t at = 0; at < data.size(); at += piece) {
    const auto part = data.substr(at, piece);
    ASSERT_TRUE((*w)->write(part.data(), part.size()));
  }
  auto closed = (*w)->close();
  ASSERT_TRUE(closed) << closed.error().detail;
}

template <class Kind>
class ObjectStore : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const auto why = Kind::unavailable(); !why.empty()) GTEST_SKIP() << why;
  }
};
using Kinds = ::testing::Types<S3, Moto, Azure>;
TYPED_TEST_SUITE(ObjectStore, Kinds);

TYPED_TEST(ObjectStore, UploadsAcrossPartBoundariesInOddPieces) {
  auto store = openStore<TypeParam>("parts-" + newUuid());
  ASSERT_TRUE(store);
  // 12 MiB + 3 bytes: two whole parts and a tail, written by three requests whose ends fall
  // inside parts.
  const std::string data = pattern((12 << 20) + 3, 'a');
  const auto id = newUuid();
  ASSERT_TRUE(store->createUpload(id));
  append(*store, id, std::string_view(data).substr(0, 3 << 20), 65536);
  append(*store, id, std::string_view(data).substr(3 << 20, 7 << 20), 1 << 20);
  append(*store, id, std::string_view(data).substr(10 << 20), 999);
  EXPECT_EQ(*store->uploadSize(id), data.size());
  const auto d = digestOf(data);
  auto info = store->commitUpload(id, d);
  ASSERT_TRUE(info) << info.error().detail;
  EXPECT_EQ(info->size, data.size());
  EXPECT_EQ(readAll(*store, d), data);
  // A range inside the second part.
  auto reader = store->open(d);
  ASSERT_TRUE(reader);
  std::string range;
  ASSERT_TRUE(readBlob(*reader, (5 << 20) - 2, 5, [&](const char* p, size_t n) {
    range.append(p, n);
    return true;
  }));
  EXPECT_EQ(range, data.substr((5 << 20) - 2, 5));
}

// The store's calls, counted on their way to a real client.
class CountingApi final : public object::ObjectApi {
 public:
  explicit CountingApi(std::unique_ptr<object::ObjectApi> inner) : inner_(std::move(inner)) {}
  std::map<std::string, int> calls;
  std::vector<std::string> beganAt;                  // keys of uploads in parts
  std::vector<std::pair<uint64_t, uint64_t>> reads;  // first and length of each streamed get

  Result<void> probe() override { return inner_->probe(); }
  Result<std::optional<uint64_t>> head(const std::string& key) override {
    ++calls["head"];
    return inner_->head(key);
  }
  Result<void> put(const std::string& key, std::string_view body) override {
    ++calls["put"];
    return inner_->put(key, body);
  }
  Result<void> putFile(const std::string& key, int fd, uint64_t offset, uint64_t length) override {
    ++calls["put"];
    return inner_->putFile(key, fd, offset, length);
  }
  Result<std::optional<std::string>> getSmall(const std::string& key, size_t limit) override {
    ++calls["get"];
    return inner_->getSmall(key, limit);
  }
  Result<void> get(const std::string& key, uint64_t first, uint64_t length,
                   const std::function<bool(const char*, size_t)>& onData) override {
    ++calls["get"];
    reads.emplace_back(first, length);
    return inner_->get(key, first, length, onData);
  }
  Result<void> remove(const std::string& key) override {
    ++calls["remove"];
    return inner_->remove(key);
  }
  Result<std::string> beginParts(const std::string& key) override {
    ++calls["begin"];
    beganAt.push_back(key);
    return inner_->beginParts(key);
  }
  Result<std::string> sendPart(const std::string& key, const std::string& upload, int number,
                               int fd, uint64_t offset, uint64_t length) override {
    ++calls["part"];
    return inner_->sendPart(key, upload, number, fd, offset, length);
  }
  Result<void> completeParts(const std::string& key, const std::string& upload,
                             const std::vector<std::pair<int, std::string>>& parts) override {
    ++calls["complete"];
    return inner_->completeParts(key, upload, parts);
  }
  Result<void> abortParts(const std::string& key, const std::string& upload) override {
    ++calls["abort"];
    return inner_->abortParts(key, upload);
  }
  bool separateParts() const override { return inner_->separateParts(); }
  Result<void> copy(const std::string& from, const std::string& to, uint64_t size) override {
    ++calls["copy"];
    return inner_->copy(from, to, size);
  }
  Result<void> list(const std::string& prefix,
                    const std::function<bool(const object::ObjectInfo&)>& visit,
                    int pageSize) override {
    return inner_->list(prefix, visit, pageSize);
  }
  std::string readUrl(const std::string& key, int64_t seconds) const override {
    return inner_->readUrl(key, seconds);
  }

 private:
  std::unique_ptr<object::ObjectApi> inner_;
};

template <class Kind>
std::pair<BlobStorePtr, CountingApi*> countingStore(
    const std::string& prefix, const ObjectStoreOptions& options = testOptions()) {
  const auto url = Kind::url(prefix);
  auto api = std::make_unique<CountingApi>(Kind::client(url));
  auto* counting = api.get();
  auto store = ObjectBlobStore::open(url, std::move(api), options, false);
  EXPECT_TRUE(store) << store.error().detail;
  return {store ? std::move(*store) : nullptr, counting};
}

void appendLast(BlobStore& store, const std::string& id, std::string_view data,
                const Digest& digest) {
  auto w = store.appendLast(id, digest);
  ASSERT_TRUE(w) << w.error().detail;
  for (size_t at = 0; at < data.size(); at += 1 << 20) {
    const auto part = data.substr(at, 1 << 20);
    ASSERT_TRUE((*w)->write(part.data(), part.size()));
  }
  auto closed = (*w)->close();
  ASSERT_TRUE(closed) << closed.error().detail;
}

// A blob whose digest comes with its bytes is written where it belongs: one PUT when it fits a
// part; in parts completed at the blob's key on S3, whose multipart uploads to one key do not
// disturb each other; staged and copied on Azure, where another upload's block list would
// discard them. Nothing of the session is left.
TYPED_TEST(ObjectStore, ABlobWhoseDigestComesFirstGoesStraightToItsPlace) {
  const std::string prefix = "direct-" + newUuid();
  auto [store, api] = countingStore<TypeParam>(prefix);
  ASSERT_TRUE(store);
  const std::string small = pattern(100000, 'd');
  const auto id = newUuid();
  ASSERT_TRUE(store->createUpload(id));
  appendLast(*store, id, small, digestOf(small));
  ASSERT_TRUE(store->commitUpload(id, digestOf(small)));
  EXPECT_EQ(readAll(*store, digestOf(small)), small);
  EXPECT_EQ(api->calls["copy"], 0);
  EXPECT_EQ(api->calls["put"], 3);  // the state, the blob, the placed state

  api->calls.clear();
  const std::string large = pattern((12 << 20) + 5, 'D');
  const auto big = newUuid();
  ASSERT_TRUE(store->createUpload(big));
  appendLast(*store, big, large, digestOf(large));
  ASSERT_TRUE(store->commitUpload(big, digestOf(large)));
  EXPECT_EQ(readAll(*store, digestOf(large)), large);
  EXPECT_EQ(api->calls["part"], 3);
  ASSERT_EQ(api->beganAt.size(), 1u);
  if (!std::is_same_v<TypeParam, Azure>) {
    EXPECT_EQ(api->beganAt[0], prefix + "/blobs/sha256/" +
                                   std::string(digestOf(large).hex().substr(0, 2)) + "/" +
                                   std::string(digestOf(large).hex()));
    EXPECT_EQ(api->calls["copy"], 0);
  } else {
    EXPECT_EQ(api->beganAt[0], prefix + "/uploads/" + big + "/data");
    EXPECT_EQ(api->calls["copy"], 1);
  }
  auto client = TypeParam::client(TypeParam::url(prefix));
  ASSERT_TRUE(client->list(prefix + "/uploads/", [&](const object::ObjectInfo& o) {
    ADD_FAILURE() << "left behind: " << o.key;
    return true;
  }));
}

// Two nodes taking the same blob whole at once (S3: two multipart uploads to the same key, each
// completed on its own; Azure: staged) leave one whole blob.
TYPED_TEST(ObjectStore, ConcurrentWholeUploadsOfTheSameBlobLeaveOneWholeBlob) {
  auto store = openStore<TypeParam>("same-whole-" + newUuid());
  const std::string data = pattern((11 << 20) + 7, 'w');
  const auto d = digestOf(data);
  std::vector<std::thread> uploaders;
  std::atomic<int> committed{0};
  for (int i = 0; i < 3; ++i) {
    uploaders.emplace_back([&] {
      const auto id = newUuid();
      if (!store->createUpload(id)) return;
      auto w = store->appendLast(id, d);
      if (!w || !(*w)->write(data.data(), data.size()) || !(*w)->close()) return;
      w->reset();
      if (store->commitUpload(id, d)) ++committed;
    });
  }
  for (auto& t : uploaders) t.join();
  EXPECT_EQ(committed.load(), 3);
  EXPECT_EQ(readAll(*store, d), data);
}

// Bytes that do not match the digest their request named never become that blob: parts sent to
// its place are aborted, and the session is as it was.
TYPED_TEST(ObjectStore, ABlobThatDoesNotMatchItsDigestIsNotCompleted) {
  auto [store, api] = countingStore<TypeParam>("mismatch-" + newUuid());
  ASSERT_TRUE(store);
  const std::string data = pattern((11 << 20) + 1, 'm');
  const auto claimed = digestOf("something else");
  const auto id = newUuid();
  ASSERT_TRUE(store->createUpload(id));
  {
    auto w = store->appendLast(id, claimed);
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->write(data.data(), data.size()));
    auto closed = (*w)->close();
    if (!std::is_same_v<TypeParam, Azure>) {
      ASSERT_FALSE(closed);
      EXPECT_EQ(closed.error().code, ApiCode::DigestInvalid);
      EXPECT_EQ(api->calls["abort"], 1);
      EXPECT_EQ(api->calls["complete"], 0);
      EXPECT_EQ(*store->uploadSize(id), 0u);
    } else {
      ASSERT_TRUE(closed) << closed.error().detail;  // staged: verifyUpload refuses it
      EXPECT_EQ(*store->uploadSize(id), data.size());
    }
  }
  EXPECT_EQ(store->commitUpload(id, claimed).error().code, ApiCode::DigestInvalid);
  EXPECT_FALSE(*store->stat(claimed));
  EXPECT_FALSE(*store->stat(digestOf(data)));
  ASSERT_TRUE(store->cancelUpload(id));
}

TYPED_TEST(ObjectStore, ASessionGoesOnInAnotherProcessWithItsRunningHash) {
  const std::string prefix = "restart-" + newUuid();
  const std::string data = pattern((6 << 20) + 17, 'r');
  const auto id = newUuid();
  {
    auto first = openStore<TypeParam>(prefix);
    ASSERT_TRUE(first->createUpload(id));
    append(*first, id, std::string_view(data).substr(0, 4 << 20), 1 << 16);
  }  // the process that started the upload is gone
  auto second = openStore<TypeParam>(prefix);
  EXPECT_EQ(*second->uploadSize(id), 4u << 20);
  append(*second, id, std::string_view(data).substr(4 << 20), 1 << 16);
  auto info = second->commitUpload(id, digestOf(data));
  ASSERT_TRUE(info) << info.error().detail;
  EXPECT_EQ(readAll(*second, digestOf(data)), data);
}

TYPED_TEST(ObjectStore, ConcurrentCommitsOfTheSameBlobLeaveOneWholeBlob) {
  auto store = openStore<TypeParam>("same-" + newUuid());
  const std::string data = pattern((5 << 20) + 100, 's');
  const auto d = digestOf(data);
  std::vector<std::string> ids(4);
  for (auto& id : ids) {
    id = newUuid();
    ASSERT_TRUE(store->createUpload(id));
    append(*store, id, data, 1 << 20);
  }
  std::vector<std::thread> committers;
  std::atomic<int> committed{0};
  for (const auto& id : ids) {
    committers.emplace_back([&, id] {
      if (store->commitUpload(id, d)) ++committed;
    });
  }
  for (auto& t : committers) t.join();
  EXPECT_EQ(committed.load(), 4);
  EXPECT_EQ(readAll(*store, d), data);
  int blobs = 0;
  ASSERT_TRUE(store->forEachBlob([&](const StoredBlob& b) {
    ++blobs;
    EXPECT_EQ(b.digest, d.str());
    return true;
  }));
  EXPECT_EQ(blobs, 1);
}

TYPED_TEST(ObjectStore, AStoreThatGoesAwayFailsTheRequestAndKeepsTheSession) {
  // The store goes away behind a proxy that resets every connection, new and open, while the
  // emulator keeps what it holds (one started again may not have: Azurite lost a just-written
  // object that way under load).
  TcpProxy proxy(TypeParam::emulator().port());
  auto opened = storage::openStore(TypeParam::urlThrough(proxy.port(), "outage-" + newUuid()),
                                   storeOptions<TypeParam>(), true);
  ASSERT_TRUE(opened) << opened.error().detail;
  auto& store = *opened;
  const std::string data = pattern((5 << 20) + 10, 'o');
  const auto id = newUuid();
  ASSERT_TRUE(store->createUpload(id));
  append(*store, id, std::string_view(data).substr(0, 1 << 20), 1 << 16);
  proxy.cut();
  {
    auto w = store->appendUpload(id);
    EXPECT_FALSE(w);
    if (w) {
      EXPECT_FALSE((*w)->close());
    }
  }
  auto during = store->uploadSize(id);
  ASSERT_FALSE(during);
  EXPECT_EQ(during.error().status, 503) << during.error().detail;
  proxy.restore();
  // Back: the session holds what it held before the outage, and goes on.
  auto size = store->uploadSize(id);
  ASSERT_TRUE(size) << size.error().detail;
  EXPECT_EQ(*size, 1u << 20);
  append(*store, id, std::string_view(data).substr(1 << 20), 1 << 16);
  ASSERT_TRUE(store->commitUpload(id, digestOf(data)));
  EXPECT_EQ(readAll(*store, digestOf(data)), data);
}

TYPED_TEST(ObjectStore, CancelledAndExpiredSessionsLeaveNothing) {
  const std::string prefix = "cancel-" + newUuid();
  auto store = openStore<TypeParam>(prefix);
  const auto id = newUuid();
  ASSERT_TRUE(store->createUpload(id));
  append(*store, id, pattern((5 << 20) + 1, 'c'), 1 << 20);
  // Expiry finds it (nobody wrote to it since a minute from now) and cancels it: its
  // multipart upload is aborted and its objects deleted.
  auto stale = store->staleUploads(std::time(nullptr) + 60, 10);
  ASSERT_TRUE(stale);
  EXPECT_EQ(*stale, std::vector<std::string>{id});
  ASSERT_TRUE(store->cancelUpload(id));
  EXPECT_EQ(store->uploadSize(id).error().code, ApiCode::BlobUploadUnknown);
  auto client = TypeParam::client(TypeParam::url(prefix));
  int left = 0;
  ASSERT_TRUE(client->list(prefix + "/uploads/", [&](const object::ObjectInfo& o) {
    ADD_FAILURE() << "left behind: " << o.key;
    ++left;
    return true;
  }));
  EXPECT_EQ(left, 0);
}

TYPED_TEST(ObjectStore, ABlobOpenedWithItsSizeIsReadWithoutAskingAndALostOneIsUnknown) {
  auto [store, api] = countingStore<TypeParam>("sized-" + newUuid());
  ASSERT_TRUE(store);
  const std::string data = pattern(300'000, 's');
  const auto id = newUuid();
  ASSERT_TRUE(store->createUpload(id));
  append(*store, id, data, 65536);
  ASSERT_TRUE(store->commitUpload(id, digestOf(data)));
  api->calls.clear();
  api->reads.clear();
  auto reader = store->openSized(digestOf(data), data.size());
  ASSERT_TRUE(reader) << reader.error().detail;
  EXPECT_TRUE(api->calls.empty()) << "opening with a known size asked the store";
  // read(first, length): the bytes the reader hands over.
  const auto read = [&](uint64_t first, uint64_t length) {
    std::string out;
    EXPECT_TRUE(readBlob(*reader, first, length, [&](const char* bytes, size_t size) {
      out.append(bytes, size);
      return true;
    }));
    return out;
  };
  EXPECT_EQ(read(1000, 200'000), data.substr(1000, 200'000));
  EXPECT_EQ(read(0, data.size()), data);
  EXPECT_EQ(read(299'000, 1000), data.substr(299'000));
  // A read to the end asks for no end: from 0 it is a GET without a range.
  const std::vector<std::pair<uint64_t, uint64_t>> asked{
      {1000, 200'000}, {0, object::ObjectApi::kToEnd}, {299'000, object::ObjectApi::kToEnd}};
  EXPECT_EQ(api->reads, asked);

  ASSERT_TRUE(store->remove(digestOf(data)));
  // Opening asks nothing, so it succeeds; the first read finds the blob gone.
  auto lost = store->openSized(digestOf(data), data.size());
  ASSERT_TRUE(lost) << lost.error().detail;
  bool delivered = false;
  auto gone = readBlob(*lost, 0, data.size(), [&](const char*, size_t) {
    delivered = true;
    return true;
  });
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ApiCode::BlobUnknown);
  EXPECT_FALSE(delivered) << "the store's error body reached the reader";
  EXPECT_EQ(store->open(digestOf(data)).error().code, ApiCode::BlobUnknown);
}

// A whole read leaves a copy on the node's disk: read again, the blob is a local file and the
// store is not asked. Ranges and reads cut short leave none; a removed blob's copy goes too.
TYPED_TEST(ObjectStore, AWholeReadLeavesACopyThatIsReadAgainWithoutTheStore) {
  const auto cacheDir = std::filesystem::temp_directory_path() / ("berth-cache-" + newUuid());
  auto options = testOptions();
  auto cache = BlobCache::open(cacheDir, 64 << 20);
  ASSERT_TRUE(cache);
  options.cache = *cache;
  auto [store, api] = countingStore<TypeParam>("cached-" + newUuid(), options);
  ASSERT_TRUE(store);
  const std::string data = pattern(1'000'000, 'c');
  const auto digest = digestOf(data);
  const auto id = newUuid();
  ASSERT_TRUE(store->createUpload(id));
  append(*store, id, data, 65536);
  ASSERT_TRUE(store->commitUpload(id, digest));
  const auto read = [&](uint64_t first, uint64_t length, uint64_t stopAfter = UINT64_MAX) {
    auto reader = store->openSized(digest, data.size());
    EXPECT_TRUE(reader);
    std::string out;
    (void)readBlob(*reader, first, length, [&](const char* bytes, size_t size) {
      out.append(bytes, size);
      return out.size() < stopAfter;
    });
    return std::make_pair(out, reader->fd != nullptr);
  };
  EXPECT_EQ(read(10, 1000), std::make_pair(data.substr(10, 1000), false));
  EXPECT_EQ(read(0, data.size(), 1).second, false);  // a client gone after the first piece
  EXPECT_EQ((*cache)->bytes(), 0u);
  api->reads.clear();
  EXPECT_EQ(read(0, data.size()), std::make_pair(data, false));
  EXPECT_EQ((*cache)->bytes(), data.size());
  EXPECT_EQ(read(0, data.size()), std::make_pair(data, true));
  EXPECT_EQ(read(500, 1000), std::make_pair(data.substr(500, 1000), true));
  EXPECT_EQ(api->reads.size(), 1u) << "the copy was not read instead of the store";

  ASSERT_TRUE(store->remove(digest));
  EXPECT_EQ((*cache)->bytes(), 0u);
  EXPECT_FALSE(store->openSized(digest, data.size())->fd);
  std::filesystem::remove_all(cacheDir);
}

TYPED_TEST(ObjectStore, RedirectsAreUrlsThatReadTheBlob) {
  auto store = openStore<TypeParam>("redirect-" + newUuid(), true);
  const std::string data = "bytes served by the store itself";
  const auto id = newUuid();
  ASSERT_TRUE(store->createUpload(id));
  append(*store, id, data, 7);
  ASSERT_TRUE(store->commitUpload(id, digestOf(data)));
  const auto there = store->readUrl(digestOf(data));
  ASSERT_FALSE(there.empty());
  EXPECT_TRUE(openStore<TypeParam>("plain-" + newUuid())->readUrl(digestOf(data)).empty());
  object::HttpClient http;
  object::HttpRequest get;
  get.url = there;
  auto r = http.perform(get);
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, data);
}

TYPED_TEST(ObjectStore, BadStoresAreRefusedAtOpenInOneLine) {
  auto missing = storage::openStore(TypeParam::missing(), storeOptions<TypeParam>(), true);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().detail.find(TypeParam::kMissing), std::string::npos)
      << missing.error().detail;
  EXPECT_EQ(missing.error().detail.find('\n'), std::string::npos);
  // Neither configured nor in the environment.
  TypeParam::forgetCredentials();
  auto anonymous =
      storage::openStore(TypeParam::url("x"), storeOptions<TypeParam>(StoreCredentials{}), true);
  ASSERT_FALSE(anonymous);
  EXPECT_NE(anonymous.error().detail.find(TypeParam::kCredentialVariable), std::string::npos)
      << anonymous.error().detail;
}

// Azure with a SAS token instead of the key: the whole life of a blob works with it; a wrong key
// is refused by the store (Azurite checks Shared Key signatures) and named in the error.
TEST(AzureStore, ASasTokenIsEnoughAndAWrongKeyIsRefused) {
  const std::time_t now = std::time(nullptr);
  auto sas = sharedkey::serviceSas(Emulator::kAzureAccount, Emulator::kAzureKey, Azure::kContainer,
                                   "", "racwdl", now - 300, now + 3600);
  ASSERT_TRUE(sas);
  StoreCredentials credentials;
  credentials.azureSasToken = *sas;
  Azure::forgetCredentials();
  auto store =
      storage::openStore(Azure::url("sas-" + newUuid()), storeOptions<Azure>(credentials), true);
  ASSERT_TRUE(store) << store.error().detail;
  const std::string data = pattern((5 << 20) + 5, 'z');
  const auto id = newUuid();
  ASSERT_TRUE((*store)->createUpload(id));
  append(**store, id, data, 1 << 20);
  ASSERT_TRUE((*store)->commitUpload(id, digestOf(data)));
  EXPECT_EQ(readAll(**store, digestOf(data)), data);

  StoreCredentials wrong;
  wrong.azureStorageKey = "d3Jvbmcga2V5IGZvciB0aGUgYWNjb3VudA==";
  auto refused = storage::openStore(Azure::url("x"), storeOptions<Azure>(wrong), true);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().detail.find("HTTP 403"), std::string::npos) << refused.error().detail;
  EXPECT_NE(refused.error().detail.find("AZURE_STORAGE_KEY"), std::string::npos);
}

}  // namespace
}  // namespace berth::storage
