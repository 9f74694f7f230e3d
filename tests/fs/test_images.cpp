// fs/: every fixture in ../shared/fixtures/images opens and gives its known facts.
#include <catch2/catch.hpp>
#include <set>

#include "base/format.hpp"
#include "base/hash.hpp"
#include "base/json.hpp"
#include "fs/evidence.hpp"
#include "fs/json.hpp"
#include "fs/reader.hpp"
#include "tests/common/support.hpp"

using namespace safehold;
using safehold::test::fixtures;
using safehold::test::skip_without_fixtures;

namespace {

std::set<std::string> allocated_paths(fs::Evidence& ev, int filesystem = 0) {
  std::set<std::string> out;
  ev.walk(filesystem, [&](const fs::FileEntry& e) {
    if (e.state == fs::FileState::allocated && e.type != "virtual") out.insert(e.path);
    return true;
  });
  return out;
}

std::string file_sha256(fs::Evidence& ev, int filesystem, const std::string& path) {
  uint64_t inode = 0;
  bool found = false;
  ev.walk(filesystem, [&](const fs::FileEntry& e) {
    if (e.path == path && e.state == fs::FileState::allocated) {
      inode = e.inode;
      found = true;
      return false;
    }
    return true;
  });
  REQUIRE(found);
  base::MultiHasher h(4);
  auto problem = ev.read_file(filesystem, inode, [&](std::span<const std::byte> b) {
    h.update(b);
    return true;
  });
  REQUIRE_FALSE(problem);
  return h.finish().sha256;
}

const std::set<std::string> kExt2Files = {
    "/a_directory",   "/a_directory/a_file", "/a_directory/another_file",
    "/passwords.txt", "/lost+found",         "/a_link"};

}  // namespace

TEST_CASE("ext2.E01 opens with its metadata, filesystem and files", "[fs][fixtures]") {
  if (skip_without_fixtures()) return;
  auto ev = fs::Evidence::open(*fixtures() / "images/ext2.E01");
  CHECK(ev->image().format() == fs::ImageFormat::ewf);
  CHECK(ev->image().size() == 4194304);
  REQUIRE(ev->image().ewf_metadata());
  CHECK(ev->image().ewf_metadata()->case_number == "case");
  CHECK(ev->image().ewf_metadata()->examiner == "examiner");
  CHECK(ev->image().ewf_metadata()->md5 == "196066add11fb71c4c49cf1bb50d6d24");
  CHECK(ev->volume_scheme() == "none");
  REQUIRE(ev->filesystems().size() == 1);
  CHECK(ev->filesystems()[0].type == "ext2");
  CHECK(ev->filesystems()[0].label == "ext2_test");
  CHECK(allocated_paths(*ev) == kExt2Files);
}

TEST_CASE("a split E01 opened by its first segment lists the same files as ext2.E01",
          "[fs][fixtures]") {
  if (skip_without_fixtures()) return;
  auto split = fs::Evidence::open(*fixtures() / "images/ext2.split.E01");
  CHECK(split->image().segments().size() == 2);
  auto single = fs::Evidence::open(*fixtures() / "images/ext2.E01");
  CHECK(allocated_paths(*split) == allocated_paths(*single));
  CHECK(file_sha256(*split, 0, "/passwords.txt") == file_sha256(*single, 0, "/passwords.txt"));
}

TEST_CASE("split raw .000/.001 opens as one image", "[fs][fixtures]") {
  if (skip_without_fixtures()) return;
  auto ev = fs::Evidence::open(*fixtures() / "images/ext2.splitraw.000");
  CHECK(ev->image().format() == fs::ImageFormat::split_raw);
  CHECK(ev->image().segments().size() == 2);
  CHECK(ev->image().size() == 4194304);
  CHECK(allocated_paths(*ev) == kExt2Files);
}

TEST_CASE("ISO 9660, HFS+ and VHD fixtures open", "[fs][fixtures]") {
  if (skip_without_fixtures()) return;
  auto iso = fs::Evidence::open(*fixtures() / "images/iso9660.raw");
  REQUIRE(iso->filesystems().size() == 1);
  CHECK(iso->filesystems()[0].type == "iso9660");
  CHECK(iso->filesystems()[0].label == "CDROM");
  auto hfs = fs::Evidence::open(*fixtures() / "images/hfsplus.raw");
  REQUIRE(hfs->filesystems().size() == 1);
  CHECK(hfs->filesystems()[0].type == "hfsplus");
  CHECK(hfs->filesystems()[0].label == "hfsplus_test");
  CHECK(allocated_paths(*hfs).count("/passwords.txt") == 1);
  auto vhd = fs::Evidence::open(*fixtures() / "images/image.vhd");
  CHECK(vhd->image().format() == fs::ImageFormat::vhd);
  REQUIRE(vhd->filesystems().size() == 1);
  CHECK(vhd->filesystems()[0].type == "ext2");
}

TEST_CASE("the APFS container's files are listed through the pool", "[fs][fixtures]") {
  if (skip_without_fixtures()) return;
  auto ev = fs::Evidence::open(*fixtures() / "images/apfs.raw");
  REQUIRE(ev->filesystems().size() == 1);
  CHECK(ev->filesystems()[0].type == "apfs");
  auto paths = allocated_paths(*ev);
  CHECK(paths.count("/passwords.txt") == 1);
  CHECK(paths.count("/a_directory/a_file") == 1);
  CHECK(paths.count("/a_directory/another_file") == 1);
  // Byte runs are image offsets: the content read through them equals the file's content.
  ev->walk(0, [&](const fs::FileEntry& e) {
    if (e.path != "/a_directory/a_file") return true;
    REQUIRE(e.byte_runs.size() == 1);
    std::vector<std::byte> direct(e.size);
    ev->image().read(e.byte_runs[0].img_offset, direct);
    std::string via_fs;
    ev->read_file(0, e.inode, [&](std::span<const std::byte> b) {
      via_fs.append(reinterpret_cast<const char*>(b.data()), b.size());
      return true;
    });
    CHECK(std::string(reinterpret_cast<const char*>(direct.data()), direct.size()) == via_fs);
    return false;
  });
}

TEST_CASE("bogus.001 and missing files give one clear error", "[fs][fixtures]") {
  if (skip_without_fixtures()) return;
  auto bogus = *fixtures() / "images/bogus.001";
  auto ev = fs::Evidence::open(bogus);
  CHECK(ev->filesystems().empty());
  REQUIRE(ev->problems().size() == 1);
  CHECK(ev->problems()[0].message.rfind("no filesystem recognised", 0) == 0);
  auto r = test::run(test::safehold_binary() + " info " + test::shell_quote(bogus.string()));
  CHECK(r.exit_code == 1);
  CHECK(r.err == "safehold: " + bogus.string() +
                     ": no partition table or filesystem recognised in 50.0 KiB of raw data\n");
  CHECK(r.out.empty());
  CHECK_THROWS_WITH(fs::Evidence::open("/nonexistent/x.E01"), "/nonexistent/x.E01: no such file");
  auto r2 = test::run(test::safehold_binary() + " ls /nonexistent/x.E01");
  CHECK(r2.exit_code == 1);
  CHECK(r2.err == "safehold: /nonexistent/x.E01: no such file\n");
}

TEST_CASE("the whole-image reader's MD5 of the fixture E01s equals the stored MD5",
          "[fs][fixtures][reader]") {
  if (skip_without_fixtures()) return;
  for (const char* name : {"images/ext2.E01", "images/ext2.split.E01"}) {
    base::MultiHasher h(1);
    auto r = fs::read_sequential(*fixtures() / name, [&](uint64_t, std::span<const std::byte> b) {
      h.update(b);
      return true;
    });
    INFO(name);
    CHECK(r.used_raw_chunks);
    CHECK(r.errors.empty());
    CHECK(r.bytes == 4194304);
    CHECK(h.finish().md5 == "196066add11fb71c4c49cf1bb50d6d24");
  }
  // Split raw through the fallback path gives the same bytes.
  base::MultiHasher h(1);
  auto r = fs::read_sequential(*fixtures() / "images/ext2.splitraw.000",
                               [&](uint64_t, std::span<const std::byte> b) {
                                 h.update(b);
                                 return true;
                               });
  CHECK_FALSE(r.used_raw_chunks);
  CHECK(h.finish().md5 == "196066add11fb71c4c49cf1bb50d6d24");
}

TEST_CASE("printable escapes control characters and invalid UTF-8 from evidence names", "[fs]") {
  CHECK(base::printable("plain/name.jpg") == "plain/name.jpg");
  CHECK(base::printable("a\nb\x1b[31m") == "a\\x0ab\\x1b[31m");
  CHECK(base::printable("caf\xc3\xa9") == "caf\xc3\xa9");
  CHECK(base::printable("bad\xff\xfe") == "bad\\xff\\xfe");
  CHECK(base::printable("c1\xc2\x9b") == "c1\\xc2\\x9b");
}

TEST_CASE("human_size and to_iso8601 format sizes and times for people", "[fs]") {
  CHECK(base::human_size(0) == "0 B");
  CHECK(base::human_size(1023) == "1023 B");
  CHECK(base::human_size(1024) == "1.0 KiB");
  CHECK(base::human_size(1536) == "1.5 KiB");
  CHECK(base::human_size(1073741824ull) == "1.0 GiB");
  CHECK(base::human_size(8ull << 40) == "8.0 TiB");
  CHECK(base::human_size(~0ull) == "16384.0 PiB");
  // Rates and progress: one decimal at every size, fractions of a byte included.
  CHECK(base::human_bytes(0) == "0.0 B");
  CHECK(base::human_bytes(0.5) == "0.5 B");
  CHECK(base::human_bytes(1023) == "1023.0 B");
  CHECK(base::human_bytes(1536) == "1.5 KiB");
  CHECK(base::human_bytes(734003200.0) == "700.0 MiB");
  CHECK(fs::to_iso8601(fs::Timestamp{0, 0}) == "1970-01-01T00:00:00Z");
  CHECK(fs::to_iso8601(fs::Timestamp{1700000000, 500000000}) == "2023-11-14T22:13:20.5Z");
}
