// WriteTransaction: one SQLite write transaction over one or more collections. It holds
// the process's write lock and SQLite's (which excludes writers in every other process),
// brings each collection it touches up to date with what others committed, writes the
// rows, and after the commit publishes them to each collection's memory. Nothing is
// published when it is dropped uncommitted: SQLite rolls the rows back.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "imgsearch/database.h"
#include "store/collection_impl.h"
#include "store/storage.h"

namespace imgsearch::store {

class WriteTransaction final : public Transaction {
 public:
  // Finds a collection by name, for the by-name calls of Transaction.
  using Resolver = std::function<Result<std::shared_ptr<CollectionImpl>>(const std::string&)>;

  explicit WriteTransaction(Storage* storage, Resolver resolver = nullptr);
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;

  Status Begin();
  Status Commit();

  // Catches `collection` up with every committed change; its memory is then current for
  // as long as the transaction is open (apart from the transaction's own writes).
  Status Touch(CollectionImpl* collection);
  Result<std::vector<int64_t>> Write(CollectionImpl* collection, std::vector<Row> rows,
                                     bool upsert);
  Result<int64_t> Delete(CollectionImpl* collection, const std::vector<int64_t>& ids);

  // Transaction
  Result<std::vector<int64_t>> Insert(const std::string& collection,
                                      std::vector<Row> rows) override;
  Result<std::vector<int64_t>> Upsert(const std::string& collection,
                                      std::vector<Row> rows) override;
  Result<int64_t> Delete(const std::string& collection, const std::vector<int64_t>& ids) override;
  Result<int64_t> TakeIds(const std::string& counter, int64_t count, int64_t at_least) override;
  Result<std::optional<std::string>> GetSetting(const std::string& key) override {
    return ReadSetting(storage_->writer.get(), key);
  }
  Status PutSetting(const std::string& key, const std::string& value) override {
    return WriteSetting(storage_->writer.get(), key, value);
  }

 private:
  struct Touched {
    std::shared_ptr<CollectionImpl> keep_alive;  // for collections found by name
    CollectionImpl::WriteCursor cursor;
    std::vector<CollectionImpl::StagedChange> staged;
  };
  Result<Touched*> Find(CollectionImpl* collection);
  Result<CollectionImpl*> Resolve(const std::string& name);

  Storage* storage_;
  Resolver resolver_;
  std::unique_lock<std::mutex> write_lock_;
  SqlTransaction sql_;
  std::map<CollectionImpl*, Touched> touched_;
};

}  // namespace imgsearch::store
