/*
 * aios__crypto_selftest: every known-answer test runs, reports through the
 * callback under its stable name, passes, and leaves the caller's error
 * record alone.
 */
#include <pthread.h>

#include "test_crypto_util.h"
#include "core/internal.h"

#define MAX_SEEN 64

typedef struct seen {
    size_t      n;
    const char *name[MAX_SEEN];
    int         status[MAX_SEEN];
} seen;

static int record(const char *name, int status, void *payload)
{
    seen *s = payload;
    assert_true(s->n < MAX_SEEN);
    s->name[s->n] = name;
    s->status[s->n] = status;
    s->n++;
    return AIOS_OK;
}

static int count_of(const seen *s, const char *name)
{
    size_t i;
    int c = 0;
    for (i = 0; i < s->n; i++)
        if (strcmp(s->name[i], name) == 0)
            c++;
    return c;
}

static const char *const fast_names[] = {
    "sha256", "sha384", "sha512", "hmac-sha256", "hkdf-sha256",
    "aead-chacha20poly1305", "aead-xchacha20poly1305",
};
static const char *const full_names[] = {
    "hmac-sha512", "blake2b", "argon2id", "ed25519", "x25519", "ecdsa-p256", "ecdsa-p384",
    "base64", "hex", "aes-kw", "aes-kwp", "aes-siv", "hpke-x25519",
};
#define N(a) (sizeof(a) / sizeof((a)[0]))

static void check_names(const seen *s, int full)
{
    size_t i, expected = N(fast_names) + (full ? N(full_names) : 0);
    int gcm = aios__aead_available(AIOS__AEAD_AES256GCM);
    for (i = 0; i < N(fast_names); i++)
        assert_int_equal(count_of(s, fast_names[i]), 1);
    for (i = 0; i < N(full_names); i++)
        assert_int_equal(count_of(s, full_names[i]), full ? 1 : 0);
    assert_int_equal(count_of(s, "aead-aes256gcm"), gcm ? 1 : 0);
    assert_int_equal(s->n, expected + (gcm ? 1 : 0));
    for (i = 0; i < s->n; i++) {
        if (s->status[i] != AIOS_OK)
            fail_msg("self-test %s reported %s", s->name[i], aios_status_name(s->status[i]));
    }
}

static void test_full(void **state)
{
    seen s;
    size_t i;
    (void)state;
    memset(&s, 0, sizeof(s));
    tu_assert_ok(aios__crypto_selftest(1, record, &s));
    check_names(&s, 1);
    for (i = 0; i < s.n; i++)
        printf("  %-24s %s\n", s.name[i], aios_status_name(s.status[i]));
}

static void test_fast(void **state)
{
    seen s;
    (void)state;
    memset(&s, 0, sizeof(s));
    tu_assert_ok(aios__crypto_selftest(0, record, &s));
    check_names(&s, 0);
}

static void test_null_callback(void **state)
{
    (void)state;
    tu_assert_ok(aios__crypto_selftest(1, NULL, NULL));
    tu_assert_ok(aios__crypto_selftest(0, NULL, NULL));
}

static void test_error_record_untouched(void **state)
{
    (void)state;
    /* The self-tests provoke and check failures internally; a pass must not
     * leave any of them in the caller's record. */
    aios_error_clear();
    tu_assert_ok(aios__crypto_selftest(1, NULL, NULL));
    assert_int_equal(aios_last_error_status(), AIOS_OK);
    assert_string_equal(aios_last_error_message(), "");

    (void)aios__fail(AIOS_E_NOT_FOUND, "an earlier failure: %s", "keyring.db");
    tu_assert_ok(aios__crypto_selftest(1, NULL, NULL));
    assert_int_equal(aios_last_error_status(), AIOS_E_NOT_FOUND);
    assert_string_equal(aios_last_error_message(), "an earlier failure: keyring.db");
    aios_error_clear();
}

static void *thread_main(void *arg)
{
    int *rc = arg;
    seen s;
    int i;
    for (i = 0; i < 3 && *rc == AIOS_OK; i++) {
        memset(&s, 0, sizeof(s));
        *rc = aios__crypto_selftest(1, record, &s);
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    pthread_t t[4];
    int rc[4] = { 0 };
    size_t i;
    (void)state;
    for (i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, thread_main, &rc[i]), 0);
    for (i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(rc[i], AIOS_OK);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_fast),
        cmocka_unit_test(test_null_callback),
        cmocka_unit_test(test_error_record_untouched),
        cmocka_unit_test(test_concurrent),
    };
    return cmocka_run_group_tests(tests, tc_setup, NULL);
}
