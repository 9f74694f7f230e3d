#include "acquire/source.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "acquire/acquire.hpp"
#include "base/json.hpp"
#include "fs/json.hpp"

namespace safehold::acquire {

namespace fsys = std::filesystem;

namespace {

std::string read_sysfs(const fsys::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return "";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\0')) s.pop_back();
  size_t b = s.find_first_not_of(' ');
  return b == std::string::npos ? "" : s.substr(b);
}

// The serial number in a SCSI unit-serial-number VPD page (0x80) as sysfs exposes it.
std::string serial_from_vpd80(const fsys::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return "";
  std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (raw.size() < 4) return "";
  size_t len = (static_cast<unsigned char>(raw[2]) << 8) | static_cast<unsigned char>(raw[3]);
  std::string s = raw.substr(4, std::min(len, raw.size() - 4));
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  size_t b = s.find_first_not_of(' ');
  return b == std::string::npos ? "" : s.substr(b);
}

struct Mount {
  unsigned maj = 0, min = 0;
  std::string mount_point, options, super_options, fstype;
};

bool has_token(const std::string& csv, const std::string& tok) {
  std::stringstream ss(csv);
  std::string t;
  while (std::getline(ss, t, ','))
    if (t == tok) return true;
  return false;
}

std::vector<Mount> read_mounts() {
  std::vector<Mount> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::vector<std::string> f;
    std::string w;
    while (ls >> w) f.push_back(w);
    if (f.size() < 10) continue;
    Mount m;
    if (std::sscanf(f[2].c_str(), "%u:%u", &m.maj, &m.min) != 2) continue;
    m.mount_point = f[4];
    m.options = f[5];
    size_t dash = 6;
    while (dash < f.size() && f[dash] != "-") ++dash;
    if (dash + 3 < f.size()) {
      m.fstype = f[dash + 1];
      m.super_options = f[dash + 3];
    }
    out.push_back(m);
  }
  return out;
}

std::string dev_of(const fsys::path& sys) {
  return read_sysfs(sys / "dev");
}

// Every loop device whose backing file is a block device: (loop name, backing "MAJ:MIN").
std::vector<std::pair<std::string, std::string>> loop_backings() {
  std::vector<std::pair<std::string, std::string>> out;
  std::error_code ec;
  for (auto& e : fsys::directory_iterator("/sys/block", ec)) {
    std::string backing = read_sysfs(e.path() / "loop" / "backing_file");
    struct stat st {};
    if (backing.empty() || ::stat(backing.c_str(), &st) != 0 || !S_ISBLK(st.st_mode)) continue;
    out.emplace_back(e.path().filename().string(),
                     fmt::format("{}:{}", major(st.st_rdev), minor(st.st_rdev)));
  }
  return out;
}

// Opens block device "MAJ:MIN" read-only through a node made in a fresh private folder.
int open_private_node(const std::string& dev) {
  unsigned maj = 0, min = 0;
  if (std::sscanf(dev.c_str(), "%u:%u", &maj, &min) != 2) {
    errno = EINVAL;
    return -1;
  }
  char tmpl[] = "/tmp/safehold-node-XXXXXX";
  if (!mkdtemp(tmpl)) return -1;
  std::string node = std::string(tmpl) + "/dev";
  int fd = -1;
  if (::mknod(node.c_str(), S_IFBLK | 0400, makedev(maj, min)) == 0)
    fd = ::open(node.c_str(), O_RDONLY | O_CLOEXEC);
  int e = errno;
  ::unlink(node.c_str());
  ::rmdir(tmpl);
  errno = e;
  return fd;
}

}  // namespace

nlohmann::json DeviceIdentity::to_json() const {
  nlohmann::json j{{"block_device", block_device},
                   {"size", size},
                   {"logical_sector_size", logical_sector_size},
                   {"physical_sector_size", physical_sector_size}};
  if (block_device) {
    j["kernel_name"] = kernel_name;
    j["disk"] = disk;
    j["vendor"] = vendor;
    j["model"] = model;
    j["serial"] = serial;
    j["firmware"] = firmware;
    j["wwid"] = wwid;
    j["removable"] = removable;
  }
  j["hpa_dco_checked"] = hpa_dco_checked;
  j["hpa_dco"] = hpa_dco;
  return j;
}

Source::Source(const std::string& path, Log& log, bool direct, bool direct_files,
               const WriteBlockOptions& wb)
    : path_(path), log_(log) {
  try {
    open_source(direct, direct_files, wb);
  } catch (...) {
    release();  // a constructor that throws gets no destructor
    throw;
  }
}

void Source::open_source(bool direct, bool direct_files, const WriteBlockOptions& wb) {
  const std::string& path = path_;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw AcquireError(AcquireError::Kind::usage,
                       fmt::format("{}: cannot open the source: {}", path, std::strerror(errno)));
  write_block_ = nlohmann::json::object();
  if (S_ISBLK(st.st_mode)) {
    id_.block_device = true;
    guard_block_device(major(st.st_rdev), minor(st.st_rdev), wb);
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0)
      throw AcquireError(
          AcquireError::Kind::usage,
          fmt::format("{}: cannot open the device read-only: {}", path, std::strerror(errno)));
    uint64_t bytes = 0;
    int lss = 512;
    unsigned pss = 512;
    if (ioctl(fd_, BLKGETSIZE64, &bytes) != 0)
      throw AcquireError(
          AcquireError::Kind::usage,
          fmt::format("{}: cannot read the device size: {}", path, std::strerror(errno)));
    if (ioctl(fd_, BLKSSZGET, &lss) != 0) lss = 512;
    if (ioctl(fd_, BLKPBSZGET, &pss) != 0) pss = static_cast<unsigned>(lss);
    id_.size = bytes;
    id_.logical_sector_size = static_cast<uint32_t>(lss);
    id_.physical_sector_size = pss;
    log_.line(
        fmt::format("Opened {} read-only (O_RDONLY): {} bytes, logical sector {} bytes, physical "
                    "sector {} bytes",
                    path, bytes, lss, pss));
  } else if (S_ISREG(st.st_mode)) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOATIME);
    if (fd_ < 0 && errno == EPERM) fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0)
      throw AcquireError(
          AcquireError::Kind::usage,
          fmt::format("{}: cannot open the source read-only: {}", path, std::strerror(errno)));
    id_.size = static_cast<uint64_t>(st.st_size);
    if (id_.size % id_.logical_sector_size) {
      padding_ = id_.logical_sector_size - id_.size % id_.logical_sector_size;
      log_.line(fmt::format(
          "The file's size ({} bytes) is not a whole number of {}-byte sectors: the image holds it "
          "padded with {} zero bytes, and the hashes cover the padded data",
          id_.size, id_.logical_sector_size, padding_));
      id_.size += padding_;
    }
    id_.hpa_dco = "not applicable: the source is an image file";
    write_block_ = {
        {"applied", false},
        {"reason", "the source is a regular file, opened read-only (O_RDONLY|O_NOATIME)"}};
    log_.line(fmt::format(
        "Source {} is a regular file of {} bytes; opened read-only (O_RDONLY|O_NOATIME), no write "
        "block needed",
        base::printable(path), id_.size));
  } else {
    throw AcquireError(AcquireError::Kind::usage,
                       fmt::format("{}: not a block device or regular file", path));
  }
  real_size_ = id_.size - padding_;
  posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  // O_DIRECT: the device's data straight into the pipeline's buffers, without a copy through the
  // page cache. Alignment: the logical sector size for a device (so single sectors can still be
  // read on their own when narrowing down read errors), 4096 for a file.
  if (direct && (id_.block_device || direct_files)) {
    align_ = id_.block_device ? std::max<uint32_t>(id_.logical_sector_size, 512) : 4096;
    void* p = nullptr;
    if (posix_memalign(&p, 4096, std::max<uint32_t>(align_, 4096)) == 0)
      bounce_.reset(static_cast<std::byte*>(p));
    dfd_ = bounce_ ? ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT) : -1;
    if (dfd_ >= 0)
      log_.line(fmt::format("Reading with O_DIRECT (no page cache), {}-byte alignment", align_));
    else
      log_.line(fmt::format("O_DIRECT is not available here ({}): reading through the page cache",
                            bounce_ ? std::strerror(errno) : "no memory"));
  }
}

void Source::guard_block_device(unsigned maj, unsigned min, const WriteBlockOptions& wb) {
  std::error_code ec;
  fsys::path sys = fsys::canonical(fmt::format("/sys/dev/block/{}:{}", maj, min), ec);
  if (ec)
    throw AcquireError(AcquireError::Kind::usage,
                       fmt::format("{}: no sysfs entry for device {}:{}", path_, maj, min));
  fsys::path disk = fsys::exists(sys / "partition") ? sys.parent_path() : sys;
  id_.kernel_name = sys.filename().string();
  id_.disk = disk.filename().string();
  log_.line(fmt::format("Source {} is block device {}:{} ({}), on disk {}", path_, maj, min,
                        id_.kernel_name, id_.disk));

  // The disk and every partition of it.
  Members members{{id_.disk, dev_of(disk)}};
  for (auto& e : fsys::directory_iterator(disk, ec))
    if (fsys::exists(e.path() / "partition"))
      members.emplace_back(e.path().filename().string(), dev_of(e.path()));

  auto mounted_ro = refuse_writable_use(members);
  apply_write_block(members, wb, mounted_ro);
  read_identity(disk);
}

// Refuses when any member, or a device stacked on one (device-mapper, LVM, RAID through holders/;
// loop devices whose backing file is one of them, with their partitions), is mounted writable or
// used as swap. Returns the read-only mounts found (allowed).
std::vector<std::string> Source::refuse_writable_use(const Members& members) {
  std::error_code ec;
  auto mounts = read_mounts();
  std::vector<std::string> mounted_ro;
  Members checked = members;
  std::map<std::string, std::string> stacked_on;  // name -> what it is stacked on (for messages)
  const auto loops = loop_backings();
  auto add = [&](const std::string& name, const std::string& dev, const std::string& on) {
    for (auto& c : checked)
      if (c.second == dev) return false;
    checked.emplace_back(name, dev);
    stacked_on[name] = on;
    return true;
  };
  for (size_t i = 0; i < checked.size() && i < 256; ++i) {
    const std::string below = checked[i].first, below_dev = checked[i].second;
    for (auto& h :
         fsys::directory_iterator(fsys::path("/sys/class/block") / below / "holders", ec)) {
      std::string hn = h.path().filename().string();
      if (add(hn, dev_of(fsys::path("/sys/class/block") / hn), below))
        log_.line(fmt::format(
            "/dev/{} is held by /dev/{} (stacked device): its mounts are checked too", below, hn));
    }
    for (auto& [loop, backing_dev] : loops) {
      if (backing_dev != below_dev) continue;
      if (!add(loop, dev_of(fsys::path("/sys/class/block") / loop), below)) continue;
      log_.line(fmt::format(
          "/dev/{} is a loop device over /dev/{} (stacked device): its mounts are checked too",
          loop, below));
      for (auto& e : fsys::directory_iterator(fsys::path("/sys/class/block") / loop, ec))
        if (fsys::exists(e.path() / "partition"))
          add(e.path().filename().string(), dev_of(e.path()), loop);
    }
  }
  auto named = [&](const std::string& name) {
    auto it = stacked_on.find(name);
    return it == stacked_on.end() ? "/dev/" + name
                                  : fmt::format("/dev/{} (stacked on /dev/{})", name, it->second);
  };
  for (auto& [name, dev] : checked) {
    for (auto& m : mounts) {
      if (fmt::format("{}:{}", m.maj, m.min) != dev) continue;
      bool rw = has_token(m.options, "rw") || has_token(m.super_options, "rw");
      if (rw) {
        log_.line(fmt::format("REFUSED: {} is mounted writable on {} ({})", named(name),
                              base::printable(m.mount_point), m.fstype));
        throw AcquireError(
            AcquireError::Kind::usage,
            fmt::format("{}: {} is mounted writable on {}; unmount it (or remount it read-only) "
                        "before imaging",
                        path_, named(name), base::printable(m.mount_point)));
      }
      mounted_ro.push_back(fmt::format("{} on {}", named(name), base::printable(m.mount_point)));
    }
  }
  std::ifstream swaps("/proc/swaps");
  std::string line;
  while (std::getline(swaps, line))
    for (auto& [name, dev] : checked)
      if (line.rfind("/dev/" + name + " ", 0) == 0)
        throw AcquireError(
            AcquireError::Kind::usage,
            fmt::format("{}: {} is in use as swap; swapoff it before imaging", path_, named(name)));
  for (auto& m : mounted_ro) log_.line("Mounted read-only (allowed): " + m);
  return mounted_ro;
}

// Opens every member and reads its flag first (a partition reports read-only once its disk is),
// then BLKROSET on every member, confirmed with BLKROGET.
void Source::apply_write_block(const Members& members, const WriteBlockOptions& wb,
                               const std::vector<std::string>& mounted_ro) {
  for (auto& [name, dev] : members) {
    std::string node = "/dev/" + name;
    Guarded g;
    g.node = node;
    g.dev = dev;
    struct stat st {};
    if (::stat(node.c_str(), &st) == 0 && S_ISBLK(st.st_mode) &&
        fmt::format("{}:{}", major(st.st_rdev), minor(st.st_rdev)) == dev) {
      g.fd = ::open(node.c_str(), O_RDONLY | O_CLOEXEC);
    } else {
      // No node in /dev (no udev): a private one, removed as soon as it is open.
      g.fd = open_private_node(dev);
      log_.line(
          fmt::format("No device node {} for {}: opened it through a private node", node, dev));
    }
    if (g.fd < 0)
      throw AcquireError(AcquireError::Kind::usage,
                         fmt::format("{}: cannot open {} to write-block it: {}", path_, node,
                                     std::strerror(errno)));
    if (ioctl(g.fd, BLKROGET, &g.found_ro) != 0) {
      int e = errno;
      ::close(g.fd);
      throw AcquireError(AcquireError::Kind::usage, fmt::format("{}: BLKROGET on {} failed: {}",
                                                                path_, node, std::strerror(e)));
    }
    g.previous_ro = g.found_ro;
    auto known = wb.original_read_only.find(dev);
    if (known != wb.original_read_only.end()) {
      g.previous_ro = known->second ? 1 : 0;
      g.inherited = true;
    }
    guarded_.push_back(g);
  }
  if (wb.before_set) wb.before_set(original_flags());
  nlohmann::json steps = nlohmann::json::array();
  for (auto& g : guarded_) {
    const std::string& node = g.node;
    int one = 1;
    if (ioctl(g.fd, BLKROSET, &one) != 0) {
      int e = errno;
      log_.line(fmt::format("REFUSED: BLKROSET on {} failed: {}", node, std::strerror(e)));
      throw AcquireError(
          AcquireError::Kind::usage,
          fmt::format("{}: cannot set {} read-only (BLKROSET): {}", path_, node, std::strerror(e)));
    }
    g.applied = true;
    int now = 0;
    if (ioctl(g.fd, BLKROGET, &now) != 0 || now != 1) {
      log_.line(fmt::format("REFUSED: BLKROGET on {} does not confirm read-only", node));
      throw AcquireError(AcquireError::Kind::usage,
                         fmt::format("{}: {} did not become read-only", path_, node));
    }
    const char* was = g.previous_ro ? "read-only" : "read-write";
    nlohmann::json step{{"device", node},
                        {"was_read_only", g.previous_ro != 0},
                        {"blkroset", true},
                        {"blkroget", 1}};
    if (g.inherited) {
      log_.line(fmt::format(
          "Write block: BLKROSET on {} (was {} before the interrupted acquisition, found {}), "
          "BLKROGET confirms read-only",
          node, was, g.found_ro ? "read-only" : "read-write"));
      step["found_read_only"] = g.found_ro != 0;
      step["original_from"] = "resume state";
    } else {
      log_.line(fmt::format("Write block: BLKROSET on {} (was {}), BLKROGET confirms read-only",
                            node, was));
    }
    steps.push_back(step);
  }
  write_block_ = {{"applied", true},
                  {"method", "BLKROSET+BLKROGET"},
                  {"devices", steps},
                  {"mounted_read_only", mounted_ro}};
}

nlohmann::json Source::original_flags() const {
  nlohmann::json a = nlohmann::json::array();
  for (auto& g : guarded_)
    a.push_back({{"device", g.node}, {"dev", g.dev}, {"read_only", g.previous_ro != 0}});
  return a;
}

// Identity from sysfs.
void Source::read_identity(const fsys::path& disk) {
  fsys::path dev = disk / "device";
  id_.vendor = read_sysfs(dev / "vendor");
  id_.model = read_sysfs(dev / "model");
  id_.serial = read_sysfs(dev / "serial");
  if (id_.serial.empty()) id_.serial = serial_from_vpd80(dev / "vpd_pg80");
  id_.firmware = read_sysfs(dev / "rev");
  if (id_.firmware.empty()) id_.firmware = read_sysfs(dev / "firmware_rev");
  id_.wwid = read_sysfs(dev / "wwid");
  if (id_.wwid.empty()) id_.wwid = read_sysfs(disk / "wwid");
  id_.removable = read_sysfs(disk / "removable") == "1";
  if (id_.disk.rfind("loop", 0) == 0) {
    std::string backing = read_sysfs(disk / "loop" / "backing_file");
    id_.model = "Linux loop device";
    id_.serial = backing.empty() ? "" : "backing file " + backing;
    id_.hpa_dco = "not applicable: a loop device is backed by a file and has no HPA or DCO";
  } else if (id_.disk.rfind("nvme", 0) == 0) {
    id_.hpa_dco =
        "not applicable: NVMe devices have no HPA or DCO (namespace size recorded instead)";
  } else if (id_.disk.rfind("sd", 0) == 0) {
    id_.hpa_dco =
        "not checked: HPA/DCO detection needs ATA pass-through (READ NATIVE MAX ADDRESS, DCO "
        "IDENTIFY), "
        "which this version does not issue; compare the size with the drive label";
  } else {
    id_.hpa_dco = "not checked: the device type (" + id_.disk + ") does not allow it";
  }
  log_.line(fmt::format(
      "Device identity: vendor \"{}\" model \"{}\" serial \"{}\" firmware \"{}\" removable {}",
      base::printable(id_.vendor), base::printable(id_.model), base::printable(id_.serial),
      base::printable(id_.firmware), id_.removable ? "yes" : "no"));
  log_.line("HPA/DCO: " + id_.hpa_dco);
}

Source::~Source() {
  release();
}

void Source::release() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (dfd_ >= 0) ::close(dfd_);
  dfd_ = -1;
  for (auto it = guarded_.rbegin(); it != guarded_.rend(); ++it) {
    if (it->applied && it->previous_ro == 0) {
      int zero = 0;
      if (ioctl(it->fd, BLKROSET, &zero) == 0)
        log_.line(fmt::format("Acquisition over: {} returned to read-write {}", it->node,
                              it->inherited && it->found_ro
                                  ? "as it was before the interrupted acquisition"
                                  : "as found"));
      else
        log_.line(fmt::format("Acquisition over: {} left read-only ({})", it->node,
                              std::strerror(errno)));
    } else if (it->applied) {
      log_.line(fmt::format("Acquisition over: {} stays read-only as found", it->node));
    }
    ::close(it->fd);
  }
  guarded_.clear();
}

long long Source::read_at(uint64_t offset, std::span<std::byte> out) {
  if (dfd_ >= 0) return read_direct(offset, out);
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n =
        ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -static_cast<long long>(errno);
    }
    if (n == 0) {
      if (offset + done >= real_size_ && offset + out.size() <= id_.size) {  // the padding
        std::memset(out.data() + done, 0, out.size() - done);
        done = out.size();
      }
      break;
    }
    done += static_cast<size_t>(n);
  }
  return static_cast<long long>(done);
}

long long Source::read_direct(uint64_t offset, std::span<std::byte> out) {
  const uint64_t a = align_;
  size_t done = 0;
  while (done < out.size()) {
    const uint64_t pos = offset + done;
    std::byte* dst = out.data() + done;
    const size_t want = out.size() - done;
    ssize_t n;
    if (pos % a == 0 && reinterpret_cast<uintptr_t>(dst) % a == 0 && want >= a) {
      // The aligned bulk straight into the caller's buffer.
      n = ::pread(dfd_, dst, want - want % a, static_cast<off_t>(pos));
      if (n > 0) {
        done += static_cast<size_t>(n);
        continue;
      }
    } else {
      // An unaligned piece: the aligned window holding it, through the bounce buffer. With the
      // logical sector size as alignment this never reads a sector the caller did not ask for.
      const uint64_t base = pos - pos % a;
      n = ::pread(dfd_, bounce_.get(), a, static_cast<off_t>(base));
      if (n > 0) {
        const uint64_t skip = pos - base;
        if (static_cast<uint64_t>(n) <= skip) break;  // the source ends before pos
        const size_t take =
            std::min<size_t>(want, static_cast<size_t>(static_cast<uint64_t>(n) - skip));
        std::memcpy(dst, bounce_.get() + skip, take);
        done += take;
        if (static_cast<uint64_t>(n) < a) break;  // the end of the source
        continue;
      }
    }
    if (n == 0) break;
    if (errno == EINTR) continue;
    if (errno == EINVAL) {
      // The device or filesystem refuses this O_DIRECT read: go on through the page cache.
      log_.line(fmt::format(
          "O_DIRECT read refused at byte {} ({}): reading through the page cache from here on", pos,
          std::strerror(errno)));
      ::close(dfd_);
      dfd_ = -1;
      long long r = read_at(pos, out.subspan(done));
      return r < 0 ? r : static_cast<long long>(done) + r;
    }
    return -static_cast<long long>(errno);
  }
  return finish_read(offset, out, done);
}

long long Source::finish_read(uint64_t offset, std::span<std::byte> out, size_t done) const {
  if (done < out.size() && offset + done >= real_size_ &&
      offset + out.size() <= id_.size) {  // the padding
    std::memset(out.data() + done, 0, out.size() - done);
    done = out.size();
  }
  return static_cast<long long>(done);
}

}  // namespace safehold::acquire
