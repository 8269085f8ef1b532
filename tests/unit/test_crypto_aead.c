/*
 * AEADs of the crypto seam: Wycheproof AES-GCM (256-bit key, 96-bit IV,
 * 128-bit tag: what libsodium implements), ChaCha20-Poly1305 (96-bit
 * nonce) and XChaCha20-Poly1305 (192-bit nonce); key objects, in-place
 * operation, and the wiping of output on every rejected open.
 *
 * AES-256-GCM has three backends (our VAES kernel at every length where
 * the CPU has VAES, lib/crypto/gcm_vaes.h; elsewhere libsodium below 1536
 * bytes and OpenSSL's libcrypto from there on: lib/crypto/gcm_ossl.h).
 * The vectors run through each (forced with aios__aead_test_gcm_backend)
 * and through the automatic choice, with key objects and the one-shot
 * calls; a differential test seals with each backend and opens with each
 * other at lengths on both sides of the threshold; tampering is refused
 * and wiped on each; many threads seal and open with one shared key
 * object.  (tests/unit/test_crypto_gcm_vaes.c tests the VAES kernel
 * itself in depth.)
 */
#include <pthread.h>

#include "test_crypto_util.h"

static const char *backend_name(int b)
{
    return b == AIOS__GCM_BACKEND_LIBSODIUM ? "libsodium"
         : b == AIOS__GCM_BACKEND_OPENSSL   ? "openssl"
         : b == AIOS__GCM_BACKEND_VAES      ? "vaes" : "auto";
}

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

    if (!tc_aead_take(group, test, w->iv_bits, &w->c, &key, &iv, &aad, &msg, &ct, &tag))
        return;
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
        /* The one-shot raw-key calls give the same. */
        memset(out, 0, ct.n + 1);
        rc = aios__aead_seal_once(w->alg, key.p, out, outtag, msg.p, msg.n, aad.p, aad.n, iv.p);
        TC_CHECK(&w->c, rc == AIOS_OK && memcmp(out, ct.p, ct.n) == 0 &&
                        memcmp(outtag, tag.p, AIOS__AEAD_TAG_LEN) == 0, test,
                 "one-shot seal mismatch");
        memset(out, 0xa5, ct.n + 1);
        rc = aios__aead_open_once(w->alg, key.p, out, ct.p, ct.n, tag.p, aad.p, aad.n, iv.p, 0);
        TC_CHECK(&w->c, rc == AIOS_OK && memcmp(out, msg.p, msg.n) == 0, test,
                 "one-shot open mismatch");
    } else {
        TC_CHECK(&w->c, rc == AIOS_E_AUTH, test, "invalid ciphertext accepted");
        TC_CHECK(&w->c, tc_is_zero(out, ct.n), test, "rejected open left bytes behind");
        TC_CHECK(&w->c, out[ct.n] == 0xa5, test, "open wrote past the end");
        memcpy(inplace, ct.p, ct.n);
        rc = aios__aead_open(k, inplace, inplace, ct.n, tag.p, aad.p, aad.n, iv.p);
        TC_CHECK(&w->c, rc == AIOS_E_AUTH && tc_is_zero(inplace, ct.n), test,
                 "in-place open of an invalid ciphertext");
        memset(out, 0xa5, ct.n + 1);
        rc = aios__aead_open_once(w->alg, key.p, out, ct.p, ct.n, tag.p, aad.p, aad.n, iv.p, 0);
        TC_CHECK(&w->c, rc == AIOS_E_AUTH && tc_is_zero(out, ct.n) && out[ct.n] == 0xa5, test,
                 "one-shot open of an invalid ciphertext");
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
        /* test_crypto_gcm_soft runs the vectors through the software
         * path on every CPU. */
        tc_assert_gcm_open_only("aes_gcm_test.json: no hardware AES-256-GCM on this CPU");
        return;
    }
    /* The automatic choice, then each backend for every length. */
    static const int backends[] = { AIOS__GCM_BACKEND_AUTO, AIOS__GCM_BACKEND_LIBSODIUM,
                                    AIOS__GCM_BACKEND_OPENSSL, AIOS__GCM_BACKEND_VAES };
    size_t b;
    for (b = 0; b < sizeof(backends) / sizeof(backends[0]); b++) {
        if (aios__aead_test_gcm_backend(backends[b]) != AIOS_OK) {
            /* Only the VAES kernel may be missing on a CPU with AES-NI;
             * on AArch64 (no AES-NI) libsodium's AES-GCM is missing too
             * and OpenSSL's runs every length. */
            const aios__cpu_features *cpu = aios__crypto_cpu();
            printf("*** aes_gcm_test.json: backend %s cannot run here (SKIPPED) ***\n",
                   backend_name(backends[b]));
            if (backends[b] == AIOS__GCM_BACKEND_VAES)
                assert_false(cpu->vaes);
            else if (backends[b] == AIOS__GCM_BACKEND_LIBSODIUM)
                assert_false(cpu->aesni);
            else
                fail_msg("backend %s must run wherever AES-256-GCM is available",
                         backend_name(backends[b]));
            continue;
        }
        printf("aes_gcm_test.json through %s:\n", backend_name(backends[b]));
        run_wycheproof("aes_gcm_test.json", AIOS__AEAD_AES256GCM, 96);
    }
    tu_assert_ok(aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_AUTO));
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
    /* AES-256-GCM availability follows the CPU features init detected:
     * hardware AES (on x86-64 both libsodium's and OpenSSL's need AES-NI
     * and PCLMULQDQ). */
#if defined(__x86_64__)
    assert_int_equal(aios__aead_available(AIOS__AEAD_AES256GCM),
                     aios__crypto_cpu()->aesni && aios__crypto_cpu()->pclmul);
    assert_string_equal(aios__aead_gcm_backend(),
                        aios__crypto_cpu()->vaes ? "vaes"
                        : aios__crypto_cpu()->aesni && aios__crypto_cpu()->pclmul ? "openssl"
                                                                                  : "mbedtls");
#elif defined(__aarch64__)
    assert_int_equal(aios__aead_available(AIOS__AEAD_AES256GCM), aios__crypto_cpu()->arm_aes);
#endif
    assert_int_equal(aios__aead_gcm_openssl_min(), 1536);
    /* The test switch refuses what it does not know. */
    assert_int_equal(aios__aead_test_gcm_backend(7), AIOS_E_INVALID_ARGUMENT);
    tu_assert_ok(aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_AUTO));
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

/* ------------------------------------------- AES-256-GCM: two backends */

/* 1 if both AES-256-GCM backends run here (else the test says why). */
static int both_backends(const char *what)
{
    if (aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_LIBSODIUM) != AIOS_OK ||
        aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_OPENSSL) != AIOS_OK) {
        tu_assert_ok(aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_AUTO));
        printf("%s: needs both libsodium's and OpenSSL's AES-256-GCM; not here\n", what);
        return 0;
    }
    tu_assert_ok(aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_AUTO));
    return 1;
}

/* Seal with backend `by` (key object, or one-shot when once != 0). */
static void gcm_seal_with(int by, int once, const uint8_t *key, uint8_t *ct, uint8_t *tag,
                          const uint8_t *pt, size_t len, const uint8_t *ad, size_t adlen,
                          const uint8_t *nonce)
{
    aios__aead_key *k = NULL;
    tu_assert_ok(aios__aead_test_gcm_backend(by));
    if (once) {
        tu_assert_ok(aios__aead_seal_once(AIOS__AEAD_AES256GCM, key, ct, tag, pt, len, ad, adlen,
                                          nonce));
    } else {
        tu_assert_ok(aios__aead_key_new(&k, AIOS__AEAD_AES256GCM, key));
        tu_assert_ok(aios__aead_seal(k, ct, tag, pt, len, ad, adlen, nonce));
        aios__aead_key_free(k);
    }
    tu_assert_ok(aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_AUTO));
}

static int gcm_open_with(int by, int once, const uint8_t *key, uint8_t *pt, const uint8_t *ct,
                         size_t len, const uint8_t *tag, const uint8_t *ad, size_t adlen,
                         const uint8_t *nonce)
{
    aios__aead_key *k = NULL;
    int rc;
    tu_assert_ok(aios__aead_test_gcm_backend(by));
    if (once) {
        rc = aios__aead_open_once(AIOS__AEAD_AES256GCM, key, pt, ct, len, tag, ad, adlen, nonce,
                                  0);
    } else {
        tu_assert_ok(aios__aead_key_new(&k, AIOS__AEAD_AES256GCM, key));
        rc = aios__aead_open(k, pt, ct, len, tag, ad, adlen, nonce);
        aios__aead_key_free(k);
    }
    tu_assert_ok(aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_AUTO));
    return rc;
}

/* Random keys, nonces, AD and lengths 0..200000 (with the edges of the
 * threshold and of the AES block): every backend and the automatic
 * choice give the same ciphertext and tag, and each opens what any other
 * sealed. */
static void test_gcm_backends_agree(void **state)
{
    static const size_t fixed[] = { 0, 1, 15, 16, 17, 255, 1023, 1024, 1535, 1536, 1537, 2048,
                                    4095, 4096, 65536, 65537, 200000 };
    static const int by[] = { AIOS__GCM_BACKEND_LIBSODIUM, AIOS__GCM_BACKEND_OPENSSL,
                              AIOS__GCM_BACKEND_AUTO, AIOS__GCM_BACKEND_VAES };
    const size_t max = 200000, nfixed = sizeof(fixed) / sizeof(fixed[0]), rounds = nfixed + 40;
    uint8_t key[32], nonce[12], ad[80], tags[4][16];
    uint8_t *pt = malloc(max + 1), *cts[4], *out = malloc(max + 1);
    size_t r, i, j, nby = 3;
    (void)state;
    if (!both_backends("differential AES-256-GCM"))
        goto done_early;
    /* The VAES kernel too, where it runs. */
    if (aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_VAES) == AIOS_OK)
        nby = 4;
    else
        printf("*** differential AES-256-GCM: no VAES kernel here (SKIPPED for it) ***\n");
    tu_assert_ok(aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_AUTO));
    for (i = 0; i < 4; i++) {
        cts[i] = malloc(max + 1);
        assert_non_null(cts[i]);
    }
    assert_non_null(pt);
    assert_non_null(out);
    for (r = 0; r < rounds; r++) {
        uint32_t pick;
        size_t len, adlen;
        int once = (int)(r & 1);
        aios__random_bytes((uint8_t *)&pick, sizeof(pick));
        len = r < nfixed ? fixed[r] : pick % (max + 1);
        adlen = (pick >> 8) % (sizeof(ad) + 1);
        aios__random_bytes(key, sizeof(key));
        aios__random_bytes(nonce, sizeof(nonce));
        aios__random_bytes(ad, sizeof(ad));
        aios__random_bytes(pt, len + 1);
        for (i = 0; i < nby; i++) {
            cts[i][len] = 0x5c;
            gcm_seal_with(by[i], once, key, cts[i], tags[i], pt, len, ad, adlen, nonce);
            assert_int_equal(cts[i][len], 0x5c);   /* nothing past the end */
        }
        /* Byte for byte equal. */
        for (i = 1; i < nby; i++) {
            if (len > 0)
                assert_memory_equal(cts[i], cts[0], len);
            assert_memory_equal(tags[i], tags[0], 16);
        }
        /* Each backend opens what each sealed (the same bytes: one ct). */
        for (j = 0; j < nby; j++) {
            memset(out, 0xee, len + 1);
            tu_assert_ok(gcm_open_with(by[j], once, key, out, cts[0], len, tags[0], ad, adlen,
                                       nonce));
            if (len > 0)
                assert_memory_equal(out, pt, len);
            assert_int_equal(out[len], 0xee);
        }
    }
    for (i = 0; i < 4; i++)
        free(cts[i]);
done_early:
    free(pt);
    free(out);
}

/* Tampering on each backend and size: AIOS_E_AUTH, and the output (or the
 * ciphertext, in place) is all zeros afterwards. */
static void test_gcm_tamper_each_backend(void **state)
{
    static const size_t sizes[] = { 100, 1536, 70001 };
    static const int by[] = { AIOS__GCM_BACKEND_LIBSODIUM, AIOS__GCM_BACKEND_OPENSSL,
                              AIOS__GCM_BACKEND_AUTO, AIOS__GCM_BACKEND_VAES };
    uint8_t key[32], nonce[12], ad[20], tag[16], t2[16];
    uint8_t *pt = malloc(70002), *ct = malloc(70002), *c2 = malloc(70002), *out = malloc(70002);
    size_t s, b, kind;
    (void)state;
    assert_non_null(pt); assert_non_null(ct); assert_non_null(c2); assert_non_null(out);
    if (!aios__aead_available(AIOS__AEAD_AES256GCM)) {
        printf("AES-256-GCM tampering: no hardware AES here\n");
        goto done;
    }
    aios__random_bytes(key, sizeof(key));
    aios__random_bytes(nonce, sizeof(nonce));
    aios__random_bytes(ad, sizeof(ad));
    for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        size_t len = sizes[s];
        aios__random_bytes(pt, len);
        tu_assert_ok(aios__aead_seal_once(AIOS__AEAD_AES256GCM, key, ct, tag, pt, len, ad,
                                          sizeof(ad), nonce));
        for (b = 0; b < sizeof(by) / sizeof(by[0]); b++) {
            if (aios__aead_test_gcm_backend(by[b]) != AIOS_OK)
                continue;
            tu_assert_ok(aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_AUTO));
            for (kind = 0; kind < 4; kind++) {
                uint8_t ad2[20];
                int once;
                memcpy(c2, ct, len);
                memcpy(t2, tag, sizeof(tag));
                memcpy(ad2, ad, sizeof(ad));
                switch (kind) {
                case 0: t2[0] ^= 0x01; break;
                case 1: c2[len - 1] ^= 0x80; break;   /* the last byte: after the bulk */
                case 2: c2[0] ^= 0x01; break;
                case 3: ad2[19] ^= 0x01; break;
                }
                for (once = 0; once < 2; once++) {
                    memset(out, 0xee, len + 1);
                    assert_int_equal(gcm_open_with(by[b], once, key, out, c2, len, t2, ad2,
                                                   sizeof(ad2), nonce), AIOS_E_AUTH);
                    assert_true(tc_is_zero(out, len));
                    assert_int_equal(out[len], 0xee);
                    assert_int_equal(aios_last_error_status(), AIOS_E_AUTH);
                }
                /* In place: the decrypted (unauthenticated) bytes are wiped. */
                assert_int_equal(gcm_open_with(by[b], 0, key, c2, c2, len, t2, ad2, sizeof(ad2),
                                               nonce), AIOS_E_AUTH);
                assert_true(tc_is_zero(c2, len));
            }
            /* And the untampered message opens on this backend. */
            tu_assert_ok(gcm_open_with(by[b], 0, key, out, ct, len, tag, ad, sizeof(ad), nonce));
            assert_memory_equal(out, pt, len);
        }
    }
done:
    free(pt); free(ct); free(c2); free(out);
}

/* Many threads seal and open with one shared key object (read-only), at
 * sizes on both sides of the threshold, in the automatic mode; every
 * result must equal the one computed alone.  TSan runs this in CI. */
#define GCM_THREADS 8
#define GCM_ITER    40
static const size_t thread_sizes[] = { 64, 1535, 1536, 65536 };

typedef struct gcm_shared {
    aios__aead_key *k;
    uint8_t nonce[12];
    uint8_t *pt;
    uint8_t *want[4];
    uint8_t want_tag[4][16];
    int failures[GCM_THREADS];
} gcm_shared;

typedef struct gcm_thread_arg {
    gcm_shared *sh;
    int id;
} gcm_thread_arg;

static void *gcm_thread(void *p)
{
    gcm_thread_arg *a = p;
    gcm_shared *sh = a->sh;
    uint8_t *ct = malloc(65536), *out = malloc(65536), tag[16];
    int it;
    size_t s;
    if (ct == NULL || out == NULL) {
        sh->failures[a->id]++;
        free(ct);
        free(out);
        return NULL;
    }
    for (it = 0; it < GCM_ITER; it++) {
        for (s = 0; s < 4; s++) {
            size_t len = thread_sizes[s];
            if (aios__aead_seal(sh->k, ct, tag, sh->pt, len, NULL, 0, sh->nonce) != AIOS_OK ||
                memcmp(ct, sh->want[s], len) != 0 || memcmp(tag, sh->want_tag[s], 16) != 0)
                sh->failures[a->id]++;
            if (aios__aead_open(sh->k, out, ct, len, tag, NULL, 0, sh->nonce) != AIOS_OK ||
                memcmp(out, sh->pt, len) != 0)
                sh->failures[a->id]++;
            tag[3] ^= 1;
            if (aios__aead_open(sh->k, out, ct, len, tag, NULL, 0, sh->nonce) != AIOS_E_AUTH ||
                !tc_is_zero(out, len))
                sh->failures[a->id]++;
        }
    }
    free(ct);
    free(out);
    return NULL;
}

static void test_gcm_shared_key_threads(void **state)
{
    gcm_shared sh;
    gcm_thread_arg args[GCM_THREADS];
    pthread_t th[GCM_THREADS];
    uint8_t key[32];
    size_t s;
    int i;
    (void)state;
    if (!aios__aead_available(AIOS__AEAD_AES256GCM)) {
        printf("AES-256-GCM threads: no hardware AES here\n");
        return;
    }
    memset(&sh, 0, sizeof(sh));
    aios__random_bytes(key, sizeof(key));
    aios__random_bytes(sh.nonce, sizeof(sh.nonce));
    sh.pt = malloc(65536);
    assert_non_null(sh.pt);
    aios__random_bytes(sh.pt, 65536);
    tu_assert_ok(aios__aead_key_new(&sh.k, AIOS__AEAD_AES256GCM, key));
    for (s = 0; s < 4; s++) {
        sh.want[s] = malloc(thread_sizes[s]);
        assert_non_null(sh.want[s]);
        tu_assert_ok(aios__aead_seal_once(AIOS__AEAD_AES256GCM, key, sh.want[s], sh.want_tag[s],
                                          sh.pt, thread_sizes[s], NULL, 0, sh.nonce));
    }
    for (i = 0; i < GCM_THREADS; i++) {
        args[i].sh = &sh;
        args[i].id = i;
        assert_int_equal(pthread_create(&th[i], NULL, gcm_thread, &args[i]), 0);
    }
    for (i = 0; i < GCM_THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    for (i = 0; i < GCM_THREADS; i++)
        assert_int_equal(sh.failures[i], 0);
    aios__aead_key_free(sh.k);
    for (s = 0; s < 4; s++)
        free(sh.want[s]);
    free(sh.pt);
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
        cmocka_unit_test(test_gcm_backends_agree),
        cmocka_unit_test(test_gcm_tamper_each_backend),
        cmocka_unit_test(test_gcm_shared_key_threads),
    };
    return cmocka_run_group_tests(tests, tc_setup, NULL);
}
