// OpenStore (imgsearch/database.h): a folder or a Milvus server, by the location's form.
#include "imgsearch/database.h"
#include "remote/milvus_database.h"

namespace imgsearch {

bool IsMilvusLocation(const std::string& location) {
  return location.rfind("milvus://", 0) == 0 || location.rfind("milvus+", 0) == 0;
}

Result<std::unique_ptr<Database>> OpenStore(const std::string& location,
                                            const DatabaseOptions& options) {
  if (IsMilvusLocation(location)) return remote::OpenMilvusDatabase(location, options);
  return Database::Open(location, options);
}

}  // namespace imgsearch
