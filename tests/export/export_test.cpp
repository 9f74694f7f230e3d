// Exports: VICS 2.0 JSON from synthetic carve directories (fields, EXIF, merging across devices)
// and .tar.zst bundles (GNU tar and sha256sum read them; verify catches flipped bytes, changed,
// missing and unlisted files).
#include "export/export.hpp"

#include <fmt/core.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "base/hash.hpp"
#include "export/exif.hpp"
#include "tests/common/support.hpp"

using namespace safehold::exports;
using safehold::test::must_run;
using safehold::test::run;
using safehold::test::shell_quote;
using safehold::test::TempDir;
using safehold::test::write_text;
namespace fsys = std::filesystem;

namespace {

void put_u16(std::string& s, uint16_t v) {
  s += static_cast<char>(v & 0xff);
  s += static_cast<char>(v >> 8);
}
void put_u32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
}

// An APP1 Exif segment (little-endian TIFF): IFD0 Make, Model and an Exif IFD with
// DateTimeOriginal; GPS IFD with 51 30' 0" N, 0 7' 30" W.
std::string exif_app1() {
  std::string t = "II";
  put_u16(t, 42);
  put_u32(t, 8);
  // IFD0 at 8: 4 entries -> 2 + 48 + 4 = 54 bytes, data from 62.
  const std::string make = "SynthCam", model = "Test Model 1", dto = "2024:05:06 07:08:09";
  uint32_t data = 8 + 2 + 4 * 12 + 4;
  uint32_t make_off = data, model_off = make_off + 9, exif_off = model_off + 13;
  uint32_t dto_off = exif_off + 2 + 12 + 4, gps_off = dto_off + 20;
  uint32_t rat_off = gps_off + 2 + 4 * 12 + 4;
  put_u16(t, 4);
  auto entry = [&](uint16_t tag, uint16_t type, uint32_t count, uint32_t value) {
    put_u16(t, tag);
    put_u16(t, type);
    put_u32(t, count);
    put_u32(t, value);
  };
  entry(0x010f, 2, 9, make_off);
  entry(0x0110, 2, 13, model_off);
  entry(0x8769, 4, 1, exif_off);
  entry(0x8825, 4, 1, gps_off);
  put_u32(t, 0);
  t += make + '\0';
  t += model + '\0';
  put_u16(t, 1);
  entry(0x9003, 2, 20, dto_off);
  put_u32(t, 0);
  t += dto + '\0';
  put_u16(t, 4);
  entry(1, 2, 2, 'N');
  entry(2, 5, 3, rat_off);
  entry(3, 2, 2, 'W');
  entry(4, 5, 3, rat_off + 24);
  put_u32(t, 0);
  for (uint32_t v : {51u, 1u, 30u, 1u, 0u, 1u, 0u, 1u, 7u, 1u, 30u, 1u}) put_u32(t, v);
  std::string seg = "\xff\xe1";
  uint16_t len = static_cast<uint16_t>(t.size() + 8);
  seg += static_cast<char>(len >> 8);
  seg += static_cast<char>(len & 0xff);
  seg += std::string("Exif\0\0", 6);
  return seg + t;
}

struct Artefact {
  std::string id, type, mime, file, state;
  std::optional<std::string> path;
  nlohmann::json known;
};

// A carve output directory with real files and a report.jsonl in `safehold carve`'s schema.
void make_carve_dir(const fsys::path& dir, const std::vector<Artefact>& arts,
                    const std::map<std::string, std::string>& content) {
  fsys::create_directories(dir);
  std::string report;
  for (auto& a : arts) {
    auto f = dir / a.file;
    fsys::create_directories(f.parent_path());
    write_text(f, content.at(a.id));
    auto d = safehold::base::hash_file(f);
    nlohmann::json j{{"id", a.id},
                     {"type", a.type},
                     {"mime", a.mime},
                     {"size", fsys::file_size(f)},
                     {"md5", d.md5},
                     {"sha1", d.sha1},
                     {"sha256", d.sha256},
                     {"file", a.file},
                     {"state", a.state},
                     {"path", a.path ? nlohmann::json(*a.path) : nlohmann::json()},
                     {"volume", 1},
                     {"fs", "fat32"},
                     {"inode", a.path ? nlohmann::json(12) : nlohmann::json()},
                     {"byte_runs", {{{"img_offset", 1048576}, {"len", fsys::file_size(f)}}}},
                     {"mtime", a.path ? nlohmann::json("2024-05-06T07:08:09Z") : nlohmann::json()},
                     {"atime", nullptr},
                     {"ctime", nullptr},
                     {"crtime", a.path ? nlohmann::json("2024-05-01T00:00:00Z") : nlohmann::json()},
                     {"valid", true},
                     {"extension_mismatch", false},
                     {"parent", nullptr},
                     {"warnings", nlohmann::json::array()},
                     {"known", a.known}};
    report += j.dump() + "\n";
  }
  write_text(dir / "report.jsonl", report);
  write_text(dir / "summary.json", "{\"artefacts\": " + std::to_string(arts.size()) + "}\n");
  write_text(dir / "dfxml.xml", "<?xml version='1.0'?><dfxml version='1.0'/>\n");
}

struct Case {
  TempDir t;
  fsys::path dev1, dev2;
  std::map<std::string, std::string> content;
  Case() {
    dev1 = t / "dev1";
    dev2 = t / "dev2";
    must_run("convert -size 64x48 gradient:red-blue " + shell_quote((t / "a.jpg").string()));
    must_run("convert -size 32x32 xc:green " + shell_quote((t / "b.png").string()));
    must_run("convert -size 40x30 gradient:white-black " + shell_quote((t / "c.jpg").string()));
    std::string a = safehold::test::read_text(t / "a.jpg");
    content["a"] = a.substr(0, 2) + exif_app1() + a.substr(2);
    content["b"] = safehold::test::read_text(t / "b.png");
    content["c"] = safehold::test::read_text(t / "c.jpg");
    content["db"] = std::string("SQLite format 3\0", 16) + std::string(100, 'x');
    nlohmann::json graded{{"set", "Graded"}, {"category", "1"}, {"ignorable", false}};
    make_carve_dir(
        dev1,
        {{"a", "jpeg", "image/jpeg", "artefacts/jpeg/000001.jpg", "allocated",
          "/DCIM/100/IMG_0001.JPG", graded},
         {"b", "png", "image/png", "artefacts/png/000002.png", "deleted", "/Pictures/old.png",
          nullptr},
         {"c", "jpeg", "image/jpeg", "artefacts/jpeg/000003.jpg", "carved", std::nullopt, nullptr}},
        content);
    make_carve_dir(dev2,
                   {{"a", "jpeg", "image/jpeg", "artefacts/jpeg/000001.jpg", "allocated",
                     "/sdcard/DCIM/copy.jpg", graded},
                    {"db", "sqlite", "application/vnd.sqlite3", "artefacts/sqlite/000002.db",
                     "allocated", "/data/x.db", nullptr}},
                   content);
  }
  std::string md5(const std::string& id) {
    std::string m =
        safehold::base::hash_bytes(std::as_bytes(std::span(content[id].data(), content[id].size())))
            .md5;
    for (auto& c : m) c = static_cast<char>(std::toupper(c));
    return m;
  }
};

}  // namespace

TEST_CASE("export EXIF reader takes camera, dates and GPS, and survives damage", "[export]") {
  std::string j = "\xff\xd8" + exif_app1() + "\xff\xd9";
  auto e = read_exif(std::span(reinterpret_cast<const uint8_t*>(j.data()), j.size()));
  using P = std::pair<std::string, std::string>;
  CHECK(e == std::vector<P>{{"Make", "SynthCam"},
                            {"Model", "Test Model 1"},
                            {"DateTimeOriginal", "2024:05:06 07:08:09"},
                            {"GPSLatitude", "51.500000"},
                            {"GPSLongitude", "-0.125000"}});
  // Every truncation of it gives a prefix of the facts or nothing, never a crash.
  for (size_t n = 0; n < j.size(); ++n) {
    auto part = read_exif(std::span(reinterpret_cast<const uint8_t*>(j.data()), n));
    CHECK(part.size() <= 5);
  }
}

TEST_CASE("export VICS 2.0 JSON carries the fields and merges duplicates across devices",
          "[export]") {
  Case c;
  VicsStats st;
  auto doc = build_vics({c.dev1, c.dev2}, "2026-01-02T03:04:05Z", &st);
  CHECK(st.artefacts == 5);
  CHECK(st.media == 3);
  CHECK(st.merged == 1);
  CHECK(doc["@odata.context"] ==
        "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/Default/$metadata#Media");
  auto& v = doc["value"];
  REQUIRE(v.size() == 3);
  auto& a = v[0];
  CHECK(a["MediaID"] == 1);
  CHECK(a["MD5"] == c.md5("a"));
  CHECK(a["SHA1"].get<std::string>().size() == 40);
  CHECK(a["Category"] == 1);
  CHECK(a["IsPrecategorized"] == true);
  CHECK(a["MediaSize"] == c.content["a"].size());
  CHECK(a["DateUpdated"] == "2026-01-02T03:04:05Z");
  CHECK(a["Comments"] == "Found on devices: dev1, dev2");
  REQUIRE(a["MediaFiles"].size() == 2);
  CHECK(a["MediaFiles"][0]["FileName"] == "IMG_0001.JPG");
  CHECK(a["MediaFiles"][0]["FilePath"] == "/DCIM/100/IMG_0001.JPG");
  CHECK(a["MediaFiles"][0]["Created"] == "2024-05-01T00:00:00Z");
  CHECK(a["MediaFiles"][0]["Written"] == "2024-05-06T07:08:09Z");
  CHECK(a["MediaFiles"][0]["Accessed"].is_null());
  CHECK(a["MediaFiles"][0]["Unallocated"] == false);
  CHECK(a["MediaFiles"][0]["MD5"] == c.md5("a"));
  CHECK(a["MediaFiles"][1]["FilePath"] == "/sdcard/DCIM/copy.jpg");
  CHECK(a["MediaFiles"][1]["SourceID"] == "dev2");
  CHECK(a["AlternativeHashes"][0]["HashName"] == "SHA256");
  nlohmann::json exifs = nlohmann::json::array();
  for (auto [k, val] :
       std::vector<std::pair<std::string, std::string>>{{"Make", "SynthCam"},
                                                        {"Model", "Test Model 1"},
                                                        {"DateTimeOriginal", "2024:05:06 07:08:09"},
                                                        {"GPSLatitude", "51.500000"},
                                                        {"GPSLongitude", "-0.125000"}})
    exifs.push_back({{"PropertyName", k}, {"PropertyValue", val}});
  CHECK(a["Exifs"] == exifs);

  auto& b = v[1];
  CHECK(b["MD5"] == c.md5("b"));
  CHECK(b["Category"].is_null());
  CHECK(b["IsPrecategorized"] == false);
  CHECK(b["Tags"] == "Ungraded");
  CHECK(b["MediaFiles"][0]["Unallocated"] == true);
  CHECK(b["Comments"].is_null());
  auto& carved = v[2];
  CHECK(carved["MediaFiles"][0]["FileName"] == "000003.jpg");
  CHECK(carved["MediaFiles"][0]["FilePath"] == "carved at image offset 1048576");
  CHECK(carved["MediaFiles"][0]["Unallocated"] == true);
  CHECK(carved["Exifs"].empty());

  // The CLI writes the same document, and it parses as JSON.
  auto out = c.t / "case.json";
  must_run(safehold::test::safehold_binary() + " export --vics " + shell_quote(out.string()) + " " +
           shell_quote(c.dev1.string()) + " " + shell_quote(c.dev2.string()));
  auto parsed = nlohmann::json::parse(safehold::test::read_text(out));
  CHECK(parsed["value"].size() == 3);
  CHECK(parsed["value"][0]["MediaFiles"].size() == 2);

  auto r = run(safehold::test::safehold_binary() + " export --vics " + shell_quote(out.string()) +
               " " + shell_quote((c.t / "nothing").string()));
  CHECK(r.exit_code == 1);
  CHECK(r.err == "safehold: " + (c.t / "nothing").string() +
                     ": no report.jsonl (not a carve output directory)\n");
}

TEST_CASE("export bundle: one tar.zst stream that tar and sha256sum accept, verify catches damage",
          "[export]") {
  Case c;
  auto safehold = safehold::test::safehold_binary();
  auto bundle = c.t / "case.tar.zst";
  auto out =
      must_run(safehold + " export --bundle " + shell_quote(bundle.string()) + " --threads 2 " +
               shell_quote(c.dev1.string()) + " " + shell_quote(c.dev2.string()));
  CHECK(out.find(": 12 files,") != std::string::npos);
  // zstd sees one frame with a content checksum.
  auto info = must_run("zstd -lv " + shell_quote(bundle.string()));
  CHECK(info.find("# Zstandard Frames: 1") != std::string::npos);
  CHECK(info.find("Check: XXH64") != std::string::npos);

  auto listing = must_run("tar --zstd -tf " + shell_quote(bundle.string()));
  CHECK(listing ==
        "dev1/artefacts/jpeg/000001.jpg\ndev1/artefacts/jpeg/000003.jpg\ndev1/artefacts/png/"
        "000002.png\n"
        "dev1/dfxml.xml\ndev1/report.jsonl\ndev1/summary.json\n"
        "dev2/artefacts/jpeg/000001.jpg\ndev2/artefacts/sqlite/000002.db\ndev2/dfxml.xml\n"
        "dev2/report.jsonl\ndev2/summary.json\nEXHIBITS.json\nMANIFEST.sha256\n");
  fsys::create_directories(c.t / "x");
  must_run("cd " + shell_quote((c.t / "x").string()) + " && tar --zstd -xf " +
           shell_quote(bundle.string()) + " && sha256sum --quiet -c MANIFEST.sha256");
  CHECK(safehold::test::sha256_file(c.t / "x/dev1/artefacts/jpeg/000001.jpg") ==
        safehold::test::sha256_file(c.dev1 / "artefacts/jpeg/000001.jpg"));

  auto r = run(safehold + " export --verify " + shell_quote(bundle.string()));
  CHECK(r.exit_code == 0);
  CHECK(r.out == bundle.string() + ": OK, 12 files match the manifest\n");

  // A flipped byte anywhere in the compressed stream.
  for (double where : {0.1, 0.5, 0.9}) {
    auto bad = c.t / "flipped.tar.zst";
    std::string bytes = safehold::test::read_text(bundle);
    size_t pos = static_cast<size_t>(static_cast<double>(bytes.size()) * where);
    bytes[pos] = static_cast<char>(bytes[pos] ^ 0x01);
    write_text(bad, bytes);
    auto v = verify_bundle(bad);
    INFO("flipped at " << pos);
    CHECK_FALSE(v.ok());
    r = run(safehold + " export --verify " + shell_quote(bad.string()));
    CHECK(r.exit_code == 4);
  }

  // A byte changed inside a file, in an otherwise well-formed stream.
  auto tar = c.t / "plain.tar";
  must_run("zstd -q -d -f " + shell_quote(bundle.string()) + " -o " + shell_quote(tar.string()));
  std::string t = safehold::test::read_text(tar);
  auto at = t.find("dev1/summary.json");
  REQUIRE(at != std::string::npos);
  t[at + 512 + 3] = static_cast<char>(t[at + 512 + 3] ^ 0x20);
  write_text(c.t / "changed.tar", t);
  must_run("zstd -q -f " + shell_quote((c.t / "changed.tar").string()) + " -o " +
           shell_quote((c.t / "changed.tar.zst").string()));
  auto v = verify_bundle(c.t / "changed.tar.zst");
  REQUIRE(v.problems.size() == 1);
  CHECK(v.problems[0].rfind("dev1/summary.json: SHA-256 mismatch (manifest ", 0) == 0);

  // A file removed from the archive.
  must_run("tar --delete -f " + shell_quote(tar.string()) +
           " dev2/artefacts/sqlite/000002.db && zstd -q -f " + shell_quote(tar.string()) + " -o " +
           shell_quote((c.t / "missing.tar.zst").string()));
  v = verify_bundle(c.t / "missing.tar.zst");
  CHECK(v.problems ==
        std::vector<std::string>{"dev2/artefacts/sqlite/000002.db: missing from the bundle"});
  CHECK(v.files == 11);
  CHECK(v.listed == 12);
  r = run(safehold + " export --verify " + shell_quote((c.t / "missing.tar.zst").string()));
  CHECK(r.exit_code == 4);
  CHECK(r.err == "safehold: dev2/artefacts/sqlite/000002.db: missing from the bundle\n");

  // A truncated bundle.
  std::string bytes = safehold::test::read_text(bundle);
  write_text(c.t / "short.tar.zst", bytes.substr(0, bytes.size() / 2));
  v = verify_bundle(c.t / "short.tar.zst");
  REQUIRE(v.problems.size() == 1);
  CHECK(v.problems[0].find("truncated") != std::string::npos);
}

namespace {

// A port of IPED's Project VIC import (sepinf-inc/IPED,
// iped-engine/src/main/java/iped/engine/hashdb/HashDBTool.java, readProjectVic() and
// checkDataModel(); HashDB.hashStrToBytes(); commit ad1a8364dcbe43e04da8a34524780938dba401d8).
// It streams the file in key order, so the document is read with its order kept. Returns the
// error IPED would stop with ("" when none), the records it keeps and the status it gives each.
struct IpedRead {
  std::string error;
  int records = 0;
  int invalid_hashes = 0;
  std::vector<std::string> statuses;  // per record: "known", "pedo" or "" (no status)
};

IpedRead iped_error(const std::string& e) {
  IpedRead r;
  r.error = e;
  return r;
}

IpedRead iped_read_project_vic(const std::string& text) {
  IpedRead r;
  auto doc = nlohmann::ordered_json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return iped_error("root JSON should be an object");
  std::vector<std::pair<std::string, nlohmann::ordered_json>> items;
  for (auto it = doc.begin(); it != doc.end(); ++it) items.emplace_back(it.key(), it.value());
  for (size_t i = 0; i < items.size(); i += 2) {
    auto& [k, v] = items[i];
    bool model = v.is_string() &&
                 ((k == "odata.metadata" &&
                   v == "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml#Media") ||
                  (k == "@odata.context" &&
                   v == "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/Default/"
                        "$metadata#Media"));
    if (!model) return iped_error("Unknown ProjectVic JSON data model!");
    if (i + 1 >= items.size() || items[i + 1].first != "value")
      return iped_error("Unexpected property in ProjectVic JSON");
    for (auto& m : items[i + 1].second) {
      if (!m.is_object()) return iped_error("a Media is not an object");
      bool has_hash = false;
      std::set<std::string> props;
      std::string status;
      for (auto& [name, val] : m.items()) {
        std::string n = name;
        for (auto& ch : n) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        if (val.is_object())
          return iped_error(name + ": an object at Media level restarts IPED's record");
        if (name == "Category") {
          int cat = val.is_number_integer() ? val.get<int>() : -1;
          if (cat >= 0) {
            props.insert("vicCategory");
            if (cat < 3) status = cat == 0 ? "known" : "pedo";
          }
        } else if (n == "MD5" || n == "SHA1") {
          if (!val.is_string()) return iped_error(name + " is not a string (NullPointerException)");
          std::string h = val.get<std::string>();
          if (h.empty()) return iped_error(name + " is empty (null hash, NullPointerException)");
          if (h.size() != (n == "MD5" ? 32u : 40u)) {
            ++r.invalid_hashes;
            continue;
          }
          for (size_t c = 0; c < h.size(); c += 2)
            if (!std::isxdigit(static_cast<unsigned char>(h[c])))
              return iped_error("Invalid hash value: " + h);
          has_hash = true;
        } else if (n == "VICTIMIDENTIFIED" || n == "OFFENDERIDENTIFIED" || n == "ISDISTRIBUTED" ||
                   n == "SERIES" || n == "ISPRECATEGORIZED" || n == "TAGS") {
          if ((val.is_string() && !val.get<std::string>().empty()) || val.is_boolean())
            props.insert(name);
        }
      }
      if (has_hash && !props.empty()) {
        ++r.records;
        r.statuses.push_back(status);
      }
    }
  }
  return r;
}

// Checks of the UK #Cases shape. No open X-Ways extension writing or validating it was found
// (docs/hashset.md lists the searches); these are the fields issue 21 names for CAID uploads.
std::vector<std::string> uk_problems(nlohmann::json doc, const std::set<std::string>& exhibits,
                                     const std::set<std::string>& folder_names) {
  std::vector<std::string> p;
  auto hex = [](const nlohmann::json& v, size_t n) {
    if (!v.is_string() || v.get<std::string>().size() != n) return false;
    for (char c : v.get<std::string>())
      if (!std::isxdigit(static_cast<unsigned char>(c)) || std::islower(c)) return false;
    return true;
  };
  auto str_or_null = [](const nlohmann::json& v) { return v.is_string() || v.is_null(); };
  if (!doc.value("odata.metadata", std::string()).ends_with("#Cases"))
    p.push_back("odata.metadata does not end with #Cases");
  if (!doc["value"].is_array() || doc["value"].size() != 1) return {"value is not one case"};
  auto& c = doc["value"][0];
  if (!c["CaseNumber"].is_string() || c["CaseNumber"].get<std::string>().empty())
    p.push_back("no CaseNumber");
  for (auto& m : c["Media"]) {
    std::string id = m["MediaID"].dump();
    if (!(m["Category"].is_number_integer() || m["Category"].is_null()))
      p.push_back(id + ": Category");
    if (m["Category"].is_null() && m["IsPrecategorized"] != false)
      p.push_back(id + ": ungraded but IsPrecategorized");
    if (!hex(m["MD5"], 32)) p.push_back(id + ": MD5");
    if (!hex(m["SHA1"], 40)) p.push_back(id + ": SHA1");
    if (!m["MediaFiles"].is_array() || m["MediaFiles"].empty()) p.push_back(id + ": MediaFiles");
    for (auto& f : m["MediaFiles"]) {
      for (const char* k : {"FileName", "FilePath"})
        if (!f[k].is_string()) p.push_back(id + ": " + k);
      for (const char* k : {"Created", "Written", "Accessed"})
        if (!str_or_null(f[k])) p.push_back(id + ": " + k);
      for (const char* k : {"Unallocated", "Deleted"})
        if (!f[k].is_boolean()) p.push_back(id + ": " + k);
      std::string src = f.value("SourceID", std::string());
      if (!exhibits.count(src) || folder_names.count(src)) p.push_back(id + ": SourceID " + src);
    }
  }
  return p;
}

// Two evidence folders as `safehold work` lays them out: EX-n.acquire.json beside carve/.
std::vector<fsys::path> evidence_folders(Case& c) {
  std::vector<fsys::path> out;
  int n = 1;
  for (auto& dev : {c.dev1, c.dev2}) {
    auto ev = c.t / fmt::format("ev{}", n);
    fsys::create_directories(ev);
    fsys::copy(dev, ev / "carve", fsys::copy_options::recursive);
    write_text(
        ev / fmt::format("EX-{}.acquire.json", n),
        nlohmann::json{
            {"status", "complete"},
            {"case", {{"case_number", "OP-21"}, {"evidence_number", fmt::format("EX-{}", n)}}}}
            .dump());
    write_text(ev / fmt::format("EX-{}.acquire.log", n), "acquired\n");
    out.push_back(ev / "carve");
    ++n;
  }
  return out;
}

}  // namespace

TEST_CASE("export VICS --shape uk-cases: case header, grades, exhibits as SourceID", "[export]") {
  Case c;
  auto dirs = evidence_folders(c);
  auto grades = c.t / "grades.json";
  write_text(grades, "{\"" + c.md5("b") + "\": 2}");
  VicsOptions o;
  o.shape = VicsShape::uk_cases;
  o.grades = read_grades(grades);
  VicsStats st;
  auto doc = build_vics(dirs, "2026-01-02T03:04:05Z", &st, o);
  CHECK(st.media == 3);
  CHECK(st.graded == 2);
  CHECK(st.ungraded == 1);
  CHECK(doc["odata.metadata"] == "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml#Cases");
  REQUIRE(doc["value"].size() == 1);
  auto& cs = doc["value"][0];
  CHECK(cs["CaseNumber"] == "OP-21");
  CHECK(cs["SourceApplicationName"] == "Safehold");
  CHECK(cs["DateCreated"] == "2026-01-02T03:04:05Z");
  CHECK(cs["TotalMedia"] == 3);
  auto& m = cs["Media"];
  REQUIRE(m.size() == 3);
  CHECK(m[0]["Category"] == 1);
  CHECK(m[0]["IsPrecategorized"] == true);
  CHECK(m[0]["MD5"] == c.md5("a"));
  CHECK_FALSE(m[0].contains("Comments"));
  CHECK(m[0]["MediaFiles"][0]["SourceID"] == "EX-1");
  CHECK(m[0]["MediaFiles"][1]["SourceID"] == "EX-2");
  CHECK(m[0]["MediaFiles"][0]["Deleted"] == false);
  CHECK(m[0]["MediaFiles"][0]["Unallocated"] == false);
  CHECK(m[1]["Category"] == 2);
  CHECK(m[1]["IsPrecategorized"] == true);
  CHECK(m[1]["Tags"].is_null());
  CHECK(m[1]["MediaFiles"][0]["FileName"] == "old.png");
  CHECK(m[1]["MediaFiles"][0]["FilePath"] == "/Pictures/old.png");
  CHECK(m[1]["MediaFiles"][0]["Deleted"] == true);
  CHECK(m[1]["MediaFiles"][0]["Unallocated"] == true);
  CHECK(m[2]["Category"].is_null());
  CHECK(m[2]["IsPrecategorized"] == false);
  CHECK(m[2]["Tags"] == "Ungraded");
  CHECK(m[2]["MediaFiles"][0]["Deleted"] == false);
  CHECK(m[2]["MediaFiles"][0]["Unallocated"] == true);
  CHECK(uk_problems(doc, {"EX-1", "EX-2"}, {"carve", "ev1", "ev2", "dev1", "dev2"}).empty());

  auto bin = safehold::test::safehold_binary();
  auto out = c.t / "uk.json";
  auto cmd = bin + " export --vics " + shell_quote(out.string()) + " --shape uk-cases --grades " +
             shell_quote(grades.string()) + " " + shell_quote(dirs[0].string()) + " " +
             shell_quote(dirs[1].string());
  auto r = run(cmd);
  CHECK(r.exit_code == 0);
  CHECK(r.out ==
        out.string() + ": 3 Media from 5 artefacts (1 duplicates merged, 2 graded, 1 ungraded)\n");
  auto parsed = nlohmann::json::parse(safehold::test::read_text(out));
  CHECK(uk_problems(parsed, {"EX-1", "EX-2"}, {"carve"}).empty());
  // No overwrite without --force.
  r = run(cmd);
  CHECK(r.exit_code == 1);
  CHECK(r.err == "safehold: " + out.string() + ": exists (use --force to replace it)\n");
  CHECK(run(cmd + " --force").exit_code == 0);
  // Never into an input.
  r = run(bin + " export --vics " + shell_quote((dirs[0] / "x.json").string()) + " " +
          shell_quote(dirs[0].string()));
  CHECK(r.exit_code == 1);
  CHECK(r.err == "safehold: " + (dirs[0] / "x.json").string() + ": inside the input directory " +
                     dirs[0].string() + "; write it elsewhere\n");
  // A carve directory without an acquisition record has no exhibit reference.
  auto bare = bin + " export --vics " + shell_quote((c.t / "bare.json").string()) +
              " --shape uk-cases " + shell_quote(c.dev1.string());
  r = run(bare);
  CHECK(r.exit_code == 1);
  CHECK(r.err == "safehold: " + c.dev1.string() +
                     ": no exhibit reference (no <exhibit>.acquire.json beside it); give "
                     "--exhibit REF once per CARVE_DIR\n");
  r = run(bare + " --exhibit EX-9");
  CHECK(r.exit_code == 1);
  CHECK(r.err == "safehold: " + c.dev1.string() +
                     ": no case number (no acquisition record with case.case_number); give "
                     "--case REF\n");
  CHECK(run(bare + " --exhibit EX-9 --case OP-9").exit_code == 0);
  auto bare_doc = nlohmann::json::parse(safehold::test::read_text(c.t / "bare.json"));
  CHECK(bare_doc["value"][0]["CaseNumber"] == "OP-9");
  CHECK(bare_doc["value"][0]["Media"][0]["MediaFiles"][0]["SourceID"] == "EX-9");
  r = run(bin + " export --vics " + shell_quote((c.t / "s.json").string()) + " --shape flat " +
          shell_quote(c.dev1.string()));
  CHECK(r.exit_code == 1);
  CHECK(r.err == "safehold: --shape flat: expected media or uk-cases\n");
  // A malformed grades file.
  write_text(grades, "{\"xyz\": 1}");
  r = run(cmd + " --force");
  CHECK(r.exit_code == 1);
  CHECK(r.err ==
        "safehold: " + grades.string() + ": key \"xyz\" is not an MD5 or SHA-1 hex digest\n");
  write_text(grades, "{\"" + c.md5("b") + "\": 7}");
  r = run(cmd + " --force");
  CHECK(r.exit_code == 1);
  CHECK(r.err == "safehold: " + grades.string() + ": category of " + c.md5("b") +
                     " is 7, not a whole number from 0 to 4\n");
}

TEST_CASE("export VICS --shape media passes IPED's Project VIC reader", "[export]") {
  Case c;
  auto dirs = evidence_folders(c);
  auto grades = c.t / "grades.json";
  write_text(grades, "{\"" + c.md5("b") + "\": 2}");
  auto out = c.t / "media.json";
  must_run(safehold::test::safehold_binary() + " export --vics " + shell_quote(out.string()) +
           " --shape media --grades " + shell_quote(grades.string()) + " " +
           shell_quote(dirs[0].string()) + " " + shell_quote(dirs[1].string()));
  auto text = safehold::test::read_text(out);
  auto r = iped_read_project_vic(text);
  CHECK(r.error == "");
  CHECK(r.records == 3);
  CHECK(r.invalid_hashes == 0);
  // Graded 1 and 2 are "pedo"; the ungraded Media gets no status, never "known" (which IPED
  // would exclude from the case).
  CHECK(r.statuses == std::vector<std::string>{"pedo", "pedo", ""});
  auto doc = nlohmann::json::parse(text);
  CHECK(doc["value"][0]["MediaFiles"][0]["SourceID"] == "EX-1");
  CHECK(doc["value"][0]["Comments"] == "Found on devices: EX-1, EX-2");
  CHECK_FALSE(doc["value"][0]["MediaFiles"][0].contains("Deleted"));

  // The port rejects what IPED rejects.
  CHECK(iped_read_project_vic(R"({"value": [], "@odata.context": "x"})").error ==
        "Unknown ProjectVic JSON data model!");
  CHECK(
      iped_read_project_vic(
          R"({"@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/Default/$metadata#Media", "value": [{"MD5": "", "Category": 1}]})")
          .error == "MD5 is empty (null hash, NullPointerException)");
  // The UK shape is not for IPED.
  VicsOptions o;
  o.shape = VicsShape::uk_cases;
  auto uk = build_vics(dirs, "2026-01-02T03:04:05Z", nullptr, o);
  CHECK(iped_read_project_vic(uk.dump()).error == "Unknown ProjectVic JSON data model!");
}

TEST_CASE("export bundle carries acquisition records and exhibit names", "[export]") {
  Case c;
  auto dirs = evidence_folders(c);
  auto bundle = c.t / "ev.tar.zst";
  must_run(safehold::test::safehold_binary() + " export --bundle " + shell_quote(bundle.string()) +
           " " + shell_quote(dirs[0].string()) + " " + shell_quote(dirs[1].string()));
  auto listing = must_run("tar --zstd -tf " + shell_quote(bundle.string()));
  CHECK(listing.find("carve/acquisition/EX-1.acquire.json\ncarve/acquisition/EX-1.acquire.log\n") !=
        std::string::npos);
  CHECK(listing.find("carve-2/acquisition/EX-2.acquire.json\n") != std::string::npos);
  auto exhibits = must_run("tar --zstd -xOf " + shell_quote(bundle.string()) + " EXHIBITS.json");
  CHECK(nlohmann::json::parse(exhibits) == nlohmann::json::parse(R"({"devices": [
          {"folder": "carve", "exhibit": "EX-1", "case": "OP-21"},
          {"folder": "carve-2", "exhibit": "EX-2", "case": "OP-21"}]})"));
  CHECK(verify_bundle(bundle).ok());
}
