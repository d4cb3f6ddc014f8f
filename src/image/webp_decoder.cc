// WebP through libwebp (still images; an animated WebP is refused with a clear error).
#include <webp/decode.h>

#include "image/decoders.h"

namespace imgsearch::image {

Result<Decoded> DecodeWebp(std::string_view bytes, const DecodeOptions& options) {
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  WebPBitstreamFeatures features;
  VP8StatusCode code = WebPGetFeatures(data, bytes.size(), &features);
  if (code == VP8_STATUS_NOT_ENOUGH_DATA) return Status::Corruption("WebP file is truncated");
  if (code != VP8_STATUS_OK) return Status::Corruption("bad WebP header");
  if (features.has_animation) return Status::Unsupported("animated WebP is not supported");
  IMGSEARCH_RETURN_IF_ERROR(CheckDimensions(features.width, features.height, options));
  Decoded out;
  out.image = MakeImage(features.width, features.height);
  if (WebPDecodeRGBInto(data, bytes.size(), out.image.rgb.data(), out.image.rgb.size(),
                        features.width * 3) == nullptr) {
    return Status::Corruption("bad or truncated WebP image data");
  }
  return out;
}

}  // namespace imgsearch::image
