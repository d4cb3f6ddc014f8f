// The answers of a Library as Python objects: index reports, search results (numpy
// arrays, to_pandas), evaluation, tuning and duplicate reports (results.cc).
#pragma once

#include <nanobind/nanobind.h>

#include <string>
#include <vector>

#include "imgsearch/library.h"

namespace imgsearch::python {

namespace nb = nanobind;

// A search's answer, with the query it answered (for compare_html).
struct PySearchResults {
  SearchResults results;
  ImageQuery query;
  std::string label;
};

struct PyFused {
  std::vector<FusedHit> hits;
  std::string method;
};

// repr() of a Python object, as a C++ string.
std::string Repr(nb::handle h);

void BindResults(nb::module_& m);

}  // namespace imgsearch::python
