#include "tests/report/sample.hpp"

namespace safehold::test {

SampleExhibit make_sample_exhibit(const std::filesystem::path& dir) {
  namespace fsys = std::filesystem;
  auto q = [](const fsys::path& p) { return shell_quote(p.string()); };
  const fsys::path root = dir / "root";
  fsys::create_directories(root / "DCIM");
  fsys::create_directories(root / "Pictures");
  fsys::create_directories(root / "data");
  must_run("convert -size 320x240 gradient:gold-navy " + q(root / "DCIM/IMG_0001.jpg"));
  must_run("convert -size 200x150 gradient:white-darkgreen -quality 90 " +
           q(root / "DCIM" / kXssName));
  must_run("convert -size 128x128 plasma:fractal -seed 7 png:" + q(root / "Pictures" / kBidiName));
  must_run("convert -size 300x200 gradient:red-blue -quality 85 " + q(root / "DCIM/old.jpg"));
  must_run("sqlite3 " + q(root / "data/mmssms.db") + R"( <<'SQL'
CREATE TABLE sms (_id INTEGER PRIMARY KEY, thread_id INTEGER, address TEXT, person INTEGER, date INTEGER,
  date_sent INTEGER, protocol INTEGER, read INTEGER, status INTEGER, type INTEGER, body TEXT);
CREATE TABLE pdu (_id INTEGER PRIMARY KEY, thread_id INTEGER, date INTEGER, msg_box INTEGER);
CREATE TABLE addr (_id INTEGER PRIMARY KEY, msg_id INTEGER, address TEXT, type INTEGER);
CREATE TABLE part (_id INTEGER PRIMARY KEY, mid INTEGER, seq INTEGER, ct TEXT, text TEXT, _data TEXT);
INSERT INTO sms (thread_id, address, date, date_sent, read, type, body) VALUES
  (1, '+447700900001', 1764400000000, 1764400000000, 1, 1, 'see <script>window.pwned=2</script> here'),
  (1, '+447700900001', 1764400060000, 1764400060000, 1, 2, '=HYPERLINK("http://evil.invalid","x")'),
  (2, '+447700900002', 1764403600000, 1764403600000, 0, 1, 'meet at the park');
SQL)");
  SampleExhibit s;
  s.raw = dir / "disk.img";
  s.evidence = dir / "evidence";
  must_run("mke2fs -q -t ext4 -d " + q(root) + " " + q(s.raw) + " 16M");
  must_run("debugfs -w -R 'rm /DCIM/old.jpg' " + q(s.raw) + " 2>/dev/null");
  fsys::create_directories(s.evidence);
  const std::string safehold = shell_quote(safehold_binary());
  must_run(safehold + " acquire " + q(s.raw) + " -o " + q(s.evidence / "EX-1") +
           " --case OP-TEST --evidence EX-1 --examiner 'DC <Test>' --json >/dev/null");
  must_run(safehold + " carve " + q(s.evidence / "EX-1.E01") + " -o " + q(s.evidence / "carve") +
           " --json >/dev/null");
  return s;
}

}  // namespace safehold::test
