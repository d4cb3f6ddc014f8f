// Primary keys in filters, and the writes of collections with VarChar primary keys.
//
// The store's rows are keyed by int64 ids. Under a VarChar key the id is hidden ("$id",
// assigned by the store) and the key lives in an indexed VarChar field, so that finding
// rows by key reads the hash index instead of scanning. Writes look the keys up and
// write in one transaction: no other writer, in any process, can slip in between, so a
// key names at most one row.
#include <set>

#include "server/milvus_request.h"
#include "store/filter.h"

namespace imgsearch::server {

using json = nlohmann::json;
using Context = MilvusApi::Context;

std::string KeyFilter(const MilvusView& view, const json& ids) {
  json list = ids.is_array() ? ids : json::array({ids});
  if (list.empty()) Fail(kMilvusCheckPrimaryKey, "id must name at least one primary key");
  std::string filter = view.primary_field + " in [";
  for (size_t i = 0; i < list.size(); ++i) {
    if (i > 0) filter += ", ";
    if (view.varchar_key) {
      if (!list[i].is_string())
        Fail(kMilvusCheckPrimaryKey,
             "the primary key is a VarChar: ids must be strings, got " + list[i].dump());
      filter += store::QuoteFilterLiteral(list[i].get<std::string>());
    } else {
      std::optional<int64_t> id = IntegerOf(list[i]);
      if (!id) {
        Fail(kMilvusCheckPrimaryKey,
             "id must be an Int64 or an array of them, got " + list[i].dump());
      }
      filter += std::to_string(*id);
    }
  }
  return filter + "]";
}

json WriteKeyedRows(const Context& c, Collection& collection, std::vector<Row> rows, bool upsert,
                    std::vector<CompanionRows>* companions) {
  MilvusView view = ViewOf(collection.schema());
  json keys = json::array();
  std::set<std::string> seen;
  for (const Row& row : rows) {
    const std::string& key = row.fields[view.primary_field].get_ref<const std::string&>();
    if (!seen.insert(key).second) {
      Fail(kMilvusInvalidInsertData,
           "primary key " + store::QuoteFilterLiteral(key) + " appears twice in one request");
    }
    keys.push_back(key);
  }
  QueryRequest existing;
  existing.filter = KeyFilter(view, keys);
  const std::string name = collection.schema().name;
  std::string taken;  // set when an insert meets a key that exists
  Status status = c.db().Transact([&](Transaction& txn) -> Status {
    IMGSEARCH_ASSIGN_OR_RETURN(std::vector<Row> found, collection.Query(existing));
    if (!found.empty() && !upsert) {
      taken = found.front().fields.value(view.primary_field, json()).dump();
      return Status::InvalidArgument("primary key exists");
    }
    std::vector<int64_t> ids;
    for (const Row& row : found) ids.push_back(row.id);
    std::vector<std::string> names = {name};
    if (companions != nullptr) {
      for (const CompanionRows& companion : *companions)
        names.push_back(companion.collection->schema().name);
    }
    for (const std::string& replaced : names) {
      if (!ids.empty()) IMGSEARCH_RETURN_IF_ERROR(txn.Delete(replaced, ids).status());
    }
    if (companions == nullptr || companions->empty()) return txn.Insert(name, rows).status();
    std::vector<json> fields;
    for (const Row& row : rows) fields.push_back(row.fields);
    IMGSEARCH_ASSIGN_OR_RETURN(std::vector<int64_t> written, txn.Insert(name, rows));
    return WriteCompanions(txn, *companions, fields, written, false);
  });
  if (!taken.empty()) {
    Fail(kMilvusInvalidInsertData, "primary key " + taken +
                                       " exists already (imgsearch keeps keys unique: use "
                                       "entities/upsert to replace a row)");
  }
  if (status.code() == StatusCode::kInvalidArgument)
    Fail(kMilvusInvalidInsertData, status.message());
  FailIfError(status);
  return keys;
}

}  // namespace imgsearch::server
