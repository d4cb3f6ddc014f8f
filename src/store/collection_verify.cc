// The checksum of a snapshot whose payload the index uses in place (FLAT, HNSW), checked after
// open rather than during it: a pass over every vector of a large collection cost more
// than the rest of opening. Searches may read the payload meanwhile (every length and the
// header's own checksum were checked before anything was used, so nothing is read out of
// bounds); a snapshot is never written from it unchecked, and a mismatch rebuilds the
// collection from its rows, as a damaged snapshot found at open does.
#include "base/log.h"
#include "store/collection_impl.h"

namespace imgsearch::store {

Status CollectionImpl::VerifyMappedSnapshotLocked() {
  std::shared_ptr<base::MappedFile> mapped;
  std::string path;
  {
    std::shared_lock<std::shared_mutex> lock(state_mutex_);
    mapped = unverified_snapshot_;
    path = unverified_path_;
  }
  if (mapped == nullptr) return Status::Ok();
  Status checked = VerifySnapshotChecksum(mapped->contents(), nullptr);
  std::unique_lock<std::shared_mutex> lock(state_mutex_);
  if (unverified_snapshot_ != mapped) return Status::Ok();  // rebuilt or reloaded meanwhile
  unverified_snapshot_.reset();
  if (checked.ok()) return Status::Ok();
  IMGSEARCH_LOG_WARN("collection \"{}\": index snapshot unusable ({}); rebuilding from the rows",
                     schema_.name, checked.WithContext(path).ToString());
  IMGSEARCH_ASSIGN_OR_RETURN(ReadLease reader, storage_->Read());
  return RebuildFromRows(reader.get());
}

void CollectionImpl::VerifyMappedSnapshotInBackground() {
  std::shared_ptr<base::MappedFile> mapped;
  {
    std::shared_lock<std::shared_mutex> lock(state_mutex_);
    mapped = unverified_snapshot_;
  }
  if (mapped == nullptr) return;
  Status checked = VerifySnapshotChecksum(mapped->contents(), [this] {
    std::lock_guard<std::mutex> lock(background_mutex_);
    return background_stop_;
  });
  if (checked.code() == StatusCode::kResourceExhausted) return;  // stopping
  if (checked.ok()) {
    std::unique_lock<std::shared_mutex> lock(state_mutex_);
    if (unverified_snapshot_ == mapped) unverified_snapshot_.reset();
    return;
  }
  // try_lock: a closing database holds the writer lock while it joins this thread. When
  // it is busy, the next round checks again.
  std::unique_lock<std::mutex> write_lock(storage_->write_mutex, std::try_to_lock);
  if (!write_lock.owns_lock()) return;
  Status rebuilt = VerifyMappedSnapshotLocked();
  if (!rebuilt.ok())
    IMGSEARCH_LOG_ERROR("collection \"{}\": rebuilding from the rows failed: {}", schema_.name,
                        rebuilt.ToString());
}

}  // namespace imgsearch::store
