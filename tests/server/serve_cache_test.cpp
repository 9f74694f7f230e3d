// `safehold serve`'s caches (top-N listing bodies, verified tokens): they must never serve what the
// database no longer says, whoever changed it (this server, another connection, another process).
#include <catch2/catch.hpp>
#include <sstream>
#include <thread>

#include "tests/scheduler/helpers.hpp"
#include "tests/server/serve_support.hpp"

namespace sch = safehold::scheduler;
using nlohmann::json;
using safehold::test::HttpClient;
using safehold::test::must_run;
using safehold::test::safehold_binary;
using safehold::test::shell_quote;
using safehold::test::TestServer;

namespace {

std::vector<std::string> exhibits(const json& arr) {
  std::vector<std::string> out;
  for (auto& e : arr) out.push_back(e.at("exhibit").get<std::string>());
  return out;
}

using Strings = std::vector<std::string>;

// Reads the database's change marker on every request, so that a change made by another process
// shows at the very next request (by default it may take up to 1 ms): no timing in the tests.
safehold::server::ServerOptions check_every_request() {
  safehold::server::ServerOptions o;
  o.api.change_check_us = 0;
  return o;
}

}  // namespace

TEST_CASE("serve: the cached listing shows changes by another connection and another process",
          "[serve][cache]") {
  TestServer srv(check_every_request());
  // A clock that stands still: every request below falls in the same second, so only a database
  // change can make the server build the listing again.
  auto clock = std::make_shared<int64_t>(sch::Store::open(srv.db())->now());
  srv.server().pool().set_clock([clock] { return *clock; });
  auto& api = srv.server().api();
  auto c = srv.client();

  auto first = c.get("/api/queue?limit=3", srv.auditor);
  REQUIRE(first.status == 200);
  CHECK(exhibits(first.json()) == Strings{"EX1", "EX2", "EX3"});
  auto before = api.cache_stats();
  auto again = c.get("/api/queue?limit=3", srv.auditor);
  CHECK(again.status == 200);
  CHECK(again.body == first.body);
  CHECK(again.headers["cache-control"] == "no-store");
  auto after = api.cache_stats();
  CHECK(after.listing_hits == before.listing_hits + 1);
  CHECK(after.token_hits == before.token_hits + 1);
  // Another query is another entry.
  CHECK(exhibits(c.get("/api/queue?limit=2", srv.auditor).json()) == Strings{"EX1", "EX2"});

  // Another connection in this process: S2 (C2, low risk) lives with children -> tier 0, top.
  {
    auto s = sch::Store::open(srv.db());
    sch::SuspectUpdate u;
    u.lives_with_children = sch::Answer::yes;
    s->update_suspect("test", "S2", u, "social worker's visit");
  }
  auto moved = c.get("/api/queue?limit=3", srv.auditor).json();
  CHECK(exhibits(moved) == Strings{"EX3", "EX4", "EX1"});
  CHECK(moved[0].at("tier") == 0);
  CHECK(exhibits(c.get("/api/queue?limit=2", srv.auditor).json()) == Strings{"EX3", "EX4"});

  // Another process: the CLI takes the fact back.
  must_run(safehold_binary() +
           " queue suspect set S2 --children no --reason 'moved out' --user test --db " +
           shell_quote(srv.db()));
  CHECK(exhibits(c.get("/api/queue?limit=3", srv.auditor).json()) == Strings{"EX1", "EX2", "EX3"});
}

TEST_CASE("serve: with the default change checks, this server's own writes show at once",
          "[serve][cache]") {
  TestServer srv;
  auto clock = std::make_shared<int64_t>(sch::Store::open(srv.db())->now());
  srv.server().pool().set_clock([clock] { return *clock; });
  auto c = srv.client();
  CHECK(exhibits(c.get("/api/queue?limit=3", srv.auditor).json()) == Strings{"EX1", "EX2", "EX3"});
  CHECK(exhibits(c.get("/api/queue?limit=3", srv.auditor).json()) == Strings{"EX1", "EX2", "EX3"});
  auto w = c.request("POST", "/api/devices/EX1/state", srv.manager,
                     R"({"state":"withdrawn","reason":"returned to owner"})");
  REQUIRE(w.status == 200);
  CHECK(exhibits(c.get("/api/queue?limit=3", srv.auditor).json()) == Strings{"EX2", "EX3", "EX5"});
  auto p = c.request("PATCH", "/api/suspects/S3", srv.manager,
                     R"({"lives_with_children":"yes","reason":"social worker's visit"})");
  REQUIRE(p.status == 200);
  CHECK(exhibits(c.get("/api/queue?limit=3", srv.auditor).json()) == Strings{"EX5", "EX2", "EX3"});
}

TEST_CASE("serve: a cached listing is rebuilt when the clock second changes (overdue, waiting)",
          "[serve][cache]") {
  TestServer srv;
  auto clock = std::make_shared<int64_t>(sch::Store::open(srv.db())->now());
  srv.server().pool().set_clock([clock] { return *clock; });
  auto c = srv.client();
  auto a = c.get("/api/queue?limit=1", srv.auditor).json();
  REQUIRE(a.size() == 1);
  CHECK(a[0].at("overdue") == false);
  // A year later, with nothing changed in the database, EX1 is past its deadline.
  *clock += 365 * 86400;
  auto b = c.get("/api/queue?limit=1", srv.auditor).json();
  REQUIRE(b.size() == 1);
  CHECK(b[0].at("exhibit") == "EX1");
  CHECK(b[0].at("overdue") == true);
  CHECK(b[0].at("waiting_days").get<double>() > 364);
}

TEST_CASE("serve: a cached token stops working once revoked, by this server or another process",
          "[serve][cache]") {
  TestServer srv(check_every_request());
  auto c = srv.client();
  auto& api = srv.server().api();
  REQUIRE(c.get("/api/me", srv.auditor).status == 200);
  auto before = api.cache_stats();
  auto me = c.get("/api/me", srv.auditor);
  REQUIRE(me.status == 200);
  CHECK(me.json().at("user") == "carol (token 3)");
  CHECK(api.cache_stats().token_hits == before.token_hits + 1);

  // Revoked by another process: refused at the next request.
  must_run(safehold_binary() + " queue token revoke carol --user test --db " +
           shell_quote(srv.db()));
  auto r = c.get("/api/me", srv.auditor);
  CHECK(r.status == 401);
  CHECK(r.json().at("error") == "the token is not valid or has been revoked");

  // Revoked through the API: refused at once.
  REQUIRE(c.get("/api/me", srv.examiner).status == 200);
  REQUIRE(c.get("/api/me", srv.examiner).status == 200);
  REQUIRE(c.request("POST", "/api/tokens/bob/revoke", srv.manager, "{}").status == 200);
  CHECK(c.get("/api/me", srv.examiner).status == 401);
  // The manager's own token still works, and the cache statistics are on /metrics.
  auto m = c.get("/metrics", srv.manager);
  REQUIRE(m.status == 200);
  CHECK(m.body.find("safehold_cache_lookups_total{cache=\"token\",result=\"hit\"} ") !=
        std::string::npos);
}

TEST_CASE("serve: caches follow changes by other connections on PostgreSQL too",
          "[serve][cache][pg]") {
  auto db = safehold::test::QueueDb::make("postgresql");
  if (!db) return;
  std::string secret;
  {
    auto s = sch::Store::open(db->url());
    s->add_case("setup", {"C1", sch::Risk::high, "", "", ""});
    s->add_case("setup", {"C2", sch::Risk::low, "", "", ""});
    for (auto [sus, kase] : {std::pair{"S1", "C1"}, std::pair{"S2", "C2"}}) {
      sch::NewSuspect ns;
      ns.reference = sus;
      ns.case_ref = kase;
      s->add_suspect("setup", ns);
    }
    for (auto [ex, sus] : {std::pair{"EX1", "S1"}, std::pair{"EX2", "S2"}}) {
      sch::NewDevice d;
      d.exhibit = ex;
      d.suspect_ref = sus;
      d.device_class = sch::DeviceClass::phone;
      d.source = "/dev/null";
      s->add_device("setup", d);
    }
    secret = s->create_token("setup", sch::Role::auditor, "carol").secret;
  }
  std::ostringstream log;
  safehold::server::ServerOptions o;
  o.db = db->url();
  o.listen = "127.0.0.1:0";
  o.threads = 2;
  o.log = &log;
  o.api.change_check_us = 0;  // check on every request: no timing in the test
  safehold::server::Server server(o);
  std::thread th([&] { server.run(); });
  {
    HttpClient c("127.0.0.1", server.port());
    CHECK(exhibits(c.get("/api/queue?limit=5", secret).json()) == Strings{"EX1", "EX2"});
    CHECK(exhibits(c.get("/api/queue?limit=5", secret).json()) == Strings{"EX1", "EX2"});
    {
      auto s = sch::Store::open(db->url());
      sch::SuspectUpdate u;
      u.lives_with_children = sch::Answer::yes;
      s->update_suspect("test", "S2", u, "social worker's visit");
    }
    CHECK(exhibits(c.get("/api/queue?limit=5", secret).json()) == Strings{"EX2", "EX1"});
    must_run(safehold_binary() + " queue token revoke carol --user test --db " +
             shell_quote(db->url()));
    CHECK(c.get("/api/queue?limit=5", secret).status == 401);
  }
  server.stop();
  th.join();
}
