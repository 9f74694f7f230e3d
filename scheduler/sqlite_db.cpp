// SQLite connection for the embedded store: WAL, a generous busy timeout, BEGIN IMMEDIATE.
#include "scheduler/db.hpp"
#include "scheduler/queue.hpp"

#include <fmt/core.h>
#include <sqlite3.h>

#include <filesystem>

namespace vigil::scheduler::detail {
namespace {

struct StmtFree {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
struct DbClose {
  void operator()(sqlite3* d) const { sqlite3_close_v2(d); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFree>;

// $N -> ?N (SQLite binds ?N by number); our SQL never holds '$' inside literals.
std::string translate(const std::string& sql) {
  std::string out = sql;
  for (auto& c : out)
    if (c == '$') c = '?';
  return out;
}

class SqliteDb : public Db {
 public:
  explicit SqliteDb(const std::string& path) {
    std::error_code ec;
    auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &raw,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                             nullptr);
    db_.reset(raw);  // owns the handle even when the open failed
    if (rc != SQLITE_OK)
      throw QueueError(QueueError::Kind::storage,
                       fmt::format("cannot open queue database {}: {}", path,
                                   raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
    sqlite3_busy_timeout(db_.get(), 60000);
    script("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
  }

  std::vector<Row> query(const std::string& sql, const std::vector<Param>& params) override {
    std::string text = translate(sql);
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_.get(), text.c_str(), static_cast<int>(text.size()), &raw,
                           nullptr) != SQLITE_OK)
      fail("prepare");
    StmtPtr st(raw);
    for (size_t i = 0; i < params.size(); ++i) {
      int idx = static_cast<int>(i + 1);
      const auto& p = params[i];
      if (std::holds_alternative<std::monostate>(p)) sqlite3_bind_null(st.get(), idx);
      else if (auto* n = std::get_if<int64_t>(&p)) sqlite3_bind_int64(st.get(), idx, *n);
      else {
        const auto& s = std::get<std::string>(p);
        sqlite3_bind_text(st.get(), idx, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
      }
    }
    std::vector<Row> rows;
    for (;;) {
      int rc = sqlite3_step(st.get());
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) {
        if (sqlite3_extended_errcode(db_.get()) == SQLITE_CONSTRAINT_UNIQUE ||
            sqlite3_extended_errcode(db_.get()) == SQLITE_CONSTRAINT_PRIMARYKEY)
          throw QueueError(QueueError::Kind::conflict, sqlite3_errmsg(db_.get()));
        fail("step");
      }
      Row r;
      int n = sqlite3_column_count(st.get());
      r.cells.reserve(static_cast<size_t>(n));
      for (int c = 0; c < n; ++c) {
        if (sqlite3_column_type(st.get(), c) == SQLITE_NULL) {
          r.cells.emplace_back(std::nullopt);
        } else {
          auto* t = reinterpret_cast<const char*>(sqlite3_column_text(st.get(), c));
          r.cells.emplace_back(std::string(t, static_cast<size_t>(sqlite3_column_bytes(st.get(), c))));
        }
      }
      rows.push_back(std::move(r));
    }
    return rows;
  }

  void script(const std::string& sql) override {
    char* err = nullptr;
    if (sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "unknown error";
      sqlite3_free(err);
      throw QueueError(QueueError::Kind::storage, "queue database: " + msg);
    }
  }
  void begin() override { script("BEGIN IMMEDIATE"); }
  void commit() override { script("COMMIT"); }
  void rollback() noexcept override {
    if (!sqlite3_get_autocommit(db_.get())) sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
  bool postgres() const override { return false; }

 private:
  [[noreturn]] void fail(const char* what) {
    throw QueueError(QueueError::Kind::storage,
                     fmt::format("queue database ({}): {}", what, sqlite3_errmsg(db_.get())));
  }
  std::unique_ptr<sqlite3, DbClose> db_;
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

std::unique_ptr<Db> open_sqlite(const std::string& path) { return std::make_unique<SqliteDb>(path); }

}  // namespace vigil::scheduler::detail
