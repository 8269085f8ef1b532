/*
 * AES-256-GCM when OpenSSL's configuration refuses the cipher: a
 * FIPS-only openssl.cnf (default_properties = fips=yes) on a system
 * without the FIPS provider, so EVP_CIPHER_fetch("AES-256-GCM") fails.
 * libaios must then stay on its other backends (our VAES kernel or
 * libsodium), say so in aios_build_info() (not "openssl"), refuse the
 * forced OpenSSL backend, and still seal and open every length with the
 * same bytes as libsodium.  OPENSSL_CONF is set before anything touches
 * OpenSSL, so this is its own program.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_crypto_util.h"
#include "crypto/gcm_ossl.h"

static void test_backend_reported(void **state)
{
    const char *backend = aios__aead_gcm_backend(), *info = aios_build_info();
    (void)state;
    printf("AES-256-GCM backend under a FIPS-only OpenSSL config: %s\n", backend);
    assert_int_equal(aios__gcm_ossl_ready(), 0);
    assert_string_not_equal(backend, "openssl");
    assert_null(strstr(info, "\"aes256gcm_backend\":\"openssl\""));
    /* What is left: our kernel, else libsodium's (x86-64 with AES-NI),
     * else nothing that seals (AArch64, where only OpenSSL's ran). */
    if (aios__crypto_cpu()->vaes)
        assert_string_equal(backend, "vaes");
    else if (aios__crypto_cpu()->aesni)
        assert_string_equal(backend, "libsodium");
    else
        assert_string_equal(backend, "mbedtls");
    assert_non_null(strstr(info, backend));
    tu_assert_status(aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_OPENSSL), AIOS_E_UNSUPPORTED);
}

static void test_still_seals_and_opens(void **state)
{
    static const size_t lens[] = { 0, 1, 64, 1535, 1536, 4096, 65536, 1048593 };
    uint8_t key[32], nonce[12], ad[13], tag[16], tag2[16];
    (void)state;
    if (!aios__aead_available(AIOS__AEAD_AES256GCM)) {
        /* AArch64 without OpenSSL's cipher (FORMAT.md section 4). */
        tc_assert_gcm_open_only("no hardware AES-256-GCM backend left");
        return;
    }
    aios__random_bytes(key, sizeof(key));
    aios__random_bytes(nonce, sizeof(nonce));
    aios__random_bytes(ad, sizeof(ad));
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        size_t n = lens[i];
        uint8_t *pt = malloc(n + 1), *ct = malloc(n + 1), *back = malloc(n + 1);
        aios__aead_key *k = NULL;
        assert_true(pt && ct && back);
        aios__random_bytes(pt, n);
        tu_assert_ok(aios__aead_key_new(&k, AIOS__AEAD_AES256GCM, key));
        tu_assert_ok(aios__aead_seal(k, ct, tag, pt, n, ad, sizeof(ad), nonce));
        tu_assert_ok(aios__aead_open(k, back, ct, n, tag, ad, sizeof(ad), nonce));
        assert_memory_equal(back, pt, n);
        /* The same bytes as libsodium's AES-GCM where it runs. */
        if (aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_LIBSODIUM) == AIOS_OK) {
            uint8_t *ct2 = malloc(n + 1);
            assert_non_null(ct2);
            tu_assert_ok(aios__aead_seal(k, ct2, tag2, pt, n, ad, sizeof(ad), nonce));
            assert_memory_equal(ct2, ct, n);
            assert_memory_equal(tag2, tag, sizeof(tag));
            free(ct2);
            tu_assert_ok(aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_AUTO));
        }
        tag[0] ^= 1;
        assert_int_equal(aios__aead_open(k, back, ct, n, tag, ad, sizeof(ad), nonce), AIOS_E_AUTH);
        aios__aead_key_free(k);
        free(pt);
        free(ct);
        free(back);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backend_reported),
        cmocka_unit_test(test_still_seals_and_opens),
    };
    return cmocka_run_group_tests(tests, tc_fips_only_setup, tc_fips_only_teardown);
}
