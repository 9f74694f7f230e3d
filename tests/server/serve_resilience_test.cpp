// Issue 24, a server that stays up: an external SQLite write lock (problem 5), thousands of idle
// connections (problem 7), and duplicate JSON keys (problem 10).
// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>: keep this order.
// clang-format off
#include <utility>
#include <boost/asio.hpp>
// clang-format on
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <thread>

#include "scheduler/queue.hpp"
#include "tests/server/serve_support.hpp"

using nlohmann::json;
using safehold::test::HttpResult;
using safehold::test::ServeProcess;
using safehold::test::TempDir;
using safehold::test::TestServer;
namespace sch = safehold::scheduler;

namespace {

int connect_to(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// GET /healthz on a connection of its own, waiting at most `timeout` seconds for the answer; ""
// when none came.
std::string healthz(uint16_t port, int timeout) {
  int fd = connect_to(port);
  if (fd < 0) return "";
  timeval tv{timeout, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string req = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  std::string out;
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
      out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

// Another process's write transaction on the queue database, held until release().
struct ExternalLock {
  sqlite3* db = nullptr;
  explicit ExternalLock(const std::string& path) {
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  }
  void release() {
    if (!db) return;
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    db = nullptr;
  }
  ~ExternalLock() { release(); }
};

}  // namespace

// Regression (issue 24, problem 5): with another process holding SQLite's write lock, both worker
// threads busy-waited on it for 60 s, so /healthz and GET /api/queue timed out for minutes and
// writes got 500 after 63 s.
TEST_CASE("serve: an external write lock leaves /healthz and reads answering, writes get 503",
          "[serve]") {
  safehold::server::ServerOptions o;
  o.threads = 2;
  o.db_wait_ms = 1000;
  o.api.health_interval_ms = 0;
  TestServer srv(o);
  auto c = srv.client();
  REQUIRE(c.get("/healthz").json() == json{{"status", "ok"}});

  ExternalLock lock(srv.db());
  // Writes on both threads at once: before, they held every worker thread.
  std::vector<std::future<HttpResult>> writes;
  for (int i = 0; i < 2; ++i)
    writes.push_back(std::async(std::launch::async, [&srv, i] {
      auto cl = srv.client();
      return cl.request("POST", "/api/cases", srv.manager,
                        json{{"reference", "L" + std::to_string(i)}}.dump());
    }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // The lock is held until lock.release() below, so any answer at all shows that neither the
  // probe nor a read waits for it (no timing assumed: a loaded machine answers later, not
  // differently).
  auto h = c.get("/healthz");
  CHECK(h.status == 200);
  CHECK(h.json()["status"] == "degraded");
  CHECK(h.json()["database"] == "write-locked");
  auto q = c.get("/api/queue", srv.auditor);
  CHECK(q.status == 200);
  CHECK(q.json().size() == 5);
  for (auto& f : writes) {
    auto r = f.get();
    CHECK(r.status == 503);
    CHECK(r.headers.count("retry-after") == 1);
    CHECK(r.json()["error"].get<std::string>().find("write lock") != std::string::npos);
  }

  lock.release();
  CHECK(c.get("/healthz").json() == json{{"status", "ok"}});
  auto ok = c.request("POST", "/api/cases", srv.manager, json{{"reference", "L9"}}.dump());
  CHECK(ok.status == 201);
}

// Regression (issue 24, problem 7): about 10,000 idle connections made accept() spin at the
// file-descriptor limit and /healthz time out. Here the server gets 256 descriptors and 1,000
// connections that never send a byte.
TEST_CASE("serve: a thousand idle connections do not stop /healthz", "[serve][slow]") {
  TempDir dir("safehold-serve-idle");
  std::string db = (dir / "q.db").string();
  sch::Store::open(db)->add_case("setup", {"C1", sch::Risk::medium, "", "", ""});
  rlimit old{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &old) == 0);
  rlimit low = old;
  low.rlim_cur = 256;
  REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
  ServeProcess p("--db " + safehold::test::shell_quote(db) + " --listen 127.0.0.1:0", dir.path());
  REQUIRE(setrlimit(RLIMIT_NOFILE, &old) == 0);
  auto url = p.first_line();
  REQUIRE(!url.empty());
  auto port = static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));

  std::vector<int> idle;
  for (int i = 0; i < 1000; ++i) {
    int fd = connect_to(port);
    if (fd >= 0) idle.push_back(fd);
  }
  CHECK(idle.size() >= 500);
  // A health check from the same address: the server makes room by closing idle connections.
  std::string answer;
  for (int attempt = 0; attempt < 5 && answer.find("200 OK") == std::string::npos; ++attempt)
    answer = healthz(port, 10);
  CHECK(answer.find("HTTP/1.1 200 OK") == 0);
  CHECK(answer.find("{\"status\":\"ok\"}") != std::string::npos);
  for (int fd : idle) ::close(fd);
  CHECK(p.stop() == 0);
}

// Regression (issue 24, problem 10): {"reference": "A", "reference": "B"} was accepted, the parser
// keeping one of the two.
TEST_CASE("serve: a request body with a repeated key is refused", "[serve]") {
  TestServer srv;
  auto c = srv.client();
  auto r = c.request("POST", "/api/cases", srv.manager,
                     R"({"reference": "A", "risk": "high", "reference": "B"})");
  CHECK(r.status == 400);
  CHECK(r.json()["error"] == "the request body has the field 'reference' more than once");
  CHECK(r.json()["field"] == "reference");
  auto nested = c.request("PUT", "/api/policy", srv.manager,
                          R"({"deadline_days": {"high": 3, "high": 300}, "reason": "x"})");
  CHECK(nested.status == 400);
  // Distinct keys are fine.
  auto fine = c.request("PUT", "/api/policy", srv.manager,
                        R"({"deadline_days": {"high": 3}, "alert_hours": 24, "reason": "x"})");
  CHECK(fine.status == 200);
  CHECK(c.get("/api/cases/A", srv.auditor).status == 404);
  CHECK(c.get("/api/cases/B", srv.auditor).status == 404);
}
