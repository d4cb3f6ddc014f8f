// MilvusCollection's reads: queries paged by primary-key ranges, gets, searches.
#include <algorithm>
#include <limits>
#include <map>
#include <optional>

#include "remote/milvus_collection.h"
#include "remote/milvus_rows.h"

namespace imgsearch::remote {
namespace {

using json = nlohmann::json;

constexpr int64_t kWindow = 16384;           // Milvus's most rows per query or search
constexpr size_t kAnswerBytes = 4u << 20;    // aimed-at size of one answer
constexpr size_t kMostKeysPerFilter = 4096;  // keeps "id in [...]" filters short
constexpr const char* kStrong = "Strong";    // reads see every acknowledged write

std::string And(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return "(" + a + ") and (" + b + ")";
}

bool OnlyKey(const std::vector<std::string>& fields, const std::string& key) {
  return std::all_of(fields.begin(), fields.end(), [&](const std::string& f) { return f == key; });
}

}  // namespace

json MilvusCollection::Body() const {
  return {{"collectionName", schema_.name}};
}

std::string MilvusCollection::KeyIn(const std::vector<int64_t>& ids, size_t first,
                                    size_t last) const {
  std::string filter = schema_.primary_field + " in [";
  for (size_t i = first; i < last; ++i) filter += (i > first ? "," : "") + std::to_string(ids[i]);
  return filter + "]";
}

Result<std::vector<int64_t>> MilvusCollection::IdsInRange(const std::string& filter, int64_t lo,
                                                          int64_t hi) const {
  std::string range;
  if (lo > std::numeric_limits<int64_t>::min())
    range = schema_.primary_field + " >= " + std::to_string(lo);
  if (hi < std::numeric_limits<int64_t>::max())
    range = And(range, schema_.primary_field + " <= " + std::to_string(hi));
  json body = Body();
  body["filter"] = And(filter, range);
  body["outputFields"] = {schema_.primary_field};
  body["limit"] = kWindow;
  body["consistencyLevel"] = kStrong;
  IMGSEARCH_ASSIGN_OR_RETURN(json answer, client_->Call("entities/query", std::move(body)));
  std::vector<int64_t> ids;
  for (const json& row : Field(answer, "data")) {
    IMGSEARCH_ASSIGN_OR_RETURN(Row r, RowFromMilvus(schema_, row));
    // Paging relies on it (each cut range is smaller): a server that strays is refused.
    if (r.id < lo || r.id > hi)
      return Status::Corruption(client_->describe() + ": a query for keys " + std::to_string(lo) +
                                ".." + std::to_string(hi) + " of " + schema_.name +
                                " answered key " + std::to_string(r.id));
    ids.push_back(r.id);
  }
  return ids;
}

Result<std::vector<int64_t>> MilvusCollection::MatchingIds(const std::string& filter) const {
  std::vector<int64_t> ids;
  std::vector<std::pair<int64_t, int64_t>> ranges = {
      {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()}};
  while (!ranges.empty()) {
    auto [lo, hi] = ranges.back();
    ranges.pop_back();
    IMGSEARCH_ASSIGN_OR_RETURN(std::vector<int64_t> page, IdsInRange(filter, lo, hi));
    if (static_cast<int64_t>(page.size()) < kWindow) {
      ids.insert(ids.end(), page.begin(), page.end());
      continue;
    }
    // Full: the range may hold more than Milvus answered. Cut it where half of the keys
    // seen lie on each side; both halves are smaller, so this ends.
    if (lo == hi) return Status::Corruption(schema_.name + ": one primary key on many rows");
    std::nth_element(page.begin(), page.begin() + kWindow / 2, page.end());
    int64_t split = std::min(page[kWindow / 2], hi - 1);
    ranges.push_back({split + 1, hi});
    ranges.push_back({lo, split});
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

size_t MilvusCollection::RowBytes(const std::vector<std::string>& output_fields) const {
  bool vectors = std::any_of(output_fields.begin(), output_fields.end(), [&](const std::string& f) {
    return f == "*" || f == schema_.vector_field;
  });
  return 40 + (OnlyKey(output_fields, schema_.primary_field) ? 0 : 1024) +
         (vectors ? (schema_.binary() ? schema_.VectorBytes() * 4 : size_t(schema_.dimension) * 14)
                  : 0);
}

Result<std::optional<std::vector<Row>>> MilvusCollection::AllMatchingInOne(
    const std::string& filter, const std::vector<std::string>& output_fields) const {
  int64_t window =
      std::min<int64_t>(kWindow, static_cast<int64_t>(kAnswerBytes / RowBytes(output_fields)));
  if (filter.empty() || window < 2) return std::optional<std::vector<Row>>();
  json body = Body();
  body["filter"] = filter;
  body["outputFields"] = output_fields;
  body["limit"] = window;
  body["consistencyLevel"] = kStrong;
  IMGSEARCH_ASSIGN_OR_RETURN(json answer, client_->Call("entities/query", std::move(body)));
  const json& data = Field(answer, "data");
  // A full answer may have left rows out: the caller walks the keys instead.
  if (data.is_array() && static_cast<int64_t>(data.size()) >= window)
    return std::optional<std::vector<Row>>();
  std::vector<Row> rows;
  for (const json& row : data) {
    IMGSEARCH_ASSIGN_OR_RETURN(Row r, RowFromMilvus(schema_, row));
    rows.push_back(std::move(r));
  }
  return std::optional<std::vector<Row>>(std::move(rows));
}

Result<std::vector<Row>> MilvusCollection::RowsByIds(const std::vector<int64_t>& ids,
                                                     const std::vector<std::string>& output_fields,
                                                     const std::string& filter) const {
  size_t batch = std::clamp<size_t>(kAnswerBytes / RowBytes(output_fields), 1, kMostKeysPerFilter);
  std::vector<std::string> fields = output_fields;
  if (fields.empty()) fields = {schema_.primary_field};
  std::vector<Row> rows;
  for (size_t first = 0; first < ids.size(); first += batch) {
    size_t last = std::min(ids.size(), first + batch);
    json body = Body();
    if (filter.empty()) {  // by key alone: entities/get, which servers look up by key
      body["id"] = std::vector<int64_t>(ids.begin() + static_cast<long>(first),
                                        ids.begin() + static_cast<long>(last));
    } else {
      body["filter"] = And(filter, KeyIn(ids, first, last));
      body["limit"] = static_cast<int64_t>(last - first);
    }
    body["outputFields"] = fields;
    body["consistencyLevel"] = kStrong;
    IMGSEARCH_ASSIGN_OR_RETURN(
        json answer,
        client_->Call(filter.empty() ? "entities/get" : "entities/query", std::move(body)));
    for (const json& row : Field(answer, "data")) {
      IMGSEARCH_ASSIGN_OR_RETURN(Row r, RowFromMilvus(schema_, row));
      rows.push_back(std::move(r));
    }
  }
  return rows;
}

Result<std::vector<Row>> MilvusCollection::Get(
    const std::vector<int64_t>& ids, const std::vector<std::string>& output_fields) const {
  std::vector<int64_t> unique = ids;
  std::sort(unique.begin(), unique.end());
  unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
  IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Row> found, RowsByIds(unique, output_fields, ""));
  std::map<int64_t, Row> by_id;
  for (Row& row : found) by_id[row.id] = std::move(row);
  std::vector<Row> rows;
  for (int64_t id : ids) {
    auto it = by_id.find(id);
    if (it != by_id.end()) rows.push_back(it->second);
  }
  return rows;
}

Result<std::vector<Row>> MilvusCollection::Query(const QueryRequest& request) const {
  if (request.offset < 0) return Status::InvalidArgument("offset must not be negative");
  std::vector<Row> rows;
  if (!request.ids.empty()) {
    std::vector<int64_t> ids = request.ids;
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    IMGSEARCH_ASSIGN_OR_RETURN(rows, RowsByIds(ids, request.output_fields, request.filter));
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.id < b.id; });
  } else {
    // Most filtered queries match few rows (an image's path, a few hashes): one request
    // with the fields answers them, rather than the keys first and then their rows.
    if (!OnlyKey(request.output_fields, schema_.primary_field)) {
      IMGSEARCH_ASSIGN_OR_RETURN(std::optional<std::vector<Row>> all,
                                 AllMatchingInOne(request.filter, request.output_fields));
      if (all) {
        rows = std::move(*all);
        std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.id < b.id; });
        rows.erase(std::unique(rows.begin(), rows.end(),
                               [](const Row& a, const Row& b) { return a.id == b.id; }),
                   rows.end());
        size_t first = std::min(rows.size(), static_cast<size_t>(request.offset));
        rows.erase(rows.begin(), rows.begin() + static_cast<long>(first));
        if (request.limit >= 0 && rows.size() > static_cast<size_t>(request.limit))
          rows.resize(static_cast<size_t>(request.limit));
        return rows;
      }
    }
    IMGSEARCH_ASSIGN_OR_RETURN(std::vector<int64_t> ids, MatchingIds(request.filter));
    size_t first = std::min(ids.size(), static_cast<size_t>(request.offset));
    size_t last = request.limit < 0 ? ids.size()
                                    : first + std::min<size_t>(ids.size() - first,
                                                               static_cast<size_t>(request.limit));
    std::vector<int64_t> page(ids.begin() + static_cast<long>(first),
                              ids.begin() + static_cast<long>(last));
    if (OnlyKey(request.output_fields, schema_.primary_field)) {
      for (int64_t id : page) rows.push_back(Row{id, {}, {}, json::object()});
      return rows;
    }
    return Get(page, request.output_fields);
  }
  size_t first = std::min(rows.size(), static_cast<size_t>(request.offset));
  rows.erase(rows.begin(), rows.begin() + static_cast<long>(first));
  if (request.limit >= 0 && rows.size() > static_cast<size_t>(request.limit))
    rows.resize(static_cast<size_t>(request.limit));
  return rows;
}

Result<std::vector<Hit>> MilvusCollection::SearchOne(const json& vector,
                                                     const SearchRequest& request,
                                                     const std::string& filter) const {
  json body = Body();
  body["data"] = json::array({vector});
  body["annsField"] = schema_.vector_field;
  body["limit"] = request.limit;
  if (request.offset > 0) body["offset"] = request.offset;
  if (!filter.empty()) body["filter"] = filter;
  std::vector<std::string> fields = request.output_fields;
  body["outputFields"] = fields.empty() ? std::vector<std::string>{schema_.primary_field} : fields;
  json params = request.params.is_object() ? request.params : json::object();
  // HNSW needs ef >= limit; Milvus refuses the search otherwise.
  if (index().index_type == "HNSW" && !params.contains("ef"))
    params["ef"] = std::max<int64_t>(64, request.limit + request.offset);
  if (!params.empty()) body["searchParams"] = {{"params", params}};
  body["consistencyLevel"] = kStrong;
  IMGSEARCH_ASSIGN_OR_RETURN(json answer, client_->Call("entities/search", std::move(body)));
  std::vector<Hit> hits;
  for (const json& item : Field(answer, "data")) {
    IMGSEARCH_ASSIGN_OR_RETURN(Row row, RowFromMilvus(schema_, item));
    Hit hit;
    hit.id = row.id;
    if (!item.contains("distance") || !item["distance"].is_number())
      return Status::Corruption(client_->describe() + ": a search hit without a distance");
    hit.distance = item["distance"].get<float>();
    hit.row = std::move(row);
    hits.push_back(std::move(hit));
  }
  return hits;
}

Result<std::vector<std::vector<Hit>>> MilvusCollection::Search(const SearchRequest& request) const {
  if (request.limit < 1 || request.offset < 0 || request.limit + request.offset > kWindow)
    return Status::InvalidArgument("limit must be 1..16384 and limit + offset at most 16384");
  size_t queries = schema_.binary() ? request.binary_vectors.size() : request.vectors.size();
  std::vector<std::vector<Hit>> results(queries);
  if (request.ids && request.ids->empty()) return results;  // no candidates
  std::string filter = request.filter;
  if (request.ids) filter = And(filter, KeyIn(*request.ids, 0, request.ids->size()));
  // One request per query vector: Milvus 2.4 does not always say where one query's hits
  // end and the next one's begin.
  for (size_t q = 0; q < queries; ++q) {
    json vector;
    if (schema_.binary()) {
      vector = json::array();
      for (uint8_t b : request.binary_vectors[q]) vector.push_back(b);
    } else {
      vector = request.vectors[q];
    }
    IMGSEARCH_ASSIGN_OR_RETURN(results[q], SearchOne(vector, request, filter));
  }
  return results;
}

}  // namespace imgsearch::remote
