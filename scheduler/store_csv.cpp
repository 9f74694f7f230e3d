// CSV import (one transaction) and export of devices with their case and suspect facts.
#include <fmt/core.h>

#include <algorithm>
#include <ctime>
#include <istream>
#include <map>
#include <ostream>
#include <set>

#include "base/text.hpp"
#include "scheduler/sql_store.hpp"

namespace safehold::scheduler::detail {
namespace {

std::vector<std::string> csv_row(std::istream& in, bool& ok) {
  std::vector<std::string> out;
  std::string field;
  bool quoted = false, any = false;
  ok = false;
  int c;
  while ((c = in.get()) != EOF) {
    any = true;
    char ch = static_cast<char>(c);
    if (quoted) {
      if (ch == '"') {
        if (in.peek() == '"') {
          field += '"';
          in.get();
        } else {
          quoted = false;
        }
      } else {
        field += ch;
      }
    } else if (ch == '"') {
      quoted = true;
    } else if (ch == ',') {
      out.push_back(field);
      field.clear();
    } else if (ch == '\n') {
      break;
    } else if (ch != '\r') {
      field += ch;
    }
  }
  if (!any) return out;
  out.push_back(field);
  ok = true;
  return out;
}

int64_t parse_time(const std::string& s) {
  if (s.empty()) return 0;
  if (std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::stoll(s);
  std::tm tm{};
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) end = strptime(s.c_str(), "%Y-%m-%d", &tm);
  if (!end) throw QueueError(Kind::invalid, fmt::format("time '{}' is not ISO 8601 UTC", s));
  return static_cast<int64_t>(timegm(&tm));
}

const std::vector<std::string> kCsvColumns{"exhibit",
                                           "case",
                                           "suspect",
                                           "class",
                                           "capacity",
                                           "seized",
                                           "source",
                                           "state",
                                           "intake_at",
                                           "risk",
                                           "offence",
                                           "officer",
                                           "lives_with_children",
                                           "access_to_children"};

// The header (column name -> index, the required columns checked) and the data rows (blank lines
// skipped).
std::vector<std::vector<std::string>> read_csv(std::istream& in,
                                               std::map<std::string, size_t>& col) {
  bool ok = false;
  auto header = csv_row(in, ok);
  if (!ok) throw QueueError(Kind::invalid, "the CSV file is empty");
  for (size_t i = 0; i < header.size(); ++i) col[header[i]] = i;
  for (const char* need : {"exhibit", "case", "suspect", "class"})
    if (!col.count(need))
      throw QueueError(Kind::invalid, fmt::format("the CSV header has no '{}' column", need));
  std::vector<std::vector<std::string>> rows;
  for (;;) {
    auto r = csv_row(in, ok);
    if (!ok) break;
    if (r.size() == 1 && r[0].empty()) continue;
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace

// ---- CSV ----
int64_t SqlStore::import_csv(const std::string& user, std::istream& in) {
  std::map<std::string, size_t> col;
  auto rows = read_csv(in, col);
  // One transaction. Cases, suspects and existing exhibits are read once; devices go in
  // multi-row inserts of up to 500 (the audit records keep the per-row order of before).
  int64_t imported = write([&] {
    Policy p = policy();
    std::map<std::string, Case> cases;
    std::map<std::string, Suspect> suspects;
    std::set<std::string> exhibits;
    for (auto& r : db_->query(std::string("SELECT ") + kCaseCols + " FROM cases"))
      cases.emplace(r.text(0), case_from(r));
    for (auto& r : db_->query(std::string("SELECT ") + kSuspectCols + " FROM suspects"))
      suspects.emplace(r.text(0), suspect_from(r));
    for (auto& r : db_->query("SELECT exhibit FROM devices")) exhibits.insert(r.text(0));
    const int64_t t = now();
    std::vector<Param> batch;
    size_t batched = 0;
    auto flush_devices = [&] {
      if (!batched) return;
      std::string sql =
          "INSERT INTO devices (exhibit, case_ref, suspect_ref, class, capacity, seized, source, "
          "notes, state, ready, intake_at, deadline_at, tier, level, prio_key, risk, updated_at) "
          "VALUES ";
      for (size_t i = 0; i < batched; ++i) {
        sql += i ? ", (" : "(";
        for (size_t k = 1; k <= 17; ++k) sql += fmt::format("{}${}", k > 1 ? ", " : "", i * 17 + k);
        sql += ")";
      }
      db_->query(sql, batch);
      batch.clear();
      batched = 0;
    };
    int64_t n = 0, line = 1;
    for (auto& r : rows) {
      ++line;
      auto get = [&](const char* name) -> std::string {
        auto it = col.find(name);
        return it != col.end() && it->second < r.size() ? r[it->second] : std::string();
      };
      auto bad = [&](const std::string& what) {
        return QueueError(Kind::invalid, fmt::format("CSV line {}: {}", line, what));
      };
      try {
        std::string case_ref = get("case"), suspect_ref = get("suspect");
        check_id("case reference", case_ref);
        check_id("suspect reference", suspect_ref);
        if (!cases.count(case_ref)) {
          NewCase c;
          c.reference = case_ref;
          std::string risk = get("risk");
          if (!risk.empty()) {
            auto rk = parse_risk(risk);
            if (!rk) throw bad(fmt::format("unknown risk band '{}'", risk));
            c.risk = *rk;
          }
          c.offence = get("offence");
          c.officer = get("officer");
          cases.emplace(case_ref, add_case_tx(user, c));
        }
        if (!suspects.count(suspect_ref)) {
          NewSuspect ns;
          ns.reference = suspect_ref;
          ns.case_ref = case_ref;
          for (auto [name, field] : {std::pair{"lives_with_children", &ns.lives_with_children},
                                     std::pair{"access_to_children", &ns.access_to_children}}) {
            std::string v = get(name);
            if (v.empty()) continue;
            auto a = parse_answer(v);
            if (!a) throw bad(fmt::format("{} must be yes, no or unknown, not '{}'", name, v));
            *field = *a;
          }
          suspects.emplace(suspect_ref, add_suspect_tx(user, ns, p, /*reload=*/false));
        }
        const Suspect& s = suspects.at(suspect_ref);
        const Case& c = cases.at(s.case_ref);
        Device d;
        d.exhibit = get("exhibit");
        d.case_ref = s.case_ref;
        d.suspect_ref = s.reference;
        auto cls = parse_class(get("class"));
        if (!cls) throw bad(fmt::format("unknown device class '{}'", get("class")));
        d.device_class = *cls;
        std::string cap = get("capacity");
        if (!cap.empty()) d.capacity = std::stoull(cap);
        d.seized = get("seized");
        d.source = get("source");
        std::string intake = get("intake_at");
        check_id("exhibit reference", d.exhibit);
        check_date(d.seized);
        DeviceState state = DeviceState::queued;
        std::string st = get("state");
        if (!st.empty() && st != "queued") {
          auto ps = parse_state(st);
          if (!ps) throw bad(fmt::format("unknown state '{}'", st));
          state = *ps;
        }
        // Without a source a queued device waits as needs-source (not claimable).
        if (state == DeviceState::queued && d.source.empty()) state = DeviceState::needs_source;
        if (!exhibits.insert(d.exhibit).second)
          throw QueueError(Kind::conflict, fmt::format("device {} already exists", d.exhibit));
        d.state = state == DeviceState::needs_source ? state : DeviceState::queued;
        d.intake_at = intake.empty() ? t : parse_time(intake);
        d.deadline_at = deadline_for(c.risk, d.intake_at, p);
        Priority pr = compute_priority(s, c.risk, d.device_class, d.intake_at, t, p);
        d.tier = pr.tier;
        d.level = pr.level;
        d.priority_key = pr.key;
        for (Param v : {Param(d.exhibit), Param(d.case_ref), Param(d.suspect_ref),
                        Param(to_string(d.device_class)), Param(static_cast<int64_t>(d.capacity)),
                        Param(d.seized), Param(d.source), Param(d.notes), Param(to_string(state)),
                        Param(static_cast<int64_t>(ready(state) ? 1 : 0)), Param(d.intake_at),
                        Param(d.deadline_at), Param(static_cast<int64_t>(d.tier)),
                        Param(static_cast<int64_t>(d.level)), Param(d.priority_key),
                        Param(to_string(c.risk)), Param(t)})
          batch.push_back(std::move(v));
        ++batched;
        json after = device_json(d, View::audit);
        after["intake_at"] = d.intake_at;
        after["deadline_at"] = d.deadline_at;
        after["priority"] = priority_json(d);
        audit_add(user, "device.add", "device", d.exhibit, "", {{"state", "intake"}}, after);
        if (state != d.state) {
          Device to = d;
          to.state = state;
          audit_add(user, "device.state", "device", d.exhibit, "imported",
                    device_json(d, View::audit), device_json(to, View::audit));
        }
        if (batched == 500) flush_devices();
        ++n;
      } catch (const QueueError& e) {
        if (std::string(e.what()).rfind("CSV line", 0) == 0) throw;
        throw QueueError(e.kind, fmt::format("CSV line {}: {}", line, e.what()));
      } catch (const std::invalid_argument&) {
        throw bad("a number is not valid");
      } catch (const std::out_of_range&) {
        throw bad("a number is out of range");
      }
    }
    flush_devices();
    return n;
  });
  // Fresh statistics: without them PostgreSQL planned the claim on a just-imported table as a
  // sort of every device (4 claims per second at 100,000 devices).
  if (pg_ && imported > 0) db_->script("ANALYZE cases, suspects, devices");
  return imported;
}

void SqlStore::export_csv(std::ostream& out) {
  for (size_t i = 0; i < kCsvColumns.size(); ++i) out << (i ? "," : "") << kCsvColumns[i];
  out << "\n";
  auto rows = db_->query(
      "SELECT d.exhibit, d.case_ref, d.suspect_ref, d.class, d.capacity, d.seized, d.source, "
      "d.state, d.intake_at, c.risk, c.offence, c.officer, s.lives_with_children, "
      "s.access_to_children FROM devices d JOIN cases c ON c.reference = d.case_ref JOIN "
      "suspects s ON s.reference = d.suspect_ref ORDER BY d.id");
  for (auto& r : rows) {
    for (size_t i = 0; i < r.cells.size(); ++i) {
      std::string v = i == 8 ? utc_iso8601(r.integer(8)) : r.text(i);
      out << (i ? "," : "") << base::csv_cell(v, base::Formulas::keep);
    }
    out << "\n";
  }
}

}  // namespace safehold::scheduler::detail
