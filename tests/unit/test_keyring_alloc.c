/*
 * Allocation failure at every site the keyring reaches through the host
 * allocator (its own and protobuf-c's): each call fails cleanly with
 * AIOS_E_NOMEM or succeeds, nothing leaks (ASan, valgrind), and what is
 * on disk afterwards always opens and agrees with what the calls said.
 */

#include "test_keyring_util.h"

/* The counting allocator is tests/util's (tu_alloc_*). */

/* Material for aios_keyring_import_version (kt_master is the other). */
static const uint8_t imported[32] = { 0x69, 0x6d, 0x70, 0x6f, 0x72, 0x74, 0x65, 0x64 };

static void check(int rc, const char *what)
{
    if (rc != AIOS_OK && rc != AIOS_E_NOMEM)
        fail_msg("%s: %s (%s)", what, aios_status_name(rc), aios_last_error_message());
}

/* One pass over the API with the n-th allocation failing; 1 once a pass
 * ran without any failure injected. */
static int pass(const char *path, const uint8_t *orig, size_t len, long n)
{
    aios_keyring_options o = kt_raw();
    aios_keyring *kr = NULL;
    aios_key *k = NULL;
    aios_buffer *b = NULL;
    int rc, done;

    kt_write(path, orig, len);
    tu_alloc_arm(n);
    rc = aios_keyring_open(&kr, path, &o);
    check(rc, "open");
    if (rc == AIOS_OK) {
        check(aios_keyring_add(kr, &k, "new", AIOS_KEY_ED25519, NULL), "add");
        aios_key_unref(k);
        k = NULL;
        check(aios_keyring_rotate(kr, &k, "k"), "rotate");
        aios_key_unref(k);
        k = NULL;
        check(aios_keyring_add_version(kr, NULL, "k"), "add_version");
        check(aios_keyring_import_version(kr, &k, "k", kt_master, sizeof(kt_master), 0),
              "import_version");
        aios_key_unref(k);
        k = NULL;
        check(aios_keyring_import_version(kr, NULL, "k", imported, sizeof(imported),
                                          AIOS_KEYRING_IMPORT_PENDING), "import_version pending");
        check(aios_keyring_set_state(kr, "k", 1, AIOS_KEY_DISABLED), "set_state");
        check(aios_keyring_destroy(kr, "k", 1), "destroy");
        check(aios_keyring_set_min_decrypt_version(kr, "k", 1), "set_min");
        check(aios_keyring_get(kr, &k, "k", 0), "get");
        aios_key_unref(k);
        check(aios_keyring_list_json(kr, &b), "list");
        aios_buffer_free(b);
        check(aios_keyring_reload(kr), "reload");
        aios_keyring_free(kr);
    }
    tu_alloc_arm(-1);
    done = !tu_alloc_injected();
    /* Whatever happened, the file opens, holds the original key, and its
     * listing parses. */
    kr = NULL;
    tu_assert_ok(aios_keyring_open(&kr, path, &o));
    assert_true(kt_primary(kr, "k") >= 1);
    {
        char *l = kt_list(kr);
        json_error_t err;
        json_t *j = json_loads(l, 0, &err);
        assert_non_null(j);
        json_decref(j);
        free(l);
    }
    aios_keyring_free(kr);
    return done;
}

static void test_every_allocation_fails_once(void **state)
{
    (void)state;
    char *dir = kt_tmpdir();
    const char *path = kt_path(dir, "alloc.aioskr", 0);
    aios_keyring_options o = kt_raw();
    aios_keyring *kr = NULL;
    uint8_t *orig;
    size_t len;
    long n;
    int step = tu_under_valgrind() ? 7 : 1;

    tu_assert_ok(aios_keyring_create(&kr, path, &o));
    tu_assert_ok(aios_keyring_add(kr, NULL, "k", AIOS_KEY_AES256, NULL));
    aios_keyring_free(kr);
    orig = kt_read(path, &len);
    for (n = 0; !pass(path, orig, len, n); n += step)
        ;
    print_message("%ld allocation sites failed in turn\n", n);
    assert_true(n > 50);
    free(orig);
    kt_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_allocation_fails_once),
    };
    if (tu_alloc_install() != AIOS_OK || aios_init() != AIOS_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
