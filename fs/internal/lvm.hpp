// LVM2 physical volumes found on a volume of an image (a partition, or the whole image): the
// label, the metadata area and the volume group's text metadata are read by Safehold's own code
// (fs/internal/lvm_meta.hpp parses the text), and each logical volume becomes a list of extents
// mapping its bytes to image bytes. Debian's libvslvm 20181227 is not used: it cannot open a
// logical volume of more than one segment (any volume grown by lvextend; docs/fs.md). Data is
// read from the image through the extent map: a logical volume lying in one contiguous image
// range is read like a partition, any other through a TSK callback image of our own. Every
// offset and size from the label and metadata is checked against the physical volume first.
#pragma once

#include <tsk/libtsk.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fs/image.hpp"

namespace safehold::fs::lvm {

// Reads exactly n bytes of the physical volume at offset, or returns false.
using ReadFn = std::function<bool(uint64_t offset, void* buf, size_t n)>;

// Bytes [lv_offset, lv_offset + len) of a logical volume are bytes [pv_offset, pv_offset + len)
// of the physical volume it was found on.
struct Extent {
  uint64_t lv_offset = 0, len = 0, pv_offset = 0;
};

struct LogicalVolume {
  std::string name, identifier;
  uint64_t size = 0;
  std::vector<Extent> extents;  // in LV order, tiling [0, size); empty when `unreadable`
  std::string unreadable;       // why its data cannot be read (on a missing PV, striped, ...)
};

struct Group {
  std::string name, identifier;
  std::string pv_name, pv_identifier;  // this physical volume: "pv0", its UUID (no dashes)
  uint64_t pe_start = 0;               // bytes from the PV start to its first extent
  int physical_volumes = 0;            // of the group
  std::vector<std::string> missing;    // the group's PVs not found here: "pv1 (UUID …)"
  std::vector<LogicalVolume> volumes;
};

// Reads the image's bytes [start, start + length) as a volume (false beyond it or on error).
ReadFn reader(const Image& image, uint64_t start, uint64_t length);
// Reads a TSK image (a decrypted volume), which must outlive the function.
ReadFn reader(TSK_IMG_INFO* img);

// True when one of the first four 512-byte sectors is an LVM2 label ("LABELONE", "LVM2 001").
bool is_physical_volume(const ReadFn& read, uint64_t size);

// Reads the volume group a physical volume of `size` bytes belongs to. Throws EvidenceError
// naming `name` when the label or metadata is damaged or impossible.
Group read_group(const ReadFn& read, uint64_t size, const std::string& name);

// The volume group LVM2 metadata text describes, for the physical volume of that UUID (32
// characters, no dashes) whose data starts at byte pe_start of its `size` bytes. Throws
// std::runtime_error naming what is wrong. Exposed for fuzzing (read_group uses it).
Group group_from_text(std::string_view text, const std::string& pv_uuid, uint64_t pe_start,
                      uint64_t size);

// True when the logical volume's extents follow each other on the physical volume.
bool contiguous(const LogicalVolume& lv);

// Image byte ranges [img, img + len) that bytes [off, off + len) of a logical volume found at
// image offset `pv_start` occupy, in order; clipped to the volume's extents.
struct Piece {
  uint64_t lv_offset = 0, img = 0, len = 0;
};
std::vector<Piece> to_image(const std::vector<Extent>& extents, uint64_t pv_start, uint64_t off,
                            uint64_t len);

// The logical volume as a TSK image reading its physical volume through `read_pv` and its
// extents (close with tsk_img_close; what `read_pv` reads must outlive it). Throws EvidenceError
// naming `name`.
TSK_IMG_INFO* open(const ReadFn& read_pv, const LogicalVolume& lv, const std::string& name);

}  // namespace safehold::fs::lvm
