// BorrowedArray: an array an index reads in place from bytes someone else keeps alive (a
// mapped snapshot) until it first changes, when it becomes a copy of its own. Reads go
// through one cached pointer, so a borrowed array is as fast to search as an owned one.
#pragma once

#include <cstddef>
#include <vector>

namespace imgsearch::index {

template <typename T>
class BorrowedArray {
 public:
  BorrowedArray() = default;
  // Moves keep the elements where they are; a copy would leave data() on the original's.
  BorrowedArray(BorrowedArray&&) noexcept = default;
  BorrowedArray& operator=(BorrowedArray&&) noexcept = default;
  BorrowedArray(const BorrowedArray&) = delete;
  BorrowedArray& operator=(const BorrowedArray&) = delete;

  const T* data() const { return data_; }
  size_t size() const { return size_; }
  const T& operator[](size_t i) const { return data_[i]; }
  // Heap bytes of its own (borrowed bytes belong to the lender).
  size_t owned_bytes() const { return owned_.capacity() * sizeof(T); }

  // Reads `size` elements at `data` from now on; the caller keeps them alive.
  void Borrow(const T* data, size_t size) {
    owned_ = std::vector<T>();
    data_ = data;
    size_ = size;
  }
  // Takes `values` as its own.
  void Assign(std::vector<T> values) {
    owned_ = std::move(values);
    Sync();
  }

  // Writable elements: borrowed ones are copied first.
  T* mutable_data() {
    Own();
    return owned_.data();
  }
  void resize(size_t size, const T& value) {
    Own();
    owned_.resize(size, value);
    Sync();
  }
  void push_back(const T& value) {
    Own();
    owned_.push_back(value);
    Sync();
  }

 private:
  bool borrowed() const { return size_ > 0 && data_ != owned_.data(); }
  void Own() {
    if (borrowed()) owned_.assign(data_, data_ + size_);
    Sync();
  }
  void Sync() {
    data_ = owned_.data();
    size_ = owned_.size();
  }

  std::vector<T> owned_;
  const T* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace imgsearch::index
