// The C++ side of bench/python_bench.py: the same calls the Python package makes, timed
// the same way, through the public API only.
//
//   python_parity_bench search-collection DB COLLECTION QUERIES.f32 NQ K REPEATS
//       Collection::Search with the NQ vectors of QUERIES.f32 (float32, row-major), k=K,
//       REPEATS times; the same as collection.search(queries, k).
//   python_parity_bench search-library LIBRARY QUERY_IMAGE K REPEATS
//       Library::Search by an image file, every model, fused (RRF); as lib.search(path,
//       k, fuse="rrf").
//   python_parity_bench embed MODEL BATCH_SIZE FILE_LIST
//       Decodes the listed files on every core and embeds them in rounds of 64, as
//       imgsearch.embed(paths, model) does (after one warming batch of eight, as the
//       Python side).
// Prints "seconds <median of the repeats or the one run>".
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "imgsearch/embedder.h"
#include "imgsearch/library.h"

namespace imgsearch::bench {
namespace {

int Fail(const Status& status) {
  std::fprintf(stderr, "%s\n", status.ToString().c_str());
  return 1;
}

int SearchCollection(const std::string& dir, const std::string& name, const std::string& file,
                     size_t nq, int k, int repeats) {
  auto db = Database::Open(dir);
  if (!db.ok()) return Fail(db.status());
  auto collection = (*db)->GetCollection(name);
  if (!collection.ok()) return Fail(collection.status());
  size_t d = size_t((*collection)->schema().dimension);
  std::vector<float> data(nq * d);
  std::ifstream in(file, std::ios::binary);
  in.read(reinterpret_cast<char*>(data.data()), std::streamsize(data.size() * sizeof(float)));
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r) {
    double start = Seconds();
    SearchRequest request;  // built inside the timing, as the binding builds it
    request.limit = k;
    for (size_t i = 0; i < nq; ++i) request.vectors.emplace_back(&data[i * d], &data[(i + 1) * d]);
    auto hits = (*collection)->Search(request);
    if (!hits.ok()) return Fail(hits.status());
    times.push_back(Seconds() - start);
  }
  std::printf("seconds %.9f\n", Median(times));
  return 0;
}

int SearchLibrary(const std::string& dir, const std::string& image, int k, int repeats) {
  auto lib = Library::Open(dir);
  if (!lib.ok()) return Fail(lib.status());
  ImageQuery query;
  query.path = image;
  SearchOptions options;
  options.k = k;
  options.fuse = "rrf";
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r) {
    double start = Seconds();
    auto results = (*lib)->Search(query, options);
    if (!results.ok()) return Fail(results.status());
    times.push_back(Seconds() - start);
  }
  std::printf("seconds %.9f\n", Median(times));
  return 0;
}

int Embed(const std::string& model, int batch_size, const std::string& list) {
  std::vector<std::string> files;
  std::ifstream in(list);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) files.push_back(line);
  }
  EmbedderOptions options;
  options.batch_size = batch_size;
  auto embedder = Embedder::Open(model, options);
  if (!embedder.ok()) return Fail(embedder.status());
  const DecodeOptions decode = (*embedder)->decode_options();
  const size_t threads = std::max(1u, std::thread::hardware_concurrency());
  {  // warm, as the Python side embeds its first eight photos before it times
    std::vector<Image> warm;
    for (size_t i = 0; i < std::min<size_t>(8, files.size()); ++i) {
      auto image = LoadImage(files[i], decode);
      if (!image.ok()) return Fail(image.status());
      warm.push_back(std::move(image).value());
    }
    auto out = (*embedder)->Embed(warm);
    if (!out.ok()) return Fail(out.status());
  }
  double start = Seconds();
  size_t vectors = 0;
  for (size_t first = 0; first < files.size(); first += 64) {
    size_t n = std::min<size_t>(64, files.size() - first);
    std::vector<Result<Image>> decoded(n, Status::Internal("not decoded"));
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t i; (i = next.fetch_add(1)) < n;) decoded[i] = LoadImage(files[first + i], decode);
    };
    std::vector<std::thread> pool;
    for (size_t t = 1; t < std::min(threads, n); ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    std::vector<Image> images;
    for (auto& image : decoded) {
      if (!image.ok()) return Fail(image.status());
      images.push_back(std::move(image).value());
    }
    auto out = (*embedder)->Embed(images);
    if (!out.ok()) return Fail(out.status());
    vectors += out->count;
  }
  std::printf("seconds %.9f\nvectors %zu\n", Seconds() - start, vectors);
  return 0;
}

}  // namespace
}  // namespace imgsearch::bench

int main(int argc, char** argv) {
  using namespace imgsearch::bench;
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "search-collection" && argc == 8) {
    return SearchCollection(argv[2], argv[3], argv[4], std::stoul(argv[5]), std::stoi(argv[6]),
                            std::stoi(argv[7]));
  }
  if (mode == "search-library" && argc == 6) {
    return SearchLibrary(argv[2], argv[3], std::stoi(argv[4]), std::stoi(argv[5]));
  }
  if (mode == "embed" && argc == 5) return Embed(argv[2], std::stoi(argv[3]), argv[4]);
  std::fprintf(stderr,
               "usage: %s search-collection DB COLLECTION QUERIES.f32 NQ K REPEATS\n"
               "       %s search-library LIBRARY QUERY_IMAGE K REPEATS\n"
               "       %s embed MODEL BATCH_SIZE FILE_LIST\n",
               argv[0], argv[0], argv[0]);
  return 2;
}
