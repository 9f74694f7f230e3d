// The dashboard in headless Chromium (tests/common/browser.hpp).
#include <catch2/catch.hpp>
#include <set>
#include <tuple>

#include "scheduler/queue.hpp"
#include "tests/common/browser.hpp"
#include "tests/server/serve_support.hpp"

using nlohmann::json;
using safehold::test::HttpClient;
using safehold::test::ServeProcess;
using safehold::test::TempDir;
namespace sch = safehold::scheduler;
namespace fsys = std::filesystem;

namespace {

constexpr int64_t kDay = 86400;
// A picture's name that must never reach the page (the devices' sources and carve folders hold it).
constexpr const char* kFileName = "IMG_0042.JPG";

sch::MediaHash picture() {
  sch::MediaHash m;
  m.artefact = "000003";
  m.type = "jpeg";
  m.md5 = std::string(32, 'd');
  m.sha1 = std::string(40, 'e');
  m.sha256 = std::string(64, 'f');
  return m;
}

void examine(sch::Store& s, int64_t& t, const std::string& exhibit, const std::string& station) {
  sch::ClaimRequest r;
  r.station = station;
  r.classes = {sch::DeviceClass::phone};
  r.lease_seconds = kDay;
  r.kinds = {sch::JobKind::acquire};
  REQUIRE(s.claim("lab", r)->device.exhibit == exhibit);
  t += 3600;
  s.complete("lab", exhibit, station, "acquired", "/lab/images/" + exhibit + ".E01");
  r.kinds = {sch::JobKind::carve};
  REQUIRE(s.claim("lab", r)->device.exhibit == exhibit);
  t += kDay - 3600;
  s.complete("lab", exhibit, station, "carved");
}

// Twenty days of history before today: EX5 and EX8 examined (their findings share a picture: a
// link between C3 and C4), EX7 failed, EX6 being acquired at lab-3. The clock is moved by hand.
void seed_history(sch::Store& s) {
  const int64_t now = s.now();
  int64_t t = now - 20 * kDay;
  s.set_clock([&t] { return t; });
  s.add_case("setup", {"C3", sch::Risk::medium, "", "", ""});
  s.add_case("setup", {"C4", sch::Risk::low, "", "", ""});
  safehold::test::add_suspects(s, {{"S3", "C3"}, {"S4", "C4"}});
  for (auto [ex, sus, cls] : {std::tuple{"EX5", "S3", sch::DeviceClass::phone},
                              std::tuple{"EX6", "S3", sch::DeviceClass::computer},
                              std::tuple{"EX7", "S3", sch::DeviceClass::tablet},
                              std::tuple{"EX8", "S4", sch::DeviceClass::phone}}) {
    sch::NewDevice d;
    d.exhibit = ex;
    d.suspect_ref = sus;
    d.device_class = cls;
    d.source = std::string("/evidence/") + ex + "-" + kFileName;
    s.add_device("setup", d);
  }
  t = now - 15 * kDay;
  examine(s, t, "EX5", "lab-1");  // examined on day -14
  sch::DeviceFindings f;
  f.summary = {{"by_type", {{"jpeg", {{"allocated", 4}}}}},
               {"unknown_media", 4},
               {"camera_original", 2},
               {"chats", {{"telegram", 7}}}};
  f.media = {picture()};
  f.carve_dir = std::string("/lab/carves/EX5/") + kFileName;
  s.record_findings("lab", "EX5", f);
  t = now - 13 * kDay;
  examine(s, t, "EX8", "lab-1");
  f.carve_dir = "/lab/carves/EX8";
  s.record_findings("lab", "EX8", f);
  for (auto& a : s.alerts(true))
    if (a.kind == "link") s.acknowledge("setup", a.id, "LINK-REVIEWED");
  t = now - 10 * kDay;
  auto p = s.policy();
  p.max_attempts = 1;
  s.set_policy("setup", p, "test: one attempt");
  sch::ClaimRequest r;
  r.station = "lab-2";
  r.kinds = {sch::JobKind::acquire};
  REQUIRE(s.claim("lab", r)->device.exhibit == "EX7");  // a tablet ranks before a computer
  s.fail("lab", "EX7", "lab-2", "the write blocker reported a read error at sector 2048");
  t = now - 3600;
  r.station = "lab-3";
  r.lease_seconds = kDay;
  r.kinds = {sch::JobKind::acquire};
  REQUIRE(s.claim("lab", r)->device.exhibit == "EX6");
  s.set_clock(nullptr);
}

// What the dashboard showed of the backlog seeded by seed_history() and the test's own devices.
void check_backlog(const json& seen) {
  // Every device with its state and findings; filters by state.
  CHECK(seen.at("devices") == json{"EX3", "EX4", "EX0", "EX1", "EX5", "EX7", "EX2", "EX6", "EX8"});
  CHECK(seen.at("devices_failed") ==
        json{{"EX7", "C3", "failed: the write blocker reported a read error at sector 2048",
              "no findings yet"}});
  CHECK(seen.at("devices_progress") ==
        json{{"EX6", "C3", "in progress: acquiring at lab-3", "no findings yet"}});
  const std::string found =
      "4 artefacts \u00b7 0 known (0 indecent) \u00b7 0 PDQ near \u00b7 4 unknown media (2 "
      "camera-original) \u00b7 7 messages \u00b7 1 link";
  CHECK(seen.at("devices_done") == json{{"EX5", "C3", "done: examined, in review", found},
                                        {"EX8", "C4", "done: examined, in review", found}});
  REQUIRE(seen.at("links").size() == 1);
  CHECK(seen.at("links")[0][0] == "C4");
  CHECK(seen.at("links")[0][1] == "EX8");
  CHECK(seen.at("links")[0][2] == "C3");
  CHECK(seen.at("links")[0][3] == "EX5");
  CHECK(seen.at("links")[0][4] == "1 exact");
  // Charts: six tier/band series waited in the last 90 days; 12 weeks of intake (9 devices) and
  // examinations (2); waiting times of the 7 devices waiting now; deadlines by band.
  CHECK(seen.at("waiting_areas") == 6);
  CHECK(seen.at("waiting_legend") == json{"tier 0 \u00b7 low: 2 now", "tier 0 \u00b7 none: 1 now",
                                          "tier 1 \u00b7 high: 2 now",
                                          "tier 1 \u00b7 medium: 2 now", "tier 1 \u00b7 low: 0 now",
                                          "tier 1 \u00b7 none: 0 now"});
  auto sum = [](const json& a) {
    int64_t n = 0;
    for (auto& v : a) n += v.get<int64_t>();
    return n;
  };
  CHECK(seen.at("weekly_intake").size() == 12);
  CHECK(sum(seen.at("weekly_intake")) == 9);
  CHECK(sum(seen.at("weekly_examined")) == 2);
  CHECK(seen.at("waits") == json{"0", "5", "0", "2", "0", "0", "0", "0"});
  std::set<std::string> titles;
  for (auto& x : seen.at("breach_titles")) titles.insert(x.get<std::string>());
  CHECK(titles.size() == 10);
  CHECK(titles.count("medium: 1 met of 3 due (2 still waiting)"));
  CHECK(titles.count("medium: 2 breached of 3 due (2 still waiting)"));
  CHECK(titles.count("low: 0 breached of 0 due (0 still waiting)"));
  // The forecast: 2 examined in the 20 days of history (and the seconds the test took), one
  // station; 6 claimable devices.
  CHECK(seen.at("forecast_rate")
            .get<std::string>()
            .rfind("Measured rate: 0.1 devices examined a day (2 in the last 20", 0) == 0);
  CHECK(seen.at("forecast_rate").get<std::string>().find(" days, 1 station); the 5 intakes") !=
        std::string::npos);
  CHECK(seen.at("forecast_rate")
            .get<std::string>()
            .find("1 device at intake, without a source or failed is not forecast.") !=
        std::string::npos);
  REQUIRE(seen.at("forecast").size() == 6);
  std::vector<std::string> names, counts;
  for (auto& row : seen.at("forecast")) {
    names.push_back(row[0]);
    counts.push_back(row[1]);
  }
  CHECK(names == std::vector<std::string>{"tier 0 (children)", "band very-high", "band high",
                                          "band medium", "band low", "band none"});
  CHECK(counts == std::vector<std::string>{"3", "0", "2", "1", "2", "1"});
  CHECK(seen.at("forecast")[0][2] != "-");  // a date
  CHECK(seen.at("forecast")[1] == json{"band very-high", "0", "-", "nothing waiting"});
  // No file name, path or picture reaches the page.
  const std::string html = seen.at("page_html");
  CHECK(html.find(kFileName) == std::string::npos);
  CHECK(html.find("/evidence") == std::string::npos);
  CHECK(html.find(".E01") == std::string::npos);
  CHECK(html.find("/lab/") == std::string::npos);
}

}  // namespace

TEST_CASE("serve: dashboard in headless Chromium: household facts, re-rank, alert, acknowledgement",
          "[serve][browser][slow]") {
  const auto browser = safehold::test::require_browser();

  TempDir dir("safehold-serve-browser");
  const std::string db = (dir / "q.db").string();
  std::string token;
  {
    auto s = sch::Store::open(db);
    seed_history(*s);  // first: these devices are claimed before today's are taken in
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
  CHECK(seen.at("alerts_left") == json{"3"});  // 1 and 2: the link's, acknowledged by the seed
  CHECK(seen.at("narrow_overflow") == 0);      // no sideways scrolling on a 390 px screen

  check_backlog(seen);

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
