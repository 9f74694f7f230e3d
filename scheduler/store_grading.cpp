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

constexpr const char* kItemCols =
    "id, case_ref, cluster, type, md5, sha1, sha256, pdq, quality, copies, exhibits, artefact, "
    "camera, known_set, state, category, source";

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find('\n', i);
    if (j == std::string::npos) j = s.size();
    out.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::string join_list(const std::vector<std::string>& v) {
  std::string out;
  for (auto& x : v) out += (out.empty() ? "" : "\n") + x;
  return out;
}

GradingItem item_from(const Row& r) {
  GradingItem i;
  i.id = r.integer(0);
  i.case_ref = r.text(1);
  i.cluster = r.integer(2);
  i.type = r.text(3);
  i.md5 = r.text(4);
  i.sha1 = r.text(5);
  i.sha256 = r.text(6);
  i.pdq = r.text(7);
  i.quality = static_cast<int>(r.integer(8));
  i.copies = r.integer(9);
  i.exhibits = split_list(r.text(10));
  i.artefact = r.text(11);
  i.camera = r.integer(12) != 0;
  i.known_set = r.text(13);
  i.state = r.text(14);
  i.category = r.text(15);
  i.source = r.text(16);
  return i;
}

bool in_profile(GradingProfile p, const std::string& c) {
  const auto& all = grading_categories(p);
  return std::find(all.begin(), all.end(), c) != all.end();
}

void check_category(GradingProfile p, const std::string& c) {
  if (in_profile(p, c)) return;
  std::string names;
  for (auto& n : grading_categories(p)) names += (names.empty() ? "" : ", ") + n;
  throw QueueError(Kind::invalid, fmt::format("category '{}' is not one of the {} profile's: {}",
                                              c.substr(0, 40), to_string(p), names));
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

// ---- grading ----
GradingItem SqlStore::load_item(int64_t id, const std::string& grader) {
  auto rows =
      db_->query(std::string("SELECT ") + kItemCols + " FROM grading_items WHERE id = $1", {id});
  if (rows.empty()) throw QueueError(Kind::not_found, fmt::format("no grading item {}", id));
  GradingItem i = item_from(rows[0]);
  i.votes = db_->query("SELECT COUNT(*) FROM grading_votes WHERE item = $1", {id}).at(0).integer(0);
  auto mine = db_->query("SELECT category FROM grading_votes WHERE item = $1 AND grader = $2",
                         {id, grader});
  if (!mine.empty()) i.my_vote = mine[0].text(0);
  return i;
}

GradingItem SqlStore::grading_item(const std::string& grader, int64_t item) {
  return load_item(item, grader);
}

namespace {
// Items a grader may vote on: open, not voted on by them, short of votes ($2 grader, $3 needed).
constexpr const char* kPending =
    "state = 'open' AND NOT EXISTS (SELECT 1 FROM grading_votes v WHERE v.item = i.id AND "
    "v.grader = $2) AND (SELECT COUNT(*) FROM grading_votes v WHERE v.item = i.id) < $3";

int64_t day_start(int64_t t) {
  return t - ((t % 86400) + 86400) % 86400;
}
}  // namespace

std::optional<GradingCluster> SqlStore::next_cluster(const std::string& grader,
                                                     const std::string& case_ref) {
  load_case(case_ref, false);
  if (db_->query("SELECT 1 FROM grading_cases WHERE case_ref = $1", {case_ref}).empty())
    status_tx(case_ref);  // not_found, naming the case
  const int64_t need = policy().votes_needed;
  auto first = db_->query(
      fmt::format("SELECT cluster FROM grading_items i WHERE case_ref = $1 AND {} ORDER BY "
                  "position, cluster LIMIT 1",
                  kPending),
      {case_ref, grader, need});
  if (first.empty()) return std::nullopt;
  GradingCluster c;
  c.case_ref = case_ref;
  c.cluster = first[0].integer(0);
  for (auto& r : db_->query(fmt::format("SELECT id FROM grading_items i WHERE case_ref = $1 AND "
                                        "cluster = $4 AND {} ORDER BY id",
                                        kPending),
                            {case_ref, grader, need, c.cluster}))
    c.items.push_back(load_item(r.integer(0), grader));
  c.remaining = db_->query(fmt::format("SELECT COUNT(DISTINCT cluster) FROM grading_items i WHERE "
                                       "case_ref = $1 AND {}",
                                       kPending),
                           {case_ref, grader, need})
                    .at(0)
                    .integer(0);
  c.today = db_->query("SELECT COUNT(*) FROM grading_votes WHERE grader = $1 AND at >= $2",
                       {grader, day_start(now())})
                .at(0)
                .integer(0);
  return c;
}

void SqlStore::settle(const std::string& case_ref, const std::vector<int64_t>& items,
                      VoteResult& res) {
  const int64_t need = policy().votes_needed;
  for (int64_t id : items) {
    auto votes = db_->query("SELECT category FROM grading_votes WHERE item = $1", {id});
    if (static_cast<int64_t>(votes.size()) < need) continue;
    std::string first = votes[0].text(0);
    bool agree = first != "unsure" && std::all_of(votes.begin(), votes.end(),
                                                  [&](const Row& r) { return r.text(0) == first; });
    if (agree) {
      db_->query(
          "UPDATE grading_items SET state = 'decided', category = $2, source = 'votes' WHERE id "
          "= $1",
          {id, first});
      res.decided.push_back(id);
    } else {
      db_->query("UPDATE grading_items SET state = 'review' WHERE id = $1", {id});
      db_->query("INSERT INTO grading_reviews (item, case_ref, opened_at) VALUES ($1, $2, $3)",
                 {id, case_ref, now()});
      res.review.push_back(id);
    }
  }
  stamp_complete(case_ref);
}

VoteResult SqlStore::vote(const std::string& grader, const std::string& case_ref, int64_t cluster,
                          const std::vector<int64_t>& items, const std::string& category) {
  const Policy pol = policy();
  check_category(pol.grading_profile, category);
  if (cluster <= 0 && items.empty())
    throw QueueError(Kind::invalid, "a vote needs a cluster or at least one item");
  return write([&] {
    load_case(case_ref, false);
    VoteResult res;
    const std::string lock = pg_ ? " FOR UPDATE" : "";
    if (items.empty()) {
      // Lock the cluster's rows first (PostgreSQL), then pick what this grader may still vote on.
      db_->query(
          "SELECT id FROM grading_items WHERE case_ref = $1 AND cluster = $2 ORDER BY id" + lock,
          {case_ref, cluster});
      for (auto& r : db_->query(fmt::format("SELECT id FROM grading_items i WHERE case_ref = $1 "
                                            "AND cluster = $4 AND {} ORDER BY id",
                                            kPending),
                                {case_ref, grader, int64_t{pol.votes_needed}, cluster}))
        res.items.push_back(r.integer(0));
      if (res.items.empty())
        throw QueueError(Kind::conflict,
                         fmt::format("cluster {} of case {} has nothing left for you to vote on",
                                     cluster, case_ref));
    } else {
      std::vector<int64_t> sorted = items;
      std::sort(sorted.begin(), sorted.end());
      sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
      for (int64_t id : sorted) {
        auto rows =
            db_->query("SELECT case_ref, state FROM grading_items WHERE id = $1" + lock, {id});
        if (rows.empty() || rows[0].text(0) != case_ref)
          throw QueueError(Kind::not_found,
                           fmt::format("no grading item {} in case {}", id, case_ref));
        if (rows[0].text(1) != "open")
          throw QueueError(Kind::conflict, fmt::format("item {} is no longer open for votes ({})",
                                                       id, rows[0].text(1)));
        if (!db_->query("SELECT 1 FROM grading_votes WHERE item = $1 AND grader = $2", {id, grader})
                 .empty())
          throw QueueError(Kind::conflict, fmt::format("you have already voted on item {}", id));
        if (db_->query("SELECT COUNT(*) FROM grading_votes WHERE item = $1", {id})
                .at(0)
                .integer(0) >= pol.votes_needed)
          throw QueueError(Kind::conflict, fmt::format("item {} has all its votes", id));
        res.items.push_back(id);
      }
    }
    int64_t t = now();
    res.batch =
        db_->query("SELECT COALESCE(MAX(batch), 0) + 1 FROM grading_votes WHERE grader = $1",
                   {grader})
            .at(0)
            .integer(0);
    for (int64_t id : res.items)
      db_->query(
          "INSERT INTO grading_votes (case_ref, item, grader, category, at, batch) VALUES ($1, $2, "
          "$3, $4, $5, $6)",
          {case_ref, id, grader, category, t, res.batch});
    settle(case_ref, res.items, res);
    res.today = db_->query("SELECT COUNT(*) FROM grading_votes WHERE grader = $1 AND at >= $2",
                           {grader, day_start(t)})
                    .at(0)
                    .integer(0);
    audit_add(grader, "grading.vote", "case", case_ref, "", json(),
              {{"batch", res.batch},
               {"category", category},
               {"items", res.items},
               {"decided", res.decided},
               {"review", res.review}});
    return res;
  });
}

VoteResult SqlStore::undo_vote(const std::string& grader, const std::string& case_ref) {
  return write([&] {
    load_case(case_ref, false);
    auto last =
        db_->query("SELECT MAX(batch) FROM grading_votes WHERE grader = $1 AND case_ref = $2",
                   {grader, case_ref});
    if (last.empty() || last[0].null(0))
      throw QueueError(Kind::conflict,
                       fmt::format("you have no vote to undo in case {}", case_ref));
    VoteResult res;
    res.batch = last[0].integer(0);
    std::string category;
    for (auto& r : db_->query(
             std::string("SELECT v.item, v.category, i.state, i.source FROM grading_votes v JOIN "
                         "grading_items i ON i.id = v.item WHERE v.grader = $1 AND v.case_ref = "
                         "$2 AND v.batch = $3 ORDER BY v.item") +
                 (pg_ ? " FOR UPDATE OF i" : ""),
             {grader, case_ref, res.batch})) {
      category = r.text(1);
      if (r.text(3) == "review")
        throw QueueError(
            Kind::conflict,
            fmt::format("item {} has been decided by a manager since your vote", r.integer(0)));
      res.items.push_back(r.integer(0));
      if (r.text(2) == "review") res.review.push_back(r.integer(0));
      if (r.text(2) == "decided") res.decided.push_back(r.integer(0));
    }
    for (int64_t id : res.items) {
      db_->query("DELETE FROM grading_votes WHERE item = $1 AND grader = $2", {id, grader});
      db_->query("DELETE FROM grading_reviews WHERE item = $1", {id});
      db_->query(
          "UPDATE grading_items SET state = 'open', category = '', source = '' WHERE id = $1",
          {id});
    }
    stamp_complete(case_ref);
    audit_add(grader, "grading.undo", "case", case_ref, "", json(),
              {{"batch", res.batch},
               {"category", category},
               {"items", res.items},
               {"reopened", res.decided},
               {"review_withdrawn", res.review}});
    return res;
  });
}

GradingItem SqlStore::split_item(const std::string& user, int64_t item) {
  return write([&] {
    GradingItem i = load_item(item, user);
    auto size =
        db_->query("SELECT COUNT(*) FROM grading_items WHERE case_ref = $1 AND cluster = $2",
                   {i.case_ref, i.cluster})
            .at(0)
            .integer(0);
    if (size < 2)
      throw QueueError(Kind::conflict,
                       fmt::format("item {} is alone in its cluster already", item));
    int64_t old = i.cluster;
    // The rest keep a cluster id of their own (their smallest item id); the item takes its id.
    int64_t rest = db_->query(
                          "SELECT MIN(id) FROM grading_items WHERE case_ref = $1 AND cluster = "
                          "$2 AND id <> $3",
                          {i.case_ref, old, item})
                       .at(0)
                       .integer(0);
    db_->query(
        "UPDATE grading_items SET cluster = $4 WHERE case_ref = $1 AND cluster = $2 AND id "
        "<> $3",
        {i.case_ref, old, item, rest});
    db_->query("UPDATE grading_items SET cluster = $2, split = 1 WHERE id = $1", {item, item});
    i.cluster = item;
    audit_add(user, "grading.split", "grading-item", std::to_string(item), "", {{"cluster", old}},
              {{"cluster", item}, {"case", i.case_ref}});
    return i;
  });
}

GradingItem SqlStore::reveal_item(const std::string& user, int64_t item) {
  return write([&] {
    GradingItem i = load_item(item, user);
    audit_add(user, "grading.reveal", "grading-item", std::to_string(item), "", json(),
              {{"case", i.case_ref}});
    return i;
  });
}

std::vector<ReviewEntry> SqlStore::reviews(const std::string& case_ref, bool open_only) {
  load_case(case_ref, false);
  std::vector<ReviewEntry> out;
  for (auto& r :
       db_->query(std::string("SELECT item, opened_at, decided_at, decided_by, reason FROM "
                              "grading_reviews WHERE case_ref = $1") +
                      (open_only ? " AND decided_at = 0" : "") + " ORDER BY opened_at, item",
                  {case_ref})) {
    ReviewEntry e;
    e.item = load_item(r.integer(0), "");
    e.opened_at = r.integer(1);
    e.decided_at = r.integer(2);
    e.decided_by = r.text(3);
    e.reason = r.text(4);
    for (auto& v : db_->query("SELECT id, item, batch, grader, category, at FROM grading_votes "
                              "WHERE item = $1 ORDER BY id",
                              {e.item.id}))
      e.votes.push_back(
          {v.integer(0), v.integer(1), v.integer(2), v.text(3), v.text(4), v.integer(5)});
    out.push_back(std::move(e));
  }
  return out;
}

GradingItem SqlStore::decide(const std::string& user, int64_t item, const std::string& category,
                             const std::string& reason) {
  check_reason(reason);
  const Policy pol = policy();
  check_category(pol.grading_profile, category);
  if (category == "unsure")
    throw QueueError(Kind::invalid, "a decision needs a category other than unsure");
  return write([&] {
    GradingItem i = load_item(item, user);
    if (i.state != "review")
      throw QueueError(Kind::conflict, fmt::format("item {} is not in review ({})", item, i.state));
    std::map<std::string, int64_t> counts;
    for (auto& r : db_->query("SELECT category FROM grading_votes WHERE item = $1", {item}))
      ++counts[r.text(0)];
    int64_t t = now();
    db_->query(
        "UPDATE grading_items SET state = 'decided', category = $2, source = 'review' WHERE id = "
        "$1",
        {item, category});
    db_->query(
        "UPDATE grading_reviews SET decided_at = $2, decided_by = $3, category = $4, reason = $5 "
        "WHERE item = $1",
        {item, t, user, category, reason});
    stamp_complete(i.case_ref);
    audit_add(user, "grading.decide", "grading-item", std::to_string(item), reason,
              {{"state", "review"}, {"votes", counts}},
              {{"state", "decided"}, {"category", category}, {"case", i.case_ref}});
    return load_item(item, user);
  });
}

std::vector<GraderStats> SqlStore::grading_stats(const std::string& case_ref) {
  std::string sql =
      "SELECT v.grader, v.category, i.state, i.category FROM grading_votes v JOIN grading_items i "
      "ON i.id = v.item";
  std::vector<Param> p;
  if (!case_ref.empty()) {
    load_case(case_ref, false);
    sql += " WHERE v.case_ref = $1";
    p.push_back(case_ref);
  }
  std::map<std::string, GraderStats> by;
  for (auto& r : db_->query(sql, p)) {
    GraderStats& s = by[r.text(0)];
    s.grader = r.text(0);
    for (GraderStats::Count* c : {&s.total, &s.by_category[r.text(1)]}) {
      ++c->votes;
      if (r.text(2) == "decided") {
        ++c->decided;
        if (r.text(1) == r.text(3)) ++c->agreed;
      }
    }
  }
  std::vector<GraderStats> out;
  for (auto& [k, s] : by) out.push_back(s);
  return out;
}

GradingExport SqlStore::grading_export(const std::string& case_ref) {
  load_case(case_ref, false);
  GradingExport e;
  e.status = status_tx(case_ref);
  if (!e.status.complete())
    throw QueueError(Kind::conflict,
                     fmt::format("case {} is not fully graded: {} item(s) open, {} in review",
                                 case_ref, e.status.open, e.status.review));
  e.profile = policy().grading_profile;
  for (auto& r : db_->query("SELECT exhibit, carve_dir FROM findings WHERE case_ref = $1 ORDER BY "
                            "exhibit",
                            {case_ref})) {
    if (r.text(1).empty())
      throw QueueError(Kind::conflict,
                       fmt::format("the carve folder of {} is not known (carve it again with this "
                                   "release of safehold work)",
                                   r.text(0)));
    e.carve_dirs.emplace_back(r.text(0), r.text(1));
  }
  for (auto& r :
       db_->query("SELECT md5, category FROM grading_items WHERE case_ref = $1", {case_ref}))
    if (auto n = vics_category(e.profile, r.text(1))) e.grades[r.text(0)] = *n;
  return e;
}

GradingStatus SqlStore::record_grading_export(const std::string& user, const std::string& case_ref,
                                              const std::string& shape, int64_t media) {
  if (shape != "media" && shape != "uk-cases")
    throw QueueError(Kind::invalid, fmt::format("export shape '{}' is not media or uk-cases",
                                                shape.substr(0, 40)));
  return write([&] {
    load_case(case_ref, true);
    GradingStatus st = status_tx(case_ref);
    if (!st.complete())
      throw QueueError(Kind::conflict,
                       fmt::format("case {} is not fully graded: {} item(s) open, {} in review",
                                   case_ref, st.open, st.review));
    db_->query(
        "UPDATE grading_cases SET exports = exports + 1, exported_by = CASE WHEN exported_at = 0 "
        "THEN $3 ELSE exported_by END, exported_at = CASE WHEN exported_at = 0 THEN $2 ELSE "
        "exported_at END WHERE case_ref = $1",
        {case_ref, now(), user});
    st = status_tx(case_ref);
    audit_add(user, "grading.export", "case", case_ref, "VICS export", json(),
              {{"shape", shape}, {"media", media}, {"items", st.items}});
    return st;
  });
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
