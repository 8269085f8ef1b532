/*
 * X25519 of the crypto seam: Wycheproof x25519_test.json (valid cases
 * must match; cases whose shared secret is zero must be refused; other
 * "acceptable" cases must not crash, and must match when accepted),
 * RFC 7748 sections 5.2 and 6.1.
 */
#include "test_crypto_util.h"

typedef struct x_walk {
    tc_counts c;
    size_t zero_refused, acceptable_ok, acceptable_refused;
} x_walk;

static void x_case(json_t *group, json_t *test, void *arg)
{
    x_walk *w = arg;
    int result = tu_result(test), rc;
    tc_bytes priv = tc_member(test, "private"), pub = tc_member(test, "public"),
             shared = tc_member(test, "shared");
    uint8_t out[AIOS__X25519_LEN];
    (void)group;

    tc_count(&w->c, result);
    assert_int_equal(priv.n, 32);
    assert_int_equal(pub.n, 32);
    assert_int_equal(shared.n, 32);
    memset(out, 0xcc, sizeof(out));
    rc = aios__x25519(out, priv.p, pub.p);
    if (tc_is_zero(shared.p, 32)) {
        TC_CHECK(&w->c, rc == AIOS_E_AUTH, test, "all-zero shared secret not refused");
        TC_CHECK(&w->c, tc_is_zero(out, 32), test, "refused output not wiped");
        w->zero_refused++;
    } else if (result == 1) {
        TC_CHECK(&w->c, rc == AIOS_OK && memcmp(out, shared.p, 32) == 0, test,
                 "valid shared secret mismatch");
    } else if (result == -1) {
        if (rc == AIOS_OK) {
            TC_CHECK(&w->c, memcmp(out, shared.p, 32) == 0, test,
                     "accepted case gave a different secret");
            w->acceptable_ok++;
        } else {
            TC_CHECK(&w->c, rc == AIOS_E_AUTH && tc_is_zero(out, 32), test,
                     "refused case gave an unexpected status");
            w->acceptable_refused++;
        }
    } else {
        TC_CHECK(&w->c, rc != AIOS_OK, test, "invalid case accepted");
    }
    free(priv.p); free(pub.p); free(shared.p);
}

static void test_wycheproof_x25519(void **state)
{
    x_walk w;
    size_t total;
    json_t *root = tu_wycheproof("x25519_test.json");
    (void)state;
    memset(&w, 0, sizeof(w));
    w.c.file = "x25519_test.json";
    total = tu_wycheproof_each(root, x_case, &w);
    assert_int_equal(total, w.c.valid + w.c.invalid + w.c.acceptable);
    tc_report(&w.c);
    printf("x25519_test.json: %zu zero-secret cases refused; other acceptable: %zu accepted "
           "(matching), %zu refused\n", w.zero_refused, w.acceptable_ok, w.acceptable_refused);
    assert_true(w.zero_refused > 0);
    json_decref(root);
}

static void test_rfc7748(void **state)
{
    (void)state;
    tc_bytes a = tc_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    tc_bytes ap = tc_hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    tc_bytes b = tc_hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    tc_bytes bp = tc_hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    tc_bytes k = tc_hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    tc_bytes it1 = tc_hex("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079");
    tc_bytes it1000 = tc_hex("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
    uint8_t out[32], kk[32], u[32], t[32];
    int i;

    tu_assert_ok(aios__x25519_public(out, a.p));
    assert_memory_equal(out, ap.p, 32);
    tu_assert_ok(aios__x25519_public(out, b.p));
    assert_memory_equal(out, bp.p, 32);
    tu_assert_ok(aios__x25519(out, a.p, bp.p));
    assert_memory_equal(out, k.p, 32);
    tu_assert_ok(aios__x25519(out, b.p, ap.p));
    assert_memory_equal(out, k.p, 32);

    /* Section 5.2: k = u = 9, then k, u = X25519(k, u), k. */
    memset(kk, 0, 32);
    kk[0] = 9;
    memcpy(u, kk, 32);
    for (i = 1; i <= 1000; i++) {
        tu_assert_ok(aios__x25519(t, kk, u));
        memcpy(u, kk, 32);
        memcpy(kk, t, 32);
        if (i == 1)
            assert_memory_equal(kk, it1.p, 32);
    }
    assert_memory_equal(kk, it1000.p, 32);
    free(a.p); free(ap.p); free(b.p); free(bp.p); free(k.p); free(it1.p); free(it1000.p);
}

static void test_keypair_agreement(void **state)
{
    (void)state;
    uint8_t apk[32], ask[32], bpk[32], bsk[32], k1[32], k2[32], pk[32], zero[32] = { 0 };
    tu_assert_ok(aios__x25519_keypair(apk, ask));
    tu_assert_ok(aios__x25519_keypair(bpk, bsk));
    tu_assert_ok(aios__x25519_public(pk, ask));
    assert_memory_equal(pk, apk, 32);
    tu_assert_ok(aios__x25519(k1, ask, bpk));
    tu_assert_ok(aios__x25519(k2, bsk, apk));
    assert_memory_equal(k1, k2, 32);
    assert_false(tc_is_zero(k1, 32));
    /* The zero point and the point of order 2 are refused with a message. */
    assert_int_equal(aios__x25519(k1, ask, zero), AIOS_E_AUTH);
    assert_non_null(strstr(aios_last_error_message(), "small order"));
    zero[0] = 1;
    assert_int_equal(aios__x25519(k1, ask, zero), AIOS_E_AUTH);
    assert_true(tc_is_zero(k1, 32));
    assert_int_equal(aios__x25519(NULL, ask, bpk), AIOS_E_INVALID_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wycheproof_x25519),
        cmocka_unit_test(test_rfc7748),
        cmocka_unit_test(test_keypair_agreement),
    };
    return cmocka_run_group_tests(tests, tc_setup, NULL);
}
