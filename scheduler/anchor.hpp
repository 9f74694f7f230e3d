// Internal to scheduler/: the audit anchor file, the chain's heads kept outside the database.
// One JSON line per anchor, {"at": ISO 8601, "hash": HEX, "seq": N}, appended (O_APPEND, then
// fsync) after the commit that made the head; never rewritten. docs/AUDIT.md is the threat model.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "scheduler/queue.hpp"

namespace safehold::scheduler::detail {

// Appends one anchor line; throws std::runtime_error naming the file when it cannot.
void append_anchor(const std::string& file, const AuditAnchor& a);

// The anchors in `file` (none when it does not exist). A line that is not an anchor adds a
// problem naming the file and line (a damaged anchor file is itself a sign of tampering).
std::vector<AuditAnchor> read_anchors(const std::string& file, std::vector<std::string>& problems);

// Checks a chain read in one snapshot against anchors read before that snapshot (so every anchor
// names a committed record): `hashes` holds the chain's hash of every anchored sequence number
// present, `last_seq` is the chain's last record (0 when empty). Adds one problem per anchor the
// chain contradicts, at most `max_problems` (then one line counting the rest).
void check_anchors(const std::vector<AuditAnchor>& anchors,
                   const std::map<int64_t, std::string>& hashes, int64_t last_seq,
                   std::vector<std::string>& problems, size_t max_problems = 5);

}  // namespace safehold::scheduler::detail
