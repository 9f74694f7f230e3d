// worker/ and `safehold work`: the whole chain in queue order, on generated evidence (loop devices
// and image files), with crash-and-resume, two workers sharing PostgreSQL, and the demo's own run.
#include <sys/stat.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "base/hash.hpp"
#include "scheduler/queue.hpp"
#include "tests/common/support.hpp"
#include "worker/worker.hpp"

using namespace safehold;
using test::must_run;
using test::shell_quote;
namespace fsys = std::filesystem;
using nlohmann::json;

namespace {

std::vector<json> json_lines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

std::string q(const std::string& db, const std::string& args) {
  return shell_quote(test::safehold_binary()) + " queue " + args + " --db " + shell_quote(db) +
         " --user tester";
}

// A fresh SQLite queue database, as `safehold queue init` makes it.
void init_db(const std::string& db) {
  must_run(shell_quote(test::safehold_binary()) + " queue init --db " + shell_quote(db));
}

std::string work(const std::string& db, const std::string& station, const fsys::path& dir,
                 const std::string& extra = "") {
  return shell_quote(test::safehold_binary()) + " work --db " + shell_quote(db) + " --station " +
         station + " --evidence-dir " + shell_quote(dir.string()) + " --json --exit-when-empty " +
         extra;
}

// Small generated sources: FAT images made with mkfs.vfat + mtools holding a synthetic picture.
fsys::path make_source(const fsys::path& dir, const std::string& name, int seed) {
  fsys::path img = dir / (name + ".raw");
  fsys::path pic = dir / (name + ".jpg");
  must_run("convert -size 160x120 gradient:'#" + std::to_string(100000 + seed * 7919) +
           "'-'#203040' " + shell_quote(pic.string()) + " && truncate -s 8M " +
           shell_quote(img.string()) + " && mkfs.vfat -n SRC " + shell_quote(img.string()) +
           " >/dev/null && MTOOLS_SKIP_CHECK=1 mcopy -i " + shell_quote(img.string()) + " " +
           shell_quote(pic.string()) + " ::/photo.jpg");
  return img;
}

struct Loop {
  std::string dev;
  explicit Loop(const fsys::path& file) {
    dev = must_run("losetup -f --show " + shell_quote(file.string()));
    dev.erase(dev.find_last_not_of("\n") + 1);
  }
  ~Loop() { test::run("blockdev --setrw " + dev + "; losetup -d " + dev); }
};

}  // namespace

TEST_CASE("safe_component keeps evidence folders inside the evidence directory", "[worker]") {
  CHECK(worker::safe_component("EXH-001") == "EXH-001");
  CHECK(worker::safe_component("op.alpha_2") == "op.alpha_2");
  std::string up = worker::safe_component("../etc");
  CHECK(up.find('/') == std::string::npos);
  CHECK(up.rfind(".._etc-", 0) == 0);
  CHECK(worker::safe_component("..").rfind("_..-", 0) == 0);
  CHECK(worker::safe_component("").rfind("_-", 0) == 0);
  CHECK(worker::safe_component("A/B") != worker::safe_component("A_B"));
  CHECK(worker::safe_component(std::string(300, 'x')).size() < 100);
  CHECK(worker::device_dir("/ev", "CASE 1", "PH/1") ==
        fsys::path("/ev") / worker::safe_component("CASE 1") / worker::safe_component("PH/1"));
}

TEST_CASE("safehold work processes devices in policy order, including a case whose facts change",
          "[worker][e2e][slow]") {
  test::TempDir t("safehold-work-order");
  const std::string db = (t / "queue.db").string();
  init_db(db);
  // Two loop devices (as seized media appear) and image files.
  auto s1 = make_source(t.path(), "s1", 1);
  auto s2 = make_source(t.path(), "s2", 2);
  auto s3 = make_source(t.path(), "s3", 3);
  auto s4 = make_source(t.path(), "s4", 4);
  auto s5 = make_source(t.path(), "s5", 5);
  Loop l1(s1), l2(s2);
  std::string sum_before = must_run("sha256sum " + l1.dev + " | cut -d' ' -f1");
  must_run(q(db, "case add LOW --risk low"));
  must_run(q(db, "case add HIGH --risk high"));
  must_run(q(db, "case add MED --risk medium"));
  must_run(q(db, "suspect add S-LOW --case LOW --children no --access-to-children no"));
  must_run(q(db, "suspect add S-HIGH --case HIGH --children no --access-to-children no"));
  must_run(q(db, "suspect add S-MED --case MED --children no --access-to-children no"));
  must_run(q(db,
             "device add D-LOW --suspect S-LOW --class phone --examiner 'DC Examiner A' "
             "--source " +
                 l1.dev));
  must_run(q(db, "device add D-HIGH-PC --suspect S-HIGH --class computer --source " +
                     shell_quote(s3.string())));
  must_run(q(db, "device add D-HIGH-PH --suspect S-HIGH --class phone --source " + l2.dev));
  must_run(q(db, "device add D-MED --suspect S-MED --class removable --source " +
                     shell_quote(s4.string())));
  must_run(q(db, "device add D-LOW-2 --suspect S-LOW --class removable --source " +
                     shell_quote(s5.string())));

  // First two jobs: the high-risk phone is imaged, then carved.
  auto first = json_lines(must_run(work(db, "st-1", t / "ev", "--max-jobs 2")));
  REQUIRE(first.size() == 2);
  CHECK(first[0]["exhibit"] == "D-HIGH-PH");
  CHECK(first[0]["job"] == "acquire");
  CHECK(first[1]["exhibit"] == "D-HIGH-PH");
  CHECK(first[1]["job"] == "carve");
  // While the others wait, the low-risk case's suspect is found to live with children.
  must_run(q(db, "suspect set S-LOW --children yes --reason 'home visit found children'"));
  auto alerts = json::parse(must_run(q(db, "alerts --json")));
  REQUIRE(alerts.size() == 1);
  CHECK(alerts[0]["suspect"] == "S-LOW");
  auto rest = json_lines(must_run(work(db, "st-1", t / "ev")));
  std::vector<std::string> order;
  for (auto& j : rest) {
    CHECK(j["ok"] == true);
    if (j["job"] == "acquire") order.push_back(j["exhibit"]);
  }
  // Tier 0 (phone before removable), then high-risk computer, then medium.
  CHECK(order == std::vector<std::string>{"D-LOW", "D-LOW-2", "D-HIGH-PC", "D-MED"});
  // Each device went through acquire then carve, and ended in review.
  auto listed = json::parse(must_run(q(db, "list --state review --json")));
  CHECK(listed.size() == 5);
  // The loop device is unchanged; its image verifies and holds the picture.
  CHECK(must_run("sha256sum " + l1.dev + " | cut -d' ' -f1") == sum_before);
  fsys::path dev_dir = worker::device_dir(t / "ev", "LOW", "D-LOW");
  CHECK(fsys::exists(dev_dir / "D-LOW.E01"));
  CHECK(fsys::exists(dev_dir / "D-LOW.acquire.json"));
  CHECK(fsys::exists(dev_dir / "carve" / "report.jsonl"));
  // The examiner's HTML report of each carved device, naming its case and exhibit.
  const std::string html = test::read_text(dev_dir / "carve" / "report.html");
  CHECK(html.find("<title>Safehold report: LOW D-LOW</title>") != std::string::npos);
  for (auto& j : rest)
    if (j["job"] == "carve") CHECK(fsys::exists(j["result"]["html_report"].get<std::string>()));
  CHECK((fsys::status(dev_dir).permissions() & fsys::perms::all) == fsys::perms::owner_all);
  // The acquire job stored its image on the device, where the carve job found it.
  for (auto& d : listed)
    CHECK(d["image"] == (worker::device_dir(t / "ev", d["case"].get<std::string>(),
                                            d["exhibit"].get<std::string>()) /
                         (d["exhibit"].get<std::string>() + ".E01"))
                            .string());
  // The E01 names the examiner: the device's assigned one, never the station.
  auto info = json::parse(must_run(shell_quote(test::safehold_binary()) + " info --json " +
                                   shell_quote((dev_dir / "D-LOW.E01").string())));
  CHECK(info["ewf"]["examiner"] == "DC Examiner A");
  auto pc = json::parse(must_run(
      shell_quote(test::safehold_binary()) + " info --json " +
      shell_quote((worker::device_dir(t / "ev", "HIGH", "D-HIGH-PC") / "D-HIGH-PC.E01").string())));
  CHECK(pc["ewf"]["examiner"] != "st-1");
  auto rec = json::parse(test::read_text(dev_dir / "D-LOW.acquire.json"));
  CHECK(rec["md5"] == test::md5_file(s1));
  std::string report = test::read_text(dev_dir / "carve" / "report.jsonl");
  std::string pic_sha = test::sha256_file(t / "s1.jpg");
  CHECK(report.find(pic_sha) != std::string::npos);
  // The carve job recorded its counts and report paths in the audit of the device.
  auto audit = must_run(q(db, "audit --json"));
  CHECK(audit.find("report.jsonl") != std::string::npos);
}

// The jobs another station ran after an interrupted acquisition: the acquisition resumed from its
// checkpoint with the source's MD5, then the carve.
static void check_resumed_and_carved(const std::vector<json>& jobs, const fsys::path& src) {
  REQUIRE(jobs.size() == 2);
  CHECK(jobs[0]["job"] == "acquire");
  CHECK(jobs[0]["result"]["resumed"] == true);
  CHECK(jobs[0]["result"]["md5"] == test::md5_file(src));
  CHECK(jobs[1]["job"] == "carve");
  CHECK(jobs[1]["ok"] == true);
}

TEST_CASE(
    "a worker killed with SIGKILL mid-acquisition is resumed by another after its lease expires",
    "[worker][e2e][slow]") {
  test::TempDir t("safehold-work-resume");
  const std::string db = (t / "queue.db").string();
  fsys::path src = t / "big.raw";
  // 384 MiB of incompressible data: long enough to be killed midway.
  must_run(
      "{ openssl enc -aes-128-ctr -nosalt -pass pass:resume -pbkdf2 -in /dev/zero 2>/dev/null || "
      "true; } | head -c "
      "402653184 > " +
      shell_quote(src.string()));
  {
    // No back-off, so that the rescuer claims the reaped job at once. Leases keep their default:
    // the test expires the killed worker's lease itself rather than waiting for the clock.
    auto store = scheduler::Store::open(db);
    auto p = store->policy();
    p.backoff_seconds = 0;
    p.backoff_max_seconds = 0;
    store->set_policy("tester", p, "no back-off for the test");
  }
  must_run(q(db, "case add C --risk high"));
  must_run(q(db, "suspect add S --case C --children no --access-to-children no"));
  must_run(
      q(db, "device add BIG --suspect S --class computer --source " + shell_quote(src.string())));
  fsys::path state = worker::device_dir(t / "ev1", "C", "BIG") / "BIG.acquire.state";
  // Both stations share one evidence directory here (a lab's shared evidence store).
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);  // its own process group, killed as one below
    execl("/bin/bash", "bash", "-c",
          (work(db, "st-a", t / "ev1", "--threads 1") + " >/dev/null 2>&1").c_str(), nullptr);
    _exit(127);
  }
  setpgid(pid, pid);
  bool checkpointed = false;
  for (int i = 0; i < 6000 && !checkpointed; ++i) {  // up to 10 minutes on a loaded machine
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::error_code ec;
    // Killed after its checkpoint at 64 MiB was saved (the resume contract), as the acquire test
    // does.
    checkpointed =
        fsys::exists(state, ec) &&
        fsys::file_size(worker::device_dir(t / "ev1", "C", "BIG") / "BIG.E01", ec) > (64u << 20) &&
        test::read_text(state).find("\"offset\":67108864") != std::string::npos;
  }
  REQUIRE(checkpointed);
  // The whole process group of the worker dies at once, as with a power cut.
  kill(-pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  // Its lease runs out: set in the past rather than waited for (no dependence on speed).
  must_run("sqlite3 " + shell_quote(db) +
           " \"UPDATE devices SET lease_expires = 1 WHERE exhibit = 'BIG'\"");
  auto jobs = json_lines(must_run(work(db, "st-b", t / "ev1")));
  check_resumed_and_carved(jobs, src);
}

TEST_CASE(
    "a worker stopped with SIGTERM mid-acquisition hands the job back without spending an attempt",
    "[worker][e2e][slow]") {
  test::TempDir t("safehold-work-term");
  const std::string db = (t / "queue.db").string();
  init_db(db);
  fsys::path src = t / "big.raw";
  must_run(
      "{ openssl enc -aes-128-ctr -nosalt -pass pass:sigterm -pbkdf2 -in /dev/zero 2>/dev/null || "
      "true; } | head -c "
      "402653184 > " +
      shell_quote(src.string()));
  must_run(q(db, "case add C --risk high"));
  must_run(q(db, "suspect add S --case C --children no --access-to-children no"));
  must_run(
      q(db, "device add BIG --suspect S --class computer --source " + shell_quote(src.string())));
  const fsys::path dir = worker::device_dir(t / "ev", "C", "BIG");
  pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/bash", "bash", "-c",
          ("exec " + work(db, "st-a", t / "ev", "--threads 1") + " >" +
           shell_quote((t / "st-a.out").string()) + " 2>&1")
              .c_str(),
          nullptr);
    _exit(127);
  }
  bool checkpointed = false;
  for (int i = 0; i < 6000 && !checkpointed; ++i) {  // up to 10 minutes on a loaded machine
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::error_code ec;
    checkpointed = fsys::exists(dir / "BIG.acquire.state", ec) &&
                   fsys::file_size(dir / "BIG.E01", ec) > (64u << 20);
  }
  REQUIRE(checkpointed);
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  // A stop asked for is not a failure: exit 0, the job reported as handed back.
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  // Job results only: the log's event lines ("event") go to the same file here.
  std::vector<json> stopped;
  for (auto& j : json_lines(test::read_text(t / "st-a.out")))
    if (!j.contains("event")) stopped.push_back(j);
  REQUIRE(stopped.size() == 1);
  CHECK(stopped[0]["ok"] == false);
  CHECK(stopped[0]["released"] == true);
  // Back in the queue at once (no lease to wait for), its attempt not spent, the release audited.
  auto listed = json::parse(must_run(q(db, "list --json")));
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["state"] == "queued");
  CHECK(listed[0]["attempts"] == 0);
  CHECK(listed[0]["station"].is_null());
  auto audit = json::parse(must_run(q(db, "audit --json")));
  bool release_audited = false;
  for (auto& r : audit)
    if (r["action"].get<std::string>().find("release") != std::string::npos) release_audited = true;
  CHECK(release_audited);
  must_run(q(db, "audit --verify"));
  // Another station resumes the acquisition from the checkpoint and finishes the device.
  auto jobs = json_lines(must_run(work(db, "st-b", t / "ev")));
  check_resumed_and_carved(jobs, src);
}

TEST_CASE("two workers on one PostgreSQL database never process a device twice",
          "[worker][e2e][postgres][slow]") {
  const char* url = std::getenv("SAFEHOLD_TEST_PG_URL");
  if (!url || !*url) {
    WARN("skipped: SAFEHOLD_TEST_PG_URL not set (make test starts PostgreSQL)");
    return;
  }
  test::TempDir t("safehold-work-pg");
  // A database of its own for this test.
  std::string dbname = "safehold_work_" + std::to_string(getpid());
  std::string base = url;
  must_run("psql " + shell_quote(base) + " -qc 'CREATE DATABASE " + dbname + "'");
  // The service's URL names the database last (its socket folder is percent-encoded).
  std::string db = base.substr(0, base.rfind('/') + 1) + dbname;
  must_run(q(db, "case add P --risk medium"));
  must_run(q(db, "suspect add SP --case P --children no --access-to-children no"));
  for (int i = 0; i < 6; ++i) {
    auto s = make_source(t.path(), "p" + std::to_string(i), 10 + i);
    must_run(q(db, "device add DEV-" + std::to_string(i) +
                       " --suspect SP --class computer --source " + shell_quote(s.string())));
  }
  std::string out_a = (t / "a.jsonl").string(), out_b = (t / "b.jsonl").string();
  must_run("(" + work(db, "lab-a", t / "ev-a", "--threads 1") + " > " + out_a + " 2>/dev/null & " +
           work(db, "lab-b", t / "ev-b", "--threads 1") + " > " + out_b + " 2>/dev/null & wait)");
  auto a = json_lines(test::read_text(out_a));
  auto b = json_lines(test::read_text(out_b));
  std::multiset<std::string> acquired, carved;
  for (auto* v : {&a, &b})
    for (auto& j : *v) {
      CHECK(j["ok"] == true);
      (j["job"] == "acquire" ? acquired : carved).insert(j["exhibit"].get<std::string>());
    }
  CHECK(acquired.size() == 6);
  CHECK(std::set<std::string>(acquired.begin(), acquired.end()).size() == 6);
  CHECK(carved.size() == 6);
  CHECK(std::set<std::string>(carved.begin(), carved.end()).size() == 6);
  CHECK(json::parse(must_run(q(db, "list --state review --json"))).size() == 6);
  test::run("psql " + shell_quote(base) + " -qc 'DROP DATABASE " + dbname + " WITH (FORCE)'");
}

TEST_CASE("make demo's own run finishes with every device processed in safeguarding order",
          "[worker][demo][slow]") {
  test::TempDir t("safehold-demo");
  auto r = test::run("cd " + shell_quote(test::source_dir()) +
                     " && SAFEHOLD=" + shell_quote(test::safehold_binary()) +
                     " DEMO_OUT=" + shell_quote((t / "out").string()) + " tools/demo.sh");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("lives with children") != std::string::npos);
  auto jobs = json_lines(test::read_text(t / "out" / "jobs.jsonl"));
  REQUIRE(jobs.size() == 12);
  std::vector<std::string> acquired;
  for (auto& j : jobs)
    if (j["job"] == "acquire") acquired.push_back(j["exhibit"]);
  // Very high risk first; after the household fact changes, the suspect's devices come next
  // (phone before removable), then the high-risk case's phone and computer.
  CHECK(acquired ==
        std::vector<std::string>{"C-LT-2", "C-USB-2", "B-PH-2", "B-USB-1", "A-PH-1", "A-LT-1"});
}

TEST_CASE(
    "on a shared PostgreSQL queue, a safeguarding device registered while both stations are busy "
    "is the next either takes",
    "[worker][postgres]") {
  const char* url = std::getenv("SAFEHOLD_TEST_PG_URL");
  if (!url || !*url) {
    WARN("skipped: SAFEHOLD_TEST_PG_URL not set (make test starts PostgreSQL)");
    return;
  }
  std::string base = url;
  std::string dbname = "safehold_safe_" + std::to_string(getpid());
  must_run("psql " + shell_quote(base) + " -qc 'CREATE DATABASE " + dbname + "'");
  std::string db = base.substr(0, base.rfind('/') + 1) + dbname;
  must_run(q(db, "case add V --risk very-high"));
  must_run(q(db, "suspect add SV --case V --children no --access-to-children no"));
  for (int i = 0; i < 4; ++i)
    must_run(q(db, "device add V-" + std::to_string(i) +
                       " --suspect SV --class phone --source /dev/null"));
  auto a = json::parse(must_run(q(db, "claim --station lab-a --jobs acquire --json")));
  auto b = json::parse(must_run(q(db, "claim --station lab-b --jobs acquire --json")));
  CHECK(a["exhibit"] == "V-0");
  CHECK(b["exhibit"] == "V-1");
  // Both are busy; a low-risk case's removable device arrives, its suspect living with children.
  must_run(q(db, "case add L --risk low"));
  must_run(q(db, "suspect add SL --case L --children yes"));
  must_run(q(db, "device add SAFE --suspect SL --class removable --source /dev/null"));
  must_run(q(db, "complete V-0 --station lab-a"));
  auto next = json::parse(must_run(q(db, "claim --station lab-a --jobs acquire --json")));
  CHECK(next["exhibit"] == "SAFE");
  auto after = json::parse(must_run(q(db, "claim --station lab-b --jobs acquire --json")));
  CHECK(after["exhibit"] == "V-2");
  test::run("psql " + shell_quote(base) + " -qc 'DROP DATABASE " + dbname + " WITH (FORCE)'");
}

TEST_CASE("a carve that cannot read all of its image is recorded as failed, with the reason",
          "[worker][issue18]") {
  test::TempDir t("safehold-work-unreadable");
  const std::string db = (t / "queue.db").string();
  init_db(db);
  // The image the acquire job "made": a QCOW2 cut short, whose last clusters cannot be read.
  auto src = make_source(t.path(), "s1", 1);
  const fsys::path cut = t / "cut.qcow2";
  must_run("qemu-img convert -q -f raw -O qcow2 " + shell_quote(src.string()) + " " +
           shell_quote((t / "full.qcow2").string()) + " && head -c $(( $(stat -c %s " +
           shell_quote((t / "full.qcow2").string()) + ") * 3 / 4 )) " +
           shell_quote((t / "full.qcow2").string()) + " > " + shell_quote(cut.string()));
  must_run(q(db, "case add C --risk high"));
  must_run(q(db, "suspect add S --case C --children no --access-to-children no"));
  must_run(q(db, "device add D --suspect S --class removable --source /dev/null"));
  must_run(q(db, "claim --station st --jobs acquire --json"));
  must_run(q(db, "complete D --station st --image " + shell_quote(cut.string())));
  auto r = test::run(work(db, "st", t / "ev"));
  INFO(r.out << r.err);
  CHECK(r.exit_code == 2);
  auto jobs = json_lines(r.out);
  REQUIRE(jobs.size() >= 1);
  CHECK(jobs[0]["job"] == "carve");
  CHECK(jobs[0]["ok"] == false);
  CHECK(jobs[0]["error"].get<std::string>().find(cut.string() + ": carved with read failures") ==
        0);
}
