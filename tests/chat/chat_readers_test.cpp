// Readers added for issue 19, on databases built with the apps' schemas (Google Messages'
// bugle_db from AOSP Messaging's DatabaseHelper as ALEAPP joins it; Viber's viber_messages).
#include <catch2/catch.hpp>

#include "tests/chat/chat_support.hpp"
#include "tests/common/support.hpp"

using namespace safehold::test;
using namespace safehold::test::chat;

TEST_CASE("chat: Google Messages bugle_db: parts joined, direction from sub_id", "[chat]") {
  TempDir ev("chat-ev"), out("chat-out");
  sqlite(ev / "bugle_db", R"(
CREATE TABLE conversations (_id INTEGER PRIMARY KEY AUTOINCREMENT, sms_thread_id INT DEFAULT(0),
  name TEXT, latest_message_id INT, snippet_text TEXT, participant_count INT);
CREATE TABLE messages (_id INTEGER PRIMARY KEY AUTOINCREMENT, conversation_id INT, sender_id INT,
  sent_timestamp INT DEFAULT(0), received_timestamp INT DEFAULT(0), message_protocol INT DEFAULT(0),
  message_status INT DEFAULT(0), seen INT DEFAULT(0), read INT DEFAULT(0), sms_message_uri TEXT);
CREATE TABLE parts (_id INTEGER PRIMARY KEY AUTOINCREMENT, message_id INT, text TEXT, uri TEXT,
  content_type TEXT, width INT DEFAULT(-1), height INT DEFAULT(-1), timestamp INT,
  conversation_id INT, local_cache_path TEXT, file_size_bytes INT DEFAULT(-1));
CREATE TABLE participants (_id INTEGER PRIMARY KEY AUTOINCREMENT, sub_id INT DEFAULT(-2),
  sim_slot_id INT DEFAULT(-1), normalized_destination TEXT, send_destination TEXT,
  display_destination TEXT, full_name TEXT, first_name TEXT, contact_id INT DEFAULT(-1));
CREATE TABLE conversation_participants (_id INTEGER PRIMARY KEY AUTOINCREMENT,
  conversation_id INT, participant_id INT);
INSERT INTO participants VALUES (1, 1, 0, '+447700900555', '+447700900555', '07700 900555',
  NULL, NULL, -1), (2, -2, -1, '+447700900666', '+447700900666', '07700 900666', 'Sam', 'Sam', 7);
INSERT INTO conversations VALUES (1, 4, 'Sam', 3, 'see you', 1);
INSERT INTO conversation_participants VALUES (1, 1, 2);
INSERT INTO messages VALUES (1, 1, 2, 1612345600000, 1612345601000, 0, 100, 1, 1, 'content://sms/1'),
  (2, 1, 1, 1612345660000, 1612345660000, 0, 1, 1, 1, 'content://sms/2'),
  (3, 1, 2, 1612345720000, 1612345721000, 1, 100, 1, 1, 'content://mms/3');
INSERT INTO parts VALUES (1, 1, 'where are you?', NULL, 'text/plain', -1, -1, 1612345600000, 1, NULL, -1),
  (2, 2, 'at home', NULL, 'text/plain', -1, -1, 1612345660000, 1, NULL, -1),
  (3, 3, NULL, 'content://mms/part/9', 'image/jpeg', 640, 480, 1612345720000, 1,
   '/data/user/0/com.google.android.apps.messaging/cache/9.jpg', 51234);
)");
  auto run = extract(out.path(), {ev / "bugle_db"});
  CHECK(run.results[0].app == "google_messages");
  CHECK(run.results[0].reader == "google_messages");
  CHECK(run.results[0].errors.empty());
  auto live = of_db(run, "db1");
  REQUIRE(live.size() == 3);
  CHECK(live[0]["body"] == "where are you?");
  CHECK(live[0]["direction"] == "received");
  CHECK(live[0]["sender"] == "07700 900666");
  CHECK(live[0]["conversation"] == "Sam");
  CHECK(live[0]["timestamp"] == "2021-02-03T09:46:40Z");
  CHECK(live[1]["direction"] == "sent");
  CHECK(live[1]["sender"] == "");
  CHECK(live[1]["recipients"] == nlohmann::json::array({"07700 900666"}));
  CHECK(live[2]["body"].is_null());
  CHECK(live[2]["kind"] == "media");
  CHECK(live[2]["attachments"] ==
        nlohmann::json::array({"/data/user/0/com.google.android.apps.messaging/cache/"
                               "9.jpg"}));
}

TEST_CASE("chat: Viber viber_messages: send_type, extra_mime kinds, NULL bodies kept", "[chat]") {
  TempDir ev("chat-ev"), out("chat-out");
  sqlite(ev / "viber_messages", R"(
CREATE TABLE participants_info (_id INTEGER PRIMARY KEY, participant_type INTEGER, member_id TEXT,
  number TEXT, encrypted_number TEXT, display_name TEXT, contact_name TEXT, viber_name TEXT);
CREATE TABLE participants (_id INTEGER PRIMARY KEY, conversation_id INTEGER,
  participant_info_id INTEGER, active INTEGER);
CREATE TABLE conversations (_id INTEGER PRIMARY KEY, conversation_type INTEGER,
  participant_id_1 INTEGER, name TEXT, date INTEGER);
CREATE TABLE messages (_id INTEGER PRIMARY KEY, conversation_id INTEGER, participant_id INTEGER,
  msg_date INTEGER, send_type INTEGER, body TEXT, extra_mime INTEGER, extra_uri TEXT,
  deleted INTEGER DEFAULT 0, conversation_type INTEGER);
INSERT INTO participants_info VALUES (1, 0, 'owner-member', '+447700900111', NULL, 'Me', NULL, NULL),
  (2, 1, 'jo-member', '+447700900222', NULL, 'Jo', 'Jo (school)', 'jojo');
INSERT INTO participants VALUES (1, 1, 1, 1), (2, 1, 2, 1);
INSERT INTO conversations VALUES (1, 0, 2, NULL, 1612345600000);
INSERT INTO messages VALUES (1, 1, 2, 1612345600000, 0, 'hi, send me a pic', 0, NULL, 0, 0),
  (2, 1, 1, 1612345660000, 1, NULL, 1, 'file:///sdcard/Viber/media/IMG-1.jpg', 0, 0),
  (3, 1, 2, 1612345720000, 0, NULL, 4, NULL, 0, 0);
)");
  auto run = extract(out.path(), {ev / "viber_messages"});
  CHECK(run.results[0].app == "viber");
  CHECK(run.results[0].errors.empty());
  auto live = of_db(run, "db1");
  REQUIRE(live.size() == 3);
  CHECK(live[0]["body"] == "hi, send me a pic");
  CHECK(live[0]["direction"] == "received");
  CHECK(live[0]["sender"] == "+447700900222");
  CHECK(live[0]["conversation"] == "1");
  CHECK(live[1]["direction"] == "sent");
  CHECK(live[1]["recipients"] == nlohmann::json::array({"+447700900222"}));
  CHECK(live[1]["kind"] == "media");
  CHECK(live[1]["body"].is_null());
  CHECK(live[1]["attachments"] == nlohmann::json::array({"file:///sdcard/Viber/media/IMG-1.jpg"}));
  CHECK(live[2]["kind"] == "sticker");
  CHECK(live[2]["timestamp"] == "2021-02-03T09:48:40Z");
}
