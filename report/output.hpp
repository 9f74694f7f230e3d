// Writing a report or timeline file: never over an existing file without `force`, mode 0600
// (files derived from evidence are the owner's only), complete or not at all (written beside as
// NAME.part, synced, then renamed).
#pragma once

#include <filesystem>
#include <string_view>

#include "report/evidence.hpp"

namespace safehold::report {

class OutputExists : public ReportError {
 public:
  using ReportError::ReportError;
};

// Throws OutputExists when the file exists and !force, ReportError when it cannot be written.
void write_file(const std::filesystem::path& path, std::string_view content, bool force);

}  // namespace safehold::report
