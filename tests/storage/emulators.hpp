// Object store emulators for the tests: s3rver (S3) and Azurite (Azure Blob), from the npm
// packages in tests/emulators, and moto (S3, a Python package some machines have), started on
// free loopback ports and stopped with the object.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

namespace berth_test {

class Emulator {
 public:
  enum class Kind { S3, Moto, Azure };
  // Why moto cannot run here ("" when it can): it is optional, not installed by
  // tools/install-deps (Debian does not package it).
  static std::string motoMissing();
  // Starts one; throws std::runtime_error naming the problem when it cannot (the packages are
  // installed by tools/install-deps).
  explicit Emulator(Kind kind);
  ~Emulator();
  Emulator(const Emulator&) = delete;
  Emulator& operator=(const Emulator&) = delete;

  // http://127.0.0.1:PORT (S3) or http://127.0.0.1:PORT/devstoreaccount1 (Azure).
  const std::string& endpoint() const { return endpoint_; }
  uint16_t port() const { return port_; }
  // Stops the process and starts it again on the same port and data (moto keeps its objects
  // in memory: they are gone; Azurite may lose what was written just before). A test of a store
  // that goes away cuts a TcpProxy in front of it instead (tcp_proxy.hpp).
  void stop();
  void start();

  // The credentials the emulators accept.
  static constexpr const char* kS3Bucket = "berth-test";
  static constexpr const char* kS3AccessKey = "S3RVER";
  static constexpr const char* kS3SecretKey = "S3RVER";
  static constexpr const char* kAzureAccount = "devstoreaccount1";
  static constexpr const char* kAzureKey =
      "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

 private:
  Kind kind_;
  std::filesystem::path dir_;
  uint16_t port_ = 0;
  std::string endpoint_;
  pid_t pid_ = -1;
};

}  // namespace berth_test
