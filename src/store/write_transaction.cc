#include "store/write_transaction.h"

namespace imgsearch::store {

WriteTransaction::WriteTransaction(Storage* storage, Resolver resolver)
    : storage_(storage),
      resolver_(std::move(resolver)),
      write_lock_(storage->write_mutex, std::defer_lock),
      sql_(storage->writer.get()) {}

Status WriteTransaction::Begin() {
  write_lock_.lock();
  return sql_.Begin();
}

Result<WriteTransaction::Touched*> WriteTransaction::Find(CollectionImpl* collection) {
  auto it = touched_.find(collection);
  if (it != touched_.end()) return &it->second;
  IMGSEARCH_ASSIGN_OR_RETURN(CollectionImpl::WriteCursor cursor,
                             collection->BeginWrite(storage_->writer.get()));
  Touched& touched = touched_[collection];
  touched.cursor = cursor;
  return &touched;
}

Status WriteTransaction::Touch(CollectionImpl* collection) {
  return Find(collection).status();
}

Result<std::vector<int64_t>> WriteTransaction::Write(CollectionImpl* collection,
                                                     std::vector<Row> rows, bool upsert) {
  IMGSEARCH_ASSIGN_OR_RETURN(Touched * touched, Find(collection));
  return collection->StageRows(storage_->writer.get(), std::move(rows), upsert, &touched->cursor,
                               &touched->staged);
}

Result<int64_t> WriteTransaction::Delete(CollectionImpl* collection,
                                         const std::vector<int64_t>& ids) {
  IMGSEARCH_ASSIGN_OR_RETURN(Touched * touched, Find(collection));
  return collection->StageDelete(storage_->writer.get(), ids, &touched->cursor, &touched->staged);
}

Result<CollectionImpl*> WriteTransaction::Resolve(const std::string& name) {
  if (resolver_ == nullptr) return Status::Internal("this transaction cannot find collections");
  IMGSEARCH_ASSIGN_OR_RETURN(std::shared_ptr<CollectionImpl> collection, resolver_(name));
  CollectionImpl* raw = collection.get();
  IMGSEARCH_ASSIGN_OR_RETURN(Touched * touched, Find(raw));
  touched->keep_alive = std::move(collection);
  return raw;
}

Result<std::vector<int64_t>> WriteTransaction::Insert(const std::string& collection,
                                                      std::vector<Row> rows) {
  IMGSEARCH_ASSIGN_OR_RETURN(CollectionImpl * c, Resolve(collection));
  return Write(c, std::move(rows), /*upsert=*/false);
}

Result<std::vector<int64_t>> WriteTransaction::Upsert(const std::string& collection,
                                                      std::vector<Row> rows) {
  IMGSEARCH_ASSIGN_OR_RETURN(CollectionImpl * c, Resolve(collection));
  return Write(c, std::move(rows), /*upsert=*/true);
}

Result<int64_t> WriteTransaction::Delete(const std::string& collection,
                                         const std::vector<int64_t>& ids) {
  IMGSEARCH_ASSIGN_OR_RETURN(CollectionImpl * c, Resolve(collection));
  return Delete(c, ids);
}

Result<int64_t> WriteTransaction::TakeIds(const std::string& counter, int64_t count,
                                          int64_t at_least) {
  if (count < 1) return Status::InvalidArgument("TakeIds: count must be at least 1");
  std::string key = "counter:" + counter;
  IMGSEARCH_ASSIGN_OR_RETURN(int64_t next, ReadMetaInt(storage_->writer.get(), key, 1));
  int64_t first = std::max(next, at_least);
  IMGSEARCH_RETURN_IF_ERROR(WriteMetaInt(storage_->writer.get(), key, first + count));
  return first;
}

Status WriteTransaction::Commit() {
  for (auto& [collection, touched] : touched_)
    IMGSEARCH_RETURN_IF_ERROR(collection->FinishWrite(storage_->writer.get(), touched.cursor));
  Status committed = sql_.Commit();
  storage_->NoteCommit();  // even when it failed: whether it took effect is not known
  IMGSEARCH_RETURN_IF_ERROR(committed);
  for (auto& [collection, touched] : touched_)
    collection->Publish(std::move(touched.staged), touched.cursor);
  return Status::Ok();
}

}  // namespace imgsearch::store
