// The scalar fields of rows that an index snapshot brought in: read from SQLite when a
// read needs them rather than at open, where parsing every row's JSON was most of the
// cost of opening a large collection.
#include "base/log.h"
#include "store/collection_impl.h"

namespace imgsearch::store {

nlohmann::json ParseRowFields(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  return j.is_object() ? j : nlohmann::json::object();
}

Result<nlohmann::json> CollectionImpl::FieldsOf(int64_t slot) const {
  if (!slot_fields_[slot].is_null()) return slot_fields_[slot];
  IMGSEARCH_ASSIGN_OR_RETURN(ReadLease reader, storage_->Read());
  IMGSEARCH_ASSIGN_OR_RETURN(Statement select, reader->Prepare("SELECT fields FROM " + table() +
                                                               " WHERE pk = ? AND deleted = 0"));
  select.Bind(1, slot_ids_[slot]);
  IMGSEARCH_ASSIGN_OR_RETURN(bool found, select.Step());
  // Only a row another process removed since this read caught up is missing.
  if (!found) return Status::NotFound("row " + std::to_string(slot_ids_[slot]) + " was removed");
  return ParseRowFields(select.Text(0));
}

Status CollectionImpl::CompleteFields(bool needed) const {
  if (!needed) return Status::Ok();
  {
    std::shared_lock<std::shared_mutex> lock(state_mutex_);
    if (fields_complete_) return Status::Ok();
  }
  // Memory is a cache of the rows: filling it in is not a change a reader can see.
  auto* self = const_cast<CollectionImpl*>(this);
  std::unique_lock<std::shared_mutex> lock(state_mutex_);
  Status completed = self->CompleteFieldsLocked();
  if (completed.code() != StatusCode::kCorruption) return completed;
  IMGSEARCH_LOG_WARN("collection \"{}\": index snapshot unusable ({}); rebuilding from the rows",
                     schema_.name, completed.ToString());
  IMGSEARCH_ASSIGN_OR_RETURN(ReadLease reader, storage_->Read());
  return self->RebuildFromRows(reader.get());
}

Status CollectionImpl::CompleteFieldsLocked() {
  if (fields_complete_) return Status::Ok();
  IMGSEARCH_ASSIGN_OR_RETURN(ReadLease reader, storage_->Read());
  SqliteDb* db = reader.get();
  IMGSEARCH_RETURN_IF_ERROR(CatchUpLocked(db));
  if (fields_complete_) return Status::Ok();  // the catch-up rebuilt from the rows
  IMGSEARCH_ASSIGN_OR_RETURN(Statement select, db->Prepare("SELECT pk, fields FROM " + table() +
                                                           " WHERE deleted = 0 AND seq <= ?"));
  select.Bind(1, last_sequence_);
  for (;;) {
    IMGSEARCH_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    auto it = slot_of_id_.find(select.Int(0));
    if (it == slot_of_id_.end())
      return Status::Corruption("row " + std::to_string(select.Int(0)) + " is missing");
    nlohmann::json& fields = slot_fields_[it->second];
    if (!fields.is_null()) continue;
    fields = ParseRowFields(select.Text(1));
    lookup_.Add(it->second, fields);
  }
  // Every live slot must be backed by a live row, unless another process changed the row
  // since the catch-up above (its next catch-up replaces the slot).
  IMGSEARCH_ASSIGN_OR_RETURN(Statement changed,
                             db->Prepare("SELECT seq FROM " + table() + " WHERE pk = ?"));
  for (size_t slot = 0; slot < slot_ids_.size(); ++slot) {
    if (!slot_alive_[slot] || !slot_fields_[slot].is_null()) continue;
    changed.Bind(1, slot_ids_[slot]);
    IMGSEARCH_ASSIGN_OR_RETURN(bool found, changed.Step());
    bool replaced = found && changed.Int(0) > last_sequence_;
    changed.Reset();
    if (!replaced) {
      return Status::Corruption("the snapshot holds row " + std::to_string(slot_ids_[slot]) +
                                " that no longer exists");
    }
  }
  fields_complete_ = true;
  return Status::Ok();
}

}  // namespace imgsearch::store
