/*
 * Differential fuzz of the UTF-8 validator against a decoder written the
 * other way round (decode every code point, then judge it).
 */
#include <stdlib.h>

#include "core/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int reference(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t need;
        if (s[i] < 0x80) { i++; continue; }
        if ((s[i] & 0xE0) == 0xC0) { need = 1; cp = s[i] & 0x1F; }
        else if ((s[i] & 0xF0) == 0xE0) { need = 2; cp = s[i] & 0x0F; }
        else if ((s[i] & 0xF8) == 0xF0) { need = 3; cp = s[i] & 0x07; }
        else return 0;
        if (i + need >= n) return 0;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000))
            return 0;
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += need + 1;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (aios__utf8_valid(data, size) != reference(data, size))
        abort();
    return 0;
}
