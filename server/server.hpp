// `safehold serve` on a socket: Boost.Beast HTTP/1.1 with keep-alive over Boost.Asio, TLS through
// OpenSSL when given a certificate and key, JSON access logs, graceful stop. The API itself is
// server/api.hpp.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "server/api.hpp"
#include "server/notify.hpp"

namespace safehold::server {

// The server is a view of the scheduler's model: its types are used unqualified here.
using namespace safehold::scheduler;

struct ServerOptions {
  std::string db;                         // Store::open URL
  std::string listen = "127.0.0.1:8080";  // HOST:PORT, [V6]:PORT; port 0 picks a free port
  std::string tls_cert, tls_key;          // PEM files; both or neither
  bool insecure = false;                  // allow a non-loopback address without TLS
  size_t body_limit = 1024 * 1024;        // larger request bodies get 413
  int threads = 0;                        // 0: one per core, at least 2
  bool access_log = true;                 // one JSON line per request
  bool handle_signals = false;            // stop gracefully on SIGTERM and SIGINT
  int idle_seconds = 60;                  // keep-alive connections idle longer are closed
  // A write waits this long for the database's write lock, then gets 503 with Retry-After.
  int db_wait_ms = 2000;
  // Open connections, overall and from one client address; at the cap the longest-idle
  // connection is closed for a new one (or the new one is refused when none is idle), and idle
  // timeouts shrink once more than half the cap is in use. 0: overall from the open-file limit
  // (soft limit - 64, at most 10000), per client a quarter of that (at least 16).
  int max_connections = 0;
  int max_per_client = 0;
  int grace_seconds = 20;       // after stop(), in-flight requests get this long
  std::ostream* log = nullptr;  // JSON lines (default std::cout)
  ApiOptions api;               // limits and caches of the API
  // Delivers the outbox (alerts, links, anchors) to these webhooks and addresses every
  // notify_every_seconds while serving, as `safehold queue notify` does; none when unset.
  std::optional<NotifyOptions> notify;
  int notify_every_seconds = 15;
};

// A start-up failure, one sentence for the operator (port taken, bad certificate, database…).
class ServeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Server {
 public:
  // Validates the options, opens the database, loads the certificate and binds: everything that
  // can fail at start-up fails here, as a ServeError.
  explicit Server(ServerOptions opts);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  std::string url() const;  // "http://127.0.0.1:41234/" with the port actually bound
  uint16_t port() const;
  bool tls() const;

  // Serves until stop() (or a signal, with handle_signals) and every connection has finished.
  void run();
  // Thread-safe: stops accepting, closes idle connections, lets in-flight requests finish.
  void stop();

  StorePool& pool();
  Api& api();

  struct Impl;  // internal (server.cpp)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace safehold::server
