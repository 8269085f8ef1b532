/*
 * Known-answer vectors for the manifest bundle writer (docs/MANIFEST.md
 * 12.4-12.6), tests/vectors/manifest-v1/: a fixed model, fixed signing
 * keys (PKCS#8 PEM, test material only) and the bundles libaios writes for
 * them.  The statement bytes are deterministic and local ECDSA keys sign
 * with RFC 6979 nonces (Ed25519 is deterministic anyway), so the same
 * model, key and options give the same bundle bytes.
 *
 * Checked: (1) every bundle is signed again from the committed model with
 * the committed key (imported into a temporary keyring) twice, and both
 * signatures equal the committed file byte for byte; (2) every committed
 * bundle verifies with the committed public key, its root digest is the
 * one vectors.json and the README list, and the committed model verifies
 * against it (aios_manifest_verify_dir); another key does not verify it;
 * (3) a tampered copy of the model fails.  The Python and Go tests check
 * the same files.
 *
 * AIOS_MANIFEST_WRITE_VECTORS=1 rewrites the bundles and vectors.json
 * (only after a deliberate change of the format or the model; the README's
 * root digests must then be updated by hand).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_keyring_util.h"
#include "test_manifest_util.h"
#include "aios/manifest.h"

#define VEC_DIR   AIOS_TEST_SOURCE_DIR "/tests/vectors/manifest-v1"
#define MODEL_DIR VEC_DIR "/model"
#define SUBJECT   "manifest-v1"
#define SHARD     ((uint64_t)1 << 20)

typedef struct vkey {
    const char *id;          /* key id in the keyring (and vectors.json) */
    const char *file;        /* keys/<file>.pem, keys/<file>-pub.pem */
    aios_key_type type;
} vkey;

static const vkey vkeys[] = {
    { "p256", "p256", AIOS_KEY_ECDSA_P256 },
    { "p384", "p384", AIOS_KEY_ECDSA_P384 },
    { "ed25519", "ed25519", AIOS_KEY_ED25519 },
};
#define NKEYS (sizeof(vkeys) / sizeof(vkeys[0]))

typedef struct vcase {
    const char *name;        /* <name>.sig */
    size_t key;              /* index in vkeys */
    aios_manifest_profile profile;
    aios_manifest_method method;
    uint64_t shard_size;
} vcase;

static const vcase vcases[] = {
    { "files-ms1-p256",    0, AIOS_MANIFEST_PROFILE_MODEL_SIGNING_1, AIOS_MANIFEST_FILES, 0 },
    { "files-ms1-p384",    1, AIOS_MANIFEST_PROFILE_MODEL_SIGNING_1, AIOS_MANIFEST_FILES, 0 },
    { "files-ms1-ed25519", 2, AIOS_MANIFEST_PROFILE_MODEL_SIGNING_1, AIOS_MANIFEST_FILES, 0 },
    { "files-oms-p256",    0, AIOS_MANIFEST_PROFILE_OMS_1_0,         AIOS_MANIFEST_FILES, 0 },
    { "shards-ms1-p256",   0, AIOS_MANIFEST_PROFILE_MODEL_SIGNING_1, AIOS_MANIFEST_SHARDS, SHARD },
};
#define NCASES (sizeof(vcases) / sizeof(vcases[0]))

/* The committed model's files (the tamper test copies them). */
static const char *const model_files[] = {
    "a-b", "a.b", "a/b", ("donn\xc3\xa9" "es/mod\xc3\xa8le.txt"), "empty", "sub dir/with space.txt",
    "tok.json", "tok/x", "weights/deep/nested/big.bin",
};
#define NFILES (sizeof(model_files) / sizeof(model_files[0]))

typedef struct fixture {
    char *kdir;
    aios_keyring *kr;
    aios_key *priv[NKEYS];
    aios_key *pub[NKEYS];
} fixture;

static int writing_vectors(void)
{
    const char *e = getenv("AIOS_MANIFEST_WRITE_VECTORS");
    return e && strcmp(e, "1") == 0;
}

static const char *vec_path(const char *rel)
{
    static char buf[2][4096];
    static int k;
    char *b = buf[k++ & 1];
    snprintf(b, sizeof(buf[0]), "%s/%s", VEC_DIR, rel);
    return b;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    aios_keyring_options o = kt_raw();
    char rel[256];
    assert_non_null(f);
    f->kdir = kt_tmpdir();
    tu_assert_ok(aios_keyring_create(&f->kr, kt_path(f->kdir, "k.aioskr", 0), &o));
    for (size_t i = 0; i < NKEYS; i++) {
        size_t n;
        char *pem;
        snprintf(rel, sizeof(rel), "keys/%s.pem", vkeys[i].file);
        pem = tu_read_file(vec_path(rel), &n);
        tu_assert_ok(aios_keyring_import(f->kr, &f->priv[i], vkeys[i].id, vkeys[i].type,
                                         (const uint8_t *)pem, n, NULL));
        free(pem);
        snprintf(rel, sizeof(rel), "keys/%s-pub.pem", vkeys[i].file);
        pem = tu_read_file(vec_path(rel), &n);
        tu_assert_ok(aios_key_from_public_pem(&f->pub[i], vkeys[i].id, pem, n));
        assert_int_equal(aios_key_get_type(f->pub[i]), vkeys[i].type);
        free(pem);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    for (size_t i = 0; i < NKEYS; i++) {
        aios_key_unref(f->priv[i]);
        aios_key_unref(f->pub[i]);
    }
    aios_keyring_free(f->kr);
    kt_rmtree(f->kdir);
    free(f);
    return 0;
}

static aios_manifest_sign_options sign_opts(const vcase *c)
{
    aios_manifest_sign_options so = AIOS_MANIFEST_SIGN_OPTIONS_INIT;
    so.profile = c->profile;
    so.method = c->method;
    so.shard_size = c->shard_size;
    so.subject_name = SUBJECT;
    return so;
}

static aios_manifest_verify_options verify_opts(const vcase *c)
{
    aios_manifest_verify_options vo = AIOS_MANIFEST_VERIFY_OPTIONS_INIT;
    vo.profile = c->profile;
    return vo;
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

static json_t *case_json(const vcase *c, const aios_manifest *m)
{
    uint8_t d[32];
    char hex[65];
    json_t *o = json_object(), *res = json_array();
    assert_non_null(o);
    assert_non_null(res);
    assert_int_equal(json_object_set_new(o, "name", json_string(c->name)), 0);
    assert_int_equal(json_object_set_new(o, "bundle", json_sprintf("%s.sig", c->name)), 0);
    assert_int_equal(json_object_set_new(o, "key_id", json_string(vkeys[c->key].id)), 0);
    assert_int_equal(json_object_set_new(o, "private_key",
                                         json_sprintf("keys/%s.pem", vkeys[c->key].file)), 0);
    assert_int_equal(json_object_set_new(o, "public_key",
                                         json_sprintf("keys/%s-pub.pem", vkeys[c->key].file)), 0);
    assert_int_equal(json_object_set_new(o, "profile", json_string(
        c->profile == AIOS_MANIFEST_PROFILE_OMS_1_0 ? "oms-1.0" : "model-signing-1")), 0);
    assert_int_equal(json_object_set_new(o, "method", json_string(
        c->method == AIOS_MANIFEST_SHARDS ? "shards" : "files")), 0);
    assert_int_equal(json_object_set_new(o, "shard_size", json_integer((json_int_t)c->shard_size)),
                     0);
    assert_int_equal(json_object_set_new(o, "hash_type", json_string("sha256")), 0);
    assert_int_equal(json_object_set_new(o, "subject_name", json_string(SUBJECT)), 0);
    tu_assert_ok(aios_manifest_root_digest(m, d));
    mt_hex(hex, d, 32);
    assert_int_equal(json_object_set_new(o, "root_digest", json_string(hex)), 0);
    tu_assert_ok(aios_manifest_statement_digest(m, d));
    mt_hex(hex, d, 32);
    assert_int_equal(json_object_set_new(o, "statement_digest", json_string(hex)), 0);
    for (size_t i = 0; i < aios_manifest_resource_count(m); i++) {
        const char *name;
        tu_assert_ok(aios_manifest_resource_at(m, i, &name, NULL, NULL, NULL, NULL));
        assert_int_equal(json_array_append_new(res, json_string(name)), 0);
    }
    assert_int_equal(json_object_set_new(o, "resources", res), 0);
    return o;
}

static json_t *load_vectors(void)
{
    json_error_t err;
    json_t *root = json_load_file(vec_path("vectors.json"), 0, &err);
    if (root == NULL)
        fail_msg("vectors.json: %s (line %d)", err.text, err.line);
    assert_true(json_is_array(json_object_get(root, "cases")));
    assert_int_equal(json_array_size(json_object_get(root, "cases")), NCASES);
    return root;
}

/* (1) Sign every case twice; both bundles are the committed bytes. */
static void test_resign(void **state)
{
    fixture *f = *state;
    json_t *all = writing_vectors() ? json_array() : NULL;
    for (size_t i = 0; i < NCASES; i++) {
        const vcase *c = &vcases[i];
        aios_manifest_sign_options so = sign_opts(c);
        aios_buffer *b1 = NULL, *b2 = NULL;
        aios_manifest *m = NULL;
        char rel[256];
        snprintf(rel, sizeof(rel), "%s.sig", c->name);
        tu_assert_ok(aios_manifest_sign(&b1, &m, MODEL_DIR, f->priv[c->key], &so));
        tu_assert_ok(aios_manifest_sign(&b2, NULL, MODEL_DIR, f->priv[c->key], &so));
        if (aios_buffer_len(b1) != aios_buffer_len(b2) ||
            memcmp(aios_buffer_data(b1), aios_buffer_data(b2), aios_buffer_len(b1)) != 0)
            fail_msg("%s: two signatures of the same model differ (not deterministic)", c->name);
        if (all) {
            write_bytes(vec_path(rel), aios_buffer_data(b1), aios_buffer_len(b1));
            assert_int_equal(json_array_append_new(all, case_json(c, m)), 0);
        } else {
            size_t n;
            char *want = tu_read_file(vec_path(rel), &n);
            if (n != aios_buffer_len(b1) || memcmp(want, aios_buffer_data(b1), n) != 0)
                fail_msg("%s.sig is not what the committed model and key give "
                         "(AIOS_MANIFEST_WRITE_VECTORS=1 rewrites it after a deliberate change)",
                         c->name);
            free(want);
        }
        aios_manifest_unref(m);
        aios_buffer_free(b1);
        aios_buffer_free(b2);
    }
    if (all) {
        json_t *root = json_pack("{s:i,s:s,s:o}", "manifest_vectors", 1, "model", "model",
                                 "cases", all);
        assert_non_null(root);
        assert_int_equal(json_dump_file(root, vec_path("vectors.json"),
                                        JSON_INDENT(2) | JSON_PRESERVE_ORDER), 0);
        json_decref(root);
        print_message("wrote %zu bundles and vectors.json in %s\n", NCASES, VEC_DIR);
    }
}

/* (2) Every committed bundle verifies with its public key, names what
 * vectors.json says, and the committed model matches it. */
static void test_verify_committed(void **state)
{
    fixture *f = *state;
    json_t *root = load_vectors();
    size_t readme_len;
    char *readme = tu_read_file(vec_path("README.md"), &readme_len);
    for (size_t i = 0; i < NCASES; i++) {
        const vcase *c = &vcases[i];
        json_t *jc = json_array_get(json_object_get(root, "cases"), i), *res;
        aios_manifest_verify_options vo = verify_opts(c);
        aios_manifest *m = NULL, *other = NULL;
        aios_manifest_diff *d = NULL;
        uint8_t digest[32];
        char rel[256], hex[65];
        size_t n, nres, k;
        uint8_t *bundle;
        int has_empty = 0;

        assert_string_equal(tu_str(jc, "name"), c->name);
        assert_string_equal(tu_str(jc, "key_id"), vkeys[c->key].id);
        snprintf(rel, sizeof(rel), "%s.sig", c->name);
        bundle = (uint8_t *)tu_read_file(vec_path(rel), &n);
        tu_assert_ok(aios_manifest_verify_key(&m, bundle, n, f->pub[c->key], &vo));
        assert_true(aios_manifest_is_verified(m));
        assert_int_equal(aios_manifest_get_method(m), c->method);
        assert_int_equal(aios_manifest_shard_size(m), c->shard_size);
        assert_string_equal(aios_manifest_subject_name(m), SUBJECT);
        assert_string_equal(aios_manifest_hash_type(m), "sha256");
        tu_assert_ok(aios_manifest_root_digest(m, digest));
        mt_hex(hex, digest, 32);
        assert_string_equal(hex, tu_str(jc, "root_digest"));
        if (strstr(readme, hex) == NULL)
            fail_msg("README.md does not list %s's root digest %s", c->name, hex);
        tu_assert_ok(aios_manifest_statement_digest(m, digest));
        mt_hex(hex, digest, 32);
        assert_string_equal(hex, tu_str(jc, "statement_digest"));
        res = json_object_get(jc, "resources");
        nres = aios_manifest_resource_count(m);
        assert_int_equal(json_array_size(res), nres);
        for (k = 0; k < nres; k++) {
            const char *name;
            tu_assert_ok(aios_manifest_resource_at(m, k, &name, NULL, NULL, NULL, NULL));
            assert_string_equal(name, json_string_value(json_array_get(res, k)));
            has_empty |= strcmp(name, "empty") == 0;
        }
        /* Files: one resource per file, the empty one too; shards: the
         * empty file has none, big.bin two. */
        if (c->method == AIOS_MANIFEST_FILES) {
            assert_int_equal(nres, NFILES);
            assert_true(has_empty);
        } else {
            assert_int_equal(nres, NFILES);       /* 9 files - empty + 1 extra shard */
            assert_false(has_empty);
        }

        tu_assert_ok(aios_manifest_verify_dir(m, MODEL_DIR, &d, &vo));
        for (k = 0; k < aios_manifest_diff_count(d); k++) {
            aios_manifest_change kind;
            const char *p;
            tu_assert_ok(aios_manifest_diff_at(d, k, &kind, &p, NULL));
            /* Only the shards' unnamed empty file may be reported. */
            assert_int_equal(kind, AIOS_MANIFEST_EXTRA_EMPTY);
            assert_string_equal(p, "empty");
            assert_int_equal(c->method, AIOS_MANIFEST_SHARDS);
        }
        aios_manifest_diff_free(d);

        /* Another key does not verify it. */
        assert_int_not_equal(aios_manifest_verify_key(&other, bundle, n,
                                                      f->pub[(c->key + 1) % NKEYS], &vo), AIOS_OK);
        assert_null(other);
        /* A changed byte of the signed payload does not verify. */
        {
            char *p = strstr((char *)bundle, "\"payload\":\"");
            assert_non_null(p);
            p += 11 + 20;
            *p = (char)(*p == 'A' ? 'B' : 'A');
            assert_int_not_equal(aios_manifest_verify_key(&other, bundle, n, f->pub[c->key], &vo),
                                 AIOS_OK);
            assert_null(other);
        }
        aios_manifest_unref(m);
        free(bundle);
    }
    free(readme);
    json_decref(root);
}

/* A copy of the committed model in a temporary folder. */
static char *copy_model(void)
{
    char *dir = mt_tmpdir(), src[4096];
    for (size_t i = 0; i < NFILES; i++) {
        size_t n;
        char *data;
        snprintf(src, sizeof(src), "%s/%s", MODEL_DIR, model_files[i]);
        data = tu_read_file(src, &n);
        mt_write(dir, model_files[i], data, n);
        free(data);
    }
    return dir;
}

static aios_manifest *verified(fixture *f, const vcase *c)
{
    aios_manifest_verify_options vo = verify_opts(c);
    aios_manifest *m = NULL;
    char rel[256];
    size_t n;
    uint8_t *bundle;
    snprintf(rel, sizeof(rel), "%s.sig", c->name);
    bundle = (uint8_t *)tu_read_file(vec_path(rel), &n);
    tu_assert_ok(aios_manifest_verify_key(&m, bundle, n, f->pub[c->key], &vo));
    free(bundle);
    return m;
}

static void expect_one(const aios_manifest *m, const char *dir, const aios_manifest_verify_options *vo,
                       aios_manifest_change kind, const char *path, uint64_t first_bad)
{
    aios_manifest_diff *d = NULL;
    aios_manifest_change k;
    const char *p;
    uint64_t off;
    size_t i, seen = 0;
    tu_assert_status(aios_manifest_verify_dir(m, dir, &d, vo), AIOS_E_MANIFEST_MISMATCH);
    for (i = 0; i < aios_manifest_diff_count(d); i++) {
        tu_assert_ok(aios_manifest_diff_at(d, i, &k, &p, &off));
        if (k == AIOS_MANIFEST_EXTRA_EMPTY) {       /* shards: the unnamed empty file */
            assert_string_equal(p, "empty");
            continue;
        }
        assert_int_equal(k, kind);
        assert_string_equal(p, path);
        assert_int_equal(off, first_bad);
        seen++;
    }
    assert_int_equal(seen, 1);
    aios_manifest_diff_free(d);
}

/* (3) A tampered copy of the model fails (files and shards). */
static void test_tampered(void **state)
{
    fixture *f = *state;
    const vcase *files = &vcases[0], *shards = &vcases[4];
    aios_manifest *mf = verified(f, files), *ms = verified(f, shards);
    aios_manifest_verify_options vf = verify_opts(files), vs = verify_opts(shards);
    char *dir = copy_model();
    size_t n;
    char *data;

    /* The copy is the model (the file list above is complete). */
    tu_assert_ok(aios_manifest_verify_dir(mf, dir, NULL, &vf));
    tu_assert_ok(aios_manifest_verify_dir(ms, dir, NULL, &vs));

    /* One byte of tok.json. */
    data = tu_read_file(mt_path(dir, "tok.json"), &n);
    data[n / 2] ^= 1;
    mt_write(dir, "tok.json", data, n);
    expect_one(mf, dir, &vf, AIOS_MANIFEST_MODIFIED, "tok.json", 0);
    expect_one(ms, dir, &vs, AIOS_MANIFEST_MODIFIED, "tok.json", 0);
    data[n / 2] ^= 1;
    mt_write(dir, "tok.json", data, n);
    free(data);

    /* One byte in big.bin's second shard. */
    data = tu_read_file(mt_path(dir, "weights/deep/nested/big.bin"), &n);
    data[SHARD + 7] ^= 0x80;
    mt_write(dir, "weights/deep/nested/big.bin", data, n);
    expect_one(mf, dir, &vf, AIOS_MANIFEST_MODIFIED, "weights/deep/nested/big.bin", 0);
    expect_one(ms, dir, &vs, AIOS_MANIFEST_MODIFIED, "weights/deep/nested/big.bin", SHARD);
    data[SHARD + 7] ^= 0x80;
    mt_write(dir, "weights/deep/nested/big.bin", data, n);
    free(data);

    /* The empty file given a byte: files method only sees it changed;
     * for shards it is now an extra file. */
    mt_write_str(dir, "empty", "x");
    expect_one(mf, dir, &vf, AIOS_MANIFEST_MODIFIED, "empty", 0);
    expect_one(ms, dir, &vs, AIOS_MANIFEST_EXTRA, "empty", 0);
    mt_write(dir, "empty", "", 0);

    /* a/b removed (a-b and a.b stay). */
    assert_int_equal(unlink(mt_path(dir, "a/b")), 0);
    expect_one(mf, dir, &vf, AIOS_MANIFEST_MISSING, "a/b", 0);
    expect_one(ms, dir, &vs, AIOS_MANIFEST_MISSING, "a/b", 0);
    mt_write_str(dir, "a/b", "a/b\n");
    tu_assert_ok(aios_manifest_verify_dir(mf, dir, NULL, &vf));

    /* An extra file. */
    mt_write_str(dir, "tok/y", "y\n");
    expect_one(mf, dir, &vf, AIOS_MANIFEST_EXTRA, "tok/y", 0);

    mt_rmtree(dir);
    aios_manifest_unref(mf);
    aios_manifest_unref(ms);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_resign, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_committed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered, setup, teardown),
    };
    if (aios_init() != AIOS_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
