// Known-hash sets: streaming import of hash lists (plain text, NSRL RDS v2 and v3, Project VIC
// VICS JSON) into one compact, sorted, memory-mapped file, and fast lookup by MD5, SHA-1 or
// SHA-256. The file format is documented in docs/hashset.md; HashSet reads it, HashSetWriter
// builds it with bounded memory (records are spooled to a temporary file by their first byte and
// each of the 256 buckets is sorted on its own).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace safehold::hashset {

enum class Algo : uint8_t { md5 = 0, sha1 = 1, sha256 = 2 };
inline constexpr int kAlgoCount = 3;
constexpr size_t digest_size(Algo a) {
  return a == Algo::md5 ? 16 : a == Algo::sha1 ? 20 : 32;
}
std::string_view to_string(Algo a);

// A binary digest of one of the three algorithms.
struct Digest {
  Algo algo = Algo::md5;
  std::array<uint8_t, 32> bytes{};
  std::span<const uint8_t> view() const { return {bytes.data(), digest_size(algo)}; }
  std::string hex() const;
};

// Parses 32, 40 or 64 hex digits (either case; surrounding spaces are not allowed).
std::optional<Digest> parse_digest(std::string_view hex);
// Parses hex of exactly digest_size(a) bytes.
std::optional<Digest> parse_digest(std::string_view hex, Algo a);

enum class Format { text, nsrl, nsrl_v3, vics };
std::optional<Format> parse_format(std::string_view s);
std::string_view to_string(Format f);

// Malformed input: what() is one sentence naming the input and the line (or row) number.
class ImportError : public std::runtime_error {
 public:
  ImportError(const std::string& what, uint64_t line) : std::runtime_error(what), line_(line) {}
  uint64_t line() const { return line_; }  // 1-based; 0 when not tied to a line

 private:
  uint64_t line_;
};

struct ImportOptions {
  Format format = Format::text;
  std::string name;        // the set's name, reported with every match; default: input stem
  bool ignorable = false;  // NSRL sets are always ignorable
  unsigned threads = 2;    // for sorting the buckets
  std::function<void(uint64_t bytes_read)> progress;  // called now and then from the reader
};

struct ImportStats {
  uint64_t records = 0;                       // hash-bearing records read from the input
  std::array<uint64_t, kAlgoCount> unique{};  // distinct digests stored, by algorithm
  uint64_t categories = 0;                    // distinct category labels
  double seconds = 0;
};

// Reads INPUT in the given format and writes the set file OUTPUT (atomically: a temporary file
// beside it is renamed at the end). Throws ImportError for malformed input, std::runtime_error
// for I/O failures.
ImportStats import_hashset(const std::filesystem::path& input, const std::filesystem::path& output,
                           const ImportOptions& opts);

// One frame hash of a known video: the PDQ hash as pdq::Hash stores it (sixteen 16-bit words,
// word 15 printed first) and its quality 0..100. The hash set does not interpret it.
struct VideoFrameHash {
  std::array<uint16_t, 16> words{};
  uint8_t quality = 0;
};
inline constexpr size_t kVideoFrameBytes = 33;  // on disk: 16 u16 words, then the quality

// Builds a set file from records pushed one by one; bounded memory whatever the count.
class HashSetWriter {
 public:
  // spool_block: bytes buffered per bucket before spilling to the temporary file (tests use a
  // small value to exercise spilling).
  HashSetWriter(std::filesystem::path output, std::string name, bool ignorable,
                std::string source_format, size_t spool_block = 256 << 10);
  ~HashSetWriter();
  HashSetWriter(const HashSetWriter&) = delete;
  HashSetWriter& operator=(const HashSetWriter&) = delete;

  // The category label ("" for none) is interned; at most 65535 distinct labels.
  uint16_t category_id(std::string_view label);
  void add(const Digest& d, uint16_t category);
  // A known video (at most 1,000,000 frames, a name of at most 65535 bytes). A set holding
  // videos is written as version 2 (docs/hashset.md).
  void add_video(std::string_view name, uint16_t category,
                 const std::vector<VideoFrameHash>& frames);
  // Sorts, removes duplicates (the lowest category id wins), writes and renames into place.
  ImportStats finish(unsigned threads = 2);

 private:
  ImportStats finish_to(const std::string& tmp_name, unsigned threads);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct Match {
  std::string set;                      // the set's name
  std::optional<std::string> category;  // nullopt when the list gave none
  bool ignorable = false;
  // Set for a video matched by its frame hashes (vPDQ's rule) rather than by a digest: the known
  // video's name in the set and the percentage of the carved video's frames found in it.
  std::optional<std::string> video;
  std::optional<double> video_percent;
};

// A known video: its frame hashes as vPDQ computed them. In a set file it is read in place.
struct KnownVideo {
  std::string_view name;  // e.g. the vPDQ file's name it was imported from
  uint16_t category = 0;
  std::span<const uint8_t> frames;  // count() * kVideoFrameBytes bytes
  size_t count() const { return frames.size() / kVideoFrameBytes; }
  VideoFrameHash frame(size_t i) const;
};

// A read-only, memory-mapped set file. Lookups are thread-safe.
class HashSet {
 public:
  // Throws std::runtime_error naming the file when it cannot be opened or is not a valid set.
  static std::unique_ptr<HashSet> open(const std::filesystem::path& path);
  ~HashSet();
  HashSet(const HashSet&) = delete;
  HashSet& operator=(const HashSet&) = delete;

  const std::string& name() const { return name_; }
  bool ignorable() const { return ignorable_; }
  const std::string& source_format() const { return source_format_; }
  uint64_t count(Algo a) const { return tables_[static_cast<int>(a)].count; }
  const std::vector<std::string>& categories() const { return categories_; }

  // The category id (0 = none) of a present digest, or -1 when absent.
  int find(const Digest& d) const;
  std::optional<Match> lookup(const Digest& d) const;
  // The known videos (version 2 sets), in the order they were added.
  const std::vector<KnownVideo>& videos() const { return videos_; }
  // The match a known video gives (its set, category, ignorable, name).
  Match video_match(const KnownVideo& v) const;
  // Looks up many digests of one algorithm (n * digest_size bytes, packed) with software
  // prefetching; out[i] = category id or -1. Several times faster than one by one on big sets.
  void find_many(Algo a, const uint8_t* digests, size_t n, int32_t* out) const;

 private:
  HashSet() = default;
  struct Table {
    const uint8_t* records = nullptr;  // count * (digest_size + 2) bytes, sorted by digest
    uint64_t count = 0;
    const uint32_t* index = nullptr;  // (1 << index_bits) + 1 start positions
    uint32_t index_bits = 0;
  };
  std::string name_;
  bool ignorable_ = false;
  std::string source_format_;
  std::vector<std::string> categories_;  // [0] = "" (none)
  std::array<Table, kAlgoCount> tables_{};
  std::vector<KnownVideo> videos_;
  void read_videos(const uint8_t* base, uint64_t size, uint64_t off, uint64_t len, uint64_t count);
  void* map_ = nullptr;
  size_t map_size_ = 0;
};

// Several sets opened together; the first match (in the order given) wins.
class HashSets {
 public:
  void add(std::unique_ptr<HashSet> s) { sets_.push_back(std::move(s)); }
  bool empty() const { return sets_.empty(); }
  // Tries SHA-256, then SHA-1, then MD5 (whichever are non-empty hex strings).
  std::optional<Match> lookup(std::string_view md5, std::string_view sha1,
                              std::string_view sha256) const;
  const std::vector<std::unique_ptr<HashSet>>& sets() const { return sets_; }

 private:
  std::vector<std::unique_ptr<HashSet>> sets_;
};

}  // namespace safehold::hashset
