#pragma once
// The PostgreSQL database of the stores (src/meta/sql/database.hpp), for many berth nodes on
// one database: libpq connections with statements prepared once each, a bounded pool, the
// schema brought up to date by versioned migrations under an advisory lock, writers of every
// node one at a time under another, and changes announced to every node by LISTEN/NOTIFY.
#include <memory>
#include <string>

#include "meta/sql/database.hpp"

namespace berth::meta::postgres {

struct Options {
  // A libpq connection URI (postgres://user:password@host:port/database?sslmode=...) or
  // key=value string.
  std::string url;
  // Connections this process keeps to read with, at most (the writer and the listener come
  // on top).
  size_t connections = 16;
  // How long a statement may run, and how long to wait for a lock (the writers' turn): a slow
  // or stuck database answers with an error instead of a request waiting for ever.
  int statementTimeoutMs = 30000;
  int lockTimeoutMs = 15000;
};

// Connects, migrates the schema and starts listening for changes of other nodes.
Result<sql::DatabasePtr> open(const Options& options);

// Whether `text` names a PostgreSQL database (postgres:// or postgresql://).
bool isUrl(std::string_view text);

// The URL without its password, for logs and messages.
std::string redacted(std::string_view url);

}  // namespace berth::meta::postgres
