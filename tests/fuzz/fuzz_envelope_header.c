/*
 * Fuzz the envelope header decoder (docs/FORMAT.md sections 3, 12.1 steps
 * 1-8 and 13): arbitrary bytes as an M or S header.  Only AIOS_E_FORMAT,
 * AIOS_E_VERSION, AIOS_E_LIMIT, AIOS_E_ENVELOPE_TRAILING_DATA (bytes after
 * an S) or AIOS_E_NOMEM may come back; what decodes must re-encode to
 * exactly the header bytes it came from, and must then fail
 * aios__env_header_verify under a fixed data key with
 * AIOS_E_ENVELOPE_COMMITMENT or AIOS_E_AUTH unless it is one of the seeds,
 * made with that key.  The library's walk of the core and recipient list
 * must judge every input as protobuf-c's unpack and re-pack does
 * (AIOS__ENV_DECODE_PBC).
 */
#include <stdlib.h>
#include <string.h>

#include "aios/aios.h"
#include "core/internal.h"
#include "crypto/crypto.h"
#include "envelope/format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t dk[32] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                    16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29,
                                    30, 31 };
    aios__env_header h;
    aios_buffer *enc = NULL;
    int rc;

    if (aios_init() != AIOS_OK)
        abort();
    rc = aios__env_header_decode(&h, data, size, AIOS__ENV_ACCEPT_M | AIOS__ENV_ACCEPT_S);
    /* Differential: with protobuf-c as the judge of the encoding the
     * verdict is the same (NOMEM aside: protobuf-c allocates). */
    {
        aios__env_header h2;
        int rc2 = aios__env_header_decode(&h2, data, size, AIOS__ENV_ACCEPT_M |
                                          AIOS__ENV_ACCEPT_S | AIOS__ENV_DECODE_PBC);
        if (rc2 != rc && rc2 != AIOS_E_NOMEM && rc != AIOS_E_NOMEM)
            abort();
        if (rc2 == AIOS_OK)
            aios__env_header_clear(&h2);
    }
    if (rc != AIOS_OK) {
        if (rc != AIOS_E_FORMAT && rc != AIOS_E_VERSION && rc != AIOS_E_LIMIT &&
            rc != AIOS_E_ENVELOPE_TRAILING_DATA && rc != AIOS_E_NOMEM)
            abort();
        return 0;
    }
    if (h.raw.p != data || h.raw.len > size)
        abort();
    rc = aios__env_header_encode(&enc, &h, NULL);
    if (rc != AIOS_OK && rc != AIOS_E_NOMEM)
        abort();
    if (rc == AIOS_OK && (aios_buffer_len(enc) != h.raw.len ||
                          memcmp(aios_buffer_data(enc), data, h.raw.len) != 0))
        abort();
    aios_buffer_free(enc);
    rc = aios__env_header_verify(&h, dk, NULL);
    if (rc != AIOS_OK && rc != AIOS_E_ENVELOPE_COMMITMENT && rc != AIOS_E_AUTH)
        abort();
    aios__env_header_clear(&h);
    return 0;
}
