/*
 * lib/envelope: the header pipeline (message.h) and the one-shot API:
 * aios_envelope_seal, aios_envelope_open, aios_envelope_peek,
 * aios_envelope_header_len.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "envelope/chunk.h"
#include "envelope/message.h"
#include "envelope/recipient.h"

#define PRK(h) (aios_buffer_data_mut((h)->secret))
#define DK(h)  (aios_buffer_data_mut((h)->secret) + AIOS__ENV_KEY_LEN)

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* ------------------------------------------------------------ context */

/* The caller's entries as format entries (sorted and checked; writer rules). */
static int ctx_from_public(aios__env_ctx_entry **out, const aios_envelope_context_entry *ctx,
                           size_t n, int canonicalize)
{
    aios__env_ctx_entry *e;
    size_t i;
    int rc;

    *out = NULL;
    if (n == 0)
        return AIOS_OK;
    if (ctx == NULL)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "context is NULL but its count is %zu", n);
    if (n > AIOS__ENV_CTX_ENTRIES_MAX)
        return aios__fail(AIOS_E_LIMIT, "a context of %zu entries is over %d", n,
                          AIOS__ENV_CTX_ENTRIES_MAX);
    e = aios__calloc(n, sizeof(*e));
    if (e == NULL)
        return aios__fail(AIOS_E_NOMEM, "envelope context: out of memory");
    for (i = 0; i < n; i++) {
        if (ctx[i].key == NULL || ctx[i].value == NULL) {
            aios__free(e);
            return aios__fail(AIOS_E_INVALID_ARGUMENT, "context entry %zu has a NULL key or value", i);
        }
        e[i].key.p = (const uint8_t *)ctx[i].key;
        e[i].key.len = strlen(ctx[i].key);
        e[i].value.p = (const uint8_t *)ctx[i].value;
        e[i].value.len = strlen(ctx[i].value);
    }
    if (canonicalize && (rc = aios__env_context_canonicalize(e, n)) != AIOS_OK) {
        aios__free(e);
        return rc;
    }
    *out = e;
    return AIOS_OK;
}

/* ------------------------------------------------------------ header: seal */

typedef struct seal_records {
    aios__env_kek_record    *kek;     /* n slots, used where kind 1 */
    aios__env_x25519_record *x;       /* n slots, used where kind 2 */
    aios__env_recipient     *recs;    /* n */
    size_t                   n;
} seal_records;

static void seal_records_clear(seal_records *sr)
{
    size_t i;
    for (i = 0; i < sr->n; i++) {
        if (sr->kek)
            aios__env_kek_record_clear(&sr->kek[i]);
        if (sr->x)
            aios__env_x25519_record_clear(&sr->x[i]);
    }
    aios__free(sr->kek);
    aios__free(sr->x);
    aios__free(sr->recs);
    memset(sr, 0, sizeof(*sr));
}

static int same_kek(const aios_key *a, const aios_key *b)
{
    return aios_key_version(a) == aios_key_version(b) &&
           strcmp(aios_key_id(a), aios_key_id(b)) == 0 &&
           strcmp(aios_key_provider_name(a), aios_key_provider_name(b)) == 0;
}

/* Wrap dk for every recipient in order; *state_out owns the records. */
int aios__env_recipients_wrap(aios__env_recipient **recs_out, void **state_out,
                              const aios__env_binding *b, aios_key *const *rcpt, size_t n,
                              const uint8_t dk[AIOS__ENV_DK_LEN])
{
    seal_records *sr;
    size_t i, j;
    int rc = AIOS_OK;

    *recs_out = NULL;
    *state_out = NULL;
    sr = aios__calloc(1, sizeof(*sr));
    if (sr == NULL)
        return aios__fail(AIOS_E_NOMEM, "envelope recipients: out of memory");
    sr->kek = aios__calloc(n, sizeof(*sr->kek));
    sr->x = aios__calloc(n, sizeof(*sr->x));
    sr->recs = aios__calloc(n, sizeof(*sr->recs));
    if (sr->kek == NULL || sr->x == NULL || sr->recs == NULL) {
        seal_records_clear(sr);
        aios__free(sr);
        return aios__fail(AIOS_E_NOMEM, "envelope recipients: out of memory");
    }
    sr->n = n;
    for (i = 0; i < n && rc == AIOS_OK; i++) {
        if (rcpt[i] == NULL) {
            rc = aios__fail(AIOS_E_INVALID_ARGUMENT, "recipient %zu is NULL", i);
            break;
        }
        if (aios_key_get_type(rcpt[i]) == AIOS_KEY_X25519) {
            rc = aios__env_x25519_wrap(&sr->x[i], b, rcpt[i], dk);
            if (rc == AIOS_OK)
                sr->recs[i] = sr->x[i].rec;
        } else {
            for (j = 0; j < i; j++) {
                if (aios_key_get_type(rcpt[j]) != AIOS_KEY_X25519 && same_kek(rcpt[i], rcpt[j])) {
                    rc = aios__fail(AIOS_E_INVALID_ARGUMENT,
                                    "recipient %zu (%s/%s v%u) is given twice", i,
                                    aios_key_provider_name(rcpt[i]), aios_key_id(rcpt[i]),
                                    aios_key_version(rcpt[i]));
                    break;
                }
            }
            if (rc != AIOS_OK)
                break;
            rc = aios__env_kek_wrap(&sr->kek[i], b, rcpt[i], dk);
            if (rc == AIOS_OK)
                sr->recs[i] = sr->kek[i].rec;
        }
        if (rc != AIOS_OK && aios_last_error_status() == rc) {
            /* name the recipient that failed */
            char msg[512];
            snprintf(msg, sizeof(msg), "%s", aios_last_error_message());
            rc = aios__fail(rc, "recipient %zu (%s/%s v%u): %s", i,
                            aios_key_provider_name(rcpt[i]), aios_key_id(rcpt[i]),
                            aios_key_version(rcpt[i]), msg);
        }
    }
    if (rc != AIOS_OK) {
        seal_records_clear(sr);
        aios__free(sr);
        return rc;
    }
    *recs_out = sr->recs;
    *state_out = sr;
    return AIOS_OK;
}

void aios__env_recipients_free(void *state)
{
    if (state) {
        seal_records_clear(state);
        aios__free(state);
    }
}

static int hdr_finish_decode(aios__env_hdr *out, unsigned accept);

int aios__env_hdr_seal(aios__env_hdr *out, uint8_t type, uint16_t suite, uint16_t flags,
                       uint32_t chunk_size, aios_key *const *rcpt, size_t nrcpt,
                       const aios_envelope_context_entry *ctx, size_t nctx)
{
    aios__env_ctx_entry *entries = NULL;
    aios_buffer *ctxbuf = NULL, *keys = NULL;
    aios__env_recipient *recs = NULL;
    void *rstate = NULL;
    aios__env_binding b;
    aios__env_header h;
    uint8_t *kh;
    int rc;

    memset(out, 0, sizeof(*out));
    if (rcpt == NULL || nrcpt == 0)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "at least one recipient is needed");
    if (nrcpt > AIOS__ENV_RECIPIENTS_MAX)
        return aios__fail(AIOS_E_LIMIT, "%zu recipients is over %d", nrcpt, AIOS__ENV_RECIPIENTS_MAX);
    if ((rc = ctx_from_public(&entries, ctx, nctx, 1)) != AIOS_OK)
        return rc;
    if ((rc = aios__env_context_encode(&ctxbuf, entries, nctx)) != AIOS_OK)
        goto done;
    /* PRK || dk || Kh */
    if ((rc = aios__buffer_new(&out->secret, 2 * AIOS__ENV_KEY_LEN, AIOS_BUFFER_SECURE | AIOS__BUFFER_SLAB)) != AIOS_OK)
        goto done;
    if ((rc = aios__buffer_new(&keys, AIOS__ENV_KEY_LEN, AIOS_BUFFER_SECURE | AIOS__BUFFER_SLAB)) != AIOS_OK)
        goto done;
    kh = aios_buffer_data_mut(keys);

    memset(&h, 0, sizeof(h));
    h.prefix.type = type;
    h.prefix.suite = suite;
    h.prefix.flags = flags;
    aios__random_bytes(DK(out), AIOS__ENV_DK_LEN);
    aios__random_bytes(h.core.message_id, AIOS__ENV_ID_LEN);
    h.core.entries = entries;
    h.core.nentries = nctx;
    h.core.chunk_size = chunk_size;

    memset(&b, 0, sizeof(b));
    aios__env_prefix_encode(b.prefix, &h.prefix);
    b.mid = h.core.message_id;
    b.ctx.p = aios_buffer_data(ctxbuf);
    b.ctx.len = aios_buffer_len(ctxbuf);
    if ((rc = aios__env_recipients_wrap(&recs, &rstate, &b, rcpt, nrcpt, DK(out))) != AIOS_OK)
        goto done;
    h.recipients = recs;
    h.nrecipients = nrcpt;

    aios__env_prk(PRK(out), DK(out), h.core.message_id);
    if ((rc = aios__env_expand2(out->commitment, AIOS__ENV_LABEL_COMMITMENT, kh,
                                AIOS__ENV_LABEL_HEADER, PRK(out), suite)) != AIOS_OK)
        goto done;
    h.commitment = out->commitment;
    if ((rc = aios__env_header_encode(&out->bytes, &h, kh)) != AIOS_OK)
        goto done;
    rc = hdr_finish_decode(out, AIOS__ENV_DECODE_OWN |
                                (type == AIOS__ENV_TYPE_M ? AIOS__ENV_ACCEPT_M : AIOS__ENV_ACCEPT_S));
    out->opened_by = SIZE_MAX;
done:
    aios__env_recipients_free(rstate);
    aios_buffer_free(keys);
    aios_buffer_free(ctxbuf);
    aios__free(entries);
    if (rc != AIOS_OK)
        aios__env_hdr_clear(out);
    return rc;
}

/* Decode out->bytes into out->h and fill suite, type, C, D. */
static int hdr_finish_decode(aios__env_hdr *out, unsigned accept)
{
    int rc = aios__env_header_decode(&out->h, aios_buffer_data(out->bytes),
                                     aios_buffer_len(out->bytes), accept);
    if (rc != AIOS_OK)
        return rc;
    out->suite = out->h.prefix.suite;
    out->type = out->h.prefix.type;
    memcpy(out->commitment, out->h.commitment, AIOS__ENV_KEY_LEN);
    aios__env_core_digest(out->digest, aios_buffer_data(out->bytes), out->h.core_raw.p,
                          out->h.core_raw.len, out->commitment);
    return AIOS_OK;
}

void aios__env_hdr_clear(aios__env_hdr *h)
{
    if (h == NULL)
        return;
    aios__env_header_clear(&h->h);
    aios_buffer_free(h->bytes);
    aios_buffer_free(h->secret);
    aios__wipe(h, sizeof(*h));
}

/* ------------------------------------------------------------ header: open */

typedef struct open_ctx {
    const aios_envelope_keys *keys;
    const aios__env_header   *h;
    uint8_t                  *prk;     /* secure, 32 */
} open_ctx;

static int resolve_kek(void *arg, aios_key **out, const char *provider, const char *key_id,
                       uint32_t version)
{
    const open_ctx *oc = arg;
    size_t i;

    *out = NULL;
    for (i = 0; i < oc->keys->nkeys; i++) {
        aios_key *k = oc->keys->keys[i];
        if (aios_key_get_type(k) == AIOS_KEY_X25519)
            continue;
        if (aios_key_version(k) == version && strcmp(aios_key_id(k), key_id) == 0 &&
            strcmp(aios_key_provider_name(k), provider) == 0) {
            *out = aios_key_ref(k);
            return AIOS_OK;
        }
    }
    for (i = 0; i < oc->keys->nproviders; i++) {
        aios_provider *p = oc->keys->providers[i];
        if (strcmp(aios_provider_name(p), provider) == 0) {
            int rc;
            if (version == 0)
                return AIOS_E_KEY_VERSION_NOT_FOUND;
            rc = aios_provider_get_key(p, out, key_id, version);
            /* An id this provider could never hold (a message may carry
             * any UTF-8 id): not a match, the next record is tried. */
            if (rc == AIOS_E_INVALID_ARGUMENT) {
                aios_error_clear();
                return AIOS_E_NOT_FOUND;
            }
            return rc;
        }
    }
    return AIOS_E_NOT_FOUND;
}

static int match_x25519(void *arg, aios_key **out, const uint8_t pk[AIOS__ENV_X25519_LEN])
{
    const open_ctx *oc = arg;
    size_t i;

    *out = NULL;
    for (i = 0; i < oc->keys->nkeys; i++) {
        aios_key *k = oc->keys->keys[i];
        aios_buffer *raw = NULL;
        int eq;
        if (aios_key_get_type(k) != AIOS_KEY_X25519 || !(aios_key_purposes(k) & AIOS_KEY_USE_DERIVE))
            continue;
        if (strcmp(aios_key_provider_name(k), "public") == 0)
            continue;
        if (aios_key_public_raw(k, &raw) != AIOS_OK)
            continue;
        eq = aios_buffer_len(raw) == AIOS__ENV_X25519_LEN &&
             memcmp(aios_buffer_data(raw), pk, AIOS__ENV_X25519_LEN) == 0;
        aios_buffer_free(raw);
        if (eq) {
            *out = aios_key_ref(k);
            return AIOS_OK;
        }
    }
    return AIOS_E_NOT_FOUND;
}

static int check_dk(void *arg, const uint8_t dk[AIOS__ENV_DK_LEN])
{
    const open_ctx *oc = arg;
    return aios__env_header_verify(oc->h, dk, oc->prk);
}

/* The expected-context check, in public terms. */
static int expect_context(const aios__env_header *h, const aios__env_open_opts *o)
{
    aios__env_ctx_entry *want = NULL;
    int rc;

    if (o->mode == AIOS_ENVELOPE_CONTEXT_ANY)
        return AIOS_OK;
    if ((rc = ctx_from_public(&want, o->expected, o->nexpected, 0)) != AIOS_OK)
        return rc;
    rc = aios__env_context_expect(h->core.entries, h->core.nentries, want, o->nexpected,
                                  o->mode == AIOS_ENVELOPE_CONTEXT_EXACT ? AIOS__ENV_CTX_EXACT
                                                                        : AIOS__ENV_CTX_SUBSET);
    aios__free(want);
    return rc;
}

/* Structural decode of the header at data (views into data). */
int aios__env_hdr_open(aios__env_hdr *out, unsigned accept, const aios_envelope_keys *keys,
                       const uint8_t *data, size_t len, const aios__env_open_opts *o)
{
    aios__env_header probe;
    aios__env_binding b;
    aios__env_selector sel;
    aios_buffer *dk = NULL;
    open_ctx oc;
    size_t index = 0, hlen = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    if (keys == NULL)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "keys is NULL");
    /* Find the header's length, then work on a private copy only: what is
     * verified is then exactly what is used afterwards (the caller's bytes
     * may be a shared mapping that changes under us).  The length comes
     * from the two length fields (aios_envelope_header_len); when they do
     * not give a whole header, the full decode of the caller's bytes says
     * what is wrong.  The copy's decode checks the type against accept. */
    if (aios_envelope_header_len(&hlen, data, len) != AIOS_OK || hlen > len) {
        if ((rc = aios__env_header_decode(&probe, data, len, accept)) != AIOS_OK)
            return rc;
        hlen = probe.raw.len;
        aios__env_header_clear(&probe);
    }
    if ((rc = aios_buffer_from_bytes(&out->bytes, data, hlen, 0)) != AIOS_OK)
        return rc;
    if ((rc = aios__env_header_decode(&out->h, aios_buffer_data(out->bytes),
                                      aios_buffer_len(out->bytes), accept)) != AIOS_OK)
        goto done;
    if ((rc = expect_context(&out->h, o)) != AIOS_OK)
        goto done;
    if ((rc = aios__buffer_new(&out->secret, 2 * AIOS__ENV_KEY_LEN,
                               AIOS_BUFFER_SECURE | AIOS__BUFFER_SLAB)) != AIOS_OK)
        goto done;
    oc.keys = keys;
    oc.h = &out->h;
    oc.prk = PRK(out);
    aios__env_binding_from_header(&b, &out->h);
    memset(&sel, 0, sizeof(sel));
    sel.resolve = resolve_kek;
    sel.resolve_arg = &oc;
    sel.check = check_dk;
    sel.check_arg = &oc;
    sel.max_attempts = o->max_attempts;
    sel.match_x25519 = match_x25519;
    sel.match_x25519_arg = &oc;
    if ((rc = aios__env_select_unwrap(&dk, &index, &b, out->h.recipients, out->h.nrecipients,
                                      &sel)) != AIOS_OK)
        goto done;
    memcpy(DK(out), aios_buffer_data(dk), AIOS__ENV_DK_LEN);
    out->suite = out->h.prefix.suite;
    out->type = out->h.prefix.type;
    memcpy(out->commitment, out->h.commitment, AIOS__ENV_KEY_LEN);
    aios__env_core_digest(out->digest, aios_buffer_data(out->bytes), out->h.core_raw.p,
                          out->h.core_raw.len, out->commitment);
    out->opened_by = index;
done:
    aios_buffer_free(dk);
    if (rc != AIOS_OK)
        aios__env_hdr_clear(out);
    return rc;
}

int aios__env_hdr_content_key(aios__aead_key **out, const aios__env_hdr *h, int no_soft_gcm)
{
    uint8_t kc[AIOS__ENV_KEY_LEN];
    int rc;

    *out = NULL;
    if ((rc = aios__env_expand(kc, sizeof(kc), aios_buffer_data(h->secret), AIOS__ENV_LABEL_CONTENT,
                               h->suite, NULL)) != AIOS_OK)
        return rc;
    rc = aios__aead_key_new(out, aios__env_suite_alg(h->suite), kc);
    aios__wipe(kc, sizeof(kc));
    if (rc != AIOS_OK)
        return rc;
    if (no_soft_gcm && !aios__aead_key_can_seal(*out)) {
        aios__aead_key_free(*out);
        *out = NULL;
        return aios__fail(AIOS_E_UNSUPPORTED,
                          "this message is AES-256-GCM and this CPU has no AES-NI; the software "
                          "fallback was refused (no_soft_gcm)");
    }
    return AIOS_OK;
}

/* ------------------------------------------------------------ JSON */

typedef struct jbuf {
    char  *p;
    size_t len, cap;
    int    nomem;
} jbuf;

static void jput(jbuf *j, const char *s, size_t n)
{
    if (j->nomem)
        return;
    if (j->len + n + 1 > j->cap) {
        size_t cap = j->cap ? j->cap : 512;
        char *np;
        while (cap < j->len + n + 1)
            cap *= 2;
        np = aios__malloc(cap);
        if (np == NULL) {
            j->nomem = 1;
            return;
        }
        if (j->len)
            memcpy(np, j->p, j->len);
        aios__free(j->p);
        j->p = np;
        j->cap = cap;
    }
    memcpy(j->p + j->len, s, n);
    j->len += n;
}

static void jstr(jbuf *j, const char *s)
{
    jput(j, s, strlen(s));
}

static void jquote(jbuf *j, const uint8_t *s, size_t n)
{
    size_t i;
    jput(j, "\"", 1);
    for (i = 0; i < n; i++) {
        uint8_t c = s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            jput(j, esc, 2);
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            jput(j, esc, 6);
        } else {
            jput(j, (const char *)&s[i], 1);
        }
    }
    jput(j, "\"", 1);
}

static void jhex(jbuf *j, const uint8_t *s, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    size_t i;
    jput(j, "\"", 1);
    for (i = 0; i < n; i++) {
        char two[2] = { hx[s[i] >> 4], hx[s[i] & 15] };
        jput(j, two, 2);
    }
    jput(j, "\"", 1);
}

static void jnum(jbuf *j, uint64_t v)
{
    char num[32];
    snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
    jstr(j, num);
}

static const char *suite_token(uint16_t s)
{
    switch (s) {
    case AIOS__ENV_SUITE_AES256GCM:         return "aes256gcm";
    case AIOS__ENV_SUITE_XCHACHA20POLY1305: return "xchacha20poly1305";
    case AIOS__ENV_SUITE_AES256SIV:         return "aes256siv";
    default:                                return "unknown";
    }
}

int aios__env_hdr_info(aios_buffer **out, const aios__env_header *h, int authenticated,
                       size_t opened_by)
{
    jbuf j = { NULL, 0, 0, 0 };
    size_t i;
    int rc;

    *out = NULL;
    jstr(&j, "{\"type\":");
    jstr(&j, h->prefix.type == AIOS__ENV_TYPE_M ? "\"message\"" : "\"session\"");
    jstr(&j, ",\"suite\":\"");
    jstr(&j, suite_token(h->prefix.suite));
    jstr(&j, "\",\"suite_id\":");
    jnum(&j, h->prefix.suite);
    jstr(&j, ",\"flags\":");
    jnum(&j, h->prefix.flags);
    jstr(&j, ",\"deterministic\":");
    jstr(&j, (h->prefix.flags & AIOS__ENV_FLAG_DETERMINISTIC) ? "true" : "false");
    jstr(&j, ",\"message_id\":");
    jhex(&j, h->core.message_id, AIOS__ENV_ID_LEN);
    jstr(&j, ",\"session_id\":");
    jhex(&j, h->commitment, AIOS__ENV_KEY_LEN);
    jstr(&j, ",\"context\":{");
    for (i = 0; i < h->core.nentries; i++) {
        if (i)
            jput(&j, ",", 1);
        jquote(&j, h->core.entries[i].key.p, h->core.entries[i].key.len);
        jput(&j, ":", 1);
        jquote(&j, h->core.entries[i].value.p, h->core.entries[i].value.len);
    }
    jstr(&j, "},\"chunk_size\":");
    jnum(&j, h->core.chunk_size);
    jstr(&j, ",\"header_len\":");
    jnum(&j, h->raw.len);
    jstr(&j, ",\"recipients\":[");
    for (i = 0; i < h->nrecipients; i++) {
        const aios__env_recipient *r = &h->recipients[i];
        if (i)
            jput(&j, ",", 1);
        if (r->kind == AIOS__ENV_KIND_KEK) {
            jstr(&j, "{\"kind\":\"kek\",\"provider\":");
            jquote(&j, (const uint8_t *)r->keyref.provider, strlen(r->keyref.provider));
            jstr(&j, ",\"key_id\":");
            jquote(&j, (const uint8_t *)r->keyref.key_id, strlen(r->keyref.key_id));
            jstr(&j, ",\"version\":");
            jnum(&j, r->keyref.version);
            jstr(&j, "}");
        } else if (r->kind == AIOS__ENV_KIND_X25519) {
            jstr(&j, "{\"kind\":\"x25519\",\"public_key\":");
            jhex(&j, r->recipient_public.p, r->recipient_public.len);
            jstr(&j, ",\"label\":");
            jquote(&j, r->label.p, r->label.len);
            jstr(&j, "}");
        } else {
            jstr(&j, "{\"kind\":");
            jnum(&j, r->kind);
            jstr(&j, "}");
        }
    }
    jstr(&j, "],\"authenticated\":");
    jstr(&j, authenticated ? "true" : "false");
    if (authenticated && opened_by != SIZE_MAX) {
        jstr(&j, ",\"opened_by\":");
        jnum(&j, opened_by);
    }
    jstr(&j, "}");
    if (j.nomem) {
        aios__free(j.p);
        return aios__fail(AIOS_E_NOMEM, "envelope info: out of memory");
    }
    rc = aios_buffer_from_bytes(out, (const uint8_t *)j.p, j.len, 0);
    aios__free(j.p);
    return rc;
}

/* ------------------------------------------------------------ one-shot */


static int chunk_task(void *arg, size_t i)
{
    aios__env_chunk_job *j = arg;
    uint64_t idx = j->first + i;
    size_t len = (i + 1 == j->nitems) ? j->last_len : j->in_stride;
    int fin = idx == j->last;
    const uint8_t *in = j->in0 == NULL ? j->in + i * j->in_stride
                      : i == 0 ? j->in0 : j->in + (i - 1) * j->in_stride;
    int rc;

    if (j->seal)
        rc = aios__chunk_seal(j->kc, j->d, j->cs, idx, fin, j->out + i * j->out_stride, in, len);
    else
        rc = aios__chunk_open(j->kc, j->d, j->cs, idx, fin, j->out + i * j->out_stride, in, len);
    if (rc != AIOS_OK) {
        uint64_t want = idx + 1, cur = atomic_load(&j->failed);
        while ((cur == 0 || want < cur) && !atomic_compare_exchange_weak(&j->failed, &cur, want))
            ;
    }
    return rc;
}

/* Run a job on the pool (or the calling thread); re-record the error on
 * the calling thread (workers' messages stay on theirs). */
int aios__env_chunks_run(aios__env_pool *pool, aios__env_chunk_job *j)
{
    int rc;
    atomic_store(&j->failed, 0);
    rc = aios__env_pool_run(pool, j->nitems, chunk_task, j);
    if (rc == AIOS_OK)
        return AIOS_OK;
    if (rc == AIOS_E_AUTH)
        return aios__fail(AIOS_E_AUTH, "chunk %llu does not authenticate (changed, reordered or "
                          "from another message)",
                          (unsigned long long)(atomic_load(&j->failed) - 1));
    return aios__fail(rc, "chunk %llu: %s", (unsigned long long)(atomic_load(&j->failed) - 1),
                      aios_status_str(rc));
}

int aios__env_final_failed(const aios__aead_key *kc, const uint8_t *d, uint32_t cs, uint64_t idx,
                           const uint8_t *piece, size_t len)
{
    uint8_t *tmp;
    int rc;

    if (len != (size_t)cs + AIOS__CHUNK_TAG_LEN)
        return aios__fail(AIOS_E_AUTH, "chunk %llu (the last) does not authenticate",
                          (unsigned long long)idx);
    tmp = aios__malloc(cs);
    if (tmp == NULL)
        return aios__fail(AIOS_E_NOMEM, "envelope: out of memory");
    rc = aios__chunk_open(kc, d, cs, idx, 0, tmp, piece, len);
    aios__wipe(tmp, cs);
    aios__free(tmp);
    if (rc == AIOS_OK)
        return aios__fail(AIOS_E_ENVELOPE_TRUNCATED,
                          "the payload ends after chunk %llu, which is not the final chunk: "
                          "the message was cut", (unsigned long long)idx);
    return aios__fail(AIOS_E_AUTH, "chunk %llu (the last) does not authenticate",
                      (unsigned long long)idx);
}

int aios__env_check_trailing(int rc, const aios__aead_key *kc, const uint8_t *d, uint32_t cs,
                             const uint8_t *payload, uint64_t payload_len, uint64_t failed)
{
    size_t piece = (size_t)cs + AIOS__CHUNK_TAG_LEN;
    uint64_t i = failed;
    uint8_t *tmp;
    int orc;

    if (rc == AIOS_E_ENVELOPE_TRUNCATED) {
        /* the layout left a short tail after full pieces */
        if (payload_len < piece)
            return rc;
        i = payload_len / piece - 1;
    } else if (rc != AIOS_E_AUTH || failed == UINT64_MAX) {
        return rc;
    }
    if ((i + 1) * piece > payload_len)
        return rc;
    tmp = aios__malloc(cs);
    if (tmp == NULL)
        return rc;
    orc = aios__chunk_open(kc, d, cs, i, 1, tmp, payload + i * piece, piece);
    aios__wipe(tmp, cs);
    aios__free(tmp);
    if (orc != AIOS_OK)
        return rc;
    return aios__fail(AIOS_E_ENVELOPE_TRAILING_DATA,
                      "chunk %llu is the final chunk, but %llu more bytes follow it",
                      (unsigned long long)i, (unsigned long long)(payload_len - (i + 1) * piece));
}

/* Seal a whole message into a new buffer *buf_out (buf_out != NULL) or
 * into caller memory into[0..into_cap) (buf_out == NULL); *len_out = the
 * message's length (also with AIOS_E_BUFFER_TOO_SMALL, nothing written). */
static int seal_message(aios_buffer **buf_out, uint8_t *into, size_t into_cap, size_t *len_out,
                        aios_key *const *recipients, size_t nrecipients,
                        const aios_envelope_context_entry *context, size_t ncontext,
                        const uint8_t *pt, size_t pt_len, const aios_envelope_seal_options *opts)
{
    aios__env_seal_opts so;
    aios__env_hdr hdr;
    aios__aead_key *kc = NULL;
    aios__env_pool *pool = NULL;
    aios_buffer *buf = NULL;
    uint8_t *dst;
    uint64_t n, payload;
    size_t hlen;
    aios__env_chunk_job j;
    int rc;

    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    if ((rc = aios__env_seal_opts_get(&so, opts)) != AIOS_OK)
        return rc;
    if ((rc = aios__chunk_count(&n, pt_len, so.chunk_size)) != AIOS_OK)
        return rc;
    if ((rc = aios__chunk_payload_len(&payload, pt_len, so.chunk_size)) != AIOS_OK)
        return rc;
    if ((rc = aios__env_hdr_seal(&hdr, AIOS__ENV_TYPE_M, so.suite, 0, so.chunk_size, recipients,
                                 nrecipients, context, ncontext)) != AIOS_OK)
        return rc;
    hlen = aios_buffer_len(hdr.bytes);
    if (payload > AIOS_BUFFER_MAX_LEN - hlen) {
        rc = aios__fail(AIOS_E_LIMIT, "a sealed message of %llu bytes is too large for one buffer; "
                        "use aios_envelope_sealer", (unsigned long long)payload);
        goto done;
    }
    if (buf_out == NULL && hlen + (size_t)payload > into_cap) {
        *len_out = hlen + (size_t)payload;
        rc = aios__fail(AIOS_E_BUFFER_TOO_SMALL, "the sealed message is %zu bytes; out holds %zu",
                        hlen + (size_t)payload, into_cap);
        goto done;
    }
    if ((rc = aios__env_hdr_content_key(&kc, &hdr, 0)) != AIOS_OK)
        goto done;
    if (buf_out != NULL) {
        if ((rc = aios__buffer_new(&buf, hlen + (size_t)payload, 0)) != AIOS_OK)
            goto done;
        dst = aios_buffer_data_mut(buf);
    } else {
        dst = into;
    }
    memcpy(dst, aios_buffer_data(hdr.bytes), hlen);
    if (so.threads > 1 && n >= 4 && (rc = aios__env_pool_new(&pool, so.threads < n ? so.threads
                                                                                 : (uint32_t)n)) != AIOS_OK)
        goto done;
    memset(&j, 0, sizeof(j));
    j.kc = kc;
    j.d = hdr.digest;
    j.cs = so.chunk_size;
    j.first = 0;
    j.last = n - 1;
    j.in = pt;
    j.out = dst + hlen;
    j.in_stride = so.chunk_size;
    j.out_stride = (size_t)so.chunk_size + AIOS__CHUNK_TAG_LEN;
    j.nitems = (size_t)n;
    j.last_len = pt_len - (size_t)(n - 1) * so.chunk_size;
    j.seal = 1;
    rc = aios__env_chunks_run(pool, &j);
done:
    aios__env_pool_free(pool);
    aios__aead_key_free(kc);
    aios__env_hdr_clear(&hdr);
    if (rc != AIOS_OK) {
        aios_buffer_free(buf);
        return rc;
    }
    if (buf_out != NULL)
        *buf_out = buf;
    *len_out = hlen + (size_t)payload;
    return AIOS_OK;
}

int aios_envelope_seal(aios_buffer **out, aios_key *const *recipients, size_t nrecipients,
                       const aios_envelope_context_entry *context, size_t ncontext,
                       const uint8_t *pt, size_t pt_len, const aios_envelope_seal_options *opts)
{
    size_t len;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    AIOS__CHECK_ARG(pt != NULL || pt_len == 0, "plaintext is NULL");
    return seal_message(out, NULL, 0, &len, recipients, nrecipients, context, ncontext, pt, pt_len,
                        opts);
}

int aios_envelope_seal_into(uint8_t *out, uint32_t out_cap, uint32_t *out_len,
                            aios_key *const *recipients, uint32_t recipient_count,
                            const aios_envelope_context_entry *context, uint32_t context_count,
                            const uint8_t *plaintext, uint32_t plaintext_len,
                            const aios_envelope_seal_options *opts)
{
    size_t len = 0;
    int rc;

    AIOS__CHECK_ARG(out_len != NULL, "out_len is NULL");
    *out_len = 0;
    AIOS__CHECK_ARG(out != NULL || out_cap == 0, "out is NULL");
    AIOS__CHECK_ARG(plaintext != NULL || plaintext_len == 0, "plaintext is NULL");
    rc = seal_message(NULL, out, out_cap, &len, recipients, recipient_count, context,
                      context_count, plaintext, plaintext_len, opts);
    if (rc != AIOS_OK && rc != AIOS_E_BUFFER_TOO_SMALL)
        return rc;
    if (len > UINT32_MAX) {
        return aios__fail(AIOS_E_LIMIT, "the sealed message is %zu bytes: over 4 GiB, which "
                          "aios_envelope_seal_into does not return; use aios_envelope_seal",
                          len);
    }
    *out_len = (uint32_t)len;
    return rc;
}

/* Open a whole message into a new buffer *buf_out (buf_out != NULL) or
 * into caller memory into[0..into_cap) (buf_out == NULL; into may be NULL
 * when into_cap is 0); *len_out = the plaintext length.  On failure
 * nothing is released: a new buffer is freed (wiped), caller memory is
 * zeroed over the plaintext's length once it was found to fit. */
static int open_message(aios_buffer **buf_out, uint8_t *into, size_t into_cap, size_t *len_out,
                        const aios_envelope_keys *keys, const uint8_t *msg, size_t msg_len,
                        const aios_envelope_open_options *opts)
{
    aios__env_open_opts o;
    aios__env_hdr hdr;
    aios__aead_key *kc = NULL;
    aios__env_pool *pool = NULL;
    aios_buffer *buf = NULL;
    uint8_t *dst = NULL, none[1];
    uint64_t n, pt_len = 0, payload;
    size_t hlen;
    aios__env_chunk_job j;
    int rc;

    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    if ((rc = aios__env_open_opts_get(&o, opts)) != AIOS_OK)
        return rc;
    if ((rc = aios__env_hdr_open(&hdr, AIOS__ENV_ACCEPT_M, keys, msg, msg_len, &o)) != AIOS_OK)
        return rc;
    hlen = aios_buffer_len(hdr.bytes);
    payload = msg_len - hlen;
    if ((rc = aios__env_hdr_content_key(&kc, &hdr, o.no_soft_gcm)) != AIOS_OK)
        goto done;
    if ((rc = aios__chunk_layout(&n, &pt_len, payload, hdr.h.core.chunk_size)) != AIOS_OK) {
        rc = aios__env_check_trailing(rc, kc, hdr.digest, hdr.h.core.chunk_size, msg + hlen,
                                      payload, UINT64_MAX);
        pt_len = 0;
        goto done;
    }
    if (buf_out == NULL) {
        if (pt_len > into_cap) {
            *len_out = (size_t)pt_len;
            rc = aios__fail(AIOS_E_BUFFER_TOO_SMALL, "the plaintext is %llu bytes; out holds %zu",
                            (unsigned long long)pt_len, into_cap);
            pt_len = 0;
            goto done;
        }
        dst = into != NULL ? into : none;   /* an empty plaintext, no memory given */
    } else {
        if ((rc = aios__buffer_new(&buf, (size_t)pt_len, 0)) != AIOS_OK)
            goto done;
        dst = aios_buffer_data_mut(buf);
    }
    if (o.threads > 1 && n >= 4 &&
        (rc = aios__env_pool_new(&pool, o.threads < n ? o.threads : (uint32_t)n)) != AIOS_OK)
        goto done;
    memset(&j, 0, sizeof(j));
    j.kc = kc;
    j.d = hdr.digest;
    j.cs = hdr.h.core.chunk_size;
    j.first = 0;
    j.last = n - 1;
    j.in = msg + hlen;
    j.out = dst;
    j.in_stride = (size_t)j.cs + AIOS__CHUNK_TAG_LEN;
    j.out_stride = j.cs;
    j.nitems = (size_t)n;
    j.last_len = (size_t)(payload - (n - 1) * j.in_stride);
    j.seal = 0;
    rc = aios__env_chunks_run(pool, &j);
    if (rc == AIOS_E_AUTH && atomic_load(&j.failed) == n)
        rc = aios__env_final_failed(kc, hdr.digest, j.cs, n - 1,
                                    j.in + (size_t)(n - 1) * j.in_stride, j.last_len);
    else if (rc == AIOS_E_AUTH)
        rc = aios__env_check_trailing(rc, kc, hdr.digest, j.cs, j.in, payload,
                                      atomic_load(&j.failed) - 1);
done:
    aios__env_pool_free(pool);
    aios__aead_key_free(kc);
    aios__env_hdr_clear(&hdr);
    if (rc != AIOS_OK) {
        aios_buffer_free(buf);   /* wipes */
        if (buf_out == NULL && pt_len > 0 && into != NULL)
            aios__wipe(into, (size_t)pt_len);
        return rc;
    }
    if (buf_out != NULL)
        *buf_out = buf;
    *len_out = (size_t)pt_len;
    return AIOS_OK;
}

int aios_envelope_open(aios_buffer **out, const aios_envelope_keys *keys, const uint8_t *msg,
                       size_t msg_len, const aios_envelope_open_options *opts)
{
    size_t len;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    AIOS__CHECK_ARG(keys != NULL, "keys is NULL");
    AIOS__CHECK_ARG(msg != NULL || msg_len == 0, "message is NULL");
    return open_message(out, NULL, 0, &len, keys, msg, msg_len, opts);
}

int aios_envelope_open_into(const aios_envelope_keys *keys, uint8_t *out, uint32_t out_cap,
                            uint32_t *out_len, const uint8_t *msg, uint32_t msg_len,
                            const aios_envelope_open_options *opts)
{
    size_t len = 0;
    int rc;

    AIOS__CHECK_ARG(out_len != NULL, "out_len is NULL");
    *out_len = 0;
    AIOS__CHECK_ARG(keys != NULL, "keys is NULL");
    AIOS__CHECK_ARG(out != NULL || out_cap == 0, "out is NULL");
    AIOS__CHECK_ARG(msg != NULL || msg_len == 0, "message is NULL");
    rc = open_message(NULL, out, out_cap, &len, keys, msg, msg_len, opts);
    /* len < msg_len <= UINT32_MAX: a plaintext is shorter than its message. */
    if (rc == AIOS_OK || rc == AIOS_E_BUFFER_TOO_SMALL)
        *out_len = (uint32_t)len;
    return rc;
}

/* ------------------------------------------------------------ peek */

int aios_envelope_header_len(size_t *len_out, const uint8_t *data, size_t len)
{
    aios__env_prefix p;
    uint32_t lc, lr;
    int rc;

    AIOS__CHECK_ARG(len_out != NULL, "len_out is NULL");
    *len_out = 0;
    AIOS__CHECK_ARG(data != NULL || len == 0, "data is NULL");
    if (len < AIOS__ENV_PREFIX_LEN + 4) {
        *len_out = AIOS__ENV_PREFIX_LEN + 4;
        if (len >= AIOS__ENV_PREFIX_LEN &&
            (rc = aios__env_prefix_decode(&p, data, len, AIOS__ENV_ACCEPT_M | AIOS__ENV_ACCEPT_S)) != AIOS_OK)
            return rc;
        return aios__fail(AIOS_E_BUFFER_TOO_SMALL, "need %zu bytes to read the header length",
                          *len_out);
    }
    if ((rc = aios__env_prefix_decode(&p, data, len, AIOS__ENV_ACCEPT_M | AIOS__ENV_ACCEPT_S)) != AIOS_OK)
        return rc;
    lc = be32(data + AIOS__ENV_PREFIX_LEN);
    if (lc < AIOS__ENV_CORE_MIN)
        return aios__fail(AIOS_E_FORMAT, "envelope header: a core of %u bytes is too short", lc);
    if (lc > AIOS__ENV_CORE_MAX)
        return aios__fail(AIOS_E_LIMIT, "envelope header: a core of %u bytes is over %d", lc,
                          AIOS__ENV_CORE_MAX);
    if (len < (size_t)AIOS__ENV_PREFIX_LEN + 8 + lc) {
        *len_out = (size_t)AIOS__ENV_PREFIX_LEN + 8 + lc;
        return aios__fail(AIOS_E_BUFFER_TOO_SMALL, "need %zu bytes to read the header length",
                          *len_out);
    }
    lr = be32(data + AIOS__ENV_PREFIX_LEN + 4 + lc);
    if (lr < 1)
        return aios__fail(AIOS_E_FORMAT, "envelope header: empty recipient list");
    if (lr > AIOS__ENV_RECIPIENTS_MAX_LEN)
        return aios__fail(AIOS_E_LIMIT, "envelope header: a recipient list of %u bytes is over %d",
                          lr, AIOS__ENV_RECIPIENTS_MAX_LEN);
    *len_out = (size_t)AIOS__ENV_PREFIX_LEN + 8 + lc + lr + 2 * AIOS__ENV_KEY_LEN;
    return AIOS_OK;
}

int aios_envelope_peek(aios_buffer **json_out, const uint8_t *data, size_t len)
{
    aios__env_header h;
    int rc;

    AIOS__CHECK_ARG(json_out != NULL, "json_out is NULL");
    *json_out = NULL;
    AIOS__CHECK_ARG(data != NULL || len == 0, "data is NULL");
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    if ((rc = aios__env_header_decode(&h, data, len, AIOS__ENV_ACCEPT_M | AIOS__ENV_ACCEPT_S)) != AIOS_OK)
        return rc;
    rc = aios__env_hdr_info(json_out, &h, 0, SIZE_MAX);
    aios__env_header_clear(&h);
    return rc;
}
