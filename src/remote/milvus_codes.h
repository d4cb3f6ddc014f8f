// Milvus's error numbers (merr) and the failure that carries one, shared by the Milvus
// dialect that imgsearch serves (src/server) and the Milvus protocol code that both it
// and the Milvus store client use (src/remote): one list of codes for both directions.
#pragma once

#include <string>

namespace imgsearch {

enum MilvusCode : int {
  kMilvusOk = 0,
  kMilvusServiceUnimplemented = 10,
  kMilvusCollectionNotFound = 100,
  kMilvusCollectionNotLoaded = 101,
  kMilvusPartitionNotFound = 200,
  kMilvusPartitionNotLoaded = 201,
  kMilvusIndexNotFound = 700,
  kMilvusDatabaseNotFound = 800,
  kMilvusParameterInvalid = 1100,
  kMilvusNeedAuthenticate = 1800,
  kMilvusIncorrectParameterFormat = 1801,
  kMilvusMissingRequiredParameters = 1802,
  kMilvusInvalidInsertData = 1804,
  kMilvusCheckPrimaryKey = 1806,
  kMilvusAliasNotFound = 1600,
  kMilvusAliasCollectionNameConflict = 1601,
  kMilvusAliasAlreadyExists = 1602,
  kMilvusTimeout = 10001,  // with HTTP 408, as Milvus's time-out middleware answers
  kMilvusUnexpected = 65535,
};

// A request Milvus's way of thinking refuses: thrown by the dialect's handlers and by the
// protocol conversions, and turned into an answer at their entry points (never further).
struct MilvusFailure {
  int code;
  std::string message;
};

[[noreturn]] inline void Fail(int code, const std::string& message) {
  throw MilvusFailure{code, message};
}

}  // namespace imgsearch
