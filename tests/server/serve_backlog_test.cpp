// The dashboard's backlog routes on both stores: GET /api/devices (state and findings counts, no
// file name), /api/history and /api/forecast (exact aggregates of a history seeded at fixed times,
// tests/scheduler/backlog_seed.hpp), roles and parameters.
#include <catch2/catch.hpp>
#include <sstream>
#include <thread>

#include "scheduler/queue.hpp"
#include "server/server.hpp"
#include "tests/scheduler/backlog_seed.hpp"
#include "tests/scheduler/helpers.hpp"
#include "tests/server/serve_support.hpp"

using nlohmann::json;
using safehold::test::HttpClient;
namespace sch = safehold::scheduler;
namespace bs = safehold::test::backlog;

TEST_CASE("serve: /api/devices, /api/history and /api/forecast of a seeded history", "[serve]") {
  BACKEND();
  std::string reader, grader;
  {
    safehold::test::Clocked s(db->url());
    bs::seed(s);
    reader = s->create_token("setup", sch::Role::auditor, "carol").secret;
    grader = s->create_token("setup", sch::Role::grader, "gina").secret;
  }
  std::ostringstream log;
  safehold::server::ServerOptions o;
  o.db = db->url();
  o.listen = "127.0.0.1:0";
  o.threads = 2;
  o.log = &log;
  safehold::server::Server server(o);
  server.pool().set_clock([] { return bs::kNow; });
  std::thread th([&] { server.run(); });
  {
    HttpClient c("127.0.0.1", server.port());
    auto h = c.get("/api/history?days=15&weeks=3", reader);
    REQUIRE(h.status == 200);
    CHECK(h.json() == bs::expected_history());
    auto f = c.get("/api/forecast", reader);
    REQUIRE(f.status == 200);
    CHECK(f.json() == bs::expected_forecast());
    // Defaults: 90 days, 12 weeks.
    auto d = c.get("/api/history", reader).json();
    CHECK(d.at("waiting").at("days").size() == 90);
    CHECK(d.at("weekly").at("weeks").size() == 12);
    CHECK(d.at("weekly").at("intake").get<std::vector<int>>() ==
          std::vector<int>{0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0});

    auto devices = c.get("/api/devices", reader);
    REQUIRE(devices.status == 200);
    CHECK(devices.body.find(bs::kFileName) == std::string::npos);
    CHECK(devices.body.find("/evidence") == std::string::npos);
    CHECK(devices.body.find("/lab/") == std::string::npos);
    auto list = devices.json();
    REQUIRE(list.size() == 4);
    CHECK(list[0] == json{{"exhibit", "A1"},
                          {"case", "C1"},
                          {"suspect", "S1"},
                          {"class", "phone"},
                          {"tier", 0},
                          {"risk", "high"},
                          {"state", "review"},
                          {"station", nullptr},
                          {"last_error", nullptr},
                          {"attempts", 0},
                          {"intake_at", "2026-09-21T01:00:00Z"},
                          {"deadline", "2026-09-28T01:00:00Z"},
                          {"overdue", false},
                          {"findings",
                           {{"recorded_at", "2026-09-23T01:00:00Z"},
                            {"artefacts", 3},
                            {"known", 2},
                            {"known_indecent", 2},
                            {"pdq_near", 0},
                            {"unknown_media", 1},
                            {"camera_original", 1},
                            {"messages", 5},
                            {"attachments_matching", 0},
                            {"links", 1}}}});
    std::vector<std::string> order;
    for (auto& e : list) order.push_back(e.at("exhibit"));
    CHECK(order == std::vector<std::string>{"A1", "A2", "B1", "B2"});
    CHECK(list[1].at("findings").is_null());
    CHECK(list[2].at("state") == "queued");
    CHECK(list[2].at("overdue") == true);
    CHECK(list[2].at("findings").at("links") == 1);
    CHECK(list[2].at("findings").at("artefacts") == 1);
    // Filters by state; an unknown state is a 400 naming the parameter.
    auto waiting = c.get("/api/devices?state=queued,withdrawn", reader).json();
    REQUIRE(waiting.size() == 2);
    CHECK(waiting[0].at("exhibit") == "B1");
    CHECK(waiting[1].at("exhibit") == "B2");
    auto bad = c.get("/api/devices?state=lost", reader);
    CHECK(bad.status == 400);
    CHECK(bad.json().at("field") == "state");

    CHECK(c.get("/api/history?days=3", reader).status == 400);
    CHECK(c.get("/api/history?days=3", reader).json().at("field") == "days");
    CHECK(c.get("/api/forecast?window=400", reader).json().at("field") == "window");
    for (const char* route : {"/api/history", "/api/forecast", "/api/devices"}) {
      CHECK(c.get(route, grader).status == 403);
      CHECK(c.get(route).status == 401);
    }
  }
  server.stop();
  th.join();
}
