// The PostgreSQL database itself: migrations when nodes start together, a schema newer than
// the binary, connections the server drops, and changes heard again after the listener's
// connection went.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "conformance/factories.hpp"
#include "meta/postgres/database.hpp"
#include "meta/sql/stores.hpp"
#include "support/postgres.hpp"

namespace berth::meta {
namespace {

// Runs `sql` on `url` outside berth; the first column of the first row.
std::string query(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  PGresult* r = PQexec(conn, sql.c_str());
  std::string value;
  if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) value = PQgetvalue(r, 0, 0);
  EXPECT_TRUE(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK)
      << sql << ": " << PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(conn);
  return value;
}

class PostgresDatabaseTest : public ::testing::Test {
 protected:
  std::string url = berth_test::newPostgresDatabase();
  ~PostgresDatabaseTest() override { berth_test::dropPostgresDatabase(url); }

  Result<sql::DatabasePtr> open() {
    postgres::Options options;
    options.url = url;
    options.connections = 4;
    return postgres::open(options);
  }
  // Ends every session of the test's database but the caller's (as a restart of the server,
  // or a proxy cutting idle connections, would).
  void dropConnections() {
    query(url,
          "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = "
          "current_database() AND pid <> pg_backend_pid()");
  }
};

TEST_F(PostgresDatabaseTest, NodesStartingTogetherMigrateOnce) {
  constexpr int kNodes = 6;
  std::vector<std::thread> nodes;
  std::atomic<int> opened{0};
  std::vector<sql::DatabasePtr> held(kNodes);
  for (int i = 0; i < kNodes; ++i) {
    nodes.emplace_back([&, i] {
      auto db = open();
      if (!db) return;
      held[static_cast<size_t>(i)] = *db;
      ++opened;
    });
  }
  for (auto& t : nodes) t.join();
  EXPECT_EQ(opened.load(), kNodes);
  EXPECT_EQ(query(url, "SELECT COUNT(*) FROM berth_schema"),
            query(url, "SELECT MAX(version) FROM berth_schema"));
  EXPECT_EQ(query(url, "SELECT COUNT(*) FROM berth_schema WHERE version = 1"), "1");
}

TEST_F(PostgresDatabaseTest, ASchemaNewerThanTheBinaryIsRefusedWithItsVersion) {
  ASSERT_TRUE(open());
  query(url, "INSERT INTO berth_schema(version, name, applied) VALUES(9999, 'later', 0)");
  auto refused = open();
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().detail.find("9999"), std::string::npos) << refused.error().detail;
  EXPECT_NE(refused.error().detail.find("upgrade berth"), std::string::npos);
}

TEST_F(PostgresDatabaseTest, ReadsAndWritesGoOnAfterTheServerDropsTheConnections) {
  auto db = open();
  ASSERT_TRUE(db);
  auto store = makeSqlStore(*db);
  const auto registry = *store->ensureRegistry("default");
  const auto repository = *store->ensureRepository(registry, "team/app");
  ASSERT_TRUE(store->findRepository(registry, "team/app"));
  dropConnections();
  // The pooled reader's session is gone: the read is asked again on a new one.
  auto found = store->findRepository(registry, "team/app");
  ASSERT_TRUE(found) << found.error().detail;
  EXPECT_EQ(**found, repository);
  dropConnections();
  // The writer's too: its turn (an advisory lock, a query) is taken on a new session.
  const std::string digest = "sha256:" + std::string(64, 'a');
  ASSERT_TRUE(store->linkBlob(registry, repository, digest, 10));
  EXPECT_TRUE(*store->linkedBlob(repository, digest));
}

TEST_F(PostgresDatabaseTest, AListenerThatLostItsConnectionTellsEveryoneToStartAgain) {
  auto db = open();
  ASSERT_TRUE(db);
  auto store = makeSqlStore(*db);
  std::atomic<int> everything{0};
  auto watch = store->watchContent([&](const ContentChange& change) {
    if (change.scope == ContentChange::Scope::Everything) ++everything;
  });
  // Until `count` start-agains were heard (at most 10 s).
  auto startedAgain = [&](int count) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (everything.load() < count && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return everything.load() >= count;
  };
  // The listener's first connection: nothing heard before it.
  ASSERT_TRUE(startedAgain(1));
  const int before = everything.load();
  dropConnections();
  // Changes made while it was away were not heard: every cache is told to start again.
  EXPECT_TRUE(startedAgain(before + 1));
  // And it hears other nodes' changes again.
  auto other = makeSqlStore(*open());
  const auto registry = *other->ensureRegistry("default");
  std::atomic<int64_t> heard{0};
  auto second = store->watchContent([&](const ContentChange& change) {
    if (change.scope == ContentChange::Scope::Repository) heard = change.id;
  });
  const auto repository = *other->ensureRepository(registry, "team/app");
  ASSERT_TRUE(*other->updateRepository(repository, {.readEnabled = false}));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (heard.load() != repository && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(heard.load(), repository);
}

TEST(PostgresUrl, ThePasswordIsLeftOutOfWhatIsLogged) {
  EXPECT_EQ(postgres::redacted("postgres://berth:s3cret@db:5432/berth?sslmode=require"),
            "postgres://berth:***@db:5432/berth?sslmode=require");
  EXPECT_EQ(postgres::redacted("postgres://db/berth"), "postgres://db/berth");
  EXPECT_TRUE(postgres::isUrl("postgresql://db/berth"));
  EXPECT_FALSE(postgres::isUrl("/var/lib/berth/berth.db"));
}

}  // namespace
}  // namespace berth::meta
