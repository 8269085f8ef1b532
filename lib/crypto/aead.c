/*
 * AEADs: AES-256-GCM (hardware AES only), ChaCha20-Poly1305 (IETF,
 * RFC 8439) and XChaCha20-Poly1305 (192-bit nonce), all with detached
 * tags, through libsodium, plus OpenSSL's libcrypto for large AES-GCM
 * inputs.
 *
 * AES-256-GCM runs on three backends that give the same bytes.  Where
 * the CPU has VAES and VPCLMULQDQ (gcm_vaes.c: AMD Zen 3 on, Intel Ice
 * Lake on), our kernel takes every length, with its round keys and
 * powers of H precomputed once per key object: it beats libsodium at
 * 64 bytes and OpenSSL 3.0 at 64 KiB (docs/PERFORMANCE.md).  Elsewhere
 * libsodium's (AES-NI + PCLMULQDQ, key schedule and GHASH powers
 * precomputed once per key object) runs inputs under AIOS__GCM_OSSL_MIN
 * bytes, and OpenSSL's EVP (gcm_ossl.c: ~2.5x faster on large inputs,
 * but it expands the key per call) from there on, and every size on
 * CPUs where only OpenSSL's runs (AArch64 with the AES instructions).  A
 * key object keeps the raw key as well as one precomputed state (the
 * VAES kernel's or libsodium's, in a union: the object fits a 1024-byte
 * slab slot).
 *
 * On a CPU without hardware AES an AES-256-GCM key object is still made,
 * but it can only open: decryption then runs on mbedTLS's software GCM
 * (docs/FORMAT.md section 4: a reader opens every suite on every CPU;
 * bulk sealing never uses mbedTLS GCM).
 *
 * Key objects live in the small-secret slab (locked, undumpable), are
 * read-only after construction (so they may be shared between threads)
 * and are wiped when freed.  OpenSSL contexts are per call, never shared.
 */
#include <stdint.h>
#include <string.h>

#include <sodium.h>
#include <mbedtls/gcm.h>
#include <mbedtls/cipher.h>

#include "crypto.h"
#include "gcm_ossl.h"
#include "gcm_vaes.h"
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

/* The key object, in a slot of the small-secret slab (locked, undumpable,
 * wiped on free; aligned to the slot size, at least 64, which the AES-GCM
 * state's 16-byte alignment needs). */
struct aios__aead_key {
    union {
        crypto_aead_aes256gcm_state sodium;   /* AES-256-GCM on libsodium (if sodium) */
        aios__gcm_vaes_key          vaes;     /* AES-256-GCM on VAES (if vaes) */
    } gcm;
    uint8_t                     key[AIOS__AEAD_KEY_LEN];   /* every algorithm and path */
    aios__aead_alg              alg;
    int                         soft;    /* AES-256-GCM on mbedTLS: open only */
    int                         sodium;  /* gcm.sodium holds libsodium's state */
    int                         vaes;    /* gcm.vaes holds the VAES kernel's state */
};

/* Test-only: make AES-256-GCM key objects use the software path even
 * where libsodium's is available.  Read when a key object is made. */
static int force_soft_gcm;

void aios__aead_test_force_soft_gcm(int on)
{
    force_soft_gcm = on != 0;
}

#define AEAD_KEY_ALLOC (((sizeof(struct aios__aead_key) + 63) / 64) * 64)
_Static_assert(AEAD_KEY_ALLOC <= AIOS__SECRET_SLOT_MAX, "an AEAD key object fits a slab slot");

_Static_assert(64 % _Alignof(struct aios__aead_key) == 0, "aead key alignment");

int aios__aead_available(aios__aead_alg alg)
{
    switch (alg) {
    case AIOS__AEAD_AES256GCM:
        /* libsodium's own detection, the one its implementation obeys;
         * else OpenSSL's on hardware AES (gcm_ossl.c). */
        return crypto_aead_aes256gcm_is_available() != 0 || aios__gcm_ossl_ready();
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
    /* Only AES-256-GCM can be unavailable, and it then gets the
     * open-only software path. */

    k = aios__secret_alloc(AEAD_KEY_ALLOC);
    if (k == NULL)
        return aios__fail(AIOS_E_NOMEM, "cannot allocate secure memory for an AEAD key");
    if ((uintptr_t)k % _Alignof(struct aios__aead_key) != 0) {
        aios__secret_free(k, AEAD_KEY_ALLOC);
        return aios__fail(AIOS_E_INTERNAL, "secure memory is misaligned for an AEAD key");
    }
    memset(k, 0, AEAD_KEY_ALLOC);
    k->alg = alg;
    /* The raw key serves ChaCha20, OpenSSL's GCM (keyed per call) and
     * mbedTLS's (whose context is mutated by every operation, so it is
     * set up per open: see soft_gcm_open). */
    memcpy(k->key, key, AIOS__AEAD_KEY_LEN);
    if (alg == AIOS__AEAD_AES256GCM && (force_soft_gcm || !aios__aead_available(alg))) {
        k->soft = 1;
    } else if (alg == AIOS__AEAD_AES256GCM && aios__gcm_vaes_capable() &&
               aios__gcm_test_backend() != AIOS__GCM_BACKEND_LIBSODIUM) {
        aios__gcm_vaes_key_init(&k->gcm.vaes, key);
        k->vaes = 1;
    } else if (alg == AIOS__AEAD_AES256GCM && crypto_aead_aes256gcm_is_available()) {
        if (crypto_aead_aes256gcm_beforenm(&k->gcm.sodium, key) != 0) {
            aios__secret_free(k, AEAD_KEY_ALLOC);
            return aios__fail(AIOS_E_INTERNAL, "AES-256-GCM key expansion failed");
        }
        k->sodium = 1;
    }
    *out = k;
    return AIOS_OK;
}

void aios__aead_key_free(aios__aead_key *key)
{
    aios__secret_free(key, AEAD_KEY_ALLOC);   /* NULL-safe; wipes */
}

aios__aead_alg aios__aead_key_alg(const aios__aead_key *key)
{
    return key->alg;
}

int aios__aead_key_can_seal(const aios__aead_key *key)
{
    return key != NULL && !key->soft;
}

/* AES-256-GCM open on mbedTLS (software AES tables, or its own AES-NI
 * code).  A fresh context per call keeps the shared key object read-only,
 * so any number of threads may open with it; the cost (key expansion and
 * the GHASH table) is small next to a chunk.  mbedtls_gcm_auth_decrypt
 * checks the tag in constant time and zeroes the output on failure; the
 * caller wipes again whatever happens. */
static int soft_gcm_open(const aios__aead_key *key, uint8_t *pt, const uint8_t *ct, size_t len,
                         const uint8_t tag[AIOS__AEAD_TAG_LEN], const uint8_t *ad, size_t adlen,
                         const uint8_t *nonce)
{
    mbedtls_gcm_context gcm;
    int rc;

    mbedtls_gcm_init(&gcm);
    rc = mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, key->key, AIOS__AEAD_KEY_LEN * 8);
    if (rc != 0) {
        mbedtls_gcm_free(&gcm);
        if (rc == MBEDTLS_ERR_CIPHER_ALLOC_FAILED)
            return aios__fail(AIOS_E_NOMEM, "AEAD open with aes256gcm (software): out of memory");
        return aios__fail(AIOS_E_INTERNAL, "AEAD open with aes256gcm (software): key set-up failed");
    }
    rc = mbedtls_gcm_auth_decrypt(&gcm, len, nonce, crypto_aead_aes256gcm_NPUBBYTES, ad, adlen,
                                  tag, AIOS__AEAD_TAG_LEN, ct, pt);
    mbedtls_gcm_free(&gcm);   /* zeroizes the context (key schedule, H table) */
    if (rc == MBEDTLS_ERR_GCM_AUTH_FAILED)
        return 1;
    if (rc != 0)
        return aios__fail(AIOS_E_INTERNAL, "AEAD open with aes256gcm (software) failed");
    return 0;
}

/* Which AES-256-GCM backend runs a call of len bytes with this key. */
enum { GCM_SODIUM, GCM_OSSL, GCM_VAES };

static int gcm_pick(const aios__aead_key *key, size_t len)
{
    switch (aios__gcm_test_backend()) {
    case AIOS__GCM_BACKEND_VAES:      return GCM_VAES;
    case AIOS__GCM_BACKEND_LIBSODIUM: return GCM_SODIUM;
    case AIOS__GCM_BACKEND_OPENSSL:   return GCM_OSSL;
    default:                          break;
    }
    if (key->vaes)
        return GCM_VAES;   /* faster than both at every length measured */
    if (!key->sodium || aios__gcm_ossl_use(len))
        return GCM_OSSL;
    return GCM_SODIUM;
}

/* A backend forced by the test switch on a key object that holds the
 * other backend's state: that state is expanded on the stack for the call
 * and wiped (tests and benchmarks only; AUTO never gets here). */
static void gcm_vaes_seal_key(const aios__aead_key *key, uint8_t *ct, uint8_t *tag,
                              const uint8_t *pt, size_t len, const uint8_t *ad, size_t adlen,
                              const uint8_t *nonce)
{
    aios__gcm_vaes_key tmp;
    if (key->vaes) {
        aios__gcm_vaes_seal(&key->gcm.vaes, ct, tag, pt, len, ad, adlen, nonce);
        return;
    }
    aios__gcm_vaes_key_init(&tmp, key->key);
    aios__gcm_vaes_seal(&tmp, ct, tag, pt, len, ad, adlen, nonce);
    aios__gcm_vaes_key_wipe(&tmp);
}

static int gcm_vaes_open_key(const aios__aead_key *key, uint8_t *pt, const uint8_t *ct, size_t len,
                             const uint8_t *tag, const uint8_t *ad, size_t adlen,
                             const uint8_t *nonce)
{
    aios__gcm_vaes_key tmp;
    int rc;
    if (key->vaes)
        return aios__gcm_vaes_open(&key->gcm.vaes, pt, ct, len, tag, ad, adlen, nonce);
    aios__gcm_vaes_key_init(&tmp, key->key);
    rc = aios__gcm_vaes_open(&tmp, pt, ct, len, tag, ad, adlen, nonce);
    aios__gcm_vaes_key_wipe(&tmp);
    return rc;
}

static int gcm_sodium_seal_key(const aios__aead_key *key, uint8_t *ct, uint8_t *tag,
                               const uint8_t *pt, size_t len, const uint8_t *ad, size_t adlen,
                               const uint8_t *nonce)
{
    crypto_aead_aes256gcm_state tmp;
    int rc;
    if (key->sodium)
        return crypto_aead_aes256gcm_encrypt_detached_afternm(ct, tag, NULL, pt, len, ad, adlen,
                                                              NULL, nonce, &key->gcm.sodium);
    (void)crypto_aead_aes256gcm_beforenm(&tmp, key->key);
    rc = crypto_aead_aes256gcm_encrypt_detached_afternm(ct, tag, NULL, pt, len, ad, adlen,
                                                        NULL, nonce, &tmp);
    sodium_memzero(&tmp, sizeof(tmp));
    return rc;
}

static int gcm_sodium_open_key(const aios__aead_key *key, uint8_t *pt, const uint8_t *ct,
                               size_t len, const uint8_t *tag, const uint8_t *ad, size_t adlen,
                               const uint8_t *nonce)
{
    crypto_aead_aes256gcm_state tmp;
    int rc;
    if (key->sodium)
        return crypto_aead_aes256gcm_decrypt_detached_afternm(pt, NULL, ct, len, tag, ad, adlen,
                                                              nonce, &key->gcm.sodium);
    (void)crypto_aead_aes256gcm_beforenm(&tmp, key->key);
    rc = crypto_aead_aes256gcm_decrypt_detached_afternm(pt, NULL, ct, len, tag, ad, adlen,
                                                        nonce, &tmp);
    sodium_memzero(&tmp, sizeof(tmp));
    return rc;
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
    if (key->soft)
        return aios__fail(AIOS_E_UNSUPPORTED,
                          "AEAD seal with aes256gcm needs hardware AES (AES-NI and PCLMULQDQ, "
                          "or the ARMv8 AES instructions), which this CPU lacks (this key can "
                          "only open)");
    /* libsodium wants valid pointers even for empty inputs. */
    if (len == 0) {
        ct = &dummy;
        pt = &dummy;
    }
    if (adlen == 0)
        ad = NULL;

    switch (key->alg) {
    case AIOS__AEAD_AES256GCM:
        switch (gcm_pick(key, len)) {
        case GCM_VAES:
            gcm_vaes_seal_key(key, ct, tag, pt, len, ad, adlen, nonce);
            return AIOS_OK;
        case GCM_OSSL:
            return aios__gcm_ossl_seal(key->key, ct, tag, pt, len, ad, adlen, nonce);
        default:
            rc = gcm_sodium_seal_key(key, ct, tag, pt, len, ad, adlen, nonce);
            break;
        }
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
        if (key->soft) {
            rc = soft_gcm_open(key, pt, ct, len, tag, ad, adlen, nonce);
            if (rc < 0) {
                if (len > 0)
                    aios__wipe(pt_out, len);
                return rc;
            }
        } else {
            switch (gcm_pick(key, len)) {
            case GCM_VAES:
                /* Decrypts into pt while hashing the ciphertext, then
                 * checks the tag in constant time: pt is wiped on failure
                 * before we return (gcm_vaes.c). */
                rc = gcm_vaes_open_key(key, pt, ct, len, tag, ad, adlen, nonce);
                break;
            case GCM_OSSL:
                /* Decrypts into pt, then checks the tag: pt is wiped on
                 * failure before we return (gcm_ossl.c). */
                rc = aios__gcm_ossl_open(key->key, pt, ct, len, tag, ad, adlen, nonce);
                if (rc < 0)
                    return rc;
                break;
            default:
                rc = gcm_sodium_open_key(key, pt, ct, len, tag, ad, adlen, nonce);
                break;
            }
        }
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
