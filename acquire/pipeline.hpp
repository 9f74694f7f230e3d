// The imaging pipeline (internal to acquire/):
//   reader thread   reads blocks of whole chunks (O_DIRECT for block devices; retries, then
//                   narrows down to single sectors and zero-fills only those that stay unreadable)
//   hash threads    one per digest (MD5, SHA-1, SHA-256), each over the blocks in order
//   compressors     one per core, whole blocks of chunks, any order
//   calling thread  writes the chunks in order through libewf, saves resume checkpoints
// A fixed pool of blocks bounds memory; every block goes back to the pool once written and hashed.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "acquire/acquire.hpp"
#include "acquire/ewf_writer.hpp"
#include "acquire/hash_state.hpp"
#include "acquire/log.hpp"
#include "acquire/source.hpp"

namespace safehold::acquire {

// Hash states are saved every kSnapshotEvery blocks of kBlockBytes (64 MiB) for --resume.
constexpr size_t kBlockBytes = 4u << 20;
constexpr unsigned kSnapshotEvery = 16;
constexpr size_t kSnapshotsKept = 128;
// Progress is reported at least every kProgressBytes, or every fortieth of a smaller source, so
// that a log line is due at every 5 % however fast the machine (blocks are no larger).
constexpr uint64_t kProgressBytes = 16u << 20;

// The running digests after `offset` bytes of the source ("md5" -> saved state).
struct Snapshot {
  uint64_t offset = 0;
  std::map<std::string, std::string> states;
};

using CheckpointFn =
    std::function<void(const std::vector<Snapshot>&, const std::vector<BadRange>&)>;

class Pipeline {
 public:
  Pipeline(const Options& o, Source& src, Log& log, uint32_t chunk_size);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Reads [start, size), hashes from `start` with `digests` (restored states), writes chunks at
  // and after write_from to `w`; appends read errors to `bad` and checkpoints to `snapshots`,
  // calling `checkpoint` after each.
  void run(uint64_t start, uint64_t write_from, std::vector<ResumableDigest>& digests, EwfWriter& w,
           std::vector<BadRange>& bad, std::vector<Snapshot>& snapshots,
           const CheckpointFn& checkpoint);

 private:
  struct Block;
  struct Shared;
  struct Writing;
  void read_block(Block& b);
  void reader(uint64_t start);
  void hash_worker(ResumableDigest& d);
  void compress_worker(uint64_t write_from);
  void write_blocks(Writing& wr);
  void stop_threads();
  // Bytes per block: kBlockBytes, or the progress step of a small source, in whole chunks.
  size_t block_bytes() const;
  // Report progress each time this many more bytes are written (and at the end).
  uint64_t progress_step() const;
  const Options& o_;
  Source& src_;
  Log& log_;
  uint32_t chunk_;
  std::unique_ptr<Shared> s_;
};

// Adds one unreadable sector to a list of ranges (merging with the last range when adjacent).
void add_bad(std::vector<BadRange>& v, uint64_t sector);

}  // namespace safehold::acquire
