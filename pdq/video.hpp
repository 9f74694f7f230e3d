// Video frame hashes compatible with Meta's vPDQ (ThreatExchange vpdq/): the video is decoded
// through FFmpeg's libavformat/libavcodec, one frame an interval (one a second by default) is
// converted to RGB24 at its own size by libswscale (SWS_AREA, as vPDQ does) and PDQ-hashed; the
// frames are written in vPDQ's line format and matched by vPDQ's rule. docs/hashset.md has the
// details and where this differs from the reference.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "pdq/pdq.hpp"

namespace safehold::pdq {

// One hashed frame: vPDQ's vpdqFeature.
struct VideoFrame {
  int frame_number = 0;  // 0-based index among the decoded frames
  int quality = 0;       // PDQ quality 0..100
  Hash hash;
  double timestamp = 0;  // seconds: frame_number / frame rate (in float, as vPDQ computes it)
  bool operator==(const VideoFrame&) const = default;
};

struct VideoOptions {
  // A frame every `seconds_per_hash` seconds of frames (vPDQ: every int(seconds * frame rate)-th
  // decoded frame, at least every frame); 0 hashes every frame. At most 3600.
  double seconds_per_hash = 1.0;
  // Decoder threads (0: FFmpeg's choice from the cores). The carver hashes on its own pool and
  // passes 1.
  int threads = 0;
  // Hostile-input bounds: larger claims are refused before anything is decoded, and decoding
  // stops with an error when the stream goes past them.
  int max_side = 16384;                     // pixels, either side
  uint64_t max_pixels = 8192ull * 8192ull;  // width x height
  uint64_t max_frames = 2'000'000;          // decoded frames (18.5 hours at 30 a second)
  double max_seconds = 48 * 3600.0;         // claimed duration
  double max_frame_rate = 1000;             // claimed frames a second
};

struct VideoInfo {
  std::string container;  // libavformat's demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
  std::string codec;      // decoder name, e.g. "h264"
  int width = 0, height = 0;
  double frame_rate = 0;         // the stream's average frame rate (else its base rate)
  uint64_t decoded_frames = 0;   // frames the decoder returned
  uint64_t damaged_packets = 0;  // packets the decoder refused (the rest was decoded)
};

struct VideoHashes {
  std::vector<VideoFrame> frames;
  VideoInfo info;
};

// A video that cannot be hashed: what() is one sentence naming the input and what is wrong.
class VideoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads up to n bytes at offset into buf; returns the count read (0 at the end), -1 on error.
using ReadAt = std::function<int64_t(uint64_t offset, uint8_t* buf, size_t n)>;

// Hashes a video read through `read` (size bytes). `name` names the input in errors. Throws
// VideoError when the video cannot be opened, has no video stream, claims more than the bounds,
// or yields no frame at all. Never writes to the input.
VideoHashes hash_video(const ReadAt& read, uint64_t size, std::string_view name,
                       const VideoOptions& opts = {});
VideoHashes hash_video(std::span<const uint8_t> data, std::string_view name,
                       const VideoOptions& opts = {});
// `name` names the input in errors (default: the path).
VideoHashes hash_video_file(const std::filesystem::path& path, const VideoOptions& opts = {},
                            std::string_view name = {});

// vPDQ's output format: one line a frame, `frame_number,quality,pdq_hex,timestamp` with the
// timestamp to 3 decimals ("0,100,f8f8...,0.000").
std::string format_vpdq(const std::vector<VideoFrame>& frames);
// Parses vPDQ's output (CRLF accepted, empty lines skipped). Throws std::runtime_error naming
// `name` and the line of a malformed one, or saying the input holds no frame; at most
// `max_frames` lines.
std::vector<VideoFrame> parse_vpdq(std::istream& in, std::string_view name,
                                   size_t max_frames = 1'000'000);
std::vector<VideoFrame> load_vpdq(const std::filesystem::path& path);

// vPDQ's comparison (ThreatExchange python-threatexchange vpdq_brute_matcher and vpdq/README):
// both lists lose repeated hashes (the first kept) and frames of quality under 50; a frame is
// found when some frame of the other list is within distance 31. A match when at least 80% of
// the query's frames are found in the target (and at least 0% the other way, vPDQ's default).
struct VideoMatch {
  double query_percent = 0;   // of the query's unique good frames, found in the target
  double target_percent = 0;  // of the target's unique good frames, found in the query
  size_t query_frames = 0;    // unique frames of quality >= 50 compared
  size_t target_frames = 0;
  bool match = false;
};
inline constexpr double kVideoMatchPercent = 80.0;
VideoMatch match_videos(const std::vector<VideoFrame>& query, const std::vector<VideoFrame>& target,
                        int distance = kMatchDistance, int quality = kMinQuality,
                        double query_percent = kVideoMatchPercent, double target_percent = 0.0);

}  // namespace safehold::pdq
