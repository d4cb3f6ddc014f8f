// Test helper: a MilvusApi over a fresh database, called without HTTP, with the checks
// every Milvus dialect test makes of an answer.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "server/milvus_api.h"
#include "test_util.h"

namespace imgsearch::server {

class MilvusApiFixture : public ::testing::Test {
 protected:
  using json = nlohmann::json;

  void SetUp() override {
    dir_ = testing::MakeTempDir() + "/db";
    Reopen();
  }
  // A new MilvusApi over the same folder, as after a restart.
  void Reopen() {
    api_.reset();
    db_.reset();
    db_ = testing::ValueOrDie(Database::Open(dir_));
    api_ = std::make_unique<MilvusApi>(*db_);
  }
  // The whole reply ({"code", "data"} or {"code", "message"}).
  json Call(const std::string& route, const json& body, bool int64_as_string = false) {
    return api_->Call(route, body.dump(), int64_as_string).ToJson();
  }
  // The data of a call that must succeed.
  json Ok(const std::string& route, const json& body, bool int64_as_string = false) {
    json reply = Call(route, body, int64_as_string);
    EXPECT_EQ(reply["code"], 0) << route << " " << body.dump() << " -> " << reply.dump();
    return reply["data"];
  }
  // A call that must fail with `code` and a message containing `text`; the reply.
  json Refused(const std::string& route, const json& body, int code, const std::string& text) {
    json reply = Call(route, body);
    EXPECT_EQ(reply["code"], code) << route << " " << body.dump() << " -> " << reply.dump();
    EXPECT_NE(reply.value("message", "").find(text), std::string::npos)
        << route << " " << body.dump() << " -> " << reply.dump();
    return reply;
  }
  // A quick-form collection `name` (4-d, L2) holding rows 1..6: vector {1, i, 0.5, 0} and
  // the dynamic field "tag" = 10·i.
  void CreateSixRowCollection(const std::string& name) {
    Ok("collections/create", {{"collectionName", name}, {"dimension", 4}, {"metricType", "L2"}});
    json rows = json::array();
    for (int i = 1; i <= 6; ++i)
      rows.push_back({{"id", i}, {"vector", {1.0, double(i), 0.5, 0.0}}, {"tag", i * 10}});
    Ok("entities/insert", {{"collectionName", name}, {"data", rows}});
  }
  // A collection "id" (Int64 key) + "v" (binary vectors of `bits`), HAMMING, holding `rows`.
  void CreateBinaryCollection(const std::string& name, int bits, const json& rows) {
    Ok("collections/create", {{"collectionName", name},
                              {"schema",
                               {{"fields",
                                 {{{"fieldName", "id"}, {"dataType", "Int64"}, {"isPrimary", true}},
                                  {{"fieldName", "v"},
                                   {"dataType", "BinaryVector"},
                                   {"elementTypeParams", {{"dim", bits}}}}}}}},
                              {"indexParams", {{{"fieldName", "v"}, {"metricType", "HAMMING"}}}}});
    Ok("entities/insert", {{"collectionName", name}, {"data", rows}});
  }

  std::string dir_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<MilvusApi> api_;
};

}  // namespace imgsearch::server
