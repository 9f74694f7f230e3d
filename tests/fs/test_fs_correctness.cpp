// fs/: issue 18 item 4, filesystem correctness checked against The Sleuth Kit's own tools on
// images made at test time: NTFS named streams (ntfscp -N) listed as fls lists them and readable,
// sparse files (holes) with every byte run istat shows, raw disks of 4096-byte sectors (mkfs.fat
// -S 4096) read as fls -b 4096 reads them, exFAT times with each entry's UTC offset.
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <sstream>

#include "base/hash.hpp"
#include "base/json.hpp"
#include "fs/evidence.hpp"
#include "tests/common/support.hpp"

using namespace safehold;
using test::must_run;
using test::shell_quote;
namespace fsys = std::filesystem;

namespace {

// `fls -r -p -u`: allocated names with full paths; metafiles ($...) left out.
std::set<std::string> fls_paths(const fsys::path& image) {
  std::set<std::string> out;
  std::istringstream in(must_run("fls -r -p -u " + shell_quote(image.string())));
  std::string line;
  while (std::getline(in, line)) {
    auto tab = line.find('\t');
    if (tab == std::string::npos) continue;
    std::string path = "/" + line.substr(tab + 1);
    if (path.rfind("/$", 0) == 0) continue;
    out.insert(path);
  }
  return out;
}

// istat's block list of a file ("Direct Blocks:" or the runs of one NTFS attribute).
std::vector<uint64_t> istat_blocks(const std::string& istat_out, const std::string& after) {
  std::vector<uint64_t> blocks;
  auto at = istat_out.find(after);
  REQUIRE(at != std::string::npos);
  std::istringstream in(istat_out.substr(at + after.size()));
  std::string line;
  std::getline(in, line);  // rest of the heading line
  while (std::getline(in, line)) {
    if (line.empty() || !std::isdigit(static_cast<unsigned char>(line[0]))) break;
    std::istringstream l(line);
    uint64_t b;
    while (l >> b) blocks.push_back(b);
  }
  return blocks;
}

std::string sha256_of(fs::Evidence& ev, const fs::FileEntry& e) {
  base::MultiHasher h(4);
  auto p = ev.read_file(e, [&](std::span<const std::byte> b) {
    h.update(b);
    return true;
  });
  REQUIRE_FALSE(p);
  return h.finish().sha256;
}

}  // namespace

TEST_CASE("issue 18: NTFS named streams are listed as fls lists them and read as streams",
          "[fs][ntfs][streams]") {
  test::TempDir dir("safehold-ads");
  auto img = dir / "ntfs.raw";
  const std::string q = shell_quote(img.string()), d = shell_quote(dir.path().string());
  must_run(
      "cd " + d + " && truncate -s 8M ntfs.raw && mkntfs -F -f -q -L ADS ntfs.raw 2>/dev/null" +
      " && printf 'plain notes\\n' > notes.txt && head -c 5000 /dev/urandom > hidden.bin" +
      " && convert -size 64x48 plasma:fractal hidden.jpg 2>/dev/null || cp hidden.bin hidden.jpg");
  must_run("cd " + d + " && ntfscp -q ntfs.raw notes.txt notes.txt" +
           " && ntfscp -q -N hidden ntfs.raw hidden.bin notes.txt" +
           " && ntfscp -q -N 'picture one' ntfs.raw hidden.jpg notes.txt" +
           " && ntfscp -q -N small ntfs.raw notes.txt notes.txt");
  auto ev = fs::Evidence::open(img);
  REQUIRE(ev->filesystems().size() == 1);
  REQUIRE(ev->filesystems()[0].type == "ntfs");
  std::set<std::string> ours;
  std::map<std::string, fs::FileEntry> by_path;
  ev->walk(0, [&](const fs::FileEntry& e) {
    if (e.state == fs::FileState::allocated && e.path.rfind("/$", 0) != 0) ours.insert(e.path);
    by_path[e.path] = e;
    return true;
  });
  CHECK(ours == fls_paths(img));
  CHECK(ours == std::set<std::string>{"/notes.txt", "/notes.txt:hidden", "/notes.txt:picture one",
                                      "/notes.txt:small"});

  const auto& hidden = by_path.at("/notes.txt:hidden");
  const auto& plain = by_path.at("/notes.txt");
  CHECK(hidden.stream == "hidden");
  CHECK(hidden.name == "notes.txt:hidden");
  CHECK(hidden.inode == plain.inode);
  CHECK(hidden.size == 5000);
  CHECK(hidden.type == "file");
  CHECK(plain.stream.empty());
  CHECK(plain.size == 12);
  // Content: each stream's own bytes, the file's default data untouched.
  CHECK(sha256_of(*ev, hidden) == test::sha256_file(dir / "hidden.bin"));
  CHECK(sha256_of(*ev, by_path.at("/notes.txt:picture one")) ==
        test::sha256_file(dir / "hidden.jpg"));
  CHECK(sha256_of(*ev, by_path.at("/notes.txt:small")) == test::sha256_file(dir / "notes.txt"));
  CHECK(sha256_of(*ev, plain) == test::sha256_file(dir / "notes.txt"));
  CHECK(by_path.at("/notes.txt:small").resident);
  // Byte runs: the clusters istat gives for the attribute, as image offsets.
  const std::string istat = must_run("istat " + q + " " + std::to_string(plain.inode));
  auto blocks = istat_blocks(istat, "Name: hidden   Non-Resident   size: 5000");
  REQUIRE_FALSE(blocks.empty());
  const uint64_t bs = ev->filesystems()[0].block_size;
  REQUIRE(hidden.byte_runs.size() == 1);
  CHECK(hidden.byte_runs[0].img_offset == blocks[0] * bs);
  CHECK(hidden.byte_runs[0].len == 5000);
  CHECK(blocks.size() == (5000 + bs - 1) / bs);

  // `ls` prints the streams as fls does, with the file's inode.
  auto ls = must_run(shell_quote(test::safehold_binary()) + " ls --json " + q);
  std::istringstream lines(ls);
  std::string line;
  int streams = 0;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("stream") && j["path"].get<std::string>().rfind("/notes.txt:", 0) == 0) {
      ++streams;
      CHECK(j["path"] == "/notes.txt:" + j["stream"].get<std::string>());
      CHECK(j["inode"] == plain.inode);
    }
  }
  CHECK(streams == 3);
}

TEST_CASE("issue 18: a sparse file's byte runs are all of its runs, holes included",
          "[fs][ext4][sparse]") {
  test::TempDir dir("safehold-sparse");
  const std::string d = shell_quote(dir.path().string());
  // A 20 KiB SQLite-sized file with data in its first and last KiB and a hole between.
  must_run("cd " + d + " && mkdir src && head -c 1024 /dev/urandom > src/db.sqlite" +
           " && head -c 1024 /dev/urandom | dd of=src/db.sqlite bs=1024 seek=19 conv=notrunc " +
           "2>/dev/null && truncate -s 4M e4.raw && mke2fs -q -t ext4 -b 1024 -d src e4.raw");
  auto img = dir / "e4.raw";
  auto ev = fs::Evidence::open(img);
  REQUIRE(ev->filesystems().size() == 1);
  fs::FileEntry db;
  ev->walk(0, [&](const fs::FileEntry& e) {
    if (e.path == "/db.sqlite") db = e;
    return true;
  });
  REQUIRE(db.size == 20480);
  // istat's direct blocks: 0 is a hole.
  auto blocks =
      istat_blocks(must_run("istat " + shell_quote(img.string()) + " " + std::to_string(db.inode)),
                   "Direct Blocks:");
  REQUIRE(blocks.size() == 20);
  std::vector<fs::ByteRun> want;
  for (uint64_t i = 0; i < blocks.size(); ++i) {
    const bool sparse = blocks[i] == 0;
    if (!want.empty() && want.back().sparse == sparse &&
        (sparse || want.back().img_offset + want.back().len == blocks[i] * 1024)) {
      want.back().len += 1024;
      continue;
    }
    want.push_back({i * 1024, sparse ? 0 : blocks[i] * 1024, 1024, sparse});
  }
  REQUIRE(want.size() == 3);
  REQUIRE(db.byte_runs.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    INFO("run " << i);
    CHECK(db.byte_runs[i].file_offset == want[i].file_offset);
    CHECK(db.byte_runs[i].len == want[i].len);
    CHECK(db.byte_runs[i].sparse == want[i].sparse);
    CHECK(db.byte_runs[i].img_offset == want[i].img_offset);
  }
  // The runs give the content: data runs read from the image, holes as zeros.
  std::string via_runs;
  for (auto& r : db.byte_runs) {
    if (r.sparse) {
      via_runs.append(r.len, '\0');
      continue;
    }
    std::vector<std::byte> b(r.len);
    ev->image().read(r.img_offset, b);
    via_runs.append(reinterpret_cast<const char*>(b.data()), b.size());
  }
  CHECK(via_runs == test::read_text(dir / "src/db.sqlite"));
}

TEST_CASE("issue 18: a raw disk of 4096-byte sectors is read in 4096-byte sectors",
          "[fs][sector-size]") {
  test::TempDir dir("safehold-4k");
  const std::string d = shell_quote(dir.path().string());
  // FAT with 4096-byte sectors in a partition that starts at sector 256 (1 MiB) of 4096 bytes.
  must_run("cd " + d + " && mkfs.fat -S 4096 -n FOURK -C part.raw 7168 >/dev/null" +
           " && seq 1 5000 > numbers.txt && mmd -i part.raw ::/docs" +
           " && mcopy -i part.raw numbers.txt ::/docs/numbers.txt && truncate -s 8M disk.raw" +
           " && dd if=part.raw of=disk.raw bs=4096 seek=256 conv=notrunc 2>/dev/null");
  std::string disk = test::read_text(dir / "disk.raw");
  auto put32 = [&](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) disk[at + i] = static_cast<char>(v >> (8 * i));
  };
  disk[446 + 4] = 0x0e;  // FAT16 LBA
  put32(446 + 8, 256);
  put32(446 + 12, 1792);
  disk[510] = 0x55;
  disk[511] = static_cast<char>(0xAA);
  test::write_text(dir / "disk.raw", disk);
  auto img = dir / "disk.raw";
  const std::string q = shell_quote(img.string());

  auto ev = fs::Evidence::open(img);
  CHECK(ev->image().sector_size() == 4096);
  CHECK(ev->volume_scheme() == "dos");
  REQUIRE(ev->filesystems().size() == 1);
  CHECK(ev->filesystems()[0].offset == 1048576);
  CHECK(ev->filesystems()[0].label == "FOURK");
  std::set<std::string> ours;
  ev->walk(0, [&](const fs::FileEntry& e) {
    if (e.state == fs::FileState::allocated && e.path.rfind("/$", 0) != 0) ours.insert(e.path);
    return true;
  });
  // fls told the sector size and the partition's start.
  std::set<std::string> theirs;
  std::istringstream in(must_run("fls -b 4096 -o 256 -r -p -u " + q));
  std::string line;
  while (std::getline(in, line))
    if (auto tab = line.find('\t'); tab != std::string::npos && line[tab + 1] != '$')
      theirs.insert("/" + line.substr(tab + 1));
  CHECK(ours == theirs);
  CHECK(ours.count("/docs/numbers.txt") == 1);

  // Overridden to 512, the partition table points where no filesystem is.
  auto wrong = fs::Evidence::open(img, true, 512);
  CHECK(wrong->image().sector_size() == 512);
  CHECK(wrong->filesystems().empty());
  auto ls = test::run(shell_quote(test::safehold_binary()) + " ls --sector-size 4096 " + q);
  CHECK(ls.exit_code == 0);
  CHECK(ls.out.find("/docs/numbers.txt") != std::string::npos);
  auto bad = test::run(shell_quote(test::safehold_binary()) + " ls --sector-size 1000 " + q);
  CHECK(bad.exit_code == 1);
  CHECK(bad.err == "safehold: --sector-size: 1000 is not one of 512, 1024, 2048, 4096\n");
}

TEST_CASE("issue 18: exFAT times are converted with each entry's UTC offset", "[fs][exfat]") {
  test::TempDir dir("safehold-exfat");
  auto img = dir / "exfat.raw";
  must_run("cd " + shell_quote(dir.path().string()) +
           " && truncate -s 8M exfat.raw && mkfs.exfat -L TZ exfat.raw >/dev/null");
  std::string d = test::read_text(img);
  auto u32 = [&](size_t at) {
    return uint32_t(static_cast<uint8_t>(d[at])) | uint32_t(static_cast<uint8_t>(d[at + 1])) << 8 |
           uint32_t(static_cast<uint8_t>(d[at + 2])) << 16 |
           uint32_t(static_cast<uint8_t>(d[at + 3])) << 24;
  };
  const uint64_t sector = uint64_t{1} << static_cast<uint8_t>(d[108]);
  const uint64_t cluster = sector << static_cast<uint8_t>(d[109]);
  const uint64_t root = u32(88) * sector + (u32(96) - 2) * cluster;
  uint64_t slot = root;
  while (d[slot] != 0) slot += 32;
  // Written 2024-03-10 12:34:56 local time (DOS timestamp), created 2023-01-02 03:04:06.50.
  const uint32_t written = (2024 - 1980) << 25 | 3 << 21 | 10 << 16 | 12 << 11 | 34 << 5 | 28;
  const uint32_t created = (2023 - 1980) << 25 | 1 << 21 | 2 << 16 | 3 << 11 | 4 << 5 | 3;
  // One file entry set (file 0x85, stream 0xC0, name 0xC1) per UTC-offset byte.
  auto add = [&](const std::string& name, uint8_t offset) {
    std::string set(96, '\0');
    set[0] = static_cast<char>(0x85);
    set[1] = 2;
    set[4] = 0x20;  // archive
    for (int f : {8, 12, 16}) {
      uint32_t v = f == 8 ? created : written;
      for (int i = 0; i < 4; ++i) set[f + i] = static_cast<char>(v >> (8 * i));
    }
    set[20] = 50;  // created + 0.50 s
    set[22] = set[23] = set[24] = static_cast<char>(offset);
    set[32] = static_cast<char>(0xC0);
    set[33] = 1;  // allocation possible; empty file
    set[35] = static_cast<char>(name.size());
    set[64] = static_cast<char>(0xC1);
    for (size_t i = 0; i < name.size(); ++i) set[66 + 2 * i] = name[i];
    uint16_t sum = 0;
    for (size_t i = 0; i < set.size(); ++i)
      if (i != 2 && i != 3)
        sum = static_cast<uint16_t>(((sum & 1) ? 0x8000 : 0) + (sum >> 1) +
                                    static_cast<uint8_t>(set[i]));
    set[2] = static_cast<char>(sum & 0xff);
    set[3] = static_cast<char>(sum >> 8);
    d.replace(slot, set.size(), set);
    slot += set.size();
  };
  add("plus2.txt", 0x80 | 8);             // UTC+02:00
  add("minus5.txt", 0x80 | (0x80 - 20));  // UTC-05:00
  add("plus545.txt", 0x80 | 23);          // UTC+05:45
  add("none.txt", 0);                     // no offset recorded
  test::write_text(img, d);

  auto ev = fs::Evidence::open(img);
  REQUIRE(ev->filesystems().size() == 1);
  REQUIRE(ev->filesystems()[0].type == "exfat");
  std::map<std::string, fs::FileEntry> by_path;
  ev->walk(0, [&](const fs::FileEntry& e) {
    by_path[e.path] = e;
    return true;
  });
  struct Want {
    std::string path, mtime, crtime;
  };
  for (const Want& w : {Want{"/plus2.txt", "2024-03-10T10:34:56Z", "2023-01-02T01:04:06.5Z"},
                        Want{"/minus5.txt", "2024-03-10T17:34:56Z", "2023-01-02T08:04:06.5Z"},
                        Want{"/plus545.txt", "2024-03-10T06:49:56Z", "2023-01-01T21:19:06.5Z"},
                        Want{"/none.txt", "2024-03-10T12:34:56Z", "2023-01-02T03:04:06.5Z"}}) {
    INFO(w.path);
    REQUIRE(by_path.count(w.path) == 1);
    const auto& e = by_path.at(w.path);
    CHECK(fs::to_iso8601(e.mtime).value_or("-") == w.mtime);
    CHECK(fs::to_iso8601(e.atime).value_or("-") == w.mtime);
    CHECK(fs::to_iso8601(e.crtime).value_or("-") == w.crtime);
    // istat (TSK) shows the entry's wall-clock time whatever the offset.
    auto istat =
        must_run("TZ=UTC istat " + shell_quote(img.string()) + " " + std::to_string(e.inode));
    CHECK(istat.find("Written:\t2024-03-10 12:34:56") != std::string::npos);
  }
}

TEST_CASE("an exFAT volume's label is read from its root directory, at once", "[fs][exfat]") {
  // TSK's exFAT fsstat (the label's only other source) runs for minutes on a fresh 16 MiB volume.
  test::TempDir dir("safehold-exfat-label");
  must_run("cd " + shell_quote(dir.path().string()) +
           " && truncate -s 16M plain.raw && mkfs.exfat plain.raw >/dev/null"
           " && truncate -s 16M named.raw && mkfs.exfat -L 'Exhibit 7b' named.raw >/dev/null");
  auto plain = fs::Evidence::open(dir / "plain.raw");
  REQUIRE(plain->filesystems().size() == 1);
  CHECK(plain->filesystems()[0].type == "exfat");
  CHECK(plain->filesystems()[0].label.empty());
  auto named = fs::Evidence::open(dir / "named.raw");
  REQUIRE(named->filesystems().size() == 1);
  CHECK(named->filesystems()[0].label == "Exhibit 7b");
}
