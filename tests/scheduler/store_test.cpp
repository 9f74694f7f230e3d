// The Store API on both back-ends (SQLite file and PostgreSQL), the same cases for each.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <set>
#include <sstream>
#include <thread>

#include "scheduler/queue.hpp"
#include "tests/scheduler/helpers.hpp"
#include "tests/scheduler/store_support.hpp"

using namespace safehold::scheduler;
using safehold::test::Clocked;
using safehold::test::must_run;
using safehold::test::QueueDb;
using safehold::test::run;
using safehold::test::shell_quote;
using namespace safehold::test::store;

TEST_CASE("store: list follows the policy table, rank first", "[scheduler]") {
  BACKEND();
  Clocked s(db->url());
  s->add_case("mgr", {"VH", Risk::very_high, "IIOC", "DC Ray", ""});
  s->add_case("mgr", {"MED", Risk::medium, "", "", ""});
  s->add_case("mgr", {"NA", Risk::none, "", "", ""});
  s->add_suspect("mgr", sus("VH-1", "VH", Answer::no, Answer::no));
  s->add_suspect("mgr", sus("MED-1", "MED", Answer::no, Answer::no));
  s->add_suspect("mgr", sus("NA-HOME", "NA", Answer::yes, Answer::unknown));  // tier 0
  s->add_suspect("mgr", sus("MED-WORK", "MED", Answer::no, Answer::yes));     // tier 0
  s->add_device("mgr", dev("A-usb", "VH-1", DeviceClass::removable));
  s.advance(60);
  s->add_device("mgr", dev("B-pc", "VH-1", DeviceClass::computer));
  s->add_device("mgr", dev("C-phone", "MED-1", DeviceClass::phone));
  s->add_device("mgr", dev("D-other", "NA-HOME", DeviceClass::other));
  s->add_device("mgr", dev("E-tablet", "MED-WORK", DeviceClass::tablet));
  s->add_device("mgr", dev("F-phone", "VH-1", DeviceClass::phone));
  s.advance(60);
  s->add_device("mgr", dev("G-phone", "MED-1", DeviceClass::phone));
  s->add_device("mgr", dev("H-pc", "NA-HOME", DeviceClass::computer));

  auto all = s->list({});
  CHECK(exhibits(all) == std::vector<std::string>{"E-tablet", "H-pc", "D-other", "F-phone", "B-pc",
                                                  "A-usb", "C-phone", "G-phone"});
  for (size_t i = 0; i < all.size(); ++i) CHECK(all[i].rank == static_cast<int64_t>(i + 1));
  CHECK(all[0].device.tier == 0);
  CHECK(all[0].risk == Risk::medium);
  CHECK(all[3].device.tier == 1);

  ListQuery top;
  top.limit = 3;
  CHECK(exhibits(s->list(top)) == std::vector<std::string>{"E-tablet", "H-pc", "D-other"});
  top.offset = 3;
  auto page = s->list(top);
  REQUIRE(page.size() == 3);
  CHECK(page[0].rank == 4);
  CHECK(page[0].device.exhibit == "F-phone");

  auto j = to_json(all[0]);
  for (const char* k : {"rank", "exhibit", "case", "suspect", "tier", "risk", "class",
                        "waiting_days", "deadline", "state"})
    CHECK(j.contains(k));
  CHECK(j["risk"] == "medium");
  CHECK(j["class"] == "tablet");
  CHECK(j["suspect"] == "MED-WORK");

  auto ex = s->explain("B-pc");
  CHECK(ex.entry.rank == 5);
  CHECK(ex.queued_total == 8);
  CHECK(ex.priority.tier == 1);
  CHECK(ex.priority.risk == Risk::very_high);
  CHECK(ex.priority.class_rank == 1);
  CHECK(ex.priority.reasons.size() == 4);
}

TEST_CASE("store: a fact change re-ranks all the suspect's devices in one transaction, audited",
          "[scheduler]") {
  BACKEND();
  Clocked s(db->url());
  s->add_case("mgr", {"C1", Risk::low, "", "", ""});
  s->add_case("mgr", {"C2", Risk::high, "", "", ""});
  s->add_suspect("mgr", sus("S1", "C1"));
  s->add_suspect("mgr", sus("S1b", "C1"));
  s->add_suspect("mgr", sus("S2", "C2", Answer::no, Answer::no));
  for (int i = 0; i < 5; ++i)
    s->add_device("mgr", dev("C1-" + std::to_string(i), "S1", DeviceClass::computer));
  s->add_device("mgr", dev("C1b-0", "S1b", DeviceClass::phone));
  s->add_device("mgr", dev("C2-0", "S2", DeviceClass::phone));
  CHECK(s->list({})[0].device.exhibit == "C2-0");

  // The reason is mandatory for a manual re-prioritisation.
  CHECK(error_kind([&] {
          s->update_suspect("mgr", "S1", {Answer::yes, {}, {}, {}, {}}, "");
        }) == QueueError::Kind::invalid);

  SuspectUpdate u;
  u.lives_with_children = Answer::yes;
  auto r = s->update_suspect("dsgt.ward", "S1", u, "home visit: two children aged 3 and 6");
  CHECK(r.devices_reranked == 5);
  REQUIRE(r.alerts_raised.size() == 1);
  auto order = exhibits(s->list({}));
  CHECK(order == std::vector<std::string>{"C1-0", "C1-1", "C1-2", "C1-3", "C1-4", "C2-0", "C1b-0"});
  // Two suspects of one case rank differently.
  CHECK(s->get_device("C1b-0").tier == 1);

  auto recs = s->audit("device", "C1-3");
  REQUIRE(recs.size() == 2);
  CHECK(recs[1].action == "device.priority");
  CHECK(recs[1].user == "dsgt.ward");
  CHECK(recs[1].reason == "home visit: two children aged 3 and 6");
  CHECK(nlohmann::json::parse(recs[1].before)["tier"] == 1);
  CHECK(nlohmann::json::parse(recs[1].after)["tier"] == 0);
  auto srec = s->audit("suspect", "S1");
  REQUIRE(srec.size() == 2);
  CHECK(nlohmann::json::parse(srec[1].before)["lives_with_children"] == "unknown");
  CHECK(nlohmann::json::parse(srec[1].after)["lives_with_children"] == "yes");
  // All in one transaction: consecutive sequence numbers, the fact change first.
  auto tail = s->audit("", "", 7);
  CHECK(tail[0].action == "suspect.update");
  CHECK(tail[1].action == "alert.raise");
  for (int i = 2; i < 7; ++i) CHECK(tail[static_cast<size_t>(i)].action == "device.priority");

  // Case risk change re-ranks the case's devices (both suspects).
  CaseUpdate cu;
  cu.risk = Risk::very_high;
  auto r2 = s->update_case("mgr", "C1", cu, "KIRAT reassessment");
  CHECK(r2.devices_reranked == 6);
  order = exhibits(s->list({}));
  CHECK(order == std::vector<std::string>{"C1-0", "C1-1", "C1-2", "C1-3", "C1-4", "C1b-0", "C2-0"});
  CHECK(s->get_device("C1b-0").deadline_at == s->get_device("C1b-0").intake_at + 86400);
  CHECK(s->verify_audit().ok);
}

TEST_CASE("store: safeguarding alerts are raised at once, due in 24 h, overdue first",
          "[scheduler]") {
  BACKEND();
  Clocked s(db->url());
  s->add_case("mgr", {"C1", Risk::none, "", "", ""});
  auto [s1, r1] = s->add_suspect("intake", sus("S1", "C1", Answer::yes, Answer::no));
  REQUIRE(r1.alerts_raised.size() == 1);
  const auto a1 = r1.alerts_raised[0];
  CHECK(a1.reason == "lives with children");
  CHECK(a1.due_at == a1.raised_at + 24 * 3600);
  CHECK(a1.raised_by == "intake");

  // A suspect with nothing known raises nothing; the device state does not matter for alerts.
  s->add_suspect("intake", sus("S2", "C1"));
  s->add_device("intake", dev("X", "S2", DeviceClass::phone));
  s->set_device_state("mgr", "X", DeviceState::withdrawn, "returned to owner");
  s.advance(3 * 3600);
  SuspectUpdate u;
  u.access_to_children = Answer::yes;
  auto r2 = s->update_suspect("dc.ali", "S2", u, "football coach");
  REQUIRE(r2.alerts_raised.size() == 1);
  CHECK(r2.alerts_raised[0].reason == "access to children");
  // A further yes on an already at-risk suspect raises no second alert.
  SuspectUpdate u2;
  u2.lives_with_children = Answer::yes;
  CHECK(s->update_suspect("dc.ali", "S2", u2, "also lives with a child").alerts_raised.empty());

  auto open = s->alerts(true);
  REQUIRE(open.size() == 2);
  CHECK(open[0].id == a1.id);  // due first
  s.advance(22 * 3600);        // a1 is now overdue, the other not
  auto listed = s->alerts(true);
  CHECK(listed[0].overdue(*s.t));
  CHECK(!listed[1].overdue(*s.t));
  auto m = s->metrics();
  CHECK(m.alerts_open == 2);
  CHECK(m.alerts_overdue == 1);

  auto acked = s->acknowledge("sgt.lee", a1.id, "CSC-2026-0042");
  CHECK(acked.acknowledged);
  CHECK(acked.acknowledged_by == "sgt.lee");
  CHECK(acked.reference == "CSC-2026-0042");
  CHECK(acked.acknowledged_at == *s.t);
  CHECK(error_kind([&] { s->acknowledge("sgt.lee", a1.id, "again"); }) ==
        QueueError::Kind::conflict);
  CHECK(error_kind([&] { s->acknowledge("sgt.lee", 999, "x"); }) == QueueError::Kind::not_found);
  CHECK(s->alerts(true).size() == 1);
  auto every = s->alerts(false);
  REQUIRE(every.size() == 2);
  CHECK(every[1].acknowledged);  // acknowledged last
  auto j = to_json(every[0], *s.t);
  for (const char* k : {"id", "case", "suspect", "raised_at", "due_at", "overdue", "acknowledged"})
    CHECK(j.contains(k));
  CHECK(s->audit("alert", std::to_string(a1.id)).size() == 2);
}

TEST_CASE("store: deadlines by band and breaches", "[scheduler]") {
  BACKEND();
  Clocked s(db->url());
  for (auto [ref, risk] : {std::pair{"VH", Risk::very_high},
                           {"H", Risk::high},
                           {"M", Risk::medium},
                           {"L", Risk::low}}) {
    s->add_case("mgr", {ref, risk, "", "", ""});
    s->add_suspect("mgr", sus(std::string(ref) + "-s", ref, Answer::no, Answer::no));
    s->add_device("mgr", dev(std::string(ref) + "-d", std::string(ref) + "-s", DeviceClass::phone));
  }
  const int64_t t0 = *s.t;
  CHECK(s->get_device("VH-d").deadline_at == t0 + 1 * 86400);
  CHECK(s->get_device("H-d").deadline_at == t0 + 7 * 86400);
  CHECK(s->get_device("M-d").deadline_at == t0 + 14 * 86400);
  CHECK(s->get_device("L-d").deadline_at == t0 + 30 * 86400);
  s.advance(8 * 86400);
  auto b = s->breaches();
  CHECK(exhibits(b) == std::vector<std::string>{"VH-d", "H-d"});
  CHECK(b[0].overdue);
  CHECK(s->metrics().deadline_breaches == 2);

  Policy p = s->policy();
  p.deadline_days[2] = 5;
  CHECK(error_kind([&] { s->set_policy("mgr", p, ""); }) == QueueError::Kind::invalid);
  s->set_policy("mgr", p, "force policy: medium within 5 days");
  CHECK(s->get_device("M-d").deadline_at == t0 + 5 * 86400);
  CHECK(exhibits(s->breaches()) == std::vector<std::string>{"VH-d", "M-d", "H-d"});
}

TEST_CASE("store: claims, leases, heartbeats, retries and capabilities", "[scheduler]") {
  BACKEND();
  Clocked s(db->url());
  s->add_case("mgr", {"C", Risk::high, "", "", ""});
  s->add_suspect("mgr", sus("S", "C", Answer::no, Answer::no));
  s->add_device("mgr", dev("PC", "S", DeviceClass::computer));
  s->add_device("mgr", dev("PH", "S", DeviceClass::phone));
  Policy p = s->policy();
  CHECK(p.lease_seconds == 300);
  CHECK(p.max_attempts == 3);

  ClaimRequest pcs;
  pcs.station = "bench-2";
  pcs.classes = {DeviceClass::computer};
  auto c = s->claim("w", pcs);
  REQUIRE(c);
  CHECK(c->device.exhibit == "PC");  // the phone ranks higher but this station cannot do phones
  CHECK(c->kind == JobKind::acquire);
  CHECK(c->device.state == DeviceState::acquiring);
  CHECK(c->device.lease_expires == *s.t + 300);
  CHECK(!s->claim("w", pcs));

  CHECK(error_kind([&] { s->heartbeat("w", "PC", "other"); }) == QueueError::Kind::conflict);
  CHECK(error_kind([&] { s->complete("w", "PH", "bench-2"); }) == QueueError::Kind::conflict);
  CHECK(error_kind([&] { s->complete("w", "NOPE", "bench-2"); }) == QueueError::Kind::not_found);
  s.advance(200);
  CHECK(s->heartbeat("w", "PC", "bench-2").lease_expires == *s.t + 300);
  s.advance(200);  // still within the renewed lease
  CHECK(s->reap_expired("w") == 0);
  auto done = s->complete("w", "PC", "bench-2", "imaged", "/evidence/PC.E01");
  CHECK(done.state == DeviceState::acquired);
  CHECK(done.image == "/evidence/PC.E01");
  CHECK(done.attempts == 0);

  // Carving is the next job of the same device.
  ClaimRequest carve;
  carve.station = "bench-3";
  carve.kinds = {JobKind::carve};
  auto c2 = s->claim("w", carve);
  REQUIRE(c2);
  CHECK(c2->device.exhibit == "PC");
  CHECK(c2->kind == JobKind::carve);
  CHECK(c2->device.image == "/evidence/PC.E01");  // the carve job finds the acquired image
  CHECK(s->complete("w", "PC", "bench-3").state == DeviceState::review);

  // Expired leases return to the queue; after max_attempts the device is failed.
  ClaimRequest any;
  any.station = "bench-1";
  for (int attempt = 1; attempt <= 3; ++attempt) {
    if (attempt > 1) {
      // The expired lease is reaped by this claim; the job then backs off 60 s, then 120 s.
      const int64_t wait = attempt == 2 ? 60 : 120;
      CHECK(!s->claim("w", any));
      s.advance(wait - 1);
      CHECK(!s->claim("w", any));
      s.advance(1);
    }
    auto got = s->claim("w", any);
    REQUIRE(got);
    CHECK(got->device.exhibit == "PH");
    CHECK(got->device.attempts == attempt);
    s.advance(301);
  }
  CHECK(!s->claim("w", any));  // the third expiry failed it
  auto ph = s->get_device("PH");
  CHECK(ph.state == DeviceState::failed);
  CHECK(ph.last_error == "lease of station bench-1 expired");
  auto expired = s->audit("device", "PH");
  CHECK(std::count_if(expired.begin(), expired.end(),
                      [](auto& r) { return r.action == "device.lease-expired"; }) == 3);

  // A failed device goes back by hand; fail() retries then gives up.
  s->set_device_state("mgr", "PH", DeviceState::queued, "write-blocker replaced");
  auto g = s->claim("w", any);
  REQUIRE(g);
  CHECK(s->fail("w", "PH", "bench-1", "read error at sector 17").state == DeviceState::queued);
  s.advance(60);
  REQUIRE(s->claim("w", any));
  CHECK(s->fail("w", "PH", "bench-1", "again").state == DeviceState::queued);
  s.advance(120);
  REQUIRE(s->claim("w", any));
  auto f = s->fail("w", "PH", "bench-1", "third time");
  CHECK(f.state == DeviceState::failed);
  CHECK(f.last_error == "third time");
  CHECK(s->verify_audit().ok);
}

TEST_CASE("store: tokens are stored hashed, verified and revoked", "[scheduler]") {
  BACKEND();
  Clocked s(db->url());
  auto t1 = s->create_token("admin", Role::manager, "alice");
  auto t2 = s->create_token("admin", Role::auditor, "");
  CHECK(t1.secret.size() == 9 + 64);  // "safehold_" and 64 hex digits
  CHECK(t1.secret != t2.secret);
  CHECK(t2.token.name == "auditor");
  auto v = s->verify_token(t1.secret);
  REQUIRE(v);
  CHECK(v->role == Role::manager);
  CHECK(v->name == "alice");
  CHECK(!s->verify_token("safehold_0000"));
  CHECK(!s->verify_token(""));
  // Only hashes in the database.
  auto stored = db->sql("SELECT hash FROM tokens ORDER BY id");
  REQUIRE(stored.exit_code == 0);
  CHECK(stored.out.find(t1.secret) == std::string::npos);
  CHECK(stored.out.find(t1.secret.substr(6, 20)) == std::string::npos);
  CHECK(stored.out.size() >= 2 * 64);
  s->revoke_token("admin", "alice");
  CHECK(!s->verify_token(t1.secret));
  CHECK(s->verify_token(t2.secret));
  CHECK(error_kind([&] { s->revoke_token("admin", std::to_string(t1.token.id)); }) ==
        QueueError::Kind::conflict);
  CHECK(error_kind([&] { s->revoke_token("admin", "nobody"); }) == QueueError::Kind::not_found);
  auto list = s->list_tokens();
  REQUIRE(list.size() == 2);
  CHECK(list[0].revoked_at == *s.t);
  CHECK(s->audit("token").size() == 3);
}

TEST_CASE("store: unknown ids and invalid values are clear errors", "[scheduler]") {
  BACKEND();
  Clocked s(db->url());
  s->add_case("mgr", {"C", Risk::high, "", "", ""});
  CHECK(error_kind([&] {
          s->add_case("mgr", {"C", Risk::low, "", "", ""});
        }) == QueueError::Kind::conflict);
  CHECK(error_kind([&] {
          s->add_case("mgr", {"", Risk::low, "", "", ""});
        }) == QueueError::Kind::invalid);
  CHECK(error_kind([&] { s->add_suspect("mgr", sus("S", "NOPE")); }) ==
        QueueError::Kind::not_found);
  s->add_suspect("mgr", sus("S", "C"));
  CHECK(error_kind([&] { s->add_device("mgr", dev("D", "NOPE", DeviceClass::phone)); }) ==
        QueueError::Kind::not_found);
  auto bad_date = dev("D", "S", DeviceClass::phone);
  bad_date.seized = "2026-13-01";
  CHECK(error_kind([&] { s->add_device("mgr", bad_date); }) == QueueError::Kind::invalid);
  s->add_device("mgr", dev("D", "S", DeviceClass::phone));
  CHECK(error_kind([&] { s->add_device("mgr", dev("D", "S", DeviceClass::phone)); }) ==
        QueueError::Kind::conflict);
  CHECK(error_kind([&] { s->explain("NOPE"); }) == QueueError::Kind::not_found);
  CHECK(error_kind([&] { s->get_case("NOPE"); }) == QueueError::Kind::not_found);
  CHECK(error_kind([&] { s->update_case("mgr", "NOPE", {}, "why"); }) ==
        QueueError::Kind::not_found);
  // A failed transaction leaves nothing behind, not even an audit record.
  CHECK(s->audit().size() == 3);
  CHECK(s->verify_audit().ok);
}

TEST_CASE("store: CSV import and export round-trip", "[scheduler]") {
  BACKEND();
  Clocked s(db->url());
  std::istringstream in(
      "exhibit,case,suspect,class,capacity,seized,source,state,intake_at,risk,offence,officer,"
      "lives_with_children,access_to_children\n"
      "EX1,OP-A,A1,phone,64000000000,2026-10-01,/dev/sdb,queued,2026-10-02T09:00:00Z,high,IIOC,"
      "\"Smith, J\",yes,no\n"
      "EX2,OP-A,A1,computer,,,,,2026-10-03T09:00:00Z,,,,,\n"
      "EX3,OP-B,B1,removable,,,\"/cases/b1/\"\"usb\"\".raw\",done,1790000000,low,,,no,no\n");
  CHECK(s->import_csv("import", in) == 3);
  CHECK(s->get_case("OP-A").officer == "Smith, J");
  CHECK(s->get_case("OP-A").risk == Risk::high);
  CHECK(s->get_suspect("A1").lives_with_children == Answer::yes);
  CHECK(s->get_device("EX1").capacity == 64000000000ULL);
  CHECK(s->get_device("EX1").intake_at == 1790931600);
  CHECK(s->get_device("EX3").source == "/cases/b1/\"usb\".raw");
  CHECK(s->get_device("EX3").state == DeviceState::done);
  CHECK(s->alerts(true).size() == 1);  // A1 lives with children

  std::ostringstream out;
  s->export_csv(out);
  auto db2 = QueueDb::make("sqlite");
  Clocked s2(db2->url());
  std::istringstream back(out.str());
  CHECK(s2->import_csv("import", back) == 3);
  std::ostringstream out2;
  s2->export_csv(out2);
  CHECK(out2.str() == out.str());

  std::istringstream bad("exhibit,case,suspect,class\nOK1,OP-C,C1,phone\nBAD,OP-C,C1,toaster\n");
  try {
    s->import_csv("import", bad);
    FAIL("no error");
  } catch (const QueueError& e) {
    CHECK(std::string(e.what()) == "CSV line 3: unknown device class 'toaster'");
  }
  CHECK(error_kind([&] { s->get_device("OK1"); }) ==
        QueueError::Kind::not_found);  // all or nothing
}

TEST_CASE("store: a claimed job is released untouched: back to its state, no attempt spent",
          "[scheduler]") {
  BACKEND();
  Clocked s(db->url());
  s->add_case("mgr", {"C", Risk::high, "", "", ""});
  s->add_suspect("mgr", sus("S", "C", Answer::no, Answer::no));
  s->add_device("mgr", dev("PH", "S", DeviceClass::phone));
  ClaimRequest r;
  r.station = "bench-1";
  REQUIRE(s->claim("w", r));
  CHECK(error_kind([&] { s->release("w", "PH", "bench-2", "stopping"); }) ==
        QueueError::Kind::conflict);
  CHECK(error_kind([&] { s->release("w", "PH", "bench-1", " "); }) == QueueError::Kind::invalid);
  CHECK(error_kind([&] { s->release("w", "NOPE", "bench-1", "stopping"); }) ==
        QueueError::Kind::not_found);
  auto d = s->release("w", "PH", "bench-1", "worker stopped (SIGTERM)");
  CHECK(d.state == DeviceState::queued);
  CHECK(d.attempts == 0);
  CHECK(d.station.empty());
  CHECK(d.lease_expires == 0);
  CHECK(s->get_device("PH").state == DeviceState::queued);
  CHECK(s->get_device("PH").attempts == 0);
  CHECK(error_kind([&] { s->release("w", "PH", "bench-1", "again"); }) ==
        QueueError::Kind::conflict);  // no longer held
  auto rec = s->audit("device", "PH");
  REQUIRE(!rec.empty());
  CHECK(rec.back().action == "device.release");
  CHECK(rec.back().reason == "worker stopped (SIGTERM)");
  CHECK(rec.back().user == "w");
  CHECK(rec.back().before.find("\"acquiring\"") != std::string::npos);
  CHECK(rec.back().after.find("\"queued\"") != std::string::npos);

  // Released max_attempts times and more: never failed, since no attempt was spent.
  for (int i = 0; i < 4; ++i) {
    auto c = s->claim("w", r);
    REQUIRE(c);
    CHECK(c->device.attempts == 1);
    s->release("w", "PH", "bench-1", "stopping");
  }
  // A carve job goes back to acquired, keeping its image.
  REQUIRE(s->claim("w", r));
  s->complete("w", "PH", "bench-1", "", "/evidence/PH.E01");
  ClaimRequest carve;
  carve.station = "bench-3";
  carve.kinds = {JobKind::carve};
  REQUIRE(s->claim("w", carve));
  auto back = s->release("w", "PH", "bench-3", "stopping");
  CHECK(back.state == DeviceState::acquired);
  CHECK(back.image == "/evidence/PH.E01");
  auto again = s->claim("w", carve);
  REQUIRE(again);
  CHECK(again->device.exhibit == "PH");
  // An expired lease cannot be released (the reaper owns it).
  s.advance(301);
  CHECK(error_kind([&] { s->release("w", "PH", "bench-3", "late"); }) ==
        QueueError::Kind::conflict);
  CHECK(s->verify_audit().ok);
}

TEST_CASE("store: explain's rank is the device's position in the queued list", "[scheduler]") {
  BACKEND();
  Clocked s(db->url());
  s->add_case("mgr", {"A", Risk::high, "", "", ""});
  s->add_case("mgr", {"B", Risk::low, "", "", ""});
  s->add_suspect("mgr", sus("SA", "A", Answer::no, Answer::no));
  s->add_suspect("mgr", sus("SK", "B", Answer::yes, Answer::no));  // tier 0
  // Same intake second for several devices of one class: equal keys, ordered by id.
  for (int i = 0; i < 12; ++i) {
    NewDevice d =
        dev("A" + std::to_string(i), "SA", i % 3 == 0 ? DeviceClass::computer : DeviceClass::phone);
    d.intake_at = 1'789'000'000 + (i % 4) * 3600;
    s->add_device("mgr", d);
    NewDevice k =
        dev("K" + std::to_string(i), "SK", i % 2 ? DeviceClass::removable : DeviceClass::tablet);
    k.intake_at = 1'789'000'000 + (i % 3) * 3600;
    s->add_device("mgr", k);
  }
  ClaimRequest r;
  r.station = "x";
  REQUIRE(s->claim("w", r));  // one device out of the queued list: rank 0
  ListQuery q;
  q.states = {DeviceState::queued};
  auto list = s->list(q);
  REQUIRE(list.size() == 23);
  for (auto& e : list) {
    auto ex = s->explain(e.device.exhibit);
    INFO(e.device.exhibit);
    CHECK(ex.entry.rank == e.rank);
    CHECK(ex.queued_total == 23);
  }
  ListQuery every;
  every.states.clear();
  int held = 0;
  for (auto& e : s->list(every))
    if (e.device.state != DeviceState::queued) {
      ++held;
      CHECK(s->explain(e.device.exhibit).entry.rank == 0);
    }
  CHECK(held == 1);
}

TEST_CASE("store: the partial queue indexes are added to an older database", "[scheduler]") {
  BACKEND();
  { Clocked s(db->url()); }
  db->sql("DROP INDEX devices_queued");
  db->sql("DROP INDEX devices_acquired");
  Clocked s(db->url());
  std::string q = db->pg() ? "SELECT count(*) FROM pg_indexes WHERE indexname IN "
                             "('devices_queued', 'devices_acquired')"
                           : "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN "
                             "('devices_queued', 'devices_acquired')";
  CHECK(db->sql(q).out == "2\n");
}

TEST_CASE("store: a CSV import with a repeated exhibit fails whole, naming the line",
          "[scheduler]") {
  BACKEND();
  Clocked s(db->url());
  std::ostringstream csv;
  csv << "exhibit,case,suspect,class,source,state,lives_with_children\n";
  for (int i = 0; i < 1200; ++i)  // more than one multi-row insert
    csv << "E" << i << ",C" << i / 10 << ",S" << i / 5 << ",phone,/dev/null,"
        << (i == 7 ? "done" : "") << "," << (i % 25 == 0 ? "yes" : "no") << "\n";
  std::istringstream in(csv.str());
  CHECK(s->import_csv("imp", in) == 1200);
  CHECK(s->get_device("E7").state == DeviceState::done);
  CHECK(s->get_device("E1199").suspect_ref == "S239");
  CHECK(s->alerts(true).size() == 48);
  ListQuery queued;
  CHECK(s->list(queued).size() == 1199);  // E7 was imported done
  auto rec = s->audit("device", "E7");
  REQUIRE(rec.size() == 2);
  CHECK(rec[0].action == "device.add");
  CHECK(rec[1].action == "device.state");
  CHECK(s->verify_audit().ok);
  if (db->pg())  // statistics are fresh after an import (the claim plan depends on them)
    CHECK(db->sql("SELECT reltuples::bigint FROM pg_class WHERE relname = 'devices'").out ==
          "1200\n");

  std::istringstream dup(
      "exhibit,case,suspect,class\nN1,C900,S900,phone\nN2,C900,S900,phone\n"
      "N1,C900,S900,tablet\n");
  try {
    s->import_csv("imp", dup);
    FAIL("no error");
  } catch (const QueueError& e) {
    CHECK(std::string(e.what()) == "CSV line 4: device N1 already exists");
    CHECK(e.kind == QueueError::Kind::conflict);
  }
  std::istringstream exists("exhibit,case,suspect,class\nE5,C900,S900,phone\n");
  CHECK(error_kind([&] { s->import_csv("imp", exists); }) == QueueError::Kind::conflict);
  CHECK(error_kind([&] { s->get_device("N2"); }) == QueueError::Kind::not_found);
}
