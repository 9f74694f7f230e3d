#include "fs/reader.hpp"

#include <libdeflate.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "fs/ewf.hpp"
#include "fs/image.hpp"
#include "fs/internal/ewf_chunks.hpp"
#include "fs/internal/ewf_map.hpp"

namespace safehold::fs {

namespace {

constexpr size_t kChunksPerBatch = 64;

// The decoding threads only have to stay ahead of the consumer, which is usually the slowest stage
// (one MD5 stream cannot be split), so on a busy machine the consumer gets the CPU first.
void lower_this_thread_priority() {
  setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 4);
}

struct RawChunk {
  uint64_t index = 0;      // chunk number
  uint64_t offset = 0;     // image offset of the chunk's data
  uint32_t data_size = 0;  // bytes of media data it holds
  bool compressed = false;
  bool zero = false;  // stored exactly like a chunk known to hold zeros: not inflated
  const std::byte* shared = nullptr;  // already decoded by another reader (SharedChunks)
  std::string error;                  // why it cannot be read (delivered zero-filled)
  std::vector<unsigned char> stored;
};

// Batch output that grows without initialising: decode_batch writes every byte that is read, and
// the zero chunks a ReadOptions::zeros consumer takes are never touched, so their pages are never
// faulted in (a zero-filling std::vector faulted in every byte of every fresh buffer).
class OutBuffer {
 public:
  void resize(size_t n) {
    if (n > cap_) {
      p_.reset(new std::byte[n]);
      cap_ = n;
    }
    size_ = n;
  }
  std::byte* data() { return p_.get(); }
  size_t size() const { return size_; }

 private:
  std::unique_ptr<std::byte[]> p_;
  size_t cap_ = 0, size_ = 0;
};

struct Batch {
  std::vector<RawChunk> chunks;
  uint64_t gap_offset = 0, gap_len = 0;  // or: a run of chunks that cannot be read
  OutBuffer out;                         // decompressed data of all chunks, in order
  std::vector<ChunkError> errors;
  bool done = false;
};

class BatchQueue {
 public:
  void push(std::shared_ptr<Batch> b) {
    std::lock_guard<std::mutex> g(m_);
    q_.push_back(std::move(b));
    cv_.notify_one();
  }
  std::shared_ptr<Batch> pop() {  // nullptr when closed and empty
    std::unique_lock<std::mutex> l(m_);
    cv_.wait(l, [&] { return closed_ || !q_.empty(); });
    if (q_.empty()) return nullptr;
    auto b = q_.front();
    q_.pop_front();
    return b;
  }
  void close() {
    std::lock_guard<std::mutex> g(m_);
    closed_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Batch>> q_;
  bool closed_ = false;
};

void decode_batch(Batch& b, libdeflate_decompressor* d, bool fill_zeros, ewf::SharedChunks* share,
                  const ewf::ChunkMap& map) {
  size_t total = 0;
  for (auto& c : b.chunks) total += c.data_size;
  b.out.resize(total);  // uninitialised: every byte delivered to the sink is written below
  size_t pos = 0;
  for (auto& c : b.chunks) {
    std::byte* dst = b.out.data() + pos;
    if (c.shared) {
      std::memcpy(dst, c.shared, c.data_size);
    } else if (c.zero) {
      if (fill_zeros) std::memset(dst, 0, c.data_size);
    } else {
      std::string why = c.error.empty() ? ewf::decode_chunk(d, c.stored, c.compressed, dst,
                                                            c.data_size, map.chunk_size())
                                        : c.error;
      if (!why.empty()) {
        std::memset(dst, 0, c.data_size);
        b.errors.push_back(
            {c.offset, c.data_size, map.describe(c.index) + " cannot be read: " + why});
      } else if (share) {
        share->put(c.index, std::span<const std::byte>(dst, c.data_size));
      }
    }
    pos += c.data_size;
  }
  for (auto& c : b.chunks) std::vector<unsigned char>().swap(c.stored);
}

// The fast path: stored chunks read through Safehold's chunk map in one thread (the producer),
// decoded on every core (the decoders), delivered in order by the calling thread (the consumer).
// Ranges the map knows cannot be read go through as one gap each.
class ParallelEwfRead {
 public:
  using Sink = std::function<bool(uint64_t, std::span<const std::byte>)>;
  ParallelEwfRead(const Image& img, const Sink& sink, const ReadOptions& opts, ReadResult& result)
      : img_(img), map_(*img.ewf_map()), sink_(sink), opts_(opts), result_(result) {
    const uint64_t media_size = map_.media_size();
    chunk_size_ = map_.chunk_size();
    end_ = opts.length ? std::min<uint64_t>(media_size, opts.start + opts.length) : media_size;
    first_index_ = opts.start / chunk_size_;
    end_index_ = (end_ + chunk_size_ - 1) / chunk_size_;
    threads_ = opts.threads ? opts.threads : std::max(1u, std::thread::hardware_concurrency());
    max_inflight_ = threads_ * 3 + 2;
    share_ = opts.share && opts.share->chunk_size() == chunk_size_ ? opts.share : nullptr;
  }

  void run() {
    if (opts_.start >= end_) return;
    if (share_) share_->activate();
    std::vector<std::thread> decoders;
    for (unsigned i = 0; i < threads_; ++i) decoders.emplace_back([this] { decode(); });
    std::thread producer([this] { produce(); });
    consume();
    producer.join();
    work_.close();
    for (auto& t : decoders) t.join();
    result_.used_raw_chunks = true;
  }

 private:
  using Decompressor =
      std::unique_ptr<libdeflate_decompressor, decltype(&libdeflate_free_decompressor)>;
  static Decompressor decompressor() {
    return Decompressor(libdeflate_alloc_decompressor(), &libdeflate_free_decompressor);
  }

  // A decoder thread: inflates batches until the work queue closes.
  void decode() {
    lower_this_thread_priority();
    auto d = decompressor();
    while (auto b = work_.pop()) {
      if (d) {
        decode_batch(*b, d.get(), !opts_.zeros, share_, map_);
      } else {
        for (auto& c : b->chunks) c.error = "no memory to decompress it";
        b->out.resize(0);
      }
      std::lock_guard<std::mutex> g(order_m_);
      b->done = true;
      order_cv_.notify_all();
    }
  }

  // Hands a batch to the decoders and to the consumer, in order; false when stopped.
  bool enqueue(std::shared_ptr<Batch> b, bool decode) {
    {
      std::unique_lock<std::mutex> l(order_m_);
      order_cv_.wait(l, [&] { return order_.size() < max_inflight_ || stop_; });
      if (stop_) return false;
      if (!decode) b->done = true;
      order_.push_back(b);
      order_cv_.notify_all();
    }
    if (decode) work_.push(std::move(b));
    return true;
  }

  // The producer thread: reads the stored chunks in order, batch by batch.
  void produce() {
    lower_this_thread_priority();
    Reading r{std::vector<unsigned char>(map_.max_stored()),
              std::vector<std::byte>(chunk_size_),
              {},
              decompressor()};
    const auto& damage = map_.damage();
    size_t dmg = 0;  // the first damaged run not wholly before `index`
    uint64_t index = first_index_;
    while (index < end_index_ && !stop_) {
      while (dmg < damage.size() && damage[dmg].first_chunk + damage[dmg].count <= index) ++dmg;
      if (dmg < damage.size() && damage[dmg].first_chunk <= index) {
        const uint64_t last = std::min(end_index_, damage[dmg].first_chunk + damage[dmg].count);
        auto b = gap_batch(index, last);
        index = last;
        if (!enqueue(std::move(b), false)) break;
        continue;
      }
      const uint64_t batch_end =
          std::min({end_index_, index + kChunksPerBatch,
                    dmg < damage.size() ? damage[dmg].first_chunk : UINT64_MAX});
      auto b = std::make_shared<Batch>();
      {
        std::lock_guard<std::mutex> g(pool_m_);
        if (!pool_.empty()) {
          b->out = std::move(pool_.back());
          pool_.pop_back();
        }
      }
      for (; index < batch_end; ++index) b->chunks.push_back(read_chunk(index, r));
      if (!enqueue(std::move(b), true)) break;
    }
    std::lock_guard<std::mutex> g(order_m_);
    producer_done_ = true;
    order_cv_.notify_all();
  }

  // A run the structure says cannot be read: one gap, named once.
  std::shared_ptr<Batch> gap_batch(uint64_t index, uint64_t last) const {
    auto b = std::make_shared<Batch>();
    b->gap_offset = index * chunk_size_;
    b->gap_len = std::min(map_.media_size(), last * chunk_size_) - b->gap_offset;
    for (const auto& e : img_.damage())
      if (e.img_offset <= b->gap_offset && b->gap_offset < e.img_offset + e.len)
        b->errors.push_back(e);
    return b;
  }

  struct Reading {  // the producer's buffers and what it learnt of zero chunks
    std::vector<unsigned char> scratch;
    std::vector<std::byte> probe;
    ewf::ZeroChunks zeros;
    Decompressor probe_decoder;
  };

  RawChunk read_chunk(uint64_t index, Reading& r) {
    RawChunk c;
    c.index = index;
    c.offset = index * chunk_size_;
    c.data_size = map_.data_size(index);
    if (share_) {
      // Decoded by the image's TSK reads already: neither read nor inflated again.
      bool zero = false;
      c.shared = share_->find(index, &zero);
      if (c.shared || zero) {
        c.zero = zero;
        return c;
      }
    }
    size_t n = map_.read_stored(index, r.scratch, &c.compressed, &c.error);
    if (n == 0) return c;
    std::span<const unsigned char> stored(r.scratch.data(), n);
    if (c.compressed && r.zeros.is_zero(stored, c.data_size)) {
      c.zero = true;
      if (share_) share_->put_zero(index);
      return c;
    }
    if (c.compressed && r.probe_decoder && r.zeros.want(stored.size())) {
      // Small compressed chunks may be zero chunks: decode one here to learn its form.
      if (ewf::decode_chunk(r.probe_decoder.get(), stored, true, r.probe.data(), c.data_size,
                            chunk_size_)
              .empty())
        r.zeros.learn(stored, std::span<const std::byte>(r.probe.data(), c.data_size));
    }
    c.stored.assign(stored.begin(), stored.end());
    return c;
  }

  // The calling thread: takes batches in order as they are decoded and delivers them.
  void consume() {
    for (;;) {
      std::shared_ptr<Batch> b;
      {
        std::unique_lock<std::mutex> l(order_m_);
        order_cv_.wait(l, [&] {
          return (!order_.empty() && order_.front()->done) || (producer_done_ && order_.empty());
        });
        if (order_.empty()) break;
        b = order_.front();
        order_.pop_front();
        order_cv_.notify_all();
      }
      if (!ok_) continue;  // stopped: drain what is in flight
      result_.errors.insert(result_.errors.end(), b->errors.begin(), b->errors.end());
      if (b->gap_len > 0) {
        deliver_gap(*b);
      } else {
        deliver_batch(*b);
        std::lock_guard<std::mutex> g(pool_m_);  // the output buffer is reused
        if (pool_.size() < 8) pool_.push_back(std::move(b->out));
      }
    }
  }

  void give_up() {
    ok_ = false;
    std::lock_guard<std::mutex> g(order_m_);
    stop_ = true;
    order_cv_.notify_all();
  }

  void deliver_gap(const Batch& b) {
    static const std::vector<std::byte> zero_block(1 << 20);
    uint64_t a = std::max(b.gap_offset, opts_.start);
    const uint64_t z = std::min(b.gap_offset + b.gap_len, end_);
    if (a >= z || !opts_.deliver_damaged) return;
    result_.bytes += z - a;
    if (opts_.zeros) {
      if (!opts_.zeros(a, z - a)) give_up();
      return;
    }
    for (; a < z && ok_; a += std::min<uint64_t>(z - a, zero_block.size()))
      if (!sink_(a, std::span<const std::byte>(zero_block)
                        .first(static_cast<size_t>(std::min<uint64_t>(z - a, zero_block.size())))))
        give_up();
  }

  // Delivers a batch in order: runs of zero chunks to opts.zeros (when set), the rest to sink.
  void deliver_batch(Batch& b) {
    size_t pos = 0;
    for (size_t i = 0; i < b.chunks.size() && ok_;) {
      const bool zero = opts_.zeros && b.chunks[i].zero;
      size_t j = i, n = 0;
      while (j < b.chunks.size() && (opts_.zeros && b.chunks[j].zero) == zero)
        n += b.chunks[j++].data_size;
      uint64_t a = std::max<uint64_t>(b.chunks[i].offset, opts_.start);
      uint64_t z = std::min<uint64_t>(b.chunks[i].offset + n, end_);
      if (a < z) {
        result_.bytes += z - a;
        bool more =
            zero
                ? opts_.zeros(a, z - a)
                : sink_(a, std::span<const std::byte>(b.out.data() + pos + (a - b.chunks[i].offset),
                                                      static_cast<size_t>(z - a)));
        if (!more) give_up();
      }
      pos += n;
      i = j;
    }
  }

  const Image& img_;
  const ewf::ChunkMap& map_;
  const Sink& sink_;
  const ReadOptions& opts_;
  ReadResult& result_;
  uint32_t chunk_size_ = 0;
  uint64_t end_ = 0, first_index_ = 0, end_index_ = 0;
  unsigned threads_ = 1;
  size_t max_inflight_ = 0;
  ewf::SharedChunks* share_ = nullptr;

  BatchQueue work_;  // batches for the decoders
  std::mutex order_m_;
  std::condition_variable order_cv_;
  std::deque<std::shared_ptr<Batch>> order_;  // every batch in flight, in media order
  std::atomic<bool> stop_{false};             // the consumer gave up
  bool producer_done_ = false;                // (under order_m_)
  bool ok_ = true;                            // the consumer's own view of stop_
  std::mutex pool_m_;  // output buffers handed back by the consumer (no page faults, no zeroing)
  std::vector<OutBuffer> pool_;
};

void read_ewf_parallel(const Image& img,
                       const std::function<bool(uint64_t, std::span<const std::byte>)>& sink,
                       const ReadOptions& opts, ReadResult& result) {
  ParallelEwfRead(img, sink, opts, result).run();
}

// A range that cannot be read: named, and delivered as zeros when asked (to `zeros` when set).
bool unreadable(uint64_t off, uint64_t len, const std::string& why,
                const std::vector<ChunkError>& damage, const ReadOptions& opts,
                const std::function<bool(uint64_t, std::span<const std::byte>)>& sink,
                ReadResult& result) {
  // A range the image's structure already names (Image::damage()): named as it is, once.
  auto known = std::find_if(damage.begin(), damage.end(), [&](const ChunkError& d) {
    return d.img_offset <= off && off < d.img_offset + d.len;
  });
  if (known != damage.end()) {
    if (result.errors.empty() || result.errors.back().img_offset != known->img_offset)
      result.errors.push_back(*known);
  } else if (!result.errors.empty()) {
    ChunkError& last = result.errors.back();
    if (last.img_offset + last.len == off) {  // one range for a run of failing pieces
      last.len += len;
      last.message = "image bytes " + std::to_string(last.img_offset) + "-" +
                     std::to_string(last.img_offset + last.len - 1) + " cannot be read: " + why;
    } else {
      result.errors.push_back({off, len,
                               "image bytes " + std::to_string(off) + "-" +
                                   std::to_string(off + len - 1) + " cannot be read: " + why});
    }
  } else {
    result.errors.push_back({off, len,
                             "image bytes " + std::to_string(off) + "-" +
                                 std::to_string(off + len - 1) + " cannot be read: " + why});
  }
  if (!opts.deliver_damaged) return true;
  if (opts.zeros) return opts.zeros(off, len);
  static const std::vector<std::byte> zero_block(1 << 20);
  for (uint64_t a = off; a < off + len;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(off + len - a, zero_block.size()));
    if (!sink(a, std::span<const std::byte>(zero_block).first(n))) return false;
    a += n;
  }
  return true;
}

// Every other format, in large blocks. A block that cannot be read is read again in 64 KiB
// pieces, so that what can be read is delivered and only the failing pieces are named.
void read_blocks(const Image& img,
                 const std::function<bool(uint64_t, std::span<const std::byte>)>& sink,
                 const ReadOptions& opts, ReadResult& result) {
  const uint64_t end = opts.length ? std::min(img.size(), opts.start + opts.length) : img.size();
  std::vector<std::byte> buf(opts.block_size ? opts.block_size : (4u << 20));
  constexpr size_t kPiece = 64 * 1024;
  auto piece = [&](uint64_t off, size_t want, bool* more) {
    try {
      size_t n = img.read(off, std::span<std::byte>(buf.data(), want));
      result.bytes += n;
      *more = sink(off, std::span<const std::byte>(buf.data(), n));
      return n;
    } catch (const EvidenceError& e) {
      if (want > kPiece) return size_t{0};
      *more = unreadable(off, want, e.what(), img.damage(), opts, sink, result);
      return want;
    }
  };
  for (uint64_t off = opts.start; off < end;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), end - off));
    bool more = true;
    size_t n = piece(off, want, &more);
    if (n == 0 && want > kPiece) {
      for (uint64_t a = off; a < off + want && more;) {
        const size_t w = static_cast<size_t>(std::min<uint64_t>(kPiece, off + want - a));
        a += std::max<size_t>(piece(a, w, &more), w);
      }
      n = want;
    }
    if (n == 0 || !more) break;
    off += n;
  }
}

}  // namespace

ReadResult read_sequential(const std::filesystem::path& path,
                           const std::function<bool(uint64_t, std::span<const std::byte>)>& sink,
                           const ReadOptions& opts) {
  // Opened as every other command opens it, so all agree on whether the image can be read.
  auto img = Image::open(path, opts.open);
  return read_sequential(*img, sink, opts);
}

ReadResult read_sequential(const Image& img,
                           const std::function<bool(uint64_t, std::span<const std::byte>)>& sink,
                           const ReadOptions& opts) {
  ReadResult result;
  if (img.ewf_map()) {
    read_ewf_parallel(img, sink, opts, result);
    return result;
  }
  // Other formats read through a handle of their own, opened as img was: Image::read serialises
  // its callers, and the caller's own reads (pass 1's) go on beside this one.
  auto own = Image::open(img.path(), img.options());
  read_blocks(*own, sink, opts, result);
  return result;
}

}  // namespace safehold::fs
