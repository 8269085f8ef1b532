/*
 * Fuzz AES key wrap (KW, RFC 3394) and key wrap with padding (KWP,
 * RFC 5649) with attacker-chosen wrapped keys under fixed KEKs.
 * Input: a mode byte, then the bytes.
 *   bits 0-1  the KEK: 00 01 02 .. 0f (128 bits), 00 .. 17 (192), 00 .. 1f
 *             (256; the RFC 3394 section 4 KEKs), or RFC 5649's 192-bit KEK
 *   bit 2     KWP instead of KW
 *   bit 3     wrap the bytes (then unwrap them) instead of unwrapping
 * Unwrapping anything gives AIOS_OK, AIOS_E_AUTH, AIOS_E_FORMAT or
 * AIOS_E_INVALID_ARGUMENT, leaves no byte behind when it fails, and what
 * unwraps wraps back to exactly the input; what wraps unwraps back.
 */
#include <stdlib.h>
#include <string.h>

#include "aios/aios.h"
#include "crypto/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_IN 8192

static const uint8_t rfc5649_kek[24] = {
    0x58, 0x40, 0xdf, 0x6e, 0x29, 0xb0, 0x2a, 0xf1, 0xab, 0x49, 0x3b, 0x70,
    0x5b, 0xf1, 0x6e, 0xa1, 0xae, 0x83, 0x38, 0xf4, 0xdc, 0xc1, 0x76, 0xa8
};

typedef int (*kw_fn)(uint8_t *out, size_t out_cap, size_t *out_len,
                     const uint8_t *kek, size_t kek_len, const uint8_t *in, size_t in_len);

static int zeroed(const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[MAX_IN + 16], back[MAX_IN + 16];
    uint8_t kek[32];
    const uint8_t *k = kek;
    size_t kek_len, n = 0, m = 0, i;
    kw_fn wrap, unwrap;
    int mode, rc;

    if (aios_init() != AIOS_OK)
        abort();
    if (size < 1 || size > MAX_IN + 1)
        return 0;
    mode = data[0];
    data++;
    size--;
    for (i = 0; i < sizeof(kek); i++)
        kek[i] = (uint8_t)i;
    switch (mode & 3) {
    case 0:  kek_len = 16; break;
    case 1:  kek_len = 24; break;
    case 2:  kek_len = 32; break;
    default: kek_len = 24; k = rfc5649_kek; break;
    }
    wrap = (mode & 4) ? aios__aes_kwp_wrap : aios__aes_kw_wrap;
    unwrap = (mode & 4) ? aios__aes_kwp_unwrap : aios__aes_kw_unwrap;

    if (mode & 8) {
        rc = wrap(out, sizeof(out), &n, k, kek_len, data, size);
        if (rc == AIOS_OK) {
            if (unwrap(back, sizeof(back), &m, k, kek_len, out, n) != AIOS_OK || m != size ||
                memcmp(back, data, size) != 0)
                abort();
        } else if (rc != AIOS_E_INVALID_ARGUMENT) {
            abort();     /* only lengths the mode cannot wrap are refused */
        }
        return 0;
    }

    memset(out, 0xa5, sizeof(out));
    rc = unwrap(out, sizeof(out), &n, k, kek_len, data, size);
    switch (rc) {
    case AIOS_OK:
        /* Unwrapping is the inverse of a deterministic wrap. */
        if (wrap(back, sizeof(back), &m, k, kek_len, out, n) != AIOS_OK || m != size ||
            memcmp(back, data, size) != 0)
            abort();
        break;
    case AIOS_E_AUTH:
        if (n != 0 || size < 16 || !zeroed(out, size - 8))
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
