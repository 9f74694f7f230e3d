// The delivery targets of the outbox (webhooks, email), as `safehold queue notify` and
// `safehold serve` take them on the command line: one set of options, one check.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "server/notify.hpp"

namespace safehold::tools {

struct NotifyFlags {
  std::shared_ptr<server::NotifyOptions> options = std::make_shared<server::NotifyOptions>();
  std::shared_ptr<std::string> secret_file = std::make_shared<std::string>();
  bool any() const { return !options->webhooks.empty() || !options->email_to.empty(); }
};

// --webhook, --secret-file, --email, --sendmail, --dashboard on `sub`.
NotifyFlags add_notify_options(CLI::App* sub);

// Reads the webhook secret (first line of --secret-file) and checks every target; a mistake
// fails the command (usage) with one sentence.
void load_notify_options(const NotifyFlags& f);

}  // namespace safehold::tools
