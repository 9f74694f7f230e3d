// `safehold work`: a station that claims jobs from the queue in priority order and runs them.
#include <fmt/core.h>

#include <atomic>
#include <csignal>
#include <ctime>
#include <iostream>

#include "base/format.hpp"
#include "base/json.hpp"
#include "fs/json.hpp"
#include "tools/command.hpp"
#include "tools/config.hpp"
#include "worker/worker.hpp"

namespace safehold::tools {
namespace {

std::atomic<bool> g_stop{false};

// A missing SQLite database is refused here, once, rather than created by the first claim.
void require_queue_db(const std::string& db) {
  try {
    scheduler::Store::OpenOptions o;
    o.create = false;
    scheduler::Store::open(db, o);
  } catch (const scheduler::QueueError& e) {
    fail(e.kind == scheduler::QueueError::Kind::storage ? Exit::failed : Exit::usage, e.what());
  }
}
extern "C" void on_term(int) {
  g_stop = true;
}

void register_work(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "work", "Claim jobs from the queue in priority order and run them (imaging station)");
  struct Args {
    std::string db = "./safehold-data/queue.db", station, caps, dir, examiner;
    bool json = false, exit_when_empty = false;
    int64_t max_jobs = 0;
    double poll = 5;
    unsigned threads = 0;
  };
  auto a = std::make_shared<Args>();
  if (auto v = env_or_empty("SAFEHOLD_DB"); !v.empty()) a->db = v;
  a->station = env_or_empty("SAFEHOLD_STATION");
  a->dir = env_or_empty("SAFEHOLD_EVIDENCE_DIR");
  a->examiner = env_or_empty("SAFEHOLD_EXAMINER");
  a->caps = env_or_empty("SAFEHOLD_CAPABILITIES");
  cmd->add_option("--db", a->db,
                  "Queue database: PATH, sqlite:PATH or postgresql://... (default "
                  "./safehold-data/queue.db, or $SAFEHOLD_DB)");
  cmd->add_option("--station", a->station,
                  "This station's name (holds the leases; or $SAFEHOLD_STATION)");
  cmd->add_option(
      "--capabilities", a->caps,
      "Device classes this station takes: phone,tablet,computer,removable,other (default "
      "all, or $SAFEHOLD_CAPABILITIES)");
  cmd->add_option("--evidence-dir", a->dir,
                  "Where evidence goes: DIR/<case>/<exhibit>/ (or $SAFEHOLD_EVIDENCE_DIR)");
  cmd->add_option("--examiner", a->examiner,
                  "Examiner recorded in the images this station makes (or $SAFEHOLD_EXAMINER)");
  cmd->add_flag("--exit-when-empty", a->exit_when_empty,
                "Stop when no job is claimable instead of waiting");
  cmd->add_option("--max-jobs", a->max_jobs, "Stop after this many jobs");
  cmd->add_option("--poll", a->poll, "Seconds between claims when the queue is empty (default 5)");
  cmd->add_option("--threads", a->threads, "Threads for imaging and carving (default: all cores)");
  cmd->add_flag("--json", a->json, "One JSON object per finished job on stdout");
  cmd->callback([a] {
    if (a->station.empty())
      fail(Exit::usage,
           "work needs --station (or SAFEHOLD_STATION, or station in the config file)");
    if (a->dir.empty())
      fail(Exit::usage,
           "work needs --evidence-dir (or SAFEHOLD_EVIDENCE_DIR, or evidence_dir in the config "
           "file)");
    require_queue_db(a->db);
    worker::WorkerOptions o;
    o.db_url = a->db;
    o.station = a->station;
    o.examiner = a->examiner;
    o.evidence_dir = a->dir;
    o.exit_when_empty = a->exit_when_empty;
    o.max_jobs = a->max_jobs;
    o.poll_seconds = a->poll;
    o.threads = a->threads;
    o.stop = &g_stop;
    std::string caps = a->caps + ",";
    for (size_t pos = 0, next;
         !a->caps.empty() && (next = caps.find(',', pos)) != std::string::npos; pos = next + 1) {
      std::string name = caps.substr(pos, next - pos);
      if (name.empty()) continue;
      auto c = scheduler::parse_class(name);
      if (!c)
        fail(Exit::usage, "--capabilities: unknown device class '" + name +
                              "' (use phone, tablet, computer, removable, other)");
      o.capabilities.push_back(*c);
    }
    std::signal(SIGTERM, on_term);
    std::signal(SIGINT, on_term);
    std::vector<worker::JobOutcome> jobs;
    try {
      // The station's log: JSON lines on stderr (the journal), each with its time and station.
      o.log = [station = a->station](const nlohmann::json& event) {
        nlohmann::json line = {{"time", base::iso8601(std::time(nullptr))}, {"station", station}};
        line.update(event);
        std::cerr << base::dump(line) << std::endl;
      };
      // Print each job as it finishes so a lab server's log follows along.
      worker::WorkerOptions each = o;
      int64_t n = 0;
      while (!g_stop && (!o.max_jobs || n < o.max_jobs)) {
        each.max_jobs = 1;
        auto one = worker::run(each);
        if (one.empty()) break;
        for (auto& j : one) {
          ++n;
          if (a->json) {
            nlohmann::json out = {{"exhibit", j.exhibit},
                                  {"case", j.case_ref},
                                  {"job", scheduler::to_string(j.kind)},
                                  {"tier", j.tier},
                                  {"risk", j.risk},
                                  {"class", j.device_class},
                                  {"ok", j.ok},
                                  {"released", j.released},
                                  {"error", j.error},
                                  {"dir", j.dir.string()},
                                  {"result", j.result}};
            std::cout << base::dump(out) << std::endl;
          } else {
            std::cout << fmt::format("{:<8} {:<16} case {:<14} tier {} risk {:<9} {:<9} {}\n",
                                     scheduler::to_string(j.kind), base::printable(j.exhibit),
                                     base::printable(j.case_ref), j.tier, j.risk, j.device_class,
                                     j.ok         ? "ok"
                                     : j.released ? "stopped, handed back to the queue"
                                                  : "FAILED: " + base::printable(j.error))
                      << std::flush;
          }
          if (!j.ok && !j.released) jobs.push_back(j);
        }
      }
    } catch (const scheduler::QueueError& e) {
      // Not the URL: a PostgreSQL URL may hold a password.
      // A stopped station (conflict) or an unusable database ends the station with exit 2.
      fail(e.kind == scheduler::QueueError::Kind::storage ||
                   e.kind == scheduler::QueueError::Kind::conflict
               ? Exit::failed
               : Exit::usage,
           e.what());
    }
    if (!jobs.empty()) throw CommandExit{static_cast<int>(Exit::failed)};
  });
}

Registrar reg(60, register_work);

}  // namespace
}  // namespace safehold::tools
