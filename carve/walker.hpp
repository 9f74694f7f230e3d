// Format walkers: Safehold's carving plug-ins. Each walker recognises one family of formats by its
// header, walks the structure to the true end and validates it, and declares the report types it
// produces (its rows of the type table: name, `--types` aliases, extensions, MIME).
//
// Lifecycle (who calls what, when):
//
// | step           | when, by whom                                   | a walker may |
// |----------------|-------------------------------------------------|-------------------------------|
// | construction   | once, by its make_*_walker() factory, when      | nothing else: no I/O, no |
// |                | Registry::builtin() is first used               | global state | | types(), |
// once, by Registry::add(): they fill the type    | return static data only       | | lead_bytes()
// | table and the first-byte index                  |                               | | probe() |
// pass 1 on a file's first 4 KiB; pass 2 at every | read only the view; cheap; no | | | sector
// start whose first byte is a lead byte    | allocation                    | | walk()         |
// pass 1 on a whole file, pass 2 on the bytes     | read only the view; bounded   | | | buffered so
// far (again with more on need_more), | work (every loop advances;    | |                | both
// passes' threads at once                    | sizes are checked); return    | |                |
// | need_more when the structure  | |                | | runs past the view            | |
// destruction    | at exit, with the registry                      | nothing |
//
// Walkers are const objects with no mutable state (per-walk state lives in the walk call), so one
// registry serves every thread. A new format: a class in walkers/, its factory below, one
// Registry::add() in walker.cpp, its types() rows; nothing else in carve/ names formats.
#pragma once

#include <array>
#include <memory>
#include <span>
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

// One report type: a row of the type table, declared by the walker that produces it.
struct TypeInfo {
  std::string_view name;  // report type and `--types` name: "jpeg", "mp4", ...
  std::string_view ext;   // the artefact file's usual extension ("jpg")
  std::string_view mime;  // its usual MIME type (a walk may refine ext and MIME: wma, avif, 3g2)
  std::vector<std::string_view> aliases;  // other names `--types` accepts ("jpg")
  // File-name extensions that honestly name the type; empty: any name is honest (sqlite).
  std::vector<std::string_view> extensions;
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

  // Sets type, ext and mime from a row of the walker's type table.
  void set_type(const TypeInfo& t) {
    type = t.name;
    ext = t.ext;
    mime = t.mime;
  }
};

class Walker {
 public:
  virtual ~Walker() = default;
  virtual std::string_view name() const = 0;  // family: "jpeg", "png", "isobmff", "riff", ...
  virtual size_t header_size() const = 0;     // bytes probe() needs
  // The report types this family produces; the first is the one assumed until a walk names one.
  virtual std::span<const TypeInfo> types() const = 0;
  // Every first byte probe() can accept (probe() is only asked about views starting with one).
  virtual std::string_view lead_bytes() const = 0;
  virtual bool probe(const ByteView& v) const = 0;
  virtual WalkResult walk(const ByteView& v) const = 0;
};

// Media types and chat databases, as `--types` names them.
enum class Category { media, chat };

// A row of the type table with the walker family that produces it.
struct TypeRow {
  const TypeInfo* info = nullptr;
  const Walker* walker = nullptr;
  Category category = Category::media;
};

// All built-in walkers, in probe order, and the type table they fill. Add a new format here and
// in walkers/.
class Registry {
 public:
  static const Registry& builtin();
  Registry() = default;
  void add(std::unique_ptr<Walker> w, Category c);
  const std::vector<const Walker*>& all() const { return order_; }
  const Walker* find(std::string_view name) const;
  Category category(const Walker* w) const;
  // The first walker whose probe accepts the view's start (among those `wanted` accepts), or
  // nullptr. Only the walkers whose lead bytes hold the view's first byte are asked.
  const Walker* identify(const ByteView& v) const;
  const Walker* identify(const ByteView& v, const std::vector<bool>& wanted) const;
  // True when some walker may start with this byte (pass 2 skips other sectors unprobed).
  bool may_start(uint8_t first) const { return !by_lead_[first].empty(); }
  // Largest header any walker needs.
  size_t max_header() const { return max_header_; }
  // Position of a walker in all() (for per-walker flags such as `wanted`).
  size_t index_of(const Walker* w) const;

  // The type table: every walker's types, in probe order.
  const std::vector<TypeRow>& types() const { return types_; }
  // A type by name or alias ("jpg" finds jpeg), or nullptr.
  const TypeRow* find_type(std::string_view name_or_alias) const;

 private:
  std::vector<std::unique_ptr<Walker>> owned_;
  std::vector<const Walker*> order_;
  std::vector<Category> cats_;
  std::vector<TypeRow> types_;
  std::array<std::vector<size_t>, 256> by_lead_;  // first byte -> positions in order_
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

// File-name extensions that honestly name a type ("jpeg" -> jpg, jpeg, jpe, jfif...), from the
// type table; types without extensions (sqlite) and unknown types fit any name.
bool extension_fits(std::string_view type, std::string_view ext_lower);

}  // namespace safehold::carve
