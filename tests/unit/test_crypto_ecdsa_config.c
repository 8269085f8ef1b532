/*
 * ECDSA verification when OpenSSL's configuration refuses ECDSA: a
 * FIPS-only openssl.cnf (default_properties = fips=yes) on a system
 * without the FIPS provider, so the EC key manager and the ECDSA
 * signature cannot be fetched.  libaios must then verify on mbedTLS,
 * say so in aios_build_info(), refuse the forced OpenSSL backend, and
 * still give every Wycheproof verdict.  OPENSSL_CONF is set before
 * anything touches OpenSSL, so this is its own program (as
 * test_crypto_gcm_config).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_crypto_util.h"

static void test_backend_reported(void **state)
{
    const char *info = aios_build_info();
    (void)state;
    printf("ECDSA verification under a FIPS-only OpenSSL config: %s\n",
           aios__ecdsa_verify_backend());
    assert_string_equal(aios__ecdsa_verify_backend(), "mbedtls");
    assert_non_null(strstr(info, "\"ecdsa_verify\":\"mbedtls\""));
    tu_assert_status(aios__ecdsa_test_backend(AIOS__ECDSA_BACKEND_OPENSSL), AIOS_E_UNSUPPORTED);
    assert_int_equal(aios__crypto_test_openssl_error_pending(), 0);
}

/* The automatic backend, which is mbedTLS here. */
static void test_wycheproof_on_mbedtls(void **state)
{
    static const struct { const char *file; aios__ec_curve curve; } files[] = {
        { "ecdsa_secp256r1_sha256_test.json", AIOS__EC_P256 },
        { "ecdsa_secp384r1_sha384_test.json", AIOS__EC_P384 },
    };
    (void)state;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        json_t *root = tu_wycheproof(files[i].file);
        tc_ecdsa_wycheproof(root, files[i].file, files[i].curve, 0);
        json_decref(root);
    }
    assert_int_equal(aios__crypto_test_openssl_error_pending(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backend_reported),
        cmocka_unit_test(test_wycheproof_on_mbedtls),
    };
    return cmocka_run_group_tests(tests, tc_fips_only_setup, tc_fips_only_teardown);
}
