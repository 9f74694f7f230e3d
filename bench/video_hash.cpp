// Safehold's video frame hashing (pdq/video.hpp) for bench/video.sh: hashes one video a frame a
// second, writes vPDQ's line format to OUT, and prints "decoded_frames seconds" on stdout.
// usage: video_hash VIDEO OUT [SECONDS_PER_HASH [DECODER_THREADS]]   (defaults 1 and 0: FFmpeg's
// choice, as `safehold vpdq`)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "pdq/video.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: video_hash VIDEO OUT [SECONDS_PER_HASH [DECODER_THREADS]]\n";
    return 1;
  }
  safehold::pdq::VideoOptions o;
  o.seconds_per_hash = argc > 3 ? std::atof(argv[3]) : 1.0;
  o.threads = argc > 4 ? std::atoi(argv[4]) : 0;
  auto t0 = std::chrono::steady_clock::now();
  try {
    auto v = safehold::pdq::hash_video_file(argv[1], o);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::ofstream(argv[2]) << safehold::pdq::format_vpdq(v.frames);
    std::printf("%llu %.3f\n", static_cast<unsigned long long>(v.info.decoded_frames), s);
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  return 0;
}
