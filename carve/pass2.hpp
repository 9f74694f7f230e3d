// carve/: pass 2, signature carving of the space no file holds. The unallocated blocks of every
// filesystem and the image ranges no filesystem covers are laid end to end ("carve space", whose
// offsets ByteView calls Space::carve) and read once, in order; a header is looked for at every
// sector start and the format walker follows it to its true end. Pass 2 runs beside pass 1 and
// writes nothing while it runs: what it finds is held (in memory, past a budget in one scratch
// file) until pass 1 is done, when settle() drops what pass 1 already produced, gives the rest
// their final ids (after pass 1's) and writes each file once.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "carve/stage.hpp"

namespace safehold::carve {

// A carvable image range.
struct Region {
  uint64_t img = 0, len = 0;
  int filesystem = -1;  // -1: unpartitioned
  int volume = -1;
  uint32_t block = 512;
};

// Pass 2's address space: carvable image ranges laid end to end.
struct CarveSpace {
  std::vector<Region> regions;
  std::vector<uint64_t> start;  // carve-space offset of each region
  uint64_t total = 0;

  // The unallocated and unpartitioned space of an evidence, sector-aligned. Reads filesystem
  // metadata: call before the passes start. Problems met go to `problems`.
  static CarveSpace of(fs::Evidence& ev, std::vector<fs::Problem>& problems);
  size_t region_of(uint64_t carve_offset) const;
  // The image byte runs of [carve_offset, carve_offset + len).
  std::vector<ImageRun> runs(uint64_t carve_offset, uint64_t len) const;
};

// Bytes waiting to be written: in memory up to a budget, then appended to one scratch file.
class HeldBytes {
 public:
  struct Ref {
    bool in_memory = true;
    size_t index = 0;     // in memory
    uint64_t offset = 0;  // in the scratch file
    uint64_t size = 0;
  };
  HeldBytes(std::filesystem::path spill, uint64_t budget)
      : spill_(std::move(spill)), budget_(budget) {}
  ~HeldBytes();  // removes the scratch file
  HeldBytes(const HeldBytes&) = delete;
  HeldBytes& operator=(const HeldBytes&) = delete;
  Ref put(std::span<const std::byte> data);
  // The bytes of a Ref (from memory, or read into buf); safe from several threads.
  std::span<const std::byte> get(const Ref& r, std::vector<std::byte>& buf) const;

 private:
  std::filesystem::path spill_;
  uint64_t budget_;
  std::vector<std::vector<std::byte>> mem_;
  uint64_t mem_bytes_ = 0;
  int fd_ = -1;
  uint64_t spill_size_ = 0;
};

struct Pass2Stats {
  uint64_t bytes_read = 0;
  uint64_t carve_space = 0;
  std::map<std::string, uint64_t> invalid;    // candidates rejected, by type
  std::map<std::string, uint64_t> truncated;  // candidates cut short, by type
  uint64_t bifragment = 0;
  std::vector<fs::Problem> errors;  // image read errors
  // The parts of the carve space that could not be read (fed as zeros, not counted in
  // bytes_read).
  std::vector<fs::ChunkError> unreadable;
};

class Pass2 {
 public:
  Pass2(const StageContext& c, ProgressHub& hub, CarveSpace space);

  // Reads the carve space and walks every candidate. Throws only when outputs cannot be written.
  void run();
  // Asks run() to stop soon (another stage failed).
  void stop() { stop_ = true; }

  // After pass 1: appends what pass 2 found to `arts` (pass 1's, final), leaving out what starts
  // where a valid pass-1 artefact starts, with ids after pass 1's `first_ids` top-level ones;
  // writes each file once (after the known-hash check), hashes and PDQ-hashes it.
  void settle(std::vector<Artefact>& arts, uint64_t first_ids);
  const Pass2Stats& stats() const { return stats_; }

 private:
  // A found artefact: its record (no id, file or digests yet) and where its bytes wait.
  struct Found {
    Artefact art;
    HeldBytes::Ref bytes;
    size_t parent = SIZE_MAX;  // thumbnails: index of the parent in found_
    int number = 0;            // thumbnails: 1, 2, ... within the parent
  };

  bool idle() const { return buf_.empty() && scan_ == buf_start_ && wait_until_ <= buf_start_; }
  void read_span(size_t first, size_t last);
  void not_read(size_t first, size_t last, const fs::ChunkError& e);
  void feed_zeros(uint64_t n);
  void feed(std::span<const std::byte> b);
  void process(bool final);
  bool bifragment(const ByteView& v, const WalkResult& r);
  void emit(const ByteView& content, const WalkResult& r,
            const std::vector<std::pair<uint64_t, uint64_t>>& pieces, uint64_t at);
  void report() { hub_.update(ProgressHub::pass2, "carving", done_, space_.total, found_.size()); }
  std::vector<bool> dropped(const std::vector<Artefact>& pass1) const;

  StageContext c_;
  ProgressHub& hub_;
  const CarveSpace space_;
  HeldBytes held_;
  std::vector<Found> found_;
  Pass2Stats stats_;
  std::atomic<bool> stop_{false};
  // The stream: buf_ holds carve space from buf_start_ on; scan_ is the next sector to probe;
  // nothing is probed before wait_until_ is buffered (a walk asked for more).
  std::vector<std::byte> buf_;
  uint64_t buf_start_ = 0, scan_ = 0, wait_until_ = 0;
  uint64_t done_ = 0, last_report_ = 0;
};

}  // namespace safehold::carve
