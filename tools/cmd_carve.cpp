// `safehold carve`: media and chat databases out of an image, with filesystem context.
#include <fmt/core.h>
#include <unistd.h>

#include <chrono>
#include <iostream>

#include "base/format.hpp"
#include "base/json.hpp"
#include "base/progress.hpp"
#include "carve/carver.hpp"
#include "fs/evidence.hpp"
#include "fs/json.hpp"
#include "tools/command.hpp"
#include "tools/key_options.hpp"

namespace safehold::tools {
namespace {

struct CarveArgs {
  std::string image, outdir, types = "all";
  bool no_unallocated = false, json = false, force = false, skip_known_ignorable = false;
  std::vector<std::string> known;
  unsigned threads = 0;
  bool raw = false;
  std::vector<std::string> parents;
  KeyArgs keys;
  std::vector<std::string> argv;  // for the reports: never a key (--key VOLUME=…)
};

// Our own outputs, removed by --force (never anything else in OUTDIR).
void clear_outputs(const std::filesystem::path& d) {
  std::error_code ec;
  for (const char* n :
       {"artefacts", "report.jsonl", "dfxml.xml", "summary.json", "messages.jsonl", "messages.csv"})
    std::filesystem::remove_all(d / n, ec);
}

// Anything that could not be read (the image's damage, ranges or files whose reads failed): the
// carve is finished but incomplete, exit 2 (summary.json says what, and the bytes read).
void fail_if_incomplete(const CarveArgs& a, const carve::Summary& s) {
  if (s.complete) return;
  fmt::print(stderr,
             "safehold: {}: carved with read failures: {} unreadable {} of the image, {} {} "
             "not read in full (see summary.json)\n",
             base::printable(a.image), s.unreadable.size(),
             s.unreadable.size() == 1 ? "range" : "ranges", s.unreadable_files,
             s.unreadable_files == 1 ? "file" : "files");
  throw CommandExit{static_cast<int>(Exit::failed)};
}

// An encrypted volume left locked: its raw sectors were carved, its files not (exit 2).
void fail_if_locked(const CarveArgs& a, const fs::Evidence& ev) {
  if (locked_volumes(ev, a.image)) throw CommandExit{static_cast<int>(Exit::failed)};
}

void run_carve(const CarveArgs& a) {
  carve::CarveOptions o;
  try {
    o.types = carve::parse_types(a.types);
  } catch (const std::invalid_argument& e) {
    fail(Exit::usage, std::string("--types: ") + e.what());
  }
  std::filesystem::path out(a.outdir);
  std::error_code ec;
  if (std::filesystem::exists(out, ec)) {
    if (!std::filesystem::is_directory(out, ec))
      fail(Exit::usage, a.outdir + ": exists and is not a folder");
    if (!std::filesystem::is_empty(out, ec)) {
      if (!a.force)
        fail(Exit::usage,
             a.outdir + ": folder is not empty (use --force to replace Safehold's outputs in it)");
      clear_outputs(out);
    }
  }
  hashset::HashSets known;
  for (auto& k : a.known) {
    try {
      known.add(hashset::HashSet::open(k));
    } catch (const std::exception& e) {
      fail(Exit::usage, std::string("--known: ") + e.what());
    }
  }
  if (a.skip_known_ignorable && known.empty())
    fail(Exit::usage, "--skip-known-ignorable needs --known SET");
  std::unique_ptr<fs::Evidence> ev;
  try {
    fs::OpenOptions open;
    open.raw = a.raw;
    open.parents.assign(a.parents.begin(), a.parents.end());
    open.keys = a.keys.gather();
    ev = fs::Evidence::open(a.image, /*labels=*/false, open);  // carving reports no labels
  } catch (const fs::EvidenceError& e) {
    fail(Exit::usage, e.what());
  }
  std::filesystem::create_directories(out, ec);
  if (ec) fail(Exit::usage, a.outdir + ": cannot create folder: " + ec.message());
  o.outdir = out;
  o.unallocated = !a.no_unallocated;
  o.threads = a.threads;
  o.known = &known;
  o.skip_known_ignorable = a.skip_known_ignorable;
  for (auto& s : a.argv) o.command_line += (o.command_line.empty() ? "" : " ") + s;
  const bool tty = !a.json && isatty(STDERR_FILENO);
  // stdout to a log or pipe: a line at least every 5 % or 30 s of each phase.
  const bool lines = !a.json && !isatty(STDOUT_FILENO);
  auto progress_lines = std::make_shared<base::ProgressLines>("carve");
  auto t0 = std::chrono::steady_clock::now();
  if (tty || lines) {
    o.progress = [t0, tty, lines, progress_lines](const carve::Progress& p) {
      if (lines) {
        // "found" while the passes run (candidates included), "artefacts" once it is the summary's.
        auto line = progress_lines->update(
            p.bytes_done, p.bytes_total, false,
            fmt::format("{} {}", p.final_count ? "artefacts" : "found", p.artefacts), p.phase);
        if (!line.empty()) std::cout << line << std::endl;
      }
      if (!tty) return;
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      double rate = secs > 0 ? static_cast<double>(p.bytes_done) / secs : 0;
      std::string eta = "-";
      if (rate > 0 && p.bytes_total > p.bytes_done)
        eta = fmt::format("{:.0f}s", static_cast<double>(p.bytes_total - p.bytes_done) / rate);
      int pct = p.bytes_total ? static_cast<int>(100.0 * static_cast<double>(p.bytes_done) /
                                                 static_cast<double>(p.bytes_total))
                              : 0;
      pct = std::min(pct, 100);
      std::string bar(static_cast<size_t>(pct / 5), '#');
      bar.resize(20, '.');
      fmt::print(stderr, "\r{:<13} [{}] {:>3}% {} / {} {}/s ETA {} {} {}   ", p.phase, bar, pct,
                 base::human_bytes(static_cast<double>(p.bytes_done)),
                 base::human_bytes(static_cast<double>(p.bytes_total)), base::human_bytes(rate),
                 eta, p.final_count ? "artefacts" : "found", p.artefacts);
    };
  }
  carve::Summary s;
  try {
    s = carve::carve(*ev, o);
  } catch (const std::exception& e) {
    if (tty) fmt::print(stderr, "\n");
    fail(Exit::failed, std::string("carving stopped: ") + e.what());
  }
  if (tty) fmt::print(stderr, "\n");
  if (a.json) {
    std::cout << base::dump(carve::to_json(s), 2) << "\n";
    fail_if_incomplete(a, s);
    fail_if_locked(a, *ev);
    return;
  }
  fmt::print("Artefacts: {} in {}\n", s.artefacts, base::printable(a.outdir));
  for (auto& [type, states] : s.counts) {
    std::string line;
    for (auto& [st, n] : states) line += fmt::format(" {} {}", st, n);
    fmt::print("  {:<8}{}\n", type, line);
  }
  uint64_t inval = 0;
  for (auto& [t, n] : s.invalid) inval += n;
  fmt::print(
      "Read {} in {:.1f}s; {} invalid fragments left out; {} JPEGs rebuilt from two fragments\n",
      base::human_bytes(static_cast<double>(s.bytes_read)), s.seconds, inval, s.bifragment);
  if (!known.empty())
    fmt::print("Known: {} artefacts in the hash sets{}\n", s.known,
               a.skip_known_ignorable
                   ? fmt::format(", {} ignorable ones left out of artefacts/", s.known_skipped)
                   : "");
  for (auto& e : s.errors)
    fmt::print(stderr, "safehold: {}: {}\n", base::printable(e.where), base::printable(e.message));
  fail_if_incomplete(a, s);
  fail_if_locked(a, *ev);
}

void register_carve(CLI::App& app) {
  auto* c = app.add_subcommand(
      "carve", "Recover media and chat databases from an image, with filesystem context");
  auto a = std::make_shared<CarveArgs>();
  c->add_option("IMAGE", a->image, "Evidence image (E01, raw, split raw, QCOW2, VHD, VHDX, VMDK)")
      ->required();
  c->add_flag("--raw", a->raw,
              "Read the file as raw media whatever it looks like (container, archive, ...)");
  c->add_option("--parent", a->parents,
                "Parent of a differencing disk, the image's own first (default: beside it)")
      ->allow_extra_args(false);  // one value each: the image that follows is not a parent
  add_key_options(c, a->keys);
  c->add_option("-o,--output", a->outdir, "Output folder (must be empty unless --force)")
      ->required();
  c->add_option("--types", a->types,
                "media, chat, all (default) or a comma list: jpeg,png,gif,bmp,webp,tiff,heif,"
                "mp4,mov,3gp,m4v,m4a,avi,asf,mkv,webm,sqlite");
  c->add_flag("--no-unallocated", a->no_unallocated,
              "Skip pass 2 (carving of unallocated and unpartitioned space)");
  c->add_option("--threads", a->threads, "Decompression threads for E01 (default: all cores)");
  c->add_flag("--json", a->json, "Print the summary as JSON instead of text and a progress bar");
  c->add_flag("--force", a->force, "Replace Safehold's outputs in a non-empty output folder");
  c->add_option("--known", a->known,
                "Known-hash sets (from `safehold hashset import`) to mark artefacts with");
  c->add_flag(
      "--skip-known-ignorable", a->skip_known_ignorable,
      "Leave artefacts found in an ignorable set out of artefacts/ (they stay in the report)");
  c->callback([a] {
    a->argv = {"safehold", "carve", a->image, "-o", a->outdir, "--types", a->types};
    if (a->no_unallocated) a->argv.push_back("--no-unallocated");
    if (a->threads) a->argv.push_back("--threads " + std::to_string(a->threads));
    for (auto& k : a->known) a->argv.insert(a->argv.end(), {"--known", k});
    if (a->skip_known_ignorable) a->argv.push_back("--skip-known-ignorable");
    if (a->raw) a->argv.push_back("--raw");
    for (auto& p : a->parents) a->argv.insert(a->argv.end(), {"--parent", p});
    for (auto& k : a->keys.keys)
      a->argv.insert(a->argv.end(), {"--key", k.substr(0, k.find('=')) + "=…"});
    if (!a->keys.keys_file.empty()) a->argv.insert(a->argv.end(), {"--keys", a->keys.keys_file});
    run_carve(*a);
  });
}

Registrar reg(30, register_carve);

}  // namespace
}  // namespace safehold::tools
