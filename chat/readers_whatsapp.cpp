// WhatsApp Android msgstore.db: the modern message/chat/jid schema with message_media, and the
// legacy messages table. Databases from the 2020-2022 migration hold both (often the modern
// table with only its placeholder row): every table that holds rows is read, and a message in
// both (same chat, direction and key_id) comes out once, from the modern table.
#include <unordered_set>

#include "chat/reader.hpp"

namespace safehold::chat {

namespace {

bool modern(const Schema& s) {
  const Table* m = s.table("message");
  return m && m->has("chat_row_id") && m->has("from_me") && m->has("timestamp") && s.has("chat") &&
         s.has("jid");
}

bool legacy(const Schema& s) {
  const Table* m = s.table("messages");
  return m && m->has("key_remote_jid") && m->has("key_from_me") && m->has("timestamp");
}

// message_type (modern) and media_wa_type (legacy) share their codes.
std::string kind_of(std::optional<int64_t> type) {
  switch (type.value_or(0)) {
    case 1:   // image
    case 2:   // audio
    case 3:   // video
    case 9:   // document
    case 13:  // GIF
      return "media";
    case 4:
      return "contact";
    case 5:
    case 16:  // live location
      return "location";
    case 7:
      return "system";
    case 8:
    case 10:
      return "call";
    case 20:
      return "sticker";
    default:
      return "text";
  }
}

class WhatsAppAndroidReader : public Reader {
 public:
  std::string name() const override { return "whatsapp_android"; }
  std::string app() const override { return "whatsapp"; }
  int match(const Schema& s) const override { return modern(s) ? 100 : legacy(s) ? 95 : 0; }

  std::vector<Source> sources(const Db& db, std::vector<std::string>& errors) override {
    const Schema& s = db.schema();
    if (const Table* mm = s.table("message_media"); mm && mm->has("file_path"))
      media_ = load_map(db,
                        "SELECT message_row_id, file_path FROM message_media "
                        "WHERE file_path IS NOT NULL AND file_path <> ''",
                        errors);
    std::vector<Source> out;
    if (modern(s)) out.push_back(modern_source(db, errors));
    if (legacy(s)) out.push_back(legacy_source());
    return out;
  }

 private:
  IdMap jids_, chats_, media_;
  std::unordered_set<std::string> keys_;  // chat|from_me|key_id of the modern table's messages

  static std::string key(const std::string& chat, bool from_me, const std::string& key_id) {
    return chat + '|' + (from_me ? '1' : '0') + '|' + key_id;
  }

  Source modern_source(const Db& db, std::vector<std::string>& errors) {
    jids_ = load_map(db, "SELECT _id, raw_string FROM jid", errors);
    chats_ = load_map(
        db, "SELECT c._id, j.raw_string FROM chat c JOIN jid j ON j._id = c.jid_row_id", errors);
    Source src;
    src.table = "message";
    src.columns = {"_id",       "chat_row_id",       "from_me",      "timestamp",
                   "text_data", "sender_jid_row_id", "message_type", "key_id"};
    src.times = {{3, Epoch::Unix}};
    src.map = [this](const Row& r, Message& m) {
      auto id = r.integer(0);
      if (!id) id = r.rowid();
      auto chat = r.integer(1);
      if (chat && *chat < 0 && r[4].null()) return false;  // the schema's placeholder row
      const std::string& chat_jid = lookup_ref(chats_, chat);
      bool from_me = r.integer(2).value_or(0) == 1;
      if (!r[7].null() && !r.text(7).empty()) keys_.insert(key(chat_jid, from_me, r.text(7)));
      m.conversation = chat_jid;
      m.timestamp = r.time(3);
      if (!r[4].null()) m.body = r.text(4);
      m.kind = kind_of(r.integer(6));
      if (from_me) {
        m.direction = "sent";
        if (!chat_jid.empty()) m.recipients.push_back(chat_jid);
      } else {
        m.direction = "received";
        const std::string& sender = lookup_ref(jids_, r.integer(5));
        m.sender = !sender.empty() ? sender : chat_jid;
      }
      if (id)
        if (auto it = media_.find(*id); it != media_.end()) m.attachments.push_back(it->second);
      if (m.kind == "text" && !m.body && !m.attachments.empty()) m.kind = "media";
      return true;
    };
    return src;
  }

  Source legacy_source() {
    Source src;
    src.table = "messages";
    src.columns = {"_id",           "key_remote_jid",  "key_from_me", "timestamp",
                   "data",          "remote_resource", "media_name",  "media_url",
                   "media_wa_type", "key_id"};
    src.times = {{3, Epoch::Unix}};
    src.map = [this](const Row& r, Message& m) {
      auto id = r.integer(0);
      if (!id) id = r.rowid();
      std::string jid = r.text(1);
      if (jid == "-1") return false;  // the schema's placeholder row
      bool from_me = r.integer(2).value_or(0) == 1;
      if (!r[9].null() && keys_.count(key(jid, from_me, r.text(9)))) return false;  // migrated
      m.conversation = jid;
      m.timestamp = r.time(3);
      if (!r[4].null()) m.body = r.text(4);
      m.kind = kind_of(r[8].null() ? std::nullopt : r.integer(8));
      if (from_me) {
        m.direction = "sent";
        if (!jid.empty()) m.recipients.push_back(jid);
      } else {
        m.direction = "received";
        std::string member = r.text(5);
        m.sender = !member.empty() ? member : jid;
      }
      std::string media;
      if (id)
        if (auto it = media_.find(*id); it != media_.end()) media = it->second;
      if (media.empty()) media = r.text(6);
      if (media.empty()) media = r.text(7);
      if (!media.empty()) m.attachments.push_back(media);
      if (m.kind == "text" && !m.body && !m.attachments.empty()) m.kind = "media";
      return true;
    };
    return src;
  }
};

}  // namespace

std::unique_ptr<Reader> make_whatsapp_android_reader() {
  return std::make_unique<WhatsAppAndroidReader>();
}

}  // namespace safehold::chat
