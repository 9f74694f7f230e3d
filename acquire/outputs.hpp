// The files an acquisition writes (OUT.E01 [.E02 ...], OUT.acquire.json/.log/.state) and the
// checks made on them before anything is opened: the output folder, an existing image (refused,
// overwritten with --force, continued with --resume).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "acquire/acquire.hpp"

namespace safehold::acquire {

struct OutputPaths {
  std::filesystem::path base;  // OUT (libewf adds .E01, .E02 ...)
  std::filesystem::path dir;   // the folder of OUT ("." when none is given)
  std::filesystem::path e01, record, log, state;
  explicit OutputPaths(const std::filesystem::path& out_base);
};

// What was found at the output before the acquisition started.
struct OutputPlan {
  bool resuming = false;             // an interrupted image is continued (--resume)
  bool empty_attempt = false;        // --resume found only a headerless first segment: restarted
  uint64_t empty_segment_bytes = 0;  // its size
  // The read-only flags ("MAJ:MIN" -> read-only) that an interrupted acquisition of the same
  // source found before it write-blocked the devices (kept in its resume state).
  std::map<std::string, bool> original_read_only;
};

// Checks the options against the output and clears what an acquisition replaces (--force, stale
// files of an attempt that wrote nothing). Refuses an output that names the source (same path,
// or the same file through another name, link or case): the acquisition would overwrite or delete
// it. Throws AcquireError(usage) with one sentence.
OutputPlan prepare_outputs(const Options& o, const OutputPaths& p);

}  // namespace safehold::acquire
