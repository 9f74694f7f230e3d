#include "carve/jpeg_check.hpp"

#include <csetjmp>
#include <cstdio>
#include <cstring>
// clang-format off
#include <jpeglib.h>
// clang-format on

namespace safehold::carve {
namespace {

struct ErrMgr {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  size_t consumed;
  const unsigned char* base;
  size_t size;
};

size_t consumed_of(j_common_ptr c, const ErrMgr* e) {
  if (!c->is_decompressor) return 0;
  auto* d = reinterpret_cast<j_decompress_ptr>(c);
  if (!d->src || !d->src->next_input_byte) return 0;
  return static_cast<size_t>(d->src->next_input_byte - e->base);
}

[[noreturn]] void on_error(j_common_ptr c) {
  auto* e = reinterpret_cast<ErrMgr*>(c->err);
  (*c->err->format_message)(c, e->message);
  e->consumed = consumed_of(c, e);
  std::longjmp(e->jump, 1);
}

void on_message(j_common_ptr c, int level) {
  if (level >= 0) return;  // trace messages
  auto* e = reinterpret_cast<ErrMgr*>(c->err);
  (*c->err->format_message)(c, e->message);
  e->consumed = consumed_of(c, e);
  std::longjmp(e->jump, 1);  // a warning means corrupt data: stop here
}

// Everything libjpeg touches between setjmp and longjmp is plain C data, so the jump skips no
// destructor.
void decode(const unsigned char* data, size_t size, uint64_t max_pixels, JpegCheck* out) {
  jpeg_decompress_struct cinfo;
  ErrMgr err;
  std::memset(&err, 0, sizeof err);
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error;
  err.pub.emit_message = on_message;
  err.base = data;
  err.size = size;
  unsigned char* volatile row = nullptr;
  if (setjmp(err.jump)) {
    out->ok = false;
    out->message = err.message;
    out->error_at = err.consumed;
    std::free(row);
    jpeg_destroy_decompress(&cinfo);
    return;
  }
  jpeg_create_decompress(&cinfo);
  cinfo.mem->max_memory_to_use = 256L << 20;
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  out->width = cinfo.image_width;
  out->height = cinfo.image_height;
  out->progressive = cinfo.progressive_mode != 0;
  if (static_cast<uint64_t>(cinfo.image_width) * cinfo.image_height > max_pixels) {
    std::snprintf(err.message, sizeof err.message, "image of %ux%u pixels not decoded (limit)",
                  cinfo.image_width, cinfo.image_height);
    err.consumed = 0;
    std::longjmp(err.jump, 1);
  }
  cinfo.scale_num = 1;
  cinfo.scale_denom = 8;
  cinfo.dct_method = JDCT_IFAST;
  cinfo.do_fancy_upsampling = FALSE;
  cinfo.do_block_smoothing = FALSE;
  jpeg_start_decompress(&cinfo);
  size_t stride =
      static_cast<size_t>(cinfo.output_width) * static_cast<size_t>(cinfo.output_components);
  row = static_cast<unsigned char*>(std::malloc(stride ? stride : 1));
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW rows[1] = {row};
    if (jpeg_read_scanlines(&cinfo, rows, 1) != 1) break;
  }
  jpeg_finish_decompress(&cinfo);
  out->end = size - cinfo.src->bytes_in_buffer;
  out->ok = true;
  std::free(row);
  row = nullptr;
  jpeg_destroy_decompress(&cinfo);
}

}  // namespace

JpegCheck check_jpeg(std::span<const std::byte> data, uint64_t max_pixels) {
  JpegCheck out;
  if (data.empty()) {
    out.message = "empty";
    return out;
  }
  decode(reinterpret_cast<const unsigned char*>(data.data()), data.size(), max_pixels, &out);
  return out;
}

}  // namespace safehold::carve
