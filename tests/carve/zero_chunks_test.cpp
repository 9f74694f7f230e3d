// E01 free space made of zero chunks: Vigil neither inflates nor scans those chunks (it recognises
// their stored bytes), which must not change what is carved. Media right after zero chunks, in the
// middle of a chunk, and a BMP whose pixel data is itself whole zero chunks (a walk still pending
// when the zero chunks arrive) come back exactly as from the raw image.
#include "tests/common/support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>

using vigil::test::must_run;
using vigil::test::read_text;
using vigil::test::shell_quote;
using vigil::test::TempDir;
using nlohmann::json;

TEST_CASE("carve of an E01 with zero chunks gives the raw image's artefacts and hashes", "[carve][ewf]") {
  TempDir t;
  const std::string d = shell_quote(t.path().string());
  must_run("cd " + d + " && /usr/bin/convert -size 200x150 plasma:fractal a.jpg" +
           " && /usr/bin/convert -size 120x90 plasma:fractal b.jpg" +
           " && /usr/bin/convert -size 256x256 xc:black -type truecolor BMP3:c.bmp" +
           " && /usr/bin/convert -size 64x64 gradient:red-blue d.png");
  // 7 MiB of zeros holding the four files: a at a chunk boundary right after 64 zero chunks, b in
  // the middle of a chunk, c (196 KiB, mostly zero pixels) spanning zero chunks, d after them.
  const std::vector<std::pair<uint64_t, std::string>> parts = {
      {2u << 20, "a.jpg"}, {(3u << 20) + 1536, "b.jpg"}, {(4u << 20) + 1024, "c.bmp"}, {6u << 20, "d.png"}};
  std::string img(7u << 20, '\0');
  for (auto& [off, name] : parts) {
    std::string data = read_text(t / name);
    img.replace(off, data.size(), data);
  }
  vigil::test::write_text(t / "z.raw", img);
  must_run("cd " + d + " && ewfacquire -u -q -t z -f encase6 -c fast -b 64 -C c -D d -E e -e x -N n z.raw");
  const std::string vigil = shell_quote(vigil::test::vigil_binary());
  must_run(vigil + " carve " + d + "/z.raw -o " + d + "/raw --json");
  must_run(vigil + " carve " + d + "/z.E01 -o " + d + "/e01 --json");
  CHECK(read_text(t / "raw" / "report.jsonl") == read_text(t / "e01" / "report.jsonl"));

  std::vector<json> report;
  std::ifstream in(t / "e01" / "report.jsonl");
  for (std::string l; std::getline(in, l);) report.push_back(json::parse(l));
  REQUIRE(report.size() == parts.size());
  for (size_t i = 0; i < parts.size(); ++i) {
    INFO(parts[i].second);
    const json& a = report[i];
    CHECK(a["state"] == "carved");
    CHECK(a["valid"] == true);
    CHECK(a["sha256"] == vigil::test::sha256_file(t / parts[i].second));
    CHECK(vigil::test::sha256_file(t / "e01" / a["file"].get<std::string>()) == a["sha256"]);
    REQUIRE(a["byte_runs"].size() == 1);
    CHECK(a["byte_runs"][0]["img_offset"] == parts[i].first);
    CHECK(a["byte_runs"][0]["len"] == std::filesystem::file_size(t / parts[i].second));
  }
  CHECK(report[2]["type"] == "bmp");
  auto summary = json::parse(read_text(t / "e01" / "summary.json"));
  auto raw_summary = json::parse(read_text(t / "raw" / "summary.json"));
  CHECK(summary["bytes_read"] == img.size());
  summary.erase("duration_seconds");
  raw_summary.erase("duration_seconds");
  CHECK(summary == raw_summary);  // the same counts and the same errors (no filesystem on it)
}
