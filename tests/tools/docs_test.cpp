// docs/OPERATIONS.md run word for word (tests/tools/run_docs.sh: every ```sh block in order, with
// the simulations it lists for what a build machine cannot do: users, ownership, the package,
// systemd) on a PostgreSQL cluster of its own, under a scratch $ROOT, the server on a free
// loopback port with the docs' TLS certificate. Then, with the server and the two stations the
// docs started still running: /healthz over TLS, the docs' test device worked by a station, its
// HTML report, the stations' JSON logs.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/common/support.hpp"

using safehold::test::must_run;
using safehold::test::read_text;
using safehold::test::run;
using safehold::test::shell_quote;
namespace fsys = std::filesystem;

namespace {

std::string q(const fsys::path& p) {
  return shell_quote(p.string());
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::string percent_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// A PostgreSQL cluster of this test's own (tests/services/postgres.sh), stopped on destruction.
struct Cluster {
  fsys::path env;
  std::string host, port;
  explicit Cluster(const fsys::path& dir) : env(dir / "pg.env") {
    must_run("SAFEHOLD_SERVICE_ENV=" + q(env) + " bash " +
             q(fsys::path(safehold::test::source_dir()) / "tests/services/postgres.sh") +
             " start >/dev/null");
    const std::string text = read_text(env);
    // SAFEHOLD_TEST_PG_URL='postgresql://postgres@%2Ftmp%2F…:PORT/postgres'
    const auto at = text.find('@'), colon = text.find(':', at), slash = text.find('/', colon);
    if (at == std::string::npos || colon == std::string::npos) return;
    host = percent_decode(text.substr(at + 1, colon - at - 1));
    port = text.substr(colon + 1, slash - colon - 1);
  }
  ~Cluster() {
    run("SAFEHOLD_SERVICE_ENV=" + q(env) + " bash " +
        q(fsys::path(safehold::test::source_dir()) / "tests/services/postgres.sh") + " stop");
  }
};

// Stops the units the docs started (their PIDs in ROOT/run/*.pid), as `systemctl stop` would.
struct Units {
  fsys::path run_dir;
  ~Units() {
    std::error_code ec;
    for (auto& e : fsys::directory_iterator(run_dir, ec)) {
      std::string pid = read_text(e.path());
      pid = pid.substr(0, pid.find('\n'));
      // Until it is gone or a zombie (the shell that started it has exited: no one reaps it).
      run("kill -TERM " + pid + " 2>/dev/null; while grep -qs '^State:[[:space:]]*[^Z]' /proc/" +
          pid + "/status; do sleep 0.2; done");
    }
  }
};

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("docs: OPERATIONS.md runs as written (PostgreSQL, TLS, serve and two stations)",
          "[docs][slow]") {
  for (const char* tool : {"curl", "openssl", "mkfs.vfat", "createuser", "createdb"}) {
    INFO(tool << " is needed (Debian packages curl, openssl, dosfstools, postgresql-client)");
    REQUIRE(run(std::string("PATH=$PATH:/usr/sbin command -v ") + tool).exit_code == 0);
  }
  safehold::test::TempDir t("safehold-docs");
  const fsys::path src = safehold::test::source_dir();
  Cluster pg(t.path());
  if (pg.host.empty()) {
    WARN("skipped: PostgreSQL is not installed (tests/services/postgres.sh found no initdb)");
    return;
  }
  fsys::create_directories(t / "bin");
  fsys::create_directories(t / "root");
  fsys::create_symlink(safehold::test::safehold_binary(), t / "bin/safehold");
  const std::string port = std::to_string(free_port());
  const fsys::path root = t / "root";
  Units units{root / "run"};
  const std::string env = "ROOT=" + q(root) +
                          " SERVER_NAME=localhost ADDRESS=127.0.0.1 PORT=" + port +
                          " PGHOST=" + q(pg.host) + " PGPORT=" + pg.port + " PATH=" + q(t / "bin") +
                          ":/usr/sbin:/sbin:$PATH";
  auto r = run("cd " + q(t.path()) + " && " + env + " " + q(src / "tests/tools/run_docs.sh") + " " +
               q(src / "docs/OPERATIONS.md") + " " + q(src / "docs/systemd"));
  INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
  REQUIRE(r.exit_code == 0);
  // Every sh block ran, the last one too.
  const std::string page = read_text(src / "docs/OPERATIONS.md");
  const int blocks = count(page, "\n```sh\n");
  CHECK(blocks >= 8);
  CHECK(count(r.out, "docs: block ") == blocks);
  CHECK(r.out.find("docs: block " + std::to_string(blocks) + " ") != std::string::npos);
  CHECK(r.out.find("Queue database ready (PostgreSQL)\n") != std::string::npos);
  CHECK(r.out.find("Audit chain intact: ") != std::string::npos);

  // The server answers over TLS with the docs' certificate, and not in clear.
  const std::string cert = (root / "etc/safehold/tls/cert.pem").string();
  CHECK(must_run("curl -sS --cacert " + q(cert) + " https://localhost:" + port + "/healthz") ==
        "{\"status\":\"ok\"}\n");
  CHECK(run("curl -sS http://localhost:" + port + "/healthz").out.find("status") ==
        std::string::npos);
  CHECK(run("curl -sS https://localhost:" + port + "/healthz").exit_code == 60);  // untrusted

  // The docs' test device went through a station: acquired, carved, its report, then done.
  const fsys::path dev = root / "srv/safehold/evidence/CHECK-1/CHECK-USB-1";
  CHECK(fsys::exists(dev / "CHECK-USB-1.E01"));
  const std::string html = read_text(dev / "carve/report.html");
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(html.find("CHECK-USB-1") != std::string::npos);
  auto done = nlohmann::json::parse(
      must_run("SAFEHOLD_CONFIG=" + q(root / "etc/safehold/safehold.conf") +
               " PGHOST=" + q(pg.host) + " PGPORT=" + pg.port + " PGUSER=safehold " +
               shell_quote(safehold::test::safehold_binary()) + " queue list --state done --json"));
  REQUIRE(done.size() == 1);
  CHECK(done[0]["exhibit"] == "CHECK-USB-1");

  // Both stations ran (their JSON log lines name them); between them, one acquisition and one
  // carve of the device, each done once.
  int acquired = 0, carved = 0;
  for (const char* name : {"station1", "station2"}) {
    const std::string log =
        read_text(root / ("journal/safehold-work@" + std::string(name) + ".log"));
    std::istringstream in(log);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] != '{') continue;  // the job summary lines on stdout
      auto j = nlohmann::json::parse(line);
      CHECK(j["station"] == name);
      CHECK(j.contains("time"));
      if (j["event"] == "done" && j["exhibit"] == "CHECK-USB-1")
        (j["job"] == "acquire" ? acquired : carved) += 1;
    }
  }
  CHECK(acquired == 1);
  CHECK(carved == 1);
  const std::string serve = read_text(root / "journal/safehold-serve.log");
  CHECK(serve.find("\"event\":\"listening\"") != std::string::npos);
  CHECK(serve.find("\"tls\":true") != std::string::npos);
  CHECK(serve.find("\"url\":\"https://127.0.0.1:" + port + "/\"") != std::string::npos);
}
