// carve/: what the pipeline's stages share (carver.cpp runs them; pass1, pass2 and the merge use
// them): the stage context, the `--types` filter, the known-hash check made before a file is
// written, the job queue beside pass 1, progress of both passes, and EXIF thumbnails.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "base/hash.hpp"
#include "carve/artefact.hpp"
#include "carve/carver.hpp"
#include "carve/known_mark.hpp"
#include "carve/layout.hpp"
#include "carve/walker.hpp"

namespace safehold::carve {

// The report types `--types` keeps, per type and per walker family.
class TypeFilter {
 public:
  TypeFilter(const Registry& reg, const std::set<std::string>& types);
  bool wanted(const std::string& type) const { return types_.empty() || types_.count(type); }
  // Per walker (Registry::all() order): the family can produce a wanted type.
  const std::vector<bool>& walkers() const { return walkers_; }

 private:
  std::set<std::string> types_;
  std::vector<bool> walkers_;
};

// Everything a stage needs from the run.
struct StageContext {
  fs::Evidence& ev;
  const CarveOptions& opts;
  const Registry& reg;
  const TypeFilter& filter;
  const KnownCheck& known;
  Layout& out;
};

void set_digests(Artefact& a, const base::Digests& d);

// Work on artefact bytes (writing, hashing, PDQ) that runs beside pass 1, which is the longest: on
// a worker thread, on pass 2's thread once pass 2 is done, and at the end on pass 1's.
class Jobs {
 public:
  Jobs() : worker_([this] { help(); }) {}
  ~Jobs() { wait(); }
  void add(std::function<void()> f);
  // Runs jobs until the queue is closed and empty.
  void help();
  // Closes the queue, helps with what is left, and rethrows a job's exception.
  void finish();
  void wait();

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> q_;
  bool closed_ = false;
  std::exception_ptr error_;
  std::thread worker_;
};

// Progress of both passes (they run at once, on two threads), reported as one.
class ProgressHub {
 public:
  explicit ProgressHub(std::function<void(const Progress&)> fn) : fn_(std::move(fn)) {}
  enum Slot { pass1 = 0, pass2 = 1 };
  void update(Slot slot, const char* phase, uint64_t done, uint64_t total, uint64_t artefacts);

 private:
  std::function<void(const Progress&)> fn_;
  std::mutex m_;
  uint64_t done_[2] = {0, 0}, total_[2] = {0, 0}, arts_[2] = {0, 0};
};

// An EXIF thumbnail inside a walked JPEG: an artefact of its own linked to its parent (id and
// parent are set by the caller, once the parent's id is final).
struct Thumbnail {
  int number = 0;  // 1, 2, ... within the parent
  Artefact art;    // type, ext, mime, state, location, validity, warnings, byte runs
  std::span<const std::byte> bytes;
};
// The thumbnails r.embedded names in `content` (the parent's bytes); parent_runs are the parent's
// image byte runs. Empty unless jpeg is wanted.
std::vector<Thumbnail> thumbnails(const StageContext& c, const Artefact& parent,
                                  const ByteView& content, const WalkResult& r);

// Maps offsets of a file's content to image byte runs.
std::vector<ImageRun> map_runs(const std::vector<ImageRun>& runs, uint64_t off, uint64_t len);

}  // namespace safehold::carve
