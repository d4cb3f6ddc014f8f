// FieldLookup: hash indexes over a collection's indexed scalar fields (FieldSchema::indexed),
// value -> slots, kept in step with the slots. A filter that pins such a field to a few
// values ("path == ..." or "hash in [...]") then reads those slots instead of every row:
// the cost of finding an image by path or content does not grow with the library.
// Not thread-safe: guarded by the collection's state mutex like the slots themselves.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "imgsearch/schema.h"
#include "store/filter.h"

namespace imgsearch::store {

class FieldLookup {
 public:
  void Reset(const CollectionSchema& schema);
  void Clear();
  void Add(int64_t slot, const nlohmann::json& fields);
  void Remove(int64_t slot, const nlohmann::json& fields);
  // The slots that may match `filter` (a superset: the caller still evaluates it), in
  // ascending order; nothing when no indexed field narrows it.
  std::optional<std::vector<int64_t>> Candidates(const Filter& filter) const;

 private:
  // Value -> its slots, in no order. One vector per value rather than one multimap node
  // per slot: a field most rows share (a Milvus collection's partition) cost about 80
  // bytes a row as nodes, 8 in a vector.
  using Slots = std::unordered_map<std::string, std::vector<int64_t>>;
  // Strings and integers as JSON text, so that "7" and 7 stay apart.
  static std::optional<std::string> Key(const nlohmann::json& value);
  std::unordered_map<std::string, Slots> by_field_;
};

}  // namespace imgsearch::store
