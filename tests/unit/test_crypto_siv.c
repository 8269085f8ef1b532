/*
 * AES-SIV of the crypto seam (RFC 5297, AES-SIV-CMAC-256/384/512):
 * RFC 5297 appendix A.1 and A.2, every Wycheproof vector, long messages
 * cross-checked with an independent implementation, and the API's edges:
 * determinism, tampering, associated data count and order, empty
 * plaintext, in-place use, lengths, limits, short buffers, wiping, and the
 * CTR counter's increment on its own.
 */
#include "test_crypto_util.h"

#define TAG AIOS__SIV_TAG_LEN

/* Seal and open with freshly allocated outputs; returns the status. */
static int seal(tc_bytes *out, const uint8_t *key, size_t key_len, const aios__siv_ad *ad,
                size_t n_ad, const uint8_t *pt, size_t pt_len)
{
    out->p = malloc(pt_len + TAG);
    assert_non_null(out->p);
    return aios__aes_siv_seal(out->p, pt_len + TAG, &out->n, key, key_len, ad, n_ad, pt,
                              pt_len);
}

/* Open in (len >= 16) into a buffer first filled with 0x5a; on failure
 * check that nothing is left behind and that no length is reported. */
static int open_checked(uint8_t **pt_out, size_t *pt_len, const uint8_t *key, size_t key_len,
                        const aios__siv_ad *ad, size_t n_ad, const uint8_t *in, size_t len)
{
    size_t cap = len - TAG;
    uint8_t *out = malloc(cap + 1);
    int rc;
    assert_non_null(out);
    memset(out, 0x5a, cap + 1);
    *pt_len = 99;
    rc = aios__aes_siv_open(out, cap, pt_len, key, key_len, ad, n_ad, in, len);
    if (rc != AIOS_OK) {
        assert_int_equal(*pt_len, 0);
        assert_true(tc_is_zero(out, cap));
    }
    assert_int_equal(out[cap], 0x5a);   /* nothing written past the plaintext */
    *pt_out = out;
    return rc;
}

/* ===================================================== RFC 5297 examples */

static void test_rfc5297_a1(void **state)
{
    tc_bytes key = tc_hex("fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
    tc_bytes ad = tc_hex("101112131415161718191a1b1c1d1e1f2021222324252627");
    tc_bytes pt = tc_hex("112233445566778899aabbccddee");
    tc_bytes exp = tc_hex("85632d07c6e8f37f950acd320a2ecc9340c02b9690c4dc04daef7f6afe5c");
    aios__siv_ad a = { ad.p, ad.n };
    tc_bytes ct;
    uint8_t *back;
    size_t n = 0;
    (void)state;

    tu_assert_ok(seal(&ct, key.p, key.n, &a, 1, pt.p, pt.n));
    assert_int_equal(ct.n, exp.n);
    assert_memory_equal(ct.p, exp.p, exp.n);
    tu_assert_ok(open_checked(&back, &n, key.p, key.n, &a, 1, exp.p, exp.n));
    assert_int_equal(n, pt.n);
    assert_memory_equal(back, pt.p, n);
    free(back);
    /* Without the associated data it does not open. */
    tu_assert_status(open_checked(&back, &n, key.p, key.n, NULL, 0, exp.p, exp.n), AIOS_E_AUTH);
    free(back);
    free(key.p); free(ad.p); free(pt.p); free(exp.p); free(ct.p);
}

static void test_rfc5297_a2(void **state)
{
    /* Nonce-based: two associated data strings, then the nonce as the
     * last component. */
    tc_bytes key = tc_hex("7f7e7d7c7b7a79787776757473727170404142434445464748494a4b4c4d4e4f");
    tc_bytes ad1 = tc_hex("00112233445566778899aabbccddeeffdeaddadadeaddadaffeeddccbbaa9988"
                          "7766554433221100");
    tc_bytes ad2 = tc_hex("102030405060708090a0");
    tc_bytes nonce = tc_hex("09f911029d74e35bd84156c5635688c0");
    tc_bytes pt = tc_hex("7468697320697320736f6d6520706c61696e7465787420746f20656e63727970"
                         "74207573696e67205349562d414553");
    tc_bytes exp = tc_hex("7bdb6e3b432667eb06f4d14bff2fbd0fcb900f2fddbe404326601965c889bf17"
                          "dba77ceb094fa663b7a3f748ba8af829ea64ad544a272e9c485b62a3fd5c0d");
    aios__siv_ad a[3] = { { ad1.p, ad1.n }, { ad2.p, ad2.n }, { nonce.p, nonce.n } };
    aios__siv_ad swapped[3] = { { ad2.p, ad2.n }, { ad1.p, ad1.n }, { nonce.p, nonce.n } };
    aios__siv_ad nonce_first[3] = { { nonce.p, nonce.n }, { ad1.p, ad1.n }, { ad2.p, ad2.n } };
    tc_bytes ct;
    uint8_t *back;
    size_t n = 0;
    (void)state;

    tu_assert_ok(seal(&ct, key.p, key.n, a, 3, pt.p, pt.n));
    assert_int_equal(ct.n, exp.n);
    assert_memory_equal(ct.p, exp.p, exp.n);
    tu_assert_ok(open_checked(&back, &n, key.p, key.n, a, 3, exp.p, exp.n));
    assert_int_equal(n, pt.n);
    assert_memory_equal(back, pt.p, n);
    free(back);
    /* Missing nonce, missing string, reordered strings, nonce first. */
    tu_assert_status(open_checked(&back, &n, key.p, key.n, a, 2, exp.p, exp.n), AIOS_E_AUTH);
    free(back);
    tu_assert_status(open_checked(&back, &n, key.p, key.n, a + 1, 2, exp.p, exp.n), AIOS_E_AUTH);
    free(back);
    tu_assert_status(open_checked(&back, &n, key.p, key.n, swapped, 3, exp.p, exp.n),
                     AIOS_E_AUTH);
    free(back);
    tu_assert_status(open_checked(&back, &n, key.p, key.n, nonce_first, 3, exp.p, exp.n),
                     AIOS_E_AUTH);
    free(back);
    free(key.p); free(ad1.p); free(ad2.p); free(nonce.p); free(pt.p); free(exp.p); free(ct.p);
}

/* ============================================================ Wycheproof */

typedef struct siv_walk {
    tc_counts c;
    size_t    per_size[3];    /* cases run per key size: 256, 384, 512 bits */
    size_t    edge_siv;       /* valid cases flagged EdgeCaseSiv */
} siv_walk;

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

/* Wycheproof's DaeadTest for AES-SIV-CMAC: "aad" is one associated data
 * string (always one component, even when empty) and ct = V || C. */
static void siv_case(json_t *group, json_t *test, void *arg)
{
    siv_walk *w = arg;
    int result = tu_result(test), rc;
    tc_bytes key = tc_member(test, "key"), aad = tc_member(test, "aad");
    tc_bytes msg = tc_member(test, "msg"), ct = tc_member(test, "ct"), out;
    size_t bits = (size_t)tc_int(group, "keySize"), n = 0;
    aios__siv_ad a = { aad.p, aad.n };
    uint8_t *back = NULL;

    assert_int_equal(key.n * 8, bits);
    w->per_size[bits == 256 ? 0 : bits == 384 ? 1 : 2]++;
    tc_count(&w->c, result);

    if (result == 1) {
        if (has_flag(test, "EdgeCaseSiv"))
            w->edge_siv++;
        rc = seal(&out, key.p, key.n, &a, 1, msg.p, msg.n);
        TC_CHECK(&w->c, rc == AIOS_OK && out.n == ct.n && memcmp(out.p, ct.p, ct.n) == 0, test,
                 "sealing did not give the expected ciphertext");
        free(out.p);
        rc = ct.n >= TAG ? open_checked(&back, &n, key.p, key.n, &a, 1, ct.p, ct.n) : -1;
        TC_CHECK(&w->c, rc == AIOS_OK && n == msg.n && memcmp(back, msg.p, n) == 0, test,
                 "opening did not give the message back");
    } else {
        /* Invalid (altered V), or "acceptable": an acceptable case may
         * open or not, but must not crash, and a failure must leave
         * nothing behind (open_checked asserts that). */
        if (ct.n >= TAG) {
            rc = open_checked(&back, &n, key.p, key.n, &a, 1, ct.p, ct.n);
        } else {
            uint8_t dummy[1];
            rc = aios__aes_siv_open(dummy, sizeof(dummy), &n, key.p, key.n, &a, 1, ct.p, ct.n);
            TC_CHECK(&w->c, rc == AIOS_E_FORMAT, test, "a short input was not AIOS_E_FORMAT");
        }
        if (result == 0)
            TC_CHECK(&w->c, rc == AIOS_E_AUTH || rc == AIOS_E_FORMAT, test,
                     "an invalid ciphertext was not rejected");
        if (result == 0 && ct.n >= TAG)
            TC_CHECK(&w->c, rc == AIOS_E_AUTH, test, "expected AIOS_E_AUTH");
        rc = seal(&out, key.p, key.n, &a, 1, msg.p, msg.n);
        if (result == 0)
            TC_CHECK(&w->c, rc == AIOS_OK && (out.n != ct.n || memcmp(out.p, ct.p, ct.n) != 0),
                     test, "sealing the message reproduced an invalid ciphertext");
        free(out.p);
    }
    free(back); free(key.p); free(aad.p); free(msg.p); free(ct.p);
}

static void test_wycheproof(void **state)
{
    static const char file[] = "aes_siv_cmac_test.json";
    siv_walk w;
    size_t total;
    json_t *root = tu_wycheproof(file);
    (void)state;

    memset(&w, 0, sizeof(w));
    w.c.file = file;
    total = tu_wycheproof_each(root, siv_case, &w);
    assert_int_equal(total, w.c.valid + w.c.invalid + w.c.acceptable);
    tc_report(&w.c);
    printf("%s: per key size 256/384/512: %zu/%zu/%zu; %zu valid EdgeCaseSiv\n", file,
           w.per_size[0], w.per_size[1], w.per_size[2], w.edge_siv);
    assert_true(w.per_size[0] > 0 && w.per_size[1] > 0 && w.per_size[2] > 0);
    assert_true(w.c.invalid > 0);
    if (!tu_under_valgrind()) {
        /* Every vector ran: the file's own count, and the split of it. */
        assert_int_equal(total, (size_t)tc_int(root, "numberOfTests"));
        assert_int_equal(total, 442);
        assert_int_equal(w.c.valid, 118);
        assert_int_equal(w.c.invalid, 324);
        assert_int_equal(w.c.acceptable, 0);
        assert_int_equal(w.edge_siv, 30);
        assert_int_equal(w.per_size[0], 148);
        assert_int_equal(w.per_size[1], 147);
        assert_int_equal(w.per_size[2], 147);
    }
    json_decref(root);
}

/* ===================================================== own properties */

static const uint8_t *test_key(size_t len)   /* bytes 0x40, 0x41, ...; the first len used */
{
    static uint8_t k[64];
    size_t i;
    for (i = 0; i < sizeof(k); i++)
        k[i] = (uint8_t)(0x40 + i);
    (void)len;
    return k;
}

static void test_determinism(void **state)
{
    static const size_t key_lens[] = { 32, 48, 64 };
    uint8_t pt[100], other_key[64];
    aios__siv_ad a[2] = { { (const uint8_t *)"table", 5 }, { (const uint8_t *)"column", 6 } };
    tc_bytes c1, c2;
    size_t k, len;
    (void)state;

    for (len = 0; len < sizeof(pt); len++)
        pt[len] = (uint8_t)(len * 7);
    for (k = 0; k < 3; k++) {
        for (len = 0; len <= sizeof(pt); len += 9) {
            tu_assert_ok(seal(&c1, test_key(key_lens[k]), key_lens[k], a, 2, pt, len));
            tu_assert_ok(seal(&c2, test_key(key_lens[k]), key_lens[k], a, 2, pt, len));
            assert_int_equal(c1.n, len + TAG);
            assert_int_equal(c2.n, c1.n);
            assert_memory_equal(c1.p, c2.p, c1.n);   /* same input, same output */
            free(c2.p);
            /* Another K1, another associated data vector, another
             * plaintext: another V (K2 keys only the encryption). */
            memcpy(other_key, test_key(64), 64);
            other_key[key_lens[k] - 1] ^= 1;          /* a bit of K2: same V, other C */
            tu_assert_ok(seal(&c2, other_key, key_lens[k], a, 2, pt, len));
            assert_memory_equal(c1.p, c2.p, TAG);
            if (len > 0)
                assert_memory_not_equal(c1.p + TAG, c2.p + TAG, len);
            free(c2.p);
            memcpy(other_key, test_key(64), 64);
            other_key[0] ^= 1;                        /* a bit of K1 */
            tu_assert_ok(seal(&c2, other_key, key_lens[k], a, 2, pt, len));
            assert_memory_not_equal(c1.p, c2.p, TAG);
            free(c2.p);
            tu_assert_ok(seal(&c2, test_key(key_lens[k]), key_lens[k], a, 1, pt, len));
            assert_memory_not_equal(c1.p, c2.p, TAG);
            free(c2.p);
            if (len > 0) {
                pt[len - 1] ^= 0x80;
                tu_assert_ok(seal(&c2, test_key(key_lens[k]), key_lens[k], a, 2, pt, len));
                assert_memory_not_equal(c1.p, c2.p, TAG);
                pt[len - 1] ^= 0x80;
                free(c2.p);
            }
            free(c1.p);
        }
    }
}

/* Every single-bit flip of V or C fails to open and leaves nothing. */
static void test_bit_flips(void **state)
{
    static const size_t key_lens[] = { 32, 48, 64 };
    uint8_t pt[37], *back;
    aios__siv_ad a[2] = { { (const uint8_t *)"x", 1 }, { (const uint8_t *)"nonce-0123456789", 16 } };
    tc_bytes ct;
    size_t k, i, n = 0;
    (void)state;

    aios__random_bytes(pt, sizeof(pt));
    for (k = 0; k < 3; k++) {
        const uint8_t *key = test_key(key_lens[k]);
        tu_assert_ok(seal(&ct, key, key_lens[k], a, 2, pt, sizeof(pt)));
        for (i = 0; i < ct.n * 8; i++) {
            ct.p[i / 8] ^= (uint8_t)(1u << (i % 8));
            tu_assert_status(open_checked(&back, &n, key, key_lens[k], a, 2, ct.p, ct.n),
                             AIOS_E_AUTH);
            free(back);
            ct.p[i / 8] ^= (uint8_t)(1u << (i % 8));
        }
        assert_string_equal(aios_last_error_message(),
                            "AES-SIV open: authentication failed (wrong key or associated data, "
                            "or altered data)");
        /* Truncated or extended, it fails too. */
        tu_assert_status(open_checked(&back, &n, key, key_lens[k], a, 2, ct.p, ct.n - 1),
                         AIOS_E_AUTH);
        free(back);
        tu_assert_ok(open_checked(&back, &n, key, key_lens[k], a, 2, ct.p, ct.n));
        assert_int_equal(n, sizeof(pt));
        assert_memory_equal(back, pt, n);
        free(back);
        free(ct.p);
    }
}

/* The associated data vector: count, order, boundaries and emptiness all
 * change V. */
static void test_ad_vector(void **state)
{
    static const uint8_t pt[] = "joinable field value";
    const uint8_t *key = test_key(32);
    aios__siv_ad ab_c[2] = { { (const uint8_t *)"ab", 2 }, { (const uint8_t *)"c", 1 } };
    aios__siv_ad a_bc[2] = { { (const uint8_t *)"a", 1 }, { (const uint8_t *)"bc", 2 } };
    aios__siv_ad c_ab[2] = { { (const uint8_t *)"c", 1 }, { (const uint8_t *)"ab", 2 } };
    aios__siv_ad abc[1] = { { (const uint8_t *)"abc", 3 } };
    aios__siv_ad ab_c_empty[3] = { { (const uint8_t *)"ab", 2 }, { (const uint8_t *)"c", 1 },
                                   { NULL, 0 } };
    aios__siv_ad empty[1] = { { NULL, 0 } };
    struct { const aios__siv_ad *ad; size_t n; } wrong[] = {
        { a_bc, 2 }, { c_ab, 2 }, { abc, 1 }, { ab_c_empty, 3 }, { ab_c, 1 }, { NULL, 0 },
        { empty, 1 },
    };
    tc_bytes ct, e1, e0;
    uint8_t *back;
    size_t i, n = 0;
    (void)state;

    tu_assert_ok(seal(&ct, key, 32, ab_c, 2, pt, sizeof(pt)));
    tu_assert_ok(open_checked(&back, &n, key, 32, ab_c, 2, ct.p, ct.n));
    assert_memory_equal(back, pt, sizeof(pt));
    free(back);
    for (i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        tu_assert_status(open_checked(&back, &n, key, 32, wrong[i].ad, wrong[i].n, ct.p, ct.n),
                         AIOS_E_AUTH);
        free(back);
    }
    /* One empty string is not zero strings. */
    tu_assert_ok(seal(&e1, key, 32, empty, 1, pt, sizeof(pt)));
    tu_assert_ok(seal(&e0, key, 32, NULL, 0, pt, sizeof(pt)));
    assert_memory_not_equal(e1.p, e0.p, TAG);
    tu_assert_status(open_checked(&back, &n, key, 32, NULL, 0, e1.p, e1.n), AIOS_E_AUTH);
    free(back);
    free(ct.p); free(e1.p); free(e0.p);
}

/* The RFC's limit: 126 strings seal and open, 127 are refused. */
static void test_ad_count_limit(void **state)
{
    aios__siv_ad many[AIOS__SIV_AD_MAX + 1];
    uint8_t idx[AIOS__SIV_AD_MAX + 1], out[64], *back;
    const uint8_t *key = test_key(64);
    tc_bytes ct;
    size_t i, n = 0;
    (void)state;

    for (i = 0; i <= AIOS__SIV_AD_MAX; i++) {
        idx[i] = (uint8_t)i;
        many[i].p = &idx[i];
        many[i].len = 1;
    }
    tu_assert_ok(seal(&ct, key, 64, many, AIOS__SIV_AD_MAX, (const uint8_t *)"pt", 2));
    tu_assert_ok(open_checked(&back, &n, key, 64, many, AIOS__SIV_AD_MAX, ct.p, ct.n));
    assert_int_equal(n, 2);
    free(back);
    tu_assert_status(open_checked(&back, &n, key, 64, many, AIOS__SIV_AD_MAX - 1, ct.p, ct.n),
                     AIOS_E_AUTH);
    free(back);
    tu_assert_status(aios__aes_siv_seal(out, sizeof(out), &n, key, 64, many,
                                        AIOS__SIV_AD_MAX + 1, (const uint8_t *)"pt", 2),
                     AIOS_E_LIMIT);
    tu_assert_status(aios__aes_siv_open(out, sizeof(out), &n, key, 64, many,
                                        AIOS__SIV_AD_MAX + 1, ct.p, ct.n),
                     AIOS_E_LIMIT);
    free(ct.p);
}

static void test_empty_plaintext(void **state)
{
    const uint8_t *key = test_key(48);
    aios__siv_ad a = { (const uint8_t *)"ad", 2 };
    uint8_t out[TAG], back[1] = { 0x77 }, zero[TAG];
    size_t n = 0;
    (void)state;

    memset(zero, 0, sizeof(zero));
    tu_assert_ok(aios__aes_siv_seal(out, sizeof(out), &n, key, 48, &a, 1, NULL, 0));
    assert_int_equal(n, TAG);
    assert_memory_not_equal(out, zero, TAG);
    tu_assert_ok(aios__aes_siv_open(back, 0, &n, key, 48, &a, 1, out, TAG));
    assert_int_equal(n, 0);
    assert_int_equal(back[0], 0x77);
    out[5] ^= 0x10;
    tu_assert_status(aios__aes_siv_open(back, 0, &n, key, 48, &a, 1, out, TAG), AIOS_E_AUTH);
    assert_int_equal(back[0], 0x77);
    /* No associated data and no plaintext: S2V of the plaintext alone. */
    tu_assert_ok(aios__aes_siv_seal(out, sizeof(out), &n, key, 48, NULL, 0, NULL, 0));
    tu_assert_ok(aios__aes_siv_open(back, sizeof(back), &n, key, 48, NULL, 0, out, TAG));
    assert_int_equal(n, 0);
}

/* Long messages against an independent implementation: OpenSSL's AES-SIV
 * (through python cryptography), with V || C checked by its SHA-256.  The
 * message is bytes (31i + 7) mod 256; the key bytes 0x40, 0x41, ...;
 * the associated data "long message" and a 4-byte big-endian counter,
 * the counter being the first at which V's bytes 13 and 14 are 0xff, so
 * that the 257 CTR blocks carry across three byte boundaries of Q. */
typedef struct long_vec {
    size_t      key_len;
    uint32_t    ctr;
    size_t      len;
    const char *v, *sha256;
} long_vec;

static const long_vec long_vecs[] = {
    { 32, 155884, 4099, "41e27ab96eab16e2215574ae6affff35",
      "2ebb63c18ed7307c54b337b577c3f2c67289576efaa97a85b83806df524133d9" },
    { 48, 52798, 4099, "3152ac4563599978af9ce5441fffffa9",
      "a88eb5edc8c1388894a0d2bdeea4d0c74a03aed6f88089bc685df405053bf9ef" },
    { 64, 64491, 4099, "fd05aecb6aecb3f805bbde04a7ffffc6",
      "9f3d4cf026d90c747737292392ac59ee4a34a5c23e87cd5ad9f3d1e100d8956d" },
};

static uint8_t *pattern(size_t len)
{
    uint8_t *m = malloc(len + 1);
    size_t i;
    assert_non_null(m);
    for (i = 0; i < len; i++)
        m[i] = (uint8_t)(i * 31 + 7);
    return m;
}

static void check_long(const uint8_t *key, size_t key_len, const aios__siv_ad *a, size_t n_ad,
                       size_t len, const char *v_hex, const char *sha_hex)
{
    tc_bytes v = tc_hex(v_hex), sha = tc_hex(sha_hex), ct;
    uint8_t *m = pattern(len), *back, digest[AIOS__SHA256_LEN];
    size_t n = 0;

    tu_assert_ok(seal(&ct, key, key_len, a, n_ad, m, len));
    assert_int_equal(ct.n, len + TAG);
    assert_memory_equal(ct.p, v.p, TAG);
    aios__sha256(digest, ct.p, ct.n);
    assert_memory_equal(digest, sha.p, sizeof(digest));
    tu_assert_ok(open_checked(&back, &n, key, key_len, a, n_ad, ct.p, ct.n));
    assert_int_equal(n, len);
    assert_memory_equal(back, m, len);
    free(back);
    /* A flip in the last block, far from V, is caught too. */
    ct.p[ct.n - 1] ^= 0x01;
    tu_assert_status(open_checked(&back, &n, key, key_len, a, n_ad, ct.p, ct.n), AIOS_E_AUTH);
    free(back);
    free(m); free(ct.p); free(v.p); free(sha.p);
}

static void test_long_messages(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(long_vecs) / sizeof(long_vecs[0]); i++) {
        const long_vec *lv = &long_vecs[i];
        uint8_t be[4] = { (uint8_t)(lv->ctr >> 24), (uint8_t)(lv->ctr >> 16),
                          (uint8_t)(lv->ctr >> 8), (uint8_t)lv->ctr };
        aios__siv_ad a[2] = { { (const uint8_t *)"long message", 12 }, { be, 4 } };
        check_long(test_key(lv->key_len), lv->key_len, a, 2, lv->len, lv->v, lv->sha256);
    }
    {
        /* 1 MiB + 5 bytes (65537 blocks, so the counter's low 16 bits
         * wrap at least once), AES-SIV-CMAC-512, one AD string. */
        aios__siv_ad a = { (const uint8_t *)"one mebibyte", 12 };
        check_long(test_key(64), 64, &a, 1, ((size_t)1 << 20) + 5,
                   "1a5a4623dbae0349d8e680b6afe31337",
                   "dfb1534d2e5d691e060257f8f2f0eacc1aabfd90b83ff8b3c0123bf594499599");
    }
}

/* Round trips over many lengths (every length up to 70, then larger),
 * every key size, with the buffers overlapping in every useful way. */
static void test_round_trips_in_place(void **state)
{
    static const size_t key_lens[] = { 32, 48, 64 };
    size_t cap = 5000, k, len, n = 0, m = 0;
    uint8_t *pt = malloc(cap), *ref = malloc(cap + TAG), *buf = malloc(cap + 2 * TAG);
    aios__siv_ad a = { (const uint8_t *)"in place", 8 };
    (void)state;

    assert_non_null(pt); assert_non_null(ref); assert_non_null(buf);
    for (k = 0; k < 3; k++) {
        const uint8_t *key = test_key(key_lens[k]);
        for (len = 0; len <= cap - 2 * TAG; len = len < 70 ? len + 1 : len * 2 + 3) {
            aios__random_bytes(pt, len);
            tu_assert_ok(aios__aes_siv_seal(ref, cap + TAG, &n, key, key_lens[k], &a, 1,
                                            pt, len));
            assert_int_equal(n, len + TAG);
            /* Seal with the plaintext where C goes (out + 16). */
            memcpy(buf + TAG, pt, len);
            tu_assert_ok(aios__aes_siv_seal(buf, cap + 2 * TAG, &n, key, key_lens[k], &a, 1,
                                            buf + TAG, len));
            assert_memory_equal(buf, ref, len + TAG);
            /* Open in place (out == in): the plaintext at the front. */
            tu_assert_ok(aios__aes_siv_open(buf, cap + 2 * TAG, &m, key, key_lens[k], &a, 1,
                                            buf, n));
            assert_int_equal(m, len);
            assert_memory_equal(buf, pt, len);
            /* Seal in place (out == pt): C shifts right by 16. */
            tu_assert_ok(aios__aes_siv_seal(buf, cap + 2 * TAG, &n, key, key_lens[k], &a, 1,
                                            buf, len));
            assert_memory_equal(buf, ref, len + TAG);
            /* Open into out = in + 16. */
            tu_assert_ok(aios__aes_siv_open(buf + TAG, cap + TAG, &m, key, key_lens[k], &a, 1,
                                            buf, n));
            assert_memory_equal(buf + TAG, pt, len);
            /* A failed in-place open wipes the plaintext area. */
            memcpy(buf, ref, len + TAG);
            buf[0] ^= 1;
            tu_assert_status(aios__aes_siv_open(buf, cap + 2 * TAG, &m, key, key_lens[k], &a, 1,
                                                buf, n), AIOS_E_AUTH);
            assert_true(tc_is_zero(buf, len));
        }
    }
    free(pt); free(ref); free(buf);
}

/* The CTR counter: a 128-bit big-endian increment.  Through the API the
 * carry never leaves the low 32 bits (Q's bit 31 is cleared and a message
 * is at most 2^27 blocks), so carries past them, across the low 64 bits
 * and around 2^128, are checked here on the helper itself. */
static void check_inc(const char *before, const char *after)
{
    tc_bytes b = tc_hex(before), e = tc_hex(after);
    assert_int_equal(b.n, 16);
    aios__aes_siv_ctr_inc(b.p);
    assert_memory_equal(b.p, e.p, 16);
    free(b.p); free(e.p);
}

static void test_counter_increment(void **state)
{
    (void)state;
    check_inc("00000000000000000000000000000000", "00000000000000000000000000000001");
    check_inc("000000000000000000000000000000fe", "000000000000000000000000000000ff");
    check_inc("000000000000000000000000000000ff", "00000000000000000000000000000100");
    check_inc("0000000000000000000000007fffffff", "00000000000000000000000080000000");
    check_inc("000000000000000000000000ffffffff", "00000000000000000000000100000000");
    check_inc("1234567890abcdef7fffffffffffffff", "1234567890abcdef8000000000000000");
    check_inc("1234567890abcdefffffffffffffffff", "1234567890abcdf00000000000000000");
    check_inc("00000000000000ffffffffffffffffff", "00000000000001000000000000000000");
    check_inc("7fffffffffffffffffffffffffffffff", "80000000000000000000000000000000");
    check_inc("ffffffffffffffffffffffffffffffff", "00000000000000000000000000000000");
    check_inc("ffffffffffffffff0000000000000000", "ffffffffffffffff0000000000000001");
}

static void test_arguments(void **state)
{
    const uint8_t *key = test_key(64);
    aios__siv_ad a = { (const uint8_t *)"ad", 2 }, bad_ad = { NULL, 3 };
    uint8_t out[64], sealed[32];
    size_t n = 99, m = 0;
    (void)state;

    /* Key sizes: AES-SIV keys are two AES keys. */
    static const size_t bad_keys[] = { 0, 16, 24, 31, 33, 40, 65, 128 };
    size_t i;
    for (i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++) {
        n = 99;
        tu_assert_status(aios__aes_siv_seal(out, sizeof(out), &n, key, bad_keys[i], &a, 1,
                                            out, 4), AIOS_E_INVALID_ARGUMENT);
        assert_int_equal(n, 0);
        tu_assert_status(aios__aes_siv_open(out, sizeof(out), &n, key, bad_keys[i], &a, 1,
                                            out, 32), AIOS_E_INVALID_ARGUMENT);
    }
    /* NULLs. */
    tu_assert_status(aios__aes_siv_seal(out, sizeof(out), NULL, key, 32, &a, 1, out, 4),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__aes_siv_seal(NULL, sizeof(out), &n, key, 32, &a, 1, out, 4),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__aes_siv_seal(out, sizeof(out), &n, NULL, 32, &a, 1, out, 4),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__aes_siv_seal(out, sizeof(out), &n, key, 32, NULL, 1, out, 4),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__aes_siv_seal(out, sizeof(out), &n, key, 32, &bad_ad, 1, out, 4),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__aes_siv_seal(out, sizeof(out), &n, key, 32, &a, 1, NULL, 4),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__aes_siv_open(out, sizeof(out), &n, key, 32, &a, 1, NULL, 16),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__aes_siv_open(NULL, 0, &n, key, 32, &a, 1, sealed, 16),
                     AIOS_E_INVALID_ARGUMENT);
    /* Sealed input shorter than V. */
    tu_assert_status(aios__aes_siv_open(out, sizeof(out), &n, key, 32, &a, 1, sealed, 15),
                     AIOS_E_FORMAT);
    tu_assert_status(aios__aes_siv_open(out, sizeof(out), &n, key, 32, &a, 1, NULL, 0),
                     AIOS_E_FORMAT);
    /* Short buffers report the size needed and write nothing. */
    memset(out, 0x77, sizeof(out));
    tu_assert_status(aios__aes_siv_seal(out, 19, &n, key, 32, &a, 1, (const uint8_t *)"abcd", 4),
                     AIOS_E_BUFFER_TOO_SMALL);
    assert_int_equal(n, 20);
    assert_int_equal(out[0], 0x77);
    tu_assert_ok(aios__aes_siv_seal(sealed, 20, &n, key, 32, &a, 1, (const uint8_t *)"abcd", 4));
    assert_int_equal(n, 20);
    tu_assert_status(aios__aes_siv_open(out, 3, &m, key, 32, &a, 1, sealed, 20),
                     AIOS_E_BUFFER_TOO_SMALL);
    assert_int_equal(m, 4);
    assert_int_equal(out[0], 0x77);
    tu_assert_ok(aios__aes_siv_open(out, 4, &m, key, 32, &a, 1, sealed, 20));
    assert_int_equal(m, 4);
    assert_memory_equal(out, "abcd", 4);
    /* Wrong key (either half) fails to open. */
    {
        uint8_t k2[32];
        memcpy(k2, key, 32);
        k2[20] ^= 4;
        tu_assert_status(aios__aes_siv_open(out, 4, &m, k2, 32, &a, 1, sealed, 20), AIOS_E_AUTH);
        assert_true(tc_is_zero(out, 4));
        memcpy(k2, key, 32);
        k2[3] ^= 4;
        tu_assert_status(aios__aes_siv_open(out, 4, &m, k2, 32, &a, 1, sealed, 20), AIOS_E_AUTH);
        /* A 64-byte key is not its 32-byte prefix. */
        tu_assert_status(aios__aes_siv_open(out, 4, &m, key, 64, &a, 1, sealed, 20), AIOS_E_AUTH);
    }
}

static void test_limits(void **state)
{
    const uint8_t *key = test_key(32);
    uint8_t small[32] = { 0 };
    aios__siv_ad huge = { small, AIOS__SIV_MAX + 1 };
    size_t n = 99;
    (void)state;

    /* Refused before any byte is read or written (the buffers are far
     * smaller than the lengths claimed). */
    tu_assert_status(aios__aes_siv_seal(small, SIZE_MAX, &n, key, 32, NULL, 0, small,
                                        AIOS__SIV_MAX + 1), AIOS_E_LIMIT);
    assert_int_equal(n, 0);
    tu_assert_status(aios__aes_siv_open(small, SIZE_MAX, &n, key, 32, NULL, 0, small,
                                        AIOS__SIV_MAX + TAG + 1), AIOS_E_LIMIT);
    tu_assert_status(aios__aes_siv_seal(small, sizeof(small), &n, key, 32, &huge, 1, small, 1),
                     AIOS_E_LIMIT);
    tu_assert_status(aios__aes_siv_open(small, sizeof(small), &n, key, 32, &huge, 1, small, 17),
                     AIOS_E_LIMIT);
    /* The limits themselves pass the checks: the buffer-size check
     * answers next. */
    tu_assert_status(aios__aes_siv_seal(small, sizeof(small), &n, key, 32, NULL, 0, small,
                                        AIOS__SIV_MAX), AIOS_E_BUFFER_TOO_SMALL);
    assert_int_equal(n, AIOS__SIV_MAX + TAG);
    tu_assert_status(aios__aes_siv_open(small, sizeof(small), &n, key, 32, NULL, 0, small,
                                        AIOS__SIV_MAX + TAG), AIOS_E_BUFFER_TOO_SMALL);
    assert_int_equal(n, AIOS__SIV_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc5297_a1),
        cmocka_unit_test(test_rfc5297_a2),
        cmocka_unit_test(test_wycheproof),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_bit_flips),
        cmocka_unit_test(test_ad_vector),
        cmocka_unit_test(test_ad_count_limit),
        cmocka_unit_test(test_empty_plaintext),
        cmocka_unit_test(test_long_messages),
        cmocka_unit_test(test_round_trips_in_place),
        cmocka_unit_test(test_counter_increment),
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, tc_setup, NULL);
}
