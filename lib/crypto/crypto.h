/*
 * libaios crypto seam: the one internal API through which every module
 * reaches cryptography.  Only the .c files in lib/crypto/ include libsodium
 * or mbedTLS headers; this header includes neither, so a move to mbedTLS
 * 3.6 or to another backend touches only this folder.
 *
 * Conventions
 *   - Functions return AIOS_OK or a negative aios_status and record an
 *     error message (aios__fail) on failure.  Functions documented as
 *     "cannot fail" return void.
 *   - Outputs that may hold secrets are wiped on every failure path.
 *   - Context structs are fixed-size opaque storage, sized and aligned for
 *     the backend's state (a static assertion in the backend checks it), so
 *     callers can keep them on the stack without an allocation.
 *   - Nothing here is thread-unsafe except using one context from two
 *     threads at once.
 */
#ifndef AIOS_LIB_CRYPTO_CRYPTO_H
#define AIOS_LIB_CRYPTO_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "aios/core.h"

/* ================================================================= setup */

/* Initialise libsodium (sodium_init) and detect CPU features.  Called once
 * by aios_init(); not thread-safe by itself. */
int aios__crypto_init(void);

typedef struct aios__cpu_features {
    int aesni;       /* x86 AES-NI (+PCLMULQDQ): libsodium AES-256-GCM usable */
    int pclmul;
    int avx;
    int avx2;
    int sha_ni;      /* x86 SHA extensions */
    int arm_aes;     /* Armv8 crypto extensions */
    int arm_sha2;
} aios__cpu_features;

/* CPU features detected by aios__crypto_init(). */
const aios__cpu_features *aios__crypto_cpu(void);

/* Dependency versions, static strings. */
const char *aios__crypto_sodium_version(void);
const char *aios__crypto_mbedtls_version(void);

/* Run the known-answer tests of this seam.  full == 0 runs the fast
 * power-on subset (hashes, HMAC, HKDF, AEADs: well under a millisecond);
 * full != 0 adds signatures, key agreement and Argon2id.  cb may be NULL.
 * Returns AIOS_OK or AIOS_E_SELFTEST naming the first failure. */
int aios__crypto_selftest(int full, aios_selftest_cb cb, void *payload);

/* ================================================================ random */

/* Fill out with len bytes from the OS CSPRNG (libsodium randombytes). */
void aios__random_bytes(uint8_t *out, size_t len);

/* ========================================================= secure memory */

/* Guarded, locked allocation (sodium_malloc): guard pages, canary, mlock,
 * MADV_DONTDUMP.  Returns NULL on failure (no error recorded). */
void *aios__secure_malloc(size_t len);
/* Wipe and release; NULL is a no-op. */
void  aios__secure_free(void *p);
/* Change the protection of a region from aios__secure_malloc(). */
int   aios__secure_protect(void *p, aios_protection prot);
/* Lock an ordinary region into RAM and out of core dumps (best effort). */
void  aios__mlock(void *p, size_t len);
void  aios__munlock(void *p, size_t len);   /* also wipes */

/* Wiping and constant-time comparison: cannot fail. */
void aios__wipe(void *p, size_t len);
/* 1 if equal, 0 otherwise; time depends only on len. */
int  aios__ct_equal(const void *a, const void *b, size_t len);
/* 1 if all len bytes are zero, constant time. */
int  aios__ct_is_zero(const void *p, size_t len);

/* ================================================================ hashes */

#define AIOS__SHA256_LEN  32
#define AIOS__SHA384_LEN  48
#define AIOS__SHA512_LEN  64
#define AIOS__BLAKE2B_MIN 16
#define AIOS__BLAKE2B_MAX 64
#define AIOS__BLAKE2B_KEY_MAX 64

typedef struct aios__sha256_ctx  { _Alignas(64) uint8_t opaque[256]; } aios__sha256_ctx;
typedef struct aios__sha512_ctx  { _Alignas(64) uint8_t opaque[256]; } aios__sha512_ctx;   /* SHA-384 too */
/* 448: libsodium's 384-byte state plus the output length, checked by final. */
typedef struct aios__blake2b_ctx { _Alignas(64) uint8_t opaque[448]; } aios__blake2b_ctx;

/* SHA-256 (FIPS 180-4).  Cannot fail. */
void aios__sha256_init(aios__sha256_ctx *ctx);
void aios__sha256_update(aios__sha256_ctx *ctx, const uint8_t *in, size_t len);
void aios__sha256_final(aios__sha256_ctx *ctx, uint8_t out[AIOS__SHA256_LEN]);   /* wipes ctx */
void aios__sha256(uint8_t out[AIOS__SHA256_LEN], const uint8_t *in, size_t len);

/* SHA-384 and SHA-512 share a context type. */
void aios__sha384_init(aios__sha512_ctx *ctx);
void aios__sha384_update(aios__sha512_ctx *ctx, const uint8_t *in, size_t len);
void aios__sha384_final(aios__sha512_ctx *ctx, uint8_t out[AIOS__SHA384_LEN]);
void aios__sha384(uint8_t out[AIOS__SHA384_LEN], const uint8_t *in, size_t len);
void aios__sha512_init(aios__sha512_ctx *ctx);
void aios__sha512_update(aios__sha512_ctx *ctx, const uint8_t *in, size_t len);
void aios__sha512_final(aios__sha512_ctx *ctx, uint8_t out[AIOS__SHA512_LEN]);
void aios__sha512(uint8_t out[AIOS__SHA512_LEN], const uint8_t *in, size_t len);

/* BLAKE2b with an output of 16..64 bytes and an optional key of up to 64
 * bytes (key may be NULL with keylen 0).  AIOS_E_INVALID_ARGUMENT on bad
 * lengths. */
int  aios__blake2b_init(aios__blake2b_ctx *ctx, size_t outlen, const uint8_t *key, size_t keylen);
void aios__blake2b_update(aios__blake2b_ctx *ctx, const uint8_t *in, size_t len);
int  aios__blake2b_final(aios__blake2b_ctx *ctx, uint8_t *out, size_t outlen);
int  aios__blake2b(uint8_t *out, size_t outlen, const uint8_t *in, size_t len,
                   const uint8_t *key, size_t keylen);

/* =================================================================== MAC */

typedef struct aios__hmac_sha256_ctx { _Alignas(64) uint8_t opaque[512]; } aios__hmac_sha256_ctx;

/* HMAC-SHA-256 (RFC 2104), any key length.  Cannot fail. */
void aios__hmac_sha256_init(aios__hmac_sha256_ctx *ctx, const uint8_t *key, size_t keylen);
void aios__hmac_sha256_update(aios__hmac_sha256_ctx *ctx, const uint8_t *in, size_t len);
void aios__hmac_sha256_final(aios__hmac_sha256_ctx *ctx, uint8_t out[AIOS__SHA256_LEN]);  /* wipes ctx */
void aios__hmac_sha256(uint8_t out[AIOS__SHA256_LEN], const uint8_t *key, size_t keylen,
                       const uint8_t *in, size_t len);
/* HMAC-SHA-512, one shot. */
void aios__hmac_sha512(uint8_t out[AIOS__SHA512_LEN], const uint8_t *key, size_t keylen,
                       const uint8_t *in, size_t len);

/* =================================================================== KDF */

/* HKDF-SHA-256 (RFC 5869).  salt and info may be NULL with length 0.
 * outlen at most 255*32 (else AIOS_E_INVALID_ARGUMENT). */
int aios__hkdf_sha256(uint8_t *out, size_t outlen,
                      const uint8_t *salt, size_t saltlen,
                      const uint8_t *ikm, size_t ikmlen,
                      const uint8_t *info, size_t infolen);
void aios__hkdf_sha256_extract(uint8_t prk[AIOS__SHA256_LEN],
                               const uint8_t *salt, size_t saltlen,
                               const uint8_t *ikm, size_t ikmlen);
int aios__hkdf_sha256_expand(uint8_t *out, size_t outlen, const uint8_t prk[AIOS__SHA256_LEN],
                             const uint8_t *info, size_t infolen);

#define AIOS__ARGON2_SALT_LEN 16
/* Argon2id v1.3 (RFC 9106) through libsodium.  opslimit >= 1 pass,
 * memlimit in bytes (>= 8 KiB).  AIOS_E_NOMEM if the memory cannot be had,
 * AIOS_E_INVALID_ARGUMENT for out-of-range parameters. */
int aios__argon2id(uint8_t *out, size_t outlen, const uint8_t *pass, size_t passlen,
                   const uint8_t salt[AIOS__ARGON2_SALT_LEN],
                   uint64_t opslimit, size_t memlimit);

/* ================================================================== AEAD */

typedef enum aios__aead_alg {
    AIOS__AEAD_AES256GCM         = 1,  /* libsodium, needs AES-NI + PCLMUL */
    AIOS__AEAD_CHACHA20POLY1305  = 2,  /* IETF, RFC 8439, 96-bit nonce */
    AIOS__AEAD_XCHACHA20POLY1305 = 3   /* 192-bit nonce */
} aios__aead_alg;

#define AIOS__AEAD_KEY_LEN 32
#define AIOS__AEAD_TAG_LEN 16
#define AIOS__AEAD_NONCE_MAX 24

/* 1 if alg can run here (AES-256-GCM needs AES-NI and PCLMUL). */
int    aios__aead_available(aios__aead_alg alg);
size_t aios__aead_nonce_len(aios__aead_alg alg);   /* 0 for an unknown alg */
const char *aios__aead_name(aios__aead_alg alg);   /* "aes256gcm", ... */

/* A key with its schedule precomputed (AES-GCM's expanded key and H
 * powers), in secure memory.  Build once, seal/open many records. */
typedef struct aios__aead_key aios__aead_key;
int  aios__aead_key_new(aios__aead_key **out, aios__aead_alg alg,
                        const uint8_t key[AIOS__AEAD_KEY_LEN]);
void aios__aead_key_free(aios__aead_key *key);           /* NULL ok; wipes */
aios__aead_alg aios__aead_key_alg(const aios__aead_key *key);

/* Detached seal: ct and pt have the same length and may be the same
 * pointer (in place).  nonce is aios__aead_nonce_len(alg) bytes. */
int aios__aead_seal(const aios__aead_key *key, uint8_t *ct, uint8_t tag[AIOS__AEAD_TAG_LEN],
                    const uint8_t *pt, size_t len, const uint8_t *ad, size_t adlen,
                    const uint8_t *nonce);
/* Detached open: verifies the tag before releasing plaintext.  On
 * AIOS_E_AUTH, pt is wiped (no unauthenticated byte is left behind). */
int aios__aead_open(const aios__aead_key *key, uint8_t *pt, const uint8_t *ct, size_t len,
                    const uint8_t tag[AIOS__AEAD_TAG_LEN], const uint8_t *ad, size_t adlen,
                    const uint8_t *nonce);

/* ============================================================ signatures */

#define AIOS__ED25519_PK_LEN   32
#define AIOS__ED25519_SK_LEN   64   /* libsodium's seed || pk form */
#define AIOS__ED25519_SEED_LEN 32
#define AIOS__ED25519_SIG_LEN  64

int aios__ed25519_keypair(uint8_t pk[AIOS__ED25519_PK_LEN], uint8_t sk[AIOS__ED25519_SK_LEN]);
int aios__ed25519_seed_keypair(uint8_t pk[AIOS__ED25519_PK_LEN], uint8_t sk[AIOS__ED25519_SK_LEN],
                               const uint8_t seed[AIOS__ED25519_SEED_LEN]);
int aios__ed25519_sign(uint8_t sig[AIOS__ED25519_SIG_LEN], const uint8_t *msg, size_t len,
                       const uint8_t sk[AIOS__ED25519_SK_LEN]);
/* AIOS_OK or AIOS_E_AUTH.  Rejects non-canonical and small-order keys. */
int aios__ed25519_verify(const uint8_t sig[AIOS__ED25519_SIG_LEN], const uint8_t *msg, size_t len,
                         const uint8_t pk[AIOS__ED25519_PK_LEN]);

/* ECDSA over NIST curves through mbedTLS.  Private keys are the big-endian
 * scalar (32 or 48 bytes); public keys the uncompressed SEC1 point
 * (0x04 || X || Y: 65 or 97 bytes).  Signatures are DER (as X.509 and the
 * OMS format use) or raw r || s (IEEE P1363). */
typedef enum aios__ec_curve {
    AIOS__EC_P256 = 1,   /* with SHA-256 */
    AIOS__EC_P384 = 2    /* with SHA-384 */
} aios__ec_curve;

#define AIOS__EC_SCALAR_MAX 48
#define AIOS__EC_POINT_MAX  97
#define AIOS__EC_DER_SIG_MAX 104

size_t aios__ec_scalar_len(aios__ec_curve curve);   /* 32, 48; 0 if unknown */
size_t aios__ec_point_len(aios__ec_curve curve);    /* 65, 97 */
size_t aios__ec_hash_len(aios__ec_curve curve);     /* 32, 48 */

int aios__ecdsa_keypair(aios__ec_curve curve, uint8_t *sk, uint8_t *pk);
/* The public point of a private scalar (AIOS_E_FORMAT if out of range). */
int aios__ecdsa_public(aios__ec_curve curve, const uint8_t *sk, uint8_t *pk);
/* Sign a message (hashed here with the curve's hash); deterministic nonces
 * (RFC 6979).  *siglen receives the DER length. */
int aios__ecdsa_sign_der(aios__ec_curve curve, uint8_t *sig, size_t sigcap, size_t *siglen,
                         const uint8_t *msg, size_t len, const uint8_t *sk);
/* AIOS_OK, AIOS_E_AUTH (bad signature) or AIOS_E_FORMAT (bad key). */
int aios__ecdsa_verify_der(aios__ec_curve curve, const uint8_t *sig, size_t siglen,
                           const uint8_t *msg, size_t len, const uint8_t *pk, size_t pklen);
int aios__ecdsa_verify_p1363(aios__ec_curve curve, const uint8_t *sig, size_t siglen,
                             const uint8_t *msg, size_t len, const uint8_t *pk, size_t pklen);

/* ========================================================= key agreement */

#define AIOS__X25519_LEN 32

int aios__x25519_keypair(uint8_t pk[AIOS__X25519_LEN], uint8_t sk[AIOS__X25519_LEN]);
int aios__x25519_public(uint8_t pk[AIOS__X25519_LEN], const uint8_t sk[AIOS__X25519_LEN]);
/* AIOS_E_AUTH when the peer's point yields the all-zero secret (low
 * order), so a malicious recipient key cannot force a known secret. */
int aios__x25519(uint8_t shared[AIOS__X25519_LEN], const uint8_t sk[AIOS__X25519_LEN],
                 const uint8_t peer_pk[AIOS__X25519_LEN]);

/* ============================================================= encodings */

typedef enum aios__b64_variant {
    AIOS__B64_STANDARD        = 1,  /* RFC 4648 section 4, padded */
    AIOS__B64_STANDARD_NOPAD  = 3,
    AIOS__B64_URLSAFE         = 5,  /* RFC 4648 section 5, padded */
    AIOS__B64_URLSAFE_NOPAD   = 7
} aios__b64_variant;

/* Size of the encoding of len bytes, NUL included. */
size_t aios__base64_encoded_len(size_t len, aios__b64_variant v);
/* Encode; out gets a NUL-terminated string.  AIOS_E_BUFFER_TOO_SMALL. */
int aios__base64_encode(char *out, size_t outcap, const uint8_t *in, size_t len,
                        aios__b64_variant v);
/* Decode; ignores nothing (no whitespace), AIOS_E_FORMAT on bad input. */
int aios__base64_decode(uint8_t *out, size_t outcap, size_t *outlen,
                        const char *in, size_t inlen, aios__b64_variant v);
/* Lower-case hex; out needs 2*len+1 bytes. */
int aios__hex_encode(char *out, size_t outcap, const uint8_t *in, size_t len);
int aios__hex_decode(uint8_t *out, size_t outcap, size_t *outlen, const char *in, size_t inlen);

#endif /* AIOS_LIB_CRYPTO_CRYPTO_H */
