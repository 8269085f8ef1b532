/*
 * lib/envelope: streaming seal and open (FORMAT.md 8.4, 8.6) and the
 * file-descriptor loops.
 *
 * Both directions hold back one piece: a sealer cannot seal a full chunk
 * until it knows more input follows (else it is the final chunk), and an
 * opener cannot open a full piece until it knows whether it is the last.
 * Everything else goes straight from the caller's input to the caller's
 * output, sealed or opened in place of a copy, and a run of several chunks
 * is spread over the worker pool.  Memory: one chunk held back (plus the
 * header while it arrives, for the opener), whatever the message size.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "envelope/chunk.h"
#include "envelope/message.h"

/* ============================================================ sealer */

struct aios_envelope_sealer {
    aios__env_hdr   hdr;
    aios__aead_key *kc;
    aios__env_pool *pool;
    uint32_t        cs;
    uint8_t        *hold;        /* cs bytes: input not yet sealed */
    size_t          held;
    uint64_t        index;       /* next chunk index */
    uint64_t        total;       /* plaintext bytes seen */
    int             header_out;  /* header written */
    int             done;        /* finished or failed: every call is AIOS_E_STATE */
};

int aios_envelope_sealer_new(aios_envelope_sealer **out, aios_key *const *recipients,
                             size_t nrecipients, const aios_envelope_context_entry *context,
                             size_t ncontext, const aios_envelope_seal_options *opts)
{
    aios__env_seal_opts so;
    aios_envelope_sealer *s;
    int rc;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    if ((rc = aios__env_seal_opts_get(&so, opts)) != AIOS_OK)
        return rc;
    s = aios__calloc(1, sizeof(*s));
    if (s == NULL)
        return aios__fail(AIOS_E_NOMEM, "aios_envelope_sealer_new: out of memory");
    s->cs = so.chunk_size;
    if ((rc = aios__env_hdr_seal(&s->hdr, AIOS__ENV_TYPE_M, so.suite, 0, so.chunk_size, recipients,
                                 nrecipients, context, ncontext)) != AIOS_OK)
        goto fail;
    if ((rc = aios__env_hdr_content_key(&s->kc, &s->hdr, 0)) != AIOS_OK)
        goto fail;
    if ((rc = aios__env_pool_new(&s->pool, so.threads)) != AIOS_OK)
        goto fail;
    s->hold = aios__malloc(s->cs);
    if (s->hold == NULL) {
        rc = aios__fail(AIOS_E_NOMEM, "aios_envelope_sealer_new: out of memory");
        goto fail;
    }
    *out = s;
    return AIOS_OK;
fail:
    aios_envelope_sealer_free(s);
    return rc;
}

void aios_envelope_sealer_free(aios_envelope_sealer *s)
{
    if (s == NULL)
        return;
    aios__env_pool_free(s->pool);
    aios__aead_key_free(s->kc);
    aios__env_hdr_clear(&s->hdr);
    if (s->hold)
        aios__free_secret(s->hold, s->cs);
    aios__free(s);
}

size_t aios_envelope_sealer_bound(const aios_envelope_sealer *s, size_t in_len)
{
    size_t hdr, chunks;
    if (s == NULL)
        return 0;
    hdr = s->header_out ? 0 : aios_buffer_len(s->hdr.bytes);
    if (in_len > SIZE_MAX - s->cs - hdr - 64)
        return SIZE_MAX;
    chunks = (s->held + in_len) / s->cs + 1;
    return hdr + chunks * ((size_t)s->cs + AIOS__CHUNK_TAG_LEN);
}

static int sealer_fail(aios_envelope_sealer *s, int rc)
{
    s->done = 1;
    return rc;
}

/* Seal nitems full non-final chunks from in (contiguous) to out. */
/* Seal nitems chunks into out: the held chunk first when in0 is not NULL
 * (it is counted in nitems), then full chunks from in; one pool run, so
 * the held chunk is sealed beside the others, not alone before them. */
static int seal_run(aios_envelope_sealer *s, uint8_t *out, const uint8_t *in0, const uint8_t *in,
                    size_t nitems)
{
    aios__env_chunk_job j;
    int rc;

    if (s->index + nitems >= AIOS__CHUNK_COUNT_MAX)
        return aios__fail(AIOS_E_LIMIT, "a message holds at most 2^32 chunks");
    memset(&j, 0, sizeof(j));
    j.kc = s->kc;
    j.d = s->hdr.digest;
    j.cs = s->cs;
    j.first = s->index;
    j.last = UINT64_MAX;
    j.in0 = in0;
    j.in = in;
    j.out = out;
    j.in_stride = s->cs;
    j.out_stride = (size_t)s->cs + AIOS__CHUNK_TAG_LEN;
    j.nitems = nitems;
    j.last_len = s->cs;
    j.seal = 1;
    rc = aios__env_chunks_run(nitems > 1 ? s->pool : NULL, &j);
    if (rc == AIOS_OK)
        s->index += nitems;
    return rc;
}

int aios_envelope_sealer_update(aios_envelope_sealer *s, uint8_t *out, size_t out_cap,
                                size_t *out_len, const uint8_t *in, size_t in_len)
{
    const uint8_t *held_full = NULL;
    size_t w = 0, k;
    int rc;

    AIOS__CHECK_ARG(out_len != NULL, "out_len is NULL");
    *out_len = 0;
    AIOS__CHECK_ARG(s != NULL, "sealer is NULL");
    AIOS__CHECK_ARG(in != NULL || in_len == 0, "in is NULL");
    AIOS__CHECK_ARG(out != NULL || out_cap == 0, "out is NULL");
    if (s->done)
        return aios__fail(AIOS_E_STATE, "the sealer has finished or failed");
    if (out_cap < aios_envelope_sealer_bound(s, in_len))
        return aios__fail(AIOS_E_BUFFER_TOO_SMALL, "out holds %zu bytes; %zu are needed", out_cap,
                          aios_envelope_sealer_bound(s, in_len));
    if ((uint64_t)in_len > AIOS__CHUNK_PLAINTEXT_MAX - s->total)
        return sealer_fail(s, aios__fail(AIOS_E_LIMIT, "a message holds at most 2^48 bytes"));
    if (!s->header_out) {
        w = aios_buffer_len(s->hdr.bytes);
        memcpy(out, aios_buffer_data(s->hdr.bytes), w);
        s->header_out = 1;
    }
    s->total += in_len;
    /* 1. complete the held chunk; it is sealed below if more input follows */
    if (s->held > 0 && in_len > 0) {
        size_t take = s->cs - s->held;
        if (take > in_len)
            take = in_len;
        memcpy(s->hold + s->held, in, take);
        s->held += take;
        in += take;
        in_len -= take;
        if (s->held == s->cs && in_len > 0) {
            held_full = s->hold;
            s->held = 0;
        }
    }
    /* 2. the held chunk and the full chunks straight from the input, in
     * one run, keeping at least one byte; then hold the rest */
    if (s->held == 0 && in_len > 0) {
        k = (in_len - 1) / s->cs;
        if (k > 0 || held_full != NULL) {
            size_t items = k + (held_full != NULL);
            if ((rc = seal_run(s, out + w, held_full, in, items)) != AIOS_OK)
                return sealer_fail(s, rc);
            w += items * ((size_t)s->cs + AIOS__CHUNK_TAG_LEN);
            in += k * s->cs;
            in_len -= k * s->cs;
        }
        memcpy(s->hold, in, in_len);   /* after the run, which read the old hold */
        s->held = in_len;
    }
    *out_len = w;
    return AIOS_OK;
}

int aios_envelope_sealer_final(aios_envelope_sealer *s, uint8_t *out, size_t out_cap,
                               size_t *out_len)
{
    size_t w = 0;
    int rc;

    AIOS__CHECK_ARG(out_len != NULL, "out_len is NULL");
    *out_len = 0;
    AIOS__CHECK_ARG(s != NULL, "sealer is NULL");
    AIOS__CHECK_ARG(out != NULL || out_cap == 0, "out is NULL");
    if (s->done)
        return aios__fail(AIOS_E_STATE, "the sealer has finished or failed");
    if (out_cap < aios_envelope_sealer_bound(s, 0))
        return aios__fail(AIOS_E_BUFFER_TOO_SMALL, "out holds %zu bytes; %zu are needed", out_cap,
                          aios_envelope_sealer_bound(s, 0));
    if (!s->header_out) {
        w = aios_buffer_len(s->hdr.bytes);
        memcpy(out, aios_buffer_data(s->hdr.bytes), w);
        s->header_out = 1;
    }
    rc = aios__chunk_seal(s->kc, s->hdr.digest, s->cs, s->index, 1, out + w, s->hold, s->held);
    aios__wipe(s->hold, s->cs);
    s->done = 1;
    if (rc != AIOS_OK)
        return rc;
    *out_len = w + s->held + AIOS__CHUNK_TAG_LEN;
    s->held = 0;
    return AIOS_OK;
}

/* ============================================================ opener */

struct aios_envelope_opener {
    const aios_envelope_keys *keys;
    aios__env_open_opts o;
    aios_envelope_context_entry *expected;   /* (the options' pointers are the caller's) */
    aios__env_hdr   hdr;
    int             have_header;
    uint8_t        *hbuf;        /* the header as it arrives */
    size_t          hlen, hneed;
    aios__aead_key *kc;
    aios__env_pool *pool;
    uint32_t        cs;
    size_t          piece;       /* cs + 16 */
    uint8_t        *hold;        /* piece bytes */
    size_t          held;
    uint64_t        index;
    int             status;      /* sticky failure, AIOS_OK else */
    int             finished;
};

int aios_envelope_opener_new(aios_envelope_opener **out, const aios_envelope_keys *keys,
                             const aios_envelope_open_options *opts)
{
    aios_envelope_opener *o;
    int rc;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    AIOS__CHECK_ARG(keys != NULL, "keys is NULL");
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    o = aios__calloc(1, sizeof(*o));
    if (o == NULL)
        return aios__fail(AIOS_E_NOMEM, "aios_envelope_opener_new: out of memory");
    if ((rc = aios__env_open_opts_get(&o->o, opts)) != AIOS_OK) {
        aios__free(o);
        return rc;
    }
    /* The expected context is checked when the header arrives: keep a
     * copy of the caller's strings (they need not outlive this call). */
    if (o->o.nexpected > 0) {
        size_t i;
        o->expected = aios__calloc(o->o.nexpected, sizeof(*o->expected));
        if (o->expected == NULL) {
            aios__free(o);
            return aios__fail(AIOS_E_NOMEM, "aios_envelope_opener_new: out of memory");
        }
        for (i = 0; i < o->o.nexpected; i++) {
            const aios_envelope_context_entry *e = &o->o.expected[i];
            char *k = e->key ? aios__malloc(strlen(e->key) + 1) : NULL;
            char *v = e->value ? aios__malloc(strlen(e->value) + 1) : NULL;
            if ((e->key && !k) || (e->value && !v)) {
                aios__free(k);
                aios__free(v);
                o->o.nexpected = i;
                o->o.expected = o->expected;
                aios_envelope_opener_free(o);
                return aios__fail(AIOS_E_NOMEM, "aios_envelope_opener_new: out of memory");
            }
            if (k)
                memcpy(k, e->key, strlen(e->key) + 1);
            if (v)
                memcpy(v, e->value, strlen(e->value) + 1);
            o->expected[i].key = k;
            o->expected[i].value = v;
        }
        o->o.expected = o->expected;
    }
    o->keys = keys;
    o->hneed = AIOS__ENV_PREFIX_LEN + 4;
    *out = o;
    return AIOS_OK;
}

void aios_envelope_opener_free(aios_envelope_opener *o)
{
    size_t i;
    if (o == NULL)
        return;
    if (o->expected) {
        for (i = 0; i < o->o.nexpected; i++) {
            aios__free((void *)o->expected[i].key);
            aios__free((void *)o->expected[i].value);
        }
        aios__free(o->expected);
    }
    aios__env_pool_free(o->pool);
    aios__aead_key_free(o->kc);
    aios__env_hdr_clear(&o->hdr);
    aios__free(o->hbuf);
    if (o->hold)
        aios__free_secret(o->hold, o->piece);
    aios__free(o);
}

size_t aios_envelope_opener_bound(const aios_envelope_opener *o, size_t in_len)
{
    if (o == NULL)
        return 0;
    /* plaintext never exceeds the ciphertext that carries it */
    if (in_len > SIZE_MAX - o->held)
        return SIZE_MAX;
    return o->held + in_len;
}

static int opener_fail(aios_envelope_opener *o, int rc)
{
    o->status = rc;
    return rc;
}

/* The header is complete in hbuf: open it, set up the chunk state. */
static int opener_header(aios_envelope_opener *o)
{
    int rc = aios__env_hdr_open(&o->hdr, AIOS__ENV_ACCEPT_M, o->keys, o->hbuf, o->hlen, &o->o);
    if (rc != AIOS_OK)
        return rc;
    aios__free(o->hbuf);
    o->hbuf = NULL;
    o->have_header = 1;
    o->cs = o->hdr.h.core.chunk_size;
    o->piece = (size_t)o->cs + AIOS__CHUNK_TAG_LEN;
    if ((rc = aios__env_hdr_content_key(&o->kc, &o->hdr, o->o.no_soft_gcm)) != AIOS_OK)
        return rc;
    if ((rc = aios__env_pool_new(&o->pool, o->o.threads)) != AIOS_OK)
        return rc;
    o->hold = aios__malloc(o->piece);
    if (o->hold == NULL)
        return aios__fail(AIOS_E_NOMEM, "envelope opener: out of memory");
    return AIOS_OK;
}

/* Take header bytes from in; *used says how many. */
static int opener_take_header(aios_envelope_opener *o, const uint8_t *in, size_t in_len,
                              size_t *used)
{
    int rc;
    *used = 0;
    while (!o->have_header && *used < in_len) {
        size_t take = o->hneed - o->hlen;
        if (take > in_len - *used)
            take = in_len - *used;
        if (o->hbuf == NULL) {
            o->hbuf = aios__malloc(AIOS__ENV_HEADER_MAX);
            if (o->hbuf == NULL)
                return aios__fail(AIOS_E_NOMEM, "envelope opener: out of memory");
        }
        memcpy(o->hbuf + o->hlen, in + *used, take);
        o->hlen += take;
        *used += take;
        if (o->hlen < o->hneed)
            break;
        {
            size_t need = 0;
            rc = aios_envelope_header_len(&need, o->hbuf, o->hlen);
            if (rc == AIOS_E_BUFFER_TOO_SMALL) {
                aios_error_clear();
                o->hneed = need;
                continue;
            }
            if (rc != AIOS_OK)
                return rc;
            if (o->hlen < need) {
                o->hneed = need;
                continue;
            }
            if ((rc = opener_header(o)) != AIOS_OK)
                return rc;
        }
    }
    return AIOS_OK;
}

/* Open nitems full non-final pieces from in to out. */
/* Open nitems pieces into out: the held piece first when in0 is not NULL
 * (counted in nitems), then full pieces from in; one pool run.  On
 * AIOS_E_AUTH all of out's nitems chunks are wiped. */
static int open_run(aios_envelope_opener *o, uint8_t *out, const uint8_t *in0, const uint8_t *in,
                    size_t nitems)
{
    aios__env_chunk_job j;
    int rc;

    if (o->index + nitems >= AIOS__CHUNK_COUNT_MAX)
        return aios__fail(AIOS_E_LIMIT, "a message holds at most 2^32 chunks");
    /* a reader applies the writer's limits (FORMAT.md 8.4) */
    if ((o->index + nitems) * (uint64_t)o->cs > AIOS__CHUNK_PLAINTEXT_MAX)
        return aios__fail(AIOS_E_LIMIT, "a message holds at most 2^48 bytes");
    memset(&j, 0, sizeof(j));
    j.kc = o->kc;
    j.d = o->hdr.digest;
    j.cs = o->cs;
    j.first = o->index;
    j.last = UINT64_MAX;
    j.in0 = in0;
    j.in = in;
    j.out = out;
    j.in_stride = o->piece;
    j.out_stride = o->cs;
    j.nitems = nitems;
    j.last_len = o->piece;
    j.seal = 0;
    rc = aios__env_chunks_run(nitems > 1 ? o->pool : NULL, &j);
    if (rc == AIOS_E_AUTH) {
        /* a full piece that opens as final, with more input after it */
        uint64_t bad = atomic_load(&j.failed) - 1;
        size_t at = (size_t)(bad - o->index);
        const uint8_t *piece = in0 == NULL ? in + at * o->piece
                             : at == 0 ? in0 : in + (at - 1) * o->piece;
        uint8_t *tmp = aios__malloc(o->cs);
        if (tmp != NULL) {
            if (aios__chunk_open(o->kc, o->hdr.digest, o->cs, bad, 1, tmp, piece, o->piece) == AIOS_OK)
                rc = aios__fail(AIOS_E_ENVELOPE_TRAILING_DATA,
                                "chunk %llu is the final chunk, but more data follows it",
                                (unsigned long long)bad);
            aios__wipe(tmp, o->cs);
            aios__free(tmp);
        }
        aios__wipe(out, nitems * (size_t)o->cs);
    }
    if (rc == AIOS_OK)
        o->index += nitems;
    return rc;
}

int aios_envelope_opener_update(aios_envelope_opener *o, uint8_t *out, size_t out_cap,
                                size_t *out_len, const uint8_t *in, size_t in_len)
{
    const uint8_t *held_full = NULL;
    size_t w = 0, used = 0, k;
    int rc;

    AIOS__CHECK_ARG(out_len != NULL, "out_len is NULL");
    *out_len = 0;
    AIOS__CHECK_ARG(o != NULL, "opener is NULL");
    AIOS__CHECK_ARG(in != NULL || in_len == 0, "in is NULL");
    AIOS__CHECK_ARG(out != NULL || out_cap == 0, "out is NULL");
    if (o->status != AIOS_OK)
        return aios__fail(o->status, "the opener failed earlier (%s)", aios_status_name(o->status));
    if (o->finished)
        return aios__fail(AIOS_E_STATE, "the opener has finished");
    if (out_cap < aios_envelope_opener_bound(o, in_len))
        return aios__fail(AIOS_E_BUFFER_TOO_SMALL, "out holds %zu bytes; %zu are needed", out_cap,
                          aios_envelope_opener_bound(o, in_len));
    if (!o->have_header) {
        if ((rc = opener_take_header(o, in, in_len, &used)) != AIOS_OK)
            return opener_fail(o, rc);
        in += used;
        in_len -= used;
        if (!o->have_header)
            return AIOS_OK;
    }
    if (o->held > 0 && in_len > 0) {
        size_t take = o->piece - o->held;
        if (take > in_len)
            take = in_len;
        memcpy(o->hold + o->held, in, take);
        o->held += take;
        in += take;
        in_len -= take;
        if (o->held == o->piece && in_len > 0) {
            held_full = o->hold;   /* opened below with the full pieces */
            o->held = 0;
        }
    }
    if (o->held == 0 && in_len > 0) {
        k = (in_len - 1) / o->piece;
        if (k > 0 || held_full != NULL) {
            size_t items = k + (held_full != NULL);
            if ((rc = open_run(o, out, held_full, in, items)) != AIOS_OK) {
                aios__wipe(out, items * (size_t)o->cs);
                return opener_fail(o, rc);
            }
            w += items * o->cs;
            in += k * o->piece;
            in_len -= k * o->piece;
        }
        memcpy(o->hold, in, in_len);   /* after the run, which read the old hold */
        o->held = in_len;
    }
    *out_len = w;
    return AIOS_OK;
}

int aios_envelope_opener_final(aios_envelope_opener *o, uint8_t *out, size_t out_cap,
                               size_t *out_len)
{
    int rc;

    AIOS__CHECK_ARG(out_len != NULL, "out_len is NULL");
    *out_len = 0;
    AIOS__CHECK_ARG(o != NULL, "opener is NULL");
    AIOS__CHECK_ARG(out != NULL || out_cap == 0, "out is NULL");
    if (o->status != AIOS_OK)
        return aios__fail(o->status, "the opener failed earlier (%s)", aios_status_name(o->status));
    if (o->finished)
        return aios__fail(AIOS_E_STATE, "the opener has finished");
    if (!o->have_header)
        return opener_fail(o, aios__fail(o->hlen == 0 ? AIOS_E_FORMAT : AIOS_E_ENVELOPE_TRUNCATED,
                                         "the input ended inside the envelope header "
                                         "(%zu bytes)", o->hlen));
    if (o->held >= AIOS__CHUNK_TAG_LEN && out_cap < o->held - AIOS__CHUNK_TAG_LEN)
        return aios__fail(AIOS_E_BUFFER_TOO_SMALL, "out holds %zu bytes; %zu are needed", out_cap,
                          o->held - AIOS__CHUNK_TAG_LEN);
    if (o->held < AIOS__CHUNK_TAG_LEN || (o->held == AIOS__CHUNK_TAG_LEN && o->index > 0))
        return opener_fail(o, aios__fail(AIOS_E_ENVELOPE_TRUNCATED,
                                         "the payload ends after chunk %llu without a final chunk",
                                         (unsigned long long)o->index));
    rc = aios__chunk_open(o->kc, o->hdr.digest, o->cs, o->index, 1, out, o->hold, o->held);
    if (rc != AIOS_OK) {
        rc = aios__env_final_failed(o->kc, o->hdr.digest, o->cs, o->index, o->hold, o->held);
        return opener_fail(o, rc);
    }
    *out_len = o->held - AIOS__CHUNK_TAG_LEN;
    aios__wipe(o->hold, o->piece);
    o->held = 0;
    o->finished = 1;
    return AIOS_OK;
}

int aios_envelope_opener_info(const aios_envelope_opener *o, aios_buffer **json_out)
{
    AIOS__CHECK_ARG(json_out != NULL, "json_out is NULL");
    *json_out = NULL;
    AIOS__CHECK_ARG(o != NULL, "opener is NULL");
    if (!o->have_header)
        return aios__fail(AIOS_E_STATE, "the header has not been read yet");
    return aios__env_hdr_info(json_out, &o->hdr.h, 1, o->hdr.opened_by);
}

/* ============================================================ fd loops */


/* Read until len bytes or end of input. */
int aios__env_read_full(int fd, uint8_t *buf, size_t len, size_t *got)
{
    size_t n = 0;
    while (n < len) {
        ssize_t r = read(fd, buf + n, len - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            *got = n;
            return aios__fail_errno(AIOS_E_IO, errno, "read from descriptor %d", fd);
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *got = n;
    return AIOS_OK;
}

int aios__env_write_all(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t r = write(fd, buf, len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return aios__fail_errno(AIOS_E_IO, errno, "write to descriptor %d", fd);
        }
        buf += r;
        len -= (size_t)r;
    }
    return AIOS_OK;
}

/* ---- read-ahead: a thread fills one block while the caller works on the
 * other, so reading overlaps sealing or opening (with threads > 1, the
 * caller's reads would otherwise leave the workers idle between rounds).
 * Blocks are wiped when freed (the sealer's input is plaintext). */

typedef struct prefetch {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    pthread_t       tid;
    int             fd;
    size_t          bs;
    uint8_t        *buf[2];
    size_t          len[2];
    int             ready[2];     /* filled, not yet taken back */
    int             err[2];       /* errno of a failed read, 0 else */
    int             fill, take;   /* next block to fill / to hand out */
    int             stop, done;   /* asked to stop / reached the end or an error */
} prefetch;

static void *prefetch_main(void *arg)
{
    prefetch *p = arg;
    for (;;) {
        int i, e = 0;
        size_t n = 0;
        pthread_mutex_lock(&p->mu);
        while (!p->stop && p->ready[p->fill])
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->stop) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        i = p->fill;
        pthread_mutex_unlock(&p->mu);
        while (n < p->bs) {
            ssize_t r = read(p->fd, p->buf[i] + n, p->bs - n);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                e = errno;
                break;
            }
            if (r == 0)
                break;
            n += (size_t)r;
        }
        pthread_mutex_lock(&p->mu);
        p->len[i] = n;
        p->err[i] = e;
        p->ready[i] = 1;
        p->fill ^= 1;
        pthread_cond_broadcast(&p->cv);
        if (e != 0 || n < p->bs) {
            p->done = 1;
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        pthread_mutex_unlock(&p->mu);
    }
}

static int prefetch_start(prefetch *p, int fd, size_t bs)
{
    memset(p, 0, sizeof(*p));
    p->fd = fd;
    p->bs = bs;
    p->buf[0] = aios__malloc(bs);
    p->buf[1] = aios__malloc(bs);
    if (p->buf[0] == NULL || p->buf[1] == NULL) {
        aios__free(p->buf[0]);
        aios__free(p->buf[1]);
        return aios__fail(AIOS_E_NOMEM, "envelope: out of memory for read-ahead blocks");
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (pthread_create(&p->tid, NULL, prefetch_main, p) != 0) {
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        aios__free(p->buf[0]);
        aios__free(p->buf[1]);
        return aios__fail(AIOS_E_INTERNAL, "envelope: cannot start the read-ahead thread");
    }
    return AIOS_OK;
}

/* The next block (len 0 at the end).  AIOS_E_IO for a failed read. */
static int prefetch_take(prefetch *p, const uint8_t **data, size_t *len)
{
    int i, e;
    pthread_mutex_lock(&p->mu);
    while (!p->ready[p->take])
        pthread_cond_wait(&p->cv, &p->mu);
    i = p->take;
    e = p->err[i];
    *data = p->buf[i];
    *len = p->len[i];
    pthread_mutex_unlock(&p->mu);
    if (e != 0)
        return aios__fail_errno(AIOS_E_IO, e, "read from descriptor %d", p->fd);
    return AIOS_OK;
}

/* Hand the block taken last back for refilling. */
static void prefetch_release(prefetch *p)
{
    pthread_mutex_lock(&p->mu);
    p->ready[p->take] = 0;
    p->take ^= 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void prefetch_stop(prefetch *p)
{
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->tid, NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    aios__free_secret(p->buf[0], p->bs);
    aios__free_secret(p->buf[1], p->bs);
}

/* ---- write-behind: a thread writes one output block while the caller
 * fills the other.  Blocks grow on demand (an opener's output depends on
 * the chunk size, known only after the header) and are wiped when freed
 * (the opener's output is plaintext). */

typedef struct writebehind {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    pthread_t       tid;
    int             fd;
    uint8_t        *buf[2];
    size_t          cap[2], len[2];
    int             full[2];      /* handed to the writer, not written yet */
    int             put, write;   /* next block to fill / to write */
    int             err;          /* errno of a failed write (sticky) */
    int             stop;
} writebehind;

static void *writebehind_main(void *arg)
{
    writebehind *w = arg;
    for (;;) {
        int i, e = 0;
        size_t off = 0;
        pthread_mutex_lock(&w->mu);
        while (!w->full[w->write] && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->full[w->write]) {          /* stop, and nothing left */
            pthread_mutex_unlock(&w->mu);
            return NULL;
        }
        i = w->write;
        e = w->err;
        pthread_mutex_unlock(&w->mu);
        while (e == 0 && off < w->len[i]) {
            ssize_t r = write(w->fd, w->buf[i] + off, w->len[i] - off);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                e = errno;
                break;
            }
            off += (size_t)r;
        }
        pthread_mutex_lock(&w->mu);
        if (e != 0 && w->err == 0)
            w->err = e;
        w->full[i] = 0;
        w->write ^= 1;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
    }
}

static int writebehind_start(writebehind *w, int fd)
{
    memset(w, 0, sizeof(*w));
    w->fd = fd;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->tid, NULL, writebehind_main, w) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        return aios__fail(AIOS_E_INTERNAL, "envelope: cannot start the write-behind thread");
    }
    return AIOS_OK;
}

/* A free block of at least need bytes.  AIOS_E_IO once a write failed. */
static int writebehind_get(writebehind *w, uint8_t **out, size_t need)
{
    int i, e;
    pthread_mutex_lock(&w->mu);
    while (w->full[w->put] && w->err == 0)
        pthread_cond_wait(&w->cv, &w->mu);
    i = w->put;
    e = w->err;
    pthread_mutex_unlock(&w->mu);
    if (e != 0)
        return aios__fail_errno(AIOS_E_IO, e, "write to descriptor %d", w->fd);
    if (w->cap[i] < need) {
        uint8_t *nb = aios__malloc(need ? need : 1);
        if (nb == NULL)
            return aios__fail(AIOS_E_NOMEM, "envelope: out of memory for an output block");
        if (w->buf[i])
            aios__free_secret(w->buf[i], w->cap[i]);
        w->buf[i] = nb;
        w->cap[i] = need;
    }
    *out = w->buf[i];
    return AIOS_OK;
}

/* Hand the block from the last get to the writer, len bytes of it. */
static void writebehind_put(writebehind *w, size_t len)
{
    pthread_mutex_lock(&w->mu);
    w->len[w->put] = len;
    w->full[w->put] = len > 0;
    if (len > 0)
        w->put ^= 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Wait for every block to be written, stop the thread, free the blocks.
 * AIOS_E_IO if a write failed (when rc is still AIOS_OK). */
static int writebehind_finish(writebehind *w, int rc)
{
    int e;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->tid, NULL);
    e = w->err;
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    if (w->buf[0])
        aios__free_secret(w->buf[0], w->cap[0]);
    if (w->buf[1])
        aios__free_secret(w->buf[1], w->cap[1]);
    if (rc == AIOS_OK && e != 0)
        return aios__fail_errno(AIOS_E_IO, e, "write to descriptor %d", w->fd);
    return rc;
}

/* Input blocks: enough chunks to keep the threads busy, at least 1 MiB. */
static size_t block_size(uint32_t cs, uint32_t threads)
{
    size_t b = (size_t)cs * 16u * threads;
    if (b < ((size_t)1 << 20))
        b = (size_t)1 << 20;
    return b;
}

/* One loop for both directions: blocks read ahead on one thread, each
 * sealed or opened by `update` (into an output block that grows to
 * `bound`), written behind on another thread; `final` at the end. */
typedef struct fd_stage {
    void   *obj;
    size_t (*bound)(const void *obj, size_t in_len);
    int    (*update)(void *obj, uint8_t *out, size_t cap, size_t *n, const uint8_t *in, size_t len);
    int    (*final)(void *obj, uint8_t *out, size_t cap, size_t *n);
} fd_stage;

static int fd_pump(int out_fd, int in_fd, size_t bs, const fd_stage *st)
{
    const uint8_t *in = NULL;
    uint8_t *out = NULL;
    size_t got, n, need;
    prefetch pf;
    writebehind wb;
    int rc;

    if ((rc = prefetch_start(&pf, in_fd, bs)) != AIOS_OK)
        return rc;
    if ((rc = writebehind_start(&wb, out_fd)) != AIOS_OK) {
        prefetch_stop(&pf);
        return rc;
    }
    for (;;) {
        if ((rc = prefetch_take(&pf, &in, &got)) != AIOS_OK)
            goto done;
        if (got == 0)
            break;
        need = st->bound(st->obj, got);
        if ((rc = writebehind_get(&wb, &out, need)) != AIOS_OK)
            goto done;
        rc = st->update(st->obj, out, need, &n, in, got);
        prefetch_release(&pf);
        if (rc != AIOS_OK)
            goto done;
        writebehind_put(&wb, n);
        if (got < bs)
            break;
    }
    need = st->bound(st->obj, 0);
    if ((rc = writebehind_get(&wb, &out, need)) != AIOS_OK)
        goto done;
    if ((rc = st->final(st->obj, out, need, &n)) != AIOS_OK)
        goto done;
    writebehind_put(&wb, n);
done:
    rc = writebehind_finish(&wb, rc);
    prefetch_stop(&pf);
    return rc;
}

static size_t seal_bound(const void *s, size_t n) { return aios_envelope_sealer_bound(s, n); }
static int seal_update(void *s, uint8_t *out, size_t cap, size_t *n, const uint8_t *in, size_t len)
{
    return aios_envelope_sealer_update(s, out, cap, n, in, len);
}
static int seal_final(void *s, uint8_t *out, size_t cap, size_t *n)
{
    return aios_envelope_sealer_final(s, out, cap, n);
}
static size_t open_bound(const void *o, size_t n) { return aios_envelope_opener_bound(o, n); }
static int open_update(void *o, uint8_t *out, size_t cap, size_t *n, const uint8_t *in, size_t len)
{
    return aios_envelope_opener_update(o, out, cap, n, in, len);
}
static int open_final(void *o, uint8_t *out, size_t cap, size_t *n)
{
    return aios_envelope_opener_final(o, out, cap, n);
}

int aios_envelope_seal_fd(int out_fd, int in_fd, aios_key *const *recipients, size_t nrecipients,
                          const aios_envelope_context_entry *context, size_t ncontext,
                          const aios_envelope_seal_options *opts)
{
    aios__env_seal_opts so;
    aios_envelope_sealer *s = NULL;
    fd_stage st;
    int rc;

    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    if ((rc = aios__env_seal_opts_get(&so, opts)) != AIOS_OK)
        return rc;
    if ((rc = aios_envelope_sealer_new(&s, recipients, nrecipients, context, ncontext, opts)) != AIOS_OK)
        return rc;
    st.obj = s;
    st.bound = seal_bound;
    st.update = seal_update;
    st.final = seal_final;
    rc = fd_pump(out_fd, in_fd, block_size(so.chunk_size, so.threads), &st);
    aios_envelope_sealer_free(s);
    return rc;
}

int aios_envelope_open_fd(int out_fd, int in_fd, const aios_envelope_keys *keys,
                          const aios_envelope_open_options *opts)
{
    aios__env_open_opts oo;
    aios_envelope_opener *o = NULL;
    fd_stage st;
    int rc;

    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    if ((rc = aios__env_open_opts_get(&oo, opts)) != AIOS_OK)
        return rc;
    if ((rc = aios_envelope_opener_new(&o, keys, opts)) != AIOS_OK)
        return rc;
    st.obj = o;
    st.bound = open_bound;
    st.update = open_update;
    st.final = open_final;
    /* the chunk size is known only after the header: blocks sized for the default */
    rc = fd_pump(out_fd, in_fd, block_size(AIOS_ENVELOPE_CHUNK_SIZE_DEFAULT, oo.threads), &st);
    aios_envelope_opener_free(o);
    return rc;
}
