/*
 * libaios key: opaque key handles, keyrings, providers and the data-key
 * cache.  Every other module touches key material only through an
 * aios_key handle; raw secret bytes never leave a handle unless the caller
 * asks for an export that the key allows.
 *
 * A key is named by an id (1..256 bytes of UTF-8) and a version (from 1).
 * It lives in a provider:
 *   - "local":    an aios_keyring file, encrypted at rest (Argon2id
 *                 passphrase, a raw master key from the host, or a key in a
 *                 PKCS#11 token); operations run in this process.
 *   - "pkcs11":   any PKCS#11 module (an HSM, SoftHSM2); wrapping, unwrapping
 *                 and signing run inside the token.
 *   - "callback:<name>": host functions (a cloud KMS, Vault transit), so the
 *                 bindings can plug providers written in Python or Go.
 *   - "public":   a public key imported from PEM, for verifying or sealing to
 *                 a recipient; it holds no secret.
 *
 * Thread safety
 *   - aios_key and aios_provider are reference counted and may be used from
 *     any number of threads at once.  A key's metadata never changes; its
 *     state can (a keyring may disable or destroy the version it names),
 *     and every operation checks the state it has at that moment.
 *   - aios_keyring is internally locked: any number of threads may get keys
 *     and run operations while one rotates, disables or destroys.
 *   - aios_dkcache is internally locked; entries are reference counted.
 *   - Provider callbacks may be called from any thread, several at once.
 */
#ifndef AIOS_KEY_H
#define AIOS_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "aios/core.h"

AIOS_BEGIN_DECLS

/* ================================================================ types */

typedef enum aios_key_type {
    AIOS_KEY_AES256      = 1,  /* 256-bit symmetric: wraps data keys (purpose WRAP) */
    AIOS_KEY_HMAC_SHA256 = 2,  /* 256-bit HMAC-SHA-256 key: MAC, pseudonymisation */
    AIOS_KEY_BLAKE2B     = 3,  /* 256-bit keyed BLAKE2b-256: MAC, pseudonymisation */
    AIOS_KEY_ED25519     = 4,  /* Ed25519 signing key (or public key) */
    AIOS_KEY_ECDSA_P256  = 5,  /* ECDSA P-256 with SHA-256, DER signatures */
    AIOS_KEY_ECDSA_P384  = 6,  /* ECDSA P-384 with SHA-384, DER signatures */
    AIOS_KEY_X25519      = 7,  /* X25519 recipient key (or public key) */
    AIOS_KEY_RSA         = 8,  /* RSA key in a PKCS#11 token: wraps data keys with RSA-OAEP
                                  (SHA-256; SHA-1 where the token offers no other);
                                  never generated or held locally */
    AIOS_KEY_ECDSA_P521  = 9,  /* ECDSA P-521 with SHA-512, DER signatures: signs and
                                  verifies as P-256/P-384 do (keyring: generate, import
                                  PKCS#8 or SEC1 PEM/DER; PKCS#11 token keys; callback
                                  provider keys; public keys from PEM verify) */
    AIOS_KEY_TYPE__FORCE32 = 0x7fffffff
} aios_key_type;

/* Purposes, a bit set.  A key only does what its purposes allow
 * (AIOS_E_KEY_USAGE otherwise); types limit which purposes make sense. */
#define AIOS_KEY_USE_WRAP    0x01u  /* wrap and unwrap data keys (AES256, RSA) */
#define AIOS_KEY_USE_SIGN    0x02u  /* sign (Ed25519, ECDSA) */
#define AIOS_KEY_USE_VERIFY  0x04u  /* verify (Ed25519, ECDSA, also public-only keys) */
#define AIOS_KEY_USE_MAC     0x08u  /* MAC and pseudonymise (HMAC, BLAKE2b) */
#define AIOS_KEY_USE_DERIVE  0x10u  /* key agreement (X25519) */

typedef enum aios_key_state {
    AIOS_KEY_ACTIVE       = 1,  /* every operation its purposes allow */
    AIOS_KEY_DECRYPT_ONLY = 2,  /* unwrap, verify, agree only: an older version */
    AIOS_KEY_DISABLED     = 3,  /* nothing, until enabled again */
    AIOS_KEY_DESTROYED    = 4,  /* material wiped for good; metadata kept so old
                                   data reports AIOS_E_KEY_DESTROYED, not corrupt */
    AIOS_KEY_PENDING      = 5,  /* added by two-phase rotation, not yet promoted:
                                   decrypt-only until aios_keyring_promote() */
    AIOS_KEY_STATE__FORCE32 = 0x7fffffff
} aios_key_state;

/* Stable tokens for scripts and JSON: "aes256", "ed25519", ...; "active",
 * "decrypt-only", ...  NULL for an unknown value. */
AIOS_API const char *aios_key_type_name(aios_key_type type);
AIOS_API const char *aios_key_state_name(aios_key_state state);

/* ============================================================== handles */

typedef struct aios_key aios_key;

/* Take and drop a reference.  aios_key_unref(NULL) is a no-op; the last
 * reference wipes whatever material the handle holds. */
AIOS_API aios_key *aios_key_ref(aios_key *key);
AIOS_API void aios_key_unref(aios_key *key);

/* Metadata: borrowed strings that live as long as the handle. */
AIOS_API const char *aios_key_id(const aios_key *key);
AIOS_API uint32_t aios_key_version(const aios_key *key);
AIOS_API aios_key_type aios_key_get_type(const aios_key *key);
AIOS_API uint32_t aios_key_purposes(const aios_key *key);
/* The state now (it can change while the handle lives). */
AIOS_API aios_key_state aios_key_get_state(const aios_key *key);
/* "local", "pkcs11", "callback:<name>" or "public". */
AIOS_API const char *aios_key_provider_name(const aios_key *key);
/* Unix seconds; 0 when the provider does not say. */
AIOS_API int64_t aios_key_created_at(const aios_key *key);
/* 1 if the key may be exported (aios_key_export), else 0. */
AIOS_API int aios_key_exportable(const aios_key *key);

/* Free-form attributes (tenant, region, data class, ...) for policy.
 * aios_key_attribute returns the value or NULL; _count and _at iterate
 * them in name order (AIOS_E_NOT_FOUND past the end). */
AIOS_API const char *aios_key_attribute(const aios_key *key, const char *name);
AIOS_API size_t aios_key_attribute_count(const aios_key *key);
AIOS_API int aios_key_attribute_at(const aios_key *key, size_t index,
                                   const char **name_out, const char **value_out);

/* =========================================================== operations
 *
 * Each operation checks, in this order: the key's state (destroyed,
 * disabled, decrypt-only for wrap/sign), its purposes, its usage limits;
 * then runs in its provider.
 */

/* Largest data key aios_key_wrap accepts, and largest wrapped output. */
#define AIOS_KEY_DATA_KEY_MAX 64
#define AIOS_KEY_WRAPPED_MAX  1024

/* Wrap a data key (1..64 bytes) under a WRAP key, binding ad (which may be
 * empty) so the wrapped key opens only with the same ad.  The result is
 * opaque to the caller and specific to the provider and key version. */
AIOS_API int aios_key_wrap(const aios_key *kek, aios_buffer **wrapped_out,
                           const uint8_t *data_key, size_t data_key_len,
                           const uint8_t *ad, size_t ad_len);
/* Unwrap into a new secure buffer.  AIOS_E_AUTH when the wrapped key or ad
 * was changed or another key wrapped it. */
AIOS_NODISCARD AIOS_API int aios_key_unwrap(const aios_key *kek, aios_buffer **data_key_out,
                                            const uint8_t *wrapped, size_t wrapped_len,
                                            const uint8_t *ad, size_t ad_len);

/* Sign msg: Ed25519 (64 bytes) or ECDSA (DER, the curve's hash applied
 * here).  ECDSA signatures are deterministic (RFC 6979) for local keys. */
AIOS_API int aios_key_sign(const aios_key *key, aios_buffer **sig_out,
                           const uint8_t *msg, size_t msg_len);
/* AIOS_OK if sig is a valid signature of msg by this key, else AIOS_E_AUTH. */
AIOS_NODISCARD AIOS_API int aios_key_verify(const aios_key *key, const uint8_t *sig, size_t sig_len,
                                            const uint8_t *msg, size_t msg_len);

#define AIOS_KEY_MAC_LEN 32
/* HMAC-SHA-256 or keyed BLAKE2b-256 of msg into out (32 bytes): a stable
 * pseudonym for the same key version and input. */
AIOS_API int aios_key_mac(const aios_key *key, uint8_t out[AIOS_KEY_MAC_LEN],
                          const uint8_t *msg, size_t msg_len);

/* X25519 with a peer's 32-byte public key, into a new secure buffer of 32
 * bytes.  AIOS_E_AUTH for a low-order peer key. */
AIOS_NODISCARD AIOS_API int aios_key_agree(const aios_key *key, aios_buffer **shared_out,
                                           const uint8_t *peer_public, size_t peer_public_len);

/* The public key: SubjectPublicKeyInfo as PEM text (NUL-terminated, the
 * length excludes the NUL) or as raw bytes (32 for Ed25519 and X25519, the
 * uncompressed point for ECDSA).  AIOS_E_KEY_USAGE for a symmetric key. */
AIOS_API int aios_key_public_pem(const aios_key *key, aios_buffer **pem_out);
AIOS_API int aios_key_public_raw(const aios_key *key, aios_buffer **raw_out);

/* Export the secret, into a new secure buffer: the raw 32 bytes of a
 * symmetric key, or PKCS#8 PEM of a private key.  Only for keys created or
 * imported exportable (AIOS_E_KEY_NOT_EXPORTABLE otherwise) and never for
 * keys inside a token. */
AIOS_API int aios_key_export(const aios_key *key, aios_buffer **secret_out);

/* A public-only key from SubjectPublicKeyInfo PEM (Ed25519, X25519,
 * ECDSA P-256/P-384/P-521; explanatory text before the BEGIN line is
 * allowed, RFC 7468): provider "public", purpose VERIFY (or DERIVE's
 * counterpart for X25519: a recipient to seal to), version 1, id key_id
 * (or its SHA-256 fingerprint in hex when key_id is NULL). */
AIOS_API int aios_key_from_public_pem(aios_key **out, const char *key_id,
                                      const char *pem, size_t pem_len);

/* Providers are declared below; the keyring is one. */
typedef struct aios_provider aios_provider;

/* ============================================================== keyring
 *
 * A file of named keys with all their versions.  Encrypted at rest under a
 * master key; every change is written atomically and durably before the
 * call returns (temp file, fsync, rename, fsync of the directory), so a
 * crash at any moment leaves the old or the new keyring; a second writer
 * is locked out (AIOS_E_KEYRING_LOCKED); any change to the file is detected
 * (AIOS_E_KEYRING_TAMPERED).  docs/KEYRING.md specifies the format.
 */
typedef struct aios_keyring aios_keyring;

typedef enum aios_keyring_unlock {
    AIOS_KEYRING_UNLOCK_PASSPHRASE = 1,  /* Argon2id over a passphrase; parameters stored */
    AIOS_KEYRING_UNLOCK_RAW_KEY    = 2,  /* a 32-byte master key from the host */
    AIOS_KEYRING_UNLOCK_PKCS11     = 3,  /* an AES key in a PKCS#11 token wraps the master key */
    AIOS_KEYRING_UNLOCK__FORCE32   = 0x7fffffff
} aios_keyring_unlock;

/* Open without taking the writer lock: reads only, changes fail with
 * AIOS_E_STATE.  For hosts that only use keys. */
#define AIOS_KEYRING_READ_ONLY 0x1u

#define AIOS_KEYRING_OPTIONS_VERSION 1
typedef struct aios_keyring_options {
    unsigned int version;             /* AIOS_KEYRING_OPTIONS_VERSION */
    aios_keyring_unlock unlock;       /* how the master key is had */
    const uint8_t *secret;            /* the passphrase or the raw master key */
    size_t secret_len;
    const char *pkcs11_module;        /* UNLOCK_PKCS11: path of the module */
    const char *pkcs11_uri;           /* UNLOCK_PKCS11: RFC 7512 URI of the AES key */
    const char *pkcs11_pin;           /* UNLOCK_PKCS11: user PIN (or pin-source in the URI) */
    uint64_t argon2_opslimit;         /* create: Argon2id passes (0: 3) */
    uint64_t argon2_memlimit;         /* create: Argon2id bytes (0: 64 MiB) */
    uint32_t flags;                   /* AIOS_KEYRING_READ_ONLY */
    uint32_t lock_timeout_ms;         /* wait this long for the writer lock (0: fail at once) */
} aios_keyring_options;

#define AIOS_KEYRING_OPTIONS_INIT { AIOS_KEYRING_OPTIONS_VERSION, AIOS_KEYRING_UNLOCK_PASSPHRASE, \
                                    NULL, 0, NULL, NULL, NULL, 0, 0, 0, 0 }
AIOS_API int aios_keyring_options_init(aios_keyring_options *opts, unsigned int version);

/* Create a new, empty keyring file (AIOS_E_KEY_EXISTS if path exists). */
AIOS_API int aios_keyring_create(aios_keyring **out, const char *path,
                                 const aios_keyring_options *opts);
/* Open an existing one.  AIOS_E_KEYRING_PASSPHRASE for a wrong passphrase
 * or master key, AIOS_E_KEYRING_TAMPERED for a changed file,
 * AIOS_E_KEYRING_CORRUPT for a truncated or malformed one. */
AIOS_API int aios_keyring_open(aios_keyring **out, const char *path,
                               const aios_keyring_options *opts);
/* Close, release the lock, wipe every key in memory.  NULL is a no-op.
 * Handles taken from it stay valid (they hold their own material). */
AIOS_API void aios_keyring_free(aios_keyring *kr);
/* Read the file again (another process may have changed it); handles
 * already taken keep their material but see state changes. */
AIOS_API int aios_keyring_reload(aios_keyring *kr);

/* What a new key is: purposes (0: the type's natural ones), whether it may
 * be exported, attributes, usage limits. */
typedef struct aios_key_attribute_pair {
    const char *name;                 /* 1..64 bytes of UTF-8 */
    const char *value;                /* 0..1024 bytes of UTF-8 */
} aios_key_attribute_pair;

#define AIOS_KEY_SPEC_VERSION 1
typedef struct aios_key_spec {
    unsigned int version;             /* AIOS_KEY_SPEC_VERSION */
    uint32_t purposes;                /* AIOS_KEY_USE_*; 0: natural for the type */
    uint32_t exportable;              /* 1: aios_key_export allowed */
    const aios_key_attribute_pair *attributes;
    size_t attribute_count;           /* at most 64 */
    uint64_t max_uses;                /* wrap/sign/mac operations (and envelopes sealed to an
                                         X25519 key) per version; 0: no limit */
    int64_t not_after;                /* unix seconds after which the version only
                                         decrypts/verifies; 0: never */
} aios_key_spec;

#define AIOS_KEY_SPEC_INIT { AIOS_KEY_SPEC_VERSION, 0, 0, NULL, 0, 0, 0 }
AIOS_API int aios_key_spec_init(aios_key_spec *spec, unsigned int version);

/* Generate a new key (version 1, active, primary).  key_out may be NULL.
 * A keyring holds every type but AIOS_KEY_RSA, which lives only in a
 * PKCS#11 token (AIOS_E_UNSUPPORTED, here and for import). */
AIOS_API int aios_keyring_add(aios_keyring *kr, aios_key **key_out, const char *key_id,
                              aios_key_type type, const aios_key_spec *spec);
/* Import existing material as a new key: the raw 32 bytes of a symmetric
 * key, or a PKCS#8 PEM private key (Ed25519, X25519, ECDSA P-256/P-384). */
AIOS_API int aios_keyring_import(aios_keyring *kr, aios_key **key_out, const char *key_id,
                                 aios_key_type type, const uint8_t *material, size_t material_len,
                                 const aios_key_spec *spec);

/* A key's version: version 0 means the primary version. */
AIOS_API int aios_keyring_get(aios_keyring *kr, aios_key **key_out, const char *key_id,
                              uint32_t version);

/* Rotate: a new version becomes primary at once; the previous primary
 * becomes decrypt-only. */
AIOS_API int aios_keyring_rotate(aios_keyring *kr, aios_key **key_out, const char *key_id);
/* Two-phase rotation for fleets that read the keyring at different times:
 * add a PENDING version (hosts learn it and can decrypt with it), then,
 * once every host has it, promote it to primary. */
AIOS_API int aios_keyring_add_version(aios_keyring *kr, aios_key **key_out, const char *key_id);
AIOS_API int aios_keyring_promote(aios_keyring *kr, const char *key_id, uint32_t version);

/* Bring-your-own-key rotation: import caller-given material as a new
 * version of an existing key, in the format aios_keyring_import takes for
 * the key's type (AIOS_E_FORMAT for the wrong one).  By default it becomes
 * primary at once, as with aios_keyring_rotate; with
 * AIOS_KEYRING_IMPORT_PENDING it is added pending, as with
 * aios_keyring_add_version, for aios_keyring_promote later.  It takes the
 * primary's max_uses and no not_after.  Material a version of the key
 * already holds (or, for a private key, the public key of any version,
 * destroyed ones included) is AIOS_E_KEY_EXISTS.  key_out may be NULL. */
#define AIOS_KEYRING_IMPORT_PENDING 0x1u
AIOS_API int aios_keyring_import_version(aios_keyring *kr, aios_key **key_out,
                                         const char *key_id, const uint8_t *material,
                                         size_t material_len, uint32_t flags);

/* Lifecycle of one version: DISABLED and back to ACTIVE/DECRYPT_ONLY (a
 * primary version cannot be disabled or made decrypt-only: rotate first). */
AIOS_API int aios_keyring_set_state(aios_keyring *kr, const char *key_id, uint32_t version,
                                    aios_key_state state);
/* Wipe a version's material for good (not the primary's). */
AIOS_API int aios_keyring_destroy(aios_keyring *kr, const char *key_id, uint32_t version);
/* Versions below this one no longer decrypt (AIOS_E_KEY_DISABLED). */
AIOS_API int aios_keyring_set_min_decrypt_version(aios_keyring *kr, const char *key_id,
                                                  uint32_t version);

/* Every key and version with its metadata, as a JSON document (no secret):
 * {"keys":[{"id","type","purposes":[...],"primary","min_decrypt_version",
 *   "attributes":{...},"versions":[{"version","state","created_at",
 *   "uses"},...]},...]}. */
AIOS_API int aios_keyring_list_json(aios_keyring *kr, aios_buffer **json_out);

/* The keyring as a provider ("local"), borrowed: valid while kr lives. */
AIOS_API aios_provider *aios_keyring_provider(aios_keyring *kr);

/* ============================================================ providers */

AIOS_API aios_provider *aios_provider_ref(aios_provider *p);
AIOS_API void aios_provider_unref(aios_provider *p);
AIOS_API const char *aios_provider_name(const aios_provider *p);
/* A key handle from this provider; version 0 means its current version. */
AIOS_API int aios_provider_get_key(aios_provider *p, aios_key **key_out, const char *key_id,
                                   uint32_t version);

/* ---- PKCS#11 */

#define AIOS_PKCS11_OPTIONS_VERSION 1
typedef struct aios_pkcs11_options {
    unsigned int version;             /* AIOS_PKCS11_OPTIONS_VERSION */
    const char *pin;                  /* user PIN; NULL: from the URI's pin-source or pin-value */
    uint32_t flags;                   /* reserved, 0 */
} aios_pkcs11_options;
#define AIOS_PKCS11_OPTIONS_INIT { AIOS_PKCS11_OPTIONS_VERSION, NULL, 0 }
AIOS_API int aios_pkcs11_options_init(aios_pkcs11_options *opts, unsigned int version);

/* Load a PKCS#11 module (module_path, or the URI's absolute module-path)
 * and log in to the token the RFC 7512 URI names (token=, serial=,
 * slot-id=, ...): no matching token is AIOS_E_NOT_FOUND, several are
 * AIOS_E_INVALID_ARGUMENT.  The PIN comes from opts->pin, else the URI's
 * pin-value, else its pin-source (file: only); a wrong PIN is
 * AIOS_E_PKCS11_PIN.  Keys are found by their CKA_LABEL (the key id) and
 * have version 1 (0 also names it; others are
 * AIOS_E_KEY_VERSION_NOT_FOUND).  AES keys wrap inside the token with
 * AES-GCM where it offers it, else AES key wrap with padding (RFC 5649),
 * binding ad as docs/PKCS11.md specifies; RSA keys (2048 bits and up)
 * wrap with RSA-OAEP in it and unwrap in it (AIOS_KEY_RSA); EC keys sign
 * inside it (ECDSA, DER signatures) and verify here.  Keys are never
 * exportable.  The provider may be used from any number of threads (a
 * session pool per token); after fork() open a new provider in the
 * child. */
AIOS_API int aios_provider_pkcs11(aios_provider **out, const char *module_path,
                                  const char *uri, const aios_pkcs11_options *opts);

/* ---- host callbacks */

/* What a callback provider can do (capability bits of its table). */
#define AIOS_PROVIDER_CAN_WRAP       0x01u
#define AIOS_PROVIDER_CAN_UNWRAP     0x02u
#define AIOS_PROVIDER_CAN_SIGN       0x04u
#define AIOS_PROVIDER_CAN_PUBLIC_KEY 0x08u

/* What a host reports about one of its keys. */
typedef struct aios_provider_key_info {
    size_t size;                      /* set by libaios: sizeof as libaios knows it */
    uint32_t version;                 /* the version the host resolved (>= 1) */
    aios_key_type type;
    uint32_t purposes;
    aios_key_state state;
    int64_t created_at;
} aios_provider_key_info;

/* The host's functions.  A plug-in table: it starts with its own size and
 * a member is called only if the table is long enough to hold it.  Every
 * function returns AIOS_OK or a negative status; a host's own failure is
 * AIOS_E_CALLBACK (passed through unchanged, so bindings can re-raise the
 * host's exception).  Outputs go into caller buffers of the given capacity
 * (AIOS_E_BUFFER_TOO_SMALL with *len set to the size needed).  They may be
 * called from any thread, several at once.  deadline_ms is the time left
 * before libaios gives up on the call (the call then fails with
 * AIOS_E_PROVIDER_TIMEOUT and its late result is discarded). */
typedef struct aios_provider_ops {
    size_t size;                      /* sizeof(aios_provider_ops) */
    uint32_t capabilities;            /* AIOS_PROVIDER_CAN_* */
    /* Resolve key_id and version (0: current) to its metadata. Required. */
    int (*describe)(void *payload, const char *key_id, uint32_t version,
                    aios_provider_key_info *info, uint32_t deadline_ms);
    int (*wrap)(void *payload, const char *key_id, uint32_t version,
                const uint8_t *data_key, size_t data_key_len, const uint8_t *ad, size_t ad_len,
                uint8_t *out, size_t out_cap, size_t *out_len, uint32_t deadline_ms);
    int (*unwrap)(void *payload, const char *key_id, uint32_t version,
                  const uint8_t *wrapped, size_t wrapped_len, const uint8_t *ad, size_t ad_len,
                  uint8_t *out, size_t out_cap, size_t *out_len, uint32_t deadline_ms);
    int (*sign)(void *payload, const char *key_id, uint32_t version,
                const uint8_t *msg, size_t msg_len,
                uint8_t *out, size_t out_cap, size_t *out_len, uint32_t deadline_ms);
    /* The public key as SubjectPublicKeyInfo DER. */
    int (*public_key)(void *payload, const char *key_id, uint32_t version,
                      uint8_t *out, size_t out_cap, size_t *out_len, uint32_t deadline_ms);
    /* Called once when the provider is freed; may be NULL. */
    void (*release)(void *payload);
} aios_provider_ops;

#define AIOS_PROVIDER_OPTIONS_VERSION 1
typedef struct aios_provider_options {
    unsigned int version;             /* AIOS_PROVIDER_OPTIONS_VERSION */
    uint32_t timeout_ms;              /* per call; 0: 30000 */
} aios_provider_options;
#define AIOS_PROVIDER_OPTIONS_INIT { AIOS_PROVIDER_OPTIONS_VERSION, 0 }
AIOS_API int aios_provider_options_init(aios_provider_options *opts, unsigned int version);

/* A provider named "callback:<name>" (name: 1..48 bytes of [a-z0-9_.-]) on
 * the host's table.  The table is copied; payload must live until
 * ops->release is called, which happens exactly once, after the last call
 * in flight has returned (possibly on a worker thread), and never when
 * this function fails.  A member whose capability bit is clear is never
 * called; a bit without its member is AIOS_E_INVALID_ARGUMENT.
 *
 * Each host call runs on a worker thread (signals blocked) so that it can
 * time out; a late result is discarded.  describe may return purposes 0
 * for the type's natural ones.  Keys from a callback provider are never
 * exportable; their state is what describe said when the handle was made
 * (get the key again to see a change).  When the public key is known, a
 * signature from the host is verified before it is returned (a host that
 * signs with another key fails with AIOS_E_CALLBACK).  Output caps:
 * wrapped keys 1024, data keys 64, signatures 1024, public keys 4096
 * bytes. */
AIOS_API int aios_provider_callback(aios_provider **out, const char *name,
                                    const aios_provider_ops *ops, void *payload,
                                    const aios_provider_options *opts);

/* ======================================================= data-key cache
 *
 * Unwrapped (or freshly generated) data keys, so a host does not call its
 * KMS for every record: entries keyed by (key, context, suite), limited by
 * age, messages and bytes, evicted least recently used, data keys held in
 * secure memory and wiped on eviction (the wrapped bytes, which every
 * envelope header carries anyway, in ordinary memory, wiped too).  A hit
 * allocates nothing and makes no system call.  At most 65536 entries.  A
 * key version that is disabled or destroyed neither stores nor finds
 * entries; put does not count as a message.
 */
typedef struct aios_dkcache aios_dkcache;
typedef struct aios_dkcache_entry aios_dkcache_entry;

#define AIOS_DKCACHE_OPTIONS_VERSION 1
typedef struct aios_dkcache_options {
    unsigned int version;             /* AIOS_DKCACHE_OPTIONS_VERSION */
    uint32_t capacity;                /* entries (0: 1024) */
    uint64_t max_age_ms;              /* an entry's lifetime (0: 300000) */
    uint64_t max_messages;            /* uses per entry (0: 2^32) */
    uint64_t max_bytes;               /* bytes processed per entry (0: 2^40) */
} aios_dkcache_options;
#define AIOS_DKCACHE_OPTIONS_INIT { AIOS_DKCACHE_OPTIONS_VERSION, 0, 0, 0, 0 }
AIOS_API int aios_dkcache_options_init(aios_dkcache_options *opts, unsigned int version);

typedef struct aios_dkcache_stats {
    size_t size;                      /* set by the caller: sizeof(aios_dkcache_stats) */
    uint64_t hits;
    uint64_t misses;
    uint64_t evictions;               /* by capacity */
    uint64_t expirations;             /* by age, messages or bytes */
    uint64_t entries;                 /* now */
} aios_dkcache_stats;

AIOS_API int aios_dkcache_new(aios_dkcache **out, const aios_dkcache_options *opts);
/* Wipe every entry and free.  Entries still held stay valid until released. */
AIOS_API void aios_dkcache_free(aios_dkcache *cache);

/* Store a data key (and, optionally, what it was wrapped into) for
 * (key, context, suite).  Replaces an older entry for the same triple. */
AIOS_API int aios_dkcache_put(aios_dkcache *cache, const aios_key *key,
                              const uint8_t *context, size_t context_len, uint32_t suite,
                              const uint8_t *data_key, size_t data_key_len,
                              const uint8_t *wrapped, size_t wrapped_len);
/* Look up (key, context, suite) and count one message of `bytes` bytes
 * against its limits.  AIOS_E_NOT_FOUND on a miss, or when the entry has
 * expired (it is then evicted).  The entry is the caller's until released. */
AIOS_API int aios_dkcache_get(aios_dkcache *cache, aios_dkcache_entry **entry_out,
                              const aios_key *key, const uint8_t *context, size_t context_len,
                              uint32_t suite, uint64_t bytes);
/* The entry's data key and wrapped key (borrowed; live until released). */
AIOS_API const uint8_t *aios_dkcache_entry_data_key(const aios_dkcache_entry *entry, size_t *len_out);
AIOS_API const uint8_t *aios_dkcache_entry_wrapped(const aios_dkcache_entry *entry, size_t *len_out);
AIOS_API void aios_dkcache_entry_release(aios_dkcache_entry *entry);
/* Drop every entry of one key (all contexts), e.g. after it was disabled. */
AIOS_API void aios_dkcache_evict_key(aios_dkcache *cache, const aios_key *key);
AIOS_API int aios_dkcache_get_stats(aios_dkcache *cache, aios_dkcache_stats *stats);

AIOS_END_DECLS

#endif /* AIOS_KEY_H */
