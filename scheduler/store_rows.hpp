// Internal to scheduler/: rows of the queue's tables as model values, and the checks every
// store operation applies to its input.
#pragma once

#include <fmt/core.h>

#include <nlohmann/json.hpp>
#include <string>

#include "scheduler/db.hpp"
#include "scheduler/queue.hpp"
#include "scheduler/views.hpp"

namespace safehold::scheduler::detail {

using nlohmann::json;
using Kind = QueueError::Kind;

// Identifiers (references, exhibits, stations, names): 1 to 200 bytes of printable UTF-8, not
// blank, without leading or trailing white space and without bidirectional controls (which make
// a printed id read differently from what is stored). `what` names the field in the error.
void check_id(const char* what, const std::string& s);
// A mandatory reason for the audit: not empty, not blank.
void check_reason(const std::string& reason);
// "" or YYYY-MM-DD.
void check_date(const std::string& d);

template <typename T, typename F>
T parse_or(const std::string& s, F f, const char* what) {
  auto v = f(s);
  if (!v) throw QueueError(Kind::storage, fmt::format("corrupt {} '{}' in the database", what, s));
  return *v;
}

inline constexpr const char* kDeviceCols =
    "id, exhibit, case_ref, suspect_ref, class, capacity, seized, source, notes, state, station, "
    "intake_at, deadline_at, lease_expires, attempts, last_error, tier, level, prio_key, risk, "
    "image, examiner";
inline constexpr const char* kCaseCols = "reference, risk, offence, officer, notes, created_at";
inline constexpr const char* kSuspectCols =
    "reference, case_ref, lives_with_children, access_to_children, children_count, age_bands, "
    "access_notes, created_at";
inline constexpr const char* kAlertCols =
    "id, case_ref, suspect_ref, reason, raised_at, raised_by, due_at, acknowledged_at, "
    "acknowledged_by, reference, kind, exhibit";
inline constexpr const char* kTokenCols = "id, name, role, created_at, created_by, revoked_at";
// Devices whose lease has expired ($1: now). Claims look for them first; the reaper returns them.
inline constexpr const char* kLeaseExpired =
    "lease_expires > 0 AND lease_expires < $1 AND state IN ('acquiring', 'carving')";

// The columns of an audit_pending_device row (PostgreSQL's hot-path audit records), in its INSERT.
inline constexpr const char* kPendingDeviceCols =
    "at, user_name, action, reason, exhibit, case_ref, suspect_ref, class, source, b_state, "
    "b_station, b_attempts, b_image, a_state, a_station, a_attempts, a_image, a_lease";

struct DeviceRow {
  int64_t id = 0;
  Device d;
  Risk risk = Risk::none;
  // Column not_before (not in kDeviceCols): no claim before this time (a failed job's back-off).
  // save_state() writes it, so every state change but a requeue clears it.
  int64_t not_before = 0;
};

// Rows read with kDeviceCols, kCaseCols, kSuspectCols, kAlertCols and kTokenCols.
DeviceRow device_from(const Row& r);
Case case_from(const Row& r);
Suspect suspect_from(const Row& r);
Alert alert_from(const Row& r);
Token token_from(const Row& r);

// Not finished (done, withdrawn, failed, review): deadlines still run.
bool active(DeviceState s);
// Waiting for a claim (queued for acquisition, acquired for carving).
bool ready(DeviceState s);

}  // namespace safehold::scheduler::detail
