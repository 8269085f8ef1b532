/*
 * Helpers shared by the manifest walk and hash tests: scratch model trees
 * in a temporary directory.
 */
#ifndef AIOS_TEST_MANIFEST_UTIL_H
#define AIOS_TEST_MANIFEST_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#include "testutil.h"
#include "manifest/manifest_internal.h"

/* A new empty directory under $TMPDIR (or /tmp); malloc'd path. */
static inline char *mt_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *d = malloc(4096);
    assert_non_null(d);
    snprintf(d, 4096, "%s/aios-mf-XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(d));
    return d;
}

/* dir + "/" + rel in a static buffer (one of four, so a few may be live). */
static inline const char *mt_path(const char *dir, const char *rel)
{
    static char bufs[4][8192];
    static int k;
    char *b = bufs[k++ & 3];
    snprintf(b, sizeof(bufs[0]), "%s/%s", dir, rel);
    return b;
}

/* Create the directories leading to rel (not rel itself). */
static inline void mt_mkparents(const char *dir, const char *rel)
{
    char p[8192];
    size_t i, dl = strlen(dir);
    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    for (i = dl + 1; p[i]; i++) {
        if (p[i] != '/')
            continue;
        p[i] = '\0';
        if (mkdir(p, 0755) != 0)
            assert_int_equal(errno, EEXIST);
        p[i] = '/';
    }
}

static inline void mt_write(const char *dir, const char *rel, const void *data, size_t len)
{
    int fd;
    mt_mkparents(dir, rel);
    fd = open(mt_path(dir, rel), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    if (len)
        assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static inline void mt_write_str(const char *dir, const char *rel, const char *s)
{
    mt_write(dir, rel, s, strlen(s));
}

static inline void mt_mkdir(const char *dir, const char *rel)
{
    mt_mkparents(dir, rel);
    assert_int_equal(mkdir(mt_path(dir, rel), 0755), 0);
}

static inline void mt_symlink(const char *dir, const char *rel, const char *target)
{
    mt_mkparents(dir, rel);
    assert_int_equal(symlink(target, mt_path(dir, rel)), 0);
}

/* A file of size bytes with a position-dependent pattern (every byte
 * differs from its neighbours, so a shifted read changes the digest).
 * Written through a 1 MiB buffer. */
static inline void mt_write_pattern(const char *dir, const char *rel, uint64_t size,
                                    uint32_t seed)
{
    size_t cap = 1u << 20;
    uint8_t *b = malloc(cap);
    uint64_t off = 0;
    int fd;
    assert_non_null(b);
    mt_mkparents(dir, rel);
    fd = open(mt_path(dir, rel), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    while (off < size) {
        size_t n = size - off < cap ? (size_t)(size - off) : cap, i;
        for (i = 0; i < n; i++) {
            uint64_t x = (off + i) * 0x9E3779B97F4A7C15ull + seed;
            b[i] = (uint8_t)(x >> 56);
        }
        assert_int_equal(write(fd, b, n), (ssize_t)n);
        off += n;
    }
    close(fd);
    free(b);
}

static inline int mt_rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st; (void)f;
    if (flag == FTW_DP || flag == FTW_D)
        chmod(p, 0700), rmdir(p);
    else
        unlink(p);
    return 0;
}

static inline void mt_rmtree(char *dir)
{
    if (dir == NULL)
        return;
    chmod(dir, 0700);
    nftw(dir, mt_rm_one, 32, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

/* Run fn(arg) in a child process as an unprivileged user (uid/gid 65534),
 * for the permission tests when the test runs as root (root reads
 * anything).  The directory tree must be reachable by that user.  Returns
 * fn's result (a status); fails the test if the child could not drop its
 * privileges. */
static inline int mt_as_nobody(int (*fn)(void *), void *arg)
{
    int p[2], rc = 1, ws = 0;
    pid_t pid;
    assert_int_equal(pipe(p), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
            _exit(2);
        rc = fn(arg);
        if (write(p[1], &rc, sizeof(rc)) != (ssize_t)sizeof(rc))
            _exit(3);
        _exit(0);
    }
    close(p[1]);
    assert_int_equal(read(p[0], &rc, sizeof(rc)), (ssize_t)sizeof(rc));
    close(p[0]);
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    return rc;
}

static inline void mt_hex(char *out, const uint8_t *d, size_t n)
{
    static const char *hx = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; i++) {
        out[2 * i] = hx[d[i] >> 4];
        out[2 * i + 1] = hx[d[i] & 15];
    }
    out[2 * n] = '\0';
}

/* The RLIMIT_NOFILE soft limit that leaves n descriptor numbers free
 * (inherited descriptors may leave gaps below the highest one in use). */
static inline rlim_t mt_free_below(int n)
{
    int fd;
    for (fd = 0;; fd++)
        if (fcntl(fd, F_GETFD) == -1 && --n == 0)
            return (rlim_t)fd + 1;
}

#endif /* AIOS_TEST_MANIFEST_UTIL_H */
