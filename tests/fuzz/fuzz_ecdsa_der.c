/*
 * Fuzz ECDSA verification with attacker-chosen signatures and keys: the
 * strict DER signature parser, the P1363 path and public-point checks.
 * Input: a mode byte (bit 0: P-384, bit 3: P-521 whatever bit 0 says, with
 * its long-form DER lengths; bit 1: signature only, against a key made
 * here, bit 2: P1363 instead of DER), then the signature, or a split
 * byte, the public key and the signature.
 * Anything must give AIOS_OK, AIOS_E_AUTH or AIOS_E_FORMAT, and a
 * signature made here must verify only for its own message.
 */
#include <stdlib.h>
#include <string.h>

#include "aios/aios.h"
#include "crypto/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t msg[] = "libaios fuzz message";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t pk[3][AIOS__EC_POINT_MAX];
    static int ready;
    aios__ec_curve curve;
    int rc, mode;
    size_t split;

    if (aios_init() != AIOS_OK)
        abort();
    if (!ready) {
        uint8_t sk[AIOS__EC_SCALAR_MAX];
        if (aios__ecdsa_keypair(AIOS__EC_P256, sk, pk[0]) != AIOS_OK ||
            aios__ecdsa_keypair(AIOS__EC_P384, sk, pk[1]) != AIOS_OK ||
            aios__ecdsa_keypair(AIOS__EC_P521, sk, pk[2]) != AIOS_OK)
            abort();
        aios__wipe(sk, sizeof(sk));
        ready = 1;
    }
    if (size < 2)
        return 0;
    mode = data[0];
    curve = (mode & 8) ? AIOS__EC_P521 : (mode & 1) ? AIOS__EC_P384 : AIOS__EC_P256;
    data++;
    size--;

    if (mode & 2) {
        /* A signature against our own valid key: exercises the parser. */
        const uint8_t *own = pk[curve == AIOS__EC_P521 ? 2 : curve == AIOS__EC_P384];
        rc = (mode & 4)
            ? aios__ecdsa_verify_p1363(curve, data, size, msg, sizeof(msg), own,
                                       aios__ec_point_len(curve))
            : aios__ecdsa_verify_der(curve, data, size, msg, sizeof(msg), own,
                                     aios__ec_point_len(curve));
    } else {
        /* Key and signature both from the input: a split byte, then the
         * key, then the signature. */
        const uint8_t *rest = data + 1;
        size_t restlen = size - 1;
        split = data[0] % (restlen + 1);
        rc = aios__ecdsa_verify_der(curve, rest + split, restlen - split, msg, sizeof(msg),
                                    rest, split);
    }
    if (rc != AIOS_OK && rc != AIOS_E_AUTH && rc != AIOS_E_FORMAT)
        abort();
    /* Nobody can forge our key's signature at random. */
    if ((mode & 2) && rc == AIOS_OK)
        abort();
    return 0;
}
