#include "pipeline/ingest.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "base/env.h"
#include "base/thread_pool.h"

namespace imgsearch::pipeline {
namespace {

namespace fs = std::filesystem;

struct FileInfo {
  std::string path;  // absolute, normal form
  int64_t size = 0;
  int64_t mtime_ns = 0;
};

struct KnownRow {
  int64_t id = 0;
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

std::optional<FileInfo> Stat(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return FileInfo{fs::absolute(path).lexically_normal().string(), static_cast<int64_t>(st.st_size),
                  static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

std::vector<FileInfo> Scan(const std::vector<std::string>& roots,
                           std::vector<IngestFailure>* failures) {
  std::vector<FileInfo> files;
  for (const std::string& root : roots) {
    std::error_code error;
    if (fs::is_regular_file(root, error)) {
      if (auto info = Stat(root)) files.push_back(*info);
      continue;
    }
    if (!fs::is_directory(root, error)) {
      failures->push_back({root, "not a file or folder"});
      continue;
    }
    auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied,
                                               error);
    for (; !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
      if (it->is_regular_file(error) && LooksLikeImageFile(it->path().string())) {
        if (auto info = Stat(it->path())) files.push_back(*info);
      }
    }
    if (error) failures->push_back({root, "scan stopped: " + error.message()});
  }
  std::sort(files.begin(), files.end(),
            [](const FileInfo& a, const FileInfo& b) { return a.path < b.path; });
  files.erase(std::unique(files.begin(), files.end(),
                          [](const FileInfo& a, const FileInfo& b) { return a.path == b.path; }),
              files.end());
  return files;
}

Result<std::map<std::string, KnownRow>> KnownRows(const Collection& collection) {
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Row> rows, AllRows(collection, {"path", "size", "mtime"}));
  std::map<std::string, KnownRow> known;
  for (const Row& r : rows) {
    known[r.fields.at("path").get<std::string>()] = {r.id, r.fields.at("size").get<int64_t>(),
                                                     r.fields.at("mtime").get<int64_t>()};
  }
  return known;
}

// What the models' collections hold, as far as this run knows: kept up to date with its
// own writes, and read again (inside a write, so nothing can change meanwhile) when
// another process has written since.
struct Known {
  std::vector<std::map<std::string, KnownRow>> by_model;
  std::map<std::string, int64_t> id_of_path;
  int64_t next_id = 1;             // one past the largest id seen
  std::vector<int64_t> sequences;  // each collection's last change number it reflects
};

Result<Known> LoadKnown(const std::vector<BoundModel>& models) {
  Known known;
  for (const auto& m : models) {
    // The number first: a write landing in between makes it look stale, never current.
    known.sequences.push_back(m.collection->Stats().last_sequence);
    IMGSEARCH_ASSIGN_OR_RETURN(auto rows, KnownRows(*m.collection));
    for (const auto& [path, row] : rows) {
      known.id_of_path[path] = row.id;
      known.next_id = std::max(known.next_id, row.id + 1);
    }
    known.by_model.push_back(std::move(rows));
  }
  return known;
}

bool StillCurrent(const Known& known, const std::vector<BoundModel>& models) {
  for (size_t m = 0; m < models.size(); ++m) {
    if (models[m].collection->Stats().last_sequence != known.sequences[m]) return false;
  }
  return true;
}

Decoded DecodeJob(const Job& job, const std::vector<BoundModel>& models,
                  const DecodeOptions& options) {
  Decoded out;
  auto bytes = base::Env::Default()->ReadFile(job.file.path, options.max_file_bytes);
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

Row MakeRow(const Job& job, const Decoded& d, const Embeddings& vectors, size_t i) {
  Row row;
  row.id = job.id;
  if (vectors.type == VectorType::kBinary) {
    auto bits = vectors.BinaryVector(i);
    row.binary_vector.assign(bits.begin(), bits.end());
  } else {
    auto v = vectors.FloatVector(i);
    row.vector.assign(v.begin(), v.end());
  }
  row.fields = {{"path", job.file.path}, {"size", job.file.size}, {"mtime", job.file.mtime_ns},
                {"hash", d.hash},        {"width", d.width},      {"height", d.height}};
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
// counter. Inside the write, so two processes never give one path two ids, nor two
// images one id.
Status AssignIds(Transaction& txn, Known& known, std::vector<Job>& jobs,
                 const std::vector<Decoded>& decoded) {
  std::vector<Job*> fresh;
  for (size_t j = 0; j < jobs.size(); ++j) {
    if (!decoded[j].status.ok()) continue;
    auto it = known.id_of_path.find(jobs[j].file.path);
    jobs[j].is_new = it == known.id_of_path.end();
    if (jobs[j].is_new) {
      fresh.push_back(&jobs[j]);
    } else {
      jobs[j].id = it->second;
    }
  }
  if (fresh.empty()) return Status::Ok();
  IMGSEARCH_ASSIGN_OR_RETURN(
      int64_t first,
      txn.TakeIds(kImageIdCounter, static_cast<int64_t>(fresh.size()), known.next_id));
  for (size_t i = 0; i < fresh.size(); ++i) fresh[i]->id = first + static_cast<int64_t>(i);
  known.next_id = first + static_cast<int64_t>(fresh.size());
  return Status::Ok();
}

// Writes a chunk to every model in one transaction: after a crash, an image is in every
// model's collection or in none.
Status WriteChunk(Database& db, std::vector<Job>& jobs, const std::vector<Decoded>& decoded,
                  std::vector<BoundModel>& models, Known& known, IngestReport* report) {
  for (size_t j = 0; j < jobs.size(); ++j) {
    if (!decoded[j].status.ok())
      report->failures.push_back({jobs[j].file.path, decoded[j].status.message()});
  }
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<ModelBatch> batches, EmbedChunk(jobs, decoded, models));
  IMGSEARCH_RETURN_IF_ERROR(db.Transact([&](Transaction& txn) -> Status {
    if (!StillCurrent(known, models)) {
      IMGSEARCH_ASSIGN_OR_RETURN(known, LoadKnown(models));  // another process wrote
    }
    IMGSEARCH_RETURN_IF_ERROR(AssignIds(txn, known, jobs, decoded));
    for (size_t m = 0; m < models.size(); ++m) {
      if (batches[m].jobs.empty()) continue;
      std::vector<Row> rows;
      for (size_t i = 0; i < batches[m].jobs.size(); ++i) {
        size_t j = batches[m].jobs[i];
        rows.push_back(MakeRow(jobs[j], decoded[j], batches[m].vectors, i));
        known.by_model[m][jobs[j].file.path] = {jobs[j].id, jobs[j].file.size,
                                                jobs[j].file.mtime_ns};
      }
      const std::string& name = models[m].collection->schema().name;
      IMGSEARCH_ASSIGN_OR_RETURN(std::vector<int64_t> written, txn.Upsert(name, std::move(rows)));
      known.sequences[m] += static_cast<int64_t>(written.size());  // one change per row
    }
    for (size_t j = 0; j < jobs.size(); ++j) {
      if (decoded[j].status.ok()) known.id_of_path[jobs[j].file.path] = jobs[j].id;
    }
    return Status::Ok();
  }));
  for (size_t j = 0; j < jobs.size(); ++j) {
    if (decoded[j].status.ok()) ++(jobs[j].is_new ? report->added : report->updated);
  }
  return Status::Ok();
}

// A model being re-embedded needs every image of the library, wherever it lies: its
// files join the scan, and images whose file is gone are removed (their vectors could
// only stay from the old version of the model).
Status AddImagesToReembed(Database& db, std::vector<BoundModel>& models, Known& known,
                          std::vector<FileInfo>* files, IngestReport* report) {
  std::set<std::string> scanned;
  for (const FileInfo& f : *files) scanned.insert(f.path);
  std::set<int64_t> gone;
  for (size_t m = 0; m < models.size(); ++m) {
    if (!models[m].reembed) continue;
    for (const auto& [path, row] : known.by_model[m]) {
      if (scanned.count(path)) continue;
      if (auto info = Stat(path)) {
        files->push_back(*info);
        scanned.insert(path);
      } else {
        gone.insert(row.id);
      }
    }
  }
  std::sort(files->begin(), files->end(),
            [](const FileInfo& a, const FileInfo& b) { return a.path < b.path; });
  if (gone.empty()) return Status::Ok();
  IMGSEARCH_ASSIGN_OR_RETURN(
      int64_t removed, RemoveImages(db, models, std::vector<int64_t>(gone.begin(), gone.end())));
  report->pruned += static_cast<size_t>(removed);
  IMGSEARCH_ASSIGN_OR_RETURN(known, LoadKnown(models));
  return Status::Ok();
}

Status Prune(Database& db, std::vector<BoundModel>& models, IngestReport* report) {
  std::set<int64_t> gone;
  for (auto& m : models) {
    IMGSEARCH_ASSIGN_OR_RETURN(auto known, KnownRows(*m.collection));
    for (const auto& [path, row] : known) {
      std::error_code error;
      if (!fs::exists(path, error)) gone.insert(row.id);
    }
  }
  if (gone.empty()) return Status::Ok();
  IMGSEARCH_ASSIGN_OR_RETURN(
      int64_t removed, RemoveImages(db, models, std::vector<int64_t>(gone.begin(), gone.end())));
  report->pruned += static_cast<size_t>(removed);
  return Status::Ok();
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

std::string ContentHash(std::string_view bytes) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(h));
  return text;
}

Result<int64_t> RemoveImages(Database& db, const std::vector<BoundModel>& models,
                             const std::vector<int64_t>& ids) {
  int64_t removed = 0;
  IMGSEARCH_RETURN_IF_ERROR(db.Transact([&](Transaction& txn) -> Status {
    for (const auto& m : models) {
      IMGSEARCH_ASSIGN_OR_RETURN(int64_t n, txn.Delete(m.collection->schema().name, ids));
      removed = std::max(removed, n);
    }
    return Status::Ok();
  }));
  return removed;
}

Result<IngestReport> Ingest(Database& db, std::vector<BoundModel>& models,
                            const IngestOptions& options) {
  auto start = std::chrono::steady_clock::now();
  IngestReport report;
  std::vector<FileInfo> files = Scan(options.paths, &report.failures);
  report.scanned = files.size();
  IMGSEARCH_ASSIGN_OR_RETURN(Known known, LoadKnown(models));
  IMGSEARCH_RETURN_IF_ERROR(AddImagesToReembed(db, models, known, &files, &report));
  std::vector<Job> jobs;
  for (const FileInfo& f : files) {
    Job job{f, 0, false, {}};
    for (size_t m = 0; m < models.size(); ++m) {
      auto it = known.by_model[m].find(f.path);
      if (models[m].reembed || it == known.by_model[m].end() || it->second.size != f.size ||
          it->second.mtime_ns != f.mtime_ns)
        job.models.push_back(m);
    }
    if (job.models.empty()) {
      ++report.unchanged;
      continue;
    }
    jobs.push_back(std::move(job));
  }
  DecodeOptions decode = DecodeOptionsForAll(models);
  base::ThreadPool pool(std::max(1, options.decode_threads));
  auto decode_chunk = [&](size_t first) {
    size_t n = std::min(options.chunk, jobs.size() - first);
    std::vector<std::future<Decoded>> futures;
    for (size_t i = 0; i < n; ++i) {
      futures.push_back(pool.Submit([&jobs, &models, &decode, first, i] {
        return DecodeJob(jobs[first + i], models, decode);
      }));
    }
    return futures;
  };
  std::vector<std::future<Decoded>> pending;
  if (!jobs.empty()) pending = decode_chunk(0);
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
    IMGSEARCH_RETURN_IF_ERROR(WriteChunk(db, chunk, decoded, models, known, &report));
    if (options.on_progress) {
      double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      options.on_progress({first + decoded.size(), jobs.size(), seconds});
    }
  }
  if (options.prune && !report.cancelled) IMGSEARCH_RETURN_IF_ERROR(Prune(db, models, &report));
  // Duplicates by content, across everything indexed.
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Row> hashes, AllRows(*models[0].collection, {"hash"}));
  std::set<std::string> seen;
  for (const Row& r : hashes)
    report.duplicates += !seen.insert(r.fields.at("hash").get<std::string>()).second;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace imgsearch::pipeline
