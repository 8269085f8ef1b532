/* Per-thread error details. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "core/internal.h"

static void test_message_after_failure(void **state)
{
    (void)state;
    aios_buffer *b = (aios_buffer *)0x1;
    aios_error_clear();
    assert_string_equal(aios_last_error_message(), "");
    assert_int_equal(aios_last_error_status(), AIOS_OK);

    assert_int_equal(aios_buffer_new(&b, 1, 0x80), AIOS_E_INVALID_ARGUMENT);
    assert_null(b);
    assert_int_equal(aios_last_error_status(), AIOS_E_INVALID_ARGUMENT);
    assert_non_null(strstr(aios_last_error_message(), "aios_buffer_new"));
    assert_non_null(strstr(aios_last_error_message(), "unknown flags"));

    /* Success leaves the record alone. */
    assert_int_equal(aios_buffer_new(&b, 1, 0), AIOS_OK);
    aios_buffer_free(b);
    assert_int_equal(aios_last_error_status(), AIOS_E_INVALID_ARGUMENT);

    aios_error_clear();
    assert_int_equal(aios_last_error_status(), AIOS_OK);
    assert_string_equal(aios_last_error_message(), "");
}

static void test_null_out(void **state)
{
    (void)state;
    assert_int_equal(aios_buffer_new(NULL, 1, 0), AIOS_E_INVALID_ARGUMENT);
    assert_non_null(strstr(aios_last_error_message(), "out is NULL"));
    assert_int_equal(aios_buffer_from_bytes(NULL, NULL, 0, 0), AIOS_E_INVALID_ARGUMENT);
}

static void test_long_message_is_cut_on_utf8_boundary(void **state)
{
    (void)state;
    char big[2000];
    size_t i, n;
    const char *m;
    /* "é" is two bytes; an odd prefix makes the cut land mid-character. */
    big[0] = 'x';
    for (i = 1; i + 2 < sizeof(big); i += 2) {
        big[i] = (char)0xC3;
        big[i + 1] = (char)0xA9;
    }
    big[i] = '\0';
    assert_int_equal(aios__fail(AIOS_E_FORMAT, "%s", big), AIOS_E_FORMAT);
    m = aios_last_error_message();
    n = strlen(m);
    assert_true(n < AIOS__ERROR_MESSAGE_MAX);
    assert_true(n > 100);
    assert_string_equal(m + n - 3, "...");
    assert_true(aios__utf8_valid((const uint8_t *)m, n));
}

static void test_prefix_and_errno(void **state)
{
    (void)state;
    aios__fail_errno(AIOS_E_IO, 2, "open %s", "/nonexistent");
    assert_string_equal(aios_last_error_message(), "open /nonexistent: No such file or directory");
    aios__error_prefix("keyring %s", "k.ring");
    assert_string_equal(aios_last_error_message(),
                        "keyring k.ring: open /nonexistent: No such file or directory");
    assert_int_equal(aios_last_error_status(), AIOS_E_IO);
}

static void test_error_set(void **state)
{
    (void)state;
    assert_int_equal(aios_error_set(AIOS_E_AUTH, "host said no [token 42]"), AIOS_E_AUTH);
    assert_int_equal(aios_last_error_status(), AIOS_E_AUTH);
    assert_string_equal(aios_last_error_message(), "host said no [token 42]");
    /* A non-negative status is a callback failure; NULL uses the text. */
    assert_int_equal(aios_error_set(0, NULL), AIOS_E_CALLBACK);
    assert_string_equal(aios_last_error_message(), "host callback failed");
    assert_int_equal(aios_error_set(7, "x"), AIOS_E_CALLBACK);
}

typedef struct thread_arg {
    int index;
    int ok;
} thread_arg;

static void *thread_main(void *p)
{
    thread_arg *a = p;
    char expect[64];
    a->ok = 1;
    for (int round = 0; round < 2000; round++) {
        snprintf(expect, sizeof(expect), "thread %d round %d", a->index, round);
        aios__fail(AIOS_E_NOT_FOUND - a->index % 2, "%s", expect);
        if (strcmp(aios_last_error_message(), expect) != 0 ||
            aios_last_error_status() != AIOS_E_NOT_FOUND - a->index % 2)
            a->ok = 0;
    }
    return NULL;
}

static void test_messages_are_per_thread(void **state)
{
    (void)state;
    pthread_t t[8];
    thread_arg args[8];
    aios__fail(AIOS_E_AUTH, "main thread");
    for (int i = 0; i < 8; i++) {
        args[i].index = i;
        assert_int_equal(pthread_create(&t[i], NULL, thread_main, &args[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_true(args[i].ok);
    }
    assert_string_equal(aios_last_error_message(), "main thread");
    assert_int_equal(aios_last_error_status(), AIOS_E_AUTH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_after_failure),
        cmocka_unit_test(test_null_out),
        cmocka_unit_test(test_long_message_is_cut_on_utf8_boundary),
        cmocka_unit_test(test_prefix_and_errno),
        cmocka_unit_test(test_error_set),
        cmocka_unit_test(test_messages_are_per_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
