// Every JSON view of the queue's records (scheduler/views.hpp, and the to_json of queue.hpp).
#include "scheduler/views.hpp"

#include <cmath>

#include "base/format.hpp"

namespace safehold::scheduler {

using nlohmann::json;

namespace {

json iso_or_null(int64_t t) {
  return t > 0 ? json(utc_iso8601(t)) : json();
}

}  // namespace

std::string utc_minutes(int64_t t) {
  if (t <= 0) return "-";
  std::string s = base::iso8601(t).substr(0, 16);  // "YYYY-MM-DDTHH:MM"
  s[10] = ' ';
  return s;
}

json case_json(const Case& c, View v) {
  json j = {{"reference", c.reference},
            {"risk", to_string(c.risk)},
            {"offence", c.offence},
            {"officer", c.officer}};
  if (v != View::cli) j["notes"] = c.notes;
  if (v == View::api) j["created_at"] = utc_iso8601(c.created_at);
  return j;
}

json suspect_json(const Suspect& s, View v) {
  json j = {{"reference", s.reference},
            {"case", s.case_ref},
            {"lives_with_children", to_string(s.lives_with_children)},
            {"access_to_children", to_string(s.access_to_children)},
            {"children_count", s.children_count},
            {"age_bands", s.age_bands},
            {"access_notes", s.access_notes}};
  if (v == View::api) {
    if (s.children_count < 0) j["children_count"] = nullptr;
    j["at_risk"] = s.at_risk();
    j["created_at"] = utc_iso8601(s.created_at);
  }
  return j;
}

json device_json(const Device& d, View v) {
  if (v == View::audit) {
    json j = {{"exhibit", d.exhibit},        {"case", d.case_ref},
              {"suspect", d.suspect_ref},    {"class", to_string(d.device_class)},
              {"state", to_string(d.state)}, {"station", d.station},
              {"attempts", d.attempts},      {"source", d.source}};
    if (!d.image.empty()) j["image"] = d.image;
    return j;
  }
  json j;
  j["exhibit"] = d.exhibit;
  j["case"] = d.case_ref;
  j["suspect"] = d.suspect_ref;
  j["tier"] = d.tier;
  j["class"] = to_string(d.device_class);
  j["intake_at"] = utc_iso8601(d.intake_at);
  j["deadline"] = utc_iso8601(d.deadline_at);
  j["state"] = to_string(d.state);
  j["station"] = d.station.empty() ? json(nullptr) : json(d.station);
  j["lease_expires"] = iso_or_null(d.lease_expires);
  j["attempts"] = d.attempts;
  j["level"] = d.level;
  j["source"] = d.source;
  j["image"] = d.image;
  j["examiner"] = d.examiner;
  j["seized"] = d.seized;
  j["capacity"] = d.capacity;
  if (v == View::api) {
    j["notes"] = d.notes;
    j["last_error"] = d.last_error.empty() ? json() : json(d.last_error);
  }
  return j;
}

json claim_json(const Device& d) {
  json j = device_json(d, View::audit);
  j["job"] = to_string(d.state == DeviceState::acquiring ? JobKind::acquire : JobKind::carve);
  j["lease_expires"] = d.lease_expires;
  return j;
}

json priority_json(const Device& d) {
  return {{"tier", d.tier}, {"level", d.level}, {"key", d.priority_key}};
}

json policy_json(const Policy& p) {
  return {
      {"deadline_days",
       {{"very-high", p.deadline_days[0]},
        {"high", p.deadline_days[1]},
        {"medium", p.deadline_days[2]},
        {"low", p.deadline_days[3]},
        {"none", p.deadline_days[4]}}},
      {"alert_hours", p.alert_hours},
      {"aging_days_per_level", p.aging_days_per_level},
      {"lease_seconds", p.lease_seconds},
      {"max_attempts", p.max_attempts},
      {"backoff_seconds", p.backoff_seconds},
      {"backoff_max_seconds", p.backoff_max_seconds},
      {"station_failure_limit", p.station_failure_limit},
      {"findings",
       {{"indecent_min_risk", to_string(p.indecent_min_risk)},
        {"firstgen_alert_hours", p.firstgen_alert_hours},
        {"task_hours", p.task_hours},
        {"link_alert_hours", p.link_alert_hours}}},
      {"grading", {{"profile", to_string(p.grading_profile)}, {"votes_needed", p.votes_needed}}}};
}

json to_json(const Station& s) {
  return {{"station", s.name},
          {"failures_in_row", s.failures_in_row},
          {"stopped", s.stopped()},
          {"stopped_at", s.stopped_at > 0 ? json(utc_iso8601(s.stopped_at)) : json(nullptr)},
          {"last_error", s.last_error}};
}

json token_json(const Token& t, View v) {
  json j = {{"id", t.id}, {"name", t.name}, {"role", to_string(t.role)}};
  j["created_by"] = t.created_by;
  if (v == View::api) {
    j["created_at"] = utc_iso8601(t.created_at);
    j["revoked_at"] = iso_or_null(t.revoked_at);
  } else {
    j["created_at"] = utc_minutes(t.created_at);
    j["revoked"] = t.revoked_at != 0;
  }
  return j;
}

json change_json(const ChangeResult& r, int64_t now) {
  json j = {{"devices_reranked", r.devices_reranked}, {"alerts_raised", json::array()}};
  for (auto& a : r.alerts_raised) j["alerts_raised"].push_back(to_json(a, now));
  return j;
}

json to_json(const AuditCheck& c) {
  // The anchor file's path stays out: the API shows it to every role.
  return {{"ok", c.ok}, {"records", c.records}, {"problems", c.problems}, {"anchors", c.anchors}};
}

json to_json(const QueueEntry& e) {
  json j = device_json(e.device, View::cli);
  j["rank"] = e.rank;
  j["risk"] = to_string(e.risk);
  j["waiting_days"] = std::round(e.waiting_days * 100.0) / 100.0;
  j["overdue"] = e.overdue;
  return j;
}

json to_json(const Explanation& e) {
  json j = to_json(e.entry);
  const auto& p = e.priority;
  j["queued_total"] = e.queued_total;
  j["priority"] = {{"tier", p.tier},
                   {"risk", to_string(p.risk)},
                   {"class", to_string(p.device_class)},
                   {"class_group", p.class_rank},
                   {"level", p.level},
                   {"waited_seconds", p.waited_seconds},
                   {"aging_levels", p.aging_levels},
                   {"effective_level", p.effective_level},
                   {"key", p.key},
                   {"reasons", p.reasons}};
  j["suspect_facts"] = {{"lives_with_children", to_string(e.suspect.lives_with_children)},
                        {"access_to_children", to_string(e.suspect.access_to_children)}};
  j["findings"] = e.findings;
  return j;
}

json to_json(const Alert& a, int64_t now) {
  json j;
  j["id"] = a.id;
  j["case"] = a.case_ref;
  j["suspect"] = a.suspect_ref;
  if (a.kind != "household") {  // findings alerts (household ones keep their documented shape)
    j["kind"] = a.kind;
    j["exhibit"] = a.exhibit;
  }
  j["reason"] = a.reason;
  j["raised_at"] = utc_iso8601(a.raised_at);
  j["raised_by"] = a.raised_by;
  j["due_at"] = utc_iso8601(a.due_at);
  j["overdue"] = a.overdue(now);
  j["acknowledged"] = a.acknowledged;
  j["acknowledged_at"] = a.acknowledged ? json(utc_iso8601(a.acknowledged_at)) : json();
  j["acknowledged_by"] = a.acknowledged ? json(a.acknowledged_by) : json();
  j["reference"] = a.acknowledged ? json(a.reference) : json();
  return j;
}

json to_json(const AuditRecord& r) {
  auto parse = [](const std::string& s) {
    auto j = json::parse(s, nullptr, false);
    return j.is_discarded() ? json(s) : j;
  };
  return {{"seq", r.seq},
          {"at", utc_iso8601(r.at)},
          {"user", r.user},
          {"action", r.action},
          {"entity", r.entity},
          {"entity_id", r.entity_id},
          {"reason", r.reason},
          {"before", parse(r.before)},
          {"after", parse(r.after)},
          {"prev_hash", r.prev_hash},
          {"hash", r.hash}};
}

}  // namespace safehold::scheduler
