// fs/: generated disks (MBR with an extended partition, and GPT) holding FAT32, ext4, NTFS and
// exFAT with known files, some deleted; the same disk as raw and as E01 (made by ewfacquire).
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <sstream>

#include "base/hash.hpp"
#include "fs/evidence.hpp"
#include "fs/image.hpp"
#include "fs/json.hpp"
#include "fs/reader.hpp"
#include "tests/common/support.hpp"

using namespace safehold;
using test::must_run;
using test::shell_quote;
namespace fsys = std::filesystem;

namespace {

struct Expected {
  std::string fs, path, state;
  uint64_t size;
};

std::vector<Expected> read_manifest(const fsys::path& dir) {
  std::vector<Expected> out;
  std::istringstream in(test::read_text(dir / "manifest.tsv"));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream l(line);
    Expected e;
    std::string size;
    std::getline(l, e.fs, '\t');
    std::getline(l, e.path, '\t');
    std::getline(l, e.state, '\t');
    std::getline(l, size, '\t');
    e.size = std::stoull(size);
    out.push_back(e);
  }
  return out;
}

void make_disk(const fsys::path& dir, const std::string& scheme) {
  must_run(shell_quote(test::source_dir() + "/tests/fixtures/make_disk.sh") + " " +
           shell_quote(dir.string()) + " " + scheme);
}

std::string ewfacquire(const fsys::path& raw, const fsys::path& target,
                       const std::string& compression) {
  must_run("ewfacquire -u -q -t " + shell_quote(target.string()) + " -c " + compression +
           " -C SAFEHOLD-CASE -D disk -E EXH-1 -e tester -N generated -f encase6 " +
           shell_quote(raw.string()));
  return target.string() + ".E01";
}

std::string content_sha256(fs::Evidence& ev, int filesystem, uint64_t inode) {
  base::MultiHasher h(4);
  auto problem = ev.read_file(filesystem, inode, [&](std::span<const std::byte> b) {
    h.update(b);
    return true;
  });
  REQUIRE_FALSE(problem);
  return h.finish().sha256;
}

// The FAT short name of a deleted entry loses its first character.
std::string fat_deleted_name(const std::string& path) {
  auto slash = path.rfind('/');
  return path.substr(0, slash + 1) + "_" + path.substr(slash + 2);
}

void check_disk(fs::Evidence& ev, const fsys::path& dir, const std::string& scheme) {
  CHECK(ev.volume_scheme() == scheme);
  REQUIRE(ev.filesystems().size() == 4);
  std::map<std::string, int> fs_index;
  for (auto& f : ev.filesystems()) fs_index[f.type] = f.index;
  REQUIRE(fs_index.count("fat32"));
  REQUIRE(fs_index.count("ext4"));
  REQUIRE(fs_index.count("ntfs"));
  REQUIRE(fs_index.count("exfat"));
  CHECK(ev.filesystems()[fs_index["fat32"]].label == "SAFEHOLDFAT");
  CHECK(ev.filesystems()[fs_index["ext4"]].label == "safeholdext");
  CHECK(ev.filesystems()[fs_index["ntfs"]].label == "SAFEHOLDNTFS");
  CHECK(ev.filesystems()[fs_index["exfat"]].label == "SAFEHOLDEXF");

  std::map<std::pair<int, std::string>, fs::FileEntry> seen;
  for (auto& f : ev.filesystems())
    ev.walk(f.index, [&](const fs::FileEntry& e) {
      seen[{f.index, e.path}] = e;
      return true;
    });
  for (const Expected& x : read_manifest(dir)) {
    int fi = fs_index.at(x.fs);
    INFO(x.fs << " " << x.path << " " << x.state);
    std::string path = x.path;
    if (x.state == "deleted" && x.fs == "fat32") path = fat_deleted_name(path);
    auto it = seen.find({fi, path});
    if (x.state == "deleted" && x.fs == "ext4") {
      // ext4 keeps the deleted name here but clears the block map: the entry is listed as deleted.
      if (it != seen.end()) CHECK(it->second.state == fs::FileState::deleted);
      continue;
    }
    REQUIRE(it != seen.end());
    const fs::FileEntry& e = it->second;
    CHECK(fs::to_string(e.state) == x.state);
    CHECK(e.size == x.size);
    // FAT keeps deleted files' first cluster and size; NTFS its runs; exFAT its chain: the
    // content comes back whole through the filesystem.
    std::string want = test::sha256_file(dir / "src" / x.fs / x.path.substr(1));
    CHECK(content_sha256(ev, fi, e.inode) == want);
    // Byte runs are image offsets: reading them directly gives the same bytes.
    if (!e.resident && x.size > 4096) {
      base::MultiHasher h(4);
      uint64_t total = 0;
      for (auto& r : e.byte_runs) {
        std::vector<std::byte> buf(r.len);
        REQUIRE(ev.image().read(r.img_offset, buf) == r.len);
        h.update(buf);
        total += r.len;
      }
      CHECK(total == x.size);
      CHECK(h.finish().sha256 == want);
    }
    CHECK(e.mtime.has_value());
  }
  // The 1 MiB gap after the ext4 partition is known as unpartitioned space.
  auto gaps = ev.unpartitioned();
  bool gap_found = false;
  for (auto& g : gaps)
    gap_found |= g.img_offset <= 57ull * 1048576 && g.img_offset + g.len >= 58ull * 1048576;
  CHECK(gap_found);
  // Unallocated blocks lie inside their filesystem and include the deleted ext4 file's blocks'
  // home.
  for (auto& f : ev.filesystems()) {
    auto un = ev.unallocated(f.index);
    CHECK_FALSE(un.empty());
    for (auto& r : un) {
      CHECK(r.img_offset >= f.offset);
      CHECK(r.img_offset + r.len <= f.offset + f.size);
    }
  }
}

std::string without_format_lines(const std::string& info_json) {
  auto j = nlohmann::json::parse(info_json);
  for (const char* k : {"image", "format", "segments", "ewf"}) j.erase(k);
  return j.dump();
}

}  // namespace

TEST_CASE("an MBR disk with FAT32, ext4, NTFS and exFAT (extended partition) lists its files",
          "[fs][disk][slow]") {
  test::TempDir dir("safehold-disk-mbr");
  make_disk(dir.path(), "mbr");
  auto raw = dir / "disk.raw";
  std::string raw_sha = test::sha256_file(raw);
  {
    auto ev = fs::Evidence::open(raw);
    check_disk(*ev, dir.path(), "dos");
    // The extended partition's logical volume and the tables are known as such.
    int meta = 0, unalloc = 0;
    for (auto& v : ev->volumes()) {
      meta += v.kind == fs::VolumeKind::meta;
      unalloc += v.kind == fs::VolumeKind::unallocated;
    }
    CHECK(meta >= 3);
    CHECK(unalloc >= 2);
  }
  CHECK(test::sha256_file(raw) == raw_sha);  // evidence is never written

  SECTION("the same disk as E01 gives identical info and ls output and file hashes") {
    auto e01 = ewfacquire(raw, dir / "disk", "deflate:fast");
    auto ev = fs::Evidence::open(e01);
    check_disk(*ev, dir.path(), "dos");
    const std::string v = shell_quote(test::safehold_binary());
    std::string info_raw = must_run(v + " info --json " + shell_quote(raw.string()));
    std::string info_e01 = must_run(v + " info --json " + shell_quote(e01));
    CHECK(without_format_lines(info_raw) == without_format_lines(info_e01));
    auto ej = nlohmann::json::parse(info_e01);
    CHECK(ej["format"] == "ewf");
    CHECK(ej["ewf"]["case_number"] == "SAFEHOLD-CASE");
    CHECK(ej["ewf"]["evidence_number"] == "EXH-1");
    CHECK(ej["ewf"]["md5"] == test::md5_file(raw));
    std::string ls_raw = must_run(v + " ls --json " + shell_quote(raw.string()));
    std::string ls_e01 = must_run(v + " ls --json " + shell_quote(e01));
    CHECK(ls_raw == ls_e01);
    CHECK(std::count(ls_raw.begin(), ls_raw.end(), '\n') > 40);
    std::string del = must_run(v + " ls --deleted " + shell_quote(e01));
    CHECK(del.find("/docs/gone2.txt") != std::string::npos);
    CHECK(del.find("/_one.bin") != std::string::npos);
    CHECK(del.find("/notes.txt") == std::string::npos);
  }
}

TEST_CASE("a GPT disk with the same four filesystems lists its files", "[fs][disk][slow]") {
  test::TempDir dir("safehold-disk-gpt");
  make_disk(dir.path(), "gpt");
  auto ev = fs::Evidence::open(dir / "disk.raw");
  check_disk(*ev, dir.path(), "gpt");
}

TEST_CASE("the whole-image reader's MD5 of an E01 equals md5sum of the raw image",
          "[fs][reader][slow]") {
  test::TempDir dir("safehold-reader");
  auto raw = dir / "mixed.raw";
  // Mixed content: zeros (compress), random (stay stored), text (compress), an odd tail.
  must_run("cd " + shell_quote(dir.path().string()) +
           " && { head -c 3000000 /dev/zero; { openssl enc -aes-128-ctr -nosalt -pass pass:x "
           "-pbkdf2 -in /dev/zero "
           "2>/dev/null || true; } | head -c 2000000; for i in $(seq 1 40000); do echo \"line $i "
           "of the text\"; done; "
           "head -c 777 /dev/zero; } > mixed.raw"
           // ewfacquire drops a trailing partial sector: keep whole sectors.
           " && truncate -s $(( $(stat -c %s mixed.raw) / 512 * 512 )) mixed.raw");
  std::string want = test::md5_file(raw);
  for (const char* c : {"deflate:fast", "none", "deflate:best"}) {
    INFO(c);
    auto e01 = ewfacquire(raw,
                          dir / (std::string("m-") + (c[0] == 'n'   ? "none"
                                                      : c[8] == 'f' ? "fast"
                                                                    : "best")),
                          c);
    base::MultiHasher h(1);
    uint64_t expect_off = 0;
    auto r = fs::read_sequential(e01, [&](uint64_t off, std::span<const std::byte> b) {
      CHECK(off == expect_off);
      expect_off += b.size();
      h.update(b);
      return true;
    });
    CHECK(r.used_raw_chunks);
    CHECK(r.errors.empty());
    CHECK(r.bytes == fsys::file_size(raw));
    CHECK(h.finish().md5 == want);
  }
}

TEST_CASE("EWF zero chunks: the reader hands them over as zero runs, TSK reads raw's bytes",
          "[fs][reader][ewf]") {
  test::TempDir dir("safehold-zeros");
  auto raw = dir / "z.raw";
  // Zero chunks, random data, zeros ending mid-chunk, a chunk of 0xFF, more zero chunks, a tail.
  must_run("cd " + shell_quote(dir.path().string()) +
           " && { head -c 1048576 /dev/zero; openssl rand 100000; head -c 700000 /dev/zero;"
           " head -c 32768 /dev/zero | tr '\\0' '\\377'; head -c 2097152 /dev/zero; openssl rand "
           "5376; } > z.raw");
  const std::string want = test::read_text(raw);
  REQUIRE(want.size() % 512 == 0);
  for (const char* c : {"deflate:fast", "deflate:best", "none"}) {
    INFO(c);
    auto e01 = ewfacquire(raw,
                          dir / (std::string("z-") + (c[0] == 'n'   ? "none"
                                                      : c[8] == 'f' ? "fast"
                                                                    : "best")),
                          c);
    std::string got;
    uint64_t zero_bytes = 0;
    fs::ReadOptions o;
    o.zeros = [&](uint64_t off, uint64_t len) {
      CHECK(off == got.size());
      got.append(len, '\0');
      zero_bytes += len;
      return true;
    };
    auto r = fs::read_sequential(
        e01,
        [&](uint64_t off, std::span<const std::byte> b) {
          CHECK(off == got.size());
          got.append(reinterpret_cast<const char*>(b.data()), b.size());
          return true;
        },
        o);
    CHECK(r.errors.empty());
    CHECK(r.bytes == want.size());
    CHECK(got == want);
    if (c[0] == 'n')
      CHECK(zero_bytes == 0);  // stored chunks are not recognised: they are read
    else
      CHECK(zero_bytes >= (2u << 20));  // all but the chunk it learns from
    // A window starting and ending inside zero chunks.
    got.clear();
    o.start = 40000;
    o.length = 3000000;
    o.zeros = [&](uint64_t off, uint64_t len) {
      CHECK(off == o.start + got.size());
      got.append(len, '\0');
      return true;
    };
    r = fs::read_sequential(
        e01,
        [&](uint64_t off, std::span<const std::byte> b) {
          CHECK(off == o.start + got.size());
          got.append(reinterpret_cast<const char*>(b.data()), b.size());
          return true;
        },
        o);
    CHECK(got == want.substr(40000, 3000000));

    // TSK's view of the E01 (Safehold's EWF backend): the raw bytes at every offset and length.
    auto img = fs::Image::open(e01);
    REQUIRE(img->size() == want.size());
    std::vector<std::byte> buf(200000);
    for (uint64_t off : {0ull, 1000ull, 32768ull - 100, 1048576ull - 7, 1048576ull + 99999,
                         2000000ull, 3900000ull}) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), want.size() - off));
      REQUIRE(img->read(off, std::span<std::byte>(buf.data(), n)) == n);
      CHECK(std::string(reinterpret_cast<const char*>(buf.data()), n) == want.substr(off, n));
    }
    std::string whole;
    for (uint64_t off = 0; off < want.size(); off += 65536) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(65536, want.size() - off));
      REQUIRE(img->read(off, std::span<std::byte>(buf.data(), n)) == n);
      whole.append(reinterpret_cast<const char*>(buf.data()), n);
    }
    CHECK(whole == want);

    // `safehold hash` hashes the zero runs without inflating them: the digests of the raw image.
    auto out = nlohmann::json::parse(
        must_run(shell_quote(test::safehold_binary()) + " hash --json " + shell_quote(e01)));
    auto d = base::hash_file(raw);
    CHECK(out["md5"] == d.md5);
    CHECK(out["sha1"] == d.sha1);
    CHECK(out["sha256"] == d.sha256);
    CHECK(out["bytes"] == want.size());
    CHECK(out["errors"].empty());
  }
}

TEST_CASE("a corrupted chunk is reported with its offset", "[fs][reader][slow]") {
  test::TempDir dir("safehold-corrupt");
  auto raw = dir / "text.raw";
  must_run("cd " + shell_quote(dir.path().string()) +
           " && for i in $(seq 1 60000); do printf 'record %08d\\n' $i; done > text.raw");
  auto e01 = ewfacquire(raw, dir / "t", "none");
  // Flip one byte of the stored data of the chunk holding "record 00030000" (uncompressed
  // chunks hold the media bytes as they are).
  std::string data = test::read_text(e01);
  std::string raw_data = test::read_text(raw);
  const std::string needle = "record 00030000\n";
  auto in_e01 = data.find(needle);
  auto in_raw = raw_data.find(needle);
  REQUIRE(in_e01 != std::string::npos);
  data[in_e01 + 3] ^= 0x20;
  test::write_text(e01, data);
  const uint64_t chunk = 32768;
  const uint64_t bad_chunk_offset = in_raw / chunk * chunk;
  auto r = fs::read_sequential(e01, [&](uint64_t, std::span<const std::byte>) { return true; });
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].img_offset == bad_chunk_offset);
  CHECK(r.errors[0].message == "chunk " + std::to_string(bad_chunk_offset / chunk) +
                                   " (image bytes " + std::to_string(bad_chunk_offset) + "-" +
                                   std::to_string(bad_chunk_offset + chunk - 1) +
                                   ") cannot be read: its Adler-32 does not match its data");
  CHECK(r.bytes == raw_data.size());
}
