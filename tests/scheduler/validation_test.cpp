// Issue 24, validation (problem 10): values that were silently ignored or accepted are now clear
// errors, and identifiers are printable characters without bidirectional controls.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "scheduler/queue.hpp"
#include "tests/scheduler/helpers.hpp"

using namespace safehold::test;
namespace sch = safehold::scheduler;

namespace {

std::string vq(const QueueDb& db, const std::string& args) {
  return safehold_binary() + " queue " + args + " " + db.q() + " --user tester";
}

}  // namespace

TEST_CASE("validation: policy values of 0 are refused, not ignored", "[scheduler][cli]") {
  auto db = QueueDb::make("sqlite");
  auto before = must_run(vq(*db, "policy --json"));
  for (const char* opt : {"--lease-seconds=0", "--max-attempts=0", "--aging-days=0",
                          "--lease-seconds=86401", "--alert-hours=-1"}) {
    INFO(opt);
    auto r = run(vq(*db, std::string("policy ") + opt + " --reason test"));
    CHECK(r.exit_code == 1);
    std::string name = std::string(opt).substr(0, std::string(opt).find('='));
    CHECK(r.err.find("safehold: " + name + " must be from ") != std::string::npos);
  }
  // The command, as it was typed.
  auto r = run(vq(*db, "policy --lease-seconds 0 --max-attempts 0 --aging-days 0 --reason test"));
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("must be from 1 to") != std::string::npos);
  CHECK(must_run(vq(*db, "policy --json")) == before);
  // In range, the same options change the policy.
  auto ok = nlohmann::json::parse(must_run(
      vq(*db, "policy --lease-seconds 60 --max-attempts 5 --aging-days 3 --reason test --json")));
  CHECK(ok["lease_seconds"] == 60);
  CHECK(ok["max_attempts"] == 5);
  CHECK(ok["aging_days_per_level"] == 3);
}

TEST_CASE("validation: a claim's lease is from 1 to 86400 seconds", "[scheduler][cli]") {
  auto db = QueueDb::make("sqlite");
  must_run(vq(*db, "case add C --risk high"));
  must_run(vq(*db, "suspect add S --case C"));
  must_run(vq(*db, "device add D1 --suspect S --class phone --source /dev/null"));
  for (const char* lease : {"-5", "0", "99999999999", "86401"}) {
    INFO(lease);
    auto r = run(vq(*db, std::string("claim --station st1 --lease=") + lease));
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("--lease must be from 1 to 86400 seconds") != std::string::npos);
  }
  // Nothing was claimed by the refused requests.
  CHECK(must_run(vq(*db, "list --json")).find("\"D1\"") != std::string::npos);
  auto claimed =
      nlohmann::json::parse(must_run(vq(*db, "claim --station st1 --lease 86400 --json")));
  CHECK(claimed["exhibit"] == "D1");
  // The library refuses it too (the API and the worker call it).
  auto s = sch::Store::open(db->url());
  sch::ClaimRequest cr;
  cr.station = "st2";
  cr.lease_seconds = -5;
  CHECK_THROWS_WITH(s->claim("w", cr), Catch::Contains("the lease must be from 1 to 86400"));
}

TEST_CASE("validation: blank identifiers and bidirectional controls are refused",
          "[scheduler][cli]") {
  auto db = QueueDb::make("sqlite");
  must_run(vq(*db, "case add C --risk high"));
  must_run(vq(*db, "suspect add S --case C"));
  struct Bad {
    std::string args, expect;
  };
  const std::string rlo = "\xE2\x80\xAE";  // U+202E RIGHT-TO-LEFT OVERRIDE
  const std::vector<Bad> bad{
      {"device add ' ' --suspect S --class phone", "exhibit reference must not be blank"},
      {"device add '  ' --suspect S --class phone", "exhibit reference must not be blank"},
      {"device add ' D2' --suspect S --class phone",
       "exhibit reference must not begin or end with a space"},
      {"device add 'EX1" + rlo + "gpj.exe' --suspect S --class phone",
       "exhibit reference contains a bidirectional control character (U+202E)"},
      {"case add 'OP" + rlo + "1'", "case reference contains a bidirectional control character"},
      {"suspect add 'S\xE2\x81\xA6x' --case C",
       "suspect reference contains a bidirectional control character (U+2066)"},
      {"device add $'D\\xc2\\x85' --suspect S --class phone",
       "exhibit reference contains a control character"},
      {"device add $'D\\xff' --suspect S --class phone", "exhibit reference is not valid UTF-8"},
  };
  for (auto& b : bad) {
    INFO(b.args);
    auto r = run(vq(*db, b.args));
    CHECK(r.exit_code == 1);
    CHECK(r.err.find(b.expect) != std::string::npos);
    // The refused id was not printed raw either.
    CHECK(r.out.find(rlo) == std::string::npos);
  }
  CHECK(must_run(vq(*db, "list --state all --json")) == "[]\n");
  // Printable UTF-8, spaces inside, is fine.
  must_run(vq(*db, "device add 'EX 1 é' --suspect S --class phone"));
}
