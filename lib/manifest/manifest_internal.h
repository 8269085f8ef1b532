/*
 * lib/manifest: internal API of the model walker (walk.c) and the parallel
 * hasher (hash.c), docs/MANIFEST.md sections 5.3-5.6, 6 and 10.  Nothing
 * here is public yet; include/aios/manifest.h will be built on it.
 *
 * walk:  model path (a directory, or a regular file) -> the sorted list of
 *        entries (relative path -> regular file, with the size, device,
 *        inode and mtime seen), after ignore paths, symlink and special
 *        file rules and name checks.  Every directory below the root is
 *        reached by openat() relative to a descriptor with O_NOFOLLOW; a
 *        symlink is never followed out of the root.
 * hash:  walk -> resources (files, or shards path:start:end) in the
 *        profile's order with their digests, and the root digest; on a
 *        bounded pool of threads with large sequential reads into one
 *        buffer per thread, so memory is threads x read size whatever the
 *        model size.  Each file is opened once, beneath the root, without
 *        following symlinks, and fstat'd to check it is still the regular
 *        file of the size the walk saw.
 *
 * Threading: a walk and a result are immutable once returned and may be
 * read from any number of threads; the progress callback is never called
 * from two threads at once, but may run on a pool thread.
 */
#ifndef AIOS_LIB_MANIFEST_MANIFEST_INTERNAL_H
#define AIOS_LIB_MANIFEST_MANIFEST_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "aios/core.h"
#include "crypto/crypto.h"

/* ---- statuses: the manifest block of include/aios/core.h. */
#define AIOS__E_MANIFEST_PATH          AIOS_E_MANIFEST_PATH
#define AIOS__E_MANIFEST_SYMLINK       AIOS_E_MANIFEST_SYMLINK
#define AIOS__E_MANIFEST_SPECIAL_FILE  AIOS_E_MANIFEST_SPECIAL_FILE
#define AIOS__E_MANIFEST_CHANGED       AIOS_E_MANIFEST_CHANGED

/* ---- limits (MANIFEST.md 5.3 and 10) */
#define AIOS__MF_PATH_MAX         4096u      /* bytes of a relative path */
#define AIOS__MF_COMPONENT_MAX    255u       /* bytes of one component */
#define AIOS__MF_COMPONENTS_MAX   128u       /* components of a path */
#define AIOS__MF_DEPTH_MAX        128u       /* directory depth of the walk */
#define AIOS__MF_RESOURCES_MAX    1048576u   /* AIOS_MANIFEST_RESOURCES_MAX */
#define AIOS__MF_IGNORE_MAX       1024u      /* caller's ignore paths */
#define AIOS__MF_THREADS_MAX      256u
#define AIOS__MF_READ_SIZE        (4u << 20) /* default read size per thread */
#define AIOS__MF_READ_SIZE_MIN    (64u << 10)
#define AIOS__MF_READ_SIZE_MAX    (64u << 20)
#define AIOS__MF_SHARD_DEFAULT    1000000000u
#define AIOS__MF_SHARD_READ_MAX   (UINT64_C(1) << 53)   /* shard_size on input */
#define AIOS__MF_SHARD_WRITE_MIN  (UINT64_C(1) << 20)   /* shard_size when signing */
#define AIOS__MF_SHARD_WRITE_MAX  (UINT64_C(1) << 40)
#define AIOS__MF_SYMLINK_HOPS     40u        /* more is a loop (as Linux's ELOOP) */

/* Profiles (the values of the proposed aios_manifest_profile). */
typedef enum aios__mf_profile {
    AIOS__MF_PROFILE_MODEL_SIGNING_1 = 0,   /* component order, single file named "." */
    AIOS__MF_PROFILE_OMS_1_0         = 1    /* code-point order, single file named by its basename */
} aios__mf_profile;

typedef enum aios__mf_method { AIOS__MF_FILES = 0, AIOS__MF_SHARDS = 1 } aios__mf_method;
typedef enum aios__mf_hash_type { AIOS__MF_SHA256 = 0, AIOS__MF_BLAKE2B = 1 } aios__mf_hash_type;

/* ---- names (walk.c)
 *
 * aios__mf_path_check: 0 if p[0..len) is a canonical relative path of
 * MANIFEST.md 5.3 (valid UTF-8, 1..4096 bytes, no NUL, not absolute,
 * components 1..255 bytes, none empty, "." or "..", at most 128 of them),
 * else AIOS__E_MANIFEST_PATH with a message naming `what`. */
int aios__mf_path_check(const char *p, size_t len, const char *what);

/* Orders of MANIFEST.md 5.3, as memcmp-style results.  Component order:
 * bytes compared with '/' taken as 0x00, a prefix first (names hold no
 * NUL).  Code-point order: plain bytes (UTF-8 keeps code-point order). */
int aios__mf_cmp_components(const char *a, size_t alen, const char *b, size_t blen);
int aios__mf_cmp_codepoints(const char *a, size_t alen, const char *b, size_t blen);
int aios__mf_cmp_profile(aios__mf_profile profile, const char *a, size_t alen,
                         const char *b, size_t blen);

/* ---- walk (walk.c) */

typedef struct aios__mf_entry {
    const char *path;        /* relative path, NUL-terminated ("." or the
                                basename for a single-file model) */
    size_t      path_len;
    const char *open_path;   /* what to open beneath the root: path itself,
                                or a symlink's resolved target; NULL for a
                                single-file model (the walk holds its fd) */
    uint64_t    size;
    uint64_t    dev, ino;    /* of the file whose bytes are hashed */
    int64_t     mtime_sec;
    int64_t     mtime_nsec;
    int64_t     ctime_sec;   /* the inode change time: cannot be set back */
    int64_t     ctime_nsec;
    int         via_symlink; /* the entry is a symlink to a regular file */
} aios__mf_entry;

typedef struct aios__mf_walk {
    int               root_fd;      /* the root directory, or the single file */
    int               single_file;  /* 1: entries[0] is the model file itself */
    aios__mf_profile  profile;
    aios__mf_entry   *entries;      /* sorted in the profile's order */
    size_t            n;
    uint64_t          total_bytes;  /* sum of the entries' sizes */
    struct aios__mf_arena *arena_;  /* internal: owns the path strings */
    size_t            cap_;         /* internal: entries allocated */
} aios__mf_walk;

/* Progress: bytes hashed so far / total (after the walk); path is the
 * entry in progress.  Non-zero stops the run with AIOS_E_CANCELLED. */
typedef int (*aios__mf_progress_fn)(uint64_t done, uint64_t total, const char *path,
                                    void *payload);

typedef struct aios__mf_walk_options {
    aios__mf_profile   profile;
    int                allow_symlinks;    /* MANIFEST.md 5.5.4 */
    int                no_git_defaults;   /* drop .git, .gitattributes, .github, .gitignore */
    const char *const *ignore_paths;      /* canonical relative paths (5.3), at most 1024 */
    size_t             ignore_paths_len;
    int                exclude_file;      /* 1: skip the file with this device and inode */
    uint64_t           exclude_dev, exclude_ino;   /* (the bundle being verified, 5.5.3) */
    size_t             max_entries;       /* 0 = AIOS__MF_RESOURCES_MAX; lower caps only */
    aios__mf_progress_fn progress;        /* optional: called (0, 0, directory) every 256
                                             entries; non-zero cancels (AIOS_E_CANCELLED);
                                             never on two threads at once */
    void              *progress_payload;
    uint32_t           threads;           /* 0 or 1: the caller's thread only; more: up to
                                             that many threads list directories at once */
} aios__mf_walk_options;

/* Walk model_path (a directory, or a regular file: single-file model).  A
 * symlink *as* model_path is followed (the caller's choice); nothing below
 * it is.  opts NULL = defaults.  Statuses: AIOS_E_NOT_FOUND (model path
 * absent), AIOS__E_MANIFEST_PATH (a name breaks 5.3, or an ignore path is
 * not canonical), AIOS__E_MANIFEST_SYMLINK, AIOS__E_MANIFEST_SPECIAL_FILE,
 * AIOS_E_IO (with errno text: unreadable directory, ...), AIOS_E_LIMIT
 * (entries, depth, ignore paths), AIOS_E_NOMEM, AIOS_E_INVALID_ARGUMENT.
 * Messages name the offending relative path.  An empty model is not an
 * error here (n == 0): the signer refuses it, the verifier reports what
 * is missing. */
int aios__mf_walk_path(aios__mf_walk **out, const char *model_path,
                       const aios__mf_walk_options *opts);
/* The same over an open directory descriptor (duplicated; the caller keeps
 * its own). */
int aios__mf_walk_dirfd(aios__mf_walk **out, int dir_fd, const aios__mf_walk_options *opts);
void aios__mf_walk_free(aios__mf_walk *w);   /* NULL ok; closes root_fd */
/* How many threaded walks ran out of descriptors and were done again on
 * one thread, since the process started (for tests). */
size_t aios__mf_walk_fd_retries(void);
/* How many times a hashing worker waited for a descriptor (for tests). */
size_t aios__mf_hash_fd_waits(void);

/* Open rel (a canonical relative path) beneath dir_fd for reading, never
 * following a symlink in any component and never leaving dir_fd
 * (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS where the kernel has it,
 * else component by component with O_NOFOLLOW).  flags are added to
 * O_RDONLY|O_CLOEXEC|O_NOFOLLOW|O_NOCTTY.  Returns the descriptor, or -1
 * with errno set (ELOOP for a symlink). */
int aios__mf_open_beneath(int dir_fd, const char *rel, int flags);

/* ---- hash (hash.c) */

/* One digest of the manifest's hash type (64 bytes out for blake2b). */
typedef struct aios__mf_hasher {
    aios__mf_hash_type t;
    aios__sha256_ctx   sha;
    aios__blake2b_ctx  b2;
} aios__mf_hasher;
void aios__mf_hasher_init(aios__mf_hasher *h, aios__mf_hash_type t);
void aios__mf_hasher_update(aios__mf_hasher *h, const uint8_t *p, size_t n);
void aios__mf_hasher_final(aios__mf_hasher *h, uint8_t *out);
/* Online CPUs, 1 .. AIOS__MF_THREADS_MAX: what threads = 0 means. */
uint32_t aios__mf_online_cpus(void);


typedef struct aios__mf_hash_options {
    aios__mf_method      method;
    aios__mf_hash_type   hash_type;
    uint64_t             shard_size;   /* shards: 0 = 1 000 000 000; 1..2^53 */
    uint32_t             threads;      /* 0 = online CPUs (at most 256); 1 = caller only */
    uint32_t             read_size;    /* 0 = 4 MiB; 64 KiB..64 MiB */
    aios__mf_progress_fn progress;
    void                *progress_payload;
    const volatile int  *cancel;       /* optional: non-zero stops between blocks */
    int                  for_signing;  /* writer rules: shard_size 1 MiB..2^40, and
                                          no ':' in shard paths in model-signing-1 */
} aios__mf_hash_options;

typedef struct aios__mf_resource {
    const char           *name;     /* files: the entry path; shards: "path:start:end" */
    size_t                name_len;
    const aios__mf_entry *entry;    /* borrowed from the walk */
    uint64_t              start, end;   /* the byte range hashed (files: 0..size) */
    uint8_t               digest[64];
} aios__mf_resource;

typedef struct aios__mf_result {
    aios__mf_resource *res;         /* in the profile's order (5.3) */
    size_t             n;
    size_t             digest_len;  /* 32 (sha256) or 64 (blake2b) */
    aios__mf_method    method;
    aios__mf_hash_type hash_type;
    uint64_t           shard_size;  /* shards only */
    uint8_t            root[32];    /* MANIFEST.md 6 */
    char              *names_;      /* internal: shard names */
} aios__mf_result;

/* Hash the walk's entries.  The result borrows the walk's entries and
 * strings: free it before the walk.  Shards mode gives no resource for an
 * empty file (5.4).  Statuses: AIOS__E_MANIFEST_CHANGED (a file replaced,
 * resized or truncated since the walk, or while it was read),
 * AIOS_E_IO (errno text, the path named), AIOS_E_CANCELLED, AIOS_E_LIMIT
 * (resource count), AIOS_E_INVALID_ARGUMENT (threads, sizes),
 * AIOS__E_MANIFEST_PATH (':' in a shard path when signing in
 * model-signing-1), AIOS_E_NOMEM. */
int aios__mf_hash(aios__mf_result **out, const aios__mf_walk *w,
                  const aios__mf_hash_options *opts);
void aios__mf_result_free(aios__mf_result *r);   /* NULL ok */

/* root = SHA-256(digest_0 || ... || digest_{n-1}) over the resources in
 * the order given (MANIFEST.md 6). */
void aios__mf_root_digest(uint8_t out[32], const aios__mf_resource *res, size_t n,
                          size_t digest_len);

#endif /* AIOS_LIB_MANIFEST_MANIFEST_INTERNAL_H */
