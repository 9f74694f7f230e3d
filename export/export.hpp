// Exports of carve output directories (one per device of a case): Project VIC VICS 2.0 JSON for
// grading tools and national databases, with duplicates across devices merged into one Media;
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

namespace safehold::exports {

// A carve directory that cannot be exported (no report.jsonl, a malformed line...).
class ExportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Short names for the directories inside exports: their base names, made unique ("dev", "dev-2").
std::vector<std::string> device_labels(const std::vector<std::filesystem::path>& dirs);

struct VicsStats {
  uint64_t artefacts = 0;  // report lines read
  uint64_t media = 0;      // distinct Media written
  uint64_t merged = 0;     // artefacts folded into a Media seen before (same MD5)
  uint64_t skipped = 0;    // artefacts without MD5 or SHA-1
  uint64_t graded = 0;     // Media with a category from the grades file or a known set
  uint64_t ungraded = 0;   // Media written with Category 0 (not graded)
};

// The two shapes consumers read: the flat Project VIC 2.0 `#Media` list (IPED's import) and the
// UK `#Cases` shape with a case header around the Media (CAID uploads).
enum class VicsShape { media, uk_cases };

// The exhibit a carve directory came from, read from the acquisition record beside it
// (`<exhibit>.acquire.json` in the directory, or in its parent when the directory is `carve/`
// of an evidence folder as `safehold work` lays it out).
struct Exhibit {
  std::string reference;  // the record's case.evidence_number, else its name before .acquire.json
  std::string case_ref;   // the record's case.case_number, or ""
  std::vector<std::filesystem::path> records;  // the .acquire.json and .acquire.log found
};
Exhibit find_exhibit(const std::filesystem::path& carve_dir);

// Categories decided by people, keyed by lower-case MD5 or SHA-1 hex. Read from a JSON object
// {"<md5 or sha1>": <whole number 0-4>, ...}; 0 means "not graded". Throws ExportError.
using Grades = std::map<std::string, int>;
Grades read_grades(const std::filesystem::path& file);

struct VicsOptions {
  VicsShape shape = VicsShape::media;
  std::string case_ref;               // overrides the records' case number
  std::vector<std::string> exhibits;  // one per carve directory, overrides the records
  Grades grades;                      // take precedence over known-set categories
  bool force = false;                 // replace an existing output file
};

// Builds the VICS document. date_updated: ISO 8601 UTC written in every Media's DateUpdated.
nlohmann::json build_vics(const std::vector<std::filesystem::path>& carve_dirs,
                          const std::string& date_updated, VicsStats* stats = nullptr,
                          const VicsOptions& opts = {});
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
