#include "storage/fs/hash_pool.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "core/unique_fd.hpp"

namespace berth::storage {
namespace {

std::mutex gMutex;
std::shared_ptr<HashPool>& gPool() {
  static auto pool = std::make_shared<HashPool>(0);
  return pool;
}

}  // namespace

void HashPool::configure(unsigned threads) {
  auto made = std::make_shared<HashPool>(threads);
  std::shared_ptr<HashPool> old;
  {
    std::lock_guard lock(gMutex);
    old = std::exchange(gPool(), std::move(made));
  }
  // `old` stops here, or with the last writer that still holds it. A session it had queued
  // keeps `queued` set and is hashed at commit instead.
}

std::shared_ptr<HashPool> HashPool::current() {
  std::lock_guard lock(gMutex);
  return gPool();
}

HashPool::HashPool(unsigned threads) : threads_(threads) {
  for (unsigned i = 0; i < threads_; ++i) workers_.emplace_back([this] { run(); });
}

HashPool::~HashPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (auto& w : workers_) w.join();
}

void HashPool::submit(std::shared_ptr<HashState> state) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(state));
  }
  ready_.notify_one();
}

void HashPool::run() {
  std::vector<char> buffer(kPiece);
  for (;;) {
    std::shared_ptr<HashState> state;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping
      state = std::move(queue_.front());
      queue_.pop_front();
    }
    hash(*state, buffer);
  }
}

// Hashes what the request wrote and the hash does not cover yet, a piece at a time, until it
// has caught up or commit has taken over.
void HashPool::hash(HashState& state, std::vector<char>& buffer) {
  // Opened per round, not kept with the session: sessions a client left behind live until
  // upload_expiry_seconds, and would each hold a descriptor that long. An open costs less
  // than hashing the 256 KiB a round covers at the least.
  UniqueFd fd;
  for (;;) {
    uint64_t from = 0;
    size_t length = 0;
    {
      std::lock_guard lock(state.mutex);
      if (state.stopped || state.hashed == HashState::kInvalid || state.hashed >= state.written) {
        state.queued = false;
        return;
      }
      from = state.hashed;
      length = static_cast<size_t>(std::min<uint64_t>(state.written - from, buffer.size()));
      state.hashing = true;
    }
    bool ok = true;
    if (!fd) fd = UniqueFd(::open(state.file.c_str(), O_RDONLY | O_CLOEXEC));
    size_t got = 0;
    while (ok && got < length) {
      const ssize_t n =
          fd ? ::pread(fd.get(), buffer.data() + got, length - got, static_cast<off_t>(from + got))
             : -1;
      if (n < 0 && errno == EINTR) continue;
      ok = n > 0;
      if (ok) got += static_cast<size_t>(n);
    }
    if (ok) state.hasher.update(buffer.data(), length);
    {
      std::lock_guard lock(state.mutex);
      // A session that vanished or shrank under us: commit reads the file again.
      state.hashed = ok ? from + length : HashState::kInvalid;
      state.hashing = false;
      if (!ok) state.queued = false;
    }
    state.idle.notify_all();
    if (!ok) return;
  }
}

void HashPool::takeOver(HashState& state) {
  std::unique_lock lock(state.mutex);
  state.stopped = true;
  state.idle.wait(lock, [&] { return !state.hashing; });
}

}  // namespace berth::storage
