// A file tree that is not a filesystem in an image: a phone extraction (ZIP or TAR archive, a
// folder, an iTunes/Finder backup). fs::Evidence presents it as one filesystem whose entries carry
// the path inside the device and, in FileEntry::member, where they are in the extraction.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fs/evidence.hpp"
#include "fs/internal/archive.hpp"

namespace safehold::fs::detail {

class Tree {
 public:
  virtual ~Tree() = default;
  // "zip", "tar", "folder", "itunes"
  virtual std::string format() const = 0;
  // Bytes of the extraction itself (the archive file; 0 for a folder).
  virtual uint64_t container_size() const = 0;
  // The entries, in the extraction's order; FileEntry::inode is the member's position in
  // the extraction + 1, ascending (wrapper folders are left out). `filesystem`,
  // `volume` and `fs_type` are left for Evidence to fill.
  const std::vector<FileEntry>& entries() const { return entries_; }
  // The entry of that inode, or nullptr.
  const FileEntry* entry(uint64_t inode) const;
  // Damage met while listing: extraction byte ranges and why (for a folder, offsets are 0).
  const std::vector<archive::Damage>& problems() const { return problems_; }
  // Where the device's root is inside the extraction ("" when at its top): "Dump/", "fs/", ...
  const std::string& root() const { return root_; }
  // Streams an entry's content; returns why it cannot be read in full.
  virtual std::optional<std::string> read(
      const FileEntry& e, const std::function<bool(std::span<const std::byte>)>& sink,
      uint64_t* delivered) const = 0;

 protected:
  std::vector<FileEntry> entries_;
  std::vector<archive::Damage> problems_;
  std::string root_;
  // Sets each entry's path from its member name: the device root found (root_), "/" + the rest.
  void place();
};

enum class TreeKind { none, zip, tar, folder, itunes, adb };
// What an extraction at `path` is (by its first bytes, or a folder: an iTunes/Finder backup when
// it holds Manifest.db, Manifest.plist or Manifest.mbdb); none for anything else.
TreeKind tree_kind(const std::filesystem::path& path);
// Opens it. Throws EvidenceError naming the path when it cannot be listed at all.
std::unique_ptr<Tree> open_tree(const std::filesystem::path& path, TreeKind kind);

// The device root inside an extraction: the components before the first `data/data`,
// `data/media`, `data/app`, `data/user`, `private/var` or `var/mobile` found in any member
// (the shortest such prefix), with a trailing "/"; "" when none or at the top.
std::string device_root(const std::vector<std::string>& members);

}  // namespace safehold::fs::detail
