// Decoding JPEG (libjpeg-turbo) and PNG (libpng's simplified API) into 8-bit RGB or grey for
// hashing. Images come from evidence: any damage is an error value, never a crash or a longjmp
// across C++ frames (the setjmp frame holds no C++ object).
#include <fmt/core.h>
#include <jpeglib.h>
#include <png.h>

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "pdq/pdq.hpp"

namespace safehold::pdq {

namespace {

struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_error_exit(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  std::longjmp(e->jump, 1);
}
void jpeg_quiet(j_common_ptr, int) {}

struct JpegOut {
  // Returns the buffer for the whole image, or with `row` set, for one row that row() then takes.
  uint8_t* (*alloc)(void* ctx, int w, int h, int channels);
  void (*row)(void* ctx, const uint8_t* pixels, int y, int w, int channels);
  void* ctx;
  uint64_t max_pixels;
  int min_short_side;  // > 0: DCT-scale while the short side stays at least this long
  bool rgbx;           // colour as RGBX (the same RGB values, 4 bytes a pixel: vectorises)
  unsigned stored_width, stored_height;
  char error[JMSG_LENGTH_MAX + 64];
};

// The largest power-of-two reduction libjpeg-turbo scales by in the DCT (1/2, 1/4, 1/8) that
// leaves at least min_short pixels on the short side (its output size rounds up).
unsigned scale_denominator(unsigned width, unsigned height, int min_short) {
  const unsigned short_side = std::min(width, height);
  unsigned denom = 1;
  while (denom < 8 && short_side / (denom * 2) >= static_cast<unsigned>(min_short)) denom *= 2;
  return denom;
}

// C-style on purpose: between setjmp and the last libjpeg call only PODs live here.
bool decode_jpeg_raw(const uint8_t* data, size_t size, JpegOut* out) {
  jpeg_decompress_struct cinfo;
  JpegError err;
  std::memset(&cinfo, 0, sizeof cinfo);
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_error_exit;
  err.mgr.emit_message = jpeg_quiet;
  err.message[0] = 0;
  if (setjmp(err.jump)) {
    std::snprintf(out->error, sizeof out->error, "JPEG: %s", err.message);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  if (static_cast<uint64_t>(cinfo.image_width) * cinfo.image_height > out->max_pixels) {
    std::snprintf(out->error, sizeof out->error, "JPEG: %ux%u is too large to hash",
                  cinfo.image_width, cinfo.image_height);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  out->stored_width = cinfo.image_width;
  out->stored_height = cinfo.image_height;
  cinfo.out_color_space = cinfo.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE
                          : out->rgbx                             ? JCS_EXT_RGBX
                                                                  : JCS_RGB;
  const unsigned denom =
      out->min_short_side > 0
          ? scale_denominator(cinfo.image_width, cinfo.image_height, out->min_short_side)
          : 1;
  if (denom > 1) {
    cinfo.scale_num = 1;
    cinfo.scale_denom = denom;
    // The Y channel alone: libjpeg-turbo then skips the chroma's IDCT, upsampling and colour
    // conversion.
    if (cinfo.jpeg_color_space == JCS_YCbCr || cinfo.jpeg_color_space == JCS_RGB)
      cinfo.out_color_space = JCS_GRAYSCALE;
  }
  jpeg_start_decompress(&cinfo);
  int w = static_cast<int>(cinfo.output_width), h = static_cast<int>(cinfo.output_height);
  int ch = cinfo.output_components;
  uint8_t* pixels = out->alloc(out->ctx, w, h, ch);
  while (cinfo.output_scanline < cinfo.output_height) {
    const int y = static_cast<int>(cinfo.output_scanline);
    JSAMPROW row = out->row ? pixels : pixels + static_cast<size_t>(y) * w * ch;
    jpeg_read_scanlines(&cinfo, &row, 1);
    if (out->row) out->row(out->ctx, pixels, y, w, ch);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

uint8_t* alloc_image(void* ctx, int w, int h, int channels) {
  auto* img = static_cast<Image*>(ctx);
  img->width = w;
  img->height = h;
  img->channels = channels;
  img->pixels.assign(static_cast<size_t>(w) * h * channels, 0);
  return img->pixels.data();
}

// luma_of of `n` packed pixels of `Stride` bytes (colour first): with the stride a constant, the
// compiler vectorises the loop (the same operations as luma_of).
template <int Stride>
void luma_packed(const uint8_t* p, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = luma_of(p + Stride * i, 3);
}

// Straight to luma: one decoded row at a time into the workspace.
struct LumaOut {
  Workspace* ws;
  int w = 0, h = 0;
};

uint8_t* alloc_luma(void* ctx, int w, int h, int channels) {
  auto* o = static_cast<LumaOut*>(ctx);
  o->w = w;
  o->h = h;
  o->ws->luma.get(static_cast<size_t>(w) * static_cast<size_t>(h));
  return o->ws->pixels.get(static_cast<size_t>(w) * static_cast<size_t>(channels));
}

void luma_row(void* ctx, const uint8_t* p, int y, int w, int channels) {
  auto* o = static_cast<LumaOut*>(ctx);
  float* out = o->ws->luma.get(0) + static_cast<size_t>(y) * static_cast<size_t>(w);
  if (channels == 4) {
    luma_packed<4>(p, out, static_cast<size_t>(w));
  } else if (channels == 3) {
    luma_packed<3>(p, out, static_cast<size_t>(w));
  } else {
    for (int x = 0; x < w; ++x, p += channels) out[x] = luma_of(p, channels);
  }
}

// PNG through libpng's simplified API as 8-bit RGBA into `rgba` (grown as needed): the reference
// hashes the colour channels and ignores alpha.
bool read_png_rgba(std::span<const uint8_t> data, Scratch<uint8_t>& rgba, int* width, int* height,
                   std::string* error, uint64_t max_pixels) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  auto fail = [&](const char* what) {
    if (error) *error = fmt::format("PNG: {}", what);
    png_image_free(&image);
    return false;
  };
  if (!png_image_begin_read_from_memory(&image, data.data(), data.size()))
    return fail(image.message);
  if (uint64_t{image.width} * image.height > max_pixels) return fail("too large to hash");
  image.format = PNG_FORMAT_RGBA;
  uint8_t* out = rgba.get(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, out, 0, nullptr)) return fail(image.message);
  *width = static_cast<int>(image.width);
  *height = static_cast<int>(image.height);
  png_image_free(&image);
  return true;
}

bool decode_png_luma(std::span<const uint8_t> data, Workspace& ws, int* width, int* height,
                     std::string* error, uint64_t max_pixels) {
  if (!read_png_rgba(data, ws.pixels, width, height, error, max_pixels)) return false;
  const size_t n = static_cast<size_t>(*width) * static_cast<size_t>(*height);
  luma_packed<4>(ws.pixels.get(0), ws.luma.get(n), n);
  return true;
}

std::optional<Image> decode_png(std::span<const uint8_t> data, std::string* error,
                                uint64_t max_pixels) {
  Scratch<uint8_t> rgba;
  Image img;
  if (!read_png_rgba(data, rgba, &img.width, &img.height, error, max_pixels)) return std::nullopt;
  img.channels = 3;
  img.pixels.resize(static_cast<size_t>(img.width) * img.height * 3);
  const uint8_t* p = rgba.get(0);
  for (size_t i = 0, n = static_cast<size_t>(img.width) * img.height; i < n; ++i)
    std::memcpy(&img.pixels[i * 3], p + i * 4, 3);
  return img;
}

}  // namespace

bool read_whole_file(const std::filesystem::path& path, std::vector<uint8_t>& out) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return false;
  const std::streamoff size = in.tellg();
  if (size < 0) return false;
  out.resize(static_cast<size_t>(size));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(out.data()), size);
  return static_cast<bool>(in) || in.gcount() == size;
}

std::optional<Image> decode_image(std::span<const uint8_t> data, std::string* error,
                                  uint64_t max_pixels) {
  static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (data.size() >= 8 && std::memcmp(data.data(), png_sig, 8) == 0)
    return decode_png(data, error, max_pixels);
  if (data.size() >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff) {
    Image img;
    JpegOut out{&alloc_image, nullptr, &img, max_pixels, 0, false, 0, 0, {0}};
    if (!decode_jpeg_raw(data.data(), data.size(), &out)) {
      if (error) *error = out.error;
      return std::nullopt;
    }
    return img;
  }
  if (error) *error = "not a JPEG or PNG image";
  return std::nullopt;
}

bool decode_luma(std::span<const uint8_t> data, Workspace& ws, int* width, int* height,
                 std::string* error, const EncodedOptions& opts, int* stored_width,
                 int* stored_height) {
  static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (data.size() >= 8 && std::memcmp(data.data(), png_sig, 8) == 0) {
    if (!decode_png_luma(data, ws, width, height, error, opts.max_pixels)) return false;
    if (stored_width) *stored_width = *width;
    if (stored_height) *stored_height = *height;
    return true;
  }
  if (data.size() >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff) {
    LumaOut lo{&ws};
    JpegOut out{&alloc_luma, &luma_row, &lo, opts.max_pixels, 0, true, 0, 0, {0}};
    if (opts.jpeg == JpegDecode::Scaled) out.min_short_side = opts.min_short_side;
    if (!decode_jpeg_raw(data.data(), data.size(), &out)) {
      if (error) *error = out.error;
      return false;
    }
    *width = lo.w;
    *height = lo.h;
    if (stored_width) *stored_width = static_cast<int>(out.stored_width);
    if (stored_height) *stored_height = static_cast<int>(out.stored_height);
    return true;
  }
  if (error) *error = "not a JPEG or PNG image";
  return false;
}

std::optional<Image> decode_image_file(const std::filesystem::path& path, std::string* error) {
  std::vector<uint8_t> data;
  if (!read_whole_file(path, data)) {
    if (error) *error = "cannot open";
    return std::nullopt;
  }
  return decode_image(data, error);
}

}  // namespace safehold::pdq
