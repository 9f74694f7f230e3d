// The one owner of SQLite handles for every module: a connection owned from the moment
// sqlite3_open_v2 returns (a failed open still allocates), statements finalized on every path.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace safehold::base {

class SqliteError : public std::runtime_error {
 public:
  SqliteError(const std::string& what, int code) : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }  // the SQLite result code (SQLITE_BUSY, ...)

 private:
  int code_;
};

struct SqliteClose {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct SqliteFinalize {
  void operator()(sqlite3_stmt* st) const { sqlite3_finalize(st); }
};
using SqliteHandle = std::unique_ptr<sqlite3, SqliteClose>;
using SqliteStmtHandle = std::unique_ptr<sqlite3_stmt, SqliteFinalize>;

// Opens `name` (a path or, with SQLITE_OPEN_URI, a file: URI) with `flags`; throws SqliteError
// naming `what` (the input as the user knows it) and SQLite's message when it cannot.
SqliteHandle sqlite_open(const std::string& name, int flags, const std::string& what);

// Prepares one statement; throws SqliteError with the statement's first line on failure.
SqliteStmtHandle sqlite_prepare(sqlite3* db, const std::string& sql);

// Runs SQL without results (several statements allowed); throws SqliteError on failure.
void sqlite_exec(sqlite3* db, const std::string& sql);

}  // namespace safehold::base
