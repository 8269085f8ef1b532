/* Wire encoding: KeyRef round trips, canonical form, validation. */
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "proto/proto.h"

static aios__keyref make(const char *provider, const char *key_id, uint32_t version)
{
    aios__keyref r;
    memset(&r, 0, sizeof(r));
    /* Callers pass strings that fit; cut defensively all the same. */
    memcpy(r.provider, provider, strnlen(provider, AIOS__PROVIDER_MAX));
    memcpy(r.key_id, key_id, strnlen(key_id, AIOS__KEY_ID_MAX));
    r.version = version;
    return r;
}

static void test_roundtrip_and_pinned_bytes(void **state)
{
    (void)state;
    static const uint8_t expect[] = {
        0x0a, 0x05, 'l', 'o', 'c', 'a', 'l', 0x12, 0x02, 'k', '1', 0x18, 0x07
    };
    aios__keyref r = make("local", "k1", 7), back;
    aios_buffer *enc = NULL;
    tu_assert_ok(aios__keyref_encode(&enc, &r));
    assert_int_equal(aios_buffer_len(enc), sizeof(expect));
    assert_memory_equal(aios_buffer_data(enc), expect, sizeof(expect));
    tu_assert_ok(aios__keyref_decode(&back, aios_buffer_data(enc), aios_buffer_len(enc)));
    assert_string_equal(back.provider, "local");
    assert_string_equal(back.key_id, "k1");
    assert_int_equal(back.version, 7);
    aios_buffer_free(enc);
}

static void test_limits_on_encode(void **state)
{
    (void)state;
    char longid[AIOS__KEY_ID_MAX + 2];
    aios__keyref r;
    aios_buffer *enc = NULL;
    memset(longid, 'a', sizeof(longid));
    longid[AIOS__KEY_ID_MAX] = '\0';
    r = make("local", longid, 1);
    tu_assert_ok(aios__keyref_encode(&enc, &r));      /* exactly the max */
    aios_buffer_free(enc);
    r = make("local", "k", 0);
    tu_assert_status(aios__keyref_encode(&enc, &r), AIOS_E_FORMAT);
    r = make("", "k", 1);
    tu_assert_status(aios__keyref_encode(&enc, &r), AIOS_E_FORMAT);
    r = make("local", "", 1);
    tu_assert_status(aios__keyref_encode(&enc, &r), AIOS_E_FORMAT);
    r = make("local", "bad\xff", 1);
    tu_assert_status(aios__keyref_encode(&enc, &r), AIOS_E_FORMAT);
    assert_non_null(strstr(aios_last_error_message(), "UTF-8"));
}

static void expect_reject(const uint8_t *data, size_t len, const char *why)
{
    aios__keyref out;
    int rc = aios__keyref_decode(&out, data, len);
    if (rc != AIOS_E_FORMAT)
        fail_msg("accepted (%s): %s", aios_status_name(rc), why);
    /* Nothing half-decoded is left behind. */
    assert_int_equal(out.version, 0);
    assert_int_equal(out.key_id[0], 0);
}

static void test_rejects(void **state)
{
    (void)state;
    static const uint8_t nul_in_id[] = { 0x0a, 0x01, 'p', 0x12, 0x03, 'a', 0x00, 'b', 0x18, 0x01 };
    static const uint8_t twice[] = { 0x0a, 0x01, 'p', 0x12, 0x01, 'a', 0x12, 0x01, 'b', 0x18, 0x01 };
    static const uint8_t long_varint[] = { 0x0a, 0x01, 'p', 0x12, 0x01, 'a', 0x18, 0x81, 0x00 };
    static const uint8_t reordered[] = { 0x12, 0x01, 'a', 0x0a, 0x01, 'p', 0x18, 0x01 };
    static const uint8_t truncated[] = { 0x0a, 0x05, 'l', 'o' };
    static const uint8_t no_version[] = { 0x0a, 0x01, 'p', 0x12, 0x01, 'a' };
    static const uint8_t bad_utf8[] = { 0x0a, 0x01, 'p', 0x12, 0x01, 0xC0, 0x18, 0x01 };
    static const uint8_t wrong_type[] = { 0x08, 0x01, 0x12, 0x01, 'a', 0x18, 0x01 };
    expect_reject(nul_in_id, sizeof(nul_in_id), "NUL inside the key id");
    expect_reject(twice, sizeof(twice), "key id given twice");
    expect_reject(long_varint, sizeof(long_varint), "non-minimal varint");
    expect_reject(reordered, sizeof(reordered), "fields out of order");
    expect_reject(truncated, sizeof(truncated), "truncated");
    expect_reject(no_version, sizeof(no_version), "version 0 / absent");
    expect_reject(bad_utf8, sizeof(bad_utf8), "invalid UTF-8");
    expect_reject(wrong_type, sizeof(wrong_type), "provider with a varint wire type");
    expect_reject((const uint8_t *)"", 0, "empty");
    uint8_t big[1024];
    memset(big, 0, sizeof(big));
    expect_reject(big, sizeof(big), "too long");
}

/* The library's walk and protobuf-c's unpack and re-pack judge every
 * byte string alike: each one-byte change (every value at every offset)
 * and every cut of a few encodings, canonical and not. */
static void test_walk_matches_protobuf_c(void **state)
{
    static const struct { const uint8_t *p; size_t n; } seeds[] = {
        { (const uint8_t *)"\x0a\x05local\x12\x02k1\x18\x07", 13 },
        { (const uint8_t *)"\x0a\x01p\x12\x01k\x18\x81\x01\x22\x01x\x28\x00", 14 },
        { (const uint8_t *)"\x0a\x01p\x12\x01k\x18\x01\x29\x01\x02\x03\x04\x05\x06"
                           "\x07\x08\x35\x01\x02\x03\x04", 22 },
        /* a version over 32 bits in 5 bytes; an unknown field's 5-byte length */
        { (const uint8_t *)"\x0a\x01p\x12\x01k\x18\x81\x80\x80\x80\x10", 12 },
        { (const uint8_t *)"\x0a\x01p\x12\x01k\x18\x01\x22\x81\x80\x80\x80\x00x", 15 },
    };
    uint8_t buf[32];
    size_t si, i, compared = 0;
    unsigned v;
    (void)state;

    for (si = 0; si < sizeof(seeds) / sizeof(seeds[0]); si++) {
        size_t n = seeds[si].n;
        assert_true(n <= sizeof(buf));
        for (i = 0; i <= n; i++) {
            for (v = 0; v < 257; v++) {
                aios__keyref a, b;
                size_t len = n;
                int ra, rb;
                memcpy(buf, seeds[si].p, n);
                if (i == n) {
                    if (v > n)
                        break;
                    len = v;                    /* a cut */
                } else if (v < 256) {
                    buf[i] = (uint8_t)v;        /* a changed byte */
                } else {
                    continue;
                }
                ra = aios__keyref_decode(&a, buf, len);
                rb = aios__keyref_decode_pbc(&b, buf, len);
                if (ra != rb)
                    fail_msg("seed %zu, byte %zu = 0x%02x (len %zu): walk %s, protobuf-c %s", si,
                             i, v, len, aios_status_name(ra), aios_status_name(rb));
                if (ra == AIOS_OK && (strcmp(a.provider, b.provider) != 0 ||
                                      strcmp(a.key_id, b.key_id) != 0 || a.version != b.version))
                    fail_msg("seed %zu, byte %zu = 0x%02x: the decoders disagree on values", si,
                             i, v);
                compared++;
            }
        }
    }
    assert_true(compared > 10000);
}

static void test_unknown_field_kept_readable(void **state)
{
    (void)state;
    /* A newer writer's field 15 (varint) after the known ones still decodes. */
    static const uint8_t newer[] = { 0x0a, 0x01, 'p', 0x12, 0x01, 'a', 0x18, 0x02, 0x78, 0x05 };
    aios__keyref out;
    tu_assert_ok(aios__keyref_decode(&out, newer, sizeof(newer)));
    assert_int_equal(out.version, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_and_pinned_bytes),
        cmocka_unit_test(test_limits_on_encode),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_unknown_field_kept_readable),
        cmocka_unit_test(test_walk_matches_protobuf_c),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
