// `safehold serve` JSON API over a real socket: every endpoint, every error status, roles, audit.
#include <catch2/catch.hpp>

#include "tests/server/serve_support.hpp"

using nlohmann::json;
using safehold::test::HttpClient;
using safehold::test::TestServer;

namespace {

std::vector<std::string> exhibits(const json& arr) {
  std::vector<std::string> out;
  for (auto& e : arr) out.push_back(e.at("exhibit").get<std::string>());
  return out;
}

}  // namespace

TEST_CASE("serve: /healthz needs no token, every other endpoint needs one", "[serve]") {
  TestServer srv;
  auto c = srv.client();
  auto h = c.get("/healthz");
  CHECK(h.status == 200);
  CHECK(h.json() == json{{"status", "ok"}});
  for (const char* path : {"/api/queue", "/api/alerts", "/metrics", "/api/devices/EX1/explain",
                           "/api/cases", "/api/audit", "/api/me"}) {
    INFO(path);
    auto r = c.get(path);
    CHECK(r.status == 401);
    CHECK(r.headers["www-authenticate"] == "Bearer realm=\"safehold\"");
    CHECK(r.json().at("error").get<std::string>().find("authentication required") == 0);
    auto bad = c.get(path, "safehold_not_a_token");
    CHECK(bad.status == 401);
    CHECK(bad.json().at("error") == "the token is not valid or has been revoked");
  }
  // A revoked token is refused.
  CHECK(c.get("/api/queue", srv.revoked).status == 401);
  // Keep-alive: every request above went over one connection.
  CHECK(c.connections() == 1);
}

TEST_CASE("serve: GET /api/queue returns the objects of `safehold queue list --json`", "[serve]") {
  TestServer srv;
  auto c = srv.client();
  auto r = c.get("/api/queue?limit=3", srv.auditor);
  REQUIRE(r.status == 200);
  CHECK(r.headers["content-type"] == "application/json");
  CHECK(r.headers["cache-control"] == "no-store");
  auto arr = r.json();
  REQUIRE(arr.size() == 3);
  // C1 is high risk: its phone, then its computer, then C2's phone (low risk).
  CHECK(exhibits(arr) == std::vector<std::string>{"EX1", "EX2", "EX3"});
  CHECK(arr[0].at("rank") == 1);
  CHECK(arr[0].at("risk") == "high");
  CHECK(arr[0].at("class") == "phone");
  CHECK(arr[0].at("tier") == 1);

  auto cli = safehold::test::must_run(safehold::test::safehold_binary() +
                                      " queue list --json --limit 3 --db " +
                                      safehold::test::shell_quote(srv.db()));
  auto want = json::parse(cli);
  // waiting_days moves with the clock between the two calls; everything else is identical.
  for (auto* a : {&arr, &want})
    for (auto& e : *a) e.erase("waiting_days");
  CHECK(arr == want);

  CHECK(c.get("/api/queue", srv.auditor).json().size() == 5);
  CHECK(exhibits(c.get("/api/queue?limit=2&offset=2", srv.auditor).json()) ==
        std::vector<std::string>{"EX3", "EX5"});
  CHECK(exhibits(c.get("/api/queue?case=C1", srv.auditor).json()) ==
        std::vector<std::string>{"EX1", "EX2"});
  CHECK(c.get("/api/queue?state=done", srv.auditor).json().empty());
  CHECK(c.get("/api/queue?state=all", srv.auditor).json().size() == 5);

  auto bad = c.get("/api/queue?limit=0", srv.auditor);
  CHECK(bad.status == 400);
  CHECK(bad.json().at("field") == "limit");
  CHECK(bad.json().at("error") == "query parameter 'limit' must be an integer from 1 to 10000");
  CHECK(c.get("/api/queue?limit=abc", srv.auditor).status == 400);
  auto st = c.get("/api/queue?state=lost", srv.auditor);
  CHECK(st.status == 400);
  CHECK(st.json().at("field") == "state");
  CHECK(c.get("/api/breaches", srv.auditor).json().empty());
}

TEST_CASE("serve: explain, device detail and 404 for unknown ids", "[serve]") {
  TestServer srv;
  auto c = srv.client();
  auto r = c.get("/api/devices/EX3/explain", srv.examiner);
  REQUIRE(r.status == 200);
  auto j = r.json();
  CHECK(j.at("exhibit") == "EX3");
  CHECK(j.at("rank") == 3);
  CHECK(j.at("queued_total") == 5);
  CHECK(j.at("priority").at("risk") == "low");
  CHECK(j.at("priority").at("reasons").size() >= 3);
  CHECK(j.at("suspect_facts").at("lives_with_children") == "unknown");

  auto d = c.get("/api/devices/EX3", srv.auditor).json();
  CHECK(d.at("exhibit") == "EX3");
  CHECK(d.at("suspect") == "S2");
  CHECK(d.at("state") == "queued");

  for (const char* path :
       {"/api/devices/NOPE/explain", "/api/devices/NOPE", "/api/cases/NOPE", "/api/suspects/NOPE",
        "/api/alerts/99", "/api/alerts/x", "/api/devices/NOPE/audit"}) {
    INFO(path);
    auto n = c.get(path, srv.auditor);
    CHECK(n.status == 404);
    CHECK(n.json().contains("error"));
  }
  CHECK(c.get("/api/devices/NOPE/explain", srv.auditor).json().at("error") == "no device NOPE");
  auto none = c.get("/api/nothing-here", srv.auditor);
  CHECK(none.status == 404);
  CHECK(none.json().at("error") == "no such endpoint");
  // Percent-encoded ids are decoded.
  CHECK(c.get("/api/devices/%45X1", srv.auditor).json().at("exhibit") == "EX1");
  CHECK(c.get("/api/devices/%zz", srv.auditor).status == 400);
}

TEST_CASE("serve: roles: auditors read, examiners work, managers change facts (403)", "[serve]") {
  TestServer srv;
  auto c = srv.client();
  const std::string reason = R"({"risk":"very-high","reason":"new intelligence"})";
  for (auto* tok : {&srv.auditor, &srv.examiner}) {
    auto r = c.request("PATCH", "/api/cases/C2", *tok, reason);
    CHECK(r.status == 403);
    CHECK(r.json().at("error").get<std::string>().find("may not do this") != std::string::npos);
    CHECK(c.request("POST", "/api/alerts/1/ack", *tok, R"({"reference":"X"})").status == 403);
    CHECK(c.request("POST", "/api/cases", *tok, R"({"reference":"C9"})").status == 403);
    CHECK(c.get("/api/tokens", *tok).status == 403);
  }
  CHECK(c.request("POST", "/api/claim", srv.auditor, R"({"station":"st1"})").status == 403);
  auto claim = c.request("POST", "/api/claim", srv.examiner, R"({"station":"st1"})");
  REQUIRE(claim.status == 200);
  CHECK(claim.json().at("claim").at("exhibit") == "EX1");
  CHECK(claim.json().at("claim").at("kind") == "acquire");
  auto ok = c.request("PATCH", "/api/cases/C2", srv.manager, reason);
  REQUIRE(ok.status == 200);
  CHECK(ok.json().at("case").at("risk") == "very-high");
  CHECK(ok.json().at("devices_reranked") == 3);  // EX3, EX4 (S2) and EX5 (S3)
  // C2 is now very high risk: its phone heads the queue (EX1 is claimed).
  CHECK(exhibits(c.get("/api/queue?limit=1", srv.auditor).json()) ==
        std::vector<std::string>{"EX3"});
  auto me = c.get("/api/me", srv.examiner).json();
  CHECK(me.at("role") == "examiner");
  CHECK(me.at("name") == "bob");
}

TEST_CASE("serve: 400 names the field: malformed JSON, wrong types, unknown fields, no reason",
          "[serve]") {
  TestServer srv;
  auto c = srv.client();
  auto patch = [&](const std::string& body) {
    return c.request("PATCH", "/api/suspects/S2", srv.manager, body);
  };
  auto r = patch("{not json");
  CHECK(r.status == 400);
  CHECK(r.json().at("error") == "the request body is not valid JSON");
  r = patch("[1,2]");
  CHECK(r.status == 400);
  CHECK(r.json().at("error") == "the request body must be a JSON object");
  r = patch(R"({"lives_with_children":"maybe","reason":"x"})");
  CHECK(r.status == 400);
  CHECK(r.json().at("field") == "lives_with_children");
  CHECK(r.json().at("error") == "field 'lives_with_children' must be one of: yes, no, unknown");
  r = patch(R"({"lives_with_children":"yes"})");
  CHECK(r.status == 400);
  CHECK(r.json().at("field") == "reason");
  r = patch(R"({"lives_with_children":"yes","reason":"   "})");
  CHECK(r.status == 400);
  CHECK(r.json().at("field") == "reason");
  r = patch(R"({"children_count":"two","reason":"x"})");
  CHECK(r.status == 400);
  CHECK(r.json().at("field") == "children_count");
  CHECK(r.json().at("error") == "field 'children_count' must be an integer");
  r = patch(R"({"favourite_colour":"blue","reason":"x"})");
  CHECK(r.status == 400);
  CHECK(r.json().at("field") == "favourite_colour");
  r = c.request("POST", "/api/devices", srv.manager, R"({"exhibit":"EX9","suspect":"S2"})");
  CHECK(r.status == 400);
  CHECK(r.json().at("field") == "class");
  r = c.request("POST", "/api/devices", srv.manager,
                R"({"exhibit":"EX9","suspect":"S2","class":"toaster"})");
  CHECK(r.status == 400);
  CHECK(r.json().at("field") == "class");
  // The store's own validation is a 400 too, and a duplicate is a 409.
  r = c.request("POST", "/api/devices", srv.manager,
                R"({"exhibit":"EX9","suspect":"S2","class":"phone","seized":"yesterday"})");
  CHECK(r.status == 400);
  r = c.request("POST", "/api/devices", srv.manager,
                R"({"exhibit":"EX1","suspect":"S2","class":"phone"})");
  CHECK(r.status == 409);
  CHECK(r.json().at("error") == "device EX1 already exists");
  // Wrong method on a known path.
  r = c.request("DELETE", "/api/queue", srv.manager);
  CHECK(r.status == 405);
  CHECK(r.headers["allow"] == "GET");
  // Nothing was changed by any of these.
  CHECK(c.get("/api/suspects/S2", srv.auditor).json().at("lives_with_children") == "unknown");
}

TEST_CASE("serve: a body over the limit is refused with 413, malformed HTTP with 400", "[serve]") {
  safehold::server::ServerOptions o;
  o.body_limit = 1024;
  TestServer srv(o);
  auto c = srv.client();
  std::string big = R"({"reason":")" + std::string(4000, 'x') + R"("})";
  auto r = c.request("PATCH", "/api/suspects/S2", srv.manager, big);
  CHECK(r.status == 413);
  CHECK(r.json().at("error") == "the request body is larger than 1024 bytes");
  // Announced but not sent: refused from the header alone.
  auto h = c.raw("POST /api/cases HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
  CHECK(h.status == 413);
  auto m = c.raw("THIS IS NOT HTTP\r\n\r\n");
  CHECK(m.status == 400);
  CHECK(m.json().at("error") == "malformed HTTP request");
  // The server is still fine.
  CHECK(c.get("/healthz").status == 200);
}

TEST_CASE("serve: every queue operation through the API, recorded in the audit with the user",
          "[serve]") {
  TestServer srv;
  auto c = srv.client();
  const auto& M = srv.manager;
  // Cases, suspects, devices.
  auto r =
      c.request("POST", "/api/cases", M,
                R"({"reference":"C3","risk":"medium","offence":"grooming","officer":"DC Lee"})");
  REQUIRE(r.status == 201);
  CHECK(r.json().at("risk") == "medium");
  r = c.request("POST", "/api/suspects", M, R"({"reference":"S4","case":"C3"})");
  REQUIRE(r.status == 201);
  CHECK(r.json().at("suspect").at("reference") == "S4");
  CHECK(r.json().at("alerts_raised").empty());
  r = c.request(
      "POST", "/api/devices", M,
      R"({"exhibit":"EX6","suspect":"S4","class":"phone","seized":"2026-01-02","capacity":64,"source":"/dev/sdx"})");
  REQUIRE(r.status == 201);
  CHECK(r.json().at("state") == "queued");
  CHECK(r.json().at("capacity") == 64);
  CHECK(c.get("/api/cases", srv.auditor).json().size() == 3);
  auto c3 = c.get("/api/cases/C3", srv.auditor).json();
  CHECK(c3.at("officer") == "DC Lee");
  CHECK(c3.at("suspects").size() == 1);
  CHECK(c.get("/api/suspects?case=C2", srv.auditor).json().size() == 2);
  CHECK(c.get("/api/suspects/S4", srv.auditor).json().at("devices") == json{"EX6"});

  // Household facts: S4 lives with children -> EX6 to the top, alert raised.
  r = c.request(
      "PATCH", "/api/suspects/S4", M,
      R"({"lives_with_children":"yes","children_count":2,"age_bands":"0-4","reason":"home visit"})");
  REQUIRE(r.status == 200);
  auto change = r.json();
  CHECK(change.at("devices_reranked") == 1);
  REQUIRE(change.at("alerts_raised").size() == 1);
  int64_t alert_id = change.at("alerts_raised")[0].at("id");
  CHECK(change.at("alerts_raised")[0].at("raised_by") == "alice (token 1)");
  CHECK(change.at("suspect").at("children_count") == 2);
  CHECK(exhibits(c.get("/api/queue?limit=1", srv.auditor).json()) ==
        std::vector<std::string>{"EX6"});
  auto alerts = c.get("/api/alerts?open=true", srv.auditor).json();
  REQUIRE(alerts.size() == 1);
  CHECK(alerts[0].at("suspect") == "S4");
  CHECK(alerts[0].at("overdue") == false);
  CHECK(c.get("/api/alerts/" + std::to_string(alert_id), srv.auditor).json().at("reason") ==
        "lives with children");

  // Acknowledge with a social-care reference; twice is a conflict; the reference is required.
  r = c.request("POST", "/api/alerts/" + std::to_string(alert_id) + "/ack", M, R"({})");
  CHECK(r.status == 400);
  CHECK(r.json().at("field") == "reference");
  r = c.request("POST", "/api/alerts/" + std::to_string(alert_id) + "/ack", M,
                R"({"reference":"MASH-2026-0042"})");
  REQUIRE(r.status == 200);
  CHECK(r.json().at("acknowledged") == true);
  CHECK(r.json().at("reference") == "MASH-2026-0042");
  CHECK(r.json().at("acknowledged_by") == "alice (token 1)");
  CHECK(c.request("POST", "/api/alerts/" + std::to_string(alert_id) + "/ack", M,
                  R"({"reference":"again"})")
            .status == 409);
  CHECK(c.get("/api/alerts?open=true", srv.auditor).json().empty());
  CHECK(c.get("/api/alerts", srv.auditor).json().size() == 1);

  // Worker cycle by the examiner: claim, heartbeat, complete; a second claim, fail.
  auto cl = c.request("POST", "/api/claim", srv.examiner,
                      R"({"station":"st1","classes":["phone"],"kinds":["acquire"]})");
  REQUIRE(cl.status == 200);
  CHECK(cl.json().at("claim").at("exhibit") == "EX6");
  CHECK(c.request("POST", "/api/claim", srv.examiner, R"({"station":"st1","kinds":["dig"]})")
            .status == 400);
  auto hb = c.request("POST", "/api/devices/EX6/heartbeat", srv.examiner, R"({"station":"st1"})");
  CHECK(hb.status == 200);
  CHECK(hb.json().at("state") == "acquiring");
  CHECK(c.request("POST", "/api/devices/EX6/heartbeat", srv.examiner, R"({"station":"other"})")
            .status == 409);
  auto done = c.request("POST", "/api/devices/EX6/complete", srv.examiner,
                        R"({"station":"st1","note":"image verified"})");
  REQUIRE(done.status == 200);
  CHECK(done.json().at("state") == "acquired");
  auto cl2 =
      c.request("POST", "/api/claim", srv.examiner, R"({"station":"st2","kinds":["acquire"]})");
  REQUIRE(cl2.status == 200);
  std::string ex2 = cl2.json().at("claim").at("exhibit");
  auto f = c.request("POST", "/api/devices/" + ex2 + "/fail", srv.examiner,
                     R"({"station":"st2","error":"write blocker fault"})");
  REQUIRE(f.status == 200);
  CHECK(f.json().at("state") == "queued");
  CHECK(f.json().at("last_error") == "write blocker fault");
  CHECK(c.request("POST", "/api/devices/" + ex2 + "/fail", srv.examiner, R"({"station":"st2"})")
            .status == 400);

  // Manual state change by the manager (reason mandatory), policy, reap.
  CHECK(c.request("POST", "/api/devices/EX5/state", M, R"({"state":"withdrawn"})").status == 400);
  auto w = c.request("POST", "/api/devices/EX5/state", M,
                     R"({"state":"withdrawn","reason":"returned to owner"})");
  REQUIRE(w.status == 200);
  CHECK(w.json().at("state") == "withdrawn");
  auto pol = c.get("/api/policy", srv.auditor).json();
  CHECK(pol.at("alert_hours") == 24);
  auto pp = c.request("PUT", "/api/policy", M, R"({"alert_hours":12,"reason":"local protocol"})");
  REQUIRE(pp.status == 200);
  CHECK(pp.json().at("policy").at("alert_hours") == 12);
  CHECK(c.request("POST", "/api/reap", M, "{}").json().at("returned") == 0);

  // Tokens: a manager makes and revokes one; the secret is shown once.
  auto tk = c.request("POST", "/api/tokens", M, R"({"role":"auditor","name":"dora"})");
  REQUIRE(tk.status == 201);
  std::string dora = tk.json().at("token");
  CHECK(c.get("/api/me", dora).json().at("name") == "dora");
  auto list = c.get("/api/tokens", M);
  CHECK(list.body.find(dora) == std::string::npos);
  CHECK(c.request("POST", "/api/tokens/dora/revoke", M, "{}").status == 200);
  CHECK(c.get("/api/me", dora).status == 401);

  // The audit: every change above with the token's user, the chain intact.
  auto audit = c.get("/api/audit?limit=100000", srv.auditor).json();
  std::map<std::string, std::string> who;  // action entity id -> user
  for (auto& a : audit)
    who[a.at("action").get<std::string>() + " " + a.at("entity").get<std::string>() + " " +
        a.at("entity_id").get<std::string>()] = a.at("user");
  int by_alice = 0, by_bob = 0;
  for (auto& a : audit) {
    if (a.at("user") == "alice (token 1)") ++by_alice;
    if (a.at("user") == "bob (token 2)") ++by_bob;
  }
  CHECK(by_alice >= 8);
  CHECK(by_bob >= 4);
  auto dev_audit = c.get("/api/devices/EX6/audit", srv.auditor).json();
  bool saw_reason = false;
  for (auto& a : dev_audit)
    if (a.at("entity") == "suspect" && a.at("reason") == "home visit") {
      saw_reason = true;
      CHECK(a.at("user") == "alice (token 1)");
    }
  CHECK(saw_reason);
  auto filtered = c.get("/api/audit?entity=alert", srv.auditor).json();
  for (auto& a : filtered) CHECK(a.at("entity") == "alert");
  CHECK(c.get("/api/audit?id=3", srv.auditor).status == 400);
  auto v = c.get("/api/audit/verify", srv.auditor).json();
  CHECK(v.at("ok") == true);
  CHECK(v.at("records") ==
        static_cast<int64_t>(c.get("/api/audit?limit=100000", srv.auditor).json().size()));
}

TEST_CASE("serve: /metrics in Prometheus text, logs hold no token, id or body", "[serve]") {
  TestServer srv;
  auto c = srv.client();
  REQUIRE(c.request("PATCH", "/api/suspects/S2", srv.manager,
                    R"({"lives_with_children":"yes","reason":"social worker report"})")
              .status == 200);
  c.get("/api/devices/EX3/explain", srv.auditor);
  c.get("/api/devices/NOPE", srv.auditor);
  auto m = c.get("/metrics", srv.auditor);
  REQUIRE(m.status == 200);
  CHECK(m.headers["content-type"].rfind("text/plain; version=0.0.4", 0) == 0);
  const std::string& t = m.body;
  // S2's two devices are now tier 0 (C2 is low risk); S1's two are tier 1 high; S3's is tier 1 low.
  CHECK(t.find("safehold_queue_depth{tier=\"0\",band=\"low\"} 2\n") != std::string::npos);
  CHECK(t.find("safehold_queue_depth{tier=\"1\",band=\"high\"} 2\n") != std::string::npos);
  CHECK(t.find("safehold_queue_depth{tier=\"1\",band=\"low\"} 1\n") != std::string::npos);
  CHECK(t.find("safehold_alerts_open 1\n") != std::string::npos);
  CHECK(t.find("safehold_alerts_overdue 0\n") != std::string::npos);
  CHECK(t.find("# TYPE safehold_http_requests_total counter") != std::string::npos);
  CHECK(
      t.find("safehold_http_requests_total{route=\"/api/devices/{exhibit}/explain\",method=\"GET\","
             "status=\"200\"} 1\n") != std::string::npos);
  CHECK(t.find("safehold_http_requests_total{route=\"/api/devices/{exhibit}\",method=\"GET\","
               "status=\"404\"} 1\n") != std::string::npos);
  CHECK(
      t.find(
          "safehold_http_request_duration_seconds_count{route=\"/api/suspects/{suspect}\"} 1\n") !=
      std::string::npos);
  CHECK(t.find("safehold_http_request_duration_seconds_bucket{route=\"/api/suspects/"
               "{suspect}\",le=\"+Inf\"} 1\n") != std::string::npos);

  auto log = srv.log();
  INFO(log);
  for (const std::string& secret :
       {srv.manager, srv.auditor, std::string("S2"), std::string("EX3"), std::string("NOPE"),
        std::string("social worker"), std::string("Bearer")})
    CHECK(log.find(secret) == std::string::npos);
  // One JSON object a line, with the route pattern and the token's id and role.
  size_t lines = 0;
  std::istringstream in(log);
  std::string line;
  bool saw = false;
  while (std::getline(in, line)) {
    auto j = json::parse(line, nullptr, false);
    CHECK_FALSE(j.is_discarded());
    ++lines;
    if (j.value("route", "") == "/api/suspects/{suspect}") {
      saw = true;
      CHECK(j.at("status") == 200);
      CHECK(j.at("method") == "PATCH");
      CHECK(j.at("role") == "manager");
      CHECK(j.at("token_id") == 1);
    }
  }
  CHECK(saw);
  CHECK(lines >= 5);
}

TEST_CASE("serve: the dashboard is served from the binary, without external resources", "[serve]") {
  TestServer srv;
  auto c = srv.client();
  auto page = c.get("/");
  REQUIRE(page.status == 200);
  CHECK(page.headers["content-type"] == "text/html; charset=utf-8");
  CHECK(page.headers["content-security-policy"].find("default-src 'none'") != std::string::npos);
  CHECK(page.headers["x-frame-options"] == "DENY");
  for (const char* a : {"/", "/app.js", "/app.css", "/common.js", "/backlog.js", "/backlog.css"}) {
    auto r = c.get(a);
    REQUIRE(r.status == 200);
    CHECK(r.body.find("http://") == std::string::npos);
    CHECK(r.body.find("https://") == std::string::npos);
    CHECK(r.body.find("<img") == std::string::npos);
    CHECK(r.body.find("<video") == std::string::npos);
    CHECK(r.body.find("innerHTML") == std::string::npos);
  }
  CHECK(c.get("/app.js").headers["content-type"] == "text/javascript; charset=utf-8");
  CHECK(c.get("/backlog.js").headers["content-type"] == "text/javascript; charset=utf-8");
  CHECK(c.get("/backlog.css").headers["content-type"] == "text/css; charset=utf-8");
  // Both pages load the shared script first (sign-in, the API call), from this server only.
  CHECK(c.get("/common.js").headers["content-type"] == "text/javascript; charset=utf-8");
  CHECK(c.get("/common.js").body.find("window.Safehold") != std::string::npos);
  for (const char* html : {"/", "/grade"})
    CHECK(c.get(html).body.find("<script src=\"/common.js\" defer></script>") != std::string::npos);
}
