// fs/: E01s crafted from a real ewfacquire output (issue 24 items 1-2, issue 18's missing segment):
// table entries at offset 0 or beyond the file, entry counts zero and huge, damaged section
// descriptors, truncation at every section boundary, missing, swapped and truncated segments.
// `info`, `ls`, `hash` and `verify` must not crash, must agree on whether the image can be read,
// and `hash` must never present a digest of data the image does not hold.
#include <zlib.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "base/json.hpp"
#include "fs/evidence.hpp"
#include "fs/image.hpp"
#include "fs/reader.hpp"
#include "tests/common/support.hpp"

using namespace safehold;
using test::must_run;
using test::shell_quote;
namespace fsys = std::filesystem;

namespace {

struct Section {
  std::string type;
  uint64_t at = 0, next = 0;
};

uint32_t get32(const std::string& d, uint64_t at) {
  auto p = reinterpret_cast<const unsigned char*>(d.data() + at);
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
uint64_t get64(const std::string& d, uint64_t at) {
  return uint64_t(get32(d, at)) | uint64_t(get32(d, at + 4)) << 32;
}
void put32(std::string& d, uint64_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) d[at + i] = static_cast<char>(v >> (8 * i));
}
void put64(std::string& d, uint64_t at, uint64_t v) {
  put32(d, at, static_cast<uint32_t>(v));
  put32(d, at + 4, static_cast<uint32_t>(v >> 32));
}
uint32_t adler(const std::string& d, uint64_t at, uint64_t n) {
  return static_cast<uint32_t>(adler32(
      adler32(0, nullptr, 0), reinterpret_cast<const Bytef*>(d.data() + at), static_cast<uInt>(n)));
}

// The section chain of one intact segment file, as ewfacquire wrote it.
std::vector<Section> sections(const std::string& d) {
  std::vector<Section> out;
  uint64_t at = 13;
  for (;;) {
    Section s;
    s.at = at;
    s.type = std::string(d.data() + at, strnlen(d.data() + at, 16));
    s.next = get64(d, at + 16);
    out.push_back(s);
    if (s.next == at) return out;
    at = s.next;
  }
}

// Rewrites every table and table2 of a segment: fn(entries) edits the entries (and may change
// their number); base, when given, replaces the base offset; checksums are made valid again.
void rewrite_tables(std::string& d, const std::function<void(std::vector<uint32_t>&)>& fn,
                    std::optional<uint64_t> base = std::nullopt,
                    std::optional<uint32_t> claimed_count = std::nullopt) {
  for (auto& s : sections(d)) {
    if (s.type != "table" && s.type != "table2") continue;
    const uint64_t h = s.at + 76;
    std::vector<uint32_t> e(get32(d, h));
    for (size_t i = 0; i < e.size(); ++i) e[i] = get32(d, h + 24 + 4 * i);
    fn(e);
    REQUIRE(24 + 4 * e.size() + 4 <= s.next - h);
    put32(d, h, claimed_count ? *claimed_count : static_cast<uint32_t>(e.size()));
    if (base) put64(d, h + 8, *base);
    put32(d, h + 20, adler(d, h, 20));
    for (size_t i = 0; i < e.size(); ++i) put32(d, h + 24 + 4 * i, e[i]);
    put32(d, h + 24 + 4 * e.size(), adler(d, h + 24, 4 * e.size()));
  }
}

struct Outcome {
  int info = -1, ls = -1, hash = -1, verify = -1;
  std::string info_err, ls_err, hash_err, verify_out;
  nlohmann::json hash_json;
};

bool sanitizer_report(const std::string& err) {
  return err.find("Sanitizer") != std::string::npos ||
         err.find("runtime error:") != std::string::npos ||
         err.find("munmap_chunk") != std::string::npos ||
         err.find("double free") != std::string::npos;
}

Outcome run_all(const fsys::path& e01) {
  const std::string bin = shell_quote(test::safehold_binary()), img = shell_quote(e01.string());
  Outcome o;
  auto i = test::run(bin + " info " + img);
  auto l = test::run(bin + " ls " + img);
  auto h = test::run(bin + " hash --json " + img);
  auto v = test::run(bin + " verify --json " + img);
  for (auto* r : {&i, &l, &h, &v}) {
    INFO(r->err);
    REQUIRE_FALSE(sanitizer_report(r->err));
    REQUIRE(r->exit_code >= 0);
    REQUIRE(r->exit_code <= 4);  // a signal (abort, segfault) is never an answer
  }
  o.info = i.exit_code;
  o.ls = l.exit_code;
  o.hash = h.exit_code;
  o.verify = v.exit_code;
  o.info_err = i.err;
  o.ls_err = l.err;
  o.hash_err = h.err;
  o.verify_out = v.out;
  if (!h.out.empty()) o.hash_json = nlohmann::json::parse(h.out);
  return o;
}

// The commands agree on whether the image can be read, and `hash` gives a digest only when it is
// the digest of the media (`md5` of the raw source).
void check_agreement(const fsys::path& e01, const std::string& md5) {
  Outcome o = run_all(e01);
  INFO(e01.filename().string() << " info " << o.info << " ls " << o.ls << " hash " << o.hash
                               << " verify " << o.verify << "\n"
                               << o.hash_err << o.info_err);
  if (o.hash == 1) {  // cannot be opened: the same sentence from every command
    CHECK(o.info == 1);
    CHECK(o.ls == 1);
    CHECK(o.verify == 1);
    CHECK(o.info_err == o.hash_err);
    CHECK(o.ls_err == o.hash_err);
  } else if (o.hash == 2) {  // opened, with ranges that cannot be read: named, no digest
    CHECK(o.info == 2);
    CHECK(o.ls == 2);
    CHECK(o.verify == 4);
    CHECK(o.hash_json["md5"].is_null());
    CHECK_FALSE(o.hash_json["errors"].empty());
    CHECK(o.hash_err.find(" cannot be read: ") != std::string::npos);
  } else {
    REQUIRE(o.hash == 0);
    CHECK(o.hash_json["md5"] == md5);
    CHECK(o.info == 0);
    CHECK(o.verify_out.find("cannot be read") == std::string::npos);
  }
}

// A small FAT disk with files of random content, acquired by ewfacquire into `dir/name.E01...`.
struct Acquired {
  fsys::path raw, e01;
  std::string md5;
};

Acquired acquire(const test::TempDir& dir, const std::string& name, const std::string& compression,
                 const std::string& segment_size = "") {
  Acquired a;
  a.raw = dir / (name + ".raw");
  const std::string raw = shell_quote(a.raw.string());
  must_run("cd " + shell_quote(dir.path().string()) + " && rm -f " + raw +
           " && mkfs.fat -C -n HOSTILE " + raw +
           " 3072 >/dev/null && head -c 1500000 /dev/urandom > f1.bin && seq 1 90000 > f2.txt && "
           "mcopy -i " +
           raw + " f1.bin ::/f1.bin && mcopy -i " + raw + " f2.txt ::/f2.txt");
  must_run("ewfacquire -u -q -t " + shell_quote((dir / name).string()) + " -c " + compression +
           " -b 64 -C CASE -D hostile -E EX -e tester -N crafted -f encase6 " +
           (segment_size.empty() ? "" : "-S " + segment_size + " ") + raw + " >/dev/null");
  a.e01 = dir / (name + ".E01");
  a.md5 = test::md5_file(a.raw);
  return a;
}

}  // namespace

TEST_CASE("issue 24: table entries all at offset 0 (valid Adler-32) are named, never copied",
          "[fs][ewf][hostile]") {
  test::TempDir dir("safehold-hostile");
  auto a = acquire(dir, "zero", "fast");
  std::string d = test::read_text(a.e01);
  rewrite_tables(d, [](std::vector<uint32_t>& e) {
    for (auto& x : e) x &= 0x80000000u;  // offset 0, compression flag kept
  });
  test::write_text(a.e01, d);
  const uint64_t sectors = sections(d)[4].at;  // header2, header2, header, volume, sectors
  REQUIRE(sections(d)[4].type == "sectors");

  auto img = fs::Image::open(a.e01);
  REQUIRE(img->damage().size() == 1);
  CHECK(img->damage()[0].img_offset == 0);
  CHECK(img->damage()[0].len == 3145728);
  CHECK(img->damage()[0].message ==
        "chunks 0-95 (image bytes 0-3145727) cannot be read: its data would start at byte " +
            std::to_string(sectors) + ", inside a section header (table entry in zero.E01)");
  std::vector<std::byte> buf(4096);
  CHECK_THROWS_WITH(img->read(0, buf),
                    Catch::Contains(a.e01.string() +
                                    ": cannot read at byte offset 0: chunk 0 "
                                    "(image bytes 0-32767) cannot be read: its "
                                    "data would start at byte " +
                                    std::to_string(sectors) + ", inside a section header"));

  Outcome o = run_all(a.e01);
  CHECK(o.hash == 2);
  CHECK(o.hash_json["md5"].is_null());
  CHECK(o.hash_json["bytes"] == 0);
  CHECK(o.hash_err == "safehold: " + a.e01.string() +
                          ": not hashed: 1 range of the image cannot be read\nsafehold: " +
                          a.e01.string() + ": " + img->damage()[0].message + "\n");
  CHECK(o.info == 2);
  CHECK(o.ls == 2);
  CHECK(o.verify == 4);
  check_agreement(a.e01, a.md5);
}

TEST_CASE("issue 24: crafted tables (pointers beyond, counts zero and huge) are named by offset",
          "[fs][ewf][hostile]") {
  test::TempDir dir("safehold-hostile");
  auto a = acquire(dir, "t", "fast");
  const std::string good = test::read_text(a.e01);
  const std::string file_size = std::to_string(good.size());
  uint64_t table = 0;
  for (auto& s : sections(good))
    if (s.type == "table" && !table) table = s.at;
  const uint64_t base = get64(good, table + 76 + 8);

  struct Case {
    std::string name, message;
    std::function<void(std::string&)> craft;
  };
  std::vector<Case> cases = {
      {"beyond",
       "chunks 0-95 (image bytes 0-3145727) cannot be read: its data would start at byte " +
           std::to_string(base + 0x7fffffffu) + ", beyond the end of beyond.E01 (" + file_size +
           " bytes) (table entry in beyond.E01)",
       [](std::string& d) {
         rewrite_tables(d, [](std::vector<uint32_t>& e) {
           for (auto& x : e) x = 0x7fffffffu | (x & 0x80000000u);
         });
       }},
      {"base",
       "chunks 0-95 (image bytes 0-3145727) cannot be read: its data would start at byte "
       "1099511627776, beyond the end of base.E01 (" +
           file_size + " bytes) (table entry in base.E01)",
       [](std::string& d) {
         rewrite_tables(
             d,
             [](std::vector<uint32_t>& e) {
               for (auto& x : e) x &= 0x80000000u;
             },
             uint64_t{1} << 40);
       }},
      {"count0",
       "chunks 0-95 (image bytes 0-3145727) cannot be read: no table locates it (the table at "
       "byte " +
           std::to_string(table) +
           " of count0.E01 holds no entries and no intact copy of it exists)",
       [](std::string& d) { rewrite_tables(d, [](std::vector<uint32_t>& e) { e.clear(); }); }},
      {"huge",  // libewf itself refuses this table: the set cannot be opened at all
       "",
       [](std::string& d) {
         rewrite_tables(
             d, [](std::vector<uint32_t>&) {}, std::nullopt, 0xffffffffu);
       }},
      {"swapped",  // two entries exchanged: sizes no longer fit the chunks
       "",
       [](std::string& d) {
         rewrite_tables(d, [](std::vector<uint32_t>& e) { std::swap(e[10], e[11]); });
       }},
  };
  for (auto& c : cases) {
    SECTION(c.name) {
      auto e01 = dir / (c.name + ".E01");
      std::string d = good;
      c.craft(d);
      test::write_text(e01, d);
      if (c.name == "huge") {
        CHECK_THROWS_WITH(fs::Image::open(e01),
                          Catch::StartsWith(e01.string() + ": not a readable EWF image: "));
        Outcome o = run_all(e01);
        CHECK(o.hash == 1);
        check_agreement(e01, a.md5);
        return;
      }
      auto img = fs::Image::open(e01);
      if (!c.message.empty()) {
        REQUIRE(img->damage().size() == 1);
        CHECK(img->damage()[0].message == c.message);
      } else {
        CHECK_FALSE(img->damage().empty());
      }
      Outcome o = run_all(e01);
      CHECK(o.hash == 2);
      CHECK(o.hash_json["md5"].is_null());
      check_agreement(e01, a.md5);
    }
  }
}

TEST_CASE("issue 24: a damaged descriptor of any section and truncation at any section boundary",
          "[fs][ewf][hostile][slow]") {
  test::TempDir dir("safehold-hostile");
  for (const char* compression : {"fast", "none"}) {
    auto a = acquire(dir, std::string("s") + compression, compression);
    const std::string good = test::read_text(a.e01);
    auto secs = sections(good);
    REQUIRE(secs.back().type == "done");
    for (size_t i = 0; i < secs.size(); ++i) {
      INFO(compression << " section " << i << " " << secs[i].type << " at " << secs[i].at);
      // A flipped bit in the descriptor's type: its Adler-32 no longer matches.
      std::string d = good;
      d[secs[i].at + 1] ^= 0x04;
      auto flipped = dir / "flipped.E01";
      test::write_text(flipped, d);
      check_agreement(flipped, a.md5);
      // Cut at the section's start and in the middle of it.
      for (uint64_t cut :
           {secs[i].at, secs[i].at + std::max<uint64_t>(1, (secs[i].next - secs[i].at) / 2)}) {
        if (cut >= good.size()) continue;
        auto cut_file = dir / "cut.E01";
        test::write_text(cut_file, good.substr(0, cut));
        INFO("cut at " << cut);
        check_agreement(cut_file, a.md5);
      }
    }
  }
}

TEST_CASE("issue 24: a cut at the table says where the segment ends", "[fs][ewf][hostile]") {
  test::TempDir dir("safehold-hostile");
  auto a = acquire(dir, "c", "fast");
  const std::string good = test::read_text(a.e01);
  uint64_t table = 0;
  for (auto& s : sections(good))
    if (s.type == "table") table = s.at;
  test::write_text(a.e01, good.substr(0, table));
  Outcome o = run_all(a.e01);
  CHECK(o.hash == 2);
  CHECK(o.hash_err ==
        "safehold: " + a.e01.string() +
            ": not hashed: 1 range of the image cannot be read\nsafehold: " + a.e01.string() +
            ": chunks 0-95 (image bytes 0-3145727) cannot be read: no table locates "
            "it (c.E01 ends at byte " +
            std::to_string(table) + " where a section descriptor was expected at byte " +
            std::to_string(table) + " (truncated))\n");
  check_agreement(a.e01, a.md5);
}

TEST_CASE("issue 18: a missing, swapped or truncated segment of an E01 set is named",
          "[fs][ewf][hostile]") {
  test::TempDir dir("safehold-hostile");
  auto a = acquire(dir, "set", "none", "1MiB");
  auto seg = [&](int n) { return dir / ("set.E0" + std::to_string(n)); };
  REQUIRE(fsys::exists(seg(3)));
  REQUIRE_FALSE(fsys::exists(seg(5)));
  const std::string s2 = test::read_text(seg(2)), s3 = test::read_text(seg(3));
  check_agreement(a.e01, a.md5);  // intact: the digest of the raw disk

  SECTION("a middle segment missing") {
    fsys::remove(seg(2));
    Outcome o = run_all(a.e01);
    const std::string want = "safehold: " + a.e01.string() +
                             ": the EWF set is incomplete: segment file set.E02 is missing "
                             "(set.E01 ends with a 'next' section)\n";
    CHECK(o.hash == 1);
    CHECK(o.hash_err == want);
    CHECK(o.info == 1);
    CHECK(o.info_err == want);
    CHECK(o.ls_err == want);
    CHECK(o.verify == 1);
    auto c = test::run(shell_quote(test::safehold_binary()) + " carve " +
                       shell_quote(a.e01.string()) + " -o " + shell_quote((dir / "out").string()));
    CHECK(c.exit_code == 1);
    CHECK(c.err == want);
  }
  SECTION("the last segment missing") {
    int last = 3;
    while (fsys::exists(seg(last + 1))) ++last;
    fsys::remove(seg(last));
    Outcome o = run_all(a.e01);
    CHECK(o.hash == 1);
    CHECK(o.hash_err == "safehold: " + a.e01.string() +
                            ": the EWF set is incomplete: segment file set.E0" +
                            std::to_string(last) + " is missing (set.E0" +
                            std::to_string(last - 1) + " ends with a 'next' section)\n");
  }
  SECTION("two segments swapped") {
    test::write_text(seg(2), s3);
    test::write_text(seg(3), s2);
    Outcome o = run_all(a.e01);
    CHECK(o.hash == 1);
    CHECK(o.hash_err == "safehold: " + a.e01.string() +
                            ": segment file set.E02 holds segment 3 of an EWF set, not segment 2 "
                            "(segments renamed, swapped or mixed)\n");
    check_agreement(a.e01, a.md5);
  }
  SECTION("a middle segment truncated") {
    test::write_text(seg(2), s2.substr(0, s2.size() / 2));
    Outcome o = run_all(a.e01);
    CHECK(o.hash == 2);
    CHECK(o.hash_json["md5"].is_null());
    check_agreement(a.e01, a.md5);
  }
}

TEST_CASE("a damaged chunk found only when decoded fails the TSK read and the hash",
          "[fs][ewf][hostile]") {
  test::TempDir dir("safehold-hostile");
  auto a = acquire(dir, "flip", "fast");
  std::string d = test::read_text(a.e01);
  // Flip a byte inside the first compressed chunk's stream (chunk 0: the boot sector).
  auto secs = sections(d);
  uint64_t table = 0;
  for (auto& s : secs)
    if (s.type == "table" && !table) table = s.at;
  const uint64_t base = get64(d, table + 76 + 8);
  const uint32_t e0 = get32(d, table + 76 + 24);
  REQUIRE((e0 & 0x80000000u) != 0);
  d[base + (e0 & 0x7fffffffu) + 10] ^= 0x5a;
  test::write_text(a.e01, d);
  auto img = fs::Image::open(a.e01);
  CHECK(img->damage().empty());  // the structure is intact
  auto r = fs::read_sequential(a.e01, [](uint64_t, std::span<const std::byte>) { return true; });
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].img_offset == 0);
  CHECK(r.errors[0].message.rfind("chunk 0 (image bytes 0-32767) cannot be read: ", 0) == 0);
  CHECK(r.bytes == 3145728);
  auto o = run_all(a.e01);
  CHECK(o.hash == 2);
  CHECK(o.hash_json["md5"].is_null());
  CHECK(o.verify == 4);
  // verify names the chunk and computes no digest of zero-fill (issue 24).
  auto vj = nlohmann::json::parse(o.verify_out);
  CHECK(vj["ok"] == false);
  CHECK(vj["computed"]["md5"].is_null());
  CHECK(vj["stored"]["md5"].is_string());
  REQUIRE(vj["problems"].size() == 2);
  CHECK(vj["problems"][0].get<std::string>().rfind("damaged chunk 0 (image bytes 0-32767)", 0) ==
        0);
  CHECK(vj["problems"][1] ==
        "no digest computed: 3112960 of 3145728 bytes could be read, so the stored digests cannot "
        "be checked");
}
