/*
 * Fuzz the KeyRef wire decoder: any bytes must give AIOS_OK or
 * AIOS_E_FORMAT, never a crash or leak; whatever decodes must re-encode to
 * exactly the same bytes (canonical form) and hold valid fields; and the
 * library's own walk must judge every input as protobuf-c's unpack and
 * re-pack does (aios__keyref_decode_pbc).
 */
#include <stdlib.h>
#include <string.h>

#include "aios/aios.h"
#include "core/internal.h"
#include "proto/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    aios__keyref ref;
    aios_buffer *enc = NULL;
    int rc;

    if (aios_init() != AIOS_OK)
        abort();
    rc = aios__keyref_decode(&ref, data, size);
    /* Differential: protobuf-c's unpack and re-pack, the reference judge
     * of the encoding, must come to the same verdict and values. */
    {
        aios__keyref ref2;
        int rc2 = aios__keyref_decode_pbc(&ref2, data, size);
        if (rc2 != rc && rc2 != AIOS_E_NOMEM)
            abort();
        if (rc == AIOS_OK && rc2 == AIOS_OK &&
            (strcmp(ref.provider, ref2.provider) != 0 || strcmp(ref.key_id, ref2.key_id) != 0 ||
             ref.version != ref2.version))
            abort();
    }
    if (rc != AIOS_OK) {
        if (rc != AIOS_E_FORMAT)
            abort();
        return 0;
    }
    if (aios__keyref_check(ref.provider, ref.key_id, ref.version) != AIOS_OK)
        abort();
    if (aios__keyref_encode(&enc, &ref) != AIOS_OK)
        abort();
    /* Unknown fields are kept by the decoder but not by aios__keyref, so
     * the re-encoding is a prefix of the input when a newer writer added
     * fields, and equal otherwise. */
    if (aios_buffer_len(enc) > size || memcmp(aios_buffer_data(enc), data, aios_buffer_len(enc)) != 0)
        abort();
    aios_buffer_free(enc);
    return 0;
}
