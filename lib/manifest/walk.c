/*
 * lib/manifest: walking a model directory (docs/MANIFEST.md 5.3, 5.5).
 *
 * The root is opened as the caller names it; everything below it is
 * reached with openat()/fstatat() relative to the descriptor of its parent
 * directory, with O_NOFOLLOW / AT_SYMLINK_NOFOLLOW, so no path is ever
 * re-resolved and no symlink is followed by accident.  When symlinks are
 * allowed, each one is resolved by hand, one component at a time beneath
 * the root: a target that leaves the root (an absolute target, or ".."
 * above it), dangles or loops is refused.
 *
 * The walk records regular files only, excludes ignore paths (exact, or a
 * directory prefix) before looking at what they are, checks every name
 * (5.3), and sorts the entries in the profile's order.
 *
 * Threads.  Listing a tree of many small files is mostly readdir() and
 * fstatat() in the kernel, and it runs before any hashing can start, so
 * with threads > 1 directories are listed by several threads at once.  A
 * thread that finds a subdirectory puts its descriptor, opened as above,
 * into a small shared queue while the queue has room (at most 2 x threads
 * descriptors wait there), waking an idle thread or starting a helper;
 * when the queue is full it descends itself.  Helpers are started only
 * when there is a directory to give them, so a model of one folder
 * starts none.  Each thread collects its entries and path strings
 * on its own; they are joined and sorted at the end, so the result does
 * not depend on the threads.  The first failure stops the others and is
 * what the caller gets (with several faults in one tree, which one is
 * reported first may differ from run to run; the status class of each is
 * the same).  A thread that runs out of descriptors stops the walk, which
 * starts again on the caller's thread alone (WALK_NO_FDS).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#if defined(__linux__)
#  include <linux/openat2.h>
#endif

#include "core/internal.h"
#include "manifest/manifest_internal.h"

/* ------------------------------------------------------------ arena */

#define ARENA_CHUNK (64u << 10)

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    char data[];
} arena_chunk;

struct aios__mf_arena { arena_chunk *head; };

static char *arena_strdup(struct aios__mf_arena *a, const char *s, size_t len)
{
    arena_chunk *c = a->head;
    char *p;
    if (c == NULL || c->cap - c->used < len + 1) {
        size_t cap = len + 1 > ARENA_CHUNK ? len + 1 : ARENA_CHUNK;
        c = aios__malloc(sizeof(*c) + cap);
        if (c == NULL)
            return NULL;
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    p = c->data + c->used;
    memcpy(p, s, len);
    p[len] = '\0';
    c->used += len + 1;
    return p;
}

static void arena_free(struct aios__mf_arena *a)
{
    arena_chunk *c, *next;
    if (a == NULL)
        return;
    for (c = a->head; c != NULL; c = next) {
        next = c->next;
        aios__free(c);
    }
    aios__free(a);
}

/* ------------------------------------------------------------ names */

int aios__mf_path_check(const char *p, size_t len, const char *what)
{
    size_t i, comp_start = 0, ncomp = 0;

    if (len == 0)
        return aios__fail(AIOS__E_MANIFEST_PATH, "%s: empty path", what);
    if (len > AIOS__MF_PATH_MAX)
        return aios__fail(AIOS__E_MANIFEST_PATH, "%s: path longer than %u bytes", what,
                          AIOS__MF_PATH_MAX);
    if (memchr(p, '\0', len) != NULL)
        return aios__fail(AIOS__E_MANIFEST_PATH, "%s: path holds a NUL byte", what);
    if (!aios__utf8_valid((const uint8_t *)p, len))
        return aios__fail(AIOS__E_MANIFEST_PATH, "%s: path is not valid UTF-8", what);
    if (p[0] == '/')
        return aios__fail(AIOS__E_MANIFEST_PATH, "%s '%.*s': absolute path", what,
                          (int)len, p);
    for (i = 0; i <= len; i++) {
        size_t clen;
        if (i < len && p[i] != '/')
            continue;
        clen = i - comp_start;
        if (clen == 0)
            return aios__fail(AIOS__E_MANIFEST_PATH, "%s '%.*s': empty component", what,
                              (int)len, p);
        if (clen > AIOS__MF_COMPONENT_MAX)
            return aios__fail(AIOS__E_MANIFEST_PATH,
                              "%s: a component is longer than %u bytes", what,
                              AIOS__MF_COMPONENT_MAX);
        if ((clen == 1 && p[comp_start] == '.') ||
            (clen == 2 && p[comp_start] == '.' && p[comp_start + 1] == '.'))
            return aios__fail(AIOS__E_MANIFEST_PATH, "%s '%.*s': '.' or '..' component",
                              what, (int)len, p);
        if (++ncomp > AIOS__MF_COMPONENTS_MAX)
            return aios__fail(AIOS__E_MANIFEST_PATH, "%s: more than %u components", what,
                              AIOS__MF_COMPONENTS_MAX);
        comp_start = i + 1;
    }
    return AIOS_OK;
}

int aios__mf_cmp_components(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t i, n = alen < blen ? alen : blen;
    for (i = 0; i < n; i++) {
        unsigned ca = (unsigned char)a[i], cb = (unsigned char)b[i];
        if (ca == cb)
            continue;
        ca = ca == '/' ? 0u : ca;
        cb = cb == '/' ? 0u : cb;
        return ca < cb ? -1 : 1;
    }
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

int aios__mf_cmp_codepoints(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0)
        return c < 0 ? -1 : 1;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

int aios__mf_cmp_profile(aios__mf_profile profile, const char *a, size_t alen,
                         const char *b, size_t blen)
{
    return profile == AIOS__MF_PROFILE_OMS_1_0 ? aios__mf_cmp_codepoints(a, alen, b, blen)
                                               : aios__mf_cmp_components(a, alen, b, blen);
}

static int cmp_entries_components(const void *x, const void *y)
{
    const aios__mf_entry *a = x, *b = y;
    return aios__mf_cmp_components(a->path, a->path_len, b->path, b->path_len);
}

static int cmp_entries_codepoints(const void *x, const void *y)
{
    const aios__mf_entry *a = x, *b = y;
    return aios__mf_cmp_codepoints(a->path, a->path_len, b->path, b->path_len);
}

/* ------------------------------------------------------------ opening beneath */

#if defined(SYS_openat2) && defined(RESOLVE_BENEATH)
/* 0 unknown or working, -1 the kernel (or a seccomp filter, or valgrind)
 * has no openat2. */
static atomic_int openat2_missing;
#endif

int aios__mf_open_beneath(int dir_fd, const char *rel, int flags)
{
    int oflags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | flags;
    char buf[AIOS__MF_PATH_MAX + 1];
    size_t len = strlen(rel), start = 0;
    int cur = dir_fd;

#if defined(SYS_openat2) && defined(RESOLVE_BENEATH)
    if (!atomic_load_explicit(&openat2_missing, memory_order_relaxed)) {
        struct open_how how;
        long fd;
        memset(&how, 0, sizeof(how));
        how.flags = (uint64_t)oflags;
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
        do {
            fd = syscall(SYS_openat2, dir_fd, rel, &how, sizeof(how));
        } while (fd < 0 && errno == EINTR);
        if (fd >= 0)
            return (int)fd;
        if (errno != ENOSYS && errno != EPERM)
            return -1;
        if (errno == ENOSYS)
            atomic_store_explicit(&openat2_missing, 1, memory_order_relaxed);
    }
#endif
    /* Component by component, each with O_NOFOLLOW. */
    if (len == 0 || len > AIOS__MF_PATH_MAX || rel[0] == '/') {
        errno = EINVAL;
        return -1;
    }
    memcpy(buf, rel, len + 1);
    for (;;) {
        char *slash = strchr(buf + start, '/');
        const char *comp = buf + start;
        int next;
        if (slash != NULL)
            *slash = '\0';
        if (comp[0] == '\0' || strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0) {
            if (cur != dir_fd)
                close(cur);
            errno = EINVAL;
            return -1;
        }
        do {
            next = openat(cur, comp, slash != NULL
                          ? (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : oflags);
        } while (next < 0 && errno == EINTR);
        if (next < 0 && errno == ENOTDIR && slash != NULL) {
            /* O_DIRECTORY on a symlink says ENOTDIR: report it as the
             * symlink it is (ELOOP), as openat2 does */
            struct stat lst;
            if (fstatat(cur, comp, &lst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(lst.st_mode))
                errno = ELOOP;
            else
                errno = ENOTDIR;
        }
        if (cur != dir_fd) {
            int e = errno;
            close(cur);
            errno = e;
        }
        if (next < 0)
            return -1;
        if (slash == NULL)
            return next;
        cur = next;
        start = (size_t)(slash - buf) + 1;
    }
}

/* ------------------------------------------------------------ the walker */

typedef struct ignore_ent { const char *p; size_t len; } ignore_ent;

typedef struct walk_pool walk_pool;

/* walk_dir's answer when another thread's failure stopped the walk: that
 * failure (already recorded, with its message) is the one reported. */
#define WALK_STOPPED (-1000)
/* pool_walk's answer when a thread ran out of descriptors: each thread
 * holds one per level it is in and each queued folder one, so a deep,
 * wide tree on many threads needs many times what one thread needs.  The
 * walk is then done again on the caller's thread, where it needs only
 * one per level (a failure there is the one reported). */
#define WALK_NO_FDS (-1001)
/* A helper's stack: walk_dir recurses once per level (at most
 * AIOS__MF_DEPTH_MAX, a few hundred bytes each), resolve_link needs about
 * 17 KiB at the bottom; 1 MiB whatever the platform's default (musl's is
 * 128 KiB). */
#define WALK_STACK ((size_t)1 << 20)

typedef struct walker {
    aios__mf_walk *w;          /* where entries go: the result, or this thread's part */
    int root_fd;
    const aios__mf_walk_options *o;
    const ignore_ent *ignore;
    size_t nignore;
    size_t max_entries;
    size_t seen;       /* directory entries looked at, for the progress callback */
    walk_pool *pool;   /* NULL: one thread */
    int out_of_fds;    /* this thread's failure was EMFILE or ENFILE */
    /* the relative path of what is being looked at */
    char path[AIOS__MF_PATH_MAX + AIOS__MF_COMPONENT_MAX + 2];
    /* a symlink's target path: here, not in walk_dir's frame, which
     * recurses (helper threads have the default stack size) */
    char tgt[AIOS__MF_PATH_MAX + 1];
} walker;

/* A directory handed to another thread: its open descriptor (owned by the
 * queue until taken) and relative path. */
typedef struct walk_task {
    int      fd;
    unsigned depth;
    size_t   plen;
    char    *path;
} walk_task;

struct walk_pool {
    pthread_mutex_t mu;
    pthread_cond_t  cv;          /* a task queued, a thread done, or stop */
    walk_task      *q;
    size_t          qn, qcap;
    walker         *walkers;     /* [0] the caller's */
    pthread_t      *tids;
    pthread_attr_t  attr;        /* helpers: a stack of WALK_STACK bytes */
    int             attr_ok;
    uint32_t        threads;     /* at most */
    uint32_t        started;     /* helpers running */
    uint32_t        idle;        /* threads waiting for a task */
    uint32_t        busy;        /* threads walking a directory */
    atomic_int      stop;
    atomic_size_t   n;           /* entries so far, all threads */
    atomic_size_t   seen;
    pthread_mutex_t progress_mu;
    int             progress_stopped;   /* the callback said stop (under progress_mu) */
    int             status;      /* the first failure (under mu) */
    int             status_fds;  /* it was for want of descriptors */
    char            msg[AIOS__ERROR_MESSAGE_MAX];
};

/* An I/O failure of the walk (AIOS_E_IO, the errno's text after the
 * message).  Running out of descriptors is noted: the threaded walk then
 * starts again on the caller's thread alone (see pool_walk). */
static int walk_errno(walker *k, int e, const char *fmt, ...) AIOS__PRINTF(3, 4);
static int walk_errno(walker *k, int e, const char *fmt, ...)
{
    char msg[AIOS__ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
        msg[0] = '\0';
    va_end(ap);
    if (e == EMFILE || e == ENFILE)
        k->out_of_fds = 1;
    return aios__fail_errno(AIOS_E_IO, e, "%s", msg);
}

static const char *const git_defaults[] = { ".git", ".gitattributes", ".github", ".gitignore" };

static int cmp_ignore(const void *x, const void *y)
{
    const ignore_ent *a = x, *b = y;
    return aios__mf_cmp_codepoints(a->p, a->len, b->p, b->len);
}

static int ignored(const walker *k, const char *p, size_t len)
{
    ignore_ent key;
    key.p = p;
    key.len = len;
    return k->nignore != 0 &&
           bsearch(&key, k->ignore, k->nignore, sizeof(*k->ignore), cmp_ignore) != NULL;
}

static const char *type_name(mode_t m)
{
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISCHR(m))  return "a character device";
    if (S_ISBLK(m))  return "a block device";
    return "not a regular file";
}

static int add_entry(walker *k, const char *path, size_t len, const char *open_path,
                     size_t open_len, const struct stat *st, int via_symlink)
{
    aios__mf_walk *w = k->w;
    aios__mf_entry *e;

    if (k->pool != NULL ? atomic_fetch_add(&k->pool->n, 1) >= k->max_entries
                        : w->n >= k->max_entries)
        return aios__fail(AIOS_E_LIMIT, "model has more than %zu files", k->max_entries);
    if (w->n == w->cap_) {
        size_t cap = w->cap_ ? w->cap_ * 2 : 64;
        aios__mf_entry *ne;
        if (cap > k->max_entries)
            cap = k->max_entries;
        ne = aios__calloc(cap, sizeof(*ne));
        if (ne == NULL)
            return aios__nomem("model walk");
        if (w->n)
            memcpy(ne, w->entries, w->n * sizeof(*ne));
        aios__free(w->entries);
        w->entries = ne;
        w->cap_ = cap;
    }
    e = &w->entries[w->n];
    memset(e, 0, sizeof(*e));
    e->path = arena_strdup(w->arena_, path, len);
    if (e->path == NULL)
        return aios__nomem("model walk");
    e->path_len = len;
    if (open_path == NULL) {
        e->open_path = NULL;
    } else if (open_path == path) {
        e->open_path = e->path;
    } else {
        e->open_path = arena_strdup(w->arena_, open_path, open_len);
        if (e->open_path == NULL)
            return aios__nomem("model walk");
    }
    e->size = (uint64_t)st->st_size;
    e->dev = (uint64_t)st->st_dev;
    e->ino = (uint64_t)st->st_ino;
    e->mtime_sec = (int64_t)st->st_mtim.tv_sec;
    e->mtime_nsec = (int64_t)st->st_mtim.tv_nsec;
    e->ctime_sec = (int64_t)st->st_ctim.tv_sec;
    e->ctime_nsec = (int64_t)st->st_ctim.tv_nsec;
    e->via_symlink = via_symlink;
    w->n++;
    w->total_bytes += e->size;
    return AIOS_OK;
}

/* Resolve the symlink k->path[0..len) (whose parent is k->path[0..plen))
 * beneath the root.  On success *st is the target's and tgt[0..*tlen) its
 * relative path; returns 1 for a link to a directory (skipped), 0 for a
 * regular file, or a failure. */
static int resolve_link(walker *k, size_t plen, size_t len, char *tgt, size_t *tlen,
                        struct stat *st)
{
    char rem[2 * AIOS__MF_PATH_MAX + 2];
    char stack[AIOS__MF_PATH_MAX + 1];
    size_t slen = plen, rlen, pos = 0;
    unsigned hops = 1;
    int dfd;
    ssize_t r;

    memcpy(stack, k->path, plen);
    stack[slen] = '\0';
    dfd = slen ? aios__mf_open_beneath(k->root_fd, stack, O_DIRECTORY) : k->root_fd;
    if (dfd < 0)
        return walk_errno(k, errno, "model walk: cannot open '%s'", stack);
    r = readlinkat(dfd, k->path + (plen ? plen + 1 : 0), rem, AIOS__MF_PATH_MAX + 1);
    if (dfd != k->root_fd)
        close(dfd);
    if (r < 0)
        return walk_errno(k, errno, "model walk: cannot read the symlink '%.*s'",
                                (int)len, k->path);
    if ((size_t)r > AIOS__MF_PATH_MAX)
        return aios__fail(AIOS__E_MANIFEST_SYMLINK, "model walk: the symlink '%.*s' has a "
                          "target longer than %u bytes", (int)len, k->path, AIOS__MF_PATH_MAX);
    rlen = (size_t)r;
    rem[rlen] = '\0';

    for (;;) {
        const char *comp;
        size_t clen;
        struct stat cst;
        int rc;

        if (pos < rlen && rem[pos] == '/' && pos == 0)
            return aios__fail(AIOS__E_MANIFEST_SYMLINK, "model walk: the symlink '%.*s' "
                              "points outside the model (absolute target)", (int)len, k->path);
        while (pos < rlen && rem[pos] == '/')
            pos++;
        if (pos >= rlen)
            return 1;   /* ends on a directory: skipped, as model_signing does */
        comp = rem + pos;
        for (clen = 0; pos + clen < rlen && rem[pos + clen] != '/'; clen++)
            ;
        pos += clen;
        if (clen == 1 && comp[0] == '.')
            continue;
        if (clen == 2 && comp[0] == '.' && comp[1] == '.') {
            char *s;
            if (slen == 0)
                return aios__fail(AIOS__E_MANIFEST_SYMLINK, "model walk: the symlink '%.*s' "
                                  "points outside the model", (int)len, k->path);
            s = memrchr(stack, '/', slen);
            slen = s ? (size_t)(s - stack) : 0;
            stack[slen] = '\0';
            continue;
        }
        if (clen > AIOS__MF_COMPONENT_MAX || slen + 1 + clen > AIOS__MF_PATH_MAX)
            return aios__fail(AIOS__E_MANIFEST_SYMLINK, "model walk: the symlink '%.*s' "
                              "resolves to a path that is too long", (int)len, k->path);
        /* stack + comp, looked at without following */
        {
            char name[AIOS__MF_COMPONENT_MAX + 1];
            memcpy(name, comp, clen);
            name[clen] = '\0';
            dfd = slen ? aios__mf_open_beneath(k->root_fd, stack, O_DIRECTORY)
                       : k->root_fd;
            if (dfd < 0)
                return walk_errno(k, errno, "model walk: cannot open '%s'", stack);
            rc = fstatat(dfd, name, &cst, AT_SYMLINK_NOFOLLOW);
            if (rc == 0 && S_ISLNK(cst.st_mode)) {
                char more[AIOS__MF_PATH_MAX + 1];
                ssize_t m;
                if (++hops > AIOS__MF_SYMLINK_HOPS) {
                    if (dfd != k->root_fd)
                        close(dfd);
                    return aios__fail(AIOS__E_MANIFEST_SYMLINK, "model walk: the symlink "
                                      "'%.*s' loops (more than %u links)", (int)len, k->path,
                                      AIOS__MF_SYMLINK_HOPS);
                }
                m = readlinkat(dfd, name, more, sizeof(more));
                if (dfd != k->root_fd)
                    close(dfd);
                if (m < 0)
                    return walk_errno(k, errno, "model walk: cannot read a "
                                            "symlink reached from '%.*s'", (int)len, k->path);
                if ((size_t)m >= sizeof(more) || rlen - pos + (size_t)m + 1 >= sizeof(rem))
                    return aios__fail(AIOS__E_MANIFEST_SYMLINK, "model walk: the symlink '%.*s' "
                                      "resolves to a path that is too long", (int)len, k->path);
                if (m == 0 || more[0] == '/')
                    return aios__fail(AIOS__E_MANIFEST_SYMLINK, "model walk: the symlink '%.*s' "
                                      "points outside the model (absolute target)", (int)len,
                                      k->path);
                /* rem = more + "/" + the rest after comp */
                memmove(rem + (size_t)m + 1, rem + pos, rlen - pos);
                memcpy(rem, more, (size_t)m);
                rem[m] = '/';
                rlen = (size_t)m + 1 + (rlen - pos);
                rem[rlen] = '\0';
                pos = 0;
                continue;
            }
            if (dfd != k->root_fd)
                close(dfd);
            if (rc != 0) {
                if (errno == ENOENT || errno == ENOTDIR)
                    return aios__fail(AIOS__E_MANIFEST_SYMLINK, "model walk: the symlink '%.*s' "
                                      "dangles", (int)len, k->path);
                return walk_errno(k, errno, "model walk: cannot resolve the "
                                        "symlink '%.*s'", (int)len, k->path);
            }
            if (S_ISDIR(cst.st_mode)) {
                if (slen)
                    stack[slen++] = '/';
                memcpy(stack + slen, comp, clen);
                slen += clen;
                stack[slen] = '\0';
                continue;
            }
            /* a file: it must be the last component */
            while (pos < rlen && rem[pos] == '/')
                pos++;
            if (pos < rlen)
                return aios__fail(AIOS__E_MANIFEST_SYMLINK, "model walk: the symlink '%.*s' "
                                  "dangles (a file used as a directory)", (int)len, k->path);
            if (!S_ISREG(cst.st_mode))
                return aios__fail(AIOS__E_MANIFEST_SPECIAL_FILE, "model walk: the symlink "
                                  "'%.*s' points to %s", (int)len, k->path,
                                  type_name(cst.st_mode));
            memcpy(tgt, stack, slen);
            *tlen = slen;
            if (slen)
                tgt[(*tlen)++] = '/';
            memcpy(tgt + *tlen, comp, clen);
            *tlen += clen;
            tgt[*tlen] = '\0';
            *st = cst;
            return 0;
        }
    }
}

/* Queue the directory cfd (k->path[0..len), at depth) for any thread if
 * the queue has room.  Returns 1 if queued (cfd now belongs to the
 * queue). */
static void *pool_thread(void *arg);

static int offer(walker *k, int cfd, size_t len, unsigned depth)
{
    walk_pool *p = k->pool;
    int given = 0;

    pthread_mutex_lock(&p->mu);
    /* once stopped, nothing is queued nor started: this thread walks the
     * folder itself and stops at its first entry */
    if (p->qn < p->qcap && !atomic_load(&p->stop)) {
        char *path = aios__malloc(len + 1);
        if (path != NULL) {
            memcpy(path, k->path, len);
            path[len] = '\0';
            p->q[p->qn].fd = cfd;
            p->q[p->qn].depth = depth;
            p->q[p->qn].plen = len;
            p->q[p->qn].path = path;
            p->qn++;
            given = 1;
            if (p->qn <= p->idle)   /* a woken thread leaves idle only when it runs */
                pthread_cond_signal(&p->cv);
            else if (p->started + 1 < p->threads &&
                     pthread_create(&p->tids[p->started], p->attr_ok ? &p->attr : NULL,
                                    pool_thread, &p->walkers[p->started + 1]) == 0)
                p->started++;
            /* else: a thread takes it when it is done with its own */
        }
    }
    pthread_mutex_unlock(&p->mu);
    return given;
}

/* Walk the directory dfd (owned: closed here), whose relative path is
 * k->path[0..plen) (empty for the root), at depth `depth` (its number of
 * components). */
static int walk_dir(walker *k, int dfd, size_t plen, unsigned depth)
{
    DIR *d = fdopendir(dfd);
    struct dirent *de;
    int rc = AIOS_OK;

    if (d == NULL) {
        int e = errno;
        close(dfd);
        return walk_errno(k, e, "model walk: cannot read the directory '%s'",
                                plen ? k->path : ".");
    }
    for (;;) {
        const char *name;
        size_t nlen, len;
        struct stat st;

        errno = 0;
        de = readdir(d);
        if (de == NULL) {
            if (errno != 0) {
                k->path[plen] = '\0';
                rc = walk_errno(k, errno, "model walk: cannot read the "
                                      "directory '%s'", plen ? k->path : ".");
            }
            break;
        }
        name = de->d_name;
        if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
            continue;
        if (k->pool != NULL && atomic_load_explicit(&k->pool->stop, memory_order_relaxed)) {
            rc = WALK_STOPPED;   /* another thread failed: its failure is the one kept */
            break;
        }
        /* A large tree takes a while to list: report and allow a cancel
         * every 256 entries (done = total = 0: the size is not known yet). */
        if (k->o->progress &&
            ((k->pool != NULL ? atomic_fetch_add(&k->pool->seen, 1) + 1 : ++k->seen) & 255) == 0) {
            int stop = 0, skip = 0;
            k->path[plen] = '\0';
            if (k->pool == NULL) {
                stop = k->o->progress(0, 0, plen ? k->path : ".", k->o->progress_payload);
            } else {
                /* one call at a time, and none after a cancel */
                pthread_mutex_lock(&k->pool->progress_mu);
                if (k->pool->progress_stopped || atomic_load(&k->pool->stop))
                    skip = 1;
                else
                    stop = k->o->progress(0, 0, plen ? k->path : ".", k->o->progress_payload);
                if (stop != 0)
                    k->pool->progress_stopped = 1;
                pthread_mutex_unlock(&k->pool->progress_mu);
            }
            if (skip) {
                rc = WALK_STOPPED;   /* another thread cancelled: its failure is the one kept */
                break;
            }
            if (stop != 0) {
                rc = aios__fail(AIOS_E_CANCELLED, "model walk cancelled by the progress callback");
                break;
            }
        }
        nlen = strlen(name);
        len = plen ? plen + 1 + nlen : nlen;
        if (nlen > AIOS__MF_COMPONENT_MAX || len > AIOS__MF_PATH_MAX) {
            k->path[plen] = '\0';
            rc = aios__fail(AIOS__E_MANIFEST_PATH, "model walk: a path longer than %u bytes "
                            "(or a name longer than %u) in '%.200s%s'", AIOS__MF_PATH_MAX,
                            AIOS__MF_COMPONENT_MAX, plen ? k->path : ".", plen > 200 ? "..." : "");
            break;
        }
        if (plen)
            k->path[plen] = '/';
        memcpy(k->path + (plen ? plen + 1 : 0), name, nlen);
        k->path[len] = '\0';
        if (!aios__utf8_valid((const uint8_t *)name, nlen)) {
            k->path[plen] = '\0';
            rc = aios__fail(AIOS__E_MANIFEST_PATH, "model walk: a name in '%s' is not valid "
                            "UTF-8", plen ? k->path : ".");
            break;
        }
        if (ignored(k, k->path, len))
            continue;
        if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT)   /* removed since readdir: not part of the model */
                continue;
            rc = walk_errno(k, errno, "model walk: cannot stat '%s'", k->path);
            break;
        }
        if (k->o->exclude_file && (uint64_t)st.st_dev == k->o->exclude_dev &&
            (uint64_t)st.st_ino == k->o->exclude_ino)
            continue;
        if (S_ISDIR(st.st_mode)) {
            int cfd;
            if (depth + 1 >= AIOS__MF_DEPTH_MAX) {
                rc = aios__fail(AIOS_E_LIMIT, "model walk: '%s' is deeper than %u levels",
                                k->path, AIOS__MF_DEPTH_MAX);
                break;
            }
            do {
                cfd = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            } while (cfd < 0 && errno == EINTR);
            if (cfd < 0) {
                rc = errno == ELOOP || errno == ENOTDIR
                     ? aios__fail(AIOS__E_MANIFEST_CHANGED, "model walk: '%s' changed while "
                                  "it was walked", k->path)
                     : walk_errno(k, errno, "model walk: cannot open the "
                                        "directory '%s'", k->path);
                break;
            }
            if (k->pool != NULL && offer(k, cfd, len, depth + 1))
                continue;
            rc = walk_dir(k, cfd, len, depth + 1);
            if (rc != AIOS_OK)
                break;
        } else if (S_ISREG(st.st_mode)) {
            rc = add_entry(k, k->path, len, k->path, len, &st, 0);
            if (rc != AIOS_OK)
                break;
        } else if (S_ISLNK(st.st_mode)) {
            size_t tlen = 0;
            struct stat tst;
            if (!k->o->allow_symlinks) {
                rc = aios__fail(AIOS__E_MANIFEST_SYMLINK, "model walk: '%s' is a symlink "
                                "(symlinks are not allowed)", k->path);
                break;
            }
            rc = resolve_link(k, plen, len, k->tgt, &tlen, &tst);
            if (rc == 1) {   /* a directory: neither descended nor recorded */
                rc = AIOS_OK;
                continue;
            }
            if (rc != AIOS_OK)
                break;
            rc = add_entry(k, k->path, len, k->tgt, tlen, &tst, 1);
            if (rc != AIOS_OK)
                break;
        } else {
            rc = aios__fail(AIOS__E_MANIFEST_SPECIAL_FILE, "model walk: '%s' is %s", k->path,
                            type_name(st.st_mode));
            break;
        }
    }
    closedir(d);
    return rc;
}

/* ------------------------------------------------------------ the pool */

static int walk_new(aios__mf_walk **out, const aios__mf_walk_options *o);

/* Keep the first failure (its message is in this thread's error detail)
 * and stop the other threads. */
static void pool_fail(walk_pool *p, const walker *k, int rc)
{
    pthread_mutex_lock(&p->mu);
    if (p->status == AIOS_OK && !atomic_load(&p->stop)) {
        p->status = rc;
        p->status_fds = k->out_of_fds;
        snprintf(p->msg, sizeof(p->msg), "%s", aios_last_error_message());
    }
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* Take queued directories until none is queued and no thread can queue
 * more (or the walk stops). */
static void pool_work(walker *k)
{
    walk_pool *p = k->pool;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (atomic_load(&p->stop))
            break;
        if (p->qn > 0) {
            walk_task t = p->q[--p->qn];
            int rc;
            p->busy++;
            pthread_mutex_unlock(&p->mu);
            memcpy(k->path, t.path, t.plen + 1);
            aios__free(t.path);
            rc = walk_dir(k, t.fd, t.plen, t.depth);
            if (rc != AIOS_OK && rc != WALK_STOPPED)
                pool_fail(p, k, rc);
            pthread_mutex_lock(&p->mu);
            p->busy--;
            continue;
        }
        if (p->busy == 0)
            break;
        p->idle++;
        pthread_cond_wait(&p->cv, &p->mu);
        p->idle--;
    }
    pthread_cond_broadcast(&p->cv);   /* the others see the end too */
    pthread_mutex_unlock(&p->mu);
}

static void *pool_thread(void *arg)
{
    pool_work(arg);
    return NULL;
}

/* Move a thread's part (entries and their strings) into w. */
static void pool_join_part(aios__mf_walk *w, aios__mf_walk *part)
{
    arena_chunk *c = part->arena_->head;
    if (part->n)
        memcpy(w->entries + w->n, part->entries, part->n * sizeof(*w->entries));
    w->n += part->n;
    w->total_bytes += part->total_bytes;
    if (c != NULL) {
        while (c->next != NULL)
            c = c->next;
        c->next = w->arena_->head;
        w->arena_->head = part->arena_->head;
        part->arena_->head = NULL;
    }
}

/* The walk of the root directory dfd on up to p->threads threads, the
 * caller's first: k0 is set up, apart from its part of the result. */
static int pool_walk(aios__mf_walk *w, const walker *k0, int dfd, uint32_t threads)
{
    walk_pool p;
    size_t i, total = 0;
    int rc = AIOS_OK;

    memset(&p, 0, sizeof(p));
    p.threads = threads;
    p.qcap = 2 * (size_t)threads;
    p.q = aios__calloc(p.qcap, sizeof(*p.q));
    p.walkers = aios__calloc(threads, sizeof(*p.walkers));
    p.tids = aios__calloc(threads, sizeof(*p.tids));
    if (p.q == NULL || p.walkers == NULL || p.tids == NULL) {
        rc = aios__nomem("model walk");
        close(dfd);
        goto free_mem;
    }
    for (i = 0; i < threads && rc == AIOS_OK; i++) {
        p.walkers[i] = *k0;
        p.walkers[i].pool = &p;
        rc = walk_new(&p.walkers[i].w, k0->o);
    }
    if (rc != AIOS_OK) {
        close(dfd);
        goto free_parts;
    }
    pthread_mutex_init(&p.mu, NULL);
    pthread_mutex_init(&p.progress_mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    p.attr_ok = pthread_attr_init(&p.attr) == 0;
    if (p.attr_ok && pthread_attr_setstacksize(&p.attr, WALK_STACK) != 0) {
        pthread_attr_destroy(&p.attr);
        p.attr_ok = 0;
    }
    atomic_init(&p.stop, 0);
    atomic_init(&p.n, 0);
    atomic_init(&p.seen, 0);

    p.busy = 1;
    rc = walk_dir(&p.walkers[0], dfd, 0, 0);
    if (rc != AIOS_OK && rc != WALK_STOPPED)
        pool_fail(&p, &p.walkers[0], rc);
    pthread_mutex_lock(&p.mu);
    p.busy--;
    pthread_mutex_unlock(&p.mu);
    pool_work(&p.walkers[0]);
    for (i = 0; i < p.started; i++)
        pthread_join(p.tids[i], NULL);
    for (i = 0; i < p.qn; i++) {   /* left after a failure */
        close(p.q[i].fd);
        aios__free(p.q[i].path);
    }
    rc = p.status;
    if (p.attr_ok)
        pthread_attr_destroy(&p.attr);
    pthread_cond_destroy(&p.cv);
    pthread_mutex_destroy(&p.progress_mu);
    pthread_mutex_destroy(&p.mu);
    if (rc != AIOS_OK) {
        /* A cancel is final, even when another thread's shortage of
         * descriptors was recorded first: no second walk calls back. */
        if (p.progress_stopped)
            rc = aios__fail(AIOS_E_CANCELLED, "model walk cancelled by the progress callback");
        else if (p.status_fds)
            rc = WALK_NO_FDS;
        else
            rc = aios__fail(rc, "%s", p.msg);
        goto free_parts;
    }
    for (i = 0; i < threads; i++)
        total += p.walkers[i].w->n;
    if (total) {
        w->entries = aios__calloc(total, sizeof(*w->entries));
        if (w->entries == NULL) {
            rc = aios__nomem("model walk");
            goto free_parts;
        }
        w->cap_ = total;
    }
    for (i = 0; i < threads; i++)
        pool_join_part(w, p.walkers[i].w);

free_parts:
    for (i = 0; p.walkers != NULL && i < threads; i++)
        aios__mf_walk_free(p.walkers[i].w);
free_mem:
    aios__free(p.tids);
    aios__free(p.walkers);
    aios__free(p.q);
    return rc;
}

/* ------------------------------------------------------------ entry points */

static int walk_new(aios__mf_walk **out, const aios__mf_walk_options *o)
{
    aios__mf_walk *w = aios__calloc(1, sizeof(*w));
    *out = NULL;
    if (w == NULL) {
        (void)aios__nomem("model walk");
        return AIOS_E_NOMEM;   /* a constant, so the compiler sees *out set on AIOS_OK */
    }
    w->root_fd = -1;
    w->profile = o->profile;
    w->arena_ = aios__calloc(1, sizeof(*w->arena_));
    if (w->arena_ == NULL) {
        aios__free(w);
        (void)aios__nomem("model walk");
        return AIOS_E_NOMEM;
    }
    *out = w;
    return AIOS_OK;
}

void aios__mf_walk_free(aios__mf_walk *w)
{
    if (w == NULL)
        return;
    if (w->root_fd >= 0)
        close(w->root_fd);
    aios__free(w->entries);
    arena_free(w->arena_);
    aios__free(w);
}

static int check_options(const aios__mf_walk_options *o)
{
    size_t i;
    AIOS__CHECK_ARG(o->profile == AIOS__MF_PROFILE_MODEL_SIGNING_1 ||
                    o->profile == AIOS__MF_PROFILE_OMS_1_0, "unknown profile");
    AIOS__CHECK_ARG(o->ignore_paths != NULL || o->ignore_paths_len == 0, "ignore_paths");
    if (o->ignore_paths_len > AIOS__MF_IGNORE_MAX)
        return aios__fail(AIOS_E_LIMIT, "model walk: more than %u ignore paths",
                          AIOS__MF_IGNORE_MAX);
    for (i = 0; i < o->ignore_paths_len; i++) {
        int rc;
        AIOS__CHECK_ARG(o->ignore_paths[i] != NULL, "ignore_paths[i] is NULL");
        rc = aios__mf_path_check(o->ignore_paths[i], strlen(o->ignore_paths[i]), "ignore path");
        if (rc != AIOS_OK)
            return rc;
    }
    return AIOS_OK;
}

/* Walks done again on one thread for want of descriptors (tests). */
static atomic_size_t fd_retries;

size_t aios__mf_walk_fd_retries(void)
{
    return atomic_load(&fd_retries);
}

static int walk_root_dir(aios__mf_walk *w, const aios__mf_walk_options *o)
{
    walker k;
    ignore_ent *ign = NULL;
    size_t i, n = 0, ngit = o->no_git_defaults ? 0 : sizeof(git_defaults) / sizeof(*git_defaults);
    int rc;

    memset(&k, 0, sizeof(k));
    k.w = w;
    k.o = o;
    k.max_entries = o->max_entries && o->max_entries < AIOS__MF_RESOURCES_MAX
                    ? o->max_entries : AIOS__MF_RESOURCES_MAX;
    if (o->ignore_paths_len + ngit) {
        ign = aios__calloc(o->ignore_paths_len + ngit, sizeof(*ign));
        if (ign == NULL)
            return aios__nomem("model walk");
        for (i = 0; i < ngit; i++) {
            ign[n].p = git_defaults[i];
            ign[n++].len = strlen(git_defaults[i]);
        }
        for (i = 0; i < o->ignore_paths_len; i++) {
            ign[n].p = o->ignore_paths[i];
            ign[n++].len = strlen(o->ignore_paths[i]);
        }
        qsort(ign, n, sizeof(*ign), cmp_ignore);
        k.ignore = ign;
        k.nignore = n;
    }
    k.root_fd = w->root_fd;
    {
        int dfd = dup(w->root_fd);
        uint32_t threads = o->threads > AIOS__MF_THREADS_MAX ? AIOS__MF_THREADS_MAX : o->threads;
        if (dfd < 0)
            rc = aios__fail_errno(AIOS_E_IO, errno, "model walk: dup");
        else if (threads > 1)
            rc = pool_walk(w, &k, dfd, threads);
        else
            rc = walk_dir(&k, dfd, 0, 0);
        if (rc == WALK_NO_FDS) {
            atomic_fetch_add_explicit(&fd_retries, 1, memory_order_relaxed);
            /* a new open file description: a dup would share the offset
             * the first walk left at the end of the root directory */
            dfd = openat(w->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            rc = dfd < 0 ? aios__fail_errno(AIOS_E_IO, errno, "model walk: cannot open the "
                                            "model directory again")
                         : walk_dir(&k, dfd, 0, 0);
        }
    }
    aios__free(ign);
    if (rc != AIOS_OK)
        return rc;
    if (w->n > 1)
        qsort(w->entries, w->n, sizeof(*w->entries),
              w->profile == AIOS__MF_PROFILE_OMS_1_0 ? cmp_entries_codepoints
                                                     : cmp_entries_components);
    return AIOS_OK;
}

int aios__mf_walk_dirfd(aios__mf_walk **out, int dir_fd, const aios__mf_walk_options *opts)
{
    aios__mf_walk_options defaults;
    aios__mf_walk *w = NULL;
    struct stat st;
    int rc;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    AIOS__CHECK_ARG(dir_fd >= 0, "dir_fd");
    if (opts == NULL) {
        memset(&defaults, 0, sizeof(defaults));
        opts = &defaults;
    }
    rc = check_options(opts);
    if (rc != AIOS_OK)
        return rc;
    if (fstat(dir_fd, &st) != 0)
        return aios__fail_errno(AIOS_E_IO, errno, "model walk: fstat");
    AIOS__CHECK_ARG(S_ISDIR(st.st_mode), "dir_fd is not a directory");
    rc = walk_new(&w, opts);
    if (rc != AIOS_OK)
        return rc;
    w->root_fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
    if (w->root_fd < 0) {
        rc = aios__fail_errno(AIOS_E_IO, errno, "model walk: dup");
        aios__mf_walk_free(w);
        return rc;
    }
    rc = walk_root_dir(w, opts);
    if (rc != AIOS_OK) {
        aios__mf_walk_free(w);
        return rc;
    }
    *out = w;
    return AIOS_OK;
}

/* The last component of a path, trailing slashes ignored. */
static void basename_of(const char *p, const char **b, size_t *blen)
{
    size_t len = strlen(p);
    const char *s;
    while (len > 1 && p[len - 1] == '/')
        len--;
    s = len ? memrchr(p, '/', len) : NULL;
    *b = s ? s + 1 : p;
    *blen = len - (size_t)(*b - p);
}

int aios__mf_walk_path(aios__mf_walk **out, const char *model_path,
                       const aios__mf_walk_options *opts)
{
    aios__mf_walk_options defaults;
    aios__mf_walk *w = NULL;
    struct stat st, fst;
    int rc, fd;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    AIOS__CHECK_ARG(model_path != NULL && model_path[0] != '\0', "model_path");
    if (opts == NULL) {
        memset(&defaults, 0, sizeof(defaults));
        opts = &defaults;
    }
    rc = check_options(opts);
    if (rc != AIOS_OK)
        return rc;
    if (stat(model_path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return aios__fail(AIOS_E_NOT_FOUND, "model '%s' does not exist", model_path);
        return aios__fail_errno(AIOS_E_IO, errno, "model '%s': cannot stat", model_path);
    }
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
        return aios__fail(AIOS__E_MANIFEST_SPECIAL_FILE, "model '%s' is %s", model_path,
                          type_name(st.st_mode));
    do {
        fd = open(model_path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
                  (S_ISDIR(st.st_mode) ? O_DIRECTORY : O_NONBLOCK));
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        if (errno == ENOENT)
            return aios__fail(AIOS_E_NOT_FOUND, "model '%s' does not exist", model_path);
        return aios__fail_errno(AIOS_E_IO, errno, "model '%s': cannot open", model_path);
    }
    if (fstat(fd, &fst) != 0 || fst.st_dev != st.st_dev || fst.st_ino != st.st_ino) {
        close(fd);
        return aios__fail(AIOS__E_MANIFEST_CHANGED, "model '%s' changed while it was opened",
                          model_path);
    }
    rc = walk_new(&w, opts);
    if (rc != AIOS_OK) {
        close(fd);
        return rc;
    }
    w->root_fd = fd;
    if (S_ISDIR(st.st_mode)) {
        rc = walk_root_dir(w, opts);
    } else {
        /* Single-file model (5.5.6): "." or the basename; no ignore paths. */
        walker k;
        const char *name = ".";
        size_t nlen = 1;
        memset(&k, 0, sizeof(k));
        k.w = w;
        k.root_fd = w->root_fd;
        k.o = opts;
        k.max_entries = 1;
        w->single_file = 1;
        if (opts->profile == AIOS__MF_PROFILE_OMS_1_0) {
            basename_of(model_path, &name, &nlen);
            rc = aios__mf_path_check(name, nlen, "model file name");
        }
        if (rc == AIOS_OK)
            rc = add_entry(&k, name, nlen, NULL, 0, &fst, 0);
    }
    if (rc != AIOS_OK) {
        aios__mf_walk_free(w);
        return rc;
    }
    *out = w;
    return AIOS_OK;
}
