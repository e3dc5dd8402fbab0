#include "emulators.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <thread>
#include <vector>

namespace berth_test {
namespace {

uint16_t freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool answers(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

Emulator::Emulator(Kind kind) : kind_(kind) {
  dir_ = std::filesystem::temp_directory_path() /
         ("berth-emulator-" + std::to_string(::getpid()) + "-" + std::to_string(freePort()));
  std::filesystem::create_directories(dir_);
  port_ = freePort();
  endpoint_ = "http://127.0.0.1:" + std::to_string(port_);
  if (kind_ == Kind::Azure) endpoint_ += std::string("/") + kAzureAccount;
  start();
}

Emulator::~Emulator() {
  stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void Emulator::start() {
  const std::string bin = BERTH_EMULATORS_BIN;
  const std::string port = std::to_string(port_);
  std::vector<std::string> args;
  if (kind_ == Kind::Moto) {
    args = {"python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", port};
  } else if (kind_ == Kind::S3) {
    args = {bin + "/s3rver",
            "-d",
            (dir_ / "s3").string(),
            "-a",
            "127.0.0.1",
            "-p",
            port,
            "--silent",
            "--configure-bucket",
            kS3Bucket};
  } else {
    args = {bin + "/azurite-blob",
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            port,
            "--location",
            (dir_ / "azure").string(),
            "--disableTelemetry",
            "--silent"};
  }
  if (kind_ == Kind::Moto) {
    if (auto missing = motoMissing(); !missing.empty()) throw std::runtime_error(missing);
  } else if (::access(args[0].c_str(), X_OK) != 0) {
    throw std::runtime_error(args[0] +
                             " is missing: run tools/install-deps (npm ci in tests/emulators)");
  }
  if (kind_ != Kind::Moto)
    std::filesystem::create_directories(dir_ / (kind_ == Kind::S3 ? "s3" : "azure"));
  pid_ = ::fork();
  if (pid_ == 0) {
    ::setpgid(0, 0);
    // s3rver's continuation tokens use DES, which Node's OpenSSL 3 keeps in its legacy
    // provider.
    ::setenv("NODE_OPTIONS", "--openssl-legacy-provider", 1);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string log = (dir_ / "emulator.log").string();
    if (FILE* f = std::fopen(log.c_str(), "a")) {
      ::dup2(fileno(f), 1);
      ::dup2(fileno(f), 2);
    }
    ::execvp(argv[0], argv.data());
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!answers(port_)) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error(args[0] + " ended at start; see " +
                               (dir_ / "emulator.log").string());
    }
    if (std::chrono::steady_clock::now() > deadline) {
      stop();
      throw std::runtime_error(args[0] + " did not listen within 60 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::string Emulator::motoMissing() {
  static const std::string missing =
      std::system("python3 -c 'import moto.server' >/dev/null 2>&1") == 0
          ? ""
          : "moto is not installed (optional: python3 -m pip install 'moto[server]'); the "
            "driver's tests ran on s3rver";
  return missing;
}

void Emulator::stop() {
  if (pid_ <= 0) return;
  ::kill(-pid_, SIGTERM);
  ::kill(pid_, SIGTERM);
  // Azurite saves what it keeps (a LokiJS file) on the way out, which takes 1.5 s idle and more
  // on a loaded machine: it gets a minute before it is killed.
  int status = 0;
  for (int i = 0; i < 1200 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (::waitpid(pid_, &status, WNOHANG) == 0) {
    ::kill(-pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
  pid_ = -1;
  while (answers(port_)) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

}  // namespace berth_test
