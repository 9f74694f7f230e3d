#include "fs/internal/lvm.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>

#include "fs/error.hpp"
#include "fs/internal/lvm_meta.hpp"
#include "fs/internal/tsk_image.hpp"

namespace safehold::fs::lvm {
namespace {

constexpr size_t kMaxVolumes = 4096;    // logical or physical volumes of one group
constexpr size_t kMaxSegments = 65536;  // segments of one logical volume
constexpr uint64_t kSector = 512;       // LVM2 counts sectors of 512 bytes

uint32_t le32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
uint64_t le64(const uint8_t* p) {
  return uint64_t{le32(p)} | uint64_t{le32(p + 4)} << 32;
}

// LVM2's checksum (lib/misc/crc.c): CRC-32 (reflected 0xedb88320) from 0xf597a6cf, no final XOR.
uint32_t lvm_crc(const uint8_t* p, size_t n) {
  uint32_t crc = 0xf597a6cf;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return crc;
}

// The label (in one of the first four sectors) and the PV header it points to.
struct Label {
  uint64_t sector = 0;
  std::string uuid;  // 32 characters, without dashes
  uint64_t data_offset = 0;
  std::vector<std::pair<uint64_t, uint64_t>> metadata_areas;  // offset, size
  std::string damage;                                         // why the label cannot be used
};

std::optional<Label> read_label(const ReadFn& read, uint64_t size) {
  for (uint64_t s = 0; s < 4 && (s + 1) * kSector <= size; ++s) {
    uint8_t b[kSector];
    if (!read(s * kSector, b, sizeof b)) return std::nullopt;
    if (std::memcmp(b, "LABELONE", 8) != 0 || std::memcmp(b + 24, "LVM2 001", 8) != 0) continue;
    Label l;
    l.sector = s;
    const uint32_t at = le32(b + 20);  // the PV header, from the label's start
    if (le64(b + 8) != s || le32(b + 16) != lvm_crc(b + 20, sizeof b - 20) || at < 32 ||
        at > sizeof b - 32 - 8 - 16) {
      l.damage = "its label in sector " + std::to_string(s) + " is damaged (checksum or offsets)";
      return l;
    }
    l.uuid.assign(reinterpret_cast<const char*>(b + at), 32);
    // Data areas, then metadata areas: (offset, size) pairs, each list ended by a zero offset.
    size_t p = at + 40;
    int list = 0;
    for (; p + 16 <= sizeof b && list < 2; p += 16) {
      const uint64_t off = le64(b + p), len = le64(b + p + 8);
      if (off == 0) {
        ++list;
        continue;
      }
      if (list == 0 && l.data_offset == 0) l.data_offset = off;
      if (list == 1) l.metadata_areas.emplace_back(off, len);
    }
    if (l.data_offset == 0 || l.metadata_areas.empty())
      l.damage = "its header names no data or no metadata area";
    return l;
  }
  return std::nullopt;
}

// The metadata text of one metadata area: its header (checksum, magic, version 1) and the first
// raw location, which may wrap from the area's end to just after its 512-byte header.
std::string read_text(const ReadFn& read, uint64_t size, uint64_t start, uint64_t len) {
  if (start > size || len > size - start || len < 2 * kSector)
    throw std::runtime_error("its metadata area (" + std::to_string(len) + " bytes at byte " +
                             std::to_string(start) + ") lies outside the volume");
  uint8_t h[kSector];
  if (!read(start, h, sizeof h)) throw std::runtime_error("its metadata area cannot be read");
  if (std::memcmp(h + 4, " LVM2 x[5A%r0N*>", 16) != 0 || le32(h + 20) != 1)
    throw std::runtime_error("its metadata area header has no LVM2 signature");
  if (le32(h) != lvm_crc(h + 4, sizeof h - 4))
    throw std::runtime_error("its metadata area header's checksum does not match");
  const uint64_t off = le64(h + 40), n = le64(h + 48);
  const uint32_t crc = le32(h + 56);
  if (off < kSector || off >= len || n == 0 || n > len - kSector || n > (64u << 20))
    throw std::runtime_error("its metadata text (" + std::to_string(n) + " bytes at " +
                             std::to_string(off) + ") lies outside its metadata area");
  std::string text(static_cast<size_t>(n), '\0');
  const uint64_t first = std::min(n, len - off);
  if (!read(start + off, text.data(), static_cast<size_t>(first)) ||
      (n > first && !read(start + kSector, text.data() + first, static_cast<size_t>(n - first))))
    throw std::runtime_error("its metadata text cannot be read");
  if (lvm_crc(reinterpret_cast<const uint8_t*>(text.data()), text.size()) != crc)
    throw std::runtime_error("its metadata text's checksum does not match");
  while (!text.empty() && text.back() == '\0') text.pop_back();
  return text;
}

std::string undashed(std::string s) {
  s.erase(std::remove(s.begin(), s.end(), '-'), s.end());
  return s;
}

// A number of sectors or extents times a unit, or nullopt when it overflows 2^62.
std::optional<uint64_t> times(std::optional<uint64_t> n, uint64_t unit) {
  if (!n || (unit && *n > (uint64_t{1} << 62) / unit)) return std::nullopt;
  return *n * unit;
}

struct Pv {
  std::string name, id;
  uint64_t pe_start = 0, pe_count = 0;
};

// One segment's extents, or why it cannot be read (`why` set).
void read_segment(const meta::Section& seg, const Group& g, const std::vector<Pv>& pvs,
                  uint64_t extent, LogicalVolume& lv, uint64_t& expected, uint64_t data_size) {
  const std::string type = seg.text("type").value_or("?");
  const auto start = times(seg.number("start_extent"), extent);
  const auto count = times(seg.number("extent_count"), extent);
  const meta::Value* stripes = seg.value("stripes");
  if (type != "striped") {
    lv.unreadable = "a segment of it is of type '" + type + "' (only linear volumes are read)";
    return;
  }
  if (seg.number("stripe_count") != uint64_t{1} || !stripes || stripes->list.size() != 2) {
    lv.unreadable = "it is striped across several physical volumes (only linear volumes are read)";
    return;
  }
  const auto pe = times(stripes->list[1].number, extent);
  const std::string pv_name = stripes->list[0].text.value_or("");
  if (!start || !count || !pe || *start != expected || *count == 0) {
    lv.unreadable = "its segments do not follow each other";
    return;
  }
  if (pv_name != g.pv_name) {
    std::string id;
    for (const Pv& p : pvs)
      if (p.name == pv_name) id = " (UUID " + p.id + ")";
    lv.unreadable = "it lies on physical volume " + pv_name + id + ", which is not in this image";
    return;
  }
  if (*count > data_size || *pe > data_size - *count) {
    lv.unreadable = "a segment of it (" + std::to_string(*count) + " bytes at extent offset " +
                    std::to_string(*pe) + ") lies outside the physical volume";
    return;
  }
  lv.extents.push_back({*start, *count, g.pe_start + *pe});
  expected += *count;
}

LogicalVolume read_lv(const meta::Section& s, const Group& g, const std::vector<Pv>& pvs,
                      uint64_t extent, uint64_t data_size) {
  LogicalVolume lv;
  lv.name = s.name;
  lv.identifier = s.text("id").value_or("");
  const auto n = s.number("segment_count");
  if (!n || *n == 0 || *n > kMaxSegments) {
    lv.unreadable = "its segment count is missing or impossible";
    return lv;
  }
  uint64_t expected = 0;
  for (uint64_t k = 1; k <= *n && lv.unreadable.empty(); ++k) {
    const meta::Section* seg = s.section("segment" + std::to_string(k));
    if (!seg)
      lv.unreadable = "its segment " + std::to_string(k) + " is missing";
    else
      read_segment(*seg, g, pvs, extent, lv, expected, data_size);
  }
  lv.size = expected;
  if (!lv.unreadable.empty()) {
    lv.extents.clear();
    lv.size = 0;  // what its segments claim, for the listing
    for (uint64_t k = 1; k <= *n; ++k)
      if (const meta::Section* seg = s.section("segment" + std::to_string(k)))
        if (auto c = times(seg->number("extent_count"), extent); c && *c <= data_size)
          lv.size += *c;
  }
  return lv;
}

// The volume group from the parsed text: its first section holding physical_volumes.
Group to_group(const meta::Section& root, const Label& label, uint64_t size) {
  const meta::Section* vg = nullptr;
  for (const auto& s : root.sections)
    if (s->section("physical_volumes")) {
      vg = s.get();
      break;
    }
  if (!vg) throw std::runtime_error("its metadata describes no volume group");
  Group g;
  g.name = vg->name;
  g.identifier = vg->text("id").value_or("");
  g.pv_identifier = label.uuid;
  const auto extent = times(vg->number("extent_size"), kSector);
  if (!extent || *extent == 0) throw std::runtime_error("its extent size is missing or zero");
  std::vector<Pv> pvs;
  for (const auto& s : vg->section("physical_volumes")->sections) {
    Pv p{s->name, s->text("id").value_or(""), 0, 0};
    if (undashed(p.id) == label.uuid) {
      const auto start = times(s->number("pe_start"), kSector);
      if (!start || *start != label.data_offset || *start >= size)
        throw std::runtime_error("its metadata and its label disagree on where its data starts");
      g.pv_name = p.name;
      g.pe_start = *start;
    } else {
      g.missing.push_back(p.name + " (UUID " + p.id + ")");
    }
    pvs.push_back(std::move(p));
  }
  g.physical_volumes = static_cast<int>(pvs.size());
  if (g.pv_name.empty())
    throw std::runtime_error("the metadata of volume group " + g.name +
                             " does not list this physical volume");
  if (pvs.size() > kMaxVolumes) throw std::runtime_error("it lists over 4096 physical volumes");
  if (const meta::Section* lvs = vg->section("logical_volumes")) {
    if (lvs->sections.size() > kMaxVolumes)
      throw std::runtime_error("it lists over 4096 logical volumes");
    for (const auto& s : lvs->sections)
      g.volumes.push_back(read_lv(*s, g, pvs, *extent, size - g.pe_start));
  }
  return g;
}

}  // namespace

ReadFn reader(const Image& image, uint64_t start, uint64_t length) {
  return [&image, start, length](uint64_t off, void* buf, size_t n) {
    if (off > length || n > length - off) return false;
    try {
      return image.read(start + off, std::span(static_cast<std::byte*>(buf), n)) == n;
    } catch (const EvidenceError&) {
      return false;
    }
  };
}

ReadFn reader(TSK_IMG_INFO* img) {
  return [img](uint64_t off, void* buf, size_t n) {
    if (off > static_cast<uint64_t>(img->size) || n > static_cast<uint64_t>(img->size) - off)
      return false;
    const bool ok = tsk_img_read(img, static_cast<TSK_OFF_T>(off), static_cast<char*>(buf), n) ==
                    static_cast<ssize_t>(n);
    if (!ok) tsk_error_reset();
    return ok;
  };
}

bool contiguous(const LogicalVolume& lv) {
  for (size_t i = 1; i < lv.extents.size(); ++i)
    if (lv.extents[i - 1].pv_offset + lv.extents[i - 1].len != lv.extents[i].pv_offset)
      return false;
  return !lv.extents.empty();
}

Group group_from_text(std::string_view text, const std::string& pv_uuid, uint64_t pe_start,
                      uint64_t size) {
  Label l;
  l.uuid = pv_uuid;
  l.data_offset = pe_start;
  return to_group(meta::parse(text), l, size);
}

bool is_physical_volume(const ReadFn& read, uint64_t size) {
  return read_label(read, size).has_value();
}

Group read_group(const ReadFn& read, uint64_t size, const std::string& name) {
  const auto label = read_label(read, size);
  if (!label) throw EvidenceError(name + ": is not an LVM physical volume");
  const std::string what = name + ": is an LVM physical volume whose metadata cannot be read: ";
  if (!label->damage.empty()) throw EvidenceError(what + label->damage);
  // The first metadata area that reads; else the first one's reason.
  std::string first_error;
  for (const auto& [off, len] : label->metadata_areas) {
    try {
      return to_group(meta::parse(read_text(read, size, off, len)), *label, size);
    } catch (const std::runtime_error& e) {
      if (first_error.empty()) first_error = e.what();
    }
  }
  throw EvidenceError(what + first_error);
}

std::vector<Piece> to_image(const std::vector<Extent>& extents, uint64_t pv_start, uint64_t off,
                            uint64_t len) {
  std::vector<Piece> out;
  auto it = std::upper_bound(extents.begin(), extents.end(), off,
                             [](uint64_t o, const Extent& x) { return o < x.lv_offset; });
  if (it != extents.begin()) --it;
  for (; it != extents.end() && len > 0; ++it) {
    if (off < it->lv_offset || off >= it->lv_offset + it->len) break;
    const uint64_t in = off - it->lv_offset;
    const uint64_t n = std::min(len, it->len - in);
    out.push_back({off, pv_start + it->pv_offset + in, n});
    off += n;
    len -= n;
  }
  return out;
}

namespace {

struct LvDisk {
  ReadFn read;  // the physical volume
  std::vector<Extent> extents;
  std::string name;
};

struct TskLv {
  TSK_IMG_INFO info;  // first: TSK casts the TSK_IMG_INFO* back
  LvDisk* disk;
};

ssize_t lv_read(TSK_IMG_INFO* img, TSK_OFF_T off, char* out, size_t len) {
  const LvDisk* d = reinterpret_cast<TskLv*>(img)->disk;
  std::string why = "beyond the end of the logical volume";
  if (off >= 0 && static_cast<uint64_t>(off) < static_cast<uint64_t>(img->size)) {
    len = static_cast<size_t>(
        std::min<uint64_t>(len, static_cast<uint64_t>(img->size) - static_cast<uint64_t>(off)));
    size_t done = 0;
    try {
      for (const Piece& p : to_image(d->extents, 0, static_cast<uint64_t>(off), len)) {
        const size_t n = static_cast<size_t>(p.len);
        if (!d->read(p.img, out + done, n)) {
          why = "its physical volume cannot be read there";
          break;
        }
        done += n;
      }
      if (done == len) return static_cast<ssize_t>(len);
    } catch (const std::exception& e) {
      why = e.what();
    }
  }
  return safehold::fs::detail::tsk_read_failed(d->name, off, why);
}

void lv_close(TSK_IMG_INFO* img) {
  auto* t = reinterpret_cast<TskLv*>(img);
  delete t->disk;
  std::free(t);
}

void lv_stat(TSK_IMG_INFO* img, FILE* f) {
  tsk_fprintf(f, "LVM logical volume, %" PRId64 " bytes\n", static_cast<int64_t>(img->size));
}

}  // namespace

TSK_IMG_INFO* open(const ReadFn& read_pv, const LogicalVolume& lv, const std::string& name) {
  if (lv.extents.empty() || lv.size == 0)
    throw EvidenceError(name + ": the logical volume " + lv.name + " cannot be read");
  auto disk = std::make_unique<LvDisk>(LvDisk{read_pv, lv.extents, name});
  return detail::open_callback_image<TskLv>(disk, lv.size, 512, {lv_read, lv_close, lv_stat},
                                            name + ": the logical volume cannot be opened");
}

}  // namespace safehold::fs::lvm
