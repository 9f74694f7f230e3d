// Pass 1 keeps media files up to 32 MiB in memory and streams larger ones into their artefact file,
// which is then walked from a mapping and hashed by a job: the large file must come out exactly
// as the small ones do, with the same report fields.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/common/support.hpp"

using nlohmann::json;
using safehold::test::must_run;
using safehold::test::read_text;
using safehold::test::shell_quote;
using safehold::test::TempDir;

TEST_CASE("carve streams a media file over 32 MiB to its artefact with the exact hashes",
          "[carve][slow]") {
  TempDir t;
  const std::string d = shell_quote(t.path().string());
  std::filesystem::create_directories(t / "root" / "DCIM");
  // 3700 x 3700 truecolour BMP: 41,070,054 bytes (39.2 MiB), over the 32 MiB in-memory limit.
  must_run("cd " + d +
           "/root/DCIM && /usr/bin/convert -size 3700x3700 gradient:red-blue -type truecolor "
           "BMP3:big.bmp" +
           " && /usr/bin/convert -size 64x48 gradient:green-yellow small.png");
  const auto big = t / "root" / "DCIM" / "big.bmp";
  REQUIRE(std::filesystem::file_size(big) == 41070054u);
  must_run("mke2fs -q -t ext4 -d " + d + "/root " + d + "/disk.img 64M");
  const std::string safehold = shell_quote(safehold::test::safehold_binary());
  must_run(safehold + " carve " + d + "/disk.img -o " + d + "/out --json");

  std::vector<json> report;
  std::ifstream in(t / "out" / "report.jsonl");
  for (std::string l; std::getline(in, l);) report.push_back(json::parse(l));
  REQUIRE(report.size() == 2);
  const json* b = nullptr;
  const json* s = nullptr;
  for (auto& a : report) (a["path"] == "/DCIM/big.bmp" ? b : s) = &a;
  REQUIRE(b != nullptr);
  REQUIRE(s != nullptr);
  CHECK((*s)["path"] == "/DCIM/small.png");
  CHECK((*b)["type"] == "bmp");
  CHECK((*b)["state"] == "allocated");
  CHECK((*b)["valid"] == true);
  CHECK((*b)["size"] == 41070054u);
  CHECK((*b)["md5"] == safehold::test::md5_file(big));
  CHECK((*b)["sha256"] == safehold::test::sha256_file(big));
  CHECK(safehold::test::sha256_file(t / "out" / (*b)["file"].get<std::string>()) == (*b)["sha256"]);
  CHECK((*b)["file"].get<std::string>().rfind("artefacts/bmp/", 0) == 0);
  uint64_t runs = 0;
  for (auto& r : (*b)["byte_runs"]) runs += r["len"].get<uint64_t>();
  CHECK(runs == 41070054u);
  CHECK((*s)["sha256"] == safehold::test::sha256_file(t / "root" / "DCIM" / "small.png"));
  // No partial file is left behind in artefacts/.
  for (auto& e : std::filesystem::recursive_directory_iterator(t / "out" / "artefacts"))
    CHECK(e.path().filename().string().rfind(".partial-", 0) == std::string::npos);
}
