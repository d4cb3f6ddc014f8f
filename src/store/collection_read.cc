// Get, query and search. All run under the shared state lock.
#include <algorithm>
#include <set>

#include "base/log.h"
#include "index/index_factory.h"
#include "store/collection_impl.h"
#include "store/vector_form.h"

namespace imgsearch::store {
namespace {

constexpr int kMaxTopK = 16384;
// A filter that keeps at most this many rows is searched exactly: graph and list
// traversals lose their way when almost every node is filtered out.
constexpr size_t kExactFilterLimit = 2048;
// A read of more rows than this completes every slot's fields first (one pass over the
// rows) rather than reading each row's alone.
constexpr size_t kRowsReadAlone = 1000;

Result<float> NumberParam(const nlohmann::json& params, const char* key) {
  const auto& v = params[key];
  if (!v.is_number())
    return Status::InvalidArgument(std::string("search parameter ") + key + " must be a number");
  return v.get<float>();
}

}  // namespace

namespace {
// For reads that cannot return a Status: they answer from memory as it is.
void RefreshOrWarn(const CollectionImpl& collection) {
  Status refreshed = collection.Refresh();
  if (!refreshed.ok())
    IMGSEARCH_LOG_WARN("collection \"{}\": cannot catch up with other writers: {}",
                       collection.schema().name, refreshed.ToString());
}
}  // namespace

IndexSpec CollectionImpl::index() const {
  std::shared_lock<std::shared_mutex> lock(state_mutex_);
  return index_spec_;
}

int64_t CollectionImpl::Count() const {
  RefreshOrWarn(*this);
  std::shared_lock<std::shared_mutex> lock(state_mutex_);
  return alive_count_;
}

CollectionStats CollectionImpl::Stats() const {
  RefreshOrWarn(*this);
  std::shared_lock<std::shared_mutex> lock(state_mutex_);
  CollectionStats s;
  s.row_count = alive_count_;
  s.pending_rows = static_cast<int64_t>(tail_->size());
  s.indexed_rows = alive_count_ - s.pending_rows;
  s.deleted_slots = static_cast<int64_t>(slot_ids_.size()) - alive_count_;
  s.last_sequence = last_sequence_;
  s.snapshot_sequence = snapshot_sequence_;
  std::shared_lock<std::shared_mutex> index_lock(index_mutex_);
  s.index_memory_bytes = index_->MemoryUsage() + tail_->MemoryUsage();
  return s;
}

Result<CollectionImpl::OutputSpec> CollectionImpl::ParseOutputFields(
    const std::vector<std::string>& names) const {
  OutputSpec out;
  for (const std::string& name : names) {
    if (name == "*") {
      out.all_fields = out.vector = true;
    } else if (name == schema_.vector_field) {
      out.vector = true;
    } else if (name == schema_.primary_field) {
      continue;  // always returned
    } else if (schema_.FindScalar(name) != nullptr) {
      out.fields.push_back(name);
    } else {
      return Status::InvalidArgument("output field \"" + name + "\" is not in the schema");
    }
  }
  return out;
}

Result<std::string> CollectionImpl::ReadVector(int64_t pk) const {
  IMGSEARCH_ASSIGN_OR_RETURN(ReadLease reader, storage_->Read());
  IMGSEARCH_ASSIGN_OR_RETURN(Statement select, PrepareVectorRead(reader.get()));
  IMGSEARCH_ASSIGN_OR_RETURN(std::string_view blob, ReadVectorWith(select, pk));
  return std::string(blob);
}

Result<Statement> CollectionImpl::PrepareVectorRead(SqliteDb* db) const {
  return db->Prepare("SELECT vector FROM " + vector_table() + " WHERE pk = ?");
}

Result<std::string_view> CollectionImpl::ReadVectorWith(Statement& select, int64_t pk) const {
  select.Reset();
  select.Bind(1, pk);
  IMGSEARCH_ASSIGN_OR_RETURN(bool found, select.Step());
  if (!found || select.IsNull(0))
    return Status::NotFound("row " + std::to_string(pk) + " has no vector");
  std::string_view blob = select.Blob(0);
  if (blob.size() != schema_.VectorBytes())
    return Status::Corruption("stored vector of row " + std::to_string(pk) + " has the wrong size");
  return blob;
}

Result<Row> CollectionImpl::BuildRow(int64_t slot, const OutputSpec& output) const {
  Row row;
  row.id = slot_ids_[slot];
  nlohmann::json fields;
  if (output.all_fields || !output.fields.empty()) {
    IMGSEARCH_ASSIGN_OR_RETURN(fields, FieldsOf(slot));
  }
  if (output.all_fields) {
    row.fields = fields;
  } else {
    for (const std::string& name : output.fields)
      row.fields[name] = fields.value(name, nlohmann::json());
  }
  if (output.vector) {
    IMGSEARCH_ASSIGN_OR_RETURN(std::string bytes, ReadVector(row.id));
    if (schema_.binary()) {
      row.binary_vector.assign(bytes.begin(), bytes.end());
    } else {
      row.vector.resize(bytes.size() / sizeof(float));
      std::memcpy(row.vector.data(), bytes.data(), bytes.size());
    }
  }
  return row;
}

Result<std::vector<Row>> CollectionImpl::Get(const std::vector<int64_t>& ids,
                                             const std::vector<std::string>& output_fields) const {
  IMGSEARCH_ASSIGN_OR_RETURN(OutputSpec output, ParseOutputFields(output_fields));
  IMGSEARCH_RETURN_IF_ERROR(Refresh());
  IMGSEARCH_RETURN_IF_ERROR(CompleteFields(ids.size() > kRowsReadAlone));
  std::shared_lock<std::shared_mutex> lock(state_mutex_);
  std::vector<Row> rows;
  for (int64_t id : ids) {
    auto it = slot_of_id_.find(id);
    if (it == slot_of_id_.end()) continue;
    IMGSEARCH_ASSIGN_OR_RETURN(Row row, BuildRow(it->second, output));
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<int64_t> CollectionImpl::MatchingSlots(const Filter& filter) const {
  std::vector<int64_t> slots;
  auto consider = [&](int64_t slot) {
    if (slot_alive_[slot] && filter.Matches(slot_ids_[slot], slot_fields_[slot]))
      slots.push_back(slot);
  };
  if (auto candidates = lookup_.Candidates(filter)) {
    for (int64_t slot : *candidates) consider(slot);
  } else {
    for (size_t slot = 0; slot < slot_ids_.size(); ++slot) consider(static_cast<int64_t>(slot));
  }
  return slots;
}

Result<std::vector<Row>> CollectionImpl::Query(const QueryRequest& request) const {
  IMGSEARCH_ASSIGN_OR_RETURN(Filter filter, Filter::Parse(request.filter, schema_));
  IMGSEARCH_ASSIGN_OR_RETURN(OutputSpec output, ParseOutputFields(request.output_fields));
  if (filter.empty() && request.ids.empty() && request.limit < 0) {
    return Status::InvalidArgument("a query needs a filter, ids or a limit");
  }
  if (request.offset < 0) return Status::InvalidArgument("offset must not be negative");
  IMGSEARCH_RETURN_IF_ERROR(Refresh());
  size_t reads = request.ids.empty() ? static_cast<size_t>(request.limit) : request.ids.size();
  IMGSEARCH_RETURN_IF_ERROR(CompleteFields(!filter.empty() || reads > kRowsReadAlone));
  std::shared_lock<std::shared_mutex> lock(state_mutex_);
  std::vector<std::pair<int64_t, int64_t>> matches;  // (id, slot)
  auto consider = [&](int64_t slot) {
    if (slot_alive_[slot] && filter.Matches(slot_ids_[slot], slot_fields_[slot])) {
      matches.emplace_back(slot_ids_[slot], slot);
    }
  };
  if (!request.ids.empty()) {
    for (int64_t id : std::set<int64_t>(request.ids.begin(), request.ids.end())) {
      if (auto it = slot_of_id_.find(id); it != slot_of_id_.end()) consider(it->second);
    }
  } else {
    for (int64_t slot : MatchingSlots(filter)) matches.emplace_back(slot_ids_[slot], slot);
  }
  std::sort(matches.begin(), matches.end());
  std::vector<Row> rows;
  for (size_t i = static_cast<size_t>(request.offset); i < matches.size(); ++i) {
    if (request.limit >= 0 && static_cast<int64_t>(rows.size()) >= request.limit) break;
    IMGSEARCH_ASSIGN_OR_RETURN(Row row, BuildRow(matches[i].second, output));
    rows.push_back(std::move(row));
  }
  return rows;
}

Result<VectorColumn> CollectionImpl::ReadVectors(const std::vector<int64_t>& ids) const {
  IMGSEARCH_RETURN_IF_ERROR(Refresh());
  std::vector<int64_t> wanted = ids;
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  VectorColumn column;
  column.bytes_per_vector = schema_.VectorBytes();
  IMGSEARCH_ASSIGN_OR_RETURN(ReadLease reader, storage_->Read());  // outlives the statements
  auto add = [&](int64_t pk, std::string_view blob) -> Status {
    if (blob.size() != column.bytes_per_vector)
      return Status::Corruption("stored vector of row " + std::to_string(pk) +
                                " has the wrong size");
    column.ids.push_back(pk);
    column.bytes.insert(column.bytes.end(), blob.begin(), blob.end());
    return Status::Ok();
  };
  // Scanning the whole table beats looking ids up one by one when they are many of its rows.
  const bool scan = ids.empty() || wanted.size() * 8 > static_cast<size_t>(Count());
  if (scan) {
    column.ids.reserve(ids.empty() ? static_cast<size_t>(Count()) : wanted.size());
    column.bytes.reserve(column.ids.capacity() * column.bytes_per_vector);
    IMGSEARCH_ASSIGN_OR_RETURN(Statement select, reader->Prepare("SELECT pk, vector FROM " +
                                                                 vector_table() + " ORDER BY pk"));
    size_t next = 0;  // into wanted
    for (;;) {
      IMGSEARCH_ASSIGN_OR_RETURN(bool found, select.Step());
      if (!found) break;
      const int64_t pk = select.Int(0);
      if (!ids.empty()) {
        while (next < wanted.size() && wanted[next] < pk) ++next;
        if (next == wanted.size()) break;
        if (wanted[next] != pk) continue;
      }
      IMGSEARCH_RETURN_IF_ERROR(add(pk, select.Blob(1)));
    }
    return column;
  }
  IMGSEARCH_ASSIGN_OR_RETURN(
      Statement select, reader->Prepare("SELECT vector FROM " + vector_table() + " WHERE pk = ?"));
  for (int64_t pk : wanted) {
    select.Reset();
    select.Bind(1, pk);
    IMGSEARCH_ASSIGN_OR_RETURN(bool found, select.Step());
    if (found) IMGSEARCH_RETURN_IF_ERROR(add(pk, select.Blob(0)));
  }
  return column;
}

Result<std::vector<index::Neighbor>> CollectionImpl::ExactOver(
    const void* query, size_t k, const index::SearchParams& params,
    const std::vector<int64_t>& slots) const {
  index::TopK top(k);
  size_t dim = schema_.binary() ? schema_.VectorBytes() : static_cast<size_t>(schema_.dimension);
  // One connection, read transaction and statement for every row (a re-rank reads 4·k):
  // without the transaction SQLite takes and drops its file locks for each row. It ends
  // (after the statement) before the reader goes back to the pool, pinning no snapshot.
  IMGSEARCH_ASSIGN_OR_RETURN(ReadLease reader, storage_->Read());  // outlives the rest
  SqlTransaction transaction(reader.get());                        // ends after the statement
  IMGSEARCH_RETURN_IF_ERROR(transaction.BeginRead());
  IMGSEARCH_ASSIGN_OR_RETURN(Statement select, PrepareVectorRead(reader.get()));
  for (int64_t slot : slots) {
    IMGSEARCH_ASSIGN_OR_RETURN(std::string_view stored, ReadVectorWith(select, slot_ids_[slot]));
    std::string v = IndexedForm(metric_, stored);
    float d = index::Distance(metric_, query, v.data(), dim);
    if (params.InRange(d)) top.Push(slot, d);
  }
  return top.Take();
}

Result<std::vector<index::Neighbor>> CollectionImpl::Rerank(
    const void* query, size_t k, const index::SearchParams& params,
    const std::vector<index::Neighbor>& candidates) const {
  std::vector<int64_t> slots;
  for (const auto& c : candidates) slots.push_back(c.label);
  return ExactOver(query, k, params, slots);
}

Result<std::vector<Hit>> CollectionImpl::SearchOne(const void* query, size_t k,
                                                   const index::SearchParams& params,
                                                   const std::vector<uint8_t>* allowed,
                                                   size_t allowed_count) const {
  std::vector<index::Neighbor> found;
  if (allowed != nullptr && !index_is_flat_ && allowed_count <= kExactFilterLimit) {
    std::vector<int64_t> slots;
    for (size_t slot = 0; slot < allowed->size(); ++slot) {
      if ((*allowed)[slot]) slots.push_back(static_cast<int64_t>(slot));
    }
    IMGSEARCH_ASSIGN_OR_RETURN(found, ExactOver(query, k, params, slots));
  } else {
    index::LabelFilter filter{allowed};
    // The graph returns only rows out of the tail: one DrainTailBatch may be adding some.
    index::LabelFilter in_index{allowed, index_is_flat_ ? nullptr : &slot_in_graph_};
    bool lossy = index::IsLossy(index_spec_.index_type);
    {
      std::shared_lock<std::shared_mutex> index_lock(index_mutex_);
      IMGSEARCH_ASSIGN_OR_RETURN(found, index_->Search(query, lossy ? 4 * k : k, params, in_index));
    }
    if (lossy) {
      IMGSEARCH_ASSIGN_OR_RETURN(found, Rerank(query, k, params, found));
    }
    if (!index_is_flat_) {
      for (const auto& n : tail_->Scan(query, k, params, filter)) found.push_back(n);
      std::sort(found.begin(), found.end());
      if (found.size() > k) found.resize(k);
    }
  }
  std::vector<Hit> hits;
  for (const auto& n : found) {
    Hit hit;
    hit.id = slot_ids_[n.label];
    hit.distance = index::ReportedDistance(metric_, n.distance);
    hits.push_back(std::move(hit));
  }
  return hits;
}

Result<std::vector<std::vector<Hit>>> CollectionImpl::Search(const SearchRequest& request) const {
  const bool binary = schema_.binary();
  size_t queries = binary ? request.binary_vectors.size() : request.vectors.size();
  if ((binary && !request.vectors.empty()) || (!binary && !request.binary_vectors.empty())) {
    return Status::InvalidArgument(std::string("this collection holds ") +
                                   (binary ? "binary" : "float") + " vectors");
  }
  if (queries == 0) return Status::InvalidArgument("no query vectors");
  for (size_t q = 0; q < queries; ++q) {
    size_t got = binary ? request.binary_vectors[q].size() : request.vectors[q].size();
    size_t want = binary ? schema_.VectorBytes() : static_cast<size_t>(schema_.dimension);
    if (got != want) {
      return Status::InvalidArgument("query " + std::to_string(q) + " has " + std::to_string(got) +
                                     (binary ? " bytes" : " values") + ", the collection " +
                                     std::to_string(want));
    }
  }
  if (request.limit < 1 || request.offset < 0 || request.limit + request.offset > kMaxTopK) {
    return Status::InvalidArgument("limit must be at least 1 and limit + offset at most " +
                                   std::to_string(kMaxTopK));
  }
  IMGSEARCH_ASSIGN_OR_RETURN(Filter filter, Filter::Parse(request.filter, schema_));
  IMGSEARCH_ASSIGN_OR_RETURN(OutputSpec output, ParseOutputFields(request.output_fields));
  IMGSEARCH_ASSIGN_OR_RETURN(index::SearchParams params, index::ParseSearchParams(request.params));

  IMGSEARCH_RETURN_IF_ERROR(Refresh());
  IMGSEARCH_RETURN_IF_ERROR(CompleteFields(!filter.empty()));
  std::shared_lock<std::shared_mutex> lock(state_mutex_);
  if (request.params.contains("radius")) {
    IMGSEARCH_ASSIGN_OR_RETURN(float radius, NumberParam(request.params, "radius"));
    bool similarity = metric_ == index::Metric::kIP || metric_ == index::Metric::kCosine;
    params.max_distance = similarity ? -radius : radius;
    if (request.params.contains("range_filter")) {
      IMGSEARCH_ASSIGN_OR_RETURN(float inner, NumberParam(request.params, "range_filter"));
      params.min_distance = similarity ? -inner : inner;
      if (params.min_distance >= params.max_distance) {
        return Status::InvalidArgument(
            similarity ? "range_filter must be greater than radius for IP and COSINE"
                       : "range_filter must be less than radius");
      }
    }
  } else if (request.params.contains("range_filter")) {
    return Status::InvalidArgument("range_filter needs radius");
  }
  // Rows outside the filter or the ids asked for are not candidates.
  const bool restricted = !filter.empty() || request.ids.has_value();
  std::vector<uint8_t> allowed;
  size_t allowed_count = 0;
  if (restricted) {
    allowed.assign(slot_ids_.size(), 0);
    auto allow = [&](int64_t slot) {
      if (!allowed[slot]) allowed[slot] = 1, ++allowed_count;
    };
    if (request.ids) {
      for (int64_t id : *request.ids) {
        auto it = slot_of_id_.find(id);
        if (it != slot_of_id_.end() && filter.Matches(id, slot_fields_[it->second]))
          allow(it->second);
      }
    } else {
      for (int64_t slot : MatchingSlots(filter)) allow(slot);
    }
  }
  size_t k = static_cast<size_t>(request.limit + request.offset);
  std::vector<std::vector<Hit>> results;
  for (size_t q = 0; q < queries; ++q) {
    std::string_view bytes =
        binary ? std::string_view(reinterpret_cast<const char*>(request.binary_vectors[q].data()),
                                  request.binary_vectors[q].size())
               : std::string_view(reinterpret_cast<const char*>(request.vectors[q].data()),
                                  request.vectors[q].size() * sizeof(float));
    std::string query = IndexedForm(metric_, bytes);
    IMGSEARCH_ASSIGN_OR_RETURN(
        std::vector<Hit> hits,
        SearchOne(query.data(), k, params, restricted ? &allowed : nullptr, allowed_count));
    hits.erase(hits.begin(),
               hits.begin() + std::min(hits.size(), static_cast<size_t>(request.offset)));
    for (Hit& hit : hits) {
      IMGSEARCH_ASSIGN_OR_RETURN(hit.row, BuildRow(slot_of_id_.at(hit.id), output));
    }
    results.push_back(std::move(hits));
  }
  return results;
}

}  // namespace imgsearch::store
