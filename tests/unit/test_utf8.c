/* Strict UTF-8 validation (RFC 3629; Markus Kuhn's stress cases). */
#include <string.h>

#include "testutil.h"
#include "core/internal.h"

static int ok(const char *s, size_t n)
{
    return aios__utf8_valid((const uint8_t *)s, n);
}

static void test_valid(void **state)
{
    (void)state;
    assert_true(ok("", 0));
    assert_true(ok("plain ascii", 11));
    assert_true(ok("caf\xc3\xa9", 5));                       /* é */
    assert_true(ok("\xe2\x82\xac", 3));                      /* € */
    assert_true(ok("\xf0\x9f\x94\x91", 4));                  /* 🔑 */
    assert_true(ok("\xc2\x80", 2));                          /* U+0080 */
    assert_true(ok("\xdf\xbf", 2));                          /* U+07FF */
    assert_true(ok("\xe0\xa0\x80", 3));                      /* U+0800 */
    assert_true(ok("\xed\x9f\xbf", 3));                      /* U+D7FF */
    assert_true(ok("\xee\x80\x80", 3));                      /* U+E000 */
    assert_true(ok("\xef\xbf\xbf", 3));                      /* U+FFFF */
    assert_true(ok("\xf0\x90\x80\x80", 4));                  /* U+10000 */
    assert_true(ok("\xf4\x8f\xbf\xbf", 4));                  /* U+10FFFF */
    assert_true(ok("a\0b", 3));                              /* NUL is UTF-8 */
}

static void test_invalid(void **state)
{
    (void)state;
    static const char *bad[] = {
        "\x80", "\xbf", "\xc0\x80", "\xc1\xbf",              /* stray, overlong */
        "\xe0\x80\x80", "\xe0\x9f\xbf",                      /* overlong 3-byte */
        "\xed\xa0\x80", "\xed\xbf\xbf",                      /* surrogates */
        "\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf",              /* overlong 4-byte */
        "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff",      /* > U+10FFFF */
        "\xc3", "\xe2\x82", "\xf0\x9f\x94",                  /* truncated */
        "\xc3\x28", "\xe2\x28\xa1", "\xf0\x9f\x28\x91",      /* bad continuation */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (ok(bad[i], strlen(bad[i])))
            fail_msg("accepted invalid sequence %zu", i);
        /* Also when followed by valid text. */
        char buf[16];
        size_t n = strlen(bad[i]);
        memcpy(buf, bad[i], n);
        memcpy(buf + n, "ok", 2);
        assert_false(ok(buf, n + 2));
    }
}

/* Cross-check against a straightforward reference decoder (decode the
 * code point, then judge it) on every 1-, 2- and 3-byte input and a
 * sample of 4-byte ones. */
static int reference(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t need;
        if (s[i] < 0x80) { i++; continue; }
        if ((s[i] & 0xE0) == 0xC0) need = 1, cp = s[i] & 0x1F;
        else if ((s[i] & 0xF0) == 0xE0) need = 2, cp = s[i] & 0x0F;
        else if ((s[i] & 0xF8) == 0xF0) need = 3, cp = s[i] & 0x07;
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

static void test_exhaustive_short(void **state)
{
    (void)state;
    uint8_t s[4];
    /* Every 3-byte value; a prime stride through them under valgrind. */
    uint32_t step = tu_under_valgrind() ? 61 : 1;
    for (uint32_t v = 0; v < (1u << 24); v += step) {
        s[0] = (uint8_t)(v >> 16); s[1] = (uint8_t)(v >> 8); s[2] = (uint8_t)v;
        for (size_t n = 1; n <= 3; n++)
            if (aios__utf8_valid(s, n) != reference(s, n))
                fail_msg("disagree on %06x (length %zu)", v, n);
    }
    /* Lead bytes F0..FF with a spread of continuation patterns. */
    for (uint64_t v = 0xF0000000u; v <= 0xFFFFFFFFu; v += 0x00010101u) {
        s[0] = (uint8_t)(v >> 24); s[1] = (uint8_t)(v >> 16);
        s[2] = (uint8_t)(v >> 8); s[3] = (uint8_t)v;
        if (aios__utf8_valid(s, 4) != reference(s, 4))
            fail_msg("disagree on %08x", (unsigned)v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_exhaustive_short),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
