// The thing being imaged: a block device (guarded read-only: BLKROSET on it and every partition
// of its disk, confirmed with BLKROGET, refused when any of them is mounted writable) or an image
// file. Opened read-only; reads report errors as values so the pipeline can isolate bad sectors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "acquire/log.hpp"

namespace safehold::acquire {

struct DeviceIdentity {
  bool block_device = false;
  uint64_t size = 0;
  uint32_t logical_sector_size = 512;
  uint32_t physical_sector_size = 512;
  std::string kernel_name;  // sda, nvme0n1, loop3p1
  std::string disk;         // the whole disk it belongs to
  std::string vendor, model, serial, firmware, wwid;
  bool removable = false;
  bool hpa_dco_checked = false;
  std::string hpa_dco;  // what was found, or why it could not be checked
  nlohmann::json to_json() const;
};

// The write block across interrupted runs. A run killed while it holds the write block leaves the
// devices read-only; the run that continues it must restore what was there before the first run,
// not what it finds. original_read_only: each device's flag as the first run found it ("MAJ:MIN"
// -> read-only), from the resume state; before_set: called with original_flags() once every
// flag has been read and before any is changed, so that they can be saved first.
struct WriteBlockOptions {
  std::map<std::string, bool> original_read_only;
  std::function<void(const nlohmann::json&)> before_set;
};

class Source {
 public:
  // Opens the source; for a block device applies and confirms the write-block first, logging
  // every step. Throws AcquireError(usage) when it cannot (no such file, writable mount, ...).
  // direct: read with O_DIRECT (block devices; also image files when `files` is set) where the
  // kernel allows it; reads keep every offset and length the caller asks for (bounce buffers for
  // what is not aligned to the logical sector size).
  Source(const std::string& path, Log& log, bool direct = true, bool direct_files = false,
         const WriteBlockOptions& wb = {});
  ~Source();  // closes, and returns each device's read-only flag to what it was (logged)
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  const DeviceIdentity& identity() const { return id_; }
  // Bytes imaged: the source's size rounded up to whole sectors (an image file of another size
  // is padded with zeros, logged and recorded).
  uint64_t size() const { return id_.size; }
  uint64_t padding() const { return padding_; }
  uint32_t sector_size() const { return id_.logical_sector_size; }
  const nlohmann::json& write_block() const { return write_block_; }
  // Each guarded device's original read-only flag: [{"device", "dev" ("MAJ:MIN"), "read_only"}]
  // (empty for an image file). The resume state keeps it (WriteBlockOptions).
  nlohmann::json original_flags() const;

  // Reads exactly out.size() bytes at offset (short only at the end of the source);
  // returns bytes read, or -errno on a read error. Called from one thread at a time.
  long long read_at(uint64_t offset, std::span<std::byte> out);
  // Whether reads go through O_DIRECT (false once the kernel refused it), and its alignment
  // (offsets, lengths and buffer addresses; buffers aligned to 4096 always qualify).
  bool direct() const { return dfd_ >= 0; }
  uint32_t direct_alignment() const { return align_; }

 private:
  struct Guarded {
    std::string node;
    std::string dev;  // "MAJ:MIN"
    int fd = -1;
    int previous_ro = 0;     // the original flag, restored at the end
    int found_ro = 0;        // the flag when this run opened it
    bool inherited = false;  // previous_ro comes from an interrupted run's state
    bool applied = false;
  };
  using Members = std::vector<std::pair<std::string, std::string>>;  // kernel name, "MAJ:MIN"
  std::vector<std::string> refuse_writable_use(const Members& members);
  void apply_write_block(const Members& members, const WriteBlockOptions& wb,
                         const std::vector<std::string>& mounted_ro);
  void read_identity(const std::filesystem::path& disk);
  void open_source(bool direct, bool direct_files, const WriteBlockOptions& wb);
  long long read_direct(uint64_t offset, std::span<std::byte> out);
  long long finish_read(uint64_t offset, std::span<std::byte> out, size_t done) const;
  void release();
  void guard_block_device(unsigned maj, unsigned min, const WriteBlockOptions& wb);
  std::string path_;
  int fd_ = -1;
  int dfd_ = -1;          // the same source opened with O_DIRECT, or -1
  uint32_t align_ = 512;  // O_DIRECT alignment
  struct FreeBytes {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::unique_ptr<std::byte, FreeBytes> bounce_;  // one aligned window for unaligned pieces
  uint64_t real_size_ = 0;
  uint64_t padding_ = 0;
  DeviceIdentity id_;
  nlohmann::json write_block_;
  std::vector<Guarded> guarded_;
  Log& log_;
};

}  // namespace safehold::acquire
