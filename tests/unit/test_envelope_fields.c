/*
 * JSON field-level encryption (lib/envelope/fields.c, docs/FORMAT.md 11,
 * 12.3, 13): round trips with every JSON type, deterministic equality,
 * pointers (RFC 6901), and every status of 12.3, against sessions of a
 * real keyring KEK.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_keyring_util.h"
#include "core/internal.h"
#include "crypto/crypto.h"
#include "envelope/format.h"
#include "envelope/session.h"

static const uint8_t KEK_BYTES[32] = {
    0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
    0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22
};

typedef struct fx {
    char                  *dir;
    aios_keyring          *kr;
    aios_key              *kek;
    aios_envelope_keys    *keys;
    aios_envelope_session *rnd;   /* writer, random only */
    aios_envelope_session *det;   /* writer, DETERMINISTIC */
} fx;

static aios_envelope_session *mk(fx *f, uint32_t flags)
{
    aios_envelope_session_options o = AIOS_ENVELOPE_SESSION_OPTIONS_INIT;
    aios_envelope_session *s = NULL;
    o.flags = flags;
    tu_assert_ok(aios_envelope_session_new(&s, &f->kek, 1, NULL, 0, &o));
    return s;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    aios_keyring_options o = kt_raw();
    assert_non_null(f);
    f->dir = kt_tmpdir();
    tu_assert_ok(aios_keyring_create(&f->kr, kt_path(f->dir, "keys.aioskr", 0), &o));
    tu_assert_ok(aios_keyring_import(f->kr, &f->kek, "wrap-key", AIOS_KEY_AES256, KEK_BYTES,
                                     sizeof(KEK_BYTES), NULL));
    tu_assert_ok(aios_envelope_keys_new(&f->keys));
    tu_assert_ok(aios_envelope_keys_add_key(f->keys, f->kek));
    f->rnd = mk(f, 0);
    f->det = mk(f, AIOS_ENVELOPE_SESSION_DETERMINISTIC);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    aios_envelope_session_unref(f->rnd);
    aios_envelope_session_unref(f->det);
    aios_envelope_keys_free(f->keys);
    aios_key_unref(f->kek);
    aios_keyring_free(f->kr);
    kt_rmtree(f->dir);
    free(f);
    return 0;
}

static json_t *parse(const aios_buffer *b)
{
    json_error_t err;
    json_t *j = json_loadb((const char *)aios_buffer_data(b), aios_buffer_len(b),
                           JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &err);
    if (!j)
        fail_msg("output does not parse: %s", err.text);
    return j;
}

static json_t *parse_s(const char *s)
{
    json_error_t err;
    json_t *j = json_loads(s, JSON_ALLOW_NUL, &err);
    if (!j)
        fail_msg("test document does not parse: %s", err.text);
    return j;
}

/* Encrypt then return the parsed output. */
static json_t *enc(aios_envelope_session *s, const char *doc, const char *const *ptrs, size_t n,
                   uint32_t flags, const char *rid)
{
    aios_envelope_fields_options o = AIOS_ENVELOPE_FIELDS_OPTIONS_INIT;
    aios_buffer *out = NULL;
    json_t *j;
    o.flags = flags;
    if (rid) {
        o.record_id = (const uint8_t *)rid;
        o.record_id_len = strlen(rid);
    }
    tu_assert_ok(aios_envelope_fields_encrypt(&out, s, doc, strlen(doc), ptrs, n, &o));
    j = parse(out);
    aios_buffer_free(out);
    return j;
}

static int dec_status(aios_envelope_session *const *ss, size_t n, json_t *doc, const char *rid,
                      json_t **result)
{
    aios_envelope_fields_options o = AIOS_ENVELOPE_FIELDS_OPTIONS_INIT;
    aios_buffer *out = NULL;
    char *text = json_dumps(doc, JSON_COMPACT | JSON_ALLOW_NUL);
    int rc;
    if (rid) {
        o.record_id = (const uint8_t *)rid;
        o.record_id_len = strlen(rid);
    }
    rc = aios_envelope_fields_decrypt(&out, ss, n, text, strlen(text), &o);
    free(text);
    if (rc == AIOS_OK) {
        assert_true(aios_buffer_flags(out) & AIOS_BUFFER_SECURE);
        if (result)
            *result = parse(out);
    } else {
        assert_null(out);
    }
    aios_buffer_free(out);
    return rc;
}

static const char DOC[] =
    "{\"name\":\"Zo\\u00eb \\\"Q\\\" \\u2603 \\ud83d\\ude00\\n\\t\\\\/\","
    "\"min\":-9223372036854775808,\"max\":9223372036854775807,\"zero\":0,"
    "\"t\":true,\"f\":false,\"nil\":null,\"pi\":3.25,"
    "\"obj\":{\"a~b\":{\"c/d\":\"deep\"},\"list\":[1,\"two\",{\"x\":[]}]},"
    "\"arr\":[10,20,30],\"empty\":\"\",\"nul\":\"a\\u0000b\",\"keep\":\"plain\"}";

static const char *const ALL[] = { "/name", "/min", "/max", "/zero", "/t", "/f", "/nil", "/pi",
                                   "/obj/a~0b/c~1d", "/obj/list", "/arr/1", "/empty", "/nul" };
#define NALL (sizeof(ALL) / sizeof(ALL[0]))

static void test_round_trip_random(void **state)
{
    fx *f = *state;
    json_t *orig = parse_s(DOC), *e = enc(f->rnd, DOC, ALL, NALL, 0, "row-1"), *d = NULL;
    const char *k;
    json_t *v;
    size_t i = 0;

    /* Every named value is now a field string; the rest is untouched. */
    assert_true(json_is_string(json_object_get(e, "name")));
    assert_memory_equal(json_string_value(json_object_get(e, "name")), "aios:f1:", 8);
    assert_memory_equal(json_string_value(json_object_get(e, "pi")), "aios:f1:", 8);
    assert_memory_equal(json_string_value(json_array_get(json_object_get(e, "arr"), 1)),
                        "aios:f1:", 8);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(e, "arr"), 0)), 10);
    assert_string_equal(json_string_value(json_object_get(e, "keep")), "plain");
    assert_memory_equal(json_string_value(json_object_get(json_object_get(json_object_get(e, "obj"),
                                                                          "a~b"), "c/d")),
                        "aios:f1:", 8);
    /* Key order is kept. */
    json_object_foreach(e, k, v) {
        static const char *order[] = { "name", "min", "max", "zero", "t", "f", "nil", "pi", "obj",
                                       "arr", "empty", "nul", "keep" };
        assert_string_equal(k, order[i++]);
    }
    /* Decrypt restores every type exactly. */
    tu_assert_ok(dec_status(&f->rnd, 1, e, "row-1", &d));
    assert_true(json_equal(orig, d));
    assert_true(json_is_integer(json_object_get(d, "min")));
    assert_int_equal(json_integer_value(json_object_get(d, "min")), INT64_MIN);
    assert_int_equal(json_integer_value(json_object_get(d, "max")), INT64_MAX);
    assert_true(json_is_real(json_object_get(d, "pi")));
    assert_int_equal(json_string_length(json_object_get(d, "nul")), 3);
    json_decref(d);
    json_decref(e);
    json_decref(orig);
}

static void test_round_trip_deterministic(void **state)
{
    fx *f = *state;
    static const char *const P[] = { "/name", "/min", "/max", "/zero", "/t", "/f", "/nil",
                                     "/obj/a~0b/c~1d", "/arr/1", "/empty", "/nul" };
    json_t *orig = parse_s(DOC), *e = enc(f->det, DOC, P, sizeof(P) / sizeof(P[0]),
                                          AIOS_ENVELOPE_FIELDS_DETERMINISTIC, NULL), *d = NULL;
    tu_assert_ok(dec_status(&f->det, 1, e, NULL, &d));
    assert_true(json_equal(orig, d));
    json_decref(d);
    json_decref(e);
    json_decref(orig);
}

static const char *sval(json_t *doc, const char *key)
{
    return json_string_value(json_object_get(doc, key));
}

static void test_deterministic_equality(void **state)
{
    fx *f = *state;
    static const char *const P[] = { "/a", "/b", "/c" };
    const char *doc = "{\"a\":\"x@example.com\",\"b\":\"x@example.com\",\"c\":42}";
    uint32_t D = AIOS_ENVELOPE_FIELDS_DETERMINISTIC;
    json_t *e1 = enc(f->det, doc, P, 3, D, "r1"), *e2 = enc(f->det, doc, P, 3, D, "r1");
    json_t *e3 = enc(f->det, doc, P, 3, D, "r2"), *e4 = enc(f->det, doc, P, 3, D, NULL);
    json_t *r1 = enc(f->rnd, doc, P, 3, 0, "r1"), *r2 = enc(f->rnd, doc, P, 3, 0, "r1");
    aios_envelope_session *reader = NULL, *other = mk(f, AIOS_ENVELOPE_SESSION_DETERMINISTIC);
    json_t *e5, *e6;
    const uint8_t *h;
    size_t n;

    /* Same value, same pointer, same rid, same session: equal. */
    assert_string_equal(sval(e1, "a"), sval(e2, "a"));
    assert_string_equal(sval(e1, "c"), sval(e2, "c"));
    /* Another pointer, rid or session: different. */
    assert_string_not_equal(sval(e1, "a"), sval(e1, "b"));
    assert_string_not_equal(sval(e1, "a"), sval(e3, "a"));
    assert_string_not_equal(sval(e1, "a"), sval(e4, "a"));
    e6 = enc(other, doc, P, 3, D, "r1");
    assert_string_not_equal(sval(e1, "a"), sval(e6, "a"));
    /* Random mode: never equal. */
    assert_string_not_equal(sval(r1, "a"), sval(r2, "a"));
    assert_string_not_equal(sval(r1, "c"), sval(r2, "c"));
    /* A reader of the session computes the same strings (equality
     * search), but cannot seal random-mode fields. */
    h = aios_envelope_session_header(f->det, &n);
    tu_assert_ok(aios_envelope_session_open(&reader, f->keys, h, n, NULL));
    e5 = enc(reader, doc, P, 3, D, "r1");
    assert_string_equal(sval(e1, "a"), sval(e5, "a"));
    {
        aios_buffer *out = NULL;
        tu_assert_status(aios_envelope_fields_encrypt(&out, reader, doc, strlen(doc), P, 3, NULL),
                         AIOS_E_STATE);
    }
    json_decref(e1);
    json_decref(e2);
    json_decref(e3);
    json_decref(e4);
    json_decref(e5);
    json_decref(e6);
    json_decref(r1);
    json_decref(r2);
    aios_envelope_session_unref(reader);
    aios_envelope_session_unref(other);
}

static void test_encrypt_statuses(void **state)
{
    fx *f = *state;
    const char *doc = "{\"a\":{\"b\":[1,2,{\"c\":1.5}]},\"s\":\"aios:f1:notreally\"}";
    aios_envelope_fields_options o = AIOS_ENVELOPE_FIELDS_OPTIONS_INIT;
    aios_buffer *out = NULL;
    char longp[1100];
    uint8_t rid[257];
    const char *p[1];
#define ENC(ptr, st) do { p[0] = (ptr); \
        tu_assert_status(aios_envelope_fields_encrypt(&out, f->rnd, doc, strlen(doc), p, 1, &o), st); \
        aios_buffer_free(out); out = NULL; } while (0)

    ENC("/a/b/0", AIOS_OK);
    ENC("/a/b/2/c", AIOS_OK);
    ENC("/zz", AIOS_E_NOT_FOUND);
    assert_non_null(strstr(aios_last_error_message(), "/zz"));
    ENC("/a/b/3", AIOS_E_NOT_FOUND);
    ENC("/a/b/x", AIOS_E_NOT_FOUND);
    ENC("/a/b/", AIOS_E_INVALID_ARGUMENT);
    ENC("/a/b/99999999999999999999999", AIOS_E_NOT_FOUND);
    ENC("/a/b/01", AIOS_E_INVALID_ARGUMENT);
    ENC("/a/b/-", AIOS_E_INVALID_ARGUMENT);
    ENC("/a~2", AIOS_E_INVALID_ARGUMENT);
    ENC("/a~", AIOS_E_INVALID_ARGUMENT);
    ENC("", AIOS_E_INVALID_ARGUMENT);
    ENC("a", AIOS_E_INVALID_ARGUMENT);
    ENC("/a/b/0/deeper", AIOS_E_NOT_FOUND);
    memset(longp, 'x', sizeof(longp));
    longp[0] = '/';
    longp[1025] = '\0';
    ENC(longp, AIOS_E_LIMIT);
    longp[1024] = '\0';
    ENC(longp, AIOS_E_NOT_FOUND);
    o.flags = AIOS_ENVELOPE_FIELDS_SKIP_MISSING;
    ENC("/zz", AIOS_OK);
    o.flags = 0x80;
    ENC("/a", AIOS_E_INVALID_ARGUMENT);
    o.flags = 0;
    o.record_id = rid;
    o.record_id_len = 257;
    memset(rid, 1, sizeof(rid));
    ENC("/a", AIOS_E_LIMIT);
    o.record_id_len = 256;
    ENC("/a", AIOS_OK);
    o.record_id_len = 0;
    /* Deterministic: needs a deterministic session, refuses j. */
    o.flags = AIOS_ENVELOPE_FIELDS_DETERMINISTIC;
    ENC("/a/b/0", AIOS_E_ENVELOPE_MODE);
    p[0] = "/a/b/2/c";
    tu_assert_status(aios_envelope_fields_encrypt(&out, f->det, doc, strlen(doc), p, 1, &o),
                     AIOS_E_INVALID_ARGUMENT);
    p[0] = "/a";
    tu_assert_status(aios_envelope_fields_encrypt(&out, f->det, doc, strlen(doc), p, 1, &o),
                     AIOS_E_INVALID_ARGUMENT);
    o.flags = 0;
    /* Not a document. */
    tu_assert_status(aios_envelope_fields_encrypt(&out, f->rnd, "{\"a\":1,\"a\":2}", 13, p, 1, &o),
                     AIOS_E_FORMAT);
    tu_assert_status(aios_envelope_fields_encrypt(&out, f->rnd, "\"str\"", 5, p, 1, &o),
                     AIOS_E_FORMAT);
    tu_assert_status(aios_envelope_fields_encrypt(&out, f->rnd, "{\"a\":", 5, p, 1, &o),
                     AIOS_E_FORMAT);
    tu_assert_status(aios_envelope_fields_encrypt(&out, f->rnd, "{\"a\":\"\xff\"}", 8, p, 1, &o),
                     AIOS_E_FORMAT);
    assert_null(out);
    /* A plaintext that only looks like a field is refused, never left in
     * the clear; a real field of this session is left as it is. */
    tu_assert_status(aios_envelope_fields_encrypt(&out, f->rnd, doc, strlen(doc),
                                                  (const char *const[]){ "/s" }, 1, &o),
                     AIOS_E_INVALID_ARGUMENT);
    assert_null(out);
    assert_null(strstr(aios_last_error_message(), "notreally"));
    {
        json_t *e = enc(f->rnd, "{\"s\":\"x\"}", (const char *const[]){ "/s" }, 1, 0, NULL);
        char *once = json_dumps(e, JSON_COMPACT);
        json_t *e2 = enc(f->rnd, once, (const char *const[]){ "/s" }, 1, 0, NULL);
        assert_string_equal(sval(e2, "s"), sval(e, "s"));
        free(once);
        json_decref(e2);
        json_decref(e);
    }
    /* Parse errors never quote the document (it is plaintext). */
    tu_assert_status(aios_envelope_fields_encrypt(&out, f->rnd, "{\"ssn\": 123SECRETx}", 20, p, 1, &o),
                     AIOS_E_FORMAT);
    assert_null(strstr(aios_last_error_message(), "SECRET"));
#undef ENC
}

static void test_field_too_large(void **state)
{
    fx *f = *state;
    size_t n = (1u << 20) + 16, i;
    char *doc = malloc(n + 16);
    const char *p[1] = { "/a" };
    aios_buffer *out = NULL;
    memcpy(doc, "{\"a\":\"", 6);
    for (i = 6; i < n; i++)
        doc[i] = 'x';
    memcpy(doc + n, "\"}", 3);
    tu_assert_status(aios_envelope_fields_encrypt(&out, f->rnd, doc, strlen(doc), p, 1, NULL),
                     AIOS_E_LIMIT);
    /* 1 MiB - 1 bytes of string (+ tag = 1 MiB): fits. */
    memcpy(doc + 6 + (1u << 20) - 1, "\"}", 3);
    tu_assert_ok(aios_envelope_fields_encrypt(&out, f->rnd, doc, strlen(doc), p, 1, NULL));
    {
        aios_buffer *back = NULL;
        tu_assert_ok(aios_envelope_fields_decrypt(&back, &f->rnd, 1,
                                                  (const char *)aios_buffer_data(out),
                                                  aios_buffer_len(out), NULL));
        assert_int_equal(aios_buffer_len(back), strlen(doc));
        assert_memory_equal(aios_buffer_data(back), doc, strlen(doc));
        aios_buffer_free(back);
    }
    aios_buffer_free(out);
    free(doc);
}

static void test_decrypt_statuses(void **state)
{
    fx *f = *state;
    static const char *const P[] = { "/a", "/b" };
    const char *doc = "{\"a\":\"secret-value\",\"b\":7}";
    json_t *e = enc(f->rnd, doc, P, 2, 0, "rid"), *dd = enc(f->det, doc, P, 2,
                                                            AIOS_ENVELOPE_FIELDS_DETERMINISTIC, "rid");
    aios_envelope_session *both[2] = { f->det, f->rnd };
    json_t *m = json_deep_copy(e), *x;
    char s[4096];
    size_t n;

    /* Both sessions at once. */
    json_object_set(m, "c", json_object_get(dd, "a"));
    tu_assert_status(dec_status(both, 2, m, "rid", &x), AIOS_E_AUTH);   /* c moved from /a */
    json_object_del(m, "c");
    tu_assert_ok(dec_status(both, 2, m, "rid", &x));
    assert_string_equal(sval(x, "a"), "secret-value");
    json_decref(x);

    /* Unknown session; changed rid; moved field (names the pointer, not the value). */
    tu_assert_status(dec_status(&f->det, 1, e, "rid", NULL), AIOS_E_ENVELOPE_UNKNOWN_SESSION);
    assert_non_null(strstr(aios_last_error_message(), "/a"));
    tu_assert_status(dec_status(NULL, 0, e, "rid", NULL), AIOS_E_ENVELOPE_UNKNOWN_SESSION);
    tu_assert_status(dec_status(&f->rnd, 1, e, "other", NULL), AIOS_E_AUTH);
    tu_assert_status(dec_status(&f->rnd, 1, e, NULL, NULL), AIOS_E_AUTH);
    tu_assert_status(dec_status(&f->det, 1, dd, "rie", NULL), AIOS_E_AUTH);
    json_object_set(m, "z", json_object_get(e, "a"));
    json_object_del(m, "a");
    tu_assert_status(dec_status(&f->rnd, 1, m, "rid", NULL), AIOS_E_AUTH);
    assert_non_null(strstr(aios_last_error_message(), "/z"));
    assert_null(strstr(aios_last_error_message(), "secret-value"));
    /* In an array: the index is part of the pointer. */
    json_object_del(m, "z");
    json_object_set_new(m, "arr", json_pack("[s,s]", "x", sval(e, "a")));
    tu_assert_status(dec_status(&f->rnd, 1, m, "rid", NULL), AIOS_E_AUTH);
    assert_non_null(strstr(aios_last_error_message(), "/arr/1"));
    json_decref(m);

    /* Non-canonical base64url: trailing bits, padding, alphabet, cut.
     * "sabcd" is 5 bytes, the record 79: 106 characters, the last holding
     * 2 data bits and 4 that must be zero. */
    json_decref(e);
    e = enc(f->rnd, "{\"a\":\"abcd\"}", P, 1, 0, "rid");
    n = strlen(sval(e, "a"));
    memcpy(s, sval(e, "a"), n + 1);
#define TRY(st) do { json_t *d_ = json_pack("{s:s}", "a", s); \
        tu_assert_status(dec_status(&f->rnd, 1, d_, "rid", NULL), st); json_decref(d_); } while (0)
    TRY(AIOS_OK);
    assert_int_equal(n, 8 + 106);
    {
        static const char A[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        int v = (int)(strchr(A, s[n - 1]) - A);
        assert_int_equal(v & 15, 0);
        s[n - 1] = A[v | 1];   /* same data bits, a nonzero trailing bit */
    }
    TRY(AIOS_E_FORMAT);
    memcpy(s, sval(e, "a"), n + 1);
    strcat(s, "=");
    TRY(AIOS_E_FORMAT);
    memcpy(s, sval(e, "a"), n + 1);
    s[20] = '+';
    TRY(AIOS_E_FORMAT);
    memcpy(s, sval(e, "a"), n + 1);
    s[n - 1] = '\0';          /* 105 characters: no length decodes to that */
    TRY(AIOS_E_FORMAT);
    memcpy(s, sval(e, "a"), n + 1);
    s[n - 2] = '\0';          /* a shorter, well-formed record: its tag fails */
    TRY(AIOS_E_AUTH);
    memcpy(s, "aios:f1:", 9);
    TRY(AIOS_E_FORMAT);        /* an empty record */
    memcpy(s, "aios:f1:QUlPRQFSAAI", 20);   /* a prefix only */
    TRY(AIOS_E_FORMAT);
#undef TRY
    /* A plaintext string that happens to start with the prefix. */
    {
        json_t *d = json_pack("{s:s}", "note", "aios:f1:hello");
        tu_assert_status(dec_status(&f->rnd, 1, d, NULL, NULL), AIOS_E_FORMAT);
        json_decref(d);
    }
    /* Options and documents. */
    {
        aios_envelope_fields_options o = AIOS_ENVELOPE_FIELDS_OPTIONS_INIT;
        aios_buffer *out = NULL;
        aios_envelope_session *nul = NULL;
        o.record_id_len = 3;
        tu_assert_status(aios_envelope_fields_decrypt(&out, &f->rnd, 1, "{}", 2, &o),
                         AIOS_E_INVALID_ARGUMENT);
        tu_assert_status(aios_envelope_fields_decrypt(&out, &nul, 1, "{}", 2, NULL),
                         AIOS_E_INVALID_ARGUMENT);
        tu_assert_status(aios_envelope_fields_decrypt(&out, &f->rnd, 1, "[1,", 3, NULL),
                         AIOS_E_FORMAT);
        tu_assert_ok(aios_envelope_fields_decrypt(&out, NULL, 0, "[1,{\"a\":[]}]", 12, NULL));
        assert_string_equal((const char *)aios_buffer_data(out), "[1,{\"a\":[]}]");
        aios_buffer_free(out);
    }
    json_decref(e);
    json_decref(dd);
}

/* Field string for a hand-made record (bad type payloads, D under R). */
static char *field_of(const uint8_t *rec, size_t n)
{
    size_t b = aios__base64_encoded_len(n, AIOS__B64_URLSAFE_NOPAD);
    char *s = malloc(8 + b);
    memcpy(s, "aios:f1:", 8);
    tu_assert_ok(aios__base64_encode(s + 8, b, rec, n, AIOS__B64_URLSAFE_NOPAD));
    return s;
}

static size_t fad_of(uint8_t *fad, const char *ptr)
{
    size_t p = strlen(ptr);
    memcpy(fad, "aios fle v1", 11);
    fad[11] = 0;
    fad[12] = 0;
    fad[13] = (uint8_t)(p >> 8);
    fad[14] = (uint8_t)p;
    memcpy(fad + 15, ptr, p);
    memset(fad + 15 + p, 0, 4);
    return 19 + p;
}

static void test_typed_plaintext(void **state)
{
    fx *f = *state;
    static const struct { const char *pt; size_t n; int rc; const char *json; } cases[] = {
        { "s", 1, AIOS_OK, "\"\"" },
        { "i0", 2, AIOS_OK, "0" },
        { "i-1", 3, AIOS_OK, "-1" },
        { "i-9223372036854775808", 21, AIOS_OK, "-9223372036854775808" },
        { "i9223372036854775808", 20, AIOS_E_FORMAT, NULL },
        { "i-9223372036854775809", 21, AIOS_E_FORMAT, NULL },
        { "i01", 3, AIOS_E_FORMAT, NULL },
        { "i-0", 3, AIOS_E_FORMAT, NULL },
        { "i+1", 3, AIOS_E_FORMAT, NULL },
        { "i", 1, AIOS_E_FORMAT, NULL },
        { "i1.0", 4, AIOS_E_FORMAT, NULL },
        { "t", 1, AIOS_OK, "true" },
        { "tx", 2, AIOS_E_FORMAT, NULL },
        { "n", 1, AIOS_OK, "null" },
        { "s\xc3\x28", 3, AIOS_E_FORMAT, NULL },
        { "s\xed\xa0\x80", 4, AIOS_E_FORMAT, NULL },
        { "j{\"k\":[1,2.5]}", 14, AIOS_OK, "{\"k\":[1,2.5]}" },
        { "j{\"k\":", 6, AIOS_E_FORMAT, NULL },
        { "j{\"k\":1,\"k\":2}", 14, AIOS_E_FORMAT, NULL },
        { "x", 1, AIOS_E_FORMAT, NULL },
        { "", 0, AIOS_E_FORMAT, NULL },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t rec[128], fad[64];
        size_t fl = fad_of(fad, "/v");
        char *s, doc[400];
        json_t *d = NULL, *want;
        int rc;
        tu_assert_ok(aios__env_session_seal_r(f->rnd, rec, (const uint8_t *)cases[i].pt,
                                              cases[i].n, fad, fl));
        s = field_of(rec, cases[i].n + 74);
        snprintf(doc, sizeof(doc), "{\"v\":\"%s\"}", s);
        {
            json_t *j = parse_s(doc);
            rc = dec_status(&f->rnd, 1, j, NULL, &d);
            json_decref(j);
        }
        if (rc != cases[i].rc)
            fail_msg("case %zu: %s (%s)", i, aios_status_name(rc), aios_last_error_message());
        if (rc == AIOS_OK) {
            want = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
            assert_true(json_equal(json_object_get(d, "v"), want));
            json_decref(want);
            json_decref(d);
        }
        free(s);
    }
    /* A D record whose payload is JSON text: refused. */
    {
        uint8_t rec[128], fad[64];
        size_t fl = fad_of(fad, "/v");
        char *s, doc[400];
        json_t *j;
        tu_assert_ok(aios__env_session_seal_d(f->det, rec, (const uint8_t *)"j[1]", 4, fad, fl));
        s = field_of(rec, 4 + 58);
        snprintf(doc, sizeof(doc), "{\"v\":\"%s\"}", s);
        j = parse_s(doc);
        tu_assert_status(dec_status(&f->det, 1, j, NULL, NULL), AIOS_E_FORMAT);
        /* The same D record with C replaced by a random-only session's:
         * AIOS_E_ENVELOPE_MODE. */
        json_decref(j);
        free(s);
        memcpy(rec + 10, aios_envelope_session_id(f->rnd), 32);
        s = field_of(rec, 4 + 58);
        snprintf(doc, sizeof(doc), "{\"v\":\"%s\"}", s);
        j = parse_s(doc);
        tu_assert_status(dec_status(&f->rnd, 1, j, NULL, NULL), AIOS_E_ENVELOPE_MODE);
        json_decref(j);
        free(s);
    }
}

/* Every single-bit flip of a field's record is refused. */
static void test_field_bit_flips(void **state)
{
    fx *f = *state;
    aios_envelope_session *ss[2] = { f->rnd, f->det };
    int k;
    for (k = 0; k < 2; k++) {
        const char *doc = "{\"v\":\"abc\"}";
        json_t *e = enc(ss[k], doc, (const char *const[]){ "/v" }, 1,
                        k ? AIOS_ENVELOPE_FIELDS_DETERMINISTIC : 0, NULL);
        const char *s = sval(e, "v");
        uint8_t rec[200];
        size_t n = 0, i;
        int b;
        tu_assert_ok(aios__base64_decode(rec, sizeof(rec), &n, s + 8, strlen(s) - 8,
                                         AIOS__B64_URLSAFE_NOPAD));
        for (i = 0; i < n; i++)
            for (b = 0; b < 8; b++) {
                char *t;
                json_t *d;
                rec[i] ^= (uint8_t)(1u << b);
                t = field_of(rec, n);
                d = json_pack("{s:s}", "v", t);
                assert_int_not_equal(dec_status(&ss[k], 1, d, NULL, NULL), AIOS_OK);
                json_decref(d);
                free(t);
                rec[i] ^= (uint8_t)(1u << b);
            }
        json_decref(e);
    }
}

static fx *alloc_fx;

static int alloc_op(void)
{
    static const char *const P[] = { "/a", "/b/0", "/c" };
    const char *doc = "{\"a\":\"x\",\"b\":[1,2],\"c\":{\"d\":true}}";
    aios_buffer *out = NULL, *back = NULL;
    int rc = aios_envelope_fields_encrypt(&out, alloc_fx->rnd, doc, strlen(doc), P, 3, NULL);
    if (rc == AIOS_OK)
        rc = aios_envelope_fields_decrypt(&back, &alloc_fx->rnd, 1,
                                          (const char *)aios_buffer_data(out),
                                          aios_buffer_len(out), NULL);
    if (rc == AIOS_OK && strcmp((const char *)aios_buffer_data(back), doc) != 0)
        rc = AIOS_E_INTERNAL;
    aios_buffer_free(out);
    aios_buffer_free(back);
    return rc;
}

static void test_alloc_failures(void **state)
{
    alloc_fx = *state;
    assert_true(tu_inject_everywhere(alloc_op, "fields encrypt/decrypt") > 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_random, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_deterministic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deterministic_equality, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encrypt_statuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_field_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decrypt_statuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_typed_plaintext, setup, teardown),
        cmocka_unit_test_setup_teardown(test_field_bit_flips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
    };
    if (tu_alloc_install() != AIOS_OK)
        return 1;
    if (aios_init() != AIOS_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
