// libFuzzer target for Safehold's LVM2 reader (fs/internal/lvm.cpp, fs/internal/lvm_meta.cpp):
// the label and PV header, the metadata area header, the metadata text (wrapping around the
// area's end), the volume group's physical and logical volumes and their segments, then each
// logical volume's extents mapped to image bytes. The input is the start of a 1 GiB physical
// volume whose other bytes are zeros (a metadata area is 1 MiB by default; inputs stay small).
// Seeded with pvcreate/vgcreate/lvcreate output (fs/fuzz/seeds.sh); the text alone too.
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string_view>

#include "fs/error.hpp"
#include "fs/fuzz/fuzz_common.hpp"
#include "fs/internal/lvm.hpp"
#include "fs/internal/lvm_meta.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace safehold::fs;
  constexpr uint64_t kVolume = uint64_t{1} << 30;
  const lvm::ReadFn read = fuzz::zero_padded(data, size, kVolume);
  try {
    if (lvm::is_physical_volume(read, kVolume)) {
      const lvm::Group g = lvm::read_group(read, kVolume, "input");
      for (const auto& lv : g.volumes) {
        lvm::contiguous(lv);
        lvm::to_image(lv.extents, 1 << 20, lv.size / 3, lv.size);
      }
    }
  } catch (const EvidenceError&) {
  }
  // The text alone, then as this PV's group (its first physical volume taken as this one, so
  // that the logical volumes' segments are reached without the checksums in the way).
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto root = lvm::meta::parse(text);
    std::string id;
    for (const auto& s : root.sections)
      if (const auto* pvs = s->section("physical_volumes"); pvs && !pvs->sections.empty())
        id = pvs->sections.front()->text("id").value_or("");
    id.erase(std::remove(id.begin(), id.end(), '-'), id.end());
    for (const auto& lv : lvm::group_from_text(text, id, 1 << 20, kVolume).volumes)
      lvm::to_image(lv.extents, 0, 0, lv.size);
  } catch (const std::runtime_error&) {
  }
  return 0;
}
