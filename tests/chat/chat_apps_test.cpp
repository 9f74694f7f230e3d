// Chat readers per app: the fixtures' known counts and fields, and generated databases of the
// schemas there are no fixtures for (WhatsApp both schemas, WhatsApp iOS, Telegram, Messenger,
// a foreign schema through the generic reader, an encrypted store).
#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>

#include "chat/reader.hpp"
#include "tests/chat/chat_support.hpp"
#include "tests/common/support.hpp"

using namespace safehold::test;
using namespace safehold::test::chat;
namespace fsys = std::filesystem;

namespace {

std::vector<std::string> bodies(const std::vector<nlohmann::json>& ms) {
  std::vector<std::string> out;
  for (auto& m : ms) out.push_back(m["body"].is_string() ? m["body"].get<std::string>() : "<null>");
  return out;
}

// The modern msgstore.db schema (the columns the readers of ALEAPP use, and more).
const char* kWhatsAppModern = R"(
PRAGMA secure_delete=OFF;
CREATE TABLE jid (_id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT, server TEXT, raw_string TEXT);
CREATE TABLE chat (_id INTEGER PRIMARY KEY AUTOINCREMENT, jid_row_id INTEGER UNIQUE, subject TEXT);
CREATE TABLE message (_id INTEGER PRIMARY KEY AUTOINCREMENT, chat_row_id INTEGER NOT NULL,
  from_me INTEGER NOT NULL, key_id TEXT NOT NULL, sender_jid_row_id INTEGER, status INTEGER,
  timestamp INTEGER, received_timestamp INTEGER, message_type INTEGER, text_data TEXT,
  starred INTEGER, sort_id INTEGER NOT NULL DEFAULT 0);
CREATE TABLE message_media (message_row_id INTEGER PRIMARY KEY, chat_row_id INTEGER,
  file_path TEXT, file_size INTEGER, mime_type TEXT, media_key BLOB);
INSERT INTO jid VALUES (1,'447700900001','s.whatsapp.net','447700900001@s.whatsapp.net'),
  (2,'447700900002','s.whatsapp.net','447700900002@s.whatsapp.net'),
  (3,'120363000000000001','g.us','120363000000000001@g.us');
INSERT INTO chat VALUES (1,1,NULL),(2,3,'Family');
INSERT INTO message VALUES
  (1,-1,0,'-1',NULL,-1,0,0,-1,NULL,0,0),
  (2,1,0,'K2',0,13,1700000000123,1700000000200,0,'Hi there',0,2),
  (3,1,1,'K3',0,13,1700000060000,1700000060000,0,'Hello back',0,3),
  (4,1,1,'K4',0,13,1700000120000,1700000120000,1,'look at this',0,4),
  (5,2,0,'K5',2,13,1700000180000,1700000180000,0,'group hello',0,5),
  (6,2,0,'K6',2,13,1700000240000,1700000240000,1,NULL,0,6),
  (7,1,0,'K7',0,13,1700000300000,1700000300000,0,'this one will be deleted',0,7),
  (8,1,1,'K8',0,13,1700000360000,1700000360000,0,'and this one too, deleted',0,8);
INSERT INTO message_media VALUES (4,1,'Media/WhatsApp Images/Sent/IMG-20231114-WA0001.jpg',1234,'image/jpeg',NULL),
  (6,2,'Media/WhatsApp Video/VID-20231114-WA0002.mp4',98765,'video/mp4',NULL);
DELETE FROM message WHERE _id IN (7,8);
)";

const char* kWhatsAppLegacy = R"(
PRAGMA secure_delete=OFF;
CREATE TABLE messages (_id INTEGER PRIMARY KEY AUTOINCREMENT, key_remote_jid TEXT NOT NULL,
  key_from_me INTEGER, key_id TEXT NOT NULL, status INTEGER, needs_push INTEGER, data TEXT,
  timestamp INTEGER, media_url TEXT, media_mime_type TEXT, media_wa_type TEXT, media_size INTEGER,
  media_name TEXT, media_caption TEXT, latitude REAL, longitude REAL, remote_resource TEXT,
  received_timestamp INTEGER, send_timestamp INTEGER, thumb_image TEXT);
CREATE TABLE chat_list (_id INTEGER PRIMARY KEY AUTOINCREMENT, key_remote_jid TEXT UNIQUE,
  message_table_id INTEGER, subject TEXT, creation INTEGER);
INSERT INTO messages (_id,key_remote_jid,key_from_me,key_id,status,data,timestamp,media_url,
  media_mime_type,media_wa_type,media_name,remote_resource) VALUES
  (1,'-1',0,'-1',-1,NULL,0,NULL,NULL,'0',NULL,NULL),
  (2,'447700900001@s.whatsapp.net',0,'A2',0,'legacy hello',1400000000000,NULL,NULL,'0',NULL,NULL),
  (3,'447700900001@s.whatsapp.net',1,'A3',13,'legacy reply',1400000005000,NULL,NULL,'0',NULL,NULL),
  (4,'120363000000000001@g.us',0,'A4',0,NULL,1400000010000,'https://mmg.whatsapp.net/x',
   'image/jpeg','1','IMG-20140513-WA0000.jpg','447700900002@s.whatsapp.net');
)";

}  // namespace

TEST_CASE("chat: iMessage fixture gives 10 messages, attributedBody when text is NULL", "[chat]") {
  if (skip_without_fixtures()) return;
  TempDir ev("chat-ev"), out("chat-out"), out2("chat-out"), work("chat-work");
  auto hashes = copy_fixtures(ev.path(), {"imessage_chat.db"});
  auto run = extract(out.path(), {ev / "imessage_chat.db"});
  CHECK(run.results[0].app == "imessage");
  CHECK(run.results[0].reader == "ios_messages");
  auto live = of_db(run, "db1");
  REQUIRE(live.size() == 10);
  CHECK(live[0]["timestamp"] == "2015-11-22T18:09:46Z");
  CHECK(live[0]["direction"] == "received");
  CHECK(live[0]["sender"] == "447775455555");
  CHECK(live[0]["conversation"] == "+447775446518");
  CHECK(live[1]["direction"] == "sent");
  CHECK(live[1]["body"] ==
        "Hi Eireanne, I would get one that has 8GB of ram. I would  wait until this Friday (Black "
        "Friday). I got mine this time last year. Hopefully there will be some good deals.");
  check_unchanged(ev.path(), hashes);

  // The same database with every text NULL: bodies come from the attributedBody typedstream.
  fsys::copy_file(ev / "imessage_chat.db", work / "sms.db");
  fsys::permissions(work / "sms.db", fsys::perms::owner_read | fsys::perms::owner_write);
  sqlite(work / "sms.db", "UPDATE message SET text = NULL;");
  auto run2 = extract(out2.path(), {work / "sms.db"});
  auto live2 = of_db(run2, "db1");
  REQUIRE(live2.size() == 10);
  // The fixture's attributedBody of rows 6 and 10 holds an earlier wording than text.
  auto expect = bodies(live);
  expect[9] = "Hi Eireanne, I've left a USB stick up at my Mum's with Microsoft Office on it.";
  auto got = bodies(live2);
  CHECK(got[5].rfind("It does have it\u2019s own \u2018office\u2019 software, but you can also "
                     "install Microsoft",
                     0) == 0);
  got[5] = expect[5];
  CHECK(got == expect);
}

TEST_CASE("chat: Skype 15, Kik 60 messages, contacts2.db is no chat database", "[chat]") {
  if (skip_without_fixtures()) return;
  TempDir ev("chat-ev"), out("chat-out");
  auto hashes = copy_fixtures(ev.path(), {"skype_main.db", "kik.sqlite", "contacts2.db"});
  auto run = extract(out.path(), {ev / "skype_main.db", ev / "kik.sqlite", ev / "contacts2.db"});
  REQUIRE(run.results.size() == 3);
  CHECK(run.results[0].app == "skype");
  CHECK(run.results[1].app == "kik");
  CHECK(run.results[2].app == "");
  CHECK(run.results[2].reader == "");
  CHECK(run.results[2].messages == 0);
  auto skype = of_db(run, "db1");
  REQUIRE(skype.size() == 15);
  CHECK(skype[0]["row"] == 39);
  CHECK(skype[0]["body"] == "yt?");
  CHECK(skype[0]["sender"] == "gen.beringer");
  CHECK(skype[0]["direction"] == "sent");
  CHECK(skype[0]["recipients"] == nlohmann::json::array({"european.bbq.competitor"}));
  CHECK(skype[0]["timestamp"] == "2013-07-30T21:26:28Z");
  CHECK(skype[13]["row"] == 61);
  CHECK(skype[13]["timestamp"].is_null());  // 13727168620 s: no real time
  auto kik = of_db(run, "db2");
  REQUIRE(kik.size() == 60);
  CHECK(kik[0]["sender"] == "kikteam");
  CHECK(kik[0]["direction"] == "received");
  CHECK(kik[0]["timestamp"] == "2015-06-29T08:46:12.024Z");
  CHECK(kik[1]["body"] == "Hello");
  CHECK(kik[1]["direction"] == "sent");
  CHECK(kik[1]["timestamp"] == "2015-06-29T12:26:11.584834Z");
  CHECK(of_db(run, "db3").empty());
  CHECK(of_db(run, "db3", true).empty());
  check_unchanged(ev.path(), hashes);
}

TEST_CASE("chat: WhatsApp Android modern schema with media and deleted rows", "[chat]") {
  TempDir ev("chat-ev"), out("chat-out");
  sqlite(ev / "msgstore.db", kWhatsAppModern);
  auto hashes = hash_dir(ev.path());
  auto run = extract(out.path(), {ev / "msgstore.db"}, [](const std::string& p) {
    return p.find("IMG-20231114-WA0001.jpg") != std::string::npos
               ? std::optional<std::string>("media-42")
               : std::nullopt;
  });
  CHECK(run.results[0].app == "whatsapp");
  CHECK(run.results[0].reader == "whatsapp_android");
  CHECK(run.results[0].errors.empty());
  auto live = of_db(run, "db1");
  REQUIRE(live.size() == 5);
  CHECK(live[0]["row"] == 2);
  CHECK(live[0]["body"] == "Hi there");
  CHECK(live[0]["timestamp"] == "2023-11-14T22:13:20.123Z");
  CHECK(live[0]["direction"] == "received");
  CHECK(live[0]["sender"] == "447700900001@s.whatsapp.net");
  CHECK(live[0]["conversation"] == "447700900001@s.whatsapp.net");
  CHECK(live[1]["direction"] == "sent");
  CHECK(live[1]["recipients"] == nlohmann::json::array({"447700900001@s.whatsapp.net"}));
  CHECK(live[2]["attachments"] == nlohmann::json::array({"media-42"}));  // resolved
  CHECK(live[3]["sender"] == "447700900002@s.whatsapp.net");             // group member
  CHECK(live[3]["conversation"] == "120363000000000001@g.us");
  CHECK(live[4]["body"].is_null());
  CHECK(live[4]["attachments"] ==
        nlohmann::json::array({"Media/WhatsApp Video/VID-20231114-WA0002.mp4"}));  // stored path
  auto rec = of_db(run, "db1", true);
  REQUIRE(rec.size() == 2);
  CHECK(run.results[0].recovered == 2);
  CHECK(run.results[0].messages == 7);
  std::vector<std::string> b = bodies(rec);
  std::sort(b.begin(), b.end());
  CHECK(b == std::vector<std::string>{"and this one too, deleted", "this one will be deleted"});
  for (auto& m : rec) {
    CHECK(m["recovered"] == true);
    CHECK(m["location"].get<std::string>().rfind("page ", 0) == 0);
    CHECK(m["conversation"] == "447700900001@s.whatsapp.net");
  }
  check_unchanged(ev.path(), hashes);
}

TEST_CASE("chat: WhatsApp Android legacy messages table", "[chat]") {
  TempDir ev("chat-ev"), out("chat-out");
  sqlite(ev / "msgstore.db", kWhatsAppLegacy);
  auto hashes = hash_dir(ev.path());
  auto run = extract(out.path(), {ev / "msgstore.db"});
  CHECK(run.results[0].reader == "whatsapp_android");
  auto live = of_db(run, "db1");
  REQUIRE(live.size() == 3);
  CHECK(live[0]["table"] == "messages");
  CHECK(live[0]["body"] == "legacy hello");
  CHECK(live[0]["timestamp"] == "2014-05-13T16:53:20Z");
  CHECK(live[0]["direction"] == "received");
  CHECK(live[1]["direction"] == "sent");
  CHECK(live[1]["recipients"] == nlohmann::json::array({"447700900001@s.whatsapp.net"}));
  CHECK(live[2]["sender"] == "447700900002@s.whatsapp.net");
  CHECK(live[2]["attachments"] == nlohmann::json::array({"IMG-20140513-WA0000.jpg"}));
  check_unchanged(ev.path(), hashes);
}

TEST_CASE("chat: WhatsApp iOS, Telegram, Messenger generated databases", "[chat]") {
  TempDir ev("chat-ev"), out("chat-out");
  sqlite(ev / "ChatStorage.sqlite", R"(
CREATE TABLE ZWACHATSESSION (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, ZCONTACTJID VARCHAR, ZPARTNERNAME VARCHAR);
CREATE TABLE ZWAMEDIAITEM (Z_PK INTEGER PRIMARY KEY, ZMESSAGE INTEGER, ZMEDIALOCALPATH VARCHAR, ZMEDIAURL VARCHAR);
CREATE TABLE ZWAMESSAGE (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, ZISFROMME INTEGER, ZCHATSESSION INTEGER,
  ZMEDIAITEM INTEGER, ZGROUPMEMBER INTEGER, ZMESSAGEDATE TIMESTAMP, ZTEXT VARCHAR, ZFROMJID VARCHAR, ZTOJID VARCHAR);
INSERT INTO ZWACHATSESSION VALUES (1, 1, '447700900003@s.whatsapp.net', 'Alex');
INSERT INTO ZWAMEDIAITEM VALUES (1, 2, 'Media/447700900003@s.whatsapp.net/a/b/photo.jpg', NULL);
INSERT INTO ZWAMESSAGE VALUES (1, 9, 0, 1, NULL, NULL, 721692800.5, 'ios hello', '447700900003@s.whatsapp.net', NULL),
  (2, 9, 1, 1, 1, NULL, 721692860, NULL, NULL, '447700900003@s.whatsapp.net');
)");
  // TL message: constructor, flags, id 10, peer user 12345, date, then the text as a TL string.
  sqlite(ev / "cache4.db", R"(
CREATE TABLE messages_v2(mid INTEGER, uid INTEGER, read_state INTEGER, send_state INTEGER, date INTEGER,
  data BLOB, out INTEGER, ttl INTEGER, media INTEGER, replydata BLOB, imp INTEGER, mention INTEGER,
  forwards INTEGER, replies_data BLOB, thread_reply_id INTEGER, is_channel INTEGER, PRIMARY KEY(mid, uid));
CREATE TABLE dialogs(did INTEGER PRIMARY KEY, date INTEGER, unread_count INTEGER, last_mid INTEGER);
CREATE TABLE users(uid INTEGER PRIMARY KEY, name TEXT, status INTEGER, data BLOB);
CREATE TABLE chats(uid INTEGER PRIMARY KEY, name TEXT, data BLOB);
INSERT INTO users VALUES (12345, 'Sam Doe;;;samdoe', 0, NULL);
INSERT INTO dialogs VALUES (12345, 1700000000, 0, 10);
INSERT INTO messages_v2 (mid, uid, read_state, send_state, date, data, out) VALUES
  (10, 12345, 1, 0, 1700000000, X'1e7b6f58000000000a000000c4bd5c9a3930000000f1535f0b48656c6c6f20776f726c6400000000', 0),
  (11, 12345, 1, 0, 1700000100, X'1e7b6f58000000000b000000c4bd5c9a3930000064f1535ffe0001004141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414100000000', 1);
)");
  sqlite(ev / "threads_db2", R"(
CREATE TABLE threads (thread_key TEXT PRIMARY KEY, name TEXT, participants TEXT);
CREATE TABLE messages (msg_id TEXT PRIMARY KEY, thread_key TEXT, action_id INTEGER, text TEXT,
  sender TEXT, timestamp_ms INTEGER, attachments TEXT, msg_type INTEGER);
INSERT INTO messages VALUES ('m1', 'ONE_TO_ONE:100:200', 1, 'messenger hi',
  '{"email":"200@facebook.com","user_key":"FACEBOOK:200","name":"Jo Bloggs"}', 1500000000000,
  '[{"id":"1","mime_type":"image/jpeg","filename":"image-123.jpg"}]', 0);
)");
  auto hashes = hash_dir(ev.path());
  auto run = extract(out.path(), {ev / "ChatStorage.sqlite", ev / "cache4.db", ev / "threads_db2"});
  REQUIRE(run.results.size() == 3);
  CHECK(run.results[0].reader == "whatsapp_ios");
  CHECK(run.results[1].reader == "telegram_android");
  CHECK(run.results[2].reader == "facebook_messenger");

  auto wa = of_db(run, "db1");
  REQUIRE(wa.size() == 2);
  CHECK(wa[0]["body"] == "ios hello");
  CHECK(wa[0]["timestamp"] == "2023-11-14T22:13:20.500Z");
  CHECK(wa[0]["sender"] == "447700900003@s.whatsapp.net");
  CHECK(wa[1]["direction"] == "sent");
  CHECK(wa[1]["attachments"] ==
        nlohmann::json::array({"Media/447700900003@s.whatsapp.net/a/b/photo.jpg"}));

  auto tg = of_db(run, "db2");
  REQUIRE(tg.size() == 2);
  CHECK(tg[0]["body"] == "Hello world");
  CHECK(tg[0]["timestamp"] == "2023-11-14T22:13:20Z");
  CHECK(tg[0]["sender"] == "12345 (Sam Doe)");
  CHECK(tg[0]["direction"] == "received");
  CHECK(tg[1]["body"] == std::string(256, 'A'));
  CHECK(tg[1]["direction"] == "sent");

  auto fb = of_db(run, "db3");
  REQUIRE(fb.size() == 1);
  CHECK(fb[0]["app"] == "messenger");
  CHECK(fb[0]["body"] == "messenger hi");
  CHECK(fb[0]["sender"] == "FACEBOOK:200 (Jo Bloggs)");
  CHECK(fb[0]["conversation"] == "ONE_TO_ONE:100:200");
  CHECK(fb[0]["timestamp"] == "2017-07-14T02:40:00Z");
  CHECK(fb[0]["attachments"] == nlohmann::json::array({"image-123.jpg"}));
  check_unchanged(ev.path(), hashes);
}

TEST_CASE("chat: a foreign schema goes through the generic reader", "[chat]") {
  TempDir ev("chat-ev"), out("chat-out");
  sqlite(ev / "app.db", R"(
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT);
INSERT INTO settings VALUES ('theme', 'dark');
CREATE TABLE chatlog (id INTEGER PRIMARY KEY, room TEXT, sender TEXT, recipient TEXT,
  sent_at INTEGER, message TEXT, outgoing INTEGER);
INSERT INTO chatlog VALUES (1, 'lobby', 'kim', 'lee', 1600000000000, 'generic one', 0),
  (2, 'lobby', 'lee', 'kim', 1600000001500, 'generic two', 1);
)");
  auto hashes = hash_dir(ev.path());
  auto run = extract(out.path(), {ev / "app.db"});
  CHECK(run.results[0].app == "generic");
  CHECK(run.results[0].reader == "generic");
  auto live = of_db(run, "db1");
  REQUIRE(live.size() == 2);
  CHECK(live[0]["app"] == "generic");
  CHECK(live[0]["table"] == "chatlog");
  CHECK(live[0]["body"] == "generic one");
  CHECK(live[0]["sender"] == "kim");
  CHECK(live[0]["recipients"] == nlohmann::json::array({"lee"}));
  CHECK(live[0]["conversation"] == "lobby");
  CHECK(live[0]["timestamp"] == "2020-09-13T12:26:40Z");
  CHECK(live[0]["direction"] == "received");
  CHECK(live[1]["timestamp"] == "2020-09-13T12:26:41.500Z");
  CHECK(live[1]["direction"] == "sent");
  check_unchanged(ev.path(), hashes);
}

TEST_CASE("chat: an encrypted store is reported as encrypted", "[chat]") {
  TempDir ev("chat-ev"), out("chat-out");
  must_run("head -c 65536 /dev/urandom > " + shell_quote((ev / "signal.db").string()));
  auto run = extract(out.path(), {ev / "signal.db"});
  CHECK(run.results[0].encrypted);
  CHECK(run.results[0].app == "signal");
  CHECK(run.results[0].reader == "encrypted");
  CHECK(run.results[0].messages == 0);
  CHECK(run.messages.empty());
}
