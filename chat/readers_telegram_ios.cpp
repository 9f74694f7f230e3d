// Telegram iOS (postbox/db/db_sqlite): key-value tables tN (key, value). Which table holds the
// message history and which the peers changes between app versions (t7 and t2 in the builds
// iLEAPP was written against, t17 and t5 in others), so both are found by content: the message
// table is the BLOB-keyed one whose 20-byte keys and values decode as message records, the peers
// table the INTEGER-keyed one whose values decode as peer objects.
#include <cctype>

#include "chat/postbox.hpp"
#include "chat/reader.hpp"

namespace safehold::chat {

namespace {

bool is_kv_table(const Table& t) {
  if (t.name.size() < 2 || (t.name[0] != 't' && t.name[0] != 'T')) return false;
  for (size_t k = 1; k < t.name.size(); ++k)
    if (!std::isdigit(static_cast<unsigned char>(t.name[k]))) return false;
  return t.columns.size() == 2 && t.has("key") && t.has("value");
}

std::string kind_of(const PostboxMessage& m) {
  static const int32_t image = postbox_type_hash("TelegramMediaImage");
  static const int32_t file = postbox_type_hash("TelegramMediaFile");
  static const int32_t action = postbox_type_hash("TelegramMediaAction");
  static const int32_t map = postbox_type_hash("TelegramMediaMap");
  static const int32_t contact = postbox_type_hash("TelegramMediaContact");
  static const int32_t webpage = postbox_type_hash("TelegramMediaWebpage");
  for (int32_t t : m.media_types) {
    if (t == action) return "system";
    if (t == image || t == file) return "media";
    if (t == map) return "location";
    if (t == contact) return "contact";
    if (t != webpage) return m.text.empty() ? "other" : "text";
  }
  if (m.tags & (1u | 2u | 4u | 16u | 128u | 256u)) return "media";
  if (m.tags & 64u) return "location";
  return m.text.empty() ? (m.referenced_media ? "media" : "other") : "text";
}

class TelegramIosReader : public Reader {
 public:
  std::string name() const override { return "telegram_ios"; }
  std::string app() const override { return "telegram"; }
  int match(const Schema& s) const override {
    int kv = 0;
    for (auto& [name, t] : s.tables) kv += is_kv_table(t);
    return kv >= 5 && s.tables.size() <= static_cast<size_t>(kv) + 8 ? 90 : 0;
  }

  std::vector<Source> sources(const Db& db, std::vector<std::string>& errors) override {
    std::string messages, peers;
    int best_m = 0, best_p = 0;
    for (auto& [key, t] : db.schema().tables) {
      if (!is_kv_table(t)) continue;
      auto [m, p] = score(db, t.name);
      if (m > best_m || (m == best_m && m > 0 && t.name == "t7")) best_m = m, messages = t.name;
      if (p > best_p) best_p = p, peers = t.name;
    }
    if (!peers.empty()) load_peers(db, peers, errors);
    if (messages.empty()) {
      errors.push_back("telegram postbox: no table of message records found");
      return {};
    }
    Source src;
    src.table = messages;
    src.columns = {"key", "value"};
    src.map = [this](const Row& r, Message& m) { return map(r, m); };
    return {std::move(src)};
  }

 private:
  IdMap peers_;

  // How many of the first rows decode as message records, and as peers.
  static std::pair<int, int> score(const Db& db, const std::string& table) {
    int m = 0, p = 0;
    try {
      Stmt st = db.prepare("SELECT key, value FROM " + quote_ident(table) + " LIMIT 32");
      while (st.step()) {
        Value k = st.value(0), v = st.value(1);
        if (k.type == Value::Type::Blob && parse_postbox_key(k.s) && parse_postbox_message(v.s))
          ++m;
        if (k.type == Value::Type::Int && postbox_peer_name(v.s)) ++p;
      }
    } catch (const std::exception&) {
    }
    return {m, p};
  }

  void load_peers(const Db& db, const std::string& table, std::vector<std::string>& errors) {
    try {
      Stmt st = db.prepare("SELECT key, value FROM " + quote_ident(table));
      while (st.step())
        if (auto id = st.int_at(0))
          if (auto name = postbox_peer_name(st.value(1).s)) peers_[*id] = *name;
    } catch (const std::exception& e) {
      errors.push_back(std::string("telegram peers: ") + e.what());
    }
  }

  std::string peer(int64_t id) const { return labelled(std::to_string(id), lookup(peers_, id)); }

  bool map(const Row& r, Message& m) const {
    auto key = parse_postbox_key(r.text(0));
    auto msg = parse_postbox_message(r.text(1));
    if (!key || !msg) return false;
    m.conversation = peer(key->peer);
    m.timestamp = iso8601_ns(int64_t(key->timestamp) * 1000000000);
    if (!msg->text.empty()) m.body = msg->text;
    m.kind = kind_of(*msg);
    if (msg->flags & 4u) {
      m.direction = "received";
      m.sender = peer(msg->author.value_or(key->peer));
    } else {
      m.direction = "sent";
      m.recipients.push_back(m.conversation);
    }
    return true;
  }
};

}  // namespace

std::unique_ptr<Reader> make_telegram_ios_reader() {
  return std::make_unique<TelegramIosReader>();
}

}  // namespace safehold::chat
