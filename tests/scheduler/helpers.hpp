// Test helpers for the scheduler: a fresh queue database on SQLite or PostgreSQL.
#pragma once

#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "scheduler/queue.hpp"
#include "tests/common/support.hpp"

namespace safehold::test {

// A fresh, empty queue database (created, as by `safehold queue init`). For "postgresql" it is a
// new database in the cluster named by $SAFEHOLD_TEST_PG_URL (tests/services/postgres.sh), dropped
// on destruction.
class QueueDb {
 public:
  // nullopt (with a WARN) when kind is postgresql and SAFEHOLD_TEST_PG_URL is unset.
  static std::unique_ptr<QueueDb> make(const std::string& kind) {
    auto q = std::unique_ptr<QueueDb>(new QueueDb());
    q->kind_ = kind;
    if (kind == "sqlite") {
      q->url_ = (q->dir_.path() / "queue.db").string();
      scheduler::Store::open(q->url_);  // as `safehold queue init` does: the CLI needs the file
      return q;
    }
    const char* base = std::getenv("SAFEHOLD_TEST_PG_URL");
    if (!base || !*base) {
      WARN("skipped: SAFEHOLD_TEST_PG_URL is not set (tests/services/postgres.sh start)");
      return nullptr;
    }
    std::random_device rd;
    q->pg_name_ = "safehold_t" + std::to_string(rd()) + std::to_string(rd() % 100000);
    q->pg_base_ = base;
    must_run("psql " + shell_quote(base) + " -q -v ON_ERROR_STOP=1 -c " +
             shell_quote("CREATE DATABASE " + q->pg_name_));
    std::string b = base;
    auto slash = b.rfind('/');
    q->url_ = b.substr(0, slash + 1) + q->pg_name_;
    return q;
  }
  ~QueueDb() {
    if (!pg_name_.empty())
      run("psql " + shell_quote(pg_base_) + " -q -c " +
          shell_quote("DROP DATABASE IF EXISTS " + pg_name_ + " WITH (FORCE)"));
  }
  const std::string& url() const { return url_; }
  const std::string& kind() const { return kind_; }
  std::filesystem::path dir() const { return dir_.path(); }
  bool pg() const { return kind_ == "postgresql"; }
  // Runs SQL on the database with the backend's own client (sqlite3 or psql); returns stdout.
  RunResult sql(const std::string& statement) const {
    if (pg())
      return run("psql " + shell_quote(url_) + " -qAt -v ON_ERROR_STOP=1 -c " +
                 shell_quote(statement));
    return run("sqlite3 " + shell_quote(url_) + " " + shell_quote(statement));
  }
  std::string q() const { return "--db " + shell_quote(url_); }

 private:
  QueueDb() = default;
  TempDir dir_{"safehold-queue"};
  std::string kind_, url_, pg_name_, pg_base_;
};

// A store with a settable clock.
struct Clocked {
  std::unique_ptr<scheduler::Store> store;
  std::shared_ptr<int64_t> t = std::make_shared<int64_t>(1'790'000'000);
  explicit Clocked(const std::string& url) : store(scheduler::Store::open(url)) {
    auto tp = t;
    store->set_clock([tp] { return *tp; });
  }
  scheduler::Store* operator->() { return store.get(); }
  void advance(int64_t seconds) { *t += seconds; }
};

}  // namespace safehold::test

// Runs the rest of a test case once on SQLite and once on PostgreSQL (skipped without
// SAFEHOLD_TEST_PG_URL), with `db` the QueueDb.
#define BACKEND()                                                  \
  auto kind = GENERATE(as<std::string>{}, "sqlite", "postgresql"); \
  auto db = safehold::test::QueueDb::make(kind);                   \
  if (!db) return;                                                 \
  INFO("backend " << kind)
