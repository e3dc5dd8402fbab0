#include "meta/sql/database.hpp"

#include <algorithm>
#include <set>
#include <unordered_map>

#include "core/log.hpp"

namespace berth::meta::sql {
namespace {

// Database calls that failed on this thread: a lease that sees the count move failed.
thread_local uint64_t tErrors = 0;
// Whether this thread holds a writer connection now.
thread_local bool tHoldsWriter = false;

// The operation named after the function that borrows a connection, found once per function.
metrics::Operation operationOf(const char* caller) {
  static std::mutex mutex;
  static std::unordered_map<const char*, metrics::Operation> known;
  std::lock_guard lock(mutex);
  auto it = known.find(caller);
  if (it == known.end()) {
    it = known.emplace(caller, metrics::operation("metadata", metrics::functionName(caller))).first;
  }
  return it->second;
}

}  // namespace

int64_t nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<void> run(Connection& c, Stmt& s) {
  const int rc = s.step();
  if (rc != kDone && rc != kRow) return c.fail("step");
  return {};
}

Result<std::optional<int64_t>> insertedId(Connection& c, Stmt& s) {
  const int rc = s.step();
  if (rc == kDone) return std::optional<int64_t>();
  if (rc != kRow) return c.fail("insert");
  const int64_t id = s.integer(0);
  // SQLite's RETURNING completes the statement on a further step.
  if (s.step() != kDone) return c.fail("insert");
  return std::optional<int64_t>(id);
}

void Database::countError() { ++tErrors; }

const char* topicName(Topic topic) {
  switch (topic) {
    case Topic::Identity:
      return "identity";
    case Topic::Content:
      return "content";
  }
  return "";
}

std::string notification(Topic topic, std::string_view key) {
  std::string payload = topicName(topic);
  payload += ':';
  payload += key;
  return payload;
}

Result<void> notify(Connection& c, Topic topic, std::string_view key) {
  if (c.dialect() != Dialect::Postgres) return {};
  auto s = c.prepare("SELECT pg_notify('berth_changes', ?)");
  if (!s) return s.takeError();
  (*s)->bind(1, notification(topic, key));
  return run(c, **s);
}

Result<std::shared_ptr<void>> Database::exclusive(std::string_view job) {
  // Jobs held in this process, by database and name.
  static std::mutex mutex;
  static std::set<std::string> held;
  std::string name = where() + "\n" + std::string(job);
  std::lock_guard lock(mutex);
  if (!held.insert(name).second) return std::shared_ptr<void>();
  return std::shared_ptr<void>(reinterpret_cast<void*>(1), [name](void*) {
    std::lock_guard lock(mutex);
    held.erase(name);
  });
}

std::shared_ptr<void> Database::subscribe(Topic topic,
                                          std::function<void(std::string_view key)> heard) {
  auto subscriber = std::make_shared<Subscriber>();
  subscriber->topic = topic;
  subscriber->heard = std::move(heard);
  {
    std::lock_guard lock(subscribersMutex_);
    subscribers_.push_back(subscriber);
  }
  // The watch ends when the handle goes, after a call in progress returns: nothing is called
  // once the handle's owner may be gone.
  auto self = weak_from_this();
  return std::shared_ptr<void>(subscriber.get(), [self, subscriber](void*) {
    {
      std::lock_guard calling(subscriber->calling);
      subscriber->watching = false;
    }
    if (auto db = self.lock()) {
      std::lock_guard lock(db->subscribersMutex_);
      std::erase(db->subscribers_, subscriber);
    }
  });
}

void Database::dispatch(Topic topic, std::string_view key) {
  std::vector<std::shared_ptr<Subscriber>> listening;
  {
    std::lock_guard lock(subscribersMutex_);
    for (const auto& s : subscribers_) {
      if (s->topic == topic) listening.push_back(s);
    }
  }
  for (const auto& s : listening) {
    std::lock_guard calling(s->calling);
    if (s->watching) s->heard(key);
  }
}

Database::~Database() = default;

Database::Lease::Lease(Database& db, std::unique_ptr<Connection> c, metrics::Operation op,
                       bool writer)
    : db_(db),
      c_(std::move(c)),
      op_(op),
      started_(std::chrono::steady_clock::now()),
      errorsBefore_(tErrors),
      writer_(writer) {}

Database::Lease::Lease(Lease&& other) noexcept
    : db_(other.db_),
      c_(std::move(other.c_)),
      op_(other.op_),
      started_(other.started_),
      errorsBefore_(other.errorsBefore_),
      writer_(other.writer_) {}

Database::Lease::~Lease() {
  if (!c_) return;
  op_.record(std::chrono::steady_clock::now() - started_, tErrors == errorsBefore_);
  db_.giveBack(std::move(c_), writer_);
}

void Database::giveBack(std::unique_ptr<Connection> c, bool writer) {
  if (writer) {
    // A transaction left open (a commit that failed and could not roll back) must not carry
    // over into the next change.
    if (c->inTransaction()) c->rollback();
    unlockWriter(*c);
    if (c->healthy()) writer_ = std::move(c);
    tHoldsWriter = false;
    writerMutex_.unlock();
    return;
  }
  {
    std::lock_guard lock(mutex_);
    if (c->healthy()) {
      idle_.push_back(std::move(c));
    } else {
      --readers_;
    }
  }
  returned_.notify_one();
}

Result<Database::Lease> Database::writer(const char* caller) {
  if (tHoldsWriter) {
    // A bug, answered as an error rather than a thread waiting for itself forever.
    log::error("metadata writer taken twice by one thread", {{"op", caller}});
    return makeError(ApiCode::Unknown, "metadata store error");
  }
  const auto op = operationOf(caller);
  std::unique_lock lock(writerMutex_);
  if (!writer_) {
    auto c = connect(false);
    if (!c) return c.takeError();
    writer_ = std::move(*c);
  }
  if (auto locked = lockWriter(*writer_); !locked) {
    // The connection may be the reason (dropped): the next writer starts on a new one.
    if (!writer_->healthy()) writer_.reset();
    return locked.takeError();
  }
  tHoldsWriter = true;
  lock.release();  // unlocked by giveBack, when the lease ends
  return Lease(*this, std::move(writer_), op, true);
}

Result<Database::Lease> Database::lease(const char* caller) {
  const auto op = operationOf(caller);
  {
    std::unique_lock lock(mutex_);
    // All in use: wait for one to come back, for as long as a statement may take at most.
    const bool available = returned_.wait_for(lock, std::chrono::seconds(30), [&] {
      return !idle_.empty() || maxReaders_ == 0 || readers_ < maxReaders_;
    });
    if (!available) {
      log::warn("no metadata connection free", {{"op", caller}, {"connections", readers_}});
      return makeError(ApiCode::Unknown, "metadata database busy", 503);
    }
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(c), op, false);
    }
    ++readers_;
  }
  auto c = connect(true);
  if (!c) {
    {
      std::lock_guard lock(mutex_);
      --readers_;
    }
    returned_.notify_one();
    return c.takeError();
  }
  return Lease(*this, std::move(*c), op, false);
}

}  // namespace berth::meta::sql
