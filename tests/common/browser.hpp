// Headless Chromium for the browser tests: Debian's `chromium` driven by playwright-core, which
// `make deps` installs into build/npm. Without them a browser test FAILS: it must never pass
// silently in CI.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "tests/common/support.hpp"

namespace safehold::test {

struct Browser {
  std::string chromium;         // $SAFEHOLD_CHROMIUM, else /usr/bin/chromium
  std::string playwright_core;  // $SAFEHOLD_PLAYWRIGHT_CORE, else build/npm/node_modules/...
};

// Finds Chromium, playwright-core and node, and fails the test (saying how to install them) when
// one is missing.
Browser require_browser();

// Runs `node SCRIPT ARGS...` (SCRIPT relative to the source tree) with PLAYWRIGHT_CORE and
// CHROMIUM set; every argument is shell-quoted.
RunResult run_browser_script(const Browser& b, const std::string& script,
                             const std::vector<std::string>& args);

// Copies a file (a screenshot, a PDF) to $SAFEHOLD_ARTIFACTS (default build/test-artifacts) for
// people to look at, under `name`.
void keep_artifact(const std::filesystem::path& file, const std::string& name);

}  // namespace safehold::test
