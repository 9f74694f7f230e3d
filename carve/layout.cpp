#include "carve/layout.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>

namespace safehold::carve {

namespace fsys = std::filesystem;

namespace {

// Hints ext2/3/4 that the folders made in `dir` are unrelated (FS_TOPDIR_FL, `chattr +T`), so its
// Orlov allocator gives each type folder (artefacts/jpeg, ...) an inode group of its own instead
// of the parent's. On an ext4 without a journal, creating a file in a group scans past every inode
// of the group freed in the last minute or so (the kernel's recently_deleted() check): right
// after an earlier output folder was deleted, that made file creation most of a run's time.
// Harmless elsewhere (other filesystems refuse the flag; nothing else depends on it).
void spread_subfolders(const fsys::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  int flags = 0;
  if (::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && !(flags & FS_TOPDIR_FL)) {
    flags |= FS_TOPDIR_FL;
    ::ioctl(fd, FS_IOC_SETFLAGS, &flags);
  }
  ::close(fd);
}

}  // namespace

std::string artefact_id(uint64_t n) {
  return fmt::format("{:06}", n);
}

std::string thumbnail_id(const std::string& parent_id, int n) {
  return parent_id + "-t" + std::to_string(n);
}

void Layout::prepare() {
  fsys::create_directories(outdir_ / "artefacts");
  spread_subfolders(outdir_ / "artefacts");
}

fsys::path Layout::artefact(const std::string& type, const std::string& id,
                            const std::string& ext) {
  return folder(type) / (id + "." + ext);
}

fsys::path Layout::folder(const std::string& type) {
  fsys::path dir = outdir_ / "artefacts" / type;
  std::lock_guard<std::mutex> g(m_);
  if (made_.insert(type).second) fsys::create_directories(dir);
  return dir;
}

fsys::path Layout::companion(const fsys::path& db, const char* suffix) {
  return fsys::path(db.string() + suffix);
}

fsys::path Layout::scratch(const std::string& name) const {
  return outdir_ / "artefacts" / ("." + name);
}

// Taken apart lexically (fsys::relative resolves both paths through the filesystem, several
// system calls a component, for each of ~330 artefacts).
std::string Layout::rel(const fsys::path& p) const {
  fsys::path r = p.lexically_relative(outdir_);
  if (r.empty() || *r.begin() == "..") r = fsys::relative(p, outdir_);
  return r.generic_string();
}

void write_file(const fsys::path& p, std::span<const std::byte> data) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  out.close();
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

MappedFile::MappedFile(const fsys::path& p) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  off_t size = ::lseek(fd, 0, SEEK_END);
  if (size > 0) {
    void* m = ::mmap(nullptr, static_cast<size_t>(size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (m != MAP_FAILED) {
      data_ = static_cast<const std::byte*>(m);
      size_ = static_cast<size_t>(size);
    }
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<std::byte*>(data_), size_);
}

}  // namespace safehold::carve
