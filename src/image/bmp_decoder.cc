// BMP, read by hand: uncompressed 1/4/8/16/24/32-bit and BI_BITFIELDS. Run-length
// compressed files are refused with a clear error. Every offset read from the file is
// checked against its size before use.
#include <array>
#include <bit>
#include <cstdint>

#include "image/decoders.h"

namespace imgsearch::image {
namespace {

constexpr uint32_t kBiRgb = 0, kBiBitfields = 3, kBiAlphaBitfields = 6;

uint32_t ReadU32(std::string_view b, size_t at) {
  auto u = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(b[at + i])); };
  return u(0) | u(1) << 8 | u(2) << 16 | u(3) << 24;
}
uint16_t ReadU16(std::string_view b, size_t at) {
  auto u = [&](size_t i) { return static_cast<uint16_t>(static_cast<uint8_t>(b[at + i])); };
  return static_cast<uint16_t>(u(0) | u(1) << 8);
}

struct BmpHeader {
  uint32_t pixel_offset = 0;
  uint32_t header_size = 0;
  int64_t width = 0;
  int64_t height = 0;  // negative: rows stored top-down
  uint16_t bits = 0;
  uint32_t compression = kBiRgb;
  uint32_t palette_size = 0;
  std::array<uint32_t, 3> masks{};  // red, green, blue for 16/32-bit
};

// Extracts one 8-bit channel through a BI_BITFIELDS mask.
uint8_t MaskedChannel(uint32_t value, uint32_t mask) {
  if (mask == 0) return 0;
  int shift = std::countr_zero(mask);
  uint32_t max = mask >> shift;
  return static_cast<uint8_t>((((value & mask) >> shift) * 255 + max / 2) / max);
}

Result<BmpHeader> ParseHeader(std::string_view bytes) {
  if (bytes.size() < 26) return Status::Corruption("BMP file is truncated in its header");
  BmpHeader h;
  h.pixel_offset = ReadU32(bytes, 10);
  h.header_size = ReadU32(bytes, 14);
  if (h.header_size == 12) {  // OS/2 BITMAPCOREHEADER
    h.width = ReadU16(bytes, 18);
    h.height = ReadU16(bytes, 20);
    h.bits = ReadU16(bytes, 24);
    return h;
  }
  if (h.header_size < 40 || bytes.size() < 14 + size_t{h.header_size}) {
    return Status::Corruption("BMP file is truncated or has a bad header size");
  }
  h.width = static_cast<int32_t>(ReadU32(bytes, 18));
  h.height = static_cast<int32_t>(ReadU32(bytes, 22));
  h.bits = ReadU16(bytes, 28);
  h.compression = ReadU32(bytes, 30);
  h.palette_size = ReadU32(bytes, 46);
  bool has_masks = h.compression == kBiBitfields || h.compression == kBiAlphaBitfields;
  if (has_masks) {
    size_t at = h.header_size >= 52 ? 54 : 14 + h.header_size;  // V3 stores masks after
    if (bytes.size() < at + 12) return Status::Corruption("BMP file is truncated in its masks");
    h.masks = {ReadU32(bytes, at), ReadU32(bytes, at + 4), ReadU32(bytes, at + 8)};
  } else if (h.bits == 16) {
    h.masks = {0x7C00, 0x03E0, 0x001F};
  } else if (h.bits == 32) {
    h.masks = {0xFF0000, 0xFF00, 0xFF};
  }
  if (h.compression != kBiRgb && !has_masks) {
    return Status::Unsupported("compressed BMP (method " + std::to_string(h.compression) +
                               ") is not supported");
  }
  return h;
}

Result<std::vector<std::array<uint8_t, 3>>> ReadPalette(std::string_view bytes,
                                                        const BmpHeader& h) {
  size_t entries = h.palette_size != 0 ? h.palette_size : size_t{1} << h.bits;
  if (entries > 256) return Status::Corruption("BMP palette is too large");
  size_t entry_size = h.header_size == 12 ? 3 : 4;
  size_t start = 14 + size_t{h.header_size};
  if (bytes.size() < start + entries * entry_size) {
    return Status::Corruption("BMP file is truncated in its palette");
  }
  std::vector<std::array<uint8_t, 3>> palette(size_t{1} << h.bits, {0, 0, 0});
  for (size_t i = 0; i < entries && i < palette.size(); ++i) {
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data() + start + i * entry_size);
    palette[i] = {p[2], p[1], p[0]};
  }
  return palette;
}

void DecodeRow(const uint8_t* src, uint8_t* dst, int width, const BmpHeader& h,
               const std::vector<std::array<uint8_t, 3>>& palette) {
  for (int x = 0; x < width; ++x, dst += 3) {
    if (h.bits <= 8) {
      int per_byte = 8 / h.bits;
      int shift = 8 - h.bits * (x % per_byte + 1);
      int index = (src[x / per_byte] >> shift) & ((1 << h.bits) - 1);
      dst[0] = palette[index][0], dst[1] = palette[index][1], dst[2] = palette[index][2];
    } else if (h.bits == 24) {
      dst[0] = src[x * 3 + 2], dst[1] = src[x * 3 + 1], dst[2] = src[x * 3];
    } else {
      uint32_t v = h.bits == 16 ? ReadU16({reinterpret_cast<const char*>(src), 2u * width}, 2u * x)
                                : ReadU32({reinterpret_cast<const char*>(src), 4u * width}, 4u * x);
      for (int c = 0; c < 3; ++c) dst[c] = MaskedChannel(v, h.masks[c]);
    }
  }
}

}  // namespace

Result<Decoded> DecodeBmp(std::string_view bytes, const DecodeOptions& options) {
  IMGSEARCH_ASSIGN_OR_RETURN(BmpHeader h, ParseHeader(bytes));
  bool top_down = h.height < 0;
  int64_t height = top_down ? -h.height : h.height;
  IMGSEARCH_RETURN_IF_ERROR(CheckDimensions(h.width, height, options));
  if (h.bits != 1 && h.bits != 4 && h.bits != 8 && h.bits != 16 && h.bits != 24 && h.bits != 32) {
    return Status::Unsupported("BMP with " + std::to_string(h.bits) + " bits per pixel");
  }
  std::vector<std::array<uint8_t, 3>> palette;
  if (h.bits <= 8) {
    IMGSEARCH_ASSIGN_OR_RETURN(palette, ReadPalette(bytes, h));
  }
  uint64_t stride = (static_cast<uint64_t>(h.width) * h.bits + 31) / 32 * 4;
  if (h.pixel_offset > bytes.size() ||
      (bytes.size() - h.pixel_offset) / stride < uint64_t(height)) {
    return Status::Corruption("BMP file is truncated in its pixel data");
  }
  Decoded out;
  out.image = MakeImage(static_cast<int>(h.width), static_cast<int>(height));
  const auto* base = reinterpret_cast<const uint8_t*>(bytes.data()) + h.pixel_offset;
  for (int64_t y = 0; y < height; ++y) {
    int64_t stored_row = top_down ? y : height - 1 - y;
    DecodeRow(base + stored_row * stride, &out.image.rgb[y * h.width * 3],
              static_cast<int>(h.width), h, palette);
  }
  return out;
}

}  // namespace imgsearch::image
