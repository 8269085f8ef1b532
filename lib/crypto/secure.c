/*
 * Secure memory, wiping, constant-time comparison and randomness.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "crypto.h"
#include "../core/internal.h"

void *aios__secure_malloc(size_t len)
{
    return sodium_malloc(len);
}

void aios__secure_free(void *p)
{
    sodium_free(p);     /* wipes, checks the canary, NULL-safe */
}

/* ------------------------------------------------------- the small-secret slab */

#define SLAB_BYTES 65536u
#define SLAB_WORDS (SLAB_BYTES / 64u / 64u)   /* bit words for the smallest class */

typedef struct secret_slab {
    struct secret_slab *next;
    uint8_t            *mem;                 /* SLAB_BYTES of sodium_malloc memory */
    uint64_t            used[SLAB_WORDS];    /* bit i set: slot i handed out */
    unsigned            nused;
} secret_slab;

typedef struct secret_class {
    pthread_mutex_t mu;
    size_t          size;
    unsigned        nslots;
    secret_slab    *head;
} secret_class;

#define SLAB_META (((sizeof(secret_slab) + 63) / 64) * 64)

static secret_class secret_classes[3] = {
    { PTHREAD_MUTEX_INITIALIZER, 64, SLAB_BYTES / 64, NULL },
    { PTHREAD_MUTEX_INITIALIZER, 256, SLAB_BYTES / 256, NULL },
    { PTHREAD_MUTEX_INITIALIZER, 1024, SLAB_BYTES / 1024, NULL },
};

/* fork(): a child must not inherit a slab mutex held by a thread that
 * does not exist there.  Take every class lock around fork (in a fixed
 * order), release them on both sides. */
static pthread_once_t slab_once = PTHREAD_ONCE_INIT;

static void slab_prepare(void)
{
    size_t i;
    for (i = 0; i < 3; i++)
        pthread_mutex_lock(&secret_classes[i].mu);
}

static void slab_release(void)
{
    size_t i;
    for (i = 3; i-- > 0;)
        pthread_mutex_unlock(&secret_classes[i].mu);
}

static void slab_init_once(void)
{
    (void)pthread_atfork(slab_prepare, slab_release, slab_release);
}

static secret_class *class_for(size_t len)
{
    size_t i;
    for (i = 0; i < 3; i++)
        if (len <= secret_classes[i].size)
            return &secret_classes[i];
    return NULL;
}

void *aios__secret_alloc(size_t len)
{
    secret_class *c = class_for(len ? len : 1);
    secret_slab *s;
    void *p = NULL;

    if (c == NULL)
        return aios__secure_malloc(len);
    pthread_once(&slab_once, slab_init_once);
    pthread_mutex_lock(&c->mu);
    for (s = c->head; s != NULL && s->nused == c->nslots; s = s->next)
        ;
    if (s == NULL) {
        /* The slots, then the slab's own record, in one guarded region
         * that lives as long as the process (a size that is a multiple of
         * 64 keeps sodium_malloc's result 64-byte aligned). */
        uint8_t *mem = sodium_malloc(SLAB_BYTES + SLAB_META);
        if (mem != NULL) {
            memset(mem, 0, SLAB_BYTES + SLAB_META);
            s = (secret_slab *)(void *)(mem + SLAB_BYTES);
            s->mem = mem;
            s->next = c->head;
            c->head = s;
        }
    }
    if (s != NULL) {
        unsigned w;
        for (w = 0; w < (c->nslots + 63) / 64; w++) {
            if (~s->used[w] != 0) {
                unsigned bit = (unsigned)__builtin_ctzll(~s->used[w]);
                unsigned i = w * 64 + bit;
                if (i >= c->nslots)
                    break;
                s->used[w] |= (uint64_t)1 << bit;
                s->nused++;
                p = s->mem + (size_t)i * c->size;
                break;
            }
        }
    }
    pthread_mutex_unlock(&c->mu);
    return p;
}

void aios__secret_free(void *p, size_t len)
{
    secret_class *c;
    secret_slab *s;

    if (p == NULL)
        return;
    c = class_for(len ? len : 1);
    if (c == NULL) {
        aios__secure_free(p);
        return;
    }
    sodium_memzero(p, c->size);
    pthread_mutex_lock(&c->mu);
    for (s = c->head; s != NULL; s = s->next) {
        if ((uint8_t *)p >= s->mem && (uint8_t *)p < s->mem + SLAB_BYTES) {
            size_t i = (size_t)((uint8_t *)p - s->mem) / c->size;
            s->used[i / 64] &= ~((uint64_t)1 << (i % 64));
            s->nused--;
            break;
        }
    }
    pthread_mutex_unlock(&c->mu);
}

void aios__secret_stats(size_t *slabs, size_t *slots)
{
    size_t i, nsl = 0, nsp = 0;
    for (i = 0; i < 3; i++) {
        secret_slab *s;
        pthread_mutex_lock(&secret_classes[i].mu);
        for (s = secret_classes[i].head; s != NULL; s = s->next) {
            nsl++;
            nsp += s->nused;
        }
        pthread_mutex_unlock(&secret_classes[i].mu);
    }
    *slabs = nsl;
    *slots = nsp;
}

int aios__secure_protect(void *p, aios_protection prot)
{
    int rc;
    switch (prot) {
    case AIOS_PROTECT_READWRITE: rc = sodium_mprotect_readwrite(p); break;
    case AIOS_PROTECT_READONLY:  rc = sodium_mprotect_readonly(p); break;
    case AIOS_PROTECT_NOACCESS:  rc = sodium_mprotect_noaccess(p); break;
    default:
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "unknown protection %d", (int)prot);
    }
    if (rc != 0)
        return aios__fail(AIOS_E_INTERNAL, "mprotect on secure memory failed");
    return AIOS_OK;
}

void aios__mlock(void *p, size_t len)
{
    /* Best effort: RLIMIT_MEMLOCK may refuse; the region is still wiped. */
    (void)sodium_mlock(p, len);
}

void aios__munlock(void *p, size_t len)
{
    (void)sodium_munlock(p, len);   /* wipes before unlocking */
}

/* libsodium is not instrumented, so under AddressSanitizer an overflow
 * through sodium_memzero or sodium_memcmp would go unseen (one did, in a
 * test).  ASan builds first touch the same bytes with the intercepted
 * memset/memcmp, which check the bounds.  Release builds do not. */
#if defined(__SANITIZE_ADDRESS__)
#  define AIOS__ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define AIOS__ASAN 1
#  endif
#endif

void aios__wipe(void *p, size_t len)
{
#ifdef AIOS__ASAN
    if (len)
        memset(p, 0, len);
#endif
    sodium_memzero(p, len);
}

int aios__ct_equal(const void *a, const void *b, size_t len)
{
#ifdef AIOS__ASAN
    if (len) {
        volatile int probe = memcmp(a, b, len);
        (void)probe;
    }
#endif
    return sodium_memcmp(a, b, len) == 0;
}

int aios__ct_is_zero(const void *p, size_t len)
{
    return sodium_is_zero(p, len);
}

/* Known-answer vectors replace the CSPRNG with a fixed stream (tests
 * only: the library never sets it). */
static void (*random_override)(uint8_t *out, size_t len);

void aios__random_set_for_testing(void (*fn)(uint8_t *out, size_t len))
{
    random_override = fn;
}

/* ------------------------------------------------------- the fast CSPRNG
 *
 * Small requests (ids, nonces, keys: up to 256 bytes) come from a
 * per-thread ChaCha20 generator with fast key erasure (Bernstein, "Fast-key-
 * erasure random-number generators", 2017; the construction of OpenBSD's
 * and glibc 2.36's arc4random): each refill turns the current key into
 * 32 + 256 bytes of ChaCha20 keystream, the first 32 become the next key,
 * the rest are handed out once and wiped as they go.  A past state cannot
 * be rebuilt from the current one.  The state lives in a slab slot (locked,
 * out of core dumps).  It is reseeded from the OS (getrandom, through
 * libsodium) on first use, after every 1 MiB, and in a child after fork()
 * (a pthread_atfork handler bumps a generation every state checks), so a
 * parent and child never share output.  Larger requests go to the OS
 * directly.  Record ids of envelope sessions thus cost no system call. */

#define RNG_BUF     256u
#define RNG_RESEED  ((uint64_t)1 << 20)

typedef struct rng_state {
    uint8_t  key[32];
    uint8_t  buf[RNG_BUF];
    size_t   avail;            /* unread bytes at the end of buf */
    uint64_t generation;
    uint64_t since_seed;
} rng_state;

static _Thread_local rng_state *rng_tls;
static pthread_key_t rng_key;
static pthread_once_t rng_once = PTHREAD_ONCE_INIT;
static int rng_key_ok;
static _Atomic uint64_t rng_generation = 1;

/* Set while this thread's state is being torn down: calls made later
 * on it (from other thread-exit destructors) go to the OS generator
 * instead of a freed slot or a new state nobody would free. */
static _Thread_local int rng_gone;

static void rng_thread_exit(void *p)
{
    rng_tls = NULL;
    rng_gone = 1;
    aios__secret_free(p, sizeof(rng_state));
}

static void rng_after_fork(void)
{
    atomic_fetch_add(&rng_generation, 1);
}

static void rng_init_once(void)
{
    rng_key_ok = pthread_key_create(&rng_key, rng_thread_exit) == 0;
    (void)pthread_atfork(NULL, NULL, rng_after_fork);
}

static void rng_refill(rng_state *r)
{
    static const uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];
    uint8_t block[32 + RNG_BUF];
    (void)crypto_stream_chacha20(block, sizeof(block), nonce, r->key);
    memcpy(r->key, block, 32);
    memcpy(r->buf, block + 32, RNG_BUF);
    sodium_memzero(block, sizeof(block));
    r->avail = RNG_BUF;
}

static void rng_seed(rng_state *r)
{
    uint64_t gen = atomic_load(&rng_generation);
    randombytes_buf(r->key, sizeof(r->key));
    r->generation = gen;
    r->since_seed = 0;
    rng_refill(r);
}

static rng_state *rng_get(void)
{
    rng_state *r = rng_tls;
    if (r != NULL)
        return r;
    pthread_once(&rng_once, rng_init_once);
    if (!rng_key_ok)
        return NULL;
    r = aios__secret_alloc(sizeof(*r));
    if (r == NULL)
        return NULL;
    memset(r, 0, sizeof(*r));
    if (pthread_setspecific(rng_key, r) != 0) {
        aios__secret_free(r, sizeof(*r));
        return NULL;
    }
    rng_seed(r);
    rng_tls = r;
    return r;
}

void aios__random_bytes(uint8_t *out, size_t len)
{
    rng_state *r;

    if (random_override) {
        random_override(out, len);
        return;
    }
    if (len > RNG_BUF || rng_gone || (r = rng_get()) == NULL) {
        randombytes_buf(out, len);
        return;
    }
    if (r->generation != atomic_load(&rng_generation) || r->since_seed >= RNG_RESEED)
        rng_seed(r);
    if (r->avail < len)
        rng_refill(r);
    r->avail -= len;
    memcpy(out, r->buf + r->avail, len);
    sodium_memzero(r->buf + r->avail, len);
    r->since_seed += len;
}
