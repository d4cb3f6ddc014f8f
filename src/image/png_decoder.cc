// PNG through libpng: every bit depth and colour type becomes 8-bit RGB.
#include <png.h>

#include <csetjmp>
#include <cstring>

#include "image/decoders.h"
#include "image/exif.h"

namespace imgsearch::image {
namespace {

struct PngJob {
  std::string_view bytes;
  size_t offset = 0;
  const DecodeOptions* options;
  Decoded* out;
  Status* status;
  std::vector<png_bytep>* rows;
  char message[200];
};

void ReadFromMemory(png_structp png, png_bytep data, png_size_t length) {
  auto* job = static_cast<PngJob*>(png_get_io_ptr(png));
  if (job->bytes.size() - job->offset < length) png_error(png, "file is truncated");
  std::memcpy(data, job->bytes.data() + job->offset, length);
  job->offset += length;
}

void OnError(png_structp png, png_const_charp message) {
  auto* job = static_cast<PngJob*>(png_get_error_ptr(png));
  std::snprintf(job->message, sizeof(job->message), "%s", message);
  png_longjmp(png, 1);
}

void OnWarning(png_structp, png_const_charp) {}

// Asks libpng to hand every pixel over as 8-bit RGB, as PIL's convert("RGB") would:
// 16-bit samples keep their high byte, palettes expand, alpha is dropped.
void RequestRgb8(png_structp png, png_infop info) {
  int color_type = png_get_color_type(png, info);
  if (png_get_bit_depth(png, info) == 16) png_set_strip_16(png);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8) {
    png_set_expand_gray_1_2_4_to_8(png);
  }
  if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) {
    png_set_gray_to_rgb(png);
  }
  if (color_type & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
}

void ReadExif(png_structp png, png_infop info, Decoded* out) {
#ifdef PNG_eXIf_SUPPORTED
  png_uint_32 size = 0;
  png_bytep exif = nullptr;
  if (png_get_eXIf_1(png, info, &size, &exif) != 0 && exif != nullptr) {
    out->exif_orientation =
        ParseExifOrientation(std::string_view(reinterpret_cast<const char*>(exif), size));
  }
#else
  (void)png, (void)info, (void)out;
#endif
}

// Holds no C++ objects with destructors: png_error longjmps across it.
bool RunDecode(PngJob* job, png_structp png, png_infop info) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_read_fn(png, job, ReadFromMemory);
  png_read_info(png, info);
  png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
  *job->status = CheckDimensions(width, height, *job->options);
  if (!job->status->ok()) return false;
  RequestRgb8(png, info);
  if (png_get_rowbytes(png, info) != static_cast<size_t>(width) * 3) {
    png_error(png, "unexpected row layout after conversion");
  }
  Image& image = job->out->image;
  image = MakeImage(static_cast<int>(width), static_cast<int>(height));
  job->rows->resize(height);
  for (png_uint_32 y = 0; y < height; ++y) (*job->rows)[y] = &image.rgb[size_t{y} * width * 3];
  png_read_image(png, job->rows->data());
  png_read_end(png, info);
  ReadExif(png, info, job->out);
  return true;
}

}  // namespace

Result<Decoded> DecodePng(std::string_view bytes, const DecodeOptions& options) {
  Decoded out;
  Status status;
  std::vector<png_bytep> rows;
  PngJob job{bytes, 0, &options, &out, &status, &rows, {}};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &job, OnError, OnWarning);
  if (png == nullptr) return Status::Internal("libpng could not start");
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    return Status::Internal("libpng could not start");
  }
  png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
  bool decoded = RunDecode(&job, png, info);
  png_destroy_read_struct(&png, &info, nullptr);
  if (decoded) return out;
  if (!status.ok()) return status;
  return Status::Corruption(std::string("bad PNG data: ") + job.message);
}

}  // namespace imgsearch::image
