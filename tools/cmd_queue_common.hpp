// Shared by the `safehold queue` command groups (tools/cmd_queue*.cpp): the options every leaf
// command takes, error handling and the text views. Glue only: the queue is scheduler/.
#pragma once

#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/json.hpp"
#include "scheduler/queue.hpp"
#include "scheduler/views.hpp"
#include "tools/command.hpp"

namespace safehold::tools::queue_cli {

namespace sch = safehold::scheduler;
using base::printable;
using nlohmann::json;

struct Common {
  std::string db = "./safehold-data/queue.db";
  bool json = false;
  std::string user;
};

// Adds --db, --json and --user to a leaf command.
std::shared_ptr<Common> common(CLI::App* sub);
// --user, or the login name.
std::string user_of(const Common& c);
// Opens an existing queue database; a missing SQLite file is an error naming it (QueueError).
std::unique_ptr<sch::Store> open_store(const Common& c);

// Runs an operation, turning queue errors into one sentence and an exit code.
template <typename F>
void guarded(F f) {
  try {
    f();
  } catch (const sch::QueueError& e) {
    fail(e.kind == sch::QueueError::Kind::storage ? Exit::failed : Exit::usage, e.what());
  }
}

// A name parsed by `parse`, or a usage error naming the option and what it allows.
template <typename T, typename P>
T parse_value(const std::string& s, P parse, const char* what, const char* allowed) {
  auto v = parse(s);
  if (!v)
    fail(Exit::usage, fmt::format("{} '{}' is not valid: use {}", what, printable(s), allowed));
  return *v;
}
inline constexpr const char* kRisks = "very-high, high, medium, low or none";
inline constexpr const char* kAnswers = "yes, no or unknown";
inline constexpr const char* kClasses = "phone, tablet, computer, removable or other";

// "a,b,,c" -> {"a", "b", "c"}.
std::vector<std::string> split(const std::string& s);
// "YYYY-MM-DD HH:MM" (UTC), "-" for none.
inline std::string iso(int64_t t) {
  return sch::utc_minutes(t);
}

void print_change(const Common& c, const sch::ChangeResult& r, sch::Store& store);
void print_entries(const std::vector<sch::QueueEntry>& entries);

// The command groups, each in its own file.
void add_init_command(CLI::App* q);
void add_case_commands(CLI::App* q);
void add_suspect_commands(CLI::App* q);
void add_device_commands(CLI::App* q);
void add_list_commands(CLI::App* q);
void add_alert_commands(CLI::App* q);
void add_work_commands(CLI::App* q);
void add_audit_commands(CLI::App* q);
void add_csv_commands(CLI::App* q);
void add_policy_commands(CLI::App* q);
void add_token_commands(CLI::App* q);
void add_station_commands(CLI::App* q);
void add_findings_commands(CLI::App* q);

}  // namespace safehold::tools::queue_cli
