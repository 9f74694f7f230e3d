// The pipeline: output layout ready → pass 2's carve space computed → pass 1 and pass 2 at once
// (pass 1's files written by the job queue as they are found, pass 2's held) → pass 2 settled
// after pass 1 (duplicates dropped, final ids, files written) → chat readers → ignorable
// databases removed → reports. Every artefact is written once, under its final id.
#include "carve/carver.hpp"

#include <algorithm>
#include <fstream>
#include <optional>
#include <thread>

#include "base/json.hpp"
#include "carve/chat_link.hpp"
#include "carve/pass1.hpp"
#include "carve/pass2.hpp"
#include "carve/video_hash.hpp"
#include "fs/json.hpp"

namespace safehold::carve {

nlohmann::json to_json(const Summary& s) {
  nlohmann::json j;
  j["artefacts"] = s.artefacts;
  j["counts"] = s.counts;
  j["bytes_read"] = s.bytes_read;
  j["files_examined"] = s.files_examined;
  j["carve_space"] = s.carve_space;
  j["invalid_fragments"] = s.invalid;
  j["truncated_fragments"] = s.truncated;
  j["bifragment_jpegs"] = s.bifragment;
  j["chat_readers"] = s.chat_linked;
  j["known"] = s.known;
  j["known_ignorable_skipped"] = s.known_skipped;
  j["videos_hashed"] = s.videos_hashed;
  j["videos_failed"] = s.videos_failed;
  j["videos_known"] = s.videos_known;
  j["duration_seconds"] = s.seconds;
  auto errs = nlohmann::json::array();
  for (auto& p : s.errors) errs.push_back(fs::to_json(p));
  j["errors"] = errs;
  auto bad = nlohmann::json::array();
  for (auto& e : s.unreadable)
    bad.push_back({{"img_offset", e.img_offset}, {"len", e.len}, {"message", e.message}});
  j["unreadable"] = bad;
  j["unreadable_files"] = s.unreadable_files;
  j["complete"] = s.complete;
  return j;
}

namespace {

// Runs pass 1 on this thread and pass 2 (when asked for) on another, which then helps with pass
// 1's jobs. Returns once both are done and every job has finished.
void run_passes(Pass1& p1, Pass2* p2, Jobs& jobs) {
  std::exception_ptr err2, errj;
  std::thread t2;
  if (p2)
    t2 = std::thread([&] {
      try {
        p2->run();
      } catch (...) {
        err2 = std::current_exception();
      }
      jobs.help();
    });
  try {
    p1.run();
  } catch (...) {
    if (p2) p2->stop();
    jobs.wait();
    if (t2.joinable()) t2.join();
    throw;
  }
  try {
    jobs.finish();
  } catch (...) {
    errj = std::current_exception();
  }
  if (t2.joinable()) t2.join();
  if (err2) std::rethrow_exception(err2);
  if (errj) std::rethrow_exception(errj);
}

// Evidence problems in summary.json's order: those met before the passes, pass 1's file reads,
// pass 2's image reads, the chat readers', computing the carve space, then the evidence's own
// list from where it stood at the start (the walks' part in filesystem order).
struct ErrorSources {
  std::vector<fs::Problem> at_start, reads1, reads2, chat, space;
  std::vector<fs::ChunkError> unreadable2;
  size_t known = 0;  // ev.problems().size() at the start
};
std::vector<fs::Problem> collect_errors(const fs::Evidence& ev, const ErrorSources& s,
                                        const Pass1& p1) {
  std::vector<fs::Problem> out = s.at_start;
  for (auto* part : {&s.reads1, &s.reads2, &s.chat, &s.space})
    out.insert(out.end(), part->begin(), part->end());
  const auto& probs = ev.problems();
  for (size_t i = s.known; i < std::min(p1.walk_begin(), probs.size()); ++i)
    out.push_back(probs[i]);
  for (auto [a, b] : p1.walk_problems())
    for (size_t i = a; i < b; ++i) out.push_back(probs[i]);
  for (size_t i = std::max(p1.walk_end(), s.known); i < probs.size(); ++i) out.push_back(probs[i]);
  return out;
}

// What could not be read: the image's own damage, then pass 2's unreadable ranges not inside it.
void unreadable_of(const fs::Evidence& ev, const ErrorSources& s, Summary& sum) {
  sum.unreadable = ev.image().damage();
  for (auto& e : s.unreadable2) {
    const bool known = std::any_of(sum.unreadable.begin(), sum.unreadable.end(), [&](auto& d) {
      return d.img_offset <= e.img_offset && e.img_offset + e.len <= d.img_offset + d.len;
    });
    if (!known) sum.unreadable.push_back(e);
  }
  std::sort(sum.unreadable.begin(), sum.unreadable.end(),
            [](auto& a, auto& b) { return a.img_offset < b.img_offset; });
  sum.unreadable_files = s.reads1.size();
  sum.complete = sum.unreadable.empty() && sum.unreadable_files == 0;
}

void write_reports(const fs::Evidence& ev, const CarveOptions& o,
                   const std::vector<Artefact>& arts) {
  std::ofstream out(o.outdir / "report.jsonl", std::ios::binary);
  for (auto& a : arts) out << base::dump(to_json(a)) << "\n";
  out.close();
  if (!out) throw std::runtime_error("cannot write report.jsonl");
  DfxmlSource src;
  src.image = ev.image().path().filename().string();
  src.sector_size = ev.image().sector_size();
  src.command_line = o.command_line;
  write_dfxml(o.outdir / "dfxml.xml", src, arts);
}

}  // namespace

Summary carve(fs::Evidence& ev, const CarveOptions& opts) {
  auto t0 = std::chrono::steady_clock::now();
  const Registry& reg = Registry::builtin();
  const TypeFilter filter(reg, opts.types);
  const KnownCheck known(opts.known, opts.skip_known_ignorable);
  Layout layout(opts.outdir);
  layout.prepare();
  const StageContext c{ev, opts, reg, filter, known, layout};
  ProgressHub hub(opts.progress);
  ErrorSources errs;
  errs.at_start = ev.problems();
  errs.known = ev.problems().size();

  // Pass 2's space before the threads: pass 2 cannot start without it, and pass 1's walker
  // would hold the locks of the filesystems it asks about.
  std::optional<Pass2> p2;
  if (opts.unallocated) p2.emplace(c, hub, CarveSpace::of(ev, errs.space));
  Jobs jobs;  // run_passes() leaves none running, whatever happens
  Pass1 p1(c, jobs, hub);
  run_passes(p1, p2 ? &*p2 : nullptr, jobs);
  p1.apply_jobs();
  std::vector<Artefact>& arts = p1.artefacts();
  Summary sum;
  sum.files_examined = p1.files_examined();
  sum.bytes_read = p1.bytes_read();
  errs.reads1 = p1.read_errors();
  if (p2) {
    p2->settle(arts, p1.top_level());
    const Pass2Stats& s2 = p2->stats();
    sum.invalid = s2.invalid;
    sum.truncated = s2.truncated;
    sum.bifragment = s2.bifragment;
    sum.carve_space = s2.carve_space;
    sum.bytes_read += s2.bytes_read;
    errs.reads2 = s2.errors;
    errs.unreadable2 = s2.unreadable;
    p2.reset();  // its scratch file goes
  }

  sum.chat_linked = true;
  if (std::any_of(arts.begin(), arts.end(), [](auto& a) { return a.type == "sqlite"; }))
    p1.report("chat");
  ChatTotals chats = read_chats(arts, opts.outdir, errs.chat);
  sum.messages = chats.messages;
  sum.recovered_messages = chats.recovered;
  if (std::any_of(arts.begin(), arts.end(), [](auto& a) { return video_type(a.type); }))
    p1.report("videos");
  VideoStats vs = hash_videos(arts, opts.outdir, KnownVideos(opts.known), opts.threads);
  sum.videos_hashed = vs.hashed;
  sum.videos_failed = vs.failed;
  sum.videos_known = vs.known;
  known.remove_ignorable_databases(arts, opts.outdir);
  KnownCounts kc = count_known(arts);
  sum.known = kc.known;
  sum.known_skipped = kc.skipped;

  sum.errors = collect_errors(ev, errs, p1);
  unreadable_of(ev, errs, sum);
  for (auto& a : arts) {
    sum.counts[a.type][a.state]++;
    sum.artefacts++;
  }
  p1.report("reports");
  write_reports(ev, opts, arts);
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::ofstream(opts.outdir / "summary.json") << base::dump(to_json(sum), 2) << "\n";
  return sum;
}

}  // namespace safehold::carve
