/*
 * Concurrency: four threads take handles and wrap and unwrap while another
 * rotates (with generated or imported material), disables, re-enables and
 * destroys older versions.  Every result must be one the states allow,
 * every successful unwrap must give back the data key, and a destroyed
 * version must stay destroyed.  CI runs this under ThreadSanitizer too.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "test_keyring_util.h"

#define WORKERS 4

typedef struct shared {
    aios_keyring *kr;
    atomic_int    stop;
    atomic_long   ok_wrap, ok_unwrap, refused, by_version, listings;
    atomic_long   old_ok, old_disabled, old_destroyed;
} shared;

/* What a worker wrapped a while ago, with the handle it used. */
typedef struct kept {
    aios_key    *k;
    aios_buffer *w;
    uint8_t      dk[32];
} kept;

#define KEPT 8

static void check_allowed(int rc, const char *what, int allow_decrypt_only)
{
    if (rc == AIOS_OK || rc == AIOS_E_KEY_DISABLED || rc == AIOS_E_KEY_DESTROYED ||
        (allow_decrypt_only && rc == AIOS_E_KEY_DECRYPT_ONLY))
        return;
    fail_msg("%s: %s (%s)", what, aios_status_name(rc), aios_last_error_message());
}

/* Unwrap something wrapped a while ago: its version may since have been
 * demoted, disabled or destroyed, and the handle must say so. */
static void unwrap_old(shared *s, const kept *o)
{
    aios_buffer *back = NULL;
    int rc = aios_key_unwrap(o->k, &back, aios_buffer_data(o->w), aios_buffer_len(o->w),
                             (const uint8_t *)"ctx", 3);
    check_allowed(rc, "unwrap of an old wrap", 0);
    if (rc == AIOS_OK) {
        assert_memory_equal(aios_buffer_data(back), o->dk, sizeof(o->dk));
        atomic_fetch_add(&s->old_ok, 1);
    } else if (rc == AIOS_E_KEY_DISABLED) {
        atomic_fetch_add(&s->old_disabled, 1);
    } else {
        assert_int_equal(aios_key_get_state(o->k), AIOS_KEY_DESTROYED);
        /* destroy sets the state and wipes under the version's write
         * lock: once the read lock is ours, the wipe is finished. */
        pthread_rwlock_rdlock(&o->k->ver->lock);
        assert_null(o->k->ver->material);
        pthread_rwlock_unlock(&o->k->ver->lock);
        atomic_fetch_add(&s->old_destroyed, 1);
    }
    aios_buffer_free(back);
    /* Wrapping with it: only while it is still the active primary. */
    back = NULL;
    rc = aios_key_wrap(o->k, &back, o->dk, sizeof(o->dk), NULL, 0);
    check_allowed(rc, "wrap with an old handle", 1);
    if (rc != AIOS_OK)
        atomic_fetch_add(&s->refused, 1);
    aios_buffer_free(back);
}

static void *worker(void *arg)
{
    shared *s = arg;
    unsigned n = 0;
    kept ring[KEPT], longer;
    memset(ring, 0, sizeof(ring));
    memset(&longer, 0, sizeof(longer));
    while (!atomic_load(&s->stop)) {
        aios_key *k = NULL, *same = NULL;
        aios_buffer *w = NULL, *back = NULL;
        uint8_t dk[32];
        int rc;

        memset(dk, (int)(n++ & 0xff), sizeof(dk));
        tu_assert_ok(aios_keyring_get(s->kr, &k, "k", 0));
        /* The primary of a moment ago may have been rotated, disabled or
         * destroyed since. */
        rc = aios_key_wrap(k, &w, dk, sizeof(dk), (const uint8_t *)"ctx", 3);
        check_allowed(rc, "wrap", 1);
        if (rc != AIOS_OK) {
            atomic_fetch_add(&s->refused, 1);
            aios_key_unref(k);
            continue;
        }
        atomic_fetch_add(&s->ok_wrap, 1);
        rc = aios_key_unwrap(k, &back, aios_buffer_data(w), aios_buffer_len(w),
                             (const uint8_t *)"ctx", 3);
        check_allowed(rc, "unwrap", 0);
        if (rc == AIOS_OK) {
            assert_int_equal(aios_buffer_len(back), sizeof(dk));
            assert_memory_equal(aios_buffer_data(back), dk, sizeof(dk));
            atomic_fetch_add(&s->ok_unwrap, 1);
        }
        aios_buffer_free(back);
        back = NULL;
        /* The same version by number: the same key, whatever its state. */
        tu_assert_ok(aios_keyring_get(s->kr, &same, "k", aios_key_version(k)));
        rc = aios_key_unwrap(same, &back, aios_buffer_data(w), aios_buffer_len(w),
                             (const uint8_t *)"ctx", 3);
        check_allowed(rc, "unwrap by version", 0);
        if (rc == AIOS_OK) {
            assert_memory_equal(aios_buffer_data(back), dk, sizeof(dk));
            atomic_fetch_add(&s->by_version, 1);
        }
        /* Both handles share one record: once destroyed, for good. */
        if (aios_key_get_state(k) == AIOS_KEY_DESTROYED)
            assert_int_equal(aios_key_get_state(same), AIOS_KEY_DESTROYED);
        if ((n & 31) == 0) {
            aios_buffer *list = NULL;
            tu_assert_ok(aios_keyring_list_json(s->kr, &list));
            aios_buffer_free(list);
            atomic_fetch_add(&s->listings, 1);
        }
        aios_buffer_free(back);
        aios_key_unref(same);
        /* Keep this one for later; try one kept earlier. */
        {
            kept *slot = &ring[n % KEPT];
            aios_key_unref(slot->k);
            aios_buffer_free(slot->w);
            slot->k = k;
            slot->w = w;
            memcpy(slot->dk, dk, sizeof(dk));
            slot = &ring[(n * 5) % KEPT];
            if (slot->k)
                unwrap_old(s, slot);
        }
        /* And one kept for hundreds of rounds, across several rotations. */
        if (n % 512 == 1) {
            aios_key_unref(longer.k);
            aios_buffer_free(longer.w);
            longer = ring[n % KEPT];
            longer.k = aios_key_ref(longer.k);
            tu_assert_ok(aios_buffer_from_bytes(&longer.w, aios_buffer_data(ring[n % KEPT].w),
                                                aios_buffer_len(ring[n % KEPT].w), 0));
        }
        if (longer.k)
            unwrap_old(s, &longer);
    }
    aios_key_unref(longer.k);
    aios_buffer_free(longer.w);
    for (int i = 0; i < KEPT; i++) {
        aios_key_unref(ring[i].k);
        aios_buffer_free(ring[i].w);
    }
    return NULL;
}

static void test_concurrent_use_and_lifecycle(void **state)
{
    (void)state;
    char *dir = kt_tmpdir();
    const char *path = kt_path(dir, "threads.aioskr", 0);
    aios_keyring_options o = kt_raw();
    pthread_t th[WORKERS];
    shared s;
    aios_key *old = NULL;
    int rounds = tu_under_valgrind() ? 8 : 40;
    long min_wraps = tu_under_valgrind() ? 50 : 5000;
    uint32_t primary = 1;
    time_t t0;

    memset(&s, 0, sizeof(s));
    tu_assert_ok(aios_keyring_create(&s.kr, path, &o));
    tu_assert_ok(aios_keyring_add(s.kr, &old, "k", AIOS_KEY_AES256, NULL));
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, worker, &s), 0);

    /* The changes: rotate (every third round with imported material);
     * disable the previous primary and enable it again; destroy what is
     * three versions old.  At least `rounds` rounds, and on a fast disk
     * more, until the workers have done a good deal of work meanwhile (or
     * ten seconds have passed). */
    t0 = time(NULL);
    for (int r = 0; r < rounds || (atomic_load(&s.ok_wrap) < min_wraps && time(NULL) - t0 < 10);
         r++) {
        aios_key *k = NULL;
        if (r % 3 == 2) {
            /* Bring-your-own-key rotation: known bytes, distinct each round. */
            uint8_t m[32];
            memset(m, 0xa5, sizeof(m));
            memcpy(m, &r, sizeof(r));
            tu_assert_ok(aios_keyring_import_version(s.kr, &k, "k", m, sizeof(m), 0));
        } else {
            tu_assert_ok(aios_keyring_rotate(s.kr, &k, "k"));
        }
        primary = aios_key_version(k);
        aios_key_unref(k);
        tu_assert_ok(aios_keyring_set_state(s.kr, "k", primary - 1, AIOS_KEY_DISABLED));
        if (r % 2)
            tu_assert_ok(aios_keyring_set_state(s.kr, "k", primary - 1, AIOS_KEY_DECRYPT_ONLY));
        if (primary > 3)
            tu_assert_ok(aios_keyring_destroy(s.kr, "k", primary - 3));
    }
    atomic_store(&s.stop, 1);
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);

    /* The end state is exactly what the changes say. */
    assert_int_equal(aios_key_get_state(old), AIOS_KEY_DESTROYED);
    assert_int_equal(kt_primary(s.kr, "k"), primary);
    for (uint32_t v = 1; v <= primary; v++) {
        /* Version v was the previous primary in round v - 1: disabled,
         * then enabled again in odd rounds; destroyed three rotations on. */
        aios_key_state want = v == primary ? AIOS_KEY_ACTIVE
                              : v + 3 <= primary ? AIOS_KEY_DESTROYED
                              : (v - 1) % 2 ? AIOS_KEY_DECRYPT_ONLY : AIOS_KEY_DISABLED;
        assert_int_equal(kt_state(s.kr, "k", v), want);
    }
    aios_keyring_free(s.kr);
    /* And the disk agrees with memory. */
    s.kr = NULL;
    tu_assert_ok(aios_keyring_open(&s.kr, path, &o));
    assert_int_equal(kt_primary(s.kr, "k"), primary);
    assert_int_equal(kt_state(s.kr, "k", 1), AIOS_KEY_DESTROYED);
    assert_int_equal(kt_state(s.kr, "k", primary), AIOS_KEY_ACTIVE);
    aios_keyring_free(s.kr);
    print_message("%u rounds: %ld wraps, %ld unwraps, %ld by version, %ld wraps refused, %ld "
                  "listings; old wraps: %ld opened, %ld disabled, %ld destroyed\n", primary - 1,
                  atomic_load(&s.ok_wrap), atomic_load(&s.ok_unwrap), atomic_load(&s.by_version),
                  atomic_load(&s.refused), atomic_load(&s.listings), atomic_load(&s.old_ok),
                  atomic_load(&s.old_disabled), atomic_load(&s.old_destroyed));
    assert_true(atomic_load(&s.ok_wrap) > 0);
    aios_key_unref(old);
    kt_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_use_and_lifecycle),
    };
    if (aios_init() != AIOS_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
