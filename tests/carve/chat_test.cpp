// Chat readers: fixtures with known counts and fields, generated databases, WAL handling,
// recovery, and the evidence copies' hashes unchanged after every run.
#include "carve/chat/sqlite_db.hpp"
#include "carve/chat/sqlite_format.hpp"
#include "carve/chat/timestamp.hpp"
#include "carve/chat_contract.hpp"
#include "tests/common/support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>

using namespace vigil::test;
using namespace vigil::carve;
namespace fsys = std::filesystem;

namespace {

std::vector<nlohmann::json> read_jsonl(const fsys::path& p) {
  std::vector<nlohmann::json> out;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

// Copies fixture files into dir (the "evidence copy") and returns their SHA-256 by name.
std::map<std::string, std::string> copy_fixtures(const fsys::path& dir,
                                                 std::initializer_list<const char*> names) {
  std::map<std::string, std::string> hashes;
  for (auto n : names) {
    fsys::copy_file(*fixtures() / "chat" / n, dir / n);
    hashes[n] = sha256_file(dir / n);
  }
  return hashes;
}

void check_unchanged(const fsys::path& dir, const std::map<std::string, std::string>& hashes) {
  for (auto& [n, h] : hashes) {
    INFO(n);
    CHECK(sha256_file(dir / n) == h);
  }
  // No -wal/-shm/-journal created next to the copies.
  for (auto& e : fsys::directory_iterator(dir)) {
    INFO(e.path());
    CHECK(hashes.count(e.path().filename().string()) == 1);
  }
}

struct Run {
  std::vector<DatabaseResult> results;
  std::vector<nlohmann::json> messages;
  std::string csv;
};

// Runs one extractor over the databases (each with its -wal sibling when present).
Run extract(const fsys::path& outdir, const std::vector<fsys::path>& dbs,
            std::function<std::optional<std::string>(const std::string&)> resolve = nullptr) {
  ChatContext ctx;
  ctx.outdir = outdir;
  ctx.resolve_media = std::move(resolve);
  Run run;
  {
    ChatExtractor ex(ctx);
    int k = 0;
    for (auto& p : dbs) {
      DatabaseFound d;
      d.artefact_id = "db" + std::to_string(++k);
      d.db_path = "/data/" + p.filename().string();
      d.state = "allocated";
      d.file = p;
      if (fsys::exists(p.string() + "-wal")) d.wal = p.string() + "-wal";
      run.results.push_back(ex.process(d));
    }
    ex.finish();
  }
  run.messages = read_jsonl(outdir / "messages.jsonl");
  run.csv = read_text(outdir / "messages.csv");
  return run;
}

std::vector<nlohmann::json> of_db(const Run& r, const std::string& db, bool recovered = false) {
  std::vector<nlohmann::json> out;
  for (auto& m : r.messages)
    if (m["db"] == db && m["recovered"] == recovered) out.push_back(m);
  return out;
}

}  // namespace

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
  for (auto key : {"app", "db", "db_path", "table", "row", "conversation", "timestamp",
                   "direction", "sender", "recipients", "body", "attachments", "recovered"})
    CHECK(m.contains(key));
  CHECK(run.csv.rfind("app,db,db_path,table,row,conversation,timestamp,direction,sender,", 0) == 0);
  CHECK(run.csv.find("sms,db1,/data/mmssms.db,sms,1,1,2013-10-29T16:56:28.038Z,sent,,"
                     "1 555-521-5554,Yo Fred this is my new number.,,false,\r\n") !=
        std::string::npos);
  check_unchanged(ev.path(), hashes);
}

TEST_CASE("chat: WAL applied by hand into a private copy, evidence untouched", "[chat]") {
  if (skip_without_fixtures()) return;
  TempDir ev("chat-ev"), tmp("chat-tmp");
  auto hashes = copy_fixtures(ev.path(), {"wal_database.db", "wal_database.db-wal"});
  using namespace vigil::carve::chat;
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
  using namespace vigil::carve::chat;
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
}
