# cmake -DINCLUDE_DIR=<repo>/include -P check-umbrella.cmake
#
# aios/aios.h is "the whole public API": it must include every header in
# include/aios/ (and the generated aios/version.h) and no header from
# include/aios/experimental/, which is not part of the ABI promise.

cmake_minimum_required(VERSION 3.18)

if(NOT INCLUDE_DIR)
  message(FATAL_ERROR "usage: cmake -DINCLUDE_DIR=<repo>/include -P check-umbrella.cmake")
endif()
get_filename_component(INCLUDE_DIR "${INCLUDE_DIR}" ABSOLUTE)

file(READ "${INCLUDE_DIR}/aios/aios.h" _text)
# Drop comments so that a header named in a comment does not count.
string(REGEX REPLACE "/\\*([^*]|\\*+[^*/])*\\*+/" "" _text "${_text}")
string(REGEX REPLACE "//[^\n]*" "" _text "${_text}")
string(REGEX MATCHALL "#[ \t]*include[ \t]*[\"<][^\">]+[\">]" _includes "${_text}")

set(_included)
foreach(_inc IN LISTS _includes)
  string(REGEX REPLACE "^#[ \t]*include[ \t]*[\"<]([^\">]+)[\">]$" "\\1" _name "${_inc}")
  # "core.h", "aios/core.h" and <aios/core.h> all name aios/core.h.
  if(NOT _name MATCHES "^aios/")
    set(_name "aios/${_name}")
  endif()
  list(APPEND _included "${_name}")
endforeach()

file(GLOB _stable RELATIVE "${INCLUDE_DIR}" "${INCLUDE_DIR}/aios/*.h")
list(APPEND _stable aios/version.h)
list(REMOVE_ITEM _stable aios/aios.h)
list(REMOVE_DUPLICATES _stable)

set(_errors)
foreach(_h IN LISTS _stable)
  if(NOT _h IN_LIST _included)
    list(APPEND _errors "aios/aios.h does not include ${_h}: add #include \"${_h}\"")
  endif()
endforeach()
foreach(_h IN LISTS _included)
  if(_h MATCHES "^aios/experimental/")
    list(APPEND _errors "aios/aios.h includes ${_h}: experimental headers are opt-in only")
  endif()
endforeach()

if(_errors)
  list(JOIN _errors "\n  " _msg)
  message(FATAL_ERROR "umbrella header check failed:\n  ${_msg}")
endif()
list(LENGTH _stable _n)
message(STATUS "aios/aios.h includes all ${_n} stable public headers and no experimental one")
