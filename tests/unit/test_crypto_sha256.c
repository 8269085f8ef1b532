/*
 * The SHA-256 kernels of lib/crypto/sha256.c (the CPU's SHA instructions,
 * or libsodium's portable code), on every kernel this machine has:
 *
 *   - the kernel chosen is the accelerated one wherever the CPU has it;
 *   - NIST CAVP SHAVS byte-oriented vectors (tests/vectors/nist-shavs):
 *     all short and long messages, one shot and in random pieces, and the
 *     100 Monte Carlo checkpoints;
 *   - differential: random lengths 0..10000, random split points and
 *     misaligned inputs, accelerated vs portable vs libsodium's
 *     crypto_hash_sha256 directly, byte for byte; the same for
 *     HMAC-SHA-256 (vs crypto_auth_hmacsha256, keys 0..300 bytes) and
 *     HKDF-SHA-256 (vs RFC 5869 written over crypto_auth_hmacsha256);
 *   - two streams through the 2-lane kernel (update2): each lane equals
 *     libsodium on what it absorbed, from states on and off a block
 *     boundary, and SHAVS long messages in pairs through the seam;
 *   - states are libsodium's: begun by one, finished by the other; the
 *     64-bit bit count is encoded right past 2^32 bits; final wipes.
 */
#include <sodium.h>

#include "test_crypto_util.h"
#include "crypto/sha256.h"

#define SHAVS_DIR AIOS_TEST_SOURCE_DIR "/tests/vectors/nist-shavs/"

/* Kernels to run every check on: the chosen one, and the portable one
 * when the chosen one is accelerated. */
static int kernel_count(void)
{
    int n;
    aios__sha256_test_force_portable(0);
    n = strcmp(aios__sha256_kernel(), "libsodium") != 0 ? 2 : 1;
    return n;
}

/* Select kernel i of kernel_count(): 0 the chosen one, 1 the portable. */
static const char *use_kernel(int i)
{
    aios__sha256_test_force_portable(i == 1);
    return aios__sha256_kernel();
}

static int reset_kernel(void **state)
{
    (void)state;
    aios__sha256_test_force_portable(0);
    return 0;
}

/* Deterministic random numbers (splitmix64), so a failure reproduces. */
static uint64_t rng_state = 0x5eed5eed12345678u;

static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static size_t rng_below(size_t n)
{
    return n == 0 ? 0 : (size_t)(rng() % n);
}

static void rng_fill(uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        p[i] = (uint8_t)rng();
}

/* Hash msg fed in pieces cut at up to four random points. */
static void sha256_pieces(uint8_t out[32], const uint8_t *msg, size_t len)
{
    aios__sha256_state st;
    size_t done = 0, pieces = 1 + rng_below(5), i;
    aios__sha256_state_init(&st);
    for (i = 0; i + 1 < pieces && done < len; i++) {
        size_t n = rng_below(len - done + 1);
        aios__sha256_state_update(&st, msg + done, n);
        done += n;
    }
    aios__sha256_state_update(&st, msg + done, len - done);
    aios__sha256_state_final(&st, out);
    assert_true(tc_is_zero((const uint8_t *)&st, sizeof(st)));
}

static void hmac_pieces(uint8_t out[32], const uint8_t *key, size_t keylen,
                        const uint8_t *msg, size_t len)
{
    aios__hmac_sha256_state st;
    size_t done = 0, pieces = 1 + rng_below(5), i;
    aios__hmac_sha256_state_init(&st, key, keylen);
    for (i = 0; i + 1 < pieces && done < len; i++) {
        size_t n = rng_below(len - done + 1);
        aios__hmac_sha256_state_update(&st, msg + done, n);
        done += n;
    }
    aios__hmac_sha256_state_update(&st, msg + done, len - done);
    aios__hmac_sha256_state_final(&st, out);
    assert_true(tc_is_zero((const uint8_t *)&st, sizeof(st)));
}

static void print_hex(const char *what, const uint8_t *p, size_t n)
{
    size_t i;
    printf("  %s ", what);
    for (i = 0; i < n; i++)
        printf("%02x", p[i]);
    printf("\n");
}

/* ================================================================ kernel */

static void test_kernel_choice(void **state)
{
    const aios__cpu_features *cpu = aios__crypto_cpu();
    (void)state;
    aios__sha256_test_force_portable(0);
    printf("SHA-256 kernel: %s (cpu sha_ni=%d arm_sha2=%d)\n", aios__sha256_kernel(),
           cpu->sha_ni, cpu->arm_sha2);
#if defined(__x86_64__)
    /* With the extensions the SHA-NI kernel must have passed its
     * selection check: a failed check would silently cost the speed. */
    if (cpu->sha_ni)
        assert_string_equal(aios__sha256_kernel(), "sha-ni");
    else
        assert_string_equal(aios__sha256_kernel(), "libsodium");
#elif defined(__aarch64__) && ((defined(__GNUC__) && !defined(__clang__)) || \
                               defined(__ARM_FEATURE_SHA2) || defined(__ARM_FEATURE_CRYPTO))
    /* The same for the Armv8 kernel (compiled by GCC on every aarch64
     * target; scripts/test-arm64 runs this under qemu-aarch64 -cpu max). */
    if (cpu->arm_sha2)
        assert_string_equal(aios__sha256_kernel(), "armv8-sha2");
    else
        assert_string_equal(aios__sha256_kernel(), "libsodium");
#endif
    aios__sha256_test_force_portable(1);
    assert_string_equal(aios__sha256_kernel(), "libsodium");
    aios__sha256_test_force_portable(0);
    /* Selecting again is harmless and gives the same answer. */
    {
        const char *before = aios__sha256_kernel();
        aios__sha256_select();
        assert_string_equal(aios__sha256_kernel(), before);
    }
}

/* ============================================================ NIST SHAVS */

/* Next line of a .rsp file (CRLF or LF) into line; 0 at the end. */
static int next_line(const char **pos, char *line, size_t cap)
{
    const char *p = *pos, *e;
    size_t n;
    if (*p == '\0')
        return 0;
    e = strchr(p, '\n');
    if (e == NULL)
        e = p + strlen(p);
    n = (size_t)(e - p);
    if (n > 0 && p[n - 1] == '\r')
        n--;
    assert_true(n < cap);
    memcpy(line, p, n);
    line[n] = '\0';
    *pos = *e ? e + 1 : e;
    return 1;
}

/* Every (Len, Msg, MD) of a SHAVS message file through every kernel, one
 * shot and in random pieces; returns the number of vectors. */
static size_t run_shavs_msg(const char *file)
{
    size_t flen, count = 0, bits = 0, mlen = 0, dlen;
    char *text = tu_read_file(file, &flen);
    char *line = malloc(flen + 1);
    const char *pos = text;
    uint8_t *msg = NULL, *md, out[32];
    int k, have_len = 0, kernels = kernel_count();

    assert_non_null(line);
    while (next_line(&pos, line, flen + 1)) {
        if (strncmp(line, "Len = ", 6) == 0) {
            bits = strtoul(line + 6, NULL, 10);
            assert_int_equal(bits % 8, 0);
            have_len = 1;
        } else if (strncmp(line, "Msg = ", 6) == 0) {
            assert_true(have_len);
            free(msg);
            msg = tu_hex(line + 6, &mlen);
            /* Len = 0 is written as "Msg = 00". */
            assert_true(mlen == bits / 8 || (bits == 0 && mlen == 1));
            mlen = bits / 8;
        } else if (strncmp(line, "MD = ", 5) == 0) {
            assert_non_null(msg);
            md = tu_hex(line + 5, &dlen);
            assert_int_equal(dlen, 32);
            for (k = 0; k < kernels; k++) {
                const char *name = use_kernel(k);
                aios__sha256(out, msg, mlen);
                if (memcmp(out, md, 32) != 0) {
                    print_hex("got", out, 32);
                    fail_msg("%s: Len = %zu, kernel %s: one-shot digest differs", file, bits, name);
                }
                sha256_pieces(out, msg, mlen);
                if (memcmp(out, md, 32) != 0)
                    fail_msg("%s: Len = %zu, kernel %s: digest in pieces differs", file, bits,
                             name);
            }
            aios__sha256_test_force_portable(0);
            free(md);
            free(msg);
            msg = NULL;
            have_len = 0;
            count++;
        }
    }
    free(msg);
    free(line);
    free(text);
    return count;
}

static void test_shavs_short(void **state)
{
    (void)state;
    /* 65 vectors, 0..64 bytes. */
    assert_int_equal(run_shavs_msg(SHAVS_DIR "SHA256ShortMsg.rsp"), 65);
}

static void test_shavs_long(void **state)
{
    (void)state;
    /* 64 vectors, 163..6400 bytes. */
    assert_int_equal(run_shavs_msg(SHAVS_DIR "SHA256LongMsg.rsp"), 64);
}

/* SHAVS 6.4: from a seed, 100 checkpoints of 1000 chained hashes each,
 * MD[i] = SHA-256(MD[i-3] || MD[i-2] || MD[i-1]). */
static void test_shavs_monte(void **state)
{
    size_t flen, n, checkpoints = 0;
    char *text = tu_read_file(SHAVS_DIR "SHA256Monte.rsp", &flen);
    char *line = malloc(flen + 1);
    const char *pos;
    uint8_t *seed = NULL, *md, chain[96], next[32];
    uint8_t start[32];
    int k, j, kernels = kernel_count();
    (void)state;

    assert_non_null(line);
    for (k = 0; k < kernels; k++) {
        const char *name = use_kernel(k);
        pos = text;
        checkpoints = 0;
        while (next_line(&pos, line, flen + 1)) {
            if (strncmp(line, "Seed = ", 7) == 0) {
                seed = tu_hex(line + 7, &n);
                assert_int_equal(n, 32);
                memcpy(start, seed, 32);
                free(seed);
            } else if (strncmp(line, "MD = ", 5) == 0) {
                memcpy(chain, start, 32);
                memcpy(chain + 32, start, 32);
                memcpy(chain + 64, start, 32);
                for (j = 3; j < 1003; j++) {
                    aios__sha256(next, chain, sizeof(chain));
                    memmove(chain, chain + 32, 64);
                    memcpy(chain + 64, next, 32);
                }
                md = tu_hex(line + 5, &n);
                assert_int_equal(n, 32);
                if (memcmp(next, md, 32) != 0)
                    fail_msg("Monte Carlo checkpoint %zu differs on kernel %s", checkpoints, name);
                memcpy(start, next, 32);
                free(md);
                checkpoints++;
            }
        }
        assert_int_equal(checkpoints, 100);
    }
    aios__sha256_test_force_portable(0);
    free(line);
    free(text);
}

/* ========================================================= differential */

#define DIFF_MAX 10000

static void test_differential_sha256(void **state)
{
    /* 16 spare bytes in front: inputs start at every alignment. */
    uint8_t *buf = malloc(DIFF_MAX + 16), accel[32], portable[32], ref[32];
    int iters = tu_under_valgrind() ? 60 : 1500, it;
    int kernels = kernel_count();
    (void)state;

    assert_non_null(buf);
    rng_fill(buf, DIFF_MAX + 16);
    for (it = 0; it < iters; it++) {
        /* Mostly uniform lengths, with the block edges made frequent. */
        size_t len = it < 200 ? (size_t)it : rng_below(DIFF_MAX + 1);
        const uint8_t *msg = buf + rng_below(16);
        if (it % 7 == 3)
            len = 64 * rng_below(DIFF_MAX / 64) + (size_t)(55 + rng_below(3)) % 64;
        (void)crypto_hash_sha256(ref, msg, len);
        use_kernel(0);
        sha256_pieces(accel, msg, len);
        if (kernels > 1) {
            use_kernel(1);
            sha256_pieces(portable, msg, len);
        } else {
            memcpy(portable, accel, 32);
        }
        if (memcmp(accel, ref, 32) != 0 || memcmp(portable, ref, 32) != 0) {
            print_hex("accelerated", accel, 32);
            print_hex("portable   ", portable, 32);
            print_hex("libsodium  ", ref, 32);
            fail_msg("iteration %d: SHA-256 of %zu bytes differs", it, len);
        }
    }
    aios__sha256_test_force_portable(0);
    free(buf);
}

/* Two streams through aios__sha256_state_update2 (the 2-lane kernel
 * where there is one): each lane's digest is libsodium's digest of what
 * that lane absorbed, for states on and off a block boundary (a prefix of
 * 0..130 bytes absorbed first), random lengths and misaligned inputs,
 * several update2 calls in a row with single updates between, on every
 * kernel; and the SHAVS long messages paired with each other. */
static void test_two_lanes(void **state)
{
    uint8_t *buf = malloc(2 * DIFF_MAX + 32), da[32], db[32], ra[32], rb[32];
    int iters = tu_under_valgrind() ? 40 : 800, it, k, kernels = kernel_count();
    (void)state;

    assert_non_null(buf);
    rng_fill(buf, 2 * DIFF_MAX + 32);
    for (k = 0; k < kernels; k++) {
        const char *name = use_kernel(k);
        if (k == 0)   /* the chosen kernel: 2 lanes exactly when it is accelerated */
            assert_int_equal(aios__sha256_state_two_lanes(), strcmp(name, "libsodium") != 0);
        else
            assert_false(aios__sha256_state_two_lanes());
        for (it = 0; it < iters; it++) {
            /* Lane a: prefix pa0, then rounds of (update2 of len, single
             * extra) ; lane b likewise with its own prefix and extras. */
            const uint8_t *ma = buf + rng_below(16), *mb = buf + DIFF_MAX + 16 + rng_below(16);
            size_t pre_a = it % 3 == 0 ? 64 * rng_below(3) : rng_below(131);
            size_t pre_b = it % 3 == 0 ? 64 * rng_below(3) : rng_below(131);
            size_t used_a = pre_a, used_b = pre_b, round;
            aios__sha256_state a, b;
            crypto_hash_sha256_state sa, sb;

            aios__sha256_state_init(&a);
            aios__sha256_state_init(&b);
            (void)crypto_hash_sha256_init(&sa);
            (void)crypto_hash_sha256_init(&sb);
            aios__sha256_state_update(&a, ma, pre_a);
            aios__sha256_state_update(&b, mb, pre_b);
            (void)crypto_hash_sha256_update(&sa, ma, pre_a);
            (void)crypto_hash_sha256_update(&sb, mb, pre_b);
            for (round = 0; round < 3; round++) {
                size_t len = it < 130 && round == 0 ? (size_t)it : rng_below(2500);
                size_t xa = round == 1 ? rng_below(70) : 0, xb = round == 2 ? rng_below(70) : 0;
                if (used_a + len + xa > DIFF_MAX || used_b + len + xb > DIFF_MAX)
                    break;
                aios__sha256_state_update2(&a, ma + used_a, &b, mb + used_b, len);
                (void)crypto_hash_sha256_update(&sa, ma + used_a, len);
                (void)crypto_hash_sha256_update(&sb, mb + used_b, len);
                used_a += len;
                used_b += len;
                aios__sha256_state_update(&a, ma + used_a, xa);
                aios__sha256_state_update(&b, mb + used_b, xb);
                (void)crypto_hash_sha256_update(&sa, ma + used_a, xa);
                (void)crypto_hash_sha256_update(&sb, mb + used_b, xb);
                used_a += xa;
                used_b += xb;
            }
            aios__sha256_state_final(&a, da);
            aios__sha256_state_final(&b, db);
            (void)crypto_hash_sha256_final(&sa, ra);
            (void)crypto_hash_sha256_final(&sb, rb);
            if (memcmp(da, ra, 32) != 0 || memcmp(db, rb, 32) != 0)
                fail_msg("iteration %d, kernel %s: a two-lane digest differs (prefixes %zu, %zu; "
                         "%zu and %zu bytes)", it, name, pre_a, pre_b, used_a, used_b);
        }
    }
    aios__sha256_test_force_portable(0);

    /* The seam (crypto.h) over the same function: one 2-lane call each
     * for the SHAVS long messages taken in pairs, the shorter length. */
    {
        size_t flen, mlen_a = 0, mlen_b, pairs = 0;
        char *text = tu_read_file(SHAVS_DIR "SHA256LongMsg.rsp", &flen);
        const char *p = text;
        uint8_t *prev = NULL, *msg;
        for (;;) {
            const char *m = strstr(p, "Msg = ");
            const char *e;
            char *hex;
            if (m == NULL)
                break;
            e = m + 6;
            while (*e && *e != '\r' && *e != '\n')
                e++;
            hex = strndup(m + 6, (size_t)(e - m - 6));
            assert_non_null(hex);
            msg = tu_hex(hex, &mlen_b);
            free(hex);
            if (prev != NULL) {
                size_t n = mlen_a < mlen_b ? mlen_a : mlen_b;
                aios__sha256_ctx ca, cb;
                aios__sha256_init(&ca);
                aios__sha256_init(&cb);
                aios__sha256_update2(&ca, prev, &cb, msg, n);
                aios__sha256_final(&ca, da);
                aios__sha256_final(&cb, db);
                (void)crypto_hash_sha256(ra, prev, n);
                (void)crypto_hash_sha256(rb, msg, n);
                assert_memory_equal(da, ra, 32);
                assert_memory_equal(db, rb, 32);
                pairs++;
                free(prev);
            }
            prev = msg;
            mlen_a = mlen_b;
            p = e;
        }
        free(prev);
        free(text);
        assert_int_equal(pairs, 63);
    }
    free(buf);
}

static void test_differential_hmac(void **state)
{
    uint8_t *buf = malloc(4096 + 16), key[300], accel[32], portable[32], ref[32], one[32];
    static const size_t edge_keys[] = { 0, 1, 31, 32, 33, 63, 64, 65, 127, 128, 129, 300 };
    int iters = tu_under_valgrind() ? 40 : 1200, it;
    int kernels = kernel_count();
    crypto_auth_hmacsha256_state ref_st;
    (void)state;

    assert_non_null(buf);
    rng_fill(buf, 4096 + 16);
    for (it = 0; it < iters; it++) {
        size_t keylen = it < 12 ? edge_keys[it] : rng_below(sizeof(key) + 1);
        size_t len = rng_below(it % 3 == 0 ? 200 : 4097);
        const uint8_t *msg = buf + rng_below(16);
        rng_fill(key, keylen);
        (void)crypto_auth_hmacsha256_init(&ref_st, key, keylen);
        (void)crypto_auth_hmacsha256_update(&ref_st, msg, len);
        (void)crypto_auth_hmacsha256_final(&ref_st, ref);
        use_kernel(0);
        hmac_pieces(accel, key, keylen, msg, len);
        aios__hmac_sha256(one, key, keylen, msg, len);
        if (kernels > 1) {
            use_kernel(1);
            hmac_pieces(portable, key, keylen, msg, len);
        } else {
            memcpy(portable, accel, 32);
        }
        if (memcmp(accel, ref, 32) != 0 || memcmp(portable, ref, 32) != 0 ||
            memcmp(one, ref, 32) != 0)
            fail_msg("iteration %d: HMAC-SHA-256 with a %zu-byte key over %zu bytes differs", it,
                     keylen, len);
    }
    aios__sha256_test_force_portable(0);
    free(buf);
}

/* RFC 5869 written directly over libsodium's HMAC: the reference. */
static void ref_hkdf(uint8_t *out, size_t outlen, const uint8_t *salt, size_t saltlen,
                     const uint8_t *ikm, size_t ikmlen, const uint8_t *info, size_t infolen)
{
    static const uint8_t zeros[32];
    crypto_auth_hmacsha256_state st;
    uint8_t prk[32], t[32];
    size_t done = 0;
    uint8_t i = 0;

    if (saltlen == 0) {
        salt = zeros;
        saltlen = sizeof(zeros);
    }
    (void)crypto_auth_hmacsha256_init(&st, salt, saltlen);
    (void)crypto_auth_hmacsha256_update(&st, ikm, ikmlen);
    (void)crypto_auth_hmacsha256_final(&st, prk);
    while (done < outlen) {
        size_t n = outlen - done < 32 ? outlen - done : 32;
        i++;
        (void)crypto_auth_hmacsha256_init(&st, prk, sizeof(prk));
        if (i > 1)
            (void)crypto_auth_hmacsha256_update(&st, t, sizeof(t));
        (void)crypto_auth_hmacsha256_update(&st, info, infolen);
        (void)crypto_auth_hmacsha256_update(&st, &i, 1);
        (void)crypto_auth_hmacsha256_final(&st, t);
        memcpy(out + done, t, n);
        done += n;
    }
}

/* Short messages, where the padding edges are: every length 0..130
 * (one and two blocks after the key's), for one-shot HMAC, a precomputed
 * key (aios__hmac_sha256_key_mac, the envelope's record keys) and HKDF
 * expand to one and two blocks (info 0..130), against libsodium on every
 * kernel. */
static void test_hmac_short_paths(void **state)
{
    static const size_t keylens[] = { 0, 16, 32, 64, 65, 100 };
    uint8_t key[100], msg[131], info[131], ref[32], got[32], prk[32], t[32];
    int k, kernels = kernel_count();
    size_t ki, len, outlen;
    (void)state;

    rng_fill(key, sizeof(key));
    rng_fill(msg, sizeof(msg));
    rng_fill(info, sizeof(info));
    rng_fill(prk, sizeof(prk));
    for (k = 0; k < kernels; k++) {
        const char *name = use_kernel(k);
        for (ki = 0; ki < sizeof(keylens) / sizeof(keylens[0]); ki++) {
            aios__hmac_sha256_key hk;
            aios__hmac_sha256_key_init(&hk, key, keylens[ki]);
            for (len = 0; len <= 130; len++) {
                crypto_auth_hmacsha256_state r;
                (void)crypto_auth_hmacsha256_init(&r, key, keylens[ki]);
                (void)crypto_auth_hmacsha256_update(&r, msg, len);
                (void)crypto_auth_hmacsha256_final(&r, ref);
                aios__hmac_sha256(got, key, keylens[ki], len ? msg : NULL, len);
                if (memcmp(got, ref, 32) != 0)
                    fail_msg("kernel %s: HMAC, %zu-byte key, %zu-byte message differs", name,
                             keylens[ki], len);
                memset(got, 0, sizeof(got));
                aios__hmac_sha256_key_mac(&hk, got, len ? msg : NULL, len);
                if (memcmp(got, ref, 32) != 0)
                    fail_msg("kernel %s: precomputed-key HMAC, %zu-byte key, %zu-byte message "
                             "differs", name, keylens[ki], len);
            }
            /* Two MACs under the key at once (2-lane finals where both
             * tails are as long, single ones where they are not). */
            for (len = 0; len <= 130; len++) {
                const size_t others[] = { 0, 1, 55, 56, 63, 64, 119, 120, len, len + 1,
                                          130 - len };
                size_t oi;
                for (oi = 0; oi < sizeof(others) / sizeof(others[0]); oi++) {
                    size_t lb = others[oi] > 130 ? 130 : others[oi];
                    uint8_t ra[32], rb[32], ga[32], gb[32];
                    {
                        crypto_auth_hmacsha256_state r;
                        (void)crypto_auth_hmacsha256_init(&r, key, keylens[ki]);
                        (void)crypto_auth_hmacsha256_update(&r, msg, len);
                        (void)crypto_auth_hmacsha256_final(&r, ra);
                        (void)crypto_auth_hmacsha256_init(&r, key, keylens[ki]);
                        (void)crypto_auth_hmacsha256_update(&r, info, lb);
                        (void)crypto_auth_hmacsha256_final(&r, rb);
                    }
                    aios__hmac_sha256_key_mac2(&hk, ga, len ? msg : NULL, len, gb,
                                               lb ? info : NULL, lb);
                    if (memcmp(ga, ra, 32) != 0 || memcmp(gb, rb, 32) != 0)
                        fail_msg("kernel %s: two HMACs, %zu-byte key, %zu- and %zu-byte "
                                 "messages differ", name, keylens[ki], len, lb);
                }
            }
            aios__hmac_sha256_key_wipe(&hk);
        }
        /* Two SHA-256 finals at once, from every tail length pair that
         * matters (one or two padding blocks each). */
        for (len = 0; len <= 130; len++) {
            size_t lb;
            for (lb = 0; lb <= 130; lb += (lb < 50 || lb > 70) ? 7 : 1) {
                aios__sha256_state a, b;
                uint8_t ra[32], rb[32], ga[32], gb[32];
                crypto_hash_sha256(ra, msg, len);
                crypto_hash_sha256(rb, info, lb);
                aios__sha256_state_init(&a);
                aios__sha256_state_init(&b);
                aios__sha256_state_update(&a, msg, len);
                aios__sha256_state_update(&b, info, lb);
                aios__sha256_state_final2(&a, ga, &b, gb);
                if (memcmp(ga, ra, 32) != 0 || memcmp(gb, rb, 32) != 0)
                    fail_msg("kernel %s: two SHA-256 finals of %zu and %zu bytes differ", name,
                             len, lb);
            }
        }
        for (outlen = 1; outlen <= 33; outlen += 16) {
            for (len = 0; len <= 130; len++) {
                /* T(1) = HMAC(PRK, info || 0x01), and T(2) past 32 bytes. */
                uint8_t m[131 + 33], exp[64];
                crypto_auth_hmacsha256_state r;
                memcpy(m, info, len);
                m[len] = 1;
                (void)crypto_auth_hmacsha256(t, m, len + 1, prk);   /* 32-byte key */
                memcpy(exp, t, 32);
                if (outlen > 32) {
                    (void)crypto_auth_hmacsha256_init(&r, prk, 32);
                    (void)crypto_auth_hmacsha256_update(&r, t, 32);
                    (void)crypto_auth_hmacsha256_update(&r, info, len);
                    (void)crypto_auth_hmacsha256_update(&r, (const uint8_t *)"\x02", 1);
                    (void)crypto_auth_hmacsha256_final(&r, exp + 32);
                }
                memset(m, 0, sizeof(m));
                tu_assert_ok(aios__hkdf_sha256_expand(m, outlen, prk, len ? info : NULL, len));
                if (memcmp(m, exp, outlen) != 0)
                    fail_msg("kernel %s: HKDF expand to %zu bytes, %zu-byte info differs", name,
                             outlen, len);
            }
        }
    }
    aios__sha256_test_force_portable(0);
}

static void test_differential_hkdf(void **state)
{
    uint8_t ikm[200], salt[200], info[200];
    uint8_t *out = malloc(255 * 32), *ref = malloc(255 * 32);
    int iters = tu_under_valgrind() ? 20 : 400, it, k, kernels = kernel_count();
    (void)state;

    assert_non_null(out);
    assert_non_null(ref);
    for (it = 0; it < iters; it++) {
        size_t ikmlen = rng_below(sizeof(ikm) + 1), saltlen = rng_below(sizeof(salt) + 1);
        size_t infolen = rng_below(sizeof(info) + 1);
        size_t outlen = it == 0 ? 255 * 32 : rng_below(it % 5 == 0 ? 255 * 32 + 1 : 200);
        rng_fill(ikm, ikmlen);
        rng_fill(salt, saltlen);
        rng_fill(info, infolen);
        ref_hkdf(ref, outlen, salt, saltlen, ikm, ikmlen, info, infolen);
        for (k = 0; k < kernels; k++) {
            const char *name = use_kernel(k);
            memset(out, 0, 255 * 32);
            tu_assert_ok(aios__hkdf_sha256(out, outlen, salt, saltlen, ikm, ikmlen, info,
                                           infolen));
            if (memcmp(out, ref, outlen) != 0)
                fail_msg("iteration %d, kernel %s: HKDF of %zu bytes differs", it, name, outlen);
        }
    }
    aios__sha256_test_force_portable(0);
    free(out);
    free(ref);
}

/* ============================================================== states */

static void test_state_interop(void **state)
{
    uint8_t msg[1000], key[100], a[32], b[32], ref[32], mac[32], mac0[32];
    crypto_hash_sha256_state sst;
    crypto_auth_hmacsha256_state hst;
    aios__sha256_state ost;
    aios__hmac_sha256_state hmac;
    aios__hmac_sha256_key pre;
    int k, kernels = kernel_count();
    (void)state;

    rng_fill(msg, sizeof(msg));
    rng_fill(key, sizeof(key));
    (void)crypto_hash_sha256(ref, msg, sizeof(msg));
    (void)crypto_auth_hmacsha256(mac, msg, sizeof(msg), key);   /* a 32-byte key */
    (void)crypto_auth_hmacsha256(mac0, msg, 0, key);
    for (k = 0; k < kernels; k++) {
        use_kernel(k);
        /* Begun by libsodium (an odd cut: bytes left in buf), ended here. */
        (void)crypto_hash_sha256_init(&sst);
        (void)crypto_hash_sha256_update(&sst, msg, 333);
        memcpy(&ost, &sst, sizeof(ost));
        aios__sha256_state_update(&ost, msg + 333, sizeof(msg) - 333);
        aios__sha256_state_final(&ost, a);
        assert_memory_equal(a, ref, 32);
        /* Begun here, ended by libsodium. */
        aios__sha256_state_init(&ost);
        aios__sha256_state_update(&ost, msg, 700);
        memcpy(&sst, &ost, sizeof(sst));
        (void)crypto_hash_sha256_update(&sst, msg + 700, sizeof(msg) - 700);
        (void)crypto_hash_sha256_final(&sst, b);
        assert_memory_equal(b, ref, 32);

        /* HMAC: libsodium's init, our update and final; and the reverse. */
        (void)crypto_auth_hmacsha256_init(&hst, key, 32);
        memcpy(&hmac, &hst, sizeof(hmac));
        aios__hmac_sha256_state_update(&hmac, msg, sizeof(msg));
        aios__hmac_sha256_state_final(&hmac, a);
        assert_memory_equal(a, mac, 32);
        aios__hmac_sha256_state_init(&hmac, key, 32);
        aios__hmac_sha256_state_update(&hmac, msg, 10);
        memcpy(&hst, &hmac, sizeof(hst));
        (void)crypto_auth_hmacsha256_update(&hst, msg + 10, sizeof(msg) - 10);
        (void)crypto_auth_hmacsha256_final(&hst, b);
        assert_memory_equal(b, mac, 32);

        /* The precomputed-key HMAC of hmac_state.c (envelope sessions). */
        aios__hmac_sha256_key_init(&pre, key, 32);
        aios__hmac_sha256_key_mac(&pre, a, msg, sizeof(msg));
        assert_memory_equal(a, mac, 32);
        aios__hmac_sha256_key_mac(&pre, a, msg, 0);
        assert_memory_equal(a, mac0, 32);
        aios__hmac_sha256_key_wipe(&pre);
    }
    aios__sha256_test_force_portable(0);
}

/* The 64-bit length field: a state whose count is past 2^32 bits (and
 * near 2^61 bytes) pads exactly as libsodium does, without hashing that
 * much.  The chaining value is arbitrary: only the padding is checked. */
static void test_length_encoding(void **state)
{
    /* In bits: 4 GiB, 4 GiB + 55 and + 63 bytes (both padding branches),
     * and 2^61 - 9 bytes (55 mod 64, the top bits of the field set). */
    static const uint64_t counts[] = {
        (UINT64_C(1) << 32) * 8, ((UINT64_C(1) << 32) + 55) * 8, ((UINT64_C(1) << 32) + 63) * 8,
        ((UINT64_C(1) << 61) - 9) * 8
    };
    crypto_hash_sha256_state sst;
    aios__sha256_state ost;
    uint8_t a[32], b[32];
    size_t i;
    int k, kernels = kernel_count();
    (void)state;

    for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        for (k = 0; k < kernels; k++) {
            use_kernel(k);
            aios__sha256_state_init(&ost);
            rng_fill((uint8_t *)ost.state, sizeof(ost.state));
            ost.count = counts[i];
            rng_fill(ost.buf, sizeof(ost.buf));
            memcpy(&sst, &ost, sizeof(sst));
            aios__sha256_state_final(&ost, a);
            (void)crypto_hash_sha256_final(&sst, b);
            assert_memory_equal(a, b, 32);
        }
    }
    aios__sha256_test_force_portable(0);
}

static void test_final_wipes(void **state)
{
    aios__sha256_state st;
    aios__hmac_sha256_state h;
    uint8_t out[32];
    int k, kernels = kernel_count();
    (void)state;

    for (k = 0; k < kernels; k++) {
        use_kernel(k);
        aios__sha256_state_init(&st);
        aios__sha256_state_update(&st, (const uint8_t *)"secret", 6);
        aios__sha256_state_final(&st, out);
        assert_true(tc_is_zero((const uint8_t *)&st, sizeof(st)));
        aios__hmac_sha256_state_init(&h, (const uint8_t *)"key", 3);
        aios__hmac_sha256_state_update(&h, (const uint8_t *)"secret", 6);
        aios__hmac_sha256_state_final(&h, out);
        assert_true(tc_is_zero((const uint8_t *)&h, sizeof(h)));
        /* NULL with a zero length is fine everywhere. */
        aios__sha256_state_init(&st);
        aios__sha256_state_update(&st, NULL, 0);
        aios__sha256_state_final(&st, out);
        aios__hmac_sha256_state_init(&h, NULL, 0);
        aios__hmac_sha256_state_update(&h, NULL, 0);
        aios__hmac_sha256_state_final(&h, out);
    }
    aios__sha256_test_force_portable(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_kernel_choice, reset_kernel),
        cmocka_unit_test_teardown(test_shavs_short, reset_kernel),
        cmocka_unit_test_teardown(test_shavs_long, reset_kernel),
        cmocka_unit_test_teardown(test_shavs_monte, reset_kernel),
        cmocka_unit_test_teardown(test_differential_sha256, reset_kernel),
        cmocka_unit_test_teardown(test_two_lanes, reset_kernel),
        cmocka_unit_test_teardown(test_differential_hmac, reset_kernel),
        cmocka_unit_test_teardown(test_hmac_short_paths, reset_kernel),
        cmocka_unit_test_teardown(test_differential_hkdf, reset_kernel),
        cmocka_unit_test_teardown(test_state_interop, reset_kernel),
        cmocka_unit_test_teardown(test_length_encoding, reset_kernel),
        cmocka_unit_test_teardown(test_final_wipes, reset_kernel),
    };
    return cmocka_run_group_tests(tests, tc_setup, NULL);
}
