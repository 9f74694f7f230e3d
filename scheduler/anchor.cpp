// The audit anchor file (anchor.hpp).
#include "scheduler/anchor.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "base/json.hpp"

namespace safehold::scheduler::detail {

void append_anchor(const std::string& file, const AuditAnchor& a) {
  nlohmann::json j = {{"seq", a.seq}, {"hash", a.hash}, {"at", utc_iso8601(a.at)}};
  std::string line = base::dump(j) + "\n";
  std::error_code ec;
  auto parent = std::filesystem::path(file).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0)
    throw std::runtime_error(
        fmt::format("cannot open the audit anchor file {}: {}", file, std::strerror(errno)));
  // One write(2) of one short line with O_APPEND: lines of concurrent writers never interleave.
  ssize_t n = ::write(fd, line.data(), line.size());
  int err = n < 0 ? errno : 0;
  bool synced = n == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  if (!synced && !err) err = errno ? errno : EIO;
  ::close(fd);
  if (!synced)
    throw std::runtime_error(
        fmt::format("cannot append to the audit anchor file {}: {}", file, std::strerror(err)));
}

std::vector<AuditAnchor> read_anchors(const std::string& file, std::vector<std::string>& problems) {
  std::vector<AuditAnchor> out;
  std::ifstream in(file, std::ios::binary);
  if (!in) return out;
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    bool ok = j.is_object() && j.contains("seq") && j["seq"].is_number_integer() &&
              j.contains("hash") && j["hash"].is_string() && j["seq"].get<int64_t>() > 0;
    if (!ok) {
      problems.push_back(fmt::format(
          "line {} of the audit anchor file {} is not an anchor: the file was edited", n, file));
      continue;
    }
    AuditAnchor a;
    a.seq = j["seq"].get<int64_t>();
    a.hash = j["hash"].get<std::string>();
    if (j.contains("at") && j["at"].is_string()) a.at_text = j["at"].get<std::string>();
    out.push_back(std::move(a));
  }
  return out;
}

void check_anchors(const std::vector<AuditAnchor>& anchors,
                   const std::map<int64_t, std::string>& hashes, int64_t last_seq,
                   std::vector<std::string>& problems, size_t max_problems) {
  size_t found = 0;
  // The highest anchor beyond the chain's end says most about a cut tail or a wipe: report it
  // once, whatever the number of anchors past the end.
  const AuditAnchor* beyond = nullptr;
  for (auto& a : anchors)
    if (a.seq > last_seq && (!beyond || a.seq > beyond->seq)) beyond = &a;
  if (beyond) {
    ++found;
    problems.push_back(fmt::format(
        "the chain ends at record {} but the anchor of {} records record {}: records were cut "
        "from the end{}",
        last_seq, beyond->at_text.empty() ? "an earlier time" : beyond->at_text, beyond->seq,
        last_seq == 0 ? " (the audit was wiped)" : ""));
  }
  size_t extra = 0;
  for (auto& a : anchors) {
    if (a.seq > last_seq) continue;
    auto it = hashes.find(a.seq);
    if (it != hashes.end() && it->second == a.hash) continue;
    if (found >= max_problems) {
      ++extra;
      continue;
    }
    ++found;
    problems.push_back(
        fmt::format("record {} does not match its anchor of {}: the chain was rewritten{}", a.seq,
                    a.at_text.empty() ? "an earlier time" : a.at_text,
                    it == hashes.end() ? " (the record is missing)" : " (its hash differs)"));
  }
  if (extra) problems.push_back(fmt::format("{} more anchor(s) do not match the chain", extra));
}

}  // namespace safehold::scheduler::detail
