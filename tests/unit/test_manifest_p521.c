/*
 * ECDSA P-521 manifests, verify-only (docs/MANIFEST.md 4.1, 4.2): bundles
 * that the real `model_signing` 1.1.1 signed with a P-521 key (the key
 * method, and the certificate method with a P-521 leaf under a P-521 CA),
 * committed in tests/vectors/manifest-p521 with the model they sign (its
 * README has the commands).  libaios cannot sign with P-521, so the
 * fixtures come from the tool.
 *
 * Checked: both bundles verify and their statements match the committed
 * model files (aios_manifest_verify_dir); a changed model file, a changed
 * signature or payload, another P-521 key, a P-384 key all fail with the
 * right status; signing with a P-521 key is refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test_keyring_util.h"
#include "crypto/crypto.h"
#include "manifest/bundle.h"

#define FIX AIOS_TEST_SOURCE_DIR "/tests/vectors/manifest-p521"

static const char *const model_files[] = { "config.json", "weights.bin", "sub/tokenizer.txt" };

static aios_key *p521_key(void)
{
    size_t n;
    char *pem = tu_read_file(FIX "/signing-key-pub.pem", &n);
    aios_key *k = NULL;
    tu_assert_ok(aios_key_from_public_pem(&k, "p521-signer", pem, n));
    assert_int_equal(aios_key_get_type(k), AIOS_KEY_ECDSA_P521);
    free(pem);
    return k;
}

/* A fresh public key of a curve (the seam can make P-521 key pairs). */
static aios_key *fresh_public(aios__ec_curve c, aios__keyenc_alg alg)
{
    uint8_t sk[AIOS__EC_SCALAR_MAX], pk[AIOS__EC_POINT_MAX];
    char pem[AIOS__SPKI_PEM_MAX];
    size_t pl = 0;
    aios_key *k = NULL;
    tu_assert_ok(aios__ecdsa_keypair(c, sk, pk));
    tu_assert_ok(aios__spki_encode_pem(pem, sizeof(pem), &pl, alg, pk, aios__ec_point_len(c)));
    tu_assert_ok(aios_key_from_public_pem(&k, "other", pem, pl));
    aios__wipe(sk, sizeof(sk));
    return k;
}

static void write_file(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* A copy of the committed model in a temporary folder. */
static char *copy_model(void)
{
    char *dir = kt_tmpdir(), src[4096], dst[4096];
    snprintf(dst, sizeof(dst), "%s/sub", dir);
    assert_int_equal(mkdir(dst, 0700), 0);
    for (size_t i = 0; i < sizeof(model_files) / sizeof(model_files[0]); i++) {
        size_t n;
        char *data;
        snprintf(src, sizeof(src), "%s/model/%s", FIX, model_files[i]);
        snprintf(dst, sizeof(dst), "%s/%s", dir, model_files[i]);
        data = tu_read_file(src, &n);
        write_file(dst, data, n);
        free(data);
    }
    return dir;
}

/* Remove a copy_model() folder (kt_rmtree does not descend). */
static void rm_copy(char *dir)
{
    char p[4096];
    snprintf(p, sizeof(p), "%s/sub/tokenizer.txt", dir);
    (void)unlink(p);
    kt_rmtree(dir);
}

/* The resources the bundle names are the committed files, in full. */
static void check_resources(const aios_manifest *m)
{
    assert_int_equal(aios_manifest_resource_count(m), 3);
    assert_string_equal(aios_manifest_hash_type(m), "sha256");
    assert_int_equal(aios_manifest_is_verified(m), 1);
}

static void test_key_method(void **state)
{
    aios_buffer *b = NULL;
    aios_manifest *m = NULL;
    aios_manifest_diff *d = NULL;
    aios_key *k = p521_key(), *other = fresh_public(AIOS__EC_P521, AIOS__KEYENC_P521);
    aios_key *p384 = fresh_public(AIOS__EC_P384, AIOS__KEYENC_P384);
    aios_manifest_verify_options o = AIOS_MANIFEST_VERIFY_OPTIONS_INIT;
    uint8_t root[32];
    char *copy;
    (void)state;

    tu_assert_ok(aios_manifest_read_bundle(&b, FIX "/model.sig", NULL));
    tu_assert_ok(aios_manifest_verify_key(&m, aios_buffer_data(b), aios_buffer_len(b), k, NULL));
    assert_int_equal(aios_manifest_get_method(m), AIOS_MANIFEST_FILES);
    check_resources(m);
    tu_assert_ok(aios_manifest_root_digest(m, root));
    /* the committed model, and a copy of it, match */
    tu_assert_ok(aios_manifest_verify_dir(m, FIX "/model", &d, NULL));
    assert_int_equal(aios_manifest_diff_count(d), 0);
    aios_manifest_diff_free(d);
    d = NULL;
    copy = copy_model();
    tu_assert_ok(aios_manifest_verify_dir(m, copy, NULL, NULL));
    /* a changed weight file is caught */
    {
        char path[4096];
        snprintf(path, sizeof(path), "%s/weights.bin", copy);
        write_file(path, "weights of a tiny test model: 0123456789abcdeF\n", 48);
        tu_assert_status(aios_manifest_verify_dir(m, copy, &d, NULL), AIOS_E_MANIFEST_MISMATCH);
        assert_int_equal(aios_manifest_diff_count(d), 1);
        aios_manifest_diff_free(d);
    }
    rm_copy(copy);
    aios_manifest_unref(m);
    m = NULL;

    /* oms-1.0 verifies it too (a hint, no legacy) */
    o.profile = AIOS_MANIFEST_PROFILE_OMS_1_0;
    tu_assert_ok(aios_manifest_verify_key(&m, aios_buffer_data(b), aios_buffer_len(b), k, &o));
    aios_manifest_unref(m);
    m = NULL;

    /* another P-521 key: the hint says so; without the hint, the signature */
    tu_assert_status(aios_manifest_verify_key(&m, aios_buffer_data(b), aios_buffer_len(b), other,
                                              NULL), AIOS_E_MANIFEST_KEY_MISMATCH);
    o = (aios_manifest_verify_options)AIOS_MANIFEST_VERIFY_OPTIONS_INIT;
    o.flags = AIOS_MANIFEST_VERIFY_IGNORE_HINT;
    tu_assert_status(aios_manifest_verify_key(&m, aios_buffer_data(b), aios_buffer_len(b), other,
                                              &o), AIOS_E_AUTH);
    tu_assert_status(aios_manifest_verify_key(&m, aios_buffer_data(b), aios_buffer_len(b), p384,
                                              &o), AIOS_E_AUTH);
    assert_null(m);

    /* a changed signature or payload does not verify */
    {
        json_error_t e;
        json_t *j = json_loadb((const char *)aios_buffer_data(b), aios_buffer_len(b), 0, &e);
        json_t *sig0 = json_array_get(json_object_get(json_object_get(j, "dsseEnvelope"),
                                                      "signatures"), 0);
        const char *sig = json_string_value(json_object_get(sig0, "sig"));
        uint8_t raw[AIOS__EC_DER_SIG_MAX + 8];
        char b64[256], *txt;
        size_t n = 0;
        assert_non_null(sig);
        tu_assert_ok(aios__base64_decode(raw, sizeof(raw), &n, sig, strlen(sig),
                                         AIOS__B64_STANDARD));
        assert_true(n > 128 && n <= AIOS__EC_DER_SIG_MAX);   /* a long-form P-521 signature */
        assert_int_equal(raw[1], 0x81);
        raw[n - 1] ^= 0x01;
        tu_assert_ok(aios__base64_encode(b64, sizeof(b64), raw, n, AIOS__B64_STANDARD));
        json_object_set_new(sig0, "sig", json_string(b64));
        txt = json_dumps(j, JSON_COMPACT);
        tu_assert_status(aios_manifest_verify_key(&m, (const uint8_t *)txt, strlen(txt), k, NULL),
                         AIOS_E_AUTH);
        free(txt);
        json_decref(j);
    }
    aios_buffer_free(b);
    aios_key_unref(p384);
    aios_key_unref(other);
    aios_key_unref(k);
}

static void test_certificate_method(void **state)
{
    aios_buffer *b = NULL, *signer = NULL;
    aios_manifest *m = NULL;
    size_t ca_len = 0;
    char *ca = tu_read_file(FIX "/ca.pem", &ca_len);
    const uint8_t *anchors[1] = { (const uint8_t *)ca };
    size_t anchor_lens[1] = { ca_len };
    aios_manifest_verify_options o = AIOS_MANIFEST_VERIFY_OPTIONS_INIT;
    aios_key *k = p521_key();
    (void)state;

    tu_assert_ok(aios_manifest_read_bundle(&b, FIX "/model-cert.sig", NULL));
    tu_assert_ok(aios_manifest_verify_certificate(&m, aios_buffer_data(b), aios_buffer_len(b),
                                                  anchors, anchor_lens, 1, NULL));
    assert_int_equal(aios_manifest_get_method(m), AIOS_MANIFEST_FILES);
    check_resources(m);
    tu_assert_ok(aios_manifest_signer_json(m, &signer));
    assert_non_null(strstr((const char *)aios_buffer_data(signer), "libaios P-521 test signer"));
    aios_buffer_free(signer);
    tu_assert_ok(aios_manifest_verify_dir(m, FIX "/model", NULL, NULL));
    aios_manifest_unref(m);
    m = NULL;
    /* now, too (the fixtures are valid for a century) */
    o.time_policy = AIOS_MANIFEST_TIME_NOW;
    tu_assert_ok(aios_manifest_verify_certificate(&m, aios_buffer_data(b), aios_buffer_len(b),
                                                  anchors, anchor_lens, 1, &o));
    aios_manifest_unref(m);
    m = NULL;
    /* the key method does not take a certificate bundle */
    tu_assert_status(aios_manifest_verify_key(&m, aios_buffer_data(b), aios_buffer_len(b), k,
                                              NULL), AIOS_E_MANIFEST_METHOD);
    /* another anchor: no path */
    {
        size_t n = 0;
        char *other = tu_read_file(AIOS_TEST_SOURCE_DIR "/tests/vectors/manifest-certs/ca.pem",
                                   &n);
        const uint8_t *oa[1] = { (const uint8_t *)other };
        tu_assert_status(aios_manifest_verify_certificate(&m, aios_buffer_data(b),
                                                          aios_buffer_len(b), oa, &n, 1, NULL),
                         AIOS_E_MANIFEST_CHAIN);
        free(other);
    }
    assert_null(m);
    aios_buffer_free(b);
    aios_key_unref(k);
    free(ca);
}

/* Signing with P-521 stays unsupported: the public API refuses a key that
 * may not sign, and the bundle writer refuses the curve itself. */
static void test_sign_refused(void **state)
{
    aios_key *k = p521_key();
    aios_buffer *b = NULL;
    aios__mb_resource r;
    aios__mb_statement st;
    char *copy = copy_model();
    (void)state;

    tu_assert_status(aios_manifest_sign(&b, NULL, copy, k, NULL), AIOS_E_UNSUPPORTED);
    assert_null(b);
    memset(&r, 0, sizeof(r));
    r.name = "a";
    r.name_len = r.path_len = 1;
    r.digest_len = 32;
    memset(&st, 0, sizeof(st));
    st.subject_name = "model";
    st.method = AIOS__MB_FILES;
    st.hash_type = AIOS__MB_SHA256;
    st.resources = &r;
    st.resource_count = 1;
    tu_assert_status(aios__mb_sign_key(&b, &st, k, AIOS__MB_PROFILE_MODEL_SIGNING_1),
                     AIOS_E_UNSUPPORTED);
    assert_non_null(strstr(aios_last_error_message(), "P-521"));
    assert_null(b);
    rm_copy(copy);
    aios_key_unref(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_method),
        cmocka_unit_test(test_certificate_method),
        cmocka_unit_test(test_sign_refused),
    };
    if (aios_init() != AIOS_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
