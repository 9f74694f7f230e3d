// A fast whole-image sequential reader. On E01 it reads stored chunks through Safehold's own chunk
// map (every size and offset from the evidence checked) in one thread, decompresses and checks
// them (Adler-32) in parallel with libdeflate, and delivers them in order; elsewhere (raw, split
// raw, QCOW, VHD, VHDX, VMDK) it reads in large blocks. Used by hashing, verification and carving.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <vector>

#include "fs/error.hpp"
#include "fs/image.hpp"

namespace safehold::fs {

class Image;

namespace ewf {
class SharedChunks;
}

struct ReadOptions {
  unsigned threads = 0;          // 0: all cores
  size_t block_size = 4u << 20;  // for non-EWF images
  uint64_t start = 0;            // byte range to read; length 0 means to the end
  uint64_t length = 0;
  // When set, ranges the reader knows hold only zeros without decoding them (EWF chunks stored
  // exactly like an all-zero chunk) go to zeros(offset, length) instead of to the sink, in order
  // with the sink's pieces. Return false to stop early. Other ranges of zeros still go to the sink.
  std::function<bool(uint64_t, uint64_t)> zeros;
  // E01 only: the chunks decoded and verified on the way are published here
  // (Image::shared_chunks()) for the image's TSK reads to take instead of decoding them again.
  ewf::SharedChunks* share = nullptr;
  // Image ranges that cannot be read are always named in ReadResult::errors; true delivers them
  // as zeros too (to `zeros` when set, else to the sink) so offsets stay contiguous; false skips
  // them (a hash that will not be presented needs none of their bytes).
  bool deliver_damaged = true;
  // How the image is opened (Image::options() of an image already open, so that both agree).
  OpenOptions open;
};

struct ReadResult {
  uint64_t bytes = 0;
  std::vector<ChunkError> errors;  // ranges that cannot be read, in image order
  // Ranges that cannot be read (E01 chunks, or 64 KiB pieces of other formats whose reads fail)
  // go into errors and are delivered zero-filled (or skipped, see ReadOptions::deliver_damaged);
  // `bytes` counts only what was read.
  bool used_raw_chunks = false;  // true when the parallel E01 path was taken
};

// Delivers the image's data in order: sink(offset, bytes). Return false to stop early.
// Throws EvidenceError when the image cannot be opened (Image::open's checks).
ReadResult read_sequential(const std::filesystem::path& image,
                           const std::function<bool(uint64_t, std::span<const std::byte>)>& sink,
                           const ReadOptions& opts = {});
// The same for an image already open: an E01's chunk map (and its shared chunk cache) is used as
// it is, never parsed again; other formats are read through a handle of their own, opened with
// the image's own options (opts.open is not used).
ReadResult read_sequential(const Image& image,
                           const std::function<bool(uint64_t, std::span<const std::byte>)>& sink,
                           const ReadOptions& opts = {});

}  // namespace safehold::fs
