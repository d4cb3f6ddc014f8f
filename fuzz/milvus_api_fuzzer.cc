// The Milvus REST v2 dialect without HTTP: MilvusApi::Call, as the server calls it for
// /v2/vectordb/<route>. Input: up to four calls separated by NUL bytes; each call's first
// byte picks the route (byte % number of routes) and, through its high bit, whether
// Int64 values are answered as strings; the rest is the JSON body. The calls run against
// the database of milvus_fixture.h, copied fresh for every input that writes.
// Checks: Call never throws; every reply has a code and, when it is 0, data (else a
// message) and prints as the JSON the server sends; nothing ends as 65535 "unexpected" (an
// exception that escaped a handler or an internal error); a search answers its JSON text as
// it answers the text parsed into an object; and after the calls, the database closes
// and opens again with the same collections and row counts (what was acknowledged is kept).
#include "base/json.h"
#include "fuzz_check.h"
#include "imgsearch/database.h"
#include "milvus_fixture.h"
#include "server/http_reply.h"
#include "server/milvus_api.h"

namespace {

using imgsearch::Database;
using imgsearch::server::MilvusApi;
using json = nlohmann::json;

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
  if (reply.code == imgsearch::kMilvusUnexpected) {
    std::fprintf(stderr, "%s: %s\n", call.route->name.c_str(), reply.message.c_str());
  }
  FUZZ_CHECK(reply.code != imgsearch::kMilvusUnexpected, "a call ended unexpectedly");
  json out = reply.ToJson();
  FUZZ_CHECK(out.contains("code"), "a reply has no code");
  FUZZ_CHECK(reply.code == 0 ? out.contains("data") : !reply.message.empty(),
             "a reply has neither data nor a message");
  std::string sent = imgsearch::server::JsonText(out);  // what the server sends
  FUZZ_CHECK(nlohmann::json::accept(sent), "a reply is not JSON");
}

void RunWrites(const std::vector<Call>& calls) {
  imgsearch::fuzz::RunOnCopyAndReopen([&](Database& db) {
    MilvusApi api(db);
    for (const Call& call : calls)
      CheckReply(call, api.Call(call.route->name, call.body, call.int64_as_string));
  });
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
  MilvusApi api(imgsearch::fuzz::SharedMilvusDatabase());
  for (const Call& call : calls) {
    imgsearch::server::MilvusReply reply =
        api.Call(call.route->name, call.body, call.int64_as_string);
    CheckReply(call, reply);
    // A search's text takes a fast path for its query vectors (milvus_json_vectors.h):
    // the answer must be the one for the body parsed as JSON.
    auto parsed = imgsearch::base::ParseJson(call.body);
    if (call.route->name == "entities/search" && parsed.ok() && parsed->is_object()) {
      json object =
          api.CallObject(call.route->name, std::move(parsed).value(), call.int64_as_string)
              .ToJson();
      FUZZ_CHECK(object == reply.ToJson(), "a search's text and its JSON object answer apart");
    }
  }
  return 0;
}
