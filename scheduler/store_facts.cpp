// Facts and reads: policy, cases, suspects, devices, re-ranking, alerts and metrics.
#include <fmt/core.h>

#include <algorithm>
#include <map>
#include <tuple>
#include <type_traits>

#include "scheduler/sql_store.hpp"

namespace safehold::scheduler::detail {

// ---- policy ----
namespace {

// The policy as the config table holds it: one integer row per key.
struct PolicyKey {
  const char* key;
  int64_t (*get)(const Policy&);
  void (*set)(Policy&, int64_t);
};

template <auto Member>
constexpr PolicyKey number(const char* key) {
  return {
      key, [](const Policy& p) { return static_cast<int64_t>(p.*Member); },
      [](Policy& p, int64_t v) { p.*Member = static_cast<std::decay_t<decltype(p.*Member)>>(v); }};
}

template <size_t Band>
constexpr PolicyKey deadline(const char* key) {
  return {key, [](const Policy& p) { return p.deadline_days[Band]; },
          [](Policy& p, int64_t v) { p.deadline_days[Band] = v; }};
}

template <auto Member, int64_t Last>
constexpr PolicyKey enumerated(const char* key) {
  return {key, [](const Policy& p) { return static_cast<int64_t>(p.*Member); },
          [](Policy& p, int64_t v) {
            p.*Member =
                static_cast<std::decay_t<decltype(p.*Member)>>(std::clamp<int64_t>(v, 0, Last));
          }};
}

constexpr PolicyKey kPolicyKeys[] = {
    deadline<0>("deadline_days.very-high"),
    deadline<1>("deadline_days.high"),
    deadline<2>("deadline_days.medium"),
    deadline<3>("deadline_days.low"),
    deadline<4>("deadline_days.none"),
    number<&Policy::alert_hours>("alert_hours"),
    number<&Policy::aging_days_per_level>("aging_days_per_level"),
    number<&Policy::lease_seconds>("lease_seconds"),
    number<&Policy::max_attempts>("max_attempts"),
    number<&Policy::backoff_seconds>("backoff_seconds"),
    number<&Policy::backoff_max_seconds>("backoff_max_seconds"),
    number<&Policy::station_failure_limit>("station_failure_limit"),
    enumerated<&Policy::indecent_min_risk, 4>("findings.indecent_min_risk"),
    number<&Policy::firstgen_alert_hours>("findings.firstgen_alert_hours"),
    number<&Policy::task_hours>("findings.task_hours"),
    number<&Policy::link_alert_hours>("findings.link_alert_hours"),
    number<&Policy::votes_needed>("grading.votes_needed"),
    enumerated<&Policy::grading_profile, 1>("grading.profile"),
};

}  // namespace

Policy SqlStore::policy() {
  Policy p;
  for (auto& r : db_->query("SELECT key, value FROM config")) {
    const auto& k = r.text(0);
    for (const PolicyKey& pk : kPolicyKeys)
      if (k == pk.key) pk.set(p, std::stoll(r.text(1)));
  }
  return p;
}

ChangeResult SqlStore::set_policy(const std::string& user, const Policy& p,
                                  const std::string& reason) {
  check_reason(reason);
  if (auto problem = policy_problem(p); !problem.empty())
    throw QueueError(Kind::invalid, "policy not changed: " + problem);
  return write([&] {
    Policy old = policy();
    if (old.grading_profile != p.grading_profile &&
        !db_->query("SELECT 1 FROM grading_votes LIMIT 1").empty())
      throw QueueError(Kind::conflict,
                       "policy not changed: the grading profile cannot change once votes exist");
    for (const PolicyKey& pk : kPolicyKeys)
      db_->query(
          "INSERT INTO config (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET "
          "value = excluded.value",
          {std::string(pk.key), std::to_string(pk.get(p))});
    audit_add(user, "policy.set", "policy", "policy", reason, policy_json(old), policy_json(p));
    ChangeResult res;
    res.devices_reranked = rerank("", "", user, reason, p, /*all=*/true);
    return res;
  });
}

// ---- cases ----
Case SqlStore::add_case(const std::string& user, const NewCase& c) {
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
    audit_add(user, "case.add", "case", c.reference, "", json(), case_json(out, View::audit));
    return out;
  });
}

ChangeResult SqlStore::update_case(const std::string& user, const std::string& ref,
                                   const CaseUpdate& u, const std::string& reason) {
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
    audit_add(user, "case.update", "case", ref, reason, case_json(before, View::audit),
              case_json(after, View::audit));
    ChangeResult res;
    res.devices_reranked = rerank(ref, "", user, reason, policy(), false);
    return res;
  });
}

std::vector<Case> SqlStore::list_cases() {
  std::vector<Case> out;
  for (auto& r : db_->query(std::string("SELECT ") + kCaseCols + " FROM cases ORDER BY reference"))
    out.push_back(case_from(r));
  return out;
}

// ---- suspects ----
std::pair<Suspect, ChangeResult> SqlStore::add_suspect(const std::string& user,
                                                       const NewSuspect& s) {
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

ChangeResult SqlStore::update_suspect(const std::string& user, const std::string& ref,
                                      const SuspectUpdate& u, const std::string& reason) {
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
    audit_add(user, "suspect.update", "suspect", ref, reason, suspect_json(before, View::audit),
              suspect_json(after, View::audit));
    ChangeResult res;
    Policy p = policy();
    if (after.at_risk() && !before.at_risk())
      res.alerts_raised.push_back(raise_alert(user, after, p));
    res.devices_reranked = rerank(after.case_ref, ref, user, reason, p, false);
    return res;
  });
}

std::vector<Suspect> SqlStore::list_suspects(const std::string& case_ref) {
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
Device SqlStore::add_device(const std::string& user, const NewDevice& nd) {
  check_id("exhibit reference", nd.exhibit);
  check_id("suspect reference", nd.suspect_ref);
  check_date(nd.seized);
  return write([&] { return add_device_tx(user, nd); });
}

Device SqlStore::set_device_state(const std::string& user, const std::string& exhibit,
                                  DeviceState to, const std::string& reason) {
  check_reason(reason);
  return write([&] {
    DeviceRow x = load_device(exhibit, true);
    Device before = x.d;
    Device& d = x.d;
    if (!allowed_manual_transition(d.state, to))
      throw QueueError(Kind::conflict,
                       fmt::format("device {} cannot go from {} to {} (see `device set --help` for "
                                   "the allowed changes)",
                                   exhibit, to_string(d.state), to_string(to)));
    // Queued without a source is needs-source (a local: the lambda may run again on a retry).
    const DeviceState target =
        to == DeviceState::queued && d.source.empty() ? DeviceState::needs_source : to;
    d.state = target;
    d.station.clear();
    d.lease_expires = 0;
    if (ready(target) || target == DeviceState::needs_source) d.attempts = 0;
    save_state(x);
    audit_add(user, "device.state", "device", exhibit, reason, device_json(before, View::audit),
              device_json(d, View::audit));
    return d;
  });
}

Device SqlStore::set_device_source(const std::string& user, const std::string& exhibit,
                                   const std::string& source, const std::string& reason) {
  check_reason(reason);
  if (source.empty()) throw QueueError(Kind::invalid, "the source must not be empty");
  return write([&] {
    DeviceRow x = load_device(exhibit, true);
    Device before = x.d;
    const bool before_acquisition =
        x.d.state == DeviceState::needs_source || x.d.state == DeviceState::queued ||
        x.d.state == DeviceState::intake || (x.d.state == DeviceState::failed && x.d.image.empty());
    if (!before_acquisition)
      throw QueueError(Kind::conflict,
                       fmt::format("device {} is {}: its source can only be set before it is "
                                   "acquired",
                                   exhibit, to_string(x.d.state)));
    x.d.source = source;
    db_->query("UPDATE devices SET source = $2 WHERE id = $1", {x.id, source});
    if (x.d.state == DeviceState::needs_source) x.d.state = DeviceState::queued;
    save_state(x);
    audit_add(user, "device.source", "device", exhibit, reason, device_json(before, View::audit),
              device_json(x.d, View::audit));
    return x.d;
  });
}

Device SqlStore::set_device_examiner(const std::string& user, const std::string& exhibit,
                                     const std::string& examiner, const std::string& reason) {
  check_reason(reason);
  return write([&] {
    DeviceRow x = load_device(exhibit, true);
    Device before = x.d;
    x.d.examiner = examiner;
    db_->query("UPDATE devices SET examiner = $2, updated_at = $3 WHERE id = $1",
               {x.id, examiner, now()});
    json b = device_json(before, View::audit), a = device_json(x.d, View::audit);
    b["examiner"] = before.examiner;
    a["examiner"] = examiner;
    audit_add(user, "device.examiner", "device", exhibit, reason, b, a);
    return x.d;
  });
}

std::vector<QueueEntry> SqlStore::list(const ListQuery& q) {
  std::string sql = std::string("SELECT ") + kDeviceCols + " FROM devices";
  std::vector<Param> params;
  std::vector<std::string> where;
  if (!q.states.empty()) {
    std::string in;
    for (auto s : q.states) {
      params.emplace_back(std::in_place_type<std::string>, to_string(s));
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

Explanation SqlStore::explain(const std::string& exhibit) {
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
  for (auto& r : db_->query("SELECT effect FROM finding_effects WHERE case_ref = $1 ORDER BY id",
                            {x.d.case_ref}))
    e.findings.push_back(r.text(0));
  e.queued_total = counts.at(0).integer(3);
  return e;
}

std::vector<QueueEntry> SqlStore::breaches() {
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

// ---- alerts ----
std::vector<Alert> SqlStore::alerts(bool open_only) {
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

Alert SqlStore::get_alert(int64_t id) {
  auto rows = db_->query(std::string("SELECT ") + kAlertCols + " FROM alerts WHERE id = $1", {id});
  if (rows.empty()) throw QueueError(Kind::not_found, fmt::format("no alert {}", id));
  return alert_from(rows[0]);
}

Alert SqlStore::acknowledge(const std::string& user, int64_t id, const std::string& ref) {
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

std::string SqlStore::data_version() {
  auto r =
      db_->query(db_->postgres() ? "SELECT pg_current_snapshot()::text" : "PRAGMA data_version");
  return r.at(0).text(0);
}

// ---- metrics ----
Metrics SqlStore::metrics() {
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

Case SqlStore::load_case(const std::string& ref, bool lock) {
  auto rows = db_->query(std::string("SELECT ") + kCaseCols + " FROM cases WHERE reference = $1" +
                             (lock && pg_ ? " FOR UPDATE" : ""),
                         {ref});
  if (rows.empty()) throw QueueError(Kind::not_found, fmt::format("no case {}", ref));
  return case_from(rows[0]);
}

Suspect SqlStore::load_suspect(const std::string& ref, bool lock) {
  auto rows =
      db_->query(std::string("SELECT ") + kSuspectCols + " FROM suspects WHERE reference = $1" +
                     (lock && pg_ ? " FOR UPDATE" : ""),
                 {ref});
  if (rows.empty()) throw QueueError(Kind::not_found, fmt::format("no suspect {}", ref));
  return suspect_from(rows[0]);
}

DeviceRow SqlStore::load_device(const std::string& exhibit, bool lock) {
  auto rows = db_->query(std::string("SELECT ") + kDeviceCols + " FROM devices WHERE exhibit = $1" +
                             (lock && pg_ ? " FOR UPDATE" : ""),
                         {exhibit});
  if (rows.empty()) throw QueueError(Kind::not_found, fmt::format("no device {}", exhibit));
  return device_from(rows[0]);
}

Alert SqlStore::raise_alert(const std::string& user, const Suspect& s, const Policy& p) {
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
  notify("alert", {{"event", "alert"},
                   {"alert", a.id},
                   {"kind", a.kind},
                   {"case", a.case_ref},
                   {"due_at", utc_iso8601(a.due_at)}});
  return a;
}

// Recomputes the stored priority of the devices of a case, of a suspect, or of all.
int64_t SqlStore::rerank(const std::string& case_ref, const std::string& suspect_ref,
                         const std::string& user, const std::string& reason, const Policy& p,
                         bool all) {
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

Case SqlStore::add_case_tx(const std::string& user, const NewCase& c) {
  int64_t t = now();
  db_->query(
      "INSERT INTO cases (reference, risk, offence, officer, notes, created_at) VALUES "
      "($1, $2, $3, $4, $5, $6)",
      {c.reference, to_string(c.risk), c.offence, c.officer, c.notes, t});
  Case out{c.reference, c.risk, c.offence, c.officer, c.notes, t};
  audit_add(user, "case.add", "case", c.reference, "", json(), case_json(out, View::audit));
  return out;
}

// reload: read the row back (defaults filled by the database) instead of building it here.
// The alert raised for a suspect at risk goes into `res` when given.
Suspect SqlStore::add_suspect_tx(const std::string& user, const NewSuspect& s, const Policy& p,
                                 bool reload, ChangeResult* res) {
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
  audit_add(user, "suspect.add", "suspect", s.reference, "", json(),
            suspect_json(out, View::audit));
  if (out.at_risk()) {
    Alert a = raise_alert(user, out, p);
    if (res) res->alerts_raised.push_back(a);
  }
  return out;
}

Device SqlStore::add_device_tx(const std::string& user, const NewDevice& nd) {
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
  d.examiner = nd.examiner;
  // Without a source there is nothing for a worker to image: not claimable until one is set.
  d.state = nd.source.empty() ? DeviceState::needs_source : DeviceState::queued;
  d.intake_at = nd.intake_at.value_or(t);
  d.deadline_at = deadline_for(c.risk, d.intake_at, p);
  Priority pr = compute_priority(s, c.risk, d.device_class, d.intake_at, t, p);
  d.tier = pr.tier;
  d.level = pr.level;
  d.priority_key = pr.key;
  db_->query(
      "INSERT INTO devices (exhibit, case_ref, suspect_ref, class, capacity, seized, source, "
      "notes, state, ready, intake_at, deadline_at, tier, level, prio_key, risk, updated_at, "
      "examiner) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $17, $10, $11, $12, $13, $14, $15, $16, $18)",
      {d.exhibit, d.case_ref, d.suspect_ref, to_string(d.device_class),
       static_cast<int64_t>(d.capacity), d.seized, d.source, d.notes, to_string(d.state),
       d.intake_at, d.deadline_at, static_cast<int64_t>(d.tier), static_cast<int64_t>(d.level),
       d.priority_key, to_string(c.risk), t, static_cast<int64_t>(ready(d.state) ? 1 : 0),
       d.examiner});
  json after = device_json(d, View::audit);
  after["intake_at"] = d.intake_at;
  after["deadline_at"] = d.deadline_at;
  after["priority"] = priority_json(d);
  audit_add(user, "device.add", "device", d.exhibit, "", {{"state", "intake"}}, after);
  return d;
}

QueueEntry SqlStore::entry(const DeviceRow& x, int64_t rank, int64_t t) {
  QueueEntry e;
  e.rank = rank;
  e.device = x.d;
  e.risk = x.risk;
  e.waiting_days = static_cast<double>(std::max<int64_t>(0, t - x.d.intake_at)) / 86400.0;
  e.overdue = active(x.d.state) && x.d.deadline_at < t;
  return e;
}

}  // namespace safehold::scheduler::detail
