# Third-party libraries: Debian packages, plus ONNX Runtime from .deps (scripts/setup.sh)
# or from an installation named by ONNXRUNTIME_ROOT or found by find_package.
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(JPEG REQUIRED)
find_package(PNG REQUIRED)
find_package(TIFF REQUIRED)
find_package(GIF REQUIRED)
pkg_check_modules(WEBP REQUIRED IMPORTED_TARGET libwebp)
find_package(nlohmann_json REQUIRED)
find_package(CLI11 REQUIRED)
find_package(spdlog REQUIRED)
find_package(OpenMP REQUIRED)
# FAISS (Debian's static libfaiss) needs BLAS and LAPACK; OpenBLAS is chosen so FAISS
# does not run on the reference BLAS.
set(BLA_VENDOR OpenBLAS)
find_package(BLAS REQUIRED)
find_package(LAPACK REQUIRED)
find_library(FAISS_LIBRARY NAMES faiss REQUIRED)
add_library(faiss STATIC IMPORTED)
set_target_properties(faiss PROPERTIES IMPORTED_LOCATION "${FAISS_LIBRARY}")

# The ONNX protobuf classes (Debian's libonnx-dev, with libprotobuf-dev), used only by
# `imgsearch quantize` to read and rewrite model graphs. Debian's ONNX package config
# names protobuf::libprotobuf, which FindProtobuf defines.
find_package(Protobuf REQUIRED)
find_package(ONNX REQUIRED CONFIG)

set(ONNXRUNTIME_ROOT "${CMAKE_SOURCE_DIR}/.deps/onnxruntime" CACHE PATH
    "Folder with include/onnxruntime_cxx_api.h and lib/libonnxruntime.so*")
if(EXISTS "${ONNXRUNTIME_ROOT}/include/onnxruntime_cxx_api.h")
  find_library(ONNXRUNTIME_LIBRARY NAMES onnxruntime libonnxruntime.so.1
               PATHS "${ONNXRUNTIME_ROOT}/lib" NO_DEFAULT_PATH REQUIRED)
  add_library(onnxruntime::onnxruntime SHARED IMPORTED)
  set_target_properties(onnxruntime::onnxruntime PROPERTIES
    IMPORTED_LOCATION "${ONNXRUNTIME_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${ONNXRUNTIME_ROOT}/include")
  # Binaries find the library where setup put it, without LD_LIBRARY_PATH.
  set(CMAKE_BUILD_RPATH "${ONNXRUNTIME_ROOT}/lib")
  set(CMAKE_INSTALL_RPATH "${ONNXRUNTIME_ROOT}/lib")
  message(STATUS "ONNX Runtime: ${ONNXRUNTIME_LIBRARY}")
else()
  find_package(onnxruntime REQUIRED)
endif()
