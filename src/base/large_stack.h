// RunOnLargeStack: runs a function on a new thread with a stack of a given size and waits
// for it. For third-party code whose stack use grows with outside input and cannot be
// bounded from here (see model/onnx_session.cc for the case that needs it).
#pragma once

#include <cstddef>
#include <functional>

#include "imgsearch/status.h"

namespace imgsearch::base {

// Runs `work` to completion on a thread with a `stack_bytes` stack. Fails (without running
// it) only when no such thread can be created. Pages of the stack that `work` never
// touches cost address space, not memory.
Status RunOnLargeStack(size_t stack_bytes, const std::function<void()>& work);

// The length of this process's command line as the kernel reports it
// (/proc/self/cmdline), or 0 where that cannot be read.
size_t CommandLineBytes();

}  // namespace imgsearch::base
