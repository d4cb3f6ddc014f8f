// RedisMirror: keeps a copy of each collection's id -> path (and the other scalar fields)
// in Redis, for services that read paths from Redis as the recipe's did. One hash per
// image under "imgsearch:<collection>:<id>". The database stays the source of truth:
// Sync() makes Redis match it (sets every row, deletes keys of rows that are gone), so a
// mirror that missed updates is repaired by the next sync.
#pragma once

#include <memory>
#include <string>

#include "imgsearch/collection.h"

struct redisContext;

namespace imgsearch::remote {

class RedisMirror {
 public:
  // url: redis://HOST[:PORT][/DB]
  static Result<std::unique_ptr<RedisMirror>> Connect(const std::string& url);
  ~RedisMirror();

  // Makes the mirror of `collection` equal to its rows. Returns how many keys it wrote.
  Result<size_t> Sync(const Collection& collection);
  // One image written or removed, for a writer that keeps the mirror in step as it goes.
  Status Put(const std::string& collection, const Row& row);
  Status Remove(const std::string& collection, int64_t id);

  static std::string KeyPrefix(const std::string& collection) {
    return "imgsearch:" + collection + ":";
  }

 private:
  explicit RedisMirror(redisContext* context) : context_(context) {}
  Status Command(const std::vector<std::string>& args);
  Status Flush(size_t pending);
  redisContext* context_;
};

}  // namespace imgsearch::remote
