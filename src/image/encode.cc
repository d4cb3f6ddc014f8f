#include "image/encode.h"

#include <jpeglib.h>

#include <algorithm>
#include <csetjmp>
#include <cstdlib>

#include "image/resize.h"

namespace imgsearch::image {
namespace {

struct EncodeErrors {
  jpeg_error_mgr base;
  jmp_buf jump;
};

void OnEncodeError(j_common_ptr cinfo) {
  longjmp(reinterpret_cast<EncodeErrors*>(cinfo->err)->jump, 1);
}

// Holds no C++ objects with destructors: libjpeg's errors longjmp across it.
bool RunEncode(const Image& image, int quality, jpeg_compress_struct* cinfo, EncodeErrors* errors,
               unsigned char** buffer, unsigned long* size) {
  if (setjmp(errors->jump)) return false;
  jpeg_create_compress(cinfo);
  jpeg_mem_dest(cinfo, buffer, size);
  cinfo->image_width = static_cast<JDIMENSION>(image.width);
  cinfo->image_height = static_cast<JDIMENSION>(image.height);
  cinfo->input_components = 3;
  cinfo->in_color_space = JCS_RGB;
  jpeg_set_defaults(cinfo);
  jpeg_set_quality(cinfo, quality, TRUE);
  jpeg_start_compress(cinfo, TRUE);
  while (cinfo->next_scanline < cinfo->image_height) {
    JSAMPROW row = const_cast<uint8_t*>(image.Pixel(0, static_cast<int>(cinfo->next_scanline)));
    jpeg_write_scanlines(cinfo, &row, 1);
  }
  jpeg_finish_compress(cinfo);
  return true;
}

}  // namespace

Result<std::string> EncodeJpeg(const Image& image, int quality) {
  if (image.width <= 0 || image.height <= 0)
    return Status::InvalidArgument("cannot encode an empty image");
  jpeg_compress_struct cinfo;
  EncodeErrors errors;
  cinfo.err = jpeg_std_error(&errors.base);
  errors.base.error_exit = OnEncodeError;
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  bool ok = RunEncode(image, std::clamp(quality, 1, 100), &cinfo, &errors, &buffer, &size);
  jpeg_destroy_compress(&cinfo);
  std::string out = ok ? std::string(reinterpret_cast<char*>(buffer), size) : std::string();
  std::free(buffer);
  if (!ok) return Status::Internal("JPEG encoding failed");
  return out;
}

Image Thumbnail(const Image& image, int max_side) {
  int longest = std::max(image.width, image.height);
  if (longest <= max_side) return image;
  int w = std::max(1, image.width * max_side / longest),
      h = std::max(1, image.height * max_side / longest);
  return Resize(image, w, h, Interpolation::kArea);
}

}  // namespace imgsearch::image
