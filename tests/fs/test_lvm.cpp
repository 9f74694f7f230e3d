// fs/: issue 18 item 2, LVM2 volume groups. Physical volumes are made at test time by LVM's own
// tools on loop devices with activation off (tests/fs/make_lvm.sh: pvcreate, vgcreate, lvcreate,
// lvextend; no device-mapper), and the logical volumes' filesystems (ext4 by mkfs.ext4 -d, FAT by
// mkfs.fat and mcopy) written into their extents at the offsets pvs/lvs report. A logical volume
// grown by lvextend after another was made lies in two separate extents: it must list exactly
// what its filesystem image lists, its files' byte runs must point at their bytes in the image,
// and carve must find its JPEG. A physical volume missing from the image and damaged metadata
// are one sentence each, exit 2.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "base/json.hpp"
#include "tests/common/support.hpp"

using namespace safehold;
using test::must_run;
using test::quote_path;
using test::run_safehold;
using test::shell_quote;
namespace fsys = std::filesystem;

namespace {

// The fixtures of tests/fs/make_lvm.sh in `dir`; false (the test skipped, said) when loop
// devices cannot be made here (not root).
bool make_fixtures(const test::TempDir& dir, const std::string& vg) {
  if (::geteuid() != 0 || test::run("command -v pvcreate losetup").exit_code != 0) {
    WARN("skipped: LVM fixtures need root and losetup (loop devices)");
    return false;
  }
  must_run("bash " + quote_path(fsys::path(test::source_dir()) / "tests/fs/make_lvm.sh") + " " +
           quote_path(dir.path()) + " " + vg);
  return true;
}

// `ls` of a filesystem image, its lines renumbered as filesystem `index` of another image.
std::string ls_as(const fsys::path& img, int index) {
  auto r = run_safehold("ls " + quote_path(img));
  REQUIRE(r.exit_code == 0);
  std::istringstream in(r.out);
  std::string out;
  for (std::string line; std::getline(in, line);) {
    REQUIRE(line.size() > 2);
    REQUIRE(line[1] == '0');
    out += line.substr(0, 1) + std::to_string(index) + line.substr(2) + "\n";
  }
  return out;
}

// The bytes a listed file's byte runs point at in the image.
std::string bytes_at_runs(const fsys::path& img, const nlohmann::json& entry) {
  std::ifstream in(img, std::ios::binary);
  std::string out;
  for (const auto& r : entry["byte_runs"]) {
    std::string b(r["len"].get<size_t>(), '\0');
    in.seekg(r["img_offset"].get<std::streamoff>());
    in.read(b.data(), static_cast<std::streamsize>(b.size()));
    REQUIRE(in.gcount() == static_cast<std::streamsize>(b.size()));
    out += b;
  }
  return out;
}

}  // namespace

TEST_CASE("issue 18: LVM logical volumes are listed, read and carved", "[fs][lvm]") {
  test::TempDir dir("safehold-lvm");
  const std::string vg = "shtest" + std::to_string(::getpid());
  if (!make_fixtures(dir, vg)) return;
  CHECK(test::read_text(dir / "layout.txt") == "lvone 0 0 1\nlvone 2 3 3\nlvtwo 0 2 2\n");
  const std::string expected = ls_as(dir / "lvone.fs", 0) + ls_as(dir / "lvtwo.fs", 1);
  REQUIRE(expected.find("/big.bin") != std::string::npos);

  for (const auto& [img, pv_start] :
       {std::pair{dir / "pv.img", uint64_t{0}}, std::pair{dir / "disk.img", uint64_t{1048576}}}) {
    INFO(img.filename().string());
    auto ls = run_safehold("ls " + quote_path(img));
    CHECK(ls.exit_code == 0);
    CHECK(ls.err == "");
    CHECK(ls.out == expected);

    auto info = run_safehold("info --json " + quote_path(img));
    REQUIRE(info.exit_code == 0);
    auto j = nlohmann::json::parse(info.out);
    // The physical volume: the whole image, or the MBR's partition (volume 2, after the table
    // and the unallocated space before it); its logical volumes are the last two volumes.
    const auto& vols = j["volumes"];
    const size_t pv = pv_start ? 2 : 0, n = vols.size();
    REQUIRE(n == (pv_start ? 6 : 3));
    CHECK(vols[pv]["description"].get<std::string>().find(
              " (LVM physical volume pv0 of volume group " + vg + ")") != std::string::npos);
    // lvone: 12 MiB from the first extent (1 MiB into the PV); lvtwo: extent 2.
    CHECK(vols[n - 2] == nlohmann::json({{"index", n - 2},
                                         {"start", pv_start + 1048576},
                                         {"length", 12582912},
                                         {"kind", "logical"},
                                         {"description", "LVM logical volume " + vg + "/lvone"},
                                         {"scheme", "lvm"}}));
    CHECK(vols[n - 1] == nlohmann::json({{"index", n - 1},
                                         {"start", pv_start + 9437184},
                                         {"length", 4194304},
                                         {"kind", "logical"},
                                         {"description", "LVM logical volume " + vg + "/lvtwo"},
                                         {"scheme", "lvm"}}));
    CHECK(j["volume_scheme"] == (pv_start ? "dos" : "lvm"));
    REQUIRE(j["filesystems"].size() == 2);
    CHECK(j["filesystems"][0]["type"] == "ext4");
    CHECK(j["filesystems"][0]["offset"] == pv_start + 1048576);
    CHECK(j["filesystems"][1]["type"] == "fat12");
    CHECK(j["filesystems"][1]["offset"] == pv_start + 9437184);

    // Every file's byte runs point at its bytes in the image (big.bin crosses from lvone's
    // first extent to its second, 4 MiB further on).
    auto lsj = run_safehold("ls --json " + quote_path(img));
    REQUIRE(lsj.exit_code == 0);
    std::istringstream lines(lsj.out);
    int checked = 0;
    for (std::string line; std::getline(lines, line);) {
      auto e = nlohmann::json::parse(line);
      if (e["type"] != "file" || e["size"] == 0) continue;
      const fsys::path src =
          dir / (e["filesystem"] == 0 ? "src1" : "src2") / e["path"].get<std::string>().substr(1);
      if (!fsys::exists(src)) continue;  // lost+found and the like
      INFO(e["path"]);
      std::string content = bytes_at_runs(img, e);
      content.resize(e["size"].get<size_t>());
      CHECK(content == test::read_text(src));
      if (e["path"] == "/big.bin") CHECK(e["byte_runs"].size() >= 2);
      ++checked;
    }
    CHECK(checked == 4);  // big.bin, a.txt, the JPEG, B.TXT

    const fsys::path out = dir / ("carve-" + img.stem().string());
    auto carve = run_safehold("carve --json " + quote_path(img) + " -o " + quote_path(out));
    CHECK(carve.exit_code == 0);
    bool found = false;
    std::istringstream report(test::read_text(out / "report.jsonl"));
    for (std::string line; std::getline(report, line);) {
      auto a = nlohmann::json::parse(line);
      if (a.value("path", "") == "/DCIM/IMG_0001.jpg") {
        found = true;
        CHECK(a["sha256"] == test::sha256_file(dir / "src1/DCIM/IMG_0001.jpg"));
      }
    }
    CHECK(found);
    auto s = nlohmann::json::parse(test::read_text(out / "summary.json"));
    CHECK(s["complete"] == true);
  }
}

TEST_CASE("issue 18: an LVM physical volume missing, LVM metadata damaged", "[fs][lvm]") {
  test::TempDir dir("safehold-lvm-bad");
  const std::string vg = "shbad" + std::to_string(::getpid());
  if (!make_fixtures(dir, vg)) return;
  std::string uuid = test::read_text(dir / "other-uuid.txt");
  while (!uuid.empty() && uuid.back() == '\n') uuid.pop_back();
  REQUIRE(uuid.size() == 38);

  // half.img: lvhere (on this PV) is read, lvthere (on the missing one) is named.
  const std::string half = (dir / "half.img").string();
  const std::string why = "cannot be read: it lies on physical volume pv1 (UUID " + uuid +
                          "), which is not in this image";
  auto ls = run_safehold("ls " + quote_path(half));
  CHECK(ls.exit_code == 2);
  CHECK(ls.out == ls_as(dir / "lvtwo.fs", 0));
  CHECK(ls.err == "safehold: volume 2 (LVM logical volume " + vg + "b/lvthere): " + why +
                      "\nsafehold: " + half + ": volume 2 (LVM logical volume " + vg +
                      "b/lvthere) " + why + ": its files were not examined\n");
  auto info = run_safehold("info --json " + quote_path(half));
  CHECK(info.exit_code == 2);
  CHECK(nlohmann::json::parse(info.out)["volumes"][2]["unreadable"] == why);
  auto carve = run_safehold("carve --json " + quote_path(half) + " -o " + quote_path(dir / "half"));
  CHECK(carve.exit_code == 2);
  // Every sector but the filesystem's allocated ones (the metadata, free extents) is carved raw:
  // as much as carving lvtwo.fs alone leaves out; the summary names the volume not examined.
  auto two = run_safehold("carve --json " + quote_path(dir / "lvtwo.fs") + " -o " +
                          quote_path(dir / "two"));
  REQUIRE(two.exit_code == 0);
  const auto s2 = nlohmann::json::parse(test::read_text(dir / "two" / "summary.json"));
  const auto s = nlohmann::json::parse(test::read_text(dir / "half" / "summary.json"));
  CHECK(s["carve_space"] == 12582912 - (4194304 - s2["carve_space"].get<uint64_t>()));
  CHECK(s["complete"] == true);
  REQUIRE(s["errors"].size() == 1);
  CHECK(s["errors"][0]["message"] == why);

  // Damaged metadata: one byte of the current metadata text changed (its checksum then fails:
  // the text's offset in the area is the header's first raw location), and the metadata area's
  // header signature overwritten.
  must_run("cd " + quote_path(dir.path()) + " && cp pv.img text.img && cp disk.img hdr.img" +
           " && at=$(od -An -tu8 -j $((4096+40)) -N8 pv.img | tr -d ' ')" +
           " && printf X | dd of=text.img bs=1 seek=$((4096+at+2)) conv=notrunc status=none" +
           " && printf XXXX | dd of=hdr.img bs=1 seek=$((1048576+4096+8)) conv=notrunc " +
           "status=none");
  const std::string text = (dir / "text.img").string();
  auto t = run_safehold("ls " + quote_path(text));
  CHECK(t.exit_code == 2);
  CHECK(t.out == "");
  CHECK(t.err == "safehold: " + text +
                     " image: is an LVM physical volume whose metadata cannot be read: its "
                     "metadata text's checksum does not match\n");
  const std::string hdr = (dir / "hdr.img").string();
  auto h = run_safehold("info " + quote_path(hdr));
  CHECK(h.exit_code == 2);
  CHECK(h.err == "safehold: " + hdr +
                     ": volume 2 (Linux Logical Volume Manager (0x8e)) is an LVM physical "
                     "volume whose metadata cannot be read: its metadata area header has no LVM2 "
                     "signature: its files were not examined\n");
  CHECK(h.out.find("Problem: volume 2 (Linux Logical Volume Manager (0x8e)): " + hdr +
                   " volume 2 (Linux Logical Volume Manager (0x8e)): is an LVM physical volume "
                   "whose metadata cannot be read: its metadata area header has no LVM2 "
                   "signature\n") != std::string::npos);
}

// LUKS inside a logical volume (lvtwo, contiguous): found and opened as on a partition; and LVM
// inside a LUKS volume.
TEST_CASE("issue 18: LUKS2 inside an LVM logical volume, LVM inside a LUKS2 volume", "[fs][lvm]") {
  test::TempDir dir("safehold-lvm-luks");
  const std::string vg = "shluks" + std::to_string(::getpid());
  if (!make_fixtures(dir, vg)) return;
  // lvtwo's 4 MiB: a 2 MiB FAT with one file, encrypted in place (the header takes 1 MiB).
  must_run(
      "cd " + quote_path(dir.path()) +
      " && truncate -s 4M two.fs && mkfs.fat -C -F 12 small.fat 2048" +
      " >/dev/null && printf 'inside luks in lv\\n' > T.TXT && mcopy -i small.fat T.TXT ::/T.TXT" +
      " && dd if=small.fat of=two.fs conv=notrunc status=none && printf pw-lv-test > pass" +
      " && cryptsetup reencrypt --batch-mode --encrypt --type luks2 --pbkdf pbkdf2" +
      " --pbkdf-force-iterations 1000 --luks2-metadata-size 16k --luks2-keyslots-size 256k" +
      " --reduce-device-size 1M -d pass two.fs 2>/dev/null" +
      " && cp pv.img luks.img && dd if=two.fs of=luks.img bs=1M seek=9 conv=notrunc status=none");
  const fsys::path img = dir / "luks.img";
  auto locked = run_safehold("ls " + quote_path(img));
  CHECK(locked.exit_code == 2);
  CHECK(locked.out == ls_as(dir / "lvone.fs", 0));
  CHECK(locked.err.find("safehold: " + img.string() +
                        ": volume 2 is an encrypted LUKS2 volume (aes-xts-plain64, 512-bit key) "
                        "and no key was given") != std::string::npos);
  auto open = run_safehold("ls --key 2=pw-lv-test " + quote_path(img));
  CHECK(open.exit_code == 0);
  CHECK(open.err == "");
  CHECK(open.out == ls_as(dir / "lvone.fs", 0) + ls_as(dir / "small.fat", 1));

  // LVM on LUKS: the whole physical volume encrypted in place (the data moved 4 MiB on); with
  // the key its logical volumes are found in the decrypted volume and read through it.
  must_run("cd " + quote_path(dir.path()) + " && cp pv.img lp.img && truncate -s 32M lp.img" +
           " && cryptsetup reencrypt --batch-mode --encrypt --type luks2 --pbkdf pbkdf2" +
           " --pbkdf-force-iterations 1000 --reduce-device-size 8M -d pass lp.img");
  const fsys::path lp = dir / "lp.img";
  auto lp_locked = run_safehold("ls " + quote_path(lp));
  CHECK(lp_locked.exit_code == 2);
  CHECK(lp_locked.out == "");
  auto lp_ls = run_safehold("ls --key 0=pw-lv-test " + quote_path(lp));
  CHECK(lp_ls.exit_code == 0);
  CHECK(lp_ls.err == "");
  CHECK(lp_ls.out == ls_as(dir / "lvone.fs", 0) + ls_as(dir / "lvtwo.fs", 1));
  auto lp_info = run_safehold("info --json --key 0=pw-lv-test " + quote_path(lp));
  REQUIRE(lp_info.exit_code == 0);
  const auto j = nlohmann::json::parse(lp_info.out);
  REQUIRE(j["volumes"].size() == 3);
  CHECK(j["volumes"][0]["encryption"]["unlocked"] == true);
  CHECK(j["volumes"][0]["description"] ==
        "whole image (LVM physical volume pv0 of volume group " + vg + ")");
  // Image offsets of the encrypted sectors that hold them: after the LUKS data offset.
  const uint64_t data = std::stoull(
      must_run("cryptsetup luksDump " + quote_path(lp) +
               " | sed -n 's/^[[:space:]]*offset: *\\([0-9]*\\) \\[bytes\\]/\\1/p' | head -1"));
  CHECK(data == 4194304);
  CHECK(j["volumes"][1]["description"] == "LVM logical volume " + vg + "/lvone");
  CHECK(j["volumes"][1]["start"] == data + 1048576);
  CHECK(j["volumes"][2]["start"] == data + 9437184);
  CHECK(j["filesystems"][0]["encryption"] == "LUKS2");
  CHECK(j["filesystems"][1]["type"] == "fat12");
}
