/*
 * The open-only software AES-256-GCM of the crypto seam (mbedTLS GCM, used
 * when libsodium's AES-GCM is unavailable: docs/FORMAT.md section 4).
 * The path is forced with aios__aead_test_force_soft_gcm() so it runs on
 * every CPU: Wycheproof AES-GCM (256-bit key, 96-bit IV, 128-bit tag),
 * agreement with libsodium on random inputs (where libsodium's AES-GCM
 * runs), the refusal to seal, in-place opening and wiping on failure.
 */
#include "test_crypto_util.h"

typedef struct soft_walk {
    tc_counts c;
} soft_walk;

static void soft_case(json_t *group, json_t *test, void *arg)
{
    soft_walk *w = arg;
    tc_bytes key, iv, aad, msg, ct, tag;
    uint8_t t2[AIOS__AEAD_TAG_LEN], *out, *inplace;
    aios__aead_key *k = NULL;
    int result = tu_result(test), rc;

    if (!tc_aead_take(group, test, 96, &w->c, &key, &iv, &aad, &msg, &ct, &tag))
        return;
    out = malloc(ct.n + 1);
    inplace = malloc(ct.n + 1);
    assert_non_null(out);
    assert_non_null(inplace);

    tu_assert_ok(aios__aead_key_new(&k, AIOS__AEAD_AES256GCM, key.p));
    assert_false(aios__aead_key_can_seal(k));
    memset(out, 0xa5, ct.n + 1);
    rc = aios__aead_open(k, out, ct.p, ct.n, tag.p, aad.p, aad.n, iv.p);
    if (result == 1) {
        TC_CHECK(&w->c, rc == AIOS_OK, test, "valid ciphertext rejected");
        TC_CHECK(&w->c, rc != AIOS_OK || memcmp(out, msg.p, msg.n) == 0, test, "wrong plaintext");
        memcpy(inplace, ct.p, ct.n);
        rc = aios__aead_open(k, inplace, inplace, ct.n, tag.p, aad.p, aad.n, iv.p);
        TC_CHECK(&w->c, rc == AIOS_OK && memcmp(inplace, msg.p, msg.n) == 0, test,
                 "in-place open mismatch");
    } else {
        TC_CHECK(&w->c, rc == AIOS_E_AUTH, test, "invalid ciphertext accepted");
        TC_CHECK(&w->c, tc_is_zero(out, ct.n), test, "rejected open left bytes behind");
        memcpy(inplace, ct.p, ct.n);
        rc = aios__aead_open(k, inplace, inplace, ct.n, tag.p, aad.p, aad.n, iv.p);
        TC_CHECK(&w->c, rc == AIOS_E_AUTH && tc_is_zero(inplace, ct.n), test,
                 "in-place open of an invalid ciphertext");
    }
    TC_CHECK(&w->c, out[ct.n] == 0xa5, test, "open wrote past the end");
    /* Never seals, whatever the input. */
    rc = aios__aead_seal(k, out, t2, msg.p, msg.n, aad.p, aad.n, iv.p);
    TC_CHECK(&w->c, rc == AIOS_E_UNSUPPORTED, test, "software key sealed");
    aios__aead_key_free(k);
    free(out);
    free(inplace);
    free(key.p); free(iv.p); free(aad.p); free(msg.p); free(ct.p); free(tag.p);
}

static void test_wycheproof_soft(void **state)
{
    soft_walk w;
    json_t *root = tu_wycheproof("aes_gcm_test.json");
    size_t total;
    (void)state;

    memset(&w, 0, sizeof(w));
    w.c.file = "aes_gcm_test.json (software)";
    aios__aead_test_force_soft_gcm(1);
    total = tu_wycheproof_each(root, soft_case, &w);
    aios__aead_test_force_soft_gcm(0);
    assert_int_equal(total, w.c.valid + w.c.invalid + w.c.acceptable + w.c.skipped);
    tc_report(&w.c);
    assert_true(w.c.invalid > 0);
    json_decref(root);
}

/* Random keys, nonces, AD and lengths (0..1100, crossing block and
 * 16-block boundaries): libsodium seals, the software path opens. */
static void test_agrees_with_libsodium(void **state)
{
    uint8_t key[32], nonce[12], ad[40], pt[1100], ct[1100], out[1100], tag[16];
    aios__aead_key *hw = NULL, *sw = NULL;
    int iters = tu_under_valgrind() ? 20 : 400, it;
    (void)state;

    if (!aios__aead_available(AIOS__AEAD_AES256GCM)) {
        printf("libsodium AES-256-GCM unavailable on this CPU: only the Wycheproof vectors "
               "check the software path here\n");
        return;
    }
    for (it = 0; it < iters; it++) {
        size_t len, adlen;
        uint32_t r;
        aios__random_bytes(key, sizeof(key));
        aios__random_bytes(nonce, sizeof(nonce));
        aios__random_bytes(ad, sizeof(ad));
        aios__random_bytes(pt, sizeof(pt));
        aios__random_bytes((uint8_t *)&r, sizeof(r));
        len = it < 40 ? (size_t)it : r % (sizeof(pt) + 1);
        adlen = (r >> 16) % (sizeof(ad) + 1);

        tu_assert_ok(aios__aead_key_new(&hw, AIOS__AEAD_AES256GCM, key));
        aios__aead_test_force_soft_gcm(1);
        tu_assert_ok(aios__aead_key_new(&sw, AIOS__AEAD_AES256GCM, key));
        aios__aead_test_force_soft_gcm(0);
        assert_true(aios__aead_key_can_seal(hw));
        assert_false(aios__aead_key_can_seal(sw));

        tu_assert_ok(aios__aead_seal(hw, ct, tag, pt, len, ad, adlen, nonce));
        memset(out, 0xee, sizeof(out));
        tu_assert_ok(aios__aead_open(sw, out, ct, len, tag, ad, adlen, nonce));
        assert_memory_equal(out, pt, len);
        /* One flipped bit anywhere: rejected, output wiped. */
        if (len > 0) {
            ct[r % len] ^= (uint8_t)(1u << (r % 8));
            memset(out, 0xee, sizeof(out));
            assert_int_equal(aios__aead_open(sw, out, ct, len, tag, ad, adlen, nonce),
                             AIOS_E_AUTH);
            assert_true(tc_is_zero(out, len));
            assert_int_equal(out[len < sizeof(out) ? len : 0], len < sizeof(out) ? 0xee : 0);
            ct[r % len] ^= (uint8_t)(1u << (r % 8));
        }
        tag[r % 16] ^= 1;
        assert_int_equal(aios__aead_open(sw, out, ct, len, tag, ad, adlen, nonce), AIOS_E_AUTH);
        tag[r % 16] ^= 1;
        nonce[11] ^= 1;
        assert_int_equal(aios__aead_open(sw, out, ct, len, tag, ad, adlen, nonce), AIOS_E_AUTH);
        aios__aead_key_free(hw);
        aios__aead_key_free(sw);
    }
}

static void test_switch_and_other_algs(void **state)
{
    uint8_t key[32] = { 7 }, nonce[24] = { 0 }, buf[8] = { 0 }, tag[16];
    aios__aead_key *k = NULL;
    (void)state;

    /* The switch touches AES-256-GCM only. */
    aios__aead_test_force_soft_gcm(1);
    tu_assert_ok(aios__aead_key_new(&k, AIOS__AEAD_XCHACHA20POLY1305, key));
    assert_true(aios__aead_key_can_seal(k));
    tu_assert_ok(aios__aead_seal(k, buf, tag, buf, sizeof(buf), NULL, 0, nonce));
    aios__aead_key_free(k);
    tu_assert_ok(aios__aead_key_new(&k, AIOS__AEAD_AES256GCM, key));
    assert_int_equal(aios__aead_seal(k, buf, tag, buf, sizeof(buf), NULL, 0, nonce),
                     AIOS_E_UNSUPPORTED);
    assert_non_null(strstr(aios_last_error_message(), "only open"));
    aios__aead_key_free(k);
    aios__aead_test_force_soft_gcm(0);
    assert_false(aios__aead_key_can_seal(NULL));
    /* Off again: a key seals where libsodium's AES-GCM runs. */
    tu_assert_ok(aios__aead_key_new(&k, AIOS__AEAD_AES256GCM, key));
    assert_int_equal(aios__aead_key_can_seal(k), aios__aead_available(AIOS__AEAD_AES256GCM));
    aios__aead_key_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wycheproof_soft),
        cmocka_unit_test(test_agrees_with_libsodium),
        cmocka_unit_test(test_switch_and_other_algs),
    };
    return cmocka_run_group_tests(tests, tc_setup, NULL);
}
