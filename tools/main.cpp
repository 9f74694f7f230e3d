// safehold: one binary, git-style subcommands. No logic lives here: see command.hpp.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <iostream>

#include "base/version.hpp"
#include "tools/command.hpp"

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

}  // namespace safehold::tools

int main(int argc, char** argv) {
  using namespace safehold::tools;
  CLI::App app{"Safehold: forensic imaging, carving and a safeguarding-first examination queue",
               "safehold"};
  app.set_version_flag("--version", std::string("safehold ") + safehold::base::kVersion);
  app.require_subcommand(1);
  auto regs = registrations();
  std::stable_sort(regs.begin(), regs.end(), [](auto& a, auto& b) { return a.first < b.first; });
  for (auto& [order, reg] : regs) reg(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
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
