#include "model/dihedral.h"

#include <algorithm>
#include <array>
#include <utility>

namespace imgsearch::model {
namespace {

// The coefficient (row, column) that lands on (row, column) after `transform`, and the
// sign it takes: transposition swaps the two, mirroring negates odd columns, flipping odd
// rows.
struct Source {
  int row = 0, column = 0;
  bool negated = false;
};

Source SourceOf(int row, int column, int transform) {
  Source s{row, column, false};
  if (transform & 1) std::swap(s.row, s.column);
  s.negated = ((transform & 2) && (column % 2 == 1)) != ((transform & 4) && (row % 2 == 1));
  return s;
}

// JPEG zig-zag order over an 8x8 block, as tools/make_builtin_models.py orders the
// color_layout coefficients: by anti-diagonal, odd ones top row first, even ones left
// column first.
std::array<std::pair<int, int>, 64> ZigZag() {
  std::array<std::pair<int, int>, 64> cells;
  for (int i = 0; i < 64; ++i) cells[size_t(i)] = {i / 8, i % 8};
  std::sort(cells.begin(), cells.end(), [](auto a, auto b) {
    int sa = a.first + a.second, sb = b.first + b.second;
    int ka = sa % 2 ? a.first : a.second, kb = sb % 2 ? b.first : b.second;
    return std::pair(sa, ka) < std::pair(sb, kb);
  });
  return cells;
}

// color_layout's channels: 16 luma coefficients, then 8 of each chroma channel.
constexpr int kChannelStart[] = {0, 16, 24};
constexpr int kChannelSize[] = {16, 8, 8};

}  // namespace

int InverseDihedral(int transform) {
  // After a transposition, mirroring and flipping trade places: T then M equals F then T.
  if ((transform & 1) == 0) return transform;
  return 1 | ((transform & 2) << 1) | ((transform & 4) >> 1);
}

uint64_t TransformPhash(uint64_t hash, int transform) {
  // The coefficient (u, v) of the 8x8 block is bit 8u + 7 - v (byte u, most significant
  // bit first).
  auto bit = [](int u, int v) { return 8 * u + 7 - v; };
  uint64_t out = 0;
  for (int u = 0; u < 8; ++u) {
    for (int v = 0; v < 8; ++v) {
      Source s = SourceOf(u, v, transform);
      uint64_t b = (hash >> bit(s.row, s.column)) & 1;
      out |= (b ^ (s.negated ? 1 : 0)) << bit(u, v);
    }
  }
  return out;
}

std::vector<float> TransformColorLayout(const std::vector<float>& descriptor, int transform,
                                        std::vector<bool>* comparable) {
  static const std::array<std::pair<int, int>, 64> zigzag = ZigZag();
  std::vector<float> out(descriptor.size(), 0);
  if (comparable != nullptr) comparable->assign(descriptor.size(), false);
  for (int channel = 0; channel < 3; ++channel) {
    int start = kChannelStart[channel], size = kChannelSize[channel];
    for (int i = 0; i < size && size_t(start + i) < descriptor.size(); ++i) {
      auto [row, column] = zigzag[size_t(i)];
      Source s = SourceOf(row, column, transform);
      auto from = std::find(zigzag.begin(), zigzag.begin() + size, std::pair(s.row, s.column));
      if (from == zigzag.begin() + size) continue;  // not among this channel's coefficients
      float v = descriptor[size_t(start + (from - zigzag.begin()))];
      out[size_t(start + i)] = s.negated ? -v : v;
      if (comparable != nullptr) (*comparable)[size_t(start + i)] = true;
    }
  }
  return out;
}

}  // namespace imgsearch::model
