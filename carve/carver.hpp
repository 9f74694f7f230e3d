// The carving pipeline behind `safehold carve`: pass 1 over every file the filesystems know
// (allocated, deleted, orphan; type by content; carve/pass1.hpp), pass 2 over unallocated and
// unpartitioned space only (signature carving with format walkers, bifragment JPEG gap carving;
// carve/pass2.hpp), EXIF thumbnails, known-hash marks (carve/known_mark.hpp), SQLite databases for
// the chat readers (carve/chat_link.hpp), and the reports (report.jsonl, dfxml.xml,
// summary.json) in the output layout of carve/layout.hpp. docs/carve.md describes the stages.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "carve/artefact.hpp"
#include "carve/types.hpp"
#include "fs/evidence.hpp"
#include "hashset/hashset.hpp"

namespace safehold::carve {

struct Progress {
  std::string phase;  // "files", "carving", "chat", "reports"
  uint64_t bytes_done = 0;
  uint64_t bytes_total = 0;  // of the current phase
  // Found so far; while the passes run this includes candidates merged or left out later, so
  // only once final_count is set (chat, reports) does it equal the summary's artefacts.
  uint64_t artefacts = 0;
  bool final_count = false;
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
  // Read failures: image ranges that could not be read (the image's own damage and what pass 2
  // could not read), and files whose content could not be read in full (their problems are in
  // `errors` too). complete is false when either is non-empty: the carve missed something.
  std::vector<fs::ChunkError> unreadable;
  uint64_t unreadable_files = 0;
  bool complete = true;
  double seconds = 0;
  bool chat_linked = false;
  uint64_t known = 0;          // artefacts found in a known-hash set
  uint64_t known_skipped = 0;  // of which left out of artefacts/ as ignorable
  uint64_t videos_hashed = 0;  // videos given vPDQ frame hashes (vpdq/<id>.txt)
  uint64_t videos_failed = 0;  // videos that could not be decoded (a warning each)
  uint64_t videos_known = 0;   // videos marked known by their frames (vPDQ's rule)
  // What the chat readers found, over every SQLite database (each database's own counts are on
  // its report.jsonl line). Not written to summary.json, whose keys stay as documented.
  uint64_t messages = 0;
  uint64_t recovered_messages = 0;  // of which recovered from free pages, WAL or journal
};
nlohmann::json to_json(const Summary& s);

// Runs both passes on an opened evidence and writes every output into opts.outdir (which must
// exist). Damage inside the evidence is recorded in the summary; throws only when outputs cannot
// be written.
Summary carve(fs::Evidence& ev, const CarveOptions& opts);

}  // namespace safehold::carve
