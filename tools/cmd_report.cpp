// `safehold report`: the examiner's HTML report of an evidence folder (glue: the image's
// description and verification come from fs/ and acquire/, the page from report/).
#include <fmt/core.h>

#include <ctime>
#include <iostream>

#include "acquire/acquire.hpp"
#include "base/format.hpp"
#include "base/json.hpp"
#include "base/version.hpp"
#include "fs/evidence.hpp"
#include "fs/json.hpp"
#include "report/html.hpp"
#include "report/output.hpp"
#include "tools/command.hpp"

namespace safehold::tools {
namespace {

struct ReportArgs {
  std::string dir, output, case_ref, exhibit;
  bool thumbnails = false, verify = false, no_image = false, force = false, json = false;
  unsigned threads = 0;
};

void run_report(const ReportArgs& a) {
  report::EvidenceFiles files;
  try {
    files = report::locate(a.dir);
  } catch (const report::ReportError& e) {
    fail(Exit::usage, e.what());
  }
  report::Evidence ev = report::load(files);
  if (files.image && !a.no_image) {
    try {
      ev.image = fs::describe(*fs::Evidence::open(*files.image));
    } catch (const fs::EvidenceError& e) {
      ev.problems.push_back(files.image->string() + ": cannot be opened: " + e.what());
    }
    if (a.verify) {
      try {
        ev.verification = acquire::verify(*files.image, a.threads).to_json();
      } catch (const std::exception& e) {
        ev.problems.push_back(files.image->string() + ": cannot be verified: " + e.what());
      }
    }
  } else if (a.verify) {
    fail(Exit::usage, a.dir + ": --verify needs the E01 in the evidence folder" +
                          std::string(a.no_image ? " and no --no-image" : ""));
  }
  report::HtmlOptions o;
  o.thumbnails = a.thumbnails;
  o.generated_at = base::iso8601(std::time(nullptr));
  o.tool_version = std::string("safehold ") + base::kVersion;
  o.case_override = a.case_ref;
  o.exhibit_override = a.exhibit;
  const std::filesystem::path out =
      a.output.empty() ? files.carve_dir / "report.html" : std::filesystem::path(a.output);
  try {
    report::write_file(out, report::render_html(ev, o), a.force);
  } catch (const report::OutputExists& e) {
    fail(Exit::usage, e.what());
  } catch (const report::ReportError& e) {
    fail(Exit::failed, e.what());
  }
  size_t errors = ev.problems.size();
  if (ev.summary.is_object() && ev.summary.contains("errors") && ev.summary["errors"].is_array())
    errors += ev.summary["errors"].size();
  if (a.json) {
    std::cout << base::dump({{"report", out.string()},
                             {"artefacts", ev.artefacts.size()},
                             {"messages", ev.messages.size()},
                             {"errors", errors},
                             {"thumbnails", a.thumbnails},
                             {"verified", ev.verification.is_object()
                                              ? nlohmann::json(ev.verification.value("ok", false))
                                              : nlohmann::json(nullptr)}},
                            2)
              << "\n";
    return;
  }
  fmt::print("Report: {} ({} artefacts, {} messages, {} errors{})\n", base::printable(out.string()),
             ev.artefacts.size(), ev.messages.size(), errors,
             a.thumbnails ? ", pictures embedded blurred" : "");
}

void register_report(CLI::App& app) {
  auto* c = app.add_subcommand(
      "report", "Write one self-contained HTML report of an exhibit's evidence folder");
  auto a = std::make_shared<ReportArgs>();
  c->add_option(
       "EVIDENCE_DIR", a->dir,
       "A device's evidence folder (as `safehold work` writes it) or a carve output folder")
      ->required();
  c->add_option("-o,--output", a->output, "HTML file to write (default: CARVE_DIR/report.html)");
  c->add_flag("--thumbnails", a->thumbnails,
              "Embed pictures (blurred until clicked); without it the report holds none");
  c->add_flag("--verify", a->verify, "Re-read the E01 and show the verification in the report");
  c->add_flag("--no-image", a->no_image,
              "Do not open the E01 (volumes and filesystems then come from the artefacts)");
  c->add_option("--case", a->case_ref, "Case reference when the folder does not record it");
  c->add_option("--exhibit", a->exhibit, "Exhibit reference when the folder does not record it");
  c->add_option("--threads", a->threads, "Threads for --verify (default: all cores)");
  c->add_flag("--force", a->force, "Replace an existing report file");
  c->add_flag("--json", a->json, "Print what was written as JSON");
  c->callback([a] { run_report(*a); });
}

Registrar reg(45, register_report);

}  // namespace
}  // namespace safehold::tools
