/*
 * The C half of the Go binding; see shim.h for the pattern.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"
#include "_cgo_export.h"   /* the //export-ed Go functions (callbacks.go, allocator.go, provider.go) */

/* Each C call from Go may run on any OS thread, so the shim does the whole
 * exchange with the per-thread error record inside one call. */
void aiosgo_begin(void)
{
    aios_error_clear();
}

int aiosgo_end(int rc, aiosgo_err *err)
{
    const char *msg;
    size_t n;

    if (rc == AIOS_OK || err == NULL)
        return rc;
    err->status = rc;
    err->kind = (int)aios_status_kind(rc);
    err->name = aios_status_name(rc);
    /* aiosgo_begin() cleared the record, so any message is this call's. */
    msg = aios_last_error_message();
    if (msg == NULL)
        msg = "";
    n = strlen(msg);
    if (n >= sizeof(err->message)) {
        n = sizeof(err->message) - 1;
        /* Do not split a UTF-8 sequence. */
        while (n > 0 && ((unsigned char)msg[n] & 0xC0u) == 0x80u)
            n--;
    }
    memcpy(err->message, msg, n);
    err->message[n] = '\0';
    return rc;
}

/* ------------------------------------------------------------- core.h */

int aiosgo_init(aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_init();
    return aiosgo_end(rc, err);
}

/* aios_selftest_cb -> Go (callbacks.go).  Go returns AIOS_OK to go on,
 * AIOS_E_CALLBACK when the host's callback failed or panicked, or
 * AIOS_E_CANCELLED when it asked to stop; either of the last two stops the
 * run and becomes aios_selftest()'s result. */
static int selftest_trampoline(const char *name, int status, void *payload)
{
    return aiosgoSelftestCallback((char *)name, status, (uintptr_t)payload);
}

int aiosgo_selftest(uintptr_t handle, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_selftest(selftest_trampoline, (void *)handle);
    return aiosgo_end(rc, err);
}

/* aios_allocator -> Go (allocator.go).  The library may call these from
 * any thread, including its own workers; cgo handles that.  libaios never
 * asks malloc_fn for 0 bytes nor gives free_fn NULL. */
static void *malloc_trampoline(size_t size, void *payload)
{
    return aiosgoMalloc(size, (uintptr_t)payload);
}

static void free_trampoline(void *ptr, void *payload)
{
    aiosgoFree(ptr, (uintptr_t)payload);
}

int aiosgo_set_allocator(uintptr_t handle, aiosgo_err *err)
{
    aios_allocator a;
    int rc;

    aiosgo_begin();
    if (handle == 0) {
        rc = aios_set_allocator(NULL);
    } else {
        memset(&a, 0, sizeof(a));
        a.size = sizeof(a);
        a.malloc_fn = malloc_trampoline;
        a.free_fn = free_trampoline;
        a.payload = (void *)handle;
        /* libaios copies the table, so a stack copy is enough. */
        rc = aios_set_allocator(&a);
    }
    return aiosgo_end(rc, err);
}

int aiosgo_buffer_new(aios_buffer **out, size_t len, uint32_t flags, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_buffer_new(out, len, flags);
    return aiosgo_end(rc, err);
}

int aiosgo_buffer_from_bytes(aios_buffer **out, const uint8_t *data, size_t len,
                             uint32_t flags, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_buffer_from_bytes(out, data, len, flags);
    return aiosgo_end(rc, err);
}

int aiosgo_buffer_protect(aios_buffer *buf, int prot, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_buffer_protect(buf, (aios_protection)prot);
    return aiosgo_end(rc, err);
}

/* -------------------------------------------------------------- key.h */

/* A NUL-terminated copy of s[0..len) in a secure buffer, or NULL. */
static int secure_cstr(aios_buffer **out, const uint8_t *s, size_t len)
{
    int rc = aios_buffer_new(out, len + 1, AIOS_BUFFER_SECURE);
    if (rc == AIOS_OK && len > 0)
        memcpy(aios_buffer_data_mut(*out), s, len);
    return rc;
}

int aiosgo_keyring_open(int create, aios_keyring **out, const char *path, int unlock,
                        const uint8_t *secret, size_t secret_len,
                        const char *pkcs11_module, const char *pkcs11_uri,
                        const uint8_t *pin, size_t pin_len, int has_pin,
                        uint64_t argon2_ops, uint64_t argon2_mem, uint32_t flags,
                        uint32_t lock_timeout_ms, aiosgo_err *err)
{
    aios_keyring_options o;
    aios_buffer *sec = NULL, *pinbuf = NULL;
    int rc;

    aiosgo_begin();
    rc = aios_keyring_options_init(&o, AIOS_KEYRING_OPTIONS_VERSION);
    /* The secrets live in guarded memory for the call only. */
    if (rc == AIOS_OK && secret != NULL && secret_len > 0)
        rc = aios_buffer_from_bytes(&sec, secret, secret_len, AIOS_BUFFER_SECURE);
    if (rc == AIOS_OK && has_pin)
        rc = secure_cstr(&pinbuf, pin, pin_len);
    if (rc == AIOS_OK) {
        o.unlock = (aios_keyring_unlock)unlock;
        o.secret = sec ? aios_buffer_data(sec) : NULL;
        o.secret_len = sec ? secret_len : 0;
        o.pkcs11_module = pkcs11_module;
        o.pkcs11_uri = pkcs11_uri;
        o.pkcs11_pin = pinbuf ? (const char *)aios_buffer_data(pinbuf) : NULL;
        o.argon2_opslimit = argon2_ops;
        o.argon2_memlimit = argon2_mem;
        o.flags = flags;
        o.lock_timeout_ms = lock_timeout_ms;
        rc = create ? aios_keyring_create(out, path, &o) : aios_keyring_open(out, path, &o);
    }
    aios_buffer_free(sec);      /* wipes */
    aios_buffer_free(pinbuf);
    return aiosgo_end(rc, err);
}

int aiosgo_keyring_reload(aios_keyring *kr, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_keyring_reload(kr);
    return aiosgo_end(rc, err);
}

int aiosgo_keyring_add(aios_keyring *kr, aios_key **out, const char *key_id, int type,
                       const uint8_t *material, size_t material_len,
                       uint32_t purposes, uint32_t exportable, const char *attrs, size_t nattrs,
                       uint64_t max_uses, int64_t not_after, aiosgo_err *err)
{
    aios_key_spec ks;
    aios_key_attribute_pair *pairs = NULL;
    const char *p;
    int rc;

    aiosgo_begin();
    rc = aios_key_spec_init(&ks, AIOS_KEY_SPEC_VERSION);
    if (rc == AIOS_OK && nattrs > 0) {
        pairs = calloc(nattrs, sizeof(*pairs));
        if (pairs == NULL) {
            rc = AIOS_E_NOMEM;
        } else {
            p = attrs;
            for (size_t i = 0; i < nattrs; i++) {
                pairs[i].name = p;
                p += strlen(p) + 1;
                pairs[i].value = p;
                p += strlen(p) + 1;
            }
        }
    }
    if (rc == AIOS_OK) {
        ks.purposes = purposes;
        ks.exportable = exportable;
        ks.attributes = pairs;
        ks.attribute_count = nattrs;
        ks.max_uses = max_uses;
        ks.not_after = not_after;
        if (material != NULL)
            rc = aios_keyring_import(kr, out, key_id, (aios_key_type)type, material, material_len, &ks);
        else
            rc = aios_keyring_add(kr, out, key_id, (aios_key_type)type, &ks);
    }
    free(pairs);
    return aiosgo_end(rc, err);
}

int aiosgo_keyring_get(aios_keyring *kr, aios_key **out, const char *key_id, uint32_t version,
                       aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_keyring_get(kr, out, key_id, version);
    return aiosgo_end(rc, err);
}

int aiosgo_keyring_rotate(aios_keyring *kr, aios_key **out, const char *key_id, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_keyring_rotate(kr, out, key_id);
    return aiosgo_end(rc, err);
}

int aiosgo_keyring_add_version(aios_keyring *kr, aios_key **out, const char *key_id,
                               aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_keyring_add_version(kr, out, key_id);
    return aiosgo_end(rc, err);
}

int aiosgo_keyring_promote(aios_keyring *kr, const char *key_id, uint32_t version, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_keyring_promote(kr, key_id, version);
    return aiosgo_end(rc, err);
}

int aiosgo_keyring_import_version(aios_keyring *kr, aios_key **out, const char *key_id,
                                  const uint8_t *material, size_t material_len, uint32_t flags,
                                  aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_keyring_import_version(kr, out, key_id, material, material_len, flags);
    return aiosgo_end(rc, err);
}

int aiosgo_keyring_set_state(aios_keyring *kr, const char *key_id, uint32_t version, int state,
                             aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_keyring_set_state(kr, key_id, version, (aios_key_state)state);
    return aiosgo_end(rc, err);
}

int aiosgo_keyring_destroy(aios_keyring *kr, const char *key_id, uint32_t version, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_keyring_destroy(kr, key_id, version);
    return aiosgo_end(rc, err);
}

int aiosgo_keyring_set_min_decrypt_version(aios_keyring *kr, const char *key_id,
                                           uint32_t version, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_keyring_set_min_decrypt_version(kr, key_id, version);
    return aiosgo_end(rc, err);
}

int aiosgo_keyring_list_json(aios_keyring *kr, aios_buffer **out, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_keyring_list_json(kr, out);
    return aiosgo_end(rc, err);
}

int aiosgo_key_attribute_at(const aios_key *key, size_t index, const char **name,
                            const char **value, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_key_attribute_at(key, index, name, value);
    return aiosgo_end(rc, err);
}

int aiosgo_key_wrap(const aios_key *kek, aios_buffer **out, const uint8_t *data_key,
                    size_t data_key_len, const uint8_t *ad, size_t ad_len, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_key_wrap(kek, out, data_key, data_key_len, ad, ad_len);
    return aiosgo_end(rc, err);
}

int aiosgo_key_unwrap(const aios_key *kek, aios_buffer **out, const uint8_t *wrapped,
                      size_t wrapped_len, const uint8_t *ad, size_t ad_len, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_key_unwrap(kek, out, wrapped, wrapped_len, ad, ad_len);
    return aiosgo_end(rc, err);
}

int aiosgo_key_sign(const aios_key *key, aios_buffer **out, const uint8_t *msg, size_t msg_len,
                    aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_key_sign(key, out, msg, msg_len);
    return aiosgo_end(rc, err);
}

int aiosgo_key_verify(const aios_key *key, const uint8_t *sig, size_t sig_len,
                      const uint8_t *msg, size_t msg_len, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_key_verify(key, sig, sig_len, msg, msg_len);
    return aiosgo_end(rc, err);
}

int aiosgo_key_mac(const aios_key *key, uint8_t *out, const uint8_t *msg, size_t msg_len,
                   aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_key_mac(key, out, msg, msg_len);
    return aiosgo_end(rc, err);
}

int aiosgo_key_agree(const aios_key *key, aios_buffer **out, const uint8_t *peer, size_t peer_len,
                     aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_key_agree(key, out, peer, peer_len);
    return aiosgo_end(rc, err);
}

int aiosgo_key_public_pem(const aios_key *key, aios_buffer **out, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_key_public_pem(key, out);
    return aiosgo_end(rc, err);
}

int aiosgo_key_public_raw(const aios_key *key, aios_buffer **out, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_key_public_raw(key, out);
    return aiosgo_end(rc, err);
}

int aiosgo_key_export(const aios_key *key, aios_buffer **out, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_key_export(key, out);
    return aiosgo_end(rc, err);
}

int aiosgo_key_from_public_pem(aios_key **out, const char *key_id, const char *pem,
                               size_t pem_len, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_key_from_public_pem(out, key_id, pem, pem_len);
    return aiosgo_end(rc, err);
}

int aiosgo_provider_get_key(aios_provider *p, aios_key **out, const char *key_id,
                            uint32_t version, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_provider_get_key(p, out, key_id, version);
    return aiosgo_end(rc, err);
}

int aiosgo_provider_pkcs11(aios_provider **out, const char *module, const char *uri,
                           const uint8_t *pin, size_t pin_len, int has_pin, aiosgo_err *err)
{
    aios_pkcs11_options o;
    aios_buffer *pinbuf = NULL;
    int rc;

    aiosgo_begin();
    rc = aios_pkcs11_options_init(&o, AIOS_PKCS11_OPTIONS_VERSION);
    if (rc == AIOS_OK && has_pin)
        rc = secure_cstr(&pinbuf, pin, pin_len);
    if (rc == AIOS_OK) {
        o.pin = pinbuf ? (const char *)aios_buffer_data(pinbuf) : NULL;
        rc = aios_provider_pkcs11(out, module, uri, &o);
    }
    aios_buffer_free(pinbuf);   /* wipes */
    return aiosgo_end(rc, err);
}

/* aios_provider_ops -> Go (provider.go).  The library calls these on its
 * own worker threads, one thread per host call, possibly several at once;
 * the Go side finds its provider state through the cgo.Handle payload. */
#define INFO_HAS(info, m) \
    ((info)->size >= offsetof(aios_provider_key_info, m) + sizeof((info)->m))

static int prov_describe(void *payload, const char *key_id, uint32_t version,
                         aios_provider_key_info *info, uint32_t deadline_ms)
{
    aiosgo_key_info gi;
    int rc;

    memset(&gi, 0, sizeof(gi));
    rc = aiosgoProviderDescribe((uintptr_t)payload, (char *)key_id, version, &gi, deadline_ms);
    if (rc == AIOS_OK) {
        /* Only what the library's struct holds: it may be an older one. */
        if (INFO_HAS(info, version))    info->version = gi.version;
        if (INFO_HAS(info, type))       info->type = (aios_key_type)gi.type;
        if (INFO_HAS(info, purposes))   info->purposes = gi.purposes;
        if (INFO_HAS(info, state))      info->state = (aios_key_state)gi.state;
        if (INFO_HAS(info, created_at)) info->created_at = gi.created_at;
    }
    return rc;
}

static int prov_wrap(void *payload, const char *key_id, uint32_t version,
                     const uint8_t *data_key, size_t data_key_len, const uint8_t *ad, size_t ad_len,
                     uint8_t *out, size_t out_cap, size_t *out_len, uint32_t deadline_ms)
{
    return aiosgoProviderCall((uintptr_t)payload, AIOSGO_OP_WRAP, (char *)key_id, version,
                              (uint8_t *)data_key, data_key_len, (uint8_t *)ad, ad_len,
                              out, out_cap, out_len, deadline_ms);
}

static int prov_unwrap(void *payload, const char *key_id, uint32_t version,
                       const uint8_t *wrapped, size_t wrapped_len, const uint8_t *ad, size_t ad_len,
                       uint8_t *out, size_t out_cap, size_t *out_len, uint32_t deadline_ms)
{
    return aiosgoProviderCall((uintptr_t)payload, AIOSGO_OP_UNWRAP, (char *)key_id, version,
                              (uint8_t *)wrapped, wrapped_len, (uint8_t *)ad, ad_len,
                              out, out_cap, out_len, deadline_ms);
}

static int prov_sign(void *payload, const char *key_id, uint32_t version,
                     const uint8_t *msg, size_t msg_len,
                     uint8_t *out, size_t out_cap, size_t *out_len, uint32_t deadline_ms)
{
    return aiosgoProviderCall((uintptr_t)payload, AIOSGO_OP_SIGN, (char *)key_id, version,
                              (uint8_t *)msg, msg_len, NULL, 0, out, out_cap, out_len, deadline_ms);
}

static int prov_public_key(void *payload, const char *key_id, uint32_t version,
                           uint8_t *out, size_t out_cap, size_t *out_len, uint32_t deadline_ms)
{
    return aiosgoProviderCall((uintptr_t)payload, AIOSGO_OP_PUBLIC_KEY, (char *)key_id, version,
                              NULL, 0, NULL, 0, out, out_cap, out_len, deadline_ms);
}

static void prov_release(void *payload)
{
    aiosgoProviderRelease((uintptr_t)payload);
}

int aiosgo_provider_callback(aios_provider **out, const char *name, uint32_t capabilities,
                             uintptr_t handle, uint32_t timeout_ms, aiosgo_err *err)
{
    aios_provider_ops ops;
    aios_provider_options o;
    int rc;

    aiosgo_begin();
    memset(&ops, 0, sizeof(ops));
    ops.size = sizeof(ops);
    ops.capabilities = capabilities;
    ops.describe = prov_describe;
    ops.wrap = prov_wrap;
    ops.unwrap = prov_unwrap;
    ops.sign = prov_sign;
    ops.public_key = prov_public_key;
    ops.release = prov_release;
    rc = aios_provider_options_init(&o, AIOS_PROVIDER_OPTIONS_VERSION);
    if (rc == AIOS_OK) {
        o.timeout_ms = timeout_ms;
        /* The library copies the table. */
        rc = aios_provider_callback(out, name, &ops, (void *)handle, &o);
    }
    return aiosgo_end(rc, err);
}

uint64_t aiosgo_thread_id(void)
{
    return (uint64_t)(uintptr_t)pthread_self();
}

int aiosgo_dkcache_new(aios_dkcache **out, uint32_t capacity, uint64_t max_age_ms,
                       uint64_t max_messages, uint64_t max_bytes, aiosgo_err *err)
{
    aios_dkcache_options o;
    int rc;

    aiosgo_begin();
    rc = aios_dkcache_options_init(&o, AIOS_DKCACHE_OPTIONS_VERSION);
    if (rc == AIOS_OK) {
        o.capacity = capacity;
        o.max_age_ms = max_age_ms;
        o.max_messages = max_messages;
        o.max_bytes = max_bytes;
        rc = aios_dkcache_new(out, &o);
    }
    return aiosgo_end(rc, err);
}

int aiosgo_dkcache_put(aios_dkcache *cache, const aios_key *key, const uint8_t *context,
                       size_t context_len, uint32_t suite, const uint8_t *data_key,
                       size_t data_key_len, const uint8_t *wrapped, size_t wrapped_len,
                       aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_dkcache_put(cache, key, context, context_len, suite, data_key, data_key_len,
                          wrapped, wrapped_len);
    return aiosgo_end(rc, err);
}

int aiosgo_dkcache_get(aios_dkcache *cache, aios_dkcache_entry **out, const aios_key *key,
                       const uint8_t *context, size_t context_len, uint32_t suite,
                       uint64_t bytes, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_dkcache_get(cache, out, key, context, context_len, suite, bytes);
    return aiosgo_end(rc, err);
}

int aiosgo_dkcache_get_stats(aios_dkcache *cache, aios_dkcache_stats *stats, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    memset(stats, 0, sizeof(*stats));
    stats->size = sizeof(*stats);
    rc = aios_dkcache_get_stats(cache, stats);
    return aiosgo_end(rc, err);
}

/* --------------------------------------------------------- envelope.h */

struct aiosgo_ctx {
    size_t count;
    aios_envelope_context_entry *entries;   /* count entries into text */
    char *text;                             /* the packed pairs, copied */
};

aiosgo_ctx *aiosgo_ctx_new(const char *packed, size_t packed_len, size_t count)
{
    aiosgo_ctx *c = calloc(1, sizeof(*c));
    const char *p, *end;

    if (c == NULL)
        return NULL;
    c->count = count;
    c->text = malloc(packed_len + 1);
    if (count > 0)
        c->entries = calloc(count, sizeof(*c->entries));
    if (c->text == NULL || (count > 0 && c->entries == NULL)) {
        aiosgo_ctx_free(c);
        return NULL;
    }
    if (packed_len > 0)
        memcpy(c->text, packed, packed_len);
    c->text[packed_len] = '\0';
    /* Go packs exactly count pairs, each string NUL-terminated; stop at
     * the end regardless. */
    p = c->text;
    end = c->text + packed_len;
    for (size_t i = 0; i < count; i++) {
        c->entries[i].key = p < end ? p : "";
        p += p < end ? strlen(p) + 1 : 0;
        c->entries[i].value = p < end ? p : "";
        p += p < end ? strlen(p) + 1 : 0;
    }
    return c;
}

void aiosgo_ctx_free(aiosgo_ctx *c)
{
    if (c == NULL)
        return;
    free(c->entries);
    free(c->text);
    free(c);
}

#define CTX_ENTRIES(c) ((c) != NULL ? (c)->entries : NULL)
#define CTX_COUNT(c)   ((c) != NULL ? (c)->count : 0)

/* Fill the library's options from the Go scalars; *use is NULL for
 * defaults. */
static int seal_opts(aios_envelope_seal_options *o, const aios_envelope_seal_options **use,
                     const aiosgo_seal_opts *g)
{
    int rc;
    *use = NULL;
    if (g == NULL)
        return AIOS_OK;
    rc = aios_envelope_seal_options_init(o, AIOS_ENVELOPE_SEAL_OPTIONS_VERSION);
    if (rc != AIOS_OK)
        return rc;
    o->suite = (aios_envelope_suite)g->suite;
    o->chunk_size = g->chunk_size;
    o->threads = g->threads;
    *use = o;
    return AIOS_OK;
}

static int open_opts(aios_envelope_open_options *o, const aios_envelope_open_options **use,
                     const aiosgo_open_opts *g)
{
    int rc;
    *use = NULL;
    if (g == NULL)
        return AIOS_OK;
    rc = aios_envelope_open_options_init(o, AIOS_ENVELOPE_OPEN_OPTIONS_VERSION);
    if (rc != AIOS_OK)
        return rc;
    o->expected_context = CTX_ENTRIES(g->expected);
    o->expected_context_count = CTX_COUNT(g->expected);
    o->context_mode = (aios_envelope_context_mode)g->context_mode;
    o->max_unwrap_attempts = g->max_unwrap_attempts;
    o->no_soft_gcm = g->no_soft_gcm;
    o->threads = g->threads;
    *use = o;
    return AIOS_OK;
}

static int rewrap_opts(aios_envelope_rewrap_options *o, aios_key *const *remove,
                       size_t remove_count, const aiosgo_rewrap_opts *g)
{
    int rc = aios_envelope_rewrap_options_init(o, AIOS_ENVELOPE_REWRAP_OPTIONS_VERSION);
    if (rc != AIOS_OK)
        return rc;
    o->remove = remove_count > 0 ? remove : NULL;
    o->remove_count = remove_count;
    if (g != NULL) {
        o->flags = g->flags;
        o->max_unwrap_attempts = g->max_unwrap_attempts;
    }
    return AIOS_OK;
}

static int fields_opts(aios_envelope_fields_options *o, uint32_t flags,
                       const uint8_t *record_id, size_t record_id_len)
{
    int rc = aios_envelope_fields_options_init(o, AIOS_ENVELOPE_FIELDS_OPTIONS_VERSION);
    if (rc != AIOS_OK)
        return rc;
    o->flags = flags;
    o->record_id = record_id_len > 0 ? record_id : NULL;
    o->record_id_len = record_id_len;
    return AIOS_OK;
}

int aiosgo_envelope_keys_new(aios_envelope_keys **out, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_envelope_keys_new(out);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_keys_add_key(aios_envelope_keys *keys, aios_key *key, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_envelope_keys_add_key(keys, key);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_keys_add_provider(aios_envelope_keys *keys, aios_provider *provider,
                                      aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_envelope_keys_add_provider(keys, provider);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_seal(aios_buffer **out, aios_key *const *recipients, size_t recipient_count,
                         const aiosgo_ctx *ctx, const uint8_t *plaintext, size_t plaintext_len,
                         const aiosgo_seal_opts *opts, aiosgo_err *err)
{
    aios_envelope_seal_options o;
    const aios_envelope_seal_options *use;
    int rc;

    aiosgo_begin();
    rc = seal_opts(&o, &use, opts);
    if (rc == AIOS_OK)
        rc = aios_envelope_seal(out, recipients, recipient_count, CTX_ENTRIES(ctx),
                                CTX_COUNT(ctx), plaintext, plaintext_len, use);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_seal_into(uint8_t *out, uint32_t out_cap, uint32_t *out_len,
                              aios_key *const *recipients, size_t recipient_count,
                              const aiosgo_ctx *ctx, const uint8_t *plaintext,
                              uint32_t plaintext_len, const aiosgo_seal_opts *opts,
                              aiosgo_err *err)
{
    aios_envelope_seal_options o;
    const aios_envelope_seal_options *use;
    int rc;

    aiosgo_begin();
    *out_len = 0;
    rc = seal_opts(&o, &use, opts);
    if (rc == AIOS_OK && (recipient_count > UINT32_MAX || CTX_COUNT(ctx) > UINT32_MAX))
        rc = AIOS_E_LIMIT;
    if (rc == AIOS_OK)
        rc = aios_envelope_seal_into(out, out_cap, out_len, recipients, (uint32_t)recipient_count,
                                     CTX_ENTRIES(ctx), (uint32_t)CTX_COUNT(ctx), plaintext,
                                     plaintext_len, use);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_open_into(const aios_envelope_keys *keys, uint8_t *out, uint32_t out_cap,
                              uint32_t *out_len, const uint8_t *message, uint32_t message_len,
                              const aiosgo_open_opts *opts, aiosgo_err *err)
{
    aios_envelope_open_options o;
    const aios_envelope_open_options *use;
    int rc;

    aiosgo_begin();
    *out_len = 0;
    rc = open_opts(&o, &use, opts);
    if (rc == AIOS_OK)
        rc = aios_envelope_open_into(keys, out, out_cap, out_len, message, message_len, use);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_open(aios_buffer **out, const aios_envelope_keys *keys,
                         const uint8_t *message, size_t message_len,
                         const aiosgo_open_opts *opts, aiosgo_err *err)
{
    aios_envelope_open_options o;
    const aios_envelope_open_options *use;
    int rc;

    aiosgo_begin();
    rc = open_opts(&o, &use, opts);
    if (rc == AIOS_OK)
        rc = aios_envelope_open(out, keys, message, message_len, use);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_peek(aios_buffer **out, const uint8_t *data, size_t data_len, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_envelope_peek(out, data, data_len);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_header_len(size_t *len_out, const uint8_t *data, size_t data_len,
                               aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_envelope_header_len(len_out, data, data_len);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_sealer_new(aios_envelope_sealer **out, aios_key *const *recipients,
                               size_t recipient_count, const aiosgo_ctx *ctx,
                               const aiosgo_seal_opts *opts, aiosgo_err *err)
{
    aios_envelope_seal_options o;
    const aios_envelope_seal_options *use;
    int rc;

    aiosgo_begin();
    rc = seal_opts(&o, &use, opts);
    if (rc == AIOS_OK)
        rc = aios_envelope_sealer_new(out, recipients, recipient_count, CTX_ENTRIES(ctx),
                                      CTX_COUNT(ctx), use);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_sealer_update(aios_envelope_sealer *s, uint8_t *out, size_t out_cap,
                                  size_t *out_len, const uint8_t *in, size_t in_len,
                                  aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_envelope_sealer_update(s, out, out_cap, out_len, in, in_len);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_sealer_final(aios_envelope_sealer *s, uint8_t *out, size_t out_cap,
                                 size_t *out_len, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_envelope_sealer_final(s, out, out_cap, out_len);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_opener_new(aios_envelope_opener **out, const aios_envelope_keys *keys,
                               const aiosgo_open_opts *opts, aiosgo_err *err)
{
    aios_envelope_open_options o;
    const aios_envelope_open_options *use;
    int rc;

    aiosgo_begin();
    rc = open_opts(&o, &use, opts);
    if (rc == AIOS_OK)
        rc = aios_envelope_opener_new(out, keys, use);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_opener_update(aios_envelope_opener *o, uint8_t *out, size_t out_cap,
                                  size_t *out_len, const uint8_t *in, size_t in_len,
                                  aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_envelope_opener_update(o, out, out_cap, out_len, in, in_len);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_opener_final(aios_envelope_opener *o, uint8_t *out, size_t out_cap,
                                 size_t *out_len, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_envelope_opener_final(o, out, out_cap, out_len);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_opener_info(const aios_envelope_opener *o, aios_buffer **out, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_envelope_opener_info(o, out);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_seal_fd(int out_fd, int in_fd, aios_key *const *recipients,
                            size_t recipient_count, const aiosgo_ctx *ctx,
                            const aiosgo_seal_opts *opts, aiosgo_err *err)
{
    aios_envelope_seal_options o;
    const aios_envelope_seal_options *use;
    int rc;

    aiosgo_begin();
    rc = seal_opts(&o, &use, opts);
    if (rc == AIOS_OK)
        rc = aios_envelope_seal_fd(out_fd, in_fd, recipients, recipient_count, CTX_ENTRIES(ctx),
                                   CTX_COUNT(ctx), use);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_open_fd(int out_fd, int in_fd, const aios_envelope_keys *keys,
                            const aiosgo_open_opts *opts, aiosgo_err *err)
{
    aios_envelope_open_options o;
    const aios_envelope_open_options *use;
    int rc;

    aiosgo_begin();
    rc = open_opts(&o, &use, opts);
    if (rc == AIOS_OK)
        rc = aios_envelope_open_fd(out_fd, in_fd, keys, use);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_reader_new_mem(aios_envelope_reader **out, const aios_envelope_keys *keys,
                                   const uint8_t *message, size_t message_len,
                                   const aiosgo_open_opts *opts, aiosgo_err *err)
{
    aios_envelope_open_options o;
    const aios_envelope_open_options *use;
    int rc;

    aiosgo_begin();
    rc = open_opts(&o, &use, opts);
    if (rc == AIOS_OK)
        rc = aios_envelope_reader_new_mem(out, keys, message, message_len, use);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_reader_new_fd(aios_envelope_reader **out, const aios_envelope_keys *keys,
                                  int fd, const aiosgo_open_opts *opts, aiosgo_err *err)
{
    aios_envelope_open_options o;
    const aios_envelope_open_options *use;
    int rc;

    aiosgo_begin();
    rc = open_opts(&o, &use, opts);
    if (rc == AIOS_OK)
        rc = aios_envelope_reader_new_fd(out, keys, fd, use);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_reader_read(const aios_envelope_reader *r, uint64_t offset, uint8_t *out,
                                size_t len, size_t *out_len, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_envelope_reader_read(r, offset, out, len, out_len);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_reader_info(const aios_envelope_reader *r, aios_buffer **out, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_envelope_reader_info(r, out);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_rewrap(aios_buffer **header_out, size_t *old_header_len_out,
                           const aios_envelope_keys *keys, const uint8_t *data, size_t data_len,
                           aios_key *const *add, size_t add_count,
                           aios_key *const *remove, size_t remove_count,
                           const aiosgo_rewrap_opts *opts, aiosgo_err *err)
{
    aios_envelope_rewrap_options o;
    int rc;

    aiosgo_begin();
    rc = rewrap_opts(&o, remove, remove_count, opts);
    if (rc == AIOS_OK)
        rc = aios_envelope_rewrap(header_out, old_header_len_out, keys, data, data_len,
                                  add_count > 0 ? add : NULL, add_count, &o);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_rewrap_fd(int out_fd, int in_fd, const aios_envelope_keys *keys,
                              aios_key *const *add, size_t add_count,
                              aios_key *const *remove, size_t remove_count,
                              const aiosgo_rewrap_opts *opts, aiosgo_err *err)
{
    aios_envelope_rewrap_options o;
    int rc;

    aiosgo_begin();
    rc = rewrap_opts(&o, remove, remove_count, opts);
    if (rc == AIOS_OK)
        rc = aios_envelope_rewrap_fd(out_fd, in_fd, keys, add_count > 0 ? add : NULL,
                                     add_count, &o);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_session_new(aios_envelope_session **out, aios_key *const *recipients,
                                size_t recipient_count, const aiosgo_ctx *ctx,
                                const aiosgo_session_opts *opts, aiosgo_err *err)
{
    aios_envelope_session_options o;
    int rc;

    aiosgo_begin();
    rc = aios_envelope_session_options_init(&o, AIOS_ENVELOPE_SESSION_OPTIONS_VERSION);
    if (rc == AIOS_OK) {
        if (opts != NULL) {
            o.suite = (aios_envelope_suite)opts->suite;
            o.flags = opts->flags;
            o.max_records = opts->max_records;
        }
        rc = aios_envelope_session_new(out, recipients, recipient_count, CTX_ENTRIES(ctx),
                                       CTX_COUNT(ctx), &o);
    }
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_session_open(aios_envelope_session **out, const aios_envelope_keys *keys,
                                 const uint8_t *header, size_t header_len,
                                 const aiosgo_open_opts *opts, aiosgo_err *err)
{
    aios_envelope_open_options o;
    const aios_envelope_open_options *use;
    int rc;

    aiosgo_begin();
    rc = open_opts(&o, &use, opts);
    if (rc == AIOS_OK)
        rc = aios_envelope_session_open(out, keys, header, header_len, use);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_session_info(const aios_envelope_session *s, aios_buffer **out,
                                 aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_envelope_session_info(s, out);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_session_seal(aios_envelope_session *s, uint8_t *out, size_t out_cap,
                                 size_t *out_len, const uint8_t *plaintext, size_t plaintext_len,
                                 const uint8_t *ad, size_t ad_len, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_envelope_session_seal(s, out, out_cap, out_len, plaintext, plaintext_len, ad, ad_len);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_session_open_record(const aios_envelope_session *s, uint8_t *out,
                                        size_t out_cap, size_t *out_len,
                                        const uint8_t *record, size_t record_len,
                                        const uint8_t *ad, size_t ad_len, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_envelope_session_open_record(s, out, out_cap, out_len, record, record_len, ad, ad_len);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_session_seal_exact(aios_envelope_session *s, uint8_t *out,
                                       const uint8_t *plaintext, uint32_t plaintext_len,
                                       const uint8_t *ad, uint32_t ad_len, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_envelope_session_seal_exact(s, out, plaintext, plaintext_len, ad, ad_len);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_session_open_exact(const aios_envelope_session *s, uint8_t *out,
                                       const uint8_t *record, uint32_t record_len,
                                       const uint8_t *ad, uint32_t ad_len, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_envelope_session_open_exact(s, out, record, record_len, ad, ad_len);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_session_seal_batch(aios_envelope_session *s, uint8_t *out, size_t out_cap,
                                       size_t *out_len, const uint8_t *plaintexts,
                                       const size_t *plaintext_lens, size_t n,
                                       const uint8_t *ads, const size_t *ad_lens, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_envelope_session_seal_batch(s, out, out_cap, out_len, plaintexts, plaintext_lens, n,
                                          ads, ad_lens);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_session_open_batch(const aios_envelope_session *s, uint8_t *out,
                                       size_t out_cap, size_t *out_len, const uint8_t *records,
                                       const size_t *record_lens, size_t n, const uint8_t *ads,
                                       const size_t *ad_lens, size_t *failed_index_out,
                                       aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_envelope_session_open_batch(s, out, out_cap, out_len, records, record_lens, n, ads,
                                          ad_lens, failed_index_out);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_record_session_id(uint8_t *id_out, const uint8_t *record, size_t record_len,
                                      aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_envelope_record_session_id(id_out, record, record_len);
    return aiosgo_end(rc, err);
}

/* An array of pointer_count pointers into the packed text, or NULL. */
static int split_strings(const char ***out, const char *packed, size_t count)
{
    const char **v;
    *out = NULL;
    if (count == 0)
        return AIOS_OK;
    v = calloc(count, sizeof(*v));
    if (v == NULL)
        return AIOS_E_NOMEM;
    for (size_t i = 0; i < count; i++) {
        v[i] = packed;
        packed += strlen(packed) + 1;
    }
    *out = v;
    return AIOS_OK;
}

int aiosgo_envelope_fields_encrypt(aios_buffer **out, aios_envelope_session *session,
                                   const char *json, size_t json_len,
                                   const char *pointers, size_t pointer_count, uint32_t flags,
                                   const uint8_t *record_id, size_t record_id_len,
                                   aiosgo_err *err)
{
    aios_envelope_fields_options o;
    const char **ptrs = NULL;
    int rc;

    aiosgo_begin();
    rc = fields_opts(&o, flags, record_id, record_id_len);
    if (rc == AIOS_OK)
        rc = split_strings(&ptrs, pointers, pointer_count);
    if (rc == AIOS_OK)
        rc = aios_envelope_fields_encrypt(out, session, json, json_len, ptrs, pointer_count, &o);
    free(ptrs);
    return aiosgo_end(rc, err);
}

int aiosgo_envelope_fields_decrypt(aios_buffer **out, aios_envelope_session *const *sessions,
                                   size_t session_count, const char *json, size_t json_len,
                                   uint32_t flags, const uint8_t *record_id,
                                   size_t record_id_len, aiosgo_err *err)
{
    aios_envelope_fields_options o;
    int rc;

    aiosgo_begin();
    rc = fields_opts(&o, flags, record_id, record_id_len);
    if (rc == AIOS_OK)
        rc = aios_envelope_fields_decrypt(out, sessions, session_count, json, json_len, &o);
    return aiosgo_end(rc, err);
}

/* ------------------------------------------------------------- manifest.h */

/* aios_manifest_progress_cb -> Go (manifest.go).  It may run on the
 * library's hashing threads; cgo attaches them.  Go returns AIOS_OK to go
 * on, anything else to stop (the library then fails with
 * AIOS_E_CANCELLED). */
static int progress_trampoline(uint64_t done, uint64_t total, const char *path, void *payload)
{
    return aiosgoManifestProgress(done, total, (char *)path, (uintptr_t)payload);
}

/* The library's hash options from the Go scalars.  *ignore receives the
 * pointer array of the ignore paths (free it). */
static int mhash_opts(aios_manifest_hash_options *o, const char ***ignore,
                      const aiosgo_mhash_opts *g)
{
    int rc = aios_manifest_hash_options_init(o, AIOS_MANIFEST_HASH_OPTIONS_VERSION);
    *ignore = NULL;
    if (rc != AIOS_OK || g == NULL)
        return rc;
    o->threads = g->threads;
    o->read_size = g->read_size;
    o->flags = g->flags;
    if (g->ignore_count > 0) {
        rc = split_strings(ignore, g->ignore, g->ignore_count);
        if (rc != AIOS_OK)
            return aios_error_set(rc, "aios (Go): no memory for the ignore paths");
        o->ignore_paths = *ignore;
        o->ignore_paths_len = g->ignore_count;
    }
    if (g->progress != 0) {
        o->progress = progress_trampoline;
        o->progress_payload = (void *)g->progress;
    }
    return AIOS_OK;
}

/* ptrs[i] = data + the lengths before i. */
static int split_bytes(const uint8_t ***out, const uint8_t *data, const size_t *lens, size_t count)
{
    const uint8_t **v;
    *out = NULL;
    if (count == 0)
        return AIOS_OK;
    v = calloc(count, sizeof(*v));
    if (v == NULL)
        return aios_error_set(AIOS_E_NOMEM, "aios (Go): no memory for a certificate list");
    for (size_t i = 0; i < count; i++) {
        v[i] = data;
        data += lens[i];
    }
    *out = v;
    return AIOS_OK;
}

typedef struct msign_tmp {
    const char **ignore;
    const uint8_t **chain;
} msign_tmp;

static int msign_opts(aios_manifest_sign_options *o, const aios_manifest_sign_options **use,
                      msign_tmp *t, const aiosgo_msign_opts *g)
{
    int rc;
    *use = NULL;
    t->ignore = NULL;
    t->chain = NULL;
    if (g == NULL)
        return AIOS_OK;
    rc = aios_manifest_sign_options_init(o, AIOS_MANIFEST_SIGN_OPTIONS_VERSION);
    if (rc != AIOS_OK)
        return rc;
    o->profile = (aios_manifest_profile)g->profile;
    o->method = (aios_manifest_method)g->method;
    o->hash_type = g->hash_type;
    o->shard_size = g->shard_size;
    o->allow_symlinks = g->allow_symlinks;
    o->subject_name = g->subject_name;
    o->bundle_path = g->bundle_path;
    o->provenance_json = g->provenance_json;
    o->stat_cache_path = g->stat_cache_path;
    if (g->chain_count > 0) {
        rc = split_bytes(&t->chain, g->chain, g->chain_lens, g->chain_count);
        if (rc != AIOS_OK)
            return rc;
        o->chain_der = t->chain;
        o->chain_der_lens = g->chain_lens;
        o->chain_len = g->chain_count;
    }
    rc = mhash_opts(&o->hash, &t->ignore, &g->hash);
    if (rc != AIOS_OK)
        return rc;
    *use = o;
    return AIOS_OK;
}

static void msign_tmp_free(msign_tmp *t)
{
    free(t->ignore);
    free(t->chain);
}

static int mverify_opts(aios_manifest_verify_options *o,
                        const aios_manifest_verify_options **use, const char ***ignore,
                        const aiosgo_mverify_opts *g)
{
    int rc;
    *use = NULL;
    *ignore = NULL;
    if (g == NULL)
        return AIOS_OK;
    rc = aios_manifest_verify_options_init(o, AIOS_MANIFEST_VERIFY_OPTIONS_VERSION);
    if (rc != AIOS_OK)
        return rc;
    o->profile = (aios_manifest_profile)g->profile;
    o->time_policy = (aios_manifest_time)g->time_policy;
    o->fixed_time = g->fixed_time;
    o->flags = g->flags;
    o->bundle_max = g->bundle_max;
    o->bundle_path = g->bundle_path;
    o->stat_cache_path = g->stat_cache_path;
    rc = mhash_opts(&o->hash, ignore, &g->hash);
    if (rc != AIOS_OK)
        return rc;
    *use = o;
    return AIOS_OK;
}

int aiosgo_manifest_sign(aios_buffer **bundle_out, aios_manifest **manifest_out,
                         const char *model_path, const aios_key *key,
                         const aiosgo_msign_opts *opts, aiosgo_err *err)
{
    aios_manifest_sign_options o;
    const aios_manifest_sign_options *use;
    msign_tmp t;
    int rc;

    aiosgo_begin();
    rc = msign_opts(&o, &use, &t, opts);
    if (rc == AIOS_OK)
        rc = aios_manifest_sign(bundle_out, manifest_out, model_path, key, use);
    msign_tmp_free(&t);
    return aiosgo_end(rc, err);
}

int aiosgo_manifest_hash(aios_manifest **out, const char *model_path,
                         const aiosgo_msign_opts *opts, aiosgo_err *err)
{
    aios_manifest_sign_options o;
    const aios_manifest_sign_options *use;
    msign_tmp t;
    int rc;

    aiosgo_begin();
    rc = msign_opts(&o, &use, &t, opts);
    if (rc == AIOS_OK)
        rc = aios_manifest_hash(out, model_path, use);
    msign_tmp_free(&t);
    return aiosgo_end(rc, err);
}

int aiosgo_manifest_verify_key(aios_manifest **out, const uint8_t *bundle, size_t bundle_len,
                               const aios_key *public_key, const aiosgo_mverify_opts *opts,
                               aiosgo_err *err)
{
    aios_manifest_verify_options o;
    const aios_manifest_verify_options *use;
    const char **ignore;
    int rc;

    aiosgo_begin();
    rc = mverify_opts(&o, &use, &ignore, opts);
    if (rc == AIOS_OK)
        rc = aios_manifest_verify_key(out, bundle, bundle_len, public_key, use);
    free(ignore);
    return aiosgo_end(rc, err);
}

int aiosgo_manifest_verify_certificate(aios_manifest **out, const uint8_t *bundle,
                                       size_t bundle_len, const uint8_t *anchors,
                                       const size_t *anchor_lens, size_t anchor_count,
                                       const aiosgo_mverify_opts *opts, aiosgo_err *err)
{
    aios_manifest_verify_options o;
    const aios_manifest_verify_options *use;
    const char **ignore = NULL;
    const uint8_t **ptrs = NULL;
    int rc;

    aiosgo_begin();
    rc = split_bytes(&ptrs, anchors, anchor_lens, anchor_count);
    if (rc == AIOS_OK)
        rc = mverify_opts(&o, &use, &ignore, opts);
    if (rc == AIOS_OK)
        rc = aios_manifest_verify_certificate(out, bundle, bundle_len, ptrs,
                                              anchor_count > 0 ? anchor_lens : NULL,
                                              anchor_count, use);
    free(ignore);
    free(ptrs);
    return aiosgo_end(rc, err);
}

int aiosgo_manifest_verify_sigstore(aios_manifest **out, const uint8_t *bundle,
                                    size_t bundle_len, const uint8_t *root, size_t root_len,
                                    const char *identity, const char *oidc_issuer,
                                    const aiosgo_mverify_opts *opts, aiosgo_err *err)
{
    aios_manifest_verify_options o;
    const aios_manifest_verify_options *use;
    const char **ignore = NULL;
    int rc;

    aiosgo_begin();
    rc = mverify_opts(&o, &use, &ignore, opts);
    if (rc == AIOS_OK)
        rc = aios_manifest_verify_sigstore(out, bundle, bundle_len, root, root_len, identity,
                                           oidc_issuer, use);
    free(ignore);
    return aiosgo_end(rc, err);
}

int aiosgo_manifest_open(aios_manifest **out, const uint8_t *bundle, size_t bundle_len,
                         const aiosgo_mverify_opts *opts, aiosgo_err *err)
{
    aios_manifest_verify_options o;
    const aios_manifest_verify_options *use;
    const char **ignore;
    int rc;

    aiosgo_begin();
    rc = mverify_opts(&o, &use, &ignore, opts);
    if (rc == AIOS_OK)
        rc = aios_manifest_open(out, bundle, bundle_len, use);
    free(ignore);
    return aiosgo_end(rc, err);
}

int aiosgo_manifest_read_bundle(aios_buffer **out, const char *path,
                                const aiosgo_mverify_opts *opts, aiosgo_err *err)
{
    aios_manifest_verify_options o;
    const aios_manifest_verify_options *use;
    const char **ignore;
    int rc;

    aiosgo_begin();
    rc = mverify_opts(&o, &use, &ignore, opts);
    if (rc == AIOS_OK)
        rc = aios_manifest_read_bundle(out, path, use);
    free(ignore);
    return aiosgo_end(rc, err);
}

int aiosgo_manifest_verify_dir(const aios_manifest *m, const char *model_path,
                               aios_manifest_diff **diff_out, const aiosgo_mverify_opts *opts,
                               int compare, aiosgo_err *err)
{
    aios_manifest_verify_options o;
    const aios_manifest_verify_options *use;
    const char **ignore;
    int rc;

    aiosgo_begin();
    rc = mverify_opts(&o, &use, &ignore, opts);
    if (rc == AIOS_OK)
        rc = compare ? aios_manifest_compare_dir(m, model_path, diff_out, use)
                     : aios_manifest_verify_dir(m, model_path, diff_out, use);
    free(ignore);
    return aiosgo_end(rc, err);
}

int aiosgo_manifest_verify_file(const aios_manifest *m, int root_dirfd, const char *rel_path,
                                const aiosgo_mhash_opts *opts, aiosgo_err *err)
{
    aios_manifest_hash_options o;
    const char **ignore = NULL;
    int rc;

    aiosgo_begin();
    rc = mhash_opts(&o, &ignore, opts);
    if (rc == AIOS_OK)
        rc = aios_manifest_verify_file(m, root_dirfd, rel_path, &o);
    free(ignore);
    return aiosgo_end(rc, err);
}

int aiosgo_manifest_verify_range(const aios_manifest *m, int root_dirfd, const char *rel_path,
                                 uint64_t offset, uint64_t len, const aiosgo_mhash_opts *opts,
                                 aiosgo_err *err)
{
    aios_manifest_hash_options o;
    const char **ignore = NULL;
    int rc;

    aiosgo_begin();
    rc = mhash_opts(&o, &ignore, opts);
    if (rc == AIOS_OK)
        rc = aios_manifest_verify_range(m, root_dirfd, rel_path, offset, len, &o);
    free(ignore);
    return aiosgo_end(rc, err);
}

int aiosgo_manifest_resource_at(const aios_manifest *m, size_t i, const char **name_out,
                                uint64_t *start_out, uint64_t *end_out,
                                const uint8_t **digest_out, size_t *digest_len_out,
                                aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_manifest_resource_at(m, i, name_out, start_out, end_out, digest_out,
                                   digest_len_out);
    return aiosgo_end(rc, err);
}

int aiosgo_manifest_json(const aios_manifest *m, int which, aios_buffer **out, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    switch (which) {
    case 0:
        rc = aios_manifest_provenance_json(m, out);
        break;
    case 1:
        rc = aios_manifest_signer_json(m, out);
        break;
    default:
        rc = aios_manifest_to_json(m, out);
        break;
    }
    return aiosgo_end(rc, err);
}

int aiosgo_manifest_diff_at(const aios_manifest_diff *d, size_t i, int *kind_out,
                            const char **path_out, uint64_t *first_bad_offset_out,
                            aiosgo_err *err)
{
    aios_manifest_change k = (aios_manifest_change)0;
    int rc;
    aiosgo_begin();
    rc = aios_manifest_diff_at(d, i, &k, path_out, first_bad_offset_out);
    *kind_out = (int)k;
    return aiosgo_end(rc, err);
}

int aiosgo_manifest_diff_json(const aios_manifest_diff *d, aios_buffer **out, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_manifest_diff_json(d, out);
    return aiosgo_end(rc, err);
}

int aiosgo_manifest_stream_open(aios_manifest_stream **out, const aios_manifest *m,
                                int root_dirfd, const char *rel_path, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_manifest_stream_open(out, m, root_dirfd, rel_path);
    return aiosgo_end(rc, err);
}

int aiosgo_manifest_stream_new(aios_manifest_stream **out, const aios_manifest *m,
                               int root_dirfd, const char *rel_path, uint32_t threads,
                               aiosgo_err *err)
{
    aios_manifest_stream_options o;
    int rc;
    aiosgo_begin();
    rc = aios_manifest_stream_options_init(&o, AIOS_MANIFEST_STREAM_OPTIONS_VERSION);
    if (rc == AIOS_OK) {
        o.threads = threads;
        rc = aios_manifest_stream_new(out, m, root_dirfd, rel_path, &o);
    }
    return aiosgo_end(rc, err);
}

int aiosgo_manifest_stream_read(aios_manifest_stream *s, int verified, uint8_t *buf, size_t cap,
                                size_t *len_out, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = verified ? aios_manifest_stream_read_verified(s, buf, cap, len_out)
                  : aios_manifest_stream_read(s, buf, cap, len_out);
    return aiosgo_end(rc, err);
}

int aiosgo_manifest_stream_finish(aios_manifest_stream *s, aiosgo_err *err)
{
    int rc;
    aiosgo_begin();
    rc = aios_manifest_stream_finish(s);
    return aiosgo_end(rc, err);
}

void *aiosgo_c_malloc(size_t size)
{
    return malloc(size);
}

void aiosgo_c_free(void *ptr)
{
    free(ptr);
}
