/*
 * AES-256-GCM on the x86-64 VAES and VPCLMULQDQ instructions (256-bit
 * vectors: two AES blocks per instruction), private to lib/crypto
 * (aead.c, aead_once.c, gcm_ossl.c, init.c).  No intrinsic type appears
 * here, so this header may be included anywhere in the seam.
 *
 * Why a third AES-GCM: libsodium 1.0.18's AES-256-GCM (one block per
 * AES-NI instruction, GHASH one block at a time) runs ~1.8 GB/s and
 * OpenSSL 3.0's EVP ~4.4 GB/s on the CPUs we measure (OpenSSL 3.0 has no
 * VAES path for AMD Zen or for Intel before its 3.2 AVX-512 code); with
 * VAES-AVX2 the same construction reaches well beyond both
 * (docs/PERFORMANCE.md).  GCM is GCM: every backend gives the same bytes,
 * so the choice is per call and invisible in the output.
 *
 * The construction is NIST SP 800-38D with 96-bit nonces and 16-byte tags
 * only: J0 = nonce || 0x00000001, AES-CTR from inc32(J0) (a 32-bit
 * big-endian counter), GHASH over the associated data and the ciphertext
 * (each zero-padded to whole blocks) and the two 64-bit bit lengths, tag =
 * E(K, J0) xor GHASH.  GHASH uses the byte-reflected representation of
 * Gueron and Kounavis (Intel's "Carry-Less Multiplication and its Usage
 * for Computing the GCM Mode") with H premultiplied by x, so that a
 * product of reflected operands needs no extra shift, and the reduction
 * by two folds with the constant 0xC2000000_00000000 (x^63 + x^62 +
 * x^57); powers H^1..H^16 are precomputed, and up to 16 blocks share one
 * reduction (aggregated reduction).  The bulk loops encrypt 8 blocks per
 * iteration and hash the previous 8 ciphertext blocks between the AES
 * rounds.  Written in C intrinsics with per-function target attributes,
 * so the rest of the library keeps the baseline ISA; the code runs only
 * where aios__gcm_vaes_capable() says so (CPUID and XGETBV, init.c).
 */
#ifndef AIOS_CRYPTO_GCM_VAES_H
#define AIOS_CRYPTO_GCM_VAES_H

#include <stddef.h>
#include <stdint.h>

/* Expanded key: the 15 AES-256 round keys and H^1..H^16, byte-reflected.
 * Key material: keep it in secure memory (a key object's slab slot) or
 * wipe it (aios__gcm_vaes_key_wipe).  Read-only after
 * aios__gcm_vaes_key_init: any number of threads may seal and open with
 * one state at once. */
typedef struct aios__gcm_vaes_key { _Alignas(64) uint8_t opaque[512]; } aios__gcm_vaes_key;

/* 1 if this CPU (and the OS) runs the kernel: AES-NI, PCLMULQDQ, AVX2,
 * VAES and VPCLMULQDQ with the ymm state enabled in XCR0, and a
 * known-answer check passed at start-up.  Always 0 off x86-64. */
int aios__gcm_vaes_capable(void);

/* Set k up for key.  Only where aios__gcm_vaes_capable(). */
void aios__gcm_vaes_key_init(aios__gcm_vaes_key *k, const uint8_t key[32]);
void aios__gcm_vaes_key_wipe(aios__gcm_vaes_key *k);

/* Detached AES-256-GCM with a 12-byte nonce.  Inputs are the seam's,
 * checked by the caller: len within GCM's limit (2^36 - 32 bytes), any
 * adlen, buffers of any alignment, ct == pt (in place) allowed; pt, ct
 * and ad may be NULL when their length is 0.  Cannot fail. */
void aios__gcm_vaes_seal(const aios__gcm_vaes_key *k, uint8_t *ct, uint8_t tag[16],
                         const uint8_t *pt, size_t len, const uint8_t *ad, size_t adlen,
                         const uint8_t nonce[12]);
/* Returns 0 when the tag is authentic (pt holds the plaintext) or 1 when
 * it is not (compared in constant time; pt is wiped before returning, so
 * no unauthenticated byte is released).  pt == ct allowed. */
int aios__gcm_vaes_open(const aios__gcm_vaes_key *k, uint8_t *pt, const uint8_t *ct, size_t len,
                        const uint8_t tag[16], const uint8_t *ad, size_t adlen,
                        const uint8_t nonce[12]);

/* Called by aios__crypto_init once the CPU features are known: enables
 * the kernel if the CPU can run it and it reproduces a known answer. */
void aios__gcm_vaes_select(void);

#endif
