// The store's gRPC transport to Milvus: the REST v2 routes the Milvus store calls
// (collections/*, indexes/*, entities/*), each carried out with MilvusService's RPCs of
// Milvus 2.3 and later, and answered in REST v2's envelope, so that everything above it
// (batching, retries, repair) is the same for both protocols. Rows and vectors go into
// the messages' columns (FieldData) and placeholder bytes, never JSON text.
//
// gRPC failures become the HTTP-like statuses MilvusClient judges: UNAVAILABLE and
// RESOURCE_EXHAUSTED 503 (tried again), DEADLINE_EXCEEDED 408, UNAUTHENTICATED 401,
// PERMISSION_DENIED 403, anything else 500. Thread-safe: one channel, shared.
#pragma once

#include <memory>

#include "remote/milvus_client.h"

namespace imgsearch::remote {

std::unique_ptr<MilvusTransport> GrpcTransport(const MilvusEndpoint& endpoint,
                                               double timeout_seconds);

}  // namespace imgsearch::remote
