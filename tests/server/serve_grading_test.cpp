// The grading API over a real socket (docs/API.md "Grading"): roles (grader vs manager), votes
// hidden before voting, review and decision, the stored picture, the per-case VICS export and
// the time to submission in /metrics. Synthetic pictures and hashes only.
#include <fmt/core.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "base/hash.hpp"
#include "tests/server/serve_support.hpp"

using nlohmann::json;
using safehold::test::TestServer;
namespace sch = safehold::scheduler;
namespace fsys = std::filesystem;

namespace {

// A carve folder for EX1 with two synthetic JPEGs (made by ImageMagick) and their report lines.
std::vector<sch::MediaHash> carve_folder(const fsys::path& dir) {
  fsys::create_directories(dir / "artefacts" / "jpeg");
  std::ofstream report(dir / "report.jsonl");
  std::vector<sch::MediaHash> out;
  const std::string pdq = safehold::base::sha256_hex("grading picture");
  for (int n = 1; n <= 2; ++n) {
    auto file = dir / "artefacts" / "jpeg" / fmt::format("00000{}.jpg", n);
    safehold::test::must_run(fmt::format("convert -size 64x48 gradient:'#{}0{}0{}0'-'#203040' {}",
                                         n, n, n, safehold::test::shell_quote(file.string())));
    sch::MediaHash m;
    m.artefact = fmt::format("00000{}", n);
    m.type = "jpeg";
    m.sha256 = safehold::test::sha256_file(file);
    m.md5 = m.sha256.substr(0, 32);
    m.sha1 = m.sha256.substr(0, 40);
    m.pdq =
        n == 1 ? pdq : std::string(pdq.begin(), pdq.end() - 1) + (pdq.back() == '0' ? "1" : "0");
    m.quality = 90;
    out.push_back(m);
    report << json{{"id", m.artefact},
                   {"type", "jpeg"},
                   {"mime", "image/jpeg"},
                   {"size", fsys::file_size(file)},
                   {"md5", m.md5},
                   {"sha1", m.sha1},
                   {"sha256", m.sha256},
                   {"file", fmt::format("artefacts/jpeg/00000{}.jpg", n)},
                   {"state", "allocated"},
                   {"path", fmt::format("/DCIM/IMG_000{}.JPG", n)},
                   {"mtime", "2026-01-02T03:04:05Z"}}
                  .dump()
           << "\n";
  }
  return out;
}

}  // namespace

TEST_CASE("serve: grading API: roles, hidden votes, review, picture, export, metrics",
          "[serve][grading]") {
  TestServer srv;
  safehold::test::TempDir carve("safehold-grading-carve");
  std::string g1, g2;
  {
    auto s = sch::Store::open(srv.db());
    g1 = s->create_token("setup", sch::Role::grader, "gina").secret;
    g2 = s->create_token("setup", sch::Role::grader, "gus").secret;
    sch::DeviceFindings f;
    f.carve_dir = carve.path().string();
    f.media = carve_folder(carve.path());
    s->record_findings("station-1", "EX1", f);
  }
  auto c = srv.client();
  // A grader reaches only the grading routes; a manager's routes answer 403.
  CHECK(c.get("/api/me", g1).json().at("role") == "grader");
  for (const char* path : {"/api/queue", "/api/cases", "/api/audit", "/metrics",
                           "/api/grading/C1/reviews", "/api/grading/C1/stats"}) {
    INFO(path);
    auto r = c.get(path, g1);
    CHECK(r.status == 403);
    CHECK(r.json().at("error") == "the grader role may not do this");
  }
  CHECK(c.request("POST", "/api/grading/C1/export", g1, "{}").status == 403);
  CHECK(c.request("POST", "/api/grading/items/1/decide", g1, R"({"category":"A","reason":"x"})")
            .status == 403);
  CHECK(c.request("PUT", "/api/policy", g1, R"({"votes_needed":2,"reason":"x"})").status == 403);
  // An examiner and an auditor cannot grade.
  CHECK(c.get("/api/grading/C1/next", srv.examiner).status == 403);
  CHECK(c.get("/api/grading/C1/next", srv.auditor).status == 403);
  // Policy: votes needed is validated; two votes a picture for this test.
  auto bad = c.request("PUT", "/api/policy", srv.manager, R"({"votes_needed":10,"reason":"x"})");
  CHECK(bad.status == 400);
  CHECK(bad.json().at("error") == "field 'votes_needed' must be from 1 to 9");
  REQUIRE(c.request("PUT", "/api/policy", srv.manager,
                    R"({"votes_needed":2,"reason":"two graders in this unit"})")
              .status == 200);

  // The grader's first cluster: both near-duplicates, blurred by default.
  auto n1 = c.get("/api/grading/C1/next", g1).json();
  CHECK(n1.at("cluster") == 1);
  REQUIRE(n1.at("items").size() == 2);
  CHECK(n1.at("settings") == json{{"blur", true}, {"break_after", 100}});
  CHECK(n1.at("policy").at("categories") == json{"A", "B", "C", "not-indecent", "unsure"});
  auto pic = c.get("/api/grading/items/1/picture", g1);
  CHECK(pic.status == 200);
  CHECK(pic.headers["content-type"] == "image/jpeg");
  CHECK(safehold::base::sha256_hex(pic.body) == n1.at("items")[0].at("sha256"));
  auto v1 = c.request("POST", "/api/grading/C1/vote", g1, R"({"cluster":1,"category":"A"})");
  REQUIRE(v1.status == 200);
  CHECK(v1.json().at("items") == json{1, 2});
  CHECK(v1.json().at("today") == 2);
  CHECK(c.request("POST", "/api/grading/C1/vote", g1, R"({"cluster":1,"category":"A"})").status ==
        409);
  // The manager, grading, sees one vote cast on each and none of their values.
  auto m = c.get("/api/grading/C1/next", srv.manager).json();
  REQUIRE(m.at("items").size() == 2);
  for (auto& it : m.at("items")) {
    CHECK(it.at("votes") == 1);
    CHECK(it.at("my_vote").is_null());
    CHECK(it.at("category").is_null());
  }
  CHECK(c.get("/api/grading/C1/reviews", srv.manager).json() == json::array());
  // The second grader agrees on item 1 and not on item 2: 2 goes to review.
  auto v2 = c.request("POST", "/api/grading/C1/vote", g2, R"({"items":[1],"category":"A"})");
  CHECK(v2.json().at("decided") == json{1});
  auto v3 = c.request("POST", "/api/grading/C1/vote", g2, R"({"items":[2],"category":"B"})");
  CHECK(v3.json().at("review") == json{2});
  auto rv = c.get("/api/grading/C1/reviews", srv.manager).json();
  REQUIRE(rv.size() == 1);
  CHECK(rv[0].at("item").at("id") == 2);
  CHECK(rv[0].at("votes")[0].at("grader") == "gina (token 5)");
  CHECK(rv[0].at("votes")[0].at("category") == "A");
  CHECK(rv[0].at("votes")[1].at("category") == "B");
  // Not yet exportable.
  auto early = c.request("POST", "/api/grading/C1/export", srv.manager, R"({"shape":"uk-cases"})");
  CHECK(early.status == 409);
  CHECK(early.json().at("error") == "case C1 is not fully graded: 0 item(s) open, 1 in review");
  auto d = c.request("POST", "/api/grading/items/2/decide", srv.manager,
                     R"({"category":"B","reason":"checked at full size"})");
  REQUIRE(d.status == 200);
  CHECK(d.json().at("source") == "review");
  auto st = c.get("/api/grading/C1/stats", srv.manager).json();
  REQUIRE(st.size() == 2);
  CHECK(st[0].at("grader") == "gina (token 5)");
  CHECK(st[0].at("votes") == 2);
  CHECK(st[0].at("agreed") == 1);
  CHECK(st[0].at("by_category").at("A").at("decided") == 2);

  // The export: UK shape, the exhibit as SourceID, the decided categories.
  auto ex = c.request("POST", "/api/grading/C1/export", srv.manager, R"({"shape":"uk-cases"})");
  REQUIRE(ex.status == 200);
  auto doc = ex.json();
  CHECK(doc.at("odata.metadata") == "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml#Cases");
  auto& kase = doc.at("value")[0];
  CHECK(kase.at("CaseNumber") == "C1");
  REQUIRE(kase.at("Media").size() == 2);
  CHECK(kase.at("Media")[0].at("Category") == 1);
  CHECK(kase.at("Media")[1].at("Category") == 2);
  CHECK(kase.at("Media")[0].at("MediaFiles")[0].at("SourceID") == "EX1");
  CHECK(kase.at("Media")[0].at("MediaFiles")[0].at("FileName") == "IMG_0001.JPG");
  auto status = c.get("/api/grading/C1", g1).json();
  CHECK(status.at("complete") == true);
  CHECK(status.at("exported_by") == "alice (token 1)");
  CHECK(!status.at("submission_seconds").is_null());
  auto metrics = c.get("/metrics", srv.auditor).body;
  CHECK(metrics.find("safehold_grading_items{case=\"C1\",state=\"decided\"} 2\n") !=
        std::string::npos);
  CHECK(metrics.find("safehold_submission_seconds{case=\"C1\",phase=\"submission\"} ") !=
        std::string::npos);
  // Every vote, decision and export is in the chain, with the token's user.
  auto audit = c.get("/api/audit?limit=100000", srv.manager).json();
  std::vector<std::string> seen;
  for (auto& a : audit)
    if (a.at("action").get<std::string>().rfind("grading.", 0) == 0 &&
        a.at("action") != "grading.build")
      seen.push_back(a.at("action").get<std::string>() + " " + a.at("user").get<std::string>());
  CHECK(seen == std::vector<std::string>{"grading.vote gina (token 5)",
                                         "grading.vote gus (token 6)", "grading.vote gus (token 6)",
                                         "grading.decide alice (token 1)",
                                         "grading.export alice (token 1)"});
  CHECK(c.get("/api/audit/verify", srv.manager).json().at("ok") == true);
}
