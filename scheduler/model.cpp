// Names, the priority function and JSON views shared by both stores.
#include <fmt/core.h>
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "scheduler/queue.hpp"

namespace safehold::scheduler {
namespace {

template <typename E, size_t N>
std::optional<E> parse_name(std::string_view s, const std::array<const char*, N>& names) {
  std::string norm(s);
  for (auto& c : norm) {
    if (c == '_') c = '-';
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  for (size_t i = 0; i < N; ++i)
    if (norm == names[i]) return static_cast<E>(i);
  return std::nullopt;
}

constexpr std::array<const char*, 5> kRisk{"very-high", "high", "medium", "low", "none"};
constexpr std::array<const char*, 3> kAnswer{"no", "yes", "unknown"};
constexpr std::array<const char*, 5> kClass{"phone", "tablet", "computer", "removable", "other"};
constexpr std::array<const char*, 9> kState{"intake", "queued", "acquiring", "acquired", "carving",
                                            "review", "done",   "failed",    "withdrawn"};
constexpr std::array<const char*, 2> kKind{"acquire", "carve"};
constexpr std::array<const char*, 3> kRole{"manager", "examiner", "auditor"};

constexpr std::array<const char*, 5> kRiskText{"very high", "high", "medium", "low",
                                               "not assessed"};

}  // namespace

std::string utc_iso8601(int64_t t) {
  if (t <= 0) return "";
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string to_string(Risk r) {
  return kRisk[static_cast<size_t>(r)];
}
std::string to_string(Answer a) {
  return kAnswer[static_cast<size_t>(a)];
}
std::string to_string(DeviceClass c) {
  return kClass[static_cast<size_t>(c)];
}
std::string to_string(DeviceState s) {
  return kState[static_cast<size_t>(s)];
}
std::string to_string(JobKind k) {
  return kKind[static_cast<size_t>(k)];
}
std::string to_string(Role r) {
  return kRole[static_cast<size_t>(r)];
}

std::optional<Risk> parse_risk(std::string_view s) {
  if (s == "not-assessed" || s == "not_assessed" || s == "not assessed") return Risk::none;
  if (s == "very high") return Risk::very_high;
  return parse_name<Risk>(s, kRisk);
}
std::optional<Answer> parse_answer(std::string_view s) {
  return parse_name<Answer>(s, kAnswer);
}
std::optional<DeviceClass> parse_class(std::string_view s) {
  return parse_name<DeviceClass>(s, kClass);
}
std::optional<DeviceState> parse_state(std::string_view s) {
  return parse_name<DeviceState>(s, kState);
}
std::optional<JobKind> parse_job_kind(std::string_view s) {
  return parse_name<JobKind>(s, kKind);
}
std::optional<Role> parse_role(std::string_view s) {
  return parse_name<Role>(s, kRole);
}

int class_rank(DeviceClass c) {
  switch (c) {
    case DeviceClass::phone:
    case DeviceClass::tablet:
      return 0;
    case DeviceClass::computer:
      return 1;
    default:
      return 2;
  }
}

int64_t deadline_for(Risk risk, int64_t intake_at, const Policy& policy) {
  return intake_at + policy.deadline_days[static_cast<size_t>(risk)] * 86400;
}

Priority compute_priority(const Suspect& suspect, Risk risk, DeviceClass device_class,
                          int64_t intake_at, int64_t now, const Policy& policy) {
  Priority p;
  p.tier = suspect.at_risk() ? 0 : 1;
  p.risk = risk;
  p.device_class = device_class;
  p.class_rank = class_rank(device_class);
  p.level = static_cast<int>(risk) * 3 + p.class_rank;
  p.waited_seconds = std::max<int64_t>(0, now - intake_at);
  const int64_t period = std::max<int64_t>(1, policy.aging_days_per_level) * 86400;
  if (p.tier == 0) {
    p.aging_levels = 0;
    p.effective_level = p.level;
    p.key = (static_cast<int64_t>(p.level) << 40) + intake_at;
  } else {
    p.aging_levels = p.waited_seconds / period;
    p.effective_level = static_cast<int>(std::max<int64_t>(0, p.level - p.aging_levels));
    p.key = intake_at + static_cast<int64_t>(p.level) * period;
  }
  std::vector<std::string> why;
  if (p.tier == 0) {
    std::vector<std::string> f;
    if (suspect.lives_with_children == Answer::yes) f.push_back("lives with children");
    if (suspect.access_to_children == Answer::yes) f.push_back("has access to children");
    std::string joined;
    for (auto& s : f) joined += (joined.empty() ? "" : " and ") + s;
    why.push_back(fmt::format("tier 0 (safeguarding): suspect {} {}", suspect.reference, joined));
  } else {
    why.push_back(
        fmt::format("tier 1: suspect {} not recorded as living with or having access to children "
                    "(lives with children: {}, access: {})",
                    suspect.reference, to_string(suspect.lives_with_children),
                    to_string(suspect.access_to_children)));
  }
  why.push_back(fmt::format("risk band: {} (rank {} of 5)", kRiskText[static_cast<size_t>(risk)],
                            static_cast<int>(risk) + 1));
  why.push_back(
      fmt::format("device class: {} (group {}: phones and tablets, then computers, "
                  "then removable and other)",
                  to_string(device_class), p.class_rank + 1));
  double days = static_cast<double>(p.waited_seconds) / 86400.0;
  if (p.tier == 0) {
    why.push_back(
        fmt::format("waiting: {:.1f} days (older first; no aging needed in tier 0)", days));
  } else {
    why.push_back(
        fmt::format("waiting: {:.1f} days; aging: {} full period(s) of {} days = {} level(s) up, "
                    "effective level {} (from {})",
                    days, p.aging_levels, policy.aging_days_per_level, p.aging_levels,
                    p.effective_level, p.level));
  }
  p.reasons = std::move(why);
  return p;
}

nlohmann::json to_json(const QueueEntry& e) {
  const auto& d = e.device;
  nlohmann::json j;
  j["rank"] = e.rank;
  j["exhibit"] = d.exhibit;
  j["case"] = d.case_ref;
  j["suspect"] = d.suspect_ref;
  j["tier"] = d.tier;
  j["risk"] = to_string(e.risk);
  j["class"] = to_string(d.device_class);
  j["waiting_days"] = std::round(e.waiting_days * 100.0) / 100.0;
  j["intake_at"] = utc_iso8601(d.intake_at);
  j["deadline"] = utc_iso8601(d.deadline_at);
  j["overdue"] = e.overdue;
  j["state"] = to_string(d.state);
  j["station"] = d.station.empty() ? nlohmann::json(nullptr) : nlohmann::json(d.station);
  j["lease_expires"] =
      d.lease_expires ? nlohmann::json(utc_iso8601(d.lease_expires)) : nlohmann::json();
  j["attempts"] = d.attempts;
  j["level"] = d.level;
  j["source"] = d.source;
  j["image"] = d.image;
  j["seized"] = d.seized;
  j["capacity"] = d.capacity;
  return j;
}

nlohmann::json to_json(const Explanation& e) {
  nlohmann::json j = to_json(e.entry);
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
  return j;
}

nlohmann::json to_json(const Alert& a, int64_t now) {
  nlohmann::json j;
  j["id"] = a.id;
  j["case"] = a.case_ref;
  j["suspect"] = a.suspect_ref;
  j["reason"] = a.reason;
  j["raised_at"] = utc_iso8601(a.raised_at);
  j["raised_by"] = a.raised_by;
  j["due_at"] = utc_iso8601(a.due_at);
  j["overdue"] = a.overdue(now);
  j["acknowledged"] = a.acknowledged;
  j["acknowledged_at"] =
      a.acknowledged ? nlohmann::json(utc_iso8601(a.acknowledged_at)) : nlohmann::json();
  j["acknowledged_by"] = a.acknowledged ? nlohmann::json(a.acknowledged_by) : nlohmann::json();
  j["reference"] = a.acknowledged ? nlohmann::json(a.reference) : nlohmann::json();
  return j;
}

nlohmann::json to_json(const AuditRecord& r) {
  auto parse = [](const std::string& s) {
    auto j = nlohmann::json::parse(s, nullptr, false);
    return j.is_discarded() ? nlohmann::json(s) : j;
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

std::string audit_hash(const AuditRecord& r) {
  nlohmann::json canon = nlohmann::json::array(
      {r.seq, r.at, r.user, r.action, r.entity, r.entity_id, r.reason, r.before, r.after});
  std::string text =
      r.prev_hash + "\n" + canon.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

int64_t Store::now() const {
  if (clock_) return clock_();
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace safehold::scheduler
