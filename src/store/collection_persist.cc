// Loading, snapshots, rebuilding, and the background thread that feeds the index.

#include <chrono>

#include "base/cpu.h"
#include "base/env.h"
#include "base/log.h"
#include "base/memory.h"
#include "index/index_factory.h"
#include "store/collection_impl.h"
#include "store/snapshot.h"
#include "store/vector_form.h"
#include "store/write_transaction.h"

namespace imgsearch::store {
namespace {

constexpr size_t kIndexBatch = 64;  // vectors moved into the index per exclusive lock

// Writes count as streaming while the next comes within this of the last: a client
// sending batches back to back (pymilvus spends about 150 ms building each 5,000-row
// call) keeps the graph waiting; once writes pause, indexing starts.
constexpr std::chrono::milliseconds kWritesPause{400};
// The tail left unindexed while writes stream: every search scans it exactly, so it is
// bounded in bytes (32,768 rows of 512 floats: a few ms per query on one core).
constexpr size_t kStreamingTailBytes = size_t{64} << 20;

}  // namespace

CollectionImpl::CollectionImpl(std::shared_ptr<Storage> storage, int64_t id,
                               CollectionSchema schema, IndexSpec index, int64_t next_auto_id,
                               int64_t snapshot_every)
    : storage_(std::move(storage)),
      id_(id),
      schema_(std::move(schema)),
      snapshot_every_(snapshot_every),
      index_spec_(std::move(index)),
      next_auto_id_(next_auto_id) {
  lookup_.Reset(schema_);
}

CollectionImpl::~CollectionImpl() {
  StopBackground();
}

Status CollectionImpl::CreateTable() {
  IMGSEARCH_RETURN_IF_ERROR(
      storage_->writer->Exec("CREATE TABLE IF NOT EXISTS " + table() +
                             " (pk INTEGER PRIMARY KEY, seq INTEGER NOT NULL, deleted INTEGER NOT "
                             "NULL DEFAULT 0, fields TEXT)"));
  IMGSEARCH_RETURN_IF_ERROR(
      storage_->writer->Exec("CREATE TABLE IF NOT EXISTS " + vector_table() +
                             " (pk INTEGER PRIMARY KEY, vector BLOB NOT NULL)"));
  return storage_->writer->Exec("CREATE INDEX IF NOT EXISTS " + table() + "_seq ON " + table() +
                                " (seq)");
}

Result<IndexSpec> CollectionImpl::Normalized(const IndexSpec& spec) const {
  IMGSEARCH_ASSIGN_OR_RETURN(index::Metric metric, index::ParseMetric(spec.metric_type));
  index::IndexDescription description{spec.index_type, metric, spec.params};
  IMGSEARCH_ASSIGN_OR_RETURN(description, index::ValidateIndexDescription(
                                              description, schema_.binary(), schema_.dimension));
  IndexSpec normalized = spec;
  normalized.index_type = description.type;
  normalized.metric_type = index::MetricName(metric);
  return normalized;
}

Status CollectionImpl::InstallIndex(const IndexSpec& spec) {
  IMGSEARCH_ASSIGN_OR_RETURN(IndexSpec normalized, Normalized(spec));
  IMGSEARCH_ASSIGN_OR_RETURN(index::Metric metric, index::ParseMetric(normalized.metric_type));
  index::IndexDescription description{normalized.index_type, metric, normalized.params};
  IMGSEARCH_ASSIGN_OR_RETURN(description, index::ValidateIndexDescription(
                                              description, schema_.binary(), schema_.dimension));
  IMGSEARCH_ASSIGN_OR_RETURN(std::unique_ptr<index::Index> index,
                             index::MakeIndex(description, schema_.binary(), schema_.dimension));
  {
    std::unique_lock<std::shared_mutex> index_lock(index_mutex_);
    index_ = std::move(index);
    ++index_generation_;  // a DrainTailBatch under way drops its batch
  }
  index_spec_ = normalized;
  metric_ = metric;
  index_is_flat_ = description.type == "FLAT" || description.type == "BIN_FLAT";
  tail_ = std::make_unique<index::FlatIndex>(metric, schema_.dimension);
  return Status::Ok();
}

void CollectionImpl::ResetState() {
  slot_ids_.clear();
  slot_alive_.clear();
  slot_in_graph_.clear();
  slot_fields_.clear();
  slot_of_id_.clear();
  lookup_.Clear();
  alive_count_ = 0;
  fields_complete_ = true;
  unverified_snapshot_.reset();
  (void)InstallIndex(index_spec_);  // validated when the spec was accepted
}

Status CollectionImpl::Load() {
  IMGSEARCH_RETURN_IF_ERROR(InstallIndex(index_spec_));
  {
    std::unique_lock<std::shared_mutex> lock(state_mutex_);
    Status loaded = LoadSnapshot();
    IMGSEARCH_ASSIGN_OR_RETURN(ReadLease reader, storage_->Read());
    if (!loaded.ok()) {
      if (loaded.code() != StatusCode::kNotFound) {
        IMGSEARCH_LOG_WARN(
            "collection \"{}\": index snapshot unusable ({}); rebuilding from the rows",
            schema_.name, loaded.ToString());
      }
      IMGSEARCH_RETURN_IF_ERROR(RebuildFromRows(reader.get()));
    }
    IMGSEARCH_RETURN_IF_ERROR(CatchUpLocked(reader.get()));
  }
  StartBackground();
  return Status::Ok();
}

Status CollectionImpl::LoadSnapshot() {
  std::string file = storage_->manifest->Get(id_);
  if (file.empty()) return Status::NotFound("no snapshot");
  Status loaded = LoadSnapshotFile(file);
  if (loaded.code() != StatusCode::kNotFound) return loaded;
  // Another process may have replaced the snapshot since the MANIFEST was read.
  IMGSEARCH_RETURN_IF_ERROR(storage_->manifest->Load());
  std::string newer = storage_->manifest->Get(id_);
  if (newer.empty() || newer == file) return loaded;
  return LoadSnapshotFile(newer);
}

Status CollectionImpl::LoadSnapshotFile(const std::string& file) {
  std::string path = storage_->IndexDir() + "/" + file;
  // Mapped, not read: the checksum is the only pass over the bytes, and an index that can
  // (FLAT, HNSW) keeps using them in place, holding the mapping for as long as it does.
  IMGSEARCH_ASSIGN_OR_RETURN(std::shared_ptr<base::MappedFile> mapped,
                             storage_->env->MapFile(path));
  // The payload of an index used in place is checked after open, before any snapshot is
  // taken from it (collection_verify.cc): at 1M vectors that pass was most of the open.
  Result<SnapshotContents> decoded =
      DecodeSnapshot(mapped->contents(), /*defer_payload_check=*/index_->ReadsInPlace());
  if (!decoded.ok()) return decoded.status().WithContext(path);
  SnapshotContents& c = *decoded;
  if (c.collection_id != id_ || c.dimension != schema_.dimension ||
      c.index_spec != IndexSpecToJson(index_spec_).dump() ||
      c.slot_alive.size() != c.slot_ids.size()) {
    return Status::Corruption(path + ": belongs to another collection or index");
  }
  ResetState();
  {
    std::unique_lock<std::shared_mutex> index_lock(index_mutex_);
    IMGSEARCH_RETURN_IF_ERROR(index_->DeserializeInPlace(c.index_view, mapped).WithContext(path));
  }
  slot_ids_ = std::move(c.slot_ids);
  slot_alive_ = std::move(c.slot_alive);
  slot_in_graph_ = slot_alive_;  // a snapshot's index holds every live slot
  slot_fields_.assign(slot_ids_.size(), nullptr);
  slot_of_id_.reserve(slot_ids_.size());  // one allocation, not a rehash per doubling
  for (size_t slot = 0; slot < slot_ids_.size(); ++slot) {
    if (!slot_alive_[slot]) continue;
    if (!slot_of_id_.emplace(slot_ids_[slot], static_cast<int64_t>(slot)).second) {
      return Status::Corruption(path + ": an id occupies two slots");
    }
    ++alive_count_;
  }
  IMGSEARCH_RETURN_IF_ERROR(CheckIndexAgainstSlots().WithContext(path));
  IMGSEARCH_RETURN_IF_ERROR(CheckSequenceAgainstRows(c.sequence).WithContext(path));
  snapshot_sequence_ = c.sequence;
  last_sequence_ = c.sequence;
  fields_complete_ = false;  // read when needed (collection_fields.cc)
  {
    IMGSEARCH_ASSIGN_OR_RETURN(ReadLease reader, storage_->Read());
    IMGSEARCH_RETURN_IF_ERROR(Replay(reader.get(), snapshot_sequence_));
  }
  if (!c.payload_checked) {
    unverified_snapshot_ = mapped;
    unverified_path_ = path;
  }
  return Status::Ok();
}

// A snapshot names a change the rows must hold (or a compaction must have purged): one
// taken of another database, or of this one before it was restored from an older copy,
// is refused here, cheaply; a finer disagreement is found when the fields are read.
Status CollectionImpl::CheckSequenceAgainstRows(int64_t sequence) const {
  IMGSEARCH_ASSIGN_OR_RETURN(ReadLease reader, storage_->Read());
  IMGSEARCH_ASSIGN_OR_RETURN(
      Statement newest,
      reader->Prepare("SELECT (SELECT MAX(seq) FROM " + table() +
                      "), (SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?)"));
  newest.Bind(1, PurgedThroughKey(id_));
  IMGSEARCH_ASSIGN_OR_RETURN(bool has_row, newest.Step());
  int64_t known = has_row ? std::max(newest.Int(0), newest.Int(1)) : 0;
  if (sequence > known) {
    return Status::Corruption("snapshot of change " + std::to_string(sequence) +
                              ", but the rows end at change " + std::to_string(known));
  }
  return Status::Ok();
}

// A search names rows by the labels the index returns, so a snapshot whose index holds a
// label that is not a live slot (or misses one) would answer with another row or read
// past the slots: the index must hold each live slot exactly once, and nothing else.
Status CollectionImpl::CheckIndexAgainstSlots() const {
  std::shared_lock<std::shared_mutex> index_lock(index_mutex_);
  std::vector<uint8_t> seen(slot_ids_.size(), 0);
  std::vector<int64_t> labels = index_->Labels();
  for (int64_t label : labels) {
    if (label < 0 || static_cast<size_t>(label) >= slot_ids_.size() || !slot_alive_[label] ||
        seen[label]++) {
      return Status::Corruption("the index holds slot " + std::to_string(label) +
                                ", which is not a live row or appears twice");
    }
  }
  if (labels.size() != static_cast<size_t>(alive_count_) || index_->size() != labels.size()) {
    return Status::Corruption("the index holds " + std::to_string(labels.size()) + " of " +
                              std::to_string(alive_count_) + " live rows");
  }
  return Status::Ok();
}

Status CollectionImpl::Replay(SqliteDb* db, int64_t after_sequence) {
  IMGSEARCH_ASSIGN_OR_RETURN(Statement select,
                             db->Prepare("SELECT r.pk, r.deleted, v.vector, r.fields, r.seq FROM " +
                                         table() + " r LEFT JOIN " + vector_table() +
                                         " v ON v.pk = r.pk WHERE r.seq > ? ORDER BY r.seq"));
  select.Bind(1, after_sequence);
  for (;;) {
    IMGSEARCH_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    int64_t pk = select.Int(0);
    bool deleted = select.Int(1) != 0;
    std::string_view vector = deleted ? std::string_view() : select.Blob(2);
    if (!deleted && vector.size() != schema_.VectorBytes()) {
      return Status::Corruption("collection \"" + schema_.name + "\": stored vector of row " +
                                std::to_string(pk) + " has " + std::to_string(vector.size()) +
                                " bytes, expected " + std::to_string(schema_.VectorBytes()));
    }
    Apply(pk, vector, deleted ? nlohmann::json() : ParseRowFields(select.Text(3)));
    last_sequence_ = std::max(last_sequence_, select.Int(4));
  }
  return Status::Ok();
}

Status CollectionImpl::RebuildFromRows(SqliteDb* db) {
  ResetState();
  snapshot_sequence_ = 0;
  last_sequence_ = 0;
  IMGSEARCH_RETURN_IF_ERROR(Replay(db, 0));
  IMGSEARCH_ASSIGN_OR_RETURN(int64_t purged, ReadMetaInt(db, PurgedThroughKey(id_), 0));
  last_sequence_ = std::max(last_sequence_, purged);
  return Status::Ok();
}

// A batch of the tail into the graph. The graph grows without the state lock (writers
// publish, searches run), one vector per hold of the index lock, so a search waits for
// one insertion at most; the new nodes stay out of graph searches until the short
// exclusive section at the end moves them out of the tail, so that no search meets a
// row twice or misses it.
bool CollectionImpl::DrainTailBatch() {
  std::lock_guard<std::mutex> drain_lock(drain_mutex_);
  std::vector<int64_t> labels;
  std::string vectors;
  uint64_t generation = 0;
  const size_t stride = schema_.VectorBytes();
  {
    std::shared_lock<std::shared_mutex> lock(state_mutex_);
    if (index_is_flat_ || tail_->size() == 0) return false;
    generation = index_generation_;
    size_t n = std::min(kIndexBatch, tail_->size());
    vectors.reserve(n * stride);
    for (size_t i = tail_->size() - n; i < tail_->size(); ++i) {
      labels.push_back(tail_->labels()[i]);
      vectors.append(reinterpret_cast<const char*>(tail_->vector_at(i)), stride);
    }
  }
  size_t added = 0;
  for (; added < labels.size(); ++added) {
    std::unique_lock<std::shared_mutex> index_lock(index_mutex_);
    if (index_generation_ != generation) return true;  // replaced, rows and all
    Status status = index_->Add(1, &labels[added], vectors.data() + added * stride);
    if (!status.ok()) {
      IMGSEARCH_LOG_ERROR("collection \"{}\": indexing failed: {}", schema_.name,
                          status.ToString());
      break;  // the rows not added stay in the tail and are still searched exactly
    }
  }
  std::unique_lock<std::shared_mutex> lock(state_mutex_);
  std::unique_lock<std::shared_mutex> index_lock(index_mutex_);
  if (index_generation_ != generation) return true;
  for (size_t i = 0; i < added; ++i) {
    int64_t slot = labels[i];
    if (slot_alive_[slot]) {
      tail_->Remove(slot);
      slot_in_graph_[slot] = 1;
    } else {
      index_->Remove(slot);  // deleted while it was being added
    }
  }
  return added == labels.size();
}

Result<std::optional<SnapshotContents>> CollectionImpl::CaptureSnapshot() const {
  std::shared_lock<std::shared_mutex> lock(state_mutex_);
  if (tail_->size() > 0) return Status::Internal("snapshot requested with rows still unindexed");
  if (snapshot_sequence_ == last_sequence_ && !storage_->manifest->Get(id_).empty()) {
    return std::optional<SnapshotContents>();  // nothing new
  }
  SnapshotContents c;
  c.collection_id = id_;
  c.sequence = last_sequence_;
  c.index_spec = IndexSpecToJson(index_spec_).dump();
  c.dimension = schema_.dimension;
  c.slot_ids = slot_ids_;
  c.slot_alive = slot_alive_;
  // Shared, not copied, where the index allows: writers wait only for the slot tables.
  std::shared_lock<std::shared_mutex> index_lock(index_mutex_);
  IMGSEARCH_ASSIGN_OR_RETURN(c.frozen_index, index_->Freeze());
  return std::optional<SnapshotContents>(std::move(c));
}

Status CollectionImpl::WriteSnapshot(bool wait) {
  IMGSEARCH_ASSIGN_OR_RETURN(std::optional<SnapshotContents> captured, CaptureSnapshot());
  return captured ? PersistSnapshot(*captured, wait) : Status::Ok();
}

Status CollectionImpl::PersistSnapshot(const SnapshotContents& c, bool wait) {
  // One persister at a time in this process, and never an older snapshot over a newer one.
  std::lock_guard<std::mutex> snapshot_lock(snapshot_mutex_);
  {
    std::shared_lock<std::shared_mutex> lock(state_mutex_);
    if (c.sequence <= snapshot_sequence_ && !storage_->manifest->Get(id_).empty()) {
      return Status::Ok();
    }
  }
  // And one process at a time: each starts from the MANIFEST on disk, so that no other
  // process's entry is lost.
  auto file_lock = storage_->LockSnapshots(wait);
  if (!file_lock.ok()) {
    if (!wait && file_lock.status().code() == StatusCode::kResourceExhausted) return Status::Ok();
    return file_lock.status();
  }
  Status reread = storage_->manifest->Load();
  if (!reread.ok()) IMGSEARCH_LOG_WARN("{}; it will be rewritten", reread.ToString());
  std::string previous = storage_->manifest->Get(id_);
  if (previous.empty() || SnapshotSequenceOf(previous) < c.sequence) {
    std::string name = SnapshotFileName(id_, c.sequence);
    base::Env* env = storage_->env;
    std::string head, tail;
    IMGSEARCH_RETURN_IF_ERROR(env->WritePiecesAtomic(storage_->IndexDir() + "/" + name,
                                                     EncodeSnapshotPieces(c, &head, &tail)));
    IMGSEARCH_RETURN_IF_ERROR(storage_->manifest->Set(id_, name));
    if (!previous.empty() && previous != name) {
      Status removed = env->RemoveFile(storage_->IndexDir() + "/" + previous);
      if (!removed.ok()) IMGSEARCH_LOG_WARN("{}", removed.ToString());
    }
  }  // else another process's snapshot is at least as new: this one adds nothing
  std::unique_lock<std::shared_mutex> lock(state_mutex_);
  snapshot_sequence_ = std::max(snapshot_sequence_, c.sequence);
  return Status::Ok();
}

Status CollectionImpl::ForgetSnapshot() {
  IMGSEARCH_ASSIGN_OR_RETURN(std::unique_ptr<base::FileLock> file_lock,
                             storage_->LockSnapshots(/*wait=*/true));
  Status reread = storage_->manifest->Load();
  if (!reread.ok()) IMGSEARCH_LOG_WARN("{}; it will be rewritten", reread.ToString());
  std::string previous = storage_->manifest->Get(id_);
  if (previous.empty()) return Status::Ok();
  IMGSEARCH_RETURN_IF_ERROR(storage_->manifest->Set(id_, ""));
  return storage_->env->RemoveFile(storage_->IndexDir() + "/" + previous);
}

Status CollectionImpl::Flush() {
  std::lock_guard<std::mutex> write_lock(storage_->write_mutex);
  IMGSEARCH_RETURN_IF_ERROR(CheckWritable());
  // Verified first: a damaged snapshot is rebuilt from the rows, which go to the tail.
  IMGSEARCH_RETURN_IF_ERROR(VerifyMappedSnapshotLocked());
  while (DrainTailBatch()) {
  }
  return WriteSnapshot(/*wait=*/true);
}

Status CollectionImpl::Compact() {
  int64_t snapshot_sequence = 0;
  {
    std::lock_guard<std::mutex> write_lock(storage_->write_mutex);
    IMGSEARCH_RETURN_IF_ERROR(CheckWritable());
    {
      std::unique_lock<std::shared_mutex> lock(state_mutex_);
      IMGSEARCH_ASSIGN_OR_RETURN(ReadLease reader, storage_->Read());
      IMGSEARCH_RETURN_IF_ERROR(RebuildFromRows(reader.get()));
    }
    while (DrainTailBatch()) {
    }
    IMGSEARCH_RETURN_IF_ERROR(WriteSnapshot(/*wait=*/true));
    std::shared_lock<std::shared_mutex> lock(state_mutex_);
    snapshot_sequence = snapshot_sequence_;
  }
  // Tombstones are needed only by snapshots older than the one just written, and by
  // processes that have not replayed them yet: the marker tells those to rebuild.
  WriteTransaction txn(storage_.get());
  IMGSEARCH_RETURN_IF_ERROR(txn.Begin());
  SqliteDb* db = storage_->writer.get();
  IMGSEARCH_ASSIGN_OR_RETURN(int64_t purged, ReadMetaInt(db, PurgedThroughKey(id_), 0));
  IMGSEARCH_ASSIGN_OR_RETURN(
      Statement purge, db->Prepare("DELETE FROM " + table() + " WHERE deleted = 1 AND seq <= ?"));
  IMGSEARCH_RETURN_IF_ERROR(purge.Bind(1, snapshot_sequence).Run());
  IMGSEARCH_RETURN_IF_ERROR(
      WriteMetaInt(db, PurgedThroughKey(id_), std::max(purged, snapshot_sequence)));
  return txn.Commit();
}

Status CollectionImpl::CreateIndex(const IndexSpec& spec) {
  IMGSEARCH_ASSIGN_OR_RETURN(index::Metric metric, index::ParseMetric(spec.metric_type));
  IMGSEARCH_RETURN_IF_ERROR(index::ValidateIndexDescription({spec.index_type, metric, spec.params},
                                                            schema_.binary(), schema_.dimension)
                                .status());
  {
    WriteTransaction txn(storage_.get());
    IMGSEARCH_RETURN_IF_ERROR(txn.Begin());
    IMGSEARCH_RETURN_IF_ERROR(CheckWritable());
    SqliteDb* db = storage_->writer.get();
    IMGSEARCH_ASSIGN_OR_RETURN(Statement update,
                               db->Prepare("UPDATE collections SET index_spec = ? WHERE id = ?"));
    IMGSEARCH_RETURN_IF_ERROR(update.Bind(1, IndexSpecToJson(spec).dump()).Bind(2, id_).Run());
    IMGSEARCH_RETURN_IF_ERROR(BumpCatalogVersion(db));  // other processes adopt the new index
    IMGSEARCH_RETURN_IF_ERROR(txn.Commit());
    std::unique_lock<std::shared_mutex> lock(state_mutex_);
    IMGSEARCH_RETURN_IF_ERROR(InstallIndex(spec));
    IMGSEARCH_ASSIGN_OR_RETURN(ReadLease reader, storage_->Read());
    IMGSEARCH_RETURN_IF_ERROR(RebuildFromRows(reader.get()));
  }
  IMGSEARCH_RETURN_IF_ERROR(ForgetSnapshot());
  background_wake_.notify_all();
  return Status::Ok();
}

Status CollectionImpl::DropIndex() {
  IndexSpec flat;
  flat.index_type = schema_.binary() ? "BIN_FLAT" : "FLAT";
  flat.metric_type = index().metric_type;
  return CreateIndex(flat);
}

void CollectionImpl::MarkDropped() {
  {
    std::unique_lock<std::shared_mutex> lock(state_mutex_);
    dropped_ = true;
  }
  StopBackground();
}

void CollectionImpl::SetName(const std::string& name) {
  std::unique_lock<std::shared_mutex> lock(state_mutex_);
  schema_.name = name;
}

void CollectionImpl::StartBackground() {
  background_stop_ = false;
  background_ = std::thread([this] { BackgroundLoop(); });
}

void CollectionImpl::StopBackground() {
  {
    std::lock_guard<std::mutex> lock(background_mutex_);
    background_stop_ = true;
  }
  background_wake_.notify_all();
  if (background_.joinable()) background_.join();
}

bool CollectionImpl::WritesStreaming() const {
  int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count();
  return now - last_publish_ns_.load(std::memory_order_relaxed) <
         std::chrono::nanoseconds(kWritesPause).count();
}

bool CollectionImpl::DeferIndexing() const {
  if (!WritesStreaming()) return false;
  std::shared_lock<std::shared_mutex> lock(state_mutex_);
  return tail_->size() * schema_.VectorBytes() < kStreamingTailBytes;
}

// Due after snapshot_every_ changes, and at least half the live rows' worth: each
// snapshot rewrites the whole index, so spacing them in proportion to its size keeps the
// total written linear in the number of changes.
bool CollectionImpl::SnapshotDue() const {
  if (snapshot_every_ <= 0) return false;
  std::shared_lock<std::shared_mutex> lock(state_mutex_);
  return last_sequence_ - snapshot_sequence_ >= std::max(snapshot_every_, alive_count_ / 2);
}

void CollectionImpl::BackgroundLoop() {
  // Indexing is catching up, never what a request waits for (the tail is searched exactly
  // until then; Flush drains on its caller's thread): requests come first.
  base::LowerThisThreadsPriority();
  for (;;) {
    {
      // A stop requested before this wait began would not wake it: without the check,
      // closing a database just opened waited the whole 200 ms for each collection.
      std::unique_lock<std::mutex> lock(background_mutex_);
      if (!background_stop_) background_wake_.wait_for(lock, std::chrono::milliseconds(200));
      if (background_stop_) return;
    }
    VerifyMappedSnapshotInBackground();
    bool drained = false;
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(background_mutex_);
        if (background_stop_) return;
      }
      if (DeferIndexing() || !DrainTailBatch()) break;
      drained = true;
    }
    // The tail's blocks, freed as its rows moved into the index, and the buffers of large
    // writes stay in glibc's arenas otherwise: after a bulk load of 100,000 512-d rows,
    // hundreds of MB of RSS.
    if (drained) release_due_.store(true, std::memory_order_relaxed);
    if (!WritesStreaming() && release_due_.exchange(false)) base::ReleaseFreedMemory();
    if (DeferIndexing() || !SnapshotDue()) continue;
    // try_lock: a dropping or closing database holds the write lock while it joins us.
    std::unique_lock<std::mutex> write_lock(storage_->write_mutex, std::try_to_lock);
    if (!write_lock.owns_lock()) continue;
    Status verified = VerifyMappedSnapshotLocked();
    while (DrainTailBatch()) {
    }
    // Writers wait only while the snapshot is captured in memory, not while it is written.
    Result<std::optional<SnapshotContents>> captured =
        verified.ok() ? CaptureSnapshot() : Result<std::optional<SnapshotContents>>(verified);
    write_lock.unlock();
    // Without waiting: when another process is writing a snapshot, the next round will do.
    Status written = captured.ok()
                         ? (*captured ? PersistSnapshot(**captured, /*wait=*/false) : Status::Ok())
                         : captured.status();
    if (!written.ok())
      IMGSEARCH_LOG_WARN("collection \"{}\": snapshot failed: {}", schema_.name,
                         written.ToString());
  }
}

}  // namespace imgsearch::store
