/*
 * Fuzz session records (docs/FORMAT.md 3.5, 3.6, 12.2): arbitrary bytes
 * as an R or D record, through aios_envelope_record_session_id and
 * aios_envelope_session_open_record against a fixed session (associated
 * data "fuzz").  Only the statuses of 12.2 may come back; the session id
 * is the record's bytes 10..42; what opens must be a seed's plaintext
 * length, and nothing is left in the output after a failure.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_envelope_session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static aios_envelope_session *s;
    uint8_t id[AIOS_ENVELOPE_SESSION_ID_LEN], *out;
    size_t got = 0, cap = size > 74 ? size - 74 : 1, i;
    int rc;

    if (s == NULL)
        s = fuzz_session(0);
    rc = aios_envelope_record_session_id(id, data, size);
    if (rc == AIOS_OK) {
        if (size < 58 || memcmp(id, data + 10, sizeof(id)) != 0)
            abort();
    } else if (rc != AIOS_E_FORMAT && rc != AIOS_E_VERSION && rc != AIOS_E_LIMIT) {
        abort();
    }
    out = malloc(cap);
    if (out == NULL)
        return 0;
    memset(out, 0, cap);
    rc = aios_envelope_session_open_record(s, out, cap, &got, data, size,
                                           (const uint8_t *)"fuzz", 4);
    switch (rc) {
    case AIOS_OK:
        if (got != size - 74)
            abort();
        break;
    case AIOS_E_FORMAT:
    case AIOS_E_VERSION:
    case AIOS_E_LIMIT:
    case AIOS_E_ENVELOPE_UNKNOWN_SESSION:
    case AIOS_E_AUTH:
    case AIOS_E_NOMEM:
        if (got != 0)
            abort();
        for (i = 0; i < cap; i++)
            if (out[i] != 0)
                abort();
        break;
    default:
        abort();
    }
    free(out);
    return 0;
}
