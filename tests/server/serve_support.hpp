// Test support for `safehold serve`: an in-process server on a real socket with a small queue, an
// HTTP/1.1 client (plain or TLS) that keeps its connection alive, and a way to run the binary.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <thread>

#include "scheduler/queue.hpp"
#include "server/server.hpp"
#include "tests/common/support.hpp"

namespace safehold::test {

struct HttpResult {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  nlohmann::json json() const;
};

class HttpClient {
 public:
  // ca_file: PEM to trust for TLS ("" = plain HTTP).
  HttpClient(std::string host, uint16_t port, std::string ca_file = "");
  ~HttpClient();
  HttpResult request(const std::string& method, const std::string& target,
                     const std::string& token = "", const std::string& body = "",
                     const std::map<std::string, std::string>& headers = {});
  HttpResult get(const std::string& target, const std::string& token = "") {
    return request("GET", target, token);
  }
  // Sends raw bytes and reads one response (for malformed requests).
  HttpResult raw(const std::string& bytes);
  int connections() const { return connects_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int connects_ = 0;
};

// Adds suspects to existing cases: {suspect reference, case reference}.
void add_suspects(scheduler::Store& s,
                  const std::vector<std::pair<std::string, std::string>>& refs);
struct SeedDevice {
  std::string exhibit, suspect;
  scheduler::DeviceClass device_class;
  std::string source = "/dev/null";  // a device without one is needs-source, never claimable
};
// Adds devices in order, their intakes one second apart from first_intake.
void add_devices(scheduler::Store& s, const std::vector<SeedDevice>& devices, int64_t first_intake);

// A queue with two cases, three suspects and five devices, tokens for every role, and a server
// on 127.0.0.1 port 0 running on its own thread.
class TestServer {
 public:
  explicit TestServer(server::ServerOptions extra = {});
  ~TestServer();
  HttpClient client() const;
  std::string db() const { return (dir_ / "queue.db").string(); }
  uint16_t port() const { return server_->port(); }
  std::string log() const;  // everything the server logged so far
  server::Server& server() { return *server_; }
  std::string manager, examiner, auditor, revoked;  // token secrets

 private:
  TempDir dir_;
  std::unique_ptr<std::ostream> log_;
  std::function<std::string()> log_text_;
  std::unique_ptr<server::Server> server_;
  std::thread thread_;
};

// A self-signed certificate for 127.0.0.1 made with `openssl req` in dir: cert.pem, key.pem.
void make_certificate(const std::filesystem::path& dir);

// A `safehold serve` process with stdout and stderr in files; SIGTERM and wait on stop().
class ServeProcess {
 public:
  ServeProcess(const std::string& args, const std::filesystem::path& dir);
  ~ServeProcess();
  // Waits for the first line of stdout (the URL) or for the process to end; "" if it ended.
  std::string first_line();
  // Sends SIGTERM, waits and returns the exit code.
  int stop();
  int wait();  // waits for a process that ends on its own
  std::string out() const;
  std::string err() const;

 private:
  std::filesystem::path dir_;
  int pid_ = -1;
  int code_ = -1;
};

}  // namespace safehold::test
