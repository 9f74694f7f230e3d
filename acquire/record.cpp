#include "acquire/record.hpp"

#include <fmt/core.h>
#include <sys/utsname.h>

#include <fstream>

#include "base/json.hpp"

namespace safehold::acquire {

namespace fsys = std::filesystem;
using nlohmann::json;

void write_file_atomic(const fsys::path& p, const std::string& text) {
  fsys::path tmp = p;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) throw AcquireError(AcquireError::Kind::failed, tmp.string() + ": cannot write");
  }
  fsys::rename(tmp, p);
}

json bad_json(const std::vector<BadRange>& bad) {
  json a = json::array();
  for (auto& r : bad) a.push_back({{"sector", r.sector}, {"count", r.count}});
  return a;
}

std::string os_string() {
  struct utsname u {};
  if (uname(&u) != 0) return "Linux";
  return fmt::format("{} {} {}", u.sysname, u.release, u.machine);
}

void Record::write() {
  try {
    write_file_atomic(path_, base::dump(j_, 2) + "\n");
  } catch (const std::exception& e) {
    log_.line(std::string("Cannot write the record: ") + e.what());
  }
}

AcquireError Record::fail(AcquireError::Kind kind, const std::string& msg) {
  log_.line("FAILED: " + msg);
  j_["status"] = "failed";
  j_["error"] = msg;
  j_["finished"] = utc_now();
  write();
  return AcquireError(kind, msg);
}

void Record::complete(Result& res) {
  const auto& bad = res.read_errors;
  uint64_t bad_sectors = 0;
  for (auto& r : bad) bad_sectors += r.count;
  j_["status"] = bad.empty() ? "complete" : "complete_with_read_errors";
  j_["md5"] = res.digests.md5;
  j_["sha1"] = res.digests.sha1;
  j_["sha256"] = res.digests.sha256;
  j_["read_errors"] = bad_json(bad);
  j_["unreadable_sectors"] = bad_sectors;
  json segs = json::array();
  uint64_t stored = 0;
  std::error_code ec;
  for (auto& p : res.segments) {
    uint64_t sz = fsys::file_size(p, ec);
    stored += sz;
    segs.push_back({{"path", p.string()}, {"size", sz}});
  }
  j_["segments"] = segs;
  j_["image_bytes"] = stored;
  j_["finished"] = utc_now();
  res.record = j_;
  write();
  if (!res.digests.md5.empty()) log_.line("MD5:     " + res.digests.md5 + " (stored in the E01)");
  if (!res.digests.sha1.empty()) log_.line("SHA-1:   " + res.digests.sha1 + " (stored in the E01)");
  if (!res.digests.sha256.empty()) log_.line("SHA-256: " + res.digests.sha256 + " (in the record)");
  if (bad.empty()) {
    log_.line("No read errors");
  } else {
    std::string list;
    for (auto& r : bad) list += fmt::format("{}{}+{}", list.empty() ? "" : ", ", r.sector, r.count);
    log_.line(fmt::format(
        "Unreadable sectors (first+count), zero-filled and recorded in the E01: {} ({} sectors)",
        list, bad_sectors));
  }
  const uint64_t size = res.size;
  log_.line(fmt::format(
      "Finished: {} bytes into {} segment file(s), {} bytes stored ({:.1f}% of the source)", size,
      res.segments.size(), stored,
      size ? 100.0 * static_cast<double>(stored) / static_cast<double>(size) : 0.0));
}

}  // namespace safehold::acquire
