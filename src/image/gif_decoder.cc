// GIF through giflib: the first frame, drawn on the logical screen.
#include <gif_lib.h>

#include <cstring>

#include "image/decoders.h"

namespace imgsearch::image {
namespace {

struct MemoryReader {
  std::string_view bytes;
  size_t offset = 0;
};

int ReadFromMemory(GifFileType* gif, GifByteType* buffer, int size) {
  auto* reader = static_cast<MemoryReader*>(gif->UserData);
  size_t n = std::min<size_t>(static_cast<size_t>(size), reader->bytes.size() - reader->offset);
  std::memcpy(buffer, reader->bytes.data() + reader->offset, n);
  reader->offset += n;
  return static_cast<int>(n);
}

// Closes the decoder on every return path.
struct GifCloser {
  GifFileType* gif;
  ~GifCloser() {
    int error = 0;
    if (gif != nullptr) DGifCloseFile(gif, &error);
  }
};

Status GifError(int code) {
  const char* text = GifErrorString(code);
  return Status::Corruption(std::string("bad GIF data: ") + (text ? text : "unknown error"));
}

// Skips extension blocks before the first image; returns the transparent colour index
// from a graphics control block, or -1.
Status SkipToFirstImage(GifFileType* gif, int* transparent) {
  for (;;) {
    GifRecordType type;
    if (DGifGetRecordType(gif, &type) == GIF_ERROR) return GifError(gif->Error);
    if (type == IMAGE_DESC_RECORD_TYPE) return Status::Ok();
    if (type == TERMINATE_RECORD_TYPE) return Status::Corruption("GIF file has no image");
    if (type != EXTENSION_RECORD_TYPE) continue;
    int code = 0;
    GifByteType* block = nullptr;
    if (DGifGetExtension(gif, &code, &block) == GIF_ERROR) return GifError(gif->Error);
    if (code == GRAPHICS_EXT_FUNC_CODE && block != nullptr && block[0] >= 4) {
      GraphicsControlBlock gcb;
      if (DGifExtensionToGCB(block[0], block + 1, &gcb) == GIF_OK)
        *transparent = gcb.TransparentColor;
    }
    while (block != nullptr) {
      if (DGifGetExtensionNext(gif, &block) == GIF_ERROR) return GifError(gif->Error);
    }
  }
}

// The order in which an interlaced GIF stores its rows.
std::vector<int> RowOrder(int height, bool interlaced) {
  std::vector<int> order;
  order.reserve(static_cast<size_t>(height));
  if (!interlaced) {
    for (int y = 0; y < height; ++y) order.push_back(y);
    return order;
  }
  const int starts[] = {0, 4, 2, 1}, steps[] = {8, 8, 4, 2};
  for (int pass = 0; pass < 4; ++pass) {
    for (int y = starts[pass]; y < height; y += steps[pass]) order.push_back(y);
  }
  return order;
}

}  // namespace

Result<Decoded> DecodeGif(std::string_view bytes, const DecodeOptions& options) {
  MemoryReader reader{bytes, 0};
  int error = 0;
  GifCloser closer{DGifOpen(&reader, ReadFromMemory, &error)};
  GifFileType* gif = closer.gif;
  if (gif == nullptr) return GifError(error);
  IMGSEARCH_RETURN_IF_ERROR(CheckDimensions(gif->SWidth, gif->SHeight, options));
  int transparent = -1;
  IMGSEARCH_RETURN_IF_ERROR(SkipToFirstImage(gif, &transparent));
  if (DGifGetImageDesc(gif) == GIF_ERROR) return GifError(gif->Error);
  const GifImageDesc& desc = gif->Image;
  const ColorMapObject* colors = desc.ColorMap != nullptr ? desc.ColorMap : gif->SColorMap;
  if (colors == nullptr) return Status::Corruption("GIF has no colour table");
  if (desc.Width <= 0 || desc.Height <= 0 || desc.Width > gif->SWidth * 4 + 65535) {
    return Status::Corruption("GIF frame has invalid dimensions");
  }
  IMGSEARCH_RETURN_IF_ERROR(CheckDimensions(desc.Width, desc.Height, options));

  Decoded out;
  out.image = MakeImage(gif->SWidth, gif->SHeight);
  GifColorType background =
      gif->SColorMap != nullptr && gif->SBackGroundColor < gif->SColorMap->ColorCount
          ? gif->SColorMap->Colors[gif->SBackGroundColor]
          : GifColorType{0, 0, 0};
  for (size_t i = 0; i < out.image.rgb.size(); i += 3) {
    out.image.rgb[i] = background.Red, out.image.rgb[i + 1] = background.Green;
    out.image.rgb[i + 2] = background.Blue;
  }
  std::vector<GifPixelType> line(static_cast<size_t>(desc.Width));
  for (int row : RowOrder(desc.Height, desc.Interlace)) {
    if (DGifGetLine(gif, line.data(), desc.Width) == GIF_ERROR) return GifError(gif->Error);
    int y = desc.Top + row;
    if (y < 0 || y >= gif->SHeight) continue;
    for (int i = 0; i < desc.Width; ++i) {
      int x = desc.Left + i;
      if (x < 0 || x >= gif->SWidth || line[i] == transparent || line[i] >= colors->ColorCount)
        continue;
      const GifColorType& c = colors->Colors[line[i]];
      uint8_t* dst = &out.image.rgb[(static_cast<size_t>(y) * gif->SWidth + x) * 3];
      dst[0] = c.Red, dst[1] = c.Green, dst[2] = c.Blue;
    }
  }
  return out;
}

}  // namespace imgsearch::image
