// The binding's parts, each defined in its own file and called from module.cc.
#pragma once

#include <nanobind/nanobind.h>

#include <memory>

#include "imgsearch/database.h"

namespace imgsearch::python {

namespace nb = nanobind;

void BindLibrary(nb::module_& m);
void BindDatabase(nb::module_& m);
void BindEmbed(nb::module_& m);

// imgsearch.Database over a database that `db` keeps alive (a Library's, or its own).
nb::object WrapDatabase(std::shared_ptr<Database> db);

// index's `progress`: None, a callable, or True / "tqdm" for a tqdm bar
// (imgsearch._helpers); CloseProgress closes such a bar.
nb::object MakeProgressCallback(nb::handle progress);
void CloseProgress(nb::handle callback);

}  // namespace imgsearch::python
