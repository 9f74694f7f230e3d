// `safehold queue`: the examination queue (scheduler/queue.hpp) from the command line. Glue only:
// this file registers the command groups (tools/cmd_queue_*.cpp) and holds what they share.
#include <fmt/core.h>
#include <pwd.h>
#include <unistd.h>

#include <iostream>
#include <sstream>

#include "tools/cmd_queue_common.hpp"

namespace safehold::tools::queue_cli {
namespace {

std::string login_name() {
  if (const char* u = std::getenv("USER"); u && *u) return u;
  if (const char* l = getlogin(); l && *l) return l;
  if (auto* pw = getpwuid(geteuid())) return pw->pw_name;
  return "unknown";
}

}  // namespace

std::shared_ptr<Common> common(CLI::App* sub) {
  auto c = std::make_shared<Common>();
  if (const char* env = std::getenv("SAFEHOLD_DB"); env && *env) c->db = env;
  sub->add_option("--db", c->db,
                  "Queue database: PATH or sqlite:PATH (default ./safehold-data/queue.db, or "
                  "$SAFEHOLD_DB), or postgresql://…");
  sub->add_flag("--json", c->json, "Write JSON for scripts");
  sub->add_option("--user", c->user, "Name recorded in the audit (default: login name)");
  return c;
}

std::string user_of(const Common& c) {
  return c.user.empty() ? login_name() : c.user;
}

std::unique_ptr<sch::Store> open_store(const Common& c) {
  sch::Store::OpenOptions o;
  o.create = false;  // only `queue init` creates a database
  return sch::Store::open(c.db, o);
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

void print_change(const Common& c, const sch::ChangeResult& r, sch::Store& store) {
  if (c.json) {
    std::cout << base::dump(sch::change_json(r, store.now()), 2) << "\n";
    return;
  }
  if (r.devices_reranked) fmt::print("Re-ranked {} device(s)\n", r.devices_reranked);
  for (auto& a : r.alerts_raised)
    fmt::print(
        "SAFEGUARDING ALERT {} raised: suspect {} ({}); referral to children's social care "
        "due by {} UTC\n",
        a.id, printable(a.suspect_ref), a.reason, iso(a.due_at));
}

void print_entries(const std::vector<sch::QueueEntry>& entries) {
  fmt::print("{:>5}  {:<16} {:>4}  {:<9} {:<9} {:>8}  {:<16}  {:<9}  {:<12} {}\n", "RANK",
             "EXHIBIT", "TIER", "RISK", "CLASS", "WAITING", "DEADLINE (UTC)", "STATE", "CASE",
             "SUSPECT");
  for (auto& e : entries) {
    const auto& d = e.device;
    fmt::print("{:>5}  {:<16} {:>4}  {:<9} {:<9} {:>7.1f}d  {:<16}{} {:<9}  {:<12} {}\n", e.rank,
               printable(d.exhibit), d.tier, sch::to_string(e.risk), sch::to_string(d.device_class),
               e.waiting_days, iso(d.deadline_at), e.overdue ? "!" : " ", sch::to_string(d.state),
               printable(d.case_ref), printable(d.suspect_ref));
  }
}

namespace {

void register_queue(CLI::App& app) {
  auto* q = app.add_subcommand("queue",
                               "The examination queue: cases, suspects, devices, "
                               "priority, alerts, audit")
                ->require_subcommand(1);
  add_init_command(q);
  add_case_commands(q);
  add_suspect_commands(q);
  add_device_commands(q);
  add_list_commands(q);
  add_work_commands(q);
  add_alert_commands(q);
  add_audit_commands(q);
  add_csv_commands(q);
  add_policy_commands(q);
  add_token_commands(q);
  add_station_commands(q);
  add_findings_commands(q);
}

Registrar reg(40, register_queue);

}  // namespace
}  // namespace safehold::tools::queue_cli
