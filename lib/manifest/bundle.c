/*
 * OMS bundle / DSSE / in-toto statement codec (docs/MANIFEST.md 3-6, 8-11)
 * and verification with a caller-given public key (7.1) or with trust
 * anchors for a certificate chain (7.2-7.4, through lib/crypto/x509.c).
 * See bundle.h.
 *
 * Messages name the JSON member and the step, never key bytes; resource
 * names are named by their index only (they may be invalid UTF-8).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bundle.h"
#include "manifest_internal.h"
#include "../core/internal.h"
#include "../crypto/crypto.h"

#define LOAD_FLAGS JSON_REJECT_DUPLICATES
#define DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)

/* ================================================================ helpers */

/* Nesting pre-scan (3.4): Jansson's own limit is a compile-time constant. */
static int depth_check(const uint8_t *p, size_t n, const char *what)
{
    size_t i, depth = 0;
    int in_str = 0;

    for (i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > AIOS__MB_DEPTH_MAX)
                return aios__fail(AIOS_E_LIMIT, "%s: JSON nested deeper than %d", what,
                                  AIOS__MB_DEPTH_MAX);
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        }
    }
    return AIOS_OK;
}

/* Parse one JSON object (3.4). */
static int json_load_object(json_t **out, const uint8_t *p, size_t n, const char *what)
{
    json_error_t err;
    int rc;

    *out = NULL;
    if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
        return aios__fail(AIOS_E_FORMAT, "%s: starts with a byte-order mark", what);
    if ((rc = depth_check(p, n, what)) != AIOS_OK)
        return rc;
    *out = json_loadb((const char *)p, n, LOAD_FLAGS, &err);
    if (*out == NULL) {
        if (json_error_code(&err) == json_error_out_of_memory)
            return aios__nomem(what);
        /* Jansson's text names a position and a reason, never a value. */
        return aios__fail(AIOS_E_FORMAT, "%s: not valid JSON (line %d, column %d: %s)", what,
                          err.line, err.column, err.text);
    }
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return aios__fail(AIOS_E_FORMAT, "%s: the top level is not a JSON object", what);
    }
    return AIOS_OK;
}

/* Every member of obj is one of the NULL-terminated names, else FORMAT. */
static int members_only(const json_t *obj, const char *const *names, const char *what)
{
    const char *k;
    json_t *v;
    size_t i;

    json_object_foreach((json_t *)obj, k, v) {
        for (i = 0; names[i]; i++)
            if (strcmp(k, names[i]) == 0)
                break;
        if (names[i] == NULL)
            return aios__fail(AIOS_E_FORMAT, "%s: unknown member \"%.64s\"", what, k);
    }
    return AIOS_OK;
}

static int str_eq(const json_t *s, const char *lit)
{
    size_t n = strlen(lit);
    return json_string_length(s) == n && memcmp(json_string_value(s), lit, n) == 0;
}

/* Base64 decoding, either alphabet (not both mixed), padded or not.  A
 * bundle's payload is most of its bytes (megabytes for a model of many
 * files), so the characters go through a table four at a time: an entry
 * is 0x40 | the 6-bit value, or 0 for a byte outside both alphabets.
 * Which alphabet was used is told by '+' '/' (standard) and '-' '_'
 * (URL-safe), looked for afterwards. */
static const uint8_t b64_val[256] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x7e, 0x00, 0x7e, 0x00, 0x7f,
    0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e,
    0x4f, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x00, 0x00, 0x00, 0x00, 0x7f,
    0x00, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f, 0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
    0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71, 0x72, 0x73, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

int aios__mb_base64_decode(uint8_t *out, size_t out_cap, size_t *out_len,
                           const char *in, size_t len)
{
    const uint8_t *u = (const uint8_t *)in;
    size_t n = len, pad = 0, need, i = 0, o = 0;
    unsigned alpha = 0, ok = 0x40;

    AIOS__CHECK_ARG(out_len != NULL, "out_len is NULL");
    *out_len = 0;
    AIOS__CHECK_ARG(in != NULL || len == 0, "in is NULL with a nonzero length");
    while (n > 0 && in[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }
    if (pad > 0 && len % 4 != 0)
        return aios__fail(AIOS_E_FORMAT, "base64: incomplete padding");
    if (n % 4 == 1)
        return aios__fail(AIOS_E_FORMAT, "base64: a length of 1 mod 4");
    need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    if (need > out_cap || out == NULL)
        return aios__fail(AIOS_E_BUFFER_TOO_SMALL, "base64: %zu bytes needed", need);
    for (; i + 4 <= n; i += 4) {
        unsigned a = b64_val[u[i]], b = b64_val[u[i + 1]], c = b64_val[u[i + 2]],
                 d = b64_val[u[i + 3]];
        ok &= a & b & c & d;
        out[o] = (uint8_t)(a << 2 | (b & 0x3f) >> 4);
        out[o + 1] = (uint8_t)(b << 4 | (c & 0x3f) >> 2);
        out[o + 2] = (uint8_t)(c << 6 | (d & 0x3f));
        o += 3;
    }
    if (i < n) {   /* 2 or 3 characters left */
        unsigned a = b64_val[u[i]], b = b64_val[u[i + 1]], c = n - i == 3 ? b64_val[u[i + 2]] : 0x40;
        ok &= a & b & c;
        out[o++] = (uint8_t)(a << 2 | (b & 0x3f) >> 4);
        if (n - i == 3)
            out[o++] = (uint8_t)(b << 4 | (c & 0x3f) >> 2);
    }
    if (!(ok & 0x40)) {
        for (i = 0; i < n && b64_val[u[i]] != 0; i++)
            ;
        return aios__fail(AIOS_E_FORMAT, "base64: a byte outside the alphabet at offset %zu", i);
    }
    /* Which alphabets were used: '+' '/' are standard, '-' '_' URL-safe. */
    if (memchr(in, '+', n) != NULL || memchr(in, '/', n) != NULL)
        alpha |= 1;
    if (memchr(in, '-', n) != NULL || memchr(in, '_', n) != NULL)
        alpha |= 2;
    if (alpha == 3)
        return aios__fail(AIOS_E_FORMAT, "base64: the standard and URL-safe alphabets mixed");
    /* non-zero unused bits in the last character are ignored (3.5) */
    *out_len = o;
    return AIOS_OK;
}

int aios__mb_b64_member(uint8_t **out, size_t *out_len, const json_t *s, size_t max,
                        const char *what)
{
    size_t n, cap;
    uint8_t *p;
    int rc;

    *out = NULL;
    *out_len = 0;
    if (!json_is_string(s))
        return aios__fail(AIOS_E_FORMAT, "%s is missing or not a string", what);
    n = json_string_length(s);
    if (n / 4 * 3 > max + 2)
        return aios__fail(AIOS_E_LIMIT, "%s: %zu base64 characters decode to more than %zu bytes",
                          what, n, max);
    cap = n / 4 * 3 + 3;
    if ((p = aios__malloc(cap)) == NULL)
        return aios__nomem(what);
    if ((rc = aios__mb_base64_decode(p, cap, out_len, json_string_value(s), n)) != AIOS_OK) {
        aios__free(p);
        return aios__error_prefix("%s", what);
    }
    if (*out_len > max) {
        aios__free(p);
        return aios__fail(AIOS_E_LIMIT, "%s: %zu bytes is over %zu", what, *out_len, max);
    }
    *out = p;
    return AIOS_OK;
}

static int hex_nibble(uint8_t c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Exactly 2*n hex digits, either case. */
static int hex_exact(uint8_t *out, size_t n, const char *s, size_t len)
{
    size_t i;
    if (len != 2 * n)
        return 0;
    for (i = 0; i < n; i++) {
        int hi = hex_nibble((uint8_t)s[2 * i]), lo = hex_nibble((uint8_t)s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return 0;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 1;
}

/* The rule of MANIFEST.md 5.3 is the walker's: one implementation. */
int aios__mb_path_check(const char *p, size_t len, const char *what)
{
    return aios__mf_path_check(p, len, what);
}

static int key_alg(const aios_key *key, aios__keyenc_alg *alg)
{
    switch (aios_key_get_type(key)) {
    case AIOS_KEY_ED25519:    *alg = AIOS__KEYENC_ED25519; return AIOS_OK;
    case AIOS_KEY_ECDSA_P256: *alg = AIOS__KEYENC_P256; return AIOS_OK;
    case AIOS_KEY_ECDSA_P384: *alg = AIOS__KEYENC_P384; return AIOS_OK;
    case AIOS_KEY_ECDSA_P521: *alg = AIOS__KEYENC_P521; return AIOS_OK;
    default:
        return aios__fail(AIOS_E_KEY_USAGE, "manifest: a %s key cannot verify or sign a manifest "
                          "(ECDSA P-256/P-384/P-521 or Ed25519 only)",
                          aios_key_type_name(aios_key_get_type(key)) ?
                          aios_key_type_name(aios_key_get_type(key)) : "unknown");
    }
}

/* The ECDSA curve of a key algorithm: the hash follows it (4.2). */
int aios__mb_alg_curve(int alg)
{
    return alg == AIOS__KEYENC_P521 ? AIOS__EC_P521
         : alg == AIOS__KEYENC_P384 ? AIOS__EC_P384 : AIOS__EC_P256;
}

/* ================================================================ bundle */

void aios__mb_bundle_free(aios__mb_bundle *b)
{
    size_t i;
    if (b == NULL)
        return;
    aios__free(b->hint);
    aios__free(b->raw_key);
    for (i = 0; i < b->cert_count; i++)
        aios__free(b->certs[i].p);
    aios__free(b->payload);
    aios__free(b->sig);
    aios__free(b);
}

static int parse_material(aios__mb_bundle *b, const json_t *vm, int profile)
{
    const json_t *pk = json_object_get(vm, "publicKey");
    const json_t *ch = json_object_get(vm, "x509CertificateChain");
    const json_t *ce = json_object_get(vm, "certificate");
    const json_t *tl = json_object_get(vm, "tlogEntries");
    int rc;

    if (!json_is_object(vm))
        return aios__fail(AIOS_E_FORMAT, "bundle: verificationMaterial is not an object");
    if ((pk != NULL) + (ch != NULL) + (ce != NULL) != 1)
        return aios__fail(AIOS_E_FORMAT, "bundle: verificationMaterial must hold exactly one of "
                          "publicKey, x509CertificateChain, certificate");
    if (pk) {
        const json_t *hint = json_object_get(pk, "hint"), *raw = json_object_get(pk, "rawBytes");
        b->method = AIOS__MB_METHOD_KEY;
        if (!json_is_object(pk))
            return aios__fail(AIOS_E_FORMAT, "bundle: publicKey is not an object");
        if (hint && !json_is_null(hint) && !json_is_string(hint))
            return aios__fail(AIOS_E_FORMAT, "bundle: publicKey.hint is not a string");
        if (hint && json_is_string(hint) && json_string_length(hint) > 0) {
            /* Kept (its first 65 bytes at most: never 64 hex digits when
             * longer) for the key-identity step, which AIOS__MB_IGNORE_HINT
             * skips: an over-long hint is a mismatch only there. */
            size_t n = json_string_length(hint) > 65 ? 65 : json_string_length(hint);
            if ((b->hint = aios__malloc(n + 1)) == NULL)
                return aios__nomem("bundle: publicKey.hint");
            memcpy(b->hint, json_string_value(hint), n);
            b->hint[n] = '\0';
            if (memchr(json_string_value(hint), 0, json_string_length(hint)) != NULL)
                b->hint[0] = '?';   /* a NUL inside: never a valid hint either */
        }
        if (raw && (rc = aios__mb_b64_member(&b->raw_key, &b->raw_key_len, raw,
                                             AIOS__MB_RAWKEY_MAX,
                                             "bundle: publicKey.rawBytes")) != AIOS_OK)
            return rc;
        if (profile == AIOS__MB_PROFILE_OMS_1_0 && b->hint == NULL && b->raw_key == NULL)
            return aios__fail(AIOS_E_FORMAT, "bundle: publicKey has neither hint nor rawBytes "
                              "(required in the oms-1.0 profile)");
    } else if (ch) {
        const json_t *certs = json_object_get(ch, "certificates");
        size_t i;
        b->method = AIOS__MB_METHOD_CHAIN;
        if (!json_is_object(ch) || !json_is_array(certs) || json_array_size(certs) == 0)
            return aios__fail(AIOS_E_FORMAT, "bundle: x509CertificateChain.certificates is not a "
                              "non-empty array");
        if (json_array_size(certs) > AIOS__MB_CERTS_MAX)
            return aios__fail(AIOS_E_LIMIT, "bundle: %zu certificates in the chain (at most %d)",
                              json_array_size(certs), AIOS__MB_CERTS_MAX);
        for (i = 0; i < json_array_size(certs); i++) {
            const json_t *c = json_array_get(certs, i);
            char what[64];
            snprintf(what, sizeof(what), "bundle: certificates[%zu].rawBytes", i);
            if (!json_is_object(c))
                return aios__fail(AIOS_E_FORMAT, "bundle: certificates[%zu] is not an object", i);
            rc = aios__mb_b64_member(&b->certs[i].p, &b->certs[i].len,
                                     json_object_get(c, "rawBytes"), AIOS__MB_CERT_MAX, what);
            if (rc != AIOS_OK)
                return rc;
            b->cert_count++;
            if (b->certs[i].len == 0)
                return aios__fail(AIOS_E_FORMAT, "%s is empty", what);
        }
    } else {
        b->method = AIOS__MB_METHOD_KEYLESS;
        if (!json_is_object(ce))
            return aios__fail(AIOS_E_FORMAT, "bundle: certificate is not an object");
        if ((rc = aios__mb_b64_member(&b->certs[0].p, &b->certs[0].len,
                                      json_object_get(ce, "rawBytes"), AIOS__MB_CERT_MAX,
                                      "bundle: certificate.rawBytes")) != AIOS_OK)
            return rc;
        b->cert_count = 1;
        if (b->certs[0].len == 0)
            return aios__fail(AIOS_E_FORMAT, "bundle: certificate.rawBytes is empty");
    }
    if (tl) {
        size_t i;
        if (!json_is_array(tl))
            return aios__fail(AIOS_E_FORMAT, "bundle: tlogEntries is not an array");
        if (json_array_size(tl) > AIOS__MB_TLOG_MAX)
            return aios__fail(AIOS_E_LIMIT, "bundle: %zu tlogEntries (at most %d)",
                              json_array_size(tl), AIOS__MB_TLOG_MAX);
        for (i = 0; i < json_array_size(tl); i++)
            if (!json_is_object(json_array_get(tl, i)))
                return aios__fail(AIOS_E_FORMAT, "bundle: tlogEntries[%zu] is not an object", i);
        b->tlog_count = json_array_size(tl);
    }
    if (b->method == AIOS__MB_METHOD_KEYLESS && b->tlog_count == 0)
        return aios__fail(AIOS_E_FORMAT, "bundle: a keyless (certificate) bundle without "
                          "tlogEntries");
    return AIOS_OK;
}

static int parse_envelope(aios__mb_bundle *b, const json_t *env)
{
    static const char *const env_members[] = { "payload", "payloadType", "signatures", NULL };
    static const char *const sig_members[] = { "sig", "keyid", NULL };
    const json_t *sigs, *s0, *keyid, *pt;
    int rc;

    if (!json_is_object(env))
        return aios__fail(AIOS_E_FORMAT, "bundle: dsseEnvelope is not an object");
    if ((rc = members_only(env, env_members, "bundle: dsseEnvelope")) != AIOS_OK)
        return rc;
    sigs = json_object_get(env, "signatures");
    if (!json_is_array(sigs))
        return aios__fail(AIOS_E_FORMAT, "bundle: dsseEnvelope.signatures is missing or not an "
                          "array");
    if (json_array_size(sigs) != 1)
        return aios__fail(AIOS__MB_E_SIGNATURES, "bundle: %zu signatures in the envelope "
                          "(exactly one is allowed)", json_array_size(sigs));
    pt = json_object_get(env, "payloadType");
    if (!json_is_string(pt))
        return aios__fail(AIOS_E_FORMAT, "bundle: dsseEnvelope.payloadType is missing or not a "
                          "string");
    if (!str_eq(pt, AIOS__MB_PAYLOAD_TYPE))
        return aios__fail(AIOS__MB_E_PREDICATE, "bundle: payloadType is not %s",
                          AIOS__MB_PAYLOAD_TYPE);
    s0 = json_array_get(sigs, 0);
    if (!json_is_object(s0))
        return aios__fail(AIOS_E_FORMAT, "bundle: signatures[0] is not an object");
    if ((rc = members_only(s0, sig_members, "bundle: signatures[0]")) != AIOS_OK)
        return rc;
    keyid = json_object_get(s0, "keyid");
    if (keyid && !json_is_null(keyid) && !json_is_string(keyid))
        return aios__fail(AIOS_E_FORMAT, "bundle: signatures[0].keyid is neither a string nor "
                          "null");
    if ((rc = aios__mb_b64_member(&b->payload, &b->payload_len, json_object_get(env, "payload"),
                                  AIOS__MB_PAYLOAD_MAX, "bundle: dsseEnvelope.payload")) != AIOS_OK)
        return rc;
    if (b->payload_len == 0)
        return aios__fail(AIOS_E_FORMAT, "bundle: the payload is empty");
    if ((rc = aios__mb_b64_member(&b->sig, &b->sig_len, json_object_get(s0, "sig"),
                                  AIOS__MB_SIG_MAX, "bundle: signatures[0].sig")) != AIOS_OK)
        return rc;
    if (b->sig_len == 0)
        return aios__fail(AIOS_E_FORMAT, "bundle: signatures[0].sig is empty");
    return AIOS_OK;
}

int aios__mb_bundle_parse(aios__mb_bundle **out, const uint8_t *json, size_t len,
                          size_t max_len, int profile)
{
    static const char *const top[] = { "mediaType", "verificationMaterial", "dsseEnvelope",
                                       "messageSignature", NULL };
    aios__mb_bundle *b = NULL;
    json_t *root = NULL;
    const json_t *mt, *vm, *env;
    int rc;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    AIOS__CHECK_ARG(json != NULL || len == 0, "json is NULL with a nonzero length");
    if (max_len == 0 || max_len > AIOS__MB_BUNDLE_MAX)
        max_len = AIOS__MB_BUNDLE_MAX;
    if (len == 0)
        return aios__fail(AIOS_E_FORMAT, "bundle: empty");
    if (len > max_len)
        return aios__fail(AIOS_E_LIMIT, "bundle: %zu bytes is over %zu", len, max_len);
    if ((rc = json_load_object(&root, json, len, "bundle")) != AIOS_OK)
        return rc;
    if ((rc = members_only(root, top, "bundle")) != AIOS_OK)
        goto done;
    mt = json_object_get(root, "mediaType");
    if (!json_is_string(mt)) {
        rc = aios__fail(AIOS_E_FORMAT, "bundle: mediaType is missing or not a string");
        goto done;
    }
    if (!str_eq(mt, AIOS__MB_MEDIA_TYPE) && !str_eq(mt, AIOS__MB_MEDIA_TYPE_OLD)) {
        rc = aios__fail(AIOS_E_VERSION, "bundle: media type \"%.100s\" is not a Sigstore "
                        "bundle v0.3", json_string_value(mt));
        goto done;
    }
    vm = json_object_get(root, "verificationMaterial");
    env = json_object_get(root, "dsseEnvelope");
    if (vm == NULL) {
        rc = aios__fail(AIOS_E_FORMAT, "bundle: verificationMaterial is missing");
        goto done;
    }
    if (env == NULL && json_object_get(root, "messageSignature") != NULL) {
        rc = aios__fail(AIOS_E_UNSUPPORTED, "bundle: a messageSignature bundle (not DSSE)");
        goto done;
    }
    if (env == NULL || json_object_get(root, "messageSignature") != NULL) {
        rc = aios__fail(AIOS_E_FORMAT, "bundle: needs a dsseEnvelope (and no messageSignature)");
        goto done;
    }
    if ((b = aios__calloc(1, sizeof(*b))) == NULL) {
        rc = aios__nomem("bundle");
        goto done;
    }
    if ((rc = parse_material(b, vm, profile)) != AIOS_OK)
        goto done;
    if ((rc = parse_envelope(b, env)) != AIOS_OK)
        goto done;
    *out = b;
    b = NULL;
done:
    aios__mb_bundle_free(b);
    json_decref(root);
    return rc;
}

/* =================================================================== PAE */

#define PAE_PREFIX     "DSSEv1 28 " AIOS__MB_PAYLOAD_TYPE " "
#define PAE_PREFIX_OLD "DSSEV1 28 " AIOS__MB_PAYLOAD_TYPE " "

int aios__mb_pae(uint8_t **out, size_t *out_len, const uint8_t *payload, size_t len)
{
    char num[24];
    size_t pl = sizeof(PAE_PREFIX) - 1, nl, total;
    uint8_t *p;

    AIOS__CHECK_ARG(out != NULL && out_len != NULL, "out is NULL");
    *out = NULL;
    *out_len = 0;
    AIOS__CHECK_ARG(payload != NULL || len == 0, "payload is NULL with a nonzero length");
    if (len > AIOS__MB_PAYLOAD_MAX)
        return aios__fail(AIOS_E_LIMIT, "PAE: a payload of %zu bytes", len);
    nl = (size_t)snprintf(num, sizeof(num), "%zu ", len);
    total = pl + nl + len;
    if ((p = aios__malloc(total ? total : 1)) == NULL)
        return aios__nomem("PAE");
    memcpy(p, PAE_PREFIX, pl);
    memcpy(p + pl, num, nl);
    if (len)
        memcpy(p + pl + nl, payload, len);
    *out = p;
    *out_len = total;
    return AIOS_OK;
}

/* CPython's repr() of bytes (MANIFEST.md 4.6). */
int aios__mb_pae_legacy(uint8_t **out, size_t *out_len, const uint8_t *payload, size_t len)
{
    static const char hexd[] = "0123456789abcdef";
    char num[24];
    size_t pl = sizeof(PAE_PREFIX_OLD) - 1, nl, i, o;
    int has_sq = memchr(payload, '\'', len) != NULL, has_dq = memchr(payload, '"', len) != NULL;
    uint8_t q = (has_sq && !has_dq) ? '"' : '\'';
    uint8_t *p;

    AIOS__CHECK_ARG(out != NULL && out_len != NULL, "out is NULL");
    *out = NULL;
    *out_len = 0;
    AIOS__CHECK_ARG(payload != NULL || len == 0, "payload is NULL with a nonzero length");
    if (len > AIOS__MB_PAYLOAD_MAX)
        return aios__fail(AIOS_E_LIMIT, "PAE: a payload of %zu bytes", len);
    nl = (size_t)snprintf(num, sizeof(num), "%zu ", len);
    /* at most 4 output bytes per input byte, plus b'' */
    if ((p = aios__malloc(pl + nl + 3 + 4 * len)) == NULL)
        return aios__nomem("legacy PAE");
    memcpy(p, PAE_PREFIX_OLD, pl);
    memcpy(p + pl, num, nl);
    o = pl + nl;
    p[o++] = 'b';
    p[o++] = q;
    for (i = 0; i < len; i++) {
        uint8_t c = payload[i];
        if (c == q || c == '\\') {
            p[o++] = '\\';
            p[o++] = c;
        } else if (c == '\t' || c == '\n' || c == '\r') {
            p[o++] = '\\';
            p[o++] = c == '\t' ? 't' : c == '\n' ? 'n' : 'r';
        } else if (c < 0x20 || c >= 0x7F) {
            p[o++] = '\\';
            p[o++] = 'x';
            p[o++] = (uint8_t)hexd[c >> 4];
            p[o++] = (uint8_t)hexd[c & 15];
        } else {
            p[o++] = c;
        }
    }
    p[o++] = q;
    *out = p;
    *out_len = o;
    return AIOS_OK;
}

/* ============================================================= statement */

typedef struct stmt {
    aios__mb_statement pub;      /* first: the public view */
    aios__mb_resource *res;
    char  *names;                /* arena of resource names, NUL after each */
    char **ignore;
    size_t ignore_count;
    char  *subject;
    char  *prov;
} stmt;

void aios__mb_statement_free(aios__mb_statement *st)
{
    stmt *s = (stmt *)st;
    size_t i;
    if (s == NULL)
        return;
    for (i = 0; i < s->ignore_count; i++)
        aios__free(s->ignore[i]);
    aios__free(s->ignore);
    aios__free(s->res);
    aios__free(s->names);
    aios__free(s->subject);
    if (s->prov)
        free(s->prov);   /* json_dumps: Jansson's malloc */
    aios__free(s);
}

static const char *hash_name(aios__mb_hash h)
{
    return h == AIOS__MB_BLAKE2B ? "blake2b" : "sha256";
}

static size_t hash_len(aios__mb_hash h)
{
    return h == AIOS__MB_BLAKE2B ? 64 : 32;
}

/* Canonical decimal (5.4): "0" or [1-9][0-9]*, <= 2^63-1. */
static int parse_dec(uint64_t *v, const char *s, size_t n)
{
    size_t i;
    uint64_t acc = 0;
    if (n == 0 || n > 19 || (n > 1 && s[0] == '0'))
        return 0;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        acc = acc * 10 + (uint64_t)(s[i] - '0');
    }
    if (acc > (uint64_t)INT64_MAX)
        return 0;
    *v = acc;
    return 1;
}

/* The shard size: an integer, or a real with no fraction, 1..2^53 (5.2). */
static int json_shard_size(uint64_t *out, const json_t *v)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 1 || (uint64_t)i > AIOS__MB_SHARD_SIZE_MAX)
            return 0;
        *out = (uint64_t)i;
        return 1;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d >= 1.0) || d > (double)AIOS__MB_SHARD_SIZE_MAX || (double)(uint64_t)d != d)
            return 0;
        *out = (uint64_t)d;
        return 1;
    }
    return 0;
}

/* Order used to find duplicates and to check shard runs: path bytes,
 * then start, then end (the order of the check only, not a profile order).
 * The sorts work on arrays of pointers, so the comparators need no state. */
static int res_cmp(const void *a, const void *b)
{
    const aios__mb_resource *x = *(const aios__mb_resource *const *)a;
    const aios__mb_resource *y = *(const aios__mb_resource *const *)b;
    size_t n = x->path_len < y->path_len ? x->path_len : y->path_len;
    int c = memcmp(x->name, y->name, n);
    if (c)
        return c;
    if (x->path_len != y->path_len)
        return x->path_len < y->path_len ? -1 : 1;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Component order (5.3): memcmp with '/' as 0x00. */
static int comp_cmp(const void *a, const void *b)
{
    const aios__mb_resource *x = *(const aios__mb_resource *const *)a;
    const aios__mb_resource *y = *(const aios__mb_resource *const *)b;
    size_t i, n = x->path_len < y->path_len ? x->path_len : y->path_len;
    for (i = 0; i < n; i++) {
        uint8_t c = (uint8_t)x->name[i], d = (uint8_t)y->name[i];
        if (c == '/') c = 0;
        if (d == '/') d = 0;
        if (c != d)
            return c < d ? -1 : 1;
    }
    return x->path_len < y->path_len ? -1 : x->path_len > y->path_len;
}

/* The same two orders over strings (ignore paths): code points, and
 * components ('/' as 0x00). */
static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int str_comp_cmp(const void *a, const void *b)
{
    const unsigned char *x = *(const unsigned char *const *)a;
    const unsigned char *y = *(const unsigned char *const *)b;
    for (;; x++, y++) {
        unsigned c = *x == '/' ? 0u : *x, d = *y == '/' ? 0u : *y;
        if (*x == 0 || *y == 0)
            return (*x != 0) - (*y != 0);
        if (c != d)
            return c < d ? -1 : 1;
    }
}

/* A new array of pointers to res[0..n), sorted by cmp. */
static const aios__mb_resource **sorted_ptrs(const aios__mb_resource *res, size_t n,
                                             int (*cmp)(const void *, const void *))
{
    const aios__mb_resource **v = aios__calloc(n, sizeof(*v));
    size_t i;
    if (v == NULL)
        return NULL;
    for (i = 0; i < n; i++)
        v[i] = &res[i];
    qsort(v, n, sizeof(*v), cmp);
    return v;
}

/* Duplicates, the "." rule and shard runs; listed order in oms-1.0. */
static int check_resources(stmt *s, int profile)
{
    aios__mb_statement *st = &s->pub;
    size_t n = st->resource_count, i;
    const aios__mb_resource **v;
    int rc = AIOS_OK, dots = 0;

    for (i = 0; i < n; i++)
        if (s->res[i].path_len == 1 && s->res[i].name[0] == '.')
            dots++;
    if (dots) {
        if ((st->method == AIOS__MB_FILES && n != 1) ||
            (st->method == AIOS__MB_SHARDS && (size_t)dots != n))
            return aios__fail(AIOS__MB_E_PATH, "statement: a \".\" resource (single-file model) "
                              "beside other files");
        st->flags |= AIOS__MB_F_SINGLE_FILE;
    }
    if (profile == AIOS__MB_PROFILE_OMS_1_0 && !(st->flags & AIOS__MB_F_LEGACY)) {
        for (i = 1; i < n; i++) {
            const aios__mb_resource *a = &s->res[i - 1], *b = &s->res[i];
            size_t m = a->name_len < b->name_len ? a->name_len : b->name_len;
            int c = memcmp(a->name, b->name, m);
            if (c > 0 || (c == 0 && a->name_len >= b->name_len)) {
                if (c == 0 && a->name_len == b->name_len)
                    return aios__fail(AIOS__MB_E_DUPLICATE, "statement: resources[%zu] and "
                                      "[%zu] have the same name", i - 1, i);
                return aios__fail(AIOS_E_FORMAT, "statement: resources[%zu] is not in code-point "
                                  "order (oms-1.0)", i);
            }
        }
    }
    if ((v = sorted_ptrs(s->res, n, res_cmp)) == NULL)
        return aios__nomem("statement: resources");
    for (i = 0; i < n && rc == AIOS_OK; i++) {
        const aios__mb_resource *r = v[i];
        const aios__mb_resource *p = i ? v[i - 1] : NULL;
        size_t ri = (size_t)(r - s->res), pi = p ? (size_t)(p - s->res) : 0;
        int same_path = p && p->path_len == r->path_len &&
                        memcmp(p->name, r->name, r->path_len) == 0;
        if (same_path && (st->method == AIOS__MB_FILES ||
                          (p->start == r->start && p->end == r->end))) {
            rc = aios__fail(AIOS__MB_E_DUPLICATE, "statement: resources[%zu] and [%zu] have the "
                            "same name", pi < ri ? pi : ri, pi < ri ? ri : pi);
            break;
        }
        if (st->method != AIOS__MB_SHARDS)
            continue;
        /* shard runs: [0,s), [s,2s), ..., last of 1..s bytes */
        if (!same_path ? r->start != 0 : (r->start != p->end || p->end - p->start != st->shard_size))
            rc = aios__fail(AIOS_E_FORMAT, "statement: resources[%zu]: the shards of a file are "
                            "not contiguous runs of shard_size bytes", ri);
        else if (r->end - r->start > st->shard_size)
            rc = aios__fail(AIOS_E_FORMAT, "statement: resources[%zu]: a shard longer than "
                            "shard_size", ri);
    }
    aios__free(v);
    return rc;
}

/* Fill res from a name string, an algorithm (NULL: legacy, sha256) and a
 * hex digest; names go to the arena at *arena_pos. */
static int fill_resource(stmt *s, aios__mb_resource *r, size_t i, const json_t *name,
                         const json_t *alg, const json_t *digest, size_t *arena_pos)
{
    aios__mb_statement *st = &s->pub;
    const char *nm = json_string_value(name);
    size_t nl = json_string_length(name), hl = hash_len(st->hash_type);
    char what[64];
    int rc;

    snprintf(what, sizeof(what), "statement: resources[%zu].name", i);
    memcpy(s->names + *arena_pos, nm, nl);
    s->names[*arena_pos + nl] = '\0';
    r->name = s->names + *arena_pos;
    r->name_len = nl;
    r->path_len = nl;
    *arena_pos += nl + 1;
    if (memchr(nm, 0, nl) != NULL)
        return aios__fail(AIOS__MB_E_PATH, "%s: a NUL byte in a name", what);
    if (st->method == AIOS__MB_SHARDS) {
        const char *c2 = NULL, *c1 = NULL;
        size_t k;
        for (k = nl; k > 0; k--)
            if (nm[k - 1] == ':') {
                if (c2 == NULL)
                    c2 = nm + k - 1;
                else {
                    c1 = nm + k - 1;
                    break;
                }
            }
        if (c1 == NULL || !parse_dec(&r->start, c1 + 1, (size_t)(c2 - c1 - 1)) ||
            !parse_dec(&r->end, c2 + 1, (size_t)(nm + nl - c2 - 1)) || r->start >= r->end)
            return aios__fail(AIOS_E_FORMAT, "%s: not <path>:<start>:<end> with canonical "
                              "decimals and start < end", what);
        r->path_len = (size_t)(c1 - nm);
    }
    if (!(r->path_len == 1 && nm[0] == '.') &&
        (rc = aios__mb_path_check(nm, r->path_len, what)) != AIOS_OK)
        return rc;
    if (alg != NULL) {
        const char *hn = hash_name(st->hash_type);
        int ok = json_is_string(alg) && str_eq(alg, hn);
        if (!ok && json_is_string(alg) && st->method == AIOS__MB_SHARDS) {
            char want[64];
            snprintf(want, sizeof(want), "%s-sharded-%" PRIu64, hn, st->shard_size);
            ok = str_eq(alg, want);
        }
        if (!ok)
            return aios__fail(AIOS_E_FORMAT, "statement: resources[%zu].algorithm does not match "
                              "the serialization", i);
    }
    if (!json_is_string(digest) ||
        !hex_exact(r->digest, hl, json_string_value(digest), json_string_length(digest)))
        return aios__fail(AIOS_E_FORMAT, "statement: resources[%zu].digest is not %zu hex "
                          "digits", i, 2 * hl);
    r->digest_len = hl;
    return AIOS_OK;
}

/* Pass 1 over resource-like objects: types and the arena size. */
static int arena_size(size_t *total, const json_t *arr, int legacy)
{
    size_t i, t = 0;
    for (i = 0; i < json_array_size(arr); i++) {
        const json_t *o = json_array_get(arr, i), *nm = json_object_get(o, "name");
        if (!json_is_object(o) || !json_is_string(nm))
            return aios__fail(AIOS_E_FORMAT, "statement: %s[%zu] is not an object with a string "
                              "name", legacy ? "subject" : "resources", i);
        if (json_string_length(nm) > AIOS__MB_PATH_MAX + 48)
            return aios__fail(AIOS__MB_E_PATH, "statement: %s[%zu].name is over %d bytes",
                              legacy ? "subject" : "resources", i, AIOS__MB_PATH_MAX);
        t += json_string_length(nm) + 1;
    }
    *total = t;
    return AIOS_OK;
}

static int alloc_resources(stmt *s, const json_t *arr, int legacy)
{
    size_t n = json_array_size(arr), total = 0;
    int rc;

    if (n == 0)
        return aios__fail(AIOS__MB_E_EMPTY, "statement: no resources");
    if (n > AIOS__MB_RESOURCES_MAX)
        return aios__fail(AIOS_E_LIMIT, "statement: %zu resources (at most %zu)", n,
                          AIOS__MB_RESOURCES_MAX);
    if ((rc = arena_size(&total, arr, legacy)) != AIOS_OK)
        return rc;
    if ((s->res = aios__calloc(n, sizeof(*s->res))) == NULL ||
        (s->names = aios__malloc(total)) == NULL)
        return aios__nomem("statement: resources");
    s->pub.resources = s->res;
    s->pub.resource_count = n;
    return AIOS_OK;
}

static int parse_serialization(stmt *s, const json_t *ser, int profile)
{
    aios__mb_statement *st = &s->pub;
    const json_t *m = json_object_get(ser, "method"), *h = json_object_get(ser, "hash_type");
    const json_t *ss = json_object_get(ser, "shard_size"), *sl = json_object_get(ser, "allow_symlinks");
    const json_t *ig = json_object_get(ser, "ignore_paths");
    size_t i;
    int rc;

    if (!json_is_object(ser))
        return aios__fail(AIOS_E_FORMAT, "statement: predicate.serialization is missing or not "
                          "an object");
    if (!json_is_string(m) || !json_is_string(h))
        return aios__fail(AIOS_E_FORMAT, "statement: serialization.method and hash_type must be "
                          "strings");
    if (str_eq(m, "files"))
        st->method = AIOS__MB_FILES;
    else if (str_eq(m, "shards"))
        st->method = AIOS__MB_SHARDS;
    else
        return aios__fail(AIOS_E_UNSUPPORTED, "statement: serialization method \"%.32s\"",
                          json_string_value(m));
    if (str_eq(h, "sha256"))
        st->hash_type = AIOS__MB_SHA256;
    else if (str_eq(h, "blake2b"))
        st->hash_type = AIOS__MB_BLAKE2B;
    else
        return aios__fail(AIOS_E_UNSUPPORTED, "statement: hash_type \"%.32s\"",
                          json_string_value(h));
    if (st->method == AIOS__MB_SHARDS) {
        if (!json_shard_size(&st->shard_size, ss))
            return aios__fail(AIOS_E_FORMAT, "statement: shard_size must be an integer in "
                              "1..2^53");
    } else if (ss != NULL && profile == AIOS__MB_PROFILE_OMS_1_0) {
        return aios__fail(AIOS_E_FORMAT, "statement: shard_size with the files method (oms-1.0)");
    }
    if (!json_is_boolean(sl))
        return aios__fail(AIOS_E_FORMAT, "statement: serialization.allow_symlinks is missing or "
                          "not a boolean");
    st->allow_symlinks = json_is_true(sl);
    if (ig == NULL)
        return AIOS_OK;
    if (!json_is_array(ig))
        return aios__fail(AIOS_E_FORMAT, "statement: ignore_paths is not an array");
    if (json_array_size(ig) > AIOS__MB_IGNORE_MAX)
        return aios__fail(AIOS_E_LIMIT, "statement: %zu ignore_paths (at most %d)",
                          json_array_size(ig), AIOS__MB_IGNORE_MAX);
    if (json_array_size(ig) == 0)
        return AIOS_OK;
    if ((s->ignore = aios__calloc(json_array_size(ig), sizeof(char *))) == NULL)
        return aios__nomem("statement: ignore_paths");
    for (i = 0; i < json_array_size(ig); i++) {
        const json_t *p = json_array_get(ig, i);
        char what[48];
        snprintf(what, sizeof(what), "statement: ignore_paths[%zu]", i);
        if (!json_is_string(p))
            return aios__fail(AIOS_E_FORMAT, "%s is not a string", what);
        if ((rc = aios__mb_path_check(json_string_value(p), json_string_length(p), what)) != AIOS_OK)
            return rc;
        if ((s->ignore[i] = aios__strdup(json_string_value(p))) == NULL)
            return aios__nomem(what);
        s->ignore_count++;
    }
    st->ignore_paths = (const char *const *)s->ignore;
    st->ignore_count = s->ignore_count;
    return AIOS_OK;
}

/* A string of at most max bytes without NUL. */
static int prov_text(const json_t *v, size_t min, size_t max)
{
    size_t n;
    if (!json_is_string(v))
        return 0;
    n = json_string_length(v);
    return n >= min && n <= max && memchr(json_string_value(v), 0, n) == NULL;
}

/* The nesting depth of v (a scalar 0, an object or array 1 + its deepest
 * member), counted up to limit + 1 at most. */
static size_t json_depth(const json_t *v, size_t limit)
{
    size_t d = 0, i;
    const char *k;
    const json_t *m;
    if (limit == 0)
        return json_is_object(v) || json_is_array(v);
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, m) {
            size_t c = json_depth(m, limit - 1);
            if (c > d && (d = c) >= limit)
                break;
        }
        return d + 1;
    }
    if (json_is_array(v)) {
        json_array_foreach(v, i, m) {
            size_t c = json_depth(m, limit - 1);
            if (c > d && (d = c) >= limit)
                break;
        }
        return d + 1;
    }
    return 0;
}

/* The statement's object, its subject array, the subject, its annotations:
 * four levels above the provenance object within the reader's limit. */
#define PROVENANCE_DEPTH_MAX (AIOS__MB_DEPTH_MAX - 4)

/* The rules of MANIFEST.md 5.7, for a provenance object read (bad: status
 * AIOS_E_FORMAT) or about to be signed (AIOS_E_INVALID_ARGUMENT, so that
 * sign never writes a bundle its own reader refuses).  Too large:
 * AIOS_E_LIMIT either way. */
static int provenance_check(const json_t *pv, int bad, const char *what)
{
    static const char *const texts[] = { "model", "version", "approver", "approved_at" };
    const json_t *v;
    const char *key;
    size_t i;

    if (!json_is_object(pv) || !json_is_integer(v = json_object_get(pv, "v")) ||
        json_integer_value(v) != 1)
        return aios__fail(bad, "%s is not an object with v = 1", what);
    if (json_dumpb(pv, NULL, 0, DUMP_FLAGS) > AIOS__MB_PROVENANCE_MAX)
        return aios__fail(AIOS_E_LIMIT, "%s over %zu bytes", what, AIOS__MB_PROVENANCE_MAX);
    if (json_depth(pv, PROVENANCE_DEPTH_MAX) > PROVENANCE_DEPTH_MAX)
        return aios__fail(AIOS_E_LIMIT, "%s nested deeper than %d levels", what,
                          PROVENANCE_DEPTH_MAX);
    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        if ((v = json_object_get(pv, texts[i])) != NULL && !prov_text(v, 0, AIOS__MB_PROVENANCE_MAX))
            return aios__fail(bad, "%s: \"%s\" is not a string without NUL", what, texts[i]);
    if ((v = json_object_get(pv, "datasets")) != NULL) {
        const json_t *d;
        if (!json_is_array(v))
            return aios__fail(bad, "%s: \"datasets\" is not an array", what);
        json_array_foreach(v, i, d)
            if (!prov_text(d, 0, AIOS__MB_PROVENANCE_MAX))
                return aios__fail(bad, "%s: datasets[%zu] is not a string without NUL", what, i);
    }
    if ((v = json_object_get(pv, "labels")) != NULL) {
        const json_t *l;
        if (!json_is_object(v))
            return aios__fail(bad, "%s: \"labels\" is not an object", what);
        if (json_object_size(v) > 256)
            return aios__fail(AIOS_E_LIMIT, "%s: %zu labels (at most 256)", what,
                              json_object_size(v));
        json_object_foreach((json_t *)v, key, l) {
            size_t kn = strlen(key);
            if (kn < 1 || kn > 256)
                return aios__fail(bad, "%s: a label's key of %zu bytes (1 to 256)", what, kn);
            if (!prov_text(l, 0, 4096))
                return aios__fail(bad, "%s: the label \"%.64s\" is not a string of at most "
                                  "4096 bytes without NUL", what, key);
        }
    }
    return AIOS_OK;
}

int aios__mb_provenance_check_text(const char *json, const char *what)
{
    json_error_t err;
    json_t *pv = json_loads(json, LOAD_FLAGS, &err);
    int rc;
    if (pv == NULL)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s is not JSON (line %d: %.80s)", what,
                          err.line, err.text);
    rc = provenance_check(pv, AIOS_E_INVALID_ARGUMENT, what);
    json_decref(pv);
    return rc;
}

static int parse_provenance(stmt *s, const json_t *subj)
{
    const json_t *ann = json_object_get(subj, "annotations"), *pv;
    int rc;
    if (ann == NULL || !json_is_object(ann) || (pv = json_object_get(ann, "aios_provenance")) == NULL)
        return AIOS_OK;
    if ((rc = provenance_check(pv, AIOS_E_FORMAT, "statement: aios_provenance")) != AIOS_OK)
        return rc;
    if ((s->prov = json_dumps(pv, DUMP_FLAGS)) == NULL)
        return aios__nomem("statement: aios_provenance");
    s->pub.provenance_json = s->prov;
    return AIOS_OK;
}

/* Digests/v0.1 (section 8): resources = subjects; root derived over the
 * component order (6.2). */
static int parse_legacy(stmt *s, const json_t *subjects)
{
    aios__mb_statement *st = &s->pub;
    size_t i, pos = 0;
    const aios__mb_resource **v;
    aios__sha256_ctx h;
    int rc;

    st->flags |= AIOS__MB_F_LEGACY;
    st->method = AIOS__MB_FILES;
    st->hash_type = AIOS__MB_SHA256;
    if ((rc = alloc_resources(s, subjects, 1)) != AIOS_OK)
        return rc;
    for (i = 0; i < st->resource_count; i++) {
        const json_t *o = json_array_get(subjects, i);
        const json_t *d = json_object_get(json_object_get(o, "digest"), "sha256");
        if ((rc = fill_resource(s, &s->res[i], i, json_object_get(o, "name"), NULL, d, &pos))
            != AIOS_OK)
            return rc;
    }
    if ((s->subject = aios__strdup("")) == NULL)
        return aios__nomem("statement");
    st->subject_name = s->subject;
    if ((v = sorted_ptrs(s->res, st->resource_count, comp_cmp)) == NULL)
        return aios__nomem("statement");
    aios__sha256_init(&h);
    for (i = 0; i < st->resource_count; i++)
        aios__sha256_update(&h, v[i]->digest, 32);
    aios__sha256_final(&h, st->root);
    aios__free(v);
    return AIOS_OK;
}

int aios__mb_statement_parse(aios__mb_statement **out, const uint8_t *payload, size_t len,
                             int profile, int legacy)
{
    stmt *s = NULL;
    json_t *root = NULL;
    const json_t *ty, *pt, *subj, *s0, *nm, *dg, *pred, *res;
    uint8_t calc[32];
    size_t i, pos = 0;
    int rc, is_v01;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    AIOS__CHECK_ARG(payload != NULL || len == 0, "payload is NULL with a nonzero length");
    if (len == 0)
        return aios__fail(AIOS_E_FORMAT, "statement: empty");
    if (len > AIOS__MB_PAYLOAD_MAX)
        return aios__fail(AIOS_E_LIMIT, "statement: %zu bytes is over %zu", len,
                          AIOS__MB_PAYLOAD_MAX);
    if ((rc = json_load_object(&root, payload, len, "statement")) != AIOS_OK)
        return rc;
    if ((s = aios__calloc(1, sizeof(*s))) == NULL) {
        rc = aios__nomem("statement");
        goto done;
    }
    aios__sha256(s->pub.statement_digest, payload, len);
    ty = json_object_get(root, "_type");
    pt = json_object_get(root, "predicateType");
    if (!json_is_string(ty) || !json_is_string(pt)) {
        rc = aios__fail(AIOS_E_FORMAT, "statement: _type or predicateType missing or not a "
                        "string");
        goto done;
    }
    if (!str_eq(ty, AIOS__MB_STATEMENT_TYPE)) {
        rc = aios__fail(AIOS_E_VERSION, "statement: _type is not %s", AIOS__MB_STATEMENT_TYPE);
        goto done;
    }
    is_v01 = str_eq(pt, AIOS__MB_PREDICATE_V01);
    if (!is_v01 && !str_eq(pt, AIOS__MB_PREDICATE_V1)) {
        rc = aios__fail(AIOS__MB_E_PREDICATE, "statement: predicate type \"%.100s\" is not %s",
                        json_string_value(pt), AIOS__MB_PREDICATE_V1);
        goto done;
    }
    if (legacy && !is_v01) {
        rc = aios__fail(AIOS__MB_E_PREDICATE, "statement: signed with the legacy PAE but not a "
                        "%s statement", AIOS__MB_PREDICATE_V01);
        goto done;
    }
    if (is_v01 && profile == AIOS__MB_PROFILE_OMS_1_0) {
        rc = aios__fail(AIOS__MB_E_PREDICATE, "statement: the legacy predicate %s is refused in "
                        "the oms-1.0 profile", AIOS__MB_PREDICATE_V01);
        goto done;
    }
    subj = json_object_get(root, "subject");
    if (!json_is_array(subj)) {
        rc = aios__fail(AIOS_E_FORMAT, "statement: subject is missing or not an array");
        goto done;
    }
    if (is_v01) {
        rc = parse_legacy(s, subj);
        if (rc == AIOS_OK)
            rc = check_resources(s, profile);
        goto finish;
    }
    if (json_array_size(subj) != 1) {
        rc = aios__fail(AIOS_E_FORMAT, "statement: %zu subjects (exactly one)",
                        json_array_size(subj));
        goto done;
    }
    s0 = json_array_get(subj, 0);
    nm = json_object_get(s0, "name");
    dg = json_object_get(json_object_get(s0, "digest"), "sha256");
    if (!json_is_object(s0) || !json_is_string(nm)) {
        rc = aios__fail(AIOS_E_FORMAT, "statement: subject[0].name is missing or not a string");
        goto done;
    }
    if (json_string_length(nm) > AIOS__MB_SUBJECT_MAX ||
        (json_string_length(nm) == 0 && profile == AIOS__MB_PROFILE_OMS_1_0)) {
        rc = aios__fail(AIOS_E_FORMAT, "statement: subject[0].name of %zu bytes (%s..%d)",
                        json_string_length(nm), profile == AIOS__MB_PROFILE_OMS_1_0 ? "1" : "0",
                        AIOS__MB_SUBJECT_MAX);
        goto done;
    }
    if (!json_is_string(dg) ||
        !hex_exact(s->pub.root, 32, json_string_value(dg), json_string_length(dg))) {
        rc = aios__fail(AIOS_E_FORMAT, "statement: subject[0].digest.sha256 is not 64 hex digits");
        goto done;
    }
    if ((s->subject = aios__strdup(json_string_value(nm))) == NULL) {
        rc = aios__nomem("statement");
        goto done;
    }
    s->pub.subject_name = s->subject;
    if ((rc = parse_provenance(s, s0)) != AIOS_OK)
        goto done;
    pred = json_object_get(root, "predicate");
    if (!json_is_object(pred)) {
        rc = aios__fail(AIOS_E_FORMAT, "statement: predicate is missing or not an object");
        goto done;
    }
    if ((rc = parse_serialization(s, json_object_get(pred, "serialization"), profile)) != AIOS_OK)
        goto done;
    res = json_object_get(pred, "resources");
    if (!json_is_array(res)) {
        rc = aios__fail(AIOS_E_FORMAT, "statement: predicate.resources is missing or not an "
                        "array");
        goto done;
    }
    if ((rc = alloc_resources(s, res, 0)) != AIOS_OK)
        goto done;
    for (i = 0; i < s->pub.resource_count; i++) {
        const json_t *o = json_array_get(res, i), *alg = json_object_get(o, "algorithm");
        if (alg == NULL) {   /* NULL below means the legacy predicate */
            rc = aios__fail(AIOS_E_FORMAT, "statement: resources[%zu] has no algorithm", i);
            goto done;
        }
        if ((rc = fill_resource(s, &s->res[i], i, json_object_get(o, "name"), alg,
                                json_object_get(o, "digest"), &pos)) != AIOS_OK)
            goto done;
    }
    if ((rc = check_resources(s, profile)) != AIOS_OK)
        goto done;
    {
        aios__sha256_ctx h;
        aios__sha256_init(&h);
        for (i = 0; i < s->pub.resource_count; i++)
            aios__sha256_update(&h, s->res[i].digest, s->res[i].digest_len);
        aios__sha256_final(&h, calc);
    }
    if (!aios__ct_equal(calc, s->pub.root, 32)) {
        rc = aios__fail(AIOS__MB_E_ROOT_DIGEST, "statement: the subject digest does not match "
                        "the resource digests (manifest is inconsistent)");
        goto done;
    }
finish:
    if (rc == AIOS_OK) {
        *out = &s->pub;
        s = NULL;
    }
done:
    aios__mb_statement_free(s ? &s->pub : NULL);
    json_decref(root);
    return rc;
}

/* ================================================================ verify */

static int key_spki_pem(char *pem, size_t cap, size_t *pem_len, aios__keyenc_alg *alg_out,
                        uint8_t *pub, size_t *pub_len, const aios_key *key)
{
    aios_buffer *raw = NULL;
    int rc;

    if ((rc = key_alg(key, alg_out)) != AIOS_OK)
        return rc;
    if ((rc = aios_key_public_raw(key, &raw)) != AIOS_OK)
        return rc;
    if (aios_buffer_len(raw) > AIOS__KEYENC_PUB_MAX) {
        aios_buffer_free(raw);
        return aios__fail(AIOS_E_INTERNAL, "manifest: a public key of %zu bytes",
                          aios_buffer_len(raw));
    }
    memcpy(pub, aios_buffer_data(raw), aios_buffer_len(raw));
    *pub_len = aios_buffer_len(raw);
    aios_buffer_free(raw);
    return aios__spki_encode_pem(pem, cap, pem_len, *alg_out, pub, *pub_len);
}

int aios__mb_key_hint(char hint[65], const aios_key *key)
{
    char pem[AIOS__SPKI_PEM_MAX + 64];
    uint8_t pub[AIOS__KEYENC_PUB_MAX], d[32];
    size_t pem_len = 0, pub_len = 0;
    aios__keyenc_alg alg = (aios__keyenc_alg)0;
    int rc;

    AIOS__CHECK_ARG(hint != NULL && key != NULL, "hint or key is NULL");
    if ((rc = key_spki_pem(pem, sizeof(pem), &pem_len, &alg, pub, &pub_len, key)) != AIOS_OK)
        return rc;
    aios__sha256(d, (const uint8_t *)pem, pem_len);
    return aios__hex_encode(hint, 65, d, 32);
}

static int check_key_identity(const aios__mb_bundle *b, const aios_key *key, uint32_t flags)
{
    char mine[65];
    uint8_t theirs[32], want[32];
    int rc;

    if (b->hint && !(flags & AIOS__MB_IGNORE_HINT)) {
        if ((rc = aios__mb_key_hint(mine, key)) != AIOS_OK)
            return rc;
        if (!hex_exact(theirs, 32, b->hint, strlen(b->hint)))
            return aios__fail(AIOS__MB_E_KEY_MISMATCH, "bundle: publicKey.hint is not 64 hex "
                              "digits");
        (void)hex_exact(want, 32, mine, 64);
        if (memcmp(theirs, want, 32) != 0)
            return aios__fail(AIOS__MB_E_KEY_MISMATCH, "bundle: publicKey.hint names another key "
                              "(the key's hint is %s)", mine);
    }
    if (b->raw_key) {
        char pem[AIOS__SPKI_PEM_MAX + 64];
        uint8_t pub[AIOS__KEYENC_PUB_MAX], bpub[AIOS__KEYENC_PUB_MAX];
        size_t pem_len = 0, pub_len = 0, bpub_len = 0;
        aios__keyenc_alg alg = (aios__keyenc_alg)0;
        int balg = 0;
        if ((rc = key_spki_pem(pem, sizeof(pem), &pem_len, &alg, pub, &pub_len, key)) != AIOS_OK)
            return rc;
        rc = aios__spki_decode(b->raw_key, b->raw_key_len, &balg, bpub, sizeof(bpub), &bpub_len);
        if (rc == AIOS_E_UNSUPPORTED)
            return aios__fail(AIOS__MB_E_KEY_MISMATCH, "bundle: publicKey.rawBytes holds a key "
                              "of a type this key is not");
        if (rc != AIOS_OK)
            return aios__fail(AIOS_E_FORMAT, "bundle: publicKey.rawBytes is not a public key "
                              "(PEM or DER SubjectPublicKeyInfo)");
        if (balg != (int)alg || bpub_len != pub_len || memcmp(bpub, pub, pub_len) != 0)
            return aios__fail(AIOS__MB_E_KEY_MISMATCH, "bundle: publicKey.rawBytes names another "
                              "key");
    }
    return AIOS_OK;
}

/* 4.6: the legacy PAE, verified with ECDSA and SHA-256 whatever the curve
 * (0.2.0 always hashed with SHA-256).  AIOS_OK or AIOS_E_AUTH. */
static int verify_legacy(aios__keyenc_alg alg, const uint8_t *pub, size_t pub_len,
                         const aios__mb_bundle *b)
{
    uint8_t *pae = NULL;
    size_t pae_len = 0;
    int rc;

    if (alg != AIOS__KEYENC_P256 && alg != AIOS__KEYENC_P384)
        return AIOS_E_AUTH;
    /* Only model_signing 0.2.0's Digests/v0.1 statements were signed over
     * the legacy PAE (4.6): a payload that cannot be one is not worth the
     * legacy encoding (up to 4x its size) of every bad signature. */
    if (memmem(b->payload, b->payload_len, "Digests", 7) == NULL)
        return AIOS_E_AUTH;
    if ((rc = aios__mb_pae_legacy(&pae, &pae_len, b->payload, b->payload_len)) != AIOS_OK)
        return rc;
    rc = aios__ecdsa_verify_der_sha256(alg == AIOS__KEYENC_P256 ? AIOS__EC_P256 : AIOS__EC_P384,
                                       b->sig, b->sig_len, pae, pae_len, pub, pub_len);
    aios__free(pae);
    return rc;
}

/* Step 4 for a caller who trusts `want`. */
static int check_method(const aios__mb_bundle *b, aios__mb_method want)
{
    if (b->method == AIOS__MB_METHOD_KEYLESS)
        return aios__fail(AIOS__MB_E_METHOD, "bundle: a Sigstore keyless bundle (verify it "
                          "with aios_manifest_verify_sigstore and a Sigstore trusted root)");
    if (b->method != want)
        return aios__fail(AIOS__MB_E_METHOD, want == AIOS__MB_METHOD_KEY ?
                          "bundle: a certificate-chain bundle given to the key method" :
                          "bundle: a public-key bundle given to the certificate method");
    return AIOS_OK;
}

int aios__mb_verify_key_ex(aios__mb_statement **out, aios__mb_signer *signer_out,
                           const uint8_t *bundle, size_t len, const aios_key *key, int profile,
                           uint32_t flags)
{
    aios__mb_bundle *b = NULL;
    aios__keyenc_alg alg = (aios__keyenc_alg)0;
    uint8_t *pae = NULL;
    size_t pae_len = 0;
    int rc, legacy = 0;

    if (signer_out)
        memset(signer_out, 0, sizeof(*signer_out));
    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    AIOS__CHECK_ARG(key != NULL, "key is NULL");
    AIOS__CHECK_ARG(profile == AIOS__MB_PROFILE_MODEL_SIGNING_1 ||
                    profile == AIOS__MB_PROFILE_OMS_1_0, "unknown profile");
    if ((rc = aios__mb_bundle_parse(&b, bundle, len, 0, profile)) != AIOS_OK)
        return rc;
    /* step 4: the method the caller trusts */
    if ((rc = check_method(b, AIOS__MB_METHOD_KEY)) != AIOS_OK)
        goto done;
    /* step 5: key identity */
    if ((rc = key_alg(key, &alg)) != AIOS_OK)
        goto done;
    if (!(aios_key_purposes(key) & AIOS_KEY_USE_VERIFY)) {
        rc = aios__fail(AIOS_E_KEY_USAGE, "manifest: key '%s' may not verify", aios_key_id(key));
        goto done;
    }
    if ((rc = check_key_identity(b, key, flags)) != AIOS_OK)
        goto done;
    /* step 6: the signature over the PAE, then the legacy PAE */
    if ((rc = aios__mb_pae(&pae, &pae_len, b->payload, b->payload_len)) != AIOS_OK)
        goto done;
    rc = aios_key_verify(key, b->sig, b->sig_len, pae, pae_len);
    aios__free(pae);
    pae = NULL;
    if (rc == AIOS_E_AUTH || rc == AIOS_E_FORMAT) {
        /* 4.6: legacy PAE with SHA-256 whatever the curve, on the public
         * point (the key handle signs and verifies with the curve's hash) */
        if (profile == AIOS__MB_PROFILE_MODEL_SIGNING_1 && !(flags & AIOS__MB_NO_LEGACY) &&
            (alg == AIOS__KEYENC_P256 || alg == AIOS__KEYENC_P384)) {
            aios_buffer *raw = NULL;
            if ((rc = aios_key_public_raw(key, &raw)) != AIOS_OK)
                goto done;
            rc = verify_legacy(alg, aios_buffer_data(raw), aios_buffer_len(raw), b);
            aios_buffer_free(raw);
            legacy = rc == AIOS_OK;
        }
        if (rc == AIOS_E_AUTH || rc == AIOS_E_FORMAT) {
            rc = aios__fail(AIOS_E_AUTH, "bundle: the signature does not verify with key '%s'",
                            aios_key_id(key));
            goto done;
        }
    }
    if (rc != AIOS_OK)
        goto done;
    /* steps 7-9 over exactly the verified bytes */
    if ((rc = aios__mb_statement_parse(out, b->payload, b->payload_len, profile, legacy))
        != AIOS_OK)
        goto done;
    if (signer_out) {
        signer_out->method = AIOS__MB_METHOD_KEY;
        signer_out->legacy = legacy;
        if ((rc = aios__mb_key_hint(signer_out->hint, key)) != AIOS_OK) {
            aios__mb_statement_free(*out);
            *out = NULL;
            memset(signer_out, 0, sizeof(*signer_out));
        }
    }
done:
    aios__mb_bundle_free(b);
    return rc;
}

int aios__mb_verify_key(aios__mb_statement **out, const uint8_t *bundle, size_t len,
                        const aios_key *key, int profile, uint32_t flags)
{
    return aios__mb_verify_key_ex(out, NULL, bundle, len, key, profile, flags);
}

_Static_assert(AIOS__MB_TIME_LEAF_NOT_BEFORE == AIOS__X509_TIME_LEAF_NOT_BEFORE &&
               AIOS__MB_TIME_NOW == AIOS__X509_TIME_NOW &&
               AIOS__MB_TIME_FIXED == AIOS__X509_TIME_FIXED, "time policy numbers");
_Static_assert(AIOS__MB_DN_MAX == AIOS__X509_DN_MAX, "DN text size");
_Static_assert(AIOS__MB_CERTS_MAX == AIOS__X509_CHAIN_MAX &&
               AIOS__MB_CERT_MAX == AIOS__X509_CERT_MAX, "chain limits");

int aios__mb_verify_certificate(aios__mb_statement **out, aios__mb_signer *signer_out,
                                const uint8_t *bundle, size_t len,
                                const uint8_t *const *anchors, const size_t *anchor_lens,
                                size_t anchors_n, int profile, int time_policy,
                                int64_t fixed_time, uint32_t flags)
{
    const uint8_t *certs[AIOS__MB_CERTS_MAX];
    size_t lens[AIOS__MB_CERTS_MAX], i, pae_len = 0;
    aios__mb_bundle *b = NULL;
    aios__x509_leaf leaf;
    uint8_t *pae = NULL;
    int rc, legacy = 0;

    if (signer_out)
        memset(signer_out, 0, sizeof(*signer_out));
    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    AIOS__CHECK_ARG(profile == AIOS__MB_PROFILE_MODEL_SIGNING_1 ||
                    profile == AIOS__MB_PROFILE_OMS_1_0, "unknown profile");
    AIOS__CHECK_ARG(time_policy >= AIOS__MB_TIME_PROFILE && time_policy <= AIOS__MB_TIME_FIXED,
                    "unknown time policy");
    AIOS__CHECK_ARG(anchors_n > 0 && anchors != NULL && anchor_lens != NULL,
                    "no trust anchor given (libaios has no default trust store)");
    AIOS__CHECK_ARG(anchors_n <= AIOS__X509_ANCHORS_MAX, "more than 256 trust anchors");
    if (time_policy == AIOS__MB_TIME_PROFILE)
        time_policy = profile == AIOS__MB_PROFILE_OMS_1_0 ? AIOS__MB_TIME_NOW
                                                          : AIOS__MB_TIME_LEAF_NOT_BEFORE;
    if ((rc = aios__mb_bundle_parse(&b, bundle, len, 0, profile)) != AIOS_OK)
        return rc;
    /* step 4 */
    if ((rc = check_method(b, AIOS__MB_METHOD_CHAIN)) != AIOS_OK)
        goto done;
    /* step 5: chain, time, usage, leaf key (7.2-7.4) */
    for (i = 0; i < b->cert_count; i++) {
        certs[i] = b->certs[i].p;
        lens[i] = b->certs[i].len;
    }
    if ((rc = aios__x509_chain_verify(&leaf, certs, lens, b->cert_count, anchors, anchor_lens,
                                      anchors_n, time_policy, fixed_time)) != AIOS_OK) {
        rc = aios__error_prefix("bundle");
        goto done;
    }
    /* step 6: the signature with the leaf's key (4.2), then the legacy PAE */
    if ((rc = aios__mb_pae(&pae, &pae_len, b->payload, b->payload_len)) != AIOS_OK)
        goto done;
    rc = aios__ecdsa_verify_der(aios__mb_alg_curve(leaf.alg), b->sig, b->sig_len, pae, pae_len,
                                leaf.pub, leaf.pub_len);
    aios__free(pae);
    if (rc == AIOS_E_AUTH && profile == AIOS__MB_PROFILE_MODEL_SIGNING_1 &&
        !(flags & AIOS__MB_NO_LEGACY)) {
        rc = verify_legacy(leaf.alg, leaf.pub, leaf.pub_len, b);
        legacy = rc == AIOS_OK;
    }
    if (rc == AIOS_E_AUTH || rc == AIOS_E_FORMAT) {
        rc = aios__fail(AIOS_E_AUTH, "bundle: the signature does not verify with the key of the "
                        "leaf certificate \"%s\"", leaf.subject);
        goto done;
    }
    if (rc != AIOS_OK)
        goto done;
    /* steps 7-9 over exactly the verified bytes */
    if ((rc = aios__mb_statement_parse(out, b->payload, b->payload_len, profile, legacy))
        != AIOS_OK)
        goto done;
    if (signer_out) {
        aios__mb_signer_from_leaf(signer_out, AIOS__MB_METHOD_CHAIN, &leaf, b->cert_count);
        signer_out->legacy = legacy;
    }
done:
    aios__mb_bundle_free(b);
    return rc;
}

/* ================================================================ signer */

void aios__mb_signer_from_leaf(aios__mb_signer *sg, aios__mb_method method,
                               const aios__x509_leaf *leaf, size_t chain_len)
{
    sg->method = method;
    memcpy(sg->subject, leaf->subject, sizeof(sg->subject));
    memcpy(sg->issuer, leaf->issuer, sizeof(sg->issuer));
    sg->not_before = leaf->not_before;
    sg->not_after = leaf->not_after;
    sg->checked_at = leaf->checked_at;
    sg->chain_len = chain_len;
    sg->path_len = leaf->path_len;
}

int aios__mb_bundle_signer(aios__mb_signer *out, const aios__mb_bundle *b)
{
    aios__x509_leaf leaf;
    uint8_t h[32];
    int rc;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    memset(out, 0, sizeof(*out));
    AIOS__CHECK_ARG(b != NULL, "b is NULL");
    out->method = b->method;
    if (b->method == AIOS__MB_METHOD_KEY) {
        if (b->hint && hex_exact(h, 32, b->hint, strlen(b->hint)))
            (void)aios__hex_encode(out->hint, sizeof(out->hint), h, 32);
        return AIOS_OK;
    }
    if (b->cert_count == 0)
        return aios__fail(AIOS_E_FORMAT, "bundle: no certificate");
    if ((rc = aios__x509_cert_info(&leaf, b->certs[0].p, b->certs[0].len)) != AIOS_OK) {
        memset(out, 0, sizeof(*out));
        return aios__error_prefix("bundle: the leaf certificate");
    }
    memcpy(out->subject, leaf.subject, sizeof(out->subject));
    memcpy(out->issuer, leaf.issuer, sizeof(out->issuer));
    out->not_before = leaf.not_before;
    out->not_after = leaf.not_after;
    out->chain_len = b->cert_count;
    return AIOS_OK;
}

char *aios__mb_signer_json(const aios__mb_signer *sg)
{
    json_t *o = json_object();
    char *s = NULL, *r = NULL;
    int bad = o == NULL;

    if (sg == NULL) {
        json_decref(o);
        return NULL;
    }
    if (sg->method == AIOS__MB_METHOD_KEY) {
        bad |= json_object_set_new(o, "method", json_string("key"));
        if (sg->hint[0])
            bad |= json_object_set_new(o, "hint", json_string(sg->hint));
    } else {
        bad |= json_object_set_new(o, "method", json_string(sg->method == AIOS__MB_METHOD_CHAIN ?
                                                            "certificate" : "keyless"));
        /* dn_text output is printable ASCII: always valid UTF-8 */
        bad |= json_object_set_new(o, "subject", json_string(sg->subject));
        bad |= json_object_set_new(o, "issuer", json_string(sg->issuer));
        bad |= json_object_set_new(o, "not_before", json_integer((json_int_t)sg->not_before));
        bad |= json_object_set_new(o, "not_after", json_integer((json_int_t)sg->not_after));
        bad |= json_object_set_new(o, "chain", json_integer((json_int_t)sg->chain_len));
        /* the policy time the path was found valid at (0: not verified) */
        if (sg->checked_at)
            bad |= json_object_set_new(o, "checked_at", json_integer((json_int_t)sg->checked_at));
        if (sg->identity[0]) {   /* keyless, verified against a Sigstore trusted root */
            bad |= json_object_set_new(o, "identity", json_string(sg->identity));
            bad |= json_object_set_new(o, "oidc_issuer", json_string(sg->oidc_issuer));
            if (sg->integrated_time)   /* Rekor v1 */
                bad |= json_object_set_new(o, "integrated_time",
                                           json_integer((json_int_t)sg->integrated_time));
            if (sg->timestamp)         /* RFC 3161 */
                bad |= json_object_set_new(o, "timestamp", json_integer((json_int_t)sg->timestamp));
            bad |= json_object_set_new(o, "log_index", json_integer((json_int_t)sg->log_index));
        }
    }
    if (sg->legacy)
        bad |= json_object_set_new(o, "legacy", json_true());
    if (!bad)
        s = json_dumps(o, DUMP_FLAGS);
    json_decref(o);
    if (s != NULL && (r = aios__malloc(strlen(s) + 1)) != NULL)
        memcpy(r, s, strlen(s) + 1);
    free(s);
    return r;
}

/* =============================================================== writing */

static json_t *hex_string(const uint8_t *p, size_t n)
{
    char h[129];
    if (n > 64 || aios__hex_encode(h, sizeof(h), p, n) != AIOS_OK)
        return NULL;
    return json_stringn(h, 2 * n);
}

static int dump_buffer(aios_buffer **out, const json_t *root, const char *what)
{
    size_t n = json_dumpb(root, NULL, 0, DUMP_FLAGS);
    int rc;
    if (n == 0)
        return aios__nomem(what);
    if ((rc = aios__buffer_new(out, n, 0)) != AIOS_OK)
        return rc;
    if (json_dumpb(root, (char *)aios_buffer_data_mut(*out), n, DUMP_FLAGS) != n) {
        aios_buffer_free(*out);
        *out = NULL;
        return aios__fail(AIOS_E_INTERNAL, "%s: the JSON changed size while serialised", what);
    }
    return AIOS_OK;
}

int aios__mb_statement_encode(aios_buffer **out, const aios__mb_statement *st, int profile)
{
    json_t *root = NULL, *subj, *s0, *dig, *pred, *ser, *res, *ig;
    uint8_t calc[32];
    aios__sha256_ctx h;
    size_t i, hl;
    int bad = 0, rc;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    *out = NULL;
    AIOS__CHECK_ARG(st != NULL && st->subject_name != NULL, "st or its subject name is NULL");
    AIOS__CHECK_ARG(st->method == AIOS__MB_FILES || st->method == AIOS__MB_SHARDS,
                    "unknown serialization method");
    AIOS__CHECK_ARG(st->hash_type == AIOS__MB_SHA256 || st->hash_type == AIOS__MB_BLAKE2B,
                    "unknown hash type");
    AIOS__CHECK_ARG(st->resource_count > 0 && st->resources != NULL,
                    "a statement needs at least one resource");
    AIOS__CHECK_ARG(st->method != AIOS__MB_SHARDS ||
                    (st->shard_size >= 1 && st->shard_size <= AIOS__MB_SHARD_SIZE_MAX),
                    "shard_size out of range");
    if (st->resource_count > AIOS__MB_RESOURCES_MAX)
        return aios__fail(AIOS_E_LIMIT, "statement: %zu resources", st->resource_count);
    if (strlen(st->subject_name) > AIOS__MB_SUBJECT_MAX)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "statement: subject name over %d bytes",
                          AIOS__MB_SUBJECT_MAX);
    if (!aios__utf8_valid((const uint8_t *)st->subject_name, strlen(st->subject_name)))
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "statement: the subject name is not UTF-8");
    hl = hash_len(st->hash_type);
    aios__sha256_init(&h);
    for (i = 0; i < st->resource_count; i++) {
        if (st->resources[i].name == NULL ||
            !aios__utf8_valid((const uint8_t *)st->resources[i].name, st->resources[i].name_len) ||
            memchr(st->resources[i].name, 0, st->resources[i].name_len) != NULL)
            return aios__fail(AIOS_E_INVALID_ARGUMENT, "statement: resources[%zu] name is NULL, "
                              "not UTF-8 or holds a NUL", i);
        if (st->resources[i].digest_len != hl)
            return aios__fail(AIOS_E_INVALID_ARGUMENT, "statement: resources[%zu] digest of %zu "
                              "bytes for %s", i, st->resources[i].digest_len,
                              hash_name(st->hash_type));
        aios__sha256_update(&h, st->resources[i].digest, hl);
    }
    aios__sha256_final(&h, calc);

    root = json_object();
    subj = json_array();
    s0 = json_object();
    dig = json_object();
    pred = json_object();
    ser = json_object();
    res = json_array();
    bad |= json_object_set_new(root, "_type", json_string(AIOS__MB_STATEMENT_TYPE));
    bad |= json_object_set_new(dig, "sha256", hex_string(calc, 32));
    bad |= json_object_set_new(s0, "name", json_string(st->subject_name));
    bad |= json_object_set_new(s0, "digest", dig);
    if (st->provenance_json) {
        json_error_t err;
        json_t *pv = json_loads(st->provenance_json, LOAD_FLAGS, &err), *ann = json_object();
        if (pv == NULL || !json_is_object(pv))
            rc = aios__fail(AIOS_E_INVALID_ARGUMENT, "statement: provenance is not a JSON "
                            "object");
        else
            rc = provenance_check(pv, AIOS_E_INVALID_ARGUMENT, "provenance");
        if (rc != AIOS_OK) {
            json_decref(pv);
            json_decref(ann);
            json_decref(s0);
            json_decref(subj);
            json_decref(pred);
            json_decref(ser);
            json_decref(res);
            json_decref(root);
            return rc;
        }
        bad |= json_object_set_new(ann, "aios_provenance", pv);
        bad |= json_object_set_new(s0, "annotations", ann);
    }
    bad |= json_array_append_new(subj, s0);
    bad |= json_object_set_new(root, "subject", subj);
    bad |= json_object_set_new(root, "predicateType", json_string(AIOS__MB_PREDICATE_V1));
    bad |= json_object_set_new(ser, "method",
                               json_string(st->method == AIOS__MB_SHARDS ? "shards" : "files"));
    bad |= json_object_set_new(ser, "hash_type", json_string(hash_name(st->hash_type)));
    if (st->method == AIOS__MB_SHARDS)
        bad |= json_object_set_new(ser, "shard_size", json_integer((json_int_t)st->shard_size));
    bad |= json_object_set_new(ser, "allow_symlinks", json_boolean(st->allow_symlinks));
    if (st->ignore_count > 0) {
        /* A set (5.2): written sorted in the profile's order, without
         * repeats, so that one model and one set of options always give
         * the same statement bytes. */
        const char **v = aios__calloc(st->ignore_count, sizeof(*v));
        ig = json_array();
        if (v == NULL) {
            bad = 1;
        } else {
            memcpy(v, st->ignore_paths, st->ignore_count * sizeof(*v));
            qsort(v, st->ignore_count, sizeof(*v),
                  profile == AIOS__MB_PROFILE_OMS_1_0 ? str_cmp : str_comp_cmp);
            for (i = 0; i < st->ignore_count; i++)
                if (i == 0 || strcmp(v[i], v[i - 1]) != 0)
                    bad |= json_array_append_new(ig, json_string(v[i]));
            aios__free(v);
        }
        bad |= json_object_set_new(ser, "ignore_paths", ig);
    }
    bad |= json_object_set_new(pred, "serialization", ser);
    for (i = 0; i < st->resource_count && !bad; i++) {
        const aios__mb_resource *r = &st->resources[i];
        json_t *o = json_object();
        char alg[64];
        if (st->method == AIOS__MB_SHARDS && profile == AIOS__MB_PROFILE_MODEL_SIGNING_1)
            snprintf(alg, sizeof(alg), "%s-sharded-%" PRIu64, hash_name(st->hash_type),
                     st->shard_size);
        else
            snprintf(alg, sizeof(alg), "%s", hash_name(st->hash_type));
        bad |= json_object_set_new(o, "name", json_stringn(r->name, r->name_len));
        bad |= json_object_set_new(o, "algorithm", json_string(alg));
        bad |= json_object_set_new(o, "digest", hex_string(r->digest, r->digest_len));
        bad |= json_array_append_new(res, o);
    }
    bad |= json_object_set_new(pred, "resources", res);
    bad |= json_object_set_new(root, "predicate", pred);
    if (bad || root == NULL) {
        json_decref(root);
        return aios__fail(AIOS_E_NOMEM, "statement: out of memory or a name that is not UTF-8");
    }
    rc = dump_buffer(out, root, "statement");
    json_decref(root);
    return rc;
}

static json_t *b64_string(const uint8_t *p, size_t n)
{
    size_t cap = aios__base64_encoded_len(n, AIOS__B64_STANDARD);
    char *s;
    json_t *j = NULL;
    if (cap == 0 || (s = aios__malloc(cap)) == NULL)
        return NULL;
    if (aios__base64_encode(s, cap, p, n, AIOS__B64_STANDARD) == AIOS_OK)
        j = json_stringn(s, cap - 1);
    aios__free(s);
    return j;
}

/* Statement -> PAE -> aios_key_sign -> bundle whose verificationMaterial
 * holds member (consumed, even on failure) and "tlogEntries": [] (12.4-12.6). */
static int sign_bundle(aios_buffer **bundle_out, const aios__mb_statement *st,
                       const aios_key *key, int profile, const char *member, json_t *material)
{
    aios_buffer *payload = NULL, *sig = NULL;
    uint8_t *pae = NULL;
    size_t pae_len = 0;
    json_t *root = NULL, *vm, *env, *sigs, *s0;
    int rc, bad = 0;

    if ((rc = aios__mb_statement_encode(&payload, st, profile)) != AIOS_OK)
        goto done;
    if ((rc = aios__mb_pae(&pae, &pae_len, aios_buffer_data(payload), aios_buffer_len(payload)))
        != AIOS_OK)
        goto done;
    if ((rc = aios_key_sign(key, &sig, pae, pae_len)) != AIOS_OK)
        goto done;
    root = json_object();
    vm = json_object();
    env = json_object();
    sigs = json_array();
    s0 = json_object();
    bad |= json_object_set_new(root, "mediaType", json_string(AIOS__MB_MEDIA_TYPE));
    bad |= json_object_set_new(vm, member, material);
    material = NULL;
    bad |= json_object_set_new(vm, "tlogEntries", json_array());
    bad |= json_object_set_new(root, "verificationMaterial", vm);
    bad |= json_object_set_new(env, "payload",
                               b64_string(aios_buffer_data(payload), aios_buffer_len(payload)));
    bad |= json_object_set_new(env, "payloadType", json_string(AIOS__MB_PAYLOAD_TYPE));
    bad |= json_object_set_new(s0, "sig", b64_string(aios_buffer_data(sig), aios_buffer_len(sig)));
    bad |= json_object_set_new(s0, "keyid", json_string(""));
    bad |= json_array_append_new(sigs, s0);
    bad |= json_object_set_new(env, "signatures", sigs);
    bad |= json_object_set_new(root, "dsseEnvelope", env);
    if (bad || root == NULL) {
        rc = aios__nomem("bundle");
        goto done;
    }
    rc = dump_buffer(bundle_out, root, "bundle");
done:
    json_decref(material);
    json_decref(root);
    aios__free(pae);
    aios_buffer_free(sig);
    aios_buffer_free(payload);
    return rc;
}

int aios__mb_sign_key(aios_buffer **bundle_out, const aios__mb_statement *st,
                      const aios_key *key, int profile)
{
    aios__keyenc_alg alg = (aios__keyenc_alg)0;
    char hint[65];
    json_t *pk;
    int rc;

    AIOS__CHECK_ARG(bundle_out != NULL, "bundle_out is NULL");
    *bundle_out = NULL;
    AIOS__CHECK_ARG(key != NULL, "key is NULL");
    if ((rc = key_alg(key, &alg)) != AIOS_OK)
        return rc;
    if (alg == AIOS__KEYENC_ED25519 && profile == AIOS__MB_PROFILE_OMS_1_0)
        return aios__fail(AIOS_E_UNSUPPORTED, "manifest: Ed25519 signatures are a libaios "
                          "extension, refused in the oms-1.0 profile");
    if ((rc = aios__mb_key_hint(hint, key)) != AIOS_OK)
        return rc;
    pk = json_object();
    if (pk == NULL || json_object_set_new(pk, "hint", json_string(hint)) != 0) {
        json_decref(pk);
        return aios__nomem("bundle");
    }
    return sign_bundle(bundle_out, st, key, profile, "publicKey", pk);
}

int aios__mb_sign_certificate(aios_buffer **bundle_out, const aios__mb_statement *st,
                              const aios_key *key, const uint8_t *const *chain_der,
                              const size_t *chain_lens, size_t chain_n, int profile)
{
    aios__keyenc_alg alg = (aios__keyenc_alg)0;
    aios__x509_leaf info;
    aios_buffer *raw = NULL;
    json_t *ch = NULL, *certs;
    size_t i;
    int rc, bad = 0;

    AIOS__CHECK_ARG(bundle_out != NULL, "bundle_out is NULL");
    *bundle_out = NULL;
    AIOS__CHECK_ARG(key != NULL, "key is NULL");
    AIOS__CHECK_ARG(chain_der != NULL && chain_lens != NULL && chain_n > 0,
                    "no signing certificate given");
    if (chain_n > AIOS__MB_CERTS_MAX)
        return aios__fail(AIOS_E_LIMIT, "manifest: %zu certificates in the chain (at most %d)",
                          chain_n, AIOS__MB_CERTS_MAX);
    if ((rc = key_alg(key, &alg)) != AIOS_OK)
        return rc;
    if (alg == AIOS__KEYENC_ED25519)
        return aios__fail(AIOS_E_UNSUPPORTED, "manifest: the certificate method needs an ECDSA "
                          "P-256, P-384 or P-521 key (no Ed25519 certificates)");
    /* every certificate parses; the leaf holds the signing key (12.7) */
    for (i = chain_n; i-- > 0;) {
        if ((rc = aios__x509_cert_info(&info, chain_der[i], chain_lens[i])) != AIOS_OK)
            return aios__error_prefix("manifest: signing certificate chain[%zu]", i);
    }
    if ((rc = aios_key_public_raw(key, &raw)) != AIOS_OK)
        return rc;
    if (info.alg != alg || info.pub_len != aios_buffer_len(raw) ||
        memcmp(info.pub, aios_buffer_data(raw), info.pub_len) != 0) {
        aios_buffer_free(raw);
        return aios__fail(AIOS__MB_E_KEY_MISMATCH, "manifest: the signing certificate \"%s\" "
                          "does not hold the public key of key '%s'", info.subject,
                          aios_key_id(key));
    }
    aios_buffer_free(raw);
    ch = json_object();
    certs = json_array();
    for (i = 0; i < chain_n; i++) {
        json_t *c = json_object();
        bad |= json_object_set_new(c, "rawBytes", b64_string(chain_der[i], chain_lens[i]));
        bad |= json_array_append_new(certs, c);
    }
    bad |= json_object_set_new(ch, "certificates", certs);
    if (bad || ch == NULL) {
        json_decref(ch);
        return aios__nomem("bundle");
    }
    return sign_bundle(bundle_out, st, key, profile, "x509CertificateChain", ch);
}
