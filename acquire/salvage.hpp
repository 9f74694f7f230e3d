// Chunks an interrupted run wrote after the point where libewf can continue its image.
// libewf 20140813 resumes a set only after its last complete chunk section, and it closes a
// section only when a segment (or 65534 chunks) is full: a run killed inside its first segment
// left "nothing" to resume, and any run lost everything since its last segment began. Those
// chunks are still in the last segment file, each verifiable on its own (a zlib stream ends with
// the Adler-32 of its data; a stored chunk is followed by its Adler-32). They are checked, and
// written again from the file instead of being read from the source again.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "acquire/ewf_writer.hpp"

namespace safehold::acquire {

class Salvage {
 public:
  // Scans the last segment of the set at `base` after libewf reopened it (before anything is
  // written): the chunks of its last, unfinished chunk section, which libewf writes again from
  // media offset `resume_at`, up to `limit` (a media offset) and the end of the media.
  static Salvage scan(const std::filesystem::path& base, uint64_t resume_at, uint64_t limit,
                      uint32_t chunk_size, uint64_t media_size);
  // Chunks found intact, and the media offset where they end.
  size_t count() const { return chunks_.size(); }
  uint64_t end_offset(size_t n) const;
  // Writes the first n chunks to `w` again, each read back from the file and compared with what
  // the scan found; returns how many were written (fewer when the file changed under it).
  size_t replay(EwfWriter& w, size_t n);
  const std::string& file() const { return file_; }

 private:
  struct Chunk {
    uint64_t file_offset = 0;
    uint32_t stored_size = 0;  // bytes in the file (with the checksum of a stored chunk)
    uint32_t data_size = 0;    // media bytes
    bool compressed = false;
    uint32_t checksum = 0;  // Adler-32 of a stored chunk
    uint32_t crc = 0;       // CRC-32 of the stored bytes, to find changes between scan and replay
  };
  std::string file_;
  uint64_t resume_at_ = 0;
  uint32_t chunk_size_ = 0;
  uint64_t media_size_ = 0;
  std::vector<Chunk> chunks_;
};

}  // namespace safehold::acquire
