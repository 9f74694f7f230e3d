// fs/: issue 18 item 2, LUKS1 and LUKS2 volumes and the keys that open them. An ext4 image with
// known files is made at test time and encrypted in place by `cryptsetup reencrypt --encrypt`
// (no device-mapper needed for a file), LUKS2 with 512- and 4096-byte sectors, LUKS1 by
// `cryptsetup convert`. With the key, `ls` must list exactly what it lists of the plain image
// and `carve` find the same files; without it the volume is listed as encrypted (exit 2) and
// its raw sectors carved; a wrong key, a key naming no volume, a key file others can read are
// refused with one sentence. The passphrase never reaches an output, nor /proc/PID/cmdline.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "base/json.hpp"
#include "fs/keys.hpp"
#include "tests/common/support.hpp"

using namespace safehold;
using test::must_run;
using test::quote_path;
using test::run_safehold;
using test::shell_quote;
namespace fsys = std::filesystem;

namespace {

const std::string kPass = "Tr0ub4dor-crypt-test";

// plain.img: a 24 MiB file whose first 16 MiB are an ext4 filesystem with a JPEG, a text file and
// a 70 KB file (4096-byte blocks: cryptsetup refuses 4096-byte sectors over smaller blocks); then
// luks2.img, luks2-4k.img (4096-byte sectors) and luks1.img, the same file encrypted in place
// (cryptsetup moves the data 8 MiB on and puts the header before it).
struct Images {
  fsys::path plain, luks1, luks2, luks2_4k, jpeg;
};

Images make_images(const test::TempDir& dir) {
  const std::string d = quote_path(dir.path());
  must_run("cd " + d + " && mkdir -p src/DCIM src/notes" +
           " && head -c 70000 /dev/urandom > src/notes/blob.bin && printf 'hello\\n' > src/a.txt" +
           " && convert -size 160x120 plasma:fractal src/DCIM/IMG_0001.jpg" +
           " && truncate -s 24M plain.img && mkfs.ext4 -q -F -b 4096 -d src plain.img 16M" +
           " && printf %s " + shell_quote(kPass) + " > pass.txt");
  const std::string enc =
      "cryptsetup reencrypt --batch-mode --encrypt --type luks2 --pbkdf pbkdf2 "
      "--pbkdf-force-iterations 1000 --reduce-device-size 8M -d pass.txt ";
  must_run("cd " + d + " && cp plain.img luks2.img && " + enc + "luks2.img" +
           " && cp plain.img luks2-4k.img && " + enc + "--sector-size 4096 luks2-4k.img" +
           " && cp luks2.img luks1.img && cryptsetup convert --batch-mode --type luks1 luks1.img");
  return {dir / "plain.img", dir / "luks1.img", dir / "luks2.img", dir / "luks2-4k.img",
          dir / "src/DCIM/IMG_0001.jpg"};
}

std::string uuid_of(const fsys::path& p) {
  std::string u = must_run("cryptsetup luksUUID " + quote_path(p));
  while (!u.empty() && (u.back() == '\n' || u.back() == ' ')) u.pop_back();
  return u;
}

// Every file the output folder holds, concatenated: no secret may be in any of them.
std::string all_outputs(const fsys::path& dir) {
  std::string all;
  for (auto& e : fsys::recursive_directory_iterator(dir))
    if (e.is_regular_file()) all += test::read_text(e.path());
  return all;
}

}  // namespace

TEST_CASE("issue 18: LUKS1 and LUKS2 volumes opened with their passphrase", "[fs][luks]") {
  test::TempDir dir("safehold-luks");
  const Images im = make_images(dir);
  auto plain_ls = run_safehold("ls " + quote_path(im.plain));
  REQUIRE(plain_ls.exit_code == 0);
  REQUIRE(plain_ls.out.find("/DCIM/IMG_0001.jpg") != std::string::npos);
  auto plain_carve = run_safehold("carve --json --no-unallocated " + quote_path(im.plain) + " -o " +
                                  quote_path(dir / "p"));
  REQUIRE(plain_carve.exit_code == 0);
  const auto plain_artefacts = nlohmann::json::parse(plain_carve.out)["artefacts"];
  REQUIRE(plain_artefacts.get<int>() >= 1);

  for (const auto& [img, scheme] : {std::pair{im.luks1, "LUKS1"}, std::pair{im.luks2, "LUKS2"},
                                    std::pair{im.luks2_4k, "LUKS2"}}) {
    INFO(img.filename().string());
    const std::string key = "--key " + shell_quote("0=" + kPass) + " ";
    auto ls = run_safehold("ls " + key + quote_path(img));
    CHECK(ls.exit_code == 0);
    CHECK(ls.err == "");
    CHECK(ls.out == plain_ls.out);

    auto info = run_safehold("info --json " + key + quote_path(img));
    REQUIRE(info.exit_code == 0);
    auto j = nlohmann::json::parse(info.out);
    CHECK(j["volumes"][0]["encryption"] ==
          nlohmann::json({{"scheme", scheme},
                          {"cipher", "aes-xts-plain64, 512-bit key"},
                          {"identifier", uuid_of(img)},
                          {"unlock", "passphrase or key file"},
                          {"unlocked", true}}));
    CHECK(j["filesystems"][0]["type"] == "ext4");
    CHECK(j["filesystems"][0]["encryption"] == scheme);

    // The same volume named by its UUID (upper case, braces) and by its byte offset.
    std::string upper = uuid_of(img);
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    CHECK(
        run_safehold("ls --key " + shell_quote("{" + upper + "}=" + kPass) + " " + quote_path(img))
            .out == plain_ls.out);
    CHECK(run_safehold("ls --key " + shell_quote("@0=" + kPass) + " " + quote_path(img)).out ==
          plain_ls.out);

    const fsys::path out = dir / ("carve-" + img.stem().string());
    auto carve = run_safehold("carve --json --no-unallocated " + key + quote_path(img) + " -o " +
                              quote_path(out));
    CHECK(carve.exit_code == 0);
    CHECK(nlohmann::json::parse(carve.out)["artefacts"] == plain_artefacts);
    // The JPEG is carved with its path and exactly its bytes.
    bool found = false;
    std::istringstream report(test::read_text(out / "report.jsonl"));
    for (std::string line; std::getline(report, line);) {
      auto a = nlohmann::json::parse(line);
      if (a.value("path", "") == "/DCIM/IMG_0001.jpg") {
        found = true;
        CHECK(a["sha256"] == test::sha256_file(im.jpeg));
      }
    }
    CHECK(found);
    CHECK(all_outputs(out).find(kPass) == std::string::npos);
    CHECK(test::read_text(out / "dfxml.xml").find("--key 0=…") != std::string::npos);
  }
}

TEST_CASE("issue 18: a LUKS volume without its key, with a wrong key, keys that name nothing",
          "[fs][luks]") {
  test::TempDir dir("safehold-luks-locked");
  const Images im = make_images(dir);
  const std::string path = im.luks2.string();
  const std::string locked =
      "safehold: " + path +
      ": volume 0 is an encrypted LUKS2 volume (aes-xts-plain64, 512-bit key) and no key was "
      "given: its "
      "files were not examined (unlock it with a passphrase or key file: --key 0=…)\n";

  auto info = run_safehold("info " + quote_path(im.luks2));
  CHECK(info.exit_code == 2);
  CHECK(info.err == locked);
  CHECK(info.out.find("encrypted: LUKS2 (aes-xts-plain64, 512-bit key), UUID " + uuid_of(im.luks2) +
                      ", unlocked by a passphrase or key file: locked (no key given)\n") !=
        std::string::npos);
  CHECK(info.out.find("Filesystems:\n  none recognised\n") != std::string::npos);

  auto ls = run_safehold("ls " + quote_path(im.luks2));
  CHECK(ls.exit_code == 2);
  CHECK(ls.out == "");
  CHECK(ls.err ==
        "safehold: image: is an encrypted LUKS2 volume and no key was given (unlock it with "
        "--key 0=PASSPHRASE)\n" +
            locked);

  // Its raw sectors are still carved: the whole image is read in pass 2.
  auto carve =
      run_safehold("carve --json " + quote_path(im.luks2) + " -o " + quote_path(dir / "locked"));
  CHECK(carve.exit_code == 2);
  auto s = nlohmann::json::parse(test::read_text(dir / "locked" / "summary.json"));
  CHECK(s["bytes_read"] == fsys::file_size(im.luks2));
  CHECK(s["complete"] == true);

  auto wrong = run_safehold("ls --key 0=not-the-passphrase " + quote_path(im.luks2));
  CHECK(wrong.exit_code == 1);
  CHECK(wrong.err == "safehold: " + path +
                         " image: the key given by --key 0=… does not unlock this LUKS2 volume "
                         "(no key slot accepts it)\n");
  CHECK(wrong.err.find("not-the-passphrase") == std::string::npos);

  auto nowhere = run_safehold("ls --key 3=" + shell_quote(kPass) + " " + quote_path(im.luks2));
  CHECK(nowhere.exit_code == 1);
  CHECK(nowhere.err == "safehold: " + path +
                           ": --key 3=… names volume '3', which is not an encrypted volume of "
                           "this image (encrypted volumes: 0)\n");
  auto malformed = run_safehold("ls --key " + shell_quote(kPass) + " " + quote_path(im.luks2));
  CHECK(malformed.exit_code == 1);
  CHECK(malformed.err ==
        "safehold: --key: a key is given as VOLUME=SECRET (VOLUME: the volume's number as `info` "
        "lists it, @BYTE-OFFSET, or its UUID/GUID)\n");

  // A key file: refused unless only its owner may read it; then it opens the volume.
  const fsys::path keys = dir / "keys.txt";
  test::write_text(keys, "# the suspect's laptop\n\n0=" + kPass + "\n");
  ::chmod(keys.c_str(), 0644);
  auto open_keys = run_safehold("ls --keys " + quote_path(keys) + " " + quote_path(im.luks2));
  CHECK(open_keys.exit_code == 1);
  CHECK(open_keys.err == "safehold: " + keys.string() +
                             ": key file refused: it must be owned by you with mode 0600 or "
                             "stricter (it is mode 0644)\n");
  ::chmod(keys.c_str(), 0600);
  auto with_keys = run_safehold("ls --keys " + quote_path(keys) + " " + quote_path(im.luks2));
  CHECK(with_keys.exit_code == 0);
  CHECK(with_keys.out == run_safehold("ls " + quote_path(im.plain)).out);
  test::write_text(keys, "0=" + kPass + "\nnonsense\n");
  auto bad_line = run_safehold("ls --keys " + quote_path(keys) + " " + quote_path(im.luks2));
  CHECK(bad_line.exit_code == 1);
  CHECK(bad_line.err == "safehold: " + keys.string() +
                            " line 2: a key is given as VOLUME=SECRET (VOLUME: the volume's "
                            "number as `info` lists it, @BYTE-OFFSET, or its UUID/GUID)\n");

  // A key file's content as the passphrase (cryptsetup's --key-file).
  auto keyfile =
      run_safehold("ls --key " + shell_quote("0=keyfile:" + (dir / "pass.txt").string()) + " " +
                   quote_path(im.luks2));
  CHECK(keyfile.exit_code == 0);
}

// LUKS2's default key derivation (cryptsetup luksFormat without --pbkdf): Argon2id, through
// Debian's libargon2; and Argon2i. Small costs keep the test fast; the right passphrase lists the
// plain image's files, a wrong one is refused with the same sentence as for PBKDF2.
TEST_CASE("issue 18: LUKS2 key slots derived with Argon2id and Argon2i open", "[fs][luks]") {
  test::TempDir dir("safehold-luks-argon");
  const std::string d = quote_path(dir.path());
  must_run("cd " + d + " && mkdir -p src && printf 'argon\\n' > src/a.txt" +
           " && truncate -s 24M plain.img && mkfs.ext4 -q -F -b 4096 -d src plain.img 16M" +
           " && printf %s " + shell_quote(kPass) + " > pass.txt");
  const std::string plain = run_safehold("ls " + quote_path(dir / "plain.img")).out;
  REQUIRE(plain.find("a.txt") != std::string::npos);
  for (const std::string kdf : {"argon2id", "argon2i"}) {
    INFO(kdf);
    const auto img = dir / (kdf + ".img");
    must_run("cd " + d + " && cp plain.img " + kdf + ".img && cryptsetup reencrypt --batch-mode " +
             "--encrypt --type luks2 --pbkdf " + kdf + " --pbkdf-memory 64 " +
             "--pbkdf-force-iterations 4 --pbkdf-parallel 2 --reduce-device-size 8M -d pass.txt " +
             kdf + ".img");
    REQUIRE(must_run("cryptsetup luksDump " + quote_path(img)).find("PBKDF:      " + kdf) !=
            std::string::npos);
    auto ok = run_safehold("ls --key 0=" + shell_quote(kPass) + " " + quote_path(img));
    CHECK(ok.exit_code == 0);
    CHECK(ok.out == plain);
    auto wrong = run_safehold("ls --key 0=not-it " + quote_path(img));
    CHECK(wrong.exit_code == 1);
    CHECK(wrong.err == "safehold: " + img.string() +
                           " image: the key given by --key 0=… does not unlock this LUKS2 volume "
                           "(no key slot accepts it)\n");
  }
}

// A hostile header's Argon2 costs are bounded before anything is computed.
TEST_CASE("issue 18: LUKS2 Argon2 costs beyond cryptsetup's are refused", "[fs][luks]") {
  test::TempDir dir("safehold-luks-argon-cost");
  const std::string d = quote_path(dir.path());
  must_run("cd " + d + " && truncate -s 20M a.img && printf secret | cryptsetup luksFormat " +
           "--batch-mode --type luks2 --pbkdf argon2id --pbkdf-memory 32 " +
           "--pbkdf-force-iterations 4 a.img -d -");
  // Rewrite both header copies' JSON with a huge time cost (each area keeps its size).
  test::write_text(dir / "cost.py", R"PY(
import json, struct, sys
f = open(sys.argv[1], 'r+b'); f.seek(8); hdr = struct.unpack('>Q', f.read(8))[0]
for base in (0, hdr):
    f.seek(base + 4096); area = f.read(hdr - 4096)
    j = json.loads(area.split(b'\0', 1)[0]); j['keyslots']['0']['kdf']['time'] = 9999999
    new = json.dumps(j, separators=(',', ':')).encode()
    f.seek(base + 4096); f.write(new.ljust(len(area), b'\0'))
)PY");
  must_run("python3 " + quote_path(dir / "cost.py") + " " + quote_path(dir / "a.img"));
  auto r = run_safehold("ls " + quote_path(dir / "a.img"));
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("key slot 0's Argon2 costs (time 9999999, memory 32 KiB, ") !=
        std::string::npos);
}

TEST_CASE("issue 18: --key secrets are gone from /proc/PID/cmdline while safehold runs",
          "[fs][luks]") {
  test::TempDir dir("safehold-key-argv");
  // A FIFO as the image: safehold blocks opening it until this test opens the other end, which
  // proves it has parsed its arguments by then.
  const fsys::path fifo = dir / "image.fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const std::string exe = test::safehold_binary();
  const std::string secret_arg = "0=" + kPass;
  const std::string joined_arg = "--key=1=" + kPass;
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execl(exe.c_str(), exe.c_str(), "ls", "--key", secret_arg.c_str(), joined_arg.c_str(),
            fifo.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int fd = -1;
  int status = 0;
  bool exited = false;
  while (fd < 0 && !exited) {
    fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);  // ENXIO until safehold opens it
    if (fd < 0) {
      exited = ::waitpid(pid, &status, WNOHANG) == pid;
      ::usleep(1000);
    }
  }
  REQUIRE(!exited);
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // safehold would now block opening the FIFO again: it is ended (the child this test started).
  ::kill(pid, SIGKILL);
  ::close(fd);
  ::waitpid(pid, &status, 0);
  CHECK(cmdline.find(kPass) == std::string::npos);
  std::string shown = cmdline;
  std::replace(shown.begin(), shown.end(), '\0', ' ');
  CHECK(shown.find("ls --key 0=xxxxxxxxxxxxxxxxxxxx --key=1=xxxxxxxxxxxxxxxxxxxx ") !=
        std::string::npos);
}

TEST_CASE("issue 18: key syntax", "[fs][luks]") {
  auto k = fs::parse_volume_key("2=123456-123456-123456-123456-123456-123456-123456-123456", "t");
  CHECK(k.kind == fs::SecretKind::recovery_password);
  CHECK(k.names(2, 0, ""));
  CHECK_FALSE(k.names(1, 0, ""));
  auto p = fs::parse_volume_key("@1048576=password:a=b", "t");
  CHECK(p.kind == fs::SecretKind::password);
  CHECK(p.secret == "a=b");
  CHECK(p.names(5, 1048576, ""));
  auto f = fs::parse_volume_key("{AF141F75-3379-403F-990D-260B5E667BC0}=keyfile:/k.bek", "t");
  CHECK(f.kind == fs::SecretKind::key_file);
  CHECK(f.names(0, 0, "af141f75-3379-403f-990d-260b5e667bc0"));
  CHECK_THROWS_WITH(fs::parse_volume_key("0=recovery:12-34", "--key 0=…"),
                    "--key 0=…: a recovery password is 8 groups of 6 digits separated by dashes");
  CHECK_THROWS_WITH(fs::parse_volume_key("0=", "--key 0=…"), "--key 0=…: the secret is empty");
  char a0[] = "safehold", a1[] = "ls", a2[] = "--key", a3[] = "0=pw=x", a4[] = "--key=1=s",
       a5[] = "--keys", a6[] = "f", a7[] = "--key", a8[] = "secret";
  char* argv[] = {a0, a1, a2, a3, a4, a5, a6, a7, a8};
  fs::scrub_key_arguments(9, argv);
  CHECK(std::string(a3) == "0=xxxx");
  CHECK(std::string(a4) == "--key=1=x");
  CHECK(std::string(a6) == "f");
  CHECK(std::string(a8) == "xxxxxx");
}

TEST_CASE("issue 18: BitLocker and FileVault 2 volumes are listed as encrypted, never as empty",
          "[fs][luks]") {
  // The headers Safehold recognises written into an MBR partition of random data: a BitLocker
  // one libbde cannot read (real BitLocker volumes: tests/fs/test_bitlocker.cpp) and a
  // CoreStorage one; their raw sectors must then be carved and a key must be refused.
  test::TempDir dir("safehold-bde");
  const std::string d = quote_path(dir.path());
  must_run("cd " + d + " && head -c 4194304 /dev/urandom > disk.img" +
           " && echo 'start=2048, type=7' | sfdisk -q disk.img" +
           " && printf -- '-FVE-FS-' | dd of=disk.img bs=1 seek=$((2048*512+3)) conv=notrunc" +
           " 2>/dev/null && cp disk.img cs.img" +
           // CoreStorage: the OEM name gone, format version 1 (bytes 8-9), "CS" at byte 88.
           " && printf 'XXXXX\\001\\000' | dd of=cs.img bs=1 seek=$((2048*512+3)) conv=notrunc" +
           " 2>/dev/null && printf 'CS' | dd of=cs.img bs=1 seek=$((2048*512+88)) conv=notrunc" +
           " 2>/dev/null");
  const std::string bde = (dir / "disk.img").string();
  auto info = run_safehold("info " + quote_path(dir / "disk.img"));
  CHECK(info.exit_code == 2);
  CHECK(info.out.find("       encrypted: BitLocker (not read), unlocked by a recovery password, "
                      "password or startup key: locked (no key given)\n") != std::string::npos);
  CHECK(info.out.find("Problem: volume 2 (NTFS / exFAT (0x07)): is an encrypted BitLocker volume "
                      "and libbde 20190102 cannot read its metadata "
                      "(libbde_io_handle_read_volume_header: unsupported volume boot entry "
                      "point): its raw sectors are carved as they are\n") != std::string::npos);
  CHECK(info.err == "safehold: " + bde +
                        ": volume 2 is an encrypted BitLocker volume, which Safehold cannot "
                        "decrypt yet: its files were not examined\n");
  auto carve = run_safehold("carve --json " + quote_path(dir / "disk.img") + " -o " +
                            quote_path(dir / "out"));
  CHECK(carve.exit_code == 2);
  auto s = nlohmann::json::parse(test::read_text(dir / "out" / "summary.json"));
  CHECK(s["bytes_read"] == 4194304);
  auto key = run_safehold("ls --key 2=123456-123456-123456-123456-123456-123456-123456-123456 " +
                          quote_path(dir / "disk.img"));
  CHECK(key.exit_code == 1);
  CHECK(key.err == "safehold: " + bde +
                       " volume 2 (NTFS / exFAT (0x07)): libbde 20190102 cannot read this "
                       "BitLocker volume (libbde_io_handle_read_volume_header: unsupported volume "
                       "boot entry point)\n");
  CHECK(key.err.find("123456") == std::string::npos);
  auto cs = run_safehold("info --json " + quote_path(dir / "cs.img"));
  CHECK(cs.exit_code == 2);
  CHECK(nlohmann::json::parse(cs.out)["volumes"][2]["encryption"]["scheme"] ==
        "FileVault 2 (CoreStorage)");
}

TEST_CASE("issue 18: an unlocked LUKS volume that holds no filesystem is said, exit 2",
          "[fs][luks]") {
  test::TempDir dir("safehold-luks-nofs");
  const std::string d = quote_path(dir.path());
  must_run("cd " + d + " && truncate -s 24M nofs.img" +  // zeros: no filesystem, no entropy
           " && printf %s " + shell_quote(kPass) + " > pass.txt" +
           " && cryptsetup reencrypt --batch-mode --encrypt --type luks2 --pbkdf pbkdf2"
           " --pbkdf-force-iterations 1000 --reduce-device-size 8M -d pass.txt nofs.img");
  auto ls =
      run_safehold("ls --key " + shell_quote("0=" + kPass) + " " + quote_path(dir / "nofs.img"));
  CHECK(ls.exit_code == 2);
  CHECK(ls.out.empty());
  CHECK(ls.err ==
        "safehold: image: no filesystem recognised in the decrypted LUKS2 volume (Cannot "
        "determine file system type)\n");
  CHECK(ls.err.find(kPass) == std::string::npos);
}
