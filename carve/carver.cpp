#include "carve/carver.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "base/hash.hpp"
#include "base/json.hpp"
#include "carve/bifragment.hpp"
#include "carve/known_mark.hpp"
#include "carve/walker.hpp"
#include "chat/contract.hpp"
#include "fs/json.hpp"
#include "fs/reader.hpp"

namespace safehold::carve {

namespace fsys = std::filesystem;

const std::vector<std::string>& media_types() {
  static const std::vector<std::string> t = {"jpeg", "png", "gif", "bmp", "webp", "tiff",
                                             "heif", "mp4", "mov", "3gp", "m4v",  "m4a",
                                             "avi",  "asf", "mkv", "webm"};
  return t;
}

std::set<std::string> parse_types(const std::string& spec) {
  std::set<std::string> out;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    std::string item =
        spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? spec.size() + 1 : comma + 1;
    if (item.empty()) continue;
    if (item == "all" || item == "media") out.insert(media_types().begin(), media_types().end());
    if (item == "all" || item == "chat" || item == "sqlite") out.insert("sqlite");
    if (item == "all" || item == "media" || item == "chat" || item == "sqlite") continue;
    if (item == "jpg") item = "jpeg";
    if (item == "wmv") item = "asf";
    if (item == "heic") item = "heif";
    if (std::find(media_types().begin(), media_types().end(), item) == media_types().end())
      throw std::invalid_argument(
          "unknown type '" + item +
          "' (use media, chat, all or a list of: jpeg, png, gif, "
          "bmp, webp, tiff, heif, mp4, mov, 3gp, m4v, m4a, avi, asf, mkv, webm, sqlite)");
    out.insert(item);
  }
  if (out.empty()) throw std::invalid_argument("no type given");
  return out;
}

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
  j["duration_seconds"] = s.seconds;
  auto errs = nlohmann::json::array();
  for (auto& p : s.errors) errs.push_back(fs::to_json(p));
  j["errors"] = errs;
  return j;
}

namespace {

// Which report types each walker family can produce (for --types before the walk refines it).
const std::vector<std::string>& family_types(std::string_view family) {
  static const std::map<std::string, std::vector<std::string>, std::less<>> m = {
      {"jpeg", {"jpeg"}},
      {"png", {"png"}},
      {"gif", {"gif"}},
      {"bmp", {"bmp"}},
      {"riff", {"webp", "avi"}},
      {"tiff", {"tiff"}},
      {"isobmff", {"heif", "mp4", "mov", "3gp", "m4v", "m4a"}},
      {"asf", {"asf"}},
      {"ebml", {"mkv", "webm"}},
      {"sqlite", {"sqlite"}}};
  static const std::vector<std::string> none;
  auto it = m.find(family);
  return it == m.end() ? none : it->second;
}

std::string lower_ext(const std::string& name) {
  auto dot = name.rfind('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == name.size()) return "";
  std::string e = name.substr(dot + 1);
  for (auto& c : e) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return e;
}

// A read-only memory map of a file Safehold wrote (never of evidence).
class MappedFile {
 public:
  explicit MappedFile(const fsys::path& p) {
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    off_t size = ::lseek(fd, 0, SEEK_END);
    if (size > 0) {
      void* m = ::mmap(nullptr, static_cast<size_t>(size), PROT_READ, MAP_PRIVATE, fd, 0);
      if (m != MAP_FAILED) {
        data_ = static_cast<const std::byte*>(m);
        size_ = static_cast<size_t>(size);
      }
    }
    ::close(fd);
  }
  ~MappedFile() {
    if (data_) ::munmap(const_cast<std::byte*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  std::span<const std::byte> bytes() const { return {data_, size_}; }

 private:
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

// Hints ext2/3/4 that the folders made in `dir` are unrelated (FS_TOPDIR_FL, `chattr +T`), so its
// Orlov allocator gives each type folder (artefacts/jpeg, ...) an inode group of its own instead
// of the parent's. On an ext4 without a journal, creating a file in a group scans past every inode
// of the group freed in the last minute or so (the kernel's recently_deleted() check): right
// after an earlier output folder was deleted, that made file creation most of a run's time.
// Harmless elsewhere (other filesystems refuse the flag; nothing else depends on it).
void spread_subfolders(const fsys::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  int flags = 0;
  if (::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && !(flags & FS_TOPDIR_FL)) {
    flags |= FS_TOPDIR_FL;
    ::ioctl(fd, FS_IOC_SETFLAGS, &flags);
  }
  ::close(fd);
}

void set_digests(Artefact& a, const base::Digests& d) {
  a.md5 = d.md5;
  a.sha1 = d.sha1;
  a.sha256 = d.sha256;
}

// Maps offsets of a file's content to image byte runs.
std::vector<ImageRun> map_runs(const std::vector<ImageRun>& runs, uint64_t off, uint64_t len) {
  std::vector<ImageRun> out;
  uint64_t pos = 0;
  for (auto& r : runs) {
    uint64_t a = std::max(pos, off), b = std::min(pos + r.len, off + len);
    if (a < b) {
      ImageRun x{r.img_offset + (a - pos), b - a};
      if (!out.empty() && out.back().img_offset + out.back().len == x.img_offset)
        out.back().len += x.len;
      else
        out.push_back(x);
    }
    pos += r.len;
    if (pos >= off + len) break;
  }
  return out;
}

struct Region {
  uint64_t img = 0, len = 0;
  int filesystem = -1;  // -1: unpartitioned
  int volume = -1;
  uint32_t block = 512;
};

// Pass 2's address space: carvable image ranges laid end to end ("virtual" offsets).
struct Space {
  std::vector<Region> regions;
  std::vector<uint64_t> vstart;  // virtual offset of each region
  uint64_t total = 0;

  void build() {
    vstart.clear();
    total = 0;
    for (auto& r : regions) {
      vstart.push_back(total);
      total += r.len;
    }
  }
  size_t region_of(uint64_t v) const {
    auto it = std::upper_bound(vstart.begin(), vstart.end(), v);
    return static_cast<size_t>(it - vstart.begin()) - 1;
  }
  std::vector<ImageRun> runs(uint64_t v, uint64_t len) const {
    std::vector<ImageRun> out;
    size_t i = region_of(v);
    while (len > 0 && i < regions.size()) {
      uint64_t within = v - vstart[i];
      uint64_t n = std::min(len, regions[i].len - within);
      ImageRun x{regions[i].img + within, n};
      if (!out.empty() && out.back().img_offset + out.back().len == x.img_offset)
        out.back().len += n;
      else
        out.push_back(x);
      v += n;
      len -= n;
      ++i;
    }
    return out;
  }
};

std::vector<fs::ByteRange> subtract(const std::vector<fs::ByteRange>& a,
                                    std::vector<fs::ByteRange> b) {
  std::sort(b.begin(), b.end(), [](auto& x, auto& y) { return x.img_offset < y.img_offset; });
  std::vector<fs::ByteRange> out;
  size_t j = 0;
  for (auto r : a) {
    uint64_t pos = r.img_offset, end = r.img_offset + r.len;
    while (j < b.size() && b[j].img_offset + b[j].len <= pos) ++j;
    for (size_t k = j; k < b.size() && b[k].img_offset < end; ++k) {
      if (b[k].img_offset > pos) out.push_back({pos, b[k].img_offset - pos});
      pos = std::max(pos, b[k].img_offset + b[k].len);
    }
    if (pos < end) out.push_back({pos, end - pos});
  }
  return out;
}

// Work on artefact files already written (hashing, PDQ) that runs beside pass 1, which is the
// longest: on a worker thread, on pass 2's thread once pass 2 is done, and at the end on pass 1's.
class Jobs {
 public:
  Jobs() : worker_([this] { help(); }) {}
  ~Jobs() { wait(); }
  void add(std::function<void()> f) {
    std::lock_guard<std::mutex> g(m_);
    q_.push_back(std::move(f));
    cv_.notify_one();
  }
  // Runs jobs until the queue is closed and empty.
  void help() {
    for (;;) {
      std::function<void()> f;
      {
        std::unique_lock<std::mutex> l(m_);
        cv_.wait(l, [&] { return closed_ || !q_.empty(); });
        if (q_.empty()) return;
        f = std::move(q_.front());
        q_.pop_front();
      }
      try {
        f();
      } catch (...) {
        std::lock_guard<std::mutex> g(m_);
        if (!error_) error_ = std::current_exception();
      }
    }
  }
  // Closes the queue, helps with what is left, and rethrows a job's exception.
  void finish() {
    wait();
    if (error_) std::rethrow_exception(error_);
  }

  void wait() {
    {
      std::lock_guard<std::mutex> g(m_);
      closed_ = true;
      cv_.notify_all();
    }
    help();
    if (worker_.joinable()) worker_.join();
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> q_;
  bool closed_ = false;
  std::exception_ptr error_;
  std::thread worker_;
};

// Progress of both passes (they run at once, on two threads), reported as one.
struct Hub {
  std::function<void(const Progress&)> fn;
  std::mutex m;
  uint64_t done[2] = {0, 0}, total[2] = {0, 0}, arts[2] = {0, 0};
  void update(int slot, const char* phase, uint64_t d, uint64_t t, uint64_t a) {
    if (!fn) return;
    std::lock_guard<std::mutex> g(m);
    done[slot] = d;
    total[slot] = t;
    arts[slot] = a;
    Progress p;
    p.phase = phase;
    p.bytes_done = done[0] + done[1];
    p.bytes_total = total[0] + total[1];
    p.artefacts = arts[0] + arts[1];
    fn(p);
  }
};

// One pass's worker: pass 1 and pass 2 each get their own, with their own records and counters,
// so they share nothing but the evidence (whose reads are locked inside) while they run.
class Run {
 public:
  Run(fs::Evidence& ev, const CarveOptions& o, std::string prefix, Hub* hub, int slot)
      : ev_(ev),
        o_(o),
        reg_(Registry::builtin()),
        prefix_(std::move(prefix)),
        hub_(hub),
        slot_(slot) {}

  void set_jobs(Jobs* jobs) { jobs_ = jobs; }

  // Copies what the jobs computed into the artefacts (call once the jobs are finished).
  void apply_jobs() {
    for (auto& d : deferred_) {
      Artefact& a = arts_[d.index];
      if (d.hashed) {
        set_digests(a, d.digests);
      }
      if (d.pdq_done) {
        a.pdq = d.pdq.pdq;
        a.pdq_quality = d.pdq.quality;
        if (d.pdq.warning) a.warnings.push_back(*d.pdq.warning);
        a.pdq_done = true;
      }
    }
    deferred_.clear();
  }

  void start() {
    fsys::create_directories(o_.outdir / "artefacts");
    spread_subfolders(o_.outdir / "artefacts");
    for (auto& p : ev_.problems()) sum_.errors.push_back(p);
    known_problems_ = ev_.problems().size();
  }

  // Takes pass 2's artefacts, leaving out what pass 1 already produced (same start in the image),
  // then gives every artefact its final id in a fixed order (pass 1, then pass 2).
  void absorb(Run& p2) {
    std::set<uint64_t> starts;
    for (auto& a : arts_)
      if (a.valid && !a.parent && !a.byte_runs.empty())
        starts.insert(a.byte_runs.front().img_offset);
    std::set<std::string> dropped;
    for (auto& a : p2.arts_)
      if (!a.parent && !a.byte_runs.empty() && starts.count(a.byte_runs.front().img_offset))
        dropped.insert(a.id);
    for (auto& a : p2.arts_) {
      auto held = p2.held_.find(a.id);
      if (dropped.count(a.id) || (a.parent && dropped.count(*a.parent))) {
        std::error_code ec;
        if (held == p2.held_.end()) fsys::remove(o_.outdir / a.file, ec);
        continue;
      }
      if (held != p2.held_.end()) {
        write_file(o_.outdir / a.file, held->second);
        set_digests(a, base::hash_bytes(held->second));  // not hashed while held (most are dropped)
      }
      arts_.push_back(std::move(a));
    }
    p2.held_.clear();
    for (auto& [k, v] : p2.sum_.invalid) sum_.invalid[k] += v;
    for (auto& [k, v] : p2.sum_.truncated) sum_.truncated[k] += v;
    sum_.bifragment += p2.sum_.bifragment;
    sum_.carve_space += p2.sum_.carve_space;
    sum_.bytes_read += p2.sum_.bytes_read;
    for (auto& e : p2.sum_.errors) sum_.errors.push_back(e);
    space_problems_ = std::move(p2.space_problems_);
    renumber();
  }

  Summary finish(std::chrono::steady_clock::time_point t0) {
    chat();
    MarkOptions mo;
    mo.known = o_.known;
    mo.skip_known_ignorable = o_.skip_known_ignorable;
    mo.threads = o_.threads;
    MarkCounts mc = mark_artefacts(arts_, o_.outdir, mo);
    sum_.known = mc.known;
    sum_.known_skipped = mc.skipped;
    // Evidence problems since start(), the walks' in filesystem order (they ran last one first).
    const auto& probs = ev_.problems();
    // Pass 2's space (computed before the passes) came first.
    for (auto& p : space_problems_) sum_.errors.push_back(p);
    for (size_t i = known_problems_; i < std::min(walk_base_, probs.size()); ++i)
      sum_.errors.push_back(probs[i]);
    for (auto [a, b] : walk_problems_)
      for (size_t i = a; i < b; ++i) sum_.errors.push_back(probs[i]);
    for (size_t i = std::max(walk_end_, known_problems_); i < probs.size(); ++i)
      sum_.errors.push_back(probs[i]);
    for (auto& a : arts_) {
      sum_.counts[a.type][a.state]++;
      sum_.artefacts++;
    }
    report("reports");
    write_reports();
    sum_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::ofstream(o_.outdir / "summary.json") << base::dump(to_json(sum_), 2) << "\n";
    return sum_;
  }

  std::atomic<bool> stop_{false};

 private:
  void renumber() {
    std::map<std::string, std::string> ids;
    uint64_t n = 0;
    for (auto& a : arts_)
      if (!a.parent) ids[a.id] = fmt::format("{:06}", ++n);
    auto move_to = [&](const std::string& from_rel, const fsys::path& to) {
      fsys::rename(o_.outdir / from_rel, to);
      return rel(to);
    };
    for (auto& a : arts_) {
      std::string nid = a.parent ? ids[*a.parent] + a.id.substr(a.id.rfind("-t")) : ids[a.id];
      if (a.parent) a.parent = ids[*a.parent];
      fsys::path to = place(a.type, nid, a.ext);
      a.file = move_to(a.file, to);
      if (a.wal_file)
        a.wal_file = move_to(*a.wal_file, to.parent_path() / (nid + "." + a.ext + "-wal"));
      if (a.journal_file)
        a.journal_file =
            move_to(*a.journal_file, to.parent_path() / (nid + "." + a.ext + "-journal"));
      a.id = nid;
    }
  }

  bool wanted_family(const Walker* w) const {
    if (o_.types.empty()) return true;
    for (auto& t : family_types(w->name()))
      if (o_.types.count(t)) return true;
    return false;
  }
  bool wanted(const std::string& type) const { return o_.types.empty() || o_.types.count(type); }

  const Walker* identify(const ByteView& v) const {
    for (auto* w : reg_.all())
      if (wanted_family(w) && w->probe(v)) return w;
    return nullptr;
  }

  std::string next_id() { return prefix_ + fmt::format("{:06}", ++seq_); }

  void report(const char* phase) { hub_->update(slot_, phase, done_, total_, arts_.size()); }

  fsys::path place(const std::string& type, const std::string& id, const std::string& ext) {
    fsys::path dir = o_.outdir / "artefacts" / type;
    if (made_dirs_.insert(type).second) fsys::create_directories(dir);
    return dir / (id + "." + ext);
  }

  static void write_file(const fsys::path& p, std::span<const std::byte> data) {
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(data.data()),
              static_cast<std::streamsize>(data.size()));
    out.close();
    if (!out) throw std::runtime_error("cannot write " + p.string());
  }
  // Paths under OUTDIR are built from it: taken apart lexically (fsys::relative resolves both
  // paths through the filesystem, several system calls a component, for each of ~330 artefacts).
  std::string rel(const fsys::path& p) const {
    fsys::path r = p.lexically_relative(o_.outdir);
    if (r.empty() || *r.begin() == "..") r = fsys::relative(p, o_.outdir);
    return r.generic_string();
  }

  // Writes bytes as an artefact file and fills hashes, size and file.
  // Hashes (when `hash`) and PDQ-hashes (JPEG and PNG) the artefact file that will be arts_[index].
  void defer(size_t index, const fsys::path& file, const std::string& type, bool hash) {
    bool pdq = pdq_type(type);
    if (!hash && !pdq) return;
    Deferred& d = deferred_.emplace_back();
    d.index = index;
    jobs_->add([&d, file, hash, pdq] {
      if (hash) {
        MappedFile m(file);
        d.digests = base::hash_bytes(m.bytes());
        d.hashed = true;
      }
      if (pdq) {
        d.pdq = pdq_of_file(file);
        d.pdq_done = true;
      }
    });
  }

  // Like defer(), for a pass-1 artefact still in memory: the job also writes the file (creating it
  // is most of the cost), so this thread goes on reading the next files meanwhile.
  void defer_write(size_t index, const fsys::path& file, const std::string& type,
                   std::shared_ptr<const std::vector<std::byte>> data) {
    bool pdq = pdq_type(type);
    Deferred& d = deferred_.emplace_back();
    d.index = index;
    pending_mem_ += data->size();
    jobs_->add([this, &d, file, pdq, data = std::move(data)] {
      write_file(file, *data);
      d.digests = base::hash_bytes(*data);
      d.hashed = true;
      if (pdq) {
        d.pdq = pdq_of_bytes(*data);  // the file's bytes, still in memory
        d.pdq_done = true;
      }
      pending_mem_ -= data->size();
    });
  }

  // Pass 2 holds small artefacts in memory until absorb(): pass 1, running at the same time,
  // recovers most of what pass 2 finds in free space, and those copies are then never written
  // (nor hashed).
  void store(Artefact& a, std::span<const std::byte> data) {
    fsys::path p = place(a.type, a.id, a.ext);
    if (a.pass == 2 && held_bytes_ + data.size() <= kHoldBytes) {
      held_bytes_ += data.size();
      held_.emplace(a.id, std::vector<std::byte>(data.begin(), data.end()));  // hashed by absorb()
    } else {
      write_file(p, data);
      if (jobs_) defer(arts_.size(), p, a.type, false);  // the caller appends `a` next
      set_digests(a, base::hash_bytes(data));
    }
    a.size = data.size();
    a.file = rel(p);
  }

  // Thumbnails inside a walked JPEG become artefacts linked to their parent.
  void embedded(const Artefact& parent, const ByteView& content, const WalkResult& r,
                const std::vector<ImageRun>& parent_runs) {
    if (!wanted("jpeg")) return;
    int n = 0;
    for (auto& e : r.embedded) {
      ByteView tv = content.sub(e.offset, e.length);
      WalkResult tr = reg_.find("jpeg")->walk(ByteView(tv.bytes(), 0, true));
      Artefact t;
      t.id = parent.id + "-t" + std::to_string(++n);
      t.type = "jpeg";
      t.ext = "jpg";
      t.mime = "image/jpeg";
      t.state = parent.state;
      t.volume = parent.volume;
      t.fs = parent.fs;
      t.filesystem = parent.filesystem;
      t.pass = parent.pass;
      t.parent = parent.id;
      t.valid = tr.verdict == Verdict::valid;
      t.warnings = tr.warnings;
      t.warnings.insert(t.warnings.begin(),
                        "EXIF thumbnail at offset " + std::to_string(e.offset) + " of its parent");
      uint64_t len = tr.verdict == Verdict::valid ? tr.length : tv.size();
      t.byte_runs = map_runs(parent_runs, e.offset, len);
      store(t, tv.prefix(len).bytes());
      arts_.push_back(std::move(t));
    }
  }

  // ------------------------------------------------------------------ pass 1
 public:
  struct FsFiles {
    std::vector<fs::FileEntry> files;
    std::unordered_map<std::string, size_t> by_path;
  };

  // Copies a file's content out through the filesystem; returns a problem sentence or "".
  std::string copy_out(int fsi, uint64_t inode, const fsys::path& to, uint64_t* got) {
    std::ofstream out(to, std::ios::binary);
    if (!out) throw std::runtime_error("cannot write " + to.string());
    auto prob = ev_.read_file(
        fsi, inode,
        [&](std::span<const std::byte> b) {
          out.write(reinterpret_cast<const char*>(b.data()),
                    static_cast<std::streamsize>(b.size()));
          done_ += b.size();
          sum_.bytes_read += b.size();
          return true;
        },
        got);
    out.close();
    if (!out) throw std::runtime_error("cannot write " + to.string());
    return prob ? prob->message : "";
  }

  // The directory walks (orphan searches read whole filesystems) run on a thread of their own, last
  // filesystem first, while this thread copies out the files of those already walked. The report
  // keeps filesystem order: restore_order() puts the artefacts back in it.
  void pass1() {
    const auto& fss = ev_.filesystems();
    const size_t n = fss.size();
    std::vector<FsFiles> walked(n);
    std::vector<size_t> done_order;
    std::mutex m;
    std::condition_variable cv;
    std::atomic<bool> quit{false};
    std::exception_ptr walk_error;
    std::thread walker([&] {
      try {
        walk_problems_.assign(n, {0, 0});
        walk_base_ = walk_end_ = ev_.problems().size();  // only this thread adds problems now
        for (size_t k = n; k-- > 0 && !quit;) {
          FsFiles& ff = walked[k];
          walk_problems_[k].first = ev_.problems().size();
          ev_.walk(fss[k].index, [&](const fs::FileEntry& e) {
            if (e.type == "file" && e.size > 0) {
              ff.by_path.emplace(e.path, ff.files.size());
              ff.files.push_back(e);
            }
            return !quit.load();
          });
          walk_problems_[k].second = walk_end_ = ev_.problems().size();
          std::lock_guard<std::mutex> g(m);
          done_order.push_back(k);
          cv.notify_all();
        }
      } catch (...) {
        walk_error = std::current_exception();
      }
      std::lock_guard<std::mutex> g(m);
      done_order.push_back(n);  // end mark
      cv.notify_all();
    });
    try {
      for (size_t next = 0;; ++next) {
        size_t k;
        {
          std::unique_lock<std::mutex> l(m);
          cv.wait(l, [&] { return done_order.size() > next; });
          k = done_order[next];
        }
        if (k == n) break;
        for (auto& e : walked[k].files) {
          ++sum_.files_examined;
          file(fss[k], walked[k], e);
        }
        FsFiles().files.swap(walked[k].files);
      }
    } catch (...) {
      quit = true;
      walker.join();
      throw;
    }
    walker.join();
    if (walk_error) std::rethrow_exception(walk_error);
  }

  // Pass 1's artefacts in filesystem order (each filesystem's in the order its files came).
  void restore_order() {
    std::stable_sort(arts_.begin(), arts_.end(), [](const Artefact& a, const Artefact& b) {
      return a.filesystem < b.filesystem;
    });
  }

 private:
  void file(const fs::FilesystemInfo& f, const FsFiles& ff, const fs::FileEntry& e) {
    // One read: the first piece types the file; media goes on into memory (files up to kMemFile,
    // written by a job) or streams into the artefact file.
    const Walker* w = nullptr;
    bool decided = false;
    const bool in_memory =
        jobs_ && e.size <= kMemFile && pending_mem_.load() + e.size <= kMemPending;
    auto mem = std::make_shared<std::vector<std::byte>>();
    std::ofstream out;
    fsys::path tmp = o_.outdir / "artefacts" / (".partial-" + prefix_ + std::to_string(seq_ + 1));
    uint64_t got = 0;
    auto prob = ev_.read_file(
        f.index, e.inode,
        [&](std::span<const std::byte> b) {
          if (!decided) {
            decided = true;
            auto head = b.first(std::min<size_t>(b.size(), 4096));
            sum_.bytes_read += head.size();
            w = identify(ByteView(head, 0, head.size() == e.size));
            if (!w) return false;
            total_ += e.size;
            if (in_memory) {
              mem->reserve(static_cast<size_t>(e.size));
            } else {
              out.open(tmp, std::ios::binary);
              if (!out) throw std::runtime_error("cannot write " + tmp.string());
            }
            sum_.bytes_read -= head.size();
          }
          if (in_memory)
            mem->insert(mem->end(), b.begin(), b.end());
          else
            out.write(reinterpret_cast<const char*>(b.data()),
                      static_cast<std::streamsize>(b.size()));
          done_ += b.size();
          sum_.bytes_read += b.size();
          return true;
        },
        &got);
    if (!w) return;
    if (!in_memory) {
      out.close();
      if (!out) throw std::runtime_error("cannot write " + tmp.string());
    }
    Artefact a;
    a.id = next_id();
    a.type = family_types(w->name()).front();
    a.state = fs::to_string(e.state);
    a.path = e.path;
    a.volume = e.volume;
    a.fs = e.fs_type;
    a.filesystem = e.filesystem;
    a.inode = e.inode;
    a.mtime = fs::to_iso8601(e.mtime);
    a.atime = fs::to_iso8601(e.atime);
    a.ctime = fs::to_iso8601(e.ctime);
    a.crtime = fs::to_iso8601(e.crtime);
    for (auto& r : e.byte_runs)
      if (!r.sparse) a.byte_runs.push_back({r.img_offset, r.len});
    if (e.resident) a.warnings.push_back("content resident in filesystem metadata (no byte runs)");
    if (prob) {
      a.warnings.push_back("read: " + prob->message);
      sum_.errors.push_back(
          {"fs " + std::to_string(f.index) + " " + e.path, prob->message, std::nullopt});
    }
    WalkResult r;
    {
      std::optional<MappedFile> m;
      if (!in_memory) m.emplace(tmp);
      ByteView v(in_memory ? std::span<const std::byte>(*mem) : m->bytes(), 0, true);
      r = w->walk(v);
      if (r.verdict == Verdict::need_more) {
        r.verdict = Verdict::truncated;
        r.warnings.push_back("structure continues past the end of the file");
      }
      if (!r.type.empty()) a.type = r.type;
      a.ext = r.ext;
      a.mime = r.mime;
      if (!wanted(a.type)) {
        if (!in_memory) fsys::remove(tmp);
        --seq_;
        return;
      }
      a.valid = r.verdict == Verdict::valid;
      for (auto& x : r.warnings) a.warnings.push_back(x);
      if (r.verdict == Verdict::valid && r.length < v.size())
        a.warnings.push_back(std::to_string(v.size() - r.length) + " bytes after the end of the " +
                             a.type + " structure");
      if (!jobs_) {
        set_digests(a, base::hash_bytes(v.bytes()));
      }
      a.size = v.size();
      if (a.type != "sqlite") a.extension_mismatch = !extension_fits(a.type, lower_ext(e.name));
      fsys::path final_path = place(a.type, a.id, a.ext);
      if (!in_memory) fsys::rename(tmp, final_path);
      a.file = rel(final_path);
      const size_t index = arts_.size();
      if (jobs_ && !in_memory) defer(index, final_path, a.type, true);
      if (a.type == "sqlite") companions(f, ff, e, a);
      Artefact copy = a;
      arts_.push_back(std::move(a));
      if (copy.state != "allocated" && copy.valid)
        for (auto& x : copy.byte_runs) covered_.push_back({x.img_offset, x.len});
      embedded(copy, v, r, copy.byte_runs);
      if (in_memory)
        defer_write(index, final_path, copy.type, std::move(mem));  // v is not used after this
    }
    report("files");
  }

  void companions(const fs::FilesystemInfo& f, const FsFiles& ff, const fs::FileEntry& e,
                  Artefact& a) {
    for (const char* suffix : {"-wal", "-journal"}) {
      auto it = ff.by_path.find(e.path + suffix);
      if (it == ff.by_path.end()) continue;
      const fs::FileEntry& c = ff.files[it->second];
      fsys::path to = o_.outdir / "artefacts" / "sqlite" / (a.id + ".sqlite" + suffix);
      std::string prob = copy_out(f.index, c.inode, to, nullptr);
      if (!prob.empty()) a.warnings.push_back(std::string("read ") + suffix + ": " + prob);
      if (std::string(suffix) == "-wal")
        a.wal_file = rel(to);
      else
        a.journal_file = rel(to);
    }
  }

  // ------------------------------------------------------------------ pass 2
 public:
  // Computes the carving space (reads filesystem metadata: call before the passes start; the
  // problems met are kept apart and reported before the walks').
  void prepare_space() { space_storage_ = build_space(); }

 private:
  Space build_space() {
    Space s;
    auto round_out = [](std::vector<fs::ByteRange> v) {
      for (auto& r : v) {
        uint64_t a = r.img_offset / 512 * 512, b = (r.img_offset + r.len + 511) / 512 * 512;
        r = {a, b - a};
      }
      return v;
    };
    auto covered = round_out(covered_);  // empty: pass 1 runs at the same time; absorb() dedupes
    for (auto& f : ev_.filesystems()) {
      auto un = subtract(ev_.unallocated(f.index, &space_problems_), covered);
      for (auto& r : un)
        s.regions.push_back(
            {r.img_offset, r.len, f.index, f.volume, std::max<uint32_t>(512, f.block_size)});
    }
    for (auto& r : subtract(ev_.unpartitioned(), covered)) {
      int vol = -1;
      for (auto& v : ev_.volumes())
        if (r.img_offset >= v.start && r.img_offset < v.start + v.length &&
            v.kind != fs::VolumeKind::meta)
          vol = v.index;
      s.regions.push_back({r.img_offset, r.len, -1, vol, 512});
    }
    std::sort(s.regions.begin(), s.regions.end(), [](auto& a, auto& b) { return a.img < b.img; });
    // Keep sector alignment so headers are looked for where files can start.
    std::vector<Region> aligned;
    for (auto r : s.regions) {
      uint64_t a = (r.img + 511) / 512 * 512, b = (r.img + r.len) / 512 * 512;
      if (b <= a) continue;
      r.len = b - a;
      r.img = a;
      if (!aligned.empty() && aligned.back().img + aligned.back().len > r.img)
        continue;  // overlap guard
      aligned.push_back(r);
    }
    s.regions = std::move(aligned);
    s.build();
    return s;
  }

 public:
  void pass2() {
    Space& space = space_storage_;
    space_ = &space;
    sum_.carve_space = space.total;
    done_ = 0;
    total_ = space.total;
    buf_.clear();
    // Capacity for the usual lookahead (a JPEG fragment gap is tried up to max_gap + 4 MiB past
    // its damage) from the start: growing by reallocation faulted in fresh pages at every step.
    buf_.reserve(static_cast<size_t>(std::min<uint64_t>(o_.max_carve, o_.max_gap + (16u << 20))));
    buf_v0_ = 0;
    scan_ = 0;
    wait_until_ = 0;
    // Read spans of nearby regions in one sequential read each.
    size_t i = 0;
    while (i < space.regions.size()) {
      size_t j = i;
      while (j + 1 < space.regions.size() &&
             space.regions[j + 1].img - (space.regions[j].img + space.regions[j].len) < (8u << 20))
        ++j;
      uint64_t start = space.regions[i].img, end = space.regions[j].img + space.regions[j].len;
      size_t k = i;
      fs::ReadOptions ro;
      ro.threads = o_.threads;
      ro.share = ev_.image().shared_chunks();  // pass 1's TSK reads take what this decodes
      ro.start = start;
      ro.length = end - start;
      // Calls fn(offset in the piece, length) for the parts of an image piece inside the regions.
      auto route = [&](uint64_t off, uint64_t len, auto&& fn) {
        uint64_t bend = off + len;
        while (k <= j && space.regions[k].img + space.regions[k].len <= off) ++k;
        for (size_t x = k; x <= j && space.regions[x].img < bend; ++x) {
          uint64_t a = std::max(off, space.regions[x].img);
          uint64_t z = std::min(bend, space.regions[x].img + space.regions[x].len);
          if (a < z) fn(a - off, z - a);
        }
        return !stop_.load();
      };
      ro.zeros = [&](uint64_t off, uint64_t len) {
        return route(off, len, [&](uint64_t, uint64_t n) { feed_zeros(n); });
      };
      try {
        auto res = fs::read_sequential(
            ev_.image().path(),
            [&](uint64_t off, std::span<const std::byte> b) {
              return route(off, b.size(), [&](uint64_t at, uint64_t n) {
                feed(b.subspan(static_cast<size_t>(at), static_cast<size_t>(n)));
              });
            },
            ro);
        for (auto& e : res.errors) sum_.errors.push_back({"image", e.message, e.img_offset});
      } catch (const std::exception& e) {
        sum_.errors.push_back({"image", std::string("read failed: ") + e.what(), start});
        // Keep the virtual space consistent: what could not be read is fed as zeros.
        uint64_t want = space.vstart[j] + space.regions[j].len;
        std::vector<std::byte> zeros(1 << 20);
        while (buf_v0_ + buf_.size() < want)
          feed(std::span<const std::byte>(zeros).first(
              static_cast<size_t>(std::min<uint64_t>(zeros.size(), want - buf_v0_ - buf_.size()))));
      }
      i = j + 1;
    }
    process(true);
    space_ = nullptr;
  }

 private:
  bool idle() const { return buf_.empty() && scan_ == buf_v0_ && wait_until_ <= buf_v0_; }

  // n bytes of zeros. With nothing pending they cannot start an artefact (no header begins with a
  // zero sector) and are passed over unread; otherwise they are data a pending walk may need.
  void feed_zeros(uint64_t n) {
    static const std::vector<std::byte> zeros(1u << 20);
    while (n > 0) {
      if (idle()) {
        done_ += n;
        sum_.bytes_read += n;
        buf_v0_ += n;
        scan_ = buf_v0_;
        if (done_ - last_report_ > (64u << 20)) {
          last_report_ = done_;
          report("carving");
        }
        return;
      }
      size_t k = static_cast<size_t>(std::min<uint64_t>(n, zeros.size()));
      feed(std::span<const std::byte>(zeros).first(k));
      n -= k;
    }
  }

  void feed(std::span<const std::byte> b) {
    done_ += b.size();
    sum_.bytes_read += b.size();
    if (idle()) {
      // Nothing pending: look for headers in place and copy only from the first candidate on
      // (free space is mostly not media; this keeps pass 2 from copying all of it).
      size_t i = 0;
      while (i + 4096 <= b.size()) {
        ByteView sv(b.subspan(i), buf_v0_ + i, false);
        if (maybe_header(sv) && identify(sv)) break;
        i += 512;
      }
      buf_v0_ += i;
      scan_ = buf_v0_;
      buf_.assign(b.begin() + static_cast<std::ptrdiff_t>(i), b.end());
    } else {
      buf_.insert(buf_.end(), b.begin(), b.end());
    }
    process(false);
    if (done_ - last_report_ > (64u << 20)) {
      last_report_ = done_;
      report("carving");
    }
  }

  static bool maybe_header(const ByteView& v) {
    switch (v.at(0)) {
      case 0xFF:
      case 0x89:
      case 'G':
      case 'B':
      case 'R':
      case 0x30:
      case 0x1A:
      case 'S':
      case 'I':
      case 'M':
        return true;
      case 0x00:
        return v.matches(4, "ftyp");
      default:
        return false;
    }
  }

  void process(bool final) {
    const uint64_t end = buf_v0_ + buf_.size();
    for (;;) {
      if (scan_ + 512 > end && !(final && scan_ < end)) break;
      if (!final && end < wait_until_) break;
      ByteView v(std::span<const std::byte>(buf_).subspan(static_cast<size_t>(scan_ - buf_v0_)),
                 scan_, final || end == space_->total);
      if (!maybe_header(v)) {
        scan_ += 512;
        continue;
      }
      const Walker* w = identify(v);
      if (!w) {
        scan_ += 512;
        continue;
      }
      ByteView wv = v.prefix(o_.max_carve);
      WalkResult r = w->walk(wv);
      bool capped = v.size() >= o_.max_carve;
      if (r.verdict == Verdict::need_more && !v.ends_data() && !capped) {
        wait_until_ = scan_ + std::min<uint64_t>(std::max<uint64_t>(r.need, 4096), o_.max_carve);
        break;
      }
      const std::string family_type = r.type.empty() ? family_types(w->name()).front() : r.type;
      if (r.verdict == Verdict::need_more) {
        sum_.truncated[family_type]++;
        scan_ += 512;
        continue;
      }
      if (r.verdict == Verdict::invalid && w->name() == "jpeg" && r.error_at > 0) {
        // Fragment recovery wants lookahead: the second fragment lies after the damage.
        uint64_t want = scan_ + r.error_at + o_.max_gap + (4u << 20);
        if (!v.ends_data() && end < want && end - scan_ < o_.max_carve) {
          wait_until_ = std::min(want, scan_ + o_.max_carve);
          break;
        }
        if (bifragment(v, r)) continue;
      }
      if (r.verdict != Verdict::valid || !wanted(family_type)) {
        if (r.verdict != Verdict::valid) sum_.invalid[family_type]++;
        scan_ += 512;
        continue;
      }
      emit(v, r, {{0, r.length}});
      scan_ += (r.length + 511) / 512 * 512;
    }
    // Drop what is behind the scan point (in large steps, so erasing stays cheap).
    if (!final && scan_ == end) {
      buf_v0_ = end;
      buf_.clear();
    } else if (scan_ > buf_v0_ && scan_ - buf_v0_ >= (32u << 20)) {
      uint64_t drop = std::min<uint64_t>(scan_ - buf_v0_, buf_.size());
      buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(drop));
      buf_v0_ += drop;
    }
  }

  bool bifragment(const ByteView& v, const WalkResult& r) {
    size_t reg = space_->region_of(scan_);
    BifragmentLimits lim;
    lim.block = space_->regions[reg].block;
    lim.max_gap = o_.max_gap;
    auto b = find_bifragment(v.prefix(o_.max_carve), r.error_at, lim);
    if (!b) return false;
    std::vector<std::byte> joined(v.prefix(b->split).bytes().begin(),
                                  v.prefix(b->split).bytes().end());
    auto two = v.sub(b->split + b->gap, b->end - b->split - b->gap).bytes();
    joined.insert(joined.end(), two.begin(), two.end());
    ByteView jv(joined, 0, true);
    WalkResult jr = reg_.find("jpeg")->walk(jv);
    if (jr.verdict != Verdict::valid || !wanted("jpeg")) return false;
    jr.warnings.push_back(
        fmt::format("rebuilt from two fragments: {} bytes, a gap of {} bytes, then {} bytes",
                    b->split, b->gap, b->end - b->split - b->gap));
    ++sum_.bifragment;
    emit(jv, jr, {{0, b->split}, {b->split + b->gap, b->end - b->split - b->gap}}, &v);
    scan_ += (b->end + 511) / 512 * 512;
    return true;
  }

  // pieces: {offset in `space_view` (or v), length}; content is v's bytes (already joined).
  void emit(const ByteView& content_src, const WalkResult& r,
            std::vector<std::pair<uint64_t, uint64_t>> pieces,
            const ByteView* space_view = nullptr) {
    const ByteView& sv = space_view ? *space_view : content_src;
    Artefact a;
    a.id = next_id();
    a.type = r.type;
    a.ext = r.ext;
    a.mime = r.mime;
    a.state = "carved";
    a.pass = 2;
    a.valid = true;
    a.warnings = r.warnings;
    for (auto& [off, len] : pieces)
      for (auto& x : space_->runs(sv.pos0() + off, len)) {
        if (!a.byte_runs.empty() &&
            a.byte_runs.back().img_offset + a.byte_runs.back().len == x.img_offset)
          a.byte_runs.back().len += x.len;
        else
          a.byte_runs.push_back(x);
      }
    const Region& reg = space_->regions[space_->region_of(sv.pos0())];
    if (reg.volume >= 0) a.volume = reg.volume;
    if (reg.filesystem >= 0) {
      a.fs = ev_.filesystems()[static_cast<size_t>(reg.filesystem)].type;
      a.filesystem = reg.filesystem;
    }
    uint64_t len = space_view ? content_src.size() : r.length;
    ByteView content = content_src.prefix(len);
    store(a, content.bytes());
    Artefact copy = a;
    arts_.push_back(std::move(a));
    embedded(copy, content, r, copy.byte_runs);
  }

  // ------------------------------------------------------------------ chat
  void chat() {
    sum_.chat_linked = true;
    std::vector<size_t> dbs;
    for (size_t i = 0; i < arts_.size(); ++i)
      if (arts_[i].type == "sqlite") dbs.push_back(i);
    if (dbs.empty()) return;
    report("chat");
    chat::ChatContext ctx;
    ctx.outdir = o_.outdir;
    ctx.resolve_media = [this](const std::string& stored) { return resolve_media(stored); };
    chat::ChatExtractor x(ctx);
    for (size_t i : dbs) {
      Artefact& a = arts_[i];
      chat::DatabaseFound d;
      d.artefact_id = a.id;
      d.db_path = a.path.value_or("");
      d.state = a.state;
      d.file = o_.outdir / a.file;
      if (a.wal_file) d.wal = o_.outdir / *a.wal_file;
      if (a.journal_file) d.journal = o_.outdir / *a.journal_file;
      chat::DatabaseResult res;
      try {
        res = x.process(d);
      } catch (const std::exception& e) {
        res.errors.push_back(std::string("chat reader failed: ") + e.what());
      }
      a.chat =
          ChatFields{res.app, res.reader, res.messages, res.recovered, res.encrypted, res.errors};
      for (auto& e : res.errors) sum_.errors.push_back({"artefact " + a.id, e, std::nullopt});
    }
    x.finish();
  }

 public:
  std::optional<std::string> resolve_media(const std::string& stored_in) {
    std::string stored = stored_in;
    std::replace(stored.begin(), stored.end(), '\\', '/');
    if (stored.empty()) return std::nullopt;
    auto ends_with = [](const std::string& s, const std::string& suf) {
      return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0 &&
             (s.size() == suf.size() || suf.front() == '/' || s[s.size() - suf.size() - 1] == '/');
    };
    // The whole stored path first, then without its leading folders (apps store absolute paths of
    // the device's view, e.g. /storage/emulated/0/..., which the image names differently).
    std::string s = stored;
    for (int drop = 0; drop < 8 && !s.empty(); ++drop) {
      for (auto& a : arts_)
        if (a.type != "sqlite" && a.path && ends_with(*a.path, s)) return a.id;
      auto slash = s.find('/', s[0] == '/' ? 1 : 0);
      if (slash == std::string::npos) break;
      s = s.substr(slash);
      if (std::count(s.begin(), s.end(), '/') < 2) break;  // keep at least folder/name
    }
    return std::nullopt;
  }

 private:
  void write_reports() {
    std::ofstream out(o_.outdir / "report.jsonl", std::ios::binary);
    for (auto& a : arts_) out << base::dump(to_json(a)) << "\n";
    out.close();
    if (!out) throw std::runtime_error("cannot write report.jsonl");
    DfxmlSource src;
    src.image = ev_.image().path().filename().string();
    src.sector_size = ev_.image().sector_size();
    src.command_line = o_.command_line;
    write_dfxml(o_.outdir / "dfxml.xml", src, arts_);
  }

  fs::Evidence& ev_;
  const CarveOptions& o_;
  const Registry& reg_;
  std::string prefix_;
  Hub* hub_;
  int slot_;
  size_t known_problems_ = 0;
  Space space_storage_;
  std::vector<fs::Problem> space_problems_;  // met while computing pass 2's space
  Summary sum_;
  std::vector<Artefact> arts_;
  struct Deferred {  // results of the jobs for arts_[index]; a deque keeps their addresses
    size_t index = 0;
    bool hashed = false, pdq_done = false;
    base::Digests digests;
    PdqResult pdq;
  };
  Jobs* jobs_ = nullptr;
  std::deque<Deferred> deferred_;
  std::vector<std::pair<size_t, size_t>> walk_problems_;  // problems each filesystem's walk added
  size_t walk_base_ = SIZE_MAX, walk_end_ = SIZE_MAX;
  static constexpr uint64_t kHoldBytes = 64u << 20;
  static constexpr uint64_t kMemFile = 32u << 20;  // pass 1: larger files stream into their file
  static constexpr uint64_t kMemPending = 128u
                                          << 20;  // and so do files while the jobs hold this much
  std::atomic<uint64_t> pending_mem_{0};
  std::map<std::string, std::vector<std::byte>> held_;  // pass 2: id -> content not yet written
  uint64_t held_bytes_ = 0;
  std::set<std::string> made_dirs_;
  std::vector<fs::ByteRange> covered_;  // image ranges pass 1 recovered validly from free space
  uint64_t seq_ = 0;
  uint64_t done_ = 0, total_ = 0, last_report_ = 0;
  // pass 2 stream
  const Space* space_ = nullptr;
  std::vector<std::byte> buf_;
  uint64_t buf_v0_ = 0, scan_ = 0, wait_until_ = 0;
};

}  // namespace

Summary carve(fs::Evidence& ev, const CarveOptions& opts) {
  auto t0 = std::chrono::steady_clock::now();
  Hub hub;
  hub.fn = opts.progress;
  Run p1(ev, opts, "p1-", &hub, 0), p2(ev, opts, "p2-", &hub, 1);
  p1.start();
  // Before the threads: pass 2 cannot start without it, and pass 1's walker would hold the locks
  // of the filesystems it asks about (FAT, the long one, is fast now: fs/internal/fat_orphans.hpp).
  if (opts.unallocated) p2.prepare_space();
  Jobs jobs;  // destroyed (its threads joined) before the runs whose records its jobs fill
  p1.set_jobs(&jobs);
  // Pass 2 reads the image sequentially on its own thread while pass 1 walks the filesystems;
  // then it helps with pass 1's hashing and PDQ.
  std::exception_ptr err2, errj;
  std::thread t2;
  if (opts.unallocated)
    t2 = std::thread([&] {
      try {
        p2.pass2();
      } catch (...) {
        err2 = std::current_exception();
      }
      jobs.help();
    });
  try {
    p1.pass1();
  } catch (...) {
    p2.stop_ = true;
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
  p1.apply_jobs();
  p1.restore_order();
  p1.absorb(p2);
  return p1.finish(t0);
}

}  // namespace safehold::carve
