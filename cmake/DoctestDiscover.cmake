# One doctest executable per label (tests/<label>/*_test.cpp linked together),
# and one ctest test per test case, named <label>:<file>:<case> as if each
# file were its own executable: `ctest -R unit:cidr_test:` still picks a file.
# doctest's own doctest_discover_tests cannot name a case after its file nor
# filter by it; this lists the cases with their files (the XML reporter) and
# runs each with --source-file, so two files may share a case name.
# `granularity`: `case` (a ctest test per case) or `file` (<label>:<file>, all
# its cases in one process: for unit tests, whose cases take microseconds
# and whose process start is most of the cost under the sanitizers).
# `environment`: NAME=VALUE entries every case runs with (may be empty).
function(callready_discover_tests target label granularity environment)
  set(ctest_file "${CMAKE_CURRENT_BINARY_DIR}/${target}_cases.cmake")
  # A ;-list would split into several arguments of the command.
  string(REPLACE ";" "|" environment "${environment}")
  set(include_file "${CMAKE_CURRENT_BINARY_DIR}/${target}_include.cmake")
  add_custom_command(TARGET ${target} POST_BUILD
    BYPRODUCTS "${ctest_file}"
    COMMAND "${CMAKE_COMMAND}"
            -D "TEST_EXECUTABLE=$<TARGET_FILE:${target}>"
            -D "TEST_LABEL=${label}"
            -D "TEST_WORKING_DIR=${CMAKE_CURRENT_BINARY_DIR}"
            -D "CTEST_FILE=${ctest_file}"
            -D "TEST_ENVIRONMENT=${environment}"
            -D "TEST_PER_FILE=$<STREQUAL:${granularity},file>"
            -P "${CMAKE_SOURCE_DIR}/cmake/DoctestDiscoverScript.cmake"
    VERBATIM)
  file(WRITE "${include_file}"
    "if(EXISTS \"${ctest_file}\")\n"
    "  include(\"${ctest_file}\")\n"
    "else()\n"
    "  add_test(${target}_NOT_BUILT ${target}_NOT_BUILT)\n"
    "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${include_file}")
endfunction()
