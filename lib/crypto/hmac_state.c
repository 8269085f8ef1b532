/*
 * HMAC-SHA-256 with the key's inner and outer states precomputed
 * (RFC 2104 section 4, "implementation note"): after the one-time set-up,
 * HMAC(key, m) costs only the compressions of m and of the inner hash,
 * i.e. two SHA-256 compressions for a message of up to 55 bytes.  Used for
 * the per-record key of envelope sessions (docs/FORMAT.md 9.2), where the
 * key is the session's PRK.
 */
#include <string.h>

#include <sodium.h>

#include "crypto.h"
#include "sha256.h"
#include "../core/internal.h"

_Static_assert(sizeof(crypto_auth_hmacsha256_state) <= sizeof(((aios__hmac_sha256_key *)0)->opaque),
               "aios__hmac_sha256_key too small for libsodium's HMAC-SHA-256 state");
_Static_assert(_Alignof(aios__hmac_sha256_key) % _Alignof(crypto_auth_hmacsha256_state) == 0,
               "aios__hmac_sha256_key misaligned for libsodium's HMAC-SHA-256 state");

static const uint8_t empty_key[1];

void aios__hmac_sha256_key_init(aios__hmac_sha256_key *k, const uint8_t *key, size_t keylen)
{
    memset(k, 0, sizeof(*k));
    /* The HMAC init (sha256.c, like libsodium's) leaves ictx and octx
     * holding exactly the ipad and opad blocks absorbed: the precomputed
     * state. */
    aios__hmac_sha256_state_init((aios__hmac_sha256_state *)(void *)k->opaque,
                                 keylen > 0 ? key : empty_key, keylen);
}

void aios__hmac_sha256_key_wipe(aios__hmac_sha256_key *k)
{
    aios__wipe(k, sizeof(*k));
}

void aios__hmac_sha256_key_mac(const aios__hmac_sha256_key *k, uint8_t out[AIOS__SHA256_LEN],
                               const uint8_t *in, size_t len)
{
    aios__hmac_sha256_state st;

    memcpy(&st, k->opaque, sizeof(st));
    aios__hmac_sha256_state_update(&st, in, len);
    aios__hmac_sha256_state_final(&st, out);
    aios__wipe(&st, sizeof(st));
}

void aios__hmac_sha256_key_mac2(const aios__hmac_sha256_key *k,
                                uint8_t outa[AIOS__SHA256_LEN], const uint8_t *ina, size_t lena,
                                uint8_t outb[AIOS__SHA256_LEN], const uint8_t *inb, size_t lenb)
{
    aios__hmac_sha256_state a, b;

    memcpy(&a, k->opaque, sizeof(a));
    memcpy(&b, k->opaque, sizeof(b));
    aios__hmac_sha256_state_update(&a, ina, lena);
    aios__hmac_sha256_state_update(&b, inb, lenb);
    aios__hmac_sha256_state_final2(&a, outa, &b, outb);   /* wipes both */
}
