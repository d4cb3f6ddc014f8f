// Milvus's gRPC protocol without the network: AnswerMilvusCall, as the gRPC server calls
// it with each request's method and bytes, all the way into the shared Milvus dialect.
// Input: up to four calls, each a byte that picks the RPC (byte % number of
// MilvusService's methods, so unserved ones too), two bytes of length (little-endian)
// and that many bytes of request message (fewer at the end of the input). The calls run
// against the database of milvus_fixture.h, copied fresh for every input that writes.
// Checks: nothing throws; an answer with gRPC status OK parses as the RPC's response
// message, and its common.Status never carries 65535 ("unexpected": an exception that
// escaped or an internal error); and after the calls the database closes and opens again
// with the same collections and row counts.
#include <google/protobuf/dynamic_message.h>

#include "fuzz_check.h"
#include "milvus.pb.h"
#include "milvus_fixture.h"
#include "server/grpc/milvus_grpc.h"

namespace {

using imgsearch::Database;
using imgsearch::server::GrpcAnswer;
using imgsearch::server::GrpcCode;
using imgsearch::server::MilvusApi;
namespace protobuf = google::protobuf;

const protobuf::ServiceDescriptor& Service() {
  static const protobuf::ServiceDescriptor* service =
      protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          "milvus.proto.milvus.MilvusService");
  FUZZ_CHECK(service != nullptr, "MilvusService is not among the generated descriptors");
  return *service;
}

struct Call {
  const protobuf::MethodDescriptor* method;
  std::string request;
};

std::vector<Call> CallsOf(std::string_view input) {
  std::vector<Call> calls;
  while (input.size() >= 3 && calls.size() < 4) {
    auto byte = [&](size_t i) { return size_t(static_cast<unsigned char>(input[i])); };
    const protobuf::MethodDescriptor* method =
        Service().method(int(byte(0) % size_t(Service().method_count())));
    size_t length = std::min(byte(1) | (byte(2) << 8), input.size() - 3);
    calls.push_back({method, std::string(input.substr(3, length))});
    input.remove_prefix(3 + length);
  }
  return calls;
}

// The code in a response's common.Status: the message itself or its field "status".
int StatusCode(const protobuf::Message& response) {
  const protobuf::Descriptor* type = response.GetDescriptor();
  const protobuf::Reflection* reflection = response.GetReflection();
  const protobuf::Message* status = &response;
  if (type->full_name() != "milvus.proto.common.Status") {
    const protobuf::FieldDescriptor* field = type->FindFieldByName("status");
    if (field == nullptr) return 0;
    status = &reflection->GetMessage(response, field);
  }
  const protobuf::FieldDescriptor* code = status->GetDescriptor()->FindFieldByName("code");
  return status->GetReflection()->GetInt32(*status, code);
}

void Check(const Call& call, const GrpcAnswer& answer) {
  if (answer.code != GrpcCode::kOk) {
    FUZZ_CHECK(!answer.message.empty(), "a refused call has no message");
    return;
  }
  static protobuf::DynamicMessageFactory factory;
  std::unique_ptr<protobuf::Message> response(
      factory.GetPrototype(call.method->output_type())->New());
  FUZZ_CHECK(response->ParseFromString(answer.response), "a response does not parse");
  int code = StatusCode(*response);
  if (code == 65535) {
    std::fprintf(stderr, "%s: %s\n", call.method->name().c_str(),
                 response->ShortDebugString().c_str());
  }
  FUZZ_CHECK(code != 65535, "a call ended unexpectedly");
}

void RunAll(MilvusApi& api, const std::vector<Call>& calls) {
  for (const Call& call : calls)
    Check(call, AnswerMilvusCall(api, call.method->name(), call.request, /*scope=*/1));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<Call> calls = CallsOf(std::string_view(reinterpret_cast<const char*>(data), size));
  bool writes = false;
  for (const Call& call : calls)
    writes = writes || imgsearch::server::MilvusCallWrites(call.method->name());
  if (writes) {
    imgsearch::fuzz::RunOnCopyAndReopen([&](Database& db) {
      MilvusApi api(db);
      RunAll(api, calls);
    });
    return 0;
  }
  MilvusApi api(imgsearch::fuzz::SharedMilvusDatabase());
  RunAll(api, calls);
  return 0;
}
