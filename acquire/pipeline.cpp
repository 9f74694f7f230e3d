// The threads of the imaging pipeline (pipeline.hpp). Measured (docs/BENCHMARKS.md): a larger
// pool (64-256 MiB, for the reader to run ahead into costly stretches) cost more than it gave here,
// and running the compressors and the other digests at a lower priority than MD5
// (SAFEHOLD_ACQUIRE_NICE) gave nothing measurable with O_DIRECT reads.
#include "acquire/pipeline.hpp"

#include <fmt/core.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "acquire/compress.hpp"

namespace safehold::acquire {

namespace {

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

}  // namespace

struct Pipeline::Block {
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

// Everything shared between the pipeline's threads, guarded by one mutex.
struct Pipeline::Shared {
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
  std::vector<std::thread> threads;
  StageStats& stage(const std::string& name) {
    std::lock_guard<std::mutex> g(m);
    stats.push_back({});
    stats.back().name = name;
    return stats.back();
  }
};

// What the writing loop works on (the calling thread's side of run()).
struct Pipeline::Writing {
  uint64_t start = 0, write_from = 0;
  EwfWriter& w;
  std::vector<BadRange>& bad;
  std::vector<Snapshot>& snapshots;
  const CheckpointFn& checkpoint;
};

Pipeline::Pipeline(const Options& o, Source& src, Log& log, uint32_t chunk_size)
    : o_(o), src_(src), log_(log), chunk_(chunk_size), s_(std::make_unique<Shared>()) {}

Pipeline::~Pipeline() = default;

uint64_t Pipeline::progress_step() const {
  return std::max<uint64_t>(chunk_, std::min<uint64_t>(kProgressBytes, src_.size() / 40));
}

size_t Pipeline::block_bytes() const {
  const uint64_t bytes = std::min<uint64_t>(kBlockBytes, progress_step());
  return std::max<size_t>(static_cast<size_t>(bytes / chunk_), 1) * chunk_;
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
  const size_t block_bytes = this->block_bytes();
  StageTimer st(s_->stage("reader"));
  try {
    for (uint64_t off = start; off < size; off += block_bytes) {
      Block* b = nullptr;
      {
        std::unique_lock<std::mutex> l(s_->m);
        st.wait(s_->cv, l, [&] { return s_->abort || !s_->free.empty(); });
        if (s_->abort) return;
        b = s_->free.back();
        s_->free.pop_back();
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
      std::lock_guard<std::mutex> g(s_->m);
      b->hashes_left = static_cast<int>(s_->to_hash.size());
      for (auto& [a, q] : s_->to_hash) q.push_back(b);
      s_->to_compress.push_back(b);
      s_->to_write.push_back(b);
      s_->cv.notify_all();
    }
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> g(s_->m);
    s_->reader_error = e.what();
  }
  std::lock_guard<std::mutex> g(s_->m);
  s_->reading_done = true;
  s_->cv.notify_all();
}

void Pipeline::hash_worker(ResumableDigest& d) {
  auto& q = s_->to_hash[d.algo()];
  if (d.algo() != base::HashAlgo::md5) lower_priority();
  StageTimer st(s_->stage(hash_name(d.algo())));
  for (;;) {
    Block* b;
    {
      std::unique_lock<std::mutex> l(s_->m);
      st.wait(s_->cv, l,
              [&] { return s_->abort || !q.empty() || (s_->reading_done && q.empty()); });
      if (s_->abort || q.empty()) return;
      b = q.front();
      q.pop_front();
    }
    d.update(b->data.get(), b->len);
    const uint64_t end = b->offset + b->len;
    const bool snap =
        (end / (kBlockBytes * kSnapshotEvery)) != (b->offset / (kBlockBytes * kSnapshotEvery));
    std::string state = snap ? d.save() : std::string();
    std::lock_guard<std::mutex> g(s_->m);
    if (snap) b->snapshot[d.algo()] = std::move(state);
    --b->hashes_left;
    s_->cv.notify_all();
  }
}

void Pipeline::compress_worker(uint64_t write_from) {
  ChunkCompressor comp(o_.compression);
  lower_priority();
  StageTimer st(s_->stage("compress"));
  for (;;) {
    Block* b;
    {
      std::unique_lock<std::mutex> l(s_->m);
      st.wait(s_->cv, l, [&] { return s_->abort || !s_->to_compress.empty() || s_->reading_done; });
      if (s_->abort || s_->to_compress.empty()) return;
      b = s_->to_compress.front();
      s_->to_compress.pop_front();
    }
    size_t n = (b->len + chunk_ - 1) / chunk_;
    b->chunks.resize(n);
    for (size_t i = 0; i < n; ++i) {
      uint64_t off = b->offset + i * chunk_;
      if (off < write_from) continue;  // already in the image (resume): hashed only
      size_t clen = std::min<size_t>(chunk_, b->len - i * chunk_);
      comp.compress(std::span<const std::byte>(b->data.get() + i * chunk_, clen), b->chunks[i]);
    }
    std::lock_guard<std::mutex> g(s_->m);
    b->compressed = true;
    s_->cv.notify_all();
  }
}

void Pipeline::stop_threads() {
  {
    std::lock_guard<std::mutex> g(s_->m);
    s_->abort = true;
    s_->cv.notify_all();
  }
  for (auto& t : s_->threads)
    if (t.joinable()) t.join();
}

// The calling thread: chunks in order into the E01, read errors merged, checkpoints, progress.
void Pipeline::write_blocks(Writing& wr) {
  const auto t0 = std::chrono::steady_clock::now();
  auto last_progress = t0 - std::chrono::seconds(10);
  const uint64_t total = src_.size(), step = progress_step();
  uint64_t next_report = 0;
  uint64_t bad_sectors = 0;
  for (auto& r : wr.bad) bad_sectors += r.count;
  StageTimer wst(s_->stage("writer"));
  for (;;) {
    Block* b;
    {
      std::unique_lock<std::mutex> l(s_->m);
      wst.wait(s_->cv, l, [&] {
        return (!s_->to_write.empty() && s_->to_write.front()->compressed) ||
               (s_->reading_done && s_->to_write.empty());
      });
      if (s_->to_write.empty()) break;
      b = s_->to_write.front();
      s_->to_write.pop_front();
    }
    if (o_.should_stop && o_.should_stop())
      throw AcquireError(AcquireError::Kind::failed,
                         "interrupted; the acquisition can be continued with --resume");
    for (size_t i = 0; i < b->chunks.size(); ++i) {
      uint64_t off = b->offset + i * chunk_;
      if (off < wr.write_from) continue;
      size_t clen = std::min<size_t>(chunk_, b->len - i * chunk_);
      wr.w.write(std::span<const std::byte>(b->data.get() + i * chunk_, clen), b->chunks[i]);
    }
    for (auto& r : b->bad) {
      if (!wr.bad.empty() && wr.bad.back().sector + wr.bad.back().count == r.sector)
        wr.bad.back().count += r.count;
      else
        wr.bad.push_back(r);
      bad_sectors += r.count;
    }
    {
      std::unique_lock<std::mutex> l(s_->m);
      wst.wait(s_->cv, l, [&] { return b->hashes_left == 0 || s_->abort; });
    }
    if (!b->snapshot.empty()) {
      Snapshot sn;
      sn.offset = b->offset + b->len;
      for (auto& [a, st] : b->snapshot) sn.states[hash_name(a)] = st;
      wr.snapshots.push_back(std::move(sn));
      if (wr.snapshots.size() > kSnapshotsKept)
        wr.snapshots.erase(wr.snapshots.begin() + 1);  // keep offset 0
      wr.checkpoint(wr.snapshots, wr.bad);
    }
    const uint64_t done = b->offset + b->len;
    {
      std::lock_guard<std::mutex> g(s_->m);
      s_->free.push_back(b);
      s_->cv.notify_all();
    }
    auto now = std::chrono::steady_clock::now();
    // A report at each progress step whatever the speed, and more often on a slow source.
    if (o_.on_progress && (done >= next_report || done == total ||
                           now - last_progress > std::chrono::milliseconds(250))) {
      last_progress = now;
      next_report = (done / step + 1) * step;
      double secs = std::chrono::duration<double>(now - t0).count();
      Progress p;
      p.done = done;
      p.total = total;
      p.rate = secs > 0 ? static_cast<double>(done - wr.start) / secs : 0;
      p.eta_seconds = p.rate > 0 ? static_cast<double>(total - done) / p.rate : 0;
      p.bad_sectors = bad_sectors;
      p.final = done == total;
      o_.on_progress(p);
    }
  }
}

void Pipeline::run(uint64_t start, uint64_t write_from, std::vector<ResumableDigest>& digests,
                   EwfWriter& w, std::vector<BadRange>& bad, std::vector<Snapshot>& snapshots,
                   const CheckpointFn& checkpoint) {
  const unsigned workers =
      o_.threads ? o_.threads : std::max(1u, std::thread::hardware_concurrency());
  const size_t nblocks = pool_blocks(block_bytes(), workers);
  std::vector<Block> blocks(nblocks);
  for (auto& b : blocks) s_->free.push_back(&b);
  for (auto& d : digests) s_->to_hash[d.algo()];

  auto& threads = s_->threads;
  threads.emplace_back([this, start] { reader(start); });
  for (auto& d : digests) threads.emplace_back([this, dp = &d] { hash_worker(*dp); });
  for (unsigned i = 0; i < workers; ++i)
    threads.emplace_back([this, write_from] { compress_worker(write_from); });

  Writing wr{start, write_from, w, bad, snapshots, checkpoint};
  try {
    write_blocks(wr);
  } catch (...) {
    stop_threads();
    throw;
  }
  for (auto& t : threads) t.join();
  if (std::getenv("SAFEHOLD_ACQUIRE_STATS")) {
    for (auto& x : s_->stats)
      fmt::print(stderr, "stage {:<9} wall {:6.3f} s  cpu {:6.3f} s  wait {:6.3f} s\n", x.name,
                 x.wall_ns / 1e9, x.cpu_ns / 1e9, x.wait_ns / 1e9);
  }
  if (!s_->reader_error.empty())
    throw AcquireError(AcquireError::Kind::failed,
                       "reading the source failed: " + s_->reader_error);
}

}  // namespace safehold::acquire
