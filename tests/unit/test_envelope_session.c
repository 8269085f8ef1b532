/*
 * Sessions and their records (lib/envelope/session.c, docs/FORMAT.md
 * 3.5, 5, 9.2, 12.2, 13), against a real keyring KEK in a temporary
 * directory.
 *
 * The known-answer test recomputes a record from the spec alone: the data
 * key is the first 32 bytes the (replaced) CSPRNG gave, the message id is
 * read from the header, PRK, C, D and Kr are recomputed with the crypto
 * seam's plain HKDF, SHA-256 and an AEAD key object, never with the code
 * under test.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_keyring_util.h"
#include "core/internal.h"
#include "crypto/crypto.h"
#include "envelope/format.h"
#include "envelope/session.h"

static const uint8_t KEK_BYTES[32] = {
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11
};

typedef struct fx {
    char               *dir;
    aios_keyring       *kr;
    aios_key           *kek;
    aios_key           *other;
    aios_envelope_keys *keys;       /* kek */
    aios_envelope_keys *other_keys; /* other */
} fx;

static const aios_envelope_context_entry CTX[2] = { { "tenant", "acme" }, { "region", "eu" } };

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    aios_keyring_options o = kt_raw();
    assert_non_null(f);
    f->dir = kt_tmpdir();
    tu_assert_ok(aios_keyring_create(&f->kr, kt_path(f->dir, "keys.aioskr", 0), &o));
    tu_assert_ok(aios_keyring_import(f->kr, &f->kek, "wrap-key", AIOS_KEY_AES256, KEK_BYTES,
                                     sizeof(KEK_BYTES), NULL));
    tu_assert_ok(aios_keyring_add(f->kr, &f->other, "other-key", AIOS_KEY_AES256, NULL));
    tu_assert_ok(aios_envelope_keys_new(&f->keys));
    tu_assert_ok(aios_envelope_keys_add_key(f->keys, f->kek));
    tu_assert_ok(aios_envelope_keys_new(&f->other_keys));
    tu_assert_ok(aios_envelope_keys_add_key(f->other_keys, f->other));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    aios_envelope_keys_free(f->keys);
    aios_envelope_keys_free(f->other_keys);
    aios_key_unref(f->kek);
    aios_key_unref(f->other);
    aios_keyring_free(f->kr);
    kt_rmtree(f->dir);
    free(f);
    return 0;
}

static aios_envelope_session *writer(fx *f, aios_envelope_suite suite, uint32_t flags,
                                     uint64_t max)
{
    aios_envelope_session_options o = AIOS_ENVELOPE_SESSION_OPTIONS_INIT;
    aios_envelope_session *s = NULL;
    o.suite = suite;
    o.flags = flags;
    o.max_records = max;
    tu_assert_ok(aios_envelope_session_new(&s, &f->kek, 1, CTX, 2, &o));
    return s;
}

static aios_envelope_session *reader(fx *f, const aios_envelope_session *w)
{
    aios_envelope_session *s = NULL;
    size_t n;
    const uint8_t *h = aios_envelope_session_header(w, &n);
    tu_assert_ok(aios_envelope_session_open(&s, f->keys, h, n, NULL));
    return s;
}

static uint8_t *seal(aios_envelope_session *s, const uint8_t *pt, size_t n, const uint8_t *ad,
                     size_t adlen, size_t *len)
{
    uint8_t *rec = malloc(n + AIOS_ENVELOPE_RECORD_OVERHEAD);
    assert_non_null(rec);
    tu_assert_ok(aios_envelope_session_seal(s, rec, n + AIOS_ENVELOPE_RECORD_OVERHEAD, len, pt, n,
                                            ad, adlen));
    assert_int_equal(*len, n + AIOS_ENVELOPE_RECORD_OVERHEAD);
    return rec;
}

static int suites(aios_envelope_suite out[2])
{
    int n = 0;
    out[n++] = AIOS_ENVELOPE_SUITE_PORTABLE;
    if (aios__aead_available(AIOS__AEAD_AES256GCM))
        out[n++] = AIOS_ENVELOPE_SUITE_AES256GCM;
    return n;
}

/* ------------------------------------------------------------ round trips */

static void test_round_trip(void **state)
{
    static const size_t sizes[] = { 0, 1, 15, 16, 64, 1000, 70000 };
    fx *f = *state;
    aios_envelope_suite ss[2];
    int ns = suites(ss), si;
    size_t i, len, got;

    for (si = 0; si < ns; si++) {
        aios_envelope_session *w = writer(f, ss[si], 0, 0), *r = reader(f, w);
        assert_memory_equal(aios_envelope_session_id(w), aios_envelope_session_id(r), 32);
        for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            uint8_t *pt = malloc(sizes[i] + 1), *out = malloc(sizes[i] + 1), *rec;
            uint8_t id[32];
            size_t k;
            for (k = 0; k < sizes[i]; k++)
                pt[k] = (uint8_t)(k * 7 + i);
            rec = seal(w, pt, sizes[i], (const uint8_t *)"row-17", 6, &len);
            assert_int_equal(rec[5], 'R');
            assert_int_equal(rec[7], ss[si] == AIOS_ENVELOPE_SUITE_PORTABLE ? 2 : 1);
            tu_assert_ok(aios_envelope_record_session_id(id, rec, len));
            assert_memory_equal(id, aios_envelope_session_id(w), 32);
            /* Both the writer and a reader open it. */
            tu_assert_ok(aios_envelope_session_open_record(r, out, sizes[i], &got, rec, len,
                                                           (const uint8_t *)"row-17", 6));
            assert_int_equal(got, sizes[i]);
            if (sizes[i])
                assert_memory_equal(out, pt, sizes[i]);
            tu_assert_ok(aios_envelope_session_open_record(w, out, sizes[i] + 1, &got, rec, len,
                                                           (const uint8_t *)"row-17", 6));
            assert_int_equal(got, sizes[i]);
            /* Other ad, or none: AIOS_E_AUTH. */
            tu_assert_status(aios_envelope_session_open_record(r, out, sizes[i], &got, rec, len,
                                                               (const uint8_t *)"row-18", 6),
                             AIOS_E_AUTH);
            tu_assert_status(aios_envelope_session_open_record(r, out, sizes[i], &got, rec, len,
                                                               NULL, 0),
                             AIOS_E_AUTH);
            free(rec);
            free(pt);
            free(out);
        }
        aios_envelope_session_unref(r);
        aios_envelope_session_unref(w);
    }
}

/* The exact-size entry points (for FFI callers): the same records as
 * seal/open_record, both ways, and the same statuses. */
static void test_exact(void **state)
{
    static const uint32_t sizes[] = { 0, 1, 64, 1000, 70000 };
    fx *f = *state;
    aios_envelope_suite ss[2];
    int ns = suites(ss), si;
    size_t i, len, got;

    for (si = 0; si < ns; si++) {
        aios_envelope_session *w = writer(f, ss[si], 0, 0), *r = reader(f, w);
        for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            uint32_t n = sizes[i];
            uint8_t *pt = malloc(n + 1), *rec = malloc(n + AIOS_ENVELOPE_RECORD_OVERHEAD);
            uint8_t *out = malloc(n + 1), *rec2;
            uint32_t k;
            assert_non_null(pt);
            assert_non_null(rec);
            assert_non_null(out);
            for (k = 0; k < n; k++)
                pt[k] = (uint8_t)(k * 13 + i);
            tu_assert_ok(aios_envelope_session_seal_exact(w, rec, pt, n,
                                                          (const uint8_t *)"ad", 2));
            /* open_record opens it, and open_exact opens seal's records. */
            tu_assert_ok(aios_envelope_session_open_record(r, out, n, &got, rec,
                                                           n + AIOS_ENVELOPE_RECORD_OVERHEAD,
                                                           (const uint8_t *)"ad", 2));
            assert_int_equal(got, n);
            if (n)
                assert_memory_equal(out, pt, n);
            rec2 = seal(w, pt, n, NULL, 0, &len);
            memset(out, 0, n + 1);
            tu_assert_ok(aios_envelope_session_open_exact(r, out, rec2, (uint32_t)len, NULL, 0));
            if (n)
                assert_memory_equal(out, pt, n);
            assert_int_equal(out[n], 0);   /* nothing past the exact size */
            /* A flipped bit, another ad: AIOS_E_AUTH with out wiped. */
            rec2[len - 1] ^= 1;
            memset(out, 0xee, n + 1);
            tu_assert_status(aios_envelope_session_open_exact(r, out, rec2, (uint32_t)len, NULL, 0),
                             AIOS_E_AUTH);
            for (k = 0; k < n; k++)
                assert_int_equal(out[k], 0);
            tu_assert_status(aios_envelope_session_open_exact(r, out, rec,
                                                              n + AIOS_ENVELOPE_RECORD_OVERHEAD,
                                                              (const uint8_t *)"ae", 2),
                             AIOS_E_AUTH);
            free(rec2);
            free(rec);
            free(pt);
            free(out);
        }
        /* Statuses: too short, NULL buffers, limits, a reader sealing. */
        {
            uint8_t rec[AIOS_ENVELOPE_RECORD_OVERHEAD + 1], out[1], big[8];
            memset(big, 7, sizeof(big));
            tu_assert_ok(aios_envelope_session_seal_exact(w, rec, big, 1, NULL, 0));
            tu_assert_status(aios_envelope_session_open_exact(r, out, rec,
                                                              AIOS_ENVELOPE_RECORD_OVERHEAD - 1,
                                                              NULL, 0),
                             AIOS_E_FORMAT);
            tu_assert_status(aios_envelope_session_open_exact(r, NULL, rec, sizeof(rec), NULL, 0),
                             AIOS_E_BUFFER_TOO_SMALL);
            tu_assert_status(aios_envelope_session_seal_exact(w, NULL, big, 1, NULL, 0),
                             AIOS_E_BUFFER_TOO_SMALL);
            tu_assert_status(aios_envelope_session_seal_exact(w, rec, NULL, 1, NULL, 0),
                             AIOS_E_INVALID_ARGUMENT);
            tu_assert_status(aios_envelope_session_seal_exact(w, rec, big, 1, NULL, 1), AIOS_E_INVALID_ARGUMENT);
            tu_assert_status(aios_envelope_session_seal_exact(w, rec, big,
                                                              AIOS_ENVELOPE_RECORD_MAX + 1, NULL, 0),
                             AIOS_E_LIMIT);
            tu_assert_status(aios_envelope_session_seal_exact(w, rec, big, 1, big, 65537),
                             AIOS_E_LIMIT);
            tu_assert_status(aios_envelope_session_open_exact(r, out, rec, sizeof(rec), big, 65537),
                             AIOS_E_LIMIT);
            tu_assert_status(aios_envelope_session_seal_exact(r, rec, big, 1, NULL, 0),
                             AIOS_E_STATE);
            tu_assert_status(aios_envelope_session_seal_exact(NULL, rec, big, 1, NULL, 0),
                             AIOS_E_INVALID_ARGUMENT);
            tu_assert_status(aios_envelope_session_open_exact(NULL, out, rec, sizeof(rec), NULL, 0),
                             AIOS_E_INVALID_ARGUMENT);
            tu_assert_ok(aios_envelope_session_open_exact(r, out, rec, sizeof(rec), NULL, 0));
            assert_int_equal(out[0], 7);
        }
        aios_envelope_session_unref(r);
        aios_envelope_session_unref(w);
    }
}

/* Two records of the same plaintext differ (fresh r). */
static void test_records_random(void **state)
{
    fx *f = *state;
    aios_envelope_session *w = writer(f, AIOS_ENVELOPE_SUITE_AUTO, 0, 0);
    size_t l1, l2;
    uint8_t *a = seal(w, (const uint8_t *)"same", 4, NULL, 0, &l1);
    uint8_t *b = seal(w, (const uint8_t *)"same", 4, NULL, 0, &l2);
    assert_memory_equal(a, b, 42);                    /* prefix and C */
    assert_memory_not_equal(a + 42, b + 42, 16);      /* r */
    assert_memory_not_equal(a + 58, b + 58, 4 + 16);
    free(a);
    free(b);
    aios_envelope_session_unref(w);
}

/* ------------------------------------------------------------ known answer */

static uint8_t kat_dk[32];
static int kat_calls;
static uint8_t kat_next;

static void kat_random(uint8_t *out, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++)
        out[i] = kat_next++;
    if (kat_calls++ == 0 && len == 32)
        memcpy(kat_dk, out, 32);
}

static void test_known_answer(void **state)
{
    fx *f = *state;
    aios_envelope_suite ss[2];
    int ns = suites(ss), si;

    for (si = 0; si < ns; si++) {
        aios_envelope_session *w;
        aios__env_header h;
        const uint8_t *hb;
        uint8_t prk[32], c[32], d[32], kr[32], info[64], r[16], tag[16], ct[5], raad[200];
        uint8_t *rec;
        size_t hl, len, n;
        uint16_t suite;
        aios__aead_key *k = NULL;
        uint8_t nonce[24] = { 0 };

        kat_calls = 0;
        kat_next = 0;
        aios__random_set_for_testing(kat_random);
        w = writer(f, ss[si], 0, 0);
        rec = seal(w, (const uint8_t *)"hello", 5, (const uint8_t *)"ad", 2, &len);
        aios__random_set_for_testing(NULL);

        hb = aios_envelope_session_header(w, &hl);
        tu_assert_ok(aios__env_header_decode(&h, hb, hl, AIOS__ENV_ACCEPT_S));
        suite = h.prefix.suite;
        /* PRK, then C from the spec's label: it must be the session id. */
        aios__hkdf_sha256_extract(prk, h.core.message_id, 32, kat_dk, 32);
        memcpy(info, "aios envelope v1 commitment", 27);
        info[27] = (uint8_t)(suite >> 8);
        info[28] = (uint8_t)suite;
        tu_assert_ok(aios__hkdf_sha256_expand(c, 32, prk, info, 29));
        assert_memory_equal(c, aios_envelope_session_id(w), 32);
        /* D = SHA-256(label || prefix || u32be(Lc) || core || C) */
        {
            aios__sha256_ctx sc;
            aios__sha256_init(&sc);
            aios__sha256_update(&sc, (const uint8_t *)"aios envelope v1 core digest", 28);
            aios__sha256_update(&sc, hb, 14 + h.core_raw.len);
            aios__sha256_update(&sc, c, 32);
            aios__sha256_final(&sc, d);
        }
        /* The record: prefix, C, r, then Seal(Kr, 0, RAAD, "hello"). */
        assert_int_equal(len, 5 + 74);
        assert_memory_equal(rec, "AIOE\x01R", 6);
        assert_int_equal(rec[6], 0);
        assert_int_equal(rec[7], suite);
        assert_int_equal(rec[8] | rec[9], 0);
        assert_memory_equal(rec + 10, c, 32);
        memcpy(r, rec + 42, 16);
        memcpy(info, "aios envelope v1 record key", 27);
        info[27] = (uint8_t)(suite >> 8);
        info[28] = (uint8_t)suite;
        memcpy(info + 29, r, 16);
        tu_assert_ok(aios__hkdf_sha256_expand(kr, 32, prk, info, 45));
        memcpy(raad, rec, 58);
        memcpy(raad + 58, d, 32);
        raad[90] = 0;
        raad[91] = 0;
        raad[92] = 0;
        raad[93] = 2;
        memcpy(raad + 94, "ad", 2);
        n = 96;
        tu_assert_ok(aios__aead_key_new(&k, suite == 1 ? AIOS__AEAD_AES256GCM
                                                       : AIOS__AEAD_XCHACHA20POLY1305, kr));
        tu_assert_ok(aios__aead_seal(k, ct, tag, (const uint8_t *)"hello", 5, raad, n, nonce));
        assert_memory_equal(rec + 58, ct, 5);
        assert_memory_equal(rec + 63, tag, 16);
        aios__aead_key_free(k);
        aios__env_header_clear(&h);
        free(rec);
        aios_envelope_session_unref(w);
    }
}

/* ------------------------------------------------------------ rejections */

static void test_every_bit_flip(void **state)
{
    fx *f = *state;
    aios_envelope_session *w = writer(f, AIOS_ENVELOPE_SUITE_AUTO, 0, 0);
    uint8_t pt[64], out[64];
    size_t len, got, i;
    uint8_t *rec;
    int b;

    memset(pt, 0x5a, sizeof(pt));
    rec = seal(w, pt, sizeof(pt), (const uint8_t *)"k", 1, &len);
    for (i = 0; i < len; i++) {
        for (b = 0; b < 8; b++) {
            int rc;
            rec[i] ^= (uint8_t)(1u << b);
            memset(out, 0xee, sizeof(out));
            rc = aios_envelope_session_open_record(w, out, sizeof(out), &got, rec, len,
                                                   (const uint8_t *)"k", 1);
            if (rc == AIOS_OK)
                fail_msg("a record with bit %d of byte %zu flipped opened", b, i);
            assert_int_equal(got, 0);
            /* Nothing unauthenticated is left behind. */
            if (rc == AIOS_E_AUTH) {
                size_t k;
                for (k = 0; k < sizeof(out); k++)
                    assert_true(out[k] == 0 || out[k] == 0xee);
            }
            rec[i] ^= (uint8_t)(1u << b);
        }
    }
    /* Every cut fails too. */
    for (i = 0; i < len; i++)
        assert_int_not_equal(aios_envelope_session_open_record(w, out, sizeof(out), &got, rec, i,
                                                               (const uint8_t *)"k", 1), AIOS_OK);
    tu_assert_ok(aios_envelope_session_open_record(w, out, sizeof(out), &got, rec, len,
                                                   (const uint8_t *)"k", 1));
    free(rec);
    aios_envelope_session_unref(w);
}

static void test_statuses(void **state)
{
    fx *f = *state;
    aios_envelope_session *a = writer(f, AIOS_ENVELOPE_SUITE_PORTABLE, 0, 0);
    aios_envelope_session *b = writer(f, AIOS_ENVELOPE_SUITE_PORTABLE, 0, 0);
    uint8_t out[16], id[32], big[100];
    size_t len, got;
    uint8_t *rec = seal(a, (const uint8_t *)"x", 1, NULL, 0, &len);

    /* Another session: AIOS_E_ENVELOPE_UNKNOWN_SESSION. */
    tu_assert_status(aios_envelope_session_open_record(b, out, sizeof(out), &got, rec, len, NULL, 0),
                     AIOS_E_ENVELOPE_UNKNOWN_SESSION);
    /* The suite differs from the session's (suite 1 is valid in R). */
    rec[7] = 1;
    tu_assert_status(aios_envelope_session_open_record(a, out, sizeof(out), &got, rec, len, NULL, 0),
                     AIOS_E_FORMAT);
    rec[7] = 3;   /* SIV outside D */
    tu_assert_status(aios_envelope_session_open_record(a, out, sizeof(out), &got, rec, len, NULL, 0),
                     AIOS_E_FORMAT);
    rec[7] = 9;
    tu_assert_status(aios_envelope_session_open_record(a, out, sizeof(out), &got, rec, len, NULL, 0),
                     AIOS_E_VERSION);
    rec[7] = 2;
    rec[9] = 1;   /* DETERMINISTIC is for S only */
    tu_assert_status(aios_envelope_session_open_record(a, out, sizeof(out), &got, rec, len, NULL, 0),
                     AIOS_E_FORMAT);
    rec[9] = 4;   /* reserved */
    tu_assert_status(aios_envelope_session_open_record(a, out, sizeof(out), &got, rec, len, NULL, 0),
                     AIOS_E_VERSION);
    rec[9] = 0;
    rec[4] = 2;
    tu_assert_status(aios_envelope_session_open_record(a, out, sizeof(out), &got, rec, len, NULL, 0),
                     AIOS_E_VERSION);
    tu_assert_status(aios_envelope_record_session_id(id, rec, len), AIOS_E_VERSION);
    rec[4] = 1;
    rec[5] = 'M';
    tu_assert_status(aios_envelope_session_open_record(a, out, sizeof(out), &got, rec, len, NULL, 0),
                     AIOS_E_FORMAT);
    tu_assert_status(aios_envelope_record_session_id(id, rec, len), AIOS_E_FORMAT);
    rec[5] = 'R';
    rec[0] = 'X';
    tu_assert_status(aios_envelope_record_session_id(id, rec, len), AIOS_E_FORMAT);
    rec[0] = 'A';
    tu_assert_status(aios_envelope_record_session_id(id, rec, 73), AIOS_E_FORMAT);
    tu_assert_ok(aios_envelope_session_open_record(a, out, sizeof(out), &got, rec, len, NULL, 0));

    /* Buffers and limits. */
    tu_assert_status(aios_envelope_session_open_record(a, out, 0, &got, rec, len, NULL, 0),
                     AIOS_E_BUFFER_TOO_SMALL);
    assert_int_equal(got, 1);
    tu_assert_status(aios_envelope_session_seal(a, big, 74, &got, big, 1, NULL, 0),
                     AIOS_E_BUFFER_TOO_SMALL);
    assert_int_equal(got, 75);
    tu_assert_status(aios_envelope_session_seal(a, big, sizeof(big), &got, big, 1, big, 65537),
                     AIOS_E_LIMIT);
    tu_assert_status(aios_envelope_session_seal(a, big, sizeof(big), &got, big,
                                                AIOS_ENVELOPE_RECORD_MAX + 1, NULL, 0),
                     AIOS_E_LIMIT);
    tu_assert_status(aios_envelope_session_open_record(a, out, sizeof(out), &got, rec, len, big,
                                                       65537),
                     AIOS_E_LIMIT);
    tu_assert_status(aios_envelope_session_seal(a, NULL, 0, &got, NULL, 0, NULL, 0),
                     AIOS_E_BUFFER_TOO_SMALL);
    assert_int_equal(got, 74);
    /* out_len is optional (the lengths are fixed): a round trip and the
     * statuses without it. */
    {
        uint8_t small[75], back[1];
        big[0] = 0x5a;
        tu_assert_ok(aios_envelope_session_seal(a, small, sizeof(small), NULL, big, 1, NULL, 0));
        tu_assert_ok(aios_envelope_session_open_record(a, back, sizeof(back), NULL, small,
                                                       sizeof(small), NULL, 0));
        assert_int_equal(back[0], big[0]);
        tu_assert_status(aios_envelope_session_seal(a, small, 74, NULL, big, 1, NULL, 0),
                         AIOS_E_BUFFER_TOO_SMALL);
        small[sizeof(small) - 1] ^= 1;
        tu_assert_status(aios_envelope_session_open_record(a, back, sizeof(back), NULL, small,
                                                           sizeof(small), NULL, 0),
                         AIOS_E_AUTH);
        tu_assert_status(aios_envelope_session_open_record(a, back, 0, NULL, small,
                                                           sizeof(small), NULL, 0),
                         AIOS_E_BUFFER_TOO_SMALL);
    }
    free(rec);
    aios_envelope_session_unref(a);
    aios_envelope_session_unref(b);
}

/* ad of the largest size (RAAD built off the stack). */
static void test_large_ad(void **state)
{
    fx *f = *state;
    aios_envelope_session *w = writer(f, AIOS_ENVELOPE_SUITE_AUTO, 0, 0);
    uint8_t *ad = malloc(65536), out[3];
    size_t len, got;
    uint8_t *rec;
    memset(ad, 0x33, 65536);
    rec = seal(w, (const uint8_t *)"abc", 3, ad, 65536, &len);
    tu_assert_ok(aios_envelope_session_open_record(w, out, 3, &got, rec, len, ad, 65536));
    assert_memory_equal(out, "abc", 3);
    ad[65535] ^= 1;
    tu_assert_status(aios_envelope_session_open_record(w, out, 3, &got, rec, len, ad, 65536),
                     AIOS_E_AUTH);
    free(rec);
    free(ad);
    aios_envelope_session_unref(w);
}

/* ------------------------------------------------------------ sessions */

static void test_reader_and_header(void **state)
{
    fx *f = *state;
    aios_envelope_session *w = writer(f, AIOS_ENVELOPE_SUITE_AUTO, AIOS_ENVELOPE_SESSION_DETERMINISTIC, 0);
    aios_envelope_session *r = reader(f, w), *x = NULL;
    aios_envelope_open_options oo = AIOS_ENVELOPE_OPEN_OPTIONS_INIT;
    aios_envelope_context_entry want[2] = { { "tenant", "acme" }, { "region", "eu" } };
    aios_envelope_context_entry wrong[1] = { { "tenant", "evil" } };
    const uint8_t *h1, *h2;
    uint8_t *copy, rec[80];
    size_t n1, n2, got;
    aios_buffer *info = NULL;
    json_t *j;
    json_error_t err;

    h1 = aios_envelope_session_header(w, &n1);
    h2 = aios_envelope_session_header(r, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(h1, h2, n1);
    assert_int_equal(h1[5], 'S');
    assert_int_equal(h1[9], 1);   /* DETERMINISTIC */

    /* Readers do not write. */
    tu_assert_status(aios_envelope_session_seal(r, rec, sizeof(rec), &got, (const uint8_t *)"a", 1,
                                                NULL, 0), AIOS_E_STATE);

    /* info: authenticated, a session, deterministic, the context. */
    tu_assert_ok(aios_envelope_session_info(r, &info));
    j = json_loadb((const char *)aios_buffer_data(info), aios_buffer_len(info), 0, &err);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "session");
    assert_true(json_is_true(json_object_get(j, "authenticated")));
    assert_true(json_is_true(json_object_get(j, "deterministic")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "context"), "tenant")),
                        "acme");
    json_decref(j);
    aios_buffer_free(info);

    /* Expected context: exact match, subset, mismatch. */
    oo.expected_context = want;
    oo.expected_context_count = 2;
    oo.context_mode = AIOS_ENVELOPE_CONTEXT_EXACT;
    tu_assert_ok(aios_envelope_session_open(&x, f->keys, h1, n1, &oo));
    aios_envelope_session_unref(x);
    oo.expected_context_count = 1;
    tu_assert_status(aios_envelope_session_open(&x, f->keys, h1, n1, &oo),
                     AIOS_E_ENVELOPE_CONTEXT_MISMATCH);
    assert_null(x);
    oo.context_mode = AIOS_ENVELOPE_CONTEXT_SUBSET;
    tu_assert_ok(aios_envelope_session_open(&x, f->keys, h1, n1, &oo));
    aios_envelope_session_unref(x);
    oo.expected_context = wrong;
    tu_assert_status(aios_envelope_session_open(&x, f->keys, h1, n1, &oo),
                     AIOS_E_ENVELOPE_CONTEXT_MISMATCH);

    /* No key: AIOS_E_ENVELOPE_NO_RECIPIENT; a byte after T; a flipped T;
     * a message-type object. */
    tu_assert_status(aios_envelope_session_open(&x, f->other_keys, h1, n1, NULL),
                     AIOS_E_ENVELOPE_NO_RECIPIENT);
    copy = malloc(n1 + 1);
    memcpy(copy, h1, n1);
    copy[n1] = 0;
    tu_assert_status(aios_envelope_session_open(&x, f->keys, copy, n1 + 1, NULL),
                     AIOS_E_ENVELOPE_TRAILING_DATA);
    copy[n1 - 1] ^= 1;
    tu_assert_status(aios_envelope_session_open(&x, f->keys, copy, n1, NULL), AIOS_E_AUTH);
    copy[n1 - 1] ^= 1;
    copy[5] = 'M';
    tu_assert_status(aios_envelope_session_open(&x, f->keys, copy, n1, NULL), AIOS_E_FORMAT);
    assert_null(x);
    free(copy);

    /* ref/unref: the last unref frees (ASan and valgrind check). */
    assert_ptr_equal(aios_envelope_session_ref(r), r);
    aios_envelope_session_unref(r);
    assert_int_equal(aios_envelope_session_id(r)[0], aios_envelope_session_id(w)[0]);
    aios_envelope_session_unref(r);
    aios_envelope_session_unref(w);
    aios_envelope_session_unref(NULL);
    assert_null(aios_envelope_session_ref(NULL));
    assert_null(aios_envelope_session_id(NULL));
}

static void test_options(void **state)
{
    fx *f = *state;
    aios_envelope_session_options o;
    aios_envelope_session *s = NULL;

    tu_assert_ok(aios_envelope_session_options_init(&o, AIOS_ENVELOPE_SESSION_OPTIONS_VERSION));
    assert_int_equal(o.suite, AIOS_ENVELOPE_SUITE_AUTO);
    assert_int_equal(o.max_records, 0);
    tu_assert_status(aios_envelope_session_options_init(&o, 99), AIOS_E_VERSION);
    o.version = 1;
    o.flags = 0x2;
    tu_assert_status(aios_envelope_session_new(&s, &f->kek, 1, NULL, 0, &o),
                     AIOS_E_INVALID_ARGUMENT);
    o.flags = 0;
    o.max_records = ((uint64_t)1 << 32) + 1;
    tu_assert_status(aios_envelope_session_new(&s, &f->kek, 1, NULL, 0, &o),
                     AIOS_E_INVALID_ARGUMENT);
    o.max_records = 0;
    o.suite = AIOS_ENVELOPE_SUITE_AES256SIV;
    tu_assert_status(aios_envelope_session_new(&s, &f->kek, 1, NULL, 0, &o),
                     AIOS_E_INVALID_ARGUMENT);
    o.suite = AIOS_ENVELOPE_SUITE_AUTO;
    tu_assert_status(aios_envelope_session_new(&s, NULL, 0, NULL, 0, &o), AIOS_E_INVALID_ARGUMENT);
    o.version = 7;
    tu_assert_status(aios_envelope_session_new(&s, &f->kek, 1, NULL, 0, &o), AIOS_E_VERSION);
    assert_null(s);
    tu_assert_ok(aios_envelope_session_new(&s, &f->kek, 1, NULL, 0, NULL));
    aios_envelope_session_unref(s);
}

static void test_max_records(void **state)
{
    fx *f = *state;
    aios_envelope_session *w = writer(f, AIOS_ENVELOPE_SUITE_AUTO, 0, 3);
    uint8_t rec[80];
    size_t got;
    int i;
    for (i = 0; i < 3; i++)
        tu_assert_ok(aios_envelope_session_seal(w, rec, sizeof(rec), &got, (const uint8_t *)"a", 1,
                                                NULL, 0));
    tu_assert_status(aios_envelope_session_seal(w, rec, sizeof(rec), &got, (const uint8_t *)"a", 1,
                                                NULL, 0), AIOS_E_LIMIT);
    assert_int_equal(got, 0);
    /* Opening is not limited. */
    tu_assert_ok(aios_envelope_session_open_record(w, rec, sizeof(rec), &got, rec, 75, NULL, 0));
    aios_envelope_session_unref(w);
}

/* ------------------------------------------------------------ threads */

#define NTHREADS 4
#define PER_THREAD 500

typedef struct tctx {
    aios_envelope_session *w, *r;
    int                    id;
    int                    sealed, failures, limited;
} tctx;

static void *worker(void *arg)
{
    tctx *t = arg;
    int i;
    for (i = 0; i < PER_THREAD; i++) {
        uint8_t pt[64], rec[64 + 74], out[64], ad[8];
        size_t len, got;
        int rc;
        memset(pt, t->id * 31 + i, sizeof(pt));
        memcpy(ad, &i, sizeof(i));
        memcpy(ad + 4, &t->id, sizeof(t->id));
        rc = aios_envelope_session_seal(t->w, rec, sizeof(rec), &len, pt, sizeof(pt), ad, 8);
        if (rc == AIOS_E_LIMIT) {
            t->limited++;
            continue;
        }
        if (rc != AIOS_OK) {
            t->failures++;
            continue;
        }
        t->sealed++;
        if (aios_envelope_session_open_record(t->r, out, sizeof(out), &got, rec, len, ad, 8) != AIOS_OK ||
            got != 64 || memcmp(out, pt, 64) != 0)
            t->failures++;
    }
    return NULL;
}

static void test_threads(void **state)
{
    fx *f = *state;
    const uint64_t max = NTHREADS * PER_THREAD - 123;
    aios_envelope_session *w = writer(f, AIOS_ENVELOPE_SUITE_AUTO, 0, max), *r = reader(f, w);
    pthread_t th[NTHREADS];
    tctx t[NTHREADS];
    int i, sealed = 0, limited = 0;

    for (i = 0; i < NTHREADS; i++) {
        memset(&t[i], 0, sizeof(t[i]));
        t[i].w = w;
        t[i].r = r;
        t[i].id = i;
        assert_int_equal(pthread_create(&th[i], NULL, worker, &t[i]), 0);
    }
    for (i = 0; i < NTHREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(t[i].failures, 0);
        sealed += t[i].sealed;
        limited += t[i].limited;
    }
    /* The record count is exact under contention. */
    assert_int_equal(sealed, (int)max);
    assert_int_equal(limited, 123);
    aios_envelope_session_unref(r);
    aios_envelope_session_unref(w);
}

/* ------------------------------------------------------------ batches */

#define BN 7
static const size_t B_PT[BN] = { 0, 1, 15, 64, 1000, 0, 70000 };
static const size_t B_AD[BN] = { 0, 3, 0, 5000, 1, 2, 0 };   /* 5000: the heap RAAD */

typedef struct batch {
    uint8_t *pt, *ad;
    size_t   pt_total, ad_total;
} batch;

static void batch_make(batch *b)
{
    size_t i;
    b->pt_total = b->ad_total = 0;
    for (i = 0; i < BN; i++) {
        b->pt_total += B_PT[i];
        b->ad_total += B_AD[i];
    }
    b->pt = malloc(b->pt_total);
    b->ad = malloc(b->ad_total);
    assert_non_null(b->pt);
    assert_non_null(b->ad);
    for (i = 0; i < b->pt_total; i++)
        b->pt[i] = (uint8_t)(i * 7 + 1);
    for (i = 0; i < b->ad_total; i++)
        b->ad[i] = (uint8_t)(i * 13 + 5);
}

static void batch_free(batch *b)
{
    free(b->pt);
    free(b->ad);
}

static void test_batch_round_trip(void **state)
{
    fx *f = *state;
    aios_envelope_suite ss[2];
    int ns = suites(ss), si;
    batch b;

    batch_make(&b);
    for (si = 0; si < ns; si++) {
        aios_envelope_session *w = writer(f, ss[si], 0, 0), *r = reader(f, w);
        size_t need = b.pt_total + BN * AIOS_ENVELOPE_RECORD_OVERHEAD, got, fail, i;
        size_t rec_lens[BN], pt_off = 0, ad_off = 0, off = 0;
        uint8_t *recs = malloc(need), *singles = malloc(need), *pt = malloc(b.pt_total + 1);
        assert_non_null(recs);
        assert_non_null(singles);
        assert_non_null(pt);

        tu_assert_ok(aios_envelope_session_seal_batch(w, recs, need, &got, b.pt, B_PT, BN, b.ad,
                                                      B_AD));
        assert_int_equal(got, need);
        /* Record i is an ordinary record: open_record opens it alone. */
        for (i = 0; i < BN; i++) {
            uint8_t *one = malloc(B_PT[i] + 1);
            size_t len = B_PT[i] + AIOS_ENVELOPE_RECORD_OVERHEAD;
            assert_non_null(one);
            rec_lens[i] = len;
            tu_assert_ok(aios_envelope_session_open_record(r, one, B_PT[i] + 1, &got, recs + off,
                                                           len, b.ad + ad_off, B_AD[i]));
            assert_int_equal(got, B_PT[i]);
            if (B_PT[i])
                assert_memory_equal(one, b.pt + pt_off, B_PT[i]);
            if (i > 0)   /* fresh record ids */
                assert_memory_not_equal(recs + off + 42, recs + off - B_PT[i - 1] -
                                        AIOS_ENVELOPE_RECORD_OVERHEAD + 42, 16);
            /* The same record sealed alone, for open_batch below. */
            tu_assert_ok(aios_envelope_session_seal(w, singles + off, len, &got, b.pt + pt_off,
                                                    B_PT[i], b.ad + ad_off, B_AD[i]));
            free(one);
            off += len;
            pt_off += B_PT[i];
            ad_off += B_AD[i];
        }
        /* open_batch of the batch and of the singly sealed records. */
        fail = 0;
        tu_assert_ok(aios_envelope_session_open_batch(r, pt, b.pt_total + 1, &got, recs, rec_lens,
                                                      BN, b.ad, B_AD, &fail));
        assert_int_equal(got, b.pt_total);
        assert_true(fail == SIZE_MAX);
        assert_memory_equal(pt, b.pt, b.pt_total);
        memset(pt, 0, b.pt_total);
        tu_assert_ok(aios_envelope_session_open_batch(w, pt, b.pt_total, &got, singles, rec_lens,
                                                      BN, b.ad, B_AD, NULL));
        assert_int_equal(got, b.pt_total);
        assert_memory_equal(pt, b.pt, b.pt_total);
        /* Without associated data (ad_lens NULL). */
        tu_assert_ok(aios_envelope_session_seal_batch(w, recs, need, &got, b.pt, B_PT, BN, NULL,
                                                      NULL));
        tu_assert_ok(aios_envelope_session_open_record(r, pt, b.pt_total, &got,
                                                       recs + rec_lens[0], rec_lens[1], NULL, 0));
        assert_int_equal(got, 1);
        tu_assert_ok(aios_envelope_session_open_batch(r, pt, b.pt_total, &got, recs, rec_lens, BN,
                                                      NULL, NULL, &fail));
        assert_memory_equal(pt, b.pt, b.pt_total);
        /* ... and then with it: record 1 is the first with an ad. */
        tu_assert_status(aios_envelope_session_open_batch(r, pt, b.pt_total, &got, recs, rec_lens,
                                                          BN, b.ad, B_AD, &fail), AIOS_E_AUTH);
        assert_int_equal(fail, 1);
        free(recs);
        free(singles);
        free(pt);
        aios_envelope_session_unref(r);
        aios_envelope_session_unref(w);
    }
    batch_free(&b);
}

static void test_batch_empty(void **state)
{
    fx *f = *state;
    aios_envelope_session *w = writer(f, AIOS_ENVELOPE_SUITE_AUTO, 0, 3), *r = reader(f, w);
    static const size_t zeros[3] = { 0, 0, 0 };
    size_t lens[3] = { 74, 74, 74 }, got = 99, fail = 0;
    uint8_t recs[3 * 74], out[1];

    /* n = 0: nothing to do, nothing counted. */
    tu_assert_ok(aios_envelope_session_seal_batch(w, NULL, 0, &got, NULL, NULL, 0, NULL, NULL));
    assert_int_equal(got, 0);
    tu_assert_ok(aios_envelope_session_open_batch(r, NULL, 0, &got, NULL, NULL, 0, NULL, NULL,
                                                  &fail));
    assert_int_equal(got, 0);
    assert_true(fail == SIZE_MAX);
    /* Three empty records, without a plaintext pointer. */
    tu_assert_ok(aios_envelope_session_seal_batch(w, recs, sizeof(recs), &got, NULL, zeros, 3, NULL,
                                                  zeros));
    assert_int_equal(got, sizeof(recs));
    tu_assert_ok(aios_envelope_session_open_batch(r, NULL, 0, &got, recs, lens, 3, NULL, NULL,
                                                  &fail));
    assert_int_equal(got, 0);
    tu_assert_ok(aios_envelope_session_open_record(r, out, 0, &got, recs + 74, 74, NULL, 0));
    /* max_records 3 was used by the three. */
    tu_assert_status(aios_envelope_session_seal(w, recs, 74, &got, NULL, 0, NULL, 0), AIOS_E_LIMIT);
    aios_envelope_session_unref(r);
    aios_envelope_session_unref(w);
}

static void test_batch_limits(void **state)
{
    fx *f = *state;
    aios_envelope_session *w = writer(f, AIOS_ENVELOPE_SUITE_AUTO, 0, 5), *r = reader(f, w);
    static const size_t lens[3] = { 4, 0, 2 };
    size_t rlens[3] = { 78, 74, 76 }, got, fail;
    uint8_t recs[3 * 74 + 6], out[6];

    /* Buffer too small: the size needed, nothing sealed, nothing counted. */
    tu_assert_status(aios_envelope_session_seal_batch(w, recs, sizeof(recs) - 1, &got,
                                                      (const uint8_t *)"abcdef", lens, 3, NULL,
                                                      NULL), AIOS_E_BUFFER_TOO_SMALL);
    assert_int_equal(got, sizeof(recs));
    tu_assert_status(aios_envelope_session_seal_batch(w, NULL, 0, &got, (const uint8_t *)"abcdef",
                                                      lens, 3, NULL, NULL),
                     AIOS_E_BUFFER_TOO_SMALL);
    assert_int_equal(got, sizeof(recs));
    tu_assert_ok(aios_envelope_session_seal_batch(w, recs, sizeof(recs), &got,
                                                  (const uint8_t *)"abcdef", lens, 3, NULL, NULL));
    assert_int_equal(got, sizeof(recs));
    /* 2 of 5 left: a batch of 3 is refused whole, and counts nothing. */
    tu_assert_status(aios_envelope_session_seal_batch(w, recs, sizeof(recs), &got,
                                                      (const uint8_t *)"abcdef", lens, 3, NULL,
                                                      NULL), AIOS_E_LIMIT);
    assert_int_equal(got, 0);
    assert_non_null(strstr(aios_last_error_message(), "2 more records"));
    tu_assert_ok(aios_envelope_session_seal_batch(w, recs, sizeof(recs), &got,
                                                  (const uint8_t *)"abcdef", lens, 2, NULL, NULL));
    assert_int_equal(got, 4 + 74 + 74);
    tu_assert_status(aios_envelope_session_seal_batch(w, recs, sizeof(recs), &got,
                                                      (const uint8_t *)"abcdef", lens, 1, NULL,
                                                      NULL), AIOS_E_LIMIT);
    /* open_batch: buffer too small after the structural checks. */
    {
        aios_envelope_session *w2 = writer(f, AIOS_ENVELOPE_SUITE_AUTO, 0, 0);
        tu_assert_ok(aios_envelope_session_seal_batch(w2, recs, sizeof(recs), &got,
                                                      (const uint8_t *)"abcdef", lens, 3, NULL,
                                                      NULL));
        fail = 0;
        tu_assert_status(aios_envelope_session_open_batch(w2, out, 5, &got, recs, rlens, 3, NULL,
                                                          NULL, &fail), AIOS_E_BUFFER_TOO_SMALL);
        assert_int_equal(got, 6);
        assert_true(fail == SIZE_MAX);
        tu_assert_ok(aios_envelope_session_open_batch(w2, out, 6, &got, recs, rlens, 3, NULL, NULL,
                                                      &fail));
        assert_memory_equal(out, "abcdef", 6);
        aios_envelope_session_unref(w2);
    }
    /* Limits of one record, named by index. */
    {
        size_t big[2] = { 1, (size_t)AIOS_ENVELOPE_RECORD_MAX + 1 }, ads[2] = { 0, 65537 };
        size_t one[2] = { 1, 1 };
        tu_assert_status(aios_envelope_session_seal_batch(w, recs, sizeof(recs), &got,
                                                          (const uint8_t *)"ab", big, 2, NULL,
                                                          NULL), AIOS_E_LIMIT);
        assert_non_null(strstr(aios_last_error_message(), "record 1"));
        tu_assert_status(aios_envelope_session_seal_batch(w, recs, sizeof(recs), &got,
                                                          (const uint8_t *)"ab", one, 2,
                                                          recs, ads), AIOS_E_LIMIT);
        assert_non_null(strstr(aios_last_error_message(), "record 1"));
        rlens[1] = 74;
        tu_assert_status(aios_envelope_session_open_batch(r, out, sizeof(out), &got, recs, rlens, 2,
                                                          recs, ads, &fail), AIOS_E_LIMIT);
        assert_int_equal(fail, 1);
    }
    /* Overflowing lengths and counts, caught before the arrays are read
     * beyond what they hold. */
    {
        size_t huge[2] = { SIZE_MAX, 2 };
        tu_assert_status(aios_envelope_session_seal_batch(w, recs, sizeof(recs), &got,
                                                          (const uint8_t *)"ab", lens,
                                                          SIZE_MAX / 74 + 1, NULL, NULL),
                         AIOS_E_LIMIT);
        tu_assert_status(aios_envelope_session_open_batch(r, out, sizeof(out), &got, recs, huge, 2,
                                                          NULL, NULL, &fail), AIOS_E_LIMIT);
        assert_int_equal(fail, 1);
        assert_int_equal(got, 0);
    }
    aios_envelope_session_unref(r);
    aios_envelope_session_unref(w);
}

static void test_batch_failures(void **state)
{
    fx *f = *state;
    aios_envelope_session *w = writer(f, AIOS_ENVELOPE_SUITE_AUTO, 0, 0), *r = reader(f, w);
    aios_envelope_session *w2 = writer(f, AIOS_ENVELOPE_SUITE_AUTO, 0, 0);
    enum { N = 5, L = 40, RL = L + 74 };
    size_t lens[N], rlens[N], got, fail, k, i;
    uint8_t pt[N * L], recs[N * RL], out[N * L], other[RL];

    for (i = 0; i < N; i++) {
        lens[i] = L;
        rlens[i] = RL;
    }
    for (i = 0; i < sizeof(pt); i++)
        pt[i] = (uint8_t)i;
    tu_assert_ok(aios_envelope_session_seal_batch(w, recs, sizeof(recs), &got, pt, lens, N, NULL,
                                                  NULL));
    /* A flipped bit in record k: AIOS_E_AUTH, index k, everything wiped. */
    for (k = 0; k < N; k++) {
        size_t at = k * RL + 74 + (k * 7) % L;
        recs[at] ^= 0x10;
        memset(out, 0xaa, sizeof(out));
        got = 99;
        fail = 99;
        tu_assert_status(aios_envelope_session_open_batch(r, out, sizeof(out), &got, recs, rlens, N,
                                                          NULL, NULL, &fail), AIOS_E_AUTH);
        assert_int_equal(fail, k);
        assert_int_equal(got, 0);
        for (i = 0; i < sizeof(out); i++)
            assert_int_equal(out[i], 0);
        {
            char want[32];
            snprintf(want, sizeof(want), "record %zu", k);
            assert_non_null(strstr(aios_last_error_message(), want));
        }
        recs[at] ^= 0x10;
    }
    tu_assert_ok(aios_envelope_session_open_batch(r, out, sizeof(out), &got, recs, rlens, N, NULL,
                                                  NULL, &fail));
    assert_memory_equal(out, pt, sizeof(pt));
    /* A record of another session at index 3. */
    tu_assert_ok(aios_envelope_session_seal(w2, other, sizeof(other), &got, pt, L, NULL, 0));
    {
        uint8_t mixed[N * RL];
        memcpy(mixed, recs, sizeof(mixed));
        memcpy(mixed + 3 * RL, other, RL);
        memset(out, 0xaa, sizeof(out));
        tu_assert_status(aios_envelope_session_open_batch(r, out, sizeof(out), &got, mixed, rlens,
                                                          N, NULL, NULL, &fail),
                         AIOS_E_ENVELOPE_UNKNOWN_SESSION);
        assert_int_equal(fail, 3);
        assert_int_equal(got, 0);
        /* Found before any record was opened: nothing was written. */
        for (i = 0; i < sizeof(out); i++)
            assert_int_equal(out[i], 0xaa);
        /* Not a record (too short) at index 2. */
        rlens[2] = 10;
        tu_assert_status(aios_envelope_session_open_batch(r, out, sizeof(out), &got, recs, rlens, 3,
                                                          NULL, NULL, NULL), AIOS_E_FORMAT);
        tu_assert_status(aios_envelope_session_open_batch(r, out, sizeof(out), &got, recs, rlens, 3,
                                                          NULL, NULL, &fail), AIOS_E_FORMAT);
        assert_int_equal(fail, 2);
        rlens[2] = RL;
    }
    /* Readers do not seal. */
    tu_assert_status(aios_envelope_session_seal_batch(r, recs, sizeof(recs), &got, pt, lens, N,
                                                      NULL, NULL), AIOS_E_STATE);
    /* NULL arguments. */
    fail = 0;
    tu_assert_status(aios_envelope_session_seal_batch(w, recs, sizeof(recs), NULL, pt, lens, N,
                                                      NULL, NULL), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_envelope_session_seal_batch(NULL, recs, sizeof(recs), &got, pt, lens, N,
                                                      NULL, NULL), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_envelope_session_seal_batch(w, recs, sizeof(recs), &got, pt, NULL, N,
                                                      NULL, NULL), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_envelope_session_seal_batch(w, recs, sizeof(recs), &got, NULL, lens, N,
                                                      NULL, NULL), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_envelope_session_seal_batch(w, recs, sizeof(recs), &got, pt, lens, N,
                                                      NULL, lens), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_envelope_session_open_batch(r, out, sizeof(out), NULL, recs, rlens, N,
                                                      NULL, NULL, &fail), AIOS_E_INVALID_ARGUMENT);
    assert_true(fail == SIZE_MAX);
    tu_assert_status(aios_envelope_session_open_batch(NULL, out, sizeof(out), &got, recs, rlens, N,
                                                      NULL, NULL, &fail), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_envelope_session_open_batch(r, out, sizeof(out), &got, NULL, rlens, N,
                                                      NULL, NULL, &fail), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_envelope_session_open_batch(r, out, sizeof(out), &got, recs, NULL, N,
                                                      NULL, NULL, &fail), AIOS_E_INVALID_ARGUMENT);
    tu_assert_status(aios_envelope_session_open_batch(r, out, sizeof(out), &got, recs, rlens, N,
                                                      NULL, lens, &fail), AIOS_E_INVALID_ARGUMENT);
    assert_true(fail == SIZE_MAX);
    aios_envelope_session_unref(w2);
    aios_envelope_session_unref(r);
    aios_envelope_session_unref(w);
}

#define BATCH_THREADS 4
#define BATCH_SIZE    100

static void *batch_worker(void *arg)
{
    tctx *t = arg;
    static const size_t lens[BATCH_SIZE] = { 0 };
    uint8_t *recs = malloc(BATCH_SIZE * 74);
    size_t got;
    int i, rc;
    if (recs == NULL) {
        t->failures++;
        return NULL;
    }
    for (i = 0; i < 10; i++) {
        rc = aios_envelope_session_seal_batch(t->w, recs, BATCH_SIZE * 74, &got, NULL, lens,
                                              BATCH_SIZE, NULL, NULL);
        if (rc == AIOS_OK)
            t->sealed += BATCH_SIZE;
        else if (rc == AIOS_E_LIMIT)
            t->limited++;
        else
            t->failures++;
    }
    free(recs);
    return NULL;
}

static void test_batch_threads(void **state)
{
    fx *f = *state;
    /* 40 batches of 100 against 2550 records: exactly 25 batches pass. */
    aios_envelope_session *w = writer(f, AIOS_ENVELOPE_SUITE_AUTO, 0, 2550);
    pthread_t th[BATCH_THREADS];
    tctx t[BATCH_THREADS];
    int i, sealed = 0, limited = 0;
    uint8_t rec[80];
    size_t got;

    for (i = 0; i < BATCH_THREADS; i++) {
        memset(&t[i], 0, sizeof(t[i]));
        t[i].w = w;
        assert_int_equal(pthread_create(&th[i], NULL, batch_worker, &t[i]), 0);
    }
    for (i = 0; i < BATCH_THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(t[i].failures, 0);
        sealed += t[i].sealed;
        limited += t[i].limited;
    }
    assert_int_equal(sealed, 2500);
    assert_int_equal(limited, 15);
    /* The 50 left are still there, one by one. */
    for (i = 0; i < 50; i++)
        tu_assert_ok(aios_envelope_session_seal(w, rec, sizeof(rec), &got, NULL, 0, NULL, 0));
    tu_assert_status(aios_envelope_session_seal(w, rec, sizeof(rec), &got, NULL, 0, NULL, 0),
                     AIOS_E_LIMIT);
    aios_envelope_session_unref(w);
}

/* ------------------------------------------------------------ allocation failures */

static fx *alloc_fx;

static int alloc_op(void)
{
    aios_envelope_session_options o = AIOS_ENVELOPE_SESSION_OPTIONS_INIT;
    aios_envelope_session *w = NULL, *r = NULL;
    uint8_t rec[80], out[6], *big = NULL;
    const uint8_t *h;
    size_t n, got;
    int rc;

    o.flags = AIOS_ENVELOPE_SESSION_DETERMINISTIC;
    rc = aios_envelope_session_new(&w, &alloc_fx->kek, 1, CTX, 2, &o);
    if (rc != AIOS_OK)
        return rc;
    h = aios_envelope_session_header(w, &n);
    rc = aios_envelope_session_open(&r, alloc_fx->keys, h, n, NULL);
    if (rc == AIOS_OK)
        rc = aios_envelope_session_seal(w, rec, sizeof(rec), &got, (const uint8_t *)"secret", 6,
                                        NULL, 0);
    if (rc == AIOS_OK)
        rc = aios_envelope_session_open_record(r, out, sizeof(out), &got, rec, got, NULL, 0);
    if (rc == AIOS_OK) {
        /* A large ad takes the heap path. */
        big = calloc(1, 8192);
        rc = aios_envelope_session_seal(w, rec, sizeof(rec), &got, (const uint8_t *)"secret", 6,
                                        big, 8192);
        free(big);
    }
    if (rc == AIOS_OK) {
        /* Batches: a large ad takes the batch's heap path. */
        static const size_t lens[2] = { 6, 0 }, adl[2] = { 0, 8192 }, rl[2] = { 80, 74 };
        uint8_t recs[154], pt[6];
        size_t fail;
        big = calloc(1, 8192);
        rc = big ? AIOS_OK : AIOS_E_NOMEM;
        if (rc == AIOS_OK)
            rc = aios_envelope_session_seal_batch(w, recs, sizeof(recs), &got,
                                                  (const uint8_t *)"secret", lens, 2, big, adl);
        if (rc == AIOS_OK)
            rc = aios_envelope_session_open_batch(r, pt, sizeof(pt), &got, recs, rl, 2, big, adl,
                                                  &fail);
        free(big);
    }
    aios_envelope_session_unref(r);
    aios_envelope_session_unref(w);
    return rc;
}

static void test_alloc_failures(void **state)
{
    alloc_fx = *state;
    assert_true(tu_inject_everywhere(alloc_op, "session new/open/seal/open_record") > 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_records_random, setup, teardown),
        cmocka_unit_test_setup_teardown(test_known_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_bit_flip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_statuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_ad, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_and_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
    };
    if (tu_alloc_install() != AIOS_OK)
        return 1;
    if (aios_init() != AIOS_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
