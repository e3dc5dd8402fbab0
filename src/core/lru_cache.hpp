#pragma once
// A bounded, thread-safe least-recently-used cache.
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

#include "core/metrics.hpp"

namespace berth {

template <class Key, class Value, class Hash = std::hash<Key>>
class LruCache {
 public:
  explicit LruCache(size_t capacity) : capacity_(capacity) {}
  // A cache whose hits and misses are counted under `name` at /metrics.
  LruCache(size_t capacity, std::string_view name)
      : capacity_(capacity), counters_(std::make_unique<metrics::CacheCounters>(name)) {}

  std::optional<Value> get(const Key& key) {
    std::lock_guard lock(mutex_);
    auto it = index_.find(key);
    if (it == index_.end()) {
      if (counters_) counters_->miss();
      return std::nullopt;
    }
    if (counters_) counters_->hit();
    order_.splice(order_.begin(), order_, it->second);
    return it->second->second;
  }

  void put(const Key& key, Value value) {
    if (capacity_ == 0) return;
    std::lock_guard lock(mutex_);
    auto it = index_.find(key);
    if (it != index_.end()) {
      it->second->second = std::move(value);
      order_.splice(order_.begin(), order_, it->second);
      return;
    }
    order_.emplace_front(key, std::move(value));
    index_.emplace(key, order_.begin());
    if (index_.size() > capacity_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
  }

  void erase(const Key& key) {
    std::lock_guard lock(mutex_);
    auto it = index_.find(key);
    if (it == index_.end()) return;
    order_.erase(it->second);
    index_.erase(it);
  }

  template <class Pred>
  void eraseIf(Pred pred) {
    std::lock_guard lock(mutex_);
    for (auto it = order_.begin(); it != order_.end();) {
      if (pred(it->first, it->second)) {
        index_.erase(it->first);
        it = order_.erase(it);
      } else {
        ++it;
      }
    }
  }

  size_t size() {
    std::lock_guard lock(mutex_);
    return index_.size();
  }

 private:
  size_t capacity_;
  std::unique_ptr<metrics::CacheCounters> counters_;
  std::mutex mutex_;
  std::list<std::pair<Key, Value>> order_;
  std::unordered_map<Key, typename std::list<std::pair<Key, Value>>::iterator, Hash> index_;
};

}  // namespace berth
