/*
 * MACs of the crypto seam: Wycheproof HMAC-SHA-256 (full 256-bit tags
 * compared fully, truncated tags compared as a prefix), RFC 4231
 * HMAC-SHA-256 (all seven cases) and HMAC-SHA-512, and incremental =
 * one-shot.  The HMAC-SHA-256 checks run on the SHA-256 kernel chosen for
 * this CPU and again on the portable one.
 */
#include "test_crypto_util.h"
#include "crypto/sha256.h"

static void hmac_case(json_t *group, json_t *test, void *arg)
{
    tc_counts *c = arg;
    int result = tu_result(test);
    size_t tagbytes = (size_t)tc_int(group, "tagSize") / 8;
    tc_bytes key = tc_member(test, "key"), msg = tc_member(test, "msg"), tag = tc_member(test, "tag");
    uint8_t out[AIOS__SHA256_LEN], out2[AIOS__SHA256_LEN];
    aios__hmac_sha256_ctx ctx;
    size_t i;
    int match;

    tc_count(c, result);
    assert_true(tagbytes >= 1 && tagbytes <= AIOS__SHA256_LEN);
    aios__hmac_sha256(out, key.p, key.n, msg.p, msg.n);
    /* The tag in the file has tagSize bits (a truncated tag is the prefix);
     * a tag of another length never matches. */
    match = tag.n == tagbytes && aios__ct_equal(out, tag.p, tagbytes);
    if (result == 1)
        TC_CHECK(c, match, test, "valid tag does not match");
    else
        TC_CHECK(c, !match, test, "invalid tag matches");

    /* Incremental, in 3-byte pieces, gives the same MAC. */
    aios__hmac_sha256_init(&ctx, key.p, key.n);
    for (i = 0; i < msg.n; i += 3)
        aios__hmac_sha256_update(&ctx, msg.p + i, msg.n - i < 3 ? msg.n - i : 3);
    aios__hmac_sha256_final(&ctx, out2);
    TC_CHECK(c, memcmp(out, out2, sizeof(out)) == 0, test, "incremental differs");
    TC_CHECK(c, tc_is_zero(ctx.opaque, sizeof(ctx.opaque)), test, "final left the context");
    free(key.p); free(msg.p); free(tag.p);
}

static void test_wycheproof_hmac_sha256(void **state)
{
    tc_counts c;
    size_t total;
    json_t *root = tu_wycheproof("hmac_sha256_test.json");
    (void)state;
    memset(&c, 0, sizeof(c));
    c.file = "hmac_sha256_test.json";
    total = tu_wycheproof_each(root, hmac_case, &c);
    assert_int_equal(total, c.valid + c.invalid + c.acceptable);
    tc_report(&c);
    assert_true(c.invalid > 0);
    json_decref(root);
}

static void test_hmac_sha256_rfc4231(void **state)
{
    /* RFC 4231 section 4, the HMAC-SHA-256 results of test cases 1-7: a
     * key byte repeated (or 01..19 for case 4) and a message, a data byte
     * repeated 50 times for cases 3 and 4.  Case 5 is published truncated
     * to 128 bits; cases 6 and 7 have a key longer than the block, which is
     * hashed first. */
    static const struct {
        int key_byte;              /* -1: 0x01, 0x02, ... */
        size_t keylen;
        const char *msg;           /* NULL: 50 bytes of data_byte */
        uint8_t data_byte;
        const char *mac;
    } cases[7] = {
        { 0x0b, 20, "Hi There", 0,
          "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
        { 0, 4, "what do ya want for nothing?", 0,   /* key "Jefe" */
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
        { 0xaa, 20, NULL, 0xdd,
          "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
        { -1, 25, NULL, 0xcd,
          "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" },
        { 0x0c, 20, "Test With Truncation", 0,
          "a3b6167473100ee06e0c796c2955552b" },
        { 0xaa, 131, "Test Using Larger Than Block-Size Key - Hash Key First", 0,
          "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
        { 0xaa, 131, "This is a test using a larger than block-size key and a larger "
                     "than block-size data. The key needs to be hashed before being "
                     "used by the HMAC algorithm.", 0,
          "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
    };
    uint8_t out[32], key[131], data[50];
    size_t c, i;
    (void)state;

    for (c = 0; c < 7; c++) {
        tc_bytes e = tc_hex(cases[c].mac);
        const uint8_t *msg = (const uint8_t *)cases[c].msg;
        size_t len = msg != NULL ? strlen(cases[c].msg) : sizeof(data);
        if (c == 1)
            memcpy(key, "Jefe", 4);
        else
            for (i = 0; i < cases[c].keylen; i++)
                key[i] = cases[c].key_byte < 0 ? (uint8_t)(i + 1) : (uint8_t)cases[c].key_byte;
        if (msg == NULL) {
            memset(data, cases[c].data_byte, sizeof(data));
            msg = data;
        }
        aios__hmac_sha256(out, key, cases[c].keylen, msg, len);
        if (memcmp(out, e.p, e.n) != 0)
            fail_msg("RFC 4231 test case %zu differs (SHA-256 kernel %s)", c + 1,
                     aios__sha256_kernel());
        free(e.p);
    }
}

/* Wycheproof and RFC 4231 again on libsodium's portable SHA-256 kernel
 * (the tests above ran on the accelerated one where the CPU has it). */
static void test_hmac_sha256_portable_kernel(void **state)
{
    aios__sha256_test_force_portable(1);
    assert_string_equal(aios__sha256_kernel(), "libsodium");
    test_wycheproof_hmac_sha256(state);
    test_hmac_sha256_rfc4231(state);
    aios__sha256_test_force_portable(0);
}

static int reset_sha256_kernel(void **state)
{
    (void)state;
    aios__sha256_test_force_portable(0);
    return 0;
}

static void test_hmac_sha512_rfc4231(void **state)
{
    (void)state;
    uint8_t out[64], key[131];
    static const char m2[] = "what do ya want for nothing?";
    static const char m6[] = "Test Using Larger Than Block-Size Key - Hash Key First";
    tc_bytes e1 = tc_hex("87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
                         "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854");
    tc_bytes e2 = tc_hex("164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
                         "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
    tc_bytes e6 = tc_hex("80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
                         "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598");
    memset(key, 0x0b, 20);
    aios__hmac_sha512(out, key, 20, (const uint8_t *)"Hi There", 8);
    assert_memory_equal(out, e1.p, 64);
    aios__hmac_sha512(out, (const uint8_t *)"Jefe", 4, (const uint8_t *)m2, sizeof(m2) - 1);
    assert_memory_equal(out, e2.p, 64);
    memset(key, 0xaa, sizeof(key));
    aios__hmac_sha512(out, key, sizeof(key), (const uint8_t *)m6, sizeof(m6) - 1);
    assert_memory_equal(out, e6.p, 64);
    free(e1.p); free(e2.p); free(e6.p);
}

static void test_empty_key_and_message(void **state)
{
    (void)state;
    uint8_t out[64];
    /* HMAC-SHA-512("", ""), from Python's hmac module. */
    tc_bytes e = tc_hex("b936cee86c9f87aa5d3c6f2e84cb5a4239a5fe50480a6ec66b70ab5b1f4ac673"
                        "0c6c515421b327ec1d69402e53dfb49ad7381eb067b338fd7b0cb22247225d47");
    aios__hmac_sha512(out, NULL, 0, NULL, 0);
    assert_memory_equal(out, e.p, 64);
    free(e.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wycheproof_hmac_sha256),
        cmocka_unit_test(test_hmac_sha256_rfc4231),
        cmocka_unit_test_teardown(test_hmac_sha256_portable_kernel, reset_sha256_kernel),
        cmocka_unit_test(test_hmac_sha512_rfc4231),
        cmocka_unit_test(test_empty_key_and_message),
    };
    return cmocka_run_group_tests(tests, tc_setup, NULL);
}
