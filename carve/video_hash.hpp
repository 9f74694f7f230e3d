// carve/: the video stage. After both passes, every video artefact written to artefacts/ (MP4,
// MOV, 3GP, M4V, AVI, ASF, MKV, WebM) gets vPDQ-compatible frame hashes (pdq/video.hpp) from its
// artefact file: a sidecar vpdq/<id>.txt in vPDQ's own line format, the frame count in the
// report, and, when it matched no set by digest, a `known` mark from the first set holding a
// video it matches by vPDQ's rule. A video that cannot be decoded gets a warning, never an empty
// list.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "carve/artefact.hpp"
#include "hashset/hashset.hpp"
#include "pdq/video.hpp"

namespace safehold::carve {

// True for the report types the video stage hashes.
bool video_type(const std::string& type);

// The known videos of every set, converted once per carve for vPDQ's comparison.
class KnownVideos {
 public:
  explicit KnownVideos(const hashset::HashSets* sets);
  bool empty() const { return videos_.empty(); }
  // The best match (highest percentage of the carved video's frames found; the first set, then
  // the first video, on a tie) by vPDQ's rule, or nullopt.
  std::optional<hashset::Match> match(const std::vector<pdq::VideoFrame>& frames) const;

 private:
  struct Entry {
    const hashset::HashSet* set;
    const hashset::KnownVideo* video;
    std::vector<pdq::VideoFrame> frames;
  };
  std::vector<Entry> videos_;
};

struct VideoStats {
  uint64_t hashed = 0;  // videos hashed
  uint64_t failed = 0;  // videos that could not be hashed (each has a warning)
  uint64_t known = 0;   // of the hashed, marked known by their frames
};

// Hashes the videos of `arts` on `threads` threads (0: all cores) and writes their sidecars.
VideoStats hash_videos(std::vector<Artefact>& arts, const std::filesystem::path& outdir,
                       const KnownVideos& known, unsigned threads);

}  // namespace safehold::carve
