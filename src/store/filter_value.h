// The values a filter computes with, and the parsed expression tree.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace imgsearch::store {

// A runtime value. kJson holds arrays and objects reached through JSON fields.
struct FilterValue {
  enum Kind { kNull, kBool, kInt, kDouble, kString, kJson };
  Kind kind = kNull;
  bool b = false;
  int64_t i = 0;
  double d = 0;
  std::string s;
  const nlohmann::json* json = nullptr;

  static FilterValue Bool(bool v) { return {kBool, v, 0, 0, {}, nullptr}; }
  static FilterValue Int(int64_t v) { return {kInt, false, v, 0, {}, nullptr}; }
  static FilterValue Double(double v) { return {kDouble, false, 0, v, {}, nullptr}; }
  static FilterValue String(std::string v) { return {kString, false, 0, 0, std::move(v), nullptr}; }
  bool numeric() const { return kind == kInt || kind == kDouble; }
  double AsDouble() const { return kind == kInt ? static_cast<double>(i) : d; }
};

// Static types for checking: kAny is a JSON value whose type is known only per row.
enum class StaticType { kBool, kNumber, kString, kAny, kNull };

// kAnd and kOr hold any number of children (a chain "a and b and c" is one node), so long
// chains stay shallow; every other kind has at most two.
struct FilterNode {
  enum Kind {
    kLiteral,
    kField,
    kNot,
    kNegate,
    kAnd,
    kOr,
    kCompare,
    kArith,
    kIn,
    kLike,
    kIsNull,
    kContains,  // array_contains[_all|_any], json_contains[_all|_any]: op "", "all", "any"
    kLength,    // array_length
  };
  Kind kind = kLiteral;
  std::string op;        // "==", "<", "+", ... for kCompare and kArith
  bool negated = false;  // not in, not like, is not null
  FilterValue literal;
  std::string field;                 // kField: a scalar field, or the primary key
  std::vector<nlohmann::json> path;  // kField: JSON keys (strings) and indexes (integers)
  bool is_primary_key = false;
  std::vector<std::unique_ptr<FilterNode>> children;
  std::vector<FilterValue> list;  // kIn, kContains
  std::string pattern;            // kLike
  StaticType type = StaticType::kAny;
  size_t position = 0;
  int depth = 1;  // levels of this subtree; bounded so that evaluation cannot overflow the stack
};

}  // namespace imgsearch::store
