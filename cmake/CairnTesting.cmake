# cairn_add_tests(NAME <target> LABEL <label> SOURCES <files...> LIBS <libs...>)
#
# One Catch2 executable per module and label, registered with CTest test by
# test so `ctest -L unit` and the usual summary work. Each executable
# precompiles catch.hpp: Catch2 v2 is a single large header and parsing it
# per file would dominate the build on a 2-core machine.
function(cairn_add_tests)
  cmake_parse_arguments(T "" "NAME;LABEL" "SOURCES;LIBS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE cairn_test_main ${T_LIBS})
  target_precompile_headers(${T_NAME} PRIVATE <catch2/catch.hpp>)
  set_target_properties(${T_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  catch_discover_tests(${T_NAME}
    TEST_PREFIX "${T_LABEL}."
    PROPERTIES LABELS ${T_LABEL} TIMEOUT 300)
endfunction()
