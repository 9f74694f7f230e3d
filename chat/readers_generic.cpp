// The generic reader: for databases no app reader knows, every table with a text body column and
// a timestamp column (sender, recipient, thread and direction columns when present). Its
// messages carry app "generic".
#include <algorithm>

#include "chat/decoders.hpp"
#include "chat/reader.hpp"

namespace safehold::chat {

namespace {

bool one_of(const std::string& n, std::initializer_list<const char*> names) {
  for (auto x : names)
    if (n == x) return true;
  return false;
}

bool texty(const Column& c) {
  const auto& t = c.decl_type;
  return t.empty() || t.find("CHAR") != std::string::npos || t.find("TEXT") != std::string::npos ||
         t.find("CLOB") != std::string::npos;
}

bool numeric(const Column& c) {
  const auto& t = c.decl_type;
  return t.empty() || t.find("INT") != std::string::npos || t.find("REAL") != std::string::npos ||
         t.find("NUM") != std::string::npos || t.find("FLOA") != std::string::npos ||
         t.find("DOUB") != std::string::npos || t.find("TIMESTAMP") != std::string::npos ||
         t.find("DATE") != std::string::npos;
}

std::optional<size_t> find_col(const Table& t, bool (*want)(const Column&),
                               std::initializer_list<const char*> names) {
  for (auto n : names)
    for (size_t k = 0; k < t.columns.size(); ++k)
      if (lower(t.columns[k].name) == n && want(t.columns[k])) return k;
  return std::nullopt;
}

bool any(const Column&) {
  return true;
}

struct Layout {
  std::string table;
  size_t body;
  size_t time;
  std::optional<size_t> sender, recipient, thread, outgoing, type, attachment;
  bool post = false;  // a timeline, feed or cache of public posts, not messages
};

bool contains_any(const std::string& s, std::initializer_list<const char*> words) {
  for (auto w : words)
    if (s.find(w) != std::string::npos) return true;
  return false;
}

// Names that speak of public posts rather than messages.
bool post_like(const std::string& table) {
  return contains_any(table, {"timeline", "feed", "tweet", "status", "post", "stor", "cache",
                              "news", "comment", "notification"}) &&
         !contains_any(table, {"message", "chat", "conversation", "sms", "dm", "direct"});
}

std::optional<Layout> layout_of(const Table& t) {
  if (t.virtual_table || t.columns.empty()) return std::nullopt;
  std::string n = lower(t.name);
  for (auto suffix :
       {"_content", "_segments", "_segdir", "_docsize", "_stat", "_data", "_idx", "_config"})
    if (n.size() > std::string_view(suffix).size() &&
        n.compare(n.size() - std::string_view(suffix).size(), std::string::npos, suffix) == 0)
      return std::nullopt;  // full-text index shadow tables
  if (n.rfind("sqlite_", 0) == 0) return std::nullopt;
  auto body =
      find_col(t, texty,
               {"body", "text", "message", "message_text", "msg", "msg_text", "text_data",
                "body_xml", "message_body", "content", "zbody", "ztext", "zcontent", "zmessage"});
  // A message table may keep its text only inside a serialised blob (NSKeyedArchiver,
  // protobuf, JSON): any column named like a body or a payload, in a table named for messages.
  if (!body && contains_any(n, {"message", "msg", "chat", "conversation", "direct", "thread"}))
    body = find_col(t, any,
                    {"body", "text", "message", "msg", "content", "data", "payload", "blob",
                     "message_data", "zbody", "zmessage", "zdata", "zpayload"});
  if (!body) return std::nullopt;
  std::optional<size_t> time;
  for (size_t k = 0; k < t.columns.size() && !time; ++k) {
    std::string c = lower(t.columns[k].name);
    if (!numeric(t.columns[k])) continue;
    if (one_of(c, {"date", "timestamp", "time", "ts", "sent", "sent_at", "created_at", "created",
                   "date_sent", "send_time", "timestamp_ms", "zdate", "ztimestamp", "zmessagedate",
                   "zsentdate"}))
      time = k;
  }
  for (size_t k = 0; k < t.columns.size() && !time; ++k) {
    std::string c = lower(t.columns[k].name);
    if (numeric(t.columns[k]) &&
        (c.find("date") != std::string::npos || c.find("time") != std::string::npos))
      time = k;
  }
  if (!time) return std::nullopt;
  Layout l{t.name, *body, *time, {}, {}, {}, {}, {}, {}, post_like(n)};
  l.sender = find_col(t, any,
                      {"sender", "from", "author", "from_address", "sender_id", "from_jid",
                       "from_user", "sender_name", "zsender", "zfrom"});
  l.recipient = find_col(t, any,
                         {"recipient", "to", "receiver", "to_address", "recipient_id", "to_jid",
                          "to_user", "zrecipient", "zto", "address"});
  l.thread = find_col(t, any,
                      {"thread_id", "conversation_id", "chat_id", "thread", "conversation", "chat",
                       "convo_id", "thread_key", "room", "channel", "zchat"});
  l.outgoing = find_col(t, any,
                        {"is_from_me", "from_me", "outgoing", "is_outgoing", "is_sent", "out",
                         "sent_by_me", "zisfromme", "zoutgoing"});
  l.type = find_col(t, any,
                    {"send_type", "direction", "message_direction", "msg_direction", "type",
                     "msg_type", "message_type", "msgtype", "ztype", "zmessagetype"});
  l.attachment = find_col(
      t, any,
      {"attachment", "attachments", "media", "media_path", "media_url", "file_path", "filename",
       "file_name", "path", "uri", "sticker", "zmedialocalpath", "zattachment"});
  return l;
}

// Direction from a flag column (non-zero: sent) or a type column: words (outgoing, sent, in,
// ...) or the common codes: `send_type` 1 sent 0 received (Viber), `direction` 1 in 2 out
// (TextNow), `type` 1 received 2 sent (Android's Telephony and its many copies).
std::string direction_of(const Row& r, const std::string& type_col, bool has_flag) {
  if (has_flag && !r[5].null()) return r.integer(5).value_or(0) ? "sent" : "received";
  if (r[6].null()) return "unknown";
  if (auto v = r.integer(6)) {
    if (type_col == "send_type") return *v == 1 ? "sent" : *v == 0 ? "received" : "unknown";
    if (type_col.find("direction") != std::string::npos)
      return *v == 1 ? "received" : *v == 2 ? "sent" : "unknown";
    if (type_col == "type" || type_col == "msg_type" || type_col == "message_type")
      return *v == 1 ? "received" : *v == 2 ? "sent" : "unknown";
    return "unknown";
  }
  std::string v = lower(r.text(6));
  if (contains_any(v, {"outgoing", "sent", "outbox"}) || v == "out") return "sent";
  if (contains_any(v, {"incoming", "received", "inbox"}) || v == "in") return "received";
  return "unknown";
}

// Kind of a row without text: from its type value's words, else media when it names a file.
std::string kind_of(const Row& r, bool has_attachment) {
  std::string t = r[6].is_text() ? lower(r.text(6)) : std::string();
  if (contains_any(t, {"call"})) return "call";
  if (contains_any(t, {"sticker"})) return "sticker";
  if (contains_any(t, {"location"})) return "location";
  if (contains_any(t, {"contact", "vcard"})) return "contact";
  if (contains_any(t, {"image", "photo", "video", "audio", "voice", "file", "attachment", "gif"}))
    return "media";
  if (has_attachment) return "media";
  if (contains_any(t, {"system", "group", "notification", "event"})) return "system";
  return "other";
}

// The text of a body value: a blob (or a JSON object, or a base64 protobuf text) decoded by
// the shared decoders, else the text as stored.
std::optional<std::string> body_of(const Value& v) {
  if (v.type == Value::Type::Blob) {
    auto d = decode_blob(v.s);
    return d ? blob_text(*d) : std::nullopt;
  }
  std::string_view s = v.s;
  if (v.is_text() && !s.empty() && s.front() == '{') {
    if (auto d = decode_blob(s); d && d->format == "json")
      if (auto t = blob_text(*d)) return t;
  } else if (v.is_text() && s.size() >= 16 &&
             s.find_first_of(" \t\r\n.:,!?") == std::string_view::npos) {
    // Base64 text is taken only as structure with real text in it: a word is no protobuf.
    if (auto d = decode_blob(s); d && d->format.rfind("base64+", 0) == 0)
      if (auto t = blob_text(*d); t && t->size() >= 4) return t;
  }
  return v.as_text();
}

// Some row's body column holds text, or a blob whose decoding holds text (first 50 rows).
bool holds_text(const Db& db, const Table& t, size_t body) {
  std::string c = quote_ident(t.columns[body].name);
  Stmt st = db.prepare("SELECT " + c + " FROM " + quote_ident(t.name) + " WHERE typeof(" + c +
                       ") IN ('text','blob') AND length(" + c + ")>0 LIMIT 50");
  while (st.step()) {
    Value v = st.value(0);
    if (v.is_text()) return true;
    if (auto d = decode_blob(v.s); d && blob_text(*d)) return true;
  }
  return false;
}

class GenericReader : public Reader {
 public:
  std::string name() const override { return "generic"; }
  std::string app() const override { return "generic"; }
  int match(const Schema& s) const override {
    for (auto& [k, t] : s.tables)
      if (layout_of(t)) return 1;
    return 0;
  }
  std::vector<Source> sources(const Db& db, std::vector<std::string>& errors) override {
    std::vector<Layout> chosen;
    for (auto& [k, t] : db.schema().tables) {
      auto l = layout_of(t);
      if (!l) continue;
      // Only tables whose body column actually holds text in some row.
      try {
        if (!holds_text(db, t, l->body)) continue;
      } catch (const std::exception& e) {
        errors.push_back(t.name + ": " + e.what());
        continue;
      }
      chosen.push_back(*l);
    }
    // Message tables win; timelines and feeds are read (as posts) only when nothing else is.
    bool any_messages = std::any_of(chosen.begin(), chosen.end(), [](auto& l) { return !l.post; });
    std::vector<Source> out;
    for (auto& l : chosen)
      if (!(any_messages && l.post)) out.push_back(source_of(*db.schema().table(l.table), l));
    return out;
  }

 private:
  static Source source_of(const Table& t, const Layout& l) {
    Source src;
    src.generic = true;
    src.table = t.name;
    auto name = [&](std::optional<size_t> c) { return c ? t.columns[*c].name : std::string(); };
    // Wanted: body, time, sender, recipient, thread, outgoing, type, attachment.
    src.columns = {name(l.body),   name(l.time),     name(l.sender), name(l.recipient),
                   name(l.thread), name(l.outgoing), name(l.type),   name(l.attachment)};
    for (auto& c : src.columns)
      if (c.empty()) c = "\x01none";
    src.times = {{1, Epoch::Any}};
    bool has_flag = l.outgoing.has_value(), has_attachment = l.attachment.has_value();
    bool post = l.post;
    std::string type_col = lower(name(l.type));
    src.map = [has_flag, has_attachment, post, type_col](const Row& r, Message& m) {
      if (!r[0].null()) m.body = body_of(r[0]);
      m.timestamp = r.time(1);
      m.sender = r.text(2);
      if (!r[3].null() && !r.text(3).empty()) m.recipients.push_back(r.text(3));
      m.conversation = r.text(4);
      m.direction = direction_of(r, type_col, has_flag);
      if (has_attachment && !r[7].null() && !r.text(7).empty()) m.attachments.push_back(r.text(7));
      if (post)
        m.kind = "post";
      else if (!m.body || m.body->empty())
        m.kind = kind_of(r, !m.attachments.empty());
      if (m.body && m.body->empty()) m.body.reset();
      // The owner is the only sender left empty: a received row's other party is its
      // recipient-like column (an SMS-style address) or its conversation.
      if (m.direction == "sent") {
        m.sender.clear();
      } else if (m.sender.empty()) {
        if (m.direction == "received" && !m.recipients.empty())
          m.sender = m.recipients.front(), m.recipients.clear();
        else if (m.direction == "received" && !m.conversation.empty())
          m.sender = m.conversation;
        else
          m.sender = "unknown";
      }
      return true;
    };
    return src;
  }
};

}  // namespace

std::unique_ptr<Reader> make_generic_reader() {
  return std::make_unique<GenericReader>();
}

}  // namespace safehold::chat
