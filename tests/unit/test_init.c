/* aios_init, versions, build info and the self-test. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

static void *init_thread(void *p)
{
    int *rc = p;
    *rc = aios_init();
    return NULL;
}

static void test_init_concurrent_and_idempotent(void **state)
{
    (void)state;
    pthread_t t[16];
    int rc[16];
    for (int i = 0; i < 16; i++)
        assert_int_equal(pthread_create(&t[i], NULL, init_thread, &rc[i]), 0);
    for (int i = 0; i < 16; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(rc[i], AIOS_OK);
    }
    tu_assert_ok(aios_init());
    tu_assert_ok(aios_init());
}

static void test_versions_agree(void **state)
{
    (void)state;
    char expect[32];
    assert_string_equal(aios_version_string(), AIOS_VERSION_STRING);
    assert_int_equal(aios_version_number(), AIOS_VERSION_NUMBER);
    snprintf(expect, sizeof(expect), "%d.%d.%d", AIOS_VERSION_MAJOR, AIOS_VERSION_MINOR,
             AIOS_VERSION_PATCH);
    assert_string_equal(aios_version_string(), expect);
    assert_int_equal(aios_version_number(),
                     ((uint32_t)AIOS_VERSION_MAJOR << 16) | (AIOS_VERSION_MINOR << 8) |
                     AIOS_VERSION_PATCH);
    assert_true(AIOS_VERSION_AT_LEAST(0, 0, 1));
    assert_true(AIOS_VERSION_AT_LEAST(AIOS_VERSION_MAJOR, AIOS_VERSION_MINOR, AIOS_VERSION_PATCH));
    assert_false(AIOS_VERSION_AT_LEAST(AIOS_VERSION_MAJOR, AIOS_VERSION_MINOR,
                                       AIOS_VERSION_PATCH + 1));
    assert_false(AIOS_VERSION_AT_LEAST(AIOS_VERSION_MAJOR + 1, 0, 0));
    assert_int_equal(AIOS_ABI_VERSION, 1);
    assert_int_equal(aios_abi_version(), AIOS_ABI_VERSION);
}

static void test_build_info_is_json(void **state)
{
    (void)state;
    json_error_t err;
    const char *info = aios_build_info();
    json_t *root = json_loads(info, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        fail_msg("build info is not JSON: %s: %s", err.text, info);
    assert_string_equal(json_string_value(json_object_get(root, "version")), AIOS_VERSION_STRING);
    assert_int_equal(json_integer_value(json_object_get(root, "abi")), 1);
    json_t *deps = json_object_get(root, "dependencies");
    assert_string_equal(json_string_value(json_object_get(deps, "libsodium")), "1.0.18");
    assert_true(strncmp(json_string_value(json_object_get(deps, "mbedtls")), "2.28", 4) == 0);
    assert_non_null(json_string_value(json_object_get(deps, "protobuf-c")));
    json_t *cpu = json_object_get(root, "cpu");
    assert_true(json_is_boolean(json_object_get(cpu, "aesni")));
    assert_true(json_is_boolean(json_object_get(cpu, "sha_ni")));
    const char *aead = json_string_value(json_object_get(json_object_get(root, "uses"), "bulk_aead"));
    assert_non_null(aead);
    {
        /* "uses" holds tokens only (bindings map it to string maps);
         * numbers go to "tuning". */
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(root, "uses"), k, v)
            assert_true(json_is_string(v));
        assert_true(json_is_integer(json_object_get(json_object_get(root, "tuning"),
                                                    "aes256gcm_openssl_min")));
    }
    /* The bulk AEAD follows the CPU: AES-GCM exactly when it has AES
     * instructions (x86 AES-NI with PCLMUL, or Arm's AES), else XChaCha. */
    if ((json_is_true(json_object_get(cpu, "aesni")) && json_is_true(json_object_get(cpu, "pclmul"))) ||
        json_is_true(json_object_get(cpu, "arm_aes")))
        assert_string_equal(aead, "aes256gcm");
    else
        assert_string_equal(aead, "xchacha20poly1305");
    /* Same pointer every time: static text. */
    assert_ptr_equal(aios_build_info(), info);
    json_decref(root);
}

typedef struct seen {
    int count;
    int failures;
    char names[64][32];
} seen;

static int record(const char *name, int status, void *payload)
{
    seen *s = payload;
    assert_non_null(name);
    if (status != AIOS_OK)
        s->failures++;
    if (s->count < 64)
        snprintf(s->names[s->count], sizeof(s->names[0]), "%s", name);
    s->count++;
    return AIOS_OK;
}

/* Stops the run after `stop_after` results with the status in `with`. */
typedef struct stopper {
    int calls, stop_after, with;
} stopper;

static int stop_early(const char *name, int status, void *payload)
{
    stopper *st = payload;
    (void)name;
    (void)status;
    return ++st->calls == st->stop_after ? st->with : AIOS_OK;
}

static int saw(const seen *s, const char *name)
{
    for (int i = 0; i < s->count && i < 64; i++)
        if (strcmp(s->names[i], name) == 0)
            return 1;
    return 0;
}

static void test_selftest(void **state)
{
    (void)state;
    seen s;
    memset(&s, 0, sizeof(s));
    tu_assert_ok(aios_selftest(record, &s));
    assert_int_equal(s.failures, 0);
    /* Every family the library links is covered. */
    assert_true(s.count >= 10);
    assert_true(saw(&s, "sha256"));
    assert_true(saw(&s, "hkdf-sha256"));
    assert_true(saw(&s, "aead-xchacha20poly1305"));
    assert_true(saw(&s, "ed25519"));
    assert_true(saw(&s, "x25519"));
    assert_true(saw(&s, "ecdsa-p256"));
    assert_true(saw(&s, "proto-keyref"));
    /* A NULL callback is fine. */
    tu_assert_ok(aios_selftest(NULL, NULL));
}

static void test_selftest_callback_stops_the_run(void **state)
{
    (void)state;
    stopper st = { 0, 3, AIOS_E_CANCELLED };
    tu_assert_status(aios_selftest(stop_early, &st), AIOS_E_CANCELLED);
    assert_int_equal(st.calls, 3);
    assert_non_null(strstr(aios_last_error_message(), "stopped"));

    stopper cbfail = { 0, 1, AIOS_E_CALLBACK };
    tu_assert_status(aios_selftest(stop_early, &cbfail), AIOS_E_CALLBACK);
    assert_int_equal(cbfail.calls, 1);

    stopper positive = { 0, 2, 7 };    /* any positive value means cancel */
    tu_assert_status(aios_selftest(stop_early, &positive), AIOS_E_CANCELLED);
    assert_int_equal(positive.calls, 2);

    /* The last test (the wire encoding) can stop it too. */
    seen s;
    memset(&s, 0, sizeof(s));
    tu_assert_ok(aios_selftest(record, &s));
    stopper last = { 0, s.count, AIOS_E_CANCELLED };
    tu_assert_status(aios_selftest(stop_early, &last), AIOS_E_CANCELLED);
    assert_int_equal(last.calls, s.count);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_concurrent_and_idempotent),
        cmocka_unit_test(test_versions_agree),
        cmocka_unit_test(test_build_info_is_json),
        cmocka_unit_test(test_selftest),
        cmocka_unit_test(test_selftest_callback_stops_the_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
