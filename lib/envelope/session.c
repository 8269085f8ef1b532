/*
 * Sessions (docs/FORMAT.md 9.2): one data key wrapped once in an S header,
 * many records R (3.5) sealed and opened at nearly the cost of the bare
 * AEAD, and the deterministic records D (3.6, 11.4) of field encryption.
 *
 * Per record: r from the CSPRNG, Kr = HKDF-Expand(PRK, label || s || r, 32)
 * as one HMAC from the PRK's precomputed state (two SHA-256 compressions),
 * the AEAD with Kr on the stack (wiped), the all-zero nonce.  No
 * allocation unless the caller's ad is over RAAD_STACK bytes; the record
 * id costs libsodium's randombytes_buf (getrandom).
 */
#include <inttypes.h>
#include <string.h>

#include "session.h"
#include "../core/internal.h"

/* RAAD = prefix || C || r || D || u32be(len(ad)) || ad is built on the
 * stack when it fits (field associated data always does). */
#define RAAD_FIXED (AIOS__ENV_R_HEAD_LEN + AIOS__ENV_KEY_LEN + 4)
#define RAAD_STACK 4096

#define LABEL_RECORD     "aios envelope v1 record key"
#define LABEL_RECORD_LEN (sizeof(LABEL_RECORD) - 1)

static const uint8_t zero_nonce[AIOS__AEAD_NONCE_MAX];

static const size_t session_opt_sizes[] = { sizeof(aios_envelope_session_options) };

/* ------------------------------------------------------------ options */

int aios_envelope_session_options_init(aios_envelope_session_options *opts, unsigned int version)
{
    AIOS__CHECK_ARG(opts != NULL, "opts is NULL");
    if (version != AIOS_ENVELOPE_SESSION_OPTIONS_VERSION)
        return aios__fail(AIOS_E_VERSION, "aios_envelope_session_options version %u is not "
                          "supported (this library knows %d)", version,
                          AIOS_ENVELOPE_SESSION_OPTIONS_VERSION);
    memset(opts, 0, sizeof(*opts));
    opts->version = version;
    opts->suite = AIOS_ENVELOPE_SUITE_AUTO;
    return AIOS_OK;
}

/* ------------------------------------------------------------ lifetime */

int aios__env_session_adopt(aios_envelope_session **out, aios__env_hdr *hdr, int writer,
                            uint64_t max_records, int soft_ok)
{
    aios_envelope_session *s;
    int rc;

    *out = NULL;
    s = aios__calloc(1, sizeof(*s));
    if (s == NULL) {
        aios__env_hdr_clear(hdr);
        return aios__nomem("a session");
    }
    s->hdr = *hdr;
    memset(hdr, 0, sizeof(*hdr));
    atomic_init(&s->refs, 1);
    atomic_init(&s->sealed, 0);
    s->alg = aios__env_suite_alg(s->hdr.suite);
    s->writer = writer != 0;
    s->max_records = writer ? max_records : 0;
    s->deterministic = (s->hdr.h.prefix.flags & AIOS__ENV_FLAG_DETERMINISTIC) != 0;
    s->soft_ok = soft_ok != 0;
    if (s->hdr.type != AIOS__ENV_TYPE_S || s->hdr.secret == NULL) {
        rc = aios__fail(AIOS_E_INTERNAL, "a session needs an opened S header");
        goto fail;
    }

    s->keys = aios__secure_malloc(sizeof(*s->keys));
    if (s->keys == NULL) {
        rc = aios__fail(AIOS_E_NOMEM, "cannot allocate secure memory for a session's keys");
        goto fail;
    }
    memset(s->keys, 0, sizeof(*s->keys));
    aios__hmac_sha256_key_init(&s->keys->prk, aios_buffer_data(s->hdr.secret), AIOS__ENV_KEY_LEN);
    if (s->deterministic &&
        (rc = aios__env_expand(s->keys->ks, sizeof(s->keys->ks), aios_buffer_data(s->hdr.secret),
                               AIOS__ENV_LABEL_SIV, s->hdr.suite, NULL)) != AIOS_OK)
        goto fail;
    (void)aios__secure_protect(s->keys, AIOS_PROTECT_READONLY);
    /* Only the PRK's HMAC state and Ks are used from here on: the data
     * key (and the PRK itself) kept beside the header are wiped. */
    aios__wipe(aios_buffer_data_mut(s->hdr.secret), aios_buffer_len(s->hdr.secret));
    *out = s;
    return AIOS_OK;
fail:
    aios__secure_free(s->keys);
    aios__env_hdr_clear(&s->hdr);
    aios__free(s);
    return rc;
}

static void session_free(aios_envelope_session *s)
{
    aios__secure_free(s->keys);   /* makes it writable, wipes, unmaps */
    aios__env_hdr_clear(&s->hdr);
    aios__free_secret(s, sizeof(*s));
}

aios_envelope_session *aios_envelope_session_ref(aios_envelope_session *s)
{
    if (s)
        atomic_fetch_add(&s->refs, 1);
    return s;
}

void aios_envelope_session_unref(aios_envelope_session *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        session_free(s);
}

int aios_envelope_session_new(aios_envelope_session **out,
                              aios_key *const *recipients, size_t recipient_count,
                              const aios_envelope_context_entry *context, size_t context_count,
                              const aios_envelope_session_options *opts)
{
    aios_envelope_session_options o;
    aios__env_hdr hdr;
    uint16_t suite;
    uint64_t max;
    int rc;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    if ((rc = aios__options_copy(&o, sizeof(o), opts, session_opt_sizes, 1,
                                 "aios_envelope_session_options")) != AIOS_OK)
        return rc;
    if (o.flags & ~(uint32_t)AIOS_ENVELOPE_SESSION_DETERMINISTIC)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "aios_envelope_session_new: unknown flags 0x%x",
                          (unsigned)(o.flags & ~(uint32_t)AIOS_ENVELOPE_SESSION_DETERMINISTIC));
    if (o.max_records > AIOS__ENV_RECORDS_MAX)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "aios_envelope_session_new: max_records %"
                          PRIu64 " is over 2^32", o.max_records);
    max = o.max_records ? o.max_records : AIOS__ENV_RECORDS_MAX;
    if (context_count > 0 && context == NULL)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "aios_envelope_session_new: context is NULL "
                          "with %zu entries", context_count);
    if ((rc = aios__env_suite_pick(&suite, o.suite)) != AIOS_OK)
        return rc;
    rc = aios__env_hdr_seal(&hdr, AIOS__ENV_TYPE_S, suite,
                            (o.flags & AIOS_ENVELOPE_SESSION_DETERMINISTIC)
                                ? AIOS__ENV_FLAG_DETERMINISTIC : 0,
                            0, recipients, recipient_count, context, context_count);
    if (rc != AIOS_OK)
        return rc;
    return aios__env_session_adopt(out, &hdr, 1, max, 1);
}

int aios_envelope_session_open(aios_envelope_session **out, const aios_envelope_keys *keys,
                               const uint8_t *header, size_t header_len,
                               const aios_envelope_open_options *opts)
{
    aios__env_open_opts o;
    aios__env_prefix p;
    aios__env_hdr hdr;
    int rc;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    AIOS__CHECK_ARG(keys != NULL, "keys is NULL");
    AIOS__CHECK_ARG(header != NULL || header_len == 0, "header is NULL");
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    if ((rc = aios__env_open_opts_get(&o, opts)) != AIOS_OK)
        return rc;
    /* Step 10 of 12.1 (before any key is used): suite 1 on a CPU without
     * AES-NI when the software path is refused.  The prefix is decoded
     * again, in full, by the header decoder. */
    if (aios__env_prefix_decode(&p, header, header_len, AIOS__ENV_ACCEPT_S) == AIOS_OK &&
        p.suite == AIOS__ENV_SUITE_AES256GCM && o.no_soft_gcm &&
        !aios__aead_available(AIOS__AEAD_AES256GCM))
        return aios__fail(AIOS_E_UNSUPPORTED, "this session is AES-256-GCM and this CPU has no "
                          "AES-NI; the software fallback was refused (no_soft_gcm)");
    if ((rc = aios__env_hdr_open(&hdr, AIOS__ENV_ACCEPT_S, keys, header, header_len, &o)) != AIOS_OK)
        return rc;
    if (aios_buffer_len(hdr.bytes) != header_len) {
        aios__env_hdr_clear(&hdr);
        return aios__fail(AIOS_E_ENVELOPE_TRAILING_DATA, "session header: %zu bytes follow the "
                          "header tag", header_len - aios_buffer_len(hdr.bytes));
    }
    return aios__env_session_adopt(out, &hdr, 0, 0, !o.no_soft_gcm);
}

const uint8_t *aios_envelope_session_header(const aios_envelope_session *s, size_t *len_out)
{
    if (s == NULL) {
        if (len_out)
            *len_out = 0;
        return NULL;
    }
    if (len_out)
        *len_out = aios_buffer_len(s->hdr.bytes);
    return aios_buffer_data(s->hdr.bytes);
}

const uint8_t *aios_envelope_session_id(const aios_envelope_session *s)
{
    return s ? s->hdr.commitment : NULL;
}

int aios_envelope_session_info(const aios_envelope_session *s, aios_buffer **json_out)
{
    AIOS__CHECK_ARG(json_out != NULL, "json_out is NULL");
    *json_out = NULL;
    AIOS__CHECK_ARG(s != NULL, "session is NULL");
    return aios__env_hdr_info(json_out, &s->hdr.h, 1, s->hdr.opened_by);
}

/* ------------------------------------------------------------ R records */

static void put_prefix(uint8_t out[AIOS__ENV_PREFIX_LEN], uint8_t type, uint16_t suite)
{
    aios__env_prefix p;
    p.type = type;
    p.suite = suite;
    p.flags = 0;
    aios__env_prefix_encode(out, &p);
}

/* Kr = HKDF-Expand(PRK, label || u16be(suite) || r, 32) = HMAC(PRK, info || 0x01). */
static void record_key(uint8_t kr[AIOS__ENV_KEY_LEN], const aios_envelope_session *s,
                       const uint8_t r[AIOS__ENV_RECORD_ID_LEN])
{
    uint8_t info[LABEL_RECORD_LEN + 2 + AIOS__ENV_RECORD_ID_LEN + 1];
    memcpy(info, LABEL_RECORD, LABEL_RECORD_LEN);
    info[LABEL_RECORD_LEN] = (uint8_t)(s->hdr.suite >> 8);
    info[LABEL_RECORD_LEN + 1] = (uint8_t)s->hdr.suite;
    memcpy(info + LABEL_RECORD_LEN + 2, r, AIOS__ENV_RECORD_ID_LEN);
    info[sizeof(info) - 1] = 0x01;
    aios__hmac_sha256_key_mac(&s->keys->prk, kr, info, sizeof(info));
}

/* RAAD for the record head (prefix || C || r) into buf (buf_cap bytes)
 * or, when it does not fit, a new allocation (*heap). */
static int record_aad(uint8_t **raad, size_t *raad_len, uint8_t **heap, uint8_t *buf,
                      size_t buf_cap, const aios_envelope_session *s, const uint8_t *head,
                      const uint8_t *ad, size_t adlen)
{
    size_t n = RAAD_FIXED + adlen;
    uint8_t *p = buf;

    *heap = NULL;
    if (n > buf_cap) {
        p = aios__malloc(n);
        if (p == NULL)
            return aios__nomem("a record's associated data");
        *heap = p;
    }
    memcpy(p, head, AIOS__ENV_R_HEAD_LEN);
    memcpy(p + AIOS__ENV_R_HEAD_LEN, s->hdr.digest, AIOS__ENV_KEY_LEN);
    p[RAAD_FIXED - 4] = (uint8_t)(adlen >> 24);
    p[RAAD_FIXED - 3] = (uint8_t)(adlen >> 16);
    p[RAAD_FIXED - 2] = (uint8_t)(adlen >> 8);
    p[RAAD_FIXED - 1] = (uint8_t)adlen;
    if (adlen)
        memcpy(p + RAAD_FIXED, ad, adlen);
    *raad = p;
    *raad_len = n;
    return AIOS_OK;
}

/* Seal one R record into out, whose record id r (out + 42, 16 bytes) the
 * caller has drawn; the record was counted already.  RAAD is built in buf
 * (buf_cap bytes) when it fits. */
static int seal_r_drawn(const aios_envelope_session *s, uint8_t *out, const uint8_t *pt,
                        size_t len, const uint8_t *ad, size_t adlen, uint8_t *buf, size_t buf_cap)
{
    uint8_t kr[AIOS__ENV_KEY_LEN];
    uint8_t *raad = NULL, *heap = NULL;
    size_t raad_len = 0;
    int rc;

    put_prefix(out, AIOS__ENV_TYPE_R, s->hdr.suite);
    memcpy(out + AIOS__ENV_PREFIX_LEN, s->hdr.commitment, AIOS__ENV_KEY_LEN);
    if ((rc = record_aad(&raad, &raad_len, &heap, buf, buf_cap, s, out, ad, adlen)) != AIOS_OK)
        return rc;
    record_key(kr, s, out + AIOS__ENV_PREFIX_LEN + AIOS__ENV_KEY_LEN);
    rc = aios__aead_seal_once(s->alg, kr, out + AIOS__ENV_R_HEAD_LEN,
                              out + AIOS__ENV_R_HEAD_LEN + len, pt, len, raad, raad_len,
                              zero_nonce);
    aios__wipe(kr, sizeof(kr));
    aios__free(heap);
    return rc;
}

static int seal_r_reader(void)
{
    return aios__fail(AIOS_E_STATE, "this session was opened from a header: readers do not "
                      "seal records");
}

int aios__env_session_seal_r(aios_envelope_session *s, uint8_t *out,
                             const uint8_t *pt, size_t len, const uint8_t *ad, size_t adlen)
{
    uint8_t buf[RAAD_STACK];
    uint64_t n;

    if (!s->writer)
        return seal_r_reader();
    n = atomic_fetch_add_explicit(&s->sealed, 1, memory_order_relaxed);
    if (n >= s->max_records)
        return aios__fail(AIOS_E_LIMIT, "this session has sealed its %" PRIu64 " records: start "
                          "a new session", s->max_records);
    aios__random_bytes(out + AIOS__ENV_PREFIX_LEN + AIOS__ENV_KEY_LEN, AIOS__ENV_RECORD_ID_LEN);
    return seal_r_drawn(s, out, pt, len, ad, adlen, buf, sizeof(buf));
}

int aios__env_record_check(aios__env_prefix *p, const uint8_t *rec, size_t len, unsigned accept)
{
    int rc = aios__env_prefix_decode(p, rec, len, accept);
    if (rc != AIOS_OK)
        return rc;
    if (p->type == AIOS__ENV_TYPE_R) {
        if (len < AIOS__ENV_R_OVERHEAD)
            return aios__fail(AIOS_E_FORMAT, "session record: %zu bytes is shorter than the %d "
                              "bytes of an empty record", len, AIOS__ENV_R_OVERHEAD);
        if (len - AIOS__ENV_R_OVERHEAD > AIOS__ENV_R_PT_MAX)
            return aios__fail(AIOS_E_LIMIT, "session record: %zu bytes of ciphertext is over "
                              "the limit of 16 MiB", len - AIOS__ENV_R_OVERHEAD);
    } else if (len < AIOS__ENV_D_OVERHEAD) {
        return aios__fail(AIOS_E_FORMAT, "deterministic record: %zu bytes is shorter than the "
                          "%d bytes of an empty record", len, AIOS__ENV_D_OVERHEAD);
    }
    return AIOS_OK;
}

int aios__env_session_match(const aios_envelope_session *s, const aios__env_prefix *p,
                            const uint8_t *rec)
{
    if (memcmp(rec + AIOS__ENV_PREFIX_LEN, s->hdr.commitment, AIOS__ENV_KEY_LEN) != 0)
        return aios__fail(AIOS_E_ENVELOPE_UNKNOWN_SESSION, "the record names another session");
    if (p->type == AIOS__ENV_TYPE_R && p->suite != s->hdr.suite)
        return aios__fail(AIOS_E_FORMAT, "session record: suite 0x%04x differs from the "
                          "session's 0x%04x", p->suite, s->hdr.suite);
    if (p->type == AIOS__ENV_TYPE_D && !s->deterministic)
        return aios__fail(AIOS_E_ENVELOPE_MODE, "a deterministic record under a session made "
                          "without the DETERMINISTIC flag");
    return AIOS_OK;
}

int aios__env_session_open_r(const aios_envelope_session *s, uint8_t *out,
                             const uint8_t *rec, size_t len, const uint8_t *ad, size_t adlen)
{
    uint8_t buf[RAAD_STACK], kr[AIOS__ENV_KEY_LEN];
    uint8_t *raad = NULL, *heap = NULL;
    size_t raad_len = 0, n = len - AIOS__ENV_R_OVERHEAD;
    int rc;

    if ((rc = record_aad(&raad, &raad_len, &heap, buf, sizeof(buf), s, rec, ad, adlen)) != AIOS_OK)
        return rc;
    record_key(kr, s, rec + AIOS__ENV_PREFIX_LEN + AIOS__ENV_KEY_LEN);
    rc = aios__aead_open_once(s->alg, kr, out, rec + AIOS__ENV_R_HEAD_LEN, n,
                              rec + AIOS__ENV_R_HEAD_LEN + n, raad, raad_len, zero_nonce,
                              s->soft_ok);
    aios__wipe(kr, sizeof(kr));
    aios__free(heap);
    if (rc == AIOS_E_AUTH)
        return aios__fail(AIOS_E_AUTH, "session record: authentication failed (the record or "
                          "its associated data was changed)");
    return rc;
}

int aios_envelope_session_seal(aios_envelope_session *s,
                               uint8_t *out, size_t out_cap, size_t *out_len,
                               const uint8_t *plaintext, size_t plaintext_len,
                               const uint8_t *ad, size_t ad_len)
{
    size_t scratch_len;
    int rc;

    if (out_len == NULL)   /* optional: a record is always exactly this long */
        out_len = &scratch_len;
    *out_len = 0;
    AIOS__CHECK_ARG(s != NULL, "session is NULL");
    AIOS__CHECK_ARG(plaintext != NULL || plaintext_len == 0, "plaintext is NULL");
    AIOS__CHECK_ARG(ad != NULL || ad_len == 0, "ad is NULL");
    if (plaintext_len > AIOS__ENV_R_PT_MAX)
        return aios__fail(AIOS_E_LIMIT, "a session record holds at most 16 MiB, not %zu bytes",
                          plaintext_len);
    if (ad_len > AIOS__ENV_R_AD_MAX)
        return aios__fail(AIOS_E_LIMIT, "record associated data is at most 65536 bytes, not %zu",
                          ad_len);
    if (out == NULL || out_cap < plaintext_len + AIOS__ENV_R_OVERHEAD) {
        *out_len = plaintext_len + AIOS__ENV_R_OVERHEAD;
        return aios__fail(AIOS_E_BUFFER_TOO_SMALL, "the record needs %zu bytes, the buffer has "
                          "%zu", plaintext_len + AIOS__ENV_R_OVERHEAD, out ? out_cap : 0);
    }
    rc = aios__env_session_seal_r(s, out, plaintext, plaintext_len, ad, ad_len);
    if (rc == AIOS_OK)
        *out_len = plaintext_len + AIOS__ENV_R_OVERHEAD;
    return rc;
}

int aios_envelope_session_open_record(const aios_envelope_session *s,
                                      uint8_t *out, size_t out_cap, size_t *out_len,
                                      const uint8_t *record, size_t record_len,
                                      const uint8_t *ad, size_t ad_len)
{
    aios__env_prefix p;
    size_t n, scratch_len;
    int rc;

    if (out_len == NULL)   /* optional: the plaintext is always exactly this long */
        out_len = &scratch_len;
    *out_len = 0;
    AIOS__CHECK_ARG(s != NULL, "session is NULL");
    AIOS__CHECK_ARG(record != NULL || record_len == 0, "record is NULL");
    AIOS__CHECK_ARG(ad != NULL || ad_len == 0, "ad is NULL");
    if (ad_len > AIOS__ENV_R_AD_MAX)
        return aios__fail(AIOS_E_LIMIT, "record associated data is at most 65536 bytes, not %zu",
                          ad_len);
    if ((rc = aios__env_record_check(&p, record, record_len, AIOS__ENV_ACCEPT_R)) != AIOS_OK)
        return rc;
    if ((rc = aios__env_session_match(s, &p, record)) != AIOS_OK)
        return rc;
    n = record_len - AIOS__ENV_R_OVERHEAD;
    if ((out == NULL && n > 0) || out_cap < n) {
        *out_len = n;
        return aios__fail(AIOS_E_BUFFER_TOO_SMALL, "the record's plaintext needs %zu bytes, the "
                          "buffer has %zu", n, out ? out_cap : 0);
    }
    rc = aios__env_session_open_r(s, out, record, record_len, ad, ad_len);
    if (rc == AIOS_OK)
        *out_len = n;
    return rc;
}

int aios_envelope_session_seal_exact(aios_envelope_session *s, uint8_t *out,
                                     const uint8_t *plaintext, uint32_t plaintext_len,
                                     const uint8_t *ad, uint32_t ad_len)
{
    return aios_envelope_session_seal(s, out, (size_t)plaintext_len + AIOS__ENV_R_OVERHEAD, NULL,
                                      plaintext, plaintext_len, ad, ad_len);
}

int aios_envelope_session_open_exact(const aios_envelope_session *s, uint8_t *out,
                                     const uint8_t *record, uint32_t record_len,
                                     const uint8_t *ad, uint32_t ad_len)
{
    size_t cap = record_len > AIOS__ENV_R_OVERHEAD ? record_len - AIOS__ENV_R_OVERHEAD : 0;
    return aios_envelope_session_open_record(s, out, cap, NULL, record, record_len, ad, ad_len);
}

/* ------------------------------------------------------------ batches
 *
 * n records in one call, for bindings where a call costs more than a
 * record (ctypes, cgo).  Each record is sealed and opened by the
 * single-record code above; a batch adds only the bookkeeping: lengths
 * checked and summed (overflow-checked) before anything is written, the
 * records reserved against max_records at once, the record ids drawn
 * BATCH_IDS at a time, one RAAD buffer for the whole batch.
 */

#define BATCH_IDS 64   /* record ids per CSPRNG call */

/* Reserve n of a writer's max_records at once, or none (AIOS_E_LIMIT). */
static int reserve_records(aios_envelope_session *s, size_t n)
{
    uint_fast64_t cur = atomic_load_explicit(&s->sealed, memory_order_relaxed);

    do {
        if (cur >= s->max_records || s->max_records - cur < (uint64_t)n)
            return aios__fail(AIOS_E_LIMIT, "this session may seal %" PRIu64 " more records, "
                              "not %zu: start a new session",
                              cur >= s->max_records ? (uint64_t)0 : (uint64_t)(s->max_records - cur),
                              n);
    } while (!atomic_compare_exchange_weak_explicit(&s->sealed, &cur, cur + n,
                                                    memory_order_relaxed, memory_order_relaxed));
    return AIOS_OK;
}

int aios_envelope_session_seal_batch(aios_envelope_session *s,
                                     uint8_t *out, size_t out_cap, size_t *out_len,
                                     const uint8_t *plaintexts, const size_t *plaintext_lens,
                                     size_t n, const uint8_t *ads, const size_t *ad_lens)
{
    uint8_t stack[RAAD_STACK], ids[BATCH_IDS * AIOS__ENV_RECORD_ID_LEN];
    uint8_t *buf = stack, *heap = NULL;
    size_t buf_cap = sizeof(stack), need, pt_total = 0, ad_total = 0, ad_max = 0;
    size_t i, pos = 0, pt_off = 0, ad_off = 0;
    int rc = AIOS_OK;

    AIOS__CHECK_ARG(out_len != NULL, "out_len is NULL");
    *out_len = 0;
    AIOS__CHECK_ARG(s != NULL, "session is NULL");
    AIOS__CHECK_ARG(plaintext_lens != NULL || n == 0, "plaintext_lens is NULL");
    if (n > SIZE_MAX / AIOS__ENV_R_OVERHEAD)
        return aios__fail(AIOS_E_LIMIT, "a batch of %zu records overflows the size of memory", n);
    for (i = 0; i < n; i++) {
        size_t len = plaintext_lens[i], adlen = ad_lens ? ad_lens[i] : 0;
        if (len > AIOS__ENV_R_PT_MAX)
            return aios__fail(AIOS_E_LIMIT, "record %zu: a session record holds at most 16 MiB, "
                              "not %zu bytes", i, len);
        if (adlen > AIOS__ENV_R_AD_MAX)
            return aios__fail(AIOS_E_LIMIT, "record %zu: record associated data is at most 65536 "
                              "bytes, not %zu", i, adlen);
        if (pt_total > SIZE_MAX - len || ad_total > SIZE_MAX - adlen)
            return aios__fail(AIOS_E_LIMIT, "record %zu: the batch's lengths overflow a size_t", i);
        pt_total += len;
        ad_total += adlen;
        if (adlen > ad_max)
            ad_max = adlen;
    }
    AIOS__CHECK_ARG(plaintexts != NULL || pt_total == 0, "plaintexts is NULL");
    AIOS__CHECK_ARG(ads != NULL || ad_total == 0, "ads is NULL");
    if (pt_total > SIZE_MAX - n * AIOS__ENV_R_OVERHEAD)
        return aios__fail(AIOS_E_LIMIT, "the batch's %zu records overflow a size_t", n);
    need = pt_total + n * AIOS__ENV_R_OVERHEAD;
    if (!s->writer)
        return seal_r_reader();
    if (need > 0 && (out == NULL || out_cap < need)) {
        *out_len = need;
        return aios__fail(AIOS_E_BUFFER_TOO_SMALL, "the batch of %zu records needs %zu bytes, "
                          "the buffer has %zu", n, need, out ? out_cap : 0);
    }
    if (n == 0)
        return AIOS_OK;
    if (RAAD_FIXED + ad_max > RAAD_STACK) {
        heap = aios__malloc(RAAD_FIXED + ad_max);
        if (heap == NULL)
            return aios__nomem("a batch's associated data");
        buf = heap;
        buf_cap = RAAD_FIXED + ad_max;
    }
    if ((rc = reserve_records(s, n)) != AIOS_OK)
        goto done;
    for (i = 0; i < n; i++) {
        size_t len = plaintext_lens[i], adlen = ad_lens ? ad_lens[i] : 0;
        size_t k = i % BATCH_IDS;
        if (k == 0)
            aios__random_bytes(ids, (n - i < BATCH_IDS ? n - i : BATCH_IDS) *
                                    AIOS__ENV_RECORD_ID_LEN);
        memcpy(out + pos + AIOS__ENV_PREFIX_LEN + AIOS__ENV_KEY_LEN,
               ids + k * AIOS__ENV_RECORD_ID_LEN, AIOS__ENV_RECORD_ID_LEN);
        rc = seal_r_drawn(s, out + pos, len ? plaintexts + pt_off : NULL, len,
                          adlen ? ads + ad_off : NULL, adlen, buf, buf_cap);
        if (rc != AIOS_OK) {
            (void)aios__error_prefix("record %zu", i);
            aios__wipe(out, need);
            goto done;
        }
        pos += len + AIOS__ENV_R_OVERHEAD;
        pt_off += len;
        ad_off += adlen;
    }
    *out_len = need;
done:
    aios__free(heap);
    return rc;
}

int aios_envelope_session_open_batch(const aios_envelope_session *s,
                                     uint8_t *out, size_t out_cap, size_t *out_len,
                                     const uint8_t *records, const size_t *record_lens, size_t n,
                                     const uint8_t *ads, const size_t *ad_lens,
                                     size_t *failed_index_out)
{
    aios__env_prefix p;
    size_t need = 0, in_total = 0, ad_total = 0, i = 0, pos, in_off, ad_off;
    int rc;

    if (failed_index_out)
        *failed_index_out = SIZE_MAX;
    AIOS__CHECK_ARG(out_len != NULL, "out_len is NULL");
    *out_len = 0;
    AIOS__CHECK_ARG(s != NULL, "session is NULL");
    AIOS__CHECK_ARG(record_lens != NULL || n == 0, "record_lens is NULL");
    for (i = 0; i < n; i++) {
        size_t adlen = ad_lens ? ad_lens[i] : 0;
        if (adlen > AIOS__ENV_R_AD_MAX) {
            rc = aios__fail(AIOS_E_LIMIT, "record associated data is at most 65536 bytes, not %zu",
                            adlen);
            goto fail;
        }
        if (in_total > SIZE_MAX - record_lens[i] || ad_total > SIZE_MAX - adlen) {
            rc = aios__fail(AIOS_E_LIMIT, "the batch's lengths overflow a size_t");
            goto fail;
        }
        in_total += record_lens[i];
        ad_total += adlen;
    }
    AIOS__CHECK_ARG(records != NULL || in_total == 0, "records is NULL");
    AIOS__CHECK_ARG(ads != NULL || ad_total == 0, "ads is NULL");
    /* Every record's structure and session before anything is written. */
    for (i = 0, in_off = 0; i < n; in_off += record_lens[i], i++) {
        const uint8_t *rec = records ? records + in_off : NULL;
        if ((rc = aios__env_record_check(&p, rec, record_lens[i], AIOS__ENV_ACCEPT_R)) != AIOS_OK ||
            (rc = aios__env_session_match(s, &p, rec)) != AIOS_OK)
            goto fail;
        need += record_lens[i] - AIOS__ENV_R_OVERHEAD;
    }
    if ((out == NULL && need > 0) || out_cap < need) {
        *out_len = need;
        return aios__fail(AIOS_E_BUFFER_TOO_SMALL, "the batch's plaintext needs %zu bytes, the "
                          "buffer has %zu", need, out ? out_cap : 0);
    }
    for (i = 0, pos = 0, in_off = 0, ad_off = 0; i < n; i++) {
        size_t len = record_lens[i], adlen = ad_lens ? ad_lens[i] : 0;
        rc = aios__env_session_open_r(s, out ? out + pos : NULL, records + in_off, len,
                                      adlen ? ads + ad_off : NULL, adlen);
        if (rc != AIOS_OK) {
            if (need > 0)
                aios__wipe(out, need);
            goto fail;
        }
        pos += len - AIOS__ENV_R_OVERHEAD;
        in_off += len;
        ad_off += adlen;
    }
    *out_len = need;
    return AIOS_OK;
fail:
    if (failed_index_out)
        *failed_index_out = i;
    return aios__error_prefix("record %zu of the batch", i);
}

int aios_envelope_record_session_id(uint8_t id_out[AIOS_ENVELOPE_SESSION_ID_LEN],
                                    const uint8_t *record, size_t record_len)
{
    aios__env_prefix p;
    int rc;

    AIOS__CHECK_ARG(id_out != NULL, "id_out is NULL");
    memset(id_out, 0, AIOS_ENVELOPE_SESSION_ID_LEN);
    AIOS__CHECK_ARG(record != NULL || record_len == 0, "record is NULL");
    rc = aios__env_record_check(&p, record, record_len, AIOS__ENV_ACCEPT_R | AIOS__ENV_ACCEPT_D);
    if (rc != AIOS_OK)
        return rc;
    memcpy(id_out, record + AIOS__ENV_PREFIX_LEN, AIOS_ENVELOPE_SESSION_ID_LEN);
    return AIOS_OK;
}

/* ------------------------------------------------------------ D records */

int aios__env_session_seal_d(const aios_envelope_session *s, uint8_t *out,
                             const uint8_t *pt, size_t len, const uint8_t *fad, size_t fadlen)
{
    aios__siv_ad ad[3];
    size_t olen = 0;

    if (!s->deterministic)
        return aios__fail(AIOS_E_ENVELOPE_MODE, "deterministic fields need a session made with "
                          "AIOS_ENVELOPE_SESSION_DETERMINISTIC");
    put_prefix(out, AIOS__ENV_TYPE_D, AIOS__ENV_SUITE_AES256SIV);
    memcpy(out + AIOS__ENV_PREFIX_LEN, s->hdr.commitment, AIOS__ENV_KEY_LEN);
    ad[0].p = out;
    ad[0].len = AIOS__ENV_D_HEAD_LEN;
    ad[1].p = s->hdr.digest;
    ad[1].len = AIOS__ENV_KEY_LEN;
    ad[2].p = fad;
    ad[2].len = fadlen;
    return aios__aes_siv_seal(out + AIOS__ENV_D_HEAD_LEN, len + AIOS__SIV_TAG_LEN, &olen,
                              s->keys->ks, sizeof(s->keys->ks), ad, 3, pt, len);
}

int aios__env_session_open_d(const aios_envelope_session *s, uint8_t *out,
                             const uint8_t *rec, size_t len, const uint8_t *fad, size_t fadlen)
{
    aios__siv_ad ad[3];
    size_t olen = 0;
    int rc;

    ad[0].p = rec;
    ad[0].len = AIOS__ENV_D_HEAD_LEN;
    ad[1].p = s->hdr.digest;
    ad[1].len = AIOS__ENV_KEY_LEN;
    ad[2].p = fad;
    ad[2].len = fadlen;
    rc = aios__aes_siv_open(out, len - AIOS__ENV_D_OVERHEAD, &olen, s->keys->ks,
                            sizeof(s->keys->ks), ad, 3, rec + AIOS__ENV_D_HEAD_LEN,
                            len - AIOS__ENV_D_HEAD_LEN);
    if (rc == AIOS_E_AUTH)
        return aios__fail(AIOS_E_AUTH, "deterministic record: authentication failed (the record, "
                          "its pointer or record id was changed)");
    return rc;
}
