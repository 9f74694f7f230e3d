// `safehold serve`: the queue's HTTP(S) JSON API and the backlog managers' dashboard. Glue only:
// the server is server/.
#include <iostream>

#include "scheduler/queue.hpp"
#include "server/server.hpp"
#include "tools/command.hpp"
#include "tools/config.hpp"
#include "tools/notify_options.hpp"

namespace safehold::tools {
namespace {

namespace srv = safehold::server;

void register_serve(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "serve", "Serve the queue's JSON API and the dashboard (HTTP/1.1, TLS with a certificate)");
  auto o = std::make_shared<srv::ServerOptions>();
  o->db = "./safehold-data/queue.db";
  if (auto v = env_or_empty("SAFEHOLD_DB"); !v.empty()) o->db = v;
  if (auto v = env_or_empty("SAFEHOLD_LISTEN"); !v.empty()) o->listen = v;
  o->tls_cert = env_or_empty("SAFEHOLD_TLS_CERT");
  o->tls_key = env_or_empty("SAFEHOLD_TLS_KEY");
  auto body_kib = std::make_shared<size_t>(1024);
  auto quiet = std::make_shared<bool>(false);
  sub->add_option(
      "--db", o->db,
      "Queue database: PATH or sqlite:PATH (default ./safehold-data/queue.db, or $SAFEHOLD_DB), "
      "or postgresql://…");
  sub->add_option(
      "--listen", o->listen,
      "HOST:PORT to listen on (default 127.0.0.1:8080, or $SAFEHOLD_LISTEN; port 0 picks a free "
      "port, printed on the first line of stdout)");
  sub->add_option("--tls-cert", o->tls_cert, "TLS certificate chain (PEM; or $SAFEHOLD_TLS_CERT)");
  sub->add_option("--tls-key", o->tls_key, "TLS private key (PEM; or $SAFEHOLD_TLS_KEY)");
  sub->add_flag("--insecure", o->insecure,
                "Allow listening on a non-loopback address without TLS (tokens in clear)");
  sub->add_option("--threads", o->threads, "Worker threads (default: one per core, at least 2)");
  sub->add_option("--body-limit-kib", *body_kib, "Largest request body, in KiB (default 1024)");
  sub->add_flag("--no-access-log", *quiet, "Log only start, stop and errors, not every request");
  sub->add_option("--db-wait-ms", o->db_wait_ms,
                  "How long a write waits for the database's write lock before 503 (default "
                  "2000)");
  sub->add_option("--max-connections", o->max_connections,
                  "Open connections at most (default: from the open-file limit)");
  sub->add_option("--max-per-client", o->max_per_client,
                  "Open connections from one address at most (default: a quarter of the cap)");
  auto notify = add_notify_options(sub);
  sub->add_option("--notify-every", o->notify_every_seconds,
                  "With --webhook or --email: deliver due alerts, links and audit anchors every "
                  "this many seconds (default 15), as `queue notify` does")
      ->check(CLI::Range(1, 3600));
  sub->callback([=] {
    srv::ServerOptions opts = *o;
    if (notify.any()) {
      load_notify_options(notify);
      opts.notify = *notify.options;
    }
    opts.body_limit = *body_kib * 1024;
    opts.access_log = !*quiet;
    opts.handle_signals = true;
    try {
      scheduler::Store::OpenOptions check;
      check.create = false;  // a mistyped path is refused, never served as an empty queue
      scheduler::Store::open(opts.db, check);
    } catch (const scheduler::QueueError& e) {
      fail(e.kind == scheduler::QueueError::Kind::storage ? Exit::failed : Exit::usage, e.what());
    }
    try {
      srv::Server server(opts);
      // The first line of stdout is the address actually bound (scripts read it with port 0).
      std::cout << server.url() << std::endl;
      server.run();
    } catch (const srv::ServeError& e) {
      fail(Exit::failed, e.what());
    }
  });
}

const Registrar reg(60, register_serve);

}  // namespace
}  // namespace safehold::tools
