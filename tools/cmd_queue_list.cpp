// `safehold queue list|explain|breaches|alerts|ack`: reading the queue, and its safeguarding
// alerts.
#include <fmt/core.h>

#include <fstream>
#include <iostream>

#include "tools/cmd_queue_common.hpp"

namespace safehold::tools::queue_cli {

// `queue list|explain|breaches`.
void add_list_commands(CLI::App* q) {
  auto* ls = q->add_subcommand("list", "Devices in priority order, rank first");
  auto c = common(ls);
  auto states = std::make_shared<std::string>("queued");
  auto limit = std::make_shared<int64_t>(0);
  auto case_ref = std::make_shared<std::string>();
  ls->add_option("--state", *states, "States to list, comma-separated, or 'all' (default queued)");
  ls->add_option("--limit", *limit, "At most N devices");
  ls->add_option("--case", *case_ref, "Only this case's devices");
  ls->callback([=] {
    guarded([&] {
      sch::ListQuery lq;
      lq.limit = *limit;
      lq.case_ref = *case_ref;
      lq.states.clear();
      if (*states != "all")
        for (auto& st : split(*states))
          lq.states.push_back(parse_value<sch::DeviceState>(
              st, sch::parse_state, "--state",
              "intake, queued, acquiring, acquired, carving, "
              "review, done, failed, withdrawn, needs-source or all"));
      if (*limit < 0) fail(Exit::usage, "--limit must not be negative");
      auto s = open_store(*c);
      auto entries = s->list(lq);
      if (c->json) {
        json arr = json::array();
        for (auto& e : entries) arr.push_back(sch::to_json(e));
        std::cout << base::dump(arr, 2) << "\n";
      } else {
        print_entries(entries);
      }
    });
  });

  auto* ex = q->add_subcommand("explain", "Every component of a device's priority, and its rank");
  auto c2 = common(ex);
  auto exhibit = std::make_shared<std::string>();
  ex->add_option("EXHIBIT", *exhibit, "Exhibit reference")->required();
  ex->callback([=] {
    guarded([&] {
      auto s = open_store(*c2);
      auto e = s->explain(*exhibit);
      if (c2->json) {
        std::cout << base::dump(sch::to_json(e), 2) << "\n";
        return;
      }
      const auto& d = e.entry.device;
      fmt::print("Device {} (case {}, suspect {}), state {}\n", printable(d.exhibit),
                 printable(d.case_ref), printable(d.suspect_ref), sch::to_string(d.state));
      if (e.entry.rank)
        fmt::print("Rank: {} of {} queued\n", e.entry.rank, e.queued_total);
      else
        fmt::print("Rank: not queued ({} queued)\n", e.queued_total);
      int i = 1;
      for (auto& line : e.priority.reasons) fmt::print("  {}. {}\n", i++, printable(line));
      if (!e.findings.empty()) fmt::print("Findings that moved this case:\n");
      for (auto& line : e.findings) fmt::print("  - {}\n", printable(line));
      fmt::print("Deadline: {} UTC{}\n", iso(d.deadline_at), e.entry.overdue ? " (BREACHED)" : "");
    });
  });

  auto* br = q->add_subcommand("breaches", "Active devices past their deadline");
  auto c3 = common(br);
  br->callback([=] {
    guarded([&] {
      auto s = open_store(*c3);
      auto entries = s->breaches();
      if (c3->json) {
        json arr = json::array();
        for (auto& e : entries) arr.push_back(sch::to_json(e));
        std::cout << base::dump(arr, 2) << "\n";
      } else {
        print_entries(entries);
      }
    });
  });
}

// `queue alerts|ack`.
void add_alert_commands(CLI::App* q) {
  auto* al = q->add_subcommand("alerts", "Safeguarding alerts, open and overdue first");
  auto c = common(al);
  auto open = std::make_shared<bool>(false);
  al->add_flag("--open", *open, "Only alerts not yet acknowledged");
  al->callback([=] {
    guarded([&] {
      auto s = open_store(*c);
      auto list = s->alerts(*open);
      int64_t t = s->now();
      if (c->json) {
        json arr = json::array();
        for (auto& a : list) arr.push_back(sch::to_json(a, t));
        std::cout << base::dump(arr, 2) << "\n";
        return;
      }
      fmt::print("{:>5}  {:<9} {:<12} {:<12} {:<16}  {:<16}  {}\n", "ID", "STATUS", "CASE",
                 "SUSPECT", "RAISED (UTC)", "DUE (UTC)", "REASON / REFERENCE");
      for (auto& a : list) {
        std::string status = a.acknowledged ? "acked" : a.overdue(t) ? "OVERDUE" : "open";
        fmt::print("{:>5}  {:<9} {:<12} {:<12} {:<16}  {:<16}  {}\n", a.id, status,
                   printable(a.case_ref), printable(a.suspect_ref), iso(a.raised_at), iso(a.due_at),
                   a.acknowledged
                       ? fmt::format("{} (ref {}, by {})", a.reason, printable(a.reference),
                                     printable(a.acknowledged_by))
                       : a.reason);
      }
    });
  });

  auto* ack = q->add_subcommand("ack", "Acknowledge an alert: referral made to social care");
  auto c2 = common(ack);
  auto id = std::make_shared<int64_t>(0);
  auto ref = std::make_shared<std::string>();
  ack->add_option("ALERT", *id, "Alert id")->required();
  ack->add_option("--reference", *ref, "Children's social care reference")->required();
  ack->callback([=] {
    guarded([&] {
      auto s = open_store(*c2);
      auto a = s->acknowledge(user_of(*c2), *id, *ref);
      if (c2->json)
        std::cout << base::dump(sch::to_json(a, s->now()), 2) << "\n";
      else
        fmt::print("Alert {} acknowledged by {} (reference {})\n", a.id,
                   printable(a.acknowledged_by), printable(a.reference));
    });
  });
}

}  // namespace safehold::tools::queue_cli
