/*
 * SHA-256 and HMAC-SHA-256 on the CPU's SHA instructions (sha256.c), for
 * the other files of lib/crypto/ and the unit tests.  The rest of the
 * library goes through crypto.h (aios__sha256_*, aios__hmac_sha256_*),
 * which hash.c and mac.c build on these functions.
 *
 * The states below have exactly the layout of libsodium's
 * crypto_hash_sha256_state and crypto_auth_hmacsha256_state, with the
 * same meaning (count is the number of BITS absorbed, buf holds the
 * count/8 mod 64 bytes not yet compressed), checked by static assertions
 * in sha256.c.  So a state started by libsodium may be continued here and
 * the other way round, and every opaque context of crypto.h that held a
 * libsodium state keeps working unchanged.
 *
 * Kernels, chosen at run time by aios__sha256_select():
 *   "sha-ni"      x86-64 SHA extensions (SHA256RNDS2/MSG1/MSG2, with the
 *                 SSSE3/SSE4.1 shuffles), when CPUID reports them;
 *   "armv8-sha2"  Armv8 SHA2 instructions, used when HWCAP says so;
 *                 compiled by GCC on every aarch64 target (the kernel
 *                 alone is built for +crypto) and by other compilers when
 *                 they target SHA2 (__ARM_FEATURE_SHA2).  Run in CI under
 *                 qemu-aarch64 -cpu max (scripts/test-arm64: SHAVS and
 *                 the differential tests of test_crypto_sha256);
 *   "libsodium"   libsodium's portable code, everywhere else.
 * An accelerated kernel is used only after it has agreed with libsodium
 * on a set of messages at selection time, so a faulty kernel costs speed,
 * never a wrong digest.
 */
#ifndef AIOS_LIB_CRYPTO_SHA256_H
#define AIOS_LIB_CRYPTO_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

typedef struct aios__sha256_state {
    uint32_t state[8];
    uint64_t count;     /* bits absorbed so far */
    uint8_t  buf[64];
} aios__sha256_state;

typedef struct aios__hmac_sha256_state {
    aios__sha256_state ictx;   /* after the ipad block */
    aios__sha256_state octx;   /* after the opad block */
} aios__hmac_sha256_state;

/* SHA-256 (FIPS 180-4).  Cannot fail; in may be NULL when len is 0.
 * final writes the digest and wipes the state. */
void aios__sha256_state_init(aios__sha256_state *st);
void aios__sha256_state_update(aios__sha256_state *st, const uint8_t *in, size_t len);
void aios__sha256_state_final(aios__sha256_state *st, uint8_t out[AIOS__SHA256_LEN]);

/* Two independent streams a and b (a != b) each absorb len bytes (pa,
 * pb): the same states as two aios__sha256_state_update calls.  With an
 * accelerated kernel, the whole blocks of both go through a 2-lane kernel
 * while both states are on a block boundary (count a multiple of 512
 * bits): one core hashes two streams at nearly twice the speed of one.
 * two_lanes says whether that kernel is in use (else update2 is just two
 * updates). */
void aios__sha256_state_update2(aios__sha256_state *a, const uint8_t *pa,
                                aios__sha256_state *b, const uint8_t *pb, size_t len);
int aios__sha256_state_two_lanes(void);
/* Two finals (a != b): the same digests as two aios__sha256_state_final
 * calls, their last blocks in one 2-lane step when both need as many.
 * Wipes both states. */
void aios__sha256_state_final2(aios__sha256_state *a, uint8_t outa[AIOS__SHA256_LEN],
                               aios__sha256_state *b, uint8_t outb[AIOS__SHA256_LEN]);

/* HMAC-SHA-256 (RFC 2104), any key length (a key longer than the 64-byte
 * block is hashed first); key may be NULL when keylen is 0.  final wipes
 * the state.  Cannot fail. */
void aios__hmac_sha256_state_init(aios__hmac_sha256_state *st, const uint8_t *key, size_t keylen);
void aios__hmac_sha256_state_update(aios__hmac_sha256_state *st, const uint8_t *in, size_t len);
void aios__hmac_sha256_state_final(aios__hmac_sha256_state *st, uint8_t out[AIOS__SHA256_LEN]);
/* Two HMAC finals (a != b), as two aios__hmac_sha256_state_final calls,
 * in 2-lane steps where the tails allow (the inner and the outer hash of
 * messages up to 55 bytes past a key's block: one step each).  Wipes
 * both.  init absorbs the ipad and opad blocks in one 2-lane step too. */
void aios__hmac_sha256_state_final2(aios__hmac_sha256_state *a, uint8_t outa[AIOS__SHA256_LEN],
                                    aios__hmac_sha256_state *b, uint8_t outb[AIOS__SHA256_LEN]);

/* Choose the kernel from aios__crypto_cpu(); called by aios__crypto_init
 * after feature detection.  Until then (and if it is never called) the
 * libsodium kernel is used.  Not thread-safe against itself; the choice
 * is read atomically, so hashing from other threads is fine. */
void aios__sha256_select(void);

/* The kernel in use: "sha-ni", "armv8-sha2" or "libsodium" (static). */
const char *aios__sha256_kernel(void);

/* TEST ONLY: on != 0 forces the libsodium kernel; 0 returns to the one
 * aios__sha256_select() chose.  States are interchangeable, so flipping
 * it between calls on one state is harmless. */
void aios__sha256_test_force_portable(int on);

#endif /* AIOS_LIB_CRYPTO_SHA256_H */
