#pragma once
// Hashing beside the network thread (ADR 7): an upload's bytes are written to its session file
// by the request, and a small pool of threads reads the file behind it and keeps the session's
// running SHA-256, so that receiving and hashing run on two cores at once. Commit takes the
// running hash over and hashes whatever the pool has not reached yet itself.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/digest.hpp"

namespace berth::storage {

// The running hash of one upload session. `hasher` belongs to whoever holds the token: a pool
// thread while `hashing` is set, else the request that has claimed the session.
struct HashState {
  static constexpr uint64_t kInvalid = UINT64_MAX;

  Hasher hasher;
  bool busy = false;  // claimed by a request (under the store's mutex)
  std::filesystem::path file;

  std::mutex mutex;  // guards what follows
  std::condition_variable idle;
  uint64_t hashed = 0;   // bytes from the start the hash covers; kInvalid: start over at commit
  uint64_t written = 0;  // bytes from the start known to be in the file, in order
  bool queued = false;   // a pool thread has the session in hand or in its queue
  bool hashing = false;  // a pool thread holds `hasher`
  bool stopped = false;  // commit took the hash over: pool threads leave it alone
};

class HashPool {
 public:
  // The process's pool, with `threads` threads (0: requests hash inline, as they write); the
  // previous pool finishes what it is hashing and stops. Meant for start-up (and tests).
  static void configure(unsigned threads);
  static std::shared_ptr<HashPool> current();
  explicit HashPool(unsigned threads);
  ~HashPool();
  HashPool(const HashPool&) = delete;
  HashPool& operator=(const HashPool&) = delete;

  bool enabled() const { return threads_ > 0; }
  // Hands a session whose file grew to the pool (once: `queued` is set under its mutex).
  void submit(std::shared_ptr<HashState> state);

  // Makes `state` the caller's: no pool thread touches its hasher after this returns. Waits at
  // most for the piece a pool thread is hashing (kPiece bytes).
  static void takeOver(HashState& state);

  static constexpr size_t kPiece = 1 << 20;
  // A session's first bytes, up to this many, are hashed by the request as it writes them:
  // handing a small blob to another thread (a wake-up, a second read of the file) costs more
  // than hashing it, and most blobs of an image are small.
  static constexpr uint64_t kInlineBytes = 1 << 20;

 private:
  void run();
  static void hash(HashState& state, std::vector<char>& buffer);

  unsigned threads_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::shared_ptr<HashState>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace berth::storage
