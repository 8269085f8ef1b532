/*
 * bench_manifest: signed model manifests (issue 5) through the public API
 * only, from a warm page cache.  One JSON object per line on stdout, so
 * that bench/manifest_peers.py can put the figures beside model_signing
 * and `openssl dgst -sha256`.
 *
 *   bench_manifest sign   --key KEY.pem --dir MODEL [--threads N] [--method files|shards]
 *                         [--shard-size BYTES] [--out BUNDLE] [--reps R]
 *   bench_manifest verify --pub PUB.pem --dir MODEL --bundle BUNDLE [--threads N] [--reps R]
 *   bench_manifest kernel --file FILE [--reps R]
 *   bench_manifest stream --key KEY.pem --file FILE [--shard-size BYTES] [--reps R] [--cold 0|1]
 *                         [--threads N] [--units K]
 *
 * KEY.pem is a PKCS#8 ECDSA P-256 private key: it is imported into a new
 * local keyring (raw master key, in a temporary directory removed at the
 * end) and signing runs through that keyring's handle, as a host would.
 * PUB.pem is its SubjectPublicKeyInfo.
 *
 * sign:   aios_manifest_sign (walk, hash on N threads, sign) of MODEL.
 * verify: aios_manifest_verify_key (the bundle alone) + aios_manifest_verify_dir
 *         on N threads; both parts are also reported alone.
 * kernel: the single-core figure through the public API: aios_manifest_hash
 *         of FILE as a single-file model on the caller's thread (read() from
 *         the page cache + SHA-256), beside a plain read() of it.  The
 *         in-memory kernel is `openssl speed -evp sha256` (manifest_peers.py),
 *         which matches lib/crypto/sha256.c on SHA-NI (docs/PERFORMANCE.md).
 * stream: what streaming verification adds to a plain read of FILE (signed
 *         here as a single-file model, files and SHARDS of --shard-size,
 *         default 64 MiB): plain read() in 4 MiB calls against
 *         aios_manifest_stream_read (4 MiB) + _finish (files method), and
 *         plain read() in unit-size calls against
 *         aios_manifest_stream_read_verified (shards); and the two-pass
 *         alternative, aios_manifest_verify_file then a plain read.  With
 *         --cold 1 the file's pages are dropped from the page cache
 *         (fdatasync + posix_fadvise DONTNEED: this file only, nothing else
 *         of the machine's cache) before every timed read, so storage sets
 *         the pace, as for a loader reading a model for the first time; the
 *         plain read's GB/s shows whether the drop took.  --threads N
 *         (default 1) opens the streams with aios_manifest_stream_new and N
 *         threads (1: aios_manifest_stream_open, the caller's thread only);
 *         --units K gives read_verified, and the plain read beside it, a
 *         buffer of K shards (default 1).
 *
 * sign and verify take --read-size BYTES (the hash options' read_size;
 * 0, the default, is the library's 4 MiB) for tuning.
 *
 * Every case runs R times (default 3); each line gives the best and the
 * median time, GB/s (1e9 bytes per second) of both, and cores (CPU time
 * over wall time of the best run).  Timing starts after the key and the
 * bundle are loaded; the page cache is warmed by one untimed read of
 * every file first (sign and verify: unless --warm 0, for a caller that
 * has just warmed it).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "aios/aios.h"
#include "bench_util.h"

#define MAX_REPS 64
#define READ_BUF ((size_t)4 << 20)

#define CHECK(expr) do { int rc_ = (expr); if (rc_ != AIOS_OK) { \
    fprintf(stderr, "bench_manifest: %s: %s: %s\n", #expr, aios_status_name(rc_), \
            aios_last_error_message()); exit(1); } } while (0)

typedef struct args {
    const char *cmd, *key, *pub, *dir, *bundle, *out, *file, *method;
    uint32_t threads, read_size;
    uint64_t shard_size;
    int reps, warm, cold, units;
} args;

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_manifest sign   --key KEY.pem --dir MODEL [--threads N] "
            "[--method files|shards] [--shard-size B] [--out BUNDLE] [--reps R] [--warm 0|1]\n"
            "       bench_manifest verify --pub PUB.pem --dir MODEL --bundle BUNDLE "
            "[--threads N] [--reps R] [--warm 0|1]\n"
            "       bench_manifest kernel --file FILE [--reps R]\n"
            "       bench_manifest stream --key KEY.pem --file FILE [--shard-size B] [--reps R] "
            "[--cold 0|1] [--threads N] [--units K]\n");
    exit(2);
}

static void parse(args *a, int argc, char **argv)
{
    int i;
    memset(a, 0, sizeof(*a));
    a->threads = 1;
    a->reps = 3;
    a->warm = 1;
    a->method = "files";
    a->units = 1;
    if (argc < 2)
        usage();
    a->cmd = argv[1];
    for (i = 2; i < argc; i += 2) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            usage();
        if (strcmp(k, "--key") == 0)
            a->key = v;
        else if (strcmp(k, "--pub") == 0)
            a->pub = v;
        else if (strcmp(k, "--dir") == 0)
            a->dir = v;
        else if (strcmp(k, "--bundle") == 0)
            a->bundle = v;
        else if (strcmp(k, "--out") == 0)
            a->out = v;
        else if (strcmp(k, "--file") == 0)
            a->file = v;
        else if (strcmp(k, "--method") == 0)
            a->method = v;
        else if (strcmp(k, "--threads") == 0)
            a->threads = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(k, "--shard-size") == 0)
            a->shard_size = strtoull(v, NULL, 10);
        else if (strcmp(k, "--reps") == 0)
            a->reps = atoi(v);
        else if (strcmp(k, "--warm") == 0)
            a->warm = atoi(v);
        else if (strcmp(k, "--read-size") == 0)
            a->read_size = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(k, "--cold") == 0)
            a->cold = atoi(v);
        else if (strcmp(k, "--units") == 0)
            a->units = atoi(v);
        else
            usage();
    }
    if (a->reps < 1 || a->reps > MAX_REPS || a->threads < 1 || a->threads > 256 ||
        a->units < 1 || a->units > 64)
        usage();
    if (strcmp(a->method, "files") != 0 && strcmp(a->method, "shards") != 0)
        usage();
}

/* ------------------------------------------------------------ files */

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *p;
    long n;
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "bench_manifest: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    p = malloc((size_t)n + 1);
    if (p == NULL || fread(p, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "bench_manifest: reading %s failed\n", path);
        exit(1);
    }
    p[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return p;
}

static void spit(const char *path, const uint8_t *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "bench_manifest: writing %s failed\n", path);
        exit(1);
    }
}

/* The model's size and file count, and one untimed read of every file. */
static uint64_t tree_bytes, tree_files;
static uint8_t *warm_buf;
static int warm_on = 1;

static void warm_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    while (read(fd, warm_buf, READ_BUF) > 0)
        ;
    close(fd);
}

static int tree_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)f;
    if (flag == FTW_F && S_ISREG(st->st_mode)) {
        tree_bytes += (uint64_t)st->st_size;
        tree_files++;
        if (warm_on)
            warm_file(p);
    }
    return 0;
}

static void scan_and_warm(const char *path)
{
    tree_bytes = tree_files = 0;
    warm_buf = malloc(READ_BUF);
    if (warm_buf == NULL || nftw(path, tree_one, 64, FTW_PHYS) != 0) {
        fprintf(stderr, "bench_manifest: cannot walk %s\n", path);
        exit(1);
    }
    free(warm_buf);
    warm_buf = NULL;
}

/* ------------------------------------------------------------ keys */

static char kr_dir[4096], kr_path[4200];
static aios_keyring *kr;

static aios_key *load_signing_key(const char *pem_path)
{
    static const uint8_t master[32] = { 0x42 };
    aios_keyring_options ko = AIOS_KEYRING_OPTIONS_INIT;
    const char *tmp = getenv("TMPDIR");
    aios_key *key = NULL;
    size_t len;
    uint8_t *pem = slurp(pem_path, &len);

    snprintf(kr_dir, sizeof(kr_dir), "%s/aios-bench-kr-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(kr_dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(kr_path, sizeof(kr_path), "%s/bench.aioskr", kr_dir);
    ko.unlock = AIOS_KEYRING_UNLOCK_RAW_KEY;
    ko.secret = master;
    ko.secret_len = sizeof(master);
    CHECK(aios_keyring_create(&kr, kr_path, &ko));
    CHECK(aios_keyring_import(kr, &key, "bench-p256", AIOS_KEY_ECDSA_P256, pem, len, NULL));
    aios_wipe(pem, len);
    free(pem);
    return key;
}

static void drop_keyring(void)
{
    char lock[4300];
    aios_keyring_free(kr);
    kr = NULL;
    unlink(kr_path);
    snprintf(lock, sizeof(lock), "%s.lock", kr_path);
    unlink(lock);
    rmdir(kr_dir);
}

static aios_key *public_of(const aios_key *key)
{
    aios_buffer *pem = NULL;
    aios_key *pub = NULL;
    CHECK(aios_key_public_pem(key, &pem));
    CHECK(aios_key_from_public_pem(&pub, "bench-pub", (const char *)aios_buffer_data(pem),
                                   aios_buffer_len(pem)));
    aios_buffer_free(pem);
    return pub;
}

/* ------------------------------------------------------------ timing */

typedef struct sample {
    double wall, cpu;
} sample;

static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

typedef struct timer {
    double w0, c0;
} timer;

static timer t_start(void)
{
    timer t;
    t.c0 = cpu_now();
    t.w0 = bench_now();
    return t;
}

static sample t_stop(timer t)
{
    sample s;
    s.wall = bench_now() - t.w0;
    s.cpu = cpu_now() - t.c0;
    return s;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Print one case: {"case":..., <extra>, "bytes":..., "best_s":..., ...}. */
static void report(const char *name, const char *extra, uint64_t bytes, const sample *s, int n)
{
    double w[MAX_REPS], med;
    int i, best = 0;
    for (i = 0; i < n; i++) {
        w[i] = s[i].wall;
        if (s[i].wall < s[best].wall)
            best = i;
    }
    qsort(w, (size_t)n, sizeof(double), cmp_double);
    med = n % 2 ? w[n / 2] : (w[n / 2 - 1] + w[n / 2]) / 2;
    printf("{\"case\":\"%s\"%s%s,\"bytes\":%llu,\"reps\":%d,\"best_s\":%.6f,\"median_s\":%.6f,"
           "\"gbps\":%.4f,\"gbps_median\":%.4f,\"cores\":%.2f,\"walls\":[",
           name, extra && *extra ? "," : "", extra ? extra : "", (unsigned long long)bytes, n,
           s[best].wall, med, (double)bytes / s[best].wall / 1e9, (double)bytes / med / 1e9,
           s[best].wall > 0 ? s[best].cpu / s[best].wall : 0.0);
    for (i = 0; i < n; i++)   /* each round's time, in order: ratios of cases round by round */
        printf("%s%.6f", i ? "," : "", s[i].wall);
    printf("]}\n");
    fflush(stdout);
}

/* ------------------------------------------------------------ sign / verify */

static int cmd_sign(const args *a)
{
    aios_manifest_sign_options so = AIOS_MANIFEST_SIGN_OPTIONS_INIT;
    aios_buffer *bundle = NULL;
    aios_key *key;
    sample s[MAX_REPS];
    char extra[256];
    int r;

    if (a->key == NULL || a->dir == NULL)
        usage();
    key = load_signing_key(a->key);
    scan_and_warm(a->dir);
    so.method = strcmp(a->method, "shards") == 0 ? AIOS_MANIFEST_SHARDS : AIOS_MANIFEST_FILES;
    so.shard_size = a->shard_size;
    so.hash.threads = a->threads;
    so.hash.read_size = a->read_size;
    for (r = 0; r < a->reps; r++) {
        timer t;
        aios_buffer_free(bundle);
        bundle = NULL;
        t = t_start();
        CHECK(aios_manifest_sign(&bundle, NULL, a->dir, key, &so));
        s[r] = t_stop(t);
    }
    if (a->out != NULL)
        spit(a->out, aios_buffer_data(bundle), aios_buffer_len(bundle));
    snprintf(extra, sizeof(extra), "\"impl\":\"aios\",\"op\":\"sign\",\"method\":\"%s\","
             "\"threads\":%u,\"files\":%llu", a->method, a->threads,
             (unsigned long long)tree_files);
    report("sign", extra, tree_bytes, s, a->reps);
    aios_buffer_free(bundle);
    aios_key_unref(key);
    drop_keyring();
    return 0;
}

static int cmd_verify(const args *a)
{
    aios_manifest_verify_options vo = AIOS_MANIFEST_VERIFY_OPTIONS_INIT;
    aios_buffer *bundle = NULL;
    aios_key *pub = NULL;
    sample s[MAX_REPS], sk[MAX_REPS], sd[MAX_REPS];
    char extra[256];
    const char *method = "?";
    size_t len;
    uint8_t *pem;
    int r;

    if (a->pub == NULL || a->dir == NULL || a->bundle == NULL)
        usage();
    pem = slurp(a->pub, &len);
    CHECK(aios_key_from_public_pem(&pub, "bench-pub", (const char *)pem, len));
    free(pem);
    vo.hash.threads = a->threads;
    vo.hash.read_size = a->read_size;
    CHECK(aios_manifest_read_bundle(&bundle, a->bundle, &vo));
    scan_and_warm(a->dir);
    for (r = 0; r < a->reps; r++) {
        aios_manifest *m = NULL;
        aios_manifest_diff *d = NULL;
        timer t = t_start(), t2;
        int rc = aios_manifest_verify_key(&m, aios_buffer_data(bundle), aios_buffer_len(bundle),
                                          pub, &vo);
        CHECK(rc);
        sk[r] = t_stop(t);
        t2 = t_start();
        rc = aios_manifest_verify_dir(m, a->dir, &d, &vo);
        sd[r] = t_stop(t2);
        s[r] = t_stop(t);
        if (rc != AIOS_OK) {
            aios_buffer *j = NULL;
            if (d != NULL && aios_manifest_diff_json(d, &j) == AIOS_OK)
                fprintf(stderr, "diff: %.*s\n", (int)aios_buffer_len(j),
                        (const char *)aios_buffer_data(j));
            CHECK(rc);
        }
        if (aios_manifest_diff_count(d) != 0) {
            fprintf(stderr, "bench_manifest: verify_dir returned OK with a non-empty diff\n");
            return 1;
        }
        method = aios_manifest_get_method(m) == AIOS_MANIFEST_SHARDS ? "shards" : "files";
        aios_manifest_diff_free(d);
        aios_manifest_unref(m);
    }
    snprintf(extra, sizeof(extra), "\"impl\":\"aios\",\"op\":\"verify\",\"method\":\"%s\","
             "\"threads\":%u,\"files\":%llu", method, a->threads,
             (unsigned long long)tree_files);
    report("verify", extra, tree_bytes, s, a->reps);
    report("verify-bundle-only", extra, tree_bytes, sk, a->reps);
    report("verify-dir-only", extra, tree_bytes, sd, a->reps);
    aios_buffer_free(bundle);
    aios_key_unref(pub);
    return 0;
}

/* ------------------------------------------------------------ kernel / stream */

static uint64_t plain_read(const char *path, uint8_t *buf, size_t cap)
{
    uint64_t total = 0;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "bench_manifest: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    while ((n = read(fd, buf, cap)) > 0)
        total += (uint64_t)n;
    if (n < 0) {
        fprintf(stderr, "bench_manifest: read %s: %s\n", path, strerror(errno));
        exit(1);
    }
    close(fd);
    return total;
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "bench_manifest: %s: not a regular file\n", path);
        exit(1);
    }
    return (uint64_t)st.st_size;
}

/* Drop FILE's pages from the page cache (this file only). */
static void evict(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    (void)fdatasync(fd);
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
    /* A pause, outside the timing, so each cold read starts alike: a
     * cgroup read throttle (bench/manifest_peers.py, class Throttle) that
     * saw its budget unused at the end of the previous case (hashing
     * instead of reading) would otherwise let the next one burst ahead. */
    {
        struct timespec ts = { 0, 300 * 1000 * 1000 };
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }
}

static int cmd_kernel(const args *a)
{
    aios_manifest_sign_options so = AIOS_MANIFEST_SIGN_OPTIONS_INIT;
    sample sh[MAX_REPS], sr[MAX_REPS];
    uint8_t *buf = malloc(READ_BUF);
    uint64_t size;
    int r;

    if (a->file == NULL || buf == NULL)
        usage();
    size = file_size(a->file);
    plain_read(a->file, buf, READ_BUF);
    so.hash.threads = 1;
    for (r = 0; r < a->reps; r++) {     /* alternate, so load hits both alike */
        aios_manifest *m = NULL;
        timer t = t_start();
        CHECK(aios_manifest_hash(&m, a->file, &so));
        sh[r] = t_stop(t);
        aios_manifest_unref(m);
        t = t_start();
        plain_read(a->file, buf, READ_BUF);
        sr[r] = t_stop(t);
    }
    report("kernel-file", "\"impl\":\"aios\",\"op\":\"hash\",\"threads\":1,"
           "\"note\":\"aios_manifest_hash of one cached file, read() 4 MiB + SHA-256\"",
           size, sh, a->reps);
    report("plain-read", "\"impl\":\"read\",\"buffer\":4194304", size, sr, a->reps);
    free(buf);
    return 0;
}

static aios_manifest *signed_single(const aios_key *key, const aios_key *pub, const char *file,
                                    aios_manifest_method method, uint64_t shard)
{
    aios_manifest_sign_options so = AIOS_MANIFEST_SIGN_OPTIONS_INIT;
    aios_manifest_verify_options vo = AIOS_MANIFEST_VERIFY_OPTIONS_INIT;
    aios_buffer *bundle = NULL;
    aios_manifest *m = NULL;
    so.method = method;
    so.shard_size = shard;
    so.hash.threads = 2;
    CHECK(aios_manifest_sign(&bundle, NULL, file, key, &so));
    CHECK(aios_manifest_verify_key(&m, aios_buffer_data(bundle), aios_buffer_len(bundle), pub,
                                   &vo));
    aios_buffer_free(bundle);
    return m;
}

static int open_root(const char *file)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "bench_manifest: %s: %s\n", file, strerror(errno));
        exit(1);
    }
    return fd;
}

static aios_manifest_stream *open_stream(const aios_manifest *m, int root, uint32_t threads)
{
    aios_manifest_stream_options o = AIOS_MANIFEST_STREAM_OPTIONS_INIT;
    aios_manifest_stream *s = NULL;
    o.threads = threads;
    if (threads == 1)
        CHECK(aios_manifest_stream_open(&s, m, root, "."));
    else
        CHECK(aios_manifest_stream_new(&s, m, root, ".", &o));
    return s;
}

static uint64_t stream_files(const aios_manifest *m, const char *file, uint8_t *buf,
                             uint32_t threads)
{
    aios_manifest_stream *s;
    uint64_t total = 0;
    size_t n;
    int root = open_root(file);
    s = open_stream(m, root, threads);
    do {
        CHECK(aios_manifest_stream_read(s, buf, READ_BUF, &n));
        total += n;
    } while (n > 0);
    CHECK(aios_manifest_stream_finish(s));
    aios_manifest_stream_free(s);
    close(root);
    return total;
}

static uint64_t stream_verified(const aios_manifest *m, const char *file, uint8_t *buf, size_t cap,
                                uint32_t threads)
{
    aios_manifest_stream *s;
    uint64_t total = 0;
    size_t n;
    int root = open_root(file);
    s = open_stream(m, root, threads);
    do {
        CHECK(aios_manifest_stream_read_verified(s, buf, cap, &n));
        total += n;
    } while (n > 0);
    aios_manifest_stream_free(s);
    close(root);
    return total;
}

static int cmd_stream(const args *a)
{
    aios_manifest_hash_options ho = AIOS_MANIFEST_HASH_OPTIONS_INIT;
    sample rd[MAX_REPS], sf[MAX_REPS], rdu[MAX_REPS], sv[MAX_REPS], vf[MAX_REPS], two[MAX_REPS];
    aios_manifest *mf, *ms;
    aios_manifest_stream *probe = NULL;
    aios_key *key, *pub;
    uint64_t shard = a->shard_size ? a->shard_size : (uint64_t)64 << 20, size, unit, ucap;
    uint8_t *buf, *ubuf;
    char extra[512];
    int r, root;

    if (a->key == NULL || a->file == NULL)
        usage();
    size = file_size(a->file);
    key = load_signing_key(a->key);
    pub = public_of(key);
    mf = signed_single(key, pub, a->file, AIOS_MANIFEST_FILES, 0);
    ms = signed_single(key, pub, a->file, AIOS_MANIFEST_SHARDS, shard);
    root = open_root(a->file);
    CHECK(aios_manifest_stream_open(&probe, ms, root, "."));
    unit = aios_manifest_stream_unit_size(probe);
    aios_manifest_stream_free(probe);
    close(root);
    ucap = unit * (uint64_t)a->units;
    buf = malloc(READ_BUF);
    ubuf = malloc((size_t)ucap);
    if (buf == NULL || ubuf == NULL) {
        fprintf(stderr, "bench_manifest: out of memory\n");
        return 1;
    }
    memset(ubuf, 0, (size_t)ucap);    /* fault the pages in before timing */
    plain_read(a->file, buf, READ_BUF);
    ho.threads = 1;
    for (r = 0; r < a->reps; r++) {
        timer t;
        uint64_t got;
        if (a->cold)
            evict(a->file);
        t = t_start();
        got = plain_read(a->file, buf, READ_BUF);
        rd[r] = t_stop(t);
        if (a->cold)
            evict(a->file);
        t = t_start();
        got ^= stream_files(mf, a->file, buf, a->threads);
        sf[r] = t_stop(t);
        if (a->cold)
            evict(a->file);
        t = t_start();
        got ^= plain_read(a->file, ubuf, (size_t)ucap);
        rdu[r] = t_stop(t);
        if (a->cold)
            evict(a->file);
        t = t_start();
        got ^= stream_verified(ms, a->file, ubuf, (size_t)ucap, a->threads);
        sv[r] = t_stop(t);
        if (a->cold)
            evict(a->file);
        t = t_start();
        root = open_root(a->file);
        CHECK(aios_manifest_verify_file(mf, root, ".", &ho));
        close(root);
        vf[r] = t_stop(t);
        if (a->cold) {           /* the second pass reads from the cache verify_file filled */
            t = t_start();
            plain_read(a->file, buf, READ_BUF);
            two[r] = t_stop(t);
            two[r].wall += vf[r].wall;
            two[r].cpu += vf[r].cpu;
        } else {
            two[r].wall = vf[r].wall + rd[r].wall;
            two[r].cpu = vf[r].cpu + rd[r].cpu;
        }
        if (got != 0) {
            fprintf(stderr, "bench_manifest: the streams did not return the file's bytes\n");
            return 1;
        }
    }
    snprintf(extra, sizeof(extra), "\"impl\":\"read\",\"buffer\":4194304,\"cold\":%d", a->cold);
    report("stream-plain-read", extra, size, rd, a->reps);
    snprintf(extra, sizeof(extra), "\"impl\":\"aios\",\"method\":\"files\",\"buffer\":4194304,"
             "\"threads\":%u", a->threads);
    report("stream-read-finish", extra, size, sf, a->reps);
    snprintf(extra, sizeof(extra), "\"impl\":\"read\",\"buffer\":%llu", (unsigned long long)ucap);
    report("stream-plain-read-unit", extra, size, rdu, a->reps);
    snprintf(extra, sizeof(extra), "\"impl\":\"aios\",\"method\":\"shards\",\"shard_size\":%llu,"
             "\"buffer\":%llu,\"threads\":%u", (unsigned long long)shard,
             (unsigned long long)ucap, a->threads);
    report("stream-read-verified", extra, size, sv, a->reps);
    report("verify-file", "\"impl\":\"aios\",\"method\":\"files\",\"threads\":1", size, vf,
           a->reps);
    report("two-pass", "\"impl\":\"aios\",\"note\":\"verify_file (1 thread) then plain read\"",
           size, two, a->reps);
    free(buf);
    free(ubuf);
    aios_manifest_unref(mf);
    aios_manifest_unref(ms);
    aios_key_unref(pub);
    aios_key_unref(key);
    drop_keyring();
    return 0;
}

int main(int argc, char **argv)
{
    args a;
    parse(&a, argc, argv);
    CHECK(aios_init());
    warm_on = a.warm;
    printf("{\"case\":\"build\",\"version\":\"%s\",\"build_info\":%s}\n", aios_version_string(),
           aios_build_info());
    if (strcmp(a.cmd, "sign") == 0)
        return cmd_sign(&a);
    if (strcmp(a.cmd, "verify") == 0)
        return cmd_verify(&a);
    if (strcmp(a.cmd, "kernel") == 0)
        return cmd_kernel(&a);
    if (strcmp(a.cmd, "stream") == 0)
        return cmd_stream(&a);
    usage();
    return 2;
}
