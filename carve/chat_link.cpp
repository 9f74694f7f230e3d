#include "carve/chat_link.hpp"

#include <algorithm>

#include "chat/contract.hpp"

namespace safehold::carve {

ChatTotals read_chats(std::vector<Artefact>& arts, const std::filesystem::path& outdir,
                      std::vector<fs::Problem>& errors) {
  ChatTotals t;
  std::vector<size_t> dbs;
  for (size_t i = 0; i < arts.size(); ++i)
    if (arts[i].type == "sqlite") dbs.push_back(i);
  if (dbs.empty()) return t;
  chat::ChatContext ctx;
  ctx.outdir = outdir;
  ctx.resolve_media = [&arts](const std::string& stored) { return resolve_media(arts, stored); };
  chat::ChatExtractor x(ctx);
  for (size_t i : dbs) {
    Artefact& a = arts[i];
    chat::DatabaseFound d;
    d.artefact_id = a.id;
    d.db_path = a.path.value_or("");
    d.state = a.state;
    d.file = outdir / a.file;
    if (a.wal_file) d.wal = outdir / *a.wal_file;
    if (a.journal_file) d.journal = outdir / *a.journal_file;
    chat::DatabaseResult res;
    try {
      res = x.process(d);
    } catch (const std::exception& e) {
      res.errors.push_back(std::string("chat reader failed: ") + e.what());
    }
    a.chat =
        ChatFields{res.app, res.reader, res.messages, res.recovered, res.encrypted, res.errors};
    // Why a recognised database gave no messages: a warning on its artefact, not damage.
    a.warnings.insert(a.warnings.end(), res.warnings.begin(), res.warnings.end());
    ++t.databases;
    t.messages += res.messages;
    t.recovered += res.recovered;
    for (auto& e : res.errors) errors.push_back({"artefact " + a.id, e, std::nullopt});
  }
  x.finish();
  return t;
}

std::optional<std::string> resolve_media(const std::vector<Artefact>& arts,
                                         const std::string& stored_in) {
  std::string stored = stored_in;
  std::replace(stored.begin(), stored.end(), '\\', '/');
  if (stored.empty()) return std::nullopt;
  auto ends_with = [](const std::string& s, const std::string& suf) {
    return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0 &&
           (s.size() == suf.size() || suf.front() == '/' || s[s.size() - suf.size() - 1] == '/');
  };
  // The whole stored path first, then without its leading folders (apps store absolute paths of
  // the device's view, e.g. /storage/emulated/0/..., which the image names differently).
  std::string s = stored;
  for (int drop = 0; drop < 8 && !s.empty(); ++drop) {
    for (auto& a : arts)
      if (a.type != "sqlite" && a.path && ends_with(*a.path, s)) return a.id;
    auto slash = s.find('/', s[0] == '/' ? 1 : 0);
    if (slash == std::string::npos) break;
    s = s.substr(slash);
    if (std::count(s.begin(), s.end(), '/') < 2) break;  // keep at least folder/name
  }
  return std::nullopt;
}

}  // namespace safehold::carve
