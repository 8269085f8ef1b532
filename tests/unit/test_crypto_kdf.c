/*
 * KDFs of the crypto seam: Wycheproof and RFC 5869 HKDF-SHA-256 (on the
 * SHA-256 kernel chosen for this CPU and again on the portable one), and
 * Argon2id known answers from libsodium's own test suite.
 */
#include "test_crypto_util.h"
#include "crypto/sha256.h"

static void hkdf_case(json_t *group, json_t *test, void *arg)
{
    tc_counts *c = arg;
    int result = tu_result(test), rc;
    size_t size = (size_t)tc_int(test, "size");
    tc_bytes ikm = tc_member(test, "ikm"), salt = tc_member(test, "salt"),
             info = tc_member(test, "info"), okm = tc_member(test, "okm");
    uint8_t *out = malloc(size + 1), prk[32];
    (void)group;

    assert_non_null(out);
    tc_count(c, result);
    rc = aios__hkdf_sha256(out, size, salt.p, salt.n, ikm.p, ikm.n, info.p, info.n);
    if (result == 1) {
        TC_CHECK(c, rc == AIOS_OK && okm.n == size && memcmp(out, okm.p, size) == 0, test,
                 "OKM mismatch");
        /* extract + expand is the same thing. */
        aios__hkdf_sha256_extract(prk, salt.p, salt.n, ikm.p, ikm.n);
        rc = aios__hkdf_sha256_expand(out, size, prk, info.p, info.n);
        TC_CHECK(c, rc == AIOS_OK && memcmp(out, okm.p, size) == 0, test,
                 "extract/expand mismatch");
    } else {
        TC_CHECK(c, rc == AIOS_E_INVALID_ARGUMENT, test, "invalid size accepted");
    }
    free(out);
    free(ikm.p); free(salt.p); free(info.p); free(okm.p);
}

static void test_wycheproof_hkdf(void **state)
{
    tc_counts c;
    size_t total;
    json_t *root = tu_wycheproof("hkdf_sha256_test.json");
    (void)state;
    memset(&c, 0, sizeof(c));
    c.file = "hkdf_sha256_test.json";
    total = tu_wycheproof_each(root, hkdf_case, &c);
    assert_int_equal(total, c.valid + c.invalid + c.acceptable);
    tc_report(&c);
    assert_true(c.invalid > 0);
    json_decref(root);
}

static void test_hkdf_rfc5869(void **state)
{
    (void)state;
    uint8_t ikm[80], salt[80], info[80], prk[32], okm[82];
    size_t i;
    /* A.1 */
    tc_bytes prk1 = tc_hex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
    tc_bytes okm1 = tc_hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                           "34007208d5b887185865");
    /* A.2: 80-byte inputs, 82-byte output (three blocks). */
    tc_bytes prk2 = tc_hex("06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244");
    tc_bytes okm2 = tc_hex("b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
                           "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
                           "cc30c58179ec3e87c14c01d5c1f3434f1d87");
    /* A.3: no salt, no info. */
    tc_bytes prk3 = tc_hex("19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04");
    tc_bytes okm3 = tc_hex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
                           "9d201395faa4b61a96c8");

    memset(ikm, 0x0b, 22);
    for (i = 0; i < 13; i++) salt[i] = (uint8_t)i;
    for (i = 0; i < 10; i++) info[i] = (uint8_t)(0xf0 + i);
    aios__hkdf_sha256_extract(prk, salt, 13, ikm, 22);
    assert_memory_equal(prk, prk1.p, 32);
    tu_assert_ok(aios__hkdf_sha256(okm, 42, salt, 13, ikm, 22, info, 10));
    assert_memory_equal(okm, okm1.p, 42);

    for (i = 0; i < 80; i++) {
        ikm[i] = (uint8_t)i;
        salt[i] = (uint8_t)(0x60 + i);
        info[i] = (uint8_t)(0xb0 + i);
    }
    aios__hkdf_sha256_extract(prk, salt, 80, ikm, 80);
    assert_memory_equal(prk, prk2.p, 32);
    tu_assert_ok(aios__hkdf_sha256_expand(okm, 82, prk, info, 80));
    assert_memory_equal(okm, okm2.p, 82);

    memset(ikm, 0x0b, 22);
    aios__hkdf_sha256_extract(prk, NULL, 0, ikm, 22);
    assert_memory_equal(prk, prk3.p, 32);
    tu_assert_ok(aios__hkdf_sha256(okm, 42, NULL, 0, ikm, 22, NULL, 0));
    assert_memory_equal(okm, okm3.p, 42);

    /* Limits: 255 blocks is the most, 0 bytes is fine. */
    {
        uint8_t *big = malloc(255 * 32 + 1);
        assert_non_null(big);
        tu_assert_ok(aios__hkdf_sha256(big, 255 * 32, NULL, 0, ikm, 22, NULL, 0));
        assert_int_equal(aios__hkdf_sha256(big, 255 * 32 + 1, NULL, 0, ikm, 22, NULL, 0),
                         AIOS_E_INVALID_ARGUMENT);
        assert_int_equal(aios__hkdf_sha256_expand(big, 255 * 32 + 1, prk, NULL, 0),
                         AIOS_E_INVALID_ARGUMENT);
        free(big);
    }
    tu_assert_ok(aios__hkdf_sha256(okm, 0, NULL, 0, ikm, 22, NULL, 0));
    assert_int_equal(aios__hkdf_sha256(okm, 10, NULL, 5, ikm, 22, NULL, 0),
                     AIOS_E_INVALID_ARGUMENT);

    free(prk1.p); free(okm1.p); free(prk2.p); free(okm2.p); free(prk3.p); free(okm3.p);
}

/* libsodium test/default/pwhash_argon2id.c, tv() vectors 4 and 6, with
 * their outputs from pwhash_argon2id.exp (the salt is the first 16 bytes
 * of the hex given there; memory is in bytes and libsodium uses whole
 * KiB).  OpenSSL 3's independent Argon2id gives the same answers. */
typedef struct argon2_vec {
    const char *pass, *salt, *out;
    uint64_t    ops;
    size_t      mem;
} argon2_vec;

static const argon2_vec argon2_vecs[] = {
    { "4a857e2ee8aa9b6056f2424e84d24a72473378906ee04a46cb05311502d5250b82"
      "ad86b83c8f20a23dbb74f6da60b0b6ecffd67134d45946ac8ebfb3064294bc097d"
      "43ced68642bfb8bbbdd0f50b30118f5e",
      "39d82eef32010b8b79cc5ba88ed539fb",
      "08d8cd330c57e1b4643241d05bb468ba4ee4e932cd0858816be9ef15360b27bbd06a87130ee92222be26"
      "7a29b81f5ae8fe8613324cfc4832dc49387fd0602f1c57b4d0f3855db94fb7e12eb05f9a484aed4a4307"
      "abf586cd3d55c809bc081541e00b682772fb2066504ff935b8ebc551a2083882f874bc0fae68e56848ae"
      "34c91097c3bf0cca8e75c0797eef3efde3f75e005815018db3cf7c109a812264c4de69dcb22322dbbcfa"
      "447f5b00ecd1b04a7be1569c8e556adb7bba48adf81d",
      3, 1432947 },
    { "b540beb016a5366524d4605156493f9874514a5aa58818cd0c6dfffaa9e90205f17b",
      "44071f6d181561670bda728d43fb79b4",
      "7fb72409b0987f8190c3729710e98c3f80c5a8727d425fdcde7f3644d467fe973f5b5fee683bd3fce812"
      "cb9ae5e9921a2d06c2f1905e4e839692f2b934b682f11a2fe2b90482ea5dd234863516dba6f52dc0702d"
      "324ec77d860c2e181f84472bd7104fedce071ffa93c5309494ad51623d214447a7b2b1462dc7d5d55a1f"
      "6fd5b54ce024118d86f0c6489d16545aaa87b6689dad9f2fb47fda9894f8e12b87d978b483ccd4cc5fd9"
      "595cdc7a818452f915ce2f7df95ec12b1c72e3788d473441d884f9748eb14703c21b45d82fd667b85f5b"
      "2d98c13303b3fe76285531a826b6fc0fe8e3dddecf",
      1, 1631659 },
};

/* Wycheproof and RFC 5869 again on libsodium's portable SHA-256 kernel
 * (the tests above ran on the accelerated one where the CPU has it). */
static void test_hkdf_portable_kernel(void **state)
{
    aios__sha256_test_force_portable(1);
    assert_string_equal(aios__sha256_kernel(), "libsodium");
    test_wycheproof_hkdf(state);
    test_hkdf_rfc5869(state);
    aios__sha256_test_force_portable(0);
}

static int reset_sha256_kernel(void **state)
{
    (void)state;
    aios__sha256_test_force_portable(0);
    return 0;
}

static void test_argon2id_known_answers(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(argon2_vecs) / sizeof(argon2_vecs[0]); i++) {
        tc_bytes pass = tc_hex(argon2_vecs[i].pass), salt = tc_hex(argon2_vecs[i].salt),
                 exp = tc_hex(argon2_vecs[i].out);
        uint8_t *out = malloc(exp.n);
        assert_non_null(out);
        assert_int_equal(salt.n, AIOS__ARGON2_SALT_LEN);
        tu_assert_ok(aios__argon2id(out, exp.n, pass.p, pass.n, salt.p, argon2_vecs[i].ops,
                                    argon2_vecs[i].mem));
        assert_memory_equal(out, exp.p, exp.n);
        free(out); free(pass.p); free(salt.p); free(exp.p);
    }
}

static void test_argon2id_small(void **state)
{
    (void)state;
    /* Password "password", salt 00..0f, t=2, m=64 KiB, p=1, 32 bytes: the
     * answer of OpenSSL 3's Argon2id (cryptography.hazmat Argon2id), an
     * implementation independent of libsodium that reproduces RFC 9106
     * section 5.3. */
    uint8_t salt[16], out[32];
    size_t i;
    tc_bytes exp = tc_hex("716882821df77bc6414358b07159fb63ca1c90beaeb9d0ca0e43bd887dcf2ca9");
    for (i = 0; i < 16; i++) salt[i] = (uint8_t)i;
    tu_assert_ok(aios__argon2id(out, 32, (const uint8_t *)"password", 8, salt, 2, 64 * 1024));
    assert_memory_equal(out, exp.p, 32);
    free(exp.p);
}

static void test_argon2id_arguments(void **state)
{
    (void)state;
    uint8_t salt[16] = { 0 }, out[64];
    memset(out, 0x11, sizeof(out));
    assert_int_equal(aios__argon2id(out, 15, (const uint8_t *)"pw", 2, salt, 1, 8192),
                     AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__argon2id(out, 32, (const uint8_t *)"pw", 2, salt, 0, 8192),
                     AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__argon2id(out, 32, (const uint8_t *)"pw", 2, salt, 1, 8191),
                     AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__argon2id(out, 32, (const uint8_t *)"pw", 2, salt, (uint64_t)1 << 33,
                                    8192), AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__argon2id(out, 32, NULL, 2, salt, 1, 8192), AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__argon2id(out, 32, (const uint8_t *)"pw", 2, NULL, 1, 8192),
                     AIOS_E_INVALID_ARGUMENT);
    /* The smallest legal parameters and an empty password work. */
    tu_assert_ok(aios__argon2id(out, 16, NULL, 0, salt, 1, 8192));
    assert_false(tc_is_zero(out, 16));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wycheproof_hkdf),
        cmocka_unit_test(test_hkdf_rfc5869),
        cmocka_unit_test_teardown(test_hkdf_portable_kernel, reset_sha256_kernel),
        cmocka_unit_test(test_argon2id_known_answers),
        cmocka_unit_test(test_argon2id_small),
        cmocka_unit_test(test_argon2id_arguments),
    };
    return cmocka_run_group_tests(tests, tc_setup, NULL);
}
