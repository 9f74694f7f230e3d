// Video frame hashes (vPDQ-compatible): synthetic clips made by ffmpeg at test time, hashed
// exactly as vPDQ's reference does (its output for the same clip is kClipVpdq), matched by vPDQ's
// rule, and hostile files refused with one sentence.
#include "pdq/video.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <sstream>

#include "tests/common/support.hpp"
#include "tests/common/video_clips.hpp"

using namespace safehold::pdq;
using safehold::test::TempDir;

namespace {

std::vector<uint8_t> read_bytes(const std::filesystem::path& p) {
  std::vector<uint8_t> b;
  REQUIRE(read_whole_file(p, b));
  return b;
}

void write_bytes(const std::filesystem::path& p, const std::vector<uint8_t>& b) {
  safehold::test::write_text(p, std::string(b.begin(), b.end()));
}

size_t find(const std::vector<uint8_t>& b, std::string_view tag, size_t from = 0) {
  auto it =
      std::search(b.begin() + static_cast<std::ptrdiff_t>(from), b.end(), tag.begin(), tag.end());
  REQUIRE(it != b.end());
  return static_cast<size_t>(it - b.begin());
}

void put_be32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    b[at + static_cast<size_t>(i)] = static_cast<uint8_t>(v >> (24 - 8 * i));
}
void put_le32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + static_cast<size_t>(i)] = static_cast<uint8_t>(v >> (8 * i));
}

std::string error_of(const std::filesystem::path& p, const VideoOptions& opts = {}) {
  try {
    hash_video_file(p, opts);
  } catch (const VideoError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("video: one frame a second, hashed as vPDQ's reference hashes it", "[pdq][video]") {
  TempDir t;
  safehold::test::make_clip(t / "clip.mp4");
  auto v = hash_video_file(t / "clip.mp4");
  CHECK(format_vpdq(v.frames) == safehold::test::kClipVpdq);
  CHECK(v.info.container == "mov,mp4,m4a,3gp,3g2,mj2");
  CHECK(v.info.codec == "h264");
  CHECK(v.info.width == 320);
  CHECK(v.info.height == 240);
  CHECK(v.info.frame_rate == 30.0);
  CHECK(v.info.decoded_frames == 150);
  CHECK(v.info.damaged_packets == 0);

  // The same bytes from memory (a carved video) give the same frames.
  auto bytes = read_bytes(t / "clip.mp4");
  auto m = hash_video(bytes, "carved");
  CHECK(m.frames == v.frames);

  VideoOptions every;
  every.seconds_per_hash = 0;
  auto all = hash_video(bytes, "carved", every);
  REQUIRE(all.frames.size() == 150);
  CHECK(all.frames[30] == v.frames[1]);
  CHECK(all.frames[149].frame_number == 149);
  VideoOptions half;
  half.seconds_per_hash = 0.5;
  auto h = hash_video(bytes, "carved", half);
  REQUIRE(h.frames.size() == 10);
  CHECK(h.frames[1].frame_number == 15);
  CHECK(format_vpdq({h.frames[1]}).substr(0, 6) == "15,100");
  CHECK(format_vpdq({h.frames[1]}).substr(71) == ",0.500\n");
}

TEST_CASE("video: a re-encoded, resized copy matches by vPDQ's rule, another clip does not",
          "[pdq][video]") {
  TempDir t;
  safehold::test::make_clip(t / "clip.mp4");
  safehold::test::make_reencoded_copy(t / "clip.mp4", t / "copy.mp4");
  safehold::test::make_unrelated_clip(t / "other.mp4");
  auto clip = hash_video_file(t / "clip.mp4").frames;
  auto copy = hash_video_file(t / "copy.mp4").frames;
  auto other = hash_video_file(t / "other.mp4").frames;
  REQUIRE(copy.size() == 5);
  REQUIRE(other.size() == 5);

  auto m = match_videos(copy, clip);
  CHECK(m.match);
  CHECK(m.query_percent == 100.0);
  CHECK(m.target_percent == 100.0);
  CHECK(m.query_frames == 5);
  CHECK(m.target_frames == 5);
  for (size_t i = 0; i < 5; ++i) CHECK(hamming(copy[i].hash, clip[i].hash) <= 31);

  auto n = match_videos(other, clip);
  CHECK_FALSE(n.match);
  CHECK(n.query_percent == 0.0);
  CHECK(n.target_percent == 0.0);

  // 4 of 5 frames found is 80%: a match; 3 of 5 is not.
  auto four = clip;
  four[4] = other[4];
  CHECK(match_videos(four, clip).query_percent == 80.0);
  CHECK(match_videos(four, clip).match);
  auto three = four;
  three[3] = other[3];
  CHECK(match_videos(three, clip).query_percent == 60.0);
  CHECK_FALSE(match_videos(three, clip).match);

  // Repeated hashes count once and frames of quality under 50 not at all.
  auto dup = clip;
  dup.push_back(clip[0]);
  dup.push_back(other[0]);
  dup.back().quality = 49;
  auto d = match_videos(dup, clip);
  CHECK(d.query_frames == 5);
  CHECK(d.query_percent == 100.0);
  // Nothing comparable: no match, 0%.
  auto low = clip;
  for (auto& f : low) f.quality = 10;
  auto z = match_videos(low, clip);
  CHECK_FALSE(z.match);
  CHECK(z.query_frames == 0);
}

TEST_CASE("video: vPDQ's hash file format round trip and malformed lines", "[pdq][video]") {
  std::istringstream in(std::string(safehold::test::kClipVpdq) + "\r\n");
  auto frames = parse_vpdq(in, "clip.txt");
  REQUIRE(frames.size() == 5);
  CHECK(frames[2].frame_number == 60);
  CHECK(frames[2].timestamp == 2.0);
  CHECK(format_vpdq(frames) == safehold::test::kClipVpdq);

  auto error = [](const std::string& text) {
    std::istringstream s(text);
    try {
      parse_vpdq(s, "known.txt");
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string hex(64, 'a');
  CHECK(error("") == "known.txt: holds no vPDQ frame");
  CHECK(error("0,100," + hex + ",0.000\n1,101," + hex + ",0.033\n") ==
        "known.txt: line 2: not a vPDQ frame (frame_number,quality,pdq_hex,timestamp)");
  CHECK(error("0,100," + hex.substr(1) + ",0.000\n") ==
        "known.txt: line 1: not a vPDQ frame (frame_number,quality,pdq_hex,timestamp)");
  CHECK(error("0,100," + hex + "\n") ==
        "known.txt: line 1: not a vPDQ frame (frame_number,quality,pdq_hex,timestamp)");
  CHECK(error("-1,100," + hex + ",0.000\n") ==
        "known.txt: line 1: not a vPDQ frame (frame_number,quality,pdq_hex,timestamp)");
  CHECK(error("0,100," + hex + ",nan\n") ==
        "known.txt: line 1: not a vPDQ frame (frame_number,quality,pdq_hex,timestamp)");
}

TEST_CASE("video: hostile and unreadable input is refused with one sentence", "[pdq][video]") {
  TempDir t;
  safehold::test::make_clip(t / "clip.mp4");

  // An MP4 whose time-to-sample table claims 10^9 frames.
  auto b = read_bytes(t / "clip.mp4");
  put_be32(b, find(b, "stts") + 12, 1'000'000'000);
  write_bytes(t / "frames.mp4", b);
  CHECK(error_of(t / "frames.mp4") == (t / "frames.mp4").string() +
                                          ": its video stream claims 1000000000 frames, more "
                                          "than the 2000000 allowed");

  // An AVI whose bitmap header claims 100,000 x 100,000 pixels.
  safehold::test::ffmpeg(
      "-f lavfi -i testsrc2=size=16x16:rate=2:duration=1 -c:v rawvideo "
      "-pix_fmt bgr24 " +
      (t / "raw.avi").string());
  auto a = read_bytes(t / "raw.avi");
  size_t strf = find(a, "strf", find(a, "vids"));
  put_le32(a, strf + 12, 100000);
  put_le32(a, strf + 16, 100000);
  write_bytes(t / "big.avi", a);
  CHECK(error_of(t / "big.avi") ==
        (t / "big.avi").string() +
            ": its video stream claims 100000x100000 pixels, more than the 16384 a side and "
            "67108864 in all allowed");
  CHECK(hash_video_file(t / "raw.avi").frames.size() == 1);
  VideoOptions small;
  small.max_pixels = 255;
  CHECK(error_of(t / "raw.avi", small) ==
        (t / "raw.avi").string() +
            ": its video stream claims 16x16 pixels, more than the 16384 a side and 255 in all "
            "allowed");

  safehold::test::write_text(t / "text.mp4", std::string(4000, 'x'));
  CHECK(error_of(t / "text.mp4") ==
        (t / "text.mp4").string() +
            ": is not a video FFmpeg can open (Invalid data found when processing input)");
  safehold::test::ffmpeg("-f lavfi -i sine=duration=1 " + (t / "audio.m4a").string());
  CHECK(error_of(t / "audio.m4a") == (t / "audio.m4a").string() + ": holds no video stream");
  CHECK(error_of(t / "missing.mp4") ==
        (t / "missing.mp4").string() + ": cannot be opened (No such file or directory)");
  std::vector<uint8_t> none;
  try {
    hash_video(none, "carved 000042");
    FAIL("an empty buffer was hashed");
  } catch (const VideoError& e) {
    CHECK(std::string(e.what()) ==
          "carved 000042: is not a video FFmpeg can open (Invalid data found when processing "
          "input)");
  }
  VideoOptions bad;
  bad.seconds_per_hash = -1;
  CHECK(error_of(t / "clip.mp4", bad) ==
        (t / "clip.mp4").string() + ": -1 seconds between hashes is not between 0 and 3600");
}
