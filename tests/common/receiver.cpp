#include "tests/common/receiver.hpp"

#include <chrono>
#include <thread>

#include "tests/common/support.hpp"

namespace safehold::test {

namespace {
const char* kReceiver = R"PY(
import http.server, json, os, sys
d = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers['Content-Length'])).decode()
        n = len([f for f in os.listdir(d) if f.startswith('req-')])
        with open(os.path.join(d, 'tmp'), 'w') as f:
            json.dump({'path': self.path, 'headers': dict(self.headers), 'body': body}, f)
        os.rename(os.path.join(d, 'tmp'), os.path.join(d, 'req-%d.json' % n))
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(('127.0.0.1', 0), H)
with open(os.path.join(d, 'port.tmp'), 'w') as f: f.write(str(s.server_address[1]))
os.rename(os.path.join(d, 'port.tmp'), os.path.join(d, 'port'))
s.serve_forever()
)PY";
}  // namespace

WebhookReceiver::WebhookReceiver(const std::filesystem::path& dir) : dir_(dir) {
  std::filesystem::create_directories(dir_);
  const auto script = dir_.parent_path() / (dir_.filename().string() + "-receiver.py");
  write_text(script, kReceiver);
  pid_ = must_run("python3 " + shell_quote(script.string()) + " " + shell_quote(dir_.string()) +
                  " >/dev/null 2>&1 & echo $!");
  pid_.erase(pid_.find_last_not_of("\n") + 1);
  // Wait until it listens (it writes its port once bound).
  must_run("for i in $(seq 1 600); do [ -e " + shell_quote((dir_ / "port").string()) +
           " ] && exit 0; sleep 0.1; done; exit 1");
  port_ = read_text(dir_ / "port");
}

WebhookReceiver::~WebhookReceiver() {
  run("kill " + pid_);
}

std::vector<nlohmann::json> WebhookReceiver::requests() const {
  std::vector<nlohmann::json> out;
  for (int i = 0;; ++i) {
    auto f = dir_ / ("req-" + std::to_string(i) + ".json");
    if (!std::filesystem::exists(f)) break;
    out.push_back(nlohmann::json::parse(read_text(f)));
  }
  return out;
}

std::vector<nlohmann::json> WebhookReceiver::wait_for(size_t n, int seconds) const {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  auto got = requests();
  while (got.size() < n && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    got = requests();
  }
  return got;
}

}  // namespace safehold::test
