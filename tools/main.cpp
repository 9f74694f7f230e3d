// safehold: one binary, git-style subcommands. No logic lives here: see command.hpp.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>

#include "base/version.hpp"
#include "fs/keys.hpp"
#include "tools/command.hpp"
#include "tools/config.hpp"

namespace safehold::tools {

std::vector<std::pair<int, Registration>>& registrations() {
  static std::vector<std::pair<int, Registration>> regs;
  return regs;
}

Registrar::Registrar(int order, Registration r) {
  registrations().emplace_back(order, std::move(r));
}

void fail(Exit code, const std::string& message) {
  std::cerr << "safehold: " << message << "\n";
  throw CommandExit{static_cast<int>(code)};
}

void refuse_existing(const std::string& path, bool force) {
  std::error_code ec;
  if (!force && std::filesystem::exists(path, ec))
    fail(Exit::usage, path + ": exists (use --force to replace it)");
}

}  // namespace safehold::tools

int main(int argc, char** argv) {
  using namespace safehold::tools;
  CLI::App app{"Safehold: forensic imaging, carving and a safeguarding-first examination queue",
               "safehold"};
  app.set_version_flag("--version", std::string("safehold ") + safehold::base::kVersion);
  app.require_subcommand(1);
  app.footer(
      "Configuration: --config FILE (first, before the command), else $SAFEHOLD_CONFIG, else "
      "/etc/safehold/safehold.conf when it exists; flags beat environment variables, which beat "
      "the file (see safehold(1) and docs/OPERATIONS.md).");
  // Before the commands register: they read the variables the file sets as their defaults.
  // The arguments are parsed from a copy, and the secrets of --key are overwritten in argv
  // itself, so that the process title and /proc/PID/cmdline never show them.
  std::vector<std::string> owned(argv, argv + argc);
  std::vector<char*> copy;
  for (auto& a : owned) copy.push_back(a.data());
  safehold::fs::scrub_key_arguments(argc, argv);
  std::vector<char*> args;
  try {
    args = apply_config(static_cast<int>(copy.size()), copy.data());
  } catch (const std::exception& e) {
    std::cerr << "safehold: " << e.what() << "\n";
    return static_cast<int>(Exit::usage);
  }
  auto regs = registrations();
  std::stable_sort(regs.begin(), regs.end(), [](auto& a, auto& b) { return a.first < b.first; });
  for (auto& [order, reg] : regs) reg(app);
  try {
    app.parse(static_cast<int>(args.size()), args.data());
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // CLI11 quotes arguments back ("…were not expected: SECRET"): with --key on the line, one of
    // them may be a secret given in the wrong form (`--key 0 secret`), so none is repeated.
    bool keys = false;
    for (auto& a : owned) keys |= a == "--key" || a.rfind("--key=", 0) == 0;
    if (keys)
      std::cerr << "safehold: the command line is not valid (" << e.get_name()
                << "; arguments not repeated because it holds --key secrets): --key takes "
                   "VOLUME=SECRET as one argument (see --help)\n";
    else
      std::cerr << "safehold: " << e.what() << " (see --help)\n";
    return static_cast<int>(Exit::usage);
  } catch (const CommandExit& e) {
    return e.code;
  } catch (const std::exception& e) {
    std::cerr << "safehold: " << e.what() << "\n";
    return static_cast<int>(Exit::failed);
  }
  return 0;
}
