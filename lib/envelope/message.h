/*
 * lib/envelope: the header pipeline shared by every public shape
 * (one-shot, streams, reader, rewrap, sessions, fields).  Private.
 *
 *   aios__env_hdr_seal   build a fresh M or S header: data key, message
 *                        id, context, recipient records (kind 1 and 2),
 *                        C and T; keeps the PRK;
 *   aios__env_hdr_open   decode an M or S header, check the expected
 *                        context, select and unwrap a record, check C
 *                        and T; keeps the PRK;
 *   aios__env_hdr_info   the peek/info JSON of a header.
 *
 * An aios__env_hdr owns a copy of its header bytes (the decoded view
 * points into it) and a secure buffer holding the PRK.  It is read-only
 * after seal/open, so threads may share it.
 */
#ifndef AIOS_LIB_ENVELOPE_MESSAGE_H
#define AIOS_LIB_ENVELOPE_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "aios/envelope.h"
#include "crypto/crypto.h"
#include "envelope/format.h"
#include "envelope/recipient.h"

/* The key set (public type aios_envelope_keys). */
#define AIOS__ENV_KEYS_MAX      256
#define AIOS__ENV_PROVIDERS_MAX 16
struct aios_envelope_keys {
    aios_key      *keys[AIOS__ENV_KEYS_MAX];
    size_t         nkeys;
    aios_provider *providers[AIOS__ENV_PROVIDERS_MAX];
    size_t         nproviders;
};

#define AIOS__ENV_THREADS_MAX 64

/* Normalised seal options. */
typedef struct aios__env_seal_opts {
    uint16_t suite;        /* 1 or 2 */
    uint32_t chunk_size;
    uint32_t threads;      /* 1..64 */
} aios__env_seal_opts;
int aios__env_seal_opts_get(aios__env_seal_opts *out, const aios_envelope_seal_options *opts);
/* Copy and check rewrap options (NULL: defaults). */
int aios__env_rewrap_opts_get(aios_envelope_rewrap_options *out,
                              const aios_envelope_rewrap_options *opts);
/* The payload AEAD of suite 1 or 2. */
aios__aead_alg aios__env_suite_alg(uint16_t suite);

/* ---- a small worker pool (pool.c): run fn(arg, i) for i in 0..n-1 on
 * the calling thread and threads-1 workers; the first failure (lowest i
 * among failures is not guaranteed) is returned, the rest of the items
 * still run.  pool NULL runs serially. */
typedef struct aios__env_pool aios__env_pool;
typedef int (*aios__env_task_fn)(void *arg, size_t i);
int  aios__env_pool_new(aios__env_pool **out, uint32_t threads);   /* threads 1: *out NULL */
void aios__env_pool_free(aios__env_pool *pool);
int  aios__env_pool_run(aios__env_pool *pool, size_t n, aios__env_task_fn fn, void *arg);

/* Normalised open options (defaults applied, checked). */
typedef struct aios__env_open_opts {
    const aios_envelope_context_entry *expected;
    size_t                             nexpected;
    aios_envelope_context_mode         mode;
    uint32_t                           max_attempts;   /* 1..64 */
    int                                no_soft_gcm;
    uint32_t                           threads;        /* 1..64 */
} aios__env_open_opts;

/* Copy and check public open options (NULL: defaults).
 * AIOS_E_INVALID_ARGUMENT / AIOS_E_VERSION. */
int aios__env_open_opts_get(aios__env_open_opts *out, const aios_envelope_open_options *opts);

/* The suite a writer uses for a request (AUTO, PORTABLE, 1, 2):
 * AIOS_E_UNSUPPORTED for AES-GCM without AES-NI, AIOS_E_INVALID_ARGUMENT
 * for anything else (3 included). */
int aios__env_suite_pick(uint16_t *suite_out, aios_envelope_suite req);

typedef struct aios__env_hdr {
    aios_buffer      *bytes;        /* the header, exactly (owned) */
    aios__env_header  h;            /* decoded view into bytes */
    aios_buffer      *secret;       /* secure, 64 bytes: PRK || data key */
    uint16_t          suite;
    uint8_t           type;         /* AIOS__ENV_TYPE_M or _S */
    uint8_t           commitment[AIOS__ENV_KEY_LEN];   /* C (also the session id) */
    uint8_t           digest[AIOS__ENV_KEY_LEN];       /* D */
    size_t            opened_by;    /* record index used to open; SIZE_MAX for the writer */
} aios__env_hdr;

/* Build a fresh header of the given type (M: chunk_size 4096..16 MiB, S:
 * 0) and flags, wrapping a new data key for every recipient (KEK handles:
 * kind 1; X25519 handles: kind 2) in order.  Recipient failures pass
 * through and leave nothing behind.  Context rules: FORMAT.md 7.1/7.2
 * (AIOS_E_INVALID_ARGUMENT, AIOS_E_LIMIT). */
int aios__env_hdr_seal(aios__env_hdr *out, uint8_t type, uint16_t suite, uint16_t flags,
                       uint32_t chunk_size,
                       aios_key *const *recipients, size_t nrecipients,
                       const aios_envelope_context_entry *ctx, size_t nctx);

/* Open the header at data[0..len) (len may include a payload after an M;
 * out->bytes holds exactly the header).  accept: AIOS__ENV_ACCEPT_M and/or
 * _S.  Statuses: FORMAT.md 12.1 steps 1-12. */
int aios__env_hdr_open(aios__env_hdr *out, unsigned accept, const aios_envelope_keys *keys,
                       const uint8_t *data, size_t len, const aios__env_open_opts *o);

void aios__env_hdr_clear(aios__env_hdr *h);    /* wipes; cleared headers fine */

/* A content-key object (Kc) for an M header's suite; soft GCM refused when
 * no_soft_gcm (AIOS_E_UNSUPPORTED). */
int aios__env_hdr_content_key(aios__aead_key **out, const aios__env_hdr *h, int no_soft_gcm);

/* The peek/info JSON (see aios_envelope_peek) of a decoded header;
 * authenticated adds "authenticated":true and, when opened_by is not
 * SIZE_MAX, "opened_by". */
int aios__env_hdr_info(aios_buffer **out, const aios__env_header *h, int authenticated,
                       size_t opened_by);

/* Wrap dk for every recipient in order (KEK handles: kind 1; X25519:
 * kind 2); *recs_out points into *state_out, which owns everything
 * (release with aios__env_recipients_free).  Failures name the recipient. */
int aios__env_recipients_wrap(aios__env_recipient **recs_out, void **state_out,
                              const aios__env_binding *b, aios_key *const *rcpt, size_t n,
                              const uint8_t dk[AIOS__ENV_DK_LEN]);
void aios__env_recipients_free(void *state);

/* Seal or open a run of consecutive chunks of one message, on a pool. */
typedef struct aios__env_chunk_job {
    const aios__aead_key *kc;
    const uint8_t        *d;
    uint32_t              cs;
    uint64_t              first;     /* index of item 0 */
    uint64_t              last;      /* index of the message's final chunk */
    const uint8_t        *in0;       /* NULL, or item 0's input (then item i >= 1's
                                        is at in + (i - 1) * in_stride) */
    const uint8_t        *in;        /* item i's input at in + i * in_stride */
    uint8_t              *out;       /* item i's output at out + i * out_stride */
    size_t                in_stride, out_stride;
    size_t                nitems;
    size_t                last_len;  /* input length of the last item */
    int                   seal;
    _Atomic uint64_t      failed;    /* lowest failed index + 1, 0 if none */
} aios__env_chunk_job;
/* Run it; the first failure is recorded on the calling thread, naming
 * the chunk. */
int aios__env_chunks_run(aios__env_pool *pool, aios__env_chunk_job *j);

/* The last piece of a payload (chunk idx, len bytes) failed as the final
 * chunk: AIOS_E_ENVELOPE_TRUNCATED if it opens as a non-final chunk (the
 * stream was cut at a chunk boundary), else AIOS_E_AUTH (FORMAT.md 8.4
 * step 3).  Recorded with a message. */
int aios__env_final_failed(const aios__aead_key *kc, const uint8_t *d, uint32_t cs, uint64_t idx,
                           const uint8_t *piece, size_t len);

/* Tell trailing data from damage (FORMAT.md 8.4 step 4) in a whole
 * payload: rc is the failure so far (AIOS_E_ENVELOPE_TRUNCATED from the
 * layout, or AIOS_E_AUTH from chunk `failed`); if the piece concerned is a
 * full chunk that opens as the final chunk, the payload is a complete
 * message followed by more bytes: AIOS_E_ENVELOPE_TRAILING_DATA.  Else rc
 * unchanged. */
int aios__env_check_trailing(int rc, const aios__aead_key *kc, const uint8_t *d, uint32_t cs,
                             const uint8_t *payload, uint64_t payload_len, uint64_t failed);

/* Descriptor I/O (stream.c): read until len bytes or the end of input;
 * write everything.  AIOS_E_IO naming the descriptor and errno. */
int aios__env_read_full(int fd, uint8_t *buf, size_t len, size_t *got);
int aios__env_write_all(int fd, const uint8_t *buf, size_t len);

#endif /* AIOS_LIB_ENVELOPE_MESSAGE_H */
