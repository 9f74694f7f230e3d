// report/ as a library: escaping, CSV cells, time parsing, the bodyfile and timeline writers, and
// the HTML report of a hand-made evidence folder whose names are hostile.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "report/evidence.hpp"
#include "report/html.hpp"
#include "report/output.hpp"
#include "report/text.hpp"
#include "report/timeline.hpp"
#include "tests/common/support.hpp"

using nlohmann::json;
namespace rp = safehold::report;
using safehold::test::TempDir;
using safehold::test::write_text;

namespace {

size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

// A folder laid out as `safehold work` writes it, with hostile strings in every evidence field.
void make_folder(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir / "carve/artefacts/png");
  write_text(dir / "EX-1.acquire.json",
             json{{"status", "complete"},
                  {"source", "/dev/sdz"},
                  {"image", (dir / "EX-1.E01").string()},
                  {"case",
                   {{"case_number", "OP-<b>X</b>"},
                    {"evidence_number", "EX-1"},
                    {"examiner", "DC \"Quote\" & Co"},
                    {"description", "phone"},
                    {"notes", ""}}},
                  {"md5", "0123456789abcdef0123456789abcdef"},
                  {"sha1", "0123456789abcdef0123456789abcdef01234567"},
                  {"sha256", std::string(64, 'a')},
                  {"size", 1048576},
                  {"write_block",
                   {{"applied", true},
                    {"method", "BLKROSET+BLKROGET"},
                    {"devices", json::array({{{"device", "/dev/sdz"}, {"blkroget", 1}}})}}},
                  {"device", {{"model", "<script>alert(1)</script>"}, {"serial", "S\x01N"}}},
                  {"read_errors", json::array({{{"sector", 99}, {"count", 8}}})}}
                 .dump());
  write_text(dir / "EX-1.acquire.log", "Write block: BLKROSET on /dev/sdz <ok>\n");
  // A tiny valid PNG (1x1) as the artefact file of 000001.
  static const unsigned char png[] = {
      0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
      0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00,
      0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78,
      0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99,
      0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
  write_text(dir / "carve/artefacts/png/000001.png",
             std::string(reinterpret_cast<const char*>(png), sizeof png));
  std::string lines;
  lines += json{{"id", "000001"},
                {"type", "png"},
                {"state", "deleted"},
                {"path", "/DCIM/<img src=x onerror=window.pwned=1>.png"},
                {"file", "artefacts/png/000001.png"},
                {"size", sizeof png},
                {"md5", "m1"},
                {"sha256", "s1"},
                {"volume", 0},
                {"fs", "ext4"},
                {"inode", 12},
                {"mtime", "2021-03-04T05:06:08Z"},
                {"atime", "2021-03-04T05:06:08Z"},
                {"ctime", "2022-01-01T00:00:00Z"},
                {"crtime", nullptr},
                {"valid", true},
                {"extension_mismatch", false},
                {"warnings", json::array()},
                {"known", {{"set", "Graded"}, {"category", "1"}, {"ignorable", false}}}}
               .dump() +
           "\n";
  lines += json{{"id", "000002"},
                {"type", "jpeg"},
                {"state", "carved"},
                {"path", nullptr},
                {"file", "../../etc/passwd"},
                {"size", 10},
                {"md5", "m2"},
                {"sha256", "s2"},
                {"volume", nullptr},
                {"fs", nullptr},
                {"inode", nullptr},
                {"byte_runs", json::array({{{"img_offset", 4096}, {"len", 10}}})},
                {"known", {{"set", "Graded"}, {"category", "1"}, {"ignorable", false}}}}
               .dump() +
           "\n";
  lines += json{{"id", "000003"},
                {"type", "sqlite"},
                {"state", "allocated"},
                {"path", "/data/mmssms.db"},
                {"file", "artefacts/sqlite/000003.sqlite"},
                {"app", "android_sms"},
                {"reader", "android_sms"},
                {"messages", 2},
                {"recovered", 1},
                {"encrypted", false},
                {"errors", json::array({"bad page 7"})}}
               .dump() +
           "\n";
  lines += "{not json\n";
  write_text(dir / "carve/report.jsonl", lines);
  write_text(
      dir / "carve/summary.json",
      json{{"artefacts", 3},
           {"files_examined", 40},
           {"errors",
            json::array(
                {{{"where", "volume 1"}, {"message", "cannot open <fs>"}, {"img_offset", 512}}})}}
          .dump());
  write_text(dir / "carve/messages.jsonl", json{{"app", "android_sms"},
                                                {"db", "000003"},
                                                {"db_path", "/data/mmssms.db"},
                                                {"table", "sms"},
                                                {"row", 1},
                                                {"conversation", "1"},
                                                {"timestamp", "2025-11-29T07:06:40Z"},
                                                {"direction", "received"},
                                                {"sender", "+447700900001"},
                                                {"recipients", json::array()},
                                                {"body",
                                                 "hi <script>window.pwned=2</script> \xe2\x80\xae"
                                                 "gnp.exe"},
                                                {"attachments", json::array()},
                                                {"recovered", false}}
                                                   .dump() +
                                               "\n" +
                                               json{{"app", "android_sms"},
                                                    {"db", "000003"},
                                                    {"db_path", "/data/mmssms.db"},
                                                    {"table", "sms"},
                                                    {"row", nullptr},
                                                    {"conversation", "1"},
                                                    {"timestamp", "2025-11-29T07:07:40Z"},
                                                    {"direction", "sent"},
                                                    {"sender", ""},
                                                    {"recipients", json::array({"+447700900001"})},
                                                    {"body", "=HYPERLINK(\"http://x\")"},
                                                    {"attachments", json::array()},
                                                    {"recovered", true},
                                                    {"location", "freeblock"}}
                                                   .dump() +
                                               "\n");
}

}  // namespace

TEST_CASE("report: ISO 8601 parsing and base64", "[report]") {
  auto t = rp::parse_iso8601("2021-03-04T05:06:08Z");
  REQUIRE(t);
  CHECK(t->seconds == 1614834368);
  CHECK(t->nanos == 0);
  t = rp::parse_iso8601("2021-03-04T05:06:08.25Z");
  REQUIRE(t);
  CHECK(t->nanos == 250000000);
  t = rp::parse_iso8601("2021-03-04 06:06:08+01:00");
  REQUIRE(t);
  CHECK(t->seconds == 1614834368);
  CHECK(rp::parse_iso8601("1969-12-31T23:59:59Z")->seconds == -1);
  CHECK_FALSE(rp::parse_iso8601("2021-02-30T00:00:00Z"));
  CHECK_FALSE(rp::parse_iso8601("2021-03-04T05:06:08Zjunk"));
  CHECK_FALSE(rp::parse_iso8601(""));
  CHECK(rp::base64("") == "");
  CHECK(rp::base64("f") == "Zg==");
  CHECK(rp::base64("fo") == "Zm8=");
  CHECK(rp::base64("foo") == "Zm9v");
  CHECK(rp::base64("foob") == "Zm9vYg==");
  CHECK(rp::base64(std::string("\xff\xfe\x00", 3)) == "//4A");
}

TEST_CASE("report: bodyfile lines and macb events", "[report]") {
  rp::FileRecord r;
  r.name = "/a|b\nc (deleted)";
  r.inode = "12";
  r.mode = rp::mode_for_type("file");
  r.size = 34;
  r.mtime = rp::UtcTime{100, 0};
  r.atime = rp::UtcTime{200, 0};
  r.ctime = rp::UtcTime{100, 0};
  CHECK(rp::bodyfile_line(r) == "0|/a^b^c (deleted)|12|r/r---------|0|0|34|200|100|100|0\n");
  CHECK(rp::mode_for_type("dir") == "d/d---------");
  std::vector<rp::Event> ev;
  rp::add_file_events(ev, r, "filesystem");
  REQUIRE(ev.size() == 2);
  CHECK(ev[0].macb == "m.c.");
  CHECK(ev[0].time.seconds == 100);
  CHECK(ev[1].macb == ".a..");
  CHECK(ev[1].detail == "34 bytes");

  std::ostringstream csv;
  rp::Event m;
  m.time = {1, 500000000};
  m.source = "message";
  m.detail = "=cmd|' /C calc'!A0";
  rp::write_csv(csv, {m});
  CHECK(csv.str() ==
        "\xEF\xBB\xBFtime,macb,source,what,path,state,filesystem,inode,artefact,app,detail\r\n"
        "1970-01-01T00:00:01.5Z,,message,,,,,,,,'=cmd|' /C calc'!A0\r\n");
  std::ostringstream jl;
  rp::write_jsonl(jl, {m});
  auto j = json::parse(jl.str());
  CHECK(j["time"] == "1970-01-01T00:00:01.5Z");
  CHECK(j["unix"] == 1);
  CHECK(j["detail"] == "=cmd|' /C calc'!A0");

  auto e = rp::exif_event(json{{"id", "000009"},
                               {"path", "/DCIM/a.jpg"},
                               {"state", "allocated"},
                               {"type", "jpeg"},
                               {"inode", 5}},
                          "DateTimeOriginal", "2020:01:02 03:04:05");
  REQUIRE(e);
  CHECK(e->time.seconds == 1577934245);
  CHECK(e->source == "exif");
  CHECK(e->what == "EXIF DateTimeOriginal (camera clock)");
  CHECK(e->inode == "5");
  CHECK_FALSE(rp::exif_event(json::object(), "DateTime", "    :  :     :  :  "));
}

TEST_CASE("report: locating and loading an evidence folder", "[report]") {
  TempDir t;
  make_folder(t.path());
  auto f = rp::locate(t.path());
  CHECK(f.carve_dir == t.path() / "carve");
  REQUIRE(f.acquire_record);
  CHECK(f.acquire_record->filename() == "EX-1.acquire.json");
  REQUIRE(f.acquire_log);
  CHECK_FALSE(f.image);  // no E01 in the hand-made folder
  CHECK(rp::locate(t.path() / "carve").carve_dir == t.path() / "carve");
  auto ev = rp::load(f);
  CHECK(ev.artefacts.size() == 3);
  CHECK(ev.messages.size() == 2);
  REQUIRE(ev.problems.size() == 1);
  CHECK(ev.problems[0].find("report.jsonl: line 4 is not a JSON object") != std::string::npos);
  CHECK(rp::case_reference(ev) == "OP-<b>X</b>");
  CHECK(rp::exhibit_reference(ev) == "EX-1");
  std::filesystem::create_directories(t / "empty");
  CHECK_THROWS_AS(rp::locate(t / "empty"), rp::ReportError);
  CHECK_THROWS_AS(rp::locate(t / "missing"), rp::ReportError);

  auto events = rp::artefact_events(ev);
  auto msgs = rp::message_events(ev);
  CHECK(events.size() == 2);  // 000001: m+a together, c; 000002 carved, 000003 no times
  REQUIRE(msgs.size() == 2);
  CHECK(msgs[1].state == "recovered");
  CHECK(msgs[1].detail == "(owner) to +447700900001: =HYPERLINK(\"http://x\")");
}

TEST_CASE("report: HTML of a folder with hostile names is escaped and complete", "[report]") {
  TempDir t;
  make_folder(t.path());
  auto ev = rp::load(rp::locate(t.path()));
  rp::HtmlOptions o;
  o.generated_at = "2026-12-07T10:00:00Z";
  o.tool_version = "safehold test";
  const std::string html = rp::render_html(ev, o);
  // Nothing from the evidence becomes markup.
  CHECK(html.find("<img src=x") == std::string::npos);
  CHECK(html.find("<script>alert") == std::string::npos);
  CHECK(html.find("<script>window") == std::string::npos);
  CHECK(html.find("<b>X</b>") == std::string::npos);
  CHECK(html.find("&lt;img src=x onerror=window.pwned=1&gt;.png") != std::string::npos);
  CHECK(html.find("OP-&lt;b&gt;X&lt;/b&gt;") != std::string::npos);
  CHECK(html.find("DC &quot;Quote&quot; &amp; Co") != std::string::npos);
  CHECK(html.find("S\\x01N") != std::string::npos);
  CHECK(html.find("\\u{202e}gnp.exe") != std::string::npos);
  CHECK(count(html, "<script") == 1);  // the page's own, allowed by its hash only
  CHECK(html.find("Content-Security-Policy\" content=\"default-src 'none'; img-src data:;") !=
        std::string::npos);
  CHECK(html.find("http://") == html.find("http://x"));  // no link but the evidence's text
  CHECK(html.find("https://") == std::string::npos);
  // Sections.
  for (auto id : {"case", "acquisition", "volumes", "summary", "known", "artefacts", "chats",
                  "timeline", "errors"})
    CHECK(html.find(std::string("id=\"") + id + "\"") != std::string::npos);
  CHECK(html.find("<h1>Examination report: exhibit EX-1</h1>") != std::string::npos);
  // Known sets: counts only, never the artefacts' names in that section.
  auto known = html.substr(html.find("id=\"known\""),
                           html.find("id=\"artefacts\"") - html.find("id=\"known\""));
  CHECK(known.find("<td>Graded</td><td>1</td><td>no</td><td>2</td>") != std::string::npos);
  CHECK(known.find("DCIM") == std::string::npos);
  // Artefacts by type with their states; no pictures without --thumbnails.
  CHECK(html.find("<h3 id=\"type-png\">png: 1 (deleted 1)</h3>") != std::string::npos);
  CHECK(html.find("<h3 id=\"type-jpeg\">jpeg: 1 (carved 1)</h3>") != std::string::npos);
  CHECK(count(html, "<img") == 0);
  CHECK(html.find("data-id=\"000001\" data-state=\"deleted\"") != std::string::npos);
  CHECK(html.find("image offset 4096") != std::string::npos);
  // Chats: the database and its two messages, one recovered.
  CHECK(html.find("android_sms: 2 messages (1 recovered)") != std::string::npos);
  CHECK(count(html, "<tr class=\"message\">") == 2);
  // Timeline: 2 artefact events + 2 messages, in time order.
  auto tl = html.substr(html.find("id=\"timeline-table\""));
  tl = tl.substr(0, tl.find("</table>"));
  CHECK(count(tl, "</td></tr>") == 2 + 2);
  CHECK(tl.find("2021-03-04T05:06:08Z") < tl.find("2022-01-01T00:00:00Z"));
  CHECK(tl.find("2022-01-01T00:00:00Z") < tl.find("2025-11-29T07:06:40Z"));
  // Errors: the malformed line, the carve error, the read error and the database error.
  CHECK(html.find("<p class=\"bad\" id=\"error-count\">4 error(s).</p>") != std::string::npos);
  CHECK(html.find("cannot open &lt;fs&gt;") != std::string::npos);

  o.thumbnails = true;
  const std::string with = rp::render_html(ev, o);
  CHECK(count(with, "<img class=\"thumb\"") == 1);  // the PNG; the jpeg's file is outside
  CHECK(with.find("src=\"data:image/png;base64,iVBORw0KGgo") != std::string::npos);
  CHECK(with.find("passwd") == std::string::npos);
}

TEST_CASE("report: output files are not replaced without force, and are 0600", "[report]") {
  TempDir t;
  rp::write_file(t / "r.html", "one", false);
  CHECK(safehold::test::read_text(t / "r.html") == "one");
  CHECK((std::filesystem::status(t / "r.html").permissions() & std::filesystem::perms::all) ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
  CHECK_THROWS_AS(rp::write_file(t / "r.html", "two", false), rp::OutputExists);
  rp::write_file(t / "r.html", "two", true);
  CHECK(safehold::test::read_text(t / "r.html") == "two");
  CHECK_FALSE(std::filesystem::exists(t / "r.html.part"));
  CHECK_THROWS_AS(rp::write_file(t / "no/such/dir/r.html", "x", false), rp::ReportError);

  // The one call `safehold work` needs after a carve: defaults filled, report replaced.
  make_folder(t / "ev");
  auto written = rp::write_report(t / "ev");
  CHECK(written == t / "ev/carve/report.html");
  const std::string html = safehold::test::read_text(written);
  CHECK(html.find("Report made</dt><dd>20") != std::string::npos);
  CHECK(html.find(" by safehold ") != std::string::npos);
  CHECK(rp::write_report(t / "ev") == written);
  CHECK_THROWS_AS(rp::write_report(t / "nothing"), rp::ReportError);
}
