#include "milvus_fixture.h"

#include <filesystem>

#include "base/log.h"
#include "fuzz_check.h"
#include "server/milvus_api.h"

namespace imgsearch::fuzz {

namespace {

using imgsearch::server::MilvusApi;
using json = nlohmann::json;

std::string MakeGolden() {
  base::SetLogLevel("off");
  std::string dir = ScratchDir("golden");
  auto db = Database::Open(dir);
  FUZZ_CHECK(db.ok(), "cannot make the scratch database");
  MilvusApi api(**db);
  auto call = [&](const char* route, const json& body) {
    auto reply = api.Call(route, body.dump(), false);
    if (reply.code != 0) std::fprintf(stderr, "%s: %s\n", route, reply.message.c_str());
    FUZZ_CHECK(reply.code == 0, "cannot set up the scratch database");
  };
  json schema = {
      {"autoId", false},
      {"fields",
       {{{"fieldName", "id"}, {"dataType", "Int64"}, {"isPrimary", true}},
        {{"fieldName", "vector"}, {"dataType", "FloatVector"}, {"elementTypeParams", {{"dim", 4}}}},
        {{"fieldName", "path"},
         {"dataType", "VarChar"},
         {"elementTypeParams", {{"max_length", 64}}}},
        {{"fieldName", "width"}, {"dataType", "Int64"}},
        {{"fieldName", "meta"}, {"dataType", "JSON"}}}}};
  call("collections/create", {{"collectionName", "photos"}, {"schema", schema}});
  json rows = json::array();
  for (int i = 1; i <= 6; ++i) {
    rows.push_back({{"id", i},
                    {"vector", {1.0, double(i), 0.5, -1.0}},
                    {"path", "img/" + std::to_string(i) + ".jpg"},
                    {"width", 100 * i},
                    {"meta", {{"tags", {"a", i % 2 ? "odd" : "even"}}, {"iso", i * 100}}}});
  }
  call("entities/insert", {{"collectionName", "photos"}, {"data", rows}});
  json bits = {{"fields",
                {{{"fieldName", "id"}, {"dataType", "Int64"}, {"isPrimary", true}},
                 {{"fieldName", "bits"},
                  {"dataType", "BinaryVector"},
                  {"elementTypeParams", {{"dim", 16}}}}}}};
  call("collections/create", {{"collectionName", "bits"}, {"schema", bits}});
  return dir;
}

const std::string& Golden() {
  static const std::string dir = MakeGolden();
  return dir;
}

}  // namespace

Database& SharedMilvusDatabase() {
  static std::unique_ptr<Database> db = [] {
    std::string dir = ScratchDir("shared");
    std::filesystem::copy(Golden(), dir,
                          std::filesystem::copy_options::recursive |
                              std::filesystem::copy_options::overwrite_existing);
    auto opened = Database::Open(dir);
    FUZZ_CHECK(opened.ok(), "cannot open the shared database");
    return std::move(opened).value();
  }();
  return *db;
}

namespace {

std::map<std::string, int64_t> Counts(const Database& db) {
  std::map<std::string, int64_t> counts;
  for (const std::string& name : db.ListCollections())
    counts[name] = (*db.GetCollection(name))->Count();
  return counts;
}

}  // namespace

void RunOnCopyAndReopen(const std::function<void(Database&)>& calls) {
  std::string dir = ScratchDir("work");
  std::filesystem::remove_all(dir);
  std::filesystem::copy(Golden(), dir, std::filesystem::copy_options::recursive);
  std::map<std::string, int64_t> before_close;
  {
    auto db = Database::Open(dir);
    FUZZ_CHECK(db.ok(), "cannot open a copy of the database");
    calls(**db);
    before_close = Counts(**db);
  }
  auto reopened = Database::Open(dir);
  FUZZ_CHECK(reopened.ok(), "the database does not open after the calls");
  FUZZ_CHECK(Counts(**reopened) == before_close, "collections or rows changed across a reopen");
}

}  // namespace imgsearch::fuzz
