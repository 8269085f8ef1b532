/*
 * HMAC-SHA-256 (incremental; sha256.c: RFC 2104 over the CPU's SHA
 * instructions where present, else libsodium's crypto_auth_hmacsha256)
 * and HMAC-SHA-512 (one shot, libsodium).  Keys of any length: longer
 * than a block, hashed first, as RFC 2104 says.
 */
#include <sodium.h>

#include "crypto.h"
#include "sha256.h"
#include "../core/internal.h"

/* aios__hmac_sha256_state has libsodium's layout (sha256.c checks that). */
_Static_assert(sizeof(aios__hmac_sha256_state) <= sizeof(((aios__hmac_sha256_ctx *)0)->opaque),
               "aios__hmac_sha256_ctx too small for the HMAC-SHA-256 state");
_Static_assert(_Alignof(aios__hmac_sha256_ctx) % _Alignof(aios__hmac_sha256_state) == 0,
               "aios__hmac_sha256_ctx misaligned for the HMAC-SHA-256 state");
_Static_assert(crypto_auth_hmacsha256_BYTES == AIOS__SHA256_LEN, "HMAC-SHA-256 length");
_Static_assert(crypto_auth_hmacsha512_BYTES == AIOS__SHA512_LEN, "HMAC-SHA-512 length");

static aios__hmac_sha256_state *hmac256_state(aios__hmac_sha256_ctx *ctx)
{
    return (aios__hmac_sha256_state *)(void *)ctx->opaque;
}

/* libsodium never reads key when keylen is 0, but keep it a valid pointer. */
static const uint8_t empty_key[1];

void aios__hmac_sha256_init(aios__hmac_sha256_ctx *ctx, const uint8_t *key, size_t keylen)
{
    aios__hmac_sha256_state_init(hmac256_state(ctx), key, keylen);
}

void aios__hmac_sha256_update(aios__hmac_sha256_ctx *ctx, const uint8_t *in, size_t len)
{
    aios__hmac_sha256_state_update(hmac256_state(ctx), in, len);
}

void aios__hmac_sha256_final(aios__hmac_sha256_ctx *ctx, uint8_t out[AIOS__SHA256_LEN])
{
    aios__hmac_sha256_state_final(hmac256_state(ctx), out);
    aios__wipe(ctx, sizeof(*ctx));
}

void aios__hmac_sha256(uint8_t out[AIOS__SHA256_LEN], const uint8_t *key, size_t keylen,
                       const uint8_t *in, size_t len)
{
    /* The bare state, not a 512-byte context: less to wipe. */
    aios__hmac_sha256_state st;
    aios__hmac_sha256_state_init(&st, key, keylen);
    aios__hmac_sha256_state_update(&st, in, len);
    aios__hmac_sha256_state_final(&st, out);   /* wipes st */
}

void aios__hmac_sha512(uint8_t out[AIOS__SHA512_LEN], const uint8_t *key, size_t keylen,
                       const uint8_t *in, size_t len)
{
    crypto_auth_hmacsha512_state st;
    (void)crypto_auth_hmacsha512_init(&st, keylen > 0 ? key : empty_key, keylen);
    if (len > 0)
        (void)crypto_auth_hmacsha512_update(&st, in, len);
    (void)crypto_auth_hmacsha512_final(&st, out);
    aios__wipe(&st, sizeof(st));
}
