// `safehold report` and `safehold timeline` end to end on a real exhibit (tests/report/sample.hpp):
// the report's content against the carve's own files, and the bodyfile against TSK's `fls -m`
// and `mactime`.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/report/sample.hpp"

using nlohmann::json;
using safehold::test::must_run;
using safehold::test::read_text;
using safehold::test::run;
using safehold::test::shell_quote;
using safehold::test::TempDir;
namespace fsys = std::filesystem;

namespace {

std::string q(const fsys::path& p) {
  return shell_quote(p.string());
}
std::string bin() {
  return shell_quote(safehold::test::safehold_binary());
}
size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}
std::vector<json> jsonl(const fsys::path& p) {
  std::vector<json> out;
  std::ifstream in(p);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(json::parse(l));
  return out;
}
std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) out.push_back(cur);
  return out;
}

}  // namespace

TEST_CASE("report: safehold report of an evidence folder made by acquire and carve",
          "[report][cli]") {
  TempDir t("safehold-report");
  auto s = safehold::test::make_sample_exhibit(t.path());
  auto out =
      json::parse(must_run(bin() + " report " + q(s.evidence) + " --thumbnails --verify --json"));
  const fsys::path html_path = s.evidence / "carve/report.html";
  CHECK(out["report"] == html_path.string());
  CHECK(out["verified"] == true);
  CHECK(out["errors"] == 0);
  struct stat st {};
  REQUIRE(::stat(html_path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  const std::string html = read_text(html_path);
  auto artefacts = jsonl(s.evidence / "carve/report.jsonl");
  auto messages = jsonl(s.evidence / "carve/messages.jsonl");
  auto record = json::parse(read_text(s.evidence / "EX-1.acquire.json"));
  CHECK(out["artefacts"] == artefacts.size());
  CHECK(out["messages"] == messages.size());
  REQUIRE(messages.size() == 3);

  CHECK(html.find("<h1>Examination report: exhibit EX-1</h1>") != std::string::npos);
  CHECK(html.find("<dt>Case</dt><dd>OP-TEST</dd>") != std::string::npos);
  CHECK(html.find("<dt>Examiner at acquisition</dt><dd>DC &lt;Test&gt;</dd>") != std::string::npos);
  CHECK(html.find(record["sha256"].get<std::string>()) != std::string::npos);
  CHECK(html.find("<p class=\"ok\" id=\"verified\">") != std::string::npos);
  CHECK(html.find("<td>ext4</td>") != std::string::npos);  // filesystem table from the E01
  // Hostile names arrive escaped, never as markup.
  CHECK(html.find("<img src=x") == std::string::npos);
  CHECK(html.find("&lt;img src=x onerror=window.pwned=1&gt;.jpg") != std::string::npos);
  CHECK(html.find("evil\\u{202e}gnp.exe") != std::string::npos);
  CHECK(html.find("<script>window") == std::string::npos);
  CHECK(count(html, "<script") == 1);
  // Each artefact has its row; each picture with a file is embedded once, blurred by class.
  std::map<std::string, size_t> by_type;
  size_t pictures = 0;
  for (auto& a : artefacts) {
    by_type[a["type"].get<std::string>()]++;
    CHECK(html.find("data-id=\"" + a["id"].get<std::string>() + "\"") != std::string::npos);
    auto type = a["type"].get<std::string>();
    if ((type == "jpeg" || type == "png") && a["file"].is_string()) ++pictures;
  }
  CHECK(by_type["jpeg"] >= 3);  // two allocated, the deleted one carved, plus EXIF thumbnails
  CHECK(by_type["png"] == 1);
  CHECK(by_type["sqlite"] == 1);
  CHECK(count(html, "<img class=\"thumb\"") == pictures);
  CHECK(count(html, "<tr class=\"message\">") == 3);
  CHECK(html.find("sms: 3 messages (0 recovered)") != std::string::npos);
  CHECK(html.find("=HYPERLINK(&quot;http://evil.invalid&quot;,&quot;x&quot;)") !=
        std::string::npos);

  // Not replaced without --force; replaced with it.
  auto again = run(bin() + " report " + q(s.evidence));
  CHECK(again.exit_code == 1);
  CHECK(again.err.find("report.html: exists (use --force to replace it)") != std::string::npos);
  must_run(bin() + " report " + q(s.evidence) + " --force");
  CHECK(count(read_text(html_path), "<img") == 0);  // no pictures without --thumbnails

  // A bare carve output folder, without the image.
  must_run(bin() + " report " + q(s.evidence / "carve") + " -o " + q(t / "bare.html") +
           " --exhibit 'EX<1>'");
  const std::string bare = read_text(t / "bare.html");
  CHECK(bare.find("<h1>Examination report: exhibit EX&lt;1&gt;</h1>") != std::string::npos);
  CHECK(bare.find("No acquisition record") != std::string::npos);
  CHECK(bare.find("the filesystems below are those the artefacts were found in") !=
        std::string::npos);
  auto bad = run(bin() + " report " + q(t / "root"));
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("no carve output in it") != std::string::npos);
}

TEST_CASE("report: safehold timeline gives fls -m's bodyfile, which mactime reads",
          "[report][cli][timeline]") {
  TempDir t("safehold-timeline");
  auto s = safehold::test::make_sample_exhibit(t.path());
  const std::string ours = must_run(bin() + " timeline " + q(s.raw));
  const std::string fls = must_run("fls -r -m / " + q(s.raw));
  std::map<std::string, std::vector<std::string>> mine;
  for (auto& line : split(ours, '\n')) {
    auto f = split(line, '|');
    REQUIRE(f.size() == 11);
    mine[f[1]] = f;
  }
  size_t compared = 0;
  for (auto& line : split(fls, '\n')) {
    auto f = split(line, '|');
    REQUIRE(f.size() == 11);
    if (f[1].find("$OrphanFiles") != std::string::npos) continue;
    INFO("fls: " << line);
    auto it = mine.find(f[1]);
    REQUIRE(it != mine.end());
    auto& m = it->second;
    CHECK(m[2] == f[2].substr(0, f[2].find('-')));         // inode (fls adds -type-id on NTFS)
    CHECK(m[3].substr(0, 3) == f[3].substr(0, 3));         // type part of the mode
    for (size_t k = 6; k <= 10; ++k) CHECK(m[k] == f[k]);  // size, atime, mtime, ctime, crtime
    ++compared;
  }
  CHECK(compared >= 9);  // /DCIM, /Pictures, /data, lost+found and the files in them
  CHECK(mine.count("/DCIM/" + safehold::test::kXssName) == 1);
  const bool fls_deleted = fls.find("|/DCIM/old.jpg (deleted)|") != std::string::npos;
  CHECK((mine.count("/DCIM/old.jpg (deleted)") == 1) == fls_deleted);

  safehold::test::write_text(t / "body", ours);
  const std::string mac = must_run("TZ=UTC mactime -b " + q(t / "body") + " -d -y");
  CHECK(mac.rfind("Date,Size,Type,Mode,UID,GID,Meta,File Name", 0) == 0);
  CHECK(mac.find("/DCIM/IMG_0001.jpg") != std::string::npos);
  CHECK(mac.find("/data/mmssms.db") != std::string::npos);

  // The evidence folder: the E01's filesystem times plus artefacts and messages.
  auto r = run(bin() + " timeline " + q(s.evidence) + " -o " + q(t / "tl"));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(read_text(t / "tl/timeline.body") == ours);  // the same filesystem, through the E01
  const std::string csv = read_text(t / "tl/timeline.csv");
  CHECK(csv.rfind(
            "\xEF\xBB\xBFtime,macb,source,what,path,state,filesystem,inode,artefact,app,detail\r\n",
            0) == 0);
  // A received message's detail starts with the sender's number: no spreadsheet may read it as
  // a formula.
  CHECK(csv.find(",'+447700900001: see <script>window.pwned=2</script> here") != std::string::npos);
  CHECK(csv.find(",+") == std::string::npos);
  CHECK(csv.find(",=") == std::string::npos);
  CHECK(csv.find("=HYPERLINK(\"\"http://evil.invalid\"\",\"\"x\"\")") != std::string::npos);
  auto events = jsonl(t / "tl/timeline.jsonl");
  std::map<std::string, size_t> sources;
  int64_t last = INT64_MIN;
  for (auto& e : events) {
    sources[e["source"].get<std::string>()]++;
    CHECK(e["unix"].get<int64_t>() >= last);  // sorted by time
    last = e["unix"].get<int64_t>();
  }
  CHECK(sources["message"] == 3);
  CHECK(sources["filesystem"] > 0);
  CHECK(sources["artefact"] > 0);
  auto again = run(bin() + " timeline " + q(s.evidence) + " -o " + q(t / "tl"));
  CHECK(again.exit_code == 1);
  CHECK(again.err.find("timeline.body: exists (use --force to replace it)") != std::string::npos);
}
