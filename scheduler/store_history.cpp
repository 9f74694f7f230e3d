// Devices' histories read back from the audit chain (what the dashboard's charts and the forecast
// aggregate, scheduler/backlog.hpp), and the findings summaries of many devices at once.
#include <fmt/core.h>

#include <unordered_map>

#include "scheduler/sql_store.hpp"

namespace safehold::scheduler::detail {
namespace {

// The device's tier and band after a record that holds its priority (device.add's "priority",
// device.priority's after): band = level / 3 (level = band × 3 + class group).
void read_priority(const json& p, DeviceStep& s) {
  if (!p.is_object() || !p.contains("tier") || !p.contains("level")) return;
  if (!p["tier"].is_number_integer() || !p["level"].is_number_integer()) return;
  s.tier = p["tier"].get<int>();
  int64_t band = p["level"].get<int64_t>() / 3;
  if (band >= 0 && band <= static_cast<int64_t>(Risk::none)) s.risk = static_cast<Risk>(band);
}

// Applies one audit record of a device to its history.
void apply_record(DeviceHistory& h, const Row& r) {
  const std::string& action = r.text(2);
  json before = json::parse(r.text(3), nullptr, false);
  json after = json::parse(r.text(4), nullptr, false);
  if (after.is_discarded() || !after.is_object()) return;
  DeviceStep s =
      h.steps.empty() ? DeviceStep{0, DeviceState::queued, h.tier, h.risk} : h.steps.back();
  s.at = r.integer(1);
  if (action == "device.add") {
    // Until a priority record says otherwise, the tier and band of today.
    s.tier = h.tier;
    s.risk = h.risk;
    if (after.contains("priority")) read_priority(after["priority"], s);
  } else if (action == "device.priority") {
    read_priority(after, s);
  }
  if (after.contains("state") && after["state"].is_string())
    if (auto st = parse_state(after["state"].get<std::string>())) s.state = *st;
  if (action == "device.complete" && before.is_object() && before.value("state", "") == "carving")
    h.examinations.emplace_back(s.at, before.value("station", ""));
  h.steps.push_back(s);
}

}  // namespace

std::vector<DeviceHistory> SqlStore::device_history() {
  seal_before_reading();
  std::vector<DeviceHistory> out;
  std::unordered_map<std::string, size_t> by_exhibit;
  db_->begin_read();
  try {
    for (auto& r :
         db_->query("SELECT exhibit, case_ref, class, intake_at, deadline_at, state, tier, risk, "
                    "prio_key FROM devices ORDER BY id")) {
      DeviceHistory h;
      h.exhibit = r.text(0);
      h.case_ref = r.text(1);
      h.device_class = parse_or<DeviceClass>(r.text(2), parse_class, "device class");
      h.intake_at = r.integer(3);
      h.deadline_at = r.integer(4);
      h.state = parse_or<DeviceState>(r.text(5), parse_state, "device state");
      h.tier = static_cast<int>(r.integer(6));
      h.risk = parse_or<Risk>(r.text(7), parse_risk, "risk");
      h.priority_key = r.integer(8);
      by_exhibit.emplace(h.exhibit, out.size());
      out.push_back(std::move(h));
    }
    for (auto& r : db_->query(
             "SELECT entity_id, at, action, before_json, after_json FROM audit WHERE entity = "
             "'device' AND action IN ('device.add', 'device.state', 'device.claim', "
             "'device.complete', 'device.fail', 'device.lease-expired', 'device.release', "
             "'device.source', 'device.priority') ORDER BY seq")) {
      auto it = by_exhibit.find(r.text(0));
      if (it != by_exhibit.end()) apply_record(out[it->second], r);
    }
  } catch (...) {
    db_->rollback();
    throw;
  }
  db_->rollback();
  return out;
}

std::map<std::string, std::pair<int64_t, json>> SqlStore::findings_summaries(
    const std::vector<std::string>& exhibits) {
  std::map<std::string, std::pair<int64_t, json>> out;
  for (size_t i = 0; i < exhibits.size(); i += 500) {
    std::vector<Param> params;
    std::string in;
    for (size_t j = i; j < std::min(exhibits.size(), i + 500); ++j) {
      params.push_back(exhibits[j]);
      in += fmt::format("{}${}", in.empty() ? "" : ", ", params.size());
    }
    for (auto& r : db_->query(
             "SELECT exhibit, at, summary FROM findings WHERE exhibit IN (" + in + ")", params))
      out[r.text(0)] = {r.integer(1), json::parse(r.text(2), nullptr, false)};
  }
  return out;
}

}  // namespace safehold::scheduler::detail
