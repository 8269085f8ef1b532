/*
 * ECDSA of the crypto seam: Wycheproof P-256/SHA-256 (DER and P1363),
 * P-384/SHA-384 (DER) and P-521/SHA-512 (DER, long-form lengths), RFC 6979
 * deterministic signatures, key handling.
 *
 * The P-521 file is not among ../shared/vectors: it is committed at
 * tests/vectors/wycheproof/ecdsa_secp521r1_sha512_test.json, from the same
 * C2SP/wycheproof commit as the shared files (SOURCE.md there).
 */
#include "test_crypto_util.h"

typedef struct ec_walk {
    tc_counts      c;
    aios__ec_curve curve;
    int            p1363;
} ec_walk;

static void ec_case(json_t *group, json_t *test, void *arg)
{
    ec_walk *w = arg;
    int result = tu_result(test), rc;
    json_t *key = json_object_get(group, "publicKey");
    tc_bytes pk = tc_member(key, "uncompressed"), msg = tc_member(test, "msg"),
             sig = tc_member(test, "sig");

    tc_count(&w->c, result);
    assert_int_equal(pk.n, aios__ec_point_len(w->curve));
    if (w->p1363)
        rc = aios__ecdsa_verify_p1363(w->curve, sig.p, sig.n, msg.p, msg.n, pk.p, pk.n);
    else
        rc = aios__ecdsa_verify_der(w->curve, sig.p, sig.n, msg.p, msg.n, pk.p, pk.n);
    if (result == 1)
        TC_CHECK(&w->c, rc == AIOS_OK, test, "valid signature rejected");
    else if (result == 0)
        TC_CHECK(&w->c, rc == AIOS_E_AUTH, test, "invalid signature accepted");
    free(pk.p); free(msg.p); free(sig.p);
}

static void run_wycheproof_root(json_t *root, const char *file, aios__ec_curve curve, int p1363)
{
    ec_walk w;
    size_t total;
    memset(&w, 0, sizeof(w));
    w.c.file = file;
    w.curve = curve;
    w.p1363 = p1363;
    total = tu_wycheproof_each(root, ec_case, &w);
    assert_int_equal(total, w.c.valid + w.c.invalid + w.c.acceptable);
    tc_report(&w.c);
    assert_true(w.c.invalid > 0);
    assert_true(w.c.valid > 0);
}

static void run_wycheproof(const char *file, aios__ec_curve curve, int p1363)
{
    json_t *root = tu_wycheproof(file);
    run_wycheproof_root(root, file, curve, p1363);
    json_decref(root);
}

/* A vector file committed in this repository (tests/vectors/wycheproof). */
static json_t *repo_wycheproof(const char *file)
{
    char path[4096];
    json_error_t err;
    json_t *root;
    snprintf(path, sizeof(path), "%s/tests/vectors/wycheproof/%s", AIOS_TEST_SOURCE_DIR, file);
    root = json_load_file(path, 0, &err);
    if (!root)
        fail_msg("cannot load %s: %s (line %d)", path, err.text, err.line);
    return root;
}

/* Every group's key also comes as SPKI DER and PEM: the key encoder reads
 * both as P-521 and gives the group's uncompressed point. */
static void p521_group_keys(json_t *root)
{
    json_t *groups = json_object_get(root, "testGroups"), *g;
    size_t i;
    json_array_foreach(groups, i, g) {
        json_t *key = json_object_get(g, "publicKey");
        tc_bytes pt = tc_member(key, "uncompressed"), der = tc_member(g, "publicKeyDer");
        const char *pem = tu_str(g, "publicKeyPem");
        uint8_t pub[AIOS__KEYENC_PUB_MAX];
        size_t n = 0;
        int alg = 0;
        assert_string_equal(tu_str(key, "curve"), "secp521r1");
        tu_assert_ok(aios__spki_decode(der.p, der.n, &alg, pub, sizeof(pub), &n));
        assert_int_equal(alg, AIOS__KEYENC_P521);
        assert_int_equal(n, pt.n);
        assert_memory_equal(pub, pt.p, n);
        tu_assert_ok(aios__spki_decode((const uint8_t *)pem, strlen(pem), &alg, pub, sizeof(pub),
                                       &n));
        assert_memory_equal(pub, pt.p, n);
        free(pt.p); free(der.p);
    }
}

static void test_wycheproof_p521_der(void **state)
{
    static const char file[] = "ecdsa_secp521r1_sha512_test.json";
    json_t *root = repo_wycheproof(file);
    (void)state;
    assert_string_equal(tu_str(json_array_get(json_object_get(root, "testGroups"), 0), "sha"),
                        "SHA-512");
    run_wycheproof_root(root, file, AIOS__EC_P521, 0);
    p521_group_keys(root);
    json_decref(root);
}

static void test_wycheproof_p256_der(void **state)
{
    (void)state;
    run_wycheproof("ecdsa_secp256r1_sha256_test.json", AIOS__EC_P256, 0);
}

static void test_wycheproof_p256_p1363(void **state)
{
    (void)state;
    run_wycheproof("ecdsa_secp256r1_sha256_p1363_test.json", AIOS__EC_P256, 1);
}

static void test_wycheproof_p384_der(void **state)
{
    (void)state;
    run_wycheproof("ecdsa_secp384r1_sha384_test.json", AIOS__EC_P384, 0);
}

/* RFC 6979 A.2.5 / A.2.6, messages "sample" and "test". */
typedef struct rfc6979_vec {
    aios__ec_curve curve;
    const char *d, *q, *msg, *der;
} rfc6979_vec;

static const rfc6979_vec rfc6979[] = {
    { AIOS__EC_P256,
      "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721",
      "0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"
      "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299",
      "sample",
      "3046022100efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716"
      "022100f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8" },
    { AIOS__EC_P256,
      "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721",
      "0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"
      "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299",
      "test",
      /* s has a leading 0x01: its INTEGER is 32 bytes with no pad */
      "3045022100f1abb023518351cd71d881567b1ea663ed3efcf6c5132b354f28d3b0b7d38367"
      "0220019f4113742a2b14bd25926b49c649155f267e60d3814b4c0cc84250e46f0083" },
    { AIOS__EC_P384,
      "6b9d3dad2e1b8c1c05b19875b6659f4de23c3b667bf297ba9aa47740787137d896d5724e4c70a825f872c9ea60d2edf5",
      "04ec3a4e415b4e19a4568618029f427fa5da9a8bc4ae92e02e06aae5286b300c64def8f0ea9055866064a254515480bc13"
      "8015d9b72d7d57244ea8ef9ac0c621896708a59367f9dfb9f54ca84b3f1c9db1288b231c3ae0d4fe7344fd2533264720",
      "sample",
      "3066023100"
      "94edbb92a5ecb8aad4736e56c691916b3f88140666ce9fa73d64c4ea95ad133c81a648152e44acf96e36dd1e80fabe46"
      "023100"
      "99ef4aeb15f178cea1fe40db2603138f130e740a19624526203b6351d0a3a94fa329c145786e679e7b82c71a38628ac8" },
    { AIOS__EC_P384,
      "6b9d3dad2e1b8c1c05b19875b6659f4de23c3b667bf297ba9aa47740787137d896d5724e4c70a825f872c9ea60d2edf5",
      "04ec3a4e415b4e19a4568618029f427fa5da9a8bc4ae92e02e06aae5286b300c64def8f0ea9055866064a254515480bc13"
      "8015d9b72d7d57244ea8ef9ac0c621896708a59367f9dfb9f54ca84b3f1c9db1288b231c3ae0d4fe7344fd2533264720",
      "test",
      "3066023100"
      "8203b63d3c853e8d77227fb377bcf7b7b772e97892a80f36ab775d509d7a5feb0542a7f0812998da8f1dd3ca3cf023db"
      "023100"
      "ddd0760448d42d8a43af45af836fce4de8be06b485e9b61b827c2f13173923e06a739f040649a667bf3b828246baa5a5" },
};

static void test_rfc6979(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(rfc6979) / sizeof(rfc6979[0]); i++) {
        const rfc6979_vec *v = &rfc6979[i];
        tc_bytes d = tc_hex(v->d), q = tc_hex(v->q), der = tc_hex(v->der);
        uint8_t pub[AIOS__EC_POINT_MAX], sig[AIOS__EC_DER_SIG_MAX];
        size_t siglen = 0, mlen = strlen(v->msg);
        const uint8_t *msg = (const uint8_t *)v->msg;

        assert_int_equal(d.n, aios__ec_scalar_len(v->curve));
        tu_assert_ok(aios__ecdsa_public(v->curve, d.p, pub));
        assert_memory_equal(pub, q.p, q.n);
        tu_assert_ok(aios__ecdsa_sign_der(v->curve, sig, sizeof(sig), &siglen, msg, mlen, d.p));
        assert_int_equal(siglen, der.n);
        assert_memory_equal(sig, der.p, der.n);
        tu_assert_ok(aios__ecdsa_verify_der(v->curve, der.p, der.n, msg, mlen, q.p, q.n));
        /* A short buffer reports the size needed. */
        siglen = 0;
        assert_int_equal(aios__ecdsa_sign_der(v->curve, sig, der.n - 1, &siglen, msg, mlen, d.p),
                         AIOS_E_BUFFER_TOO_SMALL);
        assert_int_equal(siglen, der.n);
        free(d.p); free(q.p); free(der.p);
    }
}

/* Turn a DER signature into r || s (test-side, lenient parsing of our own
 * output). */
static void der_to_p1363(const uint8_t *der, size_t n, uint8_t *raw)
{
    size_t pos = der[1] == 0x81 ? 3 : 2, i;   /* P-521: long-form SEQUENCE length */
    for (i = 0; i < 2; i++) {
        size_t len;
        assert_int_equal(der[pos], 0x02);
        len = der[pos + 1];
        pos += 2;
        while (len > n) {
            assert_int_equal(der[pos], 0);
            pos++;
            len--;
        }
        memset(raw + i * n, 0, n - len);
        memcpy(raw + i * n + n - len, der + pos, len);
        pos += len;
    }
}

static void round_trip(aios__ec_curve curve)
{
    uint8_t sk[AIOS__EC_SCALAR_MAX], pk[AIOS__EC_POINT_MAX], pk2[AIOS__EC_POINT_MAX];
    uint8_t sig[AIOS__EC_DER_SIG_MAX + 1], sig2[AIOS__EC_DER_SIG_MAX], raw[2 * AIOS__EC_SCALAR_MAX];
    size_t n = aios__ec_scalar_len(curve), plen = aios__ec_point_len(curve), siglen, siglen2;
    static const uint8_t msg[] = "the model weights of 2025-06-01";
    int i;

    for (i = 0; i < 4; i++) {
        tu_assert_ok(aios__ecdsa_keypair(curve, sk, pk));
        assert_int_equal(pk[0], 0x04);
        tu_assert_ok(aios__ecdsa_public(curve, sk, pk2));
        assert_memory_equal(pk, pk2, plen);
        tu_assert_ok(aios__ecdsa_sign_der(curve, sig, sizeof(sig), &siglen, msg, sizeof(msg), sk));
        assert_true(siglen <= AIOS__EC_DER_SIG_MAX);
        /* Deterministic: the same signature twice. */
        tu_assert_ok(aios__ecdsa_sign_der(curve, sig2, sizeof(sig2), &siglen2, msg, sizeof(msg), sk));
        assert_int_equal(siglen, siglen2);
        assert_memory_equal(sig, sig2, siglen);
        tu_assert_ok(aios__ecdsa_verify_der(curve, sig, siglen, msg, sizeof(msg), pk, plen));
        der_to_p1363(sig, n, raw);
        tu_assert_ok(aios__ecdsa_verify_p1363(curve, raw, 2 * n, msg, sizeof(msg), pk, plen));
        /* Wrong message, wrong lengths, trailing bytes. */
        assert_int_equal(aios__ecdsa_verify_der(curve, sig, siglen, msg, sizeof(msg) - 1, pk, plen),
                         AIOS_E_AUTH);
        assert_int_equal(aios__ecdsa_verify_p1363(curve, raw, 2 * n - 1, msg, sizeof(msg), pk, plen),
                         AIOS_E_AUTH);
        sig[siglen] = 0;
        assert_int_equal(aios__ecdsa_verify_der(curve, sig, siglen + 1, msg, sizeof(msg), pk, plen),
                         AIOS_E_AUTH);
        assert_int_equal(aios__ecdsa_verify_der(curve, sig, siglen - 1, msg, sizeof(msg), pk, plen),
                         AIOS_E_AUTH);
        /* Another key does not verify it. */
        tu_assert_ok(aios__ecdsa_keypair(curve, sk, pk2));
        assert_int_equal(aios__ecdsa_verify_der(curve, sig, siglen, msg, sizeof(msg), pk2, plen),
                         AIOS_E_AUTH);
    }
}

static void test_round_trips(void **state)
{
    (void)state;
    round_trip(AIOS__EC_P256);
    round_trip(AIOS__EC_P384);
    round_trip(AIOS__EC_P521);
}

/* P-521 DER signatures are 137..139 bytes when r and s are full length:
 * SEQUENCE with a long-form length 0x81 xx.  The parser takes exactly the
 * minimal forms: short form for content under 128 bytes, 0x81 xx with
 * xx >= 128 otherwise; never 0x82, 0x80 or 0x81 xx with xx < 128.  And a
 * P-256/P-384 signature never has a long form. */
static void test_der_lengths(void **state)
{
    uint8_t sk[AIOS__EC_SCALAR_MAX], pk[AIOS__EC_POINT_MAX], sig[AIOS__EC_DER_SIG_MAX];
    uint8_t bad[AIOS__EC_DER_SIG_MAX + 8];
    size_t siglen = 0, content;
    static const uint8_t msg[] = "shard 3 of 7";
    int long_seen = 0, tries = 0;
    (void)state;

    assert_int_equal(aios__ec_scalar_len(AIOS__EC_P521), 66);
    assert_int_equal(aios__ec_point_len(AIOS__EC_P521), 133);
    assert_int_equal(aios__ec_hash_len(AIOS__EC_P521), 64);
    while (!long_seen || tries < 4) {
        tries++;
        assert_true(tries < 64);
        tu_assert_ok(aios__ecdsa_keypair(AIOS__EC_P521, sk, pk));
        tu_assert_ok(aios__ecdsa_sign_der(AIOS__EC_P521, sig, sizeof(sig), &siglen, msg,
                                          sizeof(msg), sk));
        assert_true(siglen <= AIOS__EC_DER_SIG_MAX);
        tu_assert_ok(aios__ecdsa_verify_der(AIOS__EC_P521, sig, siglen, msg, sizeof(msg), pk, 133));
        if (sig[1] != 0x81) {
            /* r and s short enough for a short-form length (rare) */
            assert_true(sig[1] < 0x80);
            continue;
        }
        long_seen = 1;
        content = sig[2];
        assert_true(content >= 0x80);
        assert_int_equal(siglen, content + 3);
        /* 0x82 00 xx: not minimal */
        bad[0] = 0x30; bad[1] = 0x82; bad[2] = 0x00; bad[3] = (uint8_t)content;
        memcpy(bad + 4, sig + 3, content);
        tu_assert_status(aios__ecdsa_verify_der(AIOS__EC_P521, bad, content + 4, msg, sizeof(msg),
                                                pk, 133), AIOS_E_AUTH);
        /* indefinite length 0x80 ... 00 00 (BER) */
        bad[0] = 0x30; bad[1] = 0x80;
        memcpy(bad + 2, sig + 3, content);
        bad[content + 2] = 0; bad[content + 3] = 0;
        tu_assert_status(aios__ecdsa_verify_der(AIOS__EC_P521, bad, content + 4, msg, sizeof(msg),
                                                pk, 133), AIOS_E_AUTH);
        /* a length one short, one long, and a truncated header */
        memcpy(bad, sig, siglen);
        bad[2] = (uint8_t)(content - 1);
        tu_assert_status(aios__ecdsa_verify_der(AIOS__EC_P521, bad, siglen, msg, sizeof(msg),
                                                pk, 133), AIOS_E_AUTH);
        bad[2] = (uint8_t)(content + 1);
        bad[siglen] = 0;
        tu_assert_status(aios__ecdsa_verify_der(AIOS__EC_P521, bad, siglen + 1, msg, sizeof(msg),
                                                pk, 133), AIOS_E_AUTH);
        tu_assert_status(aios__ecdsa_verify_der(AIOS__EC_P521, sig, 2, msg, sizeof(msg), pk, 133),
                         AIOS_E_AUTH);
        /* the SHA-512 signature checked with SHA-256 (the legacy form): refused */
        tu_assert_status(aios__ecdsa_verify_der_sha256(AIOS__EC_P521, sig, siglen, msg,
                                                       sizeof(msg), pk, 133), AIOS_E_AUTH);
    }
    /* A short-form signature rewritten as 0x81 xx (xx < 128): not minimal. */
    tu_assert_ok(aios__ecdsa_keypair(AIOS__EC_P256, sk, pk));
    tu_assert_ok(aios__ecdsa_sign_der(AIOS__EC_P256, sig, sizeof(sig), &siglen, msg, sizeof(msg),
                                      sk));
    assert_true(sig[1] < 0x80);
    tu_assert_ok(aios__ecdsa_verify_der(AIOS__EC_P256, sig, siglen, msg, sizeof(msg), pk, 65));
    bad[0] = 0x30; bad[1] = 0x81; bad[2] = sig[1];
    memcpy(bad + 3, sig + 2, siglen - 2);
    tu_assert_status(aios__ecdsa_verify_der(AIOS__EC_P256, bad, siglen + 1, msg, sizeof(msg),
                                            pk, 65), AIOS_E_AUTH);
    aios__wipe(sk, sizeof(sk));
}

static void test_bad_keys(void **state)
{
    (void)state;
    uint8_t sk[48], pk[97], sig[AIOS__EC_DER_SIG_MAX], raw[64];
    size_t siglen;
    /* The order n of P-256: out of range as a private key, as is 0. */
    tc_bytes order = tc_hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
    tc_bytes q = tc_hex("0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"
                        "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299");

    memset(sk, 0, sizeof(sk));
    assert_int_equal(aios__ecdsa_public(AIOS__EC_P256, sk, pk), AIOS_E_FORMAT);
    assert_int_equal(aios__ecdsa_sign_der(AIOS__EC_P256, sig, sizeof(sig), &siglen,
                                          (const uint8_t *)"x", 1, sk), AIOS_E_FORMAT);
    assert_int_equal(aios__ecdsa_public(AIOS__EC_P256, order.p, pk), AIOS_E_FORMAT);
    sk[31] = 1;
    tu_assert_ok(aios__ecdsa_public(AIOS__EC_P256, sk, pk));    /* d = 1: pk = G */

    memset(raw, 0x11, sizeof(raw));
    /* Off the curve. */
    q.p[64] ^= 1;
    assert_int_equal(aios__ecdsa_verify_p1363(AIOS__EC_P256, raw, 64, (const uint8_t *)"x", 1,
                                              q.p, q.n), AIOS_E_FORMAT);
    q.p[64] ^= 1;
    /* Compressed prefix, wrong length, NULL key. */
    q.p[0] = 0x02;
    assert_int_equal(aios__ecdsa_verify_p1363(AIOS__EC_P256, raw, 64, (const uint8_t *)"x", 1,
                                              q.p, q.n), AIOS_E_FORMAT);
    q.p[0] = 0x04;
    assert_int_equal(aios__ecdsa_verify_p1363(AIOS__EC_P256, raw, 64, (const uint8_t *)"x", 1,
                                              q.p, 33), AIOS_E_FORMAT);
    assert_int_equal(aios__ecdsa_verify_der(AIOS__EC_P256, raw, 8, (const uint8_t *)"x", 1,
                                            NULL, 65), AIOS_E_FORMAT);
    /* A P-256 key given as P-384. */
    assert_int_equal(aios__ecdsa_verify_p1363(AIOS__EC_P384, raw, 64, (const uint8_t *)"x", 1,
                                              q.p, q.n), AIOS_E_FORMAT);
    /* A good key with a garbage signature is AUTH, not FORMAT. */
    assert_int_equal(aios__ecdsa_verify_der(AIOS__EC_P256, raw, 8, (const uint8_t *)"x", 1,
                                            q.p, q.n), AIOS_E_AUTH);
    assert_int_equal(aios__ecdsa_verify_p1363(AIOS__EC_P256, raw, 64, (const uint8_t *)"x", 1,
                                              q.p, q.n), AIOS_E_AUTH);
    /* Unknown curve. */
    assert_int_equal(aios__ec_scalar_len((aios__ec_curve)9), 0);
    assert_int_equal(aios__ec_point_len((aios__ec_curve)9), 0);
    assert_int_equal(aios__ecdsa_keypair((aios__ec_curve)9, sk, pk), AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__ec_hash_len(AIOS__EC_P256), 32);
    assert_int_equal(aios__ec_hash_len(AIOS__EC_P384), 48);
    assert_int_equal(aios__ec_hash_len((aios__ec_curve)9), 0);
    assert_int_equal(aios__ec_point_len(AIOS__EC_P384), 97);
    free(order.p); free(q.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wycheproof_p256_der),
        cmocka_unit_test(test_wycheproof_p256_p1363),
        cmocka_unit_test(test_wycheproof_p384_der),
        cmocka_unit_test(test_wycheproof_p521_der),
        cmocka_unit_test(test_der_lengths),
        cmocka_unit_test(test_rfc6979),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_bad_keys),
    };
    return cmocka_run_group_tests(tests, tc_setup, NULL);
}
