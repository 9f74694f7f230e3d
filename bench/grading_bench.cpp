// The grading benchmark driver (bench/grading.sh): a case of UNKNOWN synthetic pictures in CLUSTERS
// near-duplicate clusters plus KNOWN pictures of a lab set, recorded as one device's findings;
// then GRADERS threads (one store each) grade by clusters until nothing is left for them, timing
// every next-cluster call. Prints the key presses one pass needs (one per cluster) against one per
// picture, and the next-cluster latency percentiles.
// usage: safehold_bench_grading DB_URL [UNKNOWN CLUSTERS KNOWN GRADERS VOTES]
#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>

#include "base/hash.hpp"
#include "scheduler/pdq_index.hpp"
#include "scheduler/queue.hpp"

namespace sch = safehold::scheduler;
using Clock = std::chrono::steady_clock;

namespace {

std::string hex(const sch::PdqBits& b) {
  std::string out;
  for (int w = 0; w < 4; ++w) out += fmt::format("{:016x}", b[w]);
  return out;
}

sch::MediaHash picture(int n, const sch::PdqBits& pdq) {
  sch::MediaHash m;
  m.artefact = fmt::format("{:06}", n);
  m.type = "jpeg";
  m.sha256 = safehold::base::sha256_hex("picture " + std::to_string(n));
  m.md5 = m.sha256.substr(0, 32);
  m.sha1 = m.sha256.substr(0, 40);
  m.pdq = hex(pdq);
  m.quality = 90;
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr, "usage: {} DB_URL [UNKNOWN CLUSTERS KNOWN GRADERS VOTES]\n", argv[0]);
    return 1;
  }
  const std::string url = argv[1];
  const int unknown = argc > 2 ? std::stoi(argv[2]) : 20000;
  const int clusters = argc > 3 ? std::stoi(argv[3]) : 2000;
  const int known = argc > 4 ? std::stoi(argv[4]) : 5000;
  const int graders = argc > 5 ? std::stoi(argv[5]) : 4;
  const int votes = argc > 6 ? std::stoi(argv[6]) : 3;
  std::mt19937_64 rng(21);
  {
    auto s = sch::Store::open(url);
    sch::Policy p = s->policy();
    p.votes_needed = votes;
    s->set_policy("bench", p, "benchmark");
    s->add_case("bench", {"BENCH-1", sch::Risk::high, "", "", ""});
    sch::NewSuspect ns;
    ns.reference = "S1";
    ns.case_ref = "BENCH-1";
    s->add_suspect("bench", ns);
    sch::NewDevice nd;
    nd.exhibit = "EX-1";
    nd.suspect_ref = "S1";
    nd.device_class = sch::DeviceClass::phone;
    nd.source = "/dev/null";
    s->add_device("bench", nd);
    sch::DeviceFindings f;
    f.carve_dir = "/bench/EX-1/carve";
    int n = 0;
    for (int c = 0; c < clusters; ++c) {
      sch::PdqBits centre{rng(), rng(), rng(), rng()};
      for (int k = 0; k < unknown / clusters; ++k) {
        sch::PdqBits b = centre;
        for (int flip = 0; flip < 3; ++flip) b[rng() % 4] ^= uint64_t{1} << (rng() % 64);
        f.media.push_back(picture(++n, b));
      }
    }
    for (int k = 0; k < known; ++k) {
      auto m = picture(++n, {rng(), rng(), rng(), rng()});
      m.known_category = "indecent";
      m.known_set = "CAID";
      m.known_grade = std::to_string(1 + k % 3);
      f.media.push_back(m);
    }
    auto t0 = Clock::now();
    s->record_findings("bench", "EX-1", f);
    auto st = s->grading_status("BENCH-1");
    fmt::print("built: {} items, {} clusters, {} known, in {:.1f} s\n", st.items, st.clusters,
               st.known, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::mutex mu;
  std::vector<double> ms;
  std::atomic<int64_t> presses{0};
  std::vector<std::thread> threads;
  auto t0 = Clock::now();
  for (int g = 0; g < graders; ++g)
    threads.emplace_back([&, g] {
      auto s = sch::Store::open(url);
      const std::string who = fmt::format("grader-{}", g + 1);
      std::vector<double> mine;
      for (;;) {
        auto a = Clock::now();
        auto c = s->next_cluster(who, "BENCH-1");
        mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - a).count());
        if (!c) break;
        try {
          s->vote(who, "BENCH-1", c->cluster, {}, "C");
          ++presses;
        } catch (const sch::QueueError& e) {
          if (e.kind != sch::QueueError::Kind::conflict) throw;  // another grader filled it
        }
      }
      std::lock_guard lk(mu);
      ms.insert(ms.end(), mine.begin(), mine.end());
    });
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double q) { return ms[std::min(ms.size() - 1, size_t(q * ms.size()))]; };
  auto s = sch::Store::open(url);
  auto st = s->grading_status("BENCH-1");
  const int64_t pictures = unknown + known;
  // Every cluster with pictures to grade takes one press from each of `votes` graders, so one pass
  // over everything (a single grader's presses) is presses / votes.
  const int64_t once = presses.load() / votes;
  fmt::print(
      "key presses to grade everything once: {} against {} (one per picture): {:.1f} %\n"
      "all graders: {} presses ({} votes a picture) on {} unknown pictures; {} decided, {} in "
      "review, in {:.1f} s\n"
      "next cluster ({} calls, {} graders at once): p50 {:.2f} ms, p99 {:.2f} ms, max {:.2f} ms\n",
      once, pictures, 100.0 * once / pictures, presses.load(), votes, unknown, st.decided,
      st.review, secs, ms.size(), graders, pct(0.5), pct(0.99), ms.back());
  return 0;
}
