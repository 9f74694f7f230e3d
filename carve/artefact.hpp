// What the carving pass records about each artefact, and the report files made from those
// records (report.jsonl, dfxml.xml). Records are plain structs so that later stages (chat
// readers, known-hash sets) can add fields without touching the walkers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "fs/evidence.hpp"
#include "hashset/hashset.hpp"

namespace safehold::carve {

struct ImageRun {
  uint64_t img_offset = 0;
  uint64_t len = 0;
};

// Filled for SQLite artefacts once the chat readers have seen them.
struct ChatFields {
  std::string app, reader;
  uint64_t messages = 0, recovered = 0;
  bool encrypted = false;
  std::vector<std::string> errors;
};

struct Artefact {
  std::string id;
  std::string type, mime, ext;
  uint64_t size = 0;
  std::string md5, sha1, sha256;
  std::string file;                 // relative to OUTDIR
  std::string state;                // allocated, deleted, orphan, carved
  std::optional<std::string> path;  // inside the evidence (untrusted bytes)
  // A phone extraction's entry: where it is in the extraction (archive member, path inside the
  // folder); the path above is the one inside the device.
  std::optional<std::string> source;
  std::optional<int> volume;
  std::optional<std::string> fs;
  std::optional<uint64_t> inode;
  std::vector<ImageRun> byte_runs;
  std::optional<std::string> mtime, atime, ctime, crtime;
  bool valid = false;
  bool extension_mismatch = false;
  std::optional<std::string> parent;
  std::vector<std::string> warnings;
  // Known-hash match (`--known`), and the PDQ hash of JPEG and PNG images (null when undecodable).
  std::optional<hashset::Match> known;
  std::optional<std::string> pdq;
  std::optional<int> pdq_quality;
  // Videos: the vPDQ sidecar (relative to OUTDIR) and its frame count; null when not hashed.
  std::optional<std::string> vpdq_file;
  std::optional<uint64_t> vpdq_frames;
  // SQLite only.
  std::optional<std::string> wal_file, journal_file;  // relative to OUTDIR
  std::optional<ChatFields> chat;
  // Not in the report: where the record came from.
  int filesystem = -1;
  int pass = 1;
};

// One report.jsonl line (keys documented in docs/carve.md).
nlohmann::json to_json(const Artefact& a);

struct DfxmlSource {
  std::string image;
  uint32_t sector_size = 512;
  std::string command_line;
  std::string start_time;  // ISO 8601
};
// Writes DFXML 2.0 (valid against the dfxml_schema XSD). Throws std::runtime_error on I/O error.
void write_dfxml(const std::filesystem::path& out, const DfxmlSource& src,
                 const std::vector<Artefact>& arts);

}  // namespace safehold::carve
