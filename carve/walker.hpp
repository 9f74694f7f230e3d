// Format walkers: Safehold's carving plug-ins. Each walker recognises one family of formats by its
// header, walks the structure to the true end and validates it. Contract (who calls what):
//
// | call        | caller                         | may                                          |
// |-------------|--------------------------------|----------------------------------------------|
// | probe()     | pass 1 (file start), pass 2 at | read only the view; cheap; no allocation      |
// |             | every sector start             |                                              |
// | walk()      | pass 1 on a whole file, pass 2 | read only the view; bounded work (every loop  |
// |             | on the bytes buffered so far   | advances; sizes are checked); return need_more |
// |             |                                | when the structure runs past the view        |
//
// Walkers are const objects with no mutable state (per-walk state lives in the walk call), so one
// registry serves every thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "carve/view.hpp"

namespace safehold::carve {

enum class Verdict {
  valid,      // the structure is complete and consistent; length is the true end
  truncated,  // it starts well but the data ends before the structure does (length = view size)
  invalid,    // not this format, or damaged beyond the header; error_at says where
  need_more,  // the structure continues past the view: call again with at least `need` bytes
};
const char* to_string(Verdict v);

// Something found inside an artefact that is an artefact of its own (an EXIF thumbnail).
struct Embedded {
  uint64_t offset = 0;  // from the start of the walked view
  uint64_t length = 0;
  std::string kind;  // "exif_thumbnail"
};

struct WalkResult {
  Verdict verdict = Verdict::invalid;
  uint64_t length = 0;    // bytes from the view start to the true end
  uint64_t need = 0;      // need_more: bytes wanted from the view start
  uint64_t error_at = 0;  // invalid: first offset found wrong (for fragment recovery)
  std::string type;       // refined type: "mp4", "mov", "heif", "webm", ...
  std::string ext;
  std::string mime;
  std::vector<std::string> warnings;
  std::vector<Embedded> embedded;
};

class Walker {
 public:
  virtual ~Walker() = default;
  virtual std::string_view name() const = 0;  // family: "jpeg", "png", "isobmff", "riff", ...
  virtual size_t header_size() const = 0;     // bytes probe() needs
  virtual bool probe(const ByteView& v) const = 0;
  virtual WalkResult walk(const ByteView& v) const = 0;
};

// Media types and chat databases, as `--types` names them.
enum class Category { media, chat };

// All built-in walkers, in probe order. Add a new format here and in walkers/.
class Registry {
 public:
  static const Registry& builtin();
  Registry() = default;
  void add(std::unique_ptr<Walker> w, Category c);
  const std::vector<const Walker*>& all() const { return order_; }
  const Walker* find(std::string_view name) const;
  Category category(const Walker* w) const;
  // The first walker whose probe accepts the view's start, or nullptr.
  const Walker* identify(const ByteView& v) const;
  // Largest header any walker needs.
  size_t max_header() const { return max_header_; }

 private:
  std::vector<std::unique_ptr<Walker>> owned_;
  std::vector<const Walker*> order_;
  std::vector<Category> cats_;
  size_t max_header_ = 0;
};

// Factories (walkers/*.cpp).
std::unique_ptr<Walker> make_jpeg_walker();
std::unique_ptr<Walker> make_png_walker();
std::unique_ptr<Walker> make_gif_walker();
std::unique_ptr<Walker> make_bmp_walker();
std::unique_ptr<Walker> make_riff_walker();  // WebP, AVI
std::unique_ptr<Walker> make_tiff_walker();
std::unique_ptr<Walker> make_isobmff_walker();  // MP4, MOV, 3GP, M4V, HEIF/HEIC
std::unique_ptr<Walker> make_asf_walker();
std::unique_ptr<Walker> make_ebml_walker();  // Matroska, WebM
std::unique_ptr<Walker> make_sqlite_walker();

// File-name extensions that honestly name a type ("jpeg" -> jpg, jpeg, jpe, jfif...).
bool extension_fits(std::string_view type, std::string_view ext_lower);

}  // namespace safehold::carve
