/*
 * lib/manifest/bundle.c: the OMS bundle / DSSE / statement codec and the
 * key method (docs/MANIFEST.md 3-11), against the golden data in
 * ../shared/vectors/oms (docs/MANIFEST_VECTORS.md), read in place.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_keyring_util.h"
#include "core/internal.h"
#include "crypto/crypto.h"
#include "manifest/bundle.h"

#define OMS  AIOS_TEST_VECTORS "/oms"
#define MT   OMS "/model-transparency"
#define SPEC OMS "/oms-spec/v1.0"

#define HINT "e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e"
#define D_S1  "f6310066c7320497ea554260c32c43660bff648cb2a61194832cc086077085e1"
#define D_S1N "bc9a717db6064a32cbe9eae6fc40651dd6d36ef1757183f590eff2b1765d7ebc"
#define D_S2  "32dcb1f8e1ae52d5963e56a6ba06ab58b424c15ed2a6b70d2feca1d089370028"
#define ROOT_S1_S2  "61d4849d9d90076d6215f4d525f13d6574af8e3f67aef3e6f36fc40a14fdd226"
#define ROOT_S1N    "afa48c8674afe334b8a7dea34f7b46ab256e9255edf8da2132792341b667a45b"
#define ROOT_S1N_S2 "92745110b1ab4368471cbe31664e10174e954b113a3df333db860317b2c6dec4"

#define MS1 AIOS__MB_PROFILE_MODEL_SIGNING_1
#define OMS1 AIOS__MB_PROFILE_OMS_1_0

/* ------------------------------------------------------------ helpers */

static aios_key *golden_key(void)
{
    size_t n;
    char *f = tu_read_file(MT "/keys/certificate/signing-key-pub.pem", &n);
    const char *pem = strstr(f, "-----BEGIN PUBLIC KEY-----");
    aios_key *k = NULL;
    assert_non_null(pem);
    tu_assert_ok(aios_key_from_public_pem(&k, "golden", pem, strlen(pem)));
    free(f);
    return k;
}

static aios_key *fresh_public(aios_key_type type)
{
    aios__ec_curve c = type == AIOS_KEY_ECDSA_P256 ? AIOS__EC_P256 : AIOS__EC_P384;
    uint8_t sk[48], pk[97];
    char pem[AIOS__SPKI_PEM_MAX];
    size_t pl;
    aios_key *k = NULL;
    tu_assert_ok(aios__ecdsa_keypair(c, sk, pk));
    tu_assert_ok(aios__spki_encode_pem(pem, sizeof(pem), &pl,
                                       c == AIOS__EC_P256 ? AIOS__KEYENC_P256 : AIOS__KEYENC_P384,
                                       pk, aios__ec_point_len(c)));
    tu_assert_ok(aios_key_from_public_pem(&k, "other", pem, pl));
    return k;
}

static void hexcmp(const uint8_t *got, size_t n, const char *want)
{
    char h[129];
    tu_assert_ok(aios__hex_encode(h, sizeof(h), got, n));
    assert_string_equal(h, want);
}

static uint8_t *read_bytes(const char *path, size_t *n)
{
    return (uint8_t *)tu_read_file(path, n);
}

/* A JSON document to edit, dumped back compactly. */
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

static json_t *jpath(json_t *root, const char *a, const char *b)
{
    json_t *x = json_object_get(root, a);
    return b ? json_object_get(x, b) : x;
}

/* base64 member -> bytes (malloc'd) */
static uint8_t *b64_get(json_t *s, size_t *n)
{
    size_t len = json_string_length(s);
    uint8_t *p = malloc(len + 3);
    assert_non_null(p);
    tu_assert_ok(aios__mb_base64_decode(p, len + 3, n, json_string_value(s), len));
    return p;
}

static void b64_set(json_t *obj, const char *key, const uint8_t *p, size_t n, aios__b64_variant v)
{
    size_t cap = aios__base64_encoded_len(n, v);
    char *s = malloc(cap);
    tu_assert_ok(aios__base64_encode(s, cap, p, n, v));
    assert_int_equal(json_object_set_new(obj, key, json_string(s)), 0);
    free(s);
}

static int verify_buf(const char *buf, size_t n, const aios_key *k, int profile, uint32_t flags)
{
    aios__mb_statement *st = NULL;
    int rc = aios__mb_verify_key(&st, (const uint8_t *)buf, n, k, profile, flags);
    if (rc == AIOS_OK)
        assert_non_null(st);
    else
        assert_null(st);
    aios__mb_statement_free(st);
    return rc;
}

/* ------------------------------------------------ golden key bundles */

typedef struct golden {
    const char *path;
    const char *subject;          /* NULL: the folder name (not checked) */
    const char *root;
    size_t nres;
    const char *names[2];
    const char *digests[2];
    size_t ignore_count;
    int has_hint, has_raw;
    const char *pae8;             /* first 8 bytes of SHA-256(PAE), hex */
    size_t payload_len;
} golden;

static const golden GOLDEN[] = {
    { MT "/v0.3.1-elliptic-key/model.sig", "signme-1", ROOT_S1N, 1, { ".", NULL },
      { D_S1N, NULL }, 0, 0, 1, "6aa0042a4bff17ac", 590 },
    { MT "/v1.0.0-elliptic-key/model.sig", "signme-1", ROOT_S1N, 1, { ".", NULL },
      { D_S1N, NULL }, 0, 0, 1, "b9553cafb2addca6", 590 },
    { MT "/v1.0.1-elliptic-key/model.sig", "v1.0.1-elliptic-key", ROOT_S1N_S2, 2,
      { "signme-1", "signme-2" }, { D_S1N, D_S2 }, 0, 0, 1, "f3d9d786b2af802b", 769 },
    { MT "/v1.1.0-elliptic-key/model.sig", "v1.1.0-elliptic-key", ROOT_S1N_S2, 2,
      { "signme-1", "signme-2" }, { D_S1N, D_S2 }, 6, 1, 0, "56c34fe75ca78f05", 926 },
    { SPEC "/valid/key.bundle.json", "model", ROOT_S1N_S2, 2,
      { "signme-1", "signme-2" }, { D_S1N, D_S2 }, 5, 1, 0, NULL, 0 },
};
#define NGOLDEN (sizeof(GOLDEN) / sizeof(GOLDEN[0]))

static void check_statement(const aios__mb_statement *st, const golden *g)
{
    size_t i;
    hexcmp(st->root, 32, g->root);
    assert_string_equal(st->subject_name, g->subject);
    assert_int_equal(st->method, AIOS__MB_FILES);
    assert_int_equal(st->hash_type, AIOS__MB_SHA256);
    assert_int_equal(st->allow_symlinks, 0);
    assert_int_equal(st->resource_count, g->nres);
    assert_int_equal(st->ignore_count, g->ignore_count);
    for (i = 0; i < g->nres; i++) {
        assert_string_equal(st->resources[i].name, g->names[i]);
        assert_int_equal(st->resources[i].digest_len, 32);
        hexcmp(st->resources[i].digest, 32, g->digests[i]);
    }
    assert_int_equal(!!(st->flags & AIOS__MB_F_SINGLE_FILE), g->nres == 1);
}

static void test_golden_verify(void **state)
{
    aios_key *k = golden_key(), *p256 = fresh_public(AIOS_KEY_ECDSA_P256);
    aios_key *p384 = fresh_public(AIOS_KEY_ECDSA_P384);
    char hint[65];
    size_t i;
    (void)state;

    tu_assert_ok(aios__mb_key_hint(hint, k));
    assert_string_equal(hint, HINT);
    for (i = 0; i < NGOLDEN; i++) {
        const golden *g = &GOLDEN[i];
        size_t n;
        uint8_t *buf = read_bytes(g->path, &n);
        aios__mb_statement *st = NULL;
        aios__mb_bundle *b = NULL;

        print_message("%s\n", g->path);
        tu_assert_ok(aios__mb_verify_key(&st, buf, n, k, MS1, 0));
        check_statement(st, g);
        aios__mb_statement_free(st);
        /* the oms-1.0 profile: the same (they are sorted, named, keyed) */
        if (g->nres > 1) {
            tu_assert_ok(aios__mb_verify_key(&st, buf, n, k, OMS1, 0));
            aios__mb_statement_free(st);
        }
        /* the bundle's fields and the PAE known answer */
        tu_assert_ok(aios__mb_bundle_parse(&b, buf, n, 0, MS1));
        assert_int_equal(b->method, AIOS__MB_METHOD_KEY);
        assert_int_equal(b->hint != NULL, g->has_hint);
        assert_int_equal(b->raw_key != NULL, g->has_raw);
        if (g->has_hint)
            assert_string_equal(b->hint, HINT);
        if (g->has_raw) {
            assert_int_equal(b->raw_key_len, 215);
            assert_memory_equal(b->raw_key, "-----BEGIN PUBLIC KEY-----\n", 27);
        }
        if (g->pae8) {
            uint8_t *pae, d[32];
            size_t pl;
            char h[65];
            assert_int_equal(b->payload_len, g->payload_len);
            tu_assert_ok(aios__mb_pae(&pae, &pl, b->payload, b->payload_len));
            aios__sha256(d, pae, pl);
            tu_assert_ok(aios__hex_encode(h, sizeof(h), d, 32));
            assert_memory_equal(h, g->pae8, 16);
            aios__free(pae);
        }
        aios__mb_bundle_free(b);

        /* another key: the hint or rawBytes names the golden key */
        tu_assert_status(verify_buf((char *)buf, n, p384, MS1, 0), AIOS__MB_E_KEY_MISMATCH);
        tu_assert_status(verify_buf((char *)buf, n, p256, MS1, 0), AIOS__MB_E_KEY_MISMATCH);
        if (g->has_hint)   /* hint skipped: the signature itself fails */
            tu_assert_status(verify_buf((char *)buf, n, p384, MS1, AIOS__MB_IGNORE_HINT),
                             AIOS_E_AUTH);
        free(buf);
    }
    aios_key_unref(k);
    aios_key_unref(p256);
    aios_key_unref(p384);
}

/* Edits of each golden key bundle: flips, extra signature, hint removed,
 * URL-safe unpadded base64, mixed alphabets. */
static void test_golden_edits(void **state)
{
    aios_key *k = golden_key(), *p384 = fresh_public(AIOS_KEY_ECDSA_P384);
    size_t i;
    (void)state;

    for (i = 0; i < NGOLDEN; i++) {
        size_t n, pl, sl, m;
        uint8_t *buf = read_bytes(GOLDEN[i].path, &n);
        json_t *j, *env, *s0;
        uint8_t *pay, *sig;
        char *out;
        size_t pos;

        /* payload flips (every 37th byte, so each region is hit) */
        j = jload(buf, n);
        pay = b64_get(jpath(j, "dsseEnvelope", "payload"), &pl);
        json_decref(j);
        for (pos = 0; pos < pl; pos += 37) {
            j = jload(buf, n);
            pay[pos] ^= 0x01;
            b64_set(json_object_get(j, "dsseEnvelope"), "payload", pay, pl, AIOS__B64_STANDARD);
            pay[pos] ^= 0x01;
            out = jdump(j, &m);
            tu_assert_status(verify_buf(out, m, k, MS1, 0), AIOS_E_AUTH);
            free(out);
        }
        /* signature flips: each byte */
        j = jload(buf, n);
        s0 = json_array_get(jpath(j, "dsseEnvelope", "signatures"), 0);
        sig = b64_get(json_object_get(s0, "sig"), &sl);
        json_decref(j);
        for (pos = 0; pos < sl; pos++) {
            j = jload(buf, n);
            s0 = json_array_get(jpath(j, "dsseEnvelope", "signatures"), 0);
            sig[pos] ^= 0x80;
            b64_set(s0, "sig", sig, sl, AIOS__B64_STANDARD);
            sig[pos] ^= 0x80;
            out = jdump(j, &m);
            tu_assert_status(verify_buf(out, m, k, MS1, 0), AIOS_E_AUTH);
            free(out);
        }
        /* URL-safe without padding: accepted (3.5) */
        j = jload(buf, n);
        env = json_object_get(j, "dsseEnvelope");
        s0 = json_array_get(json_object_get(env, "signatures"), 0);
        b64_set(env, "payload", pay, pl, AIOS__B64_URLSAFE_NOPAD);
        b64_set(s0, "sig", sig, sl, AIOS__B64_URLSAFE_NOPAD);
        out = jdump(j, &m);
        tu_assert_ok(verify_buf(out, m, k, MS1, 0));
        free(out);
        /* a second signature (a copy of the first, even): refused */
        j = jload(buf, n);
        s0 = json_array_get(jpath(j, "dsseEnvelope", "signatures"), 0);
        json_array_append_new(jpath(j, "dsseEnvelope", "signatures"), json_deep_copy(s0));
        out = jdump(j, &m);
        tu_assert_status(verify_buf(out, m, k, MS1, 0), AIOS__MB_E_SIGNATURES);
        free(out);
        /* no signature */
        j = jload(buf, n);
        json_array_clear(jpath(j, "dsseEnvelope", "signatures"));
        out = jdump(j, &m);
        tu_assert_status(verify_buf(out, m, k, MS1, 0), AIOS__MB_E_SIGNATURES);
        free(out);
        /* key material removed: a wrong key now fails on the signature;
         * the oms-1.0 profile wants hint or rawBytes */
        j = jload(buf, n);
        json_object_set_new(json_object_get(j, "verificationMaterial"), "publicKey", json_object());
        out = jdump(j, &m);
        tu_assert_status(verify_buf(out, m, p384, MS1, 0), AIOS_E_AUTH);
        tu_assert_ok(verify_buf(out, m, k, MS1, 0));
        tu_assert_status(verify_buf(out, m, k, OMS1, 0), AIOS_E_FORMAT);
        free(out);
        /* keyid: null, "", absent, any string accepted; a number refused */
        j = jload(buf, n);
        s0 = json_array_get(jpath(j, "dsseEnvelope", "signatures"), 0);
        json_object_set_new(s0, "keyid", json_string("whatever"));
        out = jdump(j, &m);
        tu_assert_ok(verify_buf(out, m, k, MS1, 0));
        free(out);
        j = jload(buf, n);
        s0 = json_array_get(jpath(j, "dsseEnvelope", "signatures"), 0);
        json_object_del(s0, "keyid");
        out = jdump(j, &m);
        tu_assert_ok(verify_buf(out, m, k, MS1, 0));
        free(out);
        j = jload(buf, n);
        s0 = json_array_get(jpath(j, "dsseEnvelope", "signatures"), 0);
        json_object_set_new(s0, "keyid", json_integer(1));
        out = jdump(j, &m);
        tu_assert_status(verify_buf(out, m, k, MS1, 0), AIOS_E_FORMAT);
        free(out);
        /* a hint that is not hex */
        j = jload(buf, n);
        json_object_set_new(jpath(j, "verificationMaterial", "publicKey"), "hint",
                            json_string("zz"));
        out = jdump(j, &m);
        tu_assert_status(verify_buf(out, m, k, MS1, 0), AIOS__MB_E_KEY_MISMATCH);
        tu_assert_ok(verify_buf(out, m, k, MS1, AIOS__MB_IGNORE_HINT));
        free(out);
        /* an over-long hint: a mismatch, unless the hint is ignored */
        {
            char longhint[301];
            memset(longhint, 'a', 300);
            longhint[300] = 0;
            j = jload(buf, n);
            json_object_set_new(jpath(j, "verificationMaterial", "publicKey"), "hint",
                                json_string(longhint));
            out = jdump(j, &m);
            tu_assert_status(verify_buf(out, m, k, MS1, 0), AIOS__MB_E_KEY_MISMATCH);
            tu_assert_ok(verify_buf(out, m, k, MS1, AIOS__MB_IGNORE_HINT));
            free(out);
        }
        free(pay);
        free(sig);
        free(buf);
    }
    aios_key_unref(k);
    aios_key_unref(p384);
}

/* ------------------------------------------- every golden bundle parses */

static void parse_file(const char *path, aios__mb_method method, size_t certs, size_t tlog,
                       const char *root, int legacy)
{
    size_t n;
    uint8_t *buf = read_bytes(path, &n);
    aios__mb_bundle *b = NULL;
    aios__mb_statement *st = NULL;
    aios_key *k = golden_key();

    print_message("%s\n", path);
    tu_assert_ok(aios__mb_bundle_parse(&b, buf, n, 0, MS1));
    assert_int_equal(b->method, method);
    assert_int_equal(b->cert_count, certs);
    assert_int_equal(b->tlog_count, tlog);
    tu_assert_ok(aios__mb_statement_parse(&st, b->payload, b->payload_len, MS1, legacy));
    hexcmp(st->root, 32, root);
    assert_int_equal(!!(st->flags & AIOS__MB_F_LEGACY), !!legacy);
    aios__mb_statement_free(st);
    /* the key method refuses other methods */
    tu_assert_status(verify_buf((char *)buf, n, k, MS1, 0),
                     AIOS__MB_E_METHOD);
    aios__mb_bundle_free(b);
    aios_key_unref(k);
    free(buf);
}

static void test_golden_parse_all(void **state)
{
    static const char *const vs[] = { "v0.3.1", "v1.0.0", "v1.0.1", "v1.1.0" };
    char p[512];
    size_t i;
    (void)state;

    for (i = 0; i < 4; i++) {
        snprintf(p, sizeof(p), MT "/%s-certificate/model.sig", vs[i]);
        parse_file(p, AIOS__MB_METHOD_CHAIN, 2, 0, ROOT_S1_S2, 0);
        snprintf(p, sizeof(p), MT "/%s-sigstore/model.sig", vs[i]);
        parse_file(p, AIOS__MB_METHOD_KEYLESS, 1, 1, ROOT_S1_S2, 0);
    }
    /* 0.2.0: legacy predicate, root derived (MANIFEST.md 6.2) */
    parse_file(MT "/v0.2.0-certificate/model.sig", AIOS__MB_METHOD_CHAIN, 2, 0, ROOT_S1_S2, 1);
    parse_file(SPEC "/valid/certificate.bundle.json", AIOS__MB_METHOD_CHAIN, 2, 0, ROOT_S1N_S2, 0);
    parse_file(SPEC "/valid/sigstore.bundle.json", AIOS__MB_METHOD_KEYLESS, 1, 1, ROOT_S1_S2, 0);
}

static void test_spec_invalid(void **state)
{
    static const char *const bad[] = { "empty", "missing-envelope",
                                       "missing-verification-material", "missing-tlog-entries" };
    aios_key *k = golden_key();
    char p[512];
    size_t i, n;
    uint8_t *buf;
    aios__mb_bundle *b = NULL;
    aios__mb_statement *st = NULL;
    (void)state;

    for (i = 0; i < 4; i++) {
        snprintf(p, sizeof(p), SPEC "/invalid/%s.bundle.json", bad[i]);
        buf = read_bytes(p, &n);
        tu_assert_status(aios__mb_bundle_parse(&b, buf, n, 0, MS1), AIOS_E_FORMAT);
        assert_null(b);
        tu_assert_status(verify_buf((char *)buf, n, k, MS1, 0), AIOS_E_FORMAT);
        free(buf);
    }
    /* wrong predicate: the signature fails first; without it, PREDICATE */
    buf = read_bytes(SPEC "/invalid-payload/wrong-predicate.bundle.json", &n);
    tu_assert_status(verify_buf((char *)buf, n, k, MS1, 0), AIOS_E_AUTH);
    tu_assert_ok(aios__mb_bundle_parse(&b, buf, n, 0, MS1));
    tu_assert_status(aios__mb_statement_parse(&st, b->payload, b->payload_len, MS1, 0),
                     AIOS__MB_E_PREDICATE);
    assert_null(st);
    aios__mb_bundle_free(b);
    free(buf);
    aios_key_unref(k);
}

/* ------------------------------------------------ malformed bundles */

static int parse_str(const char *s)
{
    aios__mb_bundle *b = NULL;
    int rc = aios__mb_bundle_parse(&b, (const uint8_t *)s, strlen(s), 0, MS1);
    aios__mb_bundle_free(b);
    return rc;
}

#define VM_KEY "\"verificationMaterial\":{\"publicKey\":{\"hint\":\"" HINT "\"}}"
#define ENV(pay, sig) "\"dsseEnvelope\":{\"payload\":\"" pay "\",\"payloadType\":" \
    "\"application/vnd.in-toto+json\",\"signatures\":[{\"sig\":\"" sig "\"}]}"
#define MT3 "\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\""

static void test_malformed(void **state)
{
    char big[200];
    size_t i;
    char *deep;
    aios__mb_bundle *b = NULL;
    (void)state;

    tu_assert_ok(parse_str("{" MT3 "," VM_KEY "," ENV("e30=", "AAAA") "}"));
    tu_assert_ok(parse_str(" \n{" MT3 "," VM_KEY "," ENV("e30", "AAAA") "}\n"));
    /* the older media type spelling */
    tu_assert_ok(parse_str("{\"mediaType\":\"application/vnd.dev.sigstore.bundle+json;version=0.3\","
                           VM_KEY "," ENV("e30=", "AAAA") "}"));
    tu_assert_status(parse_str("{\"mediaType\":\"application/vnd.dev.sigstore.bundle+json;"
                               "version=0.2\"," VM_KEY "," ENV("e30=", "AAAA") "}"), AIOS_E_VERSION);
    tu_assert_status(parse_str("{\"mediaType\":3," VM_KEY "," ENV("e30=", "AAAA") "}"),
                     AIOS_E_FORMAT);
    tu_assert_status(parse_str("{" MT3 "," VM_KEY ",\"messageSignature\":{}}"),
                     AIOS_E_UNSUPPORTED);
    /* not JSON, trailing bytes, BOM, duplicate keys, top-level array */
    tu_assert_status(parse_str("{" MT3 "," VM_KEY "," ENV("e30=", "AAAA")), AIOS_E_FORMAT);
    tu_assert_status(parse_str("{" MT3 "," VM_KEY "," ENV("e30=", "AAAA") "} x"), AIOS_E_FORMAT);
    tu_assert_status(parse_str("\xEF\xBB\xBF{" MT3 "," VM_KEY "," ENV("e30=", "AAAA") "}"),
                     AIOS_E_FORMAT);
    tu_assert_status(parse_str("{" MT3 "," MT3 "," VM_KEY "," ENV("e30=", "AAAA") "}"),
                     AIOS_E_FORMAT);
    tu_assert_status(parse_str("[1]"), AIOS_E_FORMAT);
    /* unknown members: refused at bundle, envelope and signature level */
    tu_assert_status(parse_str("{" MT3 "," VM_KEY "," ENV("e30=", "AAAA") ",\"x\":1}"),
                     AIOS_E_FORMAT);
    tu_assert_status(parse_str("{" MT3 "," VM_KEY ",\"dsseEnvelope\":{\"payload\":\"e30=\","
                               "\"payloadType\":\"application/vnd.in-toto+json\",\"signatures\":"
                               "[{\"sig\":\"AAAA\",\"x\":0}]}}"), AIOS_E_FORMAT);
    tu_assert_status(parse_str("{" MT3 "," VM_KEY ",\"dsseEnvelope\":{\"payload\":\"e30=\","
                               "\"payloadType\":\"application/vnd.in-toto+json\",\"signatures\":"
                               "[{\"sig\":\"AAAA\"}],\"x\":0}}"), AIOS_E_FORMAT);
    /* ... but ignored in the verification material */
    tu_assert_ok(parse_str("{" MT3 ",\"verificationMaterial\":{\"publicKey\":{},\"x\":1,"
                           "\"timestampVerificationData\":{}}," ENV("e30=", "AAAA") "}"));
    /* payload type, empty payload or sig, two materials */
    tu_assert_status(parse_str("{" MT3 "," VM_KEY ",\"dsseEnvelope\":{\"payload\":\"e30=\","
                               "\"payloadType\":\"text/plain\",\"signatures\":[{\"sig\":\"AAAA\"}]}}"),
                     AIOS__MB_E_PREDICATE);
    tu_assert_status(parse_str("{" MT3 "," VM_KEY "," ENV("", "AAAA") "}"), AIOS_E_FORMAT);
    tu_assert_status(parse_str("{" MT3 "," VM_KEY "," ENV("e30=", "") "}"), AIOS_E_FORMAT);
    tu_assert_status(parse_str("{" MT3 ",\"verificationMaterial\":{\"publicKey\":{},"
                               "\"certificate\":{\"rawBytes\":\"AAAA\"},\"tlogEntries\":[{}]},"
                               ENV("e30=", "AAAA") "}"), AIOS_E_FORMAT);
    /* base64 (3.5): mixed alphabets, whitespace, bad padding, high bytes */
    tu_assert_status(parse_str("{" MT3 "," VM_KEY "," ENV("e3+_", "AAAA") "}"), AIOS_E_FORMAT);
    tu_assert_status(parse_str("{" MT3 "," VM_KEY "," ENV("e3 0=", "AAAA") "}"), AIOS_E_FORMAT);
    tu_assert_status(parse_str("{" MT3 "," VM_KEY "," ENV("e30==", "AAAA") "}"), AIOS_E_FORMAT);
    tu_assert_status(parse_str("{" MT3 "," VM_KEY "," ENV("e", "AAAA") "}"), AIOS_E_FORMAT);
    tu_assert_status(parse_str("{" MT3 "," VM_KEY "," ENV("e30=", "AA=A") "}"), AIOS_E_FORMAT);
    tu_assert_status(parse_str("{" MT3 "," VM_KEY "," ENV("e3\xc3\xbf", "AAAA") "}"),
                     AIOS_E_FORMAT);
    /* nesting */
    deep = malloc(4096);
    strcpy(deep, "{" MT3 "," VM_KEY ",\"x\":");
    for (i = 0; i < 70; i++)
        strcat(deep, "[");
    for (i = 0; i < 70; i++)
        strcat(deep, "]");
    strcat(deep, "}");
    tu_assert_status(parse_str(deep), AIOS_E_LIMIT);
    free(deep);
    /* sizes */
    tu_assert_status(aios__mb_bundle_parse(&b, (const uint8_t *)"", 0, 0, MS1), AIOS_E_FORMAT);
    memset(big, ' ', sizeof(big));
    tu_assert_status(aios__mb_bundle_parse(&b, (const uint8_t *)big, sizeof(big), 100, MS1),
                     AIOS_E_LIMIT);
    tu_assert_status(aios__mb_bundle_parse(&b, (const uint8_t *)big, AIOS__MB_BUNDLE_MAX + 1,
                                           0, MS1), AIOS_E_LIMIT);
    /* keyless without tlog entries; too many tlog entries */
    tu_assert_status(parse_str("{" MT3 ",\"verificationMaterial\":{\"certificate\":"
                               "{\"rawBytes\":\"AAAA\"}}," ENV("e30=", "AAAA") "}"), AIOS_E_FORMAT);
    {
        char *s = malloc(8192);
        strcpy(s, "{" MT3 ",\"verificationMaterial\":{\"publicKey\":{},\"tlogEntries\":[{}");
        for (i = 0; i < AIOS__MB_TLOG_MAX; i++)
            strcat(s, ",{}");
        strcat(s, "]}," ENV("e30=", "AAAA") "}");
        tu_assert_status(parse_str(s), AIOS_E_LIMIT);
        free(s);
    }
}

static void test_base64(void **state)
{
    uint8_t out[16];
    size_t n;
    (void)state;
    tu_assert_ok(aios__mb_base64_decode(out, sizeof(out), &n, "-_8", 3));
    assert_int_equal(n, 2);
    assert_int_equal(out[0], 0xfb);
    assert_int_equal(out[1], 0xff);
    tu_assert_ok(aios__mb_base64_decode(out, sizeof(out), &n, "+/8=", 4));
    assert_int_equal(n, 2);
    assert_int_equal(out[0], 0xfb);
    /* unused bits ignored ("QR==" is "QQ==" with a stray bit) */
    tu_assert_ok(aios__mb_base64_decode(out, sizeof(out), &n, "QR==", 4));
    assert_int_equal(n, 1);
    assert_int_equal(out[0], 'A');
    tu_assert_status(aios__mb_base64_decode(out, sizeof(out), &n, "+_8=", 4), AIOS_E_FORMAT);
    tu_assert_status(aios__mb_base64_decode(out, sizeof(out), &n, "QQ=", 3), AIOS_E_FORMAT);
    tu_assert_status(aios__mb_base64_decode(out, sizeof(out), &n, "Q===", 4), AIOS_E_FORMAT);
    tu_assert_status(aios__mb_base64_decode(out, sizeof(out), &n, "QQ\n=", 4), AIOS_E_FORMAT);
    tu_assert_status(aios__mb_base64_decode(out, sizeof(out), &n, "\x80QQQ", 4), AIOS_E_FORMAT);
    tu_assert_status(aios__mb_base64_decode(out, 2, &n, "QUJD", 4), AIOS_E_BUFFER_TOO_SMALL);
}

/* The table decoder against libsodium's encoder, every length 0..200 in
 * all four forms; a byte outside the alphabet at each position is found
 * at that offset; one character of the other alphabet anywhere is
 * refused. */
static void test_base64_lengths(void **state)
{
    static const int forms[] = { AIOS__B64_STANDARD, AIOS__B64_STANDARD_NOPAD,
                                 AIOS__B64_URLSAFE, AIOS__B64_URLSAFE_NOPAD };
    uint8_t raw[200], out[204];
    char enc[300], msg[128];
    size_t len, n, f, i;
    (void)state;
    for (len = 0; len <= sizeof(raw); len++) {
        for (i = 0; i < len; i++)
            raw[i] = (uint8_t)(i * 151 + len * 7 + (i >> 3) * 13);
        for (f = 0; f < 4; f++) {
            size_t el;
            tu_assert_ok(aios__base64_encode(enc, sizeof(enc), raw, len, forms[f]));
            el = strlen(enc);
            tu_assert_ok(aios__mb_base64_decode(out, sizeof(out), &n, enc, el));
            assert_int_equal(n, len);
            assert_memory_equal(out, raw, len);
            if (el < 2)
                continue;
            for (i = 0; i < el && enc[i] != '='; i += 1 + i / 5) {
                char keep = enc[i];
                enc[i] = '*';
                tu_assert_status(aios__mb_base64_decode(out, sizeof(out), &n, enc, el),
                                 AIOS_E_FORMAT);
                snprintf(msg, sizeof(msg), "at offset %zu", i);
                assert_non_null(strstr(aios_last_error_message(), msg));
                /* the other alphabet's 62 */
                enc[i] = forms[f] < AIOS__B64_URLSAFE ? '-' : '+';
                n = 0;
                if (strchr(enc, forms[f] < AIOS__B64_URLSAFE ? '+' : '-') != NULL ||
                    strchr(enc, forms[f] < AIOS__B64_URLSAFE ? '/' : '_') != NULL)
                    tu_assert_status(aios__mb_base64_decode(out, sizeof(out), &n, enc, el),
                                     AIOS_E_FORMAT);
                else
                    tu_assert_ok(aios__mb_base64_decode(out, sizeof(out), &n, enc, el));
                enc[i] = keep;
            }
        }
    }
}

/* ---------------------------------------------------------------- PAE */

static void test_pae(void **state)
{
    static const uint8_t pay[] = { 'a', '\'', '\\', '\n', '\t', '\r', 0x00, 0x7f, 0xff, 'z' };
    static const char want_legacy[] =
        "DSSEV1 28 application/vnd.in-toto+json 10 b\"a'\\\\\\n\\t\\r\\x00\\x7f\\xffz\"";
    uint8_t *p;
    size_t n;
    (void)state;

    tu_assert_ok(aios__mb_pae(&p, &n, (const uint8_t *)"hello", 5));
    assert_int_equal(n, 39 + 7);
    assert_memory_equal(p, "DSSEv1 28 application/vnd.in-toto+json 5 hello", n);
    aios__free(p);
    tu_assert_ok(aios__mb_pae_legacy(&p, &n, pay, sizeof(pay)));
    assert_int_equal(n, strlen(want_legacy));
    assert_memory_equal(p, want_legacy, n);
    aios__free(p);
    /* both quotes: single quotes, ' escaped (as OMS payloads, which hold ") */
    tu_assert_ok(aios__mb_pae_legacy(&p, &n, (const uint8_t *)"\"it's\"", 6));
    assert_int_equal(n, 41 + 10);
    assert_memory_equal(p + 41, "b'\"it\\'s\"'", 10);
    aios__free(p);
}

/* ---------------------------------------------------------- statements */

typedef struct res_spec { const char *name; uint8_t fill; } res_spec;

static aios__mb_resource *mkres(const res_spec *r, size_t n, size_t dlen)
{
    aios__mb_resource *v = calloc(n, sizeof(*v));
    size_t i;
    for (i = 0; i < n; i++) {
        v[i].name = r[i].name;
        v[i].name_len = strlen(r[i].name);
        v[i].path_len = v[i].name_len;
        memset(v[i].digest, r[i].fill, dlen);
        v[i].digest_len = dlen;
    }
    return v;
}

static aios__mb_statement base_stmt(aios__mb_resource *res, size_t n)
{
    aios__mb_statement st;
    memset(&st, 0, sizeof(st));
    st.subject_name = "model";
    st.method = AIOS__MB_FILES;
    st.hash_type = AIOS__MB_SHA256;
    st.resources = res;
    st.resource_count = n;
    return st;
}

/* Encode st, then parse it: the parse status. */
static int enc_parse(const aios__mb_statement *in, int profile, aios__mb_statement **out)
{
    aios_buffer *b = NULL;
    aios__mb_statement *st = NULL;
    int rc;
    tu_assert_ok(aios__mb_statement_encode(&b, in, profile));
    rc = aios__mb_statement_parse(&st, aios_buffer_data(b), aios_buffer_len(b), profile, 0);
    aios_buffer_free(b);
    if (out)
        *out = st;
    else
        aios__mb_statement_free(st);
    return rc;
}

static int names_status(const char *a, const char *b, int profile)
{
    res_spec r[2] = { { a, 1 }, { b, 2 } };
    aios__mb_resource *v = mkres(r, b ? 2 : 1, 32);
    aios__mb_statement st = base_stmt(v, b ? 2 : 1);
    int rc = enc_parse(&st, profile, NULL);
    free(v);
    return rc;
}

/* Parse a statement text with a placeholder root that is filled in. */
static int parse_text(const char *text, int profile)
{
    aios__mb_statement *st = NULL;
    int rc = aios__mb_statement_parse(&st, (const uint8_t *)text, strlen(text), profile, 0);
    aios__mb_statement_free(st);
    return rc;
}

static void test_statement_rules(void **state)
{
    static const char *const bad_paths[] = { "../x", "a/../b", "/abs", "a//b", "./a", "a/",
                                             "a/.", "", NULL };
    size_t i;
    char longc[300], *longp;
    (void)state;

    tu_assert_ok(names_status("a", "b/c", MS1));
    tu_assert_ok(names_status(".", NULL, MS1));
    tu_assert_ok(names_status("caf\xc3\xa9 x", NULL, MS1));
    tu_assert_status(names_status(".", "b", MS1), AIOS__MB_E_PATH);
    for (i = 0; bad_paths[i]; i++) {
        print_message("path \"%s\"\n", bad_paths[i]);
        tu_assert_status(names_status("ok", bad_paths[i], MS1), AIOS__MB_E_PATH);
    }
    memset(longc, 'x', 256);
    longc[256] = 0;
    tu_assert_status(names_status(longc, NULL, MS1), AIOS__MB_E_PATH);
    longp = malloc(8192);
    for (i = 0; i < 129; i++)
        memcpy(longp + 2 * i, "a/", 2);
    longp[2 * 129 - 1] = 0;
    tu_assert_status(names_status(longp, NULL, MS1), AIOS__MB_E_PATH);
    free(longp);
    tu_assert_status(names_status("same", "same", MS1), AIOS__MB_E_DUPLICATE);
    /* order: any in the default profile; code points in oms-1.0 */
    tu_assert_ok(names_status("b", "a", MS1));
    tu_assert_status(names_status("b", "a", OMS1), AIOS_E_FORMAT);
    tu_assert_ok(names_status("a-b", "a/b", OMS1));           /* '-' < '/' */
    tu_assert_status(names_status("a/b", "a-b", OMS1), AIOS_E_FORMAT);
    tu_assert_ok(names_status("a/b", "a-b", MS1));            /* component order */

    /* text-level rules */
#define STMT(type, pred, subj, ser, res) \
    "{\"_type\":\"" type "\",\"subject\":" subj ",\"predicateType\":\"" pred "\"," \
    "\"predicate\":{\"serialization\":" ser ",\"resources\":" res "}}"
#define T1 "https://in-toto.io/Statement/v1"
#define P1 "https://model_signing/signature/v1.0"
#define SUBJ(root) "[{\"name\":\"m\",\"digest\":{\"sha256\":\"" root "\"}}]"
#define SERF "{\"method\":\"files\",\"hash_type\":\"sha256\",\"allow_symlinks\":false}"
#define RES1 "[{\"name\":\"signme-1\",\"algorithm\":\"sha256\",\"digest\":\"" D_S1N "\"}]"
    tu_assert_ok(parse_text(STMT(T1, P1, SUBJ(ROOT_S1N), SERF, RES1), MS1));
    /* upper-case hex accepted */
    tu_assert_ok(parse_text(STMT(T1, P1, SUBJ("AFA48C8674AFE334B8A7DEA34F7B46AB256E9255EDF8DA21"
                                              "32792341B667A45B"), SERF, RES1), MS1));
    tu_assert_status(parse_text(STMT(T1, P1, SUBJ(ROOT_S1N_S2), SERF, RES1), MS1),
                     AIOS__MB_E_ROOT_DIGEST);
    tu_assert_status(parse_text(STMT(T1, P1, SUBJ("afa4"), SERF, RES1), MS1), AIOS_E_FORMAT);
    tu_assert_status(parse_text(STMT("https://in-toto.io/Statement/v0.1", P1, SUBJ(ROOT_S1N), SERF,
                                     RES1), MS1), AIOS_E_VERSION);
    tu_assert_status(parse_text(STMT(T1, "https://x/y", SUBJ(ROOT_S1N), SERF, RES1), MS1),
                     AIOS__MB_E_PREDICATE);
    tu_assert_status(parse_text(STMT(T1, P1, "[]", SERF, RES1), MS1), AIOS_E_FORMAT);
    tu_assert_status(parse_text(STMT(T1, P1, SUBJ(ROOT_S1N), SERF, "[]"), MS1), AIOS__MB_E_EMPTY);
    tu_assert_status(parse_text(STMT(T1, P1, SUBJ(ROOT_S1N),
                                     "{\"method\":\"files\",\"hash_type\":\"blake3\","
                                     "\"allow_symlinks\":false}", RES1), MS1), AIOS_E_UNSUPPORTED);
    tu_assert_status(parse_text(STMT(T1, P1, SUBJ(ROOT_S1N),
                                     "{\"method\":\"dirs\",\"hash_type\":\"sha256\","
                                     "\"allow_symlinks\":false}", RES1), MS1), AIOS_E_UNSUPPORTED);
    tu_assert_status(parse_text(STMT(T1, P1, SUBJ(ROOT_S1N),
                                     "{\"method\":\"files\",\"hash_type\":\"sha256\"}", RES1), MS1),
                     AIOS_E_FORMAT);
    tu_assert_status(parse_text(STMT(T1, P1, SUBJ(ROOT_S1N), SERF,
                                     "[{\"name\":\"a\",\"algorithm\":\"blake2b\",\"digest\":\""
                                     D_S1N "\"}]"), MS1), AIOS_E_FORMAT);
    /* a resource without its algorithm (the schema requires it) */
    tu_assert_status(parse_text(STMT(T1, P1, SUBJ(ROOT_S1N), SERF,
                                     "[{\"name\":\"signme-1\",\"digest\":\"" D_S1N "\"}]"),
                                MS1), AIOS_E_FORMAT);
    /* a NUL in a name: refused by the JSON parser */
    tu_assert_status(parse_text(STMT(T1, P1, SUBJ(ROOT_S1N), SERF,
                                     "[{\"name\":\"a\\u0000b\",\"algorithm\":\"sha256\",\"digest\":\""
                                     D_S1N "\"}]"), MS1), AIOS_E_FORMAT);
    /* invalid UTF-8 in a name */
    tu_assert_status(parse_text(STMT(T1, P1, SUBJ(ROOT_S1N), SERF,
                                     "[{\"name\":\"a\xff\",\"algorithm\":\"sha256\",\"digest\":\""
                                     D_S1N "\"}]"), MS1), AIOS_E_FORMAT);
    /* ignore_paths: checked as paths */
    tu_assert_status(parse_text(STMT(T1, P1, SUBJ(ROOT_S1N),
                                     "{\"method\":\"files\",\"hash_type\":\"sha256\","
                                     "\"allow_symlinks\":false,\"ignore_paths\":[\"../x\"]}", RES1),
                                MS1), AIOS__MB_E_PATH);
    /* empty subject name: default profile only */
    tu_assert_ok(parse_text("{\"_type\":\"" T1 "\",\"subject\":[{\"name\":\"\",\"digest\":"
                            "{\"sha256\":\"" ROOT_S1N "\"}}],\"predicateType\":\"" P1 "\","
                            "\"predicate\":{\"serialization\":" SERF ",\"resources\":" RES1 "}}",
                            MS1));
    tu_assert_status(parse_text("{\"_type\":\"" T1 "\",\"subject\":[{\"name\":\"\",\"digest\":"
                                "{\"sha256\":\"" ROOT_S1N "\"}}],\"predicateType\":\"" P1 "\","
                                "\"predicate\":{\"serialization\":" SERF ",\"resources\":" RES1
                                "}}", OMS1), AIOS_E_FORMAT);
    /* shard_size with files: ignored by default, refused in oms-1.0 */
    tu_assert_status(parse_text(STMT(T1, P1, SUBJ(ROOT_S1N),
                                     "{\"method\":\"files\",\"hash_type\":\"sha256\","
                                     "\"allow_symlinks\":false,\"shard_size\":5}", RES1), OMS1),
                     AIOS_E_FORMAT);
    tu_assert_ok(parse_text(STMT(T1, P1, SUBJ(ROOT_S1N),
                                 "{\"method\":\"files\",\"hash_type\":\"sha256\","
                                 "\"allow_symlinks\":false,\"shard_size\":5}", RES1), MS1));
}

#define SH(ss) "{\"method\":\"shards\",\"hash_type\":\"sha256\",\"allow_symlinks\":false," \
               "\"shard_size\":" ss "}"
#define SHR(name, alg) "{\"name\":\"" name "\",\"algorithm\":\"" alg "\",\"digest\":\"" D_S1 "\"}"

/* A shards statement over resources whose digests are all D_S1: the root
 * is computed here. */
static int shards_text(const char *ser, const char *res, size_t nres, int profile)
{
    uint8_t d[32], *cat = malloc(32 * nres), root[32];
    char hex[65], *txt = malloc(strlen(res) + 1024);
    size_t i, n;
    int rc;
    tu_assert_ok(aios__hex_decode(d, 32, &n, D_S1, 64));
    for (i = 0; i < nres; i++)
        memcpy(cat + 32 * i, d, 32);
    aios__sha256(root, cat, 32 * nres);
    tu_assert_ok(aios__hex_encode(hex, sizeof(hex), root, 32));
    sprintf(txt, STMT(T1, P1, "[{\"name\":\"m\",\"digest\":{\"sha256\":\"%s\"}}]", "%s", "%s"),
            hex, ser, res);
    rc = parse_text(txt, profile);
    free(txt);
    free(cat);
    return rc;
}

static void test_shards(void **state)
{
    (void)state;
    /* a real (model_signing writes 10.0) and the tool's algorithm name */
    tu_assert_ok(shards_text(SH("10.0"), "[" SHR("f:0:10", "sha256-sharded-10") ","
                             SHR("f:10:15", "sha256-sharded-10") "]", 2, MS1));
    tu_assert_ok(shards_text(SH("10"), "[" SHR("f:10:15", "sha256") "," SHR("f:0:10", "sha256")
                             "," SHR("a:b:0:3", "sha256") "]", 3, MS1));
    tu_assert_status(shards_text(SH("10.5"), "[" SHR("f:0:10", "sha256") "]", 1, MS1),
                     AIOS_E_FORMAT);
    tu_assert_status(shards_text(SH("0"), "[" SHR("f:0:10", "sha256") "]", 1, MS1), AIOS_E_FORMAT);
    tu_assert_status(shards_text(SH("\"10\""), "[" SHR("f:0:10", "sha256") "]", 1, MS1),
                     AIOS_E_FORMAT);
    tu_assert_status(shards_text(SH("10"), "[" SHR("f:0:10", "file-shard-10") "]", 1, MS1),
                     AIOS_E_FORMAT);
    tu_assert_status(shards_text(SH("10"), "[" SHR("f:0:10", "sha256-sharded-9") "]", 1, MS1),
                     AIOS_E_FORMAT);
    /* structure: gaps, short middle shard, overlong, non-canonical numbers */
    tu_assert_status(shards_text(SH("10"), "[" SHR("f:0:10", "sha256") "," SHR("f:11:15", "sha256")
                                 "]", 2, MS1), AIOS_E_FORMAT);
    tu_assert_status(shards_text(SH("10"), "[" SHR("f:0:5", "sha256") "," SHR("f:5:15", "sha256")
                                 "]", 2, MS1), AIOS_E_FORMAT);
    tu_assert_status(shards_text(SH("10"), "[" SHR("f:0:11", "sha256") "]", 1, MS1), AIOS_E_FORMAT);
    tu_assert_status(shards_text(SH("10"), "[" SHR("f:1:10", "sha256") "]", 1, MS1), AIOS_E_FORMAT);
    tu_assert_status(shards_text(SH("10"), "[" SHR("f:00:10", "sha256") "]", 1, MS1), AIOS_E_FORMAT);
    tu_assert_status(shards_text(SH("10"), "[" SHR("f:0:+10", "sha256") "]", 1, MS1), AIOS_E_FORMAT);
    tu_assert_status(shards_text(SH("10"), "[" SHR("f:5:5", "sha256") "]", 1, MS1), AIOS_E_FORMAT);
    tu_assert_status(shards_text(SH("10"), "[" SHR("f", "sha256") "]", 1, MS1), AIOS_E_FORMAT);
    tu_assert_status(shards_text(SH("10"), "[" SHR("f:0:10", "sha256") "," SHR("f:0:10", "sha256")
                                 "]", 2, MS1), AIOS__MB_E_DUPLICATE);
    tu_assert_status(shards_text(SH("10"), "[" SHR("../f:0:10", "sha256") "]", 1, MS1),
                     AIOS__MB_E_PATH);
    /* code-point order in oms-1.0: f:10:15 < f:9:10 ... f:0:10 first */
    tu_assert_ok(shards_text(SH("10"), "[" SHR("f:0:10", "sha256") "," SHR("f:10:15", "sha256")
                             "]", 2, OMS1));
    tu_assert_status(shards_text(SH("10"), "[" SHR("f:10:15", "sha256") "," SHR("f:0:10", "sha256")
                                 "]", 2, OMS1), AIOS_E_FORMAT);
}

/* ------------------------------------------------------------ round trip */

static void round_trip(aios_keyring *kr, const char *id, aios_key_type type)
{
    static const res_spec rs[] = { { "a/b", 0x11 }, { "a-b", 0x22 }, { "caf\xc3\xa9 z", 0x33 },
                                   { "e", 0x44 } };
    static const char *const ig[] = { ".git", "model.sig" };
    aios__mb_resource *v = mkres(rs, 4, 32);
    aios__mb_statement in = base_stmt(v, 4), *out = NULL;
    aios_buffer *bundle = NULL, *pem = NULL;
    aios_key *k = NULL, *pub = NULL, *other = NULL;
    size_t i;

    in.ignore_paths = ig;
    in.ignore_count = 2;
    in.provenance_json = "{\"v\":1,\"model\":\"m\",\"version\":\"1.0\"}";
    tu_assert_ok(aios_keyring_add(kr, &k, id, type, NULL));
    tu_assert_ok(aios__mb_sign_key(&bundle, &in, k, MS1));
    /* with the signing key and with its public part alone */
    tu_assert_ok(aios__mb_verify_key(&out, aios_buffer_data(bundle), aios_buffer_len(bundle), k,
                                     MS1, 0));
    aios__mb_statement_free(out);
    tu_assert_ok(aios_key_public_pem(k, &pem));
    tu_assert_ok(aios_key_from_public_pem(&pub, "pub", (const char *)aios_buffer_data(pem),
                                          aios_buffer_len(pem)));
    tu_assert_ok(aios__mb_verify_key(&out, aios_buffer_data(bundle), aios_buffer_len(bundle), pub,
                                     MS1, 0));
    assert_string_equal(out->subject_name, "model");
    assert_int_equal(out->resource_count, 4);
    for (i = 0; i < 4; i++) {
        assert_string_equal(out->resources[i].name, rs[i].name);
        assert_memory_equal(out->resources[i].digest, v[i].digest, 32);
    }
    assert_int_equal(out->ignore_count, 2);
    assert_string_equal(out->ignore_paths[1], "model.sig");
    assert_non_null(out->provenance_json);
    assert_non_null(strstr(out->provenance_json, "\"version\":\"1.0\""));
    /* root = SHA-256 of the digests in order */
    {
        uint8_t cat[128], r[32];
        for (i = 0; i < 4; i++)
            memcpy(cat + 32 * i, v[i].digest, 32);
        aios__sha256(r, cat, sizeof(cat));
        assert_memory_equal(out->root, r, 32);
    }
    aios__mb_statement_free(out);
    /* the compact bundle as 12.6 writes it */
    {
        static const char head[] = "{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\","
                                   "\"verificationMaterial\":{\"publicKey\":{\"hint\":\"";
        char hint[65];
        tu_assert_ok(aios__mb_key_hint(hint, k));
        assert_memory_equal(aios_buffer_data(bundle), head, sizeof(head) - 1);
        assert_memory_equal(aios_buffer_data(bundle) + sizeof(head) - 1, hint, 64);
        assert_non_null(strstr((const char *)aios_buffer_data(bundle),
                               "\"},\"tlogEntries\":[]},\"dsseEnvelope\":{\"payload\":\""));
        assert_non_null(strstr((const char *)aios_buffer_data(bundle), "\"keyid\":\"\"}]}}"));
    }
    /* another key of the type: the hint says so */
    tu_assert_ok(aios_keyring_add(kr, &other, "other-" "x", type, NULL));
    assert_int_equal(aios__mb_verify_key(&out, aios_buffer_data(bundle), aios_buffer_len(bundle),
                                         other, MS1, 0), AIOS__MB_E_KEY_MISMATCH);
    assert_int_equal(aios__mb_verify_key(&out, aios_buffer_data(bundle), aios_buffer_len(bundle),
                                         other, MS1, AIOS__MB_IGNORE_HINT), AIOS_E_AUTH);
    aios_key_unref(other);
    aios_key_unref(pub);
    aios_buffer_free(pem);
    aios_buffer_free(bundle);
    if (type == AIOS_KEY_ED25519)
        tu_assert_status(aios__mb_sign_key(&bundle, &in, k, OMS1), AIOS_E_UNSUPPORTED);
    aios_key_unref(k);
    free(v);
}

static void test_round_trip(void **state)
{
    char *dir = kt_tmpdir();
    aios_keyring_options o = kt_raw();
    aios_keyring *kr = NULL;
    aios_key *x = NULL;
    aios__mb_statement st;
    aios_buffer *b = NULL;
    aios__mb_resource r;
    (void)state;

    tu_assert_ok(aios_keyring_create(&kr, kt_path(dir, "keys.aioskr", 0), &o));
    round_trip(kr, "p256", AIOS_KEY_ECDSA_P256);
    aios_keyring_free(kr);
    unlink(kt_path(dir, "keys.aioskr", 0));
    tu_assert_ok(aios_keyring_create(&kr, kt_path(dir, "keys.aioskr", 0), &o));
    round_trip(kr, "p384", AIOS_KEY_ECDSA_P384);
    aios_keyring_free(kr);
    unlink(kt_path(dir, "keys.aioskr", 0));
    tu_assert_ok(aios_keyring_create(&kr, kt_path(dir, "keys.aioskr", 0), &o));
    round_trip(kr, "ed", AIOS_KEY_ED25519);
    /* a key that cannot sign manifests */
    tu_assert_ok(aios_keyring_add(kr, &x, "x", AIOS_KEY_X25519, NULL));
    memset(&r, 0, sizeof(r));
    r.name = "a";
    r.name_len = r.path_len = 1;
    r.digest_len = 32;
    st = base_stmt(&r, 1);
    tu_assert_status(aios__mb_sign_key(&b, &st, x, MS1), AIOS_E_KEY_USAGE);
    aios_key_unref(x);
    aios_keyring_free(kr);
    kt_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_verify),
        cmocka_unit_test(test_golden_edits),
        cmocka_unit_test(test_golden_parse_all),
        cmocka_unit_test(test_spec_invalid),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_base64_lengths),
        cmocka_unit_test(test_pae),
        cmocka_unit_test(test_statement_rules),
        cmocka_unit_test(test_shards),
        cmocka_unit_test(test_round_trip),
    };
    if (aios_init() != AIOS_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
