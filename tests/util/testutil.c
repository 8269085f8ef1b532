#include "testutil.h"

#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

uint8_t *tu_hex(const char *hex, size_t *len)
{
    size_t n = strlen(hex), i;
    uint8_t *out;
    assert_true(n % 2 == 0);
    out = malloc(n / 2 + 1);
    assert_non_null(out);
    for (i = 0; i < n / 2; i++) {
        int hi = hexval((unsigned char)hex[2 * i]);
        int lo = hexval((unsigned char)hex[2 * i + 1]);
        assert_true(hi >= 0 && lo >= 0);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *len = n / 2;
    return out;
}

char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (!f)
        fail_msg("cannot open %s", path);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n >= 0);
    assert_int_equal(fseek(f, 0, SEEK_SET), 0);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

json_t *tu_wycheproof(const char *file)
{
    char path[4096];
    json_error_t err;
    json_t *root;
    snprintf(path, sizeof(path), "%s/wycheproof/%s", AIOS_TEST_VECTORS, file);
    root = json_load_file(path, 0, &err);
    if (!root)
        fail_msg("cannot load %s: %s (line %d)", path, err.text, err.line);
    return root;
}

int tu_under_valgrind(void)
{
    const char *v = getenv("AIOS_TEST_UNDER_VALGRIND");
    return v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
}

size_t tu_wycheproof_each(json_t *root, tu_wycheproof_fn fn, void *arg)
{
    json_t *groups = json_object_get(root, "testGroups");
    size_t gi, ti, count = 0, seen = 0;
    /* Under valgrind (50x slower) the point is memory errors on every code
     * path, not every vector: run each group's first case and every 4th
     * one.  The plain and sanitizer runs cover all of them. */
    size_t stride = tu_under_valgrind() ? 4 : 1;
    json_t *group, *test;
    assert_true(json_is_array(groups));
    json_array_foreach(groups, gi, group) {
        json_t *tests = json_object_get(group, "tests");
        assert_true(json_is_array(tests));
        json_array_foreach(tests, ti, test) {
            if (ti != 0 && seen++ % stride != 0)
                continue;
            fn(group, test, arg);
            count++;
        }
    }
    return count;
}

const char *tu_str(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        fail_msg("member %s missing or not a string", key);
    return json_string_value(v);
}

uint8_t *tu_hexmember(json_t *obj, const char *key, size_t *len)
{
    return tu_hex(tu_str(obj, key), len);
}

int tu_result(json_t *test)
{
    const char *r = tu_str(test, "result");
    if (strcmp(r, "valid") == 0) return 1;
    if (strcmp(r, "invalid") == 0) return 0;
    if (strcmp(r, "acceptable") == 0) return -1;
    fail_msg("unknown result %s", r);
    return 0;
}

/* ------------------------------------------- allocation-failure injection */

static atomic_long tu_n_alloc, tu_n_free, tu_countdown = -1;
static atomic_int tu_injected;

static void *tu_malloc(size_t size, void *payload)
{
    long left = atomic_load(&tu_countdown);
    (void)payload;
    if (left == 0) {
        atomic_store(&tu_injected, 1);
        return NULL;
    }
    if (left > 0)
        atomic_fetch_sub(&tu_countdown, 1);
    atomic_fetch_add(&tu_n_alloc, 1);
    return malloc(size);
}

static void tu_free(void *ptr, void *payload)
{
    (void)payload;
    atomic_fetch_add(&tu_n_free, 1);
    free(ptr);
}

int tu_alloc_install(void)
{
    aios_allocator a = { sizeof(a), tu_malloc, tu_free, NULL };
    return aios_set_allocator(&a);
}

void tu_alloc_arm(long k)
{
    /* Arming forgets the last injection; disarming keeps it readable. */
    if (k >= 0)
        atomic_store(&tu_injected, 0);
    atomic_store(&tu_countdown, k);
}

int tu_alloc_injected(void)
{
    return atomic_load(&tu_injected);
}

long tu_alloc_outstanding(void)
{
    return atomic_load(&tu_n_alloc) - atomic_load(&tu_n_free);
}

long tu_inject_everywhere(int (*op)(void), const char *what)
{
    for (long k = 0; k < 2000; k++) {
        long before = tu_alloc_outstanding();
        tu_alloc_arm(k);
        int rc = op();
        tu_alloc_arm(-1);
        for (int i = 0; i < 2000 && tu_alloc_outstanding() != before; i++) {
            struct timespec ts = { 0, 1000000 };
            nanosleep(&ts, NULL);
        }
        if (tu_alloc_outstanding() != before)
            fail_msg("%s: allocation %ld failing leaked %ld allocations", what, k,
                     tu_alloc_outstanding() - before);
        if (!tu_alloc_injected()) {
            tu_assert_ok(rc);
            assert_true(k > 0);         /* it did allocate, and every site was failed */
            return k;
        }
        if (rc != AIOS_E_NOMEM)
            fail_msg("%s: allocation %ld failing gave %s (%s), not AIOS_E_NOMEM", what, k,
                     aios_status_name(rc), aios_last_error_message());
    }
    fail_msg("%s: never got through", what);
    return 0;
}
