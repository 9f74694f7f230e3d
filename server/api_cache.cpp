// The API's connection pool, its caches (valid until the database changes) and request metrics.
#include <fmt/core.h>

#include "server/api_internal.hpp"

namespace safehold::server {

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
  return Lease(*this, open_store(options_));
}

std::unique_ptr<Store> StorePool::open_unpooled() {
  return open_store(options_);
}

std::unique_ptr<Store> StorePool::open_unpooled(const Store::OpenOptions& options) {
  return open_store(options);
}

std::unique_ptr<Store> StorePool::open_store(const Store::OpenOptions& options) {
  auto s = Store::open(url_, options);
  std::lock_guard lk(mu_);
  if (clock_) s->set_clock(clock_);
  if (anchor_notify_) {
    auto a = s->anchor();
    a.notify = anchor_notify_;
    s->set_anchor(std::move(a));
  }
  return s;
}

void StorePool::set_anchor_notify(std::function<void(const AuditAnchor&)> notify) {
  std::lock_guard lk(mu_);
  anchor_notify_ = std::move(notify);
  for (auto& s : idle_) {
    auto a = s->anchor();
    a.notify = anchor_notify_;
    s->set_anchor(std::move(a));
  }
}

std::string StorePool::backend() {
  return acquire()->backend();
}

namespace detail {

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
}  // namespace detail

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

}  // namespace safehold::server
