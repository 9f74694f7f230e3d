// Streaming readers for the four input formats; each pushes records into a HashSetWriter.
#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iterator>
#include <nlohmann/json.hpp>

#include "base/sqlite.hpp"
#include "hashset/hashset.hpp"

namespace safehold::hashset {

namespace {

constexpr size_t kChunk = 4 << 20;
constexpr size_t kMaxLine = 1 << 20;

// Reads a file in large chunks; the source of lines and of JSON characters.
class Reader {
 public:
  explicit Reader(const std::filesystem::path& path, std::function<void(uint64_t)> progress)
      : path_(path), progress_(std::move(progress)) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0)
      throw std::runtime_error(
          fmt::format("{}: cannot open: {}", path.string(), std::strerror(errno)));
    ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
    buf_.resize(kChunk + kMaxLine);
  }
  ~Reader() { ::close(fd_); }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // Next line without its end-of-line ("\n" or "\r\n"); false at the end of the file.
  bool next_line(std::string_view& line) {
    for (;;) {
      const char* start = buf_.data() + pos_;
      const char* nl = static_cast<const char*>(std::memchr(start, '\n', len_ - pos_));
      if (nl) {
        size_t n = static_cast<size_t>(nl - start);
        line = std::string_view(start, n);
        pos_ += n + 1;
        ++line_no_;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        return true;
      }
      if (eof_) {
        if (pos_ == len_) return false;
        line = std::string_view(start, len_ - pos_);
        pos_ = len_;
        ++line_no_;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        return true;
      }
      if (len_ - pos_ >= kMaxLine)
        throw ImportError(fmt::format("{}: line {}: longer than {} bytes", path_.string(),
                                      line_no_ + 1, kMaxLine),
                          line_no_ + 1);
      refill();
    }
  }

  // Next byte, or -1 at the end; counts lines for error messages.
  int get() {
    if (pos_ == len_) {
      if (eof_) return -1;
      refill();
      if (pos_ == len_) return -1;
    }
    char c = buf_[pos_++];
    if (c == '\n') ++line_no_;
    return static_cast<unsigned char>(c);
  }

  uint64_t line() const { return line_no_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  void refill() {
    // Keep the unread tail, then read a chunk after it.
    size_t tail = len_ - pos_;
    std::memmove(buf_.data(), buf_.data() + pos_, tail);
    pos_ = 0;
    len_ = tail;
    for (;;) {
      ssize_t r = ::read(fd_, buf_.data() + len_, buf_.size() - len_);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0)
        throw std::runtime_error(
            fmt::format("{}: read failed: {}", path_.string(), std::strerror(errno)));
      if (r == 0) eof_ = true;
      len_ += static_cast<size_t>(r);
      bytes_ += static_cast<uint64_t>(r);
      break;
    }
    if (progress_) progress_(bytes_);
  }

  std::filesystem::path path_;
  std::function<void(uint64_t)> progress_;
  int fd_ = -1;
  std::vector<char> buf_;
  size_t pos_ = 0, len_ = 0;
  bool eof_ = false;
  uint64_t line_no_ = 0;
  uint64_t bytes_ = 0;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string shorten(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 80))
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  if (s.size() > 80) out += "...";
  return out;
}

[[noreturn]] void malformed(const Reader& r, uint64_t line, const std::string& what) {
  throw ImportError(fmt::format("{}: line {}: {}", r.path().string(), line, what), line);
}

// Plain lists: one MD5, SHA-1 or SHA-256 a line, optionally followed by a category after a
// space, tab, comma or semicolon. Empty lines and lines starting with '#' are skipped.
void import_text(Reader& r, HashSetWriter& w) {
  std::string_view line;
  while (r.next_line(line)) {
    auto s = trim(line);
    if (s.empty() || s.front() == '#') continue;
    size_t cut = s.find_first_of(" \t,;");
    auto hex = s.substr(0, cut);
    std::string_view category;
    if (cut != std::string_view::npos) {
      category = trim(s.substr(cut + 1));
      if (category.size() >= 2 && category.front() == '"' && category.back() == '"')
        category = category.substr(1, category.size() - 2);
    }
    auto d = parse_digest(hex);
    if (!d)
      malformed(r, r.line(),
                fmt::format("\"{}\" is not an MD5, SHA-1 or SHA-256 hash (32, 40 or 64 hex digits)",
                            shorten(hex)));
    w.add(*d, w.category_id(category));
  }
}

// Splits one CSV line (RFC 4180 quoting, no embedded newlines) into at most `want` fields.
bool split_csv(std::string_view line, size_t want, std::vector<std::string>& fields) {
  fields.clear();
  size_t i = 0;
  while (fields.size() < want) {
    std::string f;
    if (i < line.size() && line[i] == '"') {
      ++i;
      for (;;) {
        if (i >= line.size()) return false;  // unterminated quote
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            f += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        f += line[i++];
      }
      if (i < line.size() && line[i] != ',') return false;
    } else {
      size_t end = line.find(',', i);
      if (end == std::string_view::npos) end = line.size();
      f.assign(line.substr(i, end - i));
      i = end;
    }
    fields.push_back(std::move(f));
    if (i >= line.size()) break;
    ++i;  // the comma
  }
  return true;
}

// NSRL RDS v2 NSRLFile.txt: CSV with a header naming "SHA-1" and "MD5" among its columns.
void import_nsrl(Reader& r, HashSetWriter& w) {
  std::string_view line;
  std::vector<std::string> fields;
  size_t sha1_col = SIZE_MAX, md5_col = SIZE_MAX;
  while (r.next_line(line)) {
    if (line.empty()) continue;
    if (!split_csv(line, 64, fields)) malformed(r, r.line(), "unbalanced quotes in the header");
    for (size_t i = 0; i < fields.size(); ++i) {
      std::string_view f = fields[i];
      if (r.line() == 1 && i == 0 && f.starts_with("\xEF\xBB\xBF")) f.remove_prefix(3);
      if (f == "SHA-1") sha1_col = i;
      if (f == "MD5") md5_col = i;
    }
    if (sha1_col == SIZE_MAX || md5_col == SIZE_MAX)
      malformed(r, r.line(),
                "not an NSRL NSRLFile.txt header (expected "
                "\"SHA-1\",\"MD5\",\"CRC32\",\"FileName\",...)");
    break;
  }
  if (sha1_col == SIZE_MAX) malformed(r, 1, "empty file: no NSRLFile.txt header");
  size_t want = std::max(sha1_col, md5_col) + 1;
  while (r.next_line(line)) {
    if (line.empty()) continue;
    if (!split_csv(line, want, fields)) malformed(r, r.line(), "unbalanced quotes");
    if (fields.size() < want)
      malformed(r, r.line(), fmt::format("{} fields, expected at least {}", fields.size(), want));
    auto sha1 = parse_digest(fields[sha1_col], Algo::sha1);
    if (!sha1) malformed(r, r.line(), fmt::format("bad SHA-1 \"{}\"", shorten(fields[sha1_col])));
    auto md5 = parse_digest(fields[md5_col], Algo::md5);
    if (!md5) malformed(r, r.line(), fmt::format("bad MD5 \"{}\"", shorten(fields[md5_col])));
    w.add(*sha1, 0);
    w.add(*md5, 0);
  }
}

// NSRL RDS v3: a SQLite database whose FILE table has sha256, sha1 and md5 columns.
void import_nsrl_v3(const std::filesystem::path& input, HashSetWriter& w,
                    const std::function<void(uint64_t)>& progress) {
  auto fail = [&](const std::string& what) {
    throw ImportError(fmt::format("{}: {}", input.string(), what), 0);
  };
  base::SqliteHandle db;
  try {
    db = base::sqlite_open(input.string(), SQLITE_OPEN_READONLY, input.string());
  } catch (const base::SqliteError& e) {
    throw ImportError(e.what(), 0);  // "INPUT: cannot open as SQLite: REASON"
  }
  auto prepare = [&](const std::string& sql) {
    try {
      return base::sqlite_prepare(db.get(), sql);
    } catch (const base::SqliteError&) {
      fail(fmt::format("not an NSRL RDS v3 database ({})", sqlite3_errmsg(db.get())));
    }
    return base::SqliteStmtHandle();
  };
  std::array<bool, kAlgoCount> has{};
  {
    auto info = prepare("PRAGMA table_info(FILE)");
    while (sqlite3_step(info.get()) == SQLITE_ROW) {
      std::string col = reinterpret_cast<const char*>(sqlite3_column_text(info.get(), 1));
      for (auto& ch : col) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (col == "md5") has[0] = true;
      if (col == "sha1") has[1] = true;
      if (col == "sha256") has[2] = true;
    }
  }
  if (!has[0] && !has[1] && !has[2])
    fail("not an NSRL RDS v3 database: no FILE table with md5, sha1 or sha256 columns");
  std::string cols;
  for (int a = 0; a < kAlgoCount; ++a)
    cols +=
        (cols.empty() ? "" : ", ") + std::string(has[a] ? to_string(static_cast<Algo>(a)) : "NULL");
  auto st = prepare("SELECT " + cols + " FROM FILE");
  uint64_t row = 0;
  for (;;) {
    int rc = sqlite3_step(st.get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW)
      throw ImportError(fmt::format("{}: row {}: SQLite error: {}", input.string(), row + 1,
                                    sqlite3_errmsg(db.get())),
                        row + 1);
    ++row;
    if (progress && row % (1 << 20) == 0) progress(row);
    bool any = false;
    for (int a = 0; a < kAlgoCount; ++a) {
      if (sqlite3_column_type(st.get(), a) == SQLITE_NULL) continue;
      auto* txt = reinterpret_cast<const char*>(sqlite3_column_text(st.get(), a));
      std::string_view v(txt ? txt : "", static_cast<size_t>(sqlite3_column_bytes(st.get(), a)));
      if (v.empty()) continue;
      auto d = parse_digest(v, static_cast<Algo>(a));
      if (!d)
        throw ImportError(fmt::format("{}: row {} of FILE: bad {} \"{}\"", input.string(), row,
                                      to_string(static_cast<Algo>(a)), shorten(v)),
                          row);
      w.add(*d, 0);
      any = true;
    }
    if (!any)
      throw ImportError(fmt::format("{}: row {} of FILE: no hash", input.string(), row), row);
  }
}

// An input iterator over a Reader, for nlohmann's SAX parser.
class ReaderIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = char;
  ReaderIterator() = default;
  explicit ReaderIterator(Reader* r) : r_(r) {}
  // Lazy: a byte is read only when the parser asks for it, so the line count stays exact.
  char operator*() const {
    fetch();
    return static_cast<char>(c_);
  }
  ReaderIterator& operator++() {
    fetch();
    fetched_ = false;
    return *this;
  }
  bool operator==(const ReaderIterator& o) const { return at_end() == o.at_end(); }
  bool operator!=(const ReaderIterator& o) const { return !(*this == o); }

 private:
  void fetch() const {
    if (!fetched_ && r_) {
      c_ = r_->get();
      fetched_ = true;
    }
  }
  bool at_end() const {
    fetch();
    return !r_ || c_ < 0;
  }
  Reader* r_ = nullptr;
  mutable int c_ = -1;
  mutable bool fetched_ = false;
};

// Project VIC VICS JSON (2.0 with @odata.context, or 1.x): value[] of Media objects with MD5,
// SHA1, Category and AlternativeHashes[{HashName, HashValue}] (for SHA-256).
class VicsSax : public nlohmann::json_sax<nlohmann::json> {
 public:
  VicsSax(Reader& r, HashSetWriter& w) : r_(r), w_(w) {}

  bool null() override { return scalar(std::nullopt); }
  bool boolean(bool v) override { return scalar(v ? "true" : "false"); }
  bool number_integer(number_integer_t v) override { return scalar(std::to_string(v)); }
  bool number_unsigned(number_unsigned_t v) override { return scalar(std::to_string(v)); }
  bool number_float(number_float_t v, const string_t& s) override {
    (void)v;
    return scalar(s);
  }
  bool string(string_t& v) override { return scalar(v); }
  bool binary(binary_t&) override { return scalar(std::nullopt); }

  bool start_object(std::size_t) override {
    ++depth_;
    if (depth_ == 3 && in_value_) media_ = Media{};
    if (depth_ == 5 && in_alt_) alt_ = Alt{};
    key_.clear();
    return true;
  }
  bool end_object() override {
    if (depth_ == 3 && in_value_) emit();
    if (depth_ == 5 && in_alt_ && alt_.name && alt_.value) {
      std::string n = *alt_.name;
      for (auto& ch : n) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      if (n == "SHA256" || n == "SHA-256") media_.sha256 = alt_.value;
    }
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    ++depth_;
    if (depth_ == 2 && (key_ == "value")) {
      in_value_ = true;
      seen_value_ = true;
    }
    if (depth_ == 4 && in_value_ && key_ == "AlternativeHashes") in_alt_ = true;
    return true;
  }
  bool end_array() override {
    if (depth_ == 2) in_value_ = false;
    if (depth_ == 4) in_alt_ = false;
    --depth_;
    return true;
  }
  bool key(string_t& k) override {
    key_ = k;
    return true;
  }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    std::string msg = ex.what();
    // "[json.exception.parse_error.101] parse error at line 3, column 5: syntax error ..."
    if (auto p = msg.find("] "); p != std::string::npos) msg = msg.substr(p + 2);
    malformed(r_, r_.line() + 1, "invalid JSON: " + msg);
  }

  bool seen_value() const { return seen_value_; }
  uint64_t media() const { return count_; }

 private:
  struct Media {
    std::optional<std::string> md5, sha1, sha256, category;
  };
  struct Alt {
    std::optional<std::string> name, value;
  };

  bool scalar(std::optional<std::string> v) {
    if (depth_ == 3 && in_value_) {
      if (key_ == "MD5")
        media_.md5 = v;
      else if (key_ == "SHA1")
        media_.sha1 = v;
      else if (key_ == "Category")
        media_.category = v;
    } else if (depth_ == 5 && in_alt_) {
      if (key_ == "HashName")
        alt_.name = v;
      else if (key_ == "HashValue")
        alt_.value = v;
    }
    return true;
  }

  void emit() {
    ++count_;
    uint64_t line = r_.line() + 1;
    uint16_t cat = w_.category_id(media_.category.value_or(""));
    bool any = false;
    auto add = [&](const std::optional<std::string>& v, Algo a, const char* field) {
      if (!v || v->empty()) return;
      auto d = parse_digest(*v, a);
      if (!d)
        malformed(r_, line, fmt::format("Media {}: bad {} \"{}\"", count_, field, shorten(*v)));
      w_.add(*d, cat);
      any = true;
    };
    add(media_.md5, Algo::md5, "MD5");
    add(media_.sha1, Algo::sha1, "SHA1");
    add(media_.sha256, Algo::sha256, "SHA-256");
    if (!any) malformed(r_, line, fmt::format("Media {} has neither MD5 nor SHA1", count_));
  }

  Reader& r_;
  HashSetWriter& w_;
  int depth_ = 0;
  bool in_value_ = false, in_alt_ = false, seen_value_ = false;
  std::string key_;
  Media media_;
  Alt alt_;
  uint64_t count_ = 0;
};

void import_vics(Reader& r, HashSetWriter& w) {
  VicsSax sax(r, w);
  nlohmann::json::sax_parse(ReaderIterator(&r), ReaderIterator(), &sax);
  if (!sax.seen_value())
    throw ImportError(
        fmt::format("{}: not VICS JSON: no top-level \"value\" array of Media", r.path().string()),
        0);
}

}  // namespace

ImportStats import_hashset(const std::filesystem::path& input, const std::filesystem::path& output,
                           const ImportOptions& opts) {
  std::string name = opts.name.empty() ? input.stem().string() : opts.name;
  bool ignorable = opts.ignorable || opts.format == Format::nsrl || opts.format == Format::nsrl_v3;
  HashSetWriter w(output, name, ignorable, std::string(to_string(opts.format)));
  if (opts.format == Format::nsrl_v3) {
    import_nsrl_v3(input, w, opts.progress);
  } else {
    Reader r(input, opts.progress);
    switch (opts.format) {
      case Format::text:
        import_text(r, w);
        break;
      case Format::nsrl:
        import_nsrl(r, w);
        break;
      case Format::vics:
        import_vics(r, w);
        break;
      case Format::nsrl_v3:
        break;
    }
  }
  return w.finish(opts.threads);
}

}  // namespace safehold::hashset
