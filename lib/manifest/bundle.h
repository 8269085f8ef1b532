/*
 * lib/manifest: the Sigstore bundle / DSSE / in-toto statement codec of
 * the OMS format (docs/MANIFEST.md sections 3-6, 8-10), internal so far.
 *
 *   aios__mb_bundle_parse     bundle JSON -> material, payload, signature
 *                             (steps 1-3 of MANIFEST.md 11; no trust)
 *   aios__mb_pae              DSSE PAE (4.5); aios__mb_pae_legacy the
 *                             0.2.0 form (4.6, verify only)
 *   aios__mb_statement_parse  payload -> subject, serialization, resources
 *                             and the root digest check (steps 7-9)
 *   aios__mb_verify_key       steps 1-9 for the key method with a public
 *                             key the caller gives (7.1)
 *   aios__mb_verify_certificate
 *                             steps 1-9 for the certificate method with
 *                             trust anchors the caller gives (7.2-7.4)
 *   aios__mb_statement_encode / aios__mb_sign_key / aios__mb_sign_certificate
 *                             the writer (12.4-12.7), for the default and
 *                             the oms-1.0 profile
 *
 * Everything is bounded before allocation (MANIFEST.md 10).  JSON is
 * Jansson's (never json_set_alloc_funcs: its memory is plain malloc).
 * Parsed objects are plain data, immutable after the parse; any number of
 * threads may read one.
 */
#ifndef AIOS_LIB_MANIFEST_BUNDLE_H
#define AIOS_LIB_MANIFEST_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "aios/core.h"
#include "aios/key.h"

/* ---- statuses: the manifest block of include/aios/core.h. */
#define AIOS__MB_E_KEY_MISMATCH AIOS_E_MANIFEST_KEY_MISMATCH
#define AIOS__MB_E_ROOT_DIGEST  AIOS_E_MANIFEST_ROOT_DIGEST
#define AIOS__MB_E_PREDICATE    AIOS_E_MANIFEST_PREDICATE
#define AIOS__MB_E_PATH         AIOS_E_MANIFEST_PATH
#define AIOS__MB_E_DUPLICATE    AIOS_E_MANIFEST_DUPLICATE
#define AIOS__MB_E_SIGNATURES   AIOS_E_MANIFEST_SIGNATURES
#define AIOS__MB_E_METHOD       AIOS_E_MANIFEST_METHOD
#define AIOS__MB_E_EMPTY        AIOS_E_MANIFEST_EMPTY
#define AIOS__MB_E_CHAIN        AIOS_E_MANIFEST_CHAIN
#define AIOS__MB_E_CERT_USAGE   AIOS_E_MANIFEST_CERT_USAGE

/* ---- limits (MANIFEST.md 10) */
#define AIOS__MB_BUNDLE_MAX     ((size_t)64 << 20)
#define AIOS__MB_PAYLOAD_MAX    ((size_t)48 << 20)
#define AIOS__MB_DEPTH_MAX      64
#define AIOS__MB_RESOURCES_MAX  ((size_t)1 << 20)
#define AIOS__MB_PATH_MAX       4096
#define AIOS__MB_COMPONENT_MAX  255
#define AIOS__MB_COMPONENTS_MAX 128
#define AIOS__MB_IGNORE_MAX     1024
#define AIOS__MB_SUBJECT_MAX    1024
#define AIOS__MB_CERTS_MAX      8
#define AIOS__MB_CERT_MAX       ((size_t)16 << 10)
#define AIOS__MB_TLOG_MAX       64
#define AIOS__MB_RAWKEY_MAX     ((size_t)64 << 10)   /* publicKey.rawBytes, decoded */
#define AIOS__MB_SIG_MAX        1024                 /* signatures[0].sig, decoded */
#define AIOS__MB_PROVENANCE_MAX ((size_t)64 << 10)
#define AIOS__MB_SHARD_SIZE_MAX ((uint64_t)1 << 53)

#define AIOS__MB_MEDIA_TYPE     "application/vnd.dev.sigstore.bundle.v0.3+json"
#define AIOS__MB_MEDIA_TYPE_OLD "application/vnd.dev.sigstore.bundle+json;version=0.3"
#define AIOS__MB_PAYLOAD_TYPE   "application/vnd.in-toto+json"
#define AIOS__MB_STATEMENT_TYPE "https://in-toto.io/Statement/v1"
#define AIOS__MB_PREDICATE_V1   "https://model_signing/signature/v1.0"
#define AIOS__MB_PREDICATE_V01  "https://model_signing/Digests/v0.1"

/* Profiles (MANIFEST.md 9, 17). */
#define AIOS__MB_PROFILE_MODEL_SIGNING_1 0   /* default: what model_signing 1.x accepts */
#define AIOS__MB_PROFILE_OMS_1_0         1

/* Verify flags. */
#define AIOS__MB_IGNORE_HINT 0x1u            /* skip the hint comparison (4.3) */
#define AIOS__MB_NO_LEGACY   0x2u            /* never try the legacy PAE (4.6), any profile */

/* Certificate time policies (MANIFEST.md 7.4); the public header uses the
 * same numbers.  PROFILE: LEAF_NOT_BEFORE in model-signing-1, NOW in
 * oms-1.0. */
#define AIOS__MB_TIME_PROFILE         0
#define AIOS__MB_TIME_LEAF_NOT_BEFORE 1      /* T = the leaf's notBefore (model_signing) */
#define AIOS__MB_TIME_NOW             2      /* T = the current time */
#define AIOS__MB_TIME_FIXED           3      /* T = fixed_time (unix seconds) */

/* ---- the bundle */

typedef enum aios__mb_method {
    AIOS__MB_METHOD_KEY     = 1,   /* verificationMaterial.publicKey */
    AIOS__MB_METHOD_CHAIN   = 2,   /* x509CertificateChain */
    AIOS__MB_METHOD_KEYLESS = 3    /* certificate (Sigstore keyless) */
} aios__mb_method;

typedef struct aios__mb_blob {
    uint8_t *p;
    size_t   len;
} aios__mb_blob;

typedef struct aios__mb_bundle {
    aios__mb_method method;
    char    *hint;              /* publicKey.hint, NUL-terminated; NULL when absent/null/"" */
    uint8_t *raw_key;           /* publicKey.rawBytes decoded (PEM text or DER); NULL if absent */
    size_t   raw_key_len;
    aios__mb_blob certs[AIOS__MB_CERTS_MAX];   /* CHAIN: leaf first; KEYLESS: certs[0] */
    size_t   cert_count;
    size_t   tlog_count;
    uint8_t *payload;           /* decoded, 1..AIOS__MB_PAYLOAD_MAX bytes */
    size_t   payload_len;
    uint8_t *sig;               /* decoded signatures[0].sig */
    size_t   sig_len;
} aios__mb_bundle;

/* Steps 1-3 of MANIFEST.md 11 (and 3.2's oneof and keyless tlog rule).
 * max_len 0 means AIOS__MB_BUNDLE_MAX; a larger value is capped to it. */
int  aios__mb_bundle_parse(aios__mb_bundle **out, const uint8_t *json, size_t len,
                           size_t max_len, int profile);
void aios__mb_bundle_free(aios__mb_bundle *b);   /* NULL ok */

/* ---- PAE: a new aios__malloc'd buffer in *out (aios__free it). */
int aios__mb_pae(uint8_t **out, size_t *out_len, const uint8_t *payload, size_t len);
int aios__mb_pae_legacy(uint8_t **out, size_t *out_len, const uint8_t *payload, size_t len);

/* ---- the statement */

typedef enum aios__mb_serial {
    AIOS__MB_FILES  = 1,
    AIOS__MB_SHARDS = 2
} aios__mb_serial;

typedef enum aios__mb_hash {
    AIOS__MB_SHA256  = 1,   /* 32-byte digests */
    AIOS__MB_BLAKE2B = 2    /* BLAKE2b-512, 64-byte digests */
} aios__mb_hash;

typedef struct aios__mb_resource {
    const char *name;       /* the full name as listed (NUL-terminated) */
    size_t   name_len;
    size_t   path_len;      /* bytes of name before ":start:end" (== name_len for files) */
    uint64_t start, end;    /* shards only */
    uint8_t  digest[64];
    size_t   digest_len;    /* 32 or 64 */
} aios__mb_resource;

#define AIOS__MB_F_LEGACY      0x1u   /* Digests/v0.1 predicate; root derived (6.2) */
#define AIOS__MB_F_SINGLE_FILE 0x2u   /* the only path is "." (5.5.6) */

typedef struct aios__mb_statement {
    const char *subject_name;         /* may be "" (default profile) */
    uint8_t  root[32];                /* subject[0].digest.sha256, checked against resources */
    aios__mb_serial method;
    aios__mb_hash   hash_type;
    uint64_t shard_size;              /* shards only */
    int      allow_symlinks;
    const char *const *ignore_paths;  /* as listed, repeats removed not (a set: order free) */
    size_t   ignore_count;
    const aios__mb_resource *resources;   /* in listed order */
    size_t   resource_count;
    const char *provenance_json;      /* compact JSON of annotations.aios_provenance, or NULL */
    uint32_t flags;                   /* AIOS__MB_F_* */
    uint8_t  statement_digest[32];    /* SHA-256 of the payload bytes (6.1) */
} aios__mb_statement;

/* Steps 7-9: parse the exact payload bytes and check the root digest.
 * legacy != 0 when the payload was verified over the legacy PAE (then the
 * Digests/v0.1 predicate is required). */
int  aios__mb_statement_parse(aios__mb_statement **out, const uint8_t *payload, size_t len,
                              int profile, int legacy);
void aios__mb_statement_free(aios__mb_statement *st);   /* NULL ok */

/* Check provenance JSON text about to be signed against MANIFEST.md 5.7
 * (AIOS_E_INVALID_ARGUMENT, AIOS_E_LIMIT), so that sign fails before it
 * hashes rather than write a bundle its own reader refuses. */
int aios__mb_provenance_check_text(const char *json, const char *what);

/* Who signed a verified bundle, for reporting (all text printable ASCII,
 * NUL-terminated; fields of the other method are zero). */
#define AIOS__MB_DN_MAX 256
/* A keyless identity or OIDC issuer (workflow URIs can pass 255 bytes) */
#define AIOS__MB_IDENT_MAX 4096
typedef struct aios__mb_signer {
    aios__mb_method method;        /* AIOS__MB_METHOD_KEY or _CHAIN */
    int      legacy;               /* verified over the legacy PAE (4.6) */
    char     hint[65];             /* KEY: the verifying key's hint (4.3) */
    char     subject[AIOS__MB_DN_MAX];   /* CHAIN: the leaf's subject DN ("CN=..., O=...") */
    char     issuer[AIOS__MB_DN_MAX];    /* CHAIN: the leaf's issuer DN */
    int64_t  not_before, not_after;      /* CHAIN: the leaf's validity, unix seconds */
    int64_t  checked_at;           /* CHAIN: the policy time T the path was valid at (7.4) */
    size_t   chain_len;            /* CHAIN: certificates in the bundle (leaf included) */
    size_t   path_len;             /* CHAIN: certificates of the verified path, anchor included */
    /* KEYLESS, verified (aios__mb_verify_sigstore): */
    char     identity[AIOS__MB_IDENT_MAX];     /* the certificate's SubjectAltName (email or URI) */
    char     oidc_issuer[AIOS__MB_IDENT_MAX];  /* its OIDC issuer extension */
    int64_t  integrated_time;      /* the log entry's time, unix seconds (Rekor v1; 0 for v2) */
    int64_t  log_index;            /* the log entry's index */
    int64_t  timestamp;            /* the first RFC 3161 timestamp that verified, or 0 */
} aios__mb_signer;

/* The signer as the bundle states it, without trust (aios_manifest_open,
 * and the signer's own view after signing): KEY the hint if it is 64 hex
 * digits (lowercased; else ""); CHAIN and KEYLESS the leaf certificate's
 * names and validity (checked_at and path_len 0).  AIOS_E_FORMAT /
 * AIOS_E_UNSUPPORTED for a leaf that does not parse. */
int aios__mb_bundle_signer(aios__mb_signer *out, const aios__mb_bundle *b);
/* The signer as compact JSON in a new aios__malloc'd string (aios__free
 * it), NULL when out of memory:
 *   {"method":"key","hint":"<hex>"}                     (hint omitted if unknown)
 *   {"method":"certificate"|"keyless","subject":"...","issuer":"...",
 *    "not_before":<unix s>,"not_after":<unix s>,"chain":<certificates in the bundle>}
 * with ,"legacy":true appended after a legacy-PAE verification. */
char *aios__mb_signer_json(const aios__mb_signer *sg);

/* Steps 1-9 for the key method.  key: ECDSA P-256/P-384 or Ed25519 with
 * the VERIFY purpose.  flags: AIOS__MB_IGNORE_HINT, AIOS__MB_NO_LEGACY.
 * On success *out is the verified statement. */
int aios__mb_verify_key(aios__mb_statement **out, const uint8_t *bundle, size_t len,
                        const aios_key *key, int profile, uint32_t flags);
/* The same, also describing the signer (signer_out may be NULL; zeroed on
 * failure). */
int aios__mb_verify_key_ex(aios__mb_statement **out, aios__mb_signer *signer_out,
                           const uint8_t *bundle, size_t len, const aios_key *key, int profile,
                           uint32_t flags);

/* Steps 1-9 for the certificate method (7.2-7.4): the bundle must hold
 * x509CertificateChain (publicKey or keyless: AIOS__MB_E_METHOD).  anchors: anchors_n (1..256) trusted certificates,
 * each PEM or DER (lib/crypto aios__x509_chain_verify); none:
 * AIOS_E_INVALID_ARGUMENT.  time_policy: AIOS__MB_TIME_*, fixed_time read
 * for FIXED only.  The DSSE signature is verified with the leaf's key over
 * the PAE, then (model-signing-1 only, and not with AIOS__MB_NO_LEGACY)
 * the legacy PAE with SHA-256.  flags: AIOS__MB_NO_LEGACY
 * (AIOS__MB_IGNORE_HINT has no meaning here and is ignored).
 * Statuses: MANIFEST.md 11 steps 1-9, with AIOS__MB_E_CHAIN and
 * AIOS__MB_E_CERT_USAGE from step 5. */
int aios__mb_verify_certificate(aios__mb_statement **out, aios__mb_signer *signer_out,
                                const uint8_t *bundle, size_t len,
                                const uint8_t *const *anchors, const size_t *anchor_lens,
                                size_t anchors_n, int profile, int time_policy,
                                int64_t fixed_time, uint32_t flags);

/* hint = lowercase hex SHA-256 of the key's canonical SPKI PEM (4.3):
 * 65 bytes with the NUL. */
int aios__mb_key_hint(char hint[65], const aios_key *key);

/* ---- writing */

/* The statement of st (subject_name, method, hash_type, shard_size,
 * allow_symlinks, ignore_paths, resources as listed, provenance_json may
 * be NULL); the root is computed here (st->root is not read).  Resource
 * names are written as given; algorithms follow the profile (5.4). */
int aios__mb_statement_encode(aios_buffer **out, const aios__mb_statement *st, int profile);
/* Statement -> PAE -> aios_key_sign -> bundle with the key's hint. */
int aios__mb_sign_key(aios_buffer **bundle_out, const aios__mb_statement *st,
                      const aios_key *key, int profile);
/* The same with verificationMaterial.x509CertificateChain (12.7): chain_der
 * is the leaf (DER), then the intermediates to include (never the root),
 * 1..8 certificates of at most 16 KiB (AIOS_E_LIMIT), each must parse
 * (AIOS_E_FORMAT).  key: ECDSA P-256/P-384 with the SIGN purpose (Ed25519:
 * AIOS_E_UNSUPPORTED); the leaf's public key must be key's, else
 * AIOS__MB_E_KEY_MISMATCH.  The chain itself is not verified here. */
int aios__mb_sign_certificate(aios_buffer **bundle_out, const aios__mb_statement *st,
                              const aios_key *key, const uint8_t *const *chain_der,
                              const size_t *chain_lens, size_t chain_n, int profile);

/* Sigstore keyless (sigstore.c, MANIFEST.md 7.5): verify a keyless
 * bundle against a Sigstore TrustedRoot JSON document for an exact
 * identity (SubjectAltName) and OIDC issuer, then parse its statement. */
int aios__mb_verify_sigstore(aios__mb_statement **out, aios__mb_signer *signer_out,
                             const uint8_t *bundle, size_t len, const uint8_t *trusted,
                             size_t trusted_len, const char *identity, const char *oidc_issuer,
                             int profile);

/* The signer of a verified certificate-bearing bundle, from its leaf
 * (the path as aios__x509_chain_verify found it). */
struct aios__x509_leaf;
void aios__mb_signer_from_leaf(aios__mb_signer *sg, aios__mb_method method,
                               const struct aios__x509_leaf *leaf, size_t chain_len);

/* ---- shared by the bundle codec and the Sigstore verifier */

/* A base64 JSON string (MANIFEST.md 3.5) decoded into a new aios__malloc'd
 * buffer, its decoded size checked against max (LIMIT) before allocating;
 * missing or not a string: FORMAT. */
struct json_t;
int aios__mb_b64_member(uint8_t **out, size_t *out_len, const struct json_t *s, size_t max,
                        const char *what);
/* The ECDSA curve (and hash) of an aios__keyenc_alg: P-256, P-384, P-521. */
int aios__mb_alg_curve(int alg);

/* ---- helpers exposed for the tests and the fuzzer */

/* RFC 9162 2.1.3.2 (sigstore.c): 1 and root set when the audit path of n
 * hashes leads from leaf at index in a tree of size leaves; 0 otherwise. */
int aios__mb_merkle_root(uint8_t root[32], const uint8_t leaf[32], uint64_t index, uint64_t size,
                         const uint8_t (*path)[32], size_t n);

/* MANIFEST.md 3.5: either alphabet, optional complete padding, no
 * whitespace, unused bits ignored.  out_cap >= (len / 4 + 1) * 3. */
int aios__mb_base64_decode(uint8_t *out, size_t out_cap, size_t *out_len,
                           const char *in, size_t len);
/* MANIFEST.md 5.3 (a path, not ".").  AIOS__MB_E_PATH. */
int aios__mb_path_check(const char *p, size_t len, const char *what);

#endif /* AIOS_LIB_MANIFEST_BUNDLE_H */
