/*
 * The data-key cache: hits and misses, each limit, LRU order, replacement,
 * evict_key, stats, entries held across eviction and free (ASan watches),
 * threads (TSan watches), bad arguments.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"
#include "key/key_internal.h"
#include "crypto/crypto.h"

static const aios__provider_vt no_ops = { NULL, NULL, NULL, NULL, NULL, NULL };
static aios_provider *prov_a, *prov_b;

static aios_key *make_key(aios_provider *p, const char *id, uint32_t version)
{
    aios__keyver *v = NULL;
    aios_key *k = NULL;
    aios__key_desc d;
    memset(&d, 0, sizeof(d));
    d.key_id = id;
    d.version = version;
    d.type = AIOS_KEY_AES256;
    d.purposes = AIOS_KEY_USE_WRAP;
    tu_assert_ok(aios__keyver_new(&v, AIOS_KEY_ACTIVE, NULL, 0, NULL, 0, 0, 0));
    tu_assert_ok(aios__key_new(&k, p, &d, v, NULL));
    aios__keyver_unref(v);
    return k;
}

static int setup(void **state)
{
    (void)state;
    if (aios_init() != AIOS_OK)
        return -1;
    if (aios__provider_new(&prov_a, "test-a", &no_ops, NULL) != AIOS_OK ||
        aios__provider_new(&prov_b, "test-b", &no_ops, NULL) != AIOS_OK)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    aios_provider_unref(prov_a);
    aios_provider_unref(prov_b);
    return 0;
}

static aios_dkcache *new_cache(uint32_t capacity, uint64_t age_ms, uint64_t messages,
                               uint64_t bytes)
{
    aios_dkcache_options o = AIOS_DKCACHE_OPTIONS_INIT;
    aios_dkcache *c = NULL;
    o.capacity = capacity;
    o.max_age_ms = age_ms;
    o.max_messages = messages;
    o.max_bytes = bytes;
    tu_assert_ok(aios_dkcache_new(&c, &o));
    assert_non_null(c);
    return c;
}

static void fill(uint8_t *dk, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        dk[i] = (uint8_t)(seed * 31u + i);
}

static const uint8_t *CTX(const char *s) { return (const uint8_t *)s; }

static void put(aios_dkcache *c, const aios_key *k, const char *ctx, uint32_t suite, unsigned seed)
{
    uint8_t dk[32], w[48];
    fill(dk, sizeof(dk), seed);
    fill(w, sizeof(w), seed + 1000);
    tu_assert_ok(aios_dkcache_put(c, k, CTX(ctx), strlen(ctx), suite, dk, sizeof(dk), w, sizeof(w)));
}

/* 1 if (k, ctx, suite) hits with the key of seed; 0 on a miss. */
static int hit(aios_dkcache *c, const aios_key *k, const char *ctx, uint32_t suite, unsigned seed,
               uint64_t bytes)
{
    aios_dkcache_entry *e = NULL;
    uint8_t dk[32], w[48];
    const uint8_t *p;
    size_t n;
    int rc = aios_dkcache_get(c, &e, k, CTX(ctx), strlen(ctx), suite, bytes);
    if (rc == AIOS_E_NOT_FOUND) {
        assert_null(e);
        return 0;
    }
    tu_assert_ok(rc);
    fill(dk, sizeof(dk), seed);
    fill(w, sizeof(w), seed + 1000);
    p = aios_dkcache_entry_data_key(e, &n);
    assert_int_equal(n, sizeof(dk));
    assert_memory_equal(p, dk, sizeof(dk));
    p = aios_dkcache_entry_wrapped(e, &n);
    assert_int_equal(n, sizeof(w));
    assert_memory_equal(p, w, sizeof(w));
    aios_dkcache_entry_release(e);
    return 1;
}

static aios_dkcache_stats stats_of(aios_dkcache *c)
{
    aios_dkcache_stats s;
    memset(&s, 0, sizeof(s));
    s.size = sizeof(s);
    tu_assert_ok(aios_dkcache_get_stats(c, &s));
    return s;
}

/* ---------------------------------------------------------------- tests */

static void test_hit_and_miss(void **state)
{
    (void)state;
    aios_dkcache *c = new_cache(0, 0, 0, 0);
    aios_key *k = make_key(prov_a, "kek", 1), *k2 = make_key(prov_a, "kek", 2);
    aios_key *other = make_key(prov_b, "kek", 1), *same = make_key(prov_a, "kek", 1);
    aios_dkcache_entry *e = NULL;
    size_t n = 99;

    assert_int_equal(hit(c, k, "ctx", 1, 1, 10), 0);
    assert_int_equal(aios_last_error_status(), AIOS_E_NOT_FOUND);
    put(c, k, "ctx", 1, 1);
    assert_int_equal(hit(c, k, "ctx", 1, 1, 10), 1);
    /* Another handle to the same key version hits too. */
    assert_int_equal(hit(c, same, "ctx", 1, 1, 10), 1);
    /* Any other part of the triple misses. */
    assert_int_equal(hit(c, k, "ctx2", 1, 1, 10), 0);
    assert_int_equal(hit(c, k, "ct", 1, 1, 10), 0);
    assert_int_equal(hit(c, k, "ctx", 2, 1, 10), 0);
    assert_int_equal(hit(c, k2, "ctx", 1, 1, 10), 0);
    assert_int_equal(hit(c, other, "ctx", 1, 1, 10), 0);

    /* Empty context, no wrapped key, a 1-byte and a 64-byte data key. */
    uint8_t dk[AIOS_KEY_DATA_KEY_MAX];
    fill(dk, sizeof(dk), 7);
    tu_assert_ok(aios_dkcache_put(c, k, NULL, 0, 9, dk, 1, NULL, 0));
    tu_assert_ok(aios_dkcache_get(c, &e, k, NULL, 0, 9, 0));
    assert_memory_equal(aios_dkcache_entry_data_key(e, &n), dk, 1);
    assert_int_equal(n, 1);
    assert_null(aios_dkcache_entry_wrapped(e, &n));
    assert_int_equal(n, 0);
    aios_dkcache_entry_release(e);
    tu_assert_ok(aios_dkcache_put(c, k, NULL, 0, 10, dk, sizeof(dk), NULL, 0));
    tu_assert_ok(aios_dkcache_get(c, &e, k, NULL, 0, 10, 0));
    assert_memory_equal(aios_dkcache_entry_data_key(e, &n), dk, sizeof(dk));
    aios_dkcache_entry_release(e);

    aios_dkcache_stats s = stats_of(c);
    assert_int_equal(s.hits, 4);
    assert_int_equal(s.misses, 6);
    assert_int_equal(s.entries, 3);
    assert_int_equal(s.evictions, 0);
    assert_int_equal(s.expirations, 0);

    aios_dkcache_free(c);
    aios_key_unref(k);
    aios_key_unref(k2);
    aios_key_unref(other);
    aios_key_unref(same);
}

static void test_message_limit(void **state)
{
    (void)state;
    aios_dkcache *c = new_cache(0, 0, 3, 0);
    aios_key *k = make_key(prov_a, "kek", 1);

    put(c, k, "ctx", 1, 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(hit(c, k, "ctx", 1, 1, 0), 1);
    /* The fourth message would exceed max_messages: the entry expires. */
    assert_int_equal(hit(c, k, "ctx", 1, 1, 0), 0);
    assert_non_null(strstr(aios_last_error_message(), "max_messages"));
    assert_int_equal(hit(c, k, "ctx", 1, 1, 0), 0);
    aios_dkcache_stats s = stats_of(c);
    assert_int_equal(s.expirations, 1);
    assert_int_equal(s.entries, 0);
    assert_int_equal(s.hits, 3);
    assert_int_equal(s.misses, 2);
    aios_dkcache_free(c);
    aios_key_unref(k);
}

static void test_byte_limit(void **state)
{
    (void)state;
    aios_dkcache *c = new_cache(0, 0, 0, 100);
    aios_key *k = make_key(prov_a, "kek", 1);

    put(c, k, "ctx", 1, 1);
    assert_int_equal(hit(c, k, "ctx", 1, 1, 60), 1);
    assert_int_equal(hit(c, k, "ctx", 1, 1, 40), 1);     /* exactly 100 */
    assert_int_equal(hit(c, k, "ctx", 1, 1, 1), 0);
    assert_non_null(strstr(aios_last_error_message(), "max_bytes"));
    /* One message bigger than the limit never hits. */
    put(c, k, "ctx", 1, 1);
    assert_int_equal(hit(c, k, "ctx", 1, 1, 101), 0);
    put(c, k, "ctx", 1, 1);
    assert_int_equal(hit(c, k, "ctx", 1, 1, UINT64_MAX), 0);
    assert_int_equal(stats_of(c).expirations, 3);
    aios_dkcache_free(c);
    aios_key_unref(k);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void test_age_limit(void **state)
{
    (void)state;
    aios_dkcache *c = new_cache(0, 300, 0, 0);
    aios_key *k = make_key(prov_a, "kek", 1);
    uint64_t t0 = now_ms();

    put(c, k, "ctx", 1, 1);
    int fresh = hit(c, k, "ctx", 1, 1, 0);
    /* (Only a machine stalled for 300 ms between two lines misses here.) */
    if (now_ms() - t0 < 300)
        assert_int_equal(fresh, 1);
    struct timespec ts = { 0, 400000000 };
    nanosleep(&ts, NULL);
    assert_int_equal(hit(c, k, "ctx", 1, 1, 0), 0);
    assert_non_null(strstr(aios_last_error_message(), "max_age_ms"));
    assert_int_equal(stats_of(c).expirations, 1);
    assert_int_equal(stats_of(c).entries, 0);
    aios_dkcache_free(c);
    aios_key_unref(k);
}

static void test_lru_order(void **state)
{
    (void)state;
    aios_dkcache *c = new_cache(3, 0, 0, 0);
    aios_key *k = make_key(prov_a, "kek", 1);

    put(c, k, "A", 1, 1);
    put(c, k, "B", 1, 2);
    put(c, k, "C", 1, 3);
    assert_int_equal(hit(c, k, "A", 1, 1, 0), 1);     /* A is now the most recent */
    put(c, k, "D", 1, 4);                           /* evicts B, the least recent */
    assert_int_equal(hit(c, k, "B", 1, 2, 0), 0);
    assert_int_equal(hit(c, k, "A", 1, 1, 0), 1);
    assert_int_equal(hit(c, k, "C", 1, 3, 0), 1);
    assert_int_equal(hit(c, k, "D", 1, 4, 0), 1);
    /* Order now (recent first): D C A; the next put evicts A. */
    put(c, k, "E", 1, 5);
    assert_int_equal(hit(c, k, "A", 1, 1, 0), 0);
    assert_int_equal(hit(c, k, "C", 1, 3, 0), 1);
    aios_dkcache_stats s = stats_of(c);
    assert_int_equal(s.evictions, 2);
    assert_int_equal(s.entries, 3);
    assert_int_equal(s.expirations, 0);
    aios_dkcache_free(c);
    aios_key_unref(k);
}

static void test_replace(void **state)
{
    (void)state;
    aios_dkcache *c = new_cache(2, 0, 2, 0);
    aios_key *k = make_key(prov_a, "kek", 1);
    aios_dkcache_entry *old = NULL;
    uint8_t dk1[32];

    fill(dk1, sizeof(dk1), 1);
    put(c, k, "ctx", 1, 1);
    put(c, k, "other", 1, 9);
    tu_assert_ok(aios_dkcache_get(c, &old, k, CTX("ctx"), 3, 1, 0));
    assert_int_equal(hit(c, k, "ctx", 1, 1, 0), 1);     /* second of two messages */
    put(c, k, "ctx", 1, 2);                          /* replaces: new limits */
    assert_int_equal(hit(c, k, "ctx", 1, 2, 0), 1);
    assert_int_equal(hit(c, k, "ctx", 1, 2, 0), 1);
    /* The replaced entry is still the holder's, with its own key. */
    assert_memory_equal(aios_dkcache_entry_data_key(old, NULL), dk1, sizeof(dk1));
    aios_dkcache_entry_release(old);
    aios_dkcache_stats s = stats_of(c);
    assert_int_equal(s.entries, 2);
    assert_int_equal(s.evictions, 0);                /* replacing is not evicting */
    assert_int_equal(hit(c, k, "other", 1, 9, 0), 1);
    aios_dkcache_free(c);
    aios_key_unref(k);
}

static void test_evict_key(void **state)
{
    (void)state;
    aios_dkcache *c = new_cache(0, 0, 0, 0);
    aios_key *k1 = make_key(prov_a, "kek", 1), *k1v2 = make_key(prov_a, "kek", 2);
    aios_key *k2 = make_key(prov_a, "kek2", 1), *kb = make_key(prov_b, "kek", 1);

    put(c, k1, "x", 1, 1);
    put(c, k1, "y", 1, 2);
    put(c, k1, "x", 2, 3);
    put(c, k1v2, "x", 1, 4);
    put(c, k2, "x", 1, 5);
    put(c, kb, "x", 1, 6);
    aios_dkcache_evict_key(c, k1);
    assert_int_equal(stats_of(c).entries, 3);
    assert_int_equal(hit(c, k1, "x", 1, 1, 0), 0);
    assert_int_equal(hit(c, k1, "y", 1, 2, 0), 0);
    assert_int_equal(hit(c, k1, "x", 2, 3, 0), 0);
    assert_int_equal(hit(c, k1v2, "x", 1, 4, 0), 1);
    assert_int_equal(hit(c, k2, "x", 1, 5, 0), 1);
    assert_int_equal(hit(c, kb, "x", 1, 6, 0), 1);
    aios_dkcache_evict_key(c, k1);                 /* nothing left: a no-op */
    aios_dkcache_evict_key(NULL, k1);
    aios_dkcache_evict_key(c, NULL);
    assert_int_equal(stats_of(c).entries, 3);
    aios_dkcache_free(c);
    aios_key_unref(k1);
    aios_key_unref(k1v2);
    aios_key_unref(k2);
    aios_key_unref(kb);
}

static void test_disabled_key(void **state)
{
    (void)state;
    aios_dkcache *c = new_cache(0, 0, 0, 0);
    aios_key *k = make_key(prov_a, "kek", 1);
    uint8_t dk[32] = { 0 };

    put(c, k, "x", 1, 1);
    aios__keyver_set_state(k->ver, AIOS_KEY_DISABLED);
    assert_int_equal(hit(c, k, "x", 1, 1, 0), 0);
    assert_int_equal(stats_of(c).expirations, 1);
    tu_assert_status(aios_dkcache_put(c, k, NULL, 0, 1, dk, sizeof(dk), NULL, 0),
                     AIOS_E_KEY_DISABLED);
    aios__keyver_set_state(k->ver, AIOS_KEY_DECRYPT_ONLY);    /* decrypt-only data keys still serve */
    put(c, k, "x", 1, 1);
    assert_int_equal(hit(c, k, "x", 1, 1, 0), 1);
    aios__keyver_destroy(k->ver);
    assert_int_equal(hit(c, k, "x", 1, 1, 0), 0);
    tu_assert_status(aios_dkcache_put(c, k, NULL, 0, 1, dk, sizeof(dk), NULL, 0),
                     AIOS_E_KEY_DESTROYED);
    aios_dkcache_free(c);
    aios_key_unref(k);
}

static void test_stats_sizes(void **state)
{
    (void)state;
    aios_dkcache *c = new_cache(0, 0, 0, 0);
    aios_key *k = make_key(prov_a, "kek", 1);
    aios_dkcache_stats s;

    put(c, k, "x", 1, 1);
    assert_int_equal(hit(c, k, "x", 1, 1, 0), 1);
    assert_int_equal(hit(c, k, "y", 1, 1, 0), 0);

    /* A caller from a version that had only hits and misses. */
    memset(&s, 0xEE, sizeof(s));
    s.size = offsetof(aios_dkcache_stats, misses) + sizeof(s.misses);
    tu_assert_ok(aios_dkcache_get_stats(c, &s));
    assert_int_equal(s.hits, 1);
    assert_int_equal(s.misses, 1);
    assert_true(s.evictions == UINT64_C(0xEEEEEEEEEEEEEEEE));
    assert_true(s.entries == UINT64_C(0xEEEEEEEEEEEEEEEE));
    /* Smaller than any version. */
    s.size = sizeof(size_t);
    tu_assert_status(aios_dkcache_get_stats(c, &s), AIOS_E_VERSION);
    s.size = 0;
    tu_assert_status(aios_dkcache_get_stats(c, &s), AIOS_E_VERSION);
    /* Larger than this library's: filled as far as known. */
    struct { aios_dkcache_stats s; uint64_t future; } big;
    memset(&big, 0xEE, sizeof(big));
    big.s.size = sizeof(big);
    tu_assert_ok(aios_dkcache_get_stats(c, &big.s));
    assert_int_equal(big.s.entries, 1);
    assert_true(big.future == UINT64_C(0xEEEEEEEEEEEEEEEE));
    aios_dkcache_free(c);
    aios_key_unref(k);
}

static void test_entry_outlives_eviction_and_cache(void **state)
{
    (void)state;
    aios_dkcache *c = new_cache(1, 0, 0, 0);
    aios_key *k = make_key(prov_a, "kek", 1);
    aios_dkcache_entry *a = NULL, *b = NULL, *b2 = NULL;
    uint8_t dka[32], dkb[32];

    fill(dka, sizeof(dka), 1);
    fill(dkb, sizeof(dkb), 2);
    put(c, k, "A", 1, 1);
    tu_assert_ok(aios_dkcache_get(c, &a, k, CTX("A"), 1, 1, 0));
    put(c, k, "B", 1, 2);                            /* evicts A, which a holder has */
    assert_int_equal(stats_of(c).evictions, 1);
    assert_memory_equal(aios_dkcache_entry_data_key(a, NULL), dka, sizeof(dka));
    aios_dkcache_entry_release(a);

    tu_assert_ok(aios_dkcache_get(c, &b, k, CTX("B"), 1, 1, 0));
    tu_assert_ok(aios_dkcache_get(c, &b2, k, CTX("B"), 1, 1, 0));
    aios_dkcache_free(c);                            /* b is held twice */
    assert_memory_equal(aios_dkcache_entry_data_key(b, NULL), dkb, sizeof(dkb));
    aios_dkcache_entry_release(b);
    assert_memory_equal(aios_dkcache_entry_data_key(b2, NULL), dkb, sizeof(dkb));
    aios_dkcache_entry_release(b2);
    aios_key_unref(k);
}

/* More entries than a slab holds, many held across evictions, slots
 * reused: every key stays intact. */
static void test_many_entries_held(void **state)
{
    (void)state;
    enum { HELD = 150, PUTS = 600 };
    aios_dkcache *c = new_cache(10, 0, 0, 0);
    aios_key *k = make_key(prov_a, "kek", 1);
    aios_dkcache_entry *held[HELD];
    char ctx[16];
    uint8_t dk[32];

    for (int i = 0; i < PUTS; i++) {
        snprintf(ctx, sizeof(ctx), "c%d", i);
        put(c, k, ctx, 1, (unsigned)i);
        if (i < HELD)
            tu_assert_ok(aios_dkcache_get(c, &held[i], k, CTX(ctx), strlen(ctx), 1, 0));
    }
    assert_int_equal(stats_of(c).entries, 10);
    assert_int_equal(stats_of(c).evictions, PUTS - 10);
    for (int i = PUTS - 10; i < PUTS; i++) {
        snprintf(ctx, sizeof(ctx), "c%d", i);
        assert_int_equal(hit(c, k, ctx, 1, (unsigned)i, 0), 1);
    }
    for (int i = 0; i < HELD; i++) {
        fill(dk, sizeof(dk), (unsigned)i);
        assert_memory_equal(aios_dkcache_entry_data_key(held[i], NULL), dk, sizeof(dk));
        aios_dkcache_entry_release(held[i]);
    }
    aios_dkcache_free(c);
    aios_key_unref(k);
}

/* Eight threads get, put, release and evict at once on a small cache. */
typedef struct hammer_arg {
    aios_dkcache *c;
    aios_key *k;
    unsigned seed;
    int bad;
    int hits;
} hammer_arg;

static void *hammer(void *p)
{
    hammer_arg *a = p;
    unsigned r = a->seed;
    char ctx[8];
    uint8_t dk[32], w[8];

    for (int i = 0; i < 20000; i++) {
        r = r * 1103515245u + 12345u;
        unsigned which = (r >> 16) % 48;
        snprintf(ctx, sizeof(ctx), "%u", which);
        aios_dkcache_entry *e = NULL;
        int rc = aios_dkcache_get(a->c, &e, a->k, CTX(ctx), strlen(ctx), 7, 100);
        if (rc == AIOS_OK) {
            size_t n;
            const uint8_t *d = aios_dkcache_entry_data_key(e, &n);
            fill(dk, sizeof(dk), which);
            if (n != sizeof(dk) || memcmp(d, dk, sizeof(dk)) != 0)
                a->bad++;
            a->hits++;
            aios_dkcache_entry_release(e);
        } else if (rc == AIOS_E_NOT_FOUND) {
            fill(dk, sizeof(dk), which);
            fill(w, sizeof(w), which + 1000);
            if (aios_dkcache_put(a->c, a->k, CTX(ctx), strlen(ctx), 7, dk, sizeof(dk), w,
                                 sizeof(w)) != AIOS_OK)
                a->bad++;
        } else {
            a->bad++;
        }
        if ((r >> 8) % 4096 == 0)
            aios_dkcache_evict_key(a->c, a->k);
        if ((r >> 8) % 1024 == 1) {
            aios_dkcache_stats s;
            s.size = sizeof(s);
            if (aios_dkcache_get_stats(a->c, &s) != AIOS_OK || s.entries > 32)
                a->bad++;
        }
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    enum { N = 8 };
    aios_dkcache *c = new_cache(32, 0, 5, 0);
    aios_key *k = make_key(prov_a, "kek", 1);
    pthread_t t[N];
    hammer_arg a[N];
    int hits = 0;

    for (int i = 0; i < N; i++) {
        a[i].c = c;
        a[i].k = k;
        a[i].seed = (unsigned)i * 7919u + 1u;
        a[i].bad = 0;
        a[i].hits = 0;
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &a[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].bad, 0);
        hits += a[i].hits;
    }
    aios_dkcache_stats s = stats_of(c);
    assert_int_equal(s.hits, (uint64_t)hits);
    assert_int_equal(s.hits + s.misses, (uint64_t)N * 20000);
    assert_true(s.entries <= 32);
    assert_true(s.expirations > 0);          /* max_messages 5 was reached */
    assert_true(s.evictions > 0);            /* 48 contexts in 32 places */
    aios_dkcache_free(c);
    aios_key_unref(k);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    aios_dkcache_options o;
    aios_dkcache *c = NULL;
    aios_key *k = make_key(prov_a, "kek", 1);
    aios_dkcache_entry *e = (aios_dkcache_entry *)&o;     /* must be reset to NULL */
    uint8_t dk[AIOS_KEY_DATA_KEY_MAX + 1] = { 0 };
    static uint8_t w[AIOS_KEY_WRAPPED_MAX + 1];

    tu_assert_status(aios_dkcache_new(NULL, NULL), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_dkcache_options_init(NULL, 1), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_dkcache_options_init(&o, 0), AIOS_E_VERSION);
    tu_assert_status(aios_dkcache_options_init(&o, AIOS_DKCACHE_OPTIONS_VERSION + 1), AIOS_E_VERSION);
    memset(&o, 0xAB, sizeof(o));
    tu_assert_ok(aios_dkcache_options_init(&o, AIOS_DKCACHE_OPTIONS_VERSION));
    assert_int_equal(o.version, AIOS_DKCACHE_OPTIONS_VERSION);
    assert_int_equal(o.capacity, 0);
    assert_int_equal(o.max_bytes, 0);
    o.version = 2;
    tu_assert_status(aios_dkcache_new(&c, &o), AIOS_E_VERSION);
    assert_null(c);
    o.version = 1;
    o.capacity = 65537;
    tu_assert_status(aios_dkcache_new(&c, &o), AIOS_E_LIMIT);
    assert_null(c);
    tu_assert_ok(aios_dkcache_new(&c, NULL));         /* defaults */

    tu_assert_status(aios_dkcache_put(NULL, k, NULL, 0, 1, dk, 32, NULL, 0), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_dkcache_put(c, NULL, NULL, 0, 1, dk, 32, NULL, 0), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_dkcache_put(c, k, NULL, 3, 1, dk, 32, NULL, 0), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_dkcache_put(c, k, NULL, 0, 1, NULL, 32, NULL, 0), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_dkcache_put(c, k, NULL, 0, 1, dk, 0, NULL, 0), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_dkcache_put(c, k, NULL, 0, 1, dk, sizeof(dk), NULL, 0),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_dkcache_put(c, k, NULL, 0, 1, dk, 32, NULL, 5), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_dkcache_put(c, k, NULL, 0, 1, dk, 32, w, sizeof(w)),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_ok(aios_dkcache_put(c, k, NULL, 0, 1, dk, 32, w, AIOS_KEY_WRAPPED_MAX));

    tu_assert_status(aios_dkcache_get(NULL, &e, k, NULL, 0, 1, 0), AIOS_E_INVALID_ARGUMENT);
    assert_null(e);
    tu_assert_status(aios_dkcache_get(c, NULL, k, NULL, 0, 1, 0), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_dkcache_get(c, &e, NULL, NULL, 0, 1, 0), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_dkcache_get(c, &e, k, NULL, 4, 1, 0), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_dkcache_get_stats(NULL, NULL), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_dkcache_get_stats(c, NULL), AIOS_E_INVALID_ARGUMENT);

    size_t n = 5;
    assert_null(aios_dkcache_entry_data_key(NULL, &n));
    assert_int_equal(n, 0);
    n = 5;
    assert_null(aios_dkcache_entry_wrapped(NULL, &n));
    assert_int_equal(n, 0);
    aios_dkcache_entry_release(NULL);
    aios_dkcache_free(NULL);
    aios_dkcache_free(c);
    aios_key_unref(k);
}


/* ------------------------------------------- allocation-failure injection */

/* The harness is tests/util's (tu_alloc_install, tu_inject_everywhere). */

/* A cache's whole life; the first failure. */
static int cache_life(void)
{
    aios_dkcache_options o = AIOS_DKCACHE_OPTIONS_INIT;
    aios_dkcache *c = NULL;
    aios_dkcache_entry *e = NULL;
    aios_dkcache_stats s;
    aios_key *k = NULL;
    uint8_t dk[32] = { 1 }, w[40] = { 2 };
    char ctx[8];
    int rc;

    /* The key handle itself is made with the allocator armed too. */
    aios__keyver *v = NULL;
    aios__key_desc d;
    memset(&d, 0, sizeof(d));
    d.key_id = "kek";
    d.version = 1;
    d.type = AIOS_KEY_AES256;
    d.purposes = AIOS_KEY_USE_WRAP;
    if ((rc = aios__keyver_new(&v, AIOS_KEY_ACTIVE, NULL, 0, NULL, 0, 0, 0)) != AIOS_OK)
        return rc;
    rc = aios__key_new(&k, prov_a, &d, v, NULL);
    aios__keyver_unref(v);
    if (rc != AIOS_OK)
        return rc;

    o.capacity = 4;
    rc = aios_dkcache_new(&c, &o);
    /* More puts than a slab holds, so slabs are added and entries evicted. */
    for (int i = 0; rc == AIOS_OK && i < 70; i++) {
        snprintf(ctx, sizeof(ctx), "%d", i);
        rc = aios_dkcache_put(c, k, CTX(ctx), strlen(ctx), 1, dk, sizeof(dk), w, sizeof(w));
    }
    if (rc == AIOS_OK)
        rc = aios_dkcache_get(c, &e, k, CTX("69"), 2, 1, 10);
    if (rc == AIOS_OK) {
        s.size = sizeof(s);
        rc = aios_dkcache_get_stats(c, &s);
        aios_dkcache_evict_key(c, k);
    }
    aios_dkcache_free(c);
    aios_dkcache_entry_release(e);
    aios_key_unref(k);
    return rc;
}

static void test_allocation_failures(void **state)
{
    (void)state;
    assert_true(tu_inject_everywhere(cache_life, "cache life") > 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_and_miss),
        cmocka_unit_test(test_message_limit),
        cmocka_unit_test(test_byte_limit),
        cmocka_unit_test(test_age_limit),
        cmocka_unit_test(test_lru_order),
        cmocka_unit_test(test_replace),
        cmocka_unit_test(test_evict_key),
        cmocka_unit_test(test_disabled_key),
        cmocka_unit_test(test_stats_sizes),
        cmocka_unit_test(test_entry_outlives_eviction_and_cache),
        cmocka_unit_test(test_many_entries_held),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_allocation_failures),
    };
    if (tu_alloc_install() != AIOS_OK)
        return 1;
    return cmocka_run_group_tests(tests, setup, teardown);
}
