// An exhibit for the report tests, made with real tools: an ext4 image (mke2fs -d) with pictures
// under hostile names, a picture deleted with debugfs and an Android SMS database; acquired to
// E01 with `safehold acquire` and carved with `safehold carve` into the layout `safehold work`
// writes (DIR/EX-1.E01, DIR/EX-1.acquire.json, DIR/carve/…).
#pragma once

#include <filesystem>
#include <string>

#include "tests/common/support.hpp"

namespace safehold::test {

// The hostile file names planted in the image (no '/': ext4 allows everything else).
inline const std::string kXssName = "<img src=x onerror=window.pwned=1>.jpg";
inline const std::string kBidiName = "evil\xe2\x80\xaegnp.exe";

struct SampleExhibit {
  std::filesystem::path raw;       // the ext4 image
  std::filesystem::path evidence;  // the evidence folder
};

// Builds it under `dir`. Fails the test when a tool fails.
SampleExhibit make_sample_exhibit(const std::filesystem::path& dir);

}  // namespace safehold::test
