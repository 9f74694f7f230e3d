// carve/: pass 1, every file the filesystems know (allocated, deleted, orphan), typed by content.
// Filesystems are walked on a thread of their own, in filesystem order, while this pass copies out
// the files of those already walked; artefacts get their final ids (000001, ...) in that order as
// they are found, and their files are written once, under those ids, by the job queue (after the
// known-hash check, so that ignorable files are never written).
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "carve/known_mark.hpp"
#include "carve/stage.hpp"

namespace safehold::carve {

class Pass1 {
 public:
  Pass1(const StageContext& c, Jobs& jobs, ProgressHub& hub) : c_(c), jobs_(jobs), hub_(hub) {}

  // Walks and copies out every filesystem. Throws only when outputs cannot be written.
  void run();
  // Copies what the jobs computed into the artefacts (call once the jobs are finished).
  void apply_jobs();

  // The artefacts in report order, with final ids.
  std::vector<Artefact>& artefacts() { return arts_; }
  uint64_t top_level() const { return seq_; }  // ids used (thumbnails not counted)
  uint64_t files_examined() const { return files_examined_; }
  uint64_t bytes_read() const { return bytes_read_; }
  // Problems met reading files, in the order summary.json has always listed them: the last
  // filesystem's first (the walks once ran last filesystem first).
  std::vector<fs::Problem> read_errors() const;
  // Evidence problems the walks added: ev.problems()[first, second) for each filesystem, and
  // where the walks began and ended in ev.problems() (SIZE_MAX when they never ran).
  const std::vector<std::pair<size_t, size_t>>& walk_problems() const { return walk_problems_; }
  size_t walk_begin() const { return walk_begin_; }
  size_t walk_end() const { return walk_end_; }
  void report(const char* phase) {
    hub_.update(ProgressHub::pass1, phase, done_, total_, arts_.size());
  }

 private:
  struct FsFiles {
    std::vector<fs::FileEntry> files;
    std::unordered_map<std::string, size_t> by_path;
  };
  // What the jobs compute for arts_[index]; a deque keeps their addresses.
  struct Deferred {
    size_t index = 0;
    base::Digests digests;
    std::optional<hashset::Match> known;
    bool left_out = false;
    PdqResult pdq;
    bool pdq_done = false;
  };
  // A file's content as pass 1 read it: in memory, or streamed into a scratch file.
  struct Content {
    std::shared_ptr<std::vector<std::byte>> mem;
    std::filesystem::path scratch;  // empty when in memory
  };

  void walk_all(std::vector<FsFiles>& walked, std::vector<size_t>& done_order, std::mutex& m,
                std::condition_variable& cv, std::atomic<bool>& quit);
  void file(const fs::FilesystemInfo& f, const FsFiles& ff, const fs::FileEntry& e);
  // Reads a file once: its first piece types it; a wanted one goes on into `out`. Returns its
  // walker.
  const Walker* read(const fs::FileEntry& e, Content& out, std::optional<fs::Problem>& prob);
  Artefact describe(const fs::FileEntry& e) const;
  void companions(const fs::FilesystemInfo& f, const FsFiles& ff, const fs::FileEntry& e,
                  const std::filesystem::path& db, Artefact& a);
  std::string copy_out(int fsi, uint64_t inode, const std::filesystem::path& to);
  // Queues the write (unless left out), hashes and PDQ of arts_[index]'s content.
  void queue_memory(size_t index, const std::filesystem::path& file,
                    std::shared_ptr<const std::vector<std::byte>> data);
  void queue_scratch(size_t index, const std::filesystem::path& scratch,
                     const std::filesystem::path& file);

  StageContext c_;
  Jobs& jobs_;
  ProgressHub& hub_;
  std::vector<Artefact> arts_;
  std::deque<Deferred> deferred_;
  std::vector<std::vector<fs::Problem>> read_errors_;  // per filesystem
  std::vector<std::pair<size_t, size_t>> walk_problems_;
  size_t walk_begin_ = SIZE_MAX, walk_end_ = SIZE_MAX;
  uint64_t seq_ = 0, scratch_seq_ = 0;
  uint64_t files_examined_ = 0, bytes_read_ = 0;
  uint64_t done_ = 0, total_ = 0;
  std::atomic<uint64_t> pending_mem_{0};
  static constexpr uint64_t kMemFile = 32u << 20;      // larger files stream into a scratch file
  static constexpr uint64_t kMemPending = 128u << 20;  // and so do files while jobs hold this much
};

}  // namespace safehold::carve
