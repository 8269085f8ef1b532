/*
 * AEADs through libsodium: AES-256-GCM (AES-NI + PCLMULQDQ only, with the
 * key schedule and GHASH powers precomputed once per key object),
 * ChaCha20-Poly1305 (IETF, RFC 8439) and XChaCha20-Poly1305 (192-bit
 * nonce), all with detached tags.
 *
 * Key objects live in libsodium's guarded memory, are read-only after
 * construction (so they may be shared between threads) and are wiped when
 * freed.
 */
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "crypto.h"
#include "../core/internal.h"

_Static_assert(crypto_aead_aes256gcm_KEYBYTES == AIOS__AEAD_KEY_LEN, "AES-256-GCM key length");
_Static_assert(crypto_aead_chacha20poly1305_ietf_KEYBYTES == AIOS__AEAD_KEY_LEN, "ChaCha20 key length");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == AIOS__AEAD_KEY_LEN, "XChaCha20 key length");
_Static_assert(crypto_aead_aes256gcm_ABYTES == AIOS__AEAD_TAG_LEN, "AES-256-GCM tag length");
_Static_assert(crypto_aead_chacha20poly1305_ietf_ABYTES == AIOS__AEAD_TAG_LEN, "ChaCha20 tag length");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == AIOS__AEAD_TAG_LEN, "XChaCha20 tag length");
_Static_assert(crypto_aead_aes256gcm_NPUBBYTES <= AIOS__AEAD_NONCE_MAX, "AES-256-GCM nonce length");
_Static_assert(crypto_aead_chacha20poly1305_ietf_NPUBBYTES <= AIOS__AEAD_NONCE_MAX, "ChaCha20 nonce length");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == AIOS__AEAD_NONCE_MAX, "XChaCha20 nonce length");

/* The key object.  The AES-GCM state needs 16-byte alignment; the
 * allocation size is rounded to a multiple of 64 because sodium_malloc()
 * places the block right before a guard page, so its alignment is that of
 * its size. */
struct aios__aead_key {
    crypto_aead_aes256gcm_state gcm;     /* AES-256-GCM only */
    uint8_t                     key[AIOS__AEAD_KEY_LEN];   /* ChaCha20 variants only */
    aios__aead_alg              alg;
};

#define AEAD_KEY_ALLOC (((sizeof(struct aios__aead_key) + 63) / 64) * 64)

_Static_assert(64 % _Alignof(struct aios__aead_key) == 0, "aead key alignment");

int aios__aead_available(aios__aead_alg alg)
{
    switch (alg) {
    case AIOS__AEAD_AES256GCM:
        /* libsodium's own detection, the one its implementation obeys. */
        return crypto_aead_aes256gcm_is_available() != 0;
    case AIOS__AEAD_CHACHA20POLY1305:
    case AIOS__AEAD_XCHACHA20POLY1305:
        return 1;
    }
    return 0;
}

size_t aios__aead_nonce_len(aios__aead_alg alg)
{
    switch (alg) {
    case AIOS__AEAD_AES256GCM:         return crypto_aead_aes256gcm_NPUBBYTES;
    case AIOS__AEAD_CHACHA20POLY1305:  return crypto_aead_chacha20poly1305_ietf_NPUBBYTES;
    case AIOS__AEAD_XCHACHA20POLY1305: return crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    }
    return 0;
}

const char *aios__aead_name(aios__aead_alg alg)
{
    switch (alg) {
    case AIOS__AEAD_AES256GCM:         return "aes256gcm";
    case AIOS__AEAD_CHACHA20POLY1305:  return "chacha20poly1305";
    case AIOS__AEAD_XCHACHA20POLY1305: return "xchacha20poly1305";
    }
    return "unknown";
}

/* The largest message each algorithm accepts (libsodium aborts beyond). */
static uint64_t aead_max_len(aios__aead_alg alg)
{
    switch (alg) {
    case AIOS__AEAD_AES256GCM:
        return (uint64_t)crypto_aead_aes256gcm_MESSAGEBYTES_MAX;
    case AIOS__AEAD_CHACHA20POLY1305:
        return (uint64_t)crypto_aead_chacha20poly1305_ietf_MESSAGEBYTES_MAX;
    case AIOS__AEAD_XCHACHA20POLY1305:
        return (uint64_t)crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX;
    }
    return 0;
}

int aios__aead_key_new(aios__aead_key **out, aios__aead_alg alg,
                       const uint8_t key[AIOS__AEAD_KEY_LEN])
{
    aios__aead_key *k;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    AIOS__CHECK_ARG(key != NULL, "key is NULL");
    if (aios__aead_nonce_len(alg) == 0)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "unknown AEAD algorithm %d", (int)alg);
    if (!aios__aead_available(alg))
        return aios__fail(AIOS_E_UNSUPPORTED,
                          "AEAD %s needs AES-NI and PCLMULQDQ, which this CPU lacks",
                          aios__aead_name(alg));

    k = aios__secure_malloc(AEAD_KEY_ALLOC);
    if (k == NULL)
        return aios__fail(AIOS_E_NOMEM, "cannot allocate secure memory for an AEAD key");
    if ((uintptr_t)k % _Alignof(struct aios__aead_key) != 0) {
        aios__secure_free(k);
        return aios__fail(AIOS_E_INTERNAL, "secure memory is misaligned for an AEAD key");
    }
    memset(k, 0, AEAD_KEY_ALLOC);
    k->alg = alg;
    if (alg == AIOS__AEAD_AES256GCM) {
        if (crypto_aead_aes256gcm_beforenm(&k->gcm, key) != 0) {
            aios__secure_free(k);
            return aios__fail(AIOS_E_INTERNAL, "AES-256-GCM key expansion failed");
        }
    } else {
        memcpy(k->key, key, AIOS__AEAD_KEY_LEN);
    }
    /* Immutable from here on; best effort (sodium_free() undoes it). */
    (void)sodium_mprotect_readonly(k);
    *out = k;
    return AIOS_OK;
}

void aios__aead_key_free(aios__aead_key *key)
{
    aios__secure_free(key);   /* NULL-safe; makes it writable, wipes, unmaps */
}

aios__aead_alg aios__aead_key_alg(const aios__aead_key *key)
{
    return key->alg;
}

static int aead_check(const aios__aead_key *key, const void *out, const void *in, size_t len,
                      const void *tag, const uint8_t *ad, size_t adlen, const uint8_t *nonce,
                      const char *what)
{
    if (key == NULL || tag == NULL || nonce == NULL)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: key, tag or nonce is NULL", what);
    if (len > 0 && (out == NULL || in == NULL))
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: NULL buffer with a nonzero length", what);
    if (adlen > 0 && ad == NULL)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: NULL ad with a nonzero length", what);
    if ((uint64_t)len > aead_max_len(key->alg))
        return aios__fail(AIOS_E_LIMIT, "%s: %zu bytes is more than %s can protect",
                          what, len, aios__aead_name(key->alg));
    return AIOS_OK;
}

int aios__aead_seal(const aios__aead_key *key, uint8_t *ct, uint8_t tag[AIOS__AEAD_TAG_LEN],
                    const uint8_t *pt, size_t len, const uint8_t *ad, size_t adlen,
                    const uint8_t *nonce)
{
    int rc;
    uint8_t dummy = 0;

    if ((rc = aead_check(key, ct, pt, len, tag, ad, adlen, nonce, "AEAD seal")) != AIOS_OK)
        return rc;
    /* libsodium wants valid pointers even for empty inputs. */
    if (len == 0) {
        ct = &dummy;
        pt = &dummy;
    }
    if (adlen == 0)
        ad = NULL;

    switch (key->alg) {
    case AIOS__AEAD_AES256GCM:
        rc = crypto_aead_aes256gcm_encrypt_detached_afternm(ct, tag, NULL, pt, len, ad, adlen,
                                                            NULL, nonce, &key->gcm);
        break;
    case AIOS__AEAD_CHACHA20POLY1305:
        rc = crypto_aead_chacha20poly1305_ietf_encrypt_detached(ct, tag, NULL, pt, len, ad, adlen,
                                                                NULL, nonce, key->key);
        break;
    case AIOS__AEAD_XCHACHA20POLY1305:
        rc = crypto_aead_xchacha20poly1305_ietf_encrypt_detached(ct, tag, NULL, pt, len, ad, adlen,
                                                                 NULL, nonce, key->key);
        break;
    default:
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "AEAD seal: unknown algorithm");
    }
    if (rc != 0) {
        if (len > 0)
            aios__wipe(ct, len);
        aios__wipe(tag, AIOS__AEAD_TAG_LEN);
        return aios__fail(AIOS_E_INTERNAL, "AEAD seal with %s failed", aios__aead_name(key->alg));
    }
    return AIOS_OK;
}

int aios__aead_open(const aios__aead_key *key, uint8_t *pt, const uint8_t *ct, size_t len,
                    const uint8_t tag[AIOS__AEAD_TAG_LEN], const uint8_t *ad, size_t adlen,
                    const uint8_t *nonce)
{
    int rc;
    uint8_t dummy = 0;
    uint8_t *pt_out = pt;

    if ((rc = aead_check(key, pt, ct, len, tag, ad, adlen, nonce, "AEAD open")) != AIOS_OK)
        return rc;
    if (len == 0) {
        pt = &dummy;
        ct = &dummy;
    }
    if (adlen == 0)
        ad = NULL;

    switch (key->alg) {
    case AIOS__AEAD_AES256GCM:
        rc = crypto_aead_aes256gcm_decrypt_detached_afternm(pt, NULL, ct, len, tag, ad, adlen,
                                                            nonce, &key->gcm);
        break;
    case AIOS__AEAD_CHACHA20POLY1305:
        rc = crypto_aead_chacha20poly1305_ietf_decrypt_detached(pt, NULL, ct, len, tag, ad, adlen,
                                                                nonce, key->key);
        break;
    case AIOS__AEAD_XCHACHA20POLY1305:
        rc = crypto_aead_xchacha20poly1305_ietf_decrypt_detached(pt, NULL, ct, len, tag, ad, adlen,
                                                                 nonce, key->key);
        break;
    default:
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "AEAD open: unknown algorithm");
    }
    if (rc != 0) {
        /* Whatever the backend left behind, no unauthenticated byte stays. */
        if (len > 0)
            aios__wipe(pt_out, len);
        return aios__fail(AIOS_E_AUTH, "AEAD open with %s: authentication failed",
                          aios__aead_name(key->alg));
    }
    return AIOS_OK;
}
