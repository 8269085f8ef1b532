/*
 * Encodings of the crypto seam: RFC 4648 base64 (four variants) and hex:
 * known answers, round trips, and strict rejection of everything else.
 */
#include "test_crypto_util.h"

static const aios__b64_variant variants[] = {
    AIOS__B64_STANDARD, AIOS__B64_STANDARD_NOPAD, AIOS__B64_URLSAFE, AIOS__B64_URLSAFE_NOPAD
};

static void test_rfc4648_vectors(void **state)
{
    (void)state;
    /* RFC 4648 section 10. */
    static const struct { const char *bin, *b64; } v[] = {
        { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
        { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
    };
    char enc[32], nopad[32];
    uint8_t dec[16];
    size_t i, n;
    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t len = strlen(v[i].bin);
        tu_assert_ok(aios__base64_encode(enc, sizeof(enc), (const uint8_t *)v[i].bin, len,
                                         AIOS__B64_STANDARD));
        assert_string_equal(enc, v[i].b64);
        assert_int_equal(aios__base64_encoded_len(len, AIOS__B64_STANDARD), strlen(enc) + 1);
        tu_assert_ok(aios__base64_decode(dec, sizeof(dec), &n, enc, strlen(enc), AIOS__B64_STANDARD));
        assert_int_equal(n, len);
        assert_memory_equal(dec, v[i].bin, len);

        /* Unpadded: the same text without '='. */
        strcpy(nopad, v[i].b64);
        while (strlen(nopad) > 0 && nopad[strlen(nopad) - 1] == '=')
            nopad[strlen(nopad) - 1] = '\0';
        tu_assert_ok(aios__base64_encode(enc, sizeof(enc), (const uint8_t *)v[i].bin, len,
                                         AIOS__B64_URLSAFE_NOPAD));
        assert_string_equal(enc, nopad);
        assert_int_equal(aios__base64_encoded_len(len, AIOS__B64_URLSAFE_NOPAD), strlen(enc) + 1);
        tu_assert_ok(aios__base64_decode(dec, sizeof(dec), &n, nopad, strlen(nopad),
                                         AIOS__B64_STANDARD_NOPAD));
        assert_int_equal(n, len);
        assert_memory_equal(dec, v[i].bin, len);
    }
}

static void test_alphabets(void **state)
{
    (void)state;
    static const uint8_t bin[] = { 0xfb, 0xff, 0xbf, 0xfb };
    char enc[16];
    uint8_t dec[8];
    size_t n;
    tu_assert_ok(aios__base64_encode(enc, sizeof(enc), bin, 4, AIOS__B64_STANDARD));
    assert_string_equal(enc, "+/+/+w==");
    tu_assert_ok(aios__base64_encode(enc, sizeof(enc), bin, 4, AIOS__B64_URLSAFE));
    assert_string_equal(enc, "-_-_-w==");
    tu_assert_ok(aios__base64_encode(enc, sizeof(enc), bin, 4, AIOS__B64_URLSAFE_NOPAD));
    assert_string_equal(enc, "-_-_-w");
    tu_assert_ok(aios__base64_decode(dec, sizeof(dec), &n, "-_-_-w", 6, AIOS__B64_URLSAFE_NOPAD));
    assert_int_equal(n, 4);
    assert_memory_equal(dec, bin, 4);
    /* Each alphabet refuses the other's characters. */
    assert_int_equal(aios__base64_decode(dec, sizeof(dec), &n, "-_-_-w==", 8, AIOS__B64_STANDARD),
                     AIOS_E_FORMAT);
    assert_int_equal(aios__base64_decode(dec, sizeof(dec), &n, "+/+/+w==", 8, AIOS__B64_URLSAFE),
                     AIOS_E_FORMAT);
}

static void test_base64_rejects(void **state)
{
    (void)state;
    static const struct { const char *in; size_t len; aios__b64_variant v; const char *why; } bad[] = {
        { "Zm9v!", 5, AIOS__B64_STANDARD, "bad character" },
        { "Zm9v\n", 5, AIOS__B64_STANDARD, "trailing newline" },
        { "Zm 9v", 5, AIOS__B64_STANDARD, "inner space" },
        { " Zm9v", 5, AIOS__B64_STANDARD, "leading space" },
        { "Zm9v\0Zg", 7, AIOS__B64_STANDARD_NOPAD, "embedded NUL" },
        { "Zg", 2, AIOS__B64_STANDARD, "missing padding" },
        { "Zg=", 3, AIOS__B64_STANDARD, "short padding" },
        { "Zg===", 5, AIOS__B64_STANDARD, "extra padding" },
        { "Zm9v=", 5, AIOS__B64_STANDARD, "padding after a full group" },
        { "Zg==", 4, AIOS__B64_STANDARD_NOPAD, "padding in an unpadded variant" },
        { "Zg==", 4, AIOS__B64_URLSAFE_NOPAD, "padding in an unpadded variant" },
        { "Zh==", 4, AIOS__B64_STANDARD, "non-zero trailing bits" },
        { "Zm9=", 4, AIOS__B64_STANDARD, "non-zero trailing bits" },
        { "Zm9vY", 5, AIOS__B64_STANDARD_NOPAD, "a lone sixth of a byte" },
        { "Zg==Zg==", 8, AIOS__B64_STANDARD, "padding mid-string" },
        { "=", 1, AIOS__B64_STANDARD, "padding only" },
        { "====", 4, AIOS__B64_STANDARD, "padding only" },
        /* libsodium 1.0.18 alone decodes these as '/' or '_' (fuzzing). */
        { "\xa7\xb8\x9d\xc7GGV6", 8, AIOS__B64_STANDARD, "bytes above 0x7f" },
        { "\xa7\xb8\x9d\xc7GGV6", 8, AIOS__B64_URLSAFE_NOPAD, "bytes above 0x7f" },
        { "Zm9v\xff", 5, AIOS__B64_STANDARD_NOPAD, "byte 0xff" },
        { "Zm-v", 4, AIOS__B64_STANDARD, "URL-safe character in the standard alphabet" },
        { "Zm+v", 4, AIOS__B64_URLSAFE, "standard character in the URL-safe alphabet" },
    };
    uint8_t dec[16];
    size_t i, n;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc;
        memset(dec, 0x5a, sizeof(dec));
        n = 99;
        rc = aios__base64_decode(dec, sizeof(dec), &n, bad[i].in, bad[i].len, bad[i].v);
        if (rc != AIOS_E_FORMAT)
            fail_msg("base64 case %zu (%s) gave %s", i, bad[i].why, aios_status_name(rc));
        assert_int_equal(n, 0);
        assert_true(tc_is_zero(dec, sizeof(dec)));    /* partial output wiped */
    }
    assert_int_equal(aios__base64_decode(dec, sizeof(dec), &n, "Zg==", 4, (aios__b64_variant)2),
                     AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__base64_encoded_len(3, (aios__b64_variant)0), 0);
}

static void test_base64_buffers(void **state)
{
    (void)state;
    char enc[9];
    uint8_t dec[6];
    size_t n = 0;
    /* "foobar" needs 9 bytes with the NUL. */
    assert_int_equal(aios__base64_encode(enc, 8, (const uint8_t *)"foobar", 6, AIOS__B64_STANDARD),
                     AIOS_E_BUFFER_TOO_SMALL);
    assert_non_null(strstr(aios_last_error_message(), "9"));
    tu_assert_ok(aios__base64_encode(enc, 9, (const uint8_t *)"foobar", 6, AIOS__B64_STANDARD));
    assert_int_equal(aios__base64_decode(dec, 5, &n, "Zm9vYmFy", 8, AIOS__B64_STANDARD),
                     AIOS_E_BUFFER_TOO_SMALL);
    assert_int_equal(n, 6);
    assert_int_equal(aios__base64_decode(dec, 4, &n, "Zm9vYmE=", 8, AIOS__B64_STANDARD),
                     AIOS_E_BUFFER_TOO_SMALL);
    assert_int_equal(n, 5);
    tu_assert_ok(aios__base64_decode(dec, 5, &n, "Zm9vYmE=", 8, AIOS__B64_STANDARD));
    assert_int_equal(n, 5);
    tu_assert_ok(aios__base64_decode(NULL, 0, &n, "", 0, AIOS__B64_STANDARD));
    assert_int_equal(n, 0);
}

static void test_round_trips(void **state)
{
    (void)state;
    uint8_t bin[100], dec[100];
    char enc[140], hex[201];
    size_t len, vi, n;
    for (len = 0; len <= sizeof(bin); len++) {
        aios__random_bytes(bin, len);
        for (vi = 0; vi < 4; vi++) {
            size_t need = aios__base64_encoded_len(len, variants[vi]);
            tu_assert_ok(aios__base64_encode(enc, need, bin, len, variants[vi]));
            assert_int_equal(strlen(enc) + 1, need);
            tu_assert_ok(aios__base64_decode(dec, sizeof(dec), &n, enc, strlen(enc), variants[vi]));
            assert_int_equal(n, len);
            assert_memory_equal(dec, bin, len);
        }
        tu_assert_ok(aios__hex_encode(hex, 2 * len + 1, bin, len));
        assert_int_equal(strlen(hex), 2 * len);
        tu_assert_ok(aios__hex_decode(dec, len, &n, hex, 2 * len));
        assert_int_equal(n, len);
        assert_memory_equal(dec, bin, len);
    }
}

static void test_hex(void **state)
{
    (void)state;
    static const uint8_t bin[] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };
    char hex[17];
    uint8_t dec[8];
    size_t n, i;
    static const char *bad[] = { "0", "0g", "g0", " 00", "00 ", "0x00", "00:11", "0\n", "+1" };

    tu_assert_ok(aios__hex_encode(hex, sizeof(hex), bin, sizeof(bin)));
    assert_string_equal(hex, "0123456789abcdef");
    assert_int_equal(aios__hex_encode(hex, 16, bin, sizeof(bin)), AIOS_E_BUFFER_TOO_SMALL);
    tu_assert_ok(aios__hex_decode(dec, sizeof(dec), &n, "0123456789ABCDEF", 16));
    assert_int_equal(n, 8);
    assert_memory_equal(dec, bin, 8);
    assert_int_equal(aios__hex_decode(dec, 7, &n, "0123456789abcdef", 16), AIOS_E_BUFFER_TOO_SMALL);
    assert_int_equal(n, 8);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc;
        memset(dec, 0x5a, sizeof(dec));
        rc = aios__hex_decode(dec, sizeof(dec), &n, bad[i], strlen(bad[i]));
        if (rc != AIOS_E_FORMAT)
            fail_msg("hex \"%s\" gave %s", bad[i], aios_status_name(rc));
        assert_int_equal(n, 0);
        assert_true(tc_is_zero(dec, sizeof(dec)));
    }
    tu_assert_ok(aios__hex_decode(NULL, 0, &n, "", 0));
    assert_int_equal(n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_alphabets),
        cmocka_unit_test(test_base64_rejects),
        cmocka_unit_test(test_base64_buffers),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_hex),
    };
    return cmocka_run_group_tests(tests, tc_setup, NULL);
}
