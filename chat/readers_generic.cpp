// The generic reader: for databases no app reader knows, every table with a text body column and
// a timestamp column (sender, recipient, thread and direction columns when present). Its
// messages carry app "generic".
#include <algorithm>

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
  std::optional<size_t> sender, recipient, thread, outgoing;
};

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
  Layout l{t.name, *body, *time, {}, {}, {}, {}};
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
  return l;
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
    std::vector<Source> out;
    for (auto& [k, t] : db.schema().tables) {
      auto l = layout_of(t);
      if (!l) continue;
      // Only tables whose body column actually holds text in some row.
      try {
        Stmt st = db.prepare("SELECT 1 FROM " + quote_ident(t.name) + " WHERE typeof(" +
                             quote_ident(t.columns[l->body].name) + ")='text' AND length(" +
                             quote_ident(t.columns[l->body].name) + ")>0 LIMIT 1");
        if (!st.step()) continue;
      } catch (const std::exception& e) {
        errors.push_back(t.name + ": " + e.what());
        continue;
      }
      Source src;
      src.generic = true;
      src.table = t.name;
      auto name = [&](std::optional<size_t> c) { return c ? t.columns[*c].name : std::string(); };
      // Wanted: body, time, sender, recipient, thread, outgoing ("" reads as NULL).
      src.columns = {name(l->body),      name(l->time),   name(l->sender),
                     name(l->recipient), name(l->thread), name(l->outgoing)};
      for (auto& c : src.columns)
        if (c.empty()) c = "\x01none";
      src.times = {{1, Epoch::Any}};
      bool has_dir = l->outgoing.has_value();
      src.map = [has_dir](const Row& r, Message& m) {
        if (r[0].null()) return false;
        m.body = r.text(0);
        m.timestamp = r.time(1);
        m.sender = r.text(2);
        if (!r[3].null() && !r.text(3).empty()) m.recipients.push_back(r.text(3));
        m.conversation = r.text(4);
        if (has_dir && !r[5].null()) m.direction = r.integer(5).value_or(0) ? "sent" : "received";
        return true;
      };
      out.push_back(std::move(src));
    }
    return out;
  }
};

}  // namespace

std::unique_ptr<Reader> make_generic_reader() {
  return std::make_unique<GenericReader>();
}

}  // namespace safehold::chat
