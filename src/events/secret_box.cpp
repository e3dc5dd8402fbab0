#include "events/secret_box.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "auth/base64url.hpp"
#include "core/log.hpp"
#include "core/unique_fd.hpp"

namespace berth::events {
namespace {

Error keyError(const std::filesystem::path& file, std::string why) {
  return makeError(ApiCode::Unknown, "secret key " + file.string() + ": " + why);
}

}  // namespace

Result<SecretBox> SecretBox::open(const std::filesystem::path& file) {
  if (sodium_init() < 0) return makeError(ApiCode::Unknown, "libsodium failed to initialise");
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd && errno == ENOENT) {
    std::string key(crypto_secretbox_KEYBYTES, '\0');
    crypto_secretbox_keygen(reinterpret_cast<unsigned char*>(key.data()));
    const auto temp = file.string() + ".new";
    UniqueFd out(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!out) return keyError(file, std::string("cannot create: ") + std::strerror(errno));
    if (::write(out.get(), key.data(), key.size()) != static_cast<ssize_t>(key.size()) ||
        ::fsync(out.get()) != 0) {
      ::unlink(temp.c_str());
      return keyError(file, std::string("cannot write: ") + std::strerror(errno));
    }
    // Never replaces a key another process wrote meanwhile.
    if (::link(temp.c_str(), file.c_str()) != 0 && errno != EEXIST) {
      ::unlink(temp.c_str());
      return keyError(file, std::string("cannot create: ") + std::strerror(errno));
    }
    ::unlink(temp.c_str());
    fd = UniqueFd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  }
  if (!fd) return keyError(file, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return keyError(file, "cannot stat");
  if ((st.st_mode & 077) != 0) return keyError(file, "readable by others (chmod 600 it)");
  std::string key(crypto_secretbox_KEYBYTES, '\0');
  if (st.st_size != static_cast<off_t>(key.size()) ||
      ::pread(fd.get(), key.data(), key.size(), 0) != static_cast<ssize_t>(key.size())) {
    return keyError(file, "not a key of " + std::to_string(key.size()) + " bytes");
  }
  return SecretBox(std::move(key));
}

Result<SecretBox> SecretBox::fromText(std::string_view text) {
  if (sodium_init() < 0) return makeError(ApiCode::Unknown, "libsodium failed to initialise");
  while (!text.empty() && (text.back() == '\n' || text.back() == '=')) text.remove_suffix(1);
  auto key = auth::base64urlDecode(text);
  if (!key)
    key = auth::base64Decode(std::string(text) + std::string((4 - text.size() % 4) % 4, '='));
  if (!key || key->size() != crypto_secretbox_KEYBYTES) {
    return makeError(ApiCode::Unknown, "secret key: not base64 of " +
                                           std::to_string(crypto_secretbox_KEYBYTES) + " bytes");
  }
  return SecretBox(std::move(*key));
}

std::string SecretBox::newSecret() {
  if (sodium_init() < 0) return {};  // never in practice: open() checked it at start
  std::string bytes(32, '\0');
  randombytes_buf(bytes.data(), bytes.size());
  return auth::base64urlEncode(bytes);
}

std::string SecretBox::seal(std::string_view plaintext) const {
  std::string out(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plaintext.size(), '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(out.data());
  randombytes_buf(bytes, crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(bytes + crypto_secretbox_NONCEBYTES,
                        reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
                        bytes, reinterpret_cast<const unsigned char*>(key_.data()));
  return auth::base64urlEncode(out);
}

Result<std::string> SecretBox::unseal(std::string_view sealed) const {
  auto raw = auth::base64urlDecode(sealed);
  constexpr size_t kOverhead = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES;
  if (!raw || raw->size() < kOverhead) {
    return makeError(ApiCode::Unknown, "a sealed secret is malformed");
  }
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw->data());
  std::string out(raw->size() - kOverhead, '\0');
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(out.data()),
                                 bytes + crypto_secretbox_NONCEBYTES,
                                 raw->size() - crypto_secretbox_NONCEBYTES, bytes,
                                 reinterpret_cast<const unsigned char*>(key_.data())) != 0) {
    return makeError(ApiCode::Unknown,
                     "a sealed secret does not open with the key in the data directory");
  }
  return out;
}

}  // namespace berth::events
