/*
 * Public secret helpers: constant-time comparison and wiping.
 */
#include "internal.h"
#include "../crypto/crypto.h"

int aios_ct_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
    if (len == 0)
        return 1;
    if (a == NULL || b == NULL)
        return 0;
    return aios__ct_equal(a, b, len);
}

void aios_wipe(void *p, size_t len)
{
    if (p && len)
        aios__wipe(p, len);
}
