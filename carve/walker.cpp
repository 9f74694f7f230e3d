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

const Walker* Registry::identify(const ByteView& v) const {
  for (auto* w : order_)
    if (w->probe(v)) return w;
  return nullptr;
}

bool extension_fits(std::string_view type, std::string_view ext) {
  struct Row {
    std::string_view type;
    std::initializer_list<std::string_view> exts;
  };
  static const Row rows[] = {
      {"jpeg", {"jpg", "jpeg", "jpe", "jfif", "jif", "thm"}},
      {"png", {"png", "apng"}},
      {"gif", {"gif"}},
      {"bmp", {"bmp", "dib"}},
      {"webp", {"webp"}},
      {"tiff",
       {"tif", "tiff", "dng", "nef", "cr2", "arw", "orf", "rw2", "pef", "srw", "raf", "3fr",
        "erf"}},
      {"heif", {"heic", "heif", "hif", "avif", "heics", "heifs"}},
      {"mp4", {"mp4", "m4v", "m4a", "mp4v", "f4v", "m4p", "mov"}},
      {"m4v", {"m4v", "mp4"}},
      {"m4a", {"m4a", "m4b", "m4p", "mp4"}},
      {"mov", {"mov", "qt", "mp4"}},
      {"3gp", {"3gp", "3g2", "3gpp", "3gpp2", "mp4"}},
      {"avi", {"avi", "divx"}},
      {"asf", {"asf", "wmv", "wma"}},
      {"mkv", {"mkv", "mka", "mk3d", "mks", "webm"}},
      {"webm", {"webm", "mkv"}},
  };
  for (auto& r : rows)
    if (r.type == type) return std::find(r.exts.begin(), r.exts.end(), ext) != r.exts.end();
  return true;  // types without a table (sqlite): any name is honest
}

}  // namespace safehold::carve
