/*
 * lib/envelope: kind-1 and kind-2 recipient records, record selection and
 * the expected-context check (docs/FORMAT.md 6.1, 6.2, 6.3, 6.4, 7.3).  See
 * recipient.h.
 */
#include <string.h>

#include "recipient.h"
#include "core/internal.h"
#include "crypto/crypto.h"
#include "key/key_internal.h"

_Static_assert(AIOS__ENV_X25519_LEN == AIOS__X25519_LEN, "pkR is an X25519 point");
_Static_assert(AIOS__ENV_X25519_LEN == AIOS__HPKE_ENC_LEN, "enc is an X25519 point");
_Static_assert(AIOS__ENV_HPKE_CT_LEN == AIOS__ENV_DK_LEN + AIOS__HPKE_TAG_LEN,
               "the HPKE ciphertext is the data key and its tag");

static void put_u32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

void aios__env_binding_from_header(aios__env_binding *b, const aios__env_header *h)
{
    memset(b, 0, sizeof(*b));
    aios__env_prefix_encode(b->prefix, &h->prefix);
    b->mid = h->core.message_id;
    b->ctx = h->ctx;
}

/* ------------------------------------------------------------------ WAD */

int aios__env_kek_wad(aios_buffer **out, const aios__env_binding *b,
                      const uint8_t *keyref, size_t keyref_len)
{
    aios_buffer *buf = NULL;
    uint8_t *p;
    size_t len;
    int rc;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    AIOS__CHECK_ARG(b != NULL && b->mid != NULL, "binding or message id is NULL");
    AIOS__CHECK_ARG(b->ctx.p != NULL || b->ctx.len == 0, "context bytes are NULL");
    AIOS__CHECK_ARG(keyref != NULL || keyref_len == 0, "key reference is NULL");
    if (b->ctx.len > AIOS__ENV_CTX_MAX)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "envelope kek WAD: a context of %zu bytes "
                          "is over %d", b->ctx.len, AIOS__ENV_CTX_MAX);
    if (keyref_len > AIOS__ENV_KEYREF_MAX)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "envelope kek WAD: a key reference of %zu "
                          "bytes is over %d", keyref_len, AIOS__ENV_KEYREF_MAX);

    len = AIOS__ENV_KEK_LABEL_LEN + AIOS__ENV_PREFIX_LEN + AIOS__ENV_ID_LEN +
          4 + b->ctx.len + 4 + 4 + keyref_len;
    if ((rc = aios__buffer_new(&buf, len, 0)) != AIOS_OK)
        return rc;
    p = aios_buffer_data_mut(buf);
    memcpy(p, AIOS__ENV_KEK_LABEL, AIOS__ENV_KEK_LABEL_LEN);
    p += AIOS__ENV_KEK_LABEL_LEN;
    memcpy(p, b->prefix, AIOS__ENV_PREFIX_LEN);
    p += AIOS__ENV_PREFIX_LEN;
    memcpy(p, b->mid, AIOS__ENV_ID_LEN);
    p += AIOS__ENV_ID_LEN;
    put_u32be(p, (uint32_t)b->ctx.len);
    p += 4;
    if (b->ctx.len)
        memcpy(p, b->ctx.p, b->ctx.len);
    p += b->ctx.len;
    put_u32be(p, AIOS__ENV_KIND_KEK);
    p += 4;
    put_u32be(p, (uint32_t)keyref_len);
    p += 4;
    if (keyref_len)
        memcpy(p, keyref, keyref_len);
    *out = buf;
    return AIOS_OK;
}

/* ----------------------------------------------------------- wrap, unwrap */

void aios__env_kek_record_clear(aios__env_kek_record *r)
{
    if (!r)
        return;
    aios_buffer_free(r->keyref);
    aios_buffer_free(r->wrapped);
    memset(r, 0, sizeof(*r));
}

int aios__env_kek_wrap(aios__env_kek_record *out, const aios__env_binding *b,
                       const aios_key *kek, const uint8_t dk[AIOS__ENV_DK_LEN])
{
    aios__keyref ref;
    aios_buffer *wad = NULL;
    const char *provider, *key_id;
    uint32_t version;
    size_t wlen;
    int rc;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    memset(out, 0, sizeof(*out));
    AIOS__CHECK_ARG(b != NULL && kek != NULL && dk != NULL, "binding, key or data key is NULL");

    provider = aios_key_provider_name(kek);
    key_id = aios_key_id(kek);
    version = aios_key_version(kek);
    if (aios__keyref_check(provider, key_id, version) != AIOS_OK) {
        char why[AIOS__ERROR_MESSAGE_MAX];
        const char *m = aios_last_error_message();
        strncpy(why, m ? m : "", sizeof(why) - 1);   /* the message buffer is rewritten below */
        why[sizeof(why) - 1] = '\0';
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "envelope kek wrap: the key cannot be named "
                          "in a key reference: %s", why);
    }
    memset(&ref, 0, sizeof(ref));
    memcpy(ref.provider, provider, strlen(provider));   /* lengths checked above */
    memcpy(ref.key_id, key_id, strlen(key_id));
    ref.version = version;

    if ((rc = aios__keyref_encode(&out->keyref, &ref)) != AIOS_OK)
        goto fail;
    if ((rc = aios__env_kek_wad(&wad, b, aios_buffer_data(out->keyref),
                                aios_buffer_len(out->keyref))) != AIOS_OK)
        goto fail;
    rc = aios_key_wrap(kek, &out->wrapped, dk, AIOS__ENV_DK_LEN, aios_buffer_data(wad),
                       aios_buffer_len(wad));
    aios_buffer_free(wad);
    if (rc != AIOS_OK) {
        aios__error_prefix("envelope kek wrap (%s '%s' version %u)", provider, key_id, version);
        goto fail;
    }
    wlen = aios_buffer_len(out->wrapped);
    if (wlen == 0 || wlen > AIOS__ENV_WRAPPED_MAX) {
        rc = aios__fail(AIOS_E_LIMIT, "envelope kek wrap (%s '%s' version %u): a wrapped key of "
                        "%zu bytes is outside 1..%d", provider, key_id, version, wlen,
                        AIOS__ENV_WRAPPED_MAX);
        goto fail;
    }
    out->rec.kind = AIOS__ENV_KIND_KEK;
    out->rec.has_key = 1;
    out->rec.key.p = aios_buffer_data(out->keyref);
    out->rec.key.len = aios_buffer_len(out->keyref);
    out->rec.wrapped_key.p = aios_buffer_data(out->wrapped);
    out->rec.wrapped_key.len = wlen;
    out->rec.keyref = ref;
    return AIOS_OK;
fail:
    aios__env_kek_record_clear(out);
    return rc;
}

int aios__env_kek_unwrap(aios_buffer **dk_out, const aios__env_binding *b,
                         const aios__env_recipient *r, const aios_key *kek)
{
    aios_buffer *wad = NULL, *dk = NULL;
    int rc;

    AIOS__CHECK_ARG(dk_out != NULL, "dk_out is NULL");
    *dk_out = NULL;
    AIOS__CHECK_ARG(b != NULL && r != NULL && kek != NULL, "binding, record or key is NULL");
    if (r->kind != AIOS__ENV_KIND_KEK || !r->has_key)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "envelope kek unwrap: record of kind %u "
                          "is not a kek record", (unsigned)r->kind);
    if ((rc = aios__env_kek_wad(&wad, b, r->key.p, r->key.len)) != AIOS_OK)
        return rc;
    rc = aios_key_unwrap(kek, &dk, r->wrapped_key.p, r->wrapped_key.len,
                         aios_buffer_data(wad), aios_buffer_len(wad));
    aios_buffer_free(wad);
    if (rc != AIOS_OK)
        return aios__error_prefix("envelope kek unwrap (%s '%s' version %u)",
                                  aios_key_provider_name(kek), aios_key_id(kek),
                                  aios_key_version(kek));
    if (aios_buffer_len(dk) != AIOS__ENV_DK_LEN) {
        size_t got = aios_buffer_len(dk);
        aios_buffer_free(dk);   /* wipes */
        return aios__fail(AIOS_E_FORMAT, "envelope kek unwrap: the unwrapped data key is %zu "
                          "bytes, not %d", got, AIOS__ENV_DK_LEN);
    }
    *dk_out = dk;
    return AIOS_OK;
}

/* ---------------------------------------------------------- kind 2: XAD */

/* The label rule of section 6.2: 0..256 bytes of UTF-8, no control
 * characters (the decoder's rule, aios__env_recipient_check). */
static int label_ok(const uint8_t *p, size_t len)
{
    size_t i;
    if (len > AIOS__ENV_LABEL_MAX || (len && !aios__utf8_valid(p, len)))
        return 0;
    for (i = 0; i < len; i++)
        if (p[i] < 0x20 || p[i] == 0x7f)
            return 0;
    return 1;
}

int aios__env_x25519_xad(aios_buffer **out, const aios__env_binding *b,
                         const uint8_t pk[AIOS__ENV_X25519_LEN],
                         const uint8_t *label, size_t label_len)
{
    aios_buffer *buf = NULL;
    uint8_t *p;
    size_t len;
    int rc;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    AIOS__CHECK_ARG(b != NULL && b->mid != NULL, "binding or message id is NULL");
    AIOS__CHECK_ARG(b->ctx.p != NULL || b->ctx.len == 0, "context bytes are NULL");
    AIOS__CHECK_ARG(pk != NULL, "recipient public key is NULL");
    AIOS__CHECK_ARG(label != NULL || label_len == 0, "label is NULL");
    if (b->ctx.len > AIOS__ENV_CTX_MAX)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "envelope x25519 XAD: a context of %zu "
                          "bytes is over %d", b->ctx.len, AIOS__ENV_CTX_MAX);
    if (label_len > AIOS__ENV_LABEL_MAX)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "envelope x25519 XAD: a label of %zu bytes "
                          "is over %d", label_len, AIOS__ENV_LABEL_MAX);

    len = AIOS__ENV_X25519_LABEL_LEN + AIOS__ENV_PREFIX_LEN + AIOS__ENV_ID_LEN +
          4 + b->ctx.len + 4 + AIOS__ENV_X25519_LEN + 4 + label_len;
    if ((rc = aios__buffer_new(&buf, len, 0)) != AIOS_OK)
        return rc;
    p = aios_buffer_data_mut(buf);
    memcpy(p, AIOS__ENV_X25519_LABEL, AIOS__ENV_X25519_LABEL_LEN);
    p += AIOS__ENV_X25519_LABEL_LEN;
    memcpy(p, b->prefix, AIOS__ENV_PREFIX_LEN);
    p += AIOS__ENV_PREFIX_LEN;
    memcpy(p, b->mid, AIOS__ENV_ID_LEN);
    p += AIOS__ENV_ID_LEN;
    put_u32be(p, (uint32_t)b->ctx.len);
    p += 4;
    if (b->ctx.len)
        memcpy(p, b->ctx.p, b->ctx.len);
    p += b->ctx.len;
    put_u32be(p, AIOS__ENV_KIND_X25519);
    p += 4;
    memcpy(p, pk, AIOS__ENV_X25519_LEN);
    p += AIOS__ENV_X25519_LEN;
    put_u32be(p, (uint32_t)label_len);
    p += 4;
    if (label_len)
        memcpy(p, label, label_len);
    *out = buf;
    return AIOS_OK;
}

/* ------------------------------------------------- kind 2: wrap, unwrap */

void aios__env_x25519_record_clear(aios__env_x25519_record *r)
{
    if (!r)
        return;
    aios_buffer_free(r->label);
    aios__wipe(r, sizeof(*r));
}

int aios__env_x25519_wrap(aios__env_x25519_record *out, const aios__env_binding *b,
                          const aios_key *recipient, const uint8_t dk[AIOS__ENV_DK_LEN])
{
    aios_buffer *pub = NULL, *xad = NULL;
    const char *key_id;
    size_t label_len;
    int rc;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    memset(out, 0, sizeof(*out));
    AIOS__CHECK_ARG(b != NULL && recipient != NULL && dk != NULL,
                    "binding, key or data key is NULL");
    key_id = aios_key_id(recipient);
    if (aios_key_get_type(recipient) != AIOS_KEY_X25519 ||
        !(aios_key_purposes(recipient) & AIOS_KEY_USE_DERIVE)) {
        const char *type = aios_key_type_name(aios_key_get_type(recipient));
        return aios__fail(AIOS_E_KEY_USAGE, "envelope x25519 wrap: key '%s' (%s) is not an "
                          "X25519 key for key agreement", key_id, type ? type : "unknown type");
    }
    label_len = strlen(key_id);
    if (!label_ok((const uint8_t *)key_id, label_len))
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "envelope x25519 wrap: the key id (%zu "
                          "bytes) cannot be a record label (at most %d bytes of UTF-8 without "
                          "control characters)", label_len, AIOS__ENV_LABEL_MAX);
    /* A new use of the key: state, not_after and max_uses, as a wrap. */
    if ((rc = aios__key_use_seal_to(recipient)) != AIOS_OK)
        return rc;

    if ((rc = aios_key_public_raw(recipient, &pub)) != AIOS_OK) {
        aios__error_prefix("envelope x25519 wrap (key '%s')", key_id);
        goto fail;
    }
    if (aios_buffer_len(pub) != AIOS__ENV_X25519_LEN) {
        rc = aios__fail(AIOS_E_INTERNAL, "envelope x25519 wrap: key '%s' has a public key of "
                        "%zu bytes", key_id, aios_buffer_len(pub));
        goto fail;
    }
    memcpy(out->pk, aios_buffer_data(pub), AIOS__ENV_X25519_LEN);
    if (label_len) {
        if ((rc = aios__buffer_new(&out->label, label_len, 0)) != AIOS_OK)
            goto fail;
        memcpy(aios_buffer_data_mut(out->label), key_id, label_len);
    }
    if ((rc = aios__env_x25519_xad(&xad, b, out->pk, (const uint8_t *)key_id, label_len)) !=
        AIOS_OK)
        goto fail;
    /* SetupBaseS with a fresh ephemeral key pair for this record alone;
     * skE is wiped inside. */
    rc = aios__hpke_seal_base(out->enc, out->wrapped, out->pk,
                              (const uint8_t *)AIOS__ENV_X25519_LABEL, AIOS__ENV_X25519_LABEL_LEN,
                              aios_buffer_data(xad), aios_buffer_len(xad), dk, AIOS__ENV_DK_LEN);
    if (rc == AIOS_E_AUTH) {
        rc = aios__fail(AIOS_E_INVALID_ARGUMENT, "envelope x25519 wrap: the public key of '%s' "
                        "is of small order (no recipient can hold it)", key_id);
        goto fail;
    }
    if (rc != AIOS_OK) {
        aios__error_prefix("envelope x25519 wrap (key '%s')", key_id);
        goto fail;
    }
    aios_buffer_free(xad);
    aios_buffer_free(pub);
    out->rec.kind = AIOS__ENV_KIND_X25519;
    out->rec.has_key = 0;
    out->rec.wrapped_key.p = out->wrapped;
    out->rec.wrapped_key.len = AIOS__ENV_HPKE_CT_LEN;
    out->rec.recipient_public.p = out->pk;
    out->rec.recipient_public.len = AIOS__ENV_X25519_LEN;
    out->rec.ephemeral_public.p = out->enc;
    out->rec.ephemeral_public.len = AIOS__ENV_X25519_LEN;
    out->rec.label.p = out->label ? aios_buffer_data(out->label) : NULL;
    out->rec.label.len = label_len;
    return AIOS_OK;
fail:
    aios_buffer_free(xad);
    aios_buffer_free(pub);
    aios__env_x25519_record_clear(out);
    return rc;
}

static int x25519_record_ok(const aios__env_recipient *r)
{
    return r->kind == AIOS__ENV_KIND_X25519 && !r->has_key &&
           r->wrapped_key.len == AIOS__ENV_HPKE_CT_LEN && r->wrapped_key.p &&
           r->recipient_public.len == AIOS__ENV_X25519_LEN && r->recipient_public.p &&
           r->ephemeral_public.len == AIOS__ENV_X25519_LEN && r->ephemeral_public.p &&
           r->label.len <= AIOS__ENV_LABEL_MAX && (r->label.p || r->label.len == 0);
}

int aios__env_x25519_unwrap(aios_buffer **dk_out, const aios__env_binding *b,
                            const aios__env_recipient *r, const aios_key *key)
{
    aios_buffer *dh = NULL, *pub = NULL, *xad = NULL, *dk = NULL;
    uint8_t shared[AIOS__HPKE_SECRET_LEN];
    const char *key_id;
    int rc;

    AIOS__CHECK_ARG(dk_out != NULL, "dk_out is NULL");
    *dk_out = NULL;
    AIOS__CHECK_ARG(b != NULL && r != NULL && key != NULL, "binding, record or key is NULL");
    if (!x25519_record_ok(r))
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "envelope x25519 unwrap: record of kind %u "
                          "is not a well-formed x25519-hpke record", (unsigned)r->kind);
    key_id = aios_key_id(key);

    /* dh = DH(skR, enc), inside the handle (a low-order enc: AIOS_E_AUTH). */
    rc = aios_key_agree(key, &dh, r->ephemeral_public.p, AIOS__ENV_X25519_LEN);
    if (rc == AIOS_OK && aios_buffer_len(dh) != AIOS__X25519_LEN)
        rc = aios__fail(AIOS_E_INTERNAL, "key agreement gave %zu bytes", aios_buffer_len(dh));
    /* kem_context's pkR is the key's own public key (pk(skR), RFC 9180
     * 4.1); XAD binds the record's.  A mismatch fails the open. */
    if (rc == AIOS_OK)
        rc = aios_key_public_raw(key, &pub);
    if (rc == AIOS_OK && aios_buffer_len(pub) != AIOS__X25519_LEN)
        rc = aios__fail(AIOS_E_INTERNAL, "key '%s' has a public key of %zu bytes", key_id,
                        aios_buffer_len(pub));
    if (rc != AIOS_OK) {
        aios__error_prefix("envelope x25519 unwrap (key '%s' version %u)", key_id,
                           (unsigned)aios_key_version(key));
        goto done;
    }
    rc = aios__hpke_decap_from_dh(shared, aios_buffer_data(dh), r->ephemeral_public.p,
                                  aios_buffer_data(pub));
    aios_buffer_free(dh);   /* wipes */
    dh = NULL;
    if (rc == AIOS_OK)
        rc = aios__env_x25519_xad(&xad, b, r->recipient_public.p, r->label.p, r->label.len);
    if (rc == AIOS_OK)
        rc = aios__buffer_new(&dk, AIOS__ENV_DK_LEN, AIOS_BUFFER_SECURE | AIOS__BUFFER_SLAB);
    if (rc == AIOS_OK)
        rc = aios__hpke_open_base_shared(aios_buffer_data_mut(dk), shared,
                                         (const uint8_t *)AIOS__ENV_X25519_LABEL,
                                         AIOS__ENV_X25519_LABEL_LEN, aios_buffer_data(xad),
                                         aios_buffer_len(xad), r->wrapped_key.p,
                                         r->wrapped_key.len);
    aios__wipe(shared, sizeof(shared));
    if (rc != AIOS_OK) {
        aios__error_prefix("envelope x25519 unwrap (key '%s' version %u)", key_id,
                           (unsigned)aios_key_version(key));
        goto done;
    }
    *dk_out = dk;   /* 48 - 16 = 32 bytes */
    dk = NULL;
done:
    aios_buffer_free(dk);
    aios_buffer_free(dh);
    aios_buffer_free(pub);
    aios_buffer_free(xad);
    return rc;
}

/* -------------------------------------------------------------- selection */

static int is_no_match(int rc)
{
    return rc == AIOS_E_KEY_NOT_FOUND || rc == AIOS_E_KEY_VERSION_NOT_FOUND ||
           rc == AIOS_E_NOT_FOUND;
}

/* The handle is an X25519 key that can hold a private part (section 6.2:
 * a public-only handle seals, it never opens) and its public key is
 * exactly the record's (not secret: compared with memcmp). */
static int pk_matches(const aios_key *k, const uint8_t pk[AIOS__ENV_X25519_LEN])
{
    aios_buffer *pub = NULL;
    int same;
    if (aios_key_get_type(k) != AIOS_KEY_X25519 ||
        strcmp(aios_key_provider_name(k), "public") == 0 ||
        aios_key_public_raw(k, &pub) != AIOS_OK)
        return 0;
    same = aios_buffer_len(pub) == AIOS__ENV_X25519_LEN &&
           memcmp(aios_buffer_data(pub), pk, AIOS__ENV_X25519_LEN) == 0;
    aios_buffer_free(pub);
    return same;
}

/* The handle names exactly the record's key reference. */
static int key_matches(const aios_key *k, const aios__keyref *ref)
{
    return strcmp(aios_key_provider_name(k), ref->provider) == 0 &&
           strcmp(aios_key_id(k), ref->key_id) == 0 && aios_key_version(k) == ref->version;
}

int aios__env_select_unwrap(aios_buffer **dk_out, size_t *index_out,
                            const aios__env_binding *b, const aios__env_recipient *recs,
                            size_t n, const aios__env_selector *sel)
{
    char first_msg[AIOS__ERROR_MESSAGE_MAX];
    size_t attempts = 0, nkek = 0, nx25519 = 0, nunknown = 0, first_index = 0, i;
    uint32_t max;
    int first_rc = AIOS_OK, capped = 0;

    AIOS__CHECK_ARG(dk_out != NULL, "dk_out is NULL");
    *dk_out = NULL;
    AIOS__CHECK_ARG(b != NULL && sel != NULL, "binding or selector is NULL");
    AIOS__CHECK_ARG(sel->resolve != NULL || sel->match_x25519 != NULL,
                    "the selector has neither a resolver nor an X25519 matcher");
    AIOS__CHECK_ARG(recs != NULL || n == 0, "records are NULL");
    max = sel->max_attempts ? sel->max_attempts : AIOS__ENV_ATTEMPTS_DEFAULT;
    if (max > AIOS__ENV_ATTEMPTS_MAX)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "envelope open: max_attempts %u is over %u",
                          (unsigned)max, AIOS__ENV_ATTEMPTS_MAX);
    first_msg[0] = '\0';

    for (i = 0; i < n; i++) {
        const aios__env_recipient *r = &recs[i];
        aios_key *key = NULL;
        aios_buffer *dk = NULL;
        int kek = r->kind == AIOS__ENV_KIND_KEK, rc;

        if (kek)
            nkek++;
        else if (r->kind == AIOS__ENV_KIND_X25519)
            nx25519++;
        else {
            nunknown++;  /* section 6.3: skipped */
            continue;
        }
        if (kek ? sel->resolve == NULL : sel->match_x25519 == NULL)
            continue;    /* nothing to match this kind with */
        if (!kek && r->recipient_public.len != AIOS__ENV_X25519_LEN)
            continue;    /* not a decoded kind-2 record: cannot be ours */
        if (attempts == max) {
            /* A record that might match, past the cap: not resolved, so
             * not one more provider call. */
            capped = 1;
            break;
        }
        if (kek) {
            rc = sel->resolve(sel->resolve_arg, &key, r->keyref.provider, r->keyref.key_id,
                              r->keyref.version);
            if (is_no_match(rc) || (rc == AIOS_OK && key && !key_matches(key, &r->keyref))) {
                aios_key_unref(key);
                continue;
            }
        } else {
            rc = sel->match_x25519(sel->match_x25519_arg, &key, r->recipient_public.p);
            if (is_no_match(rc) ||
                (rc == AIOS_OK && key && !pk_matches(key, r->recipient_public.p))) {
                aios_key_unref(key);
                continue;
            }
        }
        if (rc == AIOS_OK && !key)
            rc = aios__fail(AIOS_E_INTERNAL, "envelope open: the key %s returned no key",
                            kek ? "resolver" : "matcher");
        if (rc > 0)
            rc = aios__fail(AIOS_E_INTERNAL, "envelope open: the key %s returned %d",
                            kek ? "resolver" : "matcher", rc);
        attempts++;
        if (rc == AIOS_OK)
            rc = kek ? aios__env_kek_unwrap(&dk, b, r, key)
                     : aios__env_x25519_unwrap(&dk, b, r, key);
        aios_key_unref(key);
        if (rc == AIOS_OK && sel->check) {
            rc = sel->check(sel->check_arg, aios_buffer_data(dk));
            if (rc > 0)
                rc = aios__fail(AIOS_E_INTERNAL, "envelope open: the data-key check returned %d",
                                rc);
        }
        if (rc == AIOS_OK) {
            *dk_out = dk;
            if (index_out)
                *index_out = i;
            return AIOS_OK;
        }
        aios_buffer_free(dk);
        if (first_rc == AIOS_OK) {
            const char *m = aios_last_error_message();
            first_rc = rc;
            first_index = i;
            strncpy(first_msg, m ? m : "", sizeof(first_msg) - 1);
            first_msg[sizeof(first_msg) - 1] = '\0';
        }
    }

    if (attempts == 0)
        return aios__fail(AIOS_E_ENVELOPE_NO_RECIPIENT, "envelope open: no recipient record "
                          "matches a key the caller holds (%zu records: %zu kek, %zu "
                          "x25519-hpke, %zu of unknown kinds)", n, nkek, nx25519, nunknown);
    if (capped)
        return aios__fail(AIOS_E_LIMIT, "envelope open: %zu unwrap attempts failed, the most "
                          "allowed; record %zu and later were not tried; the first failure "
                          "(record %zu): %s", attempts, i, first_index, first_msg);
    return aios__fail(first_rc, "envelope open: %zu unwrap attempt%s failed; the first "
                      "(record %zu): %s", attempts, attempts == 1 ? "" : "s", first_index,
                      first_msg);
}

/* --------------------------------------------------------- expected context */

static int bytes_cmp(aios__env_bytes a, aios__env_bytes b)
{
    size_t m = a.len < b.len ? a.len : b.len;
    int c = m ? memcmp(a.p, b.p, m) : 0;
    if (c)
        return c;
    return a.len < b.len ? -1 : a.len > b.len ? 1 : 0;
}

static int bytes_eq(aios__env_bytes a, aios__env_bytes b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static int is_reserved(aios__env_bytes k)
{
    return k.len >= AIOS__ENV_RESERVED_PREFIX_LEN &&
           memcmp(k.p, AIOS__ENV_RESERVED_PREFIX, AIOS__ENV_RESERVED_PREFIX_LEN) == 0;
}

static int printable(aios__env_bytes k)
{
    size_t i;
    if (!aios__utf8_valid(k.p, k.len))
        return 0;
    for (i = 0; i < k.len; i++)
        if (k.p[i] < 0x20 || k.p[i] == 0x7f)
            return 0;
    return 1;
}

static const aios__env_ctx_entry *find_entry(const aios__env_ctx_entry *e, size_t n,
                                             aios__env_bytes key)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (bytes_eq(e[i].key, key))
            return &e[i];
    return NULL;
}

int aios__env_context_expect(const aios__env_ctx_entry *have, size_t nhave,
                             const aios__env_ctx_entry *want, size_t nwant,
                             aios__env_ctx_mode mode)
{
    const aios__env_bytes *diff = NULL;
    const char *why = "";
    size_t i, j;

    AIOS__CHECK_ARG(mode == AIOS__ENV_CTX_EXACT || mode == AIOS__ENV_CTX_SUBSET,
                    "unknown context mode");
    AIOS__CHECK_ARG(have != NULL || nhave == 0, "context entries are NULL");
    AIOS__CHECK_ARG(want != NULL || nwant == 0, "expected context entries are NULL");
    if (nwant > AIOS__ENV_CTX_ENTRIES_MAX)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "expected context: %zu entries are over %d",
                          nwant, AIOS__ENV_CTX_ENTRIES_MAX);
    for (j = 0; j < nwant; j++) {
        const aios__env_ctx_entry *w = &want[j];
        if (w->key.len == 0 || !w->key.p || (w->value.len && !w->value.p))
            return aios__fail(AIOS_E_INVALID_ARGUMENT, "expected context: entry %zu has an "
                              "empty or NULL key or a NULL value", j);
        if (is_reserved(w->key))
            return aios__fail(AIOS_E_INVALID_ARGUMENT, "expected context: entry %zu names a "
                              "reserved \"aios.\" key", j);
        for (i = 0; i < j; i++)
            if (bytes_eq(want[i].key, w->key))
                return aios__fail(AIOS_E_INVALID_ARGUMENT, "expected context: entries %zu and "
                                  "%zu have the same key", i, j);
    }

    /* Every expected pair must be there (both modes). */
    for (j = 0; j < nwant; j++) {
        const aios__env_ctx_entry *h = find_entry(have, nhave, want[j].key);
        if (h && bytes_eq(h->value, want[j].value))
            continue;
        if (!diff || bytes_cmp(want[j].key, *diff) < 0) {
            diff = &want[j].key;
            why = h ? "has another value" : "is missing";
        }
    }
    /* Exact: nothing more, reserved entries aside. */
    if (mode == AIOS__ENV_CTX_EXACT) {
        for (i = 0; i < nhave; i++) {
            if (is_reserved(have[i].key) || find_entry(want, nwant, have[i].key))
                continue;
            if (!diff || bytes_cmp(have[i].key, *diff) < 0) {
                diff = &have[i].key;
                why = "is not expected";
            }
        }
    }
    if (!diff)
        return AIOS_OK;
    if (printable(*diff))
        return aios__fail(AIOS_E_ENVELOPE_CONTEXT_MISMATCH, "envelope: the encryption context "
                          "is not the one expected (%s): key '%.*s' %s",
                          mode == AIOS__ENV_CTX_EXACT ? "exact" : "subset",
                          (int)diff->len, (const char *)diff->p, why);
    return aios__fail(AIOS_E_ENVELOPE_CONTEXT_MISMATCH, "envelope: the encryption context is "
                      "not the one expected (%s): a key that is not printable text %s",
                      mode == AIOS__ENV_CTX_EXACT ? "exact" : "subset", why);
}
