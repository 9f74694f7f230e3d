#include "carve/video_hash.hpp"

#include <algorithm>
#include <atomic>
#include <fstream>
#include <thread>

#include "base/task_group.hpp"

namespace safehold::carve {

bool video_type(const std::string& type) {
  static const char* const kTypes[] = {"mp4", "mov", "3gp", "m4v", "avi", "asf", "mkv", "webm"};
  return std::find(std::begin(kTypes), std::end(kTypes), type) != std::end(kTypes);
}

KnownVideos::KnownVideos(const hashset::HashSets* sets) {
  if (!sets) return;
  for (const auto& s : sets->sets())
    for (const auto& v : s->videos()) {
      Entry e{s.get(), &v, {}};
      e.frames.reserve(v.count());
      for (size_t i = 0; i < v.count(); ++i) {
        auto f = v.frame(i);
        pdq::VideoFrame pf;
        pf.frame_number = static_cast<int>(i);
        pf.hash.w = f.words;
        pf.quality = f.quality;
        e.frames.push_back(pf);
      }
      videos_.push_back(std::move(e));
    }
}

std::optional<hashset::Match> KnownVideos::match(const std::vector<pdq::VideoFrame>& frames) const {
  const Entry* best = nullptr;
  double best_pct = -1;
  for (const auto& e : videos_) {
    auto m = pdq::match_videos(frames, e.frames);
    if (m.match && m.query_percent > best_pct) {
      best = &e;
      best_pct = m.query_percent;
    }
  }
  if (!best) return std::nullopt;
  auto m = best->set->video_match(*best->video);
  m.video_percent = best_pct;
  return m;
}

namespace {

struct Result {
  std::optional<std::vector<pdq::VideoFrame>> frames;
  std::string error;
};

Result hash_one(const Artefact& a, const std::filesystem::path& outdir) {
  Result r;
  pdq::VideoOptions o;
  o.threads = 1;  // one video a thread
  try {
    r.frames = pdq::hash_video_file(outdir / a.file, o, a.file).frames;
  } catch (const pdq::VideoError& e) {
    r.error = e.what();
  }
  return r;
}

void write_sidecar(Artefact& a, const std::filesystem::path& outdir,
                   const std::vector<pdq::VideoFrame>& frames) {
  const std::string rel = "vpdq/" + a.id + ".txt";
  std::filesystem::create_directories(outdir / "vpdq");
  std::ofstream out(outdir / rel, std::ios::binary | std::ios::trunc);
  out << pdq::format_vpdq(frames);
  out.close();
  if (!out) throw std::runtime_error("cannot write " + (outdir / rel).string());
  a.vpdq_file = rel;
  a.vpdq_frames = frames.size();
}

}  // namespace

VideoStats hash_videos(std::vector<Artefact>& arts, const std::filesystem::path& outdir,
                       const KnownVideos& known, unsigned threads) {
  std::vector<size_t> todo;
  for (size_t i = 0; i < arts.size(); ++i)
    if (video_type(arts[i].type) && !arts[i].file.empty()) todo.push_back(i);
  std::vector<Result> results(todo.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t k; (k = next++) < todo.size();) results[k] = hash_one(arts[todo[k]], outdir);
  };
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::clamp<size_t>(todo.size(), 1, threads));
  base::TaskGroup group;
  for (unsigned t = 0; t < threads; ++t) group.run(work);
  if (auto err = group.wait()) throw std::runtime_error(*err);
  VideoStats st;
  for (size_t k = 0; k < todo.size(); ++k) {
    Artefact& a = arts[todo[k]];
    if (!results[k].frames) {
      a.warnings.push_back("vPDQ: " + results[k].error);
      ++st.failed;
      continue;
    }
    write_sidecar(a, outdir, *results[k].frames);
    ++st.hashed;
    if (a.known || known.empty()) continue;
    a.known = known.match(*results[k].frames);
    if (a.known) ++st.known;
  }
  return st;
}

}  // namespace safehold::carve
