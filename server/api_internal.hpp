// Internal to server/: what the API's request handling (api.cpp), its caches (api_cache.cpp) and
// its route table with the handlers (api_routes.cpp) share.
#pragma once

#include <fmt/core.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "scheduler/views.hpp"
#include "server/api.hpp"

namespace safehold::server::detail {

using nlohmann::json;

// Thrown inside a handler to end it with a JSON error.
struct HttpError {
  int status;
  std::string message;
  std::string field;
};

struct Target {
  std::vector<std::string> segments;  // %-decoded
  std::map<std::string, std::string> query;
};
Target parse_target(const std::string& target);

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

// The request body as a JSON object: 400 when it is empty, not JSON, not an object, or holds a key
// twice in one object (which value would count is up to the parser: refused instead).
json body_object(const Request& r);

inline constexpr const char* kRisks = "very-high, high, medium, low, none";
inline constexpr const char* kAnswers = "yes, no, unknown";
inline constexpr const char* kClasses = "phone, tablet, computer, removable, other";
inline constexpr const char* kStates =
    "intake, queued, acquiring, acquired, carving, review, done, failed, withdrawn, needs-source";
inline constexpr const char* kKinds = "acquire, carve";

Response json_response(const json& j, int status = 200);
int64_t query_int(const Target& t, const char* name, int64_t dflt, int64_t lo, int64_t hi);
std::string query_str(const Target& t, const char* name);
bool query_bool(const Target& t, const char* name);
// The query parameter `state`: "all" or absent (every state, an empty list) or a comma list of
// states (400 naming the parameter otherwise).
std::vector<DeviceState> query_states(const Target& t);
// A numeric id from the path; 404 naming `what` when it is not one.
int64_t id_segment(const std::string& s, const char* what);

// What a route's method needs of the token's role: read (every role but grader), work
// (examiner, manager), manage (manager), grade (grader, manager), any (every role).
enum class Need { read, work, manage, grade, any };

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
  Store* store = nullptr;  // the request's connection, once authorised
  std::string id;          // the path's one captured segment ("" when the route has none)
};

using Handler = Response (*)(Call& c);
struct Method {
  const char* method;  // "GET", "POST", …; HEAD is served by GET
  Need need;
  Handler handler;
};
// One route: its path (segments, "*" captures one) and, for each method, the role it needs and
// the handler that answers it.
struct Route {
  std::vector<const char*> segments;
  const char* pattern;  // for logs and metrics, e.g. "/api/devices/{exhibit}/explain"
  std::vector<Method> methods;
};
// Every authenticated route (api_routes.cpp). /healthz and the dashboard's files are answered
// before this table, without a token.
const std::vector<Route>& routes();
// The grading routes (api_grading.cpp), part of routes().
const std::vector<Route>& grading_routes();
// GET /api/history and /api/forecast (api_backlog.cpp), part of routes().
const std::vector<Route>& backlog_routes();
// GET /api/devices: every device's state and findings counts (api_backlog.cpp).
Response list_devices(Call& c);

std::string prometheus_queue(const Metrics& m);
// Grading queues and time to submission per case (api_grading.cpp).
std::string grading_prometheus(const std::vector<GradingStatus>& cases);
std::string cache_prometheus(Api::Caches& caches);

}  // namespace safehold::server::detail

namespace safehold::server {

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

  // The database's state for /healthz: "ok", "write-locked" (another process holds SQLite's
  // write lock: reads are served, writes get 503) or "unreachable". Probed on a connection of its
  // own, waiting at most 200 ms for the lock, at most every health_interval_ms; a check that
  // arrives while another probes answers with the last state instead of queueing.
  std::string health() {
    std::unique_lock lk(health_mu, std::try_to_lock);
    if (!lk.owns_lock()) {
      {
        std::lock_guard g(health_state_mu);
        if (!health_state.empty()) return health_state;
      }
      lk.lock();
    }
    auto t = Clock::now();
    {
      std::lock_guard g(health_state_mu);
      if (!health_state.empty() &&
          t - health_at < std::chrono::milliseconds(opts.health_interval_ms))
        return health_state;
    }
    std::string state;
    try {
      if (!health_store) health_store = pool.open_unpooled(Store::OpenOptions{200});
      state = health_store->write_locked() ? "write-locked" : "ok";
    } catch (const std::exception&) {
      health_store.reset();
      state = "unreachable";
    }
    std::lock_guard g(health_state_mu);
    health_state = state;
    health_at = Clock::now();
    return state;
  }
  std::mutex health_mu;  // held while probing
  std::unique_ptr<Store> health_store;
  std::mutex health_state_mu;
  std::string health_state;  // "" until the first probe
  Clock::time_point health_at{};
};

}  // namespace safehold::server
