# Milvus's gRPC protocol: the .proto files that scripts/setup.sh takes from a pinned
# registry package (.deps/milvus-proto), compiled with Debian's protoc and grpc_cpp_plugin
# into one library. Generated code is not ours: it is built without warnings.
find_package(gRPC CONFIG REQUIRED)
find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
set(MILVUS_PROTO_DIR "${CMAKE_SOURCE_DIR}/.deps/milvus-proto" CACHE PATH
    "Folder with Milvus's milvus.proto, schema.proto, common.proto, ...")
if(NOT EXISTS "${MILVUS_PROTO_DIR}/milvus.proto")
  message(FATAL_ERROR "Milvus's .proto files are not in ${MILVUS_PROTO_DIR}: run scripts/setup.sh")
endif()

set(milvus_proto_out "${CMAKE_BINARY_DIR}/milvus_proto")
file(MAKE_DIRECTORY "${milvus_proto_out}")
set(milvus_proto_sources)
foreach(name common schema milvus feder msg rg)
  set(outputs "${milvus_proto_out}/${name}.pb.cc" "${milvus_proto_out}/${name}.pb.h")
  set(grpc_args)
  if(name STREQUAL "milvus")
    list(APPEND outputs "${milvus_proto_out}/${name}.grpc.pb.cc" "${milvus_proto_out}/${name}.grpc.pb.h")
    set(grpc_args --grpc_out=${milvus_proto_out} --plugin=protoc-gen-grpc=${GRPC_CPP_PLUGIN})
  endif()
  add_custom_command(
    OUTPUT ${outputs}
    COMMAND protobuf::protoc -I${MILVUS_PROTO_DIR} --cpp_out=${milvus_proto_out} ${grpc_args}
            ${MILVUS_PROTO_DIR}/${name}.proto
    DEPENDS ${MILVUS_PROTO_DIR}/${name}.proto protobuf::protoc
    COMMENT "Generating C++ for Milvus's ${name}.proto")
  list(APPEND milvus_proto_sources ${outputs})
endforeach()

add_library(imgsearch_milvus_proto STATIC ${milvus_proto_sources})
target_include_directories(imgsearch_milvus_proto SYSTEM PUBLIC "${milvus_proto_out}")
target_compile_options(imgsearch_milvus_proto PRIVATE -w)
target_link_libraries(imgsearch_milvus_proto PUBLIC protobuf::libprotobuf gRPC::grpc++)
