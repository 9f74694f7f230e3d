// iOS readers: Messages (sms.db), WhatsApp (ChatStorage.sqlite), Kik (kik.sqlite).
#include "chat/reader.hpp"

namespace safehold::chat {

namespace {

class IMessageReader : public Reader {
 public:
  std::string name() const override { return "ios_messages"; }
  std::string app() const override { return "imessage"; }
  int match(const Schema& s) const override {
    const Table* m = s.table("message");
    if (!m || !s.has("handle") || !m->has("text") || !m->has("is_from_me") || !m->has("date") ||
        !m->has("handle_id"))
      return 0;
    return 100;
  }
  std::vector<Source> sources(const Db& db, std::vector<std::string>& errors) override {
    handles_ = load_map(db, "SELECT ROWID, id FROM handle", errors);
    const Schema& s = db.schema();
    if (s.has("chat") && s.has("chat_message_join")) {
      chat_of_ = load_map(db,
                          "SELECT j.message_id, coalesce(nullif(c.chat_identifier,''), c.guid) "
                          "FROM chat_message_join j JOIN chat c ON c.ROWID = j.chat_id",
                          errors);
      if (s.has("chat_handle_join"))
        members_ = load_multimap(db,
                                 "SELECT j.message_id, h.id FROM chat_message_join j "
                                 "JOIN chat_handle_join ch ON ch.chat_id = j.chat_id "
                                 "JOIN handle h ON h.ROWID = ch.handle_id ORDER BY h.ROWID",
                                 errors);
    }
    if (s.has("attachment") && s.has("message_attachment_join"))
      attachments_ = load_multimap(db,
                                   "SELECT j.message_id, a.filename FROM message_attachment_join j "
                                   "JOIN attachment a ON a.ROWID = j.attachment_id "
                                   "WHERE a.filename IS NOT NULL ORDER BY a.ROWID",
                                   errors);
    Source src;
    src.table = "message";
    src.columns = {"ROWID", "text", "attributedBody", "date", "is_from_me", "handle_id", "service"};
    src.times = {{3, Epoch::Cocoa}};
    src.map = [this](const Row& r, Message& m) {
      auto id = r.integer(0);
      if (!id) id = r.rowid();
      if (!r[1].null() && !r.text(1).empty()) {
        m.body = r.text(1);
      } else if (r[2].type == Value::Type::Blob) {
        m.body = typedstream_text(r[2].s);
      }
      m.timestamp = r.time(3);
      std::string handle = lookup(handles_, r.integer(5));
      m.conversation = id ? lookup(chat_of_, id) : "";
      if (m.conversation.empty()) m.conversation = handle;
      std::vector<std::string> members;
      if (id)
        if (auto it = members_.find(*id); it != members_.end()) members = it->second;
      if (r.integer(4).value_or(0) == 1) {
        m.direction = "sent";
        m.recipients = !members.empty() ? members : std::vector<std::string>{};
        if (m.recipients.empty() && !handle.empty()) m.recipients.push_back(handle);
      } else {
        m.direction = "received";
        m.sender = handle;
      }
      if (id)
        if (auto it = attachments_.find(*id); it != attachments_.end()) m.attachments = it->second;
      return true;
    };
    return {std::move(src)};
  }

 private:
  IdMap handles_, chat_of_;
  IdMultiMap members_, attachments_;
};

class WhatsAppIosReader : public Reader {
 public:
  std::string name() const override { return "whatsapp_ios"; }
  std::string app() const override { return "whatsapp"; }
  int match(const Schema& s) const override {
    const Table* m = s.table("ZWAMESSAGE");
    if (!m || !m->has("ZTEXT") || !m->has("ZMESSAGEDATE")) return 0;
    return 100;
  }
  std::vector<Source> sources(const Db& db, std::vector<std::string>& errors) override {
    const Schema& s = db.schema();
    if (s.has("ZWACHATSESSION"))
      chats_ = load_map(db, "SELECT Z_PK, ZCONTACTJID FROM ZWACHATSESSION", errors);
    if (const Table* mi = s.table("ZWAMEDIAITEM"); mi && mi->has("ZMEDIALOCALPATH"))
      media_ = load_map(db,
                        "SELECT Z_PK, ZMEDIALOCALPATH FROM ZWAMEDIAITEM "
                        "WHERE ZMEDIALOCALPATH IS NOT NULL AND ZMEDIALOCALPATH <> ''",
                        errors);
    if (const Table* gm = s.table("ZWAGROUPMEMBER"); gm && gm->has("ZMEMBERJID"))
      members_ = load_map(db, "SELECT Z_PK, ZMEMBERJID FROM ZWAGROUPMEMBER", errors);
    Source src;
    src.table = "ZWAMESSAGE";
    src.columns = {"Z_PK",   "ZTEXT",        "ZMESSAGEDATE", "ZISFROMME",   "ZFROMJID",
                   "ZTOJID", "ZCHATSESSION", "ZMEDIAITEM",   "ZGROUPMEMBER"};
    src.times = {{2, Epoch::Cocoa}};
    src.map = [this](const Row& r, Message& m) {
      if (!r[1].null()) m.body = r.text(1);
      m.timestamp = r.time(2);
      m.conversation = lookup(chats_, r.integer(6));
      std::string from = r.text(4), to = r.text(5);
      if (r.integer(3).value_or(0) == 1) {
        m.direction = "sent";
        if (!to.empty())
          m.recipients.push_back(to);
        else if (!m.conversation.empty())
          m.recipients.push_back(m.conversation);
      } else {
        m.direction = "received";
        std::string member = lookup(members_, r.integer(8));
        m.sender = !member.empty() ? member : from;
      }
      std::string media = lookup(media_, r.integer(7));
      if (!media.empty()) m.attachments.push_back(media);
      return true;
    };
    return {std::move(src)};
  }

 private:
  IdMap chats_, media_, members_;
};

class KikReader : public Reader {
 public:
  std::string name() const override { return "kik_ios"; }
  std::string app() const override { return "kik"; }
  int match(const Schema& s) const override {
    const Table* m = s.table("ZKIKMESSAGE");
    return (m && m->has("ZBODY") && m->has("ZTIMESTAMP")) ? 100 : 0;
  }
  std::vector<Source> sources(const Db& db, std::vector<std::string>& errors) override {
    const Schema& s = db.schema();
    if (const Table* u = s.table("ZKIKUSER")) {
      std::string expr = u->has("ZUSERNAME") ? "coalesce(ZUSERNAME, ZJID, ZDISPLAYNAME)"
                                             : "coalesce(ZJID, ZDISPLAYNAME)";
      users_ = load_map(db, "SELECT Z_PK, " + expr + " FROM ZKIKUSER", errors);
    }
    // The chat a message belongs to: Core Data's many-to-many table, else the chat's user.
    for (auto& [key, t] : s.tables) {
      if (key.rfind("z_", 0) == 0 && key.size() > 8 && key.substr(key.size() - 8) == "messages" &&
          t.columns.size() == 2)
        chat_of_ =
            load_map(db,
                     "SELECT j." + quote_ident(t.columns[1].name) + ", coalesce(c.ZUSER, j." +
                         quote_ident(t.columns[0].name) + ") FROM " + quote_ident(t.name) +
                         " j LEFT JOIN ZKIKCHAT c ON c.Z_PK = j." + quote_ident(t.columns[0].name),
                     errors);
    }
    if (const Table* a = s.table("ZKIKATTACHMENT"); a && a->has("ZMESSAGE") && a->has("ZCONTENT"))
      attachments_ = load_multimap(db,
                                   "SELECT ZMESSAGE, ZCONTENT FROM ZKIKATTACHMENT "
                                   "WHERE ZCONTENT IS NOT NULL ORDER BY Z_PK",
                                   errors);
    Source src;
    src.table = "ZKIKMESSAGE";
    src.columns = {"Z_PK", "ZBODY", "ZTIMESTAMP", "ZTYPE", "ZUSER"};
    src.times = {{2, Epoch::Cocoa}};
    src.map = [this](const Row& r, Message& m) {
      auto id = r.integer(0);
      if (!id) id = r.rowid();
      if (!r[1].null()) m.body = r.text(1);
      m.timestamp = r.time(2);
      std::string user = lookup(users_, r.integer(4));
      std::string chat_user = id ? chat_of_.count(*id) ? chat_of_[*id] : "" : "";
      if (!chat_user.empty())
        if (auto cu = Value{Value::Type::Text, 0, 0, chat_user}.as_int())
          chat_user = lookup(users_, cu);
      m.conversation = !chat_user.empty() ? chat_user : user;
      auto type = r.integer(3).value_or(0);
      if (type == 2) {
        m.direction = "sent";
        if (!user.empty()) m.recipients.push_back(user);
      } else if (type == 1) {
        m.direction = "received";
        m.sender = user;
      } else {
        m.sender = user;
      }
      if (id)
        if (auto it = attachments_.find(*id); it != attachments_.end()) m.attachments = it->second;
      return true;
    };
    return {std::move(src)};
  }

 private:
  IdMap users_, chat_of_;
  IdMultiMap attachments_;
};

}  // namespace

std::unique_ptr<Reader> make_imessage_reader() {
  return std::make_unique<IMessageReader>();
}
std::unique_ptr<Reader> make_whatsapp_ios_reader() {
  return std::make_unique<WhatsAppIosReader>();
}
std::unique_ptr<Reader> make_kik_reader() {
  return std::make_unique<KikReader>();
}

}  // namespace safehold::chat
