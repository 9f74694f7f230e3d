// VICS 2.0 JSON from report.jsonl files (schema of `safehold carve`, docs/carve.md): the document
// builder shared by `safehold export --vics` (export/) and the server's per-case export (server/).
#include "base/vics.hpp"

#include <fmt/chrono.h>
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include "base/exif.hpp"

namespace safehold::base {

namespace {

const char* kVicsContext =
    "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/Default/$metadata#Media";

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

nlohmann::json str_or_null(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? *it : nlohmann::json();
}

// The artefact's file under the carve directory, refusing paths that leave it.
std::optional<std::filesystem::path> artefact_path(const std::filesystem::path& dir,
                                                   const std::string& rel) {
  std::filesystem::path p(rel);
  if (rel.empty() || p.is_absolute()) return std::nullopt;
  for (auto& part : p)
    if (part == "..") return std::nullopt;
  return dir / p;
}

std::vector<uint8_t> read_head(const std::filesystem::path& p, size_t max) {
  std::ifstream in(p, std::ios::binary);
  std::vector<uint8_t> buf(max);
  in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(max));
  buf.resize(static_cast<size_t>(std::max<std::streamsize>(0, in.gcount())));
  return buf;
}

bool is_media(const nlohmann::json& a) {
  std::string mime = str(a, "mime");
  return mime.empty() || mime.starts_with("image/") || mime.starts_with("video/");
}

}  // namespace

std::vector<std::string> device_labels(const std::vector<std::filesystem::path>& dirs) {
  std::vector<std::string> out;
  std::set<std::string> used;
  for (auto& d : dirs) {
    auto name = std::filesystem::weakly_canonical(d).filename().string();
    std::string clean;
    for (char c : name)
      clean += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_')
                   ? c
                   : '_';
    if (clean.empty() || clean == "." || clean == "..") clean = "device";
    std::string label = clean;
    for (int n = 2; used.count(label); ++n) label = fmt::format("{}-{}", clean, n);
    used.insert(label);
    out.push_back(label);
  }
  return out;
}

namespace {

const char* kUkContext = "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml#Cases";

struct Source {
  std::filesystem::path dir;
  std::string label;     // device label (folder name): Comments of the flat shape only
  std::string exhibit;   // exhibit reference, "" when unknown
  std::string case_ref;  // case number from the acquisition record
};

std::vector<Source> sources(const std::vector<std::filesystem::path>& dirs,
                            const VicsOptions& opts) {
  if (!opts.exhibits.empty() && opts.exhibits.size() != dirs.size())
    throw VicsError(fmt::format("--exhibit: {} given for {} carve directories (one each)",
                                opts.exhibits.size(), dirs.size()));
  auto labels = device_labels(dirs);
  std::vector<Source> out;
  for (size_t i = 0; i < dirs.size(); ++i) {
    auto ex = find_exhibit(dirs[i]);
    out.push_back(
        {dirs[i], labels[i], opts.exhibits.empty() ? ex.reference : opts.exhibits[i], ex.case_ref});
  }
  return out;
}

nlohmann::json media_file(const nlohmann::json& a, const Source& src, const VicsOptions& opts) {
  std::string state = str(a, "state"), path = str(a, "path"), file = str(a, "file");
  nlohmann::json mf;
  mf["MD5"] = upper(str(a, "md5"));
  if (!path.empty()) {
    auto slash = path.find_last_of('/');
    mf["FileName"] = slash == std::string::npos ? path : path.substr(slash + 1);
    mf["FilePath"] = path;
  } else {
    mf["FileName"] = std::filesystem::path(file).filename().string();
    std::string where = "carved";
    if (auto runs = a.find("byte_runs");
        runs != a.end() && runs->is_array() && !runs->empty() && (*runs)[0].contains("img_offset"))
      where += fmt::format(" at image offset {}", (*runs)[0]["img_offset"].dump());
    mf["FilePath"] = where;
  }
  mf["Created"] = str_or_null(a, "crtime");
  mf["Written"] = str_or_null(a, "mtime");
  mf["Accessed"] = str_or_null(a, "atime");
  mf["Unallocated"] = state != "allocated";
  if (opts.shape == VicsShape::uk_cases) mf["Deleted"] = state == "deleted" || state == "orphan";
  mf["SourceID"] = src.exhibit.empty() ? src.label : src.exhibit;
  return mf;
}

// The category: the grades file first (by MD5, then SHA-1), else a known set's numeric category.
std::pair<int, bool> category_of(const nlohmann::json& a, const Grades& grades) {
  for (const char* h : {"md5", "sha1"}) {
    std::string d = str(a, h);
    for (auto& c : d) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (auto g = grades.find(d); !d.empty() && g != grades.end()) return {g->second, g->second > 0};
  }
  if (auto k = a.find("known"); k != a.end() && k->is_object()) {
    std::string c = str(*k, "category");
    if (!c.empty() && c.find_first_not_of("0123456789") == std::string::npos && c.size() < 6)
      return {std::stoi(c), std::stoi(c) > 0};
  }
  return {0, false};
}

nlohmann::json exifs_of(const nlohmann::json& a, const std::filesystem::path& dir) {
  nlohmann::json exifs = nlohmann::json::array();
  if (auto e = a.find("exif"); e != a.end() && e->is_object()) {
    for (auto& [k, v] : e->items())
      exifs.push_back({{"PropertyName", k},
                       {"PropertyValue", v.is_string() ? v.get<std::string>() : v.dump()}});
  } else if (str(a, "type") == "jpeg") {
    if (auto p = artefact_path(dir, str(a, "file")))
      for (auto& [k, v] : read_exif(read_head(*p, 256 << 10)))
        exifs.push_back({{"PropertyName", k}, {"PropertyValue", v}});
  }
  return exifs;
}

nlohmann::json new_media(const nlohmann::json& a, size_t id, const std::string& date,
                         const std::filesystem::path& dir, const VicsOptions& opts) {
  nlohmann::json m;
  m["MediaID"] = id;
  auto [category, graded] = category_of(a, opts.grades);
  // Ungraded: null, not 0. IPED's HashDBTool maps Category 0 to status "known", and files whose
  // only status is "known" are excluded from an IPED case: new material must not be hidden.
  m["Category"] = graded ? nlohmann::json(category) : nlohmann::json();
  // An empty MD5 or SHA1 string makes IPED's reader fail (null hash): absent ones are left out.
  for (auto [key, field] : {std::pair{"md5", "MD5"}, std::pair{"sha1", "SHA1"}})
    if (std::string d = str(a, key); !d.empty()) m[field] = upper(d);
  m["MediaSize"] = a.value("size", nlohmann::json(0));
  m["DateUpdated"] = date;
  m["IsPrecategorized"] = graded;
  m["IsDistributed"] = nullptr;
  m["Series"] = nullptr;
  m["VictimIdentified"] = nullptr;
  m["OffenderIdentified"] = nullptr;
  m["Tags"] = graded ? nlohmann::json() : nlohmann::json("Ungraded");
  m["Comments"] = nullptr;
  nlohmann::json alt = nlohmann::json::array();
  if (std::string sha256 = str(a, "sha256"); !sha256.empty())
    alt.push_back({{"HashName", "SHA256"}, {"HashValue", upper(sha256)}});
  if (std::string pdq = str(a, "pdq"); !pdq.empty())
    alt.push_back({{"HashName", "PDQ"}, {"HashValue", pdq}});
  m["AlternativeHashes"] = alt;
  m["Exifs"] = exifs_of(a, dir);
  m["MediaFiles"] = nlohmann::json::array();
  return m;
}

struct Builder {
  Builder(const VicsOptions& o, std::string d) : opts(o), date(std::move(d)) {}
  const VicsOptions& opts;
  std::string date;
  VicsStats st;
  nlohmann::json value = nlohmann::json::array();
  std::unordered_map<std::string, size_t> by_hash;  // md5 (or sha1) -> index in value
  std::vector<std::set<std::string>> devices_of;

  void add(const nlohmann::json& a, const Source& src) {
    ++st.artefacts;
    if (!is_media(a)) return;
    std::string md5 = str(a, "md5"), sha1 = str(a, "sha1");
    std::string key = !md5.empty() ? "md5:" + md5 : !sha1.empty() ? "sha1:" + sha1 : "";
    if (key.empty()) {
      ++st.skipped;
      return;
    }
    auto [it, fresh] = by_hash.emplace(key, value.size());
    if (fresh) {
      value.push_back(new_media(a, value.size() + 1, date, src.dir, opts));
      devices_of.emplace_back();
    } else {
      ++st.merged;
    }
    value[it->second]["MediaFiles"].push_back(media_file(a, src, opts));
    devices_of[it->second].insert(src.exhibit.empty() ? src.label : src.exhibit);
  }

  void read(const Source& src) {
    auto report = src.dir / "report.jsonl";
    std::ifstream in(report);
    if (!in)
      throw VicsError(
          fmt::format("{}: no report.jsonl (not a carve output directory)", src.dir.string()));
    std::string line;
    for (uint64_t n = 1; std::getline(in, line); ++n) {
      if (line.empty()) continue;
      auto a = nlohmann::json::parse(line, nullptr, false);
      if (a.is_discarded() || !a.is_object())
        throw VicsError(fmt::format("{}: line {}: not a JSON object", report.string(), n));
      add(a, src);
    }
  }

  void finish() {
    for (size_t i = 0; i < value.size(); ++i) {
      if (value[i]["IsPrecategorized"] == true)
        ++st.graded;
      else
        ++st.ungraded;
      if (devices_of[i].size() < 2) continue;
      std::string list;
      for (auto& d : devices_of[i]) list += (list.empty() ? "" : ", ") + d;
      value[i]["Comments"] = "Found on devices: " + list;
    }
    st.media = value.size();
  }
};

// The case reference of the UK header: --case, else the one the acquisition records agree on.
std::string case_reference(const std::vector<Source>& srcs, const VicsOptions& opts) {
  if (!opts.case_ref.empty()) return opts.case_ref;
  std::string found;
  for (auto& s : srcs) {
    if (s.case_ref.empty())
      throw VicsError(fmt::format(
          "{}: no case number (no acquisition record with case.case_number); give --case REF",
          s.dir.string()));
    if (!found.empty() && s.case_ref != found)
      throw VicsError(fmt::format(
          "{}: case number \"{}\" differs from \"{}\" of another directory; give --case REF",
          s.dir.string(), s.case_ref, found));
    found = s.case_ref;
  }
  return found;
}

nlohmann::json uk_cases(const std::vector<Source>& srcs, const VicsOptions& opts,
                        nlohmann::json media, const std::string& date) {
  for (auto& s : srcs)
    if (s.exhibit.empty())
      throw VicsError(
          fmt::format("{}: no exhibit reference (no <exhibit>.acquire.json beside it); give "
                      "--exhibit REF once per CARVE_DIR",
                      s.dir.string()));
  for (auto& m : media) m.erase("Comments");
  nlohmann::json c;
  c["CaseNumber"] = case_reference(srcs, opts);
  c["SourceApplicationName"] = "Safehold";
  c["DateCreated"] = date;
  c["TotalMedia"] = media.size();
  c["Media"] = std::move(media);
  return {{"odata.metadata", kUkContext}, {"value", nlohmann::json::array({std::move(c)})}};
}

}  // namespace

nlohmann::json build_vics(const std::vector<std::filesystem::path>& carve_dirs,
                          const std::string& date_updated, VicsStats* stats,
                          const VicsOptions& opts) {
  auto srcs = sources(carve_dirs, opts);
  Builder b(opts, date_updated);
  for (auto& s : srcs) b.read(s);
  b.finish();
  if (stats) *stats = b.st;
  if (opts.shape == VicsShape::uk_cases)
    return uk_cases(srcs, opts, std::move(b.value), date_updated);
  return {{"@odata.context", kVicsContext}, {"value", std::move(b.value)}};
}

}  // namespace safehold::base
