// `safehold queue audit|import|export|policy|token`: the audit trail, CSV, policy and API tokens.
#include <fmt/core.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "tools/cmd_queue_common.hpp"

namespace safehold::tools::queue_cli {

// `queue audit [--verify]`.
void add_audit_commands(CLI::App* q) {
  auto* au = q->add_subcommand("audit", "The append-only audit trail; --verify checks the chain");
  auto c = common(au);
  auto verify = std::make_shared<bool>(false);
  auto entity = std::make_shared<std::string>();
  auto id = std::make_shared<std::string>();
  auto limit = std::make_shared<int64_t>(0);
  au->add_flag("--verify", *verify, "Check the hash chain (exit 4 when broken)");
  au->add_option("--entity", *entity,
                 "Only records of: case, suspect, device, alert, token, policy");
  au->add_option("--id", *id, "Only records of this entity id (with --entity)");
  au->add_option("--limit", *limit, "Only the last N records");
  au->callback([=] {
    guarded([&] {
      auto s = open_store(*c);
      if (*verify) {
        auto r = s->verify_audit();
        if (c->json) {
          std::cout << base::dump(sch::to_json(r), 2) << "\n";
        } else {
          for (auto& p : r.problems) fmt::print("BROKEN: {}\n", p);
          if (r.ok && r.anchor_file.empty())
            fmt::print(
                "Audit chain intact: {} record(s); no anchor file, so a cut tail cannot be "
                "detected\n",
                r.records);
          else if (r.ok)
            fmt::print("Audit chain intact: {} record(s), {} anchor(s) in {} match\n", r.records,
                       r.anchors, printable(r.anchor_file));
        }
        if (!r.ok) {
          std::cerr << "safehold: the audit chain is broken (" << r.problems.size()
                    << " problem(s)): the queue database was altered outside Safehold\n";
          throw CommandExit{static_cast<int>(Exit::mismatch)};
        }
        return;
      }
      auto recs = s->audit(*entity, *id, *limit);
      if (c->json) {
        json arr = json::array();
        for (auto& r : recs) arr.push_back(sch::to_json(r));
        std::cout << base::dump(arr, 2) << "\n";
        return;
      }
      for (auto& r : recs)
        fmt::print("{:>6}  {}  {:<12} {:<20} {}:{}{}\n        before {}\n        after  {}\n",
                   r.seq, iso(r.at), printable(r.user), r.action, r.entity, printable(r.entity_id),
                   r.reason.empty() ? "" : "  why: " + printable(r.reason), printable(r.before),
                   printable(r.after));
    });
  });
}

// `queue import|export --csv`.
void add_csv_commands(CLI::App* q) {
  for (const char* name : {"import", "export"}) {
    std::string n = name;
    auto* cmd = q->add_subcommand(n, n == "import" ? "Add cases, suspects and devices from CSV"
                                                   : "Write every device with its facts as CSV");
    auto c = common(cmd);
    auto file = std::make_shared<std::string>();
    auto force = std::make_shared<bool>(false);
    cmd->add_option("--csv", *file, "CSV file ('-' for stdin/stdout)")->required();
    if (n == "export") cmd->add_flag("--force", *force, "Replace an existing CSV file");
    cmd->callback([=] {
      if (n == "export" && *file != "-") refuse_existing(*file, *force);
      guarded([&] {
        auto s = open_store(*c);
        if (n == "import") {
          std::ifstream in;
          if (*file != "-") {
            in.open(*file, std::ios::binary);
            if (!in)
              fail(Exit::usage, fmt::format("{}: cannot open the CSV file", printable(*file)));
          }
          int64_t count = s->import_csv(user_of(*c), *file == "-" ? std::cin : in);
          if (c->json)
            std::cout << base::dump({{"devices", count}}) << "\n";
          else
            fmt::print("Imported {} device(s)\n", count);
        } else if (*file == "-") {
          s->export_csv(std::cout);
        } else {
          std::ofstream out(*file, std::ios::binary);
          if (!out)
            fail(Exit::usage, fmt::format("{}: cannot write the CSV file", printable(*file)));
          s->export_csv(out);
          out.close();
          if (!out) fail(Exit::failed, fmt::format("{}: write failed", printable(*file)));
        }
      });
    });
  }
}

// `queue init`: the one command that creates a queue database (SQLite file and its folder, or the
// schema in an existing PostgreSQL database). Running it on a ready database changes nothing.
void add_init_command(CLI::App* q) {
  auto* in = q->add_subcommand("init", "Create the queue database (every other command needs it)");
  auto c = common(in);
  in->callback([=] {
    guarded([&] {
      std::string path = c->db.rfind("sqlite:", 0) == 0 ? c->db.substr(7) : c->db;
      const bool pg = c->db.rfind("postgresql://", 0) == 0 || c->db.rfind("postgres://", 0) == 0;
      std::error_code ec;
      const bool existed = pg || std::filesystem::exists(path, ec);
      auto s = sch::Store::open(c->db);
      if (c->json)
        std::cout << base::dump({{"backend", s->backend()}, {"created", !existed}}, 2) << "\n";
      else if (pg)
        fmt::print("Queue database ready (PostgreSQL)\n");
      else
        fmt::print("{} queue database {}\n", existed ? "Existing" : "Created", printable(path));
    });
  });
}

// `queue station list|resume`: stations that stopped claiming after failing jobs in a row.
void add_station_commands(CLI::App* q) {
  auto* st = q->add_subcommand("station", "Worker stations: which stopped claiming, resume one")
                 ->require_subcommand(1);
  auto* ls = st->add_subcommand("list", "Stations with failed jobs, stopped ones first");
  auto c = common(ls);
  ls->callback([=] {
    guarded([&] {
      auto s = open_store(*c);
      auto all = s->stations();
      if (c->json) {
        json arr = json::array();
        for (auto& x : all) arr.push_back(sch::to_json(x));
        std::cout << base::dump(arr, 2) << "\n";
        return;
      }
      fmt::print("{:<20} {:<8} {:>8}  {}\n", "STATION", "STATE", "FAILURES", "STOPPED (UTC)");
      for (auto& x : all)
        fmt::print("{:<20} {:<8} {:>8}  {}\n", printable(x.name),
                   x.stopped() ? "STOPPED" : "running", x.failures_in_row, iso(x.stopped_at));
    });
  });
  auto* rs = st->add_subcommand("resume", "Let a stopped station claim again");
  auto c2 = common(rs);
  auto name = std::make_shared<std::string>();
  auto reason = std::make_shared<std::string>();
  rs->add_option("STATION", *name, "Station name")->required();
  rs->add_option("--reason", *reason, "Why (recorded in the audit)")->required();
  rs->callback([=] {
    guarded([&] {
      auto s = open_store(*c2);
      auto x = s->resume_station(user_of(*c2), *name, *reason);
      if (c2->json)
        std::cout << base::dump(sch::to_json(x), 2) << "\n";
      else
        fmt::print("Station {} may claim again\n", printable(x.name));
    });
  });
}

// `queue policy`.
void add_policy_commands(CLI::App* q) {
  auto* po = q->add_subcommand("policy", "Show or change deadlines, aging, leases and retries");
  auto c = common(po);
  auto deadlines = std::make_shared<std::string>();
  auto aging = std::make_shared<int64_t>(0);
  auto lease = std::make_shared<int64_t>(0);
  auto attempts = std::make_shared<int>(0);
  auto alert_hours = std::make_shared<int64_t>(-1);
  auto backoff = std::make_shared<int64_t>(0);
  auto backoff_max = std::make_shared<int64_t>(0);
  auto station_limit = std::make_shared<int64_t>(0);
  auto reason = std::make_shared<std::string>();
  auto indecent_risk = std::make_shared<std::string>();
  auto firstgen = std::make_shared<int64_t>(0), task = std::make_shared<int64_t>(0),
       link = std::make_shared<int64_t>(0);
  po->add_option("--indecent-min-risk", *indecent_risk,
                 "Findings: known indecent material raises the case to at least this band "
                 "(default high)");
  po->add_option("--firstgen-alert-hours", *firstgen,
                 "Findings: deadline of a first-generation alert (default 4)");
  po->add_option("--task-hours", *task,
                 "Findings: deadline of a task to establish household facts (default 72)");
  po->add_option("--link-alert-hours", *link, "Findings: deadline of a link alert (default 72)");
  auto votes = std::make_shared<int64_t>(0);
  auto profile = std::make_shared<std::string>();
  po->add_option("--votes-needed", *votes,
                 "Grading: independent votes a picture needs (1 to 9, default 3)");
  po->add_option("--grading-profile", *profile,
                 "Grading: uk (A, B, C, not indecent, unsure) or vic (0-4); default uk");
  po->add_option("--deadline-days", *deadlines,
                 "Deadlines by band, e.g. very-high=1,high=7,medium=14,low=30,none=30");
  po->add_option("--aging-days", *aging, "Days of waiting worth one priority level (default 7)");
  po->add_option("--lease-seconds", *lease, "Lease length (default 300)");
  po->add_option("--max-attempts", *attempts, "Claims of one job before `failed` (default 3)");
  po->add_option("--alert-hours", *alert_hours, "Referral deadline of an alert (default 24)");
  po->add_option("--backoff-seconds", *backoff,
                 "Wait after a failed job before its next claim, doubled per failure (default 60)");
  po->add_option("--backoff-max-seconds", *backoff_max, "Longest such wait (default 3600)");
  po->add_option("--station-failure-limit", *station_limit,
                 "Failed jobs in a row after which a station stops claiming (default 5)");
  po->add_option("--reason", *reason, "Why (required when changing)");
  po->callback([=] {
    guarded([&] {
      auto s = open_store(*c);
      sch::Policy p = s->policy();
      bool change = false;
      for (auto& kv : split(*deadlines)) {
        auto eq = kv.find('=');
        if (eq == std::string::npos) fail(Exit::usage, "--deadline-days takes BAND=DAYS pairs");
        auto band = parse_value<sch::Risk>(kv.substr(0, eq), sch::parse_risk, "band", kRisks);
        try {
          p.deadline_days[static_cast<size_t>(band)] = std::stoll(kv.substr(eq + 1));
        } catch (const std::exception&) {
          fail(Exit::usage,
               fmt::format("--deadline-days: '{}' is not a number", kv.substr(eq + 1)));
        }
        change = true;
      }
      // Every option given counts, 0 and negative values too: what is out of range is refused,
      // naming the option, instead of being ignored.
      auto out_of_range = [&](const char* opt, int64_t v, int64_t lo, int64_t hi) {
        if (po->count(opt) && (v < lo || v > hi))
          fail(Exit::usage, fmt::format("{} must be from {} to {}, not {}", opt, lo, hi, v));
      };
      out_of_range("--aging-days", *aging, 1, 3650);
      out_of_range("--lease-seconds", *lease, 1, sch::kMaxLeaseSeconds);
      out_of_range("--max-attempts", *attempts, 1, 1000);
      out_of_range("--alert-hours", *alert_hours, 1, 24 * 365);
      out_of_range("--backoff-seconds", *backoff, 0, sch::kMaxLeaseSeconds);
      out_of_range("--backoff-max-seconds", *backoff_max, 0, 7 * sch::kMaxLeaseSeconds);
      out_of_range("--station-failure-limit", *station_limit, 1, 1000);
      if (po->count("--aging-days")) p.aging_days_per_level = *aging, change = true;
      if (po->count("--lease-seconds")) p.lease_seconds = *lease, change = true;
      if (po->count("--max-attempts")) p.max_attempts = *attempts, change = true;
      if (po->count("--alert-hours")) p.alert_hours = *alert_hours, change = true;
      if (po->count("--backoff-seconds")) p.backoff_seconds = *backoff, change = true;
      if (po->count("--backoff-max-seconds")) p.backoff_max_seconds = *backoff_max, change = true;
      if (po->count("--station-failure-limit"))
        p.station_failure_limit = static_cast<int>(*station_limit), change = true;
      out_of_range("--firstgen-alert-hours", *firstgen, 0, 24 * 365);
      out_of_range("--task-hours", *task, 0, 24 * 365);
      out_of_range("--link-alert-hours", *link, 0, 24 * 365);
      if (po->count("--firstgen-alert-hours")) p.firstgen_alert_hours = *firstgen, change = true;
      if (po->count("--task-hours")) p.task_hours = *task, change = true;
      if (po->count("--link-alert-hours")) p.link_alert_hours = *link, change = true;
      if (po->count("--indecent-min-risk")) {
        p.indecent_min_risk =
            parse_value<sch::Risk>(*indecent_risk, sch::parse_risk, "--indecent-min-risk", kRisks);
        change = true;
      }
      out_of_range("--votes-needed", *votes, 1, 9);
      if (po->count("--votes-needed")) p.votes_needed = static_cast<int>(*votes), change = true;
      if (po->count("--grading-profile")) {
        p.grading_profile = parse_value<sch::GradingProfile>(*profile, sch::parse_grading_profile,
                                                             "--grading-profile", "uk, vic");
        change = true;
      }
      if (change) s->set_policy(user_of(*c), p, *reason);
      p = s->policy();
      json j = sch::policy_json(p);
      std::cout << (c->json ? base::dump(j, 2) : j.dump(2)) << "\n";
    });
  });
}

// `queue token create|revoke|list`.
void add_token_commands(CLI::App* q) {
  auto* tk = q->add_subcommand("token", "API tokens for `safehold serve`")->require_subcommand(1);
  auto* cr = tk->add_subcommand("create", "Create a token (shown once, on the last line)");
  auto c = common(cr);
  auto role = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>();
  cr->add_option("--role", *role, "manager|examiner|auditor|grader")->required();
  cr->add_option("--name", *name, "Label");
  cr->callback([=] {
    guarded([&] {
      auto r = parse_value<sch::Role>(*role, sch::parse_role, "--role",
                                      "manager, examiner, auditor or grader");
      auto s = open_store(*c);
      auto nt = s->create_token(user_of(*c), r, *name);
      if (c->json) {
        std::cout << base::dump({{"id", nt.token.id},
                                 {"name", nt.token.name},
                                 {"role", sch::to_string(nt.token.role)},
                                 {"token", nt.secret}})
                  << "\n";
      } else {
        fmt::print("Token {} ({}, role {}) created. It is shown only once; store it now:\n",
                   nt.token.id, printable(nt.token.name), sch::to_string(nt.token.role));
        fmt::print("{}\n", nt.secret);
      }
    });
  });

  auto* rv = tk->add_subcommand("revoke", "Revoke a token by id or name");
  auto c2 = common(rv);
  auto which = std::make_shared<std::string>();
  rv->add_option("TOKEN", *which, "Token id or name")->required();
  rv->callback([=] {
    guarded([&] {
      auto s = open_store(*c2);
      auto t = s->revoke_token(user_of(*c2), *which);
      if (c2->json)
        std::cout << base::dump({{"id", t.id}, {"name", t.name}, {"revoked", true}}) << "\n";
      else
        fmt::print("Token {} ({}) revoked\n", t.id, printable(t.name));
    });
  });

  auto* ls = tk->add_subcommand("list", "List tokens (never their secrets)");
  auto c3 = common(ls);
  ls->callback([=] {
    guarded([&] {
      auto s = open_store(*c3);
      json arr = json::array();
      for (auto& t : s->list_tokens()) {
        if (c3->json)
          arr.push_back(sch::token_json(t, sch::View::cli));
        else
          fmt::print("{:>4}  {:<20} {:<9} created {} by {}{}\n", t.id, printable(t.name),
                     sch::to_string(t.role), iso(t.created_at), printable(t.created_by),
                     t.revoked_at ? ", REVOKED " + iso(t.revoked_at) : "");
      }
      if (c3->json) std::cout << base::dump(arr, 2) << "\n";
    });
  });
}

}  // namespace safehold::tools::queue_cli
