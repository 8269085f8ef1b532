/*
 * The "callback:<name>" provider against a fake KMS held by this test:
 * AES-256-class wrapping keys (XChaCha20-Poly1305 through libaios' own
 * AEAD, one key per version), an Ed25519 and an ECDSA P-256 signing key,
 * and knobs that make the host fail, lie, ask for bigger buffers or block
 * until the test lets it go (for deadlines and late completions).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"
#include "key/key_internal.h"
#include "crypto/crypto.h"

/* ------------------------------------------------------------ fake KMS */

#define KMS_VERSIONS 3          /* "wrap-key" has versions 1..3; 3 is current */

typedef enum kms_mode {
    KMS_NORMAL = 0,
    KMS_STATUS,                 /* wrap/unwrap/sign return forced_status */
    KMS_STATUS_MESSAGE,         /* ... after recording a message on the worker */
    KMS_BLOCK,                  /* wrap/unwrap/sign wait for the gate */
    KMS_ASK_BIGGER,             /* wrap asks for ask_size first, then fits */
    KMS_ASK_AGAIN,              /* wrap asks for a bigger buffer every time */
    KMS_OVERFLOW,               /* wrap reports out_len > out_cap with AIOS_OK */
    KMS_EMPTY                   /* wrap returns 0 bytes */
} kms_mode;

typedef struct fake_kms {
    aios__aead_key *kek[KMS_VERSIONS + 1];
    uint8_t ed_pk[AIOS__ED25519_PK_LEN], ed_sk[AIOS__ED25519_SK_LEN];
    uint8_t other_pk[AIOS__ED25519_PK_LEN], other_sk[AIOS__ED25519_SK_LEN];
    uint8_t ec_pk[65], ec_sk[32];
    uint8_t p521_pk[133], p521_sk[66];

    atomic_int mode;
    int forced_status;
    size_t ask_size;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    int gate_open;              /* under mu */
    atomic_int blocked;         /* host calls waiting at the gate */
    atomic_int finished;        /* host calls that returned */

    atomic_int calls;           /* wrap/unwrap/sign calls */
    atomic_int describes;
    atomic_int releases;
    atomic_uint last_deadline;
    atomic_int other_thread;    /* set if a host call ran off the caller's thread */
    pthread_t caller;
} fake_kms;

static fake_kms kms;

static void gate_wait(fake_kms *k)
{
    atomic_fetch_add(&k->blocked, 1);
    pthread_mutex_lock(&k->mu);
    while (!k->gate_open)
        pthread_cond_wait(&k->cv, &k->mu);
    pthread_mutex_unlock(&k->mu);
    atomic_fetch_sub(&k->blocked, 1);
}

static void gate_set(fake_kms *k, int open)
{
    pthread_mutex_lock(&k->mu);
    k->gate_open = open;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Wait (up to 10 s) until *v reaches want. */
static int wait_for(atomic_int *v, int want)
{
    uint64_t until = now_ms() + 10000;
    while (atomic_load(v) != want) {
        if (now_ms() > until)
            return 0;
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    return 1;
}

/* Host behaviour shared by wrap, unwrap and sign: NULL to go on, else the
 * status to return. */
static int host_prelude(fake_kms *k, uint32_t deadline_ms, int *rc)
{
    atomic_fetch_add(&k->calls, 1);
    atomic_store(&k->last_deadline, deadline_ms);
    if (!pthread_equal(pthread_self(), k->caller))
        atomic_store(&k->other_thread, 1);
    switch ((kms_mode)atomic_load(&k->mode)) {
    case KMS_STATUS:
        *rc = k->forced_status;
        return 1;
    case KMS_STATUS_MESSAGE:
        *rc = aios__fail(k->forced_status, "kms said: throttled, try later");
        return 1;
    case KMS_BLOCK:
        gate_wait(k);
        return 0;
    default:
        return 0;
    }
}

static int host_done(fake_kms *k, int rc)
{
    atomic_fetch_add(&k->finished, 1);
    return rc;
}

static int kms_describe(void *payload, const char *key_id, uint32_t version,
                        aios_provider_key_info *info, uint32_t deadline_ms)
{
    fake_kms *k = payload;
    atomic_fetch_add(&k->describes, 1);
    atomic_store(&k->last_deadline, deadline_ms);
    if (info->size < sizeof(*info))
        return AIOS_E_VERSION;
    info->created_at = 1700000000;
    info->purposes = 0;
    info->state = AIOS_KEY_ACTIVE;
    if (strcmp(key_id, "wrap-key") == 0) {
        if (version > KMS_VERSIONS)
            return aios__fail(AIOS_E_KEY_VERSION_NOT_FOUND, "no version %u", version);
        info->version = version ? version : KMS_VERSIONS;
        info->type = AIOS_KEY_AES256;
        info->purposes = AIOS_KEY_USE_WRAP;
        if (info->version == 1)
            info->state = AIOS_KEY_DECRYPT_ONLY;
        return AIOS_OK;
    }
    info->version = version ? version : 1;
    if (strcmp(key_id, "ed-key") == 0 || strcmp(key_id, "liar-key") == 0 ||
        strcmp(key_id, "ed-as-p256") == 0) {
        info->type = strcmp(key_id, "ed-as-p256") == 0 ? AIOS_KEY_ECDSA_P256 : AIOS_KEY_ED25519;
        info->purposes = AIOS_KEY_USE_SIGN | AIOS_KEY_USE_VERIFY;
        return AIOS_OK;
    }
    if (strcmp(key_id, "p256-key") == 0) {
        info->type = AIOS_KEY_ECDSA_P256;
        return AIOS_OK;                 /* purposes 0: the type's natural ones */
    }
    if (strcmp(key_id, "garbage-spki") == 0) {
        info->type = AIOS_KEY_ED25519;
        return AIOS_OK;
    }
    /* Hosts that describe badly. */
    if (strcmp(key_id, "bad-version0") == 0) { info->version = 0; info->type = AIOS_KEY_AES256; return AIOS_OK; }
    if (strcmp(key_id, "bad-other-version") == 0) { info->version = version + 1; info->type = AIOS_KEY_AES256; return AIOS_OK; }
    if (strcmp(key_id, "bad-type") == 0) { info->type = (aios_key_type)42; return AIOS_OK; }
    if (strcmp(key_id, "p521-key") == 0) { info->type = AIOS_KEY_ECDSA_P521; return AIOS_OK; }
    if (strcmp(key_id, "bad-purposes") == 0) {
        info->type = AIOS_KEY_AES256;
        info->purposes = AIOS_KEY_USE_WRAP | AIOS_KEY_USE_SIGN;
        return AIOS_OK;
    }
    if (strcmp(key_id, "bad-state") == 0) { info->type = AIOS_KEY_AES256; info->state = (aios_key_state)9; return AIOS_OK; }
    if (strcmp(key_id, "bad-positive") == 0)
        return 3;
    return AIOS_E_KEY_NOT_FOUND;
}

#define WRAP_HDR (1 + 24)

static int kms_wrap(void *payload, const char *key_id, uint32_t version,
                    const uint8_t *dk, size_t dk_len, const uint8_t *ad, size_t ad_len,
                    uint8_t *out, size_t out_cap, size_t *out_len, uint32_t deadline_ms)
{
    fake_kms *k = payload;
    size_t need = WRAP_HDR + dk_len + AIOS__AEAD_TAG_LEN;
    int rc;
    if (host_prelude(k, deadline_ms, &rc))
        return host_done(k, rc);
    switch ((kms_mode)atomic_load(&k->mode)) {
    case KMS_ASK_BIGGER:
        if (out_cap < k->ask_size) {
            *out_len = k->ask_size;
            return host_done(k, AIOS_E_BUFFER_TOO_SMALL);
        }
        break;
    case KMS_ASK_AGAIN:
        *out_len = out_cap + 100;
        return host_done(k, AIOS_E_BUFFER_TOO_SMALL);
    case KMS_OVERFLOW:
        *out_len = out_cap + 1;
        return host_done(k, AIOS_OK);
    case KMS_EMPTY:
        *out_len = 0;
        return host_done(k, AIOS_OK);
    default:
        break;
    }
    if (strcmp(key_id, "wrap-key") != 0 || version < 1 || version > KMS_VERSIONS)
        return host_done(k, AIOS_E_KEY_NOT_FOUND);
    if (out_cap < need) {
        *out_len = need;
        return host_done(k, AIOS_E_BUFFER_TOO_SMALL);
    }
    out[0] = (uint8_t)version;
    aios__random_bytes(out + 1, 24);
    rc = aios__aead_seal(k->kek[version], out + WRAP_HDR, out + WRAP_HDR + dk_len, dk, dk_len,
                         ad, ad_len, out + 1);
    *out_len = need;
    return host_done(k, rc);
}

static int kms_unwrap(void *payload, const char *key_id, uint32_t version,
                      const uint8_t *w, size_t w_len, const uint8_t *ad, size_t ad_len,
                      uint8_t *out, size_t out_cap, size_t *out_len, uint32_t deadline_ms)
{
    fake_kms *k = payload;
    size_t n;
    int rc;
    if (host_prelude(k, deadline_ms, &rc))
        return host_done(k, rc);
    if (strcmp(key_id, "wrap-key") != 0 || version < 1 || version > KMS_VERSIONS)
        return host_done(k, AIOS_E_KEY_NOT_FOUND);
    if (w_len < WRAP_HDR + AIOS__AEAD_TAG_LEN + 1 || w[0] != version)
        return host_done(k, AIOS_E_AUTH);
    n = w_len - WRAP_HDR - AIOS__AEAD_TAG_LEN;
    if (out_cap < n) {
        *out_len = n;
        return host_done(k, AIOS_E_BUFFER_TOO_SMALL);
    }
    rc = aios__aead_open(k->kek[version], out, w + WRAP_HDR, n, w + WRAP_HDR + n, ad, ad_len,
                         w + 1);
    *out_len = rc == AIOS_OK ? n : 0;
    return host_done(k, rc);
}

static int kms_sign(void *payload, const char *key_id, uint32_t version,
                    const uint8_t *msg, size_t msg_len,
                    uint8_t *out, size_t out_cap, size_t *out_len, uint32_t deadline_ms)
{
    fake_kms *k = payload;
    int rc;
    (void)version;
    if (host_prelude(k, deadline_ms, &rc))
        return host_done(k, rc);
    if (strcmp(key_id, "ed-key") == 0 || strcmp(key_id, "liar-key") == 0) {
        if (out_cap < AIOS__ED25519_SIG_LEN) {
            *out_len = AIOS__ED25519_SIG_LEN;
            return host_done(k, AIOS_E_BUFFER_TOO_SMALL);
        }
        /* The liar signs with a key other than the one it published. */
        rc = aios__ed25519_sign(out, msg, msg_len,
                                strcmp(key_id, "liar-key") == 0 ? k->other_sk : k->ed_sk);
        *out_len = AIOS__ED25519_SIG_LEN;
        return host_done(k, rc);
    }
    if (strcmp(key_id, "p256-key") == 0) {
        rc = aios__ecdsa_sign_der(AIOS__EC_P256, out, out_cap, out_len, msg, msg_len, k->ec_sk);
        return host_done(k, rc);
    }
    if (strcmp(key_id, "p521-key") == 0) {
        rc = aios__ecdsa_sign_der(AIOS__EC_P521, out, out_cap, out_len, msg, msg_len,
                                  k->p521_sk);
        return host_done(k, rc);
    }
    return host_done(k, AIOS_E_KEY_NOT_FOUND);
}

static int kms_public_key(void *payload, const char *key_id, uint32_t version,
                          uint8_t *out, size_t out_cap, size_t *out_len, uint32_t deadline_ms)
{
    fake_kms *k = payload;
    (void)version;
    (void)deadline_ms;
    if (strcmp(key_id, "ed-key") == 0 || strcmp(key_id, "liar-key") == 0)
        return aios__spki_encode_der(out, out_cap, out_len, AIOS__KEYENC_ED25519, k->ed_pk, 32);
    if (strcmp(key_id, "p256-key") == 0 || strcmp(key_id, "ed-as-p256") == 0) {
        if (strcmp(key_id, "ed-as-p256") == 0)
            return aios__spki_encode_der(out, out_cap, out_len, AIOS__KEYENC_ED25519, k->ed_pk, 32);
        return aios__spki_encode_der(out, out_cap, out_len, AIOS__KEYENC_P256, k->ec_pk, 65);
    }
    if (strcmp(key_id, "p521-key") == 0)
        return aios__spki_encode_der(out, out_cap, out_len, AIOS__KEYENC_P521, k->p521_pk, 133);
    if (strcmp(key_id, "garbage-spki") == 0) {
        if (out_cap < 10)
            return AIOS_E_BUFFER_TOO_SMALL;
        memset(out, 0x30, 10);
        *out_len = 10;
        return AIOS_OK;
    }
    return AIOS_E_KEY_NOT_FOUND;
}

static void kms_release(void *payload)
{
    fake_kms *k = payload;
    atomic_fetch_add(&k->releases, 1);
}

static const aios_provider_ops kms_ops = {
    sizeof(aios_provider_ops),
    AIOS_PROVIDER_CAN_WRAP | AIOS_PROVIDER_CAN_UNWRAP | AIOS_PROVIDER_CAN_SIGN |
        AIOS_PROVIDER_CAN_PUBLIC_KEY,
    kms_describe, kms_wrap, kms_unwrap, kms_sign, kms_public_key, kms_release
};

static int kms_setup(void **state)
{
    (void)state;
    uint8_t raw[32];
    if (aios_init() != AIOS_OK)
        return -1;
    memset(&kms, 0, sizeof(kms));
    pthread_mutex_init(&kms.mu, NULL);
    pthread_cond_init(&kms.cv, NULL);
    kms.caller = pthread_self();
    for (int v = 1; v <= KMS_VERSIONS; v++) {
        aios__random_bytes(raw, sizeof(raw));
        if (aios__aead_key_new(&kms.kek[v], AIOS__AEAD_XCHACHA20POLY1305, raw) != AIOS_OK)
            return -1;
    }
    aios__wipe(raw, sizeof(raw));
    if (aios__ed25519_keypair(kms.ed_pk, kms.ed_sk) != AIOS_OK ||
        aios__ed25519_keypair(kms.other_pk, kms.other_sk) != AIOS_OK ||
        aios__ecdsa_keypair(AIOS__EC_P256, kms.ec_sk, kms.ec_pk) != AIOS_OK ||
        aios__ecdsa_keypair(AIOS__EC_P521, kms.p521_sk, kms.p521_pk) != AIOS_OK)
        return -1;
    return 0;
}

static int kms_teardown(void **state)
{
    (void)state;
    for (int v = 1; v <= KMS_VERSIONS; v++)
        aios__aead_key_free(kms.kek[v]);
    pthread_cond_destroy(&kms.cv);
    pthread_mutex_destroy(&kms.mu);
    return 0;
}

/* Per test: normal behaviour, counters at zero, gate open. */
static int kms_reset(void **state)
{
    (void)state;
    atomic_store(&kms.mode, KMS_NORMAL);
    kms.forced_status = 0;
    kms.ask_size = 0;
    gate_set(&kms, 1);
    atomic_store(&kms.blocked, 0);
    atomic_store(&kms.finished, 0);
    atomic_store(&kms.calls, 0);
    atomic_store(&kms.describes, 0);
    atomic_store(&kms.releases, 0);
    atomic_store(&kms.other_thread, 0);
    aios_error_clear();
    return 0;
}

static aios_provider *new_provider(uint32_t timeout_ms)
{
    aios_provider_options o = AIOS_PROVIDER_OPTIONS_INIT;
    aios_provider *p = NULL;
    o.timeout_ms = timeout_ms;
    tu_assert_ok(aios_provider_callback(&p, "kms", &kms_ops, &kms, &o));
    assert_non_null(p);
    return p;
}

static aios_key *get_key(aios_provider *p, const char *id, uint32_t version)
{
    aios_key *k = NULL;
    tu_assert_ok(aios_provider_get_key(p, &k, id, version));
    assert_non_null(k);
    return k;
}

/* Free the provider and check release ran exactly once. */
static void provider_done(aios_provider *p)
{
    aios_provider_unref(p);
    assert_true(wait_for(&kms.releases, 1));
    assert_int_equal(atomic_load(&kms.releases), 1);
}

static const uint8_t DK[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };
static const uint8_t AD[] = "tenant=acme";

/* ---------------------------------------------------------------- tests */

static void test_wrap_unwrap_round_trip(void **state)
{
    (void)state;
    aios_provider *p = new_provider(0);
    aios_key *k = get_key(p, "wrap-key", 0);
    aios_buffer *w = NULL, *dk = NULL;

    assert_string_equal(aios_provider_name(p), "callback:kms");
    assert_string_equal(aios_key_provider_name(k), "callback:kms");
    assert_string_equal(aios_key_id(k), "wrap-key");
    assert_int_equal(aios_key_version(k), KMS_VERSIONS);
    assert_int_equal(aios_key_get_type(k), AIOS_KEY_AES256);
    assert_int_equal(aios_key_purposes(k), AIOS_KEY_USE_WRAP);
    assert_int_equal(aios_key_get_state(k), AIOS_KEY_ACTIVE);
    assert_int_equal(aios_key_created_at(k), 1700000000);
    assert_int_equal(aios_key_exportable(k), 0);
    /* Default timeout: 30 s, and the host is told the time left. */
    assert_true(atomic_load(&kms.last_deadline) <= 30000);
    assert_true(atomic_load(&kms.last_deadline) > 25000);

    tu_assert_ok(aios_key_wrap(k, &w, DK, sizeof(DK), AD, sizeof(AD)));
    assert_int_equal(aios_buffer_len(w), WRAP_HDR + sizeof(DK) + AIOS__AEAD_TAG_LEN);
    tu_assert_ok(aios_key_unwrap(k, &dk, aios_buffer_data(w), aios_buffer_len(w), AD, sizeof(AD)));
    assert_int_equal(aios_buffer_len(dk), sizeof(DK));
    assert_memory_equal(aios_buffer_data(dk), DK, sizeof(DK));
    assert_true(aios_buffer_flags(dk) & AIOS_BUFFER_SECURE);
    /* The host ran on a library worker thread. */
    assert_int_equal(atomic_load(&kms.other_thread), 1);
    aios_buffer_free(dk);

    /* Another ad, or a changed byte: the host's AIOS_E_AUTH passes through. */
    tu_assert_status(aios_key_unwrap(k, &dk, aios_buffer_data(w), aios_buffer_len(w),
                                     (const uint8_t *)"x", 1), AIOS_E_AUTH);
    assert_null(dk);
    aios_buffer_data_mut(w)[30] ^= 1;
    tu_assert_status(aios_key_unwrap(k, &dk, aios_buffer_data(w), aios_buffer_len(w), AD,
                                     sizeof(AD)), AIOS_E_AUTH);
    assert_non_null(strstr(aios_last_error_message(), "callback:kms"));
    aios_buffer_free(w);

    /* Empty ad and a one-byte data key. */
    tu_assert_ok(aios_key_wrap(k, &w, DK, 1, NULL, 0));
    tu_assert_ok(aios_key_unwrap(k, &dk, aios_buffer_data(w), aios_buffer_len(w), NULL, 0));
    assert_int_equal(aios_buffer_len(dk), 1);
    aios_buffer_free(dk);
    aios_buffer_free(w);

    aios_key_unref(k);
    assert_int_equal(atomic_load(&kms.releases), 0);
    provider_done(p);
}

static void test_version_resolution(void **state)
{
    (void)state;
    aios_provider *p = new_provider(0);
    aios_key *v1 = get_key(p, "wrap-key", 1), *v2 = get_key(p, "wrap-key", 2);
    aios_key *v3 = get_key(p, "wrap-key", 0), *k = NULL;
    aios_buffer *w = NULL, *dk = NULL;

    assert_int_equal(aios_key_version(v1), 1);
    assert_int_equal(aios_key_version(v2), 2);
    assert_int_equal(aios_key_version(v3), 3);
    assert_int_equal(aios_key_get_state(v1), AIOS_KEY_DECRYPT_ONLY);

    /* A wrap under v2 opens with v2 only. */
    tu_assert_ok(aios_key_wrap(v2, &w, DK, sizeof(DK), AD, sizeof(AD)));
    tu_assert_status(aios_key_unwrap(v3, &dk, aios_buffer_data(w), aios_buffer_len(w), AD,
                                     sizeof(AD)), AIOS_E_AUTH);
    tu_assert_ok(aios_key_unwrap(v2, &dk, aios_buffer_data(w), aios_buffer_len(w), AD, sizeof(AD)));
    aios_buffer_free(dk);
    aios_buffer_free(w);

    /* A decrypt-only version refuses to wrap before the host is asked. */
    int before = atomic_load(&kms.calls);
    tu_assert_status(aios_key_wrap(v1, &w, DK, sizeof(DK), NULL, 0), AIOS_E_KEY_DECRYPT_ONLY);
    assert_int_equal(atomic_load(&kms.calls), before);

    /* The host's not-found statuses pass through. */
    tu_assert_status(aios_provider_get_key(p, &k, "wrap-key", 7), AIOS_E_KEY_VERSION_NOT_FOUND);
    assert_non_null(strstr(aios_last_error_message(), "no version 7"));
    tu_assert_status(aios_provider_get_key(p, &k, "nope", 0), AIOS_E_KEY_NOT_FOUND);
    assert_null(k);

    aios_key_unref(v1);
    aios_key_unref(v2);
    aios_key_unref(v3);
    provider_done(p);
}

static void test_describe_validated(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "bad-version0", "bad-other-version", "bad-type", "bad-purposes", "bad-state",
        "bad-positive", "garbage-spki", "ed-as-p256",
    };
    aios_provider *p = new_provider(0);
    aios_key *k = NULL;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint32_t version = strcmp(bad[i], "bad-other-version") == 0 ? 2 : 0;
        tu_assert_status(aios_provider_get_key(p, &k, bad[i], version), AIOS_E_CALLBACK);
        assert_null(k);
        assert_non_null(strstr(aios_last_error_message(), bad[i]));
    }
    /* Purposes 0 mean the type's natural ones. */
    k = get_key(p, "p256-key", 0);
    assert_int_equal(aios_key_purposes(k), AIOS_KEY_USE_SIGN | AIOS_KEY_USE_VERIFY);
    aios_key_unref(k);
    provider_done(p);
}

static void test_sign_verify_locally(void **state)
{
    (void)state;
    static const uint8_t msg[] = "model manifest digest";
    aios_provider *p = new_provider(0);
    aios_key *ed = get_key(p, "ed-key", 0), *ec = get_key(p, "p256-key", 0);
    aios_key *liar = get_key(p, "liar-key", 0);
    aios_buffer *sig = NULL, *raw = NULL;

    /* The public key was fetched and decoded from its SPKI. */
    tu_assert_ok(aios_key_public_raw(ed, &raw));
    assert_int_equal(aios_buffer_len(raw), 32);
    assert_memory_equal(aios_buffer_data(raw), kms.ed_pk, 32);
    aios_buffer_free(raw);

    tu_assert_ok(aios_key_sign(ed, &sig, msg, sizeof(msg)));
    assert_int_equal(aios_buffer_len(sig), 64);
    int calls = atomic_load(&kms.calls);
    tu_assert_ok(aios_key_verify(ed, aios_buffer_data(sig), aios_buffer_len(sig), msg, sizeof(msg)));
    assert_int_equal(atomic_load(&kms.calls), calls);      /* verify never asks the host */
    tu_assert_status(aios_key_verify(ed, aios_buffer_data(sig), aios_buffer_len(sig), msg, 3),
                     AIOS_E_AUTH);
    aios_buffer_free(sig);

    tu_assert_ok(aios_key_sign(ec, &sig, msg, sizeof(msg)));
    tu_assert_ok(aios_key_verify(ec, aios_buffer_data(sig), aios_buffer_len(sig), msg, sizeof(msg)));
    aios_buffer_free(sig);

    /* P-521 (SHA-512, DER up to 139 bytes): the host signs, the public
     * key checks it here, and the seam's verifier agrees. */
    {
        aios_key *p521 = get_key(p, "p521-key", 0);
        assert_int_equal(aios_key_get_type(p521), AIOS_KEY_ECDSA_P521);
        assert_int_equal(aios_key_purposes(p521), AIOS_KEY_USE_SIGN | AIOS_KEY_USE_VERIFY);
        tu_assert_ok(aios_key_public_raw(p521, &raw));
        assert_int_equal(aios_buffer_len(raw), 133);
        assert_memory_equal(aios_buffer_data(raw), kms.p521_pk, 133);
        aios_buffer_free(raw);
        for (int i = 0; i < 4; i++) {
            int before = atomic_load(&kms.calls);
            tu_assert_ok(aios_key_sign(p521, &sig, msg, sizeof(msg) - (size_t)i));
            /* One host call: the first buffer fits any signature. */
            assert_int_equal(atomic_load(&kms.calls), before + 1);
            assert_true(aios_buffer_len(sig) > 8 && aios_buffer_len(sig) <= 139);
            tu_assert_ok(aios_key_verify(p521, aios_buffer_data(sig), aios_buffer_len(sig), msg,
                                         sizeof(msg) - (size_t)i));
            tu_assert_ok(aios__ecdsa_verify_der(AIOS__EC_P521, aios_buffer_data(sig),
                                                aios_buffer_len(sig), msg, sizeof(msg) - (size_t)i,
                                                kms.p521_pk, sizeof(kms.p521_pk)));
            tu_assert_status(aios_key_verify(p521, aios_buffer_data(sig), aios_buffer_len(sig),
                                             msg, 3), AIOS_E_AUTH);
            aios_buffer_free(sig);
        }
        aios_key_unref(p521);
    }

    /* A host that signs with another key than it published is caught. */
    tu_assert_status(aios_key_sign(liar, &sig, msg, sizeof(msg)), AIOS_E_CALLBACK);
    assert_null(sig);
    assert_non_null(strstr(aios_last_error_message(), "does not verify"));

    /* A symmetric key cannot sign (the dispatcher says so). */
    aios_key *w = get_key(p, "wrap-key", 0);
    tu_assert_status(aios_key_sign(w, &sig, msg, sizeof(msg)), AIOS_E_KEY_USAGE);
    aios_key_unref(w);

    aios_key_unref(ed);
    aios_key_unref(ec);
    aios_key_unref(liar);
    provider_done(p);
}

static void test_errors_pass_through(void **state)
{
    (void)state;
    aios_provider *p = new_provider(0);
    aios_key *k = get_key(p, "wrap-key", 0);
    aios_buffer *w = NULL;

    atomic_store(&kms.mode, KMS_STATUS);
    kms.forced_status = AIOS_E_CALLBACK;
    tu_assert_status(aios_key_wrap(k, &w, DK, sizeof(DK), NULL, 0), AIOS_E_CALLBACK);
    assert_null(w);
    kms.forced_status = AIOS_E_AUTH;
    tu_assert_status(aios_key_wrap(k, &w, DK, sizeof(DK), NULL, 0), AIOS_E_AUTH);
    kms.forced_status = AIOS_E_DENIED;
    tu_assert_status(aios_key_wrap(k, &w, DK, sizeof(DK), NULL, 0), AIOS_E_DENIED);
    kms.forced_status = AIOS_E_CANCELLED;
    tu_assert_status(aios_key_wrap(k, &w, DK, sizeof(DK), NULL, 0), AIOS_E_CANCELLED);
    /* Not a libaios status: AIOS_E_CALLBACK, saying what came back. */
    kms.forced_status = 7;
    tu_assert_status(aios_key_wrap(k, &w, DK, sizeof(DK), NULL, 0), AIOS_E_CALLBACK);
    assert_non_null(strstr(aios_last_error_message(), "returned 7"));
    kms.forced_status = -9999;
    tu_assert_status(aios_key_wrap(k, &w, DK, sizeof(DK), NULL, 0), AIOS_E_CALLBACK);
    assert_non_null(strstr(aios_last_error_message(), "-9999"));

    /* The message the host's code left on the worker thread reaches the
     * caller's thread, with context. */
    atomic_store(&kms.mode, KMS_STATUS_MESSAGE);
    kms.forced_status = AIOS_E_CALLBACK;
    tu_assert_status(aios_key_wrap(k, &w, DK, sizeof(DK), NULL, 0), AIOS_E_CALLBACK);
    assert_non_null(strstr(aios_last_error_message(), "kms said: throttled"));
    assert_non_null(strstr(aios_last_error_message(), "wrap-key"));
    assert_int_equal(aios_last_error_status(), AIOS_E_CALLBACK);

    /* Sizes: one retry with what the host asked for. */
    atomic_store(&kms.mode, KMS_ASK_BIGGER);
    kms.ask_size = 700;
    atomic_store(&kms.calls, 0);
    tu_assert_ok(aios_key_wrap(k, &w, DK, sizeof(DK), NULL, 0));
    assert_int_equal(atomic_load(&kms.calls), 2);
    aios_buffer_free(w);
    w = NULL;
    kms.ask_size = AIOS_KEY_WRAPPED_MAX + 1;            /* over the bound: no retry */
    atomic_store(&kms.calls, 0);
    tu_assert_status(aios_key_wrap(k, &w, DK, sizeof(DK), NULL, 0), AIOS_E_CALLBACK);
    assert_int_equal(atomic_load(&kms.calls), 1);
    assert_non_null(strstr(aios_last_error_message(), "1025"));
    atomic_store(&kms.mode, KMS_ASK_AGAIN);
    tu_assert_status(aios_key_wrap(k, &w, DK, sizeof(DK), NULL, 0), AIOS_E_CALLBACK);
    assert_non_null(strstr(aios_last_error_message(), "again"));
    atomic_store(&kms.mode, KMS_OVERFLOW);
    tu_assert_status(aios_key_wrap(k, &w, DK, sizeof(DK), NULL, 0), AIOS_E_CALLBACK);
    assert_non_null(strstr(aios_last_error_message(), "out_len must not exceed out_cap"));
    atomic_store(&kms.mode, KMS_EMPTY);
    tu_assert_status(aios_key_wrap(k, &w, DK, sizeof(DK), NULL, 0), AIOS_E_CALLBACK);
    assert_null(w);

    aios_key_unref(k);
    provider_done(p);
}

/* Timeouts in the deadline tests: long enough for a worker thread to reach
 * the host even under valgrind (a worker that starts after the deadline
 * skips the host, by design), short enough to keep the test quick. */
#define T_MS 300

static void test_timeout_and_late_completion(void **state)
{
    (void)state;
    aios_provider *p = new_provider(T_MS);
    aios_key *k = get_key(p, "wrap-key", 0);
    aios_buffer *w = NULL, *dk = NULL;
    uint64_t t0, t1;

    tu_assert_ok(aios_key_wrap(k, &w, DK, sizeof(DK), AD, sizeof(AD)));
    assert_true(atomic_load(&kms.last_deadline) <= T_MS);
    assert_true(atomic_load(&kms.last_deadline) > 0);

    /* The host hangs: the caller gets AIOS_E_PROVIDER_TIMEOUT while the
     * host call is still running. */
    atomic_store(&kms.mode, KMS_BLOCK);
    gate_set(&kms, 0);
    atomic_store(&kms.finished, 0);
    atomic_store(&kms.calls, 0);
    t0 = now_ms();
    tu_assert_status(aios_key_unwrap(k, &dk, aios_buffer_data(w), aios_buffer_len(w), AD,
                                     sizeof(AD)), AIOS_E_PROVIDER_TIMEOUT);
    t1 = now_ms();
    assert_null(dk);
    assert_true(t1 - t0 >= T_MS - 1);
    assert_true(wait_for(&kms.blocked, 1));           /* the host is still inside */
    assert_int_equal(atomic_load(&kms.finished), 0);  /* and we did not wait for it */
    assert_non_null(strstr(aios_last_error_message(), "300 ms"));

    /* Same for wrap (its late result is written into the call record). */
    tu_assert_status(aios_key_wrap(k, &dk, DK, sizeof(DK), NULL, 0), AIOS_E_PROVIDER_TIMEOUT);
    assert_true(wait_for(&kms.blocked, 2));

    /* Let the late calls finish: they complete into memory that is still
     * theirs (ASan and valgrind watch) and free it. */
    gate_set(&kms, 1);
    assert_true(wait_for(&kms.finished, 2));
    atomic_store(&kms.mode, KMS_NORMAL);
    tu_assert_ok(aios_key_unwrap(k, &dk, aios_buffer_data(w), aios_buffer_len(w), AD, sizeof(AD)));
    assert_memory_equal(aios_buffer_data(dk), DK, sizeof(DK));
    aios_buffer_free(dk);
    aios_buffer_free(w);
    aios_key_unref(k);
    provider_done(p);
}

static void test_release_after_outstanding_calls(void **state)
{
    (void)state;
    aios_provider *p = new_provider(T_MS);
    aios_key *k = get_key(p, "wrap-key", 0);
    aios_buffer *w = NULL;

    atomic_store(&kms.mode, KMS_BLOCK);
    gate_set(&kms, 0);
    for (int i = 0; i < 3; i++)
        tu_assert_status(aios_key_wrap(k, &w, DK, sizeof(DK), NULL, 0), AIOS_E_PROVIDER_TIMEOUT);
    assert_true(wait_for(&kms.blocked, 3));

    /* Everything the host got from us is released by its owner... */
    aios_key_unref(k);
    aios_provider_unref(p);
    /* ...but release waits for the calls still inside the host. */
    assert_int_equal(atomic_load(&kms.releases), 0);
    gate_set(&kms, 1);
    assert_true(wait_for(&kms.finished, 3));
    assert_true(wait_for(&kms.releases, 1));
    struct timespec ts = { 0, 20000000 };
    nanosleep(&ts, NULL);
    assert_int_equal(atomic_load(&kms.releases), 1);
}

/* A describe that blocks at the gate. */
static int slow_describe(void *payload, const char *key_id, uint32_t version,
                         aios_provider_key_info *info, uint32_t deadline_ms)
{
    fake_kms *k = payload;
    gate_wait(k);
    int rc = kms_describe(payload, key_id, version, info, deadline_ms);
    atomic_fetch_add(&k->finished, 1);
    return rc;
}

static void test_describe_deadline(void **state)
{
    (void)state;
    aios_provider_ops ops = kms_ops;
    aios_provider_options o = AIOS_PROVIDER_OPTIONS_INIT;
    aios_provider *p = NULL;
    aios_key *k = NULL;

    ops.describe = slow_describe;
    o.timeout_ms = T_MS;
    tu_assert_ok(aios_provider_callback(&p, "slow", &ops, &kms, &o));
    gate_set(&kms, 0);
    tu_assert_status(aios_provider_get_key(p, &k, "wrap-key", 0), AIOS_E_PROVIDER_TIMEOUT);
    assert_null(k);
    assert_true(wait_for(&kms.blocked, 1));
    aios_provider_unref(p);
    assert_int_equal(atomic_load(&kms.releases), 0);
    gate_set(&kms, 1);
    assert_true(wait_for(&kms.finished, 1));
    assert_true(wait_for(&kms.releases, 1));
}

static void test_table_and_capabilities(void **state)
{
    (void)state;
    aios_provider_ops ops = kms_ops;
    aios_provider *p = NULL;
    aios_key *k = NULL;
    aios_buffer *b = NULL;

    tu_assert_status(aios_provider_callback(NULL, "kms", &ops, &kms, NULL), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_provider_callback(&p, "kms", NULL, &kms, NULL), AIOS_E_INVALID_ARGUMENT);

    /* Too small to hold describe: a table from no version we know. */
    ops.size = offsetof(aios_provider_ops, describe);
    tu_assert_status(aios_provider_callback(&p, "kms", &ops, &kms, NULL), AIOS_E_VERSION);
    assert_null(p);
    ops = kms_ops;
    ops.describe = NULL;
    tu_assert_status(aios_provider_callback(&p, "kms", &ops, &kms, NULL), AIOS_E_INVALID_ARGUMENT);
    ops = kms_ops;
    ops.capabilities |= 0x100;
    tu_assert_status(aios_provider_callback(&p, "kms", &ops, &kms, NULL), AIOS_E_INVALID_ARGUMENT);
    /* Each bit needs its member. */
    ops = kms_ops;
    ops.wrap = NULL;
    tu_assert_status(aios_provider_callback(&p, "kms", &ops, &kms, NULL), AIOS_E_INVALID_ARGUMENT);
    assert_non_null(strstr(aios_last_error_message(), "AIOS_PROVIDER_CAN_WRAP"));
    ops = kms_ops;
    ops.unwrap = NULL;
    tu_assert_status(aios_provider_callback(&p, "kms", &ops, &kms, NULL), AIOS_E_INVALID_ARGUMENT);
    ops = kms_ops;
    ops.sign = NULL;
    tu_assert_status(aios_provider_callback(&p, "kms", &ops, &kms, NULL), AIOS_E_INVALID_ARGUMENT);
    ops = kms_ops;
    ops.public_key = NULL;
    tu_assert_status(aios_provider_callback(&p, "kms", &ops, &kms, NULL), AIOS_E_INVALID_ARGUMENT);
    /* A bit whose member lies beyond the table's size. */
    ops = kms_ops;
    ops.size = offsetof(aios_provider_ops, unwrap);
    tu_assert_status(aios_provider_callback(&p, "kms", &ops, &kms, NULL), AIOS_E_INVALID_ARGUMENT);
    assert_non_null(strstr(aios_last_error_message(), "beyond ops->size"));
    assert_int_equal(atomic_load(&kms.releases), 0);

    /* An old, short table: members past its size are never called, even
     * if the bytes there look like functions. */
    ops = kms_ops;
    ops.size = offsetof(aios_provider_ops, unwrap);
    ops.capabilities = AIOS_PROVIDER_CAN_WRAP;
    tu_assert_ok(aios_provider_callback(&p, "old", &ops, &kms, NULL));
    k = get_key(p, "wrap-key", 0);
    tu_assert_ok(aios_key_wrap(k, &b, DK, sizeof(DK), NULL, 0));
    aios_buffer *dk = NULL;
    int calls = atomic_load(&kms.calls);
    tu_assert_status(aios_key_unwrap(k, &dk, aios_buffer_data(b), aios_buffer_len(b), NULL, 0),
                     AIOS_E_UNSUPPORTED);
    assert_int_equal(atomic_load(&kms.calls), calls);
    aios_buffer_free(b);
    aios_key_unref(k);
    aios_provider_unref(p);
    /* release lay beyond the table too. */
    struct timespec ts = { 0, 10000000 };
    nanosleep(&ts, NULL);
    assert_int_equal(atomic_load(&kms.releases), 0);

    /* A member without its bit is not called. */
    ops = kms_ops;
    ops.capabilities = AIOS_PROVIDER_CAN_UNWRAP;
    tu_assert_ok(aios_provider_callback(&p, "nowrap", &ops, &kms, NULL));
    k = get_key(p, "wrap-key", 0);
    calls = atomic_load(&kms.calls);
    tu_assert_status(aios_key_wrap(k, &b, DK, sizeof(DK), NULL, 0), AIOS_E_UNSUPPORTED);
    assert_int_equal(atomic_load(&kms.calls), calls);
    aios_key_unref(k);
    /* Without CAN_PUBLIC_KEY an Ed25519 key has no public key: it signs
     * (not here: no CAN_SIGN) but cannot verify locally. */
    k = get_key(p, "ed-key", 0);
    tu_assert_status(aios_key_verify(k, (const uint8_t *)"x", 1, (const uint8_t *)"m", 1),
                     AIOS_E_KEY_USAGE);
    tu_assert_status(aios_key_sign(k, &b, (const uint8_t *)"m", 1), AIOS_E_UNSUPPORTED);
    aios_key_unref(k);
    provider_done(p);
}

static void test_names_and_options(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "KMS", "a:b", "kms/1", "k ms", "caf\xc3\xa9",
        "0123456789012345678901234567890123456789012345678",   /* 49 */
    };
    aios_provider_options o;
    aios_provider *p = NULL;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tu_assert_status(aios_provider_callback(&p, bad[i], &kms_ops, &kms, NULL),
                         AIOS_E_INVALID_ARGUMENT);
        assert_null(p);
    }
    tu_assert_status(aios_provider_callback(&p, NULL, &kms_ops, &kms, NULL), AIOS_E_INVALID_ARGUMENT);
    tu_assert_ok(aios_provider_callback(&p, "012345678901234567890123456789012345678901234567",
                                        &kms_ops, &kms, NULL));
    assert_string_equal(aios_provider_name(p),
                        "callback:012345678901234567890123456789012345678901234567");
    provider_done(p);
    atomic_store(&kms.releases, 0);
    tu_assert_ok(aios_provider_callback(&p, "aws-kms_eu.west-1", &kms_ops, &kms, NULL));
    provider_done(p);
    atomic_store(&kms.releases, 0);

    /* Options: versions, and the _init twin of the macro. */
    memset(&o, 0xAB, sizeof(o));
    tu_assert_ok(aios_provider_options_init(&o, AIOS_PROVIDER_OPTIONS_VERSION));
    assert_int_equal(o.version, AIOS_PROVIDER_OPTIONS_VERSION);
    assert_int_equal(o.timeout_ms, 0);
    tu_assert_status(aios_provider_options_init(&o, 0), AIOS_E_VERSION);
    tu_assert_status(aios_provider_options_init(&o, AIOS_PROVIDER_OPTIONS_VERSION + 1),
                     AIOS_E_VERSION);
    tu_assert_status(aios_provider_options_init(NULL, 1), AIOS_E_INVALID_ARGUMENT);
    o.version = 0;
    tu_assert_status(aios_provider_callback(&p, "kms", &kms_ops, &kms, &o), AIOS_E_VERSION);
    o.version = 99;
    tu_assert_status(aios_provider_callback(&p, "kms", &kms_ops, &kms, &o), AIOS_E_VERSION);
    assert_null(p);
    assert_int_equal(atomic_load(&kms.releases), 0);

    /* A custom timeout reaches the host as its deadline. */
    aios_provider_options_init(&o, 1);
    o.timeout_ms = 1234;
    tu_assert_ok(aios_provider_callback(&p, "kms", &kms_ops, &kms, &o));
    aios_key *k = get_key(p, "wrap-key", 0);
    assert_true(atomic_load(&kms.last_deadline) <= 1234);
    assert_true(atomic_load(&kms.last_deadline) > 1000);
    aios_key_unref(k);
    provider_done(p);
}

/* Many threads wrap, unwrap and sign through one provider at once. */
typedef struct hammer_arg {
    aios_key *wrap, *sign;
    int ok;
} hammer_arg;

static void *hammer(void *argp)
{
    hammer_arg *a = argp;
    uint8_t dk[32], msg[40];
    a->ok = 1;
    for (int i = 0; i < 25 && a->ok; i++) {
        aios_buffer *w = NULL, *out = NULL, *sig = NULL;
        aios__random_bytes(dk, sizeof(dk));
        aios__random_bytes(msg, sizeof(msg));
        if (aios_key_wrap(a->wrap, &w, dk, sizeof(dk), msg, sizeof(msg)) != AIOS_OK ||
            aios_key_unwrap(a->wrap, &out, aios_buffer_data(w), aios_buffer_len(w), msg,
                            sizeof(msg)) != AIOS_OK ||
            aios_buffer_len(out) != sizeof(dk) ||
            memcmp(aios_buffer_data(out), dk, sizeof(dk)) != 0 ||
            aios_key_sign(a->sign, &sig, msg, sizeof(msg)) != AIOS_OK ||
            aios_key_verify(a->sign, aios_buffer_data(sig), aios_buffer_len(sig), msg,
                            sizeof(msg)) != AIOS_OK)
            a->ok = 0;
        aios_buffer_free(w);
        aios_buffer_free(out);
        aios_buffer_free(sig);
    }
    return NULL;
}

static void test_many_threads(void **state)
{
    (void)state;
    enum { N = 16 };
    aios_provider *p = new_provider(0);
    aios_key *wk = get_key(p, "wrap-key", 0), *sk = get_key(p, "ed-key", 0);
    pthread_t t[N];
    hammer_arg args[N];

    for (int i = 0; i < N; i++) {
        args[i].wrap = wk;
        args[i].sign = sk;
        args[i].ok = 0;
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &args[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_true(args[i].ok);
    }
    assert_int_equal(atomic_load(&kms.calls), N * 25 * 3);
    aios_key_unref(wk);
    aios_key_unref(sk);
    provider_done(p);
}


/* ------------------------------------------- allocation-failure injection */

/* The harness is tests/util's (tu_alloc_install, tu_inject_everywhere). */

/* The whole life of a provider: create, resolve keys, wrap, unwrap, sign,
 * free.  Returns the first failure. */
static int provider_life(void)
{
    static const uint8_t msg[] = "m";
    aios_provider *p = NULL;
    aios_key *wk = NULL, *ek = NULL;
    aios_buffer *w = NULL, *dk = NULL, *sig = NULL;
    int rc = aios_provider_callback(&p, "kms", &kms_ops, &kms, NULL);
    if (rc == AIOS_OK)
        rc = aios_provider_get_key(p, &wk, "wrap-key", 0);
    if (rc == AIOS_OK)
        rc = aios_key_wrap(wk, &w, DK, sizeof(DK), AD, sizeof(AD));
    if (rc == AIOS_OK)
        rc = aios_key_unwrap(wk, &dk, aios_buffer_data(w), aios_buffer_len(w), AD, sizeof(AD));
    if (rc == AIOS_OK)
        rc = aios_provider_get_key(p, &ek, "ed-key", 0);
    if (rc == AIOS_OK)
        rc = aios_key_sign(ek, &sig, msg, sizeof(msg));
    aios_buffer_free(w);
    aios_buffer_free(dk);
    aios_buffer_free(sig);
    aios_key_unref(wk);
    aios_key_unref(ek);
    if (p) {
        int releases = atomic_load(&kms.releases);
        aios_provider_unref(p);
        if (!wait_for(&kms.releases, releases + 1))
            fail_msg("release was not called");
    }
    return rc;
}

/* Also a host asking for a bigger buffer: the retry's allocation (on the
 * worker thread) fails cleanly too. */
static int provider_retry(void)
{
    aios_provider *p = NULL;
    aios_key *wk = NULL;
    aios_buffer *w = NULL;
    int rc = aios_provider_callback(&p, "kms", &kms_ops, &kms, NULL);
    if (rc == AIOS_OK)
        rc = aios_provider_get_key(p, &wk, "wrap-key", 0);
    if (rc == AIOS_OK) {
        atomic_store(&kms.mode, KMS_ASK_BIGGER);
        rc = aios_key_wrap(wk, &w, DK, sizeof(DK), NULL, 0);
        atomic_store(&kms.mode, KMS_NORMAL);
    }
    aios_buffer_free(w);
    aios_key_unref(wk);
    if (p) {
        int releases = atomic_load(&kms.releases);
        aios_provider_unref(p);
        if (!wait_for(&kms.releases, releases + 1))
            fail_msg("release was not called");
    }
    return rc;
}

static void test_allocation_failures(void **state)
{
    (void)state;
    assert_true(tu_inject_everywhere(provider_life, "provider life") > 3);
    kms.ask_size = 700;
    assert_true(tu_inject_everywhere(provider_retry, "wrap with a retry") > 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_wrap_unwrap_round_trip, kms_reset),
        cmocka_unit_test_setup(test_version_resolution, kms_reset),
        cmocka_unit_test_setup(test_describe_validated, kms_reset),
        cmocka_unit_test_setup(test_sign_verify_locally, kms_reset),
        cmocka_unit_test_setup(test_errors_pass_through, kms_reset),
        cmocka_unit_test_setup(test_timeout_and_late_completion, kms_reset),
        cmocka_unit_test_setup(test_release_after_outstanding_calls, kms_reset),
        cmocka_unit_test_setup(test_describe_deadline, kms_reset),
        cmocka_unit_test_setup(test_table_and_capabilities, kms_reset),
        cmocka_unit_test_setup(test_names_and_options, kms_reset),
        cmocka_unit_test_setup(test_many_threads, kms_reset),
        cmocka_unit_test_setup(test_allocation_failures, kms_reset),
    };
    if (tu_alloc_install() != AIOS_OK)
        return 1;
    return cmocka_run_group_tests(tests, kms_setup, kms_teardown);
}
