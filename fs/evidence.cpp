#include "fs/evidence.hpp"

#include <tsk/libtsk.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <sstream>

#include "base/format.hpp"
#include "fs/internal/crypt_volume.hpp"
#include "fs/internal/evidence_impl.hpp"
#include "fs/internal/ewf_chunks.hpp"
#include "fs/internal/fat_orphans.hpp"
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

// A short UTF-16LE label as UTF-8 (labels are short: no surrogate pairs expected).
std::string utf16le_label(const uint8_t* b, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    uint32_t c = b[2 * i] | (b[2 * i + 1] << 8);
    if (c >= 0xD800 && c <= 0xDFFF) c = 0xFFFD;
    if (c < 0x80)
      out += static_cast<char>(c);
    else if (c < 0x800)
      out += {static_cast<char>(0xC0 | (c >> 6)), static_cast<char>(0x80 | (c & 0x3F))};
    else
      out += {static_cast<char>(0xE0 | (c >> 12)), static_cast<char>(0x80 | ((c >> 6) & 0x3F)),
              static_cast<char>(0x80 | (c & 0x3F))};
  }
  return out;
}

// exFAT: the volume label entry (type 0x83: character count, then up to 11 UTF-16LE characters)
// in the root directory's first cluster. Read directly because TSK 4.12's exFAT fsstat, the only
// other way, walks the whole allocation bitmap and takes minutes even on a 16 MiB volume.
std::string exfat_label(TSK_FS_INFO* fs) {
  uint8_t boot[512];
  if (tsk_fs_read(fs, 0, reinterpret_cast<char*>(boot), sizeof boot) != sizeof boot) {
    tsk_error_reset();
    return "";
  }
  const auto le32 = [](const uint8_t* p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
  };
  const unsigned sector_shift = boot[108], cluster_shift = boot[109];
  const uint32_t heap = le32(boot + 88), root = le32(boot + 96);
  if (sector_shift < 9 || sector_shift > 12 || sector_shift + cluster_shift > 25 || root < 2)
    return "";  // not a boot sector exFAT allows: no label rather than a guess
  const uint64_t at =
      (uint64_t{heap} << sector_shift) + (uint64_t{root - 2} << (sector_shift + cluster_shift));
  std::vector<uint8_t> dir(
      std::min<size_t>(size_t{1} << (sector_shift + cluster_shift), 64 * 1024));
  if (tsk_fs_read(fs, static_cast<TSK_OFF_T>(at), reinterpret_cast<char*>(dir.data()),
                  dir.size()) != static_cast<ssize_t>(dir.size())) {
    tsk_error_reset();
    return "";
  }
  for (size_t e = 0; e + 32 <= dir.size(); e += 32) {
    if (dir[e] == 0x00) break;  // end of directory
    if (dir[e] == 0x83) return utf16le_label(&dir[e + 2], std::min<size_t>(dir[e + 1], 11));
  }
  return "";
}

// NTFS: the label is $Volume's $VOLUME_NAME attribute (UTF-16LE). Read directly because TSK
// 4.11's NTFS fsstat leaks a buffer on every call (seen under LeakSanitizer).
std::string ntfs_label(TSK_FS_INFO* fs) {
  TSK_FS_FILE* file = tsk_fs_file_open_meta(fs, nullptr, 3);
  if (!file) {
    tsk_error_reset();
    return "";
  }
  std::unique_ptr<TSK_FS_FILE, decltype(&tsk_fs_file_close)> owner(file, &tsk_fs_file_close);
  const TSK_FS_ATTR* attr = tsk_fs_file_attr_get_type(file, TSK_FS_ATTR_TYPE_NTFS_VNAME, 0, 0);
  if (!attr || (attr->flags & TSK_FS_ATTR_NONRES) || !attr->rd.buf) {
    tsk_error_reset();
    return "";
  }
  return utf16le_label(attr->rd.buf, static_cast<size_t>(attr->size) / 2);
}

// Parses the volume label from TSK's fsstat text (the only filesystem-independent way TSK has).
std::string read_label(TSK_FS_INFO* fs) {
  if (TSK_FS_TYPE_ISNTFS(fs->ftype)) return ntfs_label(fs);
  if (fs->ftype == TSK_FS_TYPE_EXFAT) return exfat_label(fs);
  char* buf = nullptr;
  size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  if (!f) return "";
  fs->fsstat(fs, f);
  std::fclose(f);
  tsk_error_reset();
  std::string text(buf ? buf : "", len);
  std::free(buf);
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line) && n++ < 80) {
    for (const char* key :
         {"Volume Label (Boot Sector): ", "Volume Label (Root Directory): ",
          "Volume Label (from root directory): ", "Volume Name: ", "Volume Label: "}) {
      if (line.rfind(key, 0) == 0) {
        std::string v = line.substr(std::char_traits<char>::length(key));
        while (!v.empty() && (v.back() == ' ' || v.back() == '\r')) v.pop_back();
        // TSK's placeholder for a FAT volume without a label is no label.
        if (v == "$EMPTY_VOLUME_LABEL") continue;
        if (!v.empty()) return v;
      }
    }
  }
  return "";
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
};

void add_fs(OpenCtx& c, int volume, TSK_FS_INFO* fs, uint64_t img_base, const TSK_POOL_INFO* pool,
            TSK_IMG_INFO* pool_img, const std::string& encryption = "") {
  FilesystemInfo info;
  info.index = static_cast<int>(c.infos->size());
  info.volume = volume;
  info.offset = img_base + static_cast<uint64_t>(fs->offset);
  info.type = fs_type_name(fs->ftype);
  info.block_size = fs->block_size;
  info.block_count = fs->block_count;
  info.size = static_cast<uint64_t>(fs->block_count) * fs->block_size;
  if (c.labels) info.label = read_label(fs);
  info.encryption = encryption;
  c.infos->push_back(info);
  FsHandle h;
  h.decrypted = !encryption.empty();
  h.fs = fs;
  h.pool = pool;
  h.pool_img = pool_img;
  h.img_base = img_base;
  c.handles->push_back(std::move(h));
}

// A filesystem in a volume decrypted with a key: `img` is the decrypted volume, whose byte 0 lies
// at image offset `base` (encrypted).
struct Decrypted {
  TSK_IMG_INFO* img = nullptr;
  uint64_t base = 0;
  std::string scheme;
};

// Tries a filesystem, then an APFS pool, at one byte offset; records a problem when neither opens.
void open_at(OpenCtx& c, int volume, uint64_t offset, const std::string& where,
             const Decrypted& d = {}) {
  tsk_error_reset();
  TSK_FS_INFO* fs = tsk_fs_open_img(d.img ? d.img : c.image->tsk(), static_cast<TSK_OFF_T>(offset),
                                    TSK_FS_TYPE_DETECT);
  if (fs) {
    add_fs(c, volume, fs, d.base, nullptr, nullptr, d.scheme);
    return;
  }
  if (d.img) {
    c.problems->push_back({where,
                           "no filesystem recognised in the decrypted " + d.scheme + " volume (" +
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

// A volume (or the whole image): an encrypted one is described, and opened when a key names it;
// anything else is tried as a filesystem.
void open_volume(OpenCtx& c, Volume& v, const std::string& where) {
  detail::TskRunsScope runs_scope;
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
        found->readable
            ? "no key was given (unlock it with --key " + std::to_string(v.index) + "=PASSPHRASE)"
            : "Safehold cannot decrypt it yet: its raw sectors are carved as they are";
    c.problems->push_back(
        {where, "is an encrypted " + found->scheme + " volume and " + what, v.start});
    return;
  }
  TSK_IMG_INFO* img = crypt::open(*c.image, v.start, v.length, *key, name);
  c.decrypted->push_back(img);
  v.encryption->unlocked = true;
  open_at(c, v.index, 0, where, Decrypted{img, v.start + found->data_offset, found->scheme});
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
  OpenCtx c{ev->image_.get(),  labels,         &ev->filesystems_,     &ev->impl_->fs,
            &ev->impl_->pools, &ev->problems_, &ev->impl_->decrypted, {}};
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
    for (Volume& v : ev->volumes_)
      if (v.kind == VolumeKind::partition)
        open_volume(c, v, "volume " + std::to_string(v.index) + " (" + v.description + ")");
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
    open_volume(c, ev->volumes_.back(), "image");
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
    const uint64_t base = h.img_base + static_cast<uint64_t>(h.fs->offset), bs = h.fs->block_size;
    for (auto [a, b] : *runs) out.push_back({base + a * bs, (b - a + 1) * bs});
  } else {
    BlockCtx c{&out, h.img_base + static_cast<uint64_t>(h.fs->offset), h.fs->block_size};
    auto flags = static_cast<TSK_FS_BLOCK_WALK_FLAG_ENUM>(TSK_FS_BLOCK_WALK_FLAG_UNALLOC |
                                                          TSK_FS_BLOCK_WALK_FLAG_AONLY);
    tsk_error_reset();
    if (tsk_fs_block_walk(h.fs, h.fs->first_block, h.fs->last_block_act, flags, block_cb, &c) != 0)
      (problems ? *problems : problems_)
          .push_back({"fs " + std::to_string(filesystem) + " (" + info.type + ")",
                      "unallocated block walk incomplete: " + take_tsk_error(), info.offset});
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
