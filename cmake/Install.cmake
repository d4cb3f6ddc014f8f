# The installable library: libimgsearch.so with the public headers of include/imgsearch/,
# a CMake package (find_package(imgsearch); imgsearch::imgsearch) and a pkg-config file.
# It holds every layer up to the image library (Library, Database, Embedder); the
# internal static libraries go in whole, and nothing of src/ is part of its interface.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(imgsearch_layers imgsearch_base imgsearch_image imgsearch_model imgsearch_index
    imgsearch_store imgsearch_milvus_store imgsearch_pipeline)
add_library(imgsearch_library SHARED cmake/library_anchor.cc)
# Every member of each layer's archive, then the layers again as ordinary libraries so
# that their own dependencies (FAISS, SQLite, the image codecs, ...) follow them.
set(imgsearch_layer_files "")
foreach(layer IN LISTS imgsearch_layers)
  list(APPEND imgsearch_layer_files "$<TARGET_FILE:${layer}>")
endforeach()
target_link_libraries(imgsearch_library PRIVATE -Wl,--whole-archive ${imgsearch_layer_files}
  -Wl,--no-whole-archive imgsearch_pipeline)
add_dependencies(imgsearch_library ${imgsearch_layers})
target_link_libraries(imgsearch_library INTERFACE nlohmann_json::nlohmann_json)
target_include_directories(imgsearch_library INTERFACE
  $<BUILD_INTERFACE:${CMAKE_SOURCE_DIR}/include> $<BUILD_INTERFACE:${IMGSEARCH_GENERATED_DIR}>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_compile_features(imgsearch_library INTERFACE cxx_std_20)
set_target_properties(imgsearch_library PROPERTIES
  OUTPUT_NAME imgsearch EXPORT_NAME imgsearch VERSION ${PROJECT_VERSION}
  SOVERSION ${PROJECT_VERSION_MAJOR}
  # Installed, the library and the program find ONNX Runtime beside the library.
  INSTALL_RPATH "$ORIGIN")
set_target_properties(imgsearch PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")

install(TARGETS imgsearch RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS imgsearch_library EXPORT imgsearchTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY include/imgsearch ${IMGSEARCH_GENERATED_DIR}/imgsearch
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(ONNXRUNTIME_LIBRARY)  # the copy setup fetched: installed beside libimgsearch
  get_filename_component(ort_real "${ONNXRUNTIME_LIBRARY}" REALPATH)
  install(FILES "${ort_real}" DESTINATION ${CMAKE_INSTALL_LIBDIR} RENAME libonnxruntime.so.1)
endif()
install(EXPORT imgsearchTargets NAMESPACE imgsearch::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/imgsearch)
configure_package_config_file(cmake/imgsearchConfig.cmake.in
  ${CMAKE_BINARY_DIR}/imgsearchConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/imgsearch)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/imgsearchConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/imgsearchConfig.cmake
              ${CMAKE_BINARY_DIR}/imgsearchConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/imgsearch)
# pkg-config: the prefix is filled in at install time, wherever --prefix points.
install(CODE "
  set(CMAKE_INSTALL_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  set(CMAKE_INSTALL_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
  set(CMAKE_INSTALL_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
  set(PROJECT_VERSION \"${PROJECT_VERSION}\")
  configure_file(\"${CMAKE_SOURCE_DIR}/cmake/imgsearch.pc.in\"
                 \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig/imgsearch.pc\" @ONLY)")
