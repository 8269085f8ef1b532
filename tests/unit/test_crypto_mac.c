/*
 * MACs of the crypto seam: Wycheproof HMAC-SHA-256 (full 256-bit tags
 * compared fully, truncated tags compared as a prefix), RFC 4231
 * HMAC-SHA-512, and incremental = one-shot.
 */
#include "test_crypto_util.h"

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
    (void)state;
    uint8_t out[32], key[131];
    /* Case 1 and case 6 (a key longer than the block is hashed first). */
    tc_bytes e1 = tc_hex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    tc_bytes e6 = tc_hex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    static const char m6[] = "Test Using Larger Than Block-Size Key - Hash Key First";
    memset(key, 0x0b, 20);
    aios__hmac_sha256(out, key, 20, (const uint8_t *)"Hi There", 8);
    assert_memory_equal(out, e1.p, 32);
    memset(key, 0xaa, sizeof(key));
    aios__hmac_sha256(out, key, sizeof(key), (const uint8_t *)m6, sizeof(m6) - 1);
    assert_memory_equal(out, e6.p, 32);
    free(e1.p); free(e6.p);
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
        cmocka_unit_test(test_hmac_sha512_rfc4231),
        cmocka_unit_test(test_empty_key_and_message),
    };
    return cmocka_run_group_tests(tests, tc_setup, NULL);
}
