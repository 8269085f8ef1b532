/*
 * Key handles, the live version records they share, providers, and the
 * dispatcher that checks state, purpose and limits before an operation
 * runs locally or in its provider.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "key_internal.h"
#include "../crypto/crypto.h"

/* ------------------------------------------------------------ names */

const char *aios_key_type_name(aios_key_type type)
{
    switch (type) {
    case AIOS_KEY_AES256:      return "aes256";
    case AIOS_KEY_HMAC_SHA256: return "hmac-sha256";
    case AIOS_KEY_BLAKE2B:     return "blake2b";
    case AIOS_KEY_ED25519:     return "ed25519";
    case AIOS_KEY_ECDSA_P256:  return "ecdsa-p256";
    case AIOS_KEY_ECDSA_P384:  return "ecdsa-p384";
    case AIOS_KEY_X25519:      return "x25519";
    case AIOS_KEY_RSA:         return "rsa";
    case AIOS_KEY_ECDSA_P521:  return "ecdsa-p521";
    case AIOS_KEY_TYPE__FORCE32: break;
    }
    return NULL;
}

const char *aios_key_state_name(aios_key_state state)
{
    switch (state) {
    case AIOS_KEY_ACTIVE:       return "active";
    case AIOS_KEY_DECRYPT_ONLY: return "decrypt-only";
    case AIOS_KEY_DISABLED:     return "disabled";
    case AIOS_KEY_DESTROYED:    return "destroyed";
    case AIOS_KEY_PENDING:      return "pending";
    case AIOS_KEY_STATE__FORCE32: break;
    }
    return NULL;
}

int aios__key_type_valid(aios_key_type type)
{
    return aios_key_type_name(type) != NULL;
}

uint32_t aios__key_type_allowed(aios_key_type type)
{
    switch (type) {
    case AIOS_KEY_AES256:      return AIOS_KEY_USE_WRAP;
    case AIOS_KEY_HMAC_SHA256:
    case AIOS_KEY_BLAKE2B:     return AIOS_KEY_USE_MAC;
    case AIOS_KEY_ED25519:
    case AIOS_KEY_ECDSA_P256:
    case AIOS_KEY_ECDSA_P384:
    case AIOS_KEY_ECDSA_P521:  return AIOS_KEY_USE_SIGN | AIOS_KEY_USE_VERIFY;
    case AIOS_KEY_X25519:      return AIOS_KEY_USE_DERIVE;
    case AIOS_KEY_RSA:         return AIOS_KEY_USE_WRAP;
    case AIOS_KEY_TYPE__FORCE32: break;
    }
    return 0;
}

int aios__key_type_local(aios_key_type type)
{
    switch (type) {
    case AIOS_KEY_AES256:
    case AIOS_KEY_HMAC_SHA256:
    case AIOS_KEY_BLAKE2B:
    case AIOS_KEY_ED25519:
    case AIOS_KEY_ECDSA_P256:
    case AIOS_KEY_ECDSA_P384:
    case AIOS_KEY_ECDSA_P521:
    case AIOS_KEY_X25519:      return 1;
    case AIOS_KEY_RSA:         /* only ever in a PKCS#11 token */
    case AIOS_KEY_TYPE__FORCE32: break;
    }
    return 0;
}

uint32_t aios__key_type_natural(aios_key_type type)
{
    return aios__key_type_allowed(type);
}

/* ------------------------------------------------------------ checks */

int aios__key_id_check(const char *key_id)
{
    size_t n;
    if (key_id == NULL)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "key id is NULL");
    n = strlen(key_id);
    if (n == 0 || n > AIOS__KEY_ID_MAX_LEN)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "key id must be 1..%d bytes, not %zu",
                          AIOS__KEY_ID_MAX_LEN, n);
    if (!aios__utf8_valid((const uint8_t *)key_id, n))
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "key id is not valid UTF-8");
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)key_id[i] < 0x20 || key_id[i] == 0x7f)
            return aios__fail(AIOS_E_INVALID_ARGUMENT,
                              "key id has a control character at byte %zu", i);
    }
    return AIOS_OK;
}

int aios__attrs_check(const aios_key_attribute_pair *attrs, size_t n)
{
    if (n > AIOS__ATTR_COUNT_MAX)
        return aios__fail(AIOS_E_LIMIT, "%zu attributes: at most %d", n, AIOS__ATTR_COUNT_MAX);
    if (n > 0 && attrs == NULL)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "attributes is NULL with a count of %zu", n);
    for (size_t i = 0; i < n; i++) {
        const char *name = attrs[i].name, *value = attrs[i].value;
        size_t nl, vl;
        if (name == NULL || value == NULL)
            return aios__fail(AIOS_E_INVALID_ARGUMENT, "attribute %zu has a NULL name or value", i);
        nl = strlen(name);
        vl = strlen(value);
        if (nl == 0 || nl > AIOS__ATTR_NAME_MAX)
            return aios__fail(AIOS_E_INVALID_ARGUMENT, "attribute name must be 1..%d bytes",
                              AIOS__ATTR_NAME_MAX);
        if (vl > AIOS__ATTR_VALUE_MAX)
            return aios__fail(AIOS_E_LIMIT, "attribute '%s': value over %d bytes", name,
                              AIOS__ATTR_VALUE_MAX);
        if (!aios__utf8_valid((const uint8_t *)name, nl) ||
            !aios__utf8_valid((const uint8_t *)value, vl))
            return aios__fail(AIOS_E_INVALID_ARGUMENT, "attribute %zu is not valid UTF-8", i);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(attrs[j].name, name) == 0)
                return aios__fail(AIOS_E_INVALID_ARGUMENT, "attribute '%s' given twice", name);
        }
    }
    return AIOS_OK;
}

/* ------------------------------------------------------------ keyver */

int aios__keyver_new(aios__keyver **out, aios_key_state state,
                     const uint8_t *material, size_t material_len,
                     const uint8_t *public_raw, size_t public_len,
                     uint64_t max_uses, int64_t not_after)
{
    aios__keyver *v;

    *out = NULL;
    if (material_len > AIOS__MATERIAL_MAX || public_len > AIOS__PUBLIC_MAX)
        return aios__fail(AIOS_E_INTERNAL, "key material of an unexpected size");
    v = aios__calloc(1, sizeof(*v));
    if (!v)
        return aios__nomem("a key version");
    if (pthread_rwlock_init(&v->lock, NULL) != 0) {
        aios__free(v);
        return aios__fail(AIOS_E_INTERNAL, "pthread_rwlock_init failed");
    }
    if (material_len > 0) {
        v->material = aios__secure_malloc(material_len);
        if (!v->material) {
            pthread_rwlock_destroy(&v->lock);
            aios__free(v);
            return aios__fail(AIOS_E_NOMEM, "cannot allocate secure memory for a key");
        }
        memcpy(v->material, material, material_len);
        /* Read-only from now on; destroy makes it writable to wipe it. */
        (void)aios__secure_protect(v->material, AIOS_PROTECT_READONLY);
        v->material_len = material_len;
    }
    if (public_len > 0)
        memcpy(v->public_raw, public_raw, public_len);
    v->public_len = public_len;
    v->max_uses = max_uses;
    v->not_after = not_after;
    atomic_init(&v->state, (int)state);
    atomic_init(&v->uses, 0);
    atomic_init(&v->refs, 1);
    atomic_init(&v->wrap_key, NULL);
    *out = v;
    return AIOS_OK;
}

aios__keyver *aios__keyver_ref(aios__keyver *v)
{
    if (v)
        atomic_fetch_add(&v->refs, 1);
    return v;
}

static void keyver_wipe_material(aios__keyver *v)
{
    aios__aead_key_free(atomic_exchange(&v->wrap_key, NULL));
    if (v->material) {
        (void)aios__secure_protect(v->material, AIOS_PROTECT_READWRITE);
        aios__secure_free(v->material);   /* wipes */
        v->material = NULL;
        v->material_len = 0;
    }
}

void aios__keyver_unref(aios__keyver *v)
{
    if (!v || atomic_fetch_sub(&v->refs, 1) != 1)
        return;
    keyver_wipe_material(v);
    pthread_rwlock_destroy(&v->lock);
    aios__free(v);
}

void aios__keyver_set_state(aios__keyver *v, aios_key_state state)
{
    /* A destroyed version stays destroyed. */
    int cur = atomic_load(&v->state);
    while (cur != AIOS_KEY_DESTROYED &&
           !atomic_compare_exchange_weak(&v->state, &cur, (int)state))
        ;
}

void aios__keyver_destroy(aios__keyver *v)
{
    pthread_rwlock_wrlock(&v->lock);
    atomic_store(&v->state, AIOS_KEY_DESTROYED);
    keyver_wipe_material(v);
    pthread_rwlock_unlock(&v->lock);
}

/* ---------------------------------------------------------- provider */

int aios__provider_new(aios_provider **out, const char *name, const aios__provider_vt *vt,
                       void *impl)
{
    aios_provider *p;
    size_t n = strlen(name);

    *out = NULL;
    if (n == 0 || n > AIOS__PROVIDER_NAME_MAX)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "provider name must be 1..%d bytes",
                          AIOS__PROVIDER_NAME_MAX);
    p = aios__calloc(1, sizeof(*p));
    if (!p)
        return aios__nomem("a provider");
    memcpy(p->name, name, n + 1);
    p->vt = vt;
    p->impl = impl;
    atomic_init(&p->refs, 1);
    *out = p;
    return AIOS_OK;
}

/* The "public" provider: static, its refcount never reaches zero. */
static const aios__provider_vt public_vt = { NULL, NULL, NULL, NULL, NULL, NULL };
static aios_provider public_provider = { 1, "public", &public_vt, NULL };

aios_provider *aios__provider_public(void)
{
    return &public_provider;
}

aios_provider *aios_provider_ref(aios_provider *p)
{
    if (p)
        atomic_fetch_add(&p->refs, 1);
    return p;
}

void aios_provider_unref(aios_provider *p)
{
    if (!p || p == &public_provider || atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    if (p->vt && p->vt->destroy)
        p->vt->destroy(p);
    aios__free(p);
}

const char *aios_provider_name(const aios_provider *p)
{
    return p ? p->name : NULL;
}

int aios_provider_get_key(aios_provider *p, aios_key **key_out, const char *key_id,
                          uint32_t version)
{
    int rc;
    AIOS__CHECK_ARG(key_out != NULL, "key_out is NULL");
    *key_out = NULL;
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    AIOS__CHECK_ARG(p != NULL, "provider is NULL");
    if ((rc = aios__key_id_check(key_id)) != AIOS_OK)
        return rc;
    if (!p->vt || !p->vt->get_key)
        return aios__fail(AIOS_E_UNSUPPORTED, "provider '%s' cannot look up keys by id", p->name);
    return p->vt->get_key(p, key_out, key_id, version);
}

/* -------------------------------------------------------------- keys */

static int attr_cmp(const void *a, const void *b)
{
    return strcmp(((const aios__attr *)a)->name, ((const aios__attr *)b)->name);
}

static void key_free(aios_key *k)
{
    if (k->prov_data && k->provider && k->provider->vt && k->provider->vt->key_free)
        k->provider->vt->key_free(k->prov_data);
    for (size_t i = 0; i < k->nattrs; i++) {
        aios__free(k->attrs[i].name);
        aios__free(k->attrs[i].value);
    }
    aios__free(k->attrs);
    aios__free(k->id);
    aios__keyver_unref(k->ver);
    aios_provider_unref(k->provider);
    aios__free(k);
}

int aios__key_new(aios_key **out, aios_provider *provider, const aios__key_desc *desc,
                  aios__keyver *ver, void *prov_data)
{
    aios_key *k;
    int rc;

    *out = NULL;
    if ((rc = aios__key_id_check(desc->key_id)) != AIOS_OK)
        return rc;
    if ((rc = aios__attrs_check(desc->attrs, desc->nattrs)) != AIOS_OK)
        return rc;
    if (!aios__key_type_valid(desc->type))
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "unknown key type %d", (int)desc->type);
    if (desc->purposes & ~aios__key_type_allowed(desc->type))
        return aios__fail(AIOS_E_KEY_USAGE, "key '%s': purposes 0x%x are not allowed for %s",
                          desc->key_id, (unsigned)desc->purposes,
                          aios_key_type_name(desc->type));
    k = aios__calloc(1, sizeof(*k));
    if (!k)
        return aios__nomem("a key handle");
    atomic_init(&k->refs, 1);
    k->id = aios__strdup(desc->key_id);
    if (!k->id)
        goto nomem;
    if (desc->nattrs > 0) {
        k->attrs = aios__calloc(desc->nattrs, sizeof(*k->attrs));
        if (!k->attrs)
            goto nomem;
        for (size_t i = 0; i < desc->nattrs; i++) {
            k->attrs[i].name = aios__strdup(desc->attrs[i].name);
            k->attrs[i].value = aios__strdup(desc->attrs[i].value);
            k->nattrs = i + 1;
            if (!k->attrs[i].name || !k->attrs[i].value)
                goto nomem;
        }
        qsort(k->attrs, k->nattrs, sizeof(*k->attrs), attr_cmp);
    }
    k->version = desc->version;
    k->type = desc->type;
    k->purposes = desc->purposes;
    k->exportable = desc->exportable ? 1 : 0;
    k->created_at = desc->created_at;
    k->provider = aios_provider_ref(provider);
    k->ver = aios__keyver_ref(ver);
    k->prov_data = prov_data;
    *out = k;
    return AIOS_OK;

nomem:
    k->prov_data = NULL;      /* stays the caller's on failure */
    key_free(k);
    return aios__nomem("a key handle");
}

aios_key *aios_key_ref(aios_key *key)
{
    if (key)
        atomic_fetch_add(&key->refs, 1);
    return key;
}

void aios_key_unref(aios_key *key)
{
    if (key && atomic_fetch_sub(&key->refs, 1) == 1)
        key_free(key);
}

const char *aios_key_id(const aios_key *key)            { return key ? key->id : NULL; }
uint32_t aios_key_version(const aios_key *key)          { return key ? key->version : 0; }
aios_key_type aios_key_get_type(const aios_key *key)    { return key ? key->type : (aios_key_type)0; }
uint32_t aios_key_purposes(const aios_key *key)         { return key ? key->purposes : 0; }
int64_t aios_key_created_at(const aios_key *key)        { return key ? key->created_at : 0; }
int aios_key_exportable(const aios_key *key)            { return key ? key->exportable : 0; }

aios_key_state aios_key_get_state(const aios_key *key)
{
    return key ? (aios_key_state)atomic_load(&key->ver->state) : (aios_key_state)0;
}

const char *aios_key_provider_name(const aios_key *key)
{
    return key ? key->provider->name : NULL;
}

const char *aios_key_attribute(const aios_key *key, const char *name)
{
    if (!key || !name)
        return NULL;
    for (size_t i = 0; i < key->nattrs; i++)
        if (strcmp(key->attrs[i].name, name) == 0)
            return key->attrs[i].value;
    return NULL;
}

size_t aios_key_attribute_count(const aios_key *key)
{
    return key ? key->nattrs : 0;
}

int aios_key_attribute_at(const aios_key *key, size_t index, const char **name_out,
                          const char **value_out)
{
    AIOS__CHECK_ARG(key != NULL, "key is NULL");
    if (index >= key->nattrs)
        return aios__fail(AIOS_E_NOT_FOUND, "key '%s' has %zu attributes, no index %zu",
                          key->id, key->nattrs, index);
    if (name_out)
        *name_out = key->attrs[index].name;
    if (value_out)
        *value_out = key->attrs[index].value;
    return AIOS_OK;
}

/* ------------------------------------------------------------- clock */

static int64_t real_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

static int64_t (*_Atomic key_clock)(void) = real_clock;

int64_t aios__key_now(void)
{
    return atomic_load(&key_clock)();
}

void aios__key_set_clock_for_testing(int64_t (*clock_fn)(void))
{
    atomic_store(&key_clock, clock_fn ? clock_fn : real_clock);
}

/* -------------------------------------------------------- dispatcher */

typedef enum key_op {
    OP_WRAP, OP_UNWRAP, OP_SIGN, OP_VERIFY, OP_MAC, OP_AGREE, OP_EXPORT, OP_PUBLIC, OP_SEAL_TO
} key_op;

static const char *const op_names[] = {
    "wrap", "unwrap", "sign", "verify", "mac", "agree", "export", "public key", "be sealed to"
};

static uint32_t op_purpose(key_op op)
{
    switch (op) {
    case OP_WRAP:
    case OP_UNWRAP: return AIOS_KEY_USE_WRAP;
    case OP_SIGN:   return AIOS_KEY_USE_SIGN;
    case OP_VERIFY: return AIOS_KEY_USE_VERIFY;
    case OP_MAC:    return AIOS_KEY_USE_MAC;
    case OP_AGREE:  return AIOS_KEY_USE_DERIVE;
    case OP_EXPORT:
    case OP_PUBLIC:
    case OP_SEAL_TO: return 0;   /* the caller checks the key type */
    }
    return 0;
}

/* Whether op produces new protected data (needs a current version). */
static int op_is_forward(key_op op)
{
    return op == OP_WRAP || op == OP_SIGN || op == OP_SEAL_TO;
}

/* The state check alone, so it can run again under the material lock. */
static int check_state(const aios_key *k, key_op op)
{
    int state = atomic_load(&k->ver->state);
    switch (state) {
    case AIOS_KEY_DESTROYED:
        /* The public half of a destroyed key pair still verifies old
         * signatures; nothing secret is left to use. */
        if (op == OP_VERIFY || op == OP_PUBLIC)
            return AIOS_OK;
        return aios__fail(AIOS_E_KEY_DESTROYED, "key '%s' version %u was destroyed: cannot %s",
                          k->id, k->version, op_names[op]);
    case AIOS_KEY_DISABLED:
        if (op == OP_PUBLIC)
            return AIOS_OK;
        return aios__fail(AIOS_E_KEY_DISABLED, "key '%s' version %u is disabled: cannot %s",
                          k->id, k->version, op_names[op]);
    case AIOS_KEY_DECRYPT_ONLY:
    case AIOS_KEY_PENDING:
        if (op_is_forward(op))
            return aios__fail(AIOS_E_KEY_DECRYPT_ONLY,
                              "key '%s' version %u is %s: it can no longer %s (use the primary)",
                              k->id, k->version, aios_key_state_name((aios_key_state)state),
                              op_names[op]);
        return AIOS_OK;
    case AIOS_KEY_ACTIVE:
        return AIOS_OK;
    default:
        return aios__fail(AIOS_E_INTERNAL, "key '%s' has an unknown state %d", k->id, state);
    }
}

static int check_op(const aios_key *k, key_op op)
{
    int rc;
    uint32_t need = op_purpose(op);

    if ((rc = check_state(k, op)) != AIOS_OK)
        return rc;
    if (need && !(k->purposes & need))
        return aios__fail(AIOS_E_KEY_USAGE, "key '%s' (%s) is not for %s", k->id,
                          aios_key_type_name(k->type), op_names[op]);
    if (op == OP_EXPORT && !k->exportable)
        return aios__fail(AIOS_E_KEY_NOT_EXPORTABLE, "key '%s' is not exportable", k->id);
    if (op_is_forward(op) && k->ver->not_after != 0 && aios__key_now() > k->ver->not_after)
        return aios__fail(AIOS_E_KEY_EXPIRED, "key '%s' version %u expired at %lld: cannot %s",
                          k->id, k->version, (long long)k->ver->not_after, op_names[op]);
    if ((op_is_forward(op) || op == OP_MAC) && k->ver->max_uses != 0) {
        uint64_t n = atomic_fetch_add(&k->ver->uses, 1) + 1;
        if (n > k->ver->max_uses) {
            atomic_fetch_sub(&k->ver->uses, 1);
            return aios__fail(AIOS_E_KEY_USAGE_LIMIT,
                              "key '%s' version %u has used its %llu operations", k->id,
                              k->version, (unsigned long long)k->ver->max_uses);
        }
    } else if (op_is_forward(op) || op == OP_MAC) {
        atomic_fetch_add(&k->ver->uses, 1);
    }
    return AIOS_OK;
}

/* Hold the material for an operation: read lock, state checked again
 * (a destroy may have run since check_op), material present. */
static int material_lock(const aios_key *k, key_op op)
{
    int rc;
    pthread_rwlock_rdlock(&k->ver->lock);
    if ((rc = check_state(k, op)) != AIOS_OK) {
        pthread_rwlock_unlock(&k->ver->lock);
        return rc;
    }
    if (k->ver->material == NULL) {
        pthread_rwlock_unlock(&k->ver->lock);
        return aios__fail(AIOS_E_KEY_USAGE, "key '%s' (provider %s) holds no secret here: cannot %s",
                          k->id, k->provider->name, op_names[op]);
    }
    return AIOS_OK;
}

int aios__key_use_seal_to(const aios_key *k)
{
    AIOS__CHECK_ARG(k != NULL, "key is NULL");
    return check_op(k, OP_SEAL_TO);
}

static void material_unlock(const aios_key *k)
{
    pthread_rwlock_unlock(&k->ver->lock);
}

#define KEY_ENTRY(key, out_ptr)                                             \
    do {                                                                    \
        int rc_ = aios__ensure_init();                                      \
        if (rc_ != AIOS_OK) return rc_;                                     \
        AIOS__CHECK_ARG((key) != NULL, "key is NULL");                      \
    } while (0)

int aios_key_wrap(const aios_key *kek, aios_buffer **wrapped_out, const uint8_t *data_key,
                  size_t data_key_len, const uint8_t *ad, size_t ad_len)
{
    int rc;
    AIOS__CHECK_ARG(wrapped_out != NULL, "wrapped_out is NULL");
    *wrapped_out = NULL;
    KEY_ENTRY(kek, wrapped_out);
    AIOS__CHECK_ARG(data_key != NULL, "data_key is NULL");
    AIOS__CHECK_ARG(ad != NULL || ad_len == 0, "ad is NULL with a nonzero length");
    if (data_key_len == 0 || data_key_len > AIOS_KEY_DATA_KEY_MAX)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "a data key is 1..%d bytes, not %zu",
                          AIOS_KEY_DATA_KEY_MAX, data_key_len);
    if ((rc = check_op(kek, OP_WRAP)) != AIOS_OK)
        return rc;
    if (kek->provider->vt && kek->provider->vt->wrap)
        return kek->provider->vt->wrap(kek, wrapped_out, data_key, data_key_len, ad, ad_len);
    if ((rc = material_lock(kek, OP_WRAP)) != AIOS_OK)
        return rc;
    rc = aios__local_wrap(kek, wrapped_out, data_key, data_key_len, ad, ad_len);
    material_unlock(kek);
    return rc;
}

int aios_key_unwrap(const aios_key *kek, aios_buffer **data_key_out, const uint8_t *wrapped,
                    size_t wrapped_len, const uint8_t *ad, size_t ad_len)
{
    int rc;
    AIOS__CHECK_ARG(data_key_out != NULL, "data_key_out is NULL");
    *data_key_out = NULL;
    KEY_ENTRY(kek, data_key_out);
    AIOS__CHECK_ARG(wrapped != NULL || wrapped_len == 0, "wrapped is NULL");
    AIOS__CHECK_ARG(ad != NULL || ad_len == 0, "ad is NULL with a nonzero length");
    if (wrapped_len > AIOS_KEY_WRAPPED_MAX)
        return aios__fail(AIOS_E_FORMAT, "a wrapped key of %zu bytes is over %d", wrapped_len,
                          AIOS_KEY_WRAPPED_MAX);
    if ((rc = check_op(kek, OP_UNWRAP)) != AIOS_OK)
        return rc;
    if (kek->provider->vt && kek->provider->vt->unwrap)
        return kek->provider->vt->unwrap(kek, data_key_out, wrapped, wrapped_len, ad, ad_len);
    if ((rc = material_lock(kek, OP_UNWRAP)) != AIOS_OK)
        return rc;
    rc = aios__local_unwrap(kek, data_key_out, wrapped, wrapped_len, ad, ad_len);
    material_unlock(kek);
    return rc;
}

int aios_key_sign(const aios_key *key, aios_buffer **sig_out, const uint8_t *msg, size_t msg_len)
{
    int rc;
    AIOS__CHECK_ARG(sig_out != NULL, "sig_out is NULL");
    *sig_out = NULL;
    KEY_ENTRY(key, sig_out);
    AIOS__CHECK_ARG(msg != NULL || msg_len == 0, "msg is NULL with a nonzero length");
    if ((rc = check_op(key, OP_SIGN)) != AIOS_OK)
        return rc;
    if (key->provider->vt && key->provider->vt->sign)
        return key->provider->vt->sign(key, sig_out, msg, msg_len);
    if ((rc = material_lock(key, OP_SIGN)) != AIOS_OK)
        return rc;
    rc = aios__local_sign(key, sig_out, msg, msg_len);
    material_unlock(key);
    return rc;
}

int aios_key_verify(const aios_key *key, const uint8_t *sig, size_t sig_len,
                    const uint8_t *msg, size_t msg_len)
{
    int rc;
    KEY_ENTRY(key, NULL);
    AIOS__CHECK_ARG(sig != NULL || sig_len == 0, "sig is NULL with a nonzero length");
    AIOS__CHECK_ARG(msg != NULL || msg_len == 0, "msg is NULL with a nonzero length");
    if ((rc = check_op(key, OP_VERIFY)) != AIOS_OK)
        return rc;
    if (key->ver->public_len == 0)
        return aios__fail(AIOS_E_KEY_USAGE, "key '%s' has no public key to verify with", key->id);
    return aios__public_verify(key, sig, sig_len, msg, msg_len);
}

int aios_key_mac(const aios_key *key, uint8_t out[AIOS_KEY_MAC_LEN], const uint8_t *msg,
                 size_t msg_len)
{
    int rc;
    KEY_ENTRY(key, out);
    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    AIOS__CHECK_ARG(msg != NULL || msg_len == 0, "msg is NULL with a nonzero length");
    if ((rc = check_op(key, OP_MAC)) != AIOS_OK)
        return rc;
    if ((rc = material_lock(key, OP_MAC)) != AIOS_OK)
        return rc;
    rc = aios__local_mac(key, out, msg, msg_len);
    material_unlock(key);
    return rc;
}

int aios_key_agree(const aios_key *key, aios_buffer **shared_out, const uint8_t *peer_public,
                   size_t peer_public_len)
{
    int rc;
    AIOS__CHECK_ARG(shared_out != NULL, "shared_out is NULL");
    *shared_out = NULL;
    KEY_ENTRY(key, shared_out);
    AIOS__CHECK_ARG(peer_public != NULL, "peer_public is NULL");
    if ((rc = check_op(key, OP_AGREE)) != AIOS_OK)
        return rc;
    if ((rc = material_lock(key, OP_AGREE)) != AIOS_OK)
        return rc;
    rc = aios__local_agree(key, shared_out, peer_public, peer_public_len);
    material_unlock(key);
    return rc;
}

int aios_key_export(const aios_key *key, aios_buffer **secret_out)
{
    int rc;
    AIOS__CHECK_ARG(secret_out != NULL, "secret_out is NULL");
    *secret_out = NULL;
    KEY_ENTRY(key, secret_out);
    if ((rc = check_op(key, OP_EXPORT)) != AIOS_OK)
        return rc;
    if ((rc = material_lock(key, OP_EXPORT)) != AIOS_OK)
        return rc;
    rc = aios__local_export(key, secret_out);
    material_unlock(key);
    return rc;
}

int aios_key_public_raw(const aios_key *key, aios_buffer **raw_out)
{
    int rc;
    AIOS__CHECK_ARG(raw_out != NULL, "raw_out is NULL");
    *raw_out = NULL;
    KEY_ENTRY(key, raw_out);
    if ((rc = check_op(key, OP_PUBLIC)) != AIOS_OK)
        return rc;
    if (key->ver->public_len == 0)
        return aios__fail(AIOS_E_KEY_USAGE, "key '%s' (%s) has no public key", key->id,
                          aios_key_type_name(key->type));
    if ((rc = aios__buffer_new(raw_out, key->ver->public_len, 0)) != AIOS_OK)
        return rc;
    memcpy(aios_buffer_data_mut(*raw_out), key->ver->public_raw, key->ver->public_len);
    return AIOS_OK;
}

int aios_key_public_pem(const aios_key *key, aios_buffer **pem_out)
{
    int rc;
    AIOS__CHECK_ARG(pem_out != NULL, "pem_out is NULL");
    *pem_out = NULL;
    KEY_ENTRY(key, pem_out);
    if ((rc = check_op(key, OP_PUBLIC)) != AIOS_OK)
        return rc;
    if (key->ver->public_len == 0)
        return aios__fail(AIOS_E_KEY_USAGE, "key '%s' (%s) has no public key", key->id,
                          aios_key_type_name(key->type));
    return aios__public_pem(key, pem_out);
}
