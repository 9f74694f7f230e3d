// Google Voice iOS (threadingStore.sqlite: ThreadItem, Thread, ThreadParticipant,
// MMSAttachmentInfo, Transcript) and Truth Social iOS (ChatModel.sqlite, a Core Data store:
// ZMANAGEDEVENTBASE, ZMANAGEDCHAT, ZMANAGEDACCOUNT, ZMANAGEDATTACHMENT), with the tables and
// columns iLEAPP's googleVoice and truthSocial modules read (iLEAPP 423798fa).
#include <cstdint>
#include <string>
#include <string_view>

#include "base/text.hpp"
#include "chat/reader.hpp"

namespace safehold::chat {

namespace {

// The key of a row of a composite (key, type) primary key, as the lookups are built in SQL.
std::string pair_key(const std::string& key, const std::string& type) {
  return key + '\x1f' + type;
}
const char* const kPairSql = " || char(31) || ";

std::string joined(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

// ---- Google Voice iOS -----------------------------------------------------------------------
// ThreadItem: one row per text message, call and voicemail. itemType names both the kind and
// the direction (SmsIn, SmsOut, IncomingCall, OutgoingCall, MissedCall, Voicemail); timestamp
// is REAL Unix seconds; senderPhoneNumber is the other party on incoming items and the owner's
// Google Voice number on outgoing ones. A thread is (threadKey, threadType): its groupName, else
// its ThreadParticipant numbers. MMS parts are MMSAttachmentInfo rows keyed by (threadItemKey,
// threadItemType); a voicemail's transcript is Transcript.text under the same key.
class GoogleVoiceReader : public Reader {
 public:
  std::string name() const override { return "google_voice_ios"; }
  std::string app() const override { return "google_voice"; }
  int match(const Schema& s) const override {
    const Table* t = s.table("ThreadItem");
    return t && t->has("itemType") && t->has("messageText") && t->has("senderPhoneNumber") &&
                   t->has("threadKey")
               ? 100
               : 0;
  }

  std::vector<Source> sources(const Db& db, std::vector<std::string>& errors) override {
    const Schema& s = db.schema();
    const std::string pair = kPairSql;
    if (const Table* t = s.table("Thread"); t && t->has("threadKey") && t->has("groupName"))
      groups_ = load_key_map(db,
                             "SELECT threadKey" + pair + "threadType, groupName FROM Thread " +
                                 "WHERE groupName IS NOT NULL AND groupName != ''",
                             errors);
    if (const Table* t = s.table("ThreadParticipant"); t && t->has("phoneNumberE164"))
      members_ = load_key_multimap(db,
                                   "SELECT threadKey" + pair +
                                       "threadType, phoneNumberE164 FROM ThreadParticipant "
                                       "ORDER BY rowid",
                                   errors);
    if (const Table* t = s.table("MMSAttachmentInfo"); t && t->has("attachmentKey")) {
      std::string name = "NULL";
      if (const Table* f = s.table("FileAttachmentInfo"); f && f->has("attachmentName"))
        name =
            "(SELECT f.attachmentName FROM FileAttachmentInfo f WHERE f.attachmentKey = "
            "a.attachmentKey AND f.attachmentSource = a.attachmentSource LIMIT 1)";
      parts_ =
          load_key_multimap(db,
                            "SELECT a.threadItemKey" + pair +
                                "a.threadItemType, a.attachmentKey || coalesce(' (' || " + name +
                                " || ')', '') FROM MMSAttachmentInfo a ORDER BY a.rowid",
                            errors);
    }
    if (const Table* t = s.table("Transcript"); t && t->has("text") && t->has("threadItemKey"))
      transcripts_ = load_key_map(
          db, "SELECT threadItemKey" + pair + "threadItemType, text FROM Transcript", errors);
    Source src;
    src.table = "ThreadItem";
    src.columns = {"threadItemKey",     "threadItemType", "messageText",
                   "senderPhoneNumber", "itemType",       "timestamp",
                   "threadKey",         "threadType",     "isSystemMessage"};
    src.times = {{5, Epoch::Unix}};
    src.map = [this](const Row& r, Message& m) { return map(r, m); };
    return {std::move(src)};
  }

 private:
  KeyMap groups_, transcripts_;
  KeyMultiMap members_, parts_;

  static void kind_and_direction(const std::string& item, Message& m) {
    if (item == "SmsOut" || item == "OutgoingCall") m.direction = "sent";
    if (item == "SmsIn" || item == "IncomingCall" || item == "MissedCall" || item == "Voicemail")
      m.direction = "received";
    bool call = item == "IncomingCall" || item == "OutgoingCall" || item == "MissedCall" ||
                item == "Voicemail";
    if (call)
      m.kind = "call";
    else if (m.body)
      m.kind = "text";
    else
      m.kind = m.attachments.empty() ? "other" : "media";
  }

  bool map(const Row& r, Message& m) {
    std::string item_key = pair_key(r.text(0), r.text(1));
    std::string thread = pair_key(r.text(6), r.text(7));
    std::string item = r.text(4);
    m.timestamp = r.time(5);
    if (!r[2].null() && !r.text(2).empty()) m.body = r.text(2);
    if (item == "Voicemail" && !m.body)
      if (std::string t = lookup(transcripts_, item_key); !t.empty()) m.body = t;
    if (auto it = parts_.find(item_key); it != parts_.end()) m.attachments = it->second;
    const std::vector<std::string>* members = nullptr;
    if (auto it = members_.find(thread); it != members_.end()) members = &it->second;
    m.conversation = lookup(groups_, thread);
    if (m.conversation.empty() && members) m.conversation = joined(*members, ", ");
    if (m.conversation.empty()) m.conversation = r.text(6);
    kind_and_direction(item, m);
    if (r.integer(8).value_or(0) != 0) m.kind = "system";
    if (m.direction == "sent") {
      if (members)
        m.recipients = *members;
      else if (!m.conversation.empty())
        m.recipients.push_back(m.conversation);
    } else {
      m.sender = r.text(3);
      if (m.sender.empty()) m.sender = m.conversation.empty() ? "unknown" : m.conversation;
    }
    return true;
  }
};

// ---- Truth Social iOS -----------------------------------------------------------------------
// HTML message body to text as iLEAPP's _html_to_text does: paragraph breaks and <br> to new
// lines, tags removed, entities decoded, no-break spaces to spaces, surrounding space trimmed.
// A character reference's code point as UTF-8 (&#0; is U+FFFD, as HTML says).
void append_reference(std::string& out, uint32_t cp) {
  base::append_utf8(out, cp == 0 ? 0xFFFD : cp);
}

// One entity at s[i] == '&': appends its character and returns the length consumed, or 0.
size_t decode_entity(std::string_view s, size_t i, std::string& out) {
  size_t end = s.find(';', i);
  if (end == std::string_view::npos || end - i > 12) return 0;
  std::string_view name = s.substr(i + 1, end - i - 1);
  static const std::pair<const char*, uint32_t> named[] = {
      {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}, {"nbsp", 0xA0}};
  for (auto& [n, cp] : named)
    if (name == n) {
      append_reference(out, cp);
      return end - i + 1;
    }
  if (name.size() < 2 || name[0] != '#') return 0;
  bool hex = name[1] == 'x' || name[1] == 'X';
  std::string_view digits = name.substr(hex ? 2 : 1);
  if (digits.empty() || digits.size() > 7) return 0;
  uint32_t cp = 0;
  for (char c : digits) {
    int d = c >= '0' && c <= '9'          ? c - '0'
            : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
            : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10
                                          : -1;
    if (d < 0) return 0;
    cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(d);
  }
  append_reference(out, cp);
  return end - i + 1;
}

std::string html_to_text(std::string_view html) {
  std::string out;
  for (size_t i = 0; i < html.size();) {
    if (html.compare(i, 7, "</p><p>") == 0 || html.compare(i, 4, "<br>") == 0 ||
        html.compare(i, 5, "<br/>") == 0 || html.compare(i, 6, "<br />") == 0) {
      out += '\n';
      i = html.find('>', html.compare(i, 7, "</p><p>") == 0 ? i + 4 : i) + 1;
    } else if (html[i] == '<') {
      size_t end = html.find('>', i);
      if (end == std::string_view::npos) {
        out.append(html.substr(i));
        break;
      }
      i = end + 1;
    } else if (html[i] == '&') {
      size_t n = decode_entity(html, i, out);
      if (n == 0) out += '&';
      i += n ? n : 1;
    } else {
      out += html[i++];
    }
  }
  // No-break spaces (U+00A0) to spaces, then trim.
  std::string text;
  for (size_t i = 0; i < out.size(); ++i) {
    if (static_cast<unsigned char>(out[i]) == 0xC2 && i + 1 < out.size() &&
        static_cast<unsigned char>(out[i + 1]) == 0xA0) {
      text += ' ';
      ++i;
    } else {
      text += out[i];
    }
  }
  size_t b = text.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = text.find_last_not_of(" \t\r\n");
  return text.substr(b, e - b + 1);
}

// ZMANAGEDEVENTBASE holds every chat event (Core Data entities ManagedMessage, ManagedMembership,
// ManagedExpirationChanged, ...; ZTYPE "message", "localEcho", "memberJoined", "chatCreated",
// ...). A message's
// writer is ZACCOUNTID1 (else ZACCOUNTID), its body HTML in ZCONTENT, ZCREATEDAT Cocoa seconds.
// The owner is the chat's ZOWNEDBYACCOUNTID; the other party its ZOTHERACCOUNTID.
// ZMANAGEDATTACHMENT.ZMESSAGE points at the message's Z_PK (ZURL, else ZREMOTEURL).
class TruthSocialReader : public Reader {
 public:
  std::string name() const override { return "truth_social_ios"; }
  std::string app() const override { return "truth_social"; }
  int match(const Schema& s) const override {
    const Table* e = s.table("ZMANAGEDEVENTBASE");
    return e && e->has("ZCHATID") && e->has("ZCONTENT") && e->has("ZCREATEDAT") &&
                   e->has("ZTYPE") && s.has("ZMANAGEDCHAT")
               ? 100
               : 0;
  }

  std::vector<Source> sources(const Db& db, std::vector<std::string>& errors) override {
    const Schema& s = db.schema();
    if (const Table* a = s.table("ZMANAGEDACCOUNT"); a && a->has("ZSERVERID"))
      accounts_ = load_key_map(db,
                               "SELECT ZSERVERID, trim(coalesce(" +
                                   coalesce_of(a, {"ZDISPLAYNAME"}) + ", '') || coalesce(' @' || " +
                                   coalesce_of(a, {"ZACCT"}) + ", '')) FROM ZMANAGEDACCOUNT",
                               errors);
    if (const Table* c = s.table("ZMANAGEDCHAT"); c && c->has("ZSERVERID")) {
      other_ = load_key_map(
          db, "SELECT ZSERVERID, " + coalesce_of(c, {"ZOTHERACCOUNTID"}) + " FROM ZMANAGEDCHAT",
          errors);
      owner_ = load_key_map(
          db, "SELECT ZSERVERID, " + coalesce_of(c, {"ZOWNEDBYACCOUNTID"}) + " FROM ZMANAGEDCHAT",
          errors);
      chat_of_pk_ = load_map(
          db, "SELECT Z_PK, ZSERVERID FROM ZMANAGEDCHAT WHERE ZSERVERID IS NOT NULL", errors);
    }
    if (const Table* a = s.table("ZMANAGEDATTACHMENT"); a && a->has("ZMESSAGE"))
      attachments_ = load_multimap(db,
                                   "SELECT ZMESSAGE, " + coalesce_of(a, {"ZURL", "ZREMOTEURL"}) +
                                       " FROM ZMANAGEDATTACHMENT WHERE ZMESSAGE IS NOT NULL "
                                       "ORDER BY Z_PK",
                                   errors);
    Source src;
    src.table = "ZMANAGEDEVENTBASE";
    src.columns = {"Z_PK",  "ZTYPE",      "ZCHATID",     "ZCHAT",     "ZCONTENT",
                   "ZTEXT", "ZACCOUNTID", "ZACCOUNTID1", "ZCREATEDAT"};
    src.times = {{8, Epoch::Cocoa}};
    src.map = [this](const Row& r, Message& m) { return map(r, m); };
    return {std::move(src)};
  }

 private:
  KeyMap accounts_, other_, owner_;
  IdMap chat_of_pk_;
  IdMultiMap attachments_;

  std::string account(const std::string& id) const {
    return id.empty() ? "" : labelled(id, lookup(accounts_, id));
  }

  bool map(const Row& r, Message& m) {
    auto pk = r.integer(0);
    if (!pk) pk = r.rowid();
    std::string type = r.text(1);
    std::string chat = r.text(2);
    if (chat.empty()) chat = lookup_ref(chat_of_pk_, r.integer(3));
    std::string other = lookup(other_, chat), owner = lookup(owner_, chat);
    m.conversation = other.empty() ? chat : labelled(chat, account(other));
    m.timestamp = r.time(8);
    std::string from = r.text(7).empty() ? r.text(6) : r.text(7);
    if (pk)
      if (auto it = attachments_.find(*pk); it != attachments_.end()) m.attachments = it->second;
    // localEcho: the app's own copy of a message being sent (plain text, the server's message
    // replaces it); WAL frames keep them.
    if (type == "message" || type == "localEcho") {
      std::string text = type == "message" ? html_to_text(r.text(4)) : r.text(4);
      if (!text.empty()) m.body = text;
      m.kind = m.body ? "text" : m.attachments.empty() ? "other" : "media";
      if (!from.empty() && !owner.empty() && from == owner) {
        m.direction = "sent";
        if (!other.empty()) m.recipients.push_back(account(other));
      } else {
        m.direction = from.empty() || owner.empty() ? "unknown" : "received";
        m.sender = from.empty() ? "unknown" : account(from);
      }
      return true;
    }
    // Chat events (chatCreated, memberJoined, ...): kind system, no body unless the event
    // carries a text (ZTEXT); the account the event names (a member who joined, ...) as the
    // sender.
    m.kind = "system";
    if (!r.text(5).empty()) m.body = r.text(5);
    m.sender = from.empty() ? "unknown" : from == owner ? "" : account(from);
    return true;
  }
};

}  // namespace

std::unique_ptr<Reader> make_google_voice_reader() {
  return std::make_unique<GoogleVoiceReader>();
}
std::unique_ptr<Reader> make_truth_social_reader() {
  return std::make_unique<TruthSocialReader>();
}

}  // namespace safehold::chat
