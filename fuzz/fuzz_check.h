// What the fuzz targets share: FUZZ_CHECK, which stops the run on a broken invariant so
// that libFuzzer keeps the input as a crash, and a scratch folder per process.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

// Not assert(): it must hold in every build, and it says which invariant broke.
#define FUZZ_CHECK(condition, what)                                                        \
  do {                                                                                     \
    if (!(condition)) {                                                                    \
      std::fprintf(stderr, "%s:%d: invariant broken: %s (%s)\n", __FILE__, __LINE__, what, \
                   #condition);                                                            \
      __builtin_trap();                                                                    \
    }                                                                                      \
  } while (0)

namespace imgsearch::fuzz {

// A new empty folder under $TMPDIR (or /tmp), removed when the process exits. The
// targets that need files (a database, a MANIFEST) make one at start-up.
std::string ScratchDir(const char* what);

}  // namespace imgsearch::fuzz
