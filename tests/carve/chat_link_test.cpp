// carve/chat_link: a chat reader's warning (why a recognised database gave no messages) reaches the
// database artefact's `warnings`, which report.jsonl writes.
#include "carve/chat_link.hpp"

#include <catch2/catch.hpp>

#include "carve/artefact.hpp"
#include "tests/common/support.hpp"

using namespace safehold::test;
namespace carve = safehold::carve;

TEST_CASE("chat link: a recognised database with no message carries the reader's warning",
          "[carve][chat]") {
  TempDir out("chat-link-out");
  // msgstore.db of the 2020-2022 migration years with only the placeholder rows.
  must_run("sqlite3 -batch -bail " + shell_quote((out / "db.sqlite").string()) + R"( <<'SQL'
CREATE TABLE messages (_id INTEGER PRIMARY KEY AUTOINCREMENT, key_remote_jid TEXT NOT NULL,
  key_from_me INTEGER, key_id TEXT NOT NULL, status INTEGER, data TEXT, timestamp INTEGER,
  media_wa_type TEXT, media_name TEXT, remote_resource TEXT);
CREATE TABLE jid (_id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT, server TEXT, raw_string TEXT);
CREATE TABLE chat (_id INTEGER PRIMARY KEY AUTOINCREMENT, jid_row_id INTEGER UNIQUE, subject TEXT);
CREATE TABLE message (_id INTEGER PRIMARY KEY AUTOINCREMENT, chat_row_id INTEGER NOT NULL,
  from_me INTEGER NOT NULL, key_id TEXT NOT NULL, sender_jid_row_id INTEGER, status INTEGER,
  timestamp INTEGER, received_timestamp INTEGER, message_type INTEGER, text_data TEXT,
  starred INTEGER, sort_id INTEGER NOT NULL DEFAULT 0);
INSERT INTO message VALUES (1,-1,0,'-1',NULL,-1,0,0,-1,NULL,0,0);
INSERT INTO messages (_id,key_remote_jid,key_from_me,key_id,status,data,timestamp,media_wa_type,
  media_name) VALUES (1,'-1',0,'-1',-1,NULL,0,'0',NULL);
SQL)");
  std::vector<carve::Artefact> arts(1);
  arts[0].id = "a7";
  arts[0].type = "sqlite";
  arts[0].file = "db.sqlite";
  arts[0].state = "allocated";
  arts[0].path = "/data/data/com.whatsapp/databases/msgstore.db";
  arts[0].warnings = {"earlier warning"};
  std::vector<safehold::fs::Problem> errors;
  auto t = carve::read_chats(arts, out.path(), errors);
  CHECK(errors.empty());
  CHECK(t.databases == 1);
  CHECK(t.messages == 0);
  REQUIRE(arts[0].chat.has_value());
  CHECK(arts[0].chat->app == "whatsapp");
  REQUIRE(arts[0].warnings.size() == 2);
  CHECK(arts[0].warnings[0] == "earlier warning");
  CHECK(arts[0].warnings[1] ==
        "recognised as whatsapp (reader whatsapp_android) but 0 messages: table message holds 1 "
        "row, 1 not messages (placeholder, system or duplicate rows), 0 deleted records found; "
        "table messages holds 1 row, 1 not messages (placeholder, system or duplicate rows), 0 "
        "deleted records found");
  auto j = carve::to_json(arts[0]);
  REQUIRE(j["warnings"].size() == 2);
  CHECK(j["warnings"][1] == arts[0].warnings[1]);
}
