/*
 * libaios manifest: signed model manifests in the OpenSSF Model Signing
 * (OMS) format (docs/MANIFEST.md).
 *
 * A model (a directory, or a single file) is described by the digest of
 * every file (method FILES) or of every fixed-size shard of every file
 * (method SHARDS), listed in an in-toto statement whose subject digest,
 * the "root digest", is the model's identity.  The statement is signed
 * in a DSSE envelope inside a Sigstore bundle (v0.3 JSON): the files the
 * `model_signing` tool (PyPI `model-signing`) writes and verifies.
 *
 *   sign:     aios_manifest_sign (a key handle: local, PKCS#11, callback;
 *             ECDSA P-256/P-384 interoperate, Ed25519 is a libaios
 *             extension model_signing cannot verify).  With a certificate
 *             chain in the options the bundle uses the certificate method.
 *   trust:    aios_manifest_verify_key / aios_manifest_verify_certificate
 *             check the bundle alone and return a verified, immutable,
 *             shareable manifest; nothing of the model is read.
 *   content:  aios_manifest_verify_dir (the whole model: a structured diff
 *             of missing, extra and modified files), or incrementally:
 *             aios_manifest_verify_file / _verify_range, and streams that
 *             verify a file while a loader reads it (one descriptor,
 *             opened beneath the model root without following symlinks).
 *
 * Threads: an aios_manifest is immutable and may be used by any number of
 * threads at once.  A diff or a stream belongs to one thread at a time.
 * The progress callback may run on the library's threads (those that list
 * the model's folders, then those that hash it), but never on two threads
 * at once.
 */
#ifndef AIOS_MANIFEST_H
#define AIOS_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "aios/core.h"
#include "aios/export.h"
#include "aios/key.h"

AIOS_BEGIN_DECLS

/* ============================================================ types */

typedef struct aios_manifest        aios_manifest;         /* immutable, refcounted */
typedef struct aios_manifest_diff   aios_manifest_diff;    /* owned by the caller */
typedef struct aios_manifest_stream aios_manifest_stream;  /* one file read through the verifier */

/* Profiles (MANIFEST.md 14): what is written, and the few places where
 * reading is stricter.  The default is what the released model_signing
 * 1.x tool accepts. */
typedef enum aios_manifest_profile {
    AIOS_MANIFEST_PROFILE_MODEL_SIGNING_1 = 0,   /* default */
    AIOS_MANIFEST_PROFILE_OMS_1_0         = 1,   /* the OMS specification v1.0 */
    AIOS_MANIFEST_PROFILE__FORCE32        = 0x7fffffff
} aios_manifest_profile;

typedef enum aios_manifest_method {
    AIOS_MANIFEST_FILES  = 0,    /* one digest per file */
    AIOS_MANIFEST_SHARDS = 1,    /* one digest per shard "path:start:end" */
    AIOS_MANIFEST_METHOD__FORCE32 = 0x7fffffff
} aios_manifest_method;

/* The time at which a certificate chain must be valid (MANIFEST.md 7.4). */
typedef enum aios_manifest_time {
    AIOS_MANIFEST_TIME_PROFILE         = 0,  /* leaf notBefore (model-signing-1) or now (oms-1.0).
                                                Note: at the leaf's notBefore (what model_signing
                                                does), an expired chain still verifies; choose NOW
                                                where that matters */
    AIOS_MANIFEST_TIME_LEAF_NOT_BEFORE = 1,
    AIOS_MANIFEST_TIME_NOW             = 2,
    AIOS_MANIFEST_TIME_FIXED           = 3,  /* verify options' fixed_time */
    AIOS_MANIFEST_TIME__FORCE32        = 0x7fffffff
} aios_manifest_time;

/* Hash option flags. */
#define AIOS_MANIFEST_NO_GIT_DEFAULTS      0x1u  /* also hash .git, .gitattributes, .github, .gitignore */

/* Verify option flags. */
#define AIOS_MANIFEST_VERIFY_IGNORE_HINT   0x1u  /* key method: do not compare the bundle's key hint */
#define AIOS_MANIFEST_VERIFY_IGNORE_UNSIGNED 0x2u /* verify_dir: files the manifest does not name are
                                                    not reported (the walk still visits them: a
                                                    special file or bad name anywhere still fails) */
#define AIOS_MANIFEST_VERIFY_STRICT_EMPTY  0x4u  /* shards: an extra empty file fails too */
#define AIOS_MANIFEST_VERIFY_NO_LEGACY     0x8u  /* refuse model_signing 0.2 bundles (legacy PAE) */

/* aios_manifest_flags() bits. */
#define AIOS_MANIFEST_F_VERIFIED        0x1u   /* the signature was verified against the caller's trust */
#define AIOS_MANIFEST_F_SIGNED          0x2u   /* made by aios_manifest_sign (by this process) */
#define AIOS_MANIFEST_F_LEGACY          0x4u   /* a model_signing 0.2 (Digests/v0.1) bundle */
#define AIOS_MANIFEST_F_KEYLESS         0x8u   /* a Sigstore keyless bundle (verified only by aios_manifest_verify_sigstore) */
#define AIOS_MANIFEST_F_ALLOW_SYMLINKS  0x10u  /* signed with symlinks allowed */
#define AIOS_MANIFEST_F_SINGLE_FILE     0x20u  /* the model is one file */

/* Progress: bytes hashed so far out of total (known after the walk), and
 * the path in progress; while the model is still being listed, done and
 * total are 0 and path is the directory being read (every 256 entries).
 * A non-zero return stops the operation with AIOS_E_CANCELLED soon after
 * (at the next read block, or the next 256 entries listed). */
typedef int (*aios_manifest_progress_cb)(uint64_t done, uint64_t total, const char *path,
                                         void *payload);

/* ============================================================ options */

/* Embedded by value in the sign and verify options, so it can never grow:
 * version 1 forever.  New hashing options are appended to the outer
 * structs (their own versions) instead. */
#define AIOS_MANIFEST_HASH_OPTIONS_VERSION 1
typedef struct aios_manifest_hash_options {
    unsigned int              version;          /* AIOS_MANIFEST_HASH_OPTIONS_VERSION */
    uint32_t                  threads;          /* 0 = online CPUs (at most 256); 1 = the caller's thread
                                                   (for listing the model's folders and for hashing) */
    uint32_t                  read_size;        /* read buffer per thread: 0 = 4 MiB; 64 KiB .. 64 MiB
                                                   (shared by the two files a thread hashes at
                                                   once on a 2-lane SHA-256 kernel) */
    uint32_t                  flags;            /* AIOS_MANIFEST_NO_GIT_DEFAULTS */
    const char *const        *ignore_paths;     /* canonical relative paths (MANIFEST.md 5.3) */
    size_t                    ignore_paths_len; /* at most 1024 */
    aios_manifest_progress_cb progress;         /* optional */
    void                     *progress_payload;
} aios_manifest_hash_options;
#define AIOS_MANIFEST_HASH_OPTIONS_INIT { AIOS_MANIFEST_HASH_OPTIONS_VERSION, 0, 0, 0, NULL, 0, NULL, NULL }
AIOS_API int aios_manifest_hash_options_init(aios_manifest_hash_options *opts, unsigned int version);

#define AIOS_MANIFEST_SIGN_OPTIONS_VERSION 1
typedef struct aios_manifest_sign_options {
    unsigned int          version;          /* AIOS_MANIFEST_SIGN_OPTIONS_VERSION */
    aios_manifest_profile profile;
    aios_manifest_method  method;           /* FILES (default) or SHARDS */
    const char           *hash_type;        /* NULL or "sha256" (default), "blake2b" */
    uint64_t              shard_size;       /* SHARDS: 0 = 1 000 000 000; 1 MiB .. 2^40 */
    uint32_t              allow_symlinks;   /* 1: symlinks to files inside the model are hashed */
    const char           *subject_name;     /* NULL = the model directory's (or file's) basename */
    const char           *bundle_path;      /* if set: the bundle is also written there
                                               (atomically); inside the model it is excluded
                                               and recorded in ignore_paths */
    const char           *provenance_json;  /* NULL or a JSON object (MANIFEST.md 5.7), signed;
                                               checked against 5.7 before hashing */
    /* Certificate method: the leaf certificate (whose public key is the
     * signing key's) and intermediates, DER, leaf first, no root. */
    const uint8_t *const *chain_der;
    const size_t         *chain_der_lens;
    size_t                chain_len;
    /* Incremental re-signing: a stat cache (a file libaios owns, MANIFEST.md
     * 12.8).  Files whose device, inode, size, mtime and ctime match the
     * cache's reuse its digests; the cache is rewritten after signing (and
     * by aios_manifest_hash).  Only a cache owned by the effective user and
     * writable by neither group nor others is used (its digests are signed
     * unread); keep it where only that user can write. */
    const char           *stat_cache_path;
    aios_manifest_hash_options hash;
} aios_manifest_sign_options;
#define AIOS_MANIFEST_SIGN_OPTIONS_INIT { AIOS_MANIFEST_SIGN_OPTIONS_VERSION, \
    AIOS_MANIFEST_PROFILE_MODEL_SIGNING_1, AIOS_MANIFEST_FILES, NULL, 0, 0, NULL, NULL, NULL, \
    NULL, NULL, 0, NULL, AIOS_MANIFEST_HASH_OPTIONS_INIT }
AIOS_API int aios_manifest_sign_options_init(aios_manifest_sign_options *opts, unsigned int version);

#define AIOS_MANIFEST_VERIFY_OPTIONS_VERSION 1
typedef struct aios_manifest_verify_options {
    unsigned int          version;        /* AIOS_MANIFEST_VERIFY_OPTIONS_VERSION */
    aios_manifest_profile profile;
    aios_manifest_time    time_policy;    /* certificate method */
    int64_t               fixed_time;     /* seconds since the epoch, for AIOS_MANIFEST_TIME_FIXED */
    uint32_t              flags;          /* AIOS_MANIFEST_VERIFY_* */
    size_t                bundle_max;     /* 0 = aios_manifest_bundle_max(); only lowers it */
    aios_manifest_hash_options hash;      /* for verify_dir / compare_dir */
    const char           *bundle_path;    /* verify_dir / compare_dir: the bundle's file, if it
                                             lies inside the model, is not an extra file */
    const char           *stat_cache_path;/* verify_dir: after a clean result, write the stat
                                             cache, so re-signing this model later hashes only
                                             the files that changed since this verification */
} aios_manifest_verify_options;
#define AIOS_MANIFEST_VERIFY_OPTIONS_INIT { AIOS_MANIFEST_VERIFY_OPTIONS_VERSION, \
    AIOS_MANIFEST_PROFILE_MODEL_SIGNING_1, AIOS_MANIFEST_TIME_PROFILE, 0, 0, 0, \
    AIOS_MANIFEST_HASH_OPTIONS_INIT, NULL, NULL }
AIOS_API int aios_manifest_verify_options_init(aios_manifest_verify_options *opts,
                                               unsigned int version);

/* Limits, for the bindings. */
#define AIOS_MANIFEST_BUNDLE_MAX    ((size_t)64 << 20)   /* bytes of a bundle */
#define AIOS_MANIFEST_RESOURCES_MAX ((size_t)1 << 20)    /* resources of a manifest */
AIOS_API size_t aios_manifest_bundle_max(void);
AIOS_API size_t aios_manifest_resources_max(void);

/* ============================================================ sign */

/* Hash the model at model_path (a directory, or a regular file) and sign
 * the statement with key (purpose SIGN; ECDSA P-256/P-384, or Ed25519
 * outside profile oms-1.0).  bundle_out (may be NULL if opts->bundle_path
 * is set) receives the bundle JSON; manifest_out (may be NULL) the signed
 * manifest (flags SIGNED, not VERIFIED: it is the signer's own view).
 * Statuses: AIOS_E_MANIFEST_EMPTY (nothing to sign), the walk's
 * (AIOS_E_NOT_FOUND, _MANIFEST_PATH, _SYMLINK, _SPECIAL_FILE, AIOS_E_IO,
 * AIOS_E_LIMIT), AIOS_E_MANIFEST_CHANGED, AIOS_E_CANCELLED,
 * AIOS_E_MANIFEST_KEY_MISMATCH (certificate and key differ), and the key
 * module's statuses from signing. */
AIOS_API int aios_manifest_sign(aios_buffer **bundle_out, aios_manifest **manifest_out,
                                const char *model_path, const aios_key *key,
                                const aios_manifest_sign_options *opts);

/* Hash without signing (`aios manifest digest`): an unsigned manifest
 * (flags 0) with the resources and root digest sign would produce. */
AIOS_API int aios_manifest_hash(aios_manifest **out, const char *model_path,
                                const aios_manifest_sign_options *opts);

/* ============================================================ trust */

/* Verify a bundle's signature with public_key (any handle whose public
 * part is readable: aios_key_from_public_pem, a keyring or PKCS#11 key)
 * and parse its statement.  Nothing on disk is read.  On AIOS_OK *out is a
 * verified manifest.  Statuses: AIOS_E_FORMAT, AIOS_E_VERSION,
 * AIOS_E_LIMIT, AIOS_E_MANIFEST_METHOD (not a key bundle),
 * AIOS_E_MANIFEST_KEY_MISMATCH, AIOS_E_AUTH (the signature),
 * AIOS_E_MANIFEST_SIGNATURES, _PREDICATE, _PATH, _DUPLICATE, _EMPTY,
 * _ROOT_DIGEST, AIOS_E_UNSUPPORTED, AIOS_E_KEY_USAGE. */
AIOS_NODISCARD AIOS_API int aios_manifest_verify_key(aios_manifest **out, const uint8_t *bundle,
                                                     size_t bundle_len, const aios_key *public_key,
                                                     const aios_manifest_verify_options *opts);

/* The certificate method: the chain in the bundle must verify to one of
 * the trust anchors (each PEM or DER; every one is trusted), at the time
 * the policy names, and the leaf must allow digitalSignature or code
 * signing.  Extra statuses: AIOS_E_MANIFEST_CHAIN, AIOS_E_MANIFEST_CERT_USAGE. */
AIOS_NODISCARD AIOS_API int aios_manifest_verify_certificate(aios_manifest **out,
        const uint8_t *bundle, size_t bundle_len,
        const uint8_t *const *anchors, const size_t *anchor_lens, size_t anchors_len,
        const aios_manifest_verify_options *opts);

/* Sigstore keyless bundles (`model_signing sign sigstore`, its default):
 * a short-lived Fulcio certificate for an OIDC identity and the
 * signature's entry in the Rekor log, checked against trusted_root, a
 * Sigstore TrustedRoot JSON document (what the Sigstore clients ship and
 * refresh through TUF; libaios fetches nothing) or a ClientTrustConfig
 * holding one (the file `model_signing verify --trust_config` takes).
 * The log entry, Rekor v1
 * (dsse 0.0.1, with its signed entry timestamp) or v2 (hashedrekord
 * 0.0.2), must verify with a log key of the root (its inclusion proof and
 * signed checkpoint are required for both) and name this payload,
 * signature and certificate.  The times the signature is proven to have
 * existed at (v1's integrated time, and each RFC 3161 timestamp that
 * verifies with a timestamp authority of the root; a v2 entry needs one)
 * must be inside the log key's validity, and the certificate must chain to
 * a Fulcio CA of the root valid over all of them.  It must be an end entity with digitalSignature and
 * code signing; its SubjectAltName (email or URI) must equal identity and
 * its OIDC issuer extension oidc_issuer, exactly; one of its embedded
 * SCTs must verify with a CT log key of the root (docs/MANIFEST.md 7.5).
 * opts->time_policy is not used (the proven times are).  Extra statuses:
 * AIOS_E_AUTH (the log entry, the times), AIOS_E_MANIFEST_CHAIN,
 * AIOS_E_MANIFEST_CERT_USAGE, AIOS_E_MANIFEST_KEY_MISMATCH (another
 * identity or issuer), AIOS_E_MANIFEST_METHOD (not a keyless bundle). */
AIOS_NODISCARD AIOS_API int aios_manifest_verify_sigstore(aios_manifest **out,
        const uint8_t *bundle, size_t bundle_len,
        const uint8_t *trusted_root, size_t trusted_root_len,
        const char *identity, const char *oidc_issuer,
        const aios_manifest_verify_options *opts);

/* Parse without trust (inspection, Sigstore keyless bundles): *out is an
 * unverified manifest (aios_manifest_is_verified() == 0). */
AIOS_API int aios_manifest_open(aios_manifest **out, const uint8_t *bundle, size_t bundle_len,
                                const aios_manifest_verify_options *opts);

/* Read a bundle file (bounded by bundle_max before allocating) into a buffer. */
AIOS_API int aios_manifest_read_bundle(aios_buffer **out, const char *path,
                                       const aios_manifest_verify_options *opts);

/* ============================================================ content */

/* Verify the model at model_path against a verified manifest (or one this
 * process signed; else AIOS_E_MANIFEST_UNVERIFIED before any I/O): walk,
 * hash in parallel,
 * compare.  AIOS_OK when every file matches; AIOS_E_MANIFEST_MISMATCH when
 * files are missing, extra or modified.  diff_out (may be NULL) receives
 * the diff on AIOS_OK (empty) and on AIOS_E_MANIFEST_MISMATCH.  The walk
 * and hash statuses of aios_manifest_sign apply. */
AIOS_NODISCARD AIOS_API int aios_manifest_verify_dir(const aios_manifest *m,
        const char *model_path, aios_manifest_diff **diff_out,
        const aios_manifest_verify_options *opts);

/* The same comparison for any manifest, verified or not (inspection). */
AIOS_NODISCARD AIOS_API int aios_manifest_compare_dir(const aios_manifest *m,
        const char *model_path, aios_manifest_diff **diff_out,
        const aios_manifest_verify_options *opts);

/* Incremental verification (verified or signed manifests only, else
 * AIOS_E_MANIFEST_UNVERIFIED).  root_dirfd is an
 * open descriptor of the model directory (for a single-file model: a
 * descriptor of the file itself, and rel_path "."); rel_path is opened
 * beneath it without following any symlink.  A file the manifest does not
 * name: AIOS_E_MANIFEST_NOT_SIGNED.  A different digest:
 * AIOS_E_MANIFEST_MISMATCH.  verify_range hashes only the shards that
 * cover [offset, offset+len) (files method: the whole file); len >= 1 and
 * the range must lie in the file (else AIOS_E_MANIFEST_NOT_SIGNED).  Both
 * read on the calling thread; opts->threads is not used. */
AIOS_NODISCARD AIOS_API int aios_manifest_verify_file(const aios_manifest *m, int root_dirfd,
        const char *rel_path, const aios_manifest_hash_options *opts);
AIOS_NODISCARD AIOS_API int aios_manifest_verify_range(const aios_manifest *m, int root_dirfd,
        const char *rel_path, uint64_t offset, uint64_t len,
        const aios_manifest_hash_options *opts);

/* Streams: read a signed file through the verifier, on one descriptor.
 *
 * aios_manifest_stream_read hands out bytes as they are read and hashes
 * them; aios_manifest_stream_finish then says whether they were the signed
 * bytes (it reads and checks what the caller did not).  The caller MUST
 * NOT use any byte before finish returns AIOS_OK.
 *
 * aios_manifest_stream_read_verified returns only verified bytes: it reads
 * whole units (a shard, or with the files method the whole file) into the
 * caller's buffer, checks them, and only then reports them; buf must hold
 * at least aios_manifest_stream_unit_size() bytes (else
 * AIOS_E_BUFFER_TOO_SMALL).  *len_out == 0 means the end.  After a
 * mismatch the stream is failed: every later call returns the same status.
 * Do not mix the two reading calls on one stream.  With the files method
 * the unit (and stream_size) is the open file's size, which nothing signed
 * bounds before its digest matched: cap it before allocating that much.
 * Streams open rel_path without following any symlink, so an entry that
 * is a symlink in an allow_symlinks model is AIOS_E_MANIFEST_SYMLINK here
 * (verify such a model with aios_manifest_verify_dir).
 *
 * aios_manifest_stream_open reads and hashes on the calling thread only.
 * aios_manifest_stream_new with opts->threads > 1 (0 = online CPUs) hashes
 * on threads of the stream's own, so that reading and hashing overlap:
 *   - read_verified shares the whole units that fit the caller's buffer
 *     between the calling thread and up to threads - 1 helpers started
 *     for the call: each reads its units into their place in the buffer
 *     and hashes them (two at once on a 2-lane SHA-256 kernel when there
 *     are more units than threads).  It returns when every unit is
 *     checked.  One unit is one hash chain: give it a buffer of several
 *     units (at least as many as threads) to use the threads.
 *     Calls of less than 1 MiB of units stay on the calling thread.
 *   - read copies what it read into a ring of the stream's (4 MiB) that
 *     one hashing thread works through, and returns without waiting for
 *     the hash (it waits only while the ring is full).  A mismatch is
 *     reported by a later read, at the latest by the read that finds the
 *     end (which waits for the hash), or by finish.  Files under 1 MiB,
 *     and what finish reads, stay on the calling thread.
 * The rules above do not change: bytes from read are not to be used
 * before finish returns AIOS_OK; read_verified hands out only verified
 * bytes.  A stream's threads end at finish, at a failure, or at free.
 * opts NULL means threads 0 (online CPUs); aios_manifest_stream_open is
 * threads 1.  Do not fork while a stream is being read on threads. */
#define AIOS_MANIFEST_STREAM_OPTIONS_VERSION 1
typedef struct aios_manifest_stream_options {
    unsigned int version;   /* AIOS_MANIFEST_STREAM_OPTIONS_VERSION */
    uint32_t     threads;   /* 0 = online CPUs (at most 256); 1 = the caller's thread only */
} aios_manifest_stream_options;
#define AIOS_MANIFEST_STREAM_OPTIONS_INIT { AIOS_MANIFEST_STREAM_OPTIONS_VERSION, 0 }
AIOS_API int aios_manifest_stream_options_init(aios_manifest_stream_options *opts,
                                               unsigned int version);
AIOS_API int aios_manifest_stream_open(aios_manifest_stream **out, const aios_manifest *m,
                                       int root_dirfd, const char *rel_path);
AIOS_API int aios_manifest_stream_new(aios_manifest_stream **out, const aios_manifest *m,
                                      int root_dirfd, const char *rel_path,
                                      const aios_manifest_stream_options *opts);
AIOS_API int aios_manifest_stream_read(aios_manifest_stream *s, uint8_t *buf, size_t cap,
                                       size_t *len_out);
AIOS_NODISCARD AIOS_API int aios_manifest_stream_read_verified(aios_manifest_stream *s,
                                                               uint8_t *buf, size_t cap,
                                                               size_t *len_out);
AIOS_NODISCARD AIOS_API int aios_manifest_stream_finish(aios_manifest_stream *s);
AIOS_API uint64_t aios_manifest_stream_size(const aios_manifest_stream *s);       /* file size */
AIOS_API uint64_t aios_manifest_stream_unit_size(const aios_manifest_stream *s);  /* largest unit */
/* The descriptor (borrowed), e.g. to mmap after finish returned AIOS_OK.
 * Only bytes read through the stream were verified: a mapping shows the
 * file as it is when its pages are touched, which a writer may change. */
AIOS_API int aios_manifest_stream_fd(const aios_manifest_stream *s);
AIOS_API void aios_manifest_stream_free(aios_manifest_stream *s);      /* NULL ok */

/* ============================================================ the manifest */

AIOS_API aios_manifest *aios_manifest_ref(aios_manifest *m);
AIOS_API void aios_manifest_unref(aios_manifest *m);                   /* NULL ok */
AIOS_API int aios_manifest_is_verified(const aios_manifest *m);
AIOS_API uint32_t aios_manifest_flags(const aios_manifest *m);          /* AIOS_MANIFEST_F_* */
/* The OMS subject digest: the model's identity for policy and audit. */
AIOS_API int aios_manifest_root_digest(const aios_manifest *m, uint8_t out[32]);
/* SHA-256 of the signed statement bytes (binds names, ranges, options). */
AIOS_API int aios_manifest_statement_digest(const aios_manifest *m, uint8_t out[32]);
AIOS_API const char *aios_manifest_subject_name(const aios_manifest *m);
AIOS_API aios_manifest_method aios_manifest_get_method(const aios_manifest *m);
AIOS_API aios_manifest_profile aios_manifest_get_profile(const aios_manifest *m);
AIOS_API const char *aios_manifest_hash_type(const aios_manifest *m);   /* "sha256", "blake2b" */
AIOS_API uint64_t aios_manifest_shard_size(const aios_manifest *m);     /* 0 for FILES */
AIOS_API size_t aios_manifest_resource_count(const aios_manifest *m);
/* The i-th resource as listed: name ("path" or "path:start:end"), the
 * byte range (files: 0 and UINT64_MAX, the size being unknown), digest.
 * Every out pointer may be NULL; strings and digests are borrowed. */
AIOS_API int aios_manifest_resource_at(const aios_manifest *m, size_t i, const char **name_out,
                                       uint64_t *start_out, uint64_t *end_out,
                                       const uint8_t **digest_out, size_t *digest_len_out);
/* Signed provenance (MANIFEST.md 5.7) as compact JSON; AIOS_E_NOT_FOUND if none. */
AIOS_API int aios_manifest_provenance_json(const aios_manifest *m, aios_buffer **json_out);
/* Who signed, as JSON whose first member says what it rests on:
 * {"trust":"verified"|"signed-here"|"unverified","method":"key","hint":...}
 * or {"trust":...,"method":"certificate","subject":...,"issuer":...,
 * "not_before":...,"not_after":...,"chain":N,"checked_at":T} (checked_at:
 * the time the chain was found valid at).  "unverified" (aios_manifest_open)
 * repeats what the bundle claims: never trust it. */
AIOS_API int aios_manifest_signer_json(const aios_manifest *m, aios_buffer **json_out);
/* Everything above as one JSON object (`aios manifest show`). */
AIOS_API int aios_manifest_to_json(const aios_manifest *m, aios_buffer **json_out);

/* ============================================================ the diff */

typedef enum aios_manifest_change {
    AIOS_MANIFEST_MISSING     = 1,   /* named by the manifest, absent */
    AIOS_MANIFEST_EXTRA       = 2,   /* present, not named */
    AIOS_MANIFEST_MODIFIED    = 3,   /* named and present, other bytes */
    AIOS_MANIFEST_EXTRA_EMPTY = 4,   /* shards: an empty file no shard can name (not an error
                                        unless AIOS_MANIFEST_VERIFY_STRICT_EMPTY) */
    AIOS_MANIFEST_CHANGE__FORCE32 = 0x7fffffff
} aios_manifest_change;

AIOS_API size_t aios_manifest_diff_count(const aios_manifest_diff *d);
/* The i-th change, in path order.  first_bad_offset: for a modified file,
 * the start of the first differing shard (0 for files), else 0. */
AIOS_API int aios_manifest_diff_at(const aios_manifest_diff *d, size_t i,
                                   aios_manifest_change *kind_out, const char **path_out,
                                   uint64_t *first_bad_offset_out);
AIOS_API int aios_manifest_diff_json(const aios_manifest_diff *d, aios_buffer **json_out);
AIOS_API void aios_manifest_diff_free(aios_manifest_diff *d);          /* NULL ok */

AIOS_END_DECLS

#endif /* AIOS_MANIFEST_H */
