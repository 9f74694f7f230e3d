// The JSON API of `safehold serve` over scheduler::Store (see docs/API.md for every route): request
// parsing, authentication and roles, the route table's lookup, and errors as JSON.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "base/hash.hpp"
#include "base/json.hpp"
#include "server/api_internal.hpp"

namespace safehold::server {
namespace detail {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string url_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      int hi = i + 2 < s.size() ? hex_value(s[i + 1]) : -1;
      int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
      if (hi < 0 || lo < 0)
        throw HttpError{400, "the request path or query has a bad %-escape", ""};
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

Target parse_target(const std::string& target) {
  Target t;
  auto q = target.find('?');
  std::string_view path(target.data(), q == std::string::npos ? target.size() : q);
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) t.segments.push_back(url_decode(path.substr(i, j - i), false));
    i = j;
  }
  if (q != std::string::npos) {
    std::string_view qs(target.data() + q + 1, target.size() - q - 1);
    size_t k = 0;
    while (k <= qs.size()) {
      size_t amp = qs.find('&', k);
      if (amp == std::string_view::npos) amp = qs.size();
      auto part = qs.substr(k, amp - k);
      if (!part.empty()) {
        auto eq = part.find('=');
        std::string key = url_decode(part.substr(0, eq), true);
        std::string value =
            eq == std::string_view::npos ? "" : url_decode(part.substr(eq + 1), true);
        t.query[key] = value;
      }
      k = amp + 1;
    }
  }
  return t;
}

json body_object(const Request& r) {
  if (r.body.empty()) throw HttpError{400, "the request body must be a JSON object", ""};
  // Keys seen in each open object, innermost last: a repeated key ends the parse.
  std::vector<std::set<std::string>> open;
  std::string repeated;
  json::parser_callback_t cb = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      open.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      if (!open.empty()) open.pop_back();
    } else if (event == json::parse_event_t::key && !open.empty() && repeated.empty()) {
      auto key = parsed.get<std::string>();
      if (!open.back().insert(key).second) repeated = key;
    }
    return true;
  };
  auto j = json::parse(r.body, cb, false);
  if (j.is_discarded()) throw HttpError{400, "the request body is not valid JSON", ""};
  if (!repeated.empty())
    throw HttpError{
        400, fmt::format("the request body has the field '{}' more than once", repeated), repeated};
  if (!j.is_object()) throw HttpError{400, "the request body must be a JSON object", ""};
  return j;
}

Response json_response(const json& j, int status) {
  Response r;
  r.status = status;
  r.body = base::dump(j);
  r.body += '\n';
  return r;
}

int64_t query_int(const Target& t, const char* name, int64_t dflt, int64_t lo, int64_t hi) {
  auto it = t.query.find(name);
  if (it == t.query.end() || it->second.empty()) return dflt;
  const std::string& s = it->second;
  int64_t v = 0;
  bool ok = !s.empty() && s.size() < 19;
  for (char c : s) ok = ok && c >= '0' && c <= '9';
  if (ok) v = std::stoll(s);
  if (!ok || v < lo || v > hi)
    throw HttpError{
        400, fmt::format("query parameter '{}' must be an integer from {} to {}", name, lo, hi),
        name};
  return v;
}

std::string query_str(const Target& t, const char* name) {
  auto it = t.query.find(name);
  return it == t.query.end() ? "" : it->second;
}

bool query_bool(const Target& t, const char* name) {
  auto s = query_str(t, name);
  if (s.empty() || s == "false" || s == "0" || s == "no") return false;
  if (s == "true" || s == "1" || s == "yes") return true;
  throw HttpError{400, fmt::format("query parameter '{}' must be true or false", name), name};
}

int64_t id_segment(const std::string& s, const char* what) {
  bool ok = !s.empty() && s.size() < 19;
  for (char c : s) ok = ok && c >= '0' && c <= '9';
  if (!ok) throw HttpError{404, fmt::format("no {} {}", what, s), ""};
  return std::stoll(s);
}

std::string prometheus_queue(const Metrics& m) {
  std::string o;
  o += "# HELP safehold_queue_depth Queued devices by safeguarding tier (0 = lives with or has "
       "access "
       "to children) and risk band.\n# TYPE safehold_queue_depth gauge\n";
  for (int tier : {0, 1})
    for (Risk r : {Risk::very_high, Risk::high, Risk::medium, Risk::low, Risk::none}) {
      auto it = m.queued_by_tier_risk.find({tier, r});
      o += fmt::format("safehold_queue_depth{{tier=\"{}\",band=\"{}\"}} {}\n", tier, to_string(r),
                       it == m.queued_by_tier_risk.end() ? 0 : it->second);
    }
  o += "# HELP safehold_devices Devices by state.\n# TYPE safehold_devices gauge\n";
  for (auto s :
       {DeviceState::intake, DeviceState::queued, DeviceState::acquiring, DeviceState::acquired,
        DeviceState::carving, DeviceState::review, DeviceState::done, DeviceState::failed,
        DeviceState::withdrawn, DeviceState::needs_source}) {
    auto it = m.devices_by_state.find(s);
    o += fmt::format("safehold_devices{{state=\"{}\"}} {}\n", to_string(s),
                     it == m.devices_by_state.end() ? 0 : it->second);
  }
  o += fmt::format(
      "# HELP safehold_alerts_open Safeguarding alerts not yet acknowledged.\n"
      "# TYPE safehold_alerts_open gauge\nsafehold_alerts_open {}\n"
      "# HELP safehold_alerts_overdue Open safeguarding alerts past their referral deadline.\n"
      "# TYPE safehold_alerts_overdue gauge\nsafehold_alerts_overdue {}\n"
      "# HELP safehold_deadline_breaches Active devices past their examination deadline.\n"
      "# TYPE safehold_deadline_breaches gauge\nsafehold_deadline_breaches {}\n"
      "# HELP safehold_audit_records Records in the audit chain.\n"
      "# TYPE safehold_audit_records gauge\nsafehold_audit_records {}\n",
      m.alerts_open, m.alerts_overdue, m.deadline_breaches, m.audit_records);
  return o;
}

}  // namespace detail

using namespace detail;

namespace {

int status_of(QueueError::Kind k) {
  switch (k) {
    case QueueError::Kind::not_found:
      return 404;
    case QueueError::Kind::invalid:
      return 400;
    case QueueError::Kind::conflict:
      return 409;
    case QueueError::Kind::storage:
      return 500;
  }
  return 500;
}

bool allowed(Role r, Need n) {
  switch (n) {
    case Need::read:
      return r != Role::grader;  // graders see what they grade, not the queue's facts
    case Need::work:
      return r == Role::manager || r == Role::examiner;
    case Need::manage:
      return r == Role::manager;
    case Need::grade:
      return r == Role::grader || r == Role::manager;
    case Need::any:
      return true;
  }
  return false;
}

// Authenticates (401), authorises (403) and returns the store lease; sets c.user.
StorePool::Lease authorise(Call& c, Need need) {
  c.generation = c.caches.generation();
  auto lease = c.pool.acquire();
  const std::string& h = c.req.authorization;
  std::string secret;
  if (h.size() > 7 && (h.compare(0, 7, "Bearer ") == 0 || h.compare(0, 7, "bearer ") == 0))
    secret = h.substr(7);
  while (!secret.empty() && secret.back() == ' ') secret.pop_back();
  if (secret.empty())
    throw HttpError{401, "authentication required: send 'Authorization: Bearer TOKEN'", ""};
  std::string hash = base::sha256_hex(secret);
  auto tok = c.caches.token(hash, c.generation);
  if (!tok) {
    tok = lease->verify_token(secret);
    if (tok) c.caches.keep_token(hash, *tok, c.generation);
  }
  if (!tok) throw HttpError{401, "the token is not valid or has been revoked", ""};
  c.token = tok;
  c.info.token_id = tok->id;
  c.info.role = to_string(tok->role);
  c.user = fmt::format("{} (token {})", tok->name, tok->id);
  if (!allowed(tok->role, need))
    throw HttpError{403, fmt::format("the {} role may not do this", to_string(tok->role)), ""};
  return lease;
}

Response method_not_allowed(std::vector<std::string> methods) {
  std::sort(methods.begin(), methods.end());
  std::string allow;
  for (auto& m : methods) allow += (allow.empty() ? "" : ", ") + m;
  auto r = error_response(405, "method not allowed on this path; allowed: " + allow);
  r.headers.push_back({"Allow", allow});
  return r;
}

bool match(const std::vector<std::string>& seg, const Route& route, std::string& cap) {
  if (seg.size() != route.segments.size()) return false;
  std::string got;
  for (size_t i = 0; i < seg.size(); ++i) {
    if (std::string_view(route.segments[i]) == "*")
      got = seg[i];
    else if (seg[i] != route.segments[i])
      return false;
  }
  cap = std::move(got);
  return true;
}

Response dispatch(Call& c) {
  const auto& seg = c.t.segments;
  const std::string& m = c.req.method;

  // Static dashboard: no data, no authentication (the page signs in with a token).
  if (m == "GET" || m == "HEAD") {
    std::string path = "/";
    for (size_t i = 0; i < seg.size(); ++i) path += (i ? "/" : "") + seg[i];
    auto& assets = dashboard_assets();
    auto it = assets.find(path);
    if (it != assets.end()) {
      c.info.route = "/static";
      Response r;
      r.content_type = it->second.first;
      r.body = it->second.second;
      r.headers.push_back({"Cache-Control", "no-cache"});
      // The grading page shows the pictures it fetched as blob: URLs; the dashboard shows none.
      if (path.rfind("/grade", 0) == 0)
        r.headers.push_back({"Content-Security-Policy",
                             "default-src 'none'; script-src 'self'; style-src 'self'; img-src "
                             "blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
                             "frame-ancestors 'none'"});
      return r;
    }
  }

  if (seg.size() == 1 && seg[0] == "healthz") {
    c.info.route = "/healthz";
    if (m != "GET" && m != "HEAD") return method_not_allowed({"GET"});
    // Never waits for a pooled connection or a write lock: see Caches::health().
    auto state = c.caches.health();
    if (state == "unreachable")
      return json_response({{"status", "unavailable"}, {"database", "unreachable"}}, 503);
    if (state == "write-locked")
      return json_response({{"status", "degraded"},
                            {"database", "write-locked"},
                            {"reads", "ok"},
                            {"writes", "503 until the lock is released"}});
    return json_response({{"status", "ok"}});
  }

  const Route* route = nullptr;
  for (const auto& r : routes())
    if (match(seg, r, c.id)) {
      route = &r;
      break;
    }
  if (!route) throw HttpError{404, "no such endpoint", ""};
  c.info.route = route->pattern;
  const std::string want = m == "HEAD" ? "GET" : m;
  auto mit = std::find_if(route->methods.begin(), route->methods.end(),
                          [&](const Method& x) { return want == x.method; });
  if (mit == route->methods.end()) {
    std::vector<std::string> names;
    for (auto& x : route->methods) names.push_back(x.method);
    return method_not_allowed(names);
  }
  auto lease = authorise(c, mit->need);
  c.store = &*lease;
  try {
    return mit->handler(c);
  } catch (const QueueError& e) {
    if (e.kind == QueueError::Kind::storage && e.retry_after == 0) lease.discard();
    throw;
  }
}

}  // namespace

Response error_response(int status, const std::string& message, const std::string& field) {
  json j = {{"error", message}};
  if (!field.empty()) j["field"] = field;
  return json_response(j, status);
}

Api::Api(StorePool& pool, ApiOptions opts)
    : pool_(pool), opts_(opts), caches_(std::make_unique<Caches>(pool_, opts_)) {}

Api::~Api() = default;

Response Api::handle(const Request& r, RequestInfo& info) {
  auto start = std::chrono::steady_clock::now();
  Response out;
  info.route = "unmatched";
  try {
    Target t = parse_target(r.target);
    Call c{r, t, info, pool_, opts_, metrics_, *caches_, std::nullopt, "", 0, nullptr, ""};
    try {
      out = dispatch(c);
    } catch (...) {
      if (r.method != "GET" && r.method != "HEAD") caches_->bump();
      throw;
    }
    if (r.method != "GET" && r.method != "HEAD") caches_->bump();
  } catch (const HttpError& e) {
    out = error_response(e.status, e.message, e.field);
    if (e.status == 401) out.headers.push_back({"WWW-Authenticate", "Bearer realm=\"safehold\""});
  } catch (const QueueError& e) {
    // Storage errors may quote database internals: the body says only that it failed.
    if (e.retry_after > 0) {
      out = error_response(503,
                           "the queue database is busy: another process holds its write lock; "
                           "try again shortly");
      out.headers.push_back({"Retry-After", std::to_string(e.retry_after)});
    } else if (e.kind == QueueError::Kind::storage)
      out = error_response(500, "the queue database failed; see the server log");
    else
      out = error_response(status_of(e.kind), e.what());
  } catch (const std::exception&) {
    out = error_response(500, "internal error");
  }
  if (out.content_type == "application/json") out.headers.push_back({"Cache-Control", "no-store"});
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics_.observe(info.route, r.method, out.status, secs);
  return out;
}

}  // namespace safehold::server
