// Signal Desktop (db.sqlite once decrypted: messages with a json column, conversations),
// Snapchat Android (arroyo.db: conversation_message with its message_content protobuf) and
// Discord Android (kv-storage database "a": messages0 rows of a tag byte and a JSON message),
// with the columns and fields ALEAPP's and iLEAPP's parsers read.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "chat/decoders.hpp"
#include "chat/reader.hpp"

namespace safehold::chat {

namespace {

using nlohmann::json;

// A JSON object from evidence text, or a discarded value (never throws).
json parse_object(std::string_view text) {
  if (text.size() > (16u << 20)) return json();
  auto j = json::parse(text.begin(), text.end(), nullptr, false);
  return j.is_object() ? j : json();
}

std::string str_of(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  if (it == j.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  return "";
}

// ---- Signal Desktop -------------------------------------------------------------------------
// messages.type: incoming, outgoing, call-history, and system events (group-v2-change, keychange,
// verified-change, timer-notification, profile-change, ...); sent_at in ms; the sender of an
// incoming message in source (e164) or sourceServiceId/sourceUuid (ACI), each resolved through
// conversations to a name; attachments in json.attachments[] (path under attachments.noindex).
class SignalDesktopReader : public Reader {
 public:
  std::string name() const override { return "signal_desktop"; }
  std::string app() const override { return "signal"; }
  int match(const Schema& s) const override {
    const Table* m = s.table("messages");
    const Table* c = s.table("conversations");
    return m && c && m->has("json") && m->has("conversationId") && m->has("sent_at") &&
                   m->has("type") && c->has("json")
               ? 100
               : 0;
  }

  std::vector<Source> sources(const Db& db, std::vector<std::string>& errors) override {
    load_people(db, errors);
    Source src;
    src.table = "messages";
    src.columns = {"conversationId",  "type",       "sent_at", "received_at", "body", "json",
                   "sourceServiceId", "sourceUuid", "source"};
    src.times = {{2, Epoch::Unix}, {3, Epoch::Unix}};
    src.map = [this](const Row& r, Message& m) { return map(r, m); };
    return {std::move(src)};
  }

 private:
  KeyMap names_;                    // conversation id, e164 or service id -> label
  KeyMultiMap members_;             // conversation id -> member labels (groups)
  std::vector<std::string> owner_;  // the owner's labels, left out of recipients

  void load_people(const Db& db, std::vector<std::string>& errors) {
    const Table* c = db.schema().table("conversations");
    std::string id = coalesce_of(c, {"e164", "serviceId", "uuid", "groupId"});
    std::string name = coalesce_of(c, {"name", "profileFullName", "profileName"});
    std::string label = "CASE WHEN " + name + " IS NULL THEN coalesce(" + id + ", id) ELSE " +
                        "coalesce(" + id + " || ' (' || " + name + " || ')', " + name + ") END";
    names_ = load_key_map(db, "SELECT id, " + label + " FROM conversations", errors);
    for (auto key : {"e164", "serviceId", "uuid"})
      if (c->has(key)) {
        auto more = load_key_map(
            db, std::string("SELECT ") + key + ", " + label + " FROM conversations", errors);
        names_.insert(more.begin(), more.end());
      }
    if (c->has("members"))  // space-separated e164 numbers or service ids
      for (auto& [conv, list] :
           load_key_map(db, "SELECT id, members FROM conversations WHERE members != ''", errors))
        for (size_t at = 0; at < list.size();) {
          size_t end = std::min(list.find(' ', at), list.size());
          std::string who = list.substr(at, end - at);
          if (!who.empty()) members_[conv].push_back(label_of(who));
          at = end + 1;
        }
    load_members_v2(db, errors);
    load_owner(db, errors);
  }

  // Groups v2 keep their members in json.membersV2 [{aci | uuid | serviceId}] instead.
  void load_members_v2(const Db& db, std::vector<std::string>& errors) {
    for (auto& [conv, text] : load_key_map(
             db, "SELECT id, json FROM conversations WHERE json LIKE '%membersV2%'", errors)) {
      if (members_.count(conv)) continue;
      json j = parse_object(text);
      if (!j.contains("membersV2") || !j["membersV2"].is_array()) continue;
      for (auto& who : j["membersV2"]) {
        std::string id;
        for (auto key : {"aci", "uuid", "serviceId"})
          if (id.empty()) id = str_of(who, key);
        if (!id.empty()) members_[conv].push_back(label_of(id));
      }
    }
  }

  // The owner's ACI and number from items (uuid_id, number_id: {"value": "<id>.<device>"}), left
  // out of the recipients.
  void load_owner(const Db& db, std::vector<std::string>& errors) {
    if (!db.schema().has("items")) return;
    for (auto& [key, text] : load_key_map(
             db, "SELECT id, json FROM items WHERE id IN ('uuid_id', 'number_id')", errors)) {
      std::string v = str_of(parse_object(text), "value");
      v = v.substr(0, v.rfind('.'));
      if (!v.empty()) owner_.push_back(label_of(v));
    }
  }

  std::string label_of(const std::string& id) const {
    std::string l = lookup(names_, id);
    return l.empty() ? id : l;
  }

  static std::string kind_of(const std::string& type, const json& j, bool has_body) {
    if (type == "call-history") return "call";
    if (type != "incoming" && type != "outgoing" && !type.empty()) return "system";
    if (j.contains("sticker")) return "sticker";
    if (j.contains("contact")) return "contact";
    if (has_body) return "text";
    return j.contains("attachments") && !j["attachments"].empty() ? "media" : "other";
  }

  bool map(const Row& r, Message& m) {
    json j = parse_object(r.text(5));
    std::string conv = r[0].null() ? str_of(j, "conversationId") : r.text(0);
    std::string type = r[1].null() ? str_of(j, "type") : r.text(1);
    m.conversation = label_of(conv);
    m.timestamp = r.time(2) ? r.time(2) : r.time(3);
    std::string body = r[4].null() ? str_of(j, "body") : r.text(4);
    if (!body.empty()) m.body = body;
    if (j.contains("attachments") && j["attachments"].is_array())
      for (auto& a : j["attachments"]) {
        std::string p = str_of(a, "path");
        if (p.empty()) p = str_of(a, "fileName");
        if (!p.empty()) m.attachments.push_back(p);
      }
    m.kind = kind_of(type, j, m.body.has_value());
    set_parties(r, j, type, conv, m);
    return true;
  }

  void set_parties(const Row& r, const json& j, const std::string& type, const std::string& conv,
                   Message& m) const {
    std::string from;
    for (size_t k : {6, 7, 8})
      if (from.empty()) from = r.text(k);
    for (auto key : {"sourceServiceId", "sourceUuid", "source"})
      if (from.empty()) from = str_of(j, key);
    if (type == "outgoing") {
      m.direction = "sent";
      auto it = members_.find(conv);
      if (it != members_.end()) {
        for (auto& who : it->second)
          if (std::find(owner_.begin(), owner_.end(), who) == owner_.end())
            m.recipients.push_back(who);
      } else if (!m.conversation.empty())
        m.recipients.push_back(m.conversation);
    } else {
      m.direction = type == "incoming" ? "received" : "unknown";
      m.sender = from.empty() ? (type == "incoming" ? m.conversation : "") : label_of(from);
      if (m.sender.empty()) m.sender = "unknown";
    }
  }
};

// ---- Snapchat (arroyo.db) -------------------------------------------------------------------
// conversation_message: client_conversation_id, sender_id (user UUID), creation_timestamp (ms),
// content_type (1 = chat text; the other values' meaning is not published) and message_content,
// a protobuf whose text is at 4 > 4 > 2 > 1 (ALEAPP, from observed structure). The owner is the
// single sender of the rows created_on_device (older builds: local_message_content_id set);
// participants from conversation.conversation_metadata at 3 > 1 > 1 (16-byte UUIDs).
std::string uuid_text(std::string_view b) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (size_t k = 0; k < b.size(); ++k) {
    if (k == 4 || k == 6 || k == 8 || k == 10) out += '-';
    out += hex[static_cast<unsigned char>(b[k]) >> 4];
    out += hex[static_cast<unsigned char>(b[k]) & 15];
  }
  return out;
}

// Every value at `path` below n, following repeated fields at each step.
void collect(const Node& n, const std::vector<std::string>& path, size_t at,
             std::vector<const Node*>& out) {
  if (at == path.size()) {
    out.push_back(&n);
    return;
  }
  for (auto& f : n.fields)
    if (f.first == path[at]) collect(f.second, path, at + 1, out);
}

class SnapchatReader : public Reader {
 public:
  std::string name() const override { return "snapchat_android"; }
  std::string app() const override { return "snapchat"; }
  int match(const Schema& s) const override {
    const Table* m = s.table("conversation_message");
    return m && m->has("client_conversation_id") && m->has("sender_id") &&
                   m->has("message_content") && m->has("creation_timestamp")
               ? 100
               : 0;
  }

  std::vector<Source> sources(const Db& db, std::vector<std::string>& errors) override {
    find_owner(db, errors);
    load_members(db, errors);
    Source src;
    src.table = "conversation_message";
    src.columns = {"client_conversation_id", "sender_id", "creation_timestamp", "content_type",
                   "message_content"};
    src.times = {{2, Epoch::Unix}};
    src.map = [this](const Row& r, Message& m) { return map(r, m); };
    return {std::move(src)};
  }

 private:
  std::string owner_;
  std::unordered_map<std::string, std::vector<std::string>> members_;

  void find_owner(const Db& db, std::vector<std::string>& errors) {
    const Table* t = db.schema().table("conversation_message");
    std::string mine = t->has("created_on_device")          ? "created_on_device = 1"
                       : t->has("local_message_content_id") ? "local_message_content_id IS NOT NULL"
                                                            : "";
    if (mine.empty()) return;
    auto senders = load_key_map(
        db, "SELECT DISTINCT sender_id, sender_id FROM conversation_message WHERE " + mine, errors);
    if (senders.size() == 1) owner_ = senders.begin()->first;
  }

  void load_members(const Db& db, std::vector<std::string>& errors) {
    const Table* c = db.schema().table("conversation");
    if (!c || !c->has("conversation_metadata") || !c->has("client_conversation_id")) return;
    try {
      Stmt st =
          db.prepare("SELECT client_conversation_id, conversation_metadata FROM conversation");
      while (st.step()) {
        auto pb = parse_protobuf(st.text_at(1));
        if (!pb) continue;
        std::vector<const Node*> ids;
        collect(*pb, {"3", "1", "1"}, 0, ids);
        auto& list = members_[st.text_at(0)];
        for (auto* n : ids)
          if (n->s.size() == 16) list.push_back(uuid_text(n->s));
      }
    } catch (const std::exception& e) {
      errors.push_back(std::string("snapchat participants: ") + e.what());
    }
  }

  bool map(const Row& r, Message& m) {
    m.conversation = r.text(0);
    std::string sender = r.text(1);
    m.timestamp = r.time(2);
    if (auto pb = parse_protobuf(r.text(4))) {
      std::vector<const Node*> texts;
      collect(*pb, {"4", "4", "2", "1"}, 0, texts);
      if (!texts.empty() && texts[0]->type == Node::Type::String && !texts[0]->s.empty())
        m.body = texts[0]->s;
    }
    auto type = r.integer(3);
    m.kind = m.body ? "text" : type && *type == 1 ? "text" : "other";
    if (!owner_.empty() && sender == owner_) {
      m.direction = "sent";
      if (auto it = members_.find(m.conversation); it != members_.end())
        for (auto& who : it->second)
          if (who != owner_) m.recipients.push_back(who);
    } else {
      m.direction = owner_.empty() ? "unknown" : "received";
      m.sender = sender.empty() ? "unknown" : sender;
    }
    return true;
  }
};

// ---- Discord Android (kv-storage) -----------------------------------------------------------
// messages0.data: one tag byte, then JSON {"channelId", "id", "message": {author {id, username},
// content, timestamp (ISO 8601), attachments [{filename, url, proxy_url}], type, sticker_items}}
// (ALEAPP and iLEAPP discordChats). The owner's account id is only in the file's path, which a
// reader does not see: direction stays unknown and every message names its author.
class DiscordReader : public Reader {
 public:
  std::string name() const override { return "discord_android"; }
  std::string app() const override { return "discord"; }
  int match(const Schema& s) const override {
    const Table* m = s.table("messages0");
    return m && m->has("data") ? 100 : 0;
  }

  std::vector<Source> sources(const Db&, std::vector<std::string>&) override {
    Source src;
    src.table = "messages0";
    src.columns = {"data"};
    src.map = [](const Row& r, Message& m) { return map(r, m); };
    return {std::move(src)};
  }

 private:
  static json message_json(std::string_view blob) {
    size_t brace = blob.find('{');
    if (brace == std::string_view::npos || brace > 8) return json();
    return parse_object(blob.substr(brace));
  }

  // Discord message types: 0 default, 19 reply, 20 slash command, 23 context menu command are
  // what someone wrote; 3 is a call; the rest are system notices (joins, pins, boosts, ...).
  static std::string kind_of(const json& msg, bool has_body, bool has_files) {
    int64_t type =
        msg.contains("type") && msg["type"].is_number_integer() ? msg["type"].get<int64_t>() : 0;
    if (type == 3) return "call";
    if (type != 0 && type != 19 && type != 20 && type != 23) return "system";
    if (msg.contains("sticker_items") && !msg["sticker_items"].empty() && !has_body)
      return "sticker";
    return has_body ? "text" : has_files ? "media" : "other";
  }

  static bool map(const Row& r, Message& m) {
    json outer = message_json(r.text(0));
    if (!outer.is_object() || !outer.contains("message") || !outer["message"].is_object())
      return false;
    const json& msg = outer["message"];
    m.conversation = str_of(outer, "channelId");
    if (m.conversation.empty()) m.conversation = str_of(msg, "channel_id");
    m.timestamp = iso8601_to_utc(str_of(msg, "timestamp"));
    std::string content = str_of(msg, "content");
    if (!content.empty()) m.body = content;
    if (msg.contains("author"))
      m.sender = labelled(str_of(msg["author"], "id"), str_of(msg["author"], "username"));
    if (m.sender.empty()) m.sender = "unknown";
    if (msg.contains("attachments") && msg["attachments"].is_array())
      for (auto& a : msg["attachments"]) {
        std::string f = str_of(a, "filename");
        if (f.empty()) f = str_of(a, "url");
        if (!f.empty()) m.attachments.push_back(f);
      }
    m.kind = kind_of(msg, m.body.has_value(), !m.attachments.empty());
    return true;
  }
};

}  // namespace

std::unique_ptr<Reader> make_signal_desktop_reader() {
  return std::make_unique<SignalDesktopReader>();
}
std::unique_ptr<Reader> make_snapchat_reader() {
  return std::make_unique<SnapchatReader>();
}
std::unique_ptr<Reader> make_discord_reader() {
  return std::make_unique<DiscordReader>();
}

}  // namespace safehold::chat
