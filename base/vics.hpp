// VICS 2.0 JSON documents from carve output directories (report.jsonl, docs/carve.md): the flat
// Project VIC `#Media` list and the UK `#Cases` shape, with duplicates across devices merged into
// one Media, exhibits from the acquisition records and categories from grades. Shared by
// `safehold export --vics` (export/) and the server's per-case export of graded cases (server/),
// which may not use export/ (docs/ARCHITECTURE.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace safehold::base {

// A carve directory that cannot be exported (no report.jsonl, a malformed line...).
class VicsError : public std::runtime_error {
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
// {"<md5 or sha1>": <whole number 0-4>, ...}; 0 means "not graded". Throws VicsError.
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
}  // namespace safehold::base
