// `safehold acquire` and `safehold verify`: glue between the command line and acquire/.
#include <fmt/core.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "acquire/acquire.hpp"
#include "base/format.hpp"
#include "base/json.hpp"
#include "base/progress.hpp"
#include "fs/error.hpp"
#include "fs/evidence.hpp"
#include "fs/json.hpp"
#include "tools/command.hpp"

namespace safehold::tools {
namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) {
  g_stop = true;
}

std::string clock(double s) {
  auto t = static_cast<long long>(s);
  return fmt::format("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60);
}

// "2G", "650MiB", "1073741824" -> bytes; 0 when it does not parse.
uint64_t parse_size(const std::string& s) {
  size_t pos = 0;
  double v = 0;
  try {
    v = std::stod(s, &pos);
  } catch (...) {
    return 0;
  }
  std::string unit = s.substr(pos);
  for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  double mult = 1;
  if (unit == "" || unit == "B")
    mult = 1;
  else if (unit == "K" || unit == "KB" || unit == "KIB")
    mult = 1024.0;
  else if (unit == "M" || unit == "MB" || unit == "MIB")
    mult = 1024.0 * 1024;
  else if (unit == "G" || unit == "GB" || unit == "GIB")
    mult = 1024.0 * 1024 * 1024;
  else if (unit == "T" || unit == "TB" || unit == "TIB")
    mult = 1024.0 * 1024 * 1024 * 1024;
  else
    return 0;
  return v > 0 ? static_cast<uint64_t>(v * mult) : 0;
}

struct AcquireArgs {
  std::string source, out, case_number, evidence, examiner, description, notes;
  std::string compression = "fast", hash = "md5,sha1,sha256", segment_size = "2GiB",
              direct = "auto";
  bool verify = false, resume = false, force = false, json = false;
  unsigned retries = 2, threads = 0, sectors_per_chunk = 0;
};

void print_verify(const acquire::VerifyResult& v, const std::string& image) {
  fmt::print("Image:    {}\nSize:     {} bytes\n", base::printable(image), v.size);
  auto line = [](const char* name, const std::string& computed, const std::string& stored,
                 const char* where) {
    if (computed.empty()) return;
    fmt::print("{:<8}  {}  {}\n", name, computed,
               stored.empty()       ? std::string("(nothing stored to compare)")
               : stored == computed ? fmt::format("matches {}", where)
                                    : fmt::format("MISMATCH: {} has {}", where, stored));
  };
  line("MD5:", v.computed.md5, v.stored.md5, "the E01");
  line("SHA-1:", v.computed.sha1, v.stored.sha1, "the E01");
  line("SHA-256:", v.computed.sha256, v.stored.sha256, "the record");
  for (auto& p : v.problems) fmt::print("Problem:  {}\n", base::printable(p));
  fmt::print("Result:   {}\n", v.ok ? "verified" : "VERIFICATION FAILED");
}

int run_acquire(const AcquireArgs& a) {
  acquire::Options o;
  o.source = a.source;
  o.out_base = a.out;
  o.info = {a.case_number, a.evidence, a.examiner, a.description, a.notes};
  if (a.compression == "none")
    o.compression = acquire::Compression::none;
  else if (a.compression == "fast")
    o.compression = acquire::Compression::fast;
  else if (a.compression == "best")
    o.compression = acquire::Compression::best;
  else
    fail(Exit::usage, "--compression must be none, fast or best, not " + a.compression);
  o.hashes = 0;
  {
    std::string h = a.hash + ",";
    size_t p = 0;
    while ((p = h.find(',')) != std::string::npos) {
      std::string t = h.substr(0, p);
      h.erase(0, p + 1);
      if (t == "md5")
        o.hashes |= 1;
      else if (t == "sha1")
        o.hashes |= 2;
      else if (t == "sha256")
        o.hashes |= 4;
      else if (!t.empty())
        fail(Exit::usage, "--hash takes md5, sha1 and sha256, not " + t);
    }
    if (!(o.hashes & 1))
      fail(Exit::usage, "--hash must include md5 (the E01 stores it and verification needs it)");
  }
  o.segment_size = parse_size(a.segment_size);
  if (o.segment_size < (1u << 20))
    fail(Exit::usage, "--segment-size must be a size of at least 1 MiB (e.g. 2GiB, 650M), not " +
                          a.segment_size);
  if (a.sectors_per_chunk && (a.sectors_per_chunk & (a.sectors_per_chunk - 1)))
    fail(Exit::usage, "--sectors-per-chunk must be a power of two");
  o.resume = a.resume;
  o.force = a.force;
  o.retries = a.retries;
  if (a.direct == "auto")
    o.direct_io = acquire::DirectIo::automatic;
  else if (a.direct == "on")
    o.direct_io = acquire::DirectIo::on;
  else if (a.direct == "off")
    o.direct_io = acquire::DirectIo::off;
  else
    fail(Exit::usage, "--direct takes auto, on or off, not " + a.direct);
  o.threads = a.threads;
  o.sectors_per_chunk = a.sectors_per_chunk;

  const bool tty = isatty(STDERR_FILENO) && !a.json;
  // stdout to a log or pipe: a line at least every 5 % or 30 s (as ewfacquire's "Status: at …").
  const bool lines = !a.json && !isatty(STDOUT_FILENO);
  base::ProgressLines progress_lines("acquire");
  o.on_progress = [&](const acquire::Progress& p) {
    if (lines) {
      auto line = progress_lines.update(p.done, p.total, p.final,
                                        fmt::format("bad sectors {}", p.bad_sectors));
      if (!line.empty()) std::cout << line << std::endl;
    }
    if (a.json) {
      nlohmann::json ev{{"event", "progress"},  {"done", p.done},
                        {"total", p.total},     {"rate", p.rate},
                        {"eta", p.eta_seconds}, {"bad_sectors", p.bad_sectors}};
      std::cout << ev.dump() << std::endl;
    } else if (tty) {
      double frac = p.total ? static_cast<double>(p.done) / static_cast<double>(p.total) : 1;
      int w = 30, fill = static_cast<int>(frac * w);
      std::fprintf(stderr, "\r[%s%s] %5.1f%%  %s / %s  %s/s  ETA %s  bad sectors %llu   ",
                   std::string(fill, '#').c_str(), std::string(w - fill, '.').c_str(), frac * 100,
                   base::human_bytes(static_cast<double>(p.done)).c_str(),
                   base::human_bytes(static_cast<double>(p.total)).c_str(),
                   base::human_bytes(p.rate).c_str(), clock(p.eta_seconds).c_str(),
                   static_cast<unsigned long long>(p.bad_sectors));
      if (p.final) std::fprintf(stderr, "\n");
    }
  };
  o.should_stop = [] { return g_stop.load(); };
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  acquire::Result r;
  try {
    r = acquire::acquire(o);
  } catch (const acquire::AcquireError& e) {
    if (tty) std::fprintf(stderr, "\n");
    if (a.json)
      std::cout << nlohmann::json{{"event", "error"}, {"message", e.what()}}.dump() << std::endl;
    fail(e.kind() == acquire::AcquireError::Kind::usage ? Exit::usage : Exit::failed, e.what());
  }
  int code = r.status == acquire::Status::complete ? 0 : static_cast<int>(Exit::partial);
  if (a.json) {
    std::cout << base::dump(nlohmann::json{{"event", "done"}, {"record", r.record}}) << std::endl;
  } else {
    fmt::print("Acquired {} bytes into {}\n", r.size,
               base::printable(r.segments.empty() ? a.out : r.segments.front().string()));
    if (!r.digests.md5.empty()) fmt::print("MD5:      {}\n", r.digests.md5);
    if (!r.digests.sha1.empty()) fmt::print("SHA-1:    {}\n", r.digests.sha1);
    if (!r.digests.sha256.empty()) fmt::print("SHA-256:  {}\n", r.digests.sha256);
    if (!r.read_errors.empty()) {
      uint64_t n = 0;
      for (auto& b : r.read_errors) n += b.count;
      fmt::print("Unreadable sectors: {} in {} range(s), zero-filled (see the log)\n", n,
                 r.read_errors.size());
    }
  }
  if (a.verify && !r.segments.empty()) {
    try {
      auto v = acquire::verify(r.segments.front(), a.threads);
      if (a.json)
        std::cout << base::dump(nlohmann::json{{"event", "verify"}, {"result", v.to_json()}})
                  << std::endl;
      else
        print_verify(v, r.segments.front().string());
      if (!v.ok) code = static_cast<int>(Exit::mismatch);
    } catch (const fs::EvidenceError& e) {
      fail(Exit::mismatch, std::string("verification could not read the image: ") + e.what());
    }
  }
  return code;
}

void register_acquire(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("acquire", "Image a block device or image file into E01, write-blocked");
  auto a = std::make_shared<AcquireArgs>();
  cmd->add_option("SOURCE", a->source, "Block device (whole disk or partition) or image file")
      ->required();
  cmd->add_option("-o,--output", a->out,
                  "Output base: OUTBASE.E01 (.E02...), OUTBASE.acquire.json/.log")
      ->required();
  cmd->add_option("--case", a->case_number, "Case number")->required();
  cmd->add_option("--evidence", a->evidence, "Evidence number")->required();
  cmd->add_option("--examiner", a->examiner, "Examiner name")->required();
  cmd->add_option("--description", a->description, "Description of the evidence");
  cmd->add_option("--notes", a->notes, "Notes");
  cmd->add_option("--compression", a->compression, "none, fast (default) or best");
  cmd->add_option("--hash", a->hash,
                  "Digests, comma-separated (default md5,sha1,sha256; md5 is required)");
  cmd->add_option("--segment-size", a->segment_size, "Maximum segment file size (default 2GiB)");
  cmd->add_option("--retries", a->retries,
                  "Extra attempts of a failed read before narrowing down (default 2)");
  cmd->add_option("--threads", a->threads, "Compression threads (default: all cores)");
  cmd->add_option(
      "--direct", a->direct,
      "Read with O_DIRECT: auto (default: block devices), on (image files too), off (page cache)");
  cmd->add_option("--sectors-per-chunk", a->sectors_per_chunk,
                  "EWF chunk size in sectors (default 64, larger for huge sources)");
  cmd->add_flag("--verify", a->verify, "Verify the image right after acquisition");
  cmd->add_flag("--resume", a->resume, "Continue an interrupted acquisition of the same source");
  cmd->add_flag("--force", a->force, "Overwrite an existing image");
  cmd->add_flag("--json", a->json, "Progress events and the result as JSON lines on stdout");
  cmd->callback([a] {
    int code = run_acquire(*a);
    if (code != 0) throw CommandExit{code};
  });

  auto* ver = app.add_subcommand(
      "verify", "Re-read an E01 and check its MD5/SHA-1 (and the recorded SHA-256)");
  auto image = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  ver->add_option("IMAGE", *image, "First segment of the image (OUT.E01)")->required();
  ver->add_flag("--json", *json, "Write one JSON object");
  ver->callback([image, json] {
    acquire::VerifyResult v;
    try {
      v = acquire::verify(*image);
    } catch (const fs::EvidenceError& e) {
      fail(Exit::usage, e.what());
    }
    if (*json)
      std::cout << base::dump(v.to_json(), 2) << "\n";
    else
      print_verify(v, *image);
    if (!v.ok) throw CommandExit{static_cast<int>(Exit::mismatch)};
  });
}

Registrar reg(20, register_acquire);

}  // namespace
}  // namespace safehold::tools
