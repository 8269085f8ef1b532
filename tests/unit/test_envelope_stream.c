/*
 * The envelope's streaming shapes (include/aios/envelope.h): sealer and
 * opener fed in pieces of every size, the descriptor loops over files
 * larger than their buffers, random access (memory and file, several
 * threads), and rewrap (rotation, removal, replace-all, over files).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_keyring_util.h"
#include "aios/envelope.h"

typedef struct fx {
    char               *dir;
    aios_keyring       *kr;
    aios_key           *kek;
    aios_envelope_keys *keys;   /* the keyring's provider */
} fx;

static const aios_envelope_context_entry CTX[1] = { { "model", "llama" } };

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    aios_keyring_options o = kt_raw();
    assert_non_null(f);
    f->dir = kt_tmpdir();
    tu_assert_ok(aios_keyring_create(&f->kr, kt_path(f->dir, "keys.aioskr", 0), &o));
    tu_assert_ok(aios_keyring_add(f->kr, &f->kek, "wrap-key", AIOS_KEY_AES256, NULL));
    tu_assert_ok(aios_envelope_keys_new(&f->keys));
    tu_assert_ok(aios_envelope_keys_add_provider(f->keys, aios_keyring_provider(f->kr)));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    aios_envelope_keys_free(f->keys);
    aios_key_unref(f->kek);
    aios_keyring_free(f->kr);
    kt_rmtree(f->dir);
    free(f);
    return 0;
}

static uint8_t *pattern(size_t n, unsigned seed)
{
    uint8_t *p = malloc(n ? n : 1);
    size_t i;
    uint32_t x = seed * 2654435761u + 1;
    assert_non_null(p);
    for (i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x;
    }
    return p;
}

/* Seal pt with a sealer fed in pieces of `step` bytes (0: random sizes). */
static uint8_t *stream_seal(fx *f, const uint8_t *pt, size_t n, size_t step, uint32_t cs,
                            uint32_t threads, size_t *len_out)
{
    aios_envelope_seal_options so = AIOS_ENVELOPE_SEAL_OPTIONS_INIT;
    aios_envelope_sealer *s = NULL;
    size_t cap = n + 200000 + (n / 4096 + 2) * 16, w = 0, off = 0, got;
    uint8_t *out = malloc(cap);
    unsigned r = 1;
    so.chunk_size = cs;
    so.threads = threads;
    tu_assert_ok(aios_envelope_sealer_new(&s, &f->kek, 1, CTX, 1, &so));
    while (off < n) {
        size_t take = step ? step : (r = r * 1103515245u + 12345u, (r >> 8) % 20000 + 1);
        if (take > n - off)
            take = n - off;
        assert_true(w + aios_envelope_sealer_bound(s, take) <= cap);
        tu_assert_ok(aios_envelope_sealer_update(s, out + w, cap - w, &got, pt + off, take));
        w += got;
        off += take;
    }
    tu_assert_ok(aios_envelope_sealer_final(s, out + w, cap - w, &got));
    w += got;
    tu_assert_status(aios_envelope_sealer_update(s, out, cap, &got, pt, 0), AIOS_E_STATE);
    aios_envelope_sealer_free(s);
    *len_out = w;
    return out;
}

/* Open with an opener fed in pieces; returns the final status. */
static int stream_open(fx *f, const uint8_t *m, size_t len, size_t step, uint8_t *pt_out,
                       size_t *pt_len, uint32_t threads)
{
    aios_envelope_open_options oo = AIOS_ENVELOPE_OPEN_OPTIONS_INIT;
    aios_envelope_opener *o = NULL;
    size_t off = 0, w = 0, got;
    unsigned r = 7;
    int rc;
    oo.threads = threads;
    tu_assert_ok(aios_envelope_opener_new(&o, f->keys, &oo));
    while (off < len) {
        size_t take = step ? step : (r = r * 1103515245u + 12345u, (r >> 8) % 30000 + 1);
        if (take > len - off)
            take = len - off;
        rc = aios_envelope_opener_update(o, pt_out + w, aios_envelope_opener_bound(o, take), &got,
                                         m + off, take);
        if (rc != AIOS_OK) {
            aios_envelope_opener_free(o);
            return rc;
        }
        w += got;
        off += take;
    }
    rc = aios_envelope_opener_final(o, pt_out + w, aios_envelope_opener_bound(o, 0), &got);
    if (rc == AIOS_OK) {
        aios_buffer *info = NULL;
        w += got;
        tu_assert_ok(aios_envelope_opener_info(o, &info));
        assert_non_null(strstr((const char *)aios_buffer_data(info), "\"authenticated\":true"));
        assert_non_null(strstr((const char *)aios_buffer_data(info), "\"opened_by\":0"));
        aios_buffer_free(info);
    }
    aios_envelope_opener_free(o);
    *pt_len = w;
    return rc;
}

static void test_stream_round_trips(void **state)
{
    fx *f = *state;
    static const size_t sizes[] = { 0, 1, 4096, 4097, 8192, 50000, 300001 };
    static const size_t steps[] = { 0, 1, 4095, 4096, 4112, 65536 };
    size_t i, s;
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint8_t *pt = pattern(sizes[i], (unsigned)i);
        for (s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
            size_t mlen, plen = 0;
            uint32_t threads = (s % 2) ? 2 : 1;
            uint8_t *m, *back;
            aios_buffer *one = NULL;
            if (steps[s] == 1 && sizes[i] > 10000)
                continue;
            m = stream_seal(f, pt, sizes[i], steps[s], 4096, threads, &mlen);
            /* the one-shot open agrees with the stream */
            tu_assert_ok(aios_envelope_open(&one, f->keys, m, mlen, NULL));
            assert_int_equal(aios_buffer_len(one), sizes[i]);
            if (sizes[i])
                assert_memory_equal(aios_buffer_data(one), pt, sizes[i]);
            aios_buffer_free(one);
            back = malloc(mlen + 1);
            tu_assert_ok(stream_open(f, m, mlen, steps[(s + 1) % 6] == 1 && mlen > 20000 ? 0
                                                                           : steps[(s + 1) % 6],
                                     back, &plen, threads));
            assert_int_equal(plen, sizes[i]);
            if (sizes[i])
                assert_memory_equal(back, pt, sizes[i]);
            free(back);
            free(m);
        }
        free(pt);
    }
}

static void test_stream_failures(void **state)
{
    fx *f = *state;
    size_t n = 5 * 4096, mlen, plen, hlen = 0;
    uint8_t *pt = pattern(n, 3), *m = stream_seal(f, pt, n, 0, 4096, 1, &mlen);
    uint8_t *back = malloc(mlen + 4096), *b = malloc(mlen + 1);

    tu_assert_ok(aios_envelope_header_len(&hlen, m, mlen));
    /* cut after a full chunk, at a chunk boundary */
    assert_int_equal(stream_open(f, m, mlen - 4112, 0, back, &plen, 1), AIOS_E_ENVELOPE_TRUNCATED);
    /* cut inside the header, and nothing at all */
    assert_int_equal(stream_open(f, m, hlen - 3, 0, back, &plen, 1), AIOS_E_ENVELOPE_TRUNCATED);
    assert_int_equal(stream_open(f, m, 0, 0, back, &plen, 1), AIOS_E_FORMAT);
    /* a 16-byte tail after a full chunk */
    assert_int_equal(stream_open(f, m, mlen - 4112 + 16, 4112, back, &plen, 1),
                     AIOS_E_ENVELOPE_TRUNCATED);
    /* the message ends in a full final chunk: a byte more is trailing data */
    memcpy(b, m, mlen);
    b[mlen] = 0x42;
    assert_int_equal(stream_open(f, b, mlen + 1, 0, back, &plen, 1), AIOS_E_ENVELOPE_TRAILING_DATA);
    assert_int_equal(stream_open(f, b, mlen + 1, 0, back, &plen, 2), AIOS_E_ENVELOPE_TRAILING_DATA);
    {
        /* the one-shot open and the reader agree: 1 byte (a short tail) and 20 */
        aios_buffer *one = NULL;
        aios_envelope_reader *rd = NULL;
        memset(b + mlen, 0x42, 1);
        tu_assert_status(aios_envelope_open(&one, f->keys, b, mlen + 1, NULL),
                         AIOS_E_ENVELOPE_TRAILING_DATA);
        tu_assert_status(aios_envelope_reader_new_mem(&rd, f->keys, b, mlen + 1, NULL),
                         AIOS_E_ENVELOPE_TRAILING_DATA);
        {
            uint8_t *c = malloc(mlen + 20);
            memcpy(c, m, mlen);
            memset(c + mlen, 0x42, 20);
            tu_assert_status(aios_envelope_open(&one, f->keys, c, mlen + 20, NULL),
                             AIOS_E_ENVELOPE_TRAILING_DATA);
            tu_assert_status(aios_envelope_reader_new_mem(&rd, f->keys, c, mlen + 20, NULL),
                             AIOS_E_ENVELOPE_TRAILING_DATA);
            assert_int_equal(stream_open(f, c, mlen + 20, 0, back, &plen, 1),
                             AIOS_E_ENVELOPE_TRAILING_DATA);
            free(c);
            /* a whole piece of garbage after the full final chunk: all three agree */
            c = malloc(mlen + 4112);
            memcpy(c, m, mlen);
            memset(c + mlen, 0x42, 4112);
            tu_assert_status(aios_envelope_open(&one, f->keys, c, mlen + 4112, NULL),
                             AIOS_E_ENVELOPE_TRAILING_DATA);
            tu_assert_status(aios_envelope_reader_new_mem(&rd, f->keys, c, mlen + 4112, NULL),
                             AIOS_E_ENVELOPE_TRAILING_DATA);
            assert_int_equal(stream_open(f, c, mlen + 4112, 0, back, &plen, 1),
                             AIOS_E_ENVELOPE_TRAILING_DATA);
            free(c);
        }
    }
    /* a chunk duplicated */
    memcpy(b, m, mlen);
    memcpy(b + hlen + 4112, m + hlen, 4112);
    assert_int_equal(stream_open(f, b, mlen, 0, back, &plen, 2), AIOS_E_AUTH);
    /* errors are sticky */
    {
        aios_envelope_opener *o = NULL;
        size_t got;
        b[hlen + 1] ^= 1;
        tu_assert_ok(aios_envelope_opener_new(&o, f->keys, NULL));
        tu_assert_status(aios_envelope_opener_update(o, back, mlen, &got, b, mlen), AIOS_E_AUTH);
        assert_int_equal(got, 0);
        tu_assert_status(aios_envelope_opener_final(o, back, mlen, &got), AIOS_E_AUTH);
        tu_assert_status(aios_envelope_opener_info(o, NULL), AIOS_E_INVALID_ARGUMENT);
        aios_envelope_opener_free(o);
    }
    /* too small an output buffer consumes nothing */
    {
        aios_envelope_opener *o = NULL;
        size_t got;
        tu_assert_ok(aios_envelope_opener_new(&o, f->keys, NULL));
        tu_assert_status(aios_envelope_opener_update(o, back, 10, &got, m, mlen),
                         AIOS_E_BUFFER_TOO_SMALL);
        tu_assert_ok(aios_envelope_opener_update(o, back, mlen, &got, m, mlen));
        assert_int_equal(got, 4 * 4096);
        tu_assert_ok(aios_envelope_opener_final(o, back + got, 4096, &got));
        assert_memory_equal(back, pt, n);
        aios_envelope_opener_free(o);
    }
    free(b);
    free(back);
    free(m);
    free(pt);
}

/* ------------------------------------------------------------ files */

static void write_file(const char *path, const uint8_t *p, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(p, 1, n, fp), n);
    fclose(fp);
}

static void test_fd_loops(void **state)
{
    fx *f = *state;
    size_t n = (size_t)9 << 20;   /* several of the loops' 1 MiB blocks */
    uint8_t *pt = pattern(n, 11);
    char pin[512], pm[512], pout[512];
    aios_envelope_seal_options so = AIOS_ENVELOPE_SEAL_OPTIONS_INIT;
    aios_envelope_open_options oo = AIOS_ENVELOPE_OPEN_OPTIONS_INIT;
    int in, out;
    size_t len;
    uint8_t *back;

    snprintf(pin, sizeof(pin), "%s/plain", f->dir);
    snprintf(pm, sizeof(pm), "%s/sealed", f->dir);
    snprintf(pout, sizeof(pout), "%s/opened", f->dir);
    write_file(pin, pt, n);
    so.threads = 2;
    oo.threads = 2;
    in = open(pin, O_RDONLY);
    out = open(pm, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    tu_assert_ok(aios_envelope_seal_fd(out, in, &f->kek, 1, CTX, 1, &so));
    close(in);
    close(out);
    in = open(pm, O_RDONLY);
    out = open(pout, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    tu_assert_ok(aios_envelope_open_fd(out, in, f->keys, &oo));
    close(in);
    close(out);
    back = kt_read(pout, &len);
    assert_int_equal(len, n);
    assert_memory_equal(back, pt, n);
    free(back);

    /* through a pipe, with the expected context */
    {
        int fds[2];
        aios_envelope_context_entry want[1] = { { "model", "llama" } };
        assert_int_equal(pipe(fds), 0);
        if (fork() == 0) {
            int fin = open(pm, O_RDONLY);
            char buf[65536];
            ssize_t r;
            close(fds[0]);
            while ((r = read(fin, buf, sizeof(buf))) > 0)
                if (write(fds[1], buf, (size_t)r) != r)
                    _exit(1);
            _exit(0);
        }
        close(fds[1]);
        oo.expected_context = want;
        oo.expected_context_count = 1;
        oo.context_mode = AIOS_ENVELOPE_CONTEXT_EXACT;
        out = open(pout, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        tu_assert_ok(aios_envelope_open_fd(out, fds[0], f->keys, &oo));
        close(out);
        close(fds[0]);
        back = kt_read(pout, &len);
        assert_int_equal(len, n);
        assert_memory_equal(back, pt, n);
        free(back);
    }
    /* I/O failures: AIOS_E_IO, naming the descriptor */
    oo.expected_context = NULL;    /* `want` is out of scope */
    oo.expected_context_count = 0;
    oo.context_mode = AIOS_ENVELOPE_CONTEXT_ANY;
    in = open(pin, O_RDONLY);
    out = open(pm, O_RDONLY);                 /* not writable */
    tu_assert_status(aios_envelope_seal_fd(out, in, &f->kek, 1, CTX, 1, &so), AIOS_E_IO);
    assert_non_null(strstr(aios_last_error_message(), "descriptor"));
    close(in);
    close(out);
    in = open(f->dir, O_RDONLY | O_DIRECTORY); /* read() fails: EISDIR */
    out = open(pout, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    tu_assert_status(aios_envelope_seal_fd(out, in, &f->kek, 1, CTX, 1, &so), AIOS_E_IO);
    tu_assert_status(aios_envelope_open_fd(out, in, f->keys, &oo), AIOS_E_IO);
    close(in);
    close(out);
    /* a truncated file */
    assert_int_equal(truncate(pm, (off_t)(n / 2)), 0);
    in = open(pm, O_RDONLY);
    out = open(pout, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    oo.expected_context_count = 0;
    oo.expected_context = NULL;
    oo.context_mode = AIOS_ENVELOPE_CONTEXT_ANY;
    tu_assert_status(aios_envelope_open_fd(out, in, f->keys, &oo), AIOS_E_AUTH);
    close(in);
    close(out);
    free(pt);
}

/* ------------------------------------------------------------ random access */

typedef struct rd_arg {
    const aios_envelope_reader *r;
    const uint8_t *pt;
    size_t n;
    unsigned seed;
    int fails;
} rd_arg;

static void *rd_thread(void *p)
{
    rd_arg *a = p;
    unsigned r = a->seed;
    uint8_t *buf = malloc(70000);
    int k;
    for (k = 0; k < 200; k++) {
        size_t off, len, got = 0;
        r = r * 1103515245u + 12345u;
        off = (r >> 4) % (a->n + 10);
        r = r * 1103515245u + 12345u;
        len = (r >> 4) % 70000;
        if (aios_envelope_reader_read(a->r, off, buf, len, &got) != AIOS_OK)
            a->fails++;
        else if (off >= a->n ? got != 0
                             : (got != (len < a->n - off ? len : a->n - off) ||
                                memcmp(buf, a->pt + off, got) != 0))
            a->fails++;
    }
    free(buf);
    return NULL;
}

static void check_reader(const aios_envelope_reader *r, const uint8_t *pt, size_t n)
{
    pthread_t t[3];
    rd_arg a[3];
    int i;
    assert_int_equal(aios_envelope_reader_size(r), n);
    assert_int_equal(aios_envelope_reader_chunk_size(r), 4096);
    for (i = 0; i < 3; i++) {
        a[i].r = r;
        a[i].pt = pt;
        a[i].n = n;
        a[i].seed = (unsigned)i + 1;
        a[i].fails = 0;
        assert_int_equal(pthread_create(&t[i], NULL, rd_thread, &a[i]), 0);
    }
    for (i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].fails, 0);
    }
}

static void test_reader(void **state)
{
    fx *f = *state;
    size_t n = 1000000, mlen;
    uint8_t *pt = pattern(n, 5), *m = stream_seal(f, pt, n, 65536, 4096, 2, &mlen);
    aios_envelope_reader *r = NULL;
    char path[512];
    int fd;
    uint8_t one[10];
    size_t got;

    tu_assert_ok(aios_envelope_reader_new_mem(&r, f->keys, m, mlen, NULL));
    check_reader(r, pt, n);
    aios_envelope_reader_free(r);

    snprintf(path, sizeof(path), "%s/model.aioe", f->dir);
    write_file(path, m, mlen);
    fd = open(path, O_RDONLY);
    tu_assert_ok(aios_envelope_reader_new_fd(&r, f->keys, fd, NULL));
    close(fd);   /* the reader keeps its own descriptor */
    check_reader(r, pt, n);
    aios_envelope_reader_free(r);

    /* a changed byte in chunk 3 fails reads of chunk 3 only */
    {
        size_t hlen = 0;
        tu_assert_ok(aios_envelope_header_len(&hlen, m, mlen));
        m[hlen + 3 * 4112 + 100] ^= 1;
        tu_assert_ok(aios_envelope_reader_new_mem(&r, f->keys, m, mlen, NULL));
        tu_assert_ok(aios_envelope_reader_read(r, 0, one, sizeof(one), &got));
        assert_memory_equal(one, pt, sizeof(one));
        tu_assert_ok(aios_envelope_reader_read(r, 4 * 4096 + 5, one, 5, &got));
        tu_assert_status(aios_envelope_reader_read(r, 3 * 4096 + 7, one, 3, &got), AIOS_E_AUTH);
        tu_assert_status(aios_envelope_reader_read(r, 3 * 4096 - 7, one, 10, &got), AIOS_E_AUTH);
        assert_int_equal(got, 0);
        aios_envelope_reader_free(r);
    }
    /* a payload cut at a chunk boundary is refused when the reader is made */
    tu_assert_status(aios_envelope_reader_new_mem(&r, f->keys, m, mlen - (n % 4096 + 16), NULL),
                     AIOS_E_ENVELOPE_TRUNCATED);
    tu_assert_status(aios_envelope_reader_new_mem(&r, f->keys, m, mlen - 7, NULL), AIOS_E_AUTH);
    free(m);
    free(pt);
}

/* ------------------------------------------------------------ rewrap */

static void test_rewrap(void **state)
{
    fx *f = *state;
    size_t n = 20000, mlen, old = 0;
    uint8_t *pt = pattern(n, 2), *m = stream_seal(f, pt, n, 0, 4096, 1, &mlen);
    aios_key *v2 = NULL, *other = NULL;
    aios_buffer *nh = NULL, *out = NULL, *info = NULL;
    aios_envelope_rewrap_options ro = AIOS_ENVELOPE_REWRAP_OPTIONS_INIT;
    uint8_t *joined;
    size_t jlen;

    /* rotate; rewrap to version 2 replaces version 1 */
    tu_assert_ok(aios_keyring_rotate(f->kr, &v2, "wrap-key"));
    tu_assert_ok(aios_envelope_rewrap(&nh, &old, f->keys, m, mlen, &v2, 1, NULL));
    assert_true(old > 0 && old < mlen);
    tu_assert_ok(aios_envelope_peek(&info, aios_buffer_data(nh), aios_buffer_len(nh)));
    assert_non_null(strstr((const char *)aios_buffer_data(info), "\"version\":2"));
    assert_null(strstr((const char *)aios_buffer_data(info), "\"version\":1"));
    aios_buffer_free(info);
    /* prefix, core and C unchanged */
    assert_memory_equal(aios_buffer_data(nh), m, 14);
    jlen = aios_buffer_len(nh) + (mlen - old);
    joined = malloc(jlen);
    memcpy(joined, aios_buffer_data(nh), aios_buffer_len(nh));
    memcpy(joined + aios_buffer_len(nh), m + old, mlen - old);
    aios_buffer_free(nh);
    /* version 1 destroyed: the rewrapped message still opens */
    tu_assert_ok(aios_keyring_destroy(f->kr, "wrap-key", 1));
    tu_assert_ok(aios_envelope_open(&out, f->keys, joined, jlen, NULL));
    assert_int_equal(aios_buffer_len(out), n);
    assert_memory_equal(aios_buffer_data(out), pt, n);
    aios_buffer_free(out);
    tu_assert_status(aios_envelope_open(&out, f->keys, m, mlen, NULL), AIOS_E_KEY_DESTROYED);

    /* add another KEK, then remove version 2 */
    tu_assert_ok(aios_keyring_add(f->kr, &other, "other", AIOS_KEY_AES256, NULL));
    tu_assert_ok(aios_envelope_rewrap(&nh, &old, f->keys, joined, jlen, &other, 1, NULL));
    tu_assert_ok(aios_envelope_peek(&info, aios_buffer_data(nh), aios_buffer_len(nh)));
    assert_non_null(strstr((const char *)aios_buffer_data(info), "\"key_id\":\"wrap-key\""));
    assert_non_null(strstr((const char *)aios_buffer_data(info), "\"key_id\":\"other\""));
    aios_buffer_free(info);
    aios_buffer_free(nh);
    ro.remove = &v2;
    ro.remove_count = 1;
    tu_assert_ok(aios_envelope_rewrap(&nh, &old, f->keys, joined, jlen, &other, 1, &ro));
    tu_assert_ok(aios_envelope_peek(&info, aios_buffer_data(nh), aios_buffer_len(nh)));
    assert_null(strstr((const char *)aios_buffer_data(info), "\"key_id\":\"wrap-key\""));
    aios_buffer_free(info);
    aios_buffer_free(nh);
    /* nothing left */
    tu_assert_status(aios_envelope_rewrap(&nh, &old, f->keys, joined, jlen, NULL, 0, &ro),
                     AIOS_E_INVALID_ARGUMENT);
    ro.remove_count = 0;
    ro.flags = AIOS_ENVELOPE_REWRAP_REPLACE_ALL;
    tu_assert_ok(aios_envelope_rewrap(&nh, &old, f->keys, joined, jlen, &other, 1, &ro));
    aios_buffer_free(nh);
    /* a tampered header is never re-tagged */
    {
        size_t hl = old;
        joined[hl - 1] ^= 1;
        tu_assert_status(aios_envelope_rewrap(&nh, &old, f->keys, joined, jlen, &other, 1, NULL),
                         AIOS_E_AUTH);
        assert_null(nh);
        joined[hl - 1] ^= 1;
    }

    /* over files */
    {
        char pa[512], pb[512];
        int in, outfd;
        uint8_t *res;
        size_t rlen;
        snprintf(pa, sizeof(pa), "%s/a", f->dir);
        snprintf(pb, sizeof(pb), "%s/b", f->dir);
        write_file(pa, joined, jlen);
        in = open(pa, O_RDONLY);
        outfd = open(pb, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        tu_assert_ok(aios_envelope_rewrap_fd(outfd, in, f->keys, &other, 1, NULL));
        close(in);
        close(outfd);
        res = kt_read(pb, &rlen);
        tu_assert_ok(aios_envelope_open(&out, f->keys, res, rlen, NULL));
        assert_memory_equal(aios_buffer_data(out), pt, n);
        aios_buffer_free(out);
        free(res);
    }
    free(joined);
    aios_key_unref(v2);
    aios_key_unref(other);
    free(m);
    free(pt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stream_round_trips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fd_loops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rewrap, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
