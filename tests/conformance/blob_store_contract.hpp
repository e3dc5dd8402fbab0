// The BlobStore contract, typed over every driver: each test binary instantiates it with the
// factories of the drivers it can reach (the filesystem in the unit tests, the object stores
// with their emulators in the storage tests). A factory has make() and kPlacesOnVerify, and may
// have unavailable(): why its store cannot run here ("" when it can; the tests skip then).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <ctime>
#include <set>

#include "core/random.hpp"
#include "storage/blob_store.hpp"

namespace berth::storage {

// ASSERT_TRUE(Succeeded(result)) names the store's error when there is one.
template <class T>
::testing::AssertionResult Succeeded(const Result<T>& result) {
  if (result) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "error: " << result.error().detail;
}

template <class Factory>
class BlobStoreConformance : public ::testing::Test {
 protected:
  Factory factory;
  BlobStorePtr store;

  void SetUp() override {
    if constexpr (requires { Factory::unavailable(); }) {
      if (const auto why = Factory::unavailable(); !why.empty()) GTEST_SKIP() << why;
    }
    store = factory.make();
    ASSERT_TRUE(store);
  }

  Digest digestOf(std::string_view data) { return *Digest::parse(sha256Digest(data)); }

  std::string readAll(const Digest& d) {
    auto reader = store->open(d);
    EXPECT_TRUE(reader) << reader.error().detail;
    if (!reader) return "";
    std::string out;
    auto read = readBlob(*reader, 0, reader->size, [&](const char* data, size_t size) {
      out.append(data, size);
      return true;
    });
    EXPECT_TRUE(read) << read.error().detail;
    EXPECT_EQ(out.size(), reader->size);
    return out;
  }

  void append(const std::string& id, std::string_view data) {
    auto w = store->appendUpload(id);
    ASSERT_TRUE(Succeeded(w));
    ASSERT_TRUE(Succeeded((*w)->write(data.data(), data.size())));
    ASSERT_TRUE(Succeeded((*w)->close()));
  }
};

TYPED_TEST_SUITE_P(BlobStoreConformance);

TYPED_TEST_P(BlobStoreConformance, ChunkedUploadCommitsUnderItsDigest) {
  const auto id = newUuid();
  ASSERT_TRUE(this->store->createUpload(id));
  this->append(id, "hello ");
  this->append(id, "world");
  EXPECT_EQ(*this->store->uploadSize(id), 11u);
  const auto d = this->digestOf("hello world");
  auto info = this->store->commitUpload(id, d);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->size, 11u);
  EXPECT_EQ(this->readAll(d), "hello world");
  EXPECT_EQ(**this->store->stat(d), 11u);
  // The session is gone once committed.
  EXPECT_EQ(this->store->uploadSize(id).error().code, ApiCode::BlobUploadUnknown);
}

TYPED_TEST_P(BlobStoreConformance, WrongDigestIsRefusedAndNothingIsStored) {
  const auto id = newUuid();
  ASSERT_TRUE(this->store->createUpload(id));
  this->append(id, "abc");
  const auto wrong = this->digestOf("abd");
  auto info = this->store->commitUpload(id, wrong);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, ApiCode::DigestInvalid);
  EXPECT_FALSE(*this->store->stat(wrong));
  // The session still holds its bytes and commits under the right digest, re-hashing them.
  auto right = this->store->commitUpload(id, this->digestOf("abc"));
  ASSERT_TRUE(right);
  EXPECT_EQ(this->readAll(this->digestOf("abc")), "abc");
}

TYPED_TEST_P(BlobStoreConformance, ALastAppendNamingTheDigestCommits) {
  // The whole blob in the request that names it (a store may write it in place at once)...
  const auto whole = newUuid();
  ASSERT_TRUE(this->store->createUpload(whole));
  const auto d = this->digestOf("in one request");
  {
    auto w = this->store->appendLast(whole, d);
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->write("in one ", 7));
    ASSERT_TRUE((*w)->write("request", 7));
    ASSERT_TRUE((*w)->close());
    EXPECT_EQ((*w)->size(), 14u);
  }
  auto info = this->store->commitUpload(whole, d);
  ASSERT_TRUE(info) << info.error().detail;
  EXPECT_EQ(info->size, 14u);
  EXPECT_EQ(this->readAll(d), "in one request");
  EXPECT_EQ(this->store->uploadSize(whole).error().code, ApiCode::BlobUploadUnknown);
  // ...or its end after earlier appends; and an empty blob.
  const auto after = newUuid();
  ASSERT_TRUE(this->store->createUpload(after));
  this->append(after, "first, ");
  const auto both = this->digestOf("first, then last");
  {
    auto w = this->store->appendLast(after, both);
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->write("then last", 9));
    ASSERT_TRUE((*w)->close());
  }
  ASSERT_TRUE(Succeeded(this->store->commitUpload(after, both)));
  EXPECT_EQ(this->readAll(both), "first, then last");
  const auto empty = newUuid();
  ASSERT_TRUE(this->store->createUpload(empty));
  const auto none = this->digestOf("");
  {
    auto w = this->store->appendLast(empty, none);
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->close());
  }
  ASSERT_TRUE(Succeeded(this->store->commitUpload(empty, none)));
  EXPECT_EQ(**this->store->stat(none), 0u);
}

TYPED_TEST_P(BlobStoreConformance, ALastAppendWithTheWrongDigestStoresNothing) {
  const auto id = newUuid();
  ASSERT_TRUE(this->store->createUpload(id));
  const auto wrong = this->digestOf("what the client claims");
  {
    auto w = this->store->appendLast(id, wrong);
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->write("what it sends", 13));
    // Refused here or by verifyUpload, never stored.
    auto closed = (*w)->close();
    if (!closed) {
      EXPECT_EQ(closed.error().code, ApiCode::DigestInvalid);
    }
  }
  auto info = this->store->commitUpload(id, wrong);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, ApiCode::DigestInvalid);
  EXPECT_FALSE(*this->store->stat(wrong));
  EXPECT_TRUE(this->store->cancelUpload(id));
}

TYPED_TEST_P(BlobStoreConformance, Sha512DigestsAreVerified) {
  const auto id = newUuid();
  ASSERT_TRUE(this->store->createUpload(id));
  this->append(id, "abc");
  Hasher h(Hasher::Algorithm::Sha512);
  h.update("abc");
  auto d = *Digest::parse(h.finish());
  ASSERT_TRUE(Succeeded(this->store->commitUpload(id, d)));
  EXPECT_EQ(this->readAll(d), "abc");
}

TYPED_TEST_P(BlobStoreConformance, OneWriterPerSession) {
  const auto id = newUuid();
  ASSERT_TRUE(this->store->createUpload(id));
  auto first = this->store->appendUpload(id);
  ASSERT_TRUE(first);
  auto second = this->store->appendUpload(id);
  ASSERT_FALSE(second);
  first->reset();
  EXPECT_TRUE(this->store->appendUpload(id));
}

TYPED_TEST_P(BlobStoreConformance, SameContentTwiceIsStoredOnce) {
  const auto d = this->digestOf("same");
  for (int i = 0; i < 2; ++i) {
    const auto id = newUuid();
    ASSERT_TRUE(this->store->createUpload(id));
    this->append(id, "same");
    ASSERT_TRUE(Succeeded(this->store->commitUpload(id, d)));
  }
  EXPECT_EQ(this->readAll(d), "same");
}

TYPED_TEST_P(BlobStoreConformance, CancelRemovesTheSession) {
  const auto id = newUuid();
  ASSERT_TRUE(this->store->createUpload(id));
  ASSERT_TRUE(this->store->cancelUpload(id));
  EXPECT_EQ(this->store->appendUpload(id).error().code, ApiCode::BlobUploadUnknown);
  EXPECT_EQ(this->store->cancelUpload(id).error().code, ApiCode::BlobUploadUnknown);
}

TYPED_TEST_P(BlobStoreConformance, SessionIdsThatAreNotUuidsNeverTouchTheDisk) {
  for (const char* bad : {"../../etc/passwd", "", "x", "/tmp/a"}) {
    EXPECT_EQ(this->store->createUpload(bad).error().code, ApiCode::BlobUploadUnknown) << bad;
    EXPECT_EQ(this->store->appendUpload(bad).error().code, ApiCode::BlobUploadUnknown) << bad;
  }
}

TYPED_TEST_P(BlobStoreConformance, MissingBlobsAreUnknown) {
  const auto d = this->digestOf("never stored");
  EXPECT_FALSE(*this->store->stat(d));
  EXPECT_EQ(this->store->open(d).error().code, ApiCode::BlobUnknown);
  EXPECT_TRUE(this->store->remove(d));
}

TYPED_TEST_P(BlobStoreConformance, AVerifiedUploadBecomesTheBlobOnlyWhenPlaced) {
  const auto id = newUuid();
  ASSERT_TRUE(this->store->createUpload(id));
  this->append(id, "placed");
  const auto d = this->digestOf("placed");
  auto info = this->store->verifyUpload(id, d);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->size, 6u);
  // Object stores put the bytes in place when verifying (ADR 8); the filesystem waits.
  if (!TypeParam::kPlacesOnVerify) {
    EXPECT_FALSE(*this->store->stat(d));
  }
  EXPECT_EQ(*this->store->uploadSize(id), 6u);
  ASSERT_TRUE(Succeeded(this->store->placeUpload(id, d)));
  EXPECT_EQ(this->readAll(d), "placed");
  EXPECT_EQ(this->store->uploadSize(id).error().code, ApiCode::BlobUploadUnknown);
  EXPECT_EQ(this->store->placeUpload(id, d).error().code, ApiCode::BlobUploadUnknown);
  // Placed again over the same blob (another session with the same bytes): the blob stays.
  const auto again = newUuid();
  ASSERT_TRUE(this->store->createUpload(again));
  this->append(again, "placed");
  ASSERT_TRUE(Succeeded(this->store->verifyUpload(again, d)));
  ASSERT_TRUE(Succeeded(this->store->placeUpload(again, d)));
  EXPECT_EQ(this->readAll(d), "placed");
}

TYPED_TEST_P(BlobStoreConformance, StaleUploadsAreThoseNobodyWroteToSince) {
  const auto id = newUuid();
  ASSERT_TRUE(this->store->createUpload(id));
  this->append(id, "x");
  const int64_t now = std::time(nullptr);
  EXPECT_TRUE(this->store->staleUploads(now - 60, 10)->empty());
  EXPECT_EQ(*this->store->staleUploads(now + 60, 10), std::vector<std::string>{id});
  // A session being written to is never stale.
  auto writer = this->store->appendUpload(id);
  ASSERT_TRUE(writer);
  EXPECT_TRUE(this->store->staleUploads(now + 60, 10)->empty());
  writer->reset();
  EXPECT_EQ(this->store->staleUploads(now + 60, 0)->size(), 0u);
}

TYPED_TEST_P(BlobStoreConformance, EveryStoredBlobIsVisited) {
  std::set<std::string> stored;
  for (const char* content : {"one", "two", "three"}) {
    const auto id = newUuid();
    ASSERT_TRUE(this->store->createUpload(id));
    this->append(id, content);
    ASSERT_TRUE(Succeeded(this->store->commitUpload(id, this->digestOf(content))));
    stored.insert(this->digestOf(content).str());
  }
  std::set<std::string> visited;
  ASSERT_TRUE(this->store->forEachBlob([&](const StoredBlob& blob) {
    visited.insert(blob.digest);
    EXPECT_GE(blob.size, 3u);
    EXPECT_GT(blob.modified, 0);
    return true;
  }));
  EXPECT_EQ(visited, stored);
  int calls = 0;
  ASSERT_TRUE(this->store->forEachBlob([&](const StoredBlob&) { return ++calls < 2; }));
  EXPECT_EQ(calls, 2);
}

REGISTER_TYPED_TEST_SUITE_P(BlobStoreConformance, ChunkedUploadCommitsUnderItsDigest,
                            WrongDigestIsRefusedAndNothingIsStored,
                            ALastAppendNamingTheDigestCommits,
                            ALastAppendWithTheWrongDigestStoresNothing, Sha512DigestsAreVerified,
                            OneWriterPerSession, SameContentTwiceIsStoredOnce,
                            CancelRemovesTheSession, SessionIdsThatAreNotUuidsNeverTouchTheDisk,
                            MissingBlobsAreUnknown, AVerifiedUploadBecomesTheBlobOnlyWhenPlaced,
                            StaleUploadsAreThoseNobodyWroteToSince, EveryStoredBlobIsVisited);

}  // namespace berth::storage
