// E01 free space made of zero chunks: Safehold neither inflates nor scans those chunks (it
// recognises their stored bytes), which must not change what is carved. Media right after zero
// chunks, in the middle of a chunk, and a BMP whose pixel data is itself whole zero chunks (a walk
// still pending when the zero chunks arrive) come back exactly as from the raw image.
#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fs/image.hpp"
#include "fs/internal/ewf_chunks.hpp"
#include "fs/reader.hpp"
#include "tests/common/support.hpp"

using nlohmann::json;
using safehold::test::must_run;
using safehold::test::read_text;
using safehold::test::shell_quote;
using safehold::test::TempDir;

TEST_CASE("carve of an E01 with zero chunks gives the raw image's artefacts and hashes",
          "[carve][ewf]") {
  TempDir t;
  const std::string d = shell_quote(t.path().string());
  must_run("cd " + d + " && /usr/bin/convert -size 200x150 plasma:fractal a.jpg" +
           " && /usr/bin/convert -size 120x90 plasma:fractal b.jpg" +
           " && /usr/bin/convert -size 256x256 xc:black -type truecolor BMP3:c.bmp" +
           " && /usr/bin/convert -size 64x64 gradient:red-blue d.png");
  // 7 MiB of zeros holding the four files: a at a chunk boundary right after 64 zero chunks, b in
  // the middle of a chunk, c (196 KiB, mostly zero pixels) spanning zero chunks, d after them.
  const std::vector<std::pair<uint64_t, std::string>> parts = {{2u << 20, "a.jpg"},
                                                               {(3u << 20) + 1536, "b.jpg"},
                                                               {(4u << 20) + 1024, "c.bmp"},
                                                               {6u << 20, "d.png"}};
  std::string img(7u << 20, '\0');
  for (auto& [off, name] : parts) {
    std::string data = read_text(t / name);
    img.replace(off, data.size(), data);
  }
  safehold::test::write_text(t / "z.raw", img);
  must_run("cd " + d +
           " && ewfacquire -u -q -t z -f encase6 -c fast -b 64 -C c -D d -E e -e x -N n z.raw");
  const std::string safehold = shell_quote(safehold::test::safehold_binary());
  must_run(safehold + " carve " + d + "/z.raw -o " + d + "/raw --json");
  must_run(safehold + " carve " + d + "/z.E01 -o " + d + "/e01 --json");
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
    CHECK(a["sha256"] == safehold::test::sha256_file(t / parts[i].second));
    CHECK(safehold::test::sha256_file(t / "e01" / a["file"].get<std::string>()) == a["sha256"]);
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

// Pass 2's whole-image reader and the TSK backend share decoded chunks (fs::ewf::SharedChunks):
// what one decoded the other takes without reading or inflating it again. Whatever order they come
// in, every byte must be the image's.
TEST_CASE("E01 chunks shared between the sequential reader and the TSK backend read back exactly",
          "[carve][ewf]") {
  TempDir t;
  const std::string d = shell_quote(t.path().string());
  // 6 MiB: noise (incompressible, stored chunks), text (compressed chunks) and zero chunks.
  std::string img(6u << 20, '\0');
  uint32_t x = 12345;
  for (size_t i = (1u << 20); i < (2u << 20) + 777; ++i)
    img[i] = static_cast<char>((x = x * 1103515245u + 12345u) >> 24);
  for (size_t i = (3u << 20) + 100; i < (5u << 20); ++i)
    img[i] = static_cast<char>('a' + (i * 7 % 23));
  safehold::test::write_text(t / "s.raw", img);
  must_run("cd " + d +
           " && ewfacquire -u -q -t s -f encase6 -c fast -b 64 -C c -D d -E e -e x -N n s.raw");

  auto image = safehold::fs::Image::open(t / "s.E01");
  safehold::fs::ewf::SharedChunks* share = image->shared_chunks();
  REQUIRE(share != nullptr);
  std::vector<std::byte> got(img.size());
  // Nothing is kept before a sharing reader starts.
  image->read(3u << 20, std::span<std::byte>(got.data(), 1u << 20));
  CHECK(share->bytes_held() == 0);

  auto read_all = [&](uint64_t start, uint64_t length) {
    safehold::fs::ReadOptions ro;
    ro.share = share;
    ro.start = start;
    ro.length = length;
    uint64_t zero_bytes = 0;
    ro.zeros = [&](uint64_t off, uint64_t len) {
      std::memset(got.data() + off, 0, len);
      zero_bytes += len;
      return true;
    };
    std::fill(got.begin() + static_cast<std::ptrdiff_t>(start),
              got.begin() + static_cast<std::ptrdiff_t>(start + length), std::byte{0x5A});
    auto r = safehold::fs::read_sequential(
        t / "s.E01",
        [&](uint64_t off, std::span<const std::byte> b) {
          std::memcpy(got.data() + off, b.data(), b.size());
          return true;
        },
        ro);
    CHECK(r.used_raw_chunks);
    CHECK(r.errors.empty());
    CHECK(r.bytes == length);
    return zero_bytes;
  };
  // A middle part first: its chunks are published...
  read_all(1u << 20, 2u << 20);
  CHECK(std::memcmp(got.data() + (1u << 20), img.data() + (1u << 20), 2u << 20) == 0);
  CHECK(share->bytes_held() > 0);
  // ...TSK's reads take them (and publish what they decode themselves)...
  std::vector<std::byte> via_tsk(img.size());
  CHECK(image->read(0, via_tsk) == img.size());
  CHECK(std::memcmp(via_tsk.data(), img.data(), img.size()) == 0);
  // ...and a whole read skips the chunks already known (seeking past them) and still gives every
  // byte.
  uint64_t zero_bytes = read_all(0, img.size());
  CHECK(std::memcmp(got.data(), img.data(), img.size()) == 0);
  CHECK(zero_bytes > 0);
  const size_t held = share->bytes_held();
  CHECK(held <= img.size());
  CHECK(image->read(0, via_tsk) == img.size());
  CHECK(std::memcmp(via_tsk.data(), img.data(), img.size()) == 0);
}
