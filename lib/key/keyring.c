/*
 * The keyring: the "local" provider.  A file of named keys and their
 * versions (keyring_file.c holds the format), held in memory as a model
 * whose versions share aios__keyver records with the handles handed out,
 * so state changes and destroys reach those handles.
 *
 * Every change follows one pattern, under the keyring's write lock:
 * change the model (never the keyvers), write the whole file atomically
 * and durably, then either push the new states to the keyvers (success)
 * or put the model back as it was (failure), so memory and disk agree
 * and no handle ever sees a state that did not reach the disk.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keyring_internal.h"

/* The provider's link to its keyring: handles may outlive the keyring and
 * keep the provider alive; the keyring clears the link when it is freed. */
typedef struct kr_link {
    pthread_rwlock_t lock;
    aios_keyring    *kr;
} kr_link;

struct aios_keyring {
    pthread_rwlock_t lock;          /* readers: get, list; writer: changes, reload */
    char            *path;
    int              lock_fd;       /* the writer lock, -1 when read-only */
    uint32_t         flags;
    aios__kr_header  hdr;
    aios__aead_key  *dk;            /* the data key */
    aios__kr_model   m;
    aios_provider   *provider;
    kr_link         *link;
};

/* ------------------------------------------------------------ options */

static const size_t keyring_options_sizes[] = { sizeof(aios_keyring_options) };
static const size_t key_spec_sizes[] = { sizeof(aios_key_spec) };

int aios_keyring_options_init(aios_keyring_options *opts, unsigned int version)
{
    AIOS__CHECK_ARG(opts != NULL, "opts is NULL");
    if (version == 0 || version > AIOS_KEYRING_OPTIONS_VERSION)
        return aios__fail(AIOS_E_VERSION, "aios_keyring_options_init: version %u is not one this "
                          "library knows (1..%d)", version, AIOS_KEYRING_OPTIONS_VERSION);
    memset(opts, 0, keyring_options_sizes[version - 1]);
    opts->version = version;
    opts->unlock = AIOS_KEYRING_UNLOCK_PASSPHRASE;
    return AIOS_OK;
}

int aios_key_spec_init(aios_key_spec *spec, unsigned int version)
{
    AIOS__CHECK_ARG(spec != NULL, "spec is NULL");
    if (version == 0 || version > AIOS_KEY_SPEC_VERSION)
        return aios__fail(AIOS_E_VERSION, "aios_key_spec_init: version %u is not one this library "
                          "knows (1..%d)", version, AIOS_KEY_SPEC_VERSION);
    memset(spec, 0, key_spec_sizes[version - 1]);
    spec->version = version;
    return AIOS_OK;
}

static int options_get(aios_keyring_options *o, const aios_keyring_options *in, int create,
                       const char *fn)
{
    int rc = aios__options_copy(o, sizeof(*o), in, keyring_options_sizes, 1,
                                "aios_keyring_options");
    if (rc != AIOS_OK)
        return rc;
    if (!in)
        o->unlock = AIOS_KEYRING_UNLOCK_PASSPHRASE;
    switch (o->unlock) {
    case AIOS_KEYRING_UNLOCK_PASSPHRASE:
        if (!o->secret || o->secret_len == 0)
            return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: a passphrase is required (secret)", fn);
        break;
    case AIOS_KEYRING_UNLOCK_RAW_KEY:
        if (!o->secret || o->secret_len != AIOS__KR_DATA_KEY_LEN)
            return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: a raw master key is %d bytes, not %zu",
                              fn, AIOS__KR_DATA_KEY_LEN, o->secret ? o->secret_len : 0);
        break;
    case AIOS_KEYRING_UNLOCK_PKCS11:
        if (!o->pkcs11_uri)
            return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: PKCS#11 unlock needs pkcs11_uri", fn);
        break;
    case AIOS_KEYRING_UNLOCK__FORCE32:
    default:
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: unknown unlock method %d", fn,
                          (int)o->unlock);
    }
    if (o->flags & ~AIOS_KEYRING_READ_ONLY)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: unknown flags 0x%x", fn,
                          (unsigned)(o->flags & ~AIOS_KEYRING_READ_ONLY));
    if (!create)
        return AIOS_OK;
    if (o->flags & AIOS_KEYRING_READ_ONLY)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: cannot create a keyring read-only", fn);
    if (o->unlock == AIOS_KEYRING_UNLOCK_PASSPHRASE) {
        if (o->argon2_opslimit == 0)
            o->argon2_opslimit = AIOS__KR_OPSLIMIT_DEFAULT;
        if (o->argon2_memlimit == 0)
            o->argon2_memlimit = AIOS__KR_MEMLIMIT_DEFAULT;
        if (o->argon2_opslimit > AIOS__KR_OPSLIMIT_MAX)
            return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: argon2_opslimit %llu is over %d", fn,
                              (unsigned long long)o->argon2_opslimit, AIOS__KR_OPSLIMIT_MAX);
        if (o->argon2_memlimit < AIOS__KR_MEMLIMIT_MIN ||
            o->argon2_memlimit > AIOS__KR_MEMLIMIT_MAX)
            return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: argon2_memlimit %llu is outside "
                              "%d..%llu bytes", fn, (unsigned long long)o->argon2_memlimit,
                              AIOS__KR_MEMLIMIT_MIN, (unsigned long long)AIOS__KR_MEMLIMIT_MAX);
    }
    return AIOS_OK;
}

/* ----------------------------------------------------------- provider */

static int kr_get(aios_keyring *kr, aios_key **out, const char *key_id, uint32_t version);

static int provider_get_key(aios_provider *p, aios_key **out, const char *key_id,
                            uint32_t version)
{
    kr_link *l = p->impl;
    int rc;
    pthread_rwlock_rdlock(&l->lock);
    if (!l->kr)
        rc = aios__fail(AIOS_E_STATE, "provider local: its keyring was closed; key '%s' cannot "
                        "be looked up", key_id);
    else
        rc = kr_get(l->kr, out, key_id, version);
    pthread_rwlock_unlock(&l->lock);
    return rc;
}

static void provider_destroy(aios_provider *p)
{
    kr_link *l = p->impl;
    if (l) {
        pthread_rwlock_destroy(&l->lock);
        aios__free(l);
    }
}

static const aios__provider_vt keyring_vt = {
    provider_get_key, NULL, NULL, NULL, NULL, provider_destroy
};

aios_provider *aios_keyring_provider(aios_keyring *kr)
{
    return kr ? kr->provider : NULL;
}

/* ------------------------------------------------------------- helpers */

/* Creation times are stored as unix seconds >= 0. */
static int64_t kr_now(void)
{
    int64_t t = aios__key_now();
    return t < 0 ? 0 : t;
}

static void kr_release(aios_keyring *kr)
{
    if (kr->link) {
        pthread_rwlock_wrlock(&kr->link->lock);
        kr->link->kr = NULL;
        pthread_rwlock_unlock(&kr->link->lock);
    }
    if (kr->provider) {
        aios_provider_unref(kr->provider);    /* frees the link with the last handle */
    } else if (kr->link) {
        pthread_rwlock_destroy(&kr->link->lock);
        aios__free(kr->link);
    }
    aios__kr_model_clear(&kr->m);
    aios__aead_key_free(kr->dk);
    if (kr->lock_fd >= 0)
        close(kr->lock_fd);                   /* releases the writer lock */
    aios__free(kr->path);
    pthread_rwlock_destroy(&kr->lock);
    aios__free(kr);
}

void aios_keyring_free(aios_keyring *kr)
{
    if (kr)
        kr_release(kr);
}

static int kr_writable(const aios_keyring *kr, const char *fn)
{
    if (kr->flags & AIOS_KEYRING_READ_ONLY)
        return aios__fail(AIOS_E_STATE, "%s: keyring %s was opened read-only", fn, kr->path);
    if (kr->m.has_unknown || kr->hdr.has_unknown)
        return aios__fail(AIOS_E_VERSION, "%s: keyring %s was written by a newer libaios (it has "
                          "fields this version does not know); change it with that version", fn,
                          kr->path);
    return AIOS_OK;
}

/* Write the model (generation + 1).  *committed: the file now holds it. */
static int kr_commit(aios_keyring *kr, int create, int *committed)
{
    aios__kr_header h = kr->hdr;
    aios_buffer *file = NULL;
    int rc;

    *committed = 0;
    if (kr->m.generation == UINT64_MAX)
        return aios__fail(AIOS_E_LIMIT, "keyring %s: the generation counter is exhausted",
                          kr->path);
    kr->m.generation++;
    rc = aios__kr_file_encode(&file, &h, kr->dk, &kr->m);
    if (rc == AIOS_OK)
        rc = aios__kr_write_file(kr->path, aios_buffer_data(file), aios_buffer_len(file), create,
                                 committed);
    aios_buffer_free(file);
    if (*committed)
        kr->hdr = h;
    else
        kr->m.generation--;
    return rc;
}

/* Push the model's states to the keyvers that handles share. */
static void kr_sync_key(const aios__kr_key *k)
{
    for (size_t i = 0; i < k->nversions; i++) {
        const aios__kr_version *v = &k->versions[i];
        if (v->state == AIOS_KEY_DESTROYED) {
            if (v->kv->material || atomic_load(&v->kv->state) != AIOS_KEY_DESTROYED)
                aios__keyver_destroy(v->kv);
        } else if (atomic_load(&v->kv->state) != (int)v->state) {
            aios__keyver_set_state(v->kv, v->state);
        }
    }
}

/* What a change to one key may need to undo. */
typedef struct kr_snap {
    uint32_t        primary, min_decrypt;
    size_t          nversions;
    aios_key_state *states;
} kr_snap;

static int snap_take(kr_snap *s, const aios__kr_key *k)
{
    s->primary = k->primary;
    s->min_decrypt = k->min_decrypt;
    s->nversions = k->nversions;
    s->states = aios__calloc(k->nversions, sizeof(*s->states));
    if (!s->states)
        return aios__nomem("a keyring change");
    for (size_t i = 0; i < k->nversions; i++)
        s->states[i] = k->versions[i].state;
    return AIOS_OK;
}

static void snap_restore(const kr_snap *s, aios__kr_key *k)
{
    k->primary = s->primary;
    k->min_decrypt = s->min_decrypt;
    for (size_t i = 0; i < s->nversions && i < k->nversions; i++)
        k->versions[i].state = s->states[i];
}

static int kr_handle(aios_keyring *kr, aios_key **out, const aios__kr_key *k,
                     const aios__kr_version *v)
{
    aios__key_desc d;
    d.key_id = k->id;
    d.version = v->version;
    d.type = k->type;
    d.purposes = k->purposes;
    d.exportable = k->exportable;
    d.created_at = v->created_at;
    d.attrs = k->attrs;
    d.nattrs = k->nattrs;
    return aios__key_new(out, kr->provider, &d, v->kv, NULL);
}

static aios__kr_key *find_key(aios_keyring *kr, const char *key_id, const char *fn)
{
    aios__kr_key *k = aios__kr_find_key(&kr->m, key_id, NULL);
    if (!k)
        aios__fail(AIOS_E_KEY_NOT_FOUND, "%s: keyring %s has no key '%s'", fn, kr->path, key_id);
    return k;
}

static aios__kr_version *find_version(aios_keyring *kr, const aios__kr_key *k, uint32_t version,
                                      const char *fn)
{
    aios__kr_version *v = aios__kr_find_version(k, version);
    if (!v)
        aios__fail(AIOS_E_KEY_VERSION_NOT_FOUND, "%s: keyring %s: key '%s' has no version %u", fn,
                   kr->path, k->id, version);
    return v;
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    size_t ncap;
    void *p;
    if (need <= *cap)
        return AIOS_OK;
    ncap = *cap ? *cap * 2 : 4;
    while (ncap < need)
        ncap *= 2;
    p = aios__calloc(ncap, elem);
    if (!p)
        return aios__nomem("a keyring");
    if (*cap)
        memcpy(p, *arr, *cap * elem);
    aios__free(*arr);
    *arr = p;
    *cap = ncap;
    return AIOS_OK;
}

/* ---------------------------------------------------- create and open */

static int kr_load(aios_keyring *kr, const aios_keyring_options *o)
{
    uint8_t *file = NULL;
    size_t len;
    int rc;

    if ((rc = aios__kr_read_file(&file, &len, kr->path)) != AIOS_OK)
        return rc;
    rc = aios__kr_header_parse(&kr->hdr, file, len, kr->path);
    if (rc == AIOS_OK && kr->hdr.unlock != (uint32_t)o->unlock)
        rc = aios__fail(AIOS_E_KEYRING_PASSPHRASE, "keyring %s is unlocked with %s, not with the "
                        "%s given", kr->path,
                        kr->hdr.unlock == AIOS_KEYRING_UNLOCK_PASSPHRASE ? "a passphrase"
                        : kr->hdr.unlock == AIOS_KEYRING_UNLOCK_RAW_KEY ? "a raw master key"
                        : "a PKCS#11 key",
                        o->unlock == AIOS_KEYRING_UNLOCK_PASSPHRASE ? "passphrase"
                        : o->unlock == AIOS_KEYRING_UNLOCK_RAW_KEY ? "raw master key"
                        : "PKCS#11 key");
    if (rc == AIOS_OK)
        rc = aios__kr_unlock_open(&kr->dk, &kr->hdr, o, kr->path);
    if (rc == AIOS_OK)
        rc = aios__kr_file_decode(&kr->m, &kr->hdr, kr->dk, file, len, kr->path);
    aios__free(file);
    return rc;
}

static int path_exists(const char *path, int *exists)
{
    struct stat st;
    *exists = 0;
    if (lstat(path, &st) == 0) {
        *exists = 1;
        return AIOS_OK;
    }
    if (errno == ENOENT)
        return AIOS_OK;
    return aios__fail_errno(AIOS_E_IO, errno, "keyring %s: cannot stat", path);
}

static int kr_open(aios_keyring **out, const char *path, const aios_keyring_options *opts,
                   int create, const char *fn)
{
    aios_keyring_options o;
    aios_keyring *kr;
    int rc, exists, committed;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    AIOS__CHECK_ARG(path != NULL && path[0] != '\0', "path is NULL or empty");
    if ((rc = options_get(&o, opts, create, fn)) != AIOS_OK)
        return rc;
    /* Before the lock file is made beside it. */
    if ((rc = path_exists(path, &exists)) != AIOS_OK)
        return rc;
    if (create && exists)
        return aios__fail(AIOS_E_KEY_EXISTS, "%s: keyring %s already exists", fn, path);
    if (!create && !exists)
        return aios__fail(AIOS_E_NOT_FOUND, "%s: keyring %s does not exist", fn, path);
    kr = aios__calloc(1, sizeof(*kr));
    if (!kr)
        return aios__nomem("a keyring");
    kr->lock_fd = -1;
    kr->flags = o.flags;
    if (pthread_rwlock_init(&kr->lock, NULL) != 0) {
        aios__free(kr);
        return aios__fail(AIOS_E_INTERNAL, "pthread_rwlock_init failed");
    }
    kr->path = aios__strdup(path);
    kr->link = aios__calloc(1, sizeof(*kr->link));
    if (!kr->path || !kr->link) {
        aios__free(kr->link);
        kr->link = NULL;
        rc = aios__nomem("a keyring");
        goto fail;
    }
    if (pthread_rwlock_init(&kr->link->lock, NULL) != 0) {
        aios__free(kr->link);
        kr->link = NULL;
        rc = aios__fail(AIOS_E_INTERNAL, "pthread_rwlock_init failed");
        goto fail;
    }
    kr->link->kr = kr;
    if (!(o.flags & AIOS_KEYRING_READ_ONLY)) {
        if ((rc = aios__kr_lock(&kr->lock_fd, path, o.lock_timeout_ms)) != AIOS_OK)
            goto fail;
        aios__kr_remove_stale_temp(path);
    }
    if ((rc = aios__provider_new(&kr->provider, "local", &keyring_vt, kr->link)) != AIOS_OK)
        goto fail;
    if (create) {
        /* Again, under the lock: another creator may have won. */
        if ((rc = path_exists(path, &exists)) != AIOS_OK)
            goto fail;
        if (exists) {
            rc = aios__fail(AIOS_E_KEY_EXISTS, "%s: keyring %s already exists", fn, path);
            goto fail;
        }
        if ((rc = aios__kr_unlock_create(&kr->hdr, &kr->dk, &o, path)) != AIOS_OK)
            goto fail;
        /* A failure after the file was created (syncing its directory)
         * still fails the call: the file exists and can be opened. */
        if ((rc = kr_commit(kr, 1, &committed)) != AIOS_OK)
            goto fail;
    } else {
        if ((rc = kr_load(kr, &o)) != AIOS_OK)
            goto fail;
    }
    *out = kr;
    return AIOS_OK;
fail:
    kr_release(kr);
    return rc;
}

int aios_keyring_create(aios_keyring **out, const char *path, const aios_keyring_options *opts)
{
    return kr_open(out, path, opts, 1, "aios_keyring_create");
}

int aios_keyring_open(aios_keyring **out, const char *path, const aios_keyring_options *opts)
{
    return kr_open(out, path, opts, 0, "aios_keyring_open");
}

/* ------------------------------------------------------------- reload */

/* Whether an existing keyver still stands for what the file says of a
 * version (then it is kept, so live handles follow its state). */
static int keyver_matches(const aios__keyver *old, const aios__kr_version *nv)
{
    const aios__keyver *n = nv->kv;
    if (old->public_len != n->public_len || old->max_uses != n->max_uses ||
        old->not_after != n->not_after ||
        memcmp(old->public_raw, n->public_raw, old->public_len) != 0)
        return 0;
    if (nv->state == AIOS_KEY_DESTROYED)
        return 1;                           /* the sync destroys it */
    if (!old->material)
        return 0;                           /* destroyed here, not in the file */
    return old->material_len == n->material_len &&
           aios__ct_equal(old->material, n->material, n->material_len);
}

static void merge_uses(aios__keyver *kv, uint64_t file_uses)
{
    uint_fast64_t cur = atomic_load(&kv->uses);
    while (cur < file_uses && !atomic_compare_exchange_weak(&kv->uses, &cur, file_uses))
        ;
}

int aios_keyring_reload(aios_keyring *kr)
{
    aios__kr_header h;
    aios__kr_model nm, old;
    uint8_t *file = NULL;
    size_t len;
    int rc;

    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    AIOS__CHECK_ARG(kr != NULL, "keyring is NULL");
    if ((rc = aios__kr_read_file(&file, &len, kr->path)) != AIOS_OK)
        return rc;
    rc = aios__kr_header_parse(&h, file, len, kr->path);
    if (rc != AIOS_OK) {
        aios__free(file);
        return rc;
    }
    pthread_rwlock_wrlock(&kr->lock);
    if (!aios__kr_same_unlock(&h, &kr->hdr)) {
        rc = aios__fail(AIOS_E_STATE, "keyring %s was replaced by another keyring (its data key "
                        "changed): open it again", kr->path);
        goto out;
    }
    if ((rc = aios__kr_file_decode(&nm, &h, kr->dk, file, len, kr->path)) != AIOS_OK)
        goto out;
    if (nm.generation < kr->m.generation) {
        aios__kr_model_clear(&nm);
        rc = aios__fail(AIOS_E_KEYRING_TAMPERED, "keyring %s: generation %llu is older than the "
                        "%llu already read: an older copy replaced it", kr->path,
                        (unsigned long long)nm.generation, (unsigned long long)kr->m.generation);
        goto out;
    }
    for (size_t i = 0; i < nm.nkeys; i++) {
        aios__kr_key *nk = &nm.keys[i];
        const aios__kr_key *ok = aios__kr_find_key(&kr->m, nk->id, NULL);
        if (!ok || ok->type != nk->type)
            continue;
        for (size_t j = 0; j < nk->nversions; j++) {
            aios__kr_version *nv = &nk->versions[j];
            const aios__kr_version *ov = aios__kr_find_version(ok, nv->version);
            if (!ov || !keyver_matches(ov->kv, nv))
                continue;
            merge_uses(ov->kv, atomic_load(&nv->kv->uses));
            aios__keyver_unref(nv->kv);
            nv->kv = aios__keyver_ref(ov->kv);
        }
    }
    old = kr->m;
    kr->m = nm;
    aios__kr_model_clear(&old);
    for (size_t i = 0; i < kr->m.nkeys; i++)
        kr_sync_key(&kr->m.keys[i]);
    kr->hdr = h;
out:
    pthread_rwlock_unlock(&kr->lock);
    aios__free(file);
    return rc;
}

/* ---------------------------------------------------------- add, import */

static int attr_cmp(const void *a, const void *b)
{
    return strcmp(((const aios_key_attribute_pair *)a)->name,
                  ((const aios_key_attribute_pair *)b)->name);
}

/* A new key (its one version is kv, which it takes) from a checked spec. */
static int key_make(aios__kr_key *k, const char *key_id, aios_key_type type, uint32_t purposes,
                    const aios_key_spec *s, aios__keyver *kv)
{
    memset(k, 0, sizeof(*k));
    k->versions = aios__calloc(4, sizeof(*k->versions));
    if (!k->versions) {
        aios__keyver_unref(kv);
        return aios__nomem("a key");
    }
    k->cap = 4;
    k->nversions = 1;
    k->versions[0].version = 1;
    k->versions[0].state = AIOS_KEY_ACTIVE;
    k->versions[0].created_at = kr_now();
    k->versions[0].kv = kv;
    k->id = aios__strdup(key_id);
    k->type = type;
    k->purposes = purposes;
    k->exportable = s->exportable ? 1 : 0;
    k->primary = 1;
    k->min_decrypt = 1;
    if (!k->id)
        goto nomem;
    if (s->attribute_count) {
        k->attrs = aios__calloc(s->attribute_count, sizeof(*k->attrs));
        if (!k->attrs)
            goto nomem;
        for (size_t i = 0; i < s->attribute_count; i++) {
            k->attrs[i].name = aios__strdup(s->attributes[i].name);
            k->attrs[i].value = aios__strdup(s->attributes[i].value);
            k->nattrs = i + 1;
            if (!k->attrs[i].name || !k->attrs[i].value)
                goto nomem;
        }
        qsort(k->attrs, k->nattrs, sizeof(*k->attrs), attr_cmp);
    }
    return AIOS_OK;
nomem:
    aios__kr_key_clear(k);
    return aios__nomem("a key");
}

static int kr_add(aios_keyring *kr, aios_key **key_out, const char *key_id, aios_key_type type,
                  const uint8_t *material, size_t material_len, int import,
                  const aios_key_spec *spec, const char *fn)
{
    aios_key_spec s;
    uint8_t mat[AIOS__MATERIAL_MAX], pub[AIOS__PUBLIC_MAX];
    size_t mlen = 0, plen = 0, pos;
    uint32_t purposes;
    aios__keyver *kv = NULL;
    aios__kr_key nk;
    aios_key *h = NULL;
    int rc, committed = 0;

    if (key_out)
        *key_out = NULL;
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    AIOS__CHECK_ARG(kr != NULL, "keyring is NULL");
    if ((rc = aios__key_id_check(key_id)) != AIOS_OK)
        return aios__error_prefix("%s", fn);
    if (!aios__key_type_valid(type))
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: unknown key type %d", fn, (int)type);
    if (!aios__key_type_local(type))
        return aios__fail(AIOS_E_UNSUPPORTED, "%s: key '%s': a keyring cannot %s an %s key: it "
                          "lives only in a PKCS#11 token (use aios_provider_pkcs11)", fn, key_id,
                          import ? "import" : "generate", aios_key_type_name(type));
    if ((rc = aios__options_copy(&s, sizeof(s), spec, key_spec_sizes, 1, "aios_key_spec")) != AIOS_OK)
        return rc;
    purposes = s.purposes ? s.purposes : aios__key_type_natural(type);
    if (purposes & ~aios__key_type_allowed(type))
        return aios__fail(AIOS_E_KEY_USAGE, "%s: key '%s': purposes 0x%x are not allowed for %s",
                          fn, key_id, (unsigned)purposes, aios_key_type_name(type));
    if (s.exportable > 1)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: exportable must be 0 or 1", fn);
    if (s.not_after < 0)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: not_after must not be negative", fn);
    if ((rc = aios__attrs_check(s.attributes, s.attribute_count)) != AIOS_OK)
        return aios__error_prefix("%s: key '%s'", fn, key_id);

    /* The material, outside the lock: key generation can take a while. */
    if (import) {
        AIOS__CHECK_ARG(material != NULL, "material is NULL");
        rc = aios__local_import(type, material, material_len, mat, &mlen, pub, &plen);
    } else {
        rc = aios__kr_generate(type, mat, &mlen, pub, &plen);
    }
    if (rc == AIOS_OK && (mlen != aios__kr_material_len(type) || plen != aios__kr_public_len(type)))
        rc = aios__fail(AIOS_E_INTERNAL, "%s: %s material of an unexpected size", fn,
                        aios_key_type_name(type));
    if (rc == AIOS_OK)
        rc = aios__keyver_new(&kv, AIOS_KEY_ACTIVE, mat, mlen, pub, plen, s.max_uses, s.not_after);
    aios__wipe(mat, sizeof(mat));
    if (rc != AIOS_OK)
        return aios__error_prefix("%s: key '%s'", fn, key_id);
    if ((rc = key_make(&nk, key_id, type, purposes, &s, kv)) != AIOS_OK)
        return rc;

    pthread_rwlock_wrlock(&kr->lock);
    if ((rc = kr_writable(kr, fn)) != AIOS_OK)
        goto out;
    if (aios__kr_find_key(&kr->m, key_id, &pos)) {
        rc = aios__fail(AIOS_E_KEY_EXISTS, "%s: keyring %s already has a key '%s'", fn, kr->path,
                        key_id);
        goto out;
    }
    if (kr->m.nkeys >= AIOS__KR_KEYS_MAX || kr->m.total_versions >= AIOS__KR_TOTAL_VERSIONS_MAX) {
        rc = aios__fail(AIOS_E_LIMIT, "%s: keyring %s holds the most keys or versions it may "
                        "(%d keys, %d versions)", fn, kr->path, AIOS__KR_KEYS_MAX,
                        AIOS__KR_TOTAL_VERSIONS_MAX);
        goto out;
    }
    if ((rc = grow((void **)&kr->m.keys, &kr->m.cap, kr->m.nkeys + 1, sizeof(*kr->m.keys))) != AIOS_OK)
        goto out;
    if (key_out && (rc = kr_handle(kr, &h, &nk, &nk.versions[0])) != AIOS_OK)
        goto out;
    memmove(&kr->m.keys[pos + 1], &kr->m.keys[pos], (kr->m.nkeys - pos) * sizeof(*kr->m.keys));
    kr->m.keys[pos] = nk;
    kr->m.nkeys++;
    kr->m.total_versions++;
    rc = kr_commit(kr, 0, &committed);
    if (!committed) {
        memmove(&kr->m.keys[pos], &kr->m.keys[pos + 1], (kr->m.nkeys - pos - 1) * sizeof(*kr->m.keys));
        kr->m.nkeys--;
        kr->m.total_versions--;
    }
out:
    pthread_rwlock_unlock(&kr->lock);
    if (!committed)
        aios__kr_key_clear(&nk);
    if (rc == AIOS_OK && key_out)
        *key_out = h;
    else
        aios_key_unref(h);
    return rc;
}

int aios_keyring_add(aios_keyring *kr, aios_key **key_out, const char *key_id,
                     aios_key_type type, const aios_key_spec *spec)
{
    return kr_add(kr, key_out, key_id, type, NULL, 0, 0, spec, "aios_keyring_add");
}

int aios_keyring_import(aios_keyring *kr, aios_key **key_out, const char *key_id,
                        aios_key_type type, const uint8_t *material, size_t material_len,
                        const aios_key_spec *spec)
{
    return kr_add(kr, key_out, key_id, type, material, material_len, 1, spec,
                  "aios_keyring_import");
}

/* ----------------------------------------------------------------- get */

static int kr_get(aios_keyring *kr, aios_key **out, const char *key_id, uint32_t version)
{
    const aios__kr_key *k;
    const aios__kr_version *v;
    int rc;

    pthread_rwlock_rdlock(&kr->lock);
    if (!(k = find_key(kr, key_id, "aios_keyring_get"))) {
        rc = AIOS_E_KEY_NOT_FOUND;
        goto out;
    }
    if (!(v = find_version(kr, k, version ? version : k->primary, "aios_keyring_get"))) {
        rc = AIOS_E_KEY_VERSION_NOT_FOUND;
        goto out;
    }
    rc = kr_handle(kr, out, k, v);
out:
    pthread_rwlock_unlock(&kr->lock);
    return rc;
}

int aios_keyring_get(aios_keyring *kr, aios_key **key_out, const char *key_id, uint32_t version)
{
    int rc;
    AIOS__CHECK_ARG(key_out != NULL, "key_out is NULL");
    *key_out = NULL;
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    AIOS__CHECK_ARG(kr != NULL, "keyring is NULL");
    if ((rc = aios__key_id_check(key_id)) != AIOS_OK)
        return aios__error_prefix("aios_keyring_get");
    return kr_get(kr, key_out, key_id, version);
}

/* ------------------------------------------------------------ versions */

/* Whether material (with its public key) is already one of k's versions:
 * the material of a live version, or the public key of any version (kept
 * after destroy, so an asymmetric key cannot be brought back that way).
 * Under the keyring's write lock, so no destroy wipes material meanwhile. */
static const aios__kr_version *same_material(const aios__kr_key *k, const uint8_t *mat,
                                             size_t mlen, const uint8_t *pub, size_t plen)
{
    for (size_t i = 0; i < k->nversions; i++) {
        const aios__keyver *kv = k->versions[i].kv;
        if (plen && kv->public_len == plen && aios__ct_equal(kv->public_raw, pub, plen))
            return &k->versions[i];
        if (kv->material && kv->material_len == mlen && aios__ct_equal(kv->material, mat, mlen))
            return &k->versions[i];
    }
    return NULL;
}

/* A new version of a key: generated, or imported from material when it is
 * not NULL; primary at once (the old primary decrypt-only) or pending. */
static int kr_new_version(aios_keyring *kr, aios_key **key_out, const char *key_id,
                          const uint8_t *material, size_t material_len, int make_primary,
                          const char *fn)
{
    uint8_t mat[AIOS__MATERIAL_MAX], pub[AIOS__PUBLIC_MAX];
    size_t mlen = 0, plen = 0;
    aios__kr_key *k;
    aios__kr_version *last, *nv, *oldp;
    const aios__kr_version *dup;
    aios__keyver *kv = NULL;
    aios_key *h = NULL;
    uint32_t old_primary;
    aios_key_state old_state;
    int rc, committed = 0;

    if (key_out)
        *key_out = NULL;
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    AIOS__CHECK_ARG(kr != NULL, "keyring is NULL");
    if ((rc = aios__key_id_check(key_id)) != AIOS_OK)
        return aios__error_prefix("%s", fn);

    pthread_rwlock_wrlock(&kr->lock);
    if ((rc = kr_writable(kr, fn)) != AIOS_OK)
        goto out;
    if (!(k = find_key(kr, key_id, fn))) {
        rc = AIOS_E_KEY_NOT_FOUND;
        goto out;
    }
    last = &k->versions[k->nversions - 1];
    if (k->nversions >= AIOS__KR_VERSIONS_MAX || last->version == UINT32_MAX ||
        kr->m.total_versions >= AIOS__KR_TOTAL_VERSIONS_MAX) {
        rc = aios__fail(AIOS_E_LIMIT, "%s: keyring %s: key '%s' has the most versions it may "
                        "(%d, %d in the keyring)", fn, kr->path, key_id, AIOS__KR_VERSIONS_MAX,
                        AIOS__KR_TOTAL_VERSIONS_MAX);
        goto out;
    }
    if ((rc = grow((void **)&k->versions, &k->cap, k->nversions + 1, sizeof(*k->versions))) != AIOS_OK)
        goto out;
    /* Under the lock: the key's type decides what the material must be.
     * Parsing a PEM or deriving a public key is as quick as generating. */
    if (material) {
        rc = aios__local_import(k->type, material, material_len, mat, &mlen, pub, &plen);
        if (rc != AIOS_OK)
            rc = aios__error_prefix("%s: keyring %s: key '%s'", fn, kr->path, key_id);
    } else {
        rc = aios__kr_generate(k->type, mat, &mlen, pub, &plen);
    }
    if (rc == AIOS_OK && (mlen != aios__kr_material_len(k->type) ||
                          plen != aios__kr_public_len(k->type)))
        rc = aios__fail(AIOS_E_INTERNAL, "%s: %s material of an unexpected size", fn,
                        aios_key_type_name(k->type));
    if (rc == AIOS_OK && material && (dup = same_material(k, mat, mlen, pub, plen)) != NULL)
        rc = aios__fail(AIOS_E_KEY_EXISTS, "%s: keyring %s: key '%s' version %u (%s) already "
                        "holds this key material", fn, kr->path, key_id, dup->version,
                        aios_key_state_name(dup->state));
    oldp = aios__kr_find_version(k, k->primary);
    if (rc == AIOS_OK)
        rc = aios__keyver_new(&kv, make_primary ? AIOS_KEY_ACTIVE : AIOS_KEY_PENDING, mat, mlen,
                              pub, plen, oldp->kv->max_uses, 0);
    aios__wipe(mat, sizeof(mat));
    if (rc != AIOS_OK)
        goto out;
    nv = &k->versions[k->nversions];
    nv->version = k->versions[k->nversions - 1].version + 1;
    nv->state = make_primary ? AIOS_KEY_ACTIVE : AIOS_KEY_PENDING;
    nv->created_at = kr_now();
    nv->kv = kv;
    if (key_out && (rc = kr_handle(kr, &h, k, nv)) != AIOS_OK) {
        aios__keyver_unref(kv);
        memset(nv, 0, sizeof(*nv));
        goto out;
    }
    k->nversions++;
    kr->m.total_versions++;
    old_primary = k->primary;
    old_state = oldp->state;
    if (make_primary) {
        oldp->state = AIOS_KEY_DECRYPT_ONLY;
        k->primary = nv->version;
    }
    rc = kr_commit(kr, 0, &committed);
    if (!committed) {
        oldp->state = old_state;
        k->primary = old_primary;
        k->nversions--;
        kr->m.total_versions--;
        aios__keyver_unref(nv->kv);
        memset(nv, 0, sizeof(*nv));
    } else {
        kr_sync_key(k);
    }
out:
    pthread_rwlock_unlock(&kr->lock);
    if (rc == AIOS_OK && key_out)
        *key_out = h;
    else
        aios_key_unref(h);
    return rc;
}

int aios_keyring_rotate(aios_keyring *kr, aios_key **key_out, const char *key_id)
{
    return kr_new_version(kr, key_out, key_id, NULL, 0, 1, "aios_keyring_rotate");
}

int aios_keyring_add_version(aios_keyring *kr, aios_key **key_out, const char *key_id)
{
    return kr_new_version(kr, key_out, key_id, NULL, 0, 0, "aios_keyring_add_version");
}

int aios_keyring_import_version(aios_keyring *kr, aios_key **key_out, const char *key_id,
                                const uint8_t *material, size_t material_len, uint32_t flags)
{
    static const char fn[] = "aios_keyring_import_version";
    int rc;

    if (key_out)
        *key_out = NULL;
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    AIOS__CHECK_ARG(material != NULL, "material is NULL");
    if (flags & ~AIOS_KEYRING_IMPORT_PENDING)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: unknown flags 0x%x", fn,
                          (unsigned)(flags & ~AIOS_KEYRING_IMPORT_PENDING));
    return kr_new_version(kr, key_out, key_id, material, material_len,
                          !(flags & AIOS_KEYRING_IMPORT_PENDING), fn);
}

/* --------------------------------------------------- version lifecycle */

typedef enum kr_change {
    CH_PROMOTE, CH_SET_STATE, CH_DESTROY, CH_MIN_DECRYPT
} kr_change;

/* Check and apply one change to the model; AIOS_OK with *noop = 1 when
 * there is nothing to do. */
static int change_apply(aios_keyring *kr, aios__kr_key *k, kr_change ch, uint32_t version,
                        aios_key_state state, int *noop, const char *fn)
{
    aios__kr_version *v = find_version(kr, k, version, fn), *p;
    *noop = 0;
    if (!v)
        return AIOS_E_KEY_VERSION_NOT_FOUND;
    switch (ch) {
    case CH_PROMOTE:
        if (version == k->primary) {
            *noop = 1;
            return AIOS_OK;
        }
        if (v->state == AIOS_KEY_DESTROYED)
            return aios__fail(AIOS_E_KEY_DESTROYED, "%s: keyring %s: key '%s' version %u was "
                              "destroyed", fn, kr->path, k->id, version);
        if (v->state == AIOS_KEY_DISABLED)
            return aios__fail(AIOS_E_STATE, "%s: keyring %s: key '%s' version %u is disabled: "
                              "enable it first", fn, kr->path, k->id, version);
        p = aios__kr_find_version(k, k->primary);
        p->state = AIOS_KEY_DECRYPT_ONLY;
        v->state = AIOS_KEY_ACTIVE;
        k->primary = version;
        return AIOS_OK;
    case CH_SET_STATE:
        if (v->state == AIOS_KEY_DESTROYED)
            return aios__fail(AIOS_E_KEY_DESTROYED, "%s: keyring %s: key '%s' version %u was "
                              "destroyed: it cannot come back", fn, kr->path, k->id, version);
        if (version == k->primary) {
            if (state == AIOS_KEY_ACTIVE) {
                *noop = 1;
                return AIOS_OK;
            }
            return aios__fail(AIOS_E_STATE, "%s: keyring %s: key '%s' version %u is the primary: "
                              "rotate or promote another version first", fn, kr->path, k->id,
                              version);
        }
        if (v->state == state) {
            *noop = 1;
            return AIOS_OK;
        }
        if (v->state == AIOS_KEY_PENDING && state != AIOS_KEY_DISABLED)
            return aios__fail(AIOS_E_STATE, "%s: keyring %s: key '%s' version %u is pending: "
                              "promote it or disable it", fn, kr->path, k->id, version);
        if (state != AIOS_KEY_DISABLED && version < k->min_decrypt)
            return aios__fail(AIOS_E_STATE, "%s: keyring %s: key '%s' version %u is below the "
                              "minimum decrypt version %u", fn, kr->path, k->id, version,
                              k->min_decrypt);
        v->state = state;
        return AIOS_OK;
    case CH_DESTROY:
        if (version == k->primary)
            return aios__fail(AIOS_E_STATE, "%s: keyring %s: key '%s' version %u is the primary: "
                              "rotate or promote another version first", fn, kr->path, k->id,
                              version);
        if (v->state == AIOS_KEY_DESTROYED) {
            *noop = 1;
            return AIOS_OK;
        }
        v->state = AIOS_KEY_DESTROYED;
        return AIOS_OK;
    case CH_MIN_DECRYPT:
        if (version > k->primary)
            return aios__fail(AIOS_E_STATE, "%s: keyring %s: key '%s': a minimum of %u would "
                              "disable the primary version %u", fn, kr->path, k->id, version,
                              k->primary);
        if (version == k->min_decrypt) {
            *noop = 1;
            return AIOS_OK;
        }
        k->min_decrypt = version;
        for (size_t i = 0; i < k->nversions && k->versions[i].version < version; i++) {
            if (k->versions[i].state != AIOS_KEY_DESTROYED)
                k->versions[i].state = AIOS_KEY_DISABLED;
        }
        return AIOS_OK;
    }
    return aios__fail(AIOS_E_INTERNAL, "unknown keyring change");
}

static int kr_change_version(aios_keyring *kr, const char *key_id, uint32_t version,
                             kr_change ch, aios_key_state state, const char *fn)
{
    aios__kr_key *k;
    kr_snap snap = { 0, 0, 0, NULL };
    int rc, noop = 0, committed = 0;

    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    AIOS__CHECK_ARG(kr != NULL, "keyring is NULL");
    if ((rc = aios__key_id_check(key_id)) != AIOS_OK)
        return aios__error_prefix("%s", fn);
    if (version == 0)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: key '%s': version must be at least 1",
                          fn, key_id);

    pthread_rwlock_wrlock(&kr->lock);
    if ((rc = kr_writable(kr, fn)) != AIOS_OK)
        goto out;
    if (!(k = find_key(kr, key_id, fn))) {
        rc = AIOS_E_KEY_NOT_FOUND;
        goto out;
    }
    if ((rc = snap_take(&snap, k)) != AIOS_OK)
        goto out;
    rc = change_apply(kr, k, ch, version, state, &noop, fn);
    if (rc != AIOS_OK || noop) {
        snap_restore(&snap, k);
        goto out;
    }
    rc = kr_commit(kr, 0, &committed);
    if (committed)
        kr_sync_key(k);
    else
        snap_restore(&snap, k);
out:
    pthread_rwlock_unlock(&kr->lock);
    aios__free(snap.states);
    return rc;
}

int aios_keyring_promote(aios_keyring *kr, const char *key_id, uint32_t version)
{
    return kr_change_version(kr, key_id, version, CH_PROMOTE, AIOS_KEY_ACTIVE,
                             "aios_keyring_promote");
}

int aios_keyring_set_state(aios_keyring *kr, const char *key_id, uint32_t version,
                           aios_key_state state)
{
    if (state != AIOS_KEY_ACTIVE && state != AIOS_KEY_DECRYPT_ONLY && state != AIOS_KEY_DISABLED) {
        int rc = aios__ensure_init();
        if (rc != AIOS_OK)
            return rc;
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "aios_keyring_set_state: state %d: only "
                          "active, decrypt-only and disabled can be set (%s)", (int)state,
                          state == AIOS_KEY_DESTROYED ? "use aios_keyring_destroy"
                          : state == AIOS_KEY_PENDING ? "use aios_keyring_add_version"
                          : "unknown state");
    }
    return kr_change_version(kr, key_id, version, CH_SET_STATE, state, "aios_keyring_set_state");
}

int aios_keyring_destroy(aios_keyring *kr, const char *key_id, uint32_t version)
{
    return kr_change_version(kr, key_id, version, CH_DESTROY, AIOS_KEY_DESTROYED,
                             "aios_keyring_destroy");
}

int aios_keyring_set_min_decrypt_version(aios_keyring *kr, const char *key_id, uint32_t version)
{
    return kr_change_version(kr, key_id, version, CH_MIN_DECRYPT, AIOS_KEY_DISABLED,
                             "aios_keyring_set_min_decrypt_version");
}

/* ---------------------------------------------------------------- JSON */

typedef struct jbuf {
    char  *p;
    size_t len, cap;
    int    nomem;
} jbuf;

static void jb_put(jbuf *b, const char *s, size_t n)
{
    if (b->nomem)
        return;
    if (n > b->cap - b->len) {
        size_t ncap = b->cap ? b->cap : 1024;
        char *np;
        while (ncap - b->len < n)
            ncap *= 2;
        np = aios__malloc(ncap);
        if (!np) {
            b->nomem = 1;
            return;
        }
        if (b->len)
            memcpy(np, b->p, b->len);
        aios__free(b->p);
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void jb_lit(jbuf *b, const char *s)
{
    jb_put(b, s, strlen(s));
}

/* A JSON string: the text is valid UTF-8 (checked when it came in); ", \
 * and control characters are escaped, everything else passes through. */
static void jb_str(jbuf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const char *run = s;
    jb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[7];
        size_t n = 2;
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
            continue;
        jb_put(b, run, (size_t)(s - run));
        run = s + 1;
        esc[0] = '\\';
        switch (c) {
        case '"':  esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
            break;
        }
        jb_put(b, esc, n);
    }
    jb_put(b, run, (size_t)(s - run));
    jb_put(b, "\"", 1);
}

static void jb_u64(jbuf *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    jb_put(b, tmp + i, sizeof(tmp) - i);
}

static void jb_i64(jbuf *b, int64_t v)
{
    if (v < 0) {
        jb_put(b, "-", 1);
        jb_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        jb_u64(b, (uint64_t)v);
    }
}

static void jb_key(jbuf *b, const char *name, int first)
{
    if (!first)
        jb_put(b, ",", 1);
    jb_str(b, name);
    jb_put(b, ":", 1);
}

static void json_key(jbuf *b, const aios__kr_key *k)
{
    static const struct { uint32_t bit; const char *name; } uses[] = {
        { AIOS_KEY_USE_WRAP, "wrap" }, { AIOS_KEY_USE_SIGN, "sign" },
        { AIOS_KEY_USE_VERIFY, "verify" }, { AIOS_KEY_USE_MAC, "mac" },
        { AIOS_KEY_USE_DERIVE, "derive" }
    };
    int first = 1;

    jb_put(b, "{", 1);
    jb_key(b, "id", 1);
    jb_str(b, k->id);
    jb_key(b, "type", 0);
    jb_str(b, aios_key_type_name(k->type));
    jb_key(b, "purposes", 0);
    jb_put(b, "[", 1);
    for (size_t i = 0; i < sizeof(uses) / sizeof(uses[0]); i++) {
        if (!(k->purposes & uses[i].bit))
            continue;
        if (!first)
            jb_put(b, ",", 1);
        first = 0;
        jb_str(b, uses[i].name);
    }
    jb_put(b, "]", 1);
    jb_key(b, "exportable", 0);
    jb_lit(b, k->exportable ? "true" : "false");
    jb_key(b, "primary", 0);
    jb_u64(b, k->primary);
    jb_key(b, "min_decrypt_version", 0);
    jb_u64(b, k->min_decrypt);
    jb_key(b, "attributes", 0);
    jb_put(b, "{", 1);
    for (size_t i = 0; i < k->nattrs; i++) {
        jb_key(b, k->attrs[i].name, i == 0);
        jb_str(b, k->attrs[i].value);
    }
    jb_put(b, "}", 1);
    jb_key(b, "versions", 0);
    jb_put(b, "[", 1);
    for (size_t i = 0; i < k->nversions; i++) {
        const aios__kr_version *v = &k->versions[i];
        if (i)
            jb_put(b, ",", 1);
        jb_put(b, "{", 1);
        jb_key(b, "version", 1);
        jb_u64(b, v->version);
        jb_key(b, "state", 0);
        jb_str(b, aios_key_state_name(v->state));
        jb_key(b, "created_at", 0);
        jb_i64(b, v->created_at);
        jb_key(b, "uses", 0);
        jb_u64(b, atomic_load(&v->kv->uses));
        jb_key(b, "max_uses", 0);
        jb_u64(b, v->kv->max_uses);
        jb_key(b, "not_after", 0);
        jb_i64(b, v->kv->not_after);
        jb_put(b, "}", 1);
    }
    jb_put(b, "]}", 2);
}

int aios_keyring_list_json(aios_keyring *kr, aios_buffer **json_out)
{
    jbuf b = { NULL, 0, 0, 0 };
    int rc;

    AIOS__CHECK_ARG(json_out != NULL, "json_out is NULL");
    *json_out = NULL;
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    AIOS__CHECK_ARG(kr != NULL, "keyring is NULL");
    pthread_rwlock_rdlock(&kr->lock);
    jb_lit(&b, "{\"keys\":[");
    for (size_t i = 0; i < kr->m.nkeys; i++) {
        if (i)
            jb_put(&b, ",", 1);
        json_key(&b, &kr->m.keys[i]);
    }
    jb_lit(&b, "]}");
    pthread_rwlock_unlock(&kr->lock);
    if (b.nomem) {
        aios__free(b.p);
        return aios__nomem("a keyring listing");
    }
    rc = aios__buffer_new(json_out, b.len, 0);
    if (rc == AIOS_OK)
        memcpy(aios_buffer_data_mut(*json_out), b.p, b.len);
    aios__free(b.p);
    return rc;
}
