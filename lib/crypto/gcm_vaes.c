/*
 * AES-256-GCM on VAES + VPCLMULQDQ (256-bit vectors): see gcm_vaes.h for
 * the construction and why.
 *
 * Written from NIST SP 800-38D, FIPS 197 (the AES-256 key expansion, on
 * AESKEYGENASSIST as in Intel's AES-NI white paper) and Gueron and
 * Kounavis's GHASH on carry-less multiplication.  Representation: a GHASH
 * block is loaded with its 16 bytes reversed ("byte-reflected"), so the
 * coefficient of x^i of the GCM polynomial sits at bit 127 - i of the
 * 128-bit integer.  The carry-less product of two reflected values is the
 * reflected product divided by x; keeping every power of H as H^i * x
 * cancels that, and the 256-bit product (LO + MI x^64 + HI x^128 as
 * integers) is reduced modulo x^128 + x^7 + x^2 + x + 1 by folding LO,
 * then MI, into the upper half with one multiplication each by
 * 0xC2000000_00000000 (x^63 + x^62 + x^57 in this order) and a swap of
 * the 64-bit halves.  Products of many blocks are summed before a single
 * reduction (sum of X_j * H^(n-j)).
 *
 * Every function touching the instructions carries a target attribute,
 * so the rest of the library keeps the baseline ISA; nothing here runs
 * unless aios__gcm_vaes_select() enabled it (CPUID and XGETBV in init.c,
 * then a known-answer check).
 *
 * Secrets: the key state (round keys, powers of H) lives where the
 * caller keeps it (a key object's slab slot, or a one-shot caller's stack,
 * wiped there).  The stack buffer of the final partial blocks (plaintext,
 * keystream) is wiped before returning.  Vector registers are not wiped
 * (C cannot express it); the compilers' vzeroupper at the end of each
 * function clears the upper halves only.
 *
 * Checked by tests/unit/test_crypto_gcm_vaes.c (McGrew-Viega test cases,
 * Wycheproof, differential tests against libsodium and OpenSSL) and by
 * the start-up known-answer check below.
 */
#include <stdatomic.h>
#include <string.h>

#include <sodium.h>

#include "crypto.h"
#include "gcm_vaes.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#  define GCM_VAES_HAVE 1
#  include <immintrin.h>
#endif

/* 1 once aios__gcm_vaes_select() found the CPU able and the kernel right. */
static atomic_int vaes_enabled;

int aios__gcm_vaes_capable(void)
{
    return atomic_load_explicit(&vaes_enabled, memory_order_relaxed);
}

#if defined(GCM_VAES_HAVE)

/* The expanded key, inside aios__gcm_vaes_key. */
typedef struct vkey {
    _Alignas(64) uint8_t rk[15][16];  /* AES-256 encryption round keys */
    uint8_t pad[16];
    uint8_t h[16][16];                /* h[i] = H^(16 - i) * x, byte-reflected */
} vkey;

_Static_assert(sizeof(vkey) <= sizeof(aios__gcm_vaes_key), "VAES GCM key state size");
_Static_assert(_Alignof(aios__gcm_vaes_key) % _Alignof(vkey) == 0, "VAES GCM key alignment");

#define VT __attribute__((target("aes,pclmul,avx,avx2,vaes,vpclmulqdq")))

#define LD128(p)     _mm_loadu_si128((const __m128i *)(const void *)(p))
#define ST128(p, v)  _mm_storeu_si128((__m128i *)(void *)(p), (v))
#define LD256(p)     _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define ST256(p, v)  _mm256_storeu_si256((__m256i *)(void *)(p), (v))
#define X128(a, b)   _mm_xor_si128((a), (b))
#define X256(a, b)   _mm256_xor_si256((a), (b))

/* Byte reversal of each 128-bit lane. */
_Alignas(16) static const uint8_t bswap_bytes[16] = {
    15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0
};

VT static inline __m128i bswap_mask128(void)
{
    return _mm_load_si128((const __m128i *)(const void *)bswap_bytes);
}

VT static inline __m256i bswap_mask256(void)
{
    return _mm256_broadcastsi128_si256(bswap_mask128());
}

/* x^63 + x^62 + x^57 in the high 64 bits (the reduction constant), 1 in
 * the low 64 bits. */
VT static inline __m128i gfpoly128(void)
{
    return _mm_set_epi32((int)0xc2000000u, 0, 0, 1);
}

VT static inline __m256i gfpoly256(void)
{
    return _mm256_broadcastsi128_si256(gfpoly128());
}

/* ---------------------------------------------------------------- AES */

#define KEXP_A(i, rcon) do {                                               \
        t2 = _mm_shuffle_epi32(_mm_aeskeygenassist_si128(t3, (rcon)), 0xff); \
        t4 = _mm_slli_si128(t1, 4); t1 = X128(t1, t4);                     \
        t4 = _mm_slli_si128(t4, 4); t1 = X128(t1, t4);                     \
        t4 = _mm_slli_si128(t4, 4); t1 = X128(t1, t4);                     \
        t1 = X128(t1, t2);                                                 \
        rk[i] = t1;                                                        \
    } while (0)
#define KEXP_B(i) do {                                                     \
        t2 = _mm_shuffle_epi32(_mm_aeskeygenassist_si128(t1, 0), 0xaa);    \
        t4 = _mm_slli_si128(t3, 4); t3 = X128(t3, t4);                     \
        t4 = _mm_slli_si128(t4, 4); t3 = X128(t3, t4);                     \
        t4 = _mm_slli_si128(t4, 4); t3 = X128(t3, t4);                     \
        t3 = X128(t3, t2);                                                 \
        rk[i] = t3;                                                        \
    } while (0)

/* FIPS 197 section 5.2 for Nk = 8: words w[8i..8i+7] from the previous
 * eight, SubWord(RotWord()) ^ Rcon on the first of each group, SubWord on
 * the fifth. */
VT static void aes256_expand(__m128i rk[15], const uint8_t key[32])
{
    __m128i t1 = LD128(key), t3 = LD128(key + 16), t2, t4;
    rk[0] = t1;
    rk[1] = t3;
    KEXP_A(2, 0x01);  KEXP_B(3);
    KEXP_A(4, 0x02);  KEXP_B(5);
    KEXP_A(6, 0x04);  KEXP_B(7);
    KEXP_A(8, 0x08);  KEXP_B(9);
    KEXP_A(10, 0x10); KEXP_B(11);
    KEXP_A(12, 0x20); KEXP_B(13);
    KEXP_A(14, 0x40);
}

#define RK128(k, r) _mm_load_si128((const __m128i *)(const void *)(k)->rk[r])
#define RK256(k, r) _mm256_broadcastsi128_si256(RK128(k, r))

VT static inline __m128i aes_block(const vkey *k, __m128i b)
{
    int r;
    b = X128(b, RK128(k, 0));
    for (r = 1; r < 14; r++)
        b = _mm_aesenc_si128(b, RK128(k, r));
    return _mm_aesenclast_si128(b, RK128(k, 14));
}

VT static inline __m256i aes_vec(const vkey *k, __m256i b)
{
    int r;
    b = X256(b, RK256(k, 0));
    for (r = 1; r < 14; r++)
        b = _mm256_aesenc_epi128(b, RK256(k, r));
    return _mm256_aesenclast_epi128(b, RK256(k, 14));
}

/* -------------------------------------------------------------- GHASH */

/* LO + MI x^64 + HI x^128 (reflected, as integers) -> the reduced 128-bit
 * product, lane by lane. */
VT static inline __m128i gf_reduce128(__m128i lo, __m128i mi, __m128i hi)
{
    const __m128i p = gfpoly128();
    __m128i t = _mm_clmulepi64_si128(p, lo, 0x01);   /* LO_L * (x^63 + x^62 + x^57) */
    mi = X128(mi, X128(_mm_shuffle_epi32(lo, 0x4e), t));
    t = _mm_clmulepi64_si128(p, mi, 0x01);
    return X128(hi, X128(_mm_shuffle_epi32(mi, 0x4e), t));
}

VT static inline __m256i gf_reduce256(__m256i lo, __m256i mi, __m256i hi)
{
    const __m256i p = gfpoly256();
    __m256i t = _mm256_clmulepi64_epi128(p, lo, 0x01);
    mi = X256(mi, X256(_mm256_shuffle_epi32(lo, 0x4e), t));
    t = _mm256_clmulepi64_epi128(p, mi, 0x01);
    return X256(hi, X256(_mm256_shuffle_epi32(mi, 0x4e), t));
}

VT static inline __m128i gf_mul128(__m128i a, __m128i b)
{
    __m128i lo = _mm_clmulepi64_si128(a, b, 0x00);
    __m128i mi = X128(_mm_clmulepi64_si128(a, b, 0x01), _mm_clmulepi64_si128(a, b, 0x10));
    __m128i hi = _mm_clmulepi64_si128(a, b, 0x11);
    return gf_reduce128(lo, mi, hi);
}

VT static inline __m256i gf_mul256(__m256i a, __m256i b)
{
    __m256i lo = _mm256_clmulepi64_epi128(a, b, 0x00);
    __m256i mi = X256(_mm256_clmulepi64_epi128(a, b, 0x01), _mm256_clmulepi64_epi128(a, b, 0x10));
    __m256i hi = _mm256_clmulepi64_epi128(a, b, 0x11);
    return gf_reduce256(lo, mi, hi);
}

VT static inline __m128i fold_lanes(__m256i v)
{
    return X128(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
}

/* Unreduced products of a vector of two reflected blocks d with a vector
 * of two powers h, added into lo, mi, hi. */
#define GMUL(d, h) do {                                                              \
        const __m256i d_ = (d), h_ = (h);                                            \
        lo = X256(lo, _mm256_clmulepi64_epi128(d_, h_, 0x00));                       \
        mi = X256(mi, X256(_mm256_clmulepi64_epi128(d_, h_, 0x01),                   \
                           _mm256_clmulepi64_epi128(d_, h_, 0x10)));                 \
        hi = X256(hi, _mm256_clmulepi64_epi128(d_, h_, 0x11));                       \
    } while (0)

#define HPOW(k, i) LD256((k)->h[i])   /* lanes H^(16-i), H^(15-i) */

/* x = (x + X_0) H^n + X_1 H^(n-1) + ... + X_(n-1) H for the n (1..16)
 * whole blocks at p, one reduction. */
VT static __m128i ghash_n(const vkey *k, __m128i x, const uint8_t *p, size_t n)
{
    const __m256i bs = bswap_mask256();
    const uint8_t (*hp)[16] = &k->h[16 - n];
    __m256i lo = _mm256_setzero_si256(), mi = lo, hi = lo;
    __m256i xx = _mm256_zextsi128_si256(x);
    __m128i lo1, mi1, hi1;
    size_t j;

    for (j = 0; j + 2 <= n; j += 2) {
        GMUL(X256(_mm256_shuffle_epi8(LD256(p + 16 * j), bs), xx), LD256(hp[j]));
        xx = _mm256_setzero_si256();
    }
    lo1 = fold_lanes(lo);
    mi1 = fold_lanes(mi);
    hi1 = fold_lanes(hi);
    if (j < n) {
        __m128i d = X128(_mm_shuffle_epi8(LD128(p + 16 * j), bswap_mask128()),
                         _mm256_castsi256_si128(xx));
        __m128i h = LD128(hp[j]);
        lo1 = X128(lo1, _mm_clmulepi64_si128(d, h, 0x00));
        mi1 = X128(mi1, X128(_mm_clmulepi64_si128(d, h, 0x01), _mm_clmulepi64_si128(d, h, 0x10)));
        hi1 = X128(hi1, _mm_clmulepi64_si128(d, h, 0x11));
    }
    return gf_reduce128(lo1, mi1, hi1);
}

/* GHASH over len bytes, the last block zero-padded. */
VT static __m128i ghash_bytes(const vkey *k, __m128i x, const uint8_t *p, size_t len)
{
    while (len >= 256) {
        x = ghash_n(k, x, p, 16);
        p += 256;
        len -= 256;
    }
    if (len >= 16) {
        x = ghash_n(k, x, p, len / 16);
        p += len & ~(size_t)15;
        len &= 15;
    }
    if (len > 0) {
        uint8_t buf[16];
        memset(buf, 0, sizeof(buf));
        memcpy(buf, p, len);
        x = ghash_n(k, x, buf, 1);
        aios__wipe(buf, sizeof(buf));
    }
    return x;
}

/* ---------------------------------------------------------- key set-up */

/* H (reflected) times x, modulo the polynomial: a one-bit left shift of
 * the 128-bit value, the carry between the 64-bit halves added back, and
 * the polynomial added when bit 127 falls out. */
VT static __m128i twist_h(__m128i h)
{
    __m128i m = _mm_srai_epi32(_mm_shuffle_epi32(h, 0xd3), 31);
    h = _mm_add_epi64(h, h);
    return X128(h, _mm_and_si128(m, _mm_set_epi32((int)0xc2000000u, 1, 0, 1)));
}

VT static void key_init(vkey *k, const uint8_t key[32])
{
    __m128i rk[15], h1, h2, pw[17];
    __m256i p12, p34, p56, p78, b;
    int i;

    aes256_expand(rk, key);
    for (i = 0; i < 15; i++)
        _mm_store_si128((__m128i *)(void *)k->rk[i], rk[i]);
    memset(k->pad, 0, sizeof(k->pad));
    h1 = twist_h(_mm_shuffle_epi8(aes_block(k, _mm_setzero_si128()), bswap_mask128()));
    h2 = gf_mul128(h1, h1);
    p12 = _mm256_set_m128i(h2, h1);                           /* lanes H, H^2 */
    p34 = gf_mul256(p12, _mm256_broadcastsi128_si256(h2));   /* H^3, H^4 */
    b = _mm256_permute2x128_si256(p34, p34, 0x11);           /* H^4, H^4 */
    p56 = gf_mul256(p12, b);
    p78 = gf_mul256(p34, b);
    b = _mm256_permute2x128_si256(p78, p78, 0x11);           /* H^8, H^8 */
    _mm256_storeu_si256((__m256i *)(void *)&pw[1], p12);
    _mm256_storeu_si256((__m256i *)(void *)&pw[3], p34);
    _mm256_storeu_si256((__m256i *)(void *)&pw[5], p56);
    _mm256_storeu_si256((__m256i *)(void *)&pw[7], p78);
    _mm256_storeu_si256((__m256i *)(void *)&pw[9], gf_mul256(p12, b));
    _mm256_storeu_si256((__m256i *)(void *)&pw[11], gf_mul256(p34, b));
    _mm256_storeu_si256((__m256i *)(void *)&pw[13], gf_mul256(p56, b));
    _mm256_storeu_si256((__m256i *)(void *)&pw[15], gf_mul256(p78, b));
    for (i = 1; i <= 16; i++)
        ST128(k->h[16 - i], pw[i]);
    aios__wipe(rk, sizeof(rk));
    aios__wipe(pw, sizeof(pw));
}

/* ------------------------------------------------------- seal and open */

/* The 32-bit counter lives byte-reflected: its value is the low dword of
 * the lane (little-endian), so vpaddd steps it modulo 2^32 as GCM's inc32
 * does, and one byte shuffle gives the counter block. */
typedef struct gcm_start {
    __m128i x;        /* GHASH of the associated data */
    __m128i ekj0;     /* E(K, J0) */
    __m256i ctr;      /* lanes inc32^1(J0), inc32^2(J0), reflected */
} gcm_start;

VT static void gcm_begin(gcm_start *s, const vkey *k, const uint8_t nonce[12],
                         const uint8_t *ad, size_t adlen)
{
    uint8_t j0[16];
    __m128i j;

    memcpy(j0, nonce, 12);
    j0[12] = 0;
    j0[13] = 0;
    j0[14] = 0;
    j0[15] = 1;
    j = LD128(j0);
    s->ekj0 = aes_block(k, j);
    j = _mm_shuffle_epi8(j, bswap_mask128());
    s->ctr = _mm256_add_epi32(_mm256_broadcastsi128_si256(j), _mm256_set_epi32(0, 0, 0, 2, 0, 0, 0, 1));
    s->x = _mm_setzero_si128();
    if (adlen > 0)
        s->x = ghash_bytes(k, s->x, ad, adlen);
}

/* The tag: E(K, J0) + GHASH(... || len(A) || len(C)). */
VT static inline __m128i gcm_finish(const vkey *k, const gcm_start *s, __m128i x, size_t adlen,
                                    size_t len)
{
    const __m128i lens = _mm_set_epi64x((long long)((uint64_t)adlen * 8),
                                        (long long)((uint64_t)len * 8));
    x = gf_mul128(X128(x, lens), LD128(k->h[15]));
    return X128(_mm_shuffle_epi8(x, bswap_mask128()), s->ekj0);
}

/* The last rem (1..127) bytes: through a zeroed stack buffer, so the
 * partial block is zero-padded for GHASH (of the ciphertext: after
 * encryption when sealing, before decryption when opening). */
VT static __m128i gcm_tail(const vkey *k, __m128i x, __m256i ctr, uint8_t *out, const uint8_t *in,
                           size_t rem, int seal)
{
    _Alignas(32) uint8_t buf[128];
    const __m256i bs = bswap_mask256(), inc = _mm256_set_epi32(0, 0, 0, 2, 0, 0, 0, 2);
    size_t nb = (rem + 15) / 16, v;

    memset(buf, 0, sizeof(buf));
    memcpy(buf, in, rem);
    if (!seal)
        x = ghash_n(k, x, buf, nb);
    for (v = 0; v < (nb + 1) / 2; v++) {
        ST256(buf + 32 * v, X256(LD256(buf + 32 * v), aes_vec(k, _mm256_shuffle_epi8(ctr, bs))));
        ctr = _mm256_add_epi32(ctr, inc);
    }
    memcpy(out, buf, rem);
    if (seal) {
        memset(buf + rem, 0, nb * 16 - rem);
        x = ghash_n(k, x, buf, nb);
    }
    aios__wipe(buf, sizeof(buf));
    return x;
}

/* One AES round on the four vectors of a batch. */
#define AES4(r) do {                                  \
        const __m256i rk_ = RK256(k, r);              \
        c0 = _mm256_aesenc_epi128(c0, rk_);           \
        c1 = _mm256_aesenc_epi128(c1, rk_);           \
        c2 = _mm256_aesenc_epi128(c2, rk_);           \
        c3 = _mm256_aesenc_epi128(c3, rk_);           \
    } while (0)

/* The next four counter vectors (8 blocks), whitened with round key 0. */
#define CTR4() do {                                                   \
        const __m256i rk_ = RK256(k, 0);                              \
        c0 = X256(_mm256_shuffle_epi8(ctr, bs), rk_);                 \
        ctr = _mm256_add_epi32(ctr, inc);                             \
        c1 = X256(_mm256_shuffle_epi8(ctr, bs), rk_);                 \
        ctr = _mm256_add_epi32(ctr, inc);                             \
        c2 = X256(_mm256_shuffle_epi8(ctr, bs), rk_);                 \
        ctr = _mm256_add_epi32(ctr, inc);                             \
        c3 = X256(_mm256_shuffle_epi8(ctr, bs), rk_);                 \
        ctr = _mm256_add_epi32(ctr, inc);                             \
    } while (0)

/* The last round with the input folded into the round key:
 * AESENCLAST(s, rk ^ m) = AESENCLAST(s, rk) ^ m. */
#define LAST4(in) do {                                                          \
        const __m256i rk_ = RK256(k, 14);                                       \
        c0 = _mm256_aesenclast_epi128(c0, X256(rk_, LD256((in) + 0)));          \
        c1 = _mm256_aesenclast_epi128(c1, X256(rk_, LD256((in) + 32)));         \
        c2 = _mm256_aesenclast_epi128(c2, X256(rk_, LD256((in) + 64)));         \
        c3 = _mm256_aesenclast_epi128(c3, X256(rk_, LD256((in) + 96)));         \
    } while (0)

/* The reduction of a batch's products into x. */
#define GREDUCE() do {                                                          \
        x = gf_reduce128(fold_lanes(lo), fold_lanes(mi), fold_lanes(hi));       \
    } while (0)

VT static void vaes_seal(const vkey *k, uint8_t *ct, uint8_t tag[16], const uint8_t *pt,
                         size_t len, const uint8_t *ad, size_t adlen, const uint8_t nonce[12])
{
    const __m256i bs = bswap_mask256(), inc = _mm256_set_epi32(0, 0, 0, 2, 0, 0, 0, 2);
    gcm_start s;
    __m256i ctr, c0, c1, c2, c3, lo, mi, hi;
    __m128i x;
    size_t i = 0;

    gcm_begin(&s, k, nonce, ad, adlen);
    x = s.x;
    ctr = s.ctr;
    if (len >= 128) {
        /* The first batch: nothing to hash yet. */
        CTR4();
        AES4(1); AES4(2); AES4(3); AES4(4); AES4(5); AES4(6); AES4(7);
        AES4(8); AES4(9); AES4(10); AES4(11); AES4(12); AES4(13);
        LAST4(pt);
        ST256(ct + 0, c0);
        ST256(ct + 32, c1);
        ST256(ct + 64, c2);
        ST256(ct + 96, c3);
        for (i = 128; len - i >= 128; i += 128) {
            /* Hash the previous batch's ciphertext (at ct + i - 128: read
             * back from the output, still in L1) while encrypting this one. */
            const uint8_t *g = ct + i - 128;
            lo = _mm256_setzero_si256();
            mi = lo;
            hi = lo;
            CTR4();
            AES4(1);
            GMUL(X256(_mm256_shuffle_epi8(LD256(g), bs), _mm256_zextsi128_si256(x)), HPOW(k, 8));
            AES4(2);
            GMUL(_mm256_shuffle_epi8(LD256(g + 32), bs), HPOW(k, 10));
            AES4(3);
            GMUL(_mm256_shuffle_epi8(LD256(g + 64), bs), HPOW(k, 12));
            AES4(4);
            GMUL(_mm256_shuffle_epi8(LD256(g + 96), bs), HPOW(k, 14));
            AES4(5);
            GREDUCE();
            AES4(6); AES4(7); AES4(8); AES4(9); AES4(10); AES4(11); AES4(12); AES4(13);
            LAST4(pt + i);
            ST256(ct + i + 0, c0);
            ST256(ct + i + 32, c1);
            ST256(ct + i + 64, c2);
            ST256(ct + i + 96, c3);
        }
        x = ghash_n(k, x, ct + i - 128, 8);
    }
    if (len > i)
        x = gcm_tail(k, x, ctr, ct + i, pt + i, len - i, 1);
    ST128(tag, gcm_finish(k, &s, x, adlen, len));
}

VT static int vaes_open(const vkey *k, uint8_t *pt, const uint8_t *ct, size_t len,
                        const uint8_t tag[16], const uint8_t *ad, size_t adlen,
                        const uint8_t nonce[12])
{
    const __m256i bs = bswap_mask256(), inc = _mm256_set_epi32(0, 0, 0, 2, 0, 0, 0, 2);
    gcm_start s;
    __m256i ctr, c0, c1, c2, c3, lo, mi, hi, d0, d1, d2, d3;
    __m128i x;
    size_t i;
    int ok;

    gcm_begin(&s, k, nonce, ad, adlen);
    x = s.x;
    ctr = s.ctr;
    for (i = 0; len - i >= 128; i += 128) {
        /* All four loads first: pt may be ct (in place). */
        d0 = LD256(ct + i);
        d1 = LD256(ct + i + 32);
        d2 = LD256(ct + i + 64);
        d3 = LD256(ct + i + 96);
        lo = _mm256_setzero_si256();
        mi = lo;
        hi = lo;
        CTR4();
        AES4(1);
        GMUL(X256(_mm256_shuffle_epi8(d0, bs), _mm256_zextsi128_si256(x)), HPOW(k, 8));
        AES4(2);
        GMUL(_mm256_shuffle_epi8(d1, bs), HPOW(k, 10));
        AES4(3);
        GMUL(_mm256_shuffle_epi8(d2, bs), HPOW(k, 12));
        AES4(4);
        GMUL(_mm256_shuffle_epi8(d3, bs), HPOW(k, 14));
        AES4(5);
        GREDUCE();
        AES4(6); AES4(7); AES4(8); AES4(9); AES4(10); AES4(11); AES4(12); AES4(13);
        {
            const __m256i rk_ = RK256(k, 14);
            c0 = _mm256_aesenclast_epi128(c0, X256(rk_, d0));
            c1 = _mm256_aesenclast_epi128(c1, X256(rk_, d1));
            c2 = _mm256_aesenclast_epi128(c2, X256(rk_, d2));
            c3 = _mm256_aesenclast_epi128(c3, X256(rk_, d3));
        }
        ST256(pt + i + 0, c0);
        ST256(pt + i + 32, c1);
        ST256(pt + i + 64, c2);
        ST256(pt + i + 96, c3);
    }
    if (len > i)
        x = gcm_tail(k, x, ctr, pt + i, ct + i, len - i, 0);
    /* Constant time: one XOR and one PTEST over the whole tag, whatever
     * bytes differ; only the verdict branches. */
    ok = _mm_testz_si128(X128(gcm_finish(k, &s, x, adlen, len), LD128(tag)),
                         _mm_set1_epi32(-1));
    if (!ok) {
        if (len > 0)
            aios__wipe(pt, len);
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------- entries */

void aios__gcm_vaes_key_init(aios__gcm_vaes_key *k, const uint8_t key[32])
{
    key_init((vkey *)(void *)k, key);
}

void aios__gcm_vaes_seal(const aios__gcm_vaes_key *k, uint8_t *ct, uint8_t tag[16],
                         const uint8_t *pt, size_t len, const uint8_t *ad, size_t adlen,
                         const uint8_t nonce[12])
{
    vaes_seal((const vkey *)(const void *)k, ct, tag, pt, len, ad, adlen, nonce);
}

int aios__gcm_vaes_open(const aios__gcm_vaes_key *k, uint8_t *pt, const uint8_t *ct, size_t len,
                        const uint8_t tag[16], const uint8_t *ad, size_t adlen,
                        const uint8_t nonce[12])
{
    return vaes_open((const vkey *)(const void *)k, pt, ct, len, tag, ad, adlen, nonce);
}

/* ------------------------------------------------------------ selection */

/* McGrew and Viega, "The Galois/Counter Mode of Operation", test case 16
 * (256-bit key, 96-bit IV, 60-byte plaintext, 20-byte AD). */
static int kernel_kat(void)
{
    static const uint8_t key[32] = {
        0xfe, 0xff, 0xe9, 0x92, 0x86, 0x65, 0x73, 0x1c, 0x6d, 0x6a, 0x8f, 0x94, 0x67, 0x30, 0x83, 0x08,
        0xfe, 0xff, 0xe9, 0x92, 0x86, 0x65, 0x73, 0x1c, 0x6d, 0x6a, 0x8f, 0x94, 0x67, 0x30, 0x83, 0x08
    };
    static const uint8_t iv[12] = {
        0xca, 0xfe, 0xba, 0xbe, 0xfa, 0xce, 0xdb, 0xad, 0xde, 0xca, 0xf8, 0x88
    };
    static const uint8_t pt[60] = {
        0xd9, 0x31, 0x32, 0x25, 0xf8, 0x84, 0x06, 0xe5, 0xa5, 0x59, 0x09, 0xc5, 0xaf, 0xf5, 0x26, 0x9a,
        0x86, 0xa7, 0xa9, 0x53, 0x15, 0x34, 0xf7, 0xda, 0x2e, 0x4c, 0x30, 0x3d, 0x8a, 0x31, 0x8a, 0x72,
        0x1c, 0x3c, 0x0c, 0x95, 0x95, 0x68, 0x09, 0x53, 0x2f, 0xcf, 0x0e, 0x24, 0x49, 0xa6, 0xb5, 0x25,
        0xb1, 0x6a, 0xed, 0xf5, 0xaa, 0x0d, 0xe6, 0x57, 0xba, 0x63, 0x7b, 0x39
    };
    static const uint8_t ad[20] = {
        0xfe, 0xed, 0xfa, 0xce, 0xde, 0xad, 0xbe, 0xef, 0xfe, 0xed, 0xfa, 0xce, 0xde, 0xad, 0xbe, 0xef,
        0xab, 0xad, 0xda, 0xd2
    };
    static const uint8_t want_ct[60] = {
        0x52, 0x2d, 0xc1, 0xf0, 0x99, 0x56, 0x7d, 0x07, 0xf4, 0x7f, 0x37, 0xa3, 0x2a, 0x84, 0x42, 0x7d,
        0x64, 0x3a, 0x8c, 0xdc, 0xbf, 0xe5, 0xc0, 0xc9, 0x75, 0x98, 0xa2, 0xbd, 0x25, 0x55, 0xd1, 0xaa,
        0x8c, 0xb0, 0x8e, 0x48, 0x59, 0x0d, 0xbb, 0x3d, 0xa7, 0xb0, 0x8b, 0x10, 0x56, 0x82, 0x88, 0x38,
        0xc5, 0xf6, 0x1e, 0x63, 0x93, 0xba, 0x7a, 0x0a, 0xbc, 0xc9, 0xf6, 0x62
    };
    static const uint8_t want_tag[16] = {
        0x76, 0xfc, 0x6e, 0xce, 0x0f, 0x4e, 0x17, 0x68, 0xcd, 0xdf, 0x88, 0x53, 0xbb, 0x2d, 0x55, 0x1b
    };
    aios__gcm_vaes_key k;
    uint8_t ct[60], tag[16], back[60];
    int ok;

    aios__gcm_vaes_key_init(&k, key);
    aios__gcm_vaes_seal(&k, ct, tag, pt, sizeof(pt), ad, sizeof(ad), iv);
    ok = memcmp(ct, want_ct, sizeof(ct)) == 0 && memcmp(tag, want_tag, sizeof(tag)) == 0 &&
         aios__gcm_vaes_open(&k, back, ct, sizeof(ct), tag, ad, sizeof(ad), iv) == 0 &&
         memcmp(back, pt, sizeof(pt)) == 0;
    tag[0] ^= 1;
    ok = ok && aios__gcm_vaes_open(&k, back, ct, sizeof(ct), tag, ad, sizeof(ad), iv) == 1;
    aios__gcm_vaes_key_wipe(&k);
    return ok;
}

/* 1 if the kernel gives libsodium's bytes across the bulk loop, the tail
 * and multi-batch associated data (when libsodium's AES-GCM runs here),
 * and opens them back. */
static int kernel_agrees(void)
{
    static const size_t lens[] = { 0, 1, 15, 16, 17, 127, 128, 129, 255, 256, 383, 600 };
    uint8_t key[32], nonce[12], ad[300], pt[600], ct[600], tag[16], rct[600], rtag[16];
    crypto_aead_aes256gcm_state st;
    aios__gcm_vaes_key k;
    size_t i, adlen;
    int ok = 1;

    if (!crypto_aead_aes256gcm_is_available())
        return 1;
    for (i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(i * 29 + 7);
    for (i = 0; i < sizeof(nonce); i++)
        nonce[i] = (uint8_t)(0xf0 - i);
    for (i = 0; i < sizeof(ad); i++)
        ad[i] = (uint8_t)(i * 13 + 1);
    for (i = 0; i < sizeof(pt); i++)
        pt[i] = (uint8_t)(i * 167 + 3);
    aios__gcm_vaes_key_init(&k, key);
    (void)crypto_aead_aes256gcm_beforenm(&st, key);
    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        adlen = (lens[i] * 7) % (sizeof(ad) + 1);
        aios__gcm_vaes_seal(&k, ct, tag, pt, lens[i], ad, adlen, nonce);
        (void)crypto_aead_aes256gcm_encrypt_detached_afternm(rct, rtag, NULL, pt, lens[i],
                                                             ad, adlen, NULL, nonce, &st);
        if (memcmp(ct, rct, lens[i]) != 0 || memcmp(tag, rtag, 16) != 0)
            ok = 0;
        /* Open in place: back to the plaintext. */
        if (aios__gcm_vaes_open(&k, ct, ct, lens[i], rtag, ad, adlen, nonce) != 0 ||
            memcmp(ct, pt, lens[i]) != 0)
            ok = 0;
    }
    aios__gcm_vaes_key_wipe(&k);
    sodium_memzero(&st, sizeof(st));
    return ok;
}

void aios__gcm_vaes_select(void)
{
    const aios__cpu_features *cpu = aios__crypto_cpu();
    int on = cpu->vaes && kernel_kat() && kernel_agrees();
    atomic_store_explicit(&vaes_enabled, on, memory_order_relaxed);
}

#else /* !GCM_VAES_HAVE */

void aios__gcm_vaes_key_init(aios__gcm_vaes_key *k, const uint8_t key[32])
{
    (void)key;
    memset(k, 0, sizeof(*k));
}

void aios__gcm_vaes_seal(const aios__gcm_vaes_key *k, uint8_t *ct, uint8_t tag[16],
                         const uint8_t *pt, size_t len, const uint8_t *ad, size_t adlen,
                         const uint8_t nonce[12])
{
    (void)k; (void)pt; (void)ad; (void)adlen; (void)nonce;
    if (len > 0)
        aios__wipe(ct, len);
    aios__wipe(tag, 16);
}

int aios__gcm_vaes_open(const aios__gcm_vaes_key *k, uint8_t *pt, const uint8_t *ct, size_t len,
                        const uint8_t tag[16], const uint8_t *ad, size_t adlen,
                        const uint8_t nonce[12])
{
    (void)k; (void)ct; (void)tag; (void)ad; (void)adlen; (void)nonce;
    if (len > 0)
        aios__wipe(pt, len);
    return 1;
}

void aios__gcm_vaes_select(void)
{
    atomic_store_explicit(&vaes_enabled, 0, memory_order_relaxed);
}

#endif

void aios__gcm_vaes_key_wipe(aios__gcm_vaes_key *k)
{
    aios__wipe(k, sizeof(*k));
}
