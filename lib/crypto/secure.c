/*
 * Secure memory, wiping, constant-time comparison and randomness.
 */
#include <string.h>

#include <sodium.h>

#include "crypto.h"
#include "../core/internal.h"

void *aios__secure_malloc(size_t len)
{
    return sodium_malloc(len);
}

void aios__secure_free(void *p)
{
    sodium_free(p);     /* wipes, checks the canary, NULL-safe */
}

int aios__secure_protect(void *p, aios_protection prot)
{
    int rc;
    switch (prot) {
    case AIOS_PROTECT_READWRITE: rc = sodium_mprotect_readwrite(p); break;
    case AIOS_PROTECT_READONLY:  rc = sodium_mprotect_readonly(p); break;
    case AIOS_PROTECT_NOACCESS:  rc = sodium_mprotect_noaccess(p); break;
    default:
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "unknown protection %d", (int)prot);
    }
    if (rc != 0)
        return aios__fail(AIOS_E_INTERNAL, "mprotect on secure memory failed");
    return AIOS_OK;
}

void aios__mlock(void *p, size_t len)
{
    /* Best effort: RLIMIT_MEMLOCK may refuse; the region is still wiped. */
    (void)sodium_mlock(p, len);
}

void aios__munlock(void *p, size_t len)
{
    (void)sodium_munlock(p, len);   /* wipes before unlocking */
}

/* libsodium is not instrumented, so under AddressSanitizer an overflow
 * through sodium_memzero or sodium_memcmp would go unseen (one did, in a
 * test).  ASan builds first touch the same bytes with the intercepted
 * memset/memcmp, which check the bounds.  Release builds do not. */
#if defined(__SANITIZE_ADDRESS__)
#  define AIOS__ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define AIOS__ASAN 1
#  endif
#endif

void aios__wipe(void *p, size_t len)
{
#ifdef AIOS__ASAN
    if (len)
        memset(p, 0, len);
#endif
    sodium_memzero(p, len);
}

int aios__ct_equal(const void *a, const void *b, size_t len)
{
#ifdef AIOS__ASAN
    if (len) {
        volatile int probe = memcmp(a, b, len);
        (void)probe;
    }
#endif
    return sodium_memcmp(a, b, len) == 0;
}

int aios__ct_is_zero(const void *p, size_t len)
{
    return sodium_is_zero(p, len);
}

void aios__random_bytes(uint8_t *out, size_t len)
{
    randombytes_buf(out, len);
}
