/*
 * Fuzz AES-SIV (RFC 5297) with attacker-chosen sealed messages and
 * associated data under fixed keys.
 * Input: a mode byte, the associated data strings, then the bytes.
 *   bits 0-1  the key: RFC 5297 A.1's or A.2's (AES-SIV-CMAC-256), or
 *             00 01 .. 2f (384), or 00 01 .. 3f (512)
 *   bit 2     seal the bytes (then open them) instead of opening them
 *   bits 3-5  the number of associated data strings, 0..7; each is a
 *             length byte followed by that many bytes (fewer if the input
 *             ends first)
 * Opening anything gives AIOS_OK, AIOS_E_AUTH, AIOS_E_FORMAT or
 * AIOS_E_INVALID_ARGUMENT, leaves no byte behind when it fails, and what
 * opens seals back to exactly the input (SIV is deterministic) and no
 * longer opens without its last associated data string or with a bit
 * flipped; what seals opens back, seals again to the same bytes, and
 * fails to open with a bit flipped.
 */
#include <stdlib.h>
#include <string.h>

#include "aios/aios.h"
#include "crypto/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_IN 8192
#define MAX_AD 7

static const uint8_t rfc_a1_key[32] = {
    0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8, 0xf7, 0xf6, 0xf5, 0xf4, 0xf3, 0xf2, 0xf1, 0xf0,
    0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff
};
static const uint8_t rfc_a2_key[32] = {
    0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x7a, 0x79, 0x78, 0x77, 0x76, 0x75, 0x74, 0x73, 0x72, 0x71, 0x70,
    0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f
};

static int zeroed(const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

/* Open expecting AIOS_E_AUTH with everything wiped. */
static void expect_auth_failure(uint8_t *scratch, const uint8_t *key, size_t key_len,
                                const aios__siv_ad *ad, size_t n_ad,
                                const uint8_t *in, size_t len)
{
    size_t n = 99;
    memset(scratch, 0xa5, len);
    if (aios__aes_siv_open(scratch, len, &n, key, key_len, ad, n_ad, in, len) != AIOS_E_AUTH ||
        n != 0 || !zeroed(scratch, len - AIOS__SIV_TAG_LEN))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[MAX_IN + 32], back[MAX_IN + 32], again[MAX_IN + 32];
    uint8_t seq[64];
    aios__siv_ad ad[MAX_AD];
    const uint8_t *key;
    size_t key_len, n_ad, i, n = 0, m = 0, len;
    int mode, rc;

    if (aios_init() != AIOS_OK)
        abort();
    if (size < 1 || size > MAX_IN + 1)
        return 0;
    mode = data[0];
    data++;
    size--;
    for (i = 0; i < sizeof(seq); i++)
        seq[i] = (uint8_t)i;
    switch (mode & 3) {
    case 0:  key = rfc_a1_key; key_len = 32; break;
    case 1:  key = rfc_a2_key; key_len = 32; break;
    case 2:  key = seq; key_len = 48; break;
    default: key = seq; key_len = 64; break;
    }
    n_ad = (size_t)(mode >> 3) & 7;
    for (i = 0; i < n_ad; i++) {
        len = 0;
        if (size > 0) {
            len = data[0];
            data++;
            size--;
        }
        if (len > size)
            len = size;
        ad[i].p = len > 0 ? data : NULL;
        ad[i].len = len;
        data += len;
        size -= len;
    }

    if (mode & 4) {
        if (aios__aes_siv_seal(out, sizeof(out), &n, key, key_len, ad, n_ad, data, size) !=
                AIOS_OK || n != size + AIOS__SIV_TAG_LEN)
            abort();
        if (aios__aes_siv_open(back, sizeof(back), &m, key, key_len, ad, n_ad, out, n) !=
                AIOS_OK || m != size || memcmp(back, data, size) != 0)
            abort();
        if (aios__aes_siv_seal(again, sizeof(again), &m, key, key_len, ad, n_ad, data, size) !=
                AIOS_OK || m != n || memcmp(again, out, n) != 0)
            abort();   /* deterministic */
        out[(size * 7) % n] ^= (uint8_t)(1u << (size % 8));
        expect_auth_failure(back, key, key_len, ad, n_ad, out, n);
        return 0;
    }

    memset(out, 0xa5, sizeof(out));
    rc = aios__aes_siv_open(out, sizeof(out), &n, key, key_len, ad, n_ad, data, size);
    switch (rc) {
    case AIOS_OK:
        /* Opening is the inverse of a deterministic seal. */
        if (n != size - AIOS__SIV_TAG_LEN ||
            aios__aes_siv_seal(back, sizeof(back), &m, key, key_len, ad, n_ad, out, n) !=
                AIOS_OK || m != size || memcmp(back, data, size) != 0)
            abort();
        /* Every component counts, and so does every bit. */
        memcpy(again, data, size);
        if (n_ad > 0)
            expect_auth_failure(back, key, key_len, ad, n_ad - 1, again, size);
        again[size / 2] ^= 0x01;
        expect_auth_failure(back, key, key_len, ad, n_ad, again, size);
        break;
    case AIOS_E_AUTH:
        if (n != 0 || size < AIOS__SIV_TAG_LEN || !zeroed(out, size - AIOS__SIV_TAG_LEN) ||
            out[size - AIOS__SIV_TAG_LEN] != 0xa5)
            abort();
        break;
    case AIOS_E_FORMAT:
    case AIOS_E_INVALID_ARGUMENT:
        if (n != 0 || out[0] != 0xa5)
            abort();
        break;
    default:
        abort();
    }
    return 0;
}
