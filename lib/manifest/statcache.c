/*
 * lib/manifest/statcache.c: the stat cache of incremental re-signing
 * (MANIFEST.md 12.8).  A JSON file libaios owns:
 *
 *   {"aios_manifest_stat_cache":1,"profile":"model-signing-1",
 *    "method":"files","hash_type":"sha256","shard_size":0,
 *    "files":[{"path":"a/b","dev":..,"ino":..,"size":..,
 *              "mtime":[s,ns],"ctime":[s,ns],"digests":"<hex>..."}]}
 *
 * A file whose device, inode, size, mtime and ctime all match reuses the
 * digests (ctime cannot be set back by a user, so `touch -d` does not
 * fool it).  The cache is not signed: whoever can write it can also write
 * the model, and it only ever saves work on the signer's own machine.  A
 * cache that is missing, malformed, of another version or of other
 * parameters is ignored (everything is hashed), never an error.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "core/internal.h"
#include "crypto/crypto.h"
#include "manifest_obj.h"

#define CACHE_VERSION 1
#define CACHE_MAX ((size_t)512 << 20)

typedef struct cache_entry {
    const char *path;
    uint64_t    dev, ino, size;
    int64_t     mt_s, mt_ns, ct_s, ct_ns;
    size_t      first, count;   /* into digests */
} cache_entry;

struct aios__mf_statcache {
    cache_entry *e;
    size_t       n;
    uint8_t     *digests;
    size_t       digest_len;
    char        *names;
};

static const char *prof_name(aios__mf_profile p)
{
    return p == AIOS__MF_PROFILE_OMS_1_0 ? "oms-1.0" : "model-signing-1";
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const cache_entry *)a)->path, ((const cache_entry *)b)->path);
}

void aios__mf_statcache_free(aios__mf_statcache *c)
{
    if (c == NULL)
        return;
    aios__free(c->e);
    aios__free(c->digests);
    aios__free(c->names);
    aios__free(c);
}

static int get_u64(const json_t *o, const char *k, uint64_t *v)
{
    const json_t *x = json_object_get(o, k);
    if (!json_is_integer(x) || json_integer_value(x) < 0)
        return 0;
    *v = (uint64_t)json_integer_value(x);
    return 1;
}

static int get_time(const json_t *o, const char *k, int64_t *s, int64_t *ns)
{
    const json_t *x = json_object_get(o, k);
    if (!json_is_array(x) || json_array_size(x) != 2 || !json_is_integer(json_array_get(x, 0)) ||
        !json_is_integer(json_array_get(x, 1)))
        return 0;
    *s = (int64_t)json_integer_value(json_array_get(x, 0));
    *ns = (int64_t)json_integer_value(json_array_get(x, 1));
    return 1;
}

/* Parse; 1 if usable. */
static int parse(aios__mf_statcache *c, const char *text, size_t len, aios__mf_profile profile,
                 aios__mf_method method, aios__mf_hash_type ht, uint64_t shard_size)
{
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    const json_t *files, *x;
    size_t i, n, ndig = 0, names = 0, dl = ht == AIOS__MF_BLAKE2B ? 64 : 32;
    uint64_t v;
    char *np;
    int ok = 0;

    if (!json_is_object(root))
        goto out;
    if (!get_u64(root, "aios_manifest_stat_cache", &v) || v != CACHE_VERSION)
        goto out;
    x = json_object_get(root, "profile");
    if (!json_is_string(x) || strcmp(json_string_value(x), prof_name(profile)) != 0)
        goto out;
    x = json_object_get(root, "method");
    if (!json_is_string(x) ||
        strcmp(json_string_value(x), method == AIOS__MF_SHARDS ? "shards" : "files") != 0)
        goto out;
    x = json_object_get(root, "hash_type");
    if (!json_is_string(x) ||
        strcmp(json_string_value(x), ht == AIOS__MF_BLAKE2B ? "blake2b" : "sha256") != 0)
        goto out;
    if (!get_u64(root, "shard_size", &v) || v != (method == AIOS__MF_SHARDS ? shard_size : 0))
        goto out;
    files = json_object_get(root, "files");
    if (!json_is_array(files) || (n = json_array_size(files)) > AIOS__MF_RESOURCES_MAX)
        goto out;
    for (i = 0; i < n; i++) {
        const json_t *f = json_array_get(files, i), *p = json_object_get(f, "path"),
                     *d = json_object_get(f, "digests");
        size_t hl;
        if (!json_is_string(p) || !json_is_string(d))
            goto out;
        hl = json_string_length(d);
        if (hl == 0 || hl % (2 * dl) != 0 || hl / (2 * dl) > AIOS__MF_RESOURCES_MAX)
            goto out;
        ndig += hl / (2 * dl);
        names += json_string_length(p) + 1;
        if (ndig > AIOS__MF_RESOURCES_MAX)
            goto out;
    }
    c->digest_len = dl;
    if (n && ((c->e = aios__calloc(n, sizeof(*c->e))) == NULL ||
              (c->digests = aios__calloc(ndig, dl)) == NULL ||
              (c->names = aios__malloc(names)) == NULL))
        goto out;
    np = c->names;
    ndig = 0;
    for (i = 0; i < n; i++) {
        const json_t *f = json_array_get(files, i), *p = json_object_get(f, "path"),
                     *d = json_object_get(f, "digests");
        cache_entry *e = &c->e[i];
        size_t pl = json_string_length(p), cnt = json_string_length(d) / (2 * dl);
        if (memchr(json_string_value(p), 0, pl) != NULL)
            goto out;
        if (!get_u64(f, "dev", &e->dev) || !get_u64(f, "ino", &e->ino) ||
            !get_u64(f, "size", &e->size) || !get_time(f, "mtime", &e->mt_s, &e->mt_ns) ||
            !get_time(f, "ctime", &e->ct_s, &e->ct_ns))
            goto out;
        if (method == AIOS__MF_SHARDS) {
            uint64_t want = (e->size + shard_size - 1) / shard_size;
            if (cnt != want)
                goto out;
        } else if (cnt != 1) {
            goto out;
        }
        {
            size_t outl = 0;
            if (aios__hex_decode(c->digests + ndig * dl, cnt * dl, &outl, json_string_value(d),
                                 2 * cnt * dl) != AIOS_OK || outl != cnt * dl)
                goto out;
        }
        memcpy(np, json_string_value(p), pl + 1);
        e->path = np;
        np += pl + 1;
        e->first = ndig;
        e->count = cnt;
        ndig += cnt;
    }
    c->n = n;
    if (n > 1) {
        qsort(c->e, n, sizeof(*c->e), entry_cmp);
        for (i = 1; i < n; i++)
            if (strcmp(c->e[i - 1].path, c->e[i].path) == 0)
                goto out;
    }
    ok = 1;
out:
    json_decref(root);
    if (!ok) {
        aios__free(c->e);
        aios__free(c->digests);
        aios__free(c->names);
        memset(c, 0, sizeof(*c));
    }
    return ok;
}

int aios__mf_statcache_parse(aios__mf_statcache **out, const char *text, size_t len,
                             aios__mf_profile profile, aios__mf_method method,
                             aios__mf_hash_type hash_type, uint64_t shard_size)
{
    aios__mf_statcache *c = aios__calloc(1, sizeof(*c));
    *out = NULL;
    if (c == NULL)
        return aios__nomem("a stat cache");
    (void)parse(c, text, len, profile, method, hash_type, shard_size);
    *out = c;
    return AIOS_OK;
}

int aios__mf_statcache_load(aios__mf_statcache **out, const char *path, aios__mf_profile profile,
                            aios__mf_method method, aios__mf_hash_type hash_type,
                            uint64_t shard_size)
{
    struct stat st;
    char *text = NULL;
    size_t got = 0;
    int fd, rc;

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
    /* A cache is trusted with digests the signer will sign unread, so only
     * one this user could have written: owned by the effective user and
     * writable by nobody else.  Any other is no cache (everything is
     * hashed), never an error. */
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
        (st.st_mode & (S_IWGRP | S_IWOTH)) == 0 && st.st_size > 0 &&
        (size_t)st.st_size <= CACHE_MAX && (text = aios__malloc((size_t)st.st_size)) != NULL) {
        while (got < (size_t)st.st_size) {
            ssize_t r = read(fd, text + got, (size_t)st.st_size - got);
            if (r <= 0)
                break;
            got += (size_t)r;
        }
    }
    if (fd >= 0)
        close(fd);
    rc = aios__mf_statcache_parse(out, text ? text : "", text && got == (size_t)st.st_size ? got : 0,
                                  profile, method, hash_type, shard_size);
    aios__free(text);
    return rc;
}

const uint8_t *aios__mf_statcache_lookup(const aios__mf_statcache *c, const aios__mf_entry *e,
                                         size_t *count)
{
    size_t lo = 0, hi;
    if (c == NULL || c->n == 0)
        return NULL;
    hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = strcmp(c->e[mid].path, e->path);
        if (r == 0) {
            const cache_entry *x = &c->e[mid];
            if (x->dev != e->dev || x->ino != e->ino || x->size != e->size ||
                x->mt_s != e->mtime_sec || x->mt_ns != e->mtime_nsec || x->ct_s != e->ctime_sec ||
                x->ct_ns != e->ctime_nsec)
                return NULL;
            *count = x->count;
            return c->digests + x->first * c->digest_len;
        }
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static json_t *time_pair(int64_t s, int64_t ns)
{
    json_t *a = json_array();
    if (a && (json_array_append_new(a, json_integer((json_int_t)s)) ||
              json_array_append_new(a, json_integer((json_int_t)ns)))) {
        json_decref(a);
        return NULL;
    }
    return a;
}

int64_t aios__mf_statcache_racy_ns = 100000000;

int64_t aios__mf_now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return INT64_MAX;   /* no clock: nothing is recorded */
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* 1 if e may still change unseen (see manifest_obj.h). */
/* s seconds and ns nanoseconds as nanoseconds, saturated (ext4 allows
 * times past 2262, which do not fit). */
static int64_t ns_since_epoch(int64_t s, int64_t ns)
{
    if (s >= INT64_MAX / 1000000000)
        return INT64_MAX;
    if (s <= INT64_MIN / 1000000000)
        return INT64_MIN;
    return s * 1000000000 + ns;
}

static int racy(const aios__mf_entry *e, int64_t walk_started_ns)
{
    int64_t m = ns_since_epoch(e->mtime_sec, e->mtime_nsec);
    int64_t c = ns_since_epoch(e->ctime_sec, e->ctime_nsec);
    int64_t t = m > c ? m : c, margin;
    if (aios__mf_statcache_racy_ns < 0)
        return 0;
    margin = (e->mtime_nsec == 0 && e->ctime_nsec == 0) ? INT64_C(2000000000)
                                                       : aios__mf_statcache_racy_ns;
    return t >= walk_started_ns - margin;
}

int aios__mf_statcache_save(const char *path, const aios__mf_walk *w, const aios_manifest *m,
                            int64_t walk_started_ns)
{
    json_t *root = json_object(), *files = json_array();
    char *hex = NULL, *text;
    size_t i, k, dl = m->st->hash_type == AIOS__MB_BLAKE2B ? 64 : 32, maxc = 1;
    int bad = 0, rc;

    for (i = 0; i < m->npaths; i++)
        if (m->paths[i].count > maxc)
            maxc = m->paths[i].count;
    hex = aios__malloc(maxc * dl * 2 + 1);
    if (root == NULL || files == NULL || hex == NULL) {
        json_decref(root);
        json_decref(files);
        aios__free(hex);
        return aios__nomem("the stat cache");
    }
    bad |= json_object_set_new(root, "aios_manifest_stat_cache", json_integer(CACHE_VERSION));
    bad |= json_object_set_new(root, "profile", json_string(prof_name(m->profile)));
    bad |= json_object_set_new(root, "method",
                               json_string(m->st->method == AIOS__MB_SHARDS ? "shards" : "files"));
    bad |= json_object_set_new(root, "hash_type", json_string(m->st->hash_type == AIOS__MB_BLAKE2B
                                                              ? "blake2b" : "sha256"));
    bad |= json_object_set_new(root, "shard_size", json_integer(m->st->method == AIOS__MB_SHARDS
                                                                ? (json_int_t)m->st->shard_size : 0));
    for (i = 0; i < w->n && !bad; i++) {
        const aios__mf_entry *e = &w->entries[i];
        const aios__mf_path *p = aios__mf_manifest_find(m, e->path, e->path_len);
        json_t *f;
        if (p == NULL && w->single_file && m->npaths == 1)
            p = &m->paths[0];
        if (p == NULL)
            continue;   /* an empty file in a shard manifest */
        if (racy(e, walk_started_ns))
            continue;   /* racily clean: hashed again next time */
        for (k = 0; k < p->count; k++)
            (void)aios__hex_encode(hex + 2 * k * dl, 2 * dl + 1, aios__mf_res(m, p, k)->digest, dl);
        f = json_object();
        bad |= json_object_set_new(f, "path", json_stringn(e->path, e->path_len));
        bad |= json_object_set_new(f, "dev", json_integer((json_int_t)e->dev));
        bad |= json_object_set_new(f, "ino", json_integer((json_int_t)e->ino));
        bad |= json_object_set_new(f, "size", json_integer((json_int_t)e->size));
        bad |= json_object_set_new(f, "mtime", time_pair(e->mtime_sec, e->mtime_nsec));
        bad |= json_object_set_new(f, "ctime", time_pair(e->ctime_sec, e->ctime_nsec));
        bad |= json_object_set_new(f, "digests", json_stringn(hex, 2 * p->count * dl));
        bad |= json_array_append_new(files, f);
    }
    bad |= json_object_set_new(root, "files", files);
    aios__free(hex);
    if (bad) {
        json_decref(root);
        return aios__nomem("the stat cache");
    }
    text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (text == NULL)
        return aios__nomem("the stat cache");
    rc = aios__mf_write_file_atomic(path, (const uint8_t *)text, strlen(text), "stat cache", 0600);
    free(text);
    return rc;
}
