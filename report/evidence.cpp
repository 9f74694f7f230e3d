#include "report/evidence.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "base/json.hpp"

namespace safehold::report {

namespace fsys = std::filesystem;
using nlohmann::json;

namespace {

bool is_carve_dir(const fsys::path& d) {
  std::error_code ec;
  return fsys::is_regular_file(d / "report.jsonl", ec) ||
         fsys::is_regular_file(d / "summary.json", ec);
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::optional<std::string> read_all(const fsys::path& p, std::vector<std::string>& problems) {
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    problems.push_back(p.string() + ": cannot be read");
    return std::nullopt;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json read_json(const fsys::path& p, std::vector<std::string>& problems) {
  auto text = read_all(p, problems);
  if (!text) return nullptr;
  auto j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    problems.push_back(p.string() + ": not a JSON object");
    return nullptr;
  }
  return j;
}

std::vector<json> read_jsonl(const fsys::path& p, std::vector<std::string>& problems) {
  std::vector<json> out;
  std::error_code ec;
  if (!fsys::exists(p, ec)) return out;
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    problems.push_back(p.string() + ": cannot be read");
    return out;
  }
  std::string line;
  size_t no = 0;
  while (std::getline(in, line)) {
    ++no;
    if (line.empty()) continue;
    auto j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      problems.push_back(p.string() + ": line " + std::to_string(no) + " is not a JSON object");
    else
      out.push_back(std::move(j));
  }
  return out;
}

}  // namespace

EvidenceFiles locate(const fsys::path& dir) {
  std::error_code ec;
  if (!fsys::is_directory(dir, ec))
    throw ReportError(dir.string() + ": not a folder (give an evidence folder or a carve output)");
  EvidenceFiles f;
  f.dir = dir;
  if (is_carve_dir(dir / "carve"))
    f.carve_dir = dir / "carve";
  else if (is_carve_dir(dir))
    f.carve_dir = dir;
  else
    throw ReportError(dir.string() +
                      ": no carve output in it (neither report.jsonl nor carve/report.jsonl)");
  // The acquisition's files beside carve/: <exhibit>.acquire.json, .acquire.log, .E01. One
  // exhibit per folder; with several, the first by name is taken (deterministic).
  std::vector<fsys::path> records;
  for (auto& e : fsys::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file(ec) && ends_with(name, ".acquire.json")) records.push_back(e.path());
  }
  std::sort(records.begin(), records.end());
  if (!records.empty()) {
    f.acquire_record = records.front();
    std::string base = records.front().string();
    base.resize(base.size() - std::string(".acquire.json").size());
    if (fsys::is_regular_file(base + ".acquire.log", ec)) f.acquire_log = base + ".acquire.log";
    if (fsys::is_regular_file(base + ".E01", ec)) f.image = base + ".E01";
  }
  if (!f.image) {
    std::vector<fsys::path> e01s;
    for (auto& e : fsys::directory_iterator(dir, ec))
      if (e.is_regular_file(ec) && e.path().extension() == ".E01") e01s.push_back(e.path());
    std::sort(e01s.begin(), e01s.end());
    if (!e01s.empty()) f.image = e01s.front();
  }
  return f;
}

Evidence load(const EvidenceFiles& files) {
  Evidence ev;
  ev.files = files;
  ev.acquisition = nullptr;
  ev.summary = nullptr;
  ev.image = nullptr;
  ev.verification = nullptr;
  if (files.acquire_record) ev.acquisition = read_json(*files.acquire_record, ev.problems);
  if (files.acquire_log)
    ev.acquisition_log = read_all(*files.acquire_log, ev.problems).value_or("");
  std::error_code ec;
  const fsys::path summary = files.carve_dir / "summary.json";
  if (fsys::exists(summary, ec))
    ev.summary = read_json(summary, ev.problems);
  else
    ev.problems.push_back(summary.string() + ": missing (the carve did not finish?)");
  ev.artefacts = read_jsonl(files.carve_dir / "report.jsonl", ev.problems);
  ev.messages = read_jsonl(files.carve_dir / "messages.jsonl", ev.problems);
  return ev;
}

std::string str(const json& j, const char* key, const std::string& dflt) {
  if (!j.is_object()) return dflt;
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : dflt;
}

std::string text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return base::dump(v);
}

std::string case_reference(const Evidence& ev) {
  if (ev.acquisition.is_object() && ev.acquisition.contains("case")) {
    auto c = str(ev.acquisition["case"], "case_number");
    if (!c.empty()) return c;
  }
  if (ev.image.is_object() && ev.image.contains("ewf")) return str(ev.image["ewf"], "case_number");
  return "";
}

std::string exhibit_reference(const Evidence& ev) {
  if (ev.acquisition.is_object() && ev.acquisition.contains("case")) {
    auto c = str(ev.acquisition["case"], "evidence_number");
    if (!c.empty()) return c;
  }
  if (ev.image.is_object() && ev.image.contains("ewf"))
    return str(ev.image["ewf"], "evidence_number");
  return "";
}

}  // namespace safehold::report
