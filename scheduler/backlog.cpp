// The backlog's history, its aggregates for the dashboard's charts, and the forecast of when it
// clears (docs/scheduler.md "Backlog history and forecast").
#include "scheduler/backlog.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <queue>
#include <set>
#include <tuple>

namespace safehold::scheduler {
namespace {

using nlohmann::json;
constexpr int64_t kDay = 86400;
constexpr size_t kBands = 5;
constexpr std::array<Risk, kBands> kAllBands{Risk::very_high, Risk::high, Risk::medium, Risk::low,
                                             Risk::none};

// The state, tier and band of a device at increasing instants, walking its steps once.
class Cursor {
 public:
  explicit Cursor(const DeviceHistory& h) : h_(h) {
    if (h.steps.empty()) {
      cur_ = {h.intake_at, h.state, h.tier, h.risk};
    } else {
      cur_ = h.steps.front();
      cur_.state = DeviceState::queued;  // between a backdated intake and the record adding it
    }
  }
  // nullptr before the intake.
  const DeviceStep* at(int64_t t) {
    if (t < h_.intake_at) return nullptr;
    while (i_ < h_.steps.size() && h_.steps[i_].at <= t) cur_ = h_.steps[i_++];
    return &cur_;
  }

 private:
  const DeviceHistory& h_;
  size_t i_ = 0;
  DeviceStep cur_;
};

std::string day_text(int64_t t) {
  return utc_iso8601(t).substr(0, 10);
}
int64_t day_start(int64_t t) {
  return t - (((t % kDay) + kDay) % kDay);
}
// Weeks begin on Monday 00:00 UTC (1970-01-05 was a Monday).
int64_t week_start(int64_t t) {
  int64_t d = day_start(t) / kDay;
  return (d - (((d + 3) % 7) + 7) % 7) * kDay;
}
size_t band_index(Risk r) {
  return static_cast<size_t>(r);
}
double round2(double v) {
  return std::round(v * 100.0) / 100.0;
}

// Devices waiting at the end of each of the last q.days days (today: at q.now), by tier and band.
json waiting_series(const std::vector<DeviceHistory>& hs, const HistoryQuery& q) {
  const int64_t today = day_start(q.now);
  std::vector<int64_t> instants;
  json days = json::array();
  for (int i = q.days - 1; i >= 0; --i) {
    int64_t start = today - i * kDay;
    instants.push_back(std::min(start + kDay - 1, q.now));
    days.push_back(day_text(start));
  }
  std::vector<std::array<std::vector<int64_t>, kBands>> counts(2);
  for (auto& tier : counts)
    for (auto& b : tier) b.assign(instants.size(), 0);
  for (const auto& h : hs) {
    Cursor c(h);
    for (size_t i = 0; i < instants.size(); ++i) {
      const DeviceStep* s = c.at(instants[i]);
      if (s && waiting_state(s->state)) ++counts[s->tier == 0 ? 0 : 1][band_index(s->risk)][i];
    }
  }
  json series = json::array();
  for (int tier = 0; tier < 2; ++tier)
    for (size_t b = 0; b < kBands; ++b)
      series.push_back({{"tier", tier},
                        {"band", to_string(kAllBands[b])},
                        {"counts", counts[static_cast<size_t>(tier)][b]}});
  return {{"days", days}, {"series", series}};
}

// Per week: devices taken in, examined for the first time, withdrawn.
json weekly_flow(const std::vector<DeviceHistory>& hs, const HistoryQuery& q) {
  const int64_t first = week_start(q.now) - (q.weeks - 1) * 7 * kDay;
  const auto n = static_cast<size_t>(q.weeks);
  std::vector<int64_t> intake(n, 0), examined(n, 0), withdrawn(n, 0);
  auto slot = [&](int64_t t) -> int64_t {
    if (t < first || t > q.now) return -1;
    return (t - first) / (7 * kDay);
  };
  for (const auto& h : hs) {
    if (auto i = slot(h.intake_at); i >= 0) ++intake[static_cast<size_t>(i)];
    if (auto i = slot(examined_at(h)); i >= 0) ++examined[static_cast<size_t>(i)];
    DeviceState prev = DeviceState::queued;
    for (const auto& s : h.steps) {
      if (s.state == DeviceState::withdrawn && prev != DeviceState::withdrawn)
        if (auto i = slot(s.at); i >= 0) ++withdrawn[static_cast<size_t>(i)];
      prev = s.state;
    }
  }
  json weeks = json::array();
  for (size_t i = 0; i < n; ++i)
    weeks.push_back(day_text(first + static_cast<int64_t>(i) * 7 * kDay));
  return {{"weeks", weeks}, {"intake", intake}, {"examined", examined}, {"withdrawn", withdrawn}};
}

const std::vector<std::pair<int64_t, std::string>>& wait_buckets() {
  static const std::vector<std::pair<int64_t, std::string>> b = {
      {1, "under 1 day"},       {7, "1 to 7 days"},
      {14, "7 to 14 days"},     {30, "14 to 30 days"},
      {90, "30 to 90 days"},    {180, "90 to 180 days"},
      {365, "180 to 365 days"}, {INT64_MAX / kDay, "over 365 days"}};
  return b;
}
size_t wait_bucket(int64_t seconds) {
  const auto& b = wait_buckets();
  for (size_t i = 0; i + 1 < b.size(); ++i)
    if (seconds < b[i].first * kDay) return i;
  return b.size() - 1;
}

// Waiting now (time since intake) and examined in the window (intake to first examination).
json waiting_times(const std::vector<DeviceHistory>& hs, const HistoryQuery& q) {
  const auto& b = wait_buckets();
  std::vector<int64_t> now_counts(b.size(), 0), done_counts(b.size(), 0);
  const int64_t from = q.now - q.days * kDay;
  for (const auto& h : hs) {
    Cursor c(h);
    const DeviceStep* s = c.at(q.now);
    if (s && waiting_state(s->state)) ++now_counts[wait_bucket(q.now - h.intake_at)];
    int64_t e = examined_at(h);
    if (e > from && e <= q.now) ++done_counts[wait_bucket(e - h.intake_at)];
  }
  json labels = json::array();
  for (auto& x : b) labels.push_back(x.second);
  return {{"buckets", labels}, {"waiting_now", now_counts}, {"examined", done_counts}};
}

// Deadlines by band: met (examined by the deadline) or breached (still waiting at it); of the
// breached, those still waiting now. Devices withdrawn before their deadline are not due.
json deadline_breaches(const std::vector<DeviceHistory>& hs, const HistoryQuery& q) {
  struct Tally {
    int64_t due = 0, met = 0, breached = 0, still_waiting = 0;
  };
  std::array<Tally, kBands> bands{};
  const int64_t first_week = week_start(q.now) - (q.weeks - 1) * 7 * kDay;
  std::array<std::vector<int64_t>, kBands> weekly;
  for (auto& w : weekly) w.assign(static_cast<size_t>(q.weeks), 0);
  const int64_t from = q.now - q.days * kDay;
  for (const auto& h : hs) {
    if (h.deadline_at <= 0 || h.deadline_at > q.now) continue;
    Cursor c(h);
    const DeviceStep* at_deadline = c.at(h.deadline_at);
    int64_t e = examined_at(h);
    bool met = e > 0 && e <= h.deadline_at;
    bool breached = !met && at_deadline && waiting_state(at_deadline->state);
    if (!met && !breached) continue;
    const DeviceStep* now = c.at(q.now);
    size_t band = band_index(now ? now->risk : h.risk);
    if (h.deadline_at > from) {
      Tally& t = bands[band];
      ++t.due;
      ++(met ? t.met : t.breached);
      if (breached && now && waiting_state(now->state)) ++t.still_waiting;
    }
    if (breached && h.deadline_at >= first_week)
      ++weekly[band][static_cast<size_t>((h.deadline_at - first_week) / (7 * kDay))];
  }
  json by_band = json::array(), series = json::array();
  for (size_t b = 0; b < kBands; ++b) {
    const Tally& t = bands[b];
    by_band.push_back({{"band", to_string(kAllBands[b])},
                       {"due", t.due},
                       {"met", t.met},
                       {"breached", t.breached},
                       {"still_waiting", t.still_waiting}});
    series.push_back({{"band", to_string(kAllBands[b])}, {"counts", weekly[b]}});
  }
  return {{"bands", by_band}, {"weekly", series}};
}

}  // namespace

bool waiting_state(DeviceState s) {
  switch (s) {
    case DeviceState::review:
    case DeviceState::done:
    case DeviceState::withdrawn:
      return false;
    default:
      return true;
  }
}

int64_t examined_at(const DeviceHistory& h) {
  for (const auto& s : h.steps)
    if (s.state == DeviceState::review || s.state == DeviceState::done) return s.at;
  return 0;
}

SimRun simulate_backlog(const std::vector<SimJob>& jobs, int stations, int64_t t0,
                        int64_t horizon) {
  SimRun o;
  o.start.assign(jobs.size(), -1);
  o.end.assign(jobs.size(), -1);
  using Key = std::tuple<int, int64_t, size_t>;
  std::set<Key> queue;
  std::priority_queue<int64_t, std::vector<int64_t>, std::greater<>> free_at;
  for (int i = 0; i < stations; ++i) free_at.push(t0);
  size_t next = 0;
  auto arrive_until = [&](int64_t t) {
    for (; next < jobs.size() && jobs[next].arrive <= t; ++next)
      queue.insert({jobs[next].tier, jobs[next].key, next});
  };
  while (!free_at.empty()) {
    int64_t t = free_at.top();
    free_at.pop();
    arrive_until(t);
    if (queue.empty()) {
      if (next >= jobs.size()) break;
      t = jobs[next].arrive;
      arrive_until(t);
    }
    if (t >= horizon) break;
    auto it = queue.begin();
    size_t id = std::get<2>(*it);
    queue.erase(it);
    o.start[id] = t;
    o.end[id] = t + jobs[id].service;
    free_at.push(o.end[id]);
  }
  return o;
}

json backlog_history(const std::vector<DeviceHistory>& history, const HistoryQuery& q) {
  return {{"as_of", utc_iso8601(q.now)},
          {"days", q.days},
          {"weeks", q.weeks},
          {"waiting", waiting_series(history, q)},
          {"weekly", weekly_flow(history, q)},
          {"waiting_time", waiting_times(history, q)},
          {"breaches", deadline_breaches(history, q)}};
}

namespace {

bool claimable(DeviceState s) {
  return s == DeviceState::queued || s == DeviceState::acquiring || s == DeviceState::acquired ||
         s == DeviceState::carving;
}

struct Measured {
  double history_days = 0;
  int64_t window = 0;  // seconds
  int64_t examined = 0, intake = 0;
  int stations = 0;
};

Measured measure(const std::vector<DeviceHistory>& hs, const ForecastQuery& q) {
  Measured m;
  int64_t first = q.now;
  for (const auto& h : hs) {
    if (h.intake_at > 0 && h.intake_at <= q.now) first = std::min(first, h.intake_at);
    for (const auto& s : h.steps)
      if (s.at <= q.now) first = std::min(first, s.at);
  }
  m.history_days = static_cast<double>(q.now - first) / kDay;
  m.window = std::min<int64_t>(q.window_days * kDay, q.now - first);
  std::set<std::string> stations;
  for (const auto& h : hs) {
    int64_t e = examined_at(h);
    if (e > q.now - m.window && e <= q.now) ++m.examined;
    if (h.intake_at > q.now - m.window && h.intake_at <= q.now) ++m.intake;
    for (const auto& [at, station] : h.examinations)
      if (at > q.now - m.window && at <= q.now && !station.empty()) stations.insert(station);
  }
  m.stations = std::max<int>(1, static_cast<int>(stations.size()));
  return m;
}

// The group a waiting device counts in: 0 tier 0, 1 + band for every band.
struct Group {
  std::string name;
  int64_t devices = 0;
  int64_t last_end = 0;
  bool unfinished = false;
};

std::vector<SimJob> forecast_jobs(const std::vector<DeviceHistory>& hs, const ForecastQuery& q,
                                  const Measured& m, int64_t service, int64_t horizon,
                                  std::vector<const DeviceHistory*>& backlog) {
  std::vector<SimJob> jobs;
  for (const auto& h : hs) {
    if (h.intake_at > q.now || !claimable(h.state)) continue;
    bool held = h.state == DeviceState::acquiring || h.state == DeviceState::carving;
    jobs.push_back({q.now, held ? -1 : h.tier, h.priority_key, service});  // held jobs go on
    backlog.push_back(&h);
  }
  // Arrivals: the window's intake again, window after window, each with its tier, band and class.
  for (const auto& h : hs) {
    if (h.intake_at <= q.now - m.window || h.intake_at > q.now) continue;
    Suspect s;
    int tier = h.steps.empty() ? h.tier : h.steps.front().tier;
    s.lives_with_children = tier == 0 ? Answer::yes : Answer::no;
    s.access_to_children = Answer::no;
    Risk risk = h.steps.empty() ? h.risk : h.steps.front().risk;
    for (int64_t t = h.intake_at + m.window; t < horizon; t += m.window) {
      auto p = compute_priority(s, risk, h.device_class, t, t, q.policy);
      jobs.push_back({t, p.tier, p.key, service});
    }
  }
  std::stable_sort(jobs.begin(), jobs.end(),
                   [](const SimJob& a, const SimJob& b) { return a.arrive < b.arrive; });
  return jobs;
}

json group_json(const Group& g, int64_t now, const std::string& not_forecast) {
  json j = {{"backlog", g.name}, {"devices", g.devices}, {"clears_at", nullptr}, {"days", nullptr}};
  if (g.devices == 0)
    j["note"] = "nothing waiting";
  else if (!not_forecast.empty())
    j["note"] = not_forecast;
  else if (g.unfinished)
    j["note"] = "does not clear within the forecast's horizon at the measured rate";
  else {
    j["clears_at"] = utc_iso8601(g.last_end);
    j["days"] = round2(static_cast<double>(g.last_end - now) / kDay);
    j["note"] = "";
  }
  return j;
}

}  // namespace

json backlog_forecast(const std::vector<DeviceHistory>& history, const ForecastQuery& q) {
  Measured m = measure(history, q);
  const double window_days = static_cast<double>(m.window) / kDay;
  json out = {{"as_of", utc_iso8601(q.now)},        {"history_days", round2(m.history_days)},
              {"window_days", round2(window_days)}, {"examined_in_window", m.examined},
              {"intake_in_window", m.intake},       {"stations", m.stations},
              {"horizon_days", q.horizon_days}};
  std::string not_forecast;
  if (m.history_days < q.min_history_days) {
    out["status"] = "too-little-history";
    not_forecast =
        fmt::format("the queue's history covers {:.1f} day(s); a forecast needs at least {} days",
                    m.history_days, q.min_history_days);
  } else if (m.examined == 0) {
    out["status"] = "no-throughput";
    not_forecast = fmt::format(
        "no device was examined in the last {:.1f} days: at a rate of 0 the backlog does not clear",
        window_days);
  } else {
    out["status"] = "ok";
  }
  out["rate_per_day"] = m.window > 0 ? round2(static_cast<double>(m.examined) / window_days) : 0.0;
  out["message"] = not_forecast;
  std::vector<Group> groups(1 + kBands);
  groups[0].name = "tier-0";
  for (size_t b = 0; b < kBands; ++b) groups[1 + b].name = to_string(kAllBands[b]);
  std::vector<const DeviceHistory*> backlog;
  const int64_t horizon = q.now + q.horizon_days * kDay;
  const int64_t service =
      m.examined > 0 ? std::max<int64_t>(1, m.stations * m.window / m.examined) : 0;
  auto jobs = not_forecast.empty() ? forecast_jobs(history, q, m, service, horizon, backlog)
                                   : std::vector<SimJob>{};
  if (!not_forecast.empty())
    for (const auto& h : history)
      if (h.intake_at <= q.now && claimable(h.state)) backlog.push_back(&h);
  SimRun run;
  if (not_forecast.empty()) run = simulate_backlog(jobs, m.stations, q.now, horizon);
  // Backlog jobs all arrive at `now`, so they are the first jobs after the stable sort.
  for (size_t i = 0; i < backlog.size(); ++i) {
    const DeviceHistory& h = *backlog[i];
    for (Group* g : {h.tier == 0 ? &groups[0] : nullptr, &groups[1 + band_index(h.risk)]}) {
      if (!g) continue;
      ++g->devices;
      if (!not_forecast.empty()) continue;
      if (run.end[i] < 0 || run.end[i] > horizon)
        g->unfinished = true;
      else
        g->last_end = std::max(g->last_end, run.end[i]);
    }
  }
  int64_t blocked = 0;
  for (const auto& h : history)
    if (h.intake_at <= q.now && waiting_state(h.state) && !claimable(h.state)) ++blocked;
  out["blocked"] = blocked;
  out["service_days"] = service > 0 ? json(round2(static_cast<double>(service) / kDay)) : json();
  json arr = json::array();
  for (const auto& g : groups) arr.push_back(group_json(g, q.now, not_forecast));
  out["backlog"] = arr;
  return out;
}

}  // namespace safehold::scheduler
