// Status codes as Python exceptions: the classes live in imgsearch/_errors.py (one per
// StatusCode, all deriving from imgsearch.Error); a StatusError thrown anywhere in the
// binding becomes the class of its code, with the C++ message.
#include <array>

#include "convert.h"

namespace imgsearch::python {
namespace {

constexpr std::array<const char*, 9> kClassNames = {
    "Error",              // kOk: never raised
    "InvalidArgument",    // kInvalidArgument
    "NotFound",           // kNotFound
    "Corruption",         // kCorruption
    "Unsupported",        // kUnsupported
    "IOError",            // kIOError
    "ResourceExhausted",  // kResourceExhausted
    "Internal",           // kInternal
    "NoSpace",            // kNoSpace
};

// Owned references, kept for the life of the process (an exception may be raised while
// the interpreter shuts down).
std::array<PyObject*, kClassNames.size()> classes{};

}  // namespace

void RegisterErrors(nb::module_& m) {
  nb::module_ errors = nb::module_::import_("imgsearch._errors");
  for (size_t i = 0; i < kClassNames.size(); ++i) {
    nb::object cls = errors.attr(kClassNames[i]);
    classes[i] = cls.release().ptr();
  }
  m.attr("_errors") = errors;
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const StatusError& e) {
      size_t code = static_cast<size_t>(e.status().code());
      PyObject* cls = code < classes.size() ? classes[code] : classes[0];
      PyErr_SetString(cls, e.status().message().c_str());
    }
  });
}

}  // namespace imgsearch::python
