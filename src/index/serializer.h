// Writer and Reader: little-endian binary (de)serialisation for index payloads. The
// Reader checks every length against the bytes that remain, so a truncated or corrupted
// payload gives kCorruption, never an over-read or a huge allocation.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "imgsearch/status.h"

namespace imgsearch::index {

class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}
  void U64(uint64_t v) { Raw(&v, sizeof(v)); }
  void F32(float v) { Raw(&v, sizeof(v)); }
  void Bytes(const void* data, size_t size) { Raw(data, size); }
  template <typename T>
  void Array(const T* data, size_t count) {
    Raw(data, count * sizeof(T));
  }
  // Zero bytes up to the next multiple of `alignment` counted from `start` (the offset in
  // the output where these data began).
  void Align(size_t start, size_t alignment) {
    size_t over = (out_->size() - start) % alignment;
    if (over != 0) out_->append(alignment - over, '\0');
  }

 private:
  void Raw(const void* data, size_t size) { out_->append(static_cast<const char*>(data), size); }
  std::string* out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  Status U64(uint64_t* v) { return Raw(v, sizeof(*v)); }
  Status F32(float* v) { return Raw(v, sizeof(*v)); }
  Status Bytes(std::vector<uint8_t>* out, uint64_t size) { return Array(out, size); }
  // A view of the next `size` bytes, without copying; valid while the input is.
  Status View(uint64_t size, std::string_view* out) {
    if (size > in_.size() - pos_) return Truncated();
    *out = in_.substr(pos_, size);
    pos_ += size;
    return Status::Ok();
  }
  template <typename T>
  Status Array(std::vector<T>* out, uint64_t count) {
    if (count > (in_.size() - pos_) / sizeof(T)) return Truncated();
    out->resize(count);
    return Raw(out->data(), count * sizeof(T));
  }
  // Skips to the next multiple of `alignment` from the start (what Writer::Align wrote).
  Status Align(size_t alignment) {
    size_t over = pos_ % alignment;
    return over == 0 ? Status::Ok() : Skip(alignment - over);
  }
  Status Skip(size_t size) {
    if (size > in_.size() - pos_) return Truncated();
    pos_ += size;
    return Status::Ok();
  }
  Status ExpectEnd() const {
    return pos_ == in_.size() ? Status::Ok() : Status::Corruption("trailing bytes in index data");
  }
  size_t remaining() const { return in_.size() - pos_; }

 private:
  static Status Truncated() { return Status::Corruption("index data is truncated"); }
  Status Raw(void* out, size_t size) {
    if (size > in_.size() - pos_) return Truncated();
    if (size == 0) return Status::Ok();  // `out` may be an empty vector's null data()
    std::memcpy(out, in_.data() + pos_, size);
    pos_ += size;
    return Status::Ok();
  }
  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace imgsearch::index
