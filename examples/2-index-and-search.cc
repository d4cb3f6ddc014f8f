// 2-index-and-search: the image library in a few screens.
//
// Indexes a folder of images with the built-in models (the library remembers them), then
// searches by one image and prints each model's results and one ranking fused across
// the models. Everything comes from the public headers in include/imgsearch/.
//
//   build/examples/2-index-and-search PHOTOS_DIR LIBRARY_DIR QUERY_IMAGE
#include <cstdio>

#include "imgsearch/library.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s PHOTOS_DIR LIBRARY_DIR QUERY_IMAGE\n", argv[0]);
    return 2;
  }
  // 1. Open (or create) a library: a folder holding the database and its list of models.
  auto library = imgsearch::Library::Open(argv[2]);
  if (!library.ok()) return std::fprintf(stderr, "%s\n", library.status().ToString().c_str()), 1;

  // 2. Index a folder: each image decoded once for every model; unchanged files skipped.
  imgsearch::IndexOptions index;
  index.paths = {argv[1]};
  index.on_progress = [](const imgsearch::IndexProgress& p) {
    std::fprintf(stderr, "\rindexed %zu/%zu", p.done, p.total);
  };
  auto report = (*library)->Index(index);
  if (!report.ok()) return std::fprintf(stderr, "%s\n", report.status().ToString().c_str()), 1;
  std::printf("\n%zu added, %zu updated, %zu unchanged, %zu unreadable\n", report->added,
              report->updated, report->unchanged, report->failures.size());

  // 3. Search by an image file: the nearest images under every model, and fused (RRF).
  imgsearch::ImageQuery query;
  query.path = argv[3];
  imgsearch::SearchOptions options;
  options.k = 3;
  options.fuse = "rrf";
  auto results = (*library)->Search(query, options);
  if (!results.ok()) return std::fprintf(stderr, "%s\n", results.status().ToString().c_str()), 1;
  for (const imgsearch::ModelResults& model : results->models) {
    std::printf("%s:\n", model.model.c_str());
    for (const imgsearch::Hit& hit : model.hits) {
      std::printf("  id %lld  distance %.4f  %s\n", static_cast<long long>(hit.id), hit.distance,
                  hit.row.fields["path"].get<std::string>().c_str());
    }
  }
  std::printf("fused:\n");
  for (const imgsearch::FusedHit& hit : results->fused)
    std::printf("  id %lld  score %.4f  %s\n", static_cast<long long>(hit.id), hit.score,
                hit.path.c_str());
  return 0;
}
