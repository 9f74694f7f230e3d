// The `safehold` binary's subcommand registry. Each tools/cmd_*.cpp registers its subcommands with
// a static Registrar; tools/ is glue only: parse, validate, build library objects, print.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace safehold::tools {

// Exit codes shared by every subcommand (documented in README.md).
enum class Exit : int {
  ok = 0,
  usage = 1,     // bad usage or unreadable input
  failed = 2,    // the operation failed
  partial = 3,   // complete with unreadable sectors
  mismatch = 4,  // verification mismatch
};

// A registration adds subcommands to the app and sets their callbacks. Callbacks throw
// CommandExit to end with a given code after printing their own message.
using Registration = std::function<void(CLI::App& app)>;

struct Registrar {
  Registrar(int order, Registration r);
};

std::vector<std::pair<int, Registration>>& registrations();

struct CommandExit {
  int code;
};

// Prints "safehold: MESSAGE" to stderr (one clear sentence) and ends with the code.
[[noreturn]] void fail(Exit code, const std::string& message);

// No output file is replaced without --force: a usage error "PATH: exists (use --force to replace
// it)" when `path` exists and `force` is false.
void refuse_existing(const std::string& path, bool force);

}  // namespace safehold::tools
