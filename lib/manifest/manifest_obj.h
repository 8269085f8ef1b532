/*
 * lib/manifest: the aios_manifest object shared by manifest.c (sign,
 * verify, accessors), diff.c (whole-model verification), stream.c
 * (incremental verification) and statcache.c (incremental re-signing).
 */
#ifndef AIOS_LIB_MANIFEST_MANIFEST_OBJ_H
#define AIOS_LIB_MANIFEST_MANIFEST_OBJ_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "aios/manifest.h"
#include "bundle.h"
#include "manifest_internal.h"

/* One path the manifest names, and its resources (files: one; shards:
 * the shards in offset order, through order[first .. first+count)). */
typedef struct aios__mf_path {
    const char *path;        /* borrowed from the statement; NUL-terminated copy in names_ */
    size_t      path_len;
    size_t      first, count;
    uint64_t    size;        /* shards: the last shard's end; files: unknown (UINT64_MAX) */
} aios__mf_path;

struct aios_manifest {
    atomic_int           refs;
    uint32_t             flags;        /* AIOS_MANIFEST_F_* */
    aios__mf_profile     profile;
    aios__mb_statement  *st;
    aios__mf_path       *paths;        /* sorted by bytes (memcmp, shorter first) */
    size_t               npaths;
    size_t              *order;        /* resource indices grouped by path */
    char                *path_names;   /* the NUL-terminated paths of shards */
    char                *signer_json;  /* NULL: not signed */
};

/* Wrap a parsed statement (taken over) in a manifest with its index. */
int aios__mf_manifest_new(aios_manifest **out, aios__mb_statement *st, aios__mf_profile profile,
                          uint32_t flags, char *signer_json);

/* The manifest's entry for path (exact bytes), or NULL. */
const aios__mf_path *aios__mf_manifest_find(const aios_manifest *m, const char *path,
                                            size_t len);
/* The resource of index order[k]. */
static inline const aios__mb_resource *aios__mf_res(const aios_manifest *m, const aios__mf_path *p,
                                                    size_t k)
{
    return &m->st->resources[m->order[p->first + k]];
}

/* Options (manifest.c): the caller's struct copied and defaulted. */
int aios__mf_hash_opts(aios_manifest_hash_options *out, const aios_manifest_hash_options *in);
int aios__mf_verify_opts(aios_manifest_verify_options *out, const aios_manifest_verify_options *in);

/* The internal hash type of a manifest. */
aios__mf_hash_type aios__mf_manifest_hash_type(const aios_manifest *m);

/* Stat cache (statcache.c, MANIFEST.md 12.8). */
typedef struct aios__mf_statcache aios__mf_statcache;
/* Load path if it exists and matches (profile, method, hash, shard size);
 * a missing, stale or unreadable cache gives an empty one (never an error
 * but for memory).  */
int aios__mf_statcache_load(aios__mf_statcache **out, const char *path, aios__mf_profile profile,
                            aios__mf_method method, aios__mf_hash_type hash_type,
                            uint64_t shard_size);
/* The cached digests of e if its device, inode, size, mtime and ctime all
 * match: count digests of digest_len bytes each (files: 1; shards: one per
 * shard in offset order).  NULL if not cached. */
/* The same over bytes in memory (the fuzz target's entry). */
int aios__mf_statcache_parse(aios__mf_statcache **out, const char *text, size_t len,
                             aios__mf_profile profile, aios__mf_method method,
                             aios__mf_hash_type hash_type, uint64_t shard_size);
const uint8_t *aios__mf_statcache_lookup(const aios__mf_statcache *c, const aios__mf_entry *e,
                                         size_t *count);
void aios__mf_statcache_free(aios__mf_statcache *c);
/* Write the cache for a walk and the manifest made from it (atomically).
 * walk_started_ns: the wall clock (ns since the epoch) just before the
 * walk.  A file whose mtime or ctime is within the margin of it is not
 * recorded ("racily clean", as git calls it): it could have changed again
 * after we read it, within the same timestamp tick, leaving its stat as it
 * was, and the cache would then hold a stale digest.  The margin is
 * aios__mf_statcache_racy_ns (100 ms: kernel timestamps are jiffy-coarse
 * on many file systems), or 2 s for a file whose timestamps carry no
 * nanoseconds (FAT, some NFS and SMB mounts: whole seconds or worse). */
int aios__mf_statcache_save(const char *path, const aios__mf_walk *w, const aios_manifest *m,
                            int64_t walk_started_ns);
extern int64_t aios__mf_statcache_racy_ns;   /* tests may set it negative: no margin at all */
int64_t aios__mf_now_ns(void);

/* If path lies inside the model directory, its canonical path relative to
 * it (a new string) in *rel, else NULL; AIOS_E_INVALID_ARGUMENT if path
 * exists and is not a regular file (what names it in messages). */
int aios__mf_inside_model(char **rel, const char *model_path, const char *path, const char *what);

/* A new buffer holding s[0..n) (manifest.c). */
int aios__mf_text_buffer(aios_buffer **out, const char *s, size_t n, const char *what);

/* Write data to path atomically and durably (an unnamed O_TMPFILE file,
 * else a mkostemp one; fsync, rename, fsync the directory).  Tests set
 * aios__mf_atomic_portable to take the mkostemp way. */
int aios__mf_write_file_atomic(const char *path, const uint8_t *data, size_t len,
                               const char *what, mode_t mode);
extern int aios__mf_atomic_portable;
/* Writes that went the O_TMPFILE way (for tests). */
unsigned long aios__mf_atomic_tmpfile_writes(void);

#endif /* AIOS_LIB_MANIFEST_MANIFEST_OBJ_H */
