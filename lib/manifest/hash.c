/*
 * lib/manifest: hashing a walked model on a bounded pool of threads
 * (docs/MANIFEST.md 5.4, 5.5.9, 5.6, 6).
 *
 * Work items are resources: one per file (files method) or one per shard
 * (shards method).  They are handed out from an atomic counter in the
 * order largest file first, a file's shards one after the other, so the
 * long items start early and at most about `threads` files are open at a
 * time.  Each thread owns one read buffer (read_size, default 4 MiB):
 * memory is threads x read_size whatever the model size.  The calling
 * thread is one of the workers; threads == 1 starts no thread.
 *
 * A file is opened once (shards of one file share the descriptor),
 * beneath the root without following symlinks, and fstat'd: it must
 * still be the regular file (device, inode, size) the walk saw.  Reads
 * are pread()s of read_size with POSIX_FADV_SEQUENTIAL.  Exactly `size`
 * bytes must be read: a file read in one go is read with one byte to
 * spare (so a short or long read shows a change without another system
 * call); a longer one is fstat'd again afterwards and must have kept its
 * size and mtime.  Any change: AIOS__E_MANIFEST_CHANGED.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    size_t                      buf_size;
    atomic_size_t               next;
    atomic_uint_fast64_t        done;
    uint64_t                    total;
    atomic_int                  stop;
    pthread_mutex_t             progress_mu;
    pthread_mutex_t             err_mu;
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
    return rc;
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
static int open_entry(const job *j, const aios__mf_entry *e, uint64_t fadv_len, int *fd_out,
                      struct stat *st)
{
    int fd;
    if (j->w->single_file) {
        fd = j->w->root_fd;
    } else {
        fd = aios__mf_open_beneath(j->w->root_fd, e->open_path, O_NONBLOCK);
        if (fd < 0) {
            if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR || errno == EXDEV ||
                errno == ENXIO)
                return aios__fail(AIOS__E_MANIFEST_CHANGED, "model hashing: '%s' was removed "
                                  "or replaced since the walk (%s)", e->path, strerror(errno));
            return aios__fail_errno(AIOS_E_IO, errno, "model hashing: cannot open '%s'", e->path);
        }
    }
    if (fstat(fd, st) != 0) {
        int rc = aios__fail_errno(AIOS_E_IO, errno, "model hashing: cannot stat '%s'", e->path);
        if (fd != j->w->root_fd)
            close(fd);
        return rc;
    }
    if (!stat_matches_entry(st, e)) {
        int rc = fail_changed(e, st);
        if (fd != j->w->root_fd)
            close(fd);
        return rc;
    }
    if (fadv_len > j->buf_size)
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    *fd_out = fd;
    return AIOS_OK;
}

static void close_entry(const job *j, int fd)
{
    if (fd >= 0 && fd != j->w->root_fd)
        close(fd);
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

/* Hash [r->start, r->end) of fd into r->digest.  When the range ends at
 * the end of the file and fits in one read, one extra byte is asked for
 * and must not come. */
static int hash_range(job *j, uint8_t *buf, int fd, aios__mf_resource *r, int *checked_eof)
{
    const aios__mf_entry *e = r->entry;
    uint64_t off = r->start;
    hasher h;

    *checked_eof = 0;
    h_init(&h, j->o->hash_type);
    if (r->end - r->start < j->buf_size && r->end == e->size) {
        size_t want = (size_t)(r->end - r->start) + 1, got = 0;
        while (got < want) {
            ssize_t n = pread(fd, buf + got, want - got, (off_t)(off + got));
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
        h_update(&h, buf, got);
        h_final(&h, r->digest);
        atomic_fetch_add(&j->done, (uint64_t)got);
        *checked_eof = 1;
        return AIOS_OK;
    }
    while (off < r->end) {
        size_t want = r->end - off < j->buf_size ? (size_t)(r->end - off) : j->buf_size;
        ssize_t n = pread(fd, buf, want, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return aios__fail_errno(AIOS_E_IO, errno, "model hashing: cannot read '%s'",
                                    e->path);
        }
        if (n == 0)
            return aios__fail(AIOS__E_MANIFEST_CHANGED, "model hashing: '%s' was truncated "
                              "while it was hashed", e->path);
        h_update(&h, buf, (size_t)n);
        off += (uint64_t)n;
        atomic_fetch_add(&j->done, (uint64_t)n);
        if (off < r->end && checkpoint(j, e->path)) {
            h_final(&h, r->digest);   /* wipes the context */
            return AIOS_E_CANCELLED;
        }
    }
    h_final(&h, r->digest);
    return AIOS_OK;
}

static int hash_item(job *j, uint8_t *buf, size_t ri)
{
    aios__mf_resource *r = &j->res[ri];
    const aios__mf_entry *e = r->entry;
    size_t fi = j->file_of ? j->file_of[ri] : SIZE_MAX;
    struct stat st;
    int fd = -1, rc, eof_checked = 0;

    if (fi == SIZE_MAX) {
        rc = open_entry(j, e, r->end - r->start, &fd, &st);
        if (rc != AIOS_OK)
            return rc;
        rc = hash_range(j, buf, fd, r, &eof_checked);
        if (rc == AIOS_OK && !eof_checked)
            rc = check_after(e, fd, &st);
        close_entry(j, fd);
        return rc;
    }

    /* A shard of a file with several: share one descriptor. */
    {
        shared_file *f = &j->files[fi];
        int last;
        pthread_mutex_lock(&j->files_mu);
        if (f->fd < 0 && !f->failed) {
            rc = open_entry(j, e, e->size, &f->fd, &f->st);
            if (rc != AIOS_OK) {
                f->failed = 1;
                pthread_mutex_unlock(&j->files_mu);
                return rc;
            }
        }
        fd = f->fd;
        st = f->st;
        pthread_mutex_unlock(&j->files_mu);
        if (fd < 0)   /* another shard failed to open it and reported why */
            return AIOS_E_CANCELLED;
        rc = hash_range(j, buf, fd, r, &eof_checked);
        if (rc == AIOS_OK && !eof_checked)
            rc = check_after(e, fd, &st);
        pthread_mutex_lock(&j->files_mu);
        last = --f->left == 0;
        if (last) {
            close_entry(j, f->fd);
            f->fd = -1;
            f->failed = 1;   /* never reopened */
        }
        pthread_mutex_unlock(&j->files_mu);
        return rc;
    }
}

static void *worker(void *arg)
{
    job *j = arg;
    uint8_t *buf = aios__malloc(j->buf_size);

    if (buf == NULL) {
        job_fail(j, aios__nomem("model hashing: read buffer"));
        return NULL;
    }
    for (;;) {
        size_t i;
        int rc;
        if (atomic_load_explicit(&j->stop, memory_order_relaxed))
            break;
        i = atomic_fetch_add(&j->next, 1);
        if (i >= j->nitems)
            break;
        rc = hash_item(j, buf, j->order[i]);
        if (rc != AIOS_OK) {
            if (rc != AIOS_E_CANCELLED || !atomic_load(&j->stop))
                job_fail(j, rc);
            break;
        }
        if (checkpoint(j, j->res[j->order[i]].entry->path))
            break;
    }
    aios__free(buf);
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

static uint32_t online_cpus(void)
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
        o.threads = online_cpus();
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

    /* One buffer per thread, no larger than the longest item needs (plus
     * the byte that checks the end of a file read in one go). */
    j.buf_size = o.read_size;
    if (longest + 1 < j.buf_size)
        j.buf_size = (size_t)((longest + 1 + 4095) & ~(uint64_t)4095);
    nthreads = o.threads;
    if (nthreads > r->n)
        nthreads = r->n ? (uint32_t)r->n : 1u;
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
