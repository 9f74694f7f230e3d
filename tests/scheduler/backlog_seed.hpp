// A queue history at fixed clock times, with the exact aggregates and forecast it must give
// (tests/scheduler/backlog_test.cpp on both stores, tests/server/serve_backlog_test.cpp through the
// API). Days are counted from D0, Monday 2026-09-21 00:00 UTC; "now" is D0 + 14 days 12 hours.
//
//   D0+1h   case C1 (high), suspect S1 lives with children: A1 (phone), A2 (computer), tier 0;
//           case C2 (low), suspect S2 (no, no): B1 (phone), tier 1
//   D0+1d   lab-1 acquires A1, carves it; examined (review) at D0+2d; findings at D0+2d+1h
//   D0+3d   B2 (removable, C2) taken in
//   D0+5d   C2 reassessed as medium: B1 and B2 re-ranked, deadlines 14 days from intake
//   D0+9d   lab-2 acquires A2, carves it; examined at D0+10d (after its deadline D0+7d+1h)
//   D0+12d  B2 withdrawn
//   D0+13d  findings recorded for B1: one picture is A1's (an exact link between C1 and C2)
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "scheduler/queue.hpp"
#include "tests/scheduler/helpers.hpp"

namespace safehold::test::backlog {

using nlohmann::json;
namespace sch = safehold::scheduler;

inline constexpr int64_t kDay = 86400;
inline constexpr int64_t kD0 = 1789948800;  // 2026-09-21T00:00:00Z, a Monday
inline constexpr int64_t kNow = kD0 + 14 * kDay + 43200;
// A name that must never reach a page or a payload (it is the carve folder's).
inline constexpr const char* kFileName = "IMG_0042.JPG";

inline sch::MediaHash picture(const std::string& artefact) {
  sch::MediaHash m;
  m.artefact = artefact;
  m.type = "jpeg";
  m.md5 = std::string(32, 'a');
  m.sha1 = std::string(40, 'b');
  m.sha256 = std::string(64, 'c');
  return m;
}

inline void carve_done(Clocked& s, const std::string& exhibit, const std::string& station,
                       int64_t at, int64_t examined) {
  *s.t = at;
  sch::ClaimRequest r;
  r.station = station;
  r.lease_seconds = kDay;
  r.kinds = {sch::JobKind::acquire};
  auto c = s->claim("lab", r);
  REQUIRE(c);
  REQUIRE(c->device.exhibit == exhibit);
  *s.t = at + 3600;
  s->complete("lab", exhibit, station, "acquired", "/lab/images/" + exhibit + ".E01");
  *s.t = at + 7200;
  r.kinds = {sch::JobKind::carve};
  c = s->claim("lab", r);
  REQUIRE(c);
  REQUIRE(c->device.exhibit == exhibit);
  *s.t = examined;
  s->complete("lab", exhibit, station, "carved");
}

inline void seed(Clocked& s) {
  using namespace safehold::scheduler;
  *s.t = kD0 + 3600;
  s->add_case("mgr", {"C1", Risk::high, "", "", ""});
  s->add_case("mgr", {"C2", Risk::low, "", "", ""});
  NewSuspect s1{"S1", "C1", Answer::yes, Answer::no, 1, "", ""};
  NewSuspect s2{"S2", "C2", Answer::no, Answer::no, -1, "", ""};
  s->add_suspect("mgr", s1);
  s->add_suspect("mgr", s2);
  for (auto [ex, sus, cls] :
       {std::tuple{"A1", "S1", DeviceClass::phone}, std::tuple{"A2", "S1", DeviceClass::computer},
        std::tuple{"B1", "S2", DeviceClass::phone}}) {
    NewDevice d;
    d.exhibit = ex;
    d.suspect_ref = sus;
    d.device_class = cls;
    d.source = std::string("/evidence/") + ex + "-" + kFileName;
    s->add_device("mgr", d);
  }
  carve_done(s, "A1", "lab-1", kD0 + kDay, kD0 + 2 * kDay);
  *s.t = kD0 + 2 * kDay + 3600;
  DeviceFindings fa;
  fa.summary = {{"by_type", {{"jpeg", {{"allocated", 2}, {"carved", 1}}}}},
                {"known", {{{"set", "lab-indecent"}, {"category", "indecent"}, {"count", 2}}}},
                {"known_indecent", 2},
                {"unknown_media", 1},
                {"camera_original", 1},
                {"chats", {{"whatsapp", 5}}}};
  fa.media = {picture("000001")};
  fa.carve_dir = std::string("/lab/carves/A1/") + kFileName;
  s->record_findings("lab", "A1", fa);
  *s.t = kD0 + 3 * kDay;
  NewDevice b2;
  b2.exhibit = "B2";
  b2.suspect_ref = "S2";
  b2.device_class = DeviceClass::removable;
  b2.source = "/dev/null";
  s->add_device("mgr", b2);
  *s.t = kD0 + 5 * kDay;
  CaseUpdate u;
  u.risk = Risk::medium;
  s->update_case("mgr", "C2", u, "reassessed");
  carve_done(s, "A2", "lab-2", kD0 + 9 * kDay, kD0 + 10 * kDay);
  *s.t = kD0 + 12 * kDay;
  s->set_device_state("mgr", "B2", DeviceState::withdrawn, "returned by order of the court");
  *s.t = kD0 + 13 * kDay;
  DeviceFindings fb;
  fb.summary = {{"by_type", {{"jpeg", {{"allocated", 1}}}}}, {"unknown_media", 1}};
  fb.media = {picture("000007")};
  s->record_findings("lab", "B1", fb);
  *s.t = kNow;
}

inline json zeros(size_t n) {
  return json(std::vector<int64_t>(n, 0));
}

// backlog_history at kNow with days = 15, weeks = 3.
inline json expected_history() {
  json days = json::array();
  for (int d = 21; d <= 30; ++d) days.push_back("2026-09-" + std::to_string(d));
  for (int d = 1; d <= 5; ++d) days.push_back("2026-10-0" + std::to_string(d));
  auto series = [](int tier, const char* band, json counts) {
    return json{{"tier", tier}, {"band", band}, {"counts", counts}};
  };
  json waiting = {
      {"days", days},
      {"series",
       {series(0, "very-high", zeros(15)),
        series(0, "high", {2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0}),
        series(0, "medium", zeros(15)), series(0, "low", zeros(15)), series(0, "none", zeros(15)),
        series(1, "very-high", zeros(15)), series(1, "high", zeros(15)),
        series(1, "medium", {0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1}),
        series(1, "low", {1, 1, 1, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}),
        series(1, "none", zeros(15))}}};
  json weekly = {{"weeks", {"2026-09-21", "2026-09-28", "2026-10-05"}},
                 {"intake", {4, 0, 0}},
                 {"examined", {1, 1, 0}},
                 {"withdrawn", {0, 1, 0}}};
  json waiting_time = {{"buckets",
                        {"under 1 day", "1 to 7 days", "7 to 14 days", "14 to 30 days",
                         "30 to 90 days", "90 to 180 days", "180 to 365 days", "over 365 days"}},
                       {"waiting_now", {0, 0, 0, 1, 0, 0, 0, 0}},
                       {"examined", {0, 1, 1, 0, 0, 0, 0, 0}}};
  auto band = [](const char* b, int due, int met, int breached, int still) {
    return json{
        {"band", b}, {"due", due}, {"met", met}, {"breached", breached}, {"still_waiting", still}};
  };
  auto weekly_band = [](const char* b, json counts) {
    return json{{"band", b}, {"counts", counts}};
  };
  json breaches = {
      {"bands",
       {band("very-high", 0, 0, 0, 0), band("high", 2, 1, 1, 0), band("medium", 1, 0, 1, 1),
        band("low", 0, 0, 0, 0), band("none", 0, 0, 0, 0)}},
      {"weekly",
       {weekly_band("very-high", zeros(3)), weekly_band("high", {0, 1, 0}),
        weekly_band("medium", {0, 0, 1}), weekly_band("low", zeros(3)),
        weekly_band("none", zeros(3))}}};
  return {{"as_of", "2026-10-05T12:00:00Z"},
          {"days", 15},
          {"weeks", 3},
          {"waiting", waiting},
          {"weekly", weekly},
          {"waiting_time", waiting_time},
          {"breaches", breaches}};
}

// backlog_forecast at kNow, window 28 days (the history is 14 days 11 hours long): 2 devices
// examined by 2 stations, so each station takes 14.46 days a device; B1 alone is waiting.
inline json expected_forecast() {
  auto none = [](const char* b) {
    return json{{"backlog", b},
                {"devices", 0},
                {"clears_at", nullptr},
                {"days", nullptr},
                {"note", "nothing waiting"}};
  };
  return {{"as_of", "2026-10-05T12:00:00Z"},
          {"history_days", 14.46},
          {"window_days", 14.46},
          {"examined_in_window", 2},
          {"intake_in_window", 1},
          {"stations", 2},
          {"horizon_days", 1825},
          {"status", "ok"},
          {"rate_per_day", 0.14},
          {"message", ""},
          {"blocked", 0},
          {"service_days", 14.46},
          {"backlog",
           {none("tier-0"), none("very-high"), none("high"),
            json{{"backlog", "medium"},
                 {"devices", 1},
                 {"clears_at", "2026-10-19T23:00:00Z"},
                 {"days", 14.46},
                 {"note", ""}},
            none("low"), none("none")}}};
}

}  // namespace safehold::test::backlog
