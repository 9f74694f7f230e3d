// `safehold queue claim|heartbeat|complete|fail|release`: a worker's jobs by hand.
#include <fmt/core.h>

#include <fstream>
#include <iostream>

#include "tools/cmd_queue_common.hpp"

namespace safehold::tools::queue_cli {

// `queue claim|heartbeat|complete|fail|release`.
void add_work_commands(CLI::App* q) {
  auto* cl = q->add_subcommand("claim", "Claim the highest-priority job this station can do");
  auto c = common(cl);
  auto station = std::make_shared<std::string>();
  auto caps = std::make_shared<std::string>();
  auto jobs = std::make_shared<std::string>();
  auto lease = std::make_shared<int64_t>(0);
  cl->add_option("--station", *station, "Station name")->required();
  cl->add_option("--capabilities", *caps, "Device classes this station handles, e.g. phone,tablet");
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
      if (cl->count("--lease") && (*lease < 1 || *lease > sch::kMaxLeaseSeconds))
        fail(Exit::usage, fmt::format("--lease must be from 1 to {} seconds, not {}",
                                      sch::kMaxLeaseSeconds, *lease));
      r.lease_seconds = *lease;
      auto s = open_store(*c);
      auto got = s->claim(user_of(*c), r);
      if (c->json) {
        if (!got) {
          std::cout << "null\n";
          return;
        }
        json j = sch::device_json(got->device, sch::View::cli);
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
        n, n == "heartbeat"  ? "Extend the lease on a claimed device"
           : n == "complete" ? "Report the claimed job done (acquire -> acquired, carve -> review)"
           : n == "fail"     ? "Report the claimed job failed (retried up to the attempt limit)"
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
          std::cout << base::dump(sch::device_json(d, sch::View::cli), 2) << "\n";
        else if (n == "heartbeat")
          fmt::print("Lease on {} extended to {} UTC\n", printable(d.exhibit),
                     iso(d.lease_expires));
        else
          fmt::print("Device {} is now {}\n", printable(d.exhibit), sch::to_string(d.state));
      });
    });
  }
}

}  // namespace safehold::tools::queue_cli
