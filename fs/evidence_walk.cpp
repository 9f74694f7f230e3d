// Evidence: walking a filesystem's files (names, times, runs, NTFS streams) and reading them,
// through libtsk; extractions through their tree (fs/internal/tree.hpp).
#include <tsk/libtsk.h>

#include <cstring>
#include <mutex>

#include "fs/evidence.hpp"
#include "fs/internal/evidence_impl.hpp"
#include "fs/internal/ewf_chunks.hpp"
#include "fs/internal/exfat_times.hpp"
#include "fs/internal/fat_orphans.hpp"
#include "fs/internal/tsk_bounds.hpp"

namespace safehold::fs {

using detail::FsHandle;
using detail::ts;

namespace {

struct WalkCtx {
  const std::function<bool(const FileEntry&)>* fn;
  const FilesystemInfo* info;
  const FsHandle* handle;
  bool stopped = false;
};

void fill_runs(const FsHandle& h, const TSK_FS_ATTR* attr, FileEntry& e) {
  if (!attr) {
    tsk_error_reset();
    return;
  }
  if (!(attr->flags & TSK_FS_ATTR_NONRES)) {
    e.resident = true;
    return;
  }
  const uint64_t bs = h.fs->block_size;
  const bool mapped = !h.extents.empty();  // an LVM logical volume read through its extents
  const uint64_t base = (mapped ? 0 : h.img_base) + static_cast<uint64_t>(h.fs->offset);
  for (const TSK_FS_ATTR_RUN* r = attr->nrd.run; r; r = r->next) {
    const uint64_t file_offset = static_cast<uint64_t>(r->offset) * bs;
    if (file_offset >= e.size) break;
    ByteRun run;
    run.file_offset = file_offset;
    run.len = std::min<uint64_t>(static_cast<uint64_t>(r->len) * bs, e.size - file_offset);
    // A filler run is a range no extent or run describes (a hole): it reads as zeros, like a
    // sparse run.
    run.sparse = (r->flags & (TSK_FS_ATTR_RUN_FLAG_SPARSE | TSK_FS_ATTR_RUN_FLAG_FILLER)) != 0;
    run.img_offset = run.sparse ? 0 : base + static_cast<uint64_t>(r->addr) * bs;
    if (!run.len) continue;
    if (!mapped || run.sparse) {
      e.byte_runs.push_back(run);
      continue;
    }
    // A run crossing from one extent to the next is one run per extent.
    for (const auto& p : lvm::to_image(h.extents, h.img_base, run.img_offset, run.len))
      e.byte_runs.push_back(
          {run.file_offset + (p.lv_offset - run.img_offset), p.img, p.len, false});
  }
}

void fill_runs(const FsHandle& h, TSK_FS_FILE* file, FileEntry& e) {
  if (!file->meta || e.type == "dir") return;
  fill_runs(h, tsk_fs_file_attr_get(file), e);
}

// NTFS: the named $DATA attributes (alternate data streams) of a file, as fls lists them
// ("name:stream"); TSK names the default one "$Data".
std::vector<const TSK_FS_ATTR*> named_streams(TSK_FS_FILE* file) {
  std::vector<const TSK_FS_ATTR*> out;
  if (!file->meta || !TSK_FS_TYPE_ISNTFS(file->fs_info->ftype)) return out;
  const int n = tsk_fs_file_attr_getsize(file);
  for (int i = 0; i < n; ++i) {
    const TSK_FS_ATTR* a = tsk_fs_file_attr_get_idx(file, i);
    if (a && a->type == TSK_FS_ATTR_TYPE_NTFS_DATA && a->name && a->name[0] &&
        std::strcmp(a->name, "$Data") != 0)
      out.push_back(a);
  }
  tsk_error_reset();
  return out;
}

TSK_WALK_RET_ENUM walk_cb(TSK_FS_FILE* file, const char* path, void* ptr) {
  auto* c = static_cast<WalkCtx*>(ptr);
  detail::TskRunsScope runs_scope;
  if (!file->name) return TSK_WALK_CONT;
  const char* name = file->name->name ? file->name->name : "";
  if (std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0) return TSK_WALK_CONT;
  FileEntry e;
  e.filesystem = c->info->index;
  e.volume = c->info->volume;
  e.fs_type = c->info->type;
  e.name = name;
  // Appended piece by piece: `"/" + std::string(...)` trips GCC 12's -Wrestrict false positive
  // at -O3, which broke the Release build (-Werror).
  std::string full(1, '/');
  full.append(path ? path : "").append(name);
  e.path = std::move(full);
  e.inode = file->meta ? static_cast<uint64_t>(file->meta->addr)
                       : static_cast<uint64_t>(file->name->meta_addr);
  TSK_FS_META_TYPE_ENUM mt = file->meta ? file->meta->type : TSK_FS_META_TYPE_UNDEF;
  TSK_FS_NAME_TYPE_ENUM nt = file->name->type;
  if (mt == TSK_FS_META_TYPE_DIR || (mt == TSK_FS_META_TYPE_UNDEF && nt == TSK_FS_NAME_TYPE_DIR))
    e.type = "dir";
  else if (mt == TSK_FS_META_TYPE_REG ||
           (mt == TSK_FS_META_TYPE_UNDEF && nt == TSK_FS_NAME_TYPE_REG))
    e.type = "file";
  else if (mt == TSK_FS_META_TYPE_LNK || nt == TSK_FS_NAME_TYPE_LNK)
    e.type = "link";
  else if (mt == TSK_FS_META_TYPE_VIRT || mt == TSK_FS_META_TYPE_VIRT_DIR ||
           nt == TSK_FS_NAME_TYPE_VIRT || nt == TSK_FS_NAME_TYPE_VIRT_DIR)
    e.type = "virtual";
  else
    e.type = "other";
  bool orphan = e.path.rfind("/$OrphanFiles/", 0) == 0;
  bool deleted = (file->name->flags & TSK_FS_NAME_FLAG_UNALLOC) ||
                 (file->meta && (file->meta->flags & TSK_FS_META_FLAG_UNALLOC));
  e.state = orphan ? FileState::orphan : deleted ? FileState::deleted : FileState::allocated;
  if (file->meta) {
    e.size = file->meta->size > 0 ? static_cast<uint64_t>(file->meta->size) : 0;
    e.mtime = ts(file->meta->mtime, file->meta->mtime_nano);
    e.atime = ts(file->meta->atime, file->meta->atime_nano);
    e.ctime = ts(file->meta->ctime, file->meta->ctime_nano);
    e.crtime = ts(file->meta->crtime, file->meta->crtime_nano);
    if (auto x = detail::exfat_times(c->handle->fs, static_cast<uint64_t>(file->meta->addr))) {
      // The entry's own UTC offsets (fs/internal/exfat_times.hpp); exFAT has no change time.
      auto conv = [](const std::optional<detail::ExfatTime>& v) -> std::optional<Timestamp> {
        if (!v) return std::nullopt;
        return Timestamp{v->seconds, v->nanos};
      };
      e.mtime = conv(x->modified);
      e.atime = conv(x->accessed);
      e.crtime = conv(x->created);
    }
  }
  fill_runs(*c->handle, file, e);
  if (!(*c->fn)(e)) {
    c->stopped = true;
    return TSK_WALK_STOP;
  }
  for (const TSK_FS_ATTR* a : named_streams(file)) {
    FileEntry s = e;
    s.stream = a->name;
    s.stream_id = a->id;
    s.name += ":" + s.stream;
    s.path += ":" + s.stream;
    s.type = "file";
    s.size = a->size > 0 ? static_cast<uint64_t>(a->size) : 0;
    s.byte_runs.clear();
    s.resident = false;
    fill_runs(*c->handle, a, s);
    if (!(*c->fn)(s)) {
      c->stopped = true;
      return TSK_WALK_STOP;
    }
  }
  return TSK_WALK_CONT;
}

}  // namespace

void Evidence::walk(int filesystem, const std::function<bool(const FileEntry&)>& fn) {
  const FilesystemInfo& info = filesystems_.at(static_cast<size_t>(filesystem));
  if (impl_->tree) {
    for (FileEntry e : impl_->tree->entries()) {
      e.fs_type = info.type;
      if (!fn(e)) break;
    }
    return;
  }
  FsHandle& h = impl_->fs.at(static_cast<size_t>(filesystem));
  std::lock_guard<std::recursive_mutex> g(*h.lock);
  WalkCtx c{&fn, &info, &h};
  // The same orphans, found faster (fs/internal/fat_orphans.hpp); E01 chunks known to be zeros are
  // not read.
  detail::ZeroOracle zeros;
  if (ewf::SharedChunks* sc = image_->shared_chunks();
      sc && h.img_base == 0 && !h.decrypted && h.extents.empty())
    zeros = [sc](uint64_t off, uint64_t len) {
      if (len == 0) return false;  // (off + len - 1) below would wrap at off 0
      const uint64_t cs = sc->chunk_size();
      for (uint64_t i = off / cs; i <= (off + len - 1) / cs; ++i) {
        bool zero = false;
        sc->find(i, &zero);
        if (!zero) return false;
      }
      return true;
    };
  detail::FatOrphanFilter fat_orphans(h.fs, std::move(zeros));
  detail::TskRunsScope runs_scope;
  tsk_error_reset();
  auto flags = static_cast<TSK_FS_DIR_WALK_FLAG_ENUM>(
      TSK_FS_DIR_WALK_FLAG_ALLOC | TSK_FS_DIR_WALK_FLAG_UNALLOC | TSK_FS_DIR_WALK_FLAG_RECURSE);
  detail::take_directory_failures();
  const bool failed = tsk_fs_dir_walk(h.fs, h.fs->root_inum, flags, walk_cb, &c) != 0 && !c.stopped;
  const std::string where = "fs " + std::to_string(filesystem) + " (" + info.type + ")";
  // Directories libtsk could not read: the root fails the walk, a subdirectory libtsk skips.
  std::vector<std::string> unread = detail::take_directory_failures();
  if (failed)
    problems_.push_back(
        {where,
         "directory walk incomplete: " + (unread.empty() ? take_tsk_error() : unread.front()),
         info.offset});
  for (size_t i = failed ? 1 : 0; i < unread.size(); ++i)
    problems_.push_back({where, "directory not read: " + unread[i], info.offset});
  tsk_error_reset();
}

std::optional<Problem> Evidence::read_file(
    int filesystem, uint64_t inode, const std::function<bool(std::span<const std::byte>)>& sink,
    uint64_t* delivered) {
  return read_stream(filesystem, inode, -1, sink, delivered);
}

std::optional<Problem> Evidence::read_file(
    const FileEntry& entry, const std::function<bool(std::span<const std::byte>)>& sink,
    uint64_t* delivered) {
  if (impl_->tree) return read_file(entry.filesystem, entry.inode, sink, delivered);
  return read_stream(entry.filesystem, entry.inode, entry.stream_id, sink, delivered);
}

std::optional<Problem> Evidence::read_stream(
    int filesystem, uint64_t inode, int stream_id,
    const std::function<bool(std::span<const std::byte>)>& sink, uint64_t* delivered) {
  const FilesystemInfo& info = filesystems_.at(static_cast<size_t>(filesystem));
  if (impl_->tree) {
    const FileEntry* e = impl_->tree->entry(inode);
    if (!e) return Problem{info.type, "no entry " + std::to_string(inode), std::nullopt};
    if (auto why = impl_->tree->read(*e, sink, delivered))
      return Problem{e->path, *why, std::nullopt};
    return std::nullopt;
  }
  FsHandle& h = impl_->fs.at(static_cast<size_t>(filesystem));
  std::lock_guard<std::recursive_mutex> g(*h.lock);
  detail::TskRunsScope runs_scope;
  std::string where = "fs " + std::to_string(filesystem) + " inode " + std::to_string(inode);
  if (delivered) *delivered = 0;
  tsk_error_reset();
  TSK_FS_FILE* f = tsk_fs_file_open_meta(h.fs, nullptr, static_cast<TSK_INUM_T>(inode));
  if (!f)
    return Problem{where, "cannot open file: " + detail::tsk_refusal().value_or(take_tsk_error()),
                   info.offset};
  std::unique_ptr<TSK_FS_FILE, decltype(&tsk_fs_file_close)> owner(f, &tsk_fs_file_close);
  if (!f->meta) return Problem{where, "file has no metadata", info.offset};
  uint64_t size = f->meta->size > 0 ? static_cast<uint64_t>(f->meta->size) : 0;
  if (stream_id >= 0) {
    where += " stream " + std::to_string(stream_id);
    const TSK_FS_ATTR* a = tsk_fs_file_attr_get_id(f, static_cast<uint16_t>(stream_id));
    if (!a || a->type != TSK_FS_ATTR_TYPE_NTFS_DATA)
      return Problem{where, "no such data stream: " + take_tsk_error(), info.offset};
    size = a->size > 0 ? static_cast<uint64_t>(a->size) : 0;
  }
  // Uninitialised (no 1 MiB memset per file), one per thread (a fresh 1 MiB allocation per file
  // faulted its pages in again every time), and a small first read: callers that type files by
  // their first bytes stop after it.
  constexpr size_t kBuf = 1 << 20, kFirst = 64 << 10;
  thread_local std::unique_ptr<char[]> spare;  // taken while in use: a nested call makes its own
  struct Lease {
    std::unique_ptr<char[]> b;
    ~Lease() { spare = std::move(b); }
  } lease{spare ? std::move(spare) : std::unique_ptr<char[]>(new char[kBuf])};
  std::unique_ptr<char[]>& buf = lease.b;
  uint64_t off = 0;
  while (off < size) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(off == 0 ? kFirst : kBuf, size - off));
    ssize_t n = stream_id >= 0
                    ? tsk_fs_file_read_type(
                          f, TSK_FS_ATTR_TYPE_NTFS_DATA, static_cast<uint16_t>(stream_id),
                          static_cast<TSK_OFF_T>(off), buf.get(), want, TSK_FS_FILE_READ_FLAG_NONE)
                    : tsk_fs_file_read(f, static_cast<TSK_OFF_T>(off), buf.get(), want,
                                       TSK_FS_FILE_READ_FLAG_NONE);
    if (n <= 0) {
      // Safehold's refusal of a hostile size, when there was one: libtsk's last error is then
      // only where it gave up.
      std::string why = detail::tsk_refusal().value_or(take_tsk_error());
      tsk_error_reset();
      return Problem{where,
                     "content unreadable at file offset " + std::to_string(off) +
                         (why.empty() ? "" : ": " + why),
                     std::nullopt};
    }
    off += static_cast<uint64_t>(n);
    if (delivered) *delivered = off;
    if (!sink(std::span<const std::byte>(reinterpret_cast<const std::byte*>(buf.get()),
                                         static_cast<size_t>(n))))
      break;
  }
  return std::nullopt;
}

}  // namespace safehold::fs
