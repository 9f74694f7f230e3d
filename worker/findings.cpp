// A device's findings from its carve's output (worker/findings.hpp).
#include "worker/findings.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <fstream>
#include <set>

#include "export/exif.hpp"
#include "pdq/pdq.hpp"
#include "pdq/video.hpp"

namespace safehold::worker {

namespace fsys = std::filesystem;
using nlohmann::json;

std::shared_ptr<const LabSets> open_lab_sets(const std::vector<scheduler::LabHashSet>& sets) {
  auto out = std::make_shared<LabSets>();
  for (auto& s : sets) {
    std::unique_ptr<hashset::HashSet> h;
    try {
      h = hashset::HashSet::open(s.path);
    } catch (const std::exception& e) {
      throw std::runtime_error(
          fmt::format("lab hash set {} cannot be opened: {}", s.name, e.what()));
    }
    if (h->name() != s.set_name)
      throw std::runtime_error(fmt::format(
          "lab hash set {}: the file {} now holds set '{}', not '{}' as when it was added", s.name,
          s.path, h->name(), s.set_name));
    out->by_set_name[s.set_name] = s;
    out->sets.add(std::move(h));
  }
  out->listed = sets;
  return out;
}

namespace {

const std::set<std::string> kImages = {"jpeg", "png", "gif", "bmp", "webp", "tiff", "heif"};
const std::set<std::string> kVideos = {"mp4", "mov", "3gp", "m4v", "avi", "asf", "mkv", "webm"};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// The camera make or model in a JPEG's EXIF (the first 256 KiB hold its APP1 segment).
bool has_camera_exif(const fsys::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::vector<uint8_t> head(256 << 10);
  in.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(std::max<std::streamsize>(0, in.gcount())));
  for (auto& [k, v] : exports::read_exif(head))
    if ((k == "Make" || k == "Model") && !v.empty()) return true;
  return false;
}

// The 8 dihedral PDQ hashes of a picture artefact (empty when it cannot be decoded).
std::vector<std::string> variants_of(const fsys::path& file) {
  auto img = pdq::decode_image_file(file);
  if (!img || img->width < 5 || img->height < 5) return {};
  auto d = pdq::hash_image_dihedral(*img);
  std::vector<std::string> out;
  for (auto& h : d.hashes) out.push_back(h.hex());
  return out;
}

std::string str(const json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A video's frame hashes from the carve's vPDQ sidecar, as vPDQ's rule compares them: distinct
// hashes of quality 50 or more (the first of each).
std::vector<scheduler::FrameHash> frames_of(const fsys::path& outdir, const std::string& rel) {
  const fsys::path p(rel);
  if (p.is_absolute() || std::find(p.begin(), p.end(), "..") != p.end())
    throw std::runtime_error(fmt::format("{}: a vPDQ sidecar outside the carve folder: {}",
                                         (outdir / "report.jsonl").string(), rel));
  std::set<std::string> seen;
  std::vector<scheduler::FrameHash> out;
  for (const auto& f : pdq::load_vpdq(outdir / p)) {
    std::string hex = f.hash.hex();
    if (!seen.insert(hex).second || f.quality < pdq::kMinQuality) continue;
    if (out.size() == scheduler::kMaxVideoFrames)
      throw std::runtime_error(fmt::format("{}: more than {} distinct frames to index",
                                           (outdir / p).string(), scheduler::kMaxVideoFrames));
    out.push_back({std::move(hex), f.quality});
  }
  return out;
}

struct Reader {
  const fsys::path& outdir;
  const LabSets& sets;
  scheduler::DeviceFindings f;
  std::map<std::string, std::map<std::string, uint64_t>> by_type;
  std::map<std::pair<std::string, std::string>, uint64_t> known;  // (lab set, category) -> n
  std::map<std::string, uint64_t> chats;
  std::set<std::string> matching;  // artefact ids in a non-ignorable set
  uint64_t indecent = 0, unknown = 0, camera = 0;

  void artefact(const json& a) {
    const std::string type = str(a, "type"), id = str(a, "id");
    ++by_type[type][str(a, "state")];
    if (type == "sqlite" && !str(a, "app").empty() && a.value("messages", json()).is_number())
      chats[str(a, "app")] += a["messages"].get<uint64_t>();
    const bool image = kImages.count(type), video = kVideos.count(type);
    if (!image && !video) return;
    std::string category;
    if (auto k = a.find("known"); k != a.end() && k->is_object()) {
      auto it = sets.by_set_name.find(str(*k, "set"));
      std::string lab = it == sets.by_set_name.end() ? str(*k, "set") : it->second.name;
      category = it == sets.by_set_name.end() ? "other" : it->second.category;
      ++known[{lab, category}];
      if (category == "indecent") ++indecent;
      if (category != "ignorable") matching.insert(id);
    } else {
      ++unknown;
    }
    media(a, type, id, category);
  }

  void media(const json& a, const std::string& type, const std::string& id,
             const std::string& category) {
    scheduler::MediaHash m;
    m.artefact = id;
    m.type = type;
    m.md5 = str(a, "md5");
    m.sha1 = str(a, "sha1");
    m.sha256 = str(a, "sha256");
    m.pdq = str(a, "pdq");
    m.quality = a.value("pdq_quality", json()).is_number() ? a["pdq_quality"].get<int>() : -1;
    m.known_category = category;
    if (auto k = a.find("known"); k != a.end() && k->is_object()) {
      auto it = sets.by_set_name.find(str(*k, "set"));
      m.known_set = it == sets.by_set_name.end() ? str(*k, "set") : it->second.name;
      m.known_grade = str(*k, "category");
      if (m.known_grade.size() > 64) m.known_grade.clear();  // not a grading category
      if (m.known_set.size() > 200) m.known_set.clear();     // not a lab set's name
    }
    const std::string file = str(a, "file");
    if (!m.pdq.empty() && !file.empty()) m.variants = variants_of(outdir / file);
    if (const std::string vpdq = str(a, "vpdq"); !vpdq.empty()) m.frames = frames_of(outdir, vpdq);
    const bool thumbnail = a.value("parent", json()).is_string();
    const std::string path = str(a, "path");
    // Camera-original candidate: in no set, not a thumbnail, and in a camera folder or with a
    // camera make/model in its EXIF, and not where downloads, caches or messengers keep files.
    const bool exif = type == "jpeg" && !file.empty() && has_camera_exif(outdir / file);
    if (category.empty() && !thumbnail && (camera_path(path) || (exif && !looks_received(path)))) {
      m.camera = true;
      ++camera;
    }
    f.media.push_back(std::move(m));
  }

  static bool looks_received(const std::string& path) {
    const std::string p = lower(path);
    for (const char* w : {"cache", "download", "thumb", "whatsapp", "telegram", "messenger",
                          "/sent", "received", "temp", "/tmp/", "browser", "internet"})
      if (p.find(w) != std::string::npos) return true;
    return false;
  }

  void messages() {
    std::ifstream in(outdir / "messages.jsonl");
    std::string line;
    uint64_t n = 0;
    while (std::getline(in, line)) {
      auto m = json::parse(line, nullptr, false);
      if (!m.is_object()) continue;
      auto at = m.find("attachments");
      if (at == m.end() || !at->is_array()) continue;
      for (auto& x : *at)
        if (x.is_string() && matching.count(x.get<std::string>())) {
          ++n;
          break;
        }
    }
    f.summary["attachments_matching"] = n;
  }

  void finish() {
    json known_j = json::array();
    for (auto& [k, n] : known)
      known_j.push_back({{"set", k.first}, {"category", k.second}, {"count", n}});
    f.summary["by_type"] = by_type;
    f.summary["known"] = known_j;
    f.summary["known_indecent"] = indecent;
    f.summary["unknown_media"] = unknown;
    f.summary["camera_original"] = camera;
    f.summary["chats"] = chats;
    f.summary["media_indexed"] = f.media.size();
    uint64_t frames = 0;
    for (auto& m : f.media) frames += m.frames.size();
    f.summary["video_frames_indexed"] = frames;
  }
};

}  // namespace

bool camera_path(const std::string& path) {
  const std::string p = lower(path);
  return (p.find("/dcim/") != std::string::npos || p.rfind("dcim/", 0) == 0) &&
         !Reader::looks_received(p);
}

scheduler::DeviceFindings read_findings(const fsys::path& outdir, const LabSets& sets) {
  Reader r{outdir, sets, {}, {}, {}, {}, {}};
  std::ifstream in(outdir / "report.jsonl");
  if (!in) throw std::runtime_error("the carve wrote no report.jsonl in " + outdir.string());
  std::string line;
  uint64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    auto a = json::parse(line, nullptr, false);
    if (!a.is_object())
      throw std::runtime_error(
          fmt::format("{}: line {} is not a JSON object", (outdir / "report.jsonl").string(), n));
    r.artefact(a);
  }
  r.messages();
  r.finish();
  r.f.carve_dir = fsys::absolute(outdir).lexically_normal().string();
  return std::move(r.f);
}

}  // namespace safehold::worker
