// The configuration file, /etc/safehold/safehold.conf (docs/OPERATIONS.md "Configuration"):
// `key = value` lines, `#` comments. Each key stands for one environment variable, and the file
// only fills variables that are not set, so a flag beats the environment, which beats the file.
// Commands read the variables (SAFEHOLD_DB, …) as their defaults.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace safehold::tools {

inline constexpr const char* kDefaultConfig = "/etc/safehold/safehold.conf";

// The keys of the file and the variable each one sets, in documentation order.
const std::vector<std::pair<std::string, std::string>>& config_keys();

// Reads the file named by `--config PATH` (first arguments, before the command), else
// $SAFEHOLD_CONFIG, else the default path when it exists, and sets the variables it holds that
// are not already set. Returns the arguments without `--config PATH`. Throws std::runtime_error
// (one sentence naming the file and line) for an unreadable file named explicitly, an unknown
// key or a line that is not `key = value`.
std::vector<char*> apply_config(int argc, char** argv);

// The value of an environment variable, or "" when unset.
std::string env_or_empty(const char* name);

}  // namespace safehold::tools
