#include "tls/dev_cert.hpp"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <memory>

namespace berth::tls {
namespace {

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

Error fail(std::string what) { return makeError(ApiCode::Unknown, "dev-cert: " + what); }

KeyPtr newKey() {
  return KeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), EVP_PKEY_free);
}

bool addExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

CertPtr newCert(EVP_PKEY* key, const std::string& commonName, int days) {
  CertPtr cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 86400);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("berth development"), -1, -1,
                             0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(commonName.c_str()), -1, -1, 0);
  return cert;
}

bool isIpAddress(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

Result<void> writePem(const std::filesystem::path& path, bool privateKey, EVP_PKEY* key,
                      X509* cert) {
  const mode_t old = ::umask(privateKey ? 0077 : 0022);
  FILE* f = std::fopen(path.c_str(), "w");
  ::umask(old);
  if (f == nullptr) return fail("cannot write " + path.string());
  const int ok = privateKey ? PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr)
                            : PEM_write_X509(f, cert);
  std::fclose(f);
  if (ok != 1) return fail("cannot encode " + path.string());
  return {};
}

}  // namespace

Result<void> writeDevCertificates(const std::filesystem::path& dir,
                                  const std::vector<std::string>& hosts) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail("cannot create " + dir.string() + ": " + ec.message());

  auto caKey = newKey();
  auto serverKey = newKey();
  if (!caKey || !serverKey) return fail("key generation failed");

  auto ca = newCert(caKey.get(), "berth development CA", 3650);
  X509_set_issuer_name(ca.get(), X509_get_subject_name(ca.get()));
  if (!addExtension(ca.get(), ca.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
      !addExtension(ca.get(), ca.get(), NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !addExtension(ca.get(), ca.get(), NID_subject_key_identifier, "hash") ||
      X509_sign(ca.get(), caKey.get(), EVP_sha256()) == 0) {
    return fail("cannot sign the CA certificate");
  }

  std::string san = "DNS:localhost,IP:127.0.0.1,IP:::1";
  for (const auto& host : hosts) san += (isIpAddress(host) ? ",IP:" : ",DNS:") + host;
  auto server = newCert(serverKey.get(), hosts.empty() ? "localhost" : hosts.front(), 825);
  X509_set_issuer_name(server.get(), X509_get_subject_name(ca.get()));
  if (!addExtension(server.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !addExtension(server.get(), ca.get(), NID_key_usage, "critical,digitalSignature") ||
      !addExtension(server.get(), ca.get(), NID_ext_key_usage, "serverAuth") ||
      !addExtension(server.get(), ca.get(), NID_subject_alt_name, san) ||
      !addExtension(server.get(), ca.get(), NID_authority_key_identifier, "keyid:always") ||
      X509_sign(server.get(), caKey.get(), EVP_sha256()) == 0) {
    return fail("cannot sign the server certificate");
  }

  if (auto r = writePem(dir / "ca.key", true, caKey.get(), nullptr); !r) return r;
  if (auto r = writePem(dir / "ca.crt", false, nullptr, ca.get()); !r) return r;
  if (auto r = writePem(dir / "server.key", true, serverKey.get(), nullptr); !r) return r;
  return writePem(dir / "server.crt", false, nullptr, server.get());
}

}  // namespace berth::tls
