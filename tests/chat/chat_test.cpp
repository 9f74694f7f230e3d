// Chat readers: fixtures with known counts and fields, generated databases, WAL handling,
// recovery, and the evidence copies' hashes unchanged after every run.
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "base/json.hpp"
#include "chat/contract.hpp"
#include "chat/output.hpp"
#include "chat/sqlite_db.hpp"
#include "chat/sqlite_format.hpp"
#include "chat/timestamp.hpp"
#include "tests/chat/chat_support.hpp"
#include "tests/common/support.hpp"

using namespace safehold::test;
using namespace safehold::chat;
namespace fsys = std::filesystem;

using namespace safehold::test::chat;

TEST_CASE("chat: Android SMS fixture gives 9 messages with exact fields", "[chat]") {
  if (skip_without_fixtures()) return;
  TempDir ev("chat-ev"), out("chat-out");
  auto hashes = copy_fixtures(ev.path(), {"mmssms.db"});
  auto run = extract(out.path(), {ev / "mmssms.db"});
  REQUIRE(run.results.size() == 1);
  CHECK(run.results[0].app == "sms");
  CHECK(run.results[0].reader == "android_sms");
  CHECK(run.results[0].errors.empty());
  auto live = of_db(run, "db1");
  REQUIRE(live.size() == 9);
  auto& m = live[0];
  CHECK(m["app"] == "sms");
  CHECK(m["db_path"] == "/data/mmssms.db");
  CHECK(m["table"] == "sms");
  CHECK(m["row"] == 1);
  CHECK(m["timestamp"] == "2013-10-29T16:56:28.038Z");
  CHECK(m["direction"] == "sent");
  CHECK(m["recipients"] == nlohmann::json::array({"1 555-521-5554"}));
  CHECK(m["body"] == "Yo Fred this is my new number.");
  CHECK(m["attachments"] == nlohmann::json::array());
  CHECK(m["recovered"] == false);
  for (auto key : {"app", "db", "db_path", "table", "row", "conversation", "timestamp", "direction",
                   "kind", "sender", "recipients", "body", "attachments", "recovered"})
    CHECK(m.contains(key));
  // A UTF-8 BOM for spreadsheets, then the header.
  CHECK(run.csv.rfind("\xEF\xBB\xBF"
                      "app,db,db_path,table,row,conversation,timestamp,direction,sender,",
                      0) == 0);
  CHECK(run.csv.find("sms,db1,/data/mmssms.db,sms,1,1,2013-10-29T16:56:28.038Z,sent,,"
                     "1 555-521-5554,Yo Fred this is my new number.,,false,,text,\r\n") !=
        std::string::npos);
  check_unchanged(ev.path(), hashes);
}

TEST_CASE("chat: WAL applied by hand into a private copy, evidence untouched", "[chat]") {
  if (skip_without_fixtures()) return;
  TempDir ev("chat-ev"), tmp("chat-tmp");
  auto hashes = copy_fixtures(ev.path(), {"wal_database.db", "wal_database.db-wal"});
  using namespace safehold::chat;
  {
    Db plain(ev / "wal_database.db");
    CHECK_FALSE(plain.schema().has("NewTable"));
    Stmt st = plain.prepare("SELECT count(*) FROM MyTable");
    REQUIRE(st.step());
    CHECK(st.int_at(0) == 10);
  }
  std::string wal_bytes = read_file_bytes(ev / "wal_database.db-wal");
  Wal wal = read_wal(wal_bytes);
  CHECK(wal.error.empty());
  CHECK(wal.page_size == 1024);
  REQUIRE(wal.db_pages > 0);
  CHECK(apply_wal(ev / "wal_database.db", wal_bytes, wal, tmp / "applied.db") > 0);
  {
    Db db(tmp / "applied.db");
    CHECK(db.schema().has("NewTable"));
    Stmt st = db.prepare("SELECT count(*) FROM MyTable");
    REQUIRE(st.step());
    CHECK(st.int_at(0) == 11);
    Stmt nt = db.prepare("SELECT count(*) FROM NewTable");
    REQUIRE(nt.step());
    CHECK(nt.int_at(0) == 0);
  }
  // A WAL whose checksum breaks in its first frame applies nothing.
  std::string bad = wal_bytes;
  bad[32 + 24 + 100] ^= 0x55;
  Wal broken = read_wal(bad);
  CHECK(broken.db_pages == 0);
  // Through the extractor: no chat schema, no error, evidence unchanged, no temp left behind.
  TempDir out("chat-out");
  auto run = extract(out.path(), {ev / "wal_database.db"});
  CHECK(run.results[0].errors.empty());
  check_unchanged(ev.path(), hashes);
  for (auto& e : fsys::directory_iterator(out.path()))
    CHECK(e.path().filename().string().rfind(".chat-tmp", 0) != 0);
}

TEST_CASE("chat: a corrupt database gives an error for that database only", "[chat]") {
  if (skip_without_fixtures()) return;
  TempDir ev("chat-ev"), out("chat-out");
  auto hashes = copy_fixtures(ev.path(), {"mmssms.db"});
  // A SQLite header followed by garbage pages.
  std::string junk = read_text(ev / "mmssms.db").substr(0, 100);
  junk += std::string(4096 - 100, '\x5a');
  write_text(ev / "corrupt.db", junk);
  hashes["corrupt.db"] = sha256_file(ev / "corrupt.db");
  auto run = extract(out.path(), {ev / "corrupt.db", ev / "mmssms.db"});
  REQUIRE(run.results.size() == 2);
  CHECK_FALSE(run.results[0].errors.empty());
  CHECK(run.results[0].messages == 0);
  CHECK(run.results[1].errors.empty());
  CHECK(run.results[1].messages == 9);
  CHECK(of_db(run, "db2").size() == 9);
  check_unchanged(ev.path(), hashes);
}

TEST_CASE("chat: timestamps recognised per column", "[chat]") {
  using namespace safehold::chat;
  auto iso = [](long double v, Epoch hint) {
    return format_time(v, detect_scale({v}, hint)).value_or("none");
  };
  CHECK(iso(1383065788038, Epoch::Unix) == "2013-10-29T16:56:28.038Z");
  CHECK(iso(1383065788, Epoch::Unix) == "2013-10-29T16:56:28Z");
  CHECK(iso(1383065788038000, Epoch::Unix) == "2013-10-29T16:56:28.038Z");
  CHECK(iso(1383065788038000000LL, Epoch::Unix) == "2013-10-29T16:56:28.038Z");
  CHECK(iso(404758588, Epoch::Cocoa) == "2013-10-29T16:56:28Z");
  CHECK(iso(404758588000000000LL, Epoch::Cocoa) == "2013-10-29T16:56:28Z");
  CHECK(iso(13027539388038000LL, Epoch::WebKit) == "2013-10-29T16:56:28.038Z");
  CHECK(iso(13027539388038000LL, Epoch::Any) == "2013-10-29T16:56:28.038Z");
  CHECK(iso(0, Epoch::Unix) == "none");
  // Regression: a Skype fixture row holds 13727168620 (year 2405); it once overflowed the
  // nanosecond count into 1677. Times outside 1678..2262 are null.
  CHECK_FALSE(format_time(13727168620.0L, TimeScale{Epoch::Unix, Unit::S}).has_value());
}

TEST_CASE("chat: rows superseded in the WAL are recovered with their frame", "[chat]") {
  TempDir work("chat-work"), ev("chat-ev"), out("chat-out");
  // The shell keeps its connection open while copying, so the WAL is never checkpointed.
  sqlite(work / "live.db", R"(
PRAGMA journal_mode=WAL;
PRAGMA wal_autocheckpoint=0;
PRAGMA secure_delete=OFF;
CREATE TABLE sms (_id INTEGER PRIMARY KEY, thread_id INTEGER, address TEXT, date INTEGER, type INTEGER, body TEXT);
INSERT INTO sms VALUES (1, 1, '+15550001', 1600000000000, 1, 'first in wal');
INSERT INTO sms VALUES (2, 1, '+15550001', 1600000001000, 2, 'second in wal');
INSERT INTO sms VALUES (3, 1, '+15550001', 1600000002000, 1, 'third, soon deleted');
DELETE FROM sms WHERE _id = 3;
UPDATE sms SET body = 'second, edited' WHERE _id = 2;
.system cp )" + shell_quote((work / "live.db").string()) +
                               " " + shell_quote((ev / "mmssms.db").string()) + " && cp " +
                               shell_quote((work / "live.db-wal").string()) + " " +
                               shell_quote((ev / "mmssms.db-wal").string()) + "\n");
  REQUIRE(fsys::exists(ev / "mmssms.db-wal"));
  auto hashes = hash_dir(ev.path());
  auto run = extract(out.path(), {ev / "mmssms.db"});
  CHECK(run.results[0].errors.empty());
  auto live = of_db(run, "db1");
  REQUIRE(live.size() == 2);
  CHECK(live[0]["body"] == "first in wal");
  CHECK(live[1]["body"] == "second, edited");
  auto rec = of_db(run, "db1", true);
  REQUIRE(rec.size() == 2);
  CHECK(rec[0]["body"] == "second in wal");
  CHECK(rec[0]["row"] == 2);
  CHECK(rec[1]["body"] == "third, soon deleted");
  CHECK(rec[1]["row"] == 3);
  CHECK(rec[1]["sender"] == "+15550001");
  for (auto& m : rec) CHECK(m["location"].get<std::string>().rfind("wal frame ", 0) == 0);
  check_unchanged(ev.path(), hashes);
}

TEST_CASE("chat: SQLite record decoding", "[chat]") {
  using namespace safehold::chat;
  const uint8_t v1[] = {0x7f};
  uint64_t out = 0;
  CHECK(read_varint(v1, v1 + 1, out) == 1);
  CHECK(out == 127);
  const uint8_t v2[] = {0x81, 0x00};
  CHECK(read_varint(v2, v2 + 2, out) == 2);
  CHECK(out == 128);
  const uint8_t v9[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  CHECK(read_varint(v9, v9 + 9, out) == 9);
  CHECK(out == ~uint64_t{0});
  CHECK(read_varint(v2, v2 + 1, out) == 0);  // truncated
  CHECK(serial_size(6) == 8);
  CHECK(serial_size(13) == 0);
  CHECK(serial_size(19) == 3);
  CHECK(serial_size(10) == -1);
  const uint8_t neg[] = {0xff, 0xfe};
  CHECK(decode_value(2, neg).i == -2);
  const uint8_t i48[] = {0x01, 0x74, 0x87, 0x71, 0x71, 0xe8};
  CHECK(decode_value(5, i48).i == 0x174877171e8LL);
  const uint8_t txt[] = {'a', 'b', 'c'};
  CHECK(decode_value(19, txt).s == "abc");
  CHECK(decode_value(19, txt).type == Value::Type::Text);
  CHECK(decode_value(9, txt).i == 1);
}

TEST_CASE("chat: JSON strings are written exactly as base::dump writes them", "[chat]") {
  using namespace safehold::chat;
  std::vector<std::string> cases = {"",
                                    "plain",
                                    "quote \" backslash \\ slash /",
                                    "tab\tnl\ncr\rbs\bff\f",
                                    std::string("nul\0x", 5),
                                    "\x01\x1f\x7f",
                                    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x8a",
                                    "bad \xff byte",
                                    "cut \xe2\x82",
                                    "overlong \xc0\xaf",
                                    "surrogate \xed\xa0\x80",
                                    "high \xf4\x90\x80\x80",
                                    "\xc3"};
  for (auto& s : cases) {
    INFO(s);
    std::string a;
    append_json_string(a, s);
    CHECK(a == safehold::base::dump(nlohmann::json(s)));
  }
}

TEST_CASE("chat: page images in a persisted rollback journal are mined, never rolled back",
          "[chat]") {
  TempDir ev("chat-ev"), out("chat-out");
  // secure_delete wipes the row from the database itself: only the journal still has it.
  sqlite(ev / "mmssms.db", R"(
CREATE TABLE sms (_id INTEGER PRIMARY KEY, thread_id INTEGER, address TEXT, date INTEGER, type INTEGER, body TEXT);
INSERT INTO sms VALUES (1, 1, '+15550001', 1600000000000, 1, 'kept message');
INSERT INTO sms VALUES (2, 1, '+15550001', 1600000001000, 2, 'wiped, but journalled');
PRAGMA journal_mode=PERSIST;
PRAGMA secure_delete=ON;
DELETE FROM sms WHERE _id = 2;
)");
  REQUIRE(fsys::exists(ev / "mmssms.db-journal"));
  auto hashes = hash_dir(ev.path());
  auto run = extract(out.path(), {ev / "mmssms.db"});
  auto live = of_db(run, "db1");
  REQUIRE(live.size() == 1);
  CHECK(live[0]["body"] == "kept message");
  auto rec = of_db(run, "db1", true);
  REQUIRE(rec.size() == 1);
  CHECK(rec[0]["body"] == "wiped, but journalled");
  CHECK(rec[0]["row"] == 2);
  CHECK(rec[0]["location"].get<std::string>().rfind("journal record ", 0) == 0);
  check_unchanged(ev.path(), hashes);
}
