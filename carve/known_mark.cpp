#include "carve/known_mark.hpp"

#include "pdq/pdq.hpp"

namespace safehold::carve {

std::optional<hashset::Match> KnownCheck::lookup(const base::Digests& d) const {
  if (!sets_ || sets_->empty()) return std::nullopt;
  return sets_->lookup(d.md5, d.sha1, d.sha256);
}

void KnownCheck::remove_ignorable_databases(std::vector<Artefact>& arts,
                                            const std::filesystem::path& outdir) const {
  if (!skip_) return;
  for (auto& a : arts) {
    if (a.type != "sqlite" || !a.known || !a.known->ignorable || a.file.empty()) continue;
    std::error_code ec;
    std::filesystem::remove(outdir / a.file, ec);
    if (!ec) a.file.clear();
  }
}

KnownCounts count_known(const std::vector<Artefact>& arts) {
  KnownCounts c;
  for (auto& a : arts) {
    if (!a.known) continue;
    ++c.known;
    if (a.known->ignorable && a.file.empty()) ++c.skipped;
  }
  return c;
}

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

void apply_pdq(Artefact& a, const PdqResult& r) {
  a.pdq = r.pdq;
  a.pdq_quality = r.quality;
  if (r.warning) a.warnings.push_back(*r.warning);
}

}  // namespace safehold::carve
