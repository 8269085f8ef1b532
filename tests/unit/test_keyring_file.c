/*
 * The keyring file format (docs/KEYRING.md): the committed vector decodes
 * to its committed listing and is reproduced byte for byte from its fixed
 * inputs; every flipped byte and every truncation is refused with the
 * right status; wrong secrets are told apart from changed files; hostile
 * headers and bodies are refused before they can cost memory or time.
 *
 * AIOS_KEYRING_WRITE_VECTORS=1 rewrites tests/vectors/keyring-v1.* and the
 * fuzz seeds in tests/fuzz/corpus/fuzz_keyring/ instead of checking them.
 */
#include <protobuf-c/protobuf-c.h>

#include "test_keyring_util.h"
#include "keyring.pb-c.h"

#define VEC_DIR      AIOS_TEST_SOURCE_DIR "/tests/vectors"
#define VEC_FILE     VEC_DIR "/keyring-v1.aioskr"
#define VEC_LISTING  VEC_DIR "/keyring-v1.json"
#define CORPUS_DIR   AIOS_TEST_SOURCE_DIR "/tests/fuzz/corpus/fuzz_keyring"
#define VEC_PASS     "correct horse battery staple"

static char *tmpdir;

static int setup(void **state)
{
    (void)state;
    tmpdir = kt_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kt_rmtree(tmpdir);
    aios__kr_set_random_for_testing(NULL);
    aios__kr_set_generate_for_testing(NULL);
    aios__key_set_clock_for_testing(NULL);
    return 0;
}

static int writing_vectors(void)
{
    const char *e = getenv("AIOS_KEYRING_WRITE_VECTORS");
    return e && strcmp(e, "1") == 0;
}

/* --------------------------------------------- deterministic inputs */

/* The vector's "random" bytes: SHA-256("aios keyring vector" || counter)
 * blocks, so the file can be made again byte for byte. */
static uint64_t stream_ctr;
static void stream_bytes(uint8_t *out, size_t len)
{
    static const char label[] = "aios keyring vector";
    while (len) {
        uint8_t in[sizeof(label) - 1 + 8], blk[32];
        size_t n = len < 32 ? len : 32;
        memcpy(in, label, sizeof(label) - 1);
        for (int i = 0; i < 8; i++)
            in[sizeof(label) - 1 + i] = (uint8_t)(stream_ctr >> (56 - 8 * i));
        stream_ctr++;
        aios__sha256(blk, in, sizeof(in));
        memcpy(out, blk, n);
        out += n;
        len -= n;
    }
}

static int stream_generate(aios_key_type type, uint8_t *m, size_t *ml, uint8_t *p, size_t *pl)
{
    uint8_t seed[48];
    size_t ppl = 0;
    *pl = 0;
    switch (type) {
    case AIOS_KEY_AES256:
    case AIOS_KEY_HMAC_SHA256:
    case AIOS_KEY_BLAKE2B:
        stream_bytes(m, 32);
        *ml = 32;
        return AIOS_OK;
    case AIOS_KEY_X25519:
        stream_bytes(m, 32);
        *ml = 32;
        *pl = 32;
        return aios__x25519_public(p, m);
    case AIOS_KEY_ED25519:
        stream_bytes(seed, 32);
        *ml = 64;
        *pl = 32;
        return aios__ed25519_seed_keypair(p, m, seed);
    case AIOS_KEY_ECDSA_P256:
    case AIOS_KEY_ECDSA_P384:
        *ml = type == AIOS_KEY_ECDSA_P256 ? 32 : 48;
        stream_bytes(m, *ml);
        m[0] &= 0x7f;                        /* below the group order */
        *pl = type == AIOS_KEY_ECDSA_P256 ? 65 : 97;
        return aios__keyenc_public(type == AIOS_KEY_ECDSA_P256 ? AIOS__KEYENC_P256
                                                               : AIOS__KEYENC_P384,
                                   m, *ml, p, *pl, &ppl);
    default:
        return AIOS_E_INVALID_ARGUMENT;
    }
}

static int64_t vec_now;
static int64_t vec_clock(void)
{
    return vec_now;
}

static void seq(uint8_t *out, size_t n, uint8_t first)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(first + i);
}

/* The vector: every key type but P-384, every state, attributes that need
 * escaping, a non-ASCII id, usage limits, an expiry, a minimum version. */
static void make_vector(const char *path)
{
    aios_keyring_options o = kt_pass(VEC_PASS);
    aios_key_spec spec = AIOS_KEY_SPEC_INIT;
    static const aios_key_attribute_pair wrap_attrs[] = {
        { "tenant", "acme" }, { "region", "eu-west-1" }
    };
    static const aios_key_attribute_pair note[] = {
        { "note", "quote \" backslash \\ tab \t caf\xc3\xa9" }
    };
    aios_keyring *kr = NULL;
    uint8_t raw[32], priv[32];
    char pem[AIOS__PKCS8_PEM_MAX];
    size_t pem_len;

    stream_ctr = 0;
    vec_now = 1700000000;
    aios__kr_set_random_for_testing(stream_bytes);
    aios__kr_set_generate_for_testing(stream_generate);
    aios__key_set_clock_for_testing(vec_clock);
    o.argon2_opslimit = 2;
    o.argon2_memlimit = 65536;
    tu_assert_ok(aios_keyring_create(&kr, path, &o));

    seq(raw, 32, 0x00);
    spec.attributes = wrap_attrs;
    spec.attribute_count = 2;
    tu_assert_ok(aios_keyring_import(kr, NULL, "wrap-key", AIOS_KEY_AES256, raw, 32, &spec));
    vec_now += 1000;
    tu_assert_ok(aios_keyring_rotate(kr, NULL, "wrap-key"));
    vec_now += 1000;
    tu_assert_ok(aios_keyring_rotate(kr, NULL, "wrap-key"));
    tu_assert_ok(aios_keyring_destroy(kr, "wrap-key", 1));

    spec = (aios_key_spec)AIOS_KEY_SPEC_INIT;
    spec.exportable = 1;
    spec.max_uses = 1000;
    seq(raw, 32, 0x20);
    tu_assert_ok(aios_keyring_import(kr, NULL, "mac-key", AIOS_KEY_HMAC_SHA256, raw, 32, &spec));

    seq(priv, 32, 0x40);
    tu_assert_ok(aios__pkcs8_encode_pem(pem, sizeof(pem), &pem_len, AIOS__KEYENC_ED25519, priv, 32));
    tu_assert_ok(aios_keyring_import(kr, NULL, "sign-key", AIOS_KEY_ED25519, (const uint8_t *)pem,
                                     pem_len, NULL));
    vec_now += 1000;
    tu_assert_ok(aios_keyring_add_version(kr, NULL, "sign-key"));

    memset(priv, 0x11, 32);
    tu_assert_ok(aios__pkcs8_encode_pem(pem, sizeof(pem), &pem_len, AIOS__KEYENC_P256, priv, 32));
    spec = (aios_key_spec)AIOS_KEY_SPEC_INIT;
    spec.purposes = AIOS_KEY_USE_VERIFY;
    spec.not_after = 1900000000;
    tu_assert_ok(aios_keyring_import(kr, NULL, "ecdsa-key", AIOS_KEY_ECDSA_P256,
                                     (const uint8_t *)pem, pem_len, &spec));

    tu_assert_ok(aios_keyring_add(kr, NULL, "x-key", AIOS_KEY_X25519, NULL));
    vec_now += 1000;
    tu_assert_ok(aios_keyring_rotate(kr, NULL, "x-key"));
    tu_assert_ok(aios_keyring_set_min_decrypt_version(kr, "x-key", 2));

    spec = (aios_key_spec)AIOS_KEY_SPEC_INIT;
    spec.attributes = note;
    spec.attribute_count = 1;
    tu_assert_ok(aios_keyring_add(kr, NULL, "blake-key", AIOS_KEY_BLAKE2B, &spec));

    tu_assert_ok(aios_keyring_add(kr, NULL, "cl\xc3\xa9-\xc3\xbc", AIOS_KEY_AES256, NULL));
    vec_now += 1000;
    tu_assert_ok(aios_keyring_rotate(kr, NULL, "cl\xc3\xa9-\xc3\xbc"));
    tu_assert_ok(aios_keyring_set_state(kr, "cl\xc3\xa9-\xc3\xbc", 1, AIOS_KEY_DISABLED));
    aios_keyring_free(kr);
    aios__kr_set_random_for_testing(NULL);
    aios__kr_set_generate_for_testing(NULL);
    aios__key_set_clock_for_testing(NULL);
}

/* The decrypted body of a keyring file (re-encoded from its model: the
 * same bytes, the encoding being canonical). */
static aios_buffer *body_of(const uint8_t *file, size_t len, const aios_keyring_options *o)
{
    aios__kr_header h;
    aios__aead_key *dk = NULL;
    aios__kr_model m;
    aios_buffer *b = NULL;
    tu_assert_ok(aios__kr_header_parse(&h, file, len, "mem"));
    tu_assert_ok(aios__kr_unlock_open(&dk, &h, o, "mem"));
    tu_assert_ok(aios__kr_file_decode(&m, &h, dk, file, len, "mem"));
    tu_assert_ok(aios__kr_body_encode(&b, &m));
    aios__kr_model_clear(&m);
    aios__aead_key_free(dk);
    return b;
}

static void write_seed(const char *name, uint8_t mode, const uint8_t *pre, size_t prelen,
                       const uint8_t *data, size_t len)
{
    char p[4096];
    uint8_t *buf = malloc(1 + prelen + len);
    assert_non_null(buf);
    buf[0] = mode;
    if (prelen)
        memcpy(buf + 1, pre, prelen);
    memcpy(buf + 1 + prelen, data, len);
    snprintf(p, sizeof(p), "%s/%s", CORPUS_DIR, name);
    kt_write(p, buf, 1 + prelen + len);
    free(buf);
}

/* Fuzz seeds: a whole file (mode 0), its header framed by the harness
 * (mode 1: u16be body bytes, header), its body (mode 2). */
static void write_seeds(const char *name, const uint8_t *file, size_t len,
                        const aios_keyring_options *o)
{
    char n[64];
    uint32_t hlen = ((uint32_t)file[7] << 24) | ((uint32_t)file[8] << 16) |
                    ((uint32_t)file[9] << 8) | file[10];
    size_t tail = len - (11 + hlen + 32);
    uint8_t pre[2] = { (uint8_t)(tail >> 8), (uint8_t)tail };
    aios_buffer *b = body_of(file, len, o);
    assert_true(tail <= 0xffff);
    (void)mkdir(CORPUS_DIR, 0755);
    snprintf(n, sizeof(n), "file-%s", name);
    write_seed(n, 0, NULL, 0, file, len);
    snprintf(n, sizeof(n), "header-%s", name);
    write_seed(n, 1, pre, 2, file + 11, hlen);
    snprintf(n, sizeof(n), "body-%s", name);
    write_seed(n, 2, NULL, 0, aios_buffer_data(b), aios_buffer_len(b));
    aios_buffer_free(b);
}

/* --------------------------------------------------------- the vector */

static void test_vector_decodes(void **state)
{
    (void)state;
    /* Read-only: no lock file is made in the source tree. */
    aios_keyring_options o = kt_pass(VEC_PASS);
    aios_keyring *kr = NULL;
    aios_key *k = NULL;
    aios_buffer *b = NULL;
    uint8_t raw[32], mac[32], want[32], pk[32], sk[64];
    char *listing, *expect;
    size_t elen, flen;
    uint8_t *file;
    aios__kr_header h;

    o.flags = AIOS_KEYRING_READ_ONLY;
    if (writing_vectors()) {
        const char *p = kt_path(tmpdir, "v.aioskr", 0);
        make_vector(p);
        file = kt_read(p, &flen);
        kt_write(VEC_FILE, file, flen);
        tu_assert_ok(aios_keyring_open(&kr, VEC_FILE, &o));
        listing = kt_list(kr);
        aios_keyring_free(kr);
        kr = NULL;
        {
            size_t n = strlen(listing);
            listing[n] = '\n';
            kt_write(VEC_LISTING, (const uint8_t *)listing, n + 1);
        }
        free(listing);
        write_seeds("v1", file, flen, &o);
        free(file);
        /* An empty raw-key keyring, the smallest file there is. */
        {
            aios_keyring_options r = kt_raw();
            const char *e = kt_path(tmpdir, "e.aioskr", 1);
            stream_ctr = 1000;
            aios__kr_set_random_for_testing(stream_bytes);
            tu_assert_ok(aios_keyring_create(&kr, e, &r));
            aios_keyring_free(kr);
            kr = NULL;
            aios__kr_set_random_for_testing(NULL);
            file = kt_read(e, &flen);
            write_seeds("empty-raw", file, flen, &r);
            free(file);
        }
        print_message("wrote %s, %s and the seeds in %s\n", VEC_FILE, VEC_LISTING, CORPUS_DIR);
    }

    /* The header: what docs/KEYRING.md says the vector holds. */
    file = kt_read(VEC_FILE, &flen);
    tu_assert_ok(aios__kr_header_parse(&h, file, flen, VEC_FILE));
    assert_int_equal(h.unlock, AIOS_KEYRING_UNLOCK_PASSPHRASE);
    assert_int_equal(h.opslimit, 2);
    assert_int_equal(h.memlimit, 65536);
    assert_int_equal(h.ad_len + h.body_len + 16, flen);
    assert_memory_equal(file, "AIOSKR\x01", 7);
    free(file);

    tu_assert_ok(aios_keyring_open(&kr, VEC_FILE, &o));
    listing = kt_list(kr);
    expect = (char *)kt_read(VEC_LISTING, &elen);
    assert_true(elen > 0 && expect[elen - 1] == '\n');
    expect[elen - 1] = '\0';
    assert_string_equal(listing, expect);
    free(listing);
    free(expect);

    /* The material decoded is the material put in. */
    seq(raw, 32, 0x20);
    tu_assert_ok(aios_keyring_get(kr, &k, "mac-key", 0));
    tu_assert_ok(aios_key_mac(k, mac, (const uint8_t *)"abc", 3));
    aios__hmac_sha256(want, raw, 32, (const uint8_t *)"abc", 3);
    assert_memory_equal(mac, want, 32);
    tu_assert_ok(aios_key_export(k, &b));
    assert_int_equal(aios_buffer_len(b), 32);
    assert_memory_equal(aios_buffer_data(b), raw, 32);
    aios_buffer_free(b);
    aios_key_unref(k);
    seq(raw, 32, 0x40);
    tu_assert_ok(aios__ed25519_seed_keypair(pk, sk, raw));
    tu_assert_ok(aios_keyring_get(kr, &k, "sign-key", 1));
    tu_assert_ok(aios_key_public_raw(k, &b));
    assert_memory_equal(aios_buffer_data(b), pk, 32);
    aios_buffer_free(b);
    aios_key_unref(k);
    tu_assert_ok(aios_keyring_get(kr, &k, "wrap-key", 1));
    assert_int_equal(aios_key_get_state(k), AIOS_KEY_DESTROYED);
    tu_assert_status(aios_key_wrap(k, &b, raw, 32, NULL, 0), AIOS_E_KEY_DESTROYED);
    aios_key_unref(k);
    /* wrap-key v1 was the bytes 00..1f: v2 and v3 are other keys. */
    tu_assert_ok(aios_keyring_get(kr, &k, "wrap-key", 0));
    assert_int_equal(aios_key_version(k), 3);
    aios_key_unref(k);
    aios_keyring_free(kr);
    kr = NULL;

    o = kt_pass(VEC_PASS "!");
    o.flags = AIOS_KEYRING_READ_ONLY;
    tu_assert_status(aios_keyring_open(&kr, VEC_FILE, &o), AIOS_E_KEYRING_PASSPHRASE);
    assert_false(kt_exists(VEC_FILE ".lock"));
}

static void test_vector_reproduced(void **state)
{
    (void)state;
    const char *p = kt_path(tmpdir, "again.aioskr", 0);
    uint8_t *a, *b;
    size_t alen, blen;

    make_vector(p);
    a = kt_read(p, &alen);
    b = kt_read(VEC_FILE, &blen);
    assert_int_equal(alen, blen);
    assert_memory_equal(a, b, alen);
    free(a);
    free(b);
}

/* ------------------------------------------------ damaged files */

static uint8_t *small_keyring(const char *path, size_t *len)
{
    aios_keyring_options o = kt_pass("pw");
    aios_keyring *kr = NULL;
    tu_assert_ok(aios_keyring_create(&kr, path, &o));
    tu_assert_ok(aios_keyring_add(kr, NULL, "k", AIOS_KEY_AES256, NULL));
    aios_keyring_free(kr);
    return kt_read(path, len);
}

static int open_status(const char *path, const aios_keyring_options *o)
{
    aios_keyring *kr = NULL;
    int rc = aios_keyring_open(&kr, path, o);
    if (rc == AIOS_OK)
        aios_keyring_free(kr);
    else
        assert_null(kr);
    return rc;
}

static void test_flip_every_byte(void **state)
{
    (void)state;
    const char *path = kt_path(tmpdir, "k.aioskr", 0);
    aios_keyring_options o = kt_pass("pw");
    size_t len, counts[4] = { 0 };
    uint8_t *orig = small_keyring(path, &len), *buf = malloc(len);
    static const uint8_t masks[] = { 0x01, 0x80, 0xff };
    aios__kr_header h;

    assert_non_null(buf);
    tu_assert_ok(open_status(path, &o));
    tu_assert_ok(aios__kr_header_parse(&h, orig, len, path));
    for (size_t i = 0; i < len; i++) {
        for (size_t m = 0; m < sizeof(masks); m++) {
            int rc;
            memcpy(buf, orig, len);
            buf[i] ^= masks[m];
            kt_write(path, buf, len);
            rc = open_status(path, &o);
            /* Never opens, never mistaken for a wrong passphrase: the magic
             * is corrupt, the version unknown, a header length corrupt or
             * (pointing elsewhere) tampered, and every later byte tampered. */
            if (rc == AIOS_E_KEYRING_CORRUPT)
                counts[0]++;
            else if (rc == AIOS_E_KEYRING_TAMPERED)
                counts[1]++;
            else if (rc == AIOS_E_VERSION)
                counts[3]++;
            if (!(i < 6 ? rc == AIOS_E_KEYRING_CORRUPT
                  : i == 6 ? rc == AIOS_E_VERSION
                  : i < 11 ? rc == AIOS_E_KEYRING_CORRUPT || rc == AIOS_E_KEYRING_TAMPERED
                  : rc == AIOS_E_KEYRING_TAMPERED))
                fail_msg("byte %zu of %zu (header ends at %zu) ^ 0x%02x: %s (%s)", i, len,
                         h.ad_len, masks[m], aios_status_name(rc), aios_last_error_message());
        }
    }
    print_message("%zu bytes x 3 flips: %zu corrupt, %zu tampered, %zu version\n", len,
                  counts[0], counts[1], counts[3]);
    assert_true(counts[0] > 0 && counts[1] > 0);
    kt_write(path, orig, len);
    tu_assert_ok(open_status(path, &o));
    free(orig);
    free(buf);
}

static void test_truncate_every_length(void **state)
{
    (void)state;
    const char *path = kt_path(tmpdir, "k.aioskr", 0);
    aios_keyring_options o = kt_pass("pw");
    size_t len;
    uint8_t *orig = small_keyring(path, &len), *longer = malloc(len + 100);

    for (size_t n = 0; n < len; n++) {
        int rc;
        kt_write(path, orig, n);
        rc = open_status(path, &o);
        if (rc != AIOS_E_KEYRING_CORRUPT)
            fail_msg("truncated to %zu of %zu bytes: %s", n, len, aios_status_name(rc));
    }
    assert_non_null(strstr(aios_last_error_message(), "truncated"));
    /* Bytes after the end are refused as well. */
    assert_non_null(longer);
    memcpy(longer, orig, len);
    memset(longer + len, 0, 100);
    kt_write(path, longer, len + 1);
    tu_assert_status(open_status(path, &o), AIOS_E_KEYRING_CORRUPT);
    kt_write(path, longer, len + 100);
    tu_assert_status(open_status(path, &o), AIOS_E_KEYRING_CORRUPT);
    free(orig);
    free(longer);
}

/* ------------------------------------------------ crafted headers */

typedef struct crafted {
    uint8_t *file;
    size_t   len;
    size_t   hlen;
    Aios__V1__KeyringHeader *hdr;
} crafted;

static void craft_load(crafted *c, const uint8_t *file, size_t len)
{
    c->len = len;
    c->file = malloc(len);
    assert_non_null(c->file);
    memcpy(c->file, file, len);
    c->hlen = ((size_t)file[7] << 24) | ((size_t)file[8] << 16) | ((size_t)file[9] << 8) | file[10];
    c->hdr = aios__v1__keyring_header__unpack(NULL, c->hlen, file + 11);
    assert_non_null(c->hdr);
}

/* A file with c's (modified) header, a valid header check, and the same
 * body as before: what a deliberate edit of the header looks like. */
static uint8_t *craft_file(const crafted *c, size_t *len, const uint8_t *extra, size_t extra_len)
{
    size_t n = aios__v1__keyring_header__get_packed_size(c->hdr) + extra_len;
    size_t body = c->len - (11 + c->hlen + 32);
    uint8_t *f = malloc(11 + n + 32 + body);
    assert_non_null(f);
    memcpy(f, "AIOSKR\x01", 7);
    f[7] = (uint8_t)(n >> 24);
    f[8] = (uint8_t)(n >> 16);
    f[9] = (uint8_t)(n >> 8);
    f[10] = (uint8_t)n;
    aios__v1__keyring_header__pack(c->hdr, f + 11);
    if (extra_len)
        memcpy(f + 11 + n - extra_len, extra, extra_len);
    aios__sha256(f + 11 + n, f, 11 + n);
    memcpy(f + 11 + n + 32, c->file + 11 + c->hlen + 32, body);
    *len = 11 + n + 32 + body;
    return f;
}

static void craft_free(crafted *c)
{
    aios__v1__keyring_header__free_unpacked(c->hdr, NULL);
    free(c->file);
}

static int open_crafted(const crafted *c, const aios_keyring_options *o, const uint8_t *extra,
                        size_t extra_len)
{
    const char *p = kt_path(tmpdir, "crafted.aioskr", 1);
    size_t len;
    uint8_t *f = craft_file(c, &len, extra, extra_len);
    kt_write(p, f, len);
    free(f);
    return open_status(p, o);
}

static void test_wrong_secret_vs_changed_file(void **state)
{
    (void)state;
    const char *path = kt_path(tmpdir, "k.aioskr", 0);
    aios_keyring_options o = kt_pass("pw"), bad = kt_pass("pW");
    size_t len;
    uint8_t *orig = small_keyring(path, &len);
    crafted c;

    tu_assert_status(open_status(path, &bad), AIOS_E_KEYRING_PASSPHRASE);
    craft_load(&c, orig, len);
    tu_assert_ok(open_crafted(&c, &o, NULL, 0));            /* re-framing alone is harmless */
    /* The data key's wrapping, its nonce, the body nonce: a changed file. */
    c.hdr->wrapped_data_key.data[3] ^= 1;
    tu_assert_status(open_crafted(&c, &o, NULL, 0), AIOS_E_KEYRING_TAMPERED);
    assert_non_null(strstr(aios_last_error_message(), "master key is right"));
    c.hdr->wrapped_data_key.data[3] ^= 1;
    c.hdr->data_key_nonce.data[0] ^= 1;
    tu_assert_status(open_crafted(&c, &o, NULL, 0), AIOS_E_KEYRING_TAMPERED);
    c.hdr->data_key_nonce.data[0] ^= 1;
    c.hdr->body_nonce.data[0] ^= 1;
    tu_assert_status(open_crafted(&c, &o, NULL, 0), AIOS_E_KEYRING_TAMPERED);
    c.hdr->body_nonce.data[0] ^= 1;
    /* What the master key is derived or checked from: indistinguishable
     * from a wrong passphrase once the header check is redone (documented). */
    c.hdr->key_check.data[0] ^= 1;
    tu_assert_status(open_crafted(&c, &o, NULL, 0), AIOS_E_KEYRING_PASSPHRASE);
    c.hdr->key_check.data[0] ^= 1;
    c.hdr->argon2id->salt.data[0] ^= 1;
    tu_assert_status(open_crafted(&c, &o, NULL, 0), AIOS_E_KEYRING_PASSPHRASE);
    c.hdr->argon2id->salt.data[0] ^= 1;
    c.hdr->argon2id->opslimit = 2;
    tu_assert_status(open_crafted(&c, &o, NULL, 0), AIOS_E_KEYRING_PASSPHRASE);
    c.hdr->argon2id->opslimit = 1;
    tu_assert_ok(open_crafted(&c, &o, NULL, 0));
    craft_free(&c);
    free(orig);
}

static void test_hostile_headers(void **state)
{
    (void)state;
    const char *path = kt_path(tmpdir, "k.aioskr", 0);
    aios_keyring_options o = kt_pass("pw");
    size_t len;
    uint8_t *orig = small_keyring(path, &len), *f;
    uint8_t unknown_field[] = { 0x78, 0x01 };        /* field 15, varint 1 */
    uint8_t dup_field[] = { 0x08, 0x01 };            /* unlock again */
    crafted c;
    size_t flen;

    craft_load(&c, orig, len);
    /* Argon2id parameters that would cost too much, or are malformed. */
    c.hdr->argon2id->opslimit = 65;
    tu_assert_status(open_crafted(&c, &o, NULL, 0), AIOS_E_KEYRING_CORRUPT);
    assert_non_null(strstr(aios_last_error_message(), "opslimit"));
    c.hdr->argon2id->opslimit = 0;
    tu_assert_status(open_crafted(&c, &o, NULL, 0), AIOS_E_KEYRING_CORRUPT);
    c.hdr->argon2id->opslimit = 1;
    c.hdr->argon2id->memlimit = ((uint64_t)1 << 40);
    tu_assert_status(open_crafted(&c, &o, NULL, 0), AIOS_E_KEYRING_CORRUPT);
    assert_non_null(strstr(aios_last_error_message(), "memlimit"));
    c.hdr->argon2id->memlimit = ((uint64_t)4 << 30) + 1;
    tu_assert_status(open_crafted(&c, &o, NULL, 0), AIOS_E_KEYRING_CORRUPT);
    c.hdr->argon2id->memlimit = 4096;
    tu_assert_status(open_crafted(&c, &o, NULL, 0), AIOS_E_KEYRING_CORRUPT);
    c.hdr->argon2id->memlimit = 8192;
    c.hdr->argon2id->salt.len = 15;
    tu_assert_status(open_crafted(&c, &o, NULL, 0), AIOS_E_KEYRING_CORRUPT);
    c.hdr->argon2id->salt.len = 16;
    /* Unlock methods: unknown, or fields that do not go with it. */
    c.hdr->unlock = 4;
    tu_assert_status(open_crafted(&c, &o, NULL, 0), AIOS_E_VERSION);
    c.hdr->unlock = AIOS_KEYRING_UNLOCK_RAW_KEY;
    tu_assert_status(open_crafted(&c, &o, NULL, 0), AIOS_E_KEYRING_CORRUPT);
    c.hdr->unlock = AIOS_KEYRING_UNLOCK_PKCS11;
    tu_assert_status(open_crafted(&c, &o, NULL, 0), AIOS_E_KEYRING_CORRUPT);
    c.hdr->unlock = AIOS_KEYRING_UNLOCK_PASSPHRASE;
    c.hdr->key_check.len = 31;
    tu_assert_status(open_crafted(&c, &o, NULL, 0), AIOS_E_KEYRING_CORRUPT);
    c.hdr->key_check.len = 32;
    c.hdr->wrapped_data_key.len = 47;
    tu_assert_status(open_crafted(&c, &o, NULL, 0), AIOS_E_KEYRING_CORRUPT);
    c.hdr->wrapped_data_key.len = 48;
    c.hdr->body_nonce.len = 12;
    tu_assert_status(open_crafted(&c, &o, NULL, 0), AIOS_E_KEYRING_CORRUPT);
    c.hdr->body_nonce.len = 24;
    /* A body length that disagrees with the file, or is over the limit. */
    c.hdr->body_len += 1;
    tu_assert_status(open_crafted(&c, &o, NULL, 0), AIOS_E_KEYRING_CORRUPT);
    c.hdr->body_len = (uint64_t)1 << 40;
    tu_assert_status(open_crafted(&c, &o, NULL, 0), AIOS_E_KEYRING_CORRUPT);
    c.hdr->body_len = len - (11 + c.hlen + 32) - 16;
    tu_assert_ok(open_crafted(&c, &o, NULL, 0));
    /* Not canonical: a field given twice. */
    tu_assert_status(open_crafted(&c, &o, dup_field, sizeof(dup_field)), AIOS_E_KEYRING_CORRUPT);
    assert_non_null(strstr(aios_last_error_message(), "canonical"));
    /* A field from a newer writer: readable (its AD binding then fails
     * here, since the body was sealed with the old header). */
    tu_assert_status(open_crafted(&c, &o, unknown_field, sizeof(unknown_field)),
                     AIOS_E_KEYRING_TAMPERED);
    {
        aios__kr_header h;
        f = craft_file(&c, &flen, unknown_field, sizeof(unknown_field));
        tu_assert_ok(aios__kr_header_parse(&h, f, flen, "x"));
        assert_int_equal(h.has_unknown, 1);
        free(f);
    }
    /* Framing: header lengths out of bounds, bad magic, a newer version. */
    f = malloc(len);
    assert_non_null(f);
    memcpy(f, orig, len);
    f[7] = f[8] = f[9] = f[10] = 0;
    kt_write(path, f, len);
    tu_assert_status(open_status(path, &o), AIOS_E_KEYRING_CORRUPT);
    f[9] = 0x10;
    f[10] = 0x01;                                    /* 4097 */
    kt_write(path, f, len);
    tu_assert_status(open_status(path, &o), AIOS_E_KEYRING_CORRUPT);
    memcpy(f, orig, len);
    f[6] = 2;
    kt_write(path, f, len);
    tu_assert_status(open_status(path, &o), AIOS_E_VERSION);
    assert_non_null(strstr(aios_last_error_message(), "version 2"));
    f[6] = 1;
    f[0] = 'B';
    kt_write(path, f, len);
    tu_assert_status(open_status(path, &o), AIOS_E_KEYRING_CORRUPT);
    assert_non_null(strstr(aios_last_error_message(), "not a keyring"));
    free(f);
    craft_free(&c);
    free(orig);
}

/* ---------------------------------------------------- crafted bodies */

typedef struct body {
    Aios__V1__Keyring          kr;
    Aios__V1__KeyringKey       key[2], *keys[2];
    Aios__V1__KeyringAttribute attr[2], *attrs[2];
    Aios__V1__KeyringVersion   ver[2], *vers[2];
    uint8_t                    mat[3][64];
    uint8_t                    pub[2][32];
} body;

/* Two valid keys: "a" (AES, v1 decrypt-only, v2 primary, attributes) and
 * "b" (Ed25519, one version). */
static void body_init(body *b)
{
    Aios__V1__Keyring kinit = AIOS__V1__KEYRING__INIT;
    Aios__V1__KeyringKey keyinit = AIOS__V1__KEYRING_KEY__INIT;
    Aios__V1__KeyringAttribute ainit = AIOS__V1__KEYRING_ATTRIBUTE__INIT;
    Aios__V1__KeyringVersion vinit = AIOS__V1__KEYRING_VERSION__INIT;
    uint8_t seed[32];

    memset(b, 0, sizeof(*b));
    b->kr = kinit;
    b->kr.generation = 7;
    b->kr.n_keys = 2;
    b->kr.keys = b->keys;
    for (int i = 0; i < 2; i++) {
        b->key[i] = keyinit;
        b->keys[i] = &b->key[i];
        b->attr[i] = ainit;
        b->attrs[i] = &b->attr[i];
        b->ver[i] = vinit;
        b->vers[i] = &b->ver[i];
    }
    b->attr[0].name = (char *)"region";
    b->attr[0].value = (char *)"eu";
    b->attr[1].name = (char *)"tenant";
    b->attr[1].value = (char *)"acme";
    seq(b->mat[0], 32, 1);
    seq(b->mat[1], 32, 2);
    b->key[0].id = (char *)"a";
    b->key[0].type = AIOS_KEY_AES256;
    b->key[0].purposes = AIOS_KEY_USE_WRAP;
    b->key[0].n_attributes = 2;
    b->key[0].attributes = b->attrs;
    b->key[0].primary_version = 2;
    b->key[0].min_decrypt_version = 1;
    b->key[0].n_versions = 2;
    b->key[0].versions = b->vers;
    for (int i = 0; i < 2; i++) {
        b->ver[i].version = (uint32_t)i + 1;
        b->ver[i].state = i == 0 ? AIOS_KEY_DECRYPT_ONLY : AIOS_KEY_ACTIVE;
        b->ver[i].created_at = 1700000000 + i;
        b->ver[i].material.data = b->mat[i];
        b->ver[i].material.len = 32;
    }
    /* b: an Ed25519 key with a real key pair, one version. */
    {
        static Aios__V1__KeyringVersion bv;
        static Aios__V1__KeyringVersion *bvp[1];
        bv = vinit;
        seq(seed, 32, 9);
        tu_assert_ok(aios__ed25519_seed_keypair(b->pub[0], b->mat[2], seed));
        bv.version = 1;
        bv.state = AIOS_KEY_ACTIVE;
        bv.material.data = b->mat[2];
        bv.material.len = 64;
        bv.public_key.data = b->pub[0];
        bv.public_key.len = 32;
        bv.uses = 12;
        bv.max_uses = 100;
        bvp[0] = &bv;
        b->key[1].id = (char *)"b";
        b->key[1].type = AIOS_KEY_ED25519;
        b->key[1].purposes = AIOS_KEY_USE_SIGN | AIOS_KEY_USE_VERIFY;
        b->key[1].primary_version = 1;
        b->key[1].min_decrypt_version = 1;
        b->key[1].n_versions = 1;
        b->key[1].versions = bvp;
    }
}

static uint8_t *body_pack(const body *b, size_t *len)
{
    uint8_t *p;
    *len = aios__v1__keyring__get_packed_size(&b->kr);
    p = malloc(*len ? *len : 1);
    assert_non_null(p);
    assert_int_equal(aios__v1__keyring__pack(&b->kr, p), *len);
    return p;
}

static int decode_status(const uint8_t *p, size_t len)
{
    aios__kr_model m;
    int rc = aios__kr_body_decode(&m, p, len, "crafted");
    if (rc == AIOS_OK)
        aios__kr_model_clear(&m);
    else
        assert_int_equal(m.nkeys, 0);
    return rc;
}

static int body_status(const body *b)
{
    size_t len;
    uint8_t *p = body_pack(b, &len);
    int rc = decode_status(p, len);
    free(p);
    return rc;
}

#define EXPECT_CORRUPT(b, what) do {                                            \
        int rc_ = body_status(b);                                               \
        if (rc_ != AIOS_E_KEYRING_CORRUPT)                                      \
            fail_msg("accepted (%s): %s", aios_status_name(rc_), what);         \
    } while (0)

static void test_body_valid_roundtrip(void **state)
{
    (void)state;
    body b;
    aios__kr_model m;
    aios_buffer *enc = NULL;
    uint8_t *p;
    size_t len;

    body_init(&b);
    p = body_pack(&b, &len);
    tu_assert_ok(aios__kr_body_decode(&m, p, len, "crafted"));
    assert_int_equal(m.generation, 7);
    assert_int_equal(m.nkeys, 2);
    assert_int_equal(m.total_versions, 3);
    assert_int_equal(m.has_unknown, 0);
    assert_int_equal(m.keys[1].versions[0].kv->uses, 12);
    assert_int_equal(m.keys[1].versions[0].kv->max_uses, 100);
    assert_int_equal(m.keys[0].versions[0].state, AIOS_KEY_DECRYPT_ONLY);
    assert_string_equal(m.keys[0].attrs[1].value, "acme");
    tu_assert_ok(aios__kr_body_encode(&enc, &m));
    assert_int_equal(aios_buffer_len(enc), len);
    assert_memory_equal(aios_buffer_data(enc), p, len);
    assert_int_equal(aios_buffer_flags(enc), AIOS_BUFFER_SECURE);
    aios_buffer_free(enc);
    aios__kr_model_clear(&m);
    free(p);
}

static void test_body_invalid(void **state)
{
    (void)state;
    body b;
    static uint8_t bad_utf8[] = "k\xc0\xaf";

#define CASE(mod, what) do { body_init(&b); mod; EXPECT_CORRUPT(&b, what); } while (0)
    CASE(b.kr.generation = 0, "generation 0");
    CASE((b.key[0].id = (char *)"c"), "keys out of order");
    CASE((b.key[1].id = (char *)"a"), "a key id twice");
    CASE((b.key[0].id = (char *)""), "an empty id");
    CASE((b.key[0].id = (char *)"a\tb"), "a control character in an id");
    CASE((b.key[0].id = (char *)bad_utf8), "an id that is not UTF-8");
    CASE(b.key[0].type = 9, "an unknown type");
    CASE(b.key[0].type = AIOS_KEY_RSA, "an RSA key (it lives only in a token)");
    CASE((b.key[0].type = AIOS_KEY_RSA, b.ver[0].material.len = 0, b.ver[1].material.len = 0),
         "an RSA key without material");
    CASE(b.key[0].type = 0, "type 0");
    CASE(b.key[0].purposes = 0, "no purposes");
    CASE(b.key[0].purposes = AIOS_KEY_USE_SIGN, "purposes the type cannot have");
    CASE((b.attr[1].name = (char *)"a"), "attributes out of order");
    CASE((b.attr[1].name = (char *)"region"), "an attribute twice");
    CASE((b.attr[0].name = (char *)""), "an empty attribute name");
    CASE(b.key[0].n_versions = 0, "no versions");
    CASE(b.ver[1].version = 1, "a version twice");
    CASE((b.ver[0].version = 3, b.key[0].primary_version = 3), "versions out of order");
    CASE((b.ver[0].version = 0), "version 0");
    CASE(b.ver[0].state = 0, "state 0");
    CASE(b.ver[0].state = 6, "state 6");
    CASE(b.ver[0].state = AIOS_KEY_DESTROYED, "a destroyed version with material");
    CASE(b.ver[0].material.len = 0, "a live version without material");
    CASE(b.ver[0].material.len = 31, "material of the wrong size");
    CASE((b.ver[0].public_key.data = b.pub[0], b.ver[0].public_key.len = 32),
         "a public key for a symmetric key");
    CASE(b.ver[0].created_at = -1, "a negative creation time");
    CASE(b.ver[0].not_after = -5, "a negative expiry");
    CASE(b.key[0].primary_version = 3, "a primary that does not exist");
    CASE(b.key[0].primary_version = 1, "a primary that is decrypt-only");
    CASE((b.key[0].primary_version = 0), "primary 0");
    CASE(b.key[0].min_decrypt_version = 0, "minimum 0");
    CASE(b.key[0].min_decrypt_version = 3, "a minimum above the primary");
    CASE(b.key[0].min_decrypt_version = 2, "a version below the minimum still decrypting");
    CASE(b.key[1].versions[0]->public_key.len = 31, "an Ed25519 public key of 31 bytes");
#undef CASE
    /* Below the minimum and disabled or destroyed: fine. */
    body_init(&b);
    b.key[0].min_decrypt_version = 2;
    b.ver[0].state = AIOS_KEY_DISABLED;
    tu_assert_ok(body_status(&b));
    b.ver[0].state = AIOS_KEY_DESTROYED;
    b.ver[0].material.len = 0;
    tu_assert_ok(body_status(&b));
}

static void test_body_not_canonical(void **state)
{
    (void)state;
    body b;
    uint8_t *p, *q;
    size_t len;

    body_init(&b);
    p = body_pack(&b, &len);
    assert_int_equal(p[0], 0x08);                /* generation = 7 */
    assert_int_equal(p[1], 0x07);
    q = malloc(len + 8);
    assert_non_null(q);
    /* The generation given twice. */
    memcpy(q, p, len);
    q[len] = 0x08;
    q[len + 1] = 0x07;
    tu_assert_status(decode_status(q, len + 2), AIOS_E_KEYRING_CORRUPT);
    /* A non-minimal varint. */
    q[0] = 0x08;
    q[1] = 0x87;
    q[2] = 0x00;
    memcpy(q + 3, p + 2, len - 2);
    tu_assert_status(decode_status(q, len + 1), AIOS_E_KEYRING_CORRUPT);
    /* Fields out of order: the generation last. */
    memcpy(q, p + 2, len - 2);
    q[len - 2] = 0x08;
    q[len - 1] = 0x07;
    tu_assert_status(decode_status(q, len), AIOS_E_KEYRING_CORRUPT);
    /* Truncated anywhere: refused, or (cut between two keys) a smaller
     * valid keyring; the file's authentication is what notices those. */
    for (size_t n = 0; n < len; n++) {
        int rc = decode_status(p, n);
        if (rc != AIOS_E_KEYRING_CORRUPT && rc != AIOS_OK)
            fail_msg("truncated to %zu: %s", n, aios_status_name(rc));
    }
    free(p);
    free(q);

    /* A NUL inside the id: protobuf-c would read a shorter string.  Key
     * "a" made small enough for a one-byte length. */
    body_init(&b);
    b.key[0].n_attributes = 0;
    b.key[0].n_versions = 1;
    b.key[0].primary_version = 1;
    b.ver[0].state = AIOS_KEY_ACTIVE;
    tu_assert_ok(body_status(&b));
    p = body_pack(&b, &len);
    {
        /* Find "\x0a\x01a" (field 1, length 1, "a") and make it "a\0". */
        uint8_t *hit = memmem(p, len, "\x0a\x01" "a", 3);
        assert_non_null(hit);
        q = malloc(len + 1);
        assert_non_null(q);
        memcpy(q, p, (size_t)(hit - p));
        memcpy(q + (hit - p), "\x0a\x02" "a\0", 4);
        memcpy(q + (hit - p) + 4, hit + 3, len - (size_t)(hit - p) - 3);
        /* The enclosing key message grew by one byte: fix its length. */
        assert_int_equal(q[2], 0x12);
        assert_true(q[3] < 0x7f);
        q[3] = (uint8_t)(q[3] + 1);
        tu_assert_status(decode_status(q, len + 1), AIOS_E_KEYRING_CORRUPT);
        free(q);
    }
    /* exportable = 2 is a bool protobuf-c reads as true. */
    {
        body c;
        body_init(&c);
        c.key[1].exportable = 1;
        free(p);
        p = body_pack(&c, &len);
        q = memmem(p, len, "\x0a\x01" "b", 3);
        assert_non_null(q);
        q = memmem(q, len - (size_t)(q - p), "\x20\x01", 2);
        assert_non_null(q);
        q[1] = 2;
        tu_assert_status(decode_status(p, len), AIOS_E_KEYRING_CORRUPT);
    }
    free(p);
}

static void test_body_limits(void **state)
{
    (void)state;
    size_t n = 10001 * 2, fields = ((size_t)1 << 21) + 1;
    uint8_t *p = malloc(fields * 2 + 16);
    aios__kr_model m;

    assert_non_null(p);
    /* 10001 empty keys: refused by the count, before protobuf-c allocates. */
    for (size_t i = 0; i < n; i += 2) {
        p[i] = 0x12;
        p[i + 1] = 0x00;
    }
    tu_assert_status(aios__kr_body_decode(&m, p, n, "x"), AIOS_E_KEYRING_CORRUPT);
    assert_non_null(strstr(aios_last_error_message(), "10000 keys"));
    /* One key with 65 attributes, one with 10001 versions. */
    p[0] = 0x12;
    p[1] = 0x82;
    p[2] = 0x01;                                     /* 130 bytes */
    for (size_t i = 0; i < 65; i++) {
        p[3 + 2 * i] = 0x2a;
        p[4 + 2 * i] = 0x00;
    }
    tu_assert_status(aios__kr_body_decode(&m, p, 133, "x"), AIOS_E_KEYRING_CORRUPT);
    assert_non_null(strstr(aios_last_error_message(), "attributes"));
    p[0] = 0x12;
    p[1] = 0xa2;
    p[2] = 0x9c;
    p[3] = 0x01;                                     /* 20002 bytes */
    for (size_t i = 0; i < 10001; i++) {
        p[4 + 2 * i] = 0x42;
        p[5 + 2 * i] = 0x00;
    }
    tu_assert_status(aios__kr_body_decode(&m, p, 4 + 20002, "x"), AIOS_E_KEYRING_CORRUPT);
    assert_non_null(strstr(aios_last_error_message(), "versions"));
    /* Two million little fields. */
    for (size_t i = 0; i < fields; i++) {
        p[2 * i] = 0x08;
        p[2 * i + 1] = 0x01;
    }
    tu_assert_status(aios__kr_body_decode(&m, p, fields * 2, "x"), AIOS_E_KEYRING_CORRUPT);
    assert_non_null(strstr(aios_last_error_message(), "fields"));
    /* A body over the size limit. */
    tu_assert_status(aios__kr_body_decode(&m, p, AIOS__KR_BODY_MAX + 1, "x"),
                     AIOS_E_KEYRING_CORRUPT);
    free(p);
}

/* A body with a field this version does not know: read, not rewritten. */
static void test_newer_writer(void **state)
{
    (void)state;
    const char *path = kt_path(tmpdir, "k.aioskr", 0);
    aios_keyring_options o = kt_raw();
    aios_keyring *kr = NULL;
    aios__kr_header h;
    aios__aead_key *dk = NULL;
    aios_buffer *pt, *file = NULL;
    uint8_t *orig, *withx;
    size_t len, plen;
    aios_key *k = NULL;

    tu_assert_ok(aios_keyring_create(&kr, path, &o));
    tu_assert_ok(aios_keyring_add(kr, NULL, "k", AIOS_KEY_AES256, NULL));
    aios_keyring_free(kr);
    kr = NULL;
    orig = kt_read(path, &len);
    pt = body_of(orig, len, &o);
    tu_assert_ok(aios__kr_header_parse(&h, orig, len, path));
    tu_assert_ok(aios__kr_unlock_open(&dk, &h, &o, path));
    plen = aios_buffer_len(pt);
    withx = malloc(plen + 2);
    assert_non_null(withx);
    memcpy(withx, aios_buffer_data(pt), plen);
    withx[plen] = 0x78;                               /* field 15 */
    withx[plen + 1] = 0x05;
    tu_assert_ok(aios__kr_file_seal(&file, &h, dk, withx, plen + 2));
    kt_write(path, aios_buffer_data(file), aios_buffer_len(file));
    tu_assert_ok(aios_keyring_open(&kr, path, &o));
    tu_assert_ok(aios_keyring_get(kr, &k, "k", 0));
    aios_key_unref(k);
    tu_assert_status(aios_keyring_rotate(kr, NULL, "k"), AIOS_E_VERSION);
    assert_non_null(strstr(aios_last_error_message(), "newer"));
    tu_assert_status(aios_keyring_add(kr, NULL, "n", AIOS_KEY_AES256, NULL), AIOS_E_VERSION);
    aios_keyring_free(kr);
    kr = NULL;

    /* A body that authenticates but does not validate: corrupt, not tampered. */
    withx[plen] = 0x08;
    withx[plen + 1] = 0x09;                           /* generation again */
    aios_buffer_free(file);
    tu_assert_ok(aios__kr_file_seal(&file, &h, dk, withx, plen + 2));
    kt_write(path, aios_buffer_data(file), aios_buffer_len(file));
    tu_assert_status(aios_keyring_open(&kr, path, &o), AIOS_E_KEYRING_CORRUPT);
    aios_buffer_free(file);
    aios_buffer_free(pt);
    aios__aead_key_free(dk);
    free(withx);
    free(orig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_vector_decodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vector_reproduced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flip_every_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate_every_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_secret_vs_changed_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_headers, setup, teardown),
        cmocka_unit_test(test_body_valid_roundtrip),
        cmocka_unit_test(test_body_invalid),
        cmocka_unit_test(test_body_not_canonical),
        cmocka_unit_test(test_body_limits),
        cmocka_unit_test_setup_teardown(test_newer_writer, setup, teardown),
    };
    if (aios_init() != AIOS_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
