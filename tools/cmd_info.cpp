// `safehold info` and `safehold ls`: what an image holds.
#include <fmt/core.h>

#include <algorithm>
#include <iostream>
#include <optional>

#include "base/format.hpp"
#include "base/hash.hpp"
#include "base/json.hpp"
#include "fs/evidence.hpp"
#include "fs/json.hpp"
#include "fs/reader.hpp"
#include "tools/command.hpp"
#include "tools/key_options.hpp"

namespace safehold::tools {
namespace {

// --raw and --parent, shared by info, ls and hash.
struct OpenArgs {
  uint32_t sector_size = 0;
  bool raw = false;
  std::vector<std::string> parents;
  KeyArgs keys;
  fs::OpenOptions options() const {
    fs::OpenOptions o;
    o.sector_size = sector_size;
    o.raw = raw;
    o.parents.assign(parents.begin(), parents.end());
    o.keys = keys.gather();
    return o;
  }
};

void add_open_options(CLI::App* cmd, OpenArgs& a) {
  cmd->add_flag("--raw", a.raw,
                "Read the file as raw media whatever it looks like (container, archive, ...)");
  cmd->add_option("--parent", a.parents,
                  "Parent of a differencing disk (QCOW backing file, VHD/VHDX, VMDK), the "
                  "image's own first (default: each as recorded, beside its child)")
      ->allow_extra_args(false);  // one value each: the image that follows is not a parent
}

std::unique_ptr<fs::Evidence> open_or_fail(const std::string& path, const OpenArgs& a) {
  const uint32_t sector_size = a.sector_size;
  if (sector_size != 0 && sector_size != 512 && sector_size != 1024 && sector_size != 2048 &&
      sector_size != 4096)
    fail(Exit::usage,
         fmt::format("--sector-size: {} is not one of 512, 1024, 2048, 4096", sector_size));
  try {
    auto ev = fs::Evidence::open(path, true, a.options());
    if (ev->filesystems().empty() && ev->volume_scheme() == "none" &&
        ev->image().damage().empty() && !ev->volumes().front().encryption) {
      // Nothing recognised may mean the first sectors cannot be read: that is damage (exit 2,
      // what `hash` says of the image), not an unknown format.
      std::vector<std::byte> head(
          static_cast<size_t>(std::min<uint64_t>(ev->image().size(), 1 << 20)));
      try {
        ev->image().read(0, head);
      } catch (const fs::EvidenceError& e) {
        fail(Exit::failed, e.what());
      }
      // A structure that was recognised but refused (a damaged LUKS header…) says why; TSK's
      // own "no filesystem recognised" is what the sentence below says better.
      for (const auto& p : ev->problems())
        if (p.message.rfind("no filesystem recognised", 0) != 0) fail(Exit::failed, p.message);
      fail(Exit::usage,
           fmt::format("{}: no partition table or filesystem recognised in {} of {} data", path,
                       base::human_size(ev->image().size()), fs::to_string(ev->image().format())));
    }
    return ev;
  } catch (const fs::EvidenceError& e) {
    fail(Exit::usage, e.what());
  }
}

// A phone extraction: what it holds and where the device's root is in it.
void print_extraction(const fs::Evidence& ev, const fs::ExtractionInfo& x) {
  using base::printable;
  if (x.container_size > 0)
    fmt::print("Size:         {} bytes ({})\n", x.container_size,
               base::human_size(x.container_size));
  fmt::print("Extraction:   {} entries, {} bytes of file content ({})\n", x.entries, x.bytes,
             base::human_size(x.bytes));
  fmt::print("Device root:  {}\n", x.root.empty() ? std::string("the extraction's top")
                                                  : "\"" + printable(x.root) + "\"");
  for (auto& p : ev.problems())
    fmt::print("Problem: {}: {}\n", printable(p.where), printable(p.message));
  for (auto& d : ev.image().damage()) fmt::print("Damaged: {}\n", d.message);
}

void print_info(const fs::Evidence& ev) {
  const auto& img = ev.image();
  using base::printable;
  fmt::print("Image:        {}\n", printable(img.path().string()));
  const auto& x = ev.extraction();
  fmt::print("Format:       {}\n", x ? x->format : std::string(fs::to_string(img.format())));
  if (x) {
    print_extraction(ev, *x);
    return;
  }
  fmt::print("Size:         {} bytes ({})\n", img.size(), base::human_size(img.size()));
  fmt::print("Sector size:  {}\n", img.sector_size());
  if (img.segments().size() > 1) {
    fmt::print("Segments:     {}\n", img.segments().size());
    for (auto& s : img.segments()) fmt::print("              {}\n", printable(s.string()));
  }
  if (auto& m = img.ewf_metadata()) {
    fmt::print("EWF metadata:\n");
    auto line = [](const char* k, const std::string& v) {
      if (!v.empty()) fmt::print("  {:<22}{}\n", k, printable(v));
    };
    line("Case number:", m->case_number);
    line("Evidence number:", m->evidence_number);
    line("Examiner:", m->examiner);
    line("Description:", m->description);
    line("Notes:", m->notes);
    line("Acquisition date:", m->acquiry_date);
    line("System date:", m->system_date);
    line("Acquisition OS:", m->acquiry_os);
    // Name and version joined by one space, without a leading one when the name is absent.
    auto trim = [](std::string v) {
      v.erase(0, v.find_first_not_of(' '));
      v.erase(v.find_last_not_of(' ') + 1);
      return v;
    };
    std::string software = trim(m->acquiry_software);
    const std::string version = trim(m->acquiry_software_version);
    if (!version.empty()) software += (software.empty() ? "" : " ") + version;
    line("Software:", software);
    line("Media type:", m->media_type);
    line("Compression:", m->compression);
    if (m->chunk_size) fmt::print("  {:<22}{}\n", "Chunk size:", m->chunk_size);
    line("Stored MD5:", m->md5);
    line("Stored SHA-1:", m->sha1);
    for (auto& [s, c] : m->acquiry_errors)
      fmt::print("  {:<22}sector {} count {}\n", "Acquisition error:", s, c);
  }
  fmt::print("Volume system: {}\n", ev.volume_scheme());
  if (!ev.volumes().empty()) {
    fmt::print("Volumes:\n  {:>3}  {:>14}  {:>14}  {:<11}  {}\n", "#", "start", "length", "kind",
               "description");
    for (auto& v : ev.volumes()) {
      fmt::print("  {:>3}  {:>14}  {:>14}  {:<11}  {}\n", v.index, v.start, v.length,
                 fs::to_string(v.kind), printable(v.description));
      if (auto& e = v.encryption)
        fmt::print("       encrypted: {} ({}){}, unlocked by a {}: {}\n", e->scheme, e->cipher,
                   e->identifier.empty() ? "" : ", UUID " + printable(e->identifier), e->unlock,
                   e->unlocked ? "unlocked with the key given" : "locked (no key given)");
    }
  }
  fmt::print("Filesystems:\n");
  if (ev.filesystems().empty()) fmt::print("  none recognised\n");
  for (auto& f : ev.filesystems())
    fmt::print(
        "  {:>3}  volume {:<3} offset {:<12} {:<8} label \"{}\"  block size {}  size {} ({}){}\n",
        f.index, f.volume, f.offset, f.type, printable(f.label), f.block_size, f.size,
        base::human_size(f.size),
        f.encryption.empty() ? "" : ", in the decrypted " + f.encryption + " volume");
  for (auto& p : ev.problems())
    fmt::print("Problem: {}: {}\n", printable(p.where), printable(p.message));
  for (auto& d : img.damage()) fmt::print("Damaged: {}\n", d.message);
}

// An E01 whose structure leaves ranges unreadable: each named on stderr, then exit 2 (what `hash`
// and `verify` say of the same image).
void fail_if_damaged(const fs::Evidence& ev, const std::string& path) {
  const auto& damage = ev.image().damage();
  if (damage.empty()) return;
  for (auto& d : damage)
    std::cerr << "safehold: " << base::printable(path) << ": " << d.message << "\n";
  throw CommandExit{static_cast<int>(Exit::failed)};
}

// An encrypted volume left locked: listed, but what it holds was not examined (exit 2).
void fail_if_locked(const fs::Evidence& ev, const std::string& path) {
  if (!locked_volumes(ev, path)) return;
  throw CommandExit{static_cast<int>(Exit::failed)};
}

void register_info(CLI::App& app) {
  auto* info =
      app.add_subcommand("info", "Show an image's format, metadata, volumes and filesystems");
  auto image = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  info->add_option("IMAGE", *image, "Evidence image (E01, raw, split raw, QCOW2, VHD, VHDX, VMDK)")
      ->required();
  info->add_flag("--json", *json, "Write one JSON object");
  auto sector = std::make_shared<OpenArgs>();
  const char* sector_help =
      "Bytes per sector: 512, 1024, 2048, 4096 (default: the container's, or detected)";
  info->add_option("--sector-size", sector->sector_size, sector_help);
  add_open_options(info, *sector);
  add_key_options(info, sector->keys);
  info->callback([image, json, sector] {
    auto ev = open_or_fail(*image, *sector);
    if (*json)
      std::cout << base::dump(fs::describe(*ev), 2) << "\n";
    else
      print_info(*ev);
    fail_if_damaged(*ev, *image);
    fail_if_locked(*ev, *image);
  });

  auto* ls = app.add_subcommand("ls", "List every file of every filesystem in an image");
  auto ls_image = std::make_shared<std::string>();
  auto ls_json = std::make_shared<bool>(false);
  auto deleted = std::make_shared<bool>(false);
  ls->add_option("IMAGE", *ls_image, "Evidence image")->required();
  ls->add_flag("--deleted", *deleted, "Only deleted and orphan files");
  ls->add_flag("--json", *ls_json, "One JSON object a line");
  auto ls_sector = std::make_shared<OpenArgs>();
  ls->add_option("--sector-size", ls_sector->sector_size, sector_help);
  add_open_options(ls, *ls_sector);
  add_key_options(ls, ls_sector->keys);
  ls->callback([ls_image, ls_json, deleted, ls_sector] {
    auto ev = open_or_fail(*ls_image, *ls_sector);
    const size_t problems_at_open = ev->problems().size();
    for (auto& f : ev->filesystems()) {
      ev->walk(f.index, [&](const fs::FileEntry& e) {
        if (*deleted && e.state == fs::FileState::allocated) return true;
        if (*ls_json) {
          std::cout << base::dump(fs::to_json(e)) << "\n";
        } else {
          const char* st = e.state == fs::FileState::allocated ? " "
                           : e.state == fs::FileState::deleted ? "*"
                                                               : "o";
          std::cout << fmt::format("{}{}:{:<4} {:<8} {:>12} {:<20} {}\n", st, e.filesystem,
                                   e.type == "dir"       ? "d"
                                   : e.type == "link"    ? "l"
                                   : e.type == "virtual" ? "v"
                                                         : "r",
                                   e.inode, e.size, fs::to_iso8601(e.mtime).value_or("-"),
                                   base::printable(e.path));
        }
        return true;
      });
    }
    for (auto& p : ev->problems())
      std::cerr << "safehold: " << base::printable(p.where) << ": " << base::printable(p.message)
                << "\n";
    fail_if_damaged(*ev, *ls_image);
    fail_if_locked(*ev, *ls_image);
    // What the walk could not read (directories, metadata): the listing is incomplete. No
    // filesystem at all (an unlocked volume that holds none): nothing was listed, said above.
    if (ev->problems().size() > problems_at_open ||
        (ev->filesystems().empty() && !ev->problems().empty()))
      throw CommandExit{static_cast<int>(Exit::failed)};
  });
}

// `hash` of a phone extraction: there is no device media to hash. The archive file's digests are
// given as what they are (the container's), with each file's SHA-256 (--files, in sha256sum's
// format with the path inside the device) and the content digest: the SHA-256 of those lines
// sorted by path. Unreadable members are named and leave no content digest (exit 2).
void hash_extraction(const std::string& image, unsigned set, bool json, bool files,
                     const fs::OpenOptions& open) {
  std::unique_ptr<fs::Evidence> ev;
  try {
    ev = fs::Evidence::open(image, false, open);
  } catch (const fs::EvidenceError& e) {
    fail(Exit::usage, e.what());
  }
  const fs::ExtractionInfo& x = *ev->extraction();
  std::optional<base::Digests> container;
  if (x.container_size > 0) {
    base::MultiHasher h(set);
    fs::ReadOptions ro;
    ro.open.raw = true;  // the archive file's bytes as they are
    ro.deliver_damaged = false;
    auto r = fs::read_sequential(
        image,
        [&](uint64_t, std::span<const std::byte> b) {
          h.update(b);
          return true;
        },
        ro);
    if (!r.errors.empty()) fail(Exit::failed, image + ": " + r.errors.front().message);
    container = h.finish();
  }
  std::vector<std::pair<std::string, std::string>> lines;  // path, sha256
  std::vector<fs::Problem> bad;
  uint64_t bytes = 0;
  ev->walk(0, [&](const fs::FileEntry& e) {
    if (e.type != "file") return true;
    base::MultiHasher fh(4);
    uint64_t n = 0;
    if (auto p = ev->read_file(
            e,
            [&](std::span<const std::byte> b) {
              fh.update(b);
              return true;
            },
            &n)) {
      bad.push_back(*p);
      return true;
    }
    bytes += n;
    lines.emplace_back(e.path, fh.finish().sha256);
    return true;
  });
  std::sort(lines.begin(), lines.end());
  std::string manifest;
  for (auto& [path, sha] : lines) manifest += sha + "  " + path + "\n";
  const bool whole = bad.empty() && ev->image().damage().empty();
  const std::string content = whole ? base::sha256_hex(manifest) : "";
  if (json) {
    nlohmann::json j = {{"image", image},        {"format", x.format}, {"root", x.root},
                        {"files", lines.size()}, {"bytes", bytes},     {"complete", whole}};
    j["container"] = nullptr;
    if (container)
      j["container"] = {{"bytes", x.container_size},
                        {"md5", container->md5.empty() ? nlohmann::json(nullptr)
                                                       : nlohmann::json(container->md5)},
                        {"sha1", container->sha1.empty() ? nlohmann::json(nullptr)
                                                         : nlohmann::json(container->sha1)},
                        {"sha256", container->sha256.empty() ? nlohmann::json(nullptr)
                                                             : nlohmann::json(container->sha256)}};
    j["content_sha256"] = whole ? nlohmann::json(content) : nlohmann::json(nullptr);
    if (files) {
      auto arr = nlohmann::json::array();
      for (auto& [path, sha] : lines) arr.push_back({{"path", path}, {"sha256", sha}});
      j["file_hashes"] = arr;
    }
    nlohmann::json errs = nlohmann::json::array();
    for (auto& p : bad) errs.push_back(fs::to_json(p));
    j["errors"] = errs;
    std::cout << base::dump(j, 2) << "\n";
  } else if (files) {
    std::cout << manifest;
  } else {
    fmt::print("Extraction:       {} ({} files, {} bytes of content)\n", x.format, lines.size(),
               bytes);
    if (container) {
      fmt::print("Container file:   {} bytes (digests of the archive file, not of device media)\n",
                 x.container_size);
      if (!container->md5.empty()) fmt::print("Container MD5:    {}\n", container->md5);
      if (!container->sha1.empty()) fmt::print("Container SHA-1:  {}\n", container->sha1);
      if (!container->sha256.empty()) fmt::print("Container SHA-256: {}\n", container->sha256);
    }
    if (whole) fmt::print("Content SHA-256:  {}\n", content);
  }
  if (!whole) {
    for (auto& d : ev->image().damage())
      std::cerr << "safehold: " << base::printable(image) << ": " << d.message << "\n";
    for (auto& p : bad)
      std::cerr << "safehold: " << base::printable(image) << ": " << base::printable(p.message)
                << "\n";
    std::cerr << "safehold: " << base::printable(image) << ": no content digest: "
              << (bad.empty()
                      ? std::string("the extraction is damaged (members may be missing)")
                      : std::to_string(bad.size()) + (bad.size() == 1 ? " file" : " files") +
                            " cannot be read in full")
              << "\n";
    throw CommandExit{static_cast<int>(Exit::failed)};
  }
}

void register_hash(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "hash", "Hash an image's media data (MD5, SHA-1, SHA-256) with the fast reader");
  auto image = std::make_shared<std::string>();
  auto algos = std::make_shared<std::string>("md5,sha1,sha256");
  auto json = std::make_shared<bool>(false);
  auto threads = std::make_shared<unsigned>(0);
  cmd->add_option("IMAGE", *image, "Evidence image")->required();
  cmd->add_option("--hash", *algos, "Comma-separated: md5,sha1,sha256");
  cmd->add_option("--threads", *threads, "Decompression threads (default: all cores)");
  cmd->add_flag("--json", *json, "Write one JSON object");
  auto files = std::make_shared<bool>(false);
  cmd->add_flag("--files", *files,
                "Phone extractions: each file's SHA-256 and path inside the device (sha256sum's "
                "format)");
  auto open = std::make_shared<OpenArgs>();
  add_open_options(cmd, *open);
  cmd->callback([image, algos, json, threads, open, files] {
    unsigned set = 0;
    std::string a = *algos + ",";
    for (size_t pos = 0, next; (next = a.find(',', pos)) != std::string::npos; pos = next + 1) {
      std::string name = a.substr(pos, next - pos);
      if (name == "md5")
        set |= 1;
      else if (name == "sha1")
        set |= 2;
      else if (name == "sha256")
        set |= 4;
      else if (!name.empty())
        fail(Exit::usage, "--hash: unknown algorithm '" + name + "' (use md5, sha1, sha256)");
    }
    if (!set) fail(Exit::usage, "--hash: no algorithm given");
    if (fs::is_extraction(*image, open->options()))
      return hash_extraction(*image, set, *json, *files, open->options());
    if (*files) fail(Exit::usage, "--files: " + *image + " is not a phone extraction");
    base::MultiHasher h(set);
    fs::ReadOptions opts;
    opts.threads = *threads;
    opts.deliver_damaged = false;
    opts.open = open->options();
    // Runs of zero chunks (recognised from their stored bytes) are hashed from one small, cache-hot
    // zero buffer instead of being inflated into memory first.
    static const std::vector<std::byte> zero_block(64 * 1024);
    opts.zeros = [&](uint64_t, uint64_t len) {
      for (; len; len -= std::min<uint64_t>(len, zero_block.size()))
        h.update(zero_block.data(),
                 static_cast<size_t>(std::min<uint64_t>(len, zero_block.size())));
      return true;
    };
    fs::ReadResult r;
    try {
      r = fs::read_sequential(
          *image,
          [&](uint64_t, std::span<const std::byte> b) {
            h.update(b);
            return true;
          },
          opts);
    } catch (const fs::EvidenceError& e) {
      fail(Exit::usage, e.what());
    }
    auto d = h.finish();
    // A digest over ranges that could not be read is not the image's: none is given then.
    const bool whole = r.errors.empty();
    if (*json) {
      nlohmann::json j = {{"image", *image},
                          {"bytes", r.bytes},
                          {"complete", whole},
                          {"parallel_ewf", r.used_raw_chunks}};
      for (const char* k : {"md5", "sha1", "sha256"}) j[k] = nullptr;
      if (whole) j.update({{"md5", d.md5}, {"sha1", d.sha1}, {"sha256", d.sha256}});
      nlohmann::json errs = nlohmann::json::array();
      for (auto& e : r.errors)
        errs.push_back({{"img_offset", e.img_offset}, {"len", e.len}, {"message", e.message}});
      j["errors"] = errs;
      std::cout << base::dump(j, 2) << "\n";
    } else if (whole) {
      fmt::print("Bytes:   {}\n", r.bytes);
      if (!d.md5.empty()) fmt::print("MD5:     {}\n", d.md5);
      if (!d.sha1.empty()) fmt::print("SHA-1:   {}\n", d.sha1);
      if (!d.sha256.empty()) fmt::print("SHA-256: {}\n", d.sha256);
    }
    if (!whole) {
      std::cerr << "safehold: " << base::printable(*image) << ": not hashed: " << r.errors.size()
                << (r.errors.size() == 1 ? " range" : " ranges")
                << " of the image cannot be read\n";
      for (auto& e : r.errors)
        std::cerr << "safehold: " << base::printable(*image) << ": " << e.message << "\n";
      throw CommandExit{static_cast<int>(Exit::failed)};
    }
  });
}

Registrar reg(10, register_info);
Registrar reg_hash(11, register_hash);

}  // namespace
}  // namespace safehold::tools
