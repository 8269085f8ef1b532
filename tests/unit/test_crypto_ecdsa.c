/*
 * ECDSA of the crypto seam: Wycheproof P-256/SHA-256 (DER and P1363),
 * P-384/SHA-384 (DER) and P-521/SHA-512 (DER, long-form lengths), RFC 6979
 * deterministic signatures, key handling.
 *
 * Verification has two backends (lib/crypto/ecdsa.c): OpenSSL's libcrypto,
 * with mbedTLS deciding what OpenSSL does not, and mbedTLS alone (where
 * OpenSSL's configuration refuses ECDSA; test_crypto_ecdsa_config runs
 * that case for real).  Every Wycheproof file runs three times, through
 * the test switch aios__ecdsa_test_backend: automatic, mbedTLS only, and
 * OpenSSL only (its undecided cases taken as refusals), so each library
 * alone gives every verdict; test_backends_agree sets them side by side
 * on random valid, tampered and out-of-range signatures and keys.
 *
 * The P-521 file is not among ../shared/vectors: it is committed at
 * tests/vectors/wycheproof/ecdsa_secp521r1_sha512_test.json, from the same
 * C2SP/wycheproof commit as the shared files (SOURCE.md there).
 */
#include "test_crypto_util.h"

static const int backends[] = { AIOS__ECDSA_BACKEND_AUTO, AIOS__ECDSA_BACKEND_MBEDTLS,
                                AIOS__ECDSA_BACKEND_OPENSSL };
static const char *const backend_names[] = { "auto", "mbedtls", "openssl" };
#define N_BACKENDS (sizeof(backends) / sizeof(backends[0]))

/* Every test starts and ends on the automatic backend. */
static int auto_backend(void **state)
{
    (void)state;
    return aios__ecdsa_test_backend(AIOS__ECDSA_BACKEND_AUTO) == AIOS_OK ? 0 : -1;
}

/* The same file on each backend. */
static void run_wycheproof_backends(json_t *root, const char *file, aios__ec_curve curve,
                                    int p1363)
{
    size_t b;
    for (b = 0; b < N_BACKENDS; b++) {
        printf("ECDSA verification backend: %s\n", backend_names[b]);
        tu_assert_ok(aios__ecdsa_test_backend(backends[b]));
        tc_ecdsa_wycheproof(root, file, curve, p1363);
    }
    tu_assert_ok(aios__ecdsa_test_backend(AIOS__ECDSA_BACKEND_AUTO));
}

static void run_wycheproof(const char *file, aios__ec_curve curve, int p1363)
{
    json_t *root = tu_wycheproof(file);
    run_wycheproof_backends(root, file, curve, p1363);
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
    run_wycheproof_backends(root, file, AIOS__EC_P521, 0);
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

/* ------------------------------------------------- the backends agree */

/* The group orders, big-endian, left-padded to the scalar length. */
static const char *const order_hex[] = {
    NULL,
    "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551",
    "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf"
    "581a0db248b0a77aecec196accc52973",
    "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
    "fa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409",
};

typedef enum verify_kind { V_DER, V_DER_SHA256, V_P1363 } verify_kind;

/* Uniform enough below n for picking a byte or a bit. */
static uint32_t rnd_below(uint32_t n)
{
    uint32_t x;
    aios__random_bytes((uint8_t *)&x, sizeof(x));
    return x % n;
}

static int verify_with(int backend, verify_kind kind, aios__ec_curve curve, const uint8_t *sig,
                       size_t siglen, const uint8_t *msg, size_t len, const uint8_t *pk,
                       size_t pklen)
{
    tu_assert_ok(aios__ecdsa_test_backend(backend));
    switch (kind) {
    case V_DER:
        return aios__ecdsa_verify_der(curve, sig, siglen, msg, len, pk, pklen);
    case V_DER_SHA256:
        return aios__ecdsa_verify_der_sha256(curve, sig, siglen, msg, len, pk, pklen);
    case V_P1363:
        return aios__ecdsa_verify_p1363(curve, sig, siglen, msg, len, pk, pklen);
    }
    return AIOS_E_INTERNAL;
}

/* One case on every backend: the same status from each, and the one
 * expected. */
static void agree(const char *what, int expect, verify_kind kind, aios__ec_curve curve,
                  const uint8_t *sig, size_t siglen, const uint8_t *msg, size_t len,
                  const uint8_t *pk, size_t pklen)
{
    int rc[N_BACKENDS];
    size_t b;
    for (b = 0; b < N_BACKENDS; b++) {
        rc[b] = verify_with(backends[b], kind, curve, sig, siglen, msg, len, pk, pklen);
        /* OpenSSL's refusals leave nothing in the thread's error queue
         * for a host to trip over. */
        if (aios__crypto_test_openssl_error_pending())
            fail_msg("curve %d, %s (form %d): %s left an OpenSSL error queued", (int)curve, what,
                     (int)kind, backend_names[b]);
    }
    tu_assert_ok(aios__ecdsa_test_backend(AIOS__ECDSA_BACKEND_AUTO));
    for (b = 0; b < N_BACKENDS; b++)
        if (rc[b] != expect)
            fail_msg("curve %d, %s (form %d): %s gives %d, expected %d (auto %d, mbedtls %d, "
                     "openssl %d)", (int)curve, what, (int)kind, backend_names[b], rc[b], expect,
                     rc[0], rc[1], rc[2]);
}

/* The test's own DER encoder: minimal INTEGERs of any n-byte values,
 * so also the P-521 r or s of 2^527 or more (a 67-byte INTEGER) that
 * aios__ecdsa_raw_to_der refuses and our DER parser still reads. */
#define SIG_BUF (AIOS__EC_DER_SIG_MAX + 2)

static size_t test_der_int(uint8_t *p, const uint8_t *v, size_t n)
{
    size_t skip = 0, pad, len;
    while (skip < n - 1 && v[skip] == 0)
        skip++;
    pad = (v[skip] & 0x80) ? 1 : 0;
    len = n - skip + pad;
    p[0] = 0x02;
    p[1] = (uint8_t)len;
    p[2] = 0;
    memcpy(p + 2 + pad, v + skip, n - skip);
    return len + 2;
}

/* r || s as DER, or as is for P1363. */
static size_t encode_sig(verify_kind kind, aios__ec_curve curve, const uint8_t *raw,
                         uint8_t out[SIG_BUF])
{
    uint8_t body[SIG_BUF];
    size_t n = aios__ec_scalar_len(curve), blen, pos = 0;
    if (kind == V_P1363) {
        memcpy(out, raw, 2 * n);
        return 2 * n;
    }
    blen = test_der_int(body, raw, n);
    blen += test_der_int(body + blen, raw + n, n);
    out[pos++] = 0x30;
    if (blen > 0x7f)
        out[pos++] = 0x81;
    out[pos++] = (uint8_t)blen;
    assert_true(pos + blen <= SIG_BUF);
    memcpy(out + pos, body, blen);
    return pos + blen;
}

/* raw with r (which 0) or s (which 1) replaced by v (n bytes). */
static void agree_scalar(const char *what, int expect, verify_kind kind, aios__ec_curve curve,
                         const uint8_t *raw, int which, const uint8_t *v, const uint8_t *msg,
                         size_t len, const uint8_t *pk)
{
    size_t n = aios__ec_scalar_len(curve), siglen;
    uint8_t r2[2 * AIOS__EC_SCALAR_MAX], sig[SIG_BUF];
    memcpy(r2, raw, 2 * n);
    memcpy(r2 + (size_t)which * n, v, n);
    siglen = encode_sig(kind, curve, r2, sig);
    agree(what, expect, kind, curve, sig, siglen, msg, len, pk, 2 * n + 1);
}

static void agree_curve(aios__ec_curve curve, verify_kind kind, int rounds)
{
    size_t n = aios__ec_scalar_len(curve), plen = aios__ec_point_len(curve), siglen, hlen;
    tc_bytes order = tc_hex(order_hex[curve]);
    uint8_t sk[AIOS__EC_SCALAR_MAX], pk[AIOS__EC_POINT_MAX], bad_pk[AIOS__EC_POINT_MAX];
    uint8_t der[AIOS__EC_DER_SIG_MAX], sig[SIG_BUF], raw[2 * AIOS__EC_SCALAR_MAX];
    uint8_t v[AIOS__EC_SCALAR_MAX], h[AIOS__EC_HASH_MAX], msg[48];
    int i, j;

    assert_int_equal(order.n, n);
    for (i = 0; i < rounds; i++) {
        aios__random_bytes(msg, sizeof(msg));
        tu_assert_ok(aios__ecdsa_keypair(curve, sk, pk));
        tu_assert_ok(aios__ecdsa_sign_der(curve, der, sizeof(der), &siglen, msg, sizeof(msg), sk));
        der_to_p1363(der, n, raw);
        siglen = encode_sig(kind, curve, raw, sig);
        if (kind != V_P1363) {
            /* The test's encoder writes what the library wrote. */
            size_t dl = 0;
            tu_assert_ok(aios__ecdsa_sign_der(curve, der, sizeof(der), &dl, msg, sizeof(msg),
                                              sk));
            assert_int_equal(dl, siglen);
            assert_memory_equal(der, sig, dl);
        }
        /* Signed with the curve's hash: the legacy SHA-256 form refuses
         * it, except on P-256 where that is the same hash. */
        agree("valid", kind == V_DER_SHA256 && curve != AIOS__EC_P256 ? AIOS_E_AUTH : AIOS_OK,
              kind, curve, sig, siglen, msg, sizeof(msg), pk, plen);
        /* One flipped bit anywhere in the message, r or s. */
        j = (int)rnd_below(sizeof(msg));
        msg[j] ^= 0x10;
        agree("message tampered", AIOS_E_AUTH, kind, curve, sig, siglen, msg, sizeof(msg), pk,
              plen);
        msg[j] ^= 0x10;
        for (j = 0; j < 2; j++) {
            uint8_t r2[2 * AIOS__EC_SCALAR_MAX];
            memcpy(r2, raw, 2 * n);
            r2[(size_t)j * n + rnd_below((uint32_t)n)] ^=
                (uint8_t)(1u << rnd_below(8));
            siglen = encode_sig(kind, curve, r2, sig);
            agree(j ? "s tampered" : "r tampered", AIOS_E_AUTH, kind, curve, sig, siglen, msg,
                  sizeof(msg), pk, plen);
        }
        /* r or s out of range: 0, n, n + 1, all ones; a random value. */
        for (j = 0; j < 2; j++) {
            memset(v, 0, n);
            agree_scalar("zero", AIOS_E_AUTH, kind, curve, raw, j, v, msg, sizeof(msg), pk);
            agree_scalar("n", AIOS_E_AUTH, kind, curve, raw, j, order.p, msg, sizeof(msg), pk);
            memcpy(v, order.p, n);
            v[n - 1] = (uint8_t)(v[n - 1] + 1);   /* n is odd: no carry */
            agree_scalar("n + 1", AIOS_E_AUTH, kind, curve, raw, j, v, msg, sizeof(msg), pk);
            memset(v, 0xff, n);
            agree_scalar("all ones", AIOS_E_AUTH, kind, curve, raw, j, v, msg, sizeof(msg), pk);
            aios__random_bytes(v, n);
            agree_scalar("random", AIOS_E_AUTH, kind, curve, raw, j, v, msg, sizeof(msg), pk);
        }
        /* Random bytes as the whole signature, and a truncated one. */
        aios__random_bytes(raw, 2 * n);
        siglen = encode_sig(kind, curve, raw, sig);
        agree("random signature", AIOS_E_AUTH, kind, curve, sig, siglen, msg, sizeof(msg), pk,
              plen);
        agree("truncated", AIOS_E_AUTH, kind, curve, sig, siglen - 1, msg, sizeof(msg), pk, plen);
        /* Bad keys are AIOS_E_FORMAT whatever the signature: off the
         * curve, the coordinates all ones (above p), the origin. */
        memcpy(bad_pk, pk, plen);
        bad_pk[plen - 1] ^= 1;
        agree("key off the curve", AIOS_E_FORMAT, kind, curve, sig, siglen, msg, sizeof(msg),
              bad_pk, plen);
        memset(bad_pk + 1, 0xff, plen - 1);
        agree("key coordinates above p", AIOS_E_FORMAT, kind, curve, sig, siglen, msg,
              sizeof(msg), bad_pk, plen);
        memset(bad_pk + 1, 0, plen - 1);
        agree("key (0, 0)", AIOS_E_FORMAT, kind, curve, sig, siglen, msg, sizeof(msg), bad_pk,
              plen);
        agree("bad key, truncated signature", AIOS_E_FORMAT, kind, curve, sig, siglen - 1, msg,
              sizeof(msg), bad_pk, plen);
        if (curve == AIOS__EC_P521) {
            /* P-521's p = 2^521 - 1: x + p (or y + p) fits the 66 bytes
             * and names the same point modulo p; it must be refused. */
            int c, k, coord;
            for (coord = 0; coord < 2; coord++) {
                uint8_t *x = bad_pk + 1 + (size_t)coord * n;
                memcpy(bad_pk, pk, plen);
                /* x += p = x + 2^521 - 1: add 2^521 (bit 1 of byte 0), subtract 1. */
                if (x[0] & 0x02)
                    continue;   /* cannot happen: x < p < 2^521 */
                x[0] |= 0x02;
                for (k = (int)n - 1, c = 1; k >= 0 && c; k--) {
                    c = x[k] == 0;
                    x[k] = (uint8_t)(x[k] - 1);
                }
                agree(coord ? "key y + p" : "key x + p", AIOS_E_FORMAT, kind, curve, sig, siglen,
                      msg, sizeof(msg), bad_pk, plen);
            }
        }
    }
    /* u1 G + u2 Q at infinity: with d = n - 1 (Q = -G), r = e mod n and
     * any s give u1 G + u2 Q = (e - r)/s G = O.  OpenSSL 3.0 answers that
     * with an error rather than a mismatch; the verdict is still a
     * refusal on every path.  (Not for the SHA-256 form: e differs.) */
    if (kind != V_DER_SHA256) {
        memcpy(sk, order.p, n);
        sk[n - 1] = (uint8_t)(sk[n - 1] - 1);
        tu_assert_ok(aios__ecdsa_public(curve, sk, pk));
        do {
            aios__random_bytes(msg, sizeof(msg));
            hlen = aios__ec_hash(curve, h, msg, sizeof(msg));
        } while (h[0] == 0xff);   /* e < n (for P-521, e < 2^512 < n always) */
        memset(raw, 0, 2 * n);
        memcpy(raw + n - hlen, h, hlen);
        memset(raw + n, 0, n);
        raw[2 * n - 1] = 1;
        siglen = encode_sig(kind, curve, raw, sig);
        agree("u1 G + u2 Q = O", AIOS_E_AUTH, kind, curve, sig, siglen, msg, sizeof(msg), pk, plen);
    }
    aios__wipe(sk, sizeof(sk));
    free(order.p);
}

/* aios__ecdsa_raw_to_der takes raw bytes from outside too (a PKCS#11
 * token's, a P1363 signature's): a P-521 r or s of 2^527 or more needs a
 * 67-byte INTEGER and does not fit AIOS__EC_DER_SIG_MAX; refused, and
 * nothing written past the buffer (ASan builds check). */
static void test_raw_to_der_bounds(void **state)
{
    uint8_t raw[2 * 66], der[AIOS__EC_DER_SIG_MAX];
    (void)state;
    /* top bytes 0x01 (2^520 and more, under 2^521): the longest that fit, 139 bytes */
    raw[0] = 0x01; raw[66] = 0x01;
    memset(raw + 1, 0xff, 65);
    memset(raw + 67, 0xff, 65);
    assert_int_equal(aios__ecdsa_raw_to_der(AIOS__EC_P521, der, raw), AIOS__EC_DER_SIG_MAX);
    raw[0] = 0x80;                                 /* r needs a pad: 140 bytes */
    assert_int_equal(aios__ecdsa_raw_to_der(AIOS__EC_P521, der, raw), 0);
    raw[66] = 0xff;                                /* both: 141 */
    assert_int_equal(aios__ecdsa_raw_to_der(AIOS__EC_P521, der, raw), 0);
    raw[0] = 0x01;                                 /* s alone */
    assert_int_equal(aios__ecdsa_raw_to_der(AIOS__EC_P521, der, raw), 0);
    memset(raw, 0xff, 96);                         /* P-384 all ones: 104 bytes, fits */
    assert_int_equal(aios__ecdsa_raw_to_der(AIOS__EC_P384, der, raw), 104);
    assert_int_equal(aios__ecdsa_raw_to_der((aios__ec_curve)9, der, raw), 0);
}

static void test_backends_agree(void **state)
{
    static const aios__ec_curve curves[] = { AIOS__EC_P256, AIOS__EC_P384, AIOS__EC_P521 };
    size_t c;
    (void)state;
    for (c = 0; c < 3; c++) {
        agree_curve(curves[c], V_DER, 8);
        agree_curve(curves[c], V_P1363, 4);
        if (curves[c] != AIOS__EC_P521)
            agree_curve(curves[c], V_DER_SHA256, 2);
    }
}

/* The legacy form (SHA-256 on P-384, docs/MANIFEST.md 4.6) verifies on
 * every backend: the hash shorter than the order is taken as is.  Made
 * with `openssl dgst -sha256 -sign` and a fresh P-384 key. */
static void test_sha256_on_p384(void **state)
{
    static const char msg[] = "model_signing 0.2.0 legacy DSSE";
    tc_bytes pk = tc_hex("04969fdeb5a0ce991dabfabb685faef2493a7a36e656f05930ec3be7d28f59dd661e1760"
                         "2be4172f8d73430ca60ff38f5a0d3a40a7a4f6f00892455b87b48b738f5b078bebfdcdfa"
                         "599a013aa9b5381cadb07b3e1bf0dd89aad091a7c16aea16fe");
    tc_bytes sig = tc_hex("3064023029afcb0290183d0f2e3890a31819c8b89e7901d5f034792412170efb04108d"
                          "b0f331e962bedda706982517b481d0e74e02305ef0e9a838573053d4b7613e45a23040"
                          "7c76fc9a2a441021ef1bb61f7861b0b3ccf5f2142ee1c6c5dd5d24a332981986");
    const uint8_t *m = (const uint8_t *)msg;
    (void)state;
    assert_int_equal(pk.n, 97);
    agree("legacy SHA-256 on P-384", AIOS_OK, V_DER_SHA256, AIOS__EC_P384, sig.p, sig.n, m,
          strlen(msg), pk.p, pk.n);
    /* Not with the curve's own hash, nor over another message. */
    agree("legacy signature, SHA-384", AIOS_E_AUTH, V_DER, AIOS__EC_P384, sig.p, sig.n, m,
          strlen(msg), pk.p, pk.n);
    agree("legacy signature, other message", AIOS_E_AUTH, V_DER_SHA256, AIOS__EC_P384, sig.p,
          sig.n, m, strlen(msg) - 1, pk.p, pk.n);
    free(pk.p);
    free(sig.p);
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
        cmocka_unit_test(test_raw_to_der_bounds),
        cmocka_unit_test_setup_teardown(test_backends_agree, auto_backend, auto_backend),
        cmocka_unit_test_setup_teardown(test_sha256_on_p384, auto_backend, auto_backend),
    };
    return cmocka_run_group_tests(tests, tc_setup, NULL);
}
