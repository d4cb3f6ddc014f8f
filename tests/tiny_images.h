// Small generated photos for end-to-end tests: real JPEG files, each one different.
#pragma once

#include <string>
#include <vector>

namespace imgsearch::testing {

// `count` distinct 8x8 JPEG files in a new folder with a long-ish name, as a folder of
// photos would have; `seed` makes another set with other contents. Returns their paths.
std::vector<std::string> MakeTinyImages(size_t count, unsigned seed = 0);

}  // namespace imgsearch::testing
