// Kik Android (kikDatabase.db: messagesTable, KIKcontactsTable, KIKContentTable), LINE Android
// (naver_line: chat_history, contacts, membership, chat) and TextNow Android (textnow_data.db:
// messages, contacts, group_members), with the columns ALEAPP's parsers read.
#include "chat/reader.hpp"

namespace safehold::chat {

namespace {

// id with its name from `names`.
std::string named(const KeyMap& names, const std::string& id) {
  return labelled(id, lookup(names, id));
}

// ---- Kik Android ----------------------------------------------------------------------------
// messagesTable: partner_jid (the other party; in a group the member who wrote), bin_id (the
// conversation: the group's jid, or the partner's), was_me (1: the owner sent it), timestamp
// (ms), body, content_id (an attachment: its properties in KIKContentTable, the file named after
// it under DCIM/Kik or cache/chatPics), app_id (the attachment's kind), sys_msg and stat_msg
// (system and status notices).
class KikAndroidReader : public Reader {
 public:
  std::string name() const override { return "kik_android"; }
  std::string app() const override { return "kik"; }
  int match(const Schema& s) const override {
    const Table* m = s.table("messagesTable");
    return m && m->has("partner_jid") && m->has("was_me") && m->has("body") && m->has("timestamp")
               ? 100
               : 0;
  }

  std::vector<Source> sources(const Db& db, std::vector<std::string>& errors) override {
    const Schema& s = db.schema();
    if (const Table* c = s.table("KIKcontactsTable"); c && c->has("jid"))
      names_ = load_key_map(
          db,
          "SELECT jid, " + coalesce_of(c, {"display_name", "user_name"}) + " FROM KIKcontactsTable",
          errors);
    if (s.has("KIKContentTable"))
      files_ = load_key_map(db,
                            "SELECT content_id, content_string FROM KIKContentTable WHERE "
                            "content_name = 'file-name'",
                            errors);
    Source src;
    src.table = "messagesTable";
    src.columns = {"partner_jid", "bin_id", "was_me",  "timestamp", "body",
                   "content_id",  "app_id", "sys_msg", "stat_msg"};
    src.times = {{3, Epoch::Unix}};
    src.map = [this](const Row& r, Message& m) { return map(r, m); };
    return {std::move(src)};
  }

 private:
  KeyMap names_, files_;

  static std::string kind_of(const Row& r, bool has_body) {
    std::string app = r.text(6);
    if (!r.text(5).empty()) {
      if (app.find("sticker") != std::string::npos) return "sticker";
      return "media";
    }
    if (!r.text(7).empty() || (!has_body && !r.text(8).empty())) return "system";
    return has_body ? "text" : "other";
  }

  bool map(const Row& r, Message& m) {
    std::string partner = r.text(0), bin = r.text(1);
    std::string conv = bin.empty() ? partner : bin;
    m.conversation = named(names_, conv);
    m.timestamp = r.time(3);
    if (!r[4].null() && !r.text(4).empty()) m.body = r.text(4);
    std::string content = r.text(5);
    if (!content.empty()) {
      std::string file = lookup(files_, content);
      m.attachments.push_back(file.empty() ? content : content + " (" + file + ")");
    }
    m.kind = kind_of(r, m.body.has_value());
    if (r.integer(2).value_or(0) == 1) {
      m.direction = "sent";
      if (!conv.empty()) m.recipients.push_back(m.conversation);
    } else {
      m.direction = "received";
      m.sender = partner.empty() ? "unknown" : named(names_, partner);
    }
    return true;
  }
};

// ---- LINE Android ---------------------------------------------------------------------------
// chat_history: chat_id (a user's mid for a one-to-one chat, a group id otherwise), from_mid (the
// writer; NULL for the owner), content, created_time (ms), status (1 incoming, 2 outgoing, as
// ALEAPP reads it), attachement_type (LINE's ContentType: 0 none, 1 image, 2 video, 3 audio,
// 6 call, 7 sticker, 13 contact, 14 file, 15 location, 18 chat event), attachement_local_uri.
std::string line_kind(int64_t type, bool has_body) {
  switch (type) {
    case 0:
      return has_body ? "text" : "other";
    case 1:
    case 2:
    case 3:
    case 14:
      return "media";
    case 6:
      return "call";
    case 7:
      return "sticker";
    case 13:
      return "contact";
    case 15:
      return "location";
    case 18:
      return "system";
    default:
      return has_body ? "text" : "other";
  }
}

class LineReader : public Reader {
 public:
  std::string name() const override { return "line_android"; }
  std::string app() const override { return "line"; }
  int match(const Schema& s) const override {
    const Table* m = s.table("chat_history");
    return m && m->has("chat_id") && m->has("from_mid") && m->has("content") &&
                   m->has("created_time")
               ? 100
               : 0;
  }

  std::vector<Source> sources(const Db& db, std::vector<std::string>& errors) override {
    const Schema& s = db.schema();
    if (const Table* c = s.table("contacts"); c && c->has("m_id"))
      names_ =
          load_key_map(db,
                       "SELECT m_id, " + coalesce_of(c, {"custom_name", "name", "server_name"}) +
                           " FROM contacts",
                       errors);
    if (const Table* g = s.table("groups"); g && g->has("id") && g->has("name")) {
      auto groups = load_key_map(db, "SELECT id, name FROM groups", errors);
      names_.insert(groups.begin(), groups.end());
    }
    if (const Table* t = s.table("membership"); t && t->has("id") && t->has("m_id"))
      members_ = load_key_multimap(db, "SELECT id, m_id FROM membership ORDER BY rowid", errors);
    Source src;
    src.table = "chat_history";
    src.columns = {"chat_id",
                   "from_mid",
                   "content",
                   "created_time",
                   "status",
                   "attachement_type",
                   "attachement_local_uri"};
    src.times = {{3, Epoch::Unix}};
    src.map = [this](const Row& r, Message& m) { return map(r, m); };
    return {std::move(src)};
  }

 private:
  KeyMap names_;
  KeyMultiMap members_;

  bool map(const Row& r, Message& m) {
    std::string chat = r.text(0), from = r.text(1);
    m.conversation = named(names_, chat);
    m.timestamp = r.time(3);
    if (!r[2].null() && !r.text(2).empty()) m.body = r.text(2);
    if (!r.text(6).empty()) m.attachments.push_back(r.text(6));
    m.kind = line_kind(r.integer(5).value_or(0), m.body.has_value());
    auto status = r.integer(4);
    bool sent = status ? *status == 2 : from.empty();
    if (sent) {
      m.direction = "sent";
      if (auto it = members_.find(chat); it != members_.end())
        for (auto& who : it->second) m.recipients.push_back(named(names_, who));
      else if (!chat.empty())
        m.recipients.push_back(m.conversation);
    } else {
      m.direction = status && *status == 1 ? "received" : "unknown";
      m.sender = !from.empty() ? named(names_, from) : chat.empty() ? "unknown" : m.conversation;
    }
    return true;
  }
};

// ---- TextNow Android ------------------------------------------------------------------------
// messages: contact_value (the other party's number, or the group's id), message_direction
// (1 incoming, 2 outgoing), message_type (see content()), date (ms), message_text, attach (the
// attachment's local path); group_members lists a group's numbers.
class TextNowReader : public Reader {
 public:
  std::string name() const override { return "textnow_android"; }
  std::string app() const override { return "textnow"; }
  int match(const Schema& s) const override {
    const Table* m = s.table("messages");
    return m && m->has("contact_value") && m->has("message_direction") && m->has("message_text") &&
                   m->has("message_type")
               ? 100
               : 0;
  }

  std::vector<Source> sources(const Db& db, std::vector<std::string>& errors) override {
    const Schema& s = db.schema();
    if (const Table* c = s.table("contacts"); c && c->has("contact_value"))
      names_ = load_key_map(db,
                            "SELECT contact_value, " + coalesce_of(c, {"contact_name"}) +
                                " FROM contacts WHERE contact_name != ''",
                            errors);
    if (const Table* g = s.table("groups"); g && g->has("title") && g->has("contact_value")) {
      auto titles =
          load_key_map(db, "SELECT contact_value, title FROM groups WHERE title != ''", errors);
      names_.insert(titles.begin(), titles.end());
    }
    if (const Table* g = s.table("group_members"); g && g->has("member_contact_value")) {
      members_ = load_key_multimap(
          db, "SELECT contact_value, member_contact_value FROM group_members ORDER BY rowid",
          errors);
      if (g->has("member_display_name")) {
        auto more = load_key_map(db,
                                 "SELECT member_contact_value, member_display_name FROM "
                                 "group_members WHERE member_display_name != ''",
                                 errors);
        names_.insert(more.begin(), more.end());  // contacts' names stay first
      }
    }
    Source src;
    src.table = "messages";
    src.columns = {"contact_value", "contact_name", "message_direction", "message_type", "date",
                   "message_text",  "attach"};
    src.times = {{4, Epoch::Unix}};
    src.map = [this](const Row& r, Message& m) { return map(r, m); };
    return {std::move(src)};
  }

 private:
  KeyMap names_;
  KeyMultiMap members_;

  // message_type 1 text; 2 (picture) and 8 (voice or video) media whose message_text is the
  // media URL; 16 (a missed-call notice), 100 and 102 calls; other values (201, 202, ...) have
  // no published meaning.
  static void content(const Row& r, Message& m) {
    auto type = r.integer(3).value_or(1);
    std::string text = r[5].null() ? "" : r.text(5);
    std::string attach = r.text(6);
    if (!attach.empty()) m.attachments.push_back(attach);
    if (type == 16 || type == 100 || type == 102) {
      m.kind = "call";
    } else if (type == 2 || type == 8) {
      m.kind = "media";
      if (!text.empty() && text != attach) m.attachments.push_back(text);
    } else {
      if (!text.empty()) m.body = text;
      m.kind = type == 1 ? (m.body ? "text" : "other") : "other";
    }
  }

  bool map(const Row& r, Message& m) {
    std::string peer = r.text(0);
    std::string name = r.text(1).empty() ? lookup(names_, peer) : r.text(1);
    m.conversation = labelled(peer, name);
    m.timestamp = r.time(4);
    content(r, m);
    auto it = members_.find(peer);
    if (r.integer(2).value_or(0) == 2) {
      m.direction = "sent";
      if (it != members_.end())
        for (auto& who : it->second) m.recipients.push_back(named(names_, who));
      else if (!peer.empty())
        m.recipients.push_back(m.conversation);
    } else {
      m.direction = r.integer(2).value_or(0) == 1 ? "received" : "unknown";
      m.sender = peer.empty() ? "unknown" : m.conversation;
    }
    return true;
  }
};

}  // namespace

std::unique_ptr<Reader> make_kik_android_reader() {
  return std::make_unique<KikAndroidReader>();
}
std::unique_ptr<Reader> make_line_reader() {
  return std::make_unique<LineReader>();
}
std::unique_ptr<Reader> make_textnow_reader() {
  return std::make_unique<TextNowReader>();
}

}  // namespace safehold::chat
