#include "server/milvus_json_vectors.h"

#include <charconv>
#include <cmath>
#include <limits>

namespace imgsearch::server {

namespace {

// A cursor over the body; every method returns false (and the caller gives up) on
// anything it does not expect.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  size_t pos() const { return pos_; }
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }

  void SkipSpace() {
    while (!AtEnd() && (Peek() == ' ' || Peek() == '\t' || Peek() == '\n' || Peek() == '\r'))
      ++pos_;
  }
  bool Take(char c) {
    SkipSpace();
    if (Peek() != c) return false;
    ++pos_;
    return true;
  }

  // A string without escapes (a key); its text.
  bool PlainString(std::string_view* out) {
    if (!Take('"')) return false;
    size_t start = pos_;
    while (!AtEnd() && Peek() != '"') {
      if (Peek() == '\\') return false;
      ++pos_;
    }
    if (AtEnd()) return false;
    *out = text_.substr(start, pos_ - start);
    ++pos_;
    return true;
  }

  // Any value, skipped: strings (with escapes), arrays and objects by their brackets,
  // literals and numbers up to what ends them.
  bool SkipValue() {
    SkipSpace();
    size_t start = pos_;
    int depth = 0;
    while (!AtEnd()) {
      char c = Peek();
      if (c == '"') {
        if (!SkipString()) return false;
        if (depth == 0) return true;
        continue;
      }
      if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (depth == 0) return pos_ > start;  // the end of a literal
        if (--depth == 0) {
          ++pos_;
          return true;
        }
      } else if (depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
        return pos_ > start;
      }
      ++pos_;
    }
    return false;
  }

  // A JSON number (RFC 8259's grammar) as a float; `fraction` set when it has a fraction
  // or an exponent.
  bool Number(float* out, bool* fraction) {
    SkipSpace();
    size_t start = pos_;
    auto digits = [&] {
      size_t from = pos_;
      while (!AtEnd() && Peek() >= '0' && Peek() <= '9') ++pos_;
      return pos_ > from;
    };
    if (Peek() == '-') ++pos_;
    if (Peek() == '0') {
      ++pos_;
    } else if (!digits()) {
      return false;
    }
    *fraction = false;
    if (Peek() == '.') {
      ++pos_;
      if (!digits()) return false;
      *fraction = true;
    }
    if (Peek() == 'e' || Peek() == 'E') {
      ++pos_;
      if (Peek() == '+' || Peek() == '-') ++pos_;
      if (!digits()) return false;
      *fraction = true;
    }
    double value = 0;
    auto [end, error] = std::from_chars(text_.data() + start, text_.data() + pos_, value);
    if (error != std::errc() || end != text_.data() + pos_) return false;
    // nlohmann reads a double and narrows it: out of float range it would be infinite.
    if (!(std::fabs(value) <= double(std::numeric_limits<float>::max()))) return false;
    *out = float(value);
    return true;
  }

 private:
  bool SkipString() {
    ++pos_;  // the opening quote
    while (!AtEnd() && Peek() != '"') pos_ += Peek() == '\\' ? 2 : 1;
    if (AtEnd()) return false;
    ++pos_;
    return true;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

// [[number, ...], ...] into `out`.
bool ReadVectors(Scanner& scan, QueryVectors* out) {
  if (!scan.Take('[')) return false;
  do {
    if (!scan.Take('[')) return false;
    std::vector<float> vector;
    bool any_fraction = false;
    do {
      float value = 0;
      bool fraction = false;
      if (!scan.Number(&value, &fraction)) return false;
      vector.push_back(value);
      any_fraction = any_fraction || fraction;
    } while (scan.Take(','));
    if (!scan.Take(']') || !any_fraction) return false;
    out->values.emplace_back(reinterpret_cast<const char*>(vector.data()),
                             vector.size() * sizeof(float));
  } while (scan.Take(','));
  return scan.Take(']');
}

}  // namespace

std::optional<SplitSearchBody> SplitQueryVectors(std::string_view body) {
  Scanner scan(body);
  if (!scan.Take('{')) return std::nullopt;
  std::optional<SplitSearchBody> out;
  size_t start = 0, end = 0;
  if (scan.Take('}')) return std::nullopt;
  do {
    std::string_view key;
    if (!scan.PlainString(&key) || !scan.Take(':')) return std::nullopt;
    if (key == "data") {
      if (out) return std::nullopt;  // twice: the parser's rule for that is left to it
      out.emplace();
      out->vectors.from_json = true;
      scan.SkipSpace();
      start = scan.pos();
      if (!ReadVectors(scan, &out->vectors)) return std::nullopt;
      end = scan.pos();
    } else if (!scan.SkipValue()) {
      return std::nullopt;
    }
  } while (scan.Take(','));
  if (!out || !scan.Take('}')) return std::nullopt;
  out->rest.reserve(body.size() - (end - start) + 4);
  out->rest.append(body.substr(0, start)).append("null").append(body.substr(end));
  return out;
}

}  // namespace imgsearch::server
