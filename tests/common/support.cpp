#include "tests/common/support.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "base/hash.hpp"

namespace safehold::test {

namespace fsys = std::filesystem;

std::optional<fsys::path> fixtures() {
  const char* env = std::getenv("SAFEHOLD_FIXTURES");
  fsys::path p = (env && *env) ? fsys::path(env)
                               : fsys::path(SAFEHOLD_SOURCE_DIR) / ".." / "shared" / "fixtures";
  std::error_code ec;
  if (fsys::is_directory(p / "images", ec)) return fsys::canonical(p);
  return std::nullopt;
}

bool skip_without_fixtures() {
  if (fixtures()) return false;
  WARN("skipped: fixtures not present");
  return true;
}

TempDir::TempDir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + prefix + "-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  fsys::remove_all(path_, ec);
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

RunResult run(const std::string& command) {
  TempDir tmp("safehold-run");
  std::string cmd = "bash -c " + shell_quote(command) + " >" + (tmp / "out").string() + " 2>" +
                    (tmp / "err").string() + " </dev/null";
  int status = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_text(tmp / "out");
  r.err = read_text(tmp / "err");
  return r;
}

std::string must_run(const std::string& command) {
  RunResult r = run(command);
  INFO("command: " << command << "\nstdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  return r.out;
}

std::string quote_path(const fsys::path& p) {
  return shell_quote(p.string());
}

std::string safehold_binary() {
  return SAFEHOLD_BINARY;
}

RunResult run_safehold(const std::string& args) {
  return run(shell_quote(safehold_binary()) + " " + args);
}
std::string source_dir() {
  return SAFEHOLD_SOURCE_DIR;
}

std::string sha256_file(const fsys::path& p) {
  return base::hash_file(p, 4).sha256;
}
std::string md5_file(const fsys::path& p) {
  return base::hash_file(p, 1).md5;
}

std::string read_text(const fsys::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_text(const fsys::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary);
  out << s;
}

}  // namespace safehold::test
