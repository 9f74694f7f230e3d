// Readers for Tango, Badoo and Tinder Android and for Threema and Wickr iOS, on databases built
// with the tables and columns ALEAPP's and iLEAPP's parsers read (other columns are
// placeholders: no public database of these apps was found), synthetic rows, and one row per
// database deleted with secure_delete off (recovered through the shared page recovery).
#include <catch2/catch.hpp>

#include "tests/chat/chat_support.hpp"
#include "tests/common/support.hpp"

using namespace safehold::test;
using namespace safehold::test::chat;
using nlohmann::json;

namespace {

std::vector<std::string> field(const std::vector<json>& ms, const char* key) {
  std::vector<std::string> out;
  for (auto& m : ms) out.push_back(m[key].is_string() ? m[key].get<std::string>() : "<null>");
  return out;
}

std::string base64(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int k = 18; k >= 0; k -= 6) out += t[(v >> k) & 63];
  }
  size_t rest = in.size() - i;
  if (rest > 0) {
    uint32_t v = uint8_t(in[i]) << 16;
    if (rest == 2) v |= uint8_t(in[i + 1]) << 8;
    out += t[(v >> 18) & 63];
    out += t[(v >> 12) & 63];
    out += rest == 2 ? t[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace

TEST_CASE("chat: Tango tc.db: base64 payloads, text after the conversation id", "[chat]") {
  TempDir ev("chat-ev"), out("chat-out");
  const std::string conv = "pdk2Yl8xR1uXk0b3Zq9wMg";
  auto payload = [&](const std::string& text) {
    return base64(pb_varint(1, 7) + pb_bytes(2, conv) + pb_bytes(4, text) + pb_varint(9, 1));
  };
  auto row = [&](const std::string& payload_sql, const char* rest) {
    return "('" + conv + "', " + payload_sql + ", " + rest + ")";
  };
  sqlite(ev / "tc.db",
         R"(
PRAGMA secure_delete=OFF;
CREATE TABLE messages (msg_id INTEGER PRIMARY KEY, conv_id TEXT, type INTEGER, payload TEXT,
  create_time INTEGER, direction INTEGER, status INTEGER);
INSERT INTO messages (conv_id, payload, type, create_time, direction, status) VALUES
)" + row("'" + payload("hey, are you coming tonight?") + "'", "0, 1612345600000, 1, 2") +
             ",\n" + row("'" + payload("yes! 8pm 🎉") + "'", "0, 1612345660000, 2, 2") + ",\n" +
             row("NULL", "1, 1612345720000, 1, 2") + ",\n" +
             row("'" + payload("tango message then deleted") + "'", "0, 1612345780000, 1, 2") +
             R"(;
DELETE FROM messages WHERE create_time = 1612345780000;
)");
  auto run = extract(out.path(), {ev / "tc.db"});
  REQUIRE(run.results.size() == 1);
  CHECK(run.results[0].app == "tango");
  CHECK(run.results[0].reader == "tango_android");
  CHECK(run.results[0].errors.empty());
  auto live = of_db(run, "db1");
  REQUIRE(live.size() == 3);
  CHECK(field(live, "body") ==
        std::vector<std::string>{"hey, are you coming tonight?", "yes! 8pm 🎉", "<null>"});
  CHECK(field(live, "kind") == std::vector<std::string>{"text", "text", "other"});
  CHECK(field(live, "direction") == std::vector<std::string>{"received", "sent", "received"});
  CHECK(field(live, "sender") == std::vector<std::string>{conv, "", conv});
  CHECK(live[0]["timestamp"] == "2021-02-03T09:46:40Z");
  CHECK(live[1]["recipients"] == json::array({conv}));
  auto rec = of_db(run, "db1", true);
  REQUIRE(rec.size() == 1);
  CHECK(rec[0]["body"] == "tango message then deleted");
}

TEST_CASE("chat: Badoo ChatComDatabase: JSON payloads, is_incoming, partner names", "[chat]") {
  TempDir ev("chat-ev"), out("chat-out");
  sqlite(ev / "ChatComDatabase", R"sql(
PRAGMA secure_delete=OFF;
CREATE TABLE conversation_info (user_id TEXT PRIMARY KEY, gender INTEGER, user_name TEXT,
  user_image_url TEXT, age INTEGER, user_photos TEXT, work TEXT, education TEXT,
  encrypted_user_id TEXT);
CREATE TABLE message (id INTEGER PRIMARY KEY, conversation_id TEXT, sender_id TEXT,
  recipient_id TEXT, created_timestamp INTEGER, modified_timestamp INTEGER, payload TEXT,
  payload_type TEXT, is_incoming INTEGER);
INSERT INTO conversation_info VALUES ('606060601', 1, 'Lena', NULL, 27, '[]', NULL, NULL,
  'zAgEAAQZ2NjA2MDYwMQ');
INSERT INTO message (conversation_id, sender_id, recipient_id, created_timestamp, payload,
  payload_type, is_incoming) VALUES
  ('606060601', 'zAgEAAQZ2NjA2MDYwMQ', 'zAgEAAQZ1MTUxNTE1MQ', 1612345600000,
   '{"text":"Hi! Nice photos"}', 'TEXT', 1),
  ('606060601', 'zAgEAAQZ1MTUxNTE1MQ', 'zAgEAAQZ2NjA2MDYwMQ', 1612345660000,
   '{"text":"Thanks :)"}', 'TEXT', 0),
  ('606060601', 'zAgEAAQZ2NjA2MDYwMQ', 'zAgEAAQZ1MTUxNTE1MQ', 1612345720000,
   '{"url":"https://pcache.badoocdn.com/p506/20481/2/1/6/abc.jpg","width":720}', 'IMAGE', 1),
  ('606060601', 'zAgEAAQZ2NjA2MDYwMQ', 'zAgEAAQZ1MTUxNTE1MQ', 1612345780000,
   '{"text":"Beach or mountains?","answer_own":"Mountains","answer_other":"Beach"}',
   'QUESTION_GAME', 1),
  ('606060601', 'zAgEAAQZ1MTUxNTE1MQ', 'zAgEAAQZ2NjA2MDYwMQ', 1612345840000,
   '{"text":"badoo message then deleted"}', 'TEXT', 0);
DELETE FROM message WHERE created_timestamp = 1612345840000;
)sql");
  auto run = extract(out.path(), {ev / "ChatComDatabase"});
  REQUIRE(run.results.size() == 1);
  CHECK(run.results[0].app == "badoo");
  CHECK(run.results[0].reader == "badoo_android");
  CHECK(run.results[0].errors.empty());
  auto live = of_db(run, "db1");
  REQUIRE(live.size() == 4);
  CHECK(
      field(live, "body") ==
      std::vector<std::string>{"Hi! Nice photos", "Thanks :)", "<null>",
                               "Beach or mountains?\nOwn answer: Mountains\nOther answer: Beach"});
  CHECK(field(live, "kind") == std::vector<std::string>{"text", "text", "media", "text"});
  CHECK(field(live, "direction") ==
        std::vector<std::string>{"received", "sent", "received", "received"});
  CHECK(live[0]["sender"] == "zAgEAAQZ2NjA2MDYwMQ (Lena)");
  CHECK(live[0]["conversation"] == "606060601 (Lena)");
  CHECK(live[0]["timestamp"] == "2021-02-03T09:46:40Z");
  CHECK(live[1]["sender"] == "");
  CHECK(live[1]["recipients"] == json::array({"zAgEAAQZ2NjA2MDYwMQ (Lena)"}));
  CHECK(live[2]["attachments"] ==
        json::array({"https://pcache.badoocdn.com/p506/20481/2/1/6/abc.jpg"}));
  auto rec = of_db(run, "db1", true);
  REQUIRE(rec.size() == 1);
  CHECK(rec[0]["body"] == "badoo message then deleted");
  CHECK(rec[0]["direction"] == "sent");
}

TEST_CASE("chat: Tinder tinder-3.db: direction from the match's person, GIFs", "[chat]") {
  TempDir ev("chat-ev"), out("chat-out");
  sqlite(ev / "tinder-3.db", R"(
PRAGMA secure_delete=OFF;
CREATE TABLE match_person (id TEXT NOT NULL PRIMARY KEY, name TEXT NOT NULL, bio TEXT,
  birth_date INTEGER, gender BLOB, photos BLOB, membership_status TEXT);
CREATE TABLE `match` (id TEXT NOT NULL PRIMARY KEY, person_id TEXT NOT NULL, creation_date
  INTEGER, last_activity_date INTEGER, is_blocked INTEGER, is_muted INTEGER, type TEXT,
  attribution TEXT);
CREATE TABLE message (id TEXT NOT NULL PRIMARY KEY, match_id TEXT NOT NULL, to_id TEXT NOT NULL,
  from_id TEXT NOT NULL, text TEXT NOT NULL, sent_date INTEGER NOT NULL, is_liked INTEGER,
  is_seen INTEGER, type TEXT, delivery_status TEXT, raw_message_data TEXT);
INSERT INTO match_person (id, name) VALUES ('5f1a2b3c4d5e6f7a8b9c0d1e', 'Sophie');
INSERT INTO `match` (id, person_id, creation_date) VALUES
  ('5f1a2b3c4d5e6f7a8b9c0d1e60c0ffee60c0ffee60c0ffee', '5f1a2b3c4d5e6f7a8b9c0d1e', 1612345000000);
INSERT INTO message VALUES
  ('m1', '5f1a2b3c4d5e6f7a8b9c0d1e60c0ffee60c0ffee60c0ffee', '60c0ffee60c0ffee60c0ffee',
   '5f1a2b3c4d5e6f7a8b9c0d1e', 'hey there', 1612345600000, 0, 1, 'UNKNOWN', 'SUCCESS',
   '{"_id":"m1","message":"hey there"}'),
  ('m2', '5f1a2b3c4d5e6f7a8b9c0d1e60c0ffee60c0ffee60c0ffee', '5f1a2b3c4d5e6f7a8b9c0d1e',
   '60c0ffee60c0ffee60c0ffee', 'https://media.tenor.com/abc/tenor.gif', 1612345660000, 0, 1,
   'UNKNOWN', 'SUCCESS', '{"_id":"m2","type":"gif","gif_description":"wave"}'),
  ('m3', '5f1a2b3c4d5e6f7a8b9c0d1e60c0ffee60c0ffee60c0ffee', '5f1a2b3c4d5e6f7a8b9c0d1e',
   '60c0ffee60c0ffee60c0ffee', 'tinder message then deleted', 1612345720000, 0, 1, 'UNKNOWN',
   'SUCCESS', '{"_id":"m3"}');
DELETE FROM message WHERE id = 'm3';
)");
  auto run = extract(out.path(), {ev / "tinder-3.db"});
  REQUIRE(run.results.size() == 1);
  CHECK(run.results[0].app == "tinder");
  CHECK(run.results[0].reader == "tinder_android");
  CHECK(run.results[0].errors.empty());
  auto live = of_db(run, "db1");
  REQUIRE(live.size() == 2);
  const std::string sophie = "5f1a2b3c4d5e6f7a8b9c0d1e (Sophie)";
  CHECK(live[0]["body"] == "hey there");
  CHECK(live[0]["direction"] == "received");
  CHECK(live[0]["sender"] == sophie);
  CHECK(live[0]["conversation"] == sophie);
  CHECK(live[0]["timestamp"] == "2021-02-03T09:46:40Z");
  CHECK(live[1]["kind"] == "media");
  CHECK(live[1]["body"].is_null());
  CHECK(live[1]["direction"] == "sent");
  CHECK(live[1]["recipients"] == json::array({sophie}));
  CHECK(live[1]["attachments"] == json::array({"https://media.tenor.com/abc/tenor.gif"}));
  auto rec = of_db(run, "db1", true);
  REQUIRE(rec.size() == 1);
  CHECK(rec[0]["body"] == "tinder message then deleted");
  CHECK(rec[0]["direction"] == "sent");
}

TEST_CASE("chat: Threema iOS ThreemaData: entities to kinds, groups, external media", "[chat]") {
  TempDir ev("chat-ev"), out("chat-out");
  sqlite(ev / "ThreemaData.sqlite",
         R"(
PRAGMA secure_delete=OFF;
CREATE TABLE Z_PRIMARYKEY (Z_ENT INTEGER PRIMARY KEY, Z_NAME VARCHAR, Z_SUPER INTEGER, Z_MAX
  INTEGER);
CREATE TABLE ZCONTACT ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZCNCONTACTID
  VARCHAR, ZFIRSTNAME VARCHAR, ZIDENTITY VARCHAR, ZLASTNAME VARCHAR, ZPUBLICNICKNAME VARCHAR );
CREATE TABLE ZCONVERSATION ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZCONTACT
  INTEGER, ZGROUPID BLOB, ZGROUPNAME VARCHAR, ZLASTUPDATE TIMESTAMP );
CREATE TABLE ZIMAGEDATA ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZHEIGHT FLOAT,
  ZWIDTH FLOAT, ZDATA BLOB );
CREATE TABLE ZVIDEODATA ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZDATA BLOB );
CREATE TABLE ZAUDIODATA ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZDATA BLOB );
CREATE TABLE ZFILEDATA ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZMESSAGE
  INTEGER, ZDATA BLOB );
CREATE TABLE ZMESSAGE ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZISOWN INTEGER,
  ZREAD INTEGER, ZAUDIO INTEGER, ZCONVERSATION INTEGER, ZSENDER INTEGER, ZIMAGE INTEGER,
  ZTHUMBNAIL INTEGER, ZVIDEO INTEGER, ZDATE TIMESTAMP, ZACCURACY FLOAT, ZLATITUDE FLOAT,
  ZLONGITUDE FLOAT, ZTEXT VARCHAR, ZCAPTION VARCHAR, ZFILENAME VARCHAR, ZMIMETYPE VARCHAR );
INSERT INTO Z_PRIMARYKEY VALUES (8, 'BaseMessage', 0, 7), (9, 'AudioMessage', 8, 0),
  (11, 'FileMessage', 8, 1), (12, 'ImageMessage', 8, 1), (13, 'LocationMessage', 8, 1),
  (14, 'SystemMessage', 8, 1), (15, 'TextMessage', 8, 4), (16, 'VideoMessage', 8, 0);
INSERT INTO ZCONTACT (Z_PK, Z_ENT, ZIDENTITY, ZFIRSTNAME, ZLASTNAME, ZPUBLICNICKNAME) VALUES
  (1, 4, 'ECHOECHO', 'Anna', 'Berg', 'anna'), (2, 4, 'K3M5P7Q9', NULL, NULL, 'bergfex');
INSERT INTO ZCONVERSATION (Z_PK, Z_ENT, ZCONTACT, ZGROUPNAME) VALUES (1, 5, 1, NULL),
  (2, 5, NULL, 'Wanderfreunde');
INSERT INTO ZIMAGEDATA (Z_PK, Z_ENT, ZDATA) VALUES (1, 10, )" +
             sql_blob(std::string("\x02") + "A1B2C3D4-0000-4000-8000-00000000CAFE" + '\0') +
             R"();
INSERT INTO ZFILEDATA (Z_PK, Z_ENT, ZMESSAGE, ZDATA) VALUES (1, 7, 4, x'0125504446');
INSERT INTO ZMESSAGE (Z_PK, Z_ENT, ZISOWN, ZCONVERSATION, ZSENDER, ZIMAGE, ZDATE, ZTEXT,
  ZCAPTION, ZFILENAME, ZLATITUDE, ZLONGITUDE) VALUES
  (1, 15, 0, 1, NULL, NULL, 700000000, 'Hallo, bist du da?', NULL, NULL, NULL, NULL),
  (2, 15, 1, 1, NULL, NULL, 700000060, 'Ja, was gibt''s?', NULL, NULL, NULL, NULL),
  (3, 12, 0, 2, 2, 1, 700000120, NULL, 'Gipfel!', NULL, NULL, NULL),
  (4, 11, 1, 2, NULL, NULL, 700000180, NULL, NULL, 'plan.pdf', NULL, NULL),
  (5, 13, 0, 1, NULL, NULL, 700000240, NULL, NULL, NULL, 47.3769, 8.5417),
  (6, 14, 0, 2, NULL, NULL, 700000300, NULL, NULL, NULL, NULL, NULL),
  (7, 15, 0, 1, NULL, NULL, 700000360, 'threema message then deleted', NULL, NULL, NULL, NULL);
DELETE FROM ZMESSAGE WHERE Z_PK = 7;
)");
  auto run = extract(out.path(), {ev / "ThreemaData.sqlite"});
  REQUIRE(run.results.size() == 1);
  CHECK(run.results[0].app == "threema");
  CHECK(run.results[0].reader == "threema_ios");
  CHECK(run.results[0].errors.empty());
  auto live = of_db(run, "db1");
  REQUIRE(live.size() == 6);
  const std::string anna = "ECHOECHO (Anna Berg)";
  CHECK(field(live, "body") == std::vector<std::string>{"Hallo, bist du da?", "Ja, was gibt's?",
                                                        "Gipfel!", "<null>", "<null>", "<null>"});
  CHECK(field(live, "kind") ==
        std::vector<std::string>{"text", "text", "media", "media", "location", "system"});
  CHECK(field(live, "direction") ==
        std::vector<std::string>{"received", "sent", "received", "sent", "received", "unknown"});
  CHECK(field(live, "sender") ==
        std::vector<std::string>{anna, "", "K3M5P7Q9 (bergfex)", "", anna, "unknown"});
  CHECK(field(live, "conversation") == std::vector<std::string>{anna, anna, "Wanderfreunde",
                                                                "Wanderfreunde", anna,
                                                                "Wanderfreunde"});
  CHECK(live[0]["timestamp"] == "2023-03-08T20:26:40Z");
  CHECK(live[1]["recipients"] == json::array({anna}));
  CHECK(live[2]["attachments"] ==
        json::array({".ThreemaData_SUPPORT/_EXTERNAL_DATA/A1B2C3D4-0000-4000-8000-00000000CAFE"}));
  CHECK(live[3]["attachments"] == json::array({"ZFILEDATA 1 (embedded, 4 bytes) (plan.pdf)"}));
  auto rec = of_db(run, "db1", true);
  REQUIRE(rec.size() == 1);
  CHECK(rec[0]["body"] == "threema message then deleted");
  CHECK(rec[0]["sender"] == anna);
}

TEST_CASE("chat: Wickr iOS wickrLocal: metadata only, file transfers through the join", "[chat]") {
  TempDir ev("chat-ev"), out("chat-out");
  sqlite(ev / "wickrLocal.sqlite", R"(
PRAGMA secure_delete=OFF;
CREATE TABLE Z_PRIMARYKEY (Z_ENT INTEGER PRIMARY KEY, Z_NAME VARCHAR, Z_SUPER INTEGER, Z_MAX
  INTEGER);
CREATE TABLE ZSECEX_CONVO ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER,
  ZLASTTIMESTAMP FLOAT, ZVGROUPID VARCHAR );
CREATE TABLE ZSECEX_USER ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZUSERIDHASH
  VARCHAR, ZUSERALIASHASH VARCHAR );
CREATE TABLE ZWICKR_FILE ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZSTATUS
  INTEGER, ZGUID VARCHAR );
CREATE TABLE ZWICKR_MESSAGE ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZCONVO
  INTEGER, ZUSERSENDER INTEGER, ZFULLTYPE INTEGER, ZPRIMARYTYPE INTEGER, ZISREAD INTEGER,
  ZTIMESTAMP TIMESTAMP, ZCLEANUPTIME TIMESTAMP, ZMSGID VARCHAR, ZBODY BLOB );
CREATE TABLE Z_11MSG ( Z_11FILES INTEGER, Z_13MSG INTEGER, PRIMARY KEY (Z_11FILES, Z_13MSG) );
INSERT INTO Z_PRIMARYKEY VALUES (5, 'Secex_Convo', 0, 1), (8, 'Secex_User', 0, 2),
  (11, 'Wickr_file', 0, 1), (13, 'Wickr_Message', 0, 3);
INSERT INTO ZSECEX_CONVO VALUES (1, 5, 1, 1612345600, 'S2f9c1e7a0b3d4e5f60718293a4b5c6d');
INSERT INTO ZSECEX_USER VALUES (1, 8, 1, '7c4a8d09ca3762af61e59520943dc26494f8941b', 'a1'),
  (2, 8, 1, '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b', 'b2');
INSERT INTO ZWICKR_FILE VALUES (1, 11, 1, 2, '0F8E2C6A-11B4-4C1D-9E2F-5A6B7C8D9E0F');
INSERT INTO ZWICKR_MESSAGE VALUES
  (1, 13, 1, 1, 1, 1000, 1, 1, 700000000, NULL, 'msg-0001', x'8f3ac2d1e4b5'),
  (2, 13, 1, 1, 2, 6000, 6, 1, 700000060, NULL, 'msg-0002', x'11aa22bb33cc'),
  (3, 13, 1, 1, 2, 1000, 1, 1, 700000120, NULL, 'msg-0003', x'44dd55ee66ff');
INSERT INTO Z_11MSG VALUES (1, 2);
DELETE FROM ZWICKR_MESSAGE WHERE Z_PK = 3;
)");
  auto run = extract(out.path(), {ev / "wickrLocal.sqlite"});
  REQUIRE(run.results.size() == 1);
  CHECK(run.results[0].app == "wickr");
  CHECK(run.results[0].reader == "wickr_ios");
  CHECK(run.results[0].errors.empty());
  auto live = of_db(run, "db1");
  REQUIRE(live.size() == 2);
  CHECK(field(live, "body") == std::vector<std::string>{"<null>", "<null>"});
  CHECK(field(live, "kind") == std::vector<std::string>{"other", "media"});
  CHECK(field(live, "direction") == std::vector<std::string>{"unknown", "unknown"});
  CHECK(field(live, "sender") ==
        std::vector<std::string>{"7c4a8d09ca3762af61e59520943dc26494f8941b",
                                 "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"});
  CHECK(live[0]["conversation"] == "S2f9c1e7a0b3d4e5f60718293a4b5c6d");
  CHECK(live[0]["timestamp"] == "2023-03-08T20:26:40Z");
  CHECK(live[1]["attachments"] == json::array({"0F8E2C6A-11B4-4C1D-9E2F-5A6B7C8D9E0F"}));
  auto rec = of_db(run, "db1", true);
  REQUIRE(rec.size() == 1);
  CHECK(rec[0]["timestamp"] == "2023-03-08T20:28:40Z");
  CHECK(rec[0]["sender"] == "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b");
}
