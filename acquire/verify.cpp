// `safehold verify`: every chunk re-read and checked through the fs/ parallel reader, the digests
// compared with those stored in the E01 and (SHA-256) with the acquisition record beside it.
#include <fmt/core.h>

#include <algorithm>
#include <fstream>
#include <mutex>
#include <thread>

#include "acquire/acquire.hpp"
#include "base/hash.hpp"
#include "fs/image.hpp"
#include "fs/reader.hpp"

namespace safehold::acquire {

namespace fsys = std::filesystem;
using nlohmann::json;

json VerifyResult::to_json() const {
  // A digest that was not computed (damaged image) or is not stored is null, never "".
  const auto digests = [](const base::Digests& d) {
    const auto one = [](const std::string& s) { return s.empty() ? json(nullptr) : json(s); };
    return json{{"md5", one(d.md5)}, {"sha1", one(d.sha1)}, {"sha256", one(d.sha256)}};
  };
  return json{{"ok", ok},
              {"size", size},
              {"computed", digests(computed)},
              {"stored", digests(stored)},
              {"problems", problems}};
}

VerifyResult verify(const fsys::path& image, unsigned threads) {
  VerifyResult v;
  auto img = fs::Image::open(image);
  if (img->format() != fs::ImageFormat::ewf)
    throw fs::EvidenceError(image.string() + ": not an EWF (E01) image");
  const auto& meta = img->ewf_metadata();
  if (meta) {
    v.stored.md5 = meta->md5;
    v.stored.sha1 = meta->sha1;
  }
  v.size = img->size();
  fsys::path record = base_of_image(image);
  record += ".acquire.json";
  std::error_code ec;
  if (fsys::exists(record, ec)) {
    try {
      std::ifstream in(record);
      json r = json::parse(in);
      v.stored.sha256 = r.value("sha256", std::string());
      if (r.contains("size") && r["size"].get<uint64_t>() != v.size)
        v.problems.push_back(fmt::format("the record says {} bytes, the image holds {}",
                                         r["size"].get<uint64_t>(), v.size));
    } catch (const std::exception& e) {
      v.problems.push_back(fmt::format("{}: unreadable record: {}", record.string(), e.what()));
    }
  }
  unsigned want = 1;  // MD5 always: every E01 Safehold writes stores it
  if (!v.stored.sha1.empty()) want |= static_cast<unsigned>(base::HashAlgo::sha1);
  if (!v.stored.sha256.empty()) want |= static_cast<unsigned>(base::HashAlgo::sha256);

  // Hash in a thread of its own per digest, so decompression and hashing use every core.
  std::vector<std::unique_ptr<base::MultiHasher>> hashers;
  std::vector<unsigned> bits;
  for (auto a : {base::HashAlgo::md5, base::HashAlgo::sha1, base::HashAlgo::sha256})
    if (want & static_cast<unsigned>(a)) {
      hashers.push_back(std::make_unique<base::MultiHasher>(static_cast<unsigned>(a)));
      bits.push_back(static_cast<unsigned>(a));
    }
  uint64_t bytes = 0;
  fs::ReadOptions ro;
  ro.threads = threads;
  // Unreadable chunks are named in result.errors and never hashed as zeros: a digest of
  // zero-fill is not the media's, so a damaged image gets no computed digest at all.
  ro.deliver_damaged = false;
  auto result = fs::read_sequential(
      *img,
      [&](uint64_t, std::span<const std::byte> data) {
        if (hashers.size() == 1) {
          hashers[0]->update(data);
        } else {
          std::vector<std::thread> ts;
          for (size_t i = 1; i < hashers.size(); ++i)
            ts.emplace_back([&, i] { hashers[i]->update(data); });
          hashers[0]->update(data);
          for (auto& t : ts) t.join();
        }
        bytes += data.size();
        return true;
      },
      ro);
  // The damaged ranges are disjoint; those found only when decoded were delivered as zeros.
  uint64_t damaged = 0;
  for (auto& e : result.errors) {
    v.problems.push_back("damaged " + e.message);
    damaged += e.len;
  }
  if (!result.errors.empty() || bytes != v.size) {
    const uint64_t readable = result.errors.empty() ? bytes : v.size - std::min(damaged, v.size);
    v.problems.push_back(fmt::format(
        "no digest computed: {} of {} bytes could be read, so the stored digests cannot be checked",
        readable, v.size));
    v.ok = false;
    return v;
  }
  for (size_t i = 0; i < hashers.size(); ++i) {
    auto d = hashers[i]->finish();
    if (bits[i] == 1) v.computed.md5 = d.md5;
    if (bits[i] == 2) v.computed.sha1 = d.sha1;
    if (bits[i] == 4) v.computed.sha256 = d.sha256;
  }
  if (v.stored.md5.empty())
    v.problems.push_back("the image stores no MD5");
  else if (v.stored.md5 != v.computed.md5)
    v.problems.push_back(
        fmt::format("MD5 mismatch: stored {}, computed {}", v.stored.md5, v.computed.md5));
  if (!v.stored.sha1.empty() && v.stored.sha1 != v.computed.sha1)
    v.problems.push_back(
        fmt::format("SHA-1 mismatch: stored {}, computed {}", v.stored.sha1, v.computed.sha1));
  if (!v.stored.sha256.empty() && v.stored.sha256 != v.computed.sha256)
    v.problems.push_back(fmt::format("SHA-256 mismatch: recorded {}, computed {}", v.stored.sha256,
                                     v.computed.sha256));
  v.ok = v.problems.empty();
  return v;
}

}  // namespace safehold::acquire
