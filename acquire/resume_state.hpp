// The resume state (OUT.acquire.state, written atomically at every checkpoint and removed once the
// image is complete): the settings of the interrupted acquisition and its hash checkpoints, so
// that --resume continues the same image with the same hashes as an uninterrupted run.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "acquire/hash_state.hpp"
#include "acquire/pipeline.hpp"

namespace safehold::acquire {

// Where hashing continues: the latest checkpoint at or before the image's end, the checkpoints
// kept for the state, and the read errors found before it.
struct Checkpoint {
  uint64_t start = 0;
  std::vector<Snapshot> snapshots;
  std::vector<BadRange> bad;
};

// Parses a state file; throws std::exception when it cannot be read or parsed.
nlohmann::json read_resume_state(const std::filesystem::path& p);

// Restores `digests` from the latest checkpoint of `state` at or before `image_end` (bytes the
// image holds). Throws AcquireError(failed) when the checkpoint is unusable.
Checkpoint restore_checkpoint(const nlohmann::json& state, uint64_t image_end, uint32_t sector_size,
                              std::vector<ResumableDigest>& digests);

// The state with its checkpoints and read errors, as written to the file.
std::string state_text(nlohmann::json& state, const std::vector<Snapshot>& snaps,
                       const std::vector<BadRange>& bad);

}  // namespace safehold::acquire
