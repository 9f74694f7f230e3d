// Grading (docs/grading.md): a case's media as items (one per SHA-256) in clusters of
// near-duplicates, votes hidden from other graders, agreement or review, statistics, and the
// times from carve to export. Votes, reveals, splits, decisions and exports are audited by
// reference (item ids, categories, counts), never a file name.
#include <fmt/core.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include "scheduler/pdq_index.hpp"
#include "scheduler/sql_store.hpp"

namespace safehold::scheduler {

const std::vector<std::string>& grading_categories(GradingProfile p) {
  static const std::vector<std::string> uk = {"A", "B", "C", "not-indecent", "unsure"};
  static const std::vector<std::string> vic = {"0", "1", "2", "3", "4"};
  return p == GradingProfile::uk ? uk : vic;
}

std::optional<int> vics_category(GradingProfile p, const std::string& c) {
  const auto& all = grading_categories(p);
  auto it = std::find(all.begin(), all.end(), c);
  if (it == all.end() || c == "unsure") return std::nullopt;
  if (p == GradingProfile::vic) return std::stoi(c);
  return static_cast<int>(it - all.begin()) + 1;  // A 1, B 2, C 3, not-indecent 4
}

nlohmann::json to_json(const GradingItem& i) {
  return {{"id", i.id},
          {"case", i.case_ref},
          {"cluster", i.cluster},
          {"type", i.type},
          {"md5", i.md5},
          {"sha1", i.sha1},
          {"sha256", i.sha256},
          {"pdq", i.pdq},
          {"quality", i.quality},
          {"copies", i.copies},
          {"exhibits", i.exhibits},
          {"artefact", i.artefact},
          {"camera_original", i.camera},
          {"known_set", i.known_set},
          {"state", i.state},
          {"category", i.category.empty() ? nlohmann::json() : nlohmann::json(i.category)},
          {"source", i.source},
          {"votes", i.votes},
          {"my_vote", i.my_vote.empty() ? nlohmann::json() : nlohmann::json(i.my_vote)}};
}

nlohmann::json to_json(const GradingCluster& c) {
  nlohmann::json items = nlohmann::json::array();
  for (auto& i : c.items) items.push_back(to_json(i));
  return {{"case", c.case_ref},
          {"cluster", c.cluster},
          {"items", items},
          {"remaining", c.remaining},
          {"today", c.today}};
}

nlohmann::json to_json(const VoteResult& r) {
  return {{"batch", r.batch},
          {"items", r.items},
          {"decided", r.decided},
          {"review", r.review},
          {"today", r.today}};
}

nlohmann::json to_json(const ReviewEntry& r) {
  nlohmann::json votes = nlohmann::json::array();
  for (auto& v : r.votes)
    votes.push_back({{"grader", v.grader}, {"category", v.category}, {"at", utc_iso8601(v.at)}});
  return {
      {"item", to_json(r.item)},
      {"votes", votes},
      {"opened_at", utc_iso8601(r.opened_at)},
      {"decided_at", r.decided_at ? nlohmann::json(utc_iso8601(r.decided_at)) : nlohmann::json()},
      {"decided_by", r.decided_by},
      {"reason", r.reason}};
}

nlohmann::json to_json(const GraderStats& s) {
  auto count = [](const GraderStats::Count& c) {
    return nlohmann::json{
        {"votes", c.votes},
        {"decided", c.decided},
        {"agreed", c.agreed},
        {"agreement", c.decided ? nlohmann::json(double(c.agreed) / c.decided) : nlohmann::json()}};
  };
  nlohmann::json by = nlohmann::json::object();
  for (auto& [k, c] : s.by_category) by[k] = count(c);
  nlohmann::json j = count(s.total);
  j["grader"] = s.grader;
  j["by_category"] = by;
  return j;
}

nlohmann::json to_json(const GradingStatus& s) {
  auto t = [](int64_t v) { return v ? nlohmann::json(utc_iso8601(v)) : nlohmann::json(); };
  auto span = [](int64_t a, int64_t b) {
    return a && b ? nlohmann::json(b - a) : nlohmann::json();
  };
  return {{"case", s.case_ref},
          {"items", s.items},
          {"decided", s.decided},
          {"open", s.open},
          {"review", s.review},
          {"known", s.known},
          {"clusters", s.clusters},
          {"complete", s.complete()},
          {"carve_done_at", t(s.carve_done_at)},
          {"complete_at", t(s.complete_at)},
          {"exported_at", t(s.exported_at)},
          {"exported_by", s.exported_by},
          {"grading_seconds", span(s.carve_done_at, s.complete_at)},
          {"export_seconds", span(s.complete_at, s.exported_at)},
          {"submission_seconds", span(s.carve_done_at, s.exported_at)}};
}

}  // namespace safehold::scheduler

namespace safehold::scheduler::detail {
namespace {

std::string join_list(const std::vector<std::string>& v) {
  std::string out;
  for (auto& x : v) out += (out.empty() ? "" : "\n") + x;
  return out;
}

bool in_profile(GradingProfile p, const std::string& c) {
  const auto& all = grading_categories(p);
  return std::find(all.begin(), all.end(), c) != all.end();
}

// The category a lab set gives a known item, or "" when the set's category does not fit the
// profile: an ignorable set's files are not indecent; otherwise the set's own category for the
// file (UK: A/B/C, or CAID's numbers 1-3; Project VIC: 0-4).
std::string pregrade(GradingProfile p, const std::string& lab_category, const std::string& grade) {
  if (lab_category == "ignorable") return p == GradingProfile::uk ? "not-indecent" : "0";
  std::string g = grade;
  for (auto& c : g) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (p == GradingProfile::vic) return in_profile(p, g) ? g : "";
  if (g == "A" || g == "1") return "A";
  if (g == "B" || g == "2") return "B";
  if (g == "C" || g == "3") return "C";
  return "";
}

// One distinct SHA-256 of the case as the media index holds it.
struct Media {
  std::string sha256, md5, sha1, type, pdq, artefact, known_set, lab_category, grade;
  int quality = -1;
  int64_t copies = 0;
  std::vector<std::string> exhibits;
  bool camera = false;
  int tier = 1;
  int64_t prio_key = 0;
};

struct UnionFind {
  std::vector<size_t> up;
  explicit UnionFind(size_t n) : up(n) { std::iota(up.begin(), up.end(), size_t{0}); }
  size_t find(size_t x) {
    while (up[x] != x) x = up[x] = up[up[x]];
    return x;
  }
  void join(size_t a, size_t b) {
    a = find(a), b = find(b);
    if (a != b) up[std::max(a, b)] = std::min(a, b);
  }
};

}  // namespace

// ---- building ----
GradingStatus SqlStore::build_grading(const std::string& user, const std::string& case_ref) {
  return write([&] {
    load_case(case_ref, true);
    return build_grading_tx(user, case_ref);
  });
}

GradingStatus SqlStore::build_grading_tx(const std::string& user, const std::string& case_ref) {
  const Policy pol = policy();
  // The case's media, best device priority first: an item's first copy is on its most urgent
  // device.
  std::vector<Media> media;
  std::map<std::string, size_t> by_sha;
  for (auto& r : db_->query(
           "SELECT m.sha256, m.md5, m.sha1, m.type, m.pdq, m.quality, m.artefact, m.exhibit, "
           "m.camera, m.known_set, m.known_category, m.known_grade, d.tier, d.prio_key FROM media "
           "m "
           "JOIN devices d ON d.exhibit = m.exhibit WHERE m.case_ref = $1 ORDER BY d.tier, "
           "d.prio_key, d.id, m.id",
           {case_ref})) {
    auto [it, fresh] = by_sha.emplace(r.text(0), media.size());
    if (fresh) {
      Media m;
      m.sha256 = r.text(0), m.md5 = r.text(1), m.sha1 = r.text(2), m.type = r.text(3);
      m.pdq = r.text(4), m.quality = static_cast<int>(r.integer(5)), m.artefact = r.text(6);
      m.tier = static_cast<int>(r.integer(12)), m.prio_key = r.integer(13);
      media.push_back(m);
    }
    Media& m = media[it->second];
    ++m.copies;
    if (std::find(m.exhibits.begin(), m.exhibits.end(), r.text(7)) == m.exhibits.end())
      m.exhibits.push_back(r.text(7));
    m.camera = m.camera || r.integer(8) != 0;
    if (m.known_set.empty() && !r.text(9).empty())
      m.known_set = r.text(9), m.lab_category = r.text(10), m.grade = r.text(11);
  }
  // Existing items keep their id, votes and decisions; new SHA-256s become items; items gone
  // from the index (a device carved again) go unless someone voted on them.
  std::map<std::string, std::pair<int64_t, bool>> existing;  // sha256 -> id, split
  for (auto& r :
       db_->query("SELECT sha256, id, split FROM grading_items WHERE case_ref = $1", {case_ref}))
    existing[r.text(0)] = {r.integer(1), r.integer(2) != 0};
  for (auto& [sha, e] : existing)
    if (!by_sha.count(sha) &&
        db_->query("SELECT 1 FROM grading_votes WHERE item = $1 LIMIT 1", {e.first}).empty())
      db_->query("DELETE FROM grading_items WHERE id = $1", {e.first});
  std::vector<int64_t> ids(media.size());
  std::vector<bool> split(media.size(), false);
  for (size_t k = 0; k < media.size(); ++k) {
    const Media& m = media[k];
    std::vector<Param> p = {case_ref,
                            m.sha256,
                            m.md5,
                            m.sha1,
                            m.type,
                            m.pdq,
                            static_cast<int64_t>(m.quality),
                            m.copies,
                            join_list(m.exhibits),
                            m.artefact,
                            int64_t{m.camera},
                            m.known_set};
    if (auto e = existing.find(m.sha256); e != existing.end()) {
      ids[k] = e->second.first;
      split[k] = e->second.second;
      p.push_back(ids[k]);
      db_->query(
          "UPDATE grading_items SET md5 = $3, sha1 = $4, type = $5, pdq = $6, quality = $7, "
          "copies = $8, exhibits = $9, artefact = $10, camera = $11, known_set = $12 WHERE id = "
          "$13 AND case_ref = $1 AND sha256 = $2",
          p);
    } else {
      ids[k] =
          db_->query(
                 "INSERT INTO grading_items (case_ref, sha256, md5, sha1, type, pdq, quality, "
                 "copies, exhibits, artefact, camera, known_set, cluster, position) VALUES ($1, "
                 "$2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, 0) RETURNING id",
                 p)
              .at(0)
              .integer(0);
    }
    // Known material is decided by its set, unless people have voted on it already.
    std::string g =
        m.known_set.empty() ? "" : pregrade(pol.grading_profile, m.lab_category, m.grade);
    if (!g.empty())
      db_->query(
          "UPDATE grading_items SET state = 'decided', category = $2, source = $3 WHERE id = $1 "
          "AND state = 'open' AND NOT EXISTS (SELECT 1 FROM grading_votes v WHERE v.item = $1)",
          {ids[k], g, "set " + m.known_set});
  }
  // Clusters: near-duplicates by PDQ (both qualities >= 50, distance <= 31); split items alone.
  UnionFind uf(media.size());
  PdqIndex index;
  for (size_t k = 0; k < media.size(); ++k)
    if (!split[k] && !media[k].pdq.empty() && media[k].quality >= 50)
      index.add(*parse_pdq(media[k].pdq), static_cast<uint32_t>(k));
  index.build();
  for (size_t k = 0; k < media.size(); ++k)
    if (!split[k] && !media[k].pdq.empty() && media[k].quality >= 50)
      for (auto [other, dist] : index.search(*parse_pdq(media[k].pdq), 31)) uf.join(k, other);
  // Order: clusters holding a camera-original candidate first, then by their most urgent device.
  struct Key {
    int camera;
    int tier;
    int64_t prio;
    int64_t cluster;
  };
  std::map<size_t, Key> keys;  // root -> order key
  for (size_t k = 0; k < media.size(); ++k) {
    size_t root = uf.find(k);
    Key mine{media[k].camera ? 0 : 1, media[k].tier, media[k].prio_key, ids[k]};
    auto [it, fresh] = keys.emplace(root, mine);
    if (!fresh) {
      Key& kk = it->second;
      kk.camera = std::min(kk.camera, mine.camera);
      if (std::tie(mine.tier, mine.prio) < std::tie(kk.tier, kk.prio))
        kk.tier = mine.tier, kk.prio = mine.prio;
      kk.cluster = std::min(kk.cluster, mine.cluster);
    }
  }
  std::vector<std::pair<size_t, Key>> order(keys.begin(), keys.end());
  std::sort(order.begin(), order.end(), [](auto& a, auto& b) {
    return std::tie(a.second.camera, a.second.tier, a.second.prio, a.second.cluster) <
           std::tie(b.second.camera, b.second.tier, b.second.prio, b.second.cluster);
  });
  std::map<size_t, int64_t> position;
  for (size_t n = 0; n < order.size(); ++n) position[order[n].first] = static_cast<int64_t>(n + 1);
  for (size_t k = 0; k < media.size(); ++k) {
    size_t root = uf.find(k);
    db_->query("UPDATE grading_items SET cluster = $2, position = $3 WHERE id = $1",
               {ids[k], keys[root].cluster, position[root]});
  }
  int64_t t = now();
  db_->query(
      "INSERT INTO grading_cases (case_ref, built_at, carve_done_at) VALUES ($1, $2, $2) ON "
      "CONFLICT (case_ref) DO UPDATE SET built_at = excluded.built_at, carve_done_at = "
      "excluded.carve_done_at",
      {case_ref, t});
  stamp_complete(case_ref);
  GradingStatus st = status_tx(case_ref);
  audit_add(user, "grading.build", "case", case_ref, "grading queue built from the media index",
            json(),
            {{"items", st.items},
             {"clusters", st.clusters},
             {"known", st.known},
             {"decided", st.decided}});
  return st;
}

void SqlStore::stamp_complete(const std::string& case_ref) {
  bool left = !db_->query(
                      "SELECT 1 FROM grading_items WHERE case_ref = $1 AND state <> 'decided' "
                      "LIMIT 1",
                      {case_ref})
                   .empty();
  if (left)
    db_->query("UPDATE grading_cases SET complete_at = 0 WHERE case_ref = $1", {case_ref});
  else
    db_->query("UPDATE grading_cases SET complete_at = $2 WHERE case_ref = $1 AND complete_at = 0",
               {case_ref, now()});
}

GradingStatus SqlStore::status_tx(const std::string& case_ref) {
  auto c = db_->query(
      "SELECT carve_done_at, complete_at, exported_at, exported_by FROM grading_cases WHERE "
      "case_ref = $1",
      {case_ref});
  if (c.empty())
    throw QueueError(
        Kind::not_found,
        fmt::format("case {} has no grading queue (no device of it has findings yet)", case_ref));
  GradingStatus s;
  s.case_ref = case_ref;
  s.carve_done_at = c[0].integer(0);
  s.complete_at = c[0].integer(1);
  s.exported_at = c[0].integer(2);
  s.exported_by = c[0].text(3);
  for (auto& r : db_->query("SELECT state, COUNT(*) FROM grading_items WHERE case_ref = $1 GROUP "
                            "BY state",
                            {case_ref})) {
    s.items += r.integer(1);
    if (r.text(0) == "decided") s.decided = r.integer(1);
    if (r.text(0) == "open") s.open = r.integer(1);
    if (r.text(0) == "review") s.review = r.integer(1);
  }
  auto r = db_->query(
                  "SELECT COUNT(DISTINCT cluster), COALESCE(SUM(CASE WHEN source LIKE 'set %' "
                  "THEN 1 ELSE 0 END), 0) FROM grading_items WHERE case_ref = $1",
                  {case_ref})
               .at(0);
  s.clusters = r.integer(0);
  s.known = r.integer(1);
  return s;
}

GradingStatus SqlStore::grading_status(const std::string& case_ref) {
  load_case(case_ref, false);
  return status_tx(case_ref);
}

std::vector<GradingStatus> SqlStore::grading_cases() {
  std::vector<GradingStatus> out;
  for (auto& r : db_->query("SELECT case_ref FROM grading_cases ORDER BY case_ref"))
    out.push_back(status_tx(r.text(0)));
  return out;
}

std::string SqlStore::carve_folder(const std::string& exhibit) {
  auto r = db_->query("SELECT carve_dir FROM findings WHERE exhibit = $1", {exhibit});
  return r.empty() ? "" : r[0].text(0);
}

GraderSettings SqlStore::grader_settings(const std::string& grader) {
  GraderSettings s;
  auto r = db_->query("SELECT blur, break_after FROM grader_settings WHERE grader = $1", {grader});
  if (!r.empty()) s.blur = r[0].integer(0) != 0, s.break_after = r[0].integer(1);
  return s;
}

GraderSettings SqlStore::set_grader_settings(const std::string& grader, const GraderSettings& s) {
  if (s.break_after < 0 || s.break_after > 100000)
    throw QueueError(Kind::invalid, "break_after must be from 0 to 100000");
  return write([&] {
    db_->query(
        "INSERT INTO grader_settings (grader, blur, break_after) VALUES ($1, $2, $3) ON CONFLICT "
        "(grader) DO UPDATE SET blur = excluded.blur, break_after = excluded.break_after",
        {grader, int64_t{s.blur}, s.break_after});
    return s;
  });
}

}  // namespace safehold::scheduler::detail
