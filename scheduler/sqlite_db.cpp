// SQLite connection for the embedded store: WAL, a generous busy timeout, BEGIN IMMEDIATE.
#include <fmt/core.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <thread>
#include <unordered_map>

#include "base/sqlite.hpp"
#include "scheduler/db.hpp"
#include "scheduler/queue.hpp"

namespace safehold::scheduler::detail {
namespace {

using base::SqliteError;
using StmtPtr = base::SqliteStmtHandle;

// $N -> ?N (SQLite binds ?N by number); our SQL never holds '$' inside literals.
std::string translate(const std::string& sql) {
  std::string out = sql;
  for (auto& c : out)
    if (c == '$') c = '?';
  return out;
}

class SqliteDb : public Db {
 public:
  SqliteDb(const std::string& path, int busy_ms) : busy_ms_(busy_ms) {
    std::error_code ec;
    auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    try {
      db_ = base::sqlite_open(
          path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, "");
    } catch (const SqliteError& e) {
      // base names the input before the reason (": cannot open as SQLite: REASON"); this error
      // names the queue database instead.
      std::string reason = e.what();
      const std::string prefix = ": cannot open as SQLite: ";
      if (reason.rfind(prefix, 0) == 0) reason.erase(0, prefix.size());
      throw QueueError(QueueError::Kind::storage,
                       fmt::format("cannot open queue database {}: {}", path, reason));
    }
    // Busy handler: short sleeps (0.1 ms growing to 2 ms) for up to busy_ms_. sqlite3_busy_timeout
    // sleeps 1, 2, 5 … 100 ms, so with several worker processes most of the time went to sleeping
    // after the lock was already free.
    sqlite3_busy_handler(db_.get(), &SqliteDb::busy, this);
    script("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
  }

  std::vector<Row> query(const std::string& sql, const std::vector<Param>& params) override {
    // Prepared statements are cached by SQL text and reset after use.
    sqlite3_stmt* stmt = nullptr;
    StmtPtr uncached;
    auto it = cache_.find(sql);
    if (it != cache_.end()) {
      stmt = it->second.get();
    } else {
      StmtPtr owned;
      try {
        owned = base::sqlite_prepare(db_.get(), translate(sql));
      } catch (const SqliteError&) {
        fail("prepare");
      }
      stmt = owned.get();
      if (cache_.size() < kMaxCached)
        cache_.emplace(sql, std::move(owned));
      else
        uncached = std::move(owned);
    }
    struct Reset {
      sqlite3_stmt* s;
      ~Reset() {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
      }
    } reset{stmt};
    for (size_t i = 0; i < params.size(); ++i) {
      int idx = static_cast<int>(i + 1);
      const auto& p = params[i];
      if (std::holds_alternative<std::monostate>(p))
        sqlite3_bind_null(stmt, idx);
      else if (auto* n = std::get_if<int64_t>(&p))
        sqlite3_bind_int64(stmt, idx, *n);
      else {
        const auto& s = std::get<std::string>(p);
        sqlite3_bind_text(stmt, idx, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
      }
    }
    std::vector<Row> rows;
    for (;;) {
      int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) {
        if (sqlite3_extended_errcode(db_.get()) == SQLITE_CONSTRAINT_UNIQUE ||
            sqlite3_extended_errcode(db_.get()) == SQLITE_CONSTRAINT_PRIMARYKEY)
          throw QueueError(QueueError::Kind::conflict, sqlite3_errmsg(db_.get()));
        fail("step");
      }
      Row r;
      int n = sqlite3_column_count(stmt);
      r.cells.reserve(static_cast<size_t>(n));
      for (int c = 0; c < n; ++c) {
        if (sqlite3_column_type(stmt, c) == SQLITE_NULL) {
          r.cells.emplace_back(std::nullopt);
        } else {
          auto* t = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
          r.cells.emplace_back(std::string(t, static_cast<size_t>(sqlite3_column_bytes(stmt, c))));
        }
      }
      rows.push_back(std::move(r));
    }
    return rows;
  }

  void script(const std::string& sql) override {
    try {
      base::sqlite_exec(db_.get(), sql);
    } catch (const SqliteError&) {
      if (is_busy()) throw_busy();
      throw QueueError(QueueError::Kind::storage,
                       std::string("queue database: ") + sqlite3_errmsg(db_.get()));
    }
  }
  void begin() override { script("BEGIN IMMEDIATE"); }
  void begin_read() override { script("BEGIN"); }
  void set_busy_timeout(int ms) override { busy_ms_ = ms; }
  int busy_timeout() const override { return busy_ms_; }
  void commit() override { script("COMMIT"); }
  void rollback() noexcept override {
    if (!sqlite3_get_autocommit(db_.get()))
      sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
  bool postgres() const override { return false; }

 private:
  static int busy(void* self, int count) {
    auto* db = static_cast<SqliteDb*>(self);
    auto now = std::chrono::steady_clock::now();
    if (count == 0) db->busy_since_ = now;
    if (now - db->busy_since_ >= std::chrono::milliseconds(db->busy_ms_)) return 0;
    std::this_thread::sleep_for(std::chrono::microseconds(count < 20 ? 100 : 2000));
    return 1;
  }
  bool is_busy() const { return (sqlite3_extended_errcode(db_.get()) & 0xff) == SQLITE_BUSY; }
  [[noreturn]] void throw_busy() const {
    throw QueueError(
        QueueError::Kind::storage,
        fmt::format("the queue database is locked by another writer (waited {} ms)", busy_ms_), 1);
  }
  [[noreturn]] void fail(const char* what) {
    if (is_busy()) throw_busy();
    throw QueueError(QueueError::Kind::storage,
                     fmt::format("queue database ({}): {}", what, sqlite3_errmsg(db_.get())));
  }
  static constexpr size_t kMaxCached = 256;
  int busy_ms_;
  std::chrono::steady_clock::time_point busy_since_{};
  base::SqliteHandle db_;  // declared first: destroyed after the statements
  std::unordered_map<std::string, StmtPtr> cache_;
};

}  // namespace

const std::string& Row::text(size_t i) const {
  static const std::string empty;
  const auto& c = cells.at(i);
  return c ? *c : empty;
}
int64_t Row::integer(size_t i) const {
  const auto& c = cells.at(i);
  if (!c || c->empty()) return 0;
  if (*c == "t") return 1;  // PostgreSQL booleans
  if (*c == "f") return 0;
  return std::stoll(*c);
}

std::unique_ptr<Db> open_sqlite(const std::string& path, int busy_timeout_ms) {
  return std::make_unique<SqliteDb>(path, busy_timeout_ms);
}

}  // namespace safehold::scheduler::detail
