// MilvusDatabase: a Database kept in a Milvus 2.4/2.5 server (one Milvus database of it),
// over REST v2. Thread-safe. See doc/milvus-store.md.
//
// Each collection is a Milvus collection of the same name, created with the schema form
// (Int64 primary key, the vector field, the scalar fields) and its index, and loaded.
// Settings live in one more collection, "imgsearch_settings" (key, value), which also
// marks a Milvus database as holding an imgsearch store; it is not listed.
//
// Milvus has no transactions across collections and no counters. Transact runs its body
// with writes sent as they are made, in that order: when one fails, the earlier ones
// stay. TakeIds is Unsupported. Settings are read and written without a lock, so two
// processes changing one setting at once keep the later write.
#pragma once

#include <map>
#include <memory>
#include <mutex>

#include "imgsearch/database.h"
#include "remote/milvus_client.h"

namespace imgsearch::remote {

inline constexpr const char* kSettingsCollection = "imgsearch_settings";

// Opens the store at `location` (milvus://HOST:PORT); `transport` replaces HTTP (tests).
Result<std::unique_ptr<Database>> OpenMilvusDatabase(
    const std::string& location, const DatabaseOptions& options,
    std::unique_ptr<MilvusTransport> transport = nullptr,
    std::function<void(double)> sleep_for_testing = nullptr);

// The index a collection gets in Milvus: `wanted` as the pipeline asks, with the float
// index named in the options (its usual parameters) instead when one is named.
Result<IndexSpec> MilvusIndexFor(const CollectionSchema& schema, const IndexSpec& wanted,
                                 const MilvusOptions& options);

}  // namespace imgsearch::remote
