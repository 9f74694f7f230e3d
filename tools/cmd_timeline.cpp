// `safehold timeline`: a TSK bodyfile and a CSV/JSONL timeline of an image or an evidence folder
// (glue: the filesystem walk is fs/'s, EXIF dates export/'s reader, the records and writers
// report/'s).
#include <fmt/core.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "base/json.hpp"
#include "export/exif.hpp"
#include "fs/evidence.hpp"
#include "report/output.hpp"
#include "report/timeline.hpp"
#include "tools/command.hpp"

namespace safehold::tools {
namespace {

namespace fsys = std::filesystem;

struct TimelineArgs {
  std::string source, outdir, format = "body";
  bool force = false, no_image = false, no_exif = false;
};

struct Collected {
  std::vector<report::FileRecord> files;  // for the bodyfile
  std::vector<report::Event> events;      // for CSV / JSONL
  std::vector<std::string> problems;
};

std::optional<report::UtcTime> utc(const std::optional<fs::Timestamp>& t) {
  if (!t) return std::nullopt;
  return report::UtcTime{t->seconds, t->nanos};
}

// Every file and directory of every filesystem of the image, as `fls -r -m /` names them; with
// more than one filesystem each path starts with /fsN (N as `safehold info` numbers them).
void walk_image(const fsys::path& image, Collected& c) {
  std::unique_ptr<fs::Evidence> ev;
  try {
    ev = fs::Evidence::open(image, /*labels=*/false);
  } catch (const fs::EvidenceError& e) {
    fail(Exit::usage, e.what());
  }
  const bool several = ev->filesystems().size() > 1;
  for (auto& f : ev->filesystems()) {
    const std::string prefix = several ? fmt::format("/fs{}", f.index) : "";
    const std::string label = fmt::format("{} ({})", f.index, f.type);
    ev->walk(f.index, [&](const fs::FileEntry& e) {
      report::FileRecord r;
      r.name = prefix + e.path;
      if (e.state != fs::FileState::allocated) r.name += " (deleted)";
      r.inode = std::to_string(e.inode);
      r.mode = report::mode_for_type(e.type);
      r.size = e.size;
      r.mtime = utc(e.mtime);
      r.atime = utc(e.atime);
      r.ctime = utc(e.ctime);
      r.crtime = utc(e.crtime);
      r.state = fs::to_string(e.state);
      r.filesystem = label;
      const size_t before = c.events.size();
      report::add_file_events(c.events, r, "filesystem");
      for (size_t k = before; k < c.events.size(); ++k) c.events[k].path = prefix + e.path;
      c.files.push_back(std::move(r));
      return true;
    });
  }
  for (auto& p : ev->problems()) c.problems.push_back(p.where + ": " + p.message);
}

void add_exif(const report::Evidence& ev, Collected& c) {
  for (auto& a : ev.artefacts) {
    if (report::str(a, "type") != "jpeg") continue;
    std::string rel = report::str(a, "file");
    if (rel.empty() || fsys::path(rel).is_absolute() || rel.find("..") != std::string::npos)
      continue;
    std::ifstream in(ev.files.carve_dir / rel, std::ios::binary);
    if (!in) continue;
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto pairs = exports::read_exif(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    for (auto& [tag, value] : pairs)
      if (tag == "DateTimeOriginal" || tag == "DateTimeDigitized" || tag == "DateTime")
        if (auto e = report::exif_event(a, tag, value)) c.events.push_back(std::move(*e));
  }
}

Collected collect(const TimelineArgs& a) {
  Collected c;
  std::error_code ec;
  if (!fsys::is_directory(a.source, ec)) {
    if (!fsys::exists(a.source, ec)) fail(Exit::usage, a.source + ": no such file or folder");
    walk_image(a.source, c);
    return c;
  }
  report::EvidenceFiles files;
  try {
    files = report::locate(a.source);
  } catch (const report::ReportError& e) {
    fail(Exit::usage, e.what());
  }
  auto ev = report::load(files);
  for (auto& p : ev.problems) c.problems.push_back(p);
  if (files.image && !a.no_image) {
    walk_image(*files.image, c);
  } else {
    c.files = report::artefact_records(ev);  // the bodyfile of what was carved
  }
  auto art = report::artefact_events(ev);
  auto msg = report::message_events(ev);
  c.events.insert(c.events.end(), art.begin(), art.end());
  c.events.insert(c.events.end(), msg.begin(), msg.end());
  if (!a.no_exif) add_exif(ev, c);
  return c;
}

std::string render(const std::string& format, Collected& c) {
  std::ostringstream out;
  if (format == "body")
    for (auto& r : c.files) out << report::bodyfile_line(r);
  else if (format == "csv")
    report::write_csv(out, c.events);
  else
    report::write_jsonl(out, c.events);
  return out.str();
}

void run_timeline(const TimelineArgs& a) {
  if (a.outdir.empty() && a.format != "body" && a.format != "csv" && a.format != "jsonl")
    fail(Exit::usage, "--format: '" + a.format + "' is not body, csv or jsonl");
  Collected c = collect(a);
  report::sort_events(c.events);
  if (a.outdir.empty()) {
    std::cout << render(a.format, c) << std::flush;
  } else {
    std::error_code ec;
    fsys::create_directories(a.outdir, ec);
    if (ec) fail(Exit::usage, a.outdir + ": cannot create folder: " + ec.message());
    const std::pair<const char*, const char*> outs[] = {
        {"body", "timeline.body"}, {"csv", "timeline.csv"}, {"jsonl", "timeline.jsonl"}};
    for (auto& [format, name] : outs)
      if (!a.force && fsys::exists(fsys::path(a.outdir) / name, ec))
        fail(Exit::usage,
             (fsys::path(a.outdir) / name).string() + ": exists (use --force to replace it)");
    for (auto& [format, name] : outs) {
      try {
        report::write_file(fsys::path(a.outdir) / name, render(format, c), a.force);
      } catch (const report::ReportError& e) {
        fail(Exit::failed, e.what());
      }
    }
    fmt::print("Timeline: {} files in timeline.body, {} events in timeline.csv and .jsonl in {}\n",
               c.files.size(), c.events.size(), base::printable(a.outdir));
  }
  for (auto& p : c.problems) std::cerr << "safehold: " << base::printable(p) << "\n";
  if (!c.problems.empty()) throw CommandExit{static_cast<int>(Exit::failed)};
}

void register_timeline(CLI::App& app) {
  auto* c = app.add_subcommand(
      "timeline",
      "TSK bodyfile (for mactime) and CSV/JSONL timeline of an image or an evidence folder");
  auto a = std::make_shared<TimelineArgs>();
  c->add_option("SOURCE", a->source,
                "An image (E01, raw, …) or an evidence folder / carve output folder")
      ->required();
  c->add_option("-o,--output", a->outdir,
                "Folder for timeline.body, timeline.csv and timeline.jsonl (default: one format on "
                "stdout)");
  c->add_option("--format", a->format, "On stdout: body (default), csv or jsonl");
  c->add_flag("--no-image", a->no_image,
              "For a folder: do not walk its E01 (the bodyfile then lists the artefacts)");
  c->add_flag("--no-exif", a->no_exif, "Leave JPEG EXIF dates out");
  c->add_flag("--force", a->force, "Replace existing timeline files");
  c->callback([a] { run_timeline(*a); });
}

Registrar reg(46, register_timeline);

}  // namespace
}  // namespace safehold::tools
