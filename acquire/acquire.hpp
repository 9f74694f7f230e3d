// acquire/: forensically sound imaging of a block device or image file into EnCase 6 E01
// segments. Public interface: acquire() runs the whole pipeline (write-block guard, read with
// bad-sector isolation, MD5/SHA-1/SHA-256, parallel zlib-format compression, in-order E01 writing,
// record and log); verify() re-reads an E01 and compares it with the hashes stored and recorded.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/hash.hpp"

namespace safehold::acquire {

enum class Compression { none, fast, best };
const char* to_string(Compression c);

// Why an acquisition could not start or had to stop.
class AcquireError : public std::runtime_error {
 public:
  enum class Kind { usage, failed };
  AcquireError(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

struct CaseInfo {
  std::string case_number, evidence_number, examiner, description, notes;
};

struct Progress {
  uint64_t done = 0;  // source bytes acquired (written) so far
  uint64_t total = 0;
  double rate = 0;  // bytes per second since start
  double eta_seconds = 0;
  uint64_t bad_sectors = 0;
  bool final = false;
};

// Reading the source with O_DIRECT: no copy through the page cache (and no page cache filled with
// the evidence). automatic: block devices; on: image files too (where the filesystem allows it);
// off: never. Any read the device refuses with EINVAL falls back to ordinary reads, logged.
enum class DirectIo { automatic, on, off };

struct Options {
  std::string source;              // block device or image file
  std::filesystem::path out_base;  // OUT -> OUT.E01, OUT.acquire.json, OUT.acquire.log
  CaseInfo info;
  Compression compression = Compression::fast;
  unsigned hashes = 7;  // bit set of base::HashAlgo; MD5 and SHA-1 go in the E01
  uint64_t segment_size = 2ull << 30;
  bool resume = false;
  bool force = false;
  unsigned retries = 2;  // extra attempts of a failed read before narrowing down
  DirectIo direct_io = DirectIo::automatic;
  unsigned threads = 0;            // compression workers; 0: all cores
  uint32_t sectors_per_chunk = 0;  // 0: 64 (32 KiB), larger for sources the library limits
  std::function<void(const Progress&)> on_progress;  // called from the writing thread
  std::function<bool()> should_stop;                 // polled; true ends the acquisition resumably
};

struct BadRange {
  uint64_t sector = 0;
  uint64_t count = 0;
};

enum class Status { complete, complete_with_errors };

struct Result {
  Status status = Status::complete;
  uint64_t size = 0;
  base::Digests digests;
  std::vector<BadRange> read_errors;
  std::vector<std::filesystem::path> segments;
  nlohmann::json record;  // what was written to OUT.acquire.json
};

// Runs an acquisition. Throws AcquireError (usage: bad input, existing output, writable mount;
// failed: the acquisition stopped, the reason in one sentence). On failure the record and log
// still say what happened, and an interrupted run can be continued with Options::resume.
Result acquire(const Options& opts);

// Picks sectors per chunk for a source: 64 unless the chunk count would reach libewf's limit.
uint32_t choose_sectors_per_chunk(uint64_t size, uint32_t sector_size);

struct VerifyResult {
  bool ok = false;
  uint64_t size = 0;
  base::Digests computed, stored;     // stored: MD5/SHA-1 from the E01, SHA-256 from the record
  std::vector<std::string> problems;  // mismatches and damaged chunks, one sentence each
  nlohmann::json to_json() const;
};

// Re-reads every chunk of an E01 (fs/ reader) and compares with the stored MD5/SHA-1 and with the
// SHA-256 of OUT.acquire.json beside it when there is one. Throws fs::EvidenceError when the image
// cannot be opened.
VerifyResult verify(const std::filesystem::path& image, unsigned threads = 0);

// OUT.E01 -> OUT (the base the record and log are named after).
std::filesystem::path base_of_image(const std::filesystem::path& image);

}  // namespace safehold::acquire
