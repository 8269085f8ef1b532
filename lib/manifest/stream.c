/*
 * lib/manifest/stream.c: incremental verification (MANIFEST.md 11, 16.3,
 * 16.4): one file, a byte range (shards), and streams through which a
 * loader reads a file while it is verified.  Every file is opened once,
 * beneath the model root, without following a symlink, and everything is
 * read and checked through that one descriptor.
 *
 * Streams with threads > 1 overlap reading and hashing:
 *   - read_verified (rv_*): the units of one call are shared out between
 *     the caller's thread and helpers started for the call; each reads its
 *     units into their place in the caller's buffer and hashes them.
 *     Nothing is returned before every unit is checked, as with one thread.
 *   - read (bg_*): one hashing thread per stream behind a ring of
 *     RING_SLOTS x RING_SLOT bytes.  read copies what it read into the ring
 *     (the caller may reuse its buffer at once) and returns; the hashing
 *     thread closes units and records the first that differs, which the
 *     caller's thread reports.  Only the caller's thread ever sets the
 *     thread-local error detail.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aios/manifest.h"
#include "core/internal.h"
#include "crypto/crypto.h"
#include "manifest_obj.h"

/* read_verified reads and hashes a unit in pieces of this size. */
#define READ_PIECE ((size_t)256 << 10)
/* read_verified calls with fewer bytes than this stay on one thread. */
#define MT_MIN ((size_t)1 << 20)
/* read's hashing thread: the ring, and the smallest file that gets one. */
#define RING_SLOTS 4
#define RING_SLOT ((size_t)1 << 20)
#define BG_MIN RING_SLOT

#define NO_UNIT SIZE_MAX

typedef struct stream_bg stream_bg;

struct aios_manifest_stream {
    aios_manifest        *m;
    const aios__mf_path  *p;
    int                   fd;
    int                   shards;
    uint32_t              threads;    /* 1 = the caller's thread only */
    uint64_t              size;       /* at open */
    int64_t               mtime_sec, mtime_nsec;
    uint64_t              pos;        /* bytes read through the stream */
    size_t                unit;       /* the unit being hashed */
    aios__mf_hasher       h;
    stream_bg            *bg;         /* read's hashing thread, if running */
    int                   bg_tried;
    int                   mode;       /* 0 none yet, 1 read, 2 read_verified */
    int                   failed;     /* sticky status, 0 = none */
    int                   done;       /* finish succeeded */
    char                  path[AIOS__MF_PATH_MAX + 1];
};

static uint64_t unit_start(const aios_manifest_stream *s, size_t u)
{
    return s->shards ? aios__mf_res(s->m, s->p, u)->start : 0;
}

static uint64_t unit_end(const aios_manifest_stream *s, size_t u)
{
    return s->shards ? aios__mf_res(s->m, s->p, u)->end : s->size;
}

static size_t unit_count(const aios_manifest_stream *s)
{
    return s->shards ? s->p->count : 1;
}

static const uint8_t *unit_digest(const aios_manifest_stream *s, size_t u)
{
    return s->shards ? aios__mf_res(s->m, s->p, u)->digest : aios__mf_res(s->m, s->p, 0)->digest;
}

static size_t digest_len(const aios_manifest_stream *s)
{
    return s->m->st->hash_type == AIOS__MB_BLAKE2B ? 64 : 32;
}

static void bg_stop(aios_manifest_stream *s, int drain);

static int sfail(aios_manifest_stream *s, int rc)
{
    s->failed = rc;
    if (s->bg != NULL)
        bg_stop(s, 0);
    return rc;
}

static size_t bg_bad(aios_manifest_stream *s);
static int mismatch(aios_manifest_stream *s, size_t u);

/* A read failed (rc, its detail already set): but a unit that read's
 * hashing thread already found to differ is what the caller hears, as
 * with one thread, where it would have failed first. */
static int read_failed(aios_manifest_stream *s, int rc)
{
    size_t bad = s->bg != NULL ? bg_bad(s) : NO_UNIT;
    return bad != NO_UNIT ? mismatch(s, bad) : sfail(s, rc);
}

/* Unit u differs: fail the stream, naming its bytes. */
static int mismatch(aios_manifest_stream *s, size_t u)
{
    uint64_t at = unit_start(s, u);
    return sfail(s, aios__fail(AIOS_E_MANIFEST_MISMATCH, "manifest: '%s' differs from the "
                               "manifest (bytes %" PRIu64 "..%" PRIu64 ")", s->path, at,
                               unit_end(s, u)));
}

/* Hash p[0..n), the bytes at *pos, into h, closing units at their ends
 * (*unit counts them).  Returns NO_UNIT, or the unit that differs.  Runs
 * on the caller's thread or on read's hashing thread: it sets no error. */
static size_t feed_units(const aios_manifest_stream *s, aios__mf_hasher *h, uint64_t *pos,
                         size_t *unit, const uint8_t *p, size_t n)
{
    while (n > 0) {
        uint64_t end = unit_end(s, *unit);
        size_t take = (uint64_t)n < end - *pos ? n : (size_t)(end - *pos);
        aios__mf_hasher_update(h, p, take);
        *pos += take;
        p += take;
        n -= take;
        if (*pos == end) {
            uint8_t d[64];
            aios__mf_hasher_final(h, d);
            if (memcmp(d, unit_digest(s, *unit), digest_len(s)) != 0)
                return *unit;
            ++*unit;
            aios__mf_hasher_init(h, aios__mf_manifest_hash_type(s->m));
        }
    }
    return NO_UNIT;
}

/* Close the current unit (an empty file's): compare its digest. */
static int unit_close(aios_manifest_stream *s)
{
    uint8_t d[64];
    aios__mf_hasher_final(&s->h, d);
    if (memcmp(d, unit_digest(s, s->unit), digest_len(s)) != 0)
        return mismatch(s, s->unit);
    s->unit++;
    aios__mf_hasher_init(&s->h, aios__mf_manifest_hash_type(s->m));
    return AIOS_OK;
}

/* Hash p[0..n), read at s->pos, on the caller's thread. */
static int feed(aios_manifest_stream *s, const uint8_t *p, size_t n)
{
    size_t bad = feed_units(s, &s->h, &s->pos, &s->unit, p, n);
    return bad == NO_UNIT ? AIOS_OK : mismatch(s, bad);
}

/* Exactly n bytes at offset off, or fail CHANGED.  Streams read with
 * pread at their own position: the descriptor may be a duplicate of the
 * caller's (a single-file model), whose file offset is not ours. */
static int read_at(aios_manifest_stream *s, uint8_t *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(s->fd, buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return read_failed(s, aios__fail_errno(AIOS_E_IO, errno, "manifest: cannot read "
                                                   "'%s'", s->path));
        if (r == 0)
            return read_failed(s, aios__fail(AIOS_E_MANIFEST_CHANGED, "manifest: '%s' was "
                                             "truncated while it was read (%" PRIu64 " bytes "
                                             "expected)", s->path, s->size));
        got += (size_t)r;
    }
    return AIOS_OK;
}

static int read_exact(aios_manifest_stream *s, uint8_t *buf, size_t n)
{
    return read_at(s, buf, n, s->pos);
}

/* ------------------------------------------------------------ read's hashing thread */

struct stream_bg {
    pthread_t       tid;
    pthread_mutex_t mu;
    pthread_cond_t  to_fill, to_hash;
    uint64_t        filled, hashed;     /* slots, under mu */
    size_t          len[RING_SLOTS];
    int             quit;               /* under mu: 1 hash what is queued, 2 drop it */
    size_t          bad;                /* under mu: NO_UNIT, or the unit that differs */
    /* the hashing thread's own until it is joined */
    aios__mf_hasher h;
    uint64_t        pos;
    size_t          unit;
    uint8_t         ring[];             /* RING_SLOTS x RING_SLOT */
};

static void *bg_main(void *arg)
{
    aios_manifest_stream *s = arg;
    stream_bg *g = s->bg;
    for (;;) {
        uint64_t slot;
        size_t bad;
        pthread_mutex_lock(&g->mu);
        while (g->filled == g->hashed && g->quit == 0)
            pthread_cond_wait(&g->to_hash, &g->mu);
        if (g->quit == 2 || g->filled == g->hashed) {
            pthread_mutex_unlock(&g->mu);
            return NULL;
        }
        slot = g->hashed % RING_SLOTS;
        bad = g->bad;
        pthread_mutex_unlock(&g->mu);
        if (bad == NO_UNIT)
            bad = feed_units(s, &g->h, &g->pos, &g->unit, g->ring + slot * RING_SLOT,
                             g->len[slot]);
        pthread_mutex_lock(&g->mu);
        g->bad = bad;
        g->hashed++;
        pthread_cond_signal(&g->to_fill);
        pthread_mutex_unlock(&g->mu);
    }
}

/* Start the hashing thread at the stream's first read.  On failure the
 * stream simply hashes on the caller's thread. */
static void bg_start(aios_manifest_stream *s)
{
    stream_bg *g;
    s->bg_tried = 1;
    if (s->threads < 2 || s->size - s->pos < BG_MIN || s->pos != 0)
        return;
    g = aios__malloc(sizeof(*g) + (size_t)RING_SLOTS * RING_SLOT);
    if (g == NULL)
        return;
    memset(g, 0, sizeof(*g));
    g->bad = NO_UNIT;
    g->h = s->h;
    g->pos = s->pos;
    g->unit = s->unit;
    if (pthread_mutex_init(&g->mu, NULL) != 0) {
        aios__free(g);
        return;
    }
    if (pthread_cond_init(&g->to_fill, NULL) != 0) {
        pthread_mutex_destroy(&g->mu);
        aios__free(g);
        return;
    }
    if (pthread_cond_init(&g->to_hash, NULL) != 0) {
        pthread_cond_destroy(&g->to_fill);
        pthread_mutex_destroy(&g->mu);
        aios__free(g);
        return;
    }
    s->bg = g;
    if (pthread_create(&g->tid, NULL, bg_main, s) != 0) {
        s->bg = NULL;
        pthread_cond_destroy(&g->to_hash);
        pthread_cond_destroy(&g->to_fill);
        pthread_mutex_destroy(&g->mu);
        aios__free(g);
    }
}

/* End the hashing thread: drain = 1 hashes what is queued first and hands
 * its state back to the stream (finish), 0 drops it (a failure, free).
 * Returns the unit that differs, or NO_UNIT. */
static size_t bg_end(aios_manifest_stream *s, int drain)
{
    stream_bg *g = s->bg;
    size_t bad;
    pthread_mutex_lock(&g->mu);
    g->quit = drain ? 1 : 2;
    pthread_cond_signal(&g->to_hash);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->tid, NULL);
    bad = g->bad;
    if (drain) {
        s->h = g->h;
        s->unit = g->unit;
    }
    aios__wipe(&g->h, sizeof(g->h));
    pthread_cond_destroy(&g->to_hash);
    pthread_cond_destroy(&g->to_fill);
    pthread_mutex_destroy(&g->mu);
    aios__wipe(g->ring, (size_t)RING_SLOTS * RING_SLOT);
    aios__free(g);
    s->bg = NULL;
    return bad;
}

static void bg_stop(aios_manifest_stream *s, int drain)
{
    (void)bg_end(s, drain);
}

/* The unit the hashing thread found to differ so far, or NO_UNIT. */
static size_t bg_bad(aios_manifest_stream *s)
{
    stream_bg *g = s->bg;
    size_t bad;
    pthread_mutex_lock(&g->mu);
    bad = g->bad;
    pthread_mutex_unlock(&g->mu);
    return bad;
}

/* The next free slot, once the hashing thread has made room; a mismatch
 * it found fails the stream instead. */
static int bg_slot(aios_manifest_stream *s, uint8_t **slot)
{
    stream_bg *g = s->bg;
    size_t bad;
    pthread_mutex_lock(&g->mu);
    while (g->filled - g->hashed == RING_SLOTS && g->bad == NO_UNIT)
        pthread_cond_wait(&g->to_fill, &g->mu);
    bad = g->bad;
    *slot = g->ring + (g->filled % RING_SLOTS) * RING_SLOT;
    pthread_mutex_unlock(&g->mu);
    return bad == NO_UNIT ? AIOS_OK : mismatch(s, bad);
}

static void bg_queue(aios_manifest_stream *s, size_t n)
{
    stream_bg *g = s->bg;
    pthread_mutex_lock(&g->mu);
    g->len[g->filled % RING_SLOTS] = n;
    g->filled++;
    pthread_cond_signal(&g->to_hash);
    pthread_mutex_unlock(&g->mu);
}

/* Queue a copy of p[0..n), the bytes read at s->pos, for hashing. */
static int bg_push(aios_manifest_stream *s, const uint8_t *p, size_t n)
{
    while (n > 0) {
        size_t take = n < RING_SLOT ? n : RING_SLOT;
        uint8_t *slot;
        int rc = bg_slot(s, &slot);
        if (rc != AIOS_OK)
            return rc;
        memcpy(slot, p, take);
        bg_queue(s, take);
        s->pos += take;
        p += take;
        n -= take;
    }
    return AIOS_OK;
}

/* finish: read the rest straight into the ring, then wait for the hash. */
static int bg_finish(aios_manifest_stream *s)
{
    size_t bad;
    while (s->pos < s->size) {
        uint64_t left = s->size - s->pos;
        size_t n = left < RING_SLOT ? (size_t)left : RING_SLOT;
        uint8_t *slot;
        int rc = bg_slot(s, &slot);
        if (rc != AIOS_OK || (rc = read_exact(s, slot, n)) != AIOS_OK)
            return rc;
        bg_queue(s, n);
        s->pos += n;
    }
    bad = bg_end(s, 1);
    return bad == NO_UNIT ? AIOS_OK : mismatch(s, bad);
}

/* ------------------------------------------------------------ read_verified on threads */

/* The call's units are shared out: each thread (the caller's and the
 * helpers) takes a unit, or two at once on a 2-lane kernel when there are
 * more units than threads, reads it into its place in the caller's buffer
 * in READ_PIECE steps and hashes each piece while it is in the CPU's
 * cache.  The threads read disjoint ranges through the one descriptor. */
typedef struct rv_job {
    const aios_manifest_stream *s;
    uint8_t                    *buf;
    uint64_t                    pos0;   /* the file offset of buf[0], a unit's start */
    size_t                      u0, n;  /* the call's units: u0 .. u0 + n - 1 */
    int                         lanes;  /* 2: take two units at once */
    atomic_size_t               next;   /* the next unit to take, 0-based */
    atomic_int                  stop;   /* a read failed: the others give up */
    atomic_size_t               bad;    /* the first unit (0-based) that differs, or NO_UNIT */
    pthread_mutex_t             mu;     /* guards err_* */
    int                         err_set, err_errno;   /* the first read failure; errno 0: */
    uint64_t                    err_at;               /* the file ended at err_at */
} rv_job;

static void rv_bad(rv_job *j, size_t u)
{
    size_t cur = atomic_load(&j->bad);
    while (u < cur && !atomic_compare_exchange_weak(&j->bad, &cur, u))
        ;
}

/* pread exactly n bytes at off; on failure record it (first one wins). */
static int rv_read(rv_job *j, uint8_t *p, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(j->s->fd, p + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            pthread_mutex_lock(&j->mu);
            if (!j->err_set) {
                j->err_set = 1;
                j->err_errno = r < 0 ? errno : 0;
                j->err_at = off + got;
            }
            pthread_mutex_unlock(&j->mu);
            atomic_store(&j->stop, 1);
            return 0;
        }
        got += (size_t)r;
    }
    return 1;
}

static size_t piece_at(size_t len, size_t k)
{
    return k >= len ? 0 : (len - k < READ_PIECE ? len - k : READ_PIECE);
}

/* Read and hash unit a, and b (when b != NO_UNIT) in step with it. */
static void rv_units(rv_job *j, size_t a, size_t b)
{
    const aios_manifest_stream *s = j->s;
    aios__mf_hash_type t = aios__mf_manifest_hash_type(s->m);
    aios__mf_hasher h[2];
    size_t idx[2] = { a, b }, off[2] = { 0, 0 }, len[2] = { 0, 0 }, most = 0, k;
    int nl = b == NO_UNIT ? 1 : 2, i;

    for (i = 0; i < nl; i++) {
        uint64_t st = unit_start(s, j->u0 + idx[i]);
        off[i] = (size_t)(st - j->pos0);
        len[i] = (size_t)(unit_end(s, j->u0 + idx[i]) - st);
        if (len[i] > most)
            most = len[i];
        aios__mf_hasher_init(&h[i], t);
    }
    for (k = 0; k < most; k += READ_PIECE) {
        size_t n0 = piece_at(len[0], k), n1 = piece_at(len[1], k), m = 0;
        if (atomic_load_explicit(&j->stop, memory_order_relaxed) ||
            (n0 && !rv_read(j, j->buf + off[0] + k, n0, j->pos0 + off[0] + k)) ||
            (n1 && !rv_read(j, j->buf + off[1] + k, n1, j->pos0 + off[1] + k))) {
            aios__wipe(h, sizeof(h));
            return;
        }
        if (n0 && n1 && t == AIOS__MF_SHA256) {
            m = n0 < n1 ? n0 : n1;
            aios__sha256_update2(&h[0].sha, j->buf + off[0] + k, &h[1].sha,
                                 j->buf + off[1] + k, m);
        }
        if (n0 > m)
            aios__mf_hasher_update(&h[0], j->buf + off[0] + k + m, n0 - m);
        if (n1 > m)
            aios__mf_hasher_update(&h[1], j->buf + off[1] + k + m, n1 - m);
    }
    for (i = 0; i < nl; i++) {
        uint8_t d[64];
        aios__mf_hasher_final(&h[i], d);
        if (memcmp(d, unit_digest(s, j->u0 + idx[i]), digest_len(s)) != 0)
            rv_bad(j, idx[i]);
    }
}

static void rv_work(rv_job *j)
{
    for (;;) {
        size_t a = atomic_fetch_add(&j->next, 1), b = NO_UNIT;
        if (a >= j->n || atomic_load(&j->stop))
            return;
        if (j->lanes == 2) {
            b = atomic_fetch_add(&j->next, 1);
            if (b >= j->n)
                b = NO_UNIT;
        }
        rv_units(j, a, b);
    }
}

static void *rv_thread(void *arg)
{
    rv_work(arg);
    return NULL;
}

/* Read n whole units (total bytes, from s->pos, a unit's start) into buf
 * on up to s->threads threads; check all before anything is returned.
 * RV_SERIAL: nothing done, the caller's thread is to do it alone. */
#define RV_SERIAL 1
static int read_units_mt(aios_manifest_stream *s, uint8_t *buf, size_t n, size_t total)
{
    pthread_t tids[AIOS__MF_THREADS_MAX];
    uint32_t nt = 0, want;
    size_t bad, items;
    rv_job j;
    int rc = AIOS_OK;

    memset(&j, 0, sizeof(j));
    j.s = s;
    j.buf = buf;
    j.pos0 = s->pos;
    j.u0 = s->unit;
    j.n = n;
    /* Pairs when some thread would take two units anyway. */
    j.lanes = n > s->threads && aios__mf_manifest_hash_type(s->m) == AIOS__MF_SHA256 &&
              aios__sha256_two_lanes() ? 2 : 1;
    atomic_init(&j.next, 0);
    atomic_init(&j.stop, 0);
    atomic_init(&j.bad, NO_UNIT);
    if (pthread_mutex_init(&j.mu, NULL) != 0)
        return RV_SERIAL;
    items = (n + (size_t)j.lanes - 1) / (size_t)j.lanes;
    /* helpers: the caller's thread is one of the threads */
    want = (uint32_t)(items < (size_t)s->threads ? items : (size_t)s->threads) - 1;
    while (nt < want && pthread_create(&tids[nt], NULL, rv_thread, &j) == 0)
        nt++;
    rv_work(&j);
    while (nt > 0)
        pthread_join(tids[--nt], NULL);
    pthread_mutex_destroy(&j.mu);
    bad = atomic_load(&j.bad);
    if (bad != NO_UNIT)   /* what one thread would have said first, if it got that far */
        rc = mismatch(s, s->unit + bad);
    else if (j.err_set && j.err_errno != 0)
        rc = sfail(s, aios__fail_errno(AIOS_E_IO, j.err_errno, "manifest: cannot read '%s'",
                                       s->path));
    else if (j.err_set)
        rc = sfail(s, aios__fail(AIOS_E_MANIFEST_CHANGED, "manifest: '%s' was truncated while "
                                 "it was read (%" PRIu64 " bytes expected, it ended at %" PRIu64
                                 ")", s->path, s->size, j.err_at));
    if (rc != AIOS_OK) {
        memset(buf, 0, total);   /* nothing unverified reaches the caller */
        return rc;
    }
    s->unit += n;
    s->pos += total;
    return AIOS_OK;
}

/* At the end: nothing more to read, and the file did not change. */
static int check_end(aios_manifest_stream *s)
{
    uint8_t extra;
    struct stat st;
    ssize_t r;
    do {
        r = pread(s->fd, &extra, 1, (off_t)s->size);
    } while (r < 0 && errno == EINTR);
    if (r < 0)
        return sfail(s, aios__fail_errno(AIOS_E_IO, errno, "manifest: cannot read '%s'", s->path));
    if (fstat(s->fd, &st) != 0)
        return sfail(s, aios__fail_errno(AIOS_E_IO, errno, "manifest: cannot stat '%s'", s->path));
    if (r > 0 || (uint64_t)st.st_size != s->size || st.st_mtim.tv_sec != s->mtime_sec ||
        st.st_mtim.tv_nsec != s->mtime_nsec)
        return sfail(s, aios__fail(AIOS_E_MANIFEST_CHANGED, "manifest: '%s' changed while it "
                                   "was read", s->path));
    return AIOS_OK;
}

static const size_t stream_sizes[] = { sizeof(aios_manifest_stream_options) };

int aios_manifest_stream_options_init(aios_manifest_stream_options *opts, unsigned int version)
{
    return aios__options_init(opts, version, stream_sizes, 1,
                              "aios_manifest_stream_options_init");
}

int aios_manifest_stream_open(aios_manifest_stream **out, const aios_manifest *m, int root_dirfd,
                              const char *rel_path)
{
    aios_manifest_stream_options o = AIOS_MANIFEST_STREAM_OPTIONS_INIT;
    o.threads = 1;
    return aios_manifest_stream_new(out, m, root_dirfd, rel_path, &o);
}

int aios_manifest_stream_new(aios_manifest_stream **out, const aios_manifest *m, int root_dirfd,
                             const char *rel_path, const aios_manifest_stream_options *opts)
{
    aios_manifest_stream_options o;
    aios_manifest_stream *s;
    const aios__mf_path *p;
    struct stat st;
    size_t len;
    int fd, rc, dot;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    if ((rc = aios__options_copy(&o, sizeof(o), opts, stream_sizes, 1,
                                 "aios_manifest_stream_options")) != AIOS_OK)
        return rc;
    if (o.threads > AIOS__MF_THREADS_MAX)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "aios_manifest_stream_options: threads %u is "
                          "over %u", o.threads, AIOS__MF_THREADS_MAX);
    if (o.threads == 0)
        o.threads = aios__mf_online_cpus();
    AIOS__CHECK_ARG(m != NULL && rel_path != NULL, "manifest or rel_path is NULL");
    AIOS__CHECK_ARG(root_dirfd >= 0, "root_dirfd is not a descriptor");
    if (!(m->flags & (AIOS_MANIFEST_F_VERIFIED | AIOS_MANIFEST_F_SIGNED)))
        return aios__fail(AIOS_E_MANIFEST_UNVERIFIED, "manifest stream: the manifest "
                          "was not verified");
    len = strlen(rel_path);
    dot = len == 1 && rel_path[0] == '.';
    if (!dot && (rc = aios__mf_path_check(rel_path, len, "rel_path")) != AIOS_OK)
        return rc;
    p = aios__mf_manifest_find(m, rel_path, len);
    if (p == NULL && dot && m->npaths == 1)
        p = &m->paths[0];   /* a single-file model named by its basename, read through "." */
    if (p == NULL)
        return aios__fail(AIOS_E_MANIFEST_NOT_SIGNED, "manifest: '%.200s' is not named by the "
                          "manifest", rel_path);
    if (dot)
        fd = fcntl(root_dirfd, F_DUPFD_CLOEXEC, 0);
    else
        fd = aios__mf_open_beneath(root_dirfd, rel_path, O_NONBLOCK);
    if (fd < 0) {
        if (errno == ELOOP)
            return aios__fail(AIOS_E_MANIFEST_SYMLINK, "manifest: '%.200s' is (or passes through) "
                              "a symlink, which a verified read never follows", rel_path);
        return aios__fail_errno(errno == ENOENT ? AIOS_E_NOT_FOUND : AIOS_E_IO, errno,
                                "manifest: cannot open '%.200s'", rel_path);
    }
    if (fstat(fd, &st) != 0) {
        rc = aios__fail_errno(AIOS_E_IO, errno, "manifest: cannot stat '%.200s'", rel_path);
        close(fd);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return aios__fail(S_ISDIR(st.st_mode) ? AIOS_E_INVALID_ARGUMENT : AIOS_E_MANIFEST_SPECIAL_FILE,
                          "manifest: '%.200s' is not a regular file", rel_path);
    }
    if (m->st->method == AIOS__MB_SHARDS && (uint64_t)st.st_size != p->size) {
        close(fd);
        return aios__fail(AIOS_E_MANIFEST_MISMATCH, "manifest: '%.200s' is %lld bytes; the "
                          "manifest signed %" PRIu64, rel_path, (long long)st.st_size, p->size);
    }
    /* Nonblocking was only for the open (a FIFO cannot block it); "." is
     * a duplicate of the caller's descriptor, whose flags are not ours. */
    if (!dot) {
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
            (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    }
    s = aios__calloc(1, sizeof(*s));
    if (s == NULL) {
        close(fd);
        return aios__nomem("a manifest stream");
    }
    s->m = aios_manifest_ref((aios_manifest *)(uintptr_t)m);
    s->p = p;
    s->fd = fd;
    s->shards = m->st->method == AIOS__MB_SHARDS;
    s->threads = o.threads;
    s->size = (uint64_t)st.st_size;
    s->mtime_sec = (int64_t)st.st_mtim.tv_sec;
    s->mtime_nsec = (int64_t)st.st_mtim.tv_nsec;
    memcpy(s->path, rel_path, len + 1);
    aios__mf_hasher_init(&s->h, aios__mf_manifest_hash_type(m));
    if (s->size > 0 || s->shards)
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    *out = s;
    return AIOS_OK;
}

void aios_manifest_stream_free(aios_manifest_stream *s)
{
    if (s == NULL)
        return;
    if (s->bg != NULL)
        bg_stop(s, 0);
    if (s->fd >= 0)
        close(s->fd);
    aios_manifest_unref(s->m);
    aios__free(s);
}

uint64_t aios_manifest_stream_size(const aios_manifest_stream *s)
{
    return s ? s->size : 0;
}

uint64_t aios_manifest_stream_unit_size(const aios_manifest_stream *s)
{
    uint64_t mx = 0;
    size_t u;
    if (s == NULL)
        return 0;
    if (!s->shards)
        return s->size;
    for (u = 0; u < s->p->count; u++) {
        uint64_t l = unit_end(s, u) - unit_start(s, u);
        if (l > mx)
            mx = l;
    }
    return mx;
}

int aios_manifest_stream_fd(const aios_manifest_stream *s)
{
    return s ? s->fd : -1;
}

static int mode_check(aios_manifest_stream *s, int mode, const char *fn)
{
    if (s->failed)
        return aios__fail(s->failed, "%s: the stream failed earlier", fn);
    if (s->done)
        return aios__fail(AIOS_E_STATE, "%s: the stream is finished", fn);
    if (s->mode && s->mode != mode)
        return aios__fail(AIOS_E_STATE, "%s: read and read_verified cannot be mixed on one "
                          "stream", fn);
    s->mode = mode;
    return AIOS_OK;
}

int aios_manifest_stream_read(aios_manifest_stream *s, uint8_t *buf, size_t cap, size_t *len_out)
{
    uint64_t left;
    ssize_t r;
    int rc;

    AIOS__CHECK_ARG(len_out != NULL, "len_out is NULL");
    *len_out = 0;
    AIOS__CHECK_ARG(s != NULL && (buf != NULL || cap == 0), "stream or buf is NULL");
    if ((rc = mode_check(s, 1, "aios_manifest_stream_read")) != AIOS_OK)
        return rc;
    left = s->size - s->pos;
    if (left == 0 && s->bg != NULL) {
        /* The end: wait for the hash, so that a caller who stops at the
         * end (and forgets finish) still hears of a mismatch here. */
        size_t bad = bg_end(s, 1);
        if (bad != NO_UNIT)
            return mismatch(s, bad);
    }
    if (left == 0 && s->bg == NULL && s->unit < unit_count(s) &&
        (rc = unit_close(s)) != AIOS_OK)
        return rc;   /* files method, empty file: its one unit closes at the end too */
    if (left == 0 || cap == 0)
        return AIOS_OK;
    if ((uint64_t)cap > left)
        cap = (size_t)left;
    do {
        r = pread(s->fd, buf, cap, (off_t)s->pos);
    } while (r < 0 && errno == EINTR);
    if (r < 0)
        return read_failed(s, aios__fail_errno(AIOS_E_IO, errno, "manifest: cannot read '%s'",
                                               s->path));
    if (r == 0)
        return read_failed(s, aios__fail(AIOS_E_MANIFEST_CHANGED, "manifest: '%s' was truncated "
                                         "while it was read", s->path));
    if (!s->bg_tried)
        bg_start(s);
    if ((rc = s->bg != NULL ? bg_push(s, buf, (size_t)r) : feed(s, buf, (size_t)r)) != AIOS_OK)
        return rc;
    *len_out = (size_t)r;
    return AIOS_OK;
}

int aios_manifest_stream_read_verified(aios_manifest_stream *s, uint8_t *buf, size_t cap,
                                       size_t *len_out)
{
    size_t used = 0;
    int rc, mt = 0;

    AIOS__CHECK_ARG(len_out != NULL, "len_out is NULL");
    *len_out = 0;
    AIOS__CHECK_ARG(s != NULL && (buf != NULL || cap == 0), "stream or buf is NULL");
    if (s->done && s->mode == 2 && !s->failed)
        return AIOS_OK;   /* the end, again */
    if ((rc = mode_check(s, 2, "aios_manifest_stream_read_verified")) != AIOS_OK)
        return rc;
    if (s->unit >= unit_count(s)) {
        /* Files method, empty file: the one unit is closed here. */
        if ((rc = check_end(s)) != AIOS_OK)
            return rc;
        s->done = 1;
        return AIOS_OK;
    }
    {
        uint64_t need = unit_end(s, s->unit) - s->pos;
        if (need > (uint64_t)cap)
            return aios__fail(AIOS_E_BUFFER_TOO_SMALL, "aios_manifest_stream_read_verified: the "
                              "next unit of '%s' is %" PRIu64 " bytes; the buffer holds %zu",
                              s->path, need, cap);
    }
    if (s->threads > 1) {
        /* The whole units that fit, read and hashed at once. */
        size_t n = 0, total = 0;
        while (s->unit + n < unit_count(s)) {
            uint64_t need = unit_end(s, s->unit + n) - unit_start(s, s->unit + n);
            /* contiguous units only (parsing ensures it): each lands at
             * its offset from s->pos */
            if (need > (uint64_t)(cap - total) || unit_start(s, s->unit + n) != s->pos + total)
                break;
            total += (size_t)need;
            n++;
        }
        if (total >= MT_MIN && (rc = read_units_mt(s, buf, n, total)) != RV_SERIAL) {
            if (rc != AIOS_OK)
                return rc;
            used = total;
            mt = 1;
        }
    }
    while (!mt && s->unit < unit_count(s)) {
        uint64_t need = unit_end(s, s->unit) - s->pos;
        size_t u = s->unit;
        if (need > (uint64_t)(cap - used))
            break;
        /* Read and hash in pieces that stay in the CPU cache between the
         * copy and the hash (a 64 MiB unit would not). */
        for (size_t off = 0; off < (size_t)need;) {
            size_t piece = (size_t)need - off < READ_PIECE ? (size_t)need - off : READ_PIECE;
            if ((rc = read_exact(s, buf + used + off, piece)) != AIOS_OK ||
                (rc = feed(s, buf + used + off, piece)) != AIOS_OK) {
                /* Nothing unverified reaches the caller. */
                memset(buf, 0, used + (size_t)need);
                return rc;
            }
            off += piece;
        }
        used += (size_t)need;
        if (need == 0 && s->unit == u && (rc = unit_close(s)) != AIOS_OK)
            return rc;   /* an empty file's digest */
    }
    if (s->unit >= unit_count(s)) {
        if ((rc = check_end(s)) != AIOS_OK) {
            memset(buf, 0, used);
            return rc;
        }
        if (used == 0)
            s->done = 1;
    }
    *len_out = used;
    return AIOS_OK;
}

int aios_manifest_stream_finish(aios_manifest_stream *s)
{
    uint8_t tmp[1 << 16];
    int rc;

    AIOS__CHECK_ARG(s != NULL, "stream is NULL");
    if (s->failed)
        return aios__fail(s->failed, "aios_manifest_stream_finish: the stream failed earlier");
    if (s->done)
        return AIOS_OK;
    if (s->bg != NULL && (rc = bg_finish(s)) != AIOS_OK)
        return rc;
    while (s->pos < s->size) {
        uint64_t left = s->size - s->pos;
        size_t n = left < sizeof(tmp) ? (size_t)left : sizeof(tmp);
        if ((rc = read_exact(s, tmp, n)) != AIOS_OK || (rc = feed(s, tmp, n)) != AIOS_OK)
            return rc;
    }
    /* An empty file (files method): its one unit is closed here. */
    if (s->unit < unit_count(s) && (rc = unit_close(s)) != AIOS_OK)
        return rc;
    if ((rc = check_end(s)) != AIOS_OK)
        return rc;
    s->done = 1;
    return AIOS_OK;
}

/* ------------------------------------------------------------ one-call forms */

static int hash_opts(aios_manifest_hash_options *o, const aios_manifest_hash_options *in,
                     size_t *bufsize)
{
    int rc = aios__mf_hash_opts(o, in);
    if (rc != AIOS_OK)
        return rc;
    *bufsize = o->read_size ? o->read_size : (1u << 20);
    return AIOS_OK;
}

/* Read s to its end through the verifier and finish: what verify_file and
 * a files-method verify_range do, on the descriptor the caller opened. */
static int verify_whole(aios_manifest_stream *s, const aios_manifest_hash_options *o, size_t bs,
                        const char *rel_path, const char *fn)
{
    uint8_t *buf;
    size_t n;
    int rc;

    if (bs > s->size + 1)
        bs = (size_t)s->size + 1;
    buf = aios__malloc(bs);
    if (buf == NULL)
        return aios__nomem("a read buffer");
    for (;;) {
        if ((rc = aios_manifest_stream_read(s, buf, bs, &n)) != AIOS_OK || n == 0)
            break;
        if (o->progress && o->progress(s->pos, s->size, rel_path, o->progress_payload) != 0) {
            rc = aios__fail(AIOS_E_CANCELLED, "%s: cancelled by the progress callback", fn);
            break;
        }
    }
    if (rc == AIOS_OK)
        rc = aios_manifest_stream_finish(s);
    aios__free(buf);
    return rc;
}

int aios_manifest_verify_file(const aios_manifest *m, int root_dirfd, const char *rel_path,
                              const aios_manifest_hash_options *opts)
{
    aios_manifest_hash_options o;
    aios_manifest_stream *s = NULL;
    size_t bs;
    int rc;

    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    if ((rc = hash_opts(&o, opts, &bs)) != AIOS_OK)
        return rc;
    if ((rc = aios_manifest_stream_open(&s, m, root_dirfd, rel_path)) != AIOS_OK)
        return rc;
    rc = verify_whole(s, &o, bs, rel_path, "aios_manifest_verify_file");
    aios_manifest_stream_free(s);
    return rc;
}

int aios_manifest_verify_range(const aios_manifest *m, int root_dirfd, const char *rel_path,
                               uint64_t offset, uint64_t len,
                               const aios_manifest_hash_options *opts)
{
    aios_manifest_hash_options o;
    aios_manifest_stream *s = NULL;
    uint8_t *buf = NULL;
    size_t bs, u;
    uint64_t end, done = 0, total = 0;
    int rc;

    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    AIOS__CHECK_ARG(m != NULL, "manifest is NULL");
    AIOS__CHECK_ARG(len > 0, "len is 0: a range holds at least one byte");
    if ((rc = hash_opts(&o, opts, &bs)) != AIOS_OK)
        return rc;
    if ((rc = aios_manifest_stream_open(&s, m, root_dirfd, rel_path)) != AIOS_OK)
        return rc;
    if (len > UINT64_MAX - offset || offset + len > s->size) {
        rc = aios__fail(AIOS_E_MANIFEST_NOT_SIGNED, "aios_manifest_verify_range: bytes %" PRIu64
                        "..+%" PRIu64 " are past the end of '%s' (%" PRIu64 " bytes)", offset, len,
                        rel_path, s->size);
        goto out;
    }
    if (m->st->method != AIOS__MB_SHARDS) {
        /* Files: the whole file, through the descriptor the range was
         * checked on (the digest then also proves the size). */
        rc = verify_whole(s, &o, bs, rel_path, "aios_manifest_verify_range");
        goto out;
    }
    end = offset + len;
    for (u = 0; u < s->p->count; u++) {
        const aios__mb_resource *r = aios__mf_res(m, s->p, u);
        if (r->end > offset && r->start < end)
            total += r->end - r->start;
    }
    buf = aios__malloc(bs);
    if (buf == NULL) {
        rc = aios__nomem("a read buffer");
        goto out;
    }
    for (u = 0; u < s->p->count && rc == AIOS_OK; u++) {
        const aios__mb_resource *r = aios__mf_res(m, s->p, u);
        uint8_t d[64];
        uint64_t pos;
        if (r->end <= offset || r->start >= end)
            continue;
        aios__mf_hasher_init(&s->h, aios__mf_manifest_hash_type(m));
        for (pos = r->start; pos < r->end;) {
            size_t n = r->end - pos < bs ? (size_t)(r->end - pos) : bs;
            ssize_t got = pread(s->fd, buf, n, (off_t)pos);
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0) {
                rc = aios__fail_errno(AIOS_E_IO, errno, "manifest: cannot read '%s'", rel_path);
                break;
            }
            if (got == 0) {
                rc = aios__fail(AIOS_E_MANIFEST_CHANGED, "manifest: '%s' was truncated while it "
                                "was read", rel_path);
                break;
            }
            aios__mf_hasher_update(&s->h, buf, (size_t)got);
            pos += (uint64_t)got;
            done += (uint64_t)got;
            if (o.progress && o.progress(done, total, rel_path, o.progress_payload) != 0) {
                rc = aios__fail(AIOS_E_CANCELLED, "aios_manifest_verify_range: cancelled by the "
                                "progress callback");
                break;
            }
        }
        if (rc != AIOS_OK)
            break;
        aios__mf_hasher_final(&s->h, d);
        if (memcmp(d, r->digest, r->digest_len) != 0)
            rc = aios__fail(AIOS_E_MANIFEST_MISMATCH, "manifest: '%s' differs from the manifest "
                            "(bytes %" PRIu64 "..%" PRIu64 ")", rel_path, r->start, r->end);
    }
out:
    aios__free(buf);
    aios_manifest_stream_free(s);
    return rc;
}
