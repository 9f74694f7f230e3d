// Grading, the graders' side (docs/grading.md): the next cluster for a grader, votes and their
// undo, splits and reveals, review decisions, statistics and the export. Building the queue and
// its status are in store_grading.cpp.
#include <fmt/core.h>

#include <algorithm>
#include <map>
#include <set>

#include "scheduler/sql_store.hpp"

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

void check_category(GradingProfile p, const std::string& c) {
  const auto& all = grading_categories(p);
  if (std::find(all.begin(), all.end(), c) != all.end()) return;
  std::string names;
  for (auto& n : grading_categories(p)) names += (names.empty() ? "" : ", ") + n;
  throw QueueError(Kind::invalid, fmt::format("category '{}' is not one of the {} profile's: {}",
                                              c.substr(0, 40), to_string(p), names));
}

}  // namespace

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

}  // namespace safehold::scheduler::detail
