// Telegram Android (cache4.db), Skype desktop (main.db), Facebook Messenger (threads_db2).
#include <nlohmann/json.hpp>
#include <set>

#include "chat/reader.hpp"

namespace safehold::chat {

namespace {

const Table* telegram_table(const Schema& s) {
  for (auto name : {"messages_v2", "messages"}) {
    const Table* t = s.table(name);
    if (t && t->has("mid") && t->has("uid") && t->has("data") && t->has("date") && t->has("out"))
      return t;
  }
  return nullptr;
}

class TelegramReader : public Reader {
 public:
  std::string name() const override { return "telegram_android"; }
  std::string app() const override { return "telegram"; }
  int match(const Schema& s) const override {
    return telegram_table(s) && s.has("dialogs") ? 100 : 0;
  }
  std::vector<Source> sources(const Db& db, std::vector<std::string>& errors) override {
    const Schema& s = db.schema();
    if (s.has("users")) users_ = load_map(db, "SELECT uid, name FROM users", errors);
    if (s.has("chats")) chats_ = load_map(db, "SELECT uid, name FROM chats", errors);
    Source src;
    src.table = telegram_table(s)->name;
    src.columns = {"mid", "uid", "date", "out", "data"};
    src.times = {{2, Epoch::Unix}};
    src.map = [this](const Row& r, Message& m) {
      auto uid = r.integer(1);
      std::string peer;
      if (uid) {
        // Dialog ids: users positive, chats negative.
        peer = *uid >= 0 ? lookup(users_, uid) : lookup(chats_, -*uid);
        std::string id = std::to_string(*uid);
        peer = peer.empty() ? id : id + " (" + name_part(peer) + ")";
      }
      m.conversation = peer;
      m.timestamp = r.time(2);
      if (r[4].type == Value::Type::Blob || r[4].is_text()) m.body = telegram_tl_text(r[4].s);
      if (r.integer(3).value_or(0) == 1) {
        m.direction = "sent";
        if (!peer.empty()) m.recipients.push_back(peer);
      } else {
        m.direction = "received";
        m.sender = peer;
      }
      return true;
    };
    return {std::move(src)};
  }

 private:
  IdMap users_, chats_;
  // users.name is "first last;;;username" (lower-cased search names after ';;;').
  static std::string name_part(const std::string& n) { return n.substr(0, n.find(";;;")); }
};

class SkypeReader : public Reader {
 public:
  std::string name() const override { return "skype_desktop"; }
  std::string app() const override { return "skype"; }
  int match(const Schema& s) const override {
    const Table* m = s.table("Messages");
    return (m && m->has("body_xml") && m->has("author") && m->has("timestamp")) ? 100 : 0;
  }
  std::vector<Source> sources(const Db& db, std::vector<std::string>& errors) override {
    const Schema& s = db.schema();
    if (s.has("Accounts")) {
      auto accounts = load_map(db, "SELECT id, skypename FROM Accounts", errors);
      for (auto& [id, name] : accounts) me_.insert(name);
    }
    if (s.has("Participants") && s.has("Conversations"))
      members_ =
          load_multimap(db, "SELECT convo_id, identity FROM Participants ORDER BY id", errors);
    if (s.has("Conversations"))
      convos_ = load_map(db, "SELECT id, identity FROM Conversations", errors);
    Source src;
    src.table = "Messages";
    src.columns = {"id",        "convo_id", "chatname", "author", "dialog_partner",
                   "timestamp", "body_xml"};
    src.times = {{5, Epoch::Unix}};
    src.map = [this](const Row& r, Message& m) {
      std::string convo = lookup(convos_, r.integer(1));
      m.conversation = !convo.empty() ? convo : r.text(2);
      m.timestamp = r.time(5);
      if (!r[6].null()) m.body = r.text(6);
      std::string author = r.text(3);
      m.sender = author;
      bool mine = me_.count(author) > 0;
      m.direction = me_.empty() ? "unknown" : mine ? "sent" : "received";
      if (auto it = members_.find(r.integer(1).value_or(-1)); it != members_.end()) {
        for (auto& p : it->second)
          if (p != author) m.recipients.push_back(p);
      } else if (!r.text(4).empty() && r.text(4) != author) {
        m.recipients.push_back(r.text(4));
      }
      return true;
    };
    return {std::move(src)};
  }

 private:
  std::set<std::string> me_;
  IdMap convos_;
  IdMultiMap members_;
};

class MessengerReader : public Reader {
 public:
  std::string name() const override { return "facebook_messenger"; }
  std::string app() const override { return "messenger"; }
  int match(const Schema& s) const override {
    const Table* m = s.table("messages");
    return (m && m->has("thread_key") && m->has("timestamp_ms") && m->has("text") &&
            m->has("sender"))
               ? 100
               : 0;
  }
  std::vector<Source> sources(const Db& db, std::vector<std::string>&) override {
    (void)db;
    Source src;
    src.table = "messages";
    src.columns = {"msg_id", "thread_key", "timestamp_ms", "text", "sender", "attachments"};
    src.times = {{2, Epoch::Unix}};
    src.map = [](const Row& r, Message& m) {
      m.conversation = r.text(1);
      m.timestamp = r.time(2);
      if (!r[3].null()) m.body = r.text(3);
      // sender: {"email":..., "user_key":"FACEBOOK:123", "name":"..."}
      auto sender = nlohmann::json::parse(r.text(4), nullptr, false);
      if (sender.is_object()) {
        std::string key = sender.value("user_key", "");
        std::string name = sender.value("name", "");
        m.sender = name.empty() ? key : key.empty() ? name : key + " (" + name + ")";
      }
      auto atts = nlohmann::json::parse(r.text(5), nullptr, false);
      if (atts.is_array())
        for (auto& a : atts)
          if (a.is_object())
            for (auto k : {"filename", "local_path", "uri"})
              if (a.contains(k) && a[k].is_string()) {
                m.attachments.push_back(a[k].get<std::string>());
                break;
              }
      return true;
    };
    return {std::move(src)};
  }
};

}  // namespace

std::unique_ptr<Reader> make_telegram_reader() {
  return std::make_unique<TelegramReader>();
}
std::unique_ptr<Reader> make_skype_reader() {
  return std::make_unique<SkypeReader>();
}
std::unique_ptr<Reader> make_messenger_reader() {
  return std::make_unique<MessengerReader>();
}

}  // namespace safehold::chat
