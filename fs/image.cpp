#include "fs/image.hpp"

#include <tsk/libtsk.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>

#include "fs/ewf.hpp"
#include "fs/ewf_image.hpp"
#include "fs/internal/ewf_chunks.hpp"

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

EwfMetadata read_ewf_metadata(const fsys::path& first) {
  EwfMetadata m;
  ewf::Handle h = ewf::open_for_read(first.string());
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

// TSK's own detection leaks the libvhdi/libvmdk handles of every format it rules out (seen under
// LeakSanitizer), so recognise VHD and VMDK by their signatures and open anything else as raw.
TSK_IMG_TYPE_ENUM detect_type(const fsys::path& path) {
  std::ifstream in(path, std::ios::binary);
  char head[64] = {};
  in.read(head, sizeof head);
  std::string h(head, static_cast<size_t>(in.gcount()));
  if (h.rfind("KDMV", 0) == 0 || h.find("# Disk DescriptorFile") != std::string::npos)
    return TSK_IMG_TYPE_VMDK_VMDK;
  if (h.rfind("conectix", 0) == 0) return TSK_IMG_TYPE_VHD_VHD;
  in.clear();
  in.seekg(-512, std::ios::end);
  char foot[8] = {};
  if (in && in.read(foot, sizeof foot) && std::string(foot, 8) == "conectix")
    return TSK_IMG_TYPE_VHD_VHD;
  return TSK_IMG_TYPE_RAW;
}

}  // namespace

std::unique_ptr<Image> Image::open(const fsys::path& path) {
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
  img->lock_ = std::make_unique<Lock>();

  ewf::Error err;
  bool is_ewf = libewf_check_file_signature(path.c_str(), err.out()) == 1;
  tsk_error_reset();
  std::string p = path.string();
  // EWF through Safehold's own backend (libdeflate, zero chunks not inflated); TSK's when that
  // fails.
  if (is_ewf) img->img_ = ewf::open_tsk_image(p, &img->shared_);
  if (!img->img_)
    img->img_ =
        tsk_img_open_utf8_sing(p.c_str(), is_ewf ? TSK_IMG_TYPE_EWF_EWF : detect_type(path), 0);
  if (!img->img_) {
    std::string why = take_tsk_error();
    throw EvidenceError(p + ": " +
                        (is_ewf ? "damaged or incomplete EWF image" : "not a recognised image") +
                        (why.empty() ? "" : " (" + why + ")"));
  }
  switch (is_ewf ? TSK_IMG_TYPE_EWF_EWF : img->img_->itype) {
    case TSK_IMG_TYPE_EWF_EWF:
      img->format_ = ImageFormat::ewf;
      break;
    case TSK_IMG_TYPE_VHD_VHD:
      img->format_ = ImageFormat::vhd;
      break;
    case TSK_IMG_TYPE_VMDK_VMDK:
      img->format_ = ImageFormat::vmdk;
      break;
    default:
      img->format_ = img->img_->num_img > 1 ? ImageFormat::split_raw : ImageFormat::raw;
  }
  for (int i = 0; i < img->img_->num_img; ++i) img->segments_.emplace_back(img->img_->images[i]);
  if (img->segments_.empty()) img->segments_.push_back(path);
  if (img->format_ == ImageFormat::ewf) {
    std::vector<std::string> segs;
    img->ewf_ = read_ewf_metadata(path);
    ewf::open_for_read(p, &segs);
    img->segments_.assign(segs.begin(), segs.end());
  }
  if (img->size() == 0) throw EvidenceError(p + ": the image holds no data (size 0)");
  return img;
}

Image::~Image() {
  if (img_) tsk_img_close(img_);
}

uint64_t Image::size() const {
  return static_cast<uint64_t>(img_->size);
}
uint32_t Image::sector_size() const {
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
