// The grading routes (docs/grading.md, docs/API.md "Grading"): a grader's next cluster, votes,
// undo, split, reveal, the picture of an item, settings; a manager's review list and decisions,
// agreement statistics and the per-case VICS export (base/vics.hpp's document).
#include <fmt/chrono.h>
#include <fmt/core.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "base/vics.hpp"
#include "server/api_internal.hpp"

namespace safehold::server::detail {
namespace {

// The case of a /api/grading/{case}/… route.
const std::string& case_of(Call& c) {
  return c.id;
}

json profile_json(const Policy& p) {
  return {{"profile", to_string(p.grading_profile)},
          {"categories", grading_categories(p.grading_profile)},
          {"votes_needed", p.votes_needed}};
}

Response list(Call& c) {
  json arr = json::array();
  for (auto& s : c.store->grading_cases()) arr.push_back(to_json(s));
  return json_response(arr);
}

Response status(Call& c) {
  return json_response(to_json(c.store->grading_status(case_of(c))));
}

Response next(Call& c) {
  Store& s = *c.store;
  auto cl = s.next_cluster(c.user, case_of(c));
  json j = cl ? to_json(*cl)
              : json{{"case", case_of(c)},
                     {"cluster", nullptr},
                     {"items", json::array()},
                     {"remaining", 0}};
  j["policy"] = profile_json(s.policy());
  auto st = s.grader_settings(c.user);
  j["settings"] = {{"blur", st.blur}, {"break_after", st.break_after}};
  return json_response(j);
}

Response vote(Call& c) {
  auto j = body_object(c.req);
  Fields f(j, {"cluster", "items", "category"});
  std::vector<int64_t> items;
  if (f.has("items")) {
    const auto& v = j.at("items");
    if (!v.is_array()) throw HttpError{400, "field 'items' must be an array of item ids", "items"};
    for (auto& e : v) {
      if (!e.is_number_integer())
        throw HttpError{400, "field 'items' must be an array of item ids", "items"};
      items.push_back(e.get<int64_t>());
    }
  }
  int64_t cluster = f.integer("cluster").value_or(0);
  if ((cluster > 0) == !items.empty())
    throw HttpError{400, "give either 'cluster' (the whole cluster) or 'items'", "cluster"};
  auto category = *f.str("category", true);
  return json_response(to_json(c.store->vote(c.user, case_of(c), cluster, items, category)));
}

Response undo(Call& c) {
  return json_response(to_json(c.store->undo_vote(c.user, case_of(c))));
}

Response split(Call& c) {
  return json_response(to_json(c.store->split_item(c.user, id_segment(c.id, "grading item"))));
}

Response reveal(Call& c) {
  auto i = c.store->reveal_item(c.user, id_segment(c.id, "grading item"));
  return json_response({{"item", i.id}, {"revealed", true}});
}

// The picture the carve stored for the item's first copy (artefacts/<type>/<id>.<ext> under the
// carve folder recorded with the device's findings). Nothing is made here: no file, no preview.
Response picture(Call& c) {
  Store& s = *c.store;
  auto item = s.grading_item(c.user, id_segment(c.id, "grading item"));
  auto safe = [](const std::string& x) {
    return !x.empty() && x.size() <= 64 &&
           x.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string::npos;
  };
  static const std::map<std::string, std::vector<std::string>> kExt = {{"jpeg", {"jpg", "jpeg"}},
                                                                       {"png", {"png"}},
                                                                       {"gif", {"gif"}},
                                                                       {"bmp", {"bmp"}},
                                                                       {"webp", {"webp"}}};
  auto ext = kExt.find(item.type);
  if (ext == kExt.end() || !safe(item.type) || !safe(item.artefact) || item.exhibits.empty())
    throw HttpError{404, fmt::format("item {} has no stored picture ({})", item.id, item.type), ""};
  std::string dir = s.carve_folder(item.exhibits[0]);
  if (dir.empty())
    throw HttpError{404, fmt::format("the carve folder of {} is not known", item.exhibits[0]), ""};
  for (auto& e : ext->second) {
    auto p = std::filesystem::path(dir) / "artefacts" / item.type / (item.artefact + "." + e);
    std::error_code ec;
    auto size = std::filesystem::file_size(p, ec);
    if (ec) continue;
    if (size > (32u << 20))
      throw HttpError{404, fmt::format("item {}'s picture is over 32 MiB", item.id), ""};
    std::ifstream in(p, std::ios::binary);
    Response r;
    r.content_type = item.type == "jpeg" ? "image/jpeg" : "image/" + item.type;
    r.body.assign(std::istreambuf_iterator<char>(in), {});
    r.headers.push_back({"Cache-Control", "no-store"});
    return r;
  }
  throw HttpError{404, fmt::format("item {}'s picture is not in the carve folder", item.id), ""};
}

Response get_settings(Call& c) {
  auto st = c.store->grader_settings(c.user);
  return json_response({{"blur", st.blur}, {"break_after", st.break_after}});
}

Response put_settings(Call& c) {
  auto j = body_object(c.req);
  Fields f(j, {"blur", "break_after"});
  GraderSettings st = c.store->grader_settings(c.user);
  if (f.has("blur")) {
    if (!j.at("blur").is_boolean())
      throw HttpError{400, "field 'blur' must be true or false", "blur"};
    st.blur = j.at("blur").get<bool>();
  }
  if (auto v = f.integer("break_after")) st.break_after = *v;
  st = c.store->set_grader_settings(c.user, st);
  return json_response({{"blur", st.blur}, {"break_after", st.break_after}});
}

Response reviews(Call& c) {
  json arr = json::array();
  for (auto& r : c.store->reviews(case_of(c), !query_bool(c.t, "all"))) arr.push_back(to_json(r));
  return json_response(arr);
}

Response decide(Call& c) {
  auto j = body_object(c.req);
  Fields f(j, {"category", "reason"});
  auto category = *f.str("category", true);
  auto reason = f.reason();
  return json_response(
      to_json(c.store->decide(c.user, id_segment(c.id, "grading item"), category, reason)));
}

Response stats(Call& c) {
  json arr = json::array();
  for (auto& s : c.store->grading_stats(case_of(c))) arr.push_back(to_json(s));
  return json_response(arr);
}

// The case's VICS document: every item decided (409 otherwise), the carve folders' report.jsonl
// read by base/vics.hpp with the queue's exhibits as SourceID and the decided categories.
Response export_vics(Call& c) {
  Store& s = *c.store;
  auto j = body_object(c.req);
  Fields f(j, {"shape"});
  auto shape = f.str("shape").value_or("uk-cases");
  if (shape != "media" && shape != "uk-cases")
    throw HttpError{400, "field 'shape' must be one of: media, uk-cases", "shape"};
  auto e = s.grading_export(case_of(c));
  base::VicsOptions o;
  o.shape = shape == "media" ? base::VicsShape::media : base::VicsShape::uk_cases;
  o.case_ref = case_of(c);
  std::vector<std::filesystem::path> dirs;
  for (auto& [exhibit, dir] : e.carve_dirs) {
    dirs.emplace_back(dir);
    o.exhibits.push_back(exhibit);
  }
  o.grades = e.grades;
  std::string date = utc_iso8601(s.now());
  base::VicsStats st;
  json doc;
  try {
    doc = base::build_vics(dirs, date, &st, o);
  } catch (const base::VicsError& err) {
    throw HttpError{409, std::string("the export cannot be made: ") + err.what(), ""};
  }
  s.record_grading_export(c.user, case_of(c), shape, static_cast<int64_t>(st.media));
  Response r = json_response(doc);
  r.headers.push_back(
      {"Content-Disposition", fmt::format("attachment; filename=\"vics-{}.json\"", shape)});
  return r;
}

std::string label(const std::string& v) {
  std::string out;
  for (char ch : v) {
    if (ch == '\\' || ch == '"') out += '\\';
    if (ch == '\n') {
      out += "\\n";
      continue;
    }
    out += ch;
  }
  return out;
}

}  // namespace

std::string grading_prometheus(const std::vector<GradingStatus>& cases) {
  std::string out =
      "# HELP safehold_grading_items Items of a case's grading queue by state.\n"
      "# TYPE safehold_grading_items gauge\n";
  for (auto& c : cases)
    for (auto [state, n] :
         {std::pair{"open", c.open}, {"review", c.review}, {"decided", c.decided}})
      out += fmt::format("safehold_grading_items{{case=\"{}\",state=\"{}\"}} {}\n",
                         label(c.case_ref), state, n);
  out +=
      "# HELP safehold_submission_seconds Time to submission per case: carve done to grading "
      "complete (grading), to the first VICS export (export), and both (submission).\n"
      "# TYPE safehold_submission_seconds gauge\n";
  for (auto& c : cases) {
    auto one = [&](const char* phase, int64_t a, int64_t b) {
      if (a && b)
        out += fmt::format("safehold_submission_seconds{{case=\"{}\",phase=\"{}\"}} {}\n",
                           label(c.case_ref), phase, b - a);
    };
    one("grading", c.carve_done_at, c.complete_at);
    one("export", c.complete_at, c.exported_at);
    one("submission", c.carve_done_at, c.exported_at);
  }
  return out;
}

const std::vector<Route>& grading_routes() {
  static const std::vector<Route> table = {
      {{"api", "grading"}, "/api/grading", {{"GET", Need::any, list}}},
      {{"api", "grading", "settings"},
       "/api/grading/settings",
       {{"GET", Need::grade, get_settings}, {"PUT", Need::grade, put_settings}}},
      {{"api", "grading", "items", "*", "split"},
       "/api/grading/items/{item}/split",
       {{"POST", Need::grade, split}}},
      {{"api", "grading", "items", "*", "reveal"},
       "/api/grading/items/{item}/reveal",
       {{"POST", Need::grade, reveal}}},
      {{"api", "grading", "items", "*", "picture"},
       "/api/grading/items/{item}/picture",
       {{"GET", Need::grade, picture}}},
      {{"api", "grading", "items", "*", "decide"},
       "/api/grading/items/{item}/decide",
       {{"POST", Need::manage, decide}}},
      {{"api", "grading", "*"}, "/api/grading/{case}", {{"GET", Need::any, status}}},
      {{"api", "grading", "*", "next"}, "/api/grading/{case}/next", {{"GET", Need::grade, next}}},
      {{"api", "grading", "*", "vote"}, "/api/grading/{case}/vote", {{"POST", Need::grade, vote}}},
      {{"api", "grading", "*", "undo"}, "/api/grading/{case}/undo", {{"POST", Need::grade, undo}}},
      {{"api", "grading", "*", "reviews"},
       "/api/grading/{case}/reviews",
       {{"GET", Need::manage, reviews}}},
      {{"api", "grading", "*", "stats"},
       "/api/grading/{case}/stats",
       {{"GET", Need::manage, stats}}},
      {{"api", "grading", "*", "export"},
       "/api/grading/{case}/export",
       {{"POST", Need::manage, export_vics}}},
  };
  return table;
}

}  // namespace safehold::server::detail
