// The chat reader plug-in interface and its registry. A reader recognises an app by the schema
// of a database (never by file name) and describes its message tables as Sources: which columns
// it needs and how one row becomes a normalised Message. The same mapping serves live rows (read
// through SQLite) and rows recovered from free space (decoded by hand), so both come out alike.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "chat/sqlite_db.hpp"
#include "chat/timestamp.hpp"

namespace safehold::chat {

struct Message {
  std::string app;
  std::string table;
  std::optional<int64_t> row;  // rowid (unknown for some recovered records)
  std::string conversation;
  std::optional<std::string> timestamp;  // UTC ISO 8601
  std::string direction = "unknown";     // sent, received, unknown
  std::string sender;
  std::vector<std::string> recipients;
  std::optional<std::string> body;
  std::vector<std::string> attachments;  // stored paths, resolved to artefact ids on output
  // text, media, call, sticker, location, contact, system or post (a public post, not a message)
  std::string kind = "text";
  bool recovered = false;
  std::string location;        // where a recovered record was found
  std::string recovered_from;  // freeblock, unallocated, journal or wal ("" for live rows)

  void reset() {
    app.clear();
    table.clear();
    row.reset();
    conversation.clear();
    timestamp.reset();
    direction = "unknown";
    sender.clear();
    recipients.clear();
    body.reset();
    attachments.clear();
    kind = "text";
    recovered = false;
    location.clear();
    recovered_from.clear();
  }
};

// One row as a Source sees it: values in the order of Source::columns.
class Row {
 public:
  Row(const std::vector<Value>& values, std::optional<int64_t> rowid,
      const std::vector<TimeScale>& scales)
      : values_(values), rowid_(rowid), scales_(scales) {}
  const Value& operator[](size_t k) const { return k < values_.size() ? values_[k] : null_; }
  std::optional<int64_t> rowid() const { return rowid_; }
  std::optional<int64_t> integer(size_t k) const { return (*this)[k].as_int(); }
  std::string text(size_t k) const { return (*this)[k].as_text(); }
  // The value of time column k (declared in Source::times) as UTC ISO 8601.
  std::optional<std::string> time(size_t k) const;

 private:
  const std::vector<Value>& values_;
  std::optional<int64_t> rowid_;
  const std::vector<TimeScale>& scales_;  // by column index, Epoch::None when not a time
  static inline const Value null_{};
};

struct Source {
  std::string table;
  std::vector<std::string> columns;  // wanted, by name; those the table lacks read as NULL
  // Time columns (index into columns) with the epoch the app is known to use (or Epoch::Any).
  std::vector<std::pair<size_t, Epoch>> times;
  // Fills `m` (app, table, row and recovered are preset); false skips the row.
  std::function<bool(const Row&, Message& m)> map;
  bool generic = false;
};

struct ReadError {
  std::string message;
};

class Reader {
 public:
  virtual ~Reader() = default;
  virtual std::string name() const = 0;  // e.g. "android_sms"
  virtual std::string app() const = 0;   // e.g. "sms"
  // 0 when the schema is not this app's; higher scores win (the generic reader scores 1).
  virtual int match(const Schema& schema) const = 0;
  // Loads the lookups (contacts, chats, attachments) and returns the message tables. Errors
  // that leave the messages readable go to `errors`.
  virtual std::vector<Source> sources(const Db& db, std::vector<std::string>& errors) = 0;
};

using ReaderFactory = std::function<std::unique_ptr<Reader>()>;
// Every reader, built-in ones first; add a plug-in with reader_registry().push_back(...).
// (Explicit, not static registrars: those vanish when linked from a static library.)
std::vector<ReaderFactory>& reader_registry();

// Built-in readers (each in its own readers_*.cpp).
std::unique_ptr<Reader> make_android_sms_reader();
std::unique_ptr<Reader> make_imessage_reader();
std::unique_ptr<Reader> make_whatsapp_android_reader();
std::unique_ptr<Reader> make_whatsapp_ios_reader();
std::unique_ptr<Reader> make_telegram_reader();
std::unique_ptr<Reader> make_skype_reader();
std::unique_ptr<Reader> make_kik_reader();
std::unique_ptr<Reader> make_messenger_reader();
std::unique_ptr<Reader> make_google_messages_reader();
std::unique_ptr<Reader> make_viber_reader();
std::unique_ptr<Reader> make_signal_desktop_reader();
std::unique_ptr<Reader> make_snapchat_reader();
std::unique_ptr<Reader> make_discord_reader();
std::unique_ptr<Reader> make_kik_android_reader();
std::unique_ptr<Reader> make_line_reader();
std::unique_ptr<Reader> make_textnow_reader();
std::unique_ptr<Reader> make_telegram_ios_reader();
std::unique_ptr<Reader> make_instagram_reader();
std::unique_ptr<Reader> make_google_voice_reader();
std::unique_ptr<Reader> make_truth_social_reader();
std::unique_ptr<Reader> make_tango_reader();
std::unique_ptr<Reader> make_badoo_reader();
std::unique_ptr<Reader> make_tinder_reader();
std::unique_ptr<Reader> make_threema_reader();
std::unique_ptr<Reader> make_wickr_reader();
std::unique_ptr<Reader> make_generic_reader();

// The best reader for a schema, or nullptr.
std::unique_ptr<Reader> pick_reader(const Schema& schema);

// Helpers for readers.
bool has_all(const Schema& s, std::initializer_list<const char*> tables);

}  // namespace safehold::chat

namespace safehold::chat {

// Lookups readers load once per database.
using IdMap = std::unordered_map<int64_t, std::string>;
using IdMultiMap = std::unordered_map<int64_t, std::vector<std::string>>;
// Runs `sql` (two columns: id, text) into a map; a failing query adds to errors and gives what
// was read so far.
IdMap load_map(const Db& db, const std::string& sql, std::vector<std::string>& errors);
IdMultiMap load_multimap(const Db& db, const std::string& sql, std::vector<std::string>& errors);
std::string lookup(const IdMap& m, std::optional<int64_t> id);
// The same keyed by text (jids, UUIDs, phone numbers).
using KeyMap = std::unordered_map<std::string, std::string>;
using KeyMultiMap = std::unordered_map<std::string, std::vector<std::string>>;
KeyMap load_key_map(const Db& db, const std::string& sql, std::vector<std::string>& errors);
KeyMultiMap load_key_multimap(const Db& db, const std::string& sql,
                              std::vector<std::string>& errors);
std::string lookup(const KeyMap& m, const std::string& key);  // "" when absent
// "id (name)", or whichever of the two there is.
std::string labelled(const std::string& id, const std::string& name);
// "coalesce(a, b, NULL)" over those of `columns` the table has (quoted), "NULL" when none:
// app versions add and drop columns, and a query naming a missing one fails.
std::string coalesce_of(const Table* t, std::initializer_list<const char*> columns);
const std::string& lookup_ref(const IdMap& m, std::optional<int64_t> id);  // "" when absent

// Text of an Apple typedstream (NSAttributedString archive: iOS Messages' attributedBody).
std::optional<std::string> typedstream_text(std::string_view blob);
// Message text of a Telegram TL-serialised message: the first TL string after the constructor,
// flags and ids.
std::optional<std::string> telegram_tl_text(std::string_view blob);
// True when s is valid UTF-8 without control characters other than tab, CR and LF.
bool plausible_text(std::string_view s);

}  // namespace safehold::chat
