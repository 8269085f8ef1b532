/*
 * Ed25519 of the crypto seam: Wycheproof ed25519_test.json and RFC 8032
 * section 7.1 tests 1-3.
 */
#include "test_crypto_util.h"

static void ed_case(json_t *group, json_t *test, void *arg)
{
    tc_counts *c = arg;
    int result = tu_result(test), rc;
    json_t *key = json_object_get(group, "publicKey");
    tc_bytes pk = tc_member(key, "pk"), msg = tc_member(test, "msg"), sig = tc_member(test, "sig");

    tc_count(c, result);
    assert_int_equal(pk.n, AIOS__ED25519_PK_LEN);
    if (sig.n != AIOS__ED25519_SIG_LEN) {
        /* The seam takes exactly 64 bytes; a caller holding any other
         * length has a malformed signature by construction. */
        TC_CHECK(c, result == 0, test, "a valid signature that is not 64 bytes");
    } else {
        rc = aios__ed25519_verify(sig.p, msg.p, msg.n, pk.p);
        if (result == 1)
            TC_CHECK(c, rc == AIOS_OK, test, "valid signature rejected");
        else
            TC_CHECK(c, rc == AIOS_E_AUTH, test, "invalid signature accepted");
    }
    free(pk.p); free(msg.p); free(sig.p);
}

static void test_wycheproof_ed25519(void **state)
{
    tc_counts c;
    size_t total;
    json_t *root = tu_wycheproof("ed25519_test.json");
    (void)state;
    memset(&c, 0, sizeof(c));
    c.file = "ed25519_test.json";
    total = tu_wycheproof_each(root, ed_case, &c);
    assert_int_equal(total, c.valid + c.invalid + c.acceptable);
    tc_report(&c);
    assert_true(c.invalid > 0);
    json_decref(root);
}

static const struct { const char *seed, *pk, *msg, *sig; } rfc8032[] = {
    { "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
      "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b" },
    { "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
      "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
      "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00" },
    { "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
      "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
      "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a" },
};

static void test_rfc8032(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(rfc8032) / sizeof(rfc8032[0]); i++) {
        tc_bytes seed = tc_hex(rfc8032[i].seed), pk = tc_hex(rfc8032[i].pk),
                 msg = tc_hex(rfc8032[i].msg), sig = tc_hex(rfc8032[i].sig);
        uint8_t gpk[32], sk[64], gsig[64];
        tu_assert_ok(aios__ed25519_seed_keypair(gpk, sk, seed.p));
        assert_memory_equal(gpk, pk.p, 32);
        assert_memory_equal(sk, seed.p, 32);          /* seed || pk form */
        assert_memory_equal(sk + 32, pk.p, 32);
        tu_assert_ok(aios__ed25519_sign(gsig, msg.n ? msg.p : NULL, msg.n, sk));
        assert_memory_equal(gsig, sig.p, 64);
        tu_assert_ok(aios__ed25519_verify(sig.p, msg.n ? msg.p : NULL, msg.n, pk.p));
        gsig[0] ^= 0x40;
        assert_int_equal(aios__ed25519_verify(gsig, msg.p, msg.n, pk.p), AIOS_E_AUTH);
        free(seed.p); free(pk.p); free(msg.p); free(sig.p);
    }
}

static void test_keypair_round_trip(void **state)
{
    (void)state;
    uint8_t pk[32], sk[64], pk2[32], sk2[64], sig[64];
    static const uint8_t msg[] = "libaios";
    tu_assert_ok(aios__ed25519_keypair(pk, sk));
    tu_assert_ok(aios__ed25519_keypair(pk2, sk2));
    assert_memory_not_equal(pk, pk2, 32);
    tu_assert_ok(aios__ed25519_sign(sig, msg, sizeof(msg), sk));
    tu_assert_ok(aios__ed25519_verify(sig, msg, sizeof(msg), pk));
    assert_int_equal(aios__ed25519_verify(sig, msg, sizeof(msg), pk2), AIOS_E_AUTH);
    assert_int_equal(aios__ed25519_verify(sig, msg, sizeof(msg) - 1, pk), AIOS_E_AUTH);
    assert_int_equal(aios__ed25519_verify(sig, NULL, 5, pk), AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios__ed25519_sign(sig, msg, sizeof(msg), NULL), AIOS_E_INVALID_ARGUMENT);
}

static void test_small_order_key_rejected(void **state)
{
    (void)state;
    /* The identity point (y = 1) as a public key, with the all-zero R and
     * S = 0 that "verifies" under it for any message in lax verifiers. */
    uint8_t pk[32] = { 1 }, sig[64] = { 1 };
    assert_int_equal(aios__ed25519_verify(sig, (const uint8_t *)"x", 1, pk), AIOS_E_AUTH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wycheproof_ed25519),
        cmocka_unit_test(test_rfc8032),
        cmocka_unit_test(test_keypair_round_trip),
        cmocka_unit_test(test_small_order_key_rejected),
    };
    return cmocka_run_group_tests(tests, tc_setup, NULL);
}
