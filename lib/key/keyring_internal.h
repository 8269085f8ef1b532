/*
 * lib/key: the keyring's internals, shared by keyring.c (the public API,
 * locking, lifecycle), keyring_file.c (the file format and its I/O) and
 * the keyring's unit tests and fuzz target.  Not installed.
 *
 * docs/KEYRING.md specifies the format; the limits below are its limits.
 */
#ifndef AIOS_LIB_KEY_KEYRING_INTERNAL_H
#define AIOS_LIB_KEY_KEYRING_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "key_internal.h"
#include "../crypto/crypto.h"

/* ------------------------------------------------------------- format */

#define AIOS__KR_MAGIC            "AIOSKR"
#define AIOS__KR_MAGIC_LEN        6
#define AIOS__KR_FORMAT_V1        1
#define AIOS__KR_PREFIX_LEN       11          /* magic, version, header length */
#define AIOS__KR_CHECK_LEN        32          /* SHA-256 of prefix || header */
#define AIOS__KR_TAG_LEN          16
#define AIOS__KR_HEADER_MAX       4096        /* encoded KeyringHeader */
#define AIOS__KR_BODY_MAX         ((size_t)32 << 20)   /* body plaintext */
#define AIOS__KR_FILE_MAX         (AIOS__KR_PREFIX_LEN + AIOS__KR_HEADER_MAX + \
                                   AIOS__KR_CHECK_LEN + AIOS__KR_BODY_MAX + AIOS__KR_TAG_LEN)
#define AIOS__KR_KEYS_MAX         10000
#define AIOS__KR_VERSIONS_MAX     10000       /* per key */
#define AIOS__KR_TOTAL_VERSIONS_MAX 100000
#define AIOS__KR_FIELDS_MAX       (1u << 21)  /* protobuf fields in a body, all levels */

#define AIOS__KR_SALT_LEN         16
#define AIOS__KR_NONCE_LEN        24
#define AIOS__KR_DATA_KEY_LEN     32
#define AIOS__KR_WRAPPED_DK_LEN   (AIOS__KR_DATA_KEY_LEN + AIOS__KR_TAG_LEN)
#define AIOS__KR_KEY_CHECK_LEN    32
#define AIOS__KR_PKCS11_WRAPPED_MAX 1024

#define AIOS__KR_OPSLIMIT_DEFAULT 3
#define AIOS__KR_MEMLIMIT_DEFAULT ((uint64_t)64 << 20)
#define AIOS__KR_OPSLIMIT_MAX     64
#define AIOS__KR_MEMLIMIT_MIN     8192
/* 4 GiB, or what a size_t holds on a 32-bit system. */
#if SIZE_MAX > 0xffffffffu
#  define AIOS__KR_MEMLIMIT_MAX   ((uint64_t)4 << 30)
#else
#  define AIOS__KR_MEMLIMIT_MAX   ((uint64_t)SIZE_MAX)
#endif

/* The header, decoded.  Everything here is public (it is stored in the
 * clear); the data key itself lives in an aios__aead_key. */
typedef struct aios__kr_header {
    uint32_t unlock;                                  /* aios_keyring_unlock */
    uint8_t  salt[AIOS__KR_SALT_LEN];                 /* passphrase only */
    uint64_t opslimit, memlimit;                      /* passphrase only */
    uint8_t  dk_nonce[AIOS__KR_NONCE_LEN];            /* passphrase, raw key */
    uint8_t  wrapped_dk[AIOS__KR_PKCS11_WRAPPED_MAX];
    size_t   wrapped_dk_len;
    uint8_t  key_check[AIOS__KR_KEY_CHECK_LEN];       /* passphrase, raw key */
    uint8_t  body_nonce[AIOS__KR_NONCE_LEN];
    uint64_t body_len;                                /* ciphertext, tag excluded */
    int      has_unknown;                             /* fields a newer writer added */
    size_t   ad_len;                                  /* prefix + header + check: where the body starts */
} aios__kr_header;

/* Framing, header check, header decoding and validation of a whole file
 * (nothing is decrypted).  AIOS_E_KEYRING_CORRUPT (truncated, malformed,
 * out-of-bounds), AIOS_E_KEYRING_TAMPERED (the header check failed),
 * AIOS_E_VERSION (a format version or unlock method this library does not
 * know), AIOS_E_NOMEM.  path only names the file in messages. */
int aios__kr_header_parse(aios__kr_header *out, const uint8_t *file, size_t len,
                          const char *path);

/* ------------------------------------------------------------- model */

typedef struct aios__kr_version {
    uint32_t       version;
    aios_key_state state;          /* as stored; pushed to kv after each write */
    int64_t        created_at;
    aios__keyver  *kv;             /* material, public key, uses, limits */
} aios__kr_version;

typedef struct aios__kr_key {
    char                    *id;
    aios_key_type            type;
    uint32_t                 purposes;
    int                      exportable;
    aios_key_attribute_pair *attrs;     /* owned strings, sorted by name */
    size_t                   nattrs;
    uint32_t                 primary;
    uint32_t                 min_decrypt;
    aios__kr_version        *versions;  /* ascending */
    size_t                   nversions, cap;
} aios__kr_key;

typedef struct aios__kr_model {
    uint64_t      generation;
    aios__kr_key *keys;                 /* sorted by id */
    size_t        nkeys, cap;
    size_t        total_versions;
    int           has_unknown;          /* fields a newer writer added */
} aios__kr_model;

/* Decode and validate a body plaintext (a Keyring message) into a new
 * model; each version gets a new keyver.  AIOS_E_KEYRING_CORRUPT for
 * anything malformed or invalid, AIOS_E_NOMEM.  The protobuf-c copies of
 * material are wiped before they are freed. */
int aios__kr_body_decode(aios__kr_model *out, const uint8_t *pt, size_t len, const char *path);
/* Encode a model into a new secure buffer. */
int aios__kr_body_encode(aios_buffer **out, const aios__kr_model *m);
/* Release a model (unrefs every keyver; handles keep theirs). */
void aios__kr_model_clear(aios__kr_model *m);

/* Lookups: the key with that id, the version with that number (NULL). */
aios__kr_key *aios__kr_find_key(const aios__kr_model *m, const char *id, size_t *pos_out);
aios__kr_version *aios__kr_find_version(const aios__kr_key *k, uint32_t version);
void aios__kr_key_clear(aios__kr_key *k);

/* Expected material and public-key lengths for a type (local.c layouts). */
size_t aios__kr_material_len(aios_key_type type);
size_t aios__kr_public_len(aios_key_type type);

/* ------------------------------------------------------------ crypto */

/* The file's random bytes (salts, nonces, the data key). */
void aios__kr_random(uint8_t *out, size_t len);

/* Create: a new data key, wrapped under the master key opts describe;
 * fills the unlock fields of h. */
int aios__kr_unlock_create(aios__kr_header *h, aios__aead_key **dk_out,
                           const aios_keyring_options *opts, const char *path);
/* Open: the data key from the header and the master key.
 * AIOS_E_KEYRING_PASSPHRASE when the master key does not match the key
 * check (or the token does not open the data key), AIOS_E_KEYRING_TAMPERED
 * when it matches but the wrapped data key does not open. */
int aios__kr_unlock_open(aios__aead_key **dk_out, const aios__kr_header *h,
                         const aios_keyring_options *opts, const char *path);
/* 1 if the unlock fields of a and b are the same (same data key). */
int aios__kr_same_unlock(const aios__kr_header *a, const aios__kr_header *b);

/* A whole file for model m: h's unlock fields, a fresh body nonce (h is
 * updated), the body sealed under dk.  *out is a plain buffer. */
int aios__kr_file_encode(aios_buffer **out, aios__kr_header *h, const aios__aead_key *dk,
                         const aios__kr_model *m);
/* The same for a body plaintext given as bytes (tests craft bodies). */
int aios__kr_file_seal(aios_buffer **out, aios__kr_header *h, const aios__aead_key *dk,
                       const uint8_t *pt, size_t len);
/* Decrypt and decode a file whose header h was parsed.  AIOS_E_KEYRING_TAMPERED
 * when the body does not authenticate. */
int aios__kr_file_decode(aios__kr_model *out, const aios__kr_header *h,
                         const aios__aead_key *dk, const uint8_t *file, size_t len,
                         const char *path);

/* ---------------------------------------------------------------- I/O */

/* Read a whole keyring file (plain memory, at most AIOS__KR_FILE_MAX).
 * AIOS_E_NOT_FOUND when it does not exist, AIOS_E_IO, AIOS_E_KEYRING_CORRUPT
 * when it is too large or not a regular file. */
int aios__kr_read_file(uint8_t **out, size_t *len_out, const char *path);
/* Write path atomically and durably: "<path>.tmp" (O_CREAT|O_EXCL, 0600),
 * write, fsync, rename over path (create: link, which refuses an existing
 * path with AIOS_E_KEY_EXISTS), fsync of the directory.  *committed is
 * set once the new file has replaced the old one: a failure after that
 * (syncing the directory) still returns AIOS_E_IO, but the change is in
 * place. */
int aios__kr_write_file(const char *path, const uint8_t *data, size_t len, int create,
                        int *committed);
/* Take the writer lock: flock(LOCK_EX|LOCK_NB) on "<path>.lock", retried
 * for timeout_ms.  AIOS_E_KEYRING_LOCKED, AIOS_E_IO. */
int aios__kr_lock(int *fd_out, const char *path, uint32_t timeout_ms);
/* Remove a temp file a crashed writer left ("<path>.tmp"); the caller
 * holds the lock.  Best effort. */
void aios__kr_remove_stale_temp(const char *path);

/* ------------------------------------------------------------ testing */

/* Replace the random source of the file's salts, nonces and data key, and
 * the generator of new key material (NULL restores the real ones).  For
 * deterministic test vectors only; not thread-safe. */
void aios__kr_set_random_for_testing(void (*fn)(uint8_t *out, size_t len));
void aios__kr_set_generate_for_testing(int (*fn)(aios_key_type type, uint8_t *material,
                                                 size_t *material_len, uint8_t *public_raw,
                                                 size_t *public_len));
/* Make step n of the next writes fail with EIO, as if the system call had
 * (1 open the temp file, 2 write, 3 fsync, 4 rename, 5 fsync the
 * directory); 0 turns it off. */
void aios__kr_fail_write_for_testing(int step);

/* Generation of new material (aios__local_generate unless replaced). */
int aios__kr_generate(aios_key_type type, uint8_t *material, size_t *material_len,
                      uint8_t *public_raw, size_t *public_len);

#endif /* AIOS_LIB_KEY_KEYRING_INTERNAL_H */
