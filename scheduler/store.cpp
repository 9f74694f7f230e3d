// The queue's logic over a Db (SQLite or PostgreSQL): one implementation of Store, so both
// back-ends share the priority function, alerts, audit chain and lease rules. Back-end specifics
// (schema types, row locks) are the only branches on db_->postgres().
#include <fmt/core.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <istream>
#include <ostream>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include "scheduler/db.hpp"
#include "scheduler/queue.hpp"

namespace safehold::scheduler {
namespace {

using detail::Db;
using detail::Param;
using detail::Row;
using nlohmann::json;
using Kind = QueueError::Kind;

std::string sha256_hex(const std::string& s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

void check_id(const char* what, const std::string& s) {
  if (s.empty()) throw QueueError(Kind::invalid, fmt::format("{} must not be empty", what));
  if (s.size() > 200)
    throw QueueError(Kind::invalid, fmt::format("{} is longer than 200 characters", what));
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f)
      throw QueueError(Kind::invalid, fmt::format("{} contains a control character", what));
}

void check_reason(const std::string& reason) {
  bool blank =
      std::all_of(reason.begin(), reason.end(), [](char c) { return c == ' ' || c == '\t'; });
  if (reason.empty() || blank)
    throw QueueError(Kind::invalid, "a reason is required for this change (--reason)");
}

void check_date(const std::string& d) {
  if (d.empty()) return;
  bool ok = d.size() == 10 && d[4] == '-' && d[7] == '-';
  for (size_t i = 0; ok && i < 10; ++i)
    if (i != 4 && i != 7 && (d[i] < '0' || d[i] > '9')) ok = false;
  if (ok) {
    int m = std::stoi(d.substr(5, 2)), day = std::stoi(d.substr(8, 2));
    ok = m >= 1 && m <= 12 && day >= 1 && day <= 31;
  }
  if (!ok) throw QueueError(Kind::invalid, fmt::format("seized date '{}' is not YYYY-MM-DD", d));
}

template <typename T, typename F>
T parse_or(const std::string& s, F f, const char* what) {
  auto v = f(s);
  if (!v) throw QueueError(Kind::storage, fmt::format("corrupt {} '{}' in the database", what, s));
  return *v;
}

const char* kDeviceCols =
    "id, exhibit, case_ref, suspect_ref, class, capacity, seized, source, notes, state, station, "
    "intake_at, deadline_at, lease_expires, attempts, last_error, tier, level, prio_key, risk, "
    "image";

struct DeviceRow {
  int64_t id = 0;
  Device d;
  Risk risk = Risk::none;
};

DeviceRow device_from(const Row& r) {
  DeviceRow x;
  x.id = r.integer(0);
  auto& d = x.d;
  d.exhibit = r.text(1);
  d.case_ref = r.text(2);
  d.suspect_ref = r.text(3);
  d.device_class = parse_or<DeviceClass>(r.text(4), parse_class, "device class");
  d.capacity = static_cast<uint64_t>(r.integer(5));
  d.seized = r.text(6);
  d.source = r.text(7);
  d.notes = r.text(8);
  d.state = parse_or<DeviceState>(r.text(9), parse_state, "device state");
  d.station = r.text(10);
  d.intake_at = r.integer(11);
  d.deadline_at = r.integer(12);
  d.lease_expires = r.integer(13);
  d.attempts = static_cast<int>(r.integer(14));
  d.last_error = r.text(15);
  d.tier = static_cast<int>(r.integer(16));
  d.level = static_cast<int>(r.integer(17));
  d.priority_key = r.integer(18);
  x.risk = parse_or<Risk>(r.text(19), parse_risk, "risk band");
  d.image = r.text(20);
  return x;
}

const char* kCaseCols = "reference, risk, offence, officer, notes, created_at";
Case case_from(const Row& r) {
  Case c;
  c.reference = r.text(0);
  c.risk = parse_or<Risk>(r.text(1), parse_risk, "risk band");
  c.offence = r.text(2);
  c.officer = r.text(3);
  c.notes = r.text(4);
  c.created_at = r.integer(5);
  return c;
}
json to_json(const Case& c) {
  return {{"reference", c.reference},
          {"risk", to_string(c.risk)},
          {"offence", c.offence},
          {"officer", c.officer},
          {"notes", c.notes}};
}

const char* kSuspectCols =
    "reference, case_ref, lives_with_children, access_to_children, children_count, age_bands, "
    "access_notes, created_at";
Suspect suspect_from(const Row& r) {
  Suspect s;
  s.reference = r.text(0);
  s.case_ref = r.text(1);
  s.lives_with_children = parse_or<Answer>(r.text(2), parse_answer, "answer");
  s.access_to_children = parse_or<Answer>(r.text(3), parse_answer, "answer");
  s.children_count = static_cast<int>(r.integer(4));
  s.age_bands = r.text(5);
  s.access_notes = r.text(6);
  s.created_at = r.integer(7);
  return s;
}
json to_json(const Suspect& s) {
  return {{"reference", s.reference},
          {"case", s.case_ref},
          {"lives_with_children", to_string(s.lives_with_children)},
          {"access_to_children", to_string(s.access_to_children)},
          {"children_count", s.children_count},
          {"age_bands", s.age_bands},
          {"access_notes", s.access_notes}};
}

json device_json(const Device& d) {
  json j = {{"exhibit", d.exhibit},        {"case", d.case_ref},
            {"suspect", d.suspect_ref},    {"class", to_string(d.device_class)},
            {"state", to_string(d.state)}, {"station", d.station},
            {"attempts", d.attempts},      {"source", d.source}};
  if (!d.image.empty()) j["image"] = d.image;
  return j;
}
// A claim's "after": the device as claimed, with its job and lease (the state says which job).
json claim_json(const Device& d) {
  json j = device_json(d);
  j["job"] = to_string(d.state == DeviceState::acquiring ? JobKind::acquire : JobKind::carve);
  j["lease_expires"] = d.lease_expires;
  return j;
}
json priority_json(const Device& d) {
  return {{"tier", d.tier}, {"level", d.level}, {"key", d.priority_key}};
}

const char* kAlertCols =
    "id, case_ref, suspect_ref, reason, raised_at, raised_by, due_at, acknowledged_at, "
    "acknowledged_by, reference";
Alert alert_from(const Row& r) {
  Alert a;
  a.id = r.integer(0);
  a.case_ref = r.text(1);
  a.suspect_ref = r.text(2);
  a.reason = r.text(3);
  a.raised_at = r.integer(4);
  a.raised_by = r.text(5);
  a.due_at = r.integer(6);
  a.acknowledged_at = r.integer(7);
  a.acknowledged = a.acknowledged_at != 0;
  a.acknowledged_by = r.text(8);
  a.reference = r.text(9);
  return a;
}

const char* kTokenCols = "id, name, role, created_at, created_by, revoked_at";
Token token_from(const Row& r) {
  Token t;
  t.id = r.integer(0);
  t.name = r.text(1);
  t.role = parse_or<Role>(r.text(2), parse_role, "role");
  t.created_at = r.integer(3);
  t.created_by = r.text(4);
  t.revoked_at = r.integer(5);
  return t;
}

bool active(DeviceState s) {
  return s != DeviceState::done && s != DeviceState::withdrawn && s != DeviceState::failed &&
         s != DeviceState::review;
}
bool ready(DeviceState s) {
  return s == DeviceState::queued || s == DeviceState::acquired;
}

// The claim order of each job kind, and the rank count of `explain`, read these partial indexes:
// an index scan in priority order that never passes over devices of another state.
const char* kQueueIndexes =
    "CREATE INDEX IF NOT EXISTS devices_queued ON devices(tier, prio_key, id) WHERE state = "
    "'queued';\n"
    "CREATE INDEX IF NOT EXISTS devices_acquired ON devices(tier, prio_key, id) WHERE state = "
    "'acquired';";

// Devices whose lease has expired ($1: now). Claims look for them first; the reaper returns them.
const char* kLeaseExpired =
    "lease_expires > 0 AND lease_expires < $1 AND state IN ('acquiring', 'carving')";

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

// PostgreSQL: a claim and a completion are one SQL statement each (one round trip, no lock wait):
// the device update and its audit record, in the same transaction, as a row of
// audit_pending_device: the device's fields before and after the change, typed, not yet JSON.
// chain_pending() chains pending records onto the one audit chain in batches: it takes the chain
// lock (an advisory lock, then the head row), reads every committed pending record in (xid, id)
// order, builds its before/after JSON and SHA-256 chain hash with the code every other writer
// uses (device_json(), audit_hash()), moves the records into `audit` and moves the head. Writers
// do not queue behind each other on the chain head once per job: a hot-path writer seals at most
// every 100 ms, without waiting, and every reader of the chain, every client-side write and a
// closing store seal first, waiting. low_xid_device: the oldest transaction that may still add
// pending records (the xmin of the last seal's snapshot), so a seal's scan starts after the
// records already moved. audit_pending (records as JSON) and low_xid are the previous release's:
// its stores wrote there and sealed with a PL/pgSQL function (safehold_audit_seal_v2) under the
// same lock and with the same hash; chain_pending() also chains what they leave, so that both
// releases can share a database during an upgrade.
const char* kPgPendingProbe = "audit_pending_device";
const char* kPgPending = R"SQL(
CREATE TABLE IF NOT EXISTS audit_pending (
  xid xid8 NOT NULL DEFAULT pg_current_xact_id(), id BIGINT GENERATED ALWAYS AS IDENTITY,
  at BIGINT NOT NULL, user_name TEXT NOT NULL, action TEXT NOT NULL, entity TEXT NOT NULL,
  entity_id TEXT NOT NULL, reason TEXT NOT NULL, before_json TEXT NOT NULL,
  after_json TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_pending_order ON audit_pending (xid, id);
ALTER TABLE audit_head ADD COLUMN IF NOT EXISTS low_xid xid8;
CREATE TABLE IF NOT EXISTS audit_pending_device (
  xid xid8 NOT NULL DEFAULT pg_current_xact_id(), id BIGINT GENERATED ALWAYS AS IDENTITY,
  at BIGINT NOT NULL, user_name TEXT NOT NULL, action TEXT NOT NULL, reason TEXT NOT NULL,
  exhibit TEXT NOT NULL, case_ref TEXT NOT NULL, suspect_ref TEXT NOT NULL, class TEXT NOT NULL,
  source TEXT NOT NULL, b_state TEXT NOT NULL, b_station TEXT NOT NULL, b_attempts BIGINT NOT NULL,
  b_image TEXT NOT NULL, a_state TEXT NOT NULL, a_station TEXT NOT NULL,
  a_attempts BIGINT NOT NULL, a_image TEXT NOT NULL, a_lease BIGINT);
CREATE INDEX IF NOT EXISTS audit_pending_device_order ON audit_pending_device (xid, id);
ALTER TABLE audit_head ADD COLUMN IF NOT EXISTS low_xid_device xid8;
)SQL";

// The columns of an audit_pending_device row, in its INSERT.
const char* kPendingDeviceCols =
    "at, user_name, action, reason, exhibit, case_ref, suspect_ref, class, source, b_state, "
    "b_station, b_attempts, b_image, a_state, a_station, a_attempts, a_image, a_lease";

// The device indexes besides devices_case and kQueueIndexes. PostgreSQL updates a row in place
// (HOT, no index work) only when no indexed column changes, and a claim or a completion changes
// the state; every other update inserts an entry into every index whose predicate the new row
// meets. So on PostgreSQL each index is partial to the states it serves, and a claim inserts 4
// entries and a completion 4 or 5 (the primary key, exhibit, case, and the new state's indexes)
// where full indexes took 6 or 7: devices_ready_v2 holds the ready devices (claims of both kinds),
// devices_held the leased ones (few: one a station; the expired-lease check and listing those
// states), devices_rest the resting states (listing them); a suspect's devices are found through
// devices_case, since they all belong to its case. SQLite rewrites only the indexes whose columns
// an update changes, so it keeps the full indexes. kPgIndexesProbe/kPgIndexMigration: databases
// created with the full indexes on PostgreSQL are moved to the partial ones when opened.
const char* kPgIndexesProbe = "devices_ready_v2";
const char* kPgDeviceIndexes =
    "CREATE INDEX IF NOT EXISTS devices_ready_v2 ON devices(tier, prio_key, id) WHERE ready = 1;\n"
    "CREATE INDEX IF NOT EXISTS devices_held ON devices(state, tier, prio_key, id) WHERE state IN "
    "('acquiring', 'carving');\n"
    "CREATE INDEX IF NOT EXISTS devices_rest ON devices(state, tier, prio_key, id) WHERE state "
    "NOT IN ('queued', 'acquired', 'acquiring', 'carving');";
const char* kPgIndexMigration =
    "DROP INDEX IF EXISTS devices_order, devices_ready, devices_suspect, devices_lease;";

std::string device_indexes(bool pg) {
  if (pg) return kPgDeviceIndexes;
  return "CREATE INDEX IF NOT EXISTS devices_order ON devices(state, tier, prio_key, id);\n"
         "CREATE INDEX IF NOT EXISTS devices_ready ON devices(ready, tier, prio_key, id);\n"
         "CREATE INDEX IF NOT EXISTS devices_suspect ON devices(suspect_ref);\n"
         "CREATE INDEX IF NOT EXISTS devices_lease ON devices(lease_expires) WHERE lease_expires > "
         "0;";
}

std::string schema(bool pg) {
  std::string autoid =
      pg ? "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY" : "INTEGER PRIMARY KEY";
  return fmt::format(R"SQL(
CREATE TABLE IF NOT EXISTS config (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cases (
  reference TEXT PRIMARY KEY, risk TEXT NOT NULL, offence TEXT NOT NULL DEFAULT '',
  officer TEXT NOT NULL DEFAULT '', notes TEXT NOT NULL DEFAULT '', created_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS suspects (
  reference TEXT PRIMARY KEY, case_ref TEXT NOT NULL REFERENCES cases(reference),
  lives_with_children TEXT NOT NULL, access_to_children TEXT NOT NULL,
  children_count BIGINT NOT NULL DEFAULT -1, age_bands TEXT NOT NULL DEFAULT '',
  access_notes TEXT NOT NULL DEFAULT '', created_at BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS suspects_case ON suspects(case_ref);
CREATE TABLE IF NOT EXISTS devices (
  id {0}, exhibit TEXT NOT NULL UNIQUE,
  case_ref TEXT NOT NULL REFERENCES cases(reference),
  suspect_ref TEXT NOT NULL REFERENCES suspects(reference),
  class TEXT NOT NULL, capacity BIGINT NOT NULL DEFAULT 0, seized TEXT NOT NULL DEFAULT '',
  source TEXT NOT NULL DEFAULT '', notes TEXT NOT NULL DEFAULT '', state TEXT NOT NULL,
  ready BIGINT NOT NULL, station TEXT NOT NULL DEFAULT '', intake_at BIGINT NOT NULL,
  deadline_at BIGINT NOT NULL, lease_expires BIGINT NOT NULL DEFAULT 0,
  attempts BIGINT NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '',
  tier BIGINT NOT NULL, level BIGINT NOT NULL, prio_key BIGINT NOT NULL, risk TEXT NOT NULL,
  updated_at BIGINT NOT NULL, image TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS devices_case ON devices(case_ref);
{1}
{2}
CREATE TABLE IF NOT EXISTS alerts (
  id {0}, case_ref TEXT NOT NULL, suspect_ref TEXT NOT NULL, reason TEXT NOT NULL,
  raised_at BIGINT NOT NULL, raised_by TEXT NOT NULL, due_at BIGINT NOT NULL,
  acknowledged_at BIGINT NOT NULL DEFAULT 0, acknowledged_by TEXT NOT NULL DEFAULT '',
  reference TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS audit (
  seq BIGINT PRIMARY KEY, at BIGINT NOT NULL, user_name TEXT NOT NULL, action TEXT NOT NULL,
  entity TEXT NOT NULL, entity_id TEXT NOT NULL, reason TEXT NOT NULL, before_json TEXT NOT NULL,
  after_json TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_entity ON audit(entity, entity_id);
CREATE TABLE IF NOT EXISTS audit_head (
  id BIGINT PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL, hash TEXT NOT NULL);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '') ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS tokens (
  id {0}, name TEXT NOT NULL, role TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL, created_by TEXT NOT NULL, revoked_at BIGINT NOT NULL DEFAULT 0);
)SQL",
                     autoid, device_indexes(pg), kQueueIndexes);
}

// ---- CSV ----
std::vector<std::string> csv_row(std::istream& in, bool& ok) {
  std::vector<std::string> out;
  std::string field;
  bool quoted = false, any = false;
  ok = false;
  int c;
  while ((c = in.get()) != EOF) {
    any = true;
    char ch = static_cast<char>(c);
    if (quoted) {
      if (ch == '"') {
        if (in.peek() == '"') {
          field += '"';
          in.get();
        } else {
          quoted = false;
        }
      } else {
        field += ch;
      }
    } else if (ch == '"') {
      quoted = true;
    } else if (ch == ',') {
      out.push_back(field);
      field.clear();
    } else if (ch == '\n') {
      break;
    } else if (ch != '\r') {
      field += ch;
    }
  }
  if (!any) return out;
  out.push_back(field);
  ok = true;
  return out;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

int64_t parse_time(const std::string& s) {
  if (s.empty()) return 0;
  if (std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::stoll(s);
  std::tm tm{};
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) end = strptime(s.c_str(), "%Y-%m-%d", &tm);
  if (!end) throw QueueError(Kind::invalid, fmt::format("time '{}' is not ISO 8601 UTC", s));
  return static_cast<int64_t>(timegm(&tm));
}

const std::vector<std::string> kCsvColumns{"exhibit",
                                           "case",
                                           "suspect",
                                           "class",
                                           "capacity",
                                           "seized",
                                           "source",
                                           "state",
                                           "intake_at",
                                           "risk",
                                           "offence",
                                           "officer",
                                           "lives_with_children",
                                           "access_to_children"};

// ---------------------------------------------------------------------------------------------
class SqlStore final : public Store {
 public:
  explicit SqlStore(std::unique_ptr<Db> db) : db_(std::move(db)) {
    pg_ = db_->postgres();
    if (!schema_ready()) {
      write([&] {
        if (pg_) db_->query("SELECT pg_advisory_xact_lock(7731001)");
        db_->script(schema(pg_));
        return 0;
      });
    }
    migrate();
    constructed_ = true;
  }

  ~SqlStore() override {
    // The records this store wrote on the hot path are chained before it closes.
    if (!unsealed_) return;
    try {
      seal(true);
    } catch (...) {
    }
  }

  // Columns and indexes added after the first release of the schema.
  void migrate() {
    bool have_index = false, have_pending = false;
    if (pg_) {
      auto row = db_->query(std::string("SELECT to_regclass('devices_acquired'), to_regclass('") +
                            kPgPendingProbe + "'), current_setting('server_encoding'), " +
                            "to_regclass('" + kPgIndexesProbe + "')")
                     .at(0);
      have_index = !row.null(0);
      have_pending = !row.null(1);
      server_calls_ = row.text(2) == "UTF8";
      if (row.null(3)) {
        write([&] {
          db_->query("SELECT pg_advisory_xact_lock(7731001)");
          db_->script(std::string(kPgIndexMigration) + "\n" + kPgDeviceIndexes);
          return 0;
        });
      }
    } else {
      have_index = !db_->query(
                           "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = "
                           "'devices_acquired'")
                        .empty();
    }
    if (!have_index) {
      write([&] {
        db_->script(kQueueIndexes);
        return 0;
      });
    }
    if (server_calls_ && !have_pending) {
      try {
        write([&] {
          db_->query("SELECT pg_advisory_xact_lock(7731001)");
          db_->script(kPgPending);
          return 0;
        });
      } catch (const QueueError&) {
        server_calls_ = false;  // e.g. no CREATE right on the schema: client-side transactions
      }
    }
    try {
      db_->query("SELECT image FROM devices LIMIT 0");
    } catch (const QueueError&) {
      db_->rollback();
      write([&] {
        db_->script("ALTER TABLE devices ADD COLUMN image TEXT NOT NULL DEFAULT ''");
        return 0;
      });
    }
  }

  // True when the last table of the schema exists (so opening takes no write lock).
  bool schema_ready() {
    if (pg_) return !db_->query("SELECT to_regclass('tokens')").at(0).null(0);
    return !db_->query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tokens'")
                .empty();
  }

  std::string backend() const override { return pg_ ? "postgresql" : "sqlite"; }

  // ---- policy ----
  Policy policy() override {
    Policy p;
    for (auto& r : db_->query("SELECT key, value FROM config")) {
      const auto& k = r.text(0);
      int64_t v = std::stoll(r.text(1));
      if (k == "deadline_days.very-high")
        p.deadline_days[0] = v;
      else if (k == "deadline_days.high")
        p.deadline_days[1] = v;
      else if (k == "deadline_days.medium")
        p.deadline_days[2] = v;
      else if (k == "deadline_days.low")
        p.deadline_days[3] = v;
      else if (k == "deadline_days.none")
        p.deadline_days[4] = v;
      else if (k == "alert_hours")
        p.alert_hours = v;
      else if (k == "aging_days_per_level")
        p.aging_days_per_level = v;
      else if (k == "lease_seconds")
        p.lease_seconds = v;
      else if (k == "max_attempts")
        p.max_attempts = static_cast<int>(v);
    }
    return p;
  }

  static json policy_json(const Policy& p) {
    return {{"deadline_days",
             {{"very-high", p.deadline_days[0]},
              {"high", p.deadline_days[1]},
              {"medium", p.deadline_days[2]},
              {"low", p.deadline_days[3]},
              {"none", p.deadline_days[4]}}},
            {"alert_hours", p.alert_hours},
            {"aging_days_per_level", p.aging_days_per_level},
            {"lease_seconds", p.lease_seconds},
            {"max_attempts", p.max_attempts}};
  }

  ChangeResult set_policy(const std::string& user, const Policy& p,
                          const std::string& reason) override {
    check_reason(reason);
    for (auto d : p.deadline_days)
      if (d < 0) throw QueueError(Kind::invalid, "deadline days must not be negative");
    if (p.aging_days_per_level < 1)
      throw QueueError(Kind::invalid, "aging period must be >= 1 day");
    if (p.lease_seconds < 1) throw QueueError(Kind::invalid, "lease must be >= 1 second");
    if (p.max_attempts < 1) throw QueueError(Kind::invalid, "max attempts must be >= 1");
    if (p.alert_hours < 0) throw QueueError(Kind::invalid, "alert hours must not be negative");
    return write([&] {
      Policy old = policy();
      const char* names[] = {"very-high", "high", "medium", "low", "none"};
      std::vector<std::pair<std::string, int64_t>> kv;
      for (size_t i = 0; i < 5; ++i)
        kv.emplace_back(std::string("deadline_days.") + names[i], p.deadline_days[i]);
      kv.emplace_back("alert_hours", p.alert_hours);
      kv.emplace_back("aging_days_per_level", p.aging_days_per_level);
      kv.emplace_back("lease_seconds", p.lease_seconds);
      kv.emplace_back("max_attempts", p.max_attempts);
      for (auto& [k, v] : kv)
        db_->query(
            "INSERT INTO config (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET "
            "value = excluded.value",
            {k, std::to_string(v)});
      audit_add(user, "policy.set", "policy", "policy", reason, policy_json(old), policy_json(p));
      ChangeResult res;
      res.devices_reranked = rerank("", "", user, reason, p, /*all=*/true);
      return res;
    });
  }

  // ---- cases ----
  Case add_case(const std::string& user, const NewCase& c) override {
    check_id("case reference", c.reference);
    return write([&] {
      if (!db_->query("SELECT 1 FROM cases WHERE reference = $1", {c.reference}).empty())
        throw QueueError(Kind::conflict, fmt::format("case {} already exists", c.reference));
      int64_t t = now();
      db_->query(
          "INSERT INTO cases (reference, risk, offence, officer, notes, created_at) VALUES "
          "($1, $2, $3, $4, $5, $6)",
          {c.reference, to_string(c.risk), c.offence, c.officer, c.notes, t});
      Case out{c.reference, c.risk, c.offence, c.officer, c.notes, t};
      audit_add(user, "case.add", "case", c.reference, "", json(), to_json(out));
      return out;
    });
  }

  ChangeResult update_case(const std::string& user, const std::string& ref, const CaseUpdate& u,
                           const std::string& reason) override {
    check_reason(reason);
    return write([&] {
      Case before = load_case(ref, true);
      Case after = before;
      if (u.risk) after.risk = *u.risk;
      if (u.offence) after.offence = *u.offence;
      if (u.officer) after.officer = *u.officer;
      if (u.notes) after.notes = *u.notes;
      db_->query(
          "UPDATE cases SET risk = $2, offence = $3, officer = $4, notes = $5 WHERE reference = $1",
          {ref, to_string(after.risk), after.offence, after.officer, after.notes});
      audit_add(user, "case.update", "case", ref, reason, to_json(before), to_json(after));
      ChangeResult res;
      res.devices_reranked = rerank(ref, "", user, reason, policy(), false);
      return res;
    });
  }

  Case get_case(const std::string& ref) override { return load_case(ref, false); }

  std::vector<Case> list_cases() override {
    std::vector<Case> out;
    for (auto& r :
         db_->query(std::string("SELECT ") + kCaseCols + " FROM cases ORDER BY reference"))
      out.push_back(case_from(r));
    return out;
  }

  // ---- suspects ----
  std::pair<Suspect, ChangeResult> add_suspect(const std::string& user,
                                               const NewSuspect& s) override {
    check_id("suspect reference", s.reference);
    check_id("case reference", s.case_ref);
    return write([&] {
      load_case(s.case_ref, false);
      if (!db_->query("SELECT 1 FROM suspects WHERE reference = $1", {s.reference}).empty())
        throw QueueError(Kind::conflict, fmt::format("suspect {} already exists", s.reference));
      ChangeResult res;
      Suspect out = add_suspect_tx(user, s, policy(), /*reload=*/false, &res);
      return std::make_pair(out, res);
    });
  }

  ChangeResult update_suspect(const std::string& user, const std::string& ref,
                              const SuspectUpdate& u, const std::string& reason) override {
    check_reason(reason);
    return write([&] {
      Suspect before = load_suspect(ref, true);
      Suspect after = before;
      if (u.lives_with_children) after.lives_with_children = *u.lives_with_children;
      if (u.access_to_children) after.access_to_children = *u.access_to_children;
      if (u.children_count) after.children_count = *u.children_count;
      if (u.age_bands) after.age_bands = *u.age_bands;
      if (u.access_notes) after.access_notes = *u.access_notes;
      db_->query(
          "UPDATE suspects SET lives_with_children = $2, access_to_children = $3, "
          "children_count = $4, age_bands = $5, access_notes = $6 WHERE reference = $1",
          {ref, to_string(after.lives_with_children), to_string(after.access_to_children),
           static_cast<int64_t>(after.children_count), after.age_bands, after.access_notes});
      audit_add(user, "suspect.update", "suspect", ref, reason, to_json(before), to_json(after));
      ChangeResult res;
      Policy p = policy();
      if (after.at_risk() && !before.at_risk())
        res.alerts_raised.push_back(raise_alert(user, after, p));
      res.devices_reranked = rerank(after.case_ref, ref, user, reason, p, false);
      return res;
    });
  }

  Suspect get_suspect(const std::string& ref) override { return load_suspect(ref, false); }

  std::vector<Suspect> list_suspects(const std::string& case_ref) override {
    std::vector<Suspect> out;
    std::string sql = std::string("SELECT ") + kSuspectCols + " FROM suspects";
    std::vector<Param> params;
    if (!case_ref.empty()) {
      sql += " WHERE case_ref = $1";
      params.push_back(case_ref);
    }
    for (auto& r : db_->query(sql + " ORDER BY reference", params)) out.push_back(suspect_from(r));
    return out;
  }

  // ---- devices ----
  Device add_device(const std::string& user, const NewDevice& nd) override {
    check_id("exhibit reference", nd.exhibit);
    check_id("suspect reference", nd.suspect_ref);
    check_date(nd.seized);
    return write([&] { return add_device_tx(user, nd); });
  }

  Device get_device(const std::string& exhibit) override { return load_device(exhibit, false).d; }

  Device set_device_state(const std::string& user, const std::string& exhibit, DeviceState to,
                          const std::string& reason) override {
    check_reason(reason);
    return write([&] {
      DeviceRow x = load_device(exhibit, true);
      Device before = x.d;
      Device& d = x.d;
      d.state = to;
      d.station.clear();
      d.lease_expires = 0;
      if (ready(to)) d.attempts = 0;
      save_state(x);
      audit_add(user, "device.state", "device", exhibit, reason, device_json(before),
                device_json(d));
      return d;
    });
  }

  std::vector<QueueEntry> list(const ListQuery& q) override {
    std::string sql = std::string("SELECT ") + kDeviceCols + " FROM devices";
    std::vector<Param> params;
    std::vector<std::string> where;
    if (!q.states.empty()) {
      std::string in;
      for (auto s : q.states) {
        params.push_back(to_string(s));
        in += (in.empty() ? "$" : ", $") + std::to_string(params.size());
      }
      where.push_back("state IN (" + in + ")");
    }
    if (!q.case_ref.empty()) {
      params.push_back(q.case_ref);
      where.push_back("case_ref = $" + std::to_string(params.size()));
    }
    for (size_t i = 0; i < where.size(); ++i) sql += (i ? " AND " : " WHERE ") + where[i];
    sql += " ORDER BY tier, prio_key, id";
    if (q.limit > 0) {
      params.push_back(q.limit);
      sql += " LIMIT $" + std::to_string(params.size());
    }
    if (q.offset > 0) {
      params.push_back(q.offset);
      sql += " OFFSET $" + std::to_string(params.size());
    }
    int64_t t = now();
    std::vector<QueueEntry> out;
    int64_t rank = q.offset;
    for (auto& r : db_->query(sql, params)) out.push_back(entry(device_from(r), ++rank, t));
    return out;
  }

  Explanation explain(const std::string& exhibit) override {
    DeviceRow x = load_device(exhibit, false);
    Explanation e;
    int64_t t = now();
    e.case_info = load_case(x.d.case_ref, false);
    e.suspect = load_suspect(x.d.suspect_ref, false);
    e.priority =
        compute_priority(e.suspect, e.case_info.risk, x.d.device_class, x.d.intake_at, t, policy());
    // Rank: the queued devices before this one in (tier, prio_key, id) order, counted as three
    // range counts on the devices_queued index (each an index-only range scan, where the single
    // OR-ed condition made both databases scan every queued row).
    int64_t rank = 0;
    auto counts = db_->query(
        "SELECT (SELECT COUNT(*) FROM devices WHERE state = 'queued' AND tier < $1), "
        "(SELECT COUNT(*) FROM devices WHERE state = 'queued' AND tier = $1 AND prio_key < $2), "
        "(SELECT COUNT(*) FROM devices WHERE state = 'queued' AND tier = $1 AND prio_key = $2 AND "
        "id < $3), (SELECT COUNT(*) FROM devices WHERE state = 'queued')",
        {static_cast<int64_t>(x.d.tier), x.d.priority_key, x.id});
    if (x.d.state == DeviceState::queued)
      rank = counts.at(0).integer(0) + counts.at(0).integer(1) + counts.at(0).integer(2) + 1;
    e.entry = entry(x, rank, t);
    e.queued_total = counts.at(0).integer(3);
    return e;
  }

  std::vector<QueueEntry> breaches() override {
    int64_t t = now();
    std::vector<QueueEntry> out;
    auto rows = db_->query(std::string("SELECT ") + kDeviceCols +
                               " FROM devices WHERE deadline_at < $1 AND state NOT IN ('done', "
                               "'withdrawn', 'failed', 'review') ORDER BY deadline_at, id",
                           {t});
    int64_t rank = 0;
    for (auto& r : rows) out.push_back(entry(device_from(r), ++rank, t));
    return out;
  }

  // ---- workers ----
  std::optional<Claim> claim(const std::string& user, const ClaimRequest& r) override {
    check_id("station", r.station);
    if (auto c = server_claim(user, r)) return c;
    auto c = claim_tx(user, r);
    if (!c && unsealed_) try_seal();  // an idle worker leaves nothing unchained
    return c;
  }

  std::optional<Claim> claim_tx(const std::string& user, const ClaimRequest& r) {
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
        before.state = parse_or<DeviceState>(rows[0].text(21), parse_state, "device state");
        before.station = rows[0].text(22);
        before.attempts -= 1;
      } else {
        auto rows = db_->query(std::string("SELECT ") + kDeviceCols + " FROM devices WHERE " +
                                   where + " ORDER BY tier, prio_key, id LIMIT 1",
                               params);
        if (rows.empty()) return std::nullopt;
        x = device_from(rows[0]);
        before = x.d;
        x.d.state =
            x.d.state == DeviceState::queued ? DeviceState::acquiring : DeviceState::carving;
        x.d.station = r.station;
        x.d.attempts += 1;
        x.d.lease_expires = lease;
        save_state(x);
      }
      Claim c;
      c.kind = x.d.state == DeviceState::acquiring ? JobKind::acquire : JobKind::carve;
      audit_add(user, "device.claim", "device", x.d.exhibit, "", device_json(before),
                claim_json(x.d));
      c.device = x.d;
      return c;
    });
  }

  Device heartbeat(const std::string& user, const std::string& exhibit,
                   const std::string& station) override {
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
  std::optional<Claim> server_claim(const std::string& user, const ClaimRequest& r) {
    if (!server_calls_ || stall_requested()) return std::nullopt;
    const int64_t t = now();
    if (t != lease_checked_at_) {
      auto expired =
          db_->query(std::string("SELECT CASE WHEN EXISTS (SELECT 1 FROM devices WHERE ") +
                         kLeaseExpired + ") THEN 1 ELSE 0 END",
                     {t});
      if (expired.at(0).integer(0)) return std::nullopt;
      lease_checked_at_ = t;
    }
    std::string where = claim_states(r);
    std::vector<Param> params{user.empty() ? std::string("unknown") : user, r.station, t,
                              r.lease_seconds, Policy{}.lease_seconds};
    if (!r.classes.empty()) {
      std::string a;
      for (auto c : r.classes) a += (a.empty() ? "{" : ",") + to_string(c);
      params.push_back(a + "}");
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

  Device complete(const std::string& user, const std::string& exhibit, const std::string& station,
                  const std::string& note, const std::string& image) override {
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
          before.state = parse_or<DeviceState>(rows[0].text(21), parse_state, "device state");
          before.station = station;
          before.attempts = static_cast<int>(rows[0].integer(22));
          before.image = rows[0].text(23);
          audit_add(user, "device.complete", "device", exhibit, note, device_json(before),
                    device_json(x.d));
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
      audit_add(user, "device.complete", "device", exhibit, note, device_json(before),
                device_json(x.d));
      return x.d;
    });
  }

  Device fail(const std::string& user, const std::string& exhibit, const std::string& station,
              const std::string& error) override {
    return write([&] {
      DeviceRow x = held(exhibit, station);
      Device before = x.d;
      requeue(x, policy(), error);
      audit_add(user, "device.fail", "device", exhibit, error, device_json(before),
                device_json(x.d));
      return x.d;
    });
  }

  Device release(const std::string& user, const std::string& exhibit, const std::string& station,
                 const std::string& reason) override {
    check_reason(reason);
    return write([&] {
      DeviceRow x = held(exhibit, station);
      Device before = x.d;
      x.d.state = x.d.state == DeviceState::acquiring ? DeviceState::queued : DeviceState::acquired;
      x.d.attempts = std::max(0, x.d.attempts - 1);  // the claim's attempt is given back
      x.d.lease_expires = 0;
      x.d.station.clear();
      save_state(x);
      audit_add(user, "device.release", "device", exhibit, reason, device_json(before),
                device_json(x.d));
      return x.d;
    });
  }

  int64_t reap_expired(const std::string& user) override {
    return write([&] { return reap_tx(user, policy()); });
  }

  // ---- alerts ----
  std::vector<Alert> alerts(bool open_only) override {
    int64_t t = now();
    std::string sql = std::string("SELECT ") + kAlertCols + " FROM alerts";
    if (open_only) sql += " WHERE acknowledged_at = 0";
    std::vector<Alert> out;
    for (auto& r : db_->query(sql)) out.push_back(alert_from(r));
    std::stable_sort(out.begin(), out.end(), [t](const Alert& a, const Alert& b) {
      auto key = [t](const Alert& x) {
        return std::make_tuple(x.acknowledged ? 2 : (x.overdue(t) ? 0 : 1), x.due_at, x.id);
      };
      return key(a) < key(b);
    });
    return out;
  }

  Alert get_alert(int64_t id) override {
    auto rows =
        db_->query(std::string("SELECT ") + kAlertCols + " FROM alerts WHERE id = $1", {id});
    if (rows.empty()) throw QueueError(Kind::not_found, fmt::format("no alert {}", id));
    return alert_from(rows[0]);
  }

  Alert acknowledge(const std::string& user, int64_t id, const std::string& ref) override {
    check_id("social-care reference", ref);
    return write([&] {
      auto rows = db_->query(std::string("SELECT ") + kAlertCols + " FROM alerts WHERE id = $1" +
                                 (pg_ ? " FOR UPDATE" : ""),
                             {id});
      if (rows.empty()) throw QueueError(Kind::not_found, fmt::format("no alert {}", id));
      Alert a = alert_from(rows[0]);
      if (a.acknowledged)
        throw QueueError(Kind::conflict,
                         fmt::format("alert {} was already acknowledged by {} (reference {})", id,
                                     a.acknowledged_by, a.reference));
      Alert before = a;
      a.acknowledged = true;
      a.acknowledged_at = now();
      a.acknowledged_by = user;
      a.reference = ref;
      db_->query(
          "UPDATE alerts SET acknowledged_at = $2, acknowledged_by = $3, reference = $4 WHERE id "
          "= $1",
          {id, a.acknowledged_at, user, ref});
      audit_add(user, "alert.ack", "alert", std::to_string(id), "",
                to_json(before, a.acknowledged_at), to_json(a, a.acknowledged_at));
      return a;
    });
  }

  // ---- audit ----
  std::vector<AuditRecord> audit(const std::string& entity, const std::string& entity_id,
                                 int64_t limit) override {
    seal_before_reading();
    std::string sql =
        "SELECT seq, at, user_name, action, entity, entity_id, reason, before_json, after_json, "
        "prev_hash, hash FROM audit";
    std::vector<Param> params;
    if (!entity.empty()) {
      params.push_back(entity);
      sql += " WHERE entity = $1";
      if (!entity_id.empty()) {
        params.push_back(entity_id);
        sql += " AND entity_id = $2";
      }
    }
    if (limit > 0) {
      // The most recent `limit` records, still returned oldest first.
      params.push_back(limit);
      sql = "SELECT * FROM (" + sql + " ORDER BY seq DESC LIMIT $" + std::to_string(params.size()) +
            ") AS recent";
    }
    sql += " ORDER BY seq";
    std::vector<AuditRecord> out;
    for (auto& r : db_->query(sql, params)) out.push_back(audit_from(r));
    return out;
  }

  AuditCheck verify_audit() override {
    seal_before_reading();
    AuditCheck c;
    auto rows = db_->query(
        "SELECT seq, at, user_name, action, entity, entity_id, reason, before_json, after_json, "
        "prev_hash, hash FROM audit ORDER BY seq");
    std::string prev;
    int64_t expect = 1;
    for (auto& row : rows) {
      AuditRecord r = audit_from(row);
      ++c.records;
      if (r.seq != expect) {
        c.problems.push_back(fmt::format("record {} follows record {}: {} missing or renumbered",
                                         r.seq, expect - 1,
                                         r.seq > expect ? "records are" : "a record is inserted,"));
        expect = r.seq;
      }
      if (r.prev_hash != prev)
        c.problems.push_back(fmt::format(
            "record {} does not chain to the record before it (a record was deleted or inserted)",
            r.seq));
      if (audit_hash(r) != r.hash)
        c.problems.push_back(fmt::format("record {} ({} {} {}) was edited: its hash does not match",
                                         r.seq, r.action, r.entity, r.entity_id));
      prev = r.hash;
      ++expect;
    }
    auto head = db_->query("SELECT seq, hash FROM audit_head WHERE id = 1");
    if (head.empty()) {
      c.problems.push_back("the audit head is missing");
    } else if (head[0].integer(0) != expect - 1 || head[0].text(1) != prev) {
      c.problems.push_back(fmt::format(
          "the chain ends at record {} but the head records {}: records were deleted or added at "
          "the end",
          expect - 1, head[0].integer(0)));
    }
    c.ok = c.problems.empty();
    return c;
  }

  // ---- tokens ----
  NewToken create_token(const std::string& user, Role role, const std::string& name) override {
    unsigned char buf[32];
    if (RAND_bytes(buf, sizeof buf) != 1)
      throw QueueError(Kind::storage, "cannot generate a random token");
    static const char* hex = "0123456789abcdef";
    std::string secret = "safehold_";
    for (unsigned char b : buf) {
      secret += hex[b >> 4];
      secret += hex[b & 15];
    }
    std::string label = name.empty() ? to_string(role) : name;
    check_id("token name", label);
    return write([&] {
      int64_t t = now();
      auto rows = db_->query(
          "INSERT INTO tokens (name, role, hash, created_at, created_by) VALUES ($1, $2, $3, $4, "
          "$5) RETURNING id",
          {label, to_string(role), sha256_hex(secret), t, user});
      NewToken nt;
      nt.secret = secret;
      nt.token.id = rows.at(0).integer(0);
      nt.token.name = label;
      nt.token.role = role;
      nt.token.created_at = t;
      nt.token.created_by = user;
      audit_add(user, "token.create", "token", std::to_string(nt.token.id), "", json(),
                {{"name", label}, {"role", to_string(role)}});
      return nt;
    });
  }

  Token revoke_token(const std::string& user, const std::string& id_or_name) override {
    return write([&] {
      std::vector<Row> rows;
      bool numeric =
          !id_or_name.empty() && std::all_of(id_or_name.begin(), id_or_name.end(),
                                             [](char c) { return c >= '0' && c <= '9'; });
      if (numeric)
        rows = db_->query(std::string("SELECT ") + kTokenCols + " FROM tokens WHERE id = $1",
                          {static_cast<int64_t>(std::stoll(id_or_name))});
      if (rows.empty())
        rows = db_->query(
            std::string("SELECT ") + kTokenCols + " FROM tokens WHERE name = $1 AND revoked_at = 0",
            {id_or_name});
      if (rows.empty()) throw QueueError(Kind::not_found, fmt::format("no token {}", id_or_name));
      if (rows.size() > 1)
        throw QueueError(Kind::invalid,
                         fmt::format("several tokens are named {}: revoke by id", id_or_name));
      Token tk = token_from(rows[0]);
      if (tk.revoked_at)
        throw QueueError(Kind::conflict, fmt::format("token {} is already revoked", tk.id));
      tk.revoked_at = now();
      db_->query("UPDATE tokens SET revoked_at = $2 WHERE id = $1", {tk.id, tk.revoked_at});
      audit_add(user, "token.revoke", "token", std::to_string(tk.id), "",
                {{"name", tk.name}, {"role", to_string(tk.role)}, {"revoked", false}},
                {{"name", tk.name}, {"role", to_string(tk.role)}, {"revoked", true}});
      return tk;
    });
  }

  std::vector<Token> list_tokens() override {
    std::vector<Token> out;
    for (auto& r : db_->query(std::string("SELECT ") + kTokenCols + " FROM tokens ORDER BY id"))
      out.push_back(token_from(r));
    return out;
  }

  std::optional<Token> verify_token(const std::string& secret) override {
    if (secret.empty()) return std::nullopt;
    auto rows = db_->query(
        std::string("SELECT ") + kTokenCols + " FROM tokens WHERE hash = $1 AND revoked_at = 0",
        {sha256_hex(secret)});
    if (rows.empty()) return std::nullopt;
    return token_from(rows[0]);
  }

  std::string data_version() override {
    auto r =
        db_->query(db_->postgres() ? "SELECT pg_current_snapshot()::text" : "PRAGMA data_version");
    return r.at(0).text(0);
  }

  // ---- metrics ----
  Metrics metrics() override {
    Metrics m;
    for (auto& r : db_->query(
             "SELECT tier, risk, COUNT(*) FROM devices WHERE state = 'queued' GROUP BY tier, risk"))
      m.queued_by_tier_risk[{static_cast<int>(r.integer(0)),
                             parse_or<Risk>(r.text(1), parse_risk, "risk band")}] = r.integer(2);
    for (auto& r : db_->query("SELECT state, COUNT(*) FROM devices GROUP BY state"))
      m.devices_by_state[parse_or<DeviceState>(r.text(0), parse_state, "state")] = r.integer(1);
    int64_t t = now();
    auto a = db_->query(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN due_at < $1 THEN 1 ELSE 0 END), 0) FROM alerts "
        "WHERE acknowledged_at = 0",
        {t});
    m.alerts_open = a.at(0).integer(0);
    m.alerts_overdue = a.at(0).integer(1);
    m.deadline_breaches =
        db_->query(
               "SELECT COUNT(*) FROM devices WHERE deadline_at < $1 AND state NOT IN ('done', "
               "'withdrawn', 'failed', 'review')",
               {t})
            .at(0)
            .integer(0);
    m.audit_records = db_->query("SELECT seq FROM audit_head WHERE id = 1").at(0).integer(0);
    return m;
  }

  // ---- CSV ----
  int64_t import_csv(const std::string& user, std::istream& in) override {
    bool ok = false;
    auto header = csv_row(in, ok);
    if (!ok) throw QueueError(Kind::invalid, "the CSV file is empty");
    std::map<std::string, size_t> col;
    for (size_t i = 0; i < header.size(); ++i) col[header[i]] = i;
    for (const char* need : {"exhibit", "case", "suspect", "class"})
      if (!col.count(need))
        throw QueueError(Kind::invalid, fmt::format("the CSV header has no '{}' column", need));
    std::vector<std::vector<std::string>> rows;
    for (;;) {
      auto r = csv_row(in, ok);
      if (!ok) break;
      if (r.size() == 1 && r[0].empty()) continue;
      rows.push_back(std::move(r));
    }
    // One transaction. Cases, suspects and existing exhibits are read once; devices go in
    // multi-row inserts of up to 500 (the audit records keep the per-row order of before).
    int64_t imported = write([&] {
      Policy p = policy();
      std::map<std::string, Case> cases;
      std::map<std::string, Suspect> suspects;
      std::set<std::string> exhibits;
      for (auto& r : db_->query(std::string("SELECT ") + kCaseCols + " FROM cases"))
        cases.emplace(r.text(0), case_from(r));
      for (auto& r : db_->query(std::string("SELECT ") + kSuspectCols + " FROM suspects"))
        suspects.emplace(r.text(0), suspect_from(r));
      for (auto& r : db_->query("SELECT exhibit FROM devices")) exhibits.insert(r.text(0));
      const int64_t t = now();
      std::vector<Param> batch;
      size_t batched = 0;
      auto flush_devices = [&] {
        if (!batched) return;
        std::string sql =
            "INSERT INTO devices (exhibit, case_ref, suspect_ref, class, capacity, seized, source, "
            "notes, state, ready, intake_at, deadline_at, tier, level, prio_key, risk, updated_at) "
            "VALUES ";
        for (size_t i = 0; i < batched; ++i) {
          sql += i ? ", (" : "(";
          for (size_t k = 1; k <= 17; ++k)
            sql += fmt::format("{}${}", k > 1 ? ", " : "", i * 17 + k);
          sql += ")";
        }
        db_->query(sql, batch);
        batch.clear();
        batched = 0;
      };
      int64_t n = 0, line = 1;
      for (auto& r : rows) {
        ++line;
        auto get = [&](const char* name) -> std::string {
          auto it = col.find(name);
          return it != col.end() && it->second < r.size() ? r[it->second] : std::string();
        };
        auto bad = [&](const std::string& what) {
          return QueueError(Kind::invalid, fmt::format("CSV line {}: {}", line, what));
        };
        try {
          std::string case_ref = get("case"), suspect_ref = get("suspect");
          check_id("case reference", case_ref);
          check_id("suspect reference", suspect_ref);
          if (!cases.count(case_ref)) {
            NewCase c;
            c.reference = case_ref;
            std::string risk = get("risk");
            if (!risk.empty()) {
              auto rk = parse_risk(risk);
              if (!rk) throw bad(fmt::format("unknown risk band '{}'", risk));
              c.risk = *rk;
            }
            c.offence = get("offence");
            c.officer = get("officer");
            cases.emplace(case_ref, add_case_tx(user, c));
          }
          if (!suspects.count(suspect_ref)) {
            NewSuspect ns;
            ns.reference = suspect_ref;
            ns.case_ref = case_ref;
            for (auto [name, field] : {std::pair{"lives_with_children", &ns.lives_with_children},
                                       std::pair{"access_to_children", &ns.access_to_children}}) {
              std::string v = get(name);
              if (v.empty()) continue;
              auto a = parse_answer(v);
              if (!a) throw bad(fmt::format("{} must be yes, no or unknown, not '{}'", name, v));
              *field = *a;
            }
            suspects.emplace(suspect_ref, add_suspect_tx(user, ns, p, /*reload=*/false));
          }
          const Suspect& s = suspects.at(suspect_ref);
          const Case& c = cases.at(s.case_ref);
          Device d;
          d.exhibit = get("exhibit");
          d.case_ref = s.case_ref;
          d.suspect_ref = s.reference;
          auto cls = parse_class(get("class"));
          if (!cls) throw bad(fmt::format("unknown device class '{}'", get("class")));
          d.device_class = *cls;
          std::string cap = get("capacity");
          if (!cap.empty()) d.capacity = std::stoull(cap);
          d.seized = get("seized");
          d.source = get("source");
          std::string intake = get("intake_at");
          check_id("exhibit reference", d.exhibit);
          check_date(d.seized);
          DeviceState state = DeviceState::queued;
          std::string st = get("state");
          if (!st.empty() && st != "queued") {
            auto ps = parse_state(st);
            if (!ps) throw bad(fmt::format("unknown state '{}'", st));
            state = *ps;
          }
          if (!exhibits.insert(d.exhibit).second)
            throw QueueError(Kind::conflict, fmt::format("device {} already exists", d.exhibit));
          d.state = DeviceState::queued;
          d.intake_at = intake.empty() ? t : parse_time(intake);
          d.deadline_at = deadline_for(c.risk, d.intake_at, p);
          Priority pr = compute_priority(s, c.risk, d.device_class, d.intake_at, t, p);
          d.tier = pr.tier;
          d.level = pr.level;
          d.priority_key = pr.key;
          for (Param v : {Param(d.exhibit), Param(d.case_ref), Param(d.suspect_ref),
                          Param(to_string(d.device_class)), Param(static_cast<int64_t>(d.capacity)),
                          Param(d.seized), Param(d.source), Param(d.notes), Param(to_string(state)),
                          Param(static_cast<int64_t>(ready(state) ? 1 : 0)), Param(d.intake_at),
                          Param(d.deadline_at), Param(static_cast<int64_t>(d.tier)),
                          Param(static_cast<int64_t>(d.level)), Param(d.priority_key),
                          Param(to_string(c.risk)), Param(t)})
            batch.push_back(std::move(v));
          ++batched;
          json after = device_json(d);
          after["intake_at"] = d.intake_at;
          after["deadline_at"] = d.deadline_at;
          after["priority"] = priority_json(d);
          audit_add(user, "device.add", "device", d.exhibit, "", {{"state", "intake"}}, after);
          if (state != DeviceState::queued) {
            Device to = d;
            to.state = state;
            audit_add(user, "device.state", "device", d.exhibit, "imported", device_json(d),
                      device_json(to));
          }
          if (batched == 500) flush_devices();
          ++n;
        } catch (const QueueError& e) {
          if (std::string(e.what()).rfind("CSV line", 0) == 0) throw;
          throw QueueError(e.kind, fmt::format("CSV line {}: {}", line, e.what()));
        } catch (const std::invalid_argument&) {
          throw bad("a number is not valid");
        } catch (const std::out_of_range&) {
          throw bad("a number is out of range");
        }
      }
      flush_devices();
      return n;
    });
    // Fresh statistics: without them PostgreSQL planned the claim on a just-imported table as a
    // sort of every device (4 claims per second at 100,000 devices).
    if (pg_ && imported > 0) db_->script("ANALYZE cases, suspects, devices");
    return imported;
  }

  void export_csv(std::ostream& out) override {
    for (size_t i = 0; i < kCsvColumns.size(); ++i) out << (i ? "," : "") << kCsvColumns[i];
    out << "\n";
    auto rows = db_->query(
        "SELECT d.exhibit, d.case_ref, d.suspect_ref, d.class, d.capacity, d.seized, d.source, "
        "d.state, d.intake_at, c.risk, c.offence, c.officer, s.lives_with_children, "
        "s.access_to_children FROM devices d JOIN cases c ON c.reference = d.case_ref JOIN "
        "suspects s ON s.reference = d.suspect_ref ORDER BY d.id");
    for (auto& r : rows) {
      for (size_t i = 0; i < r.cells.size(); ++i) {
        std::string v = i == 8 ? utc_iso8601(r.integer(8)) : r.text(i);
        out << (i ? "," : "") << csv_field(v);
      }
      out << "\n";
    }
  }

 private:
  // Runs f in one write transaction; audit records queued by f are chained at commit.
  template <typename F>
  auto write(F f) -> decltype(f()) {
    for (int attempt = 0;; ++attempt) {
      pending_.clear();
      db_->begin();
      try {
        auto result = f();
        // Without the test hook, the last audit statement carries the COMMIT (PostgreSQL: one
        // round trip less while the audit head is locked).
        bool stall = constructed_ && stall_requested();
        if (!flush_audit(/*commit=*/!stall)) {
          if (stall) stall_for_tests();
          db_->commit();
        }
        pending_.clear();
        return result;
      } catch (const detail::RetryTransaction&) {
        db_->rollback();
        pending_.clear();
        if (attempt >= 20)
          throw QueueError(Kind::storage, "the queue database stayed too busy to commit");
        std::this_thread::sleep_for(std::chrono::milliseconds(5 * (attempt + 1)));
      } catch (...) {
        db_->rollback();
        pending_.clear();
        throw;
      }
    }
  }

  // Test hook: SAFEHOLD_TEST_STALL_BEFORE_COMMIT=FILE makes a write create FILE and sleep before
  // COMMIT, so a test can kill -9 a writer in the middle of a transaction.
  static bool stall_requested() {
    const char* f = std::getenv("SAFEHOLD_TEST_STALL_BEFORE_COMMIT");
    return f && *f;
  }
  static void stall_for_tests() {
    const char* f = std::getenv("SAFEHOLD_TEST_STALL_BEFORE_COMMIT");
    if (!f || !*f) return;
    std::ofstream(f) << "in transaction\n";
    std::this_thread::sleep_for(std::chrono::seconds(120));
  }

  void audit_add(const std::string& user, const std::string& action, const std::string& entity,
                 const std::string& entity_id, const std::string& reason, const json& before,
                 const json& after) {
    AuditRecord r;
    r.at = now();
    r.user = user.empty() ? "unknown" : user;
    r.action = action;
    r.entity = entity;
    r.entity_id = entity_id;
    r.reason = reason;
    r.before = dump(before);
    r.after = dump(after);
    pending_.push_back(std::move(r));
  }

  // Takes the chain head last (row lock on PostgreSQL) so that writers serialise only here.
  // commit: end the transaction with the last statement. Returns true if it committed.
  bool flush_audit(bool commit) {
    if (pending_.empty()) return false;
    // PostgreSQL: the chain lock, and the records pending from the hot path chained first, so
    // that the chain keeps the order in which the changes committed.
    int64_t seq = 0;
    std::string prev;
    if (server_calls_) {
      std::tie(seq, prev) = *chain_pending(/*wait=*/true);
    } else {
      auto head = db_->query(pg_ ? "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"
                                 : "SELECT seq, hash FROM audit_head WHERE id = 1");
      seq = head.at(0).integer(0);
      prev = head.at(0).text(1);
    }
    // Multi-row inserts of up to 64 records: one round trip for a re-rank of a whole case. On
    // PostgreSQL the last insert also moves the head (one statement), so after the head's row is
    // locked above it is held for that statement and the COMMIT.
    bool head_moved = false;
    for (size_t from = 0; from < pending_.size(); from += 64) {
      size_t to = std::min(pending_.size(), from + 64);
      bool last = to == pending_.size();
      std::string sql =
          std::string(pg_ && last ? "WITH ins AS (" : "") +
          "INSERT INTO audit (seq, at, user_name, action, entity, entity_id, reason, before_json, "
          "after_json, prev_hash, hash) VALUES ";
      std::vector<Param> params;
      params.reserve((to - from) * 11);
      for (size_t i = from; i < to; ++i) {
        auto& r = pending_[i];
        r.seq = ++seq;
        r.prev_hash = prev;
        r.hash = audit_hash(r);
        prev = r.hash;
        size_t b = params.size();
        sql += i == from ? "(" : ", (";
        for (size_t k = 1; k <= 11; ++k) sql += (k > 1 ? ", $" : "$") + std::to_string(b + k);
        sql += ")";
        for (Param p : {Param(r.seq), Param(r.at), Param(r.user), Param(r.action), Param(r.entity),
                        Param(r.entity_id), Param(r.reason), Param(r.before), Param(r.after),
                        Param(r.prev_hash), Param(r.hash)})
          params.push_back(std::move(p));
      }
      if (pg_ && last) {
        params.push_back(seq);
        params.push_back(prev);
        sql += fmt::format(") UPDATE audit_head SET seq = ${}, hash = ${} WHERE id = 1",
                           params.size() - 1, params.size());
        head_moved = true;
      }
      if (head_moved && commit)
        db_->query_and_commit(sql, params);
      else
        db_->query(sql, params);
    }
    if (!head_moved) {
      std::string sql = "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1";
      if (commit)
        db_->query_and_commit(sql, {seq, prev});
      else
        db_->query(sql, {seq, prev});
    }
    return commit;
  }

  static AuditRecord audit_from(const Row& row) {
    AuditRecord r;
    r.seq = row.integer(0);
    r.at = row.integer(1);
    r.user = row.text(2);
    r.action = row.text(3);
    r.entity = row.text(4);
    r.entity_id = row.text(5);
    r.reason = row.text(6);
    r.before = row.text(7);
    r.after = row.text(8);
    r.prev_hash = row.text(9);
    r.hash = row.text(10);
    return r;
  }

  Case load_case(const std::string& ref, bool lock) {
    auto rows = db_->query(std::string("SELECT ") + kCaseCols + " FROM cases WHERE reference = $1" +
                               (lock && pg_ ? " FOR UPDATE" : ""),
                           {ref});
    if (rows.empty()) throw QueueError(Kind::not_found, fmt::format("no case {}", ref));
    return case_from(rows[0]);
  }

  Suspect load_suspect(const std::string& ref, bool lock) {
    auto rows =
        db_->query(std::string("SELECT ") + kSuspectCols + " FROM suspects WHERE reference = $1" +
                       (lock && pg_ ? " FOR UPDATE" : ""),
                   {ref});
    if (rows.empty()) throw QueueError(Kind::not_found, fmt::format("no suspect {}", ref));
    return suspect_from(rows[0]);
  }

  DeviceRow load_device(const std::string& exhibit, bool lock) {
    auto rows =
        db_->query(std::string("SELECT ") + kDeviceCols + " FROM devices WHERE exhibit = $1" +
                       (lock && pg_ ? " FOR UPDATE" : ""),
                   {exhibit});
    if (rows.empty()) throw QueueError(Kind::not_found, fmt::format("no device {}", exhibit));
    return device_from(rows[0]);
  }

  // The device, locked, checked to be leased by `station`.
  DeviceRow held(const std::string& exhibit, const std::string& station) {
    check_id("station", station);
    DeviceRow x = load_device(exhibit, true);
    bool leased = x.d.state == DeviceState::acquiring || x.d.state == DeviceState::carving;
    if (!leased || x.d.station != station)
      throw QueueError(
          Kind::conflict,
          fmt::format("device {} is not held by station {} (state {}{})", exhibit, station,
                      to_string(x.d.state), x.d.station.empty() ? "" : ", station " + x.d.station));
    if (x.d.lease_expires < now())
      throw QueueError(
          Kind::conflict,
          fmt::format("the lease of station {} on device {} has expired", station, exhibit));
    return x;
  }

  void save_state(const DeviceRow& x) {
    db_->query(
        "UPDATE devices SET state = $2, ready = $3, station = $4, lease_expires = $5, attempts = "
        "$6, last_error = $7, updated_at = $8 WHERE id = $1",
        {x.id, to_string(x.d.state), static_cast<int64_t>(ready(x.d.state) ? 1 : 0), x.d.station,
         x.d.lease_expires, static_cast<int64_t>(x.d.attempts), x.d.last_error, now()});
  }

  // A failed or expired job goes back for another attempt, or to `failed` after max_attempts.
  void requeue(DeviceRow& x, const Policy& p, const std::string& error) {
    bool acquiring = x.d.state == DeviceState::acquiring;
    x.d.last_error = error;
    x.d.lease_expires = 0;
    x.d.station.clear();
    if (x.d.attempts >= p.max_attempts)
      x.d.state = DeviceState::failed;
    else
      x.d.state = acquiring ? DeviceState::queued : DeviceState::acquired;
    save_state(x);
  }

  int64_t reap_tx(const std::string& user, const Policy& p) {
    int64_t t = now();
    auto rows = db_->query(std::string("SELECT ") + kDeviceCols + " FROM devices WHERE " +
                               kLeaseExpired + (pg_ ? " FOR UPDATE SKIP LOCKED" : ""),
                           {t});
    for (auto& r : rows) {
      DeviceRow x = device_from(r);
      Device before = x.d;
      requeue(x, p, fmt::format("lease of station {} expired", before.station));
      audit_add(user, "device.lease-expired", "device", x.d.exhibit, "lease expired",
                device_json(before), device_json(x.d));
    }
    return static_cast<int64_t>(rows.size());
  }

  Alert raise_alert(const std::string& user, const Suspect& s, const Policy& p) {
    std::string reason;
    if (s.lives_with_children == Answer::yes) reason = "lives with children";
    if (s.access_to_children == Answer::yes)
      reason += (reason.empty() ? "" : "; ") + std::string("access to children");
    Alert a;
    a.case_ref = s.case_ref;
    a.suspect_ref = s.reference;
    a.reason = reason;
    a.raised_at = now();
    a.raised_by = user;
    a.due_at = a.raised_at + p.alert_hours * 3600;
    auto rows = db_->query(
        "INSERT INTO alerts (case_ref, suspect_ref, reason, raised_at, raised_by, due_at) VALUES "
        "($1, $2, $3, $4, $5, $6) RETURNING id",
        {a.case_ref, a.suspect_ref, a.reason, a.raised_at, a.raised_by, a.due_at});
    a.id = rows.at(0).integer(0);
    audit_add(user, "alert.raise", "alert", std::to_string(a.id),
              "safeguarding: referral to children's social care due", json(),
              to_json(a, a.raised_at));
    return a;
  }

  // Recomputes the stored priority of the devices of a case, of a suspect, or of all.
  int64_t rerank(const std::string& case_ref, const std::string& suspect_ref,
                 const std::string& user, const std::string& reason, const Policy& p, bool all) {
    std::string sql = std::string("SELECT ") + kDeviceCols + " FROM devices";
    std::vector<Param> params;
    if (!all) {
      // A suspect's devices all belong to its case: devices_case finds them on either database.
      sql += " WHERE case_ref = $1";
      params.push_back(case_ref);
      if (!suspect_ref.empty()) {
        sql += " AND suspect_ref = $2";
        params.push_back(suspect_ref);
      }
    }
    sql += " ORDER BY id";
    if (pg_) sql += " FOR UPDATE";
    auto rows = db_->query(sql, params);
    std::map<std::string, Suspect> suspects;
    std::map<std::string, Case> cases;
    int64_t t = now(), n = 0;
    for (auto& r : rows) {
      DeviceRow x = device_from(r);
      auto si = suspects.find(x.d.suspect_ref);
      if (si == suspects.end())
        si = suspects.emplace(x.d.suspect_ref, load_suspect(x.d.suspect_ref, false)).first;
      auto ci = cases.find(x.d.case_ref);
      if (ci == cases.end()) ci = cases.emplace(x.d.case_ref, load_case(x.d.case_ref, false)).first;
      Priority pr =
          compute_priority(si->second, ci->second.risk, x.d.device_class, x.d.intake_at, t, p);
      int64_t deadline = deadline_for(ci->second.risk, x.d.intake_at, p);
      if (pr.tier == x.d.tier && pr.level == x.d.level && pr.key == x.d.priority_key &&
          ci->second.risk == x.risk && deadline == x.d.deadline_at)
        continue;
      json before = priority_json(x.d);
      before["risk"] = to_string(x.risk);
      before["deadline_at"] = x.d.deadline_at;
      db_->query(
          "UPDATE devices SET tier = $2, level = $3, prio_key = $4, risk = $5, deadline_at = $6, "
          "updated_at = $7 WHERE id = $1",
          {x.id, static_cast<int64_t>(pr.tier), static_cast<int64_t>(pr.level), pr.key,
           to_string(ci->second.risk), deadline, t});
      json after = {{"tier", pr.tier},
                    {"level", pr.level},
                    {"key", pr.key},
                    {"risk", to_string(ci->second.risk)},
                    {"deadline_at", deadline}};
      audit_add(user, "device.priority", "device", x.d.exhibit, reason, before, after);
      ++n;
    }
    return n;
  }

  Case add_case_tx(const std::string& user, const NewCase& c) {
    int64_t t = now();
    db_->query(
        "INSERT INTO cases (reference, risk, offence, officer, notes, created_at) VALUES "
        "($1, $2, $3, $4, $5, $6)",
        {c.reference, to_string(c.risk), c.offence, c.officer, c.notes, t});
    Case out{c.reference, c.risk, c.offence, c.officer, c.notes, t};
    audit_add(user, "case.add", "case", c.reference, "", json(), to_json(out));
    return out;
  }

  // reload: read the row back (defaults filled by the database) instead of building it here.
  // The alert raised for a suspect at risk goes into `res` when given.
  Suspect add_suspect_tx(const std::string& user, const NewSuspect& s, const Policy& p, bool reload,
                         ChangeResult* res = nullptr) {
    int64_t t = now();
    db_->query(
        "INSERT INTO suspects (reference, case_ref, lives_with_children, access_to_children, "
        "children_count, age_bands, access_notes, created_at) VALUES ($1, $2, $3, $4, $5, $6, "
        "$7, $8)",
        {s.reference, s.case_ref, to_string(s.lives_with_children), to_string(s.access_to_children),
         static_cast<int64_t>(s.children_count), s.age_bands, s.access_notes, t});
    Suspect out;
    if (reload) {
      out = load_suspect(s.reference, false);
    } else {
      out.reference = s.reference;
      out.case_ref = s.case_ref;
      out.lives_with_children = s.lives_with_children;
      out.access_to_children = s.access_to_children;
      out.children_count = s.children_count;
      out.age_bands = s.age_bands;
      out.access_notes = s.access_notes;
      out.created_at = t;
    }
    audit_add(user, "suspect.add", "suspect", s.reference, "", json(), to_json(out));
    if (out.at_risk()) {
      Alert a = raise_alert(user, out, p);
      if (res) res->alerts_raised.push_back(a);
    }
    return out;
  }

  Device add_device_tx(const std::string& user, const NewDevice& nd) {
    Suspect s = load_suspect(nd.suspect_ref, false);
    Case c = load_case(s.case_ref, false);
    if (!db_->query("SELECT 1 FROM devices WHERE exhibit = $1", {nd.exhibit}).empty())
      throw QueueError(Kind::conflict, fmt::format("device {} already exists", nd.exhibit));
    Policy p = policy();
    int64_t t = now();
    Device d;
    d.exhibit = nd.exhibit;
    d.case_ref = s.case_ref;
    d.suspect_ref = s.reference;
    d.device_class = nd.device_class;
    d.capacity = nd.capacity;
    d.seized = nd.seized;
    d.source = nd.source;
    d.notes = nd.notes;
    d.state = DeviceState::queued;
    d.intake_at = nd.intake_at.value_or(t);
    d.deadline_at = deadline_for(c.risk, d.intake_at, p);
    Priority pr = compute_priority(s, c.risk, d.device_class, d.intake_at, t, p);
    d.tier = pr.tier;
    d.level = pr.level;
    d.priority_key = pr.key;
    db_->query(
        "INSERT INTO devices (exhibit, case_ref, suspect_ref, class, capacity, seized, source, "
        "notes, state, ready, intake_at, deadline_at, tier, level, prio_key, risk, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11, $12, $13, $14, $15, $16)",
        {d.exhibit, d.case_ref, d.suspect_ref, to_string(d.device_class),
         static_cast<int64_t>(d.capacity), d.seized, d.source, d.notes, to_string(d.state),
         d.intake_at, d.deadline_at, static_cast<int64_t>(d.tier), static_cast<int64_t>(d.level),
         d.priority_key, to_string(c.risk), t});
    json after = device_json(d);
    after["intake_at"] = d.intake_at;
    after["deadline_at"] = d.deadline_at;
    after["priority"] = priority_json(d);
    audit_add(user, "device.add", "device", d.exhibit, "", {{"state", "intake"}}, after);
    return d;
  }

  QueueEntry entry(const DeviceRow& x, int64_t rank, int64_t t) {
    QueueEntry e;
    e.rank = rank;
    e.device = x.d;
    e.risk = x.risk;
    e.waiting_days = static_cast<double>(std::max<int64_t>(0, t - x.d.intake_at)) / 86400.0;
    e.overdue = active(x.d.state) && x.d.deadline_at < t;
    return e;
  }

  // ---- audit sealing (PostgreSQL hot path) ----
  // A hot-path statement wrote an audit record to audit_pending_device: chain it, and every other
  // committed pending record, unless this store sealed less than seal_interval_ ago. It does not
  // wait for a seal another session is running; the next seal, this store's closing seal, or
  // any reader of the chain takes the record.
  void wrote_pending() {
    unsealed_ = true;
    auto tick = std::chrono::steady_clock::now();
    if (tick - sealed_at_ >= seal_interval_) try_seal();
  }

  // A seal that never fails the operation it follows (the change has committed; a record left
  // pending is chained by the next seal, by anyone).
  void try_seal() noexcept {
    try {
      seal(false);
    } catch (...) {
    }
  }

  // Chains the committed pending records (chain_pending), in a transaction of its own. wait:
  // wait for the chain lock instead of giving up when another session holds it. Returns true
  // when it sealed.
  bool seal(bool wait) {
    sealed_at_ = std::chrono::steady_clock::now();
    try {
      if (!write([&] { return chain_pending(wait).has_value(); })) return false;
    } catch (const detail::RetryTransaction&) {
      return false;
    }
    unsealed_ = false;
    return true;
  }

  // In the current transaction: takes the chain lock (an advisory lock, then the head row, held
  // until the transaction ends), chains every committed pending record (audit_pending_device,
  // and the previous release's audit_pending), in (xid, id) order, and moves the head. Returns
  // the head, or nullopt when !wait and another session holds the lock. The records are read and
  // hashed here, their JSON built by device_json() like every client-side record's; one
  // statement then deletes them by row address (ctid: a TID scan whatever the tables' statistics
  // say; the rows cannot move while this transaction reads the tables), inserts them into
  // `audit` and moves the head.
  std::optional<std::pair<int64_t, std::string>> chain_pending(bool wait) {
    // enable_seqscan off, for this transaction: the pending tables hold the rows deleted since
    // the last vacuum, and a plan made while they were empty would read them all at every seal;
    // the reads below are index range scans in (xid, id) order, the delete a TID scan.
    if (wait) {
      db_->query(
          "SELECT set_config('enable_seqscan', 'off', true), "
          "pg_advisory_xact_lock(7731002)::text");
    } else if (db_->query("SELECT set_config('enable_seqscan', 'off', true), CASE WHEN "
                          "pg_try_advisory_xact_lock(7731002) THEN 1 ELSE 0 END")
                   .at(0)
                   .integer(1) == 0) {
      return std::nullopt;
    }
    // The low marks: the oldest transaction that may still add pending records, as the xmin of
    // this statement's snapshot; the SELECTs below run on later snapshots, so every transaction
    // older than it has ended and, if it committed, is visible there.
    auto head = db_->query(
        "SELECT seq, hash, coalesce(low_xid_device, '0'::xid8)::text, coalesce(low_xid, "
        "'0'::xid8)::text, pg_snapshot_xmin(pg_current_snapshot())::text FROM audit_head WHERE "
        "id = 1 FOR UPDATE");
    int64_t seq = head.at(0).integer(0);
    std::string prev = head.at(0).text(1);
    const std::string &low = head.at(0).text(2), &legacy_low = head.at(0).text(3),
                      &new_low = head.at(0).text(4);
    struct Pending {
      uint64_t xid = 0;
      int64_t id = 0;
      bool legacy = false;
      std::string tid;
      AuditRecord r;
    };
    std::vector<Pending> recs;
    for (auto& row :
         db_->query(std::string("SELECT ctid::text, xid::text, id, ") + kPendingDeviceCols +
                        " FROM audit_pending_device WHERE xid >= $1::xid8 ORDER BY xid, id",
                    {low})) {
      Pending p{std::stoull(row.text(1)), row.integer(2), false, row.text(0), {}};
      AuditRecord& r = p.r;
      r.at = row.integer(3);
      r.user = row.text(4);
      r.action = row.text(5);
      r.reason = row.text(6);
      r.entity = "device";
      Device d;
      d.exhibit = row.text(7);
      d.case_ref = row.text(8);
      d.suspect_ref = row.text(9);
      d.device_class = parse_or<DeviceClass>(row.text(10), parse_class, "device class");
      d.source = row.text(11);
      r.entity_id = d.exhibit;
      Device before = d, after = d;
      before.state = parse_or<DeviceState>(row.text(12), parse_state, "device state");
      before.station = row.text(13);
      before.attempts = static_cast<int>(row.integer(14));
      before.image = row.text(15);
      after.state = parse_or<DeviceState>(row.text(16), parse_state, "device state");
      after.station = row.text(17);
      after.attempts = static_cast<int>(row.integer(18));
      after.image = row.text(19);
      after.lease_expires = row.integer(20);
      r.before = dump(device_json(before));
      r.after = dump(row.null(20) ? device_json(after) : claim_json(after));  // a_lease: a claim
      recs.push_back(std::move(p));
    }
    for (auto& row : db_->query(
             "SELECT ctid::text, xid::text, id, at, user_name, action, entity, entity_id, reason, "
             "before_json, after_json FROM audit_pending WHERE xid >= $1::xid8 ORDER BY xid, id",
             {legacy_low})) {
      Pending p{std::stoull(row.text(1)), row.integer(2), true, row.text(0), {}};
      p.r.at = row.integer(3);
      p.r.user = row.text(4);
      p.r.action = row.text(5);
      p.r.entity = row.text(6);
      p.r.entity_id = row.text(7);
      p.r.reason = row.text(8);
      p.r.before = row.text(9);
      p.r.after = row.text(10);
      recs.push_back(std::move(p));
    }
    if (recs.empty() && low == new_low && legacy_low == new_low) return std::make_pair(seq, prev);
    std::sort(recs.begin(), recs.end(), [](const Pending& a, const Pending& b) {
      return std::tie(a.xid, a.legacy, a.id) < std::tie(b.xid, b.legacy, b.id);
    });
    // PostgreSQL array literals of the records' fields (elements quoted and escaped).
    std::vector<std::string> arrays(13, "{");
    auto add = [&](size_t k, const std::string& v, bool quote) {
      if (arrays[k].size() > 1) arrays[k] += ',';
      if (!quote) {
        arrays[k] += v;
        return;
      }
      arrays[k] += '"';
      for (char ch : v) {
        if (ch == '"' || ch == '\\') arrays[k] += '\\';
        arrays[k] += ch;
      }
      arrays[k] += '"';
    };
    for (auto& p : recs) {
      AuditRecord& r = p.r;
      r.seq = ++seq;
      r.prev_hash = std::move(prev);
      r.hash = audit_hash(r);
      prev = r.hash;
      add(p.legacy ? 1 : 0, p.tid, true);
      add(2, std::to_string(r.seq), false);
      add(3, std::to_string(r.at), false);
      add(4, r.user, true);
      add(5, r.action, true);
      add(6, r.entity, true);
      add(7, r.entity_id, true);
      add(8, r.reason, true);
      add(9, r.before, true);
      add(10, r.after, true);
      add(11, r.prev_hash, true);
      add(12, r.hash, false);
    }
    std::vector<Param> params;
    for (auto& a : arrays) params.push_back(a + "}");
    params.push_back(seq);
    params.push_back(prev);
    params.push_back(new_low);
    db_->query(
        "WITH d AS (DELETE FROM audit_pending_device WHERE ctid = ANY ($1::tid[])), l AS (DELETE "
        "FROM audit_pending WHERE ctid = ANY ($2::tid[])), i AS (INSERT INTO audit (seq, at, "
        "user_name, action, entity, entity_id, reason, before_json, after_json, prev_hash, hash) "
        "SELECT * FROM unnest($3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[], "
        "$8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[])) UPDATE "
        "audit_head SET seq = $14, hash = $15, low_xid_device = $16::xid8, low_xid = $16::xid8 "
        "WHERE id = 1",
        params);
    return std::make_pair(seq, prev);
  }

  // Before reading the chain: seal what is pending, if this user may (best effort: a read-only
  // user still reads the records chained so far).
  void seal_before_reading() {
    if (!server_calls_) return;
    try {
      seal(true);
    } catch (const QueueError&) {
    }
  }

  static std::chrono::milliseconds seal_interval_from_env() {
    const char* v = std::getenv("SAFEHOLD_TEST_AUDIT_SEAL_MS");  // test hook: delay hot-path seals
    if (v && *v) return std::chrono::milliseconds(std::atoll(v));
    return std::chrono::milliseconds(100);
  }

  std::unique_ptr<Db> db_;
  bool pg_ = false;
  bool server_calls_ = false;  // PostgreSQL with the one-statement claim/complete (UTF8 only)
  std::vector<AuditRecord> pending_;
  bool constructed_ = false;
  bool unsealed_ = false;  // this store wrote to audit_pending_device since it last sealed
  // Set when the store opens: the first hot-path seal comes seal_interval_ after it.
  std::chrono::steady_clock::time_point sealed_at_ = std::chrono::steady_clock::now();
  int64_t lease_checked_at_ = INT64_MIN;  // the clock second of the last look for expired leases
  std::chrono::milliseconds seal_interval_ = seal_interval_from_env();
};

}  // namespace

std::unique_ptr<Store> Store::open(const std::string& url) {
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0)
    return std::make_unique<SqlStore>(detail::open_postgres(url));
  std::string path = url.rfind("sqlite:", 0) == 0 ? url.substr(7) : url;
  if (path.empty()) throw QueueError(Kind::invalid, "the queue database path is empty");
  return std::make_unique<SqlStore>(detail::open_sqlite(path));
}

}  // namespace safehold::scheduler
