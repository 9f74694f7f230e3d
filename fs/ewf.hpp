// Scoped owners for libewf handles and errors, shared by fs/ (reading) and acquire/ (writing).
// libewf 20140813 has no locks: one handle is used by one thread at a time.
#pragma once

#include <libewf.h>

#include <memory>
#include <string>
#include <vector>

namespace safehold::fs::ewf {

// Owns a libewf_error_t*; message() formats its backtrace in one line.
class Error {
 public:
  Error() = default;
  ~Error() { reset(); }
  Error(const Error&) = delete;
  Error& operator=(const Error&) = delete;
  libewf_error_t** out() {
    reset();
    return &err_;
  }
  std::string message() const;
  void reset();

 private:
  libewf_error_t* err_ = nullptr;
};

struct HandleDeleter {
  void operator()(libewf_handle_t* h) const;  // closes (if open) and frees; never throws
};
using Handle = std::unique_ptr<libewf_handle_t, HandleDeleter>;

// A fresh handle; throws std::runtime_error when libewf cannot make one.
Handle make_handle();

// The segment files of the EWF set whose first segment is `first`, as libewf_glob finds them
// (it stops at the first missing one). Throws EvidenceError naming `first`.
std::vector<std::string> glob_segments(const std::string& first);
// Opens the given segments for reading; throws EvidenceError naming `first` on failure.
Handle open_segments(const std::string& first, const std::vector<std::string>& segments);

// Opens every segment of the EWF set whose first segment is `first` for reading.
// Throws EvidenceError naming the file on failure.
Handle open_for_read(const std::string& first, std::vector<std::string>* segments = nullptr);

// A UTF-8 header value ("case_number", "examiner_name", ...) or "" when absent.
std::string header_value(libewf_handle_t* h, const char* identifier);

}  // namespace safehold::fs::ewf
