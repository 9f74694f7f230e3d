// Known-hash sets: round trips of every import format with known counts, lookups of present and
// absent hashes, malformed inputs with their line numbers, damaged set files, the CLI.
#include "hashset/hashset.hpp"

#include <fmt/core.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>

#include "base/hash.hpp"
#include "tests/common/support.hpp"

using namespace safehold::hashset;
using safehold::test::must_run;
using safehold::test::run;
using safehold::test::shell_quote;
using safehold::test::TempDir;
using safehold::test::write_text;

namespace {

// Deterministic digests: the hashes of "item N".
safehold::base::Digests item(int n) {
  std::string s = fmt::format("item {}", n);
  return safehold::base::hash_bytes(std::as_bytes(std::span(s.data(), s.size())));
}

Digest dg(const std::string& hex) {
  auto d = parse_digest(hex);
  REQUIRE(d);
  return *d;
}

std::string import_error(const std::filesystem::path& in, Format f) {
  ImportOptions o;
  o.format = f;
  try {
    import_hashset(in, in.string() + ".set", o);
  } catch (const ImportError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("hashset digests parse in either case and print in lower case", "[hashset]") {
  auto d = parse_digest("D41D8CD98F00B204E9800998ECF8427E");
  REQUIRE(d);
  CHECK(d->algo == Algo::md5);
  CHECK(d->hex() == "d41d8cd98f00b204e9800998ecf8427e");
  CHECK(parse_digest("da39a3ee5e6b4b0d3255bfef95601890afd80709")->algo == Algo::sha1);
  CHECK(parse_digest(std::string(64, 'a'))->algo == Algo::sha256);
  CHECK_FALSE(parse_digest("d41d8cd98f00b204e9800998ecf8427"));
  CHECK_FALSE(parse_digest("g41d8cd98f00b204e9800998ecf8427e"));
  CHECK_FALSE(parse_digest(""));
}

TEST_CASE("hashset text import: counts, categories, duplicates, present and absent", "[hashset]") {
  TempDir t;
  std::string text = "# a plain list\r\n\r\n";
  for (int i = 0; i < 3000; ++i) {
    auto d = item(i);
    if (i % 3 == 0)
      text += d.md5 + "\r\n";
    else if (i % 3 == 1)
      text += d.sha1 + (i % 2 ? ",graded-1" : "\tgraded-2") + "\n";
    else
      text += "  " + d.sha256 + " \"cat 3\"\n";
  }
  text += item(0).md5 + "\n";            // a duplicate
  text += item(1).sha1 + ",graded-2\n";  // same digest, other category
  write_text(t / "list.txt", text);
  ImportOptions o;
  o.format = Format::text;
  auto st = import_hashset(t / "list.txt", t / "list.set", o);
  CHECK(st.records == 3002);
  CHECK(st.unique[0] == 1000);
  CHECK(st.unique[1] == 1000);
  CHECK(st.unique[2] == 1000);
  CHECK(st.categories == 3);

  auto s = HashSet::open(t / "list.set");
  CHECK(s->name() == "list");
  CHECK_FALSE(s->ignorable());
  CHECK(s->source_format() == "text");
  for (int i = 0; i < 3000; ++i) {
    auto d = item(i);
    std::string hex = i % 3 == 0 ? d.md5 : i % 3 == 1 ? d.sha1 : d.sha256;
    auto m = s->lookup(dg(hex));
    INFO(i);
    REQUIRE(m);
    CHECK(m->set == "list");
    if (i % 3 == 0) CHECK_FALSE(m->category);
    if (i % 3 == 2) CHECK(m->category == "cat 3");
  }
  // Category ids are interned in order of first appearance: graded-2 (from item 2? no: item 1 is
  // odd so graded-1 came first), so the duplicate of item 1 keeps the lower id, graded-1.
  CHECK(s->lookup(dg(item(1).sha1))->category == "graded-1");
  // Absent: other items, and the present items' hashes under other algorithms.
  for (int i = 3000; i < 4000; ++i) {
    CHECK_FALSE(s->lookup(dg(item(i).md5)));
    CHECK_FALSE(s->lookup(dg(item(i).sha1)));
    CHECK_FALSE(s->lookup(dg(item(i).sha256)));
  }
  CHECK_FALSE(s->lookup(dg(item(0).sha1)));
}

TEST_CASE("hashset import spills to disk and still sorts every bucket", "[hashset]") {
  TempDir t;
  // 1 KiB spool blocks: nearly every record goes through the temporary file.
  HashSetWriter w(t / "big.set", "big", true, "test", 1024);
  const int n = 60000;
  for (int i = 0; i < n; ++i) {
    auto d = item(i);
    w.add(dg(d.md5), w.category_id(i % 7 == 0 ? "seven" : ""));
    if (i % 2) w.add(dg(d.sha1), 0);
    if (i % 2) w.add(dg(d.md5), 0);  // duplicate of the first, other category
  }
  auto st = w.finish(2);
  CHECK(st.unique[0] == n);
  CHECK(st.unique[1] == n / 2);
  CHECK(st.unique[2] == 0);
  auto s = HashSet::open(t / "big.set");
  CHECK(s->ignorable());
  CHECK(s->count(Algo::md5) == n);
  std::vector<uint8_t> packed;
  for (int i = 0; i < 2 * n; ++i) {
    auto d = dg(item(i).md5);
    packed.insert(packed.end(), d.bytes.begin(), d.bytes.begin() + 16);
  }
  std::vector<int32_t> out(2 * n);
  s->find_many(Algo::md5, packed.data(), 2 * n, out.data());
  int present = 0, seven = 0;
  for (int i = 0; i < 2 * n; ++i) {
    auto d = dg(item(i).md5);
    CHECK(out[i] == s->find(d));
    if (out[i] >= 0) ++present;
    if (out[i] > 0) {
      CHECK(s->categories()[out[i]] == "seven");
      ++seven;
    }
  }
  CHECK(present == n);
  CHECK(seven == (n + 13) / 14);  // the odd ones were added again without a category: 0 wins
}

TEST_CASE("hashset NSRL v2 NSRLFile.txt import", "[hashset]") {
  TempDir t;
  std::string csv =
      "\"SHA-1\",\"MD5\",\"CRC32\",\"FileName\",\"FileSize\",\"ProductCode\",\"OpSystemCode\","
      "\"SpecialCode\"\r\n";
  for (int i = 0; i < 500; ++i) {
    auto d = item(i);
    std::string up = d.sha1;
    for (auto& c : up) c = static_cast<char>(std::toupper(c));
    csv +=
        fmt::format("\"{}\",\"{}\",\"0A1B2C3D\",\"file, \"\"{}\"\".dll\",{},1234,\"358\",\"\"\r\n",
                    up, d.md5, i, 1000 + i);
  }
  csv += fmt::format("\"{}\",\"{}\",\"00000000\",\"dup.dll\",1,1,\"358\",\"\"\r\n", item(7).sha1,
                     item(7).md5);
  write_text(t / "NSRLFile.txt", csv);
  ImportOptions o;
  o.format = Format::nsrl;
  auto st = import_hashset(t / "NSRLFile.txt", t / "nsrl.set", o);
  CHECK(st.records == 1002);  // two digests a row
  CHECK(st.unique[0] == 500);
  CHECK(st.unique[1] == 500);
  auto s = HashSet::open(t / "nsrl.set");
  CHECK(s->ignorable());  // NSRL is ignorable by nature
  auto m = s->lookup(dg(item(42).sha1));
  REQUIRE(m);
  CHECK(m->set == "NSRLFile");
  CHECK_FALSE(m->category);
  CHECK(m->ignorable);
  CHECK(s->lookup(dg(item(499).md5)));
  CHECK_FALSE(s->lookup(dg(item(500).md5)));

  write_text(
      t / "bad.txt",
      csv.substr(0, csv.find("\r\n") + 2) +
          fmt::format("\"{}\",\"{}\",\"x\",\"a\",1,1,\"1\",\"\"\n", item(1).sha1, item(1).md5) +
          fmt::format("\"{}\",\"XYZ\",\"x\",\"a\",1,1,\"1\",\"\"\n", item(2).sha1));
  CHECK(import_error(t / "bad.txt", Format::nsrl) ==
        (t / "bad.txt").string() + ": line 3: bad MD5 \"XYZ\"");
  write_text(t / "noheader.txt", item(1).sha1 + "\n");
  CHECK(import_error(t / "noheader.txt", Format::nsrl) ==
        (t / "noheader.txt").string() +
            ": line 1: not an NSRL NSRLFile.txt header (expected "
            "\"SHA-1\",\"MD5\",\"CRC32\",\"FileName\",...)");
  write_text(t / "quote.txt", csv.substr(0, csv.find("\r\n") + 2) + "\"abc,\"def\n");
  CHECK(import_error(t / "quote.txt", Format::nsrl) ==
        (t / "quote.txt").string() + ": line 2: unbalanced quotes");
}

TEST_CASE("hashset NSRL RDS v3 SQLite import", "[hashset]") {
  TempDir t;
  std::string sql =
      "CREATE TABLE FILE (sha256 VARCHAR NOT NULL, sha1 VARCHAR NOT NULL, md5 VARCHAR NOT NULL, "
      "crc32 VARCHAR, file_name VARCHAR, file_size INTEGER, package_id INTEGER);\nBEGIN;\n";
  for (int i = 0; i < 400; ++i) {
    auto d = item(i);
    std::string s256 = d.sha256;
    for (auto& c : s256) c = static_cast<char>(std::toupper(c));
    sql += fmt::format("INSERT INTO FILE VALUES('{}','{}','{}','00','f{}.exe',{},{});\n", s256,
                       d.sha1, d.md5, i, i, i % 5);
  }
  sql += "COMMIT;\n";
  write_text(t / "rds.sql", sql);
  must_run("sqlite3 " + shell_quote((t / "RDS_minimal.db").string()) + " < " +
           shell_quote((t / "rds.sql").string()));
  ImportOptions o;
  o.format = Format::nsrl_v3;
  o.name = "NSRL 2024.03";
  auto st = import_hashset(t / "RDS_minimal.db", t / "rds.set", o);
  CHECK(st.records == 1200);
  CHECK(st.unique == std::array<uint64_t, 3>{400, 400, 400});
  auto s = HashSet::open(t / "rds.set");
  CHECK(s->name() == "NSRL 2024.03");
  CHECK(s->ignorable());
  CHECK(s->lookup(dg(item(5).sha256)));
  CHECK(s->lookup(dg(item(399).sha1)));
  CHECK(s->lookup(dg(item(0).md5)));
  CHECK_FALSE(s->lookup(dg(item(400).sha256)));

  must_run("sqlite3 " + shell_quote((t / "RDS_minimal.db").string()) +
           " \"INSERT INTO FILE VALUES('" + item(401).sha256 + "','nothex','" + item(401).md5 +
           "','','',0,0)\"");
  CHECK(import_error(t / "RDS_minimal.db", Format::nsrl_v3) ==
        (t / "RDS_minimal.db").string() + ": row 401 of FILE: bad sha1 \"nothex\"");
  must_run("sqlite3 " + shell_quote((t / "other.db").string()) + " 'CREATE TABLE x(a)'");
  CHECK(import_error(t / "other.db", Format::nsrl_v3) ==
        (t / "other.db").string() +
            ": not an NSRL RDS v3 database: no FILE table with md5, sha1 or sha256 columns");
}

TEST_CASE("hashset VICS JSON import", "[hashset]") {
  TempDir t;
  std::string json = R"({
  "@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/Default/$metadata#Media",
  "value": [
)";
  for (int i = 0; i < 300; ++i) {
    auto d = item(i);
    json += fmt::format(
        R"(    {{"MediaID": {}, "Category": {}, "MD5": "{}", "SHA1": "{}", "IsPrecategorized": true,
      "AlternativeHashes": [{{"HashName": "SHA256", "HashValue": "{}"}}],
      "MediaFiles": [{{"MD5": "{}", "FileName": "x.jpg"}}], "Exifs": []}}{}
)",
        i + 1, i % 4, d.md5, d.sha1, i % 2 ? d.sha256 : "", item(10000 + i).md5,
        i + 1 < 300 ? "," : "");
  }
  json += "  ]\n}\n";
  write_text(t / "case.json", json);
  ImportOptions o;
  o.format = Format::vics;
  auto st = import_hashset(t / "case.json", t / "vics.set", o);
  CHECK(st.records == 750);  // MD5 and SHA1 of 300, SHA-256 of 150; MediaFiles' MD5 ignored
  CHECK(st.unique == std::array<uint64_t, 3>{300, 300, 150});
  CHECK(st.categories == 4);
  auto s = HashSet::open(t / "vics.set");
  auto m = s->lookup(dg(item(6).md5));
  REQUIRE(m);
  CHECK(m->category == "2");
  CHECK_FALSE(m->ignorable);
  CHECK(s->lookup(dg(item(7).sha256))->category == "3");
  CHECK_FALSE(s->lookup(dg(item(6).sha256)));
  CHECK_FALSE(s->lookup(dg(item(10000).md5)));

  write_text(t / "bad.json", "{\"value\": [\n{\"MD5\": \"" + item(1).md5 +
                                 "\"},\n{\"MD5\": \"12\", \"Category\": 1}\n]}\n");
  CHECK(import_error(t / "bad.json", Format::vics) ==
        (t / "bad.json").string() + ": line 3: Media 2: bad MD5 \"12\"");
  write_text(t / "broken.json",
             "{\"value\": [\n{\"MD5\": \"" + item(1).md5 + "\"},\n{\"MD5\" \"x\"}\n]}\n");
  auto err = import_error(t / "broken.json", Format::vics);
  CHECK(err.rfind((t / "broken.json").string() + ": line 3: invalid JSON: parse error at line 3",
                  0) == 0);
  write_text(t / "other.json", "{\"items\": []}");
  CHECK(import_error(t / "other.json", Format::vics) ==
        (t / "other.json").string() + ": not VICS JSON: no top-level \"value\" array of Media");
}

TEST_CASE("hashset files that are damaged are refused by name", "[hashset]") {
  TempDir t;
  write_text(t / "l.txt", item(1).md5 + "\n" + item(2).sha1 + "\n");
  ImportOptions o;
  import_hashset(t / "l.txt", t / "l.set", o);
  auto full = safehold::test::read_text(t / "l.set");
  write_text(t / "trunc.set", full.substr(0, full.size() - 10));
  auto err = [&](const std::string& name) {
    try {
      HashSet::open(t / name);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  CHECK(err("trunc.set") ==
        (t / "trunc.set").string() +
            ": not a valid Safehold hash set: truncated or extended (size differs from header)");
  write_text(t / "text.set", std::string(4096, 'x'));
  CHECK(err("text.set") ==
        (t / "text.set").string() + ": not a valid Safehold hash set: wrong magic");
  // A corrupted prefix index is caught before any lookup could leave the file.
  auto bad = full;
  bad[4096 * 2] = '\xff';
  bad[4096 * 2 + 3] = '\x7f';
  write_text(t / "index.set", bad);
  CHECK(err("index.set").find("not a valid Safehold hash set") != std::string::npos);
}

TEST_CASE("hashset CLI: import, lookup, info and errors", "[hashset][cli]") {
  TempDir t;
  auto safehold = safehold::test::safehold_binary();
  write_text(t / "list.txt", item(1).md5 + " 1\n" + item(2).sha1 + "\n");
  auto out = must_run(safehold + " hashset import --format text " +
                      shell_quote((t / "list.txt").string()) + " -o " +
                      shell_quote((t / "k.set").string()) + " --name Graded --ignorable --json");
  CHECK(out.find("\"md5\":1") != std::string::npos);
  out = must_run(safehold + " hashset lookup " + shell_quote((t / "k.set").string()) + " " +
                 item(1).md5 + " " + item(2).sha1 + " " + item(3).md5);
  CHECK(out == item(1).md5 + "  known  set=Graded category=1 ignorable\n" + item(2).sha1 +
                   "  known  set=Graded category=- ignorable\n" + item(3).md5 + "  not found\n");
  out = must_run("printf '%s\\n' " + item(1).md5 + " | " + safehold + " hashset lookup --json " +
                 shell_quote((t / "k.set").string()));
  CHECK(out == "{\"algo\":\"md5\",\"hash\":\"" + item(1).md5 +
                   "\",\"known\":{\"category\":\"1\",\"ignorable\":true,\"set\":\"Graded\"}}\n");
  out = must_run(safehold + " hashset info " + shell_quote((t / "k.set").string()));
  CHECK(out.find("Name:        Graded\n") != std::string::npos);

  write_text(t / "bad.txt", item(1).md5 + "\n\nnot-a-hash\n");
  auto r = run(safehold + " hashset import --format text " + shell_quote((t / "bad.txt").string()) +
               " -o " + shell_quote((t / "bad.set").string()));
  CHECK(r.exit_code == 1);
  CHECK(r.err == "safehold: " + (t / "bad.txt").string() +
                     ": line 3: \"not-a-hash\" is not an MD5, SHA-1 or SHA-256 hash (32, 40 or 64 "
                     "hex digits)\n");
  CHECK_FALSE(std::filesystem::exists(t / "bad.set"));
  CHECK_FALSE(std::filesystem::exists(t / "bad.set.partial"));
  r = run(safehold + " hashset import --format csv x -o y");
  CHECK(r.exit_code == 1);
  r = run(safehold + " hashset lookup " + shell_quote((t / "list.txt").string()) + " " +
          item(1).md5);
  CHECK(r.exit_code == 1);
  CHECK(r.err ==
        "safehold: " + (t / "list.txt").string() + ": not a valid Safehold hash set: too short\n");
}

TEST_CASE("hashset known videos: a version 2 set round trip, damaged sections refused",
          "[hashset][video]") {
  TempDir t;
  auto frames = [](int n, uint8_t quality) {
    std::vector<VideoFrameHash> v(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i)
      for (size_t w = 0; w < 16; ++w) {
        v[static_cast<size_t>(i)].words[w] = static_cast<uint16_t>(i * 4099 + w * 31);
        v[static_cast<size_t>(i)].quality = quality;
      }
    return v;
  };
  {
    HashSetWriter w(t / "v.set", "Videos", false, "vpdq");
    uint16_t a = w.category_id("A");
    w.add_video("clip.txt", a, frames(5, 100));
    w.add_video("other.txt", 0, frames(2, 40));
    w.add(dg(std::string(32, 'a')), a);
    w.finish();
  }
  auto s = HashSet::open(t / "v.set");
  REQUIRE(s->videos().size() == 2);
  const auto& v0 = s->videos()[0];
  CHECK(v0.name == "clip.txt");
  CHECK(s->categories()[v0.category] == "A");
  REQUIRE(v0.count() == 5);
  auto expect = frames(5, 100);
  for (size_t i = 0; i < 5; ++i) {
    CHECK(v0.frame(i).words == expect[i].words);
    CHECK(v0.frame(i).quality == 100);
  }
  CHECK(s->videos()[1].name == "other.txt");
  CHECK(s->videos()[1].count() == 2);
  CHECK(s->videos()[1].frame(1).quality == 40);
  auto m = s->video_match(v0);
  CHECK(m.set == "Videos");
  CHECK(m.category == "A");
  CHECK(m.video == "clip.txt");
  CHECK(s->lookup(dg(std::string(32, 'a')))->category == "A");

  std::string bytes = safehold::test::read_text(t / "v.set");
  uint32_t version = 0;
  std::memcpy(&version, bytes.data() + 8, 4);
  CHECK(version == 2);
  {  // a set without videos stays version 1
    HashSetWriter w(t / "plain.set", "Plain", false, "text");
    w.add(dg(std::string(32, 'b')), 0);
    w.finish();
    std::string plain = safehold::test::read_text(t / "plain.set");
    std::memcpy(&version, plain.data() + 8, 4);
    CHECK(version == 1);
    CHECK(HashSet::open(t / "plain.set")->videos().empty());
  }

  // The section's first video: u16 category, u16 name length, u32 frame count, name, frames.
  const size_t meta = bytes.find("\"videos\":{\"count\":2,\"length\":");
  REQUIRE(meta != std::string::npos);
  const size_t off_at = bytes.find("\"offset\":", meta) + 9;
  const size_t section = std::stoull(bytes.substr(off_at));
  auto damaged = [&](size_t at, const std::string& with) {
    std::string b = bytes;
    b.replace(at, with.size(), with);
    write_text(t / "bad.set", b);
    try {
      HashSet::open(t / "bad.set");
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("opened");
  };
  const std::string prefix = (t / "bad.set").string() + ": not a valid Safehold hash set: ";
  CHECK(damaged(section + 4, std::string("\xff\xff\xff\x7f", 4)) ==
        prefix + "video frame count out of range");
  CHECK(damaged(section + 4, std::string("\x40\x42\x0f\x00", 4)) ==
        prefix + "videos section too short");
  CHECK(damaged(section, std::string("\x09\x00", 2)) == prefix + "video category id out of range");
  CHECK(damaged(section + 8 + 8 + 32, "\xc8") == prefix + "frame quality over 100");
  CHECK(damaged(section + 2, std::string("\xff\xff", 2)) == prefix + "videos section too short");
}
