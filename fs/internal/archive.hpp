// ZIP and TAR archives read in place (never unpacked to disk): the member list from a ZIP's central
// directory (zip64 included) or from a TAR's headers (ustar, pax, GNU long names), and one
// member's content streamed (ZIP: stored or deflate, CRC-32 checked). Every size and offset in
// the archive is hostile: checked against the archive's size before it is used.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fs/evidence.hpp"

namespace safehold::fs::archive {

// Random access to an archive's bytes.
class Bytes {
 public:
  virtual ~Bytes() = default;
  virtual uint64_t size() const = 0;
  // Up to n bytes at off; short only at the end. Throws EvidenceError on an I/O error.
  virtual size_t read(uint64_t off, void* buf, size_t n) const = 0;
};

// A file opened read-only (pread; thread-safe).
class FileBytes : public Bytes {
 public:
  explicit FileBytes(const std::string& path);  // throws EvidenceError
  ~FileBytes() override;
  FileBytes(const FileBytes&) = delete;
  FileBytes& operator=(const FileBytes&) = delete;
  uint64_t size() const override { return size_; }
  size_t read(uint64_t off, void* buf, size_t n) const override;

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// Bytes in memory (the fuzzer's input).
class MemoryBytes : public Bytes {
 public:
  explicit MemoryBytes(std::span<const uint8_t> b) : b_(b) {}
  uint64_t size() const override { return b_.size(); }
  size_t read(uint64_t off, void* buf, size_t n) const override;

 private:
  std::span<const uint8_t> b_;
};

// A range of other bytes (an uncompressed Android backup's TAR after its header).
class SliceBytes : public Bytes {
 public:
  SliceBytes(const Bytes& in, uint64_t start) : in_(in), start_(std::min(start, in.size())) {}
  uint64_t size() const override { return in_.size() - start_; }
  size_t read(uint64_t off, void* buf, size_t n) const override {
    if (off >= size()) return 0;
    return in_.read(start_ + off, buf, static_cast<size_t>(std::min<uint64_t>(n, size() - off)));
  }

 private:
  const Bytes& in_;
  uint64_t start_;
};

// The zlib stream at `start` of other bytes (an Android backup's), read as the bytes it inflates
// to: inflated forward from where the last read ended (from the start again only when a read goes
// back), never written anywhere. Its size is found by inflating it once when made; a stream that
// is cut off or fails its Adler-32 ends there, and damage() says why.
class InflatedBytes : public Bytes {
 public:
  InflatedBytes(const Bytes& in, uint64_t start);
  ~InflatedBytes() override;
  uint64_t size() const override { return size_; }
  size_t read(uint64_t off, void* buf, size_t n) const override;
  const std::string& damage() const { return damage_; }
  uint64_t damage_at() const { return damage_at_; }  // compressed byte offset of the damage

 private:
  struct State;
  const Bytes& in_;
  uint64_t start_;
  uint64_t size_ = 0, damage_at_ = 0;
  std::string damage_;
  std::unique_ptr<State> st_;
};

enum class Kind { zip, tar };

struct Member {
  std::string name;           // as stored in the archive (untrusted bytes)
  std::string type = "file";  // file, dir, link, other
  uint64_t size = 0;          // content bytes
  uint64_t stored = 0;        // bytes in the archive (ZIP: compressed size)
  uint64_t offset = 0;        // ZIP: local header offset; TAR: content offset
  uint16_t method = 0;        // ZIP: 0 stored, 8 deflate
  uint32_t crc = 0;           // ZIP CRC-32
  bool encrypted = false;     // ZIP traditional or strong encryption
  std::string damage;         // TAR: why the content cannot be read ("" when it can)
  std::optional<Timestamp> mtime, atime, ctime, crtime;
  std::optional<uint32_t> mode, uid, gid;  // mode: st_mode as stored (type and permission bits)
  std::string target;                      // symbolic or hard link target
};

// Damage met while listing: archive bytes [offset, offset + len) that could not be read as
// members (len 0 when unknown), and why.
struct Damage {
  uint64_t offset = 0, len = 0;
  std::string message;  // one sentence
};

struct Listing {
  std::vector<Member> members;
  std::vector<Damage> problems;
};

// The central directory. Throws EvidenceError naming `name` when there is none to read (cut off,
// split across disks, impossible offsets).
// Exactly n bytes at off, or false.
inline bool read_exact(const Bytes& in, uint64_t off, void* buf, size_t n) {
  if (off > in.size() || n > in.size() - off) return false;
  return in.read(off, buf, n) == n;
}

// `member "name"`, as problems name a member.
inline std::string member_named(const std::string& s) {
  return "member \"" + s + "\"";
}

Listing list_zip(const Bytes& in, const std::string& name);
// The headers, in order. Throws EvidenceError when the first header is not a TAR header; damage
// further on ends the listing with a problem.
Listing list_tar(const Bytes& in, const std::string& name);

using Sink = std::function<bool(std::span<const std::byte>)>;
// Streams a member's content to sink (false stops). Returns why it cannot be read in full (one
// sentence naming the member), or nullopt. *delivered counts bytes given to the sink.
std::optional<std::string> read_member(const Bytes& in, Kind kind, const Member& m,
                                       const Sink& sink, uint64_t* delivered = nullptr);

}  // namespace safehold::fs::archive
