#include "acquire/outputs.hpp"

#include <fmt/core.h>

#include "acquire/ewf_writer.hpp"

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

OutputPlan prepare_outputs(const Options& o, const OutputPaths& p) {
  std::error_code ec;
  if (!fsys::is_directory(p.dir, ec))
    throw AcquireError(Kind::usage,
                       fmt::format("{}: the output folder does not exist", p.dir.string()));
  if (o.hashes == 0)
    throw AcquireError(Kind::usage, "at least one hash (md5, sha1, sha256) is needed");

  OutputPlan plan;
  auto segments = existing_segments(p.base);
  // An acquisition killed right after it started can leave a first segment
  // without even its file header (libewf writes it with the first chunks):
  // there is nothing in it to continue, so
  // --resume starts over. The resume state proves that the file is Safehold's
  // own.
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
    // No image: what is there is from an attempt that wrote nothing; its log is
    // kept (appended).
    for (auto& f : {p.record, p.state}) fsys::remove(f, ec);
  }
  return plan;
}

}  // namespace safehold::acquire
