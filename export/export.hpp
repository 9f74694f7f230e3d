// Exports of carve output directories (one per device of a case): Project VIC VICS 2.0 JSON for
// grading tools and national databases (the document is base/vics.hpp's), written atomically;
// and self-checking evidence bundles: one .tar.zst stream (multi-threaded zstd) holding every
// file of the directories and MANIFEST.sha256 (sha256sum format) listing each file's SHA-256.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/vics.hpp"

namespace safehold::exports {

using ExportError = base::VicsError;
using base::build_vics;
using base::device_labels;
using base::Exhibit;
using base::find_exhibit;
using base::Grades;
using base::read_grades;
using base::VicsOptions;
using base::VicsShape;
using base::VicsStats;

// Writes OUT atomically; refuses an existing OUT without opts.force and an OUT inside an input.
VicsStats write_vics(const std::vector<std::filesystem::path>& carve_dirs,
                     const std::filesystem::path& out, const VicsOptions& opts = {});

inline constexpr const char* kManifestName = "MANIFEST.sha256";
inline constexpr const char* kExhibitsName = "EXHIBITS.json";

struct BundleOptions {
  int level = 3;         // zstd level
  unsigned threads = 0;  // zstd workers; 0: one per core
  std::function<void(uint64_t bytes_done)> progress;
};
struct BundleStats {
  uint64_t files = 0;      // files stored (without the manifest)
  uint64_t bytes_in = 0;   // their total size
  uint64_t bytes_out = 0;  // size of the .tar.zst
};
// Writes OUT atomically (OUT.partial renamed at the end). Each device's acquisition records go
// under DEVICE/acquisition/, and EXHIBITS.json names each device's exhibit and case.
// Throws ExportError / runtime_error.
BundleStats write_bundle(const std::vector<std::filesystem::path>& carve_dirs,
                         const std::filesystem::path& out, const BundleOptions& opts = {});

struct VerifyResult {
  uint64_t files = 0;                 // files read from the bundle (without the manifest)
  uint64_t listed = 0;                // files the manifest lists
  std::vector<std::string> problems;  // one sentence each; empty when the bundle is intact
  bool ok() const { return problems.empty(); }
};
// Reads the whole stream once, hashing every file and checking it against the manifest:
// corrupt or truncated streams, changed, missing and unlisted files are all reported.
VerifyResult verify_bundle(const std::filesystem::path& bundle);

}  // namespace safehold::exports
