// Keeping a collection's memory in step with rows that other processes (or this one's
// other connections) committed: the same replay that opening uses, run again whenever
// the database has changed.
#include "store/collection_impl.h"

namespace imgsearch::store {

Result<bool> CollectionImpl::BehindLocked(SqliteDb* db, bool* purged_past_us) const {
  IMGSEARCH_ASSIGN_OR_RETURN(
      Statement newest, db->Prepare("SELECT (SELECT MAX(seq) FROM " + table() +
                                    "), (SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?)"));
  newest.Bind(1, PurgedThroughKey(id_));
  IMGSEARCH_ASSIGN_OR_RETURN(bool has_row, newest.Step());
  int64_t newest_sequence = has_row && !newest.IsNull(0) ? newest.Int(0) : 0;
  int64_t purged_through = has_row && !newest.IsNull(1) ? newest.Int(1) : 0;
  *purged_past_us = purged_through > last_sequence_;
  return newest_sequence > last_sequence_ || *purged_past_us;
}

Status CollectionImpl::CatchUpLocked(SqliteDb* db) {
  bool purged_past_us = false;
  IMGSEARCH_ASSIGN_OR_RETURN(bool behind, BehindLocked(db, &purged_past_us));
  if (!behind) return Status::Ok();
  // A compaction elsewhere removed tombstones this process never applied: only a
  // rebuild from the live rows is sure to drop every deleted row.
  if (purged_past_us) return RebuildFromRows(db);
  return Replay(db, last_sequence_);
}

Status CollectionImpl::Refresh() const {
  IMGSEARCH_ASSIGN_OR_RETURN(uint64_t generation, storage_->PollChanges());
  // Caught up at a later poll (by another thread, while this one's SharedPoll answers an
  // earlier one) is caught up enough.
  if (generation <= caught_up_generation_.load()) return Status::Ok();
  IMGSEARCH_ASSIGN_OR_RETURN(ReadLease lease, storage_->Read());
  SqliteDb* reader = lease.get();
  bool behind = false;
  {
    std::shared_lock<std::shared_mutex> lock(state_mutex_);
    if (dropped_) return Status::Ok();
    bool purged_past_us = false;
    IMGSEARCH_ASSIGN_OR_RETURN(behind, BehindLocked(reader, &purged_past_us));
  }
  if (behind) {
    // Memory is a cache of the rows: filling it in is not a change a reader can see.
    auto* self = const_cast<CollectionImpl*>(this);
    std::unique_lock<std::shared_mutex> lock(state_mutex_);
    if (dropped_) return Status::Ok();  // dropped meanwhile: its tables are gone
    IMGSEARCH_RETURN_IF_ERROR(self->CatchUpLocked(reader).WithContext(schema_.name));
    self->background_wake_.notify_all();
  }
  uint64_t before = caught_up_generation_.load();
  while (before < generation && !caught_up_generation_.compare_exchange_weak(before, generation)) {
  }
  return Status::Ok();
}

Status CollectionImpl::AdoptIndexSpec(const IndexSpec& spec) {
  IMGSEARCH_ASSIGN_OR_RETURN(IndexSpec normalized, Normalized(spec));
  std::unique_lock<std::shared_mutex> lock(state_mutex_);
  if (IndexSpecToJson(normalized) == IndexSpecToJson(index_spec_)) return Status::Ok();
  IMGSEARCH_RETURN_IF_ERROR(InstallIndex(normalized));
  IMGSEARCH_ASSIGN_OR_RETURN(ReadLease reader, storage_->Read());
  return RebuildFromRows(reader.get());
}

}  // namespace imgsearch::store
