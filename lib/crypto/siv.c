/*
 * AES-SIV (RFC 5297, "SIV-AES"): deterministic authenticated encryption
 * with a vector of associated data strings, on mbedTLS's AES-CMAC (S2V,
 * RFC 5297 section 2.4) and AES block cipher (CTR, section 2.5).
 *
 * The key is K1 || K2 (two AES keys of 128, 192 or 256 bits): K1 keys
 * AES-CMAC inside S2V, K2 the CTR encryption.  Sealing computes
 * V = S2V(K1, AD1, ..., ADn, P) and C = CTR(K2, Q, P) with Q = V whose bits
 * 63 and 31 (counting from the right) are cleared; the output is V || C.
 * Opening decrypts with the V it was given, recomputes S2V over the
 * result and compares it with V in constant time before the plaintext is
 * released; a failure wipes the plaintext.
 *
 * Debian's mbedTLS 2.28 has AES-CMAC (MBEDTLS_CMAC_C) but no SIV.  S2V's
 * doubling in GF(2^128) is written here without branches on its (secret)
 * input.  The CTR counter is our own 128-bit big-endian counter over
 * single AES blocks (mbedtls_aes_crypt_ecb, AES-NI where the CPU has it),
 * so that the increment, the one piece of arithmetic SIV implementations
 * get wrong, can be tested on its own (aios__aes_siv_ctr_inc).  Because
 * bit 31 of Q is cleared and a message is at most AIOS__SIV_MAX bytes
 * (2^27 blocks), the low 32-bit word of the counter never wraps; the
 * increment still carries through all 128 bits.
 *
 * Every local block (S2V's D and T, V, counter, key stream) is wiped and
 * every mbedTLS context freed (which zeroizes it) on every path.  The
 * key halves are passed to mbedTLS by pointer and never copied here.
 */
#include <stdint.h>
#include <string.h>

#include <mbedtls/aes.h>
#include <mbedtls/cipher.h>
#include <mbedtls/cmac.h>
#include <mbedtls/platform_util.h>

#include "crypto.h"
#include "../core/internal.h"

#if !defined(MBEDTLS_CMAC_C) || !defined(MBEDTLS_AES_C)
#error "AES-SIV needs mbedTLS built with MBEDTLS_CMAC_C and MBEDTLS_AES_C"
#endif

#define SIV_BLOCK AIOS__SIV_TAG_LEN

_Static_assert(AIOS__SIV_TAG_LEN == 16, "V is one AES block");
_Static_assert(AIOS__SIV_AD_MAX == 126, "RFC 5297 section 2.6: at most 126 AD components");
_Static_assert(AIOS__SIV_MAX <= SIZE_MAX - SIV_BLOCK, "lengths plus V fit a size_t");

/* ------------------------------------------------------------ helpers */

void aios__aes_siv_ctr_inc(uint8_t ctr[AIOS__SIV_TAG_LEN])
{
    unsigned int carry = 1, v;
    int i;
    /* Every byte is read and written whatever the carry: no early exit. */
    for (i = SIV_BLOCK - 1; i >= 0; i--) {
        v = (unsigned int)ctr[i] + carry;
        ctr[i] = (uint8_t)v;
        carry = v >> 8;
    }
}

/* dbl (RFC 5297 section 2.3): multiplication by x in GF(2^128) with the
 * polynomial x^128 + x^7 + x^2 + x + 1, the block big-endian.  The
 * reduction is a mask, not a branch on the top bit. */
static void siv_dbl(uint8_t b[SIV_BLOCK])
{
    uint8_t mask = (uint8_t)(0u - (unsigned int)(b[0] >> 7));
    int i;
    for (i = 0; i < SIV_BLOCK - 1; i++)
        b[i] = (uint8_t)((b[i] << 1) | (b[i + 1] >> 7));
    b[SIV_BLOCK - 1] = (uint8_t)((b[SIV_BLOCK - 1] << 1) ^ (mask & 0x87));
}

static void xor_block(uint8_t *dst, const uint8_t *src, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        dst[i] ^= src[i];
}

/* mbedtls_cipher_cmac_update refuses a NULL input even for zero bytes. */
static int cmac_update(mbedtls_cipher_context_t *cmac, const uint8_t *p, size_t len)
{
    return len == 0 ? 0 : mbedtls_cipher_cmac_update(cmac, p, len);
}

/* AES-CMAC of one whole string under the key already set in cmac. */
static int cmac_one(mbedtls_cipher_context_t *cmac, uint8_t out[SIV_BLOCK],
                    const uint8_t *p, size_t len)
{
    int rc = mbedtls_cipher_cmac_reset(cmac);
    if (rc == 0)
        rc = cmac_update(cmac, p, len);
    if (rc == 0)
        rc = mbedtls_cipher_cmac_finish(cmac, out);
    return rc;
}

static mbedtls_cipher_type_t cmac_type(size_t half)
{
    return half == 16 ? MBEDTLS_CIPHER_AES_128_ECB
         : half == 24 ? MBEDTLS_CIPHER_AES_192_ECB
                      : MBEDTLS_CIPHER_AES_256_ECB;
}

/* S2V (RFC 5297 section 2.4) of ad[0..n-1] followed by the last string s,
 * under K1 (half bytes).  The plaintext is always the last string, so the
 * S2V of zero strings never arises. */
static int siv_s2v(const char *what, uint8_t v[SIV_BLOCK], const uint8_t *k1, size_t half,
                   const aios__siv_ad *ad, size_t n, const uint8_t *s, size_t len)
{
    static const uint8_t zero[SIV_BLOCK] = { 0 };
    const mbedtls_cipher_info_t *info = mbedtls_cipher_info_from_type(cmac_type(half));
    mbedtls_cipher_context_t cmac;
    uint8_t d[SIV_BLOCK], t[SIV_BLOCK];
    size_t i;
    int rc, status = AIOS_OK;

    mbedtls_cipher_init(&cmac);
    memset(d, 0, sizeof(d));
    memset(t, 0, sizeof(t));
    if (info == NULL) {
        status = aios__fail(AIOS_E_INTERNAL, "%s: mbedTLS has no AES-%zu", what, half * 8);
        goto done;
    }
    if ((rc = mbedtls_cipher_setup(&cmac, info)) != 0) {
        status = rc == MBEDTLS_ERR_CIPHER_ALLOC_FAILED
                     ? aios__fail(AIOS_E_NOMEM, "%s: out of memory for the CMAC context", what)
                     : aios__fail(AIOS_E_INTERNAL, "%s: mbedTLS refused the CMAC setup", what);
        goto done;
    }
    rc = mbedtls_cipher_cmac_starts(&cmac, k1, half * 8);
    /* D = AES-CMAC(K1, <zero>); then D = dbl(D) xor AES-CMAC(K1, ADi). */
    if (rc == 0)
        rc = cmac_one(&cmac, d, zero, sizeof(zero));
    for (i = 0; i < n && rc == 0; i++) {
        rc = cmac_one(&cmac, t, ad[i].p, ad[i].len);
        siv_dbl(d);
        xor_block(d, t, SIV_BLOCK);
    }
    if (rc == 0)
        rc = mbedtls_cipher_cmac_reset(&cmac);
    if (rc == 0 && len >= SIV_BLOCK) {
        /* T = S xorend D: MAC all but the last block as is, then the last
         * block with D folded in. */
        rc = cmac_update(&cmac, s, len - SIV_BLOCK);
        memcpy(t, s + len - SIV_BLOCK, SIV_BLOCK);
        xor_block(t, d, SIV_BLOCK);
    } else if (rc == 0) {
        /* T = dbl(D) xor pad(S), pad being 10* up to one block. */
        siv_dbl(d);
        memset(t, 0, sizeof(t));
        if (len > 0)
            memcpy(t, s, len);
        t[len] = 0x80;
        xor_block(t, d, SIV_BLOCK);
    }
    if (rc == 0)
        rc = mbedtls_cipher_cmac_update(&cmac, t, SIV_BLOCK);
    if (rc == 0)
        rc = mbedtls_cipher_cmac_finish(&cmac, v);
    if (rc != 0)
        status = aios__fail(AIOS_E_INTERNAL, "%s: AES-CMAC failed", what);
done:
    if (status != AIOS_OK)
        mbedtls_platform_zeroize(v, SIV_BLOCK);
    mbedtls_platform_zeroize(d, sizeof(d));
    mbedtls_platform_zeroize(t, sizeof(t));
    mbedtls_cipher_free(&cmac);
    return status;
}

/* CTR (RFC 5297 section 2.5), in place on buf: the key stream of
 * AES(K2, Q), AES(K2, Q + 1), ... with Q = V and bits 63 and 31 cleared. */
static int siv_ctr(const char *what, uint8_t *buf, size_t len, const uint8_t *k2, size_t half,
                   const uint8_t v[SIV_BLOCK])
{
    mbedtls_aes_context aes;
    uint8_t ctr[SIV_BLOCK], ks[SIV_BLOCK];
    size_t n;
    int status = AIOS_OK;

    mbedtls_aes_init(&aes);
    memcpy(ctr, v, SIV_BLOCK);
    ctr[8] &= 0x7f;
    ctr[12] &= 0x7f;
    memset(ks, 0, sizeof(ks));
    if (mbedtls_aes_setkey_enc(&aes, k2, (unsigned int)(half * 8)) != 0) {
        status = aios__fail(AIOS_E_INTERNAL, "%s: mbedTLS refused the %zu-bit CTR key", what,
                            half * 8);
        goto done;
    }
    while (len > 0) {
        if (mbedtls_aes_crypt_ecb(&aes, MBEDTLS_AES_ENCRYPT, ctr, ks) != 0) {
            status = aios__fail(AIOS_E_INTERNAL, "%s: AES failed", what);
            break;
        }
        n = len < SIV_BLOCK ? len : SIV_BLOCK;
        xor_block(buf, ks, n);
        aios__aes_siv_ctr_inc(ctr);
        buf += n;
        len -= n;
    }
done:
    mbedtls_platform_zeroize(ctr, sizeof(ctr));
    mbedtls_platform_zeroize(ks, sizeof(ks));
    mbedtls_aes_free(&aes);
    return status;
}

/* Checks shared by seal and open, up to the input length. */
static int siv_check_args(const char *what, uint8_t *out, size_t *out_len,
                          const uint8_t *key, size_t key_len,
                          const aios__siv_ad *ad, size_t ad_count,
                          const uint8_t *in, size_t in_len)
{
    size_t i;

    if (out_len == NULL)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: out_len is NULL", what);
    *out_len = 0;
    if (out == NULL || key == NULL || (in == NULL && in_len != 0) ||
        (ad == NULL && ad_count != 0))
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: out, key, ad or in is NULL", what);
    if (key_len != 32 && key_len != 48 && key_len != 64)
        return aios__fail(AIOS_E_INVALID_ARGUMENT,
                          "%s: the key must be 32, 48 or 64 bytes (K1 || K2), not %zu",
                          what, key_len);
    if (ad_count > AIOS__SIV_AD_MAX)
        return aios__fail(AIOS_E_LIMIT,
                          "%s: %zu associated data strings exceed RFC 5297's limit of %d",
                          what, ad_count, AIOS__SIV_AD_MAX);
    for (i = 0; i < ad_count; i++) {
        if (ad[i].p == NULL && ad[i].len != 0)
            return aios__fail(AIOS_E_INVALID_ARGUMENT,
                              "%s: associated data string %zu is NULL", what, i);
        if (ad[i].len > AIOS__SIV_MAX)
            return aios__fail(AIOS_E_LIMIT,
                              "%s: associated data string %zu has %zu bytes, over the "
                              "%zu-byte limit", what, i, ad[i].len, AIOS__SIV_MAX);
    }
    return AIOS_OK;
}

/* ---------------------------------------------------------- seal, open */

int aios__aes_siv_seal(uint8_t *out, size_t out_cap, size_t *out_len,
                       const uint8_t *key, size_t key_len,
                       const aios__siv_ad *ad, size_t ad_count,
                       const uint8_t *pt, size_t pt_len)
{
    static const char what[] = "AES-SIV seal";
    uint8_t v[SIV_BLOCK];
    size_t half = key_len / 2;
    int rc;

    if ((rc = siv_check_args(what, out, out_len, key, key_len, ad, ad_count, pt, pt_len)) !=
        AIOS_OK)
        return rc;
    if (pt_len > AIOS__SIV_MAX)
        return aios__fail(AIOS_E_LIMIT, "%s: %zu bytes exceed the %zu-byte limit", what,
                          pt_len, AIOS__SIV_MAX);
    if (out_cap < pt_len + SIV_BLOCK) {
        *out_len = pt_len + SIV_BLOCK;
        return aios__fail(AIOS_E_BUFFER_TOO_SMALL,
                          "%s: the output needs %zu bytes, the buffer has %zu",
                          what, pt_len + SIV_BLOCK, out_cap);
    }
    /* V from the plaintext where it lies, then the plaintext moved after
     * V (memmove: pt may overlap out anywhere) and encrypted there. */
    if ((rc = siv_s2v(what, v, key, half, ad, ad_count, pt, pt_len)) != AIOS_OK)
        return rc;
    if (pt_len > 0)
        memmove(out + SIV_BLOCK, pt, pt_len);
    memcpy(out, v, SIV_BLOCK);
    rc = siv_ctr(what, out + SIV_BLOCK, pt_len, key + half, half, v);
    if (rc == AIOS_OK)
        *out_len = pt_len + SIV_BLOCK;
    else
        mbedtls_platform_zeroize(out, pt_len + SIV_BLOCK);
    mbedtls_platform_zeroize(v, sizeof(v));
    return rc;
}

int aios__aes_siv_open(uint8_t *out, size_t out_cap, size_t *out_len,
                       const uint8_t *key, size_t key_len,
                       const aios__siv_ad *ad, size_t ad_count,
                       const uint8_t *in, size_t in_len)
{
    static const char what[] = "AES-SIV open";
    uint8_t v[SIV_BLOCK], t[SIV_BLOCK];
    size_t half = key_len / 2, n;
    int rc;

    if ((rc = siv_check_args(what, out, out_len, key, key_len, ad, ad_count, in, in_len)) !=
        AIOS_OK)
        return rc;
    if (in_len > AIOS__SIV_MAX + SIV_BLOCK)
        return aios__fail(AIOS_E_LIMIT, "%s: %zu bytes exceed the %zu-byte limit", what,
                          in_len, AIOS__SIV_MAX + SIV_BLOCK);
    if (in_len < SIV_BLOCK)
        return aios__fail(AIOS_E_FORMAT,
                          "%s: a sealed message is at least %d bytes (V), not %zu", what,
                          SIV_BLOCK, in_len);
    n = in_len - SIV_BLOCK;
    if (out_cap < n) {
        *out_len = n;
        return aios__fail(AIOS_E_BUFFER_TOO_SMALL,
                          "%s: the output needs %zu bytes, the buffer has %zu", what, n, out_cap);
    }
    /* V is copied out first, so out may overlap in anywhere. */
    memcpy(v, in, SIV_BLOCK);
    memset(t, 0, sizeof(t));
    if (n > 0)
        memmove(out, in + SIV_BLOCK, n);
    rc = siv_ctr(what, out, n, key + half, half, v);
    if (rc == AIOS_OK)
        rc = siv_s2v(what, t, key, half, ad, ad_count, out, n);
    if (rc == AIOS_OK && !aios__ct_equal(t, v, SIV_BLOCK))
        rc = aios__fail(AIOS_E_AUTH,
                        "%s: authentication failed (wrong key or associated data, or altered "
                        "data)", what);
    if (rc == AIOS_OK)
        *out_len = n;
    else
        mbedtls_platform_zeroize(out, n);
    mbedtls_platform_zeroize(v, sizeof(v));
    mbedtls_platform_zeroize(t, sizeof(t));
    return rc;
}
