/* The versioned-options helper every module's _options struct relies on. */
#include <string.h>

#include "testutil.h"
#include "core/internal.h"

/* A struct as it grew over three versions. */
typedef struct opts_v1 { unsigned int version; uint32_t a; } opts_v1;
typedef struct opts_v2 { unsigned int version; uint32_t a; uint64_t b; } opts_v2;
typedef struct opts_v3 { unsigned int version; uint32_t a; uint64_t b; const char *c; } opts_v3;

static const size_t sizes[] = { sizeof(opts_v1), sizeof(opts_v2), sizeof(opts_v3) };

static void test_null_gives_current_version_zeroed(void **state)
{
    (void)state;
    opts_v3 o;
    memset(&o, 0xFF, sizeof(o));
    tu_assert_ok(aios__options_copy(&o, sizeof(o), NULL, sizes, 3, "opts"));
    assert_int_equal(o.version, 3);
    assert_int_equal(o.a, 0);
    assert_int_equal(o.b, 0);
    assert_null(o.c);
}

static void test_old_caller_gets_rest_zeroed(void **state)
{
    (void)state;
    /* A v1 caller's struct followed by bytes that are not its own. */
    struct { opts_v1 v1; uint8_t junk[64]; } caller;
    opts_v3 o;
    memset(&caller, 0xEE, sizeof(caller));
    caller.v1.version = 1;
    caller.v1.a = 42;
    tu_assert_ok(aios__options_copy(&o, sizeof(o), &caller.v1, sizes, 3, "opts"));
    assert_int_equal(o.version, 1);
    assert_int_equal(o.a, 42);
    assert_int_equal(o.b, 0);       /* never read past the v1 struct */
    assert_null(o.c);
}

static void test_current_caller_copied_whole(void **state)
{
    (void)state;
    opts_v3 in = { 3, 1, 2, "x" }, o;
    tu_assert_ok(aios__options_copy(&o, sizeof(o), &in, sizes, 3, "opts"));
    assert_int_equal(o.a, 1);
    assert_int_equal(o.b, 2);
    assert_string_equal(o.c, "x");
}

static void test_bad_versions(void **state)
{
    (void)state;
    opts_v3 in = { 0, 1, 2, NULL }, o;
    tu_assert_status(aios__options_copy(&o, sizeof(o), &in, sizes, 3, "aios_thing_options"),
                     AIOS_E_VERSION);
    assert_non_null(strstr(aios_last_error_message(), "aios_thing_options"));
    in.version = 4;     /* from a newer library than this one */
    tu_assert_status(aios__options_copy(&o, sizeof(o), &in, sizes, 3, "opts"), AIOS_E_VERSION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_gives_current_version_zeroed),
        cmocka_unit_test(test_old_caller_gets_rest_zeroed),
        cmocka_unit_test(test_current_caller_copied_whole),
        cmocka_unit_test(test_bad_versions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
