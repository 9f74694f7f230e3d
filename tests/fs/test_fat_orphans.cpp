// fs/fat_orphans: the FAT orphan search split around the clusters TSK's walk finds nothing in
// lists exactly what TSK's plain walk lists (orphans included), on FAT12, FAT16 and FAT32 images
// with small clusters, deleted directories, entries planted far out in free space, and noise.
#include <catch2/catch.hpp>
#include <sstream>

#include "fs/evidence.hpp"
#include "fs/internal/fat_orphans.hpp"
#include "tests/common/support.hpp"

using namespace safehold;
using test::must_run;
using test::shell_quote;
namespace fsys = std::filesystem;

namespace {

// Every field a walk reports, one line per entry, in walk order.
std::string listing(fs::Evidence& ev, int filesystem, size_t* orphans) {
  std::ostringstream out;
  ev.walk(filesystem, [&](const fs::FileEntry& e) {
    out << e.path << '|' << e.inode << '|' << e.size << '|' << e.type << '|'
        << fs::to_string(e.state) << '|' << fs::to_iso8601(e.mtime).value_or("-") << '|'
        << fs::to_iso8601(e.crtime).value_or("-") << '|' << e.resident;
    for (auto& r : e.byte_runs)
      out << ' ' << r.file_offset << ':' << r.img_offset << ':' << r.len << ':' << r.sparse;
    out << '\n';
    if (e.state == fs::FileState::orphan) ++*orphans;
    return true;
  });
  return out.str();
}

// A FAT image with one-sector clusters: a tree of files, a deleted directory (its entries become
// orphans), deleted files, a directory entry sector planted 3/4 of the way into free space,
// random noise after it, and zeros everywhere else.
fsys::path make_fat(const test::TempDir& t, int bits, int sectors) {
  fsys::path img = t / ("fat" + std::to_string(bits) + ".img");
  fsys::path src = t / "src";
  std::string q = shell_quote(img.string()), s = shell_quote(src.string());
  must_run("rm -rf " + s + " && mkdir -p " + s +
           " && for i in 1 2 3 4 5 6; do head -c $((i * 1500 + 7)) /dev/urandom > " + s +
           "/F$i.JPG; done");
  must_run("dd if=/dev/zero of=" + q + " bs=512 count=" + std::to_string(sectors) +
           " status=none && mkfs.vfat -F " + std::to_string(bits) + " -s 1 -S 512 -n ORPHANS " + q +
           " >/dev/null");
  must_run("export MTOOLS_SKIP_CHECK=1; mmd -i " + q +
           " ::/DCIM ::/DCIM/OLD ::/DCIM/OLD/SUB ::/KEEP && mcopy -i " + q + " " + s + "/F1.JPG " +
           s + "/F2.JPG ::/DCIM/OLD/ && mcopy -i " + q + " " + s +
           "/F3.JPG ::/DCIM/OLD/SUB/ && mcopy -i " + q + " " + s + "/F4.JPG " + s +
           "/F5.JPG ::/DCIM/ && mcopy -i " + q + " " + s + "/F6.JPG ::/KEEP/ && mdeltree -i " + q +
           " ::/DCIM/OLD && mdel -i " + q + " ::/DCIM/F5.JPG");
  // A sector of plausible directory entries (a file ORPHAN.JPG, 2 KiB at cluster 40, and one at
  // cluster 50) where no directory ever was, then 64 KiB of noise.
  const long planted = sectors * 3L / 4;
  must_run(
      "python3 -c \"import struct,sys\n"
      "def e(n,c,sz): return n + bytes([0x20,0,0]) + "
      "struct.pack('<HHHHHHHI',0x6000,0x5a21,0x5a21,0,0x6000,0x5a21,c,sz)\n"
      "d=e(b'ORPHAN  JPG',40,2048)+e(b'SECOND  JPG',50,3000)\n"
      "sys.stdout.buffer.write(d+bytes(512-len(d)))\" | dd of=" +
      q + " bs=512 seek=" + std::to_string(planted) + " conv=notrunc status=none");
  must_run("head -c 65536 /dev/urandom | dd of=" + q +
           " bs=512 seek=" + std::to_string(planted + 200) + " conv=notrunc status=none");
  return img;
}

}  // namespace

TEST_CASE(
    "FAT fast paths: the filtered orphan search and the unallocated space equal TSK's plain walks",
    "[fs][fat]") {
  test::TempDir t;
  struct Case {
    int bits, sectors;
  };
  for (Case c : {Case{12, 4000}, Case{16, 40000}, Case{32, 140000}}) {
    INFO("FAT" << c.bits);
    fsys::path img = make_fat(t, c.bits, c.sectors);
    auto ev = fs::Evidence::open(img);
    REQUIRE(ev->filesystems().size() == 1);
    size_t orphans_plain = 0, orphans_fast = 0;
    fs::detail::set_fat_orphan_filter(false);
    const uint64_t before = fs::detail::fat_orphan_sectors_skipped();
    std::string plain = listing(*ev, 0, &orphans_plain);
    CHECK(fs::detail::fat_orphan_sectors_skipped() == before);
    fs::detail::set_fat_orphan_filter(true);
    // A fresh Evidence: TSK keeps the orphan list of a filesystem once found.
    auto ev2 = fs::Evidence::open(img);
    std::string fast = listing(*ev2, 0, &orphans_fast);
    CHECK(fs::detail::fat_orphan_sectors_skipped() > before);  // the filter did skip something
    CHECK(fast == plain);
    // The planted entries are orphans; the deleted directory's files are listed under it.
    CHECK(orphans_plain == 2);
    CHECK(orphans_fast == orphans_plain);
    CHECK(plain.find("/$OrphanFiles/ORPHAN.JPG|") != std::string::npos);
    CHECK(plain.find("/$OrphanFiles/SECOND.JPG|") != std::string::npos);
    CHECK(plain.find("/DCIM/_LD/_UB/_3.JPG|") != std::string::npos);
    CHECK(ev->problems().size() == ev2->problems().size());
    // Unallocated space from one read of the FAT equals TSK's block walk.
    fs::detail::set_fat_orphan_filter(false);
    auto plain_un = ev->unallocated(0);
    fs::detail::set_fat_orphan_filter(true);
    auto fast_un = ev2->unallocated(0);
    REQUIRE(fast_un.size() == plain_un.size());
    CHECK_FALSE(plain_un.empty());
    for (size_t i = 0; i < plain_un.size(); ++i) {
      CHECK(fast_un[i].img_offset == plain_un[i].img_offset);
      CHECK(fast_un[i].len == plain_un[i].len);
    }
  }
}
