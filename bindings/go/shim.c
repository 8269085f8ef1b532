/*
 * The C half of the Go binding; see shim.h for the pattern.
 */
#include <stdlib.h>
#include <string.h>

#include "shim.h"
#include "_cgo_export.h"   /* the //export-ed Go functions (callbacks.go, allocator.go) */

/* Each C call from Go may run on any OS thread, so the shim does the whole
 * exchange with the per-thread error record inside one call. */
void aiosgo_begin(void)
{
    aios_error_clear();
}

int aiosgo_end(int rc, aiosgo_err *err)
{
    const char *msg;
    size_t n;

    if (rc == AIOS_OK || err == NULL)
        return rc;
    err->status = rc;
    err->kind = (int)aios_status_kind(rc);
    err->name = aios_status_name(rc);
    /* aiosgo_begin() cleared the record, so any message is this call's. */
    msg = aios_last_error_message();
    if (msg == NULL)
        msg = "";
    n = strlen(msg);
    if (n >= sizeof(err->message)) {
        n = sizeof(err->message) - 1;
        /* Do not split a UTF-8 sequence. */
        while (n > 0 && ((unsigned char)msg[n] & 0xC0u) == 0x80u)
            n--;
    }
    memcpy(err->message, msg, n);
    err->message[n] = '\0';
    return rc;
}

/* ------------------------------------------------------------- core.h */

int aiosgo_init(aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_init();
    return aiosgo_end(rc, err);
}

/* aios_selftest_cb -> Go (callbacks.go).  Go returns AIOS_OK to go on,
 * AIOS_E_CALLBACK when the host's callback failed or panicked, or
 * AIOS_E_CANCELLED when it asked to stop; either of the last two stops the
 * run and becomes aios_selftest()'s result. */
static int selftest_trampoline(const char *name, int status, void *payload)
{
    return aiosgoSelftestCallback((char *)name, status, (uintptr_t)payload);
}

int aiosgo_selftest(uintptr_t handle, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_selftest(selftest_trampoline, (void *)handle);
    return aiosgo_end(rc, err);
}

/* aios_allocator -> Go (allocator.go).  The library may call these from
 * any thread, including its own workers; cgo handles that.  libaios never
 * asks malloc_fn for 0 bytes nor gives free_fn NULL. */
static void *malloc_trampoline(size_t size, void *payload)
{
    return aiosgoMalloc(size, (uintptr_t)payload);
}

static void free_trampoline(void *ptr, void *payload)
{
    aiosgoFree(ptr, (uintptr_t)payload);
}

int aiosgo_set_allocator(uintptr_t handle, aiosgo_err *err)
{
    aios_allocator a;
    int rc;

    aiosgo_begin();
    if (handle == 0) {
        rc = aios_set_allocator(NULL);
    } else {
        memset(&a, 0, sizeof(a));
        a.size = sizeof(a);
        a.malloc_fn = malloc_trampoline;
        a.free_fn = free_trampoline;
        a.payload = (void *)handle;
        /* libaios copies the table, so a stack copy is enough. */
        rc = aios_set_allocator(&a);
    }
    return aiosgo_end(rc, err);
}

int aiosgo_buffer_new(aios_buffer **out, size_t len, uint32_t flags, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_buffer_new(out, len, flags);
    return aiosgo_end(rc, err);
}

int aiosgo_buffer_from_bytes(aios_buffer **out, const uint8_t *data, size_t len,
                             uint32_t flags, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_buffer_from_bytes(out, data, len, flags);
    return aiosgo_end(rc, err);
}

int aiosgo_buffer_protect(aios_buffer *buf, int prot, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_buffer_protect(buf, (aios_protection)prot);
    return aiosgo_end(rc, err);
}

void *aiosgo_c_malloc(size_t size)
{
    return malloc(size);
}

void aiosgo_c_free(void *ptr)
{
    free(ptr);
}
