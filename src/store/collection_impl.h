// CollectionImpl: a collection's rows in SQLite (table rows_<id>, the source of truth)
// and their derived in-memory state: a dense slot per live row (id, scalar fields), the
// vector index over slots, and the "tail" of slots written but not yet indexed, which
// every search scans exactly.
//
// Locking: Storage::write_mutex admits one writer (database-wide, as SQLite does); a
// writer commits to SQLite first and only then takes state_mutex_ exclusively to publish.
// Searches and queries hold state_mutex_ shared. A background thread moves the tail into
// approximate indexes in small batches and writes snapshots. While writes keep coming
// (the last published less than kWritesPause ago) it leaves a tail of up to
// kStreamingTailBytes of vectors alone (collection_persist.cc), as Milvus builds indexes
// on sealed segments rather than during inserts: on a few shared cores, building the
// graph took the CPU the writes needed. The graph's contents have a
// lock of their own, index_mutex_ (taken after state_mutex_, never before): the
// background thread adds to the graph holding only that one, one vector at a time, so
// that writers publish and searches run meanwhile; the new nodes are searched in the
// graph only once a short exclusive section has taken them out of the tail
// (slot_in_graph_), so a search finds every row exactly once.
//
// Other processes: memory holds the rows up to last_sequence_. A read first calls
// Refresh(), which replays rows committed beyond it by anyone (collection_sync.cc); a
// writer does the same under SQLite's write lock before it allocates sequence numbers.
#pragma once

#include <atomic>
#include <condition_variable>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include "imgsearch/collection.h"
#include "index/flat_index.h"
#include "index/index.h"
#include "store/field_lookup.h"
#include "store/filter.h"
#include "store/schema_json.h"
#include "store/snapshot.h"
#include "store/storage.h"
#include "store/vector_column.h"

namespace imgsearch::store {

// A row's fields column as JSON: an object, or {} when the text is not one.
nlohmann::json ParseRowFields(const std::string& text);

class CollectionImpl final : public Collection {
 public:
  // Rows in one write from which the memory freed after it is worth handing back.
  static constexpr size_t kRowsWorthARelease = 256;

  CollectionImpl(std::shared_ptr<Storage> storage, int64_t id, CollectionSchema schema,
                 IndexSpec index, int64_t next_auto_id, int64_t snapshot_every);
  ~CollectionImpl() override;

  // Creates the rows table (new collections).
  Status CreateTable();

  // --- writing inside a WriteTransaction (collection_write.cc), which holds the locks.
  // Where this transaction's writes continue: sequence numbers and auto ids.
  struct WriteCursor {
    int64_t next_sequence = 1;
    int64_t next_auto_id = 1;
    bool auto_id_advanced = false;
  };
  // Rows written (or, with is_delete, ids removed) inside the transaction, published to
  // memory once it commits.
  struct StagedChange {
    bool is_delete = false;
    std::vector<int64_t> ids;
    std::vector<std::string> vectors;
    std::vector<nlohmann::json> fields;
  };
  // Catches up with every committed change and returns where new writes continue.
  Result<WriteCursor> BeginWrite(SqliteDb* db);
  Result<std::vector<int64_t>> StageRows(SqliteDb* db, std::vector<Row> rows, bool upsert,
                                         WriteCursor* cursor, std::vector<StagedChange>* staged);
  Result<int64_t> StageDelete(SqliteDb* db, const std::vector<int64_t>& ids, WriteCursor* cursor,
                              std::vector<StagedChange>* staged);
  // Records the auto-id counter, still inside the transaction.
  Status FinishWrite(SqliteDb* db, const WriteCursor& cursor);
  // After the commit: applies the staged changes, unless a concurrent catch-up already
  // replayed them from the database.
  void Publish(std::vector<StagedChange> staged, const WriteCursor& cursor);

  // --- keeping up with other processes (collection_sync.cc)
  // Brings memory up to date with what any process committed, when the database changed
  // since the last look. Every read calls it first; cheap when nothing changed.
  Status Refresh() const;
  // Takes in another process's new index spec (from the catalog): rebuilds the index.
  Status AdoptIndexSpec(const IndexSpec& spec);
  // Loads the snapshot named by the MANIFEST and replays newer rows; falls back to a full
  // rebuild from the rows when the snapshot is missing, damaged or inconsistent.
  Status Load();
  // Stops the background thread; later writes fail.
  void MarkDropped();
  // Removes the collection's snapshot from the MANIFEST and the disk.
  Status ForgetSnapshot();
  void SetName(const std::string& name);
  int64_t id() const { return id_; }
  // rows_<id>: id, change sequence, tombstone flag, fields; vectors_<id>: id, vector.
  // Apart, so that opening a collection reads fields without dragging every vector along.
  std::string table() const { return "rows_" + std::to_string(id_); }
  std::string vector_table() const { return "vectors_" + std::to_string(id_); }

  const CollectionSchema& schema() const override { return schema_; }
  IndexSpec index() const override;
  Result<std::vector<int64_t>> Insert(std::vector<Row> rows) override {
    return Write(std::move(rows), false);
  }
  Result<std::vector<int64_t>> Upsert(std::vector<Row> rows) override {
    return Write(std::move(rows), true);
  }
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  Result<int64_t> Delete(const std::vector<int64_t>& ids) override;
  Result<int64_t> DeleteWhere(const std::string& filter) override;
  Result<std::vector<Row>> Get(const std::vector<int64_t>& ids,
                               const std::vector<std::string>& output_fields) const override;
  Result<std::vector<Row>> Query(const QueryRequest& request) const override;
  // store::ReadVectors (store/vector_column.h): one statement over the vector table, a
  // scan in id order (every row, or many of them) or one prepared lookup per id.
  Result<VectorColumn> ReadVectors(const std::vector<int64_t>& ids) const;
  Result<std::vector<std::vector<Hit>>> Search(const SearchRequest& request) const override;
  int64_t Count() const override;
  CollectionStats Stats() const override;
  Status CreateIndex(const IndexSpec& spec) override;
  Status DropIndex() override;
  Status Flush() override;
  Status Compact() override;

 private:
  // --- writing (collection_write.cc)
  Result<std::vector<int64_t>> Write(std::vector<Row> rows, bool upsert);
  Status CheckWritable() const;
  Status ValidateRowForWrite(size_t i, Row* row) const;
  // Publishes one committed row (or tombstone when vector is empty) to memory.
  void Apply(int64_t pk, std::string_view vector, nlohmann::json fields);
  void KillSlot(int64_t slot);

  // --- fields of rows that a snapshot holds (collection_fields.cc)
  // Opening from a snapshot reads no fields: each slot's stay null until a read needs
  // them, so that opening does not parse every row. A point read takes one row's fields
  // from SQLite; a filter, or a read of many rows, first completes them all (under the
  // exclusive lock), which also checks that every live slot is backed by a live row and
  // rebuilds from the rows, with a warning, when one is not.
  Status CompleteFields(bool needed) const;
  Status CompleteFieldsLocked();
  // A live slot's fields: from memory, or read from its row. Caller holds state_mutex_.
  Result<nlohmann::json> FieldsOf(int64_t slot) const;

  // --- the deferred checksum of a snapshot whose payload the index uses in place
  // (collection_verify.cc). Checks it; on a mismatch, warns and rebuilds from the rows.
  // Caller holds storage_->write_mutex, and no state lock.
  Status VerifyMappedSnapshotLocked();
  // The same from the background thread: the check holds no lock (writers go on), and
  // the writer lock is taken only to rebuild. Gives up when the thread is stopped.
  void VerifyMappedSnapshotInBackground();

  // --- reading (collection_read.cc)
  struct OutputSpec {
    bool all_fields = false;
    bool vector = false;
    std::vector<std::string> fields;
  };
  Result<OutputSpec> ParseOutputFields(const std::vector<std::string>& names) const;
  Result<Row> BuildRow(int64_t slot, const OutputSpec& output) const;
  // The live slots whose rows match, ascending; through the field lookup when the filter
  // pins an indexed field, else by evaluating every row. Caller holds state_mutex_.
  std::vector<int64_t> MatchingSlots(const Filter& filter) const;
  Result<std::string> ReadVector(int64_t pk) const;
  // The statement ReadVectorWith runs, prepared on `db`.
  Result<Statement> PrepareVectorRead(SqliteDb* db) const;
  // Row `pk`'s stored vector, valid until the statement's next use.
  Result<std::string_view> ReadVectorWith(Statement& select, int64_t pk) const;
  Result<std::vector<Hit>> SearchOne(const void* query, size_t k, const index::SearchParams& params,
                                     const std::vector<uint8_t>* allowed,
                                     size_t allowed_count) const;
  Result<std::vector<index::Neighbor>> ExactOver(const void* query, size_t k,
                                                 const index::SearchParams& params,
                                                 const std::vector<int64_t>& slots) const;
  Result<std::vector<index::Neighbor>> Rerank(const void* query, size_t k,
                                              const index::SearchParams& params,
                                              const std::vector<index::Neighbor>& candidates) const;

  // --- catching up (collection_sync.cc); callers hold state_mutex_ exclusively
  // Replays what `db` holds beyond last_sequence_, or rebuilds when a compaction purged
  // tombstones this process never saw.
  Status CatchUpLocked(SqliteDb* db);
  Result<bool> BehindLocked(SqliteDb* db, bool* purged_past_us) const;

  // --- persistence and indexing (collection_persist.cc)
  Status LoadSnapshot();
  Status LoadSnapshotFile(const std::string& file);
  Status CheckSequenceAgainstRows(int64_t sequence) const;
  // After a snapshot is loaded: its index holds exactly the live slots.
  Status CheckIndexAgainstSlots() const;
  // Applies rows with a sequence number above `after_sequence`, read through `db`, and
  // advances last_sequence_ to the newest one.
  Status Replay(SqliteDb* db, int64_t after_sequence);
  // Replays every row through `db`; sequence numbers up to a purge count as seen.
  Status RebuildFromRows(SqliteDb* db);
  void ResetState();
  // The spec with its type and metric spelled as the factory spells them.
  Result<IndexSpec> Normalized(const IndexSpec& spec) const;
  Status InstallIndex(const IndexSpec& spec);
  // Snapshots: captured under the writer lock (so they match a sequence number), written
  // to disk without it. WriteSnapshot does both, for callers that hold the writer lock.
  Result<std::optional<SnapshotContents>> CaptureSnapshot() const;
  // With `wait`, waits for another process's snapshot to finish; without, skips.
  Status PersistSnapshot(const SnapshotContents& contents, bool wait);
  Status WriteSnapshot(bool wait);
  bool SnapshotDue() const;
  void BackgroundLoop();
  bool DrainTailBatch();
  // Whether a write was published less than kWritesPause ago; and whether, besides, the
  // tail is still short enough to be searched exactly while the graph waits.
  bool WritesStreaming() const;
  bool DeferIndexing() const;
  void StartBackground();
  void StopBackground();

  std::shared_ptr<Storage> storage_;
  const int64_t id_;
  CollectionSchema schema_;
  const int64_t snapshot_every_;

  mutable std::shared_mutex state_mutex_;  // guards everything below but index_'s contents
  IndexSpec index_spec_;
  index::Metric metric_ = index::Metric::kL2;
  bool index_is_flat_ = true;
  // Its contents are read under index_mutex_ shared and changed under it exclusively; the
  // pointer (and index_generation_) changes under both locks, exclusively.
  mutable std::shared_mutex index_mutex_;
  std::unique_ptr<index::Index> index_;
  uint64_t index_generation_ = 0;  // counts the indexes installed
  std::unique_ptr<index::FlatIndex> tail_;
  std::vector<int64_t> slot_ids_;
  std::vector<uint8_t> slot_alive_;
  // 1 where a live slot's vector is in an approximate index_ and out of the tail: what a
  // graph search may return. (FLAT indexes hold every live slot and ignore it.)
  std::vector<uint8_t> slot_in_graph_;
  std::vector<nlohmann::json> slot_fields_;
  std::unordered_map<int64_t, int64_t> slot_of_id_;
  FieldLookup lookup_;  // over slot_fields_ of live slots
  int64_t alive_count_ = 0;
  // False while slots a snapshot brought in may still have null fields (and lookup_
  // lacks them).
  bool fields_complete_ = true;
  // The mapped snapshot the index uses in place, until its payload checksum has been
  // checked: searches may read it meanwhile (its lengths and header were checked), but no
  // snapshot is written from it before.
  std::shared_ptr<base::MappedFile> unverified_snapshot_;
  std::string unverified_path_;
  int64_t last_sequence_ = 0;
  int64_t snapshot_sequence_ = 0;
  int64_t next_auto_id_ = 1;
  bool dropped_ = false;
  // The Storage::PollChanges value at the last catch-up.
  mutable std::atomic<uint64_t> caught_up_generation_{0};

  // steady_clock nanoseconds of the last Publish.
  std::atomic<int64_t> last_publish_ns_{0};
  // A large write or a drain freed memory that the background thread hands back to the
  // system once writes pause (not during them: each write would fault its pages back in).
  std::atomic<bool> release_due_{false};
  std::mutex drain_mutex_;     // one DrainTailBatch at a time
  std::mutex snapshot_mutex_;  // one snapshot written at a time
  std::mutex background_mutex_;
  std::condition_variable background_wake_;
  bool background_stop_ = false;
  std::thread background_;
};

}  // namespace imgsearch::store
