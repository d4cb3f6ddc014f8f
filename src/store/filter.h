// Filter: a Milvus boolean expression, parsed into a tree, type-checked against the
// collection schema, and evaluated against rows with the values bound, never pasted into
// SQL. Errors name the position in the text.
//
//   width > 100 and path like "cats/%"      id in [1, 2, 3]       not (score <= 0.5)
//   meta["camera"]["iso"] >= 400            caption is not null   10 < width * 2 < 800
//
// Comparisons with a null or missing value are false. Thread-safe once built.
//
// Outside input drives the parser's recursion, so nesting (parentheses, not, unary minus)
// and the depth of the tree are limited to kMaxFilterNesting levels: a deeper filter is
// an InvalidArgument error naming the limit, never a stack overflow.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "imgsearch/schema.h"
#include "imgsearch/status.h"

namespace imgsearch::store {

struct FilterNode;

inline constexpr int kMaxFilterNesting = 256;

class Filter {
 public:
  Filter() = default;  // matches every row

  static Result<Filter> Parse(std::string_view text, const CollectionSchema& schema);

  bool empty() const { return root_ == nullptr; }
  bool Matches(int64_t id, const nlohmann::json& fields) const;
  // When every matching row has `field` equal to one of a few literal values (the whole
  // filter is "field == v" or "field in [...]", or an "and" with such a part), those
  // values (strings or integers); otherwise nothing. Lets an index stand in for a scan.
  std::optional<std::vector<nlohmann::json>> RequiredValues(const std::string& field) const;

 private:
  std::shared_ptr<const FilterNode> root_;
  std::string primary_field_;
};

// True when `text` matches a LIKE pattern: % any run of characters, _ one character,
// a backslash escapes the next character.
bool LikeMatch(std::string_view text, std::string_view pattern);

// `text` as a string literal of the filter language: in double quotes, with \\, \",
// \n and \t escaped (the only escapes it knows; every other character stands as it is).
std::string QuoteFilterLiteral(std::string_view text);

}  // namespace imgsearch::store
