// Handing freed heap memory back to the system.
#pragma once

#include <cstdlib>

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

// For a long-running server: at most `arenas` malloc arenas (glibc allows 8 per core).
// Each arena keeps the pages that live blocks pin among the freed ones, so the rows a
// large write leaves in memory pin pages of its freed request buffers once per arena
// that served writes: after loading 50,000 512-d rows over gRPC, serve's RSS was 281 MB
// with the default and 224 MB with 2 arenas. A MALLOC_ARENA_MAX the user set wins.
inline void LimitMallocArenas(int arenas) {
#ifdef __GLIBC__
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, arenas);
#else
  (void)arenas;
#endif
}

}  // namespace imgsearch::base
