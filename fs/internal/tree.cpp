#include "fs/internal/tree.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "base/sqlite.hpp"
#include "fs/internal/archive.hpp"
#include "fs/internal/bplist.hpp"

namespace safehold::fs::detail {

namespace fsys = std::filesystem;

namespace {

// A member name's components without empty ones and ".".
std::vector<std::string> components(const std::string& name) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= name.size()) {
    size_t next = name.find('/', pos);
    if (next == std::string::npos) next = name.size();
    std::string c = name.substr(pos, next - pos);
    if (!c.empty() && c != ".") out.push_back(std::move(c));
    pos = next + 1;
  }
  return out;
}

const std::vector<std::pair<std::string, std::string>>& anchors() {
  static const std::vector<std::pair<std::string, std::string>> a = {
      {"data", "data"}, {"data", "media"},  {"data", "app"},
      {"data", "user"}, {"private", "var"}, {"var", "mobile"}};
  return a;
}

}  // namespace

std::string device_root(const std::vector<std::string>& members) {
  std::optional<std::vector<std::string>> best;
  for (const auto& m : members) {
    const auto c = components(m);
    for (size_t i = 0; i + 1 < c.size(); ++i) {
      if (best && i >= best->size()) break;
      const bool hit = std::any_of(anchors().begin(), anchors().end(), [&](const auto& a) {
        return c[i] == a.first && c[i + 1] == a.second;
      });
      if (hit) {
        best = std::vector<std::string>(c.begin(), c.begin() + static_cast<long>(i));
        break;
      }
    }
    if (best && best->empty()) break;
  }
  std::string root;
  if (best)
    for (auto& c : *best) root += c + "/";
  return root;
}

const FileEntry* Tree::entry(uint64_t inode) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), inode,
                             [](const FileEntry& e, uint64_t i) { return e.inode < i; });
  return it != entries_.end() && it->inode == inode ? &*it : nullptr;
}

void Tree::place() {
  std::vector<std::string> names;
  names.reserve(entries_.size());
  for (auto& e : entries_) names.push_back(e.member);
  root_ = device_root(names);
  const auto root = components(root_);
  // The folders wrapping the device's root ("Dump/") are not in the device: not listed.
  std::erase_if(entries_, [&](const FileEntry& e) {
    const auto c = components(e.member);
    return e.type == "dir" && c.size() <= root.size() &&
           std::equal(c.begin(), c.end(), root.begin());
  });
  for (auto& e : entries_) {
    auto c = components(e.member);
    if (!root.empty() && c.size() > root.size() && std::equal(root.begin(), root.end(), c.begin()))
      c.erase(c.begin(), c.begin() + static_cast<long>(root.size()));
    std::string p;
    for (auto& x : c) p.append("/").append(x);
    e.path = p.empty() ? "/" : p;
    e.name = c.empty() ? "" : c.back();
  }
}

namespace {

// The content of entry e, listed as members[e.inode - 1] of an archive (its folders and links
// have none).
std::optional<std::string> read_listed(const std::vector<archive::Member>& members,
                                       const archive::Bytes& bytes, archive::Kind kind,
                                       const FileEntry& e,
                                       const std::function<bool(std::span<const std::byte>)>& sink,
                                       uint64_t* delivered) {
  if (e.inode == 0 || e.inode > members.size()) return "no such member";
  const auto& m = members[e.inode - 1];
  if (m.type != "file") return std::nullopt;
  return archive::read_member(bytes, kind, m, sink, delivered);
}

class ArchiveTree : public Tree {
 public:
  ArchiveTree(const fsys::path& path, archive::Kind kind) : bytes_(path.string()), kind_(kind) {
    auto listing = kind == archive::Kind::zip ? archive::list_zip(bytes_, path.string())
                                              : archive::list_tar(bytes_, path.string());
    problems_ = std::move(listing.problems);
    for (auto& m : listing.members) {
      FileEntry e;
      e.member = m.name;
      e.type = m.type;
      e.size =
          m.type == "link" ? m.target.size() : m.size;  // a link's size: its target's, as lstat
      e.mtime = m.mtime;
      e.atime = m.atime;
      e.ctime = m.ctime;
      e.crtime = m.crtime;
      e.mode = m.mode;
      e.uid = m.uid;
      e.gid = m.gid;
      e.target = m.target;
      if (components(m.name).empty()) continue;  // the archive's own top ("./")
      e.inode = entries_.size() + 1;
      entries_.push_back(std::move(e));
      members_.push_back(std::move(m));
    }
    place();
  }
  std::string format() const override { return kind_ == archive::Kind::zip ? "zip" : "tar"; }
  uint64_t container_size() const override { return bytes_.size(); }
  std::optional<std::string> read(const FileEntry& e,
                                  const std::function<bool(std::span<const std::byte>)>& sink,
                                  uint64_t* delivered) const override {
    return read_listed(members_, bytes_, kind_, e, sink, delivered);
  }

 private:
  archive::FileBytes bytes_;
  archive::Kind kind_;
  std::vector<archive::Member> members_;
};

std::optional<Timestamp> stat_time(const timespec& t) {
  if (t.tv_sec == 0 && t.tv_nsec == 0) return std::nullopt;
  return Timestamp{t.tv_sec, static_cast<uint32_t>(t.tv_nsec)};
}

class FolderTree : public Tree {
 public:
  explicit FolderTree(const fsys::path& path) : top_(path) {
    std::error_code ec;
    fsys::recursive_directory_iterator it(path, fsys::directory_options::none, ec), end;
    if (ec) throw EvidenceError(path.string() + ": cannot be listed: " + ec.message());
    for (; it != end; it.increment(ec)) {
      if (ec) {
        problems_.push_back({0, 0, "cannot list everything under the folder: " + ec.message()});
        break;
      }
      add(it->path());
    }
    std::sort(entries_.begin(), entries_.end(),
              [](const FileEntry& a, const FileEntry& b) { return a.member < b.member; });
    for (size_t i = 0; i < entries_.size(); ++i) entries_[i].inode = i + 1;
    place();
  }
  std::string format() const override { return "folder"; }
  uint64_t container_size() const override { return 0; }
  std::optional<std::string> read(const FileEntry& e,
                                  const std::function<bool(std::span<const std::byte>)>& sink,
                                  uint64_t* delivered) const override;

 private:
  void add(const fsys::path& p) {
    struct stat st {};
    FileEntry e;
    e.member = p.lexically_relative(top_).generic_string();
    if (::lstat(p.c_str(), &st) != 0) {
      problems_.push_back(
          {0, 0, "\"" + e.member + "\": cannot be examined: " + std::strerror(errno)});
      return;
    }
    e.type = S_ISREG(st.st_mode)   ? "file"
             : S_ISDIR(st.st_mode) ? "dir"
             : S_ISLNK(st.st_mode) ? "link"
                                   : "other";
    e.size = S_ISREG(st.st_mode) || S_ISLNK(st.st_mode) ? static_cast<uint64_t>(st.st_size) : 0;
    e.mtime = stat_time(st.st_mtim);
    e.atime = stat_time(st.st_atim);
    e.ctime = stat_time(st.st_ctim);
    e.mode = st.st_mode;
    e.uid = st.st_uid;
    e.gid = st.st_gid;
    if (S_ISLNK(st.st_mode)) {
      std::error_code ec;
      e.target = fsys::read_symlink(p, ec).string();
    }
    entries_.push_back(std::move(e));
  }
  fsys::path top_;
};

// Streams `size` bytes of a plain file, read-only, never following a link, and (when the examiner
// owns it) without touching its access time. `who` begins every sentence.
std::optional<std::string> read_plain(const std::string& p, const std::string& who, uint64_t size,
                                      const std::function<bool(std::span<const std::byte>)>& sink,
                                      uint64_t* delivered) {
  if (delivered) *delivered = 0;
  int fd = ::open(p.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = ::open(p.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return who + "cannot be opened: " + std::strerror(errno);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  constexpr size_t kBuf = 1 << 20;
  std::unique_ptr<char[]> buf(new char[kBuf]);
  uint64_t done = 0;
  while (done < size) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(kBuf, size - done));
    const ssize_t n = ::pread(fd, buf.get(), want, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return who + "cannot be read at byte " + std::to_string(done) + ": " + std::strerror(errno);
    if (n == 0)
      return who + "ends at byte " + std::to_string(done) + ", before its listed size of " +
             std::to_string(size);
    done += static_cast<uint64_t>(n);
    if (delivered) *delivered = done;
    if (!sink(std::span<const std::byte>(reinterpret_cast<const std::byte*>(buf.get()),
                                         static_cast<size_t>(n))))
      break;
  }
  return std::nullopt;
}

std::optional<std::string> FolderTree::read(
    const FileEntry& e, const std::function<bool(std::span<const std::byte>)>& sink,
    uint64_t* delivered) const {
  if (delivered) *delivered = 0;
  if (e.type != "file") return std::nullopt;
  return read_plain((top_ / e.member).string(), "\"" + e.member + "\": ", e.size, sink, delivered);
}

// An Android backup (`adb backup`): the header lines "ANDROID BACKUP", the format version, 1 when
// the rest is zlib-compressed, and the encryption ("none" or "AES-256"); then a TAR in the layout
// of Android's FullBackup (apps/<package>/<token>/..., shared/<user>/...), whose members are given
// their paths on the device.
class AdbTree : public Tree {
 public:
  explicit AdbTree(const fsys::path& path) : file_(path.string()) {
    const std::string p = path.string();
    uint64_t at = 0;
    std::vector<std::string> lines;
    while (lines.size() < 4) {
      std::string line;
      char c;
      while (line.size() < 64 && file_.read(at, &c, 1) == 1) {
        ++at;
        if (c == '\n') break;
        line += c;
      }
      lines.push_back(line);
    }
    if (lines[0] != "ANDROID BACKUP")
      throw EvidenceError(p + ": not an Android backup (no \"ANDROID BACKUP\" header)");
    if (lines[3] != "none")
      throw EvidenceError(p + ": an encrypted Android backup (" + lines[3] +
                          "), which Safehold cannot decrypt yet");
    if (lines[2] != "0" && lines[2] != "1")
      throw EvidenceError(p + ": an Android backup whose compression flag \"" + lines[2] +
                          "\" is neither 0 nor 1");
    version_ = lines[1];
    if (lines[2] == "1") {
      auto z = std::make_unique<archive::InflatedBytes>(file_, at);
      if (!z->damage().empty())
        problems_.push_back({z->damage_at(), file_.size() - z->damage_at(), z->damage()});
      tar_ = std::move(z);
    } else {
      tar_ = std::make_unique<archive::SliceBytes>(file_, at);
    }
    auto listing = archive::list_tar(*tar_, p);
    for (auto& d : listing.problems)
      problems_.push_back(
          {0, 0,
           d.message + " (in the backup's TAR, at its byte " + std::to_string(d.offset) + ")"});
    for (auto& m : listing.members) {
      FileEntry e;
      e.member = m.name;
      e.type = m.type;
      e.size = m.type == "link" ? m.target.size() : m.size;
      e.mtime = m.mtime;
      e.mode = m.mode;
      e.uid = m.uid;
      e.gid = m.gid;
      e.target = m.target;
      e.path = device_path(m.name);
      e.name = e.path.substr(e.path.rfind('/') + 1);
      e.inode = entries_.size() + 1;
      entries_.push_back(std::move(e));
      members_.push_back(std::move(m));
    }
  }
  std::string format() const override { return "adb"; }
  uint64_t container_size() const override { return file_.size(); }
  std::optional<std::string> read(const FileEntry& e,
                                  const std::function<bool(std::span<const std::byte>)>& sink,
                                  uint64_t* delivered) const override {
    return read_listed(members_, *tar_, archive::Kind::tar, e, sink, delivered);
  }

  // Android's FullBackup tokens (apps/<package>/<token>/...) to the folders they come from.
  static std::string device_path(const std::string& member) {
    const auto c = components(member);
    auto join = [&](std::string base, size_t from) {
      for (size_t i = from; i < c.size(); ++i) base.append("/").append(c[i]);
      return base;
    };
    if (c.size() >= 2 && c[0] == "shared") return join("/storage/emulated/" + c[1], 2);
    if (c.size() >= 3 && c[0] == "apps") {
      static const std::vector<std::pair<std::string, std::string>> tokens = {
          {"r", "/data/data/@"},
          {"f", "/data/data/@/files"},
          {"db", "/data/data/@/databases"},
          {"sp", "/data/data/@/shared_prefs"},
          {"c", "/data/data/@/cache"},
          {"nb", "/data/data/@/no_backup"},
          {"d_r", "/data/user_de/0/@"},
          {"d_f", "/data/user_de/0/@/files"},
          {"d_db", "/data/user_de/0/@/databases"},
          {"d_sp", "/data/user_de/0/@/shared_prefs"},
          {"d_c", "/data/user_de/0/@/cache"},
          {"d_nb", "/data/user_de/0/@/no_backup"},
          {"ef", "/storage/emulated/0/Android/data/@"},
          {"obb", "/storage/emulated/0/Android/obb/@"},
          {"a", "/data/app/@"}};
      for (auto& [t, dir] : tokens)
        if (c[2] == t) {
          std::string d = dir;
          d.replace(d.find('@'), 1, c[1]);
          return join(d, 3);
        }
    }
    return join("", 0);  // _manifest, key-value data (k), anything else: as in the backup
  }

 private:
  archive::FileBytes file_;
  std::unique_ptr<archive::Bytes> tar_;
  std::vector<archive::Member> members_;
  std::string version_;
};

// An iTunes/Finder backup (iOS 10 and later): Manifest.db's Files table maps each file's hashed
// name (`xx/<40 hex digits>`) to its domain and path; the metadata (size, times, mode, owner, link
// target) is the NSKeyedArchiver MBFile in its `file` column.
class ItunesTree : public Tree {
 public:
  explicit ItunesTree(const fsys::path& path) : top_(path) {
    refuse_unreadable(path);
    const fsys::path db = path / "Manifest.db";
    // immutable: SQLite neither locks nor writes anything beside the evidence.
    auto h = base::sqlite_open("file:" + uri_path(db.string()) + "?immutable=1",
                               SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, db.string());
    base::SqliteStmtHandle st;
    try {
      st = base::sqlite_prepare(
          h.get(), "SELECT fileID, domain, relativePath, flags, file FROM Files ORDER BY rowid");
    } catch (const base::SqliteError& e) {
      throw EvidenceError(db.string() + ": not a backup manifest (" + e.what() + ")");
    }
    int rc;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) add(st.get());
    if (rc != SQLITE_DONE)
      problems_.push_back(
          {0, 0, "Manifest.db cannot be read in full: " + std::string(sqlite3_errmsg(h.get()))});
    for (size_t i = 0; i < entries_.size(); ++i) entries_[i].inode = i + 1;
  }
  std::string format() const override { return "itunes"; }
  uint64_t container_size() const override { return 0; }
  std::optional<std::string> read(const FileEntry& e,
                                  const std::function<bool(std::span<const std::byte>)>& sink,
                                  uint64_t* delivered) const override {
    if (delivered) *delivered = 0;
    if (e.type != "file") return std::nullopt;
    const fsys::path p = top_ / e.member;
    std::error_code ec;
    if (!fsys::exists(p, ec))
      return "\"" + e.member + "\" (" + e.path +
             "): is listed in Manifest.db but not in the backup";
    return read_plain(p.string(), "\"" + e.member + "\" (" + e.path + "): ", e.size, sink,
                      delivered);
  }

 private:
  static std::string uri_path(const std::string& p) {
    std::string out;
    for (char c : p) {
      if (c == '%' || c == '?' || c == '#') {
        char buf[4];
        std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
        out += buf;
      } else {
        out += c;
      }
    }
    return out;
  }
  // A backup Safehold cannot read is refused in one sentence saying why.
  static void refuse_unreadable(const fsys::path& path) {
    std::error_code ec;
    const std::string p = path.string();
    if (fsys::exists(path / "Manifest.mbdb", ec) && !fsys::exists(path / "Manifest.db", ec))
      throw EvidenceError(p +
                          ": an iTunes backup from before iOS 10 (Manifest.mbdb), which "
                          "Safehold cannot read");
    if (!fsys::exists(path / "Manifest.db", ec))
      throw EvidenceError(p + ": an iTunes/Finder backup (Manifest.plist) without its Manifest.db");
    std::ifstream in(path / "Manifest.plist", std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    bool encrypted = false;
    if (auto v = bplist::parse(
            std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()))) {
      auto it = v->dict.find("IsEncrypted");
      encrypted = it != v->dict.end() && it->second.integer != 0;
    } else if (auto k = text.find("<key>IsEncrypted</key>"); k != std::string::npos) {
      encrypted = text.find_first_not_of(" \t\r\n", k + 22) == text.find("<true/>", k + 22);
    }
    if (encrypted)
      throw EvidenceError(p +
                          ": an encrypted iTunes/Finder backup, which Safehold cannot "
                          "decrypt yet");
  }
  static std::string text(sqlite3_stmt* st, int col) {
    const auto* t = sqlite3_column_text(st, col);
    return t ? std::string(reinterpret_cast<const char*>(t),
                           static_cast<size_t>(sqlite3_column_bytes(st, col)))
             : std::string();
  }
  void add(sqlite3_stmt* st) {
    FileEntry e;
    const std::string id = text(st, 0), domain = text(st, 1), rel = text(st, 2);
    const int64_t flags = sqlite3_column_int64(st, 3);
    if (id.size() != 40 || id.find_first_not_of("0123456789abcdef") != std::string::npos) {
      problems_.push_back({0, 0,
                           "Manifest.db lists a file whose name is not 40 hex digits (" + domain +
                               "/" + rel + "): not read"});
      return;
    }
    e.member = id.substr(0, 2) + "/" + id;
    e.path = "/" + domain + (rel.empty() ? "" : "/" + rel);
    const size_t slash = e.path.rfind('/');
    e.name = e.path.substr(slash + 1);
    e.type = flags == 1 ? "file" : flags == 2 ? "dir" : flags == 4 ? "link" : "other";
    const auto* blob = static_cast<const uint8_t*>(sqlite3_column_blob(st, 4));
    const int n = sqlite3_column_bytes(st, 4);
    std::optional<bplist::Value> meta;
    if (blob && n > 0)
      if (auto v = bplist::parse(std::span<const uint8_t>(blob, static_cast<size_t>(n))))
        meta = bplist::keyed_root(*v);
    if (meta) {
      auto num = [&](const char* k) -> std::optional<int64_t> {
        auto it = meta->dict.find(k);
        if (it == meta->dict.end() || it->second.type != bplist::Value::Type::integer)
          return std::nullopt;
        return it->second.integer;
      };
      auto time = [&](const char* k) -> std::optional<Timestamp> {
        auto v = num(k);
        if (!v || *v == 0) return std::nullopt;
        return Timestamp{*v, 0};
      };
      e.size = e.type == "file"
                   ? static_cast<uint64_t>(std::max<int64_t>(0, num("Size").value_or(0)))
                   : 0;
      e.mtime = time("LastModified");
      e.ctime = time("LastStatusChange");
      e.crtime = time("Birth");
      if (auto m = num("Mode")) e.mode = static_cast<uint32_t>(*m);
      if (auto u = num("UserID")) e.uid = static_cast<uint32_t>(*u);
      if (auto g = num("GroupID")) e.gid = static_cast<uint32_t>(*g);
      if (auto t = meta->dict.find("Target");
          t != meta->dict.end() && t->second.type == bplist::Value::Type::string)
        e.target = t->second.bytes;
      if (e.type == "link") e.size = e.target.size();
    } else {
      problems_.push_back({0, 0,
                           "Manifest.db's metadata of " + e.path +
                               " is not a keyed archive: its size and times are unknown"});
      std::error_code ec;
      if (e.type == "file") e.size = fsys::file_size(top_ / e.member, ec);
      if (ec) e.size = 0;
    }
    entries_.push_back(std::move(e));
  }
  fsys::path top_;
};

}  // namespace

TreeKind tree_kind(const fsys::path& path) {
  std::error_code ec;
  if (fsys::is_directory(path, ec))
    return fsys::exists(path / "Manifest.db", ec) || fsys::exists(path / "Manifest.plist", ec) ||
                   fsys::exists(path / "Manifest.mbdb", ec)
               ? TreeKind::itunes
               : TreeKind::folder;
  if (!fsys::is_regular_file(path, ec)) return TreeKind::none;
  unsigned char h[512] = {};
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(h), sizeof h);
  const auto n = static_cast<size_t>(in.gcount());
  if (n >= 4 && (std::memcmp(h, "PK\3\4", 4) == 0 || std::memcmp(h, "PK\5\6", 4) == 0))
    return TreeKind::zip;
  if (n >= 262 && std::memcmp(h + 257, "ustar", 5) == 0) return TreeKind::tar;
  if (n >= 15 && std::memcmp(h, "ANDROID BACKUP\n", 15) == 0) return TreeKind::adb;
  return TreeKind::none;
}

std::unique_ptr<Tree> open_tree(const fsys::path& path, TreeKind kind) {
  switch (kind) {
    case TreeKind::zip:
      return std::make_unique<ArchiveTree>(path, archive::Kind::zip);
    case TreeKind::tar:
      return std::make_unique<ArchiveTree>(path, archive::Kind::tar);
    case TreeKind::folder:
      return std::make_unique<FolderTree>(path);
    case TreeKind::adb:
      return std::make_unique<AdbTree>(path);
    case TreeKind::itunes:
      try {
        return std::make_unique<ItunesTree>(path);
      } catch (const base::SqliteError& e) {
        throw EvidenceError(path.string() + ": " + e.what());
      }
    case TreeKind::none:
      break;
  }
  throw EvidenceError(path.string() + ": not an extraction Safehold reads");
}

}  // namespace safehold::fs::detail
