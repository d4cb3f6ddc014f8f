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
    if (auto key = Key(*it)) slots[std::move(*key)].push_back(slot);
  }
}

void FieldLookup::Remove(int64_t slot, const nlohmann::json& fields) {
  for (auto& [name, slots] : by_field_) {
    auto it = fields.find(name);
    if (it == fields.end()) continue;
    auto key = Key(*it);
    if (!key) continue;
    auto value = slots.find(*key);
    if (value == slots.end()) continue;
    std::vector<int64_t>& of_value = value->second;
    auto at = std::find(of_value.begin(), of_value.end(), slot);
    if (at == of_value.end()) continue;
    *at = of_value.back();
    of_value.pop_back();
    if (of_value.empty()) slots.erase(value);
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
      auto found_slots = slots.find(*key);
      if (found_slots != slots.end())
        found.insert(found.end(), found_slots->second.begin(), found_slots->second.end());
    }
    std::sort(found.begin(), found.end());
    found.erase(std::unique(found.begin(), found.end()), found.end());
    return found;
  }
  return std::nullopt;
}

}  // namespace imgsearch::store
