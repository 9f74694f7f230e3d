// A local webhook receiver for tests (python3's http.server): each POST's path, headers and body
// go to DIR/req-N.json, and it answers 200.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace safehold::test {

class WebhookReceiver {
 public:
  explicit WebhookReceiver(const std::filesystem::path& dir);  // listens once constructed
  ~WebhookReceiver();
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;
  std::string port() const { return port_; }
  std::string url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + port_ + path;
  }
  // What it received so far, in order: {"path", "headers", "body"}.
  std::vector<nlohmann::json> requests() const;
  // Waits until at least n requests arrived (up to `seconds`, then returns what there is).
  std::vector<nlohmann::json> wait_for(size_t n, int seconds = 120) const;

 private:
  std::filesystem::path dir_;
  std::string pid_, port_;
};

}  // namespace safehold::test
