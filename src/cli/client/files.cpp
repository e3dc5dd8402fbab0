#include "cli/client/files.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "cli/client/error.hpp"
#include "core/unique_fd.hpp"

namespace berth::cli::client {
namespace fs = std::filesystem;

std::string envOr(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

fs::path homeDir() {
  if (auto home = envOr("HOME"); !home.empty()) return home;
  if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_dir != nullptr) {
    return pw->pw_dir;
  }
  throw ClientError("cannot find the home directory: set $HOME");
}

std::string readFile(const fs::path& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ClientError("cannot read " + what + " " + path.string() + ": " + strerror(errno));
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) throw ClientError("cannot read " + what + " " + path.string());
  return content.str();
}

void makePrivateDirs(const fs::path& dir) {
  if (dir.empty() || fs::is_directory(dir)) return;
  makePrivateDirs(dir.parent_path());
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    throw ClientError("cannot create directory " + dir.string() + ": " + strerror(errno));
  }
}

void writePrivateFile(const fs::path& path, const std::string& content) {
  makePrivateDirs(path.parent_path());
  const fs::path temporary = path.string() + ".tmp-" + std::to_string(getpid());
  const auto fail = [&](const std::string& step) {
    const std::string reason = strerror(errno);
    unlink(temporary.c_str());
    return ClientError("cannot " + step + " " + path.string() + ": " + reason);
  };
  {
    UniqueFd fd(open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd) throw fail("write");
    // O_CREAT's mode does not apply to a leftover temporary file; make sure.
    if (fchmod(fd.get(), 0600) != 0) throw fail("write");
    size_t written = 0;
    while (written < content.size()) {
      const ssize_t n = write(fd.get(), content.data() + written, content.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw fail("write");
      written += static_cast<size_t>(n);
    }
    if (fsync(fd.get()) != 0) throw fail("write");
  }
  if (rename(temporary.c_str(), path.c_str()) != 0) throw fail("replace");
}

std::string trimmed(std::string text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

}  // namespace berth::cli::client
