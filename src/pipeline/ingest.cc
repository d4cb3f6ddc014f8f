#include "pipeline/ingest.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "base/cpu.h"
#include "base/env.h"
#include "base/thread_pool.h"
#include "pipeline/image_ids.h"
#include "pipeline/images.h"
#include "pipeline/shard.h"

namespace imgsearch::pipeline {
namespace {

namespace fs = std::filesystem;

struct FileInfo {
  std::string path;  // absolute, normal form
  int64_t size = 0;
  int64_t mtime_ns = 0;
};

// Work for one file: which models need it, under which id.
struct Job {
  FileInfo file;
  int64_t id = 0;
  bool is_new = false;
  std::vector<size_t> models;
};

// One decoded file, preprocessed for every model that needs it.
struct Decoded {
  Status status;
  std::string hash;
  int width = 0;
  int height = 0;
  std::vector<std::vector<float>> tensors;  // by position in Job::models
};

void SortByPath(std::vector<FileInfo>* files) {
  std::sort(files->begin(), files->end(),
            [](const FileInfo& a, const FileInfo& b) { return a.path < b.path; });
}

std::optional<FileInfo> StatFile(base::Env* env, const std::string& path) {
  Result<base::FileStat> st = env->Stat(path);
  if (!st.ok() || !st->is_regular) return std::nullopt;
  return FileInfo{path, st->size, st->mtime_ns};
}

std::vector<FileInfo> Scan(base::Env* env, const std::vector<std::string>& roots,
                           std::vector<IngestFailure>* failures) {
  std::vector<FileInfo> files;
  for (const std::string& given : roots) {
    std::string root = NormalRoot(given);
    Result<base::FileStat> st = env->Stat(root);
    if (st.ok() && st->is_regular) {
      files.push_back({root, st->size, st->mtime_ns});
      continue;
    }
    if (!st.ok() || !st->is_directory) {
      failures->push_back({given, "not a file or folder",
                           Status::InvalidArgument(given + ": not a file or folder")});
      continue;
    }
    std::vector<IngestFailure> unlisted = WalkImageFiles(
        env, root, [](const std::string&) { return true; },
        [&](const std::string& path, const base::FileStat& file) {
          files.push_back({path, file.size, file.mtime_ns});
        });
    failures->insert(failures->end(), unlisted.begin(), unlisted.end());
  }
  SortByPath(&files);
  files.erase(std::unique(files.begin(), files.end(),
                          [](const FileInfo& a, const FileInfo& b) { return a.path == b.path; }),
              files.end());
  return files;
}

// Which of `ids` a model's collection holds.
Result<std::set<int64_t>> Present(const Collection& collection, const std::vector<int64_t>& ids) {
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Row> rows, collection.Get(ids, {}));
  std::set<int64_t> present;
  for (const Row& row : rows) present.insert(row.id);
  return present;
}

// What each file needs: every model when the file is new or changed (or the model is
// being re-embedded), else the models that lack its image. Looks up only these files,
// through the path index: the cost follows the files, not the size of the library.
Result<std::vector<Job>> PlanJobs(const Collection& images, const std::vector<BoundModel>& models,
                                  const std::vector<FileInfo>& files, IngestReport* report) {
  std::vector<Job> jobs;
  constexpr size_t kBatch = 1024;
  for (size_t first = 0; first < files.size(); first += kBatch) {
    std::vector<FileInfo> batch(
        files.begin() + static_cast<long>(first),
        files.begin() + static_cast<long>(std::min(files.size(), first + kBatch)));
    std::vector<std::string> paths;
    for (const FileInfo& f : batch) paths.push_back(f.path);
    IMGSEARCH_ASSIGN_OR_RETURN(auto known, ImagesByPath(images, paths));
    std::vector<int64_t> ids;
    for (const auto& [path, image] : known) ids.push_back(image.id);
    std::vector<std::set<int64_t>> present;
    for (const auto& m : models) {
      IMGSEARCH_ASSIGN_OR_RETURN(std::set<int64_t> p, Present(*m.collection, ids));
      present.push_back(std::move(p));
    }
    for (const FileInfo& f : batch) {
      auto it = known.find(f.path);
      bool changed =
          it == known.end() || it->second.size != f.size || it->second.mtime_ns != f.mtime_ns;
      Job job{f, 0, it == known.end(), {}};
      for (size_t m = 0; m < models.size(); ++m) {
        if (changed || models[m].reembed || !present[m].count(it->second.id))
          job.models.push_back(m);
      }
      if (job.models.empty()) {
        ++report->unchanged;
      } else {
        jobs.push_back(std::move(job));
      }
    }
  }
  return jobs;
}

Decoded DecodeJob(base::Env* env, const Job& job, const std::vector<BoundModel>& models,
                  const DecodeOptions& options) {
  Decoded out;
  auto bytes = env->ReadFile(job.file.path, options.max_file_bytes);
  if (!bytes.ok()) {
    out.status = bytes.status();
    return out;
  }
  out.hash = ContentHash(*bytes);
  auto image = DecodeImage(*bytes, job.file.path, options);
  if (!image.ok()) {
    out.status = image.status();
    return out;
  }
  out.width = image->width;
  out.height = image->height;
  for (size_t m : job.models) {
    const PreprocessSpec& spec = models[m].embedder->spec().preprocess;
    out.tensors.emplace_back(spec.TensorSize());
    Preprocess(*image, spec, out.tensors.back().data());
  }
  return out;
}

Row VectorRow(int64_t id, const Embeddings& vectors, size_t i) {
  Row row;
  row.id = id;
  if (vectors.type == VectorType::kBinary) {
    auto bits = vectors.BinaryVector(i);
    row.binary_vector.assign(bits.begin(), bits.end());
  } else {
    auto v = vectors.FloatVector(i);
    row.vector.assign(v.begin(), v.end());
  }
  return row;
}

// One model's vectors for a chunk: which jobs they belong to, in order.
struct ModelBatch {
  std::vector<size_t> jobs;
  Embeddings vectors;
};

// Runs every model over the chunk's decoded images. Outside any write: inference is the
// slow part, and other processes' writes need not wait for it.
Result<std::vector<ModelBatch>> EmbedChunk(const std::vector<Job>& jobs,
                                           const std::vector<Decoded>& decoded,
                                           std::vector<BoundModel>& models) {
  std::vector<ModelBatch> batches(models.size());
  for (size_t m = 0; m < models.size(); ++m) {
    std::vector<float> batch;
    for (size_t j = 0; j < jobs.size(); ++j) {
      if (!decoded[j].status.ok()) continue;
      auto at = std::find(jobs[j].models.begin(), jobs[j].models.end(), m);
      if (at == jobs[j].models.end()) continue;
      const auto& tensor = decoded[j].tensors[static_cast<size_t>(at - jobs[j].models.begin())];
      batch.insert(batch.end(), tensor.begin(), tensor.end());
      batches[m].jobs.push_back(j);
    }
    if (batches[m].jobs.empty()) continue;
    IMGSEARCH_ASSIGN_OR_RETURN(batches[m].vectors, models[m].embedder->EmbedPreprocessed(
                                                       batch.data(), batches[m].jobs.size()));
  }
  return batches;
}

// Gives each job its image id: the one its path has, or a new one from the database's
// counter, and returns the images' rows. Inside the write, where reads see every commit
// of every process: two processes never give one path two ids, nor two images one id.
Result<std::vector<Row>> AssignIds(Transaction& txn, const Collection& images,
                                   std::vector<Job>& jobs, const std::vector<Decoded>& decoded) {
  std::vector<std::string> paths;
  for (size_t j = 0; j < jobs.size(); ++j) {
    if (decoded[j].status.ok()) paths.push_back(jobs[j].file.path);
  }
  IMGSEARCH_ASSIGN_OR_RETURN(auto known, ImagesByPath(images, paths));
  std::vector<ImageInfo> records;
  std::vector<size_t> fresh;
  for (size_t j = 0; j < jobs.size(); ++j) {
    if (!decoded[j].status.ok()) continue;
    auto it = known.find(jobs[j].file.path);
    jobs[j].is_new = it == known.end();
    ImageInfo record = jobs[j].is_new ? ImageInfo{} : it->second;  // keeps the user's fields
    record.path = jobs[j].file.path;
    record.size = jobs[j].file.size;
    record.mtime_ns = jobs[j].file.mtime_ns;
    record.hash = decoded[j].hash;
    record.width = decoded[j].width;
    record.height = decoded[j].height;
    if (jobs[j].is_new) fresh.push_back(records.size());
    records.push_back(std::move(record));
  }
  if (!fresh.empty()) {
    Result<int64_t> first = txn.TakeIds(kImageIdCounter, static_cast<int64_t>(fresh.size()));
    if (first.ok()) {
      for (size_t i = 0; i < fresh.size(); ++i)
        records[fresh[i]].id = *first + static_cast<int64_t>(i);
    } else if (first.status().code() == StatusCode::kUnsupported) {  // no counters: Milvus
      std::vector<std::string> fresh_paths;
      for (size_t i : fresh) fresh_paths.push_back(records[i].path);
      IMGSEARCH_ASSIGN_OR_RETURN(std::vector<int64_t> ids, DerivedImageIds(images, fresh_paths));
      for (size_t i = 0; i < fresh.size(); ++i) records[fresh[i]].id = ids[i];
    } else {
      return first.status();
    }
  }
  std::vector<Row> rows;
  size_t next = 0;
  for (size_t j = 0; j < jobs.size(); ++j) {
    if (!decoded[j].status.ok()) continue;
    jobs[j].id = records[next].id;
    rows.push_back(ImageRow(records[next++]));
  }
  return rows;
}

// Writes a chunk to the images and every model in one transaction: after a crash, an
// image is in every model's collection or in none. A store without transactions (Milvus)
// applies the writes in order: every model's vectors first, the images' rows last, so
// that an image is listed only once all of its vectors exist; a run that stops between
// them leaves vectors that the next run overwrites under the same (path-derived) ids.
Status WriteChunk(Database& db, const Collection& images, std::vector<Job>& jobs,
                  const std::vector<Decoded>& decoded, const std::vector<ModelBatch>& batches,
                  const std::vector<BoundModel>& models, IngestReport* report) {
  for (size_t j = 0; j < jobs.size(); ++j) {
    if (!decoded[j].status.ok())
      report->failures.push_back(
          {jobs[j].file.path, decoded[j].status.message(), decoded[j].status});
  }
  IMGSEARCH_RETURN_IF_ERROR(db.Transact([&](Transaction& txn) -> Status {
    IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Row> image_rows, AssignIds(txn, images, jobs, decoded));
    if (image_rows.empty()) return Status::Ok();
    for (size_t m = 0; m < models.size(); ++m) {
      std::vector<Row> rows;
      for (size_t i = 0; i < batches[m].jobs.size(); ++i)
        rows.push_back(VectorRow(jobs[batches[m].jobs[i]].id, batches[m].vectors, i));
      if (rows.empty()) continue;
      IMGSEARCH_RETURN_IF_ERROR(
          txn.Upsert(models[m].collection->schema().name, std::move(rows)).status());
    }
    return txn.Upsert(kImagesCollection, std::move(image_rows)).status();
  }));
  std::vector<std::pair<std::string, int64_t>> written;
  for (size_t j = 0; j < jobs.size(); ++j) {
    if (!decoded[j].status.ok()) continue;
    ++(jobs[j].is_new ? report->added : report->updated);
    written.emplace_back(decoded[j].hash, jobs[j].id);
  }
  if (written.empty()) return Status::Ok();
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<bool> copies, HaveEarlierCopies(images, written));
  report->duplicates += static_cast<size_t>(std::count(copies.begin(), copies.end(), true));
  return Status::Ok();
}

// The chunk being written while the next one is embedded: chunks are written one after
// the other, in order, by one thread at a time, so a store sees the same writes in the
// same order as without the overlap; only the model inference runs alongside. Over a
// remote store most of a write is waiting for the server (its Strong reads wait for
// the server's clock), which the next chunk's inference fills.
class ChunkWriter {
 public:
  ChunkWriter(Database& db, const Collection& images, const std::vector<BoundModel>& models,
              IngestReport* report)
      : db_(db), images_(images), models_(models), report_(report) {}
  ~ChunkWriter() { (void)Wait(); }

  // Starts writing a chunk once the previous one is written; its error, if any, is
  // returned and the new chunk is not written.
  Status Start(std::vector<Job> jobs, std::vector<Decoded> decoded,
               std::vector<ModelBatch> batches) {
    IMGSEARCH_RETURN_IF_ERROR(Wait());
    writing_ =
        std::async(std::launch::async, [this, jobs = std::move(jobs), decoded = std::move(decoded),
                                        batches = std::move(batches)]() mutable {
          Status written = WriteChunk(db_, images_, jobs, decoded, batches, models_, report_);
          if (written.ok()) report_done_ += decoded.size();
          return written;
        });
    return Status::Ok();
  }
  // Waits for the chunk being written; its status.
  Status Wait() {
    if (!writing_.valid()) return Status::Ok();
    return writing_.get();
  }
  // Jobs of the chunks written so far.
  size_t done() const { return report_done_; }
  // Jobs done without a chunk's write (images moved).
  void Skipped(size_t jobs) { report_done_ += jobs; }

 private:
  Database& db_;
  const Collection& images_;
  const std::vector<BoundModel>& models_;
  IngestReport* report_;
  std::atomic<size_t> report_done_{0};  // read while the next chunk is being written
  std::future<Status> writing_;
};

// The jobs of a chunk that are files new to the library holding the bytes of an image
// whose file is gone: that image was renamed or moved, and takes the new path with its
// id, vectors and the user's fields, instead of a new image being embedded. Found through
// the hash index, one query per chunk; each gone image is matched once.
Result<std::map<size_t, ImageInfo>> FindMoves(base::Env* env, const Collection& images,
                                              const std::vector<Job>& jobs,
                                              const std::vector<Decoded>& decoded) {
  std::map<size_t, ImageInfo> moves;  // by job
  std::vector<std::string> hashes;
  for (size_t j = 0; j < jobs.size(); ++j) {
    if (jobs[j].is_new && decoded[j].status.ok()) hashes.push_back(decoded[j].hash);
  }
  if (hashes.empty()) return moves;
  IMGSEARCH_ASSIGN_OR_RETURN(auto holders, ImagesByHash(images, hashes));
  std::set<int64_t> taken;
  for (size_t j = 0; j < jobs.size(); ++j) {
    if (!jobs[j].is_new || !decoded[j].status.ok()) continue;
    auto [first, last] = holders.equal_range(decoded[j].hash);
    for (auto it = first; it != last; ++it) {
      const ImageInfo& image = it->second;
      if (image.size != jobs[j].file.size || !FileGone(env, image.path) ||
          !taken.insert(image.id).second)
        continue;
      moves.emplace(j, image);
      break;
    }
  }
  return moves;
}

// Gives the moved images their new paths in one transaction, and takes their jobs out of
// the chunk. An image another process changed meanwhile (moved, removed, or its new path
// taken) is left alone, and its file stays in the chunk to be embedded as a new image.
Status WriteMoves(Database& db, const Collection& images, const std::map<size_t, ImageInfo>& moves,
                  std::vector<Job>* jobs, std::vector<Decoded>* decoded, IngestReport* report) {
  if (moves.empty()) return Status::Ok();
  std::set<size_t> moved;
  IMGSEARCH_RETURN_IF_ERROR(db.Transact([&](Transaction& txn) -> Status {
    moved.clear();
    std::vector<int64_t> ids;
    std::vector<std::string> paths;
    for (const auto& [j, image] : moves) {
      ids.push_back(image.id);
      paths.push_back((*jobs)[j].file.path);
    }
    IMGSEARCH_ASSIGN_OR_RETURN(auto now, ImagesById(images, ids));
    IMGSEARCH_ASSIGN_OR_RETURN(auto taken, ImagesByPath(images, paths));
    std::vector<Row> rows;
    for (const auto& [j, image] : moves) {
      const FileInfo& file = (*jobs)[j].file;
      auto it = now.find(image.id);
      if (it == now.end() || it->second.path != image.path || it->second.hash != image.hash ||
          taken.count(file.path))
        continue;
      ImageInfo update = it->second;  // keeps the user's fields
      update.path = file.path;
      update.size = file.size;
      update.mtime_ns = file.mtime_ns;
      rows.push_back(ImageRow(update));
      moved.insert(j);
    }
    if (rows.empty()) return Status::Ok();
    return txn.Upsert(kImagesCollection, std::move(rows)).status();
  }));
  report->moved += moved.size();
  for (auto j = moved.rbegin(); j != moved.rend(); ++j) {
    jobs->erase(jobs->begin() + static_cast<long>(*j));
    decoded->erase(decoded->begin() + static_cast<long>(*j));
  }
  return Status::Ok();
}

// Images whose file is gone, among all of the library's (with a shard: among its share;
// with prune_only_under_paths: under `roots`).
Result<std::vector<int64_t>> ImagesWithoutFile(base::Env* env, const Collection& images,
                                               const IngestOptions& options,
                                               const std::vector<std::string>& roots) {
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Row> rows, AllRows(images, {"path"}));
  Shard shard{options.shard_index, options.shard_count};
  std::vector<int64_t> gone;
  for (const Row& row : rows) {
    std::string path = row.fields.at("path").get<std::string>();
    if (options.prune_only_under_paths && !RelativeToRoots(path, roots)) continue;
    if (InShare(path, roots, shard) && FileGone(env, path)) gone.push_back(row.id);
  }
  return gone;
}

// Removes the images whose file is gone.
Status Prune(base::Env* env, Database& db, const Collection& images,
             const std::vector<BoundModel>& models, const IngestOptions& options,
             const std::vector<std::string>& roots, IngestReport* report) {
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<int64_t> gone,
                             ImagesWithoutFile(env, images, options, roots));
  if (gone.empty()) return Status::Ok();
  IMGSEARCH_ASSIGN_OR_RETURN(int64_t removed, RemoveImages(db, models, gone));
  report->pruned += static_cast<size_t>(removed);
  return Status::Ok();
}

// A model being re-embedded needs every image of the library, wherever it lies: its
// files join the scan, and images whose file is gone are removed (their vectors could
// only stay from the old version of the model).
Status AddImagesToReembed(base::Env* env, Database& db, const Collection& images,
                          std::vector<BoundModel>& models, const IngestOptions& options,
                          const std::vector<std::string>& roots, std::vector<FileInfo>* files,
                          IngestReport* report) {
  if (std::none_of(models.begin(), models.end(), [](const BoundModel& m) { return m.reembed; }))
    return Status::Ok();
  if (options.shard_count > 1) {
    return Status::InvalidArgument(
        "a model is being embedded again with a new file: that takes every image of the "
        "library, on one machine (run index without --shard)");
  }
  std::set<std::string> scanned;
  for (const FileInfo& f : *files) scanned.insert(f.path);
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Row> rows, AllRows(images, {"path"}));
  for (const Row& row : rows) {
    std::string path = row.fields.at("path").get<std::string>();
    if (scanned.count(path)) continue;
    if (auto info = StatFile(env, path)) files->push_back(*info);
  }
  SortByPath(files);
  return Prune(env, db, images, models, options, roots, report);
}

}  // namespace

bool LooksLikeImageFile(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* e : {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}) {
    if (ext == e) return true;
  }
  return false;
}

bool FileGone(base::Env* env, const std::string& path) {
  return env->Stat(path).status().code() == StatusCode::kNotFound;
}

std::vector<IngestFailure> WalkImageFiles(
    base::Env* env, const std::string& root, const std::function<bool(const std::string&)>& folder,
    const std::function<void(const std::string&, const base::FileStat&)>& file) {
  std::vector<IngestFailure> unlisted;
  std::vector<std::string> stack = {root};
  while (!stack.empty()) {
    std::string dir = std::move(stack.back());
    stack.pop_back();
    if (!folder(dir)) break;
    Result<std::vector<std::string>> names = env->ListDir(dir);
    if (!names.ok()) {
      unlisted.push_back(
          {dir, "cannot list the folder: " + names.status().message(), names.status()});
      continue;
    }
    for (const std::string& name : *names) {
      std::string path = dir == "/" ? dir + name : dir + "/" + name;
      Result<base::FileStat> st = env->Stat(path);
      if (!st.ok()) continue;  // gone meanwhile, or a link to nothing
      if (st->is_directory && !st->is_link) {
        stack.push_back(std::move(path));
      } else if (st->is_regular && LooksLikeImageFile(path)) {
        file(path, *st);
      }
    }
  }
  return unlisted;
}

Result<int64_t> RemoveImages(Database& db, const std::vector<BoundModel>& models,
                             const std::vector<int64_t>& ids) {
  int64_t removed = 0;
  IMGSEARCH_RETURN_IF_ERROR(db.Transact([&](Transaction& txn) -> Status {
    IMGSEARCH_ASSIGN_OR_RETURN(removed, txn.Delete(kImagesCollection, ids));
    for (const auto& m : models) {
      IMGSEARCH_RETURN_IF_ERROR(txn.Delete(m.collection->schema().name, ids).status());
    }
    return Status::Ok();
  }));
  return removed;
}

Result<IngestReport> Ingest(base::Env* env, Database& db, const Collection& images,
                            std::vector<BoundModel>& models, const IngestOptions& options) {
  auto start = std::chrono::steady_clock::now();
  IngestReport report;
  Shard shard{options.shard_index, options.shard_count};
  IMGSEARCH_RETURN_IF_ERROR(CheckShard(shard));
  std::vector<std::string> roots = NormalRoots(options.paths);
  std::vector<FileInfo> files = Scan(env, options.paths, &report.failures);
  if (!shard.all()) {  // this machine's share only
    std::erase_if(files, [&](const FileInfo& f) { return !InShare(f.path, roots, shard); });
  }
  if (options.defer) {
    std::erase_if(files, [&](const FileInfo& f) {
      if (!options.defer(f.path, f.mtime_ns)) return false;
      report.deferred.push_back(f.path);
      return true;
    });
  }
  report.scanned = files.size();
  IMGSEARCH_RETURN_IF_ERROR(
      AddImagesToReembed(env, db, images, models, options, roots, &files, &report));
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Job> jobs, PlanJobs(images, models, files, &report));
  DecodeOptions decode = DecodeOptionsForAll(models);
  // Images can have moved only in a library that had some (a first import, the bulk of
  // the work, pays no lookup), and a model embedding again needs every file anyway.
  const bool may_move =
      std::none_of(models.begin(), models.end(), [](const BoundModel& m) { return m.reembed; }) &&
      images.Count() > 0;
  base::ThreadPool pool(options.decode_threads > 0 ? options.decode_threads
                                                   : std::max(1, base::UsableCores() - 1));
  auto decode_chunk = [&](size_t first) {
    size_t n = std::min(options.chunk, jobs.size() - first);
    std::vector<std::future<Decoded>> futures;
    for (size_t i = 0; i < n; ++i) {
      futures.push_back(pool.Submit([env, &jobs, &models, &decode, first, i] {
        return DecodeJob(env, jobs[first + i], models, decode);
      }));
    }
    return futures;
  };
  std::vector<std::future<Decoded>> pending;
  if (!jobs.empty()) pending = decode_chunk(0);
  auto progress = [&](size_t done) {
    if (!options.on_progress) return;
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    options.on_progress({done, jobs.size(), seconds});
  };
  ChunkWriter writer(db, images, models, &report);
  for (size_t first = 0; first < jobs.size(); first += options.chunk) {
    std::vector<Decoded> decoded;
    for (auto& f : pending) decoded.push_back(f.get());
    pending.clear();
    if (options.cancelled && options.cancelled()) {
      report.cancelled = true;
      break;  // everything written so far is committed; a rerun continues from here
    }
    size_t next = first + options.chunk;
    if (next < jobs.size()) pending = decode_chunk(next);  // decode ahead while inference runs
    std::vector<Job> chunk(jobs.begin() + static_cast<long>(first),
                           jobs.begin() + static_cast<long>(first + decoded.size()));
    if (may_move) {  // images renamed or moved: a new path, no inference
      Result<std::map<size_t, ImageInfo>> moves = FindMoves(env, images, chunk, decoded);
      Status moved = moves.status();
      if (moved.ok() && !moves->empty()) {
        moved = writer.Wait();  // written in order, after the chunk before
        size_t before = chunk.size();
        if (moved.ok()) moved = WriteMoves(db, images, *moves, &chunk, &decoded, &report);
        writer.Skipped(before - chunk.size());
      }
      if (!moved.ok()) {
        (void)writer.Wait();
        return moved;
      }
    }
    // Inference, outside any write: it is the slow part, and other processes' writes need
    // not wait for it; the previous chunk is being written meanwhile.
    Result<std::vector<ModelBatch>> batches = EmbedChunk(chunk, decoded, models);
    if (!batches.ok()) {
      (void)writer.Wait();
      return batches.status();
    }
    // The previous chunk written, reported, and only then this one started: a run
    // cancelled from the progress callback stops with the chunks it was told of.
    IMGSEARCH_RETURN_IF_ERROR(writer.Wait());
    if (first > 0) progress(writer.done());
    if (options.cancelled && options.cancelled()) {
      report.cancelled = true;
      break;
    }
    IMGSEARCH_RETURN_IF_ERROR(
        writer.Start(std::move(chunk), std::move(decoded), std::move(*batches)));
  }
  IMGSEARCH_RETURN_IF_ERROR(writer.Wait());
  if (!jobs.empty()) progress(writer.done());
  if (options.prune && !report.cancelled)
    IMGSEARCH_RETURN_IF_ERROR(Prune(env, db, images, models, options, roots, &report));
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace imgsearch::pipeline
