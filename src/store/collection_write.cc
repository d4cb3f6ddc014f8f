// Inserts, upserts and deletes: validate, write to SQLite inside a WriteTransaction,
// then publish to memory once it has committed.
#include <chrono>
#include <set>

#include "store/collection_impl.h"
#include "store/filter.h"
#include "store/vector_form.h"
#include "store/write_transaction.h"

namespace imgsearch::store {

Status CollectionImpl::CheckWritable() const {
  if (dropped_) return Status::NotFound("collection \"" + schema_.name + "\" was dropped");
  return Status::Ok();
}

Result<std::vector<int64_t>> CollectionImpl::Write(std::vector<Row> rows, bool upsert) {
  WriteTransaction txn(storage_.get());
  IMGSEARCH_RETURN_IF_ERROR(txn.Begin());
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<int64_t> ids, txn.Write(this, std::move(rows), upsert));
  IMGSEARCH_RETURN_IF_ERROR(txn.Commit());
  return ids;
}

Result<int64_t> CollectionImpl::Delete(const std::vector<int64_t>& ids) {
  WriteTransaction txn(storage_.get());
  IMGSEARCH_RETURN_IF_ERROR(txn.Begin());
  IMGSEARCH_ASSIGN_OR_RETURN(int64_t deleted, txn.Delete(this, ids));
  IMGSEARCH_RETURN_IF_ERROR(txn.Commit());
  return deleted;
}

Result<int64_t> CollectionImpl::DeleteWhere(const std::string& filter_text) {
  IMGSEARCH_ASSIGN_OR_RETURN(Filter filter, Filter::Parse(filter_text, schema_));
  if (filter.empty())
    return Status::InvalidArgument(
        "delete needs a filter or ids (an empty filter would delete everything)");
  WriteTransaction txn(storage_.get());
  IMGSEARCH_RETURN_IF_ERROR(txn.Begin());
  IMGSEARCH_RETURN_IF_ERROR(txn.Touch(this));  // memory is current from here on
  IMGSEARCH_RETURN_IF_ERROR(CompleteFields(true));
  std::vector<int64_t> ids;
  {
    std::shared_lock<std::shared_mutex> read_lock(state_mutex_);
    for (int64_t slot : MatchingSlots(filter)) ids.push_back(slot_ids_[slot]);
  }
  IMGSEARCH_ASSIGN_OR_RETURN(int64_t deleted, txn.Delete(this, ids));
  IMGSEARCH_RETURN_IF_ERROR(txn.Commit());
  return deleted;
}

Result<CollectionImpl::WriteCursor> CollectionImpl::BeginWrite(SqliteDb* db) {
  IMGSEARCH_RETURN_IF_ERROR(CheckWritable());
  IMGSEARCH_ASSIGN_OR_RETURN(Statement counter,
                             db->Prepare("SELECT next_auto_id FROM collections WHERE id = ?"));
  counter.Bind(1, id_);
  IMGSEARCH_ASSIGN_OR_RETURN(bool found, counter.Step());
  if (!found) return Status::NotFound("collection \"" + schema_.name + "\" was dropped");
  WriteCursor cursor;
  cursor.next_auto_id = counter.Int(0);
  std::unique_lock<std::shared_mutex> lock(state_mutex_);
  IMGSEARCH_RETURN_IF_ERROR(CatchUpLocked(db));
  cursor.next_sequence = last_sequence_ + 1;
  cursor.next_auto_id = std::max(cursor.next_auto_id, next_auto_id_);
  return cursor;
}

Result<std::vector<int64_t>> CollectionImpl::StageRows(SqliteDb* db, std::vector<Row> rows,
                                                       bool upsert, WriteCursor* cursor,
                                                       std::vector<StagedChange>* staged) {
  if (rows.empty()) return Status::InvalidArgument("no rows to write");
  for (size_t i = 0; i < rows.size(); ++i)
    IMGSEARCH_RETURN_IF_ERROR(ValidateRowForWrite(i, &rows[i]));
  StagedChange change;
  std::set<int64_t> seen;
  {
    std::shared_lock<std::shared_mutex> read_lock(state_mutex_);
    for (size_t i = 0; i < rows.size(); ++i) {
      Row& row = rows[i];
      if (schema_.auto_id && !upsert && row.id != 0) {
        return Status::InvalidArgument("row " + std::to_string(i) + ": \"" + schema_.primary_field +
                                       "\" is assigned by the collection (auto_id); leave it out");
      }
      if (schema_.auto_id && (!upsert || row.id == 0)) {
        row.id = cursor->next_auto_id++;
        cursor->auto_id_advanced = true;
      }
      if (!seen.insert(row.id).second) {
        return Status::InvalidArgument("row " + std::to_string(i) + ": id " +
                                       std::to_string(row.id) + " appears twice in one request");
      }
      if (!upsert && slot_of_id_.count(row.id)) {
        return Status::InvalidArgument("row " + std::to_string(i) + ": id " +
                                       std::to_string(row.id) +
                                       " exists already (use upsert to replace it)");
      }
      change.ids.push_back(row.id);
    }
  }
  IMGSEARCH_ASSIGN_OR_RETURN(Statement insert,
                             db->Prepare("INSERT OR REPLACE INTO " + table() +
                                         " (pk, seq, deleted, fields) VALUES (?, ?, 0, ?)"));
  IMGSEARCH_ASSIGN_OR_RETURN(
      Statement insert_vector,
      db->Prepare("INSERT OR REPLACE INTO " + vector_table() + " (pk, vector) VALUES (?, ?)"));
  for (Row& row : rows) {
    change.vectors.push_back(StoredVector(schema_, row));
    const std::string& vector = change.vectors.back();
    IMGSEARCH_RETURN_IF_ERROR(
        insert.Bind(1, row.id).Bind(2, cursor->next_sequence++).Bind(3, row.fields.dump()).Run());
    IMGSEARCH_RETURN_IF_ERROR(
        insert_vector.Bind(1, row.id).BindBlob(2, vector.data(), vector.size()).Run());
    change.fields.push_back(std::move(row.fields));
  }
  std::vector<int64_t> ids = change.ids;
  staged->push_back(std::move(change));
  return ids;
}

Result<int64_t> CollectionImpl::StageDelete(SqliteDb* db, const std::vector<int64_t>& requested,
                                            WriteCursor* cursor,
                                            std::vector<StagedChange>* staged) {
  StagedChange change;
  change.is_delete = true;
  {
    std::shared_lock<std::shared_mutex> read_lock(state_mutex_);
    std::set<int64_t> unique(requested.begin(), requested.end());
    for (int64_t id : unique) {
      if (slot_of_id_.count(id)) change.ids.push_back(id);
    }
  }
  if (change.ids.empty()) return int64_t{0};
  IMGSEARCH_ASSIGN_OR_RETURN(
      Statement tombstone,
      db->Prepare("UPDATE " + table() + " SET deleted = 1, fields = NULL, seq = ? WHERE pk = ?"));
  IMGSEARCH_ASSIGN_OR_RETURN(Statement drop_vector,
                             db->Prepare("DELETE FROM " + vector_table() + " WHERE pk = ?"));
  for (int64_t id : change.ids) {
    IMGSEARCH_RETURN_IF_ERROR(tombstone.Bind(1, cursor->next_sequence++).Bind(2, id).Run());
    IMGSEARCH_RETURN_IF_ERROR(drop_vector.Bind(1, id).Run());
  }
  int64_t deleted = static_cast<int64_t>(change.ids.size());
  staged->push_back(std::move(change));
  return deleted;
}

Status CollectionImpl::FinishWrite(SqliteDb* db, const WriteCursor& cursor) {
  if (!cursor.auto_id_advanced) return Status::Ok();
  IMGSEARCH_ASSIGN_OR_RETURN(Statement counter,
                             db->Prepare("UPDATE collections SET next_auto_id = ? WHERE id = ?"));
  return counter.Bind(1, cursor.next_auto_id).Bind(2, id_).Run();
}

void CollectionImpl::Publish(std::vector<StagedChange> staged, const WriteCursor& cursor) {
  size_t rows = 0;
  for (const StagedChange& change : staged) rows += change.ids.size();
  // A write's request (5,000 rows of 512 floats: tens of MB of buffers in the server) is
  // freed in the arena of the thread that served it.
  if (rows >= kRowsWorthARelease) release_due_.store(true, std::memory_order_relaxed);
  {
    std::unique_lock<std::shared_mutex> lock(state_mutex_);
    next_auto_id_ = std::max(next_auto_id_, cursor.next_auto_id);
    // A catch-up that ran after the commit replayed these rows already; the commit is
    // atomic, so it saw all of them or none.
    if (last_sequence_ >= cursor.next_sequence - 1) return;
    for (StagedChange& change : staged) {
      for (size_t i = 0; i < change.ids.size(); ++i) {
        if (change.is_delete) {
          if (auto it = slot_of_id_.find(change.ids[i]); it != slot_of_id_.end())
            KillSlot(it->second);
        } else {
          Apply(change.ids[i], change.vectors[i], std::move(change.fields[i]));
        }
      }
    }
    last_sequence_ = cursor.next_sequence - 1;
  }
  last_publish_ns_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::steady_clock::now().time_since_epoch())
                             .count(),
                         std::memory_order_relaxed);
  background_wake_.notify_all();
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
  slot_in_graph_.push_back(0);
  lookup_.Add(slot, fields);
  slot_fields_.push_back(std::move(fields));
  slot_of_id_[pk] = slot;
  ++alive_count_;
  std::string indexed = IndexedForm(metric_, vector);
  if (!index_is_flat_) {
    (void)tail_->Add(1, &slot, indexed.data());
    return;
  }
  std::unique_lock<std::shared_mutex> index_lock(index_mutex_);
  (void)index_->Add(1, &slot, indexed.data());
}

void CollectionImpl::KillSlot(int64_t slot) {
  if (!slot_alive_[slot]) return;
  slot_alive_[slot] = 0;
  --alive_count_;
  slot_of_id_.erase(slot_ids_[slot]);
  lookup_.Remove(slot, slot_fields_[slot]);
  slot_fields_[slot] = nullptr;
  slot_in_graph_[slot] = 0;
  tail_->Remove(slot);
  std::unique_lock<std::shared_mutex> index_lock(index_mutex_);
  index_->Remove(slot);
}

}  // namespace imgsearch::store
