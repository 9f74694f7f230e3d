// MD5 throughput of Safehold's base::Md5 against OpenSSL's EVP MD5 (assembly) on the same buffers,
// interleaved. Prints MB per second of this thread's CPU time (10^6 bytes / CPU-s, best of runs),
// so that other work on a shared machine does not distort the comparison.
//   build/release/bench/safehold_bench_md5 [MiB per run, default 256] [runs, default 5]
#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <vector>

#include "base/md5.hpp"

namespace {
double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}
}  // namespace

int main(int argc, char** argv) {
  const size_t mib = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 256;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 5;
  for (size_t block : {size_t{65536}, size_t{4} << 20}) {
    std::vector<unsigned char> buf(block);
    uint32_t x = 12345;
    for (auto& c : buf) c = static_cast<unsigned char>((x = x * 1103515245u + 12345u) >> 24);
    const size_t reps = std::max<size_t>(1, (mib << 20) / block);
    const double mb = static_cast<double>(reps * block) / 1e6;
    double best_safehold = 0, best_ossl = 0;
    unsigned char d1[16], d2[16];
    for (int r = 0; r < runs; ++r) {
      const double t0 = cpu_seconds();
      safehold::base::Md5 m;
      for (size_t i = 0; i < reps; ++i) m.update(buf.data(), buf.size());
      auto out = m.finish();
      std::memcpy(d1, out.data(), 16);
      const double t1 = cpu_seconds();
      std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                  &EVP_MD_CTX_free);
      EVP_DigestInit_ex(ctx.get(), EVP_md5(), nullptr);
      for (size_t i = 0; i < reps; ++i) EVP_DigestUpdate(ctx.get(), buf.data(), buf.size());
      unsigned len = 0;
      EVP_DigestFinal_ex(ctx.get(), d2, &len);
      const double t2 = cpu_seconds();
      best_safehold = std::max(best_safehold, mb / (t1 - t0));
      best_ossl = std::max(best_ossl, mb / (t2 - t1));
      if (std::memcmp(d1, d2, 16) != 0) {
        std::fprintf(stderr, "digest mismatch\n");
        return 1;
      }
    }
    std::printf(
        "%7zu-byte updates: safehold base::Md5 %7.1f MB/s   OpenSSL EVP md5 %7.1f MB/s   ratio "
        "%.3f (CPU time)\n",
        block, best_safehold, best_ossl, best_safehold / best_ossl);
  }
}
