#include "report/timeline.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <tuple>

#include "base/format.hpp"
#include "base/json.hpp"
#include "base/text.hpp"

namespace safehold::report {

using nlohmann::json;

std::string mode_for_type(const std::string& type) {
  char c = type == "file"      ? 'r'
           : type == "dir"     ? 'd'
           : type == "link"    ? 'l'
           : type == "virtual" ? 'v'
                               : '-';
  return std::string(1, c) + "/" + std::string(1, c) + "---------";
}

std::string bodyfile_line(const FileRecord& r) {
  std::string name = base::valid_utf8(r.name);
  for (char& c : name)
    if (c == '|' || (static_cast<unsigned char>(c) < 0x20) || c == 0x7F) c = '^';
  auto t = [](const std::optional<UtcTime>& v) { return v ? v->seconds : 0; };
  return fmt::format("{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}\n", r.md5.empty() ? "0" : r.md5, name,
                     r.inode, r.mode, r.uid, r.gid, r.size, t(r.atime), t(r.mtime), t(r.ctime),
                     t(r.crtime));
}

void add_file_events(std::vector<Event>& out, const FileRecord& r, const std::string& source) {
  const std::optional<UtcTime>* times[4] = {&r.mtime, &r.atime, &r.ctime, &r.crtime};
  bool done[4] = {};
  for (int i = 0; i < 4; ++i) {
    if (done[i] || !*times[i]) continue;
    const UtcTime t = **times[i];
    std::string macb = "....";
    for (int k = i; k < 4; ++k) {
      if (*times[k] && (*times[k])->seconds == t.seconds && (*times[k])->nanos == t.nanos) {
        macb[static_cast<size_t>(k)] = "macb"[k];
        done[k] = true;
      }
    }
    Event e;
    e.time = t;
    e.macb = macb;
    e.source = source;
    e.what = source == "filesystem" ? "file times" : "file times of artefact";
    e.path = r.name;
    e.state = r.state;
    e.filesystem = r.filesystem;
    e.inode = r.inode;
    e.artefact = r.artefact;
    e.detail = fmt::format("{} bytes", r.size);
    out.push_back(std::move(e));
  }
}

namespace {

std::optional<UtcTime> time_of(const json& j, const char* key) {
  auto s = str(j, key);
  return s.empty() ? std::nullopt : parse_iso8601(s);
}

// A non-negative integer member as text ("" when absent); evidence JSON may hold it signed.
std::string uint_text(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number_integer()) return "";
  if (j[key].is_number_unsigned()) return std::to_string(j[key].get<uint64_t>());
  int64_t v = j[key].get<int64_t>();
  return v < 0 ? "" : std::to_string(v);
}

std::string fs_label(const json& a) {
  if (!a.contains("volume") || !a["volume"].is_number()) return str(a, "fs");
  return fmt::format("volume {} ({})", a["volume"].get<int64_t>(), str(a, "fs", "?"));
}

std::string join(const json& arr) {
  std::string out;
  if (!arr.is_array()) return text(arr);
  for (auto& v : arr) out += (out.empty() ? "" : ", ") + text(v);
  return out;
}

}  // namespace

std::vector<FileRecord> artefact_records(const Evidence& ev) {
  std::vector<FileRecord> out;
  for (auto& a : ev.artefacts) {
    FileRecord r;
    r.md5 = str(a, "md5", "0");
    r.state = str(a, "state");
    r.artefact = str(a, "id");
    std::string path = str(a, "path");
    r.name = path.empty() ? "carved/" + r.artefact + " (" + str(a, "type") + ")" : path;
    if (r.state == "deleted" || r.state == "orphan") r.name += " (deleted)";
    if (auto inode = uint_text(a, "inode"); !inode.empty()) r.inode = inode;
    r.mode = "r/r---------";
    if (auto size = uint_text(a, "size"); !size.empty()) r.size = std::stoull(size);
    r.mtime = time_of(a, "mtime");
    r.atime = time_of(a, "atime");
    r.ctime = time_of(a, "ctime");
    r.crtime = time_of(a, "crtime");
    r.filesystem = fs_label(a);
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<Event> artefact_events(const Evidence& ev) {
  std::vector<Event> out;
  auto records = artefact_records(ev);
  for (size_t i = 0; i < records.size(); ++i) {
    size_t before = out.size();
    add_file_events(out, records[i], "artefact");
    for (size_t k = before; k < out.size(); ++k) {
      out[k].what = str(ev.artefacts[i], "type");
      out[k].path = str(ev.artefacts[i], "path");  // without the " (deleted)" of the bodyfile
    }
  }
  return out;
}

std::vector<Event> message_events(const Evidence& ev) {
  std::vector<Event> out;
  for (auto& m : ev.messages) {
    auto t = time_of(m, "timestamp");
    if (!t) continue;
    Event e;
    e.time = *t;
    e.source = "message";
    std::string dir = str(m, "direction");
    e.what = dir.empty() ? "message" : "message " + dir;
    e.path = str(m, "db_path");
    bool recovered =
        m.contains("recovered") && m["recovered"].is_boolean() && m["recovered"].get<bool>();
    e.state = recovered ? "recovered" : "live";
    e.artefact = str(m, "db");
    e.app = str(m, "app");
    std::string who = str(m, "sender");
    std::string to = join(m.contains("recipients") ? m["recipients"] : json());
    e.detail = fmt::format("{}{}{}: {}", who.empty() ? "(owner)" : who, to.empty() ? "" : " to ",
                           to, text(m.contains("body") ? m["body"] : json()));
    out.push_back(std::move(e));
  }
  return out;
}

std::optional<Event> exif_event(const json& a, const std::string& tag, const std::string& value) {
  // "YYYY:MM:DD HH:MM:SS" -> ISO form for the parser.
  if (value.size() < 19 || value[4] != ':' || value[7] != ':') return std::nullopt;
  std::string iso = value.substr(0, 19);
  iso[4] = '-';
  iso[7] = '-';
  iso[10] = 'T';
  auto t = parse_iso8601(iso + "Z");
  if (!t) return std::nullopt;
  Event e;
  e.time = *t;
  e.source = "exif";
  e.what = "EXIF " + tag + " (camera clock)";
  e.path = str(a, "path");
  e.state = str(a, "state");
  e.filesystem = fs_label(a);
  e.inode = uint_text(a, "inode");
  e.artefact = str(a, "id");
  e.detail = str(a, "type");
  return e;
}

void sort_events(std::vector<Event>& events) {
  std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    return std::tie(a.time.seconds, a.time.nanos, a.source, a.path, a.what, a.artefact) <
           std::tie(b.time.seconds, b.time.nanos, b.source, b.path, b.what, b.artefact);
  });
}

void write_csv(std::ostream& out, const std::vector<Event>& events) {
  out << base::kUtf8Bom
      << "time,macb,source,what,path,state,filesystem,inode,artefact,app,detail\r\n";
  for (auto& e : events) {
    const std::string* cells[] = {&e.macb,       &e.source, &e.what,     &e.path, &e.state,
                                  &e.filesystem, &e.inode,  &e.artefact, &e.app,  &e.detail};
    std::string line = base::iso8601(e.time.seconds, e.time.nanos);
    for (auto* c : cells) line += "," + base::csv_cell(*c);
    out << line << "\r\n";
  }
}

void write_jsonl(std::ostream& out, const std::vector<Event>& events) {
  for (auto& e : events) {
    json j = {{"time", base::iso8601(e.time.seconds, e.time.nanos)},
              {"unix", e.time.seconds},
              {"macb", e.macb},
              {"source", e.source},
              {"what", e.what},
              {"path", e.path},
              {"state", e.state},
              {"filesystem", e.filesystem},
              {"inode", e.inode},
              {"artefact", e.artefact},
              {"app", e.app},
              {"detail", e.detail}};
    out << base::dump(j) << "\n";
  }
}

}  // namespace safehold::report
