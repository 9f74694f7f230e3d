// Read-only access to a copied SQLite database for the chat readers: values, an immutable
// connection (never a checkpoint, never a journal rollback) and the schema as readers see it.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace safehold::chat {

// One SQLite value, from a live row or from a recovered record.
struct Value {
  enum class Type { Null, Int, Real, Text, Blob };
  Type type = Type::Null;
  int64_t i = 0;
  double d = 0;
  std::string s;  // text or blob bytes

  bool null() const { return type == Type::Null; }
  bool is_number() const { return type == Type::Int || type == Type::Real; }
  bool is_text() const { return type == Type::Text; }
  std::optional<int64_t> as_int() const;
  std::optional<double> as_real() const;
  std::string as_text() const;  // "" for NULL; numbers in decimal; blobs as their bytes
};

struct Column {
  std::string name;
  std::string decl_type;  // as declared, upper case
  bool ipk = false;       // INTEGER PRIMARY KEY (an alias of the rowid, stored as NULL)
};

struct Table {
  std::string name;
  std::vector<Column> columns;  // in record order
  int64_t root_page = 0;
  bool without_rowid = false;
  bool virtual_table = false;
  std::optional<size_t> column(std::string_view name) const;  // case-insensitive
  bool has(std::string_view name) const { return column(name).has_value(); }
};

struct Schema {
  std::map<std::string, Table> tables;  // by lower-case name
  const Table* table(std::string_view name) const;
  bool has(std::string_view name) const { return table(name) != nullptr; }
};

using SqlitePtr = std::unique_ptr<sqlite3, decltype(&sqlite3_close)>;
using StmtPtr = std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)>;

// A statement; step() returns false at the end and throws std::runtime_error on errors.
class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& sql);
  bool step();
  int columns() const { return sqlite3_column_count(stmt_.get()); }
  Value value(int i) const;
  void fill(int i, Value& v) const;  // reuses v's buffer
  std::optional<int64_t> int_at(int i) const;
  std::string text_at(int i) const;
  bool null_at(int i) const { return sqlite3_column_type(stmt_.get(), i) == SQLITE_NULL; }
  void bind(int i, int64_t v) { sqlite3_bind_int64(stmt_.get(), i, v); }
  void reset() { sqlite3_reset(stmt_.get()); }
  sqlite3_stmt* raw() { return stmt_.get(); }

 private:
  sqlite3* db_;
  StmtPtr stmt_;
};

// An immutable read-only connection on a file that nothing else writes.
class Db {
 public:
  explicit Db(const std::filesystem::path& file);  // throws std::runtime_error
  sqlite3* raw() const { return db_.get(); }
  const Schema& schema() const { return schema_; }
  Stmt prepare(const std::string& sql) const { return Stmt(db_.get(), sql); }

 private:
  SqlitePtr db_;
  Schema schema_;
};

std::string quote_ident(std::string_view name);  // "name" with quotes doubled
std::string lower(std::string_view s);

}  // namespace safehold::chat
