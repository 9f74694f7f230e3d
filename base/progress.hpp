// Progress as lines for logs (stdout not a terminal): one line whenever the work reaches the next
// multiple of 5 % or 30 seconds have passed since the last line, and one at the end, each with
// the rate and the time left. The clock is injected so that tests never depend on speed.
#pragma once

#include <fmt/core.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "base/format.hpp"

namespace safehold::base {

class ProgressLines {
 public:
  using Clock = std::function<double()>;  // seconds, monotonic
  static double steady_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  explicit ProgressLines(std::string what, Clock clock = steady_seconds)
      : what_(std::move(what)), clock_(std::move(clock)), start_(clock_()), last_(start_) {}

  // The line to print for this report ("" when none is due). `extra` is appended ("artefacts 12").
  // A new `phase` restarts the percentage, the rate and the time left.
  std::string update(uint64_t done, uint64_t total, bool final = false,
                     const std::string& extra = "", const std::string& phase = "") {
    const double now = clock_();
    if (phase != phase_) {
      phase_ = phase;
      next_pct_ = 5;
      start_ = now;
    }
    const int pct = total ? static_cast<int>(100.0 * static_cast<double>(std::min(done, total)) /
                                             static_cast<double>(total))
                          : (final ? 100 : 0);
    if (!final && pct < next_pct_ && now - last_ < 30) return "";
    while (next_pct_ <= pct) next_pct_ += 5;
    last_ = now;
    const double secs = now - start_;
    const double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
    std::string eta = "-";
    if (rate > 0 && total > done) eta = clock_text(static_cast<double>(total - done) / rate);
    if (final) eta = "0:00:00";
    return fmt::format(
        "{}{}: {}% ({} of {}) {}/s ETA {}{}", what_, phase_.empty() ? "" : " " + phase_, pct,
        human_bytes(static_cast<double>(done)), human_bytes(static_cast<double>(total)),
        human_bytes(rate), eta, extra.empty() ? "" : " " + extra);
  }

  static std::string clock_text(double seconds) {
    auto s = static_cast<int64_t>(seconds + 0.5);
    return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
  }

 private:
  std::string what_;
  Clock clock_;
  double start_, last_;
  int next_pct_ = 5;
  std::string phase_;
};

}  // namespace safehold::base
