// Internal: the small SQL connection interface the store's logic runs on, with a SQLite and a
// PostgreSQL (libpq) implementation. SQL is written with $1, $2… placeholders for both.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace safehold::scheduler::detail {

using Param = std::variant<std::monostate, int64_t, std::string>;
using Cell = std::optional<std::string>;

struct Row {
  std::vector<Cell> cells;
  const std::string& text(size_t i) const;  // "" for NULL
  int64_t integer(size_t i) const;          // 0 for NULL
  bool null(size_t i) const { return !cells.at(i); }
};

class Db {
 public:
  virtual ~Db() = default;
  virtual std::vector<Row> query(const std::string& sql, const std::vector<Param>& params = {}) = 0;
  // Runs the statement, then commits the transaction (PostgreSQL: in one round trip).
  virtual std::vector<Row> query_and_commit(const std::string& sql,
                                            const std::vector<Param>& params) {
    auto rows = query(sql, params);
    commit();
    return rows;
  }
  // Runs statements without parameters (schema).
  virtual void script(const std::string& sql) = 0;
  // Write transaction: SQLite BEGIN IMMEDIATE; PostgreSQL BEGIN (READ COMMITTED + row locks).
  virtual void begin() = 0;
  // Read transaction over one snapshot: SQLite BEGIN (deferred, the first read takes the WAL
  // snapshot); PostgreSQL REPEATABLE READ, READ ONLY. End it with rollback().
  virtual void begin_read() = 0;
  // How long to wait for a lock before failing as busy (QueueError::retry_after).
  virtual void set_busy_timeout(int ms) = 0;
  virtual int busy_timeout() const = 0;
  virtual void commit() = 0;
  virtual void rollback() noexcept = 0;
  virtual bool postgres() const = 0;
};

// path: a file name; creates the folder. Sets WAL, busy timeout, foreign keys.
std::unique_ptr<Db> open_sqlite(const std::string& path, int busy_timeout_ms);
std::unique_ptr<Db> open_postgres(const std::string& url, int busy_timeout_ms);

}  // namespace safehold::scheduler::detail

namespace safehold::scheduler::detail {
// Thrown for PostgreSQL serialization failures and deadlocks: the transaction is retried.
struct RetryTransaction {};
}  // namespace safehold::scheduler::detail
