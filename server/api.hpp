// server/: `safehold serve`. This header is the transport-free half: an HTTP request in, a
// response out. Routing, bearer-token authentication with roles, JSON validation, the mapping of
// QueueError kinds onto statuses, request metrics and the embedded dashboard. server.hpp puts it on
// a socket (Boost.Beast, TLS through Asio/OpenSSL).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "scheduler/queue.hpp"

namespace safehold::server {

// The server is a view of the scheduler's model: its types are used unqualified here.
using namespace safehold::scheduler;

struct Request {
  std::string method;         // "GET", "POST"…
  std::string target;         // path and query, as received
  std::string authorization;  // the Authorization header ("" when absent)
  std::string body;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

// What the access log may say about a request: never the path's ids, the query, or the token.
struct RequestInfo {
  std::string route;  // the route pattern, e.g. "/api/devices/{exhibit}/explain"
  int64_t token_id = 0;
  std::string role;
};

// Stores are one connection each and not thread-safe: a thread takes one for a request.
class StorePool {
 public:
  explicit StorePool(std::string url, Store::OpenOptions options = {})
      : url_(std::move(url)), options_(options) {}
  // Opens one connection now so that an unreachable database is a start-up error.
  void warm_up();
  class Lease {
   public:
    Lease(StorePool& p, std::unique_ptr<Store> s) : pool_(&p), store_(std::move(s)) {}
    Lease(Lease&&) = default;
    ~Lease();
    Store& operator*() { return *store_; }
    Store* operator->() { return store_.get(); }
    // Drops the connection instead of returning it (after a storage error).
    void discard() { store_.reset(); }

   private:
    StorePool* pool_;
    std::unique_ptr<Store> store_;
  };
  Lease acquire();
  // A connection of its own, outside the pool (the caches' change watch: it never writes; the
  // health check, with its own lock wait).
  std::unique_ptr<Store> open_unpooled();
  std::unique_ptr<Store> open_unpooled(const Store::OpenOptions& options);
  std::string backend();
  // Tests inject a clock into every store the pool opens.
  void set_clock(std::function<int64_t()> clock);
  // Told of every audit anchor a store of this pool writes (the server logs them).
  void set_anchor_notify(std::function<void(const AuditAnchor&)> notify);

 private:
  std::unique_ptr<Store> open_store(const Store::OpenOptions& options);
  std::string url_;
  Store::OpenOptions options_;
  std::function<void(const AuditAnchor&)> anchor_notify_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Store>> idle_;
  std::function<int64_t()> clock_;
};

// Request counts and latency histograms by route, method and status, for /metrics.
class RequestMetrics {
 public:
  void observe(const std::string& route, const std::string& method, int status, double seconds);
  std::string prometheus() const;

 private:
  struct Series {
    int64_t count = 0;
    double sum = 0;
    std::vector<int64_t> buckets;
  };
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, int64_t> counts_;
  std::map<std::string, Series> latency_;  // by route
};

struct ApiOptions {
  int64_t max_list = 10000;  // largest ?limit= accepted
  int64_t default_list = 100;
  // The database's change marker (Store::data_version) is read at most this often, so a change
  // by another process shows within this bound; this server's own writes show at once. -1: 1 ms
  // on SQLite, 5 ms on PostgreSQL (a round trip). 0: on every request.
  int64_t change_check_us = -1;
  // A verified token is trusted without a database lookup until the database changes: a token
  // revoked by any process stops working at the next change check (see change_check_us).
  bool cache_tokens = true;
  bool cache_listings = true;  // GET /api/queue bodies, while the database and clock second hold
  // /healthz reads the database's state at most this often (a flood of health checks costs one
  // probe per interval).
  int64_t health_interval_ms = 250;
};

class Api {
 public:
  Api(StorePool& pool, ApiOptions opts = {});
  ~Api();
  // Never throws: every failure is a JSON error response. Fills info for the access log.
  Response handle(const Request& r, RequestInfo& info);
  RequestMetrics& metrics() { return metrics_; }

  struct Caches;  // internal (api.cpp): change watch, listing and token caches
  // Cache statistics (tests, /metrics).
  struct CacheStats {
    int64_t listing_hits = 0, listing_misses = 0, token_hits = 0, token_misses = 0;
  };
  CacheStats cache_stats() const;

 private:
  StorePool& pool_;
  ApiOptions opts_;
  RequestMetrics metrics_;
  std::unique_ptr<Caches> caches_;
};

// {"error": message} (and "field" when one field is at fault) with the given status.
Response error_response(int status, const std::string& message, const std::string& field = "");

// The dashboard's files, embedded in the binary: path ("/", "/app.js"…) -> (type, content).
const std::map<std::string, std::pair<std::string, std::string>>& dashboard_assets();
// The dashboard's backlog panels (/backlog.js, /backlog.css), part of dashboard_assets().
const std::map<std::string, std::pair<std::string, std::string>>& backlog_page_assets();
// The grading page's files (/grade, /grade.css, /grade.js), part of dashboard_assets().
const std::map<std::string, std::pair<std::string, std::string>>& grading_page_assets();
// What both pages load first (/common.js: elements, the API call, sign-in), part of
// dashboard_assets().
const std::map<std::string, std::pair<std::string, std::string>>& common_page_assets();

}  // namespace safehold::server
