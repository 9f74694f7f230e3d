// The carving pipeline's last stage before the reports: each artefact is looked up in the
// known-hash sets (`safehold carve --known SET…`) and every JPEG and PNG gets its PDQ hash; known
// ignorable artefacts leave artefacts/ when asked (`--skip-known-ignorable`) but stay in the
// report.
#pragma once

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "carve/artefact.hpp"
#include "hashset/hashset.hpp"

namespace safehold::carve {

struct MarkOptions {
  const hashset::HashSets* known = nullptr;  // null or empty: no lookups
  bool skip_known_ignorable = false;
  bool pdq = true;
  unsigned threads = 0;  // for PDQ (0: every core)
};

// The PDQ hash of an image file as mark_artefacts() computes it (also used while carving runs).
struct PdqResult {
  std::optional<std::string> pdq;
  std::optional<int> quality;
  std::optional<std::string> warning;  // "PDQ: why it could not be decoded"
};
PdqResult pdq_of_file(const std::filesystem::path& file);
PdqResult pdq_of_bytes(std::span<const std::byte> data);  // the same, of the file's bytes

struct MarkCounts {
  uint64_t known = 0;       // artefacts found in a set
  uint64_t skipped = 0;     // of which removed from artefacts/ as ignorable
  uint64_t pdq = 0;         // images hashed
  uint64_t pdq_failed = 0;  // images that could not be decoded
};

// True for the report types PDQ hashes (the decoders it has).
bool pdq_type(const std::string& type);

MarkCounts mark_artefacts(std::vector<Artefact>& arts, const std::filesystem::path& outdir,
                          const MarkOptions& opts);

}  // namespace safehold::carve
