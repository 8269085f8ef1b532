/*
 * aios_selftest(): every known-answer test of the code libaios links.
 */
#include <stdio.h>

#include "internal.h"
#include "../crypto/crypto.h"
#include "../proto/proto.h"

int aios__selftest_stopped(int crc)
{
    int status = crc < 0 ? crc : AIOS_E_CANCELLED;
    if (status == AIOS_E_CALLBACK)
        return aios__fail(status, "aios_selftest: the callback failed");
    return aios__fail(status, "aios_selftest: stopped by the callback (%s)",
                      aios_status_name(status));
}

int aios_selftest(aios_selftest_cb cb, void *payload)
{
    char first[AIOS__ERROR_MESSAGE_MAX];
    int rc, rc2;

    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    rc = aios__crypto_selftest(1, cb, payload);
    /* A failed known answer does not stop the run, so cb sees every
     * result; a callback that asked to stop does. */
    if (rc != AIOS_OK && rc != AIOS_E_SELFTEST)
        return rc;
    if (rc != AIOS_OK)
        snprintf(first, sizeof(first), "%s", aios_last_error_message());
    rc2 = aios__proto_selftest(cb, payload);
    if (rc2 != AIOS_OK && rc2 != AIOS_E_SELFTEST)
        return rc2;
    if (rc != AIOS_OK)
        return aios__fail(rc, "%s", first);     /* the first failure, not the last */
    return rc2;
}
