/*
 * Fuzz the strict base64 (four variants) and hex decoders: any input gives
 * AIOS_OK or AIOS_E_FORMAT; what decodes re-encodes to exactly the input
 * (one encoding per value), and a failed decode leaves the output zeroed.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aios/aios.h"
#include "crypto/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const aios__b64_variant variants[] = {
    AIOS__B64_STANDARD, AIOS__B64_STANDARD_NOPAD, AIOS__B64_URLSAFE, AIOS__B64_URLSAFE_NOPAD
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t out[4096];
    char back[8192];
    const char *in = (const char *)data;
    size_t n;
    int rc;

    if (size > 4096)
        return 0;
    if (aios_init() != AIOS_OK)
        abort();
    for (size_t v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
        memset(out, 0xA5, sizeof(out));
        rc = aios__base64_decode(out, sizeof(out), &n, in, size, variants[v]);
        if (rc == AIOS_OK) {
            if (aios__base64_encode(back, sizeof(back), out, n, variants[v]) != AIOS_OK)
                abort();
            if (strlen(back) != size || memcmp(back, in, size) != 0)
                abort();
        } else if (rc != AIOS_E_FORMAT) {
            abort();
        } else {
            for (size_t i = 0; i < sizeof(out); i++)
                if (out[i] != 0)
                    abort();
        }
    }
    rc = aios__hex_decode(out, sizeof(out), &n, in, size);
    if (rc == AIOS_OK) {
        if (aios__hex_encode(back, sizeof(back), out, n) != AIOS_OK)
            abort();
        /* hex decoding accepts either case; encoding is lower case. */
        if (strlen(back) != size || strncasecmp(back, in, size) != 0)
            abort();
    } else if (rc != AIOS_E_FORMAT) {
        abort();
    }
    return 0;
}
