#include "tests/server/serve_support.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <catch2/catch.hpp>
#include <cctype>
#include <chrono>
#include <csignal>
#include <mutex>
#include <optional>
#include <sstream>

extern char** environ;

namespace safehold::test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
namespace sch = safehold::scheduler;

nlohmann::json HttpResult::json() const {
  auto j = nlohmann::json::parse(body, nullptr, false);
  INFO("body: " << body);
  REQUIRE_FALSE(j.is_discarded());
  return j;
}

struct HttpClient::Impl {
  std::string host;
  uint16_t port;
  std::string ca;
  net::io_context ioc;
  std::optional<ssl::context> ctx;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;

  bool open() const { return plain.has_value() || tls.has_value(); }
  void connect() {
    tcp::endpoint ep(net::ip::make_address(host), port);
    if (ca.empty()) {
      plain.emplace(ioc);
      plain->connect(ep);
    } else {
      if (!ctx) {
        ctx.emplace(ssl::context::tls_client);
        ctx->load_verify_file(ca);
        ctx->set_verify_mode(ssl::verify_peer);
      }
      tls.emplace(ioc, *ctx);
      beast::get_lowest_layer(*tls).connect(ep);
      tls->handshake(ssl::stream_base::client);
    }
    buffer.clear();
  }
  void reset() {
    plain.reset();
    tls.reset();
  }
  template <class F>
  auto with_stream(F f) {
    if (plain) return f(*plain);
    return f(*tls);
  }
};

HttpClient::HttpClient(std::string host, uint16_t port, std::string ca_file)
    : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->ca = std::move(ca_file);
}
HttpClient::~HttpClient() = default;

namespace {
HttpResult to_result(http::response<http::string_body>& res) {
  HttpResult r;
  r.status = static_cast<int>(res.result_int());
  r.body = res.body();
  for (auto& f : res) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers[name] = std::string(f.value());
  }
  return r;
}
}  // namespace

HttpResult HttpClient::request(const std::string& method, const std::string& target,
                               const std::string& token, const std::string& body,
                               const std::map<std::string, std::string>& headers) {
  for (int attempt = 0;; ++attempt) {
    if (!impl_->open()) {
      impl_->connect();
      ++connects_;
    }
    http::request<http::string_body> req(http::string_to_verb(method), target, 11);
    if (req.method() == http::verb::unknown) req.method_string(method);
    req.set(http::field::host, impl_->host);
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    for (auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    req.keep_alive(true);
    beast::error_code ec;
    http::response<http::string_body> res;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    impl_->with_stream([&](auto& s) {
      http::write(s, req, ec);
      if (!ec) http::read(s, impl_->buffer, parser, ec);
      return 0;
    });
    if (ec) {
      // The server closed an idle keep-alive connection: reconnect once.
      impl_->reset();
      if (attempt == 0) continue;
      FAIL("HTTP request failed: " << ec.message());
    }
    res = parser.release();
    auto out = to_result(res);
    if (!res.keep_alive()) impl_->reset();
    return out;
  }
}

HttpResult HttpClient::raw(const std::string& bytes) {
  impl_->reset();
  impl_->connect();
  ++connects_;
  beast::error_code ec;
  http::response_parser<http::string_body> parser;
  impl_->with_stream([&](auto& s) {
    net::write(s, net::buffer(bytes), ec);
    if (!ec) http::read(s, impl_->buffer, parser, ec);
    return 0;
  });
  INFO("raw request failed: " << ec.message());
  REQUIRE_FALSE(ec);
  auto res = parser.release();
  impl_->reset();
  return to_result(res);
}

namespace {
// A string buffer that several server threads may write while the test reads it.
class SyncBuf : public std::stringbuf {
 public:
  std::string text() {
    std::lock_guard lk(mu_);
    return str();
  }

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    std::lock_guard lk(mu_);
    return std::stringbuf::xsputn(s, n);
  }
  int_type overflow(int_type c) override {
    std::lock_guard lk(mu_);
    return std::stringbuf::overflow(c);
  }

 private:
  std::recursive_mutex mu_;  // xsputn calls overflow
};
class SyncStream : public std::ostream {
 public:
  SyncStream() : std::ostream(nullptr) { rdbuf(&buf_); }
  SyncBuf buf_;
};
}  // namespace

void add_suspects(sch::Store& s, const std::vector<std::pair<std::string, std::string>>& refs) {
  for (const auto& [suspect, case_ref] : refs) {
    sch::NewSuspect ns;
    ns.reference = suspect;
    ns.case_ref = case_ref;
    s.add_suspect("setup", ns);
  }
}

void add_devices(sch::Store& s, const std::vector<SeedDevice>& devices, int64_t first_intake) {
  for (const auto& dev : devices) {
    sch::NewDevice d;
    d.exhibit = dev.exhibit;
    d.suspect_ref = dev.suspect;
    d.device_class = dev.device_class;
    d.source = dev.source;
    d.intake_at = first_intake++;
    s.add_device("setup", d);
  }
}

TestServer::TestServer(safehold::server::ServerOptions opts) : dir_("safehold-serve") {
  {
    auto s = sch::Store::open(db());
    s->add_case("setup", {"C1", sch::Risk::high, "indecent images", "DC Smith", ""});
    s->add_case("setup", {"C2", sch::Risk::low, "indecent images", "DC Jones", ""});
    add_suspects(*s, {{"S1", "C1"}, {"S2", "C2"}, {"S3", "C2"}});
    add_devices(*s,
                {{"EX1", "S1", sch::DeviceClass::phone},
                 {"EX2", "S1", sch::DeviceClass::computer},
                 {"EX3", "S2", sch::DeviceClass::phone},
                 {"EX4", "S2", sch::DeviceClass::removable},
                 {"EX5", "S3", sch::DeviceClass::tablet}},
                s->now() - 3600);
    manager = s->create_token("setup", sch::Role::manager, "alice").secret;
    examiner = s->create_token("setup", sch::Role::examiner, "bob").secret;
    auditor = s->create_token("setup", sch::Role::auditor, "carol").secret;
    revoked = s->create_token("setup", sch::Role::manager, "mallory").secret;
    s->revoke_token("setup", "mallory");
  }
  auto sink = std::make_unique<SyncStream>();
  auto* raw = sink.get();
  log_text_ = [raw] { return raw->buf_.text(); };
  log_ = std::move(sink);
  opts.db = db();
  if (opts.listen == "127.0.0.1:8080") opts.listen = "127.0.0.1:0";
  opts.log = log_.get();
  if (opts.threads == 0) opts.threads = 2;
  server_ = std::make_unique<safehold::server::Server>(opts);
  thread_ = std::thread([this] { server_->run(); });
}

TestServer::~TestServer() {
  server_->stop();
  thread_.join();
}

HttpClient TestServer::client() const {
  return HttpClient("127.0.0.1", server_->port());
}

std::string TestServer::log() const {
  return log_text_();
}

void make_certificate(const std::filesystem::path& dir) {
  must_run(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
      "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " +
      shell_quote((dir / "key.pem").string()) + " -out " +
      shell_quote((dir / "cert.pem").string()) + " 2>&1");
}

ServeProcess::ServeProcess(const std::string& args, const std::filesystem::path& dir) : dir_(dir) {
  std::string cmd = "exec " + shell_quote(safehold_binary()) + " serve " + args + " >" +
                    shell_quote((dir / "serve.out").string()) + " 2>" +
                    shell_quote((dir / "serve.err").string()) + " </dev/null";
  const char* argv[] = {"bash", "-c", cmd.c_str(), nullptr};
  REQUIRE(posix_spawn(&pid_, "/bin/bash", nullptr, nullptr, const_cast<char**>(argv), environ) ==
          0);
}

ServeProcess::~ServeProcess() {
  if (pid_ > 0 && code_ < 0) {
    kill(pid_, SIGKILL);
    int st = 0;
    waitpid(pid_, &st, 0);
  }
}

std::string ServeProcess::first_line() {
  // Waits without a time assertion: a server that never prints and never exits hangs the test,
  // which ctest's timeout reports.
  for (;;) {
    auto out = read_text(dir_ / "serve.out");
    auto nl = out.find('\n');
    if (nl != std::string::npos) return out.substr(0, nl);
    int st = 0;
    if (code_ < 0 && waitpid(pid_, &st, WNOHANG) == pid_)
      code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (code_ >= 0) {
      out = read_text(dir_ / "serve.out");
      nl = out.find('\n');
      return nl == std::string::npos ? "" : out.substr(0, nl);
    }
    usleep(20000);
  }
}

int ServeProcess::stop() {
  if (code_ >= 0) return code_;
  kill(pid_, SIGTERM);
  return wait();
}

int ServeProcess::wait() {
  if (code_ >= 0) return code_;
  int st = 0;
  waitpid(pid_, &st, 0);
  code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return code_;
}

std::string ServeProcess::out() const {
  return read_text(dir_ / "serve.out");
}
std::string ServeProcess::err() const {
  return read_text(dir_ / "serve.err");
}

}  // namespace safehold::test
