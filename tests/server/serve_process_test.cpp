// `safehold serve` as a process: TLS with a certificate made by openssl, start-up errors, port 0,
// the loopback rule, graceful SIGTERM.
// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>: keep this order.
// clang-format off
#include <utility>
#include <boost/asio.hpp>
// clang-format on
#include <catch2/catch.hpp>

#include "scheduler/queue.hpp"
#include "tests/server/serve_support.hpp"

using nlohmann::json;
using safehold::test::HttpClient;
using safehold::test::ServeProcess;
using safehold::test::TempDir;
namespace sch = safehold::scheduler;

namespace {

struct Queue {
  TempDir dir{"safehold-serve-proc"};
  std::string db = (dir / "q.db").string();
  std::string token;
  Queue() {
    auto s = sch::Store::open(db);
    s->add_case("setup", {"C1", sch::Risk::medium, "", "", ""});
    safehold::test::add_suspects(*s, {{"S1", "C1"}});
    safehold::test::add_devices(*s, {{"EX1", "S1", sch::DeviceClass::phone}}, s->now());
    token = s->create_token("setup", sch::Role::manager, "erin").secret;
  }
  std::string q(const std::string& s) const { return safehold::test::shell_quote(s); }
};

uint16_t port_of(const std::string& url) {
  auto colon = url.rfind(':');
  return static_cast<uint16_t>(std::stoi(url.substr(colon + 1)));
}

}  // namespace

TEST_CASE("serve: port 0 prints the URL first; SIGTERM stops gracefully", "[serve]") {
  Queue qu;
  ServeProcess p("--db " + qu.q(qu.db) + " --listen 127.0.0.1:0", qu.dir.path());
  auto url = p.first_line();
  INFO(p.err());
  REQUIRE(url.rfind("http://127.0.0.1:", 0) == 0);
  REQUIRE(url.back() == '/');
  HttpClient c("127.0.0.1", port_of(url));
  auto r = c.get("/api/queue?limit=1", qu.token);
  REQUIRE(r.status == 200);
  CHECK(r.json()[0].at("exhibit") == "EX1");
  CHECK(p.stop() == 0);
  auto out = p.out();
  CHECK(out.find("\"event\":\"signal\"") != std::string::npos);
  CHECK(out.find("\"event\":\"stopped\"") != std::string::npos);
  CHECK(out.find(qu.token) == std::string::npos);
}

TEST_CASE("serve: TLS with a certificate made by openssl at test time", "[serve][tls]") {
  Queue qu;
  safehold::test::make_certificate(qu.dir.path());
  auto cert = (qu.dir / "cert.pem").string(), key = (qu.dir / "key.pem").string();
  ServeProcess p("--db " + qu.q(qu.db) + " --listen 127.0.0.1:0 --tls-cert " + qu.q(cert) +
                     " --tls-key " + qu.q(key),
                 qu.dir.path());
  auto url = p.first_line();
  INFO(p.err());
  REQUIRE(url.rfind("https://127.0.0.1:", 0) == 0);
  HttpClient c("127.0.0.1", port_of(url), cert);  // verifies the certificate
  auto r = c.get("/api/devices/EX1/explain", qu.token);
  REQUIRE(r.status == 200);
  CHECK(r.json().at("exhibit") == "EX1");
  CHECK(r.headers["strict-transport-security"] == "max-age=31536000");
  CHECK(c.get("/api/alerts").status == 401);
  CHECK(c.get("/healthz").status == 200);
  CHECK(c.connections() == 1);
  // openssl s_client agrees: TLS 1.2 or later, and plain HTTP on the TLS port gets nothing.
  auto s = safehold::test::run("echo | openssl s_client -connect 127.0.0.1:" +
                               std::to_string(port_of(url)) + " -CAfile " + qu.q(cert) + " 2>&1");
  CHECK(s.out.find("Verify return code: 0 (ok)") != std::string::npos);
  CHECK(p.stop() == 0);
}

TEST_CASE("serve: start-up errors are one clear sentence", "[serve]") {
  Queue qu;
  auto V = safehold::test::safehold_binary();
  auto serve = [&](const std::string& args) {
    return safehold::test::run(V + " serve --db " + qu.q(qu.db) + " " + args);
  };
  SECTION("a non-loopback address without TLS is refused unless --insecure") {
    auto r = serve("--listen 0.0.0.0:0");
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("safehold: refusing to listen on 0.0.0.0 without TLS") == 0);
    CHECK(r.out.empty());
    ServeProcess p("--db " + qu.q(qu.db) + " --listen 0.0.0.0:0 --insecure", qu.dir.path());
    auto url = p.first_line();
    INFO(p.err());
    CHECK(url.rfind("http://0.0.0.0:", 0) == 0);
    CHECK(p.stop() == 0);
  }
  SECTION("the port is taken") {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    auto port = a.local_endpoint().port();
    auto r = serve("--listen 127.0.0.1:" + std::to_string(port));
    CHECK(r.exit_code == 2);
    CHECK(r.err == "safehold: cannot listen on 127.0.0.1:" + std::to_string(port) +
                       ": the port is already in use\n");
  }
  SECTION("a bad certificate, a key that does not match") {
    safehold::test::make_certificate(qu.dir.path());
    safehold::test::write_text(qu.dir / "junk.pem", "not a certificate\n");
    auto r = serve("--listen 127.0.0.1:0 --tls-cert " + qu.q((qu.dir / "junk.pem").string()) +
                   " --tls-key " + qu.q((qu.dir / "key.pem").string()));
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("safehold: cannot load the TLS certificate") == 0);
    auto other = qu.dir / "other";
    std::filesystem::create_directory(other);
    safehold::test::make_certificate(other);
    r = serve("--listen 127.0.0.1:0 --tls-cert " + qu.q((qu.dir / "cert.pem").string()) +
              " --tls-key " + qu.q((other / "key.pem").string()));
    CHECK(r.exit_code == 2);
    INFO(r.err);
    CHECK(r.err.rfind("safehold: ", 0) == 0);
    CHECK((r.err.find("key values mismatch") != std::string::npos ||
           r.err.find("does not match the certificate") != std::string::npos));
    r = serve("--listen 127.0.0.1:0 --tls-cert " + qu.q((qu.dir / "cert.pem").string()));
    CHECK(r.exit_code == 2);
    CHECK(r.err == "safehold: --tls-cert and --tls-key go together: give both or neither\n");
  }
  SECTION("the database is unreachable") {
    auto r = safehold::test::run(
        V + " serve --listen 127.0.0.1:0 --db postgresql://safehold@127.0.0.1:1/q");
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("safehold: cannot connect to the PostgreSQL queue database:") == 0);
    CHECK(r.err.find("safehold@") == std::string::npos);  // the URL may hold a password
    CHECK(r.out.empty());
  }
  SECTION("a bad --listen") {
    auto r = serve("--listen 127.0.0.1");
    CHECK(r.exit_code == 2);
    CHECK(r.err == "safehold: --listen must be HOST:PORT, e.g. 127.0.0.1:8080\n");
  }
}

TEST_CASE("serve: in-flight requests finish on stop(); idle connections are closed", "[serve]") {
  auto srv = std::make_unique<safehold::test::TestServer>();
  auto c = srv->client();
  REQUIRE(c.get("/api/queue", srv->auditor).status == 200);
  // The idle keep-alive connection does not hold the stop back: the destructor returns.
  srv.reset();
  SUCCEED();
}
