// Status and Result: how every fallible imgsearch call reports failure.
// Expected failures (bad input, missing files, unsupported options) are values, never
// exceptions. Both types are cheap to move and safe to use from any thread.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace imgsearch {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,    // the caller's input is malformed or out of range
  kNotFound,           // a named thing (file, model, tensor, collection) does not exist
  kCorruption,         // stored or supplied data fails a consistency check
  kUnsupported,        // well-formed input that imgsearch does not handle
  kIOError,            // the operating system refused a read or write
  kResourceExhausted,  // a size or pixel limit was exceeded
  kInternal,           // a bug or a failure inside a dependency
  kNoSpace,            // the disk (or the file system's quota) is full: free space, retry
};

class Status {
 public:
  Status() = default;  // OK

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) { return {StatusCode::kInvalidArgument, msg}; }
  static Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status Corruption(std::string msg) { return {StatusCode::kCorruption, std::move(msg)}; }
  static Status Unsupported(std::string msg) { return {StatusCode::kUnsupported, std::move(msg)}; }
  static Status IOError(std::string msg) { return {StatusCode::kIOError, std::move(msg)}; }
  static Status ResourceExhausted(std::string msg) {
    return {StatusCode::kResourceExhausted, std::move(msg)};
  }
  static Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }
  static Status NoSpace(std::string msg) { return {StatusCode::kNoSpace, std::move(msg)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "invalid argument: <message>", or "OK".
  std::string ToString() const;

  // Returns a copy whose message is "<context>: <message>"; OK stays OK.
  Status WithContext(const std::string& context) const;

 private:
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or the Status that explains why there is none.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    assert(!status_.ok() && "a Result built from a Status must carry an error");
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace imgsearch

// Returns early from the enclosing function when `expr` yields a non-OK Status.
#define IMGSEARCH_RETURN_IF_ERROR(expr)    \
  do {                                     \
    ::imgsearch::Status _status_ = (expr); \
    if (!_status_.ok()) return _status_;   \
  } while (0)

#define IMGSEARCH_CONCAT_INNER(a, b) a##b
#define IMGSEARCH_CONCAT(a, b) IMGSEARCH_CONCAT_INNER(a, b)

// Declares `lhs` from a Result-returning `expr`, or returns its Status on failure.
#define IMGSEARCH_ASSIGN_OR_RETURN(lhs, expr) \
  IMGSEARCH_ASSIGN_OR_RETURN_IMPL(IMGSEARCH_CONCAT(_result_, __LINE__), lhs, expr)
#define IMGSEARCH_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                    \
  if (!tmp.ok()) return tmp.status();                   \
  lhs = std::move(tmp).value()
