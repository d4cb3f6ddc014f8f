#include "convert.h"

#include <nanobind/stl/string.h>

#include <cmath>
#include <limits>

namespace imgsearch::python {

nlohmann::json ToJson(nb::handle value) {
  if (value.is_none()) return nullptr;
  if (nb::isinstance<nb::bool_>(value)) return nb::cast<bool>(value);
  if (nb::isinstance<nb::int_>(value)) {
    // Python ints are unbounded: past int64 they are refused rather than wrapped.
    try {
      return nb::cast<int64_t>(value);
    } catch (const nb::cast_error&) {
      Invalid("integer " + StrOf(value) + " does not fit 64 bits");
    }
  }
  if (nb::isinstance<nb::float_>(value)) return nb::cast<double>(value);
  if (nb::isinstance<nb::str>(value)) return nb::cast<std::string>(value);
  if (nb::isinstance<nb::dict>(value)) {
    nlohmann::json object = nlohmann::json::object();
    for (auto [key, item] : nb::borrow<nb::dict>(value)) {
      if (!nb::isinstance<nb::str>(key)) {
        Invalid("field names must be str, got " + StrOf(nb::handle(key).type().attr("__name__")));
      }
      object[nb::cast<std::string>(key)] = ToJson(item);
    }
    return object;
  }
  if (nb::isinstance<nb::list>(value) || nb::isinstance<nb::tuple>(value)) {
    nlohmann::json array = nlohmann::json::array();
    for (nb::handle item : value) array.push_back(ToJson(item));
    return array;
  }
  // numpy scalars and arrays: their Python equivalents.
  if (nb::hasattr(value, "tolist") && nb::hasattr(value, "dtype")) {
    return ToJson(value.attr("tolist")());
  }
  Invalid("cannot store a value of type " + StrOf(value.type().attr("__name__")) +
          " (fields hold None, bool, int, float, str, list and dict)");
}

nb::object FromJson(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::discarded:
      return nb::none();
    case nlohmann::json::value_t::boolean:
      return nb::bool_(value.get<bool>());
    case nlohmann::json::value_t::number_integer:
      return nb::int_(value.get<int64_t>());
    case nlohmann::json::value_t::number_unsigned:
      return nb::cast(value.get<uint64_t>());
    case nlohmann::json::value_t::number_float:
      return nb::float_(value.get<double>());
    case nlohmann::json::value_t::string:
      return nb::str(value.get_ref<const std::string&>().c_str(),
                     value.get_ref<const std::string&>().size());
    case nlohmann::json::value_t::array: {
      nb::list list;
      for (const auto& item : value) list.append(FromJson(item));
      return list;
    }
    case nlohmann::json::value_t::object: {
      nb::dict dict;
      for (const auto& [key, item] : value.items())
        dict[nb::str(key.c_str(), key.size())] = FromJson(item);
      return dict;
    }
    case nlohmann::json::value_t::binary:
      break;
  }
  return nb::none();
}

bool IsPathLike(nb::handle value) {
  return nb::isinstance<nb::str>(value) || nb::hasattr(value, "__fspath__");
}

std::string PathString(nb::handle value) {
  if (nb::isinstance<nb::str>(value)) return nb::cast<std::string>(value);
  if (nb::hasattr(value, "__fspath__")) {
    nb::object path = value.attr("__fspath__")();
    if (nb::isinstance<nb::str>(path)) return nb::cast<std::string>(path);
    if (nb::isinstance<nb::bytes>(path)) {
      nb::bytes b = nb::borrow<nb::bytes>(path);
      return std::string(b.c_str(), b.size());
    }
  }
  Invalid("expected a path (str or os.PathLike), got " + StrOf(value.type().attr("__name__")));
}

std::vector<std::string> PathList(nb::handle value, const char* what) {
  if (IsPathLike(value)) return {PathString(value)};
  if (nb::isinstance<nb::bytes>(value)) {
    Invalid(std::string(what) + ": expected paths (str or os.PathLike), got bytes");
  }
  std::vector<std::string> paths;
  try {
    for (nb::handle item : value) paths.push_back(PathString(item));
  } catch (const nb::python_error&) {
    Invalid(std::string(what) + ": expected a path or a sequence of paths, got " +
            StrOf(value.type().attr("__name__")));
  }
  return paths;
}

namespace {

std::string TypeName(nb::handle value) {
  return StrOf(value.type().attr("__name__"));
}

std::string DtypeText(nb::handle array) {
  if (nb::hasattr(array, "dtype")) return StrOf(array.attr("dtype"));
  return TypeName(array);
}

bool IsArray(nb::handle value) {
  return nb::hasattr(value, "__array_interface__") || nb::hasattr(value, "__dlpack__");
}

}  // namespace

std::vector<int64_t> IdList(nb::handle value, const char* what) {
  if (nb::isinstance<nb::bool_>(value))
    Invalid(std::string(what) + ": expected integer ids, got bool");
  if (nb::isinstance<nb::int_>(value)) return {nb::cast<int64_t>(value)};
  if (IsArray(value)) {
    nb::ndarray<nb::ro, nb::device::cpu> array;
    if (!nb::try_cast(value, array, false)) {
      Invalid(std::string(what) + ": an array numpy cannot hand over (" + TypeName(value) + ")");
    }
    if (array.ndim() != 1 && !(array.ndim() == 0)) {
      Invalid(std::string(what) + ": expected a 1-d array of ids, got " +
              std::to_string(array.ndim()) + " dimensions");
    }
    auto dt = array.dtype();
    bool is_signed = dt.code == uint8_t(nb::dlpack::dtype_code::Int);
    bool is_unsigned = dt.code == uint8_t(nb::dlpack::dtype_code::UInt);
    if (!is_signed && !is_unsigned) {
      Invalid(std::string(what) + ": expected an integer array (int64), got dtype " +
              DtypeText(value) + " (ids are not rounded)");
    }
    size_t n = array.ndim() == 0 ? 1 : array.shape(0);
    int64_t stride = array.ndim() == 0 ? 0 : array.stride(0);
    std::vector<int64_t> ids(n);
    const char* base = static_cast<const char*>(array.data());
    for (size_t i = 0; i < n; ++i) {
      const char* p = base + int64_t(i) * stride * int64_t(dt.bits / 8);
      if (is_signed) {
        switch (dt.bits) {
          case 8:
            ids[i] = *reinterpret_cast<const int8_t*>(p);
            break;
          case 16:
            ids[i] = *reinterpret_cast<const int16_t*>(p);
            break;
          case 32:
            ids[i] = *reinterpret_cast<const int32_t*>(p);
            break;
          default:
            ids[i] = *reinterpret_cast<const int64_t*>(p);
            break;
        }
      } else {
        uint64_t u = 0;
        switch (dt.bits) {
          case 8:
            u = *reinterpret_cast<const uint8_t*>(p);
            break;
          case 16:
            u = *reinterpret_cast<const uint16_t*>(p);
            break;
          case 32:
            u = *reinterpret_cast<const uint32_t*>(p);
            break;
          default:
            u = *reinterpret_cast<const uint64_t*>(p);
            break;
        }
        if (u > uint64_t(std::numeric_limits<int64_t>::max())) {
          Invalid(std::string(what) + ": id " + std::to_string(u) + " does not fit int64");
        }
        ids[i] = int64_t(u);
      }
    }
    return ids;
  }
  std::vector<int64_t> ids;
  try {
    for (nb::handle item : value) {
      if (nb::isinstance<nb::bool_>(item) || !nb::isinstance<nb::int_>(item)) {
        if (nb::hasattr(item, "dtype") && nb::hasattr(item, "item")) {  // numpy integer scalar
          nb::object py = item.attr("item")();
          if (nb::isinstance<nb::int_>(py) && !nb::isinstance<nb::bool_>(py)) {
            ids.push_back(nb::cast<int64_t>(py));
            continue;
          }
        }
        Invalid(std::string(what) + ": expected integer ids, got " + TypeName(item));
      }
      ids.push_back(nb::cast<int64_t>(item));
    }
  } catch (const nb::python_error&) {
    Invalid(std::string(what) + ": expected an int, a sequence of ints or an integer array, got " +
            TypeName(value));
  } catch (const nb::cast_error&) {
    Invalid(std::string(what) + ": an id does not fit int64");
  }
  return ids;
}

Matrix CheckedMatrix(nb::handle value, nb::dlpack::dtype dtype, const char* dtype_name,
                     size_t width, const char* what) {
  nb::object object = nb::borrow(value);
  if (!IsArray(value)) {
    if (!(nb::isinstance<nb::list>(value) || nb::isinstance<nb::tuple>(value))) {
      Invalid(std::string(what) + ": expected a numpy array of " + dtype_name + ", got " +
              TypeName(value));
    }
    // A list has no dtype to preserve: numpy converts it, refusing what does not fit.
    nb::object np = nb::module_::import_("numpy");
    try {
      object = np.attr("asarray")(value, nb::arg("dtype") = dtype_name);
    } catch (const nb::python_error& e) {
      Invalid(std::string(what) + ": " + e.what());
    }
  }
  nb::ndarray<nb::ro, nb::device::cpu> array;
  if (!nb::try_cast(object, array, false)) {
    Invalid(std::string(what) + ": an array numpy cannot hand over (" + TypeName(object) + ")");
  }
  if (array.dtype() != dtype) {
    Invalid(std::string(what) + ": expected dtype " + dtype_name + ", got " + DtypeText(object) +
            " (convert explicitly, e.g. .astype(numpy." + dtype_name +
            "), if that is what you mean)");
  }
  Matrix m;
  if (array.ndim() == 1) {
    m.rows = 1;
    m.cols = array.shape(0);
    if (m.cols > 1 && array.stride(0) != 1) {
      Invalid(std::string(what) + ": the array is not contiguous (use numpy.ascontiguousarray)");
    }
  } else if (array.ndim() == 2) {
    m.rows = array.shape(0);
    m.cols = array.shape(1);
    bool contiguous = (m.cols <= 1 || array.stride(1) == 1) &&
                      (m.rows <= 1 || array.stride(0) == int64_t(m.cols));
    if (!contiguous) {
      Invalid(std::string(what) + ": the array is not C-contiguous (use numpy.ascontiguousarray)");
    }
  } else {
    Invalid(std::string(what) + ": expected a 2-d array (n, " +
            (width > 0 ? std::to_string(width) : std::string("d")) + "), got " +
            std::to_string(array.ndim()) + " dimensions");
  }
  if (width > 0 && m.cols != width) {
    Invalid(std::string(what) + ": expected " + std::to_string(width) + " columns, got shape (" +
            std::to_string(m.rows) + ", " + std::to_string(m.cols) + ")");
  }
  m.data = array.data();
  m.owner = object;
  m.array = array;
  return m;
}

}  // namespace imgsearch::python
