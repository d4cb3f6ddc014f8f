// Conversions between Python objects and the public API's types, shared by the binding's
// files: JSON values, Status -> exception, paths, numpy arrays checked without copies.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "imgsearch/status.h"

namespace imgsearch::python {

namespace nb = nanobind;

// A failed Status on its way to Python: translated into the imgsearch.Error subclass of
// its code (errors.cc), with the C++ message.
class StatusError : public std::exception {
 public:
  explicit StatusError(Status status) : status_(std::move(status)) {}
  const char* what() const noexcept override { return status_.message().c_str(); }
  const Status& status() const { return status_; }

 private:
  Status status_;
};

// Registers the translator and looks up the exception classes of imgsearch._errors.
void RegisterErrors(nb::module_& m);

inline void Check(const Status& status) {
  if (!status.ok()) throw StatusError(status);
}
template <typename T>
T Take(Result<T>&& result) {
  if (!result.ok()) throw StatusError(result.status());
  return std::move(result).value();
}
// InvalidArgument for input the binding refuses before calling C++.
[[noreturn]] inline void Invalid(const std::string& message) {
  throw StatusError(Status::InvalidArgument(message));
}

// str(value), as Python's str() gives it.
inline std::string StrOf(nb::handle value) {
  nb::object text = nb::steal(PyObject_Str(value.ptr()));
  if (!text.is_valid()) throw nb::python_error();
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(text.ptr(), &size);
  if (!data) throw nb::python_error();
  return std::string(data, size_t(size));
}

// JSON <-> Python: dict, list, tuple, str, int, float, bool, None, and numpy scalars and
// arrays (as their .tolist()).
nlohmann::json ToJson(nb::handle value);
nb::object FromJson(const nlohmann::json& value);

// A str or os.PathLike (anything os.fspath takes) as a path string.
std::string PathString(nb::handle value);
bool IsPathLike(nb::handle value);
// One path or a sequence of them.
std::vector<std::string> PathList(nb::handle value, const char* what);

// Integer ids: an int, a sequence of ints, or a 1-d numpy array of an integer dtype
// (values must fit int64). Floats are refused rather than truncated.
std::vector<int64_t> IdList(nb::handle value, const char* what);

// A 2-d C-contiguous numpy array (a 1-d one is one row) of exactly `dtype`, checked
// without conversion; a list of lists is converted with numpy.asarray(dtype=...).
// `width` (when > 0) is the number of columns it must have.
struct Matrix {
  nb::object owner;  // keeps the array alive
  nb::ndarray<nb::ro, nb::device::cpu> array;
  const void* data = nullptr;
  size_t rows = 0;
  size_t cols = 0;
};
Matrix CheckedMatrix(nb::handle value, nb::dlpack::dtype dtype, const char* dtype_name,
                     size_t width, const char* what);

// Numpy arrays that own their C++ buffer.
template <typename T>
nb::ndarray<nb::numpy, T> NumpyArray(std::vector<T> values, std::vector<size_t> shape) {
  auto* owned = new std::vector<T>(std::move(values));
  owned->reserve(1);  // a valid pointer even for an empty array
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
  return nb::ndarray<nb::numpy, T>(owned->data(), shape.size(), shape.data(), owner);
}

}  // namespace imgsearch::python
