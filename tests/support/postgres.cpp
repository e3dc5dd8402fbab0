#include "support/postgres.hpp"

#include <libpq-fe.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>

#include "core/random.hpp"

namespace berth_test {
namespace {

namespace fs = std::filesystem;

std::string readLine(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return line;
}

// A server started by this process, stopped at its exit.
struct OwnServer {
  fs::path dir = fs::temp_directory_path() / ("berth-pg-" + berth::newUuid());
  std::string url;
  OwnServer() {
    const std::string command =
        std::string(BERTH_SOURCE_DIR) + "/tools/postgres start " + dir.string() + " >/dev/null";
    if (std::system(command.c_str()) != 0) {
      throw std::runtime_error("tools/postgres could not start a server (see its message)");
    }
    url = readLine(dir / "url");
  }
  ~OwnServer() {
    const std::string command =
        std::string(BERTH_SOURCE_DIR) + "/tools/postgres stop " + dir.string();
    [[maybe_unused]] int rc = std::system(command.c_str());
    fs::remove_all(dir);
  }
};

// The URL of the database "postgres" of the server the tests use.
const std::string& adminUrl() {
  static std::once_flag once;
  static std::string url;
  static std::unique_ptr<OwnServer> own;
  std::call_once(once, [] {
    if (const char* dir = std::getenv("BERTH_TEST_POSTGRES_DIR"); dir && *dir) {
      url = readLine(fs::path(dir) / "url");
      if (url.empty()) {
        throw std::runtime_error(std::string("no PostgreSQL server in ") + dir +
                                 " (the fixture postgres.start did not run)");
      }
      return;
    }
    own = std::make_unique<OwnServer>();
    url = own->url;
  });
  return url;
}

void execute(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn);
    PQfinish(conn);
    throw std::runtime_error("cannot connect to " + url + ": " + message);
  }
  PGresult* r = PQexec(conn, sql.c_str());
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  std::string message = PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(conn);
  if (!ok) throw std::runtime_error(sql + ": " + message);
}

}  // namespace

std::string newPostgresDatabase() {
  const auto& admin = adminUrl();
  std::string name = "t_" + berth::newUuid();
  for (auto& c : name) {
    if (c == '-') c = '_';
  }
  execute(admin, "CREATE DATABASE " + name);
  return admin.substr(0, admin.rfind('/') + 1) + name;
}

void dropPostgresDatabase(const std::string& url) {
  const auto name = url.substr(url.rfind('/') + 1);
  try {
    execute(adminUrl(), "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
  } catch (const std::exception&) {
    // A database left behind goes with the throwaway server.
  }
}

}  // namespace berth_test
