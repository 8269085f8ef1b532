/*
 * Hashes: SHA-256 (sha256.c: the CPU's SHA instructions where present,
 * else libsodium), SHA-512 (libsodium), SHA-384 (mbedTLS: libsodium
 * 1.0.18 has none) and BLAKE2b (libsodium crypto_generichash).
 *
 * The contexts of crypto.h are opaque storage; each backend state is
 * placed at its start (the static assertions check size and alignment).
 */
#include <string.h>

#include <sodium.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha512.h>

#include "crypto.h"
#include "sha256.h"
#include "../core/internal.h"

/* ---- layout checks */

/* aios__sha256_state has libsodium's layout (sha256.c checks that). */
_Static_assert(sizeof(aios__sha256_state) <= sizeof(((aios__sha256_ctx *)0)->opaque),
               "aios__sha256_ctx too small for the SHA-256 state");
_Static_assert(_Alignof(aios__sha256_ctx) % _Alignof(aios__sha256_state) == 0,
               "aios__sha256_ctx misaligned for the SHA-256 state");
_Static_assert(sizeof(crypto_hash_sha512_state) <= sizeof(((aios__sha512_ctx *)0)->opaque),
               "aios__sha512_ctx too small for libsodium's SHA-512 state");
_Static_assert(_Alignof(aios__sha512_ctx) % _Alignof(crypto_hash_sha512_state) == 0,
               "aios__sha512_ctx misaligned for libsodium's SHA-512 state");
_Static_assert(sizeof(mbedtls_sha512_context) <= sizeof(((aios__sha512_ctx *)0)->opaque),
               "aios__sha512_ctx too small for mbedTLS's SHA-384 state");
_Static_assert(_Alignof(aios__sha512_ctx) % _Alignof(mbedtls_sha512_context) == 0,
               "aios__sha512_ctx misaligned for mbedTLS's SHA-384 state");

/* BLAKE2b keeps the output length beside libsodium's state, so that final
 * can refuse a length other than the one the parameter block committed to
 * (libsodium would silently return a prefix of a different hash). */
typedef struct blake2b_state {
    crypto_generichash_state st;
    size_t                   outlen;
} blake2b_state;

_Static_assert(sizeof(blake2b_state) <= sizeof(((aios__blake2b_ctx *)0)->opaque),
               "aios__blake2b_ctx too small for libsodium's BLAKE2b state");
_Static_assert(_Alignof(aios__blake2b_ctx) % _Alignof(blake2b_state) == 0,
               "aios__blake2b_ctx misaligned for libsodium's BLAKE2b state");
_Static_assert(crypto_hash_sha256_BYTES == AIOS__SHA256_LEN, "SHA-256 length");
_Static_assert(crypto_hash_sha512_BYTES == AIOS__SHA512_LEN, "SHA-512 length");
_Static_assert(crypto_generichash_BYTES_MAX == AIOS__BLAKE2B_MAX, "BLAKE2b length");
_Static_assert(crypto_generichash_KEYBYTES_MAX == AIOS__BLAKE2B_KEY_MAX, "BLAKE2b key length");

/* Casts through void *: the opaque member is the struct's first and
 * carries the struct's alignment. */
static aios__sha256_state *sha256_state(aios__sha256_ctx *ctx)
{
    return (aios__sha256_state *)(void *)ctx->opaque;
}

static crypto_hash_sha512_state *sha512_state(aios__sha512_ctx *ctx)
{
    return (crypto_hash_sha512_state *)(void *)ctx->opaque;
}

static mbedtls_sha512_context *sha384_state(aios__sha512_ctx *ctx)
{
    return (mbedtls_sha512_context *)(void *)ctx->opaque;
}

static blake2b_state *blake2b_st(aios__blake2b_ctx *ctx)
{
    return (blake2b_state *)(void *)ctx->opaque;
}

/* ================================================================ SHA-256 */

void aios__sha256_init(aios__sha256_ctx *ctx)
{
    aios__sha256_state_init(sha256_state(ctx));
}

void aios__sha256_update(aios__sha256_ctx *ctx, const uint8_t *in, size_t len)
{
    aios__sha256_state_update(sha256_state(ctx), in, len);
}

void aios__sha256_update2(aios__sha256_ctx *a, const uint8_t *pa, aios__sha256_ctx *b,
                          const uint8_t *pb, size_t len)
{
    aios__sha256_state_update2(sha256_state(a), pa, sha256_state(b), pb, len);
}

int aios__sha256_two_lanes(void)
{
    return aios__sha256_state_two_lanes();
}

void aios__sha256_final(aios__sha256_ctx *ctx, uint8_t out[AIOS__SHA256_LEN])
{
    aios__sha256_state_final(sha256_state(ctx), out);
    aios__wipe(ctx, sizeof(*ctx));
}

void aios__sha256(uint8_t out[AIOS__SHA256_LEN], const uint8_t *in, size_t len)
{
    /* The bare state, not a 256-byte context: less to wipe. */
    aios__sha256_state st;
    aios__sha256_state_init(&st);
    aios__sha256_state_update(&st, in, len);
    aios__sha256_state_final(&st, out);   /* wipes st */
}

/* ================================================================ SHA-512 */

void aios__sha512_init(aios__sha512_ctx *ctx)
{
    (void)crypto_hash_sha512_init(sha512_state(ctx));
}

void aios__sha512_update(aios__sha512_ctx *ctx, const uint8_t *in, size_t len)
{
    if (len > 0)
        (void)crypto_hash_sha512_update(sha512_state(ctx), in, len);
}

void aios__sha512_final(aios__sha512_ctx *ctx, uint8_t out[AIOS__SHA512_LEN])
{
    (void)crypto_hash_sha512_final(sha512_state(ctx), out);
    aios__wipe(ctx, sizeof(*ctx));
}

void aios__sha512(uint8_t out[AIOS__SHA512_LEN], const uint8_t *in, size_t len)
{
    aios__sha512_ctx ctx;
    aios__sha512_init(&ctx);
    aios__sha512_update(&ctx, in, len);
    aios__sha512_final(&ctx, out);
}

/* ================================================================ SHA-384 */

/* mbedTLS's software SHA-512 core cannot fail (its return codes exist for
 * hardware back ends, which the Debian build does not enable). */
void aios__sha384_init(aios__sha512_ctx *ctx)
{
    mbedtls_sha512_init(sha384_state(ctx));
    (void)mbedtls_sha512_starts_ret(sha384_state(ctx), 1);
}

void aios__sha384_update(aios__sha512_ctx *ctx, const uint8_t *in, size_t len)
{
    if (len > 0)
        (void)mbedtls_sha512_update_ret(sha384_state(ctx), in, len);
}

void aios__sha384_final(aios__sha512_ctx *ctx, uint8_t out[AIOS__SHA384_LEN])
{
    uint8_t full[64];
    (void)mbedtls_sha512_finish_ret(sha384_state(ctx), full);
    memcpy(out, full, AIOS__SHA384_LEN);
    mbedtls_platform_zeroize(full, sizeof(full));
    mbedtls_sha512_free(sha384_state(ctx));
    aios__wipe(ctx, sizeof(*ctx));
}

void aios__sha384(uint8_t out[AIOS__SHA384_LEN], const uint8_t *in, size_t len)
{
    aios__sha512_ctx ctx;
    aios__sha384_init(&ctx);
    aios__sha384_update(&ctx, in, len);
    aios__sha384_final(&ctx, out);
}

/* ================================================================ BLAKE2b */

static int blake2b_check(size_t outlen, const uint8_t *key, size_t keylen)
{
    if (outlen < AIOS__BLAKE2B_MIN || outlen > AIOS__BLAKE2B_MAX)
        return aios__fail(AIOS_E_INVALID_ARGUMENT,
                          "BLAKE2b output length %zu is outside %d..%d",
                          outlen, AIOS__BLAKE2B_MIN, AIOS__BLAKE2B_MAX);
    if (keylen > AIOS__BLAKE2B_KEY_MAX)
        return aios__fail(AIOS_E_INVALID_ARGUMENT,
                          "BLAKE2b key length %zu is more than %d", keylen, AIOS__BLAKE2B_KEY_MAX);
    if (keylen > 0 && key == NULL)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "BLAKE2b key is NULL with a nonzero length");
    return AIOS_OK;
}

int aios__blake2b_init(aios__blake2b_ctx *ctx, size_t outlen, const uint8_t *key, size_t keylen)
{
    int rc;
    blake2b_state *s;

    AIOS__CHECK_ARG(ctx != NULL, "ctx is NULL");
    s = blake2b_st(ctx);
    if ((rc = blake2b_check(outlen, key, keylen)) != AIOS_OK) {
        aios__wipe(ctx, sizeof(*ctx));   /* a later update/final is then harmless */
        return rc;
    }
    if (crypto_generichash_init(&s->st, keylen > 0 ? key : NULL, keylen, outlen) != 0) {
        aios__wipe(ctx, sizeof(*ctx));
        return aios__fail(AIOS_E_INTERNAL, "BLAKE2b initialisation failed");
    }
    s->outlen = outlen;
    return AIOS_OK;
}

void aios__blake2b_update(aios__blake2b_ctx *ctx, const uint8_t *in, size_t len)
{
    blake2b_state *s = blake2b_st(ctx);
    /* A context whose init failed has outlen 0: ignore it. */
    if (len > 0 && s->outlen != 0)
        (void)crypto_generichash_update(&s->st, in, len);
}

int aios__blake2b_final(aios__blake2b_ctx *ctx, uint8_t *out, size_t outlen)
{
    blake2b_state *s;
    int rc = AIOS_OK;

    AIOS__CHECK_ARG(ctx != NULL, "ctx is NULL");
    s = blake2b_st(ctx);
    if (out == NULL)
        rc = aios__fail(AIOS_E_INVALID_ARGUMENT, "BLAKE2b output is NULL");
    else if (s->outlen == 0)
        rc = aios__fail(AIOS_E_STATE, "BLAKE2b context was not initialised");
    else if (outlen != s->outlen)
        rc = aios__fail(AIOS_E_INVALID_ARGUMENT,
                        "BLAKE2b output length %zu differs from the %zu given to init",
                        outlen, s->outlen);
    else if (crypto_generichash_final(&s->st, out, outlen) != 0)
        rc = aios__fail(AIOS_E_STATE, "BLAKE2b context was already finalised");
    if (rc != AIOS_OK && out != NULL && outlen > 0)
        aios__wipe(out, outlen);
    aios__wipe(ctx, sizeof(*ctx));
    return rc;
}

int aios__blake2b(uint8_t *out, size_t outlen, const uint8_t *in, size_t len,
                  const uint8_t *key, size_t keylen)
{
    aios__blake2b_ctx ctx;
    int rc;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    AIOS__CHECK_ARG(in != NULL || len == 0, "in is NULL with a nonzero length");
    if ((rc = aios__blake2b_init(&ctx, outlen, key, keylen)) != AIOS_OK)
        return rc;
    aios__blake2b_update(&ctx, in, len);
    return aios__blake2b_final(&ctx, out, outlen);
}
