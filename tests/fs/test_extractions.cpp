// fs/: issue 18 item 3, phone extractions as evidence. An Android tree (under a "Dump/" wrapper)
// and an iOS tree are generated at test time (tests/fs/make_extraction.sh: sqlite3, ImageMagick,
// fixed times) and packed by zip and GNU tar (GNU and pax formats). `ls`, `info`, `hash` and
// `carve` must see the device's tree: paths inside the device, sizes and times as `find` reports
// them on the tree that made the archive, member names as `unzip -Z1` and `tar tf` list them, file
// digests as sha256sum gives them. Damaged archives (cut off, a member whose bytes changed) are
// checked for their exit codes and messages.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <sstream>

#include "base/hash.hpp"
#include "base/json.hpp"
#include "tests/common/support.hpp"

using namespace safehold;
using test::must_run;
using test::quote_path;
using test::run_safehold;
using test::shell_quote;
namespace fsys = std::filesystem;

namespace {

fsys::path make_trees(const test::TempDir& dir) {
  must_run("bash " + quote_path(fsys::path(test::source_dir()) / "tests/fs/make_extraction.sh") +
           " " + quote_path(dir.path()));
  return dir.path();
}

struct Want {
  std::string type;
  uint64_t size = 0;
  std::string mtime;
};

std::string iso(int64_t secs) {
  return must_run("date -u -d @" + std::to_string(secs) + " +%Y-%m-%dT%H:%M:%SZ | tr -d '\\n'");
}

// What `find` says of the tree under `top`: device path -> type, size, mtime.
std::map<std::string, Want> find_tree(const fsys::path& top) {
  std::map<std::string, Want> out;
  std::istringstream in(
      must_run("cd " + quote_path(top) + " && find . -mindepth 1 -printf '%P\\t%y\\t%s\\t%T@\\n'"));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string path, type, size, mtime;
    std::getline(f, path, '\t');
    std::getline(f, type, '\t');
    std::getline(f, size, '\t');
    std::getline(f, mtime, '\t');
    Want w;
    w.type = type == "d" ? "dir" : type == "l" ? "link" : "file";
    w.size = type == "d" ? 0 : std::stoull(size);
    w.mtime = iso(std::stoll(mtime));
    out["/" + path] = w;
  }
  return out;
}

struct Listed {
  std::map<std::string, Want> entries;
  std::set<std::string> members;
  std::map<std::string, nlohmann::json> json;
};

Listed ls(const fsys::path& p) {
  auto r = run_safehold("ls --json " + quote_path(p));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  Listed l;
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    const std::string path = j["path"];
    l.entries[path] = {j["type"], j["size"], j["mtime"].is_null() ? "" : j["mtime"]};
    std::string m = j["member"];
    if (!m.empty() && m.back() == '/') m.pop_back();
    if (m.rfind("./", 0) == 0) m = m.substr(2);
    l.members.insert(m);
    l.json[path] = j;
  }
  return l;
}

std::set<std::string> lines_of(const std::string& text, const std::string& drop_prefix_only) {
  std::set<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '/') line.pop_back();
    if (line != drop_prefix_only) out.insert(line);
  }
  return out;
}

bool same(const std::map<std::string, Want>& a, const std::map<std::string, Want>& b) {
  if (a.size() != b.size()) return false;
  for (auto& [k, v] : a) {
    auto it = b.find(k);
    if (it == b.end()) return false;
    if (it->second.type != v.type || it->second.size != v.size || it->second.mtime != v.mtime) {
      UNSCOPED_INFO(k << ": " << v.type << " " << v.size << " " << v.mtime << " vs "
                      << it->second.type << " " << it->second.size << " " << it->second.mtime);
      return false;
    }
  }
  return true;
}

// sha256sum's lines for every file under `top`, with paths inside the device ("/x/y").
std::string sha256sum_tree(const fsys::path& top) {
  return must_run("cd " + quote_path(top) +
                  " && find . -type f -print0 | xargs -0 sha256sum | sed 's#  \\./#  /#'" +
                  " | LC_ALL=C sort -k2");
}

}  // namespace

TEST_CASE("issue 18: ZIP, TAR and folder extractions list the device's tree as made",
          "[fs][extraction]") {
  test::TempDir dir("safehold-extraction");
  const fsys::path d = make_trees(dir);
  const auto android = find_tree(d / "android/Dump");
  const auto ios = find_tree(d / "ios");
  REQUIRE(android.size() == 17);
  REQUIRE(ios.size() == 10);
  const auto zip_members = lines_of(must_run("unzip -Z1 " + quote_path(d / "android.zip")), "Dump");
  const auto tar_members = lines_of(must_run("tar tf " + quote_path(d / "android.tar")), "Dump");
  REQUIRE(zip_members.size() == 17);
  REQUIRE(tar_members == zip_members);

  for (const char* name :
       {"android.zip", "android64.zip", "android.tar", "android-pax.tar", "android"}) {
    SECTION(name) {
      auto l = ls(d / name);
      CHECK(same(android, l.entries));
      if (std::string(name) != "android") CHECK(l.members == zip_members);
      const auto& jpeg = l.json.at("/data/media/0/DCIM/Camera/IMG_0001.jpg");
      CHECK(jpeg["member"] == "Dump/data/media/0/DCIM/Camera/IMG_0001.jpg");
      CHECK(jpeg["mode"] == "100644");
      CHECK(jpeg["mtime"] == "2024-02-03T04:05:06Z");
      CHECK(jpeg["byte_runs"].empty());
      const auto& link = l.json.at("/data/media/0/camera_link");
      CHECK(link["type"] == "link");
      CHECK(link["target"] == "DCIM");
      CHECK(link["mode"] == "120777");
    }
  }
  SECTION("iOS at the archive's top") {
    for (const char* name : {"ios.zip", "ios.tar", "ios"}) {
      INFO(name);
      auto l = ls(d / name);
      CHECK(same(ios, l.entries));
      CHECK(l.json.at("/private/var/mobile/Library/SMS/sms.db")["member"] ==
            "private/var/mobile/Library/SMS/sms.db");
    }
  }
  SECTION("info names the format and the device root") {
    auto r = run_safehold("info " + quote_path(d / "android.zip"));
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const uint64_t zsize = fsys::file_size(d / "android.zip");
    uint64_t bytes = 0;
    for (auto& [p, w] : android)
      if (w.type == "file") bytes += w.size;
    CHECK(r.out.find("Format:       zip\nSize:         " + std::to_string(zsize) + " bytes") !=
          std::string::npos);
    CHECK(r.out.find("Extraction:   17 entries, " + std::to_string(bytes + 4) +
                     " bytes of file content") != std::string::npos);  // + the link's "DCIM"
    CHECK(r.out.find("Device root:  \"Dump/\"\n") != std::string::npos);
    auto j = nlohmann::json::parse(run_safehold("info --json " + quote_path(d / "ios.tar")).out);
    CHECK(j["format"] == "tar");
    CHECK(j["extraction"]["root"] == "");
    CHECK(j["extraction"]["entries"] == 10);
    CHECK(j["filesystems"][0]["type"] == "tar");
    auto raw = run_safehold("ls --raw " + quote_path(d / "android.zip"));
    CHECK(raw.exit_code == 1);  // read as raw media, a ZIP holds no filesystem
  }
}

TEST_CASE("issue 18: hash of an extraction: the container's digests and each file's",
          "[fs][extraction]") {
  test::TempDir dir("safehold-extraction-hash");
  const fsys::path d = make_trees(dir);
  const std::string want = sha256sum_tree(d / "android/Dump");
  for (const char* name : {"android.zip", "android.tar", "android-pax.tar", "android"}) {
    INFO(name);
    auto files = run_safehold("hash --files " + quote_path(d / name));
    INFO(files.err);
    REQUIRE(files.exit_code == 0);
    CHECK(files.out == want);
    auto j = nlohmann::json::parse(run_safehold("hash --json " + quote_path(d / name)).out);
    CHECK(j["content_sha256"] == base::sha256_hex(want));
    CHECK(j["files"] == 5);
    CHECK(j["complete"] == true);
    if (std::string(name) == "android")
      CHECK(j["container"].is_null());
    else
      CHECK(j["container"]["sha256"] == test::sha256_file(d / name));
  }
  auto text = run_safehold("hash " + quote_path(d / "android.zip"));
  CHECK(text.out.find("Container SHA-256: " + test::sha256_file(d / "android.zip") + "\n") !=
        std::string::npos);
  CHECK(text.out.find("(digests of the archive file, not of device media)") != std::string::npos);
  CHECK(text.out.find("Content SHA-256:  " + base::sha256_hex(want) + "\n") != std::string::npos);
  auto bad = run_safehold("hash --files " + quote_path(d / "android/Dump/system/build.prop"));
  CHECK(bad.exit_code == 1);
}

TEST_CASE("issue 18: carving an extraction: device paths, and the member in source",
          "[fs][extraction]") {
  test::TempDir dir("safehold-extraction-carve");
  const fsys::path d = make_trees(dir);
  const std::string jpeg_sha =
      test::sha256_file(d / "android/Dump/data/media/0/DCIM/Camera/IMG_0001.jpg");
  const std::string db_sha =
      test::sha256_file(d / "android/Dump/data/data/com.example.chat/databases/chat.db");
  for (const char* name : {"android.zip", "android.tar", "android"}) {
    INFO(name);
    const fsys::path out = d / (std::string("out-") + name);
    auto r = run_safehold("carve --json " + quote_path(d / name) + " -o " + quote_path(out));
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    std::map<std::string, nlohmann::json> by_path;
    std::istringstream in(test::read_text(out / "report.jsonl"));
    std::string line;
    while (std::getline(in, line)) {
      auto a = nlohmann::json::parse(line);
      if (a["path"].is_string()) by_path[a["path"]] = a;
    }
    const auto& jpeg = by_path.at("/data/media/0/DCIM/Camera/IMG_0001.jpg");
    CHECK(jpeg["type"] == "jpeg");
    CHECK(jpeg["sha256"] == jpeg_sha);
    CHECK(jpeg["source"] == "Dump/data/media/0/DCIM/Camera/IMG_0001.jpg");
    CHECK(jpeg["fs"] == (std::string(name) == "android" ? "folder" : std::string(name).substr(8)));
    CHECK(jpeg["mtime"] == "2024-02-03T04:05:06Z");
    const auto& db = by_path.at("/data/data/com.example.chat/databases/chat.db");
    CHECK(db["type"] == "sqlite");
    CHECK(db["sha256"] == db_sha);
    auto s = nlohmann::json::parse(test::read_text(out / "summary.json"));
    CHECK(s["complete"] == true);
    CHECK(s["unreadable_files"] == 0);
  }
}

TEST_CASE("issue 18: damaged extractions are named and exit 2", "[fs][extraction]") {
  test::TempDir dir("safehold-extraction-damage");
  const fsys::path d = make_trees(dir);
  const std::string member = "Dump/data/media/0/DCIM/Camera/IMG_0001.jpg";

  SECTION("a ZIP cut off inside a member: the members before it are found, the cut one named") {
    // Cut 100 bytes into the stored JPEG's data (the local header's length from Python's zipfile).
    must_run("python3 - " + quote_path(d / "android.zip") + " " + quote_path(d / "cut.zip") + " '" +
             member +
             "' <<'PY'\n"
             "import sys, zipfile, struct\n"
             "z = zipfile.ZipFile(sys.argv[1]); i = z.getinfo(sys.argv[3])\n"
             "b = open(sys.argv[1], 'rb').read(); n, x = struct.unpack('<HH', b[i.header_offset + "
             "26:i.header_offset + 30])\n"
             "open(sys.argv[2], 'wb').write(b[:i.header_offset + 30 + n + x + 100])\n"
             "PY");
    const std::string lost =
        "no end of central directory record: the archive is cut off or damaged inside member \"" +
        member + "\"; 7 members found from their local headers";
    auto l = run_safehold("ls --json " + quote_path(d / "cut.zip"));
    CHECK(l.exit_code == 2);
    CHECK(l.err == "safehold: " + (d / "cut.zip").string() + ": " + lost + "\n");
    CHECK(std::count(l.out.begin(), l.out.end(), '\n') == 6);  // the wrapping Dump/ is not listed
    auto i = run_safehold("info " + quote_path(d / "cut.zip"));
    CHECK(i.exit_code == 2);
    CHECK(i.out.find("Damaged: " + lost + "\n") != std::string::npos);
    auto h = run_safehold("hash --files " + quote_path(d / "cut.zip"));
    CHECK(h.exit_code == 2);
    CHECK(h.err.find("member \"" + member + "\": its data (") != std::string::npos);
    auto c =
        run_safehold("carve --json " + quote_path(d / "cut.zip") + " -o " + quote_path(d / "out"));
    CHECK(c.exit_code == 2);
    auto s = nlohmann::json::parse(test::read_text(d / "out/summary.json"));
    CHECK(s["complete"] == false);
    CHECK(s["unreadable"].size() == 1);
    CHECK(s["unreadable"][0]["message"] == lost);
    CHECK(s["unreadable_files"] == 1);
  }
  SECTION("a streamed ZIP (data descriptors) without its central directory") {
    // The same members found from their local headers (deflate streams inflated to find their
    // ends), the loss named; the archive as written (links followed) hashes as find -L sees it.
    must_run(
        "python3 -c \"import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); "
        "open(sys.argv[2], 'wb').write(open(sys.argv[1], 'rb').read()[:z.start_dir]); "
        "print(z.start_dir)\" " +
        quote_path(d / "android-stream.zip") + " " + quote_path(d / "nocd.zip"));
    const std::string want = must_run("cd " + quote_path(d / "android/Dump") +
                                      " && find -L . -type f -print0 | xargs -0 sha256sum | sed "
                                      "'s#  \\./#  /#' | LC_ALL=C sort -k2");
    auto whole = run_safehold("hash --files " + quote_path(d / "android-stream.zip"));
    CHECK(whole.exit_code == 0);
    CHECK(whole.out == want);
    auto cut = run_safehold("hash --files " + quote_path(d / "nocd.zip"));
    CHECK(cut.exit_code == 2);
    CHECK(cut.out == want);
    const uint64_t at = fsys::file_size(d / "nocd.zip");
    CHECK(cut.err ==
          "safehold: " + (d / "nocd.zip").string() +
              ": no end of central directory record: the archive is cut off or "
              "damaged at byte " +
              std::to_string(at) +
              "; 20 members found from their local headers\n"
              "safehold: " +
              (d / "nocd.zip").string() +
              ": no content digest: the extraction is damaged (members may be missing)\n");
  }
  SECTION("a file that only begins like a ZIP") {
    must_run("head -c 20 " + quote_path(d / "android.zip") + " > " + quote_path(d / "stub.zip"));
    for (const char* cmd : {"ls", "info", "hash"}) {
      auto r = run_safehold(std::string(cmd) + " " + quote_path(d / "stub.zip"));
      CHECK(r.exit_code == 1);
      CHECK(r.err == "safehold: " + (d / "stub.zip").string() +
                         ": ZIP archive without an end of central directory record (cut off or "
                         "damaged: its members cannot be located)\n");
    }
  }
  SECTION("a stored ZIP member whose bytes changed") {
    // The JPEG is stored (zip -n .jpg): one byte of its data flipped, found through Python's
    // zipfile (the local header's length).
    must_run("cp " + quote_path(d / "android.zip") + " " + quote_path(d / "bad.zip") +
             " && python3 - " + quote_path(d / "bad.zip") + " '" + member +
             "' <<'PY'\n"
             "import sys, zipfile, struct\n"
             "z = zipfile.ZipFile(sys.argv[1]); i = z.getinfo(sys.argv[2]); assert i.compress_type "
             "== 0\n"
             "f = open(sys.argv[1], 'r+b'); f.seek(i.header_offset); h = f.read(30)\n"
             "n, x = struct.unpack('<HH', h[26:30]); at = i.header_offset + 30 + n + x + 1000\n"
             "f.seek(at); b = f.read(1); f.seek(at); f.write(bytes([b[0] ^ 0xFF]))\n"
             "PY");
    const std::string why =
        "member \"" + member + "\": its content does not match its CRC-32 (damaged)";
    auto h = run_safehold("hash --files " + quote_path(d / "bad.zip"));
    CHECK(h.exit_code == 2);
    CHECK(h.err.find("safehold: " + (d / "bad.zip").string() + ": " + why + "\n") !=
          std::string::npos);
    CHECK(h.err.find("no content digest: 1 file cannot be read in full") != std::string::npos);
    auto c =
        run_safehold("carve --json " + quote_path(d / "bad.zip") + " -o " + quote_path(d / "out"));
    CHECK(c.exit_code == 2);
    auto s = nlohmann::json::parse(test::read_text(d / "out/summary.json"));
    CHECK(s["complete"] == false);
    CHECK(s["unreadable_files"] == 1);
    bool named = false;
    for (auto& e : s["errors"])
      named |= e["where"] == "fs 0 /data/media/0/DCIM/Camera/IMG_0001.jpg" && e["message"] == why;
    CHECK(named);
    CHECK(run_safehold("ls " + quote_path(d / "bad.zip")).exit_code ==
          0);  // the listing itself is whole
  }
  SECTION("a TAR cut off inside a member") {
    // Cut 100 bytes into the JPEG's content, found through Python's tarfile.
    must_run("python3 - " + quote_path(d / "android.tar") + " " + quote_path(d / "cut.tar") + " '" +
             member +
             "' <<'PY'\n"
             "import sys, tarfile\n"
             "t = tarfile.open(sys.argv[1]); m = t.getmember(sys.argv[3])\n"
             "open(sys.argv[2], 'wb').write(open(sys.argv[1], 'rb').read()[:m.offset_data + 100])\n"
             "PY");
    auto l = run_safehold("ls " + quote_path(d / "cut.tar"));
    CHECK(l.exit_code == 2);
    CHECK(l.err.find("the archive is cut off inside member \"" + member + "\"") !=
          std::string::npos);
    auto h = run_safehold("hash --files " + quote_path(d / "cut.tar"));
    CHECK(h.exit_code == 2);
    CHECK(h.err.find("member \"" + member + "\": its content (") != std::string::npos);
    auto c =
        run_safehold("carve --json " + quote_path(d / "cut.tar") + " -o " + quote_path(d / "out"));
    CHECK(c.exit_code == 2);
    auto s = nlohmann::json::parse(test::read_text(d / "out/summary.json"));
    CHECK(s["complete"] == false);
    CHECK(s["unreadable"].size() == 1);
  }
}

TEST_CASE("issue 18: an iTunes/Finder backup read through Manifest.db", "[fs][extraction]") {
  test::TempDir dir("safehold-extraction-itunes");
  const fsys::path d = make_trees(dir);
  const fsys::path b = d / "backup";
  must_run("python3 " +
           quote_path(fsys::path(test::source_dir()) / "tests/fs/make_itunes_backup.py") + " " +
           quote_path(d / "ios") + " " + quote_path(b));
  // What find says of the tree under private/var/mobile, as HomeDomain's.
  std::map<std::string, Want> want;
  for (auto& [p, w] : find_tree(d / "ios/private/var/mobile")) want["/HomeDomain" + p] = w;
  REQUIRE(want.size() == 7);
  auto l = ls(b);
  CHECK(same(want, l.entries));
  const auto& sms = l.json.at("/HomeDomain/Library/SMS/sms.db");
  const std::string id =
      "3d0d7e5fb2ce288813306e4d4636395e047a3d28";  // sha1("HomeDomain-Library/SMS/sms.db")
  CHECK(sms["member"] == "3d/" + id);
  CHECK(sms["uid"] == 501);
  CHECK(sms["fs"] == "itunes");

  const std::string sums =
      must_run("cd " + quote_path(d / "ios/private/var/mobile") +
               " && find . -type f -print0 | xargs -0 sha256sum | sed 's#  \\./#  /HomeDomain/#'" +
               " | LC_ALL=C sort -k2");
  auto h = run_safehold("hash --files " + quote_path(b));
  INFO(h.err);
  CHECK(h.exit_code == 0);
  CHECK(h.out == sums);
  auto j = nlohmann::json::parse(run_safehold("hash --json " + quote_path(b)).out);
  CHECK(j["format"] == "itunes");
  CHECK(j["container"].is_null());
  CHECK(j["content_sha256"] == base::sha256_hex(sums));

  auto c = run_safehold("carve --json " + quote_path(b) + " -o " + quote_path(d / "out"));
  INFO(c.err);
  REQUIRE(c.exit_code == 0);
  bool found = false;
  std::istringstream in(test::read_text(d / "out/report.jsonl"));
  std::string line;
  while (std::getline(in, line)) {
    auto a = nlohmann::json::parse(line);
    if (a["path"] == "/HomeDomain/Media/DCIM/100APPLE/IMG_0002.JPG") {
      found = true;
      CHECK(a["type"] == "jpeg");
      CHECK(a["source"] == "97/973f317fc3668816d6a1c42516efc3f20c6443d9");
      CHECK(a["sha256"] ==
            test::sha256_file(d / "ios/private/var/mobile/Media/DCIM/100APPLE/IMG_0002.JPG"));
    }
  }
  CHECK(found);

  SECTION("a listed file missing from the backup") {
    fsys::remove(b / "97/973f317fc3668816d6a1c42516efc3f20c6443d9");
    auto r = run_safehold("hash --files " + quote_path(b));
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("safehold: " + b.string() +
                     ": \"97/973f317fc3668816d6a1c42516efc3f20c6443d9\" "
                     "(/HomeDomain/Media/DCIM/100APPLE/IMG_0002.JPG): is listed in Manifest.db "
                     "but not in the backup\n") != std::string::npos);
  }
  SECTION("no Manifest.db") {
    fsys::remove(b / "Manifest.db");
    for (const char* cmd : {"ls", "info", "hash", "carve"}) {
      auto r = run_safehold(std::string(cmd) + " " + quote_path(b) +
                            (std::string(cmd) == "carve" ? " -o " + quote_path(d / "out2") : ""));
      CHECK(r.exit_code == 1);
      CHECK(r.err == "safehold: " + b.string() +
                         ": an iTunes/Finder backup (Manifest.plist) without its Manifest.db\n");
    }
  }
  SECTION("an encrypted backup is refused, saying so") {
    must_run(
        "python3 -c \"import plistlib,sys; plistlib.dump({'IsEncrypted': True}, "
        "open(sys.argv[1], 'wb'), fmt=plistlib.FMT_BINARY)\" " +
        quote_path(b / "Manifest.plist"));
    auto r = run_safehold("ls " + quote_path(b));
    CHECK(r.exit_code == 1);
    CHECK(r.err == "safehold: " + b.string() +
                       ": an encrypted iTunes/Finder backup, which Safehold cannot decrypt yet\n");
  }
}

TEST_CASE("issue 18: an Android adb backup (.ab), compressed or not", "[fs][extraction]") {
  test::TempDir dir("safehold-extraction-adb");
  const fsys::path d = make_trees(dir);
  const std::string gen =
      quote_path(fsys::path(test::source_dir()) / "tests/fs/make_adb_backup.py");
  must_run("python3 " + gen + " " + quote_path(d / "android/Dump") + " " + quote_path(d / "z.ab") +
           " 1");
  must_run("python3 " + gen + " " + quote_path(d / "android/Dump") + " " + quote_path(d / "u.ab") +
           " 0");
  // apps/<package>/db/... is the app's databases folder, shared/0/... the user's storage.
  const auto tree = find_tree(d / "android/Dump");
  const std::map<std::string, std::string> where = {
      {"/data/data/com.example.chat/databases/chat.db",
       "/data/data/com.example.chat/databases/chat.db"},
      {"/storage/emulated/0/camera_link", "/data/media/0/camera_link"},
      {"/storage/emulated/0/DCIM/Camera/IMG_0001.jpg", "/data/media/0/DCIM/Camera/IMG_0001.jpg"},
      {"/storage/emulated/0/Download/notes.txt", "/data/media/0/Download/notes.txt"},
      {"/storage/emulated/0/Download/"
       "a_very_long_folder_name_that_goes_past_one_hundred_bytes_of_path/"
       "file_with_a_long_name_too.txt",
       "/data/media/0/Download/a_very_long_folder_name_that_goes_past_one_hundred_bytes_of_path/"
       "file_with_a_long_name_too.txt"}};
  std::map<std::string, Want> want;
  std::string sums;
  for (auto& [dev, src] : where) {
    want[dev] = tree.at(src);
    if (want[dev].type == "file")
      sums += test::sha256_file(d / ("android/Dump" + src)) + "  " + dev + "\n";
  }
  for (const char* name : {"z.ab", "u.ab"}) {
    INFO(name);
    auto l = ls(d / name);
    CHECK(same(want, l.entries));
    CHECK(l.json.at("/data/data/com.example.chat/databases/chat.db")["member"] ==
          "apps/com.example.chat/db/chat.db");
    auto h = run_safehold("hash --files " + quote_path(d / name));
    CHECK(h.exit_code == 0);
    CHECK(h.out == sums);
    auto i = run_safehold("info " + quote_path(d / name));
    CHECK(i.out.find("Format:       adb\n") != std::string::npos);
    auto j = nlohmann::json::parse(run_safehold("hash --json " + quote_path(d / name)).out);
    CHECK(j["container"]["sha256"] == test::sha256_file(d / name));
    CHECK(j["content_sha256"] == base::sha256_hex(sums));
  }
  auto c = run_safehold("carve --json " + quote_path(d / "z.ab") + " -o " + quote_path(d / "out"));
  INFO(c.err);
  CHECK(c.exit_code == 0);
  CHECK(test::read_text(d / "out/report.jsonl")
            .find("\"path\":\"/storage/emulated/0/DCIM/Camera/IMG_0001.jpg\"") !=
        std::string::npos);

  SECTION("cut off, and encrypted") {
    const uint64_t n = fsys::file_size(d / "z.ab");
    must_run("head -c " + std::to_string(n / 2) + " " + quote_path(d / "z.ab") + " > " +
             quote_path(d / "cut.ab"));
    auto r = run_safehold("ls " + quote_path(d / "cut.ab"));
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(": the compressed data is cut off after ") != std::string::npos);
    must_run("printf 'ANDROID BACKUP\\n5\\n1\\nAES-256\\n0123' > " + quote_path(d / "enc.ab"));
    auto e = run_safehold("ls " + quote_path(d / "enc.ab"));
    CHECK(e.exit_code == 1);
    CHECK(e.err == "safehold: " + (d / "enc.ab").string() +
                       ": an encrypted Android backup (AES-256), which Safehold cannot decrypt "
                       "yet\n");
  }
}
