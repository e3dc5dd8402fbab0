#include "http.hpp"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace lg {
namespace {

constexpr size_t kBuffer = 256 * 1024;
constexpr size_t kMaxHead = 64 * 1024;

std::string gAuthorization;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string toLower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = lower(c);
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

void setAuthorization(std::string value) { gAuthorization = std::move(value); }

const std::string* Response::header(std::string_view lowerName) const {
  for (const auto& [name, value] : headers) {
    if (name == lowerName) return &value;
  }
  return nullptr;
}

sockaddr_in parseTarget(const std::string& url) {
  std::string rest = url;
  if (rest.starts_with("http://")) rest = rest.substr(7);
  if (auto slash = rest.find('/'); slash != std::string::npos) rest = rest.substr(0, slash);
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("target needs host:port: " + url);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(rest.substr(colon + 1))));
  if (inet_pton(AF_INET, rest.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
    throw std::runtime_error("target must be an IPv4 address: " + url);
  }
  return addr;
}

std::string originForm(const std::string& location) {
  if (location.starts_with("http://") || location.starts_with("https://")) {
    const auto slash = location.find('/', location.find("//") + 2);
    return slash == std::string::npos ? "/" : location.substr(slash);
  }
  return location;
}

// ---------------------------------------------------------------------------------------------
// Conn

Conn::Conn(Loop& loop, const sockaddr_in& addr) : loop_(loop), addr_(addr) {
  char ip[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &addr.sin_addr, ip, sizeof ip);
  host_ = std::string(ip) + ":" + std::to_string(ntohs(addr.sin_port));
}

Conn::~Conn() { closeFd(); }

void Conn::closeFd() {
  if (fd_ >= 0) ::close(fd_);  // closing also removes it from the epoll set
  fd_ = -1;
  interest_ = 0;
  connecting_ = false;
  served_ = 0;
}

void Conn::setInterest(uint32_t events) {
  if (events == interest_ || fd_ < 0) return;
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = this;
  const int op = interest_ == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
  if (epoll_ctl(loop_.epfd_, op, fd_, &ev) != 0) {
    throw std::runtime_error(std::string("epoll_ctl: ") + std::strerror(errno));
  }
  interest_ = events;
}

void Conn::begin(Op* op, std::coroutine_handle<> waiter) {
  op_ = op;
  waiter_ = waiter;
  const Request& req = op->req;
  op->resp.started = now();
  head_.clear();
  head_.reserve(256 + req.target.size());
  head_ += req.method;
  head_ += ' ';
  head_ += req.target;
  head_ += " HTTP/1.1\r\nHost: ";
  head_ += host_;
  head_ += "\r\nUser-Agent: berth-loadgen\r\n";
  if (!gAuthorization.empty()) {
    head_ += "Authorization: ";
    head_ += gAuthorization;
    head_ += "\r\n";
  }
  for (const auto& [name, value] : req.headers) {
    head_ += name;
    head_ += ": ";
    head_ += value;
    head_ += "\r\n";
  }
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
    head_ += "Content-Length: " + std::to_string(req.body.size()) + "\r\n";
  }
  head_ += "\r\n";
  isHead_ = req.method == "HEAD";
  retried_ = false;
  if (req.mode == BodyMode::Hash && !hasher_) hasher_ = std::make_unique<Sha256>();
  if (buf_.empty()) buf_.resize(kBuffer);

  sent_ = 0;
  gotBytes_ = false;
  closeAfter_ = false;
  rx_ = Rx::Head;
  bstart_ = bend_ = 0;
  if (fd_ < 0) {
    connect();
  } else {
    trySend();
  }
}

void Conn::connect() {
  closeFd();
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return fail(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ++connects_;
  const int r = ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr_), sizeof addr_);
  if (r != 0 && errno != EINPROGRESS) {
    return fail(std::string("connect: ") + std::strerror(errno));
  }
  connecting_ = r != 0;
  setInterest(EPOLLIN | EPOLLOUT);
  if (!connecting_) trySend();
}

void Conn::trySend() {
  const std::string_view body = op_->req.body;
  const size_t total = head_.size() + body.size();
  while (sent_ < total) {
    iovec iov[2];
    int count = 0;
    if (sent_ < head_.size()) {
      iov[count++] = {head_.data() + sent_, head_.size() - sent_};
      if (!body.empty()) iov[count++] = {const_cast<char*>(body.data()), body.size()};
    } else {
      const size_t off = sent_ - head_.size();
      iov[count++] = {const_cast<char*>(body.data()) + off, body.size() - off};
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(count);
    const ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n > 0) {
      sent_ += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      setInterest(EPOLLIN | EPOLLOUT);
      return;
    }
    return failOrRetry(std::string("send: ") + std::strerror(errno));
  }
  setInterest(EPOLLIN);
}

void Conn::onEvent(uint32_t events) {
  if (!op_) {
    // Idle: the server closed the connection (or sent something unasked for).
    closeFd();
    return;
  }
  if (connecting_) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return fail(std::string("connect: ") + std::strerror(err));
    connecting_ = false;
  }
  const size_t total = head_.size() + op_->req.body.size();
  if ((events & EPOLLOUT) && sent_ < total) {
    trySend();
    if (!op_) return;
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) onReadable();
}

void Conn::onReadable() {
  // A body of known length that nobody reads: let the kernel drop it without a copy.
  if (rx_ == Rx::Length && op_->req.mode == BodyMode::Discard && bstart_ == bend_) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(remaining_, 1ull << 30));
    const ssize_t n = ::recv(fd_, buf_.data(), want, MSG_TRUNC | MSG_DONTWAIT);
    if (n > 0) {
      remaining_ -= static_cast<uint64_t>(n);
      op_->resp.bodyBytes += static_cast<uint64_t>(n);
      if (remaining_ == 0) complete();
      return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    return fail(n == 0 ? "connection closed in the body" : std::strerror(errno));
  }
  if (bstart_ == bend_) {
    bstart_ = bend_ = 0;
  } else if (bend_ == buf_.size()) {
    if (bstart_ > 0) {
      std::memmove(buf_.data(), buf_.data() + bstart_, bend_ - bstart_);
      bend_ -= bstart_;
      bstart_ = 0;
    } else {
      return fail("response head too large");
    }
  }
  const ssize_t n = ::recv(fd_, buf_.data() + bend_, buf_.size() - bend_, MSG_DONTWAIT);
  if (n == 0) {
    if (rx_ == Rx::UntilClose) return complete();
    return failOrRetry("connection closed by the server");
  }
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    return failOrRetry(std::string("recv: ") + std::strerror(errno));
  }
  gotBytes_ = true;
  bend_ += static_cast<size_t>(n);
  process();
}

void Conn::sink(const char* data, size_t len) {
  auto& resp = op_->resp;
  resp.bodyBytes += len;
  switch (op_->req.mode) {
    case BodyMode::Discard:
      break;
    case BodyMode::Keep:
      resp.body.append(data, len);
      break;
    case BodyMode::Hash:
      hasher_->update(data, len);
      break;
  }
}

bool Conn::parseHead(size_t end) {
  auto& resp = op_->resp;
  resp.headers.clear();
  std::string_view head(buf_.data() + bstart_, end - bstart_);
  auto eol = head.find("\r\n");
  std::string_view status = head.substr(0, eol);
  if (!status.starts_with("HTTP/1.") || status.size() < 12) {
    fail("bad status line");
    return false;
  }
  const bool http10 = status[7] == '0';
  resp.status = std::atoi(std::string(status.substr(9, 3)).c_str());
  bool chunked = false;
  bool haveLength = false;
  uint64_t length = 0;
  bool keepAlive = !http10;
  size_t pos = eol + 2;
  while (pos < head.size()) {
    const auto next = head.find("\r\n", pos);
    const auto line = head.substr(pos, next - pos);
    pos = next == std::string_view::npos ? head.size() : next + 2;
    if (line.empty()) break;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    auto name = toLower(trim(line.substr(0, colon)));
    auto value = std::string(trim(line.substr(colon + 1)));
    if (name == "content-length") {
      haveLength = true;
      length = std::strtoull(value.c_str(), nullptr, 10);
    } else if (name == "transfer-encoding") {
      chunked = toLower(value).find("chunked") != std::string::npos;
    } else if (name == "connection") {
      const auto v = toLower(value);
      if (v.find("close") != std::string::npos) keepAlive = false;
      if (v.find("keep-alive") != std::string::npos) keepAlive = true;
    }
    resp.headers.emplace_back(std::move(name), std::move(value));
  }
  if (!keepAlive) closeAfter_ = true;
  if (resp.status >= 100 && resp.status < 200) {
    rx_ = Rx::Head;  // an interim response: the real one follows
    return true;
  }
  if (isHead_ || resp.status == 204 || resp.status == 304) {
    remaining_ = 0;
    rx_ = Rx::Length;
  } else if (chunked) {
    rx_ = Rx::ChunkSize;
  } else if (haveLength) {
    remaining_ = length;
    rx_ = Rx::Length;
  } else {
    rx_ = Rx::UntilClose;
    closeAfter_ = true;
  }
  return true;
}

void Conn::process() {
  for (;;) {
    if (!op_) return;
    const char* base = buf_.data();
    const size_t avail = bend_ - bstart_;
    switch (rx_) {
      case Rx::Head: {
        std::string_view data(base + bstart_, avail);
        const auto end = data.find("\r\n\r\n");
        if (end == std::string_view::npos) {
          if (avail > kMaxHead) fail("response head too large");
          return;
        }
        const size_t headEnd = bstart_ + end + 4;
        if (!parseHead(headEnd)) return;
        bstart_ = headEnd;
        if (rx_ == Rx::Length && remaining_ == 0) return complete();
        continue;
      }
      case Rx::Length: {
        const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, avail));
        sink(base + bstart_, take);
        bstart_ += take;
        remaining_ -= take;
        if (remaining_ == 0) return complete();
        return;
      }
      case Rx::ChunkSize:
      case Rx::Trailer: {
        std::string_view data(base + bstart_, avail);
        const auto eol = data.find("\r\n");
        if (eol == std::string_view::npos) return;
        const auto line = data.substr(0, eol);
        bstart_ += eol + 2;
        if (rx_ == Rx::Trailer) {
          if (line.empty()) return complete();
          continue;
        }
        remaining_ = std::strtoull(std::string(line).c_str(), nullptr, 16);
        rx_ = remaining_ == 0 ? Rx::Trailer : Rx::ChunkData;
        continue;
      }
      case Rx::ChunkData: {
        if (avail == 0) return;
        const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, avail));
        sink(base + bstart_, take);
        bstart_ += take;
        remaining_ -= take;
        if (remaining_ == 0) rx_ = Rx::ChunkEnd;
        continue;
      }
      case Rx::ChunkEnd: {
        if (avail < 2) return;
        if (base[bstart_] != '\r' || base[bstart_ + 1] != '\n') return fail("bad chunk framing");
        bstart_ += 2;
        rx_ = Rx::ChunkSize;
        continue;
      }
      case Rx::UntilClose:
        sink(base + bstart_, avail);
        bstart_ = bend_;
        return;
    }
  }
}

void Conn::complete() {
  auto& resp = op_->resp;
  resp.latency = now() - resp.started;
  if (op_->req.mode == BodyMode::Hash) resp.digest = hasher_->finish();
  const bool unsent = sent_ < head_.size() + op_->req.body.size();
  if (closeAfter_ || unsent || bstart_ != bend_) {
    closeFd();
  } else {
    ++served_;
  }
  op_ = nullptr;
  loop_.ready_.push_back(waiter_);
}

void Conn::fail(std::string message) {
  auto& resp = op_->resp;
  resp.status = 0;
  resp.error = std::move(message);
  resp.latency = now() - resp.started;
  closeFd();
  op_ = nullptr;
  loop_.ready_.push_back(waiter_);
}

void Conn::failOrRetry(std::string message) {
  // A kept-alive connection the server closed before answering: one retry on a new one.
  if (served_ > 0 && !gotBytes_ && !retried_) {
    retried_ = true;
    sent_ = 0;
    rx_ = Rx::Head;
    bstart_ = bend_ = 0;
    op_->resp = Response{};
    op_->resp.started = now();
    connect();
    return;
  }
  fail(std::move(message));
}

// ---------------------------------------------------------------------------------------------
// Loop

Loop::Loop() : epfd_(epoll_create1(EPOLL_CLOEXEC)) {
  if (epfd_ < 0) throw std::runtime_error("epoll_create1 failed");
}

Loop::~Loop() { ::close(epfd_); }

Detached Loop::wrap(Task<void> task) {
  ++active_;
  try {
    co_await task;
  } catch (const std::exception& e) {
    failures.emplace_back(e.what());
  }
  --active_;
}

void Loop::spawn(Task<void> task) { wrap(std::move(task)); }

void Loop::run(double watchdogSeconds) {
  const double deadline = now() + watchdogSeconds;
  epoll_event events[256];
  for (;;) {
    while (!ready_.empty()) {
      auto batch = std::move(ready_);
      ready_.clear();
      for (auto h : batch) h.resume();
    }
    if (active_ == 0) return;
    const int timeoutMs = std::max(1, static_cast<int>(tickEvery * 1000));
    const int n = epoll_wait(epfd_, events, 256, timeoutMs);
    if (n < 0 && errno != EINTR) throw std::runtime_error("epoll_wait failed");
    for (int i = 0; i < n; ++i) static_cast<Conn*>(events[i].data.ptr)->onEvent(events[i].events);
    if (onTick) onTick();
    if (now() > deadline) throw std::runtime_error("watchdog: the run did not finish in time");
  }
}

}  // namespace lg
