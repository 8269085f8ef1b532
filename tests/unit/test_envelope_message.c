/*
 * The public envelope API for messages (include/aios/envelope.h):
 * one-shot seal/open, peek, header_len, expected context, recipients of
 * both kinds and several providers, commitment, every single-bit flip and
 * every truncation of small messages, suites, limits and options.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_keyring_util.h"
#include "aios/envelope.h"
#include "core/internal.h"
#include "crypto/crypto.h"

typedef struct fx {
    char               *dir;
    aios_keyring       *kr;
    aios_key           *kek;       /* local/wrap-key/1 */
    aios_key           *other;     /* local/other-key/1 */
    aios_key           *xpriv;     /* local/x-key/1 (X25519) */
    aios_key           *xpub;      /* public twin of xpriv */
    aios_envelope_keys *keys;      /* kek only */
    aios_envelope_keys *prov;      /* the keyring's provider */
    aios_envelope_keys *xkeys;     /* xpriv only */
} fx;

static const aios_envelope_context_entry CTX[2] = {
    { "tenant", "acme" }, { "region", "eu-west-1" }
};

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    aios_keyring_options o = kt_raw();
    aios_key_spec spec;
    aios_buffer *pem = NULL;
    assert_non_null(f);
    f->dir = kt_tmpdir();
    tu_assert_ok(aios_keyring_create(&f->kr, kt_path(f->dir, "keys.aioskr", 0), &o));
    tu_assert_ok(aios_keyring_add(f->kr, &f->kek, "wrap-key", AIOS_KEY_AES256, NULL));
    tu_assert_ok(aios_keyring_add(f->kr, &f->other, "other-key", AIOS_KEY_AES256, NULL));
    tu_assert_ok(aios_key_spec_init(&spec, AIOS_KEY_SPEC_VERSION));
    tu_assert_ok(aios_keyring_add(f->kr, &f->xpriv, "x-key", AIOS_KEY_X25519, NULL));
    tu_assert_ok(aios_key_public_pem(f->xpriv, &pem));
    tu_assert_ok(aios_key_from_public_pem(&f->xpub, "x-key", (const char *)aios_buffer_data(pem),
                                          aios_buffer_len(pem)));
    aios_buffer_free(pem);
    tu_assert_ok(aios_envelope_keys_new(&f->keys));
    tu_assert_ok(aios_envelope_keys_add_key(f->keys, f->kek));
    tu_assert_ok(aios_envelope_keys_new(&f->prov));
    tu_assert_ok(aios_envelope_keys_add_provider(f->prov, aios_keyring_provider(f->kr)));
    tu_assert_ok(aios_envelope_keys_new(&f->xkeys));
    tu_assert_ok(aios_envelope_keys_add_key(f->xkeys, f->xpriv));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    aios_envelope_keys_free(f->keys);
    aios_envelope_keys_free(f->prov);
    aios_envelope_keys_free(f->xkeys);
    aios_key_unref(f->kek);
    aios_key_unref(f->other);
    aios_key_unref(f->xpriv);
    aios_key_unref(f->xpub);
    aios_keyring_free(f->kr);
    kt_rmtree(f->dir);
    free(f);
    return 0;
}

static uint8_t *pattern(size_t n, unsigned seed)
{
    uint8_t *p = malloc(n ? n : 1);
    size_t i;
    assert_non_null(p);
    for (i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 31u + seed + (i >> 8));
    return p;
}

static aios_buffer *seal_with(fx *f, aios_key *const *r, size_t nr, const uint8_t *pt, size_t n,
                              aios_envelope_suite suite, uint32_t cs)
{
    aios_envelope_seal_options so = AIOS_ENVELOPE_SEAL_OPTIONS_INIT;
    aios_buffer *m = NULL;
    (void)f;
    so.suite = suite;
    so.chunk_size = cs;
    tu_assert_ok(aios_envelope_seal(&m, r, nr, CTX, 2, pt, n, &so));
    return m;
}

/* ------------------------------------------------------------ round trips */

static void test_round_trip_sizes(void **state)
{
    fx *f = *state;
    static const size_t sizes[] = { 0, 1, 4095, 4096, 4097, 3 * 4096 + 5, 100000 };
    static const aios_envelope_suite suites[] = { AIOS_ENVELOPE_SUITE_AUTO,
                                                  AIOS_ENVELOPE_SUITE_PORTABLE };
    size_t i, s;
    for (s = 0; s < 2; s++) {
        for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            uint8_t *pt = pattern(sizes[i], (unsigned)i);
            aios_buffer *m = seal_with(f, &f->kek, 1, pt, sizes[i], suites[s], 4096);
            aios_buffer *out = NULL;
            tu_assert_ok(aios_envelope_open(&out, f->keys, aios_buffer_data(m), aios_buffer_len(m),
                                            NULL));
            assert_int_equal(aios_buffer_len(out), sizes[i]);
            if (sizes[i])
                assert_memory_equal(aios_buffer_data(out), pt, sizes[i]);
            aios_buffer_free(out);
            /* the provider resolves the key reference too */
            tu_assert_ok(aios_envelope_open(&out, f->prov, aios_buffer_data(m), aios_buffer_len(m),
                                            NULL));
            assert_int_equal(aios_buffer_len(out), sizes[i]);
            aios_buffer_free(out);
            aios_buffer_free(m);
            free(pt);
        }
    }
}

static void test_threads(void **state)
{
    fx *f = *state;
    size_t n = 1000003;
    uint8_t *pt = pattern(n, 7);
    aios_envelope_seal_options so = AIOS_ENVELOPE_SEAL_OPTIONS_INIT;
    aios_envelope_open_options oo = AIOS_ENVELOPE_OPEN_OPTIONS_INIT;
    aios_buffer *m1 = NULL, *out = NULL;
    so.chunk_size = 4096;
    so.threads = 3;
    oo.threads = 2;
    tu_assert_ok(aios_envelope_seal(&m1, &f->kek, 1, NULL, 0, pt, n, &so));
    tu_assert_ok(aios_envelope_open(&out, f->keys, aios_buffer_data(m1), aios_buffer_len(m1), &oo));
    assert_int_equal(aios_buffer_len(out), n);
    assert_memory_equal(aios_buffer_data(out), pt, n);
    aios_buffer_free(out);
    /* a bad chunk in the middle is found on a worker and reported here */
    aios_buffer_data_mut(m1)[aios_buffer_len(m1) / 2] ^= 1;
    tu_assert_status(aios_envelope_open(&out, f->keys, aios_buffer_data(m1), aios_buffer_len(m1), &oo),
                     AIOS_E_AUTH);
    assert_null(out);
    assert_non_null(strstr(aios_last_error_message(), "chunk"));
    aios_buffer_free(m1);
    free(pt);
}

static void test_x25519_and_mixed(void **state)
{
    fx *f = *state;
    aios_key *r[3] = { f->xpub, f->kek, f->other };
    uint8_t *pt = pattern(5000, 3);
    aios_buffer *m = seal_with(f, r, 3, pt, 5000, AIOS_ENVELOPE_SUITE_AUTO, 0);
    aios_buffer *out = NULL, *info = NULL;
    aios_envelope_keys *ok = NULL;

    tu_assert_ok(aios_envelope_open(&out, f->xkeys, aios_buffer_data(m), aios_buffer_len(m), NULL));
    assert_memory_equal(aios_buffer_data(out), pt, 5000);
    aios_buffer_free(out);
    tu_assert_ok(aios_envelope_open(&out, f->keys, aios_buffer_data(m), aios_buffer_len(m), NULL));
    aios_buffer_free(out);
    tu_assert_ok(aios_envelope_keys_new(&ok));
    tu_assert_ok(aios_envelope_keys_add_key(ok, f->other));
    tu_assert_ok(aios_envelope_open(&out, ok, aios_buffer_data(m), aios_buffer_len(m), NULL));
    aios_buffer_free(out);
    aios_envelope_keys_free(ok);
    /* a public key cannot open */
    tu_assert_ok(aios_envelope_keys_new(&ok));
    tu_assert_ok(aios_envelope_keys_add_key(ok, f->xpub));
    tu_assert_status(aios_envelope_open(&out, ok, aios_buffer_data(m), aios_buffer_len(m), NULL),
                     AIOS_E_ENVELOPE_NO_RECIPIENT);
    aios_envelope_keys_free(ok);

    tu_assert_ok(aios_envelope_peek(&info, aios_buffer_data(m), aios_buffer_len(m)));
    assert_non_null(strstr((const char *)aios_buffer_data(info), "\"kind\":\"x25519\""));
    assert_non_null(strstr((const char *)aios_buffer_data(info),
                           "\"key_id\":\"wrap-key\",\"version\":1"));
    assert_non_null(strstr((const char *)aios_buffer_data(info),
                           "\"context\":{\"region\":\"eu-west-1\",\"tenant\":\"acme\"}"));
    assert_non_null(strstr((const char *)aios_buffer_data(info), "\"authenticated\":false"));
    aios_buffer_free(info);
    aios_buffer_free(m);
    free(pt);
}

/* ------------------------------------------------------------ failures */

static void test_wrong_key_and_context(void **state)
{
    fx *f = *state;
    uint8_t pt[100];
    aios_buffer *m, *out = NULL;
    aios_envelope_keys *ok = NULL;
    aios_envelope_open_options oo = AIOS_ENVELOPE_OPEN_OPTIONS_INIT;
    aios_envelope_context_entry want[2] = { { "tenant", "acme" }, { "region", "us-east-1" } };

    memset(pt, 0x5a, sizeof(pt));
    m = seal_with(f, &f->kek, 1, pt, sizeof(pt), AIOS_ENVELOPE_SUITE_AUTO, 0);
    tu_assert_ok(aios_envelope_keys_new(&ok));
    tu_assert_ok(aios_envelope_keys_add_key(ok, f->other));
    tu_assert_status(aios_envelope_open(&out, ok, aios_buffer_data(m), aios_buffer_len(m), NULL),
                     AIOS_E_ENVELOPE_NO_RECIPIENT);
    aios_envelope_keys_free(ok);

    oo.expected_context = want;
    oo.expected_context_count = 2;
    oo.context_mode = AIOS_ENVELOPE_CONTEXT_EXACT;
    tu_assert_status(aios_envelope_open(&out, f->keys, aios_buffer_data(m), aios_buffer_len(m), &oo),
                     AIOS_E_ENVELOPE_CONTEXT_MISMATCH);
    assert_non_null(strstr(aios_last_error_message(), "region"));
    oo.expected_context_count = 1;
    tu_assert_status(aios_envelope_open(&out, f->keys, aios_buffer_data(m), aios_buffer_len(m), &oo),
                     AIOS_E_ENVELOPE_CONTEXT_MISMATCH);   /* exact: region is extra */
    oo.context_mode = AIOS_ENVELOPE_CONTEXT_SUBSET;
    tu_assert_ok(aios_envelope_open(&out, f->keys, aios_buffer_data(m), aios_buffer_len(m), &oo));
    aios_buffer_free(out);
    /* an expected context without a mode is a caller error */
    oo.context_mode = AIOS_ENVELOPE_CONTEXT_ANY;
    tu_assert_status(aios_envelope_open(&out, f->keys, aios_buffer_data(m), aios_buffer_len(m), &oo),
                     AIOS_E_INVALID_ARGUMENT);
    /* a destroyed KEK version: the key's status passes through */
    tu_assert_ok(aios_keyring_rotate(f->kr, NULL, "wrap-key"));
    tu_assert_ok(aios_keyring_destroy(f->kr, "wrap-key", 1));
    tu_assert_status(aios_envelope_open(&out, f->prov, aios_buffer_data(m), aios_buffer_len(m), NULL),
                     AIOS_E_KEY_DESTROYED);
    aios_buffer_free(m);
}

static void test_every_bit_flip_and_cut(void **state)
{
    fx *f = *state;
    aios_key *r[2] = { f->kek, f->xpub };
    uint8_t *pt = pattern(4096 + 17, 9);
    aios_buffer *m = seal_with(f, r, 2, pt, 4096 + 17, AIOS_ENVELOPE_SUITE_AUTO, 4096);
    uint8_t *b = malloc(aios_buffer_len(m));
    size_t len = aios_buffer_len(m), i;
    int bit, step = tu_under_valgrind() ? 13 : 1;

    assert_non_null(b);
    for (i = 0; i < len; i += (size_t)step) {
        for (bit = 0; bit < 8; bit++) {
            aios_buffer *out = NULL;
            int rc;
            memcpy(b, aios_buffer_data(m), len);
            b[i] ^= (uint8_t)(1u << bit);
            rc = aios_envelope_open(&out, f->keys, b, len, NULL);
            if (rc == AIOS_OK)
                fail_msg("a flip of bit %d of byte %zu opened", bit, i);
            assert_null(out);
            rc = aios_envelope_open(&out, f->xkeys, b, len, NULL);
            if (rc == AIOS_OK)
                fail_msg("a flip of bit %d of byte %zu opened (x25519)", bit, i);
        }
    }
    for (i = 0; i < len; i += (size_t)step) {
        aios_buffer *out = NULL;
        int rc = aios_envelope_open(&out, f->keys, aios_buffer_data(m), i, NULL);
        if (rc == AIOS_OK)
            fail_msg("a cut at %zu of %zu opened", i, len);
    }
    /* a byte appended */
    {
        uint8_t *longer = malloc(len + 1);
        aios_buffer *out = NULL;
        memcpy(longer, aios_buffer_data(m), len);
        longer[len] = 0;
        tu_assert_status(aios_envelope_open(&out, f->keys, longer, len + 1, NULL), AIOS_E_AUTH);
        free(longer);
    }
    free(b);
    free(pt);
    aios_buffer_free(m);
}

static void test_statuses_of_regions(void **state)
{
    fx *f = *state;
    uint8_t pt[3 * 4096];
    aios_buffer *m, *out = NULL;
    uint8_t *b;
    size_t len, hlen = 0;

    memset(pt, 7, sizeof(pt));
    m = seal_with(f, &f->kek, 1, pt, sizeof(pt), AIOS_ENVELOPE_SUITE_AUTO, 4096);
    len = aios_buffer_len(m);
    b = malloc(len);
    tu_assert_ok(aios_envelope_header_len(&hlen, aios_buffer_data(m), len));
    /* header_len asks for more bytes step by step */
    {
        size_t need = 0;
        tu_assert_status(aios_envelope_header_len(&need, aios_buffer_data(m), 5), AIOS_E_BUFFER_TOO_SMALL);
        assert_int_equal(need, 14);
        tu_assert_status(aios_envelope_header_len(&need, aios_buffer_data(m), 14), AIOS_E_BUFFER_TOO_SMALL);
        assert_true(need > 14 && need < hlen);
        tu_assert_ok(aios_envelope_header_len(&need, aios_buffer_data(m), need));
        assert_int_equal(need, hlen);
    }
#define FLIP(off, status)                                                                  \
    do {                                                                                   \
        memcpy(b, aios_buffer_data(m), len);                                               \
        b[(off)] ^= 1;                                                                     \
        tu_assert_status(aios_envelope_open(&out, f->keys, b, len, NULL), (status));       \
    } while (0)
    FLIP(0, AIOS_E_FORMAT);                 /* magic */
    FLIP(4, AIOS_E_VERSION);                /* version */
    FLIP(9, AIOS_E_FORMAT);                 /* DETERMINISTIC on a message */
    memcpy(b, aios_buffer_data(m), len);
    b[9] ^= 2;                              /* a reserved flag */
    tu_assert_status(aios_envelope_open(&out, f->keys, b, len, NULL), AIOS_E_VERSION);
    FLIP(hlen - 64, AIOS_E_ENVELOPE_COMMITMENT);   /* C */
    FLIP(hlen - 1, AIOS_E_AUTH);                  /* T */
    FLIP(hlen + 5, AIOS_E_AUTH);                  /* chunk 0 */
    /* the final chunk dropped, at a chunk boundary */
    tu_assert_status(aios_envelope_open(&out, f->keys, aios_buffer_data(m), len - (4096 + 16), NULL),
                     AIOS_E_ENVELOPE_TRUNCATED);
    /* two chunks swapped */
    memcpy(b, aios_buffer_data(m), len);
    memcpy(b + hlen, aios_buffer_data(m) + hlen + 4112, 4112);
    memcpy(b + hlen + 4112, aios_buffer_data(m) + hlen, 4112);
    tu_assert_status(aios_envelope_open(&out, f->keys, b, len, NULL), AIOS_E_AUTH);
#undef FLIP
    free(b);
    aios_buffer_free(m);
}

/* aios_envelope_open_into: caller memory, 32-bit lengths. */
static void test_open_into(void **state)
{
    fx *f = *state;
    static const size_t sizes[] = { 0, 1, 64, 4095, 4096 + 17, 5 * 4096 + 5 };
    aios_envelope_open_options oo = AIOS_ENVELOPE_OPEN_OPTIONS_INIT;
    aios_envelope_context_entry want[1] = { { "tenant", "acme" } };
    size_t i;

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i], len, k;
        uint8_t *pt = pattern(n, (unsigned)i + 3);
        aios_buffer *m = seal_with(f, &f->kek, 1, pt, n, AIOS_ENVELOPE_SUITE_AUTO, 4096);
        uint8_t *out, *b;
        uint32_t got = 7;

        len = aios_buffer_len(m);
        out = malloc(len + 1);
        b = malloc(len);
        assert_non_null(out);
        assert_non_null(b);
        /* room for the message, the exact length, two threads */
        memset(out, 0xaa, len + 1);
        tu_assert_ok(aios_envelope_open_into(f->keys, out, (uint32_t)len, &got,
                                             aios_buffer_data(m), (uint32_t)len, NULL));
        assert_int_equal(got, n);
        if (n)
            assert_memory_equal(out, pt, n);
        assert_int_equal(out[n], 0xaa);          /* nothing past the plaintext */
        memset(out, 0, len);
        oo.threads = 2;
        tu_assert_ok(aios_envelope_open_into(f->prov, n ? out : NULL, (uint32_t)n, &got,
                                             aios_buffer_data(m), (uint32_t)len, &oo));
        assert_int_equal(got, n);
        if (n)
            assert_memory_equal(out, pt, n);
        oo.threads = 0;
        /* one byte short: the length, nothing written */
        if (n) {
            memset(out, 0xaa, len);
            got = 0;
            tu_assert_status(aios_envelope_open_into(f->keys, out, (uint32_t)(n - 1), &got,
                                                     aios_buffer_data(m), (uint32_t)len, NULL),
                             AIOS_E_BUFFER_TOO_SMALL);
            assert_int_equal(got, n);
            for (k = 0; k < len; k++)
                assert_int_equal(out[k], 0xaa);
            /* no memory at all: a length query */
            got = 0;
            tu_assert_status(aios_envelope_open_into(f->keys, NULL, 0, &got, aios_buffer_data(m),
                                                     (uint32_t)len, NULL),
                             AIOS_E_BUFFER_TOO_SMALL);
            assert_int_equal(got, n);
        }
        /* the last byte (last chunk's tag) flipped: every chunk before it
         * was decrypted into out, and all of it is wiped */
        memcpy(b, aios_buffer_data(m), len);
        b[len - 1] ^= 1;
        memset(out, 0xaa, len);
        got = 9;
        tu_assert_status(aios_envelope_open_into(f->keys, out, (uint32_t)len, &got, b,
                                                 (uint32_t)len, NULL),
                         AIOS_E_AUTH);
        assert_int_equal(got, 0);
        for (k = 0; k < n; k++)
            if (out[k] != 0)
                fail_msg("byte %zu of %zu left after a failed open", k, n);
        /* a cut message, a context mismatch */
        got = 9;
        assert_true(aios_envelope_open_into(f->keys, out, (uint32_t)len, &got,
                                            aios_buffer_data(m), (uint32_t)len - 1, NULL) < 0);
        assert_int_equal(got, 0);
        oo.expected_context = want;
        oo.expected_context_count = 1;
        oo.context_mode = AIOS_ENVELOPE_CONTEXT_EXACT;
        tu_assert_status(aios_envelope_open_into(f->keys, out, (uint32_t)len, &got,
                                                 aios_buffer_data(m), (uint32_t)len, &oo),
                         AIOS_E_ENVELOPE_CONTEXT_MISMATCH);
        oo.context_mode = AIOS_ENVELOPE_CONTEXT_SUBSET;
        tu_assert_ok(aios_envelope_open_into(f->keys, out, (uint32_t)len, &got,
                                             aios_buffer_data(m), (uint32_t)len, &oo));
        assert_int_equal(got, n);
        oo = (aios_envelope_open_options)AIOS_ENVELOPE_OPEN_OPTIONS_INIT;
        free(b);
        free(out);
        aios_buffer_free(m);
        free(pt);
    }
    /* arguments */
    {
        uint8_t pt[3] = { 1, 2, 3 }, out[400];
        aios_buffer *m = seal_with(f, &f->kek, 1, pt, 3, AIOS_ENVELOPE_SUITE_AUTO, 0);
        uint32_t got = 5, len = (uint32_t)aios_buffer_len(m);
        tu_assert_status(aios_envelope_open_into(f->keys, out, sizeof(out), NULL,
                                                 aios_buffer_data(m), len, NULL),
                         AIOS_E_INVALID_ARGUMENT);
        tu_assert_status(aios_envelope_open_into(NULL, out, sizeof(out), &got,
                                                 aios_buffer_data(m), len, NULL),
                         AIOS_E_INVALID_ARGUMENT);
        assert_int_equal(got, 0);
        tu_assert_status(aios_envelope_open_into(f->keys, NULL, 10, &got, aios_buffer_data(m),
                                                 len, NULL),
                         AIOS_E_INVALID_ARGUMENT);
        tu_assert_status(aios_envelope_open_into(f->keys, out, sizeof(out), &got, NULL, 10, NULL),
                         AIOS_E_INVALID_ARGUMENT);
        tu_assert_status(aios_envelope_open_into(f->keys, out, sizeof(out), &got, out, 0, NULL),
                         AIOS_E_FORMAT);
        tu_assert_ok(aios_envelope_open_into(f->keys, out, sizeof(out), &got,
                                             aios_buffer_data(m), len, NULL));
        assert_int_equal(got, 3);
        assert_memory_equal(out, pt, 3);
        aios_buffer_free(m);
    }
}

/* aios_envelope_seal_into: caller memory, the length asked first. */
static void test_seal_into(void **state)
{
    fx *f = *state;
    static const size_t sizes[] = { 0, 1, 64, 4095, 4096 + 17, 5 * 4096 + 5 };
    aios_envelope_seal_options so = AIOS_ENVELOPE_SEAL_OPTIONS_INIT;
    aios_key *two[2] = { f->kek, f->xpub };
    size_t i;

    so.chunk_size = 4096;
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i], k;
        uint8_t *pt = pattern(n, (unsigned)i + 11), *out;
        uint32_t need = 0, got = 0;
        aios_buffer *back = NULL;

        /* no memory: the length */
        tu_assert_status(aios_envelope_seal_into(NULL, 0, &need, &f->kek, 1, CTX, 2, pt,
                                                 (uint32_t)n, &so),
                         AIOS_E_BUFFER_TOO_SMALL);
        assert_true(need > n);
        out = malloc(need + 16);
        assert_non_null(out);
        /* one byte short: nothing written */
        memset(out, 0xaa, need + 16);
        tu_assert_status(aios_envelope_seal_into(out, need - 1, &got, &f->kek, 1, CTX, 2, pt,
                                                 (uint32_t)n, &so),
                         AIOS_E_BUFFER_TOO_SMALL);
        assert_int_equal(got, need);
        for (k = 0; k < need + 16; k++)
            assert_int_equal(out[k], 0xaa);
        /* exactly, and with room to spare: the same length, opens */
        tu_assert_ok(aios_envelope_seal_into(out, need, &got, &f->kek, 1, CTX, 2, pt,
                                             (uint32_t)n, &so));
        assert_int_equal(got, need);
        tu_assert_ok(aios_envelope_open(&back, f->keys, out, got, NULL));
        assert_int_equal(aios_buffer_len(back), n);
        if (n)
            assert_memory_equal(aios_buffer_data(back), pt, n);
        aios_buffer_free(back);
        tu_assert_ok(aios_envelope_seal_into(out, need + 16, &got, &f->kek, 1, CTX, 2, pt,
                                             (uint32_t)n, &so));
        assert_int_equal(got, need);
        for (k = need; k < need + 16; k++)
            assert_int_equal(out[k], 0xaa);
        tu_assert_ok(aios_envelope_open(&back, f->prov, out, got, NULL));
        aios_buffer_free(back);
        free(out);
        /* two recipients of both kinds, two threads */
        so.threads = 2;
        tu_assert_status(aios_envelope_seal_into(NULL, 0, &need, two, 2, NULL, 0, pt,
                                                 (uint32_t)n, &so),
                         AIOS_E_BUFFER_TOO_SMALL);
        out = malloc(need);
        assert_non_null(out);
        tu_assert_ok(aios_envelope_seal_into(out, need, &got, two, 2, NULL, 0, pt, (uint32_t)n,
                                             &so));
        tu_assert_ok(aios_envelope_open(&back, f->xkeys, out, got, NULL));
        assert_int_equal(aios_buffer_len(back), n);
        aios_buffer_free(back);
        so.threads = 0;
        free(out);
        free(pt);
    }
    /* arguments and the seal statuses */
    {
        uint8_t out[1024], pt[4] = { 1, 2, 3, 4 };
        uint32_t got = 9;
        aios_envelope_context_entry bad[1] = { { "aios.x", "1" } };
        tu_assert_status(aios_envelope_seal_into(out, sizeof(out), NULL, &f->kek, 1, NULL, 0, pt,
                                                 4, NULL),
                         AIOS_E_INVALID_ARGUMENT);
        tu_assert_status(aios_envelope_seal_into(NULL, 10, &got, &f->kek, 1, NULL, 0, pt, 4,
                                                 NULL),
                         AIOS_E_INVALID_ARGUMENT);
        assert_int_equal(got, 0);
        tu_assert_status(aios_envelope_seal_into(out, sizeof(out), &got, &f->kek, 1, NULL, 0,
                                                 NULL, 4, NULL),
                         AIOS_E_INVALID_ARGUMENT);
        tu_assert_status(aios_envelope_seal_into(out, sizeof(out), &got, NULL, 0, NULL, 0, pt, 4,
                                                 NULL),
                         AIOS_E_INVALID_ARGUMENT);
        tu_assert_status(aios_envelope_seal_into(out, sizeof(out), &got, &f->kek, 1, bad, 1, pt,
                                                 4, NULL),
                         AIOS_E_INVALID_ARGUMENT);
        assert_int_equal(got, 0);
    }
}

static void test_arguments(void **state)
{
    fx *f = *state;
    aios_buffer *m = NULL;
    aios_envelope_seal_options so = AIOS_ENVELOPE_SEAL_OPTIONS_INIT;
    aios_envelope_context_entry bad[2] = { { "aios.x", "1" }, { "a", "b" } };
    aios_envelope_context_entry dup[2] = { { "a", "1" }, { "a", "2" } };
    aios_key *twice[2] = { f->kek, f->kek };
    uint8_t pt[4] = { 1, 2, 3, 4 };

    tu_assert_status(aios_envelope_seal(&m, NULL, 0, NULL, 0, pt, 4, NULL), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_envelope_seal(&m, &f->kek, 1, bad, 2, pt, 4, NULL), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_envelope_seal(&m, &f->kek, 1, dup, 2, pt, 4, NULL), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_envelope_seal(&m, twice, 2, NULL, 0, pt, 4, NULL), AIOS_E_INVALID_ARGUMENT);
    so.chunk_size = 100;
    tu_assert_status(aios_envelope_seal(&m, &f->kek, 1, NULL, 0, pt, 4, &so), AIOS_E_INVALID_ARGUMENT);
    so.chunk_size = 0;
    so.suite = AIOS_ENVELOPE_SUITE_AES256SIV;
    tu_assert_status(aios_envelope_seal(&m, &f->kek, 1, NULL, 0, pt, 4, &so), AIOS_E_INVALID_ARGUMENT);
    so.suite = AIOS_ENVELOPE_SUITE_AUTO;
    so.version = 99;
    tu_assert_status(aios_envelope_seal(&m, &f->kek, 1, NULL, 0, pt, 4, &so), AIOS_E_VERSION);
    assert_null(m);
    /* a key that cannot wrap: its status passes through, naming the recipient */
    tu_assert_ok(aios_keyring_rotate(f->kr, NULL, "other-key"));
    tu_assert_status(aios_envelope_seal(&m, &f->other, 1, NULL, 0, pt, 4, NULL),
                     AIOS_E_KEY_DECRYPT_ONLY);
    assert_non_null(strstr(aios_last_error_message(), "other-key"));
    assert_string_equal(aios_envelope_suite_name(AIOS_ENVELOPE_SUITE_AES256GCM), "aes256gcm");
    assert_int_equal(aios_envelope_header_max(), AIOS_ENVELOPE_HEADER_MAX);
    assert_int_equal(aios_envelope_record_overhead(), 74);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_x25519_and_mixed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_key_and_context, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_bit_flip_and_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_statuses_of_regions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_into, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seal_into, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
