/*
 * The STREAM chunk layer of docs/FORMAT.md section 8: cutting, sealing and
 * opening single chunks, and the streaming opener of section 8.4.
 */
#include <inttypes.h>
#include <string.h>

#include "chunk.h"
#include "../core/internal.h"

/* FORMAT.md 8.3, 8.4, 8.5, 12.4. */
#define STATUS_TRUNCATED AIOS_E_ENVELOPE_TRUNCATED
#define STATUS_TRAILING  AIOS_E_ENVELOPE_TRAILING_DATA

/* ------------------------------------------------------------- cutting */

int aios__chunk_size_check(uint32_t cs)
{
    if (cs < AIOS__CHUNK_SIZE_MIN || cs > AIOS__CHUNK_SIZE_MAX)
        return aios__fail(AIOS_E_FORMAT, "chunk size %" PRIu32 " is outside %u..%u",
                          cs, AIOS__CHUNK_SIZE_MIN, AIOS__CHUNK_SIZE_MAX);
    return AIOS_OK;
}

int aios__chunk_count(uint64_t *n_out, uint64_t pt_len, uint32_t cs)
{
    uint64_t n;
    int rc;

    AIOS__CHECK_ARG(n_out != NULL, "n_out is NULL");
    *n_out = 0;
    if ((rc = aios__chunk_size_check(cs)) != AIOS_OK)
        return rc;
    if (pt_len > AIOS__CHUNK_PLAINTEXT_MAX)
        return aios__fail(AIOS_E_LIMIT, "a plaintext of %" PRIu64 " bytes is over the "
                          "message limit of 2^48 bytes", pt_len);
    n = pt_len == 0 ? 1 : (pt_len - 1) / cs + 1;   /* no overflow: pt_len <= 2^48 */
    if (n > AIOS__CHUNK_COUNT_MAX)
        return aios__fail(AIOS_E_LIMIT, "a plaintext of %" PRIu64 " bytes in chunks of %"
                          PRIu32 " needs %" PRIu64 " chunks, over the limit of 2^32",
                          pt_len, cs, n);
    *n_out = n;
    return AIOS_OK;
}

int aios__chunk_span(uint64_t *off_out, size_t *len_out, int *final_out,
                     uint64_t pt_len, uint32_t cs, uint64_t i)
{
    uint64_t n, off;
    int rc;

    AIOS__CHECK_ARG(off_out != NULL && len_out != NULL && final_out != NULL,
                    "an output is NULL");
    *off_out = 0;
    *len_out = 0;
    *final_out = 0;
    if ((rc = aios__chunk_count(&n, pt_len, cs)) != AIOS_OK)
        return rc;
    if (i >= n)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "chunk %" PRIu64 " of a message of %"
                          PRIu64 " chunks", i, n);
    off = i * cs;
    *off_out = off;
    *len_out = (size_t)(i == n - 1 ? pt_len - off : cs);
    *final_out = i == n - 1;
    return AIOS_OK;
}

int aios__chunk_locate(uint64_t *i_out, size_t *within_out,
                       uint64_t pt_len, uint32_t cs, uint64_t x)
{
    uint64_t n;
    int rc;

    AIOS__CHECK_ARG(i_out != NULL && within_out != NULL, "an output is NULL");
    *i_out = 0;
    *within_out = 0;
    if ((rc = aios__chunk_count(&n, pt_len, cs)) != AIOS_OK)
        return rc;
    if (x >= pt_len)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "offset %" PRIu64 " is not inside a "
                          "plaintext of %" PRIu64 " bytes", x, pt_len);
    *i_out = x / cs;
    *within_out = (size_t)(x % cs);
    return AIOS_OK;
}

int aios__chunk_payload_len(uint64_t *out, uint64_t pt_len, uint32_t cs)
{
    uint64_t n;
    int rc;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = 0;
    if ((rc = aios__chunk_count(&n, pt_len, cs)) != AIOS_OK)
        return rc;
    *out = pt_len + n * AIOS__CHUNK_TAG_LEN;   /* <= 2^48 + 2^36 */
    return AIOS_OK;
}

int aios__chunk_layout(uint64_t *n_out, uint64_t *pt_len_out, uint64_t payload_len,
                       uint32_t cs)
{
    uint64_t full, q, m, n, pt;
    int rc;

    AIOS__CHECK_ARG(n_out != NULL && pt_len_out != NULL, "an output is NULL");
    *n_out = 0;
    *pt_len_out = 0;
    if ((rc = aios__chunk_size_check(cs)) != AIOS_OK)
        return rc;
    full = (uint64_t)cs + AIOS__CHUNK_TAG_LEN;
    q = payload_len / full;
    m = payload_len % full;
    if (payload_len == 0)
        return aios__fail(STATUS_TRUNCATED, "the payload is empty: no final chunk");
    if (m == 0) {
        n = q;
        pt = q * cs;
    } else {
        if (m < AIOS__CHUNK_TAG_LEN || (q > 0 && m == AIOS__CHUNK_TAG_LEN))
            return aios__fail(STATUS_TRUNCATED, "the payload ends with a piece of %" PRIu64
                              " bytes after %" PRIu64 " full chunks: no final chunk",
                              m, q);
        n = q + 1;
        pt = q * cs + (m - AIOS__CHUNK_TAG_LEN);
    }
    if (n > AIOS__CHUNK_COUNT_MAX || pt > AIOS__CHUNK_PLAINTEXT_MAX)
        return aios__fail(AIOS_E_LIMIT, "a payload of %" PRIu64 " bytes (%" PRIu64
                          " chunks) is over the message limits", payload_len, n);
    *n_out = n;
    *pt_len_out = pt;
    return AIOS_OK;
}

/* ----------------------------------------------------------- one chunk */

int aios__chunk_nonce(uint8_t *nonce, size_t nonce_len, uint64_t i, int final)
{
    AIOS__CHECK_ARG(nonce != NULL, "nonce is NULL");
    if (nonce_len != 12 && nonce_len != 24)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "chunk nonce of %zu bytes (12 or 24)",
                          nonce_len);
    if (i >= AIOS__CHUNK_COUNT_MAX)
        return aios__fail(AIOS_E_LIMIT, "chunk index %" PRIu64 " is over 2^32 - 1", i);
    memset(nonce, 0, nonce_len - 5);
    nonce[nonce_len - 5] = (uint8_t)(i >> 24);
    nonce[nonce_len - 4] = (uint8_t)(i >> 16);
    nonce[nonce_len - 3] = (uint8_t)(i >> 8);
    nonce[nonce_len - 2] = (uint8_t)i;
    nonce[nonce_len - 1] = final ? 0x01 : 0x00;
    return AIOS_OK;
}

/* The checks shared by seal and open: key, D, chunk size, index, and the
 * plaintext length len against the chunking rules of 8.1. */
static int chunk_check(const aios__aead_key *kc, const uint8_t *d, uint32_t cs, uint64_t i,
                       int final, size_t len, const char *what)
{
    int rc;

    if (kc == NULL || d == NULL)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: key or D is NULL", what);
    if ((rc = aios__chunk_size_check(cs)) != AIOS_OK)
        return rc;
    if (i >= AIOS__CHUNK_COUNT_MAX)
        return aios__fail(AIOS_E_LIMIT, "%s: chunk index %" PRIu64 " is over 2^32 - 1",
                          what, i);
    if (!final && len != cs)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: non-final chunk %" PRIu64
                          " holds %zu bytes, not the chunk size %" PRIu32, what, i, len, cs);
    if (final && (len > cs || (len == 0 && i > 0)))
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: final chunk %" PRIu64
                          " holds %zu bytes (1..%" PRIu32 ", or 0 as chunk 0)",
                          what, i, len, cs);
    return AIOS_OK;
}

int aios__chunk_seal(const aios__aead_key *kc, const uint8_t d[AIOS__CHUNK_DIGEST_LEN],
                     uint32_t cs, uint64_t i, int final,
                     uint8_t *out, const uint8_t *pt, size_t len)
{
    uint8_t nonce[AIOS__AEAD_NONCE_MAX];
    int rc;

    if ((rc = chunk_check(kc, d, cs, i, final, len, "chunk seal")) != AIOS_OK)
        return rc;
    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    AIOS__CHECK_ARG(len == 0 || pt != NULL, "pt is NULL");
    if ((rc = aios__chunk_nonce(nonce, aios__aead_nonce_len(aios__aead_key_alg(kc)), i,
                                final)) != AIOS_OK)
        return rc;
    rc = aios__aead_seal(kc, out, out + len, pt, len, d, AIOS__CHUNK_DIGEST_LEN, nonce);
    if (rc != AIOS_OK)
        return aios__error_prefix("chunk %" PRIu64, i);
    return AIOS_OK;
}

int aios__chunk_open(const aios__aead_key *kc, const uint8_t d[AIOS__CHUNK_DIGEST_LEN],
                     uint32_t cs, uint64_t i, int final,
                     uint8_t *pt, const uint8_t *chunk, size_t chunk_len)
{
    uint8_t nonce[AIOS__AEAD_NONCE_MAX];
    size_t len;
    int rc;

    AIOS__CHECK_ARG(chunk != NULL, "chunk is NULL");
    if (chunk_len < AIOS__CHUNK_TAG_LEN)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "chunk open: chunk %" PRIu64
                          " is %zu bytes, shorter than its tag", i, chunk_len);
    len = chunk_len - AIOS__CHUNK_TAG_LEN;
    if ((rc = chunk_check(kc, d, cs, i, final, len, "chunk open")) != AIOS_OK)
        return rc;
    AIOS__CHECK_ARG(len == 0 || pt != NULL, "pt is NULL");
    if ((rc = aios__chunk_nonce(nonce, aios__aead_nonce_len(aios__aead_key_alg(kc)), i,
                                final)) != AIOS_OK)
        return rc;
    /* Verifies before releasing; wipes pt on failure. */
    rc = aios__aead_open(kc, pt, chunk, len, chunk + len, d, AIOS__CHUNK_DIGEST_LEN, nonce);
    if (rc != AIOS_OK)
        return aios__error_prefix("chunk %" PRIu64 " (%s)", i, final ? "final" : "non-final");
    return AIOS_OK;
}

/* ------------------------------------------------------ streaming open */

struct aios__chunk_opener {
    const aios__aead_key *kc;
    uint8_t  d[AIOS__CHUNK_DIGEST_LEN];
    uint32_t cs;
    size_t   cap;        /* cs + 16 */
    size_t   fill;       /* bytes held in buf */
    uint64_t first;      /* index of the first chunk fed */
    uint64_t index;      /* index of the next chunk */
    uint64_t released;   /* plaintext bytes released so far */
    int      status;     /* sticky error, AIOS_OK while fine */
    int      done;       /* final chunk opened */
    uint8_t *buf;        /* cap bytes: the one chunk held */
};

int aios__chunk_opener_new(aios__chunk_opener **out, const aios__aead_key *kc,
                           const uint8_t d[AIOS__CHUNK_DIGEST_LEN], uint32_t cs,
                           uint64_t first_index)
{
    aios__chunk_opener *op;
    int rc;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    AIOS__CHECK_ARG(kc != NULL && d != NULL, "key or D is NULL");
    if ((rc = aios__chunk_size_check(cs)) != AIOS_OK)
        return rc;
    if (first_index >= AIOS__CHUNK_COUNT_MAX)
        return aios__fail(AIOS_E_LIMIT, "chunk index %" PRIu64 " is over 2^32 - 1",
                          first_index);
    op = aios__calloc(1, sizeof(*op));
    if (op == NULL)
        return aios__nomem("a chunk opener");
    op->cap = (size_t)cs + AIOS__CHUNK_TAG_LEN;
    op->buf = aios__malloc(op->cap);
    if (op->buf == NULL) {
        aios__free(op);
        return aios__nomem("a chunk opener's buffer");
    }
    op->kc = kc;
    memcpy(op->d, d, AIOS__CHUNK_DIGEST_LEN);
    op->cs = cs;
    op->first = first_index;
    op->index = first_index;
    *out = op;
    return AIOS_OK;
}

void aios__chunk_opener_free(aios__chunk_opener *op)
{
    if (op == NULL)
        return;
    /* Ciphertext only, but cheap to leave nothing behind. */
    aios__free_secret(op->buf, op->cap);
    aios__free(op);
}

size_t aios__chunk_opener_held(const aios__chunk_opener *op)
{
    return op == NULL ? 0 : op->fill;
}

size_t aios__chunk_opener_footprint(const aios__chunk_opener *op)
{
    return op == NULL ? 0 : sizeof(*op) + op->cap;
}

uint64_t aios__chunk_opener_count(const aios__chunk_opener *op)
{
    return op == NULL ? 0 : op->index - op->first;
}

static int opener_fail(aios__chunk_opener *op, int status)
{
    op->status = status;
    return status;
}

/* A repeated call after an error: the same status, and a message saying so. */
static int opener_sticky(const aios__chunk_opener *op)
{
    return aios__fail(op->status, "chunk stream: already failed (%s) at chunk %" PRIu64,
                      aios_status_name(op->status), op->index);
}

/* 8.4 steps 2, 4 and 5: a full piece (cap bytes at src) followed by more
 * input.  It must open as non-final. */
static int open_nonfinal(aios__chunk_opener *op, const uint8_t *src, uint8_t *out,
                         size_t *out_len)
{
    int rc;

    /* Step 5: index 2^32 - 1 can only be final.  And 8.1: a non-final
     * chunk means at least one more byte, within 2^48. */
    if (op->index >= AIOS__CHUNK_COUNT_MAX - 1)
        return opener_fail(op, aios__fail(AIOS_E_LIMIT, "chunk stream: 2^32 chunks without "
                                          "a final chunk"));
    if (op->released + op->cs >= AIOS__CHUNK_PLAINTEXT_MAX)
        return opener_fail(op, aios__fail(AIOS_E_LIMIT, "chunk stream: 2^48 bytes of "
                                          "plaintext without a final chunk"));
    rc = aios__chunk_open(op->kc, op->d, op->cs, op->index, 0, out, src, op->cap);
    if (rc == AIOS_OK) {
        op->index++;
        op->released += op->cs;
        *out_len = op->cs;
        return AIOS_OK;
    }
    if (rc != AIOS_E_AUTH)
        return opener_fail(op, rc);
    /* Step 4: the final chunk, with bytes after it?  src is intact (the
     * failed open wiped out, not src). */
    if (aios__chunk_open(op->kc, op->d, op->cs, op->index, 1, out, src, op->cap) == AIOS_OK) {
        aios__wipe(out, op->cs);   /* authentic, but the stream is not: release nothing */
        return opener_fail(op, aios__fail(STATUS_TRAILING, "chunk stream: bytes follow the "
                                          "final chunk %" PRIu64, op->index));
    }
    return opener_fail(op, aios__fail(AIOS_E_AUTH, "chunk stream: chunk %" PRIu64
                                      " does not verify", op->index));
}

static int opener_out_check(const aios__chunk_opener *op, const uint8_t *out, size_t out_cap,
                            const size_t *out_len)
{
    if (out_len == NULL || out == NULL)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "chunk stream: out or out_len is NULL");
    if (out_cap < op->cs)
        return aios__fail(AIOS_E_BUFFER_TOO_SMALL, "chunk stream: an output of %zu bytes "
                          "cannot hold a chunk of %" PRIu32, out_cap, op->cs);
    return AIOS_OK;
}

int aios__chunk_opener_update(aios__chunk_opener *op, const uint8_t *in, size_t in_len,
                              size_t *used, uint8_t *out, size_t out_cap, size_t *out_len)
{
    size_t pos = 0, take;
    int rc;

    AIOS__CHECK_ARG(op != NULL && used != NULL, "op or used is NULL");
    *used = 0;
    if (out_len != NULL)
        *out_len = 0;
    AIOS__CHECK_ARG(in_len == 0 || in != NULL, "in is NULL");
    if (op->status != AIOS_OK)
        return opener_sticky(op);
    if (op->done) {
        if (in_len == 0)
            return AIOS_OK;
        return opener_fail(op, aios__fail(STATUS_TRAILING, "chunk stream: %zu bytes after "
                                          "the final chunk", in_len));
    }
    if ((rc = opener_out_check(op, out, out_cap, out_len)) != AIOS_OK)
        return rc;

    while (pos < in_len) {
        if (op->fill == op->cap) {
            /* A full piece and at least one more byte: non-final. */
            rc = open_nonfinal(op, op->buf, out, out_len);
            if (rc != AIOS_OK)
                return rc;
            op->fill = 0;
            *used = pos;
            return AIOS_OK;
        }
        if (op->fill == 0 && in_len - pos > op->cap) {
            /* A whole chunk in the input, more after it: open it there. */
            rc = open_nonfinal(op, in + pos, out, out_len);
            if (rc != AIOS_OK)
                return rc;
            *used = pos + op->cap;
            return AIOS_OK;
        }
        take = op->cap - op->fill;
        if (take > in_len - pos)
            take = in_len - pos;
        memcpy(op->buf + op->fill, in + pos, take);
        op->fill += take;
        pos += take;
    }
    *used = pos;
    return AIOS_OK;
}

int aios__chunk_opener_final(aios__chunk_opener *op, uint8_t *out, size_t out_cap,
                             size_t *out_len)
{
    size_t len;
    int rc;

    AIOS__CHECK_ARG(op != NULL, "op is NULL");
    if (out_len != NULL)
        *out_len = 0;
    if (op->status != AIOS_OK)
        return opener_sticky(op);
    if (op->done)
        return AIOS_OK;
    if ((rc = opener_out_check(op, out, out_cap, out_len)) != AIOS_OK)
        return rc;

    /* Step 3. */
    if (op->fill < AIOS__CHUNK_TAG_LEN || (op->fill == AIOS__CHUNK_TAG_LEN && op->index > 0))
        return opener_fail(op, aios__fail(STATUS_TRUNCATED, "chunk stream: the input ended "
                                          "with %zu bytes after %" PRIu64 " chunks: no final "
                                          "chunk", op->fill, op->index - op->first));
    len = op->fill - AIOS__CHUNK_TAG_LEN;
    if (op->released + len > AIOS__CHUNK_PLAINTEXT_MAX)
        return opener_fail(op, aios__fail(AIOS_E_LIMIT, "chunk stream: over 2^48 bytes of "
                                          "plaintext"));
    rc = aios__chunk_open(op->kc, op->d, op->cs, op->index, 1, out, op->buf, op->fill);
    if (rc == AIOS_OK) {
        op->index++;
        op->released += len;
        op->done = 1;
        op->fill = 0;
        *out_len = len;
        return AIOS_OK;
    }
    if (rc != AIOS_E_AUTH)
        return opener_fail(op, rc);
    if (op->fill == op->cap && op->index < AIOS__CHUNK_COUNT_MAX - 1 &&
        aios__chunk_open(op->kc, op->d, op->cs, op->index, 0, out, op->buf, op->fill) == AIOS_OK) {
        aios__wipe(out, len);
        return opener_fail(op, aios__fail(STATUS_TRUNCATED, "chunk stream: cut after chunk %"
                                          PRIu64 ", which is not final", op->index));
    }
    /* A cut inside a chunk and a changed byte look alike (8.4). */
    return opener_fail(op, aios__fail(AIOS_E_AUTH, "chunk stream: the final chunk %" PRIu64
                                      " does not verify", op->index));
}
