// Near-duplicate groups on real photos. N originals of a photo folder (a class at a time,
// in turn) get ten edited copies each: half size, JPEG quality 30, a 4% crop, brighter,
// more contrast, grey, turned a quarter, half and three quarters, mirrored. The whole folder and
// the copies are indexed into one library and Library::FindDuplicates is scored over pairs: recall
// of (original, copy) pairs per kind of edit, and the pairs of two different photos of the folder
// that were grouped (the precision's enemy: photos of the same kind of object). The reference is
// the hash alone (confirm "none"), in the same run; the time is given against the indexing time.
//
//   duplicates_bench --images DIR [--originals N] [--model NAME=FILE.onnx]... [--work DIR]
//                    [--hash-distances 8,12] [--similarities 0.9,0.95] [--rotations off,on]
//                    [--edits all|upright]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "base/env.h"
#include "image/encode.h"
#include "image/exif.h"
#include "image/resize.h"
#include "imgsearch/library.h"

namespace imgsearch::bench {
namespace {

namespace fs = std::filesystem;

const char* const kKinds[] = {"half-size",     "quality-30", "cropped",    "brighter",
                              "more-contrast", "grey",       "rotated-90", "rotated-180",
                              "rotated-270",   "mirrored"};

uint8_t Clamp(double v) {
  return static_cast<uint8_t>(std::clamp(v, 0.0, 255.0) + 0.5);
}

Image Edited(const Image& photo, const std::string& kind) {
  Image out = photo;
  // As EXIF orientations: 6 turns clockwise a quarter, 3 a half, 8 three quarters; 2 mirrors.
  if (kind == "rotated-90") return image::ApplyOrientation(photo, 6);
  if (kind == "rotated-180") return image::ApplyOrientation(photo, 3);
  if (kind == "rotated-270") return image::ApplyOrientation(photo, 8);
  if (kind == "mirrored") return image::ApplyOrientation(photo, 2);
  if (kind == "half-size")
    return image::Resize(photo, std::max(1, photo.width / 2), std::max(1, photo.height / 2),
                         Interpolation::kBilinear);
  if (kind == "cropped") {
    int dx = photo.width / 25, dy = photo.height / 25;
    return image::Crop(photo, dx, dy, photo.width - 2 * dx, photo.height - 2 * dy);
  }
  for (size_t p = 0; p < out.rgb.size(); p += 3) {
    for (size_t c = 0; c < 3; ++c) {
      double v = photo.rgb[p + c];
      if (kind == "brighter") out.rgb[p + c] = Clamp(v + 25);
      if (kind == "more-contrast") out.rgb[p + c] = Clamp((v - 128) * 1.3 + 128);
    }
    if (kind == "grey") {
      uint8_t y = Clamp(0.299 * photo.rgb[p] + 0.587 * photo.rgb[p + 1] + 0.114 * photo.rgb[p + 2]);
      out.rgb[p] = out.rgb[p + 1] = out.rgb[p + 2] = y;
    }
  }
  return out;
}

std::vector<std::string> PhotosIn(const std::string& dir) {
  std::vector<std::string> photos;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    std::string ext = entry.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
    if (entry.is_regular_file() && (ext == ".jpg" || ext == ".jpeg" || ext == ".png"))
      photos.push_back(fs::absolute(entry.path()).lexically_normal().string());
  }
  std::sort(photos.begin(), photos.end());
  return photos;
}

// N photos, one class folder after another, so that every class gives originals.
std::vector<std::string> PickOriginals(const std::vector<std::string>& photos, size_t n) {
  std::map<std::string, std::vector<std::string>> by_class;
  for (const std::string& p : photos) by_class[fs::path(p).parent_path().string()].push_back(p);
  std::vector<std::string> picked;
  for (size_t round = 0; picked.size() < n; ++round) {
    size_t before = picked.size();
    for (auto& [cls, list] : by_class) {
      if (round < list.size() && picked.size() < n) picked.push_back(list[round]);
    }
    if (picked.size() == before) break;
  }
  return picked;
}

struct Truth {
  std::map<std::string, int> family;        // path -> the original it shows (-1: not edited)
  std::map<std::string, std::string> kind;  // path of a copy -> its kind of edit
};

// The first six kinds are the upright edits (the benchmark before rotations were searched).
constexpr size_t kUprightKinds = 6;
size_t kinds_used = std::size(kKinds);

Truth WriteCopies(const std::vector<std::string>& originals, const std::string& dir) {
  Truth truth;
  fs::create_directories(dir);
  for (size_t i = 0; i < originals.size(); ++i) {
    truth.family[originals[i]] = int(i);
    auto photo = LoadImage(originals[i]);
    if (!photo.ok()) continue;
    for (size_t k = 0; k < kinds_used; ++k) {
      const char* kind = kKinds[k];
      int quality = std::string(kind) == "quality-30" ? 30 : 90;
      std::string path = dir + "/" + std::to_string(i) + "-" + kind + ".jpg";
      auto jpeg = image::EncodeJpeg(Edited(*photo, kind), quality);
      if (!jpeg.ok() || !base::Env::Default()->WriteFileAtomic(path, *jpeg).ok()) continue;
      truth.family[path] = int(i);
      truth.kind[path] = kind;
    }
  }
  return truth;
}

int FamilyOf(const Truth& truth, const std::string& path) {
  auto it = truth.family.find(path);
  return it == truth.family.end() ? -1 : it->second;
}

void Score(const Truth& truth, size_t originals, const DuplicateReport& r, double index_seconds) {
  std::map<std::string, size_t> found_by_kind;
  size_t true_pairs = 0, false_pairs = 0, false_same_class = 0;
  for (const DuplicateGroup& g : r.groups) {
    for (size_t a = 0; a < g.images.size(); ++a) {
      for (size_t b = a + 1; b < g.images.size(); ++b) {
        const std::string &pa = g.images[a].path, &pb = g.images[b].path;
        int fa = FamilyOf(truth, pa), fb = FamilyOf(truth, pb);
        if (fa >= 0 && fa == fb) {
          ++true_pairs;
          for (const std::string* p : {&pa, &pb}) {
            auto k = truth.kind.find(*p);
            const std::string& other = p == &pa ? pb : pa;
            if (k != truth.kind.end() && !truth.kind.count(other)) ++found_by_kind[k->second];
          }
        } else {
          ++false_pairs;
          false_same_class += fs::path(pa).parent_path() == fs::path(pb).parent_path();
        }
      }
    }
  }
  size_t per_family = 1 + kinds_used;
  size_t expected = originals * per_family * (per_family - 1) / 2;
  std::printf("\nconfirm: %s (hash %s)\n", r.confirm_model.c_str(), r.hash_model.c_str());
  std::printf("  candidate pairs %zu, confirmed %zu, groups %zu, %.3f s (%.4fx the indexing)\n",
              r.candidate_pairs, r.confirmed_pairs, r.groups.size(), r.seconds,
              r.seconds / index_seconds);
  std::printf(
      "  pairs: recall %.3f (%zu of %zu), precision %.3f; wrong pairs %zu (%zu of one "
      "class)\n",
      double(true_pairs) / double(expected), true_pairs, expected,
      true_pairs + false_pairs ? double(true_pairs) / double(true_pairs + false_pairs) : 1,
      false_pairs, false_same_class);
  std::map<std::string, size_t> wrong_by_class;  // where the wrong pairs are
  for (const DuplicateGroup& g : r.groups) {
    std::set<int> families;
    for (const ImageInfo& i : g.images)
      families.insert(FamilyOf(truth, i.path) >= 0 ? FamilyOf(truth, i.path)
                                                   : -1 - int(i.id % 1000000));
    if (families.size() > 1)
      wrong_by_class[fs::path(g.images[0].path).parent_path().filename().string()] +=
          g.images.size();
  }
  std::printf("  images in groups with more than one photo, by class:");
  for (const auto& [cls, n] : wrong_by_class) std::printf(" %s %zu", cls.c_str(), n);
  std::printf("\n  original~copy recall per edit:");
  for (size_t k = 0; k < kinds_used; ++k)
    std::printf(" %s %.2f", kKinds[k], double(found_by_kind[kKinds[k]]) / double(originals));
  std::printf("\n");
}

int Run(int argc, char** argv) {
  std::string images, work = (fs::temp_directory_path() / "imgsearch-duplicates-bench").string();
  size_t originals = 100;
  std::vector<int> distances = {DuplicateOptions{}.hash_distance};
  std::vector<double> similarities = {DuplicateOptions{}.min_similarity};
  auto numbers = [](const std::string& list) {
    std::vector<double> out;
    for (size_t at = 0; at < list.size();) {
      size_t comma = std::min(list.find(',', at), list.size());
      out.push_back(std::stod(list.substr(at, comma - at)));
      at = comma + 1;
    }
    return out;
  };
  std::vector<std::string> models = {"phash", "color_layout"};
  std::vector<bool> rotations = {true};
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--images") images = argv[i + 1];
    if (flag == "--originals") originals = std::stoul(argv[i + 1]);
    if (flag == "--model") models.push_back(argv[i + 1]);
    if (flag == "--work") work = argv[i + 1];
    if (flag == "--hash-distances") {
      distances.clear();
      for (double d : numbers(argv[i + 1])) distances.push_back(int(d));
    }
    if (flag == "--similarities") similarities = numbers(argv[i + 1]);
    if (flag == "--edits")
      kinds_used = std::string(argv[i + 1]) == "upright" ? kUprightKinds : std::size(kKinds);
    if (flag == "--rotations") {
      std::string list = argv[i + 1];
      rotations.clear();
      if (list.find("off") != std::string::npos) rotations.push_back(false);
      if (list.find("on") != std::string::npos) rotations.push_back(true);
    }
  }
  if (images.empty()) {
    std::fprintf(stderr,
                 "usage: duplicates_bench --images DIR [--originals N] [--model "
                 "NAME=FILE.onnx]... [--work DIR]\n");
    return 2;
  }
  fs::remove_all(work);
  std::vector<std::string> photos = PhotosIn(images);
  std::vector<std::string> picked = PickOriginals(photos, originals);
  Truth truth = WriteCopies(picked, work + "/copies");
  std::printf("%zu photos in %s, %zu originals with %zu copies each\n", photos.size(),
              images.c_str(), picked.size(), kinds_used);

  LibraryOptions options;
  options.models = models;
  auto library = Library::Open(work + "/lib", options);
  if (!library.ok()) return std::fprintf(stderr, "%s\n", library.status().ToString().c_str()), 1;
  IndexOptions index;
  index.paths = {images, work + "/copies"};
  auto started = std::chrono::steady_clock::now();
  auto indexed = (*library)->Index(index);
  if (!indexed.ok()) return std::fprintf(stderr, "%s\n", indexed.status().ToString().c_str()), 1;
  double index_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("indexed %zu images in %.1f s\n", indexed->added, index_seconds);

  std::vector<std::string> confirms = {"none"};
  for (size_t m = 1; m < models.size(); ++m) {  // NAME=FILE, or FILE named by its stem
    size_t eq = models[m].find('=');
    confirms.push_back(eq != std::string::npos ? models[m].substr(0, eq)
                                               : fs::path(models[m]).stem().string());
  }
  for (bool rotated : rotations) {
    for (const std::string& confirm : confirms) {
      for (int distance : distances) {
        for (double similarity : similarities) {
          DuplicateOptions find;
          find.confirm_model = confirm;
          find.hash_distance = distance;
          find.min_similarity = similarity;
          find.rotations = rotated;
          auto report = (*library)->FindDuplicates(find);
          if (!report.ok())
            return std::fprintf(stderr, "%s\n", report.status().ToString().c_str()), 1;
          std::printf("\n--hash-distance %d --similarity %.3f --rotations %s", distance, similarity,
                      rotated ? "on" : "off");
          Score(truth, picked.size(), *report, index_seconds);
          if (confirm == "none") break;  // the similarity plays no part
        }
      }
    }
  }
  return 0;
}

}  // namespace
}  // namespace imgsearch::bench

int main(int argc, char** argv) {
  return imgsearch::bench::Run(argc, argv);
}
