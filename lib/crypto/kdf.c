/*
 * Key derivation: HKDF-SHA-256 (RFC 5869) built on the HMAC-SHA-256 of
 * sha256.c, and Argon2id v1.3 (RFC 9106) through libsodium's
 * crypto_pwhash (one lane).
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "crypto.h"
#include "sha256.h"
#include "../core/internal.h"

_Static_assert(crypto_pwhash_argon2id_SALTBYTES == AIOS__ARGON2_SALT_LEN, "Argon2id salt length");

#define HKDF_SHA256_MAX (255u * AIOS__SHA256_LEN)

void aios__hkdf_sha256_extract(uint8_t prk[AIOS__SHA256_LEN],
                               const uint8_t *salt, size_t saltlen,
                               const uint8_t *ikm, size_t ikmlen)
{
    /* RFC 5869 2.2: an absent salt is HashLen zero bytes, which HMAC pads
     * to the same block as the empty key; pass the zeros anyway to say so. */
    static const uint8_t zero_salt[AIOS__SHA256_LEN];
    if (salt == NULL || saltlen == 0) {
        salt = zero_salt;
        saltlen = sizeof(zero_salt);
    }
    aios__hmac_sha256(prk, salt, saltlen, ikm, ikmlen);
}

int aios__hkdf_sha256_expand(uint8_t *out, size_t outlen, const uint8_t prk[AIOS__SHA256_LEN],
                             const uint8_t *info, size_t infolen)
{
    aios__hmac_sha256_state keyed, st;
    uint8_t t[AIOS__SHA256_LEN];
    size_t done = 0;
    uint8_t counter = 0;

    AIOS__CHECK_ARG(out != NULL || outlen == 0, "out is NULL");
    AIOS__CHECK_ARG(prk != NULL, "prk is NULL");
    AIOS__CHECK_ARG(info != NULL || infolen == 0, "info is NULL with a nonzero length");
    if (outlen > HKDF_SHA256_MAX) {
        return aios__fail(AIOS_E_INVALID_ARGUMENT,
                          "HKDF-SHA-256 output of %zu bytes is more than %u", outlen,
                          HKDF_SHA256_MAX);
    }
    /* T(i) = HMAC(PRK, T(i-1) || info || i), T(0) empty.  The PRK's
     * padded blocks are absorbed once; each T(i) starts from a copy. */
    aios__hmac_sha256_state_init(&keyed, prk, AIOS__SHA256_LEN);
    while (done < outlen) {
        size_t n = outlen - done < sizeof(t) ? outlen - done : sizeof(t);
        counter++;
        memcpy(&st, &keyed, sizeof(st));
        if (counter > 1)
            aios__hmac_sha256_state_update(&st, t, sizeof(t));
        aios__hmac_sha256_state_update(&st, info, infolen);
        aios__hmac_sha256_state_update(&st, &counter, 1);
        aios__hmac_sha256_state_final(&st, t);      /* wipes st */
        memcpy(out + done, t, n);
        done += n;
    }
    aios__wipe(&keyed, sizeof(keyed));
    aios__wipe(t, sizeof(t));
    return AIOS_OK;
}

int aios__hkdf_sha256(uint8_t *out, size_t outlen,
                      const uint8_t *salt, size_t saltlen,
                      const uint8_t *ikm, size_t ikmlen,
                      const uint8_t *info, size_t infolen)
{
    uint8_t prk[AIOS__SHA256_LEN];
    int rc;

    AIOS__CHECK_ARG(out != NULL || outlen == 0, "out is NULL");
    AIOS__CHECK_ARG(salt != NULL || saltlen == 0, "salt is NULL with a nonzero length");
    AIOS__CHECK_ARG(ikm != NULL || ikmlen == 0, "ikm is NULL with a nonzero length");
    AIOS__CHECK_ARG(info != NULL || infolen == 0, "info is NULL with a nonzero length");
    if (outlen > HKDF_SHA256_MAX) {
        return aios__fail(AIOS_E_INVALID_ARGUMENT,
                          "HKDF-SHA-256 output of %zu bytes is more than %u", outlen,
                          HKDF_SHA256_MAX);
    }
    aios__hkdf_sha256_extract(prk, salt, saltlen, ikm, ikmlen);
    rc = aios__hkdf_sha256_expand(out, outlen, prk, info, infolen);
    aios__wipe(prk, sizeof(prk));
    return rc;
}

int aios__argon2id(uint8_t *out, size_t outlen, const uint8_t *pass, size_t passlen,
                   const uint8_t salt[AIOS__ARGON2_SALT_LEN],
                   uint64_t opslimit, size_t memlimit)
{
    static const uint8_t empty[1];
    int rc;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    AIOS__CHECK_ARG(pass != NULL || passlen == 0, "pass is NULL with a nonzero length");
    AIOS__CHECK_ARG(salt != NULL, "salt is NULL");
    if (outlen < crypto_pwhash_argon2id_BYTES_MIN || outlen > crypto_pwhash_argon2id_BYTES_MAX)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "Argon2id output length %zu is out of range",
                          outlen);
    if ((uint64_t)passlen > crypto_pwhash_argon2id_PASSWD_MAX)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "Argon2id password is too long");
    if (opslimit < crypto_pwhash_argon2id_OPSLIMIT_MIN ||
        opslimit > crypto_pwhash_argon2id_OPSLIMIT_MAX)
        return aios__fail(AIOS_E_INVALID_ARGUMENT,
                          "Argon2id opslimit %llu is outside %u..%u passes",
                          (unsigned long long)opslimit, crypto_pwhash_argon2id_OPSLIMIT_MIN,
                          crypto_pwhash_argon2id_OPSLIMIT_MAX);
    if (memlimit < crypto_pwhash_argon2id_MEMLIMIT_MIN ||
        (uint64_t)memlimit > (uint64_t)crypto_pwhash_argon2id_MEMLIMIT_MAX)
        return aios__fail(AIOS_E_INVALID_ARGUMENT,
                          "Argon2id memlimit of %zu bytes is out of range (at least %u)",
                          memlimit, crypto_pwhash_argon2id_MEMLIMIT_MIN);
    errno = 0;
    if (crypto_pwhash(out, (unsigned long long)outlen,
                      (const char *)(passlen > 0 ? pass : empty), (unsigned long long)passlen,
                      salt, (unsigned long long)opslimit, memlimit,
                      crypto_pwhash_ALG_ARGON2ID13) == 0)
        return AIOS_OK;
    if (errno == ENOMEM)
        rc = aios__fail(AIOS_E_NOMEM, "Argon2id could not allocate %zu bytes", memlimit);
    else
        rc = aios__fail(AIOS_E_INTERNAL, "Argon2id failed");
    aios__wipe(out, outlen);
    return rc;
}
