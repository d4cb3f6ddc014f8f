// The cost of one upload (Library::AddImage) as the library grows: at each size the
// library is filled with synthetic images (rows of the images collection and random
// vectors for every model), then real photos are uploaded one at a time. Reference,
// measured in the same run on the same photos: decoding and embedding them with the same
// models and nothing else. The ratio should not grow with the library: finding an image
// by path or content goes through an index, not through every row.
//   upload_bench [--images DIR] [--sizes 1000,100000] [--uploads N]
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <sstream>

#include "bench_util.h"
#include "imgsearch/embedder.h"
#include "imgsearch/image.h"
#include "imgsearch/library.h"

namespace imgsearch::bench {
namespace {

std::string ReadAll(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  std::string bytes;
  if (f == nullptr) return bytes;
  char buffer[65536];
  for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), f)) > 0;) bytes.append(buffer, n);
  std::fclose(f);
  return bytes;
}

// A model row with a random vector of the collection's kind.
Row RandomVectorRow(const CollectionSchema& schema, int64_t id, std::mt19937& rng) {
  Row row;
  row.id = id;
  if (schema.binary()) {
    for (size_t i = 0; i < schema.VectorBytes(); ++i) row.binary_vector.push_back(uint8_t(rng()));
  } else {
    std::normal_distribution<float> dist;
    for (int i = 0; i < schema.dimension; ++i) row.vector.push_back(dist(rng));
  }
  return row;
}

// Synthetic images 1..n: distinct paths and hashes, as a folder index would leave them.
Status Fill(Library& library, int64_t n) {
  Database& db = library.database();
  std::vector<std::shared_ptr<Collection>> models;
  for (const std::string& name : library.ModelNames()) {
    IMGSEARCH_ASSIGN_OR_RETURN(auto c, db.GetCollection(name));
    models.push_back(c);
  }
  std::mt19937 rng(7);
  constexpr int64_t kBatch = 10000;
  for (int64_t first = 1; first <= n; first += kBatch) {
    IMGSEARCH_RETURN_IF_ERROR(db.Transact([&](Transaction& txn) -> Status {
      int64_t count = std::min(kBatch, n - first + 1);
      IMGSEARCH_ASSIGN_OR_RETURN(int64_t id, txn.TakeIds("image_id", count));
      std::vector<Row> images;
      std::vector<std::vector<Row>> vectors(models.size());
      for (int64_t i = 0; i < count; ++i, ++id) {
        char hash[17];
        std::snprintf(hash, sizeof(hash), "%016llx", static_cast<unsigned long long>(id));
        Row image;
        image.id = id;
        image.binary_vector.assign(8, 0);
        std::memcpy(image.binary_vector.data(), &id, sizeof(id));
        image.fields = {{"path", "/photos/album-" + std::to_string(id % 100) + "/img-" +
                                     std::to_string(id) + ".jpg"},
                        {"size", 100000 + id},
                        {"mtime", 1700000000000000000 + id},
                        {"hash", hash},
                        {"width", 640},
                        {"height", 480},
                        {"fields", nlohmann::json::object()}};
        images.push_back(std::move(image));
        for (size_t m = 0; m < models.size(); ++m)
          vectors[m].push_back(RandomVectorRow(models[m]->schema(), id, rng));
      }
      IMGSEARCH_RETURN_IF_ERROR(txn.Insert(kImagesCollectionName, std::move(images)).status());
      for (size_t m = 0; m < models.size(); ++m) {
        IMGSEARCH_RETURN_IF_ERROR(
            txn.Insert(models[m]->schema().name, std::move(vectors[m])).status());
      }
      return Status::Ok();
    }));
  }
  // Indexes built and snapshots written, so that no background work overlaps the timing.
  for (const std::string& name : db.ListCollections()) {
    IMGSEARCH_ASSIGN_OR_RETURN(auto c, db.GetCollection(name));
    IMGSEARCH_RETURN_IF_ERROR(c->Flush());
  }
  return Status::Ok();
}

// One durable small write: a 4 KiB file written and fsync'd. An upload needs a few (the
// file itself, its folder, the database's commit), so this is the floor of its cost.
double FsyncSeconds(const std::string& dir) {
  std::string path = dir + "/fsync-probe";
  std::vector<double> times;
  std::string block(4096, 'x');
  for (int i = 0; i < 20; ++i) {
    double t = Seconds();
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return 0;
    bool ok = ::write(fd, block.data(), block.size()) == ssize_t(block.size());
    ok = ::fsync(fd) == 0 && ok;
    ::close(fd);
    if (!ok) return 0;
    times.push_back(Seconds() - t);
  }
  std::filesystem::remove(path);
  return Median(times);
}

// Decoding and embedding with every model, nothing stored: what an upload cannot avoid.
double EmbedOnlySeconds(const std::vector<std::unique_ptr<Embedder>>& embedders,
                        const std::string& bytes) {
  double t = Seconds();
  auto image = DecodeImage(bytes, "photo", embedders[0]->decode_options());  // once, as ingest
  if (image.ok()) {
    for (const auto& e : embedders) (void)e->Embed(std::span(&*image, 1));
  }
  return Seconds() - t;
}

// One inference thread everywhere: ONNX Runtime's pools spin after each run, and two
// sets of spinning pools on two cores would time each other, not the upload.
EmbedderOptions OneThread() {
  EmbedderOptions options;
  options.intra_op_threads = 1;
  return options;
}

int Run(const std::string& images_dir, const std::vector<int64_t>& sizes, size_t uploads) {
  std::vector<std::string> photos = ListImages(images_dir, uploads * sizes.size() + 1);
  if (photos.size() < uploads * sizes.size() + 1)
    return std::fprintf(stderr, "need %zu photos under %s\n", uploads * sizes.size() + 1,
                        images_dir.c_str()),
           1;
  std::vector<std::unique_ptr<Embedder>> embedders;
  for (const auto& model : ListBuiltinModels()) {
    auto e = Embedder::Open(model.name, OneThread());
    if (!e.ok()) return std::fprintf(stderr, "%s\n", e.status().ToString().c_str()), 1;
    embedders.push_back(std::move(e).value());
  }
  std::printf("one upload (Library::AddImage of a real photo, built-in models), median of %zu:\n",
              uploads);
  size_t next_photo = 1;
  for (int64_t n : sizes) {
    std::string dir = "/tmp/imgsearch-upload-bench-" + std::to_string(n);
    std::filesystem::remove_all(dir);
    double t = Seconds();
    {
      auto library = Library::Open(dir);
      if (!library.ok())
        return std::fprintf(stderr, "%s\n", library.status().ToString().c_str()), 1;
      Status filled = Fill(**library, n);
      if (!filled.ok()) return std::fprintf(stderr, "%s\n", filled.ToString().c_str()), 1;
    }
    double fill = Seconds() - t;
    LibraryOptions one_thread;
    one_thread.inference_threads = 1;
    auto library = std::move(Library::Open(dir, one_thread)).value();  // as a server holds it
    (void)library->AddImage(ReadAll(photos[0]));                       // warm-up
    std::vector<double> upload, reference;
    for (size_t i = 0; i < uploads; ++i, ++next_photo) {
      std::string bytes = ReadAll(photos[next_photo]);
      reference.push_back(EmbedOnlySeconds(embedders, bytes));
      t = Seconds();
      auto added = library->AddImage(bytes);
      upload.push_back(Seconds() - t);
      if (!added.ok() || !added->created)
        return std::fprintf(stderr, "upload failed: %s\n", added.status().ToString().c_str()), 1;
    }
    double u = Median(upload), r = Median(reference), f = FsyncSeconds(dir);
    std::printf(
        "  %7lld images: upload %.2f ms = %.2fx decode+embed alone (%.2f ms) = %.1fx one "
        "fsync'd 4 KiB write (%.2f ms)  [filled in %.1f s]\n",
        static_cast<long long>(n), u * 1e3, u / r, r * 1e3, u / f, f * 1e3, fill);
    std::filesystem::remove_all(dir);
  }
  return 0;
}

}  // namespace
}  // namespace imgsearch::bench

int main(int argc, char** argv) {
  std::string images = "../shared/data/caltech101-dev";
  std::vector<int64_t> sizes = {1000, 100000};
  size_t uploads = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--images") {
      images = value;
    } else if (flag == "--uploads") {
      uploads = std::stoul(value);
    } else if (flag == "--sizes") {
      sizes.clear();
      std::stringstream list(value);
      for (std::string item; std::getline(list, item, ',');) sizes.push_back(std::stoll(item));
    } else {
      return std::fprintf(stderr, "unknown flag %s\n", flag.c_str()), 2;
    }
  }
  return imgsearch::bench::Run(images, sizes, uploads);
}
