#include "worker/worker.hpp"

#include <fmt/core.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>

#include "acquire/acquire.hpp"
#include "base/json.hpp"
#include "carve/carver.hpp"
#include "fs/evidence.hpp"
#include "fs/json.hpp"

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

bool is_ewf(const fsys::path& p) {
  std::ifstream in(p, std::ios::binary);
  char sig[8] = {};
  in.read(sig, 8);
  return in.gcount() == 8 && std::string(sig, 8) == std::string("EVF\x09\x0d\x0a\xff\x00", 8);
}

json run_acquire(const WorkerOptions& o, const scheduler::Device& d, const fsys::path& dir,
                 const Heartbeat& hb) {
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
  a.info.examiner = o.station;
  a.info.description = "device " + d.exhibit + " (" + scheduler::to_string(d.device_class) + ")";
  a.info.notes = "acquired by safehold work on station " + o.station;
  a.threads = o.threads;
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

json run_carve(const WorkerOptions& o, scheduler::Store& store, const scheduler::Device& d,
               const fsys::path& dir) {
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
  auto s = carve::carve(*ev, c);
  if (!s.complete)
    // The outputs stay for the examiner; the job is not done: something was not read.
    throw std::runtime_error(
        image.string() + ": carved with read failures: " + std::to_string(s.unreadable.size()) +
        " unreadable image ranges, " + std::to_string(s.unreadable_files) +
        " files not read in full" +
        (s.unreadable.empty() ? "" : " (first: " + s.unreadable.front().message + ")") + "; see " +
        (out / "summary.json").string());
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
          {"messages_file", (out / "messages.jsonl").string()},
          {"summary", (out / "summary.json").string()},
          {"dfxml", (out / "dfxml.xml").string()}};
}

}  // namespace

JobOutcome run_job(const WorkerOptions& o, scheduler::Store& store, const scheduler::Claim& claim) {
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
  const auto log = [&](const std::string& s) {
    if (o.log) o.log(s);
  };
  try {
    make_private_dir(out.dir);
    Heartbeat hb(o, d.exhibit, store.policy().lease_seconds);
    log(fmt::format("{} {}: started", scheduler::to_string(claim.kind), d.exhibit));
    out.result = claim.kind == JobKind::acquire ? run_acquire(o, d, out.dir, hb)
                                                : run_carve(o, store, d, out.dir);
    if (hb.lost()) throw std::runtime_error("the lease was lost while working");
    const std::string image =
        claim.kind == JobKind::acquire ? out.result.value("image", std::string()) : std::string();
    store.complete(o.station, d.exhibit, o.station, base::dump(out.result), image);
    out.ok = true;
    log(fmt::format("{} {}: done", scheduler::to_string(claim.kind), d.exhibit));
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
        log(fmt::format("{} {}: stopped, handed back to the queue",
                        scheduler::to_string(claim.kind), d.exhibit));
        return out;
      } catch (const std::exception&) {
        // Not held any more (the lease passed to another station): nothing to hand back.
      }
    }
    log(fmt::format("{} {}: failed: {}", scheduler::to_string(claim.kind), d.exhibit, out.error));
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
    done.push_back(run_job(o, *store, *claim));
  }
  return done;
}

}  // namespace safehold::worker
