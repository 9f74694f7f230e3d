// The priority policy of docs/DESIGN.md as a table: compute_priority() alone, then through a store.
#include <algorithm>
#include <catch2/catch.hpp>
#include <tuple>

#include "scheduler/queue.hpp"
#include "tests/scheduler/helpers.hpp"

using namespace safehold::scheduler;
using safehold::test::Clocked;
using safehold::test::QueueDb;

namespace {

Suspect suspect(Answer lives, Answer access) {
  Suspect s;
  s.reference = "S";
  s.lives_with_children = lives;
  s.access_to_children = access;
  return s;
}

std::tuple<int, int64_t> key(const Priority& p) {
  return {p.tier, p.key};
}

}  // namespace

TEST_CASE("priority components: tier, risk band, class group, level", "[scheduler]") {
  Policy pol;
  const int64_t t0 = 1'790'000'000;
  struct Row {
    Answer lives, access;
    Risk risk;
    DeviceClass cls;
    int tier, level;
  };
  const Row table[] = {
      {Answer::yes, Answer::no, Risk::none, DeviceClass::other, 0, 14},
      {Answer::no, Answer::yes, Risk::low, DeviceClass::phone, 0, 9},
      {Answer::unknown, Answer::unknown, Risk::very_high, DeviceClass::phone, 1, 0},
      {Answer::no, Answer::no, Risk::very_high, DeviceClass::tablet, 1, 0},
      {Answer::no, Answer::unknown, Risk::high, DeviceClass::computer, 1, 4},
      {Answer::no, Answer::no, Risk::medium, DeviceClass::removable, 1, 8},
      {Answer::no, Answer::no, Risk::low, DeviceClass::other, 1, 11},
      {Answer::unknown, Answer::no, Risk::none, DeviceClass::computer, 1, 13},
  };
  for (const auto& r : table) {
    auto p = compute_priority(suspect(r.lives, r.access), r.risk, r.cls, t0, t0, pol);
    INFO(to_string(r.risk) << " " << to_string(r.cls));
    CHECK(p.tier == r.tier);
    CHECK(p.level == r.level);
    CHECK(p.effective_level == r.level);
    CHECK(p.aging_levels == 0);
    CHECK(p.reasons.size() == 4);
  }
  auto p = compute_priority(suspect(Answer::yes, Answer::yes), Risk::high, DeviceClass::phone, t0,
                            t0 + 86400 * 3, pol);
  CHECK(p.reasons[0] ==
        "tier 0 (safeguarding): suspect S lives with children and has access to children");
  CHECK(p.reasons[1] == "risk band: high (rank 2 of 5)");
  CHECK(p.waited_seconds == 86400 * 3);
}

TEST_CASE("priority order: tier 0 first whatever the band, then band, class, waiting",
          "[scheduler]") {
  Policy pol;
  const int64_t now = 1'790'000'000;
  // Expected order, most urgent first, all arrived within the same day (no aging yet).
  struct Dev {
    const char* name;
    Answer lives;
    Risk risk;
    DeviceClass cls;
    int64_t intake;
  };
  const std::vector<Dev> expected{
      {"t0-veryhigh-phone-old", Answer::yes, Risk::very_high, DeviceClass::phone, now - 7200},
      {"t0-veryhigh-tablet-new", Answer::yes, Risk::very_high, DeviceClass::tablet, now - 60},
      {"t0-veryhigh-computer", Answer::yes, Risk::very_high, DeviceClass::computer, now - 9000},
      {"t0-none-phone", Answer::yes, Risk::none, DeviceClass::phone, now - 80000},
      {"t0-none-other", Answer::yes, Risk::none, DeviceClass::other, now - 80000},
      {"t1-veryhigh-phone", Answer::no, Risk::very_high, DeviceClass::phone, now - 100},
      {"t1-veryhigh-removable", Answer::no, Risk::very_high, DeviceClass::removable, now - 50000},
      {"t1-high-phone", Answer::unknown, Risk::high, DeviceClass::phone, now - 70000},
      {"t1-high-computer", Answer::no, Risk::high, DeviceClass::computer, now - 80000},
      {"t1-medium-tablet", Answer::no, Risk::medium, DeviceClass::tablet, now - 80000},
      {"t1-low-other", Answer::no, Risk::low, DeviceClass::other, now - 80000},
      {"t1-none-phone-old", Answer::no, Risk::none, DeviceClass::phone, now - 80000},
      {"t1-none-phone-new", Answer::no, Risk::none, DeviceClass::phone, now - 10},
  };
  std::vector<std::pair<std::tuple<int, int64_t>, std::string>> keyed;
  for (auto& d : expected)
    keyed.emplace_back(
        key(compute_priority(suspect(d.lives, Answer::no), d.risk, d.cls, d.intake, now, pol)),
        d.name);
  auto sorted = keyed;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](auto& a, auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < expected.size(); ++i) CHECK(sorted[i].second == expected[i].name);
}

TEST_CASE("aging bound: outside tier 0 a device that waited its level in weeks outranks newcomers",
          "[scheduler]") {
  // Default: one level per 7 days, 15 levels (0..14). A tier-1 device of level L ranks as if it
  // had arrived at level 0 L weeks later: once it has waited L weeks (14 at most), no tier-1
  // device arriving after that can pass it, so its wait is bounded by L weeks plus the work
  // already ranked ahead of it at that moment.
  Policy pol;
  REQUIRE(pol.aging_days_per_level == 7);
  const int64_t t0 = 1'790'000'000, week = 7 * 86400;
  auto sus = suspect(Answer::no, Answer::no);
  for (int risk = 0; risk < 5; ++risk) {
    for (int cls = 0; cls < 5; ++cls) {
      auto old_risk = static_cast<Risk>(risk);
      auto old_cls = static_cast<DeviceClass>(cls);
      auto level = compute_priority(sus, old_risk, old_cls, t0, t0, pol).level;
      // Bound in weeks for this device: its level.
      int64_t now = t0 + level * week;
      auto old = compute_priority(sus, old_risk, old_cls, t0, now, pol);
      CHECK(old.effective_level == 0);
      // Every tier-1 device arriving from then on ranks behind it (ties go to the older id).
      for (int64_t arrival = now; arrival <= now + 30 * 86400; arrival += 86400 / 2) {
        auto newcomer =
            compute_priority(sus, Risk::very_high, DeviceClass::phone, arrival, now, pol);
        INFO("old " << to_string(old_risk) << "/" << to_string(old_cls) << " arrival +"
                    << (arrival - t0));
        CHECK(key(old) <= key(newcomer));
      }
    }
  }
  // And one period earlier it does not yet outrank a newcomer of the top level.
  auto least = compute_priority(sus, Risk::none, DeviceClass::other, t0, t0 + 13 * week, pol);
  auto fresh = compute_priority(sus, Risk::very_high, DeviceClass::phone, t0 + 13 * week,
                                t0 + 13 * week, pol);
  CHECK(key(fresh) < key(least));
  // Tier 0 never ages and never yields to tier 1.
  auto t0dev = compute_priority(suspect(Answer::yes, Answer::no), Risk::none, DeviceClass::other,
                                t0 + 100 * week, t0 + 100 * week, pol);
  CHECK(t0dev.tier == 0);
  CHECK(key(t0dev) < key(least));
}

TEST_CASE("aging bound through a store: a saturated queue still serves the oldest low device",
          "[scheduler][slow]") {
  // Every day two very-high phones arrive and two devices are examined (arrivals = capacity).
  // Without aging the not-assessed USB stick would wait forever; with the default it must be
  // claimed by day 14 * 7 + 1.
  auto db = QueueDb::make("sqlite");
  Clocked s(db->url());
  s->add_case("u", {"LOW", Risk::none, "", "", ""});
  s->add_case("u", {"HOT", Risk::very_high, "", "", ""});
  s->add_suspect("u", {"S-LOW", "LOW", Answer::no, Answer::no, -1, "", ""});
  s->add_suspect("u", {"S-HOT", "HOT", Answer::no, Answer::no, -1, "", ""});
  NewDevice stick;
  stick.exhibit = "STICK";
  stick.suspect_ref = "S-LOW";
  stick.device_class = DeviceClass::removable;
  stick.source = "/dev/null";
  s->add_device("u", stick);
  int claimed_day = -1;
  int n = 0;
  for (int day = 0; day < 120 && claimed_day < 0; ++day) {
    for (int i = 0; i < 2; ++i) {
      NewDevice d;
      d.exhibit = "P" + std::to_string(n++);
      d.suspect_ref = "S-HOT";
      d.device_class = DeviceClass::phone;
      d.source = "/dev/null";
      s->add_device("u", d);
    }
    for (int i = 0; i < 2; ++i) {
      ClaimRequest r;
      r.station = "lab";
      r.kinds = {JobKind::acquire};
      auto c = s->claim("u", r);
      REQUIRE(c);
      if (c->device.exhibit == "STICK") claimed_day = day;
      s->complete("u", c->device.exhibit, "lab");
    }
    s.advance(86400);
  }
  INFO("claimed on day " << claimed_day);
  CHECK(claimed_day >= 97);
  CHECK(claimed_day <= 14 * 7 + 1);
}
