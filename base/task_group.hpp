// A group of threads whose first failure comes back to the caller as a value (DuckDB's
// ErrorData idea): wait() joins every task and returns the first error's message, if any.
#pragma once

#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace safehold::base {

class TaskGroup {
 public:
  TaskGroup() = default;
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;
  ~TaskGroup() { (void)wait(); }

  // Runs fn on a new thread; an exception it throws is recorded (the first one wins).
  void run(std::function<void()> fn) {
    threads_.emplace_back([this, fn = std::move(fn)] {
      try {
        fn();
      } catch (const std::exception& e) {
        fail(e.what());
      } catch (...) {
        fail("unknown error");
      }
    });
  }

  // True once any task failed: long tasks may poll it to stop early.
  bool failed() const {
    std::lock_guard<std::mutex> lk(mu_);
    return first_error_.has_value();
  }

  // Joins every task; the first error's message, or nullopt when all succeeded.
  std::optional<std::string> wait() {
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    threads_.clear();
    std::lock_guard<std::mutex> lk(mu_);
    return first_error_;
  }

 private:
  void fail(std::string msg) {
    std::lock_guard<std::mutex> lk(mu_);
    if (!first_error_) first_error_ = std::move(msg);
  }
  mutable std::mutex mu_;
  std::optional<std::string> first_error_;
  std::vector<std::thread> threads_;
};

}  // namespace safehold::base
