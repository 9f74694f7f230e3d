// Instagram iOS Direct (Library/Application Support/DirectSQLiteDatabase/<id>.db): MESSAGES rows
// whose ARCHIVE is an NSKeyedArchiver of IGDirectPublishedMessage, THREADS rows whose METADATA
// archives the thread's users, as iLEAPP's instagramThreads reads them. Instagram archives its
// fields under "Type*name" keys: metadata "IGDirectPublishedMessageMetadata*metadata" (senderPk,
// threadId, serverTimestamp), content "IGDirectPublishedMessageContent*content" (string, media,
// threadActivity for calls).
#include "chat/decoders.hpp"
#include "chat/reader.hpp"

namespace safehold::chat {

namespace {

constexpr const char* kMetadata = "IGDirectPublishedMessageMetadata*metadata";
constexpr const char* kContent = "IGDirectPublishedMessageContent*content";
constexpr const char* kMedia = "IGDirectPublishedMessageMedia*media";
constexpr const char* kActivity = "IGDirectThreadActivityAnnouncement*threadActivity";

// A string or integer node as text ("" otherwise).
std::string text_of(const Node* n) {
  if (!n) return "";
  if (n->type == Node::Type::String) return n->s;
  if (n->type == Node::Type::Int) return std::to_string(n->i);
  return "";
}

// An archived NSDate (a Dict with NS.time, seconds since 2001) or a bare plist date as UTC.
std::optional<std::string> date_of(const Node* n) {
  if (n && n->type == Node::Type::Dict) n = n->get("NS.time");
  if (!n || (n->type != Node::Type::Real && n->type != Node::Type::Int)) return std::nullopt;
  double s = n->type == Node::Type::Real ? n->d : static_cast<double>(n->i);
  return format_time(s, {Epoch::Cocoa, Unit::S}, true);
}

class InstagramReader : public Reader {
 public:
  std::string name() const override { return "instagram_ios"; }
  std::string app() const override { return "instagram"; }
  int match(const Schema& s) const override {
    const Table* m = s.table("MESSAGES");
    const Table* t = s.table("THREADS");
    return m && t && m->has("ARCHIVE") && m->has("THREAD_ID") && t->has("THREAD_ID") &&
                   t->has("METADATA")
               ? 100
               : 0;
  }

  std::vector<Source> sources(const Db& db, std::vector<std::string>& errors) override {
    load_threads(db, errors);
    Source src;
    src.table = "MESSAGES";
    src.columns = {"MESSAGE_ID", "THREAD_ID", "ARCHIVE"};
    src.map = [this](const Row& r, Message& m) { return map(r, m); };
    return {std::move(src)};
  }

 private:
  KeyMap viewer_, names_;  // thread -> viewer pk; user pk -> "pk (full name)"
  KeyMultiMap members_;    // thread -> user pks

  void add_user(const std::string& thread, const Node& user) {
    const Node* dict = user.get("NSDictionary<NSString *, id>*userDict");
    const Node& u = dict ? *dict : user;
    std::string pk = text_of(u.get("pk"));
    if (pk.empty()) return;
    std::string full = text_of(u.get("full_name"));
    if (full.empty()) full = text_of(u.get("fullName"));
    std::string handle = text_of(u.get("username"));
    if (handle.empty()) handle = text_of(u.get("userName"));
    std::string name = !full.empty() ? full : handle;
    names_[pk] = labelled(pk, name);
    members_[thread].push_back(pk);
  }

  void load_threads(const Db& db, std::vector<std::string>& errors) {
    const Table* t = db.schema().table("THREADS");
    try {
      Stmt st = db.prepare("SELECT THREAD_ID, METADATA, " + coalesce_of(t, {"VIEWER_ID"}) +
                           " FROM THREADS");
      while (st.step()) {
        std::string thread = st.text_at(0);
        if (!st.null_at(2)) viewer_[thread] = st.text_at(2);
        auto meta = parse_keyed_archive(st.value(1).s);
        if (!meta) continue;
        if (const Node* users = meta->get("NSArray<IGUser *>*users"))
          for (auto& u : users->items) add_user(thread, u);
      }
    } catch (const std::exception& e) {
      errors.push_back(std::string("instagram threads: ") + e.what());
    }
  }

  std::string user(const std::string& pk) const {
    std::string n = lookup(names_, pk);
    return n.empty() ? pk : n;
  }

  static std::string kind_and_media(const Node* content, Message& m) {
    if (!content) return "other";
    if (const Node* media = content->get(kMedia)) {
      const Node* photo = media->get("IGDirectPublishedMessagePermanentMedia*permanentMedia");
      if (photo) photo = photo->get("IGPhoto*photo");
      std::string id = photo ? text_of(photo->get("kIGPhotoMediaID")) : "";
      if (!id.empty()) m.attachments.push_back(id);
      return "media";
    }
    if (content->get(kActivity)) return "call";
    return m.body ? "text" : "other";
  }

  bool map(const Row& r, Message& m) const {
    auto archive = parse_keyed_archive(r.text(2));
    if (!archive) return false;
    const Node* meta = archive->get(kMetadata);
    const Node* content = archive->get(kContent);
    std::string thread = meta ? text_of(meta->get("NSString*threadId")) : "";
    if (thread.empty()) thread = r.text(1);
    m.conversation = thread;
    m.timestamp = meta ? date_of(meta->get("NSDate*serverTimestamp")) : std::nullopt;
    std::string text = content ? text_of(content->get("NSString*string")) : "";
    if (!text.empty()) m.body = text;
    m.kind = kind_and_media(content, m);
    std::string sender = meta ? text_of(meta->get("NSString*senderPk")) : "";
    std::string viewer = lookup(viewer_, thread);
    if (!sender.empty() && sender == viewer) {
      m.direction = "sent";
      if (auto it = members_.find(thread); it != members_.end())
        for (auto& pk : it->second)
          if (pk != viewer) m.recipients.push_back(user(pk));
    } else {
      m.direction = viewer.empty() ? "unknown" : "received";
      m.sender = sender.empty() ? "unknown" : user(sender);
    }
    return true;
  }
};

}  // namespace

std::unique_ptr<Reader> make_instagram_reader() {
  return std::make_unique<InstagramReader>();
}

}  // namespace safehold::chat
