// Library: a folder of images indexed under several models at once, and the questions
// asked of it: index folders, add and remove images, search by an image under every model
// side by side or fused into one ranking, compare the models, evaluate them on labelled
// folders. The imgsearch command line and server are front ends over this class.
//
// A library lives in a folder (a Database plus the list of its models). Thread-safe:
// searches run in parallel with each other and with writes. Many processes may open one
// library at once: image ids are handed out inside each write's transaction, and every
// search first takes in what other processes committed. Acknowledged writes survive a
// crash or kill -9 of any of them.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "imgsearch/database.h"
#include "imgsearch/status.h"

namespace imgsearch {

// The collection of a library's images (see Library::database).
inline constexpr const char* kImagesCollectionName = "images";

struct LibraryOptions {
  // The models, each "NAME=SOURCE" or "SOURCE" (SOURCE: a built-in model's name or an ONNX
  // file; NAME defaults to the built-in name or the file's stem). Empty: the models the
  // library already uses, or every built-in model for a new library. Models named here
  // are added to the library and recorded for later opens.
  std::vector<std::string> models;
  // With `models` given: use only these of the library's models, by NAME, instead of
  // adding models (for searching or evaluating some of them).
  bool only_these_models = false;
  bool create_if_missing = true;
  // A model's ONNX file that changed since the library's images were embedded with it is
  // an error (vectors of two versions must not mix). With `reembed`, the next Index
  // embeds every image of the library again with the new file.
  bool reembed = false;
  int inference_threads = 0;       // per model; 0: one per core this process may use
  uint64_t max_upload_pixels = 0;  // AddImage refuses larger pictures (0: the decoder's limit)
  // Where AddImage keeps uploads; empty: LOCATION/uploads for a library in a folder. A
  // library in Milvus has no folder: AddImage needs this (a folder every process that
  // serves the library can read).
  std::string uploads_dir;
  MilvusOptions milvus;  // for a library in Milvus (location milvus://HOST:PORT)
};

// --- indexing

struct IndexProgress {
  size_t done = 0;   // files handled so far (embedded or failed)
  size_t total = 0;  // files that need work
  double seconds = 0;
};

struct IndexOptions {
  std::vector<std::string> paths;  // folders (scanned recursively) or single image files
  bool prune = false;              // remove images whose file no longer exists
  // With prune: look only at the images that lie under `paths` (a watcher's rescan of its
  // folders leaves the rest of the library alone). Without it, every image of the library.
  bool prune_only_under_paths = false;
  // Asked for each file the scan finds, with its modification time (ns since the epoch):
  // true leaves the file alone for now and lists it in IndexReport::deferred (a watcher
  // defers files that may still be being written).
  std::function<bool(const std::string& path, int64_t mtime_ns)> defer;
  // Machine `shard_index` of `shard_count` (0-based) takes the files whose path, relative
  // to the folder given in `paths`, hashes to it: N machines with the same paths index
  // one folder tree once between them. Pruning then looks only at that share.
  int shard_index = 0;
  int shard_count = 1;
  size_t chunk = 32;  // files decoded per round, written in one transaction
  // Threads that read, decode and preprocess the next chunk while the models run on this
  // one; 0: one fewer than the cores this process may use (at least 1), so that a fast
  // (int8) model is not left waiting for its input on a machine with cores to spare.
  int decode_threads = 0;
  std::function<void(const IndexProgress&)> on_progress;
  // Asked between chunks; true stops the run with everything so far committed.
  std::function<bool()> cancelled;
};

struct IndexFailure {
  std::string path;
  std::string reason;
  // The failure itself, whose code tells a file that is no image that decodes
  // (kInvalidArgument) from one that could not be read (kNoSpace, kIOError, ...).
  Status status;
};

// Incremental: unchanged files (same path, size and mtime) are skipped, changed ones are
// embedded again under their id. Resumable: every chunk commits, a rerun continues.
struct IndexReport {
  size_t scanned = 0;
  size_t added = 0;
  size_t updated = 0;
  size_t unchanged = 0;
  size_t pruned = 0;
  size_t moved = 0;       // images whose file was renamed or moved: the path changed, no embedding
  size_t duplicates = 0;  // files added or updated holding the bytes of an earlier image
  std::vector<IndexFailure> failures;
  std::vector<std::string> deferred;  // left alone by IndexOptions::defer
  double seconds = 0;
  bool cancelled = false;
};

// One image of the library, as its images collection holds it.
struct ImageInfo {
  int64_t id = 0;
  std::string path;  // absolute, normal form
  int64_t size = 0;
  int64_t mtime_ns = 0;
  std::string hash;  // 16 hex digits of a 64-bit hash of the file's bytes
  int width = 0;
  int height = 0;
  nlohmann::json fields = nlohmann::json::object();  // the user's (a JSON object)
};

struct AddedImage {
  int64_t id = 0;
  bool created = false;  // false: the same picture was there already
  int width = 0;
  int height = 0;
  std::string path;  // where the library keeps it
};

// --- searching

struct ImageQuery {
  std::string path;   // an image file, or
  int64_t id = -1;    // an image already in the library, or
  std::string bytes;  // an image in memory (an upload); `path` then only names it

  // "id:42" is an id; anything else a path.
  static Result<ImageQuery> Parse(const std::string& text);
};

struct CropBox {
  int x = 0;  // the left edge, from the picture's left
  int y = 0;  // the top edge, from the picture's top
  int width = 0;
  int height = 0;

  // "X,Y,W,H", four whole numbers, W and H above 0.
  static Result<CropBox> Parse(const std::string& text);
};

struct SearchOptions {
  int k = 10;
  // Milvus expression over the images' path, size, mtime, hash, width, height and the
  // user's fields (fields["label"] == "cat").
  std::string filter;
  bool exclude_self = false;  // leave out the query image itself (same id or same content)
  // Also one ranking across the models: "auto" (the weights Tune learned, else "rrf"),
  // "tuned" (the learned fusion; an error before Tune), "rrf" (reciprocal rank fusion,
  // equal weights), "weighted" (distances scaled to [0, 1], weighted); "": none.
  std::string fuse;
  std::vector<double> weights;  // for "weighted", one per model (default 1 each)
  // Re-ranking by query expansion (doc/fusion.md): "qe[:N][,alpha=A]" searches each float
  // model again with its query plus its top N hits weighted by similarity^A (N = 5, A = 3
  // when left out; A = 0 is average QE); fused, the top N of the fused ranking. Binary
  // models are left as they are. "off": none. "": with fuse "auto" or "tuned", what Tune
  // chose and stored, else none.
  std::string rerank;
  std::vector<std::string> only;  // search only these models (by name); empty = all
  uint64_t max_pixels = 0;        // a query image larger than this is refused (0: default)
  // Relevance cutoffs, per model by name ("" for every model of that kind): a hit farther
  // than max_distance (models measured by L2, HAMMING or JACCARD) or less similar than
  // min_score (IP, COSINE) is left out. A named model's cutoff of the other kind is an error.
  std::map<std::string, double> max_distance;
  std::map<std::string, double> min_score;
  std::optional<double> min_fused_score;  // the fused ranking: hits scoring less are left out
  // "relevance" (nearest first), "date" (oldest first) or "-date" (newest first). The date
  // is the file's modification time, or the user field `date_field` (numbers, or text that
  // sorts as dates do, such as ISO 8601; images without it come last). Ordered by date, the
  // results are those of the nearest kMaxSearchDepth images that pass the cutoffs.
  std::string order = "relevance";
  std::string date_field;
  int offset = 0;  // results skipped before the K returned: pages are offset 0, K, 2K, ...
  // Search by a region of the query: a box in pixels of the picture as displayed (after
  // its EXIF orientation), cut out before each model's preprocessing. It must lie inside
  // the picture. A query by id is read from its file for this.
  std::optional<CropBox> crop;
};

// The most hits one search looks at per model: offset + k, and the results ordered by date.
inline constexpr int kMaxSearchDepth = 4096;

struct ModelResults {
  std::string model;
  std::vector<Hit> hits;  // fields: path, hash, width, height, mtime (and fields by date)
  double seconds = 0;     // time spent in this model's collection search
};

struct FusedHit {
  int64_t id = 0;
  double score = 0;  // larger is better
  std::string path;
  int64_t mtime_ns = 0;  // the file's modification time
};

struct SearchResults {
  std::vector<ModelResults> models;
  std::vector<FusedHit> fused;  // empty unless options.fuse is set
  std::string fusion;           // the method that made `fused` ("tuned", "rrf", "weighted")
  int offset = 0;               // the rank of the first result is offset + 1
  std::string rerank;           // the re-ranking applied ("qe:N,alpha=A"), "" for none

  // {"query", "results": {model: [{rank, id, distance, path}]}, "fused": [{rank, id,
  // score, path}]}: the shape the command line and the server print.
  nlohmann::json ToJson(const std::string& query_label) const;
};

// --- evaluating

// DIR/<class>/<images>, already indexed: every image is a query (its own copy left out),
// the other images of its class are the relevant ones.
struct EvalOptions {
  std::string dir;
  int k = 10;
  size_t max_queries = 0;            // 0: every labelled image; else an even sample of this many
  bool fuse = true;                  // also evaluate RRF, and the tuned fusion when there is one
  std::vector<std::string> classes;  // only these class folders (empty: all)
  // Also evaluate re-ranked search (SearchOptions::rerank): each model and fusion again,
  // named "<name>+qe". "": the re-ranking Tune stored, if any; "off": none.
  std::string rerank;
};

struct EvalScores {
  double map = 0;            // mean average precision at K
  double precision = 0;      // mean precision at K
  double recall = 0;         // mean recall at K
  double latency_ms = 0;     // mean search time per query
  double index_recall = -1;  // recall at K of the index against exact search (-1: n/a)
};

// Mean precision and recall over the queries after each rank 1..K: a precision-recall
// curve, one point per rank.
struct EvalCurve {
  std::vector<double> precision;
  std::vector<double> recall;
};

// A query the models answered most differently, with each model's first hits.
struct EvalDisagreement {
  struct Hit {
    std::string path;
    bool relevant = false;  // of the query's class
  };
  int64_t id = 0;
  std::string path;
  std::string label;
  double agreement = 0;                          // mean Jaccard@K over the pairs of models
  std::map<std::string, std::vector<Hit>> hits;  // per model, the first five
};

struct EvalReport {
  size_t queries = 0;
  size_t classes = 0;
  int k = 0;
  std::map<std::string, EvalScores> models;  // and "fused" (RRF), "tuned" (after Tune)
  std::map<std::string, EvalCurve> curves;   // by the names of `models`
  std::map<std::string, std::map<std::string, double>> class_map;  // name -> class -> mAP@K
  // Mean Jaccard@K of two models' answers to the same query (1 on the diagonal).
  std::map<std::string, std::map<std::string, double>> agreement;
  std::vector<EvalDisagreement> disagreements;  // the least agreement first, at most eight

  // A self-contained page (SVG, thumbnails inline): precision-recall curves, mAP per class
  // as bars, the agreement heat map, and the queries the models disagree on most.
  std::string ToHtml() const;
};

// --- learning how to fuse

// Learns how to fuse the models on a labelled folder (as for EvalOptions) and keeps it in
// the library for fuse "auto": each model's distances are made standard scores against the
// library's own distances between unrelated images, and per-model weights of their sum are
// chosen to maximise mAP@K with every class counted once. How well it carries over to
// classes not seen is estimated by cross-validation over the classes: tuned on all folds
// but one and scored on that one, against the model that was best on the same other folds.
struct TuneOptions {
  std::string dir;
  int k = 10;
  int folds = 5;                     // of the classes, for the estimate (2 or more)
  size_t max_queries = 0;            // 0: every labelled image; else an even sample
  std::vector<std::string> classes;  // only these class folders (empty: all)
  // Also choose a re-ranking (TuneReport::rerank); false: store none.
  bool rerank = true;
  // Database-side augmentation (doc/fusion.md): "auto" (or ""): tries a few settings
  // (5 and 10 neighbours, alpha 3), each by building every float vector's augmented twin
  // and tuning again over the twins, and keeps the best only if it does better on held-out
  // folds than the fusion without; "N" or "N,alpha=A": tries that one alone; "force:N[,
  // alpha=A]": keeps that one whatever it scores; "off": none (the twins are dropped).
  std::string dba;
};

struct TuneReport {
  std::map<std::string, double> weights;  // per model, as stored (the strongest is 1)
  size_t queries = 0;
  size_t classes = 0;
  double map = 0;          // of the weights on the classes tuned on
  std::string best_model;  // the best single model on them
  double best_model_map = 0;
  double rrf_map = 0;  // equal weights
  // On classes held out of the tuning, over the folds:
  double held_out_map = 0;             // the weights tuned without them
  double held_out_best_model_map = 0;  // the model that was best without them
  double held_out_rrf_map = 0;
  // Re-ranking (SearchOptions::rerank), chosen like the weights: each candidate scored
  // with the tuned fusion, the one best on the tuning folds scored on the held-out one.
  // Stored ("off" then) unless it beats the tuned fusion without it on held-out folds.
  std::string rerank = "off";
  std::string rerank_tried;        // the best candidate, stored or not
  double rerank_map = 0;           // of the tuned fusion re-ranked by rerank_tried
  double held_out_rerank_map = 0;  // with the candidate chosen on the other folds
  // Database-side augmentation in use after the run ("off" or "N,alpha=A"), and when some
  // was tried: each setting tried with its held-out mAP and cost ("N,alpha=A: mAP (V
  // vectors, S s); ..."), the held-out mAP (re-ranked when re-ranking was kept) with the
  // one kept (0 when none) and without, and the cost of building the kept twins.
  std::string dba = "off";
  std::string dba_tried;
  double held_out_dba_map = 0;
  double held_out_without_dba_map = 0;
  size_t dba_twins = 0;
  double dba_seconds = 0;
};

// --- near-duplicates

// Groups the images that are the same picture (resized, re-compressed, lightly cropped,
// brightness or contrast changed, turned grey, rotated or mirrored). Candidates are pairs whose
// binary hash (the library's binary model, e.g. the built-in phash) differs in few bits; a
// candidate is confirmed when the images' vectors under a float model are nearly parallel (the
// built-in color_layout compares brightness alone when one of the two is grey). Pairs
// join into groups, the most alike first; two groups merge when at least half of the
// pairs between them are confirmed (so a run of look-alike photos does not chain into one).
struct DuplicateOptions {
  int hash_distance = 12;        // at most this many of the hash's bits differ
  double min_similarity = 0.95;  // cosine of the confirming model's vectors, at least
  std::string hash_model;        // the binary model (default: the library's first)
  // The confirming float model (default: the built-in color_layout if the library has it,
  // else its first float model); "none": the hash alone decides.
  std::string confirm_model;
  // Also a copy rotated by a quarter or half turn or mirrored (needs the built-in phash as
  // the hash model; the built-in color_layout confirms it turned).
  bool rotations = true;
};

struct DuplicateGroup {
  std::vector<ImageInfo> images;  // by id
  int64_t largest = 0;            // the id with the most pixels (then bytes): keep it
  int64_t oldest = 0;             // the id of the earliest modified file
  double min_similarity = 1;      // the weakest confirmed pair inside the group
  int max_hash_distance = 0;      // the most differing hash bits inside the group
};

struct DuplicateReport {
  std::string hash_model;
  std::string confirm_model;  // "none" when the hash alone decided
  bool rotations = false;     // rotated and mirrored copies were searched for
  size_t images = 0;
  size_t candidate_pairs = 0;  // within the hash distance
  size_t confirmed_pairs = 0;
  std::vector<DuplicateGroup> groups;  // largest groups first
  double seconds = 0;

  // {"hash_model", "confirm_model", "images", "candidate_pairs", "confirmed_pairs",
  //  "groups": [{"images": [{id, path, size, mtime_ns, width, height}], "largest",
  //  "oldest", "min_similarity", "max_hash_distance"}]}
  nlohmann::json ToJson() const;
  // A self-contained page: each group's thumbnails, sizes, dates and paths, the one to
  // keep marked.
  std::string ToHtml() const;
};

class Library {
 public:
  // Opens the library in the folder `location`; a missing or empty folder gets a new,
  // empty one (unless options.create_if_missing is false). A folder holding other files
  // is refused. A location milvus://HOST:PORT (or milvus+https://) keeps the library in
  // a Milvus server instead (see OpenStore in database.h).
  static Result<std::unique_ptr<Library>> Open(const std::string& location,
                                               const LibraryOptions& options = {});
  virtual ~Library() = default;

  virtual const std::string& location() const = 0;
  // The models in use, in order; each has a collection of the same name, holding one
  // vector per image under the image's id.
  virtual std::vector<std::string> ModelNames() const = 0;
  // The collections underneath: "images" (one row per image: path, size, mtime, hash,
  // width, height, fields) and one per model, for Milvus-style access.
  virtual Database& database() = 0;

  // Brings the library up to date with folders and files.
  virtual Result<IndexReport> Index(const IndexOptions& options) = 0;
  // Adds one image given as bytes (an upload): kept in LOCATION/uploads under its content
  // hash, so the same picture twice is one image. `fields` (a JSON object), when given,
  // become the image's user fields.
  virtual Result<AddedImage> AddImage(std::string_view bytes,
                                      const nlohmann::json& fields = nullptr) = 0;
  // Adds (or brings up to date) one image file where it lies, as Index does for a file.
  virtual Result<AddedImage> AddImageFile(const std::string& path,
                                          const nlohmann::json& fields = nullptr) = 0;
  // Replaces an image's user fields (a JSON object).
  virtual Status SetFields(int64_t id, const nlohmann::json& fields) = 0;
  // Removes images from every model at once. Returns how many of the ids were present.
  virtual Result<int64_t> RemoveImages(const std::vector<int64_t>& ids) = 0;
  // The ids of the images whose fields match a Milvus filter expression, ascending.
  virtual Result<std::vector<int64_t>> FindImages(const std::string& filter) const = 0;
  // The images with these ids, in the order asked; ids not in the library are left out.
  virtual Result<std::vector<ImageInfo>> GetImages(const std::vector<int64_t>& ids) const = 0;
  // The path of an image, NotFound when there is no such id.
  virtual Result<std::string> PathOf(int64_t id) const = 0;

  // The nearest images to the query under each model, and optionally fused.
  virtual Result<SearchResults> Search(const ImageQuery& query, const SearchOptions& options) = 0;
  // How far the models agree on one answer: {"models": {name: {"distance": {min, max,
  // mean, median}}}, "pairs": [{a, b, overlap, jaccard, spearman, kendall}]}.
  virtual nlohmann::json Compare(const SearchResults& results) const = 0;
  // A self-contained page with the query and one column of thumbnails per model.
  virtual Result<std::string> CompareHtml(const std::string& query_label, const ImageQuery& query,
                                          const SearchResults& results,
                                          const nlohmann::json& comparison) const = 0;
  virtual Result<EvalReport> Evaluate(const EvalOptions& options) = 0;
  // Learns fusion weights on a labelled folder and stores them (see TuneOptions).
  virtual Result<TuneReport> Tune(const TuneOptions& options) = 0;
  // Groups of images that are the same picture (see DuplicateOptions).
  virtual Result<DuplicateReport> FindDuplicates(const DuplicateOptions& options) = 0;
};

}  // namespace imgsearch
