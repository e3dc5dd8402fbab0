#pragma once
// PostgreSQL for the tests: the server the suite's fixture started (tools/postgres, found
// through BERTH_TEST_POSTGRES_DIR), or, for a test binary run by hand, one started for the
// process and stopped when it ends. Each caller gets a database of its own.
#include <string>

namespace berth_test {

// The URL of a new, empty database; throws std::runtime_error naming the problem when no
// server can be had (tools/install-deps installs PostgreSQL).
std::string newPostgresDatabase();

// Drops a database newPostgresDatabase() made (connections to it are ended first).
void dropPostgresDatabase(const std::string& url);

}  // namespace berth_test
