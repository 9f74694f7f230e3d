// The acquisition log: one timestamped line per step, readable by a person and appended to
// OUT.acquire.log as it happens (so an interrupted run still has its log).
#pragma once

#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

namespace safehold::acquire {

class Log {
 public:
  Log() = default;
  // Opens (appending) the log file; throws std::runtime_error when it cannot be created.
  // append: add to the log of an earlier attempt at the same image (a resumed acquisition);
  // otherwise the file starts empty, so a log holds the attempts of its image only.
  void open(const std::filesystem::path& path, bool append = true);
  void line(const std::string& text);  // thread-safe; evidence strings must be printable() first
  void flush();

 private:
  struct Closer {
    void operator()(FILE* f) const {
      if (f) std::fclose(f);
    }
  };
  std::unique_ptr<FILE, Closer> f_;
  std::mutex m_;
};

// "2026-11-29T23:03:08Z" for now (or for a time_t).
std::string utc_now();
std::string utc_iso(long long t);

}  // namespace safehold::acquire
