// backlog_sim: a unit's examination backlog, first-in-first-out against Safehold's policy.
//
// Discrete-event simulation (its core is scheduler/backlog.hpp's simulate_backlog, which the
// dashboard's forecast also runs). Devices arrive by case (each suspect's devices together),
// stations take the next device (FIFO: oldest intake; Safehold: lowest (tier, key) from
// scheduler::compute_priority, exactly the order of the stores) and hold it for an examination
// time drawn by device class. Starts from a backlog with intakes spread over the previous year.
// Assumptions are printed with the results (and recorded in docs/BENCHMARKS.md).
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "scheduler/backlog.hpp"
#include "scheduler/queue.hpp"

namespace sch = safehold::scheduler;

namespace {

struct Config {
  int backlog = 25000;
  double backlog_age_days = 365;  // backlog intakes uniform over this many days before t=0
  double horizon_days = 365;      // simulated time after t=0
  int stations = 30;
  double load = 0.97;               // arrival rate / examination capacity
  double safeguarding_share = 0.2;  // suspects living with or with access to children
  unsigned seed = 42;
  bool json = false;
};

// Examination station-hours by class (mean; log-normal, sigma 0.5) and the class mix.
const double kHours[5] = {6.0, 5.0, 10.0, 2.0, 3.0};
const double kClassMix[5] = {0.45, 0.10, 0.20, 0.20, 0.05};
const double kRiskMix[5] = {0.10, 0.25, 0.35, 0.20, 0.10};

struct Dev {
  int id;
  int64_t intake;  // seconds
  int tier;
  int64_t key;
  sch::Risk risk;
  sch::DeviceClass cls;
  double hours;
  int64_t deadline;
  bool backlog;
};

template <typename T>
size_t pick(std::mt19937_64& rng, const T& weights) {
  std::discrete_distribution<size_t> d(std::begin(weights), std::end(weights));
  return d(rng);
}

std::vector<Dev> make_devices(const Config& c, double arrivals_per_day, const sch::Policy& pol) {
  std::mt19937_64 rng(c.seed);
  std::vector<Dev> out;
  std::uniform_real_distribution<double> u01(0, 1);
  std::poisson_distribution<int> per_suspect(2.0);         // 1 + Poisson(2): 3 devices on average
  std::lognormal_distribution<double> noise(-0.125, 0.5);  // mean 1
  const int64_t day = 86400;
  auto add_suspect_devices = [&](int64_t intake, bool backlog) {
    sch::Suspect s;
    s.reference = "S";
    bool sg = u01(rng) < c.safeguarding_share;
    s.lives_with_children = sg ? sch::Answer::yes : sch::Answer::no;
    s.access_to_children = sch::Answer::no;
    auto risk = static_cast<sch::Risk>(pick(rng, kRiskMix));
    int n = 1 + per_suspect(rng);
    for (int i = 0; i < n; ++i) {
      Dev d;
      d.id = static_cast<int>(out.size());
      d.intake = intake;
      d.cls = static_cast<sch::DeviceClass>(pick(rng, kClassMix));
      d.risk = risk;
      d.hours = kHours[static_cast<int>(d.cls)] * noise(rng);
      d.backlog = backlog;
      d.deadline = sch::deadline_for(risk, intake, pol);
      // Keys do not depend on "now" (see scheduler/queue.hpp), so compute them once.
      auto p = sch::compute_priority(s, risk, d.cls, intake, intake, pol);
      d.tier = p.tier;
      d.key = p.key;
      out.push_back(d);
    }
    return n;
  };
  // Backlog: intakes uniform over the previous backlog_age_days.
  int made = 0;
  while (made < c.backlog) {
    auto intake = static_cast<int64_t>(-u01(rng) * c.backlog_age_days * day);
    made += add_suspect_devices(intake, true);
  }
  // Arrivals: suspects (with their devices) as a Poisson process.
  const double suspects_per_day = arrivals_per_day / 3.0;
  std::exponential_distribution<double> gap(suspects_per_day);
  double t = 0;
  for (;;) {
    t += gap(rng);
    if (t >= c.horizon_days) break;
    add_suspect_devices(static_cast<int64_t>(t * day), false);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Dev& a, const Dev& b) { return a.intake < b.intake; });
  for (size_t i = 0; i < out.size(); ++i) out[i].id = static_cast<int>(i);
  return out;
}

struct Outcome {
  std::vector<double> wait_days;  // start - intake (or censored at the horizon)
  std::vector<bool> started;
  std::vector<int64_t> finish;  // 0 if not finished within the horizon
  std::vector<int64_t> start;   // examination start (valid when started)
};

Outcome simulate(const Config& c, const std::vector<Dev>& devs, bool safehold_policy) {
  const int64_t horizon = static_cast<int64_t>(c.horizon_days * 86400);
  // The scheduler's simulation core (scheduler/backlog.hpp), which the dashboard's forecast runs.
  std::vector<sch::SimJob> jobs;
  jobs.reserve(devs.size());
  for (const auto& d : devs)
    jobs.push_back({d.intake, safehold_policy ? d.tier : 0, safehold_policy ? d.key : d.intake,
                    static_cast<int64_t>(d.hours * 3600)});
  auto run = sch::simulate_backlog(jobs, c.stations, 0, horizon);
  Outcome o;
  o.wait_days.assign(devs.size(), 0);
  o.started.assign(devs.size(), false);
  o.finish.assign(devs.size(), 0);
  o.start.assign(devs.size(), 0);
  for (size_t i = 0; i < devs.size(); ++i) {
    if (run.start[i] < 0) {
      if (devs[i].intake <= horizon)
        o.wait_days[i] = static_cast<double>(horizon - devs[i].intake) / 86400.0;
      continue;
    }
    o.started[i] = true;
    o.start[i] = run.start[i];
    o.wait_days[i] = static_cast<double>(run.start[i] - devs[i].intake) / 86400.0;
    if (run.end[i] <= horizon) o.finish[i] = run.end[i];
  }
  return o;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t idx = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
  idx = std::min(v.size() - 1, idx == 0 ? 0 : idx - 1);
  return v[idx];
}

nlohmann::json report(const Config& c, const std::vector<Dev>& devs, const Outcome& o) {
  const int64_t horizon = static_cast<int64_t>(c.horizon_days * 86400);
  std::vector<double> t0_all, t0_new, t0_steady;
  // When the last tier-0 device of the backlog started: after that, tier-0 arrivals meet only
  // other arrivals ("steady state").
  int64_t clear = 0;
  bool cleared = true;
  for (size_t i = 0; i < devs.size(); ++i)
    if (devs[i].backlog && devs[i].tier == 0) {
      if (!o.started[i])
        cleared = false;
      else
        clear = std::max(clear, o.start[i]);
    }
  int64_t breaches[5] = {0}, band_total[5] = {0};
  double longest = 0;
  int64_t examined = 0, pending = 0;
  for (size_t i = 0; i < devs.size(); ++i) {
    const auto& d = devs[i];
    double w = o.wait_days[i];
    if (d.tier == 0) {
      t0_all.push_back(w);
      if (!d.backlog) t0_new.push_back(w);
      if (!d.backlog && cleared && d.intake > clear) t0_steady.push_back(w);
    }
    longest = std::max(longest, w);
    if (o.finish[i]) ++examined;
    if (!o.started[i]) ++pending;
    auto band = static_cast<size_t>(d.risk);
    if (d.deadline <= horizon) {
      ++band_total[band];
      bool late = o.finish[i] ? o.finish[i] > d.deadline : true;
      if (late) ++breaches[band];
    }
  }
  nlohmann::json j;
  j["devices"] = devs.size();
  j["examined"] = examined;
  j["pending_at_end"] = pending;
  j["tier0_devices"] = t0_all.size();
  j["tier0_wait_hours_median"] = percentile(t0_all, 0.5) * 24;
  j["tier0_wait_hours_p95"] = percentile(t0_all, 0.95) * 24;
  j["tier0_new_wait_hours_median"] = percentile(t0_new, 0.5) * 24;
  j["tier0_new_wait_hours_p95"] = percentile(t0_new, 0.95) * 24;
  j["tier0_backlog_cleared_day"] = cleared ? static_cast<double>(clear) / 86400.0 : -1.0;
  j["tier0_steady_wait_hours_median"] = percentile(t0_steady, 0.5) * 24;
  j["tier0_steady_wait_hours_p95"] = percentile(t0_steady, 0.95) * 24;
  j["longest_wait_days"] = longest;
  const char* names[] = {"very-high", "high", "medium", "low", "none"};
  for (size_t b = 0; b < 5; ++b)
    j["breaches"][names[b]] = {{"late", breaches[b]}, {"due_in_window", band_total[b]}};
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) {
        fmt::print(stderr, "backlog_sim: {} needs a value\n", a);
        std::exit(1);
      }
      return argv[++i];
    };
    if (a == "--backlog")
      c.backlog = std::stoi(val());
    else if (a == "--stations")
      c.stations = std::stoi(val());
    else if (a == "--load")
      c.load = std::stod(val());
    else if (a == "--days")
      c.horizon_days = std::stod(val());
    else if (a == "--safeguarding")
      c.safeguarding_share = std::stod(val());
    else if (a == "--seed")
      c.seed = static_cast<unsigned>(std::stoul(val()));
    else if (a == "--json")
      c.json = true;
    else {
      fmt::print(stderr,
                 "usage: backlog_sim [--backlog N] [--stations N] [--load F] [--days N] "
                 "[--safeguarding F] [--seed N] [--json]\n");
      return 1;
    }
  }
  sch::Policy pol;
  double mean_hours = 0;
  for (int k = 0; k < 5; ++k) mean_hours += kClassMix[k] * kHours[k];
  const double capacity = c.stations * 24.0 / mean_hours;  // devices per day
  const double arrivals = capacity * c.load;
  auto devs = make_devices(c, arrivals, pol);
  auto fifo = report(c, devs, simulate(c, devs, false));
  auto safehold = report(c, devs, simulate(c, devs, true));
  nlohmann::json out = {
      {"assumptions",
       {{"backlog", c.backlog},
        {"backlog_age_days", c.backlog_age_days},
        {"horizon_days", c.horizon_days},
        {"stations", c.stations},
        {"capacity_devices_per_day", capacity},
        {"arrivals_devices_per_day", arrivals},
        {"load", c.load},
        {"safeguarding_share_of_suspects", c.safeguarding_share},
        {"devices_per_suspect_mean", 3},
        {"class_mix",
         {{"phone", 0.45},
          {"tablet", 0.10},
          {"computer", 0.20},
          {"removable", 0.20},
          {"other", 0.05}}},
        {"exam_hours_mean",
         {{"phone", 6}, {"tablet", 5}, {"computer", 10}, {"removable", 2}, {"other", 3}}},
        {"risk_mix",
         {{"very-high", 0.10}, {"high", 0.25}, {"medium", 0.35}, {"low", 0.20}, {"none", 0.10}}},
        {"aging_days_per_level", pol.aging_days_per_level},
        {"seed", c.seed}}},
      {"fifo", fifo},
      {"safehold", safehold}};
  if (c.json) {
    fmt::print("{}\n", out.dump(2));
    return 0;
  }
  fmt::print(
      "Backlog {} devices, {} stations, capacity {:.0f}/day, arrivals {:.0f}/day (load {:.2f}), "
      "{} days, safeguarding share {:.0f}%\n",
      c.backlog, c.stations, capacity, arrivals, c.load, c.horizon_days,
      c.safeguarding_share * 100);
  fmt::print("{:<52} {:>12} {:>12}\n", "", "FIFO", "Safehold");
  auto row = [&](const char* label, const char* key, const char* f) {
    fmt::print("{:<52} {:>12} {:>12}\n", label,
               fmt::format(fmt::runtime(f), fifo[key].get<double>()),
               fmt::format(fmt::runtime(f), safehold[key].get<double>()));
  };
  row("tier-0 arrivals: median wait (hours)", "tier0_new_wait_hours_median", "{:.1f}");
  row("tier-0 arrivals: 95th percentile (hours)", "tier0_new_wait_hours_p95", "{:.1f}");
  row("day the tier-0 backlog was all started", "tier0_backlog_cleared_day", "{:.1f}");
  row("tier-0 arrivals after that: median (hours)", "tier0_steady_wait_hours_median", "{:.1f}");
  row("tier-0 arrivals after that: p95 (hours)", "tier0_steady_wait_hours_p95", "{:.1f}");
  row("tier-0 incl. backlog (waits since intake): median (h)", "tier0_wait_hours_median", "{:.0f}");
  row("tier-0 incl. backlog: 95th percentile (hours)", "tier0_wait_hours_p95", "{:.0f}");
  row("longest wait of any device (days)", "longest_wait_days", "{:.1f}");
  for (const char* b : {"very-high", "high", "medium", "low", "none"})
    fmt::print("{:<52} {:>12} {:>12}\n", fmt::format("deadline breaches, {} (of due)", b),
               fmt::format("{}/{}", fifo["breaches"][b]["late"].get<int64_t>(),
                           fifo["breaches"][b]["due_in_window"].get<int64_t>()),
               fmt::format("{}/{}", safehold["breaches"][b]["late"].get<int64_t>(),
                           safehold["breaches"][b]["due_in_window"].get<int64_t>()));
  fmt::print("{:<52} {:>12} {:>12}\n", "examined within the horizon",
             fifo["examined"].get<int64_t>(), safehold["examined"].get<int64_t>());
  return 0;
}
