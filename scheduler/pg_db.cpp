// PostgreSQL connection through libpq for a shared lab database.
#include <fmt/core.h>
#include <libpq-fe.h>

#include <cstring>
#include <unordered_map>

#include "scheduler/db.hpp"
#include "scheduler/queue.hpp"

namespace safehold::scheduler::detail {
namespace {

struct ConnClose {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultClear {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultClear>;

class PgDb : public Db {
 public:
  PgDb(const std::string& url, int busy_ms) {
    conn_.reset(PQconnectdb(url.c_str()));
    if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) {
      std::string msg = conn_ ? PQerrorMessage(conn_.get()) : "out of memory";
      while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
      throw QueueError(QueueError::Kind::storage,
                       "cannot connect to the PostgreSQL queue database: " + msg);
    }
    // UTF-8 both ways: the audit chain hashes the same bytes on every store and back-end (the
    // records it reads back to seal included, store.cpp), whatever PGCLIENTENCODING says.
    script("SET client_min_messages TO warning; SET client_encoding TO 'UTF8'");
    set_busy_timeout(busy_ms);
  }

  std::vector<Row> query(const std::string& sql, const std::vector<Param>& params) override {
    bool with_begin = begin_pending_;
    begin_pending_ = false;
    return run(sql, params, with_begin, false);
  }

  std::vector<Row> query_and_commit(const std::string& sql,
                                    const std::vector<Param>& params) override {
    bool with_begin = begin_pending_;
    begin_pending_ = false;
    return run(sql, params, with_begin, true);
  }

  void script(const std::string& sql) override {
    flush_begin();
    ResultPtr res(PQexec(conn_.get(), sql.c_str()));
    check(res.get());
  }
  // BEGIN is sent with the transaction's first statement, and COMMIT may go with its last one
  // (query_and_commit): one round trip less at each end of every short write transaction.
  void begin() override { begin_pending_ = true; }
  void begin_read() override {
    begin_pending_ = false;
    script("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
  }
  void set_busy_timeout(int ms) override {
    busy_ms_ = ms;
    script(fmt::format("SET lock_timeout = {}", ms > 0 ? ms : 1));
  }
  int busy_timeout() const override { return busy_ms_; }
  void commit() override {
    if (begin_pending_) {  // nothing was run in the transaction
      begin_pending_ = false;
      return;
    }
    script("COMMIT");
  }
  void rollback() noexcept override {
    begin_pending_ = false;
    if (PQtransactionStatus(conn_.get()) != PQTRANS_IDLE) {
      PGresult* r = PQexec(conn_.get(), "ROLLBACK");
      PQclear(r);
    }
  }
  bool postgres() const override { return true; }

 private:
  void flush_begin() {
    if (!begin_pending_) return;
    begin_pending_ = false;
    ResultPtr res(PQexec(conn_.get(), "BEGIN"));
    check(res.get());
  }

  // Runs one statement (prepared once per connection and executed by name: parse and analysis
  // are not repeated on every claim and completion), with BEGIN before it and/or COMMIT after it
  // in the same pipeline when asked.
  std::vector<Row> run(const std::string& sql, const std::vector<Param>& params, bool with_begin,
                       bool with_commit) {
    std::vector<std::string> texts(params.size());
    std::vector<const char*> values(params.size(), nullptr);
    for (size_t i = 0; i < params.size(); ++i) {
      const auto& p = params[i];
      if (std::holds_alternative<std::monostate>(p)) continue;
      if (auto* n = std::get_if<int64_t>(&p))
        texts[i] = std::to_string(*n);
      else
        texts[i] = std::get<std::string>(p);
      values[i] = texts[i].c_str();
    }
    auto it = prepared_.find(sql);
    if (it == prepared_.end() && prepared_.size() < kMaxPrepared) {
      std::string name = "safehold_" + std::to_string(prepared_.size());
      ResultPtr prep(PQprepare(conn_.get(), name.c_str(), sql.c_str(),
                               static_cast<int>(params.size()), nullptr));
      if (with_begin) begin_pending_ = true;  // keep BEGIN for the statement if this throws
      check(prep.get());
      begin_pending_ = false;
      it = prepared_.emplace(sql, std::move(name)).first;
    }
    const int n_params = static_cast<int>(params.size());
    if (!with_begin && !with_commit) {
      ResultPtr res(it != prepared_.end()
                        ? PQexecPrepared(conn_.get(), it->second.c_str(), n_params, values.data(),
                                         nullptr, nullptr, 0)
                        : PQexecParams(conn_.get(), sql.c_str(), n_params, nullptr, values.data(),
                                       nullptr, nullptr, 0));
      check(res.get());
      return rows_of(res.get());
    }
    PGconn* c = conn_.get();
    if (PQenterPipelineMode(c) != 1) fail_connection("cannot enter pipeline mode");
    bool sent =
        (!with_begin ||
         PQsendQueryParams(c, "BEGIN", 0, nullptr, nullptr, nullptr, nullptr, 0) == 1) &&
        (it != prepared_.end() ? PQsendQueryPrepared(c, it->second.c_str(), n_params, values.data(),
                                                     nullptr, nullptr, 0) == 1
                               : PQsendQueryParams(c, sql.c_str(), n_params, nullptr, values.data(),
                                                   nullptr, nullptr, 0) == 1) &&
        (!with_commit ||
         PQsendQueryParams(c, "COMMIT", 0, nullptr, nullptr, nullptr, nullptr, 0) == 1) &&
        PQpipelineSync(c) == 1;
    if (!sent) {
      std::string msg = PQerrorMessage(c);
      drain();
      PQexitPipelineMode(c);
      fail_connection(msg);
    }
    // Results: one per command (each followed by a null), then the sync.
    std::vector<ResultPtr> results;
    int commands = (with_begin ? 1 : 0) + 1 + (with_commit ? 1 : 0);
    for (int i = 0; i < commands; ++i) {
      ResultPtr r(PQgetResult(c));
      results.push_back(std::move(r));
      while (PGresult* extra = PQgetResult(c)) PQclear(extra);
    }
    drain();
    PQexitPipelineMode(c);
    for (auto& r : results) {
      if (r && PQresultStatus(r.get()) == PGRES_PIPELINE_ABORTED) continue;
      check(r.get());
    }
    return rows_of(results[with_begin ? 1 : 0].get());
  }

  // Reads up to and including the pipeline's sync result.
  void drain() {
    for (int nulls = 0; nulls < 8;) {
      PGresult* r = PQgetResult(conn_.get());
      if (!r) {
        if (PQstatus(conn_.get()) != CONNECTION_OK) return;
        ++nulls;
        continue;
      }
      bool sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
      PQclear(r);
      if (sync) return;
    }
  }

  [[noreturn]] void fail_connection(std::string msg) {
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    throw QueueError(QueueError::Kind::storage, "queue database: " + msg);
  }

  static std::vector<Row> rows_of(PGresult* res) {
    std::vector<Row> rows;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) return rows;
    int n = PQntuples(res), m = PQnfields(res);
    rows.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      Row r;
      r.cells.reserve(static_cast<size_t>(m));
      for (int col = 0; col < m; ++col) {
        if (PQgetisnull(res, i, col))
          r.cells.emplace_back(std::nullopt);
        else
          r.cells.emplace_back(
              std::string(PQgetvalue(res, i, col), static_cast<size_t>(PQgetlength(res, i, col))));
      }
      rows.push_back(std::move(r));
    }
    return rows;
  }

  void check(PGresult* r) {
    auto st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return;
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    std::string msg =
        r && *PQresultErrorMessage(r) ? PQresultErrorMessage(r) : PQerrorMessage(conn_.get());
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    if (state && (std::strcmp(state, "40001") == 0 || std::strcmp(state, "40P01") == 0))
      throw RetryTransaction{};
    if (state && std::strcmp(state, "23505") == 0)
      throw QueueError(QueueError::Kind::conflict, msg);
    if (state && std::strcmp(state, "55P03") == 0)  // lock_not_available: lock_timeout passed
      throw QueueError(
          QueueError::Kind::storage,
          fmt::format("the queue database is locked by another writer (waited {} ms)", busy_ms_),
          1);
    throw QueueError(QueueError::Kind::storage, "queue database: " + msg);
  }
  bool begin_pending_ = false;
  int busy_ms_ = 0;
  static constexpr size_t kMaxPrepared = 256;
  std::unique_ptr<PGconn, ConnClose> conn_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL text -> statement name
};

}  // namespace

std::unique_ptr<Db> open_postgres(const std::string& url, int busy_timeout_ms) {
  return std::make_unique<PgDb>(url, busy_timeout_ms);
}

}  // namespace safehold::scheduler::detail
