#include "carve/stage.hpp"

#include <string_view>

namespace safehold::carve {

TypeFilter::TypeFilter(const Registry& reg, const std::set<std::string>& types) : types_(types) {
  for (const Walker* w : reg.all()) {
    bool any = types_.empty();
    for (const TypeInfo& t : w->types()) any = any || types_.count(std::string(t.name));
    walkers_.push_back(any);
  }
}

void set_digests(Artefact& a, const base::Digests& d) {
  a.md5 = d.md5;
  a.sha1 = d.sha1;
  a.sha256 = d.sha256;
}

void Jobs::add(std::function<void()> f) {
  std::lock_guard<std::mutex> g(m_);
  q_.push_back(std::move(f));
  cv_.notify_one();
}

void Jobs::help() {
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

void Jobs::finish() {
  wait();
  if (error_) std::rethrow_exception(error_);
}

void Jobs::wait() {
  {
    std::lock_guard<std::mutex> g(m_);
    closed_ = true;
    cv_.notify_all();
  }
  help();
  if (worker_.joinable()) worker_.join();
}

// The fraction shown is the carving space's (known before the passes start), never pass 1's: its
// total grows as it finds media files, so it would read 100 % all along. Pass 1 reporting a
// later phase (chat, reports) means both passes are over and pass 2's finds are settled into
// pass 1's list: the count is then the summary's.
void ProgressHub::update(Slot slot, const char* phase, uint64_t done, uint64_t total,
                         uint64_t artefacts) {
  if (!fn_) return;
  std::lock_guard<std::mutex> g(m_);
  const bool passes_over = slot == pass1 && std::string_view(phase) != "files";
  if (passes_over) {
    done_[pass2] = total_[pass2];
    arts_[pass2] = 0;
  }
  done_[slot] = done;
  total_[slot] = total;
  arts_[slot] = artefacts;
  Progress p;
  const bool carving = total_[pass2] > 0;
  p.phase = carving && !passes_over ? "files+carving" : phase;
  p.bytes_done = carving ? done_[pass2] : done_[pass1];
  p.bytes_total = carving ? total_[pass2] : total_[pass1];
  p.artefacts = arts_[0] + arts_[1];
  p.final_count = passes_over;
  fn_(p);
}

std::vector<Thumbnail> thumbnails(const StageContext& c, const Artefact& parent,
                                  const ByteView& content, const WalkResult& r) {
  std::vector<Thumbnail> out;
  const TypeRow* jpeg = c.reg.find_type("jpeg");
  if (!c.filter.wanted("jpeg") || !jpeg) return out;
  for (auto& e : r.embedded) {
    ByteView tv = content.sub(e.offset, e.length);
    WalkResult tr = jpeg->walker->walk(ByteView::whole(tv.bytes()));
    Thumbnail& th = out.emplace_back();
    th.number = static_cast<int>(out.size());
    Artefact& t = th.art;
    t.type = jpeg->info->name;
    t.ext = jpeg->info->ext;
    t.mime = jpeg->info->mime;
    t.state = parent.state;
    t.volume = parent.volume;
    t.fs = parent.fs;
    t.filesystem = parent.filesystem;
    t.pass = parent.pass;
    t.valid = tr.verdict == Verdict::valid;
    t.warnings = tr.warnings;
    t.warnings.insert(t.warnings.begin(),
                      "EXIF thumbnail at offset " + std::to_string(e.offset) + " of its parent");
    uint64_t len = tr.verdict == Verdict::valid ? tr.length : tv.size();
    t.byte_runs = map_runs(parent.byte_runs, e.offset, len);
    th.bytes = tv.prefix(len).bytes();
    t.size = th.bytes.size();
  }
  return out;
}

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

}  // namespace safehold::carve
