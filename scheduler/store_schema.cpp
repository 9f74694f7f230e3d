// The queue's schema and its migrations, and opening a store over a Db (SQLite or PostgreSQL).
#include <fmt/core.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "scheduler/sql_store.hpp"

namespace safehold::scheduler::detail {
namespace {

// The claim order of each job kind, and the rank count of `explain`, read these partial indexes:
// an index scan in priority order that never passes over devices of another state.
const char* kQueueIndexes =
    "CREATE INDEX IF NOT EXISTS devices_queued ON devices(tier, prio_key, id) WHERE state = "
    "'queued';\n"
    "CREATE INDEX IF NOT EXISTS devices_acquired ON devices(tier, prio_key, id) WHERE state = "
    "'acquired';";

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

// Stations' runs of failed jobs (policy station_failure_limit); added with devices.not_before.
const char* kStations =
    "CREATE TABLE IF NOT EXISTS stations (name TEXT PRIMARY KEY, failures BIGINT NOT NULL "
    "DEFAULT 0, stopped_at BIGINT NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '');";
// The findings tables (docs/scheduler.md "Findings"): lab hash sets, each device's findings, the
// queue-wide media index (exact hashes and PDQ), links between cases and what findings changed.
std::string findings_schema(bool pg) {
  std::string autoid =
      pg ? "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY" : "INTEGER PRIMARY KEY";
  return fmt::format(R"SQL(
CREATE TABLE IF NOT EXISTS hashsets (
  name TEXT PRIMARY KEY, path TEXT NOT NULL, category TEXT NOT NULL, set_name TEXT NOT NULL UNIQUE,
  added_at BIGINT NOT NULL, added_by TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS findings (
  exhibit TEXT PRIMARY KEY, case_ref TEXT NOT NULL, at BIGINT NOT NULL, summary TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS media (
  id {0}, exhibit TEXT NOT NULL, case_ref TEXT NOT NULL, artefact TEXT NOT NULL,
  type TEXT NOT NULL, md5 TEXT NOT NULL, sha1 TEXT NOT NULL, sha256 TEXT NOT NULL,
  pdq TEXT NOT NULL DEFAULT '', quality BIGINT NOT NULL DEFAULT -1,
  known_category TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS media_exhibit ON media(exhibit);
CREATE INDEX IF NOT EXISTS media_sha256 ON media(sha256);
CREATE INDEX IF NOT EXISTS media_sha1 ON media(sha1);
CREATE INDEX IF NOT EXISTS media_md5 ON media(md5);
CREATE TABLE IF NOT EXISTS links (
  id {0}, exhibit TEXT NOT NULL, case_ref TEXT NOT NULL, other_exhibit TEXT NOT NULL,
  other_case_ref TEXT NOT NULL, exact BIGINT NOT NULL, near BIGINT NOT NULL,
  min_distance BIGINT NOT NULL, at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
  id {0}, event TEXT NOT NULL, payload TEXT NOT NULL, created_at BIGINT NOT NULL,
  next_at BIGINT NOT NULL, attempts BIGINT NOT NULL DEFAULT 0,
  delivered_at BIGINT NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(next_at) WHERE delivered_at = 0;
CREATE TABLE IF NOT EXISTS finding_effects (
  id {0}, case_ref TEXT NOT NULL, exhibit TEXT NOT NULL, at BIGINT NOT NULL, effect TEXT NOT NULL);
ALTER TABLE alerts ADD COLUMN {1} kind TEXT NOT NULL DEFAULT 'household';
ALTER TABLE alerts ADD COLUMN {1} exhibit TEXT NOT NULL DEFAULT '';
)SQL",
                     autoid, pg ? "IF NOT EXISTS" : "");
}

// The grading tables (docs/grading.md), and the media and findings columns they read: one item per
// distinct SHA-256 of a case, votes (batch: one grader's one action), reviews of disagreements,
// each case's times to submission and graders' settings.
const char* kGradingProbe = "grading_items";

// Every video's frame hashes (vPDQ's), for links between cases by vPDQ's rule (docs/scheduler.md).
std::string frames_schema(bool pg) {
  std::string autoid =
      pg ? "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY" : "INTEGER PRIMARY KEY";
  return fmt::format(R"SQL(
CREATE TABLE IF NOT EXISTS media_frames (
  id {0}, exhibit TEXT NOT NULL, case_ref TEXT NOT NULL, artefact TEXT NOT NULL,
  sha256 TEXT NOT NULL, known_category TEXT NOT NULL DEFAULT '', pdq TEXT NOT NULL,
  quality BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS media_frames_exhibit ON media_frames(exhibit);
)SQL",
                     autoid);
}
std::string grading_schema(bool pg) {
  std::string autoid =
      pg ? "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY" : "INTEGER PRIMARY KEY";
  return fmt::format(R"SQL(
ALTER TABLE media ADD COLUMN {1} camera BIGINT NOT NULL DEFAULT 0;
ALTER TABLE media ADD COLUMN {1} known_set TEXT NOT NULL DEFAULT '';
ALTER TABLE media ADD COLUMN {1} known_grade TEXT NOT NULL DEFAULT '';
ALTER TABLE findings ADD COLUMN {1} carve_dir TEXT NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS media_case ON media(case_ref);
CREATE TABLE IF NOT EXISTS grading_items (
  id {0}, case_ref TEXT NOT NULL, sha256 TEXT NOT NULL, md5 TEXT NOT NULL, sha1 TEXT NOT NULL,
  type TEXT NOT NULL, pdq TEXT NOT NULL, quality BIGINT NOT NULL, copies BIGINT NOT NULL,
  exhibits TEXT NOT NULL, artefact TEXT NOT NULL, camera BIGINT NOT NULL,
  known_set TEXT NOT NULL DEFAULT '', cluster BIGINT NOT NULL, position BIGINT NOT NULL,
  split BIGINT NOT NULL DEFAULT 0, state TEXT NOT NULL DEFAULT 'open',
  category TEXT NOT NULL DEFAULT '', source TEXT NOT NULL DEFAULT '',
  UNIQUE (case_ref, sha256));
CREATE INDEX IF NOT EXISTS grading_items_order ON grading_items(case_ref, position, cluster, id);
CREATE TABLE IF NOT EXISTS grading_votes (
  id {0}, case_ref TEXT NOT NULL, item BIGINT NOT NULL, grader TEXT NOT NULL,
  category TEXT NOT NULL, at BIGINT NOT NULL, batch BIGINT NOT NULL, UNIQUE (item, grader));
CREATE INDEX IF NOT EXISTS grading_votes_grader ON grading_votes(grader, at);
CREATE INDEX IF NOT EXISTS grading_votes_batch ON grading_votes(grader, batch);
CREATE TABLE IF NOT EXISTS grading_reviews (
  item BIGINT PRIMARY KEY, case_ref TEXT NOT NULL, opened_at BIGINT NOT NULL,
  decided_at BIGINT NOT NULL DEFAULT 0, decided_by TEXT NOT NULL DEFAULT '',
  category TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS grading_cases (
  case_ref TEXT PRIMARY KEY, built_at BIGINT NOT NULL, carve_done_at BIGINT NOT NULL DEFAULT 0,
  complete_at BIGINT NOT NULL DEFAULT 0, exported_at BIGINT NOT NULL DEFAULT 0,
  exported_by TEXT NOT NULL DEFAULT '', exports BIGINT NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS grader_settings (
  grader TEXT PRIMARY KEY, blur BIGINT NOT NULL, break_after BIGINT NOT NULL);
)SQL",
                     autoid, pg ? "IF NOT EXISTS" : "");
}

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
  updated_at BIGINT NOT NULL, image TEXT NOT NULL DEFAULT '',
  not_before BIGINT NOT NULL DEFAULT 0, examiner TEXT NOT NULL DEFAULT '');
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
{3}
CREATE TABLE IF NOT EXISTS tokens (
  id {0}, name TEXT NOT NULL, role TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL, created_by TEXT NOT NULL, revoked_at BIGINT NOT NULL DEFAULT 0);
)SQL",
                     autoid, device_indexes(pg), kQueueIndexes, kStations);
}

}  // namespace

SqlStore::SqlStore(std::unique_ptr<Db> db) : db_(std::move(db)) {
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

bool SqlStore::write_locked() {
  if (pg_) {
    db_->query("SELECT 1");  // row locks do not stop other writers: only reachability counts
    return false;
  }
  // BEGIN IMMEDIATE waits at most 200 ms: a normal write holds the lock for milliseconds.
  int wait = db_->busy_timeout();
  db_->set_busy_timeout(std::min(wait, 200));
  bool locked = false;
  try {
    db_->begin();
    db_->rollback();
  } catch (const QueueError& e) {
    db_->set_busy_timeout(wait);
    if (e.retry_after == 0) throw;
    locked = true;
  }
  db_->set_busy_timeout(wait);
  return locked;
}

SqlStore::~SqlStore() {
  // The records this store wrote on the hot path are chained before it closes.
  if (!unsealed_) return;
  try {
    seal(true);
  } catch (...) {
  }
}

// SQLite: whether TABLE has COLUMN (read inside a migration's write transaction, so that a
// migration another process finished while this one waited for the lock is not redone).
bool SqlStore::sqlite_has_column(const std::string& table, const std::string& column) {
  return !db_->query("SELECT 1 FROM pragma_table_info('" + table + "') WHERE name = '" + column +
                     "'")
              .empty();
}

// Columns and indexes added after the first release of the schema. Each is checked without a
// lock, then made under the write lock after checking again: two processes opening an old
// database at once both find a column missing, and only the first adds it.
void SqlStore::migrate() {
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
    db_->query("SELECT not_before FROM devices LIMIT 0");
  } catch (const QueueError&) {
    db_->rollback();
    write([&] {
      if (pg_) db_->query("SELECT pg_advisory_xact_lock(7731001)");
      // SQLite: another process may have migrated while this one waited for the write lock.
      if (pg_ || !sqlite_has_column("devices", "not_before"))
        db_->script(std::string(pg_ ? "ALTER TABLE devices ADD COLUMN IF NOT EXISTS"
                                    : "ALTER TABLE devices ADD COLUMN") +
                    " not_before BIGINT NOT NULL DEFAULT 0;\n" +
                    (pg_ ? "ALTER TABLE devices ADD COLUMN IF NOT EXISTS"
                         : "ALTER TABLE devices ADD COLUMN") +
                    " examiner TEXT NOT NULL DEFAULT '';\n" + kStations);
      return 0;
    });
  }
  try {
    db_->query("SELECT kind FROM alerts LIMIT 0");
  } catch (const QueueError&) {
    db_->rollback();
    write([&] {
      if (pg_) db_->query("SELECT pg_advisory_xact_lock(7731001)");
      // SQLite: another process may have migrated while this one waited for the write lock.
      if (pg_ || !sqlite_has_column("alerts", "kind")) db_->script(findings_schema(pg_));
      return 0;
    });
  }
  if (!grading_ready()) {
    write([&] {
      if (pg_) db_->query("SELECT pg_advisory_xact_lock(7731001)");
      // SQLite: another process may have migrated while this one waited for the write lock.
      if (!grading_ready()) db_->script(grading_schema(pg_));
      return 0;
    });
  }
  try {
    db_->query("SELECT pdq FROM media_frames LIMIT 0");
  } catch (const QueueError&) {
    db_->rollback();
    write([&] {
      if (pg_) db_->query("SELECT pg_advisory_xact_lock(7731001)");
      db_->script(frames_schema(pg_));
      return 0;
    });
  }
  try {
    db_->query("SELECT image FROM devices LIMIT 0");
  } catch (const QueueError&) {
    db_->rollback();
    write([&] {
      if (pg_) db_->query("SELECT pg_advisory_xact_lock(7731001)");
      if (pg_ || !sqlite_has_column("devices", "image"))
        db_->script(std::string(pg_ ? "ALTER TABLE devices ADD COLUMN IF NOT EXISTS"
                                    : "ALTER TABLE devices ADD COLUMN") +
                    " image TEXT NOT NULL DEFAULT ''");
      return 0;
    });
  }
}

bool SqlStore::grading_ready() {
  if (pg_)
    return !db_->query(std::string("SELECT to_regclass('") + kGradingProbe + "')").at(0).null(0);
  return !db_->query(std::string("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '") +
                     kGradingProbe + "'")
              .empty();
}

// True when the last table of the schema exists (so opening takes no write lock).
bool SqlStore::schema_ready() {
  if (pg_) return !db_->query("SELECT to_regclass('tokens')").at(0).null(0);
  return !db_->query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tokens'")
              .empty();
}

}  // namespace safehold::scheduler::detail

namespace safehold::scheduler {

std::unique_ptr<Store> Store::open(const std::string& url) {
  return open(url, OpenOptions{});
}

std::unique_ptr<Store> Store::open(const std::string& url, const OpenOptions& options) {
  AnchorOptions anchor;
  const char* env = std::getenv("SAFEHOLD_AUDIT_ANCHOR");
  std::unique_ptr<Store> store;
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
    store = std::make_unique<detail::SqlStore>(detail::open_postgres(url, options.busy_timeout_ms));
  } else {
    std::string path = url.rfind("sqlite:", 0) == 0 ? url.substr(7) : url;
    if (path.empty())
      throw QueueError(QueueError::Kind::invalid, "the queue database path is empty");
    std::error_code ec;
    if (!options.create && !std::filesystem::exists(path, ec))
      throw QueueError(QueueError::Kind::not_found,
                       "queue database " + path +
                           " does not exist (create it with `safehold queue init --db " + path +
                           "`)");
    store = std::make_unique<detail::SqlStore>(detail::open_sqlite(path, options.busy_timeout_ms));
    anchor.file = path + ".anchors";
  }
  if (env && *env) anchor.file = std::string(env) == "none" ? "" : env;
  if (const char* n = std::getenv("SAFEHOLD_AUDIT_ANCHOR_NOTIFY"); n && *n) {
    const std::string v = n;
    if (v != "yes" && v != "no")
      throw QueueError(
          QueueError::Kind::invalid,
          "SAFEHOLD_AUDIT_ANCHOR_NOTIFY (audit_anchor_notify) must be yes or no, not '" + v + "'");
    anchor.outbox = v == "yes";
  }
  store->set_anchor(std::move(anchor));
  return store;
}

}  // namespace safehold::scheduler
