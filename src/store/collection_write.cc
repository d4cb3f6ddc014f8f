// Inserts, upserts and deletes: validate, commit to SQLite, then publish to memory.
#include <set>

#include "store/collection_impl.h"
#include "store/vector_form.h"

namespace imgsearch::store {

Status CollectionImpl::CheckWritable() const {
  if (dropped_) return Status::NotFound("collection \"" + schema_.name + "\" was dropped");
  return Status::Ok();
}

std::string CollectionImpl::StoredVector(const Row& row) const {
  if (schema_.binary()) return std::string(row.binary_vector.begin(), row.binary_vector.end());
  return std::string(reinterpret_cast<const char*>(row.vector.data()),
                     row.vector.size() * sizeof(float));
}

Result<std::vector<int64_t>> CollectionImpl::Write(std::vector<Row> rows, bool upsert) {
  if (rows.empty()) return Status::InvalidArgument("no rows to write");
  for (size_t i = 0; i < rows.size(); ++i)
    IMGSEARCH_RETURN_IF_ERROR(ValidateRowForWrite(i, &rows[i]));
  std::lock_guard<std::mutex> write_lock(storage_->write_mutex);
  IMGSEARCH_RETURN_IF_ERROR(CheckWritable());
  int64_t next_auto_id = next_auto_id_;
  std::vector<int64_t> ids;
  std::set<int64_t> seen;
  {
    std::shared_lock<std::shared_mutex> read_lock(state_mutex_);
    for (size_t i = 0; i < rows.size(); ++i) {
      Row& row = rows[i];
      bool assign = schema_.auto_id && (!upsert || row.id == 0);
      if (schema_.auto_id && !upsert && row.id != 0) {
        return Status::InvalidArgument("row " + std::to_string(i) + ": \"" + schema_.primary_field +
                                       "\" is assigned by the collection (auto_id); leave it out");
      }
      if (assign) row.id = next_auto_id++;
      if (!seen.insert(row.id).second) {
        return Status::InvalidArgument("row " + std::to_string(i) + ": id " +
                                       std::to_string(row.id) + " appears twice in one request");
      }
      if (!upsert && slot_of_id_.count(row.id)) {
        return Status::InvalidArgument("row " + std::to_string(i) + ": id " +
                                       std::to_string(row.id) +
                                       " exists already (use upsert to replace it)");
      }
      ids.push_back(row.id);
    }
  }
  int64_t sequence = last_sequence_;
  std::vector<std::string> vectors;
  for (const Row& row : rows) vectors.push_back(StoredVector(row));
  SqliteDb* db = storage_->writer.get();
  Transaction txn(db);
  IMGSEARCH_RETURN_IF_ERROR(txn.Begin());
  IMGSEARCH_ASSIGN_OR_RETURN(Statement insert,
                             db->Prepare("INSERT OR REPLACE INTO " + table() +
                                         " (pk, seq, deleted, fields) VALUES (?, ?, 0, ?)"));
  IMGSEARCH_ASSIGN_OR_RETURN(
      Statement insert_vector,
      db->Prepare("INSERT OR REPLACE INTO " + vector_table() + " (pk, vector) VALUES (?, ?)"));
  for (size_t i = 0; i < rows.size(); ++i) {
    insert.Bind(1, rows[i].id).Bind(2, ++sequence).Bind(3, rows[i].fields.dump());
    IMGSEARCH_RETURN_IF_ERROR(insert.Run());
    insert_vector.Bind(1, rows[i].id).BindBlob(2, vectors[i].data(), vectors[i].size());
    IMGSEARCH_RETURN_IF_ERROR(insert_vector.Run());
  }
  if (next_auto_id != next_auto_id_) {
    IMGSEARCH_ASSIGN_OR_RETURN(Statement counter,
                               db->Prepare("UPDATE collections SET next_auto_id = ? WHERE id = ?"));
    IMGSEARCH_RETURN_IF_ERROR(counter.Bind(1, next_auto_id).Bind(2, id_).Run());
  }
  IMGSEARCH_RETURN_IF_ERROR(txn.Commit());
  {
    std::unique_lock<std::shared_mutex> lock(state_mutex_);
    for (size_t i = 0; i < rows.size(); ++i)
      Apply(rows[i].id, vectors[i], std::move(rows[i].fields));
    last_sequence_ = sequence;
    next_auto_id_ = next_auto_id;
  }
  background_wake_.notify_all();
  return ids;
}

Status CollectionImpl::ValidateRowForWrite(size_t i, Row* row) const {
  return ValidateRow(schema_, i, row);
}

void CollectionImpl::Apply(int64_t pk, std::string_view vector, nlohmann::json fields) {
  if (auto it = slot_of_id_.find(pk); it != slot_of_id_.end()) KillSlot(it->second);
  if (vector.empty()) return;  // a tombstone
  int64_t slot = static_cast<int64_t>(slot_ids_.size());
  slot_ids_.push_back(pk);
  slot_alive_.push_back(1);
  slot_fields_.push_back(std::move(fields));
  slot_of_id_[pk] = slot;
  ++alive_count_;
  std::string indexed = IndexedForm(metric_, vector);
  index::Index* target = index_is_flat_ ? index_.get() : static_cast<index::Index*>(tail_.get());
  (void)target->Add(1, &slot, indexed.data());
}

void CollectionImpl::KillSlot(int64_t slot) {
  if (!slot_alive_[slot]) return;
  slot_alive_[slot] = 0;
  --alive_count_;
  slot_of_id_.erase(slot_ids_[slot]);
  slot_fields_[slot] = nullptr;
  index_->Remove(slot);
  tail_->Remove(slot);
}

Result<int64_t> CollectionImpl::Delete(const std::vector<int64_t>& ids) {
  std::lock_guard<std::mutex> write_lock(storage_->write_mutex);
  IMGSEARCH_RETURN_IF_ERROR(CheckWritable());
  return DeleteLocked(ids);
}

Result<int64_t> CollectionImpl::DeleteWhere(const std::string& filter_text) {
  IMGSEARCH_ASSIGN_OR_RETURN(Filter filter, Filter::Parse(filter_text, schema_));
  if (filter.empty())
    return Status::InvalidArgument(
        "delete needs a filter or ids (an empty filter would delete everything)");
  std::lock_guard<std::mutex> write_lock(storage_->write_mutex);
  IMGSEARCH_RETURN_IF_ERROR(CheckWritable());
  std::vector<int64_t> ids;
  {
    std::shared_lock<std::shared_mutex> read_lock(state_mutex_);
    for (size_t slot = 0; slot < slot_ids_.size(); ++slot) {
      if (slot_alive_[slot] && filter.Matches(slot_ids_[slot], slot_fields_[slot]))
        ids.push_back(slot_ids_[slot]);
    }
  }
  return DeleteLocked(ids);
}

Result<int64_t> CollectionImpl::DeleteLocked(const std::vector<int64_t>& requested) {
  std::vector<int64_t> ids;
  {
    std::shared_lock<std::shared_mutex> read_lock(state_mutex_);
    std::set<int64_t> unique(requested.begin(), requested.end());
    for (int64_t id : unique) {
      if (slot_of_id_.count(id)) ids.push_back(id);
    }
  }
  if (ids.empty()) return int64_t{0};
  int64_t sequence = last_sequence_;
  SqliteDb* db = storage_->writer.get();
  Transaction txn(db);
  IMGSEARCH_RETURN_IF_ERROR(txn.Begin());
  IMGSEARCH_ASSIGN_OR_RETURN(
      Statement tombstone,
      db->Prepare("UPDATE " + table() + " SET deleted = 1, fields = NULL, seq = ? WHERE pk = ?"));
  IMGSEARCH_ASSIGN_OR_RETURN(Statement drop_vector,
                             db->Prepare("DELETE FROM " + vector_table() + " WHERE pk = ?"));
  for (int64_t id : ids) {
    IMGSEARCH_RETURN_IF_ERROR(tombstone.Bind(1, ++sequence).Bind(2, id).Run());
    IMGSEARCH_RETURN_IF_ERROR(drop_vector.Bind(1, id).Run());
  }
  IMGSEARCH_RETURN_IF_ERROR(txn.Commit());
  std::unique_lock<std::shared_mutex> lock(state_mutex_);
  for (int64_t id : ids) KillSlot(slot_of_id_.at(id));
  last_sequence_ = sequence;
  return static_cast<int64_t>(ids.size());
}

}  // namespace imgsearch::store
