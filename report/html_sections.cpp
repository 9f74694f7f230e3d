// The evidence sections of the report: known-set counts, artefacts, chats, timeline, errors.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "base/format.hpp"
#include "report/html_parts.hpp"
#include "report/timeline.hpp"

namespace safehold::report::html {

namespace fsys = std::filesystem;
using nlohmann::json;

namespace {

std::string mono(const std::string& s) {
  return "<span class=\"mono\">" + esc(s) + "</span>";
}

std::string nowrap(const std::string& s) {
  return "<span class=\"nw\">" + esc(s) + "</span>";
}

std::string join(const json& arr) {
  if (!arr.is_array()) return text(arr);
  std::string out;
  for (auto& v : arr) out += (out.empty() ? "" : ", ") + text(v);
  return out;
}

bool flag(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_boolean() && j[key].get<bool>();
}

const char* picture_mime(const std::string& type) {
  if (type == "jpeg") return "image/jpeg";
  if (type == "png") return "image/png";
  if (type == "gif") return "image/gif";
  if (type == "bmp") return "image/bmp";
  if (type == "webp") return "image/webp";
  return nullptr;
}

// The artefact's file, only when report.jsonl names a plain relative path inside the carve folder.
std::optional<fsys::path> artefact_file(const Evidence& ev, const json& a) {
  std::string rel = str(a, "file");
  if (rel.empty()) return std::nullopt;
  fsys::path p(rel);
  if (p.is_absolute()) return std::nullopt;
  for (auto& part : p)
    if (part == "..") return std::nullopt;
  return ev.files.carve_dir / p;
}

std::string preview(const Evidence& ev, const json& a, const HtmlOptions& opt) {
  const char* mime = picture_mime(str(a, "type"));
  if (!mime) return "<span class=\"muted\">no preview</span>";
  auto file = artefact_file(ev, a);
  std::error_code ec;
  if (!file || !fsys::is_regular_file(*file, ec))
    return "<span class=\"muted\">file not in the folder</span>";
  auto size = fsys::file_size(*file, ec);
  if (ec || size > opt.thumbnail_max_bytes)
    return "<span class=\"muted\">too large to embed</span>";
  std::ifstream in(*file, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return fmt::format(
      "<img class=\"thumb\" alt=\"artefact {}\" title=\"Click to show or blur\" src=\"data:{};"
      "base64,{}\">",
      esc(str(a, "id")), mime, base64(bytes.str()));
}

std::string times_cell(const json& a) {
  std::string out;
  for (auto [k, label] :
       {std::pair{"mtime", "m"}, {"atime", "a"}, {"ctime", "c"}, {"crtime", "b"}}) {
    std::string t = str(a, k);
    if (!t.empty()) out += fmt::format("<span class=\"nw\">{}&nbsp;{}</span><br>", label, esc(t));
  }
  return out.empty() ? "<span class=\"muted\">none</span>" : out;
}

std::string place_cell(const json& a) {
  std::string path = str(a, "path");
  std::string out =
      path.empty() ? "<span class=\"muted\">carved from free space</span>" : mono(path);
  std::string vol = num(a, "volume"), inode = num(a, "inode");
  std::string where = vol.empty() ? "" : "volume " + vol;
  if (!str(a, "fs").empty()) where += (where.empty() ? "" : ", ") + str(a, "fs");
  if (!inode.empty()) where += (where.empty() ? "" : ", ") + std::string("inode ") + inode;
  if (a.contains("byte_runs") && a["byte_runs"].is_array() && !a["byte_runs"].empty())
    where += (where.empty() ? "" : ", ") + std::string("image offset ") +
             num(a["byte_runs"][0], "img_offset");
  if (!where.empty()) out += "<br><span class=\"muted\">" + esc(where) + "</span>";
  return out;
}

std::string notes_cell(const json& a) {
  std::string out;
  if (a.contains("valid") && a["valid"].is_boolean() && !a["valid"].get<bool>())
    out += "<span class=\"bad\">damaged</span><br>";
  if (flag(a, "extension_mismatch")) out += "<span class=\"bad\">extension mismatch</span><br>";
  if (!str(a, "parent").empty()) out += "thumbnail of " + esc(str(a, "parent")) + "<br>";
  if (a.contains("warnings") && a["warnings"].is_array())
    for (auto& w : a["warnings"]) out += esc(text(w)) + "<br>";
  return out;
}

}  // namespace

void section_known(std::string& o, const Evidence& ev) {
  o += "<section id=\"known\"><h2>Known-set matches</h2>\n";
  std::map<std::pair<std::string, std::string>, std::pair<uint64_t, bool>> by;
  for (auto& a : ev.artefacts) {
    if (!a.contains("known") || !a["known"].is_object()) continue;
    const json& k = a["known"];
    auto& e = by[{str(k, "set", "?"), k.contains("category") ? text(k["category"]) : ""}];
    e.first++;
    e.second = flag(k, "ignorable");
  }
  if (by.empty()) {
    o += "<p>No artefact matched a known-hash set (or no sets were given to the carve).</p>\n";
  } else {
    o += "<p>Counts only: which artefacts matched is in report.jsonl.</p>\n";
    table_open(o, "known-table", {"set", "category", "ignorable", "artefacts"}, false);
    for (auto& [k, v] : by)
      row(o, {esc(k.first), k.second.empty() ? "<span class=\"muted\">none</span>" : esc(k.second),
              v.second ? "yes" : "no", std::to_string(v.first)});
    table_close(o, "known-table", false);
  }
  o += "</section>\n";
}

void section_artefacts(std::string& o, const Evidence& ev, const HtmlOptions& opt) {
  o += "<section id=\"artefacts\"><h2>Artefacts</h2>\n";
  if (!opt.thumbnails)
    o += "<p class=\"muted\">Pictures are not shown (<span class=\"mono\">safehold report "
         "--thumbnails</span> embeds them, blurred until clicked).</p>\n";
  std::map<std::string, std::vector<const json*>> by_type;
  for (auto& a : ev.artefacts) by_type[str(a, "type", "?")].push_back(&a);
  for (auto& [type, list] : by_type) {
    std::map<std::string, uint64_t> states;
    for (auto* a : list) states[str(*a, "state", "?")]++;
    std::string sts;
    for (auto& [s, n] : states) sts += fmt::format("{}{} {}", sts.empty() ? "" : ", ", esc(s), n);
    o += fmt::format("<h3 id=\"type-{0}\">{0}: {1} ({2})</h3>\n", esc(type), list.size(), sts);
    const std::string id = "artefacts-" + esc(type);
    if (opt.thumbnails)
      table_open(
          o, id,
          {"id", "state", "where", "size", "times (UTC)", "MD5 / SHA-256", "notes", "picture"},
          true);
    else
      table_open(o, id, {"id", "state", "where", "size", "times (UTC)", "MD5 / SHA-256", "notes"},
                 true);
    for (auto* a : list) {
      std::string hashes = mono(str(*a, "md5")) + "<br>" + mono(str(*a, "sha256"));
      std::string attrs = fmt::format("data-id=\"{}\" data-state=\"{}\"", esc(str(*a, "id")),
                                      esc(str(*a, "state")));
      std::string size = num(*a, "size");
      if (opt.thumbnails)
        row(o,
            {nowrap(str(*a, "id")), esc(str(*a, "state")), place_cell(*a), nowrap(size),
             times_cell(*a), hashes, notes_cell(*a), preview(ev, *a, opt)},
            attrs);
      else
        row(o,
            {nowrap(str(*a, "id")), esc(str(*a, "state")), place_cell(*a), nowrap(size),
             times_cell(*a), hashes, notes_cell(*a)},
            attrs);
    }
    table_close(o, id, true);
  }
  if (by_type.empty()) o += "<p>No artefacts.</p>\n";
  o += "</section>\n";
}

void section_chats(std::string& o, const Evidence& ev) {
  o += "<section id=\"chats\"><h2>Chats</h2>\n";
  std::map<std::string, std::vector<const json*>> dbs, msgs;
  for (auto& a : ev.artefacts)
    if (str(a, "type") == "sqlite") dbs[str(a, "app", "(not a chat database)")].push_back(&a);
  for (auto& m : ev.messages) msgs[str(m, "app", "?")].push_back(&m);
  if (dbs.empty() && msgs.empty()) o += "<p>No SQLite databases and no messages.</p>\n";
  o += "<h3>Databases</h3>\n";
  table_open(o, "databases",
             {"app", "artefact", "path", "reader", "messages", "recovered", "encrypted", "errors"},
             false);
  for (auto& [app, list] : dbs)
    for (auto* a : list)
      row(o, {esc(app), esc(str(*a, "id")), place_cell(*a), esc(str(*a, "reader")),
              esc(num(*a, "messages")), esc(num(*a, "recovered")),
              flag(*a, "encrypted") ? "<span class=\"bad\">yes</span>" : "no",
              esc(join(a->contains("errors") ? (*a)["errors"] : json()))});
  table_close(o, "databases", false);
  for (auto& [app, list] : msgs) {
    size_t recovered = 0;
    for (auto* m : list) recovered += flag(*m, "recovered");
    o += fmt::format("<h3 id=\"chat-{0}\">{0}: {1} messages ({2} recovered)</h3>\n", esc(app),
                     list.size(), recovered);
    const std::string id = "messages-" + esc(app);
    table_open(o, id,
               {"time (UTC)", "direction", "sender", "recipients", "conversation", "message",
                "attachments", "database", "recovered"},
               true);
    for (auto* m : list) {
      std::string rec = flag(*m, "recovered") ? "yes " + esc(str(*m, "location")) : "";
      row(o,
          {esc(str(*m, "timestamp")), esc(str(*m, "direction")), esc(str(*m, "sender")),
           esc(join(m->contains("recipients") ? (*m)["recipients"] : json())),
           esc(str(*m, "conversation")), esc(text(m->contains("body") ? (*m)["body"] : json())),
           esc(join(m->contains("attachments") ? (*m)["attachments"] : json())),
           esc(str(*m, "db")) + "<br>" + esc(str(*m, "table")) + " row " + esc(num(*m, "row")),
           rec},
          "class=\"message\"");
    }
    table_close(o, id, true);
  }
  o += "</section>\n";
}

void section_timeline(std::string& o, const Evidence& ev) {
  o += "<section id=\"timeline\"><h2>Timeline</h2>\n<p>The artefacts' filesystem times (m: "
       "modified, a: accessed, c: changed, b: born) and the messages, in UTC. The whole "
       "filesystem's timeline is <span class=\"mono\">safehold timeline</span>.</p>\n";
  auto events = artefact_events(ev);
  auto msgs = message_events(ev);
  events.insert(events.end(), msgs.begin(), msgs.end());
  sort_events(events);
  table_open(o, "timeline-table",
             {"time (UTC)", "macb", "what", "path / app", "state", "artefact", "detail"}, true);
  for (auto& e : events) {
    std::string place = e.source == "message" ? esc(e.app) + "<br>" + mono(e.path) : mono(e.path);
    std::string detail = e.detail.size() > 300 ? e.detail.substr(0, 300) + "…" : e.detail;
    row(o, {nowrap(base::iso8601(e.time.seconds, e.time.nanos)), mono(e.macb), esc(e.what), place,
            esc(e.state), esc(e.artefact), esc(detail)});
  }
  table_close(o, "timeline-table", true);
  o += "</section>\n";
}

void section_errors(std::string& o, const Evidence& ev) {
  o += "<section id=\"errors\"><h2>Errors</h2>\n";
  table_open(o, "error-table", {"where", "what", "image offset"}, false);
  size_t n = 0;
  for (auto& p : ev.problems) row(o, {"report input", esc(p), ""}), ++n;
  if (ev.summary.is_object() && ev.summary.contains("errors") && ev.summary["errors"].is_array())
    for (auto& e : ev.summary["errors"])
      row(o, {esc(str(e, "where")), esc(str(e, "message")), esc(num(e, "img_offset"))}), ++n;
  if (ev.image.is_object() && ev.image.contains("problems") && ev.image["problems"].is_array())
    for (auto& e : ev.image["problems"])
      row(o, {esc(str(e, "where")), esc(str(e, "message")), esc(num(e, "img_offset"))}), ++n;
  if (ev.acquisition.is_object() && ev.acquisition.contains("read_errors") &&
      ev.acquisition["read_errors"].is_array())
    for (auto& e : ev.acquisition["read_errors"])
      row(o, {"acquisition", "unreadable sectors zero-filled: " + esc(num(e, "count")),
              "sector " + esc(num(e, "sector"))}),
          ++n;
  // A database's errors, unless the carve's summary already lists them for its artefact.
  std::set<std::pair<std::string, std::string>> listed;
  if (ev.summary.is_object() && ev.summary.contains("errors") && ev.summary["errors"].is_array())
    for (auto& e : ev.summary["errors"]) listed.insert({str(e, "where"), str(e, "message")});
  for (auto& a : ev.artefacts)
    if (str(a, "type") == "sqlite" && a.contains("errors") && a["errors"].is_array())
      for (auto& e : a["errors"])
        if (!listed.count({"artefact " + str(a, "id"), text(e)}))
          row(o, {"database " + esc(str(a, "id")), esc(text(e)), ""}), ++n;
  table_close(o, "error-table", false);
  o += n ? fmt::format("<p class=\"bad\" id=\"error-count\">{} error(s).</p>\n", n)
         : "<p class=\"ok\" id=\"error-count\">No errors recorded.</p>\n";
  o += "</section>\n";
}

}  // namespace safehold::report::html
