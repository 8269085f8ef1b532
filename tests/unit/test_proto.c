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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
