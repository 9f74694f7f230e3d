// Threema iOS (ThreemaData.sqlite: ZMESSAGE, ZCONVERSATION, ZCONTACT and the media data tables)
// and Wickr iOS (wickrLocal.sqlite: ZWICKR_MESSAGE, ZSECEX_CONVO, ZSECEX_USER, ZWICKR_FILE; the
// message bodies are encrypted, so only metadata), Core Data stores read with the tables and
// columns iLEAPP's Threema and wickr modules read (iLEAPP 423798fa).
#include <algorithm>
#include <cctype>
#include <map>
#include <string>

#include "chat/reader.hpp"

namespace safehold::chat {

namespace {

// Core Data's entity numbers (Z_ENT) to entity names, from Z_PRIMARYKEY.
IdMap entity_names(const Db& db, std::vector<std::string>& errors) {
  if (!db.schema().has("Z_PRIMARYKEY")) return {};
  return load_map(db, "SELECT Z_ENT, Z_NAME FROM Z_PRIMARYKEY", errors);
}

bool contains(const std::string& s, const char* part) {
  return s.find(part) != std::string::npos;
}

// ---- Threema iOS ----------------------------------------------------------------------------
// ZMESSAGE: one Core Data entity per message type (Z_ENT, named in Z_PRIMARYKEY: TextMessage,
// ImageMessage, VideoMessage, AudioMessage, FileMessage, LocationMessage, SystemMessage, ...);
// ZDATE Cocoa seconds; ZISOWN 1 for the owner's messages; ZSENDER the writer in a group (a
// ZCONTACT); ZCONVERSATION; ZTEXT, else ZCAPTION. A conversation is ZGROUPNAME, else its
// ZCONTACT. Media data rows (ZIMAGEDATA, ZVIDEODATA, ZAUDIODATA through ZIMAGE, ZVIDEO, ZAUDIO;
// ZFILEDATA through its ZMESSAGE) hold the bytes (ZDATA starting 0x01) or, starting 0x02, the
// name of a file in .ThreemaData_SUPPORT/_EXTERNAL_DATA/.
class ThreemaReader : public Reader {
 public:
  std::string name() const override { return "threema_ios"; }
  std::string app() const override { return "threema"; }
  int match(const Schema& s) const override {
    const Table* m = s.table("ZMESSAGE");
    return m && m->has("ZISOWN") && m->has("ZCONVERSATION") && m->has("ZDATE") &&
                   s.has("ZCONVERSATION") && s.has("ZCONTACT") && s.has("ZIMAGEDATA")
               ? 100
               : 0;
  }

  std::vector<Source> sources(const Db& db, std::vector<std::string>& errors) override {
    const Schema& s = db.schema();
    entities_ = entity_names(db, errors);
    if (const Table* c = s.table("ZCONTACT"); c && c->has("ZIDENTITY")) {
      std::string first = coalesce_of(c, {"ZFIRSTNAME"}), last = coalesce_of(c, {"ZLASTNAME"});
      contacts_ = load_map(db,
                           "SELECT Z_PK, ZIDENTITY || coalesce(' (' || coalesce(nullif(trim("
                           "coalesce(" +
                               first + ", '') || ' ' || coalesce(" + last + ", '')), ''), " +
                               coalesce_of(c, {"ZPUBLICNICKNAME"}) + ") || ')', '') FROM ZCONTACT",
                           errors);
    }
    if (const Table* c = s.table("ZCONVERSATION"); c && c->has("ZCONTACT")) {
      groups_ =
          load_map(db,
                   "SELECT Z_PK, " + coalesce_of(c, {"ZGROUPNAME"}) + " FROM ZCONVERSATION WHERE " +
                       coalesce_of(c, {"ZGROUPNAME"}) + " IS NOT NULL",
                   errors);
      conv_contact_ = load_map(db, "SELECT Z_PK, ZCONTACT FROM ZCONVERSATION", errors);
    }
    for (auto t : {"ZIMAGEDATA", "ZVIDEODATA", "ZAUDIODATA"})
      if (const Table* d = s.table(t); d && d->has("ZDATA")) media_[t] = load_media(db, t, errors);
    if (const Table* f = s.table("ZFILEDATA"); f && f->has("ZDATA") && f->has("ZMESSAGE"))
      files_ = load_media(db, "ZFILEDATA", errors, "ZMESSAGE");
    Source src;
    src.table = "ZMESSAGE";
    src.columns = {"Z_PK",  "Z_ENT",    "ZDATE",     "ZISOWN", "ZSENDER", "ZCONVERSATION",
                   "ZTEXT", "ZCAPTION", "ZFILENAME", "ZIMAGE", "ZVIDEO",  "ZAUDIO"};
    src.times = {{2, Epoch::Cocoa}};
    src.map = [this](const Row& r, Message& m) { return map(r, m); };
    return {std::move(src)};
  }

 private:
  IdMap entities_, contacts_, groups_, conv_contact_, files_;
  std::map<std::string, IdMap> media_;

  // Z_PK (or `key`) to the attachment: the external file's path, or "<table> <pk> (embedded,
  // N bytes)". Only the first bytes are read: embedded images stay in the database.
  static IdMap load_media(const Db& db, const std::string& table, std::vector<std::string>& errors,
                          const std::string& key = "Z_PK") {
    return load_map(
        db,
        "SELECT " + key +
            ", CASE WHEN substr(ZDATA, 1, 1) = x'02' AND length(ZDATA) BETWEEN 3 "
            "AND 512 THEN '.ThreemaData_SUPPORT/_EXTERNAL_DATA/' || CAST(substr(ZDATA, 2, "
            "length(ZDATA) - 2) AS TEXT) WHEN substr(ZDATA, 1, 1) = x'01' THEN '" +
            table + " ' || Z_PK || ' (embedded, ' || (length(ZDATA) - 1) || ' bytes)' END FROM " +
            table + " WHERE ZDATA IS NOT NULL",
        errors);
  }

  std::string contact(std::optional<int64_t> pk) const { return lookup(contacts_, pk); }

  static std::string kind_of(const std::string& entity, bool has_body, bool has_files) {
    if (contains(entity, "Image") || contains(entity, "Video") || contains(entity, "Audio") ||
        contains(entity, "File"))
      return "media";
    if (contains(entity, "Location")) return "location";
    if (contains(entity, "System")) return "system";
    if (has_body) return "text";
    return has_files ? "media" : "other";
  }

  bool map(const Row& r, Message& m) {
    auto pk = r.integer(0);
    if (!pk) pk = r.rowid();
    std::string entity = lookup(entities_, r.integer(1));
    m.timestamp = r.time(2);
    auto conv = r.integer(5);
    std::string group = lookup(groups_, conv);
    std::string partner;
    if (auto c = conv_contact_.find(conv.value_or(-1)); c != conv_contact_.end())
      partner = lookup(contacts_, Value{Value::Type::Text, 0, 0, c->second}.as_int());
    m.conversation = !group.empty() ? group : !partner.empty() ? partner : r.text(5);
    for (size_t k : {6, 7})
      if (!m.body && !r[k].null() && !r.text(k).empty()) m.body = r.text(k);
    const char* tables[] = {"ZIMAGEDATA", "ZVIDEODATA", "ZAUDIODATA"};
    for (size_t k = 0; k < 3; ++k)
      if (auto it = media_.find(tables[k]); it != media_.end())
        if (auto a = lookup(it->second, r.integer(9 + k)); !a.empty()) m.attachments.push_back(a);
    if (pk)
      if (auto a = lookup(files_, pk); !a.empty()) m.attachments.push_back(a);
    if (!r.text(8).empty() && !m.attachments.empty())
      m.attachments.back() += " (" + r.text(8) + ")";
    m.kind = kind_of(entity, m.body.has_value(), !m.attachments.empty());
    auto own = r.integer(3);
    if (m.kind == "system") {
      m.sender = "unknown";  // a notice of the app, direction unknown
    } else if (own.value_or(0) == 1) {
      m.direction = "sent";
      if (!m.conversation.empty()) m.recipients.push_back(m.conversation);
    } else {
      m.direction = own ? "received" : "unknown";
      std::string who = contact(r.integer(4));
      m.sender = !who.empty() ? who : !partner.empty() ? partner : "unknown";
    }
    return true;
  }
};

// ---- Wickr iOS (metadata) -------------------------------------------------------------------
// ZWICKR_MESSAGE: ZTIMESTAMP Cocoa seconds, ZCONVO (ZSECEX_CONVO: ZVGROUPID), ZUSERSENDER
// (ZSECEX_USER: ZUSERIDHASH, the only identifier in the clear), ZFULLTYPE (6000 a file
// transfer; other values unlabelled), ZBODY encrypted (not read). Files (ZWICKR_FILE.ZGUID) are
// joined to messages through a Core Data join table named after entity numbers (Z_13MSG in
// iLEAPP's images, Z_11MSG in older ones), found by decoding its column names.
class WickrReader : public Reader {
 public:
  std::string name() const override { return "wickr_ios"; }
  std::string app() const override { return "wickr"; }
  int match(const Schema& s) const override {
    const Table* m = s.table("ZWICKR_MESSAGE");
    return m && m->has("ZTIMESTAMP") && m->has("ZCONVO") && m->has("ZUSERSENDER") &&
                   s.has("ZSECEX_CONVO")
               ? 100
               : 0;
  }

  std::vector<Source> sources(const Db& db, std::vector<std::string>& errors) override {
    const Schema& s = db.schema();
    if (const Table* c = s.table("ZSECEX_CONVO"); c && c->has("ZVGROUPID"))
      convos_ = load_map(db, "SELECT Z_PK, ZVGROUPID FROM ZSECEX_CONVO", errors);
    if (const Table* u = s.table("ZSECEX_USER"); u && u->has("ZUSERIDHASH"))
      users_ = load_map(db, "SELECT Z_PK, ZUSERIDHASH FROM ZSECEX_USER", errors);
    load_files(db, errors);
    Source src;
    src.table = "ZWICKR_MESSAGE";
    src.columns = {"Z_PK", "ZTIMESTAMP", "ZCONVO", "ZUSERSENDER", "ZFULLTYPE"};
    src.times = {{1, Epoch::Cocoa}};
    src.map = [this](const Row& r, Message& m) { return map(r, m); };
    return {std::move(src)};
  }

 private:
  IdMap convos_, users_;
  IdMultiMap files_;

  // The join table between Wickr_file and Wickr_Message: a Z_ table with a column Z_<n>... for
  // each, <n> being the entities' numbers in Z_PRIMARYKEY.
  void load_files(const Db& db, std::vector<std::string>& errors) {
    const Schema& s = db.schema();
    if (!s.has("ZWICKR_FILE")) return;
    IdMap entities = entity_names(db, errors);
    for (auto& [key, t] : s.tables) {
      if (t.name.size() < 3 || t.name.compare(0, 2, "Z_") != 0 || t.name == "Z_PRIMARYKEY" ||
          t.name == "Z_METADATA" || t.name == "Z_MODELCACHE")
        continue;
      std::string file_col, msg_col;
      for (auto& c : t.columns) {
        if (c.name.size() < 3 || c.name.compare(0, 2, "Z_") != 0) continue;
        size_t digits = 2;
        while (digits < c.name.size() && std::isdigit(static_cast<unsigned char>(c.name[digits])))
          ++digits;
        if (digits == 2) continue;
        int64_t ent = std::stoll(c.name.substr(2, std::min<size_t>(digits - 2, 9)));
        std::string e = lookup(entities, ent);
        if (e == "Wickr_file") file_col = c.name;
        if (e == "Wickr_Message") msg_col = c.name;
      }
      if (file_col.empty() || msg_col.empty()) continue;
      files_ = load_multimap(db,
                             "SELECT j." + quote_ident(msg_col) + ", f.ZGUID FROM " +
                                 quote_ident(t.name) + " j JOIN ZWICKR_FILE f ON f.Z_PK = j." +
                                 quote_ident(file_col) + " WHERE f.ZGUID IS NOT NULL ORDER BY " +
                                 "f.Z_PK",
                             errors);
      return;
    }
  }

  bool map(const Row& r, Message& m) {
    auto pk = r.integer(0);
    if (!pk) pk = r.rowid();
    m.timestamp = r.time(1);
    m.conversation = lookup(convos_, r.integer(2));
    if (m.conversation.empty() && r.integer(2)) m.conversation = "convo " + r.text(2);
    m.sender = lookup(users_, r.integer(3));
    if (m.sender.empty()) m.sender = r.integer(3) ? "user " + r.text(3) : "unknown";
    if (pk)
      if (auto it = files_.find(*pk); it != files_.end()) m.attachments = it->second;
    // The body is encrypted: no text, whatever the type.
    m.kind = r.integer(4).value_or(0) == 6000 || !m.attachments.empty() ? "media" : "other";
    return true;
  }
};

}  // namespace

std::unique_ptr<Reader> make_threema_reader() {
  return std::make_unique<ThreemaReader>();
}
std::unique_ptr<Reader> make_wickr_reader() {
  return std::make_unique<WickrReader>();
}

}  // namespace safehold::chat
