// Worker jobs: claims with leases, heartbeats, completion, failure, release and the reaper.
#include <fmt/core.h>

#include <algorithm>

#include "scheduler/sql_store.hpp"

namespace safehold::scheduler::detail {
namespace {

// The states a claim request can take, as literals so that the planner of either database reads
// the partial index of that state in priority order (devices_queued/_acquired); both kinds read
// devices_ready.
std::string claim_states(const ClaimRequest& r) {
  bool want_acquire = r.kinds.empty(), want_carve = r.kinds.empty();
  for (auto k : r.kinds) (k == JobKind::acquire ? want_acquire : want_carve) = true;
  if (want_acquire && want_carve) return "ready = 1 AND state IN ('queued', 'acquired')";
  return want_acquire ? "state = 'queued'" : "state = 'acquired'";
}

// PostgreSQL claim, as the CTEs c and u (arguments are SQL expressions): c locks the first device
// matching `where` in priority order that nobody else holds, u leases it to `station` until
// `lease_end` and returns the device with its state and station before (old_state, old_station).
std::string claim_ctes(const std::string& where, const std::string& station,
                       const std::string& lease_end, const std::string& now) {
  return "WITH c AS (SELECT id, state AS old_state, station AS old_station FROM devices WHERE " +
         where +
         " ORDER BY tier, prio_key, id LIMIT 1 FOR UPDATE SKIP LOCKED), u AS (UPDATE devices d "
         "SET state = CASE WHEN c.old_state = 'queued' THEN 'acquiring' ELSE 'carving' END, "
         "ready = 0, station = " +
         station + ", attempts = d.attempts + 1, lease_expires = " + lease_end +
         ", updated_at = " + now +
         " FROM c WHERE d.id = c.id RETURNING d.*, c.old_state, c.old_station)";
}

// PostgreSQL completion, as the CTEs h and u: h locks the device `exhibit` that `station` holds,
// u completes it if its lease is still live at `now` (keeping its image when `image` is empty)
// and returns it with its state, attempts and image before (old_state, old_attempts, old_image).
std::string complete_ctes(const std::string& exhibit, const std::string& station,
                          const std::string& image, const std::string& now) {
  return "WITH h AS (SELECT id, state AS old_state, attempts AS old_attempts, image AS old_image, "
         "lease_expires AS old_lease FROM devices WHERE exhibit = " +
         exhibit + " AND station = " + station +
         " AND state IN ('acquiring', 'carving') FOR UPDATE), u AS (UPDATE devices d SET state = "
         "CASE WHEN h.old_state = 'acquiring' THEN 'acquired' ELSE 'review' END, ready = CASE "
         "WHEN h.old_state = 'acquiring' THEN 1 ELSE 0 END, station = CASE WHEN h.old_state = "
         "'acquiring' THEN d.station ELSE '' END, attempts = 0, lease_expires = 0, last_error = "
         "'', image = CASE WHEN " +
         image + "::text = '' THEN d.image ELSE " + image + "::text END, updated_at = " + now +
         " FROM h WHERE d.id = h.id AND h.old_lease >= " + now +
         " RETURNING d.*, h.old_state, h.old_attempts, h.old_image)";
}

}  // namespace

// ---- workers ----
std::optional<Claim> SqlStore::claim(const std::string& user, const ClaimRequest& r) {
  check_id("station", r.station);
  if (r.lease_seconds < 0 || r.lease_seconds > kMaxLeaseSeconds)
    throw QueueError(Kind::invalid,
                     fmt::format("the lease must be from 1 to {} seconds (0: the policy's), not {}",
                                 kMaxLeaseSeconds, r.lease_seconds));
  check_station_running(r.station);
  if (auto c = server_claim(user, r)) return c;
  auto c = claim_tx(user, r);
  if (!c && unsealed_) try_seal();  // an idle worker leaves nothing unchained
  return c;
}

std::optional<Claim> SqlStore::claim_tx(const std::string& user, const ClaimRequest& r) {
  return write([&]() -> std::optional<Claim> {
    Policy p = policy();
    reap_tx(user, p);
    std::string where = claim_states(r);
    std::vector<Param> params;
    if (!r.classes.empty()) {
      std::string in;
      for (auto c : r.classes) {
        params.push_back(to_string(c));
        in += (in.empty() ? "$" : ", $") + std::to_string(params.size());
      }
      where += " AND class IN (" + in + ")";
    }
    const int64_t t = now();
    params.push_back(t);
    where += " AND not_before <= $" + std::to_string(params.size());  // failed jobs back off
    const int64_t lease = t + (r.lease_seconds > 0 ? r.lease_seconds : p.lease_seconds);
    DeviceRow x;
    Device before;
    if (pg_) {
      // One statement: lock the first ready device nobody else holds, and lease it.
      params.push_back(r.station);
      std::string st = "$" + std::to_string(params.size());
      params.push_back(lease);
      std::string ls = "$" + std::to_string(params.size());
      params.push_back(t);
      std::string now_p = "$" + std::to_string(params.size());
      auto rows = db_->query(claim_ctes(where, st, ls, now_p) + " SELECT " + kDeviceCols +
                                 ", old_state, old_station FROM u",
                             params);
      if (rows.empty()) return std::nullopt;
      x = device_from(rows[0]);
      before = x.d;
      before.state = parse_or<DeviceState>(rows[0].text(22), parse_state, "device state");
      before.station = rows[0].text(23);
      before.attempts -= 1;
    } else {
      auto rows = db_->query(std::string("SELECT ") + kDeviceCols + " FROM devices WHERE " + where +
                                 " ORDER BY tier, prio_key, id LIMIT 1",
                             params);
      if (rows.empty()) return std::nullopt;
      x = device_from(rows[0]);
      before = x.d;
      x.d.state = x.d.state == DeviceState::queued ? DeviceState::acquiring : DeviceState::carving;
      x.d.station = r.station;
      x.d.attempts += 1;
      x.d.lease_expires = lease;
      save_state(x);
    }
    Claim c;
    c.kind = x.d.state == DeviceState::acquiring ? JobKind::acquire : JobKind::carve;
    audit_add(user, "device.claim", "device", x.d.exhibit, "", device_json(before, View::audit),
              claim_json(x.d));
    c.device = x.d;
    return c;
  });
}

Device SqlStore::heartbeat(const std::string& user, const std::string& exhibit,
                           const std::string& station) {
  (void)user;  // heartbeats extend a lease; they change no fact, so they are not audited
  Device d = write([&] {
    DeviceRow x = held(exhibit, station);
    Policy p = policy();
    int64_t lease = p.lease_seconds;
    x.d.lease_expires = now() + lease;
    db_->query("UPDATE devices SET lease_expires = $2, updated_at = $3 WHERE id = $1",
               {x.id, x.d.lease_expires, now()});
    return x.d;
  });
  if (unsealed_) try_seal();
  return d;
}

// PostgreSQL: the claim, its lease and its audit record (to audit_pending_device) in one
// statement, in its own transaction. nullopt when not used, when it claimed nothing, or when a
// lease has expired; the client-side transaction in claim() then reaps and decides, with the
// same semantics. Expired leases are looked for once per clock second: a lease ends at a whole
// second and every lease granted since the last look ends after it, so within one second the
// answer cannot change unless the client-side path reaped.
std::optional<Claim> SqlStore::server_claim(const std::string& user, const ClaimRequest& r) {
  if (!server_calls_ || stall_requested()) return std::nullopt;
  const int64_t t = now();
  if (t != lease_checked_at_) {
    auto expired = db_->query(std::string("SELECT CASE WHEN EXISTS (SELECT 1 FROM devices WHERE ") +
                                  kLeaseExpired + ") THEN 1 ELSE 0 END",
                              {t});
    if (expired.at(0).integer(0)) return std::nullopt;
    lease_checked_at_ = t;
  }
  std::string where = claim_states(r) + " AND not_before <= $3";
  std::vector<Param> params{user.empty() ? std::string("unknown") : user, r.station, t,
                            r.lease_seconds, Policy{}.lease_seconds};
  if (!r.classes.empty()) {
    std::string a;
    for (auto c : r.classes) a += (a.empty() ? "{" : ",") + to_string(c);
    params.emplace_back(std::in_place_type<std::string>, a + "}");
    where += " AND class = ANY ($6::text[])";
  }
  std::vector<Row> rows;
  try {
    rows = db_->query(
        claim_ctes(where, "$2",
                   "$3 + CASE WHEN $4 > 0 THEN $4 ELSE coalesce((SELECT value::bigint FROM "
                   "config WHERE key = 'lease_seconds'), $5) END",
                   "$3") +
            ", a AS (INSERT INTO audit_pending_device (" + kPendingDeviceCols +
            ") SELECT $3, $1, 'device.claim', '', u.exhibit, u.case_ref, u.suspect_ref, u.class, "
            "u.source, u.old_state, u.old_station, u.attempts - 1, u.image, u.state, u.station, "
            "u.attempts, u.image, u.lease_expires FROM u) SELECT " +
            kDeviceCols + " FROM u",
        params);
  } catch (const detail::RetryTransaction&) {
    return std::nullopt;
  }
  if (rows.empty()) return std::nullopt;
  wrote_pending();
  Claim c;
  c.device = device_from(rows[0]).d;
  c.kind = c.device.state == DeviceState::acquiring ? JobKind::acquire : JobKind::carve;
  return c;
}

Device SqlStore::complete(const std::string& user, const std::string& exhibit,
                          const std::string& station, const std::string& note,
                          const std::string& image) {
  if (server_calls_ && !stall_requested()) {
    // The completion and its audit record (to audit_pending_device) in one statement; when
    // nothing matches, the transaction below names the reason.
    check_id("station", station);
    try {
      auto rows = db_->query(
          complete_ctes("$2", "$3", "$5", "$6") + ", a AS (INSERT INTO audit_pending_device (" +
              kPendingDeviceCols +
              ") SELECT $6, $1, 'device.complete', $4, u.exhibit, u.case_ref, u.suspect_ref, "
              "u.class, u.source, u.old_state, $3, u.old_attempts, u.old_image, u.state, "
              "u.station, u.attempts, u.image, NULL FROM u) SELECT " +
              kDeviceCols + " FROM u",
          {user.empty() ? std::string("unknown") : user, exhibit, station, note, image, now()});
      if (!rows.empty()) {
        wrote_pending();
        station_succeeded(station);
        return device_from(rows[0]).d;
      }
    } catch (const detail::RetryTransaction&) {
    }
  }
  return write([&] {
    if (pg_) {
      // One statement: lock the device held by `station` under a live lease and complete it;
      // when nothing matches, held() below names the reason.
      check_id("station", station);
      auto rows = db_->query(complete_ctes("$1", "$2", "$3", "$4") + " SELECT " + kDeviceCols +
                                 ", old_state, old_attempts, old_image FROM u",
                             {exhibit, station, image, now()});
      if (!rows.empty()) {
        DeviceRow x = device_from(rows[0]);
        Device before = x.d;
        before.state = parse_or<DeviceState>(rows[0].text(22), parse_state, "device state");
        before.station = station;
        before.attempts = static_cast<int>(rows[0].integer(23));
        before.image = rows[0].text(24);
        audit_add(user, "device.complete", "device", exhibit, note,
                  device_json(before, View::audit), device_json(x.d, View::audit));
        station_succeeded(station);
        return x.d;
      }
    }
    DeviceRow x = held(exhibit, station);
    if (pg_)
      throw QueueError(Kind::conflict,
                       fmt::format("device {} changed while completing it", exhibit));
    Device before = x.d;
    if (!image.empty()) {
      x.d.image = image;
      db_->query("UPDATE devices SET image = $2 WHERE id = $1", {x.id, image});
    }
    x.d.state = x.d.state == DeviceState::acquiring ? DeviceState::acquired : DeviceState::review;
    x.d.attempts = 0;
    x.d.lease_expires = 0;
    x.d.last_error.clear();
    if (x.d.state == DeviceState::review) x.d.station.clear();
    save_state(x);
    audit_add(user, "device.complete", "device", exhibit, note, device_json(before, View::audit),
              device_json(x.d, View::audit));
    station_succeeded(station);
    return x.d;
  });
}

Device SqlStore::fail(const std::string& user, const std::string& exhibit,
                      const std::string& station, const std::string& error) {
  return write([&] {
    DeviceRow x = held(exhibit, station);
    Device before = x.d;
    const Policy p = policy();
    requeue(x, p, error);
    audit_add(user, "device.fail", "device", exhibit, error, device_json(before, View::audit),
              device_json(x.d, View::audit));
    station_failed(user, station, error, p);
    return x.d;
  });
}

Device SqlStore::release(const std::string& user, const std::string& exhibit,
                         const std::string& station, const std::string& reason) {
  check_reason(reason);
  return write([&] {
    DeviceRow x = held(exhibit, station);
    Device before = x.d;
    x.d.state = x.d.state == DeviceState::acquiring ? DeviceState::queued : DeviceState::acquired;
    x.d.attempts = std::max(0, x.d.attempts - 1);  // the claim's attempt is given back
    x.d.lease_expires = 0;
    x.d.station.clear();
    save_state(x);
    audit_add(user, "device.release", "device", exhibit, reason, device_json(before, View::audit),
              device_json(x.d, View::audit));
    return x.d;
  });
}

int64_t SqlStore::reap_expired(const std::string& user) {
  return write([&] { return reap_tx(user, policy()); });
}

// The device, locked, checked to be leased by `station`.
DeviceRow SqlStore::held(const std::string& exhibit, const std::string& station) {
  check_id("station", station);
  DeviceRow x = load_device(exhibit, true);
  bool leased = x.d.state == DeviceState::acquiring || x.d.state == DeviceState::carving;
  if (!leased || x.d.station != station)
    throw QueueError(
        Kind::conflict,
        fmt::format("device {} is not held by station {} (state {}{})", exhibit, station,
                    to_string(x.d.state), x.d.station.empty() ? "" : ", station " + x.d.station));
  if (x.d.lease_expires < now())
    throw QueueError(Kind::conflict, fmt::format("the lease of station {} on device {} has expired",
                                                 station, exhibit));
  return x;
}

void SqlStore::save_state(const DeviceRow& x) {
  db_->query(
      "UPDATE devices SET state = $2, ready = $3, station = $4, lease_expires = $5, attempts = "
      "$6, last_error = $7, updated_at = $8, not_before = $9 WHERE id = $1",
      {x.id, to_string(x.d.state), static_cast<int64_t>(ready(x.d.state) ? 1 : 0), x.d.station,
       x.d.lease_expires, static_cast<int64_t>(x.d.attempts), x.d.last_error, now(), x.not_before});
}

// The wait before the next claim after a job's `attempts`-th failed claim.
static int64_t backoff(const Policy& p, int attempts) {
  int64_t d = p.backoff_seconds;
  for (int i = 1; i < attempts && d < p.backoff_max_seconds; ++i) d *= 2;
  return std::min(d, p.backoff_max_seconds);
}

// A failed or expired job goes back for another attempt, or to `failed` after max_attempts.
void SqlStore::requeue(DeviceRow& x, const Policy& p, const std::string& error) {
  bool acquiring = x.d.state == DeviceState::acquiring;
  x.d.last_error = error;
  x.d.lease_expires = 0;
  x.d.station.clear();
  x.not_before = 0;
  if (x.d.attempts >= p.max_attempts) {
    x.d.state = DeviceState::failed;
  } else {
    x.d.state = acquiring ? DeviceState::queued : DeviceState::acquired;
    x.not_before = now() + backoff(p, x.d.attempts);
  }
  save_state(x);
}

int64_t SqlStore::reap_tx(const std::string& user, const Policy& p) {
  int64_t t = now();
  auto rows = db_->query(std::string("SELECT ") + kDeviceCols + " FROM devices WHERE " +
                             kLeaseExpired + (pg_ ? " FOR UPDATE SKIP LOCKED" : ""),
                         {t});
  for (auto& r : rows) {
    DeviceRow x = device_from(r);
    Device before = x.d;
    requeue(x, p, fmt::format("lease of station {} expired", before.station));
    audit_add(user, "device.lease-expired", "device", x.d.exhibit, "lease expired",
              device_json(before, View::audit), device_json(x.d, View::audit));
  }
  return static_cast<int64_t>(rows.size());
}

// ---- stations ----
void SqlStore::check_station_running(const std::string& station) {
  auto rows = db_->query("SELECT failures, stopped_at FROM stations WHERE name = $1", {station});
  if (rows.empty() || rows[0].integer(1) == 0) return;
  throw QueueError(Kind::conflict,
                   fmt::format("station {} has stopped claiming after {} failed jobs in a row "
                               "(a manager resumes it with `safehold queue station resume {} "
                               "--reason …`)",
                               station, rows[0].integer(0), station));
}

void SqlStore::station_failed(const std::string& user, const std::string& station,
                              const std::string& error, const Policy& p) {
  auto rows = db_->query(
      "INSERT INTO stations (name, failures, last_error) VALUES ($1, 1, $2) ON CONFLICT (name) DO "
      "UPDATE SET failures = stations.failures + 1, last_error = excluded.last_error RETURNING "
      "failures, stopped_at",
      {station, error});
  const int64_t failures = rows.at(0).integer(0);
  if (failures < p.station_failure_limit || rows[0].integer(1) != 0) return;
  const int64_t t = now();
  db_->query("UPDATE stations SET stopped_at = $2 WHERE name = $1", {station, t});
  Station before{station, failures, 0, error}, after{station, failures, t, error};
  audit_add(user, "station.stopped", "station", station,
            fmt::format("{} jobs failed in a row", failures), to_json(before), to_json(after));
}

void SqlStore::station_succeeded(const std::string& station) {
  db_->query("UPDATE stations SET failures = 0 WHERE name = $1 AND failures > 0", {station});
}

std::vector<Station> SqlStore::stations() {
  std::vector<Station> out;
  for (auto& r : db_->query(
           "SELECT name, failures, stopped_at, last_error FROM stations ORDER BY stopped_at = 0, "
           "name"))
    out.push_back({r.text(0), r.integer(1), r.integer(2), r.text(3)});
  return out;
}

Station SqlStore::resume_station(const std::string& user, const std::string& name,
                                 const std::string& reason) {
  check_reason(reason);
  check_id("station", name);
  return write([&] {
    auto rows =
        db_->query("SELECT name, failures, stopped_at, last_error FROM stations WHERE name = $1" +
                       std::string(pg_ ? " FOR UPDATE" : ""),
                   {name});
    if (rows.empty() || rows[0].integer(2) == 0)
      throw QueueError(Kind::conflict, fmt::format("station {} is not stopped", name));
    Station before{rows[0].text(0), rows[0].integer(1), rows[0].integer(2), rows[0].text(3)};
    Station after{name, 0, 0, before.last_error};
    db_->query("UPDATE stations SET failures = 0, stopped_at = 0 WHERE name = $1", {name});
    audit_add(user, "station.resume", "station", name, reason, to_json(before), to_json(after));
    return after;
  });
}

}  // namespace safehold::scheduler::detail
