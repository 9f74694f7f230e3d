// The Store API's PostgreSQL paths: one-statement claims and completions, records a writer left
// unchained, and the client-side path of a database that is not UTF8.
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

// On PostgreSQL, claim and complete are one statement each that builds the audit record on the
// server (to audit_pending_device, as the device's fields), and the store's seal builds its JSON
// and chains it later, in a batch. The chain they write must be the one the C++ code writes
// (SQLite): the same records byte for byte, hashes included, in the same order, for the same
// operations at the same clock, with strings that need JSON escaping; `verify` accepts it and
// catches an edited record.
TEST_CASE("store: PostgreSQL's one-statement claim and complete write the C++ audit chain",
          "[scheduler]") {
  auto pg = QueueDb::make("postgresql");
  if (!pg) return;
  auto lite = QueueDb::make("sqlite");
  const std::string odd = "q\"uote\\back/slash é 😀 end";
  const std::string station = "st\"ation\\ é";
  auto scenario = [&](const std::string& url) {
    Clocked s(url);
    s->add_case("mgr", {"C" + odd, Risk::high, "", "", ""});
    s->add_suspect("mgr", sus("S" + odd, "C" + odd, Answer::no, Answer::no));
    NewDevice a = dev("A" + odd, "S" + odd, DeviceClass::phone);
    a.source = "/dev/sd\"b\\ \t\n\x01 \x7f ü";
    s->add_device("mgr", a);
    s->add_device("mgr", dev("B", "S" + odd, DeviceClass::computer));
    s->add_device("mgr", dev("C", "S" + odd, DeviceClass::tablet));
    ClaimRequest acquire;
    acquire.station = station;
    acquire.kinds = {JobKind::acquire};
    ClaimRequest carve_computers;
    carve_computers.station = "carver";
    carve_computers.kinds = {JobKind::carve};
    carve_computers.classes = {DeviceClass::computer, DeviceClass::phone};
    carve_computers.lease_seconds = 77;
    std::vector<std::string> order;
    for (int i = 0; i < 3; ++i) {
      s.advance(10);
      auto c = s->claim("", acquire);  // no user: recorded as "unknown"
      REQUIRE(c);
      CHECK(c->kind == JobKind::acquire);
      CHECK(c->device.lease_expires == *s.t + 300);
      CHECK(c->device.attempts == 1);
      order.push_back(c->device.exhibit);
      s.advance(5);
      auto done =
          s->complete("w\"orker é", c->device.exhibit, station, "imaged \"ok\"\n\ttab \x02 é",
                      i == 1 ? "" : "C:\\img\\" + c->device.exhibit + ".E01");
      CHECK(done.state == DeviceState::acquired);
      CHECK(done.attempts == 0);
      CHECK(done.station == station);
    }
    s.advance(1);
    auto c = s->claim("carver", carve_computers);
    REQUIRE(c);
    CHECK(c->kind == JobKind::carve);
    CHECK(c->device.lease_expires == *s.t + 77);
    CHECK(c->device.station == "carver");
    CHECK(s->complete("carver", c->device.exhibit, "carver", "").state == DeviceState::review);
    CHECK(!s->claim("w", acquire));  // empty queue
    // Errors still name their reason.
    CHECK(error_kind([&] { s->complete("w", "B", "carver"); }) == QueueError::Kind::conflict);
    CHECK(error_kind([&] { s->complete("w", "NOPE", "carver"); }) == QueueError::Kind::not_found);
    order.push_back(c->device.exhibit);
    auto check = s->verify_audit();
    CHECK(check.ok);
    for (auto& p : check.problems) INFO(p);
    return std::make_pair(order, s->audit("", "", 0));
  };
  auto [lite_order, lite_audit] = scenario(lite->url());
  auto [pg_order, pg_audit] = scenario(pg->url());
  CHECK(pg_order == lite_order);
  REQUIRE(pg_audit.size() == lite_audit.size());
  REQUIRE(lite_audit.size() == 13);  // case, suspect, 3 devices, 4 claims, 4 completions
  for (size_t i = 0; i < pg_audit.size(); ++i) {
    INFO("record " << i + 1 << ": " << lite_audit[i].action);
    CHECK(pg_audit[i].seq == lite_audit[i].seq);
    CHECK(pg_audit[i].at == lite_audit[i].at);
    CHECK(pg_audit[i].user == lite_audit[i].user);
    CHECK(pg_audit[i].action == lite_audit[i].action);
    CHECK(pg_audit[i].entity_id == lite_audit[i].entity_id);
    CHECK(pg_audit[i].reason == lite_audit[i].reason);
    CHECK(pg_audit[i].before == lite_audit[i].before);
    CHECK(pg_audit[i].after == lite_audit[i].after);
    CHECK(pg_audit[i].hash == lite_audit[i].hash);
  }
  CHECK(lite_audit[5].action == "device.claim");
  CHECK(lite_audit[5].user == "unknown");
  CHECK(lite_audit[6].reason == "imaged \"ok\"\n\ttab \x02 é");

  // The one-statement claims and completions did the work: each wrote its record to
  // audit_pending_device (statistics are flushed when the session ends), and the store sealed
  // them all.
  std::string inserts;
  for (int i = 0; i < 1200; ++i) {  // a bound (2 min) for a loaded machine, not a speed check
    inserts = pg->sql(
                    "SELECT n_tup_ins FROM pg_stat_user_tables WHERE relname = "
                    "'audit_pending_device'")
                  .out;
    if (inserts != "0\n") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // 4 claims (a fifth finds the queue empty) and 4 completions (two more are refused).
  CHECK(inserts == "8\n");
  CHECK(pg->sql("SELECT count(*) FROM audit_pending_device").out == "0\n");

  // Editing a record the server wrote breaks the chain.
  REQUIRE(pg->sql("UPDATE audit SET after_json = replace(after_json, '\"carver\"', '\"other\"') "
                  "WHERE seq = 12")
              .exit_code == 0);
  Clocked again(pg->url());
  auto broken = again->verify_audit();
  CHECK(!broken.ok);
  REQUIRE(broken.problems.size() == 1);
  CHECK(broken.problems[0].find("record 12 (device.claim device") == 0);
  CHECK(broken.problems[0].find("was edited: its hash does not match") != std::string::npos);

  // A database made before the one-statement path existed gets its table, column and functions
  // when a store opens it, and the store then uses them.
  const std::string count =
      "SELECT (to_regclass('audit_pending') IS NOT NULL) || ' ' || (to_regclass("
      "'audit_pending_device') IS NOT NULL) || ' ' || (SELECT count(*) FROM pg_attribute WHERE "
      "attrelid = 'audit_head'::regclass AND attname IN ('low_xid', 'low_xid_device'))";
  CHECK(pg->sql(count).out == "true true 2\n");
  REQUIRE(pg->sql("DROP TABLE audit_pending, audit_pending_device; ALTER TABLE audit_head DROP "
                  "COLUMN low_xid, DROP COLUMN low_xid_device")
              .exit_code == 0);
  CHECK(pg->sql("SELECT count(*) FROM pg_proc WHERE proname LIKE 'safehold_%'").out == "0\n");
  // ... and its full device indexes are replaced by the partial ones.
  REQUIRE(pg->sql("DROP INDEX devices_ready_v2, devices_held, devices_rest; CREATE INDEX "
                  "devices_order ON devices(state, tier, prio_key, id); CREATE INDEX devices_ready "
                  "ON devices(ready, tier, prio_key, id); CREATE INDEX devices_suspect ON "
                  "devices(suspect_ref); CREATE INDEX devices_lease ON devices(lease_expires) "
                  "WHERE lease_expires > 0")
              .exit_code == 0);
  const std::string indexes =
      "SELECT string_agg(indexname, ' ' ORDER BY indexname) FROM pg_indexes WHERE tablename = "
      "'devices'";
  CHECK(pg->sql(indexes).out ==
        "devices_acquired devices_case devices_exhibit_key devices_lease devices_order "
        "devices_pkey devices_queued devices_ready devices_suspect\n");
  {
    Clocked reopened(pg->url());
    CHECK(pg->sql(count).out == "true true 2\n");
    CHECK(pg->sql(indexes).out ==
          "devices_acquired devices_case devices_exhibit_key devices_held devices_pkey "
          "devices_queued devices_ready_v2 devices_rest\n");
    reopened->add_device("mgr", dev("D", "S" + odd, DeviceClass::phone));
    ClaimRequest r;
    r.station = "again";
    auto c = reopened->claim("w", r);
    REQUIRE(c);
    reopened->complete("w", c->device.exhibit, "again");
    auto check = reopened->verify_audit();
    CHECK(check.records == 16);
    REQUIRE(check.problems.size() == 1);  // only the record edited above
    CHECK(check.problems[0].find("record 12 (device.claim device") == 0);
  }
  CHECK(pg->sql("SELECT count(*) FROM audit_pending_device").out == "0\n");
}

// PostgreSQL's one-statement claims and completions leave their audit records in
// audit_pending_device until a seal chains them (every 100 ms per writer, here never, by the test
// hook). A writer that dies without closing leaves them there: the next reader of the chain, or the
// next client-side write, chains them first, in the order they committed, and verification then
// covers them.
TEST_CASE(
    "store: PostgreSQL: records a writer left unchained are chained by the next reader or "
    "writer, in commit order",
    "[scheduler]") {
  auto pg = QueueDb::make("postgresql");
  if (!pg) return;
  const std::string pending = "SELECT count(*) FROM audit_pending_device";
  const std::string head = "SELECT seq FROM audit_head";
  {
    Clocked setup(pg->url());
    setup->add_case("mgr", {"C", Risk::high, "", "", ""});
    setup->add_suspect("mgr", sus("S", "C", Answer::no, Answer::no));
    for (int i = 0; i < 6; ++i)
      setup->add_device("mgr", dev("D" + std::to_string(i), "S", DeviceClass::phone));
  }
  const int64_t base = std::stoll(pg->sql(head).out);
  REQUIRE(base >= 8);
  // A writer process that claims and completes devices from..to-1, then is killed with SIGKILL
  // before it can close (and seal).
  auto work = [&](int from, int to) {
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      setenv("SAFEHOLD_TEST_AUDIT_SEAL_MS", "3600000", 1);
      try {
        Clocked w(pg->url());
        ClaimRequest r;
        r.station = "st";
        r.kinds = {JobKind::acquire};
        for (int i = from; i < to; ++i) {
          w.advance(1);
          auto c = w->claim("w", r);
          if (!c || c->device.exhibit != "D" + std::to_string(i)) _exit(3);
          w->complete("w", c->device.exhibit, "st");
        }
        raise(SIGKILL);
      } catch (...) {
      }
      _exit(4);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    INFO("writer exit status " << status);
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);
  };
  work(0, 3);
  CHECK(pg->sql(pending).out == "6\n");
  CHECK(pg->sql(head).out == std::to_string(base) + "\n");  // nothing chained yet

  // A reader chains them before reading.
  Clocked reader(pg->url());
  auto records = reader->audit("", "", 0);
  CHECK(pg->sql(pending).out == "0\n");
  REQUIRE(records.size() == static_cast<size_t>(base + 6));
  for (int i = 0; i < 6; ++i) {
    const auto& rec = records[base + i];
    INFO("record " << rec.seq);
    CHECK(rec.seq == base + i + 1);
    CHECK(rec.action == (i % 2 ? "device.complete" : "device.claim"));
    CHECK(rec.entity_id == "D" + std::to_string(i / 2));
  }

  // A client-side write chains pending records before its own.
  work(3, 5);
  CHECK(pg->sql(pending).out == "4\n");
  reader->add_device("mgr", dev("D9", "S", DeviceClass::tablet));
  CHECK(pg->sql(pending).out == "0\n");
  records = reader->audit("", "", 0);
  REQUIRE(records.size() == static_cast<size_t>(base + 11));
  CHECK(records[base + 6].entity_id == "D3");
  CHECK(records[base + 9].entity_id == "D4");
  CHECK(records[base + 9].action == "device.complete");
  CHECK(records[base + 10].entity_id == "D9");
  CHECK(records[base + 10].action == "device.add");
  auto check = reader->verify_audit();
  CHECK(check.ok);
  CHECK(check.records == base + 11);

  // A record the previous release's store left in audit_pending (as JSON; that release sealed
  // with a PL/pgSQL function under the same lock) is chained too, as it was written.
  REQUIRE(pg->sql("INSERT INTO audit_pending (at, user_name, action, entity, entity_id, reason, "
                  "before_json, after_json) VALUES (1790000000, 'old', 'device.complete', "
                  "'device', 'D2', 'legacy', '{\"state\":\"carving\"}', "
                  "'{\"state\":\"review\"}')")
              .exit_code == 0);
  check = reader->verify_audit();
  CHECK(check.ok);
  CHECK(check.records == base + 12);
  records = reader->audit("", "", 0);
  REQUIRE(records.size() == static_cast<size_t>(base + 12));
  CHECK(records[base + 11].user == "old");
  CHECK(records[base + 11].reason == "legacy");
  CHECK(records[base + 11].before == "{\"state\":\"carving\"}");
  CHECK(pg->sql("SELECT count(*) FROM audit_pending").out == "0\n");

  // An edited pending record is chained as edited, and an edit after sealing is caught.
  work(5, 6);
  REQUIRE(pg->sql("UPDATE audit_pending_device SET reason = 'late edit' WHERE action = "
                  "'device.complete'")
              .exit_code == 0);
  check = reader->verify_audit();
  CHECK(check.ok);
  CHECK(check.records == base + 14);
  records = reader->audit("", "", 0);
  REQUIRE(records.size() == static_cast<size_t>(base + 14));
  CHECK(records[base + 13].reason == "late edit");
  REQUIRE(pg->sql("UPDATE audit SET reason = 'later edit' WHERE seq = " + std::to_string(base + 14))
              .exit_code == 0);
  check = reader->verify_audit();
  CHECK(!check.ok);
  REQUIRE(check.problems.size() == 1);
  CHECK(check.problems[0].find("record " + std::to_string(base + 14) +
                               " (device.complete device D5) was edited") == 0);
}

// A PostgreSQL database that is not UTF8 cannot use the one-statement path (its JSON is built on
// the server as UTF-8): claims and completions run in client-side transactions, from the same
// claim and completion CTEs, and write the same audit records.
TEST_CASE(
    "store: PostgreSQL without the one-statement path (SQL_ASCII) claims and completes "
    "client-side, audited the same way",
    "[scheduler]") {
  const char* base_url = std::getenv("SAFEHOLD_TEST_PG_URL");
  if (!base_url || !*base_url) {
    WARN("skipped: SAFEHOLD_TEST_PG_URL is not set (tests/services/postgres.sh start)");
    return;
  }
  std::random_device rd;
  const std::string name = "safehold_ascii" + std::to_string(rd() % 1000000);
  const std::string base = base_url;
  must_run("psql " + shell_quote(base) + " -q -v ON_ERROR_STOP=1 -c " +
           shell_quote("CREATE DATABASE " + name +
                       " ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"));
  struct Drop {
    std::string base, name;
    ~Drop() {
      run("psql " + shell_quote(base) + " -q -c " +
          shell_quote("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"));
    }
  } drop{base, name};
  const std::string url = base.substr(0, base.rfind('/') + 1) + name;
  {
    Clocked s(url);
    s->add_case("mgr", {"C", Risk::high, "", "", ""});
    s->add_suspect("mgr", sus("S", "C", Answer::no, Answer::no));
    s->add_device("mgr", dev("PH", "S", DeviceClass::phone));
    s->add_device("mgr", dev("PC", "S", DeviceClass::computer));
    ClaimRequest r;
    r.station = "st";
    r.classes = {DeviceClass::computer};
    s.advance(1);
    auto c = s->claim("w", r);
    REQUIRE(c);
    CHECK(c->device.exhibit == "PC");
    CHECK(c->device.lease_expires == *s.t + 300);
    s.advance(1);
    auto done = s->complete("w", "PC", "st", "imaged", "/img/PC.E01");
    CHECK(done.state == DeviceState::acquired);
    CHECK(done.image == "/img/PC.E01");
    auto recs = s->audit("device", "PC", 0);
    REQUIRE(recs.size() == 3);
    CHECK(recs[1].action == "device.claim");
    CHECK(
        recs[1].before ==
        R"({"attempts":0,"case":"C","class":"computer","exhibit":"PC","source":"/dev/null","state":"queued","station":"","suspect":"S"})");
    CHECK(
        recs[1].after ==
        R"({"attempts":1,"case":"C","class":"computer","exhibit":"PC","job":"acquire","lease_expires":1790000301,"source":"/dev/null","state":"acquiring","station":"st","suspect":"S"})");
    CHECK(recs[2].action == "device.complete");
    CHECK(recs[2].reason == "imaged");
    CHECK(
        recs[2].before ==
        R"({"attempts":1,"case":"C","class":"computer","exhibit":"PC","source":"/dev/null","state":"acquiring","station":"st","suspect":"S"})");
    CHECK(
        recs[2].after ==
        R"({"attempts":0,"case":"C","class":"computer","exhibit":"PC","image":"/img/PC.E01","source":"/dev/null","state":"acquired","station":"st","suspect":"S"})");
    CHECK(error_kind([&] { s->complete("w", "PC", "st"); }) == QueueError::Kind::conflict);
    CHECK(s->verify_audit().ok);
  }
  // The one-statement path was never set up on this database.
  CHECK(run("psql " + shell_quote(url) + " -qAt -c " +
            shell_quote("SELECT to_regclass('audit_pending_device') IS NULL"))
            .out == "t\n");
}
