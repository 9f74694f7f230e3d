#include "fs/json.hpp"

#include <cstdio>

namespace vigil::fs {

using nlohmann::json;

namespace {
json opt(const std::optional<Timestamp>& t) {
  if (!t) return nullptr;
  return to_iso8601(*t);
}
}  // namespace

json to_json(const Volume& v) {
  return {{"index", v.index}, {"start", v.start}, {"length", v.length}, {"kind", to_string(v.kind)},
          {"description", v.description}, {"scheme", v.scheme}};
}

json to_json(const FilesystemInfo& f) {
  return {{"index", f.index}, {"volume", f.volume}, {"offset", f.offset}, {"type", f.type},
          {"label", f.label}, {"block_size", f.block_size}, {"block_count", f.block_count}, {"size", f.size}};
}

json to_json(const FileEntry& e) {
  json runs = json::array();
  for (const auto& r : e.byte_runs) {
    json jr = {{"file_offset", r.file_offset}, {"len", r.len}};
    if (r.sparse) jr["sparse"] = true;
    else jr["img_offset"] = r.img_offset;
    runs.push_back(jr);
  }
  // Names from evidence may be invalid UTF-8: the JSON carries them with replacement characters.
  return {{"filesystem", e.filesystem}, {"volume", e.volume},  {"fs", e.fs_type},
          {"path", e.path},             {"name", e.name},      {"inode", e.inode},
          {"size", e.size},             {"type", e.type},      {"state", to_string(e.state)},
          {"mtime", opt(e.mtime)},      {"atime", opt(e.atime)}, {"ctime", opt(e.ctime)},
          {"crtime", opt(e.crtime)},    {"resident", e.resident}, {"byte_runs", runs}};
}

json to_json(const Problem& p) {
  json j = {{"where", p.where}, {"message", p.message}};
  j["img_offset"] = p.img_offset ? json(*p.img_offset) : json(nullptr);
  return j;
}

json to_json(const EwfMetadata& m) {
  json errs = json::array();
  for (auto& [s, c] : m.acquiry_errors) errs.push_back({{"sector", s}, {"count", c}});
  return {{"case_number", m.case_number},
          {"evidence_number", m.evidence_number},
          {"examiner", m.examiner},
          {"description", m.description},
          {"notes", m.notes},
          {"acquiry_date", m.acquiry_date},
          {"system_date", m.system_date},
          {"acquiry_os", m.acquiry_os},
          {"acquiry_software", m.acquiry_software},
          {"acquiry_software_version", m.acquiry_software_version},
          {"media_type", m.media_type},
          {"chunk_size", m.chunk_size},
          {"compression", m.compression},
          {"md5", m.md5},
          {"sha1", m.sha1},
          {"acquiry_errors", errs}};
}

json describe(const Evidence& ev) {
  const Image& img = ev.image();
  json segs = json::array();
  for (auto& s : img.segments()) segs.push_back(s.string());
  json j = {{"image", img.path().string()}, {"format", to_string(img.format())}, {"size", img.size()},
            {"sector_size", img.sector_size()}, {"segments", segs}, {"volume_scheme", ev.volume_scheme()}};
  j["ewf"] = img.ewf_metadata() ? to_json(*img.ewf_metadata()) : json(nullptr);
  json vols = json::array(), fss = json::array(), probs = json::array();
  for (auto& v : ev.volumes()) vols.push_back(to_json(v));
  for (auto& f : ev.filesystems()) fss.push_back(to_json(f));
  for (auto& p : ev.problems()) probs.push_back(to_json(p));
  j["volumes"] = vols;
  j["filesystems"] = fss;
  j["problems"] = probs;
  return j;
}

std::string dump(const json& j, int indent) {
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

std::string printable(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  auto esc = [&](unsigned char c) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", c);
    out += buf;
  };
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f || c == '\\') {
      esc(c);
      ++i;
      continue;
    }
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    size_t n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    bool ok = n && i + n <= s.size();
    for (size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok && n == 2 && c < 0xC2) ok = false;
    // C1 control characters (U+0080..U+009F) can drive terminals too.
    if (ok && n == 2 && c == 0xC2 && static_cast<unsigned char>(s[i + 1]) < 0xA0) ok = false;
    if (!ok) {
      esc(c);
      ++i;
      continue;
    }
    out.append(s, i, n);
    i += n;
  }
  return out;
}

}  // namespace vigil::fs
