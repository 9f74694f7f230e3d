// Grading queue (docs/grading.md) on SQLite and PostgreSQL: items and clusters built from the
// media index, pre-graded known material, order, hidden votes, agreement, review, undo, split,
// statistics, times to submission and the audit. Hashes are synthetic.
#include <fmt/core.h>

#include <catch2/catch.hpp>

#include "base/hash.hpp"
#include "scheduler/pdq_index.hpp"
#include "tests/scheduler/store_support.hpp"

using namespace safehold::scheduler;
using namespace safehold::test;
using namespace safehold::test::store;

namespace {

// A 64-digit PDQ hex with `flips` bits of its last digits inverted (distance = flips).
std::string pdq_near(const std::string& base, int flips) {
  std::string out = base;
  for (int i = 0; i < flips; ++i) {
    char& c = out[63 - i / 4];
    int v = std::stoi(std::string(1, c), nullptr, 16) ^ (1 << (i % 4));
    c = "0123456789abcdef"[v];
  }
  REQUIRE(pdq_distance(*parse_pdq(out), *parse_pdq(base)) == flips);
  return out;
}

MediaHash media(const std::string& artefact, const std::string& seed, const std::string& pdq,
                bool camera = false) {
  MediaHash m;
  m.artefact = artefact;
  m.type = pdq.empty() ? "mp4" : "jpeg";
  m.sha256 = safehold::base::sha256_hex(seed);
  m.md5 = m.sha256.substr(0, 32);
  m.sha1 = m.sha256.substr(0, 40);
  m.pdq = pdq;
  m.quality = pdq.empty() ? -1 : 80;
  m.camera = camera;
  return m;
}

std::vector<int64_t> ids(const GradingCluster& c) {
  std::vector<int64_t> out;
  for (auto& i : c.items) out.push_back(i.id);
  return out;
}

std::vector<std::string> actions(Store& s, const std::string& prefix) {
  std::vector<std::string> out;
  for (auto& r : s.audit())
    if (r.action.rfind(prefix, 0) == 0) out.push_back(r.action + " " + r.entity_id);
  return out;
}

// Case OP-1: PH-1 (phone of a suspect living with children, tier 0) and PC-2 (computer, tier 1).
// PH-1: a1, a2 (5 bits from a1), a3 (20 bits) near-duplicates; a4 camera-original; a5 known
// (CAID set, category 1 = A). PC-2: a copy of a1, b1 and a video b2 without PDQ.
void setup(Clocked& s) {
  s->add_case("sam", {"OP-1", Risk::high, "", "", ""});
  s->add_suspect("sam", sus("S1", "OP-1", Answer::yes, Answer::no));
  s->add_suspect("sam", sus("S2", "OP-1"));
  s->add_device("sam", dev("PH-1", "S1", DeviceClass::phone));
  s->add_device("sam", dev("PC-2", "S2", DeviceClass::computer));
  const std::string p = safehold::base::sha256_hex("picture one");
  DeviceFindings f1;
  f1.carve_dir = "/evidence/OP-1/PH-1/carve";
  f1.media = {media("000001", "a1", p), media("000002", "a2", pdq_near(p, 5)),
              media("000003", "a3", pdq_near(p, 20)),
              media("000004", "a4", safehold::base::sha256_hex("camera"), true),
              media("000005", "a5", safehold::base::sha256_hex("known"))};
  f1.media[4].known_category = "indecent";
  f1.media[4].known_set = "CAID";
  f1.media[4].known_grade = "1";
  s->record_findings("station-1", "PH-1", f1);
  s.advance(60);
  DeviceFindings f2;
  f2.carve_dir = "/evidence/OP-1/PC-2/carve";
  f2.media = {media("000010", "a1", p), media("000011", "b1", safehold::base::sha256_hex("b1")),
              media("000012", "b2", "")};
  s->record_findings("station-1", "PC-2", f2);
}

}  // namespace

TEST_CASE("grading: items per SHA-256, PDQ clusters, known pre-graded, camera first",
          "[scheduler][grading]") {
  BACKEND();
  Clocked s(db->url());
  setup(s);
  auto st = s->grading_status("OP-1");
  CHECK(st.items == 7);
  CHECK(st.clusters == 5);
  CHECK(st.known == 1);
  CHECK(st.decided == 1);
  CHECK(st.open == 6);
  CHECK(st.carve_done_at == *s.t);
  CHECK(st.complete_at == 0);
  CHECK(db->sql("SELECT id || ':' || cluster || ':' || position || ':' || copies || ':' || state "
                "|| ':' || category || ':' || source FROM grading_items ORDER BY id")
            .out ==
        "1:1:2:2:open::\n2:1:2:1:open::\n3:1:2:1:open::\n4:4:1:1:open::\n"
        "5:5:3:1:decided:A:set CAID\n6:6:4:1:open::\n7:7:5:1:open::\n");
  auto item1 = s->grading_item("g1", 1);
  CHECK(item1.exhibits == std::vector<std::string>{"PH-1", "PC-2"});
  CHECK(item1.artefact == "000001");
  // The camera-original candidate first, then PH-1's cluster, then PC-2's (tier 1).
  auto c = s->next_cluster("g1", "OP-1");
  REQUIRE(c);
  CHECK(c->cluster == 4);
  CHECK(ids(*c) == std::vector<int64_t>{4});
  CHECK(c->remaining == 4);
  CHECK(c->items[0].camera);
  CHECK(error_kind([&] { s->grading_status("OP-9"); }) == QueueError::Kind::not_found);
}

TEST_CASE("grading: votes hidden, agreement decides, disagreement goes to review",
          "[scheduler][grading]") {
  BACKEND();
  Clocked s(db->url());
  setup(s);
  auto r = s->vote("g1", "OP-1", 4, {}, "A");
  CHECK(r.items == std::vector<int64_t>{4});
  CHECK(r.today == 1);
  auto c = s->next_cluster("g1", "OP-1");
  REQUIRE(c);
  CHECK(ids(*c) == std::vector<int64_t>{1, 2, 3});
  // Split a3 off; the rest keep cluster 1.
  CHECK(s->split_item("g1", 3).cluster == 3);
  CHECK(ids(*s->next_cluster("g1", "OP-1")) == std::vector<int64_t>{1, 2});
  // One key for the cluster, taken back, given again.
  CHECK(s->vote("g1", "OP-1", 1, {}, "C").items == std::vector<int64_t>{1, 2});
  auto u = s->undo_vote("g1", "OP-1");
  CHECK(u.items == std::vector<int64_t>{1, 2});
  CHECK(db->sql("SELECT COUNT(*) FROM grading_votes WHERE grader = 'g1'").out == "1\n");
  s->vote("g1", "OP-1", 1, {}, "B");
  s->vote("g1", "OP-1", 0, {3}, "C");
  CHECK(error_kind([&] { s->vote("g1", "OP-1", 0, {3}, "C"); }) == QueueError::Kind::conflict);
  CHECK(error_kind([&] { s->vote("g1", "OP-1", 0, {3}, "D"); }) == QueueError::Kind::invalid);
  // g2 sees cluster 4 with one vote cast, but not its value.
  auto c2 = s->next_cluster("g2", "OP-1");
  REQUIRE(c2);
  CHECK(c2->cluster == 4);
  CHECK(c2->items[0].votes == 1);
  CHECK(c2->items[0].my_vote == "");
  CHECK(to_json(*c2).dump().find("\"A\"") == std::string::npos);
  s->vote("g2", "OP-1", 4, {}, "A");
  auto r3 = s->vote("g3", "OP-1", 4, {}, "A");
  CHECK(r3.decided == std::vector<int64_t>{4});
  s->vote("g2", "OP-1", 1, {}, "B");
  auto r4 = s->vote("g3", "OP-1", 1, {}, "C");
  CHECK(r4.decided.empty());
  CHECK(r4.review == std::vector<int64_t>{1, 2});
  CHECK(error_kind([&] { s->vote("g4", "OP-1", 1, {}, "B"); }) == QueueError::Kind::conflict);
  auto rv = s->reviews("OP-1", true);
  REQUIRE(rv.size() == 2);
  CHECK(rv[0].item.id == 1);
  REQUIRE(rv[0].votes.size() == 3);
  CHECK(rv[0].votes[0].grader == "g1");
  CHECK(rv[0].votes[0].category == "B");
  CHECK(rv[0].votes[2].category == "C");
  // A manager decides; g3 can no longer take that vote back.
  CHECK(error_kind([&] { s->decide("meg", 1, "B", ""); }) == QueueError::Kind::invalid);
  auto d = s->decide("meg", 1, "B", "two of three, checked");
  CHECK(d.state == "decided");
  CHECK(d.source == "review");
  CHECK(error_kind([&] { s->undo_vote("g3", "OP-1"); }) == QueueError::Kind::conflict);
  CHECK(s->reviews("OP-1", true).size() == 1);
  CHECK(s->reviews("OP-1", false).size() == 2);
  // Statistics: g1 voted A (4, decided A), B (1 decided B, 2 in review), C (3 open).
  auto stats = s->grading_stats("OP-1");
  REQUIRE(stats.size() == 3);
  CHECK(stats[0].grader == "g1");
  CHECK(stats[0].total.votes == 4);
  CHECK(stats[0].total.decided == 2);
  CHECK(stats[0].total.agreed == 2);
  CHECK(stats[2].grader == "g3");
  CHECK(stats[2].by_category["C"].votes == 2);
  CHECK(stats[2].by_category["C"].decided == 1);
  CHECK(stats[2].by_category["C"].agreed == 0);
  CHECK(error_kind([&] { s->grading_export("OP-1"); }) == QueueError::Kind::conflict);
  CHECK(db->sql("SELECT COUNT(*) FROM grading_votes").out == "10\n");
  CHECK(actions(*s.store, "grading.") ==
        std::vector<std::string>{"grading.build OP-1", "grading.build OP-1", "grading.vote OP-1",
                                 "grading.split 3", "grading.vote OP-1", "grading.undo OP-1",
                                 "grading.vote OP-1", "grading.vote OP-1", "grading.vote OP-1",
                                 "grading.vote OP-1", "grading.vote OP-1", "grading.vote OP-1",
                                 "grading.decide 1"});
  CHECK(s->verify_audit().ok);
}

TEST_CASE("grading: complete, export recorded once, times to submission", "[scheduler][grading]") {
  BACKEND();
  Clocked s(db->url());
  Policy p = s->policy();
  p.votes_needed = 0;
  try {
    s->set_policy("meg", p, "one vote");
    FAIL("votes_needed 0 accepted");
  } catch (const QueueError& e) {
    CHECK(std::string(e.what()) == "policy not changed: votes_needed must be from 1 to 9, not 0");
  }
  p.votes_needed = 1;
  s->set_policy("meg", p, "one vote a picture in this test");
  setup(s);
  const int64_t carved = *s.t;
  s.advance(100);
  for (auto c = s->next_cluster("g1", "OP-1"); c; c = s->next_cluster("g1", "OP-1"))
    s->vote("g1", "OP-1", c->cluster, {}, c->cluster == 6 ? "not-indecent" : "C");
  auto st = s->grading_status("OP-1");
  CHECK(st.complete());
  CHECK(st.complete_at == carved + 100);
  p.grading_profile = GradingProfile::vic;
  CHECK(error_kind([&] { s->set_policy("meg", p, "VIC"); }) == QueueError::Kind::conflict);
  auto e = s->grading_export("OP-1");
  CHECK(e.carve_dirs ==
        std::vector<std::pair<std::string, std::string>>{{"PC-2", "/evidence/OP-1/PC-2/carve"},
                                                         {"PH-1", "/evidence/OP-1/PH-1/carve"}});
  CHECK(e.grades.size() == 7);
  CHECK(e.grades[safehold::base::sha256_hex("a5").substr(0, 32)] == 1);
  CHECK(e.grades[safehold::base::sha256_hex("b1").substr(0, 32)] == 4);
  CHECK(e.grades[safehold::base::sha256_hex("a1").substr(0, 32)] == 3);
  s.advance(50);
  auto x = s->record_grading_export("meg", "OP-1", "uk-cases", 7);
  CHECK(x.exported_at == carved + 150);
  CHECK(x.exported_by == "meg");
  s.advance(50);
  CHECK(s->record_grading_export("ann", "OP-1", "media", 7).exported_at == carved + 150);
  CHECK(to_json(s->grading_status("OP-1"))["submission_seconds"] == 150);
  CHECK(error_kind([&] { s->record_grading_export("ann", "OP-1", "csv", 7); }) ==
        QueueError::Kind::invalid);
  auto audit = s->audit("case", "OP-1");
  CHECK(audit.back().action == "grading.export");
  CHECK(audit.back().after == R"({"items":7,"media":7,"shape":"media"})");
}
