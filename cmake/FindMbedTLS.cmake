# FindMbedTLS
# -----------
# Debian's mbedTLS 2.28 ships neither a pkg-config file nor a CMake package,
# so find it by hand.  Imported targets:
#
#   MbedTLS::mbedcrypto   MbedTLS::mbedx509   MbedTLS::mbedtls
#
# Result variables: MbedTLS_FOUND, MbedTLS_VERSION, MbedTLS_INCLUDE_DIR.
# Hints: MbedTLS_ROOT (CMake's <Package>_ROOT) or MBEDTLS_ROOT_DIR.
#
# Only lib/crypto/ compiles against these headers; everything else goes
# through its internal API, so a move to mbedTLS 3.6 or another backend is
# confined to that folder and to this file.

find_path(MbedTLS_INCLUDE_DIR
  NAMES mbedtls/version.h
  HINTS ${MBEDTLS_ROOT_DIR} ENV MBEDTLS_ROOT_DIR
  PATH_SUFFIXES include)

foreach(_aios_mbed_lib IN ITEMS mbedcrypto mbedx509 mbedtls)
  find_library(MbedTLS_${_aios_mbed_lib}_LIBRARY
    NAMES ${_aios_mbed_lib}
    HINTS ${MBEDTLS_ROOT_DIR} ENV MBEDTLS_ROOT_DIR
    PATH_SUFFIXES lib lib64)
endforeach()

if(MbedTLS_INCLUDE_DIR)
  # 3.x moved the string to build_info.h; read whichever has it.
  foreach(_aios_mbed_hdr IN ITEMS mbedtls/build_info.h mbedtls/version.h)
    if(NOT MbedTLS_VERSION AND EXISTS "${MbedTLS_INCLUDE_DIR}/${_aios_mbed_hdr}")
      file(STRINGS "${MbedTLS_INCLUDE_DIR}/${_aios_mbed_hdr}" _aios_mbed_ver
           REGEX "^#define[ \t]+MBEDTLS_VERSION_STRING[ \t]+\"[0-9.]+\"")
      if(_aios_mbed_ver)
        string(REGEX REPLACE ".*\"([0-9.]+)\".*" "\\1" MbedTLS_VERSION "${_aios_mbed_ver}")
      endif()
    endif()
  endforeach()
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(MbedTLS
  REQUIRED_VARS MbedTLS_mbedcrypto_LIBRARY MbedTLS_mbedx509_LIBRARY
                MbedTLS_mbedtls_LIBRARY MbedTLS_INCLUDE_DIR
  VERSION_VAR MbedTLS_VERSION)

if(MbedTLS_FOUND)
  foreach(_aios_mbed_lib IN ITEMS mbedcrypto mbedx509 mbedtls)
    if(NOT TARGET MbedTLS::${_aios_mbed_lib})
      add_library(MbedTLS::${_aios_mbed_lib} UNKNOWN IMPORTED)
      set_target_properties(MbedTLS::${_aios_mbed_lib} PROPERTIES
        IMPORTED_LOCATION "${MbedTLS_${_aios_mbed_lib}_LIBRARY}"
        INTERFACE_INCLUDE_DIRECTORIES "${MbedTLS_INCLUDE_DIR}")
    endif()
  endforeach()
  set_property(TARGET MbedTLS::mbedx509 APPEND PROPERTY
    INTERFACE_LINK_LIBRARIES MbedTLS::mbedcrypto)
  set_property(TARGET MbedTLS::mbedtls APPEND PROPERTY
    INTERFACE_LINK_LIBRARIES MbedTLS::mbedx509)
endif()

mark_as_advanced(MbedTLS_INCLUDE_DIR MbedTLS_mbedcrypto_LIBRARY
                 MbedTLS_mbedx509_LIBRARY MbedTLS_mbedtls_LIBRARY)
