// worker/: the lab's hash sets opened for carving, and a device's findings read from its carve's
// output (report.jsonl, messages.jsonl) for the queue (docs/scheduler.md "Findings"). Only
// artefact ids, hashes, types and counts leave this file: never a path or a file name.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hashset/hashset.hpp"
#include "scheduler/queue.hpp"

namespace safehold::worker {

// The queue's lab hash sets, memory-mapped once and shared by every carve of a run.
struct LabSets {
  hashset::HashSets sets;
  std::map<std::string, scheduler::LabHashSet> by_set_name;  // the file's set name -> lab set
  std::vector<scheduler::LabHashSet> listed;                 // as the queue listed them
};

// Opens every set; throws std::runtime_error naming the set and its file when one cannot be
// opened or its file's set name is no longer the one recorded.
std::shared_ptr<const LabSets> open_lab_sets(const std::vector<scheduler::LabHashSet>& sets);

// True for a path inside the evidence that looks like a camera's own folder (DCIM) and not like
// a download, a cache or a messenger's received media.
bool camera_path(const std::string& path);

// Reads a carve's output folder into findings: the summary (counts) and every picture and
// video's hashes, PDQ and dihedral variants, lab category and camera-original flag.
scheduler::DeviceFindings read_findings(const std::filesystem::path& outdir, const LabSets& sets);

}  // namespace safehold::worker
