/*
 * lib/envelope: random access to a sealed message (FORMAT.md 8.5).
 *
 * The payload length gives the chunk count and the final chunk; the
 * reader verifies the final chunk when it is created, so its size is
 * proven, and afterwards decrypts only the chunks a read touches.  Reads
 * share nothing mutable (pread on a dup'ed descriptor, a scratch chunk per
 * call), so any number of threads may read at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"
#include "envelope/chunk.h"
#include "envelope/message.h"

struct aios_envelope_reader {
    aios__env_hdr   hdr;
    aios__aead_key *kc;
    const uint8_t  *mem;         /* whole message, or NULL */
    int             fd;          /* dup'ed, or -1 */
    uint64_t        hlen;        /* payload offset */
    uint64_t        payload;
    uint64_t        n;           /* chunks */
    uint64_t        size;        /* plaintext bytes */
    uint32_t        cs;
    size_t          piece;
};

static int pread_full(int fd, uint8_t *buf, size_t len, uint64_t off)
{
    size_t n = 0;
    while (n < len) {
        ssize_t r = pread(fd, buf + n, len - n, (off_t)(off + n));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return aios__fail_errno(AIOS_E_IO, errno, "envelope reader: pread at %llu",
                                    (unsigned long long)(off + n));
        }
        if (r == 0)
            return aios__fail(AIOS_E_ENVELOPE_TRUNCATED,
                              "envelope reader: the file ended at %llu (it was cut while open?)",
                              (unsigned long long)(off + n));
        n += (size_t)r;
    }
    return AIOS_OK;
}

/* Chunk i's sealed bytes: a view into memory, or read into scratch. */
static int piece_get(const aios_envelope_reader *r, uint64_t i, uint8_t *scratch,
                     const uint8_t **p, size_t *len)
{
    uint64_t off = r->hlen + i * r->piece;
    *len = (i + 1 == r->n) ? (size_t)(r->payload - i * r->piece) : r->piece;
    if (r->mem) {
        *p = r->mem + off;
        return AIOS_OK;
    }
    *p = scratch;
    return pread_full(r->fd, scratch, *len, off);
}

static int open_chunk(const aios_envelope_reader *r, uint64_t i, uint8_t *out, uint8_t *scratch)
{
    const uint8_t *p;
    size_t len;
    int rc = piece_get(r, i, scratch, &p, &len);
    if (rc != AIOS_OK)
        return rc;
    rc = aios__chunk_open(r->kc, r->hdr.digest, r->cs, i, i + 1 == r->n, out, p, len);
    if (rc == AIOS_E_AUTH) {
        if (i + 1 == r->n)
            return aios__env_final_failed(r->kc, r->hdr.digest, r->cs, i, p, len);
        return aios__fail(AIOS_E_AUTH, "chunk %llu does not authenticate", (unsigned long long)i);
    }
    return rc;
}

/* A complete message followed by more bytes fails the layout or its last
 * piece; if the last full piece opens as the final chunk, say so
 * (FORMAT.md 8.4 step 4). */
static int trailing(const aios_envelope_reader *r, int rc)
{
    uint64_t i;
    uint8_t *piece, *tmp;
    int orc;

    if (r->payload < r->piece)
        return rc;
    i = r->payload / r->piece - 1;
    if (i * r->piece + r->piece == r->payload) {
        /* the last piece is full and failed: the piece before it may be
         * the real final chunk, followed by one full piece of garbage
         * (the one-shot and streaming readers say so too) */
        if (i == 0)
            return rc;
        i--;
    }
    piece = aios__malloc(r->piece);
    tmp = aios__malloc(r->cs);
    orc = AIOS_E_NOMEM;
    if (piece != NULL && tmp != NULL) {
        if (r->mem)
            memcpy(piece, r->mem + r->hlen + i * r->piece, r->piece);
        orc = r->mem ? AIOS_OK : pread_full(r->fd, piece, r->piece, r->hlen + i * r->piece);
        if (orc == AIOS_OK)
            orc = aios__chunk_open(r->kc, r->hdr.digest, r->cs, i, 1, tmp, piece, r->piece);
    }
    if (tmp)
        aios__free_secret(tmp, r->cs);
    aios__free(piece);
    if (orc != AIOS_OK)
        return rc;
    return aios__fail(AIOS_E_ENVELOPE_TRAILING_DATA,
                      "chunk %llu is the final chunk, but more bytes follow it",
                      (unsigned long long)i);
}

static int reader_setup(aios_envelope_reader *r, const aios_envelope_keys *keys,
                        const uint8_t *head, size_t head_len, uint64_t total,
                        const aios_envelope_open_options *opts)
{
    aios__env_open_opts o;
    uint8_t *scratch, *tmp;
    int rc;

    if ((rc = aios__env_open_opts_get(&o, opts)) != AIOS_OK)
        return rc;
    if ((rc = aios__env_hdr_open(&r->hdr, AIOS__ENV_ACCEPT_M, keys, head, head_len, &o)) != AIOS_OK)
        return rc;
    r->hlen = aios_buffer_len(r->hdr.bytes);
    r->payload = total - r->hlen;
    r->cs = r->hdr.h.core.chunk_size;
    r->piece = (size_t)r->cs + AIOS__CHUNK_TAG_LEN;
    if ((rc = aios__env_hdr_content_key(&r->kc, &r->hdr, o.no_soft_gcm)) != AIOS_OK)
        return rc;
    if ((rc = aios__chunk_layout(&r->n, &r->size, r->payload, r->cs)) != AIOS_OK)
        return trailing(r, rc);
    /* prove the length: open the final chunk now */
    scratch = aios__malloc(r->piece);
    tmp = aios__malloc(r->cs);
    if (scratch == NULL || tmp == NULL) {
        aios__free(scratch);
        aios__free(tmp);
        return aios__fail(AIOS_E_NOMEM, "envelope reader: out of memory");
    }
    rc = open_chunk(r, r->n - 1, tmp, scratch);
    aios__free_secret(tmp, r->cs);
    aios__free(scratch);
    return rc == AIOS_E_AUTH ? trailing(r, rc) : rc;
}

int aios_envelope_reader_new_mem(aios_envelope_reader **out, const aios_envelope_keys *keys,
                                 const uint8_t *msg, size_t msg_len,
                                 const aios_envelope_open_options *opts)
{
    aios_envelope_reader *r;
    int rc;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    AIOS__CHECK_ARG(keys != NULL, "keys is NULL");
    AIOS__CHECK_ARG(msg != NULL || msg_len == 0, "message is NULL");
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    r = aios__calloc(1, sizeof(*r));
    if (r == NULL)
        return aios__fail(AIOS_E_NOMEM, "aios_envelope_reader_new_mem: out of memory");
    r->fd = -1;
    r->mem = msg;
    if ((rc = reader_setup(r, keys, msg, msg_len, msg_len, opts)) != AIOS_OK) {
        aios_envelope_reader_free(r);
        return rc;
    }
    *out = r;
    return AIOS_OK;
}

int aios_envelope_reader_new_fd(aios_envelope_reader **out, const aios_envelope_keys *keys, int fd,
                                const aios_envelope_open_options *opts)
{
    aios_envelope_reader *r;
    struct stat st;
    uint8_t *head = NULL;
    size_t head_len;
    int rc;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    AIOS__CHECK_ARG(keys != NULL, "keys is NULL");
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    if (fstat(fd, &st) != 0)
        return aios__fail_errno(AIOS_E_IO, errno, "envelope reader: fstat of descriptor %d", fd);
    if (!S_ISREG(st.st_mode))
        return aios__fail(AIOS_E_INVALID_ARGUMENT,
                          "envelope reader: descriptor %d is not a regular file (random access "
                          "needs one; stream it with aios_envelope_opener)", fd);
    r = aios__calloc(1, sizeof(*r));
    if (r == NULL)
        return aios__fail(AIOS_E_NOMEM, "aios_envelope_reader_new_fd: out of memory");
    r->fd = dup(fd);
    if (r->fd < 0) {
        aios__free(r);
        return aios__fail_errno(AIOS_E_IO, errno, "envelope reader: dup of descriptor %d", fd);
    }
    head_len = (uint64_t)st.st_size < AIOS__ENV_HEADER_MAX ? (size_t)st.st_size : AIOS__ENV_HEADER_MAX;
    head = aios__malloc(head_len ? head_len : 1);
    if (head == NULL) {
        rc = aios__fail(AIOS_E_NOMEM, "aios_envelope_reader_new_fd: out of memory");
        goto fail;
    }
    if ((rc = pread_full(r->fd, head, head_len, 0)) != AIOS_OK)
        goto fail;
    rc = reader_setup(r, keys, head, head_len, (uint64_t)st.st_size, opts);
    aios__free(head);
    head = NULL;
    if (rc != AIOS_OK)
        goto fail;
    *out = r;
    return AIOS_OK;
fail:
    aios__free(head);
    aios_envelope_reader_free(r);
    return rc;
}

void aios_envelope_reader_free(aios_envelope_reader *r)
{
    if (r == NULL)
        return;
    if (r->fd >= 0)
        close(r->fd);
    aios__aead_key_free(r->kc);
    aios__env_hdr_clear(&r->hdr);
    aios__free(r);
}

uint64_t aios_envelope_reader_size(const aios_envelope_reader *r)
{
    return r ? r->size : 0;
}

uint32_t aios_envelope_reader_chunk_size(const aios_envelope_reader *r)
{
    return r ? r->cs : 0;
}

int aios_envelope_reader_read(const aios_envelope_reader *r, uint64_t offset, uint8_t *out,
                              size_t len, size_t *out_len)
{
    uint8_t *scratch = NULL, *tmp = NULL;
    size_t w = 0;
    int rc = AIOS_OK;

    AIOS__CHECK_ARG(out_len != NULL, "out_len is NULL");
    *out_len = 0;
    AIOS__CHECK_ARG(r != NULL, "reader is NULL");
    AIOS__CHECK_ARG(out != NULL || len == 0, "out is NULL");
    if (offset >= r->size || len == 0)
        return AIOS_OK;
    if (len > r->size - offset)
        len = (size_t)(r->size - offset);
    if (r->mem == NULL) {
        scratch = aios__malloc(r->piece);
        if (scratch == NULL)
            return aios__fail(AIOS_E_NOMEM, "envelope reader: out of memory");
    }
    while (w < len) {
        uint64_t i = (offset + w) / r->cs;
        size_t within = (size_t)((offset + w) % r->cs);
        size_t clen = (i + 1 == r->n) ? (size_t)(r->size - i * r->cs) : r->cs;
        size_t take = clen - within;
        if (take > len - w)
            take = len - w;
        if (within == 0 && take == clen) {
            /* a whole chunk: straight into the caller's buffer */
            if ((rc = open_chunk(r, i, out + w, scratch)) != AIOS_OK)
                break;
        } else {
            if (tmp == NULL && (tmp = aios__malloc(r->cs)) == NULL) {
                rc = aios__fail(AIOS_E_NOMEM, "envelope reader: out of memory");
                break;
            }
            if ((rc = open_chunk(r, i, tmp, scratch)) != AIOS_OK)
                break;
            memcpy(out + w, tmp + within, take);
        }
        w += take;
    }
    if (tmp)
        aios__free_secret(tmp, r->cs);
    aios__free(scratch);
    if (rc != AIOS_OK) {
        aios__wipe(out, len);
        return rc;
    }
    *out_len = w;
    return AIOS_OK;
}

int aios_envelope_reader_info(const aios_envelope_reader *r, aios_buffer **json_out)
{
    AIOS__CHECK_ARG(json_out != NULL, "json_out is NULL");
    *json_out = NULL;
    AIOS__CHECK_ARG(r != NULL, "reader is NULL");
    return aios__env_hdr_info(json_out, &r->hdr.h, 1, r->hdr.opened_by);
}
