// Issue 23 ("Lab-ready"), item 5 and the database part of item 4: devices without a source wait as
// needs-source, failed jobs back off, a station failing job after job stops claiming, manual state
// changes follow the documented transitions, policy values are validated, and only `queue init`
// creates a database. Times are the injected clock's (Clocked), never the wall clock's.
#include <catch2/catch.hpp>
#include <functional>
#include <nlohmann/json.hpp>

#include "scheduler/queue.hpp"
#include "tests/scheduler/helpers.hpp"

using namespace safehold::test;
using namespace safehold::scheduler;
using nlohmann::json;

namespace {

std::string error_of(const std::function<void()>& f, QueueError::Kind* kind = nullptr) {
  try {
    f();
  } catch (const QueueError& e) {
    if (kind) *kind = e.kind;
    return e.what();
  }
  return "no error";
}

void seed(Clocked& s) {
  s->add_case("mgr", {"C", Risk::high, "", "", ""});
  NewSuspect su;
  su.reference = "S";
  su.case_ref = "C";
  su.lives_with_children = Answer::no;
  su.access_to_children = Answer::no;
  s->add_suspect("mgr", su);
}

Device add(Clocked& s, const std::string& ex, const std::string& source) {
  NewDevice d;
  d.exhibit = ex;
  d.suspect_ref = "S";
  d.device_class = DeviceClass::computer;
  d.source = source;
  return s->add_device("mgr", d);
}

std::string vq(const QueueDb& db, const std::string& args) {
  return safehold_binary() + " queue " + args + " " + db.q() + " --user tester";
}

}  // namespace

TEST_CASE("lab-ready: a device without a source is needs-source until one is set", "[scheduler]") {
  BACKEND();
  Clocked s(db->url());
  seed(s);
  CHECK(add(s, "NOSRC", "").state == DeviceState::needs_source);
  ClaimRequest any;
  any.station = "st-1";
  CHECK(!s->claim("w", any));  // not claimable, and not failed
  CHECK(s->get_device("NOSRC").state == DeviceState::needs_source);
  CHECK(s->get_device("NOSRC").attempts == 0);
  ListQuery waiting;
  waiting.states = {DeviceState::needs_source};
  CHECK(s->list(waiting).size() == 1);
  // Queued again by hand without a source, it stays needs-source.
  QueueError::Kind k{};
  CHECK(error_of([&] { s->set_device_source("mgr", "NOSRC", "/dev/sdb", ""); }, &k) ==
        "a reason is required for this change (--reason)");
  auto d = s->set_device_source("mgr", "NOSRC", "/dev/sdb", "source found on the intake form");
  CHECK(d.state == DeviceState::queued);
  CHECK(d.source == "/dev/sdb");
  auto c = s->claim("w", any);
  REQUIRE(c);
  CHECK(c->device.exhibit == "NOSRC");
  CHECK(c->device.source == "/dev/sdb");
  // Once held (or acquired) the source is evidence: it cannot change.
  CHECK(error_of([&] { s->set_device_source("mgr", "NOSRC", "/dev/sdc", "typo"); }, &k) ==
        "device NOSRC is acquiring: its source can only be set before it is acquired");
  CHECK(k == QueueError::Kind::conflict);
  bool audited = false;
  for (auto& r : s->audit("device", "NOSRC")) audited |= r.action == "device.source";
  CHECK(audited);
  CHECK(s->verify_audit().ok);
}

TEST_CASE("lab-ready: failed jobs back off exponentially up to the policy's cap", "[scheduler]") {
  BACKEND();
  Clocked s(db->url());
  seed(s);
  Policy p = s->policy();
  p.max_attempts = 5;
  p.backoff_seconds = 10;
  p.backoff_max_seconds = 25;
  p.station_failure_limit = 100;
  s->set_policy("mgr", p, "test");
  add(s, "D", "/dev/null");
  ClaimRequest any;
  any.station = "st-1";
  // Waits after the 1st, 2nd, 3rd, 4th failure: 10, 20, 25 (capped), 25 seconds.
  for (int64_t wait : {10, 20, 25, 25}) {
    INFO("wait " << wait);
    REQUIRE(s->claim("w", any));
    CHECK(s->fail("w", "D", "st-1", "read error").state == DeviceState::queued);
    s.advance(wait - 1);
    CHECK(!s->claim("w", any));
    s.advance(1);
  }
  REQUIRE(s->claim("w", any));
  CHECK(s->fail("w", "D", "st-1", "read error").state == DeviceState::failed);
  // Requeued by hand, it may be claimed at once.
  s->set_device_state("mgr", "D", DeviceState::queued, "write-blocker replaced");
  CHECK(s->claim("w", any));
}

TEST_CASE("lab-ready: a station failing N jobs in a row stops claiming until resumed",
          "[scheduler]") {
  BACKEND();
  Clocked s(db->url());
  seed(s);
  Policy p = s->policy();
  p.station_failure_limit = 3;
  p.backoff_seconds = 0;
  p.backoff_max_seconds = 0;
  p.max_attempts = 1;
  s->set_policy("mgr", p, "test");
  for (int i = 0; i < 6; ++i) add(s, "D" + std::to_string(i), "/dev/null");
  ClaimRequest bad;
  bad.station = "bad-1";
  // A completed job clears the run: fail, fail, complete, then three failures stop the station.
  for (const char* outcome : {"fail", "fail", "ok", "fail", "fail", "fail"}) {
    auto c = s->claim("w", bad);
    REQUIRE(c);
    if (std::string(outcome) == "ok")
      s->complete("w", c->device.exhibit, "bad-1");
    else
      s->fail("w", c->device.exhibit, "bad-1", "no write-blocker");
  }
  QueueError::Kind k{};
  CHECK(error_of([&] { s->claim("w", bad); }, &k) ==
        "station bad-1 has stopped claiming after 3 failed jobs in a row (a manager resumes it "
        "with `safehold queue station resume bad-1 --reason …`)");
  CHECK(k == QueueError::Kind::conflict);
  auto st = s->stations();
  REQUIRE(st.size() == 1);
  CHECK(st[0].name == "bad-1");
  CHECK(st[0].stopped());
  CHECK(st[0].failures_in_row == 3);
  CHECK(st[0].last_error == "no write-blocker");
  bool alert = false;
  for (auto& r : s->audit("station", "bad-1")) alert |= r.action == "station.stopped";
  CHECK(alert);
  // Other stations go on.
  ClaimRequest good;
  good.station = "good-1";
  CHECK(s->claim("w", good));
  CHECK(error_of([&] { s->resume_station("mgr", "good-1", "x"); }) ==
        "station good-1 is not stopped");
  s->resume_station("mgr", "bad-1", "write-blocker replaced");
  CHECK(!s->stations()[0].stopped());
  CHECK(s->claim("w", bad).has_value() == false);  // nothing left to claim, but no refusal
  CHECK(s->verify_audit().ok);
}

TEST_CASE("lab-ready: manual state changes follow the documented transitions", "[scheduler]") {
  BACKEND();
  Clocked s(db->url());
  seed(s);
  add(s, "Q", "/dev/null");
  QueueError::Kind k{};
  CHECK(error_of([&] { s->set_device_state("mgr", "Q", DeviceState::done, "examined"); }, &k) ==
        "device Q cannot go from queued to done (see `device set --help` for the allowed "
        "changes)");
  CHECK(k == QueueError::Kind::conflict);
  CHECK(s->get_device("Q").state == DeviceState::queued);
  CHECK(s->set_device_state("mgr", "Q", DeviceState::withdrawn, "court order").state ==
        DeviceState::withdrawn);
  CHECK(s->set_device_state("mgr", "Q", DeviceState::queued, "reinstated").state ==
        DeviceState::queued);
  // Held devices change only through the worker's calls.
  ClaimRequest any;
  any.station = "st";
  REQUIRE(s->claim("w", any));
  CHECK(error_of([&] { s->set_device_state("mgr", "Q", DeviceState::queued, "x"); }) ==
        "device Q cannot go from acquiring to queued (see `device set --help` for the allowed "
        "changes)");
  // A device without a source requeued by hand is needs-source, not queued.
  add(s, "N", "");
  s->set_device_state("mgr", "N", DeviceState::withdrawn, "x");
  CHECK(s->set_device_state("mgr", "N", DeviceState::queued, "back").state ==
        DeviceState::needs_source);
  CHECK(allowed_manual_transition(DeviceState::review, DeviceState::done));
  CHECK(!allowed_manual_transition(DeviceState::done, DeviceState::queued));
}

TEST_CASE("lab-ready: policy values out of range are refused with a sentence", "[scheduler]") {
  BACKEND();
  Clocked s(db->url());
  auto bad = [&](std::function<void(Policy&)> change) {
    Policy p = s->policy();
    change(p);
    QueueError::Kind k{};
    auto msg = error_of([&] { s->set_policy("mgr", p, "test"); }, &k);
    CHECK(k == QueueError::Kind::invalid);
    return msg;
  };
  CHECK(bad([](Policy& p) { p.alert_hours = -1; }) ==
        "policy not changed: alert_hours must be from 1 to 8760, not -1");
  CHECK(bad([](Policy& p) { p.alert_hours = 0; }) ==
        "policy not changed: alert_hours must be from 1 to 8760, not 0");
  CHECK(bad([](Policy& p) { p.aging_days_per_level = 0; }) ==
        "policy not changed: aging_days_per_level must be from 1 to 3650, not 0");
  CHECK(bad([](Policy& p) { p.station_failure_limit = 0; }) ==
        "policy not changed: station_failure_limit must be from 1 to 1000, not 0");
  CHECK(bad([](Policy& p) { p.backoff_seconds = 100, p.backoff_max_seconds = 50; }) ==
        "policy not changed: backoff_max_seconds (50) must not be less than backoff_seconds "
        "(100)");
  CHECK(s->policy().alert_hours == 24);
}

TEST_CASE("lab-ready: the CLI refuses bad policy values, sets a source and lists stations",
          "[scheduler][cli]") {
  auto db = QueueDb::make("sqlite");
  for (auto [opt, msg] : std::vector<std::pair<std::string, std::string>>{
           {"--alert-hours -1", "safehold: --alert-hours must be from 1 to 8760, not -1\n"},
           {"--alert-hours 0", "safehold: --alert-hours must be from 1 to 8760, not 0\n"},
           {"--aging-days 0", "safehold: --aging-days must be from 1 to 3650, not 0\n"},
           {"--station-failure-limit 0",
            "safehold: --station-failure-limit must be from 1 to 1000, not 0\n"}}) {
    INFO(opt);
    auto r = run(vq(*db, "policy " + opt + " --reason test"));
    CHECK(r.exit_code == 1);
    CHECK(r.err == msg);
  }
  must_run(vq(*db, "case add C --risk high"));
  must_run(vq(*db, "suspect add S --case C --children no --access-to-children no"));
  const std::string added = must_run(vq(*db, "device add D --suspect S --class phone"));
  std::string deadline =
      json::parse(must_run(vq(*db, "list --state needs-source --json")))[0]["deadline"];
  deadline = deadline.substr(0, 16).replace(10, 1, " ");  // as the CLI prints it (UTC minutes)
  CHECK(added == "Device D registered as needs-source (tier 1, deadline " + deadline +
                     " UTC): no worker takes it until its source is set with `safehold queue "
                     "device set D --source PATH`\n");
  auto r = run(vq(*db, "device set D --state done --reason x"));
  CHECK(r.exit_code == 1);
  CHECK(r.err ==
        "safehold: device D cannot go from needs-source to done (see `device set --help` for the "
        "allowed changes)\n");
  CHECK(must_run(vq(*db, "device set D --source /dev/sdz --reason 'intake form'")) ==
        "Device D is now queued\n");
  CHECK(run(vq(*db, "device set D --reason x")).err ==
        "safehold: device set takes one of --state, --source or --examiner\n");
  CHECK(json::parse(must_run(vq(*db, "station list --json"))) == json::array());
}

TEST_CASE("lab-ready: only `queue init` creates a database, others refuse a missing one",
          "[scheduler][cli]") {
  TempDir t("safehold-init");
  const std::string missing = (t / "typo" / "q.db").string();
  const std::string sentence = "safehold: queue database " + missing +
                               " does not exist (create it with `safehold queue init --db " +
                               missing + "`)\n";
  for (const char* cmd :
       {"queue list", "queue policy", "queue case add C --risk low", "queue audit --verify"}) {
    INFO(cmd);
    auto r = run(safehold_binary() + " " + cmd + " --db " + shell_quote(missing));
    CHECK(r.exit_code == 1);
    CHECK(r.err == sentence);
  }
  auto w =
      run(safehold_binary() + " work --station s --evidence-dir " +
          shell_quote((t / "ev").string()) + " --exit-when-empty --db " + shell_quote(missing));
  CHECK(w.exit_code == 1);
  CHECK(w.err == sentence);
  auto sv = run(safehold_binary() + " serve --listen 127.0.0.1:0 --db " + shell_quote(missing));
  CHECK(sv.exit_code == 1);
  CHECK(sv.err == sentence);
  // `work` honours $SAFEHOLD_DB like the others (and refuses it when missing).
  auto e = run("SAFEHOLD_DB=" + shell_quote(missing) + " " + safehold_binary() +
               " work --station s --evidence-dir " + shell_quote((t / "ev").string()) +
               " --exit-when-empty");
  CHECK(e.exit_code == 1);
  CHECK(e.err == sentence);
  // Nothing was created on the way: no folder, no ./safehold-data, no evidence folder.
  CHECK(!std::filesystem::exists(t / "typo"));
  CHECK(!std::filesystem::exists(t / "ev"));
  CHECK(must_run(safehold_binary() + " queue init --db " + shell_quote(missing)) ==
        "Created queue database " + missing + "\n");
  CHECK(must_run(safehold_binary() + " queue init --db " + shell_quote(missing)) ==
        "Existing queue database " + missing + "\n");
  CHECK(must_run(safehold_binary() + " queue list --json --db " + shell_quote(missing)) == "[]\n");
  CHECK(must_run("SAFEHOLD_DB=" + shell_quote(missing) + " " + safehold_binary() +
                 " work --station s --evidence-dir " + shell_quote((t / "ev").string()) +
                 " --exit-when-empty") == "");
}

TEST_CASE("lab-ready: the configuration file fills what flags and environment leave unset",
          "[scheduler][cli]") {
  TempDir t("safehold-conf");
  const std::string file_db = (t / "file.db").string(), env_db = (t / "env.db").string(),
                    flag_db = (t / "flag.db").string();
  for (auto& d : {file_db, env_db, flag_db}) must_run(safehold_binary() + " queue init --db " + d);
  must_run(safehold_binary() + " queue case add FILE --risk low --user t --db " + file_db);
  must_run(safehold_binary() + " queue case add ENV --risk low --user t --db " + env_db);
  must_run(safehold_binary() + " queue case add FLAG --risk low --user t --db " + flag_db);
  const std::string conf = (t / "safehold.conf").string();
  write_text(conf, "# lab server\ndb = " + file_db + "\n\nstation = lab-1\n");
  auto ref = [&](const std::string& cmd) {
    auto r = run(cmd);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return json::parse(r.out).at(0)["reference"].get<std::string>();
  };
  const std::string bin = safehold_binary();
  CHECK(ref("env -u SAFEHOLD_DB " + bin + " --config " + conf + " queue case list --json") ==
        "FILE");
  CHECK(ref("env -u SAFEHOLD_DB SAFEHOLD_CONFIG=" + conf + " " + bin + " queue case list --json") ==
        "FILE");
  CHECK(ref("SAFEHOLD_DB=" + env_db + " " + bin + " --config " + conf +
            " queue case list --json") == "ENV");
  CHECK(ref("SAFEHOLD_DB=" + env_db + " " + bin + " --config " + conf +
            " queue case list --json --db " + flag_db) == "FLAG");
  write_text(conf, "db = " + file_db + "\ndatabase = x\n");
  auto bad = run(bin + " --config " + conf + " queue case list");
  CHECK(bad.exit_code == 1);
  CHECK(bad.err == "safehold: " + conf +
                       " line 2: unknown key 'database' (known: db, audit_anchor, "
                       "audit_anchor_notify, station, evidence_dir, examiner, capabilities, "
                       "listen, tls_cert, tls_key, notify_webhook, notify_secret_file, "
                       "notify_email, notify_dashboard)\n");
  auto none = run(bin + " --config " + (t / "none.conf").string() + " queue case list");
  CHECK(none.exit_code == 1);
  CHECK(none.err ==
        "safehold: configuration file " + (t / "none.conf").string() + " cannot be read\n");
}
