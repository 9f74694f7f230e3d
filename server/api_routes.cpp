// The API's routes: one table (routes()) whose entries hold, for each method, the role it needs
// and the handler that answers it. Handlers read the request through Call and answer JSON built by
// scheduler/views.hpp (docs/API.md lists every route).
#include <fmt/core.h>

#include <algorithm>

#include "server/api_internal.hpp"

namespace safehold::server::detail {

std::vector<DeviceState> query_states(const Target& t) {
  std::vector<DeviceState> out;
  auto st = query_str(t, "state");
  if (st.empty() || st == "all") return out;
  size_t i = 0;
  while (i <= st.size()) {
    size_t j = st.find(',', i);
    if (j == std::string::npos) j = st.size();
    auto v = parse_state(st.substr(i, j - i));
    if (!v)
      throw HttpError{
          400, fmt::format("query parameter 'state' must be 'all' or a comma list of: {}", kStates),
          "state"};
    out.push_back(*v);
    i = j + 1;
  }
  return out;
}

namespace {

Response metrics(Call& c) {
  Store& s = *c.store;
  Response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = prometheus_queue(s.metrics()) + grading_prometheus(s.grading_cases()) +
           c.metrics.prometheus() + cache_prometheus(c.caches);
  return r;
}

Response me(Call& c) {
  return json_response({{"id", c.token->id},
                        {"name", c.token->name},
                        {"role", to_string(c.token->role)},
                        {"user", c.user}});
}

Response queue(Call& c) {
  Store& s = *c.store;
  ListQuery q;
  q.limit = query_int(c.t, "limit", c.opts.default_list, 1, c.opts.max_list);
  q.offset = query_int(c.t, "offset", 0, 0, INT64_C(1) << 40);
  q.case_ref = query_str(c.t, "case");
  auto st = query_str(c.t, "state");
  if (!st.empty()) q.states = query_states(c.t);
  // The same query in the same clock second on an unchanged database: the same body.
  std::string ck = fmt::format("{}\n{}\n{}\n{}", q.limit, q.offset, q.case_ref, st);
  int64_t t0 = s.now();
  if (c.opts.cache_listings) {
    if (auto body = c.caches.listing(ck, c.generation, t0)) {
      Response r;
      r.body = *body;
      return r;
    }
  }
  json arr = json::array();
  for (auto& e : s.list(q)) arr.push_back(to_json(e));
  Response r = json_response(arr);
  if (c.opts.cache_listings && s.now() == t0) c.caches.keep_listing(ck, c.generation, t0, r.body);
  return r;
}

Response breaches(Call& c) {
  Store& s = *c.store;
  json arr = json::array();
  for (auto& e : s.breaches()) arr.push_back(to_json(e));
  return json_response(arr);
}

Response list_cases(Call& c) {
  Store& s = *c.store;
  json arr = json::array();
  for (auto& k : s.list_cases()) arr.push_back(case_json(k, View::api));
  return json_response(arr);
}

Response add_case(Call& c) {
  Store& s = *c.store;
  auto j = body_object(c.req);
  Fields f(j, {"reference", "risk", "offence", "officer", "notes"});
  NewCase nc;
  nc.reference = *f.str("reference", true);
  nc.risk = f.choice<Risk>("risk", parse_risk, kRisks).value_or(Risk::none);
  nc.offence = f.str("offence").value_or("");
  nc.officer = f.str("officer").value_or("");
  nc.notes = f.str("notes").value_or("");
  return json_response(case_json(s.add_case(c.user, nc), View::api), 201);
}

Response get_case(Call& c) {
  Store& s = *c.store;
  const std::string& id = c.id;
  json j = case_json(s.get_case(id), View::api);
  j["suspects"] = json::array();
  for (auto& x : s.list_suspects(id)) j["suspects"].push_back(suspect_json(x, View::api));
  return json_response(j);
}

Response update_case(Call& c) {
  Store& s = *c.store;
  const std::string& id = c.id;
  auto j = body_object(c.req);
  Fields f(j, {"risk", "offence", "officer", "notes", "reason"});
  CaseUpdate u;
  u.risk = f.choice<Risk>("risk", parse_risk, kRisks);
  u.offence = f.str("offence");
  u.officer = f.str("officer");
  u.notes = f.str("notes");
  auto reason = f.reason();
  s.get_case(id);  // 404 before anything else
  auto res = s.update_case(c.user, id, u, reason);
  json out = change_json(res, s.now());
  out["case"] = case_json(s.get_case(id), View::api);
  return json_response(out);
}

Response list_suspects(Call& c) {
  Store& s = *c.store;
  json arr = json::array();
  for (auto& x : s.list_suspects(query_str(c.t, "case"))) arr.push_back(suspect_json(x, View::api));
  return json_response(arr);
}

Response add_suspect(Call& c) {
  Store& s = *c.store;
  auto j = body_object(c.req);
  Fields f(j, {"reference", "case", "lives_with_children", "access_to_children", "children_count",
               "age_bands", "access_notes"});
  NewSuspect ns;
  ns.reference = *f.str("reference", true);
  ns.case_ref = *f.str("case", true);
  ns.lives_with_children =
      f.choice<Answer>("lives_with_children", parse_answer, kAnswers).value_or(Answer::unknown);
  ns.access_to_children =
      f.choice<Answer>("access_to_children", parse_answer, kAnswers).value_or(Answer::unknown);
  auto n = f.integer("children_count");
  if (n && (*n < 0 || *n > 1000))
    throw HttpError{400, "field 'children_count' must be from 0 to 1000", "children_count"};
  ns.children_count = n ? static_cast<int>(*n) : -1;
  ns.age_bands = f.str("age_bands").value_or("");
  ns.access_notes = f.str("access_notes").value_or("");
  auto [sus, res] = s.add_suspect(c.user, ns);
  json out = change_json(res, s.now());
  out["suspect"] = suspect_json(sus, View::api);
  return json_response(out, 201);
}

Response get_suspect(Call& c) {
  Store& s = *c.store;
  const std::string& id = c.id;
  auto sus = s.get_suspect(id);
  json j = suspect_json(sus, View::api);
  ListQuery q;
  q.states.clear();
  q.case_ref = sus.case_ref;
  j["devices"] = json::array();
  for (auto& e : s.list(q))
    if (e.device.suspect_ref == id) j["devices"].push_back(e.device.exhibit);
  return json_response(j);
}

Response update_suspect(Call& c) {
  Store& s = *c.store;
  const std::string& id = c.id;
  auto j = body_object(c.req);
  Fields f(j, {"lives_with_children", "access_to_children", "children_count", "age_bands",
               "access_notes", "reason"});
  SuspectUpdate u;
  u.lives_with_children = f.choice<Answer>("lives_with_children", parse_answer, kAnswers);
  u.access_to_children = f.choice<Answer>("access_to_children", parse_answer, kAnswers);
  if (auto n = f.integer("children_count")) {
    if (*n < 0 || *n > 1000)
      throw HttpError{400, "field 'children_count' must be from 0 to 1000", "children_count"};
    u.children_count = static_cast<int>(*n);
  }
  u.age_bands = f.str("age_bands");
  u.access_notes = f.str("access_notes");
  auto reason = f.reason();
  s.get_suspect(id);
  auto res = s.update_suspect(c.user, id, u, reason);
  json out = change_json(res, s.now());
  out["suspect"] = suspect_json(s.get_suspect(id), View::api);
  return json_response(out);
}

Response add_device(Call& c) {
  Store& s = *c.store;
  auto j = body_object(c.req);
  Fields f(j, {"exhibit", "suspect", "class", "capacity", "seized", "source", "notes", "examiner"});
  NewDevice nd;
  nd.exhibit = *f.str("exhibit", true);
  nd.suspect_ref = *f.str("suspect", true);
  nd.device_class = *f.choice<DeviceClass>("class", parse_class, kClasses, true);
  auto cap_bytes = f.integer("capacity");
  if (cap_bytes && *cap_bytes < 0)
    throw HttpError{400, "field 'capacity' must not be negative", "capacity"};
  nd.capacity = cap_bytes ? static_cast<uint64_t>(*cap_bytes) : 0;
  nd.seized = f.str("seized").value_or("");
  nd.source = f.str("source").value_or("");
  nd.notes = f.str("notes").value_or("");
  nd.examiner = f.str("examiner").value_or("");
  return json_response(device_json(s.add_device(c.user, nd), View::api), 201);
}

Response get_device(Call& c) {
  Store& s = *c.store;
  const std::string& id = c.id;
  return json_response(device_json(s.get_device(id), View::api));
}

Response explain(Call& c) {
  Store& s = *c.store;
  const std::string& id = c.id;
  return json_response(to_json(s.explain(id)));
}

// What the device's carve found: counts, links and their effects; references only.
Response device_findings(Call& c) {
  return json_response(c.store->findings(c.id));
}

Response links(Call& c) {
  json arr = json::array();
  for (auto& l : c.store->links()) arr.push_back(to_json(l));
  return json_response(arr);
}

Response device_audit(Call& c) {
  Store& s = *c.store;
  const std::string& id = c.id;
  // The device's own records and those of its suspect and case, which rank it.
  auto d = s.get_device(id);
  std::vector<AuditRecord> all;
  for (auto [entity, eid] : {std::pair<std::string, std::string>{"device", d.exhibit},
                             {"suspect", d.suspect_ref},
                             {"case", d.case_ref}})
    for (auto& r : s.audit(entity, eid, 500)) all.push_back(std::move(r));
  std::sort(all.begin(), all.end(), [](auto& a, auto& b) { return a.seq < b.seq; });
  json arr = json::array();
  for (auto& r : all) arr.push_back(to_json(r));
  return json_response(arr);
}

Response set_device_state(Call& c) {
  Store& s = *c.store;
  const std::string& id = c.id;
  auto j = body_object(c.req);
  Fields f(j, {"state", "reason"});
  auto to = *f.choice<DeviceState>("state", parse_state, kStates, true);
  auto reason = f.reason();
  return json_response(device_json(s.set_device_state(c.user, id, to, reason), View::api));
}

// PATCH /api/devices/{exhibit}: the source, before acquisition (a needs-source device is queued).
Response update_device(Call& c) {
  Store& s = *c.store;
  auto j = body_object(c.req);
  Fields f(j, {"source", "examiner", "reason"});
  auto source = f.str("source");
  auto examiner = f.str("examiner");
  if (!source && !examiner)
    throw HttpError{400, "give 'source' or 'examiner' (and 'reason')", "source"};
  auto reason = f.reason();
  Device d;
  if (examiner) d = s.set_device_examiner(c.user, c.id, *examiner, reason);
  if (source) d = s.set_device_source(c.user, c.id, *source, reason);
  return json_response(device_json(d, View::api));
}

Response stations(Call& c) {
  json arr = json::array();
  for (auto& x : c.store->stations()) arr.push_back(to_json(x));
  return json_response(arr);
}

Response resume_station(Call& c) {
  auto j = body_object(c.req);
  Fields f(j, {"reason"});
  auto reason = f.reason();
  return json_response(to_json(c.store->resume_station(c.user, c.id, reason)));
}

Response claim(Call& c) {
  Store& s = *c.store;
  auto j = body_object(c.req);
  Fields f(j, {"station", "classes", "kinds", "lease_seconds"});
  ClaimRequest cr;
  cr.station = *f.str("station", true);
  for (auto& x : f.strings("classes")) {
    auto v = parse_class(x);
    if (!v)
      throw HttpError{400, fmt::format("field 'classes' items must be one of: {}", kClasses),
                      "classes"};
    cr.classes.push_back(*v);
  }
  for (auto& x : f.strings("kinds")) {
    auto v = parse_job_kind(x);
    if (!v)
      throw HttpError{400, fmt::format("field 'kinds' items must be one of: {}", kKinds), "kinds"};
    cr.kinds.push_back(*v);
  }
  auto ls = f.integer("lease_seconds");
  if (ls && (*ls < 1 || *ls > 86400))
    throw HttpError{400, "field 'lease_seconds' must be from 1 to 86400", "lease_seconds"};
  cr.lease_seconds = ls.value_or(0);
  auto got = s.claim(c.user, cr);
  if (!got) return json_response({{"claim", nullptr}});
  json d = device_json(got->device, View::api);
  d["kind"] = to_string(got->kind);
  return json_response({{"claim", d}});
}

Response heartbeat(Call& c) {
  Store& s = *c.store;
  const std::string& id = c.id;
  auto j = body_object(c.req);
  Fields f(j, {"station"});
  return json_response(device_json(s.heartbeat(c.user, id, *f.str("station", true)), View::api));
}

Response complete(Call& c) {
  Store& s = *c.store;
  const std::string& id = c.id;
  auto j = body_object(c.req);
  Fields f(j, {"station", "note"});
  auto station = *f.str("station", true);
  return json_response(
      device_json(s.complete(c.user, id, station, f.str("note").value_or("")), View::api));
}

Response fail(Call& c) {
  Store& s = *c.store;
  const std::string& id = c.id;
  auto j = body_object(c.req);
  Fields f(j, {"station", "error"});
  auto station = *f.str("station", true);
  auto err = *f.str("error", true);
  return json_response(device_json(s.fail(c.user, id, station, err), View::api));
}

Response reap(Call& c) {
  Store& s = *c.store;
  return json_response({{"returned", s.reap_expired(c.user)}});
}

Response alerts(Call& c) {
  Store& s = *c.store;
  json arr = json::array();
  int64_t now = s.now();
  for (auto& a : s.alerts(query_bool(c.t, "open"))) arr.push_back(to_json(a, now));
  return json_response(arr);
}

Response get_alert(Call& c) {
  Store& s = *c.store;
  const std::string& id = c.id;
  return json_response(to_json(s.get_alert(id_segment(id, "alert")), s.now()));
}

Response acknowledge(Call& c) {
  Store& s = *c.store;
  const std::string& id = c.id;
  auto aid = id_segment(id, "alert");
  auto j = body_object(c.req);
  Fields f(j, {"reference"});
  auto ref = *f.str("reference", true);
  if (ref.find_first_not_of(" \t") == std::string::npos)
    throw HttpError{400, "field 'reference' must not be empty", "reference"};
  s.get_alert(aid);
  return json_response(to_json(s.acknowledge(c.user, aid, ref), s.now()));
}

Response audit(Call& c) {
  Store& s = *c.store;
  auto entity = query_str(c.t, "entity");
  auto eid = query_str(c.t, "id");
  if (!eid.empty() && entity.empty())
    throw HttpError{400, "query parameter 'id' needs 'entity'", "id"};
  auto limit = query_int(c.t, "limit", 1000, 1, 100000);
  json arr = json::array();
  for (auto& r : s.audit(entity, eid, limit)) arr.push_back(to_json(r));
  return json_response(arr);
}

Response verify_audit(Call& c) {
  Store& s = *c.store;
  auto r = s.verify_audit();
  return json_response(to_json(r));
}

Response get_policy(Call& c) {
  Store& s = *c.store;
  return json_response(policy_json(s.policy()));
}

Response set_policy(Call& c) {
  Store& s = *c.store;
  auto j = body_object(c.req);
  Fields f(j, {"deadline_days", "alert_hours", "aging_days_per_level", "lease_seconds",
               "max_attempts", "backoff_seconds", "backoff_max_seconds", "station_failure_limit",
               "indecent_min_risk", "firstgen_alert_hours", "task_hours", "link_alert_hours",
               "grading_profile", "votes_needed", "reason"});
  Policy pol = s.policy();
  if (f.has("deadline_days")) {
    const auto& dd = j.at("deadline_days");
    if (!dd.is_object())
      throw HttpError{400, "field 'deadline_days' must be an object by risk band", "deadline_days"};
    for (auto it = dd.begin(); it != dd.end(); ++it) {
      auto r = parse_risk(it.key());
      if (!r || !it.value().is_number_integer())
        throw HttpError{400, fmt::format("field 'deadline_days' must map {} to whole days", kRisks),
                        "deadline_days"};
      pol.deadline_days[static_cast<size_t>(*r)] = it.value().get<int64_t>();
    }
  }
  if (auto v = f.integer("alert_hours")) pol.alert_hours = *v;
  if (auto v = f.integer("aging_days_per_level")) pol.aging_days_per_level = *v;
  if (auto v = f.integer("lease_seconds")) pol.lease_seconds = *v;
  if (auto v = f.integer("max_attempts")) {
    if (*v < 1 || *v > 1000)
      throw HttpError{400, "field 'max_attempts' must be from 1 to 1000", "max_attempts"};
    pol.max_attempts = static_cast<int>(*v);
  }
  if (auto v = f.integer("backoff_seconds")) pol.backoff_seconds = *v;
  if (auto v = f.integer("backoff_max_seconds")) pol.backoff_max_seconds = *v;
  if (auto v = f.integer("station_failure_limit")) {
    if (*v < 1 || *v > 1000)
      throw HttpError{400, "field 'station_failure_limit' must be from 1 to 1000",
                      "station_failure_limit"};
    pol.station_failure_limit = static_cast<int>(*v);
  }
  if (auto r = f.choice<Risk>("indecent_min_risk", parse_risk, kRisks)) pol.indecent_min_risk = *r;
  if (auto v = f.integer("firstgen_alert_hours")) pol.firstgen_alert_hours = *v;
  if (auto v = f.integer("task_hours")) pol.task_hours = *v;
  if (auto v = f.integer("link_alert_hours")) pol.link_alert_hours = *v;
  if (auto p = f.choice<GradingProfile>("grading_profile", parse_grading_profile, "uk, vic"))
    pol.grading_profile = *p;
  if (auto v = f.integer("votes_needed")) {
    if (*v < 1 || *v > 9)
      throw HttpError{400, "field 'votes_needed' must be from 1 to 9", "votes_needed"};
    pol.votes_needed = static_cast<int>(*v);
  }
  auto reason = f.reason();
  auto res = s.set_policy(c.user, pol, reason);
  json out = change_json(res, s.now());
  out["policy"] = policy_json(s.policy());
  return json_response(out);
}

Response list_tokens(Call& c) {
  Store& s = *c.store;
  json arr = json::array();
  for (auto& t : s.list_tokens()) arr.push_back(token_json(t, View::api));
  return json_response(arr);
}

Response create_token(Call& c) {
  Store& s = *c.store;
  auto j = body_object(c.req);
  Fields f(j, {"role", "name"});
  auto role = *f.choice<Role>("role", parse_role, "manager, examiner, auditor, grader", true);
  auto nt = s.create_token(c.user, role, f.str("name").value_or(""));
  json out = token_json(nt.token, View::api);
  out["token"] = nt.secret;  // shown once
  return json_response(out, 201);
}

Response revoke_token(Call& c) {
  Store& s = *c.store;
  const std::string& id = c.id;
  auto revoked = s.revoke_token(c.user, id);
  c.caches.forget_tokens();
  return json_response(token_json(revoked, View::api));
}

}  // namespace

const std::vector<Route>& routes() {
  static const std::vector<Route> table = [] {
    std::vector<Route> t = {
        {{"metrics"}, "/metrics", {{"GET", Need::read, metrics}}},
        {{"api", "me"}, "/api/me", {{"GET", Need::any, me}}},
        {{"api", "queue"}, "/api/queue", {{"GET", Need::read, queue}}},
        {{"api", "breaches"}, "/api/breaches", {{"GET", Need::read, breaches}}},
        {{"api", "cases"},
         "/api/cases",
         {{"GET", Need::read, list_cases}, {"POST", Need::manage, add_case}}},
        {{"api", "cases", "*"},
         "/api/cases/{case}",
         {{"GET", Need::read, get_case}, {"PATCH", Need::manage, update_case}}},
        {{"api", "suspects"},
         "/api/suspects",
         {{"GET", Need::read, list_suspects}, {"POST", Need::manage, add_suspect}}},
        {{"api", "suspects", "*"},
         "/api/suspects/{suspect}",
         {{"GET", Need::read, get_suspect}, {"PATCH", Need::manage, update_suspect}}},
        {{"api", "devices"},
         "/api/devices",
         {{"GET", Need::read, list_devices}, {"POST", Need::manage, add_device}}},
        {{"api", "devices", "*"},
         "/api/devices/{exhibit}",
         {{"GET", Need::read, get_device}, {"PATCH", Need::manage, update_device}}},
        {{"api", "devices", "*", "explain"},
         "/api/devices/{exhibit}/explain",
         {{"GET", Need::read, explain}}},
        {{"api", "devices", "*", "findings"},
         "/api/devices/{exhibit}/findings",
         {{"GET", Need::read, device_findings}}},
        {{"api", "links"}, "/api/links", {{"GET", Need::read, links}}},
        {{"api", "devices", "*", "audit"},
         "/api/devices/{exhibit}/audit",
         {{"GET", Need::read, device_audit}}},
        {{"api", "devices", "*", "state"},
         "/api/devices/{exhibit}/state",
         {{"POST", Need::manage, set_device_state}}},
        {{"api", "devices", "*", "heartbeat"},
         "/api/devices/{exhibit}/heartbeat",
         {{"POST", Need::work, heartbeat}}},
        {{"api", "devices", "*", "complete"},
         "/api/devices/{exhibit}/complete",
         {{"POST", Need::work, complete}}},
        {{"api", "devices", "*", "fail"},
         "/api/devices/{exhibit}/fail",
         {{"POST", Need::work, fail}}},
        {{"api", "claim"}, "/api/claim", {{"POST", Need::work, claim}}},
        {{"api", "reap"}, "/api/reap", {{"POST", Need::manage, reap}}},
        {{"api", "stations"}, "/api/stations", {{"GET", Need::read, stations}}},
        {{"api", "stations", "*", "resume"},
         "/api/stations/{station}/resume",
         {{"POST", Need::manage, resume_station}}},
        {{"api", "alerts"}, "/api/alerts", {{"GET", Need::read, alerts}}},
        {{"api", "alerts", "*"}, "/api/alerts/{id}", {{"GET", Need::read, get_alert}}},
        {{"api", "alerts", "*", "ack"},
         "/api/alerts/{id}/ack",
         {{"POST", Need::manage, acknowledge}}},
        {{"api", "audit"}, "/api/audit", {{"GET", Need::read, audit}}},
        {{"api", "audit", "verify"}, "/api/audit/verify", {{"GET", Need::read, verify_audit}}},
        {{"api", "policy"},
         "/api/policy",
         {{"GET", Need::read, get_policy}, {"PUT", Need::manage, set_policy}}},
        {{"api", "tokens"},
         "/api/tokens",
         {{"GET", Need::manage, list_tokens}, {"POST", Need::manage, create_token}}},
        {{"api", "tokens", "*", "revoke"},
         "/api/tokens/{token}/revoke",
         {{"POST", Need::manage, revoke_token}}},
    };
    for (auto& r : grading_routes()) t.push_back(r);
    for (auto& r : backlog_routes()) t.push_back(r);
    return t;
  }();
  return table;
}

}  // namespace safehold::server::detail
