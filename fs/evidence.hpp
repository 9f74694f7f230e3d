// Evidence = an Image, its volume system (DOS/MBR with extended partitions, GPT, or none), the
// filesystems on its volumes (through libtsk; APFS through TSK's pool API), their files
// (allocated, deleted, orphan) and their unallocated blocks as image byte ranges.
// A volume whose filesystem cannot be opened is recorded in problems() and the rest go on.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fs/error.hpp"
#include "fs/image.hpp"

namespace safehold::fs {

struct ByteRange {
  uint64_t img_offset = 0;
  uint64_t len = 0;
};

// whole: no volume system; logical: an LVM logical volume (of a physical volume listed before it)
enum class VolumeKind { partition, unallocated, meta, whole, logical };
const char* to_string(VolumeKind k);

struct Volume {
  int index = 0;        // Safehold's own index: position in volumes(), stable for one image
  uint64_t start = 0;   // bytes from the image start
  uint64_t length = 0;  // bytes
  VolumeKind kind = VolumeKind::partition;
  // "Linux (0x83)", "Basic data partition", "Unallocated", "LVM logical volume vg0/root", ...
  std::string description;
  std::string scheme;  // "dos", "gpt", "none", "lvm"
  // An encrypted volume (LUKS1/2): what it is, what would unlock it, and whether a key did.
  struct Encryption {
    std::string scheme;      // "LUKS1", "LUKS2"
    std::string cipher;      // "aes-xts-plain64, 512-bit key"
    std::string identifier;  // UUID
    std::string unlock;      // "passphrase or key file"
    bool unlocked = false;
  };
  std::optional<Encryption> encryption;
  // Why what the volume holds was not examined, when Safehold recognised it but cannot read it:
  // an LVM physical volume with damaged metadata, a logical volume on a physical volume missing
  // from the image ("cannot be read: it lies on physical volume pv1 (UUID …), which is not in
  // this image"). Commands name it and exit 2.
  std::string unreadable;
};

struct FilesystemInfo {
  int index = 0;        // position in filesystems()
  int volume = 0;       // Volume::index it lives on
  uint64_t offset = 0;  // image byte offset of the filesystem
  std::string type;     // "fat32", "exfat", "ntfs", "ext4", "hfsplus", "iso9660", "apfs", ...
  std::string label;
  uint32_t block_size = 0;
  uint64_t block_count = 0;
  uint64_t size = 0;  // bytes
  // "LUKS2" etc. when the filesystem is read through a volume decrypted with a key: its byte
  // runs then point at the encrypted sectors that hold the data (the mapping is linear).
  std::string encryption;
};

enum class FileState { allocated, deleted, orphan };
const char* to_string(FileState s);

struct Timestamp {
  int64_t seconds = 0;  // Unix seconds, UTC
  uint32_t nanos = 0;
};
// ISO 8601 UTC, "2024-01-02T03:04:05Z" (fraction when nanos != 0).
std::string to_iso8601(const Timestamp& t);
std::optional<std::string> to_iso8601(const std::optional<Timestamp>& t);

struct ByteRun {
  uint64_t file_offset = 0;
  uint64_t img_offset = 0;  // meaningless when sparse
  uint64_t len = 0;
  bool sparse = false;
};

struct FileEntry {
  int filesystem = 0;  // FilesystemInfo::index
  int volume = 0;
  std::string fs_type;
  std::string path;  // "/dir/name" as stored in the evidence (untrusted: may hold anything)
  std::string name;
  uint64_t inode = 0;
  uint64_t size = 0;
  std::string type;  // "file", "dir", "link", "other"
  FileState state = FileState::allocated;
  std::optional<Timestamp> mtime, atime, ctime, crtime;
  std::vector<ByteRun> byte_runs;  // of the data stream; empty for resident data
  bool resident = false;           // content stored inside metadata (NTFS resident)
  // NTFS named data stream (alternate data stream): listed after its file as an entry of its own
  // with path and name "…:stream", the file's inode and times, and the stream's size and runs.
  std::string stream;  // "" for a file's default data
  int stream_id = -1;  // TSK attribute id of the stream (read_file(entry, ...)); -1: default
  // Extractions (ZIP, TAR, folder, iTunes backup) only: where the entry is in the extraction (the
  // archive member as stored, the path inside the folder, the backup's hashed file name), and
  // the owner, st_mode and link target the extraction recorded.
  std::string member;
  std::optional<uint32_t> mode, uid, gid;
  std::string target;
};

// A phone extraction opened as evidence (Evidence::extraction()).
struct ExtractionInfo {
  std::string format;           // "zip", "tar", "folder"
  std::string root;             // the device's root inside it ("Dump/", "" at its top)
  uint64_t entries = 0;         // files, folders and links listed
  uint64_t bytes = 0;           // content bytes of its files
  uint64_t container_size = 0;  // bytes of the archive file (0 for a folder)
};

// True when `path` is a phone extraction Evidence::open reads as a file tree (a ZIP or TAR
// archive, a folder), unless opts.raw.
bool is_extraction(const std::filesystem::path& path, const OpenOptions& opts = {});

class Evidence {
 public:
  // Opens the image and discovers volumes and filesystems. Throws EvidenceError only when the
  // image itself cannot be opened.
  // `labels` false leaves FilesystemInfo::label empty: reading it costs a whole fsstat (TSK's FAT
  // fsstat walks the entire FAT), which callers that never show labels (carving) can skip.
  // `sector_size`: see Image::open (0: from the container or detected).
  static std::unique_ptr<Evidence> open(const std::filesystem::path& path, bool labels = true,
                                        uint32_t sector_size = 0);
  // The same with every way of opening the image (--raw, --parent; see OpenOptions).
  static std::unique_ptr<Evidence> open(const std::filesystem::path& path, bool labels,
                                        const OpenOptions& opts);
  ~Evidence();

  Image& image() const { return *image_; }
  const std::vector<Volume>& volumes() const { return volumes_; }
  const std::vector<FilesystemInfo>& filesystems() const { return filesystems_; }
  const std::vector<Problem>& problems() const { return problems_; }
  std::string volume_scheme() const;  // "dos", "gpt", "none", ...
  // Set for a phone extraction: then there is one volume ("whole") and one filesystem whose type
  // is the extraction's format; its entries' paths are inside the device and FileEntry::member
  // says where each is in the extraction. Nothing is unallocated or unpartitioned.
  const std::optional<ExtractionInfo>& extraction() const { return extraction_; }

  // Calls fn for every file and directory of one filesystem (allocated, deleted, orphan), in
  // directory order. Return false from fn to stop. Problems met are appended to problems().
  void walk(int filesystem, const std::function<bool(const FileEntry&)>& fn);

  // Streams a file's default data content in pieces; returns bytes delivered. Damaged content
  // is reported through the returned Problem (and what could be read is delivered).
  std::optional<Problem> read_file(int filesystem, uint64_t inode,
                                   const std::function<bool(std::span<const std::byte>)>& sink,
                                   uint64_t* delivered = nullptr);

  // The same for a listed entry: an NTFS named stream's content when the entry is one, else the
  // file's default data.
  std::optional<Problem> read_file(const FileEntry& entry,
                                   const std::function<bool(std::span<const std::byte>)>& sink,
                                   uint64_t* delivered = nullptr);

  // Unallocated blocks of a filesystem as image byte ranges, merged and sorted. Problems met go
  // to `problems` when given (so another thread may walk meanwhile), else to problems().
  std::vector<ByteRange> unallocated(int filesystem, std::vector<Problem>* problems = nullptr);

  // Image byte ranges that belong to no filesystem Safehold opened (unpartitioned gaps, volumes
  // with no recognised filesystem), merged and sorted.
  std::vector<ByteRange> unpartitioned();

 private:
  Evidence() = default;
  static std::unique_ptr<Evidence> open_tree(const std::filesystem::path& path, int kind);
  std::optional<Problem> read_stream(int filesystem, uint64_t inode, int stream_id,
                                     const std::function<bool(std::span<const std::byte>)>& sink,
                                     uint64_t* delivered);
  struct Impl;
  std::unique_ptr<Image> image_;
  std::vector<Volume> volumes_;
  std::vector<FilesystemInfo> filesystems_;
  std::vector<Problem> problems_;
  std::optional<ExtractionInfo> extraction_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace safehold::fs
