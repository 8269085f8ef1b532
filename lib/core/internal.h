/*
 * libaios core: internal API shared by every module (not installed).
 *
 * Error reporting:   return aios__fail(AIOS_E_FORMAT, "keyring %s: ...", path);
 * Allocation:        aios__malloc / aios__calloc / aios__free
 *                    go through the host allocator (aios_set_allocator).
 * Options structs:   aios__options_copy() implements the versioned-options
 *                    rule of docs/conventions (copy what the caller's
 *                    version had into a zeroed local, default the rest).
 */
#ifndef AIOS_LIB_CORE_INTERNAL_H
#define AIOS_LIB_CORE_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "aios/core.h"

#if defined(__GNUC__) || defined(__clang__)
#  define AIOS__PRINTF(f, a) __attribute__((format(printf, f, a)))
#  define AIOS__UNLIKELY(x)  __builtin_expect(!!(x), 0)
#else
#  define AIOS__PRINTF(f, a)
#  define AIOS__UNLIKELY(x)  (x)
#endif

/* ---- errors (lib/core/error.c) */

/* Length of the per-thread message buffer, NUL included; longer messages
 * are cut at a UTF-8 boundary and end in "...". */
#define AIOS__ERROR_MESSAGE_MAX 512

/* Record status and a printf-style message for this thread; returns
 * status so callers can write `return aios__fail(...)`.  The message must
 * never contain secrets or plaintext. */
int aios__fail(int status, const char *fmt, ...) AIOS__PRINTF(2, 3);
int aios__failv(int status, const char *fmt, va_list ap) AIOS__PRINTF(2, 0);
/* aios__fail with ": <strerror(errnum)>" appended, for I/O failures. */
int aios__fail_errno(int status, int errnum, const char *fmt, ...) AIOS__PRINTF(3, 4);
/* Prefix the current message with "<context>: " (for callers that add
 * where a lower layer's failure happened); returns the current status. */
int aios__error_prefix(const char *fmt, ...) AIOS__PRINTF(1, 2);

/* Shorthands for the two most common failures. */
#define AIOS__CHECK_ARG(cond, what) \
    do { if (AIOS__UNLIKELY(!(cond))) \
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: %s", __func__, (what)); } while (0)
int aios__nomem(const char *what);

/* ---- allocation (lib/core/alloc.c) */

void *aios__malloc(size_t size);
void *aios__calloc(size_t n, size_t size);   /* overflow-checked */
void  aios__free(void *ptr);
/* Wipe size bytes at ptr, then free it. */
void  aios__free_secret(void *ptr, size_t size);
char *aios__strdup(const char *s);
/* Whether the allocator can still be changed (aios_init not yet run). */
void  aios__allocator_freeze(void);

/* ---- initialisation (lib/core/init.c) */

/* aios_init() for internal callers: cheap after the first call. */
int aios__ensure_init(void);
/* The status a self-test returns when its callback returned crc != 0 to
 * stop the run: crc itself when negative, else AIOS_E_CANCELLED; records
 * the message. */
int aios__selftest_stopped(int crc);
/* Compute the aios_build_info() text (version.c); run once by init. */
void aios__build_info_prepare(void);

/* ---- versioned options (lib/core/options.c) */

/* Copy a caller's options struct into dst (of the library's current size
 * dst_size), after zeroing dst.  sizes[v-1] is the size of the struct at
 * version v, for v = 1..nversions.  The first member of every options
 * struct is `unsigned int version`.  Returns AIOS_E_VERSION for a version
 * of 0 or newer than the library knows.  src == NULL leaves dst zeroed with
 * dst->version = nversions; callers then apply their defaults for every
 * member that is zero. */
int aios__options_copy(void *dst, size_t dst_size, const void *src,
                       const size_t *sizes, unsigned int nversions,
                       const char *type_name);
/* The body of every aios_<x>_options_init(opts, version): zero the struct
 * of that version's size and set its version; AIOS_E_VERSION for a
 * version this library does not know (fn names the caller). */
int aios__options_init(void *opts, unsigned int version, const size_t *sizes,
                       unsigned int nversions, const char *fn);

/* ---- buffers (lib/core/buffer.c) */

/* aios_buffer_new() without the aios_init() check, for code that may run
 * during initialisation.  Rule: public entry points call
 * aios__ensure_init() first; internal code never calls a public entry
 * point that does (it would deadlock inside init). */
int aios__buffer_new(aios_buffer **out, size_t len, uint32_t flags);
/* Internal flag for aios__buffer_new: with AIOS_BUFFER_SECURE, a buffer of
 * at most AIOS__SECRET_SLOT_MAX - 1 bytes comes from the small-secret slab
 * (locked, undumpable, wiped; ~0.1 us instead of ~25 us) and cannot change
 * its protection (aios_buffer_protect: AIOS_E_UNSUPPORTED).  For data keys
 * and shared secrets the library hands out or keeps; aios_buffer_flags
 * reports AIOS_BUFFER_SECURE only. */
#define AIOS__BUFFER_SLAB 0x80000000u
/* Resize a buffer in place (secure buffers are copied and the old bytes
 * wiped).  New bytes are zero. */
int aios__buffer_resize(aios_buffer *buf, size_t len);

/* ---- text (lib/core/utf8.c) */

/* 1 if s[0..len) is strict UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), else 0.  NUL bytes are valid UTF-8;
 * callers that forbid them check separately. */
int aios__utf8_valid(const uint8_t *s, size_t len);

#endif /* AIOS_LIB_CORE_INTERNAL_H */
