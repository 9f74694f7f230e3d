// An opened piece of evidence: E01 (one or many segments), raw/dd, split raw, QCOW/QCOW2, VHD,
// VHDX and VMDK (with their parents and extents).
// Reads are thread-safe (serialised inside; use SequentialReader for fast whole-image reads).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fs/error.hpp"
#include "fs/keys.hpp"

struct TSK_IMG_INFO;
namespace safehold::fs::ewf {
class SharedChunks;
class ChunkMap;
}  // namespace safehold::fs::ewf

namespace safehold::fs {

// zip, tar, folder, itunes: a phone extraction (fs::Evidence reads it as a file tree; the Image
// is the archive file read as bytes, or nothing for a folder or backup).
enum class ImageFormat { raw, split_raw, ewf, vhd, vmdk, qcow, vhdx, zip, tar, folder, itunes };
const char* to_string(ImageFormat f);

// Metadata an EWF image carries (absent values are "").
struct EwfMetadata {
  std::string case_number, evidence_number, examiner, description, notes;
  std::string acquiry_date, system_date, acquiry_os, acquiry_software, acquiry_software_version;
  std::string media_type, md5, sha1;                          // stored hashes, lowercase hex
  uint64_t chunk_size = 0;                                    // bytes
  std::string compression;                                    // none, fast, best, unknown
  std::vector<std::pair<uint64_t, uint64_t>> acquiry_errors;  // {first sector, count}
};

// How to open an image (Image::open).
struct OpenOptions {
  // 0 takes it from the container (E01, VHDX) or detects it: 4096 when a GPT header is at byte
  // 4096, or when an MBR's partitions start at boot sectors only if counted in 4096-byte sectors;
  // else 512. Any other value (512, 1024, 2048, 4096) overrides both.
  uint32_t sector_size = 0;
  // Read the file as raw media whatever it looks like (a container or format Safehold recognises
  // is otherwise opened as that, or refused when it cannot read it).
  bool raw = false;
  // Parents of a differencing disk (QCOW backing file, differencing VHD/VHDX, VMDK child), the
  // image's own parent first; when empty, each parent recorded in a file is looked for beside it.
  std::vector<std::filesystem::path> parents;
  // Keys for encrypted volumes (--key, --keys; see fs/keys.hpp). Never logged.
  std::vector<VolumeKey> keys;
};

class Image {
 public:
  // Opens by path; for E01 and split raw, give the first segment and the rest are found; for a
  // VMDK, its descriptor. `segments()` lists every file read (segments, extents, parents).
  // Throws EvidenceError naming the file and the problem.
  // An unsupported format (DMG, VDI, EWF2, a compressed file, ...) is refused naming it, unless
  // `raw`; a differencing disk whose parent, or a VMDK whose extent file, is missing is refused
  // naming the missing file.
  static std::unique_ptr<Image> open(const std::filesystem::path& path, const OpenOptions& opts);
  static std::unique_ptr<Image> open(const std::filesystem::path& path, uint32_t sector_size = 0) {
    OpenOptions o;
    o.sector_size = sector_size;
    return open(path, o);
  }
  // fs/ only: the Image of an extraction (Evidence::open): an archive file's bytes as they are
  // (size, read), or for a folder or backup an image of size 0.
  static std::unique_ptr<Image> open_extraction(const std::filesystem::path& path,
                                                ImageFormat format);
  ~Image();
  Image(const Image&) = delete;
  Image& operator=(const Image&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const OpenOptions& options() const { return opts_; }
  ImageFormat format() const { return format_; }
  uint64_t size() const;
  uint32_t sector_size() const;
  const std::vector<std::filesystem::path>& segments() const { return segments_; }
  const std::optional<EwfMetadata>& ewf_metadata() const { return ewf_; }

  // E01: the ranges the image's own structure says cannot be read (chunks no table locates, or
  // whose table entries are impossible), found when it was opened; chunks found damaged only when
  // decoded are not in it. An extraction: what its listing could not read. Others: empty.
  const std::vector<ChunkError>& damage() const { return damage_; }

  // Reads up to out.size() bytes at offset; returns bytes read (short only at the end).
  // Throws EvidenceError on an unreadable region.
  size_t read(uint64_t offset, std::span<std::byte> out) const;

  // The underlying TSK handle, for fs/ internals only.
  TSK_IMG_INFO* tsk() const { return img_; }
  // For E01 read through Safehold's backend: the decoded chunks a whole-image read may share with
  // it (ReadOptions::share), so TSK's reads need not decode them again; nullptr otherwise.
  ewf::SharedChunks* shared_chunks() const { return shared_.get(); }
  // For E01, fs/ internals only: where each chunk is stored.
  const std::shared_ptr<const ewf::ChunkMap>& ewf_map() const { return map_; }

 private:
  Image() = default;
  friend class Evidence;  // an extraction's listing damage goes into damage_
  std::filesystem::path path_;
  OpenOptions opts_;
  ImageFormat format_ = ImageFormat::raw;
  std::vector<std::filesystem::path> segments_;
  std::optional<EwfMetadata> ewf_;
  TSK_IMG_INFO* img_ = nullptr;
  std::shared_ptr<ewf::SharedChunks> shared_;
  std::shared_ptr<const ewf::ChunkMap> map_;
  std::vector<ChunkError> damage_;
  struct Lock;
  std::unique_ptr<Lock> lock_;
};

}  // namespace safehold::fs
