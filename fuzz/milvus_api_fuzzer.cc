// The Milvus REST v2 dialect without HTTP: MilvusApi::Call, as the server calls it for
// /v2/vectordb/<route>. Input: up to four calls separated by NUL bytes; each call's first
// byte picks the route (byte % number of routes) and, through its high bit, whether
// Int64 values are answered as strings; the rest is the JSON body. The calls run against
// a database made at start (collections "photos": FLAT L2 over 4 floats with scalar and
// JSON fields, and "bits": binary), copied fresh for every input that writes.
// Checks: Call never throws; every reply has a code and, when it is 0, data (else a
// message) and prints as the JSON the server sends; nothing ends as 65535 "unexpected" (an
// exception that escaped a handler or an internal error); and after the calls, the database closes
// and opens again with the same collections and row counts (what was acknowledged is kept).
#include <filesystem>
#include <map>

#include "base/log.h"
#include "fuzz_check.h"
#include "imgsearch/database.h"
#include "server/http_reply.h"
#include "server/milvus_api.h"

namespace {

using imgsearch::Database;
using imgsearch::server::MilvusApi;
using json = nlohmann::json;

std::string MakeGolden() {
  imgsearch::base::SetLogLevel("off");
  std::string dir = imgsearch::fuzz::ScratchDir("golden");
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

// One database for the inputs that only read, opened once.
Database& SharedDatabase() {
  static std::unique_ptr<Database> db = [] {
    std::string dir = imgsearch::fuzz::ScratchDir("shared");
    std::filesystem::copy(Golden(), dir,
                          std::filesystem::copy_options::recursive |
                              std::filesystem::copy_options::overwrite_existing);
    auto opened = Database::Open(dir);
    FUZZ_CHECK(opened.ok(), "cannot open the shared database");
    return std::move(opened).value();
  }();
  return *db;
}

struct Call {
  const imgsearch::server::MilvusRoute* route;
  bool int64_as_string;
  std::string body;
};

std::vector<Call> CallsOf(std::string_view input) {
  const auto& routes = MilvusApi::Routes();
  std::vector<Call> calls;
  while (!input.empty() && calls.size() < 4) {
    size_t end = std::min(input.find('\0'), input.size());
    std::string_view call = input.substr(0, end);
    if (!call.empty()) {
      auto selector = static_cast<unsigned char>(call[0]);
      calls.push_back({&routes[(selector & 0x7f) % routes.size()], (selector & 0x80) != 0,
                       std::string(call.substr(1))});
    }
    input.remove_prefix(std::min(end + 1, input.size()));
  }
  return calls;
}

void CheckReply(const Call& call, const imgsearch::server::MilvusReply& reply) {
  if (reply.code == imgsearch::server::kMilvusUnexpected) {
    std::fprintf(stderr, "%s: %s\n", call.route->name.c_str(), reply.message.c_str());
  }
  FUZZ_CHECK(reply.code != imgsearch::server::kMilvusUnexpected, "a call ended unexpectedly");
  json out = reply.ToJson();
  FUZZ_CHECK(out.contains("code"), "a reply has no code");
  FUZZ_CHECK(reply.code == 0 ? out.contains("data") : !reply.message.empty(),
             "a reply has neither data nor a message");
  std::string sent = imgsearch::server::JsonText(out);  // what the server sends
  FUZZ_CHECK(nlohmann::json::accept(sent), "a reply is not JSON");
}

std::map<std::string, int64_t> Counts(const Database& db) {
  std::map<std::string, int64_t> counts;
  for (const std::string& name : db.ListCollections())
    counts[name] = (*db.GetCollection(name))->Count();
  return counts;
}

void RunWrites(const std::vector<Call>& calls) {
  std::string dir = imgsearch::fuzz::ScratchDir("work");
  std::filesystem::remove_all(dir);
  std::filesystem::copy(Golden(), dir, std::filesystem::copy_options::recursive);
  std::map<std::string, int64_t> before_close;
  {
    auto db = Database::Open(dir);
    FUZZ_CHECK(db.ok(), "cannot open a copy of the database");
    MilvusApi api(**db);
    for (const Call& call : calls)
      CheckReply(call, api.Call(call.route->name, call.body, call.int64_as_string));
    before_close = Counts(**db);
  }
  auto reopened = Database::Open(dir);
  FUZZ_CHECK(reopened.ok(), "the database does not open after the calls");
  FUZZ_CHECK(Counts(**reopened) == before_close, "collections or rows changed across a reopen");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<Call> calls = CallsOf(std::string_view(reinterpret_cast<const char*>(data), size));
  bool writes = false;
  for (const Call& call : calls) writes = writes || call.route->writes;
  if (writes) {
    RunWrites(calls);
    return 0;
  }
  MilvusApi api(SharedDatabase());
  for (const Call& call : calls)
    CheckReply(call, api.Call(call.route->name, call.body, call.int64_as_string));
  return 0;
}
