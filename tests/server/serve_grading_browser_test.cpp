// The grading page in headless Chromium (tests/common/browser.hpp): three graders by keyboard,
// one split, the blur default, a disagreement reaching review. Synthetic pictures only.
#include <fmt/core.h>

#include <catch2/catch.hpp>

#include "base/hash.hpp"
#include "scheduler/queue.hpp"
#include "tests/common/browser.hpp"
#include "tests/server/serve_support.hpp"

using nlohmann::json;
using safehold::test::TempDir;
namespace sch = safehold::scheduler;
namespace fsys = std::filesystem;

namespace {

// PH-1's carve folder: four synthetic JPEGs (ImageMagick colour fields); 1-3 near-duplicates by
// their (synthetic) PDQ, 4 a camera-original candidate.
sch::DeviceFindings findings(const fsys::path& dir) {
  fsys::create_directories(dir / "artefacts" / "jpeg");
  sch::DeviceFindings f;
  f.carve_dir = dir.string();
  const std::string near = safehold::base::sha256_hex("cluster");
  for (int n = 1; n <= 4; ++n) {
    auto file = dir / "artefacts" / "jpeg" / fmt::format("00000{}.jpg", n);
    safehold::test::must_run(fmt::format("convert -size 96x72 gradient:'#{}0{}080'-'#102030' {}", n,
                                         9 - n, safehold::test::shell_quote(file.string())));
    sch::MediaHash m;
    m.artefact = fmt::format("00000{}", n);
    m.type = "jpeg";
    m.sha256 = safehold::test::sha256_file(file);
    m.md5 = m.sha256.substr(0, 32);
    m.sha1 = m.sha256.substr(0, 40);
    std::string p = n == 4 ? safehold::base::sha256_hex("camera") : near;
    if (n == 2 || n == 3) p[0] = p[0] == std::to_string(n)[0] ? 'f' : std::to_string(n)[0];
    m.pdq = p;
    m.quality = 90;
    m.camera = n == 4;
    f.media.push_back(m);
  }
  return f;
}

}  // namespace

TEST_CASE("serve: grading page in headless Chromium: keyboard, split, three graders, review",
          "[serve][browser][grading][slow]") {
  const auto browser = safehold::test::require_browser();
  safehold::test::TestServer srv;  // cases C1 and C2; EX1 is C1's phone; alice is the manager
  TempDir dir("safehold-grading-browser");
  std::string g1, g2, g3;
  {
    auto s = sch::Store::open(srv.db());
    s->record_findings("station-1", "EX1", findings(dir / "carve"));
    g1 = s->create_token("setup", sch::Role::grader, "gina").secret;
    g2 = s->create_token("setup", sch::Role::grader, "gus").secret;
    g3 = s->create_token("setup", sch::Role::grader, "gwen").secret;
  }
  const std::string url = "http://127.0.0.1:" + std::to_string(srv.port());
  const std::string shot = (dir / "grading.png").string();
  auto r = safehold::test::run_browser_script(browser, "tests/server/serve_grading_browser.cjs",
                                              {url, g1, g2, g3, shot});
  INFO("node stdout: " << r.out << "\nnode stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  auto seen = json::parse(r.out);
  CHECK(seen.at("requests").empty());
  CHECK(seen.at("console").empty());
  CHECK(seen.at("who") == "gina (grader)");
  // Blur and greyscale hold by default; a reveal lifts them for that picture only.
  CHECK(seen.at("filter") == "blur(18px) grayscale(1)");
  CHECK(seen.at("blurred") == json{true});
  CHECK(seen.at("revealed_filter") == "none");
  // G1: camera-original cluster 4 first; cluster 1 of three; 2 split off; then 1 and 3; then 2.
  CHECK(seen.at("g1") == json::parse(R"([["4",[4]],["1",[1,2,3]],["1",[1,3]],["2",[2]],["",[]]])"));
  CHECK(seen.at("g1_today") == "4");
  CHECK(seen.at("g1_status") == "Voted C on 1 picture(s).");
  CHECK(seen.at("g2") == json::parse(R"([["4",[4]],["1",[1,3]],["2",[2]],["",[]]])"));
  CHECK(seen.at("g3") == seen.at("g2"));
  CHECK(seen.at("g3_today") == "4");
  CHECK(seen.at("g3_blur_setting") == true);

  auto c = srv.client();
  auto status = c.get("/api/grading/C1", srv.manager).json();
  CHECK(status.at("decided") == 2);
  CHECK(status.at("review") == 2);
  auto rv = c.get("/api/grading/C1/reviews", srv.manager).json();
  REQUIRE(rv.size() == 2);
  CHECK(rv[0].at("item").at("id") == 1);
  CHECK(rv[1].at("item").at("id") == 3);
  std::vector<std::string> votes;
  for (auto& v : rv[0].at("votes")) votes.push_back(v.at("category").get<std::string>());
  CHECK(votes == std::vector<std::string>{"B", "B", "C"});
  // The reveal and the split are in the audit with the grader.
  int reveals = 0, splits = 0;
  for (auto& a : c.get("/api/audit?limit=100000", srv.manager).json()) {
    if (a.at("action") == "grading.reveal" && a.at("user") == "gina (token 5)") ++reveals;
    if (a.at("action") == "grading.split" && a.at("entity_id") == "2") ++splits;
  }
  CHECK(reveals == 1);
  CHECK(splits == 1);
  REQUIRE(fsys::file_size(shot) > 5000);
  safehold::test::keep_artifact(shot, "serve-grading.png");
}
