// The JSON API of `safehold serve` over scheduler::Store (see docs/API.md for every route).
#include "server/api.hpp"

#include <fmt/core.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <initializer_list>
#include <set>
#include <unordered_map>

namespace safehold::server {
namespace {

using nlohmann::json;

// Thrown inside a handler to end it with a JSON error.
struct HttpError {
  int status;
  std::string message;
  std::string field;
};

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json iso_or_null(int64_t t) {
  return t > 0 ? json(utc_iso8601(t)) : json();
}

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

struct Target {
  std::vector<std::string> segments;
  std::map<std::string, std::string> query;
};

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

// Reads the fields of a JSON object body, naming the field at fault in every error.
class Fields {
 public:
  Fields(const json& j, std::initializer_list<const char*> allowed) : j_(j) {
    std::set<std::string> ok(allowed.begin(), allowed.end());
    for (auto it = j.begin(); it != j.end(); ++it)
      if (!ok.count(it.key()))
        throw HttpError{400, fmt::format("unknown field '{}'", it.key()), it.key()};
  }
  bool has(const char* name) const { return j_.contains(name) && !j_.at(name).is_null(); }
  std::optional<std::string> str(const char* name, bool required = false) const {
    if (!has(name)) {
      if (required) throw HttpError{400, fmt::format("field '{}' is required", name), name};
      return std::nullopt;
    }
    const auto& v = j_.at(name);
    if (!v.is_string())
      throw HttpError{400, fmt::format("field '{}' must be a string", name), name};
    return v.get<std::string>();
  }
  std::optional<int64_t> integer(const char* name, bool required = false) const {
    if (!has(name)) {
      if (required) throw HttpError{400, fmt::format("field '{}' is required", name), name};
      return std::nullopt;
    }
    const auto& v = j_.at(name);
    if (!v.is_number_integer())
      throw HttpError{400, fmt::format("field '{}' must be an integer", name), name};
    return v.get<int64_t>();
  }
  template <typename T, typename P>
  std::optional<T> choice(const char* name, P parse, const char* allowed,
                          bool required = false) const {
    auto s = str(name, required);
    if (!s) return std::nullopt;
    auto v = parse(*s);
    if (!v) throw HttpError{400, fmt::format("field '{}' must be one of: {}", name, allowed), name};
    return v;
  }
  std::vector<std::string> strings(const char* name) const {
    std::vector<std::string> out;
    if (!has(name)) return out;
    const auto& v = j_.at(name);
    if (!v.is_array())
      throw HttpError{400, fmt::format("field '{}' must be an array of strings", name), name};
    for (auto& e : v) {
      if (!e.is_string())
        throw HttpError{400, fmt::format("field '{}' must be an array of strings", name), name};
      out.push_back(e.get<std::string>());
    }
    return out;
  }
  // A mandatory, non-blank reason for the audit.
  std::string reason() const {
    auto r = str("reason", true);
    if (r->find_first_not_of(" \t\r\n") == std::string::npos)
      throw HttpError{400, "field 'reason' must not be empty", "reason"};
    return *r;
  }

 private:
  const json& j_;
};

json body_object(const Request& r) {
  if (r.body.empty()) throw HttpError{400, "the request body must be a JSON object", ""};
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_discarded()) throw HttpError{400, "the request body is not valid JSON", ""};
  if (!j.is_object()) throw HttpError{400, "the request body must be a JSON object", ""};
  return j;
}

const char* kRisks = "very-high, high, medium, low, none";
const char* kAnswers = "yes, no, unknown";
const char* kClasses = "phone, tablet, computer, removable, other";
const char* kStates =
    "intake, queued, acquiring, acquired, carving, review, done, failed, withdrawn";
const char* kKinds = "acquire, carve";

json case_json(const Case& c) {
  return {{"reference", c.reference}, {"risk", to_string(c.risk)},
          {"offence", c.offence},     {"officer", c.officer},
          {"notes", c.notes},         {"created_at", utc_iso8601(c.created_at)}};
}

json suspect_json(const Suspect& s) {
  return {{"reference", s.reference},
          {"case", s.case_ref},
          {"lives_with_children", to_string(s.lives_with_children)},
          {"access_to_children", to_string(s.access_to_children)},
          {"children_count", s.children_count < 0 ? json() : json(s.children_count)},
          {"age_bands", s.age_bands},
          {"access_notes", s.access_notes},
          {"at_risk", s.at_risk()},
          {"created_at", utc_iso8601(s.created_at)}};
}

json device_json(const Device& d) {
  QueueEntry e;
  e.device = d;
  json j = to_json(e);
  for (const char* k : {"rank", "risk", "overdue", "waiting_days"}) j.erase(k);
  j["notes"] = d.notes;
  j["last_error"] = d.last_error.empty() ? json() : json(d.last_error);
  return j;
}

json change_json(const ChangeResult& r, int64_t now) {
  json j = {{"devices_reranked", r.devices_reranked}, {"alerts_raised", json::array()}};
  for (auto& a : r.alerts_raised) j["alerts_raised"].push_back(to_json(a, now));
  return j;
}

json token_json(const Token& t) {
  return {{"id", t.id},
          {"name", t.name},
          {"role", to_string(t.role)},
          {"created_at", utc_iso8601(t.created_at)},
          {"created_by", t.created_by},
          {"revoked_at", iso_or_null(t.revoked_at)}};
}

json policy_json(const Policy& p) {
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

Response json_response(const json& j, int status = 200) {
  Response r;
  r.status = status;
  r.body = dump(j);
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

enum class Need { read, work, manage };

bool allowed(Role r, Need n) {
  switch (n) {
    case Need::read:
      return true;
    case Need::work:
      return r == Role::manager || r == Role::examiner;
    case Need::manage:
      return r == Role::manager;
  }
  return false;
}

// Everything a handler needs for one request.
struct Call {
  const Request& req;
  const Target& t;
  RequestInfo& info;
  StorePool& pool;
  ApiOptions opts;
  RequestMetrics& metrics;
  Api::Caches& caches;
  std::optional<Token> token;
  std::string user;        // recorded in the audit
  int64_t generation = 0;  // of the database, read before any query of this request
};

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
  for (auto s : {DeviceState::intake, DeviceState::queued, DeviceState::acquiring,
                 DeviceState::acquired, DeviceState::carving, DeviceState::review,
                 DeviceState::done, DeviceState::failed, DeviceState::withdrawn}) {
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

// Matches segments against a pattern where "*" captures one segment.
bool match(const std::vector<std::string>& seg, std::initializer_list<const char*> pat,
           std::vector<std::string>* caps = nullptr) {
  if (seg.size() != pat.size()) return false;
  size_t i = 0;
  std::vector<std::string> got;
  for (const char* p : pat) {
    if (std::string_view(p) == "*")
      got.push_back(seg[i]);
    else if (seg[i] != p)
      return false;
    ++i;
  }
  if (caps) *caps = std::move(got);
  return true;
}

struct Route {
  std::string pattern;                  // for logs and metrics
  std::map<std::string, Need> methods;  // allowed methods and the role each needs
};

Response dispatch(Call& c);
std::string cache_prometheus(Api::Caches& caches);

}  // namespace

// ---------------------------------------------------------------------------------------------

void StorePool::warm_up() {
  auto l = acquire();
}

StorePool::Lease::~Lease() {
  if (!store_ || !pool_) return;
  std::lock_guard lk(pool_->mu_);
  pool_->idle_.push_back(std::move(store_));
}

StorePool::Lease StorePool::acquire() {
  {
    std::lock_guard lk(mu_);
    if (!idle_.empty()) {
      auto s = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(s));
    }
  }
  auto s = Store::open(url_);
  std::function<int64_t()> clock;
  {
    std::lock_guard lk(mu_);
    clock = clock_;
  }
  if (clock) s->set_clock(clock);
  return Lease(*this, std::move(s));
}

std::unique_ptr<Store> StorePool::open_unpooled() {
  auto s = Store::open(url_);
  std::lock_guard lk(mu_);
  if (clock_) s->set_clock(clock_);
  return s;
}

std::string StorePool::backend() {
  return acquire()->backend();
}

// ---------------------------------------------------------------------------------------------
// Caches. Every cached value is tagged with the database generation read before the query that
// made it; the generation moves when Store::data_version() changes (a commit by any connection,
// of any process) or when this server handles a request that may write.

struct Api::Caches {
  using Clock = std::chrono::steady_clock;

  Caches(StorePool& p, const ApiOptions& o) : pool(p), opts(o) {}

  int64_t generation() {
    std::lock_guard lk(watch_mu);
    auto t = Clock::now();
    if (checked && t - last_check < check_interval()) return gen;
    try {
      if (!watch) watch = pool.open_unpooled();
      if (interval_us < 0)
        interval_us = opts.change_check_us >= 0          ? opts.change_check_us
                      : watch->backend() == "postgresql" ? 5000
                                                         : 1000;
      auto v = watch->data_version();
      if (v != version) {
        version = std::move(v);
        ++gen;
      }
      checked = true;
      last_check = t;
    } catch (const std::exception&) {
      // Unreadable marker: nothing cached counts (the request's own query reports the failure).
      watch.reset();
      checked = false;
      ++gen;
    }
    return gen;
  }
  std::chrono::microseconds check_interval() const {
    return std::chrono::microseconds(interval_us < 0 ? 0 : interval_us);
  }
  // After a request that may have written: what was cached before it no longer counts.
  void bump() {
    std::lock_guard lk(watch_mu);
    ++gen;
  }

  std::shared_ptr<const std::string> listing(const std::string& key, int64_t g, int64_t t) {
    std::lock_guard lk(list_mu);
    auto it = listings.find(key);
    if (it == listings.end() || it->second.gen != g || it->second.t != t) {
      ++stats.listing_misses;
      return nullptr;
    }
    ++stats.listing_hits;
    return it->second.body;
  }
  void keep_listing(const std::string& key, int64_t g, int64_t t, std::string body) {
    std::lock_guard lk(list_mu);
    auto it = listings.find(key);
    if (it != listings.end()) {
      if (std::make_pair(it->second.gen, it->second.t) > std::make_pair(g, t)) return;  // newer
      listing_bytes -= it->second.body->size() + key.size();
      listings.erase(it);
    }
    if (listings.size() >= 256 || listing_bytes + body.size() > (64u << 20)) {
      listings.clear();
      listing_bytes = 0;
    }
    listing_bytes += body.size() + key.size();
    listings.emplace(key, Listing{g, t, std::make_shared<const std::string>(std::move(body))});
  }

  std::optional<Token> token(const std::string& hash, int64_t g) {
    std::lock_guard lk(token_mu);
    auto it = tokens.find(hash);
    if (it != tokens.end() && it->second.gen == g) {
      ++stats.token_hits;
      return it->second.token;
    }
    ++stats.token_misses;
    return std::nullopt;
  }
  void keep_token(const std::string& hash, const Token& t, int64_t g) {
    if (!opts.cache_tokens) return;
    std::lock_guard lk(token_mu);
    if (tokens.size() >= 1024) tokens.clear();
    tokens[hash] = {t, g};
  }
  void forget_tokens() {
    std::lock_guard lk(token_mu);
    tokens.clear();
  }

  StorePool& pool;
  const ApiOptions& opts;

  std::mutex watch_mu;
  std::unique_ptr<Store> watch;  // its own connection: SQLite's data_version ignores own writes
  std::string version;
  bool checked = false;
  Clock::time_point last_check{};
  int64_t interval_us = -1;
  int64_t gen = 0;

  struct Listing {
    int64_t gen;
    int64_t t;  // the clock second the body was made in (waiting days, overdue depend on it)
    std::shared_ptr<const std::string> body;
  };
  std::mutex list_mu;
  std::unordered_map<std::string, Listing> listings;
  size_t listing_bytes = 0;

  struct CachedToken {
    Token token;
    int64_t gen;
  };
  std::mutex token_mu;
  std::unordered_map<std::string, CachedToken> tokens;  // by SHA-256 of the secret

  CacheStats stats;  // under list_mu (listing) and token_mu (token)
};

namespace {
std::string cache_prometheus(Api::Caches& caches) {
  Api::CacheStats st;
  {
    std::lock_guard lk(caches.list_mu);
    st.listing_hits = caches.stats.listing_hits;
    st.listing_misses = caches.stats.listing_misses;
  }
  {
    std::lock_guard lk(caches.token_mu);
    st.token_hits = caches.stats.token_hits;
    st.token_misses = caches.stats.token_misses;
  }
  return fmt::format(
      "# HELP safehold_cache_lookups_total Lookups in the server's caches (valid until the "
      "database "
      "changes).\n# TYPE safehold_cache_lookups_total counter\n"
      "safehold_cache_lookups_total{{cache=\"listing\",result=\"hit\"}} {}\n"
      "safehold_cache_lookups_total{{cache=\"listing\",result=\"miss\"}} {}\n"
      "safehold_cache_lookups_total{{cache=\"token\",result=\"hit\"}} {}\n"
      "safehold_cache_lookups_total{{cache=\"token\",result=\"miss\"}} {}\n",
      st.listing_hits, st.listing_misses, st.token_hits, st.token_misses);
}
}  // namespace

Api::CacheStats Api::cache_stats() const {
  CacheStats out;
  {
    std::lock_guard lk(caches_->list_mu);
    out.listing_hits = caches_->stats.listing_hits;
    out.listing_misses = caches_->stats.listing_misses;
  }
  std::lock_guard lk(caches_->token_mu);
  out.token_hits = caches_->stats.token_hits;
  out.token_misses = caches_->stats.token_misses;
  return out;
}

void StorePool::set_clock(std::function<int64_t()> clock) {
  std::lock_guard lk(mu_);
  clock_ = clock;
  for (auto& s : idle_) s->set_clock(clock);
}

namespace {
const std::vector<double> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                      0.1,   0.25,   0.5,   1,    2.5,   5};
}

void RequestMetrics::observe(const std::string& route, const std::string& method, int status,
                             double seconds) {
  std::lock_guard lk(mu_);
  ++counts_[{route, method, status}];
  auto& s = latency_[route];
  if (s.buckets.empty()) s.buckets.assign(kBuckets.size(), 0);
  ++s.count;
  s.sum += seconds;
  for (size_t i = 0; i < kBuckets.size(); ++i)
    if (seconds <= kBuckets[i]) ++s.buckets[i];
}

std::string RequestMetrics::prometheus() const {
  std::lock_guard lk(mu_);
  std::string o =
      "# HELP safehold_http_requests_total HTTP requests by route, method and status.\n"
      "# TYPE safehold_http_requests_total counter\n";
  for (auto& [k, n] : counts_)
    o +=
        fmt::format("safehold_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{}\"}} {}\n",
                    std::get<0>(k), std::get<1>(k), std::get<2>(k), n);
  o += "# HELP safehold_http_request_duration_seconds Time to handle a request, by route.\n"
       "# TYPE safehold_http_request_duration_seconds histogram\n";
  for (auto& [route, s] : latency_) {
    for (size_t i = 0; i < kBuckets.size(); ++i)
      o += fmt::format(
          "safehold_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n", route,
          kBuckets[i], s.buckets[i]);
    o += fmt::format(
        "safehold_http_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n", route,
        s.count);
    o += fmt::format("safehold_http_request_duration_seconds_sum{{route=\"{}\"}} {:.6f}\n", route,
                     s.sum);
    o += fmt::format("safehold_http_request_duration_seconds_count{{route=\"{}\"}} {}\n", route,
                     s.count);
  }
  return o;
}

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
    Call c{r, t, info, pool_, opts_, metrics_, *caches_, std::nullopt, "", 0};
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
    if (e.kind == QueueError::Kind::storage)
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

namespace {

// Authenticates (401), authorises (403) and returns the store lease; sets c.user.
std::string secret_hash(const std::string& secret) {
  // Fetched once: an implicit fetch on every digest costs more than the digest.
  static const std::unique_ptr<EVP_MD, decltype(&EVP_MD_free)> sha256(
      EVP_MD_fetch(nullptr, "SHA256", nullptr), &EVP_MD_free);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!sha256 || EVP_Digest(secret.data(), secret.size(), md, &n, sha256.get(), nullptr) != 1)
    throw std::runtime_error("SHA-256 failed");
  return std::string(reinterpret_cast<const char*>(md), n);
}

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
  std::string hash = secret_hash(secret);
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

Response method_not_allowed(const Route& route) {
  std::string allow;
  for (auto& [m, n] : route.methods) allow += (allow.empty() ? "" : ", ") + m;
  auto r = error_response(405, "method not allowed on this path; allowed: " + allow);
  r.headers.push_back({"Allow", allow});
  return r;
}

Response dispatch(Call& c) {
  const auto& seg = c.t.segments;
  const std::string& m = c.req.method;
  std::vector<std::string> cap;

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
      return r;
    }
  }

  if (match(seg, {"healthz"})) {
    c.info.route = "/healthz";
    if (m != "GET" && m != "HEAD") return method_not_allowed({"/healthz", {{"GET", Need::read}}});
    try {
      auto lease = c.pool.acquire();
      lease->policy();
    } catch (const std::exception&) {
      return json_response({{"status", "unavailable"}, {"database", "unreachable"}}, 503);
    }
    return json_response({{"status", "ok"}});
  }

  // Finds the route; every route below needs a token.
  Route route;
  auto R = [&](std::string pattern, std::map<std::string, Need> methods) {
    route = {std::move(pattern), std::move(methods)};
    return true;
  };
  bool found =
      (match(seg, {"metrics"}) && R("/metrics", {{"GET", Need::read}})) ||
      (match(seg, {"api", "me"}) && R("/api/me", {{"GET", Need::read}})) ||
      (match(seg, {"api", "queue"}) && R("/api/queue", {{"GET", Need::read}})) ||
      (match(seg, {"api", "breaches"}) && R("/api/breaches", {{"GET", Need::read}})) ||
      (match(seg, {"api", "cases"}) &&
       R("/api/cases", {{"GET", Need::read}, {"POST", Need::manage}})) ||
      (match(seg, {"api", "cases", "*"}, &cap) &&
       R("/api/cases/{case}", {{"GET", Need::read}, {"PATCH", Need::manage}})) ||
      (match(seg, {"api", "suspects"}) &&
       R("/api/suspects", {{"GET", Need::read}, {"POST", Need::manage}})) ||
      (match(seg, {"api", "suspects", "*"}, &cap) &&
       R("/api/suspects/{suspect}", {{"GET", Need::read}, {"PATCH", Need::manage}})) ||
      (match(seg, {"api", "devices"}) && R("/api/devices", {{"POST", Need::manage}})) ||
      (match(seg, {"api", "devices", "*"}, &cap) &&
       R("/api/devices/{exhibit}", {{"GET", Need::read}})) ||
      (match(seg, {"api", "devices", "*", "explain"}, &cap) &&
       R("/api/devices/{exhibit}/explain", {{"GET", Need::read}})) ||
      (match(seg, {"api", "devices", "*", "audit"}, &cap) &&
       R("/api/devices/{exhibit}/audit", {{"GET", Need::read}})) ||
      (match(seg, {"api", "devices", "*", "state"}, &cap) &&
       R("/api/devices/{exhibit}/state", {{"POST", Need::manage}})) ||
      (match(seg, {"api", "devices", "*", "heartbeat"}, &cap) &&
       R("/api/devices/{exhibit}/heartbeat", {{"POST", Need::work}})) ||
      (match(seg, {"api", "devices", "*", "complete"}, &cap) &&
       R("/api/devices/{exhibit}/complete", {{"POST", Need::work}})) ||
      (match(seg, {"api", "devices", "*", "fail"}, &cap) &&
       R("/api/devices/{exhibit}/fail", {{"POST", Need::work}})) ||
      (match(seg, {"api", "claim"}) && R("/api/claim", {{"POST", Need::work}})) ||
      (match(seg, {"api", "reap"}) && R("/api/reap", {{"POST", Need::manage}})) ||
      (match(seg, {"api", "alerts"}) && R("/api/alerts", {{"GET", Need::read}})) ||
      (match(seg, {"api", "alerts", "*"}, &cap) && R("/api/alerts/{id}", {{"GET", Need::read}})) ||
      (match(seg, {"api", "alerts", "*", "ack"}, &cap) &&
       R("/api/alerts/{id}/ack", {{"POST", Need::manage}})) ||
      (match(seg, {"api", "audit"}) && R("/api/audit", {{"GET", Need::read}})) ||
      (match(seg, {"api", "audit", "verify"}) && R("/api/audit/verify", {{"GET", Need::read}})) ||
      (match(seg, {"api", "policy"}) &&
       R("/api/policy", {{"GET", Need::read}, {"PUT", Need::manage}})) ||
      (match(seg, {"api", "tokens"}) &&
       R("/api/tokens", {{"GET", Need::manage}, {"POST", Need::manage}})) ||
      (match(seg, {"api", "tokens", "*", "revoke"}, &cap) &&
       R("/api/tokens/{token}/revoke", {{"POST", Need::manage}}));
  if (!found) throw HttpError{404, "no such endpoint", ""};
  c.info.route = route.pattern;
  auto mit = route.methods.find(m == "HEAD" ? "GET" : m);
  if (mit == route.methods.end()) return method_not_allowed(route);
  auto lease = authorise(c, mit->second);
  Store& s = *lease;
  const std::string& p = route.pattern;
  const std::string key = m + " " + p;
  const std::string id = cap.empty() ? "" : cap[0];

  try {
    if (p == "/metrics") {
      Response r;
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = prometheus_queue(s.metrics()) + c.metrics.prometheus() + cache_prometheus(c.caches);
      return r;
    }
    if (p == "/api/me")
      return json_response({{"id", c.token->id},
                            {"name", c.token->name},
                            {"role", to_string(c.token->role)},
                            {"user", c.user}});
    if (p == "/api/queue") {
      ListQuery q;
      q.limit = query_int(c.t, "limit", c.opts.default_list, 1, c.opts.max_list);
      q.offset = query_int(c.t, "offset", 0, 0, INT64_C(1) << 40);
      q.case_ref = query_str(c.t, "case");
      auto st = query_str(c.t, "state");
      if (!st.empty()) {
        q.states.clear();
        if (st != "all") {
          size_t i = 0;
          while (i <= st.size()) {
            size_t j = st.find(',', i);
            if (j == std::string::npos) j = st.size();
            auto one = st.substr(i, j - i);
            auto v = parse_state(one);
            if (!v)
              throw HttpError{
                  400,
                  fmt::format("query parameter 'state' must be 'all' or a comma list of: {}",
                              kStates),
                  "state"};
            q.states.push_back(*v);
            i = j + 1;
          }
        }
      }
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
      if (c.opts.cache_listings && s.now() == t0)
        c.caches.keep_listing(ck, c.generation, t0, r.body);
      return r;
    }
    if (p == "/api/breaches") {
      json arr = json::array();
      for (auto& e : s.breaches()) arr.push_back(to_json(e));
      return json_response(arr);
    }
    if (key == "GET /api/cases") {
      json arr = json::array();
      for (auto& k : s.list_cases()) arr.push_back(case_json(k));
      return json_response(arr);
    }
    if (key == "POST /api/cases") {
      auto j = body_object(c.req);
      Fields f(j, {"reference", "risk", "offence", "officer", "notes"});
      NewCase nc;
      nc.reference = *f.str("reference", true);
      nc.risk = f.choice<Risk>("risk", parse_risk, kRisks).value_or(Risk::none);
      nc.offence = f.str("offence").value_or("");
      nc.officer = f.str("officer").value_or("");
      nc.notes = f.str("notes").value_or("");
      return json_response(case_json(s.add_case(c.user, nc)), 201);
    }
    if (key == "GET /api/cases/{case}") {
      json j = case_json(s.get_case(id));
      j["suspects"] = json::array();
      for (auto& x : s.list_suspects(id)) j["suspects"].push_back(suspect_json(x));
      return json_response(j);
    }
    if (key == "PATCH /api/cases/{case}") {
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
      out["case"] = case_json(s.get_case(id));
      return json_response(out);
    }
    if (key == "GET /api/suspects") {
      json arr = json::array();
      for (auto& x : s.list_suspects(query_str(c.t, "case"))) arr.push_back(suspect_json(x));
      return json_response(arr);
    }
    if (key == "POST /api/suspects") {
      auto j = body_object(c.req);
      Fields f(j, {"reference", "case", "lives_with_children", "access_to_children",
                   "children_count", "age_bands", "access_notes"});
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
      out["suspect"] = suspect_json(sus);
      return json_response(out, 201);
    }
    if (key == "GET /api/suspects/{suspect}") {
      auto sus = s.get_suspect(id);
      json j = suspect_json(sus);
      ListQuery q;
      q.states.clear();
      q.case_ref = sus.case_ref;
      j["devices"] = json::array();
      for (auto& e : s.list(q))
        if (e.device.suspect_ref == id) j["devices"].push_back(e.device.exhibit);
      return json_response(j);
    }
    if (key == "PATCH /api/suspects/{suspect}") {
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
      out["suspect"] = suspect_json(s.get_suspect(id));
      return json_response(out);
    }
    if (key == "POST /api/devices") {
      auto j = body_object(c.req);
      Fields f(j, {"exhibit", "suspect", "class", "capacity", "seized", "source", "notes"});
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
      return json_response(device_json(s.add_device(c.user, nd)), 201);
    }
    if (key == "GET /api/devices/{exhibit}") return json_response(device_json(s.get_device(id)));
    if (p == "/api/devices/{exhibit}/explain") return json_response(to_json(s.explain(id)));
    if (p == "/api/devices/{exhibit}/audit") {
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
    if (p == "/api/devices/{exhibit}/state") {
      auto j = body_object(c.req);
      Fields f(j, {"state", "reason"});
      auto to = *f.choice<DeviceState>("state", parse_state, kStates, true);
      auto reason = f.reason();
      return json_response(device_json(s.set_device_state(c.user, id, to, reason)));
    }
    if (p == "/api/claim") {
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
          throw HttpError{400, fmt::format("field 'kinds' items must be one of: {}", kKinds),
                          "kinds"};
        cr.kinds.push_back(*v);
      }
      auto ls = f.integer("lease_seconds");
      if (ls && (*ls < 1 || *ls > 86400))
        throw HttpError{400, "field 'lease_seconds' must be from 1 to 86400", "lease_seconds"};
      cr.lease_seconds = ls.value_or(0);
      auto got = s.claim(c.user, cr);
      if (!got) return json_response({{"claim", nullptr}});
      json d = device_json(got->device);
      d["kind"] = to_string(got->kind);
      return json_response({{"claim", d}});
    }
    if (p == "/api/devices/{exhibit}/heartbeat") {
      auto j = body_object(c.req);
      Fields f(j, {"station"});
      return json_response(device_json(s.heartbeat(c.user, id, *f.str("station", true))));
    }
    if (p == "/api/devices/{exhibit}/complete") {
      auto j = body_object(c.req);
      Fields f(j, {"station", "note"});
      auto station = *f.str("station", true);
      return json_response(
          device_json(s.complete(c.user, id, station, f.str("note").value_or(""))));
    }
    if (p == "/api/devices/{exhibit}/fail") {
      auto j = body_object(c.req);
      Fields f(j, {"station", "error"});
      auto station = *f.str("station", true);
      auto err = *f.str("error", true);
      return json_response(device_json(s.fail(c.user, id, station, err)));
    }
    if (p == "/api/reap") return json_response({{"returned", s.reap_expired(c.user)}});
    if (p == "/api/alerts") {
      json arr = json::array();
      int64_t now = s.now();
      for (auto& a : s.alerts(query_bool(c.t, "open"))) arr.push_back(to_json(a, now));
      return json_response(arr);
    }
    if (p == "/api/alerts/{id}")
      return json_response(to_json(s.get_alert(id_segment(id, "alert")), s.now()));
    if (p == "/api/alerts/{id}/ack") {
      auto aid = id_segment(id, "alert");
      auto j = body_object(c.req);
      Fields f(j, {"reference"});
      auto ref = *f.str("reference", true);
      if (ref.find_first_not_of(" \t") == std::string::npos)
        throw HttpError{400, "field 'reference' must not be empty", "reference"};
      s.get_alert(aid);
      return json_response(to_json(s.acknowledge(c.user, aid, ref), s.now()));
    }
    if (p == "/api/audit") {
      auto entity = query_str(c.t, "entity");
      auto eid = query_str(c.t, "id");
      if (!eid.empty() && entity.empty())
        throw HttpError{400, "query parameter 'id' needs 'entity'", "id"};
      auto limit = query_int(c.t, "limit", 1000, 1, 100000);
      json arr = json::array();
      for (auto& r : s.audit(entity, eid, limit)) arr.push_back(to_json(r));
      return json_response(arr);
    }
    if (p == "/api/audit/verify") {
      auto r = s.verify_audit();
      return json_response({{"ok", r.ok}, {"records", r.records}, {"problems", r.problems}});
    }
    if (key == "GET /api/policy") return json_response(policy_json(s.policy()));
    if (key == "PUT /api/policy") {
      auto j = body_object(c.req);
      Fields f(j, {"deadline_days", "alert_hours", "aging_days_per_level", "lease_seconds",
                   "max_attempts", "reason"});
      Policy pol = s.policy();
      if (f.has("deadline_days")) {
        const auto& dd = j.at("deadline_days");
        if (!dd.is_object())
          throw HttpError{400, "field 'deadline_days' must be an object by risk band",
                          "deadline_days"};
        for (auto it = dd.begin(); it != dd.end(); ++it) {
          auto r = parse_risk(it.key());
          if (!r || !it.value().is_number_integer())
            throw HttpError{400,
                            fmt::format("field 'deadline_days' must map {} to whole days", kRisks),
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
      auto reason = f.reason();
      auto res = s.set_policy(c.user, pol, reason);
      json out = change_json(res, s.now());
      out["policy"] = policy_json(s.policy());
      return json_response(out);
    }
    if (key == "GET /api/tokens") {
      json arr = json::array();
      for (auto& t : s.list_tokens()) arr.push_back(token_json(t));
      return json_response(arr);
    }
    if (key == "POST /api/tokens") {
      auto j = body_object(c.req);
      Fields f(j, {"role", "name"});
      auto role = *f.choice<Role>("role", parse_role, "manager, examiner, auditor", true);
      auto nt = s.create_token(c.user, role, f.str("name").value_or(""));
      json out = token_json(nt.token);
      out["token"] = nt.secret;  // shown once
      return json_response(out, 201);
    }
    if (p == "/api/tokens/{token}/revoke") {
      auto revoked = s.revoke_token(c.user, id);
      c.caches.forget_tokens();
      return json_response(token_json(revoked));
    }
  } catch (const QueueError& e) {
    if (e.kind == QueueError::Kind::storage) lease.discard();
    throw;
  }
  throw HttpError{404, "no such endpoint", ""};
}

}  // namespace
}  // namespace safehold::server
