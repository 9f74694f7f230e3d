// `safehold serve` as a process: TLS with a certificate made by openssl, start-up errors, port 0,
// the loopback rule, graceful SIGTERM.
// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>: keep this order.
// clang-format off
#include <utility>
#include <boost/asio.hpp>
// clang-format on
#include <catch2/catch.hpp>

#include "scheduler/queue.hpp"
#include "tests/common/receiver.hpp"
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

TEST_CASE("serve: port 0 prints the URL first, SIGTERM stops gracefully", "[serve]") {
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

TEST_CASE("serve: in-flight requests finish on stop(), idle connections are closed", "[serve]") {
  auto srv = std::make_unique<safehold::test::TestServer>();
  auto c = srv->client();
  REQUIRE(c.get("/api/queue", srv->auditor).status == 200);
  // The idle keep-alive connection does not hold the stop back: the destructor returns.
  srv.reset();
  SUCCEED();
}

// Issue 20, item 7 (and issue 24's anchor webhook): `serve` delivers the outbox while it runs, so
// an alert leaves the building without a separate timer; signed, audited, counts only in its log.
TEST_CASE("serve: delivers alerts to webhooks while serving", "[serve][notify]") {
  Queue qu;
  safehold::test::WebhookReceiver rx(qu.dir / "rx");
  safehold::test::write_text(qu.dir / "secret", "hook-secret-7\n");
  {
    auto s = sch::Store::open(qu.db);
    sch::SuspectUpdate u;
    u.lives_with_children = sch::Answer::yes;
    s->update_suspect("setup", "S1", u, "home visit");  // a household alert, in the outbox
  }
  ServeProcess p("--db " + qu.q(qu.db) + " --listen 127.0.0.1:0 --webhook " + rx.url() +
                     " --secret-file " + qu.q((qu.dir / "secret").string()) +
                     " --notify-every 1 --dashboard http://127.0.0.1:8080",
                 qu.dir.path());
  REQUIRE(!p.first_line().empty());
  INFO(p.err());
  auto got = rx.wait_for(1);
  REQUIRE(got.size() == 1);
  const std::string body = got[0]["body"];
  auto j = json::parse(body);
  CHECK(j["event"] == "alert");
  CHECK(j["kind"] == "household");
  CHECK(j["case"] == "C1");
  CHECK(j["dashboard"].get<std::string>().rfind("http://127.0.0.1:8080/#", 0) == 0);
  CHECK(got[0]["headers"]["X-Safehold-Event"] == "alert");
  safehold::test::write_text(qu.dir / "body", body);
  auto mac = safehold::test::must_run("openssl dgst -sha256 -hmac hook-secret-7 -r " +
                                      qu.q((qu.dir / "body").string()) + " | cut -d' ' -f1");
  mac.erase(mac.find_last_not_of('\n') + 1);
  CHECK(got[0]["headers"]["X-Safehold-Signature"] == "sha256=" + mac);
  CHECK(p.stop() == 0);
  CHECK(rx.requests().size() == 1);  // delivered once, not on every round
  auto out = p.out();
  CHECK(out.find("\"event\":\"notify\"") != std::string::npos);
  CHECK(out.find("\"delivered\":1") != std::string::npos);
  CHECK(out.find("hook-secret-7") == std::string::npos);
  CHECK(out.find(rx.port()) == std::string::npos);  // targets are not logged
  auto audit = sch::Store::open(qu.db)->audit("notification", "", 0);
  REQUIRE(audit.size() == 1);
  CHECK(audit[0].action == "notify.delivered");
  CHECK(audit[0].user == "serve");
  CHECK(audit[0].reason == "webhook 1: 200");
}

TEST_CASE("serve: notification targets are checked at start-up", "[serve][notify]") {
  Queue qu;
  auto V = safehold::test::safehold_binary();
  safehold::test::write_text(qu.dir / "secret", "s\n");
  auto serve = [&](const std::string& args) {
    return safehold::test::run(V + " serve --listen 127.0.0.1:0 --db " + qu.q(qu.db) + " " + args);
  };
  auto r = serve("--webhook http://127.0.0.1:9/hook");
  CHECK(r.exit_code == 1);
  CHECK(r.err == "safehold: --webhook needs --secret-file\n");
  r = serve("--webhook ftp://example.org/x --secret-file " + qu.q((qu.dir / "secret").string()));
  CHECK(r.exit_code == 1);
  CHECK(r.err == "safehold: a webhook URL must be http://HOST[:PORT]/PATH or https://…\n");
  r = serve("--email 'a@example.org, b@example.org'");
  CHECK(r.exit_code == 1);
  CHECK(r.err == "safehold: an email address must be one address on one line\n");
  CHECK(r.out.empty());
}
