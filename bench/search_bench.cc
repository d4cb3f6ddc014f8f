// The in-process reference for bench/server_load.sh: the same searches the load test
// sends over HTTP, called directly, with as many threads as the machine has cores.
//
//   search_bench DB_DIR images SECONDS     searches by id, every model, fused (RRF), k=10
//   search_bench DB_DIR COLLECTION SECONDS  Collection::Search, random vectors, limit 10
// Prints "searches/s <rate>".
#include <atomic>
#include <cstdio>
#include <random>
#include <thread>

#include "bench_util.h"
#include "imgsearch/database.h"
#include "pipeline/images.h"
#include "pipeline/search.h"

namespace imgsearch::bench {
namespace {

int Run(const std::string& db_dir, const std::string& what, double seconds) {
  auto db = Database::Open(db_dir);
  if (!db.ok()) return std::fprintf(stderr, "%s\n", db.status().message().c_str()), 1;
  std::vector<pipeline::BoundModel> models;
  std::shared_ptr<Collection> collection, images;
  std::vector<int64_t> ids;
  if (what == "images") {
    auto opened = pipeline::OpenModelSet(**db, db_dir, {}, EmbedderOptions());
    if (!opened.ok()) return std::fprintf(stderr, "%s\n", opened.status().message().c_str()), 1;
    models = std::move(*opened);
    auto found = pipeline::OpenImages(**db);
    if (!found.ok()) return std::fprintf(stderr, "%s\n", found.status().message().c_str()), 1;
    images = *found;
    auto rows = pipeline::AllRows(*images, {});
    if (!rows.ok() || rows->empty()) return std::fprintf(stderr, "no images indexed\n"), 1;
    for (const Row& r : *rows) ids.push_back(r.id);
  } else {
    auto found = (*db)->GetCollection(what);
    if (!found.ok()) return std::fprintf(stderr, "%s\n", found.status().message().c_str()), 1;
    collection = *found;
  }
  std::atomic<bool> stop{false};
  std::atomic<int64_t> done{0}, failed{0};
  auto worker = [&](uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> value;
    while (!stop) {
      bool ok;
      if (collection == nullptr) {
        pipeline::Query query;
        query.id = ids[rng() % ids.size()];
        pipeline::SearchOptions options;
        options.fuse = "rrf";
        ok = pipeline::SearchModels(models, *images, query, options).ok();
      } else {
        SearchRequest request;
        request.vectors.emplace_back(collection->schema().dimension);
        for (float& x : request.vectors[0]) x = value(rng);
        ok = collection->Search(request).ok();
      }
      ++(ok ? done : failed);
    }
  };
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  double start = Seconds();
  for (unsigned t = 0; t < threads; ++t) pool.emplace_back(worker, t + 1);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : pool) t.join();
  double elapsed = Seconds() - start;
  std::printf("searches/s %.1f (threads %u, failed %lld)\n", double(done) / elapsed, threads,
              static_cast<long long>(failed.load()));
  return failed > 0 ? 1 : 0;
}

}  // namespace
}  // namespace imgsearch::bench

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: search_bench DB_DIR images|COLLECTION SECONDS\n");
    return 2;
  }
  return imgsearch::bench::Run(argv[1], argv[2], std::atof(argv[3]));
}
