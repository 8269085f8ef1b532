/*
 * The public manifest API (include/aios/manifest.h): sign and verify a
 * model directory, the structured diff (missing, extra, modified, shards),
 * incremental verification (files, ranges, streams that hand out only
 * verified bytes), re-signing from a stat cache, the golden bundles of
 * ../shared/vectors/oms through the public calls, and bad input.
 */
#include "test_keyring_util.h"
#include "test_manifest_util.h"
#include "aios/manifest.h"
#include "manifest/manifest_obj.h"

#define MT AIOS_TEST_VECTORS "/oms/model-transparency"
#define ROOT_S1N_S2 "92745110b1ab4368471cbe31664e10174e954b113a3df333db860317b2c6dec4"

typedef struct fixture {
    char         *kdir;
    aios_keyring *kr;
    aios_key     *p256, *p384, *ed, *pub256;
    char         *model;
} fixture;

static int link_ok(const char *from, const char *to)
{
    return link(from, to);
}

static void hex32(char out[65], const uint8_t d[32])
{
    static const char x[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = x[d[i] >> 4];
        out[2 * i + 1] = x[d[i] & 15];
    }
    out[64] = 0;
}

static void make_model(const char *dir)
{
    static uint8_t big[3 << 20];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 131 + (i >> 13));
    mt_write_str(dir, "config.json", "{\"layers\": 2}");
    mt_write(dir, "weights/part-1.bin", big, sizeof(big));
    mt_write_str(dir, "weights/part 2 caf\xc3\xa9.bin", "second part");
    mt_write(dir, "empty", "", 0);
    mt_write_str(dir, "a/b/c/deep.txt", "deep");
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    aios_keyring_options o = kt_raw();
    aios_buffer *pem = NULL;
    f->kdir = kt_tmpdir();
    tu_assert_ok(aios_keyring_create(&f->kr, kt_path(f->kdir, "k.aioskr", 0), &o));
    tu_assert_ok(aios_keyring_add(f->kr, &f->p256, "p256", AIOS_KEY_ECDSA_P256, NULL));
    tu_assert_ok(aios_keyring_add(f->kr, &f->p384, "p384", AIOS_KEY_ECDSA_P384, NULL));
    tu_assert_ok(aios_keyring_add(f->kr, &f->ed, "ed", AIOS_KEY_ED25519, NULL));
    tu_assert_ok(aios_key_public_pem(f->p256, &pem));
    tu_assert_ok(aios_key_from_public_pem(&f->pub256, "pub", (const char *)aios_buffer_data(pem),
                                          aios_buffer_len(pem)));
    aios_buffer_free(pem);
    f->model = mt_tmpdir();
    make_model(f->model);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    aios_key_unref(f->p256);
    aios_key_unref(f->p384);
    aios_key_unref(f->ed);
    aios_key_unref(f->pub256);
    aios_keyring_free(f->kr);
    free(f->model);
    free(f->kdir);
    free(f);
    return 0;
}

static aios_manifest *sign_verify(fixture *f, const aios_manifest_sign_options *so,
                                  aios_key *signer, aios_key *verifier)
{
    aios_buffer *b = NULL;
    aios_manifest *signed_m = NULL, *m = NULL;
    uint8_t r1[32], r2[32];
    tu_assert_ok(aios_manifest_sign(&b, &signed_m, f->model, signer, so));
    assert_true(aios_manifest_flags(signed_m) & AIOS_MANIFEST_F_SIGNED);
    assert_false(aios_manifest_is_verified(signed_m));
    tu_assert_ok(aios_manifest_verify_key(&m, aios_buffer_data(b), aios_buffer_len(b), verifier,
                                          NULL));
    assert_true(aios_manifest_is_verified(m));
    tu_assert_ok(aios_manifest_root_digest(signed_m, r1));
    tu_assert_ok(aios_manifest_root_digest(m, r2));
    assert_memory_equal(r1, r2, 32);
    aios_manifest_unref(signed_m);
    aios_buffer_free(b);
    return m;
}

static void expect_diff(const aios_manifest_diff *d, size_t n, const aios_manifest_change *kinds,
                        const char *const *paths)
{
    assert_int_equal(aios_manifest_diff_count(d), n);
    for (size_t i = 0; i < n; i++) {
        aios_manifest_change k;
        const char *p;
        tu_assert_ok(aios_manifest_diff_at(d, i, &k, &p, NULL));
        assert_int_equal(k, kinds[i]);
        assert_string_equal(p, paths[i]);
    }
}

static void test_sign_verify_dir(void **state)
{
    fixture *f = *state;
    aios_key *keys[] = { f->p256, f->p384, f->ed };
    for (size_t i = 0; i < 3; i++) {
        aios_manifest *m = sign_verify(f, NULL, keys[i], keys[i]);
        aios_manifest_diff *d = NULL;
        aios_buffer *j = NULL;
        assert_int_equal(aios_manifest_get_method(m), AIOS_MANIFEST_FILES);
        assert_int_equal(aios_manifest_resource_count(m), 5);
        assert_string_equal(aios_manifest_hash_type(m), "sha256");
        /* the default subject is the model directory's name */
        assert_string_equal(aios_manifest_subject_name(m), strrchr(f->model, '/') + 1);
        tu_assert_ok(aios_manifest_verify_dir(m, f->model, &d, NULL));
        assert_int_equal(aios_manifest_diff_count(d), 0);
        tu_assert_ok(aios_manifest_diff_json(d, &j));
        assert_string_equal((const char *)aios_buffer_data(j),
                            "{\"missing\":[],\"extra\":[],\"modified\":[],\"extra_empty\":[]}");
        aios_buffer_free(j);
        aios_manifest_diff_free(d);
        aios_manifest_unref(m);
    }
    /* verifying with the public key alone, and with another key */
    {
        aios_buffer *b = NULL;
        aios_manifest *m = NULL;
        tu_assert_ok(aios_manifest_sign(&b, NULL, f->model, f->p256, NULL));
        tu_assert_ok(aios_manifest_verify_key(&m, aios_buffer_data(b), aios_buffer_len(b),
                                              f->pub256, NULL));
        aios_manifest_unref(m);
        m = NULL;
        tu_assert_status(aios_manifest_verify_key(&m, aios_buffer_data(b), aios_buffer_len(b),
                                                  f->p384, NULL), AIOS_E_MANIFEST_KEY_MISMATCH);
        assert_null(m);
        aios_buffer_free(b);
    }
}

static void test_diff_kinds(void **state)
{
    fixture *f = *state;
    aios_manifest *m = sign_verify(f, NULL, f->p256, f->pub256);
    aios_manifest_diff *d = NULL;
    char *away = mt_tmpdir(), tmp[8192];
    static const aios_manifest_change k1[] = { AIOS_MANIFEST_MODIFIED, AIOS_MANIFEST_EXTRA,
                                               AIOS_MANIFEST_MISSING };
    static const char *const p1[] = { "config.json", "new file", "weights/part 2 caf\xc3\xa9.bin" };

    snprintf(tmp, sizeof(tmp), "%s/moved-away", away);
    mt_write_str(f->model, "config.json", "{\"layers\": 3}");
    mt_write_str(f->model, "new file", "x");
    assert_int_equal(rename(mt_path(f->model, "weights/part 2 caf\xc3\xa9.bin"), tmp), 0);
    tu_assert_status(aios_manifest_verify_dir(m, f->model, &d, NULL), AIOS_E_MANIFEST_MISMATCH);
    expect_diff(d, 3, k1, p1);
    assert_non_null(strstr(aios_last_error_message(), "1 missing, 1 extra, 1 modified"));
    aios_manifest_diff_free(d);
    d = NULL;
    /* IGNORE_UNSIGNED: the extra file is not reported */
    {
        aios_manifest_verify_options o = AIOS_MANIFEST_VERIFY_OPTIONS_INIT;
        static const aios_manifest_change k2[] = { AIOS_MANIFEST_MODIFIED, AIOS_MANIFEST_MISSING };
        static const char *const p2[] = { "config.json", "weights/part 2 caf\xc3\xa9.bin" };
        o.flags = AIOS_MANIFEST_VERIFY_IGNORE_UNSIGNED;
        tu_assert_status(aios_manifest_verify_dir(m, f->model, &d, &o), AIOS_E_MANIFEST_MISMATCH);
        expect_diff(d, 2, k2, p2);
        aios_manifest_diff_free(d);
        d = NULL;
    }
    /* put it all back: verifies again */
    assert_int_equal(rename(tmp, mt_path(f->model, "weights/part 2 caf\xc3\xa9.bin")), 0);
    assert_int_equal(unlink(mt_path(f->model, "new file")), 0);
    mt_write_str(f->model, "config.json", "{\"layers\": 2}");
    tu_assert_ok(aios_manifest_verify_dir(m, f->model, NULL, NULL));
    aios_manifest_unref(m);
    free(away);
}

static void test_shards(void **state)
{
    fixture *f = *state;
    aios_manifest_sign_options so = AIOS_MANIFEST_SIGN_OPTIONS_INIT;
    aios_manifest *m;
    aios_manifest_diff *d = NULL;
    uint64_t off;
    const char *name;
    int fd;

    so.method = AIOS_MANIFEST_SHARDS;
    so.shard_size = 1 << 20;
    m = sign_verify(f, &so, f->p256, f->pub256);
    assert_int_equal(aios_manifest_get_method(m), AIOS_MANIFEST_SHARDS);
    assert_int_equal(aios_manifest_shard_size(m), 1 << 20);
    /* 3 MiB file: 3 shards; 3 small files; no resource for the empty file */
    assert_int_equal(aios_manifest_resource_count(m), 6);
    tu_assert_ok(aios_manifest_verify_dir(m, f->model, &d, NULL));
    /* the empty file is listed as extra_empty, which is no failure */
    assert_int_equal(aios_manifest_diff_count(d), 1);
    tu_assert_ok(aios_manifest_diff_at(d, 0, NULL, &name, NULL));
    assert_string_equal(name, "empty");
    aios_manifest_diff_free(d);
    d = NULL;
    {
        aios_manifest_verify_options o = AIOS_MANIFEST_VERIFY_OPTIONS_INIT;
        o.flags = AIOS_MANIFEST_VERIFY_STRICT_EMPTY;
        tu_assert_status(aios_manifest_verify_dir(m, f->model, NULL, &o), AIOS_E_MANIFEST_MISMATCH);
    }
    /* one byte changed in the third MiB: modified, first bad offset 2 MiB */
    fd = open(mt_path(f->model, "weights/part-1.bin"), O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "X", 1, (2 << 20) + 5), 1);
    tu_assert_status(aios_manifest_verify_dir(m, f->model, &d, NULL), AIOS_E_MANIFEST_MISMATCH);
    {
        aios_manifest_change k;
        size_t i, found = 0;
        for (i = 0; i < aios_manifest_diff_count(d); i++) {
            tu_assert_ok(aios_manifest_diff_at(d, i, &k, &name, &off));
            if (k == AIOS_MANIFEST_MODIFIED) {
                assert_string_equal(name, "weights/part-1.bin");
                assert_int_equal(off, 2 << 20);
                found++;
            }
        }
        assert_int_equal(found, 1);
    }
    aios_manifest_diff_free(d);
    d = NULL;
    /* incremental: the first two MiB still verify, the third does not */
    {
        int root = open(f->model, O_RDONLY | O_DIRECTORY);
        tu_assert_ok(aios_manifest_verify_range(m, root, "weights/part-1.bin", 0, 2 << 20, NULL));
        tu_assert_ok(aios_manifest_verify_range(m, root, "weights/part-1.bin", 100, 1000, NULL));
        tu_assert_status(aios_manifest_verify_range(m, root, "weights/part-1.bin", (2 << 20) - 1,
                                                    2, NULL), AIOS_E_MANIFEST_MISMATCH);
        tu_assert_status(aios_manifest_verify_range(m, root, "weights/part-1.bin", 0, 4 << 20,
                                                    NULL), AIOS_E_MANIFEST_NOT_SIGNED);
        tu_assert_status(aios_manifest_verify_file(m, root, "weights/part-1.bin", NULL),
                         AIOS_E_MANIFEST_MISMATCH);
        tu_assert_ok(aios_manifest_verify_file(m, root, "config.json", NULL));
        tu_assert_status(aios_manifest_verify_file(m, root, "empty", NULL),
                         AIOS_E_MANIFEST_NOT_SIGNED);
        /* truncation: a different size fails at open */
        assert_int_equal(pwrite(fd, "\0", 1, (2 << 20) + 5), 1);
        assert_int_equal(ftruncate(fd, 3 << 19), 0);
        tu_assert_status(aios_manifest_verify_range(m, root, "weights/part-1.bin", 0, 10, NULL),
                         AIOS_E_MANIFEST_MISMATCH);
        close(root);
    }
    close(fd);
    make_model(f->model);
    aios_manifest_unref(m);
}

/* A stream of a shard manifest hands out whole verified shards only. */
static void test_streams(void **state)
{
    fixture *f = *state;
    aios_manifest_sign_options so = AIOS_MANIFEST_SIGN_OPTIONS_INIT;
    aios_manifest *mf = sign_verify(f, NULL, f->p256, f->pub256), *ms;
    aios_manifest_stream *s = NULL;
    int root = open(f->model, O_RDONLY | O_DIRECTORY);
    uint8_t *buf = malloc(3 << 20);
    size_t n, total;
    int fd;

    so.method = AIOS_MANIFEST_SHARDS;
    so.shard_size = 1 << 20;
    ms = sign_verify(f, &so, f->p256, f->pub256);

    /* files method, read then finish */
    tu_assert_ok(aios_manifest_stream_open(&s, mf, root, "weights/part-1.bin"));
    assert_int_equal(aios_manifest_stream_size(s), 3 << 20);
    total = 0;
    do {
        tu_assert_ok(aios_manifest_stream_read(s, buf, 100000, &n));
        total += n;
    } while (n);
    assert_int_equal(total, 3 << 20);
    tu_assert_ok(aios_manifest_stream_finish(s));
    aios_manifest_stream_free(s);
    s = NULL;
    /* finish reads what the caller did not */
    tu_assert_ok(aios_manifest_stream_open(&s, mf, root, "weights/part-1.bin"));
    tu_assert_ok(aios_manifest_stream_read(s, buf, 10, &n));
    tu_assert_ok(aios_manifest_stream_finish(s));
    aios_manifest_stream_free(s);
    s = NULL;
    /* read_verified: the buffer must hold the unit */
    tu_assert_ok(aios_manifest_stream_open(&s, ms, root, "weights/part-1.bin"));
    assert_int_equal(aios_manifest_stream_unit_size(s), 1 << 20);
    tu_assert_status(aios_manifest_stream_read_verified(s, buf, 1000, &n), AIOS_E_BUFFER_TOO_SMALL);
    tu_assert_ok(aios_manifest_stream_read_verified(s, buf, (1 << 20) + 10, &n));
    assert_int_equal(n, 1 << 20);
    tu_assert_status(aios_manifest_stream_read(s, buf, 10, &n), AIOS_E_STATE);
    tu_assert_ok(aios_manifest_stream_read_verified(s, buf, 3 << 20, &n));
    assert_int_equal(n, 2 << 20);
    tu_assert_ok(aios_manifest_stream_read_verified(s, buf, 3 << 20, &n));
    assert_int_equal(n, 0);
    tu_assert_ok(aios_manifest_stream_read_verified(s, buf, 3 << 20, &n));   /* still the end */
    assert_int_equal(n, 0);
    tu_assert_ok(aios_manifest_stream_finish(s));
    aios_manifest_stream_free(s);
    s = NULL;
    /* a changed byte in the second shard: the first is handed out, the
     * second never is (the buffer is zeroed), and the stream stays failed */
    fd = open(mt_path(f->model, "weights/part-1.bin"), O_WRONLY);
    assert_int_equal(pwrite(fd, "X", 1, (1 << 20) + 7), 1);
    tu_assert_ok(aios_manifest_stream_open(&s, ms, root, "weights/part-1.bin"));
    tu_assert_ok(aios_manifest_stream_read_verified(s, buf, 1 << 20, &n));
    assert_int_equal(n, 1 << 20);
    memset(buf, 0xAA, 1 << 20);
    tu_assert_status(aios_manifest_stream_read_verified(s, buf, 1 << 20, &n),
                     AIOS_E_MANIFEST_MISMATCH);
    assert_int_equal(n, 0);
    for (size_t i = 0; i < (1 << 20); i += 4096)
        assert_int_equal(buf[i], 0);
    tu_assert_status(aios_manifest_stream_read_verified(s, buf, 1 << 20, &n),
                     AIOS_E_MANIFEST_MISMATCH);
    aios_manifest_stream_free(s);
    s = NULL;
    /* files method: read hands out bytes, finish refuses them */
    tu_assert_ok(aios_manifest_stream_open(&s, mf, root, "weights/part-1.bin"));
    {
        int rc;
        total = 0;
        /* the last read of the file already says so; finish repeats it */
        while ((rc = aios_manifest_stream_read(s, buf, 1 << 20, &n)) == AIOS_OK && n)
            total += n;
        assert_int_equal(rc, AIOS_E_MANIFEST_MISMATCH);
        assert_int_equal(total, 2 << 20);
    }
    tu_assert_status(aios_manifest_stream_finish(s), AIOS_E_MANIFEST_MISMATCH);
    aios_manifest_stream_free(s);
    s = NULL;
    close(fd);
    /* names the manifest does not hold, symlinks, traversal */
    tu_assert_status(aios_manifest_stream_open(&s, mf, root, "nope"), AIOS_E_MANIFEST_NOT_SIGNED);
    tu_assert_status(aios_manifest_stream_open(&s, mf, root, "../x"), AIOS_E_MANIFEST_PATH);
    tu_assert_status(aios_manifest_stream_open(&s, mf, root, "/etc/passwd"), AIOS_E_MANIFEST_PATH);
    assert_int_equal(unlink(mt_path(f->model, "config.json")), 0);
    assert_int_equal(symlink("a/b/c/deep.txt", mt_path(f->model, "config.json")), 0);
    tu_assert_status(aios_manifest_stream_open(&s, mf, root, "config.json"),
                     AIOS_E_MANIFEST_SYMLINK);
    assert_null(s);
    assert_int_equal(unlink(mt_path(f->model, "config.json")), 0);
    /* a signed non-empty file now empty: the read that finds the end fails */
    mt_write(f->model, "config.json", "", 0);
    tu_assert_ok(aios_manifest_stream_open(&s, mf, root, "config.json"));
    tu_assert_status(aios_manifest_stream_read(s, buf, 100, &n), AIOS_E_MANIFEST_MISMATCH);
    assert_int_equal(n, 0);
    tu_assert_status(aios_manifest_stream_finish(s), AIOS_E_MANIFEST_MISMATCH);
    aios_manifest_stream_free(s);
    s = NULL;
    /* ... and a signed empty file still reads as an empty success */
    tu_assert_ok(aios_manifest_stream_open(&s, mf, root, "empty"));
    tu_assert_ok(aios_manifest_stream_read(s, buf, 100, &n));
    assert_int_equal(n, 0);
    tu_assert_ok(aios_manifest_stream_read(s, buf, 100, &n));
    tu_assert_ok(aios_manifest_stream_finish(s));
    aios_manifest_stream_free(s);
    s = NULL;
    assert_int_equal(unlink(mt_path(f->model, "config.json")), 0);
    /* an unverified manifest cannot be used for incremental checks */
    {
        aios_manifest *h = NULL;
        make_model(f->model);
        tu_assert_ok(aios_manifest_hash(&h, f->model, NULL));
        assert_false(aios_manifest_flags(h) & (AIOS_MANIFEST_F_SIGNED | AIOS_MANIFEST_F_VERIFIED));
        tu_assert_status(aios_manifest_stream_open(&s, h, root, "config.json"),
                         AIOS_E_MANIFEST_UNVERIFIED);
        tu_assert_status(aios_manifest_verify_dir(h, f->model, NULL, NULL),
                         AIOS_E_MANIFEST_UNVERIFIED);
        tu_assert_ok(aios_manifest_compare_dir(h, f->model, NULL, NULL));
        aios_manifest_unref(h);
    }
    free(buf);
    close(root);
    aios_manifest_unref(mf);
    aios_manifest_unref(ms);
}

/* Streams that hash on threads of their own (aios_manifest_stream_new):
 * the same bytes and verdicts as on the caller's thread, for every thread
 * count, call size and hash type; mismatches and truncation still fail. */
static aios_manifest *sign_dir(fixture *f, const char *dir, const aios_manifest_sign_options *so)
{
    aios_buffer *b = NULL;
    aios_manifest *m = NULL;
    tu_assert_ok(aios_manifest_sign(&b, NULL, dir, f->p256, so));
    tu_assert_ok(aios_manifest_verify_key(&m, aios_buffer_data(b), aios_buffer_len(b), f->pub256,
                                          NULL));
    aios_buffer_free(b);
    return m;
}

#define TS_SIZE ((size_t)(6 << 20) + 123)   /* past the 4 MiB ring: it wraps */

static aios_manifest_stream *ts_open(const aios_manifest *m, int root, uint32_t threads)
{
    aios_manifest_stream_options o = AIOS_MANIFEST_STREAM_OPTIONS_INIT;
    aios_manifest_stream *s = NULL;
    o.threads = threads;
    tu_assert_ok(aios_manifest_stream_new(&s, m, root, "big.bin", &o));
    return s;
}

/* The detail of the first failure in ts_read_all. */
static char ts_first_error[512];

/* Read all of big.bin with read (calls of cap bytes); returns finish's status. */
static int ts_read_all(aios_manifest_stream *s, uint8_t *out, size_t cap, int *read_rc)
{
    size_t total = 0, n;
    int rc;
    while ((rc = aios_manifest_stream_read(s, out + total, cap, &n)) == AIOS_OK && n)
        total += n;
    *read_rc = rc;
    if (rc == AIOS_OK)
        assert_int_equal(total, TS_SIZE);
    else
        snprintf(ts_first_error, sizeof(ts_first_error), "%s", aios_last_error_message());
    rc = aios_manifest_stream_finish(s);
    if (*read_rc == AIOS_OK && rc != AIOS_OK)
        snprintf(ts_first_error, sizeof(ts_first_error), "%s", aios_last_error_message());
    return rc;
}

/* Read all of big.bin with read_verified (calls of cap bytes). */
static int ts_read_verified_all(aios_manifest_stream *s, uint8_t *out, size_t cap, size_t *total)
{
    size_t n;
    int rc;
    *total = 0;
    while ((rc = aios_manifest_stream_read_verified(s, out + *total, cap, &n)) == AIOS_OK && n)
        *total += n;
    return rc;
}

static void test_streams_threads(void **state)
{
    fixture *f = *state;
    static const uint32_t threads[] = { 1, 2, 3, 5, 0 };
    static const size_t read_caps[] = { 100000, 1 << 20, 4 << 20, TS_SIZE + 1 };
    static const size_t unit_caps[] = { 1 << 20, (1 << 20) + 5, 3 << 20, TS_SIZE };
    /* Under valgrind: every other thread count and call size. */
    const size_t step = tu_under_valgrind() ? 2 : 1;
    static const char *const hashes[] = { "sha256", "blake2b" };
    aios_manifest_sign_options so = AIOS_MANIFEST_SIGN_OPTIONS_INIT;
    aios_manifest_stream_options o;
    aios_manifest *mf[2], *ms[2];
    aios_manifest_stream *s = NULL;
    char *dir = mt_tmpdir();
    uint8_t *want = malloc(TS_SIZE), *got = malloc(TS_SIZE + 64);
    int root, fd, rrc;
    size_t i, t, c, h, total;

    for (i = 0; i < TS_SIZE; i++)
        want[i] = (uint8_t)(i * 167 + (i >> 11));
    mt_write(dir, "big.bin", want, TS_SIZE);
    mt_write_str(dir, "small.txt", "small");
    root = open(dir, O_RDONLY | O_DIRECTORY);
    assert_true(root >= 0);
    for (h = 0; h < 2; h++) {
        so.hash_type = hashes[h];
        so.method = AIOS_MANIFEST_FILES;
        mf[h] = sign_dir(f, dir, &so);
        so.method = AIOS_MANIFEST_SHARDS;
        so.shard_size = 1 << 20;   /* 7 shards, the last 123 bytes */
        ms[h] = sign_dir(f, dir, &so);
    }

    /* options */
    tu_assert_ok(aios_manifest_stream_options_init(&o, AIOS_MANIFEST_STREAM_OPTIONS_VERSION));
    assert_int_equal(o.version, AIOS_MANIFEST_STREAM_OPTIONS_VERSION);
    assert_int_equal(o.threads, 0);
    tu_assert_status(aios_manifest_stream_options_init(&o, 99), AIOS_E_VERSION);
    o.version = 99;
    tu_assert_status(aios_manifest_stream_new(&s, mf[0], root, "big.bin", &o), AIOS_E_VERSION);
    o.version = AIOS_MANIFEST_STREAM_OPTIONS_VERSION;
    o.threads = 257;
    tu_assert_status(aios_manifest_stream_new(&s, mf[0], root, "big.bin", &o),
                     AIOS_E_INVALID_ARGUMENT);
    assert_null(s);
    tu_assert_ok(aios_manifest_stream_new(&s, mf[0], root, "big.bin", NULL));   /* defaults */
    assert_int_equal(ts_read_all(s, got, 1 << 20, &rrc), AIOS_OK);
    assert_memory_equal(got, want, TS_SIZE);
    aios_manifest_stream_free(s);

    for (h = 0; h < 2; h++) {
        for (t = 0; t < sizeof(threads) / sizeof(threads[0]); t += step) {
            for (c = step - 1; c < sizeof(read_caps) / sizeof(read_caps[0]); c += step) {
                memset(got, 0, TS_SIZE);
                s = ts_open(mf[h], root, threads[t]);
                tu_assert_ok(ts_read_all(s, got, read_caps[c], &rrc));
                tu_assert_ok(rrc);
                assert_memory_equal(got, want, TS_SIZE);
                aios_manifest_stream_free(s);
            }
            for (c = step - 1; c < sizeof(unit_caps) / sizeof(unit_caps[0]); c += step) {
                memset(got, 0, TS_SIZE);
                s = ts_open(ms[h], root, threads[t]);
                tu_assert_ok(ts_read_verified_all(s, got, unit_caps[c], &total));
                assert_int_equal(total, TS_SIZE);
                assert_memory_equal(got, want, TS_SIZE);
                tu_assert_ok(aios_manifest_stream_finish(s));
                aios_manifest_stream_free(s);
            }
            /* files method, read_verified: the whole file in one call */
            s = ts_open(mf[h], root, threads[t]);
            tu_assert_status(aios_manifest_stream_read_verified(s, got, TS_SIZE - 1, &total),
                             AIOS_E_BUFFER_TOO_SMALL);
            tu_assert_ok(ts_read_verified_all(s, got, TS_SIZE + 64, &total));
            assert_int_equal(total, TS_SIZE);
            assert_memory_equal(got, want, TS_SIZE);
            aios_manifest_stream_free(s);
            /* a partial read, then finish reads the rest; free without finish */
            s = ts_open(mf[h], root, threads[t]);
            tu_assert_ok(aios_manifest_stream_read(s, got, 3 << 20, &total));
            tu_assert_ok(aios_manifest_stream_finish(s));
            aios_manifest_stream_free(s);
            s = ts_open(mf[h], root, threads[t]);
            tu_assert_ok(aios_manifest_stream_read(s, got, 2 << 20, &total));
            aios_manifest_stream_free(s);
        }
    }

    /* Changed bytes in shards 3 and 5: read_verified names the first, hands
     * out nothing of the call (zeroed), and stays failed; read fails at a
     * later read or at finish. */
    fd = open(mt_path(dir, "big.bin"), O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "\xff", 1, (5 << 20) + 9), 1);
    assert_int_equal(pwrite(fd, "\xff", 1, (3 << 20) + 1), 1);
    for (t = 0; t < sizeof(threads) / sizeof(threads[0]); t += step) {
        for (h = 0; h < 2; h++) {
            s = ts_open(ms[h], root, threads[t]);
            memset(got, 0xAA, TS_SIZE);
            tu_assert_ok(aios_manifest_stream_read_verified(s, got, 3 << 20, &total));
            assert_int_equal(total, 3 << 20);
            assert_memory_equal(got, want, 3 << 20);
            memset(got, 0xAA, TS_SIZE);
            tu_assert_status(aios_manifest_stream_read_verified(s, got, 6 << 20, &total),
                             AIOS_E_MANIFEST_MISMATCH);
            assert_int_equal(total, 0);
            assert_non_null(strstr(aios_last_error_message(), "bytes 3145728..4194304"));
            for (i = 0; i < (6 << 20); i += 512)   /* zeroed, or never written */
                assert_true(got[i] == 0 || got[i] == 0xAA);
            tu_assert_status(aios_manifest_stream_read_verified(s, got, 6 << 20, &total),
                             AIOS_E_MANIFEST_MISMATCH);
            tu_assert_status(aios_manifest_stream_finish(s), AIOS_E_MANIFEST_MISMATCH);
            aios_manifest_stream_free(s);

            s = ts_open(mf[h], root, threads[t]);
            tu_assert_status(ts_read_all(s, got, 1 << 20, &rrc), AIOS_E_MANIFEST_MISMATCH);
            /* at the latest the read that finds the end says so, finish or not */
            tu_assert_status(rrc, AIOS_E_MANIFEST_MISMATCH);
            tu_assert_status(aios_manifest_stream_read(s, got, 10, &total),
                             AIOS_E_MANIFEST_MISMATCH);
            aios_manifest_stream_free(s);
            /* the shard manifest through read: the first bad shard is named */
            s = ts_open(ms[h], root, threads[t]);
            tu_assert_status(ts_read_all(s, got, 1 << 20, &rrc), AIOS_E_MANIFEST_MISMATCH);
            assert_non_null(strstr(ts_first_error, "bytes 3145728..4194304"));
            aios_manifest_stream_free(s);
        }
    }
    /* Truncated while it is read: CHANGED, from read, read_verified or finish. */
    assert_int_equal(pwrite(fd, want + (3 << 20) + 1, 1, (3 << 20) + 1), 1);
    assert_int_equal(pwrite(fd, want + (5 << 20) + 9, 1, (5 << 20) + 9), 1);
    for (t = 0; t < sizeof(threads) / sizeof(threads[0]); t += step) {
        aios_manifest_stream *a = ts_open(mf[0], root, threads[t]);
        aios_manifest_stream *b = ts_open(ms[0], root, threads[t]);
        aios_manifest_stream *d = ts_open(mf[0], root, threads[t]);
        tu_assert_ok(aios_manifest_stream_read(a, got, 2 << 20, &total));
        tu_assert_ok(aios_manifest_stream_read_verified(b, got, 2 << 20, &total));
        tu_assert_ok(aios_manifest_stream_read(d, got, 2 << 20, &total));
        assert_int_equal(ftruncate(fd, 5 << 20), 0);
        tu_assert_status(ts_read_all(a, got, 1 << 20, &rrc), AIOS_E_MANIFEST_CHANGED);
        tu_assert_status(rrc, AIOS_E_MANIFEST_CHANGED);
        tu_assert_status(ts_read_verified_all(b, got, 4 << 20, &total), AIOS_E_MANIFEST_CHANGED);
        tu_assert_status(aios_manifest_stream_finish(d), AIOS_E_MANIFEST_CHANGED);
        aios_manifest_stream_free(a);
        aios_manifest_stream_free(b);
        aios_manifest_stream_free(d);
        mt_write(dir, "big.bin", want, TS_SIZE);
        /* mtime moved: re-sign is not needed (content is the same) */
    }
    /* Small files take the caller's thread: the same verdicts. */
    for (t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
        aios_manifest_stream_options so1 = AIOS_MANIFEST_STREAM_OPTIONS_INIT;
        so1.threads = threads[t];
        tu_assert_ok(aios_manifest_stream_new(&s, mf[0], root, "small.txt", &so1));
        tu_assert_ok(aios_manifest_stream_read(s, got, 100, &total));
        assert_int_equal(total, 5);
        assert_memory_equal(got, "small", 5);
        tu_assert_ok(aios_manifest_stream_read(s, got, 100, &total));
        assert_int_equal(total, 0);
        tu_assert_ok(aios_manifest_stream_finish(s));
        aios_manifest_stream_free(s);
        tu_assert_ok(aios_manifest_stream_new(&s, ms[0], root, "small.txt", &so1));
        tu_assert_ok(aios_manifest_stream_read_verified(s, got, 100, &total));
        assert_int_equal(total, 5);
        aios_manifest_stream_free(s);
    }
    /* The most threads, and a single-file model read through "." */
    {
        aios_manifest_sign_options s1 = AIOS_MANIFEST_SIGN_OPTIONS_INIT;
        aios_manifest_stream_options so1 = AIOS_MANIFEST_STREAM_OPTIONS_INIT;
        aios_buffer *b = NULL;
        aios_manifest *one = NULL;
        int ffd;
        char *file = strdup(mt_path(dir, "big.bin"));
        s1.method = AIOS_MANIFEST_SHARDS;
        s1.shard_size = 1 << 20;
        tu_assert_ok(aios_manifest_sign(&b, NULL, file, f->p256, &s1));
        tu_assert_ok(aios_manifest_verify_key(&one, aios_buffer_data(b), aios_buffer_len(b),
                                              f->pub256, NULL));
        aios_buffer_free(b);
        ffd = open(file, O_RDONLY);
        assert_true(ffd >= 0);
        so1.threads = 256;
        tu_assert_ok(aios_manifest_stream_new(&s, one, ffd, ".", &so1));
        memset(got, 0, TS_SIZE);
        tu_assert_ok(ts_read_verified_all(s, got, TS_SIZE, &total));
        assert_int_equal(total, TS_SIZE);
        assert_memory_equal(got, want, TS_SIZE);
        aios_manifest_stream_free(s);
        so1.threads = 2;
        tu_assert_ok(aios_manifest_stream_new(&s, one, ffd, ".", &so1));
        tu_assert_ok(ts_read_all(s, got, 1 << 20, &rrc));
        assert_memory_equal(got, want, TS_SIZE);
        aios_manifest_stream_free(s);
        close(ffd);
        aios_manifest_unref(one);
        free(file);
    }
    close(fd);
    for (h = 0; h < 2; h++) {
        aios_manifest_unref(mf[h]);
        aios_manifest_unref(ms[h]);
    }
    close(root);
    free(want);
    free(got);
    free(dir);
}

static int count_progress(uint64_t done, uint64_t total, const char *path, void *payload)
{
    (void)path;
    *(uint64_t *)payload = done > *(uint64_t *)payload ? done : *(uint64_t *)payload;
    (void)total;
    return 0;
}

static void test_stat_cache(void **state)
{
    fixture *f = *state;
    aios_manifest_sign_options so = AIOS_MANIFEST_SIGN_OPTIONS_INIT;
    aios_buffer *b1 = NULL, *b2 = NULL, *b3 = NULL;
    aios_manifest *m = NULL;
    uint64_t hashed = 0;
    char *cdir = mt_tmpdir(), cache[8192];
    uint8_t r1[32], r3[32];

    snprintf(cache, sizeof(cache), "%s/cache.json", cdir);   /* mt_path's buffers rotate */
    so.stat_cache_path = cache;
    so.hash.progress = count_progress;
    so.hash.progress_payload = &hashed;
    /* Files changed just before a walk are never cached ("racy git"):
     * the model was just written, so a second signature hashes it all. */
    make_model(f->model);
    tu_assert_ok(aios_manifest_sign(&b1, NULL, f->model, f->p256, &so));
    aios_buffer_free(b1);
    b1 = NULL;
    hashed = 0;
    tu_assert_ok(aios_manifest_sign(&b1, NULL, f->model, f->p256, &so));
    assert_true(hashed >= (3 << 20));
    aios_buffer_free(b1);
    b1 = NULL;
    /* The rest of this test pretends the files are old enough. */
    aios__mf_statcache_racy_ns = -1;
    tu_assert_ok(aios_manifest_sign(&b1, &m, f->model, f->p256, &so));
    tu_assert_ok(aios_manifest_root_digest(m, r1));
    aios_manifest_unref(m);
    assert_true(hashed >= (3 << 20));
    /* nothing changed: nothing hashed, same statement (deterministic ECDSA) */
    hashed = 0;
    tu_assert_ok(aios_manifest_sign(&b2, NULL, f->model, f->p256, &so));
    assert_int_equal(hashed, 0);
    assert_int_equal(aios_buffer_len(b1), aios_buffer_len(b2));
    assert_memory_equal(aios_buffer_data(b1), aios_buffer_data(b2), aios_buffer_len(b1));
    /* one small file changed: only it is hashed */
    mt_write_str(f->model, "config.json", "{\"layers\": 4}");
    hashed = 0;
    tu_assert_ok(aios_manifest_sign(&b3, &m, f->model, f->p256, &so));
    assert_int_equal(hashed, strlen("{\"layers\": 4}"));
    tu_assert_ok(aios_manifest_root_digest(m, r3));
    assert_memory_not_equal(r1, r3, 32);
    aios_manifest_unref(m);
    m = NULL;
    /* ... and the result equals a full hash */
    so.stat_cache_path = NULL;
    tu_assert_ok(aios_manifest_hash(&m, f->model, &so));
    tu_assert_ok(aios_manifest_root_digest(m, r1));
    assert_memory_equal(r1, r3, 32);
    aios_manifest_unref(m);
    /* a garbage cache is ignored */
    mt_write_str(cdir, "cache.json", "{\"aios_manifest_stat_cache\":1,\"files\":[{]}");
    so.stat_cache_path = cache;
    hashed = 0;
    aios_buffer_free(b2);
    b2 = NULL;
    tu_assert_ok(aios_manifest_sign(&b2, NULL, f->model, f->p256, &so));
    assert_true(hashed >= (3 << 20));
    assert_memory_equal(aios_buffer_data(b2), aios_buffer_data(b3), aios_buffer_len(b3));
    mt_write_str(f->model, "config.json", "{\"layers\": 2}");
    /* a clean verify_dir writes the cache: re-signing then hashes nothing */
    {
        aios_manifest_verify_options vo = AIOS_MANIFEST_VERIFY_OPTIONS_INIT;
        aios_manifest *v = NULL;
        aios_buffer *b4 = NULL;
        assert_int_equal(unlink(cache), 0);
        so.stat_cache_path = NULL;
        tu_assert_ok(aios_manifest_sign(&b4, NULL, f->model, f->p256, &so));
        tu_assert_ok(aios_manifest_verify_key(&v, aios_buffer_data(b4), aios_buffer_len(b4),
                                              f->pub256, NULL));
        vo.stat_cache_path = cache;
        tu_assert_ok(aios_manifest_verify_dir(v, f->model, NULL, &vo));
        so.stat_cache_path = cache;
        hashed = 0;
        aios_buffer_free(b4);
        b4 = NULL;
        tu_assert_ok(aios_manifest_sign(&b4, NULL, f->model, f->p256, &so));
        assert_int_equal(hashed, 0);
        /* a cache someone else could have written is no cache: its digests
         * would be signed unread (group- or other-writable; another owner
         * is the same test, which needs root) */
        assert_int_equal(chmod(cache, 0620), 0);
        hashed = 0;
        aios_buffer_free(b4);
        b4 = NULL;
        tu_assert_ok(aios_manifest_sign(&b4, NULL, f->model, f->p256, &so));
        assert_true(hashed >= (3 << 20));
        assert_int_equal(chmod(cache, 0602), 0);
        hashed = 0;
        aios_buffer_free(b4);
        b4 = NULL;
        tu_assert_ok(aios_manifest_sign(&b4, NULL, f->model, f->p256, &so));
        assert_true(hashed >= (3 << 20));
        assert_int_equal(chmod(cache, 0600), 0);   /* (sign rewrote it 0600 anyway) */
        hashed = 0;
        aios_buffer_free(b4);
        b4 = NULL;
        tu_assert_ok(aios_manifest_sign(&b4, NULL, f->model, f->p256, &so));
        assert_int_equal(hashed, 0);
        aios_buffer_free(b4);
        aios_manifest_unref(v);
    }
    aios_buffer_free(b1);
    aios_buffer_free(b2);
    aios_buffer_free(b3);
    aios__mf_statcache_racy_ns = 100000000;
    free(cdir);
}

static void test_bundle_path_and_provenance(void **state)
{
    fixture *f = *state;
    aios_manifest_sign_options so = AIOS_MANIFEST_SIGN_OPTIONS_INIT;
    aios_buffer *b = NULL, *p = NULL, *j = NULL;
    aios_manifest *m = NULL;
    const char *sig = mt_path(f->model, "model.sig");

    so.bundle_path = sig;
    so.subject_name = "my-model";
    so.provenance_json = "{\"v\":1,\"model\":\"m\",\"version\":\"2.0\",\"approver\":\"alice\"}";
    /* the bundle is written whole, both ways (an unnamed O_TMPFILE file,
     * linked and renamed; a mkostemp one), leaving no temporary behind */
    for (int way = 1; way >= 0; way--) {
        DIR *d;
        struct dirent *e;
        unsigned long before = aios__mf_atomic_tmpfile_writes();
        int probe = open(f->model, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
        aios__mf_atomic_portable = way;
        tu_assert_ok(aios_manifest_sign(NULL, NULL, f->model, f->p256, &so));
        /* the way taken: O_TMPFILE wherever this file system has it */
        assert_int_equal(aios__mf_atomic_tmpfile_writes() - before, !way && probe >= 0);
        if (probe >= 0)
            close(probe);
        assert_non_null(d = opendir(f->model));
        while ((e = readdir(d)) != NULL)
            assert_true(strncmp(e->d_name, "model.sig.", 10) != 0);
        closedir(d);
    }
    tu_assert_ok(aios_manifest_read_bundle(&b, sig, NULL));
    tu_assert_ok(aios_manifest_verify_key(&m, aios_buffer_data(b), aios_buffer_len(b), f->pub256,
                                          NULL));
    assert_string_equal(aios_manifest_subject_name(m), "my-model");
    tu_assert_ok(aios_manifest_provenance_json(m, &p));
    assert_non_null(strstr((const char *)aios_buffer_data(p), "\"approver\":\"alice\""));
    /* the bundle inside the model is excluded and recorded */
    tu_assert_ok(aios_manifest_verify_dir(m, f->model, NULL, NULL));
    tu_assert_ok(aios_manifest_to_json(m, &j));
    assert_non_null(strstr((const char *)aios_buffer_data(j), "\"ignore_paths\":[\"model.sig\"]"));
    assert_non_null(strstr((const char *)aios_buffer_data(j), "\"verified\":true"));
    aios_buffer_free(j);
    tu_assert_ok(aios_manifest_signer_json(m, &j));
    assert_non_null(strstr((const char *)aios_buffer_data(j), "\"method\":\"key\""));
    assert_int_equal(unlink(sig), 0);
    aios_buffer_free(j);
    aios_buffer_free(p);
    aios_buffer_free(b);
    aios_manifest_unref(m);
    /* provenance the reader would refuse is refused before hashing, not
     * written into a bundle nobody can verify (MANIFEST.md 5.7) */
    {
        static const struct {
            const char *json;
            int status;
        } bad[] = {
            { "{\"model\":\"x\"}", AIOS_E_INVALID_ARGUMENT },            /* no v */
            { "{\"v\":2}", AIOS_E_INVALID_ARGUMENT },
            { "[1]", AIOS_E_INVALID_ARGUMENT },
            { "{\"v\":1,\"model\":5}", AIOS_E_INVALID_ARGUMENT },
            { "{\"v\":1,\"datasets\":\"d\"}", AIOS_E_INVALID_ARGUMENT },
            { "{\"v\":1,\"datasets\":[\"a\",1]}", AIOS_E_INVALID_ARGUMENT },
            { "{\"v\":1,\"labels\":{\"\":\"x\"}}", AIOS_E_INVALID_ARGUMENT },
            { "{\"v\":1,\"labels\":{\"k\":1}}", AIOS_E_INVALID_ARGUMENT },
            { "{\"v\":1,\"approver\":\"a\\u0000b\"}", AIOS_E_INVALID_ARGUMENT },
            { "{\"v\":1,\"v\":1}", AIOS_E_INVALID_ARGUMENT },          /* duplicate */
        };
        uint64_t hashed = 0;
        char labels[300 * 16 + 64], *o = labels;
        size_t i;
        so.bundle_path = NULL;
        so.hash.progress = count_progress;
        so.hash.progress_payload = &hashed;
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            so.provenance_json = bad[i].json;
            tu_assert_status(aios_manifest_sign(&b, NULL, f->model, f->p256, &so), bad[i].status);
            assert_null(b);
        }
        /* nested deeper than the reader takes inside a statement (64 in
         * all, four of them above the provenance) */
        for (int depth = 59; depth <= 60; depth++) {
            char *q;
            q = labels + sprintf(labels, "{\"v\":1,\"x\":");
            for (i = 0; i < (size_t)depth; i++)
                *q++ = '[';
            for (i = 0; i < (size_t)depth; i++)
                *q++ = ']';
            strcpy(q, "}");
            so.provenance_json = labels;
            if (depth == 60) {
                tu_assert_status(aios_manifest_sign(&b, NULL, f->model, f->p256, &so),
                                 AIOS_E_LIMIT);
            } else {   /* the deepest that signs also verifies */
                so.hash.progress = NULL;
                tu_assert_ok(aios_manifest_sign(&b, NULL, f->model, f->p256, &so));
                tu_assert_ok(aios_manifest_verify_key(&m, aios_buffer_data(b), aios_buffer_len(b),
                                                      f->pub256, NULL));
                aios_manifest_unref(m);
                aios_buffer_free(b);
                b = NULL;
                hashed = 0;
                so.hash.progress = count_progress;
            }
        }
        o += sprintf(o, "{\"v\":1,\"labels\":{");
        for (i = 0; i < 257; i++)
            o += sprintf(o, "%s\"k%zu\":\"v\"", i ? "," : "", i);
        sprintf(o, "}}");
        so.provenance_json = labels;
        tu_assert_status(aios_manifest_sign(&b, NULL, f->model, f->p256, &so), AIOS_E_LIMIT);
        assert_int_equal(hashed, 0);   /* nothing was hashed for any refused one */
        /* 256 labels and unknown members are fine */
        strcpy(strstr(labels, ",\"k256\""), "},\"extra\":{\"any\":[1]}}");
        so.provenance_json = labels;
        tu_assert_ok(aios_manifest_sign(&b, &m, f->model, f->p256, &so));
        tu_assert_ok(aios_manifest_provenance_json(m, &p));
        assert_non_null(strstr((const char *)aios_buffer_data(p), "\"k255\":\"v\""));
        aios_buffer_free(p);
        aios_buffer_free(b);
        aios_manifest_unref(m);
    }
    /* signed ignore_paths are a set: sorted in the profile's order, once */
    {
        static const struct {
            aios_manifest_profile profile;
            const char *want;
        } orders[] = {
            { AIOS_MANIFEST_PROFILE_MODEL_SIGNING_1, "\"ignore_paths\":[\"a/b\",\"a-b\",\"d\",\"z\"]" },
            { AIOS_MANIFEST_PROFILE_OMS_1_0, "\"ignore_paths\":[\"a-b\",\"a/b\",\"d\",\"z\"]" },
        };
        const char *ig[] = { "z", "a-b", "d", "z", "a/b" };
        size_t k;
        so.provenance_json = NULL;
        so.hash.progress = NULL;
        so.hash.ignore_paths = ig;
        so.hash.ignore_paths_len = 5;
        for (k = 0; k < sizeof(orders) / sizeof(orders[0]); k++) {
            so.profile = orders[k].profile;
            tu_assert_ok(aios_manifest_sign(&b, &m, f->model, f->p256, &so));
            tu_assert_ok(aios_manifest_to_json(m, &j));
            assert_non_null(strstr((const char *)aios_buffer_data(j), orders[k].want));
            aios_buffer_free(j);
            aios_buffer_free(b);
            aios_manifest_unref(m);
        }
    }
}

static void test_golden(void **state)
{
    static const char *const dirs[] = { "v1.0.1-elliptic-key", "v1.1.0-elliptic-key" };
    aios_key *k = NULL;
    size_t n;
    char *pem = tu_read_file(MT "/keys/certificate/signing-key-pub.pem", &n);
    (void)state;
    tu_assert_ok(aios_key_from_public_pem(&k, "golden", strstr(pem, "-----BEGIN"),
                                          strlen(strstr(pem, "-----BEGIN"))));
    for (size_t i = 0; i < 2; i++) {
        char path[4096], path2[4200], hex[65];
        aios_buffer *b = NULL;
        aios_manifest *m = NULL;
        aios_manifest_diff *d = NULL;
        uint8_t root[32];
        aios_manifest_verify_options o = AIOS_MANIFEST_VERIFY_OPTIONS_INIT;
        static const char *const ig[] = { "ignore-me" };
        snprintf(path, sizeof(path), "%s/%s/model.sig", MT, dirs[i]);
        tu_assert_ok(aios_manifest_read_bundle(&b, path, NULL));
        tu_assert_ok(aios_manifest_verify_key(&m, aios_buffer_data(b), aios_buffer_len(b), k, NULL));
        tu_assert_ok(aios_manifest_root_digest(m, root));
        hex32(hex, root);
        assert_string_equal(hex, ROOT_S1N_S2);
        snprintf(path, sizeof(path), "%s/%s", MT, dirs[i]);
        /* the golden folders hold the bundle and an ignored file */
        o.hash.ignore_paths = ig;
        o.hash.ignore_paths_len = 1;
        /* 1.0.1 did not record its own bundle in ignore_paths; 1.1.0 does */
        tu_assert_status(aios_manifest_verify_dir(m, path, &d, &o),
                         i == 0 ? AIOS_E_MANIFEST_MISMATCH : AIOS_OK);
        assert_int_equal(aios_manifest_diff_count(d), i == 0);   /* model.sig */
        aios_manifest_diff_free(d);
        d = NULL;
        o.bundle_path = strcat(strcpy(path2, path), "/model.sig");
        tu_assert_ok(aios_manifest_verify_dir(m, path, &d, &o));
        assert_int_equal(aios_manifest_diff_count(d), 0);
        aios_manifest_diff_free(d);
        aios_manifest_unref(m);
        aios_buffer_free(b);
    }
    aios_key_unref(k);
    free(pem);
}

/* A single-file model: "." on a descriptor of the file itself; the
 * caller's file offset is neither used nor moved. */
static void test_single_file(void **state)
{
    fixture *f = *state;
    aios_buffer *b = NULL;
    aios_manifest *m = NULL;
    const char *file = mt_path(f->model, "config.json");
    int fd;
    char c;

    tu_assert_ok(aios_manifest_sign(&b, NULL, file, f->p256, NULL));
    tu_assert_ok(aios_manifest_verify_key(&m, aios_buffer_data(b), aios_buffer_len(b), f->pub256,
                                          NULL));
    assert_true(aios_manifest_flags(m) & AIOS_MANIFEST_F_SINGLE_FILE);
    tu_assert_ok(aios_manifest_verify_dir(m, file, NULL, NULL));
    fd = open(file, O_RDONLY);
    assert_int_equal(read(fd, &c, 1), 1);
    tu_assert_ok(aios_manifest_verify_file(m, fd, ".", NULL));
    tu_assert_ok(aios_manifest_verify_file(m, fd, ".", NULL));
    assert_int_equal(lseek(fd, 0, SEEK_CUR), 1);
    close(fd);
    /* only "." (or its own name) is signed: another name with the same
     * bytes is not */
    {
        int root = open(f->model, O_RDONLY | O_DIRECTORY);
        tu_assert_status(aios_manifest_verify_file(m, root, "weights/part 2 caf\xc3\xa9.bin", NULL),
                         AIOS_E_MANIFEST_NOT_SIGNED);
        tu_assert_status(aios_manifest_verify_file(m, root, "config.json", NULL),
                         AIOS_E_MANIFEST_NOT_SIGNED);
        close(root);
        tu_assert_status(aios_manifest_verify_dir(m, mt_path(f->model, "a/b/c/deep.txt"), NULL,
                                                  NULL), AIOS_E_MANIFEST_MISMATCH);
    }
    aios_manifest_unref(m);
    aios_buffer_free(b);
}

/* The bundle and the stat cache inside the model are left out by path:
 * a hard link to the bundle elsewhere in the model is an extra file, a
 * directory or FIFO is never taken for the bundle. */
static void test_bundle_inside(void **state)
{
    fixture *f = *state;
    aios_manifest_sign_options so = AIOS_MANIFEST_SIGN_OPTIONS_INIT;
    aios_manifest_verify_options vo = AIOS_MANIFEST_VERIFY_OPTIONS_INIT;
    aios_buffer *b = NULL;
    aios_manifest *m = NULL;
    aios_manifest_diff *d = NULL;
    char sig[8192], cache[8192], link[8192], fifo[8192];

    snprintf(sig, sizeof(sig), "%s/model.sig", f->model);
    snprintf(cache, sizeof(cache), "%s/.aios-cache", f->model);
    snprintf(link, sizeof(link), "%s/injected.json", f->model);
    snprintf(fifo, sizeof(fifo), "%s/fifo.sig", f->model);
    so.bundle_path = sig;
    so.stat_cache_path = cache;
    tu_assert_ok(aios_manifest_sign(&b, NULL, f->model, f->p256, &so));
    tu_assert_ok(aios_manifest_verify_key(&m, aios_buffer_data(b), aios_buffer_len(b), f->pub256,
                                          NULL));
    /* both recorded in ignore_paths: any verifier leaves them out */
    {
        aios_buffer *j = NULL;
        tu_assert_ok(aios_manifest_to_json(m, &j));
        assert_non_null(strstr((const char *)aios_buffer_data(j),
                               "\"ignore_paths\":[\".aios-cache\",\"model.sig\"]"));
        aios_buffer_free(j);
    }
    vo.bundle_path = sig;
    tu_assert_ok(aios_manifest_verify_dir(m, f->model, NULL, &vo));
    assert_int_equal(link_ok(sig, link), 0);
    tu_assert_status(aios_manifest_verify_dir(m, f->model, &d, &vo), AIOS_E_MANIFEST_MISMATCH);
    {
        aios_manifest_change k;
        const char *p;
        assert_int_equal(aios_manifest_diff_count(d), 1);
        tu_assert_ok(aios_manifest_diff_at(d, 0, &k, &p, NULL));
        assert_int_equal(k, AIOS_MANIFEST_EXTRA);
        assert_string_equal(p, "injected.json");
    }
    aios_manifest_diff_free(d);
    d = NULL;
    assert_int_equal(unlink(link), 0);
    /* a directory named as the bundle hides nothing */
    vo.bundle_path = mt_path(f->model, "weights");
    tu_assert_status(aios_manifest_verify_dir(m, f->model, NULL, &vo), AIOS_E_INVALID_ARGUMENT);
    /* a FIFO as the bundle: a clear error, never a hang */
    assert_int_equal(mkfifo(fifo, 0600), 0);
    {
        aios_buffer *x = NULL;
        tu_assert_status(aios_manifest_read_bundle(&x, fifo, NULL), AIOS_E_IO);
        assert_null(x);
    }
    assert_int_equal(unlink(fifo), 0);
    assert_int_equal(unlink(sig), 0);
    assert_int_equal(unlink(cache), 0);
    aios_manifest_unref(m);
    aios_buffer_free(b);
}

static int cancel_while_listing(uint64_t done, uint64_t total, const char *path, void *payload)
{
    (void)done;
    (void)path;
    if (total == 0)
        ++*(int *)payload;
    return total == 0;
}

/* Listing a large tree reports progress (0 of 0) and can be cancelled
 * before any byte is hashed. */
static void test_cancel_while_listing(void **state)
{
    fixture *f = *state;
    aios_manifest_sign_options so = AIOS_MANIFEST_SIGN_OPTIONS_INIT;
    aios_buffer *b = NULL;
    char *dir = mt_tmpdir(), name[64];
    int calls = 0;
    for (int i = 0; i < 600; i++) {
        snprintf(name, sizeof(name), "d/f%03d", i);
        mt_write_str(dir, name, "x");
    }
    so.hash.progress = cancel_while_listing;
    so.hash.progress_payload = &calls;
    tu_assert_status(aios_manifest_sign(&b, NULL, dir, f->p256, &so), AIOS_E_CANCELLED);
    assert_int_equal(calls, 1);
    assert_null(b);
    free(dir);
}

static void test_bad_input(void **state)
{
    fixture *f = *state;
    aios_manifest *m = NULL;
    aios_buffer *b = NULL;
    aios_manifest_sign_options so = AIOS_MANIFEST_SIGN_OPTIONS_INIT;
    aios_manifest_verify_options vo = AIOS_MANIFEST_VERIFY_OPTIONS_INIT;
    char *empty = mt_tmpdir();

    tu_assert_status(aios_manifest_verify_key(&m, (const uint8_t *)"{}", 2, f->pub256, NULL),
                     AIOS_E_FORMAT);
    tu_assert_status(aios_manifest_verify_key(&m, (const uint8_t *)"", 0, f->pub256, NULL),
                     AIOS_E_FORMAT);
    tu_assert_status(aios_manifest_sign(&b, NULL, empty, f->p256, NULL), AIOS_E_MANIFEST_EMPTY);
    tu_assert_status(aios_manifest_sign(&b, NULL, mt_path(empty, "nope"), f->p256, NULL),
                     AIOS_E_NOT_FOUND);
    tu_assert_status(aios_manifest_sign(&b, NULL, f->model, f->pub256, NULL), AIOS_E_KEY_USAGE);
    so.method = (aios_manifest_method)7;
    tu_assert_status(aios_manifest_sign(&b, NULL, f->model, f->p256, &so), AIOS_E_INVALID_ARGUMENT);
    so.method = AIOS_MANIFEST_SHARDS;
    so.shard_size = 1000;
    tu_assert_status(aios_manifest_sign(&b, NULL, f->model, f->p256, &so), AIOS_E_INVALID_ARGUMENT);
    so.shard_size = 0;
    so.hash_type = "md5";
    tu_assert_status(aios_manifest_sign(&b, NULL, f->model, f->p256, &so), AIOS_E_UNSUPPORTED);
    so.version = 99;
    tu_assert_status(aios_manifest_sign(&b, NULL, f->model, f->p256, &so), AIOS_E_VERSION);
    /* the bundle size cap, before parsing */
    tu_assert_ok(aios_manifest_sign(&b, NULL, f->model, f->p256, NULL));
    vo.bundle_max = aios_buffer_len(b) - 1;
    tu_assert_status(aios_manifest_verify_key(&m, aios_buffer_data(b), aios_buffer_len(b),
                                              f->pub256, &vo), AIOS_E_LIMIT);
    /* a certificate call on a key bundle */
    {
        const uint8_t *a = (const uint8_t *)"x";
        size_t al = 1;
        tu_assert_status(aios_manifest_verify_certificate(&m, aios_buffer_data(b),
                                                          aios_buffer_len(b), NULL, NULL, 0, NULL),
                         AIOS_E_INVALID_ARGUMENT);
        assert_true(aios_manifest_verify_certificate(&m, aios_buffer_data(b), aios_buffer_len(b),
                                                     &a, &al, 1, NULL) != AIOS_OK);
    }
    aios_buffer_free(b);
    b = NULL;
    /* a special file in the model */
    assert_int_equal(mkfifo(mt_path(empty, "fifo"), 0600), 0);
    mt_write_str(empty, "x", "x");
    tu_assert_status(aios_manifest_sign(&b, NULL, empty, f->p256, NULL),
                     AIOS_E_MANIFEST_SPECIAL_FILE);
    assert_null(m);
    aios_buffer_free(b);
    free(empty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_verify_dir),
        cmocka_unit_test(test_diff_kinds),
        cmocka_unit_test(test_shards),
        cmocka_unit_test(test_streams),
        cmocka_unit_test(test_streams_threads),
        cmocka_unit_test(test_stat_cache),
        cmocka_unit_test(test_bundle_path_and_provenance),
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_single_file),
        cmocka_unit_test(test_bundle_inside),
        cmocka_unit_test(test_cancel_while_listing),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
