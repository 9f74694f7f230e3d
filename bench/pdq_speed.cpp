// PDQ hashing rate of JPEG/PNG files as carving hashes them (hash_encoded from the bytes in
// memory, one thread): every file REPS times, then images/s and megapixels/s by CPU time of the
// thread and by wall time. bench/pdq.sh builds it twice, against a base commit's pdq/ (with
// -DSAFEHOLD_PDQ_BEFORE, whose hash_encoded takes no options) and against the working tree.
// usage: safehold_bench_pdq_speed MODE REPS FILE...   MODE: full | scaled | before
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "pdq/pdq.hpp"

namespace {

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s full|scaled|before REPS FILE...\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  const int reps = std::atoi(argv[2]);
  std::vector<std::vector<uint8_t>> files(static_cast<size_t>(argc - 3));
  for (size_t i = 0; i < files.size(); ++i)
    if (!safehold::pdq::read_whole_file(argv[i + 3], files[i])) {
      std::fprintf(stderr, "%s: cannot read\n", argv[i + 3]);
      return 1;
    }
#ifndef SAFEHOLD_PDQ_BEFORE
  safehold::pdq::EncodedOptions opts;
  if (mode == "full") opts.jpeg = safehold::pdq::JpegDecode::Full;
#endif
  double pixels = 0;
  std::string hashes;
  const double cpu0 = thread_cpu_seconds();
  const auto wall0 = std::chrono::steady_clock::now();
  for (int r = 0; r < reps; ++r)
    for (auto& f : files) {
      std::string err;
      int w = 0, h = 0;
#ifdef SAFEHOLD_PDQ_BEFORE
      auto res = safehold::pdq::hash_encoded(f, &err, &w, &h);
#else
      auto res = safehold::pdq::hash_encoded(f, &err, &w, &h, opts);
#endif
      if (!res) {
        std::fprintf(stderr, "%s\n", err.c_str());
        return 1;
      }
      pixels += static_cast<double>(w) * h;
      if (r == 0) hashes += res->hash.hex() + " " + std::to_string(res->quality) + "\n";
    }
  const double cpu = thread_cpu_seconds() - cpu0;
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  const double n = static_cast<double>(reps) * static_cast<double>(files.size());
  std::printf("%s: %.0f images, %.1f MP; CPU %.3f s: %.2f images/s, %.1f MP/s; wall %.3f s\n",
              mode.c_str(), n, pixels / 1e6, cpu, n / cpu, pixels / 1e6 / cpu, wall);
  if (std::getenv("PDQ_PRINT_HASHES")) std::fputs(hashes.c_str(), stdout);
}
