/*
 * lib/manifest: hashing a walked model on a bounded pool of threads
 * (docs/MANIFEST.md 5.4, 5.5.9, 5.6, 6).
 *
 * Work items are resources: one per file (files method) or one per shard
 * (shards method).  They are handed out from an atomic counter in the
 * order largest file first, a file's shards one after the other, so the
 * long items start early and at most about 2 x `threads` files are open
 * at a time.  Each thread owns read_size bytes of buffer (default 4 MiB;
 * halved between two lanes, see "lanes" below): memory is threads x
 * read_size whatever the model size.  The calling thread is one of the
 * workers; threads == 1 starts no thread.
 *
 * A file is opened once (shards of one file share the descriptor),
 * beneath the root without following symlinks, and fstat'd: it must
 * still be the regular file (device, inode, size) the walk saw.  Reads
 * are pread()s of read_size with POSIX_FADV_SEQUENTIAL.  Exactly `size`
 * bytes must be read: a file read in one go is read with one byte to
 * spare (so a short or long read shows a change without another system
 * call); a longer one is fstat'd again afterwards and must have kept its
 * size and mtime.  Any change: AIOS__E_MANIFEST_CHANGED.
 *
 * Descriptors.  With two lanes a worker holds up to two files, so the
 * pool wants up to 2 x threads descriptors at once.  A worker whose open
 * fails for want of them (EMFILE, ENFILE) does not fail the run: with its
 * other lane busy it keeps the item and opens it once that lane is done;
 * with neither busy it waits until another worker gives a descriptor
 * back or opens the shared file of a kept shard (or 100 ms, for one the
 * host frees), then tries again.  Only when no worker of the run held or
 * opened one for five such waits in a row (the shortage is the host's)
 * is the failure reported.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/internal.h"
#include "crypto/crypto.h"
#include "manifest/manifest_internal.h"

/* A file whose shards are shared by several items. */
typedef struct shared_file {
    int         fd;        /* -1 until the first shard opens it */
    int         failed;
    size_t      left;      /* shards not yet finished */
    struct stat st;        /* at open */
} shared_file;

typedef struct job {
    const aios__mf_walk        *w;
    const aios__mf_hash_options *o;
    aios__mf_resource          *res;
    size_t                     *order;      /* item -> resource index */
    size_t                      nitems;
    size_t                     *file_of;    /* shards: resource -> shared_file index, or SIZE_MAX */
    shared_file                *files;
    pthread_mutex_t             files_mu;
    size_t                      buf_size;   /* per lane */
    int                         lanes;      /* per worker: 1, or 2 on a 2-lane kernel */
    atomic_size_t               lane_gate;  /* a second lane waits until next reaches it */
    atomic_size_t               next;
    atomic_uint_fast64_t        done;
    uint64_t                    total;
    atomic_int                  stop;
    pthread_mutex_t             progress_mu;
    pthread_mutex_t             err_mu;
    /* descriptors the run holds, and who waits for one (under fd_mu) */
    pthread_mutex_t             fd_mu;
    pthread_cond_t              fd_cv;        /* one given back, or stop */
    size_t                      open_files;
    uint64_t                    fd_events;    /* descriptors given back, shared files opened */
    int                         status;
    char                        msg[AIOS__ERROR_MESSAGE_MAX];
} job;

/* Keep the first failure (already recorded in this thread by aios__fail)
 * and stop the other workers. */
static int job_fail(job *j, int rc)
{
    pthread_mutex_lock(&j->err_mu);
    if (j->status == AIOS_OK) {
        j->status = rc;
        snprintf(j->msg, sizeof(j->msg), "%s", aios_last_error_message());
    }
    pthread_mutex_unlock(&j->err_mu);
    atomic_store(&j->stop, 1);
    pthread_mutex_lock(&j->fd_mu);       /* a worker waiting for a descriptor stops too */
    pthread_cond_broadcast(&j->fd_cv);
    pthread_mutex_unlock(&j->fd_mu);
    return rc;
}

/* lane_start's answer when the open failed for want of descriptors (the
 * message is recorded): the worker keeps the item and tries again. */
#define HASH_NO_FD (-1002)

static uint64_t fd_events(job *j)
{
    uint64_t n;
    pthread_mutex_lock(&j->fd_mu);
    n = j->fd_events;
    pthread_mutex_unlock(&j->fd_mu);
    return n;
}

/* Something a waiting worker may go on with: a descriptor given back, or
 * a shared file opened (its kept shard needs no descriptor of its own). */
static void fd_event(job *j)
{
    pthread_mutex_lock(&j->fd_mu);
    j->fd_events++;
    pthread_cond_broadcast(&j->fd_cv);
    pthread_mutex_unlock(&j->fd_mu);
}

/* Waits for want of descriptors, for tests. */
static atomic_size_t fd_waits;

size_t aios__mf_hash_fd_waits(void)
{
    return atomic_load(&fd_waits);
}

/* After an open failed for want of descriptors, with no lane of this
 * worker holding one: wait until something changed since `seen`
 * (fd_events before the open), or 100 ms went by (a descriptor freed
 * outside the run, which nothing here sees, or one another worker held
 * for a moment while it opened its file folder by folder), then try
 * again.  1: try again; -1: the run stopped or was cancelled; 0: the
 * fifth wait in a row in which no worker of the run held or opened a
 * descriptor, nor gave one back: none will come from the run, and the
 * open's failure is final. */
#define FD_IDLE_WAITS 5

static int wait_for_fd(job *j, uint64_t seen, int *idle)
{
    struct timespec until;
    size_t held;
    int r = 1;

    atomic_fetch_add_explicit(&fd_waits, 1, memory_order_relaxed);
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 100 * 1000 * 1000;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&j->fd_mu);
    held = j->open_files;
    while (j->fd_events == seen && !atomic_load(&j->stop) &&
           !(j->o->cancel != NULL && *j->o->cancel)) {
        if (pthread_cond_timedwait(&j->fd_cv, &j->fd_mu, &until) == ETIMEDOUT)
            break;
    }
    if (atomic_load(&j->stop) || (j->o->cancel != NULL && *j->o->cancel))
        r = -1;
    else if (j->fd_events == seen && held == 0 && j->open_files == 0)
        r = ++*idle >= FD_IDLE_WAITS ? 0 : 1;
    else
        *idle = 0;
    pthread_mutex_unlock(&j->fd_mu);
    return r;
}

/* Between blocks: cancellation and progress.  Returns non-zero to stop. */
static int checkpoint(job *j, const char *path)
{
    if (atomic_load_explicit(&j->stop, memory_order_relaxed))
        return 1;
    if (j->o->cancel != NULL && *j->o->cancel)
        return job_fail(j, aios__fail(AIOS_E_CANCELLED, "model hashing cancelled"));
    if (j->o->progress != NULL && pthread_mutex_trylock(&j->progress_mu) == 0) {
        int crc = 0;
        if (!atomic_load(&j->stop))
            crc = j->o->progress(atomic_load(&j->done), j->total, path,
                                 j->o->progress_payload);
        pthread_mutex_unlock(&j->progress_mu);
        if (crc != 0)
            return job_fail(j, aios__fail(AIOS_E_CANCELLED,
                                          "model hashing cancelled by the progress callback"));
    }
    return 0;
}

void aios__mf_hasher_init(aios__mf_hasher *h, aios__mf_hash_type t)
{
    h->t = t;
    if (t == AIOS__MF_SHA256)
        aios__sha256_init(&h->sha);
    else
        (void)aios__blake2b_init(&h->b2, 64, NULL, 0);   /* valid lengths: cannot fail */
}

void aios__mf_hasher_update(aios__mf_hasher *h, const uint8_t *p, size_t n)
{
    if (h->t == AIOS__MF_SHA256)
        aios__sha256_update(&h->sha, p, n);
    else
        aios__blake2b_update(&h->b2, p, n);
}

void aios__mf_hasher_final(aios__mf_hasher *h, uint8_t *out)
{
    if (h->t == AIOS__MF_SHA256)
        aios__sha256_final(&h->sha, out);
    else
        (void)aios__blake2b_final(&h->b2, out, 64);
}

typedef aios__mf_hasher hasher;
#define h_init aios__mf_hasher_init
#define h_update aios__mf_hasher_update
#define h_final aios__mf_hasher_final

static int stat_matches_entry(const struct stat *st, const aios__mf_entry *e)
{
    return S_ISREG(st->st_mode) && (uint64_t)st->st_dev == e->dev &&
           (uint64_t)st->st_ino == e->ino && (uint64_t)st->st_size == e->size &&
           (int64_t)st->st_mtim.tv_sec == e->mtime_sec &&
           (int64_t)st->st_mtim.tv_nsec == e->mtime_nsec &&
           (int64_t)st->st_ctim.tv_sec == e->ctime_sec &&
           (int64_t)st->st_ctim.tv_nsec == e->ctime_nsec;
}

static int fail_changed(const aios__mf_entry *e, const struct stat *st)
{
    if (!S_ISREG(st->st_mode))
        return aios__fail(AIOS__E_MANIFEST_CHANGED, "model hashing: '%s' is no longer a "
                          "regular file", e->path);
    if ((uint64_t)st->st_size != e->size)
        return aios__fail(AIOS__E_MANIFEST_CHANGED, "model hashing: '%s' changed size from "
                          "%llu to %llu bytes since the walk", e->path,
                          (unsigned long long)e->size, (unsigned long long)st->st_size);
    return aios__fail(AIOS__E_MANIFEST_CHANGED, "model hashing: '%s' was replaced or modified "
                      "since the walk", e->path);
}

/* Open e beneath the root and check it against the walk. */
static void close_entry(job *j, int fd);

static int open_entry(job *j, const aios__mf_entry *e, uint64_t fadv_len, int *fd_out,
                      struct stat *st)
{
    int fd;
    if (j->w->single_file) {
        fd = j->w->root_fd;
    } else {
        /* counted from before the open: another worker whose open fails
         * meanwhile then knows this one may give a descriptor back */
        pthread_mutex_lock(&j->fd_mu);
        j->open_files++;
        pthread_mutex_unlock(&j->fd_mu);
        fd = aios__mf_open_beneath(j->w->root_fd, e->open_path, O_NONBLOCK);
        if (fd < 0) {
            int e0 = errno;
            pthread_mutex_lock(&j->fd_mu);
            if (--j->open_files == 0)   /* nothing left to wait for: waiters see it */
                pthread_cond_broadcast(&j->fd_cv);
            pthread_mutex_unlock(&j->fd_mu);
            if (e0 == ENOENT || e0 == ELOOP || e0 == ENOTDIR || e0 == EXDEV || e0 == ENXIO)
                return aios__fail(AIOS__E_MANIFEST_CHANGED, "model hashing: '%s' was removed "
                                  "or replaced since the walk (%s)", e->path, strerror(e0));
            (void)aios__fail_errno(AIOS_E_IO, e0, "model hashing: cannot open '%s'", e->path);
            return e0 == EMFILE || e0 == ENFILE ? HASH_NO_FD : AIOS_E_IO;
        }
    }
    if (fstat(fd, st) != 0) {
        int rc = aios__fail_errno(AIOS_E_IO, errno, "model hashing: cannot stat '%s'", e->path);
        close_entry(j, fd);
        return rc;
    }
    if (!stat_matches_entry(st, e)) {
        int rc = fail_changed(e, st);
        close_entry(j, fd);
        return rc;
    }
    if (fadv_len > j->buf_size)
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    *fd_out = fd;
    return AIOS_OK;
}

static void close_entry(job *j, int fd)
{
    if (fd >= 0 && fd != j->w->root_fd) {
        close(fd);
        pthread_mutex_lock(&j->fd_mu);   /* one lock: given back, and waiters told */
        j->open_files--;
        j->fd_events++;
        pthread_cond_broadcast(&j->fd_cv);
        pthread_mutex_unlock(&j->fd_mu);
    }
}

/* After reading: the file kept its size and mtime. */
static int check_after(const aios__mf_entry *e, int fd, const struct stat *before)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return aios__fail_errno(AIOS_E_IO, errno, "model hashing: cannot stat '%s'", e->path);
    if (st.st_size != before->st_size || st.st_mtim.tv_sec != before->st_mtim.tv_sec ||
        st.st_mtim.tv_nsec != before->st_mtim.tv_nsec ||
        st.st_ctim.tv_sec != before->st_ctim.tv_sec ||
        st.st_ctim.tv_nsec != before->st_ctim.tv_nsec)
        return aios__fail(AIOS__E_MANIFEST_CHANGED, "model hashing: '%s' changed while it "
                          "was hashed", e->path);
    return AIOS_OK;
}

/* ------------------------------------------------------------- lanes
 *
 * A worker hashes one item per lane.  With SHA-256 on a 2-lane kernel
 * (aios__sha256_two_lanes) it keeps two items open at once and hashes
 * their blocks together (aios__sha256_update2): one core then does about
 * 1.8 times the work of one stream, the rounds of one lane filling the
 * latency of the other's.  Otherwise a worker has one lane.  A lane reads
 * [r->start, r->end) of its item in calls of its buffer's size; when the
 * range ends at the end of the file and fits in one call, one extra byte
 * is asked for and must not come (the end is then checked without an
 * fstat).
 */
typedef struct lane {
    int                 active;
    aios__mf_resource  *r;
    size_t              fi;        /* shared file index, or SIZE_MAX */
    int                 fd;
    struct stat         st;        /* at open */
    uint64_t            off;       /* next byte to read */
    int                 one_go;    /* the whole range + 1 byte in one read */
    hasher              h;
    uint8_t            *buf;
    size_t              cap;       /* buf's size */
    size_t              n;         /* bytes read into buf by the last lane_read */
} lane;

/* Give back the descriptor of an item (closing it, or for a shard of a
 * shared file, closing it with the file's last shard). */
static void lane_release(job *j, lane *L)
{
    if (L->fi == SIZE_MAX) {
        close_entry(j, L->fd);
    } else {
        shared_file *f = &j->files[L->fi];
        pthread_mutex_lock(&j->files_mu);
        if (--f->left == 0) {
            close_entry(j, f->fd);
            f->fd = -1;
            f->failed = 1;   /* never reopened */
        }
        pthread_mutex_unlock(&j->files_mu);
    }
    L->fd = -1;
    L->active = 0;
}

/* Open item ri (or share its file's descriptor) and start its hash. */
static int lane_start(job *j, lane *L, size_t ri)
{
    aios__mf_resource *r = &j->res[ri];
    const aios__mf_entry *e = r->entry;
    int rc;

    L->r = r;
    L->fi = j->file_of ? j->file_of[ri] : SIZE_MAX;
    L->fd = -1;
    L->off = r->start;
    L->n = 0;
    L->one_go = r->end - r->start < L->cap && r->end == e->size;
    if (L->fi == SIZE_MAX) {
        rc = open_entry(j, e, r->end - r->start, &L->fd, &L->st);
        if (rc != AIOS_OK)
            return rc;
    } else {
        shared_file *f = &j->files[L->fi];
        pthread_mutex_lock(&j->files_mu);
        if (f->fd < 0 && !f->failed) {
            rc = open_entry(j, e, e->size, &f->fd, &f->st);
            if (rc == HASH_NO_FD) {   /* not a failure of the file: tried again */
                f->fd = -1;
                pthread_mutex_unlock(&j->files_mu);
                return rc;
            }
            if (rc == AIOS_OK)
                fd_event(j);   /* a worker keeping another of its shards may go on */
            if (rc != AIOS_OK) {
                /* Recorded before another shard of the file can see it
                 * failed (and stop with AIOS_E_CANCELLED first). */
                f->failed = 1;
                rc = job_fail(j, rc);
                pthread_mutex_unlock(&j->files_mu);
                return rc;
            }
        }
        L->fd = f->fd;
        L->st = f->st;
        if (L->fd < 0) {   /* another shard failed to open it and reported why */
            pthread_mutex_unlock(&j->files_mu);
            return AIOS_E_CANCELLED;
        }
        pthread_mutex_unlock(&j->files_mu);
    }
    h_init(&L->h, j->o->hash_type);
    L->active = 1;
    return AIOS_OK;
}

/* The next piece of the item into L->buf (L->n bytes, at least one
 * unless the item is empty). */
static int lane_read(lane *L)
{
    const aios__mf_entry *e = L->r->entry;

    if (L->one_go) {
        size_t want = (size_t)(L->r->end - L->r->start) + 1, got = 0;
        while (got < want) {
            ssize_t n = pread(L->fd, L->buf + got, want - got, (off_t)(L->off + got));
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                return aios__fail_errno(AIOS_E_IO, errno, "model hashing: cannot read '%s'",
                                        e->path);
            }
            if (n == 0)
                break;
            got += (size_t)n;
        }
        if (got != want - 1)
            return aios__fail(AIOS__E_MANIFEST_CHANGED, "model hashing: '%s' %s while it was "
                              "hashed", e->path, got < want - 1 ? "was truncated" : "grew");
        L->n = got;
        return AIOS_OK;
    }
    for (;;) {
        size_t want = L->r->end - L->off < L->cap ? (size_t)(L->r->end - L->off) : L->cap;
        ssize_t n = pread(L->fd, L->buf, want, (off_t)L->off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return aios__fail_errno(AIOS_E_IO, errno, "model hashing: cannot read '%s'",
                                    e->path);
        }
        if (n == 0)
            return aios__fail(AIOS__E_MANIFEST_CHANGED, "model hashing: '%s' was truncated "
                              "while it was hashed", e->path);
        L->n = (size_t)n;
        return AIOS_OK;
    }
}

/* After the hash took L->n bytes: advance, and finish the item at its
 * end (digest, then the after-read check: of every shard of a shared
 * descriptor, whose stat was taken when the file's first shard opened it,
 * and of a file not read in one go; a whole file read in one go was
 * stat'ed just before that read). */
static int lane_advance(job *j, lane *L)
{
    int rc = AIOS_OK;

    L->off += L->n;
    atomic_fetch_add(&j->done, (uint64_t)L->n);
    L->n = 0;
    if (L->off < L->r->end)
        return AIOS_OK;
    h_final(&L->h, L->r->digest);
    if (!L->one_go || L->fi != SIZE_MAX)
        rc = check_after(L->r->entry, L->fd, &L->st);
    lane_release(j, L);
    return rc;
}

/* Stop a lane midway: wipe its hash state, give back its descriptor. */
static void lane_abort(job *j, lane *L)
{
    uint8_t scratch[64];
    if (!L->active)
        return;
    h_final(&L->h, scratch);   /* wipes the context */
    aios__wipe(scratch, sizeof(scratch));
    lane_release(j, L);
}

/* Hash what the active lanes read: both together on the 2-lane kernel
 * (as many bytes as both have), the rest of each alone. */
static void lanes_hash(lane *lanes, int nl)
{
    size_t m = 0;
    int i;

    if (nl == 2 && lanes[0].active && lanes[1].active && lanes[0].h.t == AIOS__MF_SHA256) {
        m = lanes[0].n < lanes[1].n ? lanes[0].n : lanes[1].n;
        if (m > 0)
            aios__sha256_update2(&lanes[0].h.sha, lanes[0].buf, &lanes[1].h.sha, lanes[1].buf, m);
    }
    for (i = 0; i < nl; i++)
        if (lanes[i].active && lanes[i].n > m)
            h_update(&lanes[i].h, lanes[i].buf + m, lanes[i].n - m);
}

/* Whether a thread whose lane L is busy should take a second item.  Not
 * before every worker has its first (items come largest first: two
 * threads take the two largest, rather than one thread both).  Then only
 * if L's item is not what the whole run waits for: paired, each lane
 * runs at about 0.8 of a lone stream's speed (the pair at about 1.6), so
 * an item whose rest takes longer alone than all the other work left
 * takes the other threads is left alone, and the other threads pair the
 * rest.  With one thread the total is all that counts: always pair. */
static int second_lane_ok(job *j, const lane *L)
{
    uint64_t left, rest, done;
    size_t others = atomic_load(&j->lane_gate) - 1;   /* the other workers */

    if (atomic_load(&j->next) < others + 1)
        return 0;
    if (others == 0)
        return 1;
    left = L->r->end - L->off;
    done = atomic_load(&j->done);
    rest = j->total > done + left ? j->total - done - left : 0;
    /* left / 1 (alone) < rest / (others x 1.6): pair. */
    return left / 5 * 8 * others < rest;
}

static void *worker(void *arg)
{
    job *j = arg;
    lane lanes[2];
    int nl = j->lanes, i, rc = AIOS_OK, exhausted = 0;
    size_t pending = SIZE_MAX;   /* an item whose open found no descriptor free */
    int idle_waits = 0;          /* waits in a row with none to come (wait_for_fd) */
    uint8_t *mem = aios__malloc(j->buf_size * (size_t)nl);

    if (mem == NULL) {
        job_fail(j, aios__nomem("model hashing: read buffer"));
        return NULL;
    }
    memset(lanes, 0, sizeof(lanes));
    for (i = 0; i < nl; i++) {
        lanes[i].buf = mem + (size_t)i * j->buf_size;
        lanes[i].cap = j->buf_size;
        lanes[i].fd = -1;
    }
    for (;;) {
        int busy = 0;
        const char *path = NULL;

        /* Give every idle lane the next item (see second_lane_ok), or
         * the one kept for want of a descriptor ("Descriptors" above). */
        for (i = 0; i < nl && (!exhausted || pending != SIZE_MAX); i++) {
            size_t k, ri;
            uint64_t seen;
            if (lanes[i].active)
                continue;
            if (atomic_load_explicit(&j->stop, memory_order_relaxed))
                goto out;
            if (pending != SIZE_MAX) {
                if (lanes[1 - i].active)
                    continue;   /* once the other lane gave its descriptor back */
                ri = pending;
            } else {
                if (lanes[1 - i].active && !second_lane_ok(j, &lanes[1 - i]))
                    continue;
                k = atomic_fetch_add(&j->next, 1);
                if (k >= j->nitems) {
                    exhausted = 1;
                    break;
                }
                ri = j->order[k];
            }
            seen = fd_events(j);
            rc = lane_start(j, &lanes[i], ri);
            if (rc == HASH_NO_FD) {
                pending = ri;
                rc = AIOS_OK;
                if (lanes[1 - i].active)
                    continue;
                switch (wait_for_fd(j, seen, &idle_waits)) {
                case 0:   /* none to come from the run: the open's failure is final */
                    rc = AIOS_E_IO;
                    goto out;
                case -1:
                    rc = atomic_load(&j->stop)
                         ? AIOS_E_CANCELLED
                         : job_fail(j, aios__fail(AIOS_E_CANCELLED, "model hashing cancelled"));
                    goto out;
                default:
                    break;
                }
                i--;   /* this lane again */
                continue;
            }
            pending = SIZE_MAX;
            idle_waits = 0;
            if (rc != AIOS_OK)
                goto out;
        }
        for (i = 0; i < nl; i++) {
            if (!lanes[i].active)
                continue;
            busy = 1;
            path = lanes[i].r->entry->path;
            if ((rc = lane_read(&lanes[i])) != AIOS_OK)
                goto out;
        }
        if (!busy)
            break;
        lanes_hash(lanes, nl);
        for (i = 0; i < nl; i++)
            if (lanes[i].active && (rc = lane_advance(j, &lanes[i])) != AIOS_OK)
                goto out;
        if (checkpoint(j, path))
            break;
    }
out:
    if (rc != AIOS_OK && (rc != AIOS_E_CANCELLED || !atomic_load(&j->stop)))
        job_fail(j, rc);
    for (i = 0; i < nl; i++)
        lane_abort(j, &lanes[i]);
    aios__free(mem);
    return NULL;
}

/* ------------------------------------------------------------ planning */

static int cmp_res_names(const void *x, const void *y)
{
    const aios__mf_resource *a = x, *b = y;
    return aios__mf_cmp_codepoints(a->name, a->name_len, b->name, b->name_len);
}

/* Items: largest file first, then walk order, then shard start (order[]
 * holds resource indices; resources are in walk order already). */
static int cmp_items(const void *x, const void *y, void *base)
{
    const aios__mf_resource *a = &((const aios__mf_resource *)base)[*(const size_t *)x];
    const aios__mf_resource *b = &((const aios__mf_resource *)base)[*(const size_t *)y];
    if (a->entry->size != b->entry->size)
        return a->entry->size > b->entry->size ? -1 : 1;
    if (a->entry != b->entry)
        return a->entry < b->entry ? -1 : 1;
    return a->start < b->start ? -1 : a->start > b->start ? 1 : 0;
}

static size_t udigits(uint64_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

uint32_t aios__mf_online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        return 1;
    return n > (long)AIOS__MF_THREADS_MAX ? AIOS__MF_THREADS_MAX : (uint32_t)n;
}

void aios__mf_result_free(aios__mf_result *r)
{
    if (r == NULL)
        return;
    aios__free(r->res);
    aios__free(r->names_);
    aios__free(r);
}

void aios__mf_root_digest(uint8_t out[32], const aios__mf_resource *res, size_t n,
                          size_t digest_len)
{
    aios__sha256_ctx c;
    size_t i;
    aios__sha256_init(&c);
    for (i = 0; i < n; i++)
        aios__sha256_update(&c, res[i].digest, digest_len);
    aios__sha256_final(&c, out);
}

static int plan(aios__mf_result *r, const aios__mf_walk *w, const aios__mf_hash_options *o,
                size_t max_res)
{
    size_t i, n = 0, k = 0, names_len = 0;

    if (o->method == AIOS__MF_FILES) {
        n = w->n;
    } else {
        for (i = 0; i < w->n; i++) {
            const aios__mf_entry *e = &w->entries[i];
            uint64_t c = e->size / o->shard_size + (e->size % o->shard_size != 0);
            if (c > (uint64_t)(max_res - n))
                return aios__fail(AIOS_E_LIMIT, "model hashing: more than %zu shards", max_res);
            n += (size_t)c;
            if (c && o->for_signing && w->profile == AIOS__MF_PROFILE_MODEL_SIGNING_1 &&
                memchr(e->path, ':', e->path_len) != NULL)
                return aios__fail(AIOS__E_MANIFEST_PATH, "model hashing: '%s' holds ':', which "
                                  "model_signing cannot read back in a shard name", e->path);
            if (c)
                names_len += (size_t)c * (e->path_len + 3 + 2 * udigits(e->size));
        }
    }
    if (n > max_res)
        return aios__fail(AIOS_E_LIMIT, "model hashing: more than %zu resources", max_res);
    r->n = n;
    if (n == 0)
        return AIOS_OK;
    r->res = aios__calloc(n, sizeof(*r->res));
    if (r->res == NULL)
        return aios__nomem("model hashing");
    if (o->method == AIOS__MF_SHARDS) {
        r->names_ = aios__malloc(names_len);
        if (r->names_ == NULL)
            return aios__nomem("model hashing");
    }
    names_len = 0;
    for (i = 0; i < w->n; i++) {
        const aios__mf_entry *e = &w->entries[i];
        if (o->method == AIOS__MF_FILES) {
            r->res[k].name = e->path;
            r->res[k].name_len = e->path_len;
            r->res[k].entry = e;
            r->res[k].start = 0;
            r->res[k].end = e->size;
            k++;
            continue;
        }
        for (uint64_t s = 0; s < e->size; s += o->shard_size) {
            uint64_t end = e->size - s > o->shard_size ? s + o->shard_size : e->size;
            char *p = r->names_ + names_len;
            int len = snprintf(p, e->path_len + 3 + 2 * udigits(e->size), "%s:%llu:%llu",
                               e->path, (unsigned long long)s, (unsigned long long)end);
            r->res[k].name = p;
            r->res[k].name_len = (size_t)len;
            r->res[k].entry = e;
            r->res[k].start = s;
            r->res[k].end = end;
            names_len += (size_t)len + 1;
            k++;
        }
    }
    return AIOS_OK;
}

int aios__mf_hash(aios__mf_result **out, const aios__mf_walk *w,
                  const aios__mf_hash_options *opts)
{
    aios__mf_hash_options o;
    aios__mf_result *r = NULL;
    pthread_t *tids = NULL;
    uint32_t nthreads, started = 0, t;
    uint64_t longest = 0;
    job j;
    size_t i;
    int rc;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    AIOS__CHECK_ARG(w != NULL, "walk is NULL");
    if (opts != NULL)
        o = *opts;
    else
        memset(&o, 0, sizeof(o));
    AIOS__CHECK_ARG(o.method == AIOS__MF_FILES || o.method == AIOS__MF_SHARDS, "method");
    AIOS__CHECK_ARG(o.hash_type == AIOS__MF_SHA256 || o.hash_type == AIOS__MF_BLAKE2B,
                    "hash_type");
    if (o.threads == 0)
        o.threads = aios__mf_online_cpus();
    AIOS__CHECK_ARG(o.threads <= AIOS__MF_THREADS_MAX, "threads: 1..256");
    if (o.read_size == 0)
        o.read_size = AIOS__MF_READ_SIZE;
    AIOS__CHECK_ARG(o.read_size >= AIOS__MF_READ_SIZE_MIN && o.read_size <= AIOS__MF_READ_SIZE_MAX,
                    "read_size: 64 KiB..64 MiB");
    if (o.method == AIOS__MF_SHARDS) {
        if (o.shard_size == 0)
            o.shard_size = AIOS__MF_SHARD_DEFAULT;
        if (o.for_signing)
            AIOS__CHECK_ARG(o.shard_size >= AIOS__MF_SHARD_WRITE_MIN &&
                            o.shard_size <= AIOS__MF_SHARD_WRITE_MAX,
                            "shard_size: 1 MiB..2^40 when signing");
        AIOS__CHECK_ARG(o.shard_size <= AIOS__MF_SHARD_READ_MAX, "shard_size: 1..2^53");
    } else {
        o.shard_size = 0;
    }

    r = aios__calloc(1, sizeof(*r));
    if (r == NULL)
        return aios__nomem("model hashing");
    r->method = o.method;
    r->hash_type = o.hash_type;
    r->shard_size = o.shard_size;
    r->digest_len = o.hash_type == AIOS__MF_SHA256 ? 32 : 64;
    rc = plan(r, w, &o, AIOS__MF_RESOURCES_MAX);
    if (rc != AIOS_OK) {
        aios__mf_result_free(r);
        return rc;
    }

    memset(&j, 0, sizeof(j));
    j.w = w;
    j.o = &o;
    j.res = r->res;
    j.nitems = r->n;
    j.total = w->total_bytes;
    pthread_mutex_init(&j.files_mu, NULL);
    pthread_mutex_init(&j.progress_mu, NULL);
    pthread_mutex_init(&j.err_mu, NULL);
    pthread_mutex_init(&j.fd_mu, NULL);
    pthread_cond_init(&j.fd_cv, NULL);
    atomic_init(&j.next, 0);
    atomic_init(&j.done, 0);
    atomic_init(&j.stop, 0);

    if (r->n) {
        j.order = aios__calloc(r->n, sizeof(*j.order));
        if (j.order == NULL) {
            rc = aios__nomem("model hashing");
            goto done;
        }
        for (i = 0; i < r->n; i++) {
            j.order[i] = i;
            if (r->res[i].end - r->res[i].start > longest)
                longest = r->res[i].end - r->res[i].start;
        }
        qsort_r(j.order, r->n, sizeof(*j.order), cmp_items, r->res);
    }
    if (o.method == AIOS__MF_SHARDS && r->n) {
        size_t nf = 0;
        j.file_of = aios__malloc(r->n * sizeof(*j.file_of));
        if (j.file_of == NULL) {
            rc = aios__nomem("model hashing");
            goto done;
        }
        for (i = 0; i < r->n; i++)
            j.file_of[i] = SIZE_MAX;
        for (i = 0; i < r->n; ) {
            size_t e = i;
            while (e < r->n && r->res[e].entry == r->res[i].entry)
                e++;
            if (e - i > 1)
                nf++;
            i = e;
        }
        if (nf) {
            j.files = aios__calloc(nf, sizeof(*j.files));
            if (j.files == NULL) {
                rc = aios__nomem("model hashing");
                goto done;
            }
            nf = 0;
            for (i = 0; i < r->n; ) {
                size_t e = i, x;
                while (e < r->n && r->res[e].entry == r->res[i].entry)
                    e++;
                if (e - i > 1) {
                    j.files[nf].fd = -1;
                    j.files[nf].left = e - i;
                    for (x = i; x < e; x++)
                        j.file_of[x] = nf;
                    nf++;
                }
                i = e;
            }
        }
    }

    /* Per thread read_size bytes of buffer: all of it for one lane, half
     * each for two (SHA-256 on a 2-lane kernel, with items to pair); no
     * more than the longest item needs (plus the byte that checks the end
     * of a file read in one go). */
    nthreads = o.threads;
    if (nthreads > r->n)
        nthreads = r->n ? (uint32_t)r->n : 1u;
    atomic_init(&j.lane_gate, nthreads);
    j.lanes = o.hash_type == AIOS__MF_SHA256 && aios__sha256_two_lanes() &&
              r->n >= 2 * (size_t)nthreads ? 2 : 1;
    /* Whole pages: a lane's reads then end on SHA-256 block boundaries,
     * which the 2-lane kernel needs. */
    j.buf_size = (o.read_size / (size_t)j.lanes) & ~(size_t)4095;
    if (longest + 1 < j.buf_size)
        j.buf_size = (size_t)((longest + 1 + 4095) & ~(uint64_t)4095);
    if (nthreads > 1) {
        tids = aios__calloc(nthreads - 1, sizeof(*tids));
        if (tids == NULL) {
            rc = aios__nomem("model hashing");
            goto done;
        }
        for (t = 0; t + 1 < nthreads; t++) {
            if (pthread_create(&tids[t], NULL, worker, &j) != 0)
                break;   /* fewer threads: the caller still works */
            started++;
        }
        atomic_store(&j.lane_gate, (size_t)started + 1);
    }
    worker(&j);
    for (t = 0; t < started; t++)
        pthread_join(tids[t], NULL);

    rc = j.status;
    if (rc == AIOS_OK && o.cancel != NULL && *o.cancel)
        rc = aios__fail(AIOS_E_CANCELLED, "model hashing cancelled");
    if (rc == AIOS_OK && o.progress != NULL &&
        o.progress(atomic_load(&j.done), j.total, "", o.progress_payload) != 0)
        rc = aios__fail(AIOS_E_CANCELLED, "model hashing cancelled by the progress callback");
    else if (rc != AIOS_OK)
        rc = aios__fail(rc, "%s", j.msg);
    if (rc == AIOS_OK) {
        if (o.method == AIOS__MF_SHARDS && w->profile == AIOS__MF_PROFILE_OMS_1_0 && r->n > 1)
            qsort(r->res, r->n, sizeof(*r->res), cmp_res_names);
        aios__mf_root_digest(r->root, r->res, r->n, r->digest_len);
    }

done:
    if (j.files != NULL) {
        for (i = 0; j.file_of != NULL && i < r->n; i++) {
            size_t fi = j.file_of[i];
            if (fi != SIZE_MAX && j.files[fi].fd >= 0) {
                close_entry(&j, j.files[fi].fd);
                j.files[fi].fd = -1;
            }
        }
    }
    aios__free(tids);
    aios__free(j.files);
    aios__free(j.file_of);
    aios__free(j.order);
    pthread_cond_destroy(&j.fd_cv);
    pthread_mutex_destroy(&j.fd_mu);
    pthread_mutex_destroy(&j.err_mu);
    pthread_mutex_destroy(&j.progress_mu);
    pthread_mutex_destroy(&j.files_mu);
    if (rc != AIOS_OK) {
        aios__mf_result_free(r);
        return rc;
    }
    *out = r;
    return AIOS_OK;
}
