// The SQLite layer's connections: one writer per process, taken in turns, and a pool of
// readers that SQLite itself keeps from writing.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include "core/random.hpp"
#include "meta/sqlite/database.hpp"

namespace berth::meta::sqlite {
namespace {

namespace fs = std::filesystem;

class SqliteDatabaseTest : public ::testing::Test {
 protected:
  fs::path dir = fs::temp_directory_path() / ("berth-sqlite-" + newUuid());
  std::shared_ptr<Database> db;

  void SetUp() override {
    fs::create_directories(dir);
    auto opened = Database::open(dir / "berth.db");
    ASSERT_TRUE(opened);
    db = *opened;
  }
  void TearDown() override {
    db.reset();
    fs::remove_all(dir);
  }

  int64_t registries() {
    auto c = db->lease();
    EXPECT_TRUE(c);
    auto s = (*c)->prepare("SELECT count(*) FROM registries");
    EXPECT_TRUE(s);
    EXPECT_EQ((*s)->step(), sql::kRow);
    return (*s)->integer(0);
  }
};

TEST_F(SqliteDatabaseTest, ReadersRefuseWritesAndTheWriterMakesThem) {
  {
    auto reader = db->lease();
    ASSERT_TRUE(reader);
    EXPECT_FALSE((*reader)->exec("INSERT INTO registries(name, created) VALUES('r', 1)"));
    EXPECT_FALSE((*reader)->exec("BEGIN IMMEDIATE"));
  }
  EXPECT_EQ(registries(), 0);
  {
    auto writer = db->writer();
    ASSERT_TRUE(writer);
    EXPECT_TRUE((*writer)->exec("INSERT INTO registries(name, created) VALUES('w', 1)"));
  }
  EXPECT_EQ(registries(), 1);
}

TEST_F(SqliteDatabaseTest, AThreadHoldingTheWriterIsRefusedASecondOne) {
  auto writer = db->writer();
  ASSERT_TRUE(writer);
  // An error, not a thread waiting for itself.
  EXPECT_FALSE(db->writer());
  EXPECT_TRUE(db->lease());  // reading meanwhile is fine
}

TEST_F(SqliteDatabaseTest, TheWriterIsFreeAgainOnceReturned) {
  { ASSERT_TRUE(db->writer()); }
  EXPECT_TRUE(db->writer());
}

TEST_F(SqliteDatabaseTest, WritersOfManyThreadsTakeTurnsAndNoneIsLost) {
  constexpr int kThreads = 8, kEach = 50;
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto c = db->writer();
        if (!c) {
          ++failed;
          continue;
        }
        sql::Transaction tx(**c);
        auto s = (*c)->prepare("INSERT INTO registries(name, created) VALUES(?, 1)");
        if (!tx.begin() || !s) {
          ++failed;
          continue;
        }
        const std::string name = "r" + std::to_string(t) + "-" + std::to_string(i);
        (*s)->bind(1, name);  // bound by reference (SQLITE_STATIC): `name` outlives the step
        if (!run(**c, **s) || !tx.commit()) ++failed;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(registries(), kThreads * kEach);
}

}  // namespace
}  // namespace berth::meta::sqlite
