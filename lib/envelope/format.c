/*
 * The envelope wire format, v1 (docs/FORMAT.md sections 3, 5, 6, 7, 12,
 * 13): prefix, header encoding and strict decoding, key schedule, core
 * digest, header tag and the header checks.
 *
 * Decoding follows section 12.1 step by step.  Each protobuf part is first
 * scanned with aios__proto_next_field (counts and sizes against section
 * 13, before protobuf-c allocates anything), then unpacked and required to
 * be canonical (FORMATS.md rule 4: that refuses duplicate fields, fields
 * out of order, non-minimal varints, embedded NULs), then walked once more
 * to take views of the fields, which the same checks as the encoder's
 * validate.  Since the bytes are canonical, the walk sees each known field
 * at most once, in number order, with unknown fields (protobuf-c packs
 * them last) forming a tail that is kept as is.
 *
 * The encoder writes the canonical encoding by hand (field number order,
 * proto3 defaults omitted, unknown tails last), exactly what protobuf-c
 * packs; the decoder's canonical check and the unit tests hold the two
 * together.
 */
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "core/internal.h"
#include "crypto/crypto.h"
#include "envelope.pb-c.h"

/* ------------------------------------------------------------ helpers */

static uint32_t be32_get(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static const uint8_t magic[4] = { 0x41, 0x49, 0x4f, 0x45 };   /* "AIOE" */

/* ------------------------------------------------------------- prefix */

void aios__env_prefix_encode(uint8_t out[AIOS__ENV_PREFIX_LEN], const aios__env_prefix *p)
{
    memcpy(out, magic, 4);
    out[4] = AIOS__ENV_VERSION;
    out[5] = p->type;
    out[6] = (uint8_t)(p->suite >> 8);
    out[7] = (uint8_t)p->suite;
    out[8] = (uint8_t)(p->flags >> 8);
    out[9] = (uint8_t)p->flags;
}

int aios__env_prefix_decode(aios__env_prefix *out, const uint8_t *data, size_t len,
                            unsigned accept)
{
    unsigned bit;
    uint16_t suite, flags;
    uint8_t type;

    memset(out, 0, sizeof(*out));
    if (len < AIOS__ENV_PREFIX_LEN)
        return aios__fail(AIOS_E_FORMAT, "envelope: %zu bytes is shorter than the %d-byte "
                          "prefix", len, AIOS__ENV_PREFIX_LEN);
    if (memcmp(data, magic, 4) != 0)
        return aios__fail(AIOS_E_FORMAT, "envelope: not an envelope (bad magic)");
    if (data[4] != AIOS__ENV_VERSION)
        return aios__fail(AIOS_E_VERSION, "envelope: format version %u is not supported (this "
                          "library reads version %d)", data[4], AIOS__ENV_VERSION);
    type = data[5];
    switch (type) {
    case AIOS__ENV_TYPE_M: bit = AIOS__ENV_ACCEPT_M; break;
    case AIOS__ENV_TYPE_S: bit = AIOS__ENV_ACCEPT_S; break;
    case AIOS__ENV_TYPE_R: bit = AIOS__ENV_ACCEPT_R; break;
    case AIOS__ENV_TYPE_D: bit = AIOS__ENV_ACCEPT_D; break;
    default:
        return aios__fail(AIOS_E_VERSION, "envelope: object type 0x%02x is not supported", type);
    }
    if (!(accept & bit))
        return aios__fail(AIOS_E_FORMAT, "envelope: an object of type '%c' is not taken here",
                          (char)type);
    suite = (uint16_t)((data[6] << 8) | data[7]);
    if (suite < AIOS__ENV_SUITE_AES256GCM || suite > AIOS__ENV_SUITE_AES256SIV)
        return aios__fail(AIOS_E_VERSION, "envelope: suite 0x%04x is not supported", suite);
    if ((type == AIOS__ENV_TYPE_D) != (suite == AIOS__ENV_SUITE_AES256SIV))
        return aios__fail(AIOS_E_FORMAT, "envelope: suite 0x%04x is not valid in an object of "
                          "type '%c'", suite, (char)type);
    flags = (uint16_t)((data[8] << 8) | data[9]);
    /* Section 3.2: a reserved bit is a future incompatible feature
     * (AIOS_E_VERSION) whatever the type; a defined bit on a type where it
     * is not valid is malformed. */
    if (flags & ~(unsigned)AIOS__ENV_FLAG_DETERMINISTIC)
        return aios__fail(AIOS_E_VERSION, "envelope: reserved flag bits 0x%04x are set",
                          (unsigned)(flags & ~(unsigned)AIOS__ENV_FLAG_DETERMINISTIC));
    if ((flags & AIOS__ENV_FLAG_DETERMINISTIC) && type != AIOS__ENV_TYPE_S)
        return aios__fail(AIOS_E_FORMAT, "envelope: the DETERMINISTIC flag is valid only on a "
                          "session header");
    out->type = type;
    out->suite = suite;
    out->flags = flags;
    return AIOS_OK;
}

/* ------------------------------------------------------------ context */

static int key_cmp(const aios__env_bytes *a, const aios__env_bytes *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->p, b->p, n) : 0;
    if (c != 0)
        return c;
    return a->len < b->len ? -1 : a->len > b->len ? 1 : 0;
}

static int entry_cmp(const void *a, const void *b)
{
    return key_cmp(&((const aios__env_ctx_entry *)a)->key, &((const aios__env_ctx_entry *)b)->key);
}

static int has_control(const uint8_t *p, size_t len)
{
    /* U+0000..U+001F and U+007F are single bytes in UTF-8 and never occur
     * inside a multi-byte sequence. */
    for (size_t i = 0; i < len; i++)
        if (p[i] < 0x20 || p[i] == 0x7f)
            return 1;
    return 0;
}

static int is_reserved(const aios__env_bytes *key)
{
    return key->len >= AIOS__ENV_RESERVED_PREFIX_LEN &&
           memcmp(key->p, AIOS__ENV_RESERVED_PREFIX, AIOS__ENV_RESERVED_PREFIX_LEN) == 0;
}

static int entry_check(const aios__env_ctx_entry *e, size_t i)
{
    if (e->key.len == 0 || e->key.len > AIOS__ENV_CTX_KEY_MAX)
        return aios__fail(AIOS_E_FORMAT, "envelope context: entry %zu: the key must be 1..%d "
                          "bytes", i, AIOS__ENV_CTX_KEY_MAX);
    if (!aios__utf8_valid(e->key.p, e->key.len))
        return aios__fail(AIOS_E_FORMAT, "envelope context: entry %zu: the key is not valid "
                          "UTF-8", i);
    if (has_control(e->key.p, e->key.len))
        return aios__fail(AIOS_E_FORMAT, "envelope context: entry %zu: the key holds a control "
                          "character", i);
    if (e->value.len > AIOS__ENV_CTX_VALUE_MAX)
        return aios__fail(AIOS_E_FORMAT, "envelope context: entry %zu: the value is over %d "
                          "bytes", i, AIOS__ENV_CTX_VALUE_MAX);
    if (e->value.len && !aios__utf8_valid(e->value.p, e->value.len))
        return aios__fail(AIOS_E_FORMAT, "envelope context: entry %zu: the value is not valid "
                          "UTF-8", i);
    if (e->value.len && memchr(e->value.p, 0, e->value.len))
        return aios__fail(AIOS_E_FORMAT, "envelope context: entry %zu: the value holds a NUL",
                          i);
    return AIOS_OK;
}

int aios__env_context_check(const aios__env_ctx_entry *e, size_t n)
{
    int rc;
    if (n > AIOS__ENV_CTX_ENTRIES_MAX)
        return aios__fail(AIOS_E_LIMIT, "envelope context: %zu entries (at most %d)", n,
                          AIOS__ENV_CTX_ENTRIES_MAX);
    for (size_t i = 0; i < n; i++) {
        if ((rc = entry_check(&e[i], i)) != AIOS_OK)
            return rc;
        if (i > 0 && key_cmp(&e[i - 1].key, &e[i].key) >= 0)
            return aios__fail(AIOS_E_FORMAT, "envelope context: entry %zu: keys are not "
                              "strictly ascending (unsorted or duplicate)", i);
    }
    return AIOS_OK;
}

/* ----------------------------------------------------- protobuf writer
 *
 * w->p == NULL counts (sizes of nested messages); otherwise writes. */

typedef struct wr {
    uint8_t *p;
    size_t   n;
} wr;

static void put(wr *w, const void *src, size_t len)
{
    if (w->p && len)
        memcpy(w->p + w->n, src, len);
    w->n += len;
}

static void put_varint(wr *w, uint64_t v)
{
    uint8_t b[10];
    size_t i = 0;
    do {
        b[i] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            b[i] |= 0x80;
        i++;
    } while (v);
    put(w, b, i);
}

static void put_len_field(wr *w, uint32_t num, const void *p, size_t len)
{
    put_varint(w, ((uint64_t)num << 3) | 2);
    put_varint(w, len);
    put(w, p, len);
}

/* proto3: an empty string or bytes field is not written. */
static void put_bytes(wr *w, uint32_t num, aios__env_bytes b)
{
    if (b.len)
        put_len_field(w, num, b.p, b.len);
}

static void put_u32(wr *w, uint32_t num, uint32_t v)
{
    if (v) {
        put_varint(w, (uint64_t)num << 3);
        put_varint(w, v);
    }
}

static size_t entry_size(const aios__env_ctx_entry *e)
{
    wr c = { NULL, 0 };
    put_bytes(&c, 1, e->key);
    put_bytes(&c, 2, e->value);
    return c.n;
}

static void ctx_write(wr *w, const aios__env_ctx_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        put_varint(w, (1u << 3) | 2);
        put_varint(w, entry_size(&e[i]));
        put_bytes(w, 1, e[i].key);
        put_bytes(w, 2, e[i].value);
    }
}

static size_t ctx_size(const aios__env_ctx_entry *e, size_t n)
{
    wr c = { NULL, 0 };
    ctx_write(&c, e, n);
    return c.n;
}

static void core_write(wr *w, const aios__env_core *core)
{
    aios__env_bytes mid = { core->message_id, AIOS__ENV_ID_LEN };
    put_bytes(w, 1, mid);
    if (core->nentries) {
        put_varint(w, (2u << 3) | 2);
        put_varint(w, ctx_size(core->entries, core->nentries));
        ctx_write(w, core->entries, core->nentries);
    }
    put_u32(w, 3, core->chunk_size);
    put(w, core->unknown.p, core->unknown.len);
}

static void recipient_write(wr *w, const aios__env_recipient *r)
{
    put_u32(w, 1, r->kind);
    if (r->has_key)
        put_len_field(w, 2, r->key.p, r->key.len);
    put_bytes(w, 3, r->wrapped_key);
    put_bytes(w, 4, r->recipient_public);
    put_bytes(w, 5, r->ephemeral_public);
    put_bytes(w, 6, r->label);
    put(w, r->unknown.p, r->unknown.len);
}

static size_t recipient_size(const aios__env_recipient *r)
{
    wr c = { NULL, 0 };
    recipient_write(&c, r);
    return c.n;
}

static void list_write(wr *w, const aios__env_header *h)
{
    for (size_t i = 0; i < h->nrecipients; i++) {
        put_varint(w, (1u << 3) | 2);
        put_varint(w, recipient_size(&h->recipients[i]));
        recipient_write(w, &h->recipients[i]);
    }
    put(w, h->list_unknown.p, h->list_unknown.len);
}

/* --------------------------------------------------- context: writer */

int aios__env_context_encode(aios_buffer **out, const aios__env_ctx_entry *e, size_t n)
{
    size_t len;
    wr w;
    int rc;

    *out = NULL;
    if ((rc = aios__env_context_check(e, n)) != AIOS_OK)
        return rc;
    len = ctx_size(e, n);
    if (len > AIOS__ENV_CTX_MAX)
        return aios__fail(AIOS_E_LIMIT, "envelope context: its encoding of %zu bytes is over "
                          "%d", len, AIOS__ENV_CTX_MAX);
    if ((rc = aios__buffer_new(out, len, 0)) != AIOS_OK)
        return rc;
    w.p = aios_buffer_data_mut(*out);
    w.n = 0;
    ctx_write(&w, e, n);
    return AIOS_OK;
}

int aios__env_context_canonicalize(aios__env_ctx_entry *e, size_t n)
{
    int rc;

    if (n > AIOS__ENV_CTX_ENTRIES_MAX)
        return aios__fail(AIOS_E_LIMIT, "envelope context: %zu entries (at most %d)", n,
                          AIOS__ENV_CTX_ENTRIES_MAX);
    AIOS__CHECK_ARG(n == 0 || e != NULL, "entries is NULL");
    for (size_t i = 0; i < n; i++) {
        AIOS__CHECK_ARG((e[i].key.p || !e[i].key.len) && (e[i].value.p || !e[i].value.len),
                        "a context string is NULL");
        if (is_reserved(&e[i].key))
            return aios__fail(AIOS_E_INVALID_ARGUMENT, "envelope context: keys beginning with "
                              "\"aios.\" are reserved for the library");
    }
    if (n > 1)
        qsort(e, n, sizeof(*e), entry_cmp);
    for (size_t i = 1; i < n; i++)
        if (key_cmp(&e[i - 1].key, &e[i].key) == 0)
            return aios__fail(AIOS_E_INVALID_ARGUMENT, "envelope context: a key is given twice");
    rc = aios__env_context_check(e, n);
    if (rc == AIOS_E_FORMAT)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s", aios_last_error_message());
    if (rc != AIOS_OK)
        return rc;
    if (ctx_size(e, n) > AIOS__ENV_CTX_MAX)
        return aios__fail(AIOS_E_LIMIT, "envelope context: its encoding is over %d bytes",
                          AIOS__ENV_CTX_MAX);
    return AIOS_OK;
}

/* ---------------------------------------------------------- recipients */

static int empty(aios__env_bytes b)
{
    return b.len == 0;
}

/* The record rules; pbc: the key reference judged by protobuf-c (the
 * reference decoder, AIOS__ENV_DECODE_PBC). */
static int recipient_rules(aios__env_recipient *r, int pbc)
{
    memset(&r->keyref, 0, sizeof(r->keyref));
    if (r->kind == 0)
        return aios__fail(AIOS_E_FORMAT, "envelope recipient: kind 0 (or absent) is invalid");
    if (r->wrapped_key.len > AIOS__ENV_WRAPPED_MAX)
        return aios__fail(AIOS_E_FORMAT, "envelope recipient: a wrapped key of %zu bytes is "
                          "over %d", r->wrapped_key.len, AIOS__ENV_WRAPPED_MAX);
    switch (r->kind) {
    case AIOS__ENV_KIND_KEK:
        if (!r->has_key || r->key.len > AIOS__ENV_KEYREF_MAX)
            return aios__fail(AIOS_E_FORMAT, "envelope recipient (kek): the key reference is "
                              "missing or over %d bytes", AIOS__ENV_KEYREF_MAX);
        if ((pbc ? aios__keyref_decode_pbc(&r->keyref, r->key.p, r->key.len)
                 : aios__keyref_decode(&r->keyref, r->key.p, r->key.len)) != AIOS_OK)
            return aios__error_prefix("envelope recipient (kek)");
        if (empty(r->wrapped_key))
            return aios__fail(AIOS_E_FORMAT, "envelope recipient (kek): the wrapped key is "
                              "empty");
        if (!empty(r->recipient_public) || !empty(r->ephemeral_public) || !empty(r->label))
            return aios__fail(AIOS_E_FORMAT, "envelope recipient (kek): fields 4..6 must be "
                              "absent");
        return AIOS_OK;
    case AIOS__ENV_KIND_X25519:
        if (r->has_key)
            return aios__fail(AIOS_E_FORMAT, "envelope recipient (x25519-hpke): a key reference "
                              "is not allowed");
        if (r->wrapped_key.len != AIOS__ENV_HPKE_CT_LEN)
            return aios__fail(AIOS_E_FORMAT, "envelope recipient (x25519-hpke): the wrapped key "
                              "must be %d bytes", AIOS__ENV_HPKE_CT_LEN);
        if (r->recipient_public.len != AIOS__ENV_X25519_LEN ||
            r->ephemeral_public.len != AIOS__ENV_X25519_LEN)
            return aios__fail(AIOS_E_FORMAT, "envelope recipient (x25519-hpke): public keys "
                              "must be %d bytes", AIOS__ENV_X25519_LEN);
        if (r->label.len > AIOS__ENV_LABEL_MAX)
            return aios__fail(AIOS_E_FORMAT, "envelope recipient (x25519-hpke): the label is "
                              "over %d bytes", AIOS__ENV_LABEL_MAX);
        if (r->label.len && (!aios__utf8_valid(r->label.p, r->label.len) ||
                             has_control(r->label.p, r->label.len)))
            return aios__fail(AIOS_E_FORMAT, "envelope recipient (x25519-hpke): the label is "
                              "not UTF-8 without control characters");
        return AIOS_OK;
    default:
        /* Section 6.3: generic bounds only; skipped when opening. */
        return AIOS_OK;
    }
}

int aios__env_recipient_check(aios__env_recipient *r)
{
    return recipient_rules(r, 0);
}

/* -------------------------------------------------------------- encode */

static int prefix_check(const aios__env_prefix *p)
{
    uint8_t b[AIOS__ENV_PREFIX_LEN];
    aios__env_prefix back;
    aios__env_prefix_encode(b, p);
    return aios__env_prefix_decode(&back, b, sizeof(b), AIOS__ENV_ACCEPT_M | AIOS__ENV_ACCEPT_S);
}

static int core_rules(const aios__env_core *core, uint8_t type)
{
    if (type == AIOS__ENV_TYPE_M &&
        (core->chunk_size < AIOS__ENV_CHUNK_MIN || core->chunk_size > AIOS__ENV_CHUNK_MAX))
        return aios__fail(AIOS_E_FORMAT, "envelope core: chunk size %u is outside %u..%u",
                          core->chunk_size, AIOS__ENV_CHUNK_MIN, AIOS__ENV_CHUNK_MAX);
    if (type == AIOS__ENV_TYPE_S && core->chunk_size != 0)
        return aios__fail(AIOS_E_FORMAT, "envelope core: a session header has no chunk size");
    return AIOS_OK;
}

int aios__env_header_encode(aios_buffer **out, const aios__env_header *h, const uint8_t *kh)
{
    size_t lc, lr, total, rlen;
    uint8_t *p;
    wr w;
    int rc;

    *out = NULL;
    AIOS__CHECK_ARG(h && h->commitment && (kh || h->tag), "header, commitment or tag is NULL");
    AIOS__CHECK_ARG(h->core.nentries == 0 || h->core.entries, "context entries are NULL");
    AIOS__CHECK_ARG(h->nrecipients == 0 || h->recipients, "recipients are NULL");
    if ((rc = prefix_check(&h->prefix)) != AIOS_OK)
        return rc;
    if ((rc = aios__env_context_check(h->core.entries, h->core.nentries)) != AIOS_OK)
        return rc;
    if (ctx_size(h->core.entries, h->core.nentries) > AIOS__ENV_CTX_MAX)
        return aios__fail(AIOS_E_LIMIT, "envelope context: its encoding is over %d bytes",
                          AIOS__ENV_CTX_MAX);
    if ((rc = core_rules(&h->core, h->prefix.type)) != AIOS_OK)
        return rc;
    w.p = NULL;
    w.n = 0;
    core_write(&w, &h->core);
    lc = w.n;
    if (lc > AIOS__ENV_CORE_MAX)
        return aios__fail(AIOS_E_LIMIT, "envelope core: %zu bytes (at most %d)", lc,
                          AIOS__ENV_CORE_MAX);
    if (h->nrecipients == 0)
        return aios__fail(AIOS_E_FORMAT, "envelope recipients: none");
    if (h->nrecipients > AIOS__ENV_RECIPIENTS_MAX)
        return aios__fail(AIOS_E_LIMIT, "envelope recipients: %zu (at most %d)", h->nrecipients,
                          AIOS__ENV_RECIPIENTS_MAX);
    for (size_t i = 0; i < h->nrecipients; i++) {
        aios__env_recipient r = h->recipients[i];
        if ((rc = aios__env_recipient_check(&r)) != AIOS_OK)
            return aios__error_prefix("recipient %zu", i);
        rlen = recipient_size(&r);
        if (rlen > AIOS__ENV_RECIPIENT_MAX_LEN)
            return aios__fail(AIOS_E_LIMIT, "envelope recipient %zu: %zu bytes encoded (at most "
                              "%d)", i, rlen, AIOS__ENV_RECIPIENT_MAX_LEN);
    }
    w.n = 0;
    list_write(&w, h);
    lr = w.n;
    if (lr > AIOS__ENV_RECIPIENTS_MAX_LEN)
        return aios__fail(AIOS_E_LIMIT, "envelope recipients: %zu bytes (at most %d)", lr,
                          AIOS__ENV_RECIPIENTS_MAX_LEN);

    total = AIOS__ENV_PREFIX_LEN + 4 + lc + 4 + lr + 2 * AIOS__ENV_KEY_LEN;
    if ((rc = aios__buffer_new(out, total, 0)) != AIOS_OK)
        return rc;
    p = aios_buffer_data_mut(*out);
    aios__env_prefix_encode(p, &h->prefix);
    be32_put(p + AIOS__ENV_PREFIX_LEN, (uint32_t)lc);
    w.p = p + AIOS__ENV_PREFIX_LEN + 4;
    w.n = 0;
    core_write(&w, &h->core);
    be32_put(p + AIOS__ENV_PREFIX_LEN + 4 + lc, (uint32_t)lr);
    w.p = p + AIOS__ENV_PREFIX_LEN + 8 + lc;
    w.n = 0;
    list_write(&w, h);
    memcpy(p + total - 2 * AIOS__ENV_KEY_LEN, h->commitment, AIOS__ENV_KEY_LEN);
    if (kh)
        aios__env_header_tag(p + total - AIOS__ENV_KEY_LEN, kh, p, total - AIOS__ENV_KEY_LEN);
    else
        memcpy(p + total - AIOS__ENV_KEY_LEN, h->tag, AIOS__ENV_KEY_LEN);
    return AIOS_OK;
}

/* -------------------------------------------------------------- decode */

/* A known field with another wire type than its own. */
static int bad_field(const char *what, const aios__proto_field *f)
{
    return aios__fail(AIOS_E_FORMAT, "%s: field %u has the wrong wire type %u", what, f->number,
                      f->wire_type);
}

static int not_canonical(const char *what)
{
    return aios__fail(AIOS_E_FORMAT, "%s: not in canonical encoding", what);
}

/* How a core or recipient list is judged canonical (FORMATS.md rule 4):
 * by the library's own walk (aios__proto_field_canonical for every known
 * field, aios__proto_tail_canonical for the rest) unless the bytes are
 * our own encoding (AIOS__ENV_DECODE_OWN: no check) or protobuf-c's
 * unpack and re-pack was asked for (AIOS__ENV_DECODE_PBC: the reference
 * the differential fuzz target compares the walk with). */
#define WALK(mode) (((mode) & (AIOS__ENV_DECODE_OWN | AIOS__ENV_DECODE_PBC)) == 0)

/* Step 6 scan: context size and entry count, before anything allocates;
 * the known fields (1..3) each at most once, in order, before any other
 * (a canonical encoding; so one context field holds every entry).  The
 * walk refuses any other order here; with the reference judge the rest is
 * left to protobuf-c's check, and only the first context is counted. */
static int core_scan(const uint8_t *p, size_t len, size_t *nentries, unsigned mode)
{
    aios__proto_field f, g;
    size_t pos = 0;
    uint32_t last = 0;
    int r, unknown = 0;

    *nentries = 0;
    while ((r = aios__proto_next_field(p, len, &pos, &f, "envelope core")) == 1) {
        size_t cpos = 0;
        if (f.number > 3) {
            unknown = 1;
            continue;
        }
        if (unknown || f.number <= last) {
            /* Not canonical.  The walk says so here; the reference judge
             * (protobuf-c's re-pack) says so after unpacking, so nothing
             * past this point may decide its verdict first (a context
             * given twice must not reach the entry limit here). */
            if (WALK(mode))
                return not_canonical("envelope core");
            continue;
        }
        last = f.number;
        if (f.number != 2 || f.wire_type != 2)
            continue;
        if (f.len > AIOS__ENV_CTX_MAX)
            return aios__fail(AIOS_E_LIMIT, "envelope context: %zu bytes (at most %d)", f.len,
                              AIOS__ENV_CTX_MAX);
        while ((r = aios__proto_next_field(f.data, f.len, &cpos, &g, "envelope context")) == 1) {
            if (g.number == 1 && ++*nentries > AIOS__ENV_CTX_ENTRIES_MAX)
                return aios__fail(AIOS_E_LIMIT, "envelope context: more than %d entries",
                                  AIOS__ENV_CTX_ENTRIES_MAX);
        }
        if (r != 0)
            return r;
    }
    return r;   /* 0 (AIOS_OK) or AIOS_E_FORMAT */
}

/* The context's n entries (views into p), without the context rules. */
static int entries_take(aios__env_header *h, const uint8_t *p, size_t len, size_t n,
                        unsigned mode)
{
    aios__proto_field f, g;
    size_t pos = 0, i = 0, start, estart;
    int r;

    if (n == 0)
        return AIOS_OK;
    h->entries_owned = aios__calloc(n, sizeof(*h->entries_owned));
    if (!h->entries_owned)
        return aios__nomem("envelope context");
    for (;;) {
        aios__env_ctx_entry *e;
        size_t epos = 0;
        uint32_t last = 0;
        start = pos;
        if ((r = aios__proto_next_field(p, len, &pos, &f, "envelope context")) != 1)
            break;
        if (f.number != 1)
            return aios__fail(AIOS_E_FORMAT, "envelope context: unknown field %u (the context "
                              "takes none)", f.number);
        if (f.wire_type != 2 || i >= n)
            return bad_field("envelope context", &f);
        if (WALK(mode) && !aios__proto_field_canonical(p, start, &f, AIOS__PROTO_MESSAGE))
            return not_canonical("envelope context");
        e = &h->entries_owned[i++];
        for (;;) {
            estart = epos;
            if ((r = aios__proto_next_field(f.data, f.len, &epos, &g, "envelope context")) != 1)
                break;
            if (g.number != 1 && g.number != 2)
                return aios__fail(AIOS_E_FORMAT, "envelope context: entry %zu: unknown field %u "
                                  "(entries take none)", i - 1, g.number);
            if (g.wire_type != 2)
                return bad_field("envelope context", &g);
            if (WALK(mode) && (g.number <= last ||
                               !aios__proto_field_canonical(f.data, estart, &g, AIOS__PROTO_STRING)))
                return not_canonical("envelope context");
            last = g.number;
            if (g.number == 1) {
                e->key.p = g.data;
                e->key.len = g.len;
            } else {
                e->value.p = g.data;
                e->value.len = g.len;
            }
        }
        if (r != 0)
            return r;
    }
    if (r != 0)
        return r;
    if (i != n)
        return aios__fail(AIOS_E_INTERNAL, "envelope context: entry count changed");
    h->core.entries = h->entries_owned;
    h->core.nentries = n;
    return AIOS_OK;
}

static int core_decode(aios__env_header *h, const uint8_t *p, size_t len, unsigned mode)
{
    static const int types[4] = { 0, AIOS__PROTO_BYTES, AIOS__PROTO_MESSAGE, AIOS__PROTO_UINT32 };
    Aios__V1__EnvelopeCore *msg;
    aios__proto_field f;
    size_t n, pos = 0, start;
    int r, rc, have_mid = 0;

    if ((rc = core_scan(p, len, &n, mode)) != AIOS_OK)
        return rc;
    if (mode & AIOS__ENV_DECODE_PBC) {
        msg = aios__proto_unpack(&aios__v1__envelope_core__descriptor, p, len, "envelope core");
        if (!msg)
            return aios_last_error_status();
        rc = aios__proto_check_canonical(msg, p, len, "envelope core", 0);
        aios__v1__envelope_core__free_unpacked(msg, aios__proto_allocator());
        if (rc != AIOS_OK)
            return rc;
    }
    h->core_raw.p = p;
    h->core_raw.len = len;
    for (;;) {
        start = pos;
        if ((r = aios__proto_next_field(p, len, &pos, &f, "envelope core")) != 1)
            break;
        if (f.number > 3) {
            h->core.unknown.p = p + start;
            h->core.unknown.len = len - start;
            if (WALK(mode) &&
                (r = aios__proto_tail_canonical(p + start, len - start, 3, "envelope core")) != 0)
                return r;
            break;
        }
        if (f.wire_type != (f.number == 3 ? 0u : 2u))
            return bad_field("envelope core", &f);
        if (WALK(mode) && !aios__proto_field_canonical(p, start, &f, types[f.number]))
            return not_canonical("envelope core");
        if (f.number == 1) {
            if (f.len != AIOS__ENV_ID_LEN)
                return aios__fail(AIOS_E_FORMAT, "envelope core: the message id must be %d "
                                  "bytes, not %zu", AIOS__ENV_ID_LEN, f.len);
            memcpy(h->core.message_id, f.data, AIOS__ENV_ID_LEN);
            have_mid = 1;
        } else if (f.number == 2) {
            if (f.len == 0)
                return aios__fail(AIOS_E_FORMAT, "envelope core: an empty context must be "
                                  "omitted, not encoded empty");
            h->ctx.p = f.data;
            h->ctx.len = f.len;
            if ((rc = entries_take(h, f.data, f.len, n, mode)) != AIOS_OK)
                return rc;
            if ((rc = aios__env_context_check(h->core.entries, n)) != AIOS_OK)
                return rc;
        } else {
            h->core.chunk_size = (uint32_t)f.varint;   /* canonical: fits */
        }
    }
    if (r < 0)
        return r;
    if (!have_mid)
        return aios__fail(AIOS_E_FORMAT, "envelope core: no message id");
    if (h->core.nentries == 0 && h->ctx.len != 0)
        return aios__fail(AIOS_E_FORMAT, "envelope context: present but without entries");
    return core_rules(&h->core, h->prefix.type);
}

/* Step 7 scan: record count and sizes, before anything allocates. */
static int list_scan(const uint8_t *p, size_t len, size_t *n)
{
    aios__proto_field f;
    size_t pos = 0;
    int r;

    *n = 0;
    while ((r = aios__proto_next_field(p, len, &pos, &f, "envelope recipients")) == 1) {
        if (f.number != 1 || f.wire_type != 2)
            continue;
        if (++*n > AIOS__ENV_RECIPIENTS_MAX)
            return aios__fail(AIOS_E_LIMIT, "envelope recipients: more than %d",
                              AIOS__ENV_RECIPIENTS_MAX);
        if (f.len > AIOS__ENV_RECIPIENT_MAX_LEN)
            return aios__fail(AIOS_E_LIMIT, "envelope recipient %zu: %zu bytes encoded (at "
                              "most %d)", *n - 1, f.len, AIOS__ENV_RECIPIENT_MAX_LEN);
    }
    if (r != 0)
        return r;
    if (*n == 0)
        return aios__fail(AIOS_E_FORMAT, "envelope recipients: none");
    return AIOS_OK;
}

static int recipient_take(aios__env_recipient *r, const uint8_t *p, size_t len, unsigned mode)
{
    static const int types[7] = { 0, AIOS__PROTO_UINT32, AIOS__PROTO_MESSAGE, AIOS__PROTO_BYTES,
                                  AIOS__PROTO_BYTES, AIOS__PROTO_BYTES, AIOS__PROTO_STRING };
    aios__proto_field f;
    size_t pos = 0, start;
    uint32_t last = 0;
    int rc;

    r->raw.p = p;
    r->raw.len = len;
    for (;;) {
        start = pos;
        if ((rc = aios__proto_next_field(p, len, &pos, &f, "envelope recipient")) != 1)
            break;
        if (f.number > 6) {
            r->unknown.p = p + start;
            r->unknown.len = len - start;
            rc = WALK(mode) ? aios__proto_tail_canonical(p + start, len - start, 6,
                                                         "envelope recipient")
                            : aios__proto_wire_valid(p + start, len - start, "envelope recipient");
            if (rc != AIOS_OK)
                return rc;
            break;
        }
        if (f.wire_type != (f.number == 1 ? 0u : 2u))
            return bad_field("envelope recipient", &f);
        if (WALK(mode) && (f.number <= last ||
                           !aios__proto_field_canonical(p, start, &f, types[f.number])))
            return not_canonical("envelope recipient");
        last = f.number;
        switch (f.number) {
        case 1: r->kind = (uint32_t)f.varint; break;   /* canonical: fits */
        case 2: r->has_key = 1; r->key.p = f.data; r->key.len = f.len; break;
        case 3: r->wrapped_key.p = f.data; r->wrapped_key.len = f.len; break;
        case 4: r->recipient_public.p = f.data; r->recipient_public.len = f.len; break;
        case 5: r->ephemeral_public.p = f.data; r->ephemeral_public.len = f.len; break;
        default: r->label.p = f.data; r->label.len = f.len; break;
        }
    }
    if (rc < 0)
        return rc;
    /* A key reference is a message of its own, canonical too (a KEK
     * record's is decoded, and so checked, by the record rules). */
    if (WALK(mode) && r->has_key && r->kind != AIOS__ENV_KIND_KEK &&
        (rc = aios__keyref_canonical(r->key.p, r->key.len)) != AIOS_OK)
        return rc;
    if ((mode & AIOS__ENV_DECODE_PBC) && r->has_key &&
        (rc = aios__proto_wire_valid(r->key.p, r->key.len, "key reference")) != AIOS_OK)
        return rc;
    return recipient_rules(r, (mode & AIOS__ENV_DECODE_PBC) != 0);
}

static int list_decode(aios__env_header *h, const uint8_t *p, size_t len, unsigned mode)
{
    Aios__V1__RecipientList *msg;
    aios__proto_field f;
    size_t n, i = 0, pos = 0, start;
    int r, rc;

    if ((rc = list_scan(p, len, &n)) != AIOS_OK)
        return rc;
    if (mode & AIOS__ENV_DECODE_PBC) {
        msg = aios__proto_unpack(&aios__v1__recipient_list__descriptor, p, len,
                                 "envelope recipients");
        if (!msg)
            return aios_last_error_status();
        rc = aios__proto_check_canonical(msg, p, len, "envelope recipients", 0);
        aios__v1__recipient_list__free_unpacked(msg, aios__proto_allocator());
        if (rc != AIOS_OK)
            return rc;
    }
    h->recipients_raw.p = p;
    h->recipients_raw.len = len;
    h->recipients_owned = aios__calloc(n, sizeof(*h->recipients_owned));
    if (!h->recipients_owned)
        return aios__nomem("envelope recipients");
    for (;;) {
        start = pos;
        if ((r = aios__proto_next_field(p, len, &pos, &f, "envelope recipients")) != 1)
            break;
        if (f.number != 1) {
            h->list_unknown.p = p + start;
            h->list_unknown.len = len - start;
            if (WALK(mode) && (r = aios__proto_tail_canonical(p + start, len - start, 1,
                                                              "envelope recipients")) != 0)
                return r;
            break;
        }
        if (f.wire_type != 2 || i >= n)
            return bad_field("envelope recipients", &f);
        if (WALK(mode) && !aios__proto_field_canonical(p, start, &f, AIOS__PROTO_MESSAGE))
            return not_canonical("envelope recipients");
        if ((rc = recipient_take(&h->recipients_owned[i], f.data, f.len, mode)) != AIOS_OK)
            return aios__error_prefix("recipient %zu", i);
        i++;
    }
    if (r < 0)
        return r;
    if (i != n)
        return aios__fail(AIOS_E_INTERNAL, "envelope recipients: record count changed");
    h->recipients = h->recipients_owned;
    h->nrecipients = n;
    return AIOS_OK;
}

void aios__env_header_clear(aios__env_header *h)
{
    if (!h)
        return;
    aios__free(h->entries_owned);
    aios__free(h->recipients_owned);
    memset(h, 0, sizeof(*h));
}

int aios__env_header_decode(aios__env_header *h, const uint8_t *data, size_t len,
                            unsigned accept)
{
    size_t lc, lr, off;
    unsigned mode = accept & (AIOS__ENV_DECODE_OWN | AIOS__ENV_DECODE_PBC);
    int rc;

    memset(h, 0, sizeof(*h));
    AIOS__CHECK_ARG(data || len == 0, "data is NULL");
    accept &= AIOS__ENV_ACCEPT_M | AIOS__ENV_ACCEPT_S;
    /* Steps 1-5. */
    if ((rc = aios__env_prefix_decode(&h->prefix, data, len, accept)) != AIOS_OK)
        goto fail;
    /* Step 6. */
    off = AIOS__ENV_PREFIX_LEN;
    if (len - off < 4) {
        rc = aios__fail(AIOS_E_FORMAT, "envelope header: truncated at %zu bytes (core length)",
                        len);
        goto fail;
    }
    lc = be32_get(data + off);
    off += 4;
    if (lc < AIOS__ENV_CORE_MIN) {
        rc = aios__fail(AIOS_E_FORMAT, "envelope header: core length %zu is below %d", lc,
                        AIOS__ENV_CORE_MIN);
        goto fail;
    }
    if (lc > AIOS__ENV_CORE_MAX) {
        rc = aios__fail(AIOS_E_LIMIT, "envelope header: core length %zu is over %d", lc,
                        AIOS__ENV_CORE_MAX);
        goto fail;
    }
    if (len - off < lc) {
        rc = aios__fail(AIOS_E_FORMAT, "envelope header: truncated at %zu bytes (core of %zu)",
                        len, lc);
        goto fail;
    }
    if ((rc = core_decode(h, data + off, lc, mode)) != AIOS_OK)
        goto fail;
    off += lc;
    /* Step 7. */
    if (len - off < 4) {
        rc = aios__fail(AIOS_E_FORMAT, "envelope header: truncated at %zu bytes (recipient list "
                        "length)", len);
        goto fail;
    }
    lr = be32_get(data + off);
    off += 4;
    if (lr == 0) {
        rc = aios__fail(AIOS_E_FORMAT, "envelope header: empty recipient list");
        goto fail;
    }
    if (lr > AIOS__ENV_RECIPIENTS_MAX_LEN) {
        rc = aios__fail(AIOS_E_LIMIT, "envelope header: recipient list length %zu is over %d",
                        lr, AIOS__ENV_RECIPIENTS_MAX_LEN);
        goto fail;
    }
    if (len - off < lr) {
        rc = aios__fail(AIOS_E_FORMAT, "envelope header: truncated at %zu bytes (recipient list "
                        "of %zu)", len, lr);
        goto fail;
    }
    if ((rc = list_decode(h, data + off, lr, mode)) != AIOS_OK)
        goto fail;
    off += lr;
    /* Step 8. */
    if (len - off < 2 * AIOS__ENV_KEY_LEN) {
        rc = aios__fail(AIOS_E_FORMAT, "envelope header: truncated at %zu bytes (commitment and "
                        "tag)", len);
        goto fail;
    }
    h->commitment = data + off;
    h->tag = data + off + AIOS__ENV_KEY_LEN;
    off += 2 * AIOS__ENV_KEY_LEN;
    h->raw.p = data;
    h->raw.len = off;
    /* Step 13 (structural part). */
    if (h->prefix.type == AIOS__ENV_TYPE_S && len != off) {
        rc = aios__fail(AIOS_E_ENVELOPE_TRAILING_DATA, "envelope session header: %zu bytes "
                        "after the header tag", len - off);
        goto fail;
    }
    return AIOS_OK;
fail:
    if (rc == AIOS_OK)
        rc = aios__fail(AIOS_E_INTERNAL, "envelope header: decode failed without a status");
    aios__env_header_clear(h);
    return rc;
}

/* -------------------------------------------------------- key schedule */

#define LABEL_CONTENT    "aios envelope v1 content key"
#define LABEL_COMMITMENT "aios envelope v1 commitment"
#define LABEL_HEADER     "aios envelope v1 header key"
#define LABEL_SIV        "aios envelope v1 siv key"
#define LABEL_RECORD     "aios envelope v1 record key"
#define LABEL_DIGEST     "aios envelope v1 core digest"
#define ENV_INFO_MAX     (sizeof(LABEL_CONTENT) - 1 + 2 + AIOS__ENV_RECORD_ID_LEN)

void aios__env_prk(uint8_t prk[AIOS__ENV_KEY_LEN], const uint8_t dk[AIOS__ENV_DK_LEN],
                   const uint8_t mid[AIOS__ENV_ID_LEN])
{
    aios__hkdf_sha256_extract(prk, mid, AIOS__ENV_ID_LEN, dk, AIOS__ENV_DK_LEN);
}

/* HKDF-Expand's info for a label (FORMAT.md 9): the label's text, the
 * suite (big-endian), the record id for LABEL_RECORD; *need = the output
 * length the label takes.  0 for a bad label or record id. */
static size_t env_info(uint8_t info[ENV_INFO_MAX], size_t *need, aios__env_label label,
                       uint16_t suite, const uint8_t *r)
{
    const char *text;
    size_t tlen, n;

    *need = AIOS__ENV_KEY_LEN;
    switch (label) {
    case AIOS__ENV_LABEL_CONTENT:    text = LABEL_CONTENT; break;
    case AIOS__ENV_LABEL_COMMITMENT: text = LABEL_COMMITMENT; break;
    case AIOS__ENV_LABEL_HEADER:     text = LABEL_HEADER; break;
    case AIOS__ENV_LABEL_SIV:        text = LABEL_SIV; *need = AIOS__ENV_SIV_KEY_LEN; break;
    case AIOS__ENV_LABEL_RECORD:     text = LABEL_RECORD; break;
    default: return 0;
    }
    if ((label == AIOS__ENV_LABEL_RECORD) != (r != NULL))
        return 0;
    tlen = strlen(text);
    memcpy(info, text, tlen);
    info[tlen] = (uint8_t)(suite >> 8);
    info[tlen + 1] = (uint8_t)suite;
    n = tlen + 2;
    if (r) {
        memcpy(info + n, r, AIOS__ENV_RECORD_ID_LEN);
        n += AIOS__ENV_RECORD_ID_LEN;
    }
    return n;
}

int aios__env_expand(uint8_t *out, size_t out_len, const uint8_t prk[AIOS__ENV_KEY_LEN],
                     aios__env_label label, uint16_t suite, const uint8_t *r)
{
    uint8_t info[ENV_INFO_MAX];
    size_t need, n = env_info(info, &need, label, suite, r);
    int rc;

    if (n == 0 || out_len != need) {
        if (out && out_len)
            aios__wipe(out, out_len);
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "envelope key schedule: bad label, length "
                          "or record id");
    }
    rc = aios__hkdf_sha256_expand(out, out_len, prk, info, n);
    if (rc != AIOS_OK)
        aios__wipe(out, out_len);
    return rc;
}

int aios__env_expand2(uint8_t a[AIOS__ENV_KEY_LEN], aios__env_label la,
                      uint8_t b[AIOS__ENV_KEY_LEN], aios__env_label lb,
                      const uint8_t prk[AIOS__ENV_KEY_LEN], uint16_t suite)
{
    /* HKDF-Expand of one block: T(1) = HMAC(PRK, info || 0x01). */
    uint8_t ia[ENV_INFO_MAX + 1], ib[ENV_INFO_MAX + 1];
    aios__hmac_sha256_key k;
    size_t needa, needb, na = env_info(ia, &needa, la, suite, NULL),
           nb = env_info(ib, &needb, lb, suite, NULL);

    if (na == 0 || nb == 0 || needa != AIOS__ENV_KEY_LEN || needb != AIOS__ENV_KEY_LEN) {
        aios__wipe(a, AIOS__ENV_KEY_LEN);
        aios__wipe(b, AIOS__ENV_KEY_LEN);
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "envelope key schedule: a label that "
                          "aios__env_expand2 does not derive");
    }
    ia[na++] = 1;
    ib[nb++] = 1;
    aios__hmac_sha256_key_init(&k, prk, AIOS__ENV_KEY_LEN);
    aios__hmac_sha256_key_mac2(&k, a, ia, na, b, ib, nb);
    aios__hmac_sha256_key_wipe(&k);
    return AIOS_OK;
}

int aios__env_derive(uint8_t *out, size_t out_len, const uint8_t dk[AIOS__ENV_DK_LEN],
                     const uint8_t mid[AIOS__ENV_ID_LEN], aios__env_label label,
                     uint16_t suite, const uint8_t *r)
{
    uint8_t prk[AIOS__ENV_KEY_LEN];
    int rc;
    aios__env_prk(prk, dk, mid);
    rc = aios__env_expand(out, out_len, prk, label, suite, r);
    aios__wipe(prk, sizeof(prk));
    return rc;
}

void aios__env_core_digest(uint8_t d[AIOS__ENV_KEY_LEN],
                           const uint8_t prefix[AIOS__ENV_PREFIX_LEN],
                           const uint8_t *core, size_t core_len,
                           const uint8_t commitment[AIOS__ENV_KEY_LEN])
{
    aios__sha256_ctx ctx;
    uint8_t lc[4];
    be32_put(lc, (uint32_t)core_len);
    aios__sha256_init(&ctx);
    aios__sha256_update(&ctx, (const uint8_t *)LABEL_DIGEST, sizeof(LABEL_DIGEST) - 1);
    aios__sha256_update(&ctx, prefix, AIOS__ENV_PREFIX_LEN);
    aios__sha256_update(&ctx, lc, sizeof(lc));
    aios__sha256_update(&ctx, core, core_len);
    aios__sha256_update(&ctx, commitment, AIOS__ENV_KEY_LEN);
    aios__sha256_final(&ctx, d);
}

void aios__env_header_tag(uint8_t t[AIOS__ENV_KEY_LEN], const uint8_t kh[AIOS__ENV_KEY_LEN],
                          const uint8_t *bytes, size_t len)
{
    aios__hmac_sha256(t, kh, AIOS__ENV_KEY_LEN, bytes, len);
}

int aios__env_header_verify(const aios__env_header *h, const uint8_t dk[AIOS__ENV_DK_LEN],
                            uint8_t *prk_out)
{
    uint8_t prk[AIOS__ENV_KEY_LEN], c[AIOS__ENV_KEY_LEN], kh[AIOS__ENV_KEY_LEN],
            t[AIOS__ENV_KEY_LEN];
    int rc;

    AIOS__CHECK_ARG(h && dk && h->commitment && h->tag && h->raw.p &&
                    h->raw.len >= 2 * AIOS__ENV_KEY_LEN, "not a decoded header");
    aios__env_prk(prk, dk, h->core.message_id);
    rc = aios__env_expand2(c, AIOS__ENV_LABEL_COMMITMENT, kh, AIOS__ENV_LABEL_HEADER, prk,
                           h->prefix.suite);
    if (rc == AIOS_OK && !aios__ct_equal(c, h->commitment, AIOS__ENV_KEY_LEN))
        rc = aios__fail(AIOS_E_ENVELOPE_COMMITMENT, "envelope header: the data key does not "
                        "match the key commitment");
    if (rc == AIOS_OK) {
        aios__env_header_tag(t, kh, h->raw.p, h->raw.len - AIOS__ENV_KEY_LEN);
        if (!aios__ct_equal(t, h->tag, AIOS__ENV_KEY_LEN))
            rc = aios__fail(AIOS_E_AUTH, "envelope header: the header tag does not verify");
    }
    if (prk_out) {
        if (rc == AIOS_OK)
            memcpy(prk_out, prk, sizeof(prk));
        else
            aios__wipe(prk_out, AIOS__ENV_KEY_LEN);
    }
    aios__wipe(prk, sizeof(prk));
    aios__wipe(kh, sizeof(kh));
    aios__wipe(c, sizeof(c));
    aios__wipe(t, sizeof(t));
    return rc;
}
