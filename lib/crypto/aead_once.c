/*
 * One-shot AEAD calls with a raw key held by the caller (on its stack),
 * for keys used once: the per-record keys of envelope sessions
 * (docs/FORMAT.md 9.2).  Unlike aios__aead_key_new (guarded memory: an
 * mmap per key), nothing here allocates or makes a system call on the
 * libsodium paths; the AES-256-GCM key schedule lives on the stack and is
 * wiped.  Where the CPU has VAES (gcm_vaes.c) AES-256-GCM runs on our
 * kernel at every length (its round keys and powers of H expanded on the
 * stack per call and wiped: cheaper than libsodium's set-up, see
 * docs/PERFORMANCE.md).  Elsewhere records are usually small and stay on
 * libsodium; AES-256-GCM inputs of at least AIOS__GCM_OSSL_MIN bytes go
 * to OpenSSL's EVP (gcm_ossl.c: a context allocated, keyed and cleansed
 * per call), as with key objects.
 * Suite rules as in aead.c: sealing AES-256-GCM needs hardware AES;
 * opening it without uses mbedTLS's software GCM when the caller allows
 * it (which allocates, in mbedTLS).
 */
#include <string.h>

#include <sodium.h>
#include <mbedtls/cipher.h>
#include <mbedtls/gcm.h>

#include "crypto.h"
#include "gcm_ossl.h"
#include "gcm_vaes.h"
#include "../core/internal.h"

static const uint8_t dummy_byte[1];

/* 1 if a one-shot AES-256-GCM call goes to the VAES kernel: forced by the
 * test switch, or in the automatic choice wherever it runs. */
static int once_vaes(void)
{
    int forced = aios__gcm_test_backend();
    if (forced == AIOS__GCM_BACKEND_VAES)
        return 1;
    return forced == AIOS__GCM_BACKEND_AUTO && aios__gcm_vaes_capable();
}

static int once_check(aios__aead_alg alg, const uint8_t *key, const void *out, const void *in,
                      size_t len, const void *tag, const uint8_t *ad, size_t adlen,
                      const uint8_t *nonce, const char *what)
{
    if (key == NULL || tag == NULL || nonce == NULL)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: key, tag or nonce is NULL", what);
    if (len > 0 && (out == NULL || in == NULL))
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: NULL buffer with a nonzero length", what);
    if (adlen > 0 && ad == NULL)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: NULL ad with a nonzero length", what);
    switch (alg) {
    case AIOS__AEAD_AES256GCM:
        if ((uint64_t)len > (uint64_t)crypto_aead_aes256gcm_MESSAGEBYTES_MAX)
            break;
        return AIOS_OK;
    case AIOS__AEAD_CHACHA20POLY1305:
        if ((uint64_t)len > (uint64_t)crypto_aead_chacha20poly1305_ietf_MESSAGEBYTES_MAX)
            break;
        return AIOS_OK;
    case AIOS__AEAD_XCHACHA20POLY1305:
        if ((uint64_t)len > (uint64_t)crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX)
            break;
        return AIOS_OK;
    default:
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: unknown AEAD algorithm %d", what, (int)alg);
    }
    return aios__fail(AIOS_E_LIMIT, "%s: %zu bytes is more than %s can protect", what, len,
                      aios__aead_name(alg));
}

int aios__aead_seal_once(aios__aead_alg alg, const uint8_t key[AIOS__AEAD_KEY_LEN],
                         uint8_t *ct, uint8_t tag[AIOS__AEAD_TAG_LEN],
                         const uint8_t *pt, size_t len, const uint8_t *ad, size_t adlen,
                         const uint8_t *nonce)
{
    crypto_aead_aes256gcm_state gcm;
    aios__gcm_vaes_key vk;
    uint8_t dummy = 0;
    int rc;

    if ((rc = once_check(alg, key, ct, pt, len, tag, ad, adlen, nonce, "AEAD seal")) != AIOS_OK)
        return rc;
    if (len == 0) {
        ct = &dummy;
        pt = dummy_byte;
    }
    if (adlen == 0)
        ad = NULL;
    switch (alg) {
    case AIOS__AEAD_AES256GCM:
        if (once_vaes()) {
            aios__gcm_vaes_key_init(&vk, key);
            aios__gcm_vaes_seal(&vk, ct, tag, pt, len, ad, adlen, nonce);
            aios__gcm_vaes_key_wipe(&vk);
            return AIOS_OK;
        }
        if (aios__gcm_ossl_use(len))
            return aios__gcm_ossl_seal(key, ct, tag, pt, len, ad, adlen, nonce);
        if (!crypto_aead_aes256gcm_is_available())
            return aios__fail(AIOS_E_UNSUPPORTED, "AEAD seal with aes256gcm needs hardware AES "
                              "(AES-NI and PCLMULQDQ, or the ARMv8 AES instructions), which "
                              "this CPU lacks");
        (void)crypto_aead_aes256gcm_beforenm(&gcm, key);
        rc = crypto_aead_aes256gcm_encrypt_detached_afternm(ct, tag, NULL, pt, len, ad, adlen,
                                                            NULL, nonce, &gcm);
        aios__wipe(&gcm, sizeof(gcm));
        break;
    case AIOS__AEAD_CHACHA20POLY1305:
        rc = crypto_aead_chacha20poly1305_ietf_encrypt_detached(ct, tag, NULL, pt, len, ad, adlen,
                                                                NULL, nonce, key);
        break;
    default:
        rc = crypto_aead_xchacha20poly1305_ietf_encrypt_detached(ct, tag, NULL, pt, len, ad, adlen,
                                                                 NULL, nonce, key);
        break;
    }
    if (rc != 0) {
        if (len > 0)
            aios__wipe(ct, len);
        aios__wipe(tag, AIOS__AEAD_TAG_LEN);
        return aios__fail(AIOS_E_INTERNAL, "AEAD seal with %s failed", aios__aead_name(alg));
    }
    return AIOS_OK;
}

/* AES-256-GCM open on mbedTLS's software GCM (see aead.c). */
static int soft_gcm_open_once(const uint8_t *key, uint8_t *pt, const uint8_t *ct, size_t len,
                              const uint8_t *tag, const uint8_t *ad, size_t adlen,
                              const uint8_t *nonce)
{
    mbedtls_gcm_context g;
    int rc;

    mbedtls_gcm_init(&g);
    rc = mbedtls_gcm_setkey(&g, MBEDTLS_CIPHER_ID_AES, key, AIOS__AEAD_KEY_LEN * 8);
    if (rc != 0) {
        mbedtls_gcm_free(&g);
        if (rc == MBEDTLS_ERR_CIPHER_ALLOC_FAILED)
            return aios__fail(AIOS_E_NOMEM, "AEAD open with aes256gcm (software): out of memory");
        return aios__fail(AIOS_E_INTERNAL, "AEAD open with aes256gcm (software): key set-up failed");
    }
    rc = mbedtls_gcm_auth_decrypt(&g, len, nonce, crypto_aead_aes256gcm_NPUBBYTES, ad, adlen,
                                  tag, AIOS__AEAD_TAG_LEN, ct, pt);
    mbedtls_gcm_free(&g);
    if (rc == MBEDTLS_ERR_GCM_AUTH_FAILED)
        return 1;
    if (rc != 0)
        return aios__fail(AIOS_E_INTERNAL, "AEAD open with aes256gcm (software) failed");
    return 0;
}

int aios__aead_open_once(aios__aead_alg alg, const uint8_t key[AIOS__AEAD_KEY_LEN],
                         uint8_t *pt, const uint8_t *ct, size_t len,
                         const uint8_t tag[AIOS__AEAD_TAG_LEN], const uint8_t *ad, size_t adlen,
                         const uint8_t *nonce, int soft_ok)
{
    crypto_aead_aes256gcm_state gcm;
    aios__gcm_vaes_key vk;
    uint8_t dummy = 0;
    uint8_t *pt_out = pt;
    int rc;

    if ((rc = once_check(alg, key, pt, ct, len, tag, ad, adlen, nonce, "AEAD open")) != AIOS_OK)
        return rc;
    if (len == 0) {
        pt = &dummy;
        ct = dummy_byte;
    }
    if (adlen == 0)
        ad = NULL;
    switch (alg) {
    case AIOS__AEAD_AES256GCM:
        if (once_vaes()) {
            /* Decrypts while hashing, checks the tag in constant time,
             * wipes pt on failure (gcm_vaes.c). */
            aios__gcm_vaes_key_init(&vk, key);
            rc = aios__gcm_vaes_open(&vk, pt, ct, len, tag, ad, adlen, nonce);
            aios__gcm_vaes_key_wipe(&vk);
        } else if (aios__gcm_ossl_use(len)) {
            /* Decrypts into pt, then checks the tag: pt is wiped on
             * failure before we return (gcm_ossl.c). */
            rc = aios__gcm_ossl_open(key, pt, ct, len, tag, ad, adlen, nonce);
            if (rc < 0)
                return rc;
        } else if (crypto_aead_aes256gcm_is_available()) {
            (void)crypto_aead_aes256gcm_beforenm(&gcm, key);
            rc = crypto_aead_aes256gcm_decrypt_detached_afternm(pt, NULL, ct, len, tag, ad, adlen,
                                                                nonce, &gcm);
            aios__wipe(&gcm, sizeof(gcm));
        } else if (soft_ok) {
            rc = soft_gcm_open_once(key, pt, ct, len, tag, ad, adlen, nonce);
            if (rc < 0) {
                if (len > 0)
                    aios__wipe(pt_out, len);
                return rc;
            }
        } else {
            return aios__fail(AIOS_E_UNSUPPORTED, "AEAD open with aes256gcm: this CPU lacks "
                              "hardware AES and the software path was refused");
        }
        break;
    case AIOS__AEAD_CHACHA20POLY1305:
        rc = crypto_aead_chacha20poly1305_ietf_decrypt_detached(pt, NULL, ct, len, tag, ad, adlen,
                                                                nonce, key);
        break;
    default:
        rc = crypto_aead_xchacha20poly1305_ietf_decrypt_detached(pt, NULL, ct, len, tag, ad, adlen,
                                                                 nonce, key);
        break;
    }
    if (rc != 0) {
        if (len > 0)
            aios__wipe(pt_out, len);
        return aios__fail(AIOS_E_AUTH, "AEAD open with %s: authentication failed",
                          aios__aead_name(alg));
    }
    return AIOS_OK;
}
