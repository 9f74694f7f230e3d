// base/: formatting, JSON output, SQLite ownership and task groups.
#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <stdexcept>

#include "base/format.hpp"
#include "base/hash.hpp"
#include "base/json.hpp"
#include "base/sqlite.hpp"
#include "base/task_group.hpp"
#include "base/version.hpp"
#include "tests/common/support.hpp"

using namespace safehold;

TEST_CASE("iso8601 formats UTC seconds with an optional trimmed fraction", "[base]") {
  CHECK(base::iso8601(0) == "1970-01-01T00:00:00Z");
  CHECK(base::iso8601(1700000000) == "2023-11-14T22:13:20Z");
  CHECK(base::iso8601(1700000000, 500000000) == "2023-11-14T22:13:20.5Z");
  CHECK(base::iso8601(-1) == "1969-12-31T23:59:59Z");
}

TEST_CASE("sha256_hex and to_hex give lowercase hex", "[base]") {
  CHECK(base::sha256_hex("abc") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const unsigned char b[] = {0x00, 0xab, 0xff};
  CHECK(base::to_hex(b, 3) == "00abff");
}

TEST_CASE("dump replaces invalid UTF-8 and printable escapes control characters", "[base]") {
  CHECK(base::dump(nlohmann::json("a\xff")) == "\"a\xef\xbf\xbd\"");
  CHECK(base::printable("a\x1b[31mb") == "a\\x1b[31mb");
}

TEST_CASE("sqlite_open names the input and SQLite's reason when it cannot open", "[base]") {
  test::TempDir dir("base-sqlite");
  auto missing = (dir.path() / "no" / "such.db").string();
  try {
    base::sqlite_open(missing, SQLITE_OPEN_READONLY, "queue database " + missing);
    FAIL("opened a database that does not exist");
  } catch (const base::SqliteError& e) {
    CHECK(std::string(e.what()) ==
          "queue database " + missing + ": cannot open as SQLite: unable to open database file");
    CHECK(e.code() == SQLITE_CANTOPEN);
  }
  auto db = base::sqlite_open((dir.path() / "ok.db").string(),
                              SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, "test db");
  base::sqlite_exec(db.get(), "create table t(a); insert into t values (41), (1);");
  auto st = base::sqlite_prepare(db.get(), "select sum(a) from t");
  REQUIRE(sqlite3_step(st.get()) == SQLITE_ROW);
  CHECK(sqlite3_column_int(st.get(), 0) == 42);
  CHECK_THROWS_WITH(base::sqlite_prepare(db.get(), "select * from nope"),
                    "SQLite cannot prepare \"select * from nope\": no such table: nope");
}

TEST_CASE("TaskGroup returns the first error as a value after joining every task", "[base]") {
  std::atomic<int> done{0};
  base::TaskGroup g;
  g.run([&] { ++done; });
  g.run([&] {
    ++done;
    throw std::runtime_error("volume 2 unreadable");
  });
  g.run([&] { ++done; });
  auto err = g.wait();
  CHECK(done == 3);
  REQUIRE(err.has_value());
  CHECK(*err == "volume 2 unreadable");
  base::TaskGroup ok;
  ok.run([] {});
  CHECK_FALSE(ok.wait().has_value());
}

TEST_CASE("the generated version header carries the project's version", "[base]") {
  CHECK(std::string(base::kName) == "safehold");
  CHECK(std::string(base::kVersion).find('.') != std::string::npos);
}
