/*
 * AES key wrap: KW (RFC 3394) and KWP, key wrap with padding (RFC 5649);
 * NIST SP 800-38F calls them KW and KWP.
 *
 * Written here on mbedTLS's AES block cipher (mbedtls_aes_crypt_ecb, which
 * uses AES-NI where the CPU has it and mbedTLS's table implementation
 * otherwise), because Debian's mbedTLS 2.28 is built without
 * MBEDTLS_NIST_KW_C and libsodium has no key wrap.  Both modes run the
 * six-round wrapping function W of RFC 3394 section 2.2.1 in its indexed
 * form; KWP differs only in its initial value (0xA65959A6 followed by the
 * 32-bit message length), in zero padding, and in encrypting a single
 * padded block directly with AES (RFC 5649 section 4.1).
 *
 * The integrity check of an unwrap reads every byte it depends on without
 * branching on any of them (aios__ct_equal and masks), so its timing says
 * nothing about which part of the check failed; one error message covers
 * every cause for the same reason.  The AES context is freed (which
 * zeroizes it) and every local block wiped on every path; a failed unwrap
 * wipes what it wrote to the caller's buffer.
 */
#include <stdint.h>
#include <string.h>

#include <mbedtls/aes.h>
#include <mbedtls/platform_util.h>

#include "crypto.h"
#include "../core/internal.h"

#define KW_BLOCK 8

/* RFC 3394 section 2.2.3.1, the default initial value. */
static const uint8_t kw_iv[KW_BLOCK] = { 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6 };
/* RFC 5649 section 3, the alternative initial value's constant half. */
static const uint8_t kwp_aiv[4] = { 0xa6, 0x59, 0x59, 0xa6 };

_Static_assert(AIOS__KEYWRAP_MAX % KW_BLOCK == 0, "the limit is a whole number of blocks");
_Static_assert(AIOS__KEYWRAP_MAX <= UINT32_MAX, "KWP encodes the length in 32 bits");

static int kek_len_ok(size_t kek_len)
{
    return kek_len == 16 || kek_len == 24 || kek_len == 32;
}

/* Common argument checks of all four functions. */
static int kw_check_args(const char *what, uint8_t *out, size_t *out_len,
                         const uint8_t *kek, size_t kek_len, const uint8_t *in, size_t in_len)
{
    if (out_len == NULL)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: out_len is NULL", what);
    *out_len = 0;
    if (out == NULL || kek == NULL || (in == NULL && in_len != 0))
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: out, kek or in is NULL", what);
    if (!kek_len_ok(kek_len))
        return aios__fail(AIOS_E_INVALID_ARGUMENT,
                          "%s: the KEK must be 16, 24 or 32 bytes, not %zu", what, kek_len);
    return AIOS_OK;
}

static int kw_key(mbedtls_aes_context *aes, const char *what, const uint8_t *kek, size_t kek_len,
                  int decrypt)
{
    unsigned int bits = (unsigned int)(kek_len * 8);
    int rc = decrypt ? mbedtls_aes_setkey_dec(aes, kek, bits)
                     : mbedtls_aes_setkey_enc(aes, kek, bits);
    if (rc != 0)
        return aios__fail(AIOS_E_INTERNAL, "%s: mbedTLS refused the %u-bit KEK", what, bits);
    return AIOS_OK;
}

/* a ^= t, t as a 64-bit big-endian integer. */
static void xor_counter(uint8_t a[KW_BLOCK], uint64_t t)
{
    int k;
    for (k = KW_BLOCK - 1; k >= 0; k--) {
        a[k] ^= (uint8_t)(t & 0xff);
        t >>= 8;
    }
}

/* W (RFC 3394 2.2.1): a is the initial value in, C[0] out; r holds n >= 2
 * blocks of plaintext in, C[1..n] out. */
static int kw_w(mbedtls_aes_context *aes, uint8_t a[KW_BLOCK], uint8_t *r, size_t n)
{
    uint8_t b[16];
    size_t i, j;
    int rc = 0;

    for (j = 0; j < 6 && rc == 0; j++) {
        for (i = 0; i < n; i++) {
            memcpy(b, a, KW_BLOCK);
            memcpy(b + KW_BLOCK, r + KW_BLOCK * i, KW_BLOCK);
            if ((rc = mbedtls_aes_crypt_ecb(aes, MBEDTLS_AES_ENCRYPT, b, b)) != 0)
                break;
            memcpy(a, b, KW_BLOCK);
            xor_counter(a, (uint64_t)n * j + i + 1);
            memcpy(r + KW_BLOCK * i, b + KW_BLOCK, KW_BLOCK);
        }
    }
    mbedtls_platform_zeroize(b, sizeof(b));
    return rc;
}

/* W^-1 (RFC 3394 2.2.2): a is C[0] in, the recovered initial value out;
 * r holds C[1..n] in, the plaintext out. */
static int kw_w_inv(mbedtls_aes_context *aes, uint8_t a[KW_BLOCK], uint8_t *r, size_t n)
{
    uint8_t b[16];
    size_t i, j;
    int rc = 0;

    for (j = 6; j-- > 0 && rc == 0;) {
        for (i = n; i-- > 0;) {
            memcpy(b, a, KW_BLOCK);
            xor_counter(b, (uint64_t)n * j + i + 1);
            memcpy(b + KW_BLOCK, r + KW_BLOCK * i, KW_BLOCK);
            if ((rc = mbedtls_aes_crypt_ecb(aes, MBEDTLS_AES_DECRYPT, b, b)) != 0)
                break;
            memcpy(a, b, KW_BLOCK);
            memcpy(r + KW_BLOCK * i, b + KW_BLOCK, KW_BLOCK);
        }
    }
    mbedtls_platform_zeroize(b, sizeof(b));
    return rc;
}

/* ---------------------------------------------------------------- wrap */

/* Wrap in (in_len bytes, a multiple of 8 once padded to padded_len) with
 * initial value iv into out (padded_len + 8 bytes, checked by the caller). */
static int wrap_blocks(const char *what, uint8_t *out, const uint8_t *kek, size_t kek_len,
                       const uint8_t iv[KW_BLOCK], const uint8_t *in, size_t in_len,
                       size_t padded_len)
{
    mbedtls_aes_context aes;
    uint8_t a[KW_BLOCK];
    size_t n = padded_len / KW_BLOCK;
    int rc;

    mbedtls_aes_init(&aes);
    memcpy(a, iv, KW_BLOCK);
    /* Copy the input before writing anything else, so in may overlap out. */
    memmove(out + KW_BLOCK, in, in_len);
    memset(out + KW_BLOCK + in_len, 0, padded_len - in_len);
    if ((rc = kw_key(&aes, what, kek, kek_len, 0)) != AIOS_OK)
        goto done;
    if (n == 1) {
        /* KWP of at most 8 bytes: one AES block, AIV || P (RFC 5649 4.1). */
        memcpy(out, a, KW_BLOCK);
        if (mbedtls_aes_crypt_ecb(&aes, MBEDTLS_AES_ENCRYPT, out, out) != 0)
            rc = aios__fail(AIOS_E_INTERNAL, "%s: AES failed", what);
    } else if (kw_w(&aes, a, out + KW_BLOCK, n) != 0) {
        rc = aios__fail(AIOS_E_INTERNAL, "%s: AES failed", what);
    } else {
        memcpy(out, a, KW_BLOCK);
    }
done:
    if (rc != AIOS_OK)
        mbedtls_platform_zeroize(out, padded_len + KW_BLOCK);
    mbedtls_platform_zeroize(a, sizeof(a));
    mbedtls_aes_free(&aes);
    return rc;
}

int aios__aes_kw_wrap(uint8_t *out, size_t out_cap, size_t *out_len,
                      const uint8_t *kek, size_t kek_len,
                      const uint8_t *in, size_t in_len)
{
    static const char what[] = "AES-KW wrap";
    int rc;

    if ((rc = kw_check_args(what, out, out_len, kek, kek_len, in, in_len)) != AIOS_OK)
        return rc;
    if (in_len > AIOS__KEYWRAP_MAX)
        return aios__fail(AIOS_E_LIMIT, "%s: %zu bytes exceed the %zu-byte limit", what,
                          in_len, AIOS__KEYWRAP_MAX);
    if (in_len < 2 * KW_BLOCK || in_len % KW_BLOCK != 0)
        return aios__fail(AIOS_E_INVALID_ARGUMENT,
                          "%s: KW wraps a multiple of 8 bytes, at least 16, not %zu "
                          "(KWP wraps any length)", what, in_len);
    if (out_cap < in_len + KW_BLOCK) {
        *out_len = in_len + KW_BLOCK;
        return aios__fail(AIOS_E_BUFFER_TOO_SMALL, "%s: the output needs %zu bytes, the buffer has %zu",
                          what, in_len + KW_BLOCK, out_cap);
    }
    if ((rc = wrap_blocks(what, out, kek, kek_len, kw_iv, in, in_len, in_len)) == AIOS_OK)
        *out_len = in_len + KW_BLOCK;
    return rc;
}

int aios__aes_kwp_wrap(uint8_t *out, size_t out_cap, size_t *out_len,
                       const uint8_t *kek, size_t kek_len,
                       const uint8_t *in, size_t in_len)
{
    static const char what[] = "AES-KWP wrap";
    uint8_t aiv[KW_BLOCK];
    size_t padded;
    int rc;

    if ((rc = kw_check_args(what, out, out_len, kek, kek_len, in, in_len)) != AIOS_OK)
        return rc;
    if (in_len > AIOS__KEYWRAP_MAX)
        return aios__fail(AIOS_E_LIMIT, "%s: %zu bytes exceed the %zu-byte limit", what,
                          in_len, AIOS__KEYWRAP_MAX);
    if (in_len == 0)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: nothing to wrap (0 bytes)", what);
    padded = AIOS__KWP_WRAPPED_LEN(in_len) - KW_BLOCK;
    if (out_cap < padded + KW_BLOCK) {
        *out_len = padded + KW_BLOCK;
        return aios__fail(AIOS_E_BUFFER_TOO_SMALL, "%s: the output needs %zu bytes, the buffer has %zu",
                          what, padded + KW_BLOCK, out_cap);
    }
    memcpy(aiv, kwp_aiv, sizeof(kwp_aiv));
    aiv[4] = (uint8_t)(in_len >> 24);
    aiv[5] = (uint8_t)(in_len >> 16);
    aiv[6] = (uint8_t)(in_len >> 8);
    aiv[7] = (uint8_t)in_len;
    if ((rc = wrap_blocks(what, out, kek, kek_len, aiv, in, in_len, padded)) == AIOS_OK)
        *out_len = padded + KW_BLOCK;
    return rc;
}

/* -------------------------------------------------------------- unwrap */

/* Checks shared by both unwraps; on success *n is the number of 64-bit
 * blocks of (padded) plaintext. */
static int unwrap_check(const char *what, size_t out_cap, size_t *out_len, size_t in_len,
                        size_t min_len, size_t *n)
{
    if (in_len > AIOS__KEYWRAP_MAX + KW_BLOCK)
        return aios__fail(AIOS_E_LIMIT, "%s: %zu bytes exceed the %zu-byte limit", what,
                          in_len, AIOS__KEYWRAP_MAX + KW_BLOCK);
    if (in_len < min_len || in_len % KW_BLOCK != 0)
        return aios__fail(AIOS_E_FORMAT,
                          "%s: wrapped data is a multiple of 8 bytes, at least %zu, not %zu",
                          what, min_len, in_len);
    if (out_cap < in_len - KW_BLOCK) {
        *out_len = in_len - KW_BLOCK;
        return aios__fail(AIOS_E_BUFFER_TOO_SMALL, "%s: the output needs %zu bytes, the buffer has %zu",
                          what, in_len - KW_BLOCK, out_cap);
    }
    *n = in_len / KW_BLOCK - 1;
    return AIOS_OK;
}

/* Decrypt in (8(n+1) bytes) into a (the recovered initial value) and out
 * (8n bytes). */
static int unwrap_blocks(const char *what, uint8_t *out, uint8_t a[KW_BLOCK],
                         const uint8_t *kek, size_t kek_len, const uint8_t *in, size_t n)
{
    mbedtls_aes_context aes;
    uint8_t b[16];
    int rc;

    mbedtls_aes_init(&aes);
    if (n == 1) {
        memcpy(b, in, sizeof(b));
    } else {
        memcpy(a, in, KW_BLOCK);
        memmove(out, in + KW_BLOCK, KW_BLOCK * n);   /* in may overlap out */
    }
    if ((rc = kw_key(&aes, what, kek, kek_len, 1)) != AIOS_OK)
        goto done;
    if (n == 1) {
        if (mbedtls_aes_crypt_ecb(&aes, MBEDTLS_AES_DECRYPT, b, b) != 0) {
            rc = aios__fail(AIOS_E_INTERNAL, "%s: AES failed", what);
            goto done;
        }
        memcpy(a, b, KW_BLOCK);
        memcpy(out, b + KW_BLOCK, KW_BLOCK);
    } else if (kw_w_inv(&aes, a, out, n) != 0) {
        rc = aios__fail(AIOS_E_INTERNAL, "%s: AES failed", what);
    }
done:
    mbedtls_platform_zeroize(b, sizeof(b));
    mbedtls_aes_free(&aes);
    return rc;
}

int aios__aes_kw_unwrap(uint8_t *out, size_t out_cap, size_t *out_len,
                        const uint8_t *kek, size_t kek_len,
                        const uint8_t *in, size_t in_len)
{
    static const char what[] = "AES-KW unwrap";
    uint8_t a[KW_BLOCK];
    size_t n = 0;
    int rc;

    if ((rc = kw_check_args(what, out, out_len, kek, kek_len, in, in_len)) != AIOS_OK ||
        (rc = unwrap_check(what, out_cap, out_len, in_len, 3 * KW_BLOCK, &n)) != AIOS_OK)
        return rc;
    rc = unwrap_blocks(what, out, a, kek, kek_len, in, n);
    if (rc == AIOS_OK && !aios__ct_equal(a, kw_iv, KW_BLOCK))
        rc = aios__fail(AIOS_E_AUTH, "%s: integrity check failed (wrong key or altered data)",
                        what);
    if (rc == AIOS_OK)
        *out_len = KW_BLOCK * n;
    else
        mbedtls_platform_zeroize(out, KW_BLOCK * n);
    mbedtls_platform_zeroize(a, sizeof(a));
    return rc;
}

/* All-ones if x < y, else zero, for x, y < 2^63, without a branch. */
static uint64_t lt_mask(uint64_t x, uint64_t y)
{
    return (uint64_t)0 - ((x - y) >> 63);
}

int aios__aes_kwp_unwrap(uint8_t *out, size_t out_cap, size_t *out_len,
                         const uint8_t *kek, size_t kek_len,
                         const uint8_t *in, size_t in_len)
{
    static const char what[] = "AES-KWP unwrap";
    uint8_t a[KW_BLOCK], pad_bits = 0;
    uint64_t mli, ok, k;
    size_t n = 0;
    int rc;

    if ((rc = kw_check_args(what, out, out_len, kek, kek_len, in, in_len)) != AIOS_OK ||
        (rc = unwrap_check(what, out_cap, out_len, in_len, 2 * KW_BLOCK, &n)) != AIOS_OK)
        return rc;
    if ((rc = unwrap_blocks(what, out, a, kek, kek_len, in, n)) != AIOS_OK)
        goto done;

    /* RFC 5649 section 3: the constant half of the AIV, then
     * 8(n-1) < MLI <= 8n, then zero padding after MLI bytes.  Every
     * condition is folded into one mask without branching on the
     * decrypted bytes. */
    mli = (uint64_t)a[4] << 24 | (uint64_t)a[5] << 16 | (uint64_t)a[6] << 8 | a[7];
    ok = (uint64_t)0 - (uint64_t)aios__ct_equal(a, kwp_aiv, sizeof(kwp_aiv));
    ok &= lt_mask((uint64_t)KW_BLOCK * (n - 1), mli);        /* 8(n-1) < MLI */
    ok &= lt_mask(mli, (uint64_t)KW_BLOCK * n + 1);          /* MLI <= 8n */
    for (k = (uint64_t)KW_BLOCK * (n - 1); k < (uint64_t)KW_BLOCK * n; k++)
        pad_bits |= (uint8_t)(out[k] & ~lt_mask(k, mli));   /* bytes at k >= MLI */
    ok &= (uint64_t)0 - (uint64_t)aios__ct_is_zero(&pad_bits, 1);
    if (ok == 0)
        rc = aios__fail(AIOS_E_AUTH, "%s: integrity check failed (wrong key or altered data)",
                        what);
done:
    if (rc == AIOS_OK)
        *out_len = (size_t)mli;
    else
        mbedtls_platform_zeroize(out, KW_BLOCK * n);
    mbedtls_platform_zeroize(a, sizeof(a));
    mbedtls_platform_zeroize(&pad_bits, sizeof(pad_bits));
    return rc;
}
