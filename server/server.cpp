// Boost.Beast sessions (plain and TLS) around the transport-free Api.
#include "server/server.hpp"

#include <fmt/core.h>
#include <openssl/ssl.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <condition_variable>
#include <ctime>
#include <iostream>
#include <list>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "base/format.hpp"
#include "base/json.hpp"

namespace safehold::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using nlohmann::json;

namespace {

// ISO 8601 UTC with milliseconds, always three digits ("2026-12-07T10:00:00.120Z").
std::string now_iso() {
  auto now = std::chrono::system_clock::now();
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::time_t tt = std::chrono::system_clock::to_time_t(now);
  // The date and time to the second (base::iso8601 without its "Z"), once a second per thread.
  thread_local std::time_t last = -1;
  thread_local std::string seconds;
  if (tt != last) {
    seconds = base::iso8601(static_cast<int64_t>(tt));
    seconds.pop_back();
    last = tt;
  }
  return fmt::format("{}.{:03}Z", seconds, ms);
}

// A JSON string for a value that is almost always an HTTP token (method) or one of our names.
std::string json_string(std::string_view v) {
  bool plain = std::all_of(v.begin(), v.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '/' || c == '{' || c == '}' || c == '.';
  });
  if (plain) return fmt::format("\"{}\"", v);
  return base::dump(json(std::string(v)));
}

const char* kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'none'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

class SessionBase : public std::enable_shared_from_this<SessionBase> {
 public:
  explicit SessionBase(std::string client) : client_(std::move(client)) {}
  virtual ~SessionBase() = default;
  virtual void close_if_idle() = 0;
  const std::string& client() const { return client_; }
  // Read from the accepting thread to pick a connection to close at the cap.
  bool idle() const { return !in_request_.load(std::memory_order_relaxed) && !evicted_.load(); }
  int64_t active_at() const { return active_at_.load(std::memory_order_relaxed); }
  // Marks the connection as asked to close; false when it already was.
  bool mark_evicted() { return !evicted_.exchange(true); }

 protected:
  void touch(bool in_request) {
    in_request_.store(in_request, std::memory_order_relaxed);
    active_at_.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                     std::memory_order_relaxed);
  }

 private:
  const std::string client_;  // the peer's address
  std::atomic<bool> in_request_{false};
  std::atomic<bool> evicted_{false};
  std::atomic<int64_t> active_at_{0};
};

// The open-file limit leaves room for the database connections, the log and the listener.
int default_max_connections() {
  rlimit rl{};
  int64_t soft = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                     ? static_cast<int64_t>(rl.rlim_cur)
                     : 10064;
  return static_cast<int>(std::clamp<int64_t>(soft - 64, 16, 10000));
}

bool is_healthz(const std::string& target) {
  return target == "/healthz" || target.rfind("/healthz?", 0) == 0;
}

}  // namespace

struct Server::Impl {
  ServerOptions opts;
  // Declared before ioc: sessions still queued in it when it is destroyed count themselves out.
  std::atomic<bool> stopping{false};
  std::atomic<int64_t> live{0};
  std::mutex clients_mu;
  std::unordered_map<std::string, int> per_client;  // open connections by address
  net::io_context ioc;
  net::strand<net::io_context::executor_type> ctl{net::make_strand(ioc)};
  tcp::acceptor acceptor{ctl};
  net::steady_timer grace_timer{ctl};
  net::steady_timer flush_timer{ctl};
  std::optional<net::signal_set> signals;
  // One io_context per worker thread: a connection lives on one thread, without strands or
  // wake-ups of another thread. The control context (ioc: accept, timers, signals) runs on the
  // thread that called run(). Declared after ioc: destroyed first, their sessions' ends still
  // reach ctl.
  std::vector<std::unique_ptr<net::io_context>> workers;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> worker_guards;
  size_t next_worker = 0;
  std::optional<ssl::context> tls;
  StorePool pool;
  Api api;
  std::mutex sessions_mu;
  std::list<std::weak_ptr<SessionBase>> sessions;
  int max_connections = 0, max_per_client = 0;
  net::steady_timer accept_timer{ctl};  // a pause before accepting again when out of descriptors
  std::chrono::steady_clock::time_point refused_logged{};
  // Requests run here, never on the connections' threads: a request waiting for the database
  // holds a thread of these pools, and reads and writes have a pool each, so reads and /healthz
  // are answered while writes wait for a lock.
  std::optional<net::thread_pool> reads, writes;
  std::mutex log_mu;
  std::string url;
  uint16_t port = 0;

  explicit Impl(ServerOptions o)
      : opts(std::move(o)),
        pool(opts.db, Store::OpenOptions{opts.db_wait_ms}),
        api(pool, opts.api) {
    max_connections = opts.max_connections > 0 ? opts.max_connections : default_max_connections();
    max_per_client =
        opts.max_per_client > 0 ? opts.max_per_client : std::max(16, max_connections / 4);
    pool.set_anchor_notify([this](const AuditAnchor& a) {
      log({{"level", "info"},
           {"event", "audit_anchor"},
           {"seq", a.seq},
           {"hash", a.hash},
           {"at", a.at_text}});
    });
  }

  // Keep-alive idle timeout: opts.idle_seconds while at most half the connection cap is used,
  // then shrinking linearly to 1 s at the cap.
  int idle_timeout() const {
    double used = static_cast<double>(live.load()) / std::max(1, max_connections);
    if (used <= 0.5) return opts.idle_seconds;
    return std::max(1, static_cast<int>(opts.idle_seconds * (1.0 - used) * 2));
  }
  // Asks the longest-idle connection (of `client`, or of anyone when empty) to close; false when
  // none is idle.
  bool evict_idle(const std::string& client) {
    std::shared_ptr<SessionBase> oldest;
    std::lock_guard lk(sessions_mu);
    for (auto it = sessions.begin(); it != sessions.end();) {
      auto s = it->lock();
      if (!s) {
        it = sessions.erase(it);
        continue;
      }
      if (s->idle() && (client.empty() || s->client() == client) &&
          (!oldest || s->active_at() < oldest->active_at()))
        oldest = s;
      ++it;
    }
    if (!oldest || !oldest->mark_evicted()) return false;
    oldest->close_if_idle();
    return true;
  }
  void client_gone(const std::string& client) {
    std::lock_guard lk(clients_mu);
    auto it = per_client.find(client);
    if (it != per_client.end() && --it->second <= 0) per_client.erase(it);
  }
  // Logged at most once a second: a flood must not turn into a flood of log lines.
  void log_refused(const char* event, const std::string& detail) {
    auto t = std::chrono::steady_clock::now();
    if (t - refused_logged < std::chrono::seconds(1)) return;
    refused_logged = t;
    log({{"level", "warning"}, {"event", event}, {"detail", detail}, {"connections", live.load()}});
  }

  // One JSON line. Access-log lines (flush = false) are buffered and written out by the flush
  // timer (every 200 ms) or when the buffer fills: a flush per request would cost a write(2) each.
  void log(json j, bool flush = true) {
    j["ts"] = now_iso();
    std::string line = base::dump(j);
    std::lock_guard lk(log_mu);
    std::ostream& out = opts.log ? *opts.log : std::cout;
    out << line << '\n';
    if (flush) out.flush();
  }
  // The access-log line, built without a JSON object: it runs for every request.
  void log_request(std::string_view method, const RequestInfo& info, int status, double ms) {
    std::string line = fmt::format(
        "{{\"event\":\"request\",\"level\":\"{}\",\"method\":{},\"ms\":{},\"route\":{},\"status\":{"
        "}",
        status >= 500 ? "error" : "info", json_string(method.substr(0, 16)),
        std::round(ms * 1000) / 1000, json_string(info.route), status);
    if (info.token_id)
      line += fmt::format(",\"token_id\":{},\"role\":{}", info.token_id, json_string(info.role));
    line += fmt::format(",\"ts\":\"{}\"}}\n", now_iso());
    std::lock_guard lk(log_mu);
    std::ostream& out = opts.log ? *opts.log : std::cout;
    out << line;
    if (status >= 500) out.flush();
  }
  void flush_log() {
    std::lock_guard lk(log_mu);
    (opts.log ? *opts.log : std::cout).flush();
  }
  void schedule_flush() {
    flush_timer.expires_after(std::chrono::milliseconds(200));
    flush_timer.async_wait([this](beast::error_code ec) {
      if (ec || stopping) return;
      flush_log();
      schedule_flush();
    });
  }

  void session_ended() {
    if (--live == 0 && stopping && !ioc.stopped()) net::post(ctl, [this] { grace_timer.cancel(); });
  }

  void do_accept();
  void begin_stop();

  // The outbox's deliveries (ServerOptions::notify), on a thread of their own: a webhook that
  // answers slowly holds neither requests nor the control thread.
  std::thread notifier;
  std::mutex notify_mu;
  std::condition_variable notify_cv;
  bool notify_stop = false;
  void notify_loop() {
    std::unique_lock lk(notify_mu);
    while (!notify_stop) {
      lk.unlock();
      deliver_once();
      lk.lock();
      notify_cv.wait_for(lk, std::chrono::seconds(std::max(1, opts.notify_every_seconds)),
                         [this] { return notify_stop; });
    }
  }
  void deliver_once() {
    try {
      auto store = pool.acquire();
      auto r = deliver_due(*store, *opts.notify, "serve");
      if (r.delivered || r.failed)
        log({{"level", r.failed ? "warning" : "info"},
             {"event", "notify"},
             {"delivered", r.delivered},
             {"failed", r.failed}});
    } catch (const std::exception& e) {
      log({{"level", "error"}, {"event", "notify"}, {"error", e.what()}});
    }
  }
  void stop_notifier() {
    if (!notifier.joinable()) return;
    {
      std::lock_guard lk(notify_mu);
      notify_stop = true;
    }
    notify_cv.notify_all();
    notifier.join();
  }
};

namespace {

template <class Stream, bool Tls>
class Session : public SessionBase {
 public:
  Session(Server::Impl& srv, tcp::socket&& sock, std::string client)
      : SessionBase(std::move(client)), srv_(srv), stream_(make_stream(srv, std::move(sock))) {
    ++srv_.live;
    touch(false);
  }
  ~Session() override {
    srv_.client_gone(client());
    srv_.session_ended();
  }

  void start() {
    auto self = std::static_pointer_cast<Session>(shared_from_this());
    net::dispatch(stream_.get_executor(), [self] {
      if constexpr (Tls) {
        beast::get_lowest_layer(self->stream_).expires_after(std::chrono::seconds(15));
        self->stream_.async_handshake(ssl::stream_base::server, [self](beast::error_code ec) {
          if (ec) return;  // not a TLS client, or it went away: nothing to answer
          self->do_read();
        });
      } else {
        self->do_read();
      }
    });
  }

  void close_if_idle() override {
    auto self = std::static_pointer_cast<Session>(shared_from_this());
    net::post(stream_.get_executor(), [self] {
      if (!self->busy_) beast::get_lowest_layer(self->stream_).cancel();
    });
  }

 private:
  static Stream make_stream(Server::Impl& srv, tcp::socket&& sock) {
    if constexpr (Tls)
      return Stream(std::move(sock), *srv.tls);
    else
      return Stream(std::move(sock));
  }

  void do_read() {
    if (srv_.stopping) return do_close();
    parser_.emplace();
    parser_->body_limit(srv_.opts.body_limit);
    parser_->header_limit(16 * 1024);
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(srv_.idle_timeout()));
    auto self = std::static_pointer_cast<Session>(shared_from_this());
    http::async_read(stream_, buffer_, *parser_,
                     [self](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream) return do_close();
    if (ec == http::error::body_limit) {
      Response r = error_response(
          413, fmt::format("the request body is larger than {} bytes", srv_.opts.body_limit));
      return send(r, 11, false, false, "", 0);
    }
    if (ec == http::error::header_limit)
      return send(error_response(431, "the request headers are too large"), 11, false, false, "",
                  0);
    if (ec && ec.category() == http::make_error_code(http::error::bad_target).category()) {
      // Any other HTTP parse error: the client sent something that is not HTTP/1.1.
      return send(error_response(400, "malformed HTTP request"), 11, false, false, "", 0);
    }
    if (ec) return;  // timeout, reset or cancelled by stop(): the socket closes with us
    busy_ = true;
    touch(true);
    auto& req = parser_->get();
    auto r = std::make_shared<Request>();
    r->method = std::string(req.method_string());
    r->target = std::string(req.target());
    r->authorization = std::string(req[http::field::authorization]);
    r->body = std::move(req.body());
    unsigned version = req.version();
    bool keep_alive = req.keep_alive();
    auto self = std::static_pointer_cast<Session>(shared_from_this());
    auto work = [self, r, version, keep_alive] {
      RequestInfo info;
      auto t0 = std::chrono::steady_clock::now();
      Response out = self->srv_.api.handle(*r, info);
      double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      if (self->srv_.opts.access_log || out.status >= 500)
        self->srv_.log_request(r->method, info, out.status, ms);
      return std::make_pair(std::move(out), std::move(info));
    };
    // /healthz answers here: it never waits for the database (Api's health probe is bounded).
    if (is_healthz(r->target) || !srv_.reads) {
      auto [out, info] = work();
      return send(std::move(out), version, keep_alive, r->method == "HEAD", info.route, 0);
    }
    bool read = r->method == "GET" || r->method == "HEAD";
    net::post(read ? *srv_.reads : *srv_.writes, [self, r, version, keep_alive, work] {
      auto done = std::make_shared<std::pair<Response, RequestInfo>>(work());
      net::post(self->stream_.get_executor(), [self, r, version, keep_alive, done] {
        self->send(std::move(done->first), version, keep_alive, r->method == "HEAD",
                   done->second.route, 0);
      });
    });
  }

  void send(Response out, unsigned version, bool keep_alive, bool head, const std::string&,
            double) {
    busy_ = true;
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(out.status), version);
    res->set(http::field::server, "safehold");
    res->set(http::field::content_type, out.content_type);
    res->set("X-Content-Type-Options", "nosniff");
    res->set("X-Frame-Options", "DENY");
    res->set("Referrer-Policy", "no-referrer");
    res->set("Content-Security-Policy", kCsp);
    if constexpr (Tls) res->set("Strict-Transport-Security", "max-age=31536000");
    for (auto& [k, v] : out.headers) res->set(k, v);
    res->keep_alive(keep_alive && !srv_.stopping);
    res->body() = std::move(out.body);
    res->prepare_payload();
    if (head) res->body().clear();
    // However short the idle timeout has become, a response gets 30 s to be written.
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
    auto self = std::static_pointer_cast<Session>(shared_from_this());
    bool close = !res->keep_alive();
    http::async_write(stream_, *res, [self, res, close](beast::error_code ec, size_t) {
      self->busy_ = false;
      self->touch(false);
      if (ec) return;
      if (close) return self->do_close();
      self->do_read();
    });
  }

  void do_close() {
    if constexpr (Tls) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
      auto self = std::static_pointer_cast<Session>(shared_from_this());
      stream_.async_shutdown([self](beast::error_code) {});
    } else {
      // Lingering close: read and drop what the client still sends (the rest of a body over the
      // limit) so that closing does not reset the connection before it reads our answer.
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      stream_.expires_after(std::chrono::seconds(5));
      drain();
    }
  }

  void drain() {
    auto self = std::static_pointer_cast<Session>(shared_from_this());
    stream_.async_read_some(net::buffer(drain_buf_), [self](beast::error_code ec, size_t) {
      if (!ec) self->drain();
    });
  }

  Server::Impl& srv_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool busy_ = false;
  std::array<char, 4096> drain_buf_{};
};

using PlainSession = Session<beast::tcp_stream, false>;
using TlsSession = Session<beast::ssl_stream<beast::tcp_stream>, true>;

struct Listen {
  std::string host;
  uint16_t port = 0;
};

Listen parse_listen(const std::string& s) {
  Listen l;
  std::string port;
  if (!s.empty() && s[0] == '[') {
    auto close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':')
      throw ServeError("--listen must be HOST:PORT (IPv6 as [ADDRESS]:PORT)");
    l.host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    auto colon = s.rfind(':');
    if (colon == std::string::npos)
      throw ServeError("--listen must be HOST:PORT, e.g. 127.0.0.1:8080");
    l.host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  bool ok = !port.empty() && port.size() <= 5;
  for (char c : port) ok = ok && c >= '0' && c <= '9';
  if (!ok || std::stoul(port) > 65535)
    throw ServeError("--listen port must be a number from 0 to 65535");
  if (l.host.empty()) throw ServeError("--listen needs a host, e.g. 127.0.0.1:8080");
  l.port = static_cast<uint16_t>(std::stoul(port));
  return l;
}

}  // namespace

void Server::Impl::do_accept() {
  auto& worker = *workers[next_worker++ % workers.size()];
  acceptor.async_accept(worker.get_executor(), [this](beast::error_code ec, tcp::socket sock) {
    if (ec) {
      if (!acceptor.is_open() || stopping) return;
      if (ec == net::error::no_descriptors || ec.value() == EMFILE || ec.value() == ENFILE) {
        // Out of file descriptors: accepting again at once would spin. Free one (the
        // longest-idle connection) and wait a moment.
        evict_idle("");
        log_refused("accept_paused", "out of file descriptors");
        accept_timer.expires_after(std::chrono::milliseconds(50));
        accept_timer.async_wait([this](beast::error_code e) {
          if (!e && !stopping) do_accept();
        });
        return;
      }
      log({{"level", "warning"}, {"event", "accept_failed"}, {"error", ec.message()}});
      return do_accept();
    }
    if (stopping) return;
    beast::error_code peer_ec;
    auto peer = sock.remote_endpoint(peer_ec);
    std::string client = peer_ec ? std::string() : peer.address().to_string();
    bool over_client = false, over_total = false;
    {
      std::lock_guard lk(clients_mu);
      auto it = per_client.find(client);
      over_client = it != per_client.end() && it->second >= max_per_client;
      over_total = live.load() >= max_connections;
    }
    // At a cap, the longest-idle connection (of this client first) makes room; with none idle
    // the new connection is refused.
    bool room = over_client ? evict_idle(client) : !over_total || evict_idle("");
    if (!room) {
      beast::error_code ignored;
      sock.close(ignored);
      log_refused("connection_refused",
                  over_client ? "per-client connection cap reached" : "connection cap reached");
      return do_accept();
    }
    {
      std::lock_guard lk(clients_mu);
      ++per_client[client];
    }
    std::shared_ptr<SessionBase> s;
    if (tls) {
      auto t = std::make_shared<TlsSession>(*this, std::move(sock), client);
      t->start();
      s = t;
    } else {
      auto p = std::make_shared<PlainSession>(*this, std::move(sock), client);
      p->start();
      s = p;
    }
    {
      std::lock_guard lk(sessions_mu);
      for (auto it = sessions.begin(); it != sessions.end();)
        it = it->expired() ? sessions.erase(it) : std::next(it);
      sessions.push_back(s);
    }
    do_accept();
  });
}

void Server::Impl::begin_stop() {
  // Runs on ctl.
  if (stopping.exchange(true)) return;
  log({{"level", "info"}, {"event", "stopping"}, {"connections", live.load()}});
  beast::error_code ec;
  acceptor.close(ec);
  flush_timer.cancel();
  accept_timer.cancel();
  if (signals) signals->cancel(ec);
  std::vector<std::shared_ptr<SessionBase>> alive;
  {
    std::lock_guard lk(sessions_mu);
    for (auto& w : sessions)
      if (auto s = w.lock()) alive.push_back(s);
  }
  for (auto& s : alive) s->close_if_idle();
  alive.clear();
  if (live == 0) return;
  grace_timer.expires_after(std::chrono::seconds(opts.grace_seconds));
  grace_timer.async_wait([this](beast::error_code e) {
    if (e) return;  // every connection finished in time
    log({{"level", "warning"}, {"event", "grace_expired"}, {"connections", live.load()}});
    ioc.stop();
    for (auto& w : workers) w->stop();
  });
}

Server::Server(ServerOptions opts) {
  if (opts.tls_cert.empty() != opts.tls_key.empty())
    throw ServeError("--tls-cert and --tls-key go together: give both or neither");
  auto l = parse_listen(opts.listen);
  if (opts.notify) {
    try {
      check(*opts.notify);
    } catch (const std::runtime_error& e) {
      throw ServeError(e.what());
    }
  }
  impl_ = std::make_unique<Impl>(std::move(opts));
  auto& o = impl_->opts;

  boost::system::error_code ec;
  auto addr = net::ip::make_address(l.host == "localhost" ? "127.0.0.1" : l.host, ec);
  if (ec) {
    tcp::resolver res(impl_->ioc);
    auto found = res.resolve(l.host, std::to_string(l.port), ec);
    if (ec || found.empty())
      throw ServeError(fmt::format("cannot resolve the --listen host {}", l.host));
    addr = found.begin()->endpoint().address();
  }
  if (!addr.is_loopback() && o.tls_cert.empty() && !o.insecure)
    throw ServeError(fmt::format(
        "refusing to listen on {} without TLS: the queue and the tokens would cross the network "
        "in clear; give --tls-cert and --tls-key, or --insecure to accept that risk",
        addr.to_string()));

  if (!o.tls_cert.empty()) {
    impl_->tls.emplace(ssl::context::tls_server);
    auto& ctx = *impl_->tls;
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                    ssl::context::single_dh_use);
    ctx.use_certificate_chain_file(o.tls_cert, ec);
    if (ec)
      throw ServeError(
          fmt::format("cannot load the TLS certificate {}: {}", o.tls_cert, ec.message()));
    ctx.use_private_key_file(o.tls_key, ssl::context::pem, ec);
    if (ec)
      throw ServeError(fmt::format("cannot load the TLS key {}: {}", o.tls_key, ec.message()));
    if (SSL_CTX_check_private_key(ctx.native_handle()) != 1)
      throw ServeError(
          fmt::format("the TLS key {} does not match the certificate {}", o.tls_key, o.tls_cert));
  }

  try {
    impl_->pool.warm_up();
  } catch (const std::exception& e) {
    throw ServeError(fmt::format("cannot open the queue database: {}", e.what()));
  }

  tcp::endpoint ep(addr, l.port);
  auto& acc = impl_->acceptor;
  acc.open(ep.protocol(), ec);
  if (!ec) acc.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(ep, ec);
  if (ec == net::error::address_in_use)
    throw ServeError(fmt::format("cannot listen on {}:{}: the port is already in use",
                                 addr.to_string(), l.port));
  if (ec)
    throw ServeError(
        fmt::format("cannot listen on {}:{}: {}", addr.to_string(), l.port, ec.message()));
  acc.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    throw ServeError(
        fmt::format("cannot listen on {}:{}: {}", addr.to_string(), l.port, ec.message()));
  impl_->port = acc.local_endpoint().port();
  std::string host = addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string();
  impl_->url = fmt::format("{}://{}:{}/", impl_->tls ? "https" : "http", host, impl_->port);
}

Server::~Server() = default;

std::string Server::url() const {
  return impl_->url;
}
uint16_t Server::port() const {
  return impl_->port;
}
bool Server::tls() const {
  return impl_->tls.has_value();
}
StorePool& Server::pool() {
  return impl_->pool;
}
Api& Server::api() {
  return impl_->api;
}

void Server::run() {
  auto& im = *impl_;
  int threads = im.opts.threads > 0
                    ? im.opts.threads
                    : std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
  std::string backend;
  try {
    backend = im.pool.backend();
  } catch (const std::exception&) {
    backend = "unknown";
  }
  im.log({{"level", "info"},
          {"event", "listening"},
          {"url", im.url},
          {"tls", im.tls.has_value()},
          {"database", backend},
          {"threads", threads}});
  if (im.opts.handle_signals) {
    im.signals.emplace(im.ctl, SIGTERM, SIGINT);
    im.signals->async_wait([&im](beast::error_code ec, int sig) {
      if (ec) return;
      im.log({{"level", "info"},
              {"event", "signal"},
              {"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
      im.begin_stop();
    });
  }
  for (int i = 0; i < threads; ++i) {
    im.workers.push_back(std::make_unique<net::io_context>(1));
    im.worker_guards.push_back(net::make_work_guard(*im.workers.back()));
  }
  im.reads.emplace(static_cast<size_t>(threads));
  im.writes.emplace(static_cast<size_t>(threads));
  net::dispatch(im.ctl, [&im] {
    im.do_accept();
    im.schedule_flush();
  });
  std::vector<std::thread> pool;
  for (auto& w : im.workers) pool.emplace_back([&w] { w->run(); });
  if (im.opts.notify) im.notifier = std::thread([&im] { im.notify_loop(); });
  // Returns once stopping and every connection has ended (or the grace period expired).
  im.ioc.run();
  im.stop_notifier();
  im.worker_guards.clear();  // the workers finish what is left and return
  for (auto& t : pool) t.join();
  im.reads->join();  // requests still running end (their answers go nowhere)
  im.writes->join();
  im.log({{"level", "info"}, {"event", "stopped"}});  // flushes the buffered lines too
}

void Server::stop() {
  net::post(impl_->ctl, [im = impl_.get()] { im->begin_stop(); });
}

}  // namespace safehold::server
