# embed_files(OUT file...): writes a C++ source defining callready::embedded_files(),
# a table of {file name, contents}. Raw byte arrays, so any content is safe.
function(embed_files out)
  set(files ${ARGN})
  string(REPLACE ";" "|" joined "${files}")
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DFILES=${joined} -P ${CMAKE_SOURCE_DIR}/cmake/EmbedScript.cmake
    DEPENDS ${files} ${CMAKE_SOURCE_DIR}/cmake/EmbedScript.cmake
    COMMENT "Embedding profiles and templates"
    VERBATIM)
endfunction()
