// libimgsearch.so is made of the layers' static libraries, linked in whole; a shared
// library needs one source of its own, and this is it.
#include "imgsearch/version.h"

namespace imgsearch {
extern const char* const kVersion;
const char* const kVersion = IMGSEARCH_VERSION;
}  // namespace imgsearch
