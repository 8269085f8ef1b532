/*
 * Ed25519 (RFC 8032, pure) through libsodium.  Verification rejects
 * non-canonical S, small-order R, and non-canonical or small-order public
 * keys (libsodium 1.0.18's default, not its ED25519_COMPAT mode).
 */
#include <sodium.h>

#include "crypto.h"
#include "../core/internal.h"

_Static_assert(crypto_sign_ed25519_PUBLICKEYBYTES == AIOS__ED25519_PK_LEN, "Ed25519 pk length");
_Static_assert(crypto_sign_ed25519_SECRETKEYBYTES == AIOS__ED25519_SK_LEN, "Ed25519 sk length");
_Static_assert(crypto_sign_ed25519_SEEDBYTES == AIOS__ED25519_SEED_LEN, "Ed25519 seed length");
_Static_assert(crypto_sign_ed25519_BYTES == AIOS__ED25519_SIG_LEN, "Ed25519 signature length");

/* libsodium wants a valid pointer even for an empty message. */
static const uint8_t empty_msg[1];

int aios__ed25519_keypair(uint8_t pk[AIOS__ED25519_PK_LEN], uint8_t sk[AIOS__ED25519_SK_LEN])
{
    AIOS__CHECK_ARG(pk != NULL && sk != NULL, "pk or sk is NULL");
    if (crypto_sign_ed25519_keypair(pk, sk) != 0) {
        aios__wipe(sk, AIOS__ED25519_SK_LEN);
        return aios__fail(AIOS_E_INTERNAL, "Ed25519 key generation failed");
    }
    return AIOS_OK;
}

int aios__ed25519_seed_keypair(uint8_t pk[AIOS__ED25519_PK_LEN], uint8_t sk[AIOS__ED25519_SK_LEN],
                               const uint8_t seed[AIOS__ED25519_SEED_LEN])
{
    AIOS__CHECK_ARG(pk != NULL && sk != NULL && seed != NULL, "pk, sk or seed is NULL");
    if (crypto_sign_ed25519_seed_keypair(pk, sk, seed) != 0) {
        aios__wipe(sk, AIOS__ED25519_SK_LEN);
        return aios__fail(AIOS_E_INTERNAL, "Ed25519 key derivation failed");
    }
    return AIOS_OK;
}

int aios__ed25519_sign(uint8_t sig[AIOS__ED25519_SIG_LEN], const uint8_t *msg, size_t len,
                       const uint8_t sk[AIOS__ED25519_SK_LEN])
{
    AIOS__CHECK_ARG(sig != NULL && sk != NULL, "sig or sk is NULL");
    AIOS__CHECK_ARG(msg != NULL || len == 0, "msg is NULL with a nonzero length");
    if (crypto_sign_ed25519_detached(sig, NULL, len > 0 ? msg : empty_msg, len, sk) != 0) {
        aios__wipe(sig, AIOS__ED25519_SIG_LEN);
        return aios__fail(AIOS_E_INTERNAL, "Ed25519 signing failed");
    }
    return AIOS_OK;
}

int aios__ed25519_verify(const uint8_t sig[AIOS__ED25519_SIG_LEN], const uint8_t *msg, size_t len,
                         const uint8_t pk[AIOS__ED25519_PK_LEN])
{
    AIOS__CHECK_ARG(sig != NULL && pk != NULL, "sig or pk is NULL");
    AIOS__CHECK_ARG(msg != NULL || len == 0, "msg is NULL with a nonzero length");
    if (crypto_sign_ed25519_verify_detached(sig, len > 0 ? msg : empty_msg, len, pk) != 0)
        return aios__fail(AIOS_E_AUTH, "Ed25519 signature verification failed");
    return AIOS_OK;
}
