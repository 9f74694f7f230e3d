// The acquisition record (OUT.acquire.json): what was imaged, how, by whom, the result. Written
// when the acquisition ends, and also when it fails (status "failed" and the reason).
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "acquire/acquire.hpp"
#include "acquire/log.hpp"

namespace safehold::acquire {

class Record {
 public:
  Record(std::filesystem::path path, Log& log) : path_(std::move(path)), log_(log) {}
  nlohmann::json& fields() { return j_; }
  // Writes the record atomically; a failure is logged (the acquisition's result stands).
  void write();
  // Logs and records the failure, and returns the error to throw.
  AcquireError fail(AcquireError::Kind kind, const std::string& msg);
  // Fills in the result (digests, read errors, segments), writes the record and logs the summary.
  void complete(Result& res);

 private:
  std::filesystem::path path_;
  Log& log_;
  nlohmann::json j_;
};

// Writes `text` to p through p.tmp and a rename. Throws AcquireError(failed).
void write_file_atomic(const std::filesystem::path& p, const std::string& text);
nlohmann::json bad_json(const std::vector<BadRange>& bad);
std::string os_string();  // "Linux 6.1.0 x86_64"

}  // namespace safehold::acquire
