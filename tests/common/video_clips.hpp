// Synthetic video clips made by ffmpeg at test time (test patterns only), shared by the pdq,
// carve, hashset and worker tests. Encoded with one thread so that x264's output, and so every
// frame hash, is the same on every machine.
#pragma once

#include <filesystem>
#include <string>

#include "tests/common/support.hpp"

namespace safehold::test {

inline void ffmpeg(const std::string& args) {
  must_run("ffmpeg -hide_banner -loglevel error -y " + args);
}

// 320x240, 30 frames a second, 5 seconds of ffmpeg's testsrc2 pattern, H.264 in MP4.
inline void make_clip(const std::filesystem::path& out) {
  ffmpeg(
      "-f lavfi -i testsrc2=size=320x240:rate=30:duration=5 -c:v libx264 -threads 1 "
      "-preset fast -pix_fmt yuv420p " +
      shell_quote(out.string()));
}
// The clip re-encoded smaller (240x180) at a much lower quality (CRF 32).
inline void make_reencoded_copy(const std::filesystem::path& clip,
                                const std::filesystem::path& out) {
  ffmpeg("-i " + shell_quote(clip.string()) +
         " -vf scale=240:180 -c:v libx264 -threads 1 -crf 32 -preset veryfast -pix_fmt yuv420p " +
         shell_quote(out.string()));
}
// An unrelated clip: 5 seconds of ffmpeg's mandelbrot zoom, same size and codec.
inline void make_unrelated_clip(const std::filesystem::path& out) {
  ffmpeg(
      "-f lavfi -i mandelbrot=size=320x240:rate=30 -t 5 -c:v libx264 -threads 1 "
      "-preset fast -pix_fmt yuv420p " +
      shell_quote(out.string()));
}

// make_clip's frame hashes as vPDQ's reference vpdq-hash-video writes them (-r 1), produced by
// the reference built from ThreatExchange's source with Debian 12's FFmpeg 5.1 and x264
// (docs/hashset.md): Safehold's must be identical.
inline const char* kClipVpdq =
    "0,100,9a164d52cc2866a823d5b35331e329a36cc5e4cfc64ada38b3399934bc3efc5c,0.000\n"
    "30,100,0ff800bdbc026fb021da4427ae0117e382f7b00bbac4df78b23ddc2eda3cbd38,1.000\n"
    "60,100,ce40119de66008df3390c4273dc3a3034ee73189c77e7846bbb9de24fc3e9f18,2.000\n"
    "90,100,6e78ce72980618cf33dfb3896301c667c6e764c64986591fb3395b384c38dc6c,3.000\n"
    "120,100,9c624c72ce7066182719938d318729c7ecc7e4ebd661da38bb38d93cbc3cec0c,4.000\n";

}  // namespace safehold::test
