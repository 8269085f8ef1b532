/*
 * AES-256-GCM on OpenSSL's libcrypto (EVP), for large inputs: see
 * gcm_ossl.h for why and when.
 *
 * Living beside a host that uses OpenSSL too.  libaios links the system
 * libcrypto.so.3 dynamically, so a host with its own OpenSSL 3 shares the
 * same library and its one default library context.  This file therefore
 * sets nothing global: no OPENSSL_init_crypto() with settings of ours, no
 * configuration loaded or changed by us, no provider loaded by hand, and
 * no cleanup function ever called (that would pull OpenSSL from under the
 * host).  The cipher is fetched once, lazily, from the default context
 * (EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL)): OpenSSL then initialises
 * itself as it would for any caller, which includes reading the system's
 * openssl.cnf.  If that configuration forbids the fetch (say a FIPS-only
 * default property without the FIPS provider), we use libsodium instead.
 * The fetched EVP_CIPHER is kept for the life of the process (an
 * explicit fetch also spares OpenSSL 3's implicit fetch, with its lock,
 * on every EVP_EncryptInit_ex).
 *
 * Contexts.  An EVP_CIPHER_CTX is mutated by every operation and key
 * objects are shared read-only between threads, so each call makes its
 * own context, keys it, and frees it (EVP_CIPHER_CTX_free cleanses the
 * key schedule and GHASH table).  A per-thread cached context re-keyed on
 * each call saves ~100 ns (the two allocations) but would leave the last
 * key schedule in ordinary heap memory until the thread exits and needs
 * a thread-exit destructor; with inputs of at least AIOS__GCM_OSSL_MIN
 * bytes (~0.8 us of work) the allocation is not worth that.
 *
 * Errors.  A tag mismatch raises no OpenSSL error.  Any other failure
 * (allocation) may leave entries in this thread's OpenSSL error queue;
 * they are cleared so that no stale entry misleads a host that reads the
 * queue after its own calls (SSL_get_error does).
 */
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include <sodium.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>

#include "crypto.h"
#include "gcm_ossl.h"
#include "gcm_vaes.h"
#include "../core/internal.h"

/* EVP takes int lengths: feed larger inputs in pieces (a multiple of the
 * block size keeps the stitched code on its fast path). */
#define OSSL_PIECE ((size_t)1 << 30)

static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *gcm_cipher;   /* written once under fetch_once, then read-only */

static void fetch_cipher(void)
{
    gcm_cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    if (gcm_cipher == NULL)
        ERR_clear_error();
}

int aios__gcm_ossl_capable(void)
{
    const aios__cpu_features *cpu = aios__crypto_cpu();
#if defined(__x86_64__)
    return cpu->aesni && cpu->pclmul;
#elif defined(__aarch64__)
    /* The AES and PMULL instructions come together in the ARMv8 Crypto
     * Extension; OpenSSL picks its GHASH code by its own detection. */
    return cpu->arm_aes;
#else
    /* Elsewhere OpenSSL may fall back to table-driven AES: keep the
     * libsodium-or-open-only rules of docs/FORMAT.md section 4. */
    (void)cpu;
    return 0;
#endif
}

int aios__gcm_ossl_ready(void)
{
    if (!aios__gcm_ossl_capable())
        return 0;
    if (pthread_once(&fetch_once, fetch_cipher) != 0)
        return 0;
    return gcm_cipher != NULL;
}

/* The test switch (crypto.h): AIOS__GCM_BACKEND_AUTO, _LIBSODIUM,
 * _OPENSSL or _VAES.  Set by tests while no other thread seals or opens. */
static int forced_backend = AIOS__GCM_BACKEND_AUTO;

int aios__aead_test_gcm_backend(int backend)
{
    switch (backend) {
    case AIOS__GCM_BACKEND_AUTO:
        break;
    case AIOS__GCM_BACKEND_LIBSODIUM:
        if (!crypto_aead_aes256gcm_is_available())
            return aios__fail(AIOS_E_UNSUPPORTED, "libsodium's AES-256-GCM cannot run here");
        break;
    case AIOS__GCM_BACKEND_OPENSSL:
        if (!aios__gcm_ossl_ready())
            return aios__fail(AIOS_E_UNSUPPORTED, "OpenSSL's AES-256-GCM cannot run here");
        break;
    case AIOS__GCM_BACKEND_VAES:
        if (!aios__gcm_vaes_capable())
            return aios__fail(AIOS_E_UNSUPPORTED, "the VAES AES-256-GCM kernel cannot run here "
                              "(no VAES/VPCLMULQDQ with AVX2)");
        break;
    default:
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "unknown AES-256-GCM backend %d", backend);
    }
    forced_backend = backend;
    return AIOS_OK;
}

int aios__gcm_test_backend(void)
{
    return forced_backend;
}

const char *aios__aead_gcm_backend(void)
{
    if (aios__gcm_vaes_capable())
        return "vaes";
    /* ready, not capable: OpenSSL's configuration may refuse the cipher
     * (a FIPS-only openssl.cnf without the FIPS provider), and then the
     * calls stay on libsodium.  This fetches OpenSSL's cipher (once). */
    if (aios__gcm_ossl_ready())
        return "openssl";
    if (crypto_aead_aes256gcm_is_available())
        return "libsodium";
    return "mbedtls";
}

size_t aios__aead_gcm_openssl_min(void)
{
    return AIOS__GCM_OSSL_MIN;
}

int aios__gcm_ossl_use(size_t len)
{
    switch (forced_backend) {
    case AIOS__GCM_BACKEND_LIBSODIUM:
        return 0;
    case AIOS__GCM_BACKEND_OPENSSL:
        return 1;   /* ready: checked when it was forced */
    case AIOS__GCM_BACKEND_VAES:
        return 0;   /* the callers test aios__gcm_test_backend() first */
    default:
        break;
    }
    if (len < AIOS__GCM_OSSL_MIN && crypto_aead_aes256gcm_is_available())
        return 0;   /* libsodium's precomputed state is faster here */
    return aios__gcm_ossl_ready();
}

const char *aios__crypto_openssl_version(void)
{
    return OpenSSL_version(OPENSSL_VERSION_STRING);
}

int aios__crypto_test_openssl_error_pending(void)
{
    return ERR_peek_error() != 0;
}

/* Feed len bytes to EVP_CipherUpdate in int-sized pieces; out NULL for
 * associated data. */
static int ossl_update(EVP_CIPHER_CTX *ctx, uint8_t *out, const uint8_t *in, size_t len)
{
    while (len > 0) {
        size_t n = len < OSSL_PIECE ? len : OSSL_PIECE;
        int outl = 0;
        if (EVP_CipherUpdate(ctx, out, &outl, in, (int)n) != 1 ||
            (out != NULL && (size_t)outl != n))
            return 0;
        if (out != NULL)
            out += n;
        in += n;
        len -= n;
    }
    return 1;
}

/* A fresh context keyed for one operation (enc 1: seal, 0: open). */
static int ossl_begin(EVP_CIPHER_CTX **out, const uint8_t *key, const uint8_t *nonce, int enc,
                      const char *what)
{
    EVP_CIPHER_CTX *ctx;

    *out = NULL;
    if (!aios__gcm_ossl_ready())
        return aios__fail(AIOS_E_INTERNAL, "%s with aes256gcm: OpenSSL's AES-256-GCM is "
                          "unavailable", what);
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        ERR_clear_error();
        return aios__fail(AIOS_E_NOMEM, "%s with aes256gcm (OpenSSL): out of memory", what);
    }
    /* OpenSSL's default IV length for AES-256-GCM is 12 bytes, ours. */
    if (EVP_CipherInit_ex(ctx, gcm_cipher, NULL, key, nonce, enc) != 1) {
        EVP_CIPHER_CTX_free(ctx);
        ERR_clear_error();
        return aios__fail(AIOS_E_INTERNAL, "%s with aes256gcm (OpenSSL): key set-up failed",
                          what);
    }
    *out = ctx;
    return AIOS_OK;
}

int aios__gcm_ossl_seal(const uint8_t key[32], uint8_t *ct, uint8_t tag[16],
                        const uint8_t *pt, size_t len, const uint8_t *ad, size_t adlen,
                        const uint8_t nonce[12])
{
    EVP_CIPHER_CTX *ctx;
    int outl = 0, ok, rc;

    if ((rc = ossl_begin(&ctx, key, nonce, 1, "AEAD seal")) != AIOS_OK) {
        if (len > 0)
            aios__wipe(ct, len);
        aios__wipe(tag, AIOS__AEAD_TAG_LEN);
        return rc;
    }
    ok = ossl_update(ctx, NULL, ad, adlen) && ossl_update(ctx, ct, pt, len) &&
         EVP_EncryptFinal_ex(ctx, ct + len, &outl) == 1 && outl == 0 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, AIOS__AEAD_TAG_LEN, tag) == 1;
    EVP_CIPHER_CTX_free(ctx);   /* cleanses the key schedule and GHASH state */
    if (!ok) {
        ERR_clear_error();
        if (len > 0)
            aios__wipe(ct, len);
        aios__wipe(tag, AIOS__AEAD_TAG_LEN);
        return aios__fail(AIOS_E_INTERNAL, "AEAD seal with aes256gcm (OpenSSL) failed");
    }
    return AIOS_OK;
}

/* EVP decrypts into pt before EVP_DecryptFinal_ex checks the tag, so the
 * plaintext is in the caller's buffer for a moment while unauthenticated.
 * The contract (crypto.h, aios__aead_open) is about what the caller sees
 * after the call: on any failure pt is wiped before we return, so no
 * unauthenticated byte is ever released.  The tag is compared in constant
 * time by OpenSSL (CRYPTO_memcmp). */
int aios__gcm_ossl_open(const uint8_t key[32], uint8_t *pt, const uint8_t *ct, size_t len,
                        const uint8_t tag[16], const uint8_t *ad, size_t adlen,
                        const uint8_t nonce[12])
{
    EVP_CIPHER_CTX *ctx;
    uint8_t tagbuf[AIOS__AEAD_TAG_LEN];
    int outl = 0, ok, auth, rc;

    if ((rc = ossl_begin(&ctx, key, nonce, 0, "AEAD open")) != AIOS_OK) {
        if (len > 0)
            aios__wipe(pt, len);
        return rc;
    }
    memcpy(tagbuf, tag, sizeof(tagbuf));   /* the ctrl takes a non-const pointer */
    ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, AIOS__AEAD_TAG_LEN, tagbuf) == 1 &&
         ossl_update(ctx, NULL, ad, adlen) && ossl_update(ctx, pt, ct, len);
    auth = ok && EVP_DecryptFinal_ex(ctx, pt + len, &outl) == 1 && outl == 0;
    EVP_CIPHER_CTX_free(ctx);
    if (!auth) {
        if (len > 0)
            aios__wipe(pt, len);
        if (!ok) {
            ERR_clear_error();
            return aios__fail(AIOS_E_INTERNAL, "AEAD open with aes256gcm (OpenSSL) failed");
        }
        return 1;
    }
    return 0;
}
