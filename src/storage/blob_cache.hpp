#pragma once
// A node's cache of blobs read from object stores, on its local disk: blobs are immutable and
// named by their content, so a copy never goes stale, and a blob read again is sent from a
// local file (sendfile(2)) instead of through the store. Shared by every registry on the node:
// the same digest is the same bytes wherever it is linked, and a request reaches a blob only
// after the registry's metadata vouched for it. Bounded in bytes, least recently read first
// out; a copy is made only from a whole read of the blob, verified against its digest, and
// never when the disk is short of room. ADR 8 has the design.
#include <cstdint>
#include <filesystem>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "core/digest.hpp"
#include "core/result.hpp"
#include "core/unique_fd.hpp"

namespace berth::storage {

class BlobCache : public std::enable_shared_from_this<BlobCache> {
 public:
  // Makes `dir` when missing, drops copies left unfinished by an earlier run and indexes the
  // others (the oldest evicted first when more than `maxBytes` are there). `keepFree`: bytes
  // of the file system a copy may never take.
  static Result<std::shared_ptr<BlobCache>> open(const std::filesystem::path& dir,
                                                 uint64_t maxBytes, uint64_t keepFree = 0);

  // The cached copy of the blob, opened, when there is one of `size` bytes.
  std::shared_ptr<const UniqueFd> find(const Digest& digest, uint64_t size);

  // A copy of a blob being read whole, written as its bytes pass by; it joins the cache when
  // add() saw every byte and they match the digest, and is dropped otherwise.
  class Fill {
   public:
    ~Fill();
    Fill(const Fill&) = delete;
    Fill& operator=(const Fill&) = delete;
    // False once the copy failed (a full disk, a write error): the caller stops adding.
    bool add(const char* data, size_t size);
    // Makes the copy part of the cache, when it is whole and right.
    void finish();

   private:
    friend class BlobCache;
    Fill(std::shared_ptr<BlobCache> cache, Digest digest, uint64_t size, UniqueFd fd,
         std::filesystem::path temp, Hasher::Algorithm algorithm);
    std::shared_ptr<BlobCache> cache_;
    Digest digest_;
    uint64_t size_;
    uint64_t written_ = 0;
    UniqueFd fd_;
    std::filesystem::path temp_;
    Hasher hasher_;
    bool failed_ = false;
    bool done_ = false;
  };
  // A copy for a blob of `size` bytes about to be read whole; null when it is cached already,
  // being copied by another read, too large (more than a quarter of the cache) or the disk is
  // short of room.
  std::unique_ptr<Fill> fill(const Digest& digest, uint64_t size);

  // Drops the copy of a blob removed from its store.
  void erase(const Digest& digest);

  uint64_t bytes() const;

 private:
  BlobCache(std::filesystem::path dir, uint64_t maxBytes, uint64_t keepFree);
  std::filesystem::path pathOf(const std::string& digest) const;
  // Under mutex_: adds an entry not indexed yet (fill() admits one copy of a digest at a time,
  // and only while it is not indexed) as the most recent, and evicts the least recently read
  // beyond the bound.
  void insertLocked(const std::string& digest, uint64_t size);
  void finished(Fill& fill, bool keep);

  struct Entry {
    std::string digest;
    uint64_t size;
  };
  // Under mutex_: forgets an entry and removes its file (a read under way keeps its descriptor).
  void dropLocked(std::list<Entry>::iterator entry);
  const std::filesystem::path dir_;
  const uint64_t maxBytes_;
  const uint64_t keepFree_;
  mutable std::mutex mutex_;
  std::list<Entry> recent_;  // most recently read first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  std::unordered_set<std::string> filling_;
  uint64_t bytes_ = 0;
};

}  // namespace berth::storage
