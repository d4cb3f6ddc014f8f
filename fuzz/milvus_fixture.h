// What the two fuzz targets of the Milvus dialect share (milvus_api: REST bodies;
// milvus_grpc: gRPC request messages): a database made once at start (collections
// "photos": FLAT L2 over 4 floats with scalar and JSON fields, and "bits": binary), one
// copy of it shared by inputs that only read, fresh copies for inputs that write, and
// the check that what was acknowledged survives a close and reopen.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "imgsearch/database.h"

namespace imgsearch::fuzz {

// The database inputs that only read share (opened once).
Database& SharedMilvusDatabase();

// Runs `calls` on a fresh copy of the database, closes it, opens it again and checks
// that the same collections with the same row counts are there.
void RunOnCopyAndReopen(const std::function<void(Database&)>& calls);

}  // namespace imgsearch::fuzz
