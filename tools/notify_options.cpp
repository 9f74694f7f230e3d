#include "tools/notify_options.hpp"

#include <fmt/core.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "base/json.hpp"
#include "tools/command.hpp"
#include "tools/config.hpp"

namespace safehold::tools {

namespace {
std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}
}  // namespace

NotifyFlags add_notify_options(CLI::App* sub) {
  NotifyFlags f;
  auto& o = *f.options;
  // Defaults from the environment or the configuration file (notify_webhook, notify_email: one
  // or more, separated by spaces; notify_secret_file; notify_dashboard).
  o.webhooks = words(env_or_empty("SAFEHOLD_NOTIFY_WEBHOOK"));
  o.email_to = words(env_or_empty("SAFEHOLD_NOTIFY_EMAIL"));
  *f.secret_file = env_or_empty("SAFEHOLD_NOTIFY_SECRET_FILE");
  o.dashboard = env_or_empty("SAFEHOLD_NOTIFY_DASHBOARD");
  sub->add_option("--webhook", o.webhooks, "Webhook URL (http:// or https://), repeatable")
      ->allow_extra_args(false);
  sub->add_option("--secret-file", *f.secret_file,
                  "File holding the HMAC-SHA256 key for X-Safehold-Signature (first line)");
  sub->add_option("--email", o.email_to, "Address to mail through sendmail, repeatable")
      ->allow_extra_args(false);
  sub->add_option("--sendmail", o.sendmail, "The host's sendmail (default /usr/sbin/sendmail)");
  sub->add_option("--dashboard", o.dashboard, "Dashboard base URL put in every payload");
  return f;
}

void load_notify_options(const NotifyFlags& f) {
  auto& o = *f.options;
  if (!o.webhooks.empty()) {
    if (f.secret_file->empty()) fail(Exit::usage, "--webhook needs --secret-file");
    std::ifstream in(*f.secret_file);
    if (!in || !std::getline(in, o.secret) || o.secret.empty())
      fail(Exit::usage, fmt::format("{}: cannot read a secret from its first line",
                                    base::printable(*f.secret_file)));
  }
  try {
    server::check(o);
  } catch (const std::runtime_error& e) {
    fail(Exit::usage, e.what());
  }
}

}  // namespace safehold::tools
