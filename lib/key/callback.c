/*
 * The "callback:<name>" provider: keys that live in a host's KMS, reached
 * through the host's aios_provider_ops table.
 *
 * Deadlines
 *   Every host call runs on a worker thread of its own (thread per call:
 *   a KMS call costs 20-300 ms, a thread 10-30 us; bench/bench_key_cache.c
 *   measures it).  The caller waits on a condition variable until the
 *   worker is done or the provider's timeout has passed, and in the latter
 *   case returns AIOS_E_PROVIDER_TIMEOUT while the host call goes on.
 *
 * Ownership
 *   cb_impl    the copied ops table and payload.  One reference belongs to
 *              the aios_provider (dropped by its destroy), one to each call
 *              still running; the last one calls ops->release, once.
 *   cb_call    one host call: copies of its inputs, its output buffer and
 *              result.  Two references, the caller's and the worker's, so
 *              a worker that finishes after its caller gave up writes into
 *              memory that is still alive and frees it.  Secret inputs and
 *              outputs live in secure memory and are wiped when freed.
 *
 * Errors
 *   The per-thread error record is thread-local, so the message the
 *   host's code left on the worker thread is copied into the call record
 *   and recorded again on the caller's thread.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "key_internal.h"
#include "../crypto/crypto.h"

#define CB_PREFIX             "callback:"
#define CB_NAME_MAX           48
#define CB_TIMEOUT_DEFAULT_MS 30000u

/* Output capacities: the first try, and the most a host may ask for with
 * AIOS_E_BUFFER_TOO_SMALL (one retry). */
#define CB_WRAP_FIRST    512
#define CB_WRAP_MAX      AIOS_KEY_WRAPPED_MAX
#define CB_UNWRAP_FIRST  AIOS_KEY_DATA_KEY_MAX
#define CB_UNWRAP_MAX    AIOS_KEY_DATA_KEY_MAX
#define CB_SIGN_FIRST    256   /* every signature fits: P-521 DER is up to 139 bytes */
#define CB_SIGN_MAX      1024
#define CB_PUBKEY_FIRST  256
#define CB_PUBKEY_MAX    4096

#define CB_ALL_CAPS (AIOS_PROVIDER_CAN_WRAP | AIOS_PROVIDER_CAN_UNWRAP | \
                     AIOS_PROVIDER_CAN_SIGN | AIOS_PROVIDER_CAN_PUBLIC_KEY)

/* -------------------------------------------------------------- impl */

typedef struct cb_impl {
    atomic_int        refs;
    aios_provider_ops ops;          /* members beyond the host's size are NULL */
    void             *payload;
    uint32_t          timeout_ms;
    char              name[sizeof(CB_PREFIX) + CB_NAME_MAX];
} cb_impl;

static void impl_unref(cb_impl *impl)
{
    if (atomic_fetch_sub(&impl->refs, 1) != 1)
        return;
    if (impl->ops.release)
        impl->ops.release(impl->payload);
    aios__wipe(impl, sizeof(*impl));
    aios__free(impl);
}

/* ------------------------------------------------------------ clocks */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Milliseconds left before deadline (rounded up), 0 once it has passed. */
static uint32_t ms_left(uint64_t deadline)
{
    uint64_t now = mono_ns(), ms;
    if (now >= deadline)
        return 0;
    ms = (deadline - now + 999999u) / 1000000u;
    return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

/* -------------------------------------------------------------- calls */

typedef enum cb_op { CB_DESCRIBE, CB_WRAP, CB_UNWRAP, CB_SIGN, CB_PUBLIC_KEY } cb_op;

static const char *const cb_op_names[] = { "describe", "wrap", "unwrap", "sign", "public_key" };

typedef struct cb_call {
    atomic_int       refs;
    pthread_mutex_t  mu;
    pthread_cond_t   cv;
    int              done;          /* under mu */

    cb_impl         *impl;          /* a reference is held */
    cb_op            op;
    char            *key_id;
    uint32_t         version;
    uint64_t         deadline;      /* monotonic ns */

    uint8_t         *in;            /* copy; secure memory when in_secret */
    size_t           in_len;
    int              in_secret;
    uint8_t         *ad;
    size_t           ad_len;

    uint8_t         *out;           /* secure memory when out_secret */
    size_t           out_cap;
    size_t           out_max;       /* the most one retry may ask for */
    size_t           out_len;
    int              out_secret;
    aios_provider_key_info info;

    /* Results, written by the worker before done is set. */
    int              host_rc;       /* what the host returned (last try) */
    size_t           asked;         /* AIOS_E_BUFFER_TOO_SMALL: the size asked for */
    int              retried;
    int              lib_rc;        /* a failure of ours on the worker, or AIOS_OK */
    int              has_message;   /* the host's code left an error message */
    char             message[AIOS__ERROR_MESSAGE_MAX];
} cb_call;

static void *region_alloc(size_t len, int secret)
{
    size_t n = len ? len : 1;
    void *p = secret ? aios__secure_malloc(n) : aios__malloc(n);
    if (p)
        memset(p, 0, n);
    return p;
}

static void region_free(void *p, size_t len, int secret)
{
    if (!p)
        return;
    if (secret)
        aios__secure_free(p);                   /* wipes */
    else
        aios__free_secret(p, len ? len : 1);    /* wrapped keys, signatures: wiped too */
}

static void call_free(cb_call *c)
{
    region_free(c->in, c->in_len, c->in_secret);
    region_free(c->ad, c->ad_len, 0);
    region_free(c->out, c->out_cap, c->out_secret);
    aios__free(c->key_id);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    impl_unref(c->impl);
    aios__wipe(c, sizeof(*c));
    aios__free(c);
}

static void call_unref(cb_call *c)
{
    if (atomic_fetch_sub(&c->refs, 1) == 1)
        call_free(c);
}

/* A call record with copies of its inputs, refs = 1 (the caller's). */
static int call_new(cb_call **out, cb_impl *impl, cb_op op, const char *key_id, uint32_t version,
                    uint64_t deadline, const uint8_t *in, size_t in_len, int in_secret,
                    const uint8_t *ad, size_t ad_len, size_t out_first, size_t out_max,
                    int out_secret)
{
    pthread_condattr_t ca;
    cb_call *c;
    int ok;

    *out = NULL;
    c = aios__calloc(1, sizeof(*c));
    if (!c)
        return aios__nomem("a provider call");
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        aios__free(c);
        return aios__fail(AIOS_E_INTERNAL, "%s: pthread_mutex_init failed", impl->name);
    }
    ok = pthread_condattr_init(&ca) == 0;
    if (ok) {
        ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
             pthread_cond_init(&c->cv, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (!ok) {
        pthread_mutex_destroy(&c->mu);
        aios__free(c);
        return aios__fail(AIOS_E_INTERNAL, "%s: pthread_cond_init failed", impl->name);
    }
    atomic_init(&c->refs, 1);
    atomic_fetch_add(&impl->refs, 1);
    c->impl = impl;
    c->op = op;
    c->version = version;
    c->deadline = deadline;
    c->in_secret = in_secret;
    c->out_secret = out_secret;
    c->out_max = out_max;
    c->key_id = aios__strdup(key_id);
    if (!c->key_id)
        goto nomem;
    if (in_len > 0) {
        c->in = region_alloc(in_len, in_secret);
        if (!c->in)
            goto nomem;
        memcpy(c->in, in, in_len);
        c->in_len = in_len;
    }
    if (ad_len > 0) {
        c->ad = region_alloc(ad_len, 0);
        if (!c->ad)
            goto nomem;
        memcpy(c->ad, ad, ad_len);
        c->ad_len = ad_len;
    }
    if (out_first > 0) {
        c->out = region_alloc(out_first, out_secret);
        if (!c->out)
            goto nomem;
        c->out_cap = out_first;
    }
    *out = c;
    return AIOS_OK;

nomem:
    call_free(c);
    return aios__nomem("a provider call");
}

/* One call of the host function, on the worker thread. */
static int call_host(cb_call *c, uint32_t left)
{
    const aios_provider_ops *ops = &c->impl->ops;
    void *payload = c->impl->payload;
    /* Empty inputs are passed as a valid pointer, never NULL. */
    static const uint8_t empty[1];
    const uint8_t *in = c->in ? c->in : empty;
    const uint8_t *ad = c->ad ? c->ad : empty;

    c->out_len = 0;
    switch (c->op) {
    case CB_DESCRIBE:
        memset(&c->info, 0, sizeof(c->info));
        c->info.size = sizeof(c->info);
        return ops->describe(payload, c->key_id, c->version, &c->info, left);
    case CB_WRAP:
        return ops->wrap(payload, c->key_id, c->version, in, c->in_len, ad, c->ad_len,
                         c->out, c->out_cap, &c->out_len, left);
    case CB_UNWRAP:
        return ops->unwrap(payload, c->key_id, c->version, in, c->in_len, ad, c->ad_len,
                           c->out, c->out_cap, &c->out_len, left);
    case CB_SIGN:
        return ops->sign(payload, c->key_id, c->version, in, c->in_len,
                         c->out, c->out_cap, &c->out_len, left);
    case CB_PUBLIC_KEY:
        return ops->public_key(payload, c->key_id, c->version,
                               c->out, c->out_cap, &c->out_len, left);
    }
    return AIOS_E_INTERNAL;
}

/* Run the host function (retrying once with a larger buffer when asked)
 * and record the outcome in the call record. */
static void call_execute(cb_call *c)
{
    int rc = AIOS_OK;

    for (int attempt = 0; attempt < 2; attempt++) {
        uint32_t left = ms_left(c->deadline);
        if (left == 0) {
            /* The caller has given up (or is about to): do not start the
             * host again. */
            c->lib_rc = AIOS_E_PROVIDER_TIMEOUT;
            return;
        }
        aios_error_clear();
        rc = call_host(c, left);
        if (rc == AIOS_E_BUFFER_TOO_SMALL && attempt == 0 && c->out_len > c->out_cap &&
            c->out_len <= c->out_max) {
            size_t need = c->out_len;
            uint8_t *bigger = region_alloc(need, c->out_secret);
            if (!bigger) {
                c->lib_rc = AIOS_E_NOMEM;
                return;
            }
            region_free(c->out, c->out_cap, c->out_secret);
            c->out = bigger;
            c->out_cap = need;
            c->retried = 1;
            continue;
        }
        break;
    }
    c->host_rc = rc;
    if (rc == AIOS_E_BUFFER_TOO_SMALL)
        c->asked = c->out_len;
    if (rc < 0 && aios_last_error_status() != AIOS_OK && aios_last_error_message()[0] != '\0') {
        const char *m = aios_last_error_message();
        size_t n = strlen(m);
        if (n >= sizeof(c->message))
            n = sizeof(c->message) - 1;
        memcpy(c->message, m, n);
        c->message[n] = '\0';
        c->has_message = 1;
    }
    aios_error_clear();
}

static void *call_worker(void *arg)
{
    cb_call *c = arg;
    /* Recognisable in a host's debugger and in /proc (15 bytes at most). */
    (void)pthread_setname_np(pthread_self(), "aios-provider");
    call_execute(c);
    pthread_mutex_lock(&c->mu);
    c->done = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    call_unref(c);
    return NULL;
}

/* 1 for a status libaios defines, else 0. */
static int status_known(int rc)
{
    return strcmp(aios_status_name(rc), "AIOS_E_UNKNOWN") != 0;
}

/* Start the worker and wait for it until the deadline.  On AIOS_OK the
 * host returned AIOS_OK and c's output is valid; every failure has its
 * message recorded on this thread.  The caller keeps its reference. */
static int call_run(cb_call *c)
{
    const cb_impl *impl = c->impl;
    const char *op = cb_op_names[c->op];
    pthread_attr_t attr;
    pthread_t thread;
    sigset_t all, old;
    struct timespec abs;
    int rc, done;

    if (ms_left(c->deadline) == 0)
        return aios__fail(AIOS_E_PROVIDER_TIMEOUT, "%s: %s of key '%s': no time left of the %u ms timeout",
                          impl->name, op, c->key_id, impl->timeout_ms);
    if ((rc = pthread_attr_init(&attr)) != 0)
        return aios__fail_errno(AIOS_E_NOMEM, rc, "%s: cannot start a worker thread", impl->name);
    (void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* The worker runs host code with every signal blocked, so a host's
     * signal handlers keep running on the host's own threads. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    atomic_fetch_add(&c->refs, 1);              /* the worker's */
    rc = pthread_create(&thread, &attr, call_worker, c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        atomic_fetch_sub(&c->refs, 1);
        return aios__fail_errno(rc == EAGAIN ? AIOS_E_NOMEM : AIOS_E_INTERNAL, rc,
                                "%s: cannot start a worker thread", impl->name);
    }

    abs.tv_sec = (time_t)(c->deadline / 1000000000u);
    abs.tv_nsec = (long)(c->deadline % 1000000000u);
    pthread_mutex_lock(&c->mu);
    while (!c->done) {
        if (pthread_cond_timedwait(&c->cv, &c->mu, &abs) == ETIMEDOUT)
            break;
    }
    done = c->done;
    pthread_mutex_unlock(&c->mu);

    if (!done || c->lib_rc == AIOS_E_PROVIDER_TIMEOUT)
        return aios__fail(AIOS_E_PROVIDER_TIMEOUT,
                          "%s: %s of key '%s' did not answer within %u ms",
                          impl->name, op, c->key_id, impl->timeout_ms);
    if (c->lib_rc != AIOS_OK)
        return aios__fail(c->lib_rc, "%s: %s of key '%s': out of memory for a %zu-byte result",
                          impl->name, op, c->key_id, c->out_len);

    rc = c->host_rc;
    if (rc == AIOS_OK) {
        if (c->op != CB_DESCRIBE && c->out_len > c->out_cap)
            return aios__fail(AIOS_E_CALLBACK,
                              "%s: %s of key '%s' reported %zu bytes of output into a "
                              "buffer of %zu (out_len must not exceed out_cap)",
                              impl->name, op, c->key_id, c->out_len, c->out_cap);
        return AIOS_OK;
    }
    if (rc == AIOS_E_BUFFER_TOO_SMALL) {
        if (c->retried)
            return aios__fail(AIOS_E_CALLBACK,
                              "%s: %s of key '%s' asked for a larger buffer again after the "
                              "retry with the %zu bytes it asked for",
                              impl->name, op, c->key_id, c->out_cap);
        if (c->asked <= c->out_cap)
            return aios__fail(AIOS_E_CALLBACK,
                              "%s: %s of key '%s' returned AIOS_E_BUFFER_TOO_SMALL without "
                              "setting *out_len above the capacity of %zu bytes",
                              impl->name, op, c->key_id, c->out_cap);
        return aios__fail(AIOS_E_CALLBACK,
                          "%s: %s of key '%s' asked for a %zu-byte buffer; at most %zu bytes "
                          "are allowed",
                          impl->name, op, c->key_id, c->asked, c->out_max);
    }
    if (rc > 0 || !status_known(rc))
        return aios__fail(AIOS_E_CALLBACK,
                          "%s: %s of key '%s' returned %d, which is not a libaios status "
                          "(return AIOS_OK or a negative aios_status)",
                          impl->name, op, c->key_id, rc);
    /* A negative status passes through unchanged (AIOS_E_CALLBACK stays
     * AIOS_E_CALLBACK, so bindings re-raise the host's exception). */
    if (c->has_message)
        return aios__fail(rc, "%s: %s of key '%s': %s", impl->name, op, c->key_id, c->message);
    return aios__fail(rc, "%s: %s of key '%s' failed: %s (%s)", impl->name, op, c->key_id,
                      aios_status_str(rc), aios_status_name(rc));
}

/* ------------------------------------------------------------ get_key */

static int type_is_asymmetric(aios_key_type type)
{
    return type == AIOS_KEY_ED25519 || type == AIOS_KEY_ECDSA_P256 ||
           type == AIOS_KEY_ECDSA_P384 || type == AIOS_KEY_ECDSA_P521 || type == AIOS_KEY_X25519;
}

static int type_keyenc_alg(aios_key_type type)
{
    switch (type) {
    case AIOS_KEY_ED25519:    return AIOS__KEYENC_ED25519;
    case AIOS_KEY_X25519:     return AIOS__KEYENC_X25519;
    case AIOS_KEY_ECDSA_P256: return AIOS__KEYENC_P256;
    case AIOS_KEY_ECDSA_P384: return AIOS__KEYENC_P384;
    case AIOS_KEY_ECDSA_P521: return AIOS__KEYENC_P521;
    default:                  return 0;
    }
}

static int state_valid(aios_key_state state)
{
    return aios_key_state_name(state) != NULL;
}

/* Check what describe returned; AIOS_E_CALLBACK names the first problem. */
static int info_check(const cb_impl *impl, const char *key_id, uint32_t version,
                      aios_provider_key_info *info)
{
    uint32_t allowed;

    if (info->version == 0)
        return aios__fail(AIOS_E_CALLBACK, "%s: describe of key '%s' returned version 0 "
                          "(versions start at 1)", impl->name, key_id);
    if (version != 0 && info->version != version)
        return aios__fail(AIOS_E_CALLBACK, "%s: describe of key '%s' version %u returned "
                          "version %u", impl->name, key_id, version, info->version);
    if (!aios__key_type_valid(info->type))
        return aios__fail(AIOS_E_CALLBACK, "%s: describe of key '%s' returned an unknown "
                          "type %d", impl->name, key_id, (int)info->type);
    allowed = aios__key_type_allowed(info->type);
    if (info->purposes == 0)
        info->purposes = aios__key_type_natural(info->type);
    if (info->purposes & ~allowed)
        return aios__fail(AIOS_E_CALLBACK, "%s: describe of key '%s' returned purposes 0x%x, "
                          "not allowed for a %s key (allowed: 0x%x)", impl->name, key_id,
                          (unsigned)info->purposes, aios_key_type_name(info->type),
                          (unsigned)allowed);
    if (!state_valid(info->state))
        return aios__fail(AIOS_E_CALLBACK, "%s: describe of key '%s' returned an unknown "
                          "state %d", impl->name, key_id, (int)info->state);
    if (info->created_at < 0)
        return aios__fail(AIOS_E_CALLBACK, "%s: describe of key '%s' returned a negative "
                          "created_at", impl->name, key_id);
    return AIOS_OK;
}

/* Ask the host for the public key and decode its SubjectPublicKeyInfo. */
static int fetch_public(cb_impl *impl, const char *key_id, const aios_provider_key_info *info,
                        uint64_t deadline, uint8_t pub[AIOS__PUBLIC_MAX], size_t *pub_len)
{
    cb_call *c;
    int rc, alg = 0;

    *pub_len = 0;
    rc = call_new(&c, impl, CB_PUBLIC_KEY, key_id, info->version, deadline, NULL, 0, 0,
                  NULL, 0, CB_PUBKEY_FIRST, CB_PUBKEY_MAX, 0);
    if (rc != AIOS_OK)
        return rc;
    rc = call_run(c);
    if (rc == AIOS_OK) {
        rc = aios__spki_decode(c->out, c->out_len, &alg, pub, AIOS__PUBLIC_MAX, pub_len);
        if (rc != AIOS_OK) {
            char why[AIOS__ERROR_MESSAGE_MAX];
            size_t n = strlen(aios_last_error_message());
            if (n >= sizeof(why))
                n = sizeof(why) - 1;
            memcpy(why, aios_last_error_message(), n);
            why[n] = '\0';
            rc = aios__fail(AIOS_E_CALLBACK, "%s: public key of key '%s' version %u is not a "
                            "usable SubjectPublicKeyInfo: %s", impl->name, key_id,
                            info->version, why);
        } else if (alg != type_keyenc_alg(info->type)) {
            rc = aios__fail(AIOS_E_CALLBACK, "%s: public key of key '%s' version %u is %s, "
                            "but describe said %s", impl->name, key_id, info->version,
                            aios__keyenc_name((aios__keyenc_alg)alg),
                            aios_key_type_name(info->type));
        }
    }
    call_unref(c);
    if (rc != AIOS_OK)
        *pub_len = 0;
    return rc;
}

static int cb_get_key(aios_provider *p, aios_key **out, const char *key_id, uint32_t version)
{
    cb_impl *impl = p->impl;
    uint64_t deadline = mono_ns() + (uint64_t)impl->timeout_ms * 1000000u;
    aios_provider_key_info info;
    uint8_t pub[AIOS__PUBLIC_MAX];
    size_t pub_len = 0;
    aios__keyver *ver;
    aios__key_desc desc;
    cb_call *c;
    int rc;

    *out = NULL;
    memset(&info, 0, sizeof(info));
    rc = call_new(&c, impl, CB_DESCRIBE, key_id, version, deadline, NULL, 0, 0, NULL, 0, 0, 0, 0);
    if (rc != AIOS_OK)
        return rc;
    rc = call_run(c);
    if (rc == AIOS_OK)
        info = c->info;     /* only once the worker is done with it */
    call_unref(c);
    if (rc != AIOS_OK)
        return rc;
    if ((rc = info_check(impl, key_id, version, &info)) != AIOS_OK)
        return rc;

    if (type_is_asymmetric(info.type) && (impl->ops.capabilities & AIOS_PROVIDER_CAN_PUBLIC_KEY)) {
        if ((rc = fetch_public(impl, key_id, &info, deadline, pub, &pub_len)) != AIOS_OK)
            return rc;
    }

    rc = aios__keyver_new(&ver, info.state, NULL, 0, pub, pub_len, 0, 0);
    if (rc != AIOS_OK)
        return rc;
    memset(&desc, 0, sizeof(desc));
    desc.key_id = key_id;
    desc.version = info.version;
    desc.type = info.type;
    desc.purposes = info.purposes;
    desc.exportable = 0;            /* the secret never leaves the host */
    desc.created_at = info.created_at;
    rc = aios__key_new(out, p, &desc, ver, NULL);
    aios__keyver_unref(ver);
    return rc;
}

/* -------------------------------------------------------- operations */

static int need_cap(const cb_impl *impl, uint32_t cap, const char *what, const char *bit)
{
    if (impl->ops.capabilities & cap)
        return AIOS_OK;
    return aios__fail(AIOS_E_UNSUPPORTED, "%s cannot %s: its table does not set %s",
                      impl->name, what, bit);
}

static uint64_t deadline_from_now(const cb_impl *impl)
{
    return mono_ns() + (uint64_t)impl->timeout_ms * 1000000u;
}

static int cb_wrap(const aios_key *key, aios_buffer **out, const uint8_t *dk, size_t dk_len,
                   const uint8_t *ad, size_t ad_len)
{
    cb_impl *impl = key->provider->impl;
    cb_call *c;
    int rc;

    if ((rc = need_cap(impl, AIOS_PROVIDER_CAN_WRAP, "wrap", "AIOS_PROVIDER_CAN_WRAP")) != AIOS_OK)
        return rc;
    rc = call_new(&c, impl, CB_WRAP, key->id, key->version, deadline_from_now(impl),
                  dk, dk_len, 1, ad, ad_len, CB_WRAP_FIRST, CB_WRAP_MAX, 0);
    if (rc != AIOS_OK)
        return rc;
    rc = call_run(c);
    if (rc == AIOS_OK && c->out_len == 0)
        rc = aios__fail(AIOS_E_CALLBACK, "%s: wrap of key '%s' returned an empty wrapped key",
                        impl->name, key->id);
    if (rc == AIOS_OK && (rc = aios__buffer_new(out, c->out_len, 0)) == AIOS_OK)
        memcpy(aios_buffer_data_mut(*out), c->out, c->out_len);
    call_unref(c);
    return rc;
}

static int cb_unwrap(const aios_key *key, aios_buffer **out, const uint8_t *wrapped,
                     size_t wrapped_len, const uint8_t *ad, size_t ad_len)
{
    cb_impl *impl = key->provider->impl;
    cb_call *c;
    int rc;

    if ((rc = need_cap(impl, AIOS_PROVIDER_CAN_UNWRAP, "unwrap", "AIOS_PROVIDER_CAN_UNWRAP")) != AIOS_OK)
        return rc;
    rc = call_new(&c, impl, CB_UNWRAP, key->id, key->version, deadline_from_now(impl),
                  wrapped, wrapped_len, 0, ad, ad_len, CB_UNWRAP_FIRST, CB_UNWRAP_MAX, 1);
    if (rc != AIOS_OK)
        return rc;
    rc = call_run(c);
    if (rc == AIOS_OK && c->out_len == 0)
        rc = aios__fail(AIOS_E_CALLBACK, "%s: unwrap of key '%s' returned an empty data key",
                        impl->name, key->id);
    if (rc == AIOS_OK && (rc = aios__buffer_new(out, c->out_len, AIOS_BUFFER_SECURE)) == AIOS_OK)
        memcpy(aios_buffer_data_mut(*out), c->out, c->out_len);
    call_unref(c);      /* the record's copy of the data key is wiped */
    return rc;
}

static int cb_sign(const aios_key *key, aios_buffer **out, const uint8_t *msg, size_t msg_len)
{
    cb_impl *impl = key->provider->impl;
    cb_call *c;
    int rc;

    if ((rc = need_cap(impl, AIOS_PROVIDER_CAN_SIGN, "sign", "AIOS_PROVIDER_CAN_SIGN")) != AIOS_OK)
        return rc;
    rc = call_new(&c, impl, CB_SIGN, key->id, key->version, deadline_from_now(impl),
                  msg, msg_len, 0, NULL, 0, CB_SIGN_FIRST, CB_SIGN_MAX, 0);
    if (rc != AIOS_OK)
        return rc;
    rc = call_run(c);
    if (rc == AIOS_OK && c->out_len == 0)
        rc = aios__fail(AIOS_E_CALLBACK, "%s: sign with key '%s' returned an empty signature",
                        impl->name, key->id);
    /* With the public key known, a signature that does not verify (a host
     * that signed with another key, or a fault) never reaches the caller. */
    if (rc == AIOS_OK && key->ver->public_len > 0 &&
        aios__public_verify(key, c->out, c->out_len, msg, msg_len) != AIOS_OK)
        rc = aios__fail(AIOS_E_CALLBACK, "%s: sign with key '%s' version %u returned a "
                        "signature that does not verify under the key's public key",
                        impl->name, key->id, key->version);
    if (rc == AIOS_OK && (rc = aios__buffer_new(out, c->out_len, 0)) == AIOS_OK)
        memcpy(aios_buffer_data_mut(*out), c->out, c->out_len);
    call_unref(c);
    return rc;
}

static void cb_destroy(aios_provider *p)
{
    cb_impl *impl = p->impl;
    p->impl = NULL;
    if (impl)
        impl_unref(impl);   /* release runs now, or after the last late call */
}

static const aios__provider_vt cb_vt = {
    cb_get_key, cb_wrap, cb_unwrap, cb_sign, NULL, cb_destroy
};

/* ------------------------------------------------------------ public */

static const size_t provider_options_sizes[] = {
    sizeof(aios_provider_options),          /* version 1 */
};
#define PROVIDER_OPTIONS_NVERSIONS \
    (unsigned int)(sizeof(provider_options_sizes) / sizeof(provider_options_sizes[0]))

int aios_provider_options_init(aios_provider_options *opts, unsigned int version)
{
    AIOS__CHECK_ARG(opts != NULL, "opts is NULL");
    if (version == 0 || version > PROVIDER_OPTIONS_NVERSIONS)
        return aios__fail(AIOS_E_VERSION, "aios_provider_options_init: version %u is not one "
                          "this library knows (1..%u)", version, PROVIDER_OPTIONS_NVERSIONS);
    memset(opts, 0, provider_options_sizes[version - 1]);
    opts->version = version;
    return AIOS_OK;
}

static int name_check(const char *name)
{
    size_t n;
    if (name == NULL)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "aios_provider_callback: name is NULL");
    n = strlen(name);
    if (n == 0 || n > CB_NAME_MAX)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "aios_provider_callback: name must be 1..%d "
                          "bytes, not %zu", CB_NAME_MAX, n);
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
              ch == '-'))
            return aios__fail(AIOS_E_INVALID_ARGUMENT, "aios_provider_callback: name may only "
                              "hold a-z, 0-9, '_', '.' and '-' (byte %zu is 0x%02x)", i,
                              (unsigned)(unsigned char)ch);
    }
    return AIOS_OK;
}

/* The end of a member of the host's table. */
#define OPS_END(member) (offsetof(aios_provider_ops, member) + sizeof(((aios_provider_ops *)0)->member))

/* Copy the host's table, honouring its size: a member is taken only if
 * the table holds all of it. */
static int ops_copy(aios_provider_ops *dst, const aios_provider_ops *src)
{
    size_t size = src->size;
    memset(dst, 0, sizeof(*dst));
    if (size < OPS_END(describe))
        return aios__fail(AIOS_E_VERSION, "aios_provider_callback: ops->size is %zu, smaller "
                          "than the first aios_provider_ops (%zu bytes); set it to "
                          "sizeof(aios_provider_ops)", size, OPS_END(describe));
    dst->size = sizeof(*dst);
    dst->capabilities = src->capabilities;
    dst->describe = src->describe;
    if (size >= OPS_END(wrap))       dst->wrap = src->wrap;
    if (size >= OPS_END(unwrap))     dst->unwrap = src->unwrap;
    if (size >= OPS_END(sign))       dst->sign = src->sign;
    if (size >= OPS_END(public_key)) dst->public_key = src->public_key;
    if (size >= OPS_END(release))    dst->release = src->release;

    if (dst->describe == NULL)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "aios_provider_callback: ops->describe is "
                          "required");
    if (dst->capabilities & ~CB_ALL_CAPS)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "aios_provider_callback: unknown capability "
                          "bits 0x%x", (unsigned)(dst->capabilities & ~CB_ALL_CAPS));
#define CAP_NEEDS(bit, member)                                                              \
    do {                                                                                    \
        if ((dst->capabilities & (bit)) && dst->member == NULL)                             \
            return aios__fail(AIOS_E_INVALID_ARGUMENT, "aios_provider_callback: " #bit      \
                              " is set but ops->" #member " is %s", size >= OPS_END(member) \
                              ? "NULL" : "beyond ops->size");                               \
        if (!(dst->capabilities & (bit)))                                                   \
            dst->member = NULL;     /* never called without its bit */                      \
    } while (0)
    CAP_NEEDS(AIOS_PROVIDER_CAN_WRAP, wrap);
    CAP_NEEDS(AIOS_PROVIDER_CAN_UNWRAP, unwrap);
    CAP_NEEDS(AIOS_PROVIDER_CAN_SIGN, sign);
    CAP_NEEDS(AIOS_PROVIDER_CAN_PUBLIC_KEY, public_key);
#undef CAP_NEEDS
    return AIOS_OK;
}

int aios_provider_callback(aios_provider **out, const char *name, const aios_provider_ops *ops,
                           void *payload, const aios_provider_options *opts)
{
    aios_provider_options o;
    aios_provider_ops table;
    char full[sizeof(CB_PREFIX) + CB_NAME_MAX];
    cb_impl *impl;
    int rc;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    if ((rc = name_check(name)) != AIOS_OK)
        return rc;
    AIOS__CHECK_ARG(ops != NULL, "ops is NULL");
    if ((rc = ops_copy(&table, ops)) != AIOS_OK)
        return rc;
    rc = aios__options_copy(&o, sizeof(o), opts, provider_options_sizes,
                            PROVIDER_OPTIONS_NVERSIONS, "aios_provider_options");
    if (rc != AIOS_OK)
        return rc;
    if (o.timeout_ms == 0)
        o.timeout_ms = CB_TIMEOUT_DEFAULT_MS;

    memcpy(full, CB_PREFIX, sizeof(CB_PREFIX) - 1);
    memcpy(full + sizeof(CB_PREFIX) - 1, name, strlen(name) + 1);
    impl = aios__calloc(1, sizeof(*impl));
    if (!impl)
        return aios__nomem("a callback provider");
    atomic_init(&impl->refs, 1);
    impl->ops = table;
    impl->payload = payload;
    impl->timeout_ms = o.timeout_ms;
    memcpy(impl->name, full, sizeof(full));
    rc = aios__provider_new(out, full, &cb_vt, impl);
    if (rc != AIOS_OK) {
        /* Not ours yet: the host keeps its payload and release is not called. */
        aios__free(impl);
        return rc;
    }
    return AIOS_OK;
}
