// Findings flow back: lab hash sets, each device's findings, the queue-wide media index (exact
// hashes and PDQ by multi-index hashing), links between cases and the findings policy
// (docs/scheduler.md "Findings"). Alerts and effects carry references and counts, never file
// names: the worker sends none (artefact ids and hashes only).
#include <fmt/core.h>

#include <algorithm>
#include <map>
#include <set>

#include "scheduler/pdq_index.hpp"
#include "scheduler/sql_store.hpp"

namespace safehold::scheduler {

bool valid_set_category(std::string_view c) {
  return c == "indecent" || c == "ignorable" || c == "other";
}

nlohmann::json to_json(const Link& l) {
  return {{"id", l.id},
          {"exhibit", l.exhibit},
          {"case", l.case_ref},
          {"other_exhibit", l.other_exhibit},
          {"other_case", l.other_case_ref},
          {"exact", l.exact},
          {"near", l.near},
          {"min_distance", l.min_distance},
          {"at", utc_iso8601(l.at)}};
}

}  // namespace safehold::scheduler

namespace safehold::scheduler::detail {
namespace {

constexpr const char* kLinkCols =
    "id, exhibit, case_ref, other_exhibit, other_case_ref, exact, near, min_distance, at";

Link link_from(const Row& r) {
  Link l;
  l.id = r.integer(0);
  l.exhibit = r.text(1);
  l.case_ref = r.text(2);
  l.other_exhibit = r.text(3);
  l.other_case_ref = r.text(4);
  l.exact = r.integer(5);
  l.near = r.integer(6);
  l.min_distance = static_cast<int>(r.integer(7));
  l.at = r.integer(8);
  return l;
}

json hashset_json(const LabHashSet& s) {
  return {{"name", s.name},         {"path", s.path},         {"category", s.category},
          {"set_name", s.set_name}, {"added_at", s.added_at}, {"added_by", s.added_by}};
}

bool hex_of(const std::string& s, size_t n) {
  return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// Hashes come from the worker's reading of a carve's report: checked like any input.
void check_media(const MediaHash& m) {
  if (m.artefact.empty() || m.artefact.size() > 64 || m.type.empty() || m.type.size() > 16)
    throw QueueError(Kind::invalid, "a media entry needs an artefact id and a type");
  if (!hex_of(m.md5, 32) || !hex_of(m.sha1, 40) || !hex_of(m.sha256, 64))
    throw QueueError(Kind::invalid,
                     fmt::format("media {}: MD5, SHA-1 and SHA-256 must be lowercase hex",
                                 m.artefact.substr(0, 64)));
  if (!m.pdq.empty() && !parse_pdq(m.pdq))
    throw QueueError(Kind::invalid, fmt::format("media {}: bad PDQ hash", m.artefact));
  for (auto& v : m.variants)
    if (!parse_pdq(v))
      throw QueueError(Kind::invalid, fmt::format("media {}: bad PDQ variant", m.artefact));
  if (!m.known_category.empty() && !valid_set_category(m.known_category))
    throw QueueError(Kind::invalid, fmt::format("media {}: unknown category", m.artefact));
  if (m.known_set.size() > 200 || m.known_grade.size() > 64)
    throw QueueError(Kind::invalid,
                     fmt::format("media {}: set name or category too long", m.artefact));
  if (m.frames.size() > kMaxVideoFrames)
    throw QueueError(Kind::invalid, fmt::format("media {}: more than {} frame hashes", m.artefact,
                                                kMaxVideoFrames));
  for (auto& fr : m.frames)
    if (!parse_pdq(fr.pdq) || fr.quality < 0 || fr.quality > 100)
      throw QueueError(Kind::invalid, fmt::format("media {}: bad frame hash", m.artefact));
}

// One indexed picture of another device (or of this one), for the PDQ search.
struct Indexed {
  std::string exhibit, case_ref, sha256, known_category;
};

struct LinkAcc {
  std::string case_ref;
  std::set<std::string> exact, near;  // this device's artefacts matched
  int min_distance = 256;
};

// A near match of this device's medium `m` with the indexed `it` at `dist`: the strongest known
// category it is near (indecent first, ignorable never), and a link when `it` is another case's.
void note_near(const Device& d, const MediaHash& m, const Indexed& it, int dist,
               std::string& near_category, std::map<std::string, LinkAcc>& acc) {
  if (it.sha256 == m.sha256) return;  // the same file: exact, not near
  if (m.known_category.empty() && !it.known_category.empty() && it.known_category != "ignorable" &&
      (near_category.empty() || it.known_category == "indecent"))
    near_category = it.known_category;
  if (it.case_ref == d.case_ref) return;
  auto& a = acc[it.exhibit];
  a.case_ref = it.case_ref;
  a.near.insert(m.artefact);
  a.min_distance = std::min(a.min_distance, dist);
}

// One indexed video of another device: its identity and its count of frames in the index.
struct IndexedVideo {
  Indexed where;
  size_t frames = 0;
};

// The videos of other devices in the queue's frame index, and their frames' index.
struct VideoIndex {
  std::vector<IndexedVideo> videos;
  std::vector<uint32_t> video_of;  // frame id -> index in videos
  PdqIndex index;
};

VideoIndex load_video_index(Db& db, const std::string& exhibit) {
  VideoIndex vi;
  std::map<std::pair<std::string, std::string>, uint32_t> ids;  // (exhibit, artefact) -> video
  for (auto& r : db.query("SELECT exhibit, case_ref, artefact, sha256, known_category, pdq FROM "
                          "media_frames WHERE exhibit <> $1 ORDER BY id",
                          {exhibit})) {
    auto [it, fresh] =
        ids.try_emplace({r.text(0), r.text(2)}, static_cast<uint32_t>(vi.videos.size()));
    if (fresh) vi.videos.push_back({{r.text(0), r.text(1), r.text(3), r.text(4)}, 0});
    ++vi.videos[it->second].frames;
    vi.index.add(*parse_pdq(r.text(5)), static_cast<uint32_t>(vi.video_of.size()));
    vi.video_of.push_back(it->second);
  }
  vi.index.build();
  return vi;
}

// vPDQ's rule (pdq/video.hpp's match_videos, by the index instead of every pair): the share of
// the query's frames (already distinct, of quality >= 50) within distance 31 of some frame of
// each other video, with the smallest distance met; the videos where it reaches 80%.
struct VideoHit {
  uint32_t video;
  int min_distance;
};
std::vector<VideoHit> matching_videos(const VideoIndex& vi, const MediaHash& q) {
  std::map<uint32_t, std::pair<size_t, int>> found;  // video -> (frames found, min distance)
  for (auto& fr : q.frames) {
    std::map<uint32_t, int> here;  // videos this frame is found in, nearest distance
    for (auto [id, dist] : vi.index.search(*parse_pdq(fr.pdq), 31)) {
      auto [it, fresh] = here.try_emplace(vi.video_of[id], dist);
      if (!fresh) it->second = std::min(it->second, dist);
    }
    for (auto [v, dist] : here) {
      auto& f = found[v];
      if (f.first++ == 0) f.second = dist;
      f.second = std::min(f.second, dist);
    }
  }
  std::vector<VideoHit> out;
  for (auto& [v, f] : found)
    if (f.first * 100 >= 80 * q.frames.size()) out.push_back({v, f.second});
  return out;
}

}  // namespace

// ---- lab hash sets ----
LabHashSet SqlStore::add_hashset(const std::string& user, const LabHashSet& in) {
  check_id("hash set name", in.name);
  check_id("set name inside the file", in.set_name);
  if (!valid_set_category(in.category))
    throw QueueError(Kind::invalid, fmt::format("hash set category '{}' is not valid: use "
                                                "indecent, ignorable or other",
                                                in.category.substr(0, 40)));
  if (in.path.empty() || in.path[0] != '/')
    throw QueueError(Kind::invalid, "a hash set's path must be absolute");
  return write([&] {
    auto clash = db_->query("SELECT name FROM hashsets WHERE name = $1 OR set_name = $2",
                            {in.name, in.set_name});
    if (!clash.empty())
      throw QueueError(Kind::conflict,
                       fmt::format("hash set {} is already known (or its file's set name {} is "
                                   "used by {})",
                                   in.name, in.set_name, clash[0].text(0)));
    LabHashSet s = in;
    s.added_at = now();
    s.added_by = user;
    db_->query(
        "INSERT INTO hashsets (name, path, category, set_name, added_at, added_by) VALUES ($1, "
        "$2, $3, $4, $5, $6)",
        {s.name, s.path, s.category, s.set_name, s.added_at, s.added_by});
    audit_add(user, "hashset.add", "hashset", s.name, "", json(), hashset_json(s));
    return s;
  });
}

void SqlStore::remove_hashset(const std::string& user, const std::string& name,
                              const std::string& reason) {
  check_reason(reason);
  write([&] {
    auto all = hashsets();
    auto it = std::find_if(all.begin(), all.end(), [&](auto& s) { return s.name == name; });
    if (it == all.end()) throw QueueError(Kind::not_found, fmt::format("no hash set {}", name));
    db_->query("DELETE FROM hashsets WHERE name = $1", {name});
    audit_add(user, "hashset.remove", "hashset", name, reason, hashset_json(*it), json());
    return 0;
  });
}

std::vector<LabHashSet> SqlStore::hashsets() {
  std::vector<LabHashSet> out;
  for (auto& r : db_->query(
           "SELECT name, path, category, set_name, added_at, added_by FROM hashsets ORDER BY "
           "added_at, name"))
    out.push_back({r.text(0), r.text(1), r.text(2), r.text(3), r.integer(4), r.text(5)});
  return out;
}

// ---- findings ----
// Videos: this device's videos against every other device's by vPDQ's rule; a match on another
// case's device is near material of the link, a match with a known video counts in pdq_near.
static void match_videos(Db& db, const Device& d, const DeviceFindings& f,
                         std::map<std::string, LinkAcc>& acc,
                         std::map<std::string, int64_t>& near_known) {
  if (std::none_of(f.media.begin(), f.media.end(), [](auto& m) { return !m.frames.empty(); }))
    return;
  const VideoIndex vi = load_video_index(db, d.exhibit);
  for (auto& m : f.media) {
    if (m.frames.empty()) continue;
    std::string near_category;
    for (auto [v, dist] : matching_videos(vi, m)) {
      note_near(d, m, vi.videos[v].where, dist, near_category, acc);
    }
    if (!near_category.empty()) ++near_known[near_category];
  }
}

std::vector<Link> SqlStore::match_media(const Device& d, const DeviceFindings& f, json& summary) {
  std::map<std::string, LinkAcc> acc;  // other exhibit -> matches
  // Exact: the same SHA-256 on a device of another case.
  for (auto& m : f.media)
    for (auto& r : db_->query("SELECT exhibit, case_ref FROM media WHERE sha256 = $1 AND "
                              "case_ref <> $2",
                              {m.sha256, d.case_ref})) {
      auto& a = acc[r.text(0)];
      a.case_ref = r.text(1);
      a.exact.insert(m.artefact);
      a.min_distance = 0;
    }
  // PDQ: every indexed picture of quality >= 50, this device's known ones included.
  std::vector<Indexed> items;
  PdqIndex index;
  for (auto& r : db_->query("SELECT exhibit, case_ref, sha256, known_category, pdq FROM media "
                            "WHERE pdq <> '' AND quality >= 50")) {
    index.add(*parse_pdq(r.text(4)), static_cast<uint32_t>(items.size()));
    items.push_back({r.text(0), r.text(1), r.text(2), r.text(3)});
  }
  for (auto& m : f.media)
    if (!m.pdq.empty() && m.quality >= 50 && !m.known_category.empty()) {
      index.add(*parse_pdq(m.pdq), static_cast<uint32_t>(items.size()));
      items.push_back({d.exhibit, d.case_ref, m.sha256, m.known_category});
    }
  index.build();
  std::map<std::string, int64_t> near_known;  // category -> this device's media near known ones
  for (auto& m : f.media) {
    if (m.pdq.empty() || m.quality < 50) continue;
    std::vector<std::string> qs = m.variants.empty() ? std::vector<std::string>{m.pdq} : m.variants;
    std::string near_category;
    for (auto& qh : qs)
      for (auto [id, dist] : index.search(*parse_pdq(qh), 31)) {
        note_near(d, m, items[id], dist, near_category, acc);
      }
    if (!near_category.empty()) ++near_known[near_category];
  }
  match_videos(*db_, d, f, acc, near_known);
  summary["pdq_near"] = near_known;
  std::vector<Link> out;
  for (auto& [other, a] : acc) {
    Link l;
    l.exhibit = d.exhibit;
    l.case_ref = d.case_ref;
    l.other_exhibit = other;
    l.other_case_ref = a.case_ref;
    l.exact = static_cast<int64_t>(a.exact.size());
    for (auto& n : a.near) l.near += a.exact.count(n) ? 0 : 1;
    l.min_distance = a.min_distance;
    l.at = now();
    out.push_back(l);
  }
  return out;
}

std::optional<Alert> SqlStore::raise_findings_alert(const std::string& user, const Device& d,
                                                    const std::string& kind,
                                                    const std::string& reason, int64_t hours) {
  if (!db_->query("SELECT 1 FROM alerts WHERE kind = $1 AND exhibit = $2 AND case_ref = $3 AND "
                  "acknowledged_at = 0",
                  {kind, d.exhibit, d.case_ref})
           .empty())
    return std::nullopt;
  Alert a;
  a.case_ref = d.case_ref;
  a.suspect_ref = d.suspect_ref;
  a.kind = kind;
  a.exhibit = d.exhibit;
  a.reason = reason;
  a.raised_at = now();
  a.raised_by = user;
  a.due_at = a.raised_at + hours * 3600;
  a.id = db_->query(
                "INSERT INTO alerts (case_ref, suspect_ref, reason, raised_at, raised_by, due_at, "
                "kind, exhibit) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                {a.case_ref, a.suspect_ref, a.reason, a.raised_at, a.raised_by, a.due_at, a.kind,
                 a.exhibit})
             .at(0)
             .integer(0);
  audit_add(user, "alert.raise", "alert", std::to_string(a.id), "findings: " + kind, json(),
            to_json(a, a.raised_at));
  notify("alert", {{"event", "alert"},
                   {"alert", a.id},
                   {"kind", a.kind},
                   {"case", a.case_ref},
                   {"exhibit", a.exhibit},
                   {"due_at", utc_iso8601(a.due_at)}});
  return a;
}

void SqlStore::add_effect(const Device& d, const std::string& effect, FindingsResult& res) {
  db_->query("INSERT INTO finding_effects (case_ref, exhibit, at, effect) VALUES ($1, $2, $3, $4)",
             {d.case_ref, d.exhibit, now(), effect});
  res.effects.push_back(effect);
}

void SqlStore::apply_findings_policy(const std::string& user, const Device& d, const json& summary,
                                     FindingsResult& res) {
  const Policy p = policy();
  const int64_t indecent = summary.value("known_indecent", int64_t{0});
  const int64_t camera = summary.value("camera_original", int64_t{0});
  Case c = load_case(d.case_ref, true);
  Suspect s = load_suspect(d.suspect_ref, false);
  if (indecent > 0 && static_cast<int>(c.risk) > static_cast<int>(p.indecent_min_risk)) {
    Case after = c;
    after.risk = p.indecent_min_risk;
    db_->query("UPDATE cases SET risk = $2 WHERE reference = $1",
               {c.reference, to_string(after.risk)});
    std::string why = fmt::format(
        "findings: {} known indecent item(s) on {} raised the case from "
        "{} to {}",
        indecent, d.exhibit, to_string(c.risk), to_string(after.risk));
    audit_add(user, "case.update", "case", c.reference, why, case_json(c, View::audit),
              case_json(after, View::audit));
    res.change.devices_reranked += rerank(c.reference, "", user, why, p, false);
    add_effect(d, why, res);
  }
  if (camera > 0 && s.at_risk()) {
    std::string why = fmt::format(
        "possible first-generation material, review now: {} camera-original item(s) in no set on "
        "{}",
        camera, d.exhibit);
    if (auto a = raise_findings_alert(user, d, "first-generation", why, p.firstgen_alert_hours)) {
      res.change.alerts_raised.push_back(*a);
      add_effect(d,
                 fmt::format("findings: first-generation alert {} raised ({} camera-original "
                             "item(s) on {})",
                             a->id, camera, d.exhibit),
                 res);
    }
  }
  bool household_unknown = !s.at_risk() && (s.lives_with_children == Answer::unknown ||
                                            s.access_to_children == Answer::unknown);
  if (indecent > 0 && household_unknown) {
    std::string why =
        fmt::format("establish the household facts of suspect {}: {} known indecent item(s) on {}",
                    s.reference, indecent, d.exhibit);
    if (auto a = raise_findings_alert(user, d, "task", why, p.task_hours)) {
      res.change.alerts_raised.push_back(*a);
      add_effect(d, fmt::format("findings: task {} raised to establish household facts", a->id),
                 res);
    }
  }
}

FindingsResult SqlStore::record_findings(const std::string& user, const std::string& exhibit,
                                         const DeviceFindings& f) {
  for (auto& m : f.media) check_media(m);
  if (!f.summary.is_object()) throw QueueError(Kind::invalid, "findings must be a JSON object");
  if (!f.carve_dir.empty() && (f.carve_dir[0] != '/' || f.carve_dir.size() > 4096))
    throw QueueError(Kind::invalid, "a carve folder must be an absolute path");
  return write([&] {
    // One recorder at a time, so that two devices carved at once still see each other's media.
    if (pg_) db_->query("SELECT pg_advisory_xact_lock(7731020)");
    Device d = load_device(exhibit, true).d;
    FindingsResult res;
    res.summary = f.summary;
    for (const char* t : {"media", "findings", "media_frames"})
      db_->query(fmt::format("DELETE FROM {} WHERE exhibit = $1", t), {exhibit});
    db_->query("DELETE FROM links WHERE exhibit = $1 OR other_exhibit = $1", {exhibit});
    res.links = match_media(d, f, res.summary);
    for (auto& m : f.media)
      db_->query(
          "INSERT INTO media (exhibit, case_ref, artefact, type, md5, sha1, sha256, pdq, quality, "
          "known_category, camera, known_set, known_grade) VALUES ($1, $2, $3, $4, $5, $6, $7, "
          "$8, $9, $10, $11, $12, $13)",
          {d.exhibit, d.case_ref, m.artefact, m.type, m.md5, m.sha1, m.sha256, m.pdq,
           static_cast<int64_t>(m.quality), m.known_category, int64_t{m.camera}, m.known_set,
           m.known_grade});
    for (auto& m : f.media)
      for (auto& fr : m.frames)
        db_->query(
            "INSERT INTO media_frames (exhibit, case_ref, artefact, sha256, known_category, pdq, "
            "quality) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            {d.exhibit, d.case_ref, m.artefact, m.sha256, m.known_category, fr.pdq,
             static_cast<int64_t>(fr.quality)});
    res.summary["links"] = res.links.size();
    db_->query(
        "INSERT INTO findings (exhibit, case_ref, at, summary, carve_dir) VALUES ($1, $2, $3, $4, "
        "$5)",
        {d.exhibit, d.case_ref, now(), res.summary.dump(), f.carve_dir});
    audit_add(user, "device.findings", "device", d.exhibit, "findings of the carve", json(),
              res.summary);
    for (auto& l : res.links) {
      l.id = db_->query(
                    "INSERT INTO links (exhibit, case_ref, other_exhibit, other_case_ref, exact, "
                    "near, min_distance, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                    {l.exhibit, l.case_ref, l.other_exhibit, l.other_case_ref, l.exact, l.near,
                     static_cast<int64_t>(l.min_distance), l.at})
                 .at(0)
                 .integer(0);
      audit_add(user, "link.add", "link", std::to_string(l.id), "findings: shared material", json(),
                to_json(l));
      notify("link", {{"event", "link"},
                      {"link", l.id},
                      {"case", l.case_ref},
                      {"exhibit", l.exhibit},
                      {"other_case", l.other_case_ref},
                      {"other_exhibit", l.other_exhibit},
                      {"exact", l.exact},
                      {"near", l.near}});
      std::string counts = fmt::format("{} exact, {} near", l.exact, l.near);
      Device other = load_device(l.other_exhibit, false).d;
      const Policy p = policy();
      if (auto a =
              raise_findings_alert(user, d, "link",
                                   fmt::format("material on {} also on {} of case {} ({})",
                                               d.exhibit, other.exhibit, other.case_ref, counts),
                                   p.link_alert_hours))
        res.change.alerts_raised.push_back(*a);
      if (auto a = raise_findings_alert(user, other, "link",
                                        fmt::format("material on {} also on {} of case {} ({})",
                                                    other.exhibit, d.exhibit, d.case_ref, counts),
                                        p.link_alert_hours))
        res.change.alerts_raised.push_back(*a);
      add_effect(d,
                 fmt::format("findings: linked to {} of case {} ({})", other.exhibit,
                             other.case_ref, counts),
                 res);
      add_effect(
          other,
          fmt::format("findings: linked to {} of case {} ({})", d.exhibit, d.case_ref, counts),
          res);
    }
    apply_findings_policy(user, d, res.summary, res);
    build_grading_tx(user, d.case_ref);
    return res;
  });
}

json SqlStore::findings(const std::string& exhibit) {
  Device d = load_device(exhibit, false).d;
  auto rows = db_->query("SELECT at, summary FROM findings WHERE exhibit = $1", {exhibit});
  if (rows.empty())
    throw QueueError(Kind::not_found, fmt::format("no findings recorded for {}", exhibit));
  json j = {{"exhibit", d.exhibit},
            {"case", d.case_ref},
            {"suspect", d.suspect_ref},
            {"state", to_string(d.state)},
            {"recorded_at", utc_iso8601(rows[0].integer(0))},
            {"summary", json::parse(rows[0].text(1), nullptr, false)}};
  json links = json::array();
  for (auto& r : db_->query(std::string("SELECT ") + kLinkCols +
                                " FROM links WHERE exhibit = $1 OR other_exhibit = $1 ORDER BY id",
                            {exhibit}))
    links.push_back(to_json(link_from(r)));
  j["links"] = links;
  json effects = json::array();
  for (auto& r :
       db_->query("SELECT effect FROM finding_effects WHERE exhibit = $1 ORDER BY id", {exhibit}))
    effects.push_back(r.text(0));
  j["effects"] = effects;
  return j;
}

// ---- notifications (the outbox) ----
void SqlStore::notify(const std::string& event, const json& payload) {
  int64_t t = now();
  db_->query("INSERT INTO outbox (event, payload, created_at, next_at) VALUES ($1, $2, $3, $3)",
             {event, payload.dump(), t});
}

std::vector<Notification> SqlStore::due_notifications(int64_t limit) {
  std::vector<Notification> out;
  for (auto& r : db_->query("SELECT id, event, payload, created_at, next_at, attempts FROM outbox "
                            "WHERE delivered_at = 0 AND next_at <= $1 ORDER BY id LIMIT $2",
                            {now(), limit}))
    out.push_back({r.integer(0), r.text(1), r.text(2), r.integer(3), r.integer(4),
                   static_cast<int>(r.integer(5))});
  return out;
}

void SqlStore::notification_result(const std::string& user, int64_t id, bool delivered,
                                   const std::string& detail, int64_t retry_at) {
  write([&] {
    auto rows = db_->query("SELECT attempts, delivered_at FROM outbox WHERE id = $1", {id});
    if (rows.empty()) throw QueueError(Kind::not_found, fmt::format("no notification {}", id));
    int64_t attempts = rows[0].integer(0) + 1, t = now();
    db_->query("UPDATE outbox SET attempts = $2, delivered_at = $3, next_at = $4 WHERE id = $1",
               {id, attempts, delivered ? t : int64_t{0}, delivered ? t : retry_at});
    audit_add(user, delivered ? "notify.delivered" : "notify.failed", "notification",
              std::to_string(id), detail, json(),
              {{"attempts", attempts}, {"next_at", delivered ? json() : json(retry_at)}});
    return 0;
  });
}

std::vector<Link> SqlStore::links(const std::string& case_ref) {
  std::string sql = std::string("SELECT ") + kLinkCols + " FROM links";
  std::vector<Param> params;
  if (!case_ref.empty()) {
    sql += " WHERE case_ref = $1 OR other_case_ref = $1";
    params.push_back(case_ref);
  }
  std::vector<Link> out;
  for (auto& r : db_->query(sql + " ORDER BY id DESC", params)) out.push_back(link_from(r));
  return out;
}

}  // namespace safehold::scheduler::detail
