// carve/: the known-hash marking stage. Each artefact is looked up in the known-hash sets
// (`safehold carve --known SET…`) as soon as its digests exist, before its file is written, so
// that ignorable ones (`--skip-known-ignorable`) never reach artefacts/ (they stay in the report);
// every JPEG and PNG gets its PDQ hash from the same bytes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/hash.hpp"
#include "carve/artefact.hpp"
#include "hashset/hashset.hpp"

namespace safehold::carve {

// The known-hash lookup and the decision to leave a file out of artefacts/. SQLite databases are
// written all the same, because the chat readers read the copy: remove_ignorable_databases()
// takes them out once the readers are done.
class KnownCheck {
 public:
  KnownCheck(const hashset::HashSets* sets, bool skip_ignorable)
      : sets_(sets), skip_(skip_ignorable) {}
  // Null when no sets were given or the digests are in none (thread-safe).
  std::optional<hashset::Match> lookup(const base::Digests& d) const;
  // True when an artefact of this type and match is not to be written.
  bool leave_out(const std::string& type, const std::optional<hashset::Match>& m) const {
    return skip_ && m && m->ignorable && type != "sqlite";
  }
  // Removes the files of ignorable SQLite databases (after the chat readers); clears their `file`.
  void remove_ignorable_databases(std::vector<Artefact>& arts,
                                  const std::filesystem::path& outdir) const;

 private:
  const hashset::HashSets* sets_;
  bool skip_;
};

struct KnownCounts {
  uint64_t known = 0;    // artefacts found in a set
  uint64_t skipped = 0;  // of which left out of artefacts/ as ignorable
};
KnownCounts count_known(const std::vector<Artefact>& arts);

// The PDQ hash of an image.
struct PdqResult {
  std::optional<std::string> pdq;
  std::optional<int> quality;
  std::optional<std::string> warning;  // "PDQ: why it could not be decoded"
};
PdqResult pdq_of_bytes(std::span<const std::byte> data);
// Fills pdq, pdq_quality and a warning (appended) into an artefact.
void apply_pdq(Artefact& a, const PdqResult& r);

// True for the report types PDQ hashes (the decoders it has).
bool pdq_type(const std::string& type);

}  // namespace safehold::carve
