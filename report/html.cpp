#include "report/html.hpp"

#include <ctime>
#include <map>
#include <set>

#include "base/format.hpp"
#include "base/hash.hpp"
#include "base/json.hpp"
#include "base/version.hpp"
#include "report/html_parts.hpp"
#include "report/output.hpp"

namespace safehold::report {

using nlohmann::json;

namespace {

constexpr std::string_view kStyle = R"(
body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;max-width:1400px;padding:0 16px;color:#111}
h1{font-size:22px;margin:16px 0 4px}h2{font-size:18px;border-bottom:2px solid #345;margin:28px 0 8px}
h3{font-size:15px;margin:16px 0 6px}nav a{margin-right:12px}
table{border-collapse:collapse;width:100%;margin:6px 0 12px;font-size:13px}
th,td{border:1px solid #bbb;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#e8edf2}tbody tr:nth-child(even){background:#f6f8fa}
td{overflow-wrap:anywhere}.mono{font-family:ui-monospace,monospace;font-size:12px}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:6px 0}
dl.facts dt{font-weight:600}dl.facts dd{margin:0;overflow-wrap:anywhere}
dl.obj{margin:0;padding-left:10px;border-left:2px solid #ddd;display:grid;
 grid-template-columns:max-content 1fr;gap:1px 12px}dl.obj dt{font-weight:600}dl.obj dd{margin:0}.filter{margin:4px 0;padding:4px;width:320px}
.count{color:#555;margin-left:8px}.bad{color:#a00;font-weight:600}.ok{color:#060;font-weight:600}
.muted{color:#666}.nw{white-space:nowrap}pre.log{white-space:pre-wrap;font-size:12px;background:#f4f4f4;padding:8px}
img.thumb{max-width:160px;max-height:120px;filter:blur(14px);cursor:pointer;display:block}
img.thumb.revealed{filter:none}
@media print{
 body{max-width:none;font-size:10pt}nav,.filter,.count,.noprint{display:none}
 tr[hidden]{display:table-row!important}thead{display:table-header-group}
 tr{break-inside:avoid}h2,h3{break-after:avoid}a{color:inherit;text-decoration:none}
 pre.log{white-space:pre-wrap}
}
)";

constexpr std::string_view kScript = R"(
'use strict';
for (const box of document.querySelectorAll('input.filter')) {
  box.addEventListener('input', () => {
    const q = box.value.toLowerCase();
    const table = document.getElementById(box.dataset.table);
    const rows = table.tBodies[0].rows;
    let shown = 0;
    for (const r of rows) {
      const hit = !q || r.textContent.toLowerCase().includes(q);
      r.hidden = !hit;
      if (hit) shown++;
    }
    document.getElementById(box.dataset.table + '-count').textContent =
      q ? shown + ' of ' + rows.length + ' shown' : rows.length + ' rows';
  });
}
for (const img of document.querySelectorAll('img.thumb')) {
  img.addEventListener('click', () => img.classList.toggle('revealed'));
}
)";

// 'sha256-…' source for the Content-Security-Policy: only this exact script and style run.
std::string csp_hash(std::string_view text) {
  std::string hex = base::sha256_hex(text), raw;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    raw += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return "'sha256-" + base64(raw) + "'";
}

void header(std::string& o, const Evidence& ev, const HtmlOptions& opt, const std::string& case_ref,
            const std::string& exhibit) {
  using html::esc;
  o += fmt::format("<header id=\"case\"><h1>Examination report: exhibit {}</h1>\n",
                   exhibit.empty() ? "(not recorded)" : esc(exhibit));
  std::string examiner;
  if (ev.acquisition.is_object() && ev.acquisition.contains("case"))
    examiner = str(ev.acquisition["case"], "examiner");
  if (examiner.empty() && ev.image.is_object() && ev.image.contains("ewf"))
    examiner = str(ev.image["ewf"], "examiner");
  std::string description;
  if (ev.acquisition.is_object() && ev.acquisition.contains("case"))
    description = str(ev.acquisition["case"], "description");
  html::facts(o, {{"Case", case_ref.empty() ? "(not recorded)" : esc(case_ref)},
                  {"Exhibit", exhibit.empty() ? "(not recorded)" : esc(exhibit)},
                  {"Description", esc(description)},
                  {"Examiner at acquisition", esc(examiner)},
                  {"Evidence folder",
                   "<span class=\"mono\">" +
                       esc(std::filesystem::absolute(ev.files.dir).lexically_normal().string()) +
                       "</span>"},
                  {"Report made", esc(opt.generated_at) + " by " + esc(opt.tool_version)}});
  o +=
      "<nav class=\"noprint\"><a href=\"#acquisition\">Acquisition</a><a href=\"#volumes\">Volumes"
      "</a><a href=\"#summary\">Summary</a><a href=\"#known\">Known sets</a><a href=\"#artefacts\">"
      "Artefacts</a><a href=\"#chats\">Chats</a><a href=\"#timeline\">Timeline</a><a href=\""
      "#errors\">Errors</a></nav></header>\n";
}

}  // namespace

std::string render_html(const Evidence& ev, const HtmlOptions& options) {
  HtmlOptions opt = options;
  if (opt.generated_at.empty()) opt.generated_at = base::iso8601(std::time(nullptr));
  if (opt.tool_version.empty()) opt.tool_version = std::string("safehold ") + base::kVersion;
  const std::string case_ref = opt.case_override.empty() ? case_reference(ev) : opt.case_override;
  const std::string exhibit =
      opt.exhibit_override.empty() ? exhibit_reference(ev) : opt.exhibit_override;
  std::string o;
  o.reserve(64 * 1024 + ev.artefacts.size() * 600 + ev.messages.size() * 500);
  o += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  o += fmt::format(
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
      "style-src {}; script-src {}; base-uri 'none'; form-action 'none'\">\n",
      csp_hash(kStyle), csp_hash(kScript));
  o += "<meta name=\"referrer\" content=\"no-referrer\">\n";
  o += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  o += fmt::format("<title>Safehold report: {} {}</title>\n", html::esc(case_ref),
                   html::esc(exhibit));
  o += "<style>" + std::string(kStyle) + "</style></head>\n<body>\n";
  header(o, ev, opt, case_ref, exhibit);
  html::section_acquisition(o, ev);
  html::section_volumes(o, ev);
  html::section_summary(o, ev);
  html::section_known(o, ev);
  html::section_artefacts(o, ev, opt);
  html::section_chats(o, ev);
  html::section_timeline(o, ev);
  html::section_errors(o, ev);
  o += "<footer class=\"muted\"><p>Made by " + html::esc(opt.tool_version) +
       " from the files of the evidence folder; names and texts from the evidence are shown as "
       "stored (escaped).</p></footer>\n";
  o += "<script>" + std::string(kScript) + "</script>\n</body></html>\n";
  return o;
}

std::filesystem::path write_report(const std::filesystem::path& evidence_dir, const HtmlOptions& o,
                                   const json& image) {
  Evidence ev = load(locate(evidence_dir));
  ev.image = image;
  const std::filesystem::path out = ev.files.carve_dir / "report.html";
  write_file(out, render_html(ev, o), /*force=*/true);
  return out;
}

namespace html {

void table_open(std::string& o, const std::string& id, std::initializer_list<std::string_view> head,
                bool filter) {
  if (filter)
    o += fmt::format(
        "<div><input class=\"filter\" type=\"search\" placeholder=\"Search this table\" "
        "data-table=\"{0}\" aria-label=\"Search\"><span class=\"count\" id=\"{0}-count\"></span>"
        "</div>\n",
        id);
  o += fmt::format("<table id=\"{}\"><thead><tr>", id);
  for (auto h : head) o += fmt::format("<th>{}</th>", h);
  o += "</tr></thead><tbody>\n";
}

void table_close(std::string& o, const std::string&, bool) {
  o += "</tbody></table>\n";
}

void row(std::string& o, std::initializer_list<std::string> cells, const std::string& attrs) {
  o += attrs.empty() ? "<tr>" : "<tr " + attrs + ">";
  for (auto& c : cells) o += "<td>" + c + "</td>";
  o += "</tr>\n";
}

void facts(std::string& o, std::initializer_list<std::pair<std::string_view, std::string>> kv) {
  o += "<dl class=\"facts\">";
  for (auto& [k, v] : kv)
    if (!v.empty()) o += fmt::format("<dt>{}</dt><dd>{}</dd>", k, v);
  o += "</dl>\n";
}

std::string object_html(const json& j) {
  if (j.is_object()) {
    if (j.empty()) return "<span class=\"muted\">none</span>";
    std::string o = "<dl class=\"obj\">";
    for (auto& [k, v] : j.items()) o += "<dt>" + esc(k) + "</dt><dd>" + object_html(v) + "</dd>";
    return o + "</dl>";
  }
  if (j.is_array()) {
    if (j.empty()) return "<span class=\"muted\">none</span>";
    std::string o = "<ol>";
    for (auto& v : j) o += "<li>" + object_html(v) + "</li>";
    return o + "</ol>";
  }
  if (j.is_null()) return "<span class=\"muted\">not recorded</span>";
  return esc(text(j));
}

std::string num(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number()) return "";
  return base::dump(j[key]);
}

void section_acquisition(std::string& o, const Evidence& ev) {
  o += "<section id=\"acquisition\"><h2>Acquisition</h2>\n";
  const json& a = ev.acquisition;
  if (!a.is_object()) {
    o += "<p class=\"muted\">No acquisition record (<span class=\"mono\">*.acquire.json</span>) in "
         "the evidence folder.</p>\n";
  } else {
    std::string status = str(a, "status");
    facts(o, {{"Status", status == "complete" ? "<span class=\"ok\">complete</span>"
                                              : "<span class=\"bad\">" + esc(status) + "</span>"},
              {"Source", "<span class=\"mono\">" + esc(str(a, "source")) + "</span>"},
              {"Image", "<span class=\"mono\">" + esc(str(a, "image")) + "</span>"},
              {"Started", esc(str(a, "started"))},
              {"Finished", esc(str(a, "finished"))},
              {"Size", esc(num(a, "size")) + " bytes"},
              {"MD5", "<span class=\"mono\">" + esc(str(a, "md5")) + "</span>"},
              {"SHA-1", "<span class=\"mono\">" + esc(str(a, "sha1")) + "</span>"},
              {"SHA-256", "<span class=\"mono\">" + esc(str(a, "sha256")) + "</span>"},
              {"Unreadable sectors", esc(num(a, "unreadable_sectors"))},
              {"Tool", a.contains("tool") ? object_html(a["tool"]) : ""},
              {"Host", esc(str(a, "host_os"))}});
    o += "<h3>Write block</h3>\n" +
         object_html(a.contains("write_block") ? a["write_block"] : json()) + "\n";
    o += "<h3>Device identity</h3>\n" + object_html(a.contains("device") ? a["device"] : json()) +
         "\n";
    if (a.contains("read_errors") && a["read_errors"].is_array() && !a["read_errors"].empty())
      o += "<h3>Read errors (zero-filled sectors)</h3>\n" + object_html(a["read_errors"]) + "\n";
  }
  o += "<h3>Verification</h3>\n";
  const json& v = ev.verification;
  if (v.is_object()) {
    bool ok = v.contains("ok") && v["ok"].is_boolean() && v["ok"].get<bool>();
    o += ok ? "<p class=\"ok\" id=\"verified\">The image verifies: every chunk re-read and its "
              "hashes match.</p>\n"
            : "<p class=\"bad\" id=\"verified\">The image does NOT verify.</p>\n";
    o += object_html(v) + "\n";
  } else if (ev.image.is_object() && ev.image.contains("ewf") && a.is_object()) {
    const json& m = ev.image["ewf"];
    bool same = str(m, "md5") == str(a, "md5") && str(m, "sha1") == str(a, "sha1");
    o += same ? "<p>The MD5 and SHA-1 stored in the E01 equal the acquisition record's. The image "
                "was not re-read for this report (<span class=\"mono\">safehold report --verify"
                "</span> or <span class=\"mono\">safehold verify</span> does).</p>\n"
              : "<p class=\"bad\">The hashes stored in the E01 differ from the acquisition "
                "record's.</p>\n";
  } else {
    o += "<p class=\"muted\">Not verified for this report (<span class=\"mono\">safehold report "
         "--verify</span> re-reads the image).</p>\n";
  }
  if (!ev.acquisition_log.empty())
    o += "<h3>Acquisition log</h3>\n<pre class=\"log\">" + esc(ev.acquisition_log) + "</pre>\n";
  o += "</section>\n";
}

void section_volumes(std::string& o, const Evidence& ev) {
  o += "<section id=\"volumes\"><h2>Volumes and filesystems</h2>\n";
  const json& im = ev.image;
  if (im.is_object()) {
    facts(o, {{"Image", "<span class=\"mono\">" + esc(str(im, "image")) + "</span>"},
              {"Format", esc(str(im, "format"))},
              {"Size", esc(num(im, "size")) + " bytes"},
              {"Volume system", esc(str(im, "volume_scheme"))}});
    table_open(o, "volume-table", {"#", "start", "length", "kind", "description"}, false);
    if (im.contains("volumes") && im["volumes"].is_array())
      for (auto& v : im["volumes"])
        row(o, {esc(num(v, "index")), esc(num(v, "start")), esc(num(v, "length")),
                esc(str(v, "kind")), esc(str(v, "description"))});
    table_close(o, "volume-table", false);
    table_open(o, "fs-table", {"#", "volume", "offset", "type", "label", "block size", "size"},
               false);
    if (im.contains("filesystems") && im["filesystems"].is_array())
      for (auto& f : im["filesystems"])
        row(o, {esc(num(f, "index")), esc(num(f, "volume")), esc(num(f, "offset")),
                esc(str(f, "type")), esc(str(f, "label")), esc(num(f, "block_size")),
                esc(num(f, "size"))});
    table_close(o, "fs-table", false);
  } else {
    // Without the image: the volumes and filesystems the artefacts came from.
    o += "<p class=\"muted\">The image was not opened for this report; the filesystems below are "
         "those the artefacts were found in.</p>\n";
    std::map<std::pair<std::string, std::string>, uint64_t> seen;
    for (auto& a : ev.artefacts) {
      std::string vol = num(a, "volume");
      seen[{vol.empty() ? "none" : vol, str(a, "fs", "unpartitioned space")}]++;
    }
    table_open(o, "fs-table", {"volume", "filesystem", "artefacts"}, false);
    for (auto& [k, n] : seen) row(o, {esc(k.first), esc(k.second), std::to_string(n)});
    table_close(o, "fs-table", false);
  }
  o += "</section>\n";
}

void section_summary(std::string& o, const Evidence& ev) {
  o += "<section id=\"summary\"><h2>Summary</h2>\n";
  const json& s = ev.summary;
  facts(o, {{"Artefacts", esc(std::to_string(ev.artefacts.size()))},
            {"Messages", esc(std::to_string(ev.messages.size()))},
            {"Files examined", esc(num(s, "files_examined"))},
            {"Bytes read", esc(num(s, "bytes_read"))},
            {"Free space carved (bytes)", esc(num(s, "carve_space"))},
            {"JPEGs rebuilt from two fragments", esc(num(s, "bifragment_jpegs"))},
            {"Carve duration (s)", esc(num(s, "duration_seconds"))}});
  // Type by state, counted from report.jsonl (the artefacts listed below).
  std::map<std::string, std::map<std::string, uint64_t>> counts;
  std::set<std::string> states;
  for (auto& a : ev.artefacts) {
    counts[str(a, "type", "?")][str(a, "state", "?")]++;
    states.insert(str(a, "state", "?"));
  }
  o += "<table id=\"type-state\"><thead><tr><th>type</th>";
  for (auto& st : states) o += "<th>" + esc(st) + "</th>";
  o += "<th>total</th></tr></thead><tbody>\n";
  for (auto& [type, by] : counts) {
    uint64_t total = 0;
    o += "<tr data-type=\"" + esc(type) + "\"><td>" + esc(type) + "</td>";
    for (auto& st : states) {
      auto it = by.find(st);
      uint64_t n = it == by.end() ? 0 : it->second;
      total += n;
      o += "<td>" + std::to_string(n) + "</td>";
    }
    o += "<td>" + std::to_string(total) + "</td></tr>\n";
  }
  o += "</tbody></table>\n";
  for (const char* k : {"invalid_fragments", "truncated_fragments"}) {
    if (s.is_object() && s.contains(k) && s[k].is_object() && !s[k].empty())
      o += fmt::format("<h3>{}</h3>{}\n",
                       std::string_view(k) == "invalid_fragments"
                           ? "Candidates left out as invalid, by type"
                           : "Candidates left out as truncated, by type",
                       object_html(s[k]));
  }
  o += "</section>\n";
}

}  // namespace html
}  // namespace safehold::report
