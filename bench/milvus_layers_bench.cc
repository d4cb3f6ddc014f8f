// Where the CPU time of one Milvus search goes inside `imgsearch serve`, layer by layer,
// in this process and on one thread (no network, no thread hand-offs): the store's
// Collection::Search; the Milvus dialect (MilvusApi::CallObject, where both transports
// meet) with the query vector as JSON numbers in the request object, and with it as
// bytes beside the object and the hits answered in binary (as the gRPC transport calls
// it); the REST route with its JSON text (MilvusApi::Call, what the HTTP handler runs);
// the gRPC call with its serialized SearchRequest (AnswerMilvusCall, what the gRPC
// server runs). bench/milvus_bench.py compares these with the server's CPU time per
// search over the network.
//
//   milvus_layers_bench DB_DIR COLLECTION QUERIES.f32 EF SECONDS_PER_LAYER [LAYER]
// Prints one line per layer: "layer NAME searches N cpu_ms_per_search X". With LAYER, only
// that one runs (for `perf stat` or `perf record` of one layer).
#include <sys/resource.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>

#include "bench_util.h"
#include "imgsearch/database.h"
#include "milvus.pb.h"
#include "server/grpc/milvus_grpc.h"
#include "server/milvus_api.h"

namespace imgsearch::bench {
namespace {

using json = nlohmann::json;

std::string only_layer;  // run only this layer, when set

// Runs `search(i)` for `seconds`; prints and returns CPU ms per search. False answers stop it.
bool Measure(const char* layer, double seconds, const std::function<bool(size_t)>& search) {
  if (!only_layer.empty() && only_layer != layer) return true;
  double start = Seconds(), cpu = CpuSeconds(RUSAGE_THREAD);
  size_t done = 0;
  while (Seconds() - start < seconds) {
    if (!search(done)) {
      std::fprintf(stderr, "%s: search %zu failed\n", layer, done);
      return false;
    }
    ++done;
  }
  cpu = CpuSeconds(RUSAGE_THREAD) - cpu;
  std::printf("layer %s searches %zu cpu_ms_per_search %.4f\n", layer, done, cpu * 1000 / done);
  return true;
}

std::string SearchMessage(const std::string& collection, const std::vector<float>& query, int ef) {
  milvus::proto::common::PlaceholderGroup group;
  auto* value = group.add_placeholders();
  value->set_tag("$0");
  value->set_type(milvus::proto::common::PlaceholderType::FloatVector);
  value->add_values(
      std::string(reinterpret_cast<const char*>(query.data()), query.size() * sizeof(float)));
  milvus::proto::milvus::SearchRequest request;  // as pymilvus 2.5's MilvusClient.search
  request.set_collection_name(collection);
  request.set_placeholder_group(group.SerializeAsString());
  request.set_dsl_type(milvus::proto::common::DslType::BoolExprV1);
  auto param = [&](const char* key, const std::string& v) {
    auto* kv = request.add_search_params();
    kv->set_key(key);
    kv->set_value(v);
  };
  param("anns_field", "vector");
  param("topk", "10");
  param("params", json{{"ef", ef}}.dump());
  param("metric_type", "L2");
  param("round_decimal", "-1");
  param("ignore_growing", "False");
  return request.SerializeAsString();
}

int Run(const std::string& db_dir, const std::string& name, const std::string& queries_file, int ef,
        double seconds) {
  auto db = Database::Open(db_dir);
  if (!db.ok()) return std::fprintf(stderr, "%s\n", db.status().message().c_str()), 1;
  auto collection = (*db)->GetCollection(name);
  if (!collection.ok())
    return std::fprintf(stderr, "%s\n", collection.status().message().c_str()), 1;
  auto queries = ReadQueries(queries_file, size_t((*collection)->schema().dimension));
  if (queries.empty()) return std::fprintf(stderr, "no queries in %s\n", queries_file.c_str()), 1;
  server::MilvusApi api(**db);
  auto body = [&](size_t i) {
    return json{{"collectionName", name},
                {"data", json::array({queries[i % queries.size()]})},
                {"limit", 10},
                {"searchParams", {{"params", {{"ef", ef}}}}}};
  };
  std::vector<std::string> texts, messages;
  for (size_t i = 0; i < queries.size(); ++i) {
    texts.push_back(body(i).dump());
    messages.push_back(SearchMessage(name, queries[i], ef));
  }
  bool ok =
      Measure("store", seconds,
              [&](size_t i) {
                SearchRequest request;
                request.vectors.push_back(queries[i % queries.size()]);
                request.params["ef"] = ef;
                return (*collection)->Search(request).ok();
              }) &&
      Measure(
          "milvus_object", seconds,
          [&](size_t i) { return api.CallObject("entities/search", body(i), false).code == 0; }) &&
      Measure("milvus_binary", seconds,
              [&](size_t i) {
                const std::vector<float>& query = queries[i % queries.size()];
                server::MilvusBinary binary;
                binary.queries.push_back({false,
                                          false,
                                          {std::string(reinterpret_cast<const char*>(query.data()),
                                                       query.size() * sizeof(float))}});
                binary.hits = true;
                json request = {{"collectionName", name},
                                {"limit", 10},
                                {"searchParams", {{"params", {{"ef", ef}}}}}};
                server::MilvusReply reply =
                    api.CallObject("entities/search", std::move(request), false, std::move(binary));
                return reply.code == 0 && reply.hits && reply.hits->int_ids.size() == 10;
              }) &&
      Measure("rest_text", seconds,
              [&](size_t i) {
                return api.Call("entities/search", texts[i % texts.size()], false).code == 0;
              }) &&
      Measure("grpc_message", seconds, [&](size_t i) {
        server::GrpcAnswer answer =
            server::AnswerMilvusCall(api, "Search", messages[i % messages.size()], 1);
        milvus::proto::milvus::SearchResults results;
        return answer.code == server::GrpcCode::kOk && results.ParseFromString(answer.response) &&
               results.status().code() == 0 && results.results().ids().int_id().data_size() == 10;
      });
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace imgsearch::bench

int main(int argc, char** argv) {
  if (argc != 6 && argc != 7) {
    std::fprintf(stderr,
                 "usage: milvus_layers_bench DB_DIR COLLECTION QUERIES.f32 EF SECONDS_PER_LAYER "
                 "[LAYER]\n");
    return 2;
  }
  if (argc == 7) imgsearch::bench::only_layer = argv[6];
  return imgsearch::bench::Run(argv[1], argv[2], argv[3], std::atoi(argv[4]), std::atof(argv[5]));
}
