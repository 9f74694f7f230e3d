// Exhibit references from acquisition records, and the grades file of `export --vics`.
#include <fmt/core.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "base/vics.hpp"

namespace safehold::base {

namespace {

const std::string kRecordSuffix = ".acquire.json";

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The folder holding the acquisition record: the directory, or its parent for `.../carve`.
std::vector<std::filesystem::path> record_folders(const std::filesystem::path& carve_dir) {
  std::vector<std::filesystem::path> out{carve_dir};
  auto canon = std::filesystem::weakly_canonical(carve_dir);
  if (canon.filename() == "carve") out.push_back(canon.parent_path());
  return out;
}

std::optional<std::filesystem::path> first_record(const std::filesystem::path& folder) {
  std::vector<std::filesystem::path> found;
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator(folder, ec))
    if (e.is_regular_file(ec) && ends_with(e.path().filename().string(), kRecordSuffix))
      found.push_back(e.path());
  if (found.empty()) return std::nullopt;
  return *std::min_element(found.begin(), found.end());
}

std::string case_field(const nlohmann::json& rec, const char* key) {
  if (!rec.is_object() || !rec.contains("case") || !rec["case"].is_object()) return "";
  auto it = rec["case"].find(key);
  return it != rec["case"].end() && it->is_string() ? it->get<std::string>() : "";
}

bool is_hex_digest(const std::string& s) {
  return (s.size() == 32 || s.size() == 40) &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c); });
}

}  // namespace

Exhibit find_exhibit(const std::filesystem::path& carve_dir) {
  Exhibit ex;
  for (auto& folder : record_folders(carve_dir)) {
    auto rec = first_record(folder);
    if (!rec) continue;
    std::ifstream in(*rec);
    auto j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      throw VicsError(fmt::format("{}: not a JSON object (acquisition record)", rec->string()));
    std::string name = rec->filename().string();
    ex.reference = case_field(j, "evidence_number");
    if (ex.reference.empty()) ex.reference = name.substr(0, name.size() - kRecordSuffix.size());
    ex.case_ref = case_field(j, "case_number");
    ex.records.push_back(*rec);
    auto log = rec->string();
    log.resize(log.size() - std::string(".json").size());
    log += ".log";
    if (std::filesystem::is_regular_file(log)) ex.records.push_back(log);
    break;
  }
  return ex;
}

Grades read_grades(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw VicsError(fmt::format("{}: cannot read the grades file", file.string()));
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw VicsError(fmt::format("{}: not a JSON object of hash to category (e.g. {{\"<md5>\": 1}})",
                                file.string()));
  Grades g;
  for (auto& [k, v] : j.items()) {
    if (!is_hex_digest(k))
      throw VicsError(
          fmt::format("{}: key \"{}\" is not an MD5 or SHA-1 hex digest", file.string(), k));
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 4)
      throw VicsError(fmt::format("{}: category of {} is {}, not a whole number from 0 to 4",
                                  file.string(), k, v.dump()));
    std::string key = k;
    for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    g[key] = v.get<int>();
  }
  return g;
}

}  // namespace safehold::base
