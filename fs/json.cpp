#include "fs/json.hpp"

#include <cstdio>

namespace safehold::fs {

using nlohmann::json;

namespace {
json opt(const std::optional<Timestamp>& t) {
  if (!t) return nullptr;
  return to_iso8601(*t);
}
}  // namespace

json to_json(const Volume& v) {
  json j = {{"index", v.index},
            {"start", v.start},
            {"length", v.length},
            {"kind", to_string(v.kind)},
            {"description", v.description},
            {"scheme", v.scheme}};
  if (v.encryption)
    j["encryption"] = {{"scheme", v.encryption->scheme},
                       {"cipher", v.encryption->cipher},
                       {"identifier", v.encryption->identifier},
                       {"unlock", v.encryption->unlock},
                       {"unlocked", v.encryption->unlocked}};
  if (!v.unreadable.empty()) j["unreadable"] = v.unreadable;
  return j;
}

json to_json(const FilesystemInfo& f) {
  return {{"index", f.index},
          {"volume", f.volume},
          {"offset", f.offset},
          {"type", f.type},
          {"label", f.label},
          {"block_size", f.block_size},
          {"block_count", f.block_count},
          {"size", f.size},
          {"encryption", f.encryption.empty() ? json(nullptr) : json(f.encryption)}};
}

json to_json(const FileEntry& e) {
  json runs = json::array();
  for (const auto& r : e.byte_runs) {
    json jr = {{"file_offset", r.file_offset}, {"len", r.len}};
    if (r.sparse)
      jr["sparse"] = true;
    else
      jr["img_offset"] = r.img_offset;
    runs.push_back(jr);
  }
  // Names from evidence may be invalid UTF-8: the JSON carries them with replacement characters.
  json j = {{"filesystem", e.filesystem},
            {"volume", e.volume},
            {"fs", e.fs_type},
            {"path", e.path},
            {"name", e.name},
            {"inode", e.inode},
            {"size", e.size},
            {"type", e.type},
            {"state", to_string(e.state)},
            {"mtime", opt(e.mtime)},
            {"atime", opt(e.atime)},
            {"ctime", opt(e.ctime)},
            {"crtime", opt(e.crtime)},
            {"resident", e.resident},
            {"byte_runs", runs}};
  if (!e.stream.empty()) j["stream"] = e.stream;  // NTFS named stream (path ends in ":stream")
  if (!e.member.empty()) {                        // a phone extraction's entry
    char mode[16] = "";
    if (e.mode) std::snprintf(mode, sizeof mode, "%o", *e.mode);
    j["member"] = e.member;
    j["mode"] = e.mode ? json(mode) : json(nullptr);
    j["uid"] = e.uid ? json(*e.uid) : json(nullptr);
    j["gid"] = e.gid ? json(*e.gid) : json(nullptr);
    if (e.type == "link") j["target"] = e.target;
  }
  return j;
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
  json j = {{"image", img.path().string()},
            {"format", to_string(img.format())},
            {"size", img.size()},
            {"sector_size", img.sector_size()},
            {"segments", segs},
            {"volume_scheme", ev.volume_scheme()}};
  j["ewf"] = img.ewf_metadata() ? to_json(*img.ewf_metadata()) : json(nullptr);
  json vols = json::array(), fss = json::array(), probs = json::array();
  for (auto& v : ev.volumes()) vols.push_back(to_json(v));
  for (auto& f : ev.filesystems()) fss.push_back(to_json(f));
  for (auto& p : ev.problems()) probs.push_back(to_json(p));
  j["volumes"] = vols;
  j["filesystems"] = fss;
  j["problems"] = probs;
  json damaged = json::array();
  for (auto& d : img.damage())
    damaged.push_back({{"img_offset", d.img_offset}, {"len", d.len}, {"message", d.message}});
  j["damaged"] = damaged;
  if (const auto& x = ev.extraction()) {
    j["format"] = x->format;  // an Android backup's Image is read like a TAR's
    j["extraction"] = {{"format", x->format},
                       {"root", x->root},
                       {"entries", x->entries},
                       {"bytes", x->bytes},
                       {"container_size", x->container_size}};
  }
  return j;
}

}  // namespace safehold::fs
