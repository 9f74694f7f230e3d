// The audit chain: records queued by a write, chained at its commit, sealed from the PostgreSQL
// hot path, read and verified.
#include <fmt/core.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <tuple>

#include "base/json.hpp"
#include "scheduler/anchor.hpp"
#include "scheduler/sql_store.hpp"

namespace safehold::scheduler::detail {

// ---- audit ----
std::vector<AuditRecord> SqlStore::audit(const std::string& entity, const std::string& entity_id,
                                         int64_t limit) {
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

AuditCheck SqlStore::verify_audit() {
  seal_before_reading();
  AuditCheck c;
  // The anchors first: each is written after its record committed, so every anchor read here
  // names a record that the snapshot below holds (a record anchored later is not judged).
  std::vector<AuditAnchor> anchors;
  c.anchor_file = anchor_.file;
  if (!anchor_.file.empty()) anchors = read_anchors(anchor_.file, c.problems);
  c.anchors = static_cast<int64_t>(anchors.size());
  std::set<int64_t> anchored;
  for (auto& a : anchors) anchored.insert(a.seq);
  // The records and the head in one snapshot: a writer committing between two statements made
  // the chain look cut at its end.
  std::vector<Row> rows, head;
  db_->begin_read();
  try {
    rows = db_->query(
        "SELECT seq, at, user_name, action, entity, entity_id, reason, before_json, after_json, "
        "prev_hash, hash FROM audit ORDER BY seq");
    head = db_->query("SELECT seq, hash FROM audit_head WHERE id = 1");
  } catch (...) {
    db_->rollback();
    throw;
  }
  db_->rollback();
  std::map<int64_t, std::string> anchored_hashes;
  int64_t last_seq = 0;
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
    if (anchored.count(r.seq)) anchored_hashes[r.seq] = r.hash;
    last_seq = r.seq;
    prev = r.hash;
    ++expect;
  }
  if (head.empty()) {
    c.problems.push_back("the audit head is missing");
  } else if (head[0].integer(0) != expect - 1 || head[0].text(1) != prev) {
    c.problems.push_back(fmt::format(
        "the chain ends at record {} but the head records {}: records were deleted or added at "
        "the end",
        expect - 1, head[0].integer(0)));
  }
  check_anchors(anchors, anchored_hashes, last_seq, c.problems);
  c.ok = c.problems.empty();
  return c;
}

void SqlStore::anchor_after_commit() {
  auto [seq, hash] = *moved_head_;
  moved_head_.reset();
  if ((anchor_.file.empty() && !anchor_.notify && !anchor_.outbox) || seq <= 0) return;
  auto tick = std::chrono::steady_clock::now();
  const int64_t every = std::max<int64_t>(1, anchor_.every_records);
  bool due = anchored_seq_ < 0 || seq / every > anchored_seq_ / every ||
             tick - anchored_at_ >= std::chrono::seconds(anchor_.every_seconds);
  if (!due) return;
  AuditAnchor a;
  a.seq = seq;
  a.hash = hash;
  a.at = now();
  a.at_text = utc_iso8601(a.at);
  // The change has committed: a failure to anchor is reported, never turned into a failed write.
  if (!anchor_.file.empty()) {
    try {
      append_anchor(anchor_.file, a);
    } catch (const std::exception& e) {
      std::cerr << "safehold: " << e.what() << "\n";
      return;
    }
  }
  if (anchor_.notify) {
    try {
      anchor_.notify(a);
    } catch (const std::exception& e) {
      std::cerr << "safehold: cannot report an audit anchor: " << e.what() << "\n";
    }
  }
  if (anchor_.outbox) anchor_to_outbox(a);
  anchored_seq_ = seq;
  anchored_at_ = tick;
}

// One short transaction after the audited change has committed; it adds no audit record, so it
// cannot move the head (and anchor again). A failure is reported, never a failed write.
void SqlStore::anchor_to_outbox(const AuditAnchor& a) {
  const int64_t every = std::max<int64_t>(1, anchor_.every_records);
  try {
    write([&] {
      auto last = db_->query(
          "SELECT created_at, payload FROM outbox WHERE event = 'audit.anchor' ORDER BY id DESC "
          "LIMIT 1");
      if (!last.empty()) {
        auto prev = json::parse(last[0].text(1), nullptr, false);
        int64_t prev_seq = prev.is_object() ? prev.value("seq", int64_t{0}) : 0;
        bool crossed = a.seq / every > prev_seq / every;
        bool stale = a.at - last[0].integer(0) >= anchor_.every_seconds;
        if (a.seq <= prev_seq || (!crossed && !stale)) return 0;
      }
      notify("audit.anchor",
             {{"event", "audit.anchor"}, {"seq", a.seq}, {"hash", a.hash}, {"at", a.at_text}});
      return 0;
    });
  } catch (const std::exception& e) {
    std::cerr << "safehold: cannot queue the audit anchor notification: " << e.what() << "\n";
  }
}

// Test hook: SAFEHOLD_TEST_STALL_BEFORE_COMMIT=FILE makes a write create FILE and sleep before
// COMMIT, so a test can kill -9 a writer in the middle of a transaction.
bool SqlStore::stall_requested() {
  const char* f = std::getenv("SAFEHOLD_TEST_STALL_BEFORE_COMMIT");
  return f && *f;
}

void SqlStore::stall_for_tests() {
  const char* f = std::getenv("SAFEHOLD_TEST_STALL_BEFORE_COMMIT");
  if (!f || !*f) return;
  std::ofstream(f) << "in transaction\n";
  std::this_thread::sleep_for(std::chrono::seconds(120));
}

void SqlStore::audit_add(const std::string& user, const std::string& action,
                         const std::string& entity, const std::string& entity_id,
                         const std::string& reason, const json& before, const json& after) {
  AuditRecord r;
  r.at = now();
  r.user = user.empty() ? "unknown" : user;
  r.action = action;
  r.entity = entity;
  r.entity_id = entity_id;
  r.reason = reason;
  r.before = base::dump(before);
  r.after = base::dump(after);
  pending_.push_back(std::move(r));
}

// Takes the chain head last (row lock on PostgreSQL) so that writers serialise only here.
// commit: end the transaction with the last statement. Returns true if it committed.
bool SqlStore::flush_audit(bool commit) {
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
  moved_head_ = std::make_pair(seq, prev);
  return commit;
}

AuditRecord SqlStore::audit_from(const Row& row) {
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

// ---- audit sealing (PostgreSQL hot path) ----
// A hot-path statement wrote an audit record to audit_pending_device: chain it, and every other
// committed pending record, unless this store sealed less than seal_interval_ ago. It does not
// wait for a seal another session is running; the next seal, this store's closing seal, or
// any reader of the chain takes the record.
void SqlStore::wrote_pending() {
  unsealed_ = true;
  auto tick = std::chrono::steady_clock::now();
  if (tick - sealed_at_ >= seal_interval_) try_seal();
}

// A seal that never fails the operation it follows (the change has committed; a record left
// pending is chained by the next seal, by anyone).
void SqlStore::try_seal() noexcept {
  try {
    seal(false);
  } catch (...) {
  }
}

// Chains the committed pending records (chain_pending), in a transaction of its own. wait:
// wait for the chain lock instead of giving up when another session holds it. Returns true
// when it sealed.
bool SqlStore::seal(bool wait) {
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
// hashed here, their JSON built by device_json(, View::audit) like every client-side record's; one
// statement then deletes them by row address (ctid: a TID scan whatever the tables' statistics
// say; the rows cannot move while this transaction reads the tables), inserts them into
// `audit` and moves the head.
std::optional<std::pair<int64_t, std::string>> SqlStore::chain_pending(bool wait) {
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
    r.before = base::dump(device_json(before, View::audit));
    r.after = base::dump(row.null(20) ? device_json(after, View::audit)
                                      : claim_json(after));  // a_lease: a claim
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
  if (!recs.empty()) moved_head_ = std::make_pair(seq, prev);
  return std::make_pair(seq, prev);
}

// Before reading the chain: seal what is pending, if this user may (best effort: a read-only
// user still reads the records chained so far).
void SqlStore::seal_before_reading() {
  if (!server_calls_) return;
  try {
    seal(true);
  } catch (const QueueError&) {
  }
}

std::chrono::milliseconds SqlStore::seal_interval_from_env() {
  const char* v = std::getenv("SAFEHOLD_TEST_AUDIT_SEAL_MS");  // test hook: delay hot-path seals
  if (v && *v) return std::chrono::milliseconds(std::atoll(v));
  return std::chrono::milliseconds(100);
}

}  // namespace safehold::scheduler::detail
