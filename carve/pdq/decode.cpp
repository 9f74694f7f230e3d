// Decoding JPEG (libjpeg-turbo) and PNG (libpng's simplified API) into 8-bit RGB or grey for
// hashing. Images come from evidence: any damage is an error value, never a crash or a longjmp
// across C++ frames (the setjmp frame holds no C++ object).
#include "carve/pdq/pdq.hpp"

#include <fmt/core.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <jpeglib.h>
#include <png.h>

namespace vigil::carve::pdq {

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
  uint8_t* (*alloc)(void* ctx, int w, int h, int channels);
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
    JSAMPROW row = pixels + static_cast<size_t>(cinfo.output_scanline) * w * ch;
    jpeg_read_scanlines(&cinfo, &row, 1);
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

std::optional<Image> decode_png(std::span<const uint8_t> data, std::string* error,
                                uint64_t max_pixels) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  auto set_error = [&](const char* what) {
    if (error) *error = fmt::format("PNG: {}", what);
  };
  if (!png_image_begin_read_from_memory(&image, data.data(), data.size())) {
    set_error(image.message);
    png_image_free(&image);
    return std::nullopt;
  }
  if (uint64_t{image.width} * image.height > max_pixels) {
    set_error("too large to hash");
    png_image_free(&image);
    return std::nullopt;
  }
  // The reference hashes the colour channels and ignores alpha.
  image.format = PNG_FORMAT_RGBA;
  std::vector<uint8_t> rgba(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, rgba.data(), 0, nullptr)) {
    set_error(image.message);
    png_image_free(&image);
    return std::nullopt;
  }
  Image img;
  img.width = static_cast<int>(image.width);
  img.height = static_cast<int>(image.height);
  img.channels = 3;
  img.pixels.resize(static_cast<size_t>(img.width) * img.height * 3);
  for (size_t i = 0, n = static_cast<size_t>(img.width) * img.height; i < n; ++i)
    std::memcpy(&img.pixels[i * 3], &rgba[i * 4], 3);
  png_image_free(&image);
  return img;
}

}  // namespace

std::optional<Image> decode_image(std::span<const uint8_t> data, std::string* error,
                                  uint64_t max_pixels) {
  static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (data.size() >= 8 && std::memcmp(data.data(), png_sig, 8) == 0)
    return decode_png(data, error, max_pixels);
  if (data.size() >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff) {
    Image img;
    JpegOut out{&alloc_image, &img, max_pixels, {0}};
    if (!decode_jpeg_raw(data.data(), data.size(), &out)) {
      if (error) *error = out.error;
      return std::nullopt;
    }
    return img;
  }
  if (error) *error = "not a JPEG or PNG image";
  return std::nullopt;
}

std::optional<Image> decode_image_file(const std::filesystem::path& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (error) *error = "cannot open";
    return std::nullopt;
  }
  std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return decode_image(data, error);
}

}  // namespace vigil::carve::pdq
