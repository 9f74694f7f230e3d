// acquire(): one acquisition from start to end, in the order an examiner reads it in the log:
// the output checked (outputs.cpp), the source opened and write-blocked (source.cpp), the settings
// of a fresh run or of the interrupted one (resume_state.cpp), the E01 writer, the pipeline
// (pipeline.cpp), then the digests stored and the record written (record.cpp).
#include "acquire/acquire.hpp"

#include <fmt/core.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <optional>

#include "acquire/ewf_writer.hpp"
#include "acquire/hash_state.hpp"
#include "acquire/log.hpp"
#include "acquire/outputs.hpp"
#include "acquire/pipeline.hpp"
#include "acquire/record.hpp"
#include "acquire/resume_state.hpp"
#include "acquire/salvage.hpp"
#include "acquire/source.hpp"
#include "base/format.hpp"
#include "base/json.hpp"
#include "base/version.hpp"

namespace safehold::acquire {

namespace fsys = std::filesystem;
using nlohmann::json;

const char* to_string(Compression c) {
  switch (c) {
    case Compression::none:
      return "none";
    case Compression::fast:
      return "fast";
    case Compression::best:
      return "best";
  }
  return "?";
}

uint32_t choose_sectors_per_chunk(uint64_t size, uint32_t sector_size) {
  // libewf 20140813 refuses 2^27 chunks and more (docs/REFERENCES.md); stay well below.
  constexpr uint64_t kMaxChunks = (1ull << 26) + (1ull << 24);
  uint32_t spc = 64;
  while (spc < 32768 && size / (static_cast<uint64_t>(spc) * sector_size) >= kMaxChunks) spc *= 2;
  return spc;
}

fsys::path base_of_image(const fsys::path& image) {
  std::string ext = image.extension().string();
  if (ext.size() == 4 && (ext[1] == 'E' || ext[1] == 'e'))
    return image.parent_path() / image.stem();
  return image;
}

namespace {

using Kind = AcquireError::Kind;

std::vector<base::HashAlgo> algos_of(unsigned bits) {
  std::vector<base::HashAlgo> out;
  for (auto a : {base::HashAlgo::md5, base::HashAlgo::sha1, base::HashAlgo::sha256})
    if (bits & static_cast<unsigned>(a)) out.push_back(a);
  return out;
}

Compression compression_named(const std::string& s) {
  return s == "none" ? Compression::none : s == "best" ? Compression::best : Compression::fast;
}

// One acquisition; each step is a method, called in order by run(). Members are declared so that
// the writer is destroyed before the source (whose destructor lifts the write block, logged) and
// the log last.
class Acquisition {
 public:
  explicit Acquisition(const Options& o)
      : o_(o), paths_(o.out_base), record_(paths_.record, log_) {}
  Result run();

 private:
  void open_log();
  void start_record();
  void open_source();
  void choose_settings();
  void check_space();
  void open_writer();
  void resume_writer();
  uint64_t salvage(uint64_t r);
  void create_writer();
  void save_first_state();
  void image();
  Result finish();
  void checkpoint(const std::vector<Snapshot>& snaps, const std::vector<BadRange>& bad) {
    write_file_atomic(paths_.state, state_text(state_, snaps, bad));
  }

  const Options& o_;
  OutputPaths paths_;
  OutputPlan plan_;
  Log log_;
  Record record_;
  std::string started_;
  std::optional<Source> src_;
  json state_;  // the interrupted run's state, then this run's
  uint64_t size_ = 0;
  uint32_t ss_ = 512, spc_ = 64, chunk_size_ = 0;
  Compression compression_ = Compression::fast;
  unsigned hashes_ = 0;
  std::optional<EwfWriter> writer_;
  uint64_t write_from_ = 0, start_ = 0;
  std::vector<ResumableDigest> digests_;
  std::vector<BadRange> bad_;
  std::vector<Snapshot> snapshots_;
  bool preliminary_state_ = false;  // the state file holds only the original write-block flags
};

Result Acquisition::run() {
  plan_ = prepare_outputs(o_, paths_);
  open_log();
  start_record();
  try {
    open_source();
    choose_settings();
    check_space();
    open_writer();
    save_first_state();
  } catch (...) {
    // Stopped before imaging: the source's destructor returns the flags to what they were, so
    // the state saved for them alone is of no use.
    std::error_code ec;
    if (preliminary_state_) fsys::remove(paths_.state, ec);
    throw;
  }
  image();
  return finish();
}

void Acquisition::open_log() {
  try {
    // A new image starts a new log; a resumed one (or one interrupted before any data) goes on.
    log_.open(paths_.log, /*append=*/plan_.resuming || plan_.empty_attempt);
  } catch (const std::exception& e) {
    throw AcquireError(Kind::usage, e.what());
  }
  started_ = utc_now();
  if (plan_.empty_attempt)
    log_.line(fmt::format(
        "The interrupted image held no data yet ({} bytes, no EWF header): starting over",
        plan_.empty_segment_bytes));
  log_.line(fmt::format("safehold {} acquire {}: source {}, output {}", base::kVersion,
                        plan_.resuming ? "resumed" : "started", base::printable(o_.source),
                        base::printable(paths_.e01.string())));
  log_.line(fmt::format("Case {} / evidence {} / examiner {}", base::printable(o_.info.case_number),
                        base::printable(o_.info.evidence_number),
                        base::printable(o_.info.examiner)));
  if (!o_.info.description.empty())
    log_.line("Description: " + base::printable(o_.info.description));
  if (!o_.info.notes.empty()) log_.line("Notes: " + base::printable(o_.info.notes));
  std::string hashes;
  for (auto a : algos_of(o_.hashes))
    hashes += (hashes.empty() ? "" : ",") + std::string(hash_name(a));
  log_.line(fmt::format("Host: {}; compression {}; hashes {}; read retries {}", os_string(),
                        to_string(o_.compression), hashes, o_.retries));
}

void Acquisition::start_record() {
  json& r = record_.fields();
  r["tool"] = {{"name", "safehold"}, {"version", base::kVersion}};
  r["source"] = o_.source;
  r["image"] = paths_.e01.string();
  r["case"] = {{"case_number", o_.info.case_number},
               {"evidence_number", o_.info.evidence_number},
               {"examiner", o_.info.examiner},
               {"description", o_.info.description},
               {"notes", o_.info.notes}};
  r["started"] = started_;
  r["host_os"] = os_string();
}

void Acquisition::open_source() {
  WriteBlockOptions wb;
  wb.original_read_only = plan_.original_read_only;
  if (!plan_.resuming)
    wb.before_set = [this](const json& flags) {
      // Saved before any flag changes: a run killed while it holds the write block is undone by
      // the run that continues (or replaces) it. The resumed state already holds them.
      write_file_atomic(
          paths_.state,
          json{{"version", 1}, {"source", o_.source}, {"write_block_original", flags}}.dump() +
              "\n");
      preliminary_state_ = true;
    };
  try {
    src_.emplace(o_.source, log_, o_.direct_io != DirectIo::off, o_.direct_io == DirectIo::on, wb);
  } catch (const AcquireError& e) {
    throw record_.fail(e.kind(), e.what());
  }
  json& r = record_.fields();
  r["write_block"] = src_->write_block();
  r["direct_io"] = src_->direct();
  r["device"] = src_->identity().to_json();
  size_ = src_->size();
  ss_ = src_->sector_size();
  r["size"] = size_;
  r["sector_size"] = ss_;
  if (src_->padding()) r["padding_bytes"] = src_->padding();
  if (size_ == 0)
    throw record_.fail(Kind::usage, fmt::format("{}: the source is empty", o_.source));
}

// A fresh run's settings, or those of the interrupted run being resumed.
void Acquisition::choose_settings() {
  spc_ = o_.sectors_per_chunk ? o_.sectors_per_chunk : choose_sectors_per_chunk(size_, ss_);
  compression_ = o_.compression;
  hashes_ = o_.hashes;
  json& r = record_.fields();
  if (plan_.resuming) {
    try {
      state_ = read_resume_state(paths_.state);
    } catch (const std::exception& e) {
      throw record_.fail(Kind::usage, fmt::format("{}: unreadable resume state: {}",
                                                  paths_.state.string(), e.what()));
    }
    if (state_.value("size", uint64_t{0}) != size_ ||
        state_.value("source", std::string()) != o_.source ||
        state_.value("serial", std::string()) != src_->identity().serial)
      throw record_.fail(
          Kind::usage,
          fmt::format("{}: the interrupted acquisition was of another source ({}, {} bytes)",
                      o_.source, state_.value("source", std::string("?")),
                      state_.value("size", uint64_t{0})));
    spc_ = state_.value("sectors_per_chunk", spc_);
    compression_ = compression_named(state_.value("compression", std::string("fast")));
    hashes_ = state_.value("hashes", hashes_);
    r["started"] = state_.value("started", started_);
    r["resumed"] = json::array();
    if (state_.contains("resumed")) r["resumed"] = state_["resumed"];
    r["resumed"].push_back(started_);
  }
  chunk_size_ = spc_ * ss_;
  r["chunk_size"] = chunk_size_;
  r["sectors_per_chunk"] = spc_;
  r["compression"] = to_string(compression_);
  r["segment_size"] = o_.segment_size;
  if (spc_ != 64)
    log_.line(
        fmt::format("Chunk size {} bytes ({} sectors): the source has {} bytes and libewf 20140813 "
                    "cannot address "
                    "2^27 chunks or more",
                    chunk_size_, spc_, size_));
  else
    log_.line(fmt::format("Chunk size {} bytes ({} sectors)", chunk_size_, spc_));
}

// Free space: the worst case is every chunk stored, plus tables and headers.
void Acquisition::check_space() {
  struct statvfs vs {};
  if (statvfs(paths_.dir.c_str(), &vs) != 0) return;
  const uint64_t free_bytes = static_cast<uint64_t>(vs.f_bavail) * vs.f_frsize;
  const uint64_t need = size_ + size_ / chunk_size_ * 16 + (size_ / o_.segment_size + 1) * 65536;
  record_.fields()["destination_free_bytes"] = free_bytes;
  record_.fields()["destination_worst_case_bytes"] = need;
  log_.line(
      fmt::format("Destination {}: {} free; the image needs at most {} ({} bytes) uncompressed",
                  paths_.dir.string(), base::human_size(free_bytes), base::human_size(need), need));
  if (free_bytes >= need || plan_.resuming) return;
  if (compression_ == Compression::none)
    throw record_.fail(Kind::usage,
                       fmt::format("{}: not enough free space: the image needs {} ({} bytes), {} "
                                   "free",
                                   paths_.dir.string(), base::human_size(need), need,
                                   base::human_size(free_bytes)));
  log_.line(
      "Warning: the destination may fill up unless the data compresses; an acquisition "
      "stopped by a full "
      "disk can be continued with --resume after freeing space");
}

void Acquisition::open_writer() {
  for (auto a : algos_of(hashes_)) digests_.emplace_back(a);
  try {
    if (plan_.resuming)
      resume_writer();
    else
      create_writer();
  } catch (const AcquireError& e) {
    throw record_.fail(e.kind(), e.what());
  }
  const DeviceIdentity& id = src_->identity();
  record_.fields()["media_type"] = id.removable ? "removable" : "fixed";
  record_.fields()["media_flags"] =
      (id.block_device && id.disk == id.kernel_name) ? "physical" : "logical";
}

// Reopens the interrupted image where libewf can continue it and restores the digests from the
// latest checkpoint at or before that point; hashing re-reads from there.
void Acquisition::resume_writer() {
  uint64_t r = 0;
  writer_.emplace(EwfWriter::resume(paths_.base, &r));
  write_from_ = r;
  const uint64_t seg = state_.value("segment_size", o_.segment_size);
  if (!writer_->set_segment_size(seg))
    log_.line(fmt::format(
        "Warning: libewf keeps its own segment size for the resumed part (asked {})", seg));
  record_.fields()["segment_size"] = seg;
  write_from_ = salvage(r);
  Checkpoint c = restore_checkpoint(state_, write_from_, ss_, digests_);
  start_ = c.start;
  snapshots_ = std::move(c.snapshots);
  bad_ = std::move(c.bad);
  log_.line(fmt::format(
      "Resuming: the image holds {} bytes ({} chunks) of {}; hashing continues from the "
      "checkpoint at byte {}",
      write_from_, write_from_ / chunk_size_, size_, start_));
}

// The chunks written after libewf's resume point `r` up to the latest checkpoint they reach,
// written again from the segment file; returns where the image then ends.
uint64_t Acquisition::salvage(uint64_t r) {
  std::vector<uint64_t> checkpoints;
  for (auto& sj : state_.value("snapshots", json::array()))
    checkpoints.push_back(sj.value("offset", uint64_t{0}));
  std::sort(checkpoints.begin(), checkpoints.end());
  if (checkpoints.empty() || checkpoints.back() <= r) return r;
  Salvage sv = Salvage::scan(paths_.base, r, checkpoints.back(), chunk_size_, size_);
  // Only up to a checkpoint: the image then ends where a saved hash state continues.
  uint64_t upto = r;
  for (uint64_t c : checkpoints)
    if (c > r && c <= sv.end_offset(sv.count())) upto = c;
  if (upto == r) return r;
  const size_t want = static_cast<size_t>((upto - r + chunk_size_ - 1) / chunk_size_);
  const size_t n = sv.replay(*writer_, want);
  const uint64_t end = sv.end_offset(n);
  log_.line(fmt::format(
      "libewf continues the interrupted image after byte {}; the {} chunks the interrupted run "
      "wrote after it up to the checkpoint at byte {} are in {}: {} of them checked against their "
      "own checksums and kept",
      r, want, upto, base::printable(sv.file()), n));
  // Short of the checkpoint (the file changed under the replay), hashing continues from an
  // earlier checkpoint and re-reads up to `end` without writing.
  return end;
}

void Acquisition::create_writer() {
  const DeviceIdentity& id = src_->identity();
  EwfSettings es;
  es.media_size = size_;
  es.bytes_per_sector = ss_;
  es.sectors_per_chunk = spc_;
  es.compression = compression_;
  es.segment_size = o_.segment_size;
  es.removable = id.removable;
  es.physical = id.block_device && id.disk == id.kernel_name;
  es.headers = {{"case_number", o_.info.case_number},
                {"evidence_number", o_.info.evidence_number},
                {"examiner_name", o_.info.examiner},
                {"description", o_.info.description},
                {"notes", o_.info.notes},
                {"acquiry_operating_system", os_string()},
                {"acquiry_software", "safehold"},
                {"acquiry_software_version", base::kVersion},
                {"model", id.model},
                {"serial_number", id.serial}};
  writer_.emplace(EwfWriter::create(paths_.base, es));
  Snapshot zero;
  for (auto& d : digests_) zero.states[hash_name(d.algo())] = d.save();
  snapshots_.push_back(zero);
}

void Acquisition::save_first_state() {
  const json& r = record_.fields();
  state_ = json{{"version", 1},
                {"source", o_.source},
                {"serial", src_->identity().serial},
                {"size", size_},
                {"sectors_per_chunk", spc_},
                {"compression", to_string(compression_)},
                {"hashes", hashes_},
                {"segment_size", r["segment_size"]},
                {"started", r["started"]},
                {"resumed", r.value("resumed", json::array())}};
  if (const json flags = src_->original_flags(); !flags.empty())
    state_["write_block_original"] = flags;
  try {
    checkpoint(snapshots_, bad_);
  } catch (const AcquireError& e) {
    throw record_.fail(Kind::failed, e.what());
  }
  preliminary_state_ = false;
}

void Acquisition::image() {
  log_.line(fmt::format(
      "Imaging {} bytes ({}) from byte {}{}", size_, base::human_size(size_), write_from_,
      start_ < write_from_ ? fmt::format(" (hashing from byte {})", start_) : ""));
  Pipeline pipe(o_, *src_, log_, chunk_size_);
  try {
    pipe.run(start_, write_from_, digests_, *writer_, bad_, snapshots_,
             [this](const std::vector<Snapshot>& s, const std::vector<BadRange>& b) {
               checkpoint(s, b);
             });
  } catch (const std::exception& e) {
    writer_->abandon();
    std::string msg = e.what();
    if (msg.find("No space left") != std::string::npos || msg.find("ENOSPC") != std::string::npos ||
        msg.find("errno 28") != std::string::npos ||
        (msg.find("cannot write to the E01") != std::string::npos && [&] {
          struct statvfs vs {};
          return statvfs(paths_.dir.c_str(), &vs) == 0 &&
                 vs.f_bavail * vs.f_frsize < 2 * uint64_t{chunk_size_} + 65536;
        }()))
      msg = fmt::format(
          "{}: the destination is full (no space left on device); free space and continue with "
          "--resume",
          paths_.dir.string());
    throw record_.fail(Kind::failed, msg);
  }
}

Result Acquisition::finish() {
  // false when the kernel refused O_DIRECT on the way (logged)
  record_.fields()["direct_io"] = src_->direct();
  Result res;
  res.size = size_;
  for (auto& d : digests_) {
    std::string h = d.finish();
    switch (d.algo()) {
      case base::HashAlgo::md5:
        res.digests.md5 = h;
        break;
      case base::HashAlgo::sha1:
        res.digests.sha1 = h;
        break;
      case base::HashAlgo::sha256:
        res.digests.sha256 = h;
        break;
    }
  }
  res.read_errors = bad_;
  try {
    for (auto& r : bad_) writer_->add_acquiry_error(r.sector, r.count);
    writer_->finish(res.digests.md5, res.digests.sha1);
  } catch (const AcquireError& e) {
    throw record_.fail(Kind::failed, e.what());
  }
  std::error_code ec;
  fsys::remove(paths_.state, ec);
  res.segments = existing_segments(paths_.base);
  res.status = bad_.empty() ? Status::complete : Status::complete_with_errors;
  record_.complete(res);
  return res;
}

}  // namespace

Result acquire(const Options& o) {
  if (o.out_base.empty())
    throw AcquireError(AcquireError::Kind::usage, "no output given (-o OUTBASE)");
  Acquisition a(o);
  return a.run();
}

}  // namespace safehold::acquire
