#include "carve/known_mark.hpp"

#include <atomic>
#include <thread>

#include "pdq/pdq.hpp"

namespace safehold::carve {

bool pdq_type(const std::string& type) {
  return type == "jpeg" || type == "png";
}

PdqResult pdq_of_bytes(std::span<const std::byte> data) {
  PdqResult out;
  std::string err;
  int w = 0, h = 0;
  auto r = pdq::hash_encoded(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()), &err,
      &w, &h);
  if (!r) {
    out.warning = "PDQ: " + err;
    return out;
  }
  if (w < 5 || h < 5) return out;  // too small to hash
  out.pdq = r->hash.hex();
  out.quality = r->quality;
  return out;
}

PdqResult pdq_of_file(const std::filesystem::path& file) {
  thread_local std::vector<uint8_t> data;
  if (!pdq::read_whole_file(file, data)) {
    PdqResult out;
    out.warning = "PDQ: cannot open";
    return out;
  }
  return pdq_of_bytes(std::as_bytes(std::span<const uint8_t>(data)));
}

MarkCounts mark_artefacts(std::vector<Artefact>& arts, const std::filesystem::path& outdir,
                          const MarkOptions& opts) {
  MarkCounts c;
  if (opts.pdq) {
    std::vector<size_t> images;
    for (size_t i = 0; i < arts.size(); ++i)
      if (pdq_type(arts[i].type) && !arts[i].file.empty() && !arts[i].pdq_done) images.push_back(i);
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t k; (k = next++) < images.size();) {
        Artefact& a = arts[images[k]];
        PdqResult r = pdq_of_file(outdir / a.file);
        if (r.warning) a.warnings.push_back(*r.warning);
        a.pdq = r.pdq;
        a.pdq_quality = r.quality;
      }
    };
    unsigned n = opts.threads ? opts.threads : std::max(1u, std::thread::hardware_concurrency());
    n = std::min<unsigned>(n, static_cast<unsigned>(std::max<size_t>(1, images.size())));
    std::vector<std::thread> pool;
    for (unsigned i = 1; i < n; ++i) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    for (auto& a : arts)
      if (pdq_type(a.type) && !a.file.empty()) (a.pdq ? c.pdq : c.pdq_failed)++;
  }
  for (auto& a : arts) {
    if (!opts.known || opts.known->empty()) break;
    a.known = opts.known->lookup(a.md5, a.sha1, a.sha256);
    if (!a.known) continue;
    ++c.known;
    if (a.known->ignorable && opts.skip_known_ignorable && !a.file.empty()) {
      std::error_code ec;
      std::filesystem::remove(outdir / a.file, ec);
      if (!ec) {
        a.file.clear();
        ++c.skipped;
      }
    }
  }
  return c;
}

}  // namespace safehold::carve
