/*
 * Allocator hooks.  libaios and protobuf-c allocate through these; the
 * host may replace them before aios_init().
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "../crypto/crypto.h"

static void *default_malloc(size_t size, void *payload)
{
    (void)payload;
    return malloc(size);
}

static void default_free(void *ptr, void *payload)
{
    (void)payload;
    free(ptr);
}

static aios_allocator current = {
    sizeof(aios_allocator), default_malloc, default_free, NULL
};

/* Set once aios_init() has started; the allocator is read-only after. */
static atomic_int frozen;

void aios__allocator_freeze(void)
{
    atomic_store(&frozen, 1);
}

int aios_set_allocator(const aios_allocator *allocator)
{
    if (atomic_load(&frozen))
        return aios__fail(AIOS_E_STATE,
            "aios_set_allocator: must be called before aios_init()");
    if (allocator == NULL) {
        current.malloc_fn = default_malloc;
        current.free_fn = default_free;
        current.payload = NULL;
        return AIOS_OK;
    }
    /* The table must at least reach the members of version 1. */
    if (allocator->size < offsetof(aios_allocator, payload) + sizeof(void *))
        return aios__fail(AIOS_E_VERSION,
            "aios_set_allocator: size %zu is smaller than the first version of aios_allocator",
            allocator->size);
    if (!allocator->malloc_fn || !allocator->free_fn)
        return aios__fail(AIOS_E_INVALID_ARGUMENT,
            "aios_set_allocator: malloc_fn and free_fn are both required");
    current.malloc_fn = allocator->malloc_fn;
    current.free_fn = allocator->free_fn;
    current.payload = allocator->payload;
    return AIOS_OK;
}

void *aios__malloc(size_t size)
{
    /* malloc(0) may return NULL legitimately; never ask for 0. */
    return current.malloc_fn(size ? size : 1, current.payload);
}

void *aios__calloc(size_t n, size_t size)
{
    void *p;
    size_t total;
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    total = n * size;
    p = aios__malloc(total);
    if (p)
        memset(p, 0, total > 0 ? total : 1);
    return p;
}

void aios__free(void *ptr)
{
    if (ptr)
        current.free_fn(ptr, current.payload);
}

void aios__free_secret(void *ptr, size_t size)
{
    if (ptr) {
        aios__wipe(ptr, size);
        current.free_fn(ptr, current.payload);
    }
}

char *aios__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = aios__malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}
