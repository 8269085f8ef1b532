/*
 * Fuzz the envelope's streaming chunk opener (lib/envelope/chunk.c, the
 * STREAM reader of docs/FORMAT.md 8.4), which reads untrusted payloads.
 *
 * Input: a mode byte, a split byte, then data.
 *   mode bit 0 clear: data is a payload to open as it is (must fail or,
 *     if it opens, re-seal to exactly the same bytes).
 *   mode bit 0 set: data is a plaintext; the harness seals it, applies the
 *     damage the mode asks for (flip a bit, cut, append), and opens it fed
 *     in pieces of a size given by the split byte: undamaged it must open
 *     to the plaintext, damaged it must fail.
 * Suite (bit 1): AES-256-GCM or XChaCha20-Poly1305.  Only AIOS_OK,
 * AIOS_E_AUTH, AIOS_E_ENVELOPE_TRUNCATED, AIOS_E_ENVELOPE_TRAILING_DATA,
 * AIOS_E_FORMAT and AIOS_E_LIMIT may come back.
 */
#include <stdlib.h>
#include <string.h>

#include "aios/aios.h"
#include "crypto/crypto.h"
#include "envelope/chunk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CS 4096u

static int ok_status(int rc)
{
    return rc == AIOS_OK || rc == AIOS_E_AUTH || rc == AIOS_E_ENVELOPE_TRUNCATED ||
           rc == AIOS_E_ENVELOPE_TRAILING_DATA || rc == AIOS_E_FORMAT || rc == AIOS_E_LIMIT;
}

/* Open payload[0..len) in pieces of `piece` bytes; plaintext to pt. */
static int stream_open(const aios__aead_key *k, const uint8_t *d, const uint8_t *payload,
                       size_t len, size_t piece, uint8_t *pt, size_t pt_cap, size_t *pt_len)
{
    aios__chunk_opener *op = NULL;
    size_t total = 0, pos = 0, out_len = 0;
    int rc = aios__chunk_opener_new(&op, k, d, CS, 0);
    if (rc != AIOS_OK)
        abort();
    while (rc == AIOS_OK && pos < len) {
        size_t n = len - pos < piece ? len - pos : piece, used = 0;
        while (rc == AIOS_OK && used < n) {
            size_t u = 0;
            if (total + CS > pt_cap)
                abort();
            rc = aios__chunk_opener_update(op, payload + pos + used, n - used, &u, pt + total,
                                           CS, &out_len);
            used += u;
            total += out_len;
        }
        pos += n;
    }
    if (rc == AIOS_OK) {
        rc = aios__chunk_opener_final(op, pt + total, CS, &out_len);
        total += out_len;
    }
    aios__chunk_opener_free(op);
    *pt_len = total;
    return rc;
}

static int seal_all(const aios__aead_key *k, const uint8_t *d, const uint8_t *pt, size_t len,
                    uint8_t *out, size_t *out_len)
{
    uint64_t n = 0;
    size_t o = 0;
    if (aios__chunk_count(&n, len, CS) != AIOS_OK)
        abort();
    for (uint64_t i = 0; i < n; i++) {
        uint64_t off = 0;
        size_t clen = 0;
        int fin = 0;
        if (aios__chunk_span(&off, &clen, &fin, len, CS, i) != AIOS_OK ||
            aios__chunk_seal(k, d, CS, i, fin, out + o, pt + off, clen) != AIOS_OK)
            abort();
        o += clen + 16;
    }
    *out_len = o;
    return AIOS_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static aios__aead_key *keys[2];
    static const uint8_t d[AIOS__CHUNK_DIGEST_LEN] = { 0xd0 };
    static uint8_t sealed[4 * (CS + 16) + 64], pt[6 * CS], back[4 * (CS + 16) + 64];
    size_t sealed_len = 0, pt_len = 0, back_len = 0, piece;
    int mode, suite, rc;

    if (aios_init() != AIOS_OK)
        abort();
    if (!keys[0]) {
        uint8_t k[32];
        memset(k, 0x4b, sizeof(k));
        /* Suite 1 may be open-only here (no AES-NI): then raw mode only. */
        (void)aios__aead_key_new(&keys[0], AIOS__AEAD_AES256GCM, k);
        if (aios__aead_key_new(&keys[1], AIOS__AEAD_XCHACHA20POLY1305, k) != AIOS_OK)
            abort();
    }
    if (size < 2)
        return 0;
    mode = data[0];
    suite = (mode >> 1) & 1;
    piece = (size_t)data[1] * 37 + 1;
    data += 2;
    size -= 2;
    if (!keys[suite])
        return 0;
    if (size > 3 * CS + 100)
        size = 3 * CS + 100;

    if (!(mode & 1)) {
        /* Raw: an attacker's payload. */
        rc = stream_open(keys[suite], d, data, size, piece, pt, sizeof(pt), &pt_len);
        if (!ok_status(rc))
            abort();
        if (rc == AIOS_OK) {
            if (!aios__aead_key_can_seal(keys[suite]))
                return 0;
            seal_all(keys[suite], d, pt, pt_len, back, &back_len);
            if (back_len != size || memcmp(back, data, size) != 0)
                abort();
        }
        return 0;
    }

    /* Seal, damage as asked, open. */
    if (!aios__aead_key_can_seal(keys[suite]))
        return 0;
    seal_all(keys[suite], d, data, size, sealed, &sealed_len);
    int damaged = 0;
    switch ((mode >> 2) & 3) {
    case 1:                         /* flip one bit */
        if (sealed_len > 0) {
            size_t at = ((size_t)mode * 131 + size) % sealed_len;
            sealed[at] ^= (uint8_t)(1u << ((mode >> 4) & 7));
            damaged = 1;
        }
        break;
    case 2:                         /* cut */
        if (sealed_len > 0) {
            sealed_len -= 1 + ((size_t)mode * 977 + size) % sealed_len;
            damaged = 1;
        }
        break;
    case 3:                         /* append */
        sealed[sealed_len++] = (uint8_t)mode;
        damaged = 1;
        break;
    default:
        break;
    }
    rc = stream_open(keys[suite], d, sealed, sealed_len, piece, pt, sizeof(pt), &pt_len);
    if (!ok_status(rc))
        abort();
    if (damaged && rc == AIOS_OK)
        abort();        /* damage went unnoticed */
    if (!damaged && (rc != AIOS_OK || pt_len != size || memcmp(pt, data, size) != 0))
        abort();
    return 0;
}
