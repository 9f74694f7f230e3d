// ChatExtractor: opens each database copy without ever letting SQLite write (WAL applied by hand
// into a private copy, then an immutable connection), picks the reader by schema, writes the
// normalised messages, then recovers deleted records for the same tables.
#include <unistd.h>

#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>

#include "chat/contract.hpp"
#include "chat/output.hpp"
#include "chat/reader.hpp"
#include "chat/recover.hpp"
#include "chat/sqlite_format.hpp"

namespace safehold::chat {

namespace {

// A private temporary folder, removed with its content.
class PrivateDir {
 public:
  explicit PrivateDir(const std::filesystem::path& parent) {
    std::string templ = (parent / ".chat-tmp-XXXXXX").string();
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data()))
      throw std::runtime_error("cannot create a temporary folder in " + parent.string());
    path_ = buf.data();
  }
  ~PrivateDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  PrivateDir(const PrivateDir&) = delete;
  PrivateDir& operator=(const PrivateDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string head_bytes(const std::filesystem::path& p, size_t n) {
  std::ifstream in(p, std::ios::binary);
  std::string s(n, '\0');
  in.read(s.data(), static_cast<std::streamsize>(n));
  s.resize(static_cast<size_t>(in.gcount()));
  return s;
}

// Shannon entropy in bits a byte of the first 64 KiB.
double entropy(const std::string& s) {
  if (s.empty()) return 0;
  size_t counts[256] = {};
  for (unsigned char c : s) ++counts[c];
  double h = 0;
  for (size_t c : counts)
    if (c) {
      double p = static_cast<double>(c) / static_cast<double>(s.size());
      h -= p * std::log2(p);
    }
  return h;
}

std::string lower_name(const std::string& s) {
  return chat::lower(s);
}

// An encrypted store looks like random bytes where a SQLite header should be. The app is named
// from the stored path when it says so; the verdict itself comes from the content.
std::optional<std::string> encrypted_app(const DatabaseFound& db, const std::string& head) {
  if (head.size() < 1024 || entropy(head) < 7.2) return std::nullopt;
  std::string name = lower_name(db.db_path.empty() ? db.file.filename().string() : db.db_path);
  if (name.find("signal") != std::string::npos) return "signal";
  if (name.find("msgstore") != std::string::npos || name.find(".crypt") != std::string::npos)
    return "whatsapp";
  if (name.find("threema") != std::string::npos) return "threema";
  if (name.find("wickr") != std::string::npos) return "wickr";
  return "unknown";
}

// Formats and writes messages on a thread of its own while the caller reads the next rows:
// formatting (JSON and CSV escaping, UTF-8 checks) costs as much as SQLite's row loop. Messages
// go over in batches, in order; slots are reused so their strings keep their capacity.
class AsyncWriter {
 public:
  AsyncWriter(MessageWriter& w, const ChatContext& ctx) : w_(w), ctx_(ctx), t_([this] { run(); }) {}
  ~AsyncWriter() {
    {
      std::lock_guard<std::mutex> g(m_);
      quit_ = true;
    }
    cv_.notify_all();
    t_.join();
  }
  AsyncWriter(const AsyncWriter&) = delete;
  AsyncWriter& operator=(const AsyncWriter&) = delete;

  // The next free slot, reset; commit() keeps it, anything else leaves it for the next row.
  Message& slot() {
    Batch& b = batches_[fill_];
    if (b.n == b.msgs.size()) b.msgs.emplace_back();
    Message& m = b.msgs[b.n];
    m.reset();
    return m;
  }
  // Keeps the slot; `found` must outlive the next drain() (process() drains before it returns).
  void commit(const DatabaseFound& found) {
    Batch& b = batches_[fill_];
    b.found = &found;
    if (++b.n == kBatch) hand_over();
  }
  // Writes everything committed so far; rethrows a failure of the writing thread.
  void drain() {
    if (batches_[fill_].n) hand_over();
    std::unique_lock<std::mutex> l(m_);
    cv_.wait(l, [&] { return !pending_; });
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  static constexpr size_t kBatch = 2048;
  struct Batch {
    std::vector<Message> msgs;
    size_t n = 0;
    const DatabaseFound* found = nullptr;
  };

  void hand_over() {
    std::unique_lock<std::mutex> l(m_);
    cv_.wait(l, [&] { return !pending_; });  // the writer is done with the other batch
    pending_ = true;
    writing_ = fill_;
    fill_ ^= 1;
    batches_[fill_].n = 0;
    cv_.notify_all();
  }

  void run() {
    for (;;) {
      size_t k;
      {
        std::unique_lock<std::mutex> l(m_);
        cv_.wait(l, [&] { return pending_ || quit_; });
        if (!pending_) return;
        k = writing_;
      }
      Batch& b = batches_[k];
      try {
        if (!error_)
          for (size_t i = 0; i < b.n; ++i) w_.write(*b.found, b.msgs[i], ctx_);
      } catch (...) {
        error_ = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> g(m_);
        pending_ = false;
      }
      cv_.notify_all();
    }
  }

  MessageWriter& w_;
  const ChatContext& ctx_;
  Batch batches_[2];
  size_t fill_ = 0, writing_ = 1;
  bool pending_ = false, quit_ = false;
  std::exception_ptr error_;
  std::mutex m_;
  std::condition_variable cv_;
  std::thread t_;  // last: starts once everything above exists
};

}  // namespace

struct ChatExtractor::Impl {
  struct SourceStats;
  static std::string no_messages_warning(const DatabaseResult& res,
                                         const std::vector<SourceStats>& stats);

  ChatContext ctx;
  MessageWriter writer;
  AsyncWriter async{writer, ctx};
  explicit Impl(ChatContext c) : ctx(std::move(c)), writer(ctx.outdir) {}

  // What one source gave, for the warning when a recognised database yields no message.
  struct SourceStats {
    std::string table;
    uint64_t rows = 0, kept = 0, candidates = 0, recovered = 0;
    bool missing = false;
  };

  SourceStats read_source(const Db& db, const DatabaseFound& found, const std::string& app,
                          Source& src, DatabaseResult& res, RecoveryContext* rec) {
    SourceStats stats;
    stats.table = src.table;
    const Table* t = db.schema().table(src.table);
    if (!t) {
      stats.missing = true;
      return stats;
    }
    std::vector<std::string> exprs = {t->without_rowid ? "NULL" : "rowid"};
    std::vector<std::optional<size_t>> cols;
    for (auto& c : src.columns) {
      auto idx = t->column(c);
      cols.push_back(idx);
      exprs.push_back(idx ? quote_ident(t->columns[*idx].name) : "NULL");
    }
    std::vector<TimeScale> scales(src.columns.size());
    for (auto& [k, hint] : src.times) {
      if (k >= src.columns.size() || !cols[k]) continue;
      std::vector<long double> sample;
      try {
        Stmt st = db.prepare("SELECT " + exprs[k + 1] + " FROM " + quote_ident(t->name) +
                             " WHERE " + exprs[k + 1] + " <> 0 AND typeof(" + exprs[k + 1] +
                             ") IN ('integer','real') LIMIT 201");
        while (st.step()) {
          Value v = st.value(0);
          if (v.type == Value::Type::Int)
            sample.push_back(static_cast<long double>(v.i));
          else if (auto d = v.as_real())
            sample.push_back(*d);
        }
      } catch (const std::exception&) {
      }
      scales[k] = detect_scale(sample, hint);
    }
    std::string sql = "SELECT ";
    for (size_t k = 0; k < exprs.size(); ++k) sql += (k ? "," : "") + exprs[k];
    sql += " FROM " + quote_ident(t->name);
    std::vector<Value> values(src.columns.size());
    try {
      Stmt st = db.prepare(sql);
      while (st.step()) {
        std::optional<int64_t> rowid;
        ++stats.rows;
        if (sqlite3_column_type(st.raw(), 0) == SQLITE_INTEGER)
          rowid = sqlite3_column_int64(st.raw(), 0);
        for (size_t k = 0; k < values.size(); ++k) st.fill(static_cast<int>(k + 1), values[k]);
        Message& m = async.slot();
        m.app = app;
        m.table = t->name;
        m.row = rowid;
        if (!src.map(Row(values, rowid, scales), m)) continue;
        async.commit(found);
        ++res.messages;
        ++stats.kept;
      }
    } catch (const std::exception& e) {
      res.errors.push_back(t->name + ": " + e.what());
    }
    if (rec) {
      try {
        for (auto& r : rec->recover(*t, cols)) {
          ++stats.candidates;
          Message& m = async.slot();
          m.app = app;
          m.table = t->name;
          m.row = r.rowid;
          m.recovered = true;
          m.location = r.location;
          m.recovered_from = r.from;
          if (!src.map(Row(r.values, r.rowid, scales), m)) continue;
          async.commit(found);
          ++res.messages;
          ++res.recovered;
          ++stats.recovered;
        }
      } catch (const std::exception& e) {
        res.errors.push_back(t->name + ": recovery: " + e.what());
      }
    }
    return stats;
  }

  DatabaseResult process(const DatabaseFound& found) {
    DatabaseResult res;
    std::string head = head_bytes(found.file, 65536);
    if (head.empty()) {
      res.errors.push_back("empty or unreadable database file");
      return res;
    }
    if (!parse_header(head)) {
      if (auto app = encrypted_app(found, head)) {
        res.app = *app == "unknown" ? "" : *app;
        res.reader = "encrypted";
        res.encrypted = true;
        res.errors.push_back("encrypted store: contents not readable without the key");
      } else {
        res.errors.push_back("not a SQLite database (bad header)");
      }
      return res;
    }
    std::optional<PrivateDir> tmp;
    std::filesystem::path open_path = found.file;
    std::string wal_bytes;
    Wal wal;
    if (found.wal) {
      try {
        wal_bytes = read_file_bytes(*found.wal);
        wal = read_wal(wal_bytes);
        if (!wal.error.empty()) res.errors.push_back("wal: " + wal.error);
        auto hdr = parse_header(head);
        if (wal.page_size && hdr && wal.page_size != hdr->page_size) {
          res.errors.push_back("wal: page size differs from the database's; WAL ignored");
          wal = Wal{};
        }
        if (wal.db_pages) {
          tmp.emplace(ctx.outdir);
          open_path = tmp->path() / "applied.db";
          apply_wal(found.file, wal_bytes, wal, open_path);
        }
      } catch (const std::exception& e) {
        res.errors.push_back(std::string("wal: ") + e.what());
        open_path = found.file;
      }
    }
    std::unique_ptr<Db> db;
    try {
      db = std::make_unique<Db>(open_path);
    } catch (const std::exception& e) {
      res.errors.push_back(e.what());
      return res;
    }
    auto reader = pick_reader(db->schema());
    if (!reader) return res;
    res.app = reader->app();
    res.reader = reader->name();
    std::vector<Source> sources;
    try {
      sources = reader->sources(*db, res.errors);
    } catch (const std::exception& e) {
      res.errors.push_back(e.what());
      return res;
    }
    std::unique_ptr<RecoveryContext> rec;
    try {
      rec = std::make_unique<RecoveryContext>(found.file, open_path, wal_bytes, wal, found.journal);
    } catch (const std::exception& e) {
      res.errors.push_back(std::string("recovery: ") + e.what());
    }
    std::vector<SourceStats> stats;
    for (auto& src : sources) {
      std::string app = src.generic ? "generic" : res.app;
      stats.push_back(read_source(*db, found, app, src, res, rec.get()));
    }
    if (res.messages == 0) res.warnings.push_back(no_messages_warning(res, stats));
    return res;
  }
};

// Says which tables were read and why none gave a message, so that "0 messages" is never
// silent.
std::string ChatExtractor::Impl::no_messages_warning(const DatabaseResult& res,
                                                     const std::vector<SourceStats>& stats) {
  std::string w = "recognised as " + res.app + " (reader " + res.reader + ") but 0 messages: ";
  if (stats.empty()) return w + "no message table holds text or message rows";
  for (size_t k = 0; k < stats.size(); ++k) {
    const SourceStats& s = stats[k];
    if (k) w += "; ";
    w += "table " + s.table;
    if (s.missing) {
      w += " missing";
      continue;
    }
    w += " holds " + std::to_string(s.rows) + (s.rows == 1 ? " row" : " rows");
    if (s.rows > s.kept)
      w += ", " + std::to_string(s.rows - s.kept) +
           " not messages (placeholder, system or duplicate rows)";
    w += ", " + std::to_string(s.candidates) + " deleted records found";
  }
  return w;
}

ChatExtractor::ChatExtractor(ChatContext ctx) : impl_(std::make_unique<Impl>(std::move(ctx))) {}
ChatExtractor::~ChatExtractor() {
  try {
    if (impl_) impl_->async.drain();
  } catch (...) {
  }
  try {
    if (impl_) impl_->writer.close();
  } catch (...) {
  }
}

DatabaseResult ChatExtractor::process(const DatabaseFound& db) {
  DatabaseResult res;
  try {
    res = impl_->process(db);
  } catch (const std::exception& e) {
    res = DatabaseResult{};
    res.errors.push_back(e.what());
  }
  try {
    impl_->async.drain();  // the queued messages point at `db`: all written before returning
  } catch (const std::exception& e) {
    res.errors.push_back(std::string("writing messages: ") + e.what());
  }
  return res;
}

void ChatExtractor::finish() {
  impl_->async.drain();
  impl_->writer.close();
}

}  // namespace safehold::chat
