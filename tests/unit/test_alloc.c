/* Allocator hooks, and allocation-failure injection at every site. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "core/internal.h"
#include "proto/proto.h"

/* A counting allocator that fails the Nth allocation from now on. */
static atomic_long n_alloc, n_free, fail_countdown = -1;
static atomic_int injected;
static int payload_marker;

static int should_fail(void)
{
    long left = atomic_load(&fail_countdown);
    if (left < 0)
        return 0;
    if (left == 0) {
        atomic_store(&injected, 1);
        return 1;
    }
    atomic_fetch_sub(&fail_countdown, 1);
    return 0;
}

static void *t_malloc(size_t size, void *payload)
{
    assert_ptr_equal(payload, &payload_marker);
    if (should_fail())
        return NULL;
    atomic_fetch_add(&n_alloc, 1);
    return malloc(size);
}

static void t_free(void *ptr, void *payload)
{
    assert_ptr_equal(payload, &payload_marker);
    assert_non_null(ptr);           /* the library never frees NULL */
    atomic_fetch_add(&n_free, 1);
    free(ptr);
}

static void test_set_after_init_is_refused(void **state)
{
    (void)state;
    aios_allocator a = { sizeof(a), t_malloc, t_free, &payload_marker };
    tu_assert_status(aios_set_allocator(&a), AIOS_E_STATE);
    tu_assert_status(aios_set_allocator(NULL), AIOS_E_STATE);
    assert_non_null(strstr(aios_last_error_message(), "before aios_init"));
}

static void test_library_uses_host_allocator(void **state)
{
    (void)state;
    long before = atomic_load(&n_alloc);
    aios_buffer *b = NULL;
    aios__keyref ref;
    static const uint8_t enc[] = { 0x0a, 0x01, 'x', 0x12, 0x01, 'y', 0x18, 0x01 };

    tu_assert_ok(aios_buffer_new(&b, 10, 0));
    assert_true(atomic_load(&n_alloc) >= before + 2);     /* handle + bytes */
    aios_buffer_free(b);
    before = atomic_load(&n_alloc);
    tu_assert_ok(aios__keyref_decode_pbc(&ref, enc, sizeof(enc)));  /* protobuf-c too */
    assert_true(atomic_load(&n_alloc) > before);
    before = atomic_load(&n_alloc);
    tu_assert_ok(aios__keyref_decode(&ref, enc, sizeof(enc)));  /* the library's walk: none */
    assert_int_equal(atomic_load(&n_alloc), before);
    assert_int_equal(atomic_load(&n_alloc), atomic_load(&n_free));
}

/* Run op with the k-th allocation failing, for k = 0, 1, ... until op gets
 * through without reaching the failure.  Each run must fail with
 * AIOS_E_NOMEM (or succeed) and leave nothing allocated. */
typedef int (*op_fn)(void);

static void inject_everywhere(op_fn op, const char *what)
{
    for (long k = 0; k < 1000; k++) {
        long a0 = atomic_load(&n_alloc), f0 = atomic_load(&n_free);
        atomic_store(&injected, 0);
        atomic_store(&fail_countdown, k);
        int rc = op();
        int reached = atomic_load(&injected);
        atomic_store(&fail_countdown, -1);
        if (atomic_load(&n_alloc) - a0 != atomic_load(&n_free) - f0)
            fail_msg("%s: leak with allocation %ld failing", what, k);
        if (!reached) {
            if (rc != AIOS_OK)
                fail_msg("%s: failed (%s) without an allocation failure", what, aios_status_name(rc));
            assert_true(k > 0);     /* the op allocates at least once */
            return;
        }
        if (rc != AIOS_E_NOMEM)
            fail_msg("%s: allocation %ld failing gave %s, not AIOS_E_NOMEM", what, k,
                     aios_status_name(rc));
        assert_true(strlen(aios_last_error_message()) > 0);
    }
    fail_msg("%s: did not finish", what);
}

static int op_buffer_new(void)
{
    aios_buffer *b = NULL;
    int rc = aios_buffer_new(&b, 64, 0);
    if (rc == AIOS_OK) {
        assert_non_null(b);
        aios_buffer_free(b);
    } else {
        assert_null(b);
    }
    return rc;
}

static int op_buffer_from_bytes_secure(void)
{
    aios_buffer *b = NULL;
    int rc = aios_buffer_from_bytes(&b, (const uint8_t *)"key", 3, AIOS_BUFFER_SECURE);
    aios_buffer_free(b);
    return rc;
}

static int op_buffer_resize(void)
{
    aios_buffer *b = NULL;
    int rc;
    atomic_long saved = atomic_load(&fail_countdown);
    atomic_store(&fail_countdown, -1);
    rc = aios_buffer_from_bytes(&b, (const uint8_t *)"abc", 3, 0);
    atomic_store(&fail_countdown, saved);
    assert_int_equal(rc, AIOS_OK);
    rc = aios__buffer_resize(b, 4096);
    /* On failure the buffer keeps its old contents. */
    if (rc != AIOS_OK)
        assert_memory_equal(aios_buffer_data(b), "abc", 3);
    aios_buffer_free(b);
    return rc;
}

static int op_keyref_roundtrip(void)
{
    aios__keyref ref, back;
    aios_buffer *enc = NULL;
    int rc;
    memset(&ref, 0, sizeof(ref));
    strcpy(ref.provider, "pkcs11");
    strcpy(ref.key_id, "model-signing-key");
    ref.version = 3;
    rc = aios__keyref_encode(&enc, &ref);
    if (rc != AIOS_OK)
        return rc;
    rc = aios__keyref_decode(&back, aios_buffer_data(enc), aios_buffer_len(enc));
    aios_buffer_free(enc);
    if (rc == AIOS_OK)
        assert_int_equal(back.version, 3);
    return rc;
}

static void test_failure_injection(void **state)
{
    (void)state;
    inject_everywhere(op_buffer_new, "aios_buffer_new");
    inject_everywhere(op_buffer_from_bytes_secure, "aios_buffer_from_bytes(secure)");
    inject_everywhere(op_buffer_resize, "aios__buffer_resize");
    inject_everywhere(op_keyref_roundtrip, "key reference encode/decode");
}

int main(void)
{
    /* Validation happens before init, like any real host would call it. */
    aios_allocator bad = { sizeof(bad), t_malloc, NULL, &payload_marker };
    if (aios_set_allocator(&bad) != AIOS_E_INVALID_ARGUMENT)
        return 1;
    bad.free_fn = t_free;
    bad.size = 2;
    if (aios_set_allocator(&bad) != AIOS_E_VERSION)
        return 1;
    if (aios_set_allocator(NULL) != AIOS_OK)
        return 1;

    /* The version functions do not initialise, so they work before. */
    if (aios_abi_version() != 1 || aios_version_number() != AIOS_VERSION_NUMBER)
        return 1;
    aios_allocator a = { sizeof(a), t_malloc, t_free, &payload_marker };
    if (aios_set_allocator(&a) != AIOS_OK || aios_init() != AIOS_OK)
        return 1;

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_after_init_is_refused),
        cmocka_unit_test(test_library_uses_host_allocator),
        cmocka_unit_test(test_failure_injection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
