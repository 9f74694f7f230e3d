#include "acquire/outputs.hpp"

#include <fmt/core.h>
#include <sys/stat.h>

#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>

#include "acquire/ewf_writer.hpp"
#include "base/json.hpp"

namespace safehold::acquire {

namespace fsys = std::filesystem;
using Kind = AcquireError::Kind;

OutputPaths::OutputPaths(const fsys::path& out_base) : base(base_of_image(out_base)) {
  auto with = [&](const char* suffix) {
    fsys::path p = base;
    p += suffix;
    return p;
  };
  e01 = with(".E01");
  record = with(".acquire.json");
  log = with(".acquire.log");
  state = with(".acquire.state");
  dir = base.parent_path().empty() ? fsys::path(".") : base.parent_path();
}

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Whether `name` is one the acquisition may create, overwrite or delete for output base `stem`:
// a segment (.E01 ... .E99, .EAA ... .ZZZ, which --force deletes), the record, log or state, or
// their temporary files. Without regard to case for the record's names and .E01 ... .E99, which
// a case-insensitive destination would overwrite.
bool is_output_name(const std::string& name, const std::string& stem) {
  const std::string s = stem + ".";
  if (name.size() <= s.size() || lower(name.substr(0, s.size())) != lower(s)) return false;
  const std::string ext = name.substr(s.size()), lext = lower(ext);
  for (const char* f :
       {"acquire.json", "acquire.log", "acquire.state", "acquire.json.tmp", "acquire.state.tmp"})
    if (lext == f) return true;
  if (ext.size() != 3) return false;
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  auto upper_alnum = [&](char c) { return digit(c) || (c >= 'A' && c <= 'Z'); };
  if (lext[0] == 'e' && digit(ext[1]) && digit(ext[2])) return true;
  return ext[0] >= 'E' && ext[0] <= 'Z' && upper_alnum(ext[1]) && upper_alnum(ext[2]);
}

bool same_file(const struct stat& a, const struct stat& b) {
  if (S_ISBLK(a.st_mode) && S_ISBLK(b.st_mode)) return a.st_rdev == b.st_rdev;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

[[noreturn]] void refuse(const std::string& source, const fsys::path& output) {
  throw AcquireError(
      Kind::usage,
      fmt::format("{}: the output {} is the source itself, and acquiring would overwrite or "
                  "delete it; choose another output base (-o)",
                  base::printable(source), base::printable(output.string())));
}

// Refuses an output whose files would be the source: by name (the source's own path, or where a
// link to it leads, among the output names) and by identity (an existing output name that is the
// source's inode through a hard link or symbolic link, or the same block device).
void refuse_source_as_output(const std::string& source, const OutputPaths& p) {
  struct stat src {};
  if (::stat(source.c_str(), &src) != 0) return;  // the source's own error comes later
  std::error_code ec;
  const fsys::path dir = fsys::weakly_canonical(fsys::absolute(p.dir, ec), ec);
  const std::string stem = p.base.filename().string();
  for (const fsys::path& named : {fsys::absolute(source, ec), fsys::canonical(source, ec)}) {
    if (named.empty()) continue;
    const fsys::path parent = fsys::weakly_canonical(named.parent_path(), ec);
    if (parent == dir && is_output_name(named.filename().string(), stem)) refuse(source, named);
  }
  for (auto& e : fsys::directory_iterator(p.dir, ec)) {
    if (!is_output_name(e.path().filename().string(), stem)) continue;
    struct stat out {};
    if (::stat(e.path().c_str(), &out) == 0 && same_file(src, out)) refuse(source, e.path());
  }
}

// The original read-only flags an interrupted acquisition of the same source kept in its state.
std::map<std::string, bool> recorded_flags(const fsys::path& state, const std::string& source) {
  std::map<std::string, bool> out;
  try {
    std::ifstream in(state);
    if (!in) return out;
    const nlohmann::json j = nlohmann::json::parse(in);
    if (j.value("source", std::string()) != source) return out;
    for (auto& f : j.value("write_block_original", nlohmann::json::array()))
      out[f.value("dev", std::string())] = f.value("read_only", false);
  } catch (const std::exception&) {
    out.clear();  // an unreadable state is reported when it is needed (--resume)
  }
  return out;
}

}  // namespace

OutputPlan prepare_outputs(const Options& o, const OutputPaths& p) {
  std::error_code ec;
  if (!fsys::is_directory(p.dir, ec))
    throw AcquireError(Kind::usage,
                       fmt::format("{}: the output folder does not exist", p.dir.string()));
  if (o.hashes == 0)
    throw AcquireError(Kind::usage, "at least one hash (md5, sha1, sha256) is needed");
  refuse_source_as_output(o.source, p);

  OutputPlan plan;
  plan.original_read_only = recorded_flags(p.state, o.source);
  auto segments = existing_segments(p.base);
  // An acquisition killed right after it started can leave a first segment without even its file
  // header (libewf writes it with the first chunks): there is nothing in it to continue, so
  // --resume starts over. The resume state proves that the file is Safehold's own.
  constexpr uint64_t kSmallestSegment = 13 + 76;  // EWF file header + one section descriptor
  plan.empty_attempt = o.resume && fsys::exists(p.state) && segments.size() == 1 &&
                       (plan.empty_segment_bytes = fsys::file_size(segments.front(), ec), !ec) &&
                       plan.empty_segment_bytes < kSmallestSegment;
  if (plan.empty_attempt) {
    for (auto& s : segments) fsys::remove(s, ec);
    for (auto& f : {p.record, p.state}) fsys::remove(f, ec);
  } else if (!segments.empty()) {
    if (o.resume && fsys::exists(p.state)) {
      plan.resuming = true;
    } else if (o.force) {
      for (auto& s : segments) fsys::remove(s, ec);
      for (auto& f : {p.record, p.log, p.state}) fsys::remove(f, ec);
    } else if (o.resume) {
      throw AcquireError(
          Kind::usage, fmt::format("{}: exists but has no resume state ({}); it is complete or was "
                                   "not made by safehold (use --force to overwrite)",
                                   p.e01.string(), p.state.filename().string()));
    } else {
      throw AcquireError(
          Kind::usage,
          fmt::format("{}: already exists; use --force to overwrite it{}", p.e01.string(),
                      fsys::exists(p.state) ? " or --resume to continue it" : ""));
    }
  } else {
    // No image: what is there is from an attempt that wrote nothing; its log is kept (appended).
    for (auto& f : {p.record, p.state}) fsys::remove(f, ec);
  }
  return plan;
}

}  // namespace safehold::acquire
