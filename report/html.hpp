// The examiner's report of one exhibit: one self-contained HTML file (inline CSS and script, no
// network, a Content-Security-Policy that allows nothing else), printable for a statement.
// Every evidence string is escaped (base::markup_escape); pictures appear only when asked for,
// blurred until clicked.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "report/evidence.hpp"

namespace safehold::report {

struct HtmlOptions {
  bool thumbnails = false;                          // embed pictures (JPEG, PNG, GIF, BMP, WebP)
  uint64_t thumbnail_max_bytes = 16 * 1024 * 1024;  // larger pictures are not embedded
  std::string generated_at;                     // ISO 8601 UTC, shown in the header (default: now)
  std::string tool_version;                     // default "safehold <version>"
  std::string case_override, exhibit_override;  // when the folder does not record them
};

std::string render_html(const Evidence& ev, const HtmlOptions& o);

// The whole step for a caller that has just carved an evidence folder (`safehold work`): locate,
// load, render and write CARVE_DIR/report.html (replacing it). `image` is `safehold info --json`
// of the image (fs::describe) when the caller has it open, else null. Returns the file written;
// throws ReportError.
std::filesystem::path write_report(const std::filesystem::path& evidence_dir,
                                   const HtmlOptions& o = {},
                                   const nlohmann::json& image = nullptr);

}  // namespace safehold::report
