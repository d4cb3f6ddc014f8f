// Collections with several vector fields, as Milvus 2.4 has them (one vector per model,
// searched alone or together by hybrid_search).
//
// A store collection holds one vector field. The first vector field of a Milvus
// collection lives in the collection itself; each further one in a hidden companion
// collection "$<collection>__<field>" that holds the same rows (the same ids and scalar
// fields, so that filters and partitions work there too) with that vector. Every write
// goes to the collection and its companions in one transaction, so a reader never sees
// a row with some of its vectors. The companions' fields, in schema order, are a
// database setting ("milvus.vectors/<collection>"), so every process serving the
// library sees them.
#include <algorithm>

#include "server/milvus_request.h"

namespace imgsearch::server {

using json = nlohmann::json;
using Context = MilvusApi::Context;

namespace {

std::string SettingKey(const std::string& collection) {
  return kCollectionSettings[1] + collection;
}

// Row problems found by the store (types, nulls, dimensions) are insert-data errors.
void FailWrite(const Status& status) {
  if (status.code() == StatusCode::kInvalidArgument)
    Fail(kMilvusInvalidInsertData, status.message());
  FailIfError(status);
}

}  // namespace

std::string CompanionName(const std::string& collection, const std::string& field) {
  return "$" + collection + "__" + field;
}

std::vector<std::string> CompanionFields(const Database& db, const std::string& collection) {
  std::optional<std::string> text = ValueOrFail(db.GetSetting(SettingKey(collection)));
  std::vector<std::string> fields;
  if (!text || text->empty()) return fields;
  json list = json::parse(*text, nullptr, false);
  if (!list.is_array()) Fail(kMilvusUnexpected, "the vector fields of the library are damaged");
  for (const json& name : list) {
    if (name.is_string()) fields.push_back(name.get<std::string>());
  }
  return fields;
}

Status SetCompanionFields(Transaction& txn, const std::string& collection,
                          const std::vector<std::string>& fields) {
  return txn.PutSetting(SettingKey(collection), fields.empty() ? "" : json(fields).dump());
}

bool IsCompanion(const Database& db, const std::string& name) {
  for (const std::string& collection : db.ListCollections()) {
    if (collection[0] == '$') continue;
    for (const std::string& field : CompanionFields(db, collection)) {
      if (CompanionName(collection, field) == name) return true;
    }
  }
  return false;
}

std::vector<std::shared_ptr<Collection>> VectorCollections(
    const Context& c, const std::shared_ptr<Collection>& main) {
  std::vector<std::shared_ptr<Collection>> all = {main};
  for (const std::string& field : CompanionFields(c.db(), main->schema().name)) {
    Result<std::shared_ptr<Collection>> companion =
        c.db().GetCollection(CompanionName(main->schema().name, field));
    if (!companion.ok()) {
      Fail(kMilvusUnexpected, "the collection of vector field \"" + field + "\" of \"" +
                                  main->schema().name + "\" is missing from the library");
    }
    all.push_back(*companion);
  }
  return all;
}

std::shared_ptr<Collection> VectorCollection(const std::vector<std::shared_ptr<Collection>>& all,
                                             const std::string& field) {
  if (field.empty()) {
    if (all.size() > 1) {
      Fail(kMilvusParameterInvalid,
           "multiple anns_fields exist, please specify a anns_field in search_params");
    }
    return all.front();
  }
  std::string names;
  for (const auto& collection : all) {
    if (collection->schema().vector_field == field) return collection;
    names += (names.empty() ? "" : ", ") + collection->schema().vector_field;
  }
  Fail(kMilvusParameterInvalid,
       "\"" + field + "\" is not a vector field of the collection (vector fields: " + names + ")");
}

std::vector<CompanionRows> TakeCompanionVectors(const MilvusApi::Context& c,
                                                const std::vector<std::shared_ptr<Collection>>& all,
                                                json* data) {
  std::vector<CompanionRows> out;
  if (all.size() < 2) return out;
  json& rows = *data;
  if (rows.is_object()) rows = json::array({rows});
  if (!rows.is_array()) return out;  // RowsFromBody names the problem
  for (size_t k = 1; k < all.size(); ++k) {
    CompanionRows companion{all[k], {}};
    const CollectionSchema& schema = all[k]->schema();
    const MilvusVectorColumn* column = c.VectorColumn(schema, rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      Row row;
      if (column != nullptr) {
        ReadRowVector(*column, i, &row);
      } else if (rows[i].is_object()) {
        auto it = rows[i].find(schema.vector_field);
        if (it == rows[i].end()) {
          Fail(kMilvusInvalidInsertData, "row " + std::to_string(i) + " lacks the vector field \"" +
                                             schema.vector_field + "\"");
        }
        ReadRowVector(schema, *it, "row " + std::to_string(i) + ": " + schema.vector_field + ": ",
                      &row);
        rows[i].erase(it);
      }
      companion.rows.push_back(std::move(row));
    }
    out.push_back(std::move(companion));
  }
  return out;
}

Status WriteCompanions(Transaction& txn, std::vector<CompanionRows>& companions,
                       const std::vector<json>& fields, const std::vector<int64_t>& ids,
                       bool upsert) {
  for (CompanionRows& companion : companions) {
    std::vector<Row> rows = companion.rows;  // kept whole, should the transaction be retried
    for (size_t i = 0; i < rows.size() && i < ids.size(); ++i) {
      rows[i].id = ids[i];
      rows[i].fields = fields[i];
    }
    const std::string& name = companion.collection->schema().name;
    if (upsert) {
      IMGSEARCH_RETURN_IF_ERROR(txn.Upsert(name, std::move(rows)).status());
    } else {
      IMGSEARCH_RETURN_IF_ERROR(txn.Insert(name, std::move(rows)).status());
    }
  }
  return Status::Ok();
}

std::vector<int64_t> WriteWithCompanions(const Context& c, Collection& main, std::vector<Row> rows,
                                         std::vector<CompanionRows>& companions, bool upsert) {
  std::vector<json> fields;
  for (const Row& row : rows) fields.push_back(row.fields);
  std::vector<int64_t> ids;
  const std::string name = main.schema().name;
  Status status = c.db().Transact([&](Transaction& txn) -> Status {
    Result<std::vector<int64_t>> written = upsert ? txn.Upsert(name, rows) : txn.Insert(name, rows);
    IMGSEARCH_RETURN_IF_ERROR(written.status());
    ids = *written;
    return WriteCompanions(txn, companions, fields, ids, upsert);
  });
  FailWrite(status);
  return ids;
}

int64_t DeleteRows(const Context& c, const std::shared_ptr<Collection>& main,
                   const std::string& filter) {
  std::vector<std::shared_ptr<Collection>> all = VectorCollections(c, main);
  if (all.size() == 1) return ValueOrFail(main->DeleteWhere(filter));
  QueryRequest matching;
  matching.filter = filter;
  int64_t deleted = 0;
  FailIfError(c.db().Transact([&](Transaction& txn) -> Status {
    IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Row> rows, main->Query(matching));
    std::vector<int64_t> ids;
    for (const Row& row : rows) ids.push_back(row.id);
    deleted = int64_t(ids.size());
    if (ids.empty()) return Status::Ok();
    for (const auto& collection : all)
      IMGSEARCH_RETURN_IF_ERROR(txn.Delete(collection->schema().name, ids).status());
    return Status::Ok();
  }));
  return deleted;
}

std::vector<std::shared_ptr<Collection>> TakeVectorOutputs(
    const std::vector<std::shared_ptr<Collection>>& all, const std::string& searched,
    json* requested) {
  std::vector<std::shared_ptr<Collection>> sources;
  if (all.size() < 2 || requested == nullptr || !requested->is_array()) return sources;
  json kept = json::array();
  for (const json& name : *requested) {
    if (name == "*") {  // every field: the vectors of the other fields too
      for (const auto& collection : all) {
        bool listed = std::find(sources.begin(), sources.end(), collection) != sources.end();
        if (collection->schema().vector_field != searched && !listed) sources.push_back(collection);
      }
    }
    auto holder = std::find_if(all.begin(), all.end(), [&](const auto& collection) {
      return name.is_string() && collection->schema().vector_field == name.get<std::string>();
    });
    if (holder == all.end() || (*holder)->schema().vector_field == searched) {
      kept.push_back(name);
    } else if (std::find(sources.begin(), sources.end(), *holder) == sources.end()) {
      sources.push_back(*holder);
    }
  }
  *requested = std::move(kept);
  return sources;
}

void AddVectors(const std::vector<std::shared_ptr<Collection>>& sources,
                const std::vector<int64_t>& ids, json* objects) {
  for (const auto& source : sources) {
    const CollectionSchema& schema = source->schema();
    std::vector<Row> rows = ValueOrFail(source->Get(ids, {schema.vector_field}));
    std::map<int64_t, const Row*> by_id;
    for (const Row& row : rows) by_id[row.id] = &row;
    for (size_t i = 0; i < ids.size() && i < objects->size(); ++i) {
      auto it = by_id.find(ids[i]);
      if (it == by_id.end()) continue;
      Row vector_only;
      vector_only.vector = it->second->vector;
      vector_only.binary_vector = it->second->binary_vector;
      (*objects)[i][schema.vector_field] = VectorJson(schema, vector_only);
    }
  }
}

}  // namespace imgsearch::server
