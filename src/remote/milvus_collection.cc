// MilvusCollection's writes, counts and index changes.
#include "remote/milvus_collection.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "base/log.h"
#include "remote/milvus_rows.h"

namespace imgsearch::remote {
namespace {

using json = nlohmann::json;

// A request's rows as JSON text: well under Milvus's 64 MB request limit.
constexpr size_t kRequestBytes = 4u << 20;
constexpr size_t kMostIdsPerDelete = 4096;

}  // namespace

IndexSpec MilvusCollection::index() const {
  std::lock_guard<std::mutex> lock(index_mutex_);
  return index_;
}

Result<std::vector<int64_t>> MilvusCollection::Write(const std::string& route,
                                                     std::vector<Row> rows) {
  const bool insert = route == "entities/insert";
  std::vector<int64_t> ids;
  json batch = json::array();
  size_t batch_bytes = 0;
  auto send = [&]() -> Status {
    if (batch.empty()) return Status::Ok();
    size_t sent = batch.size();
    json body = Body();
    body["data"] = std::move(batch);
    batch = json::array();
    batch_bytes = 0;
    IMGSEARCH_ASSIGN_OR_RETURN(
        json answer,
        client_->Call(route, std::move(body), insert ? Retry::kOnlyIfNotApplied : Retry::kAlways));
    if (!schema_.auto_id) return Status::Ok();
    const json data = Field(answer, "data");
    const json written = Field(data, insert ? "insertIds" : "upsertIds");
    if (!written.is_array() || written.size() != sent)
      return Status::Corruption(client_->describe() + " " + route + ": answered " +
                                std::to_string(written.size()) + " ids for " +
                                std::to_string(sent) + " rows");
    for (const json& id : written) {
      std::optional<int64_t> value = Int64Of(id);
      if (!value) return Status::Corruption(route + ": an id that is not an Int64: " + id.dump());
      ids.push_back(*value);
    }
    return Status::Ok();
  };
  for (Row& row : rows) {
    if (!schema_.auto_id) ids.push_back(row.id);
    json item = RowToMilvus(schema_, row);
    size_t bytes = item.dump().size();
    if (batch_bytes + bytes > kRequestBytes) IMGSEARCH_RETURN_IF_ERROR(send());
    batch.push_back(std::move(item));
    batch_bytes += bytes;
  }
  IMGSEARCH_RETURN_IF_ERROR(send());
  return ids;
}

Result<std::vector<int64_t>> MilvusCollection::Insert(std::vector<Row> rows) {
  if (!schema_.auto_id) {
    std::vector<int64_t> ids;
    for (const Row& row : rows) ids.push_back(row.id);
    IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Row> existing, Get(ids, {}));
    if (!existing.empty())
      return Status::InvalidArgument(schema_.name + ": id " + std::to_string(existing[0].id) +
                                     " exists already");
  }
  return Write("entities/insert", std::move(rows));
}

Result<std::vector<int64_t>> MilvusCollection::Upsert(std::vector<Row> rows) {
  if (schema_.auto_id)
    return Status::InvalidArgument(schema_.name +
                                   ": an autoID collection takes inserts, not upserts");
  return Write("entities/upsert", std::move(rows));
}

Status MilvusCollection::DeleteIds(const std::vector<int64_t>& ids) {
  for (size_t first = 0; first < ids.size(); first += kMostIdsPerDelete) {
    json body = Body();
    body["filter"] = KeyIn(ids, first, std::min(ids.size(), first + kMostIdsPerDelete));
    IMGSEARCH_RETURN_IF_ERROR(client_->Call("entities/delete", std::move(body)).status());
  }
  return Status::Ok();
}

Result<int64_t> MilvusCollection::Delete(const std::vector<int64_t>& ids) {
  // Milvus does not say how many rows a delete removed: the rows present are read first.
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Row> present, Get(ids, {}));
  std::vector<int64_t> present_ids;
  for (const Row& row : present) present_ids.push_back(row.id);
  std::sort(present_ids.begin(), present_ids.end());
  present_ids.erase(std::unique(present_ids.begin(), present_ids.end()), present_ids.end());
  IMGSEARCH_RETURN_IF_ERROR(DeleteIds(present_ids));
  return static_cast<int64_t>(present_ids.size());
}

Result<int64_t> MilvusCollection::DeleteWhere(const std::string& filter) {
  if (filter.empty()) return Status::InvalidArgument("delete needs a filter");
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<int64_t> ids, MatchingIds(filter));
  IMGSEARCH_RETURN_IF_ERROR(DeleteIds(ids));
  return static_cast<int64_t>(ids.size());
}

int64_t MilvusCollection::Count() const {
  json body = Body();
  body["filter"] = "";
  body["outputFields"] = {"count(*)"};
  body["consistencyLevel"] = "Strong";
  auto answer = client_->Call("entities/query", std::move(body));
  if (answer.ok()) {
    const json data = Field(*answer, "data");
    if (data.is_array() && data.size() == 1 && data[0].is_object() &&
        data[0].contains("count(*)")) {
      if (std::optional<int64_t> n = Int64Of(data[0]["count(*)"])) return *n;
    }
  }
  // A server without count(*) (imgsearch's own dialect before it had it).
  auto stats = client_->Call("collections/get_stats", Body());
  if (stats.ok()) {
    const json data = Field(*stats, "data");
    if (data.is_object() && data.contains("rowCount")) {
      if (std::optional<int64_t> n = Int64Of(data["rowCount"])) return *n;
    }
  }
  IMGSEARCH_LOG_ERROR("counting the rows of {} in {}: {}", schema_.name, client_->describe(),
                      (answer.ok() ? stats.status() : answer.status()).message());
  return -1;
}

CollectionStats MilvusCollection::Stats() const {
  CollectionStats stats;
  stats.row_count = Count();
  IndexSpec spec = index();
  if (spec.name.empty()) return stats;
  json body = Body();
  body["indexName"] = spec.name;
  auto answer = client_->Call("indexes/describe", std::move(body));
  if (!answer.ok()) return stats;
  const json data = Field(*answer, "data");
  if (data.is_array() && !data.empty() && data[0].is_object()) {
    stats.indexed_rows = Int64Of(Field(data[0], "indexedRows")).value_or(0);
    stats.pending_rows = Int64Of(Field(data[0], "pendingRows")).value_or(0);
  }
  return stats;
}

Status MilvusCollection::CreateIndex(const IndexSpec& spec) {
  IndexSpec wanted = spec;
  if (wanted.name.empty()) wanted.name = schema_.vector_field;
  IndexSpec now = index();
  IMGSEARCH_RETURN_IF_ERROR(client_->Call("collections/release", Body()).status());
  if (!now.name.empty()) {
    json drop = Body();
    drop["indexName"] = now.name;
    IMGSEARCH_RETURN_IF_ERROR(client_->Call("indexes/drop", std::move(drop)).status());
  }
  json create = Body();
  create["indexParams"] = json::array({IndexToMilvus(schema_, wanted)});
  IMGSEARCH_RETURN_IF_ERROR(client_->Call("indexes/create", std::move(create)).status());
  {
    std::lock_guard<std::mutex> lock(index_mutex_);
    index_ = wanted;
  }
  IMGSEARCH_RETURN_IF_ERROR(client_->Call("collections/load", Body()).status());
  for (int waited = 0; waited < 600; ++waited) {  // up to two minutes
    IMGSEARCH_ASSIGN_OR_RETURN(json state, client_->Call("collections/get_load_state", Body()));
    if (TextOf(Field(state, "data"), "loadState") == "LoadStateLoaded") return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return Status::IOError(client_->describe() + ": " + schema_.name + " did not load again");
}

Status MilvusCollection::DropIndex() {
  IndexSpec spec = index();
  return CreateIndex({schema_.binary() ? "BIN_FLAT" : "FLAT", spec.metric_type});
}

}  // namespace imgsearch::remote
