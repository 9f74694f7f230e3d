// Evidence bundles: a POSIX tar (ustar, with pax headers for long names and big files) streamed
// through multi-threaded zstd in one pass; SHA-256 of each file is computed while it is copied
// and written last as MANIFEST.sha256. Verification streams it back the same way.
#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <span>
#include <thread>

#include "base/hash.hpp"
#include "base/json.hpp"
#include "export/export.hpp"

namespace safehold::exports {

namespace {

constexpr size_t kBlock = 512;

using CCtx = std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)>;
using DCtx = std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)>;

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

void write_all(int fd, const void* data, size_t n, const std::filesystem::path& path) {
  auto* p = static_cast<const char*>(data);
  while (n) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0)
      throw ExportError(fmt::format("{}: write failed: {}", path.string(), std::strerror(errno)));
    p += w;
    n -= static_cast<size_t>(w);
  }
}

// Compresses everything written to it into one zstd frame (with its content checksum).
class ZstdWriter {
 public:
  ZstdWriter(int fd, std::filesystem::path path, int level, unsigned threads)
      : fd_(fd), path_(std::move(path)), cctx_(ZSTD_createCCtx(), &ZSTD_freeCCtx) {
    if (!cctx_) throw ExportError("cannot create a zstd context");
    ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_checksumFlag, 1);
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    // A library built without threads refuses workers; it then compresses in this thread.
    workers_ = ZSTD_isError(
                   ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_nbWorkers, static_cast<int>(threads)))
                   ? 0
                   : threads;
    out_.resize(ZSTD_CStreamOutSize());
  }
  void write(const void* data, size_t n) { run(data, n, ZSTD_e_continue); }
  void finish() { run(nullptr, 0, ZSTD_e_end); }
  uint64_t bytes_out() const { return bytes_out_; }
  unsigned workers() const { return workers_; }

 private:
  void run(const void* data, size_t n, ZSTD_EndDirective mode) {
    ZSTD_inBuffer in{data, n, 0};
    for (;;) {
      ZSTD_outBuffer o{out_.data(), out_.size(), 0};
      size_t left = ZSTD_compressStream2(cctx_.get(), &o, &in, mode);
      if (ZSTD_isError(left)) throw ExportError(fmt::format("zstd: {}", ZSTD_getErrorName(left)));
      write_all(fd_, out_.data(), o.pos, path_);
      bytes_out_ += o.pos;
      bool done = mode == ZSTD_e_end ? left == 0 : in.pos == in.size;
      if (done) break;
    }
  }
  int fd_;
  std::filesystem::path path_;
  CCtx cctx_;
  std::vector<char> out_;
  uint64_t bytes_out_ = 0;
  unsigned workers_ = 0;
};

void octal(char* field, size_t width, uint64_t v) {
  // width includes the terminating NUL
  std::string s = fmt::format("{:0{}o}", v, width - 1);
  std::memcpy(field, s.data(), width - 1);
  field[width - 1] = 0;
}

std::string pax_record(const std::string& key, const std::string& value) {
  // "LEN key=value\n" where LEN counts the whole record, itself included.
  size_t body = key.size() + value.size() + 3;  // space, '=', newline
  size_t len = body + 1;
  while (std::to_string(len).size() + body != len) len = std::to_string(len).size() + body;
  return fmt::format("{} {}={}\n", len, key, value);
}

class TarWriter {
 public:
  explicit TarWriter(ZstdWriter& z) : z_(z) {}

  void begin_file(const std::string& name, uint64_t size, int64_t mtime) {
    std::string pax;
    if (name.size() > 100) pax += pax_record("path", name);
    if (size >= (uint64_t{1} << 33)) pax += pax_record("size", std::to_string(size));
    if (!pax.empty()) {
      header("PaxHeaders/" + name.substr(0, 80), pax.size(), mtime, 'x');
      write_padded(pax.data(), pax.size());
    }
    header(name, size, mtime, '0');
  }
  void data(const void* p, size_t n) {
    z_.write(p, n);
    written_ += n;
  }
  void end_file() {
    static const char zeros[kBlock] = {};
    if (written_ % kBlock) z_.write(zeros, kBlock - written_ % kBlock);
    written_ = 0;
  }
  void finish() {
    static const char zeros[2 * kBlock] = {};
    z_.write(zeros, sizeof zeros);
  }

 private:
  void write_padded(const char* p, size_t n) {
    data(p, n);
    end_file();
  }
  void header(const std::string& name, uint64_t size, int64_t mtime, char type) {
    char h[kBlock] = {};
    std::memcpy(h, name.data(), std::min<size_t>(name.size(), 100));
    octal(h + 100, 8, 0644);
    octal(h + 108, 8, 0);
    octal(h + 116, 8, 0);
    octal(h + 124, 12, size < (uint64_t{1} << 33) ? size : 0);
    octal(h + 136, 12, static_cast<uint64_t>(std::max<int64_t>(0, mtime)));
    std::memset(h + 148, ' ', 8);
    h[156] = type;
    std::memcpy(h + 257, "ustar", 6);
    std::memcpy(h + 263, "00", 2);
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    octal(h + 148, 7, sum);
    h[155] = ' ';
    z_.write(h, kBlock);
  }
  ZstdWriter& z_;
  uint64_t written_ = 0;
};

struct Source {
  std::filesystem::path file;
  std::string name;  // inside the bundle
};

std::vector<Source> collect(const std::vector<std::filesystem::path>& dirs) {
  auto labels = device_labels(dirs);
  std::vector<Source> out;
  for (size_t i = 0; i < dirs.size(); ++i) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dirs[i], ec))
      throw ExportError(fmt::format("{}: not a directory", dirs[i].string()));
    if (!std::filesystem::exists(dirs[i] / "report.jsonl"))
      throw ExportError(
          fmt::format("{}: no report.jsonl (not a carve output directory)", dirs[i].string()));
    std::vector<Source> mine;
    for (auto it = std::filesystem::recursive_directory_iterator(dirs[i]);
         it != std::filesystem::recursive_directory_iterator(); ++it) {
      if (!it->is_regular_file() || it->is_symlink()) continue;
      auto rel = std::filesystem::relative(it->path(), dirs[i]).generic_string();
      mine.push_back({it->path(), labels[i] + "/" + rel});
    }
    std::sort(mine.begin(), mine.end(), [](auto& a, auto& b) { return a.name < b.name; });
    out.insert(out.end(), mine.begin(), mine.end());
    for (auto& rec : find_exhibit(dirs[i]).records)
      if (std::filesystem::weakly_canonical(rec).parent_path() !=
          std::filesystem::weakly_canonical(dirs[i]))
        out.push_back({rec, labels[i] + "/acquisition/" + rec.filename().string()});
  }
  return out;
}

// EXHIBITS.json: which exhibit and case each device folder of the bundle holds.
std::string exhibits_json(const std::vector<std::filesystem::path>& dirs) {
  auto labels = device_labels(dirs);
  nlohmann::json devices = nlohmann::json::array();
  for (size_t i = 0; i < dirs.size(); ++i) {
    auto ex = find_exhibit(dirs[i]);
    devices.push_back(
        {{"folder", labels[i]},
         {"exhibit", ex.reference.empty() ? nlohmann::json() : nlohmann::json(ex.reference)},
         {"case", ex.case_ref.empty() ? nlohmann::json() : nlohmann::json(ex.case_ref)}});
  }
  return base::dump(nlohmann::json{{"devices", devices}}, 2) + "\n";
}

// Decompresses a .tar.zst on demand.
class ZstdReader {
 public:
  explicit ZstdReader(const std::filesystem::path& path)
      : path_(path),
        fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)),
        dctx_(ZSTD_createDCtx(), &ZSTD_freeDCtx) {
    if (fd_.fd < 0)
      throw ExportError(fmt::format("{}: cannot open: {}", path.string(), std::strerror(errno)));
    in_.resize(ZSTD_DStreamInSize());
    out_.resize(ZSTD_DStreamOutSize());
  }
  // Fills exactly n bytes; false at a clean end of stream before any byte. Throws on corruption
  // or truncation.
  bool read(char* dst, size_t n) {
    size_t got = 0;
    while (got < n) {
      if (out_pos_ == out_len_) {
        if (!decompress_more()) {
          if (got == 0) return false;
          throw ExportError("the stream ends in the middle of a file (truncated bundle)");
        }
        continue;
      }
      size_t take = std::min(n - got, out_len_ - out_pos_);
      std::memcpy(dst + got, out_.data() + out_pos_, take);
      out_pos_ += take;
      got += take;
    }
    return true;
  }

 private:
  bool decompress_more() {
    for (;;) {
      if (in_buf_.pos == in_buf_.size) {
        ssize_t r = ::read(fd_.fd, in_.data(), in_.size());
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) throw ExportError(fmt::format("read failed: {}", std::strerror(errno)));
        if (r == 0) {
          if (!frame_done_) throw ExportError("the compressed stream is truncated");
          return false;
        }
        in_buf_ = {in_.data(), static_cast<size_t>(r), 0};
      }
      ZSTD_outBuffer o{out_.data(), out_.size(), 0};
      size_t ret = ZSTD_decompressStream(dctx_.get(), &o, &in_buf_);
      if (ZSTD_isError(ret))
        throw ExportError(
            fmt::format("the compressed stream is corrupt ({})", ZSTD_getErrorName(ret)));
      frame_done_ = ret == 0;
      out_pos_ = 0;
      out_len_ = o.pos;
      if (o.pos) return true;
    }
  }
  std::filesystem::path path_;
  Fd fd_;
  DCtx dctx_;
  std::vector<char> in_, out_;
  ZSTD_inBuffer in_buf_{nullptr, 0, 0};
  size_t out_pos_ = 0, out_len_ = 0;
  bool frame_done_ = true;
};

uint64_t parse_octal(const char* f, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n && f[i]; ++i) {
    if (f[i] == ' ') continue;
    if (f[i] < '0' || f[i] > '7') break;
    v = v * 8 + static_cast<uint64_t>(f[i] - '0');
  }
  return v;
}

std::map<std::string, std::string> parse_pax(const std::string& s) {
  std::map<std::string, std::string> out;
  size_t p = 0;
  while (p < s.size()) {
    size_t sp = s.find(' ', p);
    if (sp == std::string::npos) break;
    size_t len = std::strtoull(s.c_str() + p, nullptr, 10);
    if (len == 0 || p + len > s.size()) break;
    std::string rec = s.substr(sp + 1, len - (sp - p) - 2);
    if (auto eq = rec.find('='); eq != std::string::npos)
      out[rec.substr(0, eq)] = rec.substr(eq + 1);
    p += len;
  }
  return out;
}

}  // namespace

BundleStats write_bundle(const std::vector<std::filesystem::path>& carve_dirs,
                         const std::filesystem::path& out, const BundleOptions& opts) {
  auto sources = collect(carve_dirs);
  auto tmp = out;
  tmp += ".partial";
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.fd < 0)
    throw ExportError(fmt::format("{}: cannot create: {}", out.string(), std::strerror(errno)));
  BundleStats st;
  try {
    ZstdWriter z(fd.fd, out, opts.level, opts.threads);
    TarWriter tar(z);
    std::string manifest;
    std::vector<char> buf(1 << 20);
    for (auto& s : sources) {
      Fd in(::open(s.file.c_str(), O_RDONLY | O_CLOEXEC));
      struct stat sb {};
      if (in.fd < 0 || ::fstat(in.fd, &sb) != 0)
        throw ExportError(
            fmt::format("{}: cannot open: {}", s.file.string(), std::strerror(errno)));
      auto size = static_cast<uint64_t>(sb.st_size);
      tar.begin_file(s.name, size, sb.st_mtime);
      base::MultiHasher h(static_cast<unsigned>(base::HashAlgo::sha256));
      uint64_t done = 0;
      while (done < size) {
        ssize_t r = ::read(in.fd, buf.data(), std::min<uint64_t>(buf.size(), size - done));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
          throw ExportError(
              fmt::format("{}: read failed or file shrank while bundling", s.file.string()));
        h.update(buf.data(), static_cast<size_t>(r));
        tar.data(buf.data(), static_cast<size_t>(r));
        done += static_cast<uint64_t>(r);
        st.bytes_in += static_cast<uint64_t>(r);
        if (opts.progress) opts.progress(st.bytes_in);
      }
      tar.end_file();
      manifest += fmt::format("{}  {}\n", h.finish().sha256, s.name);
      ++st.files;
    }
    std::string exhibits = exhibits_json(carve_dirs);
    tar.begin_file(kExhibitsName, exhibits.size(), ::time(nullptr));
    tar.data(exhibits.data(), exhibits.size());
    tar.end_file();
    ++st.files;
    manifest +=
        fmt::format("{}  {}\n",
                    base::hash_bytes(std::as_bytes(std::span(exhibits.data(), exhibits.size())),
                                     static_cast<unsigned>(base::HashAlgo::sha256))
                        .sha256,
                    kExhibitsName);
    tar.begin_file(kManifestName, manifest.size(), ::time(nullptr));
    tar.data(manifest.data(), manifest.size());
    tar.end_file();
    tar.finish();
    z.finish();
    st.bytes_out = z.bytes_out();
    if (::fsync(fd.fd) != 0) throw ExportError(fmt::format("{}: fsync failed", out.string()));
    std::filesystem::rename(tmp, out);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  return st;
}

VerifyResult verify_bundle(const std::filesystem::path& bundle) {
  VerifyResult res;
  std::map<std::string, std::string> seen;  // name -> sha256
  std::string manifest;
  bool have_manifest = false;
  try {
    ZstdReader z(bundle);
    std::vector<char> buf(1 << 20);
    std::map<std::string, std::string> pax;
    char h[kBlock];
    for (;;) {
      if (!z.read(h, kBlock)) throw ExportError("the tar stream has no end-of-archive marker");
      if (std::all_of(h, h + kBlock, [](char c) { return c == 0; })) break;
      unsigned sum = 0;
      for (size_t i = 0; i < kBlock; ++i)
        sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
      if (sum != parse_octal(h + 148, 8))
        throw ExportError("a tar header is damaged (bad checksum)");
      std::string name(h, strnlen(h, 100));
      if (std::memcmp(h + 257, "ustar", 5) == 0 && h[345])
        name = std::string(h + 345, strnlen(h + 345, 155)) + "/" + name;
      uint64_t size = parse_octal(h + 124, 12);
      char type = h[156];
      if (pax.count("path")) name = pax["path"];
      if (pax.count("size")) size = std::strtoull(pax["size"].c_str(), nullptr, 10);
      pax.clear();
      bool regular = type == '0' || type == '\0';
      bool keep = type == 'x' || (regular && name == kManifestName);
      std::string content;
      base::MultiHasher hasher(static_cast<unsigned>(base::HashAlgo::sha256));
      uint64_t left = size;
      while (left) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
        if (!z.read(buf.data(), n))
          throw ExportError("the tar stream ends in the middle of a file");
        if (keep) {
          if (content.size() + n > (64u << 20))
            throw ExportError("a tar header record is too large");
          content.append(buf.data(), n);
        } else if (regular) {
          hasher.update(buf.data(), n);
        }
        left -= n;
      }
      if (size % kBlock) z.read(buf.data(), kBlock - size % kBlock);
      if (type == 'x') {
        pax = parse_pax(content);
      } else if (regular && name == kManifestName) {
        manifest = std::move(content);
        have_manifest = true;
      } else if (regular) {
        if (seen.count(name)) res.problems.push_back(fmt::format("{}: stored twice", name));
        seen[name] = hasher.finish().sha256;
        ++res.files;
      }
    }
  } catch (const ExportError& e) {
    res.problems.push_back(fmt::format("{}: {}", bundle.string(), e.what()));
    return res;
  }
  if (!have_manifest) {
    res.problems.push_back(fmt::format("{}: no {} in the bundle", bundle.string(), kManifestName));
    return res;
  }
  std::map<std::string, std::string> listed;
  size_t p = 0;
  uint64_t line = 0;
  while (p < manifest.size()) {
    size_t nl = manifest.find('\n', p);
    if (nl == std::string::npos) nl = manifest.size();
    std::string l = manifest.substr(p, nl - p);
    p = nl + 1;
    ++line;
    if (l.empty()) continue;
    if (l.size() < 67 || l[64] != ' ' || l[65] != ' ') {
      res.problems.push_back(fmt::format("{}: line {} is malformed", kManifestName, line));
      continue;
    }
    listed[l.substr(66)] = l.substr(0, 64);
  }
  res.listed = listed.size();
  for (auto& [name, hash] : listed) {
    auto it = seen.find(name);
    if (it == seen.end())
      res.problems.push_back(fmt::format("{}: missing from the bundle", name));
    else if (it->second != hash)
      res.problems.push_back(
          fmt::format("{}: SHA-256 mismatch (manifest {}, content {})", name, hash, it->second));
  }
  for (auto& [name, hash] : seen)
    if (!listed.count(name))
      res.problems.push_back(fmt::format("{}: not listed in the manifest", name));
  return res;
}

}  // namespace safehold::exports
