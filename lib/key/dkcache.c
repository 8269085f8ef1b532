/*
 * The data-key cache: unwrapped (or freshly generated) data keys, so a
 * host does not call its KMS for every record.
 *
 * Lookup
 *   An entry is named by a 32-byte id: keyed BLAKE2b-256, under a random
 *   key of this cache, of the key's provider name, id and version, the
 *   context bytes and the suite (each length-prefixed).  The hash key makes
 *   bucket positions unpredictable from outside, so nobody can aim
 *   collisions at the table or learn from timing which triples are cached.
 *   A second id of (provider, key id, version) alone, kept per entry, finds
 *   every entry of one key for aios_dkcache_evict_key.
 *
 * Structure
 *   One mutex guards a fixed hash table (chained, as many buckets as the
 *   next power of two >= capacity: never resized, so a get allocates
 *   nothing) and a doubly linked LRU list (most recent first).  A hit is
 *   the hash, one clock read (vDSO), the lock, a bucket walk, a move to the
 *   LRU head and a reference increment: no allocation, no system call.
 *
 * Memory
 *   Data keys live in slabs of secure memory (libsodium's guarded, locked,
 *   undumpable pages): 64 slots of AIOS_KEY_DATA_KEY_MAX bytes in one
 *   page, handed out through an atomic bit mask.  A slab per entry would
 *   cost four mappings and one locked page per key (the VMA limit and
 *   RLIMIT_MEMLOCK would bound the cache to a few thousand entries) and
 *   20 us of system calls per put.  The wrapped key is the ciphertext every
 *   envelope header carries, not a secret: it is kept with the entry in
 *   ordinary memory, wiped when freed.
 *
 * Lifetime
 *   An entry is reference counted: one reference while it is in the
 *   cache, one per caller holding it.  Eviction, expiry, replacement and
 *   aios_dkcache_free only drop the cache's reference, so an entry a caller
 *   holds stays valid; its last release wipes the data key and returns the
 *   slot.  A slab counts the cache plus each slot in use, so slabs (and
 *   held entries) outlive the cache when needed.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "key_internal.h"
#include "../crypto/crypto.h"

#define DK_CAPACITY_DEFAULT 1024u
#define DK_CAPACITY_MAX     65536u
#define DK_AGE_DEFAULT_MS   300000u
#define DK_MESSAGES_DEFAULT ((uint64_t)1 << 32)
#define DK_BYTES_DEFAULT    ((uint64_t)1 << 40)
#define DK_ID_LEN           32
#define DK_SLOT             AIOS_KEY_DATA_KEY_MAX
#define DK_SLAB_SLOTS       64

/* -------------------------------------------------------------- slabs */

typedef struct dk_slab {
    atomic_int            refs;       /* the cache's + one per slot in use */
    _Atomic uint64_t      free_mask;  /* bit i set: slot i is free */
    uint8_t              *mem;        /* DK_SLAB_SLOTS * DK_SLOT bytes of secure memory */
    struct dk_slab       *next;       /* the cache's list (under its mutex) */
} dk_slab;

static int slab_new(dk_slab **out)
{
    dk_slab *s = aios__calloc(1, sizeof(*s));
    *out = NULL;
    if (!s)
        return aios__nomem("a data-key cache slab");
    s->mem = aios__secure_malloc(DK_SLAB_SLOTS * DK_SLOT);
    if (!s->mem) {
        aios__free(s);
        return aios__fail(AIOS_E_NOMEM, "cannot allocate secure memory for the data-key cache");
    }
    memset(s->mem, 0, DK_SLAB_SLOTS * DK_SLOT);
    atomic_init(&s->refs, 1);
    atomic_init(&s->free_mask, UINT64_MAX);
    *out = s;
    return AIOS_OK;
}

static void slab_unref(dk_slab *s)
{
    if (atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    aios__secure_free(s->mem);      /* wipes */
    aios__free(s);
}

/* Claim a free slot: its index, or -1 when the slab is full.  The caller
 * holds a reference to s; the slot takes one of its own. */
static int slab_claim(dk_slab *s)
{
    uint64_t m = atomic_load(&s->free_mask);
    while (m != 0) {
        int i = __builtin_ctzll(m);
        if (atomic_compare_exchange_weak(&s->free_mask, &m, m & ~((uint64_t)1 << i))) {
            atomic_fetch_add(&s->refs, 1);
            return i;
        }
    }
    return -1;
}

/* Wipe a slot and give it back (the last use of it). */
static void slab_return(dk_slab *s, int i)
{
    aios__wipe(s->mem + (size_t)i * DK_SLOT, DK_SLOT);
    atomic_fetch_or(&s->free_mask, (uint64_t)1 << i);
    slab_unref(s);
}

/* ------------------------------------------------------------ entries */

struct aios_dkcache_entry {
    atomic_int                 refs;        /* the cache's (while linked) + holders */
    struct aios_dkcache_entry *hnext;       /* bucket chain (under the cache mutex) */
    struct aios_dkcache_entry *prev, *next; /* LRU list, most recent first */
    uint8_t                    id[DK_ID_LEN];
    uint8_t                    kid[DK_ID_LEN];
    uint64_t                   born_ns;     /* monotonic */
    uint64_t                   messages;    /* under the cache mutex */
    uint64_t                   bytes;
    dk_slab                   *slab;
    int                        slot;
    size_t                     dk_len;
    size_t                     wrapped_len;
    uint8_t                    wrapped[];   /* not secret: what envelopes carry */
};

static void entry_free(aios_dkcache_entry *e)
{
    slab_return(e->slab, e->slot);
    aios__free_secret(e, sizeof(*e) + e->wrapped_len);
}

static void entry_unref(aios_dkcache_entry *e)
{
    if (atomic_fetch_sub(&e->refs, 1) == 1)
        entry_free(e);
}

/* -------------------------------------------------------------- cache */

struct aios_dkcache {
    pthread_mutex_t      mu;
    aios_dkcache_entry **buckets;
    size_t               mask;          /* buckets - 1 */
    aios_dkcache_entry  *head, *tail;   /* LRU */
    size_t               count;
    dk_slab             *slabs;
    uint32_t             capacity;
    uint64_t             max_age_ns;
    uint64_t             max_messages;
    uint64_t             max_bytes;
    uint64_t             hits, misses, evictions, expirations;
    uint8_t              hkey[32];      /* the id hash key */
};

/* The coarse clock (a vDSO read of the last tick: 5 ns instead of 23,
 * with a resolution of a few milliseconds) is precise enough for an age
 * limit; both put and get use it. */
#ifdef CLOCK_MONOTONIC_COARSE
#  define DK_CLOCK CLOCK_MONOTONIC_COARSE
#else
#  define DK_CLOCK CLOCK_MONOTONIC
#endif

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(DK_CLOCK, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put_u64(uint8_t *p, uint64_t v)
{
    put_u32(p, (uint32_t)v);
    put_u32(p + 4, (uint32_t)(v >> 32));
}

/* tag || len || provider || len || key id || version: at most
 * 1 + 4 + 64 + 4 + 256 + 4 bytes. */
#define DK_KEYPART_MAX (1 + 4 + AIOS__PROVIDER_NAME_MAX + 4 + AIOS__KEY_ID_MAX_LEN + 4)

static size_t key_part(uint8_t *buf, uint8_t tag, const aios_key *key)
{
    size_t pl = strnlen(key->provider->name, AIOS__PROVIDER_NAME_MAX);
    size_t il = strnlen(key->id, AIOS__KEY_ID_MAX_LEN);
    size_t n = 0;
    buf[n++] = tag;
    put_u32(buf + n, (uint32_t)pl);
    n += 4;
    memcpy(buf + n, key->provider->name, pl);
    n += pl;
    put_u32(buf + n, (uint32_t)il);
    n += 4;
    memcpy(buf + n, key->id, il);
    n += il;
    put_u32(buf + n, key->version);
    n += 4;
    return n;
}

/* The entry id of (key, context, suite). */
static void entry_id(const aios_dkcache *cache, uint8_t id[DK_ID_LEN], const aios_key *key,
                     const uint8_t *context, size_t context_len, uint32_t suite)
{
    uint8_t buf[DK_KEYPART_MAX + 12];
    aios__blake2b_ctx h;
    size_t n = key_part(buf, 'E', key);
    put_u32(buf + n, suite);
    put_u64(buf + n + 4, (uint64_t)context_len);
    n += 12;
    (void)aios__blake2b_init(&h, DK_ID_LEN, cache->hkey, sizeof(cache->hkey));
    aios__blake2b_update(&h, buf, n);
    if (context_len > 0)
        aios__blake2b_update(&h, context, context_len);
    (void)aios__blake2b_final(&h, id, DK_ID_LEN);
}

/* The id of the key alone (for evict_key). */
static void key_id_hash(const aios_dkcache *cache, uint8_t kid[DK_ID_LEN], const aios_key *key)
{
    uint8_t buf[DK_KEYPART_MAX];
    size_t n = key_part(buf, 'K', key);
    (void)aios__blake2b(kid, DK_ID_LEN, buf, n, cache->hkey, sizeof(cache->hkey));
}

/* Ids are outputs of a keyed hash: comparing them tells nothing about a
 * key or a context, so this hot-path compare need not be constant time
 * (sodium_memcmp was 14% of a hit). */
static int id_equal(const uint8_t *a, const uint8_t *b)
{
    return memcmp(a, b, DK_ID_LEN) == 0;
}

static size_t bucket_of(const aios_dkcache *cache, const uint8_t id[DK_ID_LEN])
{
    uint64_t h;
    memcpy(&h, id, sizeof(h));
    return (size_t)(h & cache->mask);
}

/* Under the mutex. */
static aios_dkcache_entry *table_find(const aios_dkcache *cache, const uint8_t id[DK_ID_LEN])
{
    aios_dkcache_entry *e = cache->buckets[bucket_of(cache, id)];
    while (e && !id_equal(e->id, id))
        e = e->hnext;
    return e;
}

static void lru_unlink(aios_dkcache *cache, aios_dkcache_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        cache->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        cache->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_front(aios_dkcache *cache, aios_dkcache_entry *e)
{
    e->prev = NULL;
    e->next = cache->head;
    if (cache->head)
        cache->head->prev = e;
    cache->head = e;
    if (!cache->tail)
        cache->tail = e;
}

/* Take e out of the table and the list (under the mutex).  The cache's
 * reference passes to the caller, who drops it after unlocking. */
static void cache_remove(aios_dkcache *cache, aios_dkcache_entry *e)
{
    aios_dkcache_entry **pp = &cache->buckets[bucket_of(cache, e->id)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    e->hnext = NULL;
    lru_unlink(cache, e);
    cache->count--;
}

static void cache_insert(aios_dkcache *cache, aios_dkcache_entry *e)
{
    size_t b = bucket_of(cache, e->id);
    e->hnext = cache->buckets[b];
    cache->buckets[b] = e;
    lru_push_front(cache, e);
    cache->count++;
}

/* ------------------------------------------------------------ options */

static const size_t dkcache_options_sizes[] = {
    sizeof(aios_dkcache_options),           /* version 1 */
};
#define DKCACHE_OPTIONS_NVERSIONS \
    (unsigned int)(sizeof(dkcache_options_sizes) / sizeof(dkcache_options_sizes[0]))

int aios_dkcache_options_init(aios_dkcache_options *opts, unsigned int version)
{
    AIOS__CHECK_ARG(opts != NULL, "opts is NULL");
    if (version == 0 || version > DKCACHE_OPTIONS_NVERSIONS)
        return aios__fail(AIOS_E_VERSION, "aios_dkcache_options_init: version %u is not one "
                          "this library knows (1..%u)", version, DKCACHE_OPTIONS_NVERSIONS);
    memset(opts, 0, dkcache_options_sizes[version - 1]);
    opts->version = version;
    return AIOS_OK;
}

/* ------------------------------------------------------------- public */

int aios_dkcache_new(aios_dkcache **out, const aios_dkcache_options *opts)
{
    aios_dkcache_options o;
    aios_dkcache *cache;
    size_t nb = 1;
    int rc;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    rc = aios__options_copy(&o, sizeof(o), opts, dkcache_options_sizes,
                            DKCACHE_OPTIONS_NVERSIONS, "aios_dkcache_options");
    if (rc != AIOS_OK)
        return rc;
    if (o.capacity == 0)
        o.capacity = DK_CAPACITY_DEFAULT;
    if (o.capacity > DK_CAPACITY_MAX)
        return aios__fail(AIOS_E_LIMIT, "aios_dkcache_new: a capacity of %u entries is over "
                          "the limit of %u", o.capacity, DK_CAPACITY_MAX);
    if (o.max_age_ms == 0)
        o.max_age_ms = DK_AGE_DEFAULT_MS;
    if (o.max_age_ms > UINT64_MAX / 1000000u)
        o.max_age_ms = UINT64_MAX / 1000000u;       /* never, in practice */
    if (o.max_messages == 0)
        o.max_messages = DK_MESSAGES_DEFAULT;
    if (o.max_bytes == 0)
        o.max_bytes = DK_BYTES_DEFAULT;

    while (nb < o.capacity)
        nb <<= 1;
    cache = aios__calloc(1, sizeof(*cache));
    if (!cache)
        return aios__nomem("a data-key cache");
    cache->buckets = aios__calloc(nb, sizeof(*cache->buckets));
    if (!cache->buckets) {
        aios__free(cache);
        return aios__nomem("the data-key cache's table");
    }
    if (pthread_mutex_init(&cache->mu, NULL) != 0) {
        aios__free(cache->buckets);
        aios__free(cache);
        return aios__fail(AIOS_E_INTERNAL, "aios_dkcache_new: pthread_mutex_init failed");
    }
    cache->mask = nb - 1;
    cache->capacity = o.capacity;
    cache->max_age_ns = o.max_age_ms * 1000000u;
    cache->max_messages = o.max_messages;
    cache->max_bytes = o.max_bytes;
    aios__random_bytes(cache->hkey, sizeof(cache->hkey));
    *out = cache;
    return AIOS_OK;
}

void aios_dkcache_free(aios_dkcache *cache)
{
    aios_dkcache_entry *e, *next;
    dk_slab *s, *snext;

    if (!cache)
        return;
    pthread_mutex_lock(&cache->mu);
    e = cache->head;
    cache->head = cache->tail = NULL;
    cache->count = 0;
    s = cache->slabs;
    cache->slabs = NULL;
    pthread_mutex_unlock(&cache->mu);
    for (; e; e = next) {
        next = e->next;
        e->prev = e->next = e->hnext = NULL;
        entry_unref(e);             /* wiped now, or at its holder's release */
    }
    for (; s; s = snext) {
        snext = s->next;
        slab_unref(s);              /* freed now, or when its last held slot returns */
    }
    pthread_mutex_destroy(&cache->mu);
    aios__free(cache->buckets);
    aios__wipe(cache, sizeof(*cache));
    aios__free(cache);
}

/* A free slot from the cache's slabs, adding a slab when all are full. */
static int cache_slot(aios_dkcache *cache, dk_slab **slab_out, int *slot_out)
{
    dk_slab *s, *fresh;
    int i, rc;

    pthread_mutex_lock(&cache->mu);
    for (s = cache->slabs; s; s = s->next) {
        if ((i = slab_claim(s)) >= 0) {
            pthread_mutex_unlock(&cache->mu);
            *slab_out = s;
            *slot_out = i;
            return AIOS_OK;
        }
    }
    pthread_mutex_unlock(&cache->mu);

    /* The system calls of a new slab happen outside the lock. */
    if ((rc = slab_new(&fresh)) != AIOS_OK)
        return rc;
    i = slab_claim(fresh);          /* a fresh slab has 64 free slots */
    pthread_mutex_lock(&cache->mu);
    fresh->next = cache->slabs;
    cache->slabs = fresh;
    pthread_mutex_unlock(&cache->mu);
    *slab_out = fresh;
    *slot_out = i;
    return AIOS_OK;
}

static int key_usable(const aios_key *key, const char *fn)
{
    aios_key_state st = aios_key_get_state(key);
    if (st == AIOS_KEY_DISABLED)
        return aios__fail(AIOS_E_KEY_DISABLED, "%s: key '%s' version %u is disabled", fn,
                          key->id, key->version);
    if (st == AIOS_KEY_DESTROYED)
        return aios__fail(AIOS_E_KEY_DESTROYED, "%s: key '%s' version %u was destroyed", fn,
                          key->id, key->version);
    return AIOS_OK;
}

int aios_dkcache_put(aios_dkcache *cache, const aios_key *key,
                     const uint8_t *context, size_t context_len, uint32_t suite,
                     const uint8_t *data_key, size_t data_key_len,
                     const uint8_t *wrapped, size_t wrapped_len)
{
    aios_dkcache_entry *e, *old, *victim = NULL;
    int rc;

    AIOS__CHECK_ARG(cache != NULL, "cache is NULL");
    AIOS__CHECK_ARG(key != NULL, "key is NULL");
    AIOS__CHECK_ARG(context != NULL || context_len == 0, "context is NULL with a nonzero length");
    AIOS__CHECK_ARG(data_key != NULL, "data_key is NULL");
    AIOS__CHECK_ARG(wrapped != NULL || wrapped_len == 0, "wrapped is NULL with a nonzero length");
    if (data_key_len == 0 || data_key_len > AIOS_KEY_DATA_KEY_MAX)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "aios_dkcache_put: a data key is 1..%d "
                          "bytes, not %zu", AIOS_KEY_DATA_KEY_MAX, data_key_len);
    if (wrapped_len > AIOS_KEY_WRAPPED_MAX)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "aios_dkcache_put: a wrapped key is at most "
                          "%d bytes, not %zu", AIOS_KEY_WRAPPED_MAX, wrapped_len);
    if ((rc = key_usable(key, "aios_dkcache_put")) != AIOS_OK)
        return rc;

    e = aios__calloc(1, sizeof(*e) + wrapped_len);
    if (!e)
        return aios__nomem("a data-key cache entry");
    if ((rc = cache_slot(cache, &e->slab, &e->slot)) != AIOS_OK) {
        aios__free(e);
        return rc;
    }
    atomic_init(&e->refs, 1);
    entry_id(cache, e->id, key, context, context_len, suite);
    key_id_hash(cache, e->kid, key);
    memcpy(e->slab->mem + (size_t)e->slot * DK_SLOT, data_key, data_key_len);
    e->dk_len = data_key_len;
    if (wrapped_len > 0)
        memcpy(e->wrapped, wrapped, wrapped_len);
    e->wrapped_len = wrapped_len;
    e->born_ns = mono_ns();

    pthread_mutex_lock(&cache->mu);
    old = table_find(cache, e->id);
    if (old)
        cache_remove(cache, old);           /* replaced */
    else if (cache->count >= cache->capacity) {
        victim = cache->tail;               /* least recently used */
        cache_remove(cache, victim);
        cache->evictions++;
    }
    cache_insert(cache, e);
    pthread_mutex_unlock(&cache->mu);

    if (old)
        entry_unref(old);
    if (victim)
        entry_unref(victim);
    return AIOS_OK;
}

int aios_dkcache_get(aios_dkcache *cache, aios_dkcache_entry **entry_out,
                     const aios_key *key, const uint8_t *context, size_t context_len,
                     uint32_t suite, uint64_t bytes)
{
    uint8_t id[DK_ID_LEN];
    aios_dkcache_entry *e;
    aios_key_state state;
    const char *why;
    uint64_t now;

    AIOS__CHECK_ARG(entry_out != NULL, "entry_out is NULL");
    *entry_out = NULL;
    AIOS__CHECK_ARG(cache != NULL, "cache is NULL");
    AIOS__CHECK_ARG(key != NULL, "key is NULL");
    AIOS__CHECK_ARG(context != NULL || context_len == 0, "context is NULL with a nonzero length");

    entry_id(cache, id, key, context, context_len, suite);
    state = aios_key_get_state(key);
    now = mono_ns();
    pthread_mutex_lock(&cache->mu);
    e = table_find(cache, id);
    if (AIOS__UNLIKELY(e == NULL)) {
        cache->misses++;
        pthread_mutex_unlock(&cache->mu);
        return aios__fail(AIOS_E_NOT_FOUND, "aios_dkcache_get: no data key cached for key "
                          "'%s' version %u with this context and suite %u", key->id,
                          key->version, suite);
    }
    /* Which limit this message would cross, if any. */
    /* now was read before the lock: a put since then may be younger. */
    if (AIOS__UNLIKELY(now > e->born_ns && now - e->born_ns >= cache->max_age_ns))
        why = "is older than max_age_ms";
    else if (AIOS__UNLIKELY(e->messages >= cache->max_messages))
        why = "has reached max_messages";
    else if (AIOS__UNLIKELY(bytes > cache->max_bytes - e->bytes))
        why = "would exceed max_bytes";
    else if (AIOS__UNLIKELY(state == AIOS_KEY_DISABLED || state == AIOS_KEY_DESTROYED))
        why = "belongs to a key version that is now disabled or destroyed";
    else
        why = NULL;
    if (AIOS__UNLIKELY(why != NULL)) {
        cache_remove(cache, e);
        cache->expirations++;
        cache->misses++;
        pthread_mutex_unlock(&cache->mu);
        entry_unref(e);
        return aios__fail(AIOS_E_NOT_FOUND, "aios_dkcache_get: the data key cached for key "
                          "'%s' version %u %s: it was evicted", key->id, key->version, why);
    }
    e->messages++;
    e->bytes += bytes;
    if (cache->head != e) {
        lru_unlink(cache, e);
        lru_push_front(cache, e);
    }
    cache->hits++;
    atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
    pthread_mutex_unlock(&cache->mu);
    *entry_out = e;
    return AIOS_OK;
}

const uint8_t *aios_dkcache_entry_data_key(const aios_dkcache_entry *entry, size_t *len_out)
{
    if (!entry) {
        if (len_out)
            *len_out = 0;
        return NULL;
    }
    if (len_out)
        *len_out = entry->dk_len;
    return entry->slab->mem + (size_t)entry->slot * DK_SLOT;
}

const uint8_t *aios_dkcache_entry_wrapped(const aios_dkcache_entry *entry, size_t *len_out)
{
    if (len_out)
        *len_out = entry ? entry->wrapped_len : 0;
    if (!entry || entry->wrapped_len == 0)
        return NULL;
    return entry->wrapped;
}

void aios_dkcache_entry_release(aios_dkcache_entry *entry)
{
    if (entry)
        entry_unref(entry);
}

void aios_dkcache_evict_key(aios_dkcache *cache, const aios_key *key)
{
    uint8_t kid[DK_ID_LEN];
    aios_dkcache_entry *e, *next, *dropped = NULL;

    if (!cache || !key)
        return;
    key_id_hash(cache, kid, key);
    pthread_mutex_lock(&cache->mu);
    for (e = cache->head; e; e = next) {
        next = e->next;
        if (id_equal(e->kid, kid)) {
            cache_remove(cache, e);
            e->hnext = dropped;     /* unlinked: the chain field is free */
            dropped = e;
        }
    }
    pthread_mutex_unlock(&cache->mu);
    for (e = dropped; e; e = next) {
        next = e->hnext;
        e->hnext = NULL;
        entry_unref(e);
    }
}

int aios_dkcache_get_stats(aios_dkcache *cache, aios_dkcache_stats *stats)
{
    aios_dkcache_stats now;
    size_t size;

    AIOS__CHECK_ARG(cache != NULL, "cache is NULL");
    AIOS__CHECK_ARG(stats != NULL, "stats is NULL");
    size = stats->size;
    if (size < offsetof(aios_dkcache_stats, hits) + sizeof(stats->hits))
        return aios__fail(AIOS_E_VERSION, "aios_dkcache_get_stats: stats->size is %zu, "
                          "smaller than the first aios_dkcache_stats; set it to "
                          "sizeof(aios_dkcache_stats)", size);
    pthread_mutex_lock(&cache->mu);
    now.hits = cache->hits;
    now.misses = cache->misses;
    now.evictions = cache->evictions;
    now.expirations = cache->expirations;
    now.entries = cache->count;
    pthread_mutex_unlock(&cache->mu);
    /* Fill only the members the caller's struct holds. */
#define FILL(member)                                                                  \
    do {                                                                              \
        if (size >= offsetof(aios_dkcache_stats, member) + sizeof(stats->member))     \
            stats->member = now.member;                                               \
    } while (0)
    FILL(hits);
    FILL(misses);
    FILL(evictions);
    FILL(expirations);
    FILL(entries);
#undef FILL
    return AIOS_OK;
}
