/* aios_buffer: plain and secure, empty, protection, wiping, limits. */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "core/internal.h"

static void test_new_is_zeroed(void **state)
{
    (void)state;
    for (uint32_t flags = 0; flags <= AIOS_BUFFER_SECURE; flags++) {
        aios_buffer *b = NULL;
        tu_assert_ok(aios_buffer_new(&b, 100, flags));
        assert_non_null(b);
        assert_int_equal(aios_buffer_len(b), 100);
        assert_int_equal(aios_buffer_flags(b), flags);
        for (size_t i = 0; i < 100; i++)
            assert_int_equal(aios_buffer_data(b)[i], 0);
        memset(aios_buffer_data_mut(b), 0xAB, 100);
        assert_int_equal(aios_buffer_data(b)[99], 0xAB);
        aios_buffer_free(b);
    }
}

static void test_nul_after_data(void **state)
{
    (void)state;
    for (uint32_t flags = 0; flags <= AIOS_BUFFER_SECURE; flags++) {
        aios_buffer *b = NULL;
        tu_assert_ok(aios_buffer_from_bytes(&b, (const uint8_t *)"PEM text", 8, flags));
        assert_int_equal(aios_buffer_data(b)[8], 0);
        assert_string_equal((const char *)aios_buffer_data(b), "PEM text");
        tu_assert_ok(aios__buffer_resize(b, 3));
        assert_string_equal((const char *)aios_buffer_data(b), "PEM");
        tu_assert_ok(aios__buffer_resize(b, 40));
        assert_int_equal(aios_buffer_data(b)[40], 0);
        aios_buffer_free(b);
    }
}

static void test_from_bytes_copies(void **state)
{
    (void)state;
    uint8_t src[33];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (uint8_t)i;
    for (uint32_t flags = 0; flags <= AIOS_BUFFER_SECURE; flags++) {
        aios_buffer *b = NULL;
        tu_assert_ok(aios_buffer_from_bytes(&b, src, sizeof(src), flags));
        assert_int_equal(aios_buffer_len(b), sizeof(src));
        assert_memory_equal(aios_buffer_data(b), src, sizeof(src));
        assert_ptr_not_equal(aios_buffer_data(b), src);
        aios_buffer_free(b);
    }
}

static void test_empty(void **state)
{
    (void)state;
    for (uint32_t flags = 0; flags <= AIOS_BUFFER_SECURE; flags++) {
        aios_buffer *b = NULL;
        tu_assert_ok(aios_buffer_new(&b, 0, flags));
        assert_int_equal(aios_buffer_len(b), 0);
        assert_non_null(aios_buffer_data(b));
        aios_buffer_free(b);
        tu_assert_ok(aios_buffer_from_bytes(&b, NULL, 0, flags));
        assert_int_equal(aios_buffer_len(b), 0);
        aios_buffer_free(b);
    }
}

static void test_bad_arguments(void **state)
{
    (void)state;
    aios_buffer *b = (aios_buffer *)0x1;
    tu_assert_status(aios_buffer_from_bytes(&b, NULL, 5, 0), AIOS_E_INVALID_ARGUMENT);
    assert_null(b);
    b = (aios_buffer *)0x1;
    tu_assert_status(aios_buffer_new(&b, 5, 0x2), AIOS_E_INVALID_ARGUMENT);
    assert_null(b);
    tu_assert_status(aios_buffer_new(&b, (size_t)AIOS_BUFFER_MAX_LEN + 1, 0), AIOS_E_LIMIT);
    assert_null(b);
    /* Getters and free accept NULL. */
    assert_null(aios_buffer_data(NULL));
    assert_null(aios_buffer_data_mut(NULL));
    assert_int_equal(aios_buffer_len(NULL), 0);
    assert_int_equal(aios_buffer_flags(NULL), 0);
    assert_int_equal(aios_buffer_protection(NULL), AIOS_PROTECT_READWRITE);
    assert_int_equal(aios_buffer_max_len(0), AIOS_BUFFER_MAX_LEN);
    assert_int_equal(aios_buffer_max_len(AIOS_BUFFER_SECURE), AIOS_BUFFER_SECURE_MAX_LEN);
    aios_buffer_free(NULL);
    tu_assert_status(aios_buffer_protect(NULL, AIOS_PROTECT_READONLY), AIOS_E_INVALID_ARGUMENT);
}

static void test_secure_limit(void **state)
{
    (void)state;
    aios_buffer *b = (aios_buffer *)0x1;
    /* Refused before any allocation: locked memory is for small secrets. */
    tu_assert_status(aios_buffer_new(&b, (size_t)AIOS_BUFFER_SECURE_MAX_LEN + 1, AIOS_BUFFER_SECURE),
                     AIOS_E_LIMIT);
    assert_null(b);
    assert_non_null(strstr(aios_last_error_message(), "secure"));
    tu_assert_ok(aios_buffer_new(&b, 1 << 20, AIOS_BUFFER_SECURE));
    tu_assert_status(aios__buffer_resize(b, (size_t)AIOS_BUFFER_SECURE_MAX_LEN + 1), AIOS_E_LIMIT);
    assert_int_equal(aios_buffer_len(b), 1 << 20);
    aios_buffer_free(b);
}

static void test_protect(void **state)
{
    (void)state;
    aios_buffer *b = NULL;
    tu_assert_ok(aios_buffer_new(&b, 16, 0));
    tu_assert_status(aios_buffer_protect(b, AIOS_PROTECT_READONLY), AIOS_E_UNSUPPORTED);
    aios_buffer_free(b);

    tu_assert_ok(aios_buffer_from_bytes(&b, (const uint8_t *)"secret", 6, AIOS_BUFFER_SECURE));
    assert_int_equal(aios_buffer_protection(b), AIOS_PROTECT_READWRITE);
    tu_assert_status(aios_buffer_protect(b, (aios_protection)7), AIOS_E_INVALID_ARGUMENT);
    assert_int_equal(aios_buffer_protection(b), AIOS_PROTECT_READWRITE);
    tu_assert_ok(aios_buffer_protect(b, AIOS_PROTECT_READONLY));
    assert_int_equal(aios_buffer_protection(b), AIOS_PROTECT_READONLY);
    assert_memory_equal(aios_buffer_data(b), "secret", 6);
    /* Growing needs write access. */
    tu_assert_status(aios__buffer_resize(b, 64), AIOS_E_STATE);
    tu_assert_ok(aios_buffer_protect(b, AIOS_PROTECT_NOACCESS));
    assert_int_equal(aios_buffer_protection(b), AIOS_PROTECT_NOACCESS);
    /* Freeing a NOACCESS buffer works: free restores access to wipe. */
    aios_buffer_free(b);
}

/* Touching a NOACCESS buffer must kill the process (guard pages work). */
static void test_noaccess_traps(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        aios_buffer *b = NULL;
        /* cmocka catches SIGSEGV to fail a test; the child must just die. */
        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        volatile uint8_t x;
        if (aios_buffer_new(&b, 8, AIOS_BUFFER_SECURE) != AIOS_OK)
            _exit(100);
        if (aios_buffer_protect(b, AIOS_PROTECT_NOACCESS) != AIOS_OK)
            _exit(101);
        x = aios_buffer_data(b)[0];
        (void)x;
        _exit(0);   /* reached only if the guard did not fire */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    /* Killed by SIGSEGV, or (under ASan) exited through its SEGV report. */
    assert_true(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0 &&
                                        WEXITSTATUS(status) < 100));
}

/* A read past the end of a secure buffer hits the guard page. */
static void test_overflow_traps(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        aios_buffer *b = NULL;
        /* cmocka catches SIGSEGV to fail a test; the child must just die. */
        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        volatile uint8_t x = 0;
        if (aios_buffer_new(&b, 32, AIOS_BUFFER_SECURE) != AIOS_OK)
            _exit(100);
        /* libsodium places the data right before the trailing guard page. */
        for (size_t i = 0; i < 8192; i++)
            x ^= aios_buffer_data(b)[i];
        (void)x;
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0 &&
                                        WEXITSTATUS(status) < 100));
}

static void test_resize(void **state)
{
    (void)state;
    for (uint32_t flags = 0; flags <= AIOS_BUFFER_SECURE; flags++) {
        aios_buffer *b = NULL;
        tu_assert_ok(aios_buffer_from_bytes(&b, (const uint8_t *)"abcdef", 6, flags));
        tu_assert_ok(aios__buffer_resize(b, 100));
        assert_int_equal(aios_buffer_len(b), 100);
        assert_memory_equal(aios_buffer_data(b), "abcdef", 6);
        assert_int_equal(aios_buffer_data(b)[99], 0);
        tu_assert_ok(aios__buffer_resize(b, 3));
        assert_int_equal(aios_buffer_len(b), 3);
        assert_memory_equal(aios_buffer_data(b), "abc", 3);
        tu_assert_status(aios__buffer_resize(b, (size_t)AIOS_BUFFER_MAX_LEN + 1), AIOS_E_LIMIT);
        assert_int_equal(aios_buffer_len(b), 3);
        aios_buffer_free(b);
    }
}

static void test_ct_equal_and_wipe(void **state)
{
    (void)state;
    uint8_t a[64], b[64];
    memset(a, 7, sizeof(a));
    memset(b, 7, sizeof(b));
    assert_int_equal(aios_ct_equal(a, b, sizeof(a)), 1);
    for (size_t i = 0; i < sizeof(a); i++) {
        b[i] ^= 0x01;
        assert_int_equal(aios_ct_equal(a, b, sizeof(a)), 0);
        b[i] ^= 0x01;
    }
    assert_int_equal(aios_ct_equal(a, b, 0), 1);
    assert_int_equal(aios_ct_equal(NULL, b, 0), 1);
    assert_int_equal(aios_ct_equal(NULL, b, 4), 0);
    aios_wipe(a, sizeof(a));
    for (size_t i = 0; i < sizeof(a); i++)
        assert_int_equal(a[i], 0);
    aios_wipe(NULL, 10);    /* no-op */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_is_zeroed),
        cmocka_unit_test(test_nul_after_data),
        cmocka_unit_test(test_from_bytes_copies),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_secure_limit),
        cmocka_unit_test(test_protect),
        cmocka_unit_test(test_noaccess_traps),
        cmocka_unit_test(test_overflow_traps),
        cmocka_unit_test(test_resize),
        cmocka_unit_test(test_ct_equal_and_wipe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
