// JPEG through libjpeg-turbo, with DCT-domain downscaling and CMYK support.
#include <csetjmp>
#include <cstdio>
#include <cstring>

#include <jpeglib.h>
// jerror.h after jpeglib.h: it needs its types.
#include <jerror.h>

#include "image/decoders.h"
#include "image/exif.h"

namespace imgsearch::image {
namespace {

// libjpeg reports fatal errors through a callback that must not return: we longjmp back
// to the decode function. Everything the jump crosses is plain C state.
struct JpegErrorManager {
  jpeg_error_mgr base;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void OnFatalError(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, errors->message);
  longjmp(errors->jump, 1);
}

// libjpeg only warns about a file that ends early and fills the rest with grey; we refuse
// it instead of returning a silently damaged image. Other warnings are tolerated, as PIL
// tolerates them.
void OnMessage(j_common_ptr cinfo, int level) {
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) OnFatalError(cinfo);
}

// The largest DCT scale denominator (8, 4, 2 or 1) whose output stays at least as large
// as requested.
unsigned ChooseScaleDenominator(unsigned width, unsigned height, const DecodeOptions& options) {
  if (options.min_width <= 0 || options.min_height <= 0) return 1;
  for (unsigned denom : {8u, 4u, 2u}) {
    unsigned scaled_w = (width + denom - 1) / denom, scaled_h = (height + denom - 1) / denom;
    if (scaled_w >= static_cast<unsigned>(options.min_width) &&
        scaled_h >= static_cast<unsigned>(options.min_height)) {
      return denom;
    }
  }
  return 1;
}

// CMYK to RGB as PIL converts it: channel = (255 - C) * (255 - K) / 255, rounded.
uint8_t CmykChannel(uint8_t ink, uint8_t black) {
  int not_black = 255 - black;
  int t = ink * not_black + 128;
  int ink_part = (t + (t >> 8)) >> 8;
  return static_cast<uint8_t>(not_black - ink_part);
}

void ConvertCmykRow(const uint8_t* cmyk, uint8_t* rgb, unsigned width, bool inverted) {
  for (unsigned x = 0; x < width; ++x, cmyk += 4, rgb += 3) {
    // Adobe applications store CMYK inverted; libjpeg hands the bytes through as stored.
    uint8_t c = inverted ? 255 - cmyk[0] : cmyk[0], m = inverted ? 255 - cmyk[1] : cmyk[1];
    uint8_t y = inverted ? 255 - cmyk[2] : cmyk[2], k = inverted ? 255 - cmyk[3] : cmyk[3];
    rgb[0] = CmykChannel(c, k);
    rgb[1] = CmykChannel(m, k);
    rgb[2] = CmykChannel(y, k);
  }
}

struct JpegJob {
  std::string_view bytes;
  const DecodeOptions* options;
  Decoded* out;
  std::vector<uint8_t>* cmyk_row;
  Status* status;
};

void ReadExif(jpeg_decompress_struct* cinfo, Decoded* out) {
  for (jpeg_saved_marker_ptr m = cinfo->marker_list; m != nullptr; m = m->next) {
    if (m->marker != JPEG_APP0 + 1) continue;
    std::string_view payload(reinterpret_cast<const char*>(m->data), m->data_length);
    if (payload.substr(0, 6) == std::string_view("Exif\0\0", 6)) {
      out->exif_orientation = ParseExifOrientation(payload);
      return;
    }
  }
}

// Returns false with job->status set, or after a libjpeg error with the message in
// `errors`. Holds no C++ objects with destructors, as the longjmp may cross it.
bool RunDecode(JpegJob* job, jpeg_decompress_struct* cinfo, JpegErrorManager* errors) {
  if (setjmp(errors->jump)) return false;
  jpeg_create_decompress(cinfo);
  jpeg_mem_src(cinfo, reinterpret_cast<const unsigned char*>(job->bytes.data()),
               static_cast<unsigned long>(job->bytes.size()));
  jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(cinfo, TRUE);
  *job->status = CheckDimensions(cinfo->image_width, cinfo->image_height, *job->options);
  if (!job->status->ok()) return false;
  ReadExif(cinfo, job->out);

  bool cmyk = cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK;
  cinfo->out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
  cinfo->scale_num = 1;
  cinfo->scale_denom =
      ChooseScaleDenominator(cinfo->image_width, cinfo->image_height, *job->options);
  jpeg_start_decompress(cinfo);
  Image& image = job->out->image;
  image = MakeImage(static_cast<int>(cinfo->output_width), static_cast<int>(cinfo->output_height));
  if (cmyk) job->cmyk_row->resize(static_cast<size_t>(cinfo->output_width) * 4);
  while (cinfo->output_scanline < cinfo->output_height) {
    uint8_t* row = &image.rgb[static_cast<size_t>(cinfo->output_scanline) * image.width * 3];
    JSAMPROW target = cmyk ? job->cmyk_row->data() : row;
    jpeg_read_scanlines(cinfo, &target, 1);
    if (cmyk) ConvertCmykRow(target, row, cinfo->output_width, cinfo->saw_Adobe_marker);
  }
  jpeg_finish_decompress(cinfo);
  return true;
}

}  // namespace

Result<Decoded> DecodeJpeg(std::string_view bytes, const DecodeOptions& options) {
  Decoded out;
  std::vector<uint8_t> cmyk_row;
  Status status;
  JpegJob job{bytes, &options, &out, &cmyk_row, &status};
  jpeg_decompress_struct cinfo;
  JpegErrorManager errors;
  std::memset(&errors, 0, sizeof(errors));
  cinfo.err = jpeg_std_error(&errors.base);
  errors.base.error_exit = OnFatalError;
  errors.base.emit_message = OnMessage;
  bool decoded = RunDecode(&job, &cinfo, &errors);
  jpeg_destroy_decompress(&cinfo);
  if (decoded) return out;
  if (!status.ok()) return status;
  return Status::Corruption(std::string("bad JPEG data: ") + errors.message);
}

}  // namespace imgsearch::image
