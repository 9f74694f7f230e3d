// The HTML report in headless Chromium (tests/common/browser.hpp), as
// tests/server/serve_browser_test.cpp does for the dashboard.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/common/browser.hpp"
#include "tests/report/sample.hpp"

using nlohmann::json;
using safehold::test::shell_quote;
namespace fsys = std::filesystem;

TEST_CASE("report: the HTML report in headless Chromium: offline, escaped, searchable, printable",
          "[report][browser][slow]") {
  const auto browser = safehold::test::require_browser();

  safehold::test::TempDir t("safehold-report-browser");
  auto s = safehold::test::make_sample_exhibit(t.path());
  safehold::test::must_run(shell_quote(safehold::test::safehold_binary()) + " report " +
                           shell_quote(s.evidence.string()) + " --thumbnails");
  const fsys::path html = s.evidence / "carve/report.html";
  const fsys::path shot = t / "report.png", pdf = t / "report.pdf";
  auto r = safehold::test::run_browser_script(
      browser, "tests/report/report_browser.cjs",
      {html.string(), shot.string(), pdf.string(), "messages-sms", "park"});
  INFO("node stdout: " << r.out << "\nnode stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  auto seen = json::parse(r.out);
  CHECK(seen.at("requests").empty());  // nothing but the file itself and its data: pictures
  CHECK(seen.at("console").empty());   // the CSP let the page's own script and style run
  CHECK(seen.at("pwned").is_null());   // no evidence string ran as script
  CHECK(seen.at("dialogs") == 0);
  CHECK(seen.at("h1") == "Examination report: exhibit EX-1");
  CHECK(seen.at("h2") == json{"Acquisition", "Volumes and filesystems", "Summary",
                              "Known-set matches", "Artefacts", "Chats", "Timeline", "Errors"});
  // Pictures: embedded, every one blurred; a click shows one, a second click blurs it again.
  CHECK(seen.at("images").get<int>() >= 4);
  CHECK(seen.at("blurred") == seen.at("images"));
  CHECK(seen.at("clicked_filter") == "none");
  CHECK(seen.at("image_loaded") == true);
  CHECK(seen.at("reclicked_filter").get<std::string>().find("blur") != std::string::npos);
  // Search: one of the three messages mentions the park.
  CHECK(seen.at("rows_total") == 3);
  CHECK(seen.at("rows_shown") == 1);
  CHECK(seen.at("count_text") == "1 of 3 shown");
  REQUIRE(seen.at("shown_text").size() == 1);
  CHECK(seen.at("shown_text")[0].get<std::string>().find("meet at the park") != std::string::npos);
  // Print: no search boxes or navigation, every row printed even when filtered on screen.
  CHECK(seen.at("print_filter_display") == "none");
  CHECK(seen.at("print_nav_display") == "none");
  CHECK(seen.at("print_rows_shown") == 3);
  REQUIRE(fsys::file_size(pdf) > 10000);
  CHECK(safehold::test::read_text(pdf).rfind("%PDF-", 0) == 0);

  REQUIRE(fsys::file_size(shot) > 10000);
  safehold::test::keep_artifact(shot, "report.png");
  safehold::test::keep_artifact(pdf, "report.pdf");
}
