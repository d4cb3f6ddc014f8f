// The Milvus store's client against whatever a server might answer: every request gets
// the input as its body, under an HTTP status picked by the first byte (200 most often,
// else 408, 429, 500 or 401). A collection of the library's kind ("pics": Int64 key,
// 4 floats, VarChar, Int64 and JSON fields) is queried, got, searched, counted, written
// and deleted from; the input is also read as a collections/describe answer.
// Checks: nothing throws; every call ends in a value or a Status; a query's rows come in
// ascending key order with no key twice.
#include "base/log.h"
#include "fuzz_check.h"
#include "remote/milvus_collection.h"
#include "remote/milvus_rows.h"

namespace {

using namespace imgsearch;
using json = nlohmann::json;

class InputTransport final : public remote::MilvusTransport {
 public:
  InputTransport(int status, std::string body) : status_(status), body_(std::move(body)) {}
  Result<remote::HttpAnswer> Post(const std::string&, const std::string&,
                                  const std::string&) override {
    return remote::HttpAnswer{status_, body_};
  }

 private:
  int status_;
  std::string body_;
};

CollectionSchema Pics() {
  CollectionSchema s;
  s.name = "pics";
  s.auto_id = false;
  s.dimension = 4;
  s.scalar_fields = {
      {"path", DataType::kVarChar}, {"size", DataType::kInt64}, {"fields", DataType::kJson}};
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static bool quiet = (base::SetLogLevel("off"), true);
  (void)quiet;
  if (size == 0) return 0;
  static const int statuses[] = {200, 200, 200, 200, 408, 429, 500, 401};
  int status = statuses[data[0] % 8];
  std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  MilvusOptions options;
  options.max_attempts = 2;
  auto client = std::make_shared<remote::MilvusClient>(
      std::make_unique<InputTransport>(status, body), options, "milvus://fuzz:1");
  client->SetSleepForTesting([](double) {});
  remote::MilvusCollection pics(client, Pics(), IndexSpec("HNSW", "L2"));

  auto rows = pics.Query(QueryRequest{});
  if (rows.ok()) {
    for (size_t i = 1; i < rows->size(); ++i)
      FUZZ_CHECK((*rows)[i - 1].id < (*rows)[i].id, "query rows in ascending key order");
  }
  (void)pics.Get({1, 2, 3}, {"path", "fields", "vector"});
  SearchRequest search;
  search.vectors = {{0.f, 1.f, 0.f, 0.f}};
  search.output_fields = {"path"};
  (void)pics.Search(search);
  (void)pics.Count();
  (void)pics.Stats();
  Row row;
  row.id = 5;
  row.vector = {1, 2, 3, 4};
  row.fields = {{"path", "a"}, {"size", 1}, {"fields", json::object()}};
  (void)pics.Upsert({row});
  (void)pics.Delete({5});

  json parsed = json::parse(body, nullptr, false);
  if (!parsed.is_discarded()) {
    const json& described = remote::Field(parsed, "data");
    auto schema = remote::SchemaFromMilvus(described);
    if (schema.ok()) (void)remote::IndexFromMilvus(*schema, described, described);
    (void)remote::RowFromMilvus(Pics(), described);
  }
  return 0;
}
