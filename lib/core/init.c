/*
 * aios_init(): one-time, thread-safe initialisation.
 */
#include <pthread.h>
#include <string.h>

#include "internal.h"
#include "../crypto/crypto.h"
#include "../proto/proto.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_status = AIOS_E_INTERNAL;
/* The first failure's message, replayed to every thread that asks later. */
static char init_message[AIOS__ERROR_MESSAGE_MAX];


static void init_once_fn(void)
{
    int rc;

    aios__allocator_freeze();
    rc = aios__crypto_init();
    if (rc == AIOS_OK)
        rc = aios__proto_init();
    if (rc == AIOS_OK) {
        /* Power-on self-test: the fast known-answer subset. */
        rc = aios__crypto_selftest(0, NULL, NULL);
    }
    if (rc == AIOS_OK)
        rc = aios__proto_selftest(NULL, NULL);
    if (rc != AIOS_OK) {
        aios__error_prefix("aios_init");
        memcpy(init_message, aios_last_error_message(), sizeof(init_message));
        init_message[sizeof(init_message) - 1] = '\0';
    }
    init_status = rc;
    aios__build_info_prepare();
}

int aios__ensure_init(void)
{
    if (pthread_once(&init_once, init_once_fn) != 0)
        return aios__fail(AIOS_E_INTERNAL, "aios_init: pthread_once failed");
    if (init_status != AIOS_OK)
        return aios__fail(init_status, "%s", init_message);
    return AIOS_OK;
}

int aios_init(void)
{
    return aios__ensure_init();
}
