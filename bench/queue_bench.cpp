// safehold_queue_bench: drives the scheduler library for bench/queue.sh, one connection per
// process.
//   worker URL STATION SECONDS   claim+complete (acquire jobs) until SECONDS pass; prints the count
//   rerank URL CASE N            N risk changes of CASE (alternating bands); prints ms per change
//   top URL N                    N listings of the top 50; prints ms per listing
#include <fmt/core.h>

#include <chrono>
#include <string>

#include "scheduler/queue.hpp"

namespace sch = safehold::scheduler;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  std::string m = argc > 1 ? argv[1] : "";
  if (argc < (m == "top" ? 4 : 5)) {
    fmt::print(
        stderr,
        "usage: safehold_queue_bench worker URL STATION SECONDS | rerank URL CASE N | top URL N\n");
    return 1;
  }
  std::string mode = argv[1];
  auto store = sch::Store::open(argv[2]);
  if (mode == "worker") {
    std::string station = argv[3];
    double seconds = std::stod(argv[4]);
    sch::ClaimRequest r;
    r.station = station;
    r.kinds = {sch::JobKind::acquire};
    long n = 0;
    auto start = Clock::now();
    while (std::chrono::duration<double>(Clock::now() - start).count() < seconds) {
      auto c = store->claim(station, r);
      if (!c) break;
      store->complete(station, c->device.exhibit, station);
      ++n;
    }
    double el = std::chrono::duration<double>(Clock::now() - start).count();
    fmt::print("{} {:.3f}\n", n, el);
  } else if (mode == "rerank") {
    int n = std::stoi(argv[4]);
    auto start = Clock::now();
    int64_t moved = 0;
    for (int i = 0; i < n; ++i) {
      sch::CaseUpdate u;
      u.risk = i % 2 ? sch::Risk::low : sch::Risk::very_high;
      moved += store->update_case("bench", argv[3], u, "benchmark re-rank").devices_reranked;
    }
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count() / n;
    fmt::print("{:.2f} {}\n", ms, moved / n);
  } else if (mode == "top") {
    int n = std::stoi(argv[3]);
    sch::ListQuery q;
    q.limit = 50;
    size_t got = 0;
    auto start = Clock::now();
    for (int i = 0; i < n; ++i) got = store->list(q).size();
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count() / n;
    fmt::print("{:.3f} {}\n", ms, got);
  } else {
    fmt::print(stderr, "safehold_queue_bench: unknown mode {}\n", mode);
    return 1;
  }
  return 0;
}
