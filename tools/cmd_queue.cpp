// `safehold queue`: the examination queue (scheduler/queue.hpp) from the command line. Glue only.
#include <fmt/core.h>
#include <pwd.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>

#include "base/json.hpp"
#include "fs/json.hpp"
#include "scheduler/queue.hpp"
#include "tools/command.hpp"

namespace safehold::tools {
namespace {

namespace sch = safehold::scheduler;
using base::printable;
using nlohmann::json;

struct Common {
  std::string db = "./safehold-data/queue.db";
  bool json = false;
  std::string user;
};

std::string login_name() {
  if (const char* u = std::getenv("USER"); u && *u) return u;
  if (const char* l = getlogin(); l && *l) return l;
  if (auto* pw = getpwuid(geteuid())) return pw->pw_name;
  return "unknown";
}

std::string iso(int64_t t) {
  if (t <= 0) return "-";
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

// Adds --db, --json and --user to a leaf command.
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

// Runs an operation, turning queue errors into one sentence and an exit code.
template <typename F>
void guarded(F f) {
  try {
    f();
  } catch (const sch::QueueError& e) {
    fail(e.kind == sch::QueueError::Kind::storage ? Exit::failed : Exit::usage, e.what());
  }
}

std::unique_ptr<sch::Store> open_store(const Common& c) {
  return sch::Store::open(c.db);
}

template <typename T, typename P>
T parse_value(const std::string& s, P parse, const char* what, const char* allowed) {
  auto v = parse(s);
  if (!v)
    fail(Exit::usage, fmt::format("{} '{}' is not valid: use {}", what, printable(s), allowed));
  return *v;
}
const char* kRisks = "very-high, high, medium, low or none";
const char* kAnswers = "yes, no or unknown";
const char* kClasses = "phone, tablet, computer, removable or other";

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
    json j = {{"devices_reranked", r.devices_reranked}, {"alerts_raised", json::array()}};
    for (auto& a : r.alerts_raised) j["alerts_raised"].push_back(sch::to_json(a, store.now()));
    std::cout << base::dump(j, 2) << "\n";
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

json device_json(const sch::Device& d) {
  sch::QueueEntry e;
  e.device = d;
  json j = sch::to_json(e);
  j.erase("rank");
  j.erase("risk");
  j.erase("overdue");
  j.erase("waiting_days");
  return j;
}

void register_queue(CLI::App& app) {
  auto* q = app.add_subcommand("queue",
                               "The examination queue: cases, suspects, devices, "
                               "priority, alerts, audit")
                ->require_subcommand(1);

  // ---- case ----
  auto* cs = q->add_subcommand("case", "Add or change a case")->require_subcommand(1);
  {
    auto* add = cs->add_subcommand("add", "Add a case");
    auto c = common(add);
    auto ref = std::make_shared<std::string>();
    auto risk = std::make_shared<std::string>("none");
    auto offence = std::make_shared<std::string>();
    auto officer = std::make_shared<std::string>();
    auto notes = std::make_shared<std::string>();
    add->add_option("CASE", *ref, "Case reference")->required();
    add->add_option("--risk", *risk, "Risk band: very-high|high|medium|low|none");
    add->add_option("--offence", *offence, "Offence type");
    add->add_option("--officer", *officer, "Officer in charge");
    add->add_option("--notes", *notes, "Notes");
    add->callback([=] {
      guarded([&] {
        sch::NewCase nc{*ref, parse_value<sch::Risk>(*risk, sch::parse_risk, "risk", kRisks),
                        *offence, *officer, *notes};
        auto s = open_store(*c);
        auto out = s->add_case(user_of(*c), nc);
        if (c->json)
          std::cout << base::dump(
                           {{"reference", out.reference}, {"risk", sch::to_string(out.risk)}}, 2)
                    << "\n";
        else
          fmt::print("Case {} added (risk {})\n", printable(out.reference),
                     sch::to_string(out.risk));
      });
    });

    auto* set = cs->add_subcommand("set", "Change a case's facts (re-ranks its devices)");
    auto c2 = common(set);
    auto ref2 = std::make_shared<std::string>();
    auto risk2 = std::make_shared<std::string>();
    auto offence2 = std::make_shared<std::string>();
    auto officer2 = std::make_shared<std::string>();
    auto notes2 = std::make_shared<std::string>();
    auto reason = std::make_shared<std::string>();
    set->add_option("CASE", *ref2, "Case reference")->required();
    set->add_option("--risk", *risk2, "Risk band: very-high|high|medium|low|none");
    set->add_option("--offence", *offence2, "Offence type");
    set->add_option("--officer", *officer2, "Officer in charge");
    set->add_option("--notes", *notes2, "Notes");
    set->add_option("--reason", *reason, "Why (recorded in the audit)")->required();
    set->callback([=] {
      guarded([&] {
        sch::CaseUpdate u;
        if (!risk2->empty())
          u.risk = parse_value<sch::Risk>(*risk2, sch::parse_risk, "risk", kRisks);
        if (set->count("--offence")) u.offence = *offence2;
        if (set->count("--officer")) u.officer = *officer2;
        if (set->count("--notes")) u.notes = *notes2;
        auto s = open_store(*c2);
        auto r = s->update_case(user_of(*c2), *ref2, u, *reason);
        if (!c2->json) fmt::print("Case {} updated\n", printable(*ref2));
        print_change(*c2, r, *s);
      });
    });

    auto* ls = cs->add_subcommand("list", "List cases");
    auto c3 = common(ls);
    ls->callback([=] {
      guarded([&] {
        auto s = open_store(*c3);
        json arr = json::array();
        for (auto& k : s->list_cases()) {
          if (c3->json)
            arr.push_back({{"reference", k.reference},
                           {"risk", sch::to_string(k.risk)},
                           {"offence", k.offence},
                           {"officer", k.officer}});
          else
            fmt::print("{:<16} {:<10} {:<20} {}\n", printable(k.reference), sch::to_string(k.risk),
                       printable(k.offence), printable(k.officer));
        }
        if (c3->json) std::cout << base::dump(arr, 2) << "\n";
      });
    });
  }

  // ---- suspect ----
  auto* sp = q->add_subcommand("suspect", "Add a suspect or change household facts")
                 ->require_subcommand(1);
  {
    struct Facts {
      std::string children, access, age_bands, access_notes;
      int count = -1;
    };
    auto add_fact_options = [](CLI::App* a, Facts& f) {
      a->add_option("--children", f.children, "Lives with children: yes|no|unknown");
      a->add_option("--access-to-children", f.access,
                    "Access to children through work, family or contact: yes|no|unknown");
      a->add_option("--children-count", f.count, "How many children live with the suspect");
      a->add_option("--age-bands", f.age_bands, "Children's age bands, e.g. 0-4,5-11");
      a->add_option("--access-notes", f.access_notes, "How the suspect has access to children");
    };
    auto* add = sp->add_subcommand("add", "Add a suspect to a case");
    auto c = common(add);
    auto ref = std::make_shared<std::string>();
    auto case_ref = std::make_shared<std::string>();
    auto facts = std::make_shared<Facts>();
    add->add_option("SUSPECT", *ref, "Suspect reference")->required();
    add->add_option("--case", *case_ref, "Case reference")->required();
    add_fact_options(add, *facts);
    add->callback([=] {
      guarded([&] {
        sch::NewSuspect ns;
        ns.reference = *ref;
        ns.case_ref = *case_ref;
        if (!facts->children.empty())
          ns.lives_with_children =
              parse_value<sch::Answer>(facts->children, sch::parse_answer, "--children", kAnswers);
        if (!facts->access.empty())
          ns.access_to_children = parse_value<sch::Answer>(facts->access, sch::parse_answer,
                                                           "--access-to-children", kAnswers);
        ns.children_count = facts->count;
        ns.age_bands = facts->age_bands;
        ns.access_notes = facts->access_notes;
        auto s = open_store(*c);
        auto [sus, r] = s->add_suspect(user_of(*c), ns);
        if (!c->json)
          fmt::print("Suspect {} added to case {}\n", printable(sus.reference),
                     printable(sus.case_ref));
        print_change(*c, r, *s);
      });
    });

    auto* set = sp->add_subcommand("set", "Change a suspect's household facts (re-ranks devices)");
    auto c2 = common(set);
    auto ref2 = std::make_shared<std::string>();
    auto facts2 = std::make_shared<Facts>();
    auto reason = std::make_shared<std::string>();
    set->add_option("SUSPECT", *ref2, "Suspect reference")->required();
    add_fact_options(set, *facts2);
    set->add_option("--reason", *reason, "Why (recorded in the audit)")->required();
    set->callback([=] {
      guarded([&] {
        sch::SuspectUpdate u;
        if (!facts2->children.empty())
          u.lives_with_children =
              parse_value<sch::Answer>(facts2->children, sch::parse_answer, "--children", kAnswers);
        if (!facts2->access.empty())
          u.access_to_children = parse_value<sch::Answer>(facts2->access, sch::parse_answer,
                                                          "--access-to-children", kAnswers);
        if (set->count("--children-count")) u.children_count = facts2->count;
        if (set->count("--age-bands")) u.age_bands = facts2->age_bands;
        if (set->count("--access-notes")) u.access_notes = facts2->access_notes;
        auto s = open_store(*c2);
        auto r = s->update_suspect(user_of(*c2), *ref2, u, *reason);
        if (!c2->json) fmt::print("Suspect {} updated\n", printable(*ref2));
        print_change(*c2, r, *s);
      });
    });
  }

  // ---- device ----
  auto* dv = q->add_subcommand("device", "Add a device or change its state")->require_subcommand(1);
  {
    auto* add = dv->add_subcommand("add", "Add a seized device to the queue");
    auto c = common(add);
    auto nd = std::make_shared<sch::NewDevice>();
    auto cls = std::make_shared<std::string>();
    add->add_option("EXHIBIT", nd->exhibit, "Exhibit reference")->required();
    add->add_option("--suspect", nd->suspect_ref, "Suspect the device belongs to")->required();
    add->add_option("--class", *cls, "phone|tablet|computer|removable|other")->required();
    add->add_option("--seized", nd->seized, "Seizure date YYYY-MM-DD");
    add->add_option("--source", nd->source, "Device path or image path for the worker");
    add->add_option("--capacity", nd->capacity, "Capacity in bytes");
    add->add_option("--notes", nd->notes, "Notes");
    add->callback([=] {
      guarded([&] {
        sch::NewDevice d = *nd;
        d.device_class = parse_value<sch::DeviceClass>(*cls, sch::parse_class, "--class", kClasses);
        auto s = open_store(*c);
        auto out = s->add_device(user_of(*c), d);
        if (c->json)
          std::cout << base::dump(device_json(out), 2) << "\n";
        else
          fmt::print("Device {} queued (tier {}, deadline {} UTC)\n", printable(out.exhibit),
                     out.tier, iso(out.deadline_at));
      });
    });

    auto* set = dv->add_subcommand("set", "Move a device to a state by hand (withdraw, requeue…)");
    auto c2 = common(set);
    auto ex = std::make_shared<std::string>();
    auto state = std::make_shared<std::string>();
    auto reason = std::make_shared<std::string>();
    set->add_option("EXHIBIT", *ex, "Exhibit reference")->required();
    set->add_option("--state", *state, "New state")->required();
    set->add_option("--reason", *reason, "Why (recorded in the audit)")->required();
    set->callback([=] {
      guarded([&] {
        auto st = parse_value<sch::DeviceState>(
            *state, sch::parse_state, "--state",
            "intake, queued, acquiring, acquired, carving, review, done, failed or withdrawn");
        auto s = open_store(*c2);
        auto out = s->set_device_state(user_of(*c2), *ex, st, *reason);
        if (c2->json)
          std::cout << base::dump(device_json(out), 2) << "\n";
        else
          fmt::print("Device {} is now {}\n", printable(out.exhibit), sch::to_string(out.state));
      });
    });
  }

  // ---- list / explain / breaches ----
  {
    auto* ls = q->add_subcommand("list", "Devices in priority order, rank first");
    auto c = common(ls);
    auto states = std::make_shared<std::string>("queued");
    auto limit = std::make_shared<int64_t>(0);
    auto case_ref = std::make_shared<std::string>();
    ls->add_option("--state", *states,
                   "States to list, comma-separated, or 'all' (default queued)");
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
            lq.states.push_back(
                parse_value<sch::DeviceState>(st, sch::parse_state, "--state",
                                              "intake, queued, acquiring, acquired, carving, "
                                              "review, done, failed, withdrawn or all"));
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
        fmt::print("Deadline: {} UTC{}\n", iso(d.deadline_at),
                   e.entry.overdue ? " (BREACHED)" : "");
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

  // ---- workers ----
  {
    auto* cl = q->add_subcommand("claim", "Claim the highest-priority job this station can do");
    auto c = common(cl);
    auto station = std::make_shared<std::string>();
    auto caps = std::make_shared<std::string>();
    auto jobs = std::make_shared<std::string>();
    auto lease = std::make_shared<int64_t>(0);
    cl->add_option("--station", *station, "Station name")->required();
    cl->add_option("--capabilities", *caps,
                   "Device classes this station handles, e.g. phone,tablet");
    cl->add_option("--jobs", *jobs, "Jobs this station runs: acquire,carve (default both)");
    cl->add_option("--lease", *lease, "Lease in seconds (default from the policy, 300)");
    cl->callback([=] {
      guarded([&] {
        sch::ClaimRequest r;
        r.station = *station;
        for (auto& k : split(*caps))
          r.classes.push_back(
              parse_value<sch::DeviceClass>(k, sch::parse_class, "capability", kClasses));
        for (auto& k : split(*jobs))
          r.kinds.push_back(
              parse_value<sch::JobKind>(k, sch::parse_job_kind, "job", "acquire or carve"));
        r.lease_seconds = *lease;
        auto s = open_store(*c);
        auto got = s->claim(user_of(*c), r);
        if (c->json) {
          if (!got) {
            std::cout << "null\n";
            return;
          }
          json j = device_json(got->device);
          j["job"] = sch::to_string(got->kind);
          std::cout << base::dump(j, 2) << "\n";
        } else if (got) {
          fmt::print("{}\t{}\t{}\t{}\n", printable(got->device.exhibit), sch::to_string(got->kind),
                     sch::to_string(got->device.device_class), printable(got->device.source));
        }
      });
    });

    for (const char* name : {"heartbeat", "complete", "fail", "release"}) {
      std::string n = name;
      auto* cmd = q->add_subcommand(
          n, n == "heartbeat" ? "Extend the lease on a claimed device"
             : n == "complete"
                 ? "Report the claimed job done (acquire -> acquired, carve -> review)"
             : n == "fail" ? "Report the claimed job failed (retried up to the attempt limit)"
                           : "Hand a claimed job back untouched (no attempt spent), e.g. when "
                             "a worker stops");
      auto c2 = common(cmd);
      auto ex = std::make_shared<std::string>();
      auto st = std::make_shared<std::string>();
      auto msg = std::make_shared<std::string>();
      auto image = std::make_shared<std::string>();
      cmd->add_option("EXHIBIT", *ex, "Exhibit reference")->required();
      cmd->add_option(n == "release" ? "--station,--worker" : "--station", *st,
                      "Station holding the lease")
          ->required();
      if (n == "fail") cmd->add_option("--error", *msg, "What went wrong");
      if (n == "release")
        cmd->add_option("--reason", *msg, "Why (recorded in the audit)")->required();
      if (n == "complete") {
        cmd->add_option("--note", *msg, "Note for the audit");
        cmd->add_option("--image", *image, "Evidence image written by the acquire job");
      }
      cmd->callback([=] {
        guarded([&] {
          auto s = open_store(*c2);
          sch::Device d;
          if (n == "heartbeat")
            d = s->heartbeat(user_of(*c2), *ex, *st);
          else if (n == "complete")
            d = s->complete(user_of(*c2), *ex, *st, *msg, *image);
          else if (n == "fail")
            d = s->fail(user_of(*c2), *ex, *st, msg->empty() ? "failed" : *msg);
          else
            d = s->release(user_of(*c2), *ex, *st, *msg);
          if (c2->json)
            std::cout << base::dump(device_json(d), 2) << "\n";
          else if (n == "heartbeat")
            fmt::print("Lease on {} extended to {} UTC\n", printable(d.exhibit),
                       iso(d.lease_expires));
          else
            fmt::print("Device {} is now {}\n", printable(d.exhibit), sch::to_string(d.state));
        });
      });
    }
  }

  // ---- alerts ----
  {
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
          fmt::print(
              "{:>5}  {:<9} {:<12} {:<12} {:<16}  {:<16}  {}\n", a.id, status,
              printable(a.case_ref), printable(a.suspect_ref), iso(a.raised_at), iso(a.due_at),
              a.acknowledged ? fmt::format("{} (ref {}, by {})", a.reason, printable(a.reference),
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

  // ---- audit ----
  {
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
            std::cout << base::dump(
                             {{"ok", r.ok}, {"records", r.records}, {"problems", r.problems}}, 2)
                      << "\n";
          } else {
            for (auto& p : r.problems) fmt::print("BROKEN: {}\n", p);
            if (r.ok) fmt::print("Audit chain intact: {} record(s)\n", r.records);
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
                     r.seq, iso(r.at), printable(r.user), r.action, r.entity,
                     printable(r.entity_id),
                     r.reason.empty() ? "" : "  why: " + printable(r.reason), printable(r.before),
                     printable(r.after));
      });
    });
  }

  // ---- import / export ----
  for (const char* name : {"import", "export"}) {
    std::string n = name;
    auto* cmd = q->add_subcommand(n, n == "import" ? "Add cases, suspects and devices from CSV"
                                                   : "Write every device with its facts as CSV");
    auto c = common(cmd);
    auto file = std::make_shared<std::string>();
    cmd->add_option("--csv", *file, "CSV file ('-' for stdin/stdout)")->required();
    cmd->callback([=] {
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

  // ---- policy ----
  {
    auto* po = q->add_subcommand("policy", "Show or change deadlines, aging, leases and retries");
    auto c = common(po);
    auto deadlines = std::make_shared<std::string>();
    auto aging = std::make_shared<int64_t>(0);
    auto lease = std::make_shared<int64_t>(0);
    auto attempts = std::make_shared<int>(0);
    auto alert_hours = std::make_shared<int64_t>(-1);
    auto reason = std::make_shared<std::string>();
    po->add_option("--deadline-days", *deadlines,
                   "Deadlines by band, e.g. very-high=1,high=7,medium=14,low=30,none=30");
    po->add_option("--aging-days", *aging, "Days of waiting worth one priority level (default 7)");
    po->add_option("--lease-seconds", *lease, "Lease length (default 300)");
    po->add_option("--max-attempts", *attempts, "Claims of one job before `failed` (default 3)");
    po->add_option("--alert-hours", *alert_hours, "Referral deadline of an alert (default 24)");
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
        if (*aging) p.aging_days_per_level = *aging, change = true;
        if (*lease) p.lease_seconds = *lease, change = true;
        if (*attempts) p.max_attempts = *attempts, change = true;
        if (*alert_hours >= 0) p.alert_hours = *alert_hours, change = true;
        if (change) s->set_policy(user_of(*c), p, *reason);
        p = s->policy();
        json j = {{"deadline_days",
                   {{"very-high", p.deadline_days[0]},
                    {"high", p.deadline_days[1]},
                    {"medium", p.deadline_days[2]},
                    {"low", p.deadline_days[3]},
                    {"none", p.deadline_days[4]}}},
                  {"aging_days_per_level", p.aging_days_per_level},
                  {"lease_seconds", p.lease_seconds},
                  {"max_attempts", p.max_attempts},
                  {"alert_hours", p.alert_hours}};
        std::cout << (c->json ? base::dump(j, 2) : j.dump(2)) << "\n";
      });
    });
  }

  // ---- tokens (for safehold serve) ----
  auto* tk = q->add_subcommand("token", "API tokens for `safehold serve`")->require_subcommand(1);
  {
    auto* cr = tk->add_subcommand("create", "Create a token (shown once, on the last line)");
    auto c = common(cr);
    auto role = std::make_shared<std::string>();
    auto name = std::make_shared<std::string>();
    cr->add_option("--role", *role, "manager|examiner|auditor")->required();
    cr->add_option("--name", *name, "Label");
    cr->callback([=] {
      guarded([&] {
        auto r = parse_value<sch::Role>(*role, sch::parse_role, "--role",
                                        "manager, examiner or auditor");
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
            arr.push_back({{"id", t.id},
                           {"name", t.name},
                           {"role", sch::to_string(t.role)},
                           {"created_at", iso(t.created_at)},
                           {"created_by", t.created_by},
                           {"revoked", t.revoked_at != 0}});
          else
            fmt::print("{:>4}  {:<20} {:<9} created {} by {}{}\n", t.id, printable(t.name),
                       sch::to_string(t.role), iso(t.created_at), printable(t.created_by),
                       t.revoked_at ? ", REVOKED " + iso(t.revoked_at) : "");
        }
        if (c3->json) std::cout << base::dump(arr, 2) << "\n";
      });
    });
  }
}

Registrar reg(40, register_queue);

}  // namespace
}  // namespace safehold::tools
