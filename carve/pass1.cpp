#include "carve/pass1.hpp"

#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>

#include "fs/evidence.hpp"

namespace safehold::carve {

namespace fsys = std::filesystem;

namespace {

std::string lower_ext(const std::string& name) {
  auto dot = name.rfind('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == name.size()) return "";
  std::string e = name.substr(dot + 1);
  for (auto& c : e) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return e;
}

}  // namespace

void Pass1::walk_all(std::vector<FsFiles>& walked, std::vector<size_t>& done_order, std::mutex& m,
                     std::condition_variable& cv, std::atomic<bool>& quit) {
  const auto& fss = c_.ev.filesystems();
  const size_t n = fss.size();
  walk_problems_.assign(n, {0, 0});
  walk_begin_ = walk_end_ = c_.ev.problems().size();  // only this thread adds problems now
  for (size_t k = 0; k < n && !quit; ++k) {
    FsFiles& ff = walked[k];
    walk_problems_[k].first = c_.ev.problems().size();
    c_.ev.walk(fss[k].index, [&](const fs::FileEntry& e) {
      if (e.type == "file" && e.size > 0) {
        ff.by_path.emplace(e.path, ff.files.size());
        ff.files.push_back(e);
      }
      return !quit.load();
    });
    walk_problems_[k].second = walk_end_ = c_.ev.problems().size();
    std::lock_guard<std::mutex> g(m);
    done_order.push_back(k);
    cv.notify_all();
  }
}

// The directory walks (orphan searches read whole filesystems) run on a thread of their own while
// this thread copies out the files of the filesystems already walked.
void Pass1::run() {
  const auto& fss = c_.ev.filesystems();
  const size_t n = fss.size();
  read_errors_.assign(n, {});
  std::vector<FsFiles> walked(n);
  std::vector<size_t> done_order;
  std::mutex m;
  std::condition_variable cv;
  std::atomic<bool> quit{false};
  std::exception_ptr walk_error;
  std::thread walker([&] {
    try {
      walk_all(walked, done_order, m, cv, quit);
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
        ++files_examined_;
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

std::vector<fs::Problem> Pass1::read_errors() const {
  std::vector<fs::Problem> out;
  for (auto it = read_errors_.rbegin(); it != read_errors_.rend(); ++it)
    out.insert(out.end(), it->begin(), it->end());
  return out;
}

const Walker* Pass1::read(const fs::FileEntry& e, Content& out, std::optional<fs::Problem>& prob) {
  // One read: the first piece types the file; media goes on into memory (files up to kMemFile,
  // written by a job) or streams into a scratch file.
  const Walker* w = nullptr;
  bool decided = false;
  const bool in_memory = e.size <= kMemFile && pending_mem_.load() + e.size <= kMemPending;
  std::ofstream stream;
  // By entry: an NTFS named stream (fs lists each as an entry "path:stream") reads its own data.
  prob = c_.ev.read_file(e, [&](std::span<const std::byte> b) {
    if (!decided) {
      decided = true;
      auto head = b.first(std::min<size_t>(b.size(), 4096));
      w = c_.reg.identify(ByteView(head, {}, head.size() == e.size), c_.filter.walkers());
      if (!w) {
        bytes_read_ += head.size();
        return false;
      }
      total_ += e.size;
      if (in_memory) {
        out.mem = std::make_shared<std::vector<std::byte>>();
        out.mem->reserve(static_cast<size_t>(e.size));
      } else {
        out.scratch = c_.out.scratch("partial-" + std::to_string(++scratch_seq_));
        stream.open(out.scratch, std::ios::binary);
        if (!stream) throw std::runtime_error("cannot write " + out.scratch.string());
      }
    }
    if (out.mem)
      out.mem->insert(out.mem->end(), b.begin(), b.end());
    else
      stream.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    done_ += b.size();
    bytes_read_ += b.size();
    return true;
  });
  if (w && !out.mem) {
    stream.close();
    if (!stream) throw std::runtime_error("cannot write " + out.scratch.string());
  }
  return w;
}

Artefact Pass1::describe(const fs::FileEntry& e) const {
  Artefact a;
  a.state = fs::to_string(e.state);
  a.path = e.path;
  if (!e.member.empty()) a.source = e.member;
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
  return a;
}

void Pass1::file(const fs::FilesystemInfo& f, const FsFiles& ff, const fs::FileEntry& e) {
  Content content;
  std::optional<fs::Problem> prob;
  const Walker* w = read(e, content, prob);
  if (!w) {
    // An extraction's member that cannot be read at all (cut off, damaged) is named: nothing in
    // it was examined.
    if (prob && !e.member.empty())
      read_errors_[static_cast<size_t>(f.index)].push_back(
          {"fs " + std::to_string(f.index) + " " + e.path, prob->message, std::nullopt});
    return;
  }
  Artefact a = describe(e);
  a.type = w->types().front().name;
  if (prob) {
    a.warnings.push_back("read: " + prob->message);
    read_errors_[static_cast<size_t>(f.index)].push_back(
        {"fs " + std::to_string(f.index) + " " + e.path, prob->message, std::nullopt});
  }
  std::optional<MappedFile> mapped;
  if (!content.mem) mapped.emplace(content.scratch);
  ByteView v =
      ByteView::whole(content.mem ? std::span<const std::byte>(*content.mem) : mapped->bytes());
  WalkResult r = w->walk(v);
  if (r.verdict == Verdict::need_more) {
    r.verdict = Verdict::truncated;
    r.warnings.push_back("structure continues past the end of the file");
  }
  if (!r.type.empty()) a.type = r.type;
  a.ext = r.ext;
  a.mime = r.mime;
  if (!c_.filter.wanted(a.type)) {
    mapped.reset();
    if (!content.mem) fsys::remove(content.scratch);
    return;
  }
  a.id = artefact_id(++seq_);  // final: pass 1 numbers first, in filesystem order
  a.valid = r.verdict == Verdict::valid;
  for (auto& x : r.warnings) a.warnings.push_back(x);
  if (r.verdict == Verdict::valid && r.length < v.size())
    a.warnings.push_back(std::to_string(v.size() - r.length) + " bytes after the end of the " +
                         a.type + " structure");
  a.size = v.size();
  a.extension_mismatch = !extension_fits(a.type, lower_ext(e.name));
  const fsys::path path = c_.out.artefact(a.type, a.id, a.ext);
  a.file = c_.out.rel(path);
  if (a.type == "sqlite") companions(f, ff, e, path, a);
  const size_t index = arts_.size();
  arts_.push_back(a);
  // Thumbnails' bytes are copied: the parent's may be gone (moved, or never written) first.
  for (Thumbnail& t : thumbnails(c_, a, v, r)) {
    t.art.id = thumbnail_id(a.id, t.number);
    t.art.parent = a.id;
    const fsys::path tp = c_.out.artefact(t.art.type, t.art.id, t.art.ext);
    t.art.file = c_.out.rel(tp);
    auto bytes = std::make_shared<const std::vector<std::byte>>(t.bytes.begin(), t.bytes.end());
    arts_.push_back(std::move(t.art));
    queue_memory(arts_.size() - 1, tp, std::move(bytes));
  }
  mapped.reset();
  if (content.mem)
    queue_memory(index, path, std::move(content.mem));
  else
    queue_scratch(index, content.scratch, path);
  report("files");
}

void Pass1::queue_memory(size_t index, const fsys::path& file,
                         std::shared_ptr<const std::vector<std::byte>> data) {
  Deferred& d = deferred_.emplace_back();
  d.index = index;
  const std::string type = arts_[index].type;
  pending_mem_ += data->size();
  jobs_.add([this, &d, file, type, data = std::move(data)] {
    d.digests = base::hash_bytes(*data);
    d.known = c_.known.lookup(d.digests);
    d.left_out = c_.known.leave_out(type, d.known);
    if (!d.left_out) write_file(file, *data);
    if (pdq_type(type)) {
      d.pdq = pdq_of_bytes(*data);
      d.pdq_done = true;
    }
    pending_mem_ -= data->size();
  });
}

void Pass1::queue_scratch(size_t index, const fsys::path& scratch, const fsys::path& file) {
  Deferred& d = deferred_.emplace_back();
  d.index = index;
  const std::string type = arts_[index].type;
  jobs_.add([this, &d, scratch, file, type] {
    {
      MappedFile m(scratch);
      d.digests = base::hash_bytes(m.bytes());
      if (pdq_type(type)) {
        d.pdq = pdq_of_bytes(m.bytes());
        d.pdq_done = true;
      }
    }
    d.known = c_.known.lookup(d.digests);
    d.left_out = c_.known.leave_out(type, d.known);
    if (d.left_out)
      fsys::remove(scratch);
    else
      fsys::rename(scratch, file);
  });
}

void Pass1::apply_jobs() {
  for (auto& d : deferred_) {
    Artefact& a = arts_[d.index];
    set_digests(a, d.digests);
    a.known = d.known;
    if (d.left_out) a.file.clear();
    if (d.pdq_done) apply_pdq(a, d.pdq);
  }
  deferred_.clear();
}

void Pass1::companions(const fs::FilesystemInfo& f, const FsFiles& ff, const fs::FileEntry& e,
                       const fsys::path& db, Artefact& a) {
  for (const char* suffix : {"-wal", "-journal"}) {
    auto it = ff.by_path.find(e.path + suffix);
    if (it == ff.by_path.end()) continue;
    const fs::FileEntry& comp = ff.files[it->second];
    const fsys::path to = Layout::companion(db, suffix);
    std::string prob = copy_out(f.index, comp.inode, to);
    if (!prob.empty()) a.warnings.push_back(std::string("read ") + suffix + ": " + prob);
    if (std::string(suffix) == "-wal")
      a.wal_file = c_.out.rel(to);
    else
      a.journal_file = c_.out.rel(to);
  }
}

// Copies a file's content out through the filesystem; returns a problem sentence or "".
std::string Pass1::copy_out(int fsi, uint64_t inode, const fsys::path& to) {
  std::ofstream out(to, std::ios::binary);
  if (!out) throw std::runtime_error("cannot write " + to.string());
  auto prob = c_.ev.read_file(fsi, inode, [&](std::span<const std::byte> b) {
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    done_ += b.size();
    bytes_read_ += b.size();
    return true;
  });
  out.close();
  if (!out) throw std::runtime_error("cannot write " + to.string());
  return prob ? prob->message : "";
}

}  // namespace safehold::carve
