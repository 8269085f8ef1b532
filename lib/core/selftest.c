/*
 * aios_selftest(): every known-answer test of the code libaios links.
 */
#include "internal.h"
#include "../crypto/crypto.h"
#include "../proto/proto.h"

int aios_selftest(aios_selftest_cb cb, void *payload)
{
    int rc, rc2;

    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    /* Run both groups even if the first fails, so cb sees every result. */
    rc = aios__crypto_selftest(1, cb, payload);
    rc2 = aios__proto_selftest(cb, payload);
    return rc != AIOS_OK ? rc : rc2;
}
