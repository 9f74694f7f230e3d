// Readers for Google Voice iOS, Truth Social iOS, Tango, Badoo and Tinder Android, Threema and
// Wickr iOS, on databases built with the tables and columns iLEAPP's and ALEAPP's parsers read
// (Google Voice and Truth Social: the tables as the public test databases declare them),
// synthetic rows, and one row per database deleted with secure_delete off (recovered through the
// shared page recovery).
#include <catch2/catch.hpp>

#include "tests/chat/chat_support.hpp"
#include "tests/common/support.hpp"

using namespace safehold::test;
using namespace safehold::test::chat;
using nlohmann::json;

namespace {

std::vector<std::string> bodies(const std::vector<json>& ms) {
  std::vector<std::string> out;
  for (auto& m : ms) out.push_back(m["body"].is_string() ? m["body"].get<std::string>() : "<null>");
  return out;
}

std::vector<std::string> field(const std::vector<json>& ms, const char* key) {
  std::vector<std::string> out;
  for (auto& m : ms) out.push_back(m[key].is_string() ? m[key].get<std::string>() : "<null>");
  return out;
}

}  // namespace

TEST_CASE("chat: Google Voice iOS threadingStore: item types, threads, MMS, voicemail", "[chat]") {
  TempDir work("chat-work"), ev("chat-ev"), out("chat-out");
  // The tables as iLEAPP's googleVoice test database (iOS 17) declares them (foreign keys left
  // out: sqlite3 does not enforce them here).
  sqlite(work / "threadingStore.sqlite", R"(
PRAGMA secure_delete=OFF;
CREATE TABLE Participant(phoneNumberE164 TEXT NOT NULL, isBlocked INTEGER NOT NULL,
  PRIMARY KEY(phoneNumberE164));
CREATE TABLE Thread(threadKey TEXT NOT NULL, threadType INTEGER NOT NULL, isUnread INTEGER NOT
  NULL, isText INTEGER NOT NULL, timestamp REAL NOT NULL, syncTimestamp REAL, isDeleted INTEGER
  NOT NULL, groupName TEXT, isSuspectedSpam INTEGER NOT NULL,
  groupSMSSuspectedSpamParticipantsE164Strings TEXT NOT NULL, PRIMARY KEY(threadKey,threadType));
CREATE TABLE ThreadItem(threadItemKey TEXT NOT NULL, threadFragmentID TEXT, threadItemType
  INTEGER NOT NULL, sortID INTEGER NOT NULL, remoteThreadItemID TEXT, remoteThreadID TEXT,
  isUnread INTEGER NOT NULL, messageText TEXT, senderPhoneNumber TEXT, sendingState INTEGER,
  failureReason INTEGER NOT NULL, messageID INTEGER NOT NULL, isSystemMessage INTEGER NOT NULL,
  isDeleted INTEGER NOT NULL, ringGroupName TEXT, ringGroupPhoneNumber TEXT, transferredFromE164
  TEXT, transferredToE164 TEXT, warmingCallFromE164 TEXT, duration REAL NOT NULL, timestamp REAL
  NOT NULL, syncTimestamp REAL, itemType TEXT NOT NULL, threadKey TEXT, threadType INTEGER,
  dndStatus INTEGER, PRIMARY KEY(threadItemKey,threadItemType));
CREATE TABLE ThreadParticipant(phoneNumberE164 TEXT NOT NULL, threadKey TEXT NOT NULL,
  threadType INTEGER NOT NULL, PRIMARY KEY(phoneNumberE164,threadKey,threadType));
CREATE TABLE MMSAttachmentInfo(attachmentKey TEXT NOT NULL, mediaType INTEGER NOT NULL,
  threadItemKey TEXT NOT NULL, threadItemType INTEGER NOT NULL, attachmentInfoStatus INTEGER NOT
  NULL, attachmentSource INTEGER NOT NULL, PRIMARY KEY(attachmentKey,attachmentSource));
CREATE TABLE FileAttachmentInfo(attachmentName TEXT, byteCount INTEGER NOT NULL, attachmentKey
  TEXT NOT NULL, attachmentSource INTEGER NOT NULL);
CREATE TABLE Transcript(threadItemKey TEXT NOT NULL, threadItemType INTEGER NOT NULL, text TEXT
  NOT NULL, confidence REAL NOT NULL, status INTEGER NOT NULL,
  PRIMARY KEY(threadItemKey,threadItemType));
INSERT INTO Participant VALUES ('+19195550101', 0), ('+19195550102', 0), ('+19195550103', 0);
INSERT INTO Thread VALUES ('c.PCIFEYR2YLJIF', 1, 0, 1, 1704739685.857, NULL, 0, NULL, 0, ''),
  ('c.GRP7Q2', 1, 0, 1, 1704740100, NULL, 0, 'Soccer parents', 0, '');
INSERT INTO ThreadParticipant VALUES ('+19195550101', 'c.PCIFEYR2YLJIF', 1),
  ('+19195550102', 'c.GRP7Q2', 1), ('+19195550103', 'c.GRP7Q2', 1);
INSERT INTO ThreadItem (threadItemKey, threadItemType, sortID, isUnread, messageText,
  senderPhoneNumber, failureReason, messageID, isSystemMessage, isDeleted, duration, timestamp,
  itemType, threadKey, threadType) VALUES
  ('a01', 1, 1, 0, 'are you home?', '+19195550101', 0, 1, 0, 0, 0, 1704739685.857, 'SmsIn',
   'c.PCIFEYR2YLJIF', 1),
  ('a02', 1, 2, 0, 'yes, come over', '+19195550199', 0, 2, 0, 0, 0, 1704739745.0, 'SmsOut',
   'c.PCIFEYR2YLJIF', 1),
  ('a03', 1, 3, 1, NULL, '+19195550101', 0, 3, 0, 0, 12.0, 1704739800.25, 'MissedCall',
   'c.PCIFEYR2YLJIF', 1),
  ('a04', 1, 4, 1, NULL, '+19195550101', 0, 4, 0, 0, 9.0, 1704739900.0, 'Voicemail',
   'c.PCIFEYR2YLJIF', 1),
  ('a05', 1, 5, 0, NULL, '+19195550102', 0, 5, 0, 0, 0, 1704740000.5, 'SmsIn', 'c.GRP7Q2', 1),
  ('a06', 1, 6, 0, 'see you at practice', '+19195550199', 0, 6, 0, 0, 0, 1704740100, 'SmsOut',
   'c.GRP7Q2', 1),
  ('a07', 1, 7, 0, 'google voice text then deleted', '+19195550101', 0, 7, 0, 0, 0, 1704740200,
   'SmsIn', 'c.PCIFEYR2YLJIF', 1);
INSERT INTO MMSAttachmentInfo VALUES ('a05-1', 1, 'a05', 1, 0, 1);
INSERT INTO FileAttachmentInfo VALUES ('IMG_0001.jpg', 48213, 'a05-1', 1);
INSERT INTO Transcript VALUES ('a04', 1, 'Hi, call me back when you can.', 0.93, 0);
)");
  // The row is deleted in WAL mode, and the database copied with its WAL while the connection is
  // open (as from a running phone): the main file's page keeps the whole cell. A cell freed in
  // place loses its first serial type (threadItemKey's) to the freeblock header, and the shared
  // recovery cannot place the record without it (see docs/chat.md).
  write_text(work / "del.py",
             "import sqlite3, shutil, sys\n"
             "src, dst = sys.argv[1], sys.argv[2]\n"
             "con = sqlite3.connect(src)\n"
             "con.execute('PRAGMA journal_mode=WAL')\n"
             "con.execute('PRAGMA wal_autocheckpoint=0')\n"
             "con.execute(\"DELETE FROM ThreadItem WHERE threadItemKey = 'a07'\")\n"
             "con.commit()\n"
             "shutil.copy(src, dst)\n"
             "shutil.copy(src + '-wal', dst + '-wal')\n"
             "con.close()\n");
  must_run("python3 " + shell_quote((work / "del.py").string()) + " " +
           shell_quote((work / "threadingStore.sqlite").string()) + " " +
           shell_quote((ev / "threadingStore.sqlite").string()));
  auto run = extract(out.path(), {ev / "threadingStore.sqlite"});
  REQUIRE(run.results.size() == 1);
  CHECK(run.results[0].app == "google_voice");
  CHECK(run.results[0].reader == "google_voice_ios");
  CHECK(run.results[0].errors.empty());
  auto live = of_db(run, "db1");
  REQUIRE(live.size() == 6);
  CHECK(bodies(live) == std::vector<std::string>{"are you home?", "yes, come over", "<null>",
                                                 "Hi, call me back when you can.", "<null>",
                                                 "see you at practice"});
  CHECK(field(live, "kind") ==
        std::vector<std::string>{"text", "text", "call", "call", "media", "text"});
  CHECK(field(live, "direction") ==
        std::vector<std::string>{"received", "sent", "received", "received", "received", "sent"});
  CHECK(field(live, "sender") == std::vector<std::string>{"+19195550101", "", "+19195550101",
                                                          "+19195550101", "+19195550102", ""});
  CHECK(live[0]["conversation"] == "+19195550101");
  CHECK(live[0]["timestamp"] == "2024-01-08T18:48:05.857Z");
  CHECK(live[1]["timestamp"] == "2024-01-08T18:49:05Z");
  CHECK(live[1]["recipients"] == json::array({"+19195550101"}));
  CHECK(live[2]["timestamp"] == "2024-01-08T18:50:00.250Z");
  CHECK(live[4]["conversation"] == "Soccer parents");
  CHECK(live[4]["attachments"] == json::array({"a05-1 (IMG_0001.jpg)"}));
  CHECK(live[5]["recipients"] == json::array({"+19195550102", "+19195550103"}));
  auto rec = of_db(run, "db1", true);
  REQUIRE(rec.size() == 1);
  CHECK(rec[0]["body"] == "google voice text then deleted");
  CHECK(rec[0]["direction"] == "received");
  CHECK(rec[0]["sender"] == "+19195550101");
  CHECK(rec[0]["conversation"] == "+19195550101");
  CHECK(rec[0]["timestamp"] == "2024-01-08T18:56:40Z");
  CHECK(rec[0]["recovered_from"] == "wal");
}

TEST_CASE("chat: Truth Social iOS ChatModel: HTML bodies, owner, events, attachments", "[chat]") {
  TempDir ev("chat-ev"), out("chat-out");
  // The Core Data tables as iLEAPP's truthSocial test database declares them (its triggers call
  // Core Data functions sqlite3 does not have, and are left out).
  sqlite(ev / "ChatModel.sqlite", R"(
PRAGMA secure_delete=OFF;
CREATE TABLE ZMANAGEDEVENTBASE ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZCHAT
  INTEGER, ZMESSAGEEXPIRATION INTEGER, ZFAILEDTOSEND INTEGER, ZISHIDDEN INTEGER, ZISUNREAD
  INTEGER, ZTTL INTEGER, ZLASTMESSAGECHAT INTEGER, ZCREATEDAT TIMESTAMP, ZCHATID VARCHAR,
  ZEVENTID VARCHAR, ZTYPE VARCHAR, ZCHANGEDBYACCOUNTID VARCHAR, ZBUTTONTEXT VARCHAR, ZTEXT
  VARCHAR, ZINVITEDACCOUNTID VARCHAR, ZINVITEDBYACCOUNTID VARCHAR, ZACCOUNTID VARCHAR,
  ZACCOUNTID1 VARCHAR, ZCONTENT VARCHAR, ZIDEMPOTENCYKEY VARCHAR, ZMESSAGEID VARCHAR, ZURL
  VARCHAR );
CREATE TABLE ZMANAGEDCHAT ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZISACCEPTED
  INTEGER, ZISBLOCKED INTEGER, ZISBLOCKING INTEGER, ZISHIDDEN INTEGER, ZISSILENCED INTEGER,
  ZISSYNCBACKWARDCOMPLETE INTEGER, ZMESSAGETTL INTEGER, ZUNREADCOUNT INTEGER, ZLASTMESSAGE
  INTEGER, ZOTHERACCOUNT INTEGER, ZCREATEDAT TIMESTAMP, ZLASTACTIVITYDATE TIMESTAMP, ZLASTREADAT
  TIMESTAMP, ZLASTSYNCDATE TIMESTAMP, ZAVATARURL VARCHAR, ZCREATEDBYACCOUNT VARCHAR,
  ZLASTEVENTSYNCIDBACKWARD VARCHAR, ZLASTEVENTSYNCIDFORWARD VARCHAR, ZOTHERACCOUNTID VARCHAR,
  ZOWNEDBYACCOUNTID VARCHAR, ZSERVERID VARCHAR, ZTYPE VARCHAR );
CREATE TABLE ZMANAGEDACCOUNT ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER,
  ZISVERIFIED INTEGER, ZACCT VARCHAR, ZAVATARSTATIC VARCHAR, ZDISPLAYNAME VARCHAR, ZSERVERID
  VARCHAR );
CREATE TABLE ZMANAGEDATTACHMENT ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER,
  ZMESSAGE INTEGER, Z_FOK_MESSAGE INTEGER, ZATTACHMENTID VARCHAR, ZBLURHASH VARCHAR,
  ZEXTERNALVIDEOID VARCHAR, ZTYPE VARCHAR, ZPREVIEWURL VARCHAR, ZREMOTEURL VARCHAR, ZURL VARCHAR,
  ZMETADATA BLOB );
INSERT INTO ZMANAGEDACCOUNT (Z_PK, Z_ENT, ZACCT, ZDISPLAYNAME, ZSERVERID) VALUES
  (1, 1, 'marco_p', 'Marco P', '110000000000000002');
INSERT INTO ZMANAGEDCHAT (Z_PK, Z_ENT, ZOTHERACCOUNT, ZOTHERACCOUNTID, ZOWNEDBYACCOUNTID,
  ZSERVERID, ZTYPE) VALUES (1, 3, 1, '110000000000000002', '110000000000000001', '239', NULL);
INSERT INTO ZMANAGEDEVENTBASE (Z_PK, Z_ENT, ZCHAT, ZCREATEDAT, ZCHATID, ZTYPE, ZACCOUNTID,
  ZACCOUNTID1, ZCONTENT, ZMESSAGEID) VALUES
  (1, 5, 1, 743361000, '239', 'chatCreated', NULL, NULL, NULL, NULL),
  (2, 9, 1, 743361050, '239', 'memberJoined', '110000000000000002', NULL, NULL, NULL),
  (3, 10, 1, 743361097.157, '239', 'message', NULL, '110000000000000001',
   '<p>What’s up?! &nbsp;Again. 🤣</p>', '68331701'),
  (4, 10, 1, 743361208.5, '239', 'message', NULL, '110000000000000002',
   '<p>Line one</p><p>Line &amp; two&#33;</p>', '68331945'),
  (5, 10, 1, 743361388.848, '239', 'message', NULL, '110000000000000002', NULL, '68332345'),
  (6, 10, 1, 743361400, '239', 'message', NULL, '110000000000000001',
   '<p>truth social message then deleted</p>', '68332400'),
  (7, 10, 1, 743361500, '239', 'localEcho', NULL, '110000000000000001',
   'sending <now> &amp; then ', NULL);
INSERT INTO ZMANAGEDATTACHMENT (Z_PK, Z_ENT, ZMESSAGE, ZTYPE, ZURL) VALUES (1, 2, 5, 'image',
  'https://static-assets-1.truthsocial.com/media_attachments/files/112/original/fcec9bce.png');
DELETE FROM ZMANAGEDEVENTBASE WHERE Z_PK = 6;
)");
  auto run = extract(out.path(), {ev / "ChatModel.sqlite"});
  REQUIRE(run.results.size() == 1);
  CHECK(run.results[0].app == "truth_social");
  CHECK(run.results[0].reader == "truth_social_ios");
  CHECK(run.results[0].errors.empty());
  auto live = of_db(run, "db1");
  REQUIRE(live.size() == 6);
  CHECK(bodies(live) == std::vector<std::string>{"<null>", "<null>", "What’s up?!  Again. 🤣",
                                                 "Line one\nLine & two!", "<null>",
                                                 "sending <now> &amp; then "});
  CHECK(field(live, "kind") ==
        std::vector<std::string>{"system", "system", "text", "text", "media", "text"});
  CHECK(field(live, "direction") ==
        std::vector<std::string>{"unknown", "unknown", "sent", "received", "received", "sent"});
  const std::string marco = "110000000000000002 (Marco P @marco_p)";
  CHECK(field(live, "sender") == std::vector<std::string>{"unknown", marco, "", marco, marco, ""});
  CHECK(live[2]["conversation"] == "239 (" + marco + ")");
  CHECK(live[2]["recipients"] == json::array({marco}));
  CHECK(live[2]["timestamp"] == "2024-07-22T17:11:37.157Z");
  CHECK(live[4]["attachments"] ==
        json::array({"https://static-assets-1.truthsocial.com/media_attachments/files/112/original/"
                     "fcec9bce.png"}));
  auto rec = of_db(run, "db1", true);
  REQUIRE(rec.size() == 1);
  CHECK(rec[0]["body"] == "truth social message then deleted");
  CHECK(rec[0]["direction"] == "sent");
  CHECK(rec[0]["timestamp"] == "2024-07-22T17:16:40Z");
}

// iLEAPP's public test databases (abrignoni/iLEAPP 423798fa, admin/test/cases/data/googleVoice/
// and truthSocial/ josh_ios17_ffs zips), when placed under $SAFEHOLD_FIXTURES/chat/ileapp/: they
// are third-party files and not in the repository, so the test is skipped without them.
TEST_CASE("chat: iLEAPP's Google Voice and Truth Social test databases, when present", "[chat]") {
  auto fx = fixtures();
  const char* names[] = {"threadingStore.sqlite", "ChatModel.sqlite", "ChatModel.sqlite-wal"};
  for (auto n : names)
    if (!fx || !std::filesystem::exists(*fx / "chat" / "ileapp" / n)) {
      WARN("skipped: chat/ileapp/ fixtures (iLEAPP's test databases) not present");
      return;
    }
  TempDir ev("chat-ev"), out("chat-out");
  std::filesystem::create_directories(ev / "gv");
  std::filesystem::create_directories(ev / "ts");
  std::filesystem::copy_file(*fx / "chat" / "ileapp" / names[0], ev / "gv" / names[0]);
  for (auto n : {names[1], names[2]})
    std::filesystem::copy_file(*fx / "chat" / "ileapp" / n, ev / "ts" / n);
  auto hashes = hash_dir(ev / "ts");
  auto run = extract(out.path(), {ev / "gv" / names[0], ev / "ts" / names[1]});
  REQUIRE(run.results.size() == 2);
  CHECK(run.results[0].reader == "google_voice_ios");
  CHECK(run.results[0].messages == 153);
  CHECK(run.results[0].recovered == 1);
  CHECK(run.results[1].reader == "truth_social_ios");
  CHECK(run.results[1].messages == 52);
  CHECK(run.results[1].recovered == 34);
  auto gv = of_db(run, "db1", true);
  REQUIRE(gv.size() == 1);
  CHECK(gv[0]["body"] == "Here is your bad message. Take care to delete it.");
  CHECK(gv[0]["sender"] == "+19104773625");
  CHECK(gv[0]["timestamp"] == "2024-02-27T16:14:38.795Z");
  auto ts = of_db(run, "db2");
  REQUIRE(ts.size() == 18);
  CHECK(ts[5]["body"] == "What’s up?!  Again. 🤣");
  CHECK(ts[5]["direction"] == "sent");
  check_unchanged(ev / "ts", hashes);
}
