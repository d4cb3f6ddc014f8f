// imgsearch._imgsearch: the extension behind the Python package imgsearch (python/).
// It binds the public API of include/imgsearch/ only.
#include <nanobind/nanobind.h>

#include "bindings.h"
#include "concurrency.h"
#include "convert.h"
#include "imgsearch/version.h"
#include "results.h"

namespace nb = nanobind;

NB_MODULE(_imgsearch, m) {
  m.doc() = "imgsearch's C++ library, bound with nanobind (use the package imgsearch).";
  m.attr("__version__") = IMGSEARCH_VERSION;
  imgsearch::python::RegisterErrors(m);
  imgsearch::python::BindDatabase(m);
  imgsearch::python::BindResults(m);
  imgsearch::python::BindLibrary(m);
  imgsearch::python::BindEmbed(m);
  m.def("_max_parallel_calls", &imgsearch::python::MaxParallelCalls, nb::arg("reset") = false,
        "For the tests: the most threads seen at once inside a search or embed with the GIL "
        "released (two or more shows that the GIL was released).");
}
