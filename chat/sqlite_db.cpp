#include "chat/sqlite_db.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace safehold::chat {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string quote_ident(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::optional<int64_t> Value::as_int() const {
  switch (type) {
    case Type::Int:
      return i;
    case Type::Real:
      return static_cast<int64_t>(d);
    case Type::Text: {
      if (s.empty()) return std::nullopt;
      size_t pos = 0;
      try {
        int64_t v = std::stoll(s, &pos);
        if (pos == s.size()) return v;
      } catch (...) {
      }
      return std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

std::optional<double> Value::as_real() const {
  if (type == Type::Real) return d;
  if (type == Type::Int) return static_cast<double>(i);
  if (auto v = as_int()) return static_cast<double>(*v);
  return std::nullopt;
}

std::string Value::as_text() const {
  switch (type) {
    case Type::Null:
      return "";
    case Type::Int:
      return std::to_string(i);
    case Type::Real: {
      char buf[64];
      snprintf(buf, sizeof buf, "%.17g", d);
      return buf;
    }
    default:
      return s;
  }
}

std::optional<size_t> Table::column(std::string_view n) const {
  for (size_t k = 0; k < columns.size(); ++k) {
    const auto& c = columns[k].name;
    if (c.size() == n.size() && std::equal(c.begin(), c.end(), n.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        }))
      return k;
  }
  return std::nullopt;
}

const Table* Schema::table(std::string_view name) const {
  auto it = tables.find(lower(name));
  return it == tables.end() ? nullptr : &it->second;
}

Stmt::Stmt(sqlite3* db, const std::string& sql) : db_(db), stmt_(nullptr, &sqlite3_finalize) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &s, nullptr);
  stmt_.reset(s);
  if (rc != SQLITE_OK) throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(db));
}

bool Stmt::step() {
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
}

Value Stmt::value(int i) const {
  Value v;
  fill(i, v);
  return v;
}

void Stmt::fill(int i, Value& v) const {
  v.type = Value::Type::Null;
  v.s.clear();
  sqlite3_stmt* s = stmt_.get();
  switch (sqlite3_column_type(s, i)) {
    case SQLITE_INTEGER:
      v.type = Value::Type::Int;
      v.i = sqlite3_column_int64(s, i);
      break;
    case SQLITE_FLOAT:
      v.type = Value::Type::Real;
      v.d = sqlite3_column_double(s, i);
      break;
    case SQLITE_TEXT: {
      v.type = Value::Type::Text;
      auto p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
      v.s.assign(p ? p : "", static_cast<size_t>(sqlite3_column_bytes(s, i)));
      break;
    }
    case SQLITE_BLOB: {
      v.type = Value::Type::Blob;
      auto p = static_cast<const char*>(sqlite3_column_blob(s, i));
      int n = sqlite3_column_bytes(s, i);
      if (p && n > 0) v.s.assign(p, static_cast<size_t>(n));
      break;
    }
    default:
      break;
  }
}

std::optional<int64_t> Stmt::int_at(int i) const {
  return value(i).as_int();
}
std::string Stmt::text_at(int i) const {
  return value(i).as_text();
}

namespace {

std::string file_uri(const std::filesystem::path& p) {
  static const char* hex = "0123456789ABCDEF";
  std::string out = "file:";
  for (unsigned char c : std::filesystem::absolute(p).string()) {
    if (std::isalnum(c) || c == '/' || c == '.' || c == '-' || c == '_') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  // immutable: no locks, no -wal/-journal lookup, hence no checkpoint and no rollback.
  return out + "?immutable=1";
}

}  // namespace

Db::Db(const std::filesystem::path& file) : db_(nullptr, &sqlite3_close) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(file_uri(file).c_str(), &raw,
                           SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, nullptr);
  db_.reset(raw);  // a failed open still allocates a handle
  if (rc != SQLITE_OK)
    throw std::runtime_error(std::string("sqlite open: ") +
                             (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  sqlite3_exec(raw, "PRAGMA query_only=1", nullptr, nullptr, nullptr);

  Stmt master(raw, "SELECT name, rootpage, sql FROM sqlite_master WHERE type='table'");
  std::vector<Table> tables;
  while (master.step()) {
    Table t;
    t.name = master.text_at(0);
    t.root_page = master.int_at(1).value_or(0);
    std::string sql = lower(master.text_at(2));
    t.virtual_table = sql.rfind("create virtual", 0) == 0;
    t.without_rowid = sql.find("without rowid") != std::string::npos;
    tables.push_back(std::move(t));
  }
  for (auto& t : tables) {
    if (!t.virtual_table) {
      try {
        Stmt info(raw, "PRAGMA table_info(" + quote_ident(t.name) + ")");
        int pk_count = 0;
        while (info.step()) {
          Column c;
          c.name = info.text_at(1);
          c.decl_type = info.text_at(2);
          for (auto& ch : c.decl_type)
            ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
          c.ipk = info.int_at(5).value_or(0) == 1 && c.decl_type == "INTEGER";
          if (info.int_at(5).value_or(0) > 0) ++pk_count;
          t.columns.push_back(std::move(c));
        }
        if (pk_count != 1 || t.without_rowid)
          for (auto& c : t.columns) c.ipk = false;
      } catch (const std::exception&) {
        // A table whose declaration SQLite cannot read: keep its name, no columns.
      }
    }
    std::string key = lower(t.name);
    schema_.tables.emplace(key, std::move(t));
  }
}

}  // namespace safehold::chat
