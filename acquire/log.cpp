#include "acquire/log.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "fs/evidence.hpp"

namespace safehold::acquire {

std::string utc_iso(long long t) {
  return fs::to_iso8601(fs::Timestamp{static_cast<int64_t>(t), 0});
}

std::string utc_now() {
  return utc_iso(static_cast<long long>(std::time(nullptr)));
}

void Log::open(const std::filesystem::path& path, bool append) {
  std::lock_guard<std::mutex> g(m_);
  FILE* f = std::fopen(path.c_str(), append ? "a" : "w");
  if (!f)
    throw std::runtime_error(path.string() + ": cannot create the log: " + std::strerror(errno));
  f_.reset(f);
}

void Log::line(const std::string& text) {
  std::lock_guard<std::mutex> g(m_);
  if (!f_) return;
  std::fprintf(f_.get(), "%s  %s\n", utc_now().c_str(), text.c_str());
  std::fflush(f_.get());
}

void Log::flush() {
  std::lock_guard<std::mutex> g(m_);
  if (f_) std::fflush(f_.get());
}

}  // namespace safehold::acquire
