// An evidence folder as `safehold work` writes it (<exhibit>.E01, <exhibit>.acquire.json and .log,
// carve/{report.jsonl, summary.json, messages.jsonl, artefacts/…}) or a bare `safehold carve`
// output folder, read from its files: report/ never sees acquire's or carve's types, so a report
// can be made wherever the folder is copied.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace safehold::report {

// The folder cannot be used at all (no carve output in it): one sentence naming it.
class ReportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct EvidenceFiles {
  std::filesystem::path dir;        // as given
  std::filesystem::path carve_dir;  // dir/carve, or dir itself when it is a carve output
  std::optional<std::filesystem::path> acquire_record;  // <exhibit>.acquire.json
  std::optional<std::filesystem::path> acquire_log;     // <exhibit>.acquire.log
  std::optional<std::filesystem::path> image;           // <exhibit>.E01 (first segment)
};

// Finds the files of an evidence folder. Throws ReportError when it holds no carve output
// (neither report.jsonl nor summary.json, in it or in its carve/ folder).
EvidenceFiles locate(const std::filesystem::path& dir);

struct Evidence {
  EvidenceFiles files;
  nlohmann::json acquisition;             // the acquire record, or null
  std::string acquisition_log;            // the person-readable log, or ""
  nlohmann::json summary;                 // summary.json, or null
  std::vector<nlohmann::json> artefacts;  // report.jsonl, one object a line, in file order
  std::vector<nlohmann::json> messages;   // messages.jsonl
  // `safehold info --json` of the image (volumes, filesystems, EWF metadata), given by a caller
  // that could open it; null otherwise. `verification`: `safehold verify --json` when run.
  nlohmann::json image;
  nlohmann::json verification;
  std::vector<std::string> problems;  // unreadable or malformed inputs, one sentence each
};

// Reads every file locate() found. Malformed lines and unreadable files are recorded in
// problems and the rest is read.
Evidence load(const EvidenceFiles& files);

// A string member of an object from evidence, or `dflt` when absent or not a string.
std::string str(const nlohmann::json& j, const char* key, const std::string& dflt = "");
// A JSON value as text for people: strings as they are, null as "", others dumped.
std::string text(const nlohmann::json& v);

// Case reference and exhibit: from the acquisition record, else the EWF metadata of the image,
// else "" (the caller may override them).
std::string case_reference(const Evidence& ev);
std::string exhibit_reference(const Evidence& ev);

}  // namespace safehold::report
