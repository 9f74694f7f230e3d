// VICS 2.0 JSON from report.jsonl files (schema of `safehold carve`, docs/carve.md).
#include <fmt/chrono.h>
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <unordered_map>

#include "base/json.hpp"
#include "export/exif.hpp"
#include "export/export.hpp"

namespace safehold::exports {

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

nlohmann::json build_vics(const std::vector<std::filesystem::path>& carve_dirs,
                          const std::string& date_updated, VicsStats* stats) {
  VicsStats st;
  nlohmann::json value = nlohmann::json::array();
  std::unordered_map<std::string, size_t> by_hash;  // md5 (or sha1) -> index in value
  std::vector<std::set<std::string>> devices_of;
  auto labels = device_labels(carve_dirs);

  for (size_t di = 0; di < carve_dirs.size(); ++di) {
    const auto& dir = carve_dirs[di];
    auto report = dir / "report.jsonl";
    std::ifstream in(report);
    if (!in)
      throw ExportError(
          fmt::format("{}: no report.jsonl (not a carve output directory)", dir.string()));
    std::string line;
    uint64_t n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (line.empty()) continue;
      auto a = nlohmann::json::parse(line, nullptr, false);
      if (a.is_discarded() || !a.is_object())
        throw ExportError(fmt::format("{}: line {}: not a JSON object", report.string(), n));
      ++st.artefacts;
      if (!is_media(a)) continue;
      std::string md5 = str(a, "md5"), sha1 = str(a, "sha1"), sha256 = str(a, "sha256");
      std::string key = !md5.empty() ? "md5:" + md5 : !sha1.empty() ? "sha1:" + sha1 : "";
      if (key.empty()) {
        ++st.skipped;
        continue;
      }
      std::string state = str(a, "state");
      std::string path = str(a, "path");
      std::string file = str(a, "file");
      nlohmann::json mf;
      mf["MD5"] = upper(md5);
      if (!path.empty()) {
        auto slash = path.find_last_of('/');
        mf["FileName"] = slash == std::string::npos ? path : path.substr(slash + 1);
        mf["FilePath"] = path;
      } else {
        mf["FileName"] = std::filesystem::path(file).filename().string();
        std::string where = "carved";
        if (auto runs = a.find("byte_runs"); runs != a.end() && runs->is_array() &&
                                             !runs->empty() && (*runs)[0].contains("img_offset"))
          where += fmt::format(" at image offset {}", (*runs)[0]["img_offset"].dump());
        mf["FilePath"] = where;
      }
      mf["Created"] = str_or_null(a, "crtime");
      mf["Written"] = str_or_null(a, "mtime");
      mf["Accessed"] = str_or_null(a, "atime");
      mf["Unallocated"] = state != "allocated";
      mf["SourceID"] = labels[di];

      auto found = by_hash.find(key);
      if (found != by_hash.end()) {
        auto& m = value[found->second];
        m["MediaFiles"].push_back(std::move(mf));
        devices_of[found->second].insert(labels[di]);
        ++st.merged;
        continue;
      }

      nlohmann::json m;
      m["MediaID"] = value.size() + 1;
      int category = 0;
      bool precategorized = false;
      if (auto k = a.find("known"); k != a.end() && k->is_object()) {
        std::string c = str(*k, "category");
        if (!c.empty() && c.find_first_not_of("0123456789") == std::string::npos && c.size() < 6) {
          category = std::stoi(c);
          precategorized = true;
        }
      }
      m["Category"] = category;
      m["MD5"] = upper(md5);
      m["SHA1"] = upper(sha1);
      m["MediaSize"] = a.value("size", nlohmann::json(0));
      m["DateUpdated"] = date_updated;
      m["IsPrecategorized"] = precategorized;
      m["IsDistributed"] = nullptr;
      m["Series"] = nullptr;
      m["VictimIdentified"] = nullptr;
      m["OffenderIdentified"] = nullptr;
      m["Tags"] = nullptr;
      m["Comments"] = nullptr;
      nlohmann::json alt = nlohmann::json::array();
      if (!sha256.empty()) alt.push_back({{"HashName", "SHA256"}, {"HashValue", upper(sha256)}});
      if (std::string pdq = str(a, "pdq"); !pdq.empty())
        alt.push_back({{"HashName", "PDQ"}, {"HashValue", pdq}});
      m["AlternativeHashes"] = alt;

      nlohmann::json exifs = nlohmann::json::array();
      if (auto e = a.find("exif"); e != a.end() && e->is_object()) {
        for (auto& [k, v] : e->items())
          exifs.push_back({{"PropertyName", k},
                           {"PropertyValue", v.is_string() ? v.get<std::string>() : v.dump()}});
      } else if (str(a, "type") == "jpeg") {
        if (auto p = artefact_path(dir, file))
          for (auto& [k, v] : read_exif(read_head(*p, 256 << 10)))
            exifs.push_back({{"PropertyName", k}, {"PropertyValue", v}});
      }
      m["Exifs"] = exifs;
      m["MediaFiles"] = nlohmann::json::array({std::move(mf)});
      by_hash.emplace(key, value.size());
      devices_of.push_back({labels[di]});
      value.push_back(std::move(m));
    }
  }
  for (size_t i = 0; i < value.size(); ++i)
    if (devices_of[i].size() > 1) {
      std::string list;
      for (auto& d : devices_of[i]) list += (list.empty() ? "" : ", ") + d;
      value[i]["Comments"] = "Found on devices: " + list;
    }
  st.media = value.size();
  if (stats) *stats = st;
  return {{"@odata.context", kVicsContext}, {"value", std::move(value)}};
}

VicsStats write_vics(const std::vector<std::filesystem::path>& carve_dirs,
                     const std::filesystem::path& out) {
  auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  std::string date = fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", now);
  VicsStats st;
  auto doc = build_vics(carve_dirs, date, &st);
  auto tmp = out;
  tmp += ".partial";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw ExportError(fmt::format("{}: cannot create", out.string()));
    f << base::dump(doc, 2) << "\n";
    if (!f.flush()) throw ExportError(fmt::format("{}: write failed", out.string()));
  }
  std::filesystem::rename(tmp, out);
  return st;
}

}  // namespace safehold::exports
