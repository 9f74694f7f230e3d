#include "base/sqlite.hpp"

namespace safehold::base {

SqliteHandle sqlite_open(const std::string& name, int flags, const std::string& what) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(name.c_str(), &raw, flags, nullptr);
  SqliteHandle db(raw);  // owned before the check: a failed open still allocates
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(rc);
    throw SqliteError(what + ": cannot open as SQLite: " + msg, rc);
  }
  return db;
}

SqliteStmtHandle sqlite_prepare(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &raw, nullptr);
  SqliteStmtHandle st(raw);
  if (rc != SQLITE_OK) {
    std::string first = sql.substr(0, sql.find('\n'));
    throw SqliteError("SQLite cannot prepare \"" + first + "\": " + sqlite3_errmsg(db), rc);
  }
  return st;
}

void sqlite_exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    throw SqliteError("SQLite: " + msg, rc);
  }
}

}  // namespace safehold::base
