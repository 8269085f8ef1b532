/*
 * lib/envelope: rewrap (FORMAT.md section 10).  The header is opened and
 * authenticated with the caller's keys, the recipient list rebuilt (kept
 * records byte for byte, new records wrapping the same data key under the
 * same binding), and the header tag recomputed.  Prefix, core, commitment
 * and payload stay as they are.
 */
#include <string.h>

#include "core/internal.h"
#include "envelope/chunk.h"
#include "envelope/message.h"


static int removed_by(const aios__env_recipient *r, aios_key *const *keys, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        aios_key *k = keys[i];
        if (k == NULL)
            continue;
        if (r->kind == AIOS__ENV_KIND_KEK && aios_key_get_type(k) != AIOS_KEY_X25519) {
            if (r->keyref.version == aios_key_version(k) &&
                strcmp(r->keyref.key_id, aios_key_id(k)) == 0 &&
                strcmp(r->keyref.provider, aios_key_provider_name(k)) == 0)
                return 1;
        } else if (r->kind == AIOS__ENV_KIND_X25519 && aios_key_get_type(k) == AIOS_KEY_X25519) {
            aios_buffer *raw = NULL;
            int eq;
            if (aios_key_public_raw(k, &raw) != AIOS_OK)
                continue;
            eq = aios_buffer_len(raw) == r->recipient_public.len &&
                 memcmp(aios_buffer_data(raw), r->recipient_public.p, r->recipient_public.len) == 0;
            aios_buffer_free(raw);
            if (eq)
                return 1;
        }
    }
    return 0;
}

/* An added KEK replaces every version of the same provider and key id. */
static int replaced_by(const aios__env_recipient *r, aios_key *const *add, size_t n)
{
    size_t i;
    if (r->kind != AIOS__ENV_KIND_KEK)
        return 0;
    for (i = 0; i < n; i++) {
        if (add[i] == NULL || aios_key_get_type(add[i]) == AIOS_KEY_X25519)
            continue;
        if (strcmp(r->keyref.key_id, aios_key_id(add[i])) == 0 &&
            strcmp(r->keyref.provider, aios_key_provider_name(add[i])) == 0)
            return 1;
    }
    return 0;
}

static int rewrap_hdr(aios_buffer **out, const aios__env_hdr *hdr, aios_key *const *add,
                      size_t nadd, const aios_envelope_rewrap_options *ro)
{
    aios__env_recipient *list = NULL, *added = NULL;
    void *astate = NULL;
    aios_buffer *khbuf = NULL, *enc = NULL;
    aios__env_binding b;
    aios__env_header h;
    size_t i, n = 0;
    int rc;

    *out = NULL;
    list = aios__calloc(hdr->h.nrecipients + nadd + 1, sizeof(*list));
    if (list == NULL)
        return aios__fail(AIOS_E_NOMEM, "rewrap: out of memory");
    if (!(ro->flags & AIOS_ENVELOPE_REWRAP_REPLACE_ALL)) {
        for (i = 0; i < hdr->h.nrecipients; i++) {
            const aios__env_recipient *r = &hdr->h.recipients[i];
            if (removed_by(r, ro->remove, ro->remove_count) || replaced_by(r, add, nadd))
                continue;
            list[n++] = *r;
        }
    }
    if (n + nadd == 0) {
        rc = aios__fail(AIOS_E_INVALID_ARGUMENT, "rewrap would leave the message without recipients");
        goto done;
    }
    if (n + nadd > AIOS__ENV_RECIPIENTS_MAX) {
        rc = aios__fail(AIOS_E_LIMIT, "rewrap: %zu recipients is over %d", n + nadd,
                        AIOS__ENV_RECIPIENTS_MAX);
        goto done;
    }
    if (nadd > 0) {
        aios__env_binding_from_header(&b, &hdr->h);
        if ((rc = aios__env_recipients_wrap(&added, &astate, &b, add, nadd,
                                            aios_buffer_data(hdr->secret) + AIOS__ENV_KEY_LEN)) != AIOS_OK)
            goto done;
        memcpy(list + n, added, nadd * sizeof(*added));
        n += nadd;
    }
    if ((rc = aios__buffer_new(&khbuf, AIOS__ENV_KEY_LEN, AIOS_BUFFER_SECURE | AIOS__BUFFER_SLAB)) != AIOS_OK)
        goto done;
    if ((rc = aios__env_expand(aios_buffer_data_mut(khbuf), AIOS__ENV_KEY_LEN,
                               aios_buffer_data(hdr->secret), AIOS__ENV_LABEL_HEADER, hdr->suite,
                               NULL)) != AIOS_OK)
        goto done;
    h = hdr->h;
    h.recipients = list;
    h.nrecipients = n;
    h.commitment = hdr->commitment;
    if ((rc = aios__env_header_encode(&enc, &h, aios_buffer_data(khbuf))) != AIOS_OK)
        goto done;
    /* What must stay, byte for byte: prefix, Lc, core, C. */
    if (memcmp(aios_buffer_data(enc), aios_buffer_data(hdr->bytes),
               AIOS__ENV_PREFIX_LEN + 4 + hdr->h.core_raw.len) != 0) {
        rc = aios__fail(AIOS_E_INTERNAL, "rewrap: the core did not re-encode to the same bytes");
        goto done;
    }
    *out = enc;
    enc = NULL;
done:
    aios_buffer_free(enc);
    aios_buffer_free(khbuf);
    aios__env_recipients_free(astate);
    aios__free(list);
    return rc;
}

int aios_envelope_rewrap(aios_buffer **header_out, size_t *old_len_out,
                         const aios_envelope_keys *keys, const uint8_t *data, size_t data_len,
                         aios_key *const *add, size_t nadd, const aios_envelope_rewrap_options *opts)
{
    aios_envelope_rewrap_options ro;
    aios__env_open_opts oo;
    aios__env_hdr hdr;
    size_t i;
    int rc;

    AIOS__CHECK_ARG(header_out != NULL, "header_out is NULL");
    *header_out = NULL;
    if (old_len_out)
        *old_len_out = 0;
    AIOS__CHECK_ARG(keys != NULL, "keys is NULL");
    AIOS__CHECK_ARG(data != NULL || data_len == 0, "data is NULL");
    AIOS__CHECK_ARG(add != NULL || nadd == 0, "add is NULL");
    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    if ((rc = aios__env_rewrap_opts_get(&ro, opts)) != AIOS_OK)
        return rc;
    for (i = 0; i < nadd; i++)
        if (add[i] == NULL)
            return aios__fail(AIOS_E_INVALID_ARGUMENT, "add[%zu] is NULL", i);
    memset(&oo, 0, sizeof(oo));
    oo.max_attempts = ro.max_unwrap_attempts ? ro.max_unwrap_attempts : 8;
    oo.threads = 1;
    /* an S must be given alone; an M may be followed by its payload */
    rc = aios__env_hdr_open(&hdr, AIOS__ENV_ACCEPT_M | AIOS__ENV_ACCEPT_S, keys, data, data_len, &oo);
    if (rc != AIOS_OK)
        return rc;
    rc = rewrap_hdr(header_out, &hdr, add, nadd, &ro);
    if (rc == AIOS_OK && old_len_out)
        *old_len_out = aios_buffer_len(hdr.bytes);
    aios__env_hdr_clear(&hdr);
    return rc;
}

int aios_envelope_rewrap_fd(int out_fd, int in_fd, const aios_envelope_keys *keys,
                            aios_key *const *add, size_t nadd,
                            const aios_envelope_rewrap_options *opts)
{
    uint8_t *buf = NULL;
    aios_buffer *nh = NULL;
    size_t have = 0, need = AIOS__ENV_PREFIX_LEN + 4, got, old = 0;
    const size_t bs = (size_t)1 << 20;
    int rc;

    if ((rc = aios__ensure_init()) != AIOS_OK)
        return rc;
    buf = aios__malloc(bs > AIOS__ENV_HEADER_MAX ? bs : AIOS__ENV_HEADER_MAX);
    if (buf == NULL)
        return aios__fail(AIOS_E_NOMEM, "aios_envelope_rewrap_fd: out of memory");
    /* read exactly the header */
    for (;;) {
        if ((rc = aios__env_read_full(in_fd, buf + have, need - have, &got)) != AIOS_OK)
            goto done;
        have += got;
        if (have < need) {
            rc = aios__fail(have == 0 ? AIOS_E_FORMAT : AIOS_E_ENVELOPE_TRUNCATED,
                            "rewrap: the input ended inside the envelope header (%zu bytes)", have);
            goto done;
        }
        rc = aios_envelope_header_len(&need, buf, have);
        if (rc == AIOS_E_BUFFER_TOO_SMALL) {
            aios_error_clear();
            continue;
        }
        if (rc != AIOS_OK)
            goto done;
        if (have >= need)
            break;
    }
    if ((rc = aios_envelope_rewrap(&nh, &old, keys, buf, have, add, nadd, opts)) != AIOS_OK)
        goto done;
    if ((rc = aios__env_write_all(out_fd, aios_buffer_data(nh), aios_buffer_len(nh))) != AIOS_OK)
        goto done;
    /* the payload, copied unread */
    for (;;) {
        if ((rc = aios__env_read_full(in_fd, buf, bs, &got)) != AIOS_OK)
            goto done;
        if (got == 0)
            break;
        if ((rc = aios__env_write_all(out_fd, buf, got)) != AIOS_OK)
            goto done;
        if (got < bs)
            break;
    }
done:
    aios_buffer_free(nh);
    aios__free(buf);
    return rc;
}
