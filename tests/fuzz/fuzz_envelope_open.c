/*
 * Fuzz the public open path of envelope messages (docs/FORMAT.md sections
 * 8.4, 8.5, 12.1): the whole input is a message, given to
 *   - aios_envelope_header_len and aios_envelope_peek (no keys),
 *   - aios_envelope_open (one-shot),
 *   - an aios_envelope_opener fed in pieces of sizes drawn from a hash of
 *     the input,
 *   - aios_envelope_reader_new_mem and one read of everything,
 *   - aios_envelope_open_into, into memory of the input's length,
 * with a fixed key set: the local KEK wrap-key v1 (bytes 00..1f) and the
 * X25519 key x-key (private key 40..5f) of tests/vectors/envelope-v1, and
 * the keyring's provider, so the seeds (those vectors) open and mutations
 * of them reach the chunks.  Half of the inputs (by the hash) are opened
 * with the expected context {tenant: acme} (subset).
 *
 * Only the statuses of section 12.1 may come back, and the shapes must
 * agree: what one-shot open accepts, the opener and the reader accept with
 * the same plaintext, and the other way round; a header that peek decodes
 * has the length header_len says.  No crash, no leak.
 */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aios/aios.h"
#include "core/internal.h"
#include "crypto/crypto.h"
#include "envelope/format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static aios_envelope_keys *g_keys;
static aios_keyring *g_kr;
static char g_dir[256];

static void cleanup(void)
{
    char p[512];
    aios_envelope_keys_free(g_keys);
    aios_keyring_free(g_kr);
    snprintf(p, sizeof(p), "%s/fuzz.aioskr", g_dir);
    (void)unlink(p);
    snprintf(p, sizeof(p), "%s/fuzz.aioskr.lock", g_dir);
    (void)unlink(p);
    (void)rmdir(g_dir);
}

static void init_keys(void)
{
    static const uint8_t master[32] = { 0x6b, 0x72, 0x2d, 0x66, 0x75, 0x7a, 0x7a };
    aios_keyring_options o = AIOS_KEYRING_OPTIONS_INIT;
    uint8_t kek[32], xsk[32];
    char pem[AIOS__PKCS8_PEM_MAX], path[512];
    size_t pem_len = 0, i;
    aios_key *k = NULL;
    const char *tmp = getenv("TMPDIR");

    if (aios_init() != AIOS_OK)
        abort();
    for (i = 0; i < 32; i++) {
        kek[i] = (uint8_t)i;
        xsk[i] = (uint8_t)(0x40 + i);
    }
    snprintf(g_dir, sizeof(g_dir), "%s/aios-fuzz-open-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(g_dir) == NULL)
        abort();
    snprintf(path, sizeof(path), "%s/fuzz.aioskr", g_dir);
    o.unlock = AIOS_KEYRING_UNLOCK_RAW_KEY;
    o.secret = master;
    o.secret_len = sizeof(master);
    if (aios_keyring_create(&g_kr, path, &o) != AIOS_OK || aios_envelope_keys_new(&g_keys) != AIOS_OK)
        abort();
    if (aios_keyring_import(g_kr, &k, "wrap-key", AIOS_KEY_AES256, kek, 32, NULL) != AIOS_OK ||
        aios_envelope_keys_add_key(g_keys, k) != AIOS_OK)
        abort();
    aios_key_unref(k);
    k = NULL;
    if (aios__pkcs8_encode_pem(pem, sizeof(pem), &pem_len, AIOS__KEYENC_X25519, xsk, 32) != AIOS_OK ||
        aios_keyring_import(g_kr, &k, "x-key", AIOS_KEY_X25519, (const uint8_t *)pem, pem_len,
                            NULL) != AIOS_OK ||
        aios_envelope_keys_add_key(g_keys, k) != AIOS_OK)
        abort();
    aios_key_unref(k);
    if (aios_envelope_keys_add_provider(g_keys, aios_keyring_provider(g_kr)) != AIOS_OK)
        abort();
    atexit(cleanup);
}

/* Section 12.1's statuses (and the key statuses an attempt may pass on). */
static int allowed(int rc)
{
    switch (rc) {
    case AIOS_E_FORMAT:
    case AIOS_E_VERSION:
    case AIOS_E_LIMIT:
    case AIOS_E_AUTH:
    case AIOS_E_NOMEM:
    case AIOS_E_UNSUPPORTED:
    case AIOS_E_KEY_USAGE:
    case AIOS_E_ENVELOPE_NO_RECIPIENT:
    case AIOS_E_ENVELOPE_COMMITMENT:
    case AIOS_E_ENVELOPE_CONTEXT_MISMATCH:
    case AIOS_E_ENVELOPE_TRUNCATED:
    case AIOS_E_ENVELOPE_TRAILING_DATA:
        return 1;
    default:
        return 0;
    }
}

static void check(int rc, const char *what)
{
    if (rc != AIOS_OK && !allowed(rc)) {
        fprintf(stderr, "%s: unexpected %s: %s\n", what, aios_status_name(rc),
                aios_last_error_message());
        abort();
    }
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* The opener over data in pieces; *out gets the plaintext (malloc). */
static int stream_open(uint8_t **out, size_t *out_len, const uint8_t *data, size_t size,
                       const aios_envelope_open_options *oo, uint64_t seed)
{
    aios_envelope_opener *op = NULL;
    size_t off = 0, got = 0, w = 0, cap = size + 16;
    uint8_t *buf;
    int rc;

    *out = NULL;
    *out_len = 0;
    rc = aios_envelope_opener_new(&op, g_keys, oo);
    if (rc != AIOS_OK)
        return rc;
    buf = malloc(cap);
    if (buf == NULL)
        abort();
    while (rc == AIOS_OK && off < size) {
        size_t piece = 1 + (size_t)(next(&seed) % 6000), need;
        if (piece > size - off)
            piece = size - off;
        need = aios_envelope_opener_bound(op, piece);
        if (got + need > cap) {
            uint8_t *nb = realloc(buf, got + need);
            if (nb == NULL)
                abort();
            buf = nb;
            cap = got + need;
        }
        rc = aios_envelope_opener_update(op, buf + got, cap - got, &w, data + off, piece);
        if (rc == AIOS_OK) {
            if (w > cap - got)
                abort();
            got += w;
        }
        off += piece;
    }
    if (rc == AIOS_OK) {
        size_t need = aios_envelope_opener_bound(op, 0);
        if (got + need > cap) {
            uint8_t *nb = realloc(buf, got + need);
            if (nb == NULL)
                abort();
            buf = nb;
            cap = got + need;
        }
        rc = aios_envelope_opener_final(op, buf + got, cap - got, &w);
        if (rc == AIOS_OK)
            got += w;
    }
    if (rc == AIOS_OK) {
        aios_buffer *info = NULL;
        if (aios_envelope_opener_info(op, &info) != AIOS_OK)
            abort();
        aios_buffer_free(info);
    }
    aios_envelope_opener_free(op);
    if (rc != AIOS_OK) {
        free(buf);
        return rc;
    }
    *out = buf;
    *out_len = got;
    return AIOS_OK;
}

static int reader_open(uint8_t **out, size_t *out_len, const uint8_t *data, size_t size,
                       const aios_envelope_open_options *oo)
{
    aios_envelope_reader *r = NULL;
    uint64_t n;
    uint8_t *buf;
    size_t got = 0;
    int rc;

    *out = NULL;
    *out_len = 0;
    rc = aios_envelope_reader_new_mem(&r, g_keys, data, size, oo);
    if (rc != AIOS_OK)
        return rc;
    n = aios_envelope_reader_size(r);
    if (n > size)
        abort();
    buf = malloc((size_t)n + 1);
    if (buf == NULL)
        abort();
    rc = aios_envelope_reader_read(r, 0, buf, (size_t)n + 1, &got);
    if (rc == AIOS_OK && got != n)
        abort();
    aios_envelope_reader_free(r);
    if (rc != AIOS_OK) {
        free(buf);
        return rc;
    }
    *out = buf;
    *out_len = got;
    return AIOS_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const aios_envelope_context_entry want[1] = { { "tenant", "acme" } };
    aios_envelope_open_options oo = AIOS_ENVELOPE_OPEN_OPTIONS_INIT;
    aios_buffer *pt = NULL, *json = NULL;
    aios__env_header h;
    uint8_t *spt = NULL, *rpt = NULL;
    size_t slen = 0, rlen = 0, hlen = 0;
    uint64_t seed = fnv1a(data, size) | 1;
    int rc, src, rrc, peek_ok;

    if (g_keys == NULL)
        init_keys();
    if (seed & 2) {
        oo.expected_context = want;
        oo.expected_context_count = 1;
        oo.context_mode = AIOS_ENVELOPE_CONTEXT_SUBSET;
    }

    /* no keys: header_len and peek agree with the decoder */
    rc = aios_envelope_header_len(&hlen, data, size);
    if (rc == AIOS_E_BUFFER_TOO_SMALL) {
        if (hlen <= size)
            abort();
    } else if (rc == AIOS_OK) {
        if (hlen < 82 + AIOS__ENV_CORE_MIN || hlen > AIOS_ENVELOPE_HEADER_MAX)
            abort();
    } else if (rc != AIOS_E_FORMAT && rc != AIOS_E_VERSION && rc != AIOS_E_LIMIT) {
        abort();
    }
    rc = aios_envelope_peek(&json, data, size);
    check(rc, "peek");
    peek_ok = rc == AIOS_OK;
    aios_buffer_free(json);
    if (peek_ok) {
        size_t l2 = 0;
        if (aios__env_header_decode(&h, data, size, AIOS__ENV_ACCEPT_M | AIOS__ENV_ACCEPT_S) !=
            AIOS_OK)
            abort();
        if (aios_envelope_header_len(&l2, data, size) != AIOS_OK || l2 != h.raw.len)
            abort();
        aios__env_header_clear(&h);
    }

    /* one-shot, streamed, random access */
    rc = aios_envelope_open(&pt, g_keys, data, size, &oo);
    check(rc, "open");
    src = stream_open(&spt, &slen, data, size, &oo, seed);
    check(src, "opener");
    rrc = reader_open(&rpt, &rlen, data, size, &oo);
    check(rrc, "reader");

    if (rc == AIOS_OK) {
        if (!peek_ok)
            abort();
        if (src != AIOS_OK || slen != aios_buffer_len(pt) ||
            (slen && memcmp(spt, aios_buffer_data(pt), slen) != 0))
            abort();
        if (rrc != AIOS_OK || rlen != aios_buffer_len(pt) ||
            (rlen && memcmp(rpt, aios_buffer_data(pt), rlen) != 0))
            abort();
    } else if (src == AIOS_OK || rrc == AIOS_OK) {
        /* every chunk verified there, so one-shot open must agree */
        fprintf(stderr, "open %s but opener %s, reader %s\n", aios_status_name(rc),
                aios_status_name(src), aios_status_name(rrc));
        abort();
    }
    /* into caller memory: the same verdict and bytes, and on failure the
     * memory given is left zeroed over what could have been plaintext */
    if (size > 0 && size <= UINT32_MAX) {
        uint8_t *into = malloc(size);
        uint32_t got = 0;
        int irc;
        if (into == NULL)
            abort();
        memset(into, 0xa5, size);
        irc = aios_envelope_open_into(g_keys, into, (uint32_t)size, &got, data, (uint32_t)size,
                                      &oo);
        if (irc != rc)
            abort();
        if (irc == AIOS_OK && (got != aios_buffer_len(pt) ||
                               (got && memcmp(into, aios_buffer_data(pt), got) != 0)))
            abort();
        if (irc != AIOS_OK && got != 0)
            abort();
        free(into);
    }
    aios_buffer_free(pt);
    free(spt);
    free(rpt);
    return 0;
}
