/*
 * AEADs of the crypto seam: Wycheproof AES-GCM (256-bit key, 96-bit IV,
 * 128-bit tag: what libsodium implements), ChaCha20-Poly1305 (96-bit
 * nonce) and XChaCha20-Poly1305 (192-bit nonce); key objects, in-place
 * operation, and the wiping of output on every rejected open.
 */
#include "test_crypto_util.h"

/* ------------------------------------------------------------ Wycheproof */

typedef struct aead_walk {
    tc_counts      c;
    aios__aead_alg alg;
    int            iv_bits;
} aead_walk;

static void aead_case(json_t *group, json_t *test, void *arg)
{
    aead_walk *w = arg;
    tc_bytes key, iv, aad, msg, ct, tag;
    uint8_t outtag[AIOS__AEAD_TAG_LEN], *out, *inplace;
    aios__aead_key *k = NULL;
    int result = tu_result(test), rc;

    if (tc_int(group, "keySize") != 256 || tc_int(group, "ivSize") != w->iv_bits ||
        tc_int(group, "tagSize") != 128) {
        w->c.skipped++;
        return;
    }
    tc_count(&w->c, result);
    key = tc_member(test, "key");
    iv = tc_member(test, "iv");
    aad = tc_member(test, "aad");
    msg = tc_member(test, "msg");
    ct = tc_member(test, "ct");
    tag = tc_member(test, "tag");
    assert_int_equal(key.n, AIOS__AEAD_KEY_LEN);
    assert_int_equal(iv.n, aios__aead_nonce_len(w->alg));
    assert_int_equal(tag.n, AIOS__AEAD_TAG_LEN);
    assert_int_equal(ct.n, msg.n);
    out = malloc(ct.n + 1);
    inplace = malloc(ct.n + 1);
    assert_non_null(out);
    assert_non_null(inplace);

    tu_assert_ok(aios__aead_key_new(&k, w->alg, key.p));
    assert_int_equal(aios__aead_key_alg(k), w->alg);

    /* Open, out of place, into a buffer full of junk. */
    memset(out, 0xa5, ct.n + 1);
    rc = aios__aead_open(k, out, ct.p, ct.n, tag.p, aad.p, aad.n, iv.p);
    if (result == 1) {
        TC_CHECK(&w->c, rc == AIOS_OK, test, "valid ciphertext rejected");
        TC_CHECK(&w->c, rc != AIOS_OK || memcmp(out, msg.p, msg.n) == 0, test,
                 "wrong plaintext");
        /* Seal must give the same ciphertext and tag. */
        memset(out, 0, ct.n + 1);
        rc = aios__aead_seal(k, out, outtag, msg.p, msg.n, aad.p, aad.n, iv.p);
        TC_CHECK(&w->c, rc == AIOS_OK && memcmp(out, ct.p, ct.n) == 0 &&
                        memcmp(outtag, tag.p, AIOS__AEAD_TAG_LEN) == 0, test, "seal mismatch");
        /* And in place both ways. */
        memcpy(inplace, msg.p, msg.n);
        rc = aios__aead_seal(k, inplace, outtag, inplace, msg.n, aad.p, aad.n, iv.p);
        TC_CHECK(&w->c, rc == AIOS_OK && memcmp(inplace, ct.p, ct.n) == 0 &&
                        memcmp(outtag, tag.p, AIOS__AEAD_TAG_LEN) == 0, test,
                 "in-place seal mismatch");
        rc = aios__aead_open(k, inplace, inplace, ct.n, tag.p, aad.p, aad.n, iv.p);
        TC_CHECK(&w->c, rc == AIOS_OK && memcmp(inplace, msg.p, msg.n) == 0, test,
                 "in-place open mismatch");
    } else {
        TC_CHECK(&w->c, rc == AIOS_E_AUTH, test, "invalid ciphertext accepted");
        TC_CHECK(&w->c, tc_is_zero(out, ct.n), test, "rejected open left bytes behind");
        TC_CHECK(&w->c, out[ct.n] == 0xa5, test, "open wrote past the end");
        memcpy(inplace, ct.p, ct.n);
        rc = aios__aead_open(k, inplace, inplace, ct.n, tag.p, aad.p, aad.n, iv.p);
        TC_CHECK(&w->c, rc == AIOS_E_AUTH && tc_is_zero(inplace, ct.n), test,
                 "in-place open of an invalid ciphertext");
    }
    aios__aead_key_free(k);
    free(out);
    free(inplace);
    free(key.p); free(iv.p); free(aad.p); free(msg.p); free(ct.p); free(tag.p);
}

static void run_wycheproof(const char *file, aios__aead_alg alg, int iv_bits)
{
    aead_walk w;
    json_t *root = tu_wycheproof(file);
    size_t total;

    memset(&w, 0, sizeof(w));
    w.c.file = file;
    w.alg = alg;
    w.iv_bits = iv_bits;
    total = tu_wycheproof_each(root, aead_case, &w);
    assert_int_equal(total, w.c.valid + w.c.invalid + w.c.acceptable + w.c.skipped);
    tc_report(&w.c);
    assert_true(w.c.invalid > 0);
    json_decref(root);
}

static void test_wycheproof_aes256gcm(void **state)
{
    (void)state;
    if (!aios__aead_available(AIOS__AEAD_AES256GCM)) {
        /* Not a silent pass: say why nothing ran here, and check the
         * key is open-only (test_crypto_gcm_soft runs the vectors through
         * the software path on every CPU). */
        aios__aead_key *k = NULL;
        uint8_t key[32] = { 0 }, nonce[12] = { 0 }, buf[4] = { 0 }, tag[16];
        printf("aes_gcm_test.json: libsodium AES-256-GCM unavailable on this CPU "
               "(no AES-NI/PCLMUL); keys are open-only\n");
        tu_assert_ok(aios__aead_key_new(&k, AIOS__AEAD_AES256GCM, key));
        assert_false(aios__aead_key_can_seal(k));
        assert_int_equal(aios__aead_seal(k, buf, tag, buf, sizeof(buf), NULL, 0, nonce),
                         AIOS_E_UNSUPPORTED);
        aios__aead_key_free(k);
        return;
    }
    run_wycheproof("aes_gcm_test.json", AIOS__AEAD_AES256GCM, 96);
}

static void test_wycheproof_chacha20poly1305(void **state)
{
    (void)state;
    run_wycheproof("chacha20_poly1305_test.json", AIOS__AEAD_CHACHA20POLY1305, 96);
}

static void test_wycheproof_xchacha20poly1305(void **state)
{
    (void)state;
    run_wycheproof("xchacha20_poly1305_test.json", AIOS__AEAD_XCHACHA20POLY1305, 192);
}

/* ------------------------------------------------------------ key objects */

static const aios__aead_alg all_algs[] = {
    AIOS__AEAD_AES256GCM, AIOS__AEAD_CHACHA20POLY1305, AIOS__AEAD_XCHACHA20POLY1305
};

static void test_names_and_lengths(void **state)
{
    (void)state;
    assert_string_equal(aios__aead_name(AIOS__AEAD_AES256GCM), "aes256gcm");
    assert_string_equal(aios__aead_name(AIOS__AEAD_CHACHA20POLY1305), "chacha20poly1305");
    assert_string_equal(aios__aead_name(AIOS__AEAD_XCHACHA20POLY1305), "xchacha20poly1305");
    assert_int_equal(aios__aead_nonce_len(AIOS__AEAD_AES256GCM), 12);
    assert_int_equal(aios__aead_nonce_len(AIOS__AEAD_CHACHA20POLY1305), 12);
    assert_int_equal(aios__aead_nonce_len(AIOS__AEAD_XCHACHA20POLY1305), 24);
    assert_int_equal(aios__aead_nonce_len((aios__aead_alg)0), 0);
    assert_int_equal(aios__aead_nonce_len((aios__aead_alg)99), 0);
    assert_true(aios__aead_available(AIOS__AEAD_CHACHA20POLY1305));
    assert_true(aios__aead_available(AIOS__AEAD_XCHACHA20POLY1305));
    assert_false(aios__aead_available((aios__aead_alg)99));
    /* AES-256-GCM availability follows the CPU features init detected. */
    assert_int_equal(aios__aead_available(AIOS__AEAD_AES256GCM),
                     aios__crypto_cpu()->aesni && aios__crypto_cpu()->pclmul);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    uint8_t key[32] = { 1 }, nonce[24] = { 0 }, buf[16] = { 0 }, tag[16] = { 0 };
    aios__aead_key *k = (aios__aead_key *)0x1;

    assert_int_equal(aios__aead_key_new(NULL, AIOS__AEAD_CHACHA20POLY1305, key),
                     AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__aead_key_new(&k, (aios__aead_alg)42, key), AIOS_E_INVALID_ARGUMENT);
    assert_null(k);
    assert_int_equal(aios__aead_key_new(&k, AIOS__AEAD_CHACHA20POLY1305, NULL),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_ok(aios__aead_key_new(&k, AIOS__AEAD_CHACHA20POLY1305, key));
    assert_int_equal(aios__aead_seal(NULL, buf, tag, buf, 16, NULL, 0, nonce),
                     AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__aead_seal(k, buf, tag, buf, 16, NULL, 0, NULL),
                     AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__aead_seal(k, NULL, tag, buf, 16, NULL, 0, nonce),
                     AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__aead_seal(k, buf, tag, buf, 16, NULL, 3, nonce),
                     AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__aead_open(k, buf, buf, 16, NULL, NULL, 0, nonce),
                     AIOS_E_INVALID_ARGUMENT);
    aios__aead_key_free(k);
    aios__aead_key_free(NULL);
}

/* Seal a message, then check each kind of tampering is refused and leaves
 * the output zeroed. */
static void tamper_checks(aios__aead_alg alg)
{
    uint8_t key[32], nonce[24], ad[13], pt[77], ct[77], tag[16], out[78], t2[16], n2[24], ad2[13];
    size_t nlen = aios__aead_nonce_len(alg), i;
    aios__aead_key *k = NULL;

    for (i = 0; i < sizeof(key); i++) key[i] = (uint8_t)(i * 7 + 1);
    for (i = 0; i < sizeof(nonce); i++) nonce[i] = (uint8_t)(0xa0 + i);
    for (i = 0; i < sizeof(ad); i++) ad[i] = (uint8_t)i;
    for (i = 0; i < sizeof(pt); i++) pt[i] = (uint8_t)(0x55 ^ i);

    tu_assert_ok(aios__aead_key_new(&k, alg, key));
    tu_assert_ok(aios__aead_seal(k, ct, tag, pt, sizeof(pt), ad, sizeof(ad), nonce));
    assert_memory_not_equal(ct, pt, sizeof(pt));

    /* Round trip. */
    tu_assert_ok(aios__aead_open(k, out, ct, sizeof(ct), tag, ad, sizeof(ad), nonce));
    assert_memory_equal(out, pt, sizeof(pt));

    /* In place gives the same bytes as out of place. */
    memcpy(out, pt, sizeof(pt));
    tu_assert_ok(aios__aead_seal(k, out, t2, out, sizeof(pt), ad, sizeof(ad), nonce));
    assert_memory_equal(out, ct, sizeof(ct));
    assert_memory_equal(t2, tag, sizeof(tag));
    tu_assert_ok(aios__aead_open(k, out, out, sizeof(ct), tag, ad, sizeof(ad), nonce));
    assert_memory_equal(out, pt, sizeof(pt));

    /* Each tampered part: tag, ciphertext, AD, nonce, length. */
    for (i = 0; i < 5; i++) {
        uint8_t c2[77];
        size_t len = sizeof(ct);
        memcpy(c2, ct, sizeof(ct));
        memcpy(t2, tag, sizeof(tag));
        memcpy(n2, nonce, sizeof(nonce));
        memcpy(ad2, ad, sizeof(ad));
        switch (i) {
        case 0: t2[15] ^= 0x80; break;
        case 1: c2[40] ^= 0x01; break;
        case 2: ad2[0] ^= 0x01; break;
        case 3: n2[nlen - 1] ^= 0x01; break;
        case 4: len--; break;
        }
        memset(out, 0xee, sizeof(out));
        assert_int_equal(aios__aead_open(k, out, c2, len, t2, ad2, sizeof(ad2), n2), AIOS_E_AUTH);
        assert_true(tc_is_zero(out, len));
        assert_int_equal(out[len], 0xee);           /* nothing past the end */
        /* In place: the ciphertext buffer is wiped too. */
        assert_int_equal(aios__aead_open(k, c2, c2, len, t2, ad2, sizeof(ad2), n2), AIOS_E_AUTH);
        assert_true(tc_is_zero(c2, len));
    }
    /* Missing AD is tampering too. */
    assert_int_equal(aios__aead_open(k, out, ct, sizeof(ct), tag, NULL, 0, nonce), AIOS_E_AUTH);
    assert_true(tc_is_zero(out, sizeof(ct)));
    assert_int_equal(aios_last_error_status(), AIOS_E_AUTH);
    assert_non_null(strstr(aios_last_error_message(), aios__aead_name(alg)));

    /* Empty message, with and without AD. */
    tu_assert_ok(aios__aead_seal(k, NULL, t2, NULL, 0, ad, sizeof(ad), nonce));
    tu_assert_ok(aios__aead_open(k, NULL, NULL, 0, t2, ad, sizeof(ad), nonce));
    t2[0] ^= 1;
    assert_int_equal(aios__aead_open(k, NULL, NULL, 0, t2, ad, sizeof(ad), nonce), AIOS_E_AUTH);
    tu_assert_ok(aios__aead_seal(k, NULL, t2, NULL, 0, NULL, 0, nonce));
    tu_assert_ok(aios__aead_open(k, NULL, NULL, 0, t2, NULL, 0, nonce));

    aios__aead_key_free(k);
}

static void test_tampering_rejected_and_wiped(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(all_algs) / sizeof(all_algs[0]); i++) {
        if (!aios__aead_available(all_algs[i]))
            continue;
        tamper_checks(all_algs[i]);
    }
}

static void test_keys_are_independent(void **state)
{
    (void)state;
    uint8_t k1[32], k2[32], nonce[24] = { 0 }, pt[32] = { 0 }, c1[32], c2[32], t1[16], t2[16];
    aios__aead_key *a = NULL, *b = NULL;
    size_t i;
    for (i = 0; i < sizeof(all_algs) / sizeof(all_algs[0]); i++) {
        if (!aios__aead_available(all_algs[i]))
            continue;
        aios__random_bytes(k1, sizeof(k1));
        memcpy(k2, k1, sizeof(k2));
        k2[31] ^= 1;
        tu_assert_ok(aios__aead_key_new(&a, all_algs[i], k1));
        tu_assert_ok(aios__aead_key_new(&b, all_algs[i], k2));
        tu_assert_ok(aios__aead_seal(a, c1, t1, pt, sizeof(pt), NULL, 0, nonce));
        tu_assert_ok(aios__aead_seal(b, c2, t2, pt, sizeof(pt), NULL, 0, nonce));
        assert_memory_not_equal(c1, c2, sizeof(c1));
        /* A key never opens the other's ciphertext. */
        assert_int_equal(aios__aead_open(b, c2, c1, sizeof(c1), t1, NULL, 0, nonce), AIOS_E_AUTH);
        aios__aead_key_free(a);
        aios__aead_key_free(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wycheproof_aes256gcm),
        cmocka_unit_test(test_wycheproof_chacha20poly1305),
        cmocka_unit_test(test_wycheproof_xchacha20poly1305),
        cmocka_unit_test(test_names_and_lengths),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_tampering_rejected_and_wiped),
        cmocka_unit_test(test_keys_are_independent),
    };
    return cmocka_run_group_tests(tests, tc_setup, NULL);
}
