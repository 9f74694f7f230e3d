// carve/: the output layout under OUTDIR. Every artefact file is named from Safehold's final id
// (never from names inside the evidence) the first and only time it is written:
//   artefacts/<type>/<id>.<ext>               content
//   artefacts/sqlite/<id>.sqlite-wal|-journal SQLite companions
//   artefacts/.partial-N, artefacts/.held     scratch of the passes, gone when carve() returns
//   report.jsonl, dfxml.xml, summary.json     the reports (messages.* come from chat/)
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <set>
#include <span>
#include <string>

namespace safehold::carve {

// "000042": the id of the 42nd top-level artefact; a thumbnail is its parent's id plus "-t1".
std::string artefact_id(uint64_t n);
std::string thumbnail_id(const std::string& parent_id, int n);

class Layout {
 public:
  explicit Layout(std::filesystem::path outdir) : outdir_(std::move(outdir)) {}
  // Creates artefacts/ (OUTDIR must exist).
  void prepare();

  const std::filesystem::path& outdir() const { return outdir_; }
  // artefacts/<type>/<id>.<ext>; creates the type folder the first time (any thread).
  std::filesystem::path artefact(const std::string& type, const std::string& id,
                                 const std::string& ext);
  // artefacts/<type>, created the first time (any thread).
  std::filesystem::path folder(const std::string& type);
  // A SQLite database's companion beside it: `db` is its artefact path, suffix "-wal"/"-journal".
  static std::filesystem::path companion(const std::filesystem::path& db, const char* suffix);
  // A scratch file of the passes under artefacts/ (dot-named, removed by its user).
  std::filesystem::path scratch(const std::string& name) const;
  // A path under OUTDIR as the reports give it (relative, '/' separated).
  std::string rel(const std::filesystem::path& p) const;

 private:
  std::filesystem::path outdir_;
  std::mutex m_;
  std::set<std::string> made_;  // type folders created
};

// Writes a whole file; throws std::runtime_error naming it on failure.
void write_file(const std::filesystem::path& p, std::span<const std::byte> data);

// A read-only memory map of a file Safehold wrote (never of evidence); empty when unreadable.
class MappedFile {
 public:
  explicit MappedFile(const std::filesystem::path& p);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  std::span<const std::byte> bytes() const { return {data_, size_}; }

 private:
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace safehold::carve
