cmake_minimum_required(VERSION 3.25)
# Run after a doctest executable is linked (cmake/DoctestDiscover.cmake):
# lists its cases with their source files and writes one add_test per case
# (TEST_PER_FILE: per source file, its cases run in one process).
execute_process(
  COMMAND "${TEST_EXECUTABLE}" --list-test-cases --reporters=xml
  OUTPUT_VARIABLE xml
  RESULT_VARIABLE result
  WORKING_DIRECTORY "${TEST_WORKING_DIR}")
if(NOT result EQUAL 0)
  message(FATAL_ERROR "listing the cases of ${TEST_EXECUTABLE} failed (${result}):\n${xml}")
endif()

# CMake lists split at ';' (entities such as &quot; hold one) but not inside
# [ ]: these travel as placeholders (an XML attribute never holds a raw '<').
string(REPLACE ";" "<SC>" xml "${xml}")
string(REPLACE "[" "<LB>" xml "${xml}")
string(REPLACE "]" "<RB>" xml "${xml}")
string(REGEX MATCHALL "<TestCase name=\"[^\"]*\" filename=\"[^\"]*\"" cases "${xml}")

# Quoted whole: ENVIRONMENT takes a ;-list.
set(environment "")
if(TEST_ENVIRONMENT)
  string(REPLACE "|" ";" TEST_ENVIRONMENT "${TEST_ENVIRONMENT}")
  set(environment " ENVIRONMENT [==[${TEST_ENVIRONMENT}]==]")
endif()

set(script "")
set(files_done "")
set(count 0)
foreach(case IN LISTS cases)
  string(REGEX REPLACE "^<TestCase name=\"([^\"]*)\" filename=\"([^\"]*)\"$" "\\1" name "${case}")
  string(REGEX REPLACE "^<TestCase name=\"([^\"]*)\" filename=\"([^\"]*)\"$" "\\2" file "${case}")
  foreach(var name file)
    string(REPLACE "<LB>" "[" ${var} "${${var}}")
    string(REPLACE "<RB>" "]" ${var} "${${var}}")
    string(REPLACE "<SC>" ";" ${var} "${${var}}")
    string(REPLACE "&quot;" "\"" ${var} "${${var}}")
    string(REPLACE "&apos;" "'" ${var} "${${var}}")
    string(REPLACE "&lt;" "<" ${var} "${${var}}")
    string(REPLACE "&gt;" ">" ${var} "${${var}}")
    string(REPLACE "&amp;" "&" ${var} "${${var}}")
  endforeach()
  get_filename_component(stem "${file}" NAME_WE)
  if(TEST_PER_FILE)
    if(stem IN_LIST files_done)
      continue()
    endif()
    list(APPEND files_done ${stem})
    # All cases of the file in one process. A case that skips would hide
    # its neighbours' results, so here a skip fails the test.
    set(test "${TEST_LABEL}:${stem}")
    set(filters "[==[--source-file=*/${stem}.cpp]==]")
    set(skip "FAIL_REGULAR_EXPRESSION [==[SKIPPED: ]==]")
  else()
    # doctest splits filters at commas.
    string(REPLACE "," "\\," filter "${name}")
    set(test "${TEST_LABEL}:${stem}:${name}")
    set(filters "[==[--source-file=*/${stem}.cpp]==] [==[--test-case=${filter}]==]")
    set(skip "SKIP_REGULAR_EXPRESSION [==[SKIPPED: ]==]")
  endif()
  string(APPEND script
    "add_test([==[${test}]==] \"${TEST_EXECUTABLE}\" ${filters})\n"
    "set_tests_properties([==[${test}]==] PROPERTIES WORKING_DIRECTORY \"${TEST_WORKING_DIR}\""
    " LABELS ${TEST_LABEL} ${skip}${environment})\n")
  math(EXPR count "${count} + 1")
endforeach()
if(count EQUAL 0)
  message(FATAL_ERROR "${TEST_EXECUTABLE} lists no test cases")
endif()
file(WRITE "${CTEST_FILE}" "${script}")
