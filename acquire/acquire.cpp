// The imaging pipeline:
//   reader thread   reads blocks of whole chunks (O_DIRECT for block devices; retries, then
//                   narrows down to single sectors and zero-fills only those that stay unreadable)
//   hash threads    one per digest (MD5, SHA-1, SHA-256), each over the blocks in order
//   compressors     one per core, whole blocks of chunks, any order
//   this thread     writes the chunks in order through libewf, saves resume checkpoints
// A fixed pool of blocks bounds memory; every block goes back to the pool once written and hashed.
// Measured (docs/BENCHMARKS.md): a larger pool (64-256 MiB, for the reader to run ahead into
// costly stretches) cost more than it gave here, and running the compressors and the other digests
// at a lower priority than MD5 (SAFEHOLD_ACQUIRE_NICE) gave nothing measurable with O_DIRECT reads.
#include "acquire/acquire.hpp"

#include <fmt/core.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

#include "acquire/compress.hpp"
#include "acquire/ewf_writer.hpp"
#include "acquire/hash_state.hpp"
#include "acquire/log.hpp"
#include "acquire/source.hpp"
#include "base/format.hpp"
#include "base/hash.hpp"
#include "base/json.hpp"
#include "base/version.hpp"
#include "fs/evidence.hpp"
#include "fs/json.hpp"

namespace safehold::acquire {

namespace fsys = std::filesystem;
using nlohmann::json;

const char* to_string(Compression c) {
  switch (c) {
    case Compression::none:
      return "none";
    case Compression::fast:
      return "fast";
    case Compression::best:
      return "best";
  }
  return "?";
}

uint32_t choose_sectors_per_chunk(uint64_t size, uint32_t sector_size) {
  // libewf 20140813 refuses 2^27 chunks and more (docs/REFERENCES.md); stay well below.
  constexpr uint64_t kMaxChunks = (1ull << 26) + (1ull << 24);
  uint32_t spc = 64;
  while (spc < 32768 && size / (static_cast<uint64_t>(spc) * sector_size) >= kMaxChunks) spc *= 2;
  return spc;
}

fsys::path base_of_image(const fsys::path& image) {
  std::string ext = image.extension().string();
  if (ext.size() == 4 && (ext[1] == 'E' || ext[1] == 'e'))
    return image.parent_path() / image.stem();
  return image;
}

namespace {

constexpr size_t kBlockBytes = 4u << 20;

constexpr unsigned kSnapshotEvery = 16;  // blocks (64 MiB at 4 MiB blocks)
constexpr size_t kSnapshotsKept = 128;

std::vector<base::HashAlgo> algos_of(unsigned bits) {
  std::vector<base::HashAlgo> out;
  for (auto a : {base::HashAlgo::md5, base::HashAlgo::sha1, base::HashAlgo::sha256})
    if (bits & static_cast<unsigned>(a)) out.push_back(a);
  return out;
}

void write_file_atomic(const fsys::path& p, const std::string& text) {
  fsys::path tmp = p;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) throw AcquireError(AcquireError::Kind::failed, tmp.string() + ": cannot write");
  }
  fsys::rename(tmp, p);
}

// Blocks in the pool: 4 + 3 per compressor, or SAFEHOLD_ACQUIRE_POOL_MIB (a tuning knob, at most
// 1/16 of the memory). Every block is touched once; more blocks cost page faults and cache misses.
size_t pool_blocks(size_t block_bytes, unsigned workers) {
  const size_t base = 4 + 3 * workers;
  const char* env = std::getenv("SAFEHOLD_ACQUIRE_POOL_MIB");
  if (!env) return base;
  uint64_t want = std::strtoull(env, nullptr, 10) << 20;
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0)
    want =
        std::min<uint64_t>(want, static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) / 16);
  return std::max<size_t>(base, static_cast<size_t>(want / block_bytes));
}

struct Block {
  uint64_t offset = 0;
  size_t len = 0;
  struct FreeBytes {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::unique_ptr<std::byte, FreeBytes>
      data;  // not zeroed: the reader fills it; 4096-aligned (O_DIRECT)
  size_t capacity = 0;
  std::vector<CompressedChunk> chunks;
  std::vector<BadRange> bad;  // found in this block
  int hashes_left = 0;
  bool compressed = false;
  std::map<base::HashAlgo, std::string>
      snapshot;  // hash states after this block, when a checkpoint
};

// Per-thread busy/wait figures, printed to stderr when SAFEHOLD_ACQUIRE_STATS is set (a tuning aid:
// docs/BENCHMARKS.md explains how they were used).
struct StageStats {
  std::string name;
  uint64_t wait_ns = 0, cpu_ns = 0, wall_ns = 0;
};

uint64_t now_ns(clockid_t c) {
  timespec ts{};
  clock_gettime(c, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// Measures one thread's life: CPU time, wall time and the time spent waiting in `wait`.
class StageTimer {
 public:
  explicit StageTimer(StageStats& s)
      : s_(s), wall0_(now_ns(CLOCK_MONOTONIC)), cpu0_(now_ns(CLOCK_THREAD_CPUTIME_ID)) {}
  ~StageTimer() {
    s_.wall_ns = now_ns(CLOCK_MONOTONIC) - wall0_;
    s_.cpu_ns = now_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0_;
  }
  template <class Pred>
  void wait(std::condition_variable& cv, std::unique_lock<std::mutex>& l, Pred p) {
    if (p()) return;
    uint64_t t = now_ns(CLOCK_MONOTONIC);
    cv.wait(l, p);
    s_.wait_ns += now_ns(CLOCK_MONOTONIC) - t;
  }
  StageStats& s_;

 private:
  uint64_t wall0_, cpu0_;
};

struct Snapshot {
  uint64_t offset = 0;
  std::map<std::string, std::string> states;
};

// Everything shared between the pipeline's threads, guarded by one mutex.
struct Shared {
  std::mutex m;
  std::condition_variable cv;
  std::vector<Block*> free;
  std::deque<Block*> to_write;                           // in read order
  std::map<base::HashAlgo, std::deque<Block*>> to_hash;  // in read order
  std::deque<Block*> to_compress;
  bool reading_done = false;
  bool abort = false;
  std::string reader_error;
  std::deque<StageStats> stats;  // one per thread (stable addresses)
  StageStats& stage(const std::string& name) {
    std::lock_guard<std::mutex> g(m);
    stats.push_back({});
    stats.back().name = name;
    return stats.back();
  }
};

class Pipeline {
 public:
  Pipeline(const Options& o, Source& src, Log& log, uint32_t chunk_size)
      : o_(o), src_(src), log_(log), chunk_(chunk_size) {}

  // Reads [start, size), hashes from `start` with `digests` (restored states), writes chunks at
  // and after write_from to `w`.
  void run(uint64_t start, uint64_t write_from, std::vector<ResumableDigest>& digests, EwfWriter& w,
           std::vector<BadRange>& bad, std::vector<Snapshot>& snapshots,
           const std::function<void(const std::vector<Snapshot>&, const std::vector<BadRange>&)>&
               checkpoint);

 private:
  void read_block(Block& b);
  void reader(uint64_t start);
  const Options& o_;
  Source& src_;
  Log& log_;
  uint32_t chunk_;
  Shared s_;
};

// A tuning knob: SAFEHOLD_ACQUIRE_NICE=N runs the compressors and the digests other than MD5 N nice
// levels lower than MD5, the reader and the writer (thread priorities weigh only against this
// process's threads: the kernel groups a session's processes). Off by default: measured on the
// benchmark it gave nothing with O_DIRECT reads and cost 10-15 % with page-cache reads.
void lower_priority() {
  int n = 0;
  if (const char* e = std::getenv("SAFEHOLD_ACQUIRE_NICE")) n = std::atoi(e);
  if (n > 0)
    setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()),
                getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())) + n);
}

void add_bad(std::vector<BadRange>& v, uint64_t sector) {
  if (!v.empty() && v.back().sector + v.back().count == sector)
    ++v.back().count;
  else
    v.push_back({sector, 1});
}

void Pipeline::read_block(Block& b) {
  std::span<std::byte> buf(b.data.get(), b.len);
  auto attempt = [&](uint64_t off, std::span<std::byte> out) {
    for (unsigned i = 0; i <= o_.retries; ++i) {
      long long n = src_.read_at(off, out);
      if (n == static_cast<long long>(out.size())) return true;
    }
    return false;
  };
  if (src_.read_at(b.offset, buf) == static_cast<long long>(b.len)) return;
  // Retry the block, then chunk by chunk, then sector by sector.
  for (unsigned i = 0; i < o_.retries; ++i)
    if (src_.read_at(b.offset, buf) == static_cast<long long>(b.len)) return;
  const uint32_t ss = src_.sector_size();
  for (size_t c = 0; c < b.len; c += chunk_) {
    size_t clen = std::min<size_t>(chunk_, b.len - c);
    if (attempt(b.offset + c, buf.subspan(c, clen))) continue;
    for (size_t s = c; s < c + clen; s += ss) {
      size_t slen = std::min<size_t>(ss, c + clen - s);
      if (attempt(b.offset + s, buf.subspan(s, slen))) continue;
      std::memset(buf.data() + s, 0, slen);
      add_bad(b.bad, (b.offset + s) / ss);
    }
  }
  for (auto& r : b.bad)
    log_.line(fmt::format(
        "Read error: sector{} {}{} ({} sector{}, bytes {}-{}) unreadable after {} attempts; "
        "zero-filled",
        r.count > 1 ? "s" : "", r.sector,
        r.count > 1 ? fmt::format("-{}", r.sector + r.count - 1) : "", r.count,
        r.count > 1 ? "s" : "", r.sector * ss, (r.sector + r.count) * ss - 1, o_.retries + 1));
}

void Pipeline::reader(uint64_t start) {
  const uint64_t size = src_.size();
  const size_t block_bytes = std::max<size_t>(kBlockBytes / chunk_, 1) * chunk_;
  StageTimer st(s_.stage("reader"));
  try {
    for (uint64_t off = start; off < size; off += block_bytes) {
      Block* b = nullptr;
      {
        std::unique_lock<std::mutex> l(s_.m);
        st.wait(s_.cv, l, [&] { return s_.abort || !s_.free.empty(); });
        if (s_.abort) return;
        b = s_.free.back();
        s_.free.pop_back();
      }
      b->offset = off;
      b->len = static_cast<size_t>(std::min<uint64_t>(block_bytes, size - off));
      if (b->capacity < block_bytes) {
        // Aligned for O_DIRECT; in huge pages where the kernel has them (fewer faults and fewer
        // pages to pin per direct read).
        const size_t huge = 2u << 20, bytes = (block_bytes + huge - 1) / huge * huge;
        void* p = nullptr;
        if (posix_memalign(&p, huge, bytes) != 0) throw std::bad_alloc();
        madvise(p, bytes, MADV_HUGEPAGE);
        b->data.reset(static_cast<std::byte*>(p));
        b->capacity = block_bytes;
      }
      b->bad.clear();
      b->compressed = false;
      b->snapshot.clear();
      read_block(*b);
      std::lock_guard<std::mutex> g(s_.m);
      b->hashes_left = static_cast<int>(s_.to_hash.size());
      for (auto& [a, q] : s_.to_hash) q.push_back(b);
      s_.to_compress.push_back(b);
      s_.to_write.push_back(b);
      s_.cv.notify_all();
    }
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> g(s_.m);
    s_.reader_error = e.what();
  }
  std::lock_guard<std::mutex> g(s_.m);
  s_.reading_done = true;
  s_.cv.notify_all();
}

void Pipeline::run(uint64_t start, uint64_t write_from, std::vector<ResumableDigest>& digests,
                   EwfWriter& w, std::vector<BadRange>& bad, std::vector<Snapshot>& snapshots,
                   const std::function<void(const std::vector<Snapshot>&,
                                            const std::vector<BadRange>&)>& checkpoint) {
  const unsigned workers =
      o_.threads ? o_.threads : std::max(1u, std::thread::hardware_concurrency());
  const size_t nblocks = pool_blocks(std::max<size_t>(kBlockBytes / chunk_, 1) * chunk_, workers);
  std::vector<Block> blocks(nblocks);
  for (auto& b : blocks) s_.free.push_back(&b);
  for (auto& d : digests) s_.to_hash[d.algo()];

  std::vector<std::thread> threads;
  threads.emplace_back([&] { reader(start); });
  for (auto& d : digests) {
    threads.emplace_back([&, dp = &d] {
      auto& q = s_.to_hash[dp->algo()];
      if (dp->algo() != base::HashAlgo::md5) lower_priority();
      StageTimer st(s_.stage(hash_name(dp->algo())));
      for (;;) {
        Block* b;
        {
          std::unique_lock<std::mutex> l(s_.m);
          st.wait(s_.cv, l,
                  [&] { return s_.abort || !q.empty() || (s_.reading_done && q.empty()); });
          if (s_.abort || q.empty()) return;
          b = q.front();
          q.pop_front();
        }
        dp->update(b->data.get(), b->len);
        const uint64_t end = b->offset + b->len;
        const bool snap =
            (end / (kBlockBytes * kSnapshotEvery)) != (b->offset / (kBlockBytes * kSnapshotEvery));
        std::string state = snap ? dp->save() : std::string();
        std::lock_guard<std::mutex> g(s_.m);
        if (snap) b->snapshot[dp->algo()] = std::move(state);
        --b->hashes_left;
        s_.cv.notify_all();
      }
    });
  }
  for (unsigned i = 0; i < workers; ++i) {
    threads.emplace_back([&] {
      ChunkCompressor comp(o_.compression);
      lower_priority();
      StageTimer st(s_.stage("compress"));
      for (;;) {
        Block* b;
        {
          std::unique_lock<std::mutex> l(s_.m);
          st.wait(s_.cv, l, [&] { return s_.abort || !s_.to_compress.empty() || s_.reading_done; });
          if (s_.abort || s_.to_compress.empty()) return;
          b = s_.to_compress.front();
          s_.to_compress.pop_front();
        }
        size_t n = (b->len + chunk_ - 1) / chunk_;
        b->chunks.resize(n);
        for (size_t i = 0; i < n; ++i) {
          uint64_t off = b->offset + i * chunk_;
          if (off < write_from) continue;  // already in the image (resume): hashed only
          size_t clen = std::min<size_t>(chunk_, b->len - i * chunk_);
          comp.compress(std::span<const std::byte>(b->data.get() + i * chunk_, clen), b->chunks[i]);
        }
        std::lock_guard<std::mutex> g(s_.m);
        b->compressed = true;
        s_.cv.notify_all();
      }
    });
  }

  auto stop_all = [&] {
    {
      std::lock_guard<std::mutex> g(s_.m);
      s_.abort = true;
      s_.cv.notify_all();
    }
    for (auto& t : threads)
      if (t.joinable()) t.join();
  };

  const auto t0 = std::chrono::steady_clock::now();
  auto last_progress = t0 - std::chrono::seconds(10);
  const uint64_t total = src_.size();
  uint64_t bad_sectors = 0;
  for (auto& r : bad) bad_sectors += r.count;
  std::optional<StageTimer> wst(std::in_place, s_.stage("writer"));
  try {
    for (;;) {
      Block* b;
      {
        std::unique_lock<std::mutex> l(s_.m);
        wst->wait(s_.cv, l, [&] {
          return (!s_.to_write.empty() && s_.to_write.front()->compressed) ||
                 (s_.reading_done && s_.to_write.empty());
        });
        if (s_.to_write.empty()) break;
        b = s_.to_write.front();
        s_.to_write.pop_front();
      }
      if (o_.should_stop && o_.should_stop())
        throw AcquireError(AcquireError::Kind::failed,
                           "interrupted; the acquisition can be continued with --resume");
      for (size_t i = 0; i < b->chunks.size(); ++i) {
        uint64_t off = b->offset + i * chunk_;
        if (off < write_from) continue;
        size_t clen = std::min<size_t>(chunk_, b->len - i * chunk_);
        w.write(std::span<const std::byte>(b->data.get() + i * chunk_, clen), b->chunks[i]);
      }
      for (auto& r : b->bad) {
        if (!bad.empty() && bad.back().sector + bad.back().count == r.sector)
          bad.back().count += r.count;
        else
          bad.push_back(r);
        bad_sectors += r.count;
      }
      {
        std::unique_lock<std::mutex> l(s_.m);
        wst->wait(s_.cv, l, [&] { return b->hashes_left == 0 || s_.abort; });
      }
      if (!b->snapshot.empty()) {
        Snapshot sn;
        sn.offset = b->offset + b->len;
        for (auto& [a, st] : b->snapshot) sn.states[hash_name(a)] = st;
        snapshots.push_back(std::move(sn));
        if (snapshots.size() > kSnapshotsKept)
          snapshots.erase(snapshots.begin() + 1);  // keep offset 0
        checkpoint(snapshots, bad);
      }
      const uint64_t done = b->offset + b->len;
      {
        std::lock_guard<std::mutex> g(s_.m);
        s_.free.push_back(b);
        s_.cv.notify_all();
      }
      auto now = std::chrono::steady_clock::now();
      if (o_.on_progress &&
          (now - last_progress > std::chrono::milliseconds(250) || done == total)) {
        last_progress = now;
        double secs = std::chrono::duration<double>(now - t0).count();
        Progress p;
        p.done = done;
        p.total = total;
        p.rate = secs > 0 ? static_cast<double>(done - start) / secs : 0;
        p.eta_seconds = p.rate > 0 ? static_cast<double>(total - done) / p.rate : 0;
        p.bad_sectors = bad_sectors;
        p.final = done == total;
        o_.on_progress(p);
      }
    }
  } catch (...) {
    stop_all();
    throw;
  }
  for (auto& t : threads) t.join();
  wst.reset();
  if (std::getenv("SAFEHOLD_ACQUIRE_STATS")) {
    for (auto& x : s_.stats)
      fmt::print(stderr, "stage {:<9} wall {:6.3f} s  cpu {:6.3f} s  wait {:6.3f} s\n", x.name,
                 x.wall_ns / 1e9, x.cpu_ns / 1e9, x.wait_ns / 1e9);
  }
  if (!s_.reader_error.empty())
    throw AcquireError(AcquireError::Kind::failed, "reading the source failed: " + s_.reader_error);
}

json bad_json(const std::vector<BadRange>& bad) {
  json a = json::array();
  for (auto& r : bad) a.push_back({{"sector", r.sector}, {"count", r.count}});
  return a;
}

std::string os_string() {
  struct utsname u {};
  if (uname(&u) != 0) return "Linux";
  return fmt::format("{} {} {}", u.sysname, u.release, u.machine);
}

}  // namespace

Result acquire(const Options& o) {
  using Kind = AcquireError::Kind;
  if (o.out_base.empty()) throw AcquireError(Kind::usage, "no output given (-o OUTBASE)");
  const fsys::path base = base_of_image(o.out_base);
  auto with = [&](const char* suffix) {
    fsys::path p = base;
    p += suffix;
    return p;
  };
  const fsys::path e01 = with(".E01"), record_path = with(".acquire.json"),
                   log_path = with(".acquire.log"), state_path = with(".acquire.state");
  std::error_code ec;
  fsys::path out_dir = base.parent_path().empty() ? fsys::path(".") : base.parent_path();
  if (!fsys::is_directory(out_dir, ec))
    throw AcquireError(Kind::usage,
                       fmt::format("{}: the output folder does not exist", out_dir.string()));
  if (o.hashes == 0)
    throw AcquireError(Kind::usage, "at least one hash (md5, sha1, sha256) is needed");

  auto segments = existing_segments(base);
  bool resuming = false;
  // An acquisition killed right after it started can leave a first segment without even its file
  // header (libewf writes it with the first chunks): there is nothing in it to continue, so
  // --resume starts over. The resume state proves that the file is Safehold's own.
  constexpr uint64_t kSmallestSegment = 13 + 76;  // EWF file header + one section descriptor
  uint64_t empty_segment_bytes = 0;
  const bool empty_attempt = o.resume && fsys::exists(state_path) && segments.size() == 1 &&
                             (empty_segment_bytes = fsys::file_size(segments.front(), ec), !ec) &&
                             empty_segment_bytes < kSmallestSegment;
  if (empty_attempt) {
    for (auto& p : segments) fsys::remove(p, ec);
    for (auto& p : {record_path, state_path}) fsys::remove(p, ec);
    segments.clear();
  } else if (!segments.empty()) {
    if (o.resume && fsys::exists(state_path)) {
      resuming = true;
    } else if (o.force) {
      for (auto& p : segments) fsys::remove(p, ec);
      for (auto& p : {record_path, log_path, state_path}) fsys::remove(p, ec);
    } else if (o.resume) {
      throw AcquireError(
          Kind::usage, fmt::format("{}: exists but has no resume state ({}); it is complete or was "
                                   "not made by safehold (use --force to overwrite)",
                                   e01.string(), state_path.filename().string()));
    } else {
      throw AcquireError(
          Kind::usage,
          fmt::format("{}: already exists; use --force to overwrite it{}", e01.string(),
                      fsys::exists(state_path) ? " or --resume to continue it" : ""));
    }
  } else {
    // No image: what is there is from an attempt that wrote nothing; its log is kept (appended).
    for (auto& p : {record_path, state_path}) fsys::remove(p, ec);
  }

  Log log;
  try {
    log.open(log_path);
  } catch (const std::exception& e) {
    throw AcquireError(Kind::usage, e.what());
  }
  const std::string started = utc_now();
  if (empty_attempt)
    log.line(fmt::format(
        "The interrupted image held no data yet ({} bytes, no EWF header): starting over",
        empty_segment_bytes));
  log.line(fmt::format("safehold {} acquire {}: source {}, output {}", base::kVersion,
                       resuming ? "resumed" : "started", base::printable(o.source),
                       base::printable(e01.string())));
  log.line(fmt::format("Case {} / evidence {} / examiner {}", base::printable(o.info.case_number),
                       base::printable(o.info.evidence_number), base::printable(o.info.examiner)));
  if (!o.info.description.empty()) log.line("Description: " + base::printable(o.info.description));
  if (!o.info.notes.empty()) log.line("Notes: " + base::printable(o.info.notes));
  log.line(fmt::format(
      "Host: {}; compression {}; hashes {}; read retries {}", os_string(), to_string(o.compression),
      [&] {
        std::string s;
        for (auto a : algos_of(o.hashes)) s += (s.empty() ? "" : ",") + std::string(hash_name(a));
        return s;
      }(),
      o.retries));

  json record;
  record["tool"] = {{"name", "safehold"}, {"version", base::kVersion}};
  record["source"] = o.source;
  record["image"] = e01.string();
  record["case"] = {{"case_number", o.info.case_number},
                    {"evidence_number", o.info.evidence_number},
                    {"examiner", o.info.examiner},
                    {"description", o.info.description},
                    {"notes", o.info.notes}};
  record["started"] = started;
  record["host_os"] = os_string();
  auto write_record = [&] {
    try {
      write_file_atomic(record_path, base::dump(record, 2) + "\n");
    } catch (const std::exception& e) {
      log.line(std::string("Cannot write the record: ") + e.what());
    }
  };
  auto fail_with = [&](Kind kind, const std::string& msg) -> AcquireError {
    log.line("FAILED: " + msg);
    record["status"] = "failed";
    record["error"] = msg;
    record["finished"] = utc_now();
    write_record();
    return AcquireError(kind, msg);
  };

  std::optional<Source> src_holder;
  try {
    src_holder.emplace(o.source, log, o.direct_io != DirectIo::off, o.direct_io == DirectIo::on);
  } catch (const AcquireError& e) {
    throw fail_with(e.kind(), e.what());
  }
  Source& src = *src_holder;
  record["write_block"] = src.write_block();
  record["direct_io"] = src.direct();
  record["device"] = src.identity().to_json();
  const uint64_t size = src.size();
  const uint32_t ss = src.sector_size();
  record["size"] = size;
  record["sector_size"] = ss;
  if (src.padding()) record["padding_bytes"] = src.padding();
  if (size == 0) throw fail_with(Kind::usage, fmt::format("{}: the source is empty", o.source));

  // Resume state, or a fresh one.
  json state;
  uint32_t spc = o.sectors_per_chunk ? o.sectors_per_chunk : choose_sectors_per_chunk(size, ss);
  Compression compression = o.compression;
  unsigned hashes = o.hashes;
  if (resuming) {
    try {
      std::ifstream in(state_path);
      state = json::parse(in);
    } catch (const std::exception& e) {
      throw fail_with(Kind::usage, fmt::format("{}: unreadable resume state: {}",
                                               state_path.string(), e.what()));
    }
    if (state.value("size", uint64_t{0}) != size ||
        state.value("source", std::string()) != o.source ||
        state.value("serial", std::string()) != src.identity().serial)
      throw fail_with(
          Kind::usage,
          fmt::format("{}: the interrupted acquisition was of another source ({}, {} bytes)",
                      o.source, state.value("source", std::string("?")),
                      state.value("size", uint64_t{0})));
    spc = state.value("sectors_per_chunk", spc);
    compression = state.value("compression", std::string("fast")) == "none"   ? Compression::none
                  : state.value("compression", std::string("fast")) == "best" ? Compression::best
                                                                              : Compression::fast;
    hashes = state.value("hashes", hashes);
    record["started"] = state.value("started", started);
    record["resumed"] = json::array();
    if (state.contains("resumed")) record["resumed"] = state["resumed"];
    record["resumed"].push_back(started);
  }
  const uint32_t chunk_size = spc * ss;
  record["chunk_size"] = chunk_size;
  record["sectors_per_chunk"] = spc;
  record["compression"] = to_string(compression);
  record["segment_size"] = o.segment_size;
  if (spc != 64)
    log.line(
        fmt::format("Chunk size {} bytes ({} sectors): the source has {} bytes and libewf 20140813 "
                    "cannot address "
                    "2^27 chunks or more",
                    chunk_size, spc, size));
  else
    log.line(fmt::format("Chunk size {} bytes ({} sectors)", chunk_size, spc));

  // Free space: the worst case is every chunk stored, plus tables and headers.
  {
    struct statvfs vs {};
    if (statvfs(out_dir.c_str(), &vs) == 0) {
      uint64_t free_bytes = static_cast<uint64_t>(vs.f_bavail) * vs.f_frsize;
      uint64_t need = size + size / chunk_size * 16 + (size / o.segment_size + 1) * 65536;
      record["destination_free_bytes"] = free_bytes;
      record["destination_worst_case_bytes"] = need;
      std::string msg =
          fmt::format("Destination {}: {} free; the image needs at most {} ({} bytes) uncompressed",
                      out_dir.string(), base::human_size(free_bytes), base::human_size(need), need);
      log.line(msg);
      if (free_bytes < need && !resuming) {
        if (compression == Compression::none)
          throw fail_with(
              Kind::usage,
              fmt::format("{}: not enough free space: the image needs {} ({} bytes), {} free",
                          out_dir.string(), base::human_size(need), need,
                          base::human_size(free_bytes)));
        log.line(
            "Warning: the destination may fill up unless the data compresses; an acquisition "
            "stopped by a full "
            "disk can be continued with --resume after freeing space");
      }
    }
  }

  // The E01 writer.
  std::optional<EwfWriter> writer;
  uint64_t write_from = 0, start = 0;
  std::vector<ResumableDigest> digests;
  for (auto a : algos_of(hashes)) digests.emplace_back(a);
  std::vector<BadRange> bad;
  std::vector<Snapshot> snapshots;
  try {
    if (resuming) {
      uint64_t r = 0;
      writer.emplace(EwfWriter::resume(base, &r));
      write_from = r;
      const uint64_t seg = state.value("segment_size", o.segment_size);
      if (!writer->set_segment_size(seg))
        log.line(fmt::format(
            "Warning: libewf keeps its own segment size for the resumed part (asked {})", seg));
      record["segment_size"] = seg;
      // The latest checkpoint at or before the resume point; hashing re-reads from there.
      Snapshot best;
      const json snaps = state.value("snapshots", json::array());
      for (auto& sj : snaps) {
        Snapshot sn;
        sn.offset = sj.value("offset", uint64_t{0});
        const json states = sj.value("states", json::object());
        for (auto& [k, v] : states.items()) sn.states[k] = v.get<std::string>();
        if (sn.offset <= r && sn.offset >= best.offset) best = sn;
        if (sn.offset <= r) snapshots.push_back(sn);
      }
      start = best.offset;
      for (auto& d : digests) {
        auto it = best.states.find(hash_name(d.algo()));
        if (start != 0 && (it == best.states.end() || !d.restore(it->second)))
          throw AcquireError(Kind::failed, "the resume state has no usable hash checkpoint");
      }
      const json bads = state.value("bad", json::array());
      for (auto& bj : bads) {
        BadRange br{bj.value("sector", uint64_t{0}), bj.value("count", uint64_t{0})};
        if ((br.sector + br.count) * ss <= start)
          bad.push_back(br);
        else if (br.sector * ss < start)
          bad.push_back({br.sector, start / ss - br.sector});
      }
      log.line(fmt::format(
          "Resuming: the image holds {} bytes ({} chunks) of {}; hashing continues from the "
          "checkpoint at byte {}",
          r, r / chunk_size, size, start));
    } else {
      EwfSettings es;
      es.media_size = size;
      es.bytes_per_sector = ss;
      es.sectors_per_chunk = spc;
      es.compression = compression;
      es.segment_size = o.segment_size;
      es.removable = src.identity().removable;
      es.physical =
          src.identity().block_device && src.identity().disk == src.identity().kernel_name;
      es.headers = {{"case_number", o.info.case_number},
                    {"evidence_number", o.info.evidence_number},
                    {"examiner_name", o.info.examiner},
                    {"description", o.info.description},
                    {"notes", o.info.notes},
                    {"acquiry_operating_system", os_string()},
                    {"acquiry_software", "safehold"},
                    {"acquiry_software_version", base::kVersion},
                    {"model", src.identity().model},
                    {"serial_number", src.identity().serial}};
      writer.emplace(EwfWriter::create(base, es));
      Snapshot zero;
      for (auto& d : digests) zero.states[hash_name(d.algo())] = d.save();
      snapshots.push_back(zero);
    }
  } catch (const AcquireError& e) {
    throw fail_with(e.kind(), e.what());
  }
  record["media_type"] = src.identity().removable ? "removable" : "fixed";
  record["media_flags"] =
      (src.identity().block_device && src.identity().disk == src.identity().kernel_name)
          ? "physical"
          : "logical";

  state = json{{"version", 1},
               {"source", o.source},
               {"serial", src.identity().serial},
               {"size", size},
               {"sectors_per_chunk", spc},
               {"compression", to_string(compression)},
               {"hashes", hashes},
               {"segment_size", record["segment_size"]},
               {"started", record["started"]},
               {"resumed", record.value("resumed", json::array())}};
  auto checkpoint = [&](const std::vector<Snapshot>& snaps, const std::vector<BadRange>& b) {
    json sj = json::array();
    for (auto& sn : snaps) sj.push_back({{"offset", sn.offset}, {"states", sn.states}});
    state["snapshots"] = sj;
    state["bad"] = bad_json(b);
    write_file_atomic(state_path, state.dump() + "\n");
  };
  try {
    checkpoint(snapshots, bad);
  } catch (const AcquireError& e) {
    throw fail_with(Kind::failed, e.what());
  }

  log.line(fmt::format("Imaging {} bytes ({}) from byte {}{}", size, base::human_size(size),
                       write_from,
                       start < write_from ? fmt::format(" (hashing from byte {})", start) : ""));
  Pipeline pipe(o, src, log, chunk_size);
  try {
    pipe.run(start, write_from, digests, *writer, bad, snapshots, checkpoint);
  } catch (const std::exception& e) {
    writer->abandon();
    std::string msg = e.what();
    if (msg.find("No space left") != std::string::npos || msg.find("ENOSPC") != std::string::npos ||
        msg.find("errno 28") != std::string::npos ||
        (msg.find("cannot write to the E01") != std::string::npos && [&] {
          struct statvfs vs {};
          return statvfs(out_dir.c_str(), &vs) == 0 &&
                 vs.f_bavail * vs.f_frsize < 2 * uint64_t{chunk_size} + 65536;
        }()))
      msg = fmt::format(
          "{}: the destination is full (no space left on device); free space and continue with "
          "--resume",
          out_dir.string());
    throw fail_with(Kind::failed, msg);
  }

  record["direct_io"] = src.direct();  // false when the kernel refused O_DIRECT on the way (logged)
  Result res;
  res.size = size;
  for (auto& d : digests) {
    std::string h = d.finish();
    switch (d.algo()) {
      case base::HashAlgo::md5:
        res.digests.md5 = h;
        break;
      case base::HashAlgo::sha1:
        res.digests.sha1 = h;
        break;
      case base::HashAlgo::sha256:
        res.digests.sha256 = h;
        break;
    }
  }
  res.read_errors = bad;
  try {
    for (auto& r : bad) writer->add_acquiry_error(r.sector, r.count);
    writer->finish(res.digests.md5, res.digests.sha1);
  } catch (const AcquireError& e) {
    throw fail_with(Kind::failed, e.what());
  }
  fsys::remove(state_path, ec);
  res.segments = existing_segments(base);
  res.status = bad.empty() ? Status::complete : Status::complete_with_errors;

  uint64_t bad_sectors = 0;
  for (auto& r : bad) bad_sectors += r.count;
  record["status"] = bad.empty() ? "complete" : "complete_with_read_errors";
  record["md5"] = res.digests.md5;
  record["sha1"] = res.digests.sha1;
  record["sha256"] = res.digests.sha256;
  record["read_errors"] = bad_json(bad);
  record["unreadable_sectors"] = bad_sectors;
  json segs = json::array();
  uint64_t stored = 0;
  for (auto& p : res.segments) {
    uint64_t sz = fsys::file_size(p, ec);
    stored += sz;
    segs.push_back({{"path", p.string()}, {"size", sz}});
  }
  record["segments"] = segs;
  record["image_bytes"] = stored;
  record["finished"] = utc_now();
  res.record = record;
  write_record();
  if (!res.digests.md5.empty()) log.line("MD5:     " + res.digests.md5 + " (stored in the E01)");
  if (!res.digests.sha1.empty()) log.line("SHA-1:   " + res.digests.sha1 + " (stored in the E01)");
  if (!res.digests.sha256.empty()) log.line("SHA-256: " + res.digests.sha256 + " (in the record)");
  if (bad.empty()) {
    log.line("No read errors");
  } else {
    std::string list;
    for (auto& r : bad) list += fmt::format("{}{}+{}", list.empty() ? "" : ", ", r.sector, r.count);
    log.line(fmt::format(
        "Unreadable sectors (first+count), zero-filled and recorded in the E01: {} ({} sectors)",
        list, bad_sectors));
  }
  log.line(fmt::format(
      "Finished: {} bytes into {} segment file(s), {} bytes stored ({:.1f}% of the source)", size,
      res.segments.size(), stored,
      size ? 100.0 * static_cast<double>(stored) / static_cast<double>(size) : 0.0));
  return res;
}

}  // namespace safehold::acquire
