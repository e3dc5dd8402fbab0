#pragma once
// berth's version and the git commit it was built from ("unknown" outside a git checkout).
#include <string>
#include <string_view>

namespace berth {

std::string_view version();
std::string_view commit();

// "berth 0.1.0 (commit 0123456789ab)", as `berth --version` prints it.
inline std::string versionLine() {
  return "berth " + std::string(version()) + " (commit " + std::string(commit()) + ")";
}

}  // namespace berth
