/*
 * libaios: export and attribute macros shared by every public header.
 *
 *   AIOS_API          marks a function that is part of the public ABI.
 *                     Define AIOS_STATIC when linking libaios.a to make it
 *                     empty, or define AIOS_API yourself to override it.
 *   AIOS_DEPRECATED   marks an API that still works but will not grow.
 *   AIOS_NODISCARD    the result must be checked (verify, open, decrypt).
 *   AIOS_BEGIN_DECLS / AIOS_END_DECLS   extern "C" guards for C++.
 *
 * This header includes nothing and is valid C99, C11 and C++.
 */
#ifndef AIOS_EXPORT_H
#define AIOS_EXPORT_H

#ifndef AIOS_API
#  if defined(AIOS_STATIC)
#    define AIOS_API
#  elif defined(_WIN32)
#    if defined(AIOS_BUILDING_LIBRARY)
#      define AIOS_API __declspec(dllexport)
#    else
#      define AIOS_API __declspec(dllimport)
#    endif
#  elif defined(__GNUC__) && __GNUC__ >= 4
#    define AIOS_API __attribute__((visibility("default")))
#  else
#    define AIOS_API
#  endif
#endif

#ifndef AIOS_DEPRECATED
#  if defined(__GNUC__) || defined(__clang__)
#    define AIOS_DEPRECATED(msg) __attribute__((deprecated(msg)))
#  elif defined(_MSC_VER)
#    define AIOS_DEPRECATED(msg) __declspec(deprecated(msg))
#  else
#    define AIOS_DEPRECATED(msg)
#  endif
#endif

#ifndef AIOS_NODISCARD
#  if defined(__GNUC__) || defined(__clang__)
#    define AIOS_NODISCARD __attribute__((warn_unused_result))
#  elif defined(_MSC_VER) && _MSC_VER >= 1700
#    define AIOS_NODISCARD _Check_return_
#  else
#    define AIOS_NODISCARD
#  endif
#endif

#ifdef __cplusplus
#  define AIOS_BEGIN_DECLS extern "C" {
#  define AIOS_END_DECLS }
#else
#  define AIOS_BEGIN_DECLS
#  define AIOS_END_DECLS
#endif

#endif /* AIOS_EXPORT_H */
