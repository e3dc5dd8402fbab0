#pragma once
#include <filesystem>
#include <string>

namespace berth::cli::client {

// The environment variable's value, or "" when unset.
std::string envOr(const char* name);
// The user's home directory ($HOME, else the password database).
std::filesystem::path homeDir();
// Reads a whole file; throws ClientError naming `what` when it cannot.
std::string readFile(const std::filesystem::path& path, const std::string& what);
// `text` without surrounding white space (token files end with a newline more often than not).
std::string trimmed(std::string text);
// Creates `dir` and its missing parents with mode 0700 (existing directories keep theirs).
void makePrivateDirs(const std::filesystem::path& dir);
// Replaces `path` atomically (temporary file + rename) with `content`, mode 0600.
void writePrivateFile(const std::filesystem::path& path, const std::string& content);

}  // namespace berth::cli::client
