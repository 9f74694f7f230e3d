// Google Messages (bugle_db: messages, parts, participants, conversations, as ALEAPP's
// googleMessages parser joins them) and Viber Android (viber_messages: messages,
// participants, participants_info, conversations).
#include "chat/reader.hpp"

namespace safehold::chat {

namespace {

// Google Messages: one row of `messages` a message; its text and attachments are `parts`.
// Direction from the sending participant: sub_id -2 is anyone but the device's own
// (AOSP ParticipantData.OTHER_THAN_SELF_SUB_ID), any other value the owner, NULL unknown.
class BugleReader : public Reader {
 public:
  std::string name() const override { return "google_messages"; }
  std::string app() const override { return "google_messages"; }
  int match(const Schema& s) const override {
    const Table* m = s.table("messages");
    const Table* p = s.table("parts");
    const Table* who = s.table("participants");
    return m && p && who && m->has("conversation_id") && m->has("sender_id") &&
                   p->has("message_id") && p->has("content_type") && who->has("sub_id") &&
                   s.has("conversations")
               ? 100
               : 0;
  }

  std::vector<Source> sources(const Db& db, std::vector<std::string>& errors) override {
    const Schema& s = db.schema();
    std::string dest = s.table("participants")->has("display_destination")
                           ? "coalesce(display_destination, normalized_destination)"
                           : "normalized_destination";
    people_ = load_map(db, "SELECT _id, " + dest + " FROM participants", errors);
    self_ = load_map(db,
                     "SELECT _id, CASE WHEN sub_id IS NULL THEN 'unknown' WHEN sub_id = -2 THEN "
                     "'other' ELSE 'self' END FROM participants",
                     errors);
    members_ = load_multimap(db,
                             "SELECT cp.conversation_id, " + dest +
                                 " FROM conversation_participants cp JOIN participants p ON "
                                 "p._id = cp.participant_id WHERE p.sub_id = -2 ORDER BY p._id",
                             errors);
    names_ = load_map(db, "SELECT _id, name FROM conversations", errors);
    std::string file =
        s.table("parts")->has("local_cache_path") ? "coalesce(local_cache_path, uri)" : "uri";
    texts_ = load_multimap(db,
                           "SELECT message_id, text FROM parts WHERE content_type LIKE 'text/%' "
                           "AND text IS NOT NULL ORDER BY _id",
                           errors);
    files_ = load_multimap(db,
                           "SELECT message_id, " + file +
                               " FROM parts WHERE content_type NOT LIKE 'text/%' AND " + file +
                               " IS NOT NULL ORDER BY _id",
                           errors);
    Source src;
    src.table = "messages";
    src.columns = {"_id", "conversation_id", "sender_id", "sent_timestamp", "received_timestamp"};
    src.times = {{3, Epoch::Unix}, {4, Epoch::Unix}};
    src.map = [this](const Row& r, Message& m) {
      auto id = r.integer(0);
      if (!id) id = r.rowid();
      auto conv = r.integer(1);
      m.conversation = lookup(names_, conv);
      if (m.conversation.empty() && conv) m.conversation = std::to_string(*conv);
      m.timestamp = r.time(3);
      if (!m.timestamp) m.timestamp = r.time(4);
      const std::string& who = lookup_ref(self_, r.integer(2));
      std::vector<std::string> others;
      if (conv)
        if (auto it = members_.find(*conv); it != members_.end()) others = it->second;
      if (who == "self") {
        m.direction = "sent";
        m.recipients = others;
      } else {
        m.direction = who == "other" ? "received" : "unknown";
        m.sender = lookup(people_, r.integer(2));
        if (m.sender.empty()) m.sender = "unknown";
      }
      if (id) {
        if (auto it = texts_.find(*id); it != texts_.end()) {
          std::string body;
          for (auto& t : it->second) body += (body.empty() ? "" : "\n") + t;
          m.body = body;
        }
        if (auto it = files_.find(*id); it != files_.end()) m.attachments = it->second;
      }
      if (!m.body) m.kind = m.attachments.empty() ? "other" : "media";
      return true;
    };
    return {std::move(src)};
  }

 private:
  IdMap people_, self_, names_;
  IdMultiMap members_, texts_, files_;
};

// Viber's extra_mime codes.
std::string viber_kind(int64_t mime) {
  switch (mime) {
    case 0:
    case 7:
    case 8:
      return "text";
    case 1:
    case 2:
    case 3:
    case 10:
      return "media";
    case 4:
      return "sticker";
    case 5:
      return "location";
    case 9:
      return "contact";
    default:
      return mime >= 1000 ? "system" : "other";
  }
}

// Viber Android: send_type 1 outgoing, 0 incoming; msg_date in ms; the other party through
// participants → participants_info (contact_name, display_name, viber_name, number).
class ViberReader : public Reader {
 public:
  std::string name() const override { return "viber_android"; }
  std::string app() const override { return "viber"; }
  int match(const Schema& s) const override {
    const Table* m = s.table("messages");
    return m && m->has("send_type") && m->has("msg_date") && m->has("participant_id") &&
                   m->has("extra_mime") && s.has("participants_info")
               ? 100
               : 0;
  }

  std::vector<Source> sources(const Db& db, std::vector<std::string>& errors) override {
    const Table* info = db.schema().table("participants_info");
    std::vector<std::string> parts;
    for (auto c : {"number", "contact_name", "display_name", "viber_name", "member_id"})
      if (info->has(c)) parts.push_back(std::string(c));
    std::string who = "coalesce(";
    for (size_t k = 0; k < parts.size(); ++k) who += (k ? ", " : "") + parts[k];
    who += parts.empty() ? "NULL)" : ", NULL)";
    people_ = load_map(db,
                       "SELECT p._id, " + who +
                           " FROM participants p JOIN participants_info i ON i._id = "
                           "p.participant_info_id",
                       errors);
    if (const Table* c = db.schema().table("conversations"); c && c->has("participant_id_1"))
      peers_ = load_map(db,
                        "SELECT c._id, " + who +
                            " FROM conversations c JOIN participants p ON p._id = "
                            "c.participant_id_1 JOIN participants_info i ON i._id = "
                            "p.participant_info_id",
                        errors);
    Source src;
    src.table = "messages";
    src.columns = {"conversation_id", "participant_id", "msg_date", "send_type", "body",
                   "extra_mime",      "extra_uri"};
    src.times = {{2, Epoch::Unix}};
    src.map = [this](const Row& r, Message& m) {
      auto conv = r.integer(0);
      m.conversation = conv ? std::to_string(*conv) : "";
      m.timestamp = r.time(2);
      std::string peer = lookup(peers_, conv);
      if (r.integer(3).value_or(0) == 1) {
        m.direction = "sent";
        if (!peer.empty()) m.recipients.push_back(peer);
      } else {
        m.direction = "received";
        m.sender = lookup(people_, r.integer(1));
        if (m.sender.empty()) m.sender = !peer.empty() ? peer : "unknown";
      }
      if (!r[4].null() && !r.text(4).empty()) m.body = r.text(4);
      m.kind = viber_kind(r.integer(5).value_or(0));
      if (!r[6].null() && !r.text(6).empty()) m.attachments.push_back(r.text(6));
      return true;
    };
    return {std::move(src)};
  }

 private:
  IdMap people_, peers_;
};

}  // namespace

std::unique_ptr<Reader> make_google_messages_reader() {
  return std::make_unique<BugleReader>();
}
std::unique_ptr<Reader> make_viber_reader() {
  return std::make_unique<ViberReader>();
}

}  // namespace safehold::chat
