/*
 * Conformance with every bundle a released model_signing version made
 * (../shared/vectors/oms/model-transparency, docs/MANIFEST_VECTORS.md 2):
 * through the public API, each verifies with the right key or trust root,
 * its model folder (copied to a scratch directory) verifies clean, and a
 * modified, added or removed file fails with the diff naming it.  Sigstore
 * keyless bundles open unverified, their content compares, and the key
 * and certificate methods refuse them; aios_manifest_verify_sigstore is
 * held to its refusals here (trusted roots made up by the test) and
 * verifies them with Sigstore's real trusted root in tests/interop.
 */
#include "test_keyring_util.h"
#include "test_manifest_util.h"
#include "crypto/crypto.h"
#include "manifest/bundle.h"
#include <dirent.h>

#include "aios/manifest.h"

#define MT AIOS_TEST_VECTORS "/oms/model-transparency"

typedef enum { KEY, CERT, SIGSTORE } method;

typedef struct golden {
    const char *dir;
    method      m;
    int         single;      /* the model is the file signme-1 */
    int         ignore_me;   /* ignore-me on disk, not recorded in the bundle */
    const char *root;
} golden;

#define R2 "61d4849d9d90076d6215f4d525f13d6574af8e3f67aef3e6f36fc40a14fdd226"
#define R1N "afa48c8674afe334b8a7dea34f7b46ab256e9255edf8da2132792341b667a45b"
#define R1N2 "92745110b1ab4368471cbe31664e10174e954b113a3df333db860317b2c6dec4"

static const golden G[] = {
    { "v0.2.0-certificate", CERT, 0, 0, R2 },
    { "v0.3.1-certificate", CERT, 0, 0, R2 },
    { "v0.3.1-elliptic-key", KEY, 1, 0, R1N },
    { "v0.3.1-sigstore", SIGSTORE, 0, 0, R2 },
    { "v1.0.0-certificate", CERT, 0, 0, R2 },
    { "v1.0.0-elliptic-key", KEY, 1, 0, R1N },
    { "v1.0.0-sigstore", SIGSTORE, 0, 0, R2 },
    { "v1.0.1-certificate", CERT, 0, 1, R2 },
    { "v1.0.1-elliptic-key", KEY, 0, 1, R1N2 },
    { "v1.0.1-sigstore", SIGSTORE, 0, 1, R2 },
    { "v1.1.0-certificate", CERT, 0, 0, R2 },
    { "v1.1.0-elliptic-key", KEY, 0, 0, R1N2 },
    { "v1.1.0-sigstore", SIGSTORE, 0, 0, R2 },
};

static void copy_file(const char *from, const char *to)
{
    size_t n;
    char *b = tu_read_file(from, &n);
    int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    if (n)
        assert_int_equal(write(fd, b, n), (ssize_t)n);
    close(fd);
    free(b);
}

/* The golden folder copied to a scratch directory (malloc'd path). */
static char *copy_golden(const char *dir)
{
    static const char *const names[] = { "signme-1", "signme-2", "ignore-me", "model.sig" };
    char *tmp = mt_tmpdir(), from[4096], to[4096];
    for (size_t i = 0; i < 4; i++) {
        struct stat st;
        snprintf(from, sizeof(from), "%s/%s/%s", MT, dir, names[i]);
        if (stat(from, &st) != 0)
            continue;
        snprintf(to, sizeof(to), "%s/%s", tmp, names[i]);
        copy_file(from, to);
    }
    return tmp;
}

static aios_key *golden_key(void)
{
    size_t n;
    char *f = tu_read_file(MT "/keys/certificate/signing-key-pub.pem", &n);
    aios_key *k = NULL;
    /* The file starts with certtool's text dump: RFC 7468 allows text
     * before the BEGIN line, and the whole file must load. */
    assert_true(strncmp(f, "-----BEGIN", 10) != 0);
    tu_assert_ok(aios_key_from_public_pem(&k, "golden", f, n));
    /* text alone is no key */
    {
        aios_key *none = NULL;
        const char *end = strstr(f, "-----BEGIN");
        tu_assert_status(aios_key_from_public_pem(&none, "x", f, (size_t)(end - f)), AIOS_E_FORMAT);
    }
    free(f);
    return k;
}

static int trust(const golden *g, aios_manifest **m, const aios_buffer *b, const aios_key *k,
                 const uint8_t *ca, size_t ca_len)
{
    switch (g->m) {
    case KEY:
        return aios_manifest_verify_key(m, aios_buffer_data(b), aios_buffer_len(b), k, NULL);
    case CERT:
        return aios_manifest_verify_certificate(m, aios_buffer_data(b), aios_buffer_len(b), &ca,
                                                &ca_len, 1, NULL);
    default:
        return aios_manifest_open(m, aios_buffer_data(b), aios_buffer_len(b), NULL);
    }
}

static int content(const golden *g, const aios_manifest *m, const char *model, const char *sig,
                   aios_manifest_diff **d)
{
    static const char *const ig[] = { "ignore-me" };
    aios_manifest_verify_options o = AIOS_MANIFEST_VERIFY_OPTIONS_INIT;
    o.bundle_path = sig;
    if (g->ignore_me) {
        o.hash.ignore_paths = ig;
        o.hash.ignore_paths_len = 1;
    }
    *d = NULL;
    return g->m == SIGSTORE ? aios_manifest_compare_dir(m, model, d, &o)
                            : aios_manifest_verify_dir(m, model, d, &o);
}

static void expect_one(const aios_manifest_diff *d, aios_manifest_change kind, const char *path)
{
    aios_manifest_change k;
    const char *p;
    assert_int_equal(aios_manifest_diff_count(d), 1);
    tu_assert_ok(aios_manifest_diff_at(d, 0, &k, &p, NULL));
    assert_int_equal(k, kind);
    assert_string_equal(p, path);
}

static void test_every_golden_bundle(void **state)
{
    aios_key *k = golden_key();
    size_t ca_len;
    char *ca = tu_read_file(MT "/keys/certificate/ca-cert.pem", &ca_len);
    (void)state;

    for (size_t i = 0; i < sizeof(G) / sizeof(G[0]); i++) {
        const golden *g = &G[i];
        char *tmp = copy_golden(g->dir), sig[4096], model[4096], hex[65];
        aios_buffer *b = NULL;
        aios_manifest *m = NULL;
        aios_manifest_diff *d = NULL;
        uint8_t root[32];

        print_message("%s\n", g->dir);
        snprintf(sig, sizeof(sig), "%s/model.sig", tmp);
        snprintf(model, sizeof(model), "%s%s", tmp, g->single ? "/signme-1" : "");
        tu_assert_ok(aios_manifest_read_bundle(&b, sig, NULL));
        tu_assert_ok(trust(g, &m, b, k, (const uint8_t *)ca, ca_len));
        assert_int_equal(aios_manifest_is_verified(m), g->m != SIGSTORE);
        tu_assert_ok(aios_manifest_root_digest(m, root));
        mt_hex(hex, root, 32);
        assert_string_equal(hex, g->root);
        if (g->m == SIGSTORE) {
            aios_manifest *v = NULL;
            assert_true(aios_manifest_flags(m) & AIOS_MANIFEST_F_KEYLESS);
            tu_assert_status(aios_manifest_verify_key(&v, aios_buffer_data(b), aios_buffer_len(b),
                                                      k, NULL), AIOS_E_MANIFEST_METHOD);
            tu_assert_status(aios_manifest_verify_dir(m, model, NULL, NULL),
                             AIOS_E_MANIFEST_UNVERIFIED);
        } else {
            /* the other method is refused */
            aios_manifest *v = NULL;
            const uint8_t *a = (const uint8_t *)ca;
            if (g->m == KEY)
                tu_assert_status(aios_manifest_verify_certificate(&v, aios_buffer_data(b),
                                                                  aios_buffer_len(b), &a, &ca_len,
                                                                  1, NULL),
                                 AIOS_E_MANIFEST_METHOD);
            else
                tu_assert_status(aios_manifest_verify_key(&v, aios_buffer_data(b),
                                                          aios_buffer_len(b), k, NULL),
                                 AIOS_E_MANIFEST_METHOD);
        }
        /* the folder as signed */
        tu_assert_ok(content(g, m, model, sig, &d));
        assert_int_equal(aios_manifest_diff_count(d), 0);
        aios_manifest_diff_free(d);
        /* modified */
        mt_write_str(tmp, "signme-1", "signme-X\n");
        tu_assert_status(content(g, m, model, sig, &d), AIOS_E_MANIFEST_MISMATCH);
        expect_one(d, AIOS_MANIFEST_MODIFIED, g->single ? "." : "signme-1");
        aios_manifest_diff_free(d);
        if (!g->single) {
            char from[4096];
            snprintf(from, sizeof(from), "%s/%s/signme-1", MT, g->dir);
            copy_file(from, mt_path(tmp, "signme-1"));
            /* added */
            mt_write_str(tmp, "added", "x");
            tu_assert_status(content(g, m, model, sig, &d), AIOS_E_MANIFEST_MISMATCH);
            expect_one(d, AIOS_MANIFEST_EXTRA, "added");
            aios_manifest_diff_free(d);
            assert_int_equal(unlink(mt_path(tmp, "added")), 0);
            /* removed */
            assert_int_equal(unlink(mt_path(tmp, "signme-2")), 0);
            tu_assert_status(content(g, m, model, sig, &d), AIOS_E_MANIFEST_MISMATCH);
            expect_one(d, AIOS_MANIFEST_MISSING, "signme-2");
            aios_manifest_diff_free(d);
        } else {
            /* removed: the model itself is gone */
            assert_int_equal(unlink(mt_path(tmp, "signme-1")), 0);
            tu_assert_status(content(g, m, model, sig, &d), AIOS_E_NOT_FOUND);
            assert_null(d);
        }
        aios_manifest_unref(m);
        aios_buffer_free(b);
        free(tmp);
    }
    free(ca);
    aios_key_unref(k);
}

/* The spec's bundles: valid ones open, invalid ones are refused. */
static void test_spec_bundles(void **state)
{
    static const char *const sub[] = { "valid", "invalid", "invalid-payload" };
    (void)state;
    for (size_t s = 0; s < 3; s++) {
        char dir[4096];
        DIR *dp;
        struct dirent *de;
        size_t seen = 0;
        snprintf(dir, sizeof(dir), "%s/oms/oms-spec/v1.0/%s", AIOS_TEST_VECTORS, sub[s]);
        dp = opendir(dir);
        assert_non_null(dp);
        while ((de = readdir(dp)) != NULL) {
            char path[8192];
            aios_buffer *b = NULL;
            aios_manifest *m = NULL;
            int rc;
            if (strstr(de->d_name, ".json") == NULL)
                continue;
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
            print_message("%s/%s\n", sub[s], de->d_name);
            rc = aios_manifest_read_bundle(&b, path, NULL);
            if (rc == AIOS_OK)
                rc = aios_manifest_open(&m, aios_buffer_data(b), aios_buffer_len(b), NULL);
            if (s == 0)
                tu_assert_ok(rc);
            else
                assert_int_not_equal(rc, AIOS_OK);
            aios_manifest_unref(m);
            aios_buffer_free(b);
            seen++;
        }
        closedir(dp);
        assert_true(seen > 0);
    }
}

/* The base64 body of a PEM file (one block), newlines removed. */
static char *pem_body(const char *path)
{
    size_t n, i, o = 0;
    char *f = tu_read_file(path, &n), *out = malloc(n + 1);
    const char *p = strstr(f, "-----\n"), *e = strstr(f, "\n-----END");
    assert_non_null(p);
    assert_non_null(e);
    for (i = (size_t)(p + 6 - f); f + i < e; i++)
        if (f[i] != '\n' && f[i] != '\r')
            out[o++] = f[i];
    out[o] = 0;
    free(f);
    return out;
}

/* A Sigstore trusted root made up from the test CA and the test P-384 key
 * as a log key with log id key_id_b64. */
static char *made_up_root(const char *key_id_b64, const char *ca_start)
{
    char *ca = pem_body(MT "/keys/certificate/ca-cert.pem");
    char *key = pem_body(MT "/keys/certificate/signing-key-pub.pem");
    size_t n = strlen(ca) + strlen(key) + 1024;
    char *j = malloc(n);
    snprintf(j, n,
             "{\"mediaType\":\"application/vnd.dev.sigstore.trustedroot+json;version=0.1\","
             "\"tlogs\":[{\"baseUrl\":\"https://log.example\",\"hashAlgorithm\":\"SHA2_256\","
             "\"publicKey\":{\"rawBytes\":\"%s\",\"keyDetails\":\"PKIX_ECDSA_P384_SHA_384\","
             "\"validFor\":{\"start\":\"2021-01-12T11:53:27Z\"}},\"logId\":{\"keyId\":\"%s\"}}],"
             "\"certificateAuthorities\":[{\"certChain\":{\"certificates\":[{\"rawBytes\":\"%s\"}]},"
             "\"validFor\":{\"start\":\"%s\"}}]}",
             key, key_id_b64, ca, ca_start);
    free(ca);
    free(key);
    return j;
}

static int sig_verify(const aios_buffer *b, const char *root, const char *id, const char *iss)
{
    aios_manifest *m = NULL;
    int rc = aios_manifest_verify_sigstore(&m, aios_buffer_data(b), aios_buffer_len(b),
                                           (const uint8_t *)root, root ? strlen(root) : 0, id,
                                           iss, NULL);
    assert_true(rc != AIOS_OK || m != NULL);
    if (rc != AIOS_OK)
        assert_null(m);
    aios_manifest_unref(m);
    return rc;
}

/* aios_manifest_verify_sigstore's refusals, without Sigstore's real root. */
static void test_sigstore_refusals(void **state)
{
    static const char id[] = "stefanb@us.ibm.com", iss[] = "https://sigstore.verify.ibm.com/oauth2";
    static const char rekor[] = "wNI9atQGlz+VWfO6LRygH4QUfY/8W4RFwiT5i5WRgB0=";
    aios_buffer *b = NULL, *kb = NULL;
    char *other = made_up_root("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "2021-03-07T03:20:29Z");
    char *same_id = made_up_root(rekor, "2021-03-07T03:20:29.000+01:00");
    char *bad_time = made_up_root(rekor, "2021-13-07T03:20:29Z");
    (void)state;

    tu_assert_ok(aios_manifest_read_bundle(&b, MT "/v1.1.0-sigstore/model.sig", NULL));
    tu_assert_ok(aios_manifest_read_bundle(&kb, MT "/v1.1.0-elliptic-key/model.sig", NULL));
    /* arguments */
    tu_assert_status(sig_verify(b, other, NULL, iss), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(sig_verify(b, other, id, ""), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(sig_verify(b, NULL, id, iss), AIOS_E_INVALID_ARGUMENT);
    /* the trusted root */
    tu_assert_status(sig_verify(b, "not json", id, iss), AIOS_E_FORMAT);
    tu_assert_status(sig_verify(b, "{}", id, iss), AIOS_E_FORMAT);
    tu_assert_status(sig_verify(b, "{\"mediaType\":\"application/vnd.dev.sigstore.trustedroot"
                                   "+json;version=0.1\",\"tlogs\":[],\"certificateAuthorities\":[]}",
                                id, iss), AIOS_E_FORMAT);
    tu_assert_status(sig_verify(b, bad_time, id, iss), AIOS_E_FORMAT);
    assert_non_null(strstr(aios_last_error_message(), "validFor.start"));
    /* not a keyless bundle */
    tu_assert_status(sig_verify(kb, other, id, iss), AIOS_E_MANIFEST_METHOD);
    /* a log the root does not hold; the right log id with another key */
    tu_assert_status(sig_verify(b, other, id, iss), AIOS_E_AUTH);
    assert_non_null(strstr(aios_last_error_message(), "not one of the trusted root's"));
    tu_assert_status(sig_verify(b, same_id, id, iss), AIOS_E_AUTH);
    assert_non_null(strstr(aios_last_error_message(), "signed entry timestamp"));
    aios_buffer_free(b);
    aios_buffer_free(kb);
    free(other);
    free(same_id);
    free(bad_time);
}

/* RFC 9162 reference: MTH over leaf hashes lh[0..n), and PATH(m, D[n]). */
static void ref_node(uint8_t out[32], const uint8_t l[32], const uint8_t r[32])
{
    uint8_t b[65];
    b[0] = 1;
    memcpy(b + 1, l, 32);
    memcpy(b + 33, r, 32);
    aios__sha256(out, b, sizeof(b));
}

static void ref_mth(uint8_t out[32], uint8_t (*lh)[32], size_t n)
{
    size_t k = 1;
    uint8_t a[32], b[32];
    if (n == 1) {
        memcpy(out, lh[0], 32);
        return;
    }
    while (k * 2 < n)
        k *= 2;
    ref_mth(a, lh, k);
    ref_mth(b, lh + k, n - k);
    ref_node(out, a, b);
}

static size_t ref_path(uint8_t (*out)[32], size_t m, uint8_t (*lh)[32], size_t n)
{
    size_t k = 1, c;
    if (n == 1)
        return 0;
    while (k * 2 < n)
        k *= 2;
    if (m < k) {
        c = ref_path(out, m, lh, k);
        ref_mth(out[c], lh + k, n - k);
    } else {
        c = ref_path(out, m - k, lh + k, n - k);
        ref_mth(out[c], lh, k);
    }
    return c + 1;
}

/* The inclusion-proof check against the reference for every index of
 * trees of 1..40 leaves, and proofs cut, lengthened or moved. */
static void test_merkle_inclusion(void **state)
{
    uint8_t lh[40][32], path[16][32], root[32], got[32];
    size_t size, i, n;
    (void)state;
    for (i = 0; i < 40; i++) {
        uint8_t b[2] = { 0, (uint8_t)i };
        aios__sha256(lh[i], b, sizeof(b));
    }
    for (size = 1; size <= 40; size++) {
        ref_mth(root, lh, size);
        for (i = 0; i < size; i++) {
            n = ref_path(path, i, lh, size);
            assert_true(aios__mb_merkle_root(got, lh[i], i, size, (const uint8_t (*)[32])path, n));
            assert_memory_equal(got, root, 32);
            if (n > 0)   /* one hash short */
                assert_true(!aios__mb_merkle_root(got, lh[i], i, size,
                                                  (const uint8_t (*)[32])path, n - 1) ||
                            memcmp(got, root, 32) != 0);
            memcpy(path[n], lh[0], 32);   /* one too many */
            assert_false(aios__mb_merkle_root(got, lh[i], i, size,
                                              (const uint8_t (*)[32])path, n + 1));
            if (i + 1 < size)   /* another index */
                assert_true(!aios__mb_merkle_root(got, lh[i], i + 1, size,
                                                  (const uint8_t (*)[32])path, n) ||
                            memcmp(got, root, 32) != 0);
        }
        assert_false(aios__mb_merkle_root(got, lh[0], size, size, (const uint8_t (*)[32])path, 0));
    }
    assert_false(aios__mb_merkle_root(got, lh[0], 0, 0, (const uint8_t (*)[32])path, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_golden_bundle),
        cmocka_unit_test(test_spec_bundles),
        cmocka_unit_test(test_sigstore_refusals),
        cmocka_unit_test(test_merkle_inclusion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
