// Packaging: `cmake --install` of the tree under test and the Debian package made from it by
// packaging/build-deb.sh (what `make deb` runs): contents, control fields, Depends (runtime
// libraries only), the units pointing at the installed binary and `systemd-analyze verify`, the
// man pages, dpkg's own dry-run install against this machine's packages, and (as root) an install
// into a clean chroot holding only the package's dependencies, where it runs.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <sstream>

#include "tests/common/support.hpp"

using safehold::test::must_run;
using safehold::test::read_text;
using safehold::test::run;
using safehold::test::RunResult;
using safehold::test::shell_quote;
namespace fsys = std::filesystem;

namespace {
std::string q(const fsys::path& p) {
  return shell_quote(p.string());
}
// The shipped units (from the package's tree ROOT) through `systemd-analyze verify --root`,
// which resolves ExecStart= and every dependency inside ROOT: the package's /usr/bin/safehold and
// a copy of this machine's own units (targets, slices) beside the package's. Also what both
// databases need: SQLite's folder writable, PostgreSQL started first.
void check_units(const fsys::path& root) {
  const fsys::path dir = root / "usr/lib/systemd/system";
  for (const char* name : {"safehold-serve.service", "safehold-work@.service"}) {
    const std::string unit = read_text(dir / name);
    INFO(name);
    // SQLite (db = /var/lib/safehold/queue.db): the one writable folder of both units.
    CHECK(unit.find("\nStateDirectory=safehold\n") != std::string::npos);
    CHECK(unit.find("\nProtectSystem=strict\n") != std::string::npos);
    // PostgreSQL on the same machine: started before, reached through its socket.
    CHECK(unit.find("After=network-online.target postgresql.service\n") != std::string::npos);
    CHECK(unit.find("RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6\n") != std::string::npos);
  }
  CHECK(
      read_text(dir / "safehold-work@.service").find("\nReadWritePaths=/srv/safehold/evidence\n") !=
      std::string::npos);
  if (run("command -v systemd-analyze").exit_code != 0) {
    WARN("not checked: systemd-analyze is not installed (Debian package systemd)");
    return;
  }
  // Copies, not links: systemd refuses linked units of some types, and links would leave ROOT.
  must_run("cp -rn /usr/lib/systemd/system/. " + q(dir) + "/");
  auto v = run("systemd-analyze verify --root=" + q(root) +
               " safehold-serve.service safehold-work@station1.service");
  INFO(v.out << v.err);
  CHECK(v.exit_code == 0);
  CHECK(v.err.empty());  // unknown keys are only warnings: none allowed
}

// The package into a clean root that holds only its dependencies (packaging/deb_chroot.py, from
// this machine's installed packages: offline), then run from there with chroot.
void install_in_chroot(const fsys::path& pkg, const fsys::path& root, const std::string& version) {
  const std::string closure = must_run(
      "python3 " + q(fsys::path(safehold::test::source_dir()) / "packaging/deb_chroot.py") + " " +
      q(pkg) + " " + q(root));
  INFO("closure:\n" << closure);
  CHECK(closure.find("libc6\n") != std::string::npos);
  CHECK(closure.find("-dev\n") == std::string::npos);
  CHECK(
      must_run("dpkg --root " + q(root) + " -s safehold").find("Status: install ok installed\n") !=
      std::string::npos);
  const std::string files = must_run("dpkg --root " + q(root) + " -L safehold");
  for (const char* f : {"/usr/bin/safehold\n", "/usr/share/man/man1/safehold-work.1.gz\n",
                        "/usr/lib/systemd/system/safehold-serve.service\n",
                        "/usr/lib/systemd/system/safehold-work@.service\n"})
    CHECK(files.find(f) != std::string::npos);
  // Only the declared libraries are there: the binary runs, and opens a queue. A sanitizer build
  // (the ASan tree of `make test`) reads /proc/self/maps at start: the chroot gets a /proc of its
  // own for the run, unmounted after it.
  const bool sanitized =
      must_run("dpkg-deb --field " + q(pkg) + " Depends").find("libasan") != std::string::npos;
  const fsys::path proc = root / "proc";
  if (sanitized) {
    fsys::create_directories(proc);
    REQUIRE(run("mount -t proc proc " + q(proc)).exit_code == 0);
  }
  const RunResult v = run("chroot " + q(root) + " /usr/bin/safehold --version");
  const RunResult init = run("chroot " + q(root) + " /usr/bin/safehold queue init --db /tmp/q.db");
  const RunResult list = run("chroot " + q(root) + " /usr/bin/safehold queue list --db /tmp/q.db");
  if (sanitized) CHECK(run("umount " + q(proc)).exit_code == 0);
  INFO(v.err << init.err << list.err);
  CHECK(v.out == version);
  CHECK(init.out == "Created queue database /tmp/q.db\n");
  CHECK(list.out.rfind(" RANK  EXHIBIT", 0) == 0);
}

}  // namespace

TEST_CASE("package: make deb's package holds the binary, man pages, units and docs",
          "[package][slow]") {
  for (const char* tool : {"dpkg-deb", "dpkg-shlibdeps", "python3", "gzip"}) {
    INFO(tool << " is needed (Debian packages dpkg, dpkg-dev, python3, gzip)");
    REQUIRE(run(std::string("command -v ") + tool).exit_code == 0);
  }
  safehold::test::TempDir t("safehold-package");
  const fsys::path build =
      fsys::path(safehold::test::safehold_binary()).parent_path().parent_path();
  const std::string deb =
      must_run("DEB_COMPRESS=gzip " +
               q(fsys::path(safehold::test::source_dir()) / "packaging/build-deb.sh") + " " +
               q(build) + " " + q(t / "out"));
  const fsys::path pkg = deb.substr(0, deb.find('\n'));
  const std::string version =
      must_run(shell_quote(safehold::test::safehold_binary()) + " --version");
  const std::string ver =
      version.substr(version.find(' ') + 1, version.find('\n') - version.find(' ') - 1);
  const std::string arch = must_run("dpkg --print-architecture")
                               .substr(0, must_run("dpkg --print-architecture").find('\n'));
  CHECK(pkg.filename() == "safehold_" + ver + "_" + arch + ".deb");

  auto field = [&](const std::string& f) {
    auto v = must_run("dpkg-deb --field " + q(pkg) + " " + f);
    return v.substr(0, v.find('\n'));
  };
  CHECK(field("Package") == "safehold");
  CHECK(field("Version") == ver);
  CHECK(field("Architecture") == arch);
  CHECK(std::stoul(field("Installed-Size")) > 100);
  const std::string depends = field("Depends");
  INFO("Depends: " << depends);
  for (const char* lib : {"libc6", "libstdc++6", "libtsk", "libewf", "libsqlite3", "libpq5",
                          "libssl3", "libzstd1", "libjpeg62-turbo", "libpng16"})
    CHECK(depends.find(lib) != std::string::npos);
  // Runtime libraries only: nothing to build, test or demo with.
  for (const char* no : {"-dev", "cmake", "chromium", "nodejs", "postgresql,", "ffmpeg ",
                         "imagemagick", "clang", "catch2", "wrk"})
    CHECK(depends.find(no) == std::string::npos);

  std::istringstream list(must_run("dpkg-deb --contents " + q(pkg)));
  std::string contents, line;
  while (std::getline(list, line)) {
    CHECK(line.find("root/root") != std::string::npos);  // owned by root, whoever built it
    contents += line.substr(line.rfind(' ') + 1) + "\n";
  }
  for (const char* f :
       {"./usr/bin/safehold\n", "./usr/share/man/man1/safehold.1.gz\n",
        "./usr/share/man/man1/safehold-report.1.gz\n",
        "./usr/share/man/man1/safehold-timeline.1.gz\n",
        "./usr/share/man/man1/safehold-queue.1.gz\n",
        "./usr/lib/systemd/system/safehold-serve.service\n",
        "./usr/lib/systemd/system/safehold-work@.service\n", "./usr/share/doc/safehold/README.md\n",
        "./usr/share/doc/safehold/OPERATIONS.md\n", "./usr/share/doc/safehold/report.md\n",
        "./usr/share/doc/safehold/copyright\n"})
    CHECK(contents.find(f) != std::string::npos);
  CHECK(contents.find("/usr/local") == std::string::npos);

  must_run("dpkg-deb -x " + q(pkg) + " " + q(t / "root"));
  CHECK(must_run(q(t / "root/usr/bin/safehold") + " --version") == version);
  const std::string unit = read_text(t / "root/usr/lib/systemd/system/safehold-serve.service");
  CHECK(unit.find("ExecStart=/usr/bin/safehold serve") != std::string::npos);
  CHECK(unit.find("/usr/local/bin") == std::string::npos);
  const std::string man = must_run("zcat " + q(t / "root/usr/share/man/man1/safehold-report.1.gz"));
  CHECK(man.rfind(".TH SAFEHOLD-REPORT 1 \"\" \"" + version.substr(0, version.find('\n')), 0) == 0);
  CHECK(man.find("safehold\\-report \\- Write one self-contained HTML report") !=
        std::string::npos);
  CHECK(man.find("--thumbnails") != std::string::npos);
  if (run("command -v man").exit_code == 0) {
    auto page =
        must_run("MANWIDTH=100 man -l " + q(t / "root/usr/share/man/man1/safehold-timeline.1.gz") +
                 " 2>/dev/null | col -b");
    CHECK(page.find("NAME") != std::string::npos);
    CHECK(page.find("--format") != std::string::npos);
  }

  // dpkg's own check that it installs here (dependencies satisfied), changing nothing.
  if (::geteuid() == 0) {
    auto dry = run("dpkg --dry-run -i " + q(pkg));
    INFO(dry.out << dry.err);
    CHECK(dry.exit_code == 0);
  } else {
    auto sim = run("apt-get install -s " + q(pkg));
    INFO(sim.out << sim.err);
    CHECK(sim.exit_code == 0);
  }
  check_units(t / "root");
  if (::geteuid() != 0) {
    WARN(
        "not checked: installing into a clean chroot needs root (chroot(2)); the dpkg-deb "
        "checks and apt-get's simulation above stand in for it");
    return;
  }
  install_in_chroot(pkg, t / "chroot", version);
}
