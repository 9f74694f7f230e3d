// The examiner's report of one exhibit: one self-contained HTML file (inline CSS and script, no
// network, a Content-Security-Policy that allows nothing else), printable for a statement.
// Every evidence string is escaped (report::html_escape); pictures appear only when asked for,
// blurred until clicked.
#pragma once

#include <cstdint>
#include <string>

#include "report/evidence.hpp"

namespace safehold::report {

struct HtmlOptions {
  bool thumbnails = false;                          // embed pictures (JPEG, PNG, GIF, BMP, WebP)
  uint64_t thumbnail_max_bytes = 16 * 1024 * 1024;  // larger pictures are not embedded
  std::string generated_at;                         // ISO 8601 UTC, shown in the header
  std::string tool_version;                         // "safehold 0.1.0"
  std::string case_override, exhibit_override;      // when the folder does not record them
};

std::string render_html(const Evidence& ev, const HtmlOptions& o);

}  // namespace safehold::report
