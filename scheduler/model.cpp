// Names and the priority function shared by both stores (JSON views: views.cpp).
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "base/format.hpp"
#include "base/hash.hpp"
#include "base/json.hpp"
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
constexpr std::array<const char*, 10> kState{"intake",    "queued",      "acquiring", "acquired",
                                             "carving",   "review",      "done",      "failed",
                                             "withdrawn", "needs-source"};
constexpr std::array<const char*, 2> kKind{"acquire", "carve"};
constexpr std::array<const char*, 4> kRole{"manager", "examiner", "auditor", "grader"};
constexpr std::array<const char*, 2> kProfile{"uk", "vic"};

constexpr std::array<const char*, 5> kRiskText{"very high", "high", "medium", "low",
                                               "not assessed"};

}  // namespace

std::string utc_iso8601(int64_t t) {
  return t > 0 ? base::iso8601(t) : "";
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

std::string to_string(GradingProfile p) {
  return kProfile[static_cast<size_t>(p)];
}
std::optional<GradingProfile> parse_grading_profile(std::string_view s) {
  return parse_name<GradingProfile>(s, kProfile);
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

bool allowed_manual_transition(DeviceState from, DeviceState to) {
  using S = DeviceState;
  // Held states (acquiring, carving) change only through the worker calls and the reaper; done
  // is final. docs/scheduler.md "Device states" lists the same table.
  static const std::vector<std::pair<S, S>> kAllowed = {
      {S::intake, S::queued},          {S::intake, S::withdrawn},   {S::queued, S::withdrawn},
      {S::needs_source, S::withdrawn}, {S::acquired, S::withdrawn}, {S::review, S::done},
      {S::review, S::acquired},        {S::review, S::withdrawn},   {S::failed, S::queued},
      {S::failed, S::acquired},        {S::failed, S::withdrawn},   {S::withdrawn, S::queued},
  };
  return std::find(kAllowed.begin(), kAllowed.end(), std::make_pair(from, to)) != kAllowed.end();
}

const std::vector<PolicyLimit>& policy_limits() {
  static const std::vector<PolicyLimit> kLimits = {
      {"deadline_days", 0, 3650},
      {"alert_hours", 1, 24 * 365},
      {"aging_days_per_level", 1, 3650},
      {"lease_seconds", 1, kMaxLeaseSeconds},
      {"max_attempts", 1, 1000},
      {"backoff_seconds", 0, kMaxLeaseSeconds},
      {"backoff_max_seconds", 0, 7 * kMaxLeaseSeconds},
      {"station_failure_limit", 1, 1000},
      {"votes_needed", 1, 9},
  };
  return kLimits;
}

std::string policy_problem(const Policy& p) {
  std::vector<int64_t> values = {0,
                                 p.alert_hours,
                                 p.aging_days_per_level,
                                 p.lease_seconds,
                                 p.max_attempts,
                                 p.backoff_seconds,
                                 p.backoff_max_seconds,
                                 p.station_failure_limit,
                                 p.votes_needed};
  const auto& limits = policy_limits();
  for (auto d : p.deadline_days)
    if (d < limits[0].lo || d > limits[0].hi)
      return fmt::format("deadline_days must be from {} to {}, not {}", limits[0].lo, limits[0].hi,
                         d);
  for (size_t i = 1; i < limits.size(); ++i)
    if (values[i] < limits[i].lo || values[i] > limits[i].hi)
      return fmt::format("{} must be from {} to {}, not {}", limits[i].name, limits[i].lo,
                         limits[i].hi, values[i]);
  if (p.firstgen_alert_hours < 0 || p.task_hours < 0 || p.link_alert_hours < 0)
    return "findings alert and task hours must not be negative";
  if (p.backoff_max_seconds < p.backoff_seconds)
    return fmt::format("backoff_max_seconds ({}) must not be less than backoff_seconds ({})",
                       p.backoff_max_seconds, p.backoff_seconds);
  return "";
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

std::string audit_hash(const AuditRecord& r) {
  nlohmann::json canon = nlohmann::json::array(
      {r.seq, r.at, r.user, r.action, r.entity, r.entity_id, r.reason, r.before, r.after});
  return base::sha256_hex(r.prev_hash + "\n" + base::dump(canon));
}

int64_t Store::now() const {
  if (clock_) return clock_();
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace safehold::scheduler
