#include "carve/pass2.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <stdexcept>
#include <thread>

#include "base/task_group.hpp"
#include "carve/bifragment.hpp"
#include "fs/evidence.hpp"
#include "fs/reader.hpp"

namespace safehold::carve {

namespace fsys = std::filesystem;

namespace {

constexpr uint64_t kHoldBytes = 64u << 20;  // held in memory; more goes to the scratch file

}  // namespace

// ------------------------------------------------------------------ carve space

CarveSpace CarveSpace::of(fs::Evidence& ev, std::vector<fs::Problem>& problems) {
  CarveSpace s;
  for (auto& f : ev.filesystems())
    for (auto& r : ev.unallocated(f.index, &problems))
      s.regions.push_back(
          {r.img_offset, r.len, f.index, f.volume, std::max<uint32_t>(512, f.block_size)});
  for (auto& r : ev.unpartitioned()) {
    int vol = -1;
    for (auto& v : ev.volumes())
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
  for (auto& r : s.regions) {
    s.start.push_back(s.total);
    s.total += r.len;
  }
  return s;
}

size_t CarveSpace::region_of(uint64_t v) const {
  auto it = std::upper_bound(start.begin(), start.end(), v);
  return static_cast<size_t>(it - start.begin()) - 1;
}

std::vector<ImageRun> CarveSpace::runs(uint64_t v, uint64_t len) const {
  std::vector<ImageRun> out;
  size_t i = region_of(v);
  while (len > 0 && i < regions.size()) {
    uint64_t within = v - start[i];
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

// ------------------------------------------------------------------ held bytes

HeldBytes::~HeldBytes() {
  if (fd_ >= 0) {
    ::close(fd_);
    std::error_code ec;
    fsys::remove(spill_, ec);
  }
}

HeldBytes::Ref HeldBytes::put(std::span<const std::byte> data) {
  Ref r;
  r.size = data.size();
  if (mem_bytes_ + data.size() <= budget_) {
    mem_bytes_ += data.size();
    r.index = mem_.size();
    mem_.emplace_back(data.begin(), data.end());
    return r;
  }
  if (fd_ < 0) {
    fd_ = ::open(spill_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd_ < 0) throw std::runtime_error("cannot write " + spill_.string());
  }
  r.in_memory = false;
  r.offset = spill_size_;
  for (size_t done = 0; done < data.size();) {
    ssize_t n = ::pwrite(fd_, data.data() + done, data.size() - done,
                         static_cast<off_t>(spill_size_ + done));
    if (n <= 0) throw std::runtime_error("cannot write " + spill_.string());
    done += static_cast<size_t>(n);
  }
  spill_size_ += data.size();
  return r;
}

std::span<const std::byte> HeldBytes::get(const Ref& r, std::vector<std::byte>& buf) const {
  if (r.in_memory) return mem_[r.index];
  buf.resize(static_cast<size_t>(r.size));
  for (size_t done = 0; done < buf.size();) {
    ssize_t n =
        ::pread(fd_, buf.data() + done, buf.size() - done, static_cast<off_t>(r.offset + done));
    if (n <= 0) throw std::runtime_error("cannot read back " + spill_.string());
    done += static_cast<size_t>(n);
  }
  return buf;
}

// ------------------------------------------------------------------ the scan

Pass2::Pass2(const StageContext& c, ProgressHub& hub, CarveSpace space)
    : c_(c), hub_(hub), space_(std::move(space)), held_(c.out.scratch("held"), kHoldBytes) {
  report();  // the carving space is known before either pass starts: the progress bar's total
}

void Pass2::run() {
  stats_.carve_space = space_.total;
  // Capacity for the usual lookahead (a JPEG fragment gap is tried up to max_gap + 4 MiB past
  // its damage) from the start: growing by reallocation faulted in fresh pages at every step.
  buf_.reserve(
      static_cast<size_t>(std::min<uint64_t>(c_.opts.max_carve, c_.opts.max_gap + (16u << 20))));
  // Read spans of nearby regions in one sequential read each.
  size_t i = 0;
  while (i < space_.regions.size()) {
    size_t j = i;
    while (j + 1 < space_.regions.size() &&
           space_.regions[j + 1].img - (space_.regions[j].img + space_.regions[j].len) < (8u << 20))
      ++j;
    read_span(i, j);
    i = j + 1;
  }
  process(true);
  report();  // the whole space read: 100 %
}

// Reads the image from region `first`'s start to region `last`'s end, feeding the regions' bytes.
void Pass2::read_span(size_t first, size_t last) {
  const auto& regions = space_.regions;
  uint64_t start = regions[first].img, end = regions[last].img + regions[last].len;
  size_t k = first;
  fs::ReadOptions ro;
  ro.threads = c_.opts.threads;
  ro.share = c_.ev.image().shared_chunks();  // pass 1's TSK reads take what this decodes
  ro.start = start;
  ro.length = end - start;
  ro.open = c_.ev.image().options();  // --raw, --parent, --sector-size as pass 1 opened it
  // Calls fn(offset in the piece, length) for the parts of an image piece inside the regions.
  auto route = [&](uint64_t off, uint64_t len, auto&& fn) {
    uint64_t bend = off + len;
    while (k <= last && regions[k].img + regions[k].len <= off) ++k;
    for (size_t x = k; x <= last && regions[x].img < bend; ++x) {
      uint64_t a = std::max(off, regions[x].img);
      uint64_t z = std::min(bend, regions[x].img + regions[x].len);
      if (a < z) fn(a - off, z - a);
    }
    return !stop_.load();
  };
  ro.zeros = [&](uint64_t off, uint64_t len) {
    return route(off, len, [&](uint64_t, uint64_t n) { feed_zeros(n); });
  };
  try {
    auto res = fs::read_sequential(
        c_.ev.image(),
        [&](uint64_t off, std::span<const std::byte> b) {
          return route(off, b.size(), [&](uint64_t at, uint64_t n) {
            feed(b.subspan(static_cast<size_t>(at), static_cast<size_t>(n)));
          });
        },
        ro);
    for (auto& e : res.errors) {
      stats_.errors.push_back({"image", e.message, e.img_offset});
      not_read(first, last, e);
    }
  } catch (const std::exception& e) {
    stats_.errors.push_back({"image", std::string("read failed: ") + e.what(), start});
    // Keep the carve space consistent: what could not be read is fed as zeros.
    uint64_t want = space_.start[last] + regions[last].len;
    const uint64_t from = buf_start_ + buf_.size();
    std::vector<std::byte> zeros(1 << 20);
    while (buf_start_ + buf_.size() < want)
      feed(std::span<const std::byte>(zeros).first(
          static_cast<size_t>(std::min<uint64_t>(zeros.size(), want - buf_start_ - buf_.size()))));
    if (want > from) {
      stats_.bytes_read -= std::min(stats_.bytes_read, want - from);
      stats_.unreadable.push_back({start, end - start, std::string("read failed: ") + e.what()});
    }
  }
}

// An unreadable image range met while reading regions first..last: its part inside the regions
// was fed as zeros, so it is taken off bytes_read and recorded.
void Pass2::not_read(size_t first, size_t last, const fs::ChunkError& e) {
  uint64_t inside = 0;
  for (size_t x = first; x <= last; ++x) {
    const auto& r = space_.regions[x];
    const uint64_t a = std::max(e.img_offset, r.img);
    const uint64_t z = std::min(e.img_offset + e.len, r.img + r.len);
    if (a < z) inside += z - a;
  }
  if (inside == 0) return;
  stats_.bytes_read -= std::min(stats_.bytes_read, inside);
  stats_.unreadable.push_back(e);
}

// n bytes of zeros. With nothing pending they cannot start an artefact (no header begins with a
// zero sector) and are passed over unread; otherwise they are data a pending walk may need.
void Pass2::feed_zeros(uint64_t n) {
  static const std::vector<std::byte> zeros(1u << 20);
  while (n > 0) {
    if (idle()) {
      done_ += n;
      stats_.bytes_read += n;
      buf_start_ += n;
      scan_ = buf_start_;
      if (done_ - last_report_ > (64u << 20)) {
        last_report_ = done_;
        report();
      }
      return;
    }
    size_t k = static_cast<size_t>(std::min<uint64_t>(n, zeros.size()));
    feed(std::span<const std::byte>(zeros).first(k));
    n -= k;
  }
}

void Pass2::feed(std::span<const std::byte> b) {
  done_ += b.size();
  stats_.bytes_read += b.size();
  if (idle()) {
    // Nothing pending: look for headers in place and copy only from the first candidate on
    // (free space is mostly not media; this keeps pass 2 from copying all of it).
    size_t i = 0;
    while (i + 4096 <= b.size()) {
      auto sv = ByteView::in_carve_space(b.subspan(i), buf_start_ + i, false);
      if (c_.reg.may_start(sv.at(0)) && c_.reg.identify(sv, c_.filter.walkers())) break;
      i += 512;
    }
    buf_start_ += i;
    scan_ = buf_start_;
    buf_.assign(b.begin() + static_cast<std::ptrdiff_t>(i), b.end());
  } else {
    buf_.insert(buf_.end(), b.begin(), b.end());
  }
  process(false);
  if (done_ - last_report_ > (64u << 20)) {
    last_report_ = done_;
    report();
  }
}

void Pass2::process(bool final) {
  const uint64_t end = buf_start_ + buf_.size();
  const uint64_t max_carve = c_.opts.max_carve;
  for (;;) {
    if (scan_ + 512 > end && !(final && scan_ < end)) break;
    if (!final && end < wait_until_) break;
    auto v = ByteView::in_carve_space(
        std::span<const std::byte>(buf_).subspan(static_cast<size_t>(scan_ - buf_start_)), scan_,
        final || end == space_.total);
    const Walker* w = c_.reg.may_start(v.at(0)) ? c_.reg.identify(v, c_.filter.walkers()) : nullptr;
    if (!w) {
      scan_ += 512;
      continue;
    }
    WalkResult r = w->walk(v.prefix(max_carve));
    bool capped = v.size() >= max_carve;
    if (r.verdict == Verdict::need_more && !v.ends_data() && !capped) {
      wait_until_ = scan_ + std::min<uint64_t>(std::max<uint64_t>(r.need, 4096), max_carve);
      break;
    }
    const std::string type = r.type.empty() ? std::string(w->types().front().name) : r.type;
    if (r.verdict == Verdict::need_more) {
      stats_.truncated[type]++;
      scan_ += 512;
      continue;
    }
    if (r.verdict == Verdict::invalid && w->name() == "jpeg" && r.error_at > 0) {
      // Fragment recovery wants lookahead: the second fragment lies after the damage.
      uint64_t want = scan_ + r.error_at + c_.opts.max_gap + (4u << 20);
      if (!v.ends_data() && end < want && end - scan_ < max_carve) {
        wait_until_ = std::min(want, scan_ + max_carve);
        break;
      }
      if (bifragment(v, r)) continue;
    }
    if (r.verdict != Verdict::valid || !c_.filter.wanted(type)) {
      if (r.verdict != Verdict::valid) stats_.invalid[type]++;
      scan_ += 512;
      continue;
    }
    emit(v.prefix(r.length), r, {{0, r.length}}, v.carve_offset());
    scan_ += (r.length + 511) / 512 * 512;
  }
  // Drop what is behind the scan point (in large steps, so erasing stays cheap).
  if (!final && scan_ == end) {
    buf_start_ = end;
    buf_.clear();
  } else if (scan_ > buf_start_ && scan_ - buf_start_ >= (32u << 20)) {
    uint64_t drop = std::min<uint64_t>(scan_ - buf_start_, buf_.size());
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(drop));
    buf_start_ += drop;
  }
}

bool Pass2::bifragment(const ByteView& v, const WalkResult& r) {
  BifragmentLimits lim;
  lim.block = space_.regions[space_.region_of(scan_)].block;
  lim.max_gap = c_.opts.max_gap;
  auto b = find_bifragment(v.prefix(c_.opts.max_carve), r.error_at, lim);
  if (!b) return false;
  std::vector<std::byte> joined(v.prefix(b->split).bytes().begin(),
                                v.prefix(b->split).bytes().end());
  auto two = v.sub(b->split + b->gap, b->end - b->split - b->gap).bytes();
  joined.insert(joined.end(), two.begin(), two.end());
  const ByteView jv = ByteView::whole(joined);
  WalkResult jr = c_.reg.find("jpeg")->walk(jv);
  if (jr.verdict != Verdict::valid || !c_.filter.wanted("jpeg")) return false;
  jr.warnings.push_back(
      fmt::format("rebuilt from two fragments: {} bytes, a gap of {} bytes, then {} bytes",
                  b->split, b->gap, b->end - b->split - b->gap));
  ++stats_.bifragment;
  emit(jv, jr, {{0, b->split}, {b->split + b->gap, b->end - b->split - b->gap}}, v.carve_offset());
  scan_ += (b->end + 511) / 512 * 512;
  return true;
}

// content: the artefact's bytes; pieces: {offset, length} of its parts in carve space from `at`.
void Pass2::emit(const ByteView& content, const WalkResult& r,
                 const std::vector<std::pair<uint64_t, uint64_t>>& pieces, uint64_t at) {
  Found& f = found_.emplace_back();
  Artefact& a = f.art;
  a.type = r.type;
  a.ext = r.ext;
  a.mime = r.mime;
  a.state = "carved";
  a.pass = 2;
  a.valid = true;
  a.warnings = r.warnings;
  for (auto& [off, len] : pieces)
    for (auto& x : space_.runs(at + off, len)) {
      if (!a.byte_runs.empty() &&
          a.byte_runs.back().img_offset + a.byte_runs.back().len == x.img_offset)
        a.byte_runs.back().len += x.len;
      else
        a.byte_runs.push_back(x);
    }
  const Region& reg = space_.regions[space_.region_of(at)];
  if (reg.volume >= 0) a.volume = reg.volume;
  if (reg.filesystem >= 0) {
    a.fs = c_.ev.filesystems()[static_cast<size_t>(reg.filesystem)].type;
    a.filesystem = reg.filesystem;
  }
  a.size = content.size();
  f.bytes = held_.put(content.bytes());
  const size_t parent = found_.size() - 1;
  for (Thumbnail& t : thumbnails(c_, found_[parent].art, content, r)) {
    Found& tf = found_.emplace_back();
    tf.art = std::move(t.art);
    tf.bytes = held_.put(t.bytes);
    tf.parent = parent;
    tf.number = t.number;
  }
}

// ------------------------------------------------------------------ after pass 1

// Per found artefact: left out because a valid pass-1 artefact starts where it starts (pass 1,
// running at the same time, recovers most of what pass 2 finds in free space), or because its
// parent is.
std::vector<bool> Pass2::dropped(const std::vector<Artefact>& pass1) const {
  std::set<uint64_t> starts;
  for (auto& a : pass1)
    if (a.valid && !a.parent && !a.byte_runs.empty()) starts.insert(a.byte_runs.front().img_offset);
  std::vector<bool> out(found_.size());
  for (size_t i = 0; i < found_.size(); ++i) {
    const Found& f = found_[i];
    out[i] = f.parent == SIZE_MAX
                 ? !f.art.byte_runs.empty() && starts.count(f.art.byte_runs.front().img_offset)
                 : bool(out[f.parent]);
  }
  return out;
}

void Pass2::settle(std::vector<Artefact>& arts, uint64_t first_ids) {
  const std::vector<bool> drop = dropped(arts);
  std::vector<size_t> kept;
  uint64_t n = first_ids;
  for (size_t i = 0; i < found_.size(); ++i) {
    Artefact& a = found_[i].art;
    c_.out.folder(a.type);  // every type pass 2 found has its folder, kept or not, as always
    if (drop[i]) continue;
    if (found_[i].parent == SIZE_MAX) {
      a.id = artefact_id(++n);
    } else {
      a.parent = found_[found_[i].parent].art.id;
      a.id = thumbnail_id(*a.parent, found_[i].number);
    }
    a.file = c_.out.rel(c_.out.artefact(a.type, a.id, a.ext));
    kept.push_back(i);
  }
  // Hash, check, write and PDQ-hash each kept artefact, on several threads.
  struct Done {
    base::Digests digests;
    std::optional<hashset::Match> known;
    bool left_out = false;
    std::optional<PdqResult> pdq;
  };
  std::vector<Done> done(kept.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    std::vector<std::byte> buf;
    for (size_t k; (k = next++) < kept.size();) {
      const Found& f = found_[kept[k]];
      auto bytes = held_.get(f.bytes, buf);
      Done& d = done[k];
      d.digests = base::hash_bytes(bytes);
      d.known = c_.known.lookup(d.digests);
      d.left_out = c_.known.leave_out(f.art.type, d.known);
      if (!d.left_out) write_file(c_.out.outdir() / f.art.file, bytes);
      if (pdq_type(f.art.type)) d.pdq = pdq_of_bytes(bytes);
    }
  };
  unsigned threads = c_.opts.threads ? c_.opts.threads : std::thread::hardware_concurrency();
  threads = static_cast<unsigned>(std::clamp<size_t>(kept.size(), 1, std::max(1u, threads)));
  base::TaskGroup group;
  for (unsigned t = 0; t < threads; ++t) group.run(work);
  if (auto err = group.wait()) throw std::runtime_error(*err);
  for (size_t k = 0; k < kept.size(); ++k) {
    Artefact& a = found_[kept[k]].art;
    set_digests(a, done[k].digests);
    a.known = done[k].known;
    if (done[k].left_out) a.file.clear();
    if (done[k].pdq) apply_pdq(a, *done[k].pdq);
    arts.push_back(std::move(a));
  }
  found_.clear();
}

}  // namespace safehold::carve
