// `safehold queue hashset add|list|remove`, `queue findings EXHIBIT` and `queue links`: the lab's
// hash sets that every carve of `safehold work` uses, and what the carves found
// (docs/scheduler.md "Findings").
#include <fmt/core.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "hashset/hashset.hpp"
#include "server/notify.hpp"
#include "tools/cmd_queue_common.hpp"
#include "tools/notify_options.hpp"

namespace safehold::tools::queue_cli {

namespace {

json set_json(const sch::LabHashSet& s) {
  return {{"name", s.name},         {"category", s.category},      {"path", s.path},
          {"set_name", s.set_name}, {"added_at", iso(s.added_at)}, {"added_by", s.added_by}};
}

// The set file must open as a set (read in place by the workers; nothing is copied).
std::string set_name_of(const std::string& file) {
  try {
    return hashset::HashSet::open(file)->name();
  } catch (const std::exception& e) {
    fail(Exit::usage, fmt::format("{}: not a usable hash set file ({}); make one with `safehold "
                                  "hashset import`",
                                  printable(file), e.what()));
  }
}

void add_hashset_commands(CLI::App* q) {
  auto* hs = q->add_subcommand("hashset", "The lab's hash sets, used by every carve of `work`")
                 ->require_subcommand(1);
  auto* add = hs->add_subcommand("add", "Add a set file made by `safehold hashset import`");
  auto c = common(add);
  auto name = std::make_shared<std::string>();
  auto file = std::make_shared<std::string>();
  auto category = std::make_shared<std::string>();
  add->add_option("NAME", *name, "The lab's name for the set")->required();
  add->add_option("FILE", *file, "The set file (read in place: keep it where workers reach it)")
      ->required();
  add->add_option("--category", *category, "indecent, ignorable or other")->required();
  add->callback([=] {
    guarded([&] {
      if (!sch::valid_set_category(*category))
        fail(Exit::usage, fmt::format("--category '{}' is not valid: use indecent, ignorable or "
                                      "other",
                                      printable(*category)));
      sch::LabHashSet s;
      s.name = *name;
      s.path = std::filesystem::absolute(*file).lexically_normal().string();
      s.category = *category;
      s.set_name = set_name_of(s.path);
      auto st = open_store(*c);
      s = st->add_hashset(user_of(*c), s);
      if (c->json)
        std::cout << base::dump(set_json(s), 2) << "\n";
      else
        fmt::print("Hash set {} ({}) added: {}\n", printable(s.name), s.category,
                   printable(s.path));
    });
  });

  auto* ls = hs->add_subcommand("list", "List the lab's hash sets");
  auto c2 = common(ls);
  ls->callback([=] {
    guarded([&] {
      auto list = open_store(*c2)->hashsets();
      if (c2->json) {
        json arr = json::array();
        for (auto& s : list) arr.push_back(set_json(s));
        std::cout << base::dump(arr, 2) << "\n";
        return;
      }
      fmt::print("{:<20} {:<10} {:<16} {}\n", "NAME", "CATEGORY", "ADDED (UTC)", "FILE");
      for (auto& s : list)
        fmt::print("{:<20} {:<10} {:<16} {}\n", printable(s.name), s.category, iso(s.added_at),
                   printable(s.path));
    });
  });

  auto* rm = hs->add_subcommand("remove", "Stop using a set (the file is left in place)");
  auto c3 = common(rm);
  auto rname = std::make_shared<std::string>();
  auto reason = std::make_shared<std::string>();
  rm->add_option("NAME", *rname, "The set's name")->required();
  rm->add_option("--reason", *reason, "Why (recorded in the audit)")->required();
  rm->callback([=] {
    guarded([&] {
      open_store(*c3)->remove_hashset(user_of(*c3), *rname, *reason);
      if (c3->json)
        std::cout << base::dump(json{{"removed", *rname}}, 2) << "\n";
      else
        fmt::print("Hash set {} removed\n", printable(*rname));
    });
  });
}

void print_findings(const json& f) {
  const json& s = f["summary"];
  fmt::print("Findings of {} (case {}, suspect {}), recorded {}\n",
             printable(f["exhibit"].get<std::string>()), printable(f["case"].get<std::string>()),
             printable(f["suspect"].get<std::string>()), f["recorded_at"].get<std::string>());
  const json by_type = s.value("by_type", json::object());
  for (auto& [type, states] : by_type.items())
    for (auto& [state, n] : states.items())
      fmt::print("  {:<8} {:<10} {}\n", type, state, n.dump());
  for (auto& k : s.value("known", json::array()))
    fmt::print("  known: {} ({}): {}\n", printable(k["set"].get<std::string>()),
               k["category"].get<std::string>(), k["count"].dump());
  fmt::print("  known indecent: {}; PDQ near known: {}; unknown media: {}; camera-original: {}\n",
             s.value("known_indecent", json(0)).dump(), s.value("pdq_near", json::object()).dump(),
             s.value("unknown_media", json(0)).dump(), s.value("camera_original", json(0)).dump());
  fmt::print("  chats by app: {}; attachments matching a set: {}\n",
             s.value("chats", json::object()).dump(),
             s.value("attachments_matching", json(0)).dump());
  for (auto& l : f["links"])
    fmt::print("  link {}: {} ({}) <-> {} ({}): {} exact, {} near\n", l["id"].dump(),
               printable(l["exhibit"].get<std::string>()), printable(l["case"].get<std::string>()),
               printable(l["other_exhibit"].get<std::string>()),
               printable(l["other_case"].get<std::string>()), l["exact"].dump(), l["near"].dump());
  for (auto& e : f["effects"]) fmt::print("  {}\n", printable(e.get<std::string>()));
}

}  // namespace

void add_notify_commands(CLI::App* q);

void add_findings_commands(CLI::App* q) {
  add_hashset_commands(q);
  add_notify_commands(q);
  auto* fi = q->add_subcommand("findings", "What a device's carve found (counts, no file names)");
  auto c = common(fi);
  auto exhibit = std::make_shared<std::string>();
  fi->add_option("EXHIBIT", *exhibit, "Exhibit reference")->required();
  fi->callback([=] {
    guarded([&] {
      auto f = open_store(*c)->findings(*exhibit);
      if (c->json)
        std::cout << base::dump(f, 2) << "\n";
      else
        print_findings(f);
    });
  });

  auto* li = q->add_subcommand("links", "Devices of different cases holding the same material");
  auto c2 = common(li);
  auto case_ref = std::make_shared<std::string>();
  li->add_option("--case", *case_ref, "Only links touching this case");
  li->callback([=] {
    guarded([&] {
      auto list = open_store(*c2)->links(*case_ref);
      json arr = json::array();
      for (auto& l : list) arr.push_back(sch::to_json(l));
      if (c2->json) {
        std::cout << base::dump(arr, 2) << "\n";
        return;
      }
      fmt::print("{:>5}  {:<12} {:<12} {:<12} {:<12} {:>6} {:>6}\n", "ID", "EXHIBIT", "CASE",
                 "OTHER", "OTHER CASE", "EXACT", "NEAR");
      for (auto& l : list)
        fmt::print("{:>5}  {:<12} {:<12} {:<12} {:<12} {:>6} {:>6}\n", l.id, printable(l.exhibit),
                   printable(l.case_ref), printable(l.other_exhibit), printable(l.other_case_ref),
                   l.exact, l.near);
    });
  });
}

}  // namespace safehold::tools::queue_cli

namespace safehold::tools::queue_cli {

// `queue notify`: push due alerts and links to webhooks and email (run from a timer).
void add_notify_commands(CLI::App* q) {
  auto* no = q->add_subcommand("notify", "Push due alerts and links to webhooks and email");
  auto c = common(no);
  auto f = add_notify_options(no);
  no->callback([=] {
    guarded([&] {
      if (!f.any()) fail(Exit::usage, "give at least one --webhook or --email");
      load_notify_options(f);
      const auto& o = f.options;
      auto s = open_store(*c);
      server::NotifyReport r;
      try {
        r = server::deliver_due(*s, *o, user_of(*c));
      } catch (const std::runtime_error& e) {
        if (dynamic_cast<const sch::QueueError*>(&e)) throw;
        fail(Exit::usage, e.what());
      }
      if (c->json)
        std::cout << base::dump(json{{"delivered", r.delivered}, {"failed", r.failed}}, 2) << "\n";
      else
        fmt::print("Notifications delivered: {}, failed (retried later): {}\n", r.delivered,
                   r.failed);
      if (r.failed) throw CommandExit{static_cast<int>(Exit::failed)};
    });
  });
}

}  // namespace safehold::tools::queue_cli
