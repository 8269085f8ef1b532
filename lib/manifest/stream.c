/*
 * lib/manifest/stream.c: incremental verification (MANIFEST.md 11, 16.3,
 * 16.4): one file, a byte range (shards), and streams through which a
 * loader reads a file while it is verified.  Every file is opened once,
 * beneath the model root, without following a symlink, and everything is
 * read and checked through that one descriptor.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aios/manifest.h"
#include "core/internal.h"
#include "manifest_obj.h"

/* read_verified reads and hashes a unit in pieces of this size. */
#define READ_PIECE ((size_t)256 << 10)

struct aios_manifest_stream {
    aios_manifest        *m;
    const aios__mf_path  *p;
    int                   fd;
    int                   shards;
    uint64_t              size;       /* at open */
    int64_t               mtime_sec, mtime_nsec;
    uint64_t              pos;        /* bytes read through the stream */
    size_t                unit;       /* the unit being hashed */
    aios__mf_hasher       h;
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

static int sfail(aios_manifest_stream *s, int rc)
{
    s->failed = rc;
    return rc;
}

/* Close the current unit: compare its digest, start the next. */
static int unit_close(aios_manifest_stream *s)
{
    uint8_t d[64];
    size_t dl = s->m->st->hash_type == AIOS__MB_BLAKE2B ? 64 : 32;
    aios__mf_hasher_final(&s->h, d);
    if (memcmp(d, unit_digest(s, s->unit), dl) != 0) {
        uint64_t at = unit_start(s, s->unit);
        return sfail(s, aios__fail(AIOS_E_MANIFEST_MISMATCH, "manifest: '%s' differs from the "
                                   "manifest (bytes %" PRIu64 "..%" PRIu64 ")", s->path, at,
                                   unit_end(s, s->unit)));
    }
    s->unit++;
    aios__mf_hasher_init(&s->h, aios__mf_manifest_hash_type(s->m));
    return AIOS_OK;
}

/* Hash p[0..n), read at s->pos, closing units at their ends. */
static int feed(aios_manifest_stream *s, const uint8_t *p, size_t n)
{
    while (n > 0) {
        uint64_t end = unit_end(s, s->unit);
        size_t take = (uint64_t)n < end - s->pos ? n : (size_t)(end - s->pos);
        aios__mf_hasher_update(&s->h, p, take);
        s->pos += take;
        p += take;
        n -= take;
        if (s->pos == end) {
            int rc = unit_close(s);
            if (rc != AIOS_OK)
                return rc;
        }
    }
    return AIOS_OK;
}

/* Exactly n bytes at s->pos, or fail CHANGED.  Streams read with pread
 * at their own position: the descriptor may be a duplicate of the
 * caller's (a single-file model), whose file offset is not ours. */
static int read_exact(aios_manifest_stream *s, uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(s->fd, buf + got, n - got, (off_t)(s->pos + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return sfail(s, aios__fail_errno(AIOS_E_IO, errno, "manifest: cannot read '%s'",
                                             s->path));
        if (r == 0)
            return sfail(s, aios__fail(AIOS_E_MANIFEST_CHANGED, "manifest: '%s' was truncated "
                                       "while it was read (%" PRIu64 " bytes expected)", s->path,
                                       s->size));
        got += (size_t)r;
    }
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

int aios_manifest_stream_open(aios_manifest_stream **out, const aios_manifest *m, int root_dirfd,
                              const char *rel_path)
{
    aios_manifest_stream *s;
    const aios__mf_path *p;
    struct stat st;
    size_t len;
    int fd, rc, dot;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    AIOS__CHECK_ARG(m != NULL && rel_path != NULL, "manifest or rel_path is NULL");
    AIOS__CHECK_ARG(root_dirfd >= 0, "root_dirfd is not a descriptor");
    if (!(m->flags & (AIOS_MANIFEST_F_VERIFIED | AIOS_MANIFEST_F_SIGNED)))
        return aios__fail(AIOS_E_MANIFEST_UNVERIFIED, "aios_manifest_stream_open: the manifest "
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
    if (left == 0 || cap == 0)
        return AIOS_OK;
    if ((uint64_t)cap > left)
        cap = (size_t)left;
    do {
        r = pread(s->fd, buf, cap, (off_t)s->pos);
    } while (r < 0 && errno == EINTR);
    if (r < 0)
        return sfail(s, aios__fail_errno(AIOS_E_IO, errno, "manifest: cannot read '%s'", s->path));
    if (r == 0)
        return sfail(s, aios__fail(AIOS_E_MANIFEST_CHANGED, "manifest: '%s' was truncated while "
                                   "it was read", s->path));
    if ((rc = feed(s, buf, (size_t)r)) != AIOS_OK)
        return rc;
    *len_out = (size_t)r;
    return AIOS_OK;
}

int aios_manifest_stream_read_verified(aios_manifest_stream *s, uint8_t *buf, size_t cap,
                                       size_t *len_out)
{
    size_t used = 0;
    int rc;

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
    while (s->unit < unit_count(s)) {
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

int aios_manifest_verify_file(const aios_manifest *m, int root_dirfd, const char *rel_path,
                              const aios_manifest_hash_options *opts)
{
    aios_manifest_hash_options o;
    aios_manifest_stream *s = NULL;
    uint8_t *buf = NULL;
    size_t bs, n;
    int rc;

    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    if ((rc = hash_opts(&o, opts, &bs)) != AIOS_OK)
        return rc;
    if ((rc = aios_manifest_stream_open(&s, m, root_dirfd, rel_path)) != AIOS_OK)
        return rc;
    if (bs > s->size + 1)
        bs = (size_t)s->size + 1;
    buf = aios__malloc(bs);
    if (buf == NULL) {
        aios_manifest_stream_free(s);
        return aios__nomem("a read buffer");
    }
    for (;;) {
        if ((rc = aios_manifest_stream_read(s, buf, bs, &n)) != AIOS_OK || n == 0)
            break;
        if (o.progress && o.progress(s->pos, s->size, rel_path, o.progress_payload) != 0) {
            rc = aios__fail(AIOS_E_CANCELLED, "aios_manifest_verify_file: cancelled by the "
                            "progress callback");
            break;
        }
    }
    if (rc == AIOS_OK)
        rc = aios_manifest_stream_finish(s);
    aios__free(buf);
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
    if (m->st->method != AIOS__MB_SHARDS) {
        /* Files: the whole file, once the range is known to lie in it. */
        aios_manifest_stream *t = NULL;
        if ((rc = aios_manifest_stream_open(&t, m, root_dirfd, rel_path)) != AIOS_OK)
            return rc;
        if (len > UINT64_MAX - offset || offset + len > t->size)
            rc = aios__fail(AIOS_E_MANIFEST_NOT_SIGNED, "aios_manifest_verify_range: bytes %"
                            PRIu64 "..+%" PRIu64 " are past the end of '%s' (%" PRIu64 " bytes)",
                            offset, len, rel_path, t->size);
        aios_manifest_stream_free(t);
        return rc != AIOS_OK ? rc : aios_manifest_verify_file(m, root_dirfd, rel_path, opts);
    }
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
