// Lexer and recursive-descent parser of filter expressions, with type checking.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

#include "base/json.h"
#include "store/filter.h"
#include "store/filter_value.h"

namespace imgsearch::store {
namespace {

struct Token {
  enum Kind { kEnd, kNumber, kString, kIdent, kOp };
  Kind kind = kEnd;
  std::string text;  // identifier (as written), operator, or decoded string
  FilterValue number;
  size_t position = 0;
};

// Thrown inside the parser only; Filter::Parse turns it into a Status.
struct ParseError {
  std::string message;
  size_t position;
};

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  std::vector<Token> Tokens() {
    std::vector<Token> tokens;
    for (;;) {
      while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
      if (pos_ >= text_.size()) break;
      tokens.push_back(Next());
    }
    Token end;
    end.position = text_.size();
    tokens.push_back(end);
    return tokens;
  }

 private:
  Token Next() {
    Token t;
    t.position = pos_;
    char c = text_[pos_];
    if (std::isdigit(static_cast<unsigned char>(c)) ||
        (c == '.' && pos_ + 1 < text_.size() &&
         std::isdigit(static_cast<unsigned char>(text_[pos_ + 1])))) {
      return Number(t);
    }
    if (c == '"' || c == '\'') return Quoted(t, c);
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == '$') {
      size_t start = pos_;
      while (pos_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[pos_])) ||
                                     text_[pos_] == '_' || text_[pos_] == '$')) {
        ++pos_;
      }
      t.kind = Token::kIdent;
      t.text = std::string(text_.substr(start, pos_ - start));
      return t;
    }
    for (const char* op : {"==", "!=", "<=", ">=", "&&", "||", "**", "<", ">", "(",
                           ")",  "[",  "]",  ",",  "+",  "-",  "*",  "/", "%", "!"}) {
      size_t n = std::strlen(op);
      if (text_.substr(pos_, n) == op) {
        pos_ += n;
        t.kind = Token::kOp;
        t.text = op;
        return t;
      }
    }
    if (c == '=') throw ParseError{"\"=\" is not an operator (use \"==\")", pos_};
    throw ParseError{std::string("unexpected character '") + c + "'", pos_};
  }

  Token Number(Token t) {
    size_t start = pos_;
    bool is_float = false;
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (std::isdigit(static_cast<unsigned char>(c))) {
        ++pos_;
      } else if (c == '.' || c == 'e' || c == 'E') {
        is_float = true;
        ++pos_;
        if ((c == 'e' || c == 'E') && pos_ < text_.size() &&
            (text_[pos_] == '+' || text_[pos_] == '-'))
          ++pos_;
      } else {
        break;
      }
    }
    std::string digits(text_.substr(start, pos_ - start));
    t.kind = Token::kNumber;
    errno = 0;
    char* end = nullptr;
    if (is_float) {
      t.number = FilterValue::Double(std::strtod(digits.c_str(), &end));
    } else {
      t.number = FilterValue::Int(std::strtoll(digits.c_str(), &end, 10));
    }
    if (end != digits.c_str() + digits.size() || errno == ERANGE) {
      throw ParseError{"malformed number \"" + digits + "\"", start};
    }
    return t;
  }

  Token Quoted(Token t, char quote) {
    ++pos_;
    std::string value;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) {
        char e = text_[++pos_];
        // Keep \% and \_ escaped: they matter to LIKE patterns.
        if (e == '%' || e == '_') value += '\\';
        value += e == 'n' ? '\n' : e == 't' ? '\t' : e;
      } else {
        value += text_[pos_];
      }
      ++pos_;
    }
    if (pos_ >= text_.size()) throw ParseError{"unterminated string", t.position};
    // Compared with and looked up as JSON strings, which are UTF-8.
    if (!base::IsValidUtf8(value)) throw ParseError{"string is not valid UTF-8", t.position};
    ++pos_;
    t.kind = Token::kString;
    t.text = std::move(value);
    return t;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

const char* TypeName(StaticType t) {
  switch (t) {
    case StaticType::kBool:
      return "a boolean";
    case StaticType::kNumber:
      return "a number";
    case StaticType::kString:
      return "a string";
    case StaticType::kAny:
      return "a JSON value";
    case StaticType::kNull:
      return "null";
  }
  return "?";
}

using NodePtr = std::unique_ptr<FilterNode>;

class Parser {
 public:
  Parser(std::vector<Token> tokens, const CollectionSchema& schema)
      : tokens_(std::move(tokens)), schema_(schema) {}

  NodePtr ParseAll() {
    NodePtr root = Or();
    if (Peek().kind != Token::kEnd) Fail("unexpected \"" + Peek().text + "\"");
    RequireBoolean(*root, "the filter");
    return root;
  }

 private:
  const Token& Peek() const { return tokens_[index_]; }
  Token Take() { return tokens_[index_ < tokens_.size() - 1 ? index_++ : index_]; }
  [[noreturn]] void Fail(const std::string& message) const {
    throw ParseError{message, Peek().position};
  }
  [[noreturn]] static void FailAt(const std::string& message, size_t position) {
    throw ParseError{message, position};
  }

  bool IsKeyword(const char* word) const {
    return Peek().kind == Token::kIdent && Lower(Peek().text) == word;
  }
  bool IsOp(const char* op) const { return Peek().kind == Token::kOp && Peek().text == op; }
  void Expect(const char* op) {
    if (!IsOp(op))
      Fail(std::string("expected \"") + op + "\"" +
           (Peek().kind == Token::kEnd ? " at the end" : ""));
    Take();
  }

  // Counts one level of the parser's own recursion (parentheses, not, unary minus) for as
  // long as it lives.
  class NestingGuard {
   public:
    NestingGuard(Parser* parser, size_t position) : parser_(parser) {
      if (++parser_->nesting_ > kMaxFilterNesting) TooDeep(position);
    }
    ~NestingGuard() { --parser_->nesting_; }
    NestingGuard(const NestingGuard&) = delete;
    NestingGuard& operator=(const NestingGuard&) = delete;

   private:
    Parser* parser_;
  };

  [[noreturn]] static void TooDeep(size_t position) {
    FailAt("the filter is nested more than " + std::to_string(kMaxFilterNesting) +
               " levels deep (parentheses, not, operators)",
           position);
  }

  // Makes `child` the last child of `parent`, keeping the tree within the depth limit.
  static void Adopt(FilterNode& parent, NodePtr child) {
    parent.depth = std::max(parent.depth, child->depth + 1);
    if (parent.depth > kMaxFilterNesting) TooDeep(child->position);
    parent.children.push_back(std::move(child));
  }

  static NodePtr Node(FilterNode::Kind kind, size_t position, StaticType type) {
    auto n = std::make_unique<FilterNode>();
    n->kind = kind;
    n->position = position;
    n->type = type;
    return n;
  }

  static void RequireBoolean(const FilterNode& n, const std::string& what) {
    if (n.type != StaticType::kBool && n.type != StaticType::kAny) {
      FailAt(what + " must be a condition, not " + TypeName(n.type), n.position);
    }
  }

  // "a and b and c" becomes one node with three children: chains do not deepen the tree.
  NodePtr Logical(FilterNode::Kind kind, NodePtr (Parser::*next)(), const char* word,
                  const char* symbol) {
    NodePtr first = (this->*next)();
    if (!IsKeyword(word) && !IsOp(symbol)) return first;
    NodePtr n = Node(kind, Peek().position, StaticType::kBool);
    RequireBoolean(*first, std::string("the left side of ") + word);
    Adopt(*n, std::move(first));
    while (IsKeyword(word) || IsOp(symbol)) {
      Take();
      NodePtr operand = (this->*next)();
      RequireBoolean(*operand, std::string("the right side of ") + word);
      Adopt(*n, std::move(operand));
    }
    return n;
  }
  NodePtr Or() { return Logical(FilterNode::kOr, &Parser::And, "or", "||"); }
  NodePtr And() { return Logical(FilterNode::kAnd, &Parser::Not, "and", "&&"); }

  NodePtr Not() {
    if (IsKeyword("not") || IsOp("!")) {
      size_t at = Take().position;
      NestingGuard guard(this, at);
      NodePtr operand = Not();
      RequireBoolean(*operand, "the operand of not");
      NodePtr n = Node(FilterNode::kNot, at, StaticType::kBool);
      Adopt(*n, std::move(operand));
      return n;
    }
    return Predicate();
  }

  static bool IsCompareOp(const Token& t) {
    return t.kind == Token::kOp && (t.text == "==" || t.text == "!=" || t.text == "<" ||
                                    t.text == "<=" || t.text == ">" || t.text == ">=");
  }

  NodePtr Predicate() {
    NodePtr left = Additive();
    if (IsCompareOp(Peek())) {
      Token op = Take();
      NodePtr right = Additive();
      NodePtr compare = Compare(op, std::move(left), right.get());
      Adopt(*compare, std::move(right));
      if (!IsCompareOp(Peek())) return compare;
      // A chained range, "10 < x < 20": (10 < x) and (x < 20).
      Token op2 = Take();
      NodePtr upper = Additive();
      const FilterNode* middle = compare->children[1].get();
      NodePtr middle_copy = Copy(*middle);
      NodePtr second = Compare(op2, std::move(middle_copy), upper.get());
      Adopt(*second, std::move(upper));
      NodePtr both = Node(FilterNode::kAnd, op.position, StaticType::kBool);
      Adopt(*both, std::move(compare));
      Adopt(*both, std::move(second));
      return both;
    }
    bool negated = false;
    if (IsKeyword("not")) {
      size_t save = index_;
      Take();
      if (!IsKeyword("in") && !IsKeyword("like")) {
        index_ = save;
        return left;
      }
      negated = true;
    }
    if (IsKeyword("in")) return In(std::move(left), negated);
    if (IsKeyword("like")) return Like(std::move(left), negated);
    if (IsKeyword("is")) return IsNull(std::move(left));
    return left;
  }

  static NodePtr Copy(const FilterNode& n) {
    auto c = std::make_unique<FilterNode>();
    c->kind = n.kind, c->op = n.op, c->negated = n.negated, c->literal = n.literal,
    c->field = n.field;
    c->path = n.path, c->is_primary_key = n.is_primary_key, c->list = n.list,
    c->pattern = n.pattern;
    c->type = n.type, c->position = n.position, c->depth = n.depth;
    for (const auto& child : n.children) c->children.push_back(Copy(*child));
    return c;
  }

  NodePtr Compare(const Token& op, NodePtr left, const FilterNode* right) {
    StaticType a = left->type, b = right->type;
    bool ok = a == StaticType::kAny || b == StaticType::kAny || a == b;
    if (a == StaticType::kBool && b == StaticType::kBool && op.text != "==" && op.text != "!=")
      ok = false;
    if (a == StaticType::kNull || b == StaticType::kNull) ok = false;
    if (!ok) {
      FailAt(std::string("cannot compare ") + TypeName(a) + " with " + TypeName(b) +
                 (a == StaticType::kNull || b == StaticType::kNull ? " (use \"is null\")" : ""),
             op.position);
    }
    NodePtr n = Node(FilterNode::kCompare, op.position, StaticType::kBool);
    n->op = op.text;
    Adopt(*n, std::move(left));
    return n;
  }

  NodePtr In(NodePtr left, bool negated) {
    size_t at = Take().position;
    NodePtr n = Node(FilterNode::kIn, at, StaticType::kBool);
    n->negated = negated;
    n->list = List(left->type);
    Adopt(*n, std::move(left));
    return n;
  }

  // "[literal, ...]", each literal of `type` unless that is kAny.
  std::vector<FilterValue> List(StaticType type) {
    std::vector<FilterValue> list;
    Expect("[");
    while (!IsOp("]")) {
      NodePtr item = Literal();
      if (item->kind != FilterNode::kLiteral) FailAt("list items must be literals", item->position);
      if (type != StaticType::kAny && item->type != type) {
        FailAt(std::string("list item is ") + TypeName(item->type) + " but the value is " +
                   TypeName(type),
               item->position);
      }
      list.push_back(item->literal);
      if (!IsOp(",")) break;
      Take();
    }
    Expect("]");
    return list;
  }

  // Milvus's functions over Array and JSON fields: array_contains(f, v),
  // array_contains_all(f, [..]), array_contains_any(f, [..]), array_length(f), and the
  // json_contains family (the same over a JSON field or a path into one).
  NodePtr Call() {
    Token name = Take();
    NestingGuard guard(this, name.position);  // f(f(f(... recurses through Additive
    std::string function = Lower(name.text);
    Expect("(");
    ++array_argument_;
    NodePtr argument = Additive();
    --array_argument_;
    const FieldSchema* field =
        argument->kind == FilterNode::kField ? schema_.FindScalar(argument->field) : nullptr;
    bool is_array = field != nullptr && field->type == DataType::kArray && argument->path.empty();
    bool is_json = argument->kind == FilterNode::kField && !argument->is_primary_key &&
                   (field == nullptr || field->type == DataType::kJson);
    bool array_function = function.rfind("array_", 0) == 0;
    if (array_function && !is_array && !is_json) {
      FailAt(name.text + " needs an Array field (or a JSON one)", argument->position);
    }
    if (!array_function && !is_json && !is_array) {
      FailAt(name.text + " needs a JSON field or a path into one", argument->position);
    }
    StaticType element = StaticType::kAny;
    if (is_array) {
      element = field->element_type == DataType::kBool      ? StaticType::kBool
                : field->element_type == DataType::kVarChar ? StaticType::kString
                                                            : StaticType::kNumber;
    }
    NodePtr n;
    if (function == "array_length") {
      n = Node(FilterNode::kLength, name.position, StaticType::kNumber);
    } else if (function == "array_contains" || function == "json_contains") {
      n = Node(FilterNode::kContains, name.position, StaticType::kBool);
      Expect(",");
      NodePtr value = Literal();
      if (element != StaticType::kAny && value->type != element) {
        FailAt(std::string("the value is ") + TypeName(value->type) + " but the elements are " +
                   TypeName(element),
               value->position);
      }
      if (value->kind != FilterNode::kLiteral)
        FailAt("the value must be a literal", value->position);
      n->list.push_back(value->literal);
    } else if (function == "array_contains_all" || function == "json_contains_all" ||
               function == "array_contains_any" || function == "json_contains_any") {
      n = Node(FilterNode::kContains, name.position, StaticType::kBool);
      n->op = function.substr(function.size() - 3);  // "all" or "any"
      Expect(",");
      n->list = List(element);
    } else {
      FailAt("unknown function \"" + name.text +
                 "\" (known: array_contains, array_contains_all, array_contains_any, "
                 "array_length, json_contains, json_contains_all, json_contains_any)",
             name.position);
    }
    Expect(")");
    Adopt(*n, std::move(argument));
    return n;
  }

  NodePtr Like(NodePtr left, bool negated) {
    size_t at = Take().position;
    if (left->type != StaticType::kString && left->type != StaticType::kAny) {
      FailAt(std::string("like needs a string, not ") + TypeName(left->type), at);
    }
    if (Peek().kind != Token::kString) Fail("like needs a quoted pattern");
    NodePtr n = Node(FilterNode::kLike, at, StaticType::kBool);
    n->negated = negated;
    n->pattern = Take().text;
    Adopt(*n, std::move(left));
    return n;
  }

  NodePtr IsNull(NodePtr left) {
    size_t at = Take().position;
    bool negated = false;
    if (IsKeyword("not")) {
      Take();
      negated = true;
    }
    if (!IsKeyword("null")) Fail("expected \"null\" after \"is\"");
    Take();
    if (left->kind != FilterNode::kField) FailAt("\"is null\" applies to fields", at);
    NodePtr n = Node(FilterNode::kIsNull, at, StaticType::kBool);
    n->negated = negated;
    Adopt(*n, std::move(left));
    return n;
  }

  NodePtr Arith(NodePtr (Parser::*next)(), std::initializer_list<const char*> ops) {
    NodePtr left = (this->*next)();
    for (;;) {
      const char* matched = nullptr;
      for (const char* op : ops) {
        if (IsOp(op)) matched = op;
      }
      if (matched == nullptr) return left;
      Token op = Take();
      NodePtr right = (this->*next)();
      for (const FilterNode* side : {left.get(), right.get()}) {
        if (side->type != StaticType::kNumber && side->type != StaticType::kAny) {
          FailAt(std::string("arithmetic needs numbers, not ") + TypeName(side->type),
                 side->position);
        }
      }
      NodePtr n = Node(FilterNode::kArith, op.position, StaticType::kNumber);
      n->op = op.text;
      Adopt(*n, std::move(left));
      Adopt(*n, std::move(right));
      left = std::move(n);
    }
  }
  NodePtr Additive() { return Arith(&Parser::Multiplicative, {"+", "-"}); }
  NodePtr Multiplicative() { return Arith(&Parser::Power, {"*", "/", "%"}); }
  NodePtr Power() { return Arith(&Parser::Unary, {"**"}); }

  NodePtr Unary() {
    if (IsOp("-")) {
      size_t at = Take().position;
      NestingGuard guard(this, at);
      NodePtr operand = Unary();
      if (operand->kind == FilterNode::kLiteral && operand->literal.numeric()) {  // fold "-5"
        if (operand->literal.kind == FilterValue::kInt) operand->literal.i = -operand->literal.i;
        operand->literal.d = -operand->literal.d;
        operand->position = at;
        return operand;
      }
      if (operand->type != StaticType::kNumber && operand->type != StaticType::kAny) {
        FailAt(std::string("cannot negate ") + TypeName(operand->type), at);
      }
      NodePtr n = Node(FilterNode::kNegate, at, StaticType::kNumber);
      Adopt(*n, std::move(operand));
      return n;
    }
    return Primary();
  }

  NodePtr Literal() {
    const Token& t = Peek();
    if (IsOp("-")) return Unary();
    if (t.kind == Token::kNumber) {
      NodePtr n = Node(FilterNode::kLiteral, t.position, StaticType::kNumber);
      n->literal = Take().number;
      return n;
    }
    if (t.kind == Token::kString) {
      NodePtr n = Node(FilterNode::kLiteral, t.position, StaticType::kString);
      n->literal = FilterValue::String(Take().text);
      return n;
    }
    if (IsKeyword("true") || IsKeyword("false")) {
      NodePtr n = Node(FilterNode::kLiteral, t.position, StaticType::kBool);
      n->literal = FilterValue::Bool(Lower(Take().text) == "true");
      return n;
    }
    if (IsKeyword("null")) Fail("null can only be tested with \"is null\"");
    Fail(t.kind == Token::kEnd ? "the filter ends too early"
                               : "expected a value, found \"" + t.text + "\"");
  }

  NodePtr Primary() {
    const Token& t = Peek();
    if (IsOp("(")) {
      NestingGuard guard(this, Take().position);
      NodePtr inner = Or();
      Expect(")");
      return inner;
    }
    if (IsOp("[")) Fail("a list may only follow \"in\" or be a function's argument");
    if (t.kind == Token::kIdent && !IsKeyword("true") && !IsKeyword("false") &&
        !IsKeyword("null")) {
      const Token& next = tokens_[std::min(index_ + 1, tokens_.size() - 1)];
      if (next.kind == Token::kOp && next.text == "(") return Call();
      return Field();
    }
    return Literal();
  }

  NodePtr Field() {
    Token name = Take();
    for (const char* word : {"and", "or", "not", "in", "like", "is"}) {
      if (Lower(name.text) == word)
        FailAt("expected a field or value, found \"" + name.text + "\"", name.position);
    }
    NodePtr n = Node(FilterNode::kField, name.position, StaticType::kAny);
    n->field = name.text;
    if (name.text == schema_.primary_field) {
      n->is_primary_key = true;
      n->type = StaticType::kNumber;
    } else if (name.text == schema_.vector_field) {
      FailAt("the vector field \"" + name.text + "\" cannot be used in a filter", name.position);
    } else if (const FieldSchema* f = schema_.FindScalar(name.text)) {
      n->type = f->type == DataType::kBool      ? StaticType::kBool
                : f->type == DataType::kVarChar ? StaticType::kString
                : f->type == DataType::kJson    ? StaticType::kAny
                                                : StaticType::kNumber;
    } else if (schema_.DynamicField() != nullptr) {
      // A name outside the schema is a key of the dynamic field, as in Milvus.
      n->field = CollectionSchema::kDynamicFieldName;
      n->path.emplace_back(name.text);
    } else {
      std::string known = schema_.primary_field;
      for (const auto& f : schema_.scalar_fields) known += ", " + f.name;
      FailAt("unknown field \"" + name.text + "\" (fields: " + known + ")", name.position);
    }
    while (IsOp("[")) {
      size_t at = Take().position;
      const FieldSchema* f = schema_.FindScalar(n->field);
      if (f != nullptr && f->type == DataType::kArray && n->path.empty()) {
        if (Peek().kind != Token::kNumber || Peek().number.kind != FilterValue::kInt)
          Fail("an Array is indexed with an integer");
        n->path.emplace_back(Take().number.i);
        n->type = f->element_type == DataType::kBool      ? StaticType::kBool
                  : f->element_type == DataType::kVarChar ? StaticType::kString
                                                          : StaticType::kNumber;
        Expect("]");
        continue;
      }
      if (f == nullptr || f->type != DataType::kJson)
        FailAt("only JSON and Array fields can be indexed with [...]", at);
      if (Peek().kind == Token::kString) {
        n->path.emplace_back(Take().text);
      } else if (Peek().kind == Token::kNumber && Peek().number.kind == FilterValue::kInt) {
        n->path.emplace_back(Take().number.i);
      } else {
        Fail("expected a quoted key or an integer index");
      }
      Expect("]");
    }
    const FieldSchema* array = schema_.FindScalar(n->field);
    if (array != nullptr && array->type == DataType::kArray && n->path.empty() &&
        array_argument_ == 0) {
      FailAt("the Array field \"" + n->field +
                 "\" is read with array_contains(...), array_length(...) or [i]",
             name.position);
    }
    return n;
  }

  std::vector<Token> tokens_;
  size_t index_ = 0;
  int nesting_ = 0;
  int array_argument_ = 0;  // > 0 while a function's field argument is read
  const CollectionSchema& schema_;
};

}  // namespace

std::string QuoteFilterLiteral(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      if (c == '\\' || c == '"') out += '\\';
      out += c;
    }
  }
  return out + "\"";
}

Result<Filter> Filter::Parse(std::string_view text, const CollectionSchema& schema) {
  Filter filter;
  filter.primary_field_ = schema.primary_field;
  bool blank = text.find_first_not_of(" \t\r\n") == std::string_view::npos;
  if (blank) return filter;
  try {
    Parser parser(Lexer(text).Tokens(), schema);
    filter.root_ = parser.ParseAll();
    return filter;
  } catch (const ParseError& e) {
    std::string near(text.substr(e.position, 20));
    return Status::InvalidArgument("invalid filter at position " + std::to_string(e.position) +
                                   ": " + e.message +
                                   (near.empty() ? "" : " (near \"" + near + "\")"));
  }
}

}  // namespace imgsearch::store
