/*
 * bench_crypto: the cost of the foundation, side by side with the raw
 * libsodium calls it wraps (the ceiling).
 *
 *   build/bench/bench_crypto [seconds-per-case] [--only sha256|ecdsa]
 *
 * Prints one line per case: ns/op (or GB/s) for libaios and for the raw
 * call, and their ratio.  Figures belong in docs/PERFORMANCE.md.  For
 * SHA-256 (and HMAC / HKDF over it) the raw call is libsodium's portable
 * code and libaios runs the kernel chosen for this CPU (sha256.c), so the
 * ratio is a speed-up, not an overhead.  The same holds for AES-256-GCM
 * from 1536 bytes on, where libaios runs OpenSSL's libcrypto and the raw
 * call is libsodium's (and where the CPU has VAES, libaios runs its own
 * kernel, lib/crypto/gcm_vaes.c, at every length); the "aes256gcm
 * backends" lines put the three backends of the seam side by side
 * (forced with the test switch), key objects and one-shot calls, to
 * place the choices (lib/crypto/gcm_ossl.h, gcm_vaes.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "aios/aios.h"
#include "crypto/crypto.h"
#include "crypto/sha256.h"
#include "bench_util.h"


/* ------------------------------------------------------------ AEAD */

typedef struct aead_case {
    aios__aead_alg alg;
    aios__aead_key *key;
    crypto_aead_aes256gcm_state gcm;
    uint8_t raw_key[32];
    uint8_t nonce[24];
    uint8_t tag[16];
    uint8_t *buf;
    size_t len;
} aead_case;

static void seam_seal(void *p)
{
    aead_case *c = p;
    aios__aead_seal(c->key, c->buf, c->tag, c->buf, c->len, NULL, 0, c->nonce);
}

static void raw_seal(void *p)
{
    aead_case *c = p;
    unsigned long long taglen;
    switch (c->alg) {
    case AIOS__AEAD_AES256GCM:
        crypto_aead_aes256gcm_encrypt_detached_afternm(c->buf, c->tag, &taglen, c->buf, c->len,
                                                       NULL, 0, NULL, c->nonce, &c->gcm);
        break;
    case AIOS__AEAD_CHACHA20POLY1305:
        crypto_aead_chacha20poly1305_ietf_encrypt_detached(c->buf, c->tag, &taglen, c->buf,
                                                           c->len, NULL, 0, NULL, c->nonce,
                                                           c->raw_key);
        break;
    case AIOS__AEAD_XCHACHA20POLY1305:
        crypto_aead_xchacha20poly1305_ietf_encrypt_detached(c->buf, c->tag, &taglen, c->buf,
                                                            c->len, NULL, 0, NULL, c->nonce,
                                                            c->raw_key);
        break;
    }
}

static void bench_aead(aios__aead_alg alg, size_t len)
{
    aead_case c;
    memset(&c, 0, sizeof(c));
    c.alg = alg;
    c.len = len;
    c.buf = calloc(1, len ? len : 1);
    randombytes_buf(c.raw_key, sizeof(c.raw_key));
    if (aios__aead_key_new(&c.key, alg, c.raw_key) != AIOS_OK) {
        printf("%-34s unavailable here\n", aios__aead_name(alg));
        free(c.buf);
        return;
    }
    if (alg == AIOS__AEAD_AES256GCM)
        crypto_aead_aes256gcm_beforenm(&c.gcm, c.raw_key);
    double ns_seam, ns_raw;
    bench_measure_pair(seam_seal, raw_seal, &c, &ns_seam, &ns_raw);
    printf("seal %-18s %7zu B  aios %10.1f ns  raw %10.1f ns  overhead %+7.1f ns  ratio %.3f",
           aios__aead_name(alg), len, ns_seam, ns_raw, ns_seam - ns_raw, ns_raw / ns_seam);
    if (len >= 4096)
        printf("  (%.2f GB/s)", (double)len / ns_seam);
    printf("\n");
    aios__aead_key_free(c.key);
    free(c.buf);
}

/* AES-256-GCM through the seam, the three backends side by side, each
 * forced for every length (aios__aead_test_gcm_backend is a plain store,
 * read per call, so the alternating rounds may each set it).  Each runs
 * with its own precomputed state: libsodium's from a key object made
 * while libsodium was forced, the VAES kernel's from one made while VAES
 * was; OpenSSL keys a context per call (as it does in the library). */
typedef struct gcm_case {
    aios__aead_key *k_sodium, *k_vaes;
    uint8_t raw_key[32];
    uint8_t nonce[12];
    uint8_t tag[16], ct_tag[16];
    uint8_t *buf, *ct;
    size_t len;
} gcm_case;

static void gcm_seal_openssl(void *p)
{
    gcm_case *c = p;
    (void)aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_OPENSSL);
    (void)aios__aead_seal(c->k_sodium, c->buf, c->tag, c->buf, c->len, NULL, 0, c->nonce);
}

static void gcm_seal_libsodium(void *p)
{
    gcm_case *c = p;
    (void)aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_LIBSODIUM);
    (void)aios__aead_seal(c->k_sodium, c->buf, c->tag, c->buf, c->len, NULL, 0, c->nonce);
}

static void gcm_seal_vaes(void *p)
{
    gcm_case *c = p;
    (void)aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_VAES);
    (void)aios__aead_seal(c->k_vaes, c->buf, c->tag, c->buf, c->len, NULL, 0, c->nonce);
}

/* Open of a valid record: the same sealed bytes, out of place. */
static void gcm_open_openssl(void *p)
{
    gcm_case *c = p;
    (void)aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_OPENSSL);
    (void)aios__aead_open(c->k_sodium, c->buf, c->ct, c->len, c->ct_tag, NULL, 0, c->nonce);
}

static void gcm_open_libsodium(void *p)
{
    gcm_case *c = p;
    (void)aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_LIBSODIUM);
    (void)aios__aead_open(c->k_sodium, c->buf, c->ct, c->len, c->ct_tag, NULL, 0, c->nonce);
}

static void gcm_open_vaes(void *p)
{
    gcm_case *c = p;
    (void)aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_VAES);
    (void)aios__aead_open(c->k_vaes, c->buf, c->ct, c->len, c->ct_tag, NULL, 0, c->nonce);
}

/* One-shot calls (raw key: key schedule, and for VAES the powers of H,
 * per call), libsodium's against the VAES kernel's. */
static void gcm_once_libsodium(void *p)
{
    gcm_case *c = p;
    (void)aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_LIBSODIUM);
    (void)aios__aead_seal_once(AIOS__AEAD_AES256GCM, c->raw_key, c->buf, c->tag, c->buf, c->len,
                               NULL, 0, c->nonce);
}

static void gcm_once_vaes(void *p)
{
    gcm_case *c = p;
    (void)aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_VAES);
    (void)aios__aead_seal_once(AIOS__AEAD_AES256GCM, c->raw_key, c->buf, c->tag, c->buf, c->len,
                               NULL, 0, c->nonce);
}

static void gcm_once_openssl(void *p)
{
    gcm_case *c = p;
    (void)aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_OPENSSL);
    (void)aios__aead_seal_once(AIOS__AEAD_AES256GCM, c->raw_key, c->buf, c->tag, c->buf, c->len,
                               NULL, 0, c->nonce);
}

/* Three functions in alternating rounds, the best round of each. */
static void measure3(bench_fn f[3], void *arg, double ns[3])
{
    ns[0] = ns[1] = ns[2] = 1e300;
    for (int r = 0; r < BENCH_ROUNDS; r++)
        for (int i = 0; i < 3; i++) {
            double x = bench_measure_for(f[i], arg, bench_budget / BENCH_ROUNDS);
            if (x < ns[i])
                ns[i] = x;
        }
}

static void bench_gcm_backends(size_t len)
{
    gcm_case c;
    double s[3], o[3], q[3];
    bench_fn seal_fns[3] = { gcm_seal_libsodium, gcm_seal_openssl, gcm_seal_vaes };
    bench_fn open_fns[3] = { gcm_open_libsodium, gcm_open_openssl, gcm_open_vaes };
    bench_fn once_fns[3] = { gcm_once_libsodium, gcm_once_openssl, gcm_once_vaes };
    const char *auto_name;

    memset(&c, 0, sizeof(c));
    c.len = len;
    if (aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_OPENSSL) != AIOS_OK ||
        aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_VAES) != AIOS_OK ||
        aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_LIBSODIUM) != AIOS_OK) {
        printf("aes256gcm backends %7zu B  needs OpenSSL's, libsodium's and the VAES kernel "
               "here (VAES: %s)\n", len, aios__crypto_cpu()->vaes ? "yes" : "no");
        (void)aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_AUTO);
        return;
    }
    c.buf = calloc(1, len ? len : 1);
    c.ct = calloc(1, len ? len : 1);
    randombytes_buf(c.raw_key, sizeof(c.raw_key));
    randombytes_buf(c.nonce, sizeof(c.nonce));
    /* libsodium is forced now: this key object holds libsodium's state. */
    if (c.buf == NULL || c.ct == NULL ||
        aios__aead_key_new(&c.k_sodium, AIOS__AEAD_AES256GCM, c.raw_key) != AIOS_OK ||
        aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_VAES) != AIOS_OK ||
        aios__aead_key_new(&c.k_vaes, AIOS__AEAD_AES256GCM, c.raw_key) != AIOS_OK ||
        aios__aead_seal(c.k_vaes, c.ct, c.ct_tag, c.buf, len, NULL, 0, c.nonce) != AIOS_OK) {
        printf("aes256gcm backends %7zu B  set-up failed\n", len);
        goto out;
    }
    measure3(seal_fns, &c, s);
    measure3(open_fns, &c, o);
    measure3(once_fns, &c, q);
    (void)aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_AUTO);
    auto_name = aios__crypto_cpu()->vaes ? "vaes"
              : len >= aios__aead_gcm_openssl_min() ? "openssl" : "libsodium";
    printf("aes256gcm backends %7zu B  seal GB/s libsodium %6.2f  openssl %6.2f  vaes %6.2f "
           "(%9.1f ns)  vaes/best-other %.2fx | open GB/s libsodium %6.2f  openssl %6.2f  "
           "vaes %6.2f (%9.1f ns)  %.2fx | one-shot seal ns libsodium %9.1f  openssl %9.1f  "
           "vaes %9.1f  [auto: %s]\n",
           len, (double)len / s[0], (double)len / s[1], (double)len / s[2], s[2],
           (s[0] < s[1] ? s[0] : s[1]) / s[2],
           (double)len / o[0], (double)len / o[1], (double)len / o[2], o[2],
           (o[0] < o[1] ? o[0] : o[1]) / o[2], q[0], q[1], q[2], auto_name);
out:
    (void)aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_AUTO);
    aios__aead_key_free(c.k_sodium);
    aios__aead_key_free(c.k_vaes);
    free(c.buf);
    free(c.ct);
}

/* ------------------------------------------------------------ hashes */

typedef struct hash_case {
    uint8_t *buf;
    size_t len;
    uint8_t out[64];
} hash_case;

static void seam_sha256(void *p)
{
    hash_case *h = p;
    aios__sha256(h->out, h->buf, h->len);
}

static void raw_sha256(void *p)
{
    hash_case *h = p;
    crypto_hash_sha256(h->out, h->buf, h->len);
}

/* SHA-256 at three sizes: the kernel sha256.c chose for this CPU
 * (aios__sha256) against libsodium's portable crypto_hash_sha256. */
static void bench_sha256(size_t len)
{
    hash_case h;
    h.len = len;
    h.buf = calloc(1, h.len);
    double ns_seam, ns_raw;
    bench_measure_pair(seam_sha256, raw_sha256, &h, &ns_seam, &ns_raw);
    printf("sha256 %-10s %8zu B  aios %6.3f GB/s (%9.1f ns)  libsodium %6.3f GB/s (%9.1f ns)"
           "  speed-up %.2fx\n",
           aios__sha256_kernel(), len, (double)len / ns_seam, ns_seam, (double)len / ns_raw,
           ns_raw, ns_raw / ns_seam);
    free(h.buf);
}

/* Two streams on one core: aios__sha256_update2 (the 2-lane kernel where
 * the CPU has SHA instructions) against two aios__sha256 calls one after
 * the other; GB/s counts the bytes of both streams. */
typedef struct hash2_case {
    uint8_t *a, *b;
    size_t len;
    uint8_t out[2][32];
} hash2_case;

static void seam_sha256_x2(void *p)
{
    hash2_case *h = p;
    aios__sha256_ctx ca, cb;
    aios__sha256_init(&ca);
    aios__sha256_init(&cb);
    aios__sha256_update2(&ca, h->a, &cb, h->b, h->len);
    aios__sha256_final(&ca, h->out[0]);
    aios__sha256_final(&cb, h->out[1]);
}

static void seam_sha256_two(void *p)
{
    hash2_case *h = p;
    aios__sha256(h->out[0], h->a, h->len);
    aios__sha256(h->out[1], h->b, h->len);
}

static void bench_sha256_x2(size_t len)
{
    hash2_case h;
    double ns_x2, ns_two;
    h.len = len;
    h.a = calloc(1, len);
    h.b = calloc(1, len);
    if (!h.a || !h.b)
        exit(1);
    memset(h.b, 0x5a, len);
    bench_measure_pair(seam_sha256_x2, seam_sha256_two, &h, &ns_x2, &ns_two);
    printf("sha256 two streams %8zu B each  update2 %6.3f GB/s  two calls %6.3f GB/s  "
           "speed-up %.2fx  (2-lane kernel: %s)\n",
           len, 2.0 * (double)len / ns_x2, 2.0 * (double)len / ns_two, ns_two / ns_x2,
           aios__sha256_two_lanes() ? "yes" : "no");
    free(h.a);
    free(h.b);
}

/* The short messages of envelope headers: HMAC-SHA-256 of 32 bytes with a
 * 32-byte key (4 compressions), and HKDF-SHA-256 of a 32-byte secret into
 * 32 bytes with a short info (extract + one expand block: 8 compressions),
 * against the same built on libsodium's crypto_auth_hmacsha256. */
typedef struct mac_case {
    uint8_t key[32], msg[32], info[24], out[32];
} mac_case;

static void seam_hmac(void *p)
{
    mac_case *m = p;
    aios__hmac_sha256(m->out, m->key, sizeof(m->key), m->msg, sizeof(m->msg));
}

static void raw_hmac(void *p)
{
    mac_case *m = p;
    crypto_auth_hmacsha256(m->out, m->msg, sizeof(m->msg), m->key);
}

static void seam_hkdf(void *p)
{
    mac_case *m = p;
    (void)aios__hkdf_sha256(m->out, sizeof(m->out), NULL, 0, m->key, sizeof(m->key), m->info,
                            sizeof(m->info));
}

static void raw_hkdf(void *p)
{
    static const uint8_t zero_salt[32];
    static const uint8_t one = 1;
    mac_case *m = p;
    crypto_auth_hmacsha256_state st;
    uint8_t prk[32];
    crypto_auth_hmacsha256(prk, m->key, sizeof(m->key), zero_salt);
    crypto_auth_hmacsha256_init(&st, prk, sizeof(prk));
    crypto_auth_hmacsha256_update(&st, m->info, sizeof(m->info));
    crypto_auth_hmacsha256_update(&st, &one, 1);
    crypto_auth_hmacsha256_final(&st, m->out);
    sodium_memzero(prk, sizeof(prk));
}

static void bench_mac_kdf(void)
{
    mac_case m;
    double ns_seam, ns_raw;
    randombytes_buf(&m, sizeof(m));
    bench_measure_pair(seam_hmac, raw_hmac, &m, &ns_seam, &ns_raw);
    printf("hmac-sha256 %-10s 32 B      aios %9.1f ns  libsodium %9.1f ns  speed-up %.2fx\n",
           aios__sha256_kernel(), ns_seam, ns_raw, ns_raw / ns_seam);
    bench_measure_pair(seam_hkdf, raw_hkdf, &m, &ns_seam, &ns_raw);
    printf("hkdf-sha256 %-10s 32 B out  aios %9.1f ns  libsodium %9.1f ns  speed-up %.2fx\n",
           aios__sha256_kernel(), ns_seam, ns_raw, ns_raw / ns_seam);
}

/* ------------------------------------------------------------ ECDSA */

typedef struct ecdsa_case {
    aios__ec_curve curve;
    uint8_t pk[AIOS__EC_POINT_MAX];
    uint8_t sig[AIOS__EC_DER_SIG_MAX];
    size_t siglen;
    uint8_t msg[64];
} ecdsa_case;

static void ecdsa_verify_with(ecdsa_case *c, int backend)
{
    (void)aios__ecdsa_test_backend(backend);
    if (aios__ecdsa_verify_der(c->curve, c->sig, c->siglen, c->msg, sizeof(c->msg), c->pk,
                               aios__ec_point_len(c->curve)) != AIOS_OK)
        abort();
}

static void ecdsa_verify_mbedtls(void *p)
{
    ecdsa_verify_with(p, AIOS__ECDSA_BACKEND_MBEDTLS);
}

static void ecdsa_verify_openssl(void *p)
{
    ecdsa_verify_with(p, AIOS__ECDSA_BACKEND_AUTO);
}

/* aios__ecdsa_verify_der (hash of 64 bytes included) on each backend of
 * the seam (lib/crypto/ecdsa.c), forced with the test switch. */
static void bench_ecdsa_verify(aios__ec_curve curve)
{
    static const char *names[] = { "", "P-256", "P-384", "P-521" };
    ecdsa_case c;
    uint8_t sk[AIOS__EC_SCALAR_MAX];
    double ns_m, ns_o;

    memset(&c, 0, sizeof(c));
    c.curve = curve;
    randombytes_buf(c.msg, sizeof(c.msg));
    if (aios__ecdsa_keypair(curve, sk, c.pk) != AIOS_OK ||
        aios__ecdsa_sign_der(curve, c.sig, sizeof(c.sig), &c.siglen, c.msg, sizeof(c.msg), sk) !=
            AIOS_OK) {
        printf("ecdsa verify %s  set-up failed\n", names[curve]);
        return;
    }
    sodium_memzero(sk, sizeof(sk));
    if (aios__ecdsa_test_backend(AIOS__ECDSA_BACKEND_OPENSSL) != AIOS_OK) {
        (void)aios__ecdsa_test_backend(AIOS__ECDSA_BACKEND_AUTO);
        printf("ecdsa verify %s  mbedtls %9.1f us  (OpenSSL refuses ECDSA here)\n", names[curve],
               bench_measure(ecdsa_verify_mbedtls, &c) / 1e3);
        return;
    }
    bench_measure_pair(ecdsa_verify_mbedtls, ecdsa_verify_openssl, &c, &ns_m, &ns_o);
    (void)aios__ecdsa_test_backend(AIOS__ECDSA_BACKEND_AUTO);
    printf("ecdsa verify %s  mbedtls %9.1f us  openssl %9.1f us  speed-up %.2fx  [auto: %s]\n",
           names[curve], ns_m / 1e3, ns_o / 1e3, ns_m / ns_o, aios__ecdsa_verify_backend());
}

/* ------------------------------------------------------------ buffers */

static void plain_buffer(void *p)
{
    aios_buffer *b = NULL;
    (void)p;
    if (aios_buffer_new(&b, 32, 0) == AIOS_OK)
        aios_buffer_free(b);
}

static void secure_buffer(void *p)
{
    aios_buffer *b = NULL;
    (void)p;
    if (aios_buffer_new(&b, 32, AIOS_BUFFER_SECURE) == AIOS_OK)
        aios_buffer_free(b);
}

static void ct_equal32(void *p)
{
    static uint8_t a[32], b[32];
    *(volatile int *)p = aios_ct_equal(a, b, 32);
}

int main(int argc, char **argv)
{
    int sink, sha_only = 0, ecdsa_only = 0;
    /* [seconds-per-case] [--only sha256|ecdsa]: the SHA-256 rows alone (for
     * bench/manifest_peers.py), or the ECDSA verification rows alone. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--only") == 0 && i + 1 < argc && strcmp(argv[i + 1], "sha256") == 0) {
            sha_only = 1;
            i++;
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc &&
                   strcmp(argv[i + 1], "ecdsa") == 0) {
            ecdsa_only = 1;
            i++;
        } else if (i == 1) {
            bench_budget = atof(argv[i]);
        } else {
            fprintf(stderr, "usage: bench_crypto [seconds-per-case] [--only sha256|ecdsa]\n");
            return 2;
        }
    }
    if (aios_init() != AIOS_OK) {
        fprintf(stderr, "aios_init: %s\n", aios_last_error_message());
        return 1;
    }
    printf("# libaios %s  bench_crypto  %.2f s per case\n# %s\n", aios_version_string(),
           bench_budget, aios_build_info());
    static const size_t sizes[] = { 64, 1024, 65536 };
    static const aios__aead_alg algs[] = { AIOS__AEAD_AES256GCM, AIOS__AEAD_CHACHA20POLY1305,
                                           AIOS__AEAD_XCHACHA20POLY1305 };
    if (sha_only) {
        bench_sha256((size_t)1 << 20);
        bench_sha256_x2((size_t)1 << 20);
        return 0;
    }
    static const aios__ec_curve curves[] = { AIOS__EC_P256, AIOS__EC_P384, AIOS__EC_P521 };
    if (ecdsa_only) {
        for (size_t i = 0; i < 3; i++)
            bench_ecdsa_verify(curves[i]);
        return 0;
    }
    for (size_t a = 0; a < 3; a++)
        for (size_t s = 0; s < 3; s++)
            bench_aead(algs[a], sizes[s]);
    /* 64 B .. 1 MiB, with the sizes around the threshold. */
    static const size_t gcm_sizes[] = { 64, 256, 1024, 1536, 4096, 16384, 65536,
                                        (size_t)1 << 20 };
    for (size_t s = 0; s < sizeof(gcm_sizes) / sizeof(gcm_sizes[0]); s++)
        bench_gcm_backends(gcm_sizes[s]);
    bench_sha256(64);
    bench_sha256(1024);
    bench_sha256((size_t)1 << 20);
    bench_sha256_x2(4096);
    bench_sha256_x2((size_t)1 << 20);
    bench_mac_kdf();
    for (size_t i = 0; i < 3; i++)
        bench_ecdsa_verify(curves[i]);
    printf("aios_buffer_new+free (32 B plain)  %8.1f ns/op\n", bench_measure(plain_buffer, NULL));
    printf("aios_buffer_new+free (32 B secure) %8.1f ns/op\n", bench_measure(secure_buffer, NULL));
    printf("aios_ct_equal (32 B)               %8.1f ns/op\n", bench_measure(ct_equal32, &sink));
    return 0;
}
