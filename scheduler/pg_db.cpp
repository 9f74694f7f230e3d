// PostgreSQL connection through libpq for a shared lab database.
#include "scheduler/db.hpp"
#include "scheduler/queue.hpp"

#include <fmt/core.h>
#include <libpq-fe.h>

#include <cstring>
#include <unordered_map>

namespace vigil::scheduler::detail {
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
  explicit PgDb(const std::string& url) {
    conn_.reset(PQconnectdb(url.c_str()));
    if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) {
      std::string msg = conn_ ? PQerrorMessage(conn_.get()) : "out of memory";
      while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
      throw QueueError(QueueError::Kind::storage,
                       "cannot connect to the PostgreSQL queue database: " + msg);
    }
    script("SET client_min_messages TO warning");
  }

  std::vector<Row> query(const std::string& sql, const std::vector<Param>& params) override {
    std::vector<std::string> texts(params.size());
    std::vector<const char*> values(params.size(), nullptr);
    for (size_t i = 0; i < params.size(); ++i) {
      const auto& p = params[i];
      if (std::holds_alternative<std::monostate>(p)) continue;
      if (auto* n = std::get_if<int64_t>(&p)) texts[i] = std::to_string(*n);
      else texts[i] = std::get<std::string>(p);
      values[i] = texts[i].c_str();
    }
    // Statements are prepared once per connection (named, kept for the session) and executed by
    // name: parse and analysis are not repeated on every claim and completion.
    ResultPtr res;
    auto it = prepared_.find(sql);
    if (it == prepared_.end() && prepared_.size() < kMaxPrepared) {
      std::string name = "vigil_" + std::to_string(prepared_.size());
      ResultPtr prep(PQprepare(conn_.get(), name.c_str(), sql.c_str(),
                               static_cast<int>(params.size()), nullptr));
      check(prep.get());
      it = prepared_.emplace(sql, std::move(name)).first;
    }
    if (it != prepared_.end())
      res.reset(PQexecPrepared(conn_.get(), it->second.c_str(), static_cast<int>(params.size()),
                               values.data(), nullptr, nullptr, 0));
    else
      res.reset(PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(params.size()), nullptr,
                             values.data(), nullptr, nullptr, 0));
    check(res.get());
    std::vector<Row> rows;
    if (PQresultStatus(res.get()) != PGRES_TUPLES_OK) return rows;
    int n = PQntuples(res.get()), m = PQnfields(res.get());
    rows.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      Row r;
      r.cells.reserve(static_cast<size_t>(m));
      for (int c = 0; c < m; ++c) {
        if (PQgetisnull(res.get(), i, c)) r.cells.emplace_back(std::nullopt);
        else
          r.cells.emplace_back(std::string(PQgetvalue(res.get(), i, c),
                                           static_cast<size_t>(PQgetlength(res.get(), i, c))));
      }
      rows.push_back(std::move(r));
    }
    return rows;
  }

  void script(const std::string& sql) override {
    ResultPtr res(PQexec(conn_.get(), sql.c_str()));
    check(res.get());
  }
  void begin() override { script("BEGIN"); }
  void commit() override { script("COMMIT"); }
  void rollback() noexcept override {
    if (PQtransactionStatus(conn_.get()) != PQTRANS_IDLE) {
      PGresult* r = PQexec(conn_.get(), "ROLLBACK");
      PQclear(r);
    }
  }
  bool postgres() const override { return true; }

 private:
  void check(PGresult* r) {
    auto st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return;
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    std::string msg = PQerrorMessage(conn_.get());
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    if (state && (std::strcmp(state, "40001") == 0 || std::strcmp(state, "40P01") == 0))
      throw RetryTransaction{};
    if (state && std::strcmp(state, "23505") == 0)
      throw QueueError(QueueError::Kind::conflict, msg);
    throw QueueError(QueueError::Kind::storage, "queue database: " + msg);
  }
  static constexpr size_t kMaxPrepared = 256;
  std::unique_ptr<PGconn, ConnClose> conn_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL text -> statement name
};

}  // namespace

std::unique_ptr<Db> open_postgres(const std::string& url) { return std::make_unique<PgDb>(url); }

}  // namespace vigil::scheduler::detail
