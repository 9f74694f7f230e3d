// `safehold queue case|suspect|device`: the facts that rank devices.
#include <fmt/core.h>

#include <fstream>
#include <iostream>

#include "tools/cmd_queue_common.hpp"

namespace safehold::tools::queue_cli {

// `queue case add|set|list`.
void add_case_commands(CLI::App* q) {
  auto* cs = q->add_subcommand("case", "Add or change a case")->require_subcommand(1);
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
        std::cout << base::dump({{"reference", out.reference}, {"risk", sch::to_string(out.risk)}},
                                2)
                  << "\n";
      else
        fmt::print("Case {} added (risk {})\n", printable(out.reference), sch::to_string(out.risk));
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
      if (!risk2->empty()) u.risk = parse_value<sch::Risk>(*risk2, sch::parse_risk, "risk", kRisks);
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
          arr.push_back(sch::case_json(k, sch::View::cli));
        else
          fmt::print("{:<16} {:<10} {:<20} {}\n", printable(k.reference), sch::to_string(k.risk),
                     printable(k.offence), printable(k.officer));
      }
      if (c3->json) std::cout << base::dump(arr, 2) << "\n";
    });
  });
}

// `queue suspect add|set`: household facts.
void add_suspect_commands(CLI::App* q) {
  auto* sp = q->add_subcommand("suspect", "Add a suspect or change household facts")
                 ->require_subcommand(1);
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

// `queue device add|set`.
void add_device_commands(CLI::App* q) {
  auto* dv = q->add_subcommand("device", "Add a device or change its state")->require_subcommand(1);
  auto* add = dv->add_subcommand("add", "Add a seized device to the queue");
  auto c = common(add);
  auto nd = std::make_shared<sch::NewDevice>();
  auto cls = std::make_shared<std::string>();
  add->add_option("EXHIBIT", nd->exhibit, "Exhibit reference")->required();
  add->add_option("--suspect", nd->suspect_ref, "Suspect the device belongs to")->required();
  add->add_option("--class", *cls, "phone|tablet|computer|removable|other")->required();
  add->add_option("--seized", nd->seized, "Seizure date YYYY-MM-DD");
  add->add_option("--source", nd->source,
                  "Device path or image path for the worker (without it the device is "
                  "needs-source until `device set --source`)");
  add->add_option("--capacity", nd->capacity, "Capacity in bytes");
  add->add_option("--examiner", nd->examiner,
                  "Assigned examiner (recorded in the image unless the station names one)");
  add->add_option("--notes", nd->notes, "Notes");
  add->callback([=] {
    guarded([&] {
      sch::NewDevice d = *nd;
      d.device_class = parse_value<sch::DeviceClass>(*cls, sch::parse_class, "--class", kClasses);
      auto s = open_store(*c);
      auto out = s->add_device(user_of(*c), d);
      if (c->json)
        std::cout << base::dump(sch::device_json(out, sch::View::cli), 2) << "\n";
      else if (out.state == sch::DeviceState::needs_source)
        fmt::print(
            "Device {} registered as needs-source (tier {}, deadline {} UTC): no worker takes it "
            "until its source is set with `safehold queue device set {} --source PATH`\n",
            printable(out.exhibit), out.tier, iso(out.deadline_at), printable(out.exhibit));
      else
        fmt::print("Device {} queued (tier {}, deadline {} UTC)\n", printable(out.exhibit),
                   out.tier, iso(out.deadline_at));
    });
  });

  auto* set = dv->add_subcommand(
      "set",
      "Set a device's source or move it to a state by hand. Allowed: intake -> queued|withdrawn; "
      "queued, needs-source, acquired -> withdrawn; review -> done|acquired|withdrawn; failed -> "
      "queued|acquired|withdrawn; withdrawn -> queued (queued becomes needs-source without a "
      "source)");
  auto c2 = common(set);
  auto ex = std::make_shared<std::string>();
  auto state = std::make_shared<std::string>();
  auto source = std::make_shared<std::string>();
  auto examiner = std::make_shared<std::string>();
  auto reason = std::make_shared<std::string>();
  set->add_option("EXHIBIT", *ex, "Exhibit reference")->required();
  set->add_option("--state", *state, "New state");
  set->add_option("--source", *source,
                  "Device path or image path for the worker (before acquisition only; a "
                  "needs-source device becomes queued)");
  set->add_option("--examiner", *examiner, "Assign the examiner ('' to clear)");
  set->add_option("--reason", *reason, "Why (recorded in the audit)")->required();
  set->callback([=] {
    guarded([&] {
      const int given = !state->empty() + static_cast<int>(set->count("--source")) +
                        static_cast<int>(set->count("--examiner"));
      if (given != 1) fail(Exit::usage, "device set takes one of --state, --source or --examiner");
      auto s = open_store(*c2);
      sch::Device out;
      if (set->count("--examiner")) {
        out = s->set_device_examiner(user_of(*c2), *ex, *examiner, *reason);
        if (!c2->json) {
          fmt::print("Device {} examiner: {}\n", printable(out.exhibit),
                     out.examiner.empty() ? "none" : printable(out.examiner));
          return;
        }
      } else if (set->count("--source")) {
        out = s->set_device_source(user_of(*c2), *ex, *source, *reason);
      } else {
        auto st = parse_value<sch::DeviceState>(*state, sch::parse_state, "--state",
                                                "intake, queued, acquiring, acquired, carving, "
                                                "review, done, failed, withdrawn or needs-source");
        out = s->set_device_state(user_of(*c2), *ex, st, *reason);
      }
      if (c2->json)
        std::cout << base::dump(sch::device_json(out, sch::View::cli), 2) << "\n";
      else
        fmt::print("Device {} is now {}\n", printable(out.exhibit), sch::to_string(out.state));
    });
  });
}

}  // namespace safehold::tools::queue_cli
