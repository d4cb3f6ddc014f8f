// The vector store's figures, each next to a reference measured in the same run:
//  - HNSW and HNSW_SQ queries/s at recall@10 >= 0.95 against hnswlib (same vectors, M,
//    efConstruction), on clustered random vectors and optionally on real embeddings;
//  - FLAT single-query scan GB/s against this machine's single-thread read bandwidth;
//  - insert rows/s against plain SQLite inserts of the same bytes;
//  - open time of a 1M-vector collection against reading its snapshot file alone, and
//    its first search;
//  - memory per vector against the raw vector size;
//  - a cold `imgsearch search` (a new process) on a library of --open-rows images
//    (part "cli"), against the same process doing nothing but start (--version).
// Usage: store_bench [--dims 512,2048] [--hnsw-rows N] [--open-rows N] [--dir DIR]
//                    [--parts flat,hnsw,store,cli] [--variants all|NAME,...]
//                    [--imgsearch PATH (default: the imgsearch next to bench/)]
//                    [--model-index FLAT (part cli: the model's index; default: the
//                     library's own, HNSW)]
//                    [--snapshot-every N (DatabaseOptions::snapshot_every_changes while
//                     inserting; 0: no snapshot until the Flush at the end)]
//                    [--embeddings FILE (imgsearch embed output: real vectors for hnsw)]
// e.g. real vectors only: store_bench --parts hnsw --dims "" --embeddings emb.txt
#include <hnswlib/hnswlib.h>
#include <immintrin.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <set>
#include <sstream>

#include "bench_util.h"
#include "embedding_vectors.h"
#include "imgsearch/database.h"
#include "imgsearch/library.h"
#include "index/flat_index.h"
#include "index/index_factory.h"

namespace imgsearch::bench {
namespace {

struct Options {
  std::vector<int> dims = {512, 2048};
  size_t hnsw_rows = 20000;
  size_t open_rows = 1000000;
  size_t queries = 200;
  int m = 16;
  int ef_construction = 200;
  std::string dir = "/tmp/imgsearch-store-bench";
  std::string parts = "flat,hnsw,store";  // which benchmarks to run
  std::string variants = "all";           // which of our graph indexes (names, comma-separated)
  std::string embeddings;                 // `imgsearch embed` output for the real-data runs
  std::string imgsearch;                  // the CLI for part "cli"
  int64_t snapshot_every = DatabaseOptions().snapshot_every_changes;
  std::string model_index;  // part cli: FLAT, or empty for the library's default
};

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string key = argv[i], value = argv[i + 1];
    if (key == "--dims") {
      o.dims.clear();
      std::stringstream in(value);
      // --dims "" runs no random-vector sizes (only --embeddings).
      for (std::string d; std::getline(in, d, ',');) {
        if (!d.empty() && std::stoi(d) > 0) o.dims.push_back(std::stoi(d));
      }
    }
    if (key == "--hnsw-rows") o.hnsw_rows = std::stoul(value);
    if (key == "--open-rows") o.open_rows = std::stoul(value);
    if (key == "--queries") o.queries = std::stoul(value);
    if (key == "--dir") o.dir = value;
    if (key == "--parts") o.parts = value;
    if (key == "--variants") o.variants = value;
    if (key == "--embeddings") o.embeddings = value;
    if (key == "--imgsearch") o.imgsearch = value;
    if (key == "--snapshot-every") o.snapshot_every = std::stoll(value);
    if (key == "--model-index") o.model_index = value;
  }
  if (o.imgsearch.empty()) {
    o.imgsearch = (std::filesystem::absolute(argv[0]).parent_path().parent_path() / "imgsearch");
  }
  return o;
}

// Embedding-like data: points around 1000 random centres.
std::vector<float> Clustered(size_t n, int dim, uint32_t seed) {
  std::mt19937 rng(seed), centre_rng(4242);
  std::normal_distribution<float> g;
  std::vector<float> centres(1000 * size_t(dim));
  for (float& c : centres) c = g(centre_rng);
  std::vector<float> out(n * dim);
  for (size_t i = 0; i < n; ++i) {
    size_t c = rng() % 1000;
    for (int d = 0; d < dim; ++d) out[i * dim + d] = centres[c * dim + d] + 1.0f * g(rng);
  }
  return out;
}

double ReadBandwidthGBs(size_t bytes) {
  // A streaming read with four AVX-512 accumulators: bound by memory, not arithmetic.
  std::vector<float> data(bytes / sizeof(float), 1.0f);
  std::vector<double> rates;
  volatile float sink = 0;
  for (int r = 0; r < 7; ++r) {
    double t = Seconds();
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = 0; i + 64 <= data.size(); i += 64) {
      s0 = _mm512_add_ps(s0, _mm512_loadu_ps(&data[i]));
      s1 = _mm512_add_ps(s1, _mm512_loadu_ps(&data[i + 16]));
      s2 = _mm512_add_ps(s2, _mm512_loadu_ps(&data[i + 32]));
      s3 = _mm512_add_ps(s3, _mm512_loadu_ps(&data[i + 48]));
    }
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
    sink = lanes[0];
    rates.push_back(bytes / (Seconds() - t) / 1e9);
  }
  (void)sink;
  return Median(rates);
}

void BenchFlatScan(int dim) {
  size_t bytes = size_t(512) << 20;
  size_t n = bytes / (dim * sizeof(float));
  std::vector<float> data = Clustered(n, dim, 1);
  std::vector<int64_t> labels(n);
  for (size_t i = 0; i < n; ++i) labels[i] = int64_t(i);
  index::FlatIndex flat(index::Metric::kL2, dim);
  (void)flat.Add(n, labels.data(), data.data());
  data = {};
  std::vector<float> q = Clustered(1, dim, 2);
  std::vector<double> rates;
  for (int r = 0; r < 7; ++r) {
    double t = Seconds();
    auto hits = flat.Scan(q.data(), 10, {}, {});
    rates.push_back(bytes / (Seconds() - t) / 1e9);
  }
  double bandwidth = ReadBandwidthGBs(bytes);
  std::printf(
      "FLAT scan %4d-d, %zu vectors (512 MB), 1 query, 1 thread: %.1f GB/s; read bandwidth %.1f "
      "GB/s -> %.0f%%\n",
      dim, n, Median(rates), bandwidth, 100 * Median(rates) / bandwidth);
}

struct Curve {
  std::vector<std::pair<double, double>> points;  // recall, queries/s
};

using SearchFn = std::function<std::vector<int64_t>(const float* query, int ef)>;

// One curve per contender. The contenders take turns at each ef and repetition, so that
// load from other processes on a shared machine falls on all of them alike; each point
// is the best of five runs (the least disturbed).
std::vector<Curve> Sweep(const std::vector<float>& queries, int dim, size_t nq,
                         const std::vector<std::set<int64_t>>& truth,
                         const std::vector<SearchFn>& contenders) {
  std::vector<Curve> curves(contenders.size());
  for (int ef : {10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 128, 160, 192, 256}) {
    std::vector<size_t> hits(contenders.size());
    std::vector<double> best(contenders.size());
    for (int rep = 0; rep < 5; ++rep) {
      for (size_t c = 0; c < contenders.size(); ++c) {
        hits[c] = 0;
        double t = Seconds();
        for (size_t q = 0; q < nq; ++q) {
          for (int64_t label : contenders[c](&queries[q * dim], ef))
            hits[c] += truth[q].count(label);
        }
        best[c] = std::max(best[c], nq / (Seconds() - t));
      }
    }
    for (size_t c = 0; c < contenders.size(); ++c)
      curves[c].points.emplace_back(double(hits[c]) / (nq * 10), best[c]);
  }
  return curves;
}

// Queries/s where the curve crosses `recall`, interpolated linearly between the two
// measured points around it, so that the comparison does not hinge on the ef grid.
double QpsAtRecall(const Curve& c, double recall) {
  for (size_t i = 0; i < c.points.size(); ++i) {
    auto [r, qps] = c.points[i];
    if (r < recall) continue;
    if (i == 0) return qps;
    auto [r0, q0] = c.points[i - 1];
    return r == r0 ? qps : q0 + (qps - q0) * (recall - r0) / (r - r0);
  }
  return 0;
}

// One of our graph indexes in the comparison: HNSW, and HNSW_SQ in several encodings.
struct Variant {
  const char* name;
  const char* type;
  nlohmann::json params;
};

std::vector<Variant> HnswVariants(const Options& o) {
  nlohmann::json graph{{"M", o.m}, {"efConstruction", o.ef_construction}};
  auto with = [&](nlohmann::json extra) {
    nlohmann::json p = graph;
    p.update(extra);
    return p;
  };
  return {
      {"HNSW", "HNSW", graph},
      {"HNSW_SQ SQ8", "HNSW_SQ", with({{"sq_type", "SQ8"}})},
      {"HNSW_SQ SQ8 refine FP32 k2", "HNSW_SQ",
       with({{"sq_type", "SQ8"}, {"refine", true}, {"refine_k", 2}})},
      {"HNSW_SQ SQ8 refine FP16 k2", "HNSW_SQ",
       with({{"sq_type", "SQ8"}, {"refine", true}, {"refine_type", "FP16"}, {"refine_k", 2}})},
      {"HNSW_SQ FP16", "HNSW_SQ", with({{"sq_type", "FP16"}})},
      {"HNSW_SQ BF16", "HNSW_SQ", with({{"sq_type", "BF16"}})},
  };
}

void PrintCurve(const char* name, const Curve& c) {
  std::printf("  curve (recall, q/s) %s:", name);
  for (auto [r, q] : c.points) std::printf(" (%.3f, %.0f)", r, q);
  std::printf("\n");
}

// Queries/s at recall@10 >= 0.95 and memory per vector of each variant against hnswlib
// on the same vectors, M and efConstruction; memory also against today's HNSW.
void BenchHnsw(const Options& o, const char* data_name, const std::vector<float>& data,
               const std::vector<float>& queries, int dim) {
  size_t n = data.size() / dim, nq = queries.size() / dim;
  std::vector<int64_t> labels(n);
  for (size_t i = 0; i < n; ++i) labels[i] = int64_t(i);
  index::FlatIndex flat(index::Metric::kL2, dim);
  (void)flat.Add(n, labels.data(), data.data());
  std::vector<std::set<int64_t>> truth(nq);
  for (size_t q = 0; q < nq; ++q) {
    for (const auto& h : flat.Scan(&queries[q * dim], 10, {}, {})) truth[q].insert(h.label);
  }
  double t = Seconds();
  hnswlib::L2Space space(dim);
  hnswlib::HierarchicalNSW<float> theirs(&space, n, o.m, o.ef_construction, 100);
  for (size_t i = 0; i < n; ++i) theirs.addPoint(&data[i * dim], i);
  double theirs_build = Seconds() - t;
  std::vector<SearchFn> contenders = {[&](const float* q, int ef) {
    theirs.setEf(std::max(ef, 10));
    auto result = theirs.searchKnn(q, 10);
    std::vector<int64_t> out;
    for (; !result.empty(); result.pop()) out.push_back(int64_t(result.top().second));
    return out;
  }};
  std::vector<Variant> variants;
  std::vector<std::unique_ptr<index::Index>> ours;
  std::vector<double> builds;
  for (const Variant& v : HnswVariants(o)) {
    if (o.variants != "all" && o.variants.find(v.name) == std::string::npos) continue;
    t = Seconds();
    ours.push_back(
        std::move(index::MakeIndex({v.type, index::Metric::kL2, v.params}, false, size_t(dim)))
            .value());
    (void)ours.back()->Add(n, labels.data(), data.data());
    builds.push_back(Seconds() - t);
    variants.push_back(v);
    index::Index* index = ours.back().get();
    contenders.push_back([index](const float* q, int ef) {
      index::SearchParams p;
      p.ef = ef;
      std::vector<int64_t> out;
      auto found = index->Search(q, 10, p, {});
      for (const auto& h : found.value()) out.push_back(h.label);
      return out;
    });
  }
  std::vector<Curve> curves = Sweep(queries, dim, nq, truth, contenders);
  double qb = QpsAtRecall(curves[0], 0.95);
  std::printf(
      "HNSW %4d-d %s, %zu vectors, %zu queries, M=%d efConstruction=%d, 1 thread; "
      "hnswlib: build %.1f s, %.0f queries/s at recall@10 >= 0.95\n",
      dim, data_name, n, nq, o.m, o.ef_construction, theirs_build, qb);
  PrintCurve("hnswlib", curves[0]);
  double hnsw_bytes = 0;
  for (size_t i = 0; i < variants.size(); ++i) {
    const Curve& a = curves[i + 1];
    double qa = QpsAtRecall(a, 0.95), bytes = double(ours[i]->MemoryUsage()) / n;
    if (std::string(variants[i].name) == "HNSW") hnsw_bytes = bytes;
    std::printf(
        "  %-27s build %.1f s (%.2fx hnswlib's speed); q/s at recall@10 >= 0.95: %.0f "
        "-> %.2fx hnswlib%s; memory %.0f bytes/vector",
        variants[i].name, builds[i], theirs_build / builds[i], qa, qb > 0 ? qa / qb : 0,
        qa == 0 ? " (never reached 0.95)" : "", bytes);
    if (hnsw_bytes > 0) std::printf(" = %.2fx HNSW's", bytes / hnsw_bytes);
    std::printf(" (raw vector %d)\n", dim * 4);
    PrintCurve(variants[i].name, a);
  }
}

// The process's resident memory (VmRSS), in bytes.
long ResidentBytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  if (f != nullptr) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * sysconf(_SC_PAGESIZE);
}

// Plain SQLite inserts of the same blobs, in the same batch size and durability settings.
double PlainSqliteRowsPerSecond(const std::string& path, const std::vector<float>& data, int dim,
                                size_t n, int page_size) {
  size_t distinct = data.size() / dim;
  std::filesystem::remove(path);
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  const std::string setup = "PRAGMA page_size=" + std::to_string(page_size) +
                            "; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE t "
                            "(pk INTEGER PRIMARY KEY, seq INTEGER, deleted INTEGER, vector BLOB, "
                            "fields TEXT)";
  sqlite3_exec(db, setup.c_str(), nullptr, nullptr, nullptr);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?, ?, 0, ?, ?)", -1, &stmt, nullptr);
  double t = Seconds();
  for (size_t start = 0; start < n; start += 1000) {
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    for (size_t i = start; i < std::min(n, start + 1000); ++i) {
      sqlite3_bind_int64(stmt, 1, int64_t(i) + 1);
      sqlite3_bind_int64(stmt, 2, int64_t(i) + 1);
      sqlite3_bind_blob(stmt, 3, &data[(i % distinct) * dim], dim * 4, SQLITE_TRANSIENT);
      sqlite3_bind_text(stmt, 4, "{\"path\":\"img.jpg\"}", -1, SQLITE_TRANSIENT);
      sqlite3_step(stmt);
      sqlite3_reset(stmt);
    }
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  }
  double rate = n / (Seconds() - t);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  std::filesystem::remove(path);
  return rate;
}

void BenchInsertAndOpen(const Options& o, int dim, size_t n) {
  std::string dir = o.dir + "/open-" + std::to_string(dim);
  std::filesystem::remove_all(dir);
  std::vector<float> data = Clustered(std::min<size_t>(n, 100000), dim, 5);
  size_t distinct = data.size() / dim;
  // SQLite's default page size, and the store's own (8 KB), which suits rows of vectors.
  double plain = PlainSqliteRowsPerSecond(o.dir + "/plain.sqlite", data, dim, n, 4096);
  double plain_8k = PlainSqliteRowsPerSecond(o.dir + "/plain.sqlite", data, dim, n, 8192);
  double insert_seconds = 0;
  {
    DatabaseOptions options;
    options.snapshot_every_changes = o.snapshot_every;
    auto db = std::move(Database::Open(dir, options)).value();
    CollectionSchema s;
    s.name = "bench";
    s.dimension = dim;
    s.scalar_fields = {{"path", DataType::kVarChar}};
    (void)db->CreateCollection(s, {"FLAT", "L2", nlohmann::json::object()});
    auto c = *db->GetCollection("bench");
    double t = Seconds();
    for (size_t start = 0; start < n; start += 1000) {
      std::vector<Row> rows(std::min<size_t>(1000, n - start));
      for (size_t i = 0; i < rows.size(); ++i) {
        const float* v = &data[((start + i) % distinct) * dim];
        rows[i].vector.assign(v, v + dim);
        rows[i].fields = {{"path", "img.jpg"}};
      }
      (void)c->Insert(std::move(rows));
    }
    insert_seconds = Seconds() - t;
    (void)c->Flush();
  }
  const double rate = n / insert_seconds;
  std::printf(
      "insert %4d-d: %.0f rows/s in batches of 1000 (plain SQLite, same bytes: %.0f rows/s -> "
      "%.2fx; with 8 KB pages as the store: %.0f rows/s -> %.2fx)\n",
      dim, rate, plain, rate / plain, plain_8k, rate / plain_8k);
  // Open time, cold-ish: the page cache still holds the files, as it would after a restart
  // on a machine with enough memory; the reference reads the snapshot file the same way.
  std::string snapshot;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/index")) {
    if (e.path().extension() == ".idx") snapshot = e.path();
  }
  double t = Seconds();
  std::string bytes;
  {
    FILE* f = std::fopen(snapshot.c_str(), "rb");
    bytes.resize(std::filesystem::file_size(snapshot));
    size_t got = std::fread(bytes.data(), 1, bytes.size(), f);
    (void)got;
    std::fclose(f);
  }
  double read_seconds = Seconds() - t;
  bytes = {};
  long rss_before = ResidentBytes();
  t = Seconds();
  size_t count = 0;
  double open_seconds = 0, search_seconds = 0;
  size_t owned_bytes = 0;
  long rss_growth = 0;
  {
    auto db = std::move(Database::Open(dir)).value();
    auto c = *db->GetCollection("bench");
    count = size_t(c->Count());
    open_seconds = Seconds() - t;
    SearchRequest request;
    request.vectors = {std::vector<float>(data.begin(), data.begin() + dim)};
    request.limit = 10;
    request.output_fields = {"path"};
    t = Seconds();
    (void)c->Search(request);
    search_seconds = Seconds() - t;
    owned_bytes = c->Stats().index_memory_bytes;
    rss_growth = ResidentBytes() - rss_before;
  }
  std::printf(
      "open %4d-d, %zu vectors: %.2f s (reading the %.0f MB snapshot alone: %.2f s -> %.1fx of "
      "that); first search, k=10 with a field: %.2f s\n",
      dim, count, open_seconds, std::filesystem::file_size(snapshot) / 1e6, read_seconds,
      open_seconds / read_seconds, search_seconds);
  std::printf(
      "memory %4d-d after open and one search: %.0f bytes/vector owned by the index, %.0f "
      "bytes/vector of resident growth (mapped snapshot pages included; raw vector %d)\n",
      dim, double(owned_bytes) / count, double(rss_growth) / count, dim * 4);
  if (!std::getenv("KEEP_BENCH_DB")) std::filesystem::remove_all(dir);
}

// Wall seconds of a child process running `command` (through the shell, output dropped).
double ChildSeconds(const std::string& command) {
  double t = Seconds();
  int status = std::system((command + " > /dev/null").c_str());
  double seconds = Seconds() - t;
  if (status != 0) std::fprintf(stderr, "\"%s\" exited with %d\n", command.c_str(), status);
  return seconds;
}

// A library of n images with the built-in color_layout model, written through the
// database as Library::Index would (images and vectors of one image in one transaction),
// without decoding n files.
Status MakeLibrary(const std::string& dir, size_t n, bool flat_model) {
  LibraryOptions options;
  options.models = {"color_layout"};
  IMGSEARCH_RETURN_IF_ERROR(Library::Open(dir, options).status());
  IMGSEARCH_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, Database::Open(dir));
  IMGSEARCH_ASSIGN_OR_RETURN(std::shared_ptr<Collection> model, db->GetCollection("color_layout"));
  if (flat_model) IMGSEARCH_RETURN_IF_ERROR(model->DropIndex());  // back to FLAT
  const int dim = int(model->schema().dimension);
  std::vector<float> vectors = Clustered(std::min<size_t>(n, 100000), dim, 7);
  size_t distinct = vectors.size() / dim;
  for (size_t start = 0; start < n; start += 1000) {
    size_t count = std::min<size_t>(1000, n - start);
    IMGSEARCH_RETURN_IF_ERROR(db->Transact([&](Transaction& txn) -> Status {
      IMGSEARCH_ASSIGN_OR_RETURN(int64_t first, txn.TakeIds("image_id", int64_t(count)));
      std::vector<Row> images(count), embeddings(count);
      for (size_t i = 0; i < count; ++i) {
        int64_t id = first + int64_t(i);
        char hash[17];
        std::snprintf(hash, sizeof(hash), "%016llx",
                      (unsigned long long)(id * 0x9E3779B97F4A7C15ull));
        images[i].id = embeddings[i].id = id;
        images[i].binary_vector.assign(8, uint8_t(id));
        images[i].fields = {{"path", "/photos/" + std::to_string(id) + ".jpg"},
                            {"size", 100000},
                            {"mtime", 1},
                            {"hash", hash},
                            {"width", 640},
                            {"height", 480},
                            {"fields", nlohmann::json::object()}};
        const float* v = &vectors[((start + i) % distinct) * dim];
        embeddings[i].vector.assign(v, v + dim);
      }
      IMGSEARCH_RETURN_IF_ERROR(txn.Insert("images", std::move(images)).status());
      return txn.Insert("color_layout", std::move(embeddings)).status();
    }));
  }
  for (const std::string& name : db->ListCollections()) {
    IMGSEARCH_ASSIGN_OR_RETURN(std::shared_ptr<Collection> c, db->GetCollection(name));
    IMGSEARCH_RETURN_IF_ERROR(c->Flush());
  }
  return Status::Ok();
}

// A cold `imgsearch search`: a new process opens the library and answers, end to end.
void BenchColdCliSearch(const Options& o, size_t n) {
  std::string dir = o.dir + "/library";
  std::filesystem::remove_all(dir);
  double t = Seconds();
  Status made = MakeLibrary(dir, n, o.model_index == "FLAT");
  if (!made.ok()) {
    std::fprintf(stderr, "making the library: %s\n", made.ToString().c_str());
    return;
  }
  std::printf("library of %zu images (color_layout, %s) written in %.0f s\n", n,
              o.model_index.empty() ? "its default index" : o.model_index.c_str(), Seconds() - t);
  std::vector<double> searches, starts;
  for (int r = 0; r < 3; ++r) {
    starts.push_back(ChildSeconds(o.imgsearch + " --version"));
    searches.push_back(ChildSeconds(o.imgsearch + " search id:" + std::to_string(n / 2) + " --db " +
                                    dir + " -k 10 --json"));
  }
  std::printf(
      "cold `imgsearch search` on %zu images (%zu vectors per model): %.2f s wall, median of "
      "3 processes (target 1.5 s); a process that only starts (--version): %.2f s -> %.1fx "
      "of that\n",
      n, n, Median(searches), Median(starts), Median(searches) / Median(starts));
  if (!std::getenv("KEEP_BENCH_DB")) std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace imgsearch::bench

int main(int argc, char** argv) {
  using namespace imgsearch::bench;
  Options o = Parse(argc, argv);
  std::filesystem::create_directories(o.dir);
  std::printf("kernels: %s\n", imgsearch::index::KernelIsa());
  auto wanted = [&](const char* part) { return o.parts.find(part) != std::string::npos; };
  for (int dim : o.dims) {
    if (wanted("flat")) BenchFlatScan(dim);
  }
  for (int dim : o.dims) {
    if (!wanted("hnsw")) break;
    size_t n = dim >= 2048 ? o.hnsw_rows / 2 : o.hnsw_rows;
    BenchHnsw(o, "clustered random", Clustered(n, dim, 3), Clustered(o.queries, dim, 4), dim);
  }
  if (wanted("hnsw") && !o.embeddings.empty()) {
    int dim = 0;
    std::vector<float> base = ReadEmbedOutput(o.embeddings, &dim);
    if (dim == 0) {
      std::fprintf(stderr, "%s: no vectors\n", o.embeddings.c_str());
      return 1;
    }
    // Data and queries: the same images with different noise, as near-duplicate photos are.
    BenchHnsw(o, ("real (" + std::to_string(base.size() / dim) + " images + 5% noise)").c_str(),
              RepeatWithNoise(base, dim, o.hnsw_rows, 0.05f, 11),
              RepeatWithNoise(base, dim, o.queries, 0.05f, 12), dim);
  }
  for (int dim : o.dims) {
    if (wanted("store")) BenchInsertAndOpen(o, dim, dim >= 2048 ? o.open_rows / 4 : o.open_rows);
  }
  if (wanted("cli")) BenchColdCliSearch(o, o.open_rows);
  return 0;
}
