// The library in a remote Milvus store against the embedded store, on the same images in
// one run: indexing (every image through every built-in model) and searching (by image
// file, every model, fused). The remote store is imgsearch's own Milvus dialect served
// in this process on 127.0.0.1 (Milvus itself cannot run here), so the gap measured is
// the REST v2 client's: JSON, HTTP round trips, paging, Strong reads.
//   milvus_store_bench [--images DIR] [--count N] [--searches N]
// Without --images, N synthetic JPEG pictures (gradients and blocks of colour) are made.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "bench_util.h"
#include "image/encode.h"
#include "imgsearch/library.h"
#include "server/server.h"

namespace imgsearch::bench {
namespace {

namespace fs = std::filesystem;

std::string TempDir(const std::string& name) {
  std::string dir = (fs::temp_directory_path() /
                     ("imgsearch-milvus-bench-" + std::to_string(::getpid()) + "-" + name))
                        .string();
  fs::remove_all(dir);
  return dir;
}

// `count` pictures of 320x240: a gradient per picture and a few blocks of colour.
std::vector<std::string> MakeImages(const std::string& dir, size_t count) {
  fs::create_directories(dir);
  std::mt19937 rng(11);
  std::vector<std::string> paths;
  for (size_t n = 0; n < count; ++n) {
    Image image;
    image.width = 320;
    image.height = 240;
    image.rgb.resize(size_t(image.width) * image.height * 3);
    int base[3] = {int(rng() % 256), int(rng() % 256), int(rng() % 256)};
    for (int y = 0; y < image.height; ++y) {
      for (int x = 0; x < image.width; ++x) {
        uint8_t* p = &image.rgb[(size_t(y) * image.width + x) * 3];
        for (int c = 0; c < 3; ++c) p[c] = uint8_t((base[c] + x * (c + 1) / 3 + y / 2) % 256);
      }
    }
    for (int b = 0; b < 4; ++b) {
      int x0 = int(rng() % 280), y0 = int(rng() % 200);
      uint8_t colour[3] = {uint8_t(rng()), uint8_t(rng()), uint8_t(rng())};
      for (int y = y0; y < y0 + 40; ++y)
        for (int x = x0; x < x0 + 40; ++x)
          std::memcpy(&image.rgb[(size_t(y) * image.width + x) * 3], colour, 3);
    }
    auto jpeg = image::EncodeJpeg(image);
    std::string path = dir + "/img_" + std::to_string(n) + ".jpg";
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f && jpeg.ok()) std::fwrite(jpeg->data(), 1, jpeg->size(), f);
    if (f) std::fclose(f);
    paths.push_back(path);
  }
  return paths;
}

struct Figures {
  double index_seconds = 0;
  size_t indexed = 0;
  double search_ms = 0;  // median per query
};

Result<Figures> Measure(const std::string& location, const std::string& images,
                        const std::vector<std::string>& queries) {
  LibraryOptions options;
  IMGSEARCH_ASSIGN_OR_RETURN(std::unique_ptr<Library> library, Library::Open(location, options));
  IndexOptions index;
  index.paths = {images};
  Figures f;
  double start = Seconds();
  IMGSEARCH_ASSIGN_OR_RETURN(IndexReport report, library->Index(index));
  f.index_seconds = Seconds() - start;
  f.indexed = report.added;
  SearchOptions search;
  search.fuse = "rrf";
  std::vector<double> times;
  for (const std::string& q : queries) {
    ImageQuery query;
    query.path = q;
    double t = Seconds();
    IMGSEARCH_RETURN_IF_ERROR(library->Search(query, search).status());
    times.push_back((Seconds() - t) * 1000);
  }
  f.search_ms = Median(times);
  return f;
}

int Run(int argc, char** argv) {
  std::string images;
  size_t count = 300, searches = 50;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--images") images = argv[i + 1];
    if (flag == "--count") count = std::stoul(argv[i + 1]);
    if (flag == "--searches") searches = std::stoul(argv[i + 1]);
  }
  if (images.empty()) {
    images = TempDir("images");
    MakeImages(images, count);
  }
  std::vector<std::string> files = ListImages(images, 1u << 30);
  std::vector<std::string> queries = ListImages(images, searches);
  if (files.empty()) return std::fprintf(stderr, "no images in %s\n", images.c_str()), 1;

  // The stand-in Milvus, in this process.
  server::ServerOptions server_options;
  server_options.port = 0;
  auto standin = server::Server::Create(TempDir("standin"), server_options);
  if (!standin.ok()) return std::fprintf(stderr, "%s\n", standin.status().message().c_str()), 1;
  auto port = (*standin)->Bind();
  if (!port.ok()) return std::fprintf(stderr, "%s\n", port.status().message().c_str()), 1;
  std::thread serving([&] { (*standin)->Run(); });

  std::printf("%zu images, %zu searches (by image file, every built-in model, fused)\n",
              files.size(), queries.size());
  auto local = Measure(TempDir("local"), images, queries);
  auto remote = Measure("milvus://127.0.0.1:" + std::to_string(*port), images, queries);
  (*standin)->Stop();
  serving.join();
  if (!local.ok() || !remote.ok()) {
    std::fprintf(stderr, "%s\n", (local.ok() ? remote.status() : local.status()).message().c_str());
    return 1;
  }
  std::printf("%-26s %12s %12s %14s\n", "store", "index s", "images/s", "search ms (med)");
  for (const auto& [name, f] :
       {std::pair{"embedded (reference)", *local}, std::pair{"milvus:// (stand-in)", *remote}}) {
    std::printf("%-26s %12.2f %12.1f %14.2f\n", name, f.index_seconds, f.indexed / f.index_seconds,
                f.search_ms);
  }
  std::printf("remote / embedded: indexing time x%.2f, search time x%.2f\n",
              remote->index_seconds / local->index_seconds, remote->search_ms / local->search_ms);
  return 0;
}

}  // namespace
}  // namespace imgsearch::bench

int main(int argc, char** argv) {
  return imgsearch::bench::Run(argc, argv);
}
