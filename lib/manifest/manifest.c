/*
 * lib/manifest/manifest.c: the public aios_manifest API: options, signing
 * (walk, hash, statement, signature, bundle), verification of a bundle by
 * key or certificate, the manifest object and its accessors.  The content
 * side is in diff.c (whole model) and stream.c (files, ranges, streams).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aios/manifest.h"
#include "core/internal.h"
#include "crypto/crypto.h"
#include "manifest_obj.h"

/* ============================================================ options */

static const size_t hash_sizes[] = { sizeof(aios_manifest_hash_options) };
static const size_t sign_sizes[] = { sizeof(aios_manifest_sign_options) };
static const size_t verify_sizes[] = { sizeof(aios_manifest_verify_options) };

/* The embedded hash options carry their own version. */
static int options_init(void *opts, unsigned int version, const size_t *sizes, unsigned int n,
                        const char *fn)
{
    int rc = aios__options_init(opts, version, sizes, n, fn);
    if (rc != AIOS_OK)
        return rc;
    if (sizes == sign_sizes)
        ((aios_manifest_sign_options *)opts)->hash.version = AIOS_MANIFEST_HASH_OPTIONS_VERSION;
    else if (sizes == verify_sizes)
        ((aios_manifest_verify_options *)opts)->hash.version = AIOS_MANIFEST_HASH_OPTIONS_VERSION;
    return AIOS_OK;
}

int aios_manifest_hash_options_init(aios_manifest_hash_options *opts, unsigned int version)
{
    return options_init(opts, version, hash_sizes, 1, "aios_manifest_hash_options_init");
}

int aios_manifest_sign_options_init(aios_manifest_sign_options *opts, unsigned int version)
{
    return options_init(opts, version, sign_sizes, 1, "aios_manifest_sign_options_init");
}

int aios_manifest_verify_options_init(aios_manifest_verify_options *opts, unsigned int version)
{
    return options_init(opts, version, verify_sizes, 1, "aios_manifest_verify_options_init");
}

size_t aios_manifest_bundle_max(void)
{
    return AIOS_MANIFEST_BUNDLE_MAX;
}

size_t aios_manifest_resources_max(void)
{
    return AIOS_MANIFEST_RESOURCES_MAX;
}

/* The embedded hash options: version 0 (a zeroed struct) means 1. */
static int hash_opts_check(aios_manifest_hash_options *h, const char *what)
{
    if (h->version == 0)
        h->version = AIOS_MANIFEST_HASH_OPTIONS_VERSION;
    if (h->version > AIOS_MANIFEST_HASH_OPTIONS_VERSION)
        return aios__fail(AIOS_E_VERSION, "%s: hash options version %u is not one this library "
                          "knows", what, h->version);
    if (h->threads > AIOS__MF_THREADS_MAX)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: threads %u is over %u", what, h->threads,
                          AIOS__MF_THREADS_MAX);
    if (h->read_size != 0 &&
        (h->read_size < AIOS__MF_READ_SIZE_MIN || h->read_size > AIOS__MF_READ_SIZE_MAX))
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: read_size must be 64 KiB..64 MiB", what);
    if (h->flags & ~AIOS_MANIFEST_NO_GIT_DEFAULTS)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: unknown hash flags 0x%x", what,
                          (unsigned)h->flags);
    if (h->ignore_paths_len > AIOS__MF_IGNORE_MAX)
        return aios__fail(AIOS_E_LIMIT, "%s: %zu ignore paths (at most %u)", what,
                          h->ignore_paths_len, AIOS__MF_IGNORE_MAX);
    if (h->ignore_paths_len > 0 && h->ignore_paths == NULL)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: ignore_paths is NULL", what);
    return AIOS_OK;
}

int aios__mf_hash_opts(aios_manifest_hash_options *out, const aios_manifest_hash_options *in)
{
    int rc = aios__options_copy(out, sizeof(*out), in, hash_sizes, 1,
                                "aios_manifest_hash_options");
    if (rc != AIOS_OK)
        return rc;
    return hash_opts_check(out, "aios_manifest_hash_options");
}

static int profile_check(aios_manifest_profile p, const char *what)
{
    if (p != AIOS_MANIFEST_PROFILE_MODEL_SIGNING_1 && p != AIOS_MANIFEST_PROFILE_OMS_1_0)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: unknown profile %d", what, (int)p);
    return AIOS_OK;
}

int aios__mf_verify_opts(aios_manifest_verify_options *out, const aios_manifest_verify_options *in)
{
    const uint32_t known = AIOS_MANIFEST_VERIFY_IGNORE_HINT | AIOS_MANIFEST_VERIFY_IGNORE_UNSIGNED |
                           AIOS_MANIFEST_VERIFY_STRICT_EMPTY | AIOS_MANIFEST_VERIFY_NO_LEGACY;
    int rc = aios__options_copy(out, sizeof(*out), in, verify_sizes, 1,
                                "aios_manifest_verify_options");
    if (rc != AIOS_OK)
        return rc;
    if ((rc = profile_check(out->profile, "aios_manifest_verify_options")) != AIOS_OK)
        return rc;
    if (out->time_policy < AIOS_MANIFEST_TIME_PROFILE || out->time_policy > AIOS_MANIFEST_TIME_FIXED)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "aios_manifest_verify_options: unknown time "
                          "policy %d", (int)out->time_policy);
    if (out->flags & ~known)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "aios_manifest_verify_options: unknown flags "
                          "0x%x", (unsigned)(out->flags & ~known));
    if (out->bundle_max == 0 || out->bundle_max > AIOS_MANIFEST_BUNDLE_MAX)
        out->bundle_max = AIOS_MANIFEST_BUNDLE_MAX;
    return hash_opts_check(&out->hash, "aios_manifest_verify_options.hash");
}

static int sign_opts(aios_manifest_sign_options *out, const aios_manifest_sign_options *in,
                     aios__mf_hash_type *ht)
{
    int rc = aios__options_copy(out, sizeof(*out), in, sign_sizes, 1,
                                "aios_manifest_sign_options");
    if (rc != AIOS_OK)
        return rc;
    if ((rc = profile_check(out->profile, "aios_manifest_sign_options")) != AIOS_OK)
        return rc;
    if (out->method != AIOS_MANIFEST_FILES && out->method != AIOS_MANIFEST_SHARDS)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "aios_manifest_sign_options: unknown method "
                          "%d", (int)out->method);
    if (out->hash_type == NULL || strcmp(out->hash_type, "sha256") == 0)
        *ht = AIOS__MF_SHA256;
    else if (strcmp(out->hash_type, "blake2b") == 0)
        *ht = AIOS__MF_BLAKE2B;
    else
        return aios__fail(AIOS_E_UNSUPPORTED, "aios_manifest_sign_options: hash type \"%.40s\" "
                          "(sha256 or blake2b)", out->hash_type);
    if (out->method == AIOS_MANIFEST_SHARDS) {
        if (out->shard_size == 0)
            out->shard_size = AIOS__MF_SHARD_DEFAULT;
        if (out->shard_size < AIOS__MF_SHARD_WRITE_MIN || out->shard_size > AIOS__MF_SHARD_WRITE_MAX)
            return aios__fail(AIOS_E_INVALID_ARGUMENT, "aios_manifest_sign_options: shard_size "
                              "%" PRIu64 " is outside 1 MiB..2^40", out->shard_size);
    } else {
        out->shard_size = 0;
    }
    if (out->allow_symlinks > 1)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "aios_manifest_sign_options: allow_symlinks "
                          "is 0 or 1");
    if (out->chain_len > AIOS__MB_CERTS_MAX)
        return aios__fail(AIOS_E_LIMIT, "aios_manifest_sign_options: %zu certificates (at most "
                          "%d)", out->chain_len, AIOS__MB_CERTS_MAX);
    if (out->chain_len > 0 && (out->chain_der == NULL || out->chain_der_lens == NULL))
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "aios_manifest_sign_options: chain_der or "
                          "chain_der_lens is NULL");
    if (out->provenance_json != NULL &&
        (rc = aios__mb_provenance_check_text(out->provenance_json,
                                             "aios_manifest_sign_options.provenance_json")) !=
        AIOS_OK)
        return rc;
    return hash_opts_check(&out->hash, "aios_manifest_sign_options.hash");
}

/* ============================================================ the object */

static int path_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c;
    return al < bl ? -1 : al > bl;
}

typedef struct idx_item {
    const char *path;
    size_t      path_len;
    uint64_t    start;
    size_t      ri;
} idx_item;

static int idx_cmp(const void *x, const void *y)
{
    const idx_item *a = x, *b = y;
    int c = path_cmp(a->path, a->path_len, b->path, b->path_len);
    if (c)
        return c;
    return a->start < b->start ? -1 : a->start > b->start;
}

static char *with_trust(const aios_manifest *m, char *signer);

/* Takes signer_json (an aios__malloc'd string, or NULL) in every case; st
 * only on success. */
int aios__mf_manifest_new(aios_manifest **out, aios__mb_statement *st, aios__mf_profile profile,
                          uint32_t flags, char *signer_json)
{
    aios_manifest *m;
    idx_item *it = NULL;
    size_t n = st->resource_count, i, names = 0;
    char *np;

    *out = NULL;
    m = aios__calloc(1, sizeof(*m));
    if (m == NULL) {
        aios__free(signer_json);
        goto nomem;
    }
    atomic_init(&m->refs, 1);
    m->st = st;
    m->profile = profile;
    m->flags = flags;
    if (signer_json != NULL && (m->signer_json = with_trust(m, signer_json)) == NULL)
        goto nomem;
    if (st->flags & AIOS__MB_F_LEGACY)
        m->flags |= AIOS_MANIFEST_F_LEGACY;
    if (st->flags & AIOS__MB_F_SINGLE_FILE)
        m->flags |= AIOS_MANIFEST_F_SINGLE_FILE;
    if (st->allow_symlinks)
        m->flags |= AIOS_MANIFEST_F_ALLOW_SYMLINKS;
    if (n) {
        it = aios__malloc(n * sizeof(*it));
        m->order = aios__malloc(n * sizeof(*m->order));
        m->paths = aios__calloc(n, sizeof(*m->paths));
        if (it == NULL || m->order == NULL || m->paths == NULL)
            goto nomem;
    }
    for (i = 0; i < n; i++) {
        const aios__mb_resource *r = &st->resources[i];
        it[i].path = r->name;
        it[i].path_len = r->path_len;
        it[i].start = st->method == AIOS__MB_SHARDS ? r->start : 0;
        it[i].ri = i;
        if (r->path_len != r->name_len)
            names += r->path_len + 1;
    }
    if (n > 1)
        qsort(it, n, sizeof(*it), idx_cmp);
    if (names && (m->path_names = aios__malloc(names)) == NULL)
        goto nomem;
    np = m->path_names;
    for (i = 0; i < n; ) {
        size_t e = i, k;
        aios__mf_path *p = &m->paths[m->npaths++];
        while (e < n && path_cmp(it[e].path, it[e].path_len, it[i].path, it[i].path_len) == 0)
            e++;
        if (it[i].path_len != st->resources[it[i].ri].name_len) {
            memcpy(np, it[i].path, it[i].path_len);
            np[it[i].path_len] = 0;
            p->path = np;
            np += it[i].path_len + 1;
        } else {
            p->path = it[i].path;
        }
        p->path_len = it[i].path_len;
        p->first = i;
        p->count = e - i;
        for (k = i; k < e; k++)
            m->order[k] = it[k].ri;
        p->size = st->method == AIOS__MB_SHARDS ? st->resources[it[e - 1].ri].end : UINT64_MAX;
        i = e;
    }
    aios__free(it);
    *out = m;
    return AIOS_OK;
nomem:
    aios__free(it);
    if (m) {
        aios__free(m->signer_json);
        aios__free(m->order);
        aios__free(m->paths);
        aios__free(m->path_names);
        aios__free(m);
    }
    return aios__nomem("a manifest");
}

const aios__mf_path *aios__mf_manifest_find(const aios_manifest *m, const char *path, size_t len)
{
    size_t lo = 0, hi = m->npaths;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = path_cmp(m->paths[mid].path, m->paths[mid].path_len, path, len);
        if (c == 0)
            return &m->paths[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

aios__mf_hash_type aios__mf_manifest_hash_type(const aios_manifest *m)
{
    return m->st->hash_type == AIOS__MB_BLAKE2B ? AIOS__MF_BLAKE2B : AIOS__MF_SHA256;
}

aios_manifest *aios_manifest_ref(aios_manifest *m)
{
    if (m)
        atomic_fetch_add(&m->refs, 1);
    return m;
}

void aios_manifest_unref(aios_manifest *m)
{
    if (m == NULL || atomic_fetch_sub(&m->refs, 1) != 1)
        return;
    aios__mb_statement_free(m->st);
    aios__free(m->order);
    aios__free(m->paths);
    aios__free(m->path_names);
    aios__free(m->signer_json);
    aios__free(m);
}

int aios_manifest_is_verified(const aios_manifest *m)
{
    return m != NULL && (m->flags & AIOS_MANIFEST_F_VERIFIED) != 0;
}

uint32_t aios_manifest_flags(const aios_manifest *m)
{
    return m ? m->flags : 0;
}

int aios_manifest_root_digest(const aios_manifest *m, uint8_t out[32])
{
    AIOS__CHECK_ARG(m != NULL && out != NULL, "manifest or out is NULL");
    memcpy(out, m->st->root, 32);
    return AIOS_OK;
}

int aios_manifest_statement_digest(const aios_manifest *m, uint8_t out[32])
{
    AIOS__CHECK_ARG(m != NULL && out != NULL, "manifest or out is NULL");
    memcpy(out, m->st->statement_digest, 32);
    return AIOS_OK;
}

const char *aios_manifest_subject_name(const aios_manifest *m)
{
    return m ? m->st->subject_name : NULL;
}

aios_manifest_method aios_manifest_get_method(const aios_manifest *m)
{
    return m && m->st->method == AIOS__MB_SHARDS ? AIOS_MANIFEST_SHARDS : AIOS_MANIFEST_FILES;
}

aios_manifest_profile aios_manifest_get_profile(const aios_manifest *m)
{
    return m && m->profile == AIOS__MF_PROFILE_OMS_1_0 ? AIOS_MANIFEST_PROFILE_OMS_1_0
                                                       : AIOS_MANIFEST_PROFILE_MODEL_SIGNING_1;
}

const char *aios_manifest_hash_type(const aios_manifest *m)
{
    if (m == NULL)
        return NULL;
    return m->st->hash_type == AIOS__MB_BLAKE2B ? "blake2b" : "sha256";
}

uint64_t aios_manifest_shard_size(const aios_manifest *m)
{
    return m && m->st->method == AIOS__MB_SHARDS ? m->st->shard_size : 0;
}

size_t aios_manifest_resource_count(const aios_manifest *m)
{
    return m ? m->st->resource_count : 0;
}

int aios_manifest_resource_at(const aios_manifest *m, size_t i, const char **name_out,
                              uint64_t *start_out, uint64_t *end_out,
                              const uint8_t **digest_out, size_t *digest_len_out)
{
    const aios__mb_resource *r;
    AIOS__CHECK_ARG(m != NULL, "manifest is NULL");
    if (i >= m->st->resource_count)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "resource %zu of %zu", i,
                          m->st->resource_count);
    r = &m->st->resources[i];
    if (name_out)
        *name_out = r->name;
    if (start_out)
        *start_out = m->st->method == AIOS__MB_SHARDS ? r->start : 0;
    if (end_out)
        *end_out = m->st->method == AIOS__MB_SHARDS ? r->end : UINT64_MAX;
    if (digest_out)
        *digest_out = r->digest;
    if (digest_len_out)
        *digest_len_out = r->digest_len;
    return AIOS_OK;
}

int aios__mf_text_buffer(aios_buffer **out, const char *s, size_t n, const char *what)
{
    if (aios__buffer_new(out, n, 0) != AIOS_OK)
        return aios__nomem(what);
    memcpy(aios_buffer_data_mut(*out), s, n);
    return AIOS_OK;
}

int aios_manifest_provenance_json(const aios_manifest *m, aios_buffer **json_out)
{
    AIOS__CHECK_ARG(json_out != NULL, "json_out is NULL");
    *json_out = NULL;
    AIOS__CHECK_ARG(m != NULL, "manifest is NULL");
    if (m->st->provenance_json == NULL)
        return aios__fail(AIOS_E_NOT_FOUND, "manifest: no provenance was signed");
    return aios__mf_text_buffer(json_out, m->st->provenance_json, strlen(m->st->provenance_json),
                       "provenance");
}

int aios_manifest_signer_json(const aios_manifest *m, aios_buffer **json_out)
{
    AIOS__CHECK_ARG(json_out != NULL, "json_out is NULL");
    *json_out = NULL;
    AIOS__CHECK_ARG(m != NULL, "manifest is NULL");
    if (m->signer_json == NULL)
        return aios__fail(AIOS_E_NOT_FOUND, "manifest: not signed");
    return aios__mf_text_buffer(json_out, m->signer_json, strlen(m->signer_json), "signer");
}

/* "trust" first in the signer object: what the fields below rest on. */
static const char *trust_word(const aios_manifest *m)
{
    if (m->flags & AIOS_MANIFEST_F_VERIFIED)
        return "verified";
    if (m->flags & AIOS_MANIFEST_F_SIGNED)
        return "signed-here";
    return "unverified";
}

static char *with_trust(const aios_manifest *m, char *signer)
{
    const char *w = trust_word(m);
    size_t n = strlen(signer), wl = strlen(w), cap = n + wl + 16;
    char *r;
    if (signer[0] != '{' || (r = aios__malloc(cap)) == NULL) {
        aios__free(signer);
        return NULL;
    }
    snprintf(r, cap, "{\"trust\":\"%s\"%s%s", w, n > 2 ? "," : "", signer + 1);
    aios__free(signer);
    return r;
}

static json_t *hex_json(const uint8_t *p, size_t n)
{
    char h[129];
    if (n > 64 || aios__hex_encode(h, sizeof(h), p, n) != AIOS_OK)
        return NULL;
    return json_stringn(h, 2 * n);
}

static int dump_to_buffer(aios_buffer **out, json_t *root, const char *what)
{
    char *s;
    int rc;
    if (root == NULL)
        return aios__nomem(what);
    s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (s == NULL)
        return aios__nomem(what);
    rc = aios__mf_text_buffer(out, s, strlen(s), what);
    free(s);
    return rc;
}

int aios_manifest_to_json(const aios_manifest *m, aios_buffer **json_out)
{
    json_t *root, *res, *ig;
    int bad = 0;
    size_t i;

    AIOS__CHECK_ARG(json_out != NULL, "json_out is NULL");
    *json_out = NULL;
    AIOS__CHECK_ARG(m != NULL, "manifest is NULL");
    root = json_object();
    res = json_array();
    ig = json_array();
    bad |= json_object_set_new(root, "verified", json_boolean(m->flags & AIOS_MANIFEST_F_VERIFIED));
    bad |= json_object_set_new(root, "subject", json_string(m->st->subject_name));
    bad |= json_object_set_new(root, "root_digest", hex_json(m->st->root, 32));
    bad |= json_object_set_new(root, "statement_digest", hex_json(m->st->statement_digest, 32));
    bad |= json_object_set_new(root, "profile",
                               json_string(m->profile == AIOS__MF_PROFILE_OMS_1_0 ? "oms-1.0"
                                                                                  : "model-signing-1"));
    bad |= json_object_set_new(root, "method", json_string(m->st->method == AIOS__MB_SHARDS
                                                           ? "shards" : "files"));
    bad |= json_object_set_new(root, "hash_type", json_string(aios_manifest_hash_type(m)));
    if (m->st->method == AIOS__MB_SHARDS)
        bad |= json_object_set_new(root, "shard_size", json_integer((json_int_t)m->st->shard_size));
    bad |= json_object_set_new(root, "allow_symlinks", json_boolean(m->st->allow_symlinks));
    if (m->flags & AIOS_MANIFEST_F_LEGACY)
        bad |= json_object_set_new(root, "legacy", json_true());
    for (i = 0; i < m->st->ignore_count; i++)
        bad |= json_array_append_new(ig, json_string(m->st->ignore_paths[i]));
    bad |= json_object_set_new(root, "ignore_paths", ig);
    if (m->signer_json) {
        json_t *s = json_loads(m->signer_json, 0, NULL);
        bad |= s == NULL || json_object_set_new(root, "signer", s);
    }
    if (m->st->provenance_json) {
        json_t *p = json_loads(m->st->provenance_json, 0, NULL);
        bad |= p == NULL || json_object_set_new(root, "provenance", p);
    }
    for (i = 0; i < m->st->resource_count && !bad; i++) {
        const aios__mb_resource *r = &m->st->resources[i];
        json_t *o = json_object();
        bad |= json_object_set_new(o, "name", json_stringn(r->name, r->name_len));
        bad |= json_object_set_new(o, "digest", hex_json(r->digest, r->digest_len));
        bad |= json_array_append_new(res, o);
    }
    bad |= json_object_set_new(root, "resources", res);
    if (bad) {
        json_decref(root);
        return aios__nomem("manifest JSON");
    }
    return dump_to_buffer(json_out, root, "manifest JSON");
}

/* ============================================================ signing */

/* The default subject: the model path's last component. */
static int default_subject(char **out, const char *model_path)
{
    size_t n = strlen(model_path), s;
    char *rp = NULL;
    const char *base;
    while (n > 1 && model_path[n - 1] == '/')
        n--;
    s = n;
    while (s > 0 && model_path[s - 1] != '/')
        s--;
    base = model_path + s;
    n -= s;
    if (n == 0 || (n == 1 && base[0] == '.') || (n == 2 && base[0] == '.' && base[1] == '.') ||
        (n == 1 && base[0] == '/')) {
        rp = realpath(model_path, NULL);
        if (rp == NULL)
            return aios__fail_errno(AIOS_E_IO, errno, "manifest: cannot resolve %s", model_path);
        base = strrchr(rp, '/');
        base = base ? base + 1 : rp;
        n = strlen(base);
    }
    *out = aios__malloc(n + 1);
    if (*out == NULL) {
        free(rp);
        return aios__nomem("a subject name");
    }
    memcpy(*out, base, n);
    (*out)[n] = 0;
    free(rp);
    return AIOS_OK;
}

int aios__mf_inside_model(char **rel, const char *model_path, const char *bundle_path,
                          const char *what)
{
    char *root = NULL, *dir = NULL, *copy = NULL, *slash;
    const char *base;
    struct stat st;
    size_t rl;
    int rc = AIOS_OK;

    *rel = NULL;
    /* Only a regular file (or nothing yet) is ever left out of a model: a
     * directory or a symlink there is the model's, and is verified. */
    if (lstat(bundle_path, &st) == 0 && !S_ISREG(st.st_mode))
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "manifest: the %s %s is not a regular file",
                          what, bundle_path);
    if (stat(model_path, &st) != 0 || !S_ISDIR(st.st_mode))
        return AIOS_OK;
    copy = aios__malloc(strlen(bundle_path) + 1);
    if (copy == NULL)
        return aios__nomem("a path");
    strcpy(copy, bundle_path);
    slash = strrchr(copy, '/');
    if (slash) {
        *slash = 0;
        base = slash + 1;
        dir = realpath(slash == copy ? "/" : copy, NULL);
    } else {
        base = copy;
        dir = realpath(".", NULL);
    }
    root = realpath(model_path, NULL);
    if (dir == NULL || root == NULL || *base == 0)
        goto out;   /* its directory does not exist: the write fails later with a clear message */
    rl = strlen(root);
    if (strcmp(dir, root) == 0 || (strncmp(dir, root, rl) == 0 && (dir[rl] == '/' || rl == 1))) {
        const char *sub = dir[rl] == '/' ? dir + rl + 1 : (rl == 1 ? dir + 1 : "");
        size_t n = strlen(sub) + strlen(base) + 2;
        *rel = aios__malloc(n);
        if (*rel == NULL) {
            rc = aios__nomem("a path");
            goto out;
        }
        if (*sub)
            snprintf(*rel, n, "%s/%s", sub, base);
        else
            snprintf(*rel, n, "%s", base);
        if (aios__mf_path_check(*rel, strlen(*rel), "the bundle path") != AIOS_OK) {
            aios__free(*rel);
            *rel = NULL;
            rc = aios__fail(AIOS_E_INVALID_ARGUMENT, "manifest: the %s inside the model is not a "
                            "canonical relative path", what);
        }
    }
out:
    free(root);
    free(dir);
    aios__free(copy);
    return rc;
}

/* Resources for the statement, merged from the cache and a fresh hash,
 * in the profile's order. */
typedef struct sres {
    aios__mb_resource r;
    const aios__mf_entry *e;
} sres;

static int sres_cmp_ms1(const void *x, const void *y)
{
    const sres *a = x, *b = y;
    int c = aios__mf_cmp_components(a->e->path, a->e->path_len, b->e->path, b->e->path_len);
    if (c)
        return c;
    return a->r.start < b->r.start ? -1 : a->r.start > b->r.start;
}

static int sres_cmp_oms(const void *x, const void *y)
{
    const sres *a = x, *b = y;
    return aios__mf_cmp_codepoints(a->r.name, a->r.name_len, b->r.name, b->r.name_len);
}

typedef struct model_hash {
    aios__mf_walk   *walk;
    aios__mf_result *fresh;
    sres            *res;
    size_t           n;
    char            *names;     /* cached shards' names */
    char            *bundle_rel;
    char            *cache_rel;
    const char     **ignore;    /* caller's + the bundle's + the stat cache's */
    int64_t          walk_started;   /* wall clock (ns) before the walk */
    size_t           nignore;
} model_hash;

static void model_hash_free(model_hash *h)
{
    aios__mf_result_free(h->fresh);
    aios__mf_walk_free(h->walk);
    aios__free(h->res);
    aios__free(h->names);
    aios__free(h->bundle_rel);
    aios__free(h->cache_rel);
    aios__free(h->ignore);
    memset(h, 0, sizeof(*h));
}

static int hash_model(model_hash *h, const char *model_path, const aios_manifest_sign_options *o,
                      aios__mf_hash_type ht)
{
    aios__mf_walk_options wo;
    aios__mf_hash_options ho;
    aios__mf_statcache *cache = NULL;
    aios__mf_walk sub;
    aios__mf_entry *todo = NULL;
    size_t *map = NULL;
    size_t i, k, nres = 0, names_len = 0, hl = ht == AIOS__MF_BLAKE2B ? 64 : 32;
    aios__mf_method method = o->method == AIOS_MANIFEST_SHARDS ? AIOS__MF_SHARDS : AIOS__MF_FILES;
    aios__mf_profile prof = o->profile == AIOS_MANIFEST_PROFILE_OMS_1_0 ? AIOS__MF_PROFILE_OMS_1_0
                                                                         : AIOS__MF_PROFILE_MODEL_SIGNING_1;
    char *np;
    int rc;

    memset(h, 0, sizeof(*h));
    memset(&wo, 0, sizeof(wo));
    wo.profile = prof;
    wo.allow_symlinks = (int)o->allow_symlinks;
    wo.no_git_defaults = (o->hash.flags & AIOS_MANIFEST_NO_GIT_DEFAULTS) != 0;
    /* The bundle and the stat cache, if inside the model, are left out by
     * their path (and recorded in ignore_paths, so every verifier leaves
     * them out too); never by inode, which would also hide hard links. */
    if (o->bundle_path &&
        (rc = aios__mf_inside_model(&h->bundle_rel, model_path, o->bundle_path, "bundle path"))
        != AIOS_OK)
        return rc;
    if (o->stat_cache_path &&
        (rc = aios__mf_inside_model(&h->cache_rel, model_path, o->stat_cache_path,
                                    "stat cache path")) != AIOS_OK)
        return rc;
    h->nignore = o->hash.ignore_paths_len + (h->bundle_rel != NULL) + (h->cache_rel != NULL);
    if (h->nignore) {
        h->ignore = aios__calloc(h->nignore, sizeof(*h->ignore));
        if (h->ignore == NULL)
            return aios__nomem("ignore paths");
        for (i = 0; i < o->hash.ignore_paths_len; i++) {
            if (o->hash.ignore_paths[i] == NULL)
                return aios__fail(AIOS_E_INVALID_ARGUMENT, "manifest: ignore_paths[%zu] is NULL", i);
            h->ignore[i] = o->hash.ignore_paths[i];
        }
        if (h->bundle_rel)
            h->ignore[i++] = h->bundle_rel;
        if (h->cache_rel)
            h->ignore[i++] = h->cache_rel;
    }
    wo.ignore_paths = h->ignore;
    wo.ignore_paths_len = h->nignore;
    wo.progress = (aios__mf_progress_fn)o->hash.progress;
    wo.progress_payload = o->hash.progress_payload;
    wo.threads = o->hash.threads ? o->hash.threads : aios__mf_online_cpus();
    h->walk_started = aios__mf_now_ns();
    if ((rc = aios__mf_walk_path(&h->walk, model_path, &wo)) != AIOS_OK)
        return rc;
    if (h->walk->n == 0)
        return aios__fail(AIOS_E_MANIFEST_EMPTY, "manifest: %s holds no file to sign", model_path);

    if (o->stat_cache_path &&
        (rc = aios__mf_statcache_load(&cache, o->stat_cache_path, prof, method, ht,
                                      o->shard_size)) != AIOS_OK)
        return rc;
    todo = aios__calloc(h->walk->n, sizeof(*todo));
    map = aios__calloc(h->walk->n, sizeof(*map));
    if (todo == NULL || map == NULL) {
        rc = aios__nomem("model hashing");
        goto out;
    }
    sub = *h->walk;
    sub.entries = todo;
    sub.n = 0;
    sub.total_bytes = 0;
    for (i = 0; i < h->walk->n; i++) {
        const aios__mf_entry *e = &h->walk->entries[i];
        size_t cnt = 0;
        if (cache && aios__mf_statcache_lookup(cache, e, &cnt) != NULL) {
            nres += cnt;
            if (method == AIOS__MF_SHARDS)
                names_len += cnt * (e->path_len + 2 * 20 + 3);
            continue;
        }
        map[sub.n] = i;
        todo[sub.n++] = *e;
        sub.total_bytes += e->size;
    }
    memset(&ho, 0, sizeof(ho));
    ho.method = method;
    ho.hash_type = ht;
    ho.shard_size = o->shard_size;
    ho.threads = o->hash.threads;
    ho.read_size = o->hash.read_size;
    ho.progress = (aios__mf_progress_fn)o->hash.progress;
    ho.progress_payload = o->hash.progress_payload;
    ho.for_signing = 1;
    if ((rc = aios__mf_hash(&h->fresh, &sub, &ho)) != AIOS_OK)
        goto out;
    nres += h->fresh->n;
    if (nres == 0) {
        rc = aios__fail(AIOS_E_MANIFEST_EMPTY, "manifest: %s holds only empty files, which a "
                        "shard manifest cannot name", model_path);
        goto out;
    }
    if (nres > AIOS__MF_RESOURCES_MAX) {
        rc = aios__fail(AIOS_E_LIMIT, "manifest: %zu resources (at most %u)", nres,
                        AIOS__MF_RESOURCES_MAX);
        goto out;
    }
    h->res = aios__calloc(nres, sizeof(*h->res));
    if (h->res == NULL || (names_len && (h->names = aios__malloc(names_len)) == NULL)) {
        rc = aios__nomem("model hashing");
        goto out;
    }
    /* Fresh resources point at `sub`'s entries: map them back to the walk's. */
    for (k = 0; k < h->fresh->n; k++) {
        const aios__mf_resource *r = &h->fresh->res[k];
        sres *s = &h->res[h->n++];
        /* r->entry points into todo[], a copy of the walk's entry map[]. */
        s->e = &h->walk->entries[map[(size_t)(r->entry - todo)]];
        s->r.name = r->name;
        s->r.name_len = r->name_len;
        s->r.path_len = s->e->path_len;
        s->r.start = r->start;
        s->r.end = r->end;
        memcpy(s->r.digest, r->digest, hl);
        s->r.digest_len = hl;
    }
    np = h->names;
    for (i = 0; cache && i < h->walk->n; i++) {
        const aios__mf_entry *e = &h->walk->entries[i];
        size_t cnt = 0, c;
        const uint8_t *d = aios__mf_statcache_lookup(cache, e, &cnt);
        if (d == NULL)
            continue;
        for (c = 0; c < cnt; c++) {
            sres *s = &h->res[h->n++];
            s->e = e;
            if (method == AIOS__MF_SHARDS) {
                uint64_t st = (uint64_t)c * o->shard_size;
                uint64_t en = st + o->shard_size < e->size ? st + o->shard_size : e->size;
                int w = snprintf(np, e->path_len + 2 * 20 + 3, "%s:%" PRIu64 ":%" PRIu64, e->path,
                                 st, en);
                s->r.name = np;
                s->r.name_len = (size_t)w;
                np += (size_t)w + 1;
                s->r.start = st;
                s->r.end = en;
            } else {
                s->r.name = e->path;
                s->r.name_len = e->path_len;
                s->r.start = 0;
                s->r.end = e->size;
            }
            s->r.path_len = e->path_len;
            memcpy(s->r.digest, d + c * hl, hl);
            s->r.digest_len = hl;
        }
    }
    if (h->n > 1)
        qsort(h->res, h->n, sizeof(*h->res),
              prof == AIOS__MF_PROFILE_OMS_1_0 ? sres_cmp_oms : sres_cmp_ms1);
    rc = AIOS_OK;
out:
    /* h->fresh keeps the shard names the merged list points to; its
     * entry pointers (into todo[]) are not used after this point. */
    aios__free(todo);
    aios__free(map);
    aios__mf_statcache_free(cache);
    return rc;
}

/* The statement to sign from a model hash. */
static int build_statement(aios_buffer **payload, const model_hash *h, const char *subject,
                           const aios_manifest_sign_options *o, aios__mf_hash_type ht,
                           aios__mb_statement *st, aios__mb_resource **res_out)
{
    aios__mb_resource *res;
    size_t i;
    res = aios__calloc(h->n, sizeof(*res));
    *res_out = res;
    if (res == NULL)
        return aios__nomem("a statement");
    for (i = 0; i < h->n; i++)
        res[i] = h->res[i].r;
    memset(st, 0, sizeof(*st));
    st->subject_name = subject;
    st->method = o->method == AIOS_MANIFEST_SHARDS ? AIOS__MB_SHARDS : AIOS__MB_FILES;
    st->hash_type = ht == AIOS__MF_BLAKE2B ? AIOS__MB_BLAKE2B : AIOS__MB_SHA256;
    st->shard_size = o->shard_size;
    st->allow_symlinks = (int)o->allow_symlinks;
    st->ignore_paths = h->ignore;
    st->ignore_count = h->nignore;
    st->resources = res;
    st->resource_count = h->n;
    st->provenance_json = o->provenance_json;
    if (payload)
        return aios__mb_statement_encode(payload, st, o->profile == AIOS_MANIFEST_PROFILE_OMS_1_0
                                         ? AIOS__MB_PROFILE_OMS_1_0
                                         : AIOS__MB_PROFILE_MODEL_SIGNING_1);
    return AIOS_OK;
}

static int check_subject(const char *subject, aios_manifest_profile profile)
{
    if (profile == AIOS_MANIFEST_PROFILE_OMS_1_0 && subject[0] == 0)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "manifest: the oms-1.0 profile needs a "
                          "subject name");
    return AIOS_OK;
}

static int sign_or_hash(aios_buffer **bundle_out, aios_manifest **manifest_out,
                        const char *model_path, const aios_key *key,
                        const aios_manifest_sign_options *opts, const char *fn)
{
    aios_manifest_sign_options o;
    aios__mf_hash_type ht = AIOS__MF_SHA256;
    model_hash h;
    char *subject = NULL, *signer = NULL;
    aios_buffer *bundle = NULL, *payload = NULL;
    aios__mb_statement st, *parsed = NULL;
    aios__mb_resource *res = NULL;
    aios__mb_bundle *pb = NULL;
    aios_manifest *m = NULL;
    int mbprof, rc;

    memset(&h, 0, sizeof(h));
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    AIOS__CHECK_ARG(model_path != NULL, "model_path is NULL");
    if ((rc = sign_opts(&o, opts, &ht)) != AIOS_OK)
        return rc;
    mbprof = o.profile == AIOS_MANIFEST_PROFILE_OMS_1_0 ? AIOS__MB_PROFILE_OMS_1_0
                                                          : AIOS__MB_PROFILE_MODEL_SIGNING_1;
    if (key) {
        AIOS__CHECK_ARG(bundle_out != NULL || o.bundle_path != NULL,
                        "bundle_out is NULL and no bundle_path is set");
        if (!(aios_key_purposes(key) & AIOS_KEY_USE_SIGN))
            return aios__fail(AIOS_E_KEY_USAGE, "%s: key '%s' may not sign", fn, aios_key_id(key));
    }
    if (o.subject_name) {
        size_t n = strlen(o.subject_name);
        subject = aios__malloc(n + 1);
        if (subject == NULL)
            return aios__nomem("a subject name");
        memcpy(subject, o.subject_name, n + 1);
    } else if ((rc = default_subject(&subject, model_path)) != AIOS_OK) {
        return rc;
    }
    if ((rc = check_subject(subject, o.profile)) != AIOS_OK)
        goto out;
    if (strlen(subject) > AIOS__MB_SUBJECT_MAX ||
        !aios__utf8_valid((const uint8_t *)subject, strlen(subject))) {
        rc = aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: the subject name must be valid UTF-8 of at "
                        "most %d bytes", fn, AIOS__MB_SUBJECT_MAX);
        goto out;
    }
    if ((rc = hash_model(&h, model_path, &o, ht)) != AIOS_OK)
        goto out;
    if (key == NULL) {
        /* Hash only: the statement that would be signed. */
        if ((rc = build_statement(&payload, &h, subject, &o, ht, &st, &res)) != AIOS_OK)
            goto out;
        rc = aios__mb_statement_parse(&parsed, aios_buffer_data(payload), aios_buffer_len(payload),
                                      mbprof, 0);
        if (rc == AIOS_OK) {
            rc = aios__mf_manifest_new(&m, parsed, (aios__mf_profile)mbprof, 0, NULL);
            if (rc == AIOS_OK)
                parsed = NULL;
        }
        goto out;
    }
    if ((rc = build_statement(NULL, &h, subject, &o, ht, &st, &res)) != AIOS_OK)
        goto out;
    if (o.chain_len > 0)
        rc = aios__mb_sign_certificate(&bundle, &st, key, o.chain_der, o.chain_der_lens,
                                       o.chain_len, mbprof);
    else
        rc = aios__mb_sign_key(&bundle, &st, key, mbprof);
    if (rc != AIOS_OK)
        goto out;
    /* The manifest of exactly the signed bytes, read back from the
     * bundle, when the caller or the stat cache wants it (for 20000 files
     * that parse is a sixth of the signing time). */
    if (manifest_out != NULL || o.stat_cache_path != NULL) {
        aios__mb_signer sg;
        if ((rc = aios__mb_bundle_parse(&pb, aios_buffer_data(bundle), aios_buffer_len(bundle),
                                        0, mbprof)) != AIOS_OK ||
            (rc = aios__mb_statement_parse(&parsed, pb->payload, pb->payload_len, mbprof, 0))
            != AIOS_OK)
            goto out;
        if ((rc = aios__mb_bundle_signer(&sg, pb)) != AIOS_OK)
            goto out;
        if ((signer = aios__mb_signer_json(&sg)) == NULL) {
            rc = aios__nomem("the signer");
            goto out;
        }
        rc = aios__mf_manifest_new(&m, parsed, (aios__mf_profile)mbprof, AIOS_MANIFEST_F_SIGNED,
                                   signer);
        signer = NULL;   /* taken */
        if (rc != AIOS_OK)
            goto out;
        parsed = NULL;
    }
    if (o.bundle_path &&
        (rc = aios__mf_write_file_atomic(o.bundle_path, aios_buffer_data(bundle),
                                         aios_buffer_len(bundle), "manifest bundle", 0644))
        != AIOS_OK)
        goto out;
    if (o.stat_cache_path) {
        /* Best effort: a cache that cannot be written costs speed next
         * time, never correctness. */
        (void)aios__mf_statcache_save(o.stat_cache_path, h.walk, m, h.walk_started);
    }
out:
    if (rc == AIOS_OK && key == NULL && o.stat_cache_path && m)
        (void)aios__mf_statcache_save(o.stat_cache_path, h.walk, m, h.walk_started);
    aios__mb_bundle_free(pb);
    aios__mb_statement_free(parsed);
    aios__free(res);
    aios__free(signer);
    aios__free(subject);
    aios_buffer_free(payload);
    model_hash_free(&h);
    if (rc != AIOS_OK) {
        aios_buffer_free(bundle);
        aios_manifest_unref(m);
        return rc;
    }
    if (bundle_out)
        *bundle_out = bundle;
    else
        aios_buffer_free(bundle);
    if (manifest_out)
        *manifest_out = m;
    else
        aios_manifest_unref(m);
    return AIOS_OK;
}

int aios_manifest_sign(aios_buffer **bundle_out, aios_manifest **manifest_out,
                       const char *model_path, const aios_key *key,
                       const aios_manifest_sign_options *opts)
{
    if (bundle_out)
        *bundle_out = NULL;
    if (manifest_out)
        *manifest_out = NULL;
    AIOS__CHECK_ARG(key != NULL, "key is NULL");
    return sign_or_hash(bundle_out, manifest_out, model_path, key, opts, "aios_manifest_sign");
}

int aios_manifest_hash(aios_manifest **out, const char *model_path,
                       const aios_manifest_sign_options *opts)
{
    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    return sign_or_hash(NULL, out, model_path, NULL, opts, "aios_manifest_hash");
}

/* ============================================================ trust */

static int mb_profile(const aios_manifest_verify_options *o)
{
    return o->profile == AIOS_MANIFEST_PROFILE_OMS_1_0 ? AIOS__MB_PROFILE_OMS_1_0
                                                        : AIOS__MB_PROFILE_MODEL_SIGNING_1;
}

static uint32_t mb_flags(const aios_manifest_verify_options *o)
{
    uint32_t f = 0;
    if (o->flags & AIOS_MANIFEST_VERIFY_IGNORE_HINT)
        f |= AIOS__MB_IGNORE_HINT;
    if (o->flags & AIOS_MANIFEST_VERIFY_NO_LEGACY)
        f |= AIOS__MB_NO_LEGACY;
    return f;
}

static int bundle_len_check(const uint8_t *bundle, size_t len, const aios_manifest_verify_options *o)
{
    AIOS__CHECK_ARG(bundle != NULL || len == 0, "bundle is NULL");
    if (len > o->bundle_max)
        return aios__fail(AIOS_E_LIMIT, "manifest: a bundle of %zu bytes is over the limit of %zu",
                          len, o->bundle_max);
    return AIOS_OK;
}

/* A verified statement (taken) and its signer into a verified manifest. */
static int verified_flags(aios_manifest **out, aios__mb_statement *st, const aios__mb_signer *sg,
                          const aios_manifest_verify_options *o, uint32_t extra)
{
    char *signer = aios__mb_signer_json(sg);
    int rc;
    if (signer == NULL) {
        aios__mb_statement_free(st);
        return aios__nomem("the signer");
    }
    rc = aios__mf_manifest_new(out, st, (aios__mf_profile)mb_profile(o),
                               AIOS_MANIFEST_F_VERIFIED | extra, signer);   /* takes signer */
    if (rc != AIOS_OK)
        aios__mb_statement_free(st);
    return rc;
}

static int verified(aios_manifest **out, aios__mb_statement *st, const aios__mb_signer *sg,
                    const aios_manifest_verify_options *o)
{
    return verified_flags(out, st, sg, o, 0);
}

int aios_manifest_verify_key(aios_manifest **out, const uint8_t *bundle, size_t bundle_len,
                             const aios_key *public_key, const aios_manifest_verify_options *opts)
{
    aios_manifest_verify_options o;
    aios__mb_statement *st = NULL;
    aios__mb_signer sg;
    int rc;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    AIOS__CHECK_ARG(public_key != NULL, "public_key is NULL");
    if ((rc = aios__mf_verify_opts(&o, opts)) != AIOS_OK ||
        (rc = bundle_len_check(bundle, bundle_len, &o)) != AIOS_OK)
        return rc;
    memset(&sg, 0, sizeof(sg));
    if ((rc = aios__mb_verify_key_ex(&st, &sg, bundle, bundle_len, public_key, mb_profile(&o),
                                     mb_flags(&o))) != AIOS_OK)
        return rc;
    return verified(out, st, &sg, &o);
}

int aios_manifest_verify_certificate(aios_manifest **out, const uint8_t *bundle, size_t bundle_len,
                                     const uint8_t *const *anchors, const size_t *anchor_lens,
                                     size_t anchors_len, const aios_manifest_verify_options *opts)
{
    aios_manifest_verify_options o;
    aios__mb_statement *st = NULL;
    aios__mb_signer sg;
    int rc;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    AIOS__CHECK_ARG(anchors_len == 0 || (anchors != NULL && anchor_lens != NULL),
                    "anchors or anchor_lens is NULL");
    if (anchors_len == 0)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "aios_manifest_verify_certificate: no trust "
                          "anchor given");
    if ((rc = aios__mf_verify_opts(&o, opts)) != AIOS_OK ||
        (rc = bundle_len_check(bundle, bundle_len, &o)) != AIOS_OK)
        return rc;
    memset(&sg, 0, sizeof(sg));
    if ((rc = aios__mb_verify_certificate(&st, &sg, bundle, bundle_len, anchors, anchor_lens,
                                          anchors_len, mb_profile(&o), (int)o.time_policy,
                                          o.fixed_time, mb_flags(&o))) != AIOS_OK)
        return rc;
    return verified(out, st, &sg, &o);
}

int aios_manifest_verify_sigstore(aios_manifest **out, const uint8_t *bundle, size_t bundle_len,
                                  const uint8_t *trusted_root, size_t trusted_root_len,
                                  const char *identity, const char *oidc_issuer,
                                  const aios_manifest_verify_options *opts)
{
    aios_manifest_verify_options o;
    aios__mb_statement *st = NULL;
    aios__mb_signer sg;
    aios_manifest *m = NULL;
    int rc;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    AIOS__CHECK_ARG(trusted_root != NULL && trusted_root_len > 0, "trusted_root is empty");
    AIOS__CHECK_ARG(identity != NULL && identity[0] && oidc_issuer != NULL && oidc_issuer[0],
                    "identity and oidc_issuer are required");
    if ((rc = aios__mf_verify_opts(&o, opts)) != AIOS_OK ||
        (rc = bundle_len_check(bundle, bundle_len, &o)) != AIOS_OK)
        return rc;
    memset(&sg, 0, sizeof(sg));
    if ((rc = aios__mb_verify_sigstore(&st, &sg, bundle, bundle_len, trusted_root,
                                       trusted_root_len, identity, oidc_issuer, mb_profile(&o)))
        != AIOS_OK)
        return rc;
    if ((rc = verified_flags(&m, st, &sg, &o, AIOS_MANIFEST_F_KEYLESS)) != AIOS_OK)
        return rc;
    *out = m;
    return AIOS_OK;
}

int aios_manifest_open(aios_manifest **out, const uint8_t *bundle, size_t bundle_len,
                       const aios_manifest_verify_options *opts)
{
    aios_manifest_verify_options o;
    aios__mb_bundle *b = NULL;
    aios__mb_statement *st = NULL;
    char *signer = NULL;
    uint32_t flags = 0;
    int rc;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    if ((rc = aios__mf_verify_opts(&o, opts)) != AIOS_OK ||
        (rc = bundle_len_check(bundle, bundle_len, &o)) != AIOS_OK)
        return rc;
    if ((rc = aios__mb_bundle_parse(&b, bundle, bundle_len, o.bundle_max, mb_profile(&o)))
        != AIOS_OK)
        return rc;
    if (b->method == AIOS__MB_METHOD_KEYLESS)
        flags |= AIOS_MANIFEST_F_KEYLESS;
    /* Unverified: the payload is parsed as the current predicate, or as
     * the legacy one if that is what it holds. */
    rc = aios__mb_statement_parse(&st, b->payload, b->payload_len, mb_profile(&o), 0);
    if (rc == AIOS_E_MANIFEST_PREDICATE && mb_profile(&o) == AIOS__MB_PROFILE_MODEL_SIGNING_1)
        rc = aios__mb_statement_parse(&st, b->payload, b->payload_len, mb_profile(&o), 1);
    if (rc == AIOS_OK) {
        aios__mb_signer sg;
        if (aios__mb_bundle_signer(&sg, b) == AIOS_OK && (signer = aios__mb_signer_json(&sg)) == NULL)
            rc = aios__nomem("the signer");
    }
    aios__mb_bundle_free(b);
    if (rc != AIOS_OK) {
        aios__mb_statement_free(st);
        return rc;
    }
    rc = aios__mf_manifest_new(out, st, (aios__mf_profile)mb_profile(&o), flags, signer);
    if (rc != AIOS_OK)
        aios__mb_statement_free(st);
    return rc;
}

int aios_manifest_read_bundle(aios_buffer **out, const char *path,
                              const aios_manifest_verify_options *opts)
{
    aios_manifest_verify_options o;
    struct stat st;
    size_t got = 0;
    int fd, rc;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    AIOS__CHECK_ARG(path != NULL, "path is NULL");
    if ((rc = aios__mf_verify_opts(&o, opts)) != AIOS_OK)
        return rc;
    /* Nonblocking: a FIFO planted as the bundle must not hang the open. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return aios__fail_errno(errno == ENOENT ? AIOS_E_NOT_FOUND : AIOS_E_IO, errno,
                                "manifest: cannot open the bundle %s", path);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = aios__fail(AIOS_E_IO, "manifest: the bundle %s is not a regular file", path);
        goto out;
    }
    {
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
            (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    }
    if ((uint64_t)st.st_size > o.bundle_max) {
        rc = aios__fail(AIOS_E_LIMIT, "manifest: the bundle %s is %lld bytes, over the limit of "
                        "%zu", path, (long long)st.st_size, o.bundle_max);
        goto out;
    }
    if ((rc = aios__buffer_new(out, (size_t)st.st_size + 1, 0)) != AIOS_OK)
        goto out;
    while (got < (size_t)st.st_size + 1) {
        ssize_t r = read(fd, aios_buffer_data_mut(*out) + got, (size_t)st.st_size + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = aios__fail_errno(AIOS_E_IO, errno, "manifest: cannot read the bundle %s", path);
            goto out;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    if (got > (size_t)st.st_size) {
        rc = aios__fail(AIOS_E_MANIFEST_CHANGED, "manifest: the bundle %s grew while it was read",
                        path);
        goto out;
    }
    rc = aios__buffer_resize(*out, got);
out:
    close(fd);
    if (rc != AIOS_OK) {
        aios_buffer_free(*out);
        *out = NULL;
    }
    return rc;
}

/* ============================================================ files */

/* Write data to fd, then fsync it. */
static int write_sync(int fd, const uint8_t *data, size_t len, mode_t mode, const char *what,
                      const char *name)
{
    size_t done = 0;
    if (fchmod(fd, mode) != 0)
        return aios__fail_errno(AIOS_E_IO, errno, "%s: cannot set the mode of %s", what, name);
    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return aios__fail_errno(AIOS_E_IO, errno, "%s: cannot write %s", what, name);
        done += (size_t)w;
    }
    if (fsync(fd) != 0)
        return aios__fail_errno(AIOS_E_IO, errno, "%s: cannot sync %s", what, name);
    return AIOS_OK;
}

static atomic_ulong tmpfile_writes;

#ifdef O_TMPFILE
/* The kernel's way (Linux 3.11+, most local file systems): an unnamed
 * file in dir, written and synced, then linked under a fresh temporary
 * name only to be renamed at once, so that a crash while writing leaves
 * nothing in the directory (a model directory: a leftover would be signed
 * the next time).  1: done (*rc says how); 0: not available here (no
 * O_TMPFILE on this file system, no /proc): use the portable way. */
static int write_tmpfile(int *rc, const char *dir, const char *path, char *tmp, size_t tmp_cap,
                         const uint8_t *data, size_t len, const char *what, mode_t mode)
{
    static const char az[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    char proc[64];
    int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, mode), attempt, linked = 0;

    if (fd < 0)
        return 0;
    if ((*rc = write_sync(fd, data, len, mode, what, path)) != AIOS_OK) {
        close(fd);
        return 1;
    }
    /* This thread's descriptor (/proc/self is the thread-group leader's
     * table, another file if this thread unshared its table); /proc/self
     * on kernels before 3.17, and either way the linked file must be
     * ours (same device and inode) or it is unlinked again. */
    for (attempt = 0; attempt < 32 && !linked; attempt++) {
        uint8_t r[6];
        size_t i, n = strlen(path);
        struct stat mine, got;
        int ok;
        aios__random_bytes(r, sizeof(r));
        snprintf(tmp, tmp_cap, "%s.", path);
        for (i = 0; i < sizeof(r); i++)
            tmp[n + 1 + i] = az[r[i] % (sizeof(az) - 1)];
        tmp[n + 1 + sizeof(r)] = 0;
        snprintf(proc, sizeof(proc), "/proc/thread-self/fd/%d", fd);
        ok = linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) == 0;
        if (!ok && errno == ENOENT) {
            snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
            ok = linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) == 0;
        }
        if (!ok) {
            if (errno == EEXIST)
                continue;   /* a name in use: another one */
            break;
        }
        if (lstat(tmp, &got) == 0 && fstat(fd, &mine) == 0 && got.st_dev == mine.st_dev &&
            got.st_ino == mine.st_ino) {
            linked = 1;
        } else {
            (void)unlink(tmp);   /* another file: never put it in place */
            break;
        }
    }
    close(fd);
    if (!linked)
        return 0;   /* no /proc, say: the data is written again the portable way */
    if (rename(tmp, path) != 0) {
        *rc = aios__fail_errno(AIOS_E_IO, errno, "%s: cannot rename into %s", what, path);
        (void)unlink(tmp);
    } else {
        atomic_fetch_add(&tmpfile_writes, 1);
    }
    return 1;
}
#endif

int aios__mf_atomic_portable;

unsigned long aios__mf_atomic_tmpfile_writes(void)
{
    return atomic_load(&tmpfile_writes);
}

int aios__mf_write_file_atomic(const char *path, const uint8_t *data, size_t len, const char *what,
                               mode_t mode)
{
    size_t n = strlen(path);
    char *tmp = aios__malloc(n + 8), *dir = aios__malloc(n + 2);
    int fd, rc = AIOS_OK, dfd;

    if (tmp == NULL || dir == NULL) {
        aios__free(tmp);
        aios__free(dir);
        return aios__nomem("a path");
    }
    memcpy(dir, path, n + 1);
    {
        char *sl = strrchr(dir, '/');
        if (sl == NULL)
            strcpy(dir, ".");
        else if (sl == dir)
            dir[1] = 0;
        else
            *sl = 0;
    }
#ifdef O_TMPFILE
    if (!aios__mf_atomic_portable &&
        write_tmpfile(&rc, dir, path, tmp, n + 8, data, len, what, mode)) {
        if (rc != AIOS_OK)
            goto out;
        goto sync_dir;
    }
#endif
    /* A fresh, exclusive temporary name beside the target: concurrent
     * writers of one path never share a file, and nothing planted at a
     * predictable name is opened. */
    snprintf(tmp, n + 8, "%s.XXXXXX", path);
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        rc = aios__fail_errno(AIOS_E_IO, errno, "%s: cannot create a temporary file beside %s",
                              what, path);
        goto out;
    }
    rc = write_sync(fd, data, len, mode, what, tmp);
    if (close(fd) != 0 && rc == AIOS_OK)
        rc = aios__fail_errno(AIOS_E_IO, errno, "%s: cannot close %s", what, tmp);
    if (rc == AIOS_OK && rename(tmp, path) != 0)
        rc = aios__fail_errno(AIOS_E_IO, errno, "%s: cannot rename into %s", what, path);
    if (rc != AIOS_OK) {
        (void)unlink(tmp);
        goto out;
    }
#ifdef O_TMPFILE
sync_dir:
#endif
    /* Make the rename durable. */
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || (fsync(dfd) != 0 && errno != EINVAL))
        rc = aios__fail_errno(AIOS_E_IO, errno, "%s: %s is in place but its directory could not "
                              "be synced", what, path);
    if (dfd >= 0)
        close(dfd);
out:
    aios__free(tmp);
    aios__free(dir);
    return rc;
}
