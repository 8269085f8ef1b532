/*
 * The envelope format's known-answer vectors (docs/FORMAT.md section 15),
 * tests/vectors/envelope-v1/: one binary object and one JSON file per
 * vector (README.md in that folder describes both).
 *
 * Every vector is made again here from its fixed inputs (KEKs imported
 * with known bytes, every random byte from the stream
 * SHA-256("aios envelope vector" || u64be(i))) and compared byte for byte
 * with the committed binary and JSON.  Independently of that, the
 * committed files are read as the Python and Go tests read them: every
 * intermediate in the JSON (PRK, Kc, C, Kh, Ks, D, T, WAD, XAD, chunk
 * nonces, record keys) is recomputed from the spec's formulas on the bare
 * primitives and from lib/envelope's internal functions, the wraps are
 * opened with the KEK bytes and the X25519 private key from the JSON, and
 * each "case" (a key set, an expected context, the expected status of
 * one-shot open, streaming open and random access) is run through the
 * public API.  Suite-1 vectors are opened once more through the software
 * AES-GCM fallback.
 *
 * AIOS_ENVELOPE_WRITE_VECTORS=1 rewrites the vectors and the fuzz seeds in
 * tests/fuzz/corpus/fuzz_envelope_open/ instead of checking them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_keyring_util.h"
#include "aios/envelope.h"
#include "core/internal.h"
#include "crypto/crypto.h"
#include "envelope/chunk.h"
#include "envelope/format.h"
#include "envelope/recipient.h"

#define VEC_DIR    AIOS_TEST_SOURCE_DIR "/tests/vectors/envelope-v1"
#define CORPUS_DIR AIOS_TEST_SOURCE_DIR "/tests/fuzz/corpus/fuzz_envelope_open"

#define CS 4096u

static int writing_vectors(void)
{
    const char *e = getenv("AIOS_ENVELOPE_WRITE_VECTORS");
    return e && strcmp(e, "1") == 0;
}

/* ------------------------------------------------------------ small tools */

static char *hexstr(const uint8_t *p, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    char *s = malloc(2 * n + 1);
    size_t i;
    assert_non_null(s);
    for (i = 0; i < n; i++) {
        s[2 * i] = hx[p[i] >> 4];
        s[2 * i + 1] = hx[p[i] & 15];
    }
    s[2 * n] = '\0';
    return s;
}

static void jhex(json_t *o, const char *k, const uint8_t *p, size_t n)
{
    char *s = hexstr(p, n);
    assert_int_equal(json_object_set_new(o, k, json_string(s)), 0);
    free(s);
}

static void jint(json_t *o, const char *k, json_int_t v)
{
    assert_int_equal(json_object_set_new(o, k, json_integer(v)), 0);
}

static void jstr(json_t *o, const char *k, const char *v)
{
    assert_int_equal(json_object_set_new(o, k, json_string(v)), 0);
}

static void jstrn(json_t *o, const char *k, const uint8_t *v, size_t n)
{
    assert_int_equal(json_object_set_new(o, k, json_stringn((const char *)v, n)), 0);
}

static void be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t be32_get(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* A growing byte string (the spec's concatenations, built by hand). */
typedef struct cat {
    uint8_t *p;
    size_t   n;
} cat;

static void cat_put(cat *c, const void *p, size_t n)
{
    c->p = realloc(c->p, c->n + n + 1);
    assert_non_null(c->p);
    if (n)
        memcpy(c->p + c->n, p, n);
    c->n += n;
}

static void cat_str(cat *c, const char *s)
{
    cat_put(c, s, strlen(s));
}

static void cat_u32(cat *c, uint32_t v)
{
    uint8_t b[4];
    be32_put(b, v);
    cat_put(c, b, 4);
}

/* The plaintext of every message vector: byte i is i mod 251. */
static uint8_t *pt_gen(size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    size_t i;
    assert_non_null(p);
    for (i = 0; i < n; i++)
        p[i] = (uint8_t)(i % 251);
    return p;
}

static void write_file(const char *path, const uint8_t *p, size_t n)
{
    kt_write(path, p, n);
}

static uint8_t *read_vec(const char *name, const char *ext, size_t *n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s.%s", VEC_DIR, name, ext);
    return kt_read(path, n);
}

/* --------------------------------------------------------- the random stream */

static uint64_t stream_ctr;
static json_t *stream_log;   /* array of draws while a vector is made, else NULL */

static void stream_block(uint8_t blk[32], uint64_t i)
{
    static const char label[] = "aios envelope vector";
    uint8_t in[sizeof(label) - 1 + 8];
    int k;
    memcpy(in, label, sizeof(label) - 1);
    for (k = 0; k < 8; k++)
        in[sizeof(label) - 1 + k] = (uint8_t)(i >> (56 - 8 * k));
    aios__sha256(blk, in, sizeof(in));
}

/* Each request of n bytes takes the next ceil(n / 32) blocks; the unused
 * tail of the last block is dropped (as the keyring vector's stream). */
static void stream_bytes(uint8_t *out, size_t len)
{
    uint64_t first = stream_ctr;
    uint8_t *start = out;
    size_t total = len;
    while (len) {
        uint8_t blk[32];
        size_t n = len < 32 ? len : 32;
        stream_block(blk, stream_ctr++);
        memcpy(out, blk, n);
        out += n;
        len -= n;
    }
    if (stream_log) {
        json_t *d = json_object();
        jint(d, "block", (json_int_t)first);
        jint(d, "len", (json_int_t)total);
        jhex(d, "hex", start, total);
        assert_int_equal(json_array_append_new(stream_log, d), 0);
    }
}

static void stream_begin(uint64_t first)
{
    stream_ctr = first;
    stream_log = json_array();
    aios__random_set_for_testing(stream_bytes);
}

static json_t *stream_end(void)
{
    json_t *log = stream_log;
    aios__random_set_for_testing(NULL);
    stream_log = NULL;
    return log;
}

/* ------------------------------------------------------------------ keys */

typedef struct vkey {
    const char *name;        /* the JSON's name for it */
    const char *key_id;
    uint32_t    version;
    int         x25519;
    uint8_t     material[32];
    aios_key   *handle;      /* the private (or KEK) handle */
    aios_key   *pub;         /* X25519: the public-only twin */
} vkey;

enum { K_WRAP1, K_WRAP2, K_OTHER, K_X, K_COUNT };

static vkey vkeys[K_COUNT] = {
    { "wrap-key-v1", "wrap-key", 1, 0, { 0 }, NULL, NULL },
    { "wrap-key-v2", "wrap-key", 2, 0, { 0 }, NULL, NULL },
    { "other-key-v1", "other-key", 1, 0, { 0 }, NULL, NULL },
    { "x-key", "x-key", 1, 1, { 0 }, NULL, NULL },
};

static char *tmpdir;
static aios_keyring *kr1, *kr2;
static char x_pem[AIOS__PKCS8_PEM_MAX];
static size_t x_pem_len;
static uint8_t x_pub[32];

static const uint8_t *v2_material;
static int gen_v2(aios_key_type type, uint8_t *m, size_t *ml, uint8_t *p, size_t *pl)
{
    (void)p;
    assert_int_equal(type, AIOS_KEY_AES256);
    memcpy(m, v2_material, 32);
    *ml = 32;
    *pl = 0;
    return AIOS_OK;
}

static vkey *vkey_by_name(const char *name)
{
    size_t i;
    for (i = 0; i < K_COUNT; i++)
        if (strcmp(vkeys[i].name, name) == 0)
            return &vkeys[i];
    fail_msg("unknown key name %s", name);
    return NULL;
}

static const vkey *vkey_by_ref(const char *provider, const char *key_id, uint32_t version)
{
    size_t i;
    if (strcmp(provider, "local") != 0)
        return NULL;
    for (i = 0; i < K_COUNT; i++)
        if (!vkeys[i].x25519 && strcmp(vkeys[i].key_id, key_id) == 0 &&
            vkeys[i].version == version)
            return &vkeys[i];
    return NULL;
}

/* Two raw-key keyrings: kr1 holds wrap-key v1 (active), other-key v1 and
 * x-key; kr2 holds wrap-key v1 (the same bytes) rotated to v2.  Nothing
 * here draws from the vector stream (it is installed only while sealing). */
static int setup(void **state)
{
    aios_keyring_options o = kt_raw();
    aios_buffer *pem = NULL;
    size_t i;
    (void)state;
    for (i = 0; i < 32; i++) {
        vkeys[K_WRAP1].material[i] = (uint8_t)i;
        vkeys[K_WRAP2].material[i] = (uint8_t)(0x20 + i);
        vkeys[K_X].material[i] = (uint8_t)(0x40 + i);
        vkeys[K_OTHER].material[i] = (uint8_t)(0x60 + i);
    }
    tmpdir = kt_tmpdir();
    tu_assert_ok(aios_keyring_create(&kr1, kt_path(tmpdir, "one.aioskr", 0), &o));
    tu_assert_ok(aios_keyring_import(kr1, &vkeys[K_WRAP1].handle, "wrap-key", AIOS_KEY_AES256,
                                     vkeys[K_WRAP1].material, 32, NULL));
    tu_assert_ok(aios_keyring_import(kr1, &vkeys[K_OTHER].handle, "other-key", AIOS_KEY_AES256,
                                     vkeys[K_OTHER].material, 32, NULL));
    tu_assert_ok(aios__pkcs8_encode_pem(x_pem, sizeof(x_pem), &x_pem_len, AIOS__KEYENC_X25519,
                                        vkeys[K_X].material, 32));
    tu_assert_ok(aios_keyring_import(kr1, &vkeys[K_X].handle, "x-key", AIOS_KEY_X25519,
                                     (const uint8_t *)x_pem, x_pem_len, NULL));
    tu_assert_ok(aios_key_public_pem(vkeys[K_X].handle, &pem));
    tu_assert_ok(aios_key_from_public_pem(&vkeys[K_X].pub, "x-key",
                                          (const char *)aios_buffer_data(pem), aios_buffer_len(pem)));
    aios_buffer_free(pem);
    tu_assert_ok(aios__x25519_public(x_pub, vkeys[K_X].material));

    tu_assert_ok(aios_keyring_create(&kr2, kt_path(tmpdir, "two.aioskr", 1), &o));
    tu_assert_ok(aios_keyring_import(kr2, NULL, "wrap-key", AIOS_KEY_AES256,
                                     vkeys[K_WRAP1].material, 32, NULL));
    v2_material = vkeys[K_WRAP2].material;
    aios__kr_set_generate_for_testing(gen_v2);
    tu_assert_ok(aios_keyring_rotate(kr2, &vkeys[K_WRAP2].handle, "wrap-key"));
    aios__kr_set_generate_for_testing(NULL);
    assert_int_equal(aios_key_version(vkeys[K_WRAP2].handle), 2);
    return 0;
}

static int teardown(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < K_COUNT; i++) {
        aios_key_unref(vkeys[i].handle);
        aios_key_unref(vkeys[i].pub);
        vkeys[i].handle = vkeys[i].pub = NULL;
    }
    aios_keyring_free(kr1);
    aios_keyring_free(kr2);
    kt_rmtree(tmpdir);
    aios__random_set_for_testing(NULL);
    aios__aead_test_force_soft_gcm(0);
    return 0;
}

/* The JSON description of the keys a vector uses. */
static json_t *keys_json(const int *which, size_t n)
{
    json_t *o = json_object();
    size_t i;
    for (i = 0; i < n; i++) {
        const vkey *k = &vkeys[which[i]];
        json_t *e = json_object();
        if (k->x25519) {
            jstr(e, "kind", "x25519");
            jstr(e, "key_id", k->key_id);
            jhex(e, "private_hex", k->material, 32);
            jhex(e, "public_hex", x_pub, 32);
            assert_int_equal(json_object_set_new(e, "private_pkcs8_pem",
                                                 json_stringn(x_pem, x_pem_len)), 0);
        } else {
            jstr(e, "kind", "kek");
            jstr(e, "type", "aes256");
            jstr(e, "provider", "local");
            jstr(e, "key_id", k->key_id);
            jint(e, "version", k->version);
            jhex(e, "material_hex", k->material, 32);
        }
        assert_int_equal(json_object_set_new(o, k->name, e), 0);
    }
    return o;
}

/* ------------------------------------------------------------ context */

static const aios_envelope_context_entry CTX[2] = {
    { "tenant", "acme" }, { "region", "eu-west-1" }
};

static json_t *ctx_json(const aios_envelope_context_entry *c, size_t n)
{
    json_t *o = json_object();
    size_t i;
    /* sorted by key bytes, as the canonical encoding */
    for (i = 0; i < n; i++) {
        size_t j, best = SIZE_MAX;
        for (j = 0; j < n; j++) {
            if (json_object_get(o, c[j].key))
                continue;
            if (best == SIZE_MAX || strcmp(c[j].key, c[best].key) < 0)
                best = j;
        }
        jstr(o, c[best].key, c[best].value);
    }
    return o;
}

/* ------------------------------------------------------------ describing
 *
 * Everything derived from a header and the data key(s), recomputed twice:
 * by the spec's formulas on the bare primitives (what another language
 * does) and by lib/envelope's internal functions; both must agree, and
 * the values go into the JSON's "intermediates". */

static const char L_CONTENT[] = "aios envelope v1 content key";
static const char L_COMMIT[] = "aios envelope v1 commitment";
static const char L_HEADER[] = "aios envelope v1 header key";
static const char L_SIV[] = "aios envelope v1 siv key";
static const char L_RECORD[] = "aios envelope v1 record key";
static const char L_DIGEST[] = "aios envelope v1 core digest";
static const char L_KEK[] = "aios envelope v1 kek";
static const char L_X25519[] = "aios envelope v1 x25519";

/* HKDF-Expand(PRK, label || u16be(suite) [|| r], L) by hand. */
static void expand_by_hand(uint8_t *out, size_t len, const uint8_t prk[32], const char *label,
                           uint16_t suite, const uint8_t *r)
{
    cat info = { NULL, 0 };
    uint8_t s[2] = { (uint8_t)(suite >> 8), (uint8_t)suite };
    cat_str(&info, label);
    cat_put(&info, s, 2);
    if (r)
        cat_put(&info, r, 16);
    tu_assert_ok(aios__hkdf_sha256_expand(out, len, prk, info.p, info.n));
    free(info.p);
}

typedef struct sched {
    uint8_t prk[32], kc[32], c[32], kh[32], ks[64], d[32], t[32];
} sched;

/* The key schedule of a decoded header h (from bytes hb) under dk, with
 * the checks; fills the JSON. */
static void schedule(sched *s, json_t *o, const aios__env_header *h, const uint8_t *hb,
                     const uint8_t dk[32], int want_commit)
{
    uint16_t suite = h->prefix.suite;
    uint8_t tmp[64];
    cat dcat = { NULL, 0 };
    size_t lc = h->core_raw.len, lr = h->recipients_raw.len;

    /* by hand */
    aios__hkdf_sha256_extract(s->prk, h->core.message_id, 32, dk, 32);
    expand_by_hand(s->kc, 32, s->prk, L_CONTENT, suite, NULL);
    expand_by_hand(s->c, 32, s->prk, L_COMMIT, suite, NULL);
    expand_by_hand(s->kh, 32, s->prk, L_HEADER, suite, NULL);
    expand_by_hand(s->ks, 64, s->prk, L_SIV, suite, NULL);
    cat_str(&dcat, L_DIGEST);
    cat_put(&dcat, hb, 14 + lc);              /* prefix || u32be(Lc) || core */
    cat_put(&dcat, h->commitment, 32);
    aios__sha256(s->d, dcat.p, dcat.n);
    free(dcat.p);
    aios__hmac_sha256(s->t, s->kh, 32, hb, 50 + lc + lr);

    /* the library's functions agree */
    aios__env_prk(tmp, dk, h->core.message_id);
    assert_memory_equal(tmp, s->prk, 32);
    tu_assert_ok(aios__env_expand(tmp, 32, s->prk, AIOS__ENV_LABEL_CONTENT, suite, NULL));
    assert_memory_equal(tmp, s->kc, 32);
    tu_assert_ok(aios__env_expand(tmp, 32, s->prk, AIOS__ENV_LABEL_COMMITMENT, suite, NULL));
    assert_memory_equal(tmp, s->c, 32);
    tu_assert_ok(aios__env_expand(tmp, 32, s->prk, AIOS__ENV_LABEL_HEADER, suite, NULL));
    assert_memory_equal(tmp, s->kh, 32);
    tu_assert_ok(aios__env_expand(tmp, 64, s->prk, AIOS__ENV_LABEL_SIV, suite, NULL));
    assert_memory_equal(tmp, s->ks, 64);
    tu_assert_ok(aios__env_derive(tmp, 32, dk, h->core.message_id, AIOS__ENV_LABEL_COMMITMENT,
                                  suite, NULL));
    assert_memory_equal(tmp, s->c, 32);
    aios__env_core_digest(tmp, hb, h->core_raw.p, lc, h->commitment);
    assert_memory_equal(tmp, s->d, 32);
    aios__env_header_tag(tmp, s->kh, hb, 50 + lc + lr);
    assert_memory_equal(tmp, s->t, 32);

    /* the header is what this data key makes */
    if (want_commit > 0) {
        assert_memory_equal(s->c, h->commitment, 32);
        assert_memory_equal(s->t, h->tag, 32);
        tu_assert_ok(aios__env_header_verify(h, dk, NULL));
    } else if (want_commit == 0) {
        tu_assert_status(aios__env_header_verify(h, dk, NULL), AIOS_E_ENVELOPE_COMMITMENT);
    }

    jhex(o, "dk", dk, 32);
    jhex(o, "mid", h->core.message_id, 32);
    jhex(o, "prefix", hb, 10);
    jint(o, "Lc", (json_int_t)lc);
    jhex(o, "core", h->core_raw.p, lc);
    jhex(o, "ctx", h->ctx.p, h->ctx.len);
    jint(o, "Lr", (json_int_t)lr);
    jhex(o, "recipients", h->recipients_raw.p, lr);
    jint(o, "header_len", (json_int_t)h->raw.len);
    jhex(o, "PRK", s->prk, 32);
    if (h->prefix.type == AIOS__ENV_TYPE_M)
        jhex(o, "Kc", s->kc, 32);
    jhex(o, "C", s->c, 32);
    jhex(o, "Kh", s->kh, 32);
    if (h->prefix.type == AIOS__ENV_TYPE_S && (h->prefix.flags & AIOS__ENV_FLAG_DETERMINISTIC))
        jhex(o, "Ks", s->ks, 64);
    jhex(o, "D", s->d, 32);
    jhex(o, "T", s->t, 32);
}

/* The recipient records: their associated data recomputed by hand and by
 * recipient.c, and each wrap opened with the known key bytes. */
static json_t *records_json(const aios__env_header *h, const uint8_t *hb)
{
    json_t *arr = json_array();
    aios__env_binding b;
    size_t i;

    aios__env_binding_from_header(&b, h);
    assert_memory_equal(b.prefix, hb, 10);
    for (i = 0; i < h->nrecipients; i++) {
        const aios__env_recipient *r = &h->recipients[i];
        json_t *o = json_object();
        cat ad = { NULL, 0 };
        aios_buffer *lib_ad = NULL;
        uint8_t unwrapped[32];

        jint(o, "index", (json_int_t)i);
        jint(o, "kind", r->kind);
        if (r->kind == AIOS__ENV_KIND_KEK) {
            const vkey *k = vkey_by_ref(r->keyref.provider, r->keyref.key_id, r->keyref.version);
            aios__aead_key *ak = NULL;
            cat_str(&ad, L_KEK);
            cat_put(&ad, hb, 10);
            cat_put(&ad, h->core.message_id, 32);
            cat_u32(&ad, (uint32_t)h->ctx.len);
            cat_put(&ad, h->ctx.p, h->ctx.len);
            cat_u32(&ad, 1);
            cat_u32(&ad, (uint32_t)r->key.len);
            cat_put(&ad, r->key.p, r->key.len);
            tu_assert_ok(aios__env_kek_wad(&lib_ad, &b, r->key.p, r->key.len));
            assert_int_equal(aios_buffer_len(lib_ad), ad.n);
            assert_memory_equal(aios_buffer_data(lib_ad), ad.p, ad.n);
            jstr(o, "provider", r->keyref.provider);
            jstr(o, "key_id", r->keyref.key_id);
            jint(o, "version", r->keyref.version);
            jhex(o, "keyref", r->key.p, r->key.len);
            jhex(o, "wrapped_key", r->wrapped_key.p, r->wrapped_key.len);
            /* local wrap format 0x01: nonce(24) || ct(32) || tag(16),
             * XChaCha20-Poly1305 under the KEK bytes with WAD (KEYRING.md) */
            assert_non_null(k);
            assert_int_equal(r->wrapped_key.len, 73);
            assert_int_equal(r->wrapped_key.p[0], 0x01);
            jhex(o, "wrap_nonce", r->wrapped_key.p + 1, 24);
            jhex(o, "WAD", ad.p, ad.n);
            tu_assert_ok(aios__aead_key_new(&ak, AIOS__AEAD_XCHACHA20POLY1305, k->material));
            tu_assert_ok(aios__aead_open(ak, unwrapped, r->wrapped_key.p + 25, 32,
                                         r->wrapped_key.p + 57, ad.p, ad.n, r->wrapped_key.p + 1));
            aios__aead_key_free(ak);
            jhex(o, "unwrapped_key", unwrapped, 32);
        } else if (r->kind == AIOS__ENV_KIND_X25519) {
            cat_str(&ad, L_X25519);
            cat_put(&ad, hb, 10);
            cat_put(&ad, h->core.message_id, 32);
            cat_u32(&ad, (uint32_t)h->ctx.len);
            cat_put(&ad, h->ctx.p, h->ctx.len);
            cat_u32(&ad, 2);
            cat_put(&ad, r->recipient_public.p, 32);
            cat_u32(&ad, (uint32_t)r->label.len);
            cat_put(&ad, r->label.p, r->label.len);
            tu_assert_ok(aios__env_x25519_xad(&lib_ad, &b, r->recipient_public.p, r->label.p,
                                              r->label.len));
            assert_int_equal(aios_buffer_len(lib_ad), ad.n);
            assert_memory_equal(aios_buffer_data(lib_ad), ad.p, ad.n);
            jhex(o, "recipient_public", r->recipient_public.p, 32);
            jhex(o, "ephemeral_public", r->ephemeral_public.p, 32);
            jstrn(o, "label", r->label.p, r->label.len);
            jhex(o, "wrapped_key", r->wrapped_key.p, r->wrapped_key.len);
            jhex(o, "XAD", ad.p, ad.n);
            /* RFC 9180 OpenBase with the known private key */
            assert_memory_equal(r->recipient_public.p, x_pub, 32);
            tu_assert_ok(aios__hpke_open_base(unwrapped, r->ephemeral_public.p,
                                              vkeys[K_X].material,
                                              (const uint8_t *)L_X25519, strlen(L_X25519),
                                              ad.p, ad.n, r->wrapped_key.p, 48));
            jhex(o, "unwrapped_key", unwrapped, 32);
        } else {
            jhex(o, "raw", r->raw.p, r->raw.len);
        }
        aios_buffer_free(lib_ad);
        free(ad.p);
        assert_int_equal(json_array_append_new(arr, o), 0);
    }
    return arr;
}

/* The chunks of a well-formed payload (section 8.5's layout), each opened
 * by hand with Kc, its nonce and D, against the expected plaintext. */
static json_t *chunks_json(const aios__env_header *h, const sched *s, const uint8_t *file,
                           size_t file_len, const uint8_t *pt, size_t pt_len)
{
    json_t *arr = json_array();
    uint32_t cs = h->core.chunk_size;
    size_t hl = h->raw.len, nlen = h->prefix.suite == 1 ? 12 : 24;
    uint64_t n, plen, i;
    aios__aead_key *kc = NULL;
    uint8_t *buf = malloc(cs);

    assert_non_null(buf);
    tu_assert_ok(aios__chunk_layout(&n, &plen, file_len - hl, cs));
    assert_int_equal(plen, pt_len);
    tu_assert_ok(aios__aead_key_new(&kc, h->prefix.suite == 1 ? AIOS__AEAD_AES256GCM
                                                              : AIOS__AEAD_XCHACHA20POLY1305, s->kc));
    for (i = 0; i < n; i++) {
        json_t *o = json_object();
        uint8_t nonce[24], lib_nonce[24];
        size_t off = hl + (size_t)i * (cs + 16);
        size_t clen = i + 1 < n ? cs + 16 : file_len - off;
        int fin = i + 1 == n;
        memset(nonce, 0, sizeof(nonce));
        be32_put(nonce + nlen - 5, (uint32_t)i);
        nonce[nlen - 1] = (uint8_t)fin;
        tu_assert_ok(aios__chunk_nonce(lib_nonce, nlen, i, fin));
        assert_memory_equal(nonce, lib_nonce, nlen);
        tu_assert_ok(aios__aead_open(kc, buf, file + off, clen - 16, file + off + clen - 16,
                                     s->d, 32, nonce));
        if (clen > 16)
            assert_memory_equal(buf, pt + (size_t)i * cs, clen - 16);
        jint(o, "index", (json_int_t)i);
        assert_int_equal(json_object_set_new(o, "final", json_boolean(fin)), 0);
        jhex(o, "nonce", nonce, nlen);
        jint(o, "offset", (json_int_t)off);
        jint(o, "len", (json_int_t)clen);
        assert_int_equal(json_array_append_new(arr, o), 0);
    }
    aios__aead_key_free(kc);
    free(buf);
    return arr;
}

static json_t *plaintext_json(size_t n)
{
    json_t *o = json_object();
    uint8_t *p = pt_gen(n), h[32];
    jint(o, "len", (json_int_t)n);
    jstr(o, "generator", "mod251");
    aios__sha256(h, p, n);
    jhex(o, "sha256", h, 32);
    if (n <= 64)
        jhex(o, "hex", p, n);
    free(p);
    return o;
}

/* ------------------------------------------------------------ cases */

typedef struct vcase {
    const char *keys[3];
    const aios_envelope_context_entry *expected;
    size_t nexpected;
    aios_envelope_context_mode mode;
    int open, stream, reader;     /* expected statuses */
    int opened_by;                /* -1: not checked */
} vcase;

static const char *mode_name(aios_envelope_context_mode m)
{
    return m == AIOS_ENVELOPE_CONTEXT_EXACT ? "exact" : "subset";
}

static json_t *cases_json(const vcase *c, size_t n)
{
    json_t *arr = json_array();
    size_t i, k;
    for (i = 0; i < n; i++) {
        json_t *o = json_object(), *ks = json_array(), *ex = json_object();
        for (k = 0; k < 3 && c[i].keys[k]; k++)
            assert_int_equal(json_array_append_new(ks, json_string(c[i].keys[k])), 0);
        assert_int_equal(json_object_set_new(o, "keys", ks), 0);
        if (c[i].mode != AIOS_ENVELOPE_CONTEXT_ANY) {
            assert_int_equal(json_object_set_new(o, "expected_context",
                                                 ctx_json(c[i].expected, c[i].nexpected)), 0);
            jstr(o, "context_mode", mode_name(c[i].mode));
        }
        jstr(ex, "open", aios_status_name(c[i].open));
        jstr(ex, "stream", aios_status_name(c[i].stream));
        jstr(ex, "reader", aios_status_name(c[i].reader));
        assert_int_equal(json_object_set_new(o, "expect", ex), 0);
        if (c[i].opened_by >= 0)
            jint(o, "opened_by", c[i].opened_by);
        assert_int_equal(json_array_append_new(arr, o), 0);
    }
    return arr;
}

#define OKCASE(k, by) { { (k), NULL, NULL }, NULL, 0, AIOS_ENVELOPE_CONTEXT_ANY, 0, 0, 0, (by) }
#define ALL(k, st) { { (k), NULL, NULL }, NULL, 0, AIOS_ENVELOPE_CONTEXT_ANY, (st), (st), (st), -1 }

static const aios_envelope_context_entry SUBSET_OK[1] = { { "tenant", "acme" } };
static const aios_envelope_context_entry EXACT_BAD[2] = {
    { "tenant", "evil" }, { "region", "eu-west-1" }
};

/* ------------------------------------------------------------ a vector */

typedef struct vec {
    char     name[64];
    uint8_t *file;
    size_t   len;
    json_t  *j;
} vec;

static void vec_clear(vec *v)
{
    free(v->file);
    json_decref(v->j);
    memset(v, 0, sizeof(*v));
}

static void vec_set_file(vec *v, const uint8_t *p, size_t n)
{
    v->file = malloc(n ? n : 1);
    assert_non_null(v->file);
    memcpy(v->file, p, n);
    v->len = n;
}

/* The common head of a vector's JSON. */
static json_t *vec_head(const vec *v, const char *desc, const char *type, uint64_t stream_first)
{
    json_t *o = json_object(), *rs = json_object();
    char f[96];
    uint8_t h[32];
    jstr(o, "name", v->name);
    jstr(o, "description", desc);
    jstr(o, "format", "aios envelope v1 (docs/FORMAT.md)");
    jstr(o, "type", type);
    snprintf(f, sizeof(f), "%s.bin", v->name);
    jstr(o, "file", f);
    jint(o, "file_len", (json_int_t)v->len);
    aios__sha256(h, v->file, v->len);
    jhex(o, "file_sha256", h, 32);
    jstr(rs, "rule", "block i = SHA-256(\"aios envelope vector\" || u64be(i)); a request of n "
                     "bytes takes the next ceil(n/32) blocks, the tail of the last dropped");
    jint(rs, "first_block", (json_int_t)stream_first);
    assert_int_equal(json_object_set_new(o, "random_stream", rs), 0);
    return o;
}

/* Describe a message file (header + payload) under dk: intermediates,
 * records and, for a well-formed payload, chunks. */
static json_t *describe_message(const uint8_t *file, size_t len, const uint8_t dk[32],
                                int want_commit, const uint8_t *pt, size_t pt_len, int chunks)
{
    aios__env_header h;
    json_t *o = json_object();
    sched s;
    tu_assert_ok(aios__env_header_decode(&h, file, len, AIOS__ENV_ACCEPT_M));
    schedule(&s, o, &h, file, dk, want_commit);
    jint(o, "chunk_size", h.core.chunk_size);
    assert_int_equal(json_object_set_new(o, "records", records_json(&h, file)), 0);
    if (chunks)
        assert_int_equal(json_object_set_new(o, "chunks",
                                             chunks_json(&h, &s, file, len, pt, pt_len)), 0);
    aios__env_header_clear(&h);
    return o;
}

/* ---------------------------------------------- the reference writer
 *
 * A message assembled from lib/envelope's internal pieces exactly as
 * FORMAT.md composes them (draw dk, mid; wrap for each record in order;
 * C, T; chunks).  For the API-made vectors its output must equal
 * aios_envelope_seal's; it also makes what the API cannot: an unknown
 * record kind, two records wrapping different data keys, a last chunk
 * sealed non-final. */

#define REC_UNKNOWN ((aios_key *)1)

typedef struct refopts {
    uint16_t suite;
    aios_key *const *rcpt;      /* REC_UNKNOWN: the kind-99 record */
    size_t nrcpt;
    int second_dk_for;          /* >= 0: that record wraps a second data key (salamander) */
    int nonfinal_last;          /* seal the last chunk with f = 0 */
    int no_context;             /* an empty context (else CTX) */
} refopts;

static aios_buffer *ref_seal(const refopts *ro, const uint8_t *pt, size_t pt_len)
{
    static const uint8_t unknown_wrapped[16] = { 0x99, 0x99, 0x99, 0x99, 0x99, 0x99, 0x99, 0x99,
                                                 0x99, 0x99, 0x99, 0x99, 0x99, 0x99, 0x99, 0x99 };
    static const uint8_t unknown_field[2] = { 0x48, 0x2a };   /* field 9, varint 42 */
    aios__env_ctx_entry entries[2];
    aios_buffer *ctxbuf = NULL, *hdr = NULL, *out = NULL;
    aios__env_kek_record kek[4];
    aios__env_x25519_record x[4];
    aios__env_recipient recs[4];
    aios__env_header h, dec;
    aios__env_binding b;
    uint8_t dk[32], dk2[32], prk[32], c[32], kh[32], kc[32], d[32];
    aios__aead_key *ak = NULL;
    uint64_t n, i;
    size_t hl, k;

    assert_true(ro->nrcpt <= 4);
    memset(kek, 0, sizeof(kek));
    memset(x, 0, sizeof(x));
    memset(recs, 0, sizeof(recs));
    memset(&h, 0, sizeof(h));
    for (k = 0; k < 2; k++) {
        entries[k].key.p = (const uint8_t *)CTX[k].key;
        entries[k].key.len = strlen(CTX[k].key);
        entries[k].value.p = (const uint8_t *)CTX[k].value;
        entries[k].value.len = strlen(CTX[k].value);
    }
    tu_assert_ok(aios__env_context_canonicalize(entries, 2));
    tu_assert_ok(aios__env_context_encode(&ctxbuf, entries, ro->no_context ? 0 : 2));

    h.prefix.type = AIOS__ENV_TYPE_M;
    h.prefix.suite = ro->suite;
    aios__random_bytes(dk, 32);
    aios__random_bytes(h.core.message_id, 32);
    if (ro->second_dk_for >= 0)
        aios__random_bytes(dk2, 32);
    h.core.entries = ro->no_context ? NULL : entries;
    h.core.nentries = ro->no_context ? 0 : 2;
    h.core.chunk_size = CS;
    aios__env_prefix_encode(b.prefix, &h.prefix);
    b.mid = h.core.message_id;
    b.ctx.p = aios_buffer_data(ctxbuf);
    b.ctx.len = aios_buffer_len(ctxbuf);
    for (k = 0; k < ro->nrcpt; k++) {
        const uint8_t *key = (int)k == ro->second_dk_for ? dk2 : dk;
        if (ro->rcpt[k] == REC_UNKNOWN) {
            recs[k].kind = 99;
            recs[k].wrapped_key.p = unknown_wrapped;
            recs[k].wrapped_key.len = sizeof(unknown_wrapped);
            recs[k].label.p = (const uint8_t *)"a future kind";
            recs[k].label.len = 13;
            recs[k].unknown.p = unknown_field;
            recs[k].unknown.len = sizeof(unknown_field);
        } else if (aios_key_get_type(ro->rcpt[k]) == AIOS_KEY_X25519) {
            tu_assert_ok(aios__env_x25519_wrap(&x[k], &b, ro->rcpt[k], key));
            recs[k] = x[k].rec;
        } else {
            tu_assert_ok(aios__env_kek_wrap(&kek[k], &b, ro->rcpt[k], key));
            recs[k] = kek[k].rec;
        }
    }
    h.recipients = recs;
    h.nrecipients = ro->nrcpt;
    aios__env_prk(prk, dk, h.core.message_id);
    tu_assert_ok(aios__env_expand(c, 32, prk, AIOS__ENV_LABEL_COMMITMENT, ro->suite, NULL));
    tu_assert_ok(aios__env_expand(kh, 32, prk, AIOS__ENV_LABEL_HEADER, ro->suite, NULL));
    tu_assert_ok(aios__env_expand(kc, 32, prk, AIOS__ENV_LABEL_CONTENT, ro->suite, NULL));
    h.commitment = c;
    tu_assert_ok(aios__env_header_encode(&hdr, &h, kh));
    tu_assert_ok(aios__env_header_decode(&dec, aios_buffer_data(hdr), aios_buffer_len(hdr),
                                         AIOS__ENV_ACCEPT_M));
    aios__env_core_digest(d, aios_buffer_data(hdr), dec.core_raw.p, dec.core_raw.len, c);
    aios__env_header_clear(&dec);

    hl = aios_buffer_len(hdr);
    tu_assert_ok(aios__chunk_count(&n, pt_len, CS));
    tu_assert_ok(aios__buffer_new(&out, hl + pt_len + 16 * (size_t)n, 0));
    memcpy(aios_buffer_data_mut(out), aios_buffer_data(hdr), hl);
    tu_assert_ok(aios__aead_key_new(&ak, ro->suite == 1 ? AIOS__AEAD_AES256GCM
                                                        : AIOS__AEAD_XCHACHA20POLY1305, kc));
    for (i = 0; i < n; i++) {
        size_t len = i + 1 < n ? CS : pt_len - (size_t)i * CS;
        int fin = i + 1 == n && !ro->nonfinal_last;
        if (i + 1 == n && ro->nonfinal_last)
            assert_int_equal(len, CS);   /* only a full chunk can be non-final */
        tu_assert_ok(aios__chunk_seal(ak, d, CS, i, fin,
                                      aios_buffer_data_mut(out) + hl + (size_t)i * (CS + 16),
                                      pt + (size_t)i * CS, len));
    }
    aios__aead_key_free(ak);
    for (k = 0; k < 4; k++) {
        aios__env_kek_record_clear(&kek[k]);
        aios__env_x25519_record_clear(&x[k]);
    }
    aios_buffer_free(hdr);
    aios_buffer_free(ctxbuf);
    aios__wipe(prk, 32);
    return out;
}

/* ------------------------------------------------------ the vectors */

static const size_t SIZES[] = { 0, 1, 4095, 4096, 4097, 3 * 4096 + 5 };
#define NSIZES (sizeof(SIZES) / sizeof(SIZES[0]))

static int suite_sealable(uint16_t suite)
{
    return suite != 1 || aios__aead_available(AIOS__AEAD_AES256GCM);
}

/* m-gcm-kek-N, m-xchacha-kek-N: aios_envelope_seal with wrap-key v1, and
 * the reference writer must give the same bytes. */
static void make_api_message(vec *v, uint16_t suite, size_t pt_len, uint64_t first,
                             int no_context)
{
    aios_envelope_seal_options so = AIOS_ENVELOPE_SEAL_OPTIONS_INIT;
    aios_buffer *m = NULL, *r = NULL;
    uint8_t *pt = pt_gen(pt_len);
    json_t *draws, *draws2;
    refopts ro;
    static const int used[] = { K_WRAP1, K_OTHER };
    static const vcase cases[] = {
        OKCASE("wrap-key-v1", 0),
        { { "wrap-key-v1", NULL, NULL }, SUBSET_OK, 1, AIOS_ENVELOPE_CONTEXT_SUBSET, 0, 0, 0, 0 },
        { { "wrap-key-v1", NULL, NULL }, EXACT_BAD, 2, AIOS_ENVELOPE_CONTEXT_EXACT,
          AIOS_E_ENVELOPE_CONTEXT_MISMATCH, AIOS_E_ENVELOPE_CONTEXT_MISMATCH,
          AIOS_E_ENVELOPE_CONTEXT_MISMATCH, -1 },
        ALL("other-key-v1", AIOS_E_ENVELOPE_NO_RECIPIENT),
    };
    static const vcase empty_cases[] = {
        OKCASE("wrap-key-v1", 0),
        { { "wrap-key-v1", NULL, NULL }, SUBSET_OK, 1, AIOS_ENVELOPE_CONTEXT_SUBSET,
          AIOS_E_ENVELOPE_CONTEXT_MISMATCH, AIOS_E_ENVELOPE_CONTEXT_MISMATCH,
          AIOS_E_ENVELOPE_CONTEXT_MISMATCH, -1 },
        ALL("other-key-v1", AIOS_E_ENVELOPE_NO_RECIPIENT),
    };
    json_t *o;

    if (no_context)
        snprintf(v->name, sizeof(v->name), "m-empty-context");
    else
        snprintf(v->name, sizeof(v->name), "m-%s-kek-%zu", suite == 1 ? "gcm" : "xchacha",
                 pt_len);
    so.suite = (aios_envelope_suite)suite;
    so.chunk_size = CS;
    stream_begin(first);
    tu_assert_ok(aios_envelope_seal(&m, &vkeys[K_WRAP1].handle, 1, no_context ? NULL : CTX,
                                    no_context ? 0 : 2, pt, pt_len, &so));
    draws = stream_end();
    vec_set_file(v, aios_buffer_data(m), aios_buffer_len(m));
    aios_buffer_free(m);

    memset(&ro, 0, sizeof(ro));
    ro.suite = suite;
    ro.rcpt = &vkeys[K_WRAP1].handle;
    ro.nrcpt = 1;
    ro.second_dk_for = -1;
    ro.no_context = no_context;
    stream_begin(first);
    r = ref_seal(&ro, pt, pt_len);
    draws2 = stream_end();
    assert_int_equal(aios_buffer_len(r), v->len);
    assert_memory_equal(aios_buffer_data(r), v->file, v->len);
    assert_true(json_equal(draws, draws2));
    json_decref(draws2);
    aios_buffer_free(r);

    o = vec_head(v, no_context ? "suite 2, one local KEK, no context (core field 2 absent), "
                                 "chunk size 4096"
                    : suite == 1 ? "suite 1 (AES-256-GCM), one local KEK, context "
                                   "{region: eu-west-1, tenant: acme}, chunk size 4096"
                                 : "suite 2 (XChaCha20-Poly1305), one local KEK, context "
                                   "{region: eu-west-1, tenant: acme}, chunk size 4096",
                 "message", first);
    assert_int_equal(json_object_set_new(o, "random", draws), 0);
    assert_int_equal(json_object_set_new(o, "keys", keys_json(used, 2)), 0);
    assert_int_equal(json_object_set_new(o, "context", ctx_json(CTX, no_context ? 0 : 2)), 0);
    jint(o, "suite", suite);
    jint(o, "chunk_size", CS);
    assert_int_equal(json_object_set_new(o, "plaintext", plaintext_json(pt_len)), 0);
    assert_int_equal(json_object_set_new(o, "cases", no_context ? cases_json(empty_cases, 3)
                                                                : cases_json(cases, 4)), 0);
    {
        const uint8_t *dk = NULL;
        size_t dl;
        uint8_t *dkb = tu_hex(json_string_value(json_object_get(json_array_get(
                                  json_object_get(o, "random"), 0), "hex")), &dl);
        dk = dkb;
        assert_int_equal(dl, 32);
        assert_int_equal(json_object_set_new(o, "intermediates",
                                             describe_message(v->file, v->len, dk, 1, pt, pt_len,
                                                              1)), 0);
        free(dkb);
    }
    v->j = o;
    free(pt);
}

/* The data key a vector's JSON names (intermediates.dk). */
static uint8_t *json_dk(json_t *j)
{
    size_t n;
    uint8_t *dk = tu_hexmember(json_object_get(j, "intermediates"), "dk", &n);
    assert_int_equal(n, 32);
    return dk;
}

/* m-mixed: [unknown kind 99, KEK wrap-key v1, X25519 x-key], suite 2. */
static void make_mixed(vec *v, uint64_t first)
{
    aios_key *r[3] = { REC_UNKNOWN, vkeys[K_WRAP1].handle, vkeys[K_X].pub };
    static const int used[] = { K_WRAP1, K_OTHER, K_X };
    static const vcase cases[] = {
        OKCASE("wrap-key-v1", 1),
        OKCASE("x-key", 2),
        ALL("other-key-v1", AIOS_E_ENVELOPE_NO_RECIPIENT),
    };
    size_t pt_len = 5000;
    uint8_t *pt = pt_gen(pt_len), *dk;
    aios_buffer *m;
    json_t *o, *draws;
    refopts ro;

    snprintf(v->name, sizeof(v->name), "m-mixed");
    memset(&ro, 0, sizeof(ro));
    ro.suite = 2;
    ro.rcpt = r;
    ro.nrcpt = 3;
    ro.second_dk_for = -1;
    stream_begin(first);
    m = ref_seal(&ro, pt, pt_len);
    draws = stream_end();
    vec_set_file(v, aios_buffer_data(m), aios_buffer_len(m));
    aios_buffer_free(m);
    o = vec_head(v, "suite 2, three records: an unknown kind 99 (skipped), a local KEK, an "
                    "X25519 (HPKE) recipient; opened by each key alone",
                 "message", first);
    assert_int_equal(json_object_set_new(o, "random", draws), 0);
    assert_int_equal(json_object_set_new(o, "keys", keys_json(used, 3)), 0);
    assert_int_equal(json_object_set_new(o, "context", ctx_json(CTX, 2)), 0);
    jint(o, "suite", 2);
    jint(o, "chunk_size", CS);
    assert_int_equal(json_object_set_new(o, "plaintext", plaintext_json(pt_len)), 0);
    assert_int_equal(json_object_set_new(o, "cases", cases_json(cases, 3)), 0);
    dk = tu_hex(json_string_value(json_object_get(json_array_get(draws, 0), "hex")), &pt_len);
    assert_int_equal(json_object_set_new(o, "intermediates",
                                         describe_message(v->file, v->len, dk, 1, pt, 5000, 1)), 0);
    free(dk);
    v->j = o;
    free(pt);
}

/* rewrap: m-gcm-kek-4097 with wrap-key v2 and x-key added (v2 replaces
 * the v1 record): same prefix, core, C and payload; new records and T. */
static void make_rewrap(vec *v, const vec *base, uint64_t first)
{
    aios_envelope_keys *keys = NULL;
    aios_key *add[2] = { vkeys[K_WRAP2].handle, vkeys[K_X].pub };
    static const int used[] = { K_WRAP1, K_WRAP2, K_X };
    static const vcase cases[] = {
        OKCASE("wrap-key-v2", 0),
        OKCASE("x-key", 1),
        ALL("wrap-key-v1", AIOS_E_ENVELOPE_NO_RECIPIENT),
    };
    aios_buffer *nh = NULL;
    size_t old = 0, lc;
    uint8_t *file, *dk, *pt = pt_gen(4097);
    json_t *o, *draws;

    snprintf(v->name, sizeof(v->name), "rewrap");
    tu_assert_ok(aios_envelope_keys_new(&keys));
    tu_assert_ok(aios_envelope_keys_add_key(keys, vkeys[K_WRAP1].handle));
    stream_begin(first);
    tu_assert_ok(aios_envelope_rewrap(&nh, &old, keys, base->file, base->len, add, 2, NULL));
    draws = stream_end();
    aios_envelope_keys_free(keys);
    file = malloc(aios_buffer_len(nh) + base->len - old);
    assert_non_null(file);
    memcpy(file, aios_buffer_data(nh), aios_buffer_len(nh));
    memcpy(file + aios_buffer_len(nh), base->file + old, base->len - old);
    vec_set_file(v, file, aios_buffer_len(nh) + base->len - old);
    free(file);
    /* what must stay: prefix, Lc, core, C; and the payload */
    lc = be32_get(base->file + 10);
    assert_memory_equal(v->file, base->file, 14 + lc);
    assert_memory_equal(v->file + aios_buffer_len(nh) - 64, base->file + old - 64, 32);
    assert_memory_not_equal(v->file + aios_buffer_len(nh) - 32, base->file + old - 32, 32);
    aios_buffer_free(nh);

    o = vec_head(v, "m-gcm-kek-4097 rewrapped: wrap-key version 2 (replacing version 1) and an "
                    "X25519 recipient added; prefix, core, C and payload unchanged",
                 "message", first);
    jstr(o, "rewrap_of", base->name);
    assert_int_equal(json_object_set_new(o, "random", draws), 0);
    assert_int_equal(json_object_set_new(o, "keys", keys_json(used, 3)), 0);
    assert_int_equal(json_object_set_new(o, "context", ctx_json(CTX, 2)), 0);
    jint(o, "suite", 1);
    jint(o, "chunk_size", CS);
    assert_int_equal(json_object_set_new(o, "plaintext", plaintext_json(4097)), 0);
    assert_int_equal(json_object_set_new(o, "cases", cases_json(cases, 3)), 0);
    dk = json_dk(base->j);
    assert_int_equal(json_object_set_new(o, "intermediates",
                                         describe_message(v->file, v->len, dk, 1, pt, 4097, 1)), 0);
    free(dk);
    free(pt);
    v->j = o;
}

/* Negative vectors cut from a base message's bytes. */
static void make_derived(vec *v, const vec *base, const char *name, const char *desc,
                         const uint8_t *file, size_t len, const vcase *cases, size_t ncases)
{
    static const int used[] = { K_WRAP1 };
    uint8_t *dk = json_dk(base->j);
    json_t *o;
    snprintf(v->name, sizeof(v->name), "%s", name);
    vec_set_file(v, file, len);
    o = vec_head(v, desc, "negative", 0);
    json_object_del(o, "random_stream");
    jstr(o, "derived_from", base->name);
    assert_int_equal(json_object_set_new(o, "keys", keys_json(used, 1)), 0);
    assert_int_equal(json_object_set_new(o, "context", ctx_json(CTX, 2)), 0);
    jint(o, "suite", (json_int_t)json_integer_value(json_object_get(base->j, "suite")));
    jint(o, "chunk_size", CS);
    assert_int_equal(json_object_set_new(o, "plaintext", json_deep_copy(json_object_get(base->j,
                                                                                      "plaintext"))), 0);
    assert_int_equal(json_object_set_new(o, "cases", cases_json(cases, ncases)), 0);
    /* its header's key schedule under the base's data key (the header may
     * have been changed: nothing is asserted about C and T here) */
    {
        aios__env_header h;
        json_t *im = json_object();
        sched s;
        tu_assert_ok(aios__env_header_decode(&h, file, len, AIOS__ENV_ACCEPT_M));
        schedule(&s, im, &h, file, dk, -1);
        aios__env_header_clear(&h);
        assert_int_equal(json_object_set_new(o, "intermediates", im), 0);
    }
    free(dk);
    v->j = o;
}

/* salamander: KEK records for wrap-key v1 (wrapping dk) and other-key v1
 * (wrapping a second data key dk2), C from dk. */
static void make_salamander(vec *v, uint64_t first)
{
    aios_key *r[2] = { vkeys[K_WRAP1].handle, vkeys[K_OTHER].handle };
    static const int used[] = { K_WRAP1, K_OTHER };
    static const vcase cases[] = {
        OKCASE("wrap-key-v1", 0),
        ALL("other-key-v1", AIOS_E_ENVELOPE_COMMITMENT),
    };
    size_t pt_len = 100, n;
    uint8_t *pt = pt_gen(pt_len), *dk;
    aios_buffer *m;
    json_t *o, *draws;
    refopts ro;

    snprintf(v->name, sizeof(v->name), "salamander");
    memset(&ro, 0, sizeof(ro));
    ro.suite = 1;
    ro.rcpt = r;
    ro.nrcpt = 2;
    ro.second_dk_for = 1;
    stream_begin(first);
    m = ref_seal(&ro, pt, pt_len);
    draws = stream_end();
    vec_set_file(v, aios_buffer_data(m), aios_buffer_len(m));
    aios_buffer_free(m);
    o = vec_head(v, "suite 1, two KEK records wrapping different data keys (random draws 0 and "
                    "2), C and the payload from the first: the second key must get "
                    "AIOS_E_ENVELOPE_COMMITMENT", "negative", first);
    assert_int_equal(json_object_set_new(o, "random", draws), 0);
    assert_int_equal(json_object_set_new(o, "keys", keys_json(used, 2)), 0);
    assert_int_equal(json_object_set_new(o, "context", ctx_json(CTX, 2)), 0);
    jint(o, "suite", 1);
    jint(o, "chunk_size", CS);
    assert_int_equal(json_object_set_new(o, "plaintext", plaintext_json(pt_len)), 0);
    assert_int_equal(json_object_set_new(o, "cases", cases_json(cases, 2)), 0);
    dk = tu_hex(json_string_value(json_object_get(json_array_get(draws, 0), "hex")), &n);
    assert_int_equal(json_object_set_new(o, "intermediates",
                                         describe_message(v->file, v->len, dk, 1, pt, pt_len, 1)), 0);
    free(dk);
    {
        /* the second record's key fails the commitment */
        aios__env_header h;
        json_t *im = json_object();
        sched s;
        dk = tu_hex(json_string_value(json_object_get(json_array_get(draws, 2), "hex")), &n);
        tu_assert_ok(aios__env_header_decode(&h, v->file, v->len, AIOS__ENV_ACCEPT_M));
        schedule(&s, im, &h, v->file, dk, 0);
        aios__env_header_clear(&h);
        json_decref(im);
        free(dk);
    }
    v->j = o;
    free(pt);
}

/* nonfinal-last: 8192 bytes, both chunks sealed with f = 0, as a writer
 * that never finished would leave them. */
static void make_nonfinal(vec *v, uint64_t first)
{
    static const int used[] = { K_WRAP1 };
    static const vcase cases[] = { ALL("wrap-key-v1", AIOS_E_ENVELOPE_TRUNCATED) };
    size_t pt_len = 2 * CS, n;
    uint8_t *pt = pt_gen(pt_len), *dk;
    aios_buffer *m;
    json_t *o, *draws;
    refopts ro;

    snprintf(v->name, sizeof(v->name), "nonfinal-last");
    memset(&ro, 0, sizeof(ro));
    ro.suite = 2;
    ro.rcpt = &vkeys[K_WRAP1].handle;
    ro.nrcpt = 1;
    ro.second_dk_for = -1;
    ro.nonfinal_last = 1;
    stream_begin(first);
    m = ref_seal(&ro, pt, pt_len);
    draws = stream_end();
    vec_set_file(v, aios_buffer_data(m), aios_buffer_len(m));
    aios_buffer_free(m);
    o = vec_head(v, "suite 2, 8192 bytes in two full chunks, the last sealed non-final (f = 0): "
                    "AIOS_E_ENVELOPE_TRUNCATED", "negative", first);
    assert_int_equal(json_object_set_new(o, "random", draws), 0);
    assert_int_equal(json_object_set_new(o, "keys", keys_json(used, 1)), 0);
    assert_int_equal(json_object_set_new(o, "context", ctx_json(CTX, 2)), 0);
    jint(o, "suite", 2);
    jint(o, "chunk_size", CS);
    assert_int_equal(json_object_set_new(o, "plaintext", plaintext_json(pt_len)), 0);
    assert_int_equal(json_object_set_new(o, "cases", cases_json(cases, 1)), 0);
    dk = tu_hex(json_string_value(json_object_get(json_array_get(draws, 0), "hex")), &n);
    assert_int_equal(json_object_set_new(o, "intermediates",
                                         describe_message(v->file, v->len, dk, 1, pt, pt_len, 0)), 0);
    free(dk);
    v->j = o;
    free(pt);
}

/* ------------------------------------------- reading a committed vector
 *
 * What the Python and Go tests do, with nothing but the JSON and the
 * binary: check the random draws against the stream rule, recompute the
 * intermediates, open the wraps with the JSON's key bytes, run the cases
 * through the public API. */

static char *dump(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2));
    size_t n;
    assert_non_null(s);
    n = strlen(s);
    s = realloc(s, n + 2);
    assert_non_null(s);
    s[n] = '\n';
    s[n + 1] = '\0';
    return s;
}

static json_t *load_json(const char *name)
{
    char path[4096];
    json_error_t err;
    json_t *j;
    snprintf(path, sizeof(path), "%s/%s.json", VEC_DIR, name);
    j = json_load_file(path, 0, &err);
    if (j == NULL)
        fail_msg("%s: %s (line %d)", path, err.text, err.line);
    return j;
}

/* The keys of a vector's JSON are the fixture's keys (the bytes another
 * language imports). */
static void check_keys_json(json_t *keys)
{
    const char *name;
    json_t *e;
    json_object_foreach(keys, name, e) {
        vkey *k = vkey_by_name(name);
        size_t n;
        uint8_t *b;
        if (k->x25519) {
            uint8_t priv[64];
            size_t plen = 0;
            int alg = 0;
            const char *pem = tu_str(e, "private_pkcs8_pem");
            b = tu_hexmember(e, "private_hex", &n);
            assert_int_equal(n, 32);
            assert_memory_equal(b, k->material, 32);
            free(b);
            b = tu_hexmember(e, "public_hex", &n);
            assert_int_equal(n, 32);
            assert_memory_equal(b, x_pub, 32);
            free(b);
            tu_assert_ok(aios__pkcs8_decode((const uint8_t *)pem, strlen(pem), &alg, priv,
                                            sizeof(priv), &plen));
            assert_int_equal(alg, AIOS__KEYENC_X25519);
            assert_int_equal(plen, 32);
            assert_memory_equal(priv, k->material, 32);
        } else {
            b = tu_hexmember(e, "material_hex", &n);
            assert_int_equal(n, 32);
            assert_memory_equal(b, k->material, 32);
            free(b);
            assert_string_equal(tu_str(e, "key_id"), k->key_id);
            assert_int_equal(json_integer_value(json_object_get(e, "version")), k->version);
            assert_string_equal(tu_str(e, "provider"), "local");
        }
    }
}

static void check_draws(json_t *draws)
{
    size_t i;
    json_t *d;
    json_array_foreach(draws, i, d) {
        uint64_t blk = (uint64_t)json_integer_value(json_object_get(d, "block"));
        size_t len = (size_t)json_integer_value(json_object_get(d, "len")), n, off = 0;
        uint8_t *want = tu_hexmember(d, "hex", &n);
        assert_int_equal(n, len);
        while (off < len) {
            uint8_t b[32];
            size_t k = len - off < 32 ? len - off : 32;
            stream_block(b, blk++);
            assert_memory_equal(want + off, b, k);
            off += k;
        }
        free(want);
    }
}

static int status_named(const char *name)
{
    int s;
    for (s = 0; s >= -400; s--)
        if (strcmp(aios_status_name(s), name) == 0)
            return s;
    fail_msg("unknown status name %s", name);
    return 1;
}

typedef struct ctxbuf {
    aios_envelope_context_entry e[8];
    size_t n;
} ctxbuf;

static void keys_for_case(aios_envelope_keys **out, json_t *names)
{
    size_t i;
    json_t *nm;
    tu_assert_ok(aios_envelope_keys_new(out));
    json_array_foreach(names, i, nm) {
        vkey *k = vkey_by_name(json_string_value(nm));
        tu_assert_ok(aios_envelope_keys_add_key(*out, k->handle));
    }
}

static void opts_for_case(aios_envelope_open_options *oo, ctxbuf *cb, json_t *c)
{
    json_t *ec = json_object_get(c, "expected_context"), *val;
    const char *key;
    *oo = (aios_envelope_open_options)AIOS_ENVELOPE_OPEN_OPTIONS_INIT;
    cb->n = 0;
    if (ec == NULL)
        return;
    json_object_foreach(ec, key, val) {
        assert_true(cb->n < 8);
        cb->e[cb->n].key = key;
        cb->e[cb->n].value = json_string_value(val);
        cb->n++;
    }
    oo->expected_context = cb->e;
    oo->expected_context_count = cb->n;
    oo->context_mode = strcmp(tu_str(c, "context_mode"), "exact") == 0
                           ? AIOS_ENVELOPE_CONTEXT_EXACT : AIOS_ENVELOPE_CONTEXT_SUBSET;
}

static void check_plaintext(const uint8_t *p, size_t n, json_t *ptj)
{
    size_t want = (size_t)json_integer_value(json_object_get(ptj, "len")), hl;
    uint8_t h[32], *wh = tu_hexmember(ptj, "sha256", &hl);
    uint8_t *g = pt_gen(want);
    assert_string_equal(tu_str(ptj, "generator"), "mod251");
    assert_int_equal(n, want);
    aios__sha256(h, p, n);
    assert_memory_equal(h, wh, 32);
    if (n)
        assert_memory_equal(p, g, n);
    free(g);
    free(wh);
}

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

/* Stream the file through an opener in pieces (piece 0: all at once;
 * else pseudo-random sizes); returns the first failure. */
static int stream_open(const aios_envelope_keys *keys, const aios_envelope_open_options *oo,
                       const uint8_t *file, size_t len, json_t *ptj, uint32_t seed,
                       int opened_by)
{
    aios_envelope_opener *op = NULL;
    uint8_t *out = malloc(len + 65536);
    size_t off = 0, got = 0, w;
    uint32_t s = seed;
    int rc;

    assert_non_null(out);
    tu_assert_ok(aios_envelope_opener_new(&op, keys, oo));
    rc = AIOS_OK;
    while (off < len && rc == AIOS_OK) {
        size_t piece = seed == 0 ? len : 1 + lcg(&s) % 5000;
        if (piece > len - off)
            piece = len - off;
        assert_true(aios_envelope_opener_bound(op, piece) <= len + 65536 - got);
        rc = aios_envelope_opener_update(op, out + got, len + 65536 - got, &w, file + off, piece);
        if (rc == AIOS_OK)
            got += w;
        off += piece;
    }
    if (rc == AIOS_OK) {
        rc = aios_envelope_opener_final(op, out + got, len + 65536 - got, &w);
        if (rc == AIOS_OK)
            got += w;
    }
    if (rc == AIOS_OK) {
        check_plaintext(out, got, ptj);
        if (opened_by >= 0) {
            aios_buffer *info = NULL;
            char want[32];
            tu_assert_ok(aios_envelope_opener_info(op, &info));
            snprintf(want, sizeof(want), "\"opened_by\":%d", opened_by);
            assert_non_null(strstr((const char *)aios_buffer_data(info), want));
            assert_non_null(strstr((const char *)aios_buffer_data(info), "\"authenticated\":true"));
            aios_buffer_free(info);
        }
    }
    aios_envelope_opener_free(op);
    free(out);
    return rc;
}

/* Random access: create (which verifies the final chunk), then read the
 * whole plaintext in one call and in ranges that cross chunk boundaries. */
static int reader_open(const aios_envelope_keys *keys, const aios_envelope_open_options *oo,
                       const uint8_t *file, size_t len, json_t *ptj)
{
    aios_envelope_reader *r = NULL;
    size_t n = (size_t)json_integer_value(json_object_get(ptj, "len")), got = 0;
    uint8_t *out = malloc(n + 1);
    int rc;

    assert_non_null(out);
    rc = aios_envelope_reader_new_mem(&r, keys, file, len, oo);
    if (rc == AIOS_OK) {
        assert_int_equal(aios_envelope_reader_size(r), n);
        rc = aios_envelope_reader_read(r, 0, out, n + 1, &got);
        if (rc == AIOS_OK) {
            check_plaintext(out, got, ptj);
            if (n > CS + 10) {
                uint8_t *g = pt_gen(n);
                tu_assert_ok(aios_envelope_reader_read(r, CS - 5, out, 10, &got));
                assert_int_equal(got, 10);
                assert_memory_equal(out, g + CS - 5, 10);
                free(g);
            }
        }
    }
    aios_envelope_reader_free(r);
    free(out);
    return rc;
}

static void run_cases(const uint8_t *file, size_t len, json_t *j)
{
    json_t *cases = json_object_get(j, "cases"), *c, *ptj = json_object_get(j, "plaintext");
    int suite = (int)json_integer_value(json_object_get(j, "suite"));
    size_t i;

    assert_true(json_array_size(cases) > 0);
    json_array_foreach(cases, i, c) {
        aios_envelope_keys *keys = NULL;
        aios_envelope_open_options oo;
        ctxbuf cb;
        json_t *ex = json_object_get(c, "expect"), *by = json_object_get(c, "opened_by");
        int want_open = status_named(tu_str(ex, "open"));
        int want_stream = status_named(tu_str(ex, "stream"));
        int want_reader = status_named(tu_str(ex, "reader"));
        int opened_by = by ? (int)json_integer_value(by) : -1;
        aios_buffer *out = NULL;
        int soft, rc;

        keys_for_case(&keys, json_object_get(c, "keys"));
        opts_for_case(&oo, &cb, c);
        /* suite 1 also through the software AES-GCM fallback */
        for (soft = 0; soft <= (suite == 1); soft++) {
            aios__aead_test_force_soft_gcm(soft);
            rc = aios_envelope_open(&out, keys, file, len, &oo);
            if (rc != want_open)
                print_error("%s case %zu%s: open gave %s (%s)\n", tu_str(j, "name"), i,
                            soft ? " (soft GCM)" : "", aios_status_name(rc),
                            aios_last_error_message());
            assert_int_equal(rc, want_open);
            if (rc == AIOS_OK)
                check_plaintext(aios_buffer_data(out), aios_buffer_len(out), ptj);
            else
                assert_null(out);
            aios_buffer_free(out);
            out = NULL;
            rc = stream_open(keys, &oo, file, len, ptj, 0, opened_by);
            if (rc != want_stream)
                print_error("%s case %zu%s: stream gave %s (%s)\n", tu_str(j, "name"), i,
                            soft ? " (soft GCM)" : "", aios_status_name(rc),
                            aios_last_error_message());
            assert_int_equal(rc, want_stream);
            assert_int_equal(stream_open(keys, &oo, file, len, ptj, 1 + (uint32_t)i, opened_by),
                             want_stream);
            rc = reader_open(keys, &oo, file, len, ptj);
            if (rc != want_reader)
                print_error("%s case %zu%s: reader gave %s (%s)\n", tu_str(j, "name"), i,
                            soft ? " (soft GCM)" : "", aios_status_name(rc),
                            aios_last_error_message());
            assert_int_equal(rc, want_reader);
            if (soft && want_open == AIOS_OK) {
                /* a reader that refuses the fallback */
                aios_envelope_open_options strict = oo;
                strict.no_soft_gcm = 1;
                tu_assert_status(aios_envelope_open(&out, keys, file, len, &strict),
                                 AIOS_E_UNSUPPORTED);
                assert_null(out);
            }
        }
        aios__aead_test_force_soft_gcm(0);
        aios_envelope_keys_free(keys);
    }
}

/* Every member of `got` equals the committed one. */
static void expect_members(json_t *committed, json_t *got, const char *what)
{
    const char *k;
    json_t *v;
    json_object_foreach(got, k, v) {
        json_t *c = json_object_get(committed, k);
        if (c == NULL || !json_equal(c, v))
            fail_msg("%s: intermediate %s differs from the committed JSON", what, k);
    }
}

static void check_committed_message(const char *name)
{
    json_t *j = load_json(name), *im, *rnd, *mine = json_object();
    size_t len, n;
    uint8_t *file = read_vec(name, "bin", &len), h[32], *want, *dk, *pt = NULL;
    aios__env_header hd;
    sched s;

    assert_string_equal(tu_str(j, "name"), name);
    assert_int_equal(json_integer_value(json_object_get(j, "file_len")), len);
    aios__sha256(h, file, len);
    want = tu_hexmember(j, "file_sha256", &n);
    assert_memory_equal(h, want, 32);
    free(want);
    check_keys_json(json_object_get(j, "keys"));
    im = json_object_get(j, "intermediates");
    dk = tu_hexmember(im, "dk", &n);
    assert_int_equal(n, 32);
    if ((rnd = json_object_get(j, "random")) != NULL) {
        check_draws(rnd);
        if (json_object_get(j, "rewrap_of") == NULL) {
            /* dk and mid are the first two draws */
            assert_string_equal(tu_str(json_array_get(rnd, 0), "hex"), tu_str(im, "dk"));
            assert_string_equal(tu_str(json_array_get(rnd, 1), "hex"), tu_str(im, "mid"));
        }
    }
    tu_assert_ok(aios__env_header_decode(&hd, file, len, AIOS__ENV_ACCEPT_M));
    schedule(&s, mine, &hd, file, dk, -1);
    if (json_object_get(im, "records"))
        assert_int_equal(json_object_set_new(mine, "records", records_json(&hd, file)), 0);
    if (json_object_get(im, "chunks")) {
        size_t ptn = (size_t)json_integer_value(json_object_get(json_object_get(j, "plaintext"),
                                                                "len"));
        pt = pt_gen(ptn);
        assert_int_equal(json_object_set_new(mine, "chunks",
                                             chunks_json(&hd, &s, file, len, pt, ptn)), 0);
    }
    if (json_object_get(im, "chunk_size"))
        jint(mine, "chunk_size", hd.core.chunk_size);
    expect_members(im, mine, name);
    aios__env_header_clear(&hd);
    run_cases(file, len, j);
    json_decref(mine);
    json_decref(j);
    free(pt);
    free(dk);
    free(file);
}

/* ------------------------------------------------ writing and comparing */

static void write_seed(const vec *v)
{
    char p[4096];
    (void)mkdir(CORPUS_DIR, 0755);
    snprintf(p, sizeof(p), "%s/%s", CORPUS_DIR, v->name);
    write_file(p, v->file, v->len);
}

/* Write the vector (writing mode) or compare it with the committed one. */
static void emit(const vec *v)
{
    char path[4096];
    char *text = dump(v->j);
    if (writing_vectors()) {
        (void)mkdir(VEC_DIR, 0755);
        snprintf(path, sizeof(path), "%s/%s.bin", VEC_DIR, v->name);
        write_file(path, v->file, v->len);
        snprintf(path, sizeof(path), "%s/%s.json", VEC_DIR, v->name);
        write_file(path, (const uint8_t *)text, strlen(text));
        write_seed(v);
    } else {
        size_t n;
        uint8_t *c = read_vec(v->name, "bin", &n);
        char *t;
        if (n != v->len || memcmp(c, v->file, n) != 0)
            fail_msg("%s.bin is not what the fixed inputs make (AIOS_ENVELOPE_WRITE_VECTORS=1 "
                     "rewrites it after a deliberate format change)", v->name);
        free(c);
        t = (char *)read_vec(v->name, "json", &n);
        if (strcmp(t, text) != 0)
            fail_msg("%s.json is not what the fixed inputs give", v->name);
        free(t);
        snprintf(path, sizeof(path), "%s/%s", CORPUS_DIR, v->name);
        c = kt_read(path, &n);
        assert_int_equal(n, v->len);
        assert_memory_equal(c, v->file, n);
        free(c);
    }
    free(text);
}

/* A vector that cannot be made here (suite 1 without AES-NI): the
 * committed one stands in for it, checked by reading only. */
static void load_committed(vec *v, const char *name)
{
    snprintf(v->name, sizeof(v->name), "%s", name);
    v->file = read_vec(name, "bin", &v->len);
    v->j = load_json(name);
}

enum {
    V_GCM0 = 0,                      /* m-gcm-kek-N: 0..5 */
    V_XCH0 = V_GCM0 + NSIZES,        /* m-xchacha-kek-N: 6..11 */
    V_EMPTY = V_XCH0 + NSIZES,
    V_MIXED,
    V_REWRAP,
    V_SALAMANDER,
    V_NONFINAL,
    V_TRUNCATED,
    V_SWAPPED,
    V_DUPLICATED,
    V_TRAILING,
    V_TAIL16,
    V_C_FLIPPED,
    V_T_FLIPPED,
    V_MOVED,
    V_COUNT
};

static vec vecs[V_COUNT];

static void make_all_messages(void)
{
    int gcm = suite_sealable(1);
    size_t i, hl, n;
    uint8_t *f;
    const vec *b12, *b4096, *b4097;

    if (!gcm) {
        if (writing_vectors())
            fail_msg("suite-1 vectors need AES-NI and PCLMUL to be written");
        print_message("no AES-NI here: the suite-1 vectors are checked by reading only\n");
    }
    for (i = 0; i < NSIZES; i++) {
        char name[64];
        snprintf(name, sizeof(name), "m-gcm-kek-%zu", SIZES[i]);
        if (gcm)
            make_api_message(&vecs[V_GCM0 + i], 1, SIZES[i], 100 * i, 0);
        else
            load_committed(&vecs[V_GCM0 + i], name);
        make_api_message(&vecs[V_XCH0 + i], 2, SIZES[i], 1000 + 100 * i, 0);
    }
    make_api_message(&vecs[V_EMPTY], 2, 10, 1900, 1);
    make_mixed(&vecs[V_MIXED], 2000);
    make_rewrap(&vecs[V_REWRAP], &vecs[V_GCM0 + 4], 2100);
    if (gcm)
        make_salamander(&vecs[V_SALAMANDER], 2200);
    else
        load_committed(&vecs[V_SALAMANDER], "salamander");
    make_nonfinal(&vecs[V_NONFINAL], 2300);

    b12 = &vecs[V_GCM0 + 5];
    b4096 = &vecs[V_GCM0 + 3];
    b4097 = &vecs[V_GCM0 + 4];
    hl = b12->len - (3 * (CS + 16) + 21);
    {
        static const vcase c[] = { ALL("wrap-key-v1", AIOS_E_ENVELOPE_TRUNCATED) };
        make_derived(&vecs[V_TRUNCATED], b12, "truncated",
                     "m-gcm-kek-12293 without its final chunk (the last 21 bytes)",
                     b12->file, b12->len - 21, c, 1);
    }
    f = malloc(b12->len + CS + 16);
    assert_non_null(f);
    {
        static const vcase c[] = { ALL("wrap-key-v1", AIOS_E_AUTH) };
        memcpy(f, b12->file, b12->len);
        memcpy(f + hl, b12->file + hl + CS + 16, CS + 16);
        memcpy(f + hl + CS + 16, b12->file + hl, CS + 16);
        make_derived(&vecs[V_SWAPPED], b12, "chunks-swapped",
                     "m-gcm-kek-12293 with chunks 0 and 1 swapped", f, b12->len, c, 1);
        /* h | c0 | c1 | c1 | c2 | c3 */
        memcpy(f, b12->file, hl + 2 * (CS + 16));
        memcpy(f + hl + 2 * (CS + 16), b12->file + hl + CS + 16, b12->len - hl - (CS + 16));
        make_derived(&vecs[V_DUPLICATED], b12, "chunk-duplicated",
                     "m-gcm-kek-12293 with chunk 1 given twice", f, b12->len + CS + 16, c, 1);
    }
    {
        /* FORMAT.md 8.4 step 4 and 15.11: a byte after a full final chunk */
        static const vcase c[] = { ALL("wrap-key-v1", AIOS_E_ENVELOPE_TRAILING_DATA) };
        memcpy(f, b4096->file, b4096->len);
        f[b4096->len] = 0x00;
        make_derived(&vecs[V_TRAILING], b4096, "trailing-byte",
                     "m-gcm-kek-4096 (one full final chunk) with one byte 00 appended", f,
                     b4096->len + 1, c, 1);
    }
    {
        static const vcase c[] = { ALL("wrap-key-v1", AIOS_E_ENVELOPE_TRUNCATED) };
        /* chunk 0 full and non-final, then a final piece of only 16 bytes
         * (a tag with no ciphertext: what no writer makes after a chunk) */
        make_derived(&vecs[V_TAIL16], b4097, "tail-16",
                     "m-gcm-kek-4097 without its last byte: a full non-final chunk, then a "
                     "16-byte piece", b4097->file, b4097->len - 1, c, 1);
    }
    n = b4097->len - (2 * 16 + 4097);   /* its header length */
    {
        static const vcase c[] = { ALL("wrap-key-v1", AIOS_E_ENVELOPE_COMMITMENT) };
        memcpy(f, b4097->file, b4097->len);
        f[n - 64] ^= 0x01;
        make_derived(&vecs[V_C_FLIPPED], b4097, "commitment-flipped",
                     "m-gcm-kek-4097 with the first byte of C changed", f, b4097->len, c, 1);
    }
    {
        static const vcase c[] = { ALL("wrap-key-v1", AIOS_E_AUTH) };
        memcpy(f, b4097->file, b4097->len);
        f[n - 32] ^= 0x01;
        make_derived(&vecs[V_T_FLIPPED], b4097, "tag-flipped",
                     "m-gcm-kek-4097 with the first byte of T changed", f, b4097->len, c, 1);
    }
    {
        /* m-gcm-kek-1's wrapped key put into m-gcm-kek-0 (same context,
         * same key reference, same length): WAD binds the message id */
        static const vcase c[] = { ALL("wrap-key-v1", AIOS_E_AUTH) };
        const vec *a = &vecs[V_GCM0], *o = &vecs[V_GCM0 + 1];
        aios__env_header ha, ho;
        size_t off;
        tu_assert_ok(aios__env_header_decode(&ha, a->file, a->len, AIOS__ENV_ACCEPT_M));
        tu_assert_ok(aios__env_header_decode(&ho, o->file, o->len, AIOS__ENV_ACCEPT_M));
        assert_int_equal(ha.recipients[0].wrapped_key.len, ho.recipients[0].wrapped_key.len);
        memcpy(f, a->file, a->len);
        off = (size_t)(ha.recipients[0].wrapped_key.p - a->file);
        memcpy(f + off, ho.recipients[0].wrapped_key.p, ho.recipients[0].wrapped_key.len);
        make_derived(&vecs[V_MOVED], a, "wrapped-key-moved",
                     "m-gcm-kek-0 with the wrapped key of m-gcm-kek-1 in its record (same "
                     "context and key reference)", f, a->len, c, 1);
        aios__env_header_clear(&ha);
        aios__env_header_clear(&ho);
    }
    free(f);
}

/* Made again from the fixed inputs: the committed files, byte for byte. */
static void test_message_vectors_made(void **state)
{
    size_t i;
    (void)state;
    make_all_messages();
    for (i = 0; i < V_COUNT; i++)
        emit(&vecs[i]);
    for (i = 0; i < V_COUNT; i++)
        vec_clear(&vecs[i]);
}

static const char *const NEGATIVE_NAMES[] = {
    "m-empty-context", "m-mixed", "rewrap", "salamander", "nonfinal-last", "truncated", "chunks-swapped",
    "chunk-duplicated", "trailing-byte", "tail-16", "commitment-flipped", "tag-flipped",
    "wrapped-key-moved",
};

/* Read as the bindings' tests read them (JSON and binary only). */
static void test_message_vectors_read(void **state)
{
    size_t i;
    char name[64];
    (void)state;
    for (i = 0; i < NSIZES; i++) {
        snprintf(name, sizeof(name), "m-gcm-kek-%zu", SIZES[i]);
        check_committed_message(name);
        snprintf(name, sizeof(name), "m-xchacha-kek-%zu", SIZES[i]);
        check_committed_message(name);
    }
    for (i = 0; i < sizeof(NEGATIVE_NAMES) / sizeof(NEGATIVE_NAMES[0]); i++)
        check_committed_message(NEGATIVE_NAMES[i]);
}

/* ------------------------------------------------------------ sessions
 *
 * session-gcm, session-xchacha: an S header (suite 1; suite 2 with the
 * DETERMINISTIC flag, so Ks is given) for wrap-key v1, and six R records
 * of 0, 1 and 1000 bytes, without and with associated data "row-42"; the
 * records are in the JSON (hex), the binary is the S header. */

static const size_t REC_SIZES[3] = { 0, 1, 1000 };
static const char REC_AD[] = "row-42";

/* One R record described: r, Kr, RAAD, nonce recomputed by hand and the
 * record opened with them. */
static json_t *record_json(const aios__env_header *h, const uint8_t *hb, const sched *s,
                           const uint8_t *rec, size_t len, const uint8_t *ad, size_t adlen,
                           const uint8_t *pt, size_t ptlen)
{
    json_t *o = json_object();
    cat raad = { NULL, 0 };
    uint8_t kr[32], *out = malloc(len + 1), zero[24];
    aios__aead_key *k = NULL;
    uint16_t suite = h->prefix.suite;
    size_t nlen = suite == 1 ? 12 : 24, n = len - 74;

    assert_non_null(out);
    assert_true(len >= 74);
    assert_int_equal(n, ptlen);
    /* prefix: AIOE 01 'R' suite 0000; C names the session */
    assert_memory_equal(rec, "AIOE\x01R", 6);
    assert_int_equal(be32_get(rec + 6) >> 16, suite);
    assert_int_equal(be32_get(rec + 6) & 0xffff, 0);
    assert_memory_equal(rec + 10, h->commitment, 32);
    expand_by_hand(kr, 32, s->prk, L_RECORD, suite, rec + 42);
    {
        uint8_t lib[32];
        tu_assert_ok(aios__env_expand(lib, 32, s->prk, AIOS__ENV_LABEL_RECORD, suite, rec + 42));
        assert_memory_equal(lib, kr, 32);
    }
    cat_put(&raad, rec, 58);          /* prefix || C || r */
    cat_put(&raad, s->d, 32);
    cat_u32(&raad, (uint32_t)adlen);
    cat_put(&raad, ad, adlen);
    memset(zero, 0, sizeof(zero));
    tu_assert_ok(aios__aead_key_new(&k, suite == 1 ? AIOS__AEAD_AES256GCM
                                                   : AIOS__AEAD_XCHACHA20POLY1305, kr));
    tu_assert_ok(aios__aead_open(k, out, rec + 58, n, rec + 58 + n, raad.p, raad.n, zero));
    aios__aead_key_free(k);
    if (n)
        assert_memory_equal(out, pt, n);
    jint(o, "plaintext_len", (json_int_t)n);
    jhex(o, "plaintext_hex", pt, n);
    jhex(o, "ad", ad, adlen);
    jhex(o, "r", rec + 42, 16);
    jhex(o, "Kr", kr, 32);
    jhex(o, "nonce", zero, nlen);
    jhex(o, "RAAD", raad.p, raad.n);
    jhex(o, "record", rec, len);
    free(raad.p);
    free(out);
    return o;
}

static json_t *describe_session(const uint8_t *file, size_t len, const uint8_t dk[32],
                                sched *s)
{
    aios__env_header h;
    json_t *o = json_object();
    tu_assert_ok(aios__env_header_decode(&h, file, len, AIOS__ENV_ACCEPT_S));
    schedule(s, o, &h, file, dk, 1);
    assert_int_equal(json_object_set_new(o, "records", records_json(&h, file)), 0);
    aios__env_header_clear(&h);
    return o;
}

static void make_session(vec *v, uint16_t suite, uint64_t first)
{
    aios_envelope_session_options so = AIOS_ENVELOPE_SESSION_OPTIONS_INIT;
    aios_envelope_session *ses = NULL;
    static const int used[] = { K_WRAP1, K_OTHER };
    static const vcase cases[] = {
        OKCASE("wrap-key-v1", 0),
        ALL("other-key-v1", AIOS_E_ENVELOPE_NO_RECIPIENT),
    };
    json_t *o, *draws, *recs = json_array(), *c;
    const uint8_t *hb;
    size_t hl, i, n;
    uint8_t *dk, *pt = pt_gen(1000), rec[1000 + 74];
    aios__env_header h;
    sched s;

    snprintf(v->name, sizeof(v->name), "session-%s", suite == 1 ? "gcm" : "xchacha");
    so.suite = (aios_envelope_suite)suite;
    so.flags = suite == 2 ? AIOS_ENVELOPE_SESSION_DETERMINISTIC : 0;
    stream_begin(first);
    tu_assert_ok(aios_envelope_session_new(&ses, &vkeys[K_WRAP1].handle, 1, CTX, 2, &so));
    hb = aios_envelope_session_header(ses, &hl);
    vec_set_file(v, hb, hl);
    dk = tu_hex(json_string_value(json_object_get(json_array_get(stream_log, 0), "hex")), &n);
    o = json_object();
    tu_assert_ok(aios__env_header_decode(&h, v->file, v->len, AIOS__ENV_ACCEPT_S));
    schedule(&s, o, &h, v->file, dk, 1);
    json_decref(o);
    for (i = 0; i < 6; i++) {
        size_t ptn = REC_SIZES[i % 3], got = 0;
        const uint8_t *ad = i >= 3 ? (const uint8_t *)REC_AD : NULL;
        size_t adlen = i >= 3 ? strlen(REC_AD) : 0;
        tu_assert_ok(aios_envelope_session_seal(ses, rec, sizeof(rec), &got, pt, ptn, ad, adlen));
        assert_int_equal(got, ptn + 74);
        c = record_json(&h, v->file, &s, rec, got, ad, adlen, pt, ptn);
        assert_int_equal(json_array_append_new(recs, c), 0);
    }
    draws = stream_end();
    aios__env_header_clear(&h);
    aios_envelope_session_unref(ses);

    o = vec_head(v, suite == 1 ? "session header S, suite 1, for a local KEK, context "
                                 "{region: eu-west-1, tenant: acme}; six R records of 0, 1, 1000 "
                                 "bytes, without and with associated data \"row-42\""
                               : "session header S, suite 2, DETERMINISTIC flag (Ks given), "
                                 "for a local KEK, context {region: eu-west-1, tenant: acme}; "
                                 "six R records of 0, 1, 1000 bytes, without and with "
                                 "associated data \"row-42\"",
                 "session", first);
    assert_int_equal(json_object_set_new(o, "random", draws), 0);
    assert_int_equal(json_object_set_new(o, "keys", keys_json(used, 2)), 0);
    assert_int_equal(json_object_set_new(o, "context", ctx_json(CTX, 2)), 0);
    jint(o, "suite", suite);
    jint(o, "flags", suite == 2 ? 1 : 0);
    assert_int_equal(json_object_set_new(o, "cases", cases_json(cases, 2)), 0);
    assert_int_equal(json_object_set_new(o, "intermediates", describe_session(v->file, v->len, dk,
                                                                              &s)), 0);
    assert_int_equal(json_object_set_new(o, "session_records", recs), 0);
    free(dk);
    free(pt);
    v->j = o;
}

/* Open a committed session vector as another language would. */
static void check_committed_session(const char *name)
{
    json_t *j = load_json(name), *im, *mine, *recs, *r, *c;
    size_t len, n, i;
    uint8_t *file = read_vec(name, "bin", &len), h[32], *want, *dk;
    int suite;
    sched s;

    aios__sha256(h, file, len);
    want = tu_hexmember(j, "file_sha256", &n);
    assert_memory_equal(h, want, 32);
    free(want);
    suite = (int)json_integer_value(json_object_get(j, "suite"));
    check_keys_json(json_object_get(j, "keys"));
    check_draws(json_object_get(j, "random"));
    im = json_object_get(j, "intermediates");
    dk = tu_hexmember(im, "dk", &n);
    assert_string_equal(tu_str(json_array_get(json_object_get(j, "random"), 0), "hex"),
                        tu_str(im, "dk"));
    mine = describe_session(file, len, dk, &s);
    expect_members(im, mine, name);
    json_decref(mine);

    /* the records, by hand */
    recs = json_object_get(j, "session_records");
    assert_int_equal(json_array_size(recs), 6);
    {
        aios__env_header hd;
        tu_assert_ok(aios__env_header_decode(&hd, file, len, AIOS__ENV_ACCEPT_S));
        json_array_foreach(recs, i, r) {
            size_t rl, al, pl;
            uint8_t *rec = tu_hexmember(r, "record", &rl), *ad = tu_hexmember(r, "ad", &al);
            uint8_t *pt = tu_hexmember(r, "plaintext_hex", &pl);
            json_t *got = record_json(&hd, file, &s, rec, rl, ad, al, pt, pl);
            if (!json_equal(got, r))
                fail_msg("%s: record %zu differs from its recomputation", name, i);
            json_decref(got);
            free(rec);
            free(ad);
            free(pt);
        }
        aios__env_header_clear(&hd);
    }

    /* the cases through the public API (suite 1 also on soft GCM) */
    json_array_foreach(json_object_get(j, "cases"), i, c) {
        aios_envelope_keys *keys = NULL;
        aios_envelope_open_options oo;
        ctxbuf cb;
        int want_rc = status_named(tu_str(json_object_get(c, "expect"), "open"));
        int soft;
        keys_for_case(&keys, json_object_get(c, "keys"));
        opts_for_case(&oo, &cb, c);
        for (soft = 0; soft <= (suite == 1); soft++) {
            aios_envelope_session *ses = NULL;
            size_t k;
            aios__aead_test_force_soft_gcm(soft);
            tu_assert_status(aios_envelope_session_open(&ses, keys, file, len, &oo), want_rc);
            if (want_rc != AIOS_OK) {
                assert_null(ses);
                continue;
            }
            assert_memory_equal(aios_envelope_session_id(ses), s.c, 32);
            json_array_foreach(recs, k, r) {
                size_t rl, al, pl, got = 0;
                uint8_t *rec = tu_hexmember(r, "record", &rl), *ad = tu_hexmember(r, "ad", &al);
                uint8_t *pt = tu_hexmember(r, "plaintext_hex", &pl), out[1000];
                uint8_t id[32];
                tu_assert_ok(aios_envelope_record_session_id(id, rec, rl));
                assert_memory_equal(id, s.c, 32);
                tu_assert_ok(aios_envelope_session_open_record(ses, out, sizeof(out), &got, rec, rl,
                                                               ad, al));
                assert_int_equal(got, pl);
                if (pl)
                    assert_memory_equal(out, pt, pl);
                /* the associated data is bound: none instead of "row-42" and
                 * back, or one byte of the record changed */
                tu_assert_status(aios_envelope_session_open_record(
                                     ses, out, sizeof(out), &got, rec, rl,
                                     al ? NULL : (const uint8_t *)REC_AD, al ? 0 : strlen(REC_AD)),
                                 AIOS_E_AUTH);
                rec[rl - 1] ^= 1;
                tu_assert_status(aios_envelope_session_open_record(ses, out, sizeof(out), &got,
                                                                   rec, rl, ad, al),
                                 AIOS_E_AUTH);
                rec[rl - 1] ^= 1;
                free(rec);
                free(ad);
                free(pt);
            }
            aios_envelope_session_unref(ses);
        }
        aios__aead_test_force_soft_gcm(0);
        aios_envelope_keys_free(keys);
    }
    free(dk);
    free(file);
    json_decref(j);
}

/* The records of one session vector opened under the other session:
 * AIOS_E_ENVELOPE_UNKNOWN_SESSION. */
static void check_cross_session(const char *a, const char *b)
{
    json_t *ja = load_json(a), *jb = load_json(b);
    aios_envelope_keys *keys = NULL;
    aios_envelope_session *ses = NULL;
    size_t len, rl, got;
    uint8_t *file = read_vec(a, "bin", &len), out[1000];
    uint8_t *rec = tu_hexmember(json_array_get(json_object_get(jb, "session_records"), 1),
                                "record", &rl);
    tu_assert_ok(aios_envelope_keys_new(&keys));
    tu_assert_ok(aios_envelope_keys_add_key(keys, vkeys[K_WRAP1].handle));
    tu_assert_ok(aios_envelope_session_open(&ses, keys, file, len, NULL));
    tu_assert_status(aios_envelope_session_open_record(ses, out, sizeof(out), &got, rec, rl, NULL, 0),
                     AIOS_E_ENVELOPE_UNKNOWN_SESSION);
    aios_envelope_session_unref(ses);
    aios_envelope_keys_free(keys);
    free(rec);
    free(file);
    json_decref(ja);
    json_decref(jb);
}

static void test_session_vectors(void **state)
{
    vec v[2];
    size_t i;
    (void)state;
    memset(v, 0, sizeof(v));
    if (suite_sealable(1))
        make_session(&v[0], 1, 3000);
    else
        load_committed(&v[0], "session-gcm");
    make_session(&v[1], 2, 3100);
    for (i = 0; i < 2; i++)
        emit(&v[i]);
    check_committed_session("session-gcm");
    check_committed_session("session-xchacha");
    check_cross_session("session-gcm", "session-xchacha");
    check_cross_session("session-xchacha", "session-gcm");
    for (i = 0; i < 2; i++)
        vec_clear(&v[i]);
}

/* ------------------------------------------------------------ fields
 *
 * fle: a deterministic session (suite 2) and three documents: doc 1 with
 * random-mode fields of every type (s, i, t, n, j for a real and an
 * array), then deterministic /ssn, /ssn2 (equal values) and /country;
 * doc 2 with the same /ssn and /country deterministic; doc 2 again with
 * /ssn deterministic under record id "p-2".  Equal values at one pointer
 * give equal strings, at two pointers different ones; the record id
 * changes them. */

static const char FLE_DOC1[] =
    "{\"id\":\"p-1\",\"name\":\"Ada Lovelace\",\"age\":36,\"vip\":true,\"note\":null,"
    "\"score\":9.5,\"tags\":[\"math\",\"poetry\"],\"ssn\":\"123-45-6789\","
    "\"ssn2\":\"123-45-6789\",\"country\":\"GB\",\"debt\":-42,\"ok\":false}";
static const char FLE_DOC2[] = "{\"id\":\"p-2\",\"ssn\":\"123-45-6789\",\"country\":\"GB\"}";
static const char *const FLE_RANDOM[] = { "/name", "/age", "/vip", "/note", "/score", "/tags",
                                          "/debt", "/ok" };
static const char *const FLE_DET1[] = { "/ssn", "/ssn2", "/country" };
static const char *const FLE_DET2[] = { "/ssn", "/country" };
static const char *const FLE_DET3[] = { "/ssn" };
static const char FLE_RID[] = "p-2";

/* The typed plaintext (11.1) of a top-level member, by hand. */
static void typed_of(cat *t, json_t *v)
{
    char num[32];
    uint8_t tag;
    switch (json_typeof(v)) {
    case JSON_STRING:
        tag = 's';
        cat_put(t, &tag, 1);
        cat_put(t, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        tag = 'i';
        cat_put(t, &tag, 1);
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        cat_str(t, num);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
    case JSON_NULL:
        tag = json_is_true(v) ? 't' : json_is_false(v) ? 'f' : 'n';
        cat_put(t, &tag, 1);
        break;
    default: {
        char *txt = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
        assert_non_null(txt);
        tag = 'j';
        cat_put(t, &tag, 1);
        cat_str(t, txt);
        free(txt);
    }
    }
}

/* One encrypted field, recomputed by hand: FAD, the typed plaintext from
 * the input document, the record opened (R: RAAD and Kr; D: AES-SIV with
 * Ks over prefix || C, D, FAD). */
static json_t *field_json(const aios__env_header *h, const uint8_t *hb, const sched *s,
                          json_t *input, json_t *output, const char *ptr, const char *rid)
{
    json_t *o = json_object(), *enc = json_object_get(output, ptr + 1);
    const char *str = json_string_value(enc);
    cat fad = { NULL, 0 }, typed = { NULL, 0 };
    size_t slen, rlen = 0, ridlen = rid ? strlen(rid) : 0;
    uint8_t *rec;

    assert_non_null(str);
    slen = strlen(str);
    assert_true(slen > 8 && memcmp(str, "aios:f1:", 8) == 0);
    rec = malloc(slen);
    assert_non_null(rec);
    tu_assert_ok(aios__base64_decode(rec, slen, &rlen, str + 8, slen - 8, AIOS__B64_URLSAFE_NOPAD));
    cat_str(&fad, "aios fle v1");
    cat_u32(&fad, (uint32_t)strlen(ptr));
    cat_str(&fad, ptr);
    cat_u32(&fad, (uint32_t)ridlen);
    cat_put(&fad, rid, ridlen);
    typed_of(&typed, json_object_get(input, ptr + 1));
    jstr(o, "pointer", ptr);
    if (rid)
        jstr(o, "record_id", rid);
    jstr(o, "string", str);
    jhex(o, "FAD", fad.p, fad.n);
    jhex(o, "typed_plaintext", typed.p, typed.n);
    if (rec[5] == 'R') {
        json_t *r = record_json(h, hb, s, rec, rlen, fad.p, fad.n, typed.p, typed.n);
        jstr(o, "mode", "random");
        jhex(o, "r", rec + 42, 16);
        jstr(o, "Kr", json_string_value(json_object_get(r, "Kr")));
        jstr(o, "RAAD", json_string_value(json_object_get(r, "RAAD")));
        json_decref(r);
    } else {
        aios__siv_ad ad[3];
        uint8_t *pt = malloc(rlen);
        size_t olen = 0;
        assert_non_null(pt);
        assert_int_equal(rec[5], 'D');
        assert_memory_equal(rec, "AIOE\x01" "D\x00\x03\x00\x00", 10);
        assert_memory_equal(rec + 10, h->commitment, 32);
        ad[0].p = rec;
        ad[0].len = 42;
        ad[1].p = s->d;
        ad[1].len = 32;
        ad[2].p = fad.p;
        ad[2].len = fad.n;
        tu_assert_ok(aios__aes_siv_open(pt, rlen, &olen, s->ks, 64, ad, 3, rec + 42, rlen - 42));
        assert_int_equal(olen, typed.n);
        assert_memory_equal(pt, typed.p, typed.n);
        free(pt);
        jstr(o, "mode", "deterministic");
        jhex(o, "V", rec + 42, 16);
    }
    jhex(o, "record", rec, rlen);
    free(rec);
    free(fad.p);
    free(typed.p);
    return o;
}

static char *fle_encrypt(aios_envelope_session *ses, const char *doc, const char *const *ptrs,
                         size_t n, uint32_t flags, const char *rid)
{
    aios_envelope_fields_options fo = AIOS_ENVELOPE_FIELDS_OPTIONS_INIT;
    aios_buffer *out = NULL;
    char *s;
    fo.flags = flags;
    fo.record_id = (const uint8_t *)rid;
    fo.record_id_len = rid ? strlen(rid) : 0;
    tu_assert_ok(aios_envelope_fields_encrypt(&out, ses, doc, strlen(doc), ptrs, n, &fo));
    s = malloc(aios_buffer_len(out) + 1);
    assert_non_null(s);
    memcpy(s, aios_buffer_data(out), aios_buffer_len(out));
    s[aios_buffer_len(out)] = '\0';
    aios_buffer_free(out);
    return s;
}

static json_t *ptr_list(const char *const *p, size_t n)
{
    json_t *a = json_array();
    size_t i;
    for (i = 0; i < n; i++)
        assert_int_equal(json_array_append_new(a, json_string(p[i])), 0);
    return a;
}

static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    if (j == NULL)
        fail_msg("bad JSON: %s", err.text);
    return j;
}

/* The fields of the three documents, described (and checked) by hand. */
static json_t *fle_fields(const uint8_t *file, size_t len, const uint8_t dk[32], json_t *docs)
{
    aios__env_header h;
    json_t *arr = json_array(), *d;
    sched s;
    size_t i;
    json_t *o = json_object();

    tu_assert_ok(aios__env_header_decode(&h, file, len, AIOS__ENV_ACCEPT_S));
    schedule(&s, o, &h, file, dk, 1);
    json_decref(o);
    json_array_foreach(docs, i, d) {
        json_t *in = parse(tu_str(d, "input")), *out = parse(tu_str(d, "output")), *st, *p;
        size_t k, q;
        json_array_foreach(json_object_get(d, "steps"), k, st) {
            const char *rid = json_string_value(json_object_get(st, "record_id"));
            json_array_foreach(json_object_get(st, "pointers"), q, p) {
                json_t *f = field_json(&h, file, &s, in, out, json_string_value(p), rid);
                jint(f, "document", (json_int_t)i);
                assert_string_equal(tu_str(f, "mode"), tu_str(st, "mode"));
                assert_int_equal(json_array_append_new(arr, f), 0);
            }
        }
        json_decref(in);
        json_decref(out);
    }
    aios__env_header_clear(&h);
    return arr;
}

static json_t *fle_doc(const char *in, const char *out, json_t *steps)
{
    json_t *d = json_object();
    jstr(d, "input", in);
    assert_int_equal(json_object_set_new(d, "steps", steps), 0);
    jstr(d, "output", out);
    return d;
}

static json_t *fle_step(const char *mode, const char *const *p, size_t n, const char *rid)
{
    json_t *st = json_object();
    jstr(st, "mode", mode);
    assert_int_equal(json_object_set_new(st, "pointers", ptr_list(p, n)), 0);
    if (rid)
        jstr(st, "record_id", rid);
    return st;
}

static void make_fle(vec *v, uint64_t first)
{
    aios_envelope_session_options so = AIOS_ENVELOPE_SESSION_OPTIONS_INIT;
    aios_envelope_session *ses = NULL;
    static const int used[] = { K_WRAP1 };
    static const vcase cases[] = { OKCASE("wrap-key-v1", 0) };
    char *o1a, *o1, *o2, *o3;
    json_t *o, *draws, *docs = json_array(), *steps;
    const uint8_t *hb;
    size_t hl, n;
    uint8_t *dk;

    snprintf(v->name, sizeof(v->name), "fle");
    so.suite = AIOS_ENVELOPE_SUITE_XCHACHA20POLY1305;
    so.flags = AIOS_ENVELOPE_SESSION_DETERMINISTIC;
    stream_begin(first);
    tu_assert_ok(aios_envelope_session_new(&ses, &vkeys[K_WRAP1].handle, 1, CTX, 2, &so));
    o1a = fle_encrypt(ses, FLE_DOC1, FLE_RANDOM, 8, 0, NULL);
    o1 = fle_encrypt(ses, o1a, FLE_DET1, 3, AIOS_ENVELOPE_FIELDS_DETERMINISTIC, NULL);
    o2 = fle_encrypt(ses, FLE_DOC2, FLE_DET2, 2, AIOS_ENVELOPE_FIELDS_DETERMINISTIC, NULL);
    o3 = fle_encrypt(ses, FLE_DOC2, FLE_DET3, 1, AIOS_ENVELOPE_FIELDS_DETERMINISTIC, FLE_RID);
    draws = stream_end();
    hb = aios_envelope_session_header(ses, &hl);
    vec_set_file(v, hb, hl);
    aios_envelope_session_unref(ses);

    steps = json_array();
    assert_int_equal(json_array_append_new(steps, fle_step("random", FLE_RANDOM, 8, NULL)), 0);
    assert_int_equal(json_array_append_new(steps, fle_step("deterministic", FLE_DET1, 3, NULL)), 0);
    assert_int_equal(json_array_append_new(docs, fle_doc(FLE_DOC1, o1, steps)), 0);
    steps = json_array();
    assert_int_equal(json_array_append_new(steps, fle_step("deterministic", FLE_DET2, 2, NULL)), 0);
    assert_int_equal(json_array_append_new(docs, fle_doc(FLE_DOC2, o2, steps)), 0);
    steps = json_array();
    assert_int_equal(json_array_append_new(steps, fle_step("deterministic", FLE_DET3, 1, FLE_RID)),
                     0);
    assert_int_equal(json_array_append_new(docs, fle_doc(FLE_DOC2, o3, steps)), 0);
    free(o1a);
    free(o1);
    free(o2);
    free(o3);

    o = vec_head(v, "field-level encryption: a deterministic session (suite 2, the binary is "
                    "its S header) and three documents: random fields of every type, "
                    "deterministic fields (equal at one pointer, different at two, changed by a "
                    "record id)", "fle", first);
    assert_int_equal(json_object_set_new(o, "random", draws), 0);
    assert_int_equal(json_object_set_new(o, "keys", keys_json(used, 1)), 0);
    assert_int_equal(json_object_set_new(o, "context", ctx_json(CTX, 2)), 0);
    jint(o, "suite", 2);
    jint(o, "flags", 1);
    assert_int_equal(json_object_set_new(o, "cases", cases_json(cases, 1)), 0);
    dk = tu_hex(json_string_value(json_object_get(json_array_get(draws, 0), "hex")), &n);
    {
        sched s;
        assert_int_equal(json_object_set_new(o, "intermediates",
                                             describe_session(v->file, v->len, dk, &s)), 0);
    }
    assert_int_equal(json_object_set_new(o, "documents", docs), 0);
    assert_int_equal(json_object_set_new(o, "fields", fle_fields(v->file, v->len, dk, docs)), 0);
    free(dk);
    v->j = o;
}

static const char *field_string(json_t *fields, size_t doc, const char *ptr)
{
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f) {
        if ((size_t)json_integer_value(json_object_get(f, "document")) == doc &&
            strcmp(tu_str(f, "pointer"), ptr) == 0)
            return tu_str(f, "string");
    }
    fail_msg("no field %s in document %zu", ptr, doc);
    return NULL;
}

static void check_committed_fle(void)
{
    json_t *j = load_json("fle"), *im, *mine, *docs, *d;
    aios_envelope_keys *keys = NULL;
    aios_envelope_session *ses = NULL;
    size_t len, n, i;
    uint8_t *file = read_vec("fle", "bin", &len), *dk;
    sched s;

    check_keys_json(json_object_get(j, "keys"));
    check_draws(json_object_get(j, "random"));
    im = json_object_get(j, "intermediates");
    dk = tu_hexmember(im, "dk", &n);
    mine = describe_session(file, len, dk, &s);
    expect_members(im, mine, "fle");
    json_decref(mine);
    docs = json_object_get(j, "documents");
    mine = fle_fields(file, len, dk, docs);
    if (!json_equal(mine, json_object_get(j, "fields")))
        fail_msg("fle: the fields differ from their recomputation");
    json_decref(mine);

    /* what deterministic mode promises, and does not */
    mine = json_object_get(j, "fields");
    assert_string_equal(field_string(mine, 0, "/ssn"), field_string(mine, 1, "/ssn"));
    assert_string_equal(field_string(mine, 0, "/country"), field_string(mine, 1, "/country"));
    assert_string_not_equal(field_string(mine, 0, "/ssn"), field_string(mine, 0, "/ssn2"));
    assert_string_not_equal(field_string(mine, 1, "/ssn"), field_string(mine, 2, "/ssn"));

    /* the public API gives the input documents back */
    tu_assert_ok(aios_envelope_keys_new(&keys));
    tu_assert_ok(aios_envelope_keys_add_key(keys, vkeys[K_WRAP1].handle));
    tu_assert_ok(aios_envelope_session_open(&ses, keys, file, len, NULL));
    json_array_foreach(docs, i, d) {
        aios_envelope_fields_options fo = AIOS_ENVELOPE_FIELDS_OPTIONS_INIT;
        const char *out = tu_str(d, "output");
        json_t *st = json_array_get(json_object_get(d, "steps"), 0), *a, *b;
        const char *rid = json_string_value(json_object_get(st, "record_id"));
        aios_buffer *dec = NULL;
        fo.record_id = (const uint8_t *)rid;
        fo.record_id_len = rid ? strlen(rid) : 0;
        tu_assert_ok(aios_envelope_fields_decrypt(&dec, &ses, 1, out, strlen(out), &fo));
        a = json_loadb((const char *)aios_buffer_data(dec), aios_buffer_len(dec), 0, NULL);
        b = parse(tu_str(d, "input"));
        assert_non_null(a);
        assert_true(json_equal(a, b));
        json_decref(a);
        json_decref(b);
        aios_buffer_free(dec);
        if (rid) {
            /* without the record id the field does not open */
            fo.record_id = NULL;
            fo.record_id_len = 0;
            tu_assert_status(aios_envelope_fields_decrypt(&dec, &ses, 1, out, strlen(out), &fo),
                             AIOS_E_AUTH);
            assert_null(dec);
        }
    }
    aios_envelope_session_unref(ses);
    aios_envelope_keys_free(keys);
    free(dk);
    free(file);
    json_decref(j);
}

static void test_fle_vector(void **state)
{
    vec v;
    (void)state;
    memset(&v, 0, sizeof(v));
    make_fle(&v, 4000);
    emit(&v);
    vec_clear(&v);
    check_committed_fle();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_vectors_made),
        cmocka_unit_test(test_message_vectors_read),
        cmocka_unit_test(test_session_vectors),
        cmocka_unit_test(test_fle_vector),
    };
    tu_assert_ok(aios_init());
    return cmocka_run_group_tests(tests, setup, teardown);
}
