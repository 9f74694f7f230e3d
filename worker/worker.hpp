// worker/: the glue that runs queue jobs in-process, as a lab's imaging station does. It claims the
// highest-priority job its station can do from the scheduler, acquires the device (or image) into
// E01 under DIR/<case>/<exhibit>/, verifies it, carves media and chats from it, heartbeats while
// working, and records the outcome on the device. Resumes an acquisition that another worker left
// behind (killed, lease expired) instead of starting over.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "scheduler/queue.hpp"

namespace safehold::worker {

struct LabSets;  // worker/findings.hpp

struct WorkerOptions {
  std::string db_url;
  std::string station;
  // Recorded in the images made (E01 "examiner"); when "", the device's assigned examiner.
  std::string examiner;
  std::vector<scheduler::DeviceClass> capabilities;  // empty: every class
  std::filesystem::path evidence_dir;
  bool exit_when_empty = false;  // stop when no job is claimable instead of polling
  int64_t max_jobs = 0;          // stop after this many jobs (0: no limit)
  double poll_seconds = 5;
  unsigned threads = 0;                     // for acquisition and carving (0: all cores)
  const std::atomic<bool>* stop = nullptr;  // set by SIGTERM: finish or release the current step
  // One event per call (no personal data): {"event": "started"|"progress"|"done"|"failed"|
  // "released", "job": "acquire"|"carve", "exhibit", and for progress "phase", "percent",
  // "done", "total", "rate", "eta_seconds"; "error" for failed}. Progress comes at least every
  // 5 % or 30 s of a phase. `safehold work` adds the time and the station and writes JSON lines.
  std::function<void(const nlohmann::json&)> log;
};

struct JobOutcome {
  std::string exhibit;
  std::string case_ref;
  scheduler::JobKind kind = scheduler::JobKind::acquire;
  int tier = 1;
  std::string risk;
  std::string device_class;
  bool ok = false;
  bool released = false;  // stopped (SIGTERM) and handed back to the queue, to resume later
  std::string error;
  std::filesystem::path dir;  // DIR/<case>/<exhibit>
  nlohmann::json result;      // hashes (acquire) or counts and report paths (carve)
};

// Folder name for an identifier typed by a person: [A-Za-z0-9._-] kept, anything else replaced,
// with a short hash suffix when changed so that two identifiers never share a folder.
std::string safe_component(const std::string& id);

// The folder of a device's evidence: DIR/<case>/<exhibit>.
std::filesystem::path device_dir(const std::filesystem::path& evidence_dir,
                                 const std::string& case_ref, const std::string& exhibit);

// Claims and runs jobs until the queue is empty (exit_when_empty), max_jobs is reached or stop is
// set. Returns what each job did, in order.
std::vector<JobOutcome> run(const WorkerOptions& opts);

// Runs one claimed job (exposed for tests). Never throws for a job failure: the outcome says.
// A carve uses every lab hash set of the queue (`sets`, opened once by run(); opened here when
// null) and stores the device's findings in the queue before completing the job.
JobOutcome run_job(const WorkerOptions& opts, scheduler::Store& store,
                   const scheduler::Claim& claim, std::shared_ptr<const LabSets> sets = nullptr);

}  // namespace safehold::worker
