#include "acquire/ewf_writer.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace safehold::acquire {

namespace fsys = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& what, fs::ewf::Error& e) {
  throw AcquireError(AcquireError::Kind::failed, what + ": " + e.message());
}

std::vector<uint8_t> hex_bytes(const std::string& hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

// Handles libewf could not close without finalising, kept reachable on purpose: closing would
// write the closing sections and turn an interrupted set into a complete-looking, wrong one.
std::vector<libewf_handle_t*>& abandoned() {
  static std::vector<libewf_handle_t*> v;
  return v;
}

}  // namespace

std::vector<fsys::path> existing_segments(const fsys::path& base) {
  std::vector<fsys::path> out;
  fsys::path dir = base.parent_path().empty() ? fsys::path(".") : base.parent_path();
  std::string stem = base.filename().string() + ".";
  std::error_code ec;
  for (auto& e : fsys::directory_iterator(dir, ec)) {
    std::string n = e.path().filename().string();
    if (n.size() != stem.size() + 3 || n.compare(0, stem.size(), stem) != 0) continue;
    std::string ext = n.substr(stem.size());
    auto ok = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'); };
    if (ext[0] >= 'E' && ext[0] <= 'Z' && ok(ext[1]) && ok(ext[2])) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end(), [](const fsys::path& a, const fsys::path& b) {
    auto ea = a.extension().string(), eb = b.extension().string();
    // E01..E99 sort before EAA..: digits before letters in the second position.
    bool da = std::isdigit(static_cast<unsigned char>(ea[2])) != 0,
         db = std::isdigit(static_cast<unsigned char>(eb[2])) != 0;
    if (ea[1] != eb[1]) return ea[1] < eb[1];
    if (da != db) return da;
    return ea < eb;
  });
  return out;
}

EwfWriter EwfWriter::create(const fsys::path& base, const EwfSettings& s) {
  EwfWriter w;
  w.name_ = base.string();
  w.h_ = fs::ewf::make_handle();
  fs::ewf::Error e;
  char* names[] = {w.name_.data()};
  if (libewf_handle_open(w.h_.get(), names, 1, LIBEWF_OPEN_WRITE, e.out()) != 1)
    fail(w.name_ + ": cannot create the E01", e);
  auto* h = w.h_.get();
  if (libewf_handle_set_format(h, LIBEWF_FORMAT_ENCASE6, e.out()) != 1)
    fail("cannot set the EnCase 6 format", e);
  if (libewf_handle_set_media_size(h, s.media_size, e.out()) != 1)
    fail("cannot set the media size", e);
  if (libewf_handle_set_bytes_per_sector(h, s.bytes_per_sector, e.out()) != 1)
    fail("cannot set the sector size", e);
  if (libewf_handle_set_sectors_per_chunk(h, s.sectors_per_chunk, e.out()) != 1)
    fail("cannot set the chunk size", e);
  int8_t level = s.compression == Compression::none   ? LIBEWF_COMPRESSION_NONE
                 : s.compression == Compression::fast ? LIBEWF_COMPRESSION_FAST
                                                      : LIBEWF_COMPRESSION_BEST;
  if (libewf_handle_set_compression_values(h, level, 0, e.out()) != 1)
    fail("cannot set the compression level", e);
  if (libewf_handle_set_maximum_segment_size(h, s.segment_size, e.out()) != 1)
    fail(fmt::format("cannot set the segment size {}", s.segment_size), e);
  if (libewf_handle_set_media_type(
          h, s.removable ? LIBEWF_MEDIA_TYPE_REMOVABLE : LIBEWF_MEDIA_TYPE_FIXED, e.out()) != 1)
    fail("cannot set the media type", e);
  if (libewf_handle_set_media_flags(h, s.physical ? LIBEWF_MEDIA_FLAG_PHYSICAL : 0, e.out()) != 1)
    fail("cannot set the media flags", e);
  for (auto& [k, v] : s.headers) {
    if (v.empty()) continue;
    if (libewf_handle_set_utf8_header_value(h, reinterpret_cast<const uint8_t*>(k.data()), k.size(),
                                            reinterpret_cast<const uint8_t*>(v.data()), v.size(),
                                            e.out()) != 1)
      fail("cannot set the header value " + k, e);
  }
  return w;
}

EwfWriter EwfWriter::resume(const fsys::path& base, uint64_t* offset) {
  EwfWriter w;
  w.name_ = base.string();
  auto segs = existing_segments(base);
  if (segs.empty())
    throw AcquireError(AcquireError::Kind::usage, w.name_ + ".E01: nothing to resume");
  std::vector<std::string> names_s;
  for (auto& p : segs) names_s.push_back(p.string());
  std::vector<char*> names;
  for (auto& n : names_s) names.push_back(n.data());
  w.h_ = fs::ewf::make_handle();
  fs::ewf::Error e;
  if (libewf_handle_open(w.h_.get(), names.data(), static_cast<int>(names.size()),
                         LIBEWF_OPEN_WRITE_RESUME, e.out()) != 1)
    fail(names_s.front() + ": cannot reopen the interrupted image to resume", e);
  off64_t off = 0;
  if (libewf_handle_get_offset(w.h_.get(), &off, e.out()) != 1)
    fail("cannot find where the interrupted image ends", e);
  *offset = static_cast<uint64_t>(off);
  return w;
}

bool EwfWriter::set_segment_size(uint64_t bytes) {
  fs::ewf::Error e;
  return libewf_handle_set_maximum_segment_size(h_.get(), bytes, e.out()) == 1;
}

void EwfWriter::write(std::span<const std::byte> data, const CompressedChunk& c) {
  fs::ewf::Error e;
  uint8_t checksum_buf[4] = {};
  ssize_t r;
  if (c.compressed) {
    r = libewf_handle_write_chunk(h_.get(), c.bytes.data(), c.bytes.size(), data.size(), 1,
                                  checksum_buf, 0, 0, e.out());
  } else {
    std::memcpy(checksum_buf, &c.checksum, 4);
    r = libewf_handle_write_chunk(h_.get(), data.data(), data.size(), data.size(), 0, checksum_buf,
                                  c.checksum, 1, e.out());
  }
  if (r < 0) fail("cannot write to the E01", e);
}

void EwfWriter::write_stored(std::span<const unsigned char> bytes, size_t data_size,
                             bool compressed, uint32_t checksum) {
  fs::ewf::Error e;
  uint8_t checksum_buf[4] = {};
  std::memcpy(checksum_buf, &checksum, 4);
  const unsigned char* p = bytes.data();
  ssize_t r = compressed ? libewf_handle_write_chunk(h_.get(), p, bytes.size(), data_size, 1,
                                                     checksum_buf, 0, 0, e.out())
                         : libewf_handle_write_chunk(h_.get(), p, bytes.size(), data_size, 0,
                                                     checksum_buf, checksum, 1, e.out());
  if (r < 0) fail("cannot write to the E01", e);
}

void EwfWriter::add_acquiry_error(uint64_t first_sector, uint64_t count) {
  fs::ewf::Error e;
  if (libewf_handle_append_acquiry_error(h_.get(), first_sector, count, e.out()) != 1)
    fail("cannot record the acquisition error", e);
}

void EwfWriter::finish(const std::string& md5_hex, const std::string& sha1_hex) {
  fs::ewf::Error e;
  // A handle reopened to resume refuses set_md5_hash ("cannot be changed"); the hash values
  // (what ewfacquire uses) end up in the same hash and digest sections.
  auto store = [&](const std::string& hex, const char* id, auto setter) {
    if (hex.empty()) return;
    auto b = hex_bytes(hex);
    if (setter(h_.get(), b.data(), b.size(), e.out()) == 1) return;
    if (libewf_handle_set_utf8_hash_value(
            h_.get(), reinterpret_cast<const uint8_t*>(id), std::strlen(id),
            reinterpret_cast<const uint8_t*>(hex.data()), hex.size(), e.out()) != 1)
      fail(std::string("cannot store the ") + id, e);
  };
  store(md5_hex, "MD5", libewf_handle_set_md5_hash);
  store(sha1_hex, "SHA1", libewf_handle_set_sha1_hash);
  if (libewf_handle_write_finalize(h_.get(), e.out()) < 0) fail("cannot finish the E01", e);
  libewf_handle_t* raw = h_.release();
  int rc = libewf_handle_close(raw, e.out());
  fs::ewf::Error e2;
  libewf_handle_free(&raw, e2.out());
  if (rc != 0) fail("cannot close the E01", e);
}

void EwfWriter::abandon() {
  if (h_) abandoned().push_back(h_.release());
}

EwfWriter::~EwfWriter() {
  abandon();
}

}  // namespace safehold::acquire
