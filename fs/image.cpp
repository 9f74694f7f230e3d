#include "fs/image.hpp"

#include <tsk/libtsk.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>

#include "fs/ewf.hpp"
#include "fs/ewf_image.hpp"
#include "fs/internal/container.hpp"
#include "fs/internal/ewf_chunks.hpp"
#include "fs/internal/ewf_map.hpp"

namespace safehold::fs {

namespace fsys = std::filesystem;

struct Image::Lock {
  std::mutex m;
};

std::string take_tsk_error() {
  const char* msg = tsk_error_get();
  std::string s = msg ? msg : "";
  tsk_error_reset();
  // TSK's messages can span lines; keep them to one.
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

const char* to_string(ImageFormat f) {
  switch (f) {
    case ImageFormat::raw:
      return "raw";
    case ImageFormat::split_raw:
      return "split raw";
    case ImageFormat::ewf:
      return "ewf";
    case ImageFormat::vhd:
      return "vhd";
    case ImageFormat::vmdk:
      return "vmdk";
    case ImageFormat::qcow:
      return "qcow";
    case ImageFormat::vhdx:
      return "vhdx";
    case ImageFormat::zip:
      return "zip";
    case ImageFormat::tar:
      return "tar";
    case ImageFormat::folder:
      return "folder";
    case ImageFormat::itunes:
      return "itunes";
  }
  return "unknown";
}

namespace {

std::string hex_or_empty(const uint8_t* d, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (d[i]) {
      static const char* digits = "0123456789abcdef";
      std::string s;
      for (size_t j = 0; j < n; ++j) {
        s += digits[d[j] >> 4];
        s += digits[d[j] & 15];
      }
      return s;
    }
  return "";
}

EwfMetadata read_ewf_metadata(const ewf::Handle& h) {
  EwfMetadata m;
  m.case_number = ewf::header_value(h.get(), "case_number");
  m.evidence_number = ewf::header_value(h.get(), "evidence_number");
  m.examiner = ewf::header_value(h.get(), "examiner_name");
  m.description = ewf::header_value(h.get(), "description");
  m.notes = ewf::header_value(h.get(), "notes");
  m.acquiry_date = ewf::header_value(h.get(), "acquiry_date");
  m.system_date = ewf::header_value(h.get(), "system_date");
  m.acquiry_os = ewf::header_value(h.get(), "acquiry_operating_system");
  m.acquiry_software = ewf::header_value(h.get(), "acquiry_software");
  m.acquiry_software_version = ewf::header_value(h.get(), "acquiry_software_version");
  ewf::Error err;
  uint8_t md5[16] = {}, sha1[20] = {};
  if (libewf_handle_get_md5_hash(h.get(), md5, sizeof md5, err.out()) == 1)
    m.md5 = hex_or_empty(md5, 16);
  if (libewf_handle_get_sha1_hash(h.get(), sha1, sizeof sha1, err.out()) == 1)
    m.sha1 = hex_or_empty(sha1, 20);
  if (m.sha1.empty()) {
    // Some writers keep SHA-1 only in the hash values of the xhash section.
    uint8_t buf[64] = {};
    if (libewf_handle_get_utf8_hash_value(h.get(), reinterpret_cast<const uint8_t*>("SHA1"), 4, buf,
                                          sizeof buf, err.out()) == 1)
      m.sha1 = reinterpret_cast<char*>(buf);
  }
  size32_t chunk = 0;
  if (libewf_handle_get_chunk_size(h.get(), &chunk, err.out()) == 1) m.chunk_size = chunk;
  int8_t level = 0;
  uint8_t flags = 0;
  if (libewf_handle_get_compression_values(h.get(), &level, &flags, err.out()) == 1) {
    m.compression =
        level == LIBEWF_COMPRESSION_NONE
            ? (flags & LIBEWF_COMPRESS_FLAG_USE_EMPTY_BLOCK_COMPRESSION ? "empty-block" : "none")
        : level == LIBEWF_COMPRESSION_FAST ? "fast"
        : level == LIBEWF_COMPRESSION_BEST ? "best"
                                           : "unknown";
  }
  uint8_t media = 0;
  if (libewf_handle_get_media_type(h.get(), &media, err.out()) == 1) {
    m.media_type = media == LIBEWF_MEDIA_TYPE_REMOVABLE ? "removable"
                   : media == LIBEWF_MEDIA_TYPE_FIXED   ? "fixed"
                   : media == LIBEWF_MEDIA_TYPE_OPTICAL ? "optical"
                   : media == LIBEWF_MEDIA_TYPE_MEMORY  ? "memory"
                                                        : "other";
  }
  uint32_t n = 0;
  if (libewf_handle_get_number_of_acquiry_errors(h.get(), &n, err.out()) == 1) {
    for (uint32_t i = 0; i < n; ++i) {
      uint64_t first_sector = 0, count = 0;
      if (libewf_handle_get_acquiry_error(h.get(), i, &first_sector, &count, err.out()) == 1)
        m.acquiry_errors.emplace_back(first_sector, count);
    }
  }
  return m;
}

bool boot_signature_at(TSK_IMG_INFO* img, uint64_t off) {
  unsigned char b[512];
  if (off + sizeof b > static_cast<uint64_t>(img->size)) return false;
  if (tsk_img_read(img, static_cast<TSK_OFF_T>(off), reinterpret_cast<char*>(b), sizeof b) !=
      static_cast<ssize_t>(sizeof b)) {
    tsk_error_reset();
    return false;
  }
  return b[510] == 0x55 && b[511] == 0xAA;
}

// 4096 or 512: see Image::open. A disk of 4096-byte sectors keeps its GPT header in sector 1
// (byte 4096) and counts MBR partition starts in 4096-byte sectors.
uint32_t detect_sector_size(TSK_IMG_INFO* img) {
  unsigned char b[4104] = {};
  const size_t n = static_cast<size_t>(std::min<TSK_OFF_T>(img->size, sizeof b));
  if (tsk_img_read(img, 0, reinterpret_cast<char*>(b), n) != static_cast<ssize_t>(n)) {
    tsk_error_reset();
    return 512;
  }
  if (n >= 520 && std::memcmp(b + 512, "EFI PART", 8) == 0) return 512;
  if (n >= 4104 && std::memcmp(b + 4096, "EFI PART", 8) == 0) return 4096;
  if (n < 512 || b[510] != 0x55 || b[511] != 0xAA) return 512;
  int at512 = 0, at4096 = 0;
  for (int i = 0; i < 4; ++i) {
    const unsigned char* e = b + 446 + 16 * i;
    const uint32_t start =
        uint32_t(e[8]) | uint32_t(e[9]) << 8 | uint32_t(e[10]) << 16 | uint32_t(e[11]) << 24;
    if (e[4] == 0 || start == 0) continue;
    at512 += boot_signature_at(img, uint64_t{start} * 512);
    at4096 += boot_signature_at(img, uint64_t{start} * 4096);
  }
  return at4096 > 0 && at512 == 0 ? 4096 : 512;
}

}  // namespace

namespace {

ImageFormat format_of(container::Kind k) {
  switch (k) {
    case container::Kind::qcow:
      return ImageFormat::qcow;
    case container::Kind::vhd:
      return ImageFormat::vhd;
    case container::Kind::vhdx:
      return ImageFormat::vhdx;
    case container::Kind::vmdk:
      return ImageFormat::vmdk;
    case container::Kind::none:
      break;
  }
  return ImageFormat::raw;
}

}  // namespace

std::unique_ptr<Image> Image::open(const fsys::path& path, const OpenOptions& opts) {
  const uint32_t sector_size = opts.sector_size;
  if (sector_size != 0 && sector_size != 512 && sector_size != 1024 && sector_size != 2048 &&
      sector_size != 4096)
    throw EvidenceError(path.string() + ": sector size " + std::to_string(sector_size) +
                        " is not one of 512, 1024, 2048, 4096");
  std::error_code ec;
  if (!fsys::exists(path, ec)) throw EvidenceError(path.string() + ": no such file");
  if (fsys::is_directory(path, ec))
    throw EvidenceError(path.string() + ": is a directory, not an image");
  {
    std::ifstream probe(path, std::ios::binary);
    if (!probe)
      throw EvidenceError(path.string() +
                          ": cannot be opened for reading: " + std::strerror(errno));
  }
  std::unique_ptr<Image> img(new Image());
  img->path_ = path;
  img->opts_ = opts;
  img->lock_ = std::make_unique<Lock>();

  ewf::Error err;
  const bool is_ewf = !opts.raw && libewf_check_file_signature(path.c_str(), err.out()) == 1;
  tsk_error_reset();
  std::string p = path.string();
  if (is_ewf) {
    // Safehold's own chunk map first: it names a missing, swapped or cut segment, and every chunk
    // is read through it (never through libewf's chunk reads, which trust the tables' sizes).
    std::vector<std::string> segs = ewf::glob_segments(p);
    img->map_ = ewf::ChunkMap::open(segs);
    ewf::Handle h = ewf::open_segments(p, segs);
    img->ewf_ = read_ewf_metadata(h);
    img->format_ = ImageFormat::ewf;
    img->segments_.assign(segs.begin(), segs.end());
    img->img_ = ewf::open_tsk_image(img->map_, &img->shared_, sector_size);
    if (!img->img_) {
      std::string why = take_tsk_error();
      throw EvidenceError(p + ": cannot be read as an image" +
                          (why.empty() ? "" : " (" + why + ")"));
    }
    const auto& map = *img->map_;
    for (const auto& d : map.damage()) {
      const uint64_t a = d.first_chunk * map.chunk_size();
      const uint64_t z = std::min(map.media_size(), (d.first_chunk + d.count) * map.chunk_size());
      std::string what = d.count == 1
                             ? map.describe(d.first_chunk)
                             : "chunks " + std::to_string(d.first_chunk) + "-" +
                                   std::to_string(d.first_chunk + d.count - 1) + " (image bytes " +
                                   std::to_string(a) + "-" + std::to_string(z - 1) + ")";
      img->damage_.push_back({a, z - a, what + " cannot be read: " + d.reason});
    }
    return img;
  }
  std::string unsupported;
  const container::Kind kind =
      opts.raw ? container::Kind::none : container::detect(path, &unsupported);
  if (!unsupported.empty())
    throw EvidenceError(p + ": is " + unsupported +
                        ", which Safehold cannot read (use --raw to read the file as raw data)");
  if (kind != container::Kind::none) {
    // Through Safehold's own TSK image over libqcow/libvhdi/libvmdk: TSK's VHD and VMDK backends
    // know no parents, and its detection leaks the handles of every format it rules out.
    auto c = container::open(path, kind, opts.parents, sector_size);
    img->img_ = c.img;
    img->format_ = format_of(kind);
    img->segments_ = std::move(c.files);
    for (auto& d : c.damage)
      img->damage_.push_back({d.offset, d.len,
                              "image bytes " + std::to_string(d.offset) + "-" +
                                  std::to_string(d.offset + d.len - 1) +
                                  " cannot be read: " + d.reason});
    if (sector_size == 0 && c.bytes_per_sector == 0 && detect_sector_size(img->img_) == 4096) {
      tsk_img_close(img->img_);
      img->img_ = container::open(path, kind, opts.parents, 4096).img;
    }
    if (img->size() == 0) throw EvidenceError(p + ": the image holds no data (size 0)");
    return img;
  }
  if (!opts.parents.empty())
    throw EvidenceError(p + ": --parent was given, but this is not a differencing disk");
  img->img_ = tsk_img_open_utf8_sing(p.c_str(), TSK_IMG_TYPE_RAW, sector_size);
  if (img->img_ && sector_size == 0 && detect_sector_size(img->img_) == 4096) {
    tsk_img_close(img->img_);
    img->img_ = tsk_img_open_utf8_sing(p.c_str(), TSK_IMG_TYPE_RAW, 4096);
  }
  if (!img->img_) {
    std::string why = take_tsk_error();
    throw EvidenceError(p + ": not a recognised image" + (why.empty() ? "" : " (" + why + ")"));
  }
  img->format_ = img->img_->num_img > 1 ? ImageFormat::split_raw : ImageFormat::raw;
  for (int i = 0; i < img->img_->num_img; ++i) img->segments_.emplace_back(img->img_->images[i]);
  if (img->segments_.empty()) img->segments_.push_back(path);
  if (img->size() == 0) throw EvidenceError(p + ": the image holds no data (size 0)");
  return img;
}

std::unique_ptr<Image> Image::open_extraction(const fsys::path& path, ImageFormat format) {
  std::unique_ptr<Image> img(new Image());
  img->path_ = path;
  img->format_ = format;
  img->lock_ = std::make_unique<Lock>();
  img->segments_.push_back(path);
  if (format == ImageFormat::folder || format == ImageFormat::itunes) return img;
  img->img_ = tsk_img_open_utf8_sing(path.string().c_str(), TSK_IMG_TYPE_RAW, 512);
  if (!img->img_) {
    std::string why = take_tsk_error();
    throw EvidenceError(path.string() + ": cannot be opened" +
                        (why.empty() ? "" : " (" + why + ")"));
  }
  return img;
}

Image::~Image() {
  if (img_) tsk_img_close(img_);
}

uint64_t Image::size() const {
  if (!img_) return 0;  // a folder
  return static_cast<uint64_t>(img_->size);
}
uint32_t Image::sector_size() const {
  if (!img_) return 512;
  return img_->sector_size ? img_->sector_size : 512;
}

size_t Image::read(uint64_t offset, std::span<std::byte> out) const {
  if (offset >= size() || out.empty()) return 0;
  size_t want = static_cast<size_t>(std::min<uint64_t>(out.size(), size() - offset));
  std::lock_guard<std::mutex> g(lock_->m);
  size_t done = 0;
  while (done < want) {
    ssize_t n = tsk_img_read(img_, static_cast<TSK_OFF_T>(offset + done),
                             reinterpret_cast<char*>(out.data() + done), want - done);
    if (n <= 0) {
      std::string why = take_tsk_error();
      throw EvidenceError(path_.string() + ": cannot read at byte offset " +
                          std::to_string(offset + done) + (why.empty() ? "" : " (" + why + ")"));
    }
    done += static_cast<size_t>(n);
  }
  return done;
}

}  // namespace safehold::fs
