/*
 * Key encodings: SubjectPublicKeyInfo (RFC 5280, RFC 5480, RFC 8410),
 * PKCS#8 (RFC 5208 / RFC 5958), SEC1 ECPrivateKey (RFC 5915) and PEM
 * (RFC 7468), for Ed25519, X25519 and ECDSA P-256, P-384 and P-521.
 *
 * The DER reader is written here rather than taken from mbedTLS's
 * pk/asn1 parsers, which accept BER-isms (non-minimal lengths, short
 * private scalars), silently ignore parts we must check, and know nothing
 * of Ed25519 or X25519 in 2.28.  It reads single-byte tags and definite
 * lengths of at most two bytes, minimal only, and every structure must be
 * consumed exactly.  Encodings are written byte for byte as OpenSSL 3
 * writes them (PKCS#8 v1; ECDSA with the public key inside the
 * ECPrivateKey and the curve only in the AlgorithmIdentifier; PEM with
 * 64-character lines), so keys we export compare equal to OpenSSL's.
 *
 * Keys are checked, not just parsed: ECDSA points lie on the curve
 * (mbedtls_ecp_check_pubkey), ECDSA scalars lie in [1, n-1], Ed25519
 * public keys are canonical points of the main subgroup (libsodium's
 * crypto_core_ed25519_is_valid_point), and a public key stored beside a
 * private key must be the one that private key gives.
 *
 * Private key bytes pass through local buffers and a scratch allocation
 * for PEM; all of them are wiped on every path, and so is the caller's
 * output when a function fails.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>
#include <mbedtls/ecp.h>
#include <mbedtls/platform_util.h>

#include "crypto.h"
#include "../core/internal.h"

/* ================================================================ tables */

/* OID contents (the bytes after tag and length). */
static const uint8_t oid_ed25519[]   = { 0x2b, 0x65, 0x70 };                   /* 1.3.101.112 */
static const uint8_t oid_x25519[]    = { 0x2b, 0x65, 0x6e };                   /* 1.3.101.110 */
static const uint8_t oid_ed448[]     = { 0x2b, 0x65, 0x71 };                   /* 1.3.101.113 */
static const uint8_t oid_x448[]      = { 0x2b, 0x65, 0x6f };                   /* 1.3.101.111 */
static const uint8_t oid_ec_public[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 }; /* 1.2.840.10045.2.1 */
static const uint8_t oid_p256[]      = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 }; /* 1.2.840.10045.3.1.7 */
static const uint8_t oid_p384[]      = { 0x2b, 0x81, 0x04, 0x00, 0x22 };       /* 1.3.132.0.34 */
static const uint8_t oid_p521[]      = { 0x2b, 0x81, 0x04, 0x00, 0x23 };       /* 1.3.132.0.35 */
static const uint8_t oid_rsa[]       = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01 };
static const uint8_t oid_rsa_pss[]   = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a };
static const uint8_t oid_dsa[]       = { 0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01 };
static const uint8_t oid_dh[]        = { 0x2a, 0x86, 0x48, 0xce, 0x3e, 0x02, 0x01 };
static const uint8_t oid_dh_pkcs3[]  = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x03, 0x01 };
static const uint8_t oid_ecdh[]      = { 0x2b, 0x81, 0x04, 0x01, 0x0c };       /* 1.3.132.1.12 */
static const uint8_t oid_ecmqv[]     = { 0x2b, 0x81, 0x04, 0x01, 0x0d };       /* 1.3.132.1.13 */
static const uint8_t oid_sm2[]       = { 0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x82, 0x2d };

typedef enum alg_kind {
    KIND_UNKNOWN = 0,
    KIND_ED25519,
    KIND_X25519,
    KIND_EC,          /* id-ecPublicKey: the curve is in the parameters */
    KIND_RFC8410,     /* Ed448, X448: parameters absent, but not ours */
    KIND_OTHER        /* a known algorithm we do not handle */
} alg_kind;

static const struct known_alg {
    const uint8_t *oid;
    size_t         len;
    alg_kind       kind;
    const char    *name;
} known_algs[] = {
    { oid_ed25519, sizeof(oid_ed25519), KIND_ED25519, "Ed25519" },
    { oid_x25519, sizeof(oid_x25519), KIND_X25519, "X25519" },
    { oid_ec_public, sizeof(oid_ec_public), KIND_EC, "EC" },
    { oid_ed448, sizeof(oid_ed448), KIND_RFC8410, "Ed448" },
    { oid_x448, sizeof(oid_x448), KIND_RFC8410, "X448" },
    { oid_rsa, sizeof(oid_rsa), KIND_OTHER, "RSA" },
    { oid_rsa_pss, sizeof(oid_rsa_pss), KIND_OTHER, "RSASSA-PSS" },
    { oid_dsa, sizeof(oid_dsa), KIND_OTHER, "DSA" },
    { oid_dh, sizeof(oid_dh), KIND_OTHER, "Diffie-Hellman (X9.42)" },
    { oid_dh_pkcs3, sizeof(oid_dh_pkcs3), KIND_OTHER, "Diffie-Hellman (PKCS #3)" },
    { oid_ecdh, sizeof(oid_ecdh), KIND_OTHER, "id-ecDH" },
    { oid_ecmqv, sizeof(oid_ecmqv), KIND_OTHER, "id-ecMQV" },
    { oid_sm2, sizeof(oid_sm2), KIND_OTHER, "SM2" },
};

const char *aios__keyenc_name(aios__keyenc_alg alg)
{
    switch (alg) {
    case AIOS__KEYENC_ED25519: return "ed25519";
    case AIOS__KEYENC_X25519:  return "x25519";
    case AIOS__KEYENC_P256:    return "p256";
    case AIOS__KEYENC_P384:    return "p384";
    case AIOS__KEYENC_P521:    return "p521";
    }
    return "unknown";
}

/* Names for messages. */
static const char *alg_title(aios__keyenc_alg alg)
{
    switch (alg) {
    case AIOS__KEYENC_ED25519: return "Ed25519";
    case AIOS__KEYENC_X25519:  return "X25519";
    case AIOS__KEYENC_P256:    return "P-256";
    case AIOS__KEYENC_P384:    return "P-384";
    case AIOS__KEYENC_P521:    return "P-521";
    }
    return "unknown";
}

size_t aios__keyenc_pub_len(aios__keyenc_alg alg)
{
    switch (alg) {
    case AIOS__KEYENC_ED25519: return AIOS__ED25519_PK_LEN;
    case AIOS__KEYENC_X25519:  return AIOS__X25519_LEN;
    case AIOS__KEYENC_P256:    return aios__ec_point_len(AIOS__EC_P256);
    case AIOS__KEYENC_P384:    return aios__ec_point_len(AIOS__EC_P384);
    case AIOS__KEYENC_P521:    return aios__ec_point_len(AIOS__EC_P521);
    }
    return 0;
}

size_t aios__keyenc_priv_len(aios__keyenc_alg alg)
{
    switch (alg) {
    case AIOS__KEYENC_ED25519: return AIOS__ED25519_SEED_LEN;
    case AIOS__KEYENC_X25519:  return AIOS__X25519_LEN;
    case AIOS__KEYENC_P256:    return aios__ec_scalar_len(AIOS__EC_P256);
    case AIOS__KEYENC_P384:    return aios__ec_scalar_len(AIOS__EC_P384);
    case AIOS__KEYENC_P521:    return aios__ec_scalar_len(AIOS__EC_P521);
    }
    return 0;
}

static int alg_is_ec(aios__keyenc_alg alg)
{
    return alg == AIOS__KEYENC_P256 || alg == AIOS__KEYENC_P384 || alg == AIOS__KEYENC_P521;
}

static aios__ec_curve alg_curve(aios__keyenc_alg alg)
{
    return alg == AIOS__KEYENC_P521 ? AIOS__EC_P521
         : alg == AIOS__KEYENC_P384 ? AIOS__EC_P384 : AIOS__EC_P256;
}

/* The scalar length of an EC algorithm (32, 48, 66). */
static size_t alg_scalar_len(aios__keyenc_alg alg)
{
    return aios__ec_scalar_len(alg_curve(alg));
}

static const uint8_t *alg_oid(aios__keyenc_alg alg, size_t *len)
{
    switch (alg) {
    case AIOS__KEYENC_ED25519: *len = sizeof(oid_ed25519); return oid_ed25519;
    case AIOS__KEYENC_X25519:  *len = sizeof(oid_x25519);  return oid_x25519;
    case AIOS__KEYENC_P256:
    case AIOS__KEYENC_P384:
    case AIOS__KEYENC_P521:    *len = sizeof(oid_ec_public); return oid_ec_public;
    }
    *len = 0;
    return NULL;
}

static const uint8_t *curve_oid(aios__keyenc_alg alg, size_t *len)
{
    if (alg == AIOS__KEYENC_P521) {
        *len = sizeof(oid_p521);
        return oid_p521;
    }
    if (alg == AIOS__KEYENC_P384) {
        *len = sizeof(oid_p384);
        return oid_p384;
    }
    *len = sizeof(oid_p256);
    return oid_p256;
}

_Static_assert(AIOS__KEYENC_PUB_MAX == AIOS__EC_POINT_MAX, "largest public key");
_Static_assert(AIOS__KEYENC_PRIV_MAX == AIOS__EC_SCALAR_MAX, "largest private key: P-521's scalar");
_Static_assert(AIOS__SPKI_DER_MAX <= AIOS__PKCS8_DER_MAX, "pem_write's buffer holds any SPKI");

/* ============================================================ DER reader */

typedef struct der {
    const uint8_t *p;
    size_t         n;
} der;

/* Take the next element: single-byte tag, minimal definite length of at
 * most two bytes (no key here needs 64 KiB), within the input.  Returns
 * 1 and advances, or 0 and leaves d alone. */
static int der_next(der *d, uint8_t *tag, der *v)
{
    size_t len, hl;

    if (d->n < 2 || (d->p[0] & 0x1f) == 0x1f)
        return 0;
    if (d->p[1] < 0x80) {
        len = d->p[1];
        hl = 2;
    } else if (d->p[1] == 0x81) {
        if (d->n < 3 || d->p[2] < 0x80)
            return 0;
        len = d->p[2];
        hl = 3;
    } else if (d->p[1] == 0x82) {
        if (d->n < 4 || d->p[2] == 0)
            return 0;
        len = (size_t)d->p[2] << 8 | d->p[3];
        hl = 4;
    } else {
        return 0;
    }
    if (len > d->n - hl)
        return 0;
    *tag = d->p[0];
    v->p = d->p + hl;
    v->n = len;
    d->p += hl + len;
    d->n -= hl + len;
    return 1;
}

static int der_peek(const der *d, uint8_t tag)
{
    return d->n > 0 && d->p[0] == tag;
}

/* Take an element that must have tag `tag`. */
static int der_take(der *d, uint8_t tag, der *v, const char *where, const char *what)
{
    uint8_t got = 0;
    der save = *d;

    if (d->n == 0)
        return aios__fail(AIOS_E_FORMAT, "%s: %s is missing (truncated)", where, what);
    if (d->p[0] != tag)
        return aios__fail(AIOS_E_FORMAT, "%s: expected %s (tag 0x%02x), found tag 0x%02x",
                          where, what, tag, d->p[0]);
    if (!der_next(d, &got, v)) {
        *d = save;
        return aios__fail(AIOS_E_FORMAT,
                          "%s: %s has a bad DER length (truncated, or not minimal)", where, what);
    }
    return AIOS_OK;
}

static int der_end(const der *d, const char *where, const char *what)
{
    if (d->n != 0)
        return aios__fail(AIOS_E_FORMAT, "%s: %zu unexpected bytes after %s", where, d->n, what);
    return AIOS_OK;
}

/* A small non-negative INTEGER (version numbers): one content byte. */
static int der_small_int(der *d, const char *where, const char *what, int *out)
{
    der v = { NULL, 0 };
    int rc;

    if ((rc = der_take(d, 0x02, &v, where, what)) != AIOS_OK)
        return rc;
    if (v.n != 1 || (v.p[0] & 0x80))
        return aios__fail(AIOS_E_FORMAT, "%s: %s is not a small non-negative DER integer",
                          where, what);
    *out = v.p[0];
    return AIOS_OK;
}

/* A BIT STRING with no unused bits; v gets the bytes after the count. */
static int der_bits(der *d, uint8_t tag, der *v, const char *where, const char *what)
{
    int rc;

    if ((rc = der_take(d, tag, v, where, what)) != AIOS_OK)
        return rc;
    if (v->n < 1 || v->p[0] != 0)
        return aios__fail(AIOS_E_FORMAT, "%s: %s must be a whole number of bytes", where, what);
    v->p++;
    v->n--;
    return AIOS_OK;
}

/* An OBJECT IDENTIFIER's content: at least one byte, every
 * sub-identifier minimal (no leading 0x80) and terminated. */
static int oid_valid(const der *o)
{
    size_t i;
    int start = 1;

    if (o->n == 0 || (o->p[o->n - 1] & 0x80))
        return 0;
    for (i = 0; i < o->n; i++) {
        if (start && o->p[i] == 0x80)
            return 0;
        start = (o->p[i] & 0x80) == 0;
    }
    return 1;
}

/* Dotted form for messages, cut to the buffer. */
static const char *oid_text(char *buf, size_t cap, const der *o)
{
    size_t i, pos = 0;
    uint64_t v = 0;
    int first = 1, big = 0, n;

    buf[0] = '\0';
    for (i = 0; i < o->n && pos < cap; i++) {
        if (v >> 56)
            big = 1;
        v = v << 7 | (o->p[i] & 0x7f);
        if (o->p[i] & 0x80)
            continue;
        if (big)
            n = snprintf(buf + pos, cap - pos, "%s?", first ? "" : ".");
        else if (first)
            n = snprintf(buf + pos, cap - pos, "%u.%llu", v < 40 ? 0u : v < 80 ? 1u : 2u,
                         (unsigned long long)(v < 80 ? v % 40 : v - 80));
        else
            n = snprintf(buf + pos, cap - pos, ".%llu", (unsigned long long)v);
        if (n < 0)
            break;
        pos += (size_t)n;
        first = 0;
        v = 0;
        big = 0;
    }
    return buf;
}

static int oid_is(const der *o, const uint8_t *oid, size_t len)
{
    return o->n == len && memcmp(o->p, oid, len) == 0;
}

/* ====================================================== algorithm names */

/* Map an EC parameters element (namedCurve) to P-256, P-384 or P-521. */
static int ec_params(uint8_t tag, const der *v, const char *where, aios__keyenc_alg *alg)
{
    char text[64];

    if (tag == 0x30)
        return aios__fail(AIOS_E_UNSUPPORTED,
                          "%s: explicit EC curve parameters are not supported; use a named curve",
                          where);
    if (tag != 0x06)
        return aios__fail(AIOS_E_FORMAT,
                          "%s: EC parameters must be a namedCurve OID (RFC 5480), found tag 0x%02x",
                          where, tag);
    if (!oid_valid(v))
        return aios__fail(AIOS_E_FORMAT, "%s: malformed curve OID", where);
    if (oid_is(v, oid_p256, sizeof(oid_p256))) {
        *alg = AIOS__KEYENC_P256;
        return AIOS_OK;
    }
    if (oid_is(v, oid_p384, sizeof(oid_p384))) {
        *alg = AIOS__KEYENC_P384;
        return AIOS_OK;
    }
    if (oid_is(v, oid_p521, sizeof(oid_p521))) {
        *alg = AIOS__KEYENC_P521;
        return AIOS_OK;
    }
    return aios__fail(AIOS_E_UNSUPPORTED,
                      "%s: EC curve %s is not supported (only prime256v1, secp384r1 and "
                      "secp521r1 are)",
                      where, oid_text(text, sizeof(text), v));
}

/* AlgorithmIdentifier content: our algorithm, or why not. */
static int parse_algid(der a, const char *where, aios__keyenc_alg *alg)
{
    const struct known_alg *k = NULL;
    char text[64];
    der oid = { NULL, 0 }, params = { NULL, 0 };
    uint8_t tag = 0;
    size_t i;
    int rc;

    if ((rc = der_take(&a, 0x06, &oid, where, "the algorithm OID")) != AIOS_OK)
        return rc;
    if (!oid_valid(&oid))
        return aios__fail(AIOS_E_FORMAT, "%s: malformed algorithm OID", where);
    for (i = 0; i < sizeof(known_algs) / sizeof(known_algs[0]); i++) {
        if (oid_is(&oid, known_algs[i].oid, known_algs[i].len)) {
            k = &known_algs[i];
            break;
        }
    }
    if (k == NULL)
        return aios__fail(AIOS_E_FORMAT, "%s: unknown key algorithm OID %s", where,
                          oid_text(text, sizeof(text), &oid));
    switch (k->kind) {
    case KIND_ED25519:
    case KIND_X25519:
    case KIND_RFC8410:
        if (a.n != 0)
            return aios__fail(AIOS_E_FORMAT,
                              "%s: %s parameters must be absent (RFC 8410 section 3)",
                              where, k->name);
        if (k->kind == KIND_RFC8410)
            return aios__fail(AIOS_E_UNSUPPORTED, "%s: %s keys are not supported", where,
                              k->name);
        *alg = k->kind == KIND_ED25519 ? AIOS__KEYENC_ED25519 : AIOS__KEYENC_X25519;
        return AIOS_OK;
    case KIND_EC:
        if (a.n == 0)
            return aios__fail(AIOS_E_FORMAT, "%s: id-ecPublicKey without curve parameters",
                              where);
        if (!der_next(&a, &tag, &params))
            return aios__fail(AIOS_E_FORMAT, "%s: malformed EC parameters", where);
        if ((rc = der_end(&a, where, "the EC parameters")) != AIOS_OK)
            return rc;
        return ec_params(tag, &params, where, alg);
    case KIND_OTHER:
    case KIND_UNKNOWN:
        break;
    }
    /* Another algorithm: well-formed if its parameters are one element. */
    if (a.n != 0 && (!der_next(&a, &tag, &params) || a.n != 0))
        return aios__fail(AIOS_E_FORMAT, "%s: malformed %s algorithm parameters", where,
                          k->name);
    return aios__fail(AIOS_E_UNSUPPORTED,
                      "%s: %s keys are not supported (Ed25519, X25519, ECDSA P-256, P-384 and "
                      "P-521 are)",
                      where, k->name);
}

/* ========================================================== key checks */

/* An uncompressed point on the curve, via mbedTLS. */
static int ec_point_check(aios__keyenc_alg alg, const uint8_t *pt, size_t len, const char *where)
{
    mbedtls_ecp_group grp;
    mbedtls_ecp_point q;
    size_t n = alg_scalar_len(alg);
    int rc = AIOS_OK;

    if (len == n + 1 && (pt[0] == 0x02 || pt[0] == 0x03))
        return aios__fail(AIOS_E_UNSUPPORTED,
                          "%s: compressed %s points are not supported; use the uncompressed form",
                          where, alg_title(alg));
    if (len != 2 * n + 1 || pt[0] != 0x04)
        return aios__fail(AIOS_E_FORMAT,
                          "%s: a %s public key is a %zu-byte uncompressed point (0x04 || X || Y)",
                          where, alg_title(alg), 2 * n + 1);
    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&q);
    if (mbedtls_ecp_group_load(&grp, alg == AIOS__KEYENC_P256 ? MBEDTLS_ECP_DP_SECP256R1
                                     : alg == AIOS__KEYENC_P384 ? MBEDTLS_ECP_DP_SECP384R1
                                                                : MBEDTLS_ECP_DP_SECP521R1) != 0)
        rc = aios__fail(AIOS_E_INTERNAL, "%s: mbedTLS cannot load curve %s", where,
                        alg_title(alg));
    else if (mbedtls_ecp_point_read_binary(&grp, &q, pt, len) != 0 ||
             mbedtls_ecp_check_pubkey(&grp, &q) != 0)
        rc = aios__fail(AIOS_E_FORMAT, "%s: the %s public key is not a point on the curve",
                        where, alg_title(alg));
    mbedtls_ecp_point_free(&q);
    mbedtls_ecp_group_free(&grp);
    return rc;
}

/* A raw public key as the encoders and decoders accept it. */
static int pub_check(aios__keyenc_alg alg, const uint8_t *pub, size_t len, const char *where)
{
    size_t want = aios__keyenc_pub_len(alg);

    if (alg_is_ec(alg))
        return ec_point_check(alg, pub, len, where);
    if (len != want)
        return aios__fail(AIOS_E_FORMAT, "%s: a %s public key is %zu bytes, not %zu", where,
                          alg_title(alg), want, len);
    if (alg == AIOS__KEYENC_ED25519 && !crypto_core_ed25519_is_valid_point(pub))
        return aios__fail(AIOS_E_FORMAT,
                          "%s: the Ed25519 public key is not a canonical point of the main subgroup",
                          where);
    return AIOS_OK;
}

int aios__keyenc_public(aios__keyenc_alg alg, const uint8_t *priv, size_t priv_len,
                        uint8_t *pub, size_t pub_cap, size_t *pub_len)
{
    uint8_t sk64[AIOS__ED25519_SK_LEN];
    size_t need = aios__keyenc_pub_len(alg);
    int rc;

    AIOS__CHECK_ARG(pub_len != NULL, "pub_len is NULL");
    *pub_len = 0;
    AIOS__CHECK_ARG(priv != NULL && pub != NULL, "priv or pub is NULL");
    AIOS__CHECK_ARG(need != 0, "unknown key algorithm");
    if (priv_len != aios__keyenc_priv_len(alg))
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "%s: a %s private key is %zu bytes, not %zu",
                          __func__, alg_title(alg), aios__keyenc_priv_len(alg), priv_len);
    if (pub_cap < need) {
        *pub_len = need;
        return aios__fail(AIOS_E_BUFFER_TOO_SMALL,
                          "%s: the public key needs %zu bytes, the buffer has %zu", __func__,
                          need, pub_cap);
    }
    switch (alg) {
    case AIOS__KEYENC_ED25519:
        rc = aios__ed25519_seed_keypair(pub, sk64, priv);
        aios__wipe(sk64, sizeof(sk64));
        break;
    case AIOS__KEYENC_X25519:
        rc = aios__x25519_public(pub, priv);
        break;
    default:
        rc = aios__ecdsa_public(alg_curve(alg), priv, pub);
        break;
    }
    if (rc == AIOS_OK)
        *pub_len = need;
    return rc;
}

/* A public key found next to a private key must be the one it gives.
 * ECDSA accepts the compressed form here: it is only compared. */
static int embedded_pub_check(aios__keyenc_alg alg, const uint8_t *derived, const der *emb,
                              const char *where)
{
    size_t n = aios__keyenc_priv_len(alg), plen = aios__keyenc_pub_len(alg);
    int same;

    if (alg_is_ec(alg) && emb->n == n + 1 && (emb->p[0] == 0x02 || emb->p[0] == 0x03))
        same = emb->p[0] == (0x02 | (derived[2 * n] & 1)) &&
               aios__ct_equal(emb->p + 1, derived + 1, n);
    else
        same = emb->n == plen && aios__ct_equal(emb->p, derived, plen);
    if (!same)
        return aios__fail(AIOS_E_FORMAT,
                          "%s: the embedded public key does not match the private key", where);
    return AIOS_OK;
}

/* ================================================================= PEM */

#define PEM_LABEL_MAX 40

static int is_ws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static size_t skip_ws(const uint8_t *in, size_t len, size_t pos)
{
    while (pos < len && is_ws(in[pos]))
        pos++;
    return pos;
}

static int has_at(const uint8_t *in, size_t len, size_t pos, const char *s)
{
    size_t n = strlen(s);
    return pos <= len && len - pos >= n && memcmp(in + pos, s, n) == 0;
}

/* After a boundary line's closing dashes: spaces or tabs, then a line end
 * or the end of the input.  Returns the position after it, or 0. */
static size_t line_end(const uint8_t *in, size_t len, size_t pos)
{
    while (pos < len && (in[pos] == ' ' || in[pos] == '\t'))
        pos++;
    if (pos == len)
        return pos;
    if (in[pos] == '\n')
        return pos + 1;
    if (in[pos] == '\r' && pos + 1 < len && in[pos + 1] == '\n')
        return pos + 2;
    return 0;
}

/* The next line at or after pos that starts with "-----BEGIN ", or len.
 * RFC 7468 section 2: text before (and between) the encapsulation
 * boundaries is permitted and must not make a parser fail (key files made
 * by GnuTLS certtool start with a text dump of the key). */
static size_t find_begin(const uint8_t *in, size_t len, size_t pos)
{
    size_t p = skip_ws(in, len, pos);
    while (p < len) {
        if (has_at(in, len, p, "-----BEGIN "))
            return p;
        while (p < len && in[p] != '\n')
            p++;
        if (p < len)
            p++;
    }
    return len;
}

static int looks_pem(const uint8_t *in, size_t len)
{
    return find_begin(in, len, 0) < len;
}

/* Scratch space for PEM: the base64 text and the DER, wiped when freed. */
typedef struct pem_scratch {
    uint8_t *buf;
    size_t   size;
    char    *text;
    uint8_t *der;
    size_t   cap;     /* of each half */
} pem_scratch;

static int scratch_new(pem_scratch *s, size_t len)
{
    s->size = 2 * len + 2;
    s->cap = len + 1;
    s->buf = aios__malloc(s->size);
    if (s->buf == NULL)
        return aios__nomem("PEM decoding space");
    s->text = (char *)s->buf;
    s->der = s->buf + s->cap;
    return AIOS_OK;
}

static void scratch_free(pem_scratch *s)
{
    if (s->buf != NULL)
        aios__free_secret(s->buf, s->size);
    s->buf = NULL;
}

/* Read one PEM block at *pos: its label (NUL-terminated) and its body
 * decoded into s->der (*der_len bytes).  Whitespace inside the body is
 * skipped; headers (RFC 1421 "Proc-Type: 4,ENCRYPTED" and the like) are
 * refused. */
static int pem_read(const uint8_t *in, size_t len, size_t *pos, char label[PEM_LABEL_MAX + 1],
                    pem_scratch *s, size_t *der_len)
{
    size_t p = find_begin(in, len, *pos), start, llen, tlen = 0, next;
    int rc;

    *der_len = 0;
    if (!has_at(in, len, p, "-----BEGIN "))
        return aios__fail(AIOS_E_FORMAT, "PEM: expected a -----BEGIN line");
    p += strlen("-----BEGIN ");
    start = p;
    while (p < len && in[p] != '-' && in[p] >= 0x20 && in[p] < 0x7f && p - start <= PEM_LABEL_MAX)
        p++;
    llen = p - start;
    if (llen == 0 || llen > PEM_LABEL_MAX || !has_at(in, len, p, "-----"))
        return aios__fail(AIOS_E_FORMAT, "PEM: malformed BEGIN line");
    memcpy(label, in + start, llen);
    label[llen] = '\0';
    if ((next = line_end(in, len, p + 5)) == 0 || next == len)
        return aios__fail(AIOS_E_FORMAT, "PEM: nothing follows the BEGIN %s line", label);
    p = next;

    for (;;) {
        if (p >= len)
            return aios__fail(AIOS_E_FORMAT, "PEM: no END %s line (truncated input)", label);
        if (has_at(in, len, p, "-----END "))
            break;
        if (has_at(in, len, p, "-----"))
            return aios__fail(AIOS_E_FORMAT, "PEM: unexpected boundary inside %s", label);
        for (; p < len && in[p] != '\n'; p++) {
            if (in[p] == ':') {
                if (has_at(in, len, p - (p >= 9 ? 9 : p), "Proc-Type:"))
                    return aios__fail(AIOS_E_UNSUPPORTED,
                                      "PEM: encrypted PEM (Proc-Type header) is not supported");
                return aios__fail(AIOS_E_FORMAT, "PEM: headers are not allowed in a %s block",
                                  label);
            }
            if (!is_ws(in[p]))
                s->text[tlen++] = (char)in[p];
        }
        if (p < len)
            p++;   /* the '\n' */
    }
    p += strlen("-----END ");
    if (!has_at(in, len, p, label) || !has_at(in, len, p + llen, "-----"))
        return aios__fail(AIOS_E_FORMAT, "PEM: the END line does not match BEGIN %s", label);
    if ((next = line_end(in, len, p + llen + 5)) == 0)
        return aios__fail(AIOS_E_FORMAT, "PEM: unexpected bytes after END %s", label);
    *pos = next;
    if (tlen == 0)
        return aios__fail(AIOS_E_FORMAT, "PEM: the %s block is empty", label);
    rc = aios__base64_decode(s->der, s->cap, der_len, s->text, tlen, AIOS__B64_STANDARD);
    aios__wipe(s->text, tlen);
    if (rc != AIOS_OK) {
        *der_len = 0;
        return aios__error_prefix("PEM %s body", label);
    }
    return AIOS_OK;
}

/* The end of a PEM input: only whitespace may follow the key's block. */
static int pem_finish(const uint8_t *in, size_t len, size_t pos)
{
    if (skip_ws(in, len, pos) != len)
        return aios__fail(AIOS_E_FORMAT, "PEM: %zu unexpected bytes after the key's END line",
                          len - skip_ws(in, len, pos));
    return AIOS_OK;
}

/* Write der as a PEM block with 64-character lines, NUL-terminated. */
static int pem_write(char *out, size_t out_cap, size_t *out_len, const char *label,
                     const uint8_t *der_bytes, size_t der_len)
{
    char b64[AIOS__PKCS8_DER_MAX / 3 * 4 + 8];
    size_t chars, lines, need, pos = 0, i;
    int rc;

    if ((rc = aios__base64_encode(b64, sizeof(b64), der_bytes, der_len, AIOS__B64_STANDARD))
        != AIOS_OK)
        return rc;
    chars = strlen(b64);
    lines = (chars + 63) / 64;
    need = strlen("-----BEGIN -----\n") + strlen(label) + chars + lines +
           strlen("-----END -----\n") + strlen(label) + 1;
    if (out_cap < need) {
        aios__wipe(b64, sizeof(b64));
        *out_len = need;
        return aios__fail(AIOS_E_BUFFER_TOO_SMALL,
                          "PEM: the %s block needs %zu bytes, the buffer has %zu", label, need,
                          out_cap);
    }
    pos += (size_t)snprintf(out, out_cap, "-----BEGIN %s-----\n", label);
    for (i = 0; i < chars; i += 64) {
        size_t n = chars - i < 64 ? chars - i : 64;
        memcpy(out + pos, b64 + i, n);
        pos += n;
        out[pos++] = '\n';
    }
    pos += (size_t)snprintf(out + pos, out_cap - pos, "-----END %s-----\n", label);
    aios__wipe(b64, sizeof(b64));
    *out_len = pos;
    return AIOS_OK;
}

/* ============================================================ DER writer */

static size_t tlv_len(size_t content)
{
    return content + (content < 0x80 ? 2 : content < 0x100 ? 3 : 4);
}

static void put_hdr(uint8_t *p, size_t *pos, uint8_t tag, size_t len)
{
    p[(*pos)++] = tag;
    if (len >= 0x100) {
        p[(*pos)++] = 0x82;
        p[(*pos)++] = (uint8_t)(len >> 8);
    } else if (len >= 0x80) {
        p[(*pos)++] = 0x81;
    }
    p[(*pos)++] = (uint8_t)len;
}

static void put_bytes(uint8_t *p, size_t *pos, const uint8_t *b, size_t n)
{
    memcpy(p + *pos, b, n);
    *pos += n;
}

/* The AlgorithmIdentifier of alg; returns its full length. */
static size_t put_algid(uint8_t *p, size_t *pos, aios__keyenc_alg alg, int write)
{
    size_t olen = 0, clen = 0, content;
    const uint8_t *oid = alg_oid(alg, &olen), *coid = NULL;

    content = tlv_len(olen);
    if (alg_is_ec(alg)) {
        coid = curve_oid(alg, &clen);
        content += tlv_len(clen);
    }
    if (write) {
        put_hdr(p, pos, 0x30, content);
        put_hdr(p, pos, 0x06, olen);
        put_bytes(p, pos, oid, olen);
        if (coid != NULL) {
            put_hdr(p, pos, 0x06, clen);
            put_bytes(p, pos, coid, clen);
        }
    }
    return tlv_len(content);
}

/* Copy a finished encoding to the caller, or report the size needed. */
static int der_out(uint8_t *out, size_t out_cap, size_t *out_len, const uint8_t *tmp,
                   size_t len, const char *what)
{
    if (out_cap < len) {
        *out_len = len;
        return aios__fail(AIOS_E_BUFFER_TOO_SMALL, "%s needs %zu bytes, the buffer has %zu",
                          what, len, out_cap);
    }
    memcpy(out, tmp, len);
    *out_len = len;
    return AIOS_OK;
}

/* ================================================================ SPKI */

static int spki_build(uint8_t tmp[AIOS__SPKI_DER_MAX], size_t *len, aios__keyenc_alg alg,
                      const uint8_t *pub, size_t pub_len)
{
    size_t pos = 0, content;
    int rc;

    if ((rc = pub_check(alg, pub, pub_len, "SubjectPublicKeyInfo")) != AIOS_OK)
        return rc;
    content = put_algid(NULL, NULL, alg, 0) + tlv_len(1 + pub_len);
    put_hdr(tmp, &pos, 0x30, content);
    put_algid(tmp, &pos, alg, 1);
    put_hdr(tmp, &pos, 0x03, 1 + pub_len);
    tmp[pos++] = 0x00;
    put_bytes(tmp, &pos, pub, pub_len);
    *len = pos;
    return AIOS_OK;
}

static int keyenc_alg_ok(aios__keyenc_alg alg)
{
    return aios__keyenc_pub_len(alg) != 0;
}

int aios__spki_encode_der(uint8_t *out, size_t out_cap, size_t *out_len,
                          aios__keyenc_alg alg, const uint8_t *pub, size_t pub_len)
{
    uint8_t tmp[AIOS__SPKI_DER_MAX];
    size_t len = 0;
    int rc;

    AIOS__CHECK_ARG(out_len != NULL, "out_len is NULL");
    *out_len = 0;
    AIOS__CHECK_ARG(out != NULL && pub != NULL, "out or pub is NULL");
    AIOS__CHECK_ARG(keyenc_alg_ok(alg), "unknown key algorithm");
    if ((rc = spki_build(tmp, &len, alg, pub, pub_len)) != AIOS_OK)
        return rc;
    return der_out(out, out_cap, out_len, tmp, len, "SubjectPublicKeyInfo");
}

int aios__spki_encode_pem(char *out, size_t out_cap, size_t *out_len,
                          aios__keyenc_alg alg, const uint8_t *pub, size_t pub_len)
{
    uint8_t tmp[AIOS__SPKI_DER_MAX];
    size_t len = 0;
    int rc;

    AIOS__CHECK_ARG(out_len != NULL, "out_len is NULL");
    *out_len = 0;
    AIOS__CHECK_ARG(out != NULL && pub != NULL, "out or pub is NULL");
    AIOS__CHECK_ARG(keyenc_alg_ok(alg), "unknown key algorithm");
    if ((rc = spki_build(tmp, &len, alg, pub, pub_len)) != AIOS_OK)
        return rc;
    return pem_write(out, out_cap, out_len, "PUBLIC KEY", tmp, len);
}

/* Parse a SubjectPublicKeyInfo; pub gets the checked raw key. */
static int spki_parse(der d, aios__keyenc_alg *alg, uint8_t pub[AIOS__KEYENC_PUB_MAX],
                      size_t *pub_len)
{
    static const char where[] = "SubjectPublicKeyInfo";
    der spki = { NULL, 0 }, algid = { NULL, 0 }, bits = { NULL, 0 };
    int rc;

    if ((rc = der_take(&d, 0x30, &spki, where, "a SEQUENCE")) != AIOS_OK ||
        (rc = der_end(&d, where, "the SubjectPublicKeyInfo")) != AIOS_OK ||
        (rc = der_take(&spki, 0x30, &algid, where, "the AlgorithmIdentifier")) != AIOS_OK ||
        (rc = der_bits(&spki, 0x03, &bits, where, "the subjectPublicKey BIT STRING")) != AIOS_OK ||
        (rc = der_end(&spki, where, "the subjectPublicKey")) != AIOS_OK ||
        (rc = parse_algid(algid, where, alg)) != AIOS_OK ||
        (rc = pub_check(*alg, bits.p, bits.n, where)) != AIOS_OK)
        return rc;
    memcpy(pub, bits.p, bits.n);
    *pub_len = bits.n;
    return AIOS_OK;
}

int aios__spki_decode(const uint8_t *in, size_t len, int *alg_out,
                      uint8_t *pub, size_t pub_cap, size_t *pub_len)
{
    uint8_t key[AIOS__KEYENC_PUB_MAX];
    char label[PEM_LABEL_MAX + 1];
    pem_scratch s;
    aios__keyenc_alg alg = AIOS__KEYENC_ED25519;
    size_t klen = 0, pos = 0;
    der d = { NULL, 0 };
    int rc;

    AIOS__CHECK_ARG(alg_out != NULL && pub_len != NULL, "alg_out or pub_len is NULL");
    *alg_out = 0;
    *pub_len = 0;
    AIOS__CHECK_ARG(in != NULL || len == 0, "in is NULL with a nonzero length");
    AIOS__CHECK_ARG(pub != NULL || pub_cap == 0, "pub is NULL with a nonzero capacity");
    if (len > AIOS__KEYENC_INPUT_MAX)
        return aios__fail(AIOS_E_LIMIT, "public key: %zu bytes exceed the %d-byte limit", len,
                          AIOS__KEYENC_INPUT_MAX);
    if (len == 0)
        return aios__fail(AIOS_E_FORMAT, "public key: the input is empty");
    memset(&s, 0, sizeof(s));
    if (looks_pem(in, len)) {
        if ((rc = scratch_new(&s, len)) != AIOS_OK)
            return rc;
        d.p = s.der;
        if ((rc = pem_read(in, len, &pos, label, &s, &d.n)) != AIOS_OK)
            goto done;
        if (strcmp(label, "PUBLIC KEY") != 0) {
            rc = strcmp(label, "RSA PUBLIC KEY") == 0
                ? aios__fail(AIOS_E_UNSUPPORTED, "PEM: RSA keys are not supported")
                : aios__fail(AIOS_E_FORMAT,
                             "PEM: expected a PUBLIC KEY block, found %s", label);
            goto done;
        }
        if ((rc = pem_finish(in, len, pos)) != AIOS_OK)
            goto done;
    } else {
        d.p = in;
        d.n = len;
    }
    if ((rc = spki_parse(d, &alg, key, &klen)) != AIOS_OK)
        goto done;
    if (pub_cap < klen) {
        *pub_len = klen;
        rc = aios__fail(AIOS_E_BUFFER_TOO_SMALL,
                        "public key: the %s key needs %zu bytes, the buffer has %zu",
                        alg_title(alg), klen, pub_cap);
        goto done;
    }
    memcpy(pub, key, klen);
    *pub_len = klen;
    *alg_out = (int)alg;
done:
    scratch_free(&s);
    return rc;
}

/* ============================================================== PKCS#8 */

/* The PKCS#8 encoding of a checked private key, its public key pub. */
static void pkcs8_build(uint8_t tmp[AIOS__PKCS8_DER_MAX], size_t *len, aios__keyenc_alg alg,
                        const uint8_t *priv, size_t priv_len, const uint8_t *pub, size_t pub_len)
{
    static const uint8_t version0[] = { 0x02, 0x01, 0x00 }, version1[] = { 0x02, 0x01, 0x01 };
    size_t pos = 0, inner, content;

    if (alg_is_ec(alg)) {
        /* ECPrivateKey { 1, privateKey, [1] publicKey }, as OpenSSL. */
        inner = sizeof(version1) + tlv_len(priv_len) + tlv_len(tlv_len(1 + pub_len));
        content = sizeof(version0) + put_algid(NULL, NULL, alg, 0) + tlv_len(tlv_len(inner));
        put_hdr(tmp, &pos, 0x30, content);
        put_bytes(tmp, &pos, version0, sizeof(version0));
        put_algid(tmp, &pos, alg, 1);
        put_hdr(tmp, &pos, 0x04, tlv_len(inner));
        put_hdr(tmp, &pos, 0x30, inner);
        put_bytes(tmp, &pos, version1, sizeof(version1));
        put_hdr(tmp, &pos, 0x04, priv_len);
        put_bytes(tmp, &pos, priv, priv_len);
        put_hdr(tmp, &pos, 0xa1, tlv_len(1 + pub_len));
        put_hdr(tmp, &pos, 0x03, 1 + pub_len);
        tmp[pos++] = 0x00;
        put_bytes(tmp, &pos, pub, pub_len);
    } else {
        /* CurvePrivateKey ::= OCTET STRING, inside the privateKey OCTET
         * STRING (RFC 8410 section 7); no public key, as OpenSSL. */
        content = sizeof(version0) + put_algid(NULL, NULL, alg, 0) + tlv_len(tlv_len(priv_len));
        put_hdr(tmp, &pos, 0x30, content);
        put_bytes(tmp, &pos, version0, sizeof(version0));
        put_algid(tmp, &pos, alg, 1);
        put_hdr(tmp, &pos, 0x04, tlv_len(priv_len));
        put_hdr(tmp, &pos, 0x04, priv_len);
        put_bytes(tmp, &pos, priv, priv_len);
    }
    *len = pos;
}

/* Build the DER form into tmp after checking the key. */
static int pkcs8_encode(uint8_t tmp[AIOS__PKCS8_DER_MAX], size_t *len, aios__keyenc_alg alg,
                        const uint8_t *priv, size_t priv_len)
{
    uint8_t pub[AIOS__KEYENC_PUB_MAX];
    size_t pub_len = 0;
    int rc;

    if (priv_len != aios__keyenc_priv_len(alg))
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "PKCS#8: a %s private key is %zu bytes, not %zu",
                          alg_title(alg), aios__keyenc_priv_len(alg), priv_len);
    if ((rc = aios__keyenc_public(alg, priv, priv_len, pub, sizeof(pub), &pub_len)) != AIOS_OK)
        return aios__error_prefix("PKCS#8");
    pkcs8_build(tmp, len, alg, priv, priv_len, pub, pub_len);
    return AIOS_OK;
}

int aios__pkcs8_encode_der(uint8_t *out, size_t out_cap, size_t *out_len,
                           aios__keyenc_alg alg, const uint8_t *priv, size_t priv_len)
{
    uint8_t tmp[AIOS__PKCS8_DER_MAX];
    size_t len = 0;
    int rc;

    AIOS__CHECK_ARG(out_len != NULL, "out_len is NULL");
    *out_len = 0;
    AIOS__CHECK_ARG(out != NULL && priv != NULL, "out or priv is NULL");
    AIOS__CHECK_ARG(keyenc_alg_ok(alg), "unknown key algorithm");
    if ((rc = pkcs8_encode(tmp, &len, alg, priv, priv_len)) == AIOS_OK)
        rc = der_out(out, out_cap, out_len, tmp, len, "PKCS#8");
    if (rc != AIOS_OK && rc != AIOS_E_BUFFER_TOO_SMALL)
        aios__wipe(out, out_cap);
    aios__wipe(tmp, sizeof(tmp));
    return rc;
}

int aios__pkcs8_encode_pem(char *out, size_t out_cap, size_t *out_len,
                           aios__keyenc_alg alg, const uint8_t *priv, size_t priv_len)
{
    uint8_t tmp[AIOS__PKCS8_DER_MAX];
    size_t len = 0;
    int rc;

    AIOS__CHECK_ARG(out_len != NULL, "out_len is NULL");
    *out_len = 0;
    AIOS__CHECK_ARG(out != NULL && priv != NULL, "out or priv is NULL");
    AIOS__CHECK_ARG(keyenc_alg_ok(alg), "unknown key algorithm");
    if ((rc = pkcs8_encode(tmp, &len, alg, priv, priv_len)) == AIOS_OK)
        rc = pem_write(out, out_cap, out_len, "PRIVATE KEY", tmp, len);
    if (rc != AIOS_OK && rc != AIOS_E_BUFFER_TOO_SMALL)
        aios__wipe(out, out_cap);
    aios__wipe(tmp, sizeof(tmp));
    return rc;
}

/* ECPrivateKey (RFC 5915) in d, which must hold exactly one.  *alg is the
 * curve the context fixes (PKCS#8), or 0 when [0] must name it (SEC1; a
 * preceding EC PARAMETERS block counts as the context).  sk gets the
 * scalar, pub the public key it gives. */
static int ecprivatekey_parse(der d, aios__keyenc_alg *alg, uint8_t sk[AIOS__KEYENC_PRIV_MAX],
                              uint8_t pub[AIOS__KEYENC_PUB_MAX], const char *where)
{
    der seq = { NULL, 0 }, scalar = { NULL, 0 }, params = { NULL, 0 }, bits = { NULL, 0 };
    der wrap = { NULL, 0 };
    aios__keyenc_alg named = (aios__keyenc_alg)0;
    int version = -1, has_pub = 0, rc;
    size_t n;
    uint8_t tag = 0;

    if ((rc = der_take(&d, 0x30, &seq, where, "the ECPrivateKey SEQUENCE")) != AIOS_OK ||
        (rc = der_end(&d, where, "the ECPrivateKey")) != AIOS_OK ||
        (rc = der_small_int(&seq, where, "the ECPrivateKey version", &version)) != AIOS_OK ||
        (rc = der_take(&seq, 0x04, &scalar, where, "the privateKey OCTET STRING")) != AIOS_OK)
        return rc;
    if (version != 1)
        return aios__fail(AIOS_E_FORMAT, "%s: ECPrivateKey version %d, expected 1", where,
                          version);
    if (der_peek(&seq, 0xa0)) {
        if ((rc = der_take(&seq, 0xa0, &wrap, where, "the [0] parameters")) != AIOS_OK)
            return rc;
        if (!der_next(&wrap, &tag, &params))
            return aios__fail(AIOS_E_FORMAT, "%s: malformed [0] EC parameters", where);
        if ((rc = der_end(&wrap, where, "the [0] EC parameters")) != AIOS_OK ||
            (rc = ec_params(tag, &params, where, &named)) != AIOS_OK)
            return rc;
    }
    if (der_peek(&seq, 0xa1)) {
        if ((rc = der_take(&seq, 0xa1, &wrap, where, "the [1] public key")) != AIOS_OK ||
            (rc = der_bits(&wrap, 0x03, &bits, where, "the public key BIT STRING")) != AIOS_OK ||
            (rc = der_end(&wrap, where, "the [1] public key")) != AIOS_OK)
            return rc;
        has_pub = 1;
    }
    if ((rc = der_end(&seq, where, "the ECPrivateKey fields")) != AIOS_OK)
        return rc;
    if (*alg == 0 && named == 0)
        return aios__fail(AIOS_E_FORMAT, "%s: the ECPrivateKey does not name its curve", where);
    if (*alg != 0 && named != 0 && named != *alg)
        return aios__fail(AIOS_E_FORMAT,
                          "%s: the ECPrivateKey names %s, the algorithm identifier %s", where,
                          alg_title(named), alg_title(*alg));
    if (*alg == 0)
        *alg = named;
    n = aios__keyenc_priv_len(*alg);
    if (scalar.n != n)
        return aios__fail(AIOS_E_FORMAT, "%s: a %s private key is %zu bytes (RFC 5915), not %zu",
                          where, alg_title(*alg), n, scalar.n);
    memcpy(sk, scalar.p, n);
    if ((rc = aios__ecdsa_public(alg_curve(*alg), sk, pub)) != AIOS_OK)
        return aios__error_prefix("%s", where);
    if (has_pub)
        return embedded_pub_check(*alg, pub, &bits, where);
    return AIOS_OK;
}

/* OneAsymmetricKey / PrivateKeyInfo (RFC 5958 / RFC 5208) content. */
static int pkcs8_parse(der seq, aios__keyenc_alg *alg, uint8_t sk[AIOS__KEYENC_PRIV_MAX],
                       uint8_t pub[AIOS__KEYENC_PUB_MAX])
{
    static const char where[] = "PKCS#8";
    der algid = { NULL, 0 }, octets = { NULL, 0 }, inner = { NULL, 0 }, attrs = { NULL, 0 };
    der bits = { NULL, 0 };
    int version = -1, has_pub = 0, rc;
    size_t pub_len = 0;

    if ((rc = der_small_int(&seq, where, "the version", &version)) != AIOS_OK ||
        (rc = der_take(&seq, 0x30, &algid, where, "the AlgorithmIdentifier")) != AIOS_OK ||
        (rc = der_take(&seq, 0x04, &octets, where, "the privateKey OCTET STRING")) != AIOS_OK)
        return rc;
    if (version != 0 && version != 1)
        return aios__fail(AIOS_E_FORMAT, "%s: version %d, expected 0 or 1", where, version);
    /* [0] attributes: a SET OF Attribute we have no use for; skipped. */
    if (der_peek(&seq, 0xa0) &&
        (rc = der_take(&seq, 0xa0, &attrs, where, "the [0] attributes")) != AIOS_OK)
        return rc;
    if (der_peek(&seq, 0x81)) {
        if (version != 1)
            return aios__fail(AIOS_E_FORMAT, "%s: a version 0 key cannot carry a public key",
                              where);
        if ((rc = der_bits(&seq, 0x81, &bits, where, "the [1] public key")) != AIOS_OK)
            return rc;
        has_pub = 1;
    }
    if ((rc = der_end(&seq, where, "the key's fields")) != AIOS_OK ||
        (rc = parse_algid(algid, where, alg)) != AIOS_OK)
        return rc;

    if (alg_is_ec(*alg)) {
        if ((rc = ecprivatekey_parse(octets, alg, sk, pub, where)) != AIOS_OK)
            return rc;
    } else {
        /* CurvePrivateKey ::= OCTET STRING of 32 bytes. */
        if ((rc = der_take(&octets, 0x04, &inner, where, "the CurvePrivateKey OCTET STRING"))
                != AIOS_OK ||
            (rc = der_end(&octets, where, "the CurvePrivateKey")) != AIOS_OK)
            return rc;
        if (inner.n != aios__keyenc_priv_len(*alg))
            return aios__fail(AIOS_E_FORMAT, "%s: a %s private key is %zu bytes, not %zu", where,
                              alg_title(*alg), aios__keyenc_priv_len(*alg), inner.n);
        memcpy(sk, inner.p, inner.n);
        if ((rc = aios__keyenc_public(*alg, sk, inner.n, pub, AIOS__KEYENC_PUB_MAX, &pub_len))
            != AIOS_OK)
            return aios__error_prefix("%s", where);
    }
    if (has_pub)
        return embedded_pub_check(*alg, pub, &bits, where);
    return AIOS_OK;
}

/* A private key in DER: PKCS#8, SEC1 ECPrivateKey, or an encrypted
 * PKCS#8 we can name.  ec_alg is the curve of a preceding EC PARAMETERS
 * block (0 if none); sec1_only for an "EC PRIVATE KEY" block. */
static int private_parse(der d, int sec1_only, aios__keyenc_alg ec_alg, aios__keyenc_alg *alg,
                         uint8_t sk[AIOS__KEYENC_PRIV_MAX], uint8_t pub[AIOS__KEYENC_PUB_MAX])
{
    der whole = d, seq = { NULL, 0 }, probe = { NULL, 0 }, a = { NULL, 0 }, b = { NULL, 0 };
    uint8_t tag = 0;
    int rc;

    if ((rc = der_take(&d, 0x30, &seq, "private key", "a SEQUENCE")) != AIOS_OK ||
        (rc = der_end(&d, "private key", "the key")) != AIOS_OK)
        return rc;
    probe = seq;
    if (der_peek(&probe, 0x30)) {
        /* EncryptedPrivateKeyInfo ::= SEQUENCE { AlgorithmIdentifier,
         * OCTET STRING }: name it, do not try to decrypt it. */
        if (!sec1_only && der_next(&probe, &tag, &a) && der_next(&probe, &tag, &b) &&
            tag == 0x04 && probe.n == 0)
            return aios__fail(AIOS_E_UNSUPPORTED,
                              "private key: encrypted PKCS#8 is not supported; decrypt it first");
        return aios__fail(AIOS_E_FORMAT, "private key: not a PKCS#8 or SEC1 structure");
    }
    if (der_peek(&probe, 0x02) && der_next(&probe, &tag, &a) && der_peek(&probe, 0x04)) {
        /* INTEGER then OCTET STRING: SEC1 ECPrivateKey. */
        *alg = ec_alg;
        return ecprivatekey_parse(whole, alg, sk, pub, "SEC1");
    }
    if (sec1_only)
        return aios__fail(AIOS_E_FORMAT, "SEC1: the EC PRIVATE KEY block is not an ECPrivateKey");
    return pkcs8_parse(seq, alg, sk, pub);
}

int aios__pkcs8_decode(const uint8_t *in, size_t len, int *alg_out,
                       uint8_t *priv, size_t priv_cap, size_t *priv_len)
{
    uint8_t sk[AIOS__KEYENC_PRIV_MAX], pub[AIOS__KEYENC_PUB_MAX];
    char label[PEM_LABEL_MAX + 1];
    pem_scratch s;
    aios__keyenc_alg alg = (aios__keyenc_alg)0, ec_alg = (aios__keyenc_alg)0;
    size_t pos = 0, klen;
    int sec1 = 0, rc;
    der d = { NULL, 0 };

    AIOS__CHECK_ARG(alg_out != NULL && priv_len != NULL, "alg_out or priv_len is NULL");
    *alg_out = 0;
    *priv_len = 0;
    AIOS__CHECK_ARG(in != NULL || len == 0, "in is NULL with a nonzero length");
    AIOS__CHECK_ARG(priv != NULL || priv_cap == 0, "priv is NULL with a nonzero capacity");
    memset(&s, 0, sizeof(s));
    if (len > AIOS__KEYENC_INPUT_MAX) {
        rc = aios__fail(AIOS_E_LIMIT, "private key: %zu bytes exceed the %d-byte limit", len,
                        AIOS__KEYENC_INPUT_MAX);
        goto done;
    }
    if (len == 0) {
        rc = aios__fail(AIOS_E_FORMAT, "private key: the input is empty");
        goto done;
    }
    if (looks_pem(in, len)) {
        if ((rc = scratch_new(&s, len)) != AIOS_OK)
            goto done;
        d.p = s.der;
        if ((rc = pem_read(in, len, &pos, label, &s, &d.n)) != AIOS_OK)
            goto done;
        if (strcmp(label, "EC PARAMETERS") == 0) {
            /* `openssl ecparam -genkey` writes the curve first. */
            der params = { s.der, d.n }, oid = { NULL, 0 };
            uint8_t tag = 0;
            if (!der_next(&params, &tag, &oid) || params.n != 0) {
                rc = aios__fail(AIOS_E_FORMAT, "PEM: malformed EC PARAMETERS block");
                goto done;
            }
            if ((rc = ec_params(tag, &oid, "EC PARAMETERS", &ec_alg)) != AIOS_OK)
                goto done;
            if ((rc = pem_read(in, len, &pos, label, &s, &d.n)) != AIOS_OK)
                goto done;
            if (strcmp(label, "EC PRIVATE KEY") != 0) {
                rc = aios__fail(AIOS_E_FORMAT,
                                "PEM: EC PARAMETERS must be followed by EC PRIVATE KEY, not %s",
                                label);
                goto done;
            }
        }
        if (strcmp(label, "EC PRIVATE KEY") == 0) {
            sec1 = 1;
        } else if (strcmp(label, "ENCRYPTED PRIVATE KEY") == 0) {
            rc = aios__fail(AIOS_E_UNSUPPORTED,
                            "PEM: encrypted PKCS#8 is not supported; decrypt it first");
            goto done;
        } else if (strcmp(label, "RSA PRIVATE KEY") == 0 || strcmp(label, "DSA PRIVATE KEY") == 0 ||
                   strcmp(label, "OPENSSH PRIVATE KEY") == 0) {
            rc = aios__fail(AIOS_E_UNSUPPORTED, "PEM: %s blocks are not supported", label);
            goto done;
        } else if (strcmp(label, "PRIVATE KEY") != 0) {
            rc = aios__fail(AIOS_E_FORMAT, "PEM: expected a PRIVATE KEY block, found %s", label);
            goto done;
        }
        if ((rc = pem_finish(in, len, pos)) != AIOS_OK)
            goto done;
    } else {
        d.p = in;
        d.n = len;
    }
    if ((rc = private_parse(d, sec1, ec_alg, &alg, sk, pub)) != AIOS_OK)
        goto done;
    klen = aios__keyenc_priv_len(alg);
    if (priv_cap < klen) {
        *priv_len = klen;
        rc = aios__fail(AIOS_E_BUFFER_TOO_SMALL,
                        "private key: the %s key needs %zu bytes, the buffer has %zu",
                        alg_title(alg), klen, priv_cap);
        goto done;
    }
    memcpy(priv, sk, klen);
    *priv_len = klen;
    *alg_out = (int)alg;
done:
    if (rc != AIOS_OK && priv_cap > 0)
        aios__wipe(priv, priv_cap);
    aios__wipe(sk, sizeof(sk));
    aios__wipe(pub, sizeof(pub));
    scratch_free(&s);
    return rc;
}
