// Table choice by evidence (WhatsApp databases from the migration years hold both message
// tables), the warning when a recognised database yields nothing, and deleted rows whose cell
// header survives in free space while a later row overwrote their tail.
#include <algorithm>
#include <catch2/catch.hpp>
#include <set>

#include "tests/chat/chat_support.hpp"
#include "tests/common/support.hpp"

using namespace safehold::test;
using namespace safehold::test::chat;
namespace fsys = std::filesystem;

namespace {

// msgstore.db as WhatsApp left it between 2020 and 2022: the legacy `messages` table (as the
// ALEAPP whatsapp parser reads it) and the new `message`/`chat`/`jid` tables side by side.
const char* kMigrationSchema = R"(
PRAGMA secure_delete=OFF;
CREATE TABLE messages (_id INTEGER PRIMARY KEY AUTOINCREMENT, key_remote_jid TEXT NOT NULL,
  key_from_me INTEGER, key_id TEXT NOT NULL, status INTEGER, needs_push INTEGER, data TEXT,
  timestamp INTEGER, media_url TEXT, media_mime_type TEXT, media_wa_type TEXT, media_size INTEGER,
  media_name TEXT, media_caption TEXT, latitude REAL, longitude REAL, remote_resource TEXT,
  received_timestamp INTEGER, send_timestamp INTEGER, thumb_image TEXT);
CREATE TABLE jid (_id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT, server TEXT, raw_string TEXT);
CREATE TABLE chat (_id INTEGER PRIMARY KEY AUTOINCREMENT, jid_row_id INTEGER UNIQUE, subject TEXT);
CREATE TABLE message (_id INTEGER PRIMARY KEY AUTOINCREMENT, chat_row_id INTEGER NOT NULL,
  from_me INTEGER NOT NULL, key_id TEXT NOT NULL, sender_jid_row_id INTEGER, status INTEGER,
  timestamp INTEGER, received_timestamp INTEGER, message_type INTEGER, text_data TEXT,
  starred INTEGER, sort_id INTEGER NOT NULL DEFAULT 0);
INSERT INTO jid VALUES (1,'447700900001','s.whatsapp.net','447700900001@s.whatsapp.net'),
  (2,'447700900002','s.whatsapp.net','447700900002@s.whatsapp.net');
INSERT INTO chat VALUES (1,1,NULL),(2,2,NULL);
INSERT INTO message VALUES (1,-1,0,'-1',NULL,-1,0,0,-1,NULL,0,0);
INSERT INTO messages (_id,key_remote_jid,key_from_me,key_id,status,data,timestamp,media_wa_type,
  media_name) VALUES (1,'-1',0,'-1',-1,NULL,0,'0',NULL);
)";

const char* kLegacyRows = R"(
INSERT INTO messages (_id,key_remote_jid,key_from_me,key_id,status,data,timestamp,media_wa_type,
  media_name) VALUES
  (2,'447700900001@s.whatsapp.net',0,'3EB0A1',0,'are you home alone tonight?',1612345600000,'0',NULL),
  (3,'447700900001@s.whatsapp.net',1,'3EB0A2',13,'yes mum is out',1612345660000,'0',NULL),
  (4,'447700900001@s.whatsapp.net',0,'3EB0A3',0,NULL,1612345720000,'1','IMG-20210203-WA0001.jpg'),
  (5,'447700900002@s.whatsapp.net',0,'3EB0A4',0,'delete this chat',1612345780000,'0',NULL),
  (6,'447700900002@s.whatsapp.net',1,'3EB0A5',13,NULL,1612345840000,'8',NULL);
)";

std::vector<std::string> bodies(const std::vector<nlohmann::json>& ms) {
  std::vector<std::string> out;
  for (auto& m : ms) out.push_back(m["body"].is_string() ? m["body"].get<std::string>() : "<null>");
  return out;
}

}  // namespace

TEST_CASE("chat: WhatsApp migration database, modern table only a placeholder: legacy rows read",
          "[chat]") {
  TempDir ev("chat-ev"), out("chat-out");
  sqlite(ev / "msgstore.db", std::string(kMigrationSchema) + kLegacyRows);
  auto hashes = hash_dir(ev.path());
  auto run = extract(out.path(), {ev / "msgstore.db"});
  REQUIRE(run.results.size() == 1);
  CHECK(run.results[0].reader == "whatsapp_android");
  CHECK(run.results[0].errors.empty());
  CHECK(run.results[0].warnings.empty());
  CHECK(run.results[0].messages == 5);
  auto live = of_db(run, "db1");
  REQUIRE(live.size() == 5);
  CHECK(bodies(live) == std::vector<std::string>{"are you home alone tonight?", "yes mum is out",
                                                 "<null>", "delete this chat", "<null>"});
  for (auto& m : live) CHECK(m["table"] == "messages");
  CHECK(live[0]["timestamp"] == "2021-02-03T09:46:40Z");
  CHECK(live[0]["sender"] == "447700900001@s.whatsapp.net");
  CHECK(live[0]["kind"] == "text");
  CHECK(live[1]["direction"] == "sent");
  CHECK(live[1]["sender"] == "");
  CHECK(live[2]["kind"] == "media");
  CHECK(live[2]["attachments"] == nlohmann::json::array({"IMG-20210203-WA0001.jpg"}));
  CHECK(live[4]["kind"] == "call");
  CHECK(live[4]["recipients"] == nlohmann::json::array({"447700900002@s.whatsapp.net"}));
  check_unchanged(ev.path(), hashes);
}

TEST_CASE("chat: WhatsApp migration database, both tables populated: each message once", "[chat]") {
  TempDir ev("chat-ev"), out("chat-out");
  // The first two legacy messages were migrated (same chat, direction and key_id; the new
  // table's own ids); one message arrived after the migration and exists only in `message`.
  sqlite(ev / "msgstore.db", std::string(kMigrationSchema) + kLegacyRows + R"(
INSERT INTO message VALUES
  (20,1,0,'3EB0A1',0,0,1612345600000,1612345600100,0,'are you home alone tonight?',0,20),
  (21,1,1,'3EB0A2',0,13,1612345660000,1612345660000,0,'yes mum is out',0,21),
  (22,2,0,'3EB0B9',0,0,1612400000000,1612400000000,0,'after the migration',0,22);
)");
  auto run = extract(out.path(), {ev / "msgstore.db"});
  CHECK(run.results[0].errors.empty());
  CHECK(run.results[0].messages == 6);
  auto live = of_db(run, "db1");
  REQUIRE(live.size() == 6);
  CHECK(bodies(live) == std::vector<std::string>{"are you home alone tonight?", "yes mum is out",
                                                 "after the migration", "<null>",
                                                 "delete this chat", "<null>"});
  std::vector<std::string> tables;
  for (auto& m : live) tables.push_back(m["table"]);
  CHECK(tables == std::vector<std::string>{"message", "message", "message", "messages", "messages",
                                           "messages"});
  std::set<std::string> unique;
  for (auto& m : live)
    unique.insert(m["conversation"].get<std::string>() + "|" + m["timestamp"].get<std::string>());
  CHECK(unique.size() == 6);
  CHECK(live[2]["conversation"] == "447700900002@s.whatsapp.net");
  CHECK(live[2]["timestamp"] == "2021-02-04T00:53:20Z");
}

TEST_CASE("chat: a recognised database that yields no message says why in warnings", "[chat]") {
  TempDir ev("chat-ev"), out("chat-out");
  sqlite(ev / "msgstore.db", kMigrationSchema);
  auto run = extract(out.path(), {ev / "msgstore.db"});
  REQUIRE(run.results.size() == 1);
  CHECK(run.results[0].app == "whatsapp");
  CHECK(run.results[0].messages == 0);
  CHECK(run.results[0].errors.empty());
  REQUIRE(run.results[0].warnings.size() == 1);
  CHECK(run.results[0].warnings[0] ==
        "recognised as whatsapp (reader whatsapp_android) but 0 messages: table message holds 1 "
        "row, 1 not messages (placeholder, system or duplicate rows), 0 deleted records found; "
        "table messages holds 1 row, 1 not messages (placeholder, system or duplicate rows), 0 "
        "deleted records found");
  CHECK(run.messages.empty());
}

namespace {

const char* kSmsSchema = R"(
PRAGMA secure_delete=OFF;
CREATE TABLE sms (_id INTEGER PRIMARY KEY, thread_id INTEGER, address TEXT, date INTEGER,
  type INTEGER, body TEXT, read INTEGER);
INSERT INTO sms VALUES (1, 1, '+447700900123', 1612345600000, 1, 'first message stays', 1);
)";

}  // namespace

TEST_CASE("chat: a deleted row in a freeblock whose tail a new row overwrote is recovered",
          "[chat]") {
  TempDir ev("chat-ev"), out("chat-out");
  // Row 2 becomes a freeblock; row 4, shorter, takes the freeblock's tail (SQLite allocates a
  // new cell from the end of the first freeblock that fits), so row 2's header survives and its
  // body up to the new cell.
  sqlite(ev / "mmssms.db", std::string(kSmsSchema) + R"(
INSERT INTO sms VALUES (2, 1, '+447700900123', 1612345660000, 1,
  'meet me at the station at nine, bring the package and come alone', 1);
INSERT INTO sms VALUES (3, 1, '+447700900123', 1612345720000, 2, 'third message stays', 1);
DELETE FROM sms WHERE _id = 2;
INSERT INTO sms VALUES (4, 1, '+447700900123', 1612345780000, 2, 'ok', 1);
)");
  auto hashes = hash_dir(ev.path());
  auto run = extract(out.path(), {ev / "mmssms.db"});
  CHECK(run.results[0].errors.empty());
  CHECK(bodies(of_db(run, "db1")) ==
        std::vector<std::string>{"first message stays", "third message stays", "ok"});
  auto rec = of_db(run, "db1", true);
  REQUIRE(rec.size() == 1);
  CHECK(run.results[0].recovered == 1);
  CHECK(rec[0]["body"] == "meet me at the station at nine, ");
  CHECK(rec[0]["recovered_from"] == "freeblock");
  CHECK(rec[0]["location"] == "page 2 freeblock +3954 (tail overwritten)");
  CHECK(rec[0]["row"].is_null());
  CHECK(rec[0]["sender"] == "+447700900123");
  CHECK(rec[0]["direction"] == "received");
  CHECK(rec[0]["timestamp"] == "2021-02-03T09:47:40Z");
  check_unchanged(ev.path(), hashes);
}

TEST_CASE("chat: a deleted row merged into the unallocated gap, tail overwritten, is recovered",
          "[chat]") {
  TempDir ev("chat-ev"), out("chat-out");
  // Row 2 sits at the top of the cell content: deleting it grows the unallocated gap, and row 3
  // is written at the new top, over row 2's tail.
  sqlite(ev / "mmssms.db", std::string(kSmsSchema) + R"(
INSERT INTO sms VALUES (2, 1, '+447700900123', 1612345660000, 1,
  'the address is 12 Elm Street, flat 3, come after dark', 1);
DELETE FROM sms WHERE _id = 2;
INSERT INTO sms VALUES (3, 1, '+447700900123', 1612345780000, 2, 'fine', 1);
)");
  auto run = extract(out.path(), {ev / "mmssms.db"});
  CHECK(run.results[0].errors.empty());
  CHECK(bodies(of_db(run, "db1")) == std::vector<std::string>{"first message stays", "fine"});
  auto rec = of_db(run, "db1", true);
  REQUIRE(rec.size() == 1);
  CHECK(rec[0]["body"] == "the address is 12 E");
  CHECK(rec[0]["recovered_from"] == "unallocated");
  CHECK(rec[0]["location"] == "page 2 unallocated (old freeblock) +3966 (tail overwritten)");
  CHECK(rec[0]["timestamp"] == "2021-02-03T09:47:40Z");
}
