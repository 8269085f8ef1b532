/*
 * The C half of the Go binding: one small shim per fallible libaios
 * function, plus the trampolines that carry C callbacks into Go.
 *
 * Why shims.  libaios keeps error details per OS thread
 * (aios_last_error_message()).  A goroutine may move to another thread
 * between two cgo calls, so Go must never read those details in a second
 * cgo call.  Each shim therefore clears the record, calls the function and,
 * when it fails, copies status, name, kind and message into a caller-owned
 * aiosgo_err, all inside the single cgo call.
 *
 * Pattern for a new function (copy it for key handles, envelopes, ...):
 *
 *   int aiosgo_<module>_<verb>(<args>, aiosgo_err *err)
 *   {
 *       int rc;
 *       aiosgo_begin();
 *       rc = aios_<module>_<verb>(<args>);
 *       return aiosgo_end(rc, err);
 *   }
 *
 * Callbacks.  A Go callback context is a runtime/cgo.Handle; it crosses C
 * as a uintptr_t (Go code never turns an integer into unsafe.Pointer) and
 * becomes the libaios `void *payload` here.  Each C callback type gets one
 * static trampoline in shim.c that calls an //export-ed Go function with the
 * handle.  Callbacks that return a status hand back what the Go side
 * returned: AIOS_OK to go on, AIOS_E_CALLBACK when the Go code failed (or
 * panicked), AIOS_E_CANCELLED when it asked to stop; Go keeps the error
 * itself and attaches it to the result of the outer call.
 *
 * Nothing here is public API: names start with aiosgo_.
 */
#ifndef AIOSGO_SHIM_H
#define AIOSGO_SHIM_H

#include <stddef.h>
#include <stdint.h>

#include <aios/core.h>

/* Room for the per-thread message (libaios keeps 512 bytes, NUL included);
 * a longer message is cut at a UTF-8 boundary. */
#define AIOSGO_MESSAGE_MAX 1024

/* What a failed call left behind on its thread.  Filled only on failure. */
typedef struct aiosgo_err {
    int status;                     /* the returned status */
    int kind;                       /* aios_status_kind(status) */
    const char *name;               /* aios_status_name(status): static text */
    char message[AIOSGO_MESSAGE_MAX];
} aiosgo_err;

/* Clear this thread's error record before a call. */
void aiosgo_begin(void);
/* After a call: on failure fill *err (if not NULL); returns rc. */
int aiosgo_end(int rc, aiosgo_err *err);

/* ---- core.h */
int aiosgo_init(aiosgo_err *err);
/* Selftest with the Go trampoline as callback and handle as payload; the
 * trampoline returns what the Go callback returned, which may stop the run. */
int aiosgo_selftest(uintptr_t handle, aiosgo_err *err);
/* Install the Go allocator bridge with handle as payload; 0 restores the
 * default allocator. */
int aiosgo_set_allocator(uintptr_t handle, aiosgo_err *err);
int aiosgo_buffer_new(aios_buffer **out, size_t len, uint32_t flags, aiosgo_err *err);
int aiosgo_buffer_from_bytes(aios_buffer **out, const uint8_t *data, size_t len,
                             uint32_t flags, aiosgo_err *err);
int aiosgo_buffer_protect(aios_buffer *buf, int prot, aiosgo_err *err);

/* The C library's malloc and free, for CAllocator: cgo's own C.malloc
 * never returns NULL (it crashes the program instead), which an allocator
 * must be able to report. */
void *aiosgo_c_malloc(size_t size);
void aiosgo_c_free(void *ptr);

#endif /* AIOSGO_SHIM_H */
