// Disk containers read through Debian's libyal libraries: QCOW/QCOW2 (libqcow), VHD and VHDX
// (libvhdi), VMDK sparse, flat and split (libvmdk), each with its chain of parents (backing files,
// differencing parents), handed to TSK as a callback image of our own. Formats Safehold knows but
// cannot read (DMG, VDI, EWF2, compressed files, ...) are recognised so that they are never read
// as raw data by mistake.
#pragma once

#include <tsk/libtsk.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace safehold::fs::container {

enum class Kind { none, qcow, vhd, vhdx, vmdk };

// What the file's first and last bytes say it is. `unsupported` is set (and Kind::none returned)
// for a format Safehold recognises but cannot read: "an Apple disk image (DMG)".
Kind detect(const std::filesystem::path& path, std::string* unsupported);

// Media bytes [offset, offset + len) that cannot be read, and why.
struct BadRange {
  uint64_t offset = 0, len = 0;
  std::string reason;
};

struct Opened {
  TSK_IMG_INFO* img = nullptr;  // close with tsk_img_close()
  // QCOW2: media ranges whose clusters (or L2 tables) lie outside their file. Reads touching them
  // fail (libqcow 20201213 overruns a heap buffer reading a cluster cut short by the file's end).
  std::vector<BadRange> damage;
  // The files read: the image, its extents (VMDK), then each parent in order.
  std::vector<std::filesystem::path> files;
  uint32_t bytes_per_sector = 0;  // the container's own (VHDX), 0: not recorded
};

// Opens the container and its parents: `parents` in order when given (the image's parent first),
// else each parent as recorded, looked for in the folder of the file that names it. Throws
// EvidenceError naming a missing parent or extent, an encrypted image, or what the library says.
// `sector_size` 0: the container's own, else 512.
Opened open(const std::filesystem::path& path, Kind kind,
            const std::vector<std::filesystem::path>& parents, uint32_t sector_size);

// Where a QCOW header (its first 20 bytes or more) says the backing file's name is; nullopt when
// it names none. Every value is checked against the file's size (qemu's limit: 1023 bytes).
// Throws EvidenceError naming `name` when the header is not QCOW or the values are impossible.
// Exposed for fuzzing.
struct BackingFile {
  uint64_t offset = 0;
  uint32_t size = 0;
};
std::optional<BackingFile> qcow_backing(std::span<const unsigned char> header, uint64_t file_size,
                                        const std::string& name);

// QCOW2 (versions 2 and 3): checks the header's geometry and L1 table (throws EvidenceError
// naming `name` when impossible) and returns the media ranges whose L2 tables or uncompressed
// clusters do not lie wholly inside the file. `read(offset, buf, n)` reads exactly n bytes of
// the file or returns false. Exposed for fuzzing.
std::vector<BadRange> qcow2_bad_ranges(const std::function<bool(uint64_t, void*, size_t)>& read,
                                       uint64_t file_size, const std::string& name);

}  // namespace safehold::fs::container
