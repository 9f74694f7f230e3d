// Decoding JPEG (libjpeg-turbo) and PNG (libpng's simplified API) into 8-bit RGB or grey for
// hashing. Images come from evidence: any damage is an error value, never a crash or a longjmp
// across C++ frames (the setjmp frame holds no C++ object).
#include <fmt/core.h>
#include <jpeglib.h>
#include <png.h>

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
  char error[JMSG_LENGTH_MAX + 64];
};

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
  cinfo.out_color_space = cinfo.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
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

// Straight to luma: one decoded row at a time into per-thread buffers.
struct LumaOut {
  std::vector<float>* luma;
  std::vector<uint8_t>* row;
  int w = 0, h = 0;
};

uint8_t* alloc_luma(void* ctx, int w, int h, int channels) {
  auto* o = static_cast<LumaOut*>(ctx);
  o->w = w;
  o->h = h;
  const size_t n = static_cast<size_t>(w) * static_cast<size_t>(h);
  if (o->luma->size() < n) o->luma->resize(n);
  const size_t r = static_cast<size_t>(w) * static_cast<size_t>(channels);
  if (o->row->size() < r) o->row->resize(r);
  return o->row->data();
}

void luma_row(void* ctx, const uint8_t* p, int y, int w, int channels) {
  auto* o = static_cast<LumaOut*>(ctx);
  float* out = o->luma->data() + static_cast<size_t>(y) * static_cast<size_t>(w);
  if (channels == 3) {
    luma_packed<3>(p, out, static_cast<size_t>(w));
  } else {
    for (int x = 0; x < w; ++x, p += channels) out[x] = luma_of(p, channels);
  }
}

// PNG through libpng's simplified API as 8-bit RGBA into `rgba` (grown as needed): the reference
// hashes the colour channels and ignores alpha.
bool read_png_rgba(std::span<const uint8_t> data, std::vector<uint8_t>& rgba, int* width,
                   int* height, std::string* error, uint64_t max_pixels) {
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
  if (rgba.size() < PNG_IMAGE_SIZE(image)) rgba.resize(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, rgba.data(), 0, nullptr)) return fail(image.message);
  *width = static_cast<int>(image.width);
  *height = static_cast<int>(image.height);
  png_image_free(&image);
  return true;
}

bool decode_png_luma(std::span<const uint8_t> data, std::vector<float>& luma, int* width,
                     int* height, std::string* error, uint64_t max_pixels) {
  thread_local std::vector<uint8_t> rgba;
  if (!read_png_rgba(data, rgba, width, height, error, max_pixels)) return false;
  const size_t n = static_cast<size_t>(*width) * static_cast<size_t>(*height);
  if (luma.size() < n) luma.resize(n);
  luma_packed<4>(rgba.data(), luma.data(), n);
  return true;
}

std::optional<Image> decode_png(std::span<const uint8_t> data, std::string* error,
                                uint64_t max_pixels) {
  std::vector<uint8_t> rgba;
  Image img;
  if (!read_png_rgba(data, rgba, &img.width, &img.height, error, max_pixels)) return std::nullopt;
  img.channels = 3;
  img.pixels.resize(static_cast<size_t>(img.width) * img.height * 3);
  for (size_t i = 0, n = static_cast<size_t>(img.width) * img.height; i < n; ++i)
    std::memcpy(&img.pixels[i * 3], &rgba[i * 4], 3);
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
    JpegOut out{&alloc_image, nullptr, &img, max_pixels, {0}};
    if (!decode_jpeg_raw(data.data(), data.size(), &out)) {
      if (error) *error = out.error;
      return std::nullopt;
    }
    return img;
  }
  if (error) *error = "not a JPEG or PNG image";
  return std::nullopt;
}

bool decode_luma(std::span<const uint8_t> data, std::vector<float>& luma, int* width, int* height,
                 std::string* error, uint64_t max_pixels) {
  static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (data.size() >= 8 && std::memcmp(data.data(), png_sig, 8) == 0)
    return decode_png_luma(data, luma, width, height, error, max_pixels);
  if (data.size() >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff) {
    thread_local std::vector<uint8_t> row;
    LumaOut lo{&luma, &row};
    JpegOut out{&alloc_luma, &luma_row, &lo, max_pixels, {0}};
    if (!decode_jpeg_raw(data.data(), data.size(), &out)) {
      if (error) *error = out.error;
      return false;
    }
    *width = lo.w;
    *height = lo.h;
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
