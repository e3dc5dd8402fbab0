#pragma once
// The PostgreSQL schema's migrations. Internal to src/meta/postgres.
#include <cstdint>
#include <vector>

namespace berth::meta::postgres {

struct Migration {
  int64_t version;
  const char* name;
  const char* sql;
};

// In order of version, from 1.
const std::vector<Migration>& migrations();

}  // namespace berth::meta::postgres
