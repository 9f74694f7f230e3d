// `safehold vpdq`: vPDQ-compatible frame hashes of videos (pdq/video.hpp), written in vPDQ's own
// line format, and vPDQ's comparison of two such lists.
#include <fmt/core.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/json.hpp"
#include "pdq/video.hpp"
#include "tools/command.hpp"

namespace safehold::tools {
namespace {

struct VpdqArgs {
  std::vector<std::string> videos;
  std::string output, match;
  double seconds = 1.0;
  int threads = 0;
  bool json = false;
};

void write_hashes(const std::string& path, const std::vector<pdq::VideoFrame>& frames) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << pdq::format_vpdq(frames);
  out.close();
  if (!out) fail(Exit::failed, fmt::format("{}: cannot be written", base::printable(path)));
}

void print_match(const std::string& video, const std::vector<pdq::VideoFrame>& frames,
                 const std::vector<pdq::VideoFrame>& known, bool json) {
  auto m = pdq::match_videos(frames, known);
  if (json)
    std::cout << base::dump({{"video", video},
                             {"query_percent", m.query_percent},
                             {"target_percent", m.target_percent},
                             {"match", m.match}})
              << "\n";
  else
    std::cout << fmt::format(
        "{}: {:.2f}% of its frames in the known video, {:.2f}% the other way: "
        "{}\n",
        base::printable(video), m.query_percent, m.target_percent, m.match ? "match" : "no match");
}

void run(const VpdqArgs& a) {
  if (!a.output.empty() && a.videos.size() != 1)
    fail(Exit::usage, "-o/--output takes one video; give one video or none");
  std::vector<pdq::VideoFrame> known;
  if (!a.match.empty()) {
    try {
      known = pdq::load_vpdq(a.match);
    } catch (const std::exception& e) {
      fail(Exit::usage, e.what());
    }
  }
  pdq::VideoOptions o;
  o.seconds_per_hash = a.seconds;
  o.threads = a.threads;
  bool failed = false;
  for (const auto& v : a.videos) {
    pdq::VideoHashes h;
    try {
      h = pdq::hash_video_file(v, o);
    } catch (const pdq::VideoError& e) {
      std::cerr << "safehold: " << base::printable(e.what()) << "\n";
      failed = true;
      continue;
    }
    if (!a.output.empty())
      write_hashes(a.output, h.frames);
    else if (a.match.empty())
      std::cout << pdq::format_vpdq(h.frames);
    if (!a.match.empty()) print_match(v, h.frames, known, a.json);
  }
  if (failed) throw CommandExit{static_cast<int>(Exit::usage)};
}

void register_vpdq(CLI::App& app) {
  auto a = std::make_shared<VpdqArgs>();
  auto* cmd = app.add_subcommand(
      "vpdq", "Frame hashes of videos as vPDQ computes them; compare with a known video's");
  cmd->add_option("VIDEO", a->videos, "Videos (MP4, MOV, 3GP, AVI, MKV, ...)")->required();
  cmd->add_option("-o,--output", a->output,
                  "Write the hashes to this file (vPDQ's format) instead of stdout");
  cmd->add_option("-r,--seconds-per-hash", a->seconds, "A frame every S seconds (0: every frame)")
      ->check(CLI::Range(0.0, 3600.0));
  cmd->add_option("--threads", a->threads, "Decoder threads (0: FFmpeg's choice)")
      ->check(CLI::Range(0, 64));
  cmd->add_option("--match", a->match,
                  "A known video's hashes (vPDQ's format): print vPDQ's match percentages");
  cmd->add_flag("--json", a->json, "With --match: one JSON object a line");
  cmd->callback([a] { run(*a); });
}

Registrar reg_vpdq(63, register_vpdq);

}  // namespace
}  // namespace safehold::tools
