// Writes an EnCase 6 EWF set through libewf 20140813 from chunks compressed by the caller
// (libewf_handle_write_chunk), with the case metadata, stored MD5/SHA-1 and acquisition errors.
// One thread only: the library has no locks.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>

#include "acquire/acquire.hpp"
#include "acquire/compress.hpp"
#include "fs/ewf.hpp"

namespace safehold::acquire {

struct EwfSettings {
  uint64_t media_size = 0;
  uint32_t bytes_per_sector = 512;
  uint32_t sectors_per_chunk = 64;
  Compression compression = Compression::fast;
  uint64_t segment_size = 2ull << 30;
  bool removable = false;
  bool physical = false;
  std::map<std::string, std::string> headers;  // libewf identifiers: case_number, examiner_name...
};

class EwfWriter {
 public:
  // Starts a new set at base (libewf adds .E01, .E02...). Throws AcquireError(failed).
  static EwfWriter create(const std::filesystem::path& base, const EwfSettings& s);
  // Reopens an interrupted set for writing; *offset is where the data must continue.
  static EwfWriter resume(const std::filesystem::path& base, uint64_t* offset);
  // Sets the maximum segment size again (a reopened set does not remember it); false if refused.
  bool set_segment_size(uint64_t bytes);

  // Writes one chunk (`data` is its media data; `c` its compressed form). Throws on failure.
  void write(std::span<const std::byte> data, const CompressedChunk& c);
  // Writes one chunk as it is stored: a zlib stream of data_size media bytes (compressed), or
  // data_size media bytes with their Adler-32 `checksum`. Throws on failure.
  void write_stored(std::span<const unsigned char> bytes, size_t data_size, bool compressed,
                    uint32_t checksum);
  void add_acquiry_error(uint64_t first_sector, uint64_t count);
  // Stores the hashes, writes the closing sections and closes. Throws on failure.
  void finish(const std::string& md5_hex, const std::string& sha1_hex);
  // Leaves the set as it is on disk (resumable), without the closing sections.
  void abandon();

  EwfWriter(EwfWriter&&) = default;
  EwfWriter& operator=(EwfWriter&&) = default;
  ~EwfWriter();

 private:
  EwfWriter() = default;
  fs::ewf::Handle h_;
  std::string name_;
};

// Every segment file of the set at base (OUT.E01, OUT.E02, ... OUT.EAA ...) that exists.
std::vector<std::filesystem::path> existing_segments(const std::filesystem::path& base);

}  // namespace safehold::acquire
