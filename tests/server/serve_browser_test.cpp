// The dashboard in headless Chromium (tests/common/browser.hpp).
#include <catch2/catch.hpp>

#include "scheduler/queue.hpp"
#include "tests/common/browser.hpp"
#include "tests/server/serve_support.hpp"

using nlohmann::json;
using safehold::test::HttpClient;
using safehold::test::ServeProcess;
using safehold::test::TempDir;
namespace sch = safehold::scheduler;
namespace fsys = std::filesystem;

TEST_CASE("serve: dashboard in headless Chromium: household facts, re-rank, alert, acknowledgement",
          "[serve][browser][slow]") {
  const auto browser = safehold::test::require_browser();

  TempDir dir("safehold-serve-browser");
  const std::string db = (dir / "q.db").string();
  std::string token;
  {
    auto s = sch::Store::open(db);
    s->add_case("setup", {"C0", sch::Risk::none, "", "", ""});
    s->add_case("setup", {"C1", sch::Risk::high, "", "", ""});
    s->add_case("setup", {"C2", sch::Risk::low, "", "", ""});
    safehold::test::add_suspects(*s, {{"S0", "C0"}, {"S1", "C1"}, {"S2", "C2"}});
    safehold::test::add_devices(*s,
                                {{"EX0", "S0", sch::DeviceClass::removable},
                                 {"EX1", "S1", sch::DeviceClass::phone},
                                 {"EX2", "S1", sch::DeviceClass::computer},
                                 {"EX3", "S2", sch::DeviceClass::phone},
                                 {"EX4", "S2", sch::DeviceClass::removable}},
                                s->now() - 86400);
    // An alert for the dashboard to shout about: raised as usual, then made overdue in the
    // database (no waiting on the clock; a zero-hour deadline is refused by the policy).
    sch::SuspectUpdate u;
    u.access_to_children = sch::Answer::yes;
    s->update_suspect("setup", "S0", u, "test: access through family");
    token = s->create_token("setup", sch::Role::manager, "alice").secret;
  }
  safehold::test::must_run("sqlite3 " + safehold::test::shell_quote(db) +
                           " 'UPDATE alerts SET due_at = raised_at - 3600'");

  ServeProcess proc("--db " + safehold::test::shell_quote(db) + " --listen 127.0.0.1:0",
                    dir.path());
  auto url = proc.first_line();
  INFO(proc.err());
  REQUIRE(url.rfind("http://127.0.0.1:", 0) == 0);

  const std::string shot = (dir / "dashboard.png").string();
  auto r = safehold::test::run_browser_script(browser, "tests/server/serve_browser.cjs",
                                              {url, token, "S2", shot});
  INFO("node stdout: " << r.out << "\nnode stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  auto seen = json::parse(r.out);
  CHECK(seen.at("who") == "alice (manager)");
  CHECK(seen.at("requests").empty());  // nothing but the server itself was contacted
  CHECK(seen.at("console").empty());
  CHECK(seen.at("overdue_before") == 1);
  CHECK(seen.at("overdue_colour") == "rgb(192, 0, 0)");
  // Before: S0 (access to children) is tier 0; then C1 (high) phone and computer, then C2 (low).
  CHECK(seen.at("before") == json{"EX0", "EX1", "EX2", "EX3", "EX4"});
  // After: S2's devices are tier 0 and C2 is low risk, above S0's (not assessed).
  CHECK(seen.at("after") == json{"EX3", "EX4", "EX0", "EX1", "EX2"});
  CHECK(seen.at("status").get<std::string>().find("2 device(s) re-ranked") != std::string::npos);
  CHECK(seen.at("alert_text").get<std::string>().find("lives with children") != std::string::npos);
  bool trail = false;
  for (auto& row : seen.at("audit"))
    if (row[2] == "alice (token 1)" && row[4] == "Home visit: two children live at the address")
      trail = true;
  CHECK(trail);
  CHECK(seen.at("images") == 0);
  CHECK(seen.at("alerts_left") == json{"1"});
  CHECK(seen.at("narrow_overflow") == 0);  // no sideways scrolling on a 390 px screen

  // The same actions, through the API, are in the audit chain with the right user.
  HttpClient c("127.0.0.1", static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1))));
  auto audit = c.get("/api/audit?limit=100000", token).json();
  bool update = false, ack = false;
  for (auto& a : audit) {
    if (a.at("entity") == "suspect" && a.at("entity_id") == "S2" &&
        a.at("reason") == "Home visit: two children live at the address") {
      update = true;
      CHECK(a.at("user") == "alice (token 1)");
      CHECK(a.at("after").dump().find("\"lives_with_children\":\"yes\"") != std::string::npos);
    }
    if (a.at("entity") == "alert" && a.at("entity_id") == seen.at("acknowledged") &&
        a.at("after").dump().find("MASH-2026-0107") != std::string::npos) {
      ack = true;
      CHECK(a.at("user") == "alice (token 1)");
    }
  }
  CHECK(update);
  CHECK(ack);
  CHECK(c.get("/api/audit/verify", token).json().at("ok") == true);
  auto alert = c.get("/api/alerts/" + seen.at("acknowledged").get<std::string>(), token).json();
  CHECK(alert.at("reference") == "MASH-2026-0107");
  CHECK(alert.at("acknowledged_by") == "alice (token 1)");
  CHECK(proc.stop() == 0);

  // Keep the screenshot for people to look at.
  REQUIRE(fsys::file_size(shot) > 10000);
  safehold::test::keep_artifact(shot, "serve-dashboard.png");
}
