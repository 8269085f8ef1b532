/*
 * The small-secret slab (aios__secret_alloc) and the fast per-thread
 * CSPRNG behind aios__random_bytes (lib/crypto/secure.c): slots aligned,
 * distinct, wiped when freed and reused; many threads at once; the
 * generator's output never repeats across threads, across draws, or
 * between a parent and its forked child; the test override still wins.
 */
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_crypto_util.h"

static void test_slab_slots(void **state)
{
    static const size_t sizes[] = { 1, 33, 64, 65, 200, 256, 257, 1000, 1024 };
    void *p[9][50];
    size_t i, j, slabs, slots, slots0, slabs0;
    (void)state;
    aios__secret_stats(&slabs0, &slots0);
    for (i = 0; i < 9; i++) {
        for (j = 0; j < 50; j++) {
            p[i][j] = aios__secret_alloc(sizes[i]);
            assert_non_null(p[i][j]);
            assert_int_equal((uintptr_t)p[i][j] % 64, 0);
            memset(p[i][j], (int)(i * 50 + j), sizes[i]);
        }
    }
    /* nothing overlaps: every slot still holds its own pattern */
    for (i = 0; i < 9; i++)
        for (j = 0; j < 50; j++) {
            uint8_t *b = p[i][j];
            size_t k;
            for (k = 0; k < sizes[i]; k++)
                assert_int_equal(b[k], (uint8_t)(i * 50 + j));
        }
    aios__secret_stats(&slabs, &slots);
    assert_int_equal(slots - slots0, 9 * 50);
    for (i = 0; i < 9; i++)
        for (j = 0; j < 50; j++)
            aios__secret_free(p[i][j], sizes[i]);
    aios__secret_stats(&slabs, &slots);
    assert_int_equal(slots, slots0);
    /* a freed slot comes back wiped */
    {
        uint8_t *a = aios__secret_alloc(48), *b;
        memset(a, 0xee, 48);
        aios__secret_free(a, 48);
        b = aios__secret_alloc(48);
        assert_ptr_equal(a, b);
        for (i = 0; i < 64; i++)
            assert_int_equal(b[i], 0);
        aios__secret_free(b, 48);
    }
    /* over the largest class: guarded memory, still freed by length */
    {
        void *big = aios__secret_alloc(5000);
        assert_non_null(big);
        aios__secret_free(big, 5000);
        aios__secret_free(NULL, 10);
    }
}

static void *slab_thread(void *arg)
{
    int k;
    (void)arg;
    for (k = 0; k < 20000; k++) {
        uint8_t *a = aios__secret_alloc(32), *b = aios__secret_alloc(600);
        if (a == NULL || b == NULL)
            return (void *)1;
        memset(a, 1, 32);
        memset(b, 2, 600);
        if (a[31] != 1 || b[599] != 2)
            return (void *)1;
        aios__secret_free(a, 32);
        aios__secret_free(b, 600);
    }
    return NULL;
}

static void test_slab_threads(void **state)
{
    pthread_t t[4];
    void *ret;
    int i;
    (void)state;
    for (i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, slab_thread, NULL), 0);
    for (i = 0; i < 4; i++) {
        pthread_join(t[i], &ret);
        assert_null(ret);
    }
}

/* ------------------------------------------------------------ random */

#define DRAWS 4096

static int cmp16(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

static void *draw_thread(void *arg)
{
    uint8_t *out = arg;
    int k;
    for (k = 0; k < DRAWS; k++)
        aios__random_bytes(out + 16 * (size_t)k, 16);
    return NULL;
}

static void test_random_distinct(void **state)
{
    static uint8_t all[4 * DRAWS * 16];
    pthread_t t[4];
    size_t i, ones = 0;
    (void)state;
    for (i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, draw_thread, all + i * DRAWS * 16), 0);
    for (i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    for (i = 0; i < sizeof(all); i++)
        ones += (size_t)__builtin_popcount(all[i]);
    /* about half the bits set (a broken generator of zeros or copies fails) */
    assert_true(ones > sizeof(all) * 4 - sizeof(all) / 8 && ones < sizeof(all) * 4 + sizeof(all) / 8);
    qsort(all, 4 * DRAWS, 16, cmp16);
    for (i = 1; i < 4 * DRAWS; i++)
        assert_true(memcmp(all + 16 * (i - 1), all + 16 * i, 16) != 0);
    /* sizes across the buffer boundary and above it */
    {
        uint8_t a[300], b[300];
        aios__random_bytes(a, 255);
        aios__random_bytes(b, 255);
        assert_true(memcmp(a, b, 255) != 0);
        aios__random_bytes(a, 300);
        aios__random_bytes(b, 300);
        assert_true(memcmp(a, b, 300) != 0);
        aios__random_bytes(a, 0);
    }
}

static void test_random_fork(void **state)
{
    uint8_t parent[32], child[32];
    int fds[2], status;
    pid_t pid;
    (void)state;
    aios__random_bytes(parent, 8);     /* the state exists before fork */
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        aios__random_bytes(child, sizeof(child));
        _exit(write(fds[1], child, sizeof(child)) == (ssize_t)sizeof(child) ? 0 : 1);
    }
    aios__random_bytes(parent, sizeof(parent));
    assert_int_equal(read(fds[0], child, sizeof(child)), (ssize_t)sizeof(child));
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(memcmp(parent, child, sizeof(child)) != 0);
    close(fds[0]);
    close(fds[1]);
}

/* A later thread-exit destructor (a host's) that draws random bytes after
 * the generator's own state was freed must not touch the freed slot. */
static pthread_key_t late_key;
static int late_damage = -1;

static void late_destructor(void *arg)
{
    uint8_t *secret = aios__secret_alloc(300), r[16];
    size_t i, changed = 0;
    (void)arg;
    if (secret == NULL)
        return;
    memset(secret, 0xaa, 300);
    aios__random_bytes(r, sizeof(r));
    aios__random_bytes(r, sizeof(r));
    for (i = 0; i < 300; i++)
        changed += secret[i] != 0xaa;
    late_damage = (int)changed;
    aios__secret_free(secret, 300);
}

static void *late_thread(void *arg)
{
    uint8_t r[16];
    (void)arg;
    aios__random_bytes(r, sizeof(r));            /* this thread's state exists */
    pthread_setspecific(late_key, (void *)1);
    return NULL;
}

static void test_random_after_thread_exit(void **state)
{
    uint8_t r[8];
    pthread_t t;
    (void)state;
    aios__random_bytes(r, sizeof(r));            /* the generator's key comes first */
    assert_int_equal(pthread_key_create(&late_key, late_destructor), 0);
    assert_int_equal(pthread_create(&t, NULL, late_thread, NULL), 0);
    pthread_join(t, NULL);
    assert_int_equal(late_damage, 0);
    pthread_key_delete(late_key);
}

static void fixed(uint8_t *out, size_t len)
{
    memset(out, 0x5a, len);
}

static void test_random_override(void **state)
{
    uint8_t a[16];
    (void)state;
    aios__random_set_for_testing(fixed);
    aios__random_bytes(a, sizeof(a));
    aios__random_set_for_testing(NULL);
    assert_int_equal(a[0], 0x5a);
    assert_int_equal(a[15], 0x5a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slab_slots),
        cmocka_unit_test(test_slab_threads),
        cmocka_unit_test(test_random_distinct),
        cmocka_unit_test(test_random_fork),
        cmocka_unit_test(test_random_after_thread_exit),
        cmocka_unit_test(test_random_override),
    };
    tu_assert_ok(aios_init());
    return cmocka_run_group_tests(tests, NULL, NULL);
}
