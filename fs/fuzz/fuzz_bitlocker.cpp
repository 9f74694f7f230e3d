// libFuzzer target for the BitLocker reader (fs/internal/bitlocker.cpp over Debian's libbde
// 20190102): the volume header, the FVE metadata blocks and entries libbde parses when it
// describes a volume without a key, then an attempt with the password "fuzz" and a read of the
// first sectors when it unlocks. The input is the start of a 256 MiB volume whose other bytes
// are zeros (BitLocker's metadata blocks lie megabytes in). No public BitLocker volume is small
// enough to seed it; the corpus grows from "-FVE-FS-" boot sectors (fs/fuzz/seeds.sh).
#include <algorithm>
#include <cstring>

#include "fs/error.hpp"
#include "fs/fuzz/fuzz_common.hpp"
#include "fs/internal/bitlocker.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace safehold::fs;
  constexpr uint64_t kVolume = uint64_t{256} << 20;
  const bde::ReadFn read = fuzz::zero_padded(data, size, kVolume);
  if (size < 512 || !bde::is_bitlocker(data)) return 0;
  bde::describe(read, kVolume);
  VolumeKey key;
  key.kind = SecretKind::password;
  key.secret = "fuzz";
  key.origin = "--key 0";
  try {
    TSK_IMG_INFO* img = bde::open(read, kVolume, key, "input");
    char buf[4096];
    tsk_img_read(img, 0, buf, sizeof buf);
    tsk_img_close(img);
  } catch (const EvidenceError&) {
  }
  return 0;
}
