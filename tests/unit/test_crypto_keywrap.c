/*
 * AES key wrap of the crypto seam: KW (RFC 3394) and KWP (RFC 5649)
 * against every Wycheproof vector (128-, 192- and 256-bit KEKs), the
 * RFC examples, and the API's edges: lengths, limits, short buffers,
 * wiping, in-place operation, tampering.
 */
#include "test_crypto_util.h"

typedef int (*kw_fn)(uint8_t *out, size_t out_cap, size_t *out_len,
                     const uint8_t *kek, size_t kek_len, const uint8_t *in, size_t in_len);

typedef struct kw_walk {
    tc_counts c;
    int       padded;            /* KWP */
    size_t    per_size[3];       /* cases run per KEK size: 128, 192, 256 */
    size_t    rejected_policy;   /* "acceptable" cases we refuse */
} kw_walk;

static int has_flag(json_t *test, const char *flag)
{
    json_t *flags = json_object_get(test, "flags"), *f;
    size_t i;
    json_array_foreach(flags, i, f) {
        if (json_is_string(f) && strcmp(json_string_value(f), flag) == 0)
            return 1;
    }
    return 0;
}

static void kw_case(json_t *group, json_t *test, void *arg)
{
    kw_walk *w = arg;
    kw_fn wrap = w->padded ? aios__aes_kwp_wrap : aios__aes_kw_wrap;
    kw_fn unwrap = w->padded ? aios__aes_kwp_unwrap : aios__aes_kw_unwrap;
    int result = tu_result(test), rc;
    tc_bytes key = tc_member(test, "key"), msg = tc_member(test, "msg"), ct = tc_member(test, "ct");
    size_t cap = msg.n + ct.n + 16, n = 0, bits = (size_t)tc_int(group, "keySize");
    uint8_t *out = malloc(cap);

    assert_non_null(out);
    assert_int_equal(key.n * 8, bits);
    w->per_size[bits == 128 ? 0 : bits == 192 ? 1 : 2]++;
    tc_count(&w->c, result);

    if (result == 1) {
        rc = wrap(out, cap, &n, key.p, key.n, msg.p, msg.n);
        TC_CHECK(&w->c, rc == AIOS_OK && n == ct.n && memcmp(out, ct.p, n) == 0, test,
                 "wrapping did not give the expected ciphertext");
        rc = unwrap(out, cap, &n, key.p, key.n, ct.p, ct.n);
        TC_CHECK(&w->c, rc == AIOS_OK && n == msg.n && memcmp(out, msg.p, n) == 0, test,
                 "unwrapping did not give the key back");
    } else {
        /* Invalid, or "acceptable" 8-byte KW keys, which SP 800-38F does
         * not define and we refuse: unwrapping must fail and leave
         * nothing behind, and wrapping the message must not produce ct. */
        memset(out, 0xa5, cap);
        rc = unwrap(out, cap, &n, key.p, key.n, ct.p, ct.n);
        TC_CHECK(&w->c, rc == AIOS_E_AUTH || rc == AIOS_E_FORMAT, test,
                 "an invalid wrapped key was not rejected");
        TC_CHECK(&w->c, n == 0, test, "a failed unwrap reported a length");
        if (rc == AIOS_E_AUTH)
            TC_CHECK(&w->c, tc_is_zero(out, ct.n - 8), test, "a failed unwrap left bytes behind");
        else
            TC_CHECK(&w->c, out[0] == 0xa5, test, "a malformed input was decrypted");
        /* Which failure: integrity for altered IVs and padding on a
         * well-sized input, format for sizes no wrap produces. */
        if (has_flag(test, "ModifiedIv") || (has_flag(test, "ModifiedPadding") && ct.n >= 16))
            TC_CHECK(&w->c, rc == AIOS_E_AUTH, test, "expected AIOS_E_AUTH");
        if (has_flag(test, "InvalidWrappingSize") || has_flag(test, "WrongDataSize") ||
            has_flag(test, "EmptyKey") || has_flag(test, "ShortKey") || ct.n < 16)
            TC_CHECK(&w->c, rc == AIOS_E_FORMAT, test, "expected AIOS_E_FORMAT");
        rc = wrap(out, cap, &n, key.p, key.n, msg.p, msg.n);
        TC_CHECK(&w->c, rc != AIOS_OK || n != ct.n || memcmp(out, ct.p, n) != 0, test,
                 "wrapping the message reproduced an invalid ciphertext");
        if (result == -1) {
            TC_CHECK(&w->c, rc == AIOS_E_INVALID_ARGUMENT, test, "8-byte KW input not refused");
            w->rejected_policy++;
        }
    }
    free(out); free(key.p); free(msg.p); free(ct.p);
}

static void run_wycheproof(const char *file, int padded, size_t exp_valid, size_t exp_invalid,
                           size_t exp_acceptable)
{
    kw_walk w;
    size_t total;
    json_t *root = tu_wycheproof(file);

    memset(&w, 0, sizeof(w));
    w.c.file = file;
    w.padded = padded;
    total = tu_wycheproof_each(root, kw_case, &w);
    assert_int_equal(total, w.c.valid + w.c.invalid + w.c.acceptable);
    tc_report(&w.c);
    printf("%s: per KEK size 128/192/256: %zu/%zu/%zu; %zu acceptable refused by policy "
           "(KW needs >= 16 bytes)\n", file, w.per_size[0], w.per_size[1], w.per_size[2],
           w.rejected_policy);
    assert_true(w.per_size[0] > 0 && w.per_size[1] > 0 && w.per_size[2] > 0);
    assert_int_equal(w.rejected_policy, w.c.acceptable);
    if (!tu_under_valgrind()) {
        /* Every vector ran: the file's own count, and the split of it. */
        assert_int_equal(total, (size_t)tc_int(root, "numberOfTests"));
        assert_int_equal(w.c.valid, exp_valid);
        assert_int_equal(w.c.invalid, exp_invalid);
        assert_int_equal(w.c.acceptable, exp_acceptable);
    }
    json_decref(root);
}

static void test_wycheproof_kw(void **state)
{
    (void)state;
    run_wycheproof("aes_wrap_test.json", 0, 36, 126, 3);
}

static void test_wycheproof_kwp(void **state)
{
    (void)state;
    run_wycheproof("aes_kwp_test.json", 1, 77, 177, 0);
}

/* RFC 3394 section 4 (all six) and RFC 5649 section 6 (both). */
typedef struct rfc_vec {
    int         padded;
    const char *kek, *key, *wrapped;
} rfc_vec;

#define KEK128 "000102030405060708090a0b0c0d0e0f"
#define KEK192 KEK128 "1011121314151617"
#define KEK256 KEK192 "18191a1b1c1d1e1f"
#define DATA128 "00112233445566778899aabbccddeeff"
#define DATA192 DATA128 "0001020304050607"
#define DATA256 DATA192 "08090a0b0c0d0e0f"

static const rfc_vec rfc_vecs[] = {
    { 0, KEK128, DATA128, "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5" },
    { 0, KEK192, DATA128, "96778b25ae6ca435f92b5b97c050aed2468ab8a17ad84e5d" },
    { 0, KEK256, DATA128, "64e8c3f9ce0f5ba263e9777905818a2a93c8191e7d6e8ae7" },
    { 0, KEK192, DATA192, "031d33264e15d33268f24ec260743edce1c6c7ddee725a936ba814915c6762d2" },
    { 0, KEK256, DATA192, "a8f9bc1612c68b3ff6e6f4fbe30e71e4769c8b80a32cb8958cd5d17d6b254da1" },
    { 0, KEK256, DATA256, "28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43b"
                          "fb988b9b7a02dd21" },
    { 1, "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8",
         "c37b7e6492584340bed12207808941155068f738",
         "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a" },
    { 1, "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8",
         "466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f" },
};

static void test_rfc_examples(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(rfc_vecs) / sizeof(rfc_vecs[0]); i++) {
        const rfc_vec *v = &rfc_vecs[i];
        tc_bytes kek = tc_hex(v->kek), key = tc_hex(v->key), wr = tc_hex(v->wrapped);
        kw_fn wrap = v->padded ? aios__aes_kwp_wrap : aios__aes_kw_wrap;
        kw_fn unwrap = v->padded ? aios__aes_kwp_unwrap : aios__aes_kw_unwrap;
        uint8_t out[64], back[64];
        size_t n = 0, m = 0;

        tu_assert_ok(wrap(out, sizeof(out), &n, kek.p, kek.n, key.p, key.n));
        assert_int_equal(n, wr.n);
        assert_memory_equal(out, wr.p, n);
        if (v->padded)
            assert_int_equal(n, AIOS__KWP_WRAPPED_LEN(key.n));
        else
            assert_int_equal(n, key.n + AIOS__KW_OVERHEAD);
        tu_assert_ok(unwrap(back, sizeof(back), &m, kek.p, kek.n, wr.p, wr.n));
        assert_int_equal(m, key.n);
        assert_memory_equal(back, key.p, m);
        /* The other mode refuses the same bytes. */
        kw_fn other = v->padded ? aios__aes_kw_unwrap : aios__aes_kwp_unwrap;
        assert_true(other(back, sizeof(back), &m, kek.p, kek.n, wr.p, wr.n) != AIOS_OK);
        free(kek.p); free(key.p); free(wr.p);
    }
}

/* Every byte of a wrapped key, altered, fails the integrity check, and a
 * wrong KEK does too; the output is wiped each time. */
static void check_tamper(int padded, size_t keylen)
{
    kw_fn wrap = padded ? aios__aes_kwp_wrap : aios__aes_kw_wrap;
    kw_fn unwrap = padded ? aios__aes_kwp_unwrap : aios__aes_kw_unwrap;
    uint8_t kek[32], key[64], wr[80], out[80];
    size_t n = 0, m = 0, i;

    aios__random_bytes(kek, sizeof(kek));
    aios__random_bytes(key, keylen);
    tu_assert_ok(wrap(wr, sizeof(wr), &n, kek, 32, key, keylen));
    for (i = 0; i < n; i++) {
        wr[i] ^= (uint8_t)(1u << (i % 8));
        memset(out, 0x5a, sizeof(out));
        tu_assert_status(unwrap(out, sizeof(out), &m, kek, 32, wr, n), AIOS_E_AUTH);
        assert_int_equal(m, 0);
        assert_true(tc_is_zero(out, n - 8));
        wr[i] ^= (uint8_t)(1u << (i % 8));
    }
    kek[31] ^= 1;
    tu_assert_status(unwrap(out, sizeof(out), &m, kek, 32, wr, n), AIOS_E_AUTH);
    assert_string_equal(aios_last_error_message(),
                        padded ? "AES-KWP unwrap: integrity check failed (wrong key or altered data)"
                               : "AES-KW unwrap: integrity check failed (wrong key or altered data)");
    kek[31] ^= 1;
    tu_assert_ok(unwrap(out, sizeof(out), &m, kek, 32, wr, n));
    assert_int_equal(m, keylen);
    assert_memory_equal(out, key, keylen);
}

static void test_tamper(void **state)
{
    size_t len;
    (void)state;
    for (len = 16; len <= 64; len += 8)
        check_tamper(0, len);
    for (len = 1; len <= 64; len++)
        check_tamper(1, len);
}

/* Random round trips over every KEK size and many lengths, including
 * rounds whose counter passes 255 and in-place operation. */
static void test_round_trips(void **state)
{
    static const size_t kek_lens[] = { 16, 24, 32 };
    uint8_t kek[32], *key, *wr, *out;
    size_t k, len, n = 0, m = 0, cap = 4200;
    (void)state;

    key = malloc(cap);
    wr = malloc(cap + 16);
    out = malloc(cap + 16);
    assert_non_null(key); assert_non_null(wr); assert_non_null(out);
    for (k = 0; k < 3; k++) {
        aios__random_bytes(kek, sizeof(kek));
        for (len = 1; len <= cap; len = len < 80 ? len + 1 : len * 3 + 5) {
            aios__random_bytes(key, len);
            tu_assert_ok(aios__aes_kwp_wrap(wr, cap + 16, &n, kek, kek_lens[k], key, len));
            assert_int_equal(n, AIOS__KWP_WRAPPED_LEN(len));
            tu_assert_ok(aios__aes_kwp_unwrap(out, cap + 16, &m, kek, kek_lens[k], wr, n));
            assert_int_equal(m, len);
            assert_memory_equal(out, key, len);
            if (len % 8 == 0 && len >= 16) {
                tu_assert_ok(aios__aes_kw_wrap(wr, cap + 16, &n, kek, kek_lens[k], key, len));
                assert_int_equal(n, len + 8);
                /* In place: unwrap into the wrapped buffer, wrap it back. */
                memcpy(out, wr, n);
                tu_assert_ok(aios__aes_kw_unwrap(out, cap + 16, &m, kek, kek_lens[k], out, n));
                assert_int_equal(m, len);
                assert_memory_equal(out, key, len);
                tu_assert_ok(aios__aes_kw_wrap(out, cap + 16, &m, kek, kek_lens[k], out, len));
                assert_int_equal(m, n);
                assert_memory_equal(out, wr, n);
            }
        }
    }
    free(key); free(wr); free(out);
}

static void test_arguments(void **state)
{
    uint8_t kek[32] = { 0 }, key[32] = { 1 }, out[64], wr[40];
    size_t n = 99, m = 0;
    (void)state;

    /* KEK sizes. */
    tu_assert_status(aios__aes_kw_wrap(out, sizeof(out), &n, kek, 20, key, 16),
                     AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(n, 0);
    tu_assert_status(aios__aes_kwp_unwrap(out, sizeof(out), &n, kek, 0, key, 16),
                     AIOS_E_INVALID_ARGUMENT);
    /* NULLs. */
    tu_assert_status(aios__aes_kw_wrap(out, sizeof(out), NULL, kek, 16, key, 16),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__aes_kw_wrap(NULL, sizeof(out), &n, kek, 16, key, 16),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__aes_kwp_wrap(out, sizeof(out), &n, NULL, 16, key, 16),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__aes_kwp_wrap(out, sizeof(out), &n, kek, 16, NULL, 16),
                     AIOS_E_INVALID_ARGUMENT);
    /* Lengths each mode cannot wrap. */
    tu_assert_status(aios__aes_kw_wrap(out, sizeof(out), &n, kek, 16, key, 8),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__aes_kw_wrap(out, sizeof(out), &n, kek, 16, key, 20),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__aes_kw_wrap(out, sizeof(out), &n, kek, 16, key, 0),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__aes_kwp_wrap(out, sizeof(out), &n, kek, 16, key, 0),
                     AIOS_E_INVALID_ARGUMENT);
    /* Wrapped lengths no wrap produces. */
    tu_assert_status(aios__aes_kw_unwrap(out, sizeof(out), &n, kek, 16, key, 16), AIOS_E_FORMAT);
    tu_assert_status(aios__aes_kw_unwrap(out, sizeof(out), &n, kek, 16, key, 25), AIOS_E_FORMAT);
    tu_assert_status(aios__aes_kwp_unwrap(out, sizeof(out), &n, kek, 16, key, 8), AIOS_E_FORMAT);
    tu_assert_status(aios__aes_kwp_unwrap(out, sizeof(out), &n, kek, 16, NULL, 0),
                     AIOS_E_FORMAT);
    /* Short buffers report the size needed and write nothing. */
    memset(out, 0x77, sizeof(out));
    tu_assert_status(aios__aes_kw_wrap(out, 39, &n, kek, 32, key, 32), AIOS_E_BUFFER_TOO_SMALL);
    assert_int_equal(n, 40);
    tu_assert_status(aios__aes_kwp_wrap(out, 31, &n, kek, 32, key, 17), AIOS_E_BUFFER_TOO_SMALL);
    assert_int_equal(n, 32);
    assert_int_equal(out[0], 0x77);
    tu_assert_ok(aios__aes_kwp_wrap(wr, sizeof(wr), &n, kek, 32, key, 17));
    assert_int_equal(n, 32);
    /* KWP unwrap needs the padded length even though 17 bytes come out. */
    tu_assert_status(aios__aes_kwp_unwrap(out, 17, &m, kek, 32, wr, n), AIOS_E_BUFFER_TOO_SMALL);
    assert_int_equal(m, 24);
    tu_assert_ok(aios__aes_kwp_unwrap(out, 24, &m, kek, 32, wr, n));
    assert_int_equal(m, 17);
    assert_memory_equal(out, key, 17);
}

static void test_limits(void **state)
{
    size_t big = AIOS__KEYWRAP_MAX + 8, n = 0;
    uint8_t kek[16] = { 0 };
    uint8_t *buf = calloc(1, big + 16);
    (void)state;

    assert_non_null(buf);
    /* Refused before any work or any write. */
    tu_assert_status(aios__aes_kwp_wrap(buf, big + 16, &n, kek, 16, buf, AIOS__KEYWRAP_MAX + 1),
                     AIOS_E_LIMIT);
    tu_assert_status(aios__aes_kw_wrap(buf, big + 16, &n, kek, 16, buf, big), AIOS_E_LIMIT);
    tu_assert_status(aios__aes_kw_unwrap(buf, big + 16, &n, kek, 16, buf, big + 8),
                     AIOS_E_LIMIT);
    tu_assert_status(aios__aes_kwp_unwrap(buf, big + 16, &n, kek, 16, buf, big + 8),
                     AIOS_E_LIMIT);
    /* The limit itself is allowed (KWP carries the length in 32 bits). */
    tu_assert_ok(aios__aes_kwp_wrap(buf, big + 16, &n, kek, 16, buf, AIOS__KEYWRAP_MAX));
    assert_int_equal(n, big);
    tu_assert_ok(aios__aes_kwp_unwrap(buf, big + 16, &n, kek, 16, buf, big));
    assert_int_equal(n, AIOS__KEYWRAP_MAX);
    assert_true(tc_is_zero(buf, AIOS__KEYWRAP_MAX));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wycheproof_kw),
        cmocka_unit_test(test_wycheproof_kwp),
        cmocka_unit_test(test_rfc_examples),
        cmocka_unit_test(test_tamper),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, tc_setup, NULL);
}
