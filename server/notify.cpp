// Webhooks and email for alerts and links (server/notify.hpp).
#include "server/notify.hpp"

#include <fmt/core.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/wait.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <regex>

namespace safehold::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using nlohmann::json;

std::string signature(const std::string& secret, const std::string& body) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), md, &len);
  std::string out = "sha256=";
  for (unsigned i = 0; i < len; ++i) out += fmt::format("{:02x}", md[i]);
  return out;
}

std::string notification_body(const scheduler::Notification& n, const std::string& dashboard) {
  json j = json::parse(n.payload, nullptr, false);
  if (!j.is_object()) j = json::object();
  j["notification"] = n.id;
  if (!dashboard.empty()) {
    std::string anchor = j.contains("link")
                             ? fmt::format("#link-{}", j["link"].dump())
                             : fmt::format("#alert-{}", j.value("alert", json(0)).dump());
    j["dashboard"] = dashboard + "/" + anchor;
  }
  return j.dump();
}

namespace {

struct Url {
  bool tls = false;
  std::string host, port, target;
};

Url parse_url(const std::string& u) {
  static const std::regex re(R"(^(https?)://([^/:?#]+)(?::(\d{1,5}))?([^#]*)$)");
  std::smatch m;
  if (!std::regex_match(u, m, re))
    throw std::runtime_error("a webhook URL must be http://HOST[:PORT]/PATH or https://…");
  Url out;
  out.tls = m[1] == "https";
  out.host = m[2];
  out.port = m[3].matched ? std::string(m[3]) : (out.tls ? "443" : "80");
  out.target = m[4].length() ? std::string(m[4]) : "/";
  return out;
}

template <class Stream>
int exchange(Stream& s, const Url& u, const std::string& body, const std::string& sig,
             const std::string& event, int64_t id) {
  http::request<http::string_body> req{http::verb::post, u.target, 11};
  req.set(http::field::host, u.host);
  req.set(http::field::content_type, "application/json");
  req.set(http::field::user_agent, "safehold-notify");
  req.set("X-Safehold-Signature", sig);
  req.set("X-Safehold-Event", event);
  req.set("X-Safehold-Delivery", std::to_string(id));
  req.body() = body;
  req.prepare_payload();
  http::write(s, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  return static_cast<int>(res.result_int());
}

// POSTs the body; returns the HTTP status (throws on a connection failure).
int post(const std::string& url, const std::string& body, const std::string& sig,
         const std::string& event, int64_t id, int timeout) {
  Url u = parse_url(url);
  net::io_context ioc;
  net::ip::tcp::resolver resolver(ioc);
  auto endpoints = resolver.resolve(u.host, u.port);
  if (!u.tls) {
    beast::tcp_stream s(ioc);
    s.expires_after(std::chrono::seconds(timeout));
    s.connect(endpoints);
    int status = exchange(s, u, body, sig, event, id);
    beast::error_code ec;
    s.socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
    return status;
  }
  net::ssl::context ctx(net::ssl::context::tls_client);
  ctx.set_default_verify_paths();
  ctx.set_verify_mode(net::ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> s(ioc, ctx);
  if (!SSL_set_tlsext_host_name(s.native_handle(), u.host.c_str()))
    throw std::runtime_error("cannot set the TLS server name");
  s.set_verify_callback(net::ssl::host_name_verification(u.host));
  beast::get_lowest_layer(s).expires_after(std::chrono::seconds(timeout));
  beast::get_lowest_layer(s).connect(endpoints);
  s.handshake(net::ssl::stream_base::client);
  return exchange(s, u, body, sig, event, id);
}

// Sends one message through sendmail -t; true when it exited 0.
bool send_mail(const NotifyOptions& o, const scheduler::Notification& n, const std::string& body) {
  std::string cmd = "'" + o.sendmail + "' -t -oi";
  if (o.sendmail.find('\'') != std::string::npos) return false;
  FILE* p = ::popen(cmd.c_str(), "w");
  if (!p) return false;
  std::string to;
  for (auto& a : o.email_to) to += (to.empty() ? "" : ", ") + a;
  std::string msg = fmt::format(
      "To: {}\nSubject: Safehold {} {}\nContent-Type: application/json; charset=utf-8\n\n{}\n", to,
      n.event, n.id, body);
  bool ok = std::fwrite(msg.data(), 1, msg.size(), p) == msg.size();
  int st = ::pclose(p);
  return ok && st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

}  // namespace

void check(const NotifyOptions& o) {
  for (auto& w : o.webhooks) parse_url(w);
  for (auto& a : o.email_to)
    if (a.empty() || a.find_first_of("\r\n,") != std::string::npos)
      throw std::runtime_error("an email address must be one address on one line");
  if (!o.webhooks.empty() && o.secret.empty())
    throw std::runtime_error("webhooks need a secret to sign what is sent");
}

NotifyReport deliver_due(scheduler::Store& store, const NotifyOptions& o, const std::string& user) {
  check(o);  // a bad URL fails before anything is sent
  NotifyReport rep;
  for (auto& n : store.due_notifications(1000)) {
    const std::string body = notification_body(n, o.dashboard);
    const std::string sig = signature(o.secret, body);
    bool ok = true;
    std::string detail;
    for (size_t i = 0; i < o.webhooks.size(); ++i) {
      std::string answer;
      try {
        int status = post(o.webhooks[i], body, sig, n.event, n.id, o.timeout_seconds);
        ok &= status >= 200 && status < 300;
        answer = std::to_string(status);
      } catch (const std::exception& e) {
        ok = false;
        answer = "not delivered";
      }
      detail += fmt::format("{}webhook {}: {}", detail.empty() ? "" : "; ", i + 1, answer);
    }
    if (!o.email_to.empty()) {
      bool sent = send_mail(o, n, body);
      ok &= sent;
      detail += fmt::format("{}email: {}", detail.empty() ? "" : "; ", sent ? "sent" : "failed");
    }
    int64_t backoff =
        std::min<int64_t>(o.max_backoff_seconds, int64_t{30} << std::min(n.attempts, 20));
    store.notification_result(user, n.id, ok, detail.empty() ? "no targets" : detail,
                              store.now() + backoff);
    ok ? ++rep.delivered : ++rep.failed;
  }
  return rep;
}

}  // namespace safehold::server
