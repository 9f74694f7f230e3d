// Tango Android (tc.db: messages), Badoo Android (ChatComDatabase: message, conversation_info;
// Bumble's ChatComDatabase has the same tables) and Tinder Android (tinder-3.db: message, match,
// match_person), with the tables and columns ALEAPP's tangomessage, BadooChat, bumble and tinder
// modules read (ALEAPP 075122c8).
#include <optional>
#include <string>

#include "chat/decoders.hpp"
#include "chat/reader.hpp"

namespace safehold::chat {

namespace {

std::string named(const KeyMap& names, const std::string& id) {
  return labelled(id, lookup(names, id));
}

// ---- Tango Android --------------------------------------------------------------------------
// messages: conv_id (the conversation), payload (base64 of a serialised message; ALEAPP takes
// the text that follows the conversation id inside it), create_time (ms), direction (1 incoming,
// 2 outgoing).
std::optional<std::string> tango_text(const std::string& payload, const std::string& conv) {
  auto blob = decode_blob(payload);
  if (!blob) return std::nullopt;
  bool after = false;
  for (auto& s : blob->strings) {
    if (s == conv) {
      after = true;
      continue;
    }
    if (after && !s.empty()) return s;
  }
  const std::string* best = nullptr;
  for (auto& s : blob->strings)
    if (s != conv && (!best || s.size() > best->size())) best = &s;
  if (best && !best->empty()) return *best;
  return std::nullopt;
}

class TangoReader : public Reader {
 public:
  std::string name() const override { return "tango_android"; }
  std::string app() const override { return "tango"; }
  int match(const Schema& s) const override {
    const Table* m = s.table("messages");
    return m && m->has("conv_id") && m->has("payload") && m->has("create_time") &&
                   m->has("direction")
               ? 100
               : 0;
  }

  std::vector<Source> sources(const Db&, std::vector<std::string>&) override {
    Source src;
    src.table = "messages";
    src.columns = {"conv_id", "payload", "create_time", "direction"};
    src.times = {{2, Epoch::Unix}};
    src.map = [](const Row& r, Message& m) {
      std::string conv = r.text(0);
      m.conversation = conv;
      m.timestamp = r.time(2);
      if (!r[1].null()) m.body = tango_text(r.text(1), conv);
      m.kind = m.body ? "text" : "other";
      auto dir = r.integer(3).value_or(0);
      if (dir == 2) {
        m.direction = "sent";
        if (!conv.empty()) m.recipients.push_back(conv);
      } else {
        m.direction = dir == 1 ? "received" : "unknown";
        m.sender = conv.empty() ? "unknown" : conv;
      }
      return true;
    };
    return {std::move(src)};
  }
};

// ---- Badoo Android --------------------------------------------------------------------------
// message: conversation_id (the other user's user_id), sender_id, recipient_id, is_incoming
// (1 incoming, 0 outgoing), created_timestamp (ms), payload (JSON: text, url, ...), payload_type
// (TEXT, QUESTION_GAME, IMAGE, AUDIO, INSTANT_VIDEO, ...). conversation_info names the other
// users, keyed by user_id and by encrypted_user_id (what sender_id and recipient_id hold).
std::string str_at(const Node& n, const char* key) {
  const Node* v = n.get(key);
  if (!v) return "";
  if (v->type == Node::Type::String) return v->s;
  if (v->type == Node::Type::Int) return std::to_string(v->i);
  return "";
}

class BadooReader : public Reader {
 public:
  std::string name() const override { return "badoo_android"; }
  std::string app() const override { return "badoo"; }
  int match(const Schema& s) const override {
    const Table* m = s.table("message");
    return m && m->has("sender_id") && m->has("recipient_id") && m->has("payload") &&
                   m->has("payload_type") && m->has("created_timestamp") &&
                   s.has("conversation_info")
               ? 100
               : 0;
  }

  std::vector<Source> sources(const Db& db, std::vector<std::string>& errors) override {
    const Schema& s = db.schema();
    if (const Table* c = s.table("conversation_info"); c && c->has("user_name")) {
      if (c->has("user_id"))
        names_ = load_key_map(
            db, "SELECT user_id, user_name FROM conversation_info WHERE user_name != ''", errors);
      if (c->has("encrypted_user_id")) {
        auto more = load_key_map(db,
                                 "SELECT encrypted_user_id, user_name FROM conversation_info "
                                 "WHERE user_name != '' AND encrypted_user_id IS NOT NULL",
                                 errors);
        names_.insert(more.begin(), more.end());
      }
    }
    Source src;
    src.table = "message";
    src.columns = {"conversation_id",   "sender_id", "recipient_id", "is_incoming",
                   "created_timestamp", "payload",   "payload_type"};
    src.times = {{4, Epoch::Unix}};
    src.map = [this](const Row& r, Message& m) { return map(r, m); };
    return {std::move(src)};
  }

 private:
  KeyMap names_;

  static void content(const std::string& type, const std::string& payload, Message& m) {
    auto j = payload.empty() ? std::nullopt : parse_json(payload);
    std::string text, url;
    if (j && j->type == Node::Type::Dict) {
      text = str_at(*j, "text");
      url = str_at(*j, "url");
    } else if (!payload.empty()) {
      text = payload;  // not JSON: as stored
    }
    if (type == "QUESTION_GAME" && j && j->type == Node::Type::Dict) {
      if (auto own = str_at(*j, "answer_own"); !own.empty()) text += "\nOwn answer: " + own;
      if (auto other = str_at(*j, "answer_other"); !other.empty())
        text += "\nOther answer: " + other;
    }
    if (!url.empty()) m.attachments.push_back(url);
    bool media = type == "IMAGE" || type == "AUDIO" || type == "INSTANT_VIDEO" || type == "VIDEO" ||
                 type == "GIF";
    if (media) {
      m.kind = "media";
      return;
    }
    if (!text.empty()) m.body = text;
    if (type == "LOCATION")
      m.kind = "location";
    else
      m.kind = m.body ? "text" : m.attachments.empty() ? "other" : "media";
  }

  bool map(const Row& r, Message& m) {
    std::string conv = r.text(0), from = r.text(1), to = r.text(2);
    content(r.text(6), r[5].null() ? "" : r.text(5), m);
    m.timestamp = r.time(4);
    auto incoming = r.integer(3);
    bool sent = incoming ? *incoming == 0 : lookup(names_, from).empty() && !to.empty();
    // The conversation is the other user: conversation_id, else the other party's id.
    std::string other = !conv.empty() ? conv : sent ? to : from;
    m.conversation = named(names_, other);
    if (sent) {
      m.direction = "sent";
      m.recipients.push_back(to.empty() ? m.conversation : named(names_, to));
    } else {
      m.direction = incoming ? "received" : lookup(names_, from).empty() ? "unknown" : "received";
      m.sender = !from.empty() ? named(names_, from) : other.empty() ? "unknown" : m.conversation;
    }
    return true;
  }
};

// ---- Tinder Android -------------------------------------------------------------------------
// message: id, match_id, from_id, to_id, text, sent_date (ms), raw_message_data (JSON; its
// `type` "gif" marks a GIF whose URL is the text). match links match_id to person_id, and
// match_person names the person. A message from the match's person is incoming, one to it
// outgoing (ALEAPP's reading; the owner's own id is only in files/datastore/id).
class TinderReader : public Reader {
 public:
  std::string name() const override { return "tinder_android"; }
  std::string app() const override { return "tinder"; }
  int match(const Schema& s) const override {
    const Table* m = s.table("message");
    return m && m->has("match_id") && m->has("from_id") && m->has("to_id") && m->has("text") &&
                   m->has("sent_date") && s.has("match")
               ? 100
               : 0;
  }

  std::vector<Source> sources(const Db& db, std::vector<std::string>& errors) override {
    const Schema& s = db.schema();
    if (const Table* t = s.table("match"); t && t->has("id") && t->has("person_id"))
      person_of_ = load_key_map(db, "SELECT id, person_id FROM \"match\"", errors);
    if (const Table* t = s.table("match_person"); t && t->has("id") && t->has("name"))
      names_ = load_key_map(db, "SELECT id, name FROM match_person WHERE name != ''", errors);
    Source src;
    src.table = "message";
    src.columns = {"match_id", "from_id", "to_id", "text", "sent_date", "raw_message_data"};
    src.times = {{4, Epoch::Unix}};
    src.map = [this](const Row& r, Message& m) { return map(r, m); };
    return {std::move(src)};
  }

 private:
  KeyMap person_of_, names_;

  bool map(const Row& r, Message& m) {
    std::string match = r.text(0), from = r.text(1), to = r.text(2);
    std::string person = lookup(person_of_, match);
    m.conversation = person.empty() ? match : named(names_, person);
    m.timestamp = r.time(4);
    std::string text = r[3].null() ? "" : r.text(3);
    std::string type;
    if (auto j = r[5].null() ? std::nullopt : parse_json(r.text(5));
        j && j->type == Node::Type::Dict)
      type = str_at(*j, "type");
    if (type == "gif") {
      m.kind = "media";
      if (!text.empty()) m.attachments.push_back(text);
    } else {
      if (!text.empty()) m.body = text;
      m.kind = m.body ? "text" : "other";
    }
    if (!person.empty() && to == person) {
      m.direction = "sent";
      m.recipients.push_back(named(names_, to));
    } else {
      m.direction = !person.empty() && from == person ? "received" : "unknown";
      m.sender = from.empty() ? "unknown" : named(names_, from);
    }
    return true;
  }
};

}  // namespace

std::unique_ptr<Reader> make_tango_reader() {
  return std::make_unique<TangoReader>();
}
std::unique_ptr<Reader> make_badoo_reader() {
  return std::make_unique<BadooReader>();
}
std::unique_ptr<Reader> make_tinder_reader() {
  return std::make_unique<TinderReader>();
}

}  // namespace safehold::chat
