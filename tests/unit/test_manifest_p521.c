/*
 * ECDSA P-521 manifests (docs/MANIFEST.md 4.1, 4.2).  Verify: bundles that
 * the real `model_signing` 1.1.1 signed with a P-521 key (the key method,
 * and the certificate method with a P-521 leaf under a P-521 CA),
 * committed in tests/vectors/manifest-p521 with the model they sign (its
 * README has the commands).  Sign: libaios signs the same model with P-521
 * keyring keys (ECDSA-SHA-512), in both methods.
 *
 * Checked: both bundles verify and their statements match the committed
 * model files (aios_manifest_verify_dir); a changed model file, a changed
 * signature or payload, another P-521 key, a P-384 key all fail with the
 * right status.  Bundles libaios signs with a generated P-521 key and with
 * the tool's own P-521 key (imported into a keyring) verify with the public
 * key alone (model-signing-1 and oms-1.0), name the same key hint as the
 * tool's bundle, and fail when the model, the signature or the key
 * changes; a certificate bundle with the P-521 leaf verifies against the
 * P-521 CA; a P-521 public key alone may not sign.
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

/* A P-521 public key alone may not sign (AIOS_E_KEY_USAGE). */
static void test_sign_public_refused(void **state)
{
    aios_key *k = p521_key();
    aios_buffer *b = NULL;
    char *copy = copy_model();
    (void)state;

    tu_assert_status(aios_manifest_sign(&b, NULL, copy, k, NULL), AIOS_E_KEY_USAGE);
    assert_non_null(strstr(aios_last_error_message(), "may not sign"));
    assert_null(b);
    rm_copy(copy);
    aios_key_unref(k);
}

/* The DSSE signature of a bundle, decoded. */
static size_t bundle_sig(const aios_buffer *b, uint8_t *raw, size_t cap, json_t **root,
                         json_t **sig0)
{
    json_error_t e;
    const char *sig;
    size_t n = 0;
    *root = json_loadb((const char *)aios_buffer_data(b), aios_buffer_len(b), 0, &e);
    assert_non_null(*root);
    *sig0 = json_array_get(json_object_get(json_object_get(*root, "dsseEnvelope"), "signatures"),
                           0);
    sig = json_string_value(json_object_get(*sig0, "sig"));
    assert_non_null(sig);
    tu_assert_ok(aios__base64_decode(raw, cap, &n, sig, strlen(sig), AIOS__B64_STANDARD));
    return n;
}

static const char *bundle_hint(json_t *root)
{
    return json_string_value(json_object_get(json_object_get(json_object_get(
        root, "verificationMaterial"), "publicKey"), "hint"));
}

/* Sign the model copy with key; verify with pub (key method). */
static void sign_and_verify(const aios_key *key, const aios_key *pub, const aios_key *other,
                            aios_manifest_profile profile)
{
    aios_manifest_sign_options so = AIOS_MANIFEST_SIGN_OPTIONS_INIT;
    aios_manifest_verify_options vo = AIOS_MANIFEST_VERIFY_OPTIONS_INIT;
    aios_buffer *b = NULL;
    aios_manifest *m = NULL;
    aios_manifest_diff *d = NULL;
    uint8_t raw[AIOS__EC_DER_SIG_MAX + 8];
    char b64[256], *txt, *copy = copy_model(), path[4096];
    json_t *root = NULL, *sig0 = NULL;
    size_t n;

    so.profile = profile;
    vo.profile = profile;
    tu_assert_ok(aios_manifest_sign(&b, NULL, copy, key, &so));
    n = bundle_sig(b, raw, sizeof(raw), &root, &sig0);
    assert_true(n > 128 && n <= AIOS__EC_DER_SIG_MAX);     /* a long-form P-521 signature */
    assert_int_equal(raw[0], 0x30);
    assert_int_equal(raw[1], 0x81);
    assert_non_null(bundle_hint(root));

    tu_assert_ok(aios_manifest_verify_key(&m, aios_buffer_data(b), aios_buffer_len(b), pub, &vo));
    check_resources(m);
    tu_assert_ok(aios_manifest_verify_dir(m, copy, &d, NULL));
    assert_int_equal(aios_manifest_diff_count(d), 0);
    aios_manifest_diff_free(d);
    d = NULL;
    tu_assert_ok(aios_manifest_verify_dir(m, FIX "/model", NULL, NULL));
    /* a changed model file is caught */
    snprintf(path, sizeof(path), "%s/config.json", copy);
    write_file(path, "{\"tampered\": true}\n", 19);
    tu_assert_status(aios_manifest_verify_dir(m, copy, &d, NULL), AIOS_E_MANIFEST_MISMATCH);
    assert_int_equal(aios_manifest_diff_count(d), 1);
    aios_manifest_diff_free(d);
    aios_manifest_unref(m);
    m = NULL;

    /* another P-521 key: the hint, then the signature */
    tu_assert_status(aios_manifest_verify_key(&m, aios_buffer_data(b), aios_buffer_len(b), other,
                                              &vo), AIOS_E_MANIFEST_KEY_MISMATCH);
    vo.flags = AIOS_MANIFEST_VERIFY_IGNORE_HINT;
    tu_assert_status(aios_manifest_verify_key(&m, aios_buffer_data(b), aios_buffer_len(b), other,
                                              &vo), AIOS_E_AUTH);
    vo.flags = 0;
    /* a changed signature */
    raw[n - 1] ^= 0x01;
    tu_assert_ok(aios__base64_encode(b64, sizeof(b64), raw, n, AIOS__B64_STANDARD));
    json_object_set_new(sig0, "sig", json_string(b64));
    txt = json_dumps(root, JSON_COMPACT);
    tu_assert_status(aios_manifest_verify_key(&m, (const uint8_t *)txt, strlen(txt), pub, &vo),
                     AIOS_E_AUTH);
    assert_null(m);
    free(txt);
    json_decref(root);
    aios_buffer_free(b);
    rm_copy(copy);
}

/* libaios signs with P-521 keyring keys: a generated one, and the key the
 * tool signed model.sig with (imported), whose bundle names the same hint. */
static void test_sign_key_method(void **state)
{
    char *kdir = kt_tmpdir(), path[4096], *pem;
    aios_keyring_options ko = kt_raw();
    aios_keyring *kr = NULL;
    aios_key *gen = NULL, *imp = NULL, *gen_pub = NULL, *tool_pub = p521_key();
    aios_buffer *pub_pem = NULL, *ours = NULL, *theirs = NULL;
    json_t *a = NULL, *b = NULL, *s0 = NULL;
    uint8_t raw[AIOS__EC_DER_SIG_MAX + 8];
    char *copy;
    size_t n = 0;
    (void)state;

    snprintf(path, sizeof(path), "%s/kr.aioskr", kdir);
    tu_assert_ok(aios_keyring_create(&kr, path, &ko));
    tu_assert_ok(aios_keyring_add(kr, &gen, "gen-p521", AIOS_KEY_ECDSA_P521, NULL));
    pem = tu_read_file(FIX "/signing-key.pem", &n);
    tu_assert_ok(aios_keyring_import(kr, &imp, "tool-p521", AIOS_KEY_ECDSA_P521,
                                     (const uint8_t *)pem, n, NULL));
    free(pem);
    tu_assert_ok(aios_key_public_pem(gen, &pub_pem));
    tu_assert_ok(aios_key_from_public_pem(&gen_pub, "gen-pub", (const char *)aios_buffer_data(pub_pem),
                                          aios_buffer_len(pub_pem)));

    sign_and_verify(gen, gen_pub, tool_pub, AIOS_MANIFEST_PROFILE_MODEL_SIGNING_1);
    sign_and_verify(gen, gen_pub, tool_pub, AIOS_MANIFEST_PROFILE_OMS_1_0);
    sign_and_verify(imp, tool_pub, gen_pub, AIOS_MANIFEST_PROFILE_MODEL_SIGNING_1);

    /* The tool's key: libaios's bundle and the tool's name the same hint. */
    copy = copy_model();
    tu_assert_ok(aios_manifest_sign(&ours, NULL, copy, imp, NULL));
    tu_assert_ok(aios_manifest_read_bundle(&theirs, FIX "/model.sig", NULL));
    (void)bundle_sig(ours, raw, sizeof(raw), &a, &s0);
    (void)bundle_sig(theirs, raw, sizeof(raw), &b, &s0);
    assert_string_equal(bundle_hint(a), bundle_hint(b));
    json_decref(a);
    json_decref(b);
    rm_copy(copy);

    aios_buffer_free(ours);
    aios_buffer_free(theirs);
    aios_buffer_free(pub_pem);
    aios_key_unref(gen_pub);
    aios_key_unref(tool_pub);
    aios_key_unref(imp);
    aios_key_unref(gen);
    aios_keyring_free(kr);
    (void)unlink(path);
    kt_rmtree(kdir);
}

/* PEM certificate -> DER (one block). */
static uint8_t *cert_der(const char *file, size_t *len)
{
    size_t n = 0, j = 0;
    char *pem = tu_read_file(file, &n), *b64 = malloc(n + 1);
    const char *p = strstr(pem, "-----BEGIN CERTIFICATE-----\n");
    const char *end = strstr(pem, "-----END CERTIFICATE-----");
    uint8_t *der = malloc(n);
    assert_non_null(p);
    assert_non_null(end);
    for (p += strlen("-----BEGIN CERTIFICATE-----\n"); p < end; p++)
        if (*p != '\n' && *p != '\r')
            b64[j++] = *p;
    tu_assert_ok(aios__base64_decode(der, n, len, b64, j, AIOS__B64_STANDARD));
    free(b64);
    free(pem);
    return der;
}

/* The certificate method with the P-521 leaf (the tool's key, imported):
 * the bundle verifies against the P-521 CA; a leaf that does not hold the
 * key is refused. */
static void test_sign_certificate_method(void **state)
{
    char *kdir = kt_tmpdir(), path[4096], *pem, *copy = copy_model();
    aios_keyring_options ko = kt_raw();
    aios_keyring *kr = NULL;
    aios_key *imp = NULL, *gen = NULL;
    aios_manifest_sign_options so = AIOS_MANIFEST_SIGN_OPTIONS_INIT;
    aios_buffer *b = NULL, *signer = NULL;
    aios_manifest *m = NULL;
    size_t n = 0, leaf_len = 0, ca_len = 0;
    uint8_t *leaf = cert_der(FIX "/leaf.pem", &leaf_len);
    char *ca = tu_read_file(FIX "/ca.pem", &ca_len);
    const uint8_t *chain[1] = { leaf };
    size_t chain_lens[1] = { leaf_len };
    const uint8_t *anchors[1] = { (const uint8_t *)ca };
    size_t anchor_lens[1] = { ca_len };
    (void)state;

    snprintf(path, sizeof(path), "%s/kr.aioskr", kdir);
    tu_assert_ok(aios_keyring_create(&kr, path, &ko));
    pem = tu_read_file(FIX "/signing-key.pem", &n);
    tu_assert_ok(aios_keyring_import(kr, &imp, "tool-p521", AIOS_KEY_ECDSA_P521,
                                     (const uint8_t *)pem, n, NULL));
    free(pem);
    tu_assert_ok(aios_keyring_add(kr, &gen, "gen-p521", AIOS_KEY_ECDSA_P521, NULL));
    so.chain_der = chain;
    so.chain_der_lens = chain_lens;
    so.chain_len = 1;
    tu_assert_ok(aios_manifest_sign(&b, NULL, copy, imp, &so));
    tu_assert_ok(aios_manifest_verify_certificate(&m, aios_buffer_data(b), aios_buffer_len(b),
                                                  anchors, anchor_lens, 1, NULL));
    check_resources(m);
    tu_assert_ok(aios_manifest_signer_json(m, &signer));
    assert_non_null(strstr((const char *)aios_buffer_data(signer), "libaios P-521 test signer"));
    tu_assert_ok(aios_manifest_verify_dir(m, FIX "/model", NULL, NULL));
    aios_manifest_unref(m);
    aios_buffer_free(signer);
    aios_buffer_free(b);
    b = NULL;
    /* the leaf does not hold a generated key */
    tu_assert_status(aios_manifest_sign(&b, NULL, copy, gen, &so), AIOS_E_MANIFEST_KEY_MISMATCH);
    assert_null(b);

    aios_key_unref(gen);
    aios_key_unref(imp);
    aios_keyring_free(kr);
    (void)unlink(path);
    kt_rmtree(kdir);
    rm_copy(copy);
    free(leaf);
    free(ca);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_method),
        cmocka_unit_test(test_certificate_method),
        cmocka_unit_test(test_sign_public_refused),
        cmocka_unit_test(test_sign_key_method),
        cmocka_unit_test(test_sign_certificate_method),
    };
    if (aios_init() != AIOS_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
