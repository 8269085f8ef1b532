/*
 * bench_crypto: the cost of the foundation, side by side with the raw
 * libsodium calls it wraps (the ceiling).
 *
 *   build/bench/bench_crypto [seconds-per-case]
 *
 * Prints one line per case: ns/op (or GB/s) for libaios and for the raw
 * call, and their ratio.  Figures belong in docs/PERFORMANCE.md.  For
 * SHA-256 (and HMAC / HKDF over it) the raw call is libsodium's portable
 * code and libaios runs the kernel chosen for this CPU (sha256.c), so the
 * ratio is a speed-up, not an overhead.  The same holds for AES-256-GCM
 * from 1536 bytes on, where libaios runs OpenSSL's libcrypto and the raw
 * call is libsodium's; the "aes256gcm backends" lines put the two
 * backends of the seam side by side (forced with the test switch), to
 * place the threshold (lib/crypto/gcm_ossl.h).
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

/* AES-256-GCM through the seam, OpenSSL's backend against libsodium's,
 * each forced for every length (aios__aead_test_gcm_backend is a plain
 * store, read per call, so the alternating rounds may each set it). */
static void seal_openssl(void *p)
{
    aead_case *c = p;
    (void)aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_OPENSSL);
    aios__aead_seal(c->key, c->buf, c->tag, c->buf, c->len, NULL, 0, c->nonce);
}

static void seal_libsodium(void *p)
{
    aead_case *c = p;
    (void)aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_LIBSODIUM);
    aios__aead_seal(c->key, c->buf, c->tag, c->buf, c->len, NULL, 0, c->nonce);
}

/* Open of a valid record: seal once, then open the same bytes out of place. */
typedef struct open_case {
    aead_case *c;
    uint8_t *ct, tag[16];
} open_case;

static void open_openssl(void *p)
{
    open_case *o = p;
    (void)aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_OPENSSL);
    (void)aios__aead_open(o->c->key, o->c->buf, o->ct, o->c->len, o->tag, NULL, 0, o->c->nonce);
}

static void open_libsodium(void *p)
{
    open_case *o = p;
    (void)aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_LIBSODIUM);
    (void)aios__aead_open(o->c->key, o->c->buf, o->ct, o->c->len, o->tag, NULL, 0, o->c->nonce);
}

static void bench_gcm_backends(size_t len)
{
    aead_case c;
    open_case o;
    double ns_o, ns_s, ns_oo, ns_os;
    memset(&c, 0, sizeof(c));
    c.alg = AIOS__AEAD_AES256GCM;
    c.len = len;
    if (aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_OPENSSL) != AIOS_OK ||
        aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_LIBSODIUM) != AIOS_OK) {
        printf("aes256gcm backends %7zu B  needs both OpenSSL's and libsodium's here\n", len);
        (void)aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_AUTO);
        return;
    }
    c.buf = calloc(1, len ? len : 1);
    o.c = &c;
    o.ct = calloc(1, len ? len : 1);
    randombytes_buf(c.raw_key, sizeof(c.raw_key));
    if (c.buf == NULL || o.ct == NULL ||
        aios__aead_key_new(&c.key, AIOS__AEAD_AES256GCM, c.raw_key) != AIOS_OK ||
        aios__aead_seal(c.key, o.ct, o.tag, c.buf, len, NULL, 0, c.nonce) != AIOS_OK) {
        printf("aes256gcm backends %7zu B  set-up failed\n", len);
        goto out;
    }
    bench_measure_pair(seal_openssl, seal_libsodium, &c, &ns_o, &ns_s);
    bench_measure_pair(open_openssl, open_libsodium, &o, &ns_oo, &ns_os);
    (void)aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_AUTO);
    printf("aes256gcm backends %7zu B  seal openssl %6.2f GB/s (%9.1f ns)  libsodium %6.2f GB/s "
           "(%9.1f ns)  %.2fx | open openssl %6.2f GB/s  libsodium %6.2f GB/s  %.2fx  [auto: %s]\n",
           len, (double)len / ns_o, ns_o, (double)len / ns_s, ns_s, ns_s / ns_o,
           (double)len / ns_oo, (double)len / ns_os, ns_os / ns_oo,
           len >= aios__aead_gcm_openssl_min() ? "openssl" : "libsodium");
out:
    (void)aios__aead_test_gcm_backend(AIOS__GCM_BACKEND_AUTO);
    aios__aead_key_free(c.key);
    free(c.buf);
    free(o.ct);
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
    int sink;
    if (argc > 1)
        bench_budget = atof(argv[1]);
    if (aios_init() != AIOS_OK) {
        fprintf(stderr, "aios_init: %s\n", aios_last_error_message());
        return 1;
    }
    printf("# libaios %s  bench_crypto  %.2f s per case\n# %s\n", aios_version_string(),
           bench_budget, aios_build_info());
    static const size_t sizes[] = { 64, 1024, 65536 };
    static const aios__aead_alg algs[] = { AIOS__AEAD_AES256GCM, AIOS__AEAD_CHACHA20POLY1305,
                                           AIOS__AEAD_XCHACHA20POLY1305 };
    for (size_t a = 0; a < 3; a++)
        for (size_t s = 0; s < 3; s++)
            bench_aead(algs[a], sizes[s]);
    /* 64 B .. 1 MiB, with the sizes around the threshold. */
    static const size_t gcm_sizes[] = { 64, 1024, 1280, 1536, 2048, 4096, 65536, (size_t)1 << 20 };
    for (size_t s = 0; s < sizeof(gcm_sizes) / sizeof(gcm_sizes[0]); s++)
        bench_gcm_backends(gcm_sizes[s]);
    bench_sha256(64);
    bench_sha256(1024);
    bench_sha256((size_t)1 << 20);
    bench_mac_kdf();
    printf("aios_buffer_new+free (32 B plain)  %8.1f ns/op\n", bench_measure(plain_buffer, NULL));
    printf("aios_buffer_new+free (32 B secure) %8.1f ns/op\n", bench_measure(secure_buffer, NULL));
    printf("aios_ct_equal (32 B)               %8.1f ns/op\n", bench_measure(ct_equal32, &sink));
    return 0;
}
