/*
 * SHA-256 (FIPS 180-4) compression on the CPU's SHA instructions, the
 * incremental hash and HMAC-SHA-256 (RFC 2104) over it, and the run-time
 * choice between it and libsodium's portable code.  See sha256.h.
 *
 * Written from FIPS 180-4 section 6.2 and the Intel SHA extensions
 * description (SHA256RNDS2, SHA256MSG1, SHA256MSG2 in the Intel SDM,
 * volume 2) / the Arm ARM (SHA256H, SHA256H2, SHA256SU0, SHA256SU1).
 * The x86 kernel is compiled with a per-function target attribute, so the
 * rest of the library keeps the baseline ISA and the kernel runs only
 * where CPUID reports the extensions.
 *
 * Checked by tests/unit/test_crypto_sha256.c (NIST CAVP SHAVS short,
 * long and Monte Carlo vectors; differential tests against libsodium) and
 * by the power-on self-test (selftest.c).
 */
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include <sodium.h>

#include "crypto.h"
#include "sha256.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#  define SHA256_HAVE_SHANI 1
#  include <immintrin.h>
#endif
#if defined(__aarch64__) && (defined(__ARM_FEATURE_SHA2) || defined(__ARM_FEATURE_CRYPTO))
/* The compiler targets the Armv8 SHA2 instructions for the whole file
 * (-march=...+sha2 / +crypto, Apple arm64). */
#  define SHA256_HAVE_ARMV8 1
#  define ARMV8_TARGET
#  include <arm_neon.h>
#elif defined(__aarch64__) && defined(__GNUC__) && !defined(__clang__)
/* GCC on a baseline armv8-a target (Debian's arm64): the kernel alone is
 * compiled for +crypto (GCC's arm_neon.h declares the SHA2 intrinsics
 * under that target pragma) and runs only where HWCAP reports SHA2.
 * Tested under qemu-aarch64 (scripts/test-arm64). */
#  define SHA256_HAVE_ARMV8 1
#  define ARMV8_TARGET __attribute__((target("+crypto")))
#  include <arm_neon.h>
#endif

/* ---- layout: ours must be libsodium's, member for member */

_Static_assert(sizeof(aios__sha256_state) == sizeof(crypto_hash_sha256_state),
               "aios__sha256_state differs in size from libsodium's SHA-256 state");
_Static_assert(offsetof(aios__sha256_state, state) == offsetof(crypto_hash_sha256_state, state) &&
               offsetof(aios__sha256_state, count) == offsetof(crypto_hash_sha256_state, count) &&
               offsetof(aios__sha256_state, buf) == offsetof(crypto_hash_sha256_state, buf),
               "aios__sha256_state member offsets differ from libsodium's");
_Static_assert(sizeof(((crypto_hash_sha256_state *)0)->state) == 32 &&
               sizeof(((crypto_hash_sha256_state *)0)->count) == 8 &&
               sizeof(((crypto_hash_sha256_state *)0)->buf) == 64,
               "libsodium's SHA-256 state members have unexpected sizes");
_Static_assert(sizeof(aios__hmac_sha256_state) == sizeof(crypto_auth_hmacsha256_state) &&
               offsetof(aios__hmac_sha256_state, ictx) == offsetof(crypto_auth_hmacsha256_state, ictx) &&
               offsetof(aios__hmac_sha256_state, octx) == offsetof(crypto_auth_hmacsha256_state, octx),
               "aios__hmac_sha256_state differs from libsodium's HMAC-SHA-256 state");
_Static_assert(_Alignof(aios__sha256_state) == _Alignof(crypto_hash_sha256_state),
               "aios__sha256_state alignment differs from libsodium's");

static crypto_hash_sha256_state *sodium_st(aios__sha256_state *st)
{
    return (crypto_hash_sha256_state *)(void *)st;
}

static crypto_auth_hmacsha256_state *sodium_hmac(aios__hmac_sha256_state *st)
{
    return (crypto_auth_hmacsha256_state *)(void *)st;
}

/* ---- constants (FIPS 180-4 sections 4.2.2 and 5.3.3) */

#if defined(SHA256_HAVE_SHANI) || defined(SHA256_HAVE_ARMV8)
_Alignas(16) static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};
#endif

static const uint32_t IV256[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
};

enum { KERNEL_SODIUM = 0, KERNEL_SHANI = 1, KERNEL_ARMV8 = 2 };

/* The kernel in use, and the one selection chose (restored when a test
 * stops forcing the portable one).  Relaxed atomics: a plain flag. */
static atomic_int kernel_in_use = KERNEL_SODIUM;
static atomic_int kernel_chosen = KERNEL_SODIUM;

static int kernel(void)
{
    return atomic_load_explicit(&kernel_in_use, memory_order_relaxed);
}

/* The 64 rounds of a block in a 2-lane kernel, as 16 steps of four
 * rounds over the message words a0..a3 (lane a) and b0..b3 (lane b):
 * R4(ma, mb, i) runs rounds 4i..4i+3 of both lanes; STEP first schedules
 * the next four words of each lane from its last sixteen, then runs R4. */
#define X2_ROUNDS64(R4, STEP) do {                                                 \
        R4(a0, b0, 0);                                                             \
        R4(a1, b1, 1);                                                             \
        R4(a2, b2, 2);                                                             \
        R4(a3, b3, 3);                                                             \
        STEP(a0, a1, a2, a3, b0, b1, b2, b3, 4);                                   \
        STEP(a1, a2, a3, a0, b1, b2, b3, b0, 5);                                   \
        STEP(a2, a3, a0, a1, b2, b3, b0, b1, 6);                                   \
        STEP(a3, a0, a1, a2, b3, b0, b1, b2, 7);                                   \
        STEP(a0, a1, a2, a3, b0, b1, b2, b3, 8);                                   \
        STEP(a1, a2, a3, a0, b1, b2, b3, b0, 9);                                   \
        STEP(a2, a3, a0, a1, b2, b3, b0, b1, 10);                                  \
        STEP(a3, a0, a1, a2, b3, b0, b1, b2, 11);                                  \
        STEP(a0, a1, a2, a3, b0, b1, b2, b3, 12);                                  \
        STEP(a1, a2, a3, a0, b1, b2, b3, b0, 13);                                  \
        STEP(a2, a3, a0, a1, b2, b3, b0, b1, 14);                                  \
        STEP(a3, a0, a1, a2, b3, b0, b1, b2, 15);                                  \
    } while (0)

/* ================================================ x86-64 SHA extensions */

#if defined(SHA256_HAVE_SHANI)
#define SHANI_TARGET __attribute__((target("sha,sse4.1")))

/* Four rounds 4i..4i+3 with the message words m = W[4i..4i+3].
 * SHA256RNDS2 does two rounds: its first operand is the (C,D,G,H) half of
 * the state, the second the (A,B,E,F) half, the third W+K for the two
 * rounds in its low 64 bits; it returns the new (A,B,E,F), and the new
 * (C,D,G,H) is the old (A,B,E,F).  So the two halves swap variables after
 * the first call and swap back after the second. */
#define SHANI_ROUNDS4(m, i) do {                                                   \
        wk = _mm_add_epi32((m), _mm_load_si128((const __m128i *)(const void *)&K256[4 * (i)])); \
        cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);                              \
        wk = _mm_shuffle_epi32(wk, 0x0e);                                          \
        abef = _mm_sha256rnds2_epu32(abef, cdgh, wk);                              \
    } while (0)

/* The next four message words from the last sixteen (m0 oldest):
 * W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16].  MSG1 adds s0 of
 * the following word to each of m0; the alignr gives W[t-7]; MSG2 adds
 * s1, using the two words it has just produced for the last two. */
#define SHANI_SCHEDULE(m0, m1, m2, m3)                                             \
    (m0) = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32((m0), (m1)),    \
                                              _mm_alignr_epi8((m3), (m2), 4)),     \
                                (m3))

SHANI_TARGET
static void blocks_shani(uint32_t st[8], const uint8_t *in, size_t nblocks)
{
    /* Byte order within each 32-bit word: the message is big-endian. */
    const __m128i bswap = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
    __m128i abef, cdgh, abef0, cdgh0, m0, m1, m2, m3, wk, t;

    /* Lanes listed low to high.  st[0..3] = a b c d, st[4..7] = e f g h;
     * the instructions want abef = f e b a and cdgh = h g d c. */
    t = _mm_loadu_si128((const __m128i *)(const void *)st);              /* a b c d */
    cdgh = _mm_loadu_si128((const __m128i *)(const void *)(st + 4));     /* e f g h */
    t = _mm_shuffle_epi32(t, 0xb1);                                      /* b a d c */
    cdgh = _mm_shuffle_epi32(cdgh, 0x1b);                                /* h g f e */
    abef = _mm_alignr_epi8(t, cdgh, 8);                                  /* f e b a */
    cdgh = _mm_blend_epi16(cdgh, t, 0xf0);                               /* h g d c */

    while (nblocks-- > 0) {
        abef0 = abef;
        cdgh0 = cdgh;
        m0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(in + 0)), bswap);
        m1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(in + 16)), bswap);
        m2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(in + 32)), bswap);
        m3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(in + 48)), bswap);

        SHANI_ROUNDS4(m0, 0);
        SHANI_ROUNDS4(m1, 1);
        SHANI_ROUNDS4(m2, 2);
        SHANI_ROUNDS4(m3, 3);
        SHANI_SCHEDULE(m0, m1, m2, m3); SHANI_ROUNDS4(m0, 4);
        SHANI_SCHEDULE(m1, m2, m3, m0); SHANI_ROUNDS4(m1, 5);
        SHANI_SCHEDULE(m2, m3, m0, m1); SHANI_ROUNDS4(m2, 6);
        SHANI_SCHEDULE(m3, m0, m1, m2); SHANI_ROUNDS4(m3, 7);
        SHANI_SCHEDULE(m0, m1, m2, m3); SHANI_ROUNDS4(m0, 8);
        SHANI_SCHEDULE(m1, m2, m3, m0); SHANI_ROUNDS4(m1, 9);
        SHANI_SCHEDULE(m2, m3, m0, m1); SHANI_ROUNDS4(m2, 10);
        SHANI_SCHEDULE(m3, m0, m1, m2); SHANI_ROUNDS4(m3, 11);
        SHANI_SCHEDULE(m0, m1, m2, m3); SHANI_ROUNDS4(m0, 12);
        SHANI_SCHEDULE(m1, m2, m3, m0); SHANI_ROUNDS4(m1, 13);
        SHANI_SCHEDULE(m2, m3, m0, m1); SHANI_ROUNDS4(m2, 14);
        SHANI_SCHEDULE(m3, m0, m1, m2); SHANI_ROUNDS4(m3, 15);

        abef = _mm_add_epi32(abef, abef0);
        cdgh = _mm_add_epi32(cdgh, cdgh0);
        in += 64;
    }

    t = _mm_shuffle_epi32(abef, 0x1b);                                   /* a b e f */
    cdgh = _mm_shuffle_epi32(cdgh, 0xb1);                                /* g h c d */
    abef = _mm_blend_epi16(t, cdgh, 0xf0);                               /* a b c d */
    cdgh = _mm_alignr_epi8(cdgh, t, 8);                                  /* e f g h */
    _mm_storeu_si128((__m128i *)(void *)st, abef);
    _mm_storeu_si128((__m128i *)(void *)(st + 4), cdgh);
}

/* Two independent streams, nblocks blocks each, in one loop.  One stream
 * is bound by the latency of SHA256RNDS2 (each pair of rounds waits for
 * the last); the other stream's rounds fill those cycles, so a core
 * hashes two streams nearly twice as fast as one (Intel's multi-buffer
 * SHA-NI code does the same).  Same algorithm, same macros, the lanes'
 * variables side by side. */
#define SHANI_R4(ab, cd, m, i, wk) do {                                            \
        (wk) = _mm_add_epi32((m), _mm_load_si128((const __m128i *)(const void *)&K256[4 * (i)])); \
        (cd) = _mm_sha256rnds2_epu32((cd), (ab), (wk));                            \
        (wk) = _mm_shuffle_epi32((wk), 0x0e);                                      \
        (ab) = _mm_sha256rnds2_epu32((ab), (cd), (wk));                            \
    } while (0)
#define X2_R4(ma, mb, i) do {                                                      \
        SHANI_R4(abef_a, cdgh_a, ma, i, wk_a);                                     \
        SHANI_R4(abef_b, cdgh_b, mb, i, wk_b);                                     \
    } while (0)
#define X2_STEP(a0, a1, a2, a3, b0, b1, b2, b3, i) do {                            \
        SHANI_SCHEDULE(a0, a1, a2, a3);                                            \
        SHANI_SCHEDULE(b0, b1, b2, b3);                                            \
        X2_R4(a0, b0, i);                                                          \
    } while (0)

SHANI_TARGET
static inline void shani_load(const uint32_t st[8], __m128i *abef, __m128i *cdgh)
{
    __m128i t = _mm_loadu_si128((const __m128i *)(const void *)st);      /* a b c d */
    __m128i u = _mm_loadu_si128((const __m128i *)(const void *)(st + 4)); /* e f g h */
    t = _mm_shuffle_epi32(t, 0xb1);                                      /* b a d c */
    u = _mm_shuffle_epi32(u, 0x1b);                                      /* h g f e */
    *abef = _mm_alignr_epi8(t, u, 8);                                    /* f e b a */
    *cdgh = _mm_blend_epi16(u, t, 0xf0);                                 /* h g d c */
}

SHANI_TARGET
static inline void shani_store(uint32_t st[8], __m128i abef, __m128i cdgh)
{
    __m128i t = _mm_shuffle_epi32(abef, 0x1b);                           /* a b e f */
    cdgh = _mm_shuffle_epi32(cdgh, 0xb1);                                /* g h c d */
    abef = _mm_blend_epi16(t, cdgh, 0xf0);                               /* a b c d */
    cdgh = _mm_alignr_epi8(cdgh, t, 8);                                  /* e f g h */
    _mm_storeu_si128((__m128i *)(void *)st, abef);
    _mm_storeu_si128((__m128i *)(void *)(st + 4), cdgh);
}

#define SHANI_LOADM(p, k) \
    _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)((p) + 16 * (k))), bswap)

SHANI_TARGET
static void blocks_shani_x2(uint32_t sa[8], const uint8_t *pa, uint32_t sb[8], const uint8_t *pb,
                            size_t nblocks)
{
    const __m128i bswap = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
    __m128i abef_a, cdgh_a, abef_b, cdgh_b, sa_ab, sa_cd, sb_ab, sb_cd;
    __m128i a0, a1, a2, a3, b0, b1, b2, b3, wk_a, wk_b;

    shani_load(sa, &abef_a, &cdgh_a);
    shani_load(sb, &abef_b, &cdgh_b);
    while (nblocks-- > 0) {
        sa_ab = abef_a;
        sa_cd = cdgh_a;
        sb_ab = abef_b;
        sb_cd = cdgh_b;
        a0 = SHANI_LOADM(pa, 0); b0 = SHANI_LOADM(pb, 0);
        a1 = SHANI_LOADM(pa, 1); b1 = SHANI_LOADM(pb, 1);
        a2 = SHANI_LOADM(pa, 2); b2 = SHANI_LOADM(pb, 2);
        a3 = SHANI_LOADM(pa, 3); b3 = SHANI_LOADM(pb, 3);

        X2_ROUNDS64(X2_R4, X2_STEP);

        abef_a = _mm_add_epi32(abef_a, sa_ab);
        cdgh_a = _mm_add_epi32(cdgh_a, sa_cd);
        abef_b = _mm_add_epi32(abef_b, sb_ab);
        cdgh_b = _mm_add_epi32(cdgh_b, sb_cd);
        pa += 64;
        pb += 64;
    }
    shani_store(sa, abef_a, cdgh_a);
    shani_store(sb, abef_b, cdgh_b);
}
#endif /* SHA256_HAVE_SHANI */

/* ======================================================= Armv8 SHA2 */

#if defined(SHA256_HAVE_ARMV8)
/* SHA256H gives the new (a,b,c,d) and SHA256H2 the new (e,f,g,h), both
 * from the OLD halves: keep a copy of abcd for the second. */
#define ARMV8_ROUNDS4(m, i) do {                                                   \
        wk = vaddq_u32((m), vld1q_u32(&K256[4 * (i)]));                            \
        t = abcd;                                                                  \
        abcd = vsha256hq_u32(abcd, efgh, wk);                                      \
        efgh = vsha256h2q_u32(efgh, t, wk);                                        \
    } while (0)
#define ARMV8_SCHEDULE(m0, m1, m2, m3) \
    (m0) = vsha256su1q_u32(vsha256su0q_u32((m0), (m1)), (m2), (m3))

ARMV8_TARGET static void blocks_armv8(uint32_t st[8], const uint8_t *in, size_t nblocks)
{
    uint32x4_t abcd = vld1q_u32(st), efgh = vld1q_u32(st + 4);
    uint32x4_t abcd0, efgh0, m0, m1, m2, m3, wk, t;

    while (nblocks-- > 0) {
        abcd0 = abcd;
        efgh0 = efgh;
        m0 = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(in + 0)));
        m1 = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(in + 16)));
        m2 = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(in + 32)));
        m3 = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(in + 48)));

        ARMV8_ROUNDS4(m0, 0);
        ARMV8_ROUNDS4(m1, 1);
        ARMV8_ROUNDS4(m2, 2);
        ARMV8_ROUNDS4(m3, 3);
        ARMV8_SCHEDULE(m0, m1, m2, m3); ARMV8_ROUNDS4(m0, 4);
        ARMV8_SCHEDULE(m1, m2, m3, m0); ARMV8_ROUNDS4(m1, 5);
        ARMV8_SCHEDULE(m2, m3, m0, m1); ARMV8_ROUNDS4(m2, 6);
        ARMV8_SCHEDULE(m3, m0, m1, m2); ARMV8_ROUNDS4(m3, 7);
        ARMV8_SCHEDULE(m0, m1, m2, m3); ARMV8_ROUNDS4(m0, 8);
        ARMV8_SCHEDULE(m1, m2, m3, m0); ARMV8_ROUNDS4(m1, 9);
        ARMV8_SCHEDULE(m2, m3, m0, m1); ARMV8_ROUNDS4(m2, 10);
        ARMV8_SCHEDULE(m3, m0, m1, m2); ARMV8_ROUNDS4(m3, 11);
        ARMV8_SCHEDULE(m0, m1, m2, m3); ARMV8_ROUNDS4(m0, 12);
        ARMV8_SCHEDULE(m1, m2, m3, m0); ARMV8_ROUNDS4(m1, 13);
        ARMV8_SCHEDULE(m2, m3, m0, m1); ARMV8_ROUNDS4(m2, 14);
        ARMV8_SCHEDULE(m3, m0, m1, m2); ARMV8_ROUNDS4(m3, 15);

        abcd = vaddq_u32(abcd, abcd0);
        efgh = vaddq_u32(efgh, efgh0);
        in += 64;
    }
    vst1q_u32(st, abcd);
    vst1q_u32(st + 4, efgh);
}

/* Two streams at once, as blocks_shani_x2: SHA256H/H2 are latency-bound
 * too on the cores that have them. */
#define ARMV8_R4(abcd, efgh, m, i, wk, t) do {                                     \
        (wk) = vaddq_u32((m), vld1q_u32(&K256[4 * (i)]));                          \
        (t) = (abcd);                                                              \
        (abcd) = vsha256hq_u32((abcd), (efgh), (wk));                              \
        (efgh) = vsha256h2q_u32((efgh), (t), (wk));                                \
    } while (0)
#define A2_R4(ma, mb, i) do {                                                      \
        ARMV8_R4(abcd_a, efgh_a, ma, i, wk_a, t_a);                                \
        ARMV8_R4(abcd_b, efgh_b, mb, i, wk_b, t_b);                                \
    } while (0)
#define A2_STEP(a0, a1, a2, a3, b0, b1, b2, b3, i) do {                            \
        ARMV8_SCHEDULE(a0, a1, a2, a3);                                            \
        ARMV8_SCHEDULE(b0, b1, b2, b3);                                            \
        A2_R4(a0, b0, i);                                                          \
    } while (0)
#define ARMV8_LOADM(p, k) vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8((p) + 16 * (k))))

ARMV8_TARGET static void blocks_armv8_x2(uint32_t sa[8], const uint8_t *pa, uint32_t sb[8],
                                         const uint8_t *pb, size_t nblocks)
{
    uint32x4_t abcd_a = vld1q_u32(sa), efgh_a = vld1q_u32(sa + 4);
    uint32x4_t abcd_b = vld1q_u32(sb), efgh_b = vld1q_u32(sb + 4);
    uint32x4_t sa_abcd, sa_efgh, sb_abcd, sb_efgh, wk_a, wk_b, t_a, t_b;
    uint32x4_t a0, a1, a2, a3, b0, b1, b2, b3;

    while (nblocks-- > 0) {
        sa_abcd = abcd_a;
        sa_efgh = efgh_a;
        sb_abcd = abcd_b;
        sb_efgh = efgh_b;
        a0 = ARMV8_LOADM(pa, 0); b0 = ARMV8_LOADM(pb, 0);
        a1 = ARMV8_LOADM(pa, 1); b1 = ARMV8_LOADM(pb, 1);
        a2 = ARMV8_LOADM(pa, 2); b2 = ARMV8_LOADM(pb, 2);
        a3 = ARMV8_LOADM(pa, 3); b3 = ARMV8_LOADM(pb, 3);

        X2_ROUNDS64(A2_R4, A2_STEP);

        abcd_a = vaddq_u32(abcd_a, sa_abcd);
        efgh_a = vaddq_u32(efgh_a, sa_efgh);
        abcd_b = vaddq_u32(abcd_b, sb_abcd);
        efgh_b = vaddq_u32(efgh_b, sb_efgh);
        pa += 64;
        pb += 64;
    }
    vst1q_u32(sa, abcd_a);
    vst1q_u32(sa + 4, efgh_a);
    vst1q_u32(sb, abcd_b);
    vst1q_u32(sb + 4, efgh_b);
}
#endif /* SHA256_HAVE_ARMV8 */

/* ============================================ incremental, any kernel */

/* Compress nblocks 64-byte blocks with an accelerated kernel k. */
static void blocks(int k, uint32_t st[8], const uint8_t *in, size_t nblocks)
{
    switch (k) {
#if defined(SHA256_HAVE_SHANI)
    case KERNEL_SHANI:
        blocks_shani(st, in, nblocks);
        return;
#endif
#if defined(SHA256_HAVE_ARMV8)
    case KERNEL_ARMV8:
        blocks_armv8(st, in, nblocks);
        return;
#endif
    default:
        /* Unreachable: k is only ever a kernel compiled in. */
        (void)st;
        (void)in;
        (void)nblocks;
        return;
    }
}

/* Two streams of nblocks blocks each with an accelerated kernel k. */
static void blocks2(int k, uint32_t sa[8], const uint8_t *pa, uint32_t sb[8], const uint8_t *pb,
                    size_t nblocks)
{
    switch (k) {
#if defined(SHA256_HAVE_SHANI)
    case KERNEL_SHANI:
        blocks_shani_x2(sa, pa, sb, pb, nblocks);
        return;
#endif
#if defined(SHA256_HAVE_ARMV8)
    case KERNEL_ARMV8:
        blocks_armv8_x2(sa, pa, sb, pb, nblocks);
        return;
#endif
    default:
        /* Unreachable, as in blocks(). */
        blocks(k, sa, pa, nblocks);
        blocks(k, sb, pb, nblocks);
        return;
    }
}

/* The buffering of FIPS 180-4 5.1.1 around the kernel, on libsodium's
 * state layout (count in bits, buf holding count/8 mod 64 bytes). */
static void accel_update(int k, aios__sha256_state *st, const uint8_t *in, size_t len)
{
    size_t r = (size_t)((st->count >> 3) & 63), n;

    st->count += (uint64_t)len << 3;
    if (r > 0) {
        n = 64 - r;
        if (len < n) {
            memcpy(st->buf + r, in, len);
            return;
        }
        memcpy(st->buf + r, in, n);
        blocks(k, st->state, st->buf, 1);
        in += n;
        len -= n;
    }
    if (len >= 64) {
        n = len / 64;
        blocks(k, st->state, in, n);
        in += n * 64;
        len -= n * 64;
    }
    if (len > 0)
        memcpy(st->buf, in, len);
}

/* The padded last block(s) of st (FIPS 180-4 5.1.1) into blk: 1 or 2
 * blocks, returned. */
static size_t pad_tail(const aios__sha256_state *st, uint8_t blk[128])
{
    size_t r = (size_t)((st->count >> 3) & 63), n, i;
    uint64_t bits = st->count;

    memcpy(blk, st->buf, r);
    blk[r++] = 0x80;
    n = r > 56 ? 2 : 1;
    memset(blk + r, 0, 64 * n - 8 - r);
    for (i = 0; i < 8; i++)
        blk[64 * n - 8 + i] = (uint8_t)(bits >> (56 - 8 * i));
    return n;
}

static void put_digest(const aios__sha256_state *st, uint8_t out[AIOS__SHA256_LEN])
{
    size_t i;
    for (i = 0; i < 8; i++) {
        out[4 * i + 0] = (uint8_t)(st->state[i] >> 24);
        out[4 * i + 1] = (uint8_t)(st->state[i] >> 16);
        out[4 * i + 2] = (uint8_t)(st->state[i] >> 8);
        out[4 * i + 3] = (uint8_t)st->state[i];
    }
}

static void accel_final(int k, aios__sha256_state *st, uint8_t out[AIOS__SHA256_LEN])
{
    uint8_t blk[128];

    blocks(k, st->state, blk, pad_tail(st, blk));
    put_digest(st, out);
    aios__wipe(blk, sizeof(blk));
    aios__wipe(st, sizeof(*st));
}

/* Two finals; when both tails are as long, in the 2-lane kernel. */
static void accel_final2(int k, aios__sha256_state *a, uint8_t outa[AIOS__SHA256_LEN],
                         aios__sha256_state *b, uint8_t outb[AIOS__SHA256_LEN])
{
    uint8_t ba[128], bb[128];
    size_t na = pad_tail(a, ba), nb = pad_tail(b, bb);

    if (na == nb) {
        blocks2(k, a->state, ba, b->state, bb, na);
    } else {
        blocks(k, a->state, ba, na);
        blocks(k, b->state, bb, nb);
    }
    put_digest(a, outa);
    put_digest(b, outb);
    aios__wipe(ba, sizeof(ba));
    aios__wipe(bb, sizeof(bb));
    aios__wipe(a, sizeof(*a));
    aios__wipe(b, sizeof(*b));
}

/* ================================================================ SHA-256 */

void aios__sha256_state_init(aios__sha256_state *st)
{
    memcpy(st->state, IV256, sizeof(st->state));
    st->count = 0;
    memset(st->buf, 0, sizeof(st->buf));
}

void aios__sha256_state_update(aios__sha256_state *st, const uint8_t *in, size_t len)
{
    int k;

    if (len == 0)
        return;
    k = kernel();
    if (k == KERNEL_SODIUM)
        (void)crypto_hash_sha256_update(sodium_st(st), in, (unsigned long long)len);
    else
        accel_update(k, st, in, len);
}

void aios__sha256_state_final(aios__sha256_state *st, uint8_t out[AIOS__SHA256_LEN])
{
    int k = kernel();

    if (k == KERNEL_SODIUM) {
        (void)crypto_hash_sha256_final(sodium_st(st), out);
        aios__wipe(st, sizeof(*st));
    } else {
        accel_final(k, st, out);
    }
}

void aios__sha256_state_final2(aios__sha256_state *a, uint8_t outa[AIOS__SHA256_LEN],
                               aios__sha256_state *b, uint8_t outb[AIOS__SHA256_LEN])
{
    int k = kernel();

    if (k == KERNEL_SODIUM) {
        aios__sha256_state_final(a, outa);
        aios__sha256_state_final(b, outb);
    } else {
        accel_final2(k, a, outa, b, outb);
    }
}

/* Two streams: whole blocks through a 2-lane kernel while both states
 * sit on a block boundary, everything else as two updates. */
void aios__sha256_state_update2(aios__sha256_state *a, const uint8_t *pa,
                                aios__sha256_state *b, const uint8_t *pb, size_t len)
{
    int k = kernel();
    size_t n = len / 64;

    if (n > 0 && k != KERNEL_SODIUM && (a->count & 511) == 0 && (b->count & 511) == 0) {
        blocks2(k, a->state, pa, b->state, pb, n);
        a->count += (uint64_t)n << 9;
        b->count += (uint64_t)n << 9;
        pa += n * 64;
        pb += n * 64;
        len -= n * 64;
    }
    aios__sha256_state_update(a, pa, len);
    aios__sha256_state_update(b, pb, len);
}

int aios__sha256_state_two_lanes(void)
{
    return kernel() != KERNEL_SODIUM;
}

/* ========================================================== HMAC-SHA-256 */

/* RFC 2104: H((K ^ opad) || H((K ^ ipad) || m)), K padded with zeros to
 * the 64-byte block, or first hashed when longer.  libsodium's kernel
 * keeps libsodium's own HMAC, exactly the code path the library had. */
void aios__hmac_sha256_state_init(aios__hmac_sha256_state *st, const uint8_t *key, size_t keylen)
{
    static const uint8_t empty_key[1];
    uint8_t pad[64], opad[64], khash[AIOS__SHA256_LEN];
    aios__sha256_state kst;
    size_t i;

    if (keylen == 0)
        key = empty_key;   /* never read; libsodium wants a valid pointer */
    if (kernel() == KERNEL_SODIUM) {
        (void)crypto_auth_hmacsha256_init(sodium_hmac(st), key, keylen);
        return;
    }
    if (keylen > sizeof(pad)) {
        aios__sha256_state_init(&kst);
        aios__sha256_state_update(&kst, key, keylen);
        aios__sha256_state_final(&kst, khash);   /* wipes kst */
        key = khash;
        keylen = sizeof(khash);
    }
    /* The ipad and opad blocks are independent: one 2-lane step. */
    memset(pad, 0x36, sizeof(pad));
    memset(opad, 0x5c, sizeof(opad));
    for (i = 0; i < keylen; i++) {
        pad[i] ^= key[i];
        opad[i] ^= key[i];
    }
    aios__sha256_state_init(&st->ictx);
    aios__sha256_state_init(&st->octx);
    aios__sha256_state_update2(&st->ictx, pad, &st->octx, opad, sizeof(pad));
    aios__wipe(pad, sizeof(pad));
    aios__wipe(opad, sizeof(opad));
    aios__wipe(khash, sizeof(khash));
}

void aios__hmac_sha256_state_update(aios__hmac_sha256_state *st, const uint8_t *in, size_t len)
{
    aios__sha256_state_update(&st->ictx, in, len);
}

void aios__hmac_sha256_state_final(aios__hmac_sha256_state *st, uint8_t out[AIOS__SHA256_LEN])
{
    uint8_t ihash[AIOS__SHA256_LEN];

    if (kernel() == KERNEL_SODIUM) {
        (void)crypto_auth_hmacsha256_final(sodium_hmac(st), out);
    } else {
        aios__sha256_state_final(&st->ictx, ihash);
        aios__sha256_state_update(&st->octx, ihash, sizeof(ihash));
        aios__sha256_state_final(&st->octx, out);
        aios__wipe(ihash, sizeof(ihash));
    }
    aios__wipe(st, sizeof(*st));
}

void aios__hmac_sha256_state_final2(aios__hmac_sha256_state *a, uint8_t outa[AIOS__SHA256_LEN],
                                    aios__hmac_sha256_state *b, uint8_t outb[AIOS__SHA256_LEN])
{
    uint8_t ia[AIOS__SHA256_LEN], ib[AIOS__SHA256_LEN];

    if (kernel() == KERNEL_SODIUM) {
        aios__hmac_sha256_state_final(a, outa);
        aios__hmac_sha256_state_final(b, outb);
        return;
    }
    aios__sha256_state_final2(&a->ictx, ia, &b->ictx, ib);
    aios__sha256_state_update(&a->octx, ia, sizeof(ia));
    aios__sha256_state_update(&b->octx, ib, sizeof(ib));
    aios__sha256_state_final2(&a->octx, outa, &b->octx, outb);
    aios__wipe(ia, sizeof(ia));
    aios__wipe(ib, sizeof(ib));
    aios__wipe(a, sizeof(*a));
    aios__wipe(b, sizeof(*b));
}

/* ============================================================= selection */

#if defined(SHA256_HAVE_SHANI) || defined(SHA256_HAVE_ARMV8)
/* 1 if kernel k gives libsodium's digests on messages that reach every
 * branch of update and final (empty, partial blocks, the 55/56-byte
 * padding edge, whole blocks, many blocks, split updates). */
static int kernel_agrees(int k)
{
    static const size_t lens[] = { 0, 1, 3, 55, 56, 63, 64, 65, 119, 120, 128, 200, 333 };
    uint8_t msg[333], ours[AIOS__SHA256_LEN], ref[AIOS__SHA256_LEN];
    aios__sha256_state st;
    size_t i, j, split;
    int ok = 1;

    for (i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i * 167 + 13);
    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        (void)crypto_hash_sha256(ref, msg, (unsigned long long)lens[i]);
        for (j = 0; j < 3; j++) {
            split = j == 0 ? 0 : (j == 1 ? lens[i] / 2 : lens[i] / 3);
            aios__sha256_state_init(&st);
            accel_update(k, &st, msg, split);
            accel_update(k, &st, msg + split, lens[i] - split);
            accel_final(k, &st, ours);
            if (memcmp(ours, ref, sizeof(ref)) != 0)
                ok = 0;
        }
    }
    /* The 2-lane kernel: five blocks of two different streams. */
    {
        aios__sha256_state b;
        uint8_t theirs[AIOS__SHA256_LEN], ref_b[AIOS__SHA256_LEN];
        aios__sha256_state_init(&st);
        aios__sha256_state_init(&b);
        blocks2(k, st.state, msg, b.state, msg + 13, 5);
        st.count = b.count = 5 * 512;
        accel_final(k, &st, ours);
        accel_final(k, &b, theirs);
        (void)crypto_hash_sha256(ref, msg, 320);
        (void)crypto_hash_sha256(ref_b, msg + 13, 320);
        if (memcmp(ours, ref, sizeof(ref)) != 0 || memcmp(theirs, ref_b, sizeof(ref_b)) != 0)
            ok = 0;
    }
    return ok;
}
#endif

void aios__sha256_select(void)
{
    const aios__cpu_features *cpu = aios__crypto_cpu();
    int k = KERNEL_SODIUM;

#if defined(SHA256_HAVE_SHANI)
    if (cpu->sha_ni && kernel_agrees(KERNEL_SHANI))
        k = KERNEL_SHANI;
#endif
#if defined(SHA256_HAVE_ARMV8)
    if (cpu->arm_sha2 && kernel_agrees(KERNEL_ARMV8))
        k = KERNEL_ARMV8;
#endif
    (void)cpu;
    atomic_store_explicit(&kernel_chosen, k, memory_order_relaxed);
    atomic_store_explicit(&kernel_in_use, k, memory_order_relaxed);
}

const char *aios__sha256_kernel(void)
{
    switch (kernel()) {
    case KERNEL_SHANI:
        return "sha-ni";
    case KERNEL_ARMV8:
        return "armv8-sha2";
    default:
        return "libsodium";
    }
}

void aios__sha256_test_force_portable(int on)
{
    atomic_store_explicit(&kernel_in_use,
                          on ? KERNEL_SODIUM
                             : atomic_load_explicit(&kernel_chosen, memory_order_relaxed),
                          memory_order_relaxed);
}
