/*
 * AES-256-GCM on OpenSSL's libcrypto, for large inputs: private to
 * lib/crypto (aead.c, aead_once.c, init.c).  No OpenSSL type appears
 * here, so this header may be included anywhere in the seam.
 *
 * Why a second AES-GCM: libsodium 1.0.18's AES-256-GCM (AES-NI +
 * PCLMULQDQ, one block at a time through GHASH) runs ~1.8 GB/s on the
 * CPUs we measure, OpenSSL 3's stitched AES-NI/AVX GCM ~4.5 GB/s
 * (docs/PERFORMANCE.md), and OpenSSL's ARMv8 code is fast too.  GCM is
 * GCM: both give the same bytes, so the choice is per call and invisible
 * in the output.  Below AIOS__GCM_OSSL_MIN bytes libsodium's precomputed
 * key state wins (OpenSSL expands the key and allocates a context per
 * call), so small records stay on libsodium.
 *
 * On x86-64 CPUs with VAES and VPCLMULQDQ (AMD Zen 3 on, Intel Ice Lake
 * on) neither is used in the automatic choice: our own kernel
 * (gcm_vaes.h) is faster than libsodium at every size and than OpenSSL
 * 3.0 (which has no VAES path for these CPUs) on large inputs.  OpenSSL
 * stays for CPUs without VAES and for AArch64.
 */
#ifndef AIOS_CRYPTO_GCM_OSSL_H
#define AIOS_CRYPTO_GCM_OSSL_H

#include <stddef.h>
#include <stdint.h>

/* Inputs of at least this many bytes go to OpenSSL when it can run here.
 * Measured crossover (bench_crypto, AMD EPYC, OpenSSL 3.0, per-call
 * context): libsodium is faster at 1 KiB, OpenSSL from ~1.25 KiB on. */
#define AIOS__GCM_OSSL_MIN ((size_t)1536)

/* 1 if this CPU has hardware AES (x86-64: AES-NI and PCLMULQDQ; AArch64:
 * the AES instructions), i.e. OpenSSL's GCM would run on them.  Cheap: no
 * OpenSSL call (OpenSSL itself is initialised on first use). */
int aios__gcm_ossl_capable(void);

/* 1 if OpenSSL's AES-256-GCM is usable here: capable, and the cipher was
 * fetched (first call fetches it, once, thread-safe; ~1 ms). */
int aios__gcm_ossl_ready(void);

/* 1 if an AES-256-GCM input of len bytes goes to OpenSSL: ready and
 * len >= AIOS__GCM_OSSL_MIN, or libsodium's AES-GCM is unavailable here;
 * the test switch aios__aead_test_gcm_backend() overrides the choice (0
 * when it forces libsodium or VAES).  Callers ask for the VAES kernel
 * (gcm_vaes.h) first: where it runs it takes every length. */
int aios__gcm_ossl_use(size_t len);

/* The test switch's current value, AIOS__GCM_BACKEND_* (crypto.h). */
int aios__gcm_test_backend(void);

/* Detached AES-256-GCM with a 12-byte nonce, as libsodium's.  Inputs are
 * the seam's (checked by the caller; len within GCM's limit; ct == pt in
 * place allowed).  Seal returns AIOS_OK or a recorded error (ct and tag
 * wiped).  Open returns 0 (authentic), 1 (authentication failed: pt
 * wiped) or a negative recorded error (pt wiped). */
int aios__gcm_ossl_seal(const uint8_t key[32], uint8_t *ct, uint8_t tag[16],
                        const uint8_t *pt, size_t len, const uint8_t *ad, size_t adlen,
                        const uint8_t nonce[12]);
int aios__gcm_ossl_open(const uint8_t key[32], uint8_t *pt, const uint8_t *ct, size_t len,
                        const uint8_t tag[16], const uint8_t *ad, size_t adlen,
                        const uint8_t nonce[12]);

#endif
