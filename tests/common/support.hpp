// Test support shared by every test executable: fixtures, temporary folders, running commands.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace safehold::test {

// ../shared/fixtures (or $SAFEHOLD_FIXTURES) when present.
std::optional<std::filesystem::path> fixtures();
// Prints "skipped: fixtures not present" once per test and returns true when absent.
bool skip_without_fixtures();

// A fresh folder under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "safehold-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct RunResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs a shell command (bash -c), capturing stdout and stderr.
RunResult run(const std::string& command);
// Runs it and fails the test (with its output) unless it exits 0; returns stdout.
std::string must_run(const std::string& command);
// Quotes a string for bash.
std::string shell_quote(const std::string& s);
// Quotes a path for bash.
std::string quote_path(const std::filesystem::path& p);
// The `safehold` binary under test.
std::string safehold_binary();
// Runs `safehold ARGS` (ARGS quoted by the caller), capturing its exit code and output.
RunResult run_safehold(const std::string& args);
std::string source_dir();

std::string sha256_file(const std::filesystem::path& p);
std::string md5_file(const std::filesystem::path& p);
std::string read_text(const std::filesystem::path& p);
void write_text(const std::filesystem::path& p, const std::string& s);

}  // namespace safehold::test
