#include "tools/config.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace safehold::tools {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

std::string known_keys() {
  std::string out;
  for (auto& [k, v] : config_keys()) out += (out.empty() ? "" : ", ") + k;
  return out;
}

const std::string* variable_of(const std::string& key) {
  for (auto& [k, v] : config_keys())
    if (k == key) return &v;
  return nullptr;
}

void read_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("configuration file " + path + " cannot be read");
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    const auto eq = line.find('=');
    const std::string where = path + " line " + std::to_string(n);
    if (eq == std::string::npos) throw std::runtime_error(where + " is not `key = value`");
    const std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    const std::string* var = variable_of(key);
    if (!var)
      throw std::runtime_error(where + ": unknown key '" + key + "' (known: " + known_keys() + ")");
    if (!value.empty()) ::setenv(var->c_str(), value.c_str(), /*overwrite=*/0);
  }
}

}  // namespace

const std::vector<std::pair<std::string, std::string>>& config_keys() {
  static const std::vector<std::pair<std::string, std::string>> keys = {
      {"db", "SAFEHOLD_DB"},
      {"audit_anchor", "SAFEHOLD_AUDIT_ANCHOR"},
      {"audit_anchor_notify", "SAFEHOLD_AUDIT_ANCHOR_NOTIFY"},
      {"station", "SAFEHOLD_STATION"},
      {"evidence_dir", "SAFEHOLD_EVIDENCE_DIR"},
      {"examiner", "SAFEHOLD_EXAMINER"},
      {"capabilities", "SAFEHOLD_CAPABILITIES"},
      {"listen", "SAFEHOLD_LISTEN"},
      {"tls_cert", "SAFEHOLD_TLS_CERT"},
      {"tls_key", "SAFEHOLD_TLS_KEY"},
      {"notify_webhook", "SAFEHOLD_NOTIFY_WEBHOOK"},
      {"notify_secret_file", "SAFEHOLD_NOTIFY_SECRET_FILE"},
      {"notify_email", "SAFEHOLD_NOTIFY_EMAIL"},
      {"notify_dashboard", "SAFEHOLD_NOTIFY_DASHBOARD"},
  };
  return keys;
}

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::vector<char*> apply_config(int argc, char** argv) {
  std::vector<char*> args(argv, argv + argc);
  std::string path;
  bool named = false;
  if (args.size() >= 2 && std::string(args[1]).rfind("--config=", 0) == 0) {
    path = std::string(args[1]).substr(9);
    args.erase(args.begin() + 1);
    named = true;
  } else if (args.size() >= 2 && std::string(args[1]) == "--config") {
    if (args.size() < 3) throw std::runtime_error("--config needs a file");
    path = args[2];
    args.erase(args.begin() + 1, args.begin() + 3);
    named = true;
  } else if (!env_or_empty("SAFEHOLD_CONFIG").empty()) {
    path = env_or_empty("SAFEHOLD_CONFIG");
    named = true;
  } else {
    path = kDefaultConfig;
  }
  std::error_code ec;
  if (named || std::filesystem::exists(path, ec)) read_config(path);
  return args;
}

}  // namespace safehold::tools
