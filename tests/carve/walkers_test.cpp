// Format walkers on files made by real encoders: true end, validation, truncation, damage, and
// crafted structures that loop or claim huge sizes.
#include <catch2/catch.hpp>
#include <fstream>
#include <random>

#include "carve/bifragment.hpp"
#include "carve/carver.hpp"
#include "carve/walker.hpp"
#include "tests/common/support.hpp"

using namespace safehold;
using namespace safehold::carve;
using safehold::test::must_run;
using safehold::test::shell_quote;
using safehold::test::TempDir;

namespace {

std::vector<std::byte> slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> c((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(c.size());
  std::memcpy(out.data(), c.data(), c.size());
  return out;
}

std::vector<std::byte> bytes(std::string_view s) {
  std::vector<std::byte> v(s.size());
  std::memcpy(v.data(), s.data(), s.size());
  return v;
}

struct Sample {
  std::string file, family, type;
  std::string command;  // {} is replaced by the output path
};

// One small file of each format, made by ImageMagick, ffmpeg and heif-enc.
const std::vector<Sample>& samples() {
  static const std::string ff =
      "ffmpeg -nostdin -loglevel error -f lavfi -i testsrc=duration=1:size=160x120:rate=10 "
      "-threads 1 ";
  static const std::vector<Sample> s = {
      {"a.jpg", "jpeg", "jpeg", "/usr/bin/convert -size 200x150 plasma:fractal -quality 80 {}"},
      {"p.jpg", "jpeg", "jpeg",
       "/usr/bin/convert -size 200x150 gradient:red-blue -interlace Plane {}"},
      {"a.png", "png", "png", "/usr/bin/convert -size 120x90 pattern:checkerboard {}"},
      {"a.gif", "gif", "gif", "/usr/bin/convert -size 120x90 plasma:fractal {}"},
      {"a.bmp", "bmp", "bmp", "/usr/bin/convert -size 60x40 gradient:green-blue {}"},
      {"a.webp", "riff", "webp", "/usr/bin/convert -size 120x90 plasma:fractal {}"},
      {"a.tif", "tiff", "tiff", "/usr/bin/convert -size 80x60 plasma:fractal -compress none {}"},
      {"a.heic", "isobmff", "heif",
       "/usr/bin/convert -size 64x48 plasma:fractal /tmp/safehold-heic-src.png && heif-enc -q 40 "
       "-o {} /tmp/safehold-heic-src.png"},
      {"a.mp4", "isobmff", "mp4", ff + "-c:v libx264 -pix_fmt yuv420p -f mp4 {}"},
      {"a.mov", "isobmff", "mov", ff + "-c:v mpeg4 -f mov {}"},
      {"a.3gp", "isobmff", "3gp",
       "ffmpeg -nostdin -loglevel error -f lavfi -i testsrc=duration=1:size=176x144:rate=10 -c:v "
       "h263 -f 3gp {}"},
      {"a.m4v", "isobmff", "m4v", ff + "-c:v libx264 -pix_fmt yuv420p -f ipod {}"},
      {"a.avi", "riff", "avi", ff + "-c:v mpeg4 -f avi {}"},
      {"a.wmv", "asf", "asf", ff + "-c:v wmv2 -f asf {}"},
      {"a.mkv", "ebml", "mkv", ff + "-c:v mpeg4 -f matroska {}"},
      {"a.webm", "ebml", "webm", ff + "-c:v libvpx -f webm {}"},
  };
  return s;
}

std::string make(const TempDir& dir, const Sample& s) {
  std::string out = (dir / s.file).string();
  std::string cmd = s.command;
  for (size_t p; (p = cmd.find("{}")) != std::string::npos;) cmd.replace(p, 2, shell_quote(out));
  must_run(cmd);
  return out;
}

}  // namespace

TEST_CASE("every walker finds the true end of encoder output and rejects damage", "[walkers]") {
  TempDir dir;
  const Registry& reg = Registry::builtin();
  for (const Sample& s : samples()) {
    INFO("sample " << s.file);
    auto data = slurp(make(dir, s));
    REQUIRE(data.size() > 100);
    const Walker* w = reg.identify(ByteView(data));
    REQUIRE(w != nullptr);
    CHECK(w->name() == s.family);

    // Whole file, and the same file followed by unrelated bytes (as in free space).
    WalkResult r = w->walk(ByteView::whole(data));
    CHECK(to_string(r.verdict) == std::string("valid"));
    CHECK(r.length == data.size());
    CHECK(r.type == s.type);
    auto padded = data;
    padded.resize(data.size() + 70000, std::byte{0x41});
    r = w->walk(ByteView(padded));
    CHECK(to_string(r.verdict) == std::string("valid"));
    CHECK(r.length == data.size());

    // Cut in half: more is wanted, or (at the end of data) it is not valid.
    ByteView half(std::span<const std::byte>(data).first(data.size() / 2));
    r = w->walk(half);
    CHECK(r.verdict == Verdict::need_more);
    CHECK(r.need > half.size());
    ByteView half_end(std::span<const std::byte>(data).first(data.size() / 2), {}, true);
    CHECK(w->walk(half_end).verdict != Verdict::valid);
  }
}

TEST_CASE("PNG chunk CRCs and JPEG entropy data are checked", "[walkers]") {
  TempDir dir;
  auto png = slurp(make(dir, samples()[2]));
  png[20] ^= std::byte{0x01};  // inside IHDR (its height)
  WalkResult r = make_png_walker()->walk(ByteView::whole(png));
  CHECK(r.verdict == Verdict::invalid);
  REQUIRE(!r.warnings.empty());
  CHECK(r.warnings[0].find("CRC mismatch") == 0);

  auto jpg = slurp(make(dir, samples()[0]));
  // A reserved marker (FF 02) in the middle of the scan: the decoder refuses it. (Noise alone
  // was not enough: libjpeg decodes some noise without error, which made this test flaky.)
  for (size_t i = jpg.size() / 2; i < jpg.size() / 2 + 600; i += 2) {
    jpg[i] = std::byte{0xFF};
    jpg[i + 1] = std::byte{0x02};
  }
  r = make_jpeg_walker()->walk(ByteView::whole(jpg));
  CHECK(r.verdict == Verdict::invalid);
}

TEST_CASE("a JPEG split around a gap of noise is rebuilt by bifragment carving", "[walkers]") {
  TempDir dir;
  must_run(
      "/usr/bin/convert -seed 4 -size 400x300 plasma:fractal -attenuate 0.4 +noise Gaussian "
      "-quality 85 " +
      shell_quote((dir / "f.jpg").string()));
  auto jpg = slurp(dir / "f.jpg");
  REQUIRE(jpg.size() > 16384);
  const size_t cut = (jpg.size() / 2) / 512 * 512, gap = 7 * 512;
  std::vector<std::byte> disk(jpg.begin(), jpg.begin() + static_cast<std::ptrdiff_t>(cut));
  std::mt19937 rng(9);
  for (size_t i = 0; i < gap; ++i) disk.push_back(std::byte(rng() & 0xFF));
  disk.insert(disk.end(), jpg.begin() + static_cast<std::ptrdiff_t>(cut), jpg.end());
  disk.resize(disk.size() + 4096, std::byte{0});

  WalkResult r = make_jpeg_walker()->walk(ByteView::whole(disk));
  REQUIRE(r.verdict == Verdict::invalid);
  auto b = find_bifragment(ByteView::whole(disk), r.error_at, BifragmentLimits{});
  REQUIRE(b.has_value());
  CHECK(b->split == cut);
  CHECK(b->gap == gap);
  CHECK(b->end == cut + gap + (jpg.size() - cut));
}

TEST_CASE("SQLite databases: header, page size, page count, page 1", "[walkers]") {
  if (safehold::test::skip_without_fixtures()) return;
  auto chat = *safehold::test::fixtures() / "chat";
  for (const char* name :
       {"mmssms.db", "imessage_chat.db", "skype_main.db", "kik.sqlite", "wal_database.db"}) {
    INFO(name);
    auto db = slurp(chat / name);
    const Walker* w = Registry::builtin().identify(ByteView(db));
    REQUIRE(w != nullptr);
    CHECK(w->name() == "sqlite");
    WalkResult r = w->walk(ByteView::whole(db));
    CHECK(r.verdict == Verdict::valid);
    CHECK(r.length == db.size());
  }
  auto db = slurp(chat / "mmssms.db");
  db[100] = std::byte{0x42};  // page 1 is no b-tree page any more
  CHECK(make_sqlite_walker()->walk(ByteView::whole(db)).verdict == Verdict::invalid);
}

TEST_CASE("crafted structures that loop or claim huge sizes end quickly", "[walkers]") {
  // TIFF whose IFD points at itself.
  auto tiff = bytes(std::string("II*\0\x08\0\0\0", 8) +
                    std::string("\x01\0\x11\x01\x04\0\x01\0\0\0\x08\0\0\0", 14) +
                    std::string("\x08\0\0\0", 4));
  tiff.resize(64);
  WalkResult r = make_tiff_walker()->walk(ByteView::whole(tiff));
  CHECK(r.verdict != Verdict::need_more);
  // ISO-BMFF with a 64-bit box size of 2^62.
  auto mp4 = bytes(std::string("\0\0\0\x14"
                               "ftypisom\0\0\0\0isom",
                               20) +
                   std::string("\0\0\0\x01mdat\x40\0\0\0\0\0\0\0", 16));
  r = make_isobmff_walker()->walk(ByteView::whole(mp4));
  CHECK(r.verdict == Verdict::invalid);
  // RIFF claiming 4 GiB: asks for more, never reads past the view.
  auto riff = bytes(std::string("RIFF\xff\xff\xff\xffWEBPVP8 ", 16));
  r = make_riff_walker()->walk(ByteView(riff));
  CHECK(r.verdict == Verdict::need_more);
  // EBML with a doctype that is not Matroska.
  auto ebml =
      bytes(std::string("\x1a\x45\xdf\xa3\x87\x42\x82\x84"
                        "abcd",
                        12));
  CHECK(make_ebml_walker()->walk(ByteView::whole(ebml)).verdict == Verdict::invalid);
  // GIF whose sub-blocks never end within the data.
  auto gif = bytes(std::string("GIF89a\x01\0\x01\0\0\0\0\x21\xf9\xff", 16));
  CHECK(make_gif_walker()->walk(ByteView::whole(gif)).verdict == Verdict::need_more);
}

TEST_CASE("the --types names are parsed and unknown ones refused", "[walkers]") {
  CHECK(parse_types("chat") == std::set<std::string>{"sqlite"});
  CHECK(parse_types("jpg,heic,wmv") == std::set<std::string>{"jpeg", "heif", "asf"});
  CHECK(parse_types("all").size() == media_types().size() + 1);
  CHECK_THROWS_WITH(parse_types("jpeg,exe"), Catch::Contains("unknown type 'exe'"));
  CHECK(extension_fits("jpeg", "jpg"));
  CHECK_FALSE(extension_fits("jpeg", "dll"));
}
