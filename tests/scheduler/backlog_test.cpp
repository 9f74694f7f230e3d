// The backlog's history read from the audit (both stores), its aggregates for the dashboard's
// charts, and the forecast on a constructed history with a known answer.
#include "scheduler/backlog.hpp"

#include <algorithm>
#include <catch2/catch.hpp>

#include "tests/scheduler/backlog_seed.hpp"
#include "tests/scheduler/helpers.hpp"

using namespace safehold::scheduler;
using nlohmann::json;
namespace bs = safehold::test::backlog;
using bs::kDay;

TEST_CASE("store: the backlog's history gives exact aggregates and forecast at fixed times",
          "[scheduler]") {
  BACKEND();
  safehold::test::Clocked s(db->url());
  bs::seed(s);
  auto history = s->device_history();
  REQUIRE(history.size() == 4);
  // A1: added, claimed, acquired, claimed, examined (review) by lab-1.
  const auto& a1 = history[0];
  CHECK(a1.exhibit == "A1");
  REQUIRE(a1.steps.size() == 5);
  CHECK(a1.steps[4].state == DeviceState::review);
  CHECK(a1.steps[4].at == bs::kD0 + 2 * kDay);
  CHECK(a1.steps[0].tier == 0);
  CHECK(a1.steps[0].risk == Risk::high);
  CHECK(a1.examinations ==
        std::vector<std::pair<int64_t, std::string>>{{bs::kD0 + 2 * kDay, "lab-1"}});
  // B1: added low, re-ranked medium when its case was reassessed.
  const auto& b1 = history[2];
  REQUIRE(b1.steps.size() == 2);
  CHECK(b1.steps[0].risk == Risk::low);
  CHECK(b1.steps[1].risk == Risk::medium);
  CHECK(b1.steps[1].at == bs::kD0 + 5 * kDay);
  CHECK(b1.deadline_at == bs::kD0 + 3600 + 14 * kDay);

  HistoryQuery q;
  q.now = bs::kNow;
  q.days = 15;
  q.weeks = 3;
  CHECK(backlog_history(history, q) == bs::expected_history());
  ForecastQuery f;
  f.now = bs::kNow;
  f.policy = s->policy();
  CHECK(backlog_forecast(history, f) == bs::expected_forecast());
}

namespace {

// A device of the constructed history: intake, then optionally examined at `examined`.
DeviceHistory device(const std::string& ex, int tier, Risk risk, int64_t intake, int64_t key,
                     DeviceState state, int64_t examined = 0) {
  DeviceHistory h;
  h.exhibit = ex;
  h.case_ref = "C-" + ex;
  h.device_class = DeviceClass::phone;
  h.intake_at = intake;
  h.deadline_at = intake + 30 * kDay;
  h.tier = tier;
  h.risk = risk;
  h.priority_key = key;
  h.state = state;
  h.steps.push_back({intake, DeviceState::queued, tier, risk});
  if (examined) {
    h.steps.push_back({examined, DeviceState::review, tier, risk});
    h.examinations.push_back({examined, "st-1"});
  }
  return h;
}

json group(const char* name, int devices, const char* clears, double days) {
  return {
      {"backlog", name}, {"devices", devices}, {"clears_at", clears}, {"days", days}, {"note", ""}};
}
json empty_group(const char* name, const std::string& note) {
  return {{"backlog", name},
          {"devices", 0},
          {"clears_at", nullptr},
          {"days", nullptr},
          {"note", note.empty() ? "nothing waiting" : note}};
}

}  // namespace

TEST_CASE("forecast: a constructed history with a known answer", "[scheduler]") {
  const int64_t now = bs::kD0 + 30 * kDay;  // 2026-10-21T00:00:00Z
  std::vector<DeviceHistory> h;
  // 13 devices taken in 30 days ago and examined every 2 days, and one tier-0 phone taken in 21
  // days ago (the window's one intake) and examined the next day: 14 in 28 days, one station:
  // 0.5 a day, 2 days a device.
  for (int k = 0; k < 13; ++k)
    h.push_back(device("E" + std::to_string(k), 1, Risk::medium, now - 30 * kDay, 100 + k,
                       DeviceState::review, now - 27 * kDay + 2 * k * kDay));
  h.push_back(device("X", 0, Risk::high, now - 21 * kDay, 0, DeviceState::review, now - 20 * kDay));
  // Waiting: three tier-0 devices of band high, two of band very-high and one low in tier 1, and
  // one failed device (not forecast).
  for (int k = 0; k < 3; ++k)
    h.push_back(device("T" + std::to_string(k), 0, Risk::high, now - 29 * kDay, k + 1,
                       DeviceState::queued));
  h.push_back(device("V0", 1, Risk::very_high, now - 29 * kDay, 10, DeviceState::queued));
  h.push_back(device("V1", 1, Risk::very_high, now - 29 * kDay, 11, DeviceState::acquired));
  h.push_back(device("L0", 1, Risk::low, now - 29 * kDay, 20, DeviceState::queued));
  h.push_back(device("F0", 1, Risk::low, now - 29 * kDay, 5, DeviceState::failed));

  ForecastQuery q;
  q.now = now;
  auto f = backlog_forecast(h, q);
  CHECK(f.at("status") == "ok");
  CHECK(f.at("rate_per_day") == 0.5);
  CHECK(f.at("examined_in_window") == 14);
  CHECK(f.at("intake_in_window") == 1);
  CHECK(f.at("stations") == 1);
  CHECK(f.at("service_days") == 2.0);
  CHECK(f.at("blocked") == 1);
  // T0..T2 end on days 2, 4, 6; V0 on day 8; X's intake comes again on day 7 (21 days ago + 28)
  // and, tier 0, goes before V1 (day 10) and L0 (day 12), which end on days 12 and 14.
  CHECK(f.at("backlog") ==
        json{group("tier-0", 3, "2026-10-27T00:00:00Z", 6.0),
             group("very-high", 2, "2026-11-02T00:00:00Z", 12.0),
             group("high", 3, "2026-10-27T00:00:00Z", 6.0), empty_group("medium", ""),
             group("low", 1, "2026-11-04T00:00:00Z", 14.0), empty_group("none", "")});

  SECTION("no examinations in the window: a rate of 0, no date") {
    h.erase(std::remove_if(h.begin(), h.end(),
                           [](const DeviceHistory& d) { return !d.examinations.empty(); }),
            h.end());
    auto z = backlog_forecast(h, q);
    CHECK(z.at("status") == "no-throughput");
    CHECK(z.at("rate_per_day") == 0.0);
    const std::string msg =
        "no device was examined in the last 28.0 days: at a rate of 0 the backlog does not clear";
    CHECK(z.at("message") == msg);
    for (auto& g : z.at("backlog")) {
      CHECK(g.at("clears_at").is_null());
      CHECK(g.at("days").is_null());
    }
    CHECK(z.at("backlog")[0] == json{{"backlog", "tier-0"},
                                     {"devices", 3},
                                     {"clears_at", nullptr},
                                     {"days", nullptr},
                                     {"note", msg}});
  }
  SECTION("three days of history are too little") {
    std::vector<DeviceHistory> young = {
        device("N0", 0, Risk::high, now - 3 * kDay, 1, DeviceState::queued),
        device("N1", 1, Risk::low, now - 2 * kDay, 2, DeviceState::review, now - kDay)};
    auto y = backlog_forecast(young, q);
    CHECK(y.at("status") == "too-little-history");
    const std::string msg =
        "the queue's history covers 3.0 day(s); a forecast needs at least 7 days";
    CHECK(y.at("message") == msg);
    CHECK(y.at("backlog")[0].at("clears_at").is_null());
    CHECK(y.at("backlog")[0].at("note") == msg);
    CHECK(y.at("backlog")[2] == json{{"backlog", "high"},
                                     {"devices", 1},
                                     {"clears_at", nullptr},
                                     {"days", nullptr},
                                     {"note", msg}});
  }
  SECTION("tier-0 intake faster than the stations: the tier-1 backlog does not clear") {
    q.horizon_days = 200;
    // 20 more tier-0 intakes in the window: 21 tier-0 devices come every 28 days, and the
    // stations examine 14 in that time, so tier 1 never gets a station.
    for (int k = 0; k < 20; ++k)
      h.push_back(device("Z" + std::to_string(k), 0, Risk::high, now - kDay - k * 3600, 50 + k,
                         DeviceState::queued));
    auto o = backlog_forecast(h, q);
    CHECK(o.at("status") == "ok");
    CHECK(o.at("backlog")[4].at("clears_at").is_null());
    CHECK(o.at("backlog")[4].at("note") ==
          "does not clear within the forecast's horizon at the measured rate");
  }
}

TEST_CASE("backlog: the simulator takes jobs in (tier, key) order on the first free station",
          "[scheduler]") {
  // Two stations from t = 100: jobs 0 and 1 start at once; job 2 (tier 0) arrives at 150 and
  // goes before job 3 (tier 1, waiting since 100) when a station frees at 160.
  std::vector<SimJob> jobs = {{100, 1, 5, 60}, {100, 1, 6, 100}, {100, 1, 9, 10}, {150, 0, 50, 30}};
  std::stable_sort(jobs.begin(), jobs.end(),
                   [](const SimJob& a, const SimJob& b) { return a.arrive < b.arrive; });
  auto r = simulate_backlog(jobs, 2, 100, 1000);
  CHECK(r.start == std::vector<int64_t>{100, 100, 190, 160});
  CHECK(r.end == std::vector<int64_t>{160, 200, 200, 190});
  auto cut = simulate_backlog(jobs, 2, 100, 170);
  CHECK(cut.start == std::vector<int64_t>{100, 100, -1, 160});
}
