// Handing freed heap memory back to the system.
#pragma once

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace imgsearch::base {

// glibc keeps what a thread freed in that thread's arena; after a burst of large
// allocations (a big request, an index drain) this returns it, so that RSS follows what
// is really in use.
inline void ReleaseFreedMemory() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

}  // namespace imgsearch::base
