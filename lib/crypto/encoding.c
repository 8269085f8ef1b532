/*
 * Base64 (RFC 4648, four variants) and hex, through libsodium's
 * constant-time codecs.  Decoding is strict: no character is ignored,
 * padding must be exact where the variant has it, unused trailing bits
 * must be zero, and the whole input must be consumed.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "crypto.h"
#include "../core/internal.h"

_Static_assert(AIOS__B64_STANDARD == sodium_base64_VARIANT_ORIGINAL, "base64 variant");
_Static_assert(AIOS__B64_STANDARD_NOPAD == sodium_base64_VARIANT_ORIGINAL_NO_PADDING, "base64 variant");
_Static_assert(AIOS__B64_URLSAFE == sodium_base64_VARIANT_URLSAFE, "base64 variant");
_Static_assert(AIOS__B64_URLSAFE_NOPAD == sodium_base64_VARIANT_URLSAFE_NO_PADDING, "base64 variant");

static int b64_variant_ok(aios__b64_variant v)
{
    switch (v) {
    case AIOS__B64_STANDARD:
    case AIOS__B64_STANDARD_NOPAD:
    case AIOS__B64_URLSAFE:
    case AIOS__B64_URLSAFE_NOPAD:
        return 1;
    }
    return 0;
}

static int b64_padded(aios__b64_variant v)
{
    return v == AIOS__B64_STANDARD || v == AIOS__B64_URLSAFE;
}

size_t aios__base64_encoded_len(size_t len, aios__b64_variant v)
{
    size_t full = len / 3, rest = len % 3, chars;

    if (!b64_variant_ok(v) || full > (SIZE_MAX - 5) / 4)
        return 0;
    chars = full * 4;
    if (rest != 0)
        chars += b64_padded(v) ? 4 : rest + 1;
    return chars + 1;
}

int aios__base64_encode(char *out, size_t outcap, const uint8_t *in, size_t len,
                        aios__b64_variant v)
{
    static const uint8_t empty[1];
    size_t need;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    AIOS__CHECK_ARG(in != NULL || len == 0, "in is NULL with a nonzero length");
    if (!b64_variant_ok(v))
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "unknown base64 variant %d", (int)v);
    need = aios__base64_encoded_len(len, v);
    if (need == 0)
        return aios__fail(AIOS_E_LIMIT, "base64: %zu bytes are too many to encode", len);
    if (outcap < need)
        return aios__fail(AIOS_E_BUFFER_TOO_SMALL,
                          "base64: the encoding needs %zu bytes, the buffer has %zu", need, outcap);
    /* libsodium aborts on a short buffer: make sure our count is not less. */
    if (need < sodium_base64_encoded_len(len, (int)v))
        return aios__fail(AIOS_E_INTERNAL, "base64: encoded length mismatch");
    if (sodium_bin2base64(out, outcap, len > 0 ? in : empty, len, (int)v) == NULL)
        return aios__fail(AIOS_E_INTERNAL, "base64 encoding failed");
    return AIOS_OK;
}

int aios__base64_decode(uint8_t *out, size_t outcap, size_t *outlen,
                        const char *in, size_t inlen, aios__b64_variant v)
{
    size_t need, n = inlen, pads = 0, got = 0;
    uint8_t dummy[1];

    AIOS__CHECK_ARG(outlen != NULL, "outlen is NULL");
    *outlen = 0;
    AIOS__CHECK_ARG(out != NULL || outcap == 0, "out is NULL with a nonzero capacity");
    AIOS__CHECK_ARG(in != NULL || inlen == 0, "in is NULL with a nonzero length");
    if (!b64_variant_ok(v))
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "unknown base64 variant %d", (int)v);
    if (inlen == 0)
        return AIOS_OK;

    /* The exact size of a well-formed input, to report a short buffer. */
    while (pads < 2 && n > 0 && in[n - 1] == '=') {
        n--;
        pads++;
    }
    need = n / 4 * 3 + (n % 4 > 1 ? n % 4 - 1 : 0);
    if (need > outcap) {
        *outlen = need;
        return aios__fail(AIOS_E_BUFFER_TOO_SMALL,
                          "base64: the decoded data needs %zu bytes, the buffer has %zu",
                          need, outcap);
    }
    /* libsodium 1.0.18's decoder maps some bytes >= 0x80 to '/' or '_'
     * (found by tests/fuzz/fuzz_encoding), so check the alphabet here:
     * only the variant's 64 characters, then the padding counted above. */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        int url = (v & 4) != 0;
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 (url ? (c == '-' || c == '_') : (c == '+' || c == '/'));
        if (!ok) {
            if (outcap > 0)
                aios__wipe(out, outcap);
            return aios__fail(AIOS_E_FORMAT,
                              "base64: character %zu is not in the %s alphabet", i,
                              url ? "URL-safe" : "standard");
        }
    }
    /* No ignored characters and b64_end == NULL: trailing junk is an error. */
    if (sodium_base642bin(outcap > 0 ? out : dummy, outcap, in, inlen, NULL, &got, NULL,
                          (int)v) != 0) {
        if (outcap > 0)
            aios__wipe(out, outcap);
        return aios__fail(AIOS_E_FORMAT, "base64: malformed input (%zu characters)", inlen);
    }
    *outlen = got;
    return AIOS_OK;
}

int aios__hex_encode(char *out, size_t outcap, const uint8_t *in, size_t len)
{
    static const uint8_t empty[1];

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    AIOS__CHECK_ARG(in != NULL || len == 0, "in is NULL with a nonzero length");
    if (len > (SIZE_MAX - 1) / 2)
        return aios__fail(AIOS_E_LIMIT, "hex: %zu bytes are too many to encode", len);
    if (outcap < 2 * len + 1)
        return aios__fail(AIOS_E_BUFFER_TOO_SMALL,
                          "hex: the encoding needs %zu bytes, the buffer has %zu",
                          2 * len + 1, outcap);
    (void)sodium_bin2hex(out, outcap, len > 0 ? in : empty, len);
    return AIOS_OK;
}

int aios__hex_decode(uint8_t *out, size_t outcap, size_t *outlen, const char *in, size_t inlen)
{
    size_t got = 0;
    uint8_t dummy[1];

    AIOS__CHECK_ARG(outlen != NULL, "outlen is NULL");
    *outlen = 0;
    AIOS__CHECK_ARG(out != NULL || outcap == 0, "out is NULL with a nonzero capacity");
    AIOS__CHECK_ARG(in != NULL || inlen == 0, "in is NULL with a nonzero length");
    if (inlen % 2 != 0) {
        if (outcap > 0)
            aios__wipe(out, outcap);      /* as on every other format error */
        return aios__fail(AIOS_E_FORMAT, "hex: odd number of digits (%zu)", inlen);
    }
    if (inlen / 2 > outcap) {
        *outlen = inlen / 2;
        return aios__fail(AIOS_E_BUFFER_TOO_SMALL,
                          "hex: the decoded data needs %zu bytes, the buffer has %zu",
                          inlen / 2, outcap);
    }
    if (inlen == 0)
        return AIOS_OK;
    if (sodium_hex2bin(outcap > 0 ? out : dummy, outcap, in, inlen, NULL, &got, NULL) != 0 ||
        got != inlen / 2) {
        if (outcap > 0)
            aios__wipe(out, outcap);
        return aios__fail(AIOS_E_FORMAT, "hex: malformed input (%zu characters)", inlen);
    }
    *outlen = got;
    return AIOS_OK;
}
