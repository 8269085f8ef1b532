/*
 * Fuzz JSON field decryption (docs/FORMAT.md 11, 12.3): arbitrary bytes
 * as a document, decrypted with two fixed sessions (one random-only, one
 * DETERMINISTIC), record id "fuzz".  Only the statuses of 12.3 may come
 * back.  A document that decrypts is then encrypted again at a few
 * pointers (random mode, missing ones skipped) and must decrypt back to
 * the same JSON.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_envelope_session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int allowed(int rc)
{
    switch (rc) {
    case AIOS_OK:
    case AIOS_E_FORMAT:
    case AIOS_E_VERSION:
    case AIOS_E_LIMIT:
    case AIOS_E_ENVELOPE_UNKNOWN_SESSION:
    case AIOS_E_ENVELOPE_MODE:
    case AIOS_E_AUTH:
    case AIOS_E_NOMEM:
        return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static aios_envelope_session *ss[2];
    static const char *const ptrs[] = { "/a", "/0", "/b/c", "/a~1b", "/1/x" };
    aios_envelope_fields_options o = AIOS_ENVELOPE_FIELDS_OPTIONS_INIT;
    aios_buffer *plain = NULL, *enc = NULL, *back = NULL;
    json_t *x, *y;
    int rc;

    if (ss[0] == NULL) {
        ss[0] = fuzz_session(0);
        ss[1] = fuzz_session(AIOS_ENVELOPE_SESSION_DETERMINISTIC);
    }
    o.record_id = (const uint8_t *)"fuzz";
    o.record_id_len = 4;
    rc = aios_envelope_fields_decrypt(&plain, ss, 2, (const char *)data, size, &o);
    if (!allowed(rc))
        abort();
    if (rc != AIOS_OK)
        return 0;
    if (!(aios_buffer_flags(plain) & AIOS_BUFFER_SECURE))
        abort();
    o.flags = AIOS_ENVELOPE_FIELDS_SKIP_MISSING;
    rc = aios_envelope_fields_encrypt(&enc, ss[0], (const char *)aios_buffer_data(plain),
                                      aios_buffer_len(plain), ptrs, 5, &o);
    if (rc == AIOS_OK) {
        o.flags = 0;
        rc = aios_envelope_fields_decrypt(&back, ss, 2, (const char *)aios_buffer_data(enc),
                                          aios_buffer_len(enc), &o);
        /* A plaintext string that begins "aios:f1:" is refused by the
         * walk (FORMAT.md 11.5); anything else must come back. */
        if (rc == AIOS_OK) {
            x = json_loadb((const char *)aios_buffer_data(plain), aios_buffer_len(plain),
                           JSON_ALLOW_NUL, NULL);
            y = json_loadb((const char *)aios_buffer_data(back), aios_buffer_len(back),
                           JSON_ALLOW_NUL, NULL);
            if (x == NULL || y == NULL || !json_equal(x, y))
                abort();
            json_decref(x);
            json_decref(y);
        } else if (rc != AIOS_E_FORMAT && rc != AIOS_E_NOMEM && rc != AIOS_E_LIMIT) {
            abort();
        }
    } else if (rc != AIOS_E_LIMIT && rc != AIOS_E_NOMEM) {
        abort();
    }
    aios_buffer_free(back);
    aios_buffer_free(enc);
    aios_buffer_free(plain);
    return 0;
}
