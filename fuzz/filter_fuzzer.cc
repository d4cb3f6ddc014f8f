// Filter expressions: Filter::Parse (lexer, parser, type checker) against a fixed schema
// with every scalar type (Int64, Double, VarChar, Bool, JSON, a nullable VarChar, an Array
// of VarChar with a default-free nullable field), then
// evaluation. Input: the filter text, then optionally a NUL byte and a JSON row that is
// evaluated besides a few fixed rows (when the store would accept it: ValidateRow).
// Checks, for a filter that parses:
// - "(F)", "not (F)" and "(F) and (F)" parse too (or fail only on the nesting limit) and
//   match the same rows as F, the opposite rows, and the same rows;
// - the indexed-field lookup (FieldLookup::Candidates, which lets an index stand in for a
//   scan) offers every row that the filter matches: a row it missed would be lost.
#include <string>
#include <vector>

#include "base/json.h"
#include "fuzz_check.h"
#include "store/field_lookup.h"
#include "store/filter.h"
#include "store/schema_json.h"

namespace {

using imgsearch::DataType;
using imgsearch::store::Filter;
using json = nlohmann::json;

const imgsearch::CollectionSchema& Schema() {
  static const imgsearch::CollectionSchema schema = [] {
    imgsearch::CollectionSchema s;
    s.name = "photos";
    s.dimension = 2;
    s.scalar_fields = {{"width", DataType::kInt64, false, 65535, /*indexed=*/true},
                       {"score", DataType::kDouble},
                       {"path", DataType::kVarChar, false, 65535, /*indexed=*/true},
                       {"ok", DataType::kBool},
                       {"meta", DataType::kJson, true},
                       {"caption", DataType::kVarChar, true},
                       {"tags", DataType::kArray, true, 16, false, DataType::kVarChar, 4}};
    return s;
  }();
  return schema;
}

std::vector<json> FixedRows() {
  return {
      {{"width", 640},
       {"score", 0.75},
       {"path", "cats/tabby_01.jpg"},
       {"ok", true},
       {"meta", {{"camera", {{"iso", 400}, {"model", "X100"}}}, {"tags", {"cat", "indoor"}}}},
       {"caption", nullptr},
       {"tags", {"cat", "indoor"}}},
      {{"width", -3},
       {"score", -1e300},
       {"path", "dogs/rex%_.png"},
       {"ok", false},
       {"meta", {1, 2.5, "x", nullptr, {{"k", true}}}},
       {"caption", "a \"quoted\" dog"},
       {"tags", json::array()}},
      {{"width", INT64_MAX},
       {"score", 0},
       {"path", ""},
       {"ok", true},
       {"meta", "plain"},
       {"caption", nullptr},
       {"tags", nullptr}},
      {{"width", INT64_MIN},
       {"score", 3},
       {"path", "3"},
       {"ok", false},
       {"meta", 3},
       {"caption", "3"},
       {"tags", {"3", "", "dog", "3"}}},
  };
}

// The fixed rows, and the input's row when the store would accept it, as the store holds
// them: after a round trip through their JSON text.
std::vector<json> Rows(std::string_view row_text) {
  std::vector<json> rows = FixedRows();
  auto parsed = imgsearch::base::ParseJson(row_text);
  if (!parsed.ok()) return rows;
  imgsearch::Row row;
  row.vector = {0.0f, 1.0f};
  row.fields = std::move(parsed).value();
  if (!imgsearch::store::ValidateRow(Schema(), 0, &row).ok()) return rows;
  rows.push_back(json::parse(row.fields.dump()));
  return rows;
}

std::vector<bool> MatchesOf(const Filter& filter, const std::vector<json>& rows) {
  std::vector<bool> matches;
  for (size_t i = 0; i < rows.size(); ++i) matches.push_back(filter.Matches(int64_t(i), rows[i]));
  return matches;
}

// The filter `text` built around F: it must parse unless F is at the nesting limit.
std::optional<std::vector<bool>> WrappedMatches(const std::string& text,
                                                const std::vector<json>& rows) {
  auto filter = Filter::Parse(text, Schema());
  if (!filter.ok()) {
    FUZZ_CHECK(filter.status().message().find("nested more than") != std::string::npos,
               "a filter that parses is refused inside parentheses");
    return std::nullopt;
  }
  return MatchesOf(*filter, rows);
}

void CheckWrapped(std::string_view text, const std::vector<json>& rows,
                  const std::vector<bool>& matches) {
  std::string f(text);
  if (auto same = WrappedMatches("(" + f + ")", rows))
    FUZZ_CHECK(*same == matches, "(F) matches other rows than F");
  if (auto negated = WrappedMatches("not (" + f + ")", rows)) {
    for (size_t i = 0; i < rows.size(); ++i)
      FUZZ_CHECK((*negated)[i] != matches[i], "not (F) agrees with F on a row");
  }
  if (auto both = WrappedMatches("(" + f + ") and (" + f + ")", rows))
    FUZZ_CHECK(*both == matches, "(F) and (F) matches other rows than F");
}

void CheckLookup(const Filter& filter, const std::vector<json>& rows,
                 const std::vector<bool>& matches) {
  imgsearch::store::FieldLookup lookup;
  lookup.Reset(Schema());
  for (size_t i = 0; i < rows.size(); ++i) lookup.Add(int64_t(i), rows[i]);
  auto candidates = lookup.Candidates(filter);
  if (!candidates) return;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (!matches[i]) continue;
    bool offered = std::binary_search(candidates->begin(), candidates->end(), int64_t(i));
    if (!offered) std::fprintf(stderr, "row missed by the lookup: %s\n", rows[i].dump().c_str());
    FUZZ_CHECK(offered, "the indexed-field lookup misses a matching row");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t nul = input.find('\0');
  std::string_view text = input.substr(0, nul);
  auto filter = Filter::Parse(text, Schema());
  if (!filter.ok()) return 0;
  std::vector<json> rows = Rows(nul == std::string_view::npos ? "" : input.substr(nul + 1));
  std::vector<bool> matches = MatchesOf(*filter, rows);
  if (!filter->empty()) CheckWrapped(text, rows, matches);
  CheckLookup(*filter, rows, matches);
  return 0;
}
