#include "worker/worker.hpp"

#include <fmt/core.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <ctime>
#include <fstream>
#include <mutex>
#include <thread>

#include "acquire/acquire.hpp"
#include "base/format.hpp"
#include "base/json.hpp"
#include "base/progress.hpp"
#include "base/version.hpp"
#include "carve/carver.hpp"
#include "fs/evidence.hpp"
#include "fs/json.hpp"
#include "report/html.hpp"
#include "worker/findings.hpp"

namespace safehold::worker {

namespace fsys = std::filesystem;
using nlohmann::json;
using scheduler::JobKind;

std::string safe_component(const std::string& id) {
  std::string out;
  bool changed = false;
  for (unsigned char c : id) {
    if (std::isalnum(c) || c == '.' || c == '_' || c == '-')
      out += static_cast<char>(c);
    else {
      out += '_';
      changed = true;
    }
  }
  if (out.empty() || out == "." || out == "..") {
    out = "_" + out;
    changed = true;
  }
  if (out.size() > 80) {
    out.resize(80);
    changed = true;
  }
  if (changed) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_Digest(id.data(), id.size(), md, &len, EVP_sha256(), nullptr);
    out += "-" + fmt::format("{:02x}{:02x}{:02x}{:02x}", md[0], md[1], md[2], md[3]);
  }
  return out;
}

fsys::path device_dir(const fsys::path& evidence_dir, const std::string& case_ref,
                      const std::string& exhibit) {
  return evidence_dir / safe_component(case_ref) / safe_component(exhibit);
}

namespace {

// Evidence of this kind is personal data about children: folders are the owner's only.
void make_private_dir(const fsys::path& p) {
  fsys::create_directories(p);
  ::chmod(p.c_str(), 0700);
  ::chmod(p.parent_path().c_str(), 0700);
}

// Keeps the lease alive from its own database connection while a job runs.
class Heartbeat {
 public:
  Heartbeat(const WorkerOptions& o, const std::string& exhibit, int64_t lease_seconds)
      : period_(std::max<int64_t>(1, lease_seconds / 3)) {
    thread_ = std::thread([this, &o, exhibit] {
      std::unique_ptr<scheduler::Store> store;
      std::unique_lock<std::mutex> l(m_);
      while (!done_) {
        cv_.wait_for(l, std::chrono::seconds(period_), [&] { return done_; });
        if (done_) break;
        try {
          if (!store) store = scheduler::Store::open(o.db_url);
          store->heartbeat(o.station, exhibit, o.station);
        } catch (const scheduler::QueueError& e) {
          // The lease is gone (another station took the job over): stop working on it.
          if (e.kind != scheduler::QueueError::Kind::storage) lost_ = true;
        } catch (const std::exception&) {
        }
      }
    });
  }
  ~Heartbeat() {
    {
      std::lock_guard<std::mutex> g(m_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  bool lost() const { return lost_; }

 private:
  int64_t period_;
  std::mutex m_;
  std::condition_variable cv_;
  bool done_ = false;
  std::atomic<bool> lost_{false};
  std::thread thread_;
};

// Progress events of one job: at least every 5 % or 30 s of a phase (base::ProgressLines decides
// when), from the acquiring or carving thread.
class ProgressLog {
 public:
  ProgressLog(const WorkerOptions& o, std::string job, std::string exhibit)
      : o_(o), job_(std::move(job)), exhibit_(std::move(exhibit)), lines_("") {}
  void update(const std::string& phase, uint64_t done, uint64_t total, bool final) {
    if (!o_.log) return;
    std::lock_guard<std::mutex> g(m_);
    if (lines_.update(done, total, final, "", phase).empty()) return;
    const double now = base::ProgressLines::steady_seconds();
    if (phase != phase_) phase_ = phase, start_ = now;
    const double secs = now - start_;
    const double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
    json e = {
        {"event", "progress"},
        {"job", job_},
        {"exhibit", exhibit_},
        {"phase", phase},
        {"percent", total ? static_cast<int>(100.0 * static_cast<double>(std::min(done, total)) /
                                             static_cast<double>(total))
                          : 0},
        {"done", done},
        {"total", total},
        {"rate", static_cast<uint64_t>(rate)}};
    if (rate > 0 && total > done)
      e["eta_seconds"] = static_cast<uint64_t>(static_cast<double>(total - done) / rate);
    o_.log(e);
  }

 private:
  const WorkerOptions& o_;
  std::string job_, exhibit_;
  base::ProgressLines lines_;
  std::mutex m_;
  std::string phase_;
  double start_ = base::ProgressLines::steady_seconds();
};

bool is_ewf(const fsys::path& p) {
  std::ifstream in(p, std::ios::binary);
  char sig[8] = {};
  in.read(sig, 8);
  return in.gcount() == 8 && std::string(sig, 8) == std::string("EVF\x09\x0d\x0a\xff\x00", 8);
}

json run_acquire(const WorkerOptions& o, const scheduler::Device& d, const fsys::path& dir,
                 const Heartbeat& hb, ProgressLog& progress) {
  const fsys::path base = dir / safe_component(d.exhibit);
  const fsys::path e01 = fsys::path(base.string() + ".E01");
  const fsys::path state = fsys::path(base.string() + ".acquire.state");
  const fsys::path record = fsys::path(base.string() + ".acquire.json");
  if (d.source.empty())
    throw std::runtime_error("the device has no source path recorded at intake");

  if (is_ewf(d.source)) {
    // Already imaged elsewhere: verify it where it is and carve from it.
    auto v = acquire::verify(d.source, o.threads);
    if (!v.ok) throw std::runtime_error("the E01 given as source does not verify");
    return {{"image", d.source},       {"md5", v.computed.md5},
            {"sha1", v.computed.sha1}, {"sha256", v.computed.sha256},
            {"size", v.size},          {"verified", true},
            {"acquired", false}};
  }
  acquire::Options a;
  a.source = d.source;
  a.out_base = base;
  a.info.case_number = d.case_ref;
  a.info.evidence_number = d.exhibit;
  // The person: the station's --examiner, else the device's assigned examiner; never the station.
  a.info.examiner = o.examiner.empty() ? d.examiner : o.examiner;
  a.info.description = "device " + d.exhibit + " (" + scheduler::to_string(d.device_class) + ")";
  a.info.notes = "acquired by safehold work on station " + o.station;
  a.threads = o.threads;
  a.on_progress = [&progress](const acquire::Progress& p) {
    progress.update("acquire", p.done, p.total, p.final);
  };
  std::error_code ec;
  if (fsys::exists(state, ec))
    a.resume = true;                                             // another attempt stopped midway
  else if (fsys::exists(e01, ec) && fsys::exists(record, ec)) {  // finished, not yet recorded
    auto v = acquire::verify(e01, o.threads);
    if (v.ok)
      return {{"image", e01.string()},   {"md5", v.computed.md5},
              {"sha1", v.computed.sha1}, {"sha256", v.computed.sha256},
              {"size", v.size},          {"verified", true},
              {"acquired", true}};
    a.force = true;
  } else if (fsys::exists(e01, ec))
    a.force = true;  // left before its first checkpoint
  a.should_stop = [&o, &hb] { return (o.stop && o.stop->load()) || hb.lost(); };
  auto r = acquire::acquire(a);
  auto v = acquire::verify(e01, o.threads);
  if (!v.ok)
    throw std::runtime_error("verification of the new image failed: " +
                             (v.problems.empty() ? std::string("mismatch") : v.problems.front()));
  json errs = json::array();
  for (auto& b : r.read_errors) errs.push_back({{"sector", b.sector}, {"count", b.count}});
  return {{"image", e01.string()},
          {"md5", r.digests.md5},
          {"sha1", r.digests.sha1},
          {"sha256", r.digests.sha256},
          {"size", r.size},
          {"verified", true},
          {"acquired", true},
          {"resumed", a.resume},
          {"read_errors", errs},
          {"record", record.string()},
          {"log", base.string() + ".acquire.log"}};
}

// The image the acquisition step produced (it may have been made by another station, into its
// own evidence directory): stored on the device by the acquire job's completion; for devices
// acquired before the queue stored it, recorded in the audit of that completion; else this
// station's layout.
fsys::path image_of(scheduler::Store& store, const scheduler::Device& d, const fsys::path& dir) {
  if (!d.image.empty()) {
    std::error_code ec;
    if (!fsys::exists(d.image, ec))
      throw std::runtime_error("the image made at acquisition (" + d.image +
                               ") is not reachable from this station");
    return d.image;
  }
  auto records = store.audit("device", d.exhibit);
  for (auto it = records.rbegin(); it != records.rend(); ++it) {
    if (it->action != "device.complete") continue;
    auto j = json::parse(it->reason, nullptr, false);
    if (j.is_object() && j.contains("image") && j["image"].is_string()) {
      fsys::path p = j["image"].get<std::string>();
      std::error_code ec;
      if (!fsys::exists(p, ec))
        throw std::runtime_error("the image made at acquisition (" + p.string() +
                                 ") is not reachable from this station");
      return p;
    }
  }
  if (!d.source.empty() && is_ewf(d.source)) return d.source;
  return fsys::path(dir / safe_component(d.exhibit)).string() + ".E01";
}

// The examiner's report of the device (report.html beside the carve's outputs), with the image's
// description. A report that cannot be written fails the job: nothing fails quietly.
fsys::path write_html_report(const fsys::path& dir, const fs::Evidence& ev) {
  report::HtmlOptions h;
  h.generated_at = base::iso8601(std::time(nullptr));
  h.tool_version = std::string("safehold ") + base::kVersion;
  try {
    return report::write_report(dir, h, fs::describe(ev));
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("the HTML report could not be written: ") + e.what());
  }
}

// The device's findings into the queue (docs/scheduler.md "Findings"): counts, the media index,
// links and the findings policy; what it changed goes into the job's result.
json record_findings(const WorkerOptions& o, scheduler::Store& store, const scheduler::Device& d,
                     const fsys::path& out, const LabSets& sets) {
  auto r = store.record_findings(o.station, d.exhibit, read_findings(out, sets));
  return {{"summary", r.summary},
          {"links", r.links.size()},
          {"alerts_raised", r.change.alerts_raised.size()},
          {"devices_reranked", r.change.devices_reranked}};
}

json run_carve(const WorkerOptions& o, scheduler::Store& store, const scheduler::Device& d,
               const fsys::path& dir, const LabSets& sets, ProgressLog& progress) {
  const fsys::path image = image_of(store, d, dir);
  const fsys::path out = dir / "carve";
  std::error_code ec;
  // A carve interrupted earlier is redone from the start: its outputs are derived, not evidence.
  fsys::remove_all(out, ec);
  make_private_dir(out);
  auto ev = fs::Evidence::open(image);
  carve::CarveOptions c;
  c.outdir = out;
  c.threads = o.threads;
  c.command_line = "safehold work --station " + o.station;
  c.progress = [&progress](const carve::Progress& p) {
    progress.update(p.phase, p.bytes_done, p.bytes_total, false);
  };
  if (!sets.sets.empty()) c.known = &sets.sets;
  auto s = carve::carve(*ev, c);
  if (!s.complete)
    // The outputs stay for the examiner; the job is not done: something was not read.
    throw std::runtime_error(
        image.string() + ": carved with read failures: " + std::to_string(s.unreadable.size()) +
        " unreadable image ranges, " + std::to_string(s.unreadable_files) +
        " files not read in full" +
        (s.unreadable.empty() ? "" : " (first: " + s.unreadable.front().message + ")") + "; see " +
        (out / "summary.json").string());
  const fsys::path html = write_html_report(dir, *ev);
  json counts = json::object();
  for (auto& [type, states] : s.counts) {
    uint64_t n = 0;
    for (auto& [st, k] : states) n += k;
    counts[type] = n;
  }
  return {{"image", image.string()},
          {"artefacts", s.artefacts},
          {"by_type", counts},
          {"messages", s.messages},
          {"recovered_messages", s.recovered_messages},
          {"errors", s.errors.size()},
          {"report", (out / "report.jsonl").string()},
          {"html_report", html.string()},
          {"messages_file", (out / "messages.jsonl").string()},
          {"summary", (out / "summary.json").string()},
          {"dfxml", (out / "dfxml.xml").string()},
          {"findings", record_findings(o, store, d, out, sets)}};
}

}  // namespace

JobOutcome run_job(const WorkerOptions& o, scheduler::Store& store, const scheduler::Claim& claim,
                   std::shared_ptr<const LabSets> sets) {
  const scheduler::Device& d = claim.device;
  JobOutcome out;
  out.exhibit = d.exhibit;
  out.case_ref = d.case_ref;
  out.kind = claim.kind;
  out.tier = d.tier;
  out.device_class = scheduler::to_string(d.device_class);
  out.dir = device_dir(o.evidence_dir, d.case_ref, d.exhibit);
  try {
    out.risk = scheduler::to_string(store.get_case(d.case_ref).risk);
  } catch (const std::exception&) {
  }
  const std::string job = scheduler::to_string(claim.kind);
  const auto log = [&](const char* event, json extra = json::object()) {
    if (!o.log) return;
    json e = {{"event", event}, {"job", job}, {"exhibit", d.exhibit}};
    e.update(extra);
    o.log(e);
  };
  try {
    make_private_dir(out.dir);
    Heartbeat hb(o, d.exhibit, store.policy().lease_seconds);
    log("started");
    ProgressLog progress(o, job, d.exhibit);
    if (claim.kind == JobKind::carve && !sets) sets = open_lab_sets(store.hashsets());
    out.result = claim.kind == JobKind::acquire ? run_acquire(o, d, out.dir, hb, progress)
                                                : run_carve(o, store, d, out.dir, *sets, progress);
    if (hb.lost()) throw std::runtime_error("the lease was lost while working");
    const std::string image =
        claim.kind == JobKind::acquire ? out.result.value("image", std::string()) : std::string();
    store.complete(o.station, d.exhibit, o.station, base::dump(out.result), image);
    out.ok = true;
    log("done");
  } catch (const std::exception& e) {
    out.error = e.what();
    if (o.stop && o.stop->load()) {
      // Asked to stop (SIGTERM, SIGINT): the job goes back to the queue without spending an
      // attempt; an acquisition resumes from its last checkpoint wherever it is claimed next.
      try {
        store.release(o.station, d.exhibit, o.station,
                      fmt::format("station {} stopped during the {} job", o.station,
                                  scheduler::to_string(claim.kind)));
        out.released = true;
        log("released");
        return out;
      } catch (const std::exception&) {
        // Not held any more (the lease passed to another station): nothing to hand back.
      }
    }
    log("failed", {{"error", out.error}});
    try {
      store.fail(o.station, d.exhibit, o.station, out.error);
    } catch (const std::exception&) {
      // The lease may have passed to another station already; it owns the job now.
    }
  }
  return out;
}

std::vector<JobOutcome> run(const WorkerOptions& o) {
  std::vector<JobOutcome> done;
  std::shared_ptr<const LabSets> lab;
  auto store = scheduler::Store::open(o.db_url);
  ::umask(077);
  fsys::create_directories(o.evidence_dir);
  ::chmod(o.evidence_dir.c_str(), 0700);
  while (!(o.stop && o.stop->load())) {
    if (o.max_jobs && static_cast<int64_t>(done.size()) >= o.max_jobs) break;
    scheduler::ClaimRequest req;
    req.station = o.station;
    req.classes = o.capabilities;
    auto claim = store->claim(o.station, req);
    if (!claim) {
      if (o.exit_when_empty) break;
      auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(o.poll_seconds);
      while (std::chrono::steady_clock::now() < until && !(o.stop && o.stop->load()))
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    std::shared_ptr<const LabSets> sets;
    if (claim->kind == JobKind::carve) {
      // The lab's sets, mapped once and kept while the queue lists the same ones.
      auto listed = store->hashsets();
      auto same = [](const scheduler::LabHashSet& a, const scheduler::LabHashSet& b) {
        return a.name == b.name && a.path == b.path && a.set_name == b.set_name &&
               a.category == b.category;
      };
      if (!lab ||
          !std::equal(listed.begin(), listed.end(), lab->listed.begin(), lab->listed.end(), same)) {
        try {
          lab = open_lab_sets(listed);
        } catch (const std::exception&) {
          lab.reset();  // run_job opens them again and fails the job with the reason
        }
      }
      sets = lab;
    }
    done.push_back(run_job(o, *store, *claim, sets));
  }
  return done;
}

}  // namespace safehold::worker
