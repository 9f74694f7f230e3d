#include "carve/walker.hpp"

#include <algorithm>

namespace safehold::carve {

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::valid:
      return "valid";
    case Verdict::truncated:
      return "truncated";
    case Verdict::invalid:
      return "invalid";
    case Verdict::need_more:
      return "need_more";
  }
  return "unknown";
}

const Registry& Registry::builtin() {
  static const Registry reg = [] {
    Registry r;
    r.add(make_jpeg_walker(), Category::media);
    r.add(make_png_walker(), Category::media);
    r.add(make_gif_walker(), Category::media);
    r.add(make_riff_walker(), Category::media);
    r.add(make_isobmff_walker(), Category::media);
    r.add(make_asf_walker(), Category::media);
    r.add(make_ebml_walker(), Category::media);
    r.add(make_tiff_walker(), Category::media);
    r.add(make_bmp_walker(), Category::media);
    r.add(make_sqlite_walker(), Category::chat);
    return r;
  }();
  return reg;
}

void Registry::add(std::unique_ptr<Walker> w, Category c) {
  max_header_ = std::max(max_header_, w->header_size());
  for (unsigned char b : w->lead_bytes()) by_lead_[b].push_back(order_.size());
  for (const TypeInfo& t : w->types()) types_.push_back({&t, w.get(), c});
  order_.push_back(w.get());
  cats_.push_back(c);
  owned_.push_back(std::move(w));
}

const Walker* Registry::find(std::string_view name) const {
  for (auto* w : order_)
    if (w->name() == name) return w;
  return nullptr;
}

Category Registry::category(const Walker* w) const {
  for (size_t i = 0; i < order_.size(); ++i)
    if (order_[i] == w) return cats_[i];
  return Category::media;
}

size_t Registry::index_of(const Walker* w) const {
  return static_cast<size_t>(std::find(order_.begin(), order_.end(), w) - order_.begin());
}

const Walker* Registry::identify(const ByteView& v) const {
  for (size_t i : by_lead_[v.at(0)])
    if (order_[i]->probe(v)) return order_[i];
  return nullptr;
}

const Walker* Registry::identify(const ByteView& v, const std::vector<bool>& wanted) const {
  for (size_t i : by_lead_[v.at(0)])
    if (wanted[i] && order_[i]->probe(v)) return order_[i];
  return nullptr;
}

const TypeRow* Registry::find_type(std::string_view name) const {
  for (auto& row : types_) {
    if (row.info->name == name) return &row;
    for (auto a : row.info->aliases)
      if (a == name) return &row;
  }
  return nullptr;
}

bool extension_fits(std::string_view type, std::string_view ext) {
  for (auto& row : Registry::builtin().types()) {
    if (row.info->name != type) continue;
    const auto& exts = row.info->extensions;
    return exts.empty() || std::find(exts.begin(), exts.end(), ext) != exts.end();
  }
  return true;  // not a type of ours: nothing to compare with
}

}  // namespace safehold::carve
