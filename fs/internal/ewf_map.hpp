// Safehold's own map of where every chunk of an EWF set (E01/S01, format version 1: what libewf
// 20140813 reads) is stored, built from the segment files' headers, section descriptors, volume and
// table sections. Every size and offset read from the evidence is checked against the files before
// it is used: no value from the evidence sizes a buffer or a copy. Chunks are read with pread(2)
// and decoded with libdeflate; libewf is used for metadata only (its libewf_handle_read_chunk
// copies a compressed chunk of the size its tables say into the caller's buffer without checking
// the buffer's size: the cause of issue 24's heap corruption).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

struct libdeflate_decompressor;

namespace safehold::fs::ewf {

// Chunks that cannot be located or read, known from the structure alone (no chunk decoded).
struct ChunkDamage {
  uint64_t first_chunk = 0;
  uint64_t count = 0;
  std::string reason;  // "its table entry gives a stored size of 0 bytes"
};

// The media geometry of a volume or disk section.
struct Geometry {
  uint32_t bytes_per_sector = 0;
  uint32_t chunk_size = 0;
  uint64_t media_size = 0;
  uint32_t volume_chunks = 0;  // the section's chunk count (0: not given)
};

// A table or table2 section as read: its entries, or why they cannot be used.
struct ParsedTable {
  bool good = false;
  std::string why;  // when not good
  uint64_t at = 0;  // section start
  uint64_t base = 0;
  std::vector<uint32_t> entries;
};

class ChunkMap {
 public:
  // `segments`: the set's segment files in order (first one first). Throws EvidenceError naming
  // the file when the set cannot be read at all: not EWF, a missing or misplaced segment, no
  // usable volume section, impossible geometry.
  static std::shared_ptr<const ChunkMap> open(const std::vector<std::string>& segments);
  ~ChunkMap();
  ChunkMap(const ChunkMap&) = delete;
  ChunkMap& operator=(const ChunkMap&) = delete;

  uint64_t media_size() const { return media_size_; }
  uint32_t chunk_size() const { return chunk_size_; }
  uint32_t bytes_per_sector() const { return bytes_per_sector_; }
  uint64_t chunk_count() const { return chunk_count_; }
  // Media bytes chunk `index` holds (the last one may be short).
  uint32_t data_size(uint64_t index) const;
  // No chunk's stored bytes exceed this: the size of the buffer read_stored needs.
  size_t max_stored() const { return max_stored_; }
  const std::string& first_segment() const { return paths_.front(); }
  const std::vector<std::string>& segments() const { return paths_; }
  // Located chunks that cannot be read and chunks no table locates, in chunk order.
  const std::vector<ChunkDamage>& damage() const { return damage_; }

  // Reads the stored bytes of chunk `index` into `buf` (at least max_stored() bytes). Returns the
  // number of stored bytes, or 0 with *why set to the reason it cannot be read. Thread-safe.
  size_t read_stored(uint64_t index, std::span<unsigned char> buf, bool* compressed,
                     std::string* why) const;

  // "chunk 12 (image bytes 393216-425983)": how errors name a chunk.
  std::string describe(uint64_t index) const;

 private:
  ChunkMap() = default;
  struct Segment;
  struct Table;
  struct Files;
  // Where a chunk is stored, or the reason it is not readable ("" when located).
  std::string locate(uint64_t index, uint32_t* segment, uint64_t* offset, uint32_t* size,
                     bool* compressed) const;
  void set_geometry(const Geometry& g);
  // Numbers a segment's tables' chunks after those located so far; the reason placing stops.
  std::string place_tables(uint32_t segment, const std::vector<ParsedTable>& tables,
                           const std::string& name);
  void find_damage(const std::string& stop);

  uint64_t media_size_ = 0;
  uint32_t chunk_size_ = 0;
  uint32_t bytes_per_sector_ = 0;
  uint64_t chunk_count_ = 0;
  size_t max_stored_ = 0;
  std::vector<std::string> paths_;
  std::vector<Segment> segments_;
  std::vector<Table> tables_;
  std::vector<uint32_t> entries_;  // every table's raw entries, in chunk order
  uint64_t located_ = 0;           // chunks [0, located_) have a table entry
  std::string unlocated_reason_;   // why chunks from located_ on have none
  std::vector<ChunkDamage> damage_;
  std::unique_ptr<Files> files_;
};

// Decodes a chunk's stored bytes into `out` (exactly data_size bytes): inflates a compressed chunk
// (zlib, whose Adler-32 libdeflate checks), checks a stored chunk's trailing Adler-32. A short last
// chunk stored at the full chunk_size is accepted. Returns "" or the reason the chunk is damaged.
std::string decode_chunk(libdeflate_decompressor* d, std::span<const unsigned char> stored,
                         bool compressed, std::byte* out, uint32_t data_size, uint32_t chunk_size);

}  // namespace safehold::fs::ewf
