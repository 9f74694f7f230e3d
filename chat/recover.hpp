// Deleted-record recovery: records of a table found in free space inside its b-tree pages
// (freeblocks and the unallocated gap), in freelist pages, and in WAL frames that later frames
// superseded (and pages of the main file that the WAL replaced), and in the page images a
// rollback journal kept (read, never rolled back). Records are matched to the
// table by column count and the compatibility of serial types with declared affinities.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/sqlite_db.hpp"
#include "chat/sqlite_format.hpp"

namespace safehold::chat {

struct RecoveredRecord {
  std::optional<int64_t> rowid;
  std::vector<Value> values;  // in the order of the wanted columns
  std::string location;       // e.g. "page 12 freeblock +3012", "wal frame 7 page 3 cell +40"
  std::string from;           // freeblock, unallocated, journal or wal
};

// A read-only memory map of a whole file (empty for an empty file).
class MappedFile {
 public:
  explicit MappedFile(const std::filesystem::path& p);  // throws std::runtime_error
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  std::string_view bytes() const { return {static_cast<const char*>(data_), size_}; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

// The bytes recovery reads: the database as found, what SQLite reads (the same bytes, or the
// copy with the WAL applied), the WAL and the rollback journal.
struct RecoveryInput {
  std::string_view original, live;
  bool wal_applied = false;
  std::string_view wal_bytes;
  const Wal* wal = nullptr;
  std::string_view journal;
};
// Deleted records of `table` (see RecoveryContext::recover); never reads outside the inputs.
std::vector<RecoveredRecord> recover_records(const RecoveryInput& in, const Table& table,
                                             const std::vector<std::optional<size_t>>& wanted);

class RecoveryContext {
 public:
  // original: the database copy as found; live: what SQLite reads (the copy with the WAL
  // applied, or the original).
  RecoveryContext(const std::filesystem::path& original, const std::filesystem::path& live,
                  const std::string& wal_bytes, const Wal& wal,
                  const std::optional<std::filesystem::path>& journal = std::nullopt);
  // Deleted records of `table` not identical to a live row; `wanted[k]` is the table column
  // giving wanted value k (nullopt: NULL).
  std::vector<RecoveredRecord> recover(const Table& table,
                                       const std::vector<std::optional<size_t>>& wanted);

 private:
  MappedFile original_;
  std::optional<MappedFile> live_;  // when it differs from the original
  const std::string& wal_bytes_;
  const Wal& wal_;
  std::string journal_;  // rollback journal: page images from before the last transaction
};

}  // namespace safehold::chat
