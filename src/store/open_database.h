// Opening a Database through a chosen Env: what Database::Open does with Env::Default(),
// for tests that substitute an Env which fails on purpose (store/testing/fault_env.h)
// and for layers above the store that carry their own Env.
#pragma once

#include <memory>
#include <string>

#include "base/env.h"
#include "imgsearch/database.h"

namespace imgsearch::store {

// As Database::Open, with every file operation (and SQLite's I/O, when the Env names a
// VFS) going through `env`, which must outlive the database.
Result<std::unique_ptr<Database>> OpenDatabase(const std::string& dir,
                                               const DatabaseOptions& options, base::Env* env);

}  // namespace imgsearch::store
