#include "fs/ewf.hpp"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "fs/error.hpp"

namespace safehold::fs::ewf {

std::string Error::message() const {
  if (!err_) return "unknown libewf error";
  std::vector<char> buf(4096);
  if (libewf_error_backtrace_sprint(err_, buf.data(), buf.size()) < 0) return "libewf error";
  std::string s(buf.data());
  std::replace(s.begin(), s.end(), '\n', ' ');
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

void Error::reset() {
  if (err_) libewf_error_free(&err_);
  err_ = nullptr;
}

void HandleDeleter::operator()(libewf_handle_t* h) const {
  if (!h) return;
  libewf_handle_close(h, nullptr);
  libewf_handle_free(&h, nullptr);
}

Handle make_handle() {
  libewf_handle_t* raw = nullptr;
  Error err;
  if (libewf_handle_initialize(&raw, err.out()) != 1)
    throw std::runtime_error("cannot create a libewf handle: " + err.message());
  return Handle(raw);
}

std::vector<std::string> glob_segments(const std::string& first) {
  Error err;
  char** names = nullptr;
  int count = 0;
  if (libewf_glob(first.c_str(), first.size(), LIBEWF_FORMAT_UNKNOWN, &names, &count, err.out()) !=
      1)
    throw EvidenceError(first + ": cannot find the EWF segments: " + err.message());
  std::vector<std::string> out;
  for (int i = 0; i < count; ++i) out.emplace_back(names[i]);
  if (names) libewf_glob_free(names, count, nullptr);
  return out;
}

Handle open_segments(const std::string& first, const std::vector<std::string>& segments) {
  std::vector<char*> names;
  for (auto& s : segments) names.push_back(const_cast<char*>(s.c_str()));
  Handle h = make_handle();
  Error err;
  if (libewf_handle_open(h.get(), names.data(), static_cast<int>(names.size()), LIBEWF_OPEN_READ,
                         err.out()) != 1)
    throw EvidenceError(first + ": not a readable EWF image: " + err.message());
  return h;
}

Handle open_for_read(const std::string& first, std::vector<std::string>* segments) {
  std::vector<std::string> segs = glob_segments(first);
  Handle h = open_segments(first, segs);
  if (segments) *segments = std::move(segs);
  return h;
}

std::string header_value(libewf_handle_t* h, const char* identifier) {
  Error err;
  size_t size = 0;
  auto id = reinterpret_cast<const uint8_t*>(identifier);
  size_t id_len = std::char_traits<char>::length(identifier);
  if (libewf_handle_get_utf8_header_value_size(h, id, id_len, &size, err.out()) != 1 || size == 0)
    return "";
  std::vector<uint8_t> buf(size + 1, 0);
  if (libewf_handle_get_utf8_header_value(h, id, id_len, buf.data(), buf.size(), err.out()) != 1)
    return "";
  return std::string(reinterpret_cast<char*>(buf.data()));
}

}  // namespace safehold::fs::ewf
