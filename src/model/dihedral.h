// The eight rotations and mirrorings of a picture (the symmetries of a square), and how the
// built-in models' outputs move under them. Both built-in models end in a 2-D DCT of a
// square stretch of the picture; transposing the picture transposes the coefficients and
// mirroring it flips the sign of those of odd frequency, so a rotated or mirrored copy's
// output can be had from the original's without running the model again.
#pragma once

#include <cstdint>
#include <vector>

namespace imgsearch::model {

// A transform is a number 0..7: bit 0 transposes the picture (x and y swap), then bit 1
// mirrors it left to right, then bit 2 flips it top to bottom. 0 leaves it alone; 3 and 5
// are the quarter turns, 6 the half turn.
constexpr int kDihedralTransforms = 8;
int InverseDihedral(int transform);

// The built-in phash of the transformed picture, from the picture's phash (packed as the
// duplicates pipeline packs binary vectors: byte b at bits 8b..8b+7). Exact for the
// transposition and the positions; a mirrored coefficient changes sign, which flips its
// bit unless it lies between the hash's median and minus that median (a few bits).
uint64_t TransformPhash(uint64_t hash, int transform);

// The built-in color_layout descriptor of the transformed picture. A few coefficients have
// no counterpart among the 32 under a transposition; `comparable` (if given) is false for
// them, and they should be left out of any comparison.
std::vector<float> TransformColorLayout(const std::vector<float>& descriptor, int transform,
                                        std::vector<bool>* comparable);

}  // namespace imgsearch::model
