// The dashboard's backlog routes (docs/API.md): every device with its state and findings counts
// (GET /api/devices), the aggregates the charts draw (GET /api/history) and the forecast of when
// the backlog clears (GET /api/forecast), computed by scheduler/backlog.hpp from the audit chain.
#include <map>

#include "scheduler/backlog.hpp"
#include "server/api_internal.hpp"

namespace safehold::server::detail {
namespace {

// The sum of a findings summary's counts: a number, the values of an object ({"jpeg":
// {"allocated": 3}}, {"whatsapp": 12}), or the `count` of each entry of a list ([{"set",
// "count"}]).
int64_t total(const json& j) {
  if (j.is_number_integer()) return j.get<int64_t>();
  int64_t n = 0;
  if (j.is_object())
    for (const auto& v : j) n += total(v);
  if (j.is_array())
    for (const auto& v : j)
      if (v.is_object() && v.contains("count")) n += total(v["count"]);
  return n;
}

// Counts only: what the device's findings amount to, never a set's or an app's name, a path or a
// file name (GET /api/devices/EXHIBIT/findings has the detail).
json findings_counts(int64_t at, const json& summary, int64_t links) {
  auto count = [&](const char* key) { return summary.contains(key) ? total(summary[key]) : 0; };
  return {{"recorded_at", utc_iso8601(at)},
          {"artefacts", count("by_type")},
          {"known", count("known")},
          {"known_indecent", count("known_indecent")},
          {"pdq_near", count("pdq_near")},
          {"unknown_media", count("unknown_media")},
          {"camera_original", count("camera_original")},
          {"messages", count("chats")},
          {"attachments_matching", count("attachments_matching")},
          {"links", links}};
}

Response history(Call& c) {
  Store& s = *c.store;
  HistoryQuery q;
  q.days = static_cast<int>(query_int(c.t, "days", 90, 7, 366));
  q.weeks = static_cast<int>(query_int(c.t, "weeks", 12, 1, 104));
  auto devices = s.device_history();
  q.now = s.now();
  return json_response(backlog_history(devices, q));
}

Response forecast(Call& c) {
  Store& s = *c.store;
  ForecastQuery q;
  q.window_days = static_cast<int>(query_int(c.t, "window", 28, 7, 365));
  q.policy = s.policy();
  auto devices = s.device_history();
  q.now = s.now();
  return json_response(backlog_forecast(devices, q));
}

}  // namespace

Response list_devices(Call& c) {
  Store& s = *c.store;
  ListQuery q;
  q.limit = query_int(c.t, "limit", 200, 1, 1000);
  q.offset = query_int(c.t, "offset", 0, 0, INT64_C(1) << 40);
  q.case_ref = query_str(c.t, "case");
  q.states = query_states(c.t);  // default: every state
  auto entries = s.list(q);
  std::vector<std::string> exhibits;
  for (const auto& e : entries) exhibits.push_back(e.device.exhibit);
  auto found = s.findings_summaries(exhibits);
  std::map<std::string, int64_t> links;
  for (const auto& l : s.links()) {
    ++links[l.exhibit];
    ++links[l.other_exhibit];
  }
  json arr = json::array();
  for (const auto& e : entries) {
    const Device& d = e.device;
    json j = {{"exhibit", d.exhibit},
              {"case", d.case_ref},
              {"suspect", d.suspect_ref},
              {"class", to_string(d.device_class)},
              {"tier", d.tier},
              {"risk", to_string(e.risk)},
              {"state", to_string(d.state)},
              {"station", d.station.empty() ? json() : json(d.station)},
              {"last_error", d.last_error.empty() ? json() : json(d.last_error)},
              {"attempts", d.attempts},
              {"intake_at", utc_iso8601(d.intake_at)},
              {"deadline", utc_iso8601(d.deadline_at)},
              {"overdue", e.overdue},
              {"findings", nullptr}};
    if (auto it = found.find(d.exhibit); it != found.end())
      j["findings"] = findings_counts(it->second.first, it->second.second, links[d.exhibit]);
    arr.push_back(std::move(j));
  }
  return json_response(arr);
}

const std::vector<Route>& backlog_routes() {
  static const std::vector<Route> table = {
      {{"api", "history"}, "/api/history", {{"GET", Need::read, history}}},
      {{"api", "forecast"}, "/api/forecast", {{"GET", Need::read, forecast}}},
  };
  return table;
}

}  // namespace safehold::server::detail
