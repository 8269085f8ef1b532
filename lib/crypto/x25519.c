/*
 * X25519 (RFC 7748) through libsodium's crypto_scalarmult.  A peer point
 * of small order, which would make the shared secret all zeros whatever
 * our key, is refused (RFC 7748 section 6.1's check).
 */
#include <sodium.h>

#include "crypto.h"
#include "../core/internal.h"

_Static_assert(crypto_scalarmult_curve25519_BYTES == AIOS__X25519_LEN, "X25519 point length");
_Static_assert(crypto_scalarmult_curve25519_SCALARBYTES == AIOS__X25519_LEN, "X25519 scalar length");

int aios__x25519_keypair(uint8_t pk[AIOS__X25519_LEN], uint8_t sk[AIOS__X25519_LEN])
{
    AIOS__CHECK_ARG(pk != NULL && sk != NULL, "pk or sk is NULL");
    aios__random_bytes(sk, AIOS__X25519_LEN);
    if (crypto_scalarmult_curve25519_base(pk, sk) != 0) {
        aios__wipe(sk, AIOS__X25519_LEN);
        aios__wipe(pk, AIOS__X25519_LEN);
        return aios__fail(AIOS_E_INTERNAL, "X25519 key generation failed");
    }
    return AIOS_OK;
}

int aios__x25519_public(uint8_t pk[AIOS__X25519_LEN], const uint8_t sk[AIOS__X25519_LEN])
{
    AIOS__CHECK_ARG(pk != NULL && sk != NULL, "pk or sk is NULL");
    if (crypto_scalarmult_curve25519_base(pk, sk) != 0) {
        aios__wipe(pk, AIOS__X25519_LEN);
        return aios__fail(AIOS_E_INTERNAL, "X25519 public key computation failed");
    }
    return AIOS_OK;
}

int aios__x25519(uint8_t shared[AIOS__X25519_LEN], const uint8_t sk[AIOS__X25519_LEN],
                 const uint8_t peer_pk[AIOS__X25519_LEN])
{
    AIOS__CHECK_ARG(shared != NULL && sk != NULL && peer_pk != NULL,
                    "shared, sk or peer_pk is NULL");
    /* libsodium already returns -1 for an all-zero result; check again so
     * the guarantee does not rest on one implementation detail. */
    if (crypto_scalarmult_curve25519(shared, sk, peer_pk) != 0 ||
        aios__ct_is_zero(shared, AIOS__X25519_LEN)) {
        aios__wipe(shared, AIOS__X25519_LEN);
        return aios__fail(AIOS_E_AUTH,
                          "X25519: the peer's public key has small order (all-zero shared secret)");
    }
    return AIOS_OK;
}
