/*
 * bench_envelope: what envelope encryption costs (issue 4), side by side
 * with the raw libsodium AEAD it is built on (the ceiling).
 *
 *   build/bench/bench_envelope [seconds-per-case] [--records-only | --stream-only]
 *                              [--dir DIR] [--size MIB] [--reps N]
 *
 * Records: a session (one data key, wrapped once) sealing and opening
 * 64 B, 1 KiB and 64 KiB records, each against the raw combined-mode
 * libsodium call on the same size (crypto_aead_aes256gcm_encrypt /
 * _decrypt; crypto_aead_xchacha20poly1305_ietf_* for the portable suite)
 * in alternating rounds; the difference is the session's fixed cost per
 * record.  Then the parts of that fixed cost measured alone, the one-shot
 * aios_envelope_seal / _open of a whole message (one wrap or unwrap each,
 * local keyring KEK) and the once-per-session costs.
 *
 * Streams: a file of MIB MiB (default 1024) of random bytes in DIR
 * (default: a new temporary directory, removed at the end; a given DIR
 * keeps its plain.bin for peers to read), read once to warm the page
 * cache, sealed with aios_envelope_seal_fd and opened with
 * aios_envelope_open_fd (chunk 64 KiB, 1 and 2 threads, output to
 * /dev/null so that reading and crypto are what is timed), against the
 * minimal raw libsodium loop over the same bytes: pread 1 MiB from the
 * page cache, one AEAD call per 64 KiB of it, next (the per-core ceiling;
 * with 2 threads each takes half the file).  Best of N runs (default 3),
 * the cases of a run interleaved; "cores" is the CPU time of the best run
 * over its wall time (how many cores it kept busy).  Then the same bytes
 * in memory ("memory" lines): a sealer and an opener fed 8 MiB updates,
 * against the raw loop over the buffer, so that no read-ahead or
 * write-behind thread shares the cores with the chunk workers.
 *
 * One line per case; bench/envelope_peers.py parses them.  Figures go to
 * docs/PERFORMANCE.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "aios/aios.h"
#include "crypto/crypto.h"
#include "bench_util.h"

#define CHECK(expr) do { int rc_ = (expr); if (rc_ != AIOS_OK) { \
    fprintf(stderr, "%s: %s: %s\n", #expr, aios_status_name(rc_), aios_last_error_message()); \
    exit(1); } } while (0)

#define CHUNK 65536u

static const aios_envelope_context_entry ctx1[] = { { "tenant", "acme" } };

typedef struct suite_desc {
    aios_envelope_suite suite;   /* what libaios is asked for */
    aios__aead_alg alg;          /* the raw call it is compared with */
    const char *name;
} suite_desc;

static const suite_desc suites[] = {
    { AIOS_ENVELOPE_SUITE_AES256GCM, AIOS__AEAD_AES256GCM, "aes256gcm" },
    { AIOS_ENVELOPE_SUITE_PORTABLE, AIOS__AEAD_XCHACHA20POLY1305, "xchacha20poly1305" },
};

/* ============================================================ records */

typedef struct rec_case {
    aios_envelope_session *writer, *reader;
    aios__aead_alg alg;
    uint8_t key[32], nonce[24];
    uint8_t *pt, *rec, *rec_out, *ct, *ct_out, *pt_out;
    size_t len, rec_len, ct_len;
} rec_case;

static void sess_seal(void *p)
{
    rec_case *c = p;
    size_t n;
    CHECK(aios_envelope_session_seal(c->writer, c->rec_out, c->len + AIOS_ENVELOPE_RECORD_OVERHEAD,
                                     &n, c->pt, c->len, NULL, 0));
}

static void sess_open(void *p)
{
    rec_case *c = p;
    size_t n;
    CHECK(aios_envelope_session_open_record(c->reader, c->pt_out, c->len, &n, c->rec, c->rec_len,
                                            NULL, 0));
}

static void raw_seal(void *p)
{
    rec_case *c = p;
    unsigned long long n;
    if (c->alg == AIOS__AEAD_AES256GCM)
        crypto_aead_aes256gcm_encrypt(c->ct_out, &n, c->pt, c->len, NULL, 0, NULL, c->nonce,
                                      c->key);
    else
        crypto_aead_xchacha20poly1305_ietf_encrypt(c->ct_out, &n, c->pt, c->len, NULL, 0, NULL,
                                                   c->nonce, c->key);
}

static void raw_open(void *p)
{
    rec_case *c = p;
    unsigned long long n;
    int rc;
    if (c->alg == AIOS__AEAD_AES256GCM)
        rc = crypto_aead_aes256gcm_decrypt(c->pt_out, &n, NULL, c->ct, c->ct_len, NULL, 0, c->nonce,
                                           c->key);
    else
        rc = crypto_aead_xchacha20poly1305_ietf_decrypt(c->pt_out, &n, NULL, c->ct, c->ct_len,
                                                        NULL, 0, c->nonce, c->key);
    if (rc != 0) {
        fprintf(stderr, "raw open failed\n");
        exit(1);
    }
}

static void bench_records(aios_key *kek, const aios_envelope_keys *keys, const suite_desc *sd,
                          size_t len)
{
    aios_envelope_session_options so = AIOS_ENVELOPE_SESSION_OPTIONS_INIT;
    rec_case c;
    const uint8_t *hdr;
    size_t hdr_len, n;
    unsigned long long cl;
    double ns_aios, ns_raw;

    memset(&c, 0, sizeof(c));
    c.alg = sd->alg;
    c.len = len;
    c.rec_len = len + AIOS_ENVELOPE_RECORD_OVERHEAD;
    c.ct_len = len + 16;
    c.pt = malloc(len);
    c.pt_out = malloc(len);
    c.rec = malloc(c.rec_len);
    c.rec_out = malloc(c.rec_len);
    c.ct = malloc(c.ct_len);
    c.ct_out = malloc(c.ct_len);
    if (!c.pt || !c.pt_out || !c.rec || !c.rec_out || !c.ct || !c.ct_out)
        exit(1);
    randombytes_buf(c.pt, len);
    randombytes_buf(c.key, sizeof(c.key));
    randombytes_buf(c.nonce, sizeof(c.nonce));

    so.suite = sd->suite;
    CHECK(aios_envelope_session_new(&c.writer, &kek, 1, ctx1, 1, &so));
    hdr = aios_envelope_session_header(c.writer, &hdr_len);
    CHECK(aios_envelope_session_open(&c.reader, keys, hdr, hdr_len, NULL));
    CHECK(aios_envelope_session_seal(c.writer, c.rec, c.rec_len, &n, c.pt, len, NULL, 0));
    if (sd->alg == AIOS__AEAD_AES256GCM)
        crypto_aead_aes256gcm_encrypt(c.ct, &cl, c.pt, len, NULL, 0, NULL, c.nonce, c.key);
    else
        crypto_aead_xchacha20poly1305_ietf_encrypt(c.ct, &cl, c.pt, len, NULL, 0, NULL, c.nonce,
                                                   c.key);

    bench_measure_pair(sess_seal, raw_seal, &c, &ns_aios, &ns_raw);
    printf("record seal %-18s %6zu B  aios %10.1f ns  raw %10.1f ns  fixed %+8.1f ns  ratio %.3f\n",
           sd->name, len, ns_aios, ns_raw, ns_aios - ns_raw, ns_raw / ns_aios);
    bench_measure_pair(sess_open, raw_open, &c, &ns_aios, &ns_raw);
    printf("record open %-18s %6zu B  aios %10.1f ns  raw %10.1f ns  fixed %+8.1f ns  ratio %.3f\n",
           sd->name, len, ns_aios, ns_raw, ns_aios - ns_raw, ns_raw / ns_aios);
    fflush(stdout);

    aios_envelope_session_unref(c.writer);
    aios_envelope_session_unref(c.reader);
    free(c.pt);
    free(c.pt_out);
    free(c.rec);
    free(c.rec_out);
    free(c.ct);
    free(c.ct_out);
}

/* ------------------------------------------------ the parts of a record
 *
 * What a session record adds to the bare AEAD (lib/envelope/session.c):
 * 32 random bytes for the record id r (aios__random_bytes), the record
 * key Kr = HMAC-SHA-256 (precomputed PRK state, 62-byte info), and the
 * AEAD under a key used once with the 94-byte record AAD
 * (prefix || C || r || D || len(ad)). */

typedef struct part_case {
    aios__aead_alg alg;
    aios__hmac_sha256_key prk;
    uint8_t key[32], nonce[24], info[62], aad[94], kr[32], tag[16];
    uint8_t pt[64], ct[64 + 16];
} part_case;

static void part_random(void *p)
{
    part_case *c = p;
    aios__random_bytes(c->info, 32);
}

static void part_hmac(void *p)
{
    part_case *c = p;
    aios__hmac_sha256_key_mac(&c->prk, c->kr, c->info, sizeof(c->info));
}

static void part_aead_aad(void *p)
{
    part_case *c = p;
    CHECK(aios__aead_seal_once(c->alg, c->key, c->ct, c->tag, c->pt, sizeof(c->pt), c->aad,
                               sizeof(c->aad), c->nonce));
}

static void part_aead_bare(void *p)
{
    part_case *c = p;
    unsigned long long n;
    if (c->alg == AIOS__AEAD_AES256GCM)
        crypto_aead_aes256gcm_encrypt(c->ct, &n, c->pt, sizeof(c->pt), NULL, 0, NULL, c->nonce,
                                      c->key);
    else
        crypto_aead_xchacha20poly1305_ietf_encrypt(c->ct, &n, c->pt, sizeof(c->pt), NULL, 0, NULL,
                                                   c->nonce, c->key);
}

static void bench_parts(const suite_desc *sd)
{
    part_case c;
    double a, b;
    memset(&c, 0, sizeof(c));
    c.alg = sd->alg;
    randombytes_buf(c.key, sizeof(c.key));
    aios__hmac_sha256_key_init(&c.prk, c.key, sizeof(c.key));
    if (sd == &suites[0]) {
        printf("part random-32B %-18s  %8.1f ns\n", "aios__random_bytes",
               bench_measure(part_random, &c));
        printf("part record-key %-18s  %8.1f ns\n", "hmac-sha256-62B",
               bench_measure(part_hmac, &c));
    }
    bench_measure_pair(part_aead_aad, part_aead_bare, &c, &a, &b);
    printf("part aead-once-aad94 %-18s 64 B  aios %8.1f ns  raw %8.1f ns  extra %+7.1f ns\n",
           sd->name, a, b, a - b);
    aios__hmac_sha256_key_wipe(&c.prk);
}

/* ------------------------------------------------ one-shot messages */

typedef struct msg_case {
    aios_key *kek;
    const aios_envelope_keys *keys;
    aios_envelope_seal_options so;
    uint8_t *pt;
    size_t len;
    aios_buffer *msg;
} msg_case;

static void msg_seal(void *p)
{
    msg_case *c = p;
    aios_buffer *b = NULL;
    CHECK(aios_envelope_seal(&b, &c->kek, 1, ctx1, 1, c->pt, c->len, &c->so));
    aios_buffer_free(b);
}

static void msg_open(void *p)
{
    msg_case *c = p;
    aios_buffer *b = NULL;
    CHECK(aios_envelope_open(&b, c->keys, aios_buffer_data(c->msg), aios_buffer_len(c->msg), NULL));
    aios_buffer_free(b);
}

static void row_us(const char *what, const char *suite, size_t len, double ns)
{
    printf("%s %-18s %6zu B  aios %10.2f us\n", what, suite, len, ns / 1000);
}

static void bench_oneshot(aios_key *kek, const aios_envelope_keys *keys, const suite_desc *sd,
                          size_t len)
{
    msg_case c;
    memset(&c, 0, sizeof(c));
    c.kek = kek;
    c.keys = keys;
    c.len = len;
    c.so = (aios_envelope_seal_options)AIOS_ENVELOPE_SEAL_OPTIONS_INIT;
    c.so.suite = sd->suite;
    c.pt = malloc(len);
    if (!c.pt)
        exit(1);
    randombytes_buf(c.pt, len);
    CHECK(aios_envelope_seal(&c.msg, &kek, 1, ctx1, 1, c.pt, len, &c.so));
    row_us("oneshot seal", sd->name, len, bench_measure(msg_seal, &c));
    row_us("oneshot open", sd->name, len, bench_measure(msg_open, &c));
    fflush(stdout);
    aios_buffer_free(c.msg);
    free(c.pt);
}

/* ------------------------------------------------ once per session */

typedef struct life_case {
    aios_key *kek;
    const aios_envelope_keys *keys;
    const uint8_t *hdr;
    size_t hdr_len;
} life_case;

static void life_new(void *p)
{
    life_case *c = p;
    aios_envelope_session *s = NULL;
    CHECK(aios_envelope_session_new(&s, &c->kek, 1, ctx1, 1, NULL));
    aios_envelope_session_unref(s);
}

static void life_open(void *p)
{
    life_case *c = p;
    aios_envelope_session *s = NULL;
    CHECK(aios_envelope_session_open(&s, c->keys, c->hdr, c->hdr_len, NULL));
    aios_envelope_session_unref(s);
}

static void bench_lifecycle(aios_key *kek, const aios_envelope_keys *keys)
{
    aios_envelope_session *w = NULL;
    life_case c = { kek, keys, NULL, 0 };
    CHECK(aios_envelope_session_new(&w, &kek, 1, ctx1, 1, NULL));
    c.hdr = aios_envelope_session_header(w, &c.hdr_len);
    printf("session new  %-18s  aios %10.2f us\n", "auto", bench_measure(life_new, &c) / 1000);
    printf("session open %-18s  aios %10.2f us\n", "auto", bench_measure(life_open, &c) / 1000);
    aios_envelope_session_unref(w);
}

/* ============================================================ streams */

typedef struct stream_env {
    const char *dir;
    char plain[512], sealed[2][512], raw[512];
    int own_dir, devnull;
    int plain_fd, raw_fd;          /* for the raw ceiling's pread */
    size_t size, nchunks;
    aios__aead_alg alg;
    crypto_aead_aes256gcm_state gcm;
    uint8_t key[32], nonce[24];
} stream_env;

typedef struct raw_job {
    stream_env *e;
    size_t first, last;            /* chunk range [first, last) */
    int open;
    uint8_t *buf, *out;            /* a block read; one sealed or opened chunk */
} raw_job;

static void pread_full(int fd, uint8_t *buf, size_t len, off_t off)
{
    while (len > 0) {
        ssize_t r = pread(fd, buf, len, off);
        if (r <= 0) {
            fprintf(stderr, "pread: %s\n", r < 0 ? strerror(errno) : "short file");
            exit(1);
        }
        buf += r;
        len -= (size_t)r;
        off += r;
    }
}

/* The minimal libsodium loop: pread a block of BLOCK_CHUNKS chunks from
 * the page cache (1 MiB, as aios_envelope_seal_fd reads), then one AEAD
 * call per 64 KiB chunk of it, sealing plain.bin (into out: ciphertext ||
 * tag) or opening the raw ciphertext file (chunks of ciphertext || tag). */
#define BLOCK_CHUNKS 16u

static size_t chunk_len(const stream_env *e, size_t i)
{
    return e->size - i * CHUNK < CHUNK ? e->size - i * CHUNK : CHUNK;
}

static void raw_seal_chunk(const stream_env *e, const uint8_t *in, size_t len, uint8_t *out)
{
    if (e->alg == AIOS__AEAD_AES256GCM)
        crypto_aead_aes256gcm_encrypt_detached_afternm(out, out + len, NULL, in, len, NULL, 0,
                                                       NULL, e->nonce, &e->gcm);
    else
        crypto_aead_xchacha20poly1305_ietf_encrypt_detached(out, out + len, NULL, in, len, NULL, 0,
                                                            NULL, e->nonce, e->key);
}

static void raw_open_chunk(const stream_env *e, const uint8_t *in, size_t len, uint8_t *out)
{
    int rc;
    if (e->alg == AIOS__AEAD_AES256GCM)
        rc = crypto_aead_aes256gcm_decrypt_detached_afternm(out, NULL, in, len, in + len, NULL, 0,
                                                            e->nonce, &e->gcm);
    else
        rc = crypto_aead_xchacha20poly1305_ietf_decrypt_detached(out, NULL, in, len, in + len,
                                                                 NULL, 0, e->nonce, e->key);
    if (rc != 0) {
        fprintf(stderr, "raw stream open: a chunk failed\n");
        exit(1);
    }
}

static void *raw_worker(void *p)
{
    raw_job *j = p;
    const stream_env *e = j->e;
    size_t stride = j->open ? CHUNK + 16 : CHUNK;
    for (size_t i = j->first; i < j->last; i += BLOCK_CHUNKS) {
        size_t n = j->last - i < BLOCK_CHUNKS ? j->last - i : BLOCK_CHUNKS;
        size_t bytes = (n - 1) * stride + chunk_len(e, i + n - 1) + (j->open ? 16 : 0);
        pread_full(j->open ? e->raw_fd : e->plain_fd, j->buf, bytes, (off_t)(i * stride));
        for (size_t k = 0; k < n; k++) {
            if (j->open)
                raw_open_chunk(e, j->buf + k * stride, chunk_len(e, i + k), j->out);
            else
                raw_seal_chunk(e, j->buf + k * stride, chunk_len(e, i + k), j->out);
        }
    }
    return NULL;
}

/* CPU seconds of the whole process (every thread), for "cores used". */
static double cpu_now(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec * 1e-6 +
           (double)u.ru_stime.tv_sec + (double)u.ru_stime.tv_usec * 1e-6;
}

/* The best run of each case: [open][threads - 1], for the raw loop and
 * for libaios, with the cores the best run kept busy. */
typedef struct best_runs {
    double raw[2][2], lib[2][2], raw_cores[2][2], lib_cores[2][2];
} best_runs;

static void best_init(best_runs *b)
{
    for (int o = 0; o < 2; o++)
        for (int t = 0; t < 2; t++)
            b->raw[o][t] = b->lib[o][t] = 1e300;
}

static void best_keep(best_runs *b, int o, int t, double raw_ns, double raw_cores, double lib_ns,
                      double lib_cores)
{
    if (raw_ns < b->raw[o][t]) {
        b->raw[o][t] = raw_ns;
        b->raw_cores[o][t] = raw_cores;
    }
    if (lib_ns < b->lib[o][t]) {
        b->lib[o][t] = lib_ns;
        b->lib_cores[o][t] = lib_cores;
    }
}

/* One line per case ("stream" or "memory"), parsed by envelope_peers.py. */
static void best_print(const best_runs *b, const char *kind, const char *suite, size_t size)
{
    for (int o = 0; o < 2; o++)
        for (int t = 0; t < 2; t++) {
            double a = (double)size / b->lib[o][t], w = (double)size / b->raw[o][t];
            printf("%s %s %-18s threads %d  aios %6.3f GB/s  raw %6.3f GB/s  ratio %.3f  "
                   "cores aios %.2f raw %.2f", kind, o ? "open" : "seal", suite, t + 1, a, w,
                   a / w, b->lib_cores[o][t], b->raw_cores[o][t]);
            if (t == 1)
                printf("  scaling aios %.2fx raw %.2fx", b->lib[o][0] / b->lib[o][1],
                       b->raw[o][0] / b->raw[o][1]);
            printf("\n");
        }
    fflush(stdout);
}

/* ns for fn run on `threads` (1 or 2) threads, thread t given the job at
 * jobs + t * job_size; *cores = CPU time over wall time of the run. */
static double timed_threads(void *(*fn)(void *), void *jobs, size_t job_size, int threads,
                            double *cores)
{
    pthread_t th[2];
    double t0, c0 = cpu_now();
    t0 = bench_now();
    for (int t = 0; t < threads; t++)
        if (pthread_create(&th[t], NULL, fn, (char *)jobs + (size_t)t * job_size) != 0)
            exit(1);
    for (int t = 0; t < threads; t++)
        pthread_join(th[t], NULL);
    t0 = bench_now() - t0;
    *cores = (cpu_now() - c0) / t0;
    return t0 * 1e9;
}

/* ns for the raw loop over the whole file on `threads` threads, each with
 * its contiguous share of the chunks. */
static double raw_pass(stream_env *e, int open, int threads, double *cores)
{
    raw_job jobs[2];
    double ns;
    for (int t = 0; t < threads; t++) {
        jobs[t].e = e;
        jobs[t].first = e->nchunks * (size_t)t / (size_t)threads;
        jobs[t].last = e->nchunks * (size_t)(t + 1) / (size_t)threads;
        jobs[t].open = open;
        jobs[t].buf = malloc(BLOCK_CHUNKS * (CHUNK + 16));
        jobs[t].out = malloc(CHUNK + 16);
        if (!jobs[t].buf || !jobs[t].out)
            exit(1);
    }
    ns = timed_threads(raw_worker, jobs, sizeof(jobs[0]), threads, cores);
    for (int t = 0; t < threads; t++) {
        free(jobs[t].buf);
        free(jobs[t].out);
    }
    return ns;
}

static int open_or_die(const char *path, int flags)
{
    int fd = open(path, flags, 0600);
    if (fd < 0) {
        fprintf(stderr, "open %s: %s\n", path, strerror(errno));
        exit(1);
    }
    return fd;
}

/* ns for aios_envelope_seal_fd / open_fd over the whole file. */
static double aios_pass(stream_env *e, aios_key *kek, const aios_envelope_keys *keys, int si,
                        int open, int threads, double *cores)
{
    int in = open_or_die(open ? e->sealed[si] : e->plain, O_RDONLY);
    double c0 = cpu_now(), t0 = bench_now();
    if (!open) {
        aios_envelope_seal_options so = AIOS_ENVELOPE_SEAL_OPTIONS_INIT;
        so.suite = suites[si].suite;
        so.chunk_size = CHUNK;
        so.threads = (uint32_t)threads;
        CHECK(aios_envelope_seal_fd(e->devnull, in, &kek, 1, ctx1, 1, &so));
    } else {
        aios_envelope_open_options oo = AIOS_ENVELOPE_OPEN_OPTIONS_INIT;
        oo.threads = (uint32_t)threads;
        CHECK(aios_envelope_open_fd(e->devnull, in, keys, &oo));
    }
    t0 = bench_now() - t0;
    *cores = (cpu_now() - c0) / t0;
    close(in);
    return t0 * 1e9;
}

static void read_through(const char *path)
{
    static uint8_t buf[1 << 20];
    int fd = open_or_die(path, O_RDONLY);
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
    close(fd);
}

static void make_plain(stream_env *e)
{
    struct stat st;
    uint8_t *buf;
    uint8_t k[crypto_stream_chacha20_KEYBYTES], n[crypto_stream_chacha20_NONCEBYTES] = { 0 };
    int fd;
    if (stat(e->plain, &st) == 0 && (size_t)st.st_size == e->size)
        return;
    fprintf(stderr, "# writing %zu MiB of random bytes to %s\n", e->size >> 20, e->plain);
    buf = malloc(1 << 20);
    if (!buf)
        exit(1);
    randombytes_buf(k, sizeof(k));
    fd = open_or_die(e->plain, O_WRONLY | O_CREAT | O_TRUNC);
    for (size_t off = 0; off < e->size; off += 1 << 20) {
        size_t len = e->size - off < (1 << 20) ? e->size - off : (1 << 20);
        n[0]++;
        if (n[0] == 0)
            n[1]++;
        crypto_stream_chacha20(buf, len, n, k);
        if (write(fd, buf, len) != (ssize_t)len) {
            fprintf(stderr, "write %s: %s\n", e->plain, strerror(errno));
            exit(1);
        }
    }
    close(fd);
    free(buf);
}

/* ------------------------------------------------ streams in memory
 *
 * The same chunks with no file in the way: the plaintext (or the sealed
 * message) is already in memory and the output goes to memory, so no
 * thread of the descriptor loop (read-ahead, write-behind) shares the
 * cores.  libaios: a sealer (opener) fed MEM_BLOCK bytes per update, its
 * chunks on `threads` workers; raw: each thread its contiguous share of
 * the chunks, one AEAD call per chunk.  Output buffers are written once
 * before timing (no page faults in the runs). */
#define MEM_BLOCK (8u << 20)

typedef struct mem_env {
    stream_env *e;
    uint8_t *plain, *sealed, *out;   /* out: room for the largest output */
    size_t sealed_len, out_cap;
    uint8_t *raw_ct;                 /* the raw loop's ciphertext (chunk || tag) */
} mem_env;

typedef struct mem_job {
    mem_env *m;
    size_t first, last;
    int open;
} mem_job;

static void *mem_raw_worker(void *p)
{
    mem_job *j = p;
    const stream_env *e = j->m->e;
    for (size_t i = j->first; i < j->last; i++) {
        size_t len = chunk_len(e, i);
        if (j->open)
            raw_open_chunk(e, j->m->raw_ct + i * (CHUNK + 16), len, j->m->out + i * CHUNK);
        else
            raw_seal_chunk(e, j->m->plain + i * CHUNK, len, j->m->out + i * (CHUNK + 16));
    }
    return NULL;
}

/* ns for worker over the buffers on `threads` threads, each its
 * contiguous share of the chunks. */
static double mem_pass(mem_env *m, void *(*worker)(void *), int open, int threads,
                       double *cores)
{
    mem_job jobs[2];
    for (int t = 0; t < threads; t++) {
        jobs[t].m = m;
        jobs[t].first = m->e->nchunks * (size_t)t / (size_t)threads;
        jobs[t].last = m->e->nchunks * (size_t)(t + 1) / (size_t)threads;
        jobs[t].open = open;
    }
    return timed_threads(worker, jobs, sizeof(jobs[0]), threads, cores);
}

static void *memcpy_worker(void *p)
{
    mem_job *j = p;
    size_t a = j->first * CHUNK, b = j->last * CHUNK < j->m->e->size ? j->last * CHUNK
                                                                      : j->m->e->size;
    for (size_t off = a; off < b; off += MEM_BLOCK)
        memcpy(j->m->out + off, j->m->plain + off, b - off < MEM_BLOCK ? b - off : MEM_BLOCK);
    return NULL;
}

/* The machine's ceiling for any pass that reads the bytes once and writes
 * them once: memcpy of the plaintext to the output buffer, each thread its
 * share, 8 MiB per call. */
static double memcpy_pass(mem_env *m, int threads)
{
    double cores;
    return mem_pass(m, memcpy_worker, 0, threads, &cores);
}

static double mem_aios_pass(mem_env *m, aios_key *kek, const aios_envelope_keys *keys, int si,
                            int open, int threads, double *cores, size_t *total_out)
{
    size_t done = 0, n, got, total = 0, in_len = open ? m->sealed_len : m->e->size;
    const uint8_t *in = open ? m->sealed : m->plain;
    aios_envelope_sealer *s = NULL;
    aios_envelope_opener *o = NULL;
    double c0 = cpu_now(), t0 = bench_now();

    if (!open) {
        aios_envelope_seal_options so = AIOS_ENVELOPE_SEAL_OPTIONS_INIT;
        so.suite = suites[si].suite;
        so.chunk_size = CHUNK;
        so.threads = (uint32_t)threads;
        CHECK(aios_envelope_sealer_new(&s, &kek, 1, ctx1, 1, &so));
    } else {
        aios_envelope_open_options oo = AIOS_ENVELOPE_OPEN_OPTIONS_INIT;
        oo.threads = (uint32_t)threads;
        CHECK(aios_envelope_opener_new(&o, keys, &oo));
    }
    for (; done < in_len; done += n) {
        n = in_len - done < MEM_BLOCK ? in_len - done : MEM_BLOCK;
        if (s)
            CHECK(aios_envelope_sealer_update(s, m->out + total, m->out_cap - total, &got, in + done, n));
        else
            CHECK(aios_envelope_opener_update(o, m->out + total, m->out_cap - total, &got, in + done, n));
        total += got;
    }
    if (s) {
        CHECK(aios_envelope_sealer_final(s, m->out + total, m->out_cap - total, &got));
        aios_envelope_sealer_free(s);
    } else {
        CHECK(aios_envelope_opener_final(o, m->out + total, m->out_cap - total, &got));
        aios_envelope_opener_free(o);
    }
    total += got;
    t0 = bench_now() - t0;
    *cores = (cpu_now() - c0) / t0;
    *total_out = total;
    return t0 * 1e9;
}

/* The in-memory runs for suite si (after the file runs of bench_streams,
 * whose stream_env holds the raw key and nonce). */
static void bench_memory(stream_env *e, aios_key *kek, const aios_envelope_keys *keys, int si,
                         int reps)
{
    const suite_desc *sd = &suites[si];
    mem_env m;
    best_runs b;
    double c;
    size_t got;

    memset(&m, 0, sizeof(m));
    m.e = e;
    m.out_cap = e->size + (e->nchunks + 1) * 16 + AIOS_ENVELOPE_HEADER_MAX + 2 * MEM_BLOCK;
    m.plain = malloc(e->size);
    m.sealed = malloc(m.out_cap);
    m.out = malloc(m.out_cap);
    m.raw_ct = malloc(e->nchunks * (CHUNK + 16));
    if (!m.plain || !m.sealed || !m.out || !m.raw_ct)
        exit(1);
    pread_full(e->plain_fd, m.plain, e->size, 0);
    memset(m.out, 0, m.out_cap);
    /* The sealed message to open: a first sealing pass, kept. */
    mem_aios_pass(&m, kek, keys, si, 0, 2, &c, &m.sealed_len);
    memcpy(m.sealed, m.out, m.sealed_len);
    for (size_t i = 0; i < e->nchunks; i++)
        raw_seal_chunk(e, m.plain + i * CHUNK, chunk_len(e, i), m.raw_ct + i * (CHUNK + 16));

    best_init(&b);
    for (int r = 0; r < reps; r++)
        for (int o = 0; o < 2; o++)
            for (int t = 0; t < 2; t++) {
                double xc, yc;
                double x = mem_pass(&m, mem_raw_worker, o, t + 1, &xc);
                double y = mem_aios_pass(&m, kek, keys, si, o, t + 1, &yc, &got);
                if (got != (o ? e->size : m.sealed_len)) {
                    fprintf(stderr, "memory pass: %zu bytes out, expected %zu\n", got,
                            o ? e->size : m.sealed_len);
                    exit(1);
                }
                best_keep(&b, o, t, x, xc, y, yc);
            }
    if (si == 0) {
        double cp[2] = { 1e300, 1e300 };
        for (int r = 0; r < reps + 2; r++)
            for (int t = 0; t < 2; t++) {
                double x = memcpy_pass(&m, t + 1);
                if (x < cp[t])
                    cp[t] = x;
            }
        printf("memory memcpy threads 1 %.3f GB/s threads 2 %.3f GB/s\n",
               (double)e->size / cp[0], (double)e->size / cp[1]);
    }
    best_print(&b, "memory", sd->name, e->size);
    free(m.plain);
    free(m.sealed);
    free(m.out);
    free(m.raw_ct);
}

static void bench_streams(aios_key *kek, const aios_envelope_keys *keys, const char *dir,
                          size_t mib, int reps)
{
    stream_env e;
    char tmpl[] = "/tmp/aios-bench-env.XXXXXX";
    int fd;
    memset(&e, 0, sizeof(e));
    e.size = mib << 20;
    e.nchunks = (e.size + CHUNK - 1) / CHUNK;
    if (dir) {
        e.dir = dir;
        mkdir(dir, 0700);
    } else {
        e.dir = mkdtemp(tmpl);
        e.own_dir = 1;
        if (!e.dir)
            exit(1);
    }
    snprintf(e.plain, sizeof(e.plain), "%s/plain.bin", e.dir);
    make_plain(&e);
    e.devnull = open_or_die("/dev/null", O_WRONLY);
    e.plain_fd = open_or_die(e.plain, O_RDONLY);
    snprintf(e.raw, sizeof(e.raw), "%s/plain.bin.raw", e.dir);
    read_through(e.plain);
    printf("# stream: %zu MiB file in %s, chunk %u, best of %d runs, output to /dev/null\n", mib,
           e.dir, CHUNK, reps);

    for (int si = 0; si < 2; si++) {
        const suite_desc *sd = &suites[si];
        aios_envelope_seal_options so = AIOS_ENVELOPE_SEAL_OPTIONS_INIT;
        best_runs b;
        int out;

        snprintf(e.sealed[si], sizeof(e.sealed[si]), "%s/plain.bin.%s.aios", e.dir, sd->name);
        so.suite = sd->suite;
        so.chunk_size = CHUNK;
        so.threads = 2;
        fd = open_or_die(e.plain, O_RDONLY);
        out = open_or_die(e.sealed[si], O_WRONLY | O_CREAT | O_TRUNC);
        CHECK(aios_envelope_seal_fd(out, fd, &kek, 1, ctx1, 1, &so));
        close(fd);
        close(out);
        read_through(e.sealed[si]);

        e.alg = sd->alg;
        randombytes_buf(e.key, sizeof(e.key));
        randombytes_buf(e.nonce, sizeof(e.nonce));
        crypto_aead_aes256gcm_beforenm(&e.gcm, e.key);
        {   /* the raw ciphertext file that the raw open reads */
            uint8_t *buf = malloc(CHUNK + 16), *ct = malloc(CHUNK + 16);
            if (!buf || !ct)
                exit(1);
            out = open_or_die(e.raw, O_WRONLY | O_CREAT | O_TRUNC);
            for (size_t i = 0; i < e.nchunks; i++) {
                size_t len = chunk_len(&e, i);
                pread_full(e.plain_fd, buf, len, (off_t)(i * CHUNK));
                raw_seal_chunk(&e, buf, len, ct);
                if (write(out, ct, len + 16) != (ssize_t)(len + 16)) {
                    fprintf(stderr, "write %s: %s\n", e.raw, strerror(errno));
                    exit(1);
                }
            }
            close(out);
            free(buf);
            free(ct);
        }
        e.raw_fd = open_or_die(e.raw, O_RDONLY);
        read_through(e.raw);

        best_init(&b);
        for (int r = 0; r < reps; r++)
            for (int o = 0; o < 2; o++)
                for (int t = 0; t < 2; t++) {
                    double xc, yc;
                    double x = raw_pass(&e, o, t + 1, &xc);
                    double y = aios_pass(&e, kek, keys, si, o, t + 1, &yc);
                    best_keep(&b, o, t, x, xc, y, yc);
                }
        best_print(&b, "stream", sd->name, e.size);
        bench_memory(&e, kek, keys, si, reps);
        close(e.raw_fd);
        unlink(e.raw);
        unlink(e.sealed[si]);
    }
    sodium_memzero(&e.gcm, sizeof(e.gcm));
    close(e.plain_fd);
    close(e.devnull);
    if (e.own_dir) {
        unlink(e.plain);
        rmdir(e.dir);
    }
}

/* ============================================================ main */

int main(int argc, char **argv)
{
    char dir[] = "/tmp/aios-bench-kr.XXXXXX", path[600];
    aios_keyring_options o = AIOS_KEYRING_OPTIONS_INIT;
    uint8_t master[32] = { 7 };
    aios_keyring *kr = NULL;
    aios_key *kek = NULL;
    aios_envelope_keys *keys = NULL;
    const char *stream_dir = NULL;
    size_t mib = 1024;
    int reps = 3, records = 1, streams = 1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--records-only") == 0)
            streams = 0;
        else if (strcmp(argv[i], "--stream-only") == 0)
            records = 0;
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            stream_dir = argv[++i];
        else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc)
            mib = (size_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (argv[i][0] != '-')
            bench_budget = atof(argv[i]);
        else {
            fprintf(stderr, "usage: %s [seconds-per-case] [--records-only | --stream-only] "
                    "[--dir DIR] [--size MIB] [--reps N]\n", argv[0]);
            return 2;
        }
    }
    if (mib == 0 || reps < 1)
        return 2;
    CHECK(aios_init());
    printf("# libaios %s  bench_envelope  %.2f s per record case (best of %d rounds)\n# %s\n",
           aios_version_string(), bench_budget, BENCH_ROUNDS, aios_build_info());

    /* A local keyring with one AES-256 KEK (raw master key: no Argon2). */
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof(path), "%s/bench.aioskr", dir);
    o.unlock = AIOS_KEYRING_UNLOCK_RAW_KEY;
    o.secret = master;
    o.secret_len = sizeof(master);
    CHECK(aios_keyring_create(&kr, path, &o));
    CHECK(aios_keyring_add(kr, &kek, "kek", AIOS_KEY_AES256, NULL));
    CHECK(aios_envelope_keys_new(&keys));
    CHECK(aios_envelope_keys_add_key(keys, kek));

    if (records) {
        static const size_t sizes[] = { 64, 1024, 65536 };
        for (size_t s = 0; s < 2; s++)
            for (size_t i = 0; i < 3; i++)
                bench_records(kek, keys, &suites[s], sizes[i]);
        for (size_t s = 0; s < 2; s++)
            bench_parts(&suites[s]);
        for (size_t i = 0; i < 3; i++)
            bench_oneshot(kek, keys, &suites[0], sizes[i]);
        bench_lifecycle(kek, keys);
    }
    if (streams)
        bench_streams(kek, keys, stream_dir, mib, reps);

    aios_envelope_keys_free(keys);
    aios_key_unref(kek);
    aios_keyring_free(kr);
    unlink(path);
    snprintf(path, sizeof(path), "%s/bench.aioskr.lock", dir);
    unlink(path);
    rmdir(dir);
    return 0;
}
