# imgsearch_embed_files(<out_var> NAMESPACE <ns> FILES <file>...)
# Generates a C++ source that holds each file's bytes as
#   extern const std::string_view <ns>::<stem>;   // e.g. phash for phash.onnx
# so the built-in models live inside the binary and need no installed data files.
function(imgsearch_embed_files out_var)
  cmake_parse_arguments(ARG "" "NAMESPACE" "FILES" ${ARGN})
  set(output "${CMAKE_CURRENT_BINARY_DIR}/embedded_${out_var}.cc")
  string(REPLACE ";" "," file_list "${ARG_FILES}")  # a ';' would split the command line
  add_custom_command(
    OUTPUT "${output}"
    COMMAND ${CMAKE_COMMAND} -DOUTPUT=${output} -DNAMESPACE=${ARG_NAMESPACE}
            "-DFILES=${file_list}" -P "${CMAKE_SOURCE_DIR}/cmake/EmbedFilesScript.cmake"
    DEPENDS ${ARG_FILES} "${CMAKE_SOURCE_DIR}/cmake/EmbedFilesScript.cmake"
    COMMENT "Embedding ${ARG_FILES}")
  set(${out_var} "${output}" PARENT_SCOPE)
endfunction()
