// Uploads hashed by the pool beside the writer (storage/fs/hash_pool.hpp): the digest at commit
// is the content's, whatever the pool had reached, across requests, after a restart, and with
// the pool turned off again.
#include "storage/fs/hash_pool.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <thread>

#include "core/random.hpp"
#include "storage/fs/fs_blob_store.hpp"

namespace berth::storage {
namespace {

namespace fs = std::filesystem;

class HashPoolTest : public ::testing::TestWithParam<unsigned> {
 protected:
  fs::path dir = fs::temp_directory_path() / ("berth-hash-pool-" + newUuid());
  BlobStorePtr store;

  void SetUp() override {
    HashPool::configure(GetParam());
    store = *FsBlobStore::open(dir);
  }
  void TearDown() override {
    store.reset();
    HashPool::configure(0);
    fs::remove_all(dir);
  }

  static std::string content(size_t size, unsigned seed) {
    std::mt19937 random(seed);
    std::string out(size, '\0');
    for (auto& c : out) c = static_cast<char>(random());
    return out;
  }

  // Writes `data` to session `id` in `pieces` requests of writes of `write` bytes.
  void upload(const std::string& id, const std::string& data, size_t pieces, size_t write) {
    const size_t per = (data.size() + pieces - 1) / pieces;
    for (size_t start = 0; start < data.size(); start += per) {
      auto writer = store->appendUpload(id);
      ASSERT_TRUE(writer);
      const size_t end = std::min(data.size(), start + per);
      for (size_t at = start; at < end; at += write) {
        ASSERT_TRUE((*writer)->write(data.data() + at, std::min(write, end - at)));
      }
    }
  }
};

TEST_P(HashPoolTest, CommitFindsTheContentsDigestWhereverThePoolIs) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{4095}, size_t{3} << 20, size_t{17} << 20}) {
    const auto data = content(size, static_cast<unsigned>(size));
    const auto id = newUuid();
    ASSERT_TRUE(store->createUpload(id));
    upload(id, data, 1, 256 * 1024);
    // At once: the pool may be anywhere behind the writer.
    const auto digest = *Digest::parse(sha256Digest(data));
    auto info = store->commitUpload(id, digest);
    ASSERT_TRUE(info) << size << ": " << info.error().detail;
    EXPECT_EQ(info->size, size);
    auto reader = store->open(digest);
    ASSERT_TRUE(reader);
    EXPECT_EQ(reader->size, size);
  }
}

TEST_P(HashPoolTest, ChunksAcrossRequestsAndAPauseHashTheSame) {
  const auto data = content(9 << 20, 7);
  const auto id = newUuid();
  ASSERT_TRUE(store->createUpload(id));
  upload(id, data.substr(0, 4 << 20), 4, 64 * 1024);
  // Let the pool catch up, then go on: it picks the session up again.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  upload(id, data.substr(4 << 20), 3, 1000);
  EXPECT_TRUE(store->commitUpload(id, *Digest::parse(sha256Digest(data))));
}

TEST_P(HashPoolTest, AWrongDigestIsRefusedAndAResumedSessionRehashes) {
  const auto data = content(2 << 20, 11);
  const auto id = newUuid();
  ASSERT_TRUE(store->createUpload(id));
  upload(id, data.substr(0, 1 << 20), 1, 100000);
  auto wrong = store->verifyUpload(id, *Digest::parse(sha256Digest("something else")));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, ApiCode::DigestInvalid);
  // The running hash was used up by that commit: the next one reads the file again.
  upload(id, data.substr(1 << 20), 2, 4096);
  EXPECT_TRUE(store->commitUpload(id, *Digest::parse(sha256Digest(data))));
}

TEST_P(HashPoolTest, ASessionFromBeforeARestartIsHashedFromItsFile) {
  const auto data = content(5 << 20, 13);
  const auto id = newUuid();
  ASSERT_TRUE(store->createUpload(id));
  upload(id, data.substr(0, 3 << 20), 1, 256 * 1024);
  // A new process: a new store over the same directory, without the running hash.
  store = *FsBlobStore::open(dir);
  upload(id, data.substr(3 << 20), 1, 256 * 1024);
  EXPECT_TRUE(store->commitUpload(id, *Digest::parse(sha256Digest(data))));
}

TEST_P(HashPoolTest, ManySessionsAtOnce) {
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (unsigned c = 0; c < 8; ++c) {
    clients.emplace_back([&, c] {
      for (int n = 0; n < 3; ++n) {
        const auto data = content((1 << 20) + c * 1000 + n, c * 10 + n);
        const auto id = newUuid();
        if (!store->createUpload(id)) return;
        {
          auto writer = store->appendUpload(id);
          if (!writer) return;
          for (size_t at = 0; at < data.size(); at += 65536) {
            if (!(*writer)->write(data.data() + at, std::min<size_t>(65536, data.size() - at))) {
              return;
            }
          }
        }
        if (store->commitUpload(id, *Digest::parse(sha256Digest(data)))) ++ok;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 24);
}

TEST_P(HashPoolTest, APoolTurnedOffMidSessionLeavesTheRestToCommit) {
  const auto data = content(6 << 20, 17);
  const auto id = newUuid();
  ASSERT_TRUE(store->createUpload(id));
  upload(id, data.substr(0, 3 << 20), 1, 256 * 1024);
  // Another pool (or none) from here on; what the first one had not hashed, commit hashes.
  HashPool::configure(GetParam() == 0 ? 1 : 0);
  upload(id, data.substr(3 << 20), 2, 256 * 1024);
  EXPECT_TRUE(store->commitUpload(id, *Digest::parse(sha256Digest(data))));
}

// Bytes that reach the session through a pipe (splice from the socket) carry no copy for the
// running hash: the pool or commit reads them from the file, in order with written ones.
TEST_P(HashPoolTest, BytesFromAPipeAndFromMemoryHashTheSame) {
  const auto data = content(5 << 20, 11);
  const auto id = newUuid();
  ASSERT_TRUE(store->createUpload(id));
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const UniqueFd readEnd(fds[0]);
  const UniqueFd writeEnd(fds[1]);
  constexpr size_t kPiece = 48 * 1024;  // under a pipe's default capacity
  size_t at = 0;
  for (int round = 0; at < data.size(); ++round) {
    auto writer = store->appendUpload(id);
    ASSERT_TRUE(writer);
    ASSERT_TRUE((*writer)->acceptsPipe());
    for (int i = 0; i < 20 && at < data.size(); ++i) {
      const size_t n = std::min(kPiece, data.size() - at);
      if ((round + i) % 3 == 0) {
        ASSERT_TRUE((*writer)->write(data.data() + at, n));
      } else {
        ASSERT_EQ(::write(writeEnd.get(), data.data() + at, n), static_cast<ssize_t>(n));
        ASSERT_TRUE((*writer)->writeFromPipe(readEnd.get(), n));
      }
      at += n;
    }
    EXPECT_EQ((*writer)->size(), at);
  }
  const auto digest = *Digest::parse(sha256Digest(data));
  auto info = store->commitUpload(id, digest);
  ASSERT_TRUE(info) << info.error().detail;
  EXPECT_EQ(info->size, data.size());
}

INSTANTIATE_TEST_SUITE_P(Threads, HashPoolTest, ::testing::Values(0u, 1u, 2u),
                         [](const auto& info) { return "threads" + std::to_string(info.param); });

// A driver that cannot splice still takes a pipe: the bytes go through write().
TEST(UploadWriterPipe, ADriverWithoutSpliceReadsThePipeIntoWrite) {
  class Collecting final : public UploadWriter {
   public:
    Result<void> write(const char* data, size_t size) override {
      got.append(data, size);
      return {};
    }
    uint64_t size() const override { return got.size(); }
    std::string got;
  };
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const UniqueFd readEnd(fds[0]);
  UniqueFd writeEnd(fds[1]);
  const std::string bytes(40000, 'b');
  ASSERT_EQ(::write(writeEnd.get(), bytes.data(), bytes.size()), 40000);
  Collecting writer;
  EXPECT_FALSE(writer.acceptsPipe());
  ASSERT_TRUE(writer.writeFromPipe(readEnd.get(), 30000));
  EXPECT_EQ(writer.got, bytes.substr(0, 30000));
  // Fewer bytes than promised, and the other end gone: an error, not a hang.
  writeEnd.reset();
  EXPECT_FALSE(writer.writeFromPipe(readEnd.get(), 20000));
  EXPECT_EQ(writer.got, bytes);
}

}  // namespace
}  // namespace berth::storage
