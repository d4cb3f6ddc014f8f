// Opening a Library through a chosen Env: what Library::Open does with Env::Default(),
// for tests that make the disk fail (store/testing/fault_env.h).
#pragma once

#include <memory>
#include <string>

#include "base/env.h"
#include "imgsearch/library.h"

namespace imgsearch::pipeline {

// As Library::Open, with the library's own files (its database, index snapshots and
// uploads) read and written through `env`, which must outlive the library.
Result<std::unique_ptr<Library>> OpenLibrary(const std::string& location,
                                             const LibraryOptions& options, base::Env* env);

}  // namespace imgsearch::pipeline
