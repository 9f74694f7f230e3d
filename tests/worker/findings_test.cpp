// Findings flow back (issue 20): lab hash sets in the queue, findings per device, the findings
// policy (risk raised, re-rank shown by explain, first-generation alert only where the household
// facts say children, task where they are unknown) and links between cases by exact hash and by
// PDQ (a resized, re-encoded, mirrored copy) and by vPDQ (a video and its re-encoded, resized
// copy), end to end through the `safehold` binary on SQLite and PostgreSQL. Synthetic media only
// (plasma fields and shapes made by ImageMagick, ffmpeg's test patterns).
#include <fmt/core.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "tests/common/receiver.hpp"
#include "tests/common/support.hpp"
#include "tests/common/video_clips.hpp"
#include "tests/scheduler/helpers.hpp"

using namespace safehold;
using test::must_run;
using test::shell_quote;
namespace fsys = std::filesystem;
using nlohmann::json;

namespace {

std::string bin() {
  return shell_quote(test::safehold_binary());
}

std::string q(const test::QueueDb& db, const std::string& args) {
  return bin() + " queue " + args + " " + db.q() + " --user tester";
}

// A synthetic picture: a seeded plasma field with a shape on it.
fsys::path picture(const fsys::path& dir, const std::string& name, int seed) {
  fsys::path p = dir / name;
  must_run(
      fmt::format("convert -seed {} -size 320x240 plasma:'#{:06x}'-'#{:06x}' -fill '#{:06x}' "
                  "-draw 'circle {},{} {},{}' -quality 92 {}",
                  seed, (seed * 2654435761u) & 0xffffff, (seed * 40503u) & 0xffffff,
                  (seed * 7919u) & 0xffffff, 80 + seed * 7 % 120, 60 + seed * 5 % 100,
                  120 + seed * 7 % 120, 90 + seed * 5 % 100, shell_quote(p.string())));
  return p;
}

// A FAT image holding the given files at the given evidence paths.
fsys::path fat_image(const fsys::path& dir, const std::string& name,
                     const std::vector<std::pair<fsys::path, std::string>>& files) {
  fsys::path img = dir / (name + ".raw");
  std::string cmd = "truncate -s 16M " + shell_quote(img.string()) + " && mkfs.vfat -n SRC " +
                    shell_quote(img.string()) + " >/dev/null";
  std::set<std::string> dirs;
  for (auto& [src, at] : files) {
    std::string folder;
    for (size_t i = at.find('/', 1); i != std::string::npos; i = at.find('/', i + 1)) {
      folder = at.substr(0, i);
      if (dirs.insert(folder).second)
        cmd += " && MTOOLS_SKIP_CHECK=1 mmd -i " + shell_quote(img.string()) + " ::" + folder;
    }
    cmd += " && MTOOLS_SKIP_CHECK=1 mcopy -i " + shell_quote(img.string()) + " " +
           shell_quote(src.string()) + " ::" + at;
  }
  must_run(cmd);
  return img;
}

std::vector<json> json_lines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

// Names inside the evidence that must never reach the queue's findings, alerts, links or audit.
const std::vector<std::string> kEvidenceNames = {"ZQSHARED", "ZQKNOWN",  "ZQCAMERA", "ZQCOPY",
                                                 "DCIM",     "Pictures", "Download", "ZQVIDEO",
                                                 "ZQVCOPY",  "Videos"};

void check_no_names(const std::string& what, const std::string& text) {
  for (auto& n : kEvidenceNames) {
    INFO(what << " must not carry the evidence name " << n);
    CHECK(text.find(n) == std::string::npos);
  }
}

json by_kind(const json& alerts, const std::string& kind, const std::string& case_ref) {
  json out = json::array();
  for (auto& a : alerts)
    if (a.value("kind", std::string("household")) == kind && a["case"] == case_ref)
      out.push_back(a);
  return out;
}

// Webhooks and email: every alert and link delivered once, signed, with references only.
void check_notifications(const test::QueueDb& db, size_t expected) {
  const fsys::path t = db.dir();
  test::WebhookReceiver rx(t / "rx");
  test::write_text(t / "secret", "s3cret-key\n");
  test::write_text(t / "sendmail", "#!/bin/sh\ncat >> " + shell_quote((t / "mail.txt").string()) +
                                       "\necho '----' >> " +
                                       shell_quote((t / "mail.txt").string()) + "\n");
  fsys::permissions(t / "sendmail", fsys::perms::owner_all);
  const std::string notify =
      "notify --webhook http://127.0.0.1:" + rx.port() + "/hook --secret-file " +
      shell_quote((t / "secret").string()) + " --email unit@example.org --sendmail " +
      shell_quote((t / "sendmail").string()) + " --dashboard http://127.0.0.1:8080 --json";
  auto r = json::parse(must_run(q(db, notify)));
  CHECK(r["delivered"] == expected);
  CHECK(r["failed"] == 0);
  auto reqs = rx.requests();
  REQUIRE(reqs.size() == expected);
  std::set<std::string> events;
  for (auto& rq : reqs) {
    const std::string body = rq["body"];
    test::write_text(t / "body", body);
    std::string mac = must_run("openssl dgst -sha256 -hmac s3cret-key -r " +
                               shell_quote((t / "body").string()) + " | cut -d' ' -f1");
    mac.erase(mac.find_last_not_of("\n") + 1);
    CHECK(rq["path"] == "/hook");
    CHECK(rq["headers"]["X-Safehold-Signature"] == "sha256=" + mac);
    auto j = json::parse(body);
    events.insert(j["event"].get<std::string>() + ":" + j.value("kind", std::string("-")));
    CHECK(j["dashboard"].get<std::string>().rfind("http://127.0.0.1:8080/#", 0) == 0);
    check_no_names("a webhook payload", body);
  }
  CHECK(events == std::set<std::string>{"alert:household", "alert:first-generation", "alert:link",
                                        "alert:task", "link:-"});
  std::string mail = test::read_text(t / "mail.txt");
  CHECK(mail.find("To: unit@example.org") != std::string::npos);
  check_no_names("an email", mail);
  // Nothing is sent twice; a webhook that cannot be reached is retried later, not now.
  CHECK(json::parse(must_run(q(db, notify)))["delivered"] == 0);
  auto audit = must_run(q(db, "audit --entity notification --json"));
  CHECK(json::parse(audit).size() == expected);
  CHECK(audit.find("webhook 1: 200; email: sent") != std::string::npos);
  must_run(q(db, "suspect set SB --children yes --reason 'home visit'"));  // a new alert
  auto down = test::run(q(db, "notify --webhook http://127.0.0.1:9/hook --secret-file " +
                                  shell_quote((t / "secret").string()) + " --json"));
  CHECK(down.exit_code == 2);
  CHECK(json::parse(down.out)["failed"] == 1);
  auto failed = json::parse(must_run(q(db, "audit --entity notification --json")));
  CHECK(failed.back()["action"] == "notify.failed");
  CHECK(failed.back()["reason"] == "webhook 1: not delivered");
  CHECK(failed.back()["after"]["attempts"] == 1);
  CHECK(failed.back()["after"]["next_at"].is_number_integer());  // retried after a back-off
}

// The lab's set, made by `safehold hashset import` from the MD5s of two pictures with a category,
// registered; a wrong category and a file that is no set are refused with one sentence.
void add_lab_set(const test::QueueDb& db, const fsys::path& p2, const fsys::path& p5) {
  const fsys::path t = db.dir();
  std::string list = test::md5_file(p2) + ",cat1\n" + test::md5_file(p5) + ",cat1\n";
  test::write_text(t / "indecent.txt", list);
  fsys::path set = t / "lab-indecent.hst";
  must_run(bin() + " hashset import --format text --name LABSET " +
           shell_quote((t / "indecent.txt").string()) + " -o " + shell_quote(set.string()));
  must_run(q(db, "hashset add lab-indecent " + shell_quote(set.string()) + " --category indecent"));
  auto sets = json::parse(must_run(q(db, "hashset list --json")));
  REQUIRE(sets.size() == 1);
  CHECK(sets[0]["name"] == "lab-indecent");
  CHECK(sets[0]["category"] == "indecent");
  CHECK(sets[0]["set_name"] == "LABSET");
  CHECK(sets[0]["path"] == set.string());
  auto bad = test::run(q(db, "hashset add x " + shell_quote(set.string()) + " --category bad"));
  CHECK(bad.exit_code != 0);
  CHECK(bad.err.find("--category 'bad' is not valid") != std::string::npos);
  auto notset = test::run(
      q(db, "hashset add x " + shell_quote((t / "indecent.txt").string()) + " --category other"));
  CHECK(notset.exit_code != 0);
  CHECK(notset.err.find("not a usable hash set file") != std::string::npos);
}

void run_findings(const test::QueueDb& db) {
  const fsys::path t = db.dir();
  // Pictures: P1 on both cases' devices (exact); P2 in the lab's indecent set, on A1, and a
  // resized, re-encoded and mirrored copy of it on B1 (PDQ); P3 and P4 from camera folders;
  // P5 in the indecent set, on B1.
  auto p1 = picture(t, "p1.jpg", 1), p2 = picture(t, "p2.jpg", 2), p3 = picture(t, "p3.jpg", 3),
       p4 = picture(t, "p4.jpg", 4), p5 = picture(t, "p5.jpg", 5);
  fsys::path p2copy = t / "p2copy.jpg";
  must_run("convert " + shell_quote(p2.string()) + " -resize 75% -flop -quality 70 " +
           shell_quote(p2copy.string()));
  // A video on A1 and its re-encoded, resized copy on B1 (vPDQ).
  test::make_clip(t / "clip.mp4");
  test::make_reencoded_copy(t / "clip.mp4", t / "clipcopy.mp4");
  auto a1 = fat_image(t, "a1",
                      {{p1, "/Pictures/ZQSHARED.JPG"},
                       {p2, "/Pictures/ZQKNOWN.JPG"},
                       {p3, "/DCIM/Camera/ZQCAMERA.JPG"},
                       {t / "clip.mp4", "/Videos/ZQVIDEO.MP4"}});
  auto b1 = fat_image(t, "b1",
                      {{p1, "/Download/ZQSHARED.JPG"},
                       {p2copy, "/Download/ZQCOPY.JPG"},
                       {p4, "/DCIM/Camera/ZQCAMERA.JPG"},
                       {p5, "/Pictures/ZQKNOWN.JPG"},
                       {t / "clipcopy.mp4", "/Download/ZQVCOPY.MP4"}});
  auto b2 = fat_image(t, "b2", {{p4, "/Pictures/other.jpg"}});
  add_lab_set(db, p2, p5);

  must_run(q(db, "case add CASE-A --risk low"));
  must_run(q(db, "case add CASE-B --risk medium"));
  must_run(q(db, "suspect add SA --case CASE-A --children yes --access-to-children no"));
  must_run(q(db, "suspect add SB --case CASE-B"));  // household facts unknown
  must_run(q(db, "device add A1 --suspect SA --class phone --source " + shell_quote(a1.string())));
  must_run(q(db, "device add B1 --suspect SB --class phone --source " + shell_quote(b1.string())));
  must_run(
      q(db, "device add B2 --suspect SB --class computer --source " + shell_quote(b2.string())));
  auto before = json::parse(must_run(q(db, "explain B2 --json")));
  CHECK(before["priority"]["risk"] == "medium");
  CHECK(before["findings"] == json::array());

  // A1 (tier 0) is imaged and carved, then B1 (medium phone); B2 stays queued.
  auto jobs = json_lines(must_run(bin() + " work " + db.q() + " --station st-1 --evidence-dir " +
                                  shell_quote((t / "ev").string()) + " --json --max-jobs 4"));
  REQUIRE(jobs.size() == 4);
  std::vector<std::string> order;
  for (auto& j : jobs) {
    CHECK(j["ok"] == true);
    order.push_back(j["exhibit"].get<std::string>() + ":" + j["job"].get<std::string>());
  }
  CHECK(order == std::vector<std::string>{"A1:acquire", "A1:carve", "B1:acquire", "B1:carve"});

  auto fa = json::parse(must_run(q(db, "findings A1 --json")));
  const json& sa = fa["summary"];
  CHECK(sa["by_type"] == json{{"jpeg", {{"allocated", 3}}}, {"mp4", {{"allocated", 1}}}});
  CHECK(sa["known"] == json::parse(R"([{"set":"lab-indecent","category":"indecent","count":1}])"));
  CHECK(sa["known_indecent"] == 1);
  CHECK(sa["unknown_media"] == 3);
  CHECK(sa["camera_original"] == 1);
  CHECK(sa["pdq_near"] == json::object());
  CHECK(sa["chats"] == json::object());
  CHECK(sa["attachments_matching"] == 0);
  CHECK(sa["media_indexed"] == 4);
  CHECK(sa["video_frames_indexed"] == 5);
  CHECK(sa["links"] == 0);  // B1 was not carved yet; the link appears under "links"
  REQUIRE(fa["links"].size() == 1);

  auto fb = json::parse(must_run(q(db, "findings B1 --json")));
  const json& sb = fb["summary"];
  CHECK(sb["by_type"] == json{{"jpeg", {{"allocated", 4}}}, {"mp4", {{"allocated", 1}}}});
  CHECK(sb["known_indecent"] == 1);
  CHECK(sb["unknown_media"] == 4);
  CHECK(sb["video_frames_indexed"] == 5);
  CHECK(sb["camera_original"] == 1);
  CHECK(sb["pdq_near"] == json{{"indecent", 1}});
  CHECK(sb["links"] == 1);
  REQUIRE(fb["links"].size() == 1);
  const json& link = fb["links"][0];
  CHECK(link["exhibit"] == "B1");
  CHECK(link["case"] == "CASE-B");
  CHECK(link["other_exhibit"] == "A1");
  CHECK(link["other_case"] == "CASE-A");
  CHECK(link["exact"] == 1);
  CHECK(link["near"] == 2);  // the mirrored picture and the re-encoded video
  CHECK(link["min_distance"] == 0);
  CHECK(fa["links"][0] == link);
  auto links = json::parse(must_run(q(db, "links --json")));
  REQUIRE(links.size() == 1);
  CHECK(links[0] == link);

  // Policy: both cases raised to high; B2 re-ranked, and explain says why.
  CHECK(json::parse(must_run(q(db, "explain A1 --json")))["priority"]["risk"] == "high");
  auto after = json::parse(must_run(q(db, "explain B2 --json")));
  CHECK(after["priority"]["risk"] == "high");
  std::string explain_text = must_run(q(db, "explain B2"));
  CHECK(explain_text.find("findings: 1 known indecent item(s) on B1 raised the case from medium "
                          "to high") != std::string::npos);
  auto audit = must_run(q(db, "audit --json"));
  CHECK(audit.find("\"device.findings\"") != std::string::npos);
  CHECK(audit.find("\"link.add\"") != std::string::npos);
  CHECK(audit.find("\"hashset.add\"") != std::string::npos);

  // Alerts: first-generation only on case A (children in the household), links on both cases,
  // a task on case B (household unknown).
  auto alerts = json::parse(must_run(q(db, "alerts --json")));
  CHECK(alerts.size() == 5);
  auto fg = by_kind(alerts, "first-generation", "CASE-A");
  REQUIRE(fg.size() == 1);
  CHECK(fg[0]["exhibit"] == "A1");
  CHECK(fg[0]["reason"] ==
        "possible first-generation material, review now: 1 camera-original item(s) in no set on "
        "A1");
  CHECK(by_kind(alerts, "first-generation", "CASE-B").empty());
  auto la = by_kind(alerts, "link", "CASE-A"), lb = by_kind(alerts, "link", "CASE-B");
  REQUIRE(la.size() == 1);
  REQUIRE(lb.size() == 1);
  CHECK(la[0]["reason"] == "material on A1 also on B1 of case CASE-B (1 exact, 2 near)");
  CHECK(lb[0]["reason"] == "material on B1 also on A1 of case CASE-A (1 exact, 2 near)");
  auto task = by_kind(alerts, "task", "CASE-B");
  REQUIRE(task.size() == 1);
  CHECK(task[0]["reason"] ==
        "establish the household facts of suspect SB: 1 known indecent item(s) on B1");
  CHECK(by_kind(alerts, "task", "CASE-A").empty());
  // explain gives every finding that moved the device's case, in order.
  CHECK(after["findings"] ==
        json{"findings: linked to A1 of case CASE-A (1 exact, 2 near)",
             "findings: 1 known indecent item(s) on B1 raised the case from medium to high",
             fmt::format("findings: task {} raised to establish household facts",
                         task[0]["id"].get<int64_t>())});
  CHECK(json::parse(must_run(q(db, "explain A1 --json")))["findings"] ==
        json{"findings: 1 known indecent item(s) on A1 raised the case from low to high",
             fmt::format("findings: first-generation alert {} raised (1 camera-original item(s) "
                         "on A1)",
                         fg[0]["id"].get<int64_t>()),
             "findings: linked to B1 of case CASE-B (1 exact, 2 near)"});
  // The device audit of B2 holds its re-rank with the findings' reason.
  auto b2audit = json::parse(must_run(q(db, "audit --entity device --id B2 --json")));
  bool reranked = false;
  for (auto& r : b2audit)
    reranked |= r["action"] == "device.priority" &&
                r["reason"] ==
                    "findings: 1 known indecent item(s) on B1 raised the case from medium to high";
  CHECK(reranked);

  check_no_names("findings of A1", fa.dump());
  check_no_names("findings of B1", fb.dump());
  check_no_names("alerts", alerts.dump());
  check_no_names("links", links.dump());
  check_no_names("audit", audit);
  check_notifications(db, 6);
}

}  // namespace

TEST_CASE("findings flow back on SQLite: sets, findings, policy, links",
          "[worker][findings][e2e]") {
  auto db = test::QueueDb::make("sqlite");
  run_findings(*db);
}

TEST_CASE("findings flow back on PostgreSQL: sets, findings, policy, links",
          "[worker][findings][e2e][postgres]") {
  auto db = test::QueueDb::make("postgresql");
  if (!db) return;
  run_findings(*db);
}
