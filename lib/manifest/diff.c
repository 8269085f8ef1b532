/*
 * lib/manifest/diff.c: whole-model verification (MANIFEST.md 11, steps
 * 11-12) and the diff object.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "aios/manifest.h"
#include "core/internal.h"
#include "manifest_obj.h"

typedef struct diff_item {
    aios_manifest_change kind;
    char                *path;
    uint64_t             offset;
} diff_item;

struct aios_manifest_diff {
    diff_item *items;
    size_t     n, cap;
};

static int diff_add(aios_manifest_diff *d, aios_manifest_change kind, const char *path,
                    size_t len, uint64_t offset)
{
    char *p;
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 16;
        diff_item *it = aios__calloc(cap, sizeof(*it));
        if (it == NULL)
            return aios__nomem("a manifest diff");
        if (d->n)
            memcpy(it, d->items, d->n * sizeof(*it));
        aios__free(d->items);
        d->items = it;
        d->cap = cap;
    }
    p = aios__malloc(len + 1);
    if (p == NULL)
        return aios__nomem("a manifest diff");
    memcpy(p, path, len);
    p[len] = 0;
    d->items[d->n].kind = kind;
    d->items[d->n].path = p;
    d->items[d->n].offset = offset;
    d->n++;
    return AIOS_OK;
}

static int item_cmp(const void *x, const void *y)
{
    const diff_item *a = x, *b = y;
    int c = strcmp(a->path, b->path);
    if (c)
        return c;
    return (int)a->kind - (int)b->kind;
}

void aios_manifest_diff_free(aios_manifest_diff *d)
{
    size_t i;
    if (d == NULL)
        return;
    for (i = 0; i < d->n; i++)
        aios__free(d->items[i].path);
    aios__free(d->items);
    aios__free(d);
}

size_t aios_manifest_diff_count(const aios_manifest_diff *d)
{
    return d ? d->n : 0;
}

int aios_manifest_diff_at(const aios_manifest_diff *d, size_t i, aios_manifest_change *kind_out,
                          const char **path_out, uint64_t *first_bad_offset_out)
{
    AIOS__CHECK_ARG(d != NULL, "diff is NULL");
    if (i >= d->n)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "diff entry %zu of %zu", i, d->n);
    if (kind_out)
        *kind_out = d->items[i].kind;
    if (path_out)
        *path_out = d->items[i].path;
    if (first_bad_offset_out)
        *first_bad_offset_out = d->items[i].offset;
    return AIOS_OK;
}

int aios_manifest_diff_json(const aios_manifest_diff *d, aios_buffer **json_out)
{
    json_t *root, *mi, *ex, *mo, *ee;
    char *s;
    size_t i;
    int bad = 0, rc;

    AIOS__CHECK_ARG(json_out != NULL, "json_out is NULL");
    *json_out = NULL;
    AIOS__CHECK_ARG(d != NULL, "diff is NULL");
    root = json_object();
    mi = json_array();
    ex = json_array();
    mo = json_array();
    ee = json_array();
    for (i = 0; i < d->n; i++) {
        const diff_item *it = &d->items[i];
        switch (it->kind) {
        case AIOS_MANIFEST_MISSING:
            bad |= json_array_append_new(mi, json_string(it->path));
            break;
        case AIOS_MANIFEST_EXTRA:
            bad |= json_array_append_new(ex, json_string(it->path));
            break;
        case AIOS_MANIFEST_EXTRA_EMPTY:
            bad |= json_array_append_new(ee, json_string(it->path));
            break;
        default: {
            json_t *o = json_object();
            bad |= json_object_set_new(o, "path", json_string(it->path));
            bad |= json_object_set_new(o, "first_bad_offset", json_integer((json_int_t)it->offset));
            bad |= json_array_append_new(mo, o);
            break;
        }
        }
    }
    bad |= json_object_set_new(root, "missing", mi);
    bad |= json_object_set_new(root, "extra", ex);
    bad |= json_object_set_new(root, "modified", mo);
    bad |= json_object_set_new(root, "extra_empty", ee);
    if (bad || root == NULL) {
        json_decref(root);
        return aios__nomem("diff JSON");
    }
    s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (s == NULL)
        return aios__nomem("diff JSON");
    rc = aios__mf_text_buffer(json_out, s, strlen(s), "diff JSON");
    free(s);
    return rc;
}

/* ------------------------------------------------------------ compare */

static int compare(const aios_manifest *m, const char *model_path, aios_manifest_diff **diff_out,
                   const aios_manifest_verify_options *opts, int need_verified, const char *fn)
{
    aios_manifest_verify_options o;
    aios__mf_walk_options wo;
    aios__mf_hash_options ho;
    aios__mf_walk *w = NULL, sub;
    aios__mf_result *r = NULL;
    aios__mf_entry *todo = NULL;
    const aios__mf_path **found = NULL;   /* per todo entry */
    uint8_t *seen = NULL;                 /* per manifest path */
    uint64_t *bad_at = NULL;              /* per todo entry: first bad offset + 1, 0 = good */
    size_t *counts = NULL;                /* per todo entry: resources hashed */
    const char **ignore = NULL;
    char *bundle_rel = NULL, *cache_rel = NULL;
    int64_t walk_started = 0;
    aios_manifest_diff *d = NULL;
    size_t i, nig, nmiss = 0, nextra = 0, nmod = 0;
    int rc, single;

    if (diff_out)
        *diff_out = NULL;
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    AIOS__CHECK_ARG(m != NULL && model_path != NULL, "manifest or model_path is NULL");
    if ((rc = aios__mf_verify_opts(&o, opts)) != AIOS_OK)
        return rc;
    if (need_verified && !(m->flags & (AIOS_MANIFEST_F_VERIFIED | AIOS_MANIFEST_F_SIGNED)))
        return aios__fail(AIOS_E_MANIFEST_UNVERIFIED, "%s: the manifest was not verified (use "
                          "aios_manifest_compare_dir to inspect an unverified one)", fn);
    d = aios__calloc(1, sizeof(*d));
    if (d == NULL)
        return aios__nomem("a manifest diff");

    /* Walk with the bundle's rules and ignore paths, the caller's, and the
     * bundle file and stat cache if they lie inside the model (by path:
     * a hard link to the bundle elsewhere in the model is still seen). */
    if (o.bundle_path &&
        (rc = aios__mf_inside_model(&bundle_rel, model_path, o.bundle_path, "bundle path"))
        != AIOS_OK)
        goto out;
    if (o.stat_cache_path && need_verified &&
        (rc = aios__mf_inside_model(&cache_rel, model_path, o.stat_cache_path,
                                    "stat cache path")) != AIOS_OK)
        goto out;
    nig = m->st->ignore_count + o.hash.ignore_paths_len + (bundle_rel != NULL) +
          (cache_rel != NULL);
    if (nig > AIOS__MF_IGNORE_MAX) {
        rc = aios__fail(AIOS_E_LIMIT, "%s: %zu ignore paths (at most %u)", fn, nig,
                        AIOS__MF_IGNORE_MAX);
        goto out;
    }
    if (nig && (ignore = aios__calloc(nig, sizeof(*ignore))) == NULL) {
        rc = aios__nomem("ignore paths");
        goto out;
    }
    nig = 0;
    for (i = 0; i < m->st->ignore_count; i++)
        ignore[nig++] = m->st->ignore_paths[i];
    for (i = 0; i < o.hash.ignore_paths_len; i++)
        ignore[nig++] = o.hash.ignore_paths[i];
    if (bundle_rel)
        ignore[nig++] = bundle_rel;
    if (cache_rel)
        ignore[nig++] = cache_rel;
    memset(&wo, 0, sizeof(wo));
    wo.profile = m->profile;
    wo.allow_symlinks = m->st->allow_symlinks;
    wo.no_git_defaults = (o.hash.flags & AIOS_MANIFEST_NO_GIT_DEFAULTS) != 0;
    wo.ignore_paths = ignore;
    wo.ignore_paths_len = nig;
    wo.progress = (aios__mf_progress_fn)o.hash.progress;
    wo.progress_payload = o.hash.progress_payload;
    wo.threads = o.hash.threads ? o.hash.threads : aios__mf_online_cpus();
    walk_started = aios__mf_now_ns();
    if ((rc = aios__mf_walk_path(&w, model_path, &wo)) != AIOS_OK)
        goto out;

    /* A single-file model is named "." or by its basename (5.5.6), and
     * nothing else. */
    single = 0;
    if (w->single_file && m->npaths == 1) {
        const aios__mf_path *p0 = &m->paths[0];
        size_t n = strlen(model_path), b;
        while (n > 1 && model_path[n - 1] == '/')
            n--;
        b = n;
        while (b > 0 && model_path[b - 1] != '/')
            b--;
        single = (p0->path_len == 1 && p0->path[0] == '.') ||
                 (p0->path_len == n - b && memcmp(p0->path, model_path + b, n - b) == 0);
    }
    seen = aios__calloc(m->npaths ? m->npaths : 1, 1);
    todo = aios__calloc(w->n ? w->n : 1, sizeof(*todo));
    found = aios__calloc(w->n ? w->n : 1, sizeof(*found));
    bad_at = aios__calloc(w->n ? w->n : 1, sizeof(*bad_at));
    counts = aios__calloc(w->n ? w->n : 1, sizeof(*counts));
    if (!seen || !todo || !found || !bad_at || !counts) {
        rc = aios__nomem("model verification");
        goto out;
    }
    sub = *w;
    sub.entries = todo;
    sub.n = 0;
    sub.total_bytes = 0;
    for (i = 0; i < w->n; i++) {
        const aios__mf_entry *e = &w->entries[i];
        const aios__mf_path *p = single ? &m->paths[0] : aios__mf_manifest_find(m, e->path, e->path_len);
        if (p == NULL) {
            if (o.flags & AIOS_MANIFEST_VERIFY_IGNORE_UNSIGNED)
                continue;
            if (m->st->method == AIOS__MB_SHARDS && e->size == 0) {
                rc = diff_add(d, AIOS_MANIFEST_EXTRA_EMPTY, e->path, e->path_len, 0);
                if (o.flags & AIOS_MANIFEST_VERIFY_STRICT_EMPTY)
                    nextra++;
            } else {
                rc = diff_add(d, AIOS_MANIFEST_EXTRA, e->path, e->path_len, 0);
                nextra++;
            }
            if (rc != AIOS_OK)
                goto out;
            continue;
        }
        seen[p - m->paths] = 1;
        found[sub.n] = p;
        todo[sub.n++] = *e;
        sub.total_bytes += e->size;
    }
    for (i = 0; i < m->npaths; i++) {
        if (!seen[i]) {
            if ((rc = diff_add(d, AIOS_MANIFEST_MISSING, m->paths[i].path, m->paths[i].path_len, 0))
                != AIOS_OK)
                goto out;
            nmiss++;
        }
    }

    /* Hash what the manifest names, with its parameters. */
    memset(&ho, 0, sizeof(ho));
    ho.method = m->st->method == AIOS__MB_SHARDS ? AIOS__MF_SHARDS : AIOS__MF_FILES;
    ho.hash_type = aios__mf_manifest_hash_type(m);
    ho.shard_size = m->st->method == AIOS__MB_SHARDS ? m->st->shard_size : 0;
    ho.threads = o.hash.threads;
    ho.read_size = o.hash.read_size;
    ho.progress = (aios__mf_progress_fn)o.hash.progress;
    ho.progress_payload = o.hash.progress_payload;
    if ((rc = aios__mf_hash(&r, &sub, &ho)) != AIOS_OK)
        goto out;
    for (i = 0; i < r->n; i++) {
        const aios__mf_resource *x = &r->res[i];
        size_t k = (size_t)(x->entry - todo), idx;
        const aios__mf_path *p = found[k];
        const aios__mb_resource *want;
        counts[k]++;
        if (m->st->method == AIOS__MB_SHARDS) {
            idx = (size_t)(x->start / m->st->shard_size);
            want = idx < p->count ? aios__mf_res(m, p, idx) : NULL;
            if (want && (want->start != x->start || want->end != x->end))
                want = NULL;
        } else {
            want = aios__mf_res(m, p, 0);
        }
        if (want == NULL || want->digest_len != r->digest_len ||
            memcmp(want->digest, x->digest, r->digest_len) != 0) {
            if (bad_at[k] == 0 || x->start + 1 < bad_at[k])
                bad_at[k] = x->start + 1;
        }
    }
    for (i = 0; i < sub.n; i++) {
        const aios__mf_path *p = found[i];
        uint64_t off = bad_at[i] ? bad_at[i] - 1 : 0;
        int bad = bad_at[i] != 0;
        if (m->st->method == AIOS__MB_SHARDS && (counts[i] != p->count || todo[i].size != p->size)) {
            /* A different size: the first shard that no longer matches. */
            uint64_t common = todo[i].size < p->size ? todo[i].size : p->size;
            uint64_t at = (common / m->st->shard_size) * m->st->shard_size;
            if (!bad || at < off)
                off = at;
            bad = 1;
        }
        if (bad) {
            if ((rc = diff_add(d, AIOS_MANIFEST_MODIFIED, todo[i].path, todo[i].path_len, off))
                != AIOS_OK)
                goto out;
            nmod++;
        }
    }
    if (d->n > 1)
        qsort(d->items, d->n, sizeof(*d->items), item_cmp);
    if (nmiss || nextra || nmod) {
        const char *first = "";
        for (i = 0; i < d->n; i++) {
            if (d->items[i].kind != AIOS_MANIFEST_EXTRA_EMPTY ||
                (o.flags & AIOS_MANIFEST_VERIFY_STRICT_EMPTY)) {
                first = d->items[i].path;
                break;
            }
        }
        rc = aios__fail(AIOS_E_MANIFEST_MISMATCH, "%s: the model differs from the manifest: %zu "
                        "missing, %zu extra, %zu modified (first: '%.200s')", fn, nmiss, nextra,
                        nmod, first);
    } else {
        rc = AIOS_OK;
        /* Best effort: a cache that cannot be written costs time later,
         * never correctness. */
        if (o.stat_cache_path && need_verified)
            (void)aios__mf_statcache_save(o.stat_cache_path, w, m, walk_started);
    }
out:
    aios__mf_result_free(r);
    aios__free(todo);
    aios__free(found);
    aios__free(seen);
    aios__free(bad_at);
    aios__free(counts);
    aios__free(ignore);
    aios__free(bundle_rel);
    aios__free(cache_rel);
    aios__mf_walk_free(w);
    if ((rc == AIOS_OK || rc == AIOS_E_MANIFEST_MISMATCH) && diff_out)
        *diff_out = d;
    else
        aios_manifest_diff_free(d);
    return rc;
}

int aios_manifest_verify_dir(const aios_manifest *m, const char *model_path,
                             aios_manifest_diff **diff_out, const aios_manifest_verify_options *opts)
{
    return compare(m, model_path, diff_out, opts, 1, "aios_manifest_verify_dir");
}

int aios_manifest_compare_dir(const aios_manifest *m, const char *model_path,
                              aios_manifest_diff **diff_out,
                              const aios_manifest_verify_options *opts)
{
    return compare(m, model_path, diff_out, opts, 0, "aios_manifest_compare_dir");
}
