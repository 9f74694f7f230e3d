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
#include "fs/internal/ewf_map.hpp"

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
  explicit ChunkSource(std::shared_ptr<const ChunkMap> map)
      : map_(std::move(map)),
        media_size_(map_->media_size()),
        chunk_size_(map_->chunk_size()),
        d_(libdeflate_alloc_decompressor()),
        scratch_(map_->max_stored()),
        zero_(chunk_size_),
        shared_(std::make_shared<SharedChunks>(map_->chunk_count(), chunk_size_, kSharedBudget)) {
    if (!d_) throw std::bad_alloc();
    for (auto& s : slots_) s.data.resize(chunk_size_);
  }

  uint64_t size() const { return media_size_; }
  const std::shared_ptr<SharedChunks>& shared() const { return shared_; }

  // Like pread(2): the bytes before the first chunk that cannot be read, or -1 (with TSK's error
  // set, naming the image and the chunk) when that is the first one.
  ssize_t read(uint64_t off, char* buf, size_t len) {
    if (off >= media_size_) {
      set_error(off,
                "it is beyond the end of the media (" + std::to_string(media_size_) + " bytes)");
      return -1;
    }
    len = static_cast<size_t>(std::min<uint64_t>(len, media_size_ - off));
    size_t done = 0;
    while (done < len) {
      uint64_t pos = off + done;
      uint64_t index = pos / chunk_size_;
      std::string why;
      const std::byte* c = chunk(index, &why);
      if (!c) {
        if (done > 0) break;
        set_error(pos, map_->describe(index) + " cannot be read: " + why);
        return -1;
      }
      size_t within = static_cast<size_t>(pos - index * chunk_size_);
      size_t n = std::min<size_t>(len - done, map_->data_size(index) - within);
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

  void set_error(uint64_t off, const std::string& what) {
    tsk_error_reset();
    tsk_error_set_errno(TSK_ERR_IMG_READ);
    tsk_error_set_errstr("%s: cannot read at byte offset %" PRIu64 ": %s",
                         map_->first_segment().c_str(), off, what.c_str());
  }

  // The decoded chunk, or nullptr with *why set when it cannot be read.
  const std::byte* chunk(uint64_t index, std::string* why) {
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
    const uint32_t data_size = map_->data_size(index);
    bool compressed = false;
    size_t n = map_->read_stored(index, scratch_, &compressed, why);
    if (n == 0) return nullptr;
    std::span<const unsigned char> stored(scratch_.data(), n);
    if (compressed && zeros_.is_zero(stored, data_size)) {
      shared_->put_zero(index);
      return zero_.data();
    }
    victim->index = UINT64_MAX;  // its data is overwritten now
    *why = decode_chunk(d_.get(), stored, compressed, victim->data.data(), data_size, chunk_size_);
    if (!why->empty()) return nullptr;
    if (compressed)
      zeros_.learn(stored, std::span<const std::byte>(victim->data.data(), data_size));
    shared_->put(index, std::span<const std::byte>(victim->data.data(), data_size));
    victim->index = index;
    victim->used = clock_;
    return victim->data.data();
  }

  std::shared_ptr<const ChunkMap> map_;
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

TSK_IMG_INFO* open_tsk_image(std::shared_ptr<const ChunkMap> map,
                             std::shared_ptr<SharedChunks>* shared, uint32_t sector_size) {
  const uint32_t sector = sector_size ? sector_size : map->bytes_per_sector();
  auto src = std::make_unique<ChunkSource>(std::move(map));
  auto* t = static_cast<TskEwf*>(std::calloc(1, sizeof(TskEwf)));
  if (!t) throw std::bad_alloc();
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
