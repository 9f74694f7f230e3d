#include "tests/common/browser.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>

namespace safehold::test {

namespace fsys = std::filesystem;

namespace {
std::string env_or(const char* name, const std::string& dflt) {
  const char* v = std::getenv(name);
  return v && *v ? v : dflt;
}
}  // namespace

Browser require_browser() {
  Browser b{
      env_or("SAFEHOLD_CHROMIUM", "/usr/bin/chromium"),
      env_or("SAFEHOLD_PLAYWRIGHT_CORE", source_dir() + "/build/npm/node_modules/playwright-core")};
  INFO("Chromium: " << b.chromium << "; playwright-core: " << b.playwright_core
                    << ". Run `make deps` (Debian chromium and nodejs; npm playwright-core into "
                       "build/npm).");
  REQUIRE(fsys::exists(b.chromium));
  REQUIRE(fsys::exists(fsys::path(b.playwright_core) / "package.json"));
  REQUIRE(run("node --version").exit_code == 0);
  return b;
}

RunResult run_browser_script(const Browser& b, const std::string& script,
                             const std::vector<std::string>& args) {
  std::string cmd = "PLAYWRIGHT_CORE=" + shell_quote(b.playwright_core) +
                    " CHROMIUM=" + shell_quote(b.chromium) + " node " +
                    shell_quote(source_dir() + "/" + script);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  return run(cmd);
}

void keep_artifact(const fsys::path& file, const std::string& name) {
  auto keep = fsys::path(env_or("SAFEHOLD_ARTIFACTS", source_dir() + "/build/test-artifacts"));
  fsys::create_directories(keep);
  fsys::copy_file(file, keep / name, fsys::copy_options::overwrite_existing);
}

}  // namespace safehold::test
