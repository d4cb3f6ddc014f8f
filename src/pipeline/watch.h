// The watcher (imgsearch/watch.h) over any Env, so that tests can hand it an Env whose
// notifications they control.
#pragma once

#include <memory>

#include "base/env.h"
#include "imgsearch/watch.h"

namespace imgsearch::pipeline {

Result<std::unique_ptr<Watcher>> StartWatcher(Library& library, const WatchOptions& options,
                                              base::Env* env);

}  // namespace imgsearch::pipeline
