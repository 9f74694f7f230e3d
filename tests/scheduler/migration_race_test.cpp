// Two processes opening a SQLite queue of an older schema at once: both find the columns of a
// later release missing, both wait for the write lock, and the second must not redo what the
// first did ("duplicate column name"). The test holds the write lock itself (sqlite3, BEGIN
// IMMEDIATE) until both processes are asleep in SQLite's busy wait (seen in
// /proc/PID/syscall: nanosleep or clock_nanosleep), so both have checked before either migrates,
// whatever the machine's speed.
#include <catch2/catch.hpp>

#include "tests/common/support.hpp"

using safehold::test::must_run;
using safehold::test::read_text;
using safehold::test::run;
using safehold::test::shell_quote;

TEST_CASE("migration: two processes open an old SQLite schema at once", "[scheduler][sqlite]") {
  if (run("command -v sqlite3").exit_code != 0) {
    WARN("skipped: sqlite3 (Debian package sqlite3) is not installed");
    return;
  }
  safehold::test::TempDir t("safehold-migrate");
  const std::string bin = shell_quote(safehold::test::safehold_binary());
  const std::string db = shell_quote((t / "q.db").string());
  must_run(bin + " queue init --db " + db);
  // The schema before devices.not_before, devices.examiner, devices.image and stations.
  must_run("sqlite3 " + db +
           " 'ALTER TABLE devices DROP COLUMN not_before; ALTER TABLE devices DROP COLUMN "
           "examiner; ALTER TABLE devices DROP COLUMN image; DROP TABLE stations;'");
  REQUIRE(must_run("sqlite3 " + db +
                   " \"SELECT count(*) FROM pragma_table_info('devices') WHERE "
                   "name IN ('not_before', 'examiner', 'image')\"") == "0\n");
  const std::string dir = shell_quote(t.path().string());
  const std::string script = R"(
set -u
d=)" + dir + R"(
mkfifo "$d/release"
( echo "BEGIN IMMEDIATE;"; echo ".print locked"; read -r _ < "$d/release"; echo "COMMIT;" ) |
  sqlite3 )" + db + R"( > "$d/lock.out" &
until grep -q locked "$d/lock.out"; do sleep 0.05; done
)" + bin + " queue list --state all --db " +
                             db + R"( > "$d/a.out" 2>&1 & a=$!
)" + bin + " queue list --state all --db " +
                             db + R"( > "$d/b.out" 2>&1 & b=$!
for p in $a $b; do
  while :; do
    s=$(cut -d' ' -f1 "/proc/$p/syscall" 2>/dev/null) || { echo "no /proc/$p/syscall"; break; }
    [ "$s" = 35 ] || [ "$s" = 230 ] && break
    kill -0 "$p" 2>/dev/null || break
    sleep 0.05
  done
done
echo go > "$d/release"
wait $a; echo "a=$?"
wait $b; echo "b=$?"
)";
  auto r = run(script);
  INFO(r.out << r.err << "\na: " << read_text(t / "a.out") << "\nb: " << read_text(t / "b.out"));
  REQUIRE(r.out.find("no /proc/") == std::string::npos);
  CHECK(r.out == "a=0\nb=0\n");
  for (const char* out : {"a.out", "b.out"})
    CHECK(read_text(t / out).rfind(" RANK  EXHIBIT", 0) == 0);
  CHECK(must_run("sqlite3 " + db +
                 " \"SELECT group_concat(name, ',') FROM (SELECT name FROM "
                 "pragma_table_info('devices') WHERE name IN ('not_before', "
                 "'examiner', 'image') ORDER BY name)\"") == "examiner,image,not_before\n");
  CHECK(must_run("sqlite3 " + db + " \"SELECT count(*) FROM stations\"") == "0\n");
}
