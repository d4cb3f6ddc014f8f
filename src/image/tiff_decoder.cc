// TIFF through libtiff, read from memory. libtiff's RGBA interface handles the many
// photometric interpretations and the Orientation tag itself.
#include <tiffio.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "image/decoders.h"

namespace imgsearch::image {
namespace {

struct MemoryFile {
  std::string_view bytes;
  toff_t offset = 0;
  std::string error;
};

tsize_t Read(thandle_t handle, tdata_t buffer, tsize_t size) {
  auto* file = static_cast<MemoryFile*>(handle);
  if (size < 0 || file->offset >= file->bytes.size()) return 0;
  size_t n = std::min<size_t>(static_cast<size_t>(size), file->bytes.size() - file->offset);
  std::memcpy(buffer, file->bytes.data() + file->offset, n);
  file->offset += n;
  return static_cast<tsize_t>(n);
}
tsize_t Write(thandle_t, tdata_t, tsize_t) {
  return 0;
}
toff_t Seek(thandle_t handle, toff_t offset, int whence) {
  auto* file = static_cast<MemoryFile*>(handle);
  toff_t base = whence == SEEK_CUR ? file->offset : whence == SEEK_END ? file->bytes.size() : 0;
  file->offset = base + offset;
  return file->offset;
}
int Close(thandle_t) {
  return 0;
}
toff_t Size(thandle_t handle) {
  return static_cast<MemoryFile*>(handle)->bytes.size();
}
int Map(thandle_t, tdata_t*, toff_t*) {
  return 0;
}
void Unmap(thandle_t, tdata_t, toff_t) {}

int OnError(TIFF*, void* user_data, const char*, const char* format, va_list args) {
  auto* file = static_cast<MemoryFile*>(user_data);
  if (file->error.empty()) {
    char message[256];
    std::vsnprintf(message, sizeof(message), format, args);
    file->error = message;
  }
  return 1;  // handled: libtiff prints nothing
}
int OnWarning(TIFF*, void*, const char*, const char*, va_list) {
  return 1;
}

Status TiffError(const MemoryFile& file, const char* what) {
  return Status::Corruption(std::string(what) + (file.error.empty() ? "" : ": " + file.error));
}

}  // namespace

Result<Decoded> DecodeTiff(std::string_view bytes, const DecodeOptions& options) {
  MemoryFile file{bytes, 0, {}};
  TIFFOpenOptions* open_options = TIFFOpenOptionsAlloc();
  TIFFOpenOptionsSetErrorHandlerExtR(open_options, OnError, &file);
  TIFFOpenOptionsSetWarningHandlerExtR(open_options, OnWarning, &file);
  TIFF* tiff = TIFFClientOpenExt("memory", "rm", &file, Read, Write, Seek, Close, Size, Map, Unmap,
                                 open_options);
  TIFFOpenOptionsFree(open_options);
  if (tiff == nullptr) return TiffError(file, "bad TIFF header");
  uint32_t width = 0, height = 0;
  TIFFGetField(tiff, TIFFTAG_IMAGEWIDTH, &width);
  TIFFGetField(tiff, TIFFTAG_IMAGELENGTH, &height);
  Status dims = CheckDimensions(width, height, options);
  if (!dims.ok()) {
    TIFFClose(tiff);
    return dims;
  }
  std::vector<uint32_t> raster(size_t{width} * height);
  int read = TIFFReadRGBAImageOriented(tiff, width, height, raster.data(), ORIENTATION_TOPLEFT, 0);
  TIFFClose(tiff);
  if (read == 0 || !file.error.empty()) return TiffError(file, "bad or truncated TIFF data");
  Decoded out;
  out.image = MakeImage(static_cast<int>(width), static_cast<int>(height));
  for (size_t i = 0; i < raster.size(); ++i) {
    out.image.rgb[i * 3] = static_cast<uint8_t>(TIFFGetR(raster[i]));
    out.image.rgb[i * 3 + 1] = static_cast<uint8_t>(TIFFGetG(raster[i]));
    out.image.rgb[i * 3 + 2] = static_cast<uint8_t>(TIFFGetB(raster[i]));
  }
  return out;  // orientation already applied by libtiff
}

}  // namespace imgsearch::image
