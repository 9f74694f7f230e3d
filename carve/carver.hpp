// The carving pipeline behind `safehold carve`: pass 1 over every file the filesystems know
// (allocated, deleted, orphan; type by content), pass 2 over unallocated and unpartitioned space
// only (signature carving with format walkers, bifragment JPEG gap carving), EXIF thumbnails,
// SQLite databases for the chat readers, and the reports (report.jsonl, dfxml.xml, summary.json).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "carve/artefact.hpp"
#include "fs/evidence.hpp"
#include "hashset/hashset.hpp"

namespace safehold::carve {

// Every report type name `--types` accepts, and the groups.
const std::vector<std::string>& media_types();
// Parses "media", "chat", "all" or a comma list of type names; throws std::invalid_argument
// naming the unknown type.
std::set<std::string> parse_types(const std::string& spec);

struct Progress {
  std::string phase;  // "files", "carving", "chat", "reports"
  uint64_t bytes_done = 0;
  uint64_t bytes_total = 0;  // of the current phase
  uint64_t artefacts = 0;
};

struct CarveOptions {
  std::filesystem::path outdir;
  std::set<std::string> types;        // report type names to keep (empty: all)
  bool unallocated = true;            // pass 2
  unsigned threads = 0;               // for the sequential reader (0: all cores)
  uint64_t max_carve = 256ull << 20;  // largest artefact pass 2 buffers (bounds memory)
  uint64_t max_gap = 8ull << 20;      // largest gap tried between two JPEG fragments
  std::string command_line;
  std::function<void(const Progress&)> progress;  // called from the carving thread
  const hashset::HashSets* known = nullptr;       // `--known`: sets to look every artefact up in
  bool skip_known_ignorable = false;              // leave known ignorable files out of artefacts/
};

struct Summary {
  std::map<std::string, std::map<std::string, uint64_t>> counts;  // type -> state -> n
  uint64_t artefacts = 0;
  uint64_t bytes_read = 0;
  uint64_t files_examined = 0;
  uint64_t carve_space = 0;                   // bytes of unallocated + unpartitioned space
  std::map<std::string, uint64_t> invalid;    // pass-2 candidates rejected, by type
  std::map<std::string, uint64_t> truncated;  // pass-2 candidates cut short, by type
  uint64_t bifragment = 0;                    // JPEGs rebuilt from two fragments
  std::vector<fs::Problem> errors;
  double seconds = 0;
  bool chat_linked = false;
  uint64_t known = 0;          // artefacts found in a known-hash set
  uint64_t known_skipped = 0;  // of which left out of artefacts/ as ignorable
};
nlohmann::json to_json(const Summary& s);

// Runs both passes on an opened evidence and writes every output into opts.outdir (which must
// exist). Damage inside the evidence is recorded in the summary; throws only when outputs cannot
// be written.
Summary carve(fs::Evidence& ev, const CarveOptions& opts);

}  // namespace safehold::carve
