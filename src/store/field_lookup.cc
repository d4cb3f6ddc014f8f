#include "store/field_lookup.h"

#include <algorithm>

namespace imgsearch::store {

void FieldLookup::Reset(const CollectionSchema& schema) {
  by_field_.clear();
  for (const FieldSchema& f : schema.scalar_fields) {
    if (f.indexed) by_field_[f.name];
  }
}

void FieldLookup::Clear() {
  for (auto& [name, slots] : by_field_) slots.clear();
}

std::optional<std::string> FieldLookup::Key(const nlohmann::json& value) {
  if (value.is_string() || value.is_number_integer()) return value.dump();
  return std::nullopt;  // null: never equal to anything
}

void FieldLookup::Add(int64_t slot, const nlohmann::json& fields) {
  for (auto& [name, slots] : by_field_) {
    auto it = fields.find(name);
    if (it == fields.end()) continue;
    if (auto key = Key(*it)) slots.emplace(std::move(*key), slot);
  }
}

void FieldLookup::Remove(int64_t slot, const nlohmann::json& fields) {
  for (auto& [name, slots] : by_field_) {
    auto it = fields.find(name);
    if (it == fields.end()) continue;
    auto key = Key(*it);
    if (!key) continue;
    auto [first, last] = slots.equal_range(*key);
    for (auto at = first; at != last; ++at) {
      if (at->second == slot) {
        slots.erase(at);
        break;
      }
    }
  }
}

std::optional<std::vector<int64_t>> FieldLookup::Candidates(const Filter& filter) const {
  for (const auto& [name, slots] : by_field_) {
    auto values = filter.RequiredValues(name);
    if (!values) continue;
    std::vector<int64_t> found;
    for (const nlohmann::json& value : *values) {
      auto key = Key(value);
      if (!key) continue;
      auto [first, last] = slots.equal_range(*key);
      for (auto at = first; at != last; ++at) found.push_back(at->second);
    }
    std::sort(found.begin(), found.end());
    found.erase(std::unique(found.begin(), found.end()), found.end());
    return found;
  }
  return std::nullopt;
}

}  // namespace imgsearch::store
