/*
 * The parallel hasher (lib/manifest/hash.c, docs/MANIFEST.md 5.4, 5.5.9,
 * 5.6, 6): digests against independent computations and known answers,
 * the golden model folders of ../shared/vectors/oms against the roots of
 * docs/MANIFEST_VECTORS.md 2.1, a file over 64 MiB in files and shards
 * mode, shard boundaries and orders, 1 vs 2 threads, BLAKE2b, progress
 * and cancellation, files changed or truncated between the walk and the
 * hash or during it, unreadable files, limits.
 */
#include "test_manifest_util.h"
#include "crypto/crypto.h"
#include "crypto/sha256.h"

#define OMS AIOS_TEST_VECTORS "/oms/model-transparency"

static const char S1[] = "f6310066c7320497ea554260c32c43660bff648cb2a61194832cc086077085e1";
static const char S1N[] = "bc9a717db6064a32cbe9eae6fc40651dd6d36ef1757183f590eff2b1765d7ebc";
static const char S2[] = "32dcb1f8e1ae52d5963e56a6ba06ab58b424c15ed2a6b70d2feca1d089370028";
static const char EMPTY[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

static aios__mf_hash_options hopts(aios__mf_method m, uint32_t threads)
{
    aios__mf_hash_options o;
    memset(&o, 0, sizeof(o));
    o.method = m;
    o.threads = threads;
    return o;
}

static void assert_hex(const uint8_t *d, size_t n, const char *hex)
{
    char h[129];
    mt_hex(h, d, n);
    assert_string_equal(h, hex);
}

/* SHA-256 of [start, end) of a file, read whole, independently of hash.c. */
static void file_sha256(uint8_t out[32], const char *path, uint64_t start, uint64_t end)
{
    size_t len;
    char *b = tu_read_file(path, &len);
    assert_true(end <= len && start <= end);
    aios__sha256(out, (const uint8_t *)b + start, (size_t)(end - start));
    free(b);
}

static const aios__mf_resource *res_named(const aios__mf_result *r, const char *name)
{
    size_t i;
    for (i = 0; i < r->n; i++)
        if (strcmp(r->res[i].name, name) == 0)
            return &r->res[i];
    return NULL;
}

static void walk_hash(aios__mf_walk **w, aios__mf_result **r, const char *path,
                      const aios__mf_walk_options *wo, const aios__mf_hash_options *ho)
{
    tu_assert_ok(aios__mf_walk_path(w, path, wo));
    tu_assert_ok(aios__mf_hash(r, *w, ho));
}

/* ------------------------------------------------------------ golden data */

/* The model folders of MANIFEST_VECTORS.md 2.1, hashed as verification
 * would (the bundle inside excluded by device and inode, ignore-me by the
 * caller or the signed ignore_paths): the roots it lists. */
static void golden_dir(const char *folder, int ignore_me, const char *root_hex,
                       const char *const *names, const char *const *digests, size_t n)
{
    char dir[4096], sig[4200];
    aios__mf_walk_options wo;
    aios__mf_hash_options ho = hopts(AIOS__MF_FILES, 2);
    aios__mf_walk *w = NULL;
    aios__mf_result *r = NULL;
    const char *ign[1] = { "ignore-me" };
    struct stat st;
    size_t i;
    int p;

    snprintf(dir, sizeof(dir), "%s/%s", OMS, folder);
    snprintf(sig, sizeof(sig), "%s/model.sig", dir);
    assert_int_equal(stat(sig, &st), 0);
    for (p = 0; p < 2; p++) {
        memset(&wo, 0, sizeof(wo));
        wo.profile = p ? AIOS__MF_PROFILE_OMS_1_0 : AIOS__MF_PROFILE_MODEL_SIGNING_1;
        wo.exclude_file = 1;
        wo.exclude_dev = (uint64_t)st.st_dev;
        wo.exclude_ino = (uint64_t)st.st_ino;
        wo.ignore_paths = ign;
        wo.ignore_paths_len = ignore_me ? 1 : 0;
        walk_hash(&w, &r, dir, &wo, &ho);
        assert_int_equal(r->n, n);
        for (i = 0; i < n; i++) {
            assert_string_equal(r->res[i].name, names[i]);
            assert_hex(r->res[i].digest, 32, digests[i]);
        }
        assert_hex(r->root, 32, root_hex);
        aios__mf_result_free(r);
        aios__mf_walk_free(w);
    }
}

static void test_golden_folders(void **state)
{
    static const char *const names[] = { "signme-1", "signme-2" };
    static const char *const plain[] = { S1, S2 };
    static const char *const nl[] = { S1N, S2 };
    static const char *const root_plain =
        "61d4849d9d90076d6215f4d525f13d6574af8e3f67aef3e6f36fc40a14fdd226";
    static const char *const root_nl =
        "92745110b1ab4368471cbe31664e10174e954b113a3df333db860317b2c6dec4";
    static const char *const plain_folders[] = {
        "v0.2.0-certificate", "v0.3.1-certificate", "v0.3.1-sigstore", "v1.0.0-certificate",
        "v1.0.0-sigstore",
    };
    static const char *const plain_ignore_folders[] = {
        "v1.0.1-certificate", "v1.0.1-sigstore", "v1.1.0-certificate", "v1.1.0-sigstore",
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(plain_folders) / sizeof(*plain_folders); i++)
        golden_dir(plain_folders[i], 0, root_plain, names, plain, 2);
    for (i = 0; i < sizeof(plain_ignore_folders) / sizeof(*plain_ignore_folders); i++)
        golden_dir(plain_ignore_folders[i], 1, root_plain, names, plain, 2);
    golden_dir("v1.0.1-elliptic-key", 1, root_nl, names, nl, 2);
    golden_dir("v1.1.0-elliptic-key", 1, root_nl, names, nl, 2);

    /* v1.0.1 without the ignore-me option: ignore-me (empty) is an entry */
    {
        static const char *const n3[] = { "ignore-me", "signme-1", "signme-2" };
        static const char *const d3[] = { EMPTY, S1, S2 };
        uint8_t cat[96], root[32];
        char hex[65];
        static const char *const parts[] = { EMPTY, S1, S2 };
        for (i = 0; i < 3; i++) {
            size_t len;
            uint8_t *b = tu_hex(parts[i], &len);
            assert_int_equal(len, 32);
            memcpy(cat + 32 * i, b, 32);
            free(b);
        }
        aios__sha256(root, cat, 96);
        mt_hex(hex, root, 32);
        golden_dir("v1.0.1-certificate", 0, hex, n3, d3, 3);
    }
}

static void test_golden_single_file(void **state)
{
    static const char *const folders[] = { "v0.3.1-elliptic-key", "v1.0.0-elliptic-key" };
    size_t i;
    (void)state;
    for (i = 0; i < 2; i++) {
        char path[4096];
        aios__mf_walk_options wo;
        aios__mf_hash_options ho = hopts(AIOS__MF_FILES, 1);
        aios__mf_walk *w = NULL;
        aios__mf_result *r = NULL;
        int p;
        snprintf(path, sizeof(path), "%s/%s/signme-1", OMS, folders[i]);
        for (p = 0; p < 2; p++) {
            memset(&wo, 0, sizeof(wo));
            wo.profile = p ? AIOS__MF_PROFILE_OMS_1_0 : AIOS__MF_PROFILE_MODEL_SIGNING_1;
            walk_hash(&w, &r, path, &wo, &ho);
            assert_int_equal(r->n, 1);
            assert_string_equal(r->res[0].name, p ? "signme-1" : ".");
            assert_hex(r->res[0].digest, 32, S1N);
            assert_hex(r->root, 32,
                       "afa48c8674afe334b8a7dea34f7b46ab256e9255edf8da2132792341b667a45b");
            aios__mf_result_free(r);
            aios__mf_walk_free(w);
        }
    }
}

/* ------------------------------------------------------------ contents */

static void test_known_answers(void **state)
{
    char *d = mt_tmpdir();
    aios__mf_hash_options ho = hopts(AIOS__MF_FILES, 1);
    aios__mf_walk *w = NULL;
    aios__mf_result *r = NULL;
    uint8_t b2[64];
    (void)state;
    mt_write_str(d, "a/signme-1", "signme-1");
    mt_write(d, "b/empty", NULL, 0);
    mt_write_str(d, "c d/\xc3\xa9t\xc3\xa9 file", "signme-2");
    walk_hash(&w, &r, d, NULL, &ho);
    assert_int_equal(r->n, 3);
    assert_int_equal(r->digest_len, 32);
    assert_hex(res_named(r, "a/signme-1")->digest, 32, S1);
    assert_hex(res_named(r, "b/empty")->digest, 32, EMPTY);
    assert_hex(res_named(r, "c d/\xc3\xa9t\xc3\xa9 file")->digest, 32, S2);
    assert_int_equal(res_named(r, "a/signme-1")->end, 8);
    {
        uint8_t root[32], cat[96];
        size_t i;
        for (i = 0; i < 3; i++)
            memcpy(cat + 32 * i, r->res[i].digest, 32);
        aios__sha256(root, cat, 96);
        assert_memory_equal(root, r->root, 32);
    }
    aios__mf_result_free(r);

    /* BLAKE2b-512 */
    ho.hash_type = AIOS__MF_BLAKE2B;
    tu_assert_ok(aios__mf_hash(&r, w, &ho));
    assert_int_equal(r->digest_len, 64);
    tu_assert_ok(aios__blake2b(b2, 64, (const uint8_t *)"signme-1", 8, NULL, 0));
    assert_memory_equal(res_named(r, "a/signme-1")->digest, b2, 64);
    tu_assert_ok(aios__blake2b(b2, 64, (const uint8_t *)"", 0, NULL, 0));
    assert_memory_equal(res_named(r, "b/empty")->digest, b2, 64);
    {
        uint8_t root[32], cat[192];
        size_t i;
        for (i = 0; i < 3; i++)
            memcpy(cat + 64 * i, r->res[i].digest, 64);
        aios__sha256(root, cat, 192);   /* the root is SHA-256 whatever the hash */
        assert_memory_equal(root, r->root, 32);
    }
    aios__mf_result_free(r);
    aios__mf_walk_free(w);
    mt_rmtree(d);
}

/* A model with a file over 64 MiB (5 MiB + a bit under valgrind), some
 * middle-sized files and many small ones. */
static uint64_t big_size(void)
{
    return tu_under_valgrind() ? (5u << 20) + 4097 : (UINT64_C(64) << 20) + 4097;
}

static char *make_model(void)
{
    char *d = mt_tmpdir();
    int i, nsmall = tu_under_valgrind() ? 20 : 300;
    mt_write_pattern(d, "big.bin", big_size(), 1);
    mt_write_pattern(d, "mid/a", 3u << 20, 2);
    mt_write_pattern(d, "mid/b", (1u << 20) + 1, 3);
    mt_write(d, "empty", NULL, 0);
    for (i = 0; i < nsmall; i++) {
        char n[64];
        snprintf(n, sizeof(n), "small/%03d/f %d.txt", i % 17, i);
        mt_write_pattern(d, n, (uint64_t)(i * 37 % 5000), (uint32_t)i);
    }
    return d;
}

static void test_big_files_mode(void **state)
{
    char *d = make_model();
    aios__mf_hash_options ho = hopts(AIOS__MF_FILES, 1);
    aios__mf_walk *w = NULL;
    aios__mf_result *r1 = NULL, *r2 = NULL;
    uint8_t want[32];
    size_t i;
    (void)state;
    tu_assert_ok(aios__mf_walk_path(&w, d, NULL));
    tu_assert_ok(aios__mf_hash(&r1, w, &ho));
    ho.threads = 2;
    ho.read_size = 1u << 20;
    tu_assert_ok(aios__mf_hash(&r2, w, &ho));
    assert_int_equal(r1->n, w->n);
    assert_int_equal(r2->n, w->n);
    for (i = 0; i < r1->n; i++) {
        assert_string_equal(r1->res[i].name, r2->res[i].name);
        assert_memory_equal(r1->res[i].digest, r2->res[i].digest, 32);
    }
    assert_memory_equal(r1->root, r2->root, 32);
    file_sha256(want, mt_path(d, "big.bin"), 0, big_size());
    assert_memory_equal(res_named(r1, "big.bin")->digest, want, 32);
    file_sha256(want, mt_path(d, "mid/b"), 0, (1u << 20) + 1);
    assert_memory_equal(res_named(r2, "mid/b")->digest, want, 32);
    file_sha256(want, mt_path(d, "small/005/f 5.txt"), 0, 5 * 37);
    assert_memory_equal(res_named(r2, "small/005/f 5.txt")->digest, want, 32);
    aios__mf_result_free(r1);
    aios__mf_result_free(r2);
    aios__mf_walk_free(w);
    mt_rmtree(d);
}

static void test_shards(void **state)
{
    char *d = make_model();
    aios__mf_hash_options ho = hopts(AIOS__MF_SHARDS, 1);
    aios__mf_walk *w = NULL;
    aios__mf_result *r1 = NULL, *r2 = NULL;
    const uint64_t s = 1u << 20, big = big_size();
    uint64_t nbig = (big + s - 1) / s;
    uint8_t want[32];
    char name[128];
    size_t i, nfiles_nonempty = 0, expect = 0;
    (void)state;
    tu_assert_ok(aios__mf_walk_path(&w, d, NULL));
    for (i = 0; i < w->n; i++) {
        nfiles_nonempty += w->entries[i].size != 0;
        expect += (size_t)((w->entries[i].size + s - 1) / s);
    }
    ho.shard_size = s;
    tu_assert_ok(aios__mf_hash(&r1, w, &ho));
    ho.threads = 2;
    tu_assert_ok(aios__mf_hash(&r2, w, &ho));
    assert_int_equal(r1->n, expect);
    assert_true(r1->n > nfiles_nonempty);
    assert_int_equal(r1->shard_size, s);
    for (i = 0; i < r1->n; i++) {
        assert_string_equal(r1->res[i].name, r2->res[i].name);
        assert_memory_equal(r1->res[i].digest, r2->res[i].digest, 32);
        assert_true(r1->res[i].end > r1->res[i].start);   /* no empty shard */
    }
    assert_memory_equal(r1->root, r2->root, 32);
    assert_null(res_named(r1, "empty:0:0"));   /* empty files: no resource (5.4) */
    /* boundaries of the big file: [0,s), [s,2s), ..., [ks, n) */
    snprintf(name, sizeof(name), "big.bin:0:%llu", (unsigned long long)s);
    assert_non_null(res_named(r1, name));
    snprintf(name, sizeof(name), "big.bin:%llu:%llu", (unsigned long long)((nbig - 1) * s),
             (unsigned long long)big);
    assert_non_null(res_named(r1, name));
    file_sha256(want, mt_path(d, "big.bin"), (nbig - 1) * s, big);
    assert_memory_equal(res_named(r1, name)->digest, want, 32);
    snprintf(name, sizeof(name), "big.bin:%llu:%llu", (unsigned long long)(2 * s),
             (unsigned long long)(3 * s));
    file_sha256(want, mt_path(d, "big.bin"), 2 * s, 3 * s);
    assert_memory_equal(res_named(r2, name)->digest, want, 32);
    /* exactly three shards for 3 MiB, two for 1 MiB + 1 */
    assert_non_null(res_named(r1, "mid/a:2097152:3145728"));
    assert_null(res_named(r1, "mid/a:3145728:3145728"));
    assert_non_null(res_named(r1, "mid/b:1048576:1048577"));
    /* component order, shards by integer offsets */
    for (i = 1; i < r1->n; i++) {
        const aios__mf_resource *a = &r1->res[i - 1], *b = &r1->res[i];
        int c = aios__mf_cmp_components(a->entry->path, a->entry->path_len, b->entry->path,
                                        b->entry->path_len);
        assert_true(c < 0 || (c == 0 && a->start < b->start));
    }
    aios__mf_result_free(r1);
    aios__mf_result_free(r2);
    aios__mf_walk_free(w);
    mt_rmtree(d);
}

static void test_shard_orders(void **state)
{
    char *d = mt_tmpdir();
    aios__mf_walk_options wo;
    aios__mf_hash_options ho = hopts(AIOS__MF_SHARDS, 2);
    aios__mf_walk *w = NULL;
    aios__mf_result *r = NULL;
    uint8_t want[32];
    size_t i;
    (void)state;
    mt_write_pattern(d, "f", 12000, 9);          /* 12 shards of 1000 */
    mt_write_str(d, "a/b", "x");
    mt_write_str(d, "a-b", "y");
    mt_write_str(d, "one", "signme-1");
    memset(&wo, 0, sizeof(wo));
    ho.shard_size = 1000;
    walk_hash(&w, &r, d, &wo, &ho);
    assert_int_equal(r->n, 15);
    assert_string_equal(r->res[0].name, "a/b:0:1");
    assert_string_equal(r->res[1].name, "a-b:0:1");
    assert_string_equal(r->res[2].name, "f:0:1000");
    assert_string_equal(r->res[3].name, "f:1000:2000");
    assert_string_equal(r->res[11].name, "f:9000:10000");
    assert_string_equal(r->res[12].name, "f:10000:11000");
    assert_string_equal(r->res[13].name, "f:11000:12000");
    assert_string_equal(r->res[14].name, "one:0:8");
    assert_hex(r->res[14].digest, 32, S1);   /* a one-shard file: the file's digest */
    file_sha256(want, mt_path(d, "f"), 10000, 11000);
    assert_memory_equal(r->res[12].digest, want, 32);
    aios__mf_result_free(r);
    aios__mf_walk_free(w);

    wo.profile = AIOS__MF_PROFILE_OMS_1_0;
    walk_hash(&w, &r, d, &wo, &ho);
    assert_int_equal(r->n, 15);
    assert_string_equal(r->res[0].name, "a-b:0:1");
    assert_string_equal(r->res[1].name, "a/b:0:1");
    assert_string_equal(r->res[2].name, "f:0:1000");
    assert_string_equal(r->res[3].name, "f:10000:11000");   /* '0' < ':' */
    assert_string_equal(r->res[4].name, "f:1000:2000");
    assert_string_equal(r->res[5].name, "f:11000:12000");
    assert_string_equal(r->res[6].name, "f:2000:3000");
    for (i = 1; i < r->n; i++)
        assert_true(strcmp(r->res[i - 1].name, r->res[i].name) < 0);
    assert_memory_equal(r->res[3].digest, want, 32);
    aios__mf_result_free(r);
    aios__mf_walk_free(w);

    /* writer rules: shard size 1 MiB..2^40, and no ':' in model-signing-1 */
    ho.for_signing = 1;
    tu_assert_ok(aios__mf_walk_path(&w, d, NULL));
    tu_assert_status(aios__mf_hash(&r, w, &ho), AIOS_E_INVALID_ARGUMENT);
    ho.shard_size = (UINT64_C(1) << 40) + 1;
    tu_assert_status(aios__mf_hash(&r, w, &ho), AIOS_E_INVALID_ARGUMENT);
    ho.shard_size = 0;   /* the default, 10^9 */
    tu_assert_ok(aios__mf_hash(&r, w, &ho));
    assert_int_equal(r->shard_size, 1000000000u);
    assert_string_equal(r->res[2].name, "f:0:12000");
    aios__mf_result_free(r);
    aios__mf_walk_free(w);
    mt_write_str(d, "x:y", "colon");
    tu_assert_ok(aios__mf_walk_path(&w, d, NULL));
    tu_assert_status(aios__mf_hash(&r, w, &ho), AIOS__E_MANIFEST_PATH);
    ho.method = AIOS__MF_FILES;   /* files: fine */
    tu_assert_ok(aios__mf_hash(&r, w, &ho));
    aios__mf_result_free(r);
    aios__mf_walk_free(w);
    wo.profile = AIOS__MF_PROFILE_OMS_1_0;   /* oms-1.0 allows it */
    ho.method = AIOS__MF_SHARDS;
    walk_hash(&w, &r, d, &wo, &ho);
    assert_non_null(res_named(r, "x:y:0:5"));
    aios__mf_result_free(r);
    aios__mf_walk_free(w);

    /* too many shards: refused before allocating them */
    ho.for_signing = 0;
    ho.shard_size = 1;
    mt_write_pattern(d, "f", (UINT64_C(1) << 20) + 1, 9);
    tu_assert_ok(aios__mf_walk_path(&w, d, NULL));
    tu_assert_status(aios__mf_hash(&r, w, &ho), AIOS_E_LIMIT);
    aios__mf_walk_free(w);
    mt_rmtree(d);
}

static void test_single_file_shards(void **state)
{
    char *d = mt_tmpdir();
    aios__mf_walk_options wo;
    aios__mf_hash_options ho = hopts(AIOS__MF_SHARDS, 2);
    aios__mf_walk *w = NULL;
    aios__mf_result *r = NULL;
    uint8_t want[32];
    (void)state;
    mt_write_pattern(d, "model.bin", 3000, 4);
    memset(&wo, 0, sizeof(wo));
    ho.shard_size = 1024;
    walk_hash(&w, &r, mt_path(d, "model.bin"), &wo, &ho);
    assert_int_equal(r->n, 3);
    assert_string_equal(r->res[0].name, ".:0:1024");
    assert_string_equal(r->res[2].name, ".:2048:3000");
    file_sha256(want, mt_path(d, "model.bin"), 2048, 3000);
    assert_memory_equal(r->res[2].digest, want, 32);
    aios__mf_result_free(r);
    aios__mf_walk_free(w);
    wo.profile = AIOS__MF_PROFILE_OMS_1_0;
    walk_hash(&w, &r, mt_path(d, "model.bin"), &wo, &ho);
    assert_string_equal(r->res[0].name, "model.bin:0:1024");
    assert_memory_equal(r->res[2].digest, want, 32);
    aios__mf_result_free(r);
    aios__mf_walk_free(w);
    mt_rmtree(d);
}

static void test_symlinked_content(void **state)
{
    char *d = mt_tmpdir();
    aios__mf_walk_options wo;
    aios__mf_hash_options ho = hopts(AIOS__MF_FILES, 1);
    aios__mf_walk *w = NULL;
    aios__mf_result *r = NULL;
    (void)state;
    mt_write_str(d, "blobs/x", "signme-1");
    mt_symlink(d, "model/weights", "../blobs/x");
    memset(&wo, 0, sizeof(wo));
    wo.allow_symlinks = 1;
    walk_hash(&w, &r, d, &wo, &ho);
    assert_int_equal(r->n, 2);
    assert_string_equal(r->res[1].name, "model/weights");
    assert_hex(r->res[1].digest, 32, S1);
    aios__mf_result_free(r);
    /* the link replaced by a link elsewhere between walk and hash: the
     * target path holds a symlink now and is not followed */
    assert_int_equal(rename(mt_path(d, "blobs/x"), mt_path(d, "blobs/y")), 0);
    mt_symlink(d, "blobs/x", "y");
    tu_assert_status(aios__mf_hash(&r, w, &ho), AIOS__E_MANIFEST_CHANGED);
    aios__mf_walk_free(w);
    mt_rmtree(d);
}

static void test_threads_identical(void **state)
{
    char *d = mt_tmpdir();
    aios__mf_walk *w = NULL;
    aios__mf_result *r[6] = { NULL, NULL, NULL, NULL, NULL, NULL };
    int i, m;
    (void)state;
    for (i = 0; i < 200; i++) {
        char n[64];
        snprintf(n, sizeof(n), "d%d/%s%d", i % 7, i % 3 ? "a-" : "a/", i);
        mt_write_pattern(d, n, (uint64_t)(i * 997 % 70000), (uint32_t)i);
    }
    tu_assert_ok(aios__mf_walk_path(&w, d, NULL));
    for (m = 0; m < 2; m++) {
        aios__mf_hash_options ho = hopts(m ? AIOS__MF_SHARDS : AIOS__MF_FILES, 1);
        size_t k;
        ho.shard_size = 4096;
        tu_assert_ok(aios__mf_hash(&r[0], w, &ho));
        ho.threads = 2;
        tu_assert_ok(aios__mf_hash(&r[1], w, &ho));
        ho.threads = 0;   /* online CPUs */
        tu_assert_ok(aios__mf_hash(&r[2], w, &ho));
        /* The smallest buffer: each of two lanes reads 32 KiB at a time,
         * so lanes of unequal lengths meet mid-file. */
        ho.threads = 1;
        ho.read_size = 64u << 10;
        tu_assert_ok(aios__mf_hash(&r[3], w, &ho));
        /* A read size that is not a multiple of two pages: each lane's
         * buffer is rounded down to whole pages. */
        ho.read_size = 100000;
        tu_assert_ok(aios__mf_hash(&r[5], w, &ho));
        ho.read_size = 0;
        /* One lane per thread (the portable kernel has no 2-lane form). */
        aios__sha256_test_force_portable(1);
        assert_false(aios__sha256_two_lanes());
        tu_assert_ok(aios__mf_hash(&r[4], w, &ho));
        aios__sha256_test_force_portable(0);
        for (i = 1; i < 6; i++) {
            assert_int_equal(r[0]->n, r[i]->n);
            for (k = 0; k < r[0]->n; k++) {
                assert_string_equal(r[0]->res[k].name, r[i]->res[k].name);
                assert_memory_equal(r[0]->res[k].digest, r[i]->res[k].digest, 32);
            }
            assert_memory_equal(r[0]->root, r[i]->root, 32);
        }
        for (i = 0; i < 6; i++)
            aios__mf_result_free(r[i]);
    }
    aios__mf_walk_free(w);
    mt_rmtree(d);
}

/* Few descriptors: 8 threads of two lanes want 16 files open at once.
 * With fewer free, a worker whose open fails for want of descriptors
 * waits for one that another worker gives back (hash.c "Descriptors"):
 * the digests are the same as on one thread, in both methods (shards of
 * one file share its descriptor), and it did wait.  With none free and
 * none held, the shortage is reported.  The limit is put back by the teardown. */
static struct rlimit g_nofile;

static int restore_nofile(void **state)
{
    (void)state;
    aios__sha256_test_force_portable(0);
    return setrlimit(RLIMIT_NOFILE, &g_nofile);
}

static void test_threads_few_descriptors(void **state)
{
    char *d = mt_tmpdir();
    aios__mf_walk *w = NULL;
    aios__mf_result *one = NULL, *r = NULL;
    struct rlimit low;
    int i, m, free_fds;
    size_t k;
    (void)state;
    if (tu_under_valgrind()) {   /* valgrind refuses to lower the limit */
        mt_rmtree(d);
        skip();
    }
    for (i = 0; i < 96; i++) {
        char n[64];
        snprintf(n, sizeof(n), "d%d/f%02d", i % 4, i);
        mt_write_pattern(d, n, (uint64_t)(i % 5) * 70000 + 1, (uint32_t)i);
    }
    tu_assert_ok(aios__mf_walk_path(&w, d, NULL));
    for (m = 0; m < 2; m++) {
        aios__mf_hash_options ho = hopts(m ? AIOS__MF_SHARDS : AIOS__MF_FILES, 1);
        ho.shard_size = 65536;
        ho.read_size = 64u << 10;   /* many reads per file: lanes overlap */
        tu_assert_ok(aios__mf_hash(&one, w, &ho));
        ho.threads = 8;
        size_t waits = aios__mf_hash_fd_waits();
        /* on one lane per worker (the portable kernel), then two; from 2
         * free (opening d0/f00 component by component, where the kernel
         * has no openat2, takes two) */
        for (free_fds = 2; free_fds <= 11; free_fds += 3) {
            aios__sha256_test_force_portable(free_fds < 5);
            low = g_nofile;
            low.rlim_cur = mt_free_below(free_fds);
            assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
            for (i = 0; i < 5; i++) {
                int rc = aios__mf_hash(&r, w, &ho);
                if (rc != AIOS_OK)
                    print_error("%s, 8 threads, %d descriptors free: %s\n", m ? "shards" : "files",
                                free_fds, aios_last_error_message());
                assert_int_equal(rc, AIOS_OK);
                assert_int_equal(r->n, one->n);
                for (k = 0; k < r->n; k++) {
                    assert_string_equal(r->res[k].name, one->res[k].name);
                    assert_memory_equal(r->res[k].digest, one->res[k].digest, 32);
                }
                aios__mf_result_free(r);
                r = NULL;
            }
            assert_int_equal(setrlimit(RLIMIT_NOFILE, &g_nofile), 0);
        }
        aios__sha256_test_force_portable(0);
        print_message("%s: %zu waits for a descriptor\n", m ? "shards" : "files",
                      aios__mf_hash_fd_waits() - waits);
        assert_true(aios__mf_hash_fd_waits() > waits);
        /* none free: nothing any worker could wait for */
        low = g_nofile;
        low.rlim_cur = mt_free_below(1) - 1;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
        tu_assert_status(aios__mf_hash(&r, w, &ho), AIOS_E_IO);
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &g_nofile), 0);
        assert_null(r);
        assert_non_null(strstr(aios_last_error_message(), strerror(EMFILE)));
        aios__mf_result_free(one);
        one = NULL;
    }
    aios__mf_walk_free(w);
    mt_rmtree(d);
}

/* ------------------------------------------------------------ progress, cancel */

typedef struct prog {
    uint64_t last_done, calls, total;
    int cancel_at;          /* cancel on this call (1-based), 0 never */
    const char *truncate;   /* on the first call, truncate this file ... */
    off_t truncate_to;      /* ... to this size */
    const char *append;     /* or append a byte to it */
    const char *overwrite;  /* or, once done passes overwrite_after, write 16 bytes at 0 and at
                             * overwrite_at (the size stays) */
    uint64_t overwrite_after;
    off_t overwrite_at;
    int monotonic;
} prog;

static int on_progress(uint64_t done, uint64_t total, const char *path, void *payload)
{
    prog *p = payload;
    (void)path;
    p->calls++;
    if (done < p->last_done)
        p->monotonic = 0;
    p->last_done = done;
    p->total = total;
    if (p->calls == 1 && p->truncate != NULL)
        assert_int_equal(truncate(p->truncate, p->truncate_to), 0);
    if (p->calls == 1 && p->append != NULL) {
        int fd = open(p->append, O_WRONLY | O_APPEND | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "!", 1), 1);
        close(fd);
    }
    if (p->overwrite != NULL && done >= p->overwrite_after) {
        int fd = open(p->overwrite, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        usleep(20000);   /* a later timestamp tick than the file's last write */
        assert_int_equal(pwrite(fd, "ZZZZZZZZZZZZZZZZ", 16, 0), 16);
        assert_int_equal(pwrite(fd, "ZZZZZZZZZZZZZZZZ", 16, p->overwrite_at), 16);
        close(fd);
        p->overwrite = NULL;
    }
    return p->cancel_at != 0 && p->calls >= (uint64_t)p->cancel_at;
}

static void test_progress_and_cancel(void **state)
{
    char *d = make_model();
    aios__mf_hash_options ho = hopts(AIOS__MF_FILES, 1);
    aios__mf_walk *w = NULL;
    aios__mf_result *r = NULL;
    prog p;
    volatile int cancel = 0;
    (void)state;
    tu_assert_ok(aios__mf_walk_path(&w, d, NULL));
    memset(&p, 0, sizeof(p));
    p.monotonic = 1;
    ho.progress = on_progress;
    ho.progress_payload = &p;
    ho.read_size = 1u << 20;
    tu_assert_ok(aios__mf_hash(&r, w, &ho));
    assert_true(p.calls > 10);
    assert_true(p.monotonic);
    assert_int_equal(p.last_done, w->total_bytes);   /* the last call reports all of it */
    assert_int_equal(p.total, w->total_bytes);
    aios__mf_result_free(r);

    for (ho.threads = 1; ho.threads <= 2; ho.threads++) {
        memset(&p, 0, sizeof(p));
        p.cancel_at = 3;
        tu_assert_status(aios__mf_hash(&r, w, &ho), AIOS_E_CANCELLED);
        assert_null(r);
        assert_non_null(strstr(aios_last_error_message(), "progress callback"));
        assert_true(p.last_done < w->total_bytes);
    }
    ho.progress = NULL;
    cancel = 1;
    ho.cancel = &cancel;
    tu_assert_status(aios__mf_hash(&r, w, &ho), AIOS_E_CANCELLED);
    aios__mf_walk_free(w);
    mt_rmtree(d);
}

static void test_changed_files(void **state)
{
    char *d = mt_tmpdir();
    aios__mf_hash_options ho = hopts(AIOS__MF_FILES, 1);
    aios__mf_walk *w = NULL;
    aios__mf_result *r = NULL;
    prog p;
    int m;
    (void)state;
    mt_write_pattern(d, "big", 8u << 20, 1);
    mt_write_pattern(d, "small", 1000, 2);

    for (m = 0; m < 2; m++) {
        ho.method = m ? AIOS__MF_SHARDS : AIOS__MF_FILES;
        ho.shard_size = 2u << 20;
        ho.read_size = 1u << 20;
        /* truncated between the walk and the hash */
        tu_assert_ok(aios__mf_walk_path(&w, d, NULL));
        assert_int_equal(truncate(mt_path(d, "small"), 10), 0);
        tu_assert_status(aios__mf_hash(&r, w, &ho), AIOS__E_MANIFEST_CHANGED);
        assert_non_null(strstr(aios_last_error_message(), "'small'"));
        aios__mf_walk_free(w);
        mt_write_pattern(d, "small", 1000, 2);

        /* truncated while it is read (from the progress callback, after the
         * first 1 MiB block of "big") */
        tu_assert_ok(aios__mf_walk_path(&w, d, NULL));
        memset(&p, 0, sizeof(p));
        p.truncate = mt_path(d, "big");
        p.truncate_to = 1u << 20;
        ho.progress = on_progress;
        ho.progress_payload = &p;
        tu_assert_status(aios__mf_hash(&r, w, &ho), AIOS__E_MANIFEST_CHANGED);
        assert_non_null(strstr(aios_last_error_message(), "'big'"));
        ho.progress = NULL;
        aios__mf_walk_free(w);
        mt_write_pattern(d, "big", 8u << 20, 1);

        /* grown while it is read: "big" is read first (largest first) */
        tu_assert_ok(aios__mf_walk_path(&w, d, NULL));
        memset(&p, 0, sizeof(p));
        p.append = mt_path(d, "big");
        ho.progress = on_progress;
        ho.progress_payload = &p;
        tu_assert_status(aios__mf_hash(&r, w, &ho), AIOS__E_MANIFEST_CHANGED);
        ho.progress = NULL;
        aios__mf_walk_free(w);
        mt_write_pattern(d, "big", 8u << 20, 1);

        /* replaced (same size, another inode) */
        tu_assert_ok(aios__mf_walk_path(&w, d, NULL));
        mt_write_pattern(d, "small.new", 1000, 3);
        assert_int_equal(rename(mt_path(d, "small.new"), mt_path(d, "small")), 0);
        tu_assert_status(aios__mf_hash(&r, w, &ho), AIOS__E_MANIFEST_CHANGED);
        assert_non_null(strstr(aios_last_error_message(), "replaced"));
        aios__mf_walk_free(w);

        /* removed, or replaced by a symlink or a FIFO */
        tu_assert_ok(aios__mf_walk_path(&w, d, NULL));
        assert_int_equal(unlink(mt_path(d, "small")), 0);
        tu_assert_status(aios__mf_hash(&r, w, &ho), AIOS__E_MANIFEST_CHANGED);
        mt_symlink(d, "small", "big");
        tu_assert_status(aios__mf_hash(&r, w, &ho), AIOS__E_MANIFEST_CHANGED);
        assert_int_equal(unlink(mt_path(d, "small")), 0);
        assert_int_equal(mkfifo(mt_path(d, "small"), 0644), 0);
        tu_assert_status(aios__mf_hash(&r, w, &ho), AIOS__E_MANIFEST_CHANGED);
        assert_int_equal(unlink(mt_path(d, "small")), 0);
        aios__mf_walk_free(w);
        mt_write_pattern(d, "small", 1000, 2);
    }

    /* shards: a same-size write in place while the file's shards are
     * hashed, to a shard already done and to the last one, still to come
     * (read in one go on the shared descriptor: its after-read check is
     * what catches it) */
    ho.method = AIOS__MF_SHARDS;
    ho.shard_size = 1u << 20;
    ho.read_size = 256u << 10;
    {
        char *d3 = mt_tmpdir();
        mt_write_pattern(d3, "three", (2u << 20) + 1000, 4);
        tu_assert_ok(aios__mf_walk_path(&w, d3, NULL));
        memset(&p, 0, sizeof(p));
        p.overwrite = mt_path(d3, "three");
        p.overwrite_after = 2u << 20;   /* its first two shards (two lanes) are done */
        p.overwrite_at = 2u << 20;
        ho.progress = on_progress;
        ho.progress_payload = &p;
        tu_assert_status(aios__mf_hash(&r, w, &ho), AIOS__E_MANIFEST_CHANGED);
        assert_non_null(strstr(aios_last_error_message(), "'three'"));
        assert_null(p.overwrite);   /* the write happened */
        ho.progress = NULL;
        aios__mf_walk_free(w);
        mt_rmtree(d3);
    }

    /* a single-file model truncated after the walk */
    ho.method = AIOS__MF_FILES;
    tu_assert_ok(aios__mf_walk_path(&w, mt_path(d, "small"), NULL));
    assert_int_equal(truncate(mt_path(d, "small"), 999), 0);
    tu_assert_status(aios__mf_hash(&r, w, &ho), AIOS__E_MANIFEST_CHANGED);
    aios__mf_walk_free(w);
    mt_rmtree(d);
}

static int hash_status(void *arg)
{
    aios__mf_walk *w = NULL;
    aios__mf_result *r = NULL;
    aios__mf_hash_options ho = hopts(AIOS__MF_FILES, 2);
    int rc = aios__mf_walk_path(&w, arg, NULL);
    if (rc == AIOS_OK)
        rc = aios__mf_hash(&r, w, &ho);
    if (rc == AIOS_E_IO && (strstr(aios_last_error_message(), "'secret'") == NULL ||
                            strstr(aios_last_error_message(), "Permission denied") == NULL))
        rc = -1000;   /* the message must name the file and the reason */
    aios__mf_result_free(r);
    aios__mf_walk_free(w);
    return rc;
}

static void test_unreadable_file(void **state)
{
    char *d = mt_tmpdir();
    (void)state;
    mt_write_str(d, "ok", "ok");
    mt_write_str(d, "secret", "x");
    assert_int_equal(chmod(mt_path(d, "secret"), 0), 0);
    if (geteuid() == 0) {
        assert_int_equal(chmod(d, 0755), 0);
        assert_int_equal(mt_as_nobody(hash_status, d), AIOS_E_IO);
    } else {
        assert_int_equal(hash_status(d), AIOS_E_IO);
    }
    mt_rmtree(d);
}

static void test_arguments(void **state)
{
    char *d = mt_tmpdir();
    aios__mf_hash_options ho = hopts(AIOS__MF_FILES, AIOS__MF_THREADS_MAX + 1);
    aios__mf_walk *w = NULL;
    aios__mf_result *r = NULL;
    (void)state;
    tu_assert_ok(aios__mf_walk_path(&w, d, NULL));   /* an empty model: not an error here */
    assert_int_equal(w->n, 0);
    tu_assert_status(aios__mf_hash(&r, w, &ho), AIOS_E_INVALID_ARGUMENT);
    ho.threads = 1;
    ho.read_size = 4096;
    tu_assert_status(aios__mf_hash(&r, w, &ho), AIOS_E_INVALID_ARGUMENT);
    ho.read_size = 0;
    ho.hash_type = (aios__mf_hash_type)9;
    tu_assert_status(aios__mf_hash(&r, w, &ho), AIOS_E_INVALID_ARGUMENT);
    ho.hash_type = AIOS__MF_SHA256;
    ho.method = AIOS__MF_SHARDS;
    ho.shard_size = (UINT64_C(1) << 53) + 1;
    tu_assert_status(aios__mf_hash(&r, w, &ho), AIOS_E_INVALID_ARGUMENT);
    ho.shard_size = 0;
    tu_assert_status(aios__mf_hash(NULL, w, &ho), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__mf_hash(&r, NULL, &ho), AIOS_E_INVALID_ARGUMENT);
    /* no resources: the root is SHA-256 of nothing */
    tu_assert_ok(aios__mf_hash(&r, w, &ho));
    assert_int_equal(r->n, 0);
    assert_hex(r->root, 32, EMPTY);
    aios__mf_result_free(r);
    aios__mf_walk_free(w);
    mt_rmtree(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_folders),
        cmocka_unit_test(test_golden_single_file),
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_big_files_mode),
        cmocka_unit_test(test_shards),
        cmocka_unit_test(test_shard_orders),
        cmocka_unit_test(test_single_file_shards),
        cmocka_unit_test(test_symlinked_content),
        cmocka_unit_test(test_threads_identical),
        cmocka_unit_test_teardown(test_threads_few_descriptors, restore_nofile),
        cmocka_unit_test(test_progress_and_cancel),
        cmocka_unit_test(test_changed_files),
        cmocka_unit_test(test_unreadable_file),
        cmocka_unit_test(test_arguments),
    };
    if (aios_init() != AIOS_OK || getrlimit(RLIMIT_NOFILE, &g_nofile) != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
