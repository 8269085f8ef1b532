/*
 * Kind-1 (KEK) recipient records, record selection and the expected
 * context (lib/envelope/recipient.c, docs/FORMAT.md 6.1, 6.3, 6.4, 7.3),
 * against real keys of a keyring (raw master key) in a temporary directory.
 *
 * The pinned WAD below is written by hand from section 6.1 (label, prefix,
 * message id, u32be-prefixed context and key reference, kind 1), with the
 * context bytes of section 7.1 and the KeyRef protobuf written field by
 * field; nothing in it comes from the code under test.
 *
 * Statuses: the envelope block (-200..) is not public yet; NO_RECIPIENT is
 * AIOS_E_NOT_FOUND and CONTEXT_MISMATCH is AIOS_E_AUTH for now.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_keyring_util.h"
#include "core/internal.h"
#include "envelope/format.h"
#include "envelope/recipient.h"

/* ------------------------------------------------------------ fixture */

typedef struct fx {
    char          *dir;
    aios_keyring  *kr;
    aios_key      *kek;        /* local / wrap-key / 1 */
    aios_key      *other;      /* local / other-key / 1 */
    aios_buffer   *ctx;        /* {region: eu-west-1, tenant: acme} */
    aios__env_ctx_entry e[2];
    uint8_t        mid[32];
    uint8_t        dk[32];
    aios__env_binding b;
} fx;

static const uint8_t KEK_BYTES[32] = {
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11
};

static aios__env_ctx_entry ent(const char *k, const char *v)
{
    aios__env_ctx_entry e;
    e.key.p = (const uint8_t *)k;
    e.key.len = strlen(k);
    e.value.p = (const uint8_t *)v;
    e.value.len = strlen(v);
    return e;
}

static void binding(fx *f, uint16_t suite)
{
    aios__env_prefix p = { AIOS__ENV_TYPE_M, suite, 0 };
    memset(&f->b, 0, sizeof(f->b));
    aios__env_prefix_encode(f->b.prefix, &p);
    f->b.mid = f->mid;
    f->b.ctx.p = aios_buffer_data(f->ctx);
    f->b.ctx.len = aios_buffer_len(f->ctx);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    aios_keyring_options o = kt_raw();
    size_t i;
    assert_non_null(f);
    f->dir = kt_tmpdir();
    tu_assert_ok(aios_keyring_create(&f->kr, kt_path(f->dir, "keys.aioskr", 0), &o));
    tu_assert_ok(aios_keyring_import(f->kr, &f->kek, "wrap-key", AIOS_KEY_AES256, KEK_BYTES,
                                     sizeof(KEK_BYTES), NULL));
    tu_assert_ok(aios_keyring_add(f->kr, &f->other, "other-key", AIOS_KEY_AES256, NULL));
    f->e[0] = ent("tenant", "acme");
    f->e[1] = ent("region", "eu-west-1");
    tu_assert_ok(aios__env_context_canonicalize(f->e, 2));
    tu_assert_ok(aios__env_context_encode(&f->ctx, f->e, 2));
    for (i = 0; i < 32; i++) {
        f->dk[i] = (uint8_t)i;
        f->mid[i] = (uint8_t)(0x20 + i);
    }
    binding(f, AIOS__ENV_SUITE_AES256GCM);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    aios_key_unref(f->kek);
    aios_key_unref(f->other);
    aios_buffer_free(f->ctx);
    aios_keyring_free(f->kr);
    kt_rmtree(f->dir);
    free(f);
    return 0;
}

/* A resolver over an array of providers, counting its calls. */
typedef struct resolver {
    aios_provider **p;
    size_t          n;
    int             calls;
} resolver;

static int resolve(void *arg, aios_key **out, const char *provider, const char *key_id,
                   uint32_t version)
{
    resolver *r = arg;
    size_t i;
    r->calls++;
    for (i = 0; i < r->n; i++)
        if (strcmp(aios_provider_name(r->p[i]), provider) == 0)
            return aios_provider_get_key(r->p[i], out, key_id, version);
    return AIOS_E_NOT_FOUND;
}

/* A data-key check (the commitment check's stand-in) accepting one key. */
typedef struct checker {
    const uint8_t *want;
    int            calls;
} checker;

static int check_dk(void *arg, const uint8_t dk[32])
{
    checker *c = arg;
    c->calls++;
    if (memcmp(dk, c->want, 32) != 0)
        return aios_error_set(AIOS_E_AUTH, "test: not the committed data key");
    return AIOS_OK;
}

static void selector(aios__env_selector *s, resolver *r, checker *c, uint32_t max)
{
    memset(s, 0, sizeof(*s));
    s->resolve = resolve;
    s->resolve_arg = r;
    s->check = c ? check_dk : NULL;
    s->check_arg = c;
    s->max_attempts = max;
}

/* A record naming another key reference (bytes and decoded view). */
static aios__env_recipient renamed(const aios__env_recipient *src, aios_buffer **keep,
                                   const char *provider, const char *key_id, uint32_t version)
{
    aios__env_recipient r = *src;
    aios__keyref ref;
    memset(&ref, 0, sizeof(ref));
    strcpy(ref.provider, provider);
    strcpy(ref.key_id, key_id);
    ref.version = version;
    tu_assert_ok(aios__keyref_encode(keep, &ref));
    r.key.p = aios_buffer_data(*keep);
    r.key.len = aios_buffer_len(*keep);
    r.keyref = ref;
    return r;
}

/* ------------------------------------------------------------- WAD */

#define KEYREF_HEX "0a056c6f63616c" "1208777261702d6b6579" "1801"   /* local, wrap-key, 1 */
#define CTX_HEX    "0a13" "0a06726567696f6e" "1209" "65752d776573742d31" \
                   "0a0e" "0a0674656e616e74" "120461636d65"
#define MID_HEX    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"

static void test_wad_pinned(void **state)
{
    fx *f = *state;
    size_t want_len, kr_len;
    uint8_t *want = tu_hex("61696f7320656e76656c6f7065207631206b656b"   /* label (20) */
                           "41494f45014d00010000"                       /* prefix */
                           MID_HEX
                           "00000025" CTX_HEX
                           "00000001"                                   /* kind */
                           "00000013" KEYREF_HEX, &want_len);
    uint8_t *keyref = tu_hex(KEYREF_HEX, &kr_len);
    aios_buffer *wad = NULL;
    aios__env_kek_record rec;

    assert_int_equal(want_len, 20 + 10 + 32 + 4 + 37 + 4 + 4 + 19);
    tu_assert_ok(aios__env_kek_wad(&wad, &f->b, keyref, kr_len));
    assert_int_equal(aios_buffer_len(wad), want_len);
    assert_memory_equal(aios_buffer_data(wad), want, want_len);
    aios_buffer_free(wad);

    /* The record's key reference is exactly those KeyRef bytes. */
    tu_assert_ok(aios__env_kek_wrap(&rec, &f->b, f->kek, f->dk));
    assert_int_equal(rec.rec.kind, 1);
    assert_true(rec.rec.has_key);
    assert_int_equal(rec.rec.key.len, kr_len);
    assert_memory_equal(rec.rec.key.p, keyref, kr_len);
    assert_int_equal(rec.rec.wrapped_key.len, 73);          /* local format 0x01 */
    assert_int_equal(rec.rec.wrapped_key.p[0], 0x01);
    assert_int_equal(rec.rec.recipient_public.len + rec.rec.ephemeral_public.len +
                     rec.rec.label.len, 0);
    tu_assert_ok(aios__env_recipient_check(&rec.rec));     /* the decoder's rules hold */
    aios__env_kek_record_clear(&rec);

    /* An empty context: u32be(0) and nothing. */
    f->b.ctx.p = NULL;
    f->b.ctx.len = 0;
    f->b.prefix[7] = 0x02;   /* suite 2 */
    free(want);
    want = tu_hex("61696f7320656e76656c6f7065207631206b656b" "41494f45014d00020000" MID_HEX
                  "00000000" "00000001" "00000013" KEYREF_HEX, &want_len);
    tu_assert_ok(aios__env_kek_wad(&wad, &f->b, keyref, kr_len));
    assert_int_equal(aios_buffer_len(wad), want_len);
    assert_memory_equal(aios_buffer_data(wad), want, want_len);
    aios_buffer_free(wad);

    /* Bounds. */
    f->b.ctx.p = want;
    f->b.ctx.len = AIOS__ENV_CTX_MAX + 1;
    tu_assert_status(aios__env_kek_wad(&wad, &f->b, keyref, kr_len), AIOS_E_INVALID_ARGUMENT);
    f->b.ctx.len = 0;
    tu_assert_status(aios__env_kek_wad(&wad, &f->b, keyref, AIOS__ENV_KEYREF_MAX + 1),
                     AIOS_E_INVALID_ARGUMENT);
    assert_null(wad);
    free(want);
    free(keyref);
}

/* ------------------------------------------------------- round trip */

static void test_round_trip(void **state)
{
    fx *f = *state;
    aios__env_kek_record rec;
    aios_buffer *dk = NULL;
    aios_key *pub = NULL;

    tu_assert_ok(aios__env_kek_wrap(&rec, &f->b, f->kek, f->dk));
    tu_assert_ok(aios__env_kek_unwrap(&dk, &f->b, &rec.rec, f->kek));
    assert_int_equal(aios_buffer_len(dk), 32);
    assert_memory_equal(aios_buffer_data(dk), f->dk, 32);
    aios_buffer_free(dk);

    /* Another key with the same record: AUTH. */
    tu_assert_status(aios__env_kek_unwrap(&dk, &f->b, &rec.rec, f->other), AIOS_E_AUTH);
    assert_null(dk);
    aios__env_kek_record_clear(&rec);
    aios__env_kek_record_clear(&rec);   /* twice is fine */
    aios__env_kek_record_clear(NULL);

    /* A key without WRAP: the key's status passes through. */
    tu_assert_ok(aios_keyring_add(f->kr, &pub, "mac-key", AIOS_KEY_HMAC_SHA256, NULL));
    tu_assert_status(aios__env_kek_wrap(&rec, &f->b, pub, f->dk), AIOS_E_KEY_USAGE);
    assert_null(rec.keyref);
    assert_null(rec.wrapped);
    aios_key_unref(pub);

    /* Not a kind-1 record. */
    tu_assert_ok(aios__env_kek_wrap(&rec, &f->b, f->kek, f->dk));
    rec.rec.kind = 2;
    tu_assert_status(aios__env_kek_unwrap(&dk, &f->b, &rec.rec, f->kek),
                     AIOS_E_INVALID_ARGUMENT);
    aios__env_kek_record_clear(&rec);
}

/* A wrapped key moved to another message id, context, suite or key
 * reference does not open. */
static void test_moved(void **state)
{
    fx *f = *state;
    aios__env_kek_record rec;
    aios__env_recipient moved;
    aios__env_binding keep;
    aios_buffer *dk = NULL, *ref = NULL, *ctx2 = NULL;
    aios__env_ctx_entry e2[2];
    aios_key *v2 = NULL;
    aios_provider *prov[1];
    resolver rs;
    aios__env_selector sel;

    tu_assert_ok(aios__env_kek_wrap(&rec, &f->b, f->kek, f->dk));
    keep = f->b;

    /* Message id. */
    f->mid[31] ^= 1;
    tu_assert_status(aios__env_kek_unwrap(&dk, &f->b, &rec.rec, f->kek), AIOS_E_AUTH);
    f->mid[31] ^= 1;
    /* Context: one value changed, and no context at all. */
    e2[0] = ent("region", "eu-west-2");
    e2[1] = ent("tenant", "acme");
    tu_assert_ok(aios__env_context_encode(&ctx2, e2, 2));
    f->b.ctx.p = aios_buffer_data(ctx2);
    f->b.ctx.len = aios_buffer_len(ctx2);
    tu_assert_status(aios__env_kek_unwrap(&dk, &f->b, &rec.rec, f->kek), AIOS_E_AUTH);
    f->b.ctx.len = 0;
    tu_assert_status(aios__env_kek_unwrap(&dk, &f->b, &rec.rec, f->kek), AIOS_E_AUTH);
    aios_buffer_free(ctx2);
    f->b = keep;
    /* Suite, type and flags of the prefix. */
    binding(f, AIOS__ENV_SUITE_XCHACHA20POLY1305);
    tu_assert_status(aios__env_kek_unwrap(&dk, &f->b, &rec.rec, f->kek), AIOS_E_AUTH);
    f->b = keep;
    f->b.prefix[5] = AIOS__ENV_TYPE_S;
    tu_assert_status(aios__env_kek_unwrap(&dk, &f->b, &rec.rec, f->kek), AIOS_E_AUTH);
    f->b = keep;
    /* Still opens in place. */
    tu_assert_ok(aios__env_kek_unwrap(&dk, &f->b, &rec.rec, f->kek));
    aios_buffer_free(dk);
    dk = NULL;

    /* Key reference: the record relabelled as wrap-key version 2 (after a
     * rotation) is unwrapped with version 2 and fails; relabelled as
     * other-key; and with the right key but the relabelled WAD. */
    tu_assert_ok(aios_keyring_rotate(f->kr, &v2, "wrap-key"));
    assert_int_equal(aios_key_version(v2), 2);
    moved = renamed(&rec.rec, &ref, "local", "wrap-key", 2);
    tu_assert_status(aios__env_kek_unwrap(&dk, &f->b, &moved, f->kek), AIOS_E_AUTH);
    tu_assert_status(aios__env_kek_unwrap(&dk, &f->b, &moved, v2), AIOS_E_AUTH);
    prov[0] = aios_keyring_provider(f->kr);
    rs.p = prov;
    rs.n = 1;
    rs.calls = 0;
    selector(&sel, &rs, NULL, 0);
    tu_assert_status(aios__env_select_unwrap(&dk, NULL, &f->b, &moved, 1, &sel), AIOS_E_AUTH);
    assert_null(dk);
    aios_buffer_free(ref);
    moved = renamed(&rec.rec, &ref, "local", "other-key", 1);
    tu_assert_status(aios__env_select_unwrap(&dk, NULL, &f->b, &moved, 1, &sel), AIOS_E_AUTH);
    tu_assert_status(aios__env_kek_unwrap(&dk, &f->b, &moved, f->kek), AIOS_E_AUTH);
    aios_buffer_free(ref);
    aios_key_unref(v2);
    aios__env_kek_record_clear(&rec);
}

/* ------------------------------------------------------------ selection */

static void test_select(void **state)
{
    fx *f = *state;
    aios__env_kek_record mine;
    aios__env_recipient recs[4];
    aios_buffer *dk = NULL, *r1 = NULL, *r2 = NULL;
    aios_provider *prov[1];
    uint8_t junk[40];
    resolver rs;
    checker ck;
    aios__env_selector sel;
    size_t idx = 99;

    tu_assert_ok(aios__env_kek_wrap(&mine, &f->b, f->kek, f->dk));
    memset(junk, 0x5a, sizeof(junk));
    memset(recs, 0, sizeof(recs));
    recs[0].kind = 99;                                /* unknown kind: skipped */
    recs[0].wrapped_key.p = junk;
    recs[0].wrapped_key.len = sizeof(junk);
    recs[1] = renamed(&mine.rec, &r1, "callback:kms", "tenant-key", 3);   /* no such provider */
    recs[2] = renamed(&mine.rec, &r2, "local", "absent-key", 1);          /* KEY_NOT_FOUND */
    recs[3] = mine.rec;

    prov[0] = aios_keyring_provider(f->kr);
    rs.p = prov;
    rs.n = 1;
    rs.calls = 0;
    ck.want = f->dk;
    ck.calls = 0;
    selector(&sel, &rs, &ck, 0);
    tu_assert_ok(aios__env_select_unwrap(&dk, &idx, &f->b, recs, 4, &sel));
    assert_int_equal(idx, 3);
    assert_memory_equal(aios_buffer_data(dk), f->dk, 32);
    assert_int_equal(rs.calls, 3);     /* the unknown kind is never resolved */
    assert_int_equal(ck.calls, 1);     /* one attempt */
    aios_buffer_free(dk);
    dk = NULL;

    /* Without our record: nothing matches (NO_RECIPIENT, for now NOT_FOUND),
     * the message naming the kinds seen. */
    tu_assert_status(aios__env_select_unwrap(&dk, &idx, &f->b, recs, 3, &sel),
                     AIOS_E_NOT_FOUND);
    assert_non_null(strstr(aios_last_error_message(), "1 of unknown kinds"));
    assert_null(dk);
    tu_assert_status(aios__env_select_unwrap(&dk, &idx, &f->b, recs, 1, &sel),
                     AIOS_E_NOT_FOUND);
    /* A resolver that holds nothing. */
    rs.n = 0;
    tu_assert_status(aios__env_select_unwrap(&dk, &idx, &f->b, recs, 4, &sel),
                     AIOS_E_NOT_FOUND);
    rs.n = 1;

    /* Arguments. */
    sel.max_attempts = AIOS__ENV_ATTEMPTS_MAX + 1;
    tu_assert_status(aios__env_select_unwrap(&dk, &idx, &f->b, recs, 4, &sel),
                     AIOS_E_INVALID_ARGUMENT);
    sel.max_attempts = 0;
    sel.resolve = NULL;
    tu_assert_status(aios__env_select_unwrap(&dk, &idx, &f->b, recs, 4, &sel),
                     AIOS_E_INVALID_ARGUMENT);

    aios_buffer_free(r1);
    aios_buffer_free(r2);
    aios__env_kek_record_clear(&mine);
}

/* The attempt cap: records that unwrap but fail the data-key check (as a
 * commitment mismatch would) count as attempts. */
static void test_attempt_cap(void **state)
{
    fx *f = *state;
    enum { N = 10 };
    aios__env_kek_record bad[N], good;
    aios__env_recipient recs[N + 1];
    aios_buffer *dk = NULL;
    aios_provider *prov[1];
    uint8_t other_dk[32];
    resolver rs;
    checker ck;
    aios__env_selector sel;
    size_t i, idx = 0;

    memset(other_dk, 0xee, sizeof(other_dk));
    for (i = 0; i < N; i++) {
        tu_assert_ok(aios__env_kek_wrap(&bad[i], &f->b, f->kek, other_dk));
        recs[i] = bad[i].rec;
    }
    tu_assert_ok(aios__env_kek_wrap(&good, &f->b, f->kek, f->dk));
    prov[0] = aios_keyring_provider(f->kr);
    rs.p = prov;
    rs.n = 1;
    rs.calls = 0;
    ck.want = f->dk;
    ck.calls = 0;

    /* Default cap 8: ten failing records stop after eight, AIOS_E_LIMIT. */
    selector(&sel, &rs, &ck, 0);
    tu_assert_status(aios__env_select_unwrap(&dk, &idx, &f->b, recs, N, &sel), AIOS_E_LIMIT);
    assert_int_equal(ck.calls, 8);
    assert_int_equal(rs.calls, 8);      /* the ninth is not even resolved */
    assert_null(dk);

    /* Three failing, then ours: found within the cap. */
    recs[3] = good.rec;
    ck.calls = 0;
    tu_assert_ok(aios__env_select_unwrap(&dk, &idx, &f->b, recs, 4, &sel));
    assert_int_equal(idx, 3);
    assert_int_equal(ck.calls, 4);
    aios_buffer_free(dk);
    dk = NULL;
    /* ... but not with a cap of 3. */
    sel.max_attempts = 3;
    tu_assert_status(aios__env_select_unwrap(&dk, &idx, &f->b, recs, 4, &sel), AIOS_E_LIMIT);
    /* A cap of 3 with exactly three failing records and nothing after
     * (an unknown kind does not count): the first failure's status. */
    recs[3].kind = 77;
    ck.calls = 0;
    tu_assert_status(aios__env_select_unwrap(&dk, &idx, &f->b, recs, 4, &sel), AIOS_E_AUTH);
    assert_int_equal(ck.calls, 3);
    assert_non_null(strstr(aios_last_error_message(), "3 unwrap attempts failed"));
    assert_non_null(strstr(aios_last_error_message(), "not the committed data key"));
    /* The maximum cap, 64. */
    sel.max_attempts = 64;
    ck.calls = 0;
    tu_assert_status(aios__env_select_unwrap(&dk, &idx, &f->b, recs, N, &sel), AIOS_E_AUTH);
    assert_int_equal(ck.calls, N - 1);
    assert_null(dk);

    for (i = 0; i < N; i++)
        aios__env_kek_record_clear(&bad[i]);
    aios__env_kek_record_clear(&good);
}

/* Key states stay visible: a destroyed (or disabled) version named by the
 * only matching record is reported as such. */
static void test_key_states(void **state)
{
    fx *f = *state;
    aios__env_kek_record old, cur;
    aios__env_recipient recs[3];
    aios_buffer *dk = NULL;
    aios_provider *prov[1];
    aios_key *v2 = NULL;
    resolver rs;
    aios__env_selector sel;
    size_t idx = 0;

    tu_assert_ok(aios__env_kek_wrap(&old, &f->b, f->kek, f->dk));    /* version 1 */
    tu_assert_ok(aios_keyring_rotate(f->kr, &v2, "wrap-key"));
    tu_assert_ok(aios__env_kek_wrap(&cur, &f->b, v2, f->dk));        /* version 2 */
    /* Version 1 is decrypt-only now: it unwraps but does not wrap. */
    tu_assert_ok(aios__env_kek_unwrap(&dk, &f->b, &old.rec, f->kek));
    aios_buffer_free(dk);
    dk = NULL;
    {
        aios__env_kek_record no;
        tu_assert_status(aios__env_kek_wrap(&no, &f->b, f->kek, f->dk), AIOS_E_KEY_DECRYPT_ONLY);
    }

    prov[0] = aios_keyring_provider(f->kr);
    rs.p = prov;
    rs.n = 1;
    rs.calls = 0;
    selector(&sel, &rs, NULL, 0);

    tu_assert_ok(aios_keyring_set_state(f->kr, "wrap-key", 1, AIOS_KEY_DISABLED));
    recs[0] = old.rec;
    tu_assert_status(aios__env_select_unwrap(&dk, &idx, &f->b, recs, 1, &sel),
                     AIOS_E_KEY_DISABLED);

    tu_assert_ok(aios_keyring_destroy(f->kr, "wrap-key", 1));
    recs[0].kind = 50;            /* an unknown kind first */
    recs[1] = old.rec;            /* the destroyed version */
    tu_assert_status(aios__env_select_unwrap(&dk, &idx, &f->b, recs, 2, &sel),
                     AIOS_E_KEY_DESTROYED);
    assert_null(dk);
    assert_non_null(strstr(aios_last_error_message(), "1 unwrap attempt failed"));

    /* With a record for version 2 after it, version 2 opens. */
    recs[2] = cur.rec;
    tu_assert_ok(aios__env_select_unwrap(&dk, &idx, &f->b, recs, 3, &sel));
    assert_int_equal(idx, 2);
    assert_memory_equal(aios_buffer_data(dk), f->dk, 32);
    aios_buffer_free(dk);

    aios_key_unref(v2);
    aios__env_kek_record_clear(&old);
    aios__env_kek_record_clear(&cur);
}

/* Through a real header: encode, decode, bind from the decoded header,
 * select with the real commitment check. */
static int verify_dk(void *arg, const uint8_t dk[32])
{
    return aios__env_header_verify(arg, dk, NULL);
}

static void test_through_header(void **state)
{
    fx *f = *state;
    aios__env_header h, d;
    aios__env_kek_record a, b;
    aios__env_recipient recs[2];
    aios__env_binding bd;
    aios_buffer *enc = NULL, *dk = NULL;
    aios_provider *prov[1];
    uint8_t c[32], kh[32], wrong_dk[32];
    resolver rs;
    aios__env_selector sel;
    size_t idx = 0;

    /* A salamander-style record first: our key, another data key. */
    memset(wrong_dk, 0x77, sizeof(wrong_dk));
    tu_assert_ok(aios__env_kek_wrap(&a, &f->b, f->other, wrong_dk));
    tu_assert_ok(aios__env_kek_wrap(&b, &f->b, f->kek, f->dk));
    recs[0] = a.rec;
    recs[1] = b.rec;
    memset(&h, 0, sizeof(h));
    h.prefix.type = AIOS__ENV_TYPE_M;
    h.prefix.suite = AIOS__ENV_SUITE_AES256GCM;
    memcpy(h.core.message_id, f->mid, 32);
    h.core.entries = f->e;
    h.core.nentries = 2;
    h.core.chunk_size = 4096;
    h.recipients = recs;
    h.nrecipients = 2;
    tu_assert_ok(aios__env_derive(c, 32, f->dk, f->mid, AIOS__ENV_LABEL_COMMITMENT, 1, NULL));
    tu_assert_ok(aios__env_derive(kh, 32, f->dk, f->mid, AIOS__ENV_LABEL_HEADER, 1, NULL));
    h.commitment = c;
    tu_assert_ok(aios__env_header_encode(&enc, &h, kh));
    tu_assert_ok(aios__env_header_decode(&d, aios_buffer_data(enc), aios_buffer_len(enc),
                                         AIOS__ENV_ACCEPT_M));
    aios__env_binding_from_header(&bd, &d);
    assert_memory_equal(bd.prefix, f->b.prefix, 10);
    assert_int_equal(bd.ctx.len, f->b.ctx.len);
    assert_memory_equal(bd.ctx.p, f->b.ctx.p, bd.ctx.len);

    prov[0] = aios_keyring_provider(f->kr);
    rs.p = prov;
    rs.n = 1;
    rs.calls = 0;
    selector(&sel, &rs, NULL, 0);
    sel.check = verify_dk;
    sel.check_arg = &d;
    tu_assert_ok(aios__env_select_unwrap(&dk, &idx, &bd, d.recipients, d.nrecipients, &sel));
    assert_int_equal(idx, 1);
    assert_memory_equal(aios_buffer_data(dk), f->dk, 32);
    aios_buffer_free(dk);
    dk = NULL;
    /* Only the salamander record: the commitment check fails it. */
    tu_assert_status(aios__env_select_unwrap(&dk, &idx, &bd, d.recipients, 1, &sel),
                     AIOS_E_AUTH);
    assert_null(dk);

    /* The expected context on the decoded core. */
    {
        aios__env_ctx_entry w[2];
        w[0] = ent("tenant", "acme");
        w[1] = ent("region", "eu-west-1");
        tu_assert_ok(aios__env_context_expect(d.core.entries, d.core.nentries, w, 2,
                                              AIOS__ENV_CTX_EXACT));
        tu_assert_status(aios__env_context_expect(d.core.entries, d.core.nentries, w, 1,
                                                  AIOS__ENV_CTX_EXACT), AIOS_E_AUTH);
        tu_assert_ok(aios__env_context_expect(d.core.entries, d.core.nentries, w, 1,
                                              AIOS__ENV_CTX_SUBSET));
    }

    aios__env_header_clear(&d);
    aios_buffer_free(enc);
    aios__env_kek_record_clear(&a);
    aios__env_kek_record_clear(&b);
}

/* ------------------------------------------------------ expected context */

static void test_context_expect(void **state)
{
    (void)state;
    /* A message's context, sorted as decoded: a reserved key among them. */
    aios__env_ctx_entry have[3], w[4];
    have[0] = ent("aios.trace", "t-1");
    have[1] = ent("region", "eu-west-1");
    have[2] = ent("tenant", "acme");
    tu_assert_ok(aios__env_context_check(have, 3));

    /* Exact: the non-reserved entries, in any order. */
    w[0] = ent("tenant", "acme");
    w[1] = ent("region", "eu-west-1");
    tu_assert_ok(aios__env_context_expect(have, 3, w, 2, AIOS__ENV_CTX_EXACT));
    tu_assert_ok(aios__env_context_expect(have, 3, w, 2, AIOS__ENV_CTX_SUBSET));
    /* One less: exact fails naming the extra key; subset passes. */
    tu_assert_status(aios__env_context_expect(have, 3, w, 1, AIOS__ENV_CTX_EXACT), AIOS_E_AUTH);
    assert_non_null(strstr(aios_last_error_message(), "'region' is not expected"));
    tu_assert_ok(aios__env_context_expect(have, 3, w, 1, AIOS__ENV_CTX_SUBSET));
    tu_assert_ok(aios__env_context_expect(have, 3, w, 0, AIOS__ENV_CTX_SUBSET));
    /* An empty expected context is exact only for a message whose entries
     * are all reserved (or none). */
    tu_assert_status(aios__env_context_expect(have, 3, NULL, 0, AIOS__ENV_CTX_EXACT),
                     AIOS_E_AUTH);
    tu_assert_ok(aios__env_context_expect(have, 1, NULL, 0, AIOS__ENV_CTX_EXACT));
    tu_assert_ok(aios__env_context_expect(NULL, 0, NULL, 0, AIOS__ENV_CTX_EXACT));
    /* Another value; a missing key; more than the message has. */
    w[0] = ent("tenant", "acme2");
    tu_assert_status(aios__env_context_expect(have, 3, w, 2, AIOS__ENV_CTX_SUBSET), AIOS_E_AUTH);
    assert_non_null(strstr(aios_last_error_message(), "'tenant' has another value"));
    tu_assert_status(aios__env_context_expect(have, 3, w, 2, AIOS__ENV_CTX_EXACT), AIOS_E_AUTH);
    w[0] = ent("tenant", "acme");
    w[2] = ent("project", "x");
    tu_assert_status(aios__env_context_expect(have, 3, w, 3, AIOS__ENV_CTX_SUBSET), AIOS_E_AUTH);
    assert_non_null(strstr(aios_last_error_message(), "'project' is missing"));
    /* The first differing key in byte order is named. */
    w[0] = ent("tenant", "zzz");
    w[1] = ent("region", "zzz");
    tu_assert_status(aios__env_context_expect(have, 3, w, 2, AIOS__ENV_CTX_EXACT), AIOS_E_AUTH);
    assert_non_null(strstr(aios_last_error_message(), "'region'"));
    /* Byte comparison: a proper prefix is another key, an empty value is
     * a value. */
    w[0] = ent("tenan", "acme");
    tu_assert_status(aios__env_context_expect(have, 3, w, 1, AIOS__ENV_CTX_SUBSET), AIOS_E_AUTH);
    w[0] = ent("tenant", "");
    tu_assert_status(aios__env_context_expect(have, 3, w, 1, AIOS__ENV_CTX_SUBSET), AIOS_E_AUTH);

    /* Reserved keys in the expectation, duplicates, bad arguments. */
    w[0] = ent("tenant", "acme");
    w[1] = ent("aios.trace", "t-1");
    tu_assert_status(aios__env_context_expect(have, 3, w, 2, AIOS__ENV_CTX_SUBSET),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__env_context_expect(have, 3, w, 2, AIOS__ENV_CTX_EXACT),
                     AIOS_E_INVALID_ARGUMENT);
    w[1] = ent("aios.", "");
    tu_assert_status(aios__env_context_expect(have, 3, w, 2, AIOS__ENV_CTX_SUBSET),
                     AIOS_E_INVALID_ARGUMENT);
    w[1] = ent("aios", "x");     /* not reserved: just missing */
    tu_assert_status(aios__env_context_expect(have, 3, w, 2, AIOS__ENV_CTX_SUBSET), AIOS_E_AUTH);
    w[1] = ent("tenant", "acme");
    tu_assert_status(aios__env_context_expect(have, 3, w, 2, AIOS__ENV_CTX_SUBSET),
                     AIOS_E_INVALID_ARGUMENT);
    w[1] = ent("", "x");
    tu_assert_status(aios__env_context_expect(have, 3, w, 2, AIOS__ENV_CTX_SUBSET),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__env_context_expect(have, 3, w, 1, (aios__env_ctx_mode)3),
                     AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios__env_context_expect(have, 3, w, AIOS__ENV_CTX_ENTRIES_MAX + 1,
                                              AIOS__ENV_CTX_SUBSET), AIOS_E_INVALID_ARGUMENT);
    /* A key that is not printable text is not printed. */
    w[0] = ent("bad\x01key", "v");
    tu_assert_status(aios__env_context_expect(have, 3, w, 1, AIOS__ENV_CTX_SUBSET), AIOS_E_AUTH);
    assert_non_null(strstr(aios_last_error_message(), "not printable"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wad_pinned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_moved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_select, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attempt_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_states, setup, teardown),
        cmocka_unit_test_setup_teardown(test_through_header, setup, teardown),
        cmocka_unit_test(test_context_expect),
    };
    if (aios_init() != AIOS_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
