#include "fs/ewf_image.hpp"

#include <libdeflate.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cinttypes>
#include <cstdlib>
#include <memory>
#include <new>

#include "fs/ewf.hpp"
#include "fs/internal/ewf_chunks.hpp"

namespace safehold::fs::ewf {

bool all_zero(std::span<const std::byte> data) {
  static const std::byte zeros[4096] = {};
  const std::byte* p = data.data();
  size_t n = data.size();
  while (n >= sizeof zeros) {
    if (std::memcmp(p, zeros, sizeof zeros) != 0) return false;
    p += sizeof zeros;
    n -= sizeof zeros;
  }
  return std::memcmp(p, zeros, n) == 0;
}

namespace {

// Decoded chunks the whole-image reader may hand over to this backend (see SharedChunks).
constexpr size_t kSharedBudget = size_t{128} << 20;

struct Decompressor {
  void operator()(libdeflate_decompressor* d) const { libdeflate_free_decompressor(d); }
};

class ChunkSource {
 public:
  ChunkSource(Handle h, uint64_t media_size, uint32_t chunk_size)
      : h_(std::move(h)),
        media_size_(media_size),
        chunk_size_(chunk_size),
        d_(libdeflate_alloc_decompressor()),
        scratch_(static_cast<size_t>(chunk_size) * 2 + 1024),
        zero_(chunk_size),
        shared_(std::make_shared<SharedChunks>((media_size + chunk_size - 1) / chunk_size,
                                               chunk_size, kSharedBudget)) {
    if (!d_) throw std::bad_alloc();
    for (auto& s : slots_) s.data.resize(chunk_size);
  }

  uint64_t size() const { return media_size_; }
  const std::shared_ptr<SharedChunks>& shared() const { return shared_; }

  ssize_t read(uint64_t off, char* buf, size_t len) {
    if (off >= media_size_) return fallback(off, buf, len);
    len = static_cast<size_t>(std::min<uint64_t>(len, media_size_ - off));
    size_t done = 0;
    while (done < len) {
      uint64_t pos = off + done;
      uint64_t index = pos / chunk_size_;
      const std::byte* c = chunk(index);
      if (!c) return fallback(off, buf, len);
      size_t within = static_cast<size_t>(pos - index * chunk_size_);
      size_t n = std::min<size_t>(len - done, chunk_bytes(index) - within);
      if (c == zero_.data())
        std::memset(buf + done, 0, n);
      else
        std::memcpy(buf + done, c + within, n);
      done += n;
    }
    return static_cast<ssize_t>(done);
  }

 private:
  struct Slot {
    uint64_t index = UINT64_MAX;
    uint64_t used = 0;
    std::vector<std::byte> data;
  };

  size_t chunk_bytes(uint64_t index) const {
    return static_cast<size_t>(std::min<uint64_t>(chunk_size_, media_size_ - index * chunk_size_));
  }

  // The decoded chunk, or nullptr when it must be read through libewf instead.
  const std::byte* chunk(uint64_t index) {
    bool zero = false;
    if (const std::byte* p = shared_->find(index, &zero)) return p;
    if (zero) return zero_.data();
    ++clock_;
    Slot* victim = &slots_[0];
    for (auto& s : slots_) {
      if (s.index == index) {
        s.used = clock_;
        return s.data.data();
      }
      if (s.used < victim->used) victim = &s;
    }
    const uint32_t data_size = static_cast<uint32_t>(chunk_bytes(index));
    Error e;
    if (libewf_handle_seek_offset(h_.get(), static_cast<off64_t>(index * chunk_size_), SEEK_SET,
                                  e.out()) < 0)
      return nullptr;
    int8_t is_compressed = 0, read_checksum = 0;
    uint8_t checksum_buf[4] = {};
    uint32_t checksum = 0;
    ssize_t n = libewf_handle_read_chunk(h_.get(), scratch_.data(), scratch_.size(), &is_compressed,
                                         checksum_buf, &checksum, &read_checksum, e.out());
    if (n <= 0) return nullptr;
    std::span<const unsigned char> stored(scratch_.data(), static_cast<size_t>(n));
    if (is_compressed) {
      if (zeros_.is_zero(stored, data_size)) {
        shared_->put_zero(index);
        return zero_.data();
      }
      size_t actual = 0;
      if (libdeflate_zlib_decompress(d_.get(), stored.data(), stored.size(), victim->data.data(),
                                     data_size, &actual) != LIBDEFLATE_SUCCESS ||
          actual != data_size)
        return nullptr;
      zeros_.learn(stored, std::span<const std::byte>(victim->data.data(), data_size));
    } else {
      if (stored.size() < data_size) return nullptr;
      bool has = false;
      uint32_t want = 0;
      if (read_checksum) {
        want = checksum;
        has = true;
      } else if (stored.size() >= static_cast<size_t>(data_size) + 4) {
        const unsigned char* p = stored.data() + data_size;
        want = uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
        has = true;
      }
      if (has &&
          static_cast<uint32_t>(adler32(adler32(0, nullptr, 0), stored.data(), data_size)) != want)
        return nullptr;
      std::memcpy(victim->data.data(), stored.data(), data_size);
    }
    shared_->put(index, std::span<const std::byte>(victim->data.data(), data_size));
    victim->index = index;
    victim->used = clock_;
    return victim->data.data();
  }

  // What TSK's own EWF backend does, with its error text.
  ssize_t fallback(uint64_t off, char* buf, size_t len) {
    Error e;
    ssize_t n = libewf_handle_read_random(h_.get(), buf, len, static_cast<off64_t>(off), e.out());
    if (n < 0) {
      tsk_error_reset();
      tsk_error_set_errno(TSK_ERR_IMG_READ);
      tsk_error_set_errstr("ewf_image_read - offset: %" PRIu64 " - len: %zu - %s", off, len,
                           e.message().c_str());
    }
    return n;
  }

  Handle h_;
  uint64_t media_size_;
  uint32_t chunk_size_;
  std::unique_ptr<libdeflate_decompressor, Decompressor> d_;
  std::vector<unsigned char> scratch_;
  std::vector<std::byte> zero_;
  ZeroChunks zeros_;
  std::shared_ptr<SharedChunks> shared_;
  std::array<Slot, 16> slots_;
  uint64_t clock_ = 0;
};

// TSK casts the TSK_IMG_INFO* it is given back to this: `info` must stay the first member.
struct TskEwf {
  TSK_IMG_INFO info;
  ChunkSource* source;
};

ssize_t tsk_read(TSK_IMG_INFO* img, TSK_OFF_T off, char* buf, size_t len) {
  try {
    return reinterpret_cast<TskEwf*>(img)->source->read(static_cast<uint64_t>(off), buf, len);
  } catch (const std::exception& e) {
    tsk_error_reset();
    tsk_error_set_errno(TSK_ERR_IMG_READ);
    tsk_error_set_errstr("ewf_image_read - offset: %" PRId64 " - %s", static_cast<int64_t>(off),
                         e.what());
    return -1;
  }
}

void tsk_close(TSK_IMG_INFO* img) {
  auto* t = reinterpret_cast<TskEwf*>(img);
  delete t->source;
  std::free(t);
}

void tsk_stat(TSK_IMG_INFO* img, FILE* f) {
  tsk_fprintf(
      f,
      "IMAGE FILE INFORMATION\n--------------------------------------------\nImage Type:\t\tewf\n");
  tsk_fprintf(f, "\nSize of data in bytes:\t%" PRId64 "\n", static_cast<int64_t>(img->size));
  tsk_fprintf(f, "Sector size:\t%u\n", img->sector_size);
}

}  // namespace

TSK_IMG_INFO* open_tsk_image(const std::string& first, std::shared_ptr<SharedChunks>* shared) {
  std::unique_ptr<ChunkSource> src;
  uint32_t sector = 512;
  try {
    Handle h = open_for_read(first);
    Error err;
    size64_t media_size = 0;
    size32_t chunk_size = 0;
    uint32_t bps = 0;
    if (libewf_handle_get_media_size(h.get(), &media_size, err.out()) != 1 ||
        libewf_handle_get_chunk_size(h.get(), &chunk_size, err.out()) != 1 || chunk_size == 0 ||
        media_size == 0)
      return nullptr;
    if (libewf_handle_get_bytes_per_sector(h.get(), &bps, err.out()) == 1 && bps) sector = bps;
    src = std::make_unique<ChunkSource>(std::move(h), media_size, chunk_size);
  } catch (const std::exception&) {
    return nullptr;
  }
  auto* t = static_cast<TskEwf*>(std::calloc(1, sizeof(TskEwf)));
  if (!t) return nullptr;
  t->source = src.get();
  TSK_IMG_INFO* img = tsk_img_open_external(t, static_cast<TSK_OFF_T>(src->size()), sector,
                                            tsk_read, tsk_close, tsk_stat);
  if (!img) {
    std::free(t);
    return nullptr;
  }
  if (shared) *shared = src->shared();
  src.release();
  return img;
}

}  // namespace safehold::fs::ewf
