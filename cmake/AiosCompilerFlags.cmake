# Compiler flags shared by every target of the project.
#
# aios_target_flags(<target>) applies the strict warning set; the sanitizer
# and coverage flags below are global so that tests, tools and the library
# agree (mixing instrumented and plain objects hides bugs).

set(CMAKE_C_STANDARD 11)
set(CMAKE_C_STANDARD_REQUIRED ON)
set(CMAKE_C_EXTENSIONS OFF)
set(CMAKE_C_VISIBILITY_PRESET hidden)
set(CMAKE_VISIBILITY_INLINES_HIDDEN ON)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)

set(AIOS_WARNINGS
  -Wall -Wextra -Wpedantic -Wshadow -Wpointer-arith -Wcast-align
  -Wwrite-strings -Wstrict-prototypes -Wmissing-prototypes
  -Wold-style-definition -Wformat=2 -Wvla -Wundef
  -Wnull-dereference -Wdouble-promotion -Wimplicit-fallthrough)
if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
  list(APPEND AIOS_WARNINGS -Wlogical-op -Wduplicated-cond -Wduplicated-branches)
elseif(CMAKE_C_COMPILER_ID MATCHES "Clang")
  list(APPEND AIOS_WARNINGS -Wcomma -Wunreachable-code -Wshorten-64-to-32)
endif()

function(aios_target_flags target)
  target_compile_options(${target} PRIVATE ${AIOS_WARNINGS})
  if(AIOS_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  # Hardening that costs nothing measurable.
  target_compile_options(${target} PRIVATE -fstack-protector-strong -fno-strict-aliasing)
  target_compile_definitions(${target} PRIVATE _GNU_SOURCE)
  if(NOT AIOS_SANITIZE AND NOT CMAKE_BUILD_TYPE STREQUAL "Debug")
    target_compile_definitions(${target} PRIVATE _FORTIFY_SOURCE=2)
  endif()
endfunction()

# Test-only code (cmocka macros, fuzz harnesses) keeps the warnings but not
# the pedantic prototype rules that cmocka's own macros trip.
function(aios_test_flags target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  if(AIOS_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  target_compile_definitions(${target} PRIVATE _GNU_SOURCE)
endfunction()

if(AIOS_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=address,undefined)
  set(AIOS_SANITIZER_DEFINE AIOS_SANITIZER_ASAN)
elseif(AIOS_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=thread)
  set(AIOS_SANITIZER_DEFINE AIOS_SANITIZER_TSAN)
elseif(AIOS_SANITIZE)
  message(FATAL_ERROR "AIOS_SANITIZE must be '', 'address' or 'thread'")
endif()

if(AIOS_COVERAGE)
  add_compile_options(--coverage -O0 -g)
  add_link_options(--coverage)
endif()

if(AIOS_BUILD_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "AIOS_BUILD_FUZZ needs clang (configure with CC=clang)")
  endif()
  # Every object gets coverage feedback; the harnesses add -fsanitize=fuzzer.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
