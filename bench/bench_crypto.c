/*
 * bench_crypto: the cost of the foundation, side by side with the raw
 * libsodium calls it wraps (the ceiling).
 *
 *   build/bench/bench_crypto [seconds-per-case]
 *
 * Prints one line per case: ns/op (or GB/s) for libaios and for the raw
 * call, and their ratio.  Figures belong in docs/PERFORMANCE.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "aios/aios.h"
#include "crypto/crypto.h"
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

static void bench_sha256(void)
{
    hash_case h;
    h.len = 1 << 20;
    h.buf = calloc(1, h.len);
    double ns_seam, ns_raw;
    bench_measure_pair(seam_sha256, raw_sha256, &h, &ns_seam, &ns_raw);
    printf("sha256 (1 MiB)                     aios %6.3f GB/s  raw %6.3f GB/s  ratio %.3f\n",
           (double)h.len / ns_seam, (double)h.len / ns_raw, ns_raw / ns_seam);
    free(h.buf);
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
    bench_sha256();
    printf("aios_buffer_new+free (32 B plain)  %8.1f ns/op\n", bench_measure(plain_buffer, NULL));
    printf("aios_buffer_new+free (32 B secure) %8.1f ns/op\n", bench_measure(secure_buffer, NULL));
    printf("aios_ct_equal (32 B)               %8.1f ns/op\n", bench_measure(ct_equal32, &sink));
    return 0;
}
