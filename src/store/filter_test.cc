#include "store/filter.h"

#include <gtest/gtest.h>

namespace imgsearch::store {
namespace {

using json = nlohmann::json;

CollectionSchema TestSchema() {
  CollectionSchema s;
  s.name = "photos";
  s.dimension = 4;
  s.scalar_fields = {{"width", DataType::kInt64},     {"score", DataType::kDouble},
                     {"path", DataType::kVarChar},    {"ok", DataType::kBool},
                     {"meta", DataType::kJson, true}, {"caption", DataType::kVarChar, true}};
  return s;
}

const json kRow = {
    {"width", 640},
    {"score", 0.75},
    {"path", "cats/tabby_01.jpg"},
    {"ok", true},
    {"meta", {{"camera", {{"iso", 400}, {"model", "X100"}}}, {"tags", {"cat", "indoor"}}}},
    {"caption", nullptr}};

bool Eval(const std::string& text, int64_t id = 7, const json& row = kRow) {
  auto filter = Filter::Parse(text, TestSchema());
  EXPECT_TRUE(filter.ok()) << text << ": " << filter.status().message();
  return filter.ok() && filter->Matches(id, row);
}

TEST(FilterTest, ComparisonsLogicAndArithmetic) {
  EXPECT_TRUE(Eval("width > 100"));
  EXPECT_FALSE(Eval("width > 640"));
  EXPECT_TRUE(Eval("width >= 640 and score < 1"));
  EXPECT_TRUE(Eval("width < 10 or ok == true"));
  EXPECT_TRUE(Eval("not (width < 10)"));
  EXPECT_TRUE(Eval("!(width < 10) && ok"));
  EXPECT_TRUE(Eval("width * 2 + 1 == 1281"));
  EXPECT_TRUE(Eval("width % 100 == 40"));
  EXPECT_TRUE(Eval("width / 3 > 213.3"));
  EXPECT_TRUE(Eval("2 ** 3 == 8"));
  EXPECT_TRUE(Eval("-width < 0"));
  EXPECT_TRUE(Eval("score == 0.75 and score != 1"));
  EXPECT_TRUE(Eval("100 < width < 1000"));
  EXPECT_FALSE(Eval("100 < width < 600"));
  EXPECT_TRUE(Eval("id == 7"));
  EXPECT_TRUE(Eval("id in [1, 7]", 7));
  EXPECT_FALSE(Eval("id in [1, 7]", 8));
  EXPECT_TRUE(Eval("id not in [1, 2]", 8));
  EXPECT_TRUE(Eval("width > 1e2"));
}

TEST(FilterTest, StringsLikeAndIn) {
  EXPECT_TRUE(Eval("path like \"cats/%\""));
  EXPECT_TRUE(Eval("path like '%.jpg'"));
  EXPECT_TRUE(Eval("path like \"%tabby%\""));
  EXPECT_TRUE(Eval("path like \"cats/tabby_0_.jpg\""));
  EXPECT_FALSE(Eval("path like \"dogs/%\""));
  EXPECT_TRUE(Eval("path not like \"dogs/%\""));
  EXPECT_TRUE(Eval("path in [\"a\", \"cats/tabby_01.jpg\"]"));
  EXPECT_TRUE(Eval("path > \"cats\""));
  EXPECT_TRUE(LikeMatch("100%", "100\\%"));
  EXPECT_FALSE(LikeMatch("100x", "100\\%"));
  EXPECT_TRUE(LikeMatch("", "%"));
  EXPECT_FALSE(LikeMatch("abc", "a_"));
}

TEST(FilterTest, JsonAccessAndNulls) {
  EXPECT_TRUE(Eval("meta[\"camera\"][\"iso\"] >= 400"));
  EXPECT_TRUE(Eval("meta[\"camera\"][\"model\"] == \"X100\""));
  EXPECT_TRUE(Eval("meta[\"tags\"][0] == \"cat\""));
  EXPECT_FALSE(Eval("meta[\"missing\"] == 1"));
  EXPECT_TRUE(Eval("meta[\"missing\"] is null"));
  EXPECT_TRUE(Eval("caption is null"));
  EXPECT_FALSE(Eval("caption is not null"));
  EXPECT_FALSE(Eval("caption == \"x\""));  // comparisons with null are false
  EXPECT_FALSE(Eval("caption in [\"x\"]"));
  EXPECT_FALSE(Eval("meta[\"camera\"][\"model\"] > 3"));  // JSON type mismatch: false
  EXPECT_TRUE(Eval(""));                                  // empty: everything
}

TEST(FilterTest, ArrayFieldsAndTheirFunctions) {
  CollectionSchema s = TestSchema();
  FieldSchema tags{"tags", DataType::kArray};
  tags.element_type = DataType::kVarChar;
  tags.max_capacity = 8;
  FieldSchema sizes{"sizes", DataType::kArray, true};
  sizes.max_capacity = 8;
  s.scalar_fields.push_back(tags);
  s.scalar_fields.push_back(sizes);
  json row = kRow;
  row["tags"] = {"cat", "indoor"};
  row["sizes"] = {3, 5, 8};
  auto eval = [&](const std::string& text) {
    auto filter = Filter::Parse(text, s);
    EXPECT_TRUE(filter.ok()) << text << ": " << filter.status().message();
    return filter.ok() && filter->Matches(1, row);
  };
  EXPECT_TRUE(eval("array_contains(tags, \"cat\")"));
  EXPECT_FALSE(eval("array_contains(tags, \"dog\")"));
  EXPECT_TRUE(eval("ARRAY_CONTAINS(sizes, 5)"));  // function names in either case
  EXPECT_TRUE(eval("array_contains_all(tags, [\"cat\", \"indoor\"])"));
  EXPECT_FALSE(eval("array_contains_all(tags, [\"cat\", \"dog\"])"));
  EXPECT_TRUE(eval("array_contains_any(tags, [\"dog\", \"indoor\"])"));
  EXPECT_FALSE(eval("array_contains_any(sizes, [1, 2])"));
  EXPECT_TRUE(eval("array_length(sizes) == 3 and array_length(tags) < 3"));
  EXPECT_TRUE(eval("sizes[0] == 3 and tags[1] == \"indoor\""));
  EXPECT_FALSE(eval("sizes[7] == 3"));  // past the end: no value
  EXPECT_TRUE(eval("not array_contains(tags, \"dog\") and width > 100"));
  // The JSON family reads arrays inside JSON fields (and dynamic keys).
  EXPECT_TRUE(eval("json_contains(meta[\"tags\"], \"cat\")"));
  EXPECT_TRUE(eval("json_contains_any(meta[\"tags\"], [\"x\", \"indoor\"])"));
  EXPECT_FALSE(eval("json_contains_all(meta[\"tags\"], [\"cat\", \"x\"])"));
  // Calls nested past the limit are refused, not a stack overflow.
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "a(";
  Result<Filter> refused = Filter::Parse(deep, s);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("nested more than"), std::string::npos);
  // A null array holds nothing.
  row["sizes"] = nullptr;
  EXPECT_FALSE(eval("array_contains(sizes, 3)"));
  EXPECT_FALSE(eval("array_length(sizes) == 0"));
  // Wrong arguments are refused with the reason.
  for (const char* bad :
       {"array_contains(width, 3)", "array_contains(tags, 3)",
        "array_contains_all(sizes, [1, \"a\"])", "array_size(tags) > 1", "array_contains(tags)",
        "tags[\"a\"] == 1", "json_contains(path, 1)", "tags == 3", "sizes + 1 > 0",
        "tags like \"a%\"", "array_contains(sizes, -width)"}) {
    EXPECT_FALSE(Filter::Parse(bad, s).ok()) << bad;
  }
}

TEST(FilterTest, ErrorsPointAtThePosition) {
  struct Case {
    const char* text;
    const char* expect;
  };
  for (const Case& c :
       {Case{"width > ", "position 8: the filter ends too early"},
        Case{"width = 3", "position 6: \"=\" is not an operator"},
        Case{"heigth > 3", "position 0: unknown field \"heigth\""},
        Case{"width > \"wide\"", "position 6: cannot compare a number with a string"},
        Case{"path like 3", "like needs a quoted pattern"},
        Case{"width like \"a%\"", "like needs a string"},
        Case{"(width > 3", "expected \")\" at the end"},
        Case{"width in [1, \"a\"]", "list item is a string"}, Case{"width", "must be a condition"},
        Case{"width > 3 and", "ends too early"}, Case{"vector > 1", "vector field"},
        Case{"path[\"x\"] == 1", "only JSON and Array fields"},
        Case{"width == null", "null can only be tested with \"is null\""},
        Case{"path + 1 > 2", "arithmetic needs numbers"},
        Case{"\"unterminated", "unterminated string"},
        Case{"width > 3 # comment", "unexpected character '#'"},
        Case{"width > 99999999999999999999", "malformed number"},
        Case{"path == \"x\xff\"", "position 8: string is not valid UTF-8"}}) {
    auto filter = Filter::Parse(c.text, TestSchema());
    ASSERT_FALSE(filter.ok()) << c.text;
    EXPECT_NE(filter.status().message().find(c.expect), std::string::npos)
        << c.text << " -> " << filter.status().message();
  }
}

// Outside input drives the parser: nesting is limited, so a deep filter is an error naming
// the limit rather than a stack overflow, while long flat chains still work.
TEST(FilterTest, DeepNestingIsRefusedAndLongChainsAreNot) {
  auto deep = [](int levels, const std::string& open, const std::string& close) {
    std::string text;
    for (int i = 0; i < levels; ++i) text += open;
    text += "width > 1";
    for (int i = 0; i < levels; ++i) text += close;
    return text;
  };
  for (const std::string& text :
       {deep(30000, "(", ")"), deep(30000, "not ", ""), deep(30000, "!(", ")"),
        std::string(30000, '-') + "width > 1", deep(300, "(width + ", ")")}) {
    auto filter = Filter::Parse(text, TestSchema());
    ASSERT_FALSE(filter.ok()) << text.substr(0, 40);
    EXPECT_NE(filter.status().message().find("nested more than 256 levels"), std::string::npos)
        << filter.status().message();
  }
  EXPECT_TRUE(Eval(deep(250, "(", ")")));
  EXPECT_FALSE(Eval(deep(251, "not ", "")));  // an odd number of nots
  // 300 terms of arithmetic nest one level per operator: refused above.
  std::string sum = "width";
  for (int i = 0; i < 300; ++i) sum += " + 1";
  EXPECT_FALSE(Filter::Parse(sum + " > 0", TestSchema()).ok());

  // A chain of 100,000 conditions is one level: accepted, and evaluated right.
  std::string all_true, one_true;
  for (int i = 0; i < 100000; ++i) {
    all_true += (i ? " and " : "") + std::string("width > ") + std::to_string(i % 600);
    one_true += (i ? " or " : "") + std::string("width == ") + std::to_string(i);
  }
  EXPECT_TRUE(Eval(all_true));
  EXPECT_FALSE(Eval(all_true + " and width < 0"));
  EXPECT_TRUE(Eval(one_true));
  EXPECT_FALSE(Eval(one_true, 7, {{"width", -1}}));
}

// Filter text never reaches SQL: quotes and SQL fragments are plain string values.
TEST(FilterTest, NamesOutsideTheSchemaAreDynamicKeysWhenThereIsADynamicField) {
  CollectionSchema schema = TestSchema();
  EXPECT_FALSE(Filter::Parse("color == \"red\"", schema).ok());  // no "$meta": unknown
  schema.scalar_fields.push_back({"$meta", DataType::kJson, true});
  ASSERT_TRUE(ValidateSchema(schema).ok());
  json row = kRow;
  row["$meta"] = {{"color", "red"}, {"size", 3}};
  for (const auto& [text, expected] : std::vector<std::pair<std::string, bool>>{
           {"color == \"red\"", true},
           {"size > 2 and width == 640", true},
           {"$meta[\"size\"] == 3", true},
           {"missing == 1", false},  // a key the row lacks matches nothing
           {"not (size > 5)", true}}) {
    auto filter = Filter::Parse(text, schema);
    ASSERT_TRUE(filter.ok()) << text << ": " << filter.status().message();
    EXPECT_EQ(filter->Matches(7, row), expected) << text;
  }
  // The same names through the simple path: explicit JSON access to "$meta".
  auto explicit_filter = Filter::Parse("$meta[\"color\"] == \"red\"", schema);
  ASSERT_TRUE(explicit_filter.ok());
  EXPECT_EQ(explicit_filter->Matches(7, row),
            Filter::Parse("color == \"red\"", schema)->Matches(7, row));
  // "$" names are for hidden fields only: still letters, digits and underscores after it.
  schema.scalar_fields.push_back({"$bad-name", DataType::kJson, true});
  EXPECT_FALSE(ValidateSchema(schema).ok());
}

TEST(FilterTest, InjectionIsJustAString) {
  json row = kRow;
  row["path"] = "x' OR '1'='1";
  EXPECT_TRUE(Eval("path == \"x' OR '1'='1\"", 1, row));
  EXPECT_FALSE(Eval("path == \"x\" or \"1\" == \"2\"", 1, row));
}

// Found by fuzz/filter_fuzzer: a string that is not UTF-8, compared with an indexed field,
// made the field lookup's JSON dump throw out of a query. Such a string cannot equal any
// stored value, so the parser refuses it; UTF-8 text is fine.
TEST(FilterTest, StringsMustBeUtf8) {
  EXPECT_FALSE(Filter::Parse("path == \"\xc3\"", TestSchema()).ok());
  EXPECT_FALSE(Filter::Parse("meta[\"\xed\xa0\x80\"] == 1", TestSchema()).ok());  // a surrogate
  json row = kRow;
  row["path"] = "caf\xc3\xa9";
  EXPECT_TRUE(Eval("path == \"caf\xc3\xa9\"", 1, row));
}

}  // namespace
}  // namespace imgsearch::store
