// Internal to scheduler/: the one Store implementation over a Db (SQLite or PostgreSQL), declared
// here and defined by seam: schema and opening (store_schema.cpp), facts and reads
// (store_facts.cpp), worker jobs and leases (store_jobs.cpp), the audit chain and its anchors
// (store_audit.cpp), API tokens (store_tokens.cpp) and CSV (store_csv.cpp). Back-end specifics
// (schema types, row locks, the PostgreSQL one-statement paths) are the only branches on pg_.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "scheduler/db.hpp"
#include "scheduler/queue.hpp"
#include "scheduler/store_rows.hpp"

namespace safehold::scheduler::detail {

class SqlStore final : public Store {
 public:
  explicit SqlStore(std::unique_ptr<Db> db);
  ~SqlStore() override;
  // Columns and indexes added after the first release of the schema.
  void migrate();
  bool sqlite_has_column(const std::string& table, const std::string& column);
  // True when the last table of the schema exists (so opening takes no write lock).
  bool schema_ready();
  // True when the grading tables exist (store_schema.cpp's grading migration has run).
  bool grading_ready();
  std::string backend() const override { return pg_ ? "postgresql" : "sqlite"; }
  // ---- policy ----
  Policy policy() override;
  ChangeResult set_policy(const std::string& user, const Policy& p,
                          const std::string& reason) override;
  // ---- cases ----
  Case add_case(const std::string& user, const NewCase& c) override;
  ChangeResult update_case(const std::string& user, const std::string& ref, const CaseUpdate& u,
                           const std::string& reason) override;
  Case get_case(const std::string& ref) override { return load_case(ref, false); }
  std::vector<Case> list_cases() override;
  // ---- suspects ----
  std::pair<Suspect, ChangeResult> add_suspect(const std::string& user,
                                               const NewSuspect& s) override;
  ChangeResult update_suspect(const std::string& user, const std::string& ref,
                              const SuspectUpdate& u, const std::string& reason) override;
  Suspect get_suspect(const std::string& ref) override { return load_suspect(ref, false); }
  std::vector<Suspect> list_suspects(const std::string& case_ref) override;
  // ---- devices ----
  Device add_device(const std::string& user, const NewDevice& nd) override;
  Device get_device(const std::string& exhibit) override { return load_device(exhibit, false).d; }
  Device set_device_state(const std::string& user, const std::string& exhibit, DeviceState to,
                          const std::string& reason) override;
  Device set_device_source(const std::string& user, const std::string& exhibit,
                           const std::string& source, const std::string& reason) override;
  Device set_device_examiner(const std::string& user, const std::string& exhibit,
                             const std::string& examiner, const std::string& reason) override;
  std::vector<QueueEntry> list(const ListQuery& q) override;
  Explanation explain(const std::string& exhibit) override;
  std::vector<QueueEntry> breaches() override;
  // ---- workers ----
  std::optional<Claim> claim(const std::string& user, const ClaimRequest& r) override;
  std::optional<Claim> claim_tx(const std::string& user, const ClaimRequest& r);
  Device heartbeat(const std::string& user, const std::string& exhibit,
                   const std::string& station) override;
  // PostgreSQL: the claim, its lease and its audit record (to audit_pending_device) in one
  // statement, in its own transaction. nullopt when not used, when it claimed nothing, or when a
  // lease has expired; the client-side transaction in claim() then reaps and decides, with the
  // same semantics. Expired leases are looked for once per clock second: a lease ends at a whole
  // second and every lease granted since the last look ends after it, so within one second the
  // answer cannot change unless the client-side path reaped.
  std::optional<Claim> server_claim(const std::string& user, const ClaimRequest& r);
  Device complete(const std::string& user, const std::string& exhibit, const std::string& station,
                  const std::string& note, const std::string& image) override;
  Device fail(const std::string& user, const std::string& exhibit, const std::string& station,
              const std::string& error) override;
  Device release(const std::string& user, const std::string& exhibit, const std::string& station,
                 const std::string& reason) override;
  int64_t reap_expired(const std::string& user) override;
  // ---- alerts ----
  std::vector<Station> stations() override;
  Station resume_station(const std::string& user, const std::string& name,
                         const std::string& reason) override;
  std::vector<Alert> alerts(bool open_only) override;
  Alert get_alert(int64_t id) override;
  Alert acknowledge(const std::string& user, int64_t id, const std::string& ref) override;
  // ---- audit ----
  std::vector<AuditRecord> audit(const std::string& entity, const std::string& entity_id,
                                 int64_t limit) override;
  AuditCheck verify_audit() override;
  bool write_locked() override;
  // ---- tokens ----
  NewToken create_token(const std::string& user, Role role, const std::string& name) override;
  Token revoke_token(const std::string& user, const std::string& id_or_name) override;
  std::vector<Token> list_tokens() override;
  std::optional<Token> verify_token(const std::string& secret) override;
  std::string data_version() override;
  // ---- findings (store_findings.cpp) ----
  LabHashSet add_hashset(const std::string& user, const LabHashSet& set) override;
  void remove_hashset(const std::string& user, const std::string& name,
                      const std::string& reason) override;
  std::vector<LabHashSet> hashsets() override;
  FindingsResult record_findings(const std::string& user, const std::string& exhibit,
                                 const DeviceFindings& f) override;
  nlohmann::json findings(const std::string& exhibit) override;
  std::vector<Link> links(const std::string& case_ref) override;
  std::map<std::string, std::pair<int64_t, json>> findings_summaries(
      const std::vector<std::string>& exhibits) override;
  // ---- history (store_history.cpp) ----
  std::vector<DeviceHistory> device_history() override;
  std::vector<Notification> due_notifications(int64_t limit) override;
  void notification_result(const std::string& user, int64_t id, bool delivered,
                           const std::string& detail, int64_t retry_at) override;
  // ---- grading (store_grading.cpp) ----
  GradingStatus build_grading(const std::string& user, const std::string& case_ref) override;
  GradingStatus grading_status(const std::string& case_ref) override;
  std::optional<GradingCluster> next_cluster(const std::string& grader,
                                             const std::string& case_ref) override;
  VoteResult vote(const std::string& grader, const std::string& case_ref, int64_t cluster,
                  const std::vector<int64_t>& items, const std::string& category) override;
  VoteResult undo_vote(const std::string& grader, const std::string& case_ref) override;
  GradingItem split_item(const std::string& user, int64_t item) override;
  GradingItem reveal_item(const std::string& user, int64_t item) override;
  GradingItem grading_item(const std::string& grader, int64_t item) override;
  std::vector<ReviewEntry> reviews(const std::string& case_ref, bool open_only) override;
  GradingItem decide(const std::string& user, int64_t item, const std::string& category,
                     const std::string& reason) override;
  std::vector<GraderStats> grading_stats(const std::string& case_ref) override;
  GradingExport grading_export(const std::string& case_ref) override;
  GradingStatus record_grading_export(const std::string& user, const std::string& case_ref,
                                      const std::string& shape, int64_t media) override;
  GraderSettings grader_settings(const std::string& grader) override;
  GraderSettings set_grader_settings(const std::string& grader, const GraderSettings& s) override;
  std::vector<GradingStatus> grading_cases() override;
  std::string carve_folder(const std::string& exhibit) override;
  // Queues a notification in the current transaction.
  void notify(const std::string& event, const json& payload);
  // ---- metrics ----
  Metrics metrics() override;
  // ---- CSV ----
  int64_t import_csv(const std::string& user, std::istream& in) override;
  void export_csv(std::ostream& out) override;

 private:
  // Runs f in one write transaction; audit records queued by f are chained at commit.
  template <typename F>
  auto write(F f) -> decltype(f()) {
    for (int attempt = 0;; ++attempt) {
      pending_.clear();
      moved_head_.reset();
      db_->begin();
      try {
        auto result = f();
        // Without the test hook, the last audit statement carries the COMMIT (PostgreSQL: one
        // round trip less while the audit head is locked).
        bool stall = constructed_ && stall_requested();
        if (!flush_audit(/*commit=*/!stall)) {
          if (stall) stall_for_tests();
          db_->commit();
        }
        pending_.clear();
        if (moved_head_) anchor_after_commit();
        return result;
      } catch (const detail::RetryTransaction&) {
        db_->rollback();
        pending_.clear();
        if (attempt >= 20)
          throw QueueError(Kind::storage, "the queue database stayed too busy to commit");
        std::this_thread::sleep_for(std::chrono::milliseconds(5 * (attempt + 1)));
      } catch (...) {
        db_->rollback();
        pending_.clear();
        throw;
      }
    }
  }
  // Test hook: SAFEHOLD_TEST_STALL_BEFORE_COMMIT=FILE makes a write create FILE and sleep before
  // COMMIT, so a test can kill -9 a writer in the middle of a transaction.
  static bool stall_requested();
  static void stall_for_tests();
  void audit_add(const std::string& user, const std::string& action, const std::string& entity,
                 const std::string& entity_id, const std::string& reason, const json& before,
                 const json& after);
  // Takes the chain head last (row lock on PostgreSQL) so that writers serialise only here.
  // commit: end the transaction with the last statement. Returns true if it committed.
  bool flush_audit(bool commit);
  static AuditRecord audit_from(const Row& row);
  Case load_case(const std::string& ref, bool lock);
  Suspect load_suspect(const std::string& ref, bool lock);
  DeviceRow load_device(const std::string& exhibit, bool lock);
  // The device, locked, checked to be leased by `station`.
  DeviceRow held(const std::string& exhibit, const std::string& station);
  void save_state(const DeviceRow& x);
  // A failed or expired job goes back for another attempt, or to `failed` after max_attempts.
  void requeue(DeviceRow& x, const Policy& p, const std::string& error);
  // A station's run of failures: counted by fail(), cleared by complete(); at the policy's limit
  // the station stops claiming (audited as station.stopped, the station alert).
  void station_failed(const std::string& user, const std::string& station, const std::string& error,
                      const Policy& p);
  void station_succeeded(const std::string& station);
  // Conflict when the station is stopped.
  void check_station_running(const std::string& station);
  int64_t reap_tx(const std::string& user, const Policy& p);
  Alert raise_alert(const std::string& user, const Suspect& s, const Policy& p);
  // A findings alert (kind first-generation, task or link) on a device's case and suspect,
  // unless one of that kind is already open for the exhibit; nullopt then.
  std::optional<Alert> raise_findings_alert(const std::string& user, const Device& d,
                                            const std::string& kind, const std::string& reason,
                                            int64_t hours);
  // The findings policy on a device whose findings were just stored (store_findings.cpp).
  void apply_findings_policy(const std::string& user, const Device& d, const json& summary,
                             FindingsResult& res);
  void add_effect(const Device& d, const std::string& effect, FindingsResult& res);
  // In the current transaction: rebuilds the case's grading items and clusters.
  GradingStatus build_grading_tx(const std::string& user, const std::string& case_ref);
  GradingStatus status_tx(const std::string& case_ref);
  // Decides items whose votes are all in (agreement) or sends them to review; stamps the case's
  // complete_at when nothing is left open.
  void settle(const std::string& case_ref, const std::vector<int64_t>& items, VoteResult& res);
  void stamp_complete(const std::string& case_ref);
  GradingItem load_item(int64_t id, const std::string& grader);
  // Exact and PDQ matches of a device's media against the index; fills summary's pdq_near and
  // returns the links to devices of other cases.
  std::vector<Link> match_media(const Device& d, const DeviceFindings& f, json& summary);
  // Recomputes the stored priority of the devices of a case, of a suspect, or of all.
  int64_t rerank(const std::string& case_ref, const std::string& suspect_ref,
                 const std::string& user, const std::string& reason, const Policy& p, bool all);
  Case add_case_tx(const std::string& user, const NewCase& c);
  // reload: read the row back (defaults filled by the database) instead of building it here.
  // The alert raised for a suspect at risk goes into `res` when given.
  Suspect add_suspect_tx(const std::string& user, const NewSuspect& s, const Policy& p, bool reload,
                         ChangeResult* res = nullptr);
  Device add_device_tx(const std::string& user, const NewDevice& nd);
  QueueEntry entry(const DeviceRow& x, int64_t rank, int64_t t);
  // ---- audit sealing (PostgreSQL hot path) ----
  // A hot-path statement wrote an audit record to audit_pending_device: chain it, and every other
  // committed pending record, unless this store sealed less than seal_interval_ ago. It does not
  // wait for a seal another session is running; the next seal, this store's closing seal, or
  // any reader of the chain takes the record.
  void wrote_pending();
  // A seal that never fails the operation it follows (the change has committed; a record left
  // pending is chained by the next seal, by anyone).
  void try_seal() noexcept;
  // Chains the committed pending records (chain_pending), in a transaction of its own. wait:
  // wait for the chain lock instead of giving up when another session holds it. Returns true
  // when it sealed.
  bool seal(bool wait);
  // In the current transaction: takes the chain lock (an advisory lock, then the head row, held
  // until the transaction ends), chains every committed pending record (audit_pending_device,
  // and the previous release's audit_pending), in (xid, id) order, and moves the head. Returns
  // the head, or nullopt when !wait and another session holds the lock. The records are read and
  // hashed here, their JSON built by device_json() like every client-side record's; one
  // statement then deletes them by row address (ctid: a TID scan whatever the tables' statistics
  // say; the rows cannot move while this transaction reads the tables), inserts them into
  // `audit` and moves the head.
  std::optional<std::pair<int64_t, std::string>> chain_pending(bool wait);
  // Before reading the chain: seal what is pending, if this user may (best effort: a read-only
  // user still reads the records chained so far).
  void seal_before_reading();
  static std::chrono::milliseconds seal_interval_from_env();
  // After a commit that moved the head: appends an anchor when one is due (docs/AUDIT.md).
  void anchor_after_commit();
  void anchor_to_outbox(const AuditAnchor& a);
  std::unique_ptr<Db> db_;
  bool pg_ = false;
  bool server_calls_ = false;  // PostgreSQL with the one-statement claim/complete (UTF8 only)
  std::vector<AuditRecord> pending_;
  bool constructed_ = false;
  bool unsealed_ = false;  // this store wrote to audit_pending_device since it last sealed
  // Set when the store opens: the first hot-path seal comes seal_interval_ after it.
  std::chrono::steady_clock::time_point sealed_at_ = std::chrono::steady_clock::now();
  int64_t lease_checked_at_ = INT64_MIN;  // the clock second of the last look for expired leases
  std::chrono::milliseconds seal_interval_ = seal_interval_from_env();
  // The head a write transaction moved (set by flush_audit and chain_pending), anchored after
  // its commit; the last head this store anchored (-1: none yet), and when.
  std::optional<std::pair<int64_t, std::string>> moved_head_;
  int64_t anchored_seq_ = -1;
  std::chrono::steady_clock::time_point anchored_at_{};
};

}  // namespace safehold::scheduler::detail
