// The JSON views of the queue's records, each built in one place: what an audit record holds
// (View::audit: hashed into the chain, so its fields never change), what `safehold queue … --json`
// prints (View::cli) and what the HTTP API returns (View::api). docs/API.md lists the fields.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

#include "scheduler/queue.hpp"

namespace safehold::scheduler {

enum class View { audit, cli, api };

// audit: reference, risk, offence, officer, notes; cli: reference, risk, offence, officer;
// api: audit's and created_at.
nlohmann::json case_json(const Case& c, View v);
// audit: facts as recorded (children_count -1 when unknown); api: children_count null when
// unknown, at_risk and created_at. No cli view (the CLI prints suspects as text).
nlohmann::json suspect_json(const Suspect& s, View v);
// audit: exhibit, case, suspect, class, state, station, attempts, source, image (when set);
// cli: the queue listing's device fields without its rank, risk, overdue and waiting days;
// api: cli's and notes, last_error (null when none).
nlohmann::json device_json(const Device& d, View v);
// A claim's audit "after": the device as claimed, with its job and lease.
nlohmann::json claim_json(const Device& d);
// A device's stored priority in the audit: tier, level, key.
nlohmann::json priority_json(const Device& d);
nlohmann::json policy_json(const Policy& p);
// cli: id, name, role, created_at ("YYYY-MM-DD HH:MM"), created_by, revoked (bool);
// api: id, name, role, created_at, created_by, revoked_at (ISO 8601 or null).
nlohmann::json token_json(const Token& t, View v);
// The result of a fact change: devices re-ranked and the alerts raised (alerts as of `now`).
nlohmann::json change_json(const ChangeResult& r, int64_t now);
nlohmann::json to_json(const AuditCheck& c);

// "YYYY-MM-DD HH:MM" (UTC) for tables; "-" for 0 or earlier.
std::string utc_minutes(int64_t t);

}  // namespace safehold::scheduler
