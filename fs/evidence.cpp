#include "fs/evidence.hpp"

#include <tsk/libtsk.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <sstream>

#include "base/format.hpp"
#include "fs/internal/crypt_volume.hpp"
#include "fs/internal/evidence_impl.hpp"
#include "fs/internal/ewf_chunks.hpp"
#include "fs/internal/fat_orphans.hpp"
#include "fs/internal/labels.hpp"
#include "fs/internal/lvm.hpp"
#include "fs/internal/tree.hpp"
#include "fs/internal/tsk_bounds.hpp"

namespace safehold::fs {

using detail::FsHandle;

const char* to_string(VolumeKind k) {
  switch (k) {
    case VolumeKind::partition:
      return "partition";
    case VolumeKind::unallocated:
      return "unallocated";
    case VolumeKind::meta:
      return "meta";
    case VolumeKind::whole:
      return "whole";
    case VolumeKind::logical:
      return "logical";
  }
  return "unknown";
}

const char* to_string(FileState s) {
  switch (s) {
    case FileState::allocated:
      return "allocated";
    case FileState::deleted:
      return "deleted";
    case FileState::orphan:
      return "orphan";
  }
  return "unknown";
}

std::string to_iso8601(const Timestamp& t) {
  return base::iso8601(t.seconds, t.nanos);
}

std::optional<std::string> to_iso8601(const std::optional<Timestamp>& t) {
  if (!t) return std::nullopt;
  return to_iso8601(*t);
}

namespace {

std::string fs_type_name(TSK_FS_TYPE_ENUM t) {
  const char* n = tsk_fs_type_toname(t);
  std::string s = n ? n : "unknown";
  if (s == "hfs" || s == "hfsp") return "hfsplus";
  if (s == "iso9660") return "iso9660";
  return s;
}

}  // namespace

Evidence::~Evidence() {
  impl_.reset();  // closes filesystems before the image
  image_.reset();
}

std::string Evidence::volume_scheme() const {
  return impl_->scheme;
}

namespace {

struct OpenCtx {
  Image* image;
  bool labels;
  std::vector<FilesystemInfo>* infos;
  std::vector<FsHandle>* handles;
  std::vector<const TSK_POOL_INFO*>* pools;
  std::vector<Problem>* problems;
  std::vector<TSK_IMG_INFO*>* decrypted;
  std::vector<bool> key_used;  // per OpenOptions::keys
  std::vector<Volume>* volumes = nullptr;
  // LVM logical volumes appended to `volumes` that are read through their extents, by index:
  // the image offset of their physical volume, how to read it, the encryption it lies in.
  struct MappedLv {
    uint64_t base = 0;
    lvm::LogicalVolume lv;
    lvm::ReadFn read;
    std::string scheme;
  };
  std::map<int, MappedLv> mapped_lvs;
};

// A filesystem in a volume decrypted with a key or in an LVM logical volume read through its
// extents: `img` is that volume, whose byte 0 lies at image offset `base` (encrypted), or which
// maps to image bytes by `extents` from the physical volume at `base`.
struct Decrypted {
  TSK_IMG_INFO* img = nullptr;
  uint64_t base = 0;
  std::string scheme;  // "" for a logical volume
  const std::vector<lvm::Extent>* extents = nullptr;
};

void add_fs(OpenCtx& c, int volume, TSK_FS_INFO* fs, uint64_t img_base, const TSK_POOL_INFO* pool,
            TSK_IMG_INFO* pool_img, const std::string& encryption = "",
            const std::vector<lvm::Extent>* extents = nullptr) {
  FilesystemInfo info;
  info.index = static_cast<int>(c.infos->size());
  info.volume = volume;
  info.offset = img_base + static_cast<uint64_t>(fs->offset);
  if (extents) {
    const auto first = lvm::to_image(*extents, img_base, static_cast<uint64_t>(fs->offset), 1);
    info.offset = first.empty() ? img_base : first[0].img;
  }
  info.type = fs_type_name(fs->ftype);
  info.block_size = fs->block_size;
  info.block_count = fs->block_count;
  info.size = static_cast<uint64_t>(fs->block_count) * fs->block_size;
  if (c.labels) info.label = detail::read_label(fs);
  info.encryption = encryption;
  c.infos->push_back(info);
  FsHandle h;
  h.decrypted = !encryption.empty();
  h.fs = fs;
  h.pool = pool;
  h.pool_img = pool_img;
  h.img_base = img_base;
  if (extents) h.extents = *extents;
  c.handles->push_back(std::move(h));
}

// Tries a filesystem, then an APFS pool, at one byte offset; records a problem when neither opens.
void open_at(OpenCtx& c, int volume, uint64_t offset, const std::string& where,
             const Decrypted& d = {}) {
  tsk_error_reset();
  TSK_FS_INFO* fs = tsk_fs_open_img(d.img ? d.img : c.image->tsk(), static_cast<TSK_OFF_T>(offset),
                                    TSK_FS_TYPE_DETECT);
  if (fs) {
    add_fs(c, volume, fs, d.base, nullptr, nullptr, d.scheme, d.extents);
    return;
  }
  if (d.img) {
    c.problems->push_back(
        {where,
         "no filesystem recognised in the " +
             (d.scheme.empty() ? std::string("logical") : "decrypted " + d.scheme) + " volume (" +
             take_tsk_error() + ")",
         d.base});
    return;
  }
  std::string fs_error = take_tsk_error();
  const TSK_POOL_INFO* pool =
      tsk_pool_open_img_sing(c.image->tsk(), static_cast<TSK_OFF_T>(offset), TSK_POOL_TYPE_DETECT);
  if (pool) {
    c.pools->push_back(pool);
    for (TSK_POOL_VOLUME_INFO* v = pool->vol_list; v; v = v->next) {
      if (v->flags & TSK_POOL_VOLUME_FLAG_ENCRYPTED) {
        c.problems->push_back(
            {where, "APFS volume " + std::to_string(v->index) + " is encrypted", offset});
        continue;
      }
      TSK_IMG_INFO* pimg = pool->get_img_info(pool, v->block);
      if (!pimg) {
        c.problems->push_back(
            {where, "APFS volume " + std::to_string(v->index) + ": " + take_tsk_error(), offset});
        continue;
      }
      TSK_FS_INFO* vfs = tsk_fs_open_img(pimg, 0, TSK_FS_TYPE_APFS);
      if (!vfs) {
        c.problems->push_back(
            {where, "APFS volume " + std::to_string(v->index) + ": " + take_tsk_error(), offset});
        tsk_img_close(pimg);
        continue;
      }
      add_fs(c, volume, vfs, pool->img_offset, pool, pimg);
    }
    return;
  }
  tsk_error_reset();
  c.problems->push_back(
      {where,
       "no filesystem recognised" + (fs_error.empty() ? std::string() : " (" + fs_error + ")"),
       offset});
}

// The key of OpenOptions::keys that names the volume, marking it used; nullptr when none does.
const VolumeKey* key_for(OpenCtx& c, const Volume& v, const std::string& identifier) {
  const auto& keys = c.image->options().keys;
  const VolumeKey* found = nullptr;
  for (size_t i = 0; i < keys.size(); ++i)
    if (keys[i].names(v.index, v.start, identifier)) {
      if (!found) found = &keys[i];
      c.key_used[i] = true;
    }
  return found;
}

// An LVM physical volume (never one inside a logical volume), read by `read` (`length` bytes):
// the volume itself, or the volume decrypted (`in`). Its group's logical volumes are appended to
// the volumes, to be opened by Evidence::open's loop, and true is returned. One lying in one
// contiguous image range (not encrypted) is then read like a partition; any other through its
// extents.
bool open_lvm(OpenCtx& c, int index, const std::string& where, const lvm::ReadFn& read,
              uint64_t length, const Decrypted& in = {}) {
  const Volume pv = (*c.volumes)[static_cast<size_t>(index)];
  if (pv.kind == VolumeKind::logical || !lvm::is_physical_volume(read, length)) return false;
  const uint64_t base = in.img ? in.base : pv.start;  // image offset of the PV's byte 0
  lvm::Group g;
  const std::string name = c.image->path().string() + " " + where;
  try {
    g = lvm::read_group(read, length, name);
  } catch (const EvidenceError& e) {
    c.problems->push_back({where, e.what(), pv.start});
    std::string why = e.what();
    if (why.rfind(name + ": ", 0) == 0) why.erase(0, name.size() + 2);
    (*c.volumes)[static_cast<size_t>(index)].unreadable = why;
    return true;
  }
  (*c.volumes)[static_cast<size_t>(index)].description +=
      " (LVM physical volume " + g.pv_name + " of volume group " + g.name + ")";
  for (auto& lv : g.volumes) {
    Volume v;
    v.index = static_cast<int>(c.volumes->size());
    v.kind = VolumeKind::logical;
    v.scheme = "lvm";
    v.description = "LVM logical volume " + g.name + "/" + lv.name;
    v.start = base + (lv.extents.empty() ? 0 : lv.extents[0].pv_offset);
    v.length = lv.size;
    if (!lv.unreadable.empty()) {
      v.unreadable = "cannot be read: " + lv.unreadable;
      c.problems->push_back({"volume " + std::to_string(v.index) + " (" + v.description + ")",
                             v.unreadable, v.start});
    }
    if (in.img || !lvm::contiguous(lv))
      c.mapped_lvs[v.index] = {base, std::move(lv), read, in.scheme};
    c.volumes->push_back(std::move(v));
  }
  return true;
}

// A logical volume that is not one contiguous image range: read through its extents.
void open_mapped_lv(OpenCtx& c, int index, const std::string& where) {
  const OpenCtx::MappedLv& m = c.mapped_lvs.at(index);
  if (m.lv.extents.empty()) return;  // unreadable: said when it was listed
  const std::string name = c.image->path().string() + " " + where;
  TSK_IMG_INFO* img = nullptr;
  try {
    img = lvm::open(m.read, m.lv, name);
  } catch (const EvidenceError& e) {
    c.problems->push_back({where, e.what(), m.base});
    return;
  }
  c.decrypted->push_back(img);
  open_at(c, index, 0, where, Decrypted{img, m.base, m.scheme, &m.lv.extents});
}

// A volume (or the whole image): an LVM physical volume lists its logical volumes; an encrypted
// one is described, and opened when a key names it; anything else is tried as a filesystem.
void open_volume(OpenCtx& c, int index, const std::string& where) {
  detail::TskRunsScope runs_scope;
  if (c.mapped_lvs.count(index)) return open_mapped_lv(c, index, where);
  if (const Volume& pv = (*c.volumes)[static_cast<size_t>(index)];
      open_lvm(c, index, where, lvm::reader(*c.image, pv.start, pv.length), pv.length))
    return;
  Volume& v = (*c.volumes)[static_cast<size_t>(index)];
  const std::string name = c.image->path().string() + " " + where;
  std::optional<crypt::Found> found;
  try {
    found = crypt::detect(*c.image, v.start, v.length, name);
  } catch (const EvidenceError& e) {
    c.problems->push_back({where, e.what(), v.start});
    return;
  }
  if (!found) return open_at(c, v.index, v.start, where);
  v.encryption =
      Volume::Encryption{found->scheme, found->cipher, found->identifier, found->unlock, false};
  const VolumeKey* key = key_for(c, v, found->identifier);
  if (!key) {
    const std::string what =
        found->readable ? "no key was given (unlock it with --key " + std::to_string(v.index) +
                              (found->scheme == "BitLocker" ? "=SECRET)" : "=PASSPHRASE)")
        : found->why_not.empty()
            ? "Safehold cannot decrypt it yet: its raw sectors are carved as they are"
            : found->why_not + ": its raw sectors are carved as they are";
    c.problems->push_back(
        {where, "is an encrypted " + found->scheme + " volume and " + what, v.start});
    return;
  }
  TSK_IMG_INFO* img = crypt::open(*c.image, v.start, v.length, *key, name);
  c.decrypted->push_back(img);
  v.encryption->unlocked = true;
  const Decrypted d{img, v.start + found->data_offset, found->scheme};
  // LVM inside the decrypted volume (LVM on LUKS): its logical volumes, read through it.
  if (!open_lvm(c, index, where, lvm::reader(img), static_cast<uint64_t>(img->size), d))
    open_at(c, index, 0, where, d);
}

// Every key must name an encrypted volume: a mistyped volume is an error, never ignored.
void check_keys_used(const OpenCtx& c, const std::vector<Volume>& volumes) {
  const auto& keys = c.image->options().keys;
  std::string encrypted;
  for (const Volume& v : volumes)
    if (v.encryption) encrypted += (encrypted.empty() ? "" : ", ") + std::to_string(v.index);
  for (size_t i = 0; i < keys.size(); ++i)
    if (!c.key_used[i])
      throw EvidenceError(c.image->path().string() + ": " + keys[i].origin + " names volume '" +
                          keys[i].volume + "', which is not an encrypted volume of this image (" +
                          (encrypted.empty() ? "it has none" : "encrypted volumes: " + encrypted) +
                          ")");
}

}  // namespace

std::unique_ptr<Evidence> Evidence::open(const std::filesystem::path& path, bool labels,
                                         uint32_t sector_size) {
  OpenOptions o;
  o.sector_size = sector_size;
  return open(path, labels, o);
}

bool is_extraction(const std::filesystem::path& path, const OpenOptions& opts) {
  return !opts.raw && detail::tree_kind(path) != detail::TreeKind::none;
}

std::unique_ptr<Evidence> Evidence::open_tree(const std::filesystem::path& path, int kind) {
  const auto k = static_cast<detail::TreeKind>(kind);
  std::unique_ptr<Evidence> ev(new Evidence());
  ev->impl_ = std::make_unique<Impl>();
  ev->impl_->tree = detail::open_tree(path, k);
  const detail::Tree& t = *ev->impl_->tree;
  if (t.entries().empty() && t.problems().empty())
    throw EvidenceError(path.string() + ": the " + t.format() +
                        " extraction holds no files, folders or links");
  const ImageFormat f = k == detail::TreeKind::zip      ? ImageFormat::zip
                        : k == detail::TreeKind::tar    ? ImageFormat::tar
                        : k == detail::TreeKind::itunes ? ImageFormat::itunes
                        // An Android backup's Image is its file's bytes, like a TAR's; its
                        // format is said by ExtractionInfo::format ("adb").
                        : k == detail::TreeKind::adb ? ImageFormat::tar
                                                     : ImageFormat::folder;
  ev->image_ = Image::open_extraction(path, f);
  ExtractionInfo x;
  x.format = t.format();
  x.root = t.root();
  x.entries = t.entries().size();
  for (auto& e : t.entries()) x.bytes += e.size;
  x.container_size = t.container_size();
  ev->extraction_ = x;
  Volume v;
  v.kind = VolumeKind::whole;
  v.length = x.container_size;
  v.description = x.format + " extraction";
  v.scheme = "none";
  ev->volumes_.push_back(v);
  FilesystemInfo fi;
  fi.type = x.format;
  fi.block_count = x.entries;
  fi.size = x.bytes;
  ev->filesystems_.push_back(fi);
  // Damage in the listing is damage of the evidence: named like an image's unreadable ranges.
  for (auto& p : t.problems()) ev->image_->damage_.push_back({p.offset, p.len, p.message});
  return ev;
}

std::unique_ptr<Evidence> Evidence::open(const std::filesystem::path& path, bool labels,
                                         const OpenOptions& opts) {
  if (!opts.raw)
    if (auto k = detail::tree_kind(path); k != detail::TreeKind::none)
      return open_tree(path, static_cast<int>(k));
  std::unique_ptr<Evidence> ev(new Evidence());
  ev->image_ = Image::open(path, opts);
  ev->impl_ = std::make_unique<Impl>();
  OpenCtx c{ev->image_.get(),      labels,
            &ev->filesystems_,     &ev->impl_->fs,
            &ev->impl_->pools,     &ev->problems_,
            &ev->impl_->decrypted, {},
            &ev->volumes_,         {}};
  c.key_used.assign(opts.keys.size(), false);

  tsk_error_reset();
  TSK_VS_INFO* vs = tsk_vs_open(ev->image_->tsk(), 0, TSK_VS_TYPE_DETECT);
  if (vs) {
    ev->impl_->vs = vs;
    const char* name = tsk_vs_type_toname(vs->vstype);
    ev->impl_->scheme = name ? name : "unknown";
    for (TSK_PNUM_T i = 0; i < vs->part_count; ++i) {
      const TSK_VS_PART_INFO* p = tsk_vs_part_get(vs, i);
      if (!p) continue;
      Volume v;
      v.index = static_cast<int>(ev->volumes_.size());
      v.start =
          static_cast<uint64_t>(p->start) * vs->block_size + static_cast<uint64_t>(vs->offset);
      v.length = static_cast<uint64_t>(p->len) * vs->block_size;
      v.description = p->desc ? p->desc : "";
      v.scheme = ev->impl_->scheme;
      v.kind = (p->flags & TSK_VS_PART_FLAG_META)      ? VolumeKind::meta
               : (p->flags & TSK_VS_PART_FLAG_UNALLOC) ? VolumeKind::unallocated
                                                       : VolumeKind::partition;
      ev->volumes_.push_back(v);
    }
  } else {
    tsk_error_reset();
    Volume v;
    v.index = 0;
    v.start = 0;
    v.length = ev->image_->size();
    v.kind = VolumeKind::whole;
    v.description = "whole image";
    v.scheme = "none";
    ev->volumes_.push_back(v);
    open_volume(c, 0, "image");
    if (ev->volumes_.size() > 1) ev->impl_->scheme = "lvm";  // the whole image is a PV
  }
  // Partitions, then the logical volumes of LVM physical volumes among them (appended as found).
  for (size_t i = ev->impl_->vs ? 0 : 1; i < ev->volumes_.size(); ++i) {
    const Volume& v = ev->volumes_[i];
    if (v.kind == VolumeKind::partition || v.kind == VolumeKind::logical)
      open_volume(c, v.index, "volume " + std::to_string(v.index) + " (" + v.description + ")");
  }
  check_keys_used(c, ev->volumes_);
  return ev;
}

namespace {
struct BlockCtx {
  std::vector<ByteRange>* out;
  uint64_t base;
  uint64_t bs;
};

TSK_WALK_RET_ENUM block_cb(const TSK_FS_BLOCK* b, void* ptr) {
  auto* c = static_cast<BlockCtx*>(ptr);
  uint64_t off = c->base + static_cast<uint64_t>(b->addr) * c->bs;
  if (!c->out->empty() && c->out->back().img_offset + c->out->back().len == off)
    c->out->back().len += c->bs;
  else
    c->out->push_back({off, c->bs});
  return TSK_WALK_CONT;
}

void merge(std::vector<ByteRange>& v) {
  std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.img_offset < b.img_offset; });
  std::vector<ByteRange> out;
  for (auto& r : v) {
    if (r.len == 0) continue;
    if (!out.empty() && out.back().img_offset + out.back().len >= r.img_offset)
      out.back().len = std::max(out.back().img_offset + out.back().len, r.img_offset + r.len) -
                       out.back().img_offset;
    else
      out.push_back(r);
  }
  v.swap(out);
}
}  // namespace

std::vector<ByteRange> Evidence::unallocated(int filesystem, std::vector<Problem>* problems) {
  const FilesystemInfo& info = filesystems_.at(static_cast<size_t>(filesystem));
  if (impl_->tree) return {};  // an extraction holds files only
  FsHandle& h = impl_->fs.at(static_cast<size_t>(filesystem));
  std::lock_guard<std::recursive_mutex> g(*h.lock);
  std::vector<ByteRange> out;
  if (h.decrypted) {
    // Pass 2 carves image bytes; this filesystem's are encrypted in the image. Its files are
    // read decrypted (walk, read_file); its free space is not carved, and that is said.
    (problems ? *problems : problems_)
        .push_back({"fs " + std::to_string(filesystem) + " (" + info.type + ")",
                    "lies in a decrypted " + info.encryption +
                        " volume: its files are read, but its unallocated space is not carved "
                        "(the volume's encrypted sectors are carved as they are)",
                    info.offset});
    return out;
  }
  // An LVM logical volume read through its extents: ranges of the volume, mapped below.
  const bool mapped = !h.extents.empty();
  const uint64_t fs_base = (mapped ? 0 : h.img_base) + static_cast<uint64_t>(h.fs->offset);
  if (h.pool) {
    // APFS: free space is the pool's, as runs of pool blocks.
    TSK_FS_ATTR_RUN* runs = tsk_pool_unallocated_runs(h.pool);
    for (TSK_FS_ATTR_RUN* r = runs; r; r = r->next)
      out.push_back({h.pool->img_offset + static_cast<uint64_t>(r->addr) * h.pool->block_size,
                     static_cast<uint64_t>(r->len) * h.pool->block_size});
    tsk_fs_attr_run_free(runs);
    tsk_error_reset();
  } else if (auto runs = detail::fat_unallocated_sectors(h.fs)) {
    // FAT: TSK's block walk tests every cluster through its FAT cache; the same answer from one
    // read of the FAT (fs/internal/fat_orphans.hpp).
    const uint64_t bs = h.fs->block_size;
    for (auto [a, b] : *runs) out.push_back({fs_base + a * bs, (b - a + 1) * bs});
  } else {
    BlockCtx c{&out, fs_base, h.fs->block_size};
    auto flags = static_cast<TSK_FS_BLOCK_WALK_FLAG_ENUM>(TSK_FS_BLOCK_WALK_FLAG_UNALLOC |
                                                          TSK_FS_BLOCK_WALK_FLAG_AONLY);
    tsk_error_reset();
    if (tsk_fs_block_walk(h.fs, h.fs->first_block, h.fs->last_block_act, flags, block_cb, &c) != 0)
      (problems ? *problems : problems_)
          .push_back({"fs " + std::to_string(filesystem) + " (" + info.type + ")",
                      "unallocated block walk incomplete: " + take_tsk_error(), info.offset});
  }
  if (mapped) {
    std::vector<ByteRange> in_image;
    for (const auto& r : out)
      for (const auto& p : lvm::to_image(h.extents, h.img_base, r.img_offset, r.len))
        in_image.push_back({p.img, p.len});
    out.swap(in_image);
  }
  const uint64_t img_size = image_->size();
  for (auto& r : out)
    if (r.img_offset + r.len > img_size)
      r.len = r.img_offset < img_size ? img_size - r.img_offset : 0;
  merge(out);
  return out;
}

std::vector<ByteRange> Evidence::unpartitioned() {
  if (impl_->tree) return {};
  std::vector<ByteRange> covered;
  for (size_t i = 0; i < filesystems_.size(); ++i) {
    const FsHandle& h = impl_->fs[i];
    if (h.decrypted) continue;  // its volume's sectors are carved as they are (encrypted)
    if (h.pool)
      covered.push_back(
          {h.pool->img_offset, static_cast<uint64_t>(h.pool->num_blocks) * h.pool->block_size});
    else if (!h.extents.empty())  // an LVM logical volume read through its extents
      for (const auto& p : lvm::to_image(h.extents, h.img_base, static_cast<uint64_t>(h.fs->offset),
                                         filesystems_[i].size))
        covered.push_back({p.img, p.len});
    else
      covered.push_back({filesystems_[i].offset, filesystems_[i].size});
  }
  merge(covered);
  std::vector<ByteRange> gaps;
  uint64_t pos = 0;
  const uint64_t end = image_->size();
  for (auto& r : covered) {
    if (r.img_offset > pos) gaps.push_back({pos, std::min(r.img_offset, end) - pos});
    pos = std::max(pos, r.img_offset + r.len);
    if (pos >= end) break;
  }
  if (pos < end) gaps.push_back({pos, end - pos});
  return gaps;
}

}  // namespace safehold::fs
