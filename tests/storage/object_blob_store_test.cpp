// The S3 driver: the BlobStore contract on s3rver, and what object storage adds to it: parts
// and their boundaries, a session that outlives its process, concurrent commits of the same
// blob, a store that goes away mid-upload, redirects.
#include <gtest/gtest.h>

#include <thread>

#include "../conformance/blob_store_contract.hpp"
#include "emulators.hpp"
#include "storage/object/s3_client.hpp"
#include "storage/open_store.hpp"

namespace berth::storage {
namespace {

using berth_test::Emulator;

Emulator& s3rver() {
  static Emulator emulator(Emulator::Kind::S3);
  return emulator;
}

ObjectStoreOptions testOptions() {
  ObjectStoreOptions options;
  options.partSize = 5 << 20;  // the smallest S3 allows, so that tests cross parts cheaply
  options.http.backoff = std::chrono::milliseconds(5);
  options.http.connectTimeout = std::chrono::seconds(2);
  return options;
}

StoreUrl testUrl(const std::string& prefix, bool redirect = false) {
  auto url = parseStoreUrl("s3://" + std::string(Emulator::kS3Bucket) + "/" + prefix +
                           "?endpoint=" + s3rver().endpoint() + "&path_style=true" +
                           (redirect ? "&redirect=true" : ""));
  EXPECT_TRUE(url) << url.error().detail;
  return *url;
}

const sigv4::Credentials kCredentials{Emulator::kS3AccessKey, Emulator::kS3SecretKey, ""};

StoreOptions storeOptions(const sigv4::Credentials& credentials = kCredentials) {
  StoreOptions options;
  options.credentials.awsAccessKeyId = credentials.accessKey;
  options.credentials.awsSecretAccessKey = credentials.secretKey;
  options.objects = testOptions();
  return options;
}

BlobStorePtr openStore(const std::string& prefix, bool redirect = false) {
  auto store = storage::openStore(testUrl(prefix, redirect), storeOptions(), true);
  EXPECT_TRUE(store) << store.error().detail;
  return store ? std::move(*store) : nullptr;
}

struct S3Factory {
  static constexpr bool kPlacesOnVerify = true;
  std::string prefix = "conformance-" + newUuid();
  BlobStorePtr make() { return openStore(prefix); }
};

using Drivers = ::testing::Types<S3Factory>;
INSTANTIATE_TYPED_TEST_SUITE_P(S3, BlobStoreConformance, Drivers);

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

TEST(S3Store, UploadsAcrossPartBoundariesInOddPieces) {
  auto store = openStore("parts-" + newUuid());
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

TEST(S3Store, ASessionGoesOnInAnotherProcessWithItsRunningHash) {
  const std::string prefix = "restart-" + newUuid();
  const std::string data = pattern((6 << 20) + 17, 'r');
  const auto id = newUuid();
  {
    auto first = openStore(prefix);
    ASSERT_TRUE(first->createUpload(id));
    append(*first, id, std::string_view(data).substr(0, 4 << 20), 1 << 16);
  }  // the process that started the upload is gone
  auto second = openStore(prefix);
  EXPECT_EQ(*second->uploadSize(id), 4u << 20);
  append(*second, id, std::string_view(data).substr(4 << 20), 1 << 16);
  auto info = second->commitUpload(id, digestOf(data));
  ASSERT_TRUE(info) << info.error().detail;
  EXPECT_EQ(readAll(*second, digestOf(data)), data);
}

TEST(S3Store, ConcurrentCommitsOfTheSameBlobLeaveOneWholeBlob) {
  auto store = openStore("same-" + newUuid());
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

TEST(S3Store, AStoreThatGoesAwayFailsTheRequestAndKeepsTheSession) {
  auto store = openStore("outage-" + newUuid());
  const std::string data = pattern((5 << 20) + 10, 'o');
  const auto id = newUuid();
  ASSERT_TRUE(store->createUpload(id));
  append(*store, id, std::string_view(data).substr(0, 1 << 20), 1 << 16);
  s3rver().stop();
  {
    auto w = store->appendUpload(id);
    EXPECT_FALSE(w);
    if (w) {
      EXPECT_FALSE((*w)->close());
    }
  }
  EXPECT_EQ(store->uploadSize(id).error().status, 503);
  s3rver().start();
  // Back: the session holds what it held before the outage, and goes on.
  EXPECT_EQ(*store->uploadSize(id), 1u << 20);
  append(*store, id, std::string_view(data).substr(1 << 20), 1 << 16);
  ASSERT_TRUE(store->commitUpload(id, digestOf(data)));
  EXPECT_EQ(readAll(*store, digestOf(data)), data);
}

TEST(S3Store, CancelledAndExpiredSessionsLeaveNothing) {
  const std::string prefix = "cancel-" + newUuid();
  auto store = openStore(prefix);
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
  object::HttpOptions http;
  object::S3Client s3(testUrl(prefix), kCredentials, http);
  int left = 0;
  ASSERT_TRUE(s3.list(prefix + "/uploads/", [&](const object::ObjectInfo& o) {
    ADD_FAILURE() << "left behind: " << o.key;
    ++left;
    return true;
  }));
  EXPECT_EQ(left, 0);
}

TEST(S3Store, RedirectsAreUrlsThatReadTheBlob) {
  auto store = openStore("redirect-" + newUuid(), true);
  const std::string data = "bytes served by the store itself";
  const auto id = newUuid();
  ASSERT_TRUE(store->createUpload(id));
  append(*store, id, data, 7);
  ASSERT_TRUE(store->commitUpload(id, digestOf(data)));
  auto reader = store->open(digestOf(data));
  ASSERT_TRUE(reader);
  ASSERT_FALSE(reader->redirect.empty());
  object::HttpClient http;
  object::HttpRequest get;
  get.url = reader->redirect;
  auto r = http.perform(get);
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, data);
}

TEST(S3Store, BadStoresAreRefusedAtOpenInOneLine) {
  auto missing = storage::openStore(
      *parseStoreUrl("s3://no-such-bucket?endpoint=" + s3rver().endpoint() + "&path_style=true"),
      storeOptions(), true);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().detail.find("NoSuchBucket"), std::string::npos)
      << missing.error().detail;
  EXPECT_EQ(missing.error().detail.find('\n'), std::string::npos);
  // Neither configured nor in the environment.
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  auto anonymous = storage::openStore(testUrl("x"), storeOptions({"", "", ""}), true);
  ASSERT_FALSE(anonymous);
  EXPECT_NE(anonymous.error().detail.find("AWS_ACCESS_KEY_ID"), std::string::npos);
}

}  // namespace
}  // namespace berth::storage
