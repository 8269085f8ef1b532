/*
 * The certificate method of OMS bundles (docs/MANIFEST.md 7.2-7.4, 12.7):
 * lib/crypto/x509.c (aios__x509_chain_verify, aios__x509_cert_info),
 * aios__ecdsa_verify_der_sha256 (the legacy PAE, 4.6), and
 * aios__mb_verify_certificate / aios__mb_sign_certificate in
 * lib/manifest/bundle.c, against the golden *-certificate bundles of
 * ../shared/vectors/oms (CA: keys/certificate/ca-cert.pem) and the
 * fixtures of tests/vectors/manifest-certs (made by its gen.sh).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_keyring_util.h"
#include "core/internal.h"
#include "crypto/crypto.h"
#include "manifest/bundle.h"

#define OMS   AIOS_TEST_VECTORS "/oms"
#define MT    OMS "/model-transparency"
#define KEYS  MT "/keys/certificate"
#define SPEC  OMS "/oms-spec/v1.0"
#define FIX   AIOS_TEST_SOURCE_DIR "/tests/vectors/manifest-certs"

#define ROOT_S1_S2  "61d4849d9d90076d6215f4d525f13d6574af8e3f67aef3e6f36fc40a14fdd226"
#define ROOT_S1N_S2 "92745110b1ab4368471cbe31664e10174e954b113a3df333db860317b2c6dec4"
#define D_S1 "f6310066c7320497ea554260c32c43660bff648cb2a61194832cc086077085e1"
#define D_S2 "32dcb1f8e1ae52d5963e56a6ba06ab58b424c15ed2a6b70d2feca1d089370028"

/* validity of the golden chain: 2025-05-02 23:36:28Z .. 2035-04-30 23:36:28Z */
#define G_NB 1746228988
#define G_NA 2061588988
/* fixtures: 2020-01-01 .. 2120-01-01; leaf-expired 2020-01-01 .. 2021-01-01 */
#define F_NB 1577836800
#define F_NA 4733510400
#define E_NA 1609459200

#define MS1  AIOS__MB_PROFILE_MODEL_SIGNING_1
#define OMS1 AIOS__MB_PROFILE_OMS_1_0

/* ------------------------------------------------------------ helpers */

typedef struct blob {
    uint8_t *p;
    size_t len;
} blob;

static blob file_blob(const char *path)
{
    blob b;
    b.p = (uint8_t *)tu_read_file(path, &b.len);
    assert_non_null(b.p);
    return b;
}

/* The first CERTIFICATE block of a PEM file, as DER. */
static blob pem_der(const char *path)
{
    size_t n, i, k = 0;
    char *f = tu_read_file(path, &n), *s, *e, *txt;
    blob b;

    s = strstr(f, "-----BEGIN CERTIFICATE-----");
    assert_non_null(s);
    s += strlen("-----BEGIN CERTIFICATE-----");
    e = strstr(s, "-----END CERTIFICATE-----");
    assert_non_null(e);
    txt = malloc((size_t)(e - s) + 1);
    assert_non_null(txt);
    for (i = 0; s + i < e; i++)
        if (s[i] != '\n' && s[i] != '\r')
            txt[k++] = s[i];
    b.p = malloc(k);
    assert_non_null(b.p);
    tu_assert_ok(aios__base64_decode(b.p, k, &b.len, txt, k, AIOS__B64_STANDARD));
    free(txt);
    free(f);
    return b;
}

static void hexcmp(const uint8_t *got, size_t n, const char *want)
{
    char h[129];
    tu_assert_ok(aios__hex_encode(h, sizeof(h), got, n));
    assert_string_equal(h, want);
}

/* anchors as the API takes them */
typedef struct anchors {
    const uint8_t *p[4];
    size_t len[4];
    size_t n;
    blob keep[4];
} anchors;

static anchors anchors_files(const char *a, const char *b)
{
    anchors x;
    memset(&x, 0, sizeof(x));
    x.keep[x.n] = file_blob(a);
    x.p[x.n] = x.keep[x.n].p;
    x.len[x.n] = x.keep[x.n].len;
    x.n++;
    if (b) {
        x.keep[x.n] = file_blob(b);
        x.p[x.n] = x.keep[x.n].p;
        x.len[x.n] = x.keep[x.n].len;
        x.n++;
    }
    return x;
}

static void anchors_free(anchors *x)
{
    size_t i;
    for (i = 0; i < x->n; i++)
        free(x->keep[i].p);
}

static int vcert(const uint8_t *buf, size_t n, const anchors *a, int profile, int tp, int64_t t,
                 uint32_t flags, aios__mb_signer *sg, aios__mb_statement **keep)
{
    aios__mb_statement *st = NULL;
    int rc = aios__mb_verify_certificate(&st, sg, buf, n, a->p, a->len, a->n, profile, tp, t,
                                         flags);
    if (rc == AIOS_OK)
        assert_non_null(st);
    else
        assert_null(st);
    if (keep)
        *keep = st;
    else
        aios__mb_statement_free(st);
    return rc;
}

static json_t *jload(const uint8_t *p, size_t n)
{
    json_error_t e;
    json_t *j = json_loadb((const char *)p, n, 0, &e);
    assert_non_null(j);
    return j;
}

static char *jdump(json_t *j, size_t *n)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_non_null(s);
    *n = strlen(s);
    json_decref(j);
    return s;
}

static json_t *certs_of(json_t *root)
{
    return json_object_get(json_object_get(json_object_get(root, "verificationMaterial"),
                                           "x509CertificateChain"), "certificates");
}

static void set_b64(json_t *obj, const char *key, const uint8_t *p, size_t n)
{
    size_t cap = aios__base64_encoded_len(n, AIOS__B64_STANDARD);
    char *s = malloc(cap);
    tu_assert_ok(aios__base64_encode(s, cap, p, n, AIOS__B64_STANDARD));
    assert_int_equal(json_object_set_new(obj, key, json_string(s)), 0);
    free(s);
}

static uint8_t *get_b64(json_t *s, size_t *n)
{
    size_t len = json_string_length(s);
    uint8_t *p = malloc(len + 3);
    tu_assert_ok(aios__mb_base64_decode(p, len + 3, n, json_string_value(s), len));
    return p;
}

/* ------------------------------------------------ x509: golden chain */

static void test_x509_golden(void **state)
{
    size_t n;
    uint8_t *buf = (uint8_t *)tu_read_file(MT "/v1.1.0-certificate/model.sig", &n);
    aios__mb_bundle *b = NULL;
    const uint8_t *chain[AIOS__X509_CHAIN_MAX + 1];
    size_t lens[AIOS__X509_CHAIN_MAX + 1], i;
    anchors root = anchors_files(KEYS "/ca-cert.pem", NULL);
    anchors inter = anchors_files(KEYS "/int-ca-cert.pem", NULL);
    anchors other = anchors_files(FIX "/other-root.pem", NULL);
    anchors mine = anchors_files(FIX "/ca.pem", NULL);
    blob root_der = pem_der(KEYS "/ca-cert.pem"), leaf_der = pem_der(KEYS "/signing-key-cert.pem");
    const uint8_t *rd[1];
    size_t rl[1];
    aios__x509_leaf leaf;
    uint8_t *big;
    (void)state;

    tu_assert_ok(aios__mb_bundle_parse(&b, buf, n, 0, MS1));
    assert_int_equal(b->cert_count, 2);
    chain[0] = b->certs[0].p;
    lens[0] = b->certs[0].len;
    chain[1] = b->certs[1].p;
    lens[1] = b->certs[1].len;
    /* the bundle's leaf is the key folder's certificate */
    assert_int_equal(lens[0], leaf_der.len);
    assert_memory_equal(chain[0], leaf_der.p, leaf_der.len);

    /* PEM anchor, the default of model_signing: T = leaf notBefore */
    tu_assert_ok(aios__x509_chain_verify(&leaf, chain, lens, 2, root.p, root.len, 1,
                                         AIOS__X509_TIME_LEAF_NOT_BEFORE, 0));
    assert_int_equal(leaf.alg, AIOS__KEYENC_P384);
    assert_int_equal(leaf.pub_len, 97);
    assert_int_equal(leaf.pub[0], 0x04);
    assert_string_equal(leaf.subject, "CN=intermediate-ca");   /* a CA:TRUE leaf named like */
    assert_string_equal(leaf.issuer, "CN=intermediate-ca");    /* its issuer: must verify */
    assert_int_equal(leaf.not_before, G_NB);
    assert_int_equal(leaf.not_after, G_NA);
    assert_int_equal(leaf.checked_at, G_NB);
    assert_int_equal(leaf.path_len, 3);
    /* DER anchor; the policy times */
    rd[0] = root_der.p;
    rl[0] = root_der.len;
    tu_assert_ok(aios__x509_chain_verify(&leaf, chain, lens, 2, rd, rl, 1,
                                         AIOS__X509_TIME_NOW, 0));
    assert_true(leaf.checked_at > 1764000000 && leaf.checked_at < G_NA);
    tu_assert_ok(aios__x509_chain_verify(&leaf, chain, lens, 2, rd, rl, 1,
                                         AIOS__X509_TIME_FIXED, G_NB));
    tu_assert_ok(aios__x509_chain_verify(&leaf, chain, lens, 2, rd, rl, 1,
                                         AIOS__X509_TIME_FIXED, G_NA));
    assert_int_equal(leaf.checked_at, G_NA);
    tu_assert_status(aios__x509_chain_verify(&leaf, chain, lens, 2, rd, rl, 1,
                                             AIOS__X509_TIME_FIXED, G_NB - 1),
                     AIOS_E_MANIFEST_CHAIN);
    assert_int_equal(leaf.alg, 0);   /* zeroed on failure */
    assert_non_null(strstr(aios_last_error_message(), "not yet valid"));
    tu_assert_status(aios__x509_chain_verify(&leaf, chain, lens, 2, rd, rl, 1,
                                             AIOS__X509_TIME_FIXED, G_NA + 1),
                     AIOS_E_MANIFEST_CHAIN);
    assert_non_null(strstr(aios_last_error_message(), "expired"));
    assert_non_null(strstr(aios_last_error_message(), "CN=intermediate-ca"));
    /* a span of times: valid over all of it, or not at all */
    tu_assert_ok(aios__x509_chain_verify_span(&leaf, chain, lens, 2, rd, rl, 1,
                                              AIOS__X509_TIME_FIXED, G_NB, G_NA));
    assert_int_equal(leaf.checked_at, G_NB);
    tu_assert_ok(aios__x509_chain_verify_span(&leaf, chain, lens, 2, rd, rl, 1,
                                              AIOS__X509_TIME_FIXED, G_NA, G_NB));   /* = G_NA */
    tu_assert_status(aios__x509_chain_verify_span(&leaf, chain, lens, 2, rd, rl, 1,
                                                  AIOS__X509_TIME_FIXED, G_NB, G_NA + 1),
                     AIOS_E_MANIFEST_CHAIN);
    assert_non_null(strstr(aios_last_error_message(), "expired"));
    tu_assert_status(aios__x509_chain_verify_span(&leaf, chain, lens, 2, rd, rl, 1,
                                                  AIOS__X509_TIME_FIXED, G_NB - 1, G_NA),
                     AIOS_E_MANIFEST_CHAIN);
    assert_non_null(strstr(aios_last_error_message(), "not yet valid"));
    /* the intermediate as the only anchor: enough (mbedTLS semantics, 7.3) */
    tu_assert_ok(aios__x509_chain_verify(&leaf, chain, lens, 2, inter.p, inter.len, 1,
                                         AIOS__X509_TIME_LEAF_NOT_BEFORE, 0));
    assert_int_equal(leaf.path_len, 2);
    /* wrong anchors: a root of the same name, another CA; both together
     * with the right one is fine */
    tu_assert_status(aios__x509_chain_verify(&leaf, chain, lens, 2, other.p, other.len, 1,
                                             AIOS__X509_TIME_LEAF_NOT_BEFORE, 0),
                     AIOS_E_MANIFEST_CHAIN);
    assert_non_null(strstr(aios_last_error_message(), "not trusted"));
    tu_assert_status(aios__x509_chain_verify(&leaf, chain, lens, 2, mine.p, mine.len, 1,
                                             AIOS__X509_TIME_LEAF_NOT_BEFORE, 0),
                     AIOS_E_MANIFEST_CHAIN);
    {
        anchors both = anchors_files(FIX "/other-root.pem", KEYS "/ca-cert.pem");
        tu_assert_ok(aios__x509_chain_verify(&leaf, chain, lens, 2, both.p, both.len, 2,
                                             AIOS__X509_TIME_LEAF_NOT_BEFORE, 0));
        anchors_free(&both);
    }
    /* the leaf alone: no path */
    tu_assert_status(aios__x509_chain_verify(&leaf, chain, lens, 1, root.p, root.len, 1,
                                             AIOS__X509_TIME_LEAF_NOT_BEFORE, 0),
                     AIOS_E_MANIFEST_CHAIN);
    /* the root inside the chain is not trusted for being there */
    chain[2] = root_der.p;
    lens[2] = root_der.len;
    tu_assert_status(aios__x509_chain_verify(&leaf, chain, lens, 3, mine.p, mine.len, 1,
                                             AIOS__X509_TIME_LEAF_NOT_BEFORE, 0),
                     AIOS_E_MANIFEST_CHAIN);
    tu_assert_ok(aios__x509_chain_verify(&leaf, chain, lens, 3, root.p, root.len, 1,
                                         AIOS__X509_TIME_LEAF_NOT_BEFORE, 0));

    /* arguments and limits */
    tu_assert_status(aios__x509_chain_verify(&leaf, chain, lens, 2, root.p, root.len, 0,
                                             AIOS__X509_TIME_NOW, 0), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__x509_chain_verify(&leaf, chain, lens, 2, NULL, NULL, 0,
                                             AIOS__X509_TIME_NOW, 0), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__x509_chain_verify(&leaf, chain, lens, 2, root.p, root.len, 1, 0, 0),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__x509_chain_verify(&leaf, chain, lens, 2, root.p, root.len, 1, 4, 0),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__x509_chain_verify(&leaf, chain, lens, 0, root.p, root.len, 1,
                                             AIOS__X509_TIME_NOW, 0), AIOS_E_INVALID_ARGUMENT);
    for (i = 0; i < AIOS__X509_CHAIN_MAX + 1; i++) {
        chain[i] = b->certs[1].p;
        lens[i] = b->certs[1].len;
    }
    chain[0] = b->certs[0].p;
    lens[0] = b->certs[0].len;
    tu_assert_ok(aios__x509_chain_verify(&leaf, chain, lens, AIOS__X509_CHAIN_MAX, root.p,
                                         root.len, 1, AIOS__X509_TIME_LEAF_NOT_BEFORE, 0));
    tu_assert_status(aios__x509_chain_verify(&leaf, chain, lens, AIOS__X509_CHAIN_MAX + 1,
                                             root.p, root.len, 1, AIOS__X509_TIME_NOW, 0),
                     AIOS_E_LIMIT);
    big = calloc(1, AIOS__X509_CERT_MAX + 1);
    assert_non_null(big);
    memcpy(big, b->certs[1].p, b->certs[1].len);
    chain[1] = big;
    lens[1] = AIOS__X509_CERT_MAX + 1;
    tu_assert_status(aios__x509_chain_verify(&leaf, chain, lens, 2, root.p, root.len, 1,
                                             AIOS__X509_TIME_NOW, 0), AIOS_E_LIMIT);
    /* trailing bytes after a certificate; truncated; garbage */
    lens[1] = b->certs[1].len + 1;
    tu_assert_status(aios__x509_chain_verify(&leaf, chain, lens, 2, root.p, root.len, 1,
                                             AIOS__X509_TIME_NOW, 0), AIOS_E_FORMAT);
    lens[1] = b->certs[1].len - 1;
    tu_assert_status(aios__x509_chain_verify(&leaf, chain, lens, 2, root.p, root.len, 1,
                                             AIOS__X509_TIME_NOW, 0), AIOS_E_FORMAT);
    chain[1] = (const uint8_t *)"\x30\x03\x02\x01\x01";
    lens[1] = 5;
    tu_assert_status(aios__x509_chain_verify(&leaf, chain, lens, 2, root.p, root.len, 1,
                                             AIOS__X509_TIME_NOW, 0), AIOS_E_FORMAT);
    lens[1] = 0;
    tu_assert_status(aios__x509_chain_verify(&leaf, chain, lens, 2, root.p, root.len, 1,
                                             AIOS__X509_TIME_NOW, 0), AIOS_E_FORMAT);
    chain[1] = b->certs[1].p;
    lens[1] = b->certs[1].len;
    /* a broken anchor (PEM and DER) */
    {
        const uint8_t *ap[1] = { (const uint8_t *)"-----BEGIN CERTIFICATE-----\nAAAA\n"
                                                  "-----END CERTIFICATE-----\n" };
        size_t al[1];
        al[0] = strlen((const char *)ap[0]);
        tu_assert_status(aios__x509_chain_verify(&leaf, chain, lens, 2, ap, al, 1,
                                                 AIOS__X509_TIME_NOW, 0), AIOS_E_FORMAT);
        ap[0] = root_der.p;
        al[0] = root_der.len - 3;
        tu_assert_status(aios__x509_chain_verify(&leaf, chain, lens, 2, ap, al, 1,
                                                 AIOS__X509_TIME_NOW, 0), AIOS_E_FORMAT);
    }
    /* the leaf's signature byte flipped: not trusted */
    memcpy(big, b->certs[0].p, b->certs[0].len);
    big[b->certs[0].len - 1] ^= 0x01;
    chain[0] = big;
    lens[0] = b->certs[0].len;
    tu_assert_status(aios__x509_chain_verify(&leaf, chain, lens, 2, root.p, root.len, 1,
                                             AIOS__X509_TIME_LEAF_NOT_BEFORE, 0),
                     AIOS_E_MANIFEST_CHAIN);
    /* cert_info: no trust, no time */
    tu_assert_ok(aios__x509_cert_info(&leaf, b->certs[1].p, b->certs[1].len));
    assert_int_equal(leaf.alg, 0);   /* an RSA key: described, not refused */
    assert_string_equal(leaf.subject, "CN=intermediate-ca");
    assert_string_equal(leaf.issuer, "CN=root-ca");
    tu_assert_status(aios__x509_cert_info(&leaf, b->certs[1].p, b->certs[1].len - 1),
                     AIOS_E_FORMAT);
    free(big);
    free(root_der.p);
    free(leaf_der.p);
    anchors_free(&root);
    anchors_free(&inter);
    anchors_free(&other);
    anchors_free(&mine);
    aios__mb_bundle_free(b);
    free(buf);
}

/* ------------------------------------------------ x509: fixtures */

static int fx_verify(const char *leaf_file, const char *i1, const char *i2, int tp, int64_t t,
                     aios__x509_leaf *leaf)
{
    blob l = pem_der(leaf_file), a = { NULL, 0 }, c = { NULL, 0 };
    const uint8_t *chain[3];
    size_t lens[3], n = 1;
    anchors root = anchors_files(FIX "/ca.pem", NULL);
    int rc;

    chain[0] = l.p;
    lens[0] = l.len;
    if (i1) {
        a = pem_der(i1);
        chain[n] = a.p;
        lens[n++] = a.len;
    }
    if (i2) {
        c = pem_der(i2);
        chain[n] = c.p;
        lens[n++] = c.len;
    }
    rc = aios__x509_chain_verify(leaf, chain, lens, n, root.p, root.len, 1, tp, t);
    free(l.p);
    free(a.p);
    free(c.p);
    anchors_free(&root);
    return rc;
}

static void test_x509_fixtures(void **state)
{
    aios__x509_leaf leaf;
    (void)state;

    tu_assert_ok(fx_verify(FIX "/leaf.pem", FIX "/int.pem", NULL, AIOS__X509_TIME_NOW, 0, &leaf));
    assert_int_equal(leaf.alg, AIOS__KEYENC_P256);
    assert_int_equal(leaf.pub_len, 65);
    assert_string_equal(leaf.subject, "CN=aios test signer");
    assert_string_equal(leaf.issuer, "CN=aios test intermediate");
    assert_int_equal(leaf.not_before, F_NB);
    assert_int_equal(leaf.not_after, F_NA);   /* GeneralizedTime after 2049 */
    assert_int_equal(leaf.path_len, 3);
    /* two intermediates, given in either order */
    tu_assert_ok(fx_verify(FIX "/leaf-deep.pem", FIX "/int2.pem", FIX "/int.pem",
                           AIOS__X509_TIME_NOW, 0, &leaf));
    assert_int_equal(leaf.path_len, 4);
    tu_assert_ok(fx_verify(FIX "/leaf-deep.pem", FIX "/int.pem", FIX "/int2.pem",
                           AIOS__X509_TIME_NOW, 0, &leaf));
    assert_int_equal(leaf.path_len, 4);
    tu_assert_status(fx_verify(FIX "/leaf-deep.pem", FIX "/int.pem", NULL, AIOS__X509_TIME_NOW,
                               0, &leaf), AIOS_E_MANIFEST_CHAIN);
    /* usage: KU digitalSignature, or else EKU codeSigning */
    tu_assert_ok(fx_verify(FIX "/leaf-eku.pem", FIX "/int.pem", NULL, AIOS__X509_TIME_NOW, 0,
                           &leaf));
    tu_assert_ok(fx_verify(FIX "/leaf-kuenc-eku.pem", FIX "/int.pem", NULL, AIOS__X509_TIME_NOW,
                           0, &leaf));
    tu_assert_status(fx_verify(FIX "/leaf-nousage.pem", FIX "/int.pem", NULL,
                               AIOS__X509_TIME_NOW, 0, &leaf), AIOS_E_MANIFEST_CERT_USAGE);
    tu_assert_status(fx_verify(FIX "/leaf-kuenc.pem", FIX "/int.pem", NULL,
                               AIOS__X509_TIME_NOW, 0, &leaf), AIOS_E_MANIFEST_CERT_USAGE);
    tu_assert_status(fx_verify(FIX "/leaf-anyeku.pem", FIX "/int.pem", NULL,
                               AIOS__X509_TIME_NOW, 0, &leaf), AIOS_E_MANIFEST_CERT_USAGE);
    /* an RSA leaf: a valid chain, a key the method cannot use */
    tu_assert_status(fx_verify(FIX "/leaf-rsa.pem", FIX "/int.pem", NULL, AIOS__X509_TIME_NOW,
                               0, &leaf), AIOS_E_UNSUPPORTED);
    assert_non_null(strstr(aios_last_error_message(), "RSA"));
    /* an expired leaf: valid when it was issued, not now */
    tu_assert_ok(fx_verify(FIX "/leaf-expired.pem", FIX "/int.pem", NULL,
                           AIOS__X509_TIME_LEAF_NOT_BEFORE, 0, &leaf));
    assert_int_equal(leaf.not_after, E_NA);
    tu_assert_ok(fx_verify(FIX "/leaf-expired.pem", FIX "/int.pem", NULL, AIOS__X509_TIME_FIXED,
                           E_NA, &leaf));
    tu_assert_status(fx_verify(FIX "/leaf-expired.pem", FIX "/int.pem", NULL,
                               AIOS__X509_TIME_FIXED, E_NA + 1, &leaf), AIOS_E_MANIFEST_CHAIN);
    tu_assert_status(fx_verify(FIX "/leaf-expired.pem", FIX "/int.pem", NULL,
                               AIOS__X509_TIME_NOW, 0, &leaf), AIOS_E_MANIFEST_CHAIN);
    assert_non_null(strstr(aios_last_error_message(), "CN=aios test signer"));
    assert_non_null(strstr(aios_last_error_message(), "expired"));
}

/* ------------------------------------------- legacy: SHA-256 on P-384 */

static void test_legacy_sha256(void **state)
{
    size_t n, m;
    uint8_t *buf = (uint8_t *)tu_read_file(MT "/v0.2.0-certificate/model.sig", &n);
    aios__mb_bundle *b = NULL;
    aios__x509_leaf leaf;
    uint8_t *pae = NULL, sk[32], pk[65], sig[AIOS__EC_DER_SIG_MAX];
    size_t pl, sl;
    aios__mb_statement *st = NULL;
    aios__mb_signer sg;
    aios_key *k = NULL;
    json_t *j;
    char *out, *f, *pem;
    (void)state;

    tu_assert_ok(aios__mb_bundle_parse(&b, buf, n, 0, MS1));
    tu_assert_ok(aios__x509_cert_info(&leaf, b->certs[0].p, b->certs[0].len));
    assert_int_equal(leaf.alg, AIOS__KEYENC_P384);
    tu_assert_ok(aios__mb_pae_legacy(&pae, &pl, b->payload, b->payload_len));
    tu_assert_ok(aios__ecdsa_verify_der_sha256(AIOS__EC_P384, b->sig, b->sig_len, pae, pl,
                                               leaf.pub, leaf.pub_len));
    tu_assert_status(aios__ecdsa_verify_der(AIOS__EC_P384, b->sig, b->sig_len, pae, pl,
                                            leaf.pub, leaf.pub_len), AIOS_E_AUTH);
    pae[10] ^= 1;
    tu_assert_status(aios__ecdsa_verify_der_sha256(AIOS__EC_P384, b->sig, b->sig_len, pae, pl,
                                                   leaf.pub, leaf.pub_len), AIOS_E_AUTH);
    aios__free(pae);
    /* P-256: the same function as the curve's own */
    tu_assert_ok(aios__ecdsa_keypair(AIOS__EC_P256, sk, pk));
    tu_assert_ok(aios__ecdsa_sign_der(AIOS__EC_P256, sig, sizeof(sig), &sl,
                                      (const uint8_t *)"abc", 3, sk));
    tu_assert_ok(aios__ecdsa_verify_der_sha256(AIOS__EC_P256, sig, sl, (const uint8_t *)"abc", 3,
                                               pk, sizeof(pk)));
    tu_assert_status(aios__ecdsa_verify_der_sha256(AIOS__EC_P256, sig, sl, (const uint8_t *)"abd",
                                                   3, pk, sizeof(pk)), AIOS_E_AUTH);
    tu_assert_status(aios__ecdsa_verify_der_sha256(AIOS__EC_P256, sig, sl - 1,
                                                   (const uint8_t *)"abc", 3, pk, sizeof(pk)),
                     AIOS_E_AUTH);
    aios__mb_bundle_free(b);

    /* constructed: the 0.2.0 bundle as a key bundle (no hint) verifies
     * with the golden P-384 key over the legacy PAE (MANIFEST.md 4.6: not
     * possible in model_signing 1.x) */
    j = jload(buf, n);
    json_object_del(json_object_get(j, "verificationMaterial"), "x509CertificateChain");
    f = tu_read_file(KEYS "/signing-key-pub.pem", &pl);
    pem = strstr(f, "-----BEGIN PUBLIC KEY-----");
    {
        /* rawBytes as 0.2.0 wrote it: base64 of the PEM text */
        json_t *pk = json_object();
        set_b64(pk, "rawBytes", (const uint8_t *)pem, strlen(pem));
        json_object_set_new(json_object_get(j, "verificationMaterial"), "publicKey", pk);
    }
    out = jdump(j, &m);
    tu_assert_ok(aios_key_from_public_pem(&k, "golden", pem, strlen(pem)));
    tu_assert_ok(aios__mb_verify_key_ex(&st, &sg, (uint8_t *)out, m, k, MS1, 0));
    assert_true(st->flags & AIOS__MB_F_LEGACY);
    hexcmp(st->root, 32, ROOT_S1_S2);
    assert_int_equal(sg.method, AIOS__MB_METHOD_KEY);
    assert_int_equal(sg.legacy, 1);
    assert_string_equal(sg.hint,
                        "e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e");
    aios__mb_statement_free(st);
    tu_assert_status(aios__mb_verify_key_ex(&st, &sg, (uint8_t *)out, m, k, MS1,
                                            AIOS__MB_NO_LEGACY), AIOS_E_AUTH);
    assert_int_equal(sg.method, 0);   /* zeroed on failure */
    tu_assert_status(aios__mb_verify_key(&st, (uint8_t *)out, m, k, OMS1, 0), AIOS_E_AUTH);
    aios_key_unref(k);
    free(f);
    free(out);
    free(buf);
}

/* --------------------------------------- golden certificate bundles */

typedef struct gcert {
    const char *path;
    const char *root;
    int legacy;
    size_t ignore_count;
} gcert;

static const gcert GC[] = {
    { MT "/v0.2.0-certificate/model.sig", ROOT_S1_S2, 1, 0 },
    { MT "/v0.3.1-certificate/model.sig", ROOT_S1_S2, 0, 0 },
    { MT "/v1.0.0-certificate/model.sig", ROOT_S1_S2, 0, 0 },
    { MT "/v1.0.1-certificate/model.sig", ROOT_S1_S2, 0, 0 },
    { MT "/v1.1.0-certificate/model.sig", ROOT_S1_S2, 0, 6 },
    { SPEC "/valid/certificate.bundle.json", ROOT_S1N_S2, 0, 5 },
};
#define NGC (sizeof(GC) / sizeof(GC[0]))

static void test_golden_bundles(void **state)
{
    anchors root = anchors_files(KEYS "/ca-cert.pem", NULL);
    anchors der = anchors_files(KEYS "/ca-cert.pem", NULL);
    anchors wrong = anchors_files(FIX "/ca.pem", NULL);
    anchors other = anchors_files(FIX "/other-root.pem", NULL);
    blob rd = pem_der(KEYS "/ca-cert.pem");
    size_t i;
    (void)state;

    der.p[0] = rd.p;
    der.len[0] = rd.len;
    for (i = 0; i < NGC; i++) {
        const gcert *g = &GC[i];
        size_t n;
        uint8_t *buf = (uint8_t *)tu_read_file(g->path, &n);
        aios__mb_statement *st = NULL;
        aios__mb_signer sg;
        char *js;

        print_message("%s\n", g->path);
        tu_assert_ok(vcert(buf, n, &root, MS1, AIOS__MB_TIME_PROFILE, 0, 0, &sg, &st));
        hexcmp(st->root, 32, g->root);
        assert_int_equal(!!(st->flags & AIOS__MB_F_LEGACY), g->legacy);
        assert_int_equal(st->ignore_count, g->ignore_count);
        if (!g->legacy) {
            assert_int_equal(st->resource_count, 2);
            assert_string_equal(st->resources[0].name, "signme-1");
            assert_string_equal(st->resources[1].name, "signme-2");
            hexcmp(st->resources[1].digest, 32, D_S2);
            if (strcmp(g->root, ROOT_S1_S2) == 0)
                hexcmp(st->resources[0].digest, 32, D_S1);
        }
        aios__mb_statement_free(st);
        assert_int_equal(sg.method, AIOS__MB_METHOD_CHAIN);
        assert_int_equal(sg.legacy, g->legacy);
        assert_string_equal(sg.subject, "CN=intermediate-ca");
        assert_string_equal(sg.issuer, "CN=intermediate-ca");
        assert_int_equal(sg.not_before, G_NB);
        assert_int_equal(sg.not_after, G_NA);
        assert_int_equal(sg.checked_at, G_NB);   /* model-signing-1: leaf notBefore */
        assert_int_equal(sg.chain_len, 2);
        assert_int_equal(sg.path_len, 3);
        js = aios__mb_signer_json(&sg);
        assert_non_null(js);
        assert_string_equal(js, g->legacy ?
            "{\"method\":\"certificate\",\"subject\":\"CN=intermediate-ca\",\"issuer\":"
            "\"CN=intermediate-ca\",\"not_before\":1746228988,\"not_after\":2061588988,"
            "\"chain\":2,\"checked_at\":1746228988,\"legacy\":true}" :
            "{\"method\":\"certificate\",\"subject\":\"CN=intermediate-ca\",\"issuer\":"
            "\"CN=intermediate-ca\",\"not_before\":1746228988,\"not_after\":2061588988,"
            "\"chain\":2,\"checked_at\":1746228988}");
        aios__free(js);
        /* DER anchor, fixed times, now */
        tu_assert_ok(vcert(buf, n, &der, MS1, AIOS__MB_TIME_NOW, 0, 0, &sg, NULL));
        assert_true(sg.checked_at > G_NB);
        tu_assert_ok(vcert(buf, n, &der, MS1, AIOS__MB_TIME_FIXED, 1900000000, 0, &sg, NULL));
        assert_int_equal(sg.checked_at, 1900000000);
        tu_assert_status(vcert(buf, n, &der, MS1, AIOS__MB_TIME_FIXED, 1735689600, 0, NULL, NULL),
                         AIOS_E_MANIFEST_CHAIN);    /* 2025-01-01: before notBefore */
        tu_assert_status(vcert(buf, n, &der, MS1, AIOS__MB_TIME_FIXED, 2082758400, 0, NULL, NULL),
                         AIOS_E_MANIFEST_CHAIN);    /* 2036-01-01: after notAfter */
        /* oms-1.0: now; no legacy PAE */
        if (g->legacy) {
            tu_assert_status(vcert(buf, n, &root, OMS1, AIOS__MB_TIME_PROFILE, 0, 0, NULL, NULL),
                             AIOS_E_AUTH);
            tu_assert_status(vcert(buf, n, &root, MS1, AIOS__MB_TIME_PROFILE, 0,
                                   AIOS__MB_NO_LEGACY, NULL, NULL), AIOS_E_AUTH);
        } else {
            tu_assert_ok(vcert(buf, n, &root, OMS1, AIOS__MB_TIME_PROFILE, 0, 0, &sg, NULL));
            assert_true(sg.checked_at > G_NB);
        }
        /* wrong anchors, no anchor */
        tu_assert_status(vcert(buf, n, &wrong, MS1, AIOS__MB_TIME_PROFILE, 0, 0, &sg, NULL),
                         AIOS_E_MANIFEST_CHAIN);
        assert_int_equal(sg.method, 0);
        tu_assert_status(vcert(buf, n, &other, MS1, AIOS__MB_TIME_PROFILE, 0, 0, NULL, NULL),
                         AIOS_E_MANIFEST_CHAIN);
        {
            aios__mb_statement *x = NULL;
            tu_assert_status(aios__mb_verify_certificate(&x, NULL, buf, n, NULL, NULL, 0, MS1,
                                                         AIOS__MB_TIME_PROFILE, 0, 0),
                             AIOS_E_INVALID_ARGUMENT);
            tu_assert_status(aios__mb_verify_certificate(&x, NULL, buf, n, root.p, root.len, 1,
                                                         MS1, 7, 0, 0),
                             AIOS_E_INVALID_ARGUMENT);
            assert_null(x);
        }
        /* the unsigned signer view */
        {
            aios__mb_bundle *b = NULL;
            tu_assert_ok(aios__mb_bundle_parse(&b, buf, n, 0, MS1));
            tu_assert_ok(aios__mb_bundle_signer(&sg, b));
            assert_int_equal(sg.method, AIOS__MB_METHOD_CHAIN);
            assert_string_equal(sg.subject, "CN=intermediate-ca");
            assert_int_equal(sg.chain_len, 2);
            assert_int_equal(sg.path_len, 0);
            aios__mb_bundle_free(b);
        }
        free(buf);
    }
    free(rd.p);
    anchors_free(&root);
    anchors_free(&wrong);
    anchors_free(&other);
    /* der's p[0] pointed into rd, its own blob is still ours */
    free(der.keep[0].p);
}

/* Methods: key bundles refused by the certificate method, keyless ones
 * unsupported, certificate bundles refused by the key method. */
static void test_methods(void **state)
{
    static const char *const keyb[] = { MT "/v1.1.0-elliptic-key/model.sig",
                                        MT "/v1.0.1-elliptic-key/model.sig",
                                        SPEC "/valid/key.bundle.json" };
    static const char *const keyless[] = { MT "/v1.1.0-sigstore/model.sig",
                                           SPEC "/valid/sigstore.bundle.json" };
    anchors root = anchors_files(KEYS "/ca-cert.pem", NULL);
    size_t i, n, pl;
    uint8_t *buf;
    char *f = tu_read_file(KEYS "/signing-key-pub.pem", &pl);
    aios_key *k = NULL;
    aios__mb_statement *st = NULL;
    aios__mb_bundle *b = NULL;
    aios__mb_signer sg;
    char *js;
    (void)state;

    tu_assert_ok(aios_key_from_public_pem(&k, "golden", strstr(f, "-----BEGIN"),
                                          strlen(strstr(f, "-----BEGIN"))));
    for (i = 0; i < 3; i++) {
        buf = (uint8_t *)tu_read_file(keyb[i], &n);
        tu_assert_status(vcert(buf, n, &root, MS1, AIOS__MB_TIME_PROFILE, 0, 0, NULL, NULL),
                         AIOS_E_MANIFEST_METHOD);
        tu_assert_ok(aios__mb_verify_key_ex(&st, &sg, buf, n, k, MS1, 0));
        assert_int_equal(sg.method, AIOS__MB_METHOD_KEY);
        assert_int_equal(sg.legacy, 0);
        aios__mb_statement_free(st);
        js = aios__mb_signer_json(&sg);
        assert_string_equal(js, "{\"method\":\"key\",\"hint\":"
                            "\"e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e\"}");
        aios__free(js);
        tu_assert_ok(aios__mb_bundle_parse(&b, buf, n, 0, MS1));
        tu_assert_ok(aios__mb_bundle_signer(&sg, b));
        assert_string_equal(sg.hint, i == 1 ? "" :
                            "e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e");
        aios__mb_bundle_free(b);
        free(buf);
    }
    for (i = 0; i < 2; i++) {
        buf = (uint8_t *)tu_read_file(keyless[i], &n);
        tu_assert_status(vcert(buf, n, &root, MS1, AIOS__MB_TIME_PROFILE, 0, 0, NULL, NULL),
                         AIOS__MB_E_METHOD);   /* aios_manifest_verify_sigstore's */
        tu_assert_ok(aios__mb_bundle_parse(&b, buf, n, 0, MS1));
        tu_assert_ok(aios__mb_bundle_signer(&sg, b));
        assert_int_equal(sg.method, AIOS__MB_METHOD_KEYLESS);
        assert_string_equal(sg.subject, "");   /* Fulcio: the identity is in the SAN */
        assert_string_equal(sg.issuer, "O=sigstore.dev, CN=sigstore-intermediate");
        js = aios__mb_signer_json(&sg);
        assert_non_null(strstr(js, "{\"method\":\"keyless\",\"subject\":\"\",\"issuer\":"));
        aios__free(js);
        aios__mb_bundle_free(b);
        free(buf);
    }
    buf = (uint8_t *)tu_read_file(MT "/v1.0.0-certificate/model.sig", &n);
    tu_assert_status(aios__mb_verify_key(&st, buf, n, k, MS1, 0), AIOS_E_MANIFEST_METHOD);
    free(buf);
    aios_key_unref(k);
    free(f);
    anchors_free(&root);
}

/* Edits of a golden certificate bundle. */
static void test_golden_edits(void **state)
{
    anchors root = anchors_files(KEYS "/ca-cert.pem", NULL);
    anchors both = anchors_files(KEYS "/ca-cert.pem", FIX "/ca.pem");
    size_t n, m, pl, sl, pos, i;
    uint8_t *buf = (uint8_t *)tu_read_file(MT "/v1.1.0-certificate/model.sig", &n);
    uint8_t *pay, *sig;
    json_t *j, *s0;
    char *out;
    blob mine = pem_der(FIX "/leaf.pem"), mint = pem_der(FIX "/int.pem");
    (void)state;

    j = jload(buf, n);
    pay = get_b64(json_object_get(json_object_get(j, "dsseEnvelope"), "payload"), &pl);
    s0 = json_array_get(json_object_get(json_object_get(j, "dsseEnvelope"), "signatures"), 0);
    sig = get_b64(json_object_get(s0, "sig"), &sl);
    json_decref(j);
    for (pos = 0; pos < pl; pos += 41) {
        j = jload(buf, n);
        pay[pos] ^= 0x01;
        set_b64(json_object_get(j, "dsseEnvelope"), "payload", pay, pl);
        pay[pos] ^= 0x01;
        out = jdump(j, &m);
        tu_assert_status(vcert((uint8_t *)out, m, &root, MS1, 0, 0, 0, NULL, NULL), AIOS_E_AUTH);
        free(out);
    }
    for (pos = 0; pos < sl; pos++) {
        j = jload(buf, n);
        s0 = json_array_get(json_object_get(json_object_get(j, "dsseEnvelope"), "signatures"), 0);
        sig[pos] ^= 0x80;
        set_b64(s0, "sig", sig, sl);
        sig[pos] ^= 0x80;
        out = jdump(j, &m);
        tu_assert_status(vcert((uint8_t *)out, m, &root, MS1, 0, 0, 0, NULL, NULL), AIOS_E_AUTH);
        free(out);
    }
    /* another valid chain (our fixtures, trusted too): the signature is
     * not that leaf's */
    j = jload(buf, n);
    json_array_clear(certs_of(j));
    s0 = json_object();
    set_b64(s0, "rawBytes", mine.p, mine.len);
    json_array_append_new(certs_of(j), s0);
    s0 = json_object();
    set_b64(s0, "rawBytes", mint.p, mint.len);
    json_array_append_new(certs_of(j), s0);
    out = jdump(j, &m);
    tu_assert_status(vcert((uint8_t *)out, m, &both, MS1, 0, 0, 0, NULL, NULL), AIOS_E_AUTH);
    assert_non_null(strstr(aios_last_error_message(), "CN=aios test signer"));
    tu_assert_status(vcert((uint8_t *)out, m, &root, MS1, 0, 0, 0, NULL, NULL),
                     AIOS_E_MANIFEST_CHAIN);
    free(out);
    /* the intermediate dropped: no path */
    j = jload(buf, n);
    json_array_remove(certs_of(j), 1);
    out = jdump(j, &m);
    tu_assert_status(vcert((uint8_t *)out, m, &root, MS1, 0, 0, 0, NULL, NULL),
                     AIOS_E_MANIFEST_CHAIN);
    free(out);
    /* nine certificates: LIMIT; eight (the intermediate repeated): fine */
    for (i = 7; i <= 8; i++) {
        size_t k;
        j = jload(buf, n);
        for (k = 0; k < i - 1; k++)
            json_array_append_new(certs_of(j), json_deep_copy(json_array_get(certs_of(j), 1)));
        out = jdump(j, &m);
        if (i == 7)
            tu_assert_ok(vcert((uint8_t *)out, m, &root, MS1, 0, 0, 0, NULL, NULL));
        else
            tu_assert_status(vcert((uint8_t *)out, m, &root, MS1, 0, 0, 0, NULL, NULL),
                             AIOS_E_LIMIT);
        free(out);
    }
    /* a leaf that is not DER */
    j = jload(buf, n);
    json_object_set_new(json_array_get(certs_of(j), 0), "rawBytes", json_string("MAMCAQE="));
    out = jdump(j, &m);
    tu_assert_status(vcert((uint8_t *)out, m, &root, MS1, 0, 0, 0, NULL, NULL), AIOS_E_FORMAT);
    free(out);
    free(mine.p);
    free(mint.p);
    free(pay);
    free(sig);
    free(buf);
    anchors_free(&root);
    anchors_free(&both);
}

/* -------------------------------------------------------- signing */

static aios__mb_statement small_statement(aios__mb_resource *r)
{
    aios__mb_statement st;
    memset(&st, 0, sizeof(st));
    memset(r, 0, 2 * sizeof(*r));
    r[0].name = "a";
    r[0].name_len = r[0].path_len = 1;
    r[0].digest_len = 32;
    memset(r[0].digest, 0x11, 32);
    r[1].name = "b/c";
    r[1].name_len = r[1].path_len = 3;
    r[1].digest_len = 32;
    memset(r[1].digest, 0x22, 32);
    st.subject_name = "model";
    st.method = AIOS__MB_FILES;
    st.hash_type = AIOS__MB_SHA256;
    st.resources = r;
    st.resource_count = 2;
    return st;
}

static int sign_with(aios_buffer **out, const aios__mb_statement *st, const aios_key *k,
                     const char *leaf, const char *i1, const char *i2, int profile)
{
    blob c[3];
    const uint8_t *p[3];
    size_t l[3], n = 0, i;
    int rc;

    c[n] = pem_der(leaf);
    n++;
    if (i1) {
        c[n] = pem_der(i1);
        n++;
    }
    if (i2) {
        c[n] = pem_der(i2);
        n++;
    }
    for (i = 0; i < n; i++) {
        p[i] = c[i].p;
        l[i] = c[i].len;
    }
    rc = aios__mb_sign_certificate(out, st, k, p, l, n, profile);
    if (rc == AIOS_OK)
        assert_non_null(*out);
    else
        assert_null(*out);
    for (i = 0; i < n; i++)
        free(c[i].p);
    return rc;
}

static void test_sign_round_trip(void **state)
{
    char *dir = kt_tmpdir();
    aios_keyring_options o = kt_raw();
    aios_keyring *kr = NULL;
    aios_key *k = NULL, *g = NULL, *ed = NULL;
    aios__mb_resource r[2];
    aios__mb_statement st = small_statement(r), *out = NULL;
    aios__mb_signer sg;
    aios_buffer *bundle = NULL;
    anchors mine = anchors_files(FIX "/ca.pem", NULL);
    anchors golden = anchors_files(KEYS "/ca-cert.pem", NULL);
    blob leaf = pem_der(FIX "/leaf.pem"), inter = pem_der(FIX "/int.pem");
    size_t n, i;
    char *pem, *sk;
    (void)state;

    tu_assert_ok(aios_keyring_create(&kr, kt_path(dir, "keys.aioskr", 0), &o));
    pem = tu_read_file(FIX "/leaf.key", &n);
    tu_assert_ok(aios_keyring_import(kr, &k, "signer", AIOS_KEY_ECDSA_P256, (uint8_t *)pem, n,
                                     NULL));
    free(pem);
    pem = tu_read_file(KEYS "/signing-key.pem", &n);
    sk = strstr(pem, "-----BEGIN");
    tu_assert_ok(aios_keyring_import(kr, &g, "golden", AIOS_KEY_ECDSA_P384, (uint8_t *)sk,
                                     strlen(sk), NULL));
    free(pem);

    /* P-256 with our chain: the bundle, then verified with our root */
    tu_assert_ok(sign_with(&bundle, &st, k, FIX "/leaf.pem", FIX "/int.pem", NULL, MS1));
    {
        const char *s = (const char *)aios_buffer_data(bundle);
        static const char head[] = "{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\","
            "\"verificationMaterial\":{\"x509CertificateChain\":{\"certificates\":[{\"rawBytes\":\"";
        json_t *j = jload(aios_buffer_data(bundle), aios_buffer_len(bundle));
        json_t *c = certs_of(j);
        uint8_t *d;
        size_t dl;
        assert_memory_equal(s, head, sizeof(head) - 1);
        assert_non_null(strstr(s, "\"}]},\"tlogEntries\":[]},\"dsseEnvelope\":{\"payload\":\""));
        assert_non_null(strstr(s, "\"keyid\":\"\"}]}}"));
        assert_int_equal(json_array_size(c), 2);
        d = get_b64(json_object_get(json_array_get(c, 0), "rawBytes"), &dl);
        assert_int_equal(dl, leaf.len);
        assert_memory_equal(d, leaf.p, dl);
        free(d);
        d = get_b64(json_object_get(json_array_get(c, 1), "rawBytes"), &dl);
        assert_int_equal(dl, inter.len);
        assert_memory_equal(d, inter.p, dl);
        free(d);
        json_decref(j);
    }
    for (i = 0; i < 2; i++) {
        tu_assert_ok(vcert(aios_buffer_data(bundle), aios_buffer_len(bundle), &mine,
                           i ? OMS1 : MS1, AIOS__MB_TIME_PROFILE, 0, 0, &sg, &out));
        assert_string_equal(out->subject_name, "model");
        assert_int_equal(out->resource_count, 2);
        assert_string_equal(out->resources[1].name, "b/c");
        {
            uint8_t cat[64], root[32];
            memcpy(cat, r[0].digest, 32);
            memcpy(cat + 32, r[1].digest, 32);
            aios__sha256(root, cat, 64);
            assert_memory_equal(out->root, root, 32);
        }
        aios__mb_statement_free(out);
        assert_string_equal(sg.subject, "CN=aios test signer");
        assert_string_equal(sg.issuer, "CN=aios test intermediate");
        assert_int_equal(sg.chain_len, 2);
        assert_int_equal(sg.path_len, 3);
    }
    tu_assert_status(vcert(aios_buffer_data(bundle), aios_buffer_len(bundle), &golden, MS1,
                           AIOS__MB_TIME_PROFILE, 0, 0, NULL, NULL), AIOS_E_MANIFEST_CHAIN);
    /* the key method does not take it */
    tu_assert_status(aios__mb_verify_key(&out, aios_buffer_data(bundle), aios_buffer_len(bundle),
                                         k, MS1, 0), AIOS_E_MANIFEST_METHOD);
    /* an RSA leaf in its place: a valid chain, an unusable key */
    {
        blob rsa = pem_der(FIX "/leaf-rsa.pem");
        json_t *j = jload(aios_buffer_data(bundle), aios_buffer_len(bundle));
        char *s;
        size_t m;
        set_b64(json_array_get(certs_of(j), 0), "rawBytes", rsa.p, rsa.len);
        s = jdump(j, &m);
        tu_assert_status(vcert((uint8_t *)s, m, &mine, MS1, AIOS__MB_TIME_PROFILE, 0, 0, NULL,
                               NULL), AIOS_E_UNSUPPORTED);
        free(s);
        free(rsa.p);
    }
    aios_buffer_free(bundle);
    bundle = NULL;

    /* P-384 with the golden key and chain, verified with the golden root */
    tu_assert_ok(sign_with(&bundle, &st, g, KEYS "/signing-key-cert.pem", KEYS "/int-ca-cert.pem",
                           NULL, OMS1));
    tu_assert_ok(vcert(aios_buffer_data(bundle), aios_buffer_len(bundle), &golden, OMS1,
                       AIOS__MB_TIME_PROFILE, 0, 0, &sg, NULL));
    assert_string_equal(sg.subject, "CN=intermediate-ca");
    aios_buffer_free(bundle);
    bundle = NULL;

    /* two intermediates given root-side first */
    tu_assert_ok(sign_with(&bundle, &st, k, FIX "/leaf-deep.pem", FIX "/int.pem",
                           FIX "/int2.pem", MS1));
    tu_assert_ok(vcert(aios_buffer_data(bundle), aios_buffer_len(bundle), &mine, MS1,
                       AIOS__MB_TIME_PROFILE, 0, 0, &sg, NULL));
    assert_int_equal(sg.chain_len, 3);
    assert_int_equal(sg.path_len, 4);
    aios_buffer_free(bundle);
    bundle = NULL;

    /* signing does not judge usage or time; verifying does */
    tu_assert_ok(sign_with(&bundle, &st, k, FIX "/leaf-nousage.pem", FIX "/int.pem", NULL, MS1));
    tu_assert_status(vcert(aios_buffer_data(bundle), aios_buffer_len(bundle), &mine, MS1,
                           AIOS__MB_TIME_PROFILE, 0, 0, NULL, NULL), AIOS_E_MANIFEST_CERT_USAGE);
    aios_buffer_free(bundle);
    bundle = NULL;
    tu_assert_ok(sign_with(&bundle, &st, k, FIX "/leaf-expired.pem", FIX "/int.pem", NULL, MS1));
    tu_assert_ok(vcert(aios_buffer_data(bundle), aios_buffer_len(bundle), &mine, MS1,
                       AIOS__MB_TIME_PROFILE, 0, 0, &sg, NULL));   /* leaf notBefore */
    assert_int_equal(sg.checked_at, F_NB);
    tu_assert_ok(vcert(aios_buffer_data(bundle), aios_buffer_len(bundle), &mine, OMS1,
                       AIOS__MB_TIME_LEAF_NOT_BEFORE, 0, 0, NULL, NULL));
    tu_assert_status(vcert(aios_buffer_data(bundle), aios_buffer_len(bundle), &mine, OMS1,
                           AIOS__MB_TIME_PROFILE, 0, 0, NULL, NULL), AIOS_E_MANIFEST_CHAIN);
    tu_assert_status(vcert(aios_buffer_data(bundle), aios_buffer_len(bundle), &mine, MS1,
                           AIOS__MB_TIME_NOW, 0, 0, NULL, NULL), AIOS_E_MANIFEST_CHAIN);
    tu_assert_ok(vcert(aios_buffer_data(bundle), aios_buffer_len(bundle), &mine, MS1,
                       AIOS__MB_TIME_FIXED, F_NB + 86400, 0, NULL, NULL));
    aios_buffer_free(bundle);
    bundle = NULL;

    /* the leaf must hold the signing key */
    tu_assert_status(sign_with(&bundle, &st, g, FIX "/leaf.pem", FIX "/int.pem", NULL, MS1),
                     AIOS_E_MANIFEST_KEY_MISMATCH);
    tu_assert_status(sign_with(&bundle, &st, k, KEYS "/signing-key-cert.pem", NULL, NULL, MS1),
                     AIOS_E_MANIFEST_KEY_MISMATCH);
    tu_assert_status(sign_with(&bundle, &st, k, FIX "/leaf-rsa.pem", NULL, NULL, MS1),
                     AIOS_E_MANIFEST_KEY_MISMATCH);
    /* Ed25519: no certificates */
    tu_assert_ok(aios_keyring_add(kr, &ed, "ed", AIOS_KEY_ED25519, NULL));
    tu_assert_status(sign_with(&bundle, &st, ed, FIX "/leaf.pem", NULL, NULL, MS1),
                     AIOS_E_UNSUPPORTED);
    /* arguments, limits, malformed certificates */
    {
        const uint8_t *p[AIOS__MB_CERTS_MAX + 1];
        size_t l[AIOS__MB_CERTS_MAX + 1];
        for (i = 0; i < AIOS__MB_CERTS_MAX + 1; i++) {
            p[i] = i ? inter.p : leaf.p;
            l[i] = i ? inter.len : leaf.len;
        }
        tu_assert_status(aios__mb_sign_certificate(&bundle, &st, k, p, l, 0, MS1),
                         AIOS_E_INVALID_ARGUMENT);
        tu_assert_status(aios__mb_sign_certificate(&bundle, &st, k, p, l, AIOS__MB_CERTS_MAX + 1,
                                                   MS1), AIOS_E_LIMIT);
        tu_assert_ok(aios__mb_sign_certificate(&bundle, &st, k, p, l, AIOS__MB_CERTS_MAX, MS1));
        aios_buffer_free(bundle);
        bundle = NULL;
        l[1] = inter.len - 1;
        tu_assert_status(aios__mb_sign_certificate(&bundle, &st, k, p, l, 2, MS1),
                         AIOS_E_FORMAT);
        l[1] = AIOS__MB_CERT_MAX + 1;
        tu_assert_status(aios__mb_sign_certificate(&bundle, &st, k, p, l, 2, MS1), AIOS_E_LIMIT);
        assert_null(bundle);
    }
    aios_key_unref(ed);
    aios_key_unref(k);
    aios_key_unref(g);
    aios_keyring_free(kr);
    kt_rmtree(dir);
    free(leaf.p);
    free(inter.p);
    anchors_free(&mine);
    anchors_free(&golden);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_x509_golden),
        cmocka_unit_test(test_x509_fixtures),
        cmocka_unit_test(test_legacy_sha256),
        cmocka_unit_test(test_golden_bundles),
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_golden_edits),
        cmocka_unit_test(test_sign_round_trip),
    };
    if (aios_init() != AIOS_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
