// Videos in `safehold carve`: vPDQ frame hashes of every video (a sidecar in vPDQ's format), a
// video that cannot be decoded warned about, and `--known` with a set of videos imported from
// vPDQ files: the clip and its re-encoded, resized copy are known, an unrelated clip is not.
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "tests/common/support.hpp"
#include "tests/common/video_clips.hpp"

using nlohmann::json;
using safehold::test::must_run;
using safehold::test::run;
using safehold::test::shell_quote;
using safehold::test::TempDir;

namespace {

// The clip with every byte of its media data zeroed: a valid MP4 structure nothing decodes.
void zero_media(const std::filesystem::path& from, const std::filesystem::path& to) {
  std::string b = safehold::test::read_text(from);
  size_t i = b.find("mdat");
  REQUIRE(i != std::string::npos);
  REQUIRE(i >= 4);
  uint32_t size = static_cast<uint32_t>(static_cast<uint8_t>(b[i - 4])) << 24 |
                  static_cast<uint32_t>(static_cast<uint8_t>(b[i - 3])) << 16 |
                  static_cast<uint32_t>(static_cast<uint8_t>(b[i - 2])) << 8 |
                  static_cast<uint32_t>(static_cast<uint8_t>(b[i - 1]));
  REQUIRE(i - 4 + size <= b.size());
  std::fill(b.begin() + static_cast<std::ptrdiff_t>(i + 4),
            b.begin() + static_cast<std::ptrdiff_t>(i - 4 + size), '\0');
  safehold::test::write_text(to, b);
}

}  // namespace

TEST_CASE("carve hashes videos with vPDQ and marks known ones by their frames", "[known][cli]") {
  TempDir t;
  auto q = [](const std::filesystem::path& p) { return shell_quote(p.string()); };
  std::string safehold = shell_quote(safehold::test::safehold_binary());
  auto dir = t / "root" / "Videos";
  std::filesystem::create_directories(dir);
  safehold::test::make_clip(dir / "clip.mp4");
  safehold::test::make_reencoded_copy(dir / "clip.mp4", dir / "copy.mp4");
  safehold::test::make_unrelated_clip(dir / "other.mp4");
  zero_media(dir / "clip.mp4", dir / "zeroed.mp4");
  must_run("mke2fs -q -t ext4 -d " + q(t / "root") + " " + q(t / "disk.img") + " 16M");

  // The known set: the clip's vPDQ file, imported as vPDQ wrote it.
  std::filesystem::create_directories(t / "known");
  must_run(safehold + " vpdq " + q(dir / "clip.mp4") + " -o " + q(t / "known/clip.txt"));
  CHECK(safehold::test::read_text(t / "known/clip.txt") == safehold::test::kClipVpdq);
  auto imported =
      json::parse(must_run(safehold + " hashset import --format vpdq " + q(t / "known") + " -o " +
                           q(t / "videos.set") + " --name Videos --category A --json"));
  CHECK(imported["videos"] == 1);
  CHECK(imported["frames"] == 5);
  CHECK(imported["categories"] == 1);
  CHECK(must_run(safehold + " hashset info " + q(t / "videos.set")).find("Videos:      1\n") !=
        std::string::npos);

  auto res = run(safehold + " carve " + q(t / "disk.img") + " -o " + q(t / "out") +
                 " --no-unallocated --json --known " + q(t / "videos.set"));
  INFO(res.err);
  std::map<std::string, json> by_name;
  std::ifstream in(t / "out/report.jsonl");
  for (std::string l; std::getline(in, l);) {
    auto a = json::parse(l);
    by_name[a["path"].get<std::string>()] = a;
  }
  REQUIRE(by_name.size() == 4);
  auto& clip = by_name["/Videos/clip.mp4"];
  auto& copy = by_name["/Videos/copy.mp4"];
  auto& other = by_name["/Videos/other.mp4"];
  auto& zeroed = by_name["/Videos/zeroed.mp4"];
  const json known{{"set", "Videos"},
                   {"category", "A"},
                   {"ignorable", false},
                   {"video", "clip.txt"},
                   {"video_percent", 100.0}};
  CHECK(clip["known"] == known);
  CHECK(copy["known"] == known);
  CHECK(other["known"].is_null());
  CHECK(zeroed["known"].is_null());
  for (auto* a : {&clip, &copy, &other}) {
    CHECK((*a)["vpdq_frames"] == 5);
    CHECK((*a)["vpdq"] == "vpdq/" + (*a)["id"].get<std::string>() + ".txt");
    CHECK((*a)["warnings"] == json::array());
  }
  CHECK(safehold::test::read_text(t / "out" / clip["vpdq"].get<std::string>()) ==
        safehold::test::kClipVpdq);
  CHECK(zeroed["vpdq"].is_null());
  CHECK(zeroed["vpdq_frames"].is_null());
  CHECK(zeroed["warnings"] == json::array({"vPDQ: " + zeroed["file"].get<std::string>() +
                                           ": no frame of its video stream could be decoded"}));
  auto summary = json::parse(safehold::test::read_text(t / "out/summary.json"));
  CHECK(summary["videos_hashed"] == 3);
  CHECK(summary["videos_failed"] == 1);
  CHECK(summary["videos_known"] == 2);
  CHECK(summary["known"] == 2);

  // A malformed vPDQ file is refused with its line, and no set is written.
  safehold::test::write_text(t / "bad.txt", "0,100,abc,0.000\n");
  auto bad = run(safehold + " hashset import --format vpdq " + q(t / "bad.txt") + " -o " +
                 q(t / "bad.set"));
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find((t / "bad.txt").string() +
                     ": line 1: not a vPDQ frame (frame_number,quality,pdq_hex,timestamp)") !=
        std::string::npos);
  CHECK_FALSE(std::filesystem::exists(t / "bad.set"));
}
