// scheduler/: Safehold's examination queue. Cases, suspects and their household facts, devices with
// a state machine, the safeguarding-first priority policy (docs/DESIGN.md "Priority policy"),
// alerts for children's social care, leases for workers, an append-only hash-chained audit
// anchored outside the database (docs/AUDIT.md) and API tokens.
//
// Everything here is a library call so that `safehold queue`, `safehold serve` and `safehold work`
// are glue. One Store is one database connection and is NOT thread-safe: open one per thread (or
// guard it). Every mutating call runs in one transaction (facts, re-rank, alerts and audit records
// together) and takes the acting user's name, which goes into the audit record.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace safehold::scheduler {

// Order of each enum is its priority order (first = most urgent).
enum class Risk { very_high, high, medium, low, none };
enum class Answer { no, yes, unknown };
enum class DeviceClass { phone, tablet, computer, removable, other };
enum class DeviceState {
  intake,
  queued,
  acquiring,
  acquired,
  carving,
  review,
  done,
  failed,
  withdrawn,
  needs_source  // registered without a source: not claimable until one is set (set_device_source)
};
enum class JobKind { acquire, carve };  // queued -> acquiring -> acquired -> carving -> review
// grader: grades media of cases (docs/grading.md) and nothing else; managers grade too.
enum class Role { manager, examiner, auditor, grader };
// The lab's grading scale: UK (A, B, C, not indecent, unsure) or Project VIC (0-4).
enum class GradingProfile { uk, vic };

// Canonical names: "very-high", "high", …, "none"; "yes"/"no"/"unknown"; "phone"…; "intake"….
// Seconds since the Unix epoch as UTC ISO 8601 ("2026-11-30T04:35:00Z"); "" for 0 or earlier.
std::string utc_iso8601(int64_t t);
std::string to_string(Risk r);
std::string to_string(Answer a);
std::string to_string(DeviceClass c);
std::string to_string(DeviceState s);
std::string to_string(JobKind k);
std::string to_string(Role r);
// Parsers accept the canonical name (and '_' for '-'; "not-assessed" for none); nullopt if unknown.
std::optional<Risk> parse_risk(std::string_view s);
std::optional<Answer> parse_answer(std::string_view s);
std::optional<DeviceClass> parse_class(std::string_view s);
std::optional<DeviceState> parse_state(std::string_view s);
// The manual transitions set_device_state() allows (docs/scheduler.md "Device states").
bool allowed_manual_transition(DeviceState from, DeviceState to);
std::optional<JobKind> parse_job_kind(std::string_view s);
std::optional<Role> parse_role(std::string_view s);
std::string to_string(GradingProfile p);                                  // "uk", "vic"
std::optional<GradingProfile> parse_grading_profile(std::string_view s);  // "uk", "vic"

// Thrown by Store operations. kind maps onto HTTP statuses in `safehold serve`
// (not_found 404, invalid 400, conflict 409, storage 500). what() is one sentence, no secrets.
// A storage error with retry_after > 0 is the database being busy (another connection held its
// write lock for longer than the store waits): `safehold serve` answers 503 with Retry-After.
class QueueError : public std::runtime_error {
 public:
  enum class Kind { not_found, invalid, conflict, storage };
  QueueError(Kind k, const std::string& msg, int retry_after_seconds = 0)
      : std::runtime_error(msg), kind(k), retry_after(retry_after_seconds) {}
  Kind kind;
  int retry_after = 0;
};

// The longest lease a claim or the policy may ask for (one day), as the API has always capped it.
inline constexpr int64_t kMaxLeaseSeconds = 86400;

// Tunables, stored in the database (table `config`) so every process agrees.
struct Policy {
  // Deadline from intake by risk band, in days: very high, high, medium, low, not assessed.
  std::array<int64_t, 5> deadline_days{1, 7, 14, 30, 30};
  int64_t alert_hours = 24;          // referral to children's social care due after this
  int64_t aging_days_per_level = 7;  // outside tier 0: each this-many days waiting = one level up
  int64_t lease_seconds = 300;       // a claim's lease; heartbeats extend it by as much
  int max_attempts = 3;              // claims of one job before the device is `failed`
  // A failed job waits before its next claim: backoff_seconds * 2^(attempts - 1), at most
  // backoff_max_seconds.
  int64_t backoff_seconds = 60;
  int64_t backoff_max_seconds = 3600;
  // A station whose jobs fail this many times in a row stops claiming (station alert) until a
  // manager resumes it.
  int station_failure_limit = 5;
  // The findings policy (docs/DESIGN.md "Findings"): known indecent material on a device raises
  // its case to at least this band; camera-original unknown media on a device of a suspect at
  // risk raises a first-generation alert due after firstgen_alert_hours; indecent material with
  // household facts unknown raises a task due after task_hours; a link between cases raises an
  // alert on both, due after link_alert_hours.
  Risk indecent_min_risk = Risk::high;
  int64_t firstgen_alert_hours = 4;
  int64_t task_hours = 72;
  int64_t link_alert_hours = 72;
  // Grading (docs/grading.md): the scale, and the independent votes an image needs before its
  // category is decided (UK: three analysts). The profile cannot change once votes exist.
  GradingProfile grading_profile = GradingProfile::uk;
  int votes_needed = 3;
};
// The limits set_policy() enforces (and the CLI and API name): inclusive ranges.
struct PolicyLimit {
  const char* name;  // as in policy_json and the CLI option without "--"
  int64_t lo, hi;
};
// deadline_days, alert_hours, aging_days_per_level, lease_seconds, max_attempts,
// backoff_seconds, backoff_max_seconds, station_failure_limit, votes_needed.
const std::vector<PolicyLimit>& policy_limits();
// One sentence naming the first value of `p` outside its range, or "" when every value is valid.
std::string policy_problem(const Policy& p);

struct Case {
  std::string reference;
  Risk risk = Risk::none;
  std::string offence, officer, notes;
  int64_t created_at = 0;  // UTC seconds since the epoch (every time in this API)
};

struct Suspect {
  std::string reference;
  std::string case_ref;
  Answer lives_with_children = Answer::unknown;
  Answer access_to_children = Answer::unknown;
  int children_count = -1;   // -1: not recorded
  std::string age_bands;     // free text such as "0-4,5-11"
  std::string access_notes;  // how: work, family, contact…
  int64_t created_at = 0;
  bool at_risk() const {
    return lives_with_children == Answer::yes || access_to_children == Answer::yes;
  }
};

struct Device {
  std::string exhibit;
  std::string case_ref, suspect_ref;
  DeviceClass device_class = DeviceClass::other;
  uint64_t capacity = 0;  // bytes, 0 unknown
  std::string seized;     // YYYY-MM-DD or empty
  std::string source;     // device path or image path for the worker
  std::string image;      // evidence image written by the acquire job (set by complete())
  std::string examiner;   // assigned examiner, recorded in the image a worker makes ("" none)
  DeviceState state = DeviceState::queued;
  std::string station;  // station holding it (lease owner while acquiring/carving)
  int64_t intake_at = 0;
  int64_t deadline_at = 0;
  int64_t lease_expires = 0;  // 0 when no lease
  int attempts = 0;           // claims of the current job
  std::string last_error;
  std::string notes;
  // Stored priority (recomputed on every fact change): see Priority.
  int tier = 1;
  int level = 0;
  int64_t priority_key = 0;
};

// The priority tuple of docs/DESIGN.md, computed by compute_priority() for both stores.
// Ordering: (tier, key, device id) ascending. Within tier 0, key = level * 2^40 + intake_at, so
// risk band, then class, then waiting time decide strictly. Outside tier 0, key = intake_at +
// level * aging period: each full aging period (default 7 days) of waiting is worth one level,
// so a device ranks as if it had arrived one level higher one period later; nothing starves.
struct Priority {
  int tier = 1;  // 0: the suspect lives with children or has access to them
  Risk risk = Risk::none;
  DeviceClass device_class = DeviceClass::other;
  int class_rank = 2;  // 0 phone/tablet, 1 computer, 2 removable/other
  int level = 0;       // risk rank * 3 + class rank (0..14)
  int64_t waited_seconds = 0;
  int64_t aging_levels = 0;  // full aging periods waited (0 in tier 0)
  int effective_level = 0;   // max(0, level - aging_levels) outside tier 0, level inside
  int64_t key = 0;
  std::vector<std::string> reasons;  // one line per component, human readable
};
int class_rank(DeviceClass c);
Priority compute_priority(const Suspect& suspect, Risk risk, DeviceClass device_class,
                          int64_t intake_at, int64_t now, const Policy& policy);
int64_t deadline_for(Risk risk, int64_t intake_at, const Policy& policy);

struct QueueEntry {
  int64_t rank = 0;  // 1-based position among the devices listed by the same query's states
  Device device;
  Risk risk = Risk::none;
  double waiting_days = 0;
  bool overdue = false;  // past its deadline and not done/withdrawn
};
nlohmann::json to_json(const QueueEntry& e);  // `safehold queue list --json` object

struct Explanation {
  QueueEntry entry;  // rank among queued devices (0 if the device is not queued)
  Priority priority;
  // What findings did to this device's case or suspect, oldest first (one sentence each: the
  // exhibit, the counts, the change; never a file name).
  std::vector<std::string> findings;
  int64_t queued_total = 0;
  Suspect suspect;
  Case case_info;
};
nlohmann::json to_json(const Explanation& e);

struct Alert {
  int64_t id = 0;
  std::string case_ref, suspect_ref;
  // "household" (a suspect at risk: referral to social care), "first-generation" (camera-original
  // unknown media on a device of a suspect at risk), "task" (household facts to establish), "link"
  // (material shared with another case). Findings alerts name the exhibit and carry counts only.
  std::string kind = "household";
  std::string exhibit;
  std::string reason;  // "lives with children", "access to children", or a findings sentence
  int64_t raised_at = 0, due_at = 0;
  std::string raised_by;
  bool acknowledged = false;
  int64_t acknowledged_at = 0;
  std::string acknowledged_by, reference;
  bool overdue(int64_t now) const { return !acknowledged && now > due_at; }
};
nlohmann::json to_json(const Alert& a, int64_t now);

struct AuditRecord {
  int64_t seq = 0;
  int64_t at = 0;
  std::string user, action, entity, entity_id, reason;
  std::string before, after;  // JSON text ("null" when none)
  std::string prev_hash, hash;
};
nlohmann::json to_json(const AuditRecord& r);
// SHA-256 (hex) over prev_hash, a newline and the canonical JSON of the record's fields.
std::string audit_hash(const AuditRecord& r);

struct AuditCheck {
  bool ok = true;
  int64_t records = 0;
  std::vector<std::string> problems;  // one sentence per broken link
  int64_t anchors = 0;                // anchors checked (docs/AUDIT.md)
  std::string anchor_file;            // "" when anchoring is off
};

// A head of the audit chain kept outside the database (docs/AUDIT.md).
struct AuditAnchor {
  int64_t seq = 0;
  std::string hash;
  int64_t at = 0;       // when written (UTC seconds)
  std::string at_text;  // as read back from the anchor file
};
struct AnchorOptions {
  std::string file;  // append-only anchor file; "" = no anchor file
  // A store anchors after a commit that moves the head when the head crossed a multiple of
  // every_records, when every_seconds have passed since its last anchor, or on its first write.
  int64_t every_records = 100;
  int64_t every_seconds = 600;
  std::function<void(const AuditAnchor&)> notify;  // also told of each anchor (server log)
  // Also queue an `audit.anchor` notification (webhooks, email: `queue notify`) when the head has
  // crossed a multiple of every_records or every_seconds have passed since the last one queued.
  // Decided from the outbox, so all writers together queue one, not one per process.
  // Store::open: $SAFEHOLD_AUDIT_ANCHOR_NOTIFY = yes|no (default no).
  bool outbox = false;
};

// A worker station as the queue knows it from its jobs (created on its first failure).
struct Station {
  std::string name;
  int64_t failures_in_row = 0;  // jobs failed since its last completed job
  int64_t stopped_at = 0;       // > 0: stopped claiming (station alert) until resumed
  std::string last_error;
  bool stopped() const { return stopped_at > 0; }
};
nlohmann::json to_json(const Station& s);

struct Token {
  int64_t id = 0;
  std::string name;
  Role role = Role::auditor;
  int64_t created_at = 0;
  std::string created_by;
  int64_t revoked_at = 0;  // 0 while valid
};
struct NewToken {
  Token token;
  std::string secret;  // shown once; only its SHA-256 is stored
};

struct NewCase {
  std::string reference;
  Risk risk = Risk::none;
  std::string offence, officer, notes;
};
struct CaseUpdate {
  std::optional<Risk> risk;
  std::optional<std::string> offence, officer, notes;
};
struct NewSuspect {
  std::string reference, case_ref;
  Answer lives_with_children = Answer::unknown;
  Answer access_to_children = Answer::unknown;
  int children_count = -1;
  std::string age_bands, access_notes;
};
struct SuspectUpdate {
  std::optional<Answer> lives_with_children, access_to_children;
  std::optional<int> children_count;
  std::optional<std::string> age_bands, access_notes;
};
struct NewDevice {
  std::string exhibit, suspect_ref;
  DeviceClass device_class = DeviceClass::other;
  uint64_t capacity = 0;
  std::string seized, source, notes;
  std::string examiner;              // assigned examiner (optional)
  std::optional<int64_t> intake_at;  // defaults to now (imports may carry the original)
};

// Result of a fact change: devices re-ranked and alerts raised in the same transaction.
struct ChangeResult {
  int64_t devices_reranked = 0;
  std::vector<Alert> alerts_raised;
};

struct ListQuery {
  std::vector<DeviceState> states{DeviceState::queued};  // empty = every state
  int64_t limit = 0;                                     // 0 = no limit
  int64_t offset = 0;
  std::string case_ref;  // optional filter
};

struct ClaimRequest {
  std::string station;
  std::vector<DeviceClass> classes;  // empty = any class
  std::vector<JobKind> kinds;        // empty = acquire and carve
  int64_t lease_seconds = 0;         // 0 = policy default
};
struct Claim {
  Device device;
  JobKind kind = JobKind::acquire;
};

struct Metrics {
  std::map<std::pair<int, Risk>, int64_t> queued_by_tier_risk;  // state queued only
  std::map<DeviceState, int64_t> devices_by_state;
  int64_t alerts_open = 0, alerts_overdue = 0;
  int64_t deadline_breaches = 0;  // active devices past their deadline
  int64_t audit_records = 0;
};

// One audited change of a device: its state, tier and risk band after the change.
struct DeviceStep {
  int64_t at = 0;
  DeviceState state = DeviceState::queued;
  int tier = 1;
  Risk risk = Risk::none;
};

// A device's history (Store::device_history(), scheduler/backlog.hpp): what it is now, and every
// audited change, oldest first.
struct DeviceHistory {
  std::string exhibit, case_ref;
  DeviceClass device_class = DeviceClass::other;
  int64_t intake_at = 0, deadline_at = 0;
  DeviceState state = DeviceState::queued;  // now
  int tier = 1;
  Risk risk = Risk::none;
  int64_t priority_key = 0;
  std::vector<DeviceStep> steps;
  // Carve jobs completed (the device reached review): when, and by which station.
  std::vector<std::pair<int64_t, std::string>> examinations;
};

// ---- findings (docs/scheduler.md "Findings") ----

// A lab hash set known to the queue: `safehold work` carves every device with all of them.
struct LabHashSet {
  std::string name;      // the queue's name for it
  std::string path;      // absolute path of the set file (read in place, memory-mapped)
  std::string category;  // "indecent", "ignorable" or "other"
  std::string set_name;  // the name inside the file (what carve's report calls the set)
  int64_t added_at = 0;
  std::string added_by;
};
bool valid_set_category(std::string_view c);

// One carved picture or video of a device, for the queue-wide index. Hashes are lowercase hex;
// pdq is empty when the artefact has none; variants are the 8 dihedral PDQ hashes (searched
// against the index, so a mirrored or rotated copy is found), empty when not computed.
// One frame hash of a video (vPDQ's): PDQ hex and quality.
struct FrameHash {
  std::string pdq;
  int quality = -1;
};
inline constexpr size_t kMaxVideoFrames = 100000;  // per video in the index

struct MediaHash {
  std::string artefact;  // carve's id ("000042"): a reference, never a file name
  std::string type;      // "jpeg", "png", "mp4"…
  std::string md5, sha1, sha256;
  std::string pdq;
  int quality = -1;
  std::vector<std::string> variants;
  std::string known_category;  // lab category of the set it matched ("" none)
  bool camera = false;         // a camera-original candidate
  std::string known_set;       // the lab set it matched ("" none)
  std::string known_grade;     // that set's category for it ("1", "A"…; "" none)
  // Videos: the vPDQ frame hashes vPDQ's rule compares (distinct hashes of quality >= 50).
  std::vector<FrameHash> frames;
};

// What the worker found on a device after its carve. `summary` is built by the worker (counts
// by type and state, known matches by set and category, unknown media, camera-original
// candidates, chats by app, attachments of messages matching a set): references and counts only.
struct DeviceFindings {
  nlohmann::json summary = nlohmann::json::object();
  std::vector<MediaHash> media;
  // The carve's output folder (absolute; the lab's storage, not the evidence), read by the
  // server's per-case VICS export. "" when unknown.
  std::string carve_dir;
};

// The same material on devices of two cases.
struct Link {
  int64_t id = 0;
  std::string exhibit, case_ref;              // the device that was carved
  std::string other_exhibit, other_case_ref;  // the device of another case already indexed
  int64_t exact = 0;                          // media with identical hashes
  int64_t near = 0;                           // media within PDQ distance 31 (not exact)
  int min_distance = 0;
  int64_t at = 0;
};
nlohmann::json to_json(const Link& l);

// What storing a device's findings did: the policy's changes, the links found.
struct FindingsResult {
  ChangeResult change;
  std::vector<Link> links;
  std::vector<std::string> effects;  // the sentences `explain` shows
  nlohmann::json summary;            // as stored (with pdq_near filled in by the store)
};

// ---- grading (docs/grading.md) ----

// The categories of a profile as stored and voted, in key order: UK "A", "B", "C",
// "not-indecent", "unsure"; Project VIC "0" … "4". "unsure" never decides an image.
const std::vector<std::string>& grading_categories(GradingProfile p);
// The VICS Category number of a decided category (UK: A 1, B 2, C 3, not-indecent 4; Project
// VIC: the number), nullopt for "unsure" and anything not in the profile.
std::optional<int> vics_category(GradingProfile p, const std::string& category);

// One distinct picture or video (one SHA-256) of a case's devices, to be graded.
struct GradingItem {
  int64_t id = 0;
  std::string case_ref;
  int64_t cluster = 0;  // near-duplicates (PDQ distance <= 31) share a cluster
  std::string type, md5, sha1, sha256, pdq;
  int quality = -1;
  int64_t copies = 0;                 // artefacts with this SHA-256 on the case's devices
  std::vector<std::string> exhibits;  // the devices holding it
  std::string artefact;               // carve's id of its first copy ("000042")
  bool camera = false;                // a camera-original candidate
  std::string known_set;              // the lab set it matched ("" none)
  std::string state = "open";         // "open", "review" (votes disagree) or "decided"
  std::string category;               // the decided category ("" until decided)
  std::string source;                 // "votes", "review" or "set NAME" once decided
  int64_t votes = 0;                  // votes cast (their values stay hidden from graders)
  std::string my_vote;                // the asking grader's own vote ("" none)
};
nlohmann::json to_json(const GradingItem& i);

// The next cluster a grader should grade: its members the grader has not voted on yet.
struct GradingCluster {
  std::string case_ref;
  int64_t cluster = 0;
  std::vector<GradingItem> items;
  int64_t remaining = 0;  // clusters (this one included) still waiting for this grader's votes
  int64_t today = 0;      // votes this grader cast since 00:00 UTC
};
nlohmann::json to_json(const GradingCluster& c);

struct GradingVote {
  int64_t id = 0, item = 0, batch = 0;
  std::string grader, category;
  int64_t at = 0;
};

// What a vote or an undo did: the items decided and the ones sent to review.
struct VoteResult {
  int64_t batch = 0;
  std::vector<int64_t> items, decided, review;
  int64_t today = 0;
};
nlohmann::json to_json(const VoteResult& r);

struct ReviewEntry {
  GradingItem item;
  std::vector<GradingVote> votes;
  int64_t opened_at = 0, decided_at = 0;
  std::string decided_by, reason;
};
nlohmann::json to_json(const ReviewEntry& r);

// Agreement of one grader: votes on decided items and how many matched the decision, per category.
struct GraderStats {
  std::string grader;
  struct Count {
    int64_t votes = 0, decided = 0, agreed = 0;
  };
  Count total;
  std::map<std::string, Count> by_category;  // by the grader's vote
};
nlohmann::json to_json(const GraderStats& s);

// A case's grading queue and its times (UTC seconds; 0 not yet): the last carve's findings,
// every item decided, the first VICS export after that.
struct GradingStatus {
  std::string case_ref;
  int64_t items = 0, decided = 0, open = 0, review = 0, known = 0, clusters = 0;
  int64_t carve_done_at = 0, complete_at = 0, exported_at = 0;
  std::string exported_by;
  bool complete() const { return items > 0 && decided == items; }
};
nlohmann::json to_json(const GradingStatus& s);

// What the server's per-case VICS export needs: the carve folders of the case's devices (with
// their exhibits) and the decided categories by lowercase MD5 (VICS numbers).
struct GradingExport {
  GradingStatus status;
  GradingProfile profile = GradingProfile::uk;
  std::vector<std::pair<std::string, std::string>> carve_dirs;  // exhibit, folder
  std::map<std::string, int> grades;
};

struct GraderSettings {
  bool blur = true;           // thumbnails blurred and greyscale until revealed
  int64_t break_after = 100;  // votes between break reminders (0: none)
};

// An alert or a link waiting to be pushed out (webhooks, email; server/notify.hpp). Written in the
// transaction that raised it (an outbox), so nothing raised is lost and nothing is sent for a
// change that rolled back. The payload is JSON of references and counts only.
struct Notification {
  int64_t id = 0;
  std::string event;  // "alert" or "link"
  std::string payload;
  int64_t created_at = 0, next_at = 0;
  int attempts = 0;
};

class Store {
 public:
  // URL: "postgresql://…" / "postgres://…" for PostgreSQL; "sqlite:PATH" or a plain PATH for the
  // embedded SQLite file. Creates the schema when missing.
  struct OpenOptions {
    // How long a write waits for the database's write lock (SQLite busy wait, PostgreSQL
    // lock_timeout) before it fails as busy (QueueError::retry_after).
    int busy_timeout_ms = 60000;
    // SQLite: create the file (and its parent folder) when missing. false: a missing file is a
    // QueueError (not_found) naming it, so that a mistyped path is never a new, empty queue
    // (`safehold queue init` is the one command that creates).
    bool create = true;
  };
  static std::unique_ptr<Store> open(const std::string& url);
  static std::unique_ptr<Store> open(const std::string& url, const OpenOptions& options);
  virtual ~Store() = default;

  // The audit anchors. Store::open sets the default: $SAFEHOLD_AUDIT_ANCHOR when set ("none":
  // off), else for SQLite the database path + ".anchors", else none.
  void set_anchor(AnchorOptions a) { anchor_ = std::move(a); }
  const AnchorOptions& anchor() const { return anchor_; }
  // True when another connection holds the database's write lock for longer than a moment
  // (SQLite; the check takes the lock briefly). PostgreSQL: checks the connection, false.
  virtual bool write_locked() = 0;

  // Clock in UTC seconds (tests inject one); defaults to the system clock.
  void set_clock(std::function<int64_t()> clock) { clock_ = std::move(clock); }
  int64_t now() const;
  virtual std::string backend() const = 0;  // "sqlite" or "postgresql"

  // Policy (re-ranks every device when changed; reason mandatory).
  virtual Policy policy() = 0;
  virtual ChangeResult set_policy(const std::string& user, const Policy& p,
                                  const std::string& reason) = 0;

  // Cases and suspects. Changes need a reason (mandatory for manual re-prioritisation).
  virtual Case add_case(const std::string& user, const NewCase& c) = 0;
  virtual ChangeResult update_case(const std::string& user, const std::string& ref,
                                   const CaseUpdate& u, const std::string& reason) = 0;
  virtual Case get_case(const std::string& ref) = 0;
  virtual std::vector<Case> list_cases() = 0;
  virtual std::pair<Suspect, ChangeResult> add_suspect(const std::string& user,
                                                       const NewSuspect& s) = 0;
  virtual ChangeResult update_suspect(const std::string& user, const std::string& ref,
                                      const SuspectUpdate& u, const std::string& reason) = 0;
  virtual Suspect get_suspect(const std::string& ref) = 0;
  virtual std::vector<Suspect> list_suspects(const std::string& case_ref = "") = 0;

  // Devices. add_device puts the device straight into `queued` (intake recorded in the audit).
  virtual Device add_device(const std::string& user, const NewDevice& d) = 0;
  virtual Device get_device(const std::string& exhibit) = 0;
  // Manual transitions (withdraw, requeue a failed device, close after review); reason mandatory.
  // Only the transitions of allowed_manual_transition() (docs/scheduler.md "Device states");
  // anything else is a QueueError (conflict) naming both states.
  virtual Device set_device_state(const std::string& user, const std::string& exhibit,
                                  DeviceState to, const std::string& reason) = 0;
  // Sets the device's source (device or image path for the worker); a `needs-source` device becomes
  // `queued`. Allowed while nothing has been acquired (needs-source, queued, failed before
  // acquisition). Reason mandatory.
  virtual Device set_device_source(const std::string& user, const std::string& exhibit,
                                   const std::string& source, const std::string& reason) = 0;
  // Assigns the examiner (any state; "" clears it). Reason mandatory, audited.
  virtual Device set_device_examiner(const std::string& user, const std::string& exhibit,
                                     const std::string& examiner, const std::string& reason) = 0;
  virtual std::vector<QueueEntry> list(const ListQuery& q) = 0;
  virtual Explanation explain(const std::string& exhibit) = 0;
  virtual std::vector<QueueEntry> breaches() = 0;  // active devices past deadline, most late first

  // Workers. claim returns the highest-priority job the station can do (expired leases are
  // returned to the queue first), or nullopt. heartbeat/complete/fail need the holding station.
  virtual std::optional<Claim> claim(const std::string& user, const ClaimRequest& r) = 0;
  virtual Device heartbeat(const std::string& user, const std::string& exhibit,
                           const std::string& station) = 0;
  // `image`: for an acquire job, the evidence image written (stored on the device for the carve
  // job); empty keeps what is stored.
  virtual Device complete(const std::string& user, const std::string& exhibit,
                          const std::string& station, const std::string& note = "",
                          const std::string& image = "") = 0;
  // Back to the queue for another attempt, or `failed` once max_attempts claims have failed.
  virtual Device fail(const std::string& user, const std::string& exhibit,
                      const std::string& station, const std::string& error) = 0;
  virtual int64_t reap_expired(const std::string& user) = 0;
  // Hands a held job back untouched (a worker stopping, e.g. on SIGTERM): the device returns to
  // the state it was claimed from (queued or acquired) without spending an attempt. Audited with
  // the mandatory `reason`. Conflict if `station` does not hold the device.
  virtual Device release(const std::string& user, const std::string& exhibit,
                         const std::string& station, const std::string& reason) = 0;

  // Stations: a station stopped after policy().station_failure_limit failures in a row gets a
  // QueueError (conflict) from claim() until resume_station (reason mandatory, audited).
  virtual std::vector<Station> stations() = 0;
  virtual Station resume_station(const std::string& user, const std::string& name,
                                 const std::string& reason) = 0;

  // Safeguarding alerts: open first, overdue first among them.
  virtual std::vector<Alert> alerts(bool open_only) = 0;
  virtual Alert get_alert(int64_t id) = 0;
  virtual Alert acknowledge(const std::string& user, int64_t id,
                            const std::string& social_care_reference) = 0;

  // Audit: records in order (entity/entity_id filter optional; limit 0 = all). verify_audit reads
  // the anchors, then the chain and its head in one snapshot (one read transaction).
  virtual std::vector<AuditRecord> audit(const std::string& entity = "",
                                         const std::string& entity_id = "", int64_t limit = 0) = 0;
  virtual AuditCheck verify_audit() = 0;

  // API tokens for `safehold serve`: stored as SHA-256; verify returns the valid token or nullopt.
  virtual NewToken create_token(const std::string& user, Role role, const std::string& name) = 0;
  virtual Token revoke_token(const std::string& user, const std::string& id_or_name) = 0;
  virtual std::vector<Token> list_tokens() = 0;
  virtual std::optional<Token> verify_token(const std::string& secret) = 0;

  // Lab hash sets (audited). add: conflict when NAME or the file's set name is taken.
  virtual LabHashSet add_hashset(const std::string& user, const LabHashSet& set) = 0;
  virtual void remove_hashset(const std::string& user, const std::string& name,
                              const std::string& reason) = 0;
  virtual std::vector<LabHashSet> hashsets() = 0;

  // Findings: stores a device's findings and its media in the queue-wide index (replacing any
  // earlier ones of the device), finds PDQ near-matches to known material (distance <= 31, both
  // qualities >= 50) and links to devices of other cases, and applies the findings policy, in
  // one transaction, audited. Any station or user may record (the worker does after a carve).
  virtual FindingsResult record_findings(const std::string& user, const std::string& exhibit,
                                         const DeviceFindings& f) = 0;
  // The stored findings of a device (summary, links, effects); not_found when none.
  virtual nlohmann::json findings(const std::string& exhibit) = 0;
  // Links, newest first; case_ref filters to links touching that case.
  virtual std::vector<Link> links(const std::string& case_ref = "") = 0;
  // The stored findings summaries of these devices (when recorded, summary), for listings; a
  // device without findings is absent.
  virtual std::map<std::string, std::pair<int64_t, nlohmann::json>> findings_summaries(
      const std::vector<std::string>& exhibits) = 0;

  // ---- grading (docs/grading.md); `grader` is the grader's audit name ----
  // (Re)builds a case's grading queue from the media its devices' findings indexed: one item per
  // SHA-256, clustered by PDQ (<= 31, qualities >= 50, split items stay alone), known material
  // decided from its set, clusters ordered camera-original first, then by device priority.
  // record_findings() calls it for the device's case; votes are kept across rebuilds.
  virtual GradingStatus build_grading(const std::string& user, const std::string& case_ref) = 0;
  virtual GradingStatus grading_status(const std::string& case_ref) = 0;
  // The first cluster with items this grader has not voted on, still open and short of votes.
  virtual std::optional<GradingCluster> next_cluster(const std::string& grader,
                                                     const std::string& case_ref) = 0;
  // A vote on items (all of one case), or with cluster > 0 and no items on every member of the
  // cluster this grader may vote on. Conflict when the grader has voted on an item already or
  // it is no longer open; invalid for a category outside the profile.
  virtual VoteResult vote(const std::string& grader, const std::string& case_ref, int64_t cluster,
                          const std::vector<int64_t>& items, const std::string& category) = 0;
  // Takes back the grader's last vote (a whole batch), reopening what it decided or sent to
  // review (conflict when a manager has decided one of them since).
  virtual VoteResult undo_vote(const std::string& grader, const std::string& case_ref) = 0;
  // Moves an item into a cluster of its own (audited).
  virtual GradingItem split_item(const std::string& user, int64_t item) = 0;
  // Records that a grader revealed (unblurred) an item (audited).
  virtual GradingItem reveal_item(const std::string& user, int64_t item) = 0;
  virtual GradingItem grading_item(const std::string& grader, int64_t item) = 0;
  // Items whose votes disagree (or include unsure); open_only: not yet decided.
  virtual std::vector<ReviewEntry> reviews(const std::string& case_ref, bool open_only) = 0;
  // A manager's decision on an item in review (reason mandatory, audited).
  virtual GradingItem decide(const std::string& user, int64_t item, const std::string& category,
                             const std::string& reason) = 0;
  virtual std::vector<GraderStats> grading_stats(const std::string& case_ref) = 0;
  // What the VICS writer needs for a case whose every item is decided (conflict otherwise, naming
  // what is left; conflict when a device's carve folder is not known).
  virtual GradingExport grading_export(const std::string& case_ref) = 0;
  // Records that `user` made the case's export (shape "media" or "uk-cases", `media` entries):
  // audited; the first one stamps exported_at (time to submission).
  virtual GradingStatus record_grading_export(const std::string& user, const std::string& case_ref,
                                              const std::string& shape, int64_t media) = 0;
  virtual GraderSettings grader_settings(const std::string& grader) = 0;
  virtual GraderSettings set_grader_settings(const std::string& grader,
                                             const GraderSettings& s) = 0;
  // The carve output folder recorded with a device's findings ("" when none is known).
  virtual std::string carve_folder(const std::string& exhibit) = 0;
  // Every case with a grading queue (for the dashboard and /metrics).
  virtual std::vector<GradingStatus> grading_cases() = 0;

  // Notifications due (not delivered, next attempt at or before now), oldest first.
  virtual std::vector<Notification> due_notifications(int64_t limit) = 0;
  // Records one delivery attempt (audited: notify.delivered / notify.failed with `detail`, which
  // names the targets by kind and their answers, never a URL's secret or an address). A failed
  // attempt is tried again at retry_at.
  virtual void notification_result(const std::string& user, int64_t id, bool delivered,
                                   const std::string& detail, int64_t retry_at) = 0;

  // A cheap marker of the committed state, for caches: it differs from an earlier reading once
  // another connection (of this process or another) has committed a change in between. SQLite:
  // PRAGMA data_version (blind to this connection's own writes, so read it on a connection that
  // does not write); PostgreSQL: the current snapshot (also moves with unrelated transactions).
  // Read it before the query whose result is cached.
  virtual std::string data_version() = 0;

  virtual Metrics metrics() = 0;
  // Every device with its audited changes (states, tier, band) and carve completions, read from
  // the audit chain in one snapshot: what scheduler/backlog.hpp aggregates and forecasts.
  virtual std::vector<DeviceHistory> device_history() = 0;

  // CSV (header row; see docs/scheduler.md). Import runs in one transaction; returns devices added.
  virtual int64_t import_csv(const std::string& user, std::istream& in) = 0;
  virtual void export_csv(std::ostream& out) = 0;

 protected:
  std::function<int64_t()> clock_;
  AnchorOptions anchor_;
};

}  // namespace safehold::scheduler
