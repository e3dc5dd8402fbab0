#include "tls/dev_cert.hpp"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>

#include "core/random.hpp"

namespace berth::tls {
namespace {

X509* readCert(const std::filesystem::path& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return nullptr;
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  return cert;
}

TEST(DevCert, ServerCertificateVerifiesAgainstTheCaForItsNames) {
  const auto dir = std::filesystem::temp_directory_path() / ("berth-certs-" + newUuid());
  ASSERT_TRUE(writeDevCertificates(dir, {"registry.test", "10.1.2.3"}));
  X509* ca = readCert(dir / "ca.crt");
  X509* server = readCert(dir / "server.crt");
  ASSERT_NE(ca, nullptr);
  ASSERT_NE(server, nullptr);

  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, server, nullptr);
  X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
  EXPECT_EQ(X509_verify_cert(ctx), 1)
      << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));

  EXPECT_EQ(X509_check_host(server, "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(server, "registry.test", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(server, "elsewhere.test", 0, 0, nullptr), 0);
  EXPECT_EQ(X509_check_ip_asc(server, "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(server, "10.1.2.3", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(server, "10.1.2.4", 0), 0);

  struct stat st {};
  ASSERT_EQ(::stat((dir / "server.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u);  // private keys are the owner's alone

  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  X509_free(server);
  X509_free(ca);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace berth::tls
