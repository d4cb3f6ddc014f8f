// The in-process reference for bench/server_load.sh: the same searches the load test
// sends over HTTP, called directly, with as many threads as the machine has cores.
//
//   search_bench DB_DIR images SECONDS     searches by id, every model, fused (RRF), k=10
//   search_bench DB_DIR COLLECTION SECONDS [--queries FILE] [--ef N] [--threads N]
//                                          Collection::Search, limit 10: random vectors, or
//                                          the float32 vectors of FILE (raw, dimension of
//                                          the collection) in turn; ef as search param
// Prints "searches/s <rate> (threads T, failed F)", then "searches N cpu_seconds S" (the
// process's CPU time while searching, from getrusage).
#include <sys/resource.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <thread>

#include "bench_util.h"
#include "imgsearch/database.h"
#include "pipeline/images.h"
#include "pipeline/search.h"

namespace imgsearch::bench {
namespace {

struct Options {
  std::string queries_file;  // raw float32 query vectors; empty: random ones
  int ef = 0;                // 0: the collection's default
  unsigned threads = 0;      // 0: one per core
};

int Run(const std::string& db_dir, const std::string& what, double seconds,
        const Options& options) {
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
  std::vector<std::vector<float>> queries;
  if (!options.queries_file.empty()) {
    queries = ReadQueries(options.queries_file, size_t(collection->schema().dimension));
    if (queries.empty())
      return std::fprintf(stderr, "no queries in %s\n", options.queries_file.c_str()), 1;
  }
  std::atomic<bool> stop{false};
  std::atomic<int64_t> done{0}, failed{0};
  auto worker = [&](uint32_t seed) {
    std::mt19937 rng(seed);
    size_t next = seed;
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
        if (queries.empty()) {
          request.vectors.emplace_back(collection->schema().dimension);
          for (float& x : request.vectors[0]) x = value(rng);
        } else {
          request.vectors.push_back(queries[next++ % queries.size()]);
        }
        if (options.ef > 0) request.params["ef"] = options.ef;
        ok = collection->Search(request).ok();
      }
      ++(ok ? done : failed);
    }
  };
  unsigned threads =
      options.threads > 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  double start = Seconds(), cpu_start = CpuSeconds();
  for (unsigned t = 0; t < threads; ++t) pool.emplace_back(worker, t + 1);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : pool) t.join();
  double elapsed = Seconds() - start, cpu = CpuSeconds() - cpu_start;
  std::printf("searches/s %.1f (threads %u, failed %lld)\n", double(done) / elapsed, threads,
              static_cast<long long>(failed.load()));
  std::printf("searches %lld cpu_seconds %.3f\n", static_cast<long long>(done.load()), cpu);
  return failed > 0 ? 1 : 0;
}

}  // namespace
}  // namespace imgsearch::bench

int main(int argc, char** argv) {
  imgsearch::bench::Options options;
  bool usage = argc < 4 || (argc - 4) % 2 != 0;
  for (int i = 4; !usage && i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--queries") == 0) {
      options.queries_file = argv[i + 1];
    } else if (std::strcmp(argv[i], "--ef") == 0) {
      options.ef = std::atoi(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--threads") == 0) {
      options.threads = unsigned(std::atoi(argv[i + 1]));
    } else {
      usage = true;
    }
  }
  if (usage) {
    std::fprintf(stderr,
                 "usage: search_bench DB_DIR images|COLLECTION SECONDS [--queries FILE] "
                 "[--ef N] [--threads N]\n");
    return 2;
  }
  return imgsearch::bench::Run(argv[1], argv[2], std::atof(argv[3]), options);
}
