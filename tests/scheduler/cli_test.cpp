// `safehold queue` end to end on both back-ends: the CLI, tamper detection through the database's
// own client, 8 concurrent worker processes, kill -9 of a lease holder and of a writer.
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "tests/scheduler/helpers.hpp"

using namespace safehold::test;
using nlohmann::json;

namespace {

std::string vq(const QueueDb& db, const std::string& args) {
  return safehold_binary() + " queue " + args + " " + db.q() + " --user tester";
}

// A queue of n devices over a few cases, some of them safeguarding (tier 0).
void seed_csv(const std::filesystem::path& p, int n) {
  std::ostringstream s;
  s << "exhibit,case,suspect,class,risk,lives_with_children,source\n";
  const char* classes[] = {"phone", "tablet", "computer", "removable", "other"};
  const char* risks[] = {"very-high", "high", "medium", "low", "none"};
  for (int i = 0; i < n; ++i) {
    int c = i % 7;
    s << "EX" << i << ",OP" << c << ",S" << c << "-" << (i % 3) << "," << classes[i % 5] << ","
      << risks[c % 5] << "," << (c == 3 && i % 3 == 0 ? "yes" : "no") << ",/dev/null\n";
  }
  write_text(p, s.str());
}

// A process group started in the background, killed with -9 at the end whatever happens.
struct Background {
  std::string pgid;
  Background(const std::filesystem::path& dir, const std::string& command) {
    auto out = must_run("cd " + shell_quote(dir.string()) + "; " + command +
                        " >bg.log 2>&1 </dev/null & echo $!");
    pgid = out.substr(0, out.find('\n'));
  }
  void kill9() {
    if (!pgid.empty()) must_run("kill -9 -- -" + pgid);
    pgid.clear();
  }
  ~Background() {
    if (!pgid.empty()) run("kill -9 -- -" + pgid + " 2>/dev/null");
  }
};

bool wait_for_file(const std::filesystem::path& p, int seconds) {
  for (int i = 0; i < seconds * 20; ++i) {
    if (std::filesystem::exists(p)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

std::string lit(const std::string& v) {
  std::string out = "'";
  for (char c : v) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string fmt_sql(const safehold::scheduler::AuditRecord& r) {
  return "INSERT INTO audit (seq, at, user_name, action, entity, entity_id, reason, before_json, "
         "after_json, prev_hash, hash) VALUES (" +
         std::to_string(r.seq) + ", " + std::to_string(r.at) + ", " + lit(r.user) + ", " +
         lit(r.action) + ", " + lit(r.entity) + ", " + lit(r.entity_id) + ", " + lit(r.reason) +
         ", " + lit(r.before) + ", " + lit(r.after) + ", " + lit(r.prev_hash) + ", " + lit(r.hash) +
         ")";
}

}  // namespace

TEST_CASE("safehold queue: the issue's commands, JSON fields and clear errors",
          "[scheduler][cli]") {
  BACKEND();
  must_run(vq(*db, "case add OP-1 --risk high --offence 'IIOC possession' --officer 'DC Shah'"));
  must_run(vq(*db, "case add OP-2 --risk very-high"));
  must_run(vq(*db, "suspect add A --case OP-1 --children no --access-to-children no"));
  auto out = must_run(vq(*db, "suspect add B --case OP-1 --children yes"));
  CHECK(out.find("SAFEGUARDING ALERT 1 raised: suspect B (lives with children)") !=
        std::string::npos);
  must_run(vq(*db, "suspect add C --case OP-2 --children no"));
  must_run(vq(
      *db, "device add A-PC --suspect A --class computer --seized 2026-11-01 --source /dev/sdz"));
  must_run(vq(*db, "device add B-USB --suspect B --class removable --source /dev/null"));
  must_run(vq(*db, "device add C-PHONE --suspect C --class phone --source /dev/null"));

  auto list = json::parse(must_run(vq(*db, "list --json")));
  REQUIRE(list.size() == 3);
  CHECK(list[0]["exhibit"] == "B-USB");  // tier 0
  CHECK(list[0]["tier"] == 0);
  CHECK(list[1]["exhibit"] == "C-PHONE");
  CHECK(list[2]["exhibit"] == "A-PC");
  CHECK(list[2]["rank"] == 3);
  CHECK(list[2]["case"] == "OP-1");
  CHECK(list[2]["suspect"] == "A");
  CHECK(list[2]["risk"] == "high");
  CHECK(list[2]["class"] == "computer");
  CHECK(list[2]["state"] == "queued");
  CHECK(list[2]["deadline"].get<std::string>().size() == 20);
  CHECK(list[2]["waiting_days"].is_number());
  CHECK(json::parse(must_run(vq(*db, "list --json --limit 1"))).size() == 1);

  auto ex = must_run(vq(*db, "explain A-PC"));
  CHECK(ex.find("Rank: 3 of 3 queued") != std::string::npos);
  CHECK(ex.find("risk band: high (rank 2 of 5)") != std::string::npos);
  CHECK(ex.find("device class: computer") != std::string::npos);

  // Household fact change: A's device jumps to the top, an alert appears.
  auto set =
      must_run(vq(*db, "suspect set A --access-to-children yes --reason 'works at a nursery'"));
  CHECK(set.find("Re-ranked 1 device(s)") != std::string::npos);
  list = json::parse(must_run(vq(*db, "list --json")));
  CHECK(list[0]["exhibit"] == "A-PC");
  auto alerts = json::parse(must_run(vq(*db, "alerts --open --json")));
  REQUIRE(alerts.size() == 2);
  for (const char* k : {"id", "case", "suspect", "raised_at", "due_at", "overdue", "acknowledged"})
    CHECK(alerts[0].contains(k));
  must_run(vq(*db, "ack 1 --reference CSC-77"));
  alerts = json::parse(must_run(vq(*db, "alerts --json")));
  CHECK(alerts[1]["acknowledged"] == true);
  CHECK(alerts[1]["reference"] == "CSC-77");
  CHECK(alerts[1]["acknowledged_by"] == "tester");

  auto claim = must_run(vq(*db, "claim --station st1 --capabilities phone,tablet"));
  CHECK(claim == "C-PHONE\tacquire\tphone\t/dev/null\n");
  must_run(vq(*db, "heartbeat C-PHONE --station st1"));
  must_run(vq(*db, "complete C-PHONE --station st1"));
  CHECK(must_run(vq(*db, "claim --station st1 --capabilities removable --jobs carve")) == "");
  auto cj = json::parse(must_run(vq(*db, "claim --station st2 --json")));
  CHECK(cj["exhibit"] == "A-PC");
  CHECK(cj["job"] == "acquire");
  must_run(vq(*db, "fail A-PC --station st2 --error 'bad sectors'"));

  // Errors: exit 1 and one sentence naming the input.
  auto r = run(vq(*db, "explain NOPE"));
  CHECK(r.exit_code == 1);
  CHECK(r.err == "safehold: no device NOPE\n");
  r = run(vq(*db, "case add OP-3 --risk severe"));
  CHECK(r.exit_code == 1);
  CHECK(r.err ==
        "safehold: risk 'severe' is not valid: use very-high, high, medium, low or none\n");
  r = run(vq(*db, "suspect set A --children maybe --reason x"));
  CHECK(r.exit_code == 1);
  r = run(vq(*db, "case set OP-1 --risk low"));
  CHECK(r.exit_code == 1);  // --reason is required
  r = run(vq(*db, "device add X --suspect NOPE --class phone"));
  CHECK(r.exit_code == 1);
  CHECK(r.err == "safehold: no suspect NOPE\n");
  r = run(vq(*db, "complete B-USB --station st9"));
  CHECK(r.exit_code == 1);
  CHECK(r.err == "safehold: device B-USB is not held by station st9 (state queued)\n");

  // Tokens: the secret is the last line, once.
  auto tok = must_run(vq(*db, "token create --role examiner --name bench-1"));
  auto last = tok.substr(tok.rfind('\n', tok.size() - 2) + 1);
  CHECK(last.rfind("safehold_", 0) == 0);
  CHECK(last.size() == 9 + 64 + 1);  // "safehold_", 64 hex digits, newline
  auto tl = must_run(vq(*db, "token list"));
  CHECK(tl.find("bench-1") != std::string::npos);
  CHECK(tl.find(last.substr(0, 20)) == std::string::npos);
  must_run(vq(*db, "token revoke bench-1"));

  // Export/import round trip through files.
  must_run(vq(*db, "export --csv " + shell_quote((db->dir() / "out.csv").string())));
  auto csv = read_text(db->dir() / "out.csv");
  CHECK(csv.find("A-PC,OP-1,A,computer,0,2026-11-01,/dev/sdz,queued,") != std::string::npos);
  auto audit = must_run(vq(*db, "audit --verify"));
  CHECK(audit.find("Audit chain intact") != std::string::npos);
  auto recs = json::parse(must_run(vq(*db, "audit --json --entity device --id A-PC")));
  REQUIRE(recs.size() == 4);  // add, priority, claim, fail
  CHECK(recs[3]["action"] == "device.fail");
  CHECK(recs[3]["reason"] == "bad sectors");
  CHECK(recs[1]["reason"] == "works at a nursery");
  CHECK(recs[1]["user"] == "tester");
}

TEST_CASE(
    "safehold queue audit --verify detects records edited, deleted or inserted through the "
    "database's own client",
    "[scheduler][cli]") {
  BACKEND();
  auto build = [&](QueueDb& d) {
    must_run(vq(d, "case add OP --risk medium"));
    must_run(vq(d, "suspect add S --case OP --children no"));
    for (int i = 0; i < 4; ++i)
      must_run(vq(
          d, "device add D" + std::to_string(i) + " --suspect S --class phone --source /dev/null"));
    must_run(vq(d, "suspect set S --children yes --reason 'lives with partner and baby'"));
    CHECK(must_run(vq(d, "audit --verify")).find("intact: 12 record(s)") != std::string::npos);
  };
  struct Tamper {
    const char* name;
    std::string sql;
    std::string expect;
  };
  // A forged record with a correct hash (the attacker knows the algorithm) put in place of
  // record 5: record 6 no longer chains to it.
  auto forge = [&](QueueDb& d) {
    auto prev = d.sql("SELECT hash FROM audit WHERE seq = 4").out;
    safehold::scheduler::AuditRecord r;
    r.seq = 5;
    r.at = 1790000000;
    r.user = "tester";
    r.action = "device.state";
    r.entity = "device";
    r.entity_id = "D0";
    r.reason = "withdrawn";
    r.before = "{}";
    r.after = "{}";
    r.prev_hash = prev.substr(0, prev.find('\n'));
    r.hash = safehold::scheduler::audit_hash(r);
    return fmt_sql(r);
  };
  const std::vector<Tamper> tampers{
      {"edit the reason", "UPDATE audit SET reason = 'routine' WHERE seq = 7",
       "BROKEN: record 7 (suspect.update suspect S) was edited: its hash does not match"},
      {"edit the after state",
       "UPDATE audit SET after_json = replace(after_json, '\"tier\":0', '\"tier\":1') WHERE seq = "
       "12",
       "BROKEN: record 12 (device.priority device D3) was edited"},
      {"delete a record", "DELETE FROM audit WHERE seq = 5",
       "BROKEN: record 6 follows record 4: records are missing or renumbered"},
      {"delete the last record", "DELETE FROM audit WHERE seq = 12",
       "BROKEN: the chain ends at record 11 but the head records 12"},
      {"replace a record by one with a recomputed hash", "",
       "BROKEN: record 6 does not chain to the record before it"},
      {"insert a record, renumbering the rest", "",
       "BROKEN: record 6 does not chain to the record before it"},
  };
  for (const auto& t : tampers) {
    auto fresh = QueueDb::make(kind);
    REQUIRE(fresh);
    build(*fresh);
    INFO("tamper: " << t.name);
    std::string statement = t.sql;
    if (statement.empty()) {
      statement = "DELETE FROM audit WHERE seq = 5; " + forge(*fresh);
      if (std::string(t.name).rfind("insert", 0) == 0)
        statement =
            "UPDATE audit SET seq = seq + 100 WHERE seq >= 5; UPDATE audit SET seq = seq - 99 "
            "WHERE seq >= 105; " +
            forge(*fresh);
    }
    auto sql = fresh->sql(statement);
    REQUIRE(sql.exit_code == 0);
    auto r = run(vq(*fresh, "audit --verify"));
    CHECK(r.exit_code == 4);
    CHECK(r.out.find(t.expect) != std::string::npos);
    CHECK(r.err.find("the audit chain is broken") != std::string::npos);
    auto j = json::parse(run(vq(*fresh, "audit --verify --json")).out);
    CHECK(j["ok"] == false);
  }
}

TEST_CASE("8 worker processes claim from one database: no job claimed twice, none lost",
          "[scheduler][cli][slow]") {
  BACKEND();
  const int n = 64;
  seed_csv(db->dir() / "seed.csv", n);
  must_run(vq(*db, "import --csv " + shell_quote((db->dir() / "seed.csv").string())));
  // Each worker claims until the queue is empty, completing each job (acquire then carve).
  std::string worker = R"(set -u
i=$1
while :; do
  line=$()" + vq(*db, "claim --station w$i") +
                       R"() || { echo "claim failed" >&2; exit 1; }
  [ -z "$line" ] && break
  ex=$(printf '%s' "$line" | cut -f1); job=$(printf '%s' "$line" | cut -f2)
  echo "$ex $job w$i" >> "$2/claims.w$i"
  )" + vq(*db, "complete \"$ex\" --station w$i") +
                       R"( >/dev/null || { echo "complete failed" >&2; exit 1; }
done
)";
  write_text(db->dir() / "worker.sh", worker);
  std::string cmd = "cd " + shell_quote(db->dir().string()) +
                    " && pids=; for i in 1 2 3 4 5 6 7 8; do bash worker.sh $i . & pids=\"$pids "
                    "$!\"; done; rc=0; for p in $pids; do wait $p || rc=1; done; exit $rc";
  must_run(cmd);
  std::map<std::string, int> seen;
  std::set<std::string> stations;
  for (int i = 1; i <= 8; ++i) {
    std::istringstream in(read_text(db->dir() / ("claims.w" + std::to_string(i))));
    std::string ex, job, st;
    while (in >> ex >> job >> st) {
      ++seen[ex + " " + job];
      stations.insert(st);
    }
  }
  CHECK(seen.size() == static_cast<size_t>(2 * n));
  for (auto& [k, count] : seen) {
    INFO(k);
    CHECK(count == 1);
  }
  CHECK(stations.size() >= 2);
  auto review = json::parse(must_run(vq(*db, "list --state review --json")));
  CHECK(review.size() == static_cast<size_t>(n));
  CHECK(json::parse(must_run(vq(*db, "list --state all --json"))).size() == static_cast<size_t>(n));
  CHECK(must_run(vq(*db, "audit --verify")).find("intact") != std::string::npos);
}

TEST_CASE("kill -9 of a worker holding a lease: the job returns to the queue",
          "[scheduler][cli][slow]") {
  BACKEND();
  must_run(vq(*db, "case add OP --risk high"));
  must_run(vq(*db, "suspect add S --case OP --children no"));
  must_run(vq(*db, "device add HELD --suspect S --class phone --source /dev/null"));
  must_run(vq(*db, "device add OTHER --suspect S --class computer --source /dev/null"));
  // No back-off: the reaped job may be claimed at once. Leases keep their default (300 s); the
  // test expires the dead holder's lease itself instead of waiting for the clock.
  must_run(vq(*db, "policy --backoff-seconds 0 --backoff-max-seconds 0 --reason 'test'"));
  std::string holder =
      "set -u\nline=$(" + vq(*db, "claim --station doomed") +
      ")\nprintf '%s' \"$line\" | cut -f1 > claimed.tmp && mv claimed.tmp claimed\n"
      "while :; do " +
      vq(*db, "heartbeat HELD --station doomed") + " >/dev/null; sleep 0.5; done\n";
  write_text(db->dir() / "holder.sh", holder);
  Background holder_proc(db->dir(), "setsid bash holder.sh");
  REQUIRE(wait_for_file(db->dir() / "claimed", 60));
  CHECK(read_text(db->dir() / "claimed") == "HELD\n");
  // While the holder holds it, another station gets the other device, not HELD.
  CHECK(must_run(vq(*db, "claim --station rescue --jobs acquire")).rfind("OTHER\t", 0) == 0);
  CHECK(must_run(vq(*db, "claim --station rescue --jobs acquire")) == "");
  holder_proc.kill9();
  // Its lease runs out (set in the past rather than waited for: no dependence on speed).
  CHECK(must_run(vq(*db, "claim --station rescue --jobs acquire")) == "");
  db->sql("UPDATE devices SET lease_expires = 1 WHERE exhibit = 'HELD'");
  auto got = json::parse(must_run(vq(*db, "claim --station rescue --jobs acquire --json")));
  REQUIRE(got.is_object());
  CHECK(got["exhibit"] == "HELD");
  CHECK(got["attempts"] == 2);
  auto recs = json::parse(must_run(vq(*db, "audit --json --entity device --id HELD")));
  bool expired = false;
  for (auto& r : recs)
    if (r["action"] == "device.lease-expired") {
      expired = true;
      CHECK(r["reason"] == "lease expired");
      CHECK(r["before"]["station"] == "doomed");
    }
  CHECK(expired);
  CHECK(must_run(vq(*db, "audit --verify")).find("intact") != std::string::npos);
}

TEST_CASE("kill -9 of a writer mid-transaction leaves a consistent database",
          "[scheduler][cli][slow]") {
  BACKEND();
  must_run(vq(*db, "case add OP --risk high"));
  must_run(vq(*db, "suspect add S --case OP --children no"));
  must_run(vq(*db, "device add BEFORE --suspect S --class phone --source /dev/null"));
  const int n = 1000;
  seed_csv(db->dir() / "big.csv", n);
  auto marker = db->dir() / "in-transaction";
  Background writer(db->dir(), "SAFEHOLD_TEST_STALL_BEFORE_COMMIT=" + shell_quote(marker.string()) +
                                   " setsid " + vq(*db, "import --csv big.csv"));
  REQUIRE(wait_for_file(marker, 300));
  writer.kill9();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  if (!db->pg()) {
    auto ic = db->sql("PRAGMA integrity_check");
    CHECK(ic.out == "ok\n");
  }
  auto all = json::parse(must_run(vq(*db, "list --state all --json")));
  REQUIRE(all.size() == 1);
  CHECK(all[0]["exhibit"] == "BEFORE");
  CHECK(must_run(vq(*db, "audit --verify")).find("intact: 3 record(s)") != std::string::npos);
  // The database takes writes again at once (no lock left behind).
  must_run(vq(*db, "device add AFTER --suspect S --class tablet --source /dev/null"));
  must_run(vq(*db, "import --csv " + shell_quote((db->dir() / "big.csv").string())));
  CHECK(json::parse(must_run(vq(*db, "list --state all --json"))).size() ==
        static_cast<size_t>(n + 2));
  CHECK(must_run(vq(*db, "audit --verify")).find("intact") != std::string::npos);
}

TEST_CASE("safehold queue release: a worker hands its claimed device back, audited",
          "[scheduler][cli]") {
  BACKEND();
  must_run(vq(*db, "case add OP-1 --risk high"));
  must_run(vq(*db, "suspect add A --case OP-1 --children no --access-to-children no"));
  must_run(vq(*db, "device add A-PH --suspect A --class phone --source /dev/null"));
  must_run(vq(*db, "claim --station st1"));
  auto no_reason = run(vq(*db, "release A-PH --worker st1"));
  CHECK(no_reason.exit_code != 0);
  auto wrong = run(vq(*db, "release A-PH --worker st2 --reason stopping"));
  CHECK(wrong.exit_code == 1);
  CHECK(wrong.err.find("not held by station st2") != std::string::npos);
  auto out = json::parse(must_run(vq(*db, "release A-PH --worker st1 --reason 'SIGTERM' --json")));
  CHECK(out["state"] == "queued");
  CHECK(out["attempts"] == 0);
  auto audit = json::parse(must_run(vq(*db, "audit --json")));
  REQUIRE(audit.is_array());
  CHECK(audit.back()["action"] == "device.release");
  CHECK(audit.back()["reason"] == "SIGTERM");
  CHECK(audit.back()["user"] == "tester");
  must_run(vq(*db, "audit --verify"));
  // --station is accepted too, like heartbeat/complete/fail.
  must_run(vq(*db, "claim --station st1"));
  CHECK(must_run(vq(*db, "release A-PH --station st1 --reason stopping")).find("queued") !=
        std::string::npos);
}
