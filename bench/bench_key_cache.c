/*
 * bench_key_cache: what the data-key cache and the callback provider cost.
 *
 *   build/bench/bench_key_cache [seconds-per-case]
 *
 * Prints a table of ns/op:
 *   - a cache hit (aios_dkcache_get + aios_dkcache_entry_release) with one
 *     thread and with two threads at once (per-thread figure; both share
 *     the cache's mutex), with a 32-byte and a 1 KiB context;
 *   - a miss (the lookup plus recording the AIOS_E_NOT_FOUND message);
 *   - a put that replaces an entry;
 *   - a call through a callback provider to a host that does nothing,
 *     against calling the same host function directly: the price of the
 *     deadline (a worker thread per call), to set against a KMS round trip
 *     of 20-300 ms.
 * Figures belong in docs/PERFORMANCE.md.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aios/aios.h"
#include "bench_util.h"

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_key_cache: %s: %s (%s)\n", what, aios_status_name(rc),
            aios_last_error_message());
    exit(1);
}

/* ------------------------------------------------------- a host KMS */

static int host_describe(void *payload, const char *key_id, uint32_t version,
                         aios_provider_key_info *info, uint32_t deadline_ms)
{
    (void)payload; (void)key_id; (void)deadline_ms;
    info->version = version ? version : 1;
    info->type = AIOS_KEY_AES256;
    info->purposes = AIOS_KEY_USE_WRAP;
    info->state = AIOS_KEY_ACTIVE;
    info->created_at = 0;
    return AIOS_OK;
}

/* "Unwraps" by copying: the cheapest host there is. */
static int host_unwrap(void *payload, const char *key_id, uint32_t version,
                       const uint8_t *w, size_t w_len, const uint8_t *ad, size_t ad_len,
                       uint8_t *out, size_t out_cap, size_t *out_len, uint32_t deadline_ms)
{
    (void)payload; (void)key_id; (void)version; (void)ad; (void)ad_len; (void)deadline_ms;
    if (w_len > out_cap) {
        *out_len = w_len;
        return AIOS_E_BUFFER_TOO_SMALL;
    }
    memcpy(out, w, w_len);
    *out_len = w_len;
    return AIOS_OK;
}

static const aios_provider_ops host_ops = {
    sizeof(aios_provider_ops), AIOS_PROVIDER_CAN_UNWRAP,
    host_describe, NULL, host_unwrap, NULL, NULL, NULL
};

/* ------------------------------------------------------------- cases */

typedef struct cache_case {
    aios_dkcache *cache;
    aios_key *key;
    uint8_t ctx[1024];
    size_t ctx_len;
    uint8_t dk[32];
    uint8_t wrapped[184];
} cache_case;

static void do_hit(void *arg)
{
    cache_case *c = arg;
    aios_dkcache_entry *e = NULL;
    int rc = aios_dkcache_get(c->cache, &e, c->key, c->ctx, c->ctx_len, 1, 4096);
    if (rc != AIOS_OK)
        die("aios_dkcache_get", rc);
    aios_dkcache_entry_release(e);
}

static void do_miss(void *arg)
{
    cache_case *c = arg;
    aios_dkcache_entry *e = NULL;
    if (aios_dkcache_get(c->cache, &e, c->key, c->ctx, c->ctx_len, 2, 4096) != AIOS_E_NOT_FOUND)
        die("aios_dkcache_get (miss)", AIOS_E_INTERNAL);
}

static void do_put(void *arg)
{
    cache_case *c = arg;
    int rc = aios_dkcache_put(c->cache, c->key, c->ctx, c->ctx_len, 3, c->dk, sizeof(c->dk),
                              c->wrapped, sizeof(c->wrapped));
    if (rc != AIOS_OK)
        die("aios_dkcache_put", rc);
}

static void case_init(cache_case *c, aios_dkcache *cache, aios_key *key, size_t ctx_len,
                      uint8_t tag)
{
    int rc;
    memset(c, 0, sizeof(*c));
    c->cache = cache;
    c->key = key;
    c->ctx_len = ctx_len;
    for (size_t i = 0; i < sizeof(c->ctx); i++)
        c->ctx[i] = (uint8_t)(i * 7u + tag);
    memset(c->dk, 0x42, sizeof(c->dk));
    rc = aios_dkcache_put(cache, key, c->ctx, ctx_len, 1, c->dk, sizeof(c->dk), c->wrapped,
                          sizeof(c->wrapped));
    if (rc != AIOS_OK)
        die("aios_dkcache_put", rc);
}

/* Two threads each hitting their own entry of one cache. */
typedef struct thread_arg {
    cache_case *c;
    atomic_int *go;
    double ns;
} thread_arg;

static void *hit_thread(void *p)
{
    thread_arg *a = p;
    while (!atomic_load(a->go))
        ;
    a->ns = bench_measure(do_hit, a->c);
    return NULL;
}

static double hit_threads(cache_case *cases, int n)
{
    pthread_t t[8];
    thread_arg a[8];
    atomic_int go = 0;
    double worst = 0;
    for (int i = 0; i < n; i++) {
        a[i].c = &cases[i];
        a[i].go = &go;
        if (pthread_create(&t[i], NULL, hit_thread, &a[i]) != 0)
            die("pthread_create", AIOS_E_INTERNAL);
    }
    atomic_store(&go, 1);
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        if (a[i].ns > worst)
            worst = a[i].ns;
    }
    return worst;
}

typedef struct call_case {
    aios_key *key;
    uint8_t wrapped[32];
} call_case;

static void do_unwrap_via_provider(void *arg)
{
    call_case *c = arg;
    aios_buffer *out = NULL;
    int rc = aios_key_unwrap(c->key, &out, c->wrapped, sizeof(c->wrapped), NULL, 0);
    if (rc != AIOS_OK)
        die("aios_key_unwrap", rc);
    aios_buffer_free(out);
}

static void do_unwrap_direct(void *arg)
{
    call_case *c = arg;
    uint8_t out[64];
    size_t n;
    /* What the call costs without the library: the host function alone. */
    if (host_unwrap(NULL, "k", 1, c->wrapped, sizeof(c->wrapped), NULL, 0, out, sizeof(out), &n,
                    30000) != AIOS_OK)
        die("host_unwrap", AIOS_E_INTERNAL);
    __asm__ __volatile__("" : : "r"(out) : "memory");
}

int main(int argc, char **argv)
{
    aios_provider *p = NULL;
    aios_key *key = NULL;
    aios_dkcache *cache = NULL;
    cache_case cases[3];
    call_case cc;
    int rc;

    if (argc > 1)
        bench_budget = atof(argv[1]);
    if ((rc = aios_init()) != AIOS_OK)
        die("aios_init", rc);
    if ((rc = aios_provider_callback(&p, "bench", &host_ops, NULL, NULL)) != AIOS_OK)
        die("aios_provider_callback", rc);
    if ((rc = aios_provider_get_key(p, &key, "kek", 0)) != AIOS_OK)
        die("aios_provider_get_key", rc);
    if ((rc = aios_dkcache_new(&cache, NULL)) != AIOS_OK)
        die("aios_dkcache_new", rc);

    printf("libaios %s: data-key cache and callback provider (best of %d rounds, %.2f s per case)\n\n",
           aios_version_string(), BENCH_ROUNDS, bench_budget);
    printf("%-48s %12s\n", "case", "ns/op");
    printf("%-48s %12s\n", "------------------------------------------------", "------------");

    case_init(&cases[0], cache, key, 32, 1);
    case_init(&cases[1], cache, key, 32, 2);
    case_init(&cases[2], cache, key, 1024, 3);
    printf("%-48s %12.1f\n", "hit (get + release), 32 B context, 1 thread", bench_measure(do_hit, &cases[0]));
    printf("%-48s %12.1f\n", "hit (get + release), 32 B context, 2 threads", hit_threads(cases, 2));
    printf("%-48s %12.1f\n", "hit (get + release), 1 KiB context, 1 thread", bench_measure(do_hit, &cases[2]));
    printf("%-48s %12.1f\n", "miss (get -> AIOS_E_NOT_FOUND), 32 B context", bench_measure(do_miss, &cases[0]));
    printf("%-48s %12.1f\n", "put (replacing an entry), 32 B context", bench_measure(do_put, &cases[0]));

    memset(&cc, 0x17, sizeof(cc));
    cc.key = key;
    double via = bench_measure(do_unwrap_via_provider, &cc);
    double direct = bench_measure(do_unwrap_direct, &cc);
    printf("%-48s %12.1f\n", "callback unwrap, no-op host, through libaios", via);
    printf("%-48s %12.1f\n", "the same host function called directly", direct);
    printf("\nDeadline overhead per host call: %.1f us (thread per call).\n", (via - direct) / 1000.0);

    aios_dkcache_free(cache);
    aios_key_unref(key);
    aios_provider_unref(p);
    return 0;
}
