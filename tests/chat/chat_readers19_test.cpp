// Readers for Signal Desktop, Snapchat, Discord, Kik Android, LINE and TextNow, on databases
// built with the tables and columns the apps' public forensic parsers (ALEAPP, iLEAPP) read,
// synthetic rows, and one row per database deleted with secure_delete off (recovered through the
// shared page recovery).
#include <catch2/catch.hpp>

#include "chat/postbox.hpp"
#include "tests/chat/chat_support.hpp"
#include "tests/common/support.hpp"

using namespace safehold::test;
using namespace safehold::test::chat;
using nlohmann::json;

namespace {

// A Snapchat message_content: text at 4 > 4 > 2 > 1, content_type at 4 > 2, the sender at 2 > 1.
std::string snap_content(const std::string& sender, const std::string& text) {
  return pb_bytes(2, pb_bytes(1, sender)) +
         pb_bytes(4, pb_varint(2, 1) + pb_bytes(4, pb_bytes(2, pb_bytes(1, text))));
}

// 16 bytes of a UUID in conversation_metadata's participant list (3 > 1 > 1).
std::string snap_member(const std::string& uuid16) {
  return pb_bytes(3, pb_bytes(1, pb_bytes(1, uuid16)));
}

std::vector<std::string> texts(const std::vector<json>& ms) {
  std::vector<std::string> out;
  for (auto& m : ms) out.push_back(m["body"].is_string() ? m["body"].get<std::string>() : "<null>");
  return out;
}

}  // namespace

TEST_CASE("chat: Signal Desktop: json column, types to kinds, conversations to names", "[chat]") {
  TempDir ev("chat-ev"), out("chat-out");
  sqlite(ev / "db.sqlite", R"(
PRAGMA secure_delete=OFF;
CREATE TABLE conversations(id STRING PRIMARY KEY ASC, json TEXT, active_at INTEGER, type STRING,
  members TEXT, name TEXT, profileName TEXT, profileFamilyName TEXT, profileFullName TEXT,
  e164 TEXT, serviceId TEXT, groupId TEXT, profileLastFetchedAt INTEGER);
CREATE TABLE messages(rowid INTEGER PRIMARY KEY ASC, id STRING UNIQUE, json TEXT,
  readStatus INTEGER, expires_at INTEGER, sent_at INTEGER, schemaVersion INTEGER,
  conversationId STRING, received_at INTEGER, source STRING, hasAttachments INTEGER,
  hasFileAttachments INTEGER, hasVisualMediaAttachments INTEGER, expireTimer INTEGER,
  expirationStartTimestamp INTEGER, type STRING, body TEXT, messageTimer INTEGER,
  isErased INTEGER, isViewOnce INTEGER, sourceServiceId TEXT, serverGuid STRING NULL,
  sourceDevice INTEGER, storyId STRING, isStory INTEGER);
INSERT INTO conversations VALUES
  ('c-alex', '{}', 1612345600000, 'private', NULL, 'Alex', 'Alex', NULL, 'Alex',
   '+447700900301', 'aci-alex', NULL, NULL),
  ('c-group', '{}', 1612345600000, 'group', '+447700900301 +447700900302', 'Book club', NULL,
   NULL, NULL, NULL, NULL, 'grp-1', NULL),
  ('c-sam', '{}', 0, 'private', NULL, NULL, 'Sam', NULL, 'Sam', '+447700900302', 'aci-sam',
   NULL, NULL),
  ('c-v2', '{"membersV2":[{"aci":"aci-alex","role":2},{"aci":"aci-sam","role":1},
   {"aci":"aci-owner","role":2}]}', 0, 'group', NULL, 'Climbing', NULL, NULL, NULL, NULL, NULL,
   'grp-2', NULL),
  ('c-me', '{}', 0, 'private', NULL, 'Note to Self', NULL, NULL, NULL, '+447700900300',
   'aci-owner', NULL, NULL);
CREATE TABLE items(id STRING PRIMARY KEY ASC, json TEXT);
INSERT INTO items VALUES ('uuid_id', '{"id":"uuid_id","value":"aci-owner.1"}'),
  ('number_id', '{"id":"number_id","value":"+447700900300.1"}');
INSERT INTO messages (rowid, id, json, sent_at, conversationId, received_at, source, type, body,
  sourceServiceId) VALUES
  (1, 'm1', '{"body":"are you coming?"}', 1612345600000, 'c-alex', 1612345600500,
   '+447700900301', 'incoming', 'are you coming?', 'aci-alex'),
  (2, 'm2', '{"body":"yes, 5 min"}', 1612345660000, 'c-alex', 1612345660000, NULL, 'outgoing',
   'yes, 5 min', NULL),
  (3, 'm3', '{"attachments":[{"contentType":"image/jpeg","path":"ab/abcdef0123","size":1234}]}',
   1612345720000, 'c-group', 1612345721000, NULL, 'outgoing', NULL, NULL),
  (4, 'm4', '{"callId":"77"}', 1612345780000, 'c-alex', 1612345780000, NULL, 'call-history',
   NULL, NULL),
  (5, 'm5', '{"groupV2Change":{}}', 1612345840000, 'c-group', 1612345840000, NULL,
   'group-v2-change', NULL, NULL),
  (6, 'm6', '{"body":"group message from Sam"}', 1612345900000, 'c-group', 1612345900000,
   NULL, 'incoming', 'group message from Sam', 'aci-sam'),
  (8, 'm8', '{"body":"v2 group hello"}', 1612345950000, 'c-v2', 1612345950000, NULL, 'outgoing',
   'v2 group hello', NULL),
  (7, 'm7', '{"body":"delete me: the meeting point is the old mill"}', 1612345960000, 'c-alex',
   1612345960000, '+447700900301', 'incoming', 'delete me: the meeting point is the old mill',
   'aci-alex');
DELETE FROM messages WHERE rowid = 7;
)");
  auto run = extract(out.path(), {ev / "db.sqlite"});
  CHECK(run.results[0].app == "signal");
  CHECK(run.results[0].reader == "signal_desktop");
  CHECK(run.results[0].errors.empty());
  auto live = of_db(run, "db1");
  REQUIRE(live.size() == 7);
  CHECK(live[0]["body"] == "are you coming?");
  CHECK(live[0]["direction"] == "received");
  CHECK(live[0]["sender"] == "+447700900301 (Alex)");
  CHECK(live[0]["conversation"] == "+447700900301 (Alex)");
  CHECK(live[0]["timestamp"] == "2021-02-03T09:46:40Z");
  CHECK(live[1]["direction"] == "sent");
  CHECK(live[1]["sender"] == "");
  CHECK(live[1]["recipients"] == json::array({"+447700900301 (Alex)"}));
  CHECK(live[2]["body"].is_null());
  CHECK(live[2]["kind"] == "media");
  CHECK(live[2]["attachments"] == json::array({"ab/abcdef0123"}));
  CHECK(live[2]["conversation"] == "grp-1 (Book club)");
  CHECK(live[2]["recipients"] == json::array({"+447700900301 (Alex)", "+447700900302 (Sam)"}));
  CHECK(live[3]["kind"] == "call");
  CHECK(live[3]["body"].is_null());
  CHECK(live[4]["kind"] == "system");
  CHECK(live[4]["direction"] == "unknown");
  CHECK(live[5]["sender"] == "+447700900302 (Sam)");
  CHECK(live[5]["kind"] == "text");
  CHECK(live[6]["conversation"] == "grp-2 (Climbing)");
  CHECK(live[6]["recipients"] == json::array({"+447700900301 (Alex)", "+447700900302 (Sam)"}));
  auto rec = of_db(run, "db1", true);
  REQUIRE(rec.size() == 1);
  CHECK(rec[0]["body"] == "delete me: the meeting point is the old mill");
  CHECK(rec[0]["sender"] == "+447700900301 (Alex)");
  CHECK(rec[0]["timestamp"] == "2021-02-03T09:52:40Z");
  CHECK(run.results[0].recovered == 1);
}

TEST_CASE("chat: Snapchat arroyo.db: protobuf text, owner from created_on_device", "[chat]") {
  TempDir ev("chat-ev"), out("chat-out");
  const std::string me = "0f3c1a52-8d4e-4b7a-9c21-6e5f4d3b2a10";
  const std::string friend_id = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d";
  std::string me16("\x0f\x3c\x1a\x52\x8d\x4e\x4b\x7a\x9c\x21\x6e\x5f\x4d\x3b\x2a\x10", 16);
  std::string friend16("\xa1\xb2\xc3\xd4\xe5\xf6\x4a\x7b\x8c\x9d\x0e\x1f\x2a\x3b\x4c\x5d", 16);
  std::string conv = "5d2f7a0e-1111-4c3b-8a9d-222233334444";
  std::string sql = R"(
PRAGMA secure_delete=OFF;
CREATE TABLE conversation(client_conversation_id TEXT PRIMARY KEY, conversation_metadata BLOB,
  creation_timestamp INTEGER, tombstoned_at_timestamp INTEGER, send_state_type INTEGER);
CREATE TABLE conversation_message(client_conversation_id TEXT NOT NULL,
  client_message_id INTEGER NOT NULL, server_message_id INTEGER, client_resolution_id BLOB,
  local_message_content_id INTEGER, message_content BLOB, message_state_type TEXT,
  content_type INTEGER, creation_timestamp INTEGER, read_timestamp INTEGER, sender_id TEXT,
  is_saved INTEGER, is_viewed_by_user INTEGER, remote_media_count INTEGER,
  created_on_device INTEGER, PRIMARY KEY(client_conversation_id, client_message_id));
)";
  sql += "INSERT INTO conversation VALUES ('" + conv + "', " +
         sql_blob(snap_member(me16) + snap_member(friend16)) + ", 1612345000000, 0, 0);\n";
  auto row = [&](int id, const std::string& content, int type, int64_t ts, const std::string& who,
                 int mine) {
    sql += "INSERT INTO conversation_message VALUES ('" + conv + "', " + std::to_string(id) + ", " +
           std::to_string(1000 + id) + ", NULL, NULL, " + sql_blob(content) + ", 'COMMITTED', " +
           std::to_string(type) + ", " + std::to_string(ts) + ", NULL, '" + who + "', 0, 1, 0, " +
           std::to_string(mine) + ");\n";
  };
  row(1, snap_content(friend_id, "hey, you around later?"), 1, 1612345600000, friend_id, 0);
  row(2, snap_content(me, "yeah after 6"), 1, 1612345660000, me, 1);
  row(3, pb_bytes(2, pb_bytes(1, friend_id)) + pb_bytes(4, pb_varint(2, 2)), 2, 1612345720000,
      friend_id, 0);
  row(4, snap_content(friend_id, "snap text that was deleted"), 1, 1612345780000, friend_id, 0);
  sql += "DELETE FROM conversation_message WHERE client_message_id = 4;\n";
  sqlite(ev / "arroyo.db", sql);
  auto run = extract(out.path(), {ev / "arroyo.db"});
  CHECK(run.results[0].app == "snapchat");
  CHECK(run.results[0].errors.empty());
  auto live = of_db(run, "db1");
  REQUIRE(live.size() == 3);
  CHECK(live[0]["body"] == "hey, you around later?");
  CHECK(live[0]["direction"] == "received");
  CHECK(live[0]["sender"] == friend_id);
  CHECK(live[0]["conversation"] == conv);
  CHECK(live[0]["timestamp"] == "2021-02-03T09:46:40Z");
  CHECK(live[1]["body"] == "yeah after 6");
  CHECK(live[1]["direction"] == "sent");
  CHECK(live[1]["sender"] == "");
  CHECK(live[1]["recipients"] == json::array({friend_id}));
  CHECK(live[2]["body"].is_null());
  CHECK(live[2]["kind"] == "other");
  auto rec = of_db(run, "db1", true);
  REQUIRE(rec.size() == 1);
  CHECK(rec[0]["body"] == "snap text that was deleted");
  CHECK(rec[0]["sender"] == friend_id);
}

TEST_CASE("chat: Discord Android kv-storage: tagged JSON rows, kinds, ISO times", "[chat]") {
  TempDir ev("chat-ev"), out("chat-out");
  // iLEAPP reads column `data` and skips its first byte; ALEAPP reads the 7th column. The names
  // of the six columns before it are not published; these are placeholders.
  auto row = [](int k, const std::string& body) {
    return "INSERT INTO messages0 VALUES ('" + std::to_string(k) + "', NULL, NULL, NULL, NULL, " +
           "NULL, CAST(X'07' || CAST('" + body + "' AS BLOB) AS BLOB));\n";
  };
  std::string sql =
      "PRAGMA secure_delete=OFF;\nCREATE TABLE messages0 (k TEXT PRIMARY KEY, b, c, "
      "d, e, f, data BLOB);\n";
  sql += row(
      1,
      R"({"channelId":"900000000000000001","id":"910000000000000001","message":{"id":"910000000000000001","type":0,"content":"gg, same time tomorrow?","timestamp":"2021-02-03T09:46:40.123000+00:00","author":{"id":"800000000000000001","username":"skyfox"},"attachments":[]}})");
  sql += row(
      2,
      R"({"channelId":"900000000000000001","id":"910000000000000002","message":{"id":"910000000000000002","type":0,"content":"","timestamp":"2021-02-03T10:47:40+01:00","author":{"id":"800000000000000002","username":"tidewalker"},"attachments":[{"filename":"map.png","url":"https://cdn.discordapp.com/attachments/1/2/map.png"}]}})");
  sql += row(
      3,
      R"({"channelId":"900000000000000001","id":"910000000000000003","message":{"type":7,"content":"","timestamp":"2021-02-03T09:48:40Z","author":{"id":"800000000000000003","username":"newbie"},"attachments":[]}})");
  sql += row(
      4,
      R"({"channelId":"900000000000000001","id":"910000000000000004","message":{"type":0,"content":"deleted discord message","timestamp":"2021-02-03T09:49:40Z","author":{"id":"800000000000000001","username":"skyfox"},"attachments":[]}})");
  sql += "DELETE FROM messages0 WHERE k = '4';\n";
  sqlite(ev / "a", sql);
  auto run = extract(out.path(), {ev / "a"});
  CHECK(run.results[0].app == "discord");
  CHECK(run.results[0].errors.empty());
  auto live = of_db(run, "db1");
  REQUIRE(live.size() == 3);
  CHECK(live[0]["body"] == "gg, same time tomorrow?");
  CHECK(live[0]["sender"] == "800000000000000001 (skyfox)");
  CHECK(live[0]["conversation"] == "900000000000000001");
  CHECK(live[0]["timestamp"] == "2021-02-03T09:46:40.123Z");
  CHECK(live[0]["direction"] == "unknown");
  CHECK(live[1]["body"].is_null());
  CHECK(live[1]["kind"] == "media");
  CHECK(live[1]["attachments"] == json::array({"map.png"}));
  CHECK(live[1]["timestamp"] == "2021-02-03T09:47:40Z");
  CHECK(live[2]["kind"] == "system");
  auto rec = of_db(run, "db1", true);
  REQUIRE(rec.size() == 1);
  CHECK(rec[0]["body"] == "deleted discord message");
}

TEST_CASE("chat: Kik Android messagesTable: was_me, groups by bin_id, content ids", "[chat]") {
  TempDir ev("chat-ev"), out("chat-out");
  sqlite(ev / "kikDatabase.db", R"(
PRAGMA secure_delete=OFF;
CREATE TABLE messagesTable (_id INTEGER PRIMARY KEY AUTOINCREMENT, body VARCHAR,
  partner_jid VARCHAR, was_me INT, read_state INT, uid VARCHAR, length INT, timestamp LONG,
  bin_id VARCHAR, sys_msg VARCHAR, stat_msg VARCHAR, stat_user_jid VARCHAR,
  req_read_reciept BOOLEAN, content_id VARCHAR, app_id VARCHAR, message_retry_count INT,
  encryption_failure BOOLEAN DEFAULT 0, encryption_failed_wrapped_message VARCHAR,
  render_instructions VARCHAR);
CREATE TABLE KIKcontactsTable (_id INTEGER PRIMARY KEY AUTOINCREMENT, jid VARCHAR UNIQUE,
  display_name VARCHAR, user_name VARCHAR, in_roster INT, is_blocked INT, is_group INT);
CREATE TABLE KIKContentTable (_id INTEGER PRIMARY KEY AUTOINCREMENT, content_id VARCHAR,
  content_type VARCHAR, content_name VARCHAR, content_string VARCHAR);
INSERT INTO KIKcontactsTable (jid, display_name, user_name, in_roster, is_blocked, is_group)
  VALUES ('rivers_a1b@talk.kik.com', 'River', 'rivers', 1, 0, 0),
  ('1100123456789_g@groups.kik.com', 'Skate crew', NULL, 1, 0, 1);
INSERT INTO KIKContentTable (content_id, content_type, content_name, content_string) VALUES
  ('3f1e2d4c-5b6a-4789-9abc-def012345678', NULL, 'file-name', 'IMG_0042.jpg');
INSERT INTO messagesTable (body, partner_jid, was_me, read_state, uid, timestamp, bin_id,
  sys_msg, stat_msg, content_id, app_id) VALUES
  ('u up?', 'rivers_a1b@talk.kik.com', 0, 500, 'u1', 1612345600000, 'rivers_a1b@talk.kik.com',
   NULL, NULL, NULL, NULL),
  ('yeah', 'rivers_a1b@talk.kik.com', 1, 400, 'u2', 1612345660000, 'rivers_a1b@talk.kik.com',
   NULL, NULL, NULL, NULL),
  (NULL, 'rivers_a1b@talk.kik.com', 0, 500, 'u3', 1612345720000,
   '1100123456789_g@groups.kik.com', NULL, NULL, '3f1e2d4c-5b6a-4789-9abc-def012345678',
   'com.kik.ext.gallery'),
  (NULL, 'rivers_a1b@talk.kik.com', 0, 500, 'u4', 1612345780000,
   '1100123456789_g@groups.kik.com', 'River has joined the chat', NULL, NULL, NULL),
  ('kik message then deleted', 'rivers_a1b@talk.kik.com', 0, 500, 'u5', 1612345840000,
   'rivers_a1b@talk.kik.com', NULL, NULL, NULL, NULL);
DELETE FROM messagesTable WHERE uid = 'u5';
)");
  auto run = extract(out.path(), {ev / "kikDatabase.db"});
  CHECK(run.results[0].app == "kik");
  CHECK(run.results[0].reader == "kik_android");
  CHECK(run.results[0].errors.empty());
  auto live = of_db(run, "db1");
  REQUIRE(live.size() == 4);
  CHECK(live[0]["body"] == "u up?");
  CHECK(live[0]["direction"] == "received");
  CHECK(live[0]["sender"] == "rivers_a1b@talk.kik.com (River)");
  CHECK(live[0]["timestamp"] == "2021-02-03T09:46:40Z");
  CHECK(live[1]["direction"] == "sent");
  CHECK(live[1]["recipients"] == json::array({"rivers_a1b@talk.kik.com (River)"}));
  CHECK(live[2]["conversation"] == "1100123456789_g@groups.kik.com (Skate crew)");
  CHECK(live[2]["kind"] == "media");
  CHECK(live[2]["body"].is_null());
  CHECK(live[2]["attachments"] ==
        json::array({"3f1e2d4c-5b6a-4789-9abc-def012345678 (IMG_0042.jpg)"}));
  CHECK(live[3]["kind"] == "system");
  auto rec = of_db(run, "db1", true);
  REQUIRE(rec.size() == 1);
  CHECK(rec[0]["body"] == "kik message then deleted");
}

TEST_CASE("chat: LINE naver_line chat_history: status, content types, members", "[chat]") {
  TempDir ev("chat-ev"), out("chat-out");
  sqlite(ev / "naver_line", R"(
PRAGMA secure_delete=OFF;
CREATE TABLE chat_history (id INTEGER PRIMARY KEY AUTOINCREMENT, server_id TEXT, type INTEGER,
  chat_id TEXT, from_mid TEXT, content TEXT, created_time TEXT, delivered_time TEXT,
  status INTEGER, sent_count INTEGER, read_count INTEGER, location_name TEXT,
  location_address TEXT, location_phone TEXT, location_latitude INTEGER,
  location_longitude INTEGER, attachement_image INTEGER, attachement_image_height INTEGER,
  attachement_image_width INTEGER, attachement_image_size INTEGER, attachement_type INTEGER,
  attachement_local_uri TEXT, parameter TEXT, chunks BLOB);
CREATE TABLE contacts (m_id TEXT PRIMARY KEY, contact_id TEXT, contact_key TEXT, name TEXT,
  phonetic_name TEXT, server_name TEXT, addressbook_name TEXT, custom_name TEXT, status INTEGER);
CREATE TABLE groups (id TEXT PRIMARY KEY, name TEXT, picture_status TEXT, creator TEXT);
CREATE TABLE membership (id TEXT, m_id TEXT, is_accepted INTEGER, updated_time INTEGER);
INSERT INTO contacts (m_id, name, server_name) VALUES
  ('u0123456789abcdef0123456789abcdef', 'Mika', 'Mika T'),
  ('u1111111111111111111111111111111a', NULL, 'Jun');
INSERT INTO groups VALUES ('c9999999999999999999999999999999', 'Climbing', NULL, NULL);
INSERT INTO membership VALUES
  ('c9999999999999999999999999999999', 'u0123456789abcdef0123456789abcdef', 1, 0),
  ('c9999999999999999999999999999999', 'u1111111111111111111111111111111a', 1, 0);
INSERT INTO chat_history (server_id, type, chat_id, from_mid, content, created_time, status,
  attachement_type, attachement_local_uri) VALUES
  ('s1', 1, 'u0123456789abcdef0123456789abcdef', 'u0123456789abcdef0123456789abcdef',
   'see you at the wall', '1612345600000', 1, 0, NULL),
  ('s2', 1, 'u0123456789abcdef0123456789abcdef', NULL, 'ok!', '1612345660000', 2, 0, NULL),
  ('s3', 1, 'c9999999999999999999999999999999', NULL, NULL, '1612345720000', 2, 1,
   'file:///storage/emulated/0/Pictures/LINE/line_1612345720.jpg'),
  ('s4', 1, 'c9999999999999999999999999999999', 'u1111111111111111111111111111111a', NULL,
   '1612345780000', 1, 7, NULL),
  ('s5', 1, 'u0123456789abcdef0123456789abcdef', NULL, NULL, '1612345840000', 2, 6, NULL),
  ('s6', 1, 'u0123456789abcdef0123456789abcdef', 'u0123456789abcdef0123456789abcdef',
   'line message removed later', '1612345900000', 1, 0, NULL);
DELETE FROM chat_history WHERE server_id = 's6';
)");
  auto run = extract(out.path(), {ev / "naver_line"});
  CHECK(run.results[0].app == "line");
  CHECK(run.results[0].errors.empty());
  auto live = of_db(run, "db1");
  REQUIRE(live.size() == 5);
  CHECK(live[0]["body"] == "see you at the wall");
  CHECK(live[0]["direction"] == "received");
  CHECK(live[0]["sender"] == "u0123456789abcdef0123456789abcdef (Mika)");
  CHECK(live[0]["timestamp"] == "2021-02-03T09:46:40Z");
  CHECK(live[1]["direction"] == "sent");
  CHECK(live[1]["recipients"] == json::array({"u0123456789abcdef0123456789abcdef (Mika)"}));
  CHECK(live[2]["kind"] == "media");
  CHECK(live[2]["conversation"] == "c9999999999999999999999999999999 (Climbing)");
  CHECK(live[2]["recipients"] == json::array({"u0123456789abcdef0123456789abcdef (Mika)",
                                              "u1111111111111111111111111111111a (Jun)"}));
  CHECK(live[2]["attachments"] ==
        json::array({"file:///storage/emulated/0/Pictures/LINE/line_1612345720.jpg"}));
  CHECK(live[3]["kind"] == "sticker");
  CHECK(live[3]["sender"] == "u1111111111111111111111111111111a (Jun)");
  CHECK(live[4]["kind"] == "call");
  CHECK(live[4]["body"].is_null());
  auto rec = of_db(run, "db1", true);
  REQUIRE(rec.size() == 1);
  CHECK(rec[0]["body"] == "line message removed later");
  CHECK(rec[0]["timestamp"] == "2021-02-03T09:51:40Z");
}

TEST_CASE("chat: TextNow textnow_data.db: direction, calls as kind, group members", "[chat]") {
  TempDir ev("chat-ev"), out("chat-out");
  // The tables as a real textnow_data.db (user version 29) declares them.
  sqlite(ev / "textnow_data.db", R"(
PRAGMA secure_delete=OFF;
CREATE TABLE messages (_id integer primary key autoincrement, message_id integer unique,
  contact_value text not null, contact_type integer, contact_name text not null,
  message_direction integer, message_type integer, message_text text not null, read boolean,
  date numeric not null, state integer default 0, attach text default '',
  message_source integer default 0, all_emoji boolean );
CREATE TABLE contacts (_id integer primary key autoincrement, global_id numeric not null unique,
  contact_value text not null, contact_name text, contact_type numeric not null,
  avatar_initials text, avatar_color text);
CREATE TABLE groups (_id integer primary key autoincrement, contact_value text not null unique,
  title text default '');
CREATE TABLE group_members (_id integer primary key autoincrement, contact_value text not null,
  member_contact_value text not null, member_contact_type integer,
  member_display_name text not null,member_contact_uri text);
INSERT INTO contacts (global_id, contact_value, contact_name, contact_type) VALUES
  (1, '+12025550143', 'Dana', 2), (2, '+12025550178', '', 2);
INSERT INTO groups (contact_value, title) VALUES ('group-7f3a', 'Trip');
INSERT INTO group_members (contact_value, member_contact_value, member_contact_type,
  member_display_name) VALUES ('group-7f3a', '+12025550143', 2, 'Dana D'),
  ('group-7f3a', '+12025550178', 2, '');
INSERT INTO messages (message_id, contact_value, contact_type, contact_name, message_direction,
  message_type, read, date, message_text, attach) VALUES
  (1, '+12025550143', 2, 'Dana', 1, 1, 1, 1612345600000, 'call me when free', ''),
  (2, '+12025550143', 2, 'Dana', 2, 1, 1, 1612345660000, 'calling now', ''),
  (3, '+12025550143', 2, 'Dana', 2, 100, 1, 1612345720000, '95', ''),
  (4, 'group-7f3a', 5, '', 2, 2, 1, 1612345780000, 'https://media.textnow.com/?t=abc123',
   '/storage/emulated/0/Pictures/trip.jpg'),
  (6, '+12025550143', 2, 'Dana', 1, 16, 1, 1612345790000, 'Missed call from (202) 555-0143', ''),
  (5, '+12025550178', 2, '', 1, 1, 0, 1612345840000, 'deleted textnow message', '');
DELETE FROM messages WHERE message_id = 5;
)");
  auto run = extract(out.path(), {ev / "textnow_data.db"});
  CHECK(run.results[0].app == "textnow");
  CHECK(run.results[0].errors.empty());
  auto live = of_db(run, "db1");
  REQUIRE(live.size() == 5);
  CHECK(live[0]["body"] == "call me when free");
  CHECK(live[0]["direction"] == "received");
  CHECK(live[0]["sender"] == "+12025550143 (Dana)");
  CHECK(live[0]["timestamp"] == "2021-02-03T09:46:40Z");
  CHECK(live[1]["recipients"] == json::array({"+12025550143 (Dana)"}));
  CHECK(live[2]["kind"] == "call");
  CHECK(live[2]["body"].is_null());
  CHECK(live[3]["kind"] == "media");
  CHECK(live[3]["conversation"] == "group-7f3a (Trip)");
  CHECK(live[3]["recipients"] == json::array({"+12025550143 (Dana)", "+12025550178"}));
  CHECK(live[3]["body"].is_null());
  CHECK(live[3]["attachments"] == json::array({"/storage/emulated/0/Pictures/trip.jpg",
                                               "https://media.textnow.com/?t=abc123"}));
  CHECK(live[4]["kind"] == "call");
  CHECK(live[4]["body"].is_null());
  CHECK(live[4]["direction"] == "received");
  auto rec = of_db(run, "db1", true);
  REQUIRE(rec.size() == 1);
  CHECK(texts(rec) == std::vector<std::string>{"deleted textnow message"});
  CHECK(rec[0]["sender"] == "+12025550178");
}

TEST_CASE("chat: Android SMS with a vendor part table (no seq, no _data) reads MMS", "[chat]") {
  TempDir ev("chat-ev"), out("chat-out");
  sqlite(ev / "mmssms.db", R"(
CREATE TABLE sms (_id INTEGER PRIMARY KEY, thread_id INTEGER, address TEXT, date INTEGER,
  type INTEGER, body TEXT);
CREATE TABLE pdu (_id INTEGER PRIMARY KEY, thread_id INTEGER, date INTEGER, msg_box INTEGER);
CREATE TABLE part (_id INTEGER PRIMARY KEY, mid INTEGER, ct TEXT, text TEXT);
CREATE TABLE addr (msg_id INTEGER, address TEXT, type INTEGER);
INSERT INTO sms VALUES (1, 1, '+447700900123', 1612345600000, 1, 'plain sms');
INSERT INTO pdu VALUES (1, 1, 1612345660, 1);
INSERT INTO part VALUES (1, 1, 'text/plain', 'mms text part');
INSERT INTO addr VALUES (1, '+447700900123', 137);
)");
  auto run = extract(out.path(), {ev / "mmssms.db"});
  CHECK(run.results[0].app == "sms");
  CHECK(run.results[0].errors.empty());
  auto live = of_db(run, "db1");
  REQUIRE(live.size() == 2);
  CHECK(live[0]["body"] == "plain sms");
  CHECK(live[1]["body"] == "mms text part");
  CHECK(live[1]["sender"] == "+447700900123");
  CHECK(live[1]["direction"] == "received");
}

namespace {

// A minimal PostboxEncoder: keyed fields (one-byte key length), type tags, little-endian.
std::string le(uint64_t v, int n) {
  std::string out;
  for (int k = 0; k < n; ++k) out += static_cast<char>((v >> (8 * k)) & 0xFF);
  return out;
}
std::string pb_key(const std::string& k) {
  return std::string(1, static_cast<char>(k.size())) + k;
}
std::string pb_str(const std::string& k, const std::string& v) {
  return pb_key(k) + '\x04' + le(v.size(), 4) + v;
}
std::string pb_i64(const std::string& k, int64_t v) {
  return pb_key(k) + '\x01' + le(v, 8);
}
std::string pb_root(int32_t hash, const std::string& body) {
  return pb_key("_") + '\x05' + le(static_cast<uint32_t>(hash), 4) + le(body.size(), 4) + body;
}
std::string tg_key(int64_t peer, int32_t ts, int32_t id) {
  std::string out;
  auto be = [&](uint64_t v, int n) {
    for (int k = n - 1; k >= 0; --k) out += static_cast<char>((v >> (8 * k)) & 0xFF);
  };
  be(static_cast<uint64_t>(peer), 8);
  be(0, 4);
  be(static_cast<uint32_t>(ts), 4);
  be(static_cast<uint32_t>(id), 4);
  return out;
}
// A message record: type 0, stable id and version, data flags 0, flags, tags, no forward,
// the author, the text, no attributes, the embedded media, no referenced media.
std::string tg_msg(int64_t author, const std::string& text, bool incoming,
                   const std::vector<std::string>& media = {}) {
  std::string b = std::string(1, '\0') + le(1, 4) + le(0, 4) + '\0';
  b += le(incoming ? 4 : 0, 4) + le(0, 4) + '\0';
  b += '\x01' + le(static_cast<uint64_t>(author), 8);
  b += le(text.size(), 4) + text + le(0, 4) + le(media.size(), 4);
  for (auto& m : media) b += le(m.size(), 4) + m;
  return b + le(0, 4);
}

}  // namespace

TEST_CASE("chat: Postbox type hash is MurmurHash3 x86_32 with Postbox's seed", "[chat]") {
  using safehold::chat::murmur3_32;
  using safehold::chat::postbox_type_hash;
  // Published MurmurHash3_x86_32 vectors.
  CHECK(murmur3_32("", 1) == 0x514E28B7u);
  CHECK(murmur3_32("", 0xFFFFFFFFu) == 0x81F16F39u);
  CHECK(murmur3_32("The quick brown fox jumps over the lazy dog", 0x9747B28Cu) == 0x2FA826CDu);
  // Class hashes as they appear in Postbox data (TelegramUser, TelegramGroup) and in a public
  // Postbox parser's fixtures (TelegramMediaFile, TelegramMediaAction, ReplyMessageAttribute).
  CHECK(static_cast<uint32_t>(postbox_type_hash("TelegramUser")) == 0x9E68A52Bu);
  CHECK(static_cast<uint32_t>(postbox_type_hash("TelegramGroup")) == 0x66A17D51u);
  CHECK(postbox_type_hash("TelegramMediaFile") == 665733176);
  CHECK(static_cast<uint32_t>(postbox_type_hash("TelegramMediaAction")) == 3161982849u);
  CHECK(postbox_type_hash("ReplyMessageAttribute") == 478003709);
}

TEST_CASE("chat: Postbox decoders reject truncated and oversized counts", "[chat]") {
  using namespace safehold::chat;
  std::string good = tg_msg(42, "hello", true);
  auto m = parse_postbox_message(good);
  REQUIRE(m);
  CHECK(m->text == "hello");
  CHECK(m->author == 42);
  CHECK(m->flags == 4u);
  for (size_t n = 0; n < good.size(); ++n) CHECK_FALSE(parse_postbox_message(good.substr(0, n)));
  // An attribute count of 2^31-1 with nothing after it.
  std::string huge = good.substr(0, good.size() - 12) + le(0x7FFFFFFF, 4);
  CHECK_FALSE(parse_postbox_message(huge));
  CHECK_FALSE(postbox_peer_name(pb_key("_") + '\x05' + le(7, 4) + le(1000, 4) + "ab"));
  CHECK(postbox_peer_name(pb_root(1, pb_str("fn", "Al") + pb_str("un", "al_1"))) == "Al (@al_1)");
  CHECK(postbox_peer_name(pb_root(1, pb_str("un", "only"))) == "@only");
  auto k = parse_postbox_key(tg_key(-5, 1612345600, 9));
  REQUIRE(k);
  CHECK(k->peer == -5);
  CHECK(k->timestamp == 1612345600);
  CHECK(k->id == 9);
  CHECK_FALSE(parse_postbox_key("short"));
}

TEST_CASE("chat: Telegram iOS postbox: tables found by content, peers, direction", "[chat]") {
  TempDir ev("chat-ev"), out("chat-out"), work("chat-work");
  using safehold::chat::postbox_type_hash;
  const int64_t owner = 7100000001, alice = 7100000002, group = 4294967296LL * 2 + 4100000004LL;
  std::string sql = "PRAGMA secure_delete=OFF;\n";
  for (int k : {0, 1, 3, 4, 6, 8})
    sql += "CREATE TABLE t" + std::to_string(k) + " (key BLOB PRIMARY KEY, value BLOB);\n";
  sql += "CREATE TABLE t2 (key INTEGER PRIMARY KEY, value BLOB);\n";
  sql += "CREATE TABLE t7 (key BLOB PRIMARY KEY, value BLOB);\n";
  auto peer = [&](int64_t id, const std::string& body) {
    sql += "INSERT INTO t2 VALUES (" + std::to_string(id) + ", " +
           sql_blob(pb_root(12345, pb_i64("i", id) + body)) + ");\n";
  };
  peer(owner, pb_str("fn", "Billy") + pb_str("ln", "Owner") + pb_str("un", "owner_handle"));
  peer(alice, pb_str("fn", "Alice") + pb_str("un", "alice_x"));
  peer(group, pb_str("t", "The crew"));
  auto msg = [&](int64_t chat, int32_t ts, int32_t id, const std::string& value) {
    sql += "INSERT INTO t7 VALUES (" + sql_blob(tg_key(chat, ts, id)) + ", " + sql_blob(value) +
           ");\n";
  };
  std::string photo = pb_root(postbox_type_hash("TelegramMediaImage"), pb_i64("i", 1));
  std::string action = pb_root(postbox_type_hash("TelegramMediaAction"), pb_i64("_rawValue", 2));
  msg(alice, 1612345600, 1, tg_msg(alice, "hi from alice", true));
  msg(alice, 1612345660, 2, tg_msg(owner, "hello alice", false));
  msg(group, 1612345720, 1, tg_msg(alice, "", true, {photo}));
  msg(group, 1612345780, 2, tg_msg(owner, "", false, {action}));
  msg(alice, 1612345840, 3, tg_msg(alice, "telegram message deleted later", true));
  sql += "INSERT INTO t3 VALUES (X'010203', X'FFFF');\n";
  sqlite(work / "db_sqlite", sql);
  // Telegram keeps Postbox in WAL mode: the message is deleted in the WAL, and the main file's
  // page still holds its whole cell (a cell freed in place loses its first serial type to the
  // freeblock header, and with it the key: see docs/chat.md). Copied while the connection is
  // open, as an acquisition of a running phone finds it.
  write_text(work / "del.py",
             "import sqlite3, shutil, sys\n"
             "src, dst = sys.argv[1], sys.argv[2]\n"
             "con = sqlite3.connect(src)\n"
             "con.execute('PRAGMA journal_mode=WAL')\n"
             "con.execute('PRAGMA wal_autocheckpoint=0')\n"
             "con.execute(\"DELETE FROM t7 WHERE key = " +
                 sql_blob(tg_key(alice, 1612345840, 3)) +
                 "\")\n"
                 "con.commit()\n"
                 "shutil.copy(src, dst)\n"
                 "shutil.copy(src + '-wal', dst + '-wal')\n"
                 "con.close()\n");
  must_run("python3 " + shell_quote((work / "del.py").string()) + " " +
           shell_quote((work / "db_sqlite").string()) + " " +
           shell_quote((ev / "db_sqlite").string()));
  auto run = extract(out.path(), {ev / "db_sqlite"});
  CHECK(run.results[0].app == "telegram");
  CHECK(run.results[0].reader == "telegram_ios");
  CHECK(run.results[0].errors.empty());
  auto live = of_db(run, "db1");
  REQUIRE(live.size() == 4);
  CHECK(live[0]["body"] == "hi from alice");
  CHECK(live[0]["direction"] == "received");
  CHECK(live[0]["sender"] == "7100000002 (Alice (@alice_x))");
  CHECK(live[0]["conversation"] == "7100000002 (Alice (@alice_x))");
  CHECK(live[0]["timestamp"] == "2021-02-03T09:46:40Z");
  CHECK(live[1]["direction"] == "sent");
  CHECK(live[1]["recipients"] == json::array({"7100000002 (Alice (@alice_x))"}));
  CHECK(live[2]["kind"] == "media");
  CHECK(live[2]["body"].is_null());
  CHECK(live[2]["conversation"] == std::to_string(group) + " (The crew)");
  CHECK(live[3]["kind"] == "system");
  auto rec = of_db(run, "db1", true);
  REQUIRE(rec.size() == 1);
  CHECK(rec[0]["body"] == "telegram message deleted later");
  CHECK(rec[0]["timestamp"] == "2021-02-03T09:50:40Z");
  CHECK(rec[0]["recovered_from"] == "wal");
}

TEST_CASE("chat: Instagram iOS Direct: NSKeyedArchiver messages and thread users", "[chat]") {
  TempDir ev("chat-ev"), out("chat-out"), work("chat-work");
  // A small NSKeyedArchiver encoder over plistlib: dicts with "$" name their class (NSDictionary
  // as NS.keys/NS.objects), lists are NSArrays, numbers inside objects are stored inline.
  write_text(work / "arch.py", R"(import plistlib, sys
U = plistlib.UID
def archive(root):
    objs, classes = ['$null'], {}
    def cls(name):
        if name not in classes:
            objs.append({'$classname': name, '$classes': [name, 'NSObject']})
            classes[name] = len(objs) - 1
        return U(classes[name])
    def enc(v):
        idx = len(objs)
        objs.append(None)
        if isinstance(v, str):
            objs[idx] = v
        elif isinstance(v, list):
            objs[idx] = {'NS.objects': [enc(x) for x in v], '$class': cls('NSArray')}
        elif v.get('$') == 'NSDictionary':
            keys = [k for k in v if k != '$']
            objs[idx] = {'NS.keys': [enc(k) for k in keys], 'NS.objects': [enc(v[k]) for k in keys],
                         '$class': cls('NSDictionary')}
        else:
            o = {k: (x if isinstance(x, (int, float)) else enc(x)) for k, x in v.items() if k != '$'}
            o['$class'] = cls(v['$'])
            objs[idx] = o
        return U(idx)
    top = enc(root)
    return plistlib.dumps({'$version': 100000, '$archiver': 'NSKeyedArchiver',
                           '$top': {'root': top}, '$objects': objs}, fmt=plistlib.FMT_BINARY)
def message(sender, t, content):
    return {'$': 'IGDirectPublishedMessage',
            'IGDirectPublishedMessageMetadata*metadata': {
                '$': 'IGDirectPublishedMessageMetadata', 'NSString*senderPk': sender,
                'NSString*threadId': '340282366841710300949128100000000001',
                'NSDate*serverTimestamp': {'$': 'NSDate', 'NS.time': float(t - 978307200)}},
            'IGDirectPublishedMessageContent*content': dict(content, **{'$': 'IGDirectPublishedMessageContent'})}
out = sys.argv[1]
robin, me = '17841400000000002', '17841400000000001'
open(out + '/thread', 'wb').write(archive({'$': 'IGDirectThreadMetadata', 'NSArray<IGUser *>*users': [
    {'$': 'IGUser', 'NSDictionary<NSString *, id>*userDict': {
        '$': 'NSDictionary', 'pk': robin, 'full_name': 'Robin Park', 'username': 'robin.p'}}]}))
open(out + '/m1', 'wb').write(archive(message(robin, 1612345600, {'NSString*string': 'did you get the notes?'})))
open(out + '/m2', 'wb').write(archive(message(me, 1612345660, {'NSString*string': 'yes thanks'})))
open(out + '/m3', 'wb').write(archive(message(robin, 1612345720, {'IGDirectPublishedMessageMedia*media': {
    '$': 'IGDirectPublishedMessageMedia',
    'IGDirectPublishedMessagePermanentMedia*permanentMedia': {
        '$': 'IGDirectPublishedMessagePermanentMedia', 'IGPhoto*photo': {
            '$': 'IGPhoto', 'kIGPhotoMediaID': '2500000000000000001_17841400000000002'}}}})))
open(out + '/m4', 'wb').write(archive(message(robin, 1612345780, {
    'IGDirectThreadActivityAnnouncement*threadActivity': {
        '$': 'IGDirectThreadActivityAnnouncement', 'NSString*voipTitle': 'Video chat started',
        'NSString*videoCallId': '123'}})))
open(out + '/m5', 'wb').write(archive(message(robin, 1612345840, {'NSString*string': 'instagram message deleted later'})))
)");
  must_run("python3 " + shell_quote((work / "arch.py").string()) + " " +
           shell_quote(work.path().string()));
  auto file = [&](const char* n) { return "readfile(" + shell_quote((work / n).string()) + ")"; };
  std::string sql = R"(
PRAGMA secure_delete=OFF;
CREATE TABLE THREADS (ROW_ID INTEGER PRIMARY KEY, THREAD_ID TEXT UNIQUE, VIEWER_ID TEXT,
  METADATA BLOB);
CREATE TABLE MESSAGES (ROW_ID INTEGER PRIMARY KEY, MESSAGE_ID TEXT UNIQUE, THREAD_ID TEXT,
  ARCHIVE BLOB);
)";
  const std::string thread = "340282366841710300949128100000000001";
  sql += "INSERT INTO THREADS VALUES (1, '" + thread + "', '17841400000000001', " + file("thread") +
         ");\n";
  for (int k = 1; k <= 5; ++k)
    sql += "INSERT INTO MESSAGES VALUES (" + std::to_string(k) + ", 'mid." + std::to_string(k) +
           "', '" + thread + "', " + file(("m" + std::to_string(k)).c_str()) + ");\n";
  sql += "DELETE FROM MESSAGES WHERE ROW_ID = 5;\n";
  sqlite(ev / "direct.db", sql);
  auto run = extract(out.path(), {ev / "direct.db"});
  CHECK(run.results[0].app == "instagram");
  CHECK(run.results[0].errors.empty());
  auto live = of_db(run, "db1");
  REQUIRE(live.size() == 4);
  CHECK(live[0]["body"] == "did you get the notes?");
  CHECK(live[0]["direction"] == "received");
  CHECK(live[0]["sender"] == "17841400000000002 (Robin Park)");
  CHECK(live[0]["conversation"] == thread);
  CHECK(live[0]["timestamp"] == "2021-02-03T09:46:40Z");
  CHECK(live[1]["direction"] == "sent");
  CHECK(live[1]["sender"] == "");
  CHECK(live[1]["recipients"] == json::array({"17841400000000002 (Robin Park)"}));
  CHECK(live[2]["kind"] == "media");
  CHECK(live[2]["body"].is_null());
  CHECK(live[2]["attachments"] == json::array({"2500000000000000001_17841400000000002"}));
  CHECK(live[3]["kind"] == "call");
  auto rec = of_db(run, "db1", true);
  REQUIRE(rec.size() == 1);
  CHECK(rec[0]["body"] == "instagram message deleted later");
  CHECK(rec[0]["timestamp"] == "2021-02-03T09:50:40Z");
}
