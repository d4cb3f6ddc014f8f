// Evaluation of a parsed filter against one row.
#include <cmath>

#include "store/filter.h"
#include "store/filter_value.h"

namespace imgsearch::store {
namespace {

using json = nlohmann::json;

FilterValue FromJson(const json& j) {
  if (j.is_boolean()) return FilterValue::Bool(j.get<bool>());
  if (j.is_number_integer()) return FilterValue::Int(j.get<int64_t>());
  if (j.is_number()) return FilterValue::Double(j.get<double>());
  if (j.is_string()) return FilterValue::String(j.get<std::string>());
  if (j.is_null()) return {};
  FilterValue v;
  v.kind = FilterValue::kJson;
  v.json = &j;
  return v;
}

const json* Walk(const json* j, const std::vector<json>& path) {
  for (const json& step : path) {
    if (step.is_string() && j->is_object()) {
      auto it = j->find(step.get<std::string>());
      if (it == j->end()) return nullptr;
      j = &*it;
    } else if (step.is_number_integer() && j->is_array()) {
      int64_t i = step.get<int64_t>();
      if (i < 0 || static_cast<size_t>(i) >= j->size()) return nullptr;
      j = &(*j)[static_cast<size_t>(i)];
    } else {
      return nullptr;
    }
  }
  return j;
}

// -1, 0, 1, or 2 when the values cannot be ordered against each other.
int Order(const FilterValue& a, const FilterValue& b) {
  if (a.kind == FilterValue::kInt && b.kind == FilterValue::kInt) return (a.i > b.i) - (a.i < b.i);
  if (a.numeric() && b.numeric()) {
    double x = a.AsDouble(), y = b.AsDouble();
    return (x > y) - (x < y);
  }
  if (a.kind == FilterValue::kString && b.kind == FilterValue::kString) {
    int c = a.s.compare(b.s);
    return (c > 0) - (c < 0);
  }
  if (a.kind == FilterValue::kBool && b.kind == FilterValue::kBool)
    return (a.b > b.b) - (a.b < b.b);
  return 2;
}

bool CompareWith(const std::string& op, int order) {
  if (order == 2) return false;
  if (op == "==") return order == 0;
  if (op == "!=") return order != 0;
  if (op == "<") return order < 0;
  if (op == "<=") return order <= 0;
  if (op == ">") return order > 0;
  return order >= 0;
}

FilterValue Arithmetic(const std::string& op, const FilterValue& a, const FilterValue& b) {
  if (!a.numeric() || !b.numeric()) return {};
  if (op == "**") return FilterValue::Double(std::pow(a.AsDouble(), b.AsDouble()));
  if (a.kind == FilterValue::kInt && b.kind == FilterValue::kInt && op != "/") {
    if (op == "+")
      return FilterValue::Int(
          static_cast<int64_t>(static_cast<uint64_t>(a.i) + static_cast<uint64_t>(b.i)));
    if (op == "-")
      return FilterValue::Int(
          static_cast<int64_t>(static_cast<uint64_t>(a.i) - static_cast<uint64_t>(b.i)));
    if (op == "*")
      return FilterValue::Int(
          static_cast<int64_t>(static_cast<uint64_t>(a.i) * static_cast<uint64_t>(b.i)));
    if (b.i == 0 || (a.i == INT64_MIN && b.i == -1)) return {};  // % by zero: no value
    return FilterValue::Int(a.i % b.i);
  }
  double x = a.AsDouble(), y = b.AsDouble();
  if (op == "+") return FilterValue::Double(x + y);
  if (op == "-") return FilterValue::Double(x - y);
  if (op == "*") return FilterValue::Double(x * y);
  if (y == 0) return {};
  return FilterValue::Double(op == "/" ? x / y : std::fmod(x, y));
}

class Evaluator {
 public:
  Evaluator(int64_t id, const json& fields) : id_(id), fields_(fields) {}

  FilterValue Eval(const FilterNode& n) const {
    switch (n.kind) {
      case FilterNode::kLiteral:
        return n.literal;
      case FilterNode::kField:
        return FieldValue(n);
      case FilterNode::kNot:
        return FilterValue::Bool(!Truth(*n.children[0]));
      case FilterNode::kAnd:
        for (const auto& child : n.children) {
          if (!Truth(*child)) return FilterValue::Bool(false);
        }
        return FilterValue::Bool(true);
      case FilterNode::kOr:
        for (const auto& child : n.children) {
          if (Truth(*child)) return FilterValue::Bool(true);
        }
        return FilterValue::Bool(false);
      case FilterNode::kCompare:
        return FilterValue::Bool(
            CompareWith(n.op, Order(Eval(*n.children[0]), Eval(*n.children[1]))));
      case FilterNode::kArith:
        return Arithmetic(n.op, Eval(*n.children[0]), Eval(*n.children[1]));
      case FilterNode::kNegate: {
        FilterValue v = Eval(*n.children[0]);
        if (v.kind == FilterValue::kInt)
          return FilterValue::Int(static_cast<int64_t>(0 - static_cast<uint64_t>(v.i)));
        if (v.kind == FilterValue::kDouble) return FilterValue::Double(-v.d);
        return {};
      }
      case FilterNode::kIn:
        return In(n);
      case FilterNode::kLike: {
        FilterValue v = Eval(*n.children[0]);
        if (v.kind != FilterValue::kString) return FilterValue::Bool(false);
        return FilterValue::Bool(LikeMatch(v.s, n.pattern) != n.negated);
      }
      case FilterNode::kIsNull:
        return FilterValue::Bool((Eval(*n.children[0]).kind == FilterValue::kNull) != n.negated);
      case FilterNode::kContains:
        return Contains(n);
      case FilterNode::kLength: {
        FilterValue v = Eval(*n.children[0]);
        if (v.kind != FilterValue::kJson || !v.json->is_array()) return {};
        return FilterValue::Int(static_cast<int64_t>(v.json->size()));
      }
    }
    return {};
  }

  bool Truth(const FilterNode& n) const {
    FilterValue v = Eval(n);
    return v.kind == FilterValue::kBool && v.b;
  }

 private:
  FilterValue FieldValue(const FilterNode& n) const {
    if (n.is_primary_key) return FilterValue::Int(id_);
    auto it = fields_.find(n.field);
    if (it == fields_.end()) return {};
    const json* value = n.path.empty() ? &*it : Walk(&*it, n.path);
    return value == nullptr ? FilterValue() : FromJson(*value);
  }

  FilterValue In(const FilterNode& n) const {
    FilterValue v = Eval(*n.children[0]);
    if (v.kind == FilterValue::kNull) return FilterValue::Bool(false);
    bool found = false;
    for (const FilterValue& item : n.list) found = found || Order(v, item) == 0;
    return FilterValue::Bool(found != n.negated);
  }

  // Whether the array holds the value ("" op), all of the list ("all") or any of it.
  FilterValue Contains(const FilterNode& n) const {
    FilterValue v = Eval(*n.children[0]);
    if (v.kind != FilterValue::kJson || !v.json->is_array()) return FilterValue::Bool(false);
    auto held = [&](const FilterValue& wanted) {
      for (const json& element : *v.json) {
        if (Order(FromJson(element), wanted) == 0) return true;
      }
      return false;
    };
    if (n.op == "any") {
      for (const FilterValue& wanted : n.list) {
        if (held(wanted)) return FilterValue::Bool(true);
      }
      return FilterValue::Bool(false);
    }
    for (const FilterValue& wanted : n.list) {
      if (!held(wanted)) return FilterValue::Bool(false);
    }
    return FilterValue::Bool(true);
  }

  int64_t id_;
  const json& fields_;
};

}  // namespace

bool Filter::Matches(int64_t id, const nlohmann::json& fields) const {
  if (root_ == nullptr) return true;
  return Evaluator(id, fields).Truth(*root_);
}

namespace {

std::optional<json> LiteralJson(const FilterValue& v) {
  if (v.kind == FilterValue::kString) return json(v.s);
  if (v.kind == FilterValue::kInt) return json(v.i);
  return std::nullopt;  // doubles, booleans: no index holds them
}

bool IsPlainField(const FilterNode& n, const std::string& field) {
  return n.kind == FilterNode::kField && !n.is_primary_key && n.field == field && n.path.empty();
}

std::optional<std::vector<json>> ValuesOf(const FilterNode& n, const std::string& field) {
  if (n.kind == FilterNode::kCompare && n.op == "==" && n.children.size() == 2) {
    const FilterNode* a = n.children[0].get();
    const FilterNode* b = n.children[1].get();
    if (IsPlainField(*b, field)) std::swap(a, b);
    if (!IsPlainField(*a, field) || b->kind != FilterNode::kLiteral) return std::nullopt;
    auto value = LiteralJson(b->literal);
    if (!value) return std::nullopt;
    return std::vector<json>{*value};
  }
  if (n.kind == FilterNode::kIn && !n.negated && IsPlainField(*n.children[0], field)) {
    std::vector<json> values;
    for (const FilterValue& item : n.list) {
      auto value = LiteralJson(item);
      if (!value) return std::nullopt;
      values.push_back(std::move(*value));
    }
    return values;
  }
  if (n.kind == FilterNode::kAnd) {
    for (const auto& child : n.children) {
      if (auto values = ValuesOf(*child, field)) return values;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::vector<json>> Filter::RequiredValues(const std::string& field) const {
  if (root_ == nullptr) return std::nullopt;
  return ValuesOf(*root_, field);
}

bool LikeMatch(std::string_view text, std::string_view pattern) {
  // Iterative wildcard matching with backtracking to the last %.
  size_t t = 0, p = 0, star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '\\' && p + 1 < pattern.size() &&
        pattern[p + 1] == text[t]) {
      t++, p += 2;
    } else if (p < pattern.size() && pattern[p] == '%') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() &&
               (pattern[p] == '_' || (pattern[p] == text[t] && pattern[p] != '\\'))) {
      t++, p++;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '%') ++p;
  return p == pattern.size();
}

}  // namespace imgsearch::store
