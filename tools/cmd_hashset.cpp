// `safehold hashset` (import, lookup, info), `safehold pdq` and `safehold export` (VICS, bundles,
// verify).
#include <fmt/core.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/json.hpp"
#include "export/export.hpp"
#include "fs/json.hpp"
#include "hashset/hashset.hpp"
#include "pdq/pdq.hpp"
#include "pdq/video.hpp"
#include "tools/command.hpp"

namespace safehold::tools {
namespace {

namespace hs = hashset;
namespace ex = exports;

std::string human_bytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", n) : fmt::format("{:.1f} {}", v, units[u]);
}

// Progress on stderr when it is a terminal: bytes so far and rate.
std::function<void(uint64_t)> progress_printer(const char* what) {
  if (!::isatty(2)) return {};
  auto start = std::chrono::steady_clock::now();
  auto last = std::make_shared<std::chrono::steady_clock::time_point>(start);
  return [=](uint64_t done) {
    auto now = std::chrono::steady_clock::now();
    if (now - *last < std::chrono::milliseconds(250)) return;
    *last = now;
    double s = std::chrono::duration<double>(now - start).count();
    std::cerr << fmt::format("\r{}: {} ({}/s)   ", what, human_bytes(done),
                             human_bytes(static_cast<uint64_t>(s > 0 ? done / s : 0)));
  };
}

void clear_progress() {
  if (::isatty(2)) std::cerr << "\r\033[K";
}

std::unique_ptr<hs::HashSet> open_set(const std::string& path) {
  try {
    return hs::HashSet::open(path);
  } catch (const std::exception& e) {
    fail(Exit::usage, e.what());
  }
}

nlohmann::json match_json(const std::optional<hs::Match>& m) {
  if (!m) return nullptr;
  return {{"set", m->set},
          {"category", m->category ? nlohmann::json(*m->category) : nlohmann::json()},
          {"ignorable", m->ignorable}};
}

// The vPDQ files an import reads: INPUT itself, or every *.txt in the folder INPUT, by name.
std::vector<std::filesystem::path> vpdq_inputs(const std::filesystem::path& input) {
  std::error_code ec;
  if (!std::filesystem::is_directory(input, ec)) return {input};
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(input, ec))
    if (e.is_regular_file() && e.path().extension() == ".txt") out.push_back(e.path());
  if (ec) fail(Exit::usage, fmt::format("{}: cannot be listed ({})", input.string(), ec.message()));
  std::sort(out.begin(), out.end());
  if (out.empty()) fail(Exit::usage, fmt::format("{}: holds no vPDQ file (*.txt)", input.string()));
  return out;
}

// `hashset import --format vpdq`: each vPDQ output file (vpdq-hash-video's, or `safehold vpdq`'s)
// becomes one known video named after the file, all with the --category given.
void import_vpdq(const std::string& input, const std::string& output, const std::string& name,
                 const std::string& category, bool ignorable, bool json) {
  auto files = vpdq_inputs(input);
  std::string set_name = name.empty() ? std::filesystem::path(input).stem().string() : name;
  hs::HashSetWriter w(output, set_name, ignorable, "vpdq");
  uint16_t cat = w.category_id(category);
  uint64_t frames = 0;
  for (const auto& f : files) {
    std::vector<pdq::VideoFrame> v;
    try {
      v = pdq::load_vpdq(f);
    } catch (const std::exception& e) {
      fail(Exit::usage, e.what());
    }
    std::vector<hs::VideoFrameHash> hashes;
    for (const auto& x : v) hashes.push_back({x.hash.w, static_cast<uint8_t>(x.quality)});
    w.add_video(f.filename().string(), cat, hashes);
    frames += v.size();
  }
  auto st = w.finish();
  if (json)
    std::cout << base::dump({{"set", output},
                             {"videos", files.size()},
                             {"frames", frames},
                             {"categories", st.categories},
                             {"seconds", st.seconds}})
              << "\n";
  else
    std::cout << fmt::format("{}: {} videos, {} frame hashes stored; {} categories; {:.1f} s\n",
                             base::printable(output), files.size(), frames, st.categories,
                             st.seconds);
}

void register_hashset(CLI::App& app) {
  auto* hs_cmd = app.add_subcommand("hashset", "Known-hash sets: import lists, look hashes up");
  hs_cmd->require_subcommand(1);

  // import
  struct ImportArgs {
    std::string format, input, output, name, category;
    bool ignorable = false, json = false;
    unsigned threads = 2;
    bool force = false;
  };
  auto ia = std::make_shared<ImportArgs>();
  auto* imp = hs_cmd->add_subcommand("import", "Build a set file from a hash list");
  imp->add_option("--format", ia->format, "text | nsrl | nsrl-v3 | vics | vpdq")->required();
  imp->add_option("INPUT", ia->input,
                  "The list: text, NSRLFile.txt, an RDS v3 SQLite file, VICS JSON, or a vPDQ "
                  "file (or a folder of them, *.txt)")
      ->required();
  imp->add_option("--category", ia->category, "vpdq: the category of every video imported");
  imp->add_option("-o,--output", ia->output, "The set file to write")->required();
  imp->add_option("--name", ia->name, "Name reported with every match (default: the input's name)");
  imp->add_flag("--ignorable", ia->ignorable, "Matches are ignorable (always so for NSRL)");
  imp->add_option("--threads", ia->threads, "Threads for sorting")->check(CLI::Range(1, 64));
  imp->add_flag("--json", ia->json, "Print the counts as JSON");
  imp->add_flag("--force", ia->force, "Replace an existing set file");
  imp->callback([ia] {
    refuse_existing(ia->output, ia->force);
    if (ia->format == "vpdq") {
      try {
        import_vpdq(ia->input, ia->output, ia->name, ia->category, ia->ignorable, ia->json);
      } catch (const std::runtime_error& e) {
        fail(Exit::failed, e.what());
      }
      return;
    }
    if (!ia->category.empty()) fail(Exit::usage, "--category is for --format vpdq only");
    auto fmt_ = hs::parse_format(ia->format);
    if (!fmt_)
      fail(Exit::usage,
           fmt::format("--format {}: expected text, nsrl, nsrl-v3, vics or vpdq", ia->format));
    hs::ImportOptions o;
    o.format = *fmt_;
    o.name = ia->name;
    o.ignorable = ia->ignorable;
    o.threads = ia->threads;
    o.progress = progress_printer("reading");
    hs::ImportStats st;
    try {
      st = hs::import_hashset(ia->input, ia->output, o);
    } catch (const hs::ImportError& e) {
      clear_progress();
      fail(Exit::usage, e.what());
    } catch (const std::exception& e) {
      clear_progress();
      fail(Exit::failed, e.what());
    }
    clear_progress();
    if (ia->json) {
      std::cout << base::dump({{"set", ia->output},
                               {"records", st.records},
                               {"md5", st.unique[0]},
                               {"sha1", st.unique[1]},
                               {"sha256", st.unique[2]},
                               {"categories", st.categories},
                               {"seconds", st.seconds}})
                << "\n";
    } else {
      std::cout << fmt::format(
          "{}: {} records read; {} MD5, {} SHA-1, {} SHA-256 stored; {} categories; {:.1f} s\n",
          base::printable(ia->output), st.records, st.unique[0], st.unique[1], st.unique[2],
          st.categories, st.seconds);
    }
  });

  // lookup
  struct LookupArgs {
    std::string set;
    std::vector<std::string> hashes;
    bool json = false;
  };
  auto la = std::make_shared<LookupArgs>();
  auto* lk = hs_cmd->add_subcommand("lookup", "Look MD5, SHA-1 or SHA-256 hashes up in a set");
  lk->add_option("SET", la->set, "A set file made by `safehold hashset import`")->required();
  lk->add_option("HASH", la->hashes, "Hashes to look up (none: read them from stdin, one a line)");
  lk->add_flag("--json", la->json, "One JSON object a line");
  lk->callback([la] {
    auto set = open_set(la->set);
    auto one = [&](const std::string& raw) {
      std::string h = raw;
      while (!h.empty() && (h.back() == '\r' || h.back() == ' ')) h.pop_back();
      if (h.empty()) return;
      auto d = hs::parse_digest(h);
      if (!d)
        fail(Exit::usage,
             fmt::format("\"{}\" is not an MD5, SHA-1 or SHA-256 hash", base::printable(h)));
      auto m = set->lookup(*d);
      if (la->json) {
        std::cout << base::dump({{"hash", d->hex()},
                                 {"algo", hs::to_string(d->algo)},
                                 {"known", match_json(m)}})
                  << "\n";
      } else if (m) {
        std::cout << fmt::format(
            "{}  known  set={} category={}{}\n", d->hex(), base::printable(m->set),
            m->category ? base::printable(*m->category) : "-", m->ignorable ? " ignorable" : "");
      } else {
        std::cout << fmt::format("{}  not found\n", d->hex());
      }
    };
    if (la->hashes.empty()) {
      std::string line;
      while (std::getline(std::cin, line)) one(line);
    } else {
      for (auto& h : la->hashes) one(h);
    }
  });

  // info
  auto info_set = std::make_shared<std::string>();
  auto* inf = hs_cmd->add_subcommand("info", "Show a set's name, origin and counts");
  inf->add_option("SET", *info_set, "A set file")->required();
  inf->callback([info_set] {
    auto s = open_set(*info_set);
    std::cout << fmt::format(
        "Name:        {}\nSource:      {}\nIgnorable:   {}\nMD5:         {}\n"
        "SHA-1:       {}\nSHA-256:     {}\nVideos:      {}\nCategories:  {}\n",
        base::printable(s->name()), s->source_format(), s->ignorable() ? "yes" : "no",
        s->count(hs::Algo::md5), s->count(hs::Algo::sha1), s->count(hs::Algo::sha256),
        s->videos().size(), s->categories().size() - 1);
  });
}

void register_pdq(CLI::App& app) {
  struct PdqArgs {
    std::vector<std::string> images;
    std::string list;
    bool json = false;
  };
  auto pa = std::make_shared<PdqArgs>();
  auto* cmd = app.add_subcommand(
      "pdq", "PDQ perceptual hashes of JPEG and PNG images; match against a PDQ list");
  cmd->add_option("IMAGE", pa->images, "Images")->required();
  cmd->add_option("--match", pa->list, "A PDQ list (one hex hash a line, optional label)");
  cmd->add_flag("--json", pa->json, "One JSON object a line");
  cmd->callback([pa] {
    std::vector<pdq::ListEntry> list;
    if (!pa->list.empty()) {
      try {
        list = pdq::load_list(pa->list);
      } catch (const std::exception& e) {
        fail(Exit::usage, e.what());
      }
    }
    bool failed = false;
    for (auto& path : pa->images) {
      std::string err;
      auto img = pdq::decode_image_file(path, &err);
      if (!img) {
        std::cerr << "safehold: " << base::printable(path) << ": " << err << "\n";
        failed = true;
        continue;
      }
      auto d = pdq::hash_image_dihedral(*img);
      std::optional<pdq::ListMatch> m;
      if (!list.empty() && d.quality >= pdq::kMinQuality) m = pdq::match(d, list);
      if (pa->json) {
        nlohmann::json j{{"file", path}, {"pdq", d.hashes[0].hex()}, {"quality", d.quality}};
        if (!pa->list.empty())
          j["match"] = m ? nlohmann::json{{"hash", list[m->entry].hash.hex()},
                                          {"label", list[m->entry].label},
                                          {"distance", m->distance}}
                         : nlohmann::json();
        std::cout << base::dump(j) << "\n";
      } else {
        std::cout << fmt::format("{}  {:>3}  {}", d.hashes[0].hex(), d.quality,
                                 base::printable(path));
        if (m)
          std::cout << fmt::format("  match {} (distance {})",
                                   base::printable(list[m->entry].label), m->distance);
        std::cout << "\n";
      }
    }
    // An image that cannot be read is an unreadable input (README "Exit codes": 1).
    if (failed) throw CommandExit{static_cast<int>(Exit::usage)};
  });
}

template <class Args>
ex::VicsOptions vics_options(const Args& a) {
  ex::VicsOptions o;
  if (a.shape == "uk-cases")
    o.shape = ex::VicsShape::uk_cases;
  else if (a.shape != "media")
    fail(Exit::usage, fmt::format("--shape {}: expected media or uk-cases", a.shape));
  if (!a.grades.empty()) o.grades = ex::read_grades(a.grades);
  o.case_ref = a.case_ref;
  o.exhibits = a.exhibits;
  o.force = a.force;
  return o;
}

void register_export(CLI::App& app) {
  struct ExportArgs {
    std::string vics, bundle, verify;
    std::vector<std::string> dirs;
    int level = 3;
    unsigned threads = 0;
    bool json = false;
    std::string shape = "media", grades, case_ref;
    std::vector<std::string> exhibits;
    bool force = false;
  };
  auto ea = std::make_shared<ExportArgs>();
  auto* cmd =
      app.add_subcommand("export", "Export carve results: VICS JSON, self-checking bundles");
  auto* o_vics =
      cmd->add_option("--vics", ea->vics, "Write Project VIC VICS 2.0 JSON to this file");
  auto* o_bundle =
      cmd->add_option("--bundle", ea->bundle, "Write a .tar.zst bundle with a SHA-256 manifest");
  auto* o_verify =
      cmd->add_option("--verify", ea->verify, "Check every file of a bundle against its manifest");
  o_vics->excludes(o_verify);
  o_bundle->excludes(o_verify);
  cmd->add_option("CARVE_DIR", ea->dirs, "Output directories of `safehold carve` (one per device)");
  cmd->add_option("--level", ea->level, "zstd level for --bundle")->check(CLI::Range(1, 19));
  cmd->add_option("--threads", ea->threads, "zstd workers for --bundle (default: one per core)");
  cmd->add_flag("--json", ea->json, "Print the result as JSON");
  cmd->add_option("--shape", ea->shape,
                  "VICS shape: media (flat Project VIC 2.0 #Media, IPED) or uk-cases (UK #Cases "
                  "with a case header, CAID)");
  cmd->add_option("--grades", ea->grades,
                  "JSON object of MD5 or SHA-1 to category (0-4; 0 = not graded) for --vics");
  cmd->add_option("--case", ea->case_ref,
                  "Case reference of the uk-cases header (default: the acquisition records')");
  cmd->add_option("--exhibit", ea->exhibits,
                  "Exhibit reference, once per CARVE_DIR in order (default: acquisition records)")
      ->allow_extra_args(false);  // one value each: a CARVE_DIR after it is not an exhibit
  cmd->add_flag("--force", ea->force, "Replace existing --vics or --bundle files");
  cmd->callback([ea] {
    if (ea->vics.empty() && ea->bundle.empty() && ea->verify.empty())
      fail(Exit::usage, "export: give --vics OUT.json, --bundle OUT.tar.zst or --verify BUNDLE");
    if (!ea->verify.empty()) {
      if (!ea->dirs.empty()) fail(Exit::usage, "export --verify takes only the bundle");
      auto r = ex::verify_bundle(ea->verify);
      if (ea->json) {
        std::cout << base::dump({{"bundle", ea->verify},
                                 {"ok", r.ok()},
                                 {"files", r.files},
                                 {"listed", r.listed},
                                 {"problems", r.problems}})
                  << "\n";
      } else {
        for (auto& p : r.problems) std::cerr << "safehold: " << base::printable(p) << "\n";
        if (r.ok())
          std::cout << fmt::format("{}: OK, {} files match the manifest\n",
                                   base::printable(ea->verify), r.files);
        else
          std::cout << fmt::format("{}: FAILED, {} problems\n", base::printable(ea->verify),
                                   r.problems.size());
      }
      if (!r.ok()) throw CommandExit{static_cast<int>(Exit::mismatch)};
      return;
    }
    if (ea->dirs.empty()) fail(Exit::usage, "export: give at least one CARVE_DIR");
    if (ea->vics.empty() && (ea->shape != "media" || !ea->grades.empty() || !ea->case_ref.empty() ||
                             !ea->exhibits.empty() || (ea->force && ea->bundle.empty())))
      fail(Exit::usage,
           "export: --shape, --grades, --exhibit and --case go with --vics, --force with --vics or "
           "--bundle");
    // --vics: write_vics refuses an existing output itself, after naming any bad input first.
    if (!ea->bundle.empty()) refuse_existing(ea->bundle, ea->force);
    std::vector<std::filesystem::path> dirs(ea->dirs.begin(), ea->dirs.end());
    nlohmann::json out = nlohmann::json::object();
    try {
      if (!ea->vics.empty()) {
        auto st = ex::write_vics(dirs, ea->vics, vics_options(*ea));
        out["vics"] = {{"file", ea->vics},    {"shape", ea->shape},     {"artefacts", st.artefacts},
                       {"media", st.media},   {"merged", st.merged},    {"skipped", st.skipped},
                       {"graded", st.graded}, {"ungraded", st.ungraded}};
        if (!ea->json)
          std::cout << fmt::format(
              "{}: {} Media from {} artefacts ({} duplicates merged, {} graded, {} ungraded)\n",
              base::printable(ea->vics), st.media, st.artefacts, st.merged, st.graded, st.ungraded);
      }
      if (!ea->bundle.empty()) {
        ex::BundleOptions bo;
        bo.level = ea->level;
        bo.threads = ea->threads;
        bo.progress = progress_printer("bundling");
        auto st = ex::write_bundle(dirs, ea->bundle, bo);
        clear_progress();
        out["bundle"] = {{"file", ea->bundle},
                         {"files", st.files},
                         {"bytes_in", st.bytes_in},
                         {"bytes_out", st.bytes_out}};
        if (!ea->json)
          std::cout << fmt::format("{}: {} files, {} in, {} out, with {}\n",
                                   base::printable(ea->bundle), st.files, human_bytes(st.bytes_in),
                                   human_bytes(st.bytes_out), ex::kManifestName);
      }
    } catch (const ex::ExportError& e) {
      clear_progress();
      fail(Exit::usage, e.what());
    }
    if (ea->json) std::cout << base::dump(out) << "\n";
  });
}

Registrar reg_hashset(60, register_hashset);
Registrar reg_pdq(61, register_pdq);
Registrar reg_export(62, register_export);

}  // namespace
}  // namespace safehold::tools
