// DecodeImage: format detection, dispatch to the per-format decoder, EXIF orientation.
#include <cstring>

#include "base/env.h"
#include "image/decoders.h"
#include "image/exif.h"

namespace imgsearch {
namespace {

bool StartsWith(std::string_view bytes, const char* magic, size_t size) {
  return bytes.size() >= size && std::memcmp(bytes.data(), magic, size) == 0;
}

}  // namespace

namespace {

// What each format is called, how it is served and how an upload of it is named.
struct FormatFacts {
  ImageFormat format;
  const char* name;
  ImageFormatFile file;
};
constexpr FormatFacts kFormats[] = {
    {ImageFormat::kJpeg, "JPEG", {"image/jpeg", ".jpg"}},
    {ImageFormat::kPng, "PNG", {"image/png", ".png"}},
    {ImageFormat::kWebp, "WebP", {"image/webp", ".webp"}},
    {ImageFormat::kBmp, "BMP", {"image/bmp", ".bmp"}},
    {ImageFormat::kTiff, "TIFF", {"image/tiff", ".tif"}},
    {ImageFormat::kGif, "GIF", {"image/gif", ".gif"}},
};
constexpr FormatFacts kUnknownFormat = {
    ImageFormat::kUnknown, "unknown", {"application/octet-stream", ".bin"}};

const FormatFacts& FactsOf(ImageFormat format) {
  for (const FormatFacts& f : kFormats) {
    if (f.format == format) return f;
  }
  return kUnknownFormat;
}

}  // namespace

const char* ImageFormatName(ImageFormat format) {
  return FactsOf(format).name;
}

ImageFormatFile ImageFormatFileOf(ImageFormat format) {
  return FactsOf(format).file;
}

ImageFormat DetectImageFormat(std::string_view bytes) {
  if (StartsWith(bytes, "\xFF\xD8\xFF", 3)) return ImageFormat::kJpeg;
  if (StartsWith(bytes, "\x89PNG\r\n\x1A\n", 8)) return ImageFormat::kPng;
  if (StartsWith(bytes, "GIF87a", 6) || StartsWith(bytes, "GIF89a", 6)) return ImageFormat::kGif;
  if (StartsWith(bytes, "BM", 2)) return ImageFormat::kBmp;
  if (StartsWith(bytes, "II*\0", 4) || StartsWith(bytes, "MM\0*", 4)) return ImageFormat::kTiff;
  if (StartsWith(bytes, "RIFF", 4) && bytes.size() >= 12 && bytes.substr(8, 4) == "WEBP") {
    return ImageFormat::kWebp;
  }
  return ImageFormat::kUnknown;
}

Result<Image> DecodeImage(std::string_view bytes, const std::string& name,
                          const DecodeOptions& options) {
  if (bytes.empty()) return Status::InvalidArgument(name + ": empty file");
  if (bytes.size() > options.max_file_bytes) {
    return Status::ResourceExhausted(name + ": " + std::to_string(bytes.size()) +
                                     " bytes is over the limit of " +
                                     std::to_string(options.max_file_bytes));
  }
  Result<image::Decoded> decoded = Status::Unsupported("");
  switch (DetectImageFormat(bytes)) {
    case ImageFormat::kJpeg:
      decoded = image::DecodeJpeg(bytes, options);
      break;
    case ImageFormat::kPng:
      decoded = image::DecodePng(bytes, options);
      break;
    case ImageFormat::kWebp:
      decoded = image::DecodeWebp(bytes, options);
      break;
    case ImageFormat::kBmp:
      decoded = image::DecodeBmp(bytes, options);
      break;
    case ImageFormat::kTiff:
      decoded = image::DecodeTiff(bytes, options);
      break;
    case ImageFormat::kGif:
      decoded = image::DecodeGif(bytes, options);
      break;
    case ImageFormat::kUnknown:
      return Status::Unsupported(name +
                                 ": not an image in a supported format "
                                 "(JPEG, PNG, WebP, BMP, TIFF, GIF)");
  }
  if (!decoded.ok()) return decoded.status().WithContext(name);
  if (!options.apply_exif_orientation) return std::move(decoded->image);
  return image::ApplyOrientation(std::move(decoded->image), decoded->exif_orientation);
}

Result<Image> LoadImage(const std::string& path, const DecodeOptions& options) {
  IMGSEARCH_ASSIGN_OR_RETURN(std::string bytes,
                             base::Env::Default()->ReadFile(path, options.max_file_bytes));
  return DecodeImage(bytes, path, options);
}

namespace image {

Status CheckDimensions(int64_t width, int64_t height, const DecodeOptions& options) {
  if (width <= 0 || height <= 0) {
    return Status::Corruption("invalid dimensions " + std::to_string(width) + "x" +
                              std::to_string(height));
  }
  if (static_cast<uint64_t>(width) * static_cast<uint64_t>(height) > options.max_pixels) {
    return Status::ResourceExhausted(std::to_string(width) + "x" + std::to_string(height) +
                                     " pixels is over the limit of " +
                                     std::to_string(options.max_pixels));
  }
  return Status::Ok();
}

Image MakeImage(int width, int height) {
  Image image;
  image.width = width;
  image.height = height;
  image.rgb.resize(static_cast<size_t>(width) * height * 3);
  return image;
}

}  // namespace image
}  // namespace imgsearch
