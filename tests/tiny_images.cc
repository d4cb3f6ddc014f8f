#include "tiny_images.h"

#include <filesystem>

#include "image/encode.h"
#include "test_util.h"

namespace imgsearch::testing {

std::vector<std::string> MakeTinyImages(size_t count, unsigned seed) {
  std::string dir = MakeTempDir() + "/a-folder-of-holiday-photos-with-a-long-name";
  std::filesystem::create_directories(dir);
  std::vector<std::string> paths;
  for (size_t i = 0; i < count; ++i) {
    Image image{8, 8, std::vector<uint8_t>(8 * 8 * 3)};
    size_t n = i + seed * 100003;
    for (size_t p = 0; p < image.rgb.size(); ++p)
      image.rgb[p] = static_cast<uint8_t>((n * 37 + p * (n % 7 + 1) + seed * 11) & 0xff);
    paths.push_back(dir + "/photo-number-" + std::to_string(i) + ".jpg");
    WriteFileBytes(paths.back(), ValueOrDie(image::EncodeJpeg(image)));
  }
  return paths;
}

}  // namespace imgsearch::testing
