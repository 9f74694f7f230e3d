#include "carve/chat/recover.hpp"

namespace vigil::carve::chat {

RecoveryContext::RecoveryContext(const std::filesystem::path& original,
                                 const std::filesystem::path& live, const std::string& wal_bytes,
                                 const Wal& wal)
    : original_(read_file_bytes(original)),
      live_(original == live ? std::string() : read_file_bytes(live)),
      wal_bytes_(wal_bytes),
      wal_(wal) {}

std::vector<RecoveredRecord> RecoveryContext::recover(const Table&,
                                                      const std::vector<std::optional<size_t>>&) {
  return {};
}

}  // namespace vigil::carve::chat
