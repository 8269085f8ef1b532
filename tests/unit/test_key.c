/* Key handles: local operations, the dispatcher's state, purpose and
 * limit checks, public-only keys, attributes, concurrency with destroy. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "key/key_internal.h"
#include "crypto/crypto.h"

/* A handle on freshly generated material, as a keyring would make it. */
static aios_key *make_key(aios_key_type type, const char *id, uint32_t purposes, int exportable,
                          uint64_t max_uses, int64_t not_after)
{
    uint8_t material[AIOS__MATERIAL_MAX], pub[AIOS__PUBLIC_MAX];
    size_t mlen = 0, plen = 0;
    aios__keyver *ver = NULL;
    aios_key *k = NULL;
    aios__key_desc d;
    static const aios_key_attribute_pair attrs[] = {
        { "tenant", "acme" }, { "region", "eu-west" }, { "class", "pii" }
    };

    tu_assert_ok(aios__local_generate(type, material, &mlen, pub, &plen));
    tu_assert_ok(aios__keyver_new(&ver, AIOS_KEY_ACTIVE, material, mlen, pub, plen, max_uses,
                                  not_after));
    aios__wipe(material, sizeof(material));
    memset(&d, 0, sizeof(d));
    d.key_id = id;
    d.version = 1;
    d.type = type;
    d.purposes = purposes ? purposes : aios__key_type_natural(type);
    d.exportable = exportable;
    d.created_at = 1700000000;
    d.attrs = attrs;
    d.nattrs = 3;
    tu_assert_ok(aios__key_new(&k, aios__provider_public(), &d, ver, NULL));
    aios__keyver_unref(ver);
    return k;
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(aios_key_type_name(AIOS_KEY_AES256), "aes256");
    assert_string_equal(aios_key_type_name(AIOS_KEY_ECDSA_P384), "ecdsa-p384");
    assert_string_equal(aios_key_type_name(AIOS_KEY_RSA), "rsa");
    assert_string_equal(aios_key_type_name(AIOS_KEY_ECDSA_P521), "ecdsa-p521");
    assert_int_equal(AIOS_KEY_ECDSA_P521, 9);
    assert_null(aios_key_type_name((aios_key_type)10));
    assert_null(aios_key_type_name((aios_key_type)99));
    /* P-521 signs and verifies, as P-256 and P-384, and a keyring holds it. */
    assert_int_equal(aios__key_type_allowed(AIOS_KEY_ECDSA_P521),
                     AIOS_KEY_USE_SIGN | AIOS_KEY_USE_VERIFY);
    assert_int_equal(aios__key_type_natural(AIOS_KEY_ECDSA_P521),
                     AIOS_KEY_USE_SIGN | AIOS_KEY_USE_VERIFY);
    assert_true(aios__key_type_valid(AIOS_KEY_ECDSA_P521));
    assert_true(aios__key_type_local(AIOS_KEY_ECDSA_P521));
    /* RSA wraps, and only a token holds it. */
    assert_int_equal(aios__key_type_allowed(AIOS_KEY_RSA), AIOS_KEY_USE_WRAP);
    assert_int_equal(aios__key_type_natural(AIOS_KEY_RSA), AIOS_KEY_USE_WRAP);
    assert_true(aios__key_type_valid(AIOS_KEY_RSA));
    assert_false(aios__key_type_local(AIOS_KEY_RSA));
    assert_true(aios__key_type_local(AIOS_KEY_X25519));
    assert_false(aios__key_type_local((aios_key_type)99));
    assert_string_equal(aios_key_state_name(AIOS_KEY_DECRYPT_ONLY), "decrypt-only");
    assert_string_equal(aios_key_state_name(AIOS_KEY_PENDING), "pending");
    assert_null(aios_key_state_name((aios_key_state)0));
}

/* Nothing local generates or imports an RSA key. */
static void test_rsa_not_local(void **state)
{
    uint8_t m[AIOS__MATERIAL_MAX], p[AIOS__PUBLIC_MAX];
    size_t ml = 99, pl = 99;
    (void)state;
    tu_assert_status(aios__local_generate(AIOS_KEY_RSA, m, &ml, p, &pl), AIOS_E_UNSUPPORTED);
    assert_int_equal(ml, 0);
    assert_int_equal(pl, 0);
    assert_non_null(strstr(aios_last_error_message(), "PKCS#11"));
    tu_assert_status(aios__local_import(AIOS_KEY_RSA, m, 32, m, &ml, p, &pl), AIOS_E_UNSUPPORTED);
}

static void test_metadata_and_attributes(void **state)
{
    (void)state;
    aios_key *k = make_key(AIOS_KEY_AES256, "kek-1", 0, 0, 0, 0);
    const char *n, *v;
    assert_string_equal(aios_key_id(k), "kek-1");
    assert_int_equal(aios_key_version(k), 1);
    assert_int_equal(aios_key_get_type(k), AIOS_KEY_AES256);
    assert_int_equal(aios_key_purposes(k), AIOS_KEY_USE_WRAP);
    assert_int_equal(aios_key_get_state(k), AIOS_KEY_ACTIVE);
    assert_string_equal(aios_key_provider_name(k), "public");
    assert_int_equal(aios_key_created_at(k), 1700000000);
    assert_int_equal(aios_key_exportable(k), 0);
    assert_string_equal(aios_key_attribute(k, "tenant"), "acme");
    assert_null(aios_key_attribute(k, "nope"));
    assert_int_equal(aios_key_attribute_count(k), 3);
    /* In name order. */
    tu_assert_ok(aios_key_attribute_at(k, 0, &n, &v));
    assert_string_equal(n, "class");
    tu_assert_ok(aios_key_attribute_at(k, 2, &n, &v));
    assert_string_equal(n, "tenant");
    tu_assert_status(aios_key_attribute_at(k, 3, &n, &v), AIOS_E_NOT_FOUND);
    assert_ptr_equal(aios_key_ref(k), k);
    aios_key_unref(k);
    aios_key_unref(k);
    aios_key_unref(NULL);
    assert_null(aios_key_id(NULL));
}

static void test_wrap_unwrap(void **state)
{
    (void)state;
    aios_key *k = make_key(AIOS_KEY_AES256, "kek", 0, 0, 0, 0);
    aios_key *other = make_key(AIOS_KEY_AES256, "kek", 0, 0, 0, 0);
    uint8_t dk[32], ad[] = "suite=1;msg=abc";
    aios_buffer *w = NULL, *back = NULL;

    aios__random_bytes(dk, sizeof(dk));
    tu_assert_ok(aios_key_wrap(k, &w, dk, sizeof(dk), ad, sizeof(ad)));
    assert_int_equal(aios_buffer_len(w), AIOS__LOCAL_WRAP_OVERHEAD + 32);
    assert_int_equal(aios_buffer_data(w)[0], AIOS__LOCAL_WRAP_V1);
    tu_assert_ok(aios_key_unwrap(k, &back, aios_buffer_data(w), aios_buffer_len(w), ad, sizeof(ad)));
    assert_true(aios_buffer_flags(back) & AIOS_BUFFER_SECURE);
    assert_memory_equal(aios_buffer_data(back), dk, 32);
    aios_buffer_free(back);

    /* Another ad, another key, any flipped byte: AIOS_E_AUTH, no output. */
    tu_assert_status(aios_key_unwrap(k, &back, aios_buffer_data(w), aios_buffer_len(w), ad, 3),
                     AIOS_E_AUTH);
    assert_null(back);
    tu_assert_status(aios_key_unwrap(other, &back, aios_buffer_data(w), aios_buffer_len(w), ad,
                                     sizeof(ad)), AIOS_E_AUTH);
    for (size_t i = 1; i < aios_buffer_len(w); i++) {
        aios_buffer_data_mut(w)[i] ^= 0x01;
        tu_assert_status(aios_key_unwrap(k, &back, aios_buffer_data(w), aios_buffer_len(w), ad,
                                         sizeof(ad)), AIOS_E_AUTH);
        aios_buffer_data_mut(w)[i] ^= 0x01;
    }
    aios_buffer_data_mut(w)[0] = 0x7f;
    tu_assert_status(aios_key_unwrap(k, &back, aios_buffer_data(w), aios_buffer_len(w), ad,
                                     sizeof(ad)), AIOS_E_VERSION);
    tu_assert_status(aios_key_unwrap(k, &back, aios_buffer_data(w), 10, ad, sizeof(ad)),
                     AIOS_E_FORMAT);
    /* Two wraps of one key differ (random nonce). */
    aios_buffer *w2 = NULL;
    tu_assert_ok(aios_key_wrap(k, &w2, dk, sizeof(dk), NULL, 0));
    assert_memory_not_equal(aios_buffer_data(w) + 1, aios_buffer_data(w2) + 1, 24);
    aios_buffer *none = (aios_buffer *)0x1;
    tu_assert_status(aios_key_wrap(k, &none, dk, 0, NULL, 0), AIOS_E_INVALID_ARGUMENT);
    assert_null(none);
    tu_assert_status(aios_key_wrap(k, &none, dk, AIOS_KEY_DATA_KEY_MAX + 1, NULL, 0),
                     AIOS_E_INVALID_ARGUMENT);
    aios_buffer_free(w);
    aios_buffer_free(w2);
    aios_key_unref(k);
    aios_key_unref(other);
}

static void test_sign_verify_every_type(void **state)
{
    (void)state;
    static const aios_key_type types[] = { AIOS_KEY_ED25519, AIOS_KEY_ECDSA_P256,
                                           AIOS_KEY_ECDSA_P384, AIOS_KEY_ECDSA_P521 };
    const uint8_t msg[] = "model manifest digest";
    for (size_t i = 0; i < 4; i++) {
        aios_key *k = make_key(types[i], "signer", 0, 0, 0, 0), *pk = NULL;
        aios_buffer *sig = NULL, *pem = NULL, *raw = NULL;
        tu_assert_ok(aios_key_sign(k, &sig, msg, sizeof(msg)));
        tu_assert_ok(aios_key_verify(k, aios_buffer_data(sig), aios_buffer_len(sig), msg, sizeof(msg)));
        tu_assert_status(aios_key_verify(k, aios_buffer_data(sig), aios_buffer_len(sig), msg, 3),
                         AIOS_E_AUTH);
        aios_buffer_data_mut(sig)[aios_buffer_len(sig) - 1] ^= 1;
        tu_assert_status(aios_key_verify(k, aios_buffer_data(sig), aios_buffer_len(sig), msg,
                                         sizeof(msg)), AIOS_E_AUTH);
        aios_buffer_data_mut(sig)[aios_buffer_len(sig) - 1] ^= 1;
        /* Public PEM out, public-only handle back in: it verifies too. */
        tu_assert_ok(aios_key_public_pem(k, &pem));
        assert_non_null(strstr((const char *)aios_buffer_data(pem), "-----BEGIN PUBLIC KEY-----"));
        assert_int_equal(strlen((const char *)aios_buffer_data(pem)), aios_buffer_len(pem));
        tu_assert_ok(aios_key_from_public_pem(&pk, NULL, (const char *)aios_buffer_data(pem),
                                              aios_buffer_len(pem)));
        assert_int_equal(aios_key_get_type(pk), types[i]);
        assert_int_equal(strlen(aios_key_id(pk)), 64);     /* fingerprint */
        tu_assert_ok(aios_key_verify(pk, aios_buffer_data(sig), aios_buffer_len(sig), msg, sizeof(msg)));
        aios_buffer *sig2 = NULL;
        tu_assert_status(aios_key_sign(pk, &sig2, msg, sizeof(msg)), AIOS_E_KEY_USAGE);
        tu_assert_ok(aios_key_public_raw(k, &raw));
        assert_int_equal(aios_buffer_len(raw), types[i] == AIOS_KEY_ED25519 ? 32
                         : types[i] == AIOS_KEY_ECDSA_P256 ? 65
                         : types[i] == AIOS_KEY_ECDSA_P384 ? 97 : 133);
        aios_buffer_free(raw);
        aios_buffer_free(sig);
        aios_buffer_free(pem);
        aios_key_unref(pk);
        aios_key_unref(k);
    }
}

static void test_mac(void **state)
{
    (void)state;
    aios_key *h = make_key(AIOS_KEY_HMAC_SHA256, "pseudo", 0, 0, 0, 0);
    aios_key *b = make_key(AIOS_KEY_BLAKE2B, "pseudo-b", 0, 0, 0, 0);
    uint8_t m1[32], m2[32], m3[32];
    tu_assert_ok(aios_key_mac(h, m1, (const uint8_t *)"alice@example.com", 17));
    tu_assert_ok(aios_key_mac(h, m2, (const uint8_t *)"alice@example.com", 17));
    assert_memory_equal(m1, m2, 32);          /* a stable pseudonym */
    tu_assert_ok(aios_key_mac(b, m3, (const uint8_t *)"alice@example.com", 17));
    assert_memory_not_equal(m1, m3, 32);
    /* HMAC matches the seam's HMAC with the same key (export to compare). */
    aios_key_unref(h);
    aios_key *he = make_key(AIOS_KEY_HMAC_SHA256, "pseudo-x", 0, 1, 0, 0);
    aios_buffer *sec = NULL;
    tu_assert_ok(aios_key_export(he, &sec));
    tu_assert_ok(aios_key_mac(he, m1, (const uint8_t *)"x", 1));
    aios__hmac_sha256(m2, aios_buffer_data(sec), aios_buffer_len(sec), (const uint8_t *)"x", 1);
    assert_memory_equal(m1, m2, 32);
    aios_buffer_free(sec);
    aios_key_unref(he);
    aios_key_unref(b);
}

static void test_agree(void **state)
{
    (void)state;
    aios_key *a = make_key(AIOS_KEY_X25519, "a", 0, 0, 0, 0);
    aios_key *b = make_key(AIOS_KEY_X25519, "b", 0, 0, 0, 0);
    aios_buffer *pa = NULL, *pb = NULL, *s1 = NULL, *s2 = NULL;
    tu_assert_ok(aios_key_public_raw(a, &pa));
    tu_assert_ok(aios_key_public_raw(b, &pb));
    tu_assert_ok(aios_key_agree(a, &s1, aios_buffer_data(pb), aios_buffer_len(pb)));
    tu_assert_ok(aios_key_agree(b, &s2, aios_buffer_data(pa), aios_buffer_len(pa)));
    assert_memory_equal(aios_buffer_data(s1), aios_buffer_data(s2), 32);
    aios_buffer_free(s2);
    static const uint8_t zero[32];
    tu_assert_status(aios_key_agree(a, &s2, zero, 32), AIOS_E_AUTH);
    tu_assert_status(aios_key_agree(a, &s2, zero, 31), AIOS_E_INVALID_ARGUMENT);
    aios_buffer_free(pa);
    aios_buffer_free(pb);
    aios_buffer_free(s1);
    aios_key_unref(a);
    aios_key_unref(b);
}

static void test_purposes(void **state)
{
    (void)state;
    aios_key *k = make_key(AIOS_KEY_AES256, "kek", 0, 0, 0, 0);
    aios_buffer *out = NULL;
    uint8_t mac[32];
    tu_assert_status(aios_key_sign(k, &out, (const uint8_t *)"x", 1), AIOS_E_KEY_USAGE);
    tu_assert_status(aios_key_mac(k, mac, (const uint8_t *)"x", 1), AIOS_E_KEY_USAGE);
    tu_assert_status(aios_key_public_pem(k, &out), AIOS_E_KEY_USAGE);
    tu_assert_status(aios_key_export(k, &out), AIOS_E_KEY_NOT_EXPORTABLE);
    aios_key_unref(k);
    /* A type cannot be given purposes it cannot serve. */
    uint8_t m[AIOS__MATERIAL_MAX], p[AIOS__PUBLIC_MAX];
    size_t ml, pl;
    aios__keyver *ver = NULL;
    aios__key_desc d = { "bad", 1, AIOS_KEY_AES256, AIOS_KEY_USE_SIGN, 0, 0, NULL, 0 };
    tu_assert_ok(aios__local_generate(AIOS_KEY_AES256, m, &ml, p, &pl));
    tu_assert_ok(aios__keyver_new(&ver, AIOS_KEY_ACTIVE, m, ml, NULL, 0, 0, 0));
    tu_assert_status(aios__key_new(&k, aios__provider_public(), &d, ver, NULL), AIOS_E_KEY_USAGE);
    d.purposes = AIOS_KEY_USE_WRAP;
    d.key_id = "";
    tu_assert_status(aios__key_new(&k, aios__provider_public(), &d, ver, NULL),
                     AIOS_E_INVALID_ARGUMENT);
    d.key_id = "bad\nid";
    tu_assert_status(aios__key_new(&k, aios__provider_public(), &d, ver, NULL),
                     AIOS_E_INVALID_ARGUMENT);
    aios__keyver_unref(ver);
}

static void test_states(void **state)
{
    (void)state;
    aios_key *k = make_key(AIOS_KEY_AES256, "kek", 0, 0, 0, 0);
    aios_key *s = make_key(AIOS_KEY_ED25519, "signer", 0, 0, 0, 0);
    uint8_t dk[32] = { 1 };
    aios_buffer *w = NULL, *out = NULL, *sig = NULL;
    tu_assert_ok(aios_key_wrap(k, &w, dk, 32, NULL, 0));
    tu_assert_ok(aios_key_sign(s, &sig, dk, 32));

    aios__keyver_set_state(k->ver, AIOS_KEY_DECRYPT_ONLY);
    tu_assert_status(aios_key_wrap(k, &out, dk, 32, NULL, 0), AIOS_E_KEY_DECRYPT_ONLY);
    tu_assert_ok(aios_key_unwrap(k, &out, aios_buffer_data(w), aios_buffer_len(w), NULL, 0));
    aios_buffer_free(out);
    aios__keyver_set_state(k->ver, AIOS_KEY_PENDING);
    tu_assert_status(aios_key_wrap(k, &out, dk, 32, NULL, 0), AIOS_E_KEY_DECRYPT_ONLY);
    aios__keyver_set_state(k->ver, AIOS_KEY_DISABLED);
    tu_assert_status(aios_key_unwrap(k, &out, aios_buffer_data(w), aios_buffer_len(w), NULL, 0),
                     AIOS_E_KEY_DISABLED);
    aios__keyver_set_state(k->ver, AIOS_KEY_ACTIVE);
    aios__keyver_destroy(k->ver);
    assert_int_equal(aios_key_get_state(k), AIOS_KEY_DESTROYED);
    assert_null(k->ver->material);
    tu_assert_status(aios_key_unwrap(k, &out, aios_buffer_data(w), aios_buffer_len(w), NULL, 0),
                     AIOS_E_KEY_DESTROYED);
    assert_non_null(strstr(aios_last_error_message(), "destroyed"));
    /* Destroyed stays destroyed; metadata stays readable. */
    aios__keyver_set_state(k->ver, AIOS_KEY_ACTIVE);
    assert_int_equal(aios_key_get_state(k), AIOS_KEY_DESTROYED);
    assert_string_equal(aios_key_id(k), "kek");

    /* A destroyed signing key still verifies what it signed, nothing more. */
    aios__keyver_destroy(s->ver);
    tu_assert_ok(aios_key_verify(s, aios_buffer_data(sig), aios_buffer_len(sig), dk, 32));
    tu_assert_status(aios_key_sign(s, &out, dk, 32), AIOS_E_KEY_DESTROYED);
    aios_buffer_free(w);
    aios_buffer_free(sig);
    aios_key_unref(k);
    aios_key_unref(s);
}

static void test_usage_limit(void **state)
{
    (void)state;
    aios_key *k = make_key(AIOS_KEY_AES256, "kek", 0, 0, 3, 0);
    uint8_t dk[16] = { 0 };
    aios_buffer *w = NULL;
    for (int i = 0; i < 3; i++) {
        tu_assert_ok(aios_key_wrap(k, &w, dk, 16, NULL, 0));
        if (i < 2)
            aios_buffer_free(w);
    }
    aios_buffer *w2 = NULL;
    tu_assert_status(aios_key_wrap(k, &w2, dk, 16, NULL, 0), AIOS_E_KEY_USAGE_LIMIT);
    /* Unwrapping is not limited. */
    aios_buffer *out = NULL;
    tu_assert_ok(aios_key_unwrap(k, &out, aios_buffer_data(w), aios_buffer_len(w), NULL, 0));
    aios_buffer_free(out);
    aios_buffer_free(w);
    aios_key_unref(k);
}

static int64_t fixed_now;
static int64_t test_clock(void) { return fixed_now; }

static void test_expiry(void **state)
{
    (void)state;
    aios_key *k = make_key(AIOS_KEY_ED25519, "signer", 0, 0, 0, 2000000000);
    aios_buffer *sig = NULL;
    aios__key_set_clock_for_testing(test_clock);
    fixed_now = 1999999999;
    tu_assert_ok(aios_key_sign(k, &sig, (const uint8_t *)"m", 1));
    fixed_now = 2000000001;
    aios_buffer *sig2 = NULL;
    tu_assert_status(aios_key_sign(k, &sig2, (const uint8_t *)"m", 1), AIOS_E_KEY_EXPIRED);
    tu_assert_ok(aios_key_verify(k, aios_buffer_data(sig), aios_buffer_len(sig),
                                 (const uint8_t *)"m", 1));
    aios__key_set_clock_for_testing(NULL);
    aios_buffer_free(sig);
    aios_key_unref(k);
}

static void test_export(void **state)
{
    (void)state;
    static const aios_key_type types[] = { AIOS_KEY_ED25519, AIOS_KEY_X25519,
                                           AIOS_KEY_ECDSA_P256, AIOS_KEY_ECDSA_P384 };
    for (size_t i = 0; i < 4; i++) {
        aios_key *k = make_key(types[i], "exp", 0, 1, 0, 0);
        aios_buffer *pem = NULL, *pub1 = NULL;
        uint8_t m[AIOS__MATERIAL_MAX], p[AIOS__PUBLIC_MAX];
        size_t ml = 0, pl = 0;
        tu_assert_ok(aios_key_export(k, &pem));
        assert_true(aios_buffer_flags(pem) & AIOS_BUFFER_SECURE);
        assert_non_null(strstr((const char *)aios_buffer_data(pem), "BEGIN PRIVATE KEY"));
        /* Importing the export gives the same public key. */
        tu_assert_ok(aios__local_import(types[i], aios_buffer_data(pem), aios_buffer_len(pem),
                                        m, &ml, p, &pl));
        tu_assert_ok(aios_key_public_raw(k, &pub1));
        assert_int_equal(pl, aios_buffer_len(pub1));
        assert_memory_equal(p, aios_buffer_data(pub1), pl);
        /* ...and not as another type. */
        tu_assert_status(aios__local_import(types[(i + 1) % 4], aios_buffer_data(pem),
                                            aios_buffer_len(pem), m, &ml, p, &pl), AIOS_E_FORMAT);
        aios__wipe(m, sizeof(m));
        aios_buffer_free(pem);
        aios_buffer_free(pub1);
        aios_key_unref(k);
    }
}

/* Threads unwrapping while another destroys the version: each call
 * succeeds or reports AIOS_E_KEY_DESTROYED, never reads freed material. */
typedef struct race {
    aios_key *k;
    aios_buffer *w;
    int ok, destroyed, other;
} race;

static void *unwrapper(void *p)
{
    race *r = p;
    for (int i = 0; i < 2000; i++) {
        aios_buffer *out = NULL;
        int rc = aios_key_unwrap(r->k, &out, aios_buffer_data(r->w), aios_buffer_len(r->w), NULL, 0);
        if (rc == AIOS_OK) r->ok++;
        else if (rc == AIOS_E_KEY_DESTROYED) r->destroyed++;
        else r->other++;
        aios_buffer_free(out);
    }
    return NULL;
}

static void test_destroy_while_in_use(void **state)
{
    (void)state;
    aios_key *k = make_key(AIOS_KEY_AES256, "kek", 0, 0, 0, 0);
    aios_buffer *w = NULL;
    uint8_t dk[32] = { 9 };
    pthread_t t[3];
    race r[3];
    tu_assert_ok(aios_key_wrap(k, &w, dk, 32, NULL, 0));
    for (int i = 0; i < 3; i++) {
        r[i] = (race){ k, w, 0, 0, 0 };
        assert_int_equal(pthread_create(&t[i], NULL, unwrapper, &r[i]), 0);
    }
    aios__keyver_destroy(k->ver);
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].other, 0);
        assert_int_equal(r[i].ok + r[i].destroyed, 2000);
    }
    aios_buffer_free(w);
    aios_key_unref(k);
}

/* A P-521 private key made by OpenSSL (`openssl ecparam -name secp521r1
 * -genkey -noout | openssl pkcs8 -topk8 -nocrypt`), a test key. */
static const char P521_PKCS8[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIHuAgEAMBAGByqGSM49AgEGBSuBBAAjBIHWMIHTAgEBBEIAlELOkO0DU2xfMfBL\n"
    "pnGREM+dke/G89occ8HWhvEBwKtfusiqJsKbkh0MEq03+iRHvgXvht03ZAsCSoGt\n"
    "QB/nyVGhgYkDgYYABADOlLuivWjmJBJQJypQQOmmH9I50UbppOCG0FAqBHo8DbOw\n"
    "z14ay3ssukGtwJRNZR1LyvMkz1LP6BshTFCjnZcSlABK40kwaNf2LVvIh/7EBEyU\n"
    "cNg+EaqAaLiKnjiMdPktmcIWjBp0y1wV3wSPvzESEcqkE3CCzOc49hap/JTRgKf7\n"
    "Ww==\n"
    "-----END PRIVATE KEY-----\n";

/* ECDSA P-521 public keys: a public key from PEM verifies P-521/SHA-512
 * DER signatures (made here by the crypto seam) and never signs. */
static void test_p521_public(void **state)
{
    uint8_t sk[AIOS__EC_SCALAR_MAX], pk[AIOS__EC_POINT_MAX], sig[AIOS__EC_DER_SIG_MAX + 1];
    char pem[AIOS__SPKI_PEM_MAX];
    size_t sig_len = 0, pem_len = 0;
    const uint8_t msg[] = "model manifest digest";
    aios_key *k = NULL;
    aios_buffer *b = NULL;
    (void)state;

    tu_assert_ok(aios__ecdsa_keypair(AIOS__EC_P521, sk, pk));
    tu_assert_ok(aios__ecdsa_sign_der(AIOS__EC_P521, sig, sizeof(sig), &sig_len, msg, sizeof(msg),
                                      sk));
    assert_true(sig_len > 130 && sig_len <= 139);
    assert_int_equal(sig[1], 0x81);            /* long-form SEQUENCE length */
    tu_assert_ok(aios__spki_encode_pem(pem, sizeof(pem), &pem_len, AIOS__KEYENC_P521, pk, 133));

    tu_assert_ok(aios_key_from_public_pem(&k, NULL, pem, pem_len));
    assert_int_equal(aios_key_get_type(k), AIOS_KEY_ECDSA_P521);
    assert_int_equal(aios_key_purposes(k), AIOS_KEY_USE_VERIFY);
    assert_string_equal(aios_key_provider_name(k), "public");
    assert_int_equal(strlen(aios_key_id(k)), 64);
    tu_assert_ok(aios_key_verify(k, sig, sig_len, msg, sizeof(msg)));
    tu_assert_status(aios_key_verify(k, sig, sig_len, msg, sizeof(msg) - 1), AIOS_E_AUTH);
    sig[sig_len - 1] ^= 1;
    tu_assert_status(aios_key_verify(k, sig, sig_len, msg, sizeof(msg)), AIOS_E_AUTH);
    sig[sig_len - 1] ^= 1;
    /* The same signature with a non-minimal length form is refused. */
    {
        uint8_t bad[AIOS__EC_DER_SIG_MAX + 2];
        bad[0] = 0x30;
        bad[1] = 0x82;
        bad[2] = 0x00;
        memcpy(bad + 3, sig + 2, sig_len - 2);
        tu_assert_status(aios_key_verify(k, bad, sig_len + 1, msg, sizeof(msg)), AIOS_E_AUTH);
    }
    /* A P-256 signature length or a P-384 curve guess gets nowhere. */
    tu_assert_status(aios_key_verify(k, sig, 72, msg, sizeof(msg)), AIOS_E_AUTH);
    /* Public forms come back as they went in. */
    tu_assert_ok(aios_key_public_raw(k, &b));
    assert_int_equal(aios_buffer_len(b), 133);
    assert_memory_equal(aios_buffer_data(b), pk, 133);
    aios_buffer_free(b);
    b = NULL;
    tu_assert_ok(aios_key_public_pem(k, &b));
    assert_int_equal(aios_buffer_len(b), pem_len);
    assert_string_equal((const char *)aios_buffer_data(b), pem);
    aios_buffer_free(b);
    b = NULL;
    /* Never signs, never exports. */
    tu_assert_status(aios_key_sign(k, &b, msg, sizeof(msg)), AIOS_E_KEY_USAGE);
    assert_null(b);
    assert_int_not_equal(aios_key_export(k, &b), AIOS_OK);
    assert_null(b);
    aios_key_unref(k);

    aios__wipe(sk, sizeof(sk));
}

/* ECDSA P-521 private keys: generated (66-byte scalar, 133-byte point) and
 * imported from OpenSSL's PKCS#8; the handle signs DER ECDSA-SHA-512 that
 * the key, its public PEM and the crypto seam verify; the export is
 * OpenSSL's PKCS#8 byte for byte; the wrong type is refused. */
static void test_p521_private(void **state)
{
    uint8_t m[AIOS__MATERIAL_MAX], p[AIOS__PUBLIC_MAX], again[AIOS__PUBLIC_MAX];
    size_t ml = 0, pl = 0, n = 0;
    const uint8_t msg[] = "model manifest digest";
    aios__keyver *ver = NULL;
    aios__key_desc d;
    aios_key *k = NULL, *pk = NULL;
    aios_buffer *sig = NULL, *pem = NULL, *exp = NULL;
    (void)state;

    tu_assert_ok(aios__local_generate(AIOS_KEY_ECDSA_P521, m, &ml, p, &pl));
    assert_int_equal(ml, 66);
    assert_int_equal(pl, 133);
    assert_int_equal(p[0], 0x04);
    assert_true(m[0] <= 1);                         /* a 521-bit scalar */
    tu_assert_ok(aios__keyenc_public(AIOS__KEYENC_P521, m, ml, again, sizeof(again), &n));
    assert_int_equal(n, 133);
    assert_memory_equal(again, p, 133);

    ml = pl = 99;
    tu_assert_ok(aios__local_import(AIOS_KEY_ECDSA_P521, (const uint8_t *)P521_PKCS8,
                                    strlen(P521_PKCS8), m, &ml, p, &pl));
    assert_int_equal(ml, 66);
    assert_int_equal(pl, 133);
    tu_assert_ok(aios__keyver_new(&ver, AIOS_KEY_ACTIVE, m, ml, p, pl, 0, 0));
    aios__wipe(m, sizeof(m));
    memset(&d, 0, sizeof(d));
    d.key_id = "p521";
    d.version = 1;
    d.type = AIOS_KEY_ECDSA_P521;
    d.purposes = aios__key_type_natural(AIOS_KEY_ECDSA_P521);
    d.exportable = 1;
    tu_assert_ok(aios__key_new(&k, aios__provider_public(), &d, ver, NULL));
    aios__keyver_unref(ver);

    tu_assert_ok(aios_key_sign(k, &sig, msg, sizeof(msg)));
    assert_true(aios_buffer_len(sig) > 130 && aios_buffer_len(sig) <= AIOS__EC_DER_SIG_MAX);
    assert_int_equal(aios_buffer_data(sig)[1], 0x81);   /* long-form SEQUENCE length */
    tu_assert_ok(aios_key_verify(k, aios_buffer_data(sig), aios_buffer_len(sig), msg, sizeof(msg)));
    tu_assert_ok(aios__ecdsa_verify_der(AIOS__EC_P521, aios_buffer_data(sig), aios_buffer_len(sig),
                                        msg, sizeof(msg), p, 133));
    tu_assert_status(aios_key_verify(k, aios_buffer_data(sig), aios_buffer_len(sig), msg, 5),
                     AIOS_E_AUTH);
    tu_assert_ok(aios_key_public_pem(k, &pem));
    tu_assert_ok(aios_key_from_public_pem(&pk, NULL, (const char *)aios_buffer_data(pem),
                                          aios_buffer_len(pem)));
    assert_int_equal(aios_key_get_type(pk), AIOS_KEY_ECDSA_P521);
    tu_assert_ok(aios_key_verify(pk, aios_buffer_data(sig), aios_buffer_len(sig), msg, sizeof(msg)));
    /* The export is the PKCS#8 OpenSSL wrote. */
    tu_assert_ok(aios_key_export(k, &exp));
    assert_int_equal(aios_buffer_len(exp), strlen(P521_PKCS8));
    assert_memory_equal(aios_buffer_data(exp), P521_PKCS8, strlen(P521_PKCS8));
    aios_buffer_free(exp);
    aios_buffer_free(pem);
    aios_buffer_free(sig);
    aios_key_unref(pk);
    aios_key_unref(k);

    /* Given as another EC type, the import names what the key is. */
    tu_assert_status(aios__local_import(AIOS_KEY_ECDSA_P384, (const uint8_t *)P521_PKCS8,
                                        strlen(P521_PKCS8), m, &ml, p, &pl), AIOS_E_FORMAT);
    assert_non_null(strstr(aios_last_error_message(), "the key is p521, not ecdsa-p384"));
    assert_int_equal(ml, 0);
    assert_int_equal(pl, 0);
}

static void test_public_pem_rejects(void **state)
{
    (void)state;
    aios_key *k = NULL;
    tu_assert_status(aios_key_from_public_pem(&k, "x", "not a pem", 9), AIOS_E_FORMAT);
    assert_null(k);
    assert_non_null(strstr(aios_last_error_message(), "aios_key_from_public_pem"));
}

int main(void)
{
    /* The internals used to build handles assume an initialised library. */
    if (aios_init() != AIOS_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_rsa_not_local),
        cmocka_unit_test(test_metadata_and_attributes),
        cmocka_unit_test(test_wrap_unwrap),
        cmocka_unit_test(test_sign_verify_every_type),
        cmocka_unit_test(test_mac),
        cmocka_unit_test(test_agree),
        cmocka_unit_test(test_purposes),
        cmocka_unit_test(test_states),
        cmocka_unit_test(test_usage_limit),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_export),
        cmocka_unit_test(test_destroy_while_in_use),
        cmocka_unit_test(test_p521_public),
        cmocka_unit_test(test_p521_private),
        cmocka_unit_test(test_public_pem_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
