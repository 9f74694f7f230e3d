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

namespace safehold::fs {

namespace {

constexpr size_t kChunksPerBatch = 64;

// The decoding threads only have to stay ahead of the consumer, which is usually the slowest stage
// (one MD5 stream cannot be split), so on a busy machine the consumer gets the CPU first.
void lower_this_thread_priority() {
  setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 4);
}

struct RawChunk {
  uint64_t offset = 0;     // image offset of the chunk's data
  uint32_t data_size = 0;  // bytes of media data it holds
  bool compressed = false;
  uint32_t checksum = 0;  // Adler-32 of the data, for stored chunks
  bool has_checksum = false;
  bool zero = false;  // stored exactly like a chunk known to hold zeros: not inflated
  const std::byte* shared = nullptr;  // already decoded by another reader (SharedChunks)
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
  OutBuffer out;  // decompressed data of all chunks, in order
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

void decode_batch(Batch& b, libdeflate_decompressor* d, bool fill_zeros, ewf::SharedChunks* share) {
  size_t total = 0;
  for (auto& c : b.chunks) total += c.data_size;
  b.out.resize(total);  // uninitialised: every byte delivered to the sink is written below
  size_t pos = 0;
  for (auto& c : b.chunks) {
    unsigned char* dst = reinterpret_cast<unsigned char*>(b.out.data() + pos);
    if (c.shared) {
      std::memcpy(dst, c.shared, c.data_size);
    } else if (c.zero) {
      if (fill_zeros) std::memset(dst, 0, c.data_size);
    } else if (c.compressed) {
      size_t actual = 0;
      auto r = libdeflate_zlib_decompress(d, c.stored.data(), c.stored.size(), dst, c.data_size,
                                          &actual);
      if (r != LIBDEFLATE_SUCCESS || actual != c.data_size) {
        std::memset(dst, 0, c.data_size);
        b.errors.push_back(
            {c.offset, c.data_size,
             "chunk at offset " + std::to_string(c.offset) +
                 (r == LIBDEFLATE_BAD_DATA ? ": corrupt compressed data or Adler-32 mismatch"
                                           : ": decompressed size is wrong")});
      } else if (share) {
        share->put(c.offset / share->chunk_size(),
                   std::span<const std::byte>(b.out.data() + pos, c.data_size));
      }
    } else {
      size_t n = std::min<size_t>(c.stored.size(), c.data_size);
      std::memcpy(dst, c.stored.data(), n);
      std::memset(dst + n, 0, c.data_size - n);
      bool good = c.stored.size() >= c.data_size;
      if (c.has_checksum) {
        uint32_t a = static_cast<uint32_t>(
            adler32(adler32(0, nullptr, 0), c.stored.data(), static_cast<uInt>(n)));
        if (a != c.checksum) {
          good = false;
          b.errors.push_back(
              {c.offset, c.data_size,
               "chunk at offset " + std::to_string(c.offset) + ": Adler-32 mismatch"});
        }
      }
      if (good && share)
        share->put(c.offset / share->chunk_size(),
                   std::span<const std::byte>(b.out.data() + pos, c.data_size));
    }
    pos += c.data_size;
  }
  for (auto& c : b.chunks) std::vector<unsigned char>().swap(c.stored);
}

// The fast path: raw chunks from libewf, decoded on every core, delivered in order.
// Returns false (having delivered nothing) when libewf cannot give raw chunks of this image.
bool read_ewf_parallel(const std::filesystem::path& path,
                       const std::function<bool(uint64_t, std::span<const std::byte>)>& sink,
                       const ReadOptions& opts, ReadResult& result) {
  ewf::Handle h = ewf::open_for_read(path.string());
  ewf::Error err;
  size64_t media_size = 0;
  size32_t chunk_size = 0;
  if (libewf_handle_get_media_size(h.get(), &media_size, err.out()) != 1 ||
      libewf_handle_get_chunk_size(h.get(), &chunk_size, err.out()) != 1 || chunk_size == 0)
    return false;
  uint64_t start = opts.start - opts.start % chunk_size;
  uint64_t end =
      opts.length ? std::min<uint64_t>(media_size, opts.start + opts.length) : media_size;
  if (start >= end) return true;
  if (libewf_handle_seek_offset(h.get(), static_cast<off64_t>(start), SEEK_SET, err.out()) < 0)
    return false;

  unsigned threads =
      opts.threads ? opts.threads : std::max(1u, std::thread::hardware_concurrency());
  ewf::SharedChunks* share =
      opts.share && opts.share->chunk_size() == chunk_size ? opts.share : nullptr;
  if (share) share->activate();
  BatchQueue work;
  std::mutex order_m;
  std::condition_variable order_cv;
  std::deque<std::shared_ptr<Batch>> order;
  const size_t max_inflight = threads * 3 + 2;
  std::atomic<bool> stop{false};
  std::string read_error;
  bool producer_done = false;
  bool first_chunk_failed = false;

  std::mutex
      pool_m;  // output buffers handed back by the consumer, reused (no page faults, no zeroing)
  std::vector<OutBuffer> pool;

  std::vector<std::thread> workers;
  for (unsigned i = 0; i < threads; ++i)
    workers.emplace_back([&] {
      lower_this_thread_priority();
      std::unique_ptr<libdeflate_decompressor, decltype(&libdeflate_free_decompressor)> d(
          libdeflate_alloc_decompressor(), &libdeflate_free_decompressor);
      while (auto b = work.pop()) {
        decode_batch(*b, d.get(), !opts.zeros, share);
        std::lock_guard<std::mutex> g(order_m);
        b->done = true;
        order_cv.notify_all();
      }
    });

  std::thread producer([&] {
    lower_this_thread_priority();
    uint64_t off = start;
    std::vector<unsigned char> scratch(static_cast<size_t>(chunk_size) * 2 + 1024);
    std::vector<std::byte> probe(chunk_size);
    ewf::ZeroChunks zeros;
    bool seek = false;  // chunks were skipped: libewf's position is behind `off`
    std::unique_ptr<libdeflate_decompressor, decltype(&libdeflate_free_decompressor)> pd(
        libdeflate_alloc_decompressor(), &libdeflate_free_decompressor);
    while (off < end && !stop) {
      auto b = std::make_shared<Batch>();
      {
        std::lock_guard<std::mutex> g(pool_m);
        if (!pool.empty()) {
          b->out = std::move(pool.back());
          pool.pop_back();
        }
      }
      for (size_t i = 0; i < kChunksPerBatch && off < end; ++i) {
        RawChunk c;
        c.offset = off;
        c.data_size = static_cast<uint32_t>(std::min<uint64_t>(chunk_size, media_size - off));
        if (share) {
          // Decoded by the image's TSK reads already: neither read nor inflated again.
          bool zero = false;
          c.shared = share->find(off / chunk_size, &zero);
          if (c.shared || zero) {
            c.zero = zero;
            off += c.data_size;
            b->chunks.push_back(std::move(c));
            seek = true;
            continue;
          }
          if (seek) {
            ewf::Error se;
            if (libewf_handle_seek_offset(h.get(), static_cast<off64_t>(off), SEEK_SET, se.out()) <
                0) {
              std::lock_guard<std::mutex> g(order_m);
              read_error =
                  "cannot seek to the chunk at offset " + std::to_string(off) + ": " + se.message();
              off = end;
              break;
            }
            seek = false;
          }
        }
        int8_t is_compressed = 0, read_checksum = 0;
        uint8_t checksum_buf[4] = {};
        uint32_t checksum = 0;
        ewf::Error e;
        ssize_t n =
            libewf_handle_read_chunk(h.get(), scratch.data(), scratch.size(), &is_compressed,
                                     checksum_buf, &checksum, &read_checksum, e.out());
        if (n <= 0) {
          std::lock_guard<std::mutex> g(order_m);
          if (off == start && order.empty() && b->chunks.empty()) first_chunk_failed = true;
          read_error =
              "cannot read the chunk at offset " + std::to_string(off) + ": " + e.message();
          off = end;
          break;
        }
        c.compressed = is_compressed != 0;
        std::span<const unsigned char> stored(scratch.data(), static_cast<size_t>(n));
        if (c.compressed && zeros.is_zero(stored, c.data_size)) {
          c.zero = true;
          if (share) share->put_zero(off / chunk_size);
        } else {
          if (c.compressed && pd && zeros.want(stored.size())) {
            // Small compressed chunks may be zero chunks: decode one here to learn its form.
            size_t actual = 0;
            if (libdeflate_zlib_decompress(pd.get(), stored.data(), stored.size(), probe.data(),
                                           c.data_size, &actual) == LIBDEFLATE_SUCCESS &&
                actual == c.data_size)
              zeros.learn(stored, std::span<const std::byte>(probe.data(), c.data_size));
          }
          c.stored.assign(stored.begin(), stored.end());
        }
        if (!c.compressed) {
          if (read_checksum) {
            c.checksum = checksum;
            c.has_checksum = true;
          } else if (c.stored.size() >= static_cast<size_t>(c.data_size) + 4) {
            const unsigned char* p = c.stored.data() + c.data_size;
            c.checksum =
                uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
            c.has_checksum = true;
          }
        }
        off += c.data_size;
        b->chunks.push_back(std::move(c));
      }
      if (b->chunks.empty()) break;
      {
        std::unique_lock<std::mutex> l(order_m);
        order_cv.wait(l, [&] { return order.size() < max_inflight || stop; });
        if (stop) break;
        order.push_back(b);
        order_cv.notify_all();
      }
      work.push(b);
    }
    std::lock_guard<std::mutex> g(order_m);
    producer_done = true;
    order_cv.notify_all();
  });

  bool ok = true;
  for (;;) {
    std::shared_ptr<Batch> b;
    {
      std::unique_lock<std::mutex> l(order_m);
      order_cv.wait(l, [&] {
        return (!order.empty() && order.front()->done) || (producer_done && order.empty());
      });
      if (order.empty()) break;
      b = order.front();
      order.pop_front();
      order_cv.notify_all();
    }
    result.errors.insert(result.errors.end(), b->errors.begin(), b->errors.end());
    struct GiveBack {  // the output buffer goes back to the pool once the sink is done with it
      std::shared_ptr<Batch>& b;
      std::mutex& m;
      std::vector<OutBuffer>& pool;
      ~GiveBack() {
        std::lock_guard<std::mutex> g(m);
        if (pool.size() < 8) pool.push_back(std::move(b->out));
      }
    } give_back{b, pool_m, pool};
    // Deliver the batch in order: runs of zero chunks to opts.zeros (when set), the rest to sink.
    size_t pos = 0;
    for (size_t i = 0; i < b->chunks.size() && ok;) {
      const bool zero = opts.zeros && b->chunks[i].zero;
      size_t j = i, n = 0;
      while (j < b->chunks.size() && (opts.zeros && b->chunks[j].zero) == zero)
        n += b->chunks[j++].data_size;
      uint64_t a = std::max<uint64_t>(b->chunks[i].offset, opts.start);
      uint64_t z = std::min<uint64_t>(b->chunks[i].offset + n, end);
      if (a < z) {
        result.bytes += z - a;
        bool more = zero ? opts.zeros(a, z - a)
                         : sink(a, std::span<const std::byte>(
                                       b->out.data() + pos + (a - b->chunks[i].offset),
                                       static_cast<size_t>(z - a)));
        if (!more) {
          ok = false;
          std::lock_guard<std::mutex> g(order_m);
          stop = true;
          order_cv.notify_all();
        }
      }
      pos += n;
      i = j;
    }
  }
  producer.join();
  work.close();
  for (auto& t : workers) t.join();
  if (first_chunk_failed) return false;
  if (!read_error.empty() && ok) throw EvidenceError(path.string() + ": " + read_error);
  result.used_raw_chunks = true;
  return true;
}

}  // namespace

ReadResult read_sequential(const std::filesystem::path& path,
                           const std::function<bool(uint64_t, std::span<const std::byte>)>& sink,
                           const ReadOptions& opts) {
  ReadResult result;
  ewf::Error err;
  if (libewf_check_file_signature(path.c_str(), err.out()) == 1) {
    if (read_ewf_parallel(path, sink, opts, result)) return result;
    result = ReadResult{};
  }
  auto img = Image::open(path);
  const uint64_t end = opts.length ? std::min(img->size(), opts.start + opts.length) : img->size();
  std::vector<std::byte> buf(opts.block_size ? opts.block_size : (4u << 20));
  for (uint64_t off = opts.start; off < end;) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), end - off));
    size_t n = img->read(off, std::span<std::byte>(buf.data(), want));
    if (n == 0) break;
    result.bytes += n;
    if (!sink(off, std::span<const std::byte>(buf.data(), n))) break;
    off += n;
  }
  return result;
}

}  // namespace safehold::fs
