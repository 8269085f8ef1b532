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
    int vaes;        /* x86 VAES + VPCLMULQDQ on 256-bit vectors, with AES-NI,
                      * PCLMULQDQ and AVX2, the ymm state enabled by the OS
                      * (XCR0): the AES-256-GCM kernel of gcm_vaes.c can run */
    int avx512;      /* AVX-512 F, BW and VL with the opmask and zmm state
                      * enabled by the OS (reported; no kernel uses it yet) */
} aios__cpu_features;

/* CPU features detected by aios__crypto_init(). */
const aios__cpu_features *aios__crypto_cpu(void);

/* Dependency versions, static strings. */
const char *aios__crypto_sodium_version(void);
const char *aios__crypto_mbedtls_version(void);
const char *aios__crypto_openssl_version(void);   /* libcrypto's, e.g. "3.0.19" */
/* Tests only: whether this thread's OpenSSL error queue holds an entry
 * (libaios leaves none behind, success or failure). */
int aios__crypto_test_openssl_error_pending(void);

/* Run the known-answer tests of this seam.  full == 0 runs the fast
 * power-on subset (hashes, HMAC, HKDF, AEADs: well under a millisecond);
 * full != 0 adds signatures, key agreement and Argon2id.  cb may be NULL.
 * Returns AIOS_OK or AIOS_E_SELFTEST naming the first failure. */
int aios__crypto_selftest(int full, aios_selftest_cb cb, void *payload);

/* ================================================================ random */

/* Fill out with len bytes from the OS CSPRNG (libsodium randombytes). */
void aios__random_bytes(uint8_t *out, size_t len);
/* Tests only (known-answer vectors): every aios__random_bytes call goes to
 * fn instead of the CSPRNG; NULL restores it.  Not thread-safe; never set
 * by the library. */
void aios__random_set_for_testing(void (*fn)(uint8_t *out, size_t len));

/* ========================================================= secure memory */

/* Guarded, locked allocation (sodium_malloc): guard pages, canary, mlock,
 * MADV_DONTDUMP.  Returns NULL on failure (no error recorded). */
void *aios__secure_malloc(size_t len);
/* Wipe and release; NULL is a no-op. */
void  aios__secure_free(void *p);
/* Change the protection of a region from aios__secure_malloc(). */
int   aios__secure_protect(void *p, aios_protection prot);
/* Small secrets (data keys, derived keys, AEAD key objects) from a slab:
 * 64 KiB regions of guarded, locked, undumpable memory (sodium_malloc)
 * cut into slots of 64, 256 or 1024 bytes, so a small secret costs a
 * mutex and a bit scan instead of four mappings and an mlock (~25 us).
 * Slots are aligned to their size (at least 64).  No guard page between
 * slots and no per-slot page protection: for secrets that live briefly or
 * inside library objects.  Larger requests go to aios__secure_malloc.
 * free wipes the slot; len must be the length given to alloc.  NULL on
 * failure (no error recorded).  Thread-safe. */
#define AIOS__SECRET_SLOT_MAX 1024
void *aios__secret_alloc(size_t len);
void  aios__secret_free(void *p, size_t len);   /* NULL ok */
/* Slabs in use and slots handed out, for tests. */
void  aios__secret_stats(size_t *slabs, size_t *slots);

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
/* Two contexts (a != b) absorb len bytes each, as two updates would; on
 * the SHA instructions the blocks of both run interleaved in one 2-lane
 * kernel, nearly doubling a core's throughput (a stream alone is bound by
 * the instructions' latency).  two_lanes: 1 when that kernel is in use. */
void aios__sha256_update2(aios__sha256_ctx *a, const uint8_t *pa, aios__sha256_ctx *b,
                          const uint8_t *pb, size_t len);
int aios__sha256_two_lanes(void);

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
    AIOS__AEAD_AES256GCM         = 1,  /* needs hardware AES: libsodium/OpenSSL */
    AIOS__AEAD_CHACHA20POLY1305  = 2,  /* IETF, RFC 8439, 96-bit nonce */
    AIOS__AEAD_XCHACHA20POLY1305 = 3   /* 192-bit nonce */
} aios__aead_alg;

#define AIOS__AEAD_KEY_LEN 32
#define AIOS__AEAD_TAG_LEN 16
#define AIOS__AEAD_NONCE_MAX 24

/* 1 if alg can run here.  AES-256-GCM needs hardware AES: libsodium's
 * (x86-64 AES-NI + PCLMULQDQ) or OpenSSL's (the same on x86-64, or the
 * ARMv8 AES instructions). */
int    aios__aead_available(aios__aead_alg alg);
size_t aios__aead_nonce_len(aios__aead_alg alg);   /* 0 for an unknown alg */
const char *aios__aead_name(aios__aead_alg alg);   /* "aes256gcm", ... */

/* A key with its schedule precomputed (AES-GCM's expanded key and H
 * powers), in secure memory.  Build once, seal/open many records.  Key
 * objects are read-only after creation: any number of threads may seal
 * and open with one at once.
 *
 * AES-256-GCM has three backends that give the same bytes (GCM is GCM):
 * our VAES + VPCLMULQDQ kernel (lib/crypto/gcm_vaes.h) for every length
 * on x86-64 CPUs that have it (AMD Zen 3 on, Intel Ice Lake and Alder
 * Lake on), its key schedule and powers of H precomputed in the key
 * object; elsewhere libsodium's precomputed state for inputs under 1536
 * bytes and OpenSSL's libcrypto (EVP, a context per call) from 1536 bytes
 * on, where it is ~2.5x faster (lib/crypto/gcm_ossl.h); OpenSSL for every
 * size where only it can run (AArch64).  The choice is per call.
 *
 * AES-256-GCM without hardware AES (aios__aead_available() == 0):
 * aios__aead_key_new still succeeds, but the key is OPEN-ONLY: opening
 * runs on mbedTLS's software GCM (table-based AES, docs/FORMAT.md
 * sections 4 and 14.8; a fresh mbedTLS context per call), and
 * aios__aead_seal returns AIOS_E_UNSUPPORTED.  Callers that must seal
 * check aios__aead_available() first; callers that refuse the software
 * path (FORMAT.md's `no_soft_gcm`) check aios__aead_key_can_seal(). */
typedef struct aios__aead_key aios__aead_key;
int  aios__aead_key_new(aios__aead_key **out, aios__aead_alg alg,
                        const uint8_t key[AIOS__AEAD_KEY_LEN]);
void aios__aead_key_free(aios__aead_key *key);           /* NULL ok; wipes */
aios__aead_alg aios__aead_key_alg(const aios__aead_key *key);
/* 1 if seal works with this key; 0 for an open-only (software
 * AES-256-GCM) key or NULL. */
int  aios__aead_key_can_seal(const aios__aead_key *key);
/* TEST ONLY: when on != 0, AES-256-GCM key objects made from now on use
 * the open-only software path even where libsodium's is available.  Not
 * thread-safe; set it while no other thread makes key objects. */
void aios__aead_test_force_soft_gcm(int on);
/* TEST ONLY: which backend seals and opens AES-256-GCM (key objects and
 * the one-shot calls alike), read on every call: AUTO (as above),
 * LIBSODIUM, OPENSSL or VAES for every length.  A key object holds one
 * precomputed state, the VAES kernel's where it runs (unless LIBSODIUM
 * was forced when the key was made), else libsodium's; a call forced to
 * the other backend expands that backend's state on the stack for the
 * call (and wipes it).  AIOS_E_UNSUPPORTED (and nothing changed) when the
 * forced backend cannot run here.  Not thread-safe; set it while no other
 * thread seals or opens. */
#define AIOS__GCM_BACKEND_AUTO      0
#define AIOS__GCM_BACKEND_LIBSODIUM 1
#define AIOS__GCM_BACKEND_OPENSSL   2
#define AIOS__GCM_BACKEND_VAES      3
int  aios__aead_test_gcm_backend(int backend);
/* "vaes" where the VAES kernel runs (every length), else "openssl" where
 * large AES-256-GCM inputs go to OpenSSL's libcrypto (hardware AES, and
 * OpenSSL's configuration lets it fetch the cipher: this call fetches it
 * once, ~1 ms), else "libsodium" where libsodium's runs, else "mbedtls"
 * (open-only). */
const char *aios__aead_gcm_backend(void);
/* Inputs of at least this many bytes use OpenSSL in AUTO mode where the
 * VAES kernel does not run. */
size_t aios__aead_gcm_openssl_min(void);

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

/* ECDSA over NIST curves: keys and signing through mbedTLS, verification
 * through OpenSSL's libcrypto, or mbedTLS where OpenSSL's configuration
 * refuses ECDSA (ecdsa.c).  Private keys are the big-endian scalar (32, 48
 * or 66 bytes); public keys the uncompressed SEC1 point (0x04 || X || Y:
 * 65, 97 or 133 bytes).  Signatures are DER (as X.509 and the OMS format
 * use) or raw r || s (IEEE P1363). */
typedef enum aios__ec_curve {
    AIOS__EC_P256 = 1,   /* with SHA-256 */
    AIOS__EC_P384 = 2,   /* with SHA-384 */
    AIOS__EC_P521 = 3    /* with SHA-512 */
} aios__ec_curve;

#define AIOS__EC_SCALAR_MAX 66
#define AIOS__EC_POINT_MAX  133
#define AIOS__EC_HASH_MAX   64
/* SEQUENCE (long-form length 0x81 xx) of two 66-byte INTEGERs. */
#define AIOS__EC_DER_SIG_MAX 139

size_t aios__ec_scalar_len(aios__ec_curve curve);   /* 32, 48, 66; 0 if unknown */
size_t aios__ec_point_len(aios__ec_curve curve);    /* 65, 97, 133 */
size_t aios__ec_hash_len(aios__ec_curve curve);     /* 32, 48, 64 */
/* The curve's hash of msg (SHA-256, SHA-384, SHA-512) into h; its length. */
size_t aios__ec_hash(aios__ec_curve curve, uint8_t h[AIOS__EC_HASH_MAX], const uint8_t *msg,
                     size_t len);
/* Raw r || s (2 x aios__ec_scalar_len bytes, big-endian) as the DER
 * signature (minimal INTEGERs, the SEQUENCE's long length form from 128
 * bytes on); its length, 0 for an unknown curve or when the DER would
 * not fit AIOS__EC_DER_SIG_MAX (P-521 only, r or s of 2^527 or more:
 * never a valid signature, but raw bytes from outside can say so). */
size_t aios__ecdsa_raw_to_der(aios__ec_curve curve, uint8_t der[AIOS__EC_DER_SIG_MAX],
                              const uint8_t *raw);

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
/* ECDSA verification with SHA-256 whatever the curve (P-384 too): only
 * for the legacy DSSE form of model_signing 0.2.0 (docs/MANIFEST.md 4.6),
 * which hashed with SHA-256 always.  Statuses as aios__ecdsa_verify_der. */
int aios__ecdsa_verify_der_sha256(aios__ec_curve curve, const uint8_t *sig, size_t siglen,
                                  const uint8_t *msg, size_t len, const uint8_t *pk,
                                  size_t pklen);
int aios__ecdsa_verify_p1363(aios__ec_curve curve, const uint8_t *sig, size_t siglen,
                             const uint8_t *msg, size_t len, const uint8_t *pk, size_t pklen);

/* Which library verifies ECDSA signatures: "openssl", or "mbedtls" when
 * OpenSSL's configuration refuses its EC key manager or ECDSA (this
 * fetches them, once).  For aios_build_info(). */
const char *aios__ecdsa_verify_backend(void);
/* Test switch: AUTO (OpenSSL, with mbedTLS deciding whatever OpenSSL does
 * not), MBEDTLS (mbedTLS only), or OPENSSL (OpenSSL only, its undecided
 * cases taken as refusals: what OpenSSL alone would answer; then
 * AIOS_E_UNSUPPORTED where OpenSSL refuses ECDSA).  Only while no other
 * thread verifies. */
#define AIOS__ECDSA_BACKEND_AUTO    0
#define AIOS__ECDSA_BACKEND_MBEDTLS 1
#define AIOS__ECDSA_BACKEND_OPENSSL 2
int aios__ecdsa_test_backend(int backend);

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

/* ============================================================== key wrap */

/* AES key wrap (RFC 3394, NIST SP 800-38F "KW") and AES key wrap with
 * padding (RFC 5649, SP 800-38F "KWP") under a 128-, 192- or 256-bit KEK,
 * on mbedTLS's AES block cipher (AES-NI where the CPU has it).
 *
 *   KW   wraps in_len >= 16 bytes, a multiple of 8, into in_len + 8 bytes.
 *   KWP  wraps 1..AIOS__KEYWRAP_MAX bytes into AIOS__KWP_WRAPPED_LEN(len)
 *        bytes (the input padded with zeros to a multiple of 8, plus 8).
 *
 * Wrapping is deterministic (the same KEK and input give the same output).
 * Status: AIOS_E_INVALID_ARGUMENT for a NULL pointer, a KEK that is not 16,
 * 24 or 32 bytes, or a length the mode cannot wrap; AIOS_E_LIMIT above
 * AIOS__KEYWRAP_MAX (+ 8 to unwrap); AIOS_E_FORMAT for wrapped input of a
 * length no wrap produces; AIOS_E_BUFFER_TOO_SMALL with *out_len set to
 * the size needed; AIOS_E_AUTH when the integrity check fails on unwrap
 * (wrong KEK or altered data; the check is constant time and one message
 * covers every cause).  An unwrap needs out_cap >= in_len - 8 in both
 * modes (KWP decrypts the padded block before it knows the real length);
 * on any failure the output written so far is wiped and *out_len is 0.
 * out may overlap in (in place), since the input is copied first. */
#define AIOS__KEYWRAP_MAX       ((size_t)1 << 20)   /* 1 MiB of key data */
#define AIOS__KW_OVERHEAD       8
#define AIOS__KWP_WRAPPED_LEN(n) ((((size_t)(n) + 7) / 8) * 8 + 8)

int aios__aes_kw_wrap(uint8_t *out, size_t out_cap, size_t *out_len,
                      const uint8_t *kek, size_t kek_len,
                      const uint8_t *in, size_t in_len);
int aios__aes_kw_unwrap(uint8_t *out, size_t out_cap, size_t *out_len,
                        const uint8_t *kek, size_t kek_len,
                        const uint8_t *in, size_t in_len);
int aios__aes_kwp_wrap(uint8_t *out, size_t out_cap, size_t *out_len,
                       const uint8_t *kek, size_t kek_len,
                       const uint8_t *in, size_t in_len);
int aios__aes_kwp_unwrap(uint8_t *out, size_t out_cap, size_t *out_len,
                         const uint8_t *kek, size_t kek_len,
                         const uint8_t *in, size_t in_len);

/* ========================================================= key encodings */

/* Asymmetric keys in the standard containers other software exchanges:
 *
 *   public   SubjectPublicKeyInfo (RFC 5280 4.1.2.7), DER or PEM
 *            "PUBLIC KEY" (RFC 7468); Ed25519 and X25519 per RFC 8410
 *            (OIDs 1.3.101.112 and 1.3.101.110, no parameters), ECDSA per
 *            RFC 5480 (id-ecPublicKey, namedCurve prime256v1,
 *            secp384r1 or secp521r1, uncompressed point only).
 *   private  PKCS#8 PrivateKeyInfo (RFC 5208; v2 OneAsymmetricKey of
 *            RFC 5958 accepted on input), DER or PEM "PRIVATE KEY";
 *            Ed25519/X25519 hold the 32-byte seed as an OCTET STRING in
 *            the OCTET STRING (RFC 8410 section 7), ECDSA an ECPrivateKey
 *            (RFC 5915) with its public key.  Decoding also accepts SEC1
 *            "EC PRIVATE KEY" PEM (optionally after the "EC PARAMETERS"
 *            block `openssl ecparam -genkey` writes) and SEC1 DER;
 *            encoding always writes PKCS#8 v1 exactly as OpenSSL does.
 *
 * Raw key forms are those of the signature and key-agreement sections
 * above: 32-byte Ed25519 seed and public key, 32-byte X25519 scalar and
 * point, ECDSA big-endian scalar (32/48) and uncompressed point
 * (65/97/133).
 *
 * P-521 is public-only here (libaios verifies P-521 signatures but holds
 * no P-521 private key): SPKI encodes and decodes; a P-521 PKCS#8 or SEC1
 * private key is AIOS_E_UNSUPPORTED on decode and encode, and
 * aios__keyenc_priv_len(AIOS__KEYENC_P521) is 0.
 *
 * Decoders take PEM or DER (PEM when the input starts, after optional
 * whitespace, with "-----BEGIN "), parse strict DER (minimal lengths, no
 * trailing bytes, exact key sizes) and check the key: ECDSA points on the
 * curve, ECDSA scalars in [1, n-1], Ed25519 public keys canonical points
 * of the main subgroup, and any public key embedded next to a private key
 * equal to the one the private key gives.  Status: AIOS_E_FORMAT for
 * anything malformed or inconsistent, with a message saying what;
 * AIOS_E_UNSUPPORTED for a well-formed key we do not handle (RSA, DSA,
 * Ed448, X448, other curves, explicit curve parameters, compressed points,
 * encrypted PKCS#8 or PEM); AIOS_E_LIMIT for input over
 * AIOS__KEYENC_INPUT_MAX; AIOS_E_BUFFER_TOO_SMALL (size needed in *_len).
 *
 * Private outputs (raw private keys from a decoder, PKCS#8 from an
 * encoder) go to caller buffers, which callers should place in secure
 * memory (aios__secure_malloc); every failure path wipes them, and every
 * temporary copy made here is wiped. */
typedef enum aios__keyenc_alg {
    AIOS__KEYENC_ED25519 = 1,
    AIOS__KEYENC_X25519  = 2,
    AIOS__KEYENC_P256    = 3,   /* ECDSA P-256 (id-ecPublicKey, prime256v1) */
    AIOS__KEYENC_P384    = 4,   /* ECDSA P-384 (id-ecPublicKey, secp384r1) */
    AIOS__KEYENC_P521    = 5    /* ECDSA P-521 (id-ecPublicKey, secp521r1) */
} aios__keyenc_alg;

#define AIOS__KEYENC_PUB_MAX   133    /* P-521 uncompressed point */
#define AIOS__KEYENC_PRIV_MAX  66     /* P-521 scalar */
#define AIOS__SPKI_DER_MAX     158    /* P-521 */
#define AIOS__SPKI_PEM_MAX     269    /* P-521, NUL included */
#define AIOS__PKCS8_DER_MAX    241    /* P-521 with its public key */
#define AIOS__PKCS8_PEM_MAX    385    /* P-521, NUL included */
#define AIOS__KEYENC_INPUT_MAX 65536  /* decoders' input cap (PEM or DER) */

/* "ed25519", "x25519", "p256", "p384", "p521"; "unknown" otherwise. */
const char *aios__keyenc_name(aios__keyenc_alg alg);
size_t aios__keyenc_pub_len(aios__keyenc_alg alg);    /* 32, 32, 65, 97, 133; 0 if unknown */
size_t aios__keyenc_priv_len(aios__keyenc_alg alg);   /* 32, 32, 32, 48, 66; 0 if unknown */
/* The public key of a raw private key (AIOS_E_FORMAT for an ECDSA scalar
 * out of range). */
int aios__keyenc_public(aios__keyenc_alg alg, const uint8_t *priv, size_t priv_len,
                        uint8_t *pub, size_t pub_cap, size_t *pub_len);

/* SubjectPublicKeyInfo of a raw public key, which is checked as the
 * decoder checks it.  The PEM form is NUL-terminated with LF line ends and
 * 64-character lines; *out_len excludes the NUL on success, and on
 * AIOS_E_BUFFER_TOO_SMALL is the capacity needed, NUL included. */
int aios__spki_encode_der(uint8_t *out, size_t out_cap, size_t *out_len,
                          aios__keyenc_alg alg, const uint8_t *pub, size_t pub_len);
int aios__spki_encode_pem(char *out, size_t out_cap, size_t *out_len,
                          aios__keyenc_alg alg, const uint8_t *pub, size_t pub_len);
/* Decode a SubjectPublicKeyInfo, PEM or DER: *alg_out gets an
 * aios__keyenc_alg (0 on failure), pub the raw public key.  X25519 points
 * are not checked here (any 32 bytes are a valid encoding); aios__x25519
 * refuses the low-order ones when they are used. */
int aios__spki_decode(const uint8_t *in, size_t len, int *alg_out,
                      uint8_t *pub, size_t pub_cap, size_t *pub_len);

/* PKCS#8 of a raw private key (ECDSA: with the public key computed here).
 * out holds a secret: put it in secure memory; it is wiped on failure. */
int aios__pkcs8_encode_der(uint8_t *out, size_t out_cap, size_t *out_len,
                           aios__keyenc_alg alg, const uint8_t *priv, size_t priv_len);
int aios__pkcs8_encode_pem(char *out, size_t out_cap, size_t *out_len,
                           aios__keyenc_alg alg, const uint8_t *priv, size_t priv_len);
/* Decode PKCS#8 (or SEC1 for ECDSA), PEM or DER: *alg_out gets an
 * aios__keyenc_alg (0 on failure), priv the raw private key (all priv_cap
 * bytes wiped on failure).  len excludes any NUL terminator. */
int aios__pkcs8_decode(const uint8_t *in, size_t len, int *alg_out,
                       uint8_t *priv, size_t priv_cap, size_t *priv_len);

/* ================================================================= X.509 */

/* Certificate path validation for the certificate method of signed model
 * manifests (docs/MANIFEST.md 7.2-7.4), on mbedTLS's x509 library
 * (mbedtls_x509_crt_verify_with_profile), x509.c.
 *
 * chain_der: the leaf first, then untrusted intermediates in any order
 * (ordered here by issuer name before mbedTLS builds the path; a
 * self-signed certificate among them is never trusted).  anchors: each
 * entry PEM (one or more "CERTIFICATE" blocks) or DER; every certificate
 * given is a trust anchor, self-signed or not (a partial chain is
 * enough).  Path profile: SHA-256/384/512 signatures, RSA keys of at
 * least 2048 bits (PKCS#1 v1.5 or PSS), ECDSA keys on P-256/P-384/P-521.
 *
 * Time: mbedTLS's own clock checks are discarded; every certificate of
 * the built path (anchor included) must satisfy notBefore <= T <=
 * notAfter, with T the leaf's notBefore (AIOS__X509_TIME_LEAF_NOT_BEFORE),
 * the current time (AIOS__X509_TIME_NOW) or fixed_time (unix seconds,
 * AIOS__X509_TIME_FIXED).  fixed_time is read only for FIXED.
 *
 * Leaf usage: a KeyUsage extension with digitalSignature, or else an
 * ExtendedKeyUsage extension holding id-kp-codeSigning itself
 * (anyExtendedKeyUsage does not count); a CA:TRUE leaf is accepted.
 * Leaf key: ECDSA P-256, P-384 or P-521.
 *
 * Status: AIOS_E_INVALID_ARGUMENT (NULL pointers, no anchor or more than
 * AIOS__X509_ANCHORS_MAX, no certificate, unknown time policy);
 * AIOS_E_LIMIT (more than AIOS__X509_CHAIN_MAX certificates, one over
 * AIOS__X509_CERT_MAX bytes, an anchor entry over AIOS__X509_ANCHOR_MAX);
 * AIOS_E_FORMAT (a certificate or anchor that does not parse, or DER with
 * trailing bytes); AIOS_E_UNSUPPORTED (a leaf key that is not P-256/P-384/P-521,
 * checked before the path, or a key algorithm mbedTLS cannot parse);
 * AIOS_E_MANIFEST_CHAIN (no valid path at T: the message names the
 * failing certificate's subject and the reasons);
 * AIOS_E_MANIFEST_CERT_USAGE; AIOS_E_NOMEM.  *leaf_out is filled on
 * success only (zeroed otherwise). */
#define AIOS__X509_CHAIN_MAX   8
#define AIOS__X509_CERT_MAX    ((size_t)16 << 10)
#define AIOS__X509_ANCHORS_MAX 256
#define AIOS__X509_ANCHOR_MAX  ((size_t)1 << 20)   /* one anchor entry (a PEM may hold several) */
#define AIOS__X509_DN_MAX      256                 /* subject/issuer text, NUL included */

#define AIOS__X509_TIME_LEAF_NOT_BEFORE 1
#define AIOS__X509_TIME_NOW             2
#define AIOS__X509_TIME_FIXED           3
/* OR'd into the time policy: the leaf is a timestamp authority's, whose
 * caller checks its purpose itself (no code-signing usage asked for) and
 * whose key may also be RSA (alg 0 in leaf_out then). */
#define AIOS__X509_TSA_LEAF             0x100

typedef struct aios__x509_leaf {
    aios__keyenc_alg alg;            /* AIOS__KEYENC_P256, _P384 or _P521; 0 from aios__x509_cert_info
                                      * for a key of another type */
    uint8_t  pub[AIOS__KEYENC_PUB_MAX];   /* uncompressed point */
    size_t   pub_len;
    char     subject[AIOS__X509_DN_MAX];  /* "CN=..., O=..." in printable ASCII (other bytes
                                           * as '?'), cut with "..." when longer */
    char     issuer[AIOS__X509_DN_MAX];
    int64_t  not_before, not_after;  /* unix seconds (UTC) */
    int64_t  checked_at;             /* chain_verify: the time T the path was checked at */
    size_t   path_len;               /* chain_verify: certificates in the path, anchor included */
    uint8_t  issuer_key_hash[32];    /* chain_verify: SHA-256 of the SubjectPublicKeyInfo of the
                                      * certificate that issued the leaf on the verified path */
} aios__x509_leaf;

int aios__x509_chain_verify(aios__x509_leaf *leaf_out,
                            const uint8_t *const *chain_der, const size_t *chain_lens,
                            size_t chain_n,
                            const uint8_t *const *anchors, const size_t *anchor_lens,
                            size_t anchors_n, int time_policy, int64_t fixed_time);
/* The same, every certificate of the path valid over the whole span
 * [fixed_time, fixed_last] (AIOS__X509_TIME_FIXED; validity being an
 * interval, at every time inside it): one path and one set of signature
 * checks for several times (a Sigstore signature's log time and its
 * timestamps).  checked_at is fixed_time. */
int aios__x509_chain_verify_span(aios__x509_leaf *leaf_out,
                                 const uint8_t *const *chain_der, const size_t *chain_lens,
                                 size_t chain_n,
                                 const uint8_t *const *anchors, const size_t *anchor_lens,
                                 size_t anchors_n, int time_policy, int64_t fixed_time,
                                 int64_t fixed_last);
/* Parse one DER certificate (no trust, no time) and describe it: the key
 * (alg 0 and pub_len 0 unless P-256/P-384/P-521), names and validity.
 * AIOS_E_FORMAT, AIOS_E_LIMIT (over AIOS__X509_CERT_MAX),
 * AIOS_E_UNSUPPORTED (a key algorithm mbedTLS cannot parse). */
int aios__x509_cert_info(aios__x509_leaf *out, const uint8_t *der, size_t len);
/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's
 * days_from_civil): certificate times, and RFC 3339 times elsewhere. */
int64_t aios__days_from_civil(int64_t y, int m, int d);
/* A Fulcio (Sigstore) certificate's identity, without trust: san gets
 * the first rfc822Name or URI of the SubjectAltName, issuer the OIDC
 * issuer extension (1.3.6.1.4.1.57264.1.8, else the deprecated .1.1);
 * "" when absent.  AIOS_E_FORMAT (does not parse, malformed extensions,
 * a NUL byte, an issuer extension twice, .1.1 and .1.8 differing),
 * AIOS_E_LIMIT (a value that does not fit), AIOS_E_MANIFEST_CERT_USAGE
 * (a CA, or without digitalSignature and the code-signing EKU). */
int aios__x509_fulcio_identity(const uint8_t *der, size_t len, char *san, size_t san_cap,
                               char *issuer, size_t issuer_cap);
/* RFC 6962 embedded SCTs: count in *verified the SCTs of the leaf that
 * verify (ECDSA with SHA-256) with the key of one of logs, at a time
 * inside that log's window, over the precertificate entry built from the
 * leaf (its SCT extension removed) and issuer_key_hash, the SHA-256 of
 * the issuer's SubjectPublicKeyInfo (from the verified path: the
 * aios__x509_leaf of aios__x509_chain_verify, not a search by name, which
 * two CAs of one name would make ambiguous).  No SCT, a malformed list:
 * 0 verified.  AIOS_E_FORMAT (the leaf does not parse), AIOS_E_NOMEM. */
typedef struct aios__x509_ctlog {
    uint8_t        key_id[32];     /* SHA-256 of the log's SPKI (CT, Rekor v1), or the trusted
                                      root's logId (Rekor v2: its signed-note key id) */
    int            ed25519;        /* 1: pub is an Ed25519 key (Rekor v2 only; never a CT log) */
    aios__ec_curve curve;
    uint8_t        pub[AIOS__KEYENC_PUB_MAX];
    size_t         pub_len;
    int64_t        start, end;     /* unix seconds */
} aios__x509_ctlog;
int aios__x509_sct_verify(size_t *verified, const uint8_t *leaf_der, size_t leaf_len,
                          const uint8_t issuer_key_hash[32], const aios__x509_ctlog *logs,
                          size_t logs_n);
/* An RFC 3161 timestamp (a DER TimeStampResp, as Sigstore bundles carry
 * it) over msg, by the authority whose certificates are tsa_chain (DER,
 * its own first, its root last; at least two): the response granted; one
 * SignerInfo (RFC 5652) naming the authority's certificate, with signed
 * attributes holding the TSTInfo content type and its digest, and, if
 * present, an ESS signing-certificate(-v2) attribute naming that
 * certificate; the signature verifies with its key; the TSTInfo's
 * message imprint (SHA-256/384/512) is msg's; the certificate is valid
 * at genTime on a path to the root, and is for time stamping (the
 * id-kp-timeStamping extended key usage).  *gen_time: genTime, unix
 * seconds.  Faults of the response: AIOS_E_FORMAT (malformed, not DER),
 * AIOS_E_AUTH (refused, another message, another digest),
 * AIOS_E_UNSUPPORTED (a hash other than SHA-256/384/512, a signature
 * algorithm other than ECDSA or RSA PKCS #1 v1.5 with the digest
 * algorithm's hash); not this authority's: AIOS_E_AUTH (another signer,
 * another key type, a bad signature), AIOS_E_MANIFEST_CERT_USAGE,
 * AIOS_E_MANIFEST_CHAIN (its path at genTime, or a certificate that does
 * not parse or whose key is neither ECDSA P-256/384/521 nor RSA >= 2048);
 * AIOS_E_NOMEM. */
int aios__x509_timestamp_verify(int64_t *gen_time, const uint8_t *resp, size_t resp_len,
                                const uint8_t *msg, size_t msg_len,
                                const uint8_t *const *tsa_chain, const size_t *tsa_lens,
                                size_t tsa_n);

/* =============================================================== AES-SIV */

/* AES-SIV (RFC 5297 "SIV-AES": S2V over AES-CMAC, then AES-CTR), the
 * deterministic AEAD: the same key, associated data and plaintext always
 * give the same output, so equal plaintexts can be matched (joined)
 * without being decrypted, and nothing else about them leaks.  Built on
 * mbedTLS's AES-CMAC and AES block cipher.
 *
 *   key   32, 48 or 64 bytes: AES-SIV-CMAC-256/384/512, K1 || K2 with K1
 *         keying S2V and K2 the CTR encryption (RFC 5297 section 2.6).
 *   ad    a vector of ad_count associated data strings (0..126, RFC 5297
 *         section 2.6), each authenticated as a separate component: their
 *         number, order and boundaries all matter (["ab", "c"] is not
 *         ["a", "bc"], and one empty string is not zero strings).  ad may
 *         be NULL when ad_count is 0; a string's p may be NULL when its
 *         len is 0.
 *   nonce optional: RFC 5297 section 3 treats a nonce as the LAST
 *         associated data component.  Pass it as ad[ad_count - 1]; with
 *         a fresh nonce the output is randomised (no longer joinable).
 *
 * Seal writes V (AIOS__SIV_TAG_LEN bytes, the synthetic IV) || C, pt_len +
 * 16 bytes; open takes V || C and writes the in_len - 16 plaintext bytes
 * after checking V in constant time.  In-place and overlapping use is
 * allowed in both directions: out may overlap pt/in anywhere (the input is
 * read or moved before the output is written over it).
 *
 * Status: AIOS_E_INVALID_ARGUMENT for a NULL pointer (out must be non-NULL
 * even when nothing is written) or a key of another length; AIOS_E_LIMIT
 * for more than AIOS__SIV_AD_MAX strings, or a plaintext or associated
 * data string over AIOS__SIV_MAX bytes (input over AIOS__SIV_MAX + 16 to
 * open); AIOS_E_FORMAT for sealed input shorter than 16 bytes;
 * AIOS_E_BUFFER_TOO_SMALL with *out_len set to the size needed (nothing
 * written); AIOS_E_AUTH when the recomputed V differs (wrong key, wrong
 * associated data, or altered input: one message for every cause).  On any
 * failure *out_len is 0 and whatever was written to out is wiped, so a
 * failed open leaves no unauthenticated plaintext behind. */
#define AIOS__SIV_TAG_LEN 16
#define AIOS__SIV_AD_MAX  126
#define AIOS__SIV_MAX     ((size_t)1 << 31)   /* bytes of plaintext or of one AD string */

typedef struct aios__siv_ad {
    const uint8_t *p;
    size_t         len;
} aios__siv_ad;

int aios__aes_siv_seal(uint8_t *out, size_t out_cap, size_t *out_len,
                       const uint8_t *key, size_t key_len,
                       const aios__siv_ad *ad, size_t ad_count,
                       const uint8_t *pt, size_t pt_len);
int aios__aes_siv_open(uint8_t *out, size_t out_cap, size_t *out_len,
                       const uint8_t *key, size_t key_len,
                       const aios__siv_ad *ad, size_t ad_count,
                       const uint8_t *in, size_t in_len);

/* Internal, exposed for the unit tests: add one to a 128-bit big-endian
 * counter, modulo 2^128, in time independent of its value.  The CTR step
 * of AES-SIV uses it on Q.  Cannot fail. */
void aios__aes_siv_ctr_inc(uint8_t ctr[AIOS__SIV_TAG_LEN]);

/* ================================================================== HPKE */

/* RFC 9180 Hybrid Public Key Encryption, base mode (mode_base: no PSK, no
 * sender authentication), for exactly one ciphersuite:
 *
 *   KEM  0x0020  DHKEM(X25519, HKDF-SHA256)   Nenc = Npk = Nsk = 32, Nsecret = 32
 *   KDF  0x0001  HKDF-SHA256                  Nh = 32
 *   AEAD 0x0003  ChaCha20Poly1305             Nk = 32, Nn = 12, Nt = 16
 *
 * LabeledExtract/LabeledExpand use the RFC's "HPKE-v1" prefix with the
 * suite ids "KEM" || 0x0020 (inside the KEM) and "HPKE" || 0x0020 ||
 * 0x0001 || 0x0003 (key schedule).  Single-shot only: seal and open
 * protect one message with sequence number 0 (the nonce is base_nonce),
 * which is all docs/FORMAT.md section 6.2 uses; the exporter is not
 * provided.  Checked against RFC 9180 appendix A.2.1.
 *
 * ct is the AEAD output with its tag appended: pt_len + AIOS__HPKE_TAG_LEN
 * bytes, exactly the RFC's "ct".  info and aad may be NULL with length 0.
 *
 * Status: AIOS_E_INVALID_ARGUMENT for a NULL pointer with a nonzero
 * length; AIOS_E_AUTH when a DH output is all zeros (a low-order pkR or
 * enc, refused by aios__x25519) and, from open, when the tag does not
 * verify (wrong skR, or altered enc, ct, aad or info: one status for every
 * cause); AIOS_E_FORMAT for a ct shorter than the tag; AIOS_E_LIMIT for a
 * message the AEAD cannot take.  Every intermediate secret (ephemeral
 * private key, DH output, shared secret, key schedule secrets, AEAD key)
 * is wiped on every path; on failure the secret outputs (shared_secret,
 * key, base_nonce, open's pt) are wiped, seal's enc is zeroed, and ct
 * holds no ciphertext (whatever the AEAD wrote is wiped; a failure before
 * the AEAD leaves ct as it was, so an in-place seal keeps its plaintext). */
#define AIOS__HPKE_ENC_LEN    32   /* Nenc: the serialized ephemeral public key */
#define AIOS__HPKE_SECRET_LEN 32   /* Nsecret: the KEM shared secret */
#define AIOS__HPKE_KEY_LEN    32   /* Nk */
#define AIOS__HPKE_NONCE_LEN  12   /* Nn */
#define AIOS__HPKE_TAG_LEN    16   /* Nt */

/* DHKEM Encap(pkR) with a fresh ephemeral key pair (libsodium CSPRNG). */
int aios__hpke_encap(uint8_t shared_secret[AIOS__HPKE_SECRET_LEN],
                     uint8_t enc[AIOS__HPKE_ENC_LEN],
                     const uint8_t pkR[AIOS__X25519_LEN]);
/* Encap with the caller's ephemeral private key skE, for known-answer
 * tests only (reusing skE destroys HPKE's security). */
int aios__hpke_encap_derand(uint8_t shared_secret[AIOS__HPKE_SECRET_LEN],
                            uint8_t enc[AIOS__HPKE_ENC_LEN],
                            const uint8_t pkR[AIOS__X25519_LEN],
                            const uint8_t skE[AIOS__X25519_LEN]);
/* DHKEM Decap(enc, skR). */
int aios__hpke_decap(uint8_t shared_secret[AIOS__HPKE_SECRET_LEN],
                     const uint8_t enc[AIOS__HPKE_ENC_LEN],
                     const uint8_t skR[AIOS__X25519_LEN]);
/* The rest of DHKEM Decap when the recipient's private key never leaves a
 * key handle: the caller computed dh = DH(skR, enc) itself (aios_key_agree)
 * and gives the recipient's public key pkR; this is ExtractAndExpand(dh,
 * kem_context = enc || pkR) (RFC 9180 4.1).  An all-zero dh (a low-order
 * enc) is AIOS_E_AUTH, shared_secret wiped. */
int aios__hpke_decap_from_dh(uint8_t shared_secret[AIOS__HPKE_SECRET_LEN],
                             const uint8_t dh[AIOS__X25519_LEN],
                             const uint8_t enc[AIOS__HPKE_ENC_LEN],
                             const uint8_t pkR[AIOS__X25519_LEN]);
/* KeySchedule(mode_base, shared_secret, info, psk = "", psk_id = ""):
 * the AEAD key and base_nonce (the exporter secret is not derived). */
int aios__hpke_key_schedule_base(uint8_t key[AIOS__HPKE_KEY_LEN],
                                 uint8_t base_nonce[AIOS__HPKE_NONCE_LEN],
                                 const uint8_t shared_secret[AIOS__HPKE_SECRET_LEN],
                                 const uint8_t *info, size_t info_len);

/* SealBase(pkR, info, aad, pt) -> (enc, ct): ct receives pt_len + 16
 * bytes; ct may be the same pointer as pt (in place). */
int aios__hpke_seal_base(uint8_t enc[AIOS__HPKE_ENC_LEN], uint8_t *ct,
                         const uint8_t pkR[AIOS__X25519_LEN],
                         const uint8_t *info, size_t info_len,
                         const uint8_t *aad, size_t aad_len,
                         const uint8_t *pt, size_t pt_len);
/* SealBase with the caller's ephemeral private key: known-answer tests
 * only. */
int aios__hpke_seal_base_derand(uint8_t enc[AIOS__HPKE_ENC_LEN], uint8_t *ct,
                                const uint8_t pkR[AIOS__X25519_LEN],
                                const uint8_t *info, size_t info_len,
                                const uint8_t *aad, size_t aad_len,
                                const uint8_t *pt, size_t pt_len,
                                const uint8_t skE[AIOS__X25519_LEN]);
/* OpenBase(enc, skR, info, aad, ct) -> pt: pt receives ct_len - 16 bytes
 * and may be the same pointer as ct.  On any failure those bytes are
 * wiped (no unauthenticated plaintext is left behind). */
int aios__hpke_open_base(uint8_t *pt, const uint8_t enc[AIOS__HPKE_ENC_LEN],
                         const uint8_t skR[AIOS__X25519_LEN],
                         const uint8_t *info, size_t info_len,
                         const uint8_t *aad, size_t aad_len,
                         const uint8_t *ct, size_t ct_len);
/* OpenBase from a KEM shared secret already in hand (aios__hpke_decap or
 * aios__hpke_decap_from_dh): KeySchedule, then the sequence-0 Open.  Same
 * statuses and wiping as aios__hpke_open_base. */
int aios__hpke_open_base_shared(uint8_t *pt, const uint8_t shared_secret[AIOS__HPKE_SECRET_LEN],
                                const uint8_t *info, size_t info_len,
                                const uint8_t *aad, size_t aad_len,
                                const uint8_t *ct, size_t ct_len);

/* ============================================ precomputed HMAC, one-shot AEAD
 * (hmac_state.c, aead_once.c: the per-record path of envelope sessions) */

/* An HMAC-SHA-256 key with its inner and outer states precomputed: each
 * MAC then costs the compressions of the message and of the inner hash
 * only (two for up to 55 bytes).  The state is key material: keep it in
 * secure memory, wipe it with aios__hmac_sha256_key_wipe.  A set-up key is
 * read-only, so any number of threads may MAC with it at once. */
typedef struct aios__hmac_sha256_key { _Alignas(64) uint8_t opaque[256]; } aios__hmac_sha256_key;

void aios__hmac_sha256_key_init(aios__hmac_sha256_key *k, const uint8_t *key, size_t keylen);
void aios__hmac_sha256_key_wipe(aios__hmac_sha256_key *k);
/* HMAC(key, in): the state is copied to the stack and wiped.  Cannot fail. */
void aios__hmac_sha256_key_mac(const aios__hmac_sha256_key *k, uint8_t out[AIOS__SHA256_LEN],
                               const uint8_t *in, size_t len);
/* Two MACs under one key (HMAC(key, ina), HMAC(key, inb)), their last
 * compressions in 2-lane steps of the SHA-256 kernel when it has them:
 * two MACs of up to 55 bytes each cost about what one costs. */
void aios__hmac_sha256_key_mac2(const aios__hmac_sha256_key *k,
                                uint8_t outa[AIOS__SHA256_LEN], const uint8_t *ina, size_t lena,
                                uint8_t outb[AIOS__SHA256_LEN], const uint8_t *inb, size_t lenb);

/* Detached AEAD with a raw key, for a key used once (no key object, no
 * allocation, no system call on libsodium's paths).  Arguments and
 * statuses as aios__aead_seal / aios__aead_open; sealing AES-256-GCM
 * without AES-NI + PCLMULQDQ is AIOS_E_UNSUPPORTED, and so is opening it
 * unless soft_ok (then mbedTLS's software GCM, docs/FORMAT.md section 4).
 * On AIOS_E_AUTH pt is wiped. */
int aios__aead_seal_once(aios__aead_alg alg, const uint8_t key[AIOS__AEAD_KEY_LEN],
                         uint8_t *ct, uint8_t tag[AIOS__AEAD_TAG_LEN],
                         const uint8_t *pt, size_t len, const uint8_t *ad, size_t adlen,
                         const uint8_t *nonce);
int aios__aead_open_once(aios__aead_alg alg, const uint8_t key[AIOS__AEAD_KEY_LEN],
                         uint8_t *pt, const uint8_t *ct, size_t len,
                         const uint8_t tag[AIOS__AEAD_TAG_LEN], const uint8_t *ad, size_t adlen,
                         const uint8_t *nonce, int soft_ok);

#endif /* AIOS_LIB_CRYPTO_CRYPTO_H */
