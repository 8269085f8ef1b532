/*
 * Strict UTF-8 validation (RFC 3629, Unicode 15 table 3-7).
 */
#include "internal.h"

int aios__utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        size_t n;
        uint8_t lo = 0x80, hi = 0xBF;   /* bounds of the second byte */

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            if (c == 0xE0) lo = 0xA0;          /* no overlong 3-byte forms */
            if (c == 0xED) hi = 0x9F;          /* no UTF-16 surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            if (c == 0xF0) lo = 0x90;          /* no overlong 4-byte forms */
            if (c == 0xF4) hi = 0x8F;          /* nothing above U+10FFFF */
        } else {
            return 0;                          /* C0, C1, F5..FF, stray continuation */
        }
        if (len - i <= n)
            return 0;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t k = 2; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
        }
        i += n + 1;
    }
    return 1;
}
