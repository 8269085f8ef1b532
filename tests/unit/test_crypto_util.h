/*
 * Small helpers shared by the tests/unit/test_crypto_*.c programs (on top
 * of tests/util/testutil.h).  Header-only: every function is static.
 */
#ifndef AIOS_TEST_CRYPTO_UTIL_H
#define AIOS_TEST_CRYPTO_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "testutil.h"
#include "crypto/crypto.h"

/* A cmocka group setup/teardown pair that points OPENSSL_CONF at a
 * FIPS-only configuration without the FIPS provider (every fetch from the
 * default library context is refused) before aios_init(): the tests of
 * the code paths that fall back from OpenSSL (test_crypto_*_config). */
static inline char *tc_fips_conf_path(void)
{
    static char path[64];
    return path;
}

static inline int tc_fips_only_setup(void **state)
{
    static const char conf[] =
        "openssl_conf = openssl_init\n"
        "[openssl_init]\n"
        "alg_section = evp_properties\n"
        "[evp_properties]\n"
        "default_properties = fips=yes\n";
    int fd;
    (void)state;
    snprintf(tc_fips_conf_path(), 64, "/tmp/aios-fips-only.XXXXXX");
    fd = mkstemp(tc_fips_conf_path());
    if (fd < 0 || write(fd, conf, sizeof(conf) - 1) != (ssize_t)(sizeof(conf) - 1))
        return -1;
    close(fd);
    if (setenv("OPENSSL_CONF", tc_fips_conf_path(), 1) != 0)
        return -1;
    return aios_init() == AIOS_OK ? 0 : -1;
}

static inline int tc_fips_only_teardown(void **state)
{
    (void)state;
    unlink(tc_fips_conf_path());
    return 0;
}

/* A hex member decoded into a malloc'd buffer, with its length. */
typedef struct tc_bytes {
    uint8_t *p;
    size_t   n;
} tc_bytes;

static inline tc_bytes tc_member(json_t *obj, const char *key)
{
    tc_bytes b;
    b.p = tu_hexmember(obj, key, &b.n);
    return b;
}

static inline tc_bytes tc_hex(const char *hex)
{
    tc_bytes b;
    b.p = tu_hex(hex, &b.n);
    return b;
}

static inline int tc_int(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        fail_msg("member %s missing or not an integer", key);
    return (int)json_integer_value(v);
}

static inline int tc_is_zero(const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

/* Counts kept by a Wycheproof walk; printed and checked by tc_report. */
typedef struct tc_counts {
    const char *file;
    size_t valid, invalid, acceptable, skipped, failures;
} tc_counts;

static inline void tc_count(tc_counts *c, int result)
{
    if (result == 1) c->valid++;
    else if (result == 0) c->invalid++;
    else c->acceptable++;
}

static inline void tc_report(const tc_counts *c)
{
    printf("%s: %zu valid, %zu invalid, %zu acceptable run; %zu skipped (unsupported parameters)\n",
           c->file, c->valid, c->invalid, c->acceptable, c->skipped);
    fflush(stdout);
    assert_int_equal(c->failures, 0);
    assert_true(c->valid > 0);
}

/* A Wycheproof AEAD case (aead_test_schema.json) of a group with a
 * 256-bit key, an iv_bits-bit IV and a 128-bit tag: 1, the case counted in
 * *c and its hex members decoded (malloc'd: free each .p); 0 for other
 * parameters (counted as skipped, nothing decoded). */
static inline int tc_aead_take(json_t *group, json_t *test, int iv_bits, tc_counts *c,
                               tc_bytes *key, tc_bytes *iv, tc_bytes *aad, tc_bytes *msg,
                               tc_bytes *ct, tc_bytes *tag)
{
    if (tc_int(group, "keySize") != 256 || tc_int(group, "ivSize") != iv_bits ||
        tc_int(group, "tagSize") != 128) {
        c->skipped++;
        return 0;
    }
    tc_count(c, tu_result(test));
    *key = tc_member(test, "key");
    *iv = tc_member(test, "iv");
    *aad = tc_member(test, "aad");
    *msg = tc_member(test, "msg");
    *ct = tc_member(test, "ct");
    *tag = tc_member(test, "tag");
    return 1;
}

/* Where no hardware AES-256-GCM backend runs (aios__aead_available() is
 * 0), say so (why, on stdout: not a silent pass) and check that a key is
 * still made but is open-only: sealing is AIOS_E_UNSUPPORTED. */
static inline void tc_assert_gcm_open_only(const char *why)
{
    aios__aead_key *k = NULL;
    uint8_t key[32] = { 0 }, nonce[12] = { 0 }, buf[4] = { 0 }, tag[16];
    printf("%s; keys are open-only\n", why);
    tu_assert_ok(aios__aead_key_new(&k, AIOS__AEAD_AES256GCM, key));
    assert_false(aios__aead_key_can_seal(k));
    assert_int_equal(aios__aead_seal(k, buf, tag, buf, sizeof(buf), NULL, 0, nonce),
                     AIOS_E_UNSUPPORTED);
    aios__aead_key_free(k);
}

/* Record a failed case without stopping, so one run shows every bad case. */
#define TC_CHECK(c, cond, test, what) do {                                       \
        if (!(cond)) {                                                           \
            printf("  %s tcId %d: %s (%s)\n", (c)->file, tc_int((test), "tcId"),   \
                   (what), aios_last_error_message());                           \
            (c)->failures++;                                                     \
        }                                                                        \
    } while (0)

/* Per-program setup: the crypto seam only needs its backend initialised. */
static inline int tc_setup(void **state)
{
    (void)state;
    return aios__crypto_init() == AIOS_OK ? 0 : -1;
}

/* ECDSA Wycheproof files (DER or P1363 signatures) through
 * aios__ecdsa_verify_der / _p1363: every valid signature accepted, every
 * invalid one refused (AIOS_E_AUTH); both kinds present. */
typedef struct tc_ecdsa_walk {
    tc_counts      c;
    aios__ec_curve curve;
    int            p1363;
} tc_ecdsa_walk;

static inline void tc_ecdsa_case(json_t *group, json_t *test, void *arg)
{
    tc_ecdsa_walk *w = arg;
    int result = tu_result(test), rc;
    json_t *key = json_object_get(group, "publicKey");
    tc_bytes pk = tc_member(key, "uncompressed"), msg = tc_member(test, "msg"),
             sig = tc_member(test, "sig");

    tc_count(&w->c, result);
    assert_int_equal(pk.n, aios__ec_point_len(w->curve));
    if (w->p1363)
        rc = aios__ecdsa_verify_p1363(w->curve, sig.p, sig.n, msg.p, msg.n, pk.p, pk.n);
    else
        rc = aios__ecdsa_verify_der(w->curve, sig.p, sig.n, msg.p, msg.n, pk.p, pk.n);
    if (result == 1)
        TC_CHECK(&w->c, rc == AIOS_OK, test, "valid signature rejected");
    else if (result == 0)
        TC_CHECK(&w->c, rc == AIOS_E_AUTH, test, "invalid signature accepted");
    free(pk.p); free(msg.p); free(sig.p);
}

static inline void tc_ecdsa_wycheproof(json_t *root, const char *file, aios__ec_curve curve,
                                       int p1363)
{
    tc_ecdsa_walk w;
    size_t total;
    memset(&w, 0, sizeof(w));
    w.c.file = file;
    w.curve = curve;
    w.p1363 = p1363;
    total = tu_wycheproof_each(root, tc_ecdsa_case, &w);
    assert_int_equal(total, w.c.valid + w.c.invalid + w.c.acceptable);
    tc_report(&w.c);
    assert_true(w.c.invalid > 0);
    assert_true(w.c.valid > 0);
}

#endif /* AIOS_TEST_CRYPTO_UTIL_H */
