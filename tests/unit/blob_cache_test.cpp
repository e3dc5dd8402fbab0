// The node's cache of blobs read from object stores: a copy only of a whole, verified read,
// bounded in bytes (least recently read out first), found again after a restart, and never
// in the way of serving when it cannot write.
#include "storage/blob_cache.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/digest.hpp"

namespace berth::storage {
namespace {
namespace fs = std::filesystem;

class BlobCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("berth-cache-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::shared_ptr<BlobCache> open(uint64_t maxBytes) {
    auto cache = BlobCache::open(dir_, maxBytes);
    EXPECT_TRUE(cache.ok());
    return cache.ok() ? *cache : nullptr;
  }
  // A blob of `size` bytes of `fill`, and its digest.
  static std::pair<std::string, Digest> blob(size_t size, char fill) {
    std::string bytes(size, fill);
    return {bytes, *Digest::parse(sha256Digest(bytes))};
  }
  // Copies `bytes` through a fill, in two pieces; whether a copy was begun.
  static bool copy(BlobCache& cache, const Digest& digest, const std::string& bytes) {
    auto fill = cache.fill(digest, bytes.size());
    if (!fill) return false;
    const size_t half = bytes.size() / 2;
    EXPECT_TRUE(fill->add(bytes.data(), half));
    EXPECT_TRUE(fill->add(bytes.data() + half, bytes.size() - half));
    fill->finish();
    return true;
  }
  static std::string contents(const UniqueFd& fd) {
    std::string out;
    char buffer[4096];
    for (off_t at = 0;;) {
      const ssize_t n = ::pread(fd.get(), buffer, sizeof buffer, at);
      if (n <= 0) return out;
      out.append(buffer, static_cast<size_t>(n));
      at += n;
    }
  }
  size_t partials() const {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_ / "partial")) ++n;
    return n;
  }

  fs::path dir_;
};

TEST_F(BlobCacheTest, AWholeVerifiedReadIsFoundAgainAndAfterARestart) {
  auto cache = open(1 << 20);
  const auto [bytes, digest] = blob(10'000, 'a');
  EXPECT_EQ(cache->find(digest, bytes.size()), nullptr);
  ASSERT_TRUE(copy(*cache, digest, bytes));
  auto fd = cache->find(digest, bytes.size());
  ASSERT_NE(fd, nullptr);
  EXPECT_EQ(contents(*fd), bytes);
  EXPECT_EQ(cache->bytes(), bytes.size());
  EXPECT_EQ(cache->find(digest, bytes.size() + 1), nullptr) << "another size is another blob";
  EXPECT_EQ(cache->fill(digest, bytes.size()), nullptr) << "copied already";
  EXPECT_EQ(partials(), 0u);

  cache.reset();
  auto again = open(1 << 20);
  auto found = again->find(digest, bytes.size());
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(contents(*found), bytes);
  EXPECT_EQ(again->bytes(), bytes.size());
}

TEST_F(BlobCacheTest, PartialWrongAndOversizedReadsLeaveNoCopy) {
  auto cache = open(1 << 20);
  const auto [bytes, digest] = blob(10'000, 'b');
  {
    auto fill = cache->fill(digest, bytes.size());
    ASSERT_NE(fill, nullptr);
    EXPECT_EQ(cache->fill(digest, bytes.size()), nullptr) << "one copy at a time";
    EXPECT_TRUE(fill->add(bytes.data(), 5'000));
    fill->finish();  // the client went away halfway
  }
  EXPECT_EQ(cache->find(digest, bytes.size()), nullptr);
  {
    auto fill = cache->fill(digest, bytes.size());
    ASSERT_NE(fill, nullptr);
    const std::string other(bytes.size(), 'c');
    EXPECT_TRUE(fill->add(other.data(), other.size()));
    fill->finish();  // the store's bytes are not the digest's
  }
  EXPECT_EQ(cache->find(digest, bytes.size()), nullptr);
  {
    auto fill = cache->fill(digest, bytes.size());
    ASSERT_NE(fill, nullptr);
    EXPECT_FALSE(fill->add(std::string(bytes.size() + 1, 'b').data(), bytes.size() + 1));
    // abandoned without finish()
  }
  EXPECT_EQ(cache->find(digest, bytes.size()), nullptr);
  const auto [large, largeDigest] = blob((1 << 20) / 4 + 1, 'd');
  EXPECT_EQ(cache->fill(largeDigest, large.size()), nullptr) << "over a quarter of the cache";
  EXPECT_EQ(cache->bytes(), 0u);
  EXPECT_EQ(partials(), 0u);
  EXPECT_TRUE(copy(*cache, digest, bytes)) << "a failed copy does not stop the next";
  EXPECT_NE(cache->find(digest, bytes.size()), nullptr);
}

TEST_F(BlobCacheTest, TheLeastRecentlyReadGoOutFirstAndErasedCopiesAreGone) {
  auto cache = open(100'000);
  std::vector<std::pair<std::string, Digest>> blobs;
  for (char c : {'e', 'f', 'g', 'h'}) blobs.push_back(blob(25'000, c));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(copy(*cache, blobs[i].second, blobs[i].first));
  // Read the oldest again: the second is now the least recently read.
  ASSERT_NE(cache->find(blobs[0].second, 25'000), nullptr);
  ASSERT_TRUE(copy(*cache, blobs[3].second, blobs[3].first));
  EXPECT_EQ(cache->bytes(), 100'000u);
  ASSERT_TRUE(copy(*cache, blob(25'000, 'i').second, blob(25'000, 'i').first));
  EXPECT_EQ(cache->bytes(), 100'000u);
  EXPECT_NE(cache->find(blobs[0].second, 25'000), nullptr);
  EXPECT_EQ(cache->find(blobs[1].second, 25'000), nullptr);
  EXPECT_NE(cache->find(blobs[2].second, 25'000), nullptr);
  EXPECT_NE(cache->find(blobs[3].second, 25'000), nullptr);
  const std::string hex(blobs[1].second.hex());
  EXPECT_FALSE(fs::exists(dir_ / "sha256" / hex)) << "an evicted copy's file is removed";

  cache->erase(blobs[2].second);
  EXPECT_EQ(cache->find(blobs[2].second, 25'000), nullptr);
  EXPECT_FALSE(fs::exists(dir_ / "sha256" / std::string(blobs[2].second.hex())));
  EXPECT_EQ(cache->bytes(), 75'000u);

  // A copy removed behind the cache's back is forgotten, not served.
  fs::remove(dir_ / "sha256" / std::string(blobs[3].second.hex()));
  EXPECT_EQ(cache->find(blobs[3].second, 25'000), nullptr);
  EXPECT_EQ(cache->bytes(), 50'000u);

  // A smaller bound after a restart evicts the oldest copies at once.
  cache.reset();
  auto smaller = open(30'000);
  EXPECT_EQ(smaller->bytes(), 25'000u);
}

TEST_F(BlobCacheTest, LeftoversAreClearedAndACacheThatCannotWriteServesNothing) {
  fs::create_directories(dir_ / "partial");
  std::ofstream(dir_ / "partial" / "left-by-a-crash") << "half a blob";
  fs::create_directories(dir_ / "sha256");
  std::ofstream(dir_ / "sha256" / "not-a-digest") << "x";
  auto cache = open(1 << 20);
  EXPECT_EQ(partials(), 0u);
  EXPECT_FALSE(fs::exists(dir_ / "sha256" / "not-a-digest"));
  EXPECT_EQ(cache->bytes(), 0u);

  // The copies' directory replaced by a file: no copy can be begun, and nothing fails.
  fs::remove_all(dir_ / "partial");
  std::ofstream(dir_ / "partial") << "in the way";
  const auto [bytes, digest] = blob(1'000, 'j');
  EXPECT_EQ(cache->fill(digest, bytes.size()), nullptr);
  EXPECT_EQ(cache->find(digest, bytes.size()), nullptr);
  fs::remove(dir_ / "partial");
  fs::create_directories(dir_ / "partial");
  EXPECT_TRUE(copy(*cache, digest, bytes)) << "and once it can write again, it copies";

  // A file system without room beyond what must stay free: no copy either.
  auto full = BlobCache::open(dir_, 1 << 20, UINT64_MAX / 2);
  ASSERT_TRUE(full.ok());
  EXPECT_EQ((*full)->fill(blob(1'000, 'k').second, 1'000), nullptr);
}

}  // namespace
}  // namespace berth::storage
