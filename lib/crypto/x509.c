/*
 * X.509 path validation for the certificate method of signed model
 * manifests (docs/MANIFEST.md 7.2-7.4) on mbedTLS 2.28's x509 library.
 * See crypto.h for the contract.
 *
 * What mbedTLS does: parse (mbedtls_x509_crt_parse_der copies the bytes),
 * build the path from the leaf through the list that follows it to a
 * trusted certificate, check signatures, CA bits, keyCertSign, path
 * lengths and the profile (mbedtls_x509_crt_verify_with_profile).
 * What we add:
 *   - limits, trailing-byte checks and status mapping;
 *   - the order of the intermediates: mbedTLS looks for a parent only
 *     among the certificates *after* the child in the list, so the
 *     untrusted intermediates are ordered here by issuer/subject name
 *     (greedy from the leaf, the unmatched rest appended in the given
 *     order);
 *   - time: mbedTLS compares with the system clock; the verify callback
 *     clears those flags and checks every certificate of the path against
 *     the policy time T itself;
 *   - leaf usage and key type: mbedtls_x509_crt_check_key_usage() and
 *     _check_extended_key_usage() succeed when the extension is absent,
 *     and the latter accepts anyExtendedKeyUsage, so the extensions are
 *     tested directly.
 * Also here, on mbedTLS's ASN.1 reader: a Fulcio certificate's identity,
 * its embedded SCTs (RFC 6962), and RFC 3161 timestamp responses (CMS
 * SignedData over a TSTInfo) for Sigstore keyless bundles
 * (docs/MANIFEST.md 7.5, 7.5.1).
 * Everything here is public data (certificates): nothing to wipe.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mbedtls/asn1.h>
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509.h>
#include <mbedtls/x509_crt.h>

#include "crypto.h"
#include "../core/internal.h"

/* SHA-256/384/512 signatures; RSA (PKCS#1 v1.5 or PSS) >= 2048 bits and
 * ECDSA on P-256/P-384/P-521 keys (MANIFEST.md 7.2). */
static const mbedtls_x509_crt_profile manifest_profile = {
    MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA256) | MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA384) |
        MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA512),
    MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_RSA) | MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_RSASSA_PSS) |
        MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_ECKEY) | MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_ECDSA),
    MBEDTLS_X509_ID_FLAG(MBEDTLS_ECP_DP_SECP256R1) | MBEDTLS_X509_ID_FLAG(MBEDTLS_ECP_DP_SECP384R1) |
        MBEDTLS_X509_ID_FLAG(MBEDTLS_ECP_DP_SECP521R1),
    2048,
};

/* ---------------------------------------------------------------- helpers */

int64_t aios__days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t x509_time_unix(const mbedtls_x509_time *t)
{
    return aios__days_from_civil(t->year, t->mon, t->day) * 86400 + (int64_t)t->hour * 3600 +
           (int64_t)t->min * 60 + t->sec;
}

/* A DN as printable text, cut with "..." when longer than the buffer. */
static void dn_text(char out[AIOS__X509_DN_MAX], const mbedtls_x509_name *dn)
{
    char big[1024];
    int n, i;

    big[0] = 0;   /* an empty name writes nothing, not even the NUL */
    n = mbedtls_x509_dn_gets(big, sizeof(big), dn);
    if (n >= 0 && (size_t)n < sizeof(big)) {
        big[n] = 0;
        for (i = 0; i < n; i++)   /* mbedTLS prints '?' already; be sure */
            if ((unsigned char)big[i] < 0x20 || (unsigned char)big[i] >= 0x7f)
                big[i] = '?';
    }
    if (n < 0 || (size_t)n >= sizeof(big)) {
        snprintf(out, AIOS__X509_DN_MAX, "(a name too long to print)");
        return;
    }
    if ((size_t)n >= AIOS__X509_DN_MAX) {
        memcpy(out, big, AIOS__X509_DN_MAX - 4);
        memcpy(out + AIOS__X509_DN_MAX - 4, "...", 4);
        return;
    }
    memcpy(out, big, (size_t)n + 1);
}

static int map_parse_error(int ret, const char *what, size_t index)
{
    int high = -((-ret) & 0xFF80);   /* the x509 part of a composite code */
    char err[128];

    if (ret == MBEDTLS_ERR_X509_ALLOC_FAILED || ret == MBEDTLS_ERR_PK_ALLOC_FAILED)
        return aios__nomem(what);
    if (ret == MBEDTLS_ERR_PK_UNKNOWN_PK_ALG || high == MBEDTLS_ERR_X509_UNKNOWN_SIG_ALG)
        return aios__fail(AIOS_E_UNSUPPORTED, "%s %zu: a key or signature algorithm this "
                          "library cannot read", what, index);
    mbedtls_strerror(ret, err, sizeof(err));
    return aios__fail(AIOS_E_FORMAT, "%s %zu is not a DER X.509 certificate (%s)", what, index,
                      err);
}

/* The last certificate of a non-empty list. */
static mbedtls_x509_crt *crt_last(mbedtls_x509_crt *c)
{
    while (c->next != NULL)
        c = c->next;
    return c;
}

/* Append one DER certificate to list, exactly len bytes. */
static int parse_der(mbedtls_x509_crt *list, const uint8_t *der, size_t len, const char *what,
                     size_t index)
{
    int ret;

    if (der == NULL || len == 0)
        return aios__fail(AIOS_E_FORMAT, "%s %zu is empty", what, index);
    if ((ret = mbedtls_x509_crt_parse_der(list, der, len)) != 0)
        return map_parse_error(ret, what, index);
    if (crt_last(list)->raw.len != len)
        return aios__fail(AIOS_E_FORMAT, "%s %zu: %zu bytes after the certificate", what, index,
                          len - crt_last(list)->raw.len);
    return AIOS_OK;
}

static int starts_pem(const uint8_t *p, size_t len)
{
    static const char tag[] = "-----BEGIN ";
    size_t i = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    return len - i >= sizeof(tag) - 1 && memcmp(p + i, tag, sizeof(tag) - 1) == 0;
}

static size_t crt_count(const mbedtls_x509_crt *c)
{
    size_t n = 0;
    for (; c != NULL && c->raw.p != NULL; c = c->next)
        n++;
    return n;
}

static int load_anchors(mbedtls_x509_crt *list, const uint8_t *const *anchors,
                        const size_t *anchor_lens, size_t anchors_n)
{
    size_t i;
    int rc, ret;

    for (i = 0; i < anchors_n; i++) {
        const uint8_t *a = anchors[i];
        size_t len = anchor_lens[i], before = crt_count(list);
        if (a == NULL || len == 0)
            return aios__fail(AIOS_E_INVALID_ARGUMENT, "trust anchor %zu is empty", i);
        if (len > AIOS__X509_ANCHOR_MAX)
            return aios__fail(AIOS_E_LIMIT, "trust anchor %zu: %zu bytes is over %zu", i, len,
                              AIOS__X509_ANCHOR_MAX);
        if (starts_pem(a, len)) {
            /* mbedtls_x509_crt_parse reads PEM only from a NUL-terminated
             * buffer whose length counts the NUL. */
            uint8_t *z = aios__malloc(len + 1);
            if (z == NULL)
                return aios__nomem("trust anchors");
            memcpy(z, a, len);
            z[len] = 0;
            ret = mbedtls_x509_crt_parse(list, z, len + 1);
            aios__free(z);
            if (ret == MBEDTLS_ERR_X509_ALLOC_FAILED)
                return aios__nomem("trust anchors");
            if (ret != 0 || crt_count(list) == before)
                return aios__fail(AIOS_E_FORMAT, "trust anchor %zu: a PEM certificate that does "
                                  "not parse (or none)", i);
        } else if ((rc = parse_der(list, a, len, "trust anchor", i)) != AIOS_OK) {
            return rc;
        }
    }
    return AIOS_OK;
}

/* ------------------------------------------------------------ the callback */

typedef struct vctx {
    int64_t  t;             /* policy time (the span's first) */
    int64_t  t_last;        /* the span's last: valid from t to t_last */
    size_t   path_len;
    uint32_t all_flags;
    int      bad_depth;     /* leaf-most certificate with a flag; -1 none */
    uint32_t bad_flags;
    char     bad_subject[AIOS__X509_DN_MAX];
    uint8_t  issuer_key_hash[32];   /* of the certificate at depth 1 */
} vctx;

/* Called for each certificate of the built path, the top first. */
static int verify_cb(void *payload, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    vctx *c = payload;

    *flags &= ~(uint32_t)(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE);
    if (c->t < x509_time_unix(&crt->valid_from))
        *flags |= MBEDTLS_X509_BADCERT_FUTURE;
    if (c->t_last > x509_time_unix(&crt->valid_to))
        *flags |= MBEDTLS_X509_BADCERT_EXPIRED;
    if (depth >= 0 && (size_t)depth + 1 > c->path_len)
        c->path_len = (size_t)depth + 1;
    if (depth == 1)
        aios__sha256(c->issuer_key_hash, crt->pk_raw.p, crt->pk_raw.len);
    if (*flags != 0) {
        c->all_flags |= *flags;
        if (c->bad_depth < 0 || depth < c->bad_depth) {
            c->bad_depth = depth;
            c->bad_flags = *flags;
            dn_text(c->bad_subject, &crt->subject);
        }
    }
    return 0;
}

static void flags_text(char *out, size_t cap, uint32_t flags)
{
    static const struct {
        uint32_t bit;
        const char *text;
    } names[] = {
        { MBEDTLS_X509_BADCERT_EXPIRED, "expired at the policy time" },
        { MBEDTLS_X509_BADCERT_FUTURE, "not yet valid at the policy time" },
        { MBEDTLS_X509_BADCERT_NOT_TRUSTED, "not trusted (no path to a trust anchor, or a bad "
                                            "signature)" },
        { MBEDTLS_X509_BADCERT_BAD_MD, "signature hash not allowed (SHA-256/384/512)" },
        { MBEDTLS_X509_BADCERT_BAD_PK, "key or signature algorithm not allowed" },
        { MBEDTLS_X509_BADCERT_BAD_KEY, "key too small or curve not allowed (RSA >= 2048, "
                                        "P-256, P-384, P-521)" },
        { MBEDTLS_X509_BADCERT_REVOKED, "revoked" },
        { MBEDTLS_X509_BADCERT_KEY_USAGE, "key usage" },
        { MBEDTLS_X509_BADCERT_EXT_KEY_USAGE, "extended key usage" },
    };
    size_t i, pos = 0;
    uint32_t rest = flags;

    out[0] = 0;
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!(flags & names[i].bit))
            continue;
        rest &= ~names[i].bit;
        pos += (size_t)snprintf(out + pos, pos < cap ? cap - pos : 0, "%s%s", pos ? ", " : "",
                                names[i].text);
    }
    if (rest != 0 && pos < cap)
        snprintf(out + pos, cap - pos, "%sother (mbedTLS flags 0x%x)", pos ? ", " : "",
                 (unsigned)rest);
}

/* -------------------------------------------------------------- the leaf */

static int leaf_key(aios__x509_leaf *out, const mbedtls_x509_crt *crt, int strict)
{
    int alg = 0, rc;
    size_t pub_len = 0;

    out->alg = 0;
    out->pub_len = 0;
    rc = aios__spki_decode(crt->pk_raw.p, crt->pk_raw.len, &alg, out->pub, sizeof(out->pub),
                           &pub_len);
    if (rc == AIOS_OK && (alg == AIOS__KEYENC_P256 || alg == AIOS__KEYENC_P384 ||
                          alg == AIOS__KEYENC_P521)) {
        out->alg = (aios__keyenc_alg)alg;
        out->pub_len = pub_len;
        return AIOS_OK;
    }
    memset(out->pub, 0, sizeof(out->pub));
    if (!strict)
        return AIOS_OK;
    if (rc == AIOS_E_NOMEM)
        return rc;
    return aios__fail(AIOS_E_UNSUPPORTED, "certificate chain: the leaf's key is %s; the "
                      "signing certificate must hold an ECDSA P-256, P-384 or P-521 key",
                      rc == AIOS_OK ? aios__keyenc_name((aios__keyenc_alg)alg) :
                      mbedtls_pk_get_name(&crt->pk));
}

static void leaf_describe(aios__x509_leaf *out, const mbedtls_x509_crt *crt)
{
    dn_text(out->subject, &crt->subject);
    dn_text(out->issuer, &crt->issuer);
    out->not_before = x509_time_unix(&crt->valid_from);
    out->not_after = x509_time_unix(&crt->valid_to);
}

/* 1 if crt has an ExtendedKeyUsage extension naming id-kp-codeSigning
 * itself (anyExtendedKeyUsage does not count). */
static int has_code_signing(const mbedtls_x509_crt *crt)
{
    const mbedtls_x509_sequence *s;

    if (!(crt->ext_types & MBEDTLS_X509_EXT_EXTENDED_KEY_USAGE))
        return 0;
    for (s = &crt->ext_key_usage; s != NULL; s = s->next)
        if (s->buf.p != NULL && MBEDTLS_OID_CMP(MBEDTLS_OID_CODE_SIGNING, &s->buf) == 0)
            return 1;
    return 0;
}

/* MANIFEST.md 7.2 step 4 (sign_certificate.py): KeyUsage present with
 * digitalSignature, else ExtendedKeyUsage present with id-kp-codeSigning. */
static int leaf_usage(const mbedtls_x509_crt *crt)
{
    if ((crt->ext_types & MBEDTLS_X509_EXT_KEY_USAGE) &&
        (crt->key_usage & MBEDTLS_X509_KU_DIGITAL_SIGNATURE))
        return AIOS_OK;
    if (has_code_signing(crt))
        return AIOS_OK;
    return aios__fail(AIOS_E_MANIFEST_CERT_USAGE, "certificate chain: the leaf allows neither "
                      "digitalSignature (KeyUsage) nor code signing (ExtendedKeyUsage)");
}

/* ------------------------------------------------------------ public API */

int aios__x509_cert_info(aios__x509_leaf *out, const uint8_t *der, size_t len)
{
    mbedtls_x509_crt crt;
    int rc;

    AIOS__CHECK_ARG(out != NULL, "out is NULL");
    memset(out, 0, sizeof(*out));
    AIOS__CHECK_ARG(der != NULL || len == 0, "der is NULL with a nonzero length");
    if (len > AIOS__X509_CERT_MAX)
        return aios__fail(AIOS_E_LIMIT, "certificate: %zu bytes is over %zu", len,
                          AIOS__X509_CERT_MAX);
    mbedtls_x509_crt_init(&crt);
    if ((rc = parse_der(&crt, der, len, "certificate", (size_t)0)) == AIOS_OK &&
        (rc = leaf_key(out, &crt, 0)) == AIOS_OK)
        leaf_describe(out, &crt);
    mbedtls_x509_crt_free(&crt);
    if (rc != AIOS_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

/* Order chain_der[1..] so that each certificate's issuer tends to follow
 * it: order[] receives indexes 1..n-1. */
static int order_intermediates(size_t *order, const uint8_t *const *chain_der,
                               const size_t *chain_lens, size_t n, const mbedtls_x509_crt *leaf)
{
    mbedtls_x509_crt tmp;
    const mbedtls_x509_crt *node[AIOS__X509_CHAIN_MAX];
    const mbedtls_x509_buf *want = &leaf->issuer_raw;
    int used[AIOS__X509_CHAIN_MAX] = { 0 };
    size_t i, k = 0;
    int rc = AIOS_OK;

    mbedtls_x509_crt_init(&tmp);
    for (i = 1; i < n && rc == AIOS_OK; i++)
        rc = parse_der(&tmp, chain_der[i], chain_lens[i], "certificate", i);
    if (rc == AIOS_OK) {
        const mbedtls_x509_crt *c = &tmp;
        for (i = 1; i < n; i++, c = c->next)
            node[i] = c;
        while (k < n - 1) {
            for (i = 1; i < n; i++)
                if (!used[i] && node[i]->subject_raw.len == want->len &&
                    memcmp(node[i]->subject_raw.p, want->p, want->len) == 0)
                    break;
            if (i == n)
                break;
            used[i] = 1;
            order[k++] = i;
            want = &node[i]->issuer_raw;
        }
        for (i = 1; i < n; i++)
            if (!used[i])
                order[k++] = i;
    }
    mbedtls_x509_crt_free(&tmp);
    return rc;
}

int aios__x509_chain_verify(aios__x509_leaf *leaf_out,
                            const uint8_t *const *chain_der, const size_t *chain_lens,
                            size_t chain_n,
                            const uint8_t *const *anchors, const size_t *anchor_lens,
                            size_t anchors_n, int time_policy, int64_t fixed_time)
{
    return aios__x509_chain_verify_span(leaf_out, chain_der, chain_lens, chain_n, anchors,
                                        anchor_lens, anchors_n, time_policy, fixed_time,
                                        fixed_time);
}

int aios__x509_chain_verify_span(aios__x509_leaf *leaf_out,
                                 const uint8_t *const *chain_der, const size_t *chain_lens,
                                 size_t chain_n,
                                 const uint8_t *const *anchors, const size_t *anchor_lens,
                                 size_t anchors_n, int time_policy, int64_t fixed_time,
                                 int64_t fixed_last)
{
    mbedtls_x509_crt chain, trust;
    aios__x509_leaf leaf;
    size_t order[AIOS__X509_CHAIN_MAX], i;
    uint32_t flags = 0;
    vctx c;
    int rc, ret;

    AIOS__CHECK_ARG(leaf_out != NULL, "leaf_out is NULL");
    memset(leaf_out, 0, sizeof(*leaf_out));
    AIOS__CHECK_ARG(chain_der != NULL && chain_lens != NULL && chain_n > 0,
                    "no certificate given");
    AIOS__CHECK_ARG(anchors_n > 0 && anchors != NULL && anchor_lens != NULL,
                    "no trust anchor given (there is no default trust store)");
    AIOS__CHECK_ARG(anchors_n <= AIOS__X509_ANCHORS_MAX, "more than 256 trust anchors");
    {
        int tp = time_policy & ~AIOS__X509_TSA_LEAF;
        AIOS__CHECK_ARG(tp == AIOS__X509_TIME_LEAF_NOT_BEFORE || tp == AIOS__X509_TIME_NOW ||
                        tp == AIOS__X509_TIME_FIXED, "unknown time policy");
    }
    if (chain_n > AIOS__X509_CHAIN_MAX)
        return aios__fail(AIOS_E_LIMIT, "certificate chain: %zu certificates (at most %d)",
                          chain_n, AIOS__X509_CHAIN_MAX);
    for (i = 0; i < chain_n; i++)
        if (chain_lens[i] > AIOS__X509_CERT_MAX)
            return aios__fail(AIOS_E_LIMIT, "certificate chain: certificate %zu has %zu bytes "
                              "(at most %zu)", i, chain_lens[i], AIOS__X509_CERT_MAX);

    memset(&leaf, 0, sizeof(leaf));
    memset(&c, 0, sizeof(c));
    c.bad_depth = -1;
    mbedtls_x509_crt_init(&chain);
    mbedtls_x509_crt_init(&trust);
    /* the leaf: parse, key type (before any path work) */
    if ((rc = parse_der(&chain, chain_der[0], chain_lens[0], "certificate", (size_t)0)) != AIOS_OK)
        goto done;
    if ((rc = leaf_key(&leaf, &chain, !(time_policy & AIOS__X509_TSA_LEAF))) != AIOS_OK)
        goto done;
    leaf_describe(&leaf, &chain);
    /* the intermediates, each after the certificate it issued */
    if (chain_n > 1) {
        if ((rc = order_intermediates(order, chain_der, chain_lens, chain_n, &chain)) != AIOS_OK)
            goto done;
        for (i = 0; i < chain_n - 1; i++)
            if ((rc = parse_der(&chain, chain_der[order[i]], chain_lens[order[i]], "certificate",
                                order[i])) != AIOS_OK)
                goto done;
    }
    if ((rc = load_anchors(&trust, anchors, anchor_lens, anchors_n)) != AIOS_OK)
        goto done;

    switch (time_policy & ~AIOS__X509_TSA_LEAF) {
    case AIOS__X509_TIME_LEAF_NOT_BEFORE: c.t = c.t_last = leaf.not_before; break;
    case AIOS__X509_TIME_NOW:             c.t = c.t_last = (int64_t)time(NULL); break;
    default:
        c.t = fixed_time;
        c.t_last = fixed_last > fixed_time ? fixed_last : fixed_time;
        break;
    }
    ret = mbedtls_x509_crt_verify_with_profile(&chain, &trust, NULL, &manifest_profile, NULL,
                                               &flags, verify_cb, &c);
    if (ret != 0 && ret != MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
        if (ret == MBEDTLS_ERR_X509_ALLOC_FAILED) {
            rc = aios__nomem("certificate chain");
        } else {
            char err[128];
            mbedtls_strerror(ret, err, sizeof(err));
            rc = aios__fail(AIOS_E_MANIFEST_CHAIN, "certificate chain: no path could be built "
                            "(%s)", err);
        }
        goto done;
    }
    if (flags != 0 || ret != 0) {
        char why[512];
        flags_text(why, sizeof(why), c.bad_depth >= 0 ? c.bad_flags : flags);
        rc = aios__fail(AIOS_E_MANIFEST_CHAIN, "certificate chain: \"%s\" (depth %d of the "
                        "path, checked at %lld): %s", c.bad_depth >= 0 ? c.bad_subject : "?",
                        c.bad_depth, (long long)c.t, why);
        goto done;
    }
    if (!(time_policy & AIOS__X509_TSA_LEAF) && (rc = leaf_usage(&chain)) != AIOS_OK)
        goto done;
    leaf.checked_at = c.t;
    leaf.path_len = c.path_len;
    memcpy(leaf.issuer_key_hash, c.issuer_key_hash, 32);
    *leaf_out = leaf;
done:
    mbedtls_x509_crt_free(&trust);
    mbedtls_x509_crt_free(&chain);
    return rc;
}

/* ------------------------------------------------------------ extensions */

/* One Extension (RFC 5280 4.1) of an Extensions body: where it starts and
 * ends, its OID, and its extnValue (the OCTET STRING's content). */
typedef struct ext_view {
    unsigned char *start, *end, *oid, *value;
    size_t         oid_len, value_len;
    int            critical;
} ext_view;

/* The Extension at *p (before end), *p moved past it; 0 if malformed. */
static int ext_next(unsigned char **p, unsigned char *end, ext_view *e)
{
    size_t n;
    int critical = 0;
    e->start = *p;
    if (mbedtls_asn1_get_tag(p, end, &n, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
        return 0;
    e->end = *p + n;
    if (mbedtls_asn1_get_tag(p, e->end, &e->oid_len, MBEDTLS_ASN1_OID) != 0)
        return 0;
    e->oid = *p;
    *p += e->oid_len;
    if (*p < e->end && **p == MBEDTLS_ASN1_BOOLEAN && mbedtls_asn1_get_bool(p, e->end,
                                                                             &critical) != 0)
        return 0;
    if (mbedtls_asn1_get_tag(p, e->end, &e->value_len, MBEDTLS_ASN1_OCTET_STRING) != 0 ||
        *p + e->value_len != e->end)
        return 0;
    e->value = *p;
    e->critical = critical;
    *p = e->end;
    return 1;
}

static int ext_is(const ext_view *e, const unsigned char *oid, size_t oid_len)
{
    return e->oid_len == oid_len && memcmp(e->oid, oid, oid_len) == 0;
}

/* ------------------------------------------------------------ Fulcio identity */

/* Copy an IA5/UTF8 string value into out (NUL-terminated); refuse NUL
 * bytes and values that do not fit. */
static int copy_text(char *out, size_t cap, const unsigned char *p, size_t n, const char *what)
{
    if (n >= cap)
        return aios__fail(AIOS_E_LIMIT, "certificate: the %s is over %zu bytes", what, cap - 1);
    if (memchr(p, 0, n) != NULL)
        return aios__fail(AIOS_E_FORMAT, "certificate: the %s holds a NUL byte", what);
    memcpy(out, p, n);
    out[n] = 0;
    return AIOS_OK;
}

int aios__x509_fulcio_identity(const uint8_t *der, size_t len, char *san, size_t san_cap,
                               char *issuer, size_t issuer_cap)
{
    /* 1.3.6.1.4.1.57264.1.8 (DER UTF8String) and .1.1 (raw, deprecated) */
    static const unsigned char oid_issuer_v2[] = { 0x2B, 0x06, 0x01, 0x04, 0x01, 0x83, 0xBF,
                                                   0x30, 0x01, 0x08 };
    static const unsigned char oid_issuer_v1[] = { 0x2B, 0x06, 0x01, 0x04, 0x01, 0x83, 0xBF,
                                                   0x30, 0x01, 0x01 };
    static const unsigned char oid_san[] = { 0x55, 0x1D, 0x11 };
    mbedtls_x509_crt crt;
    unsigned char *p, *end;
    char v1[4096];   /* AIOS__MB_IDENT_MAX */
    size_t n;
    int rc, have_v1 = 0, have_v2 = 0, have_san = 0;

    AIOS__CHECK_ARG(san != NULL && san_cap > 0 && issuer != NULL && issuer_cap > 0,
                    "san or issuer is NULL");
    san[0] = issuer[0] = 0;
    if (len > AIOS__X509_CERT_MAX)
        return aios__fail(AIOS_E_LIMIT, "certificate: %zu bytes is over %zu", len,
                          AIOS__X509_CERT_MAX);
    mbedtls_x509_crt_init(&crt);
    v1[0] = 0;
    if ((rc = parse_der(&crt, der, len, "certificate", (size_t)0)) != AIOS_OK)
        goto done;
    /* Sigstore's leaf rules: an end entity, digitalSignature, code signing */
    /* Both extensions present, by name: mbedTLS's checks pass when
     * KeyUsage is absent and take anyExtendedKeyUsage for code signing. */
    if (crt.ca_istrue || !(crt.ext_types & MBEDTLS_X509_EXT_KEY_USAGE) ||
        !(crt.key_usage & MBEDTLS_X509_KU_DIGITAL_SIGNATURE) || !has_code_signing(&crt)) {
        rc = aios__fail(AIOS_E_MANIFEST_CERT_USAGE, "certificate: a Fulcio signing certificate "
                        "must be an end entity with digitalSignature and code signing");
        goto done;
    }
    rc = AIOS_OK;
    if (crt.v3_ext.p == NULL || crt.v3_ext.len == 0)
        goto malformed;
    p = crt.v3_ext.p;
    end = p + crt.v3_ext.len;
    if (mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0 ||
        p + n != end)
        goto malformed;
    while (p < end) {
        ext_view e;
        if (!ext_next(&p, end, &e))
            goto malformed;
        if (ext_is(&e, oid_san, sizeof(oid_san))) {
            /* GeneralNames: the first rfc822Name [1] or URI [6] */
            unsigned char *q = e.value, *gend;
            size_t m;
            if (mbedtls_asn1_get_tag(&q, e.end, &m, MBEDTLS_ASN1_CONSTRUCTED |
                                     MBEDTLS_ASN1_SEQUENCE) != 0 || q + m != e.end)
                goto malformed;
            gend = q + m;
            while (q < gend && !have_san) {
                unsigned char tag = *q++;
                if (mbedtls_asn1_get_len(&q, gend, &m) != 0)
                    goto malformed;
                if (tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 1) ||
                    tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 6)) {
                    if ((rc = copy_text(san, san_cap, q, m, "SubjectAltName")) != AIOS_OK)
                        goto done;
                    have_san = 1;
                }
                q += m;
            }
        } else if (ext_is(&e, oid_issuer_v2, sizeof(oid_issuer_v2))) {
            unsigned char *q = e.value;
            size_t m;
            if (have_v2 || mbedtls_asn1_get_tag(&q, e.end, &m, MBEDTLS_ASN1_UTF8_STRING) != 0 ||
                q + m != e.end)
                goto malformed;
            if ((rc = copy_text(issuer, issuer_cap, q, m, "OIDC issuer")) != AIOS_OK)
                goto done;
            have_v2 = 1;
        } else if (ext_is(&e, oid_issuer_v1, sizeof(oid_issuer_v1))) {
            if (have_v1)
                goto malformed;
            if ((rc = copy_text(v1, sizeof(v1), e.value, e.value_len, "OIDC issuer")) != AIOS_OK)
                goto done;
            have_v1 = 1;
        }
    }
    if (have_v1 && have_v2 && strcmp(v1, issuer) != 0) {
        rc = aios__fail(AIOS_E_FORMAT, "certificate: its two OIDC issuer extensions differ");
        goto done;
    }
    if (have_v1 && !have_v2 && (rc = copy_text(issuer, issuer_cap, (const unsigned char *)v1,
                                                strlen(v1), "OIDC issuer")) != AIOS_OK)
        goto done;
    goto done;
malformed:
    rc = aios__fail(AIOS_E_FORMAT, "certificate: malformed extensions");
done:
    mbedtls_x509_crt_free(&crt);
    if (rc != AIOS_OK)
        san[0] = issuer[0] = 0;
    return rc;
}

/* ------------------------------------------------------------ embedded SCTs (RFC 6962) */

/* 1.3.6.1.4.1.11129.2.4.2: the embedded SignedCertificateTimestampList */
static const unsigned char oid_sct_list[] = { 0x2B, 0x06, 0x01, 0x04, 0x01, 0xD6, 0x79, 0x02,
                                              0x04, 0x02 };

static size_t der_len_size(size_t n)
{
    return n < 0x80 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 4;
}

static unsigned char *der_put_len(unsigned char *p, size_t n)
{
    if (n < 0x80) {
        *p++ = (unsigned char)n;
    } else if (n < 0x100) {
        *p++ = 0x81;
        *p++ = (unsigned char)n;
    } else if (n < 0x10000) {
        *p++ = 0x82;
        *p++ = (unsigned char)(n >> 8);
        *p++ = (unsigned char)n;
    } else {
        *p++ = 0x83;
        *p++ = (unsigned char)(n >> 16);
        *p++ = (unsigned char)(n >> 8);
        *p++ = (unsigned char)n;
    }
    return p;
}

/* The precertificate's TBSCertificate: the leaf's, without the SCT list
 * extension (RFC 6962 3.2).  Writes to out (at least tbs_len bytes);
 * *sct_value/_len get the extension's value (the inner OCTET STRING's
 * content).  0 on malformed input or no SCT extension. */
static int precert_tbs(unsigned char *out, size_t *out_len, const mbedtls_x509_crt *crt,
                       const unsigned char **sct_value, size_t *sct_len)
{
    unsigned char *p = crt->tbs.p, *end = crt->tbs.p + crt->tbs.len, *c0, *o;
    unsigned char *a3 = NULL, *exts = NULL, *exts_end = NULL;
    ext_view sct = { 0 };
    size_t n, before, body, seq_len, a3_len, tbs_body;

    *sct_value = NULL;
    if (mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0 ||
        p + n != end)
        return 0;
    c0 = p;
    while (p < end) {   /* the TBS elements; [3] holds the extensions, last (RFC 5280) */
        unsigned char tag = *p, *q = p + 1;
        if (mbedtls_asn1_get_len(&q, end, &n) != 0)
            return 0;
        if (tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 3)) {
            unsigned char *r = q;
            size_t m;
            a3 = p;
            exts_end = q + n;
            if (exts_end != end ||
                mbedtls_asn1_get_tag(&r, exts_end, &m, MBEDTLS_ASN1_CONSTRUCTED |
                                     MBEDTLS_ASN1_SEQUENCE) != 0 || r + m != exts_end)
                return 0;
            exts = r;
            while (r < exts_end) {
                ext_view e;
                unsigned char *v;
                size_t il;
                if (!ext_next(&r, exts_end, &e))
                    return 0;
                if (!ext_is(&e, oid_sct_list, sizeof(oid_sct_list)))
                    continue;
                v = e.value;   /* extnValue holds an OCTET STRING: the TLS list */
                if (sct.start != NULL ||
                    mbedtls_asn1_get_tag(&v, e.end, &il, MBEDTLS_ASN1_OCTET_STRING) != 0 ||
                    v + il != e.end)
                    return 0;
                sct = e;
                *sct_value = v;
                *sct_len = il;
            }
        }
        p = q + n;
    }
    if (sct.start == NULL)
        return 0;
    /* rebuild: the elements before [3], then [3] { SEQUENCE { exts - SCT } } */
    before = (size_t)(a3 - c0);
    body = (size_t)(exts_end - exts) - (size_t)(sct.end - sct.start);
    seq_len = 1 + der_len_size(body) + body;
    a3_len = 1 + der_len_size(seq_len) + seq_len;
    tbs_body = before + a3_len;
    if (1 + der_len_size(tbs_body) + tbs_body > crt->tbs.len)
        return 0;   /* cannot be larger than the original */
    o = out;
    *o++ = MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE;
    o = der_put_len(o, tbs_body);
    memcpy(o, c0, before);
    o += before;
    *o++ = MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 3;
    o = der_put_len(o, seq_len);
    *o++ = MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE;
    o = der_put_len(o, body);
    memcpy(o, exts, (size_t)(sct.start - exts));
    o += sct.start - exts;
    memcpy(o, sct.end, (size_t)(exts_end - sct.end));
    o += exts_end - sct.end;
    *out_len = (size_t)(o - out);
    return 1;
}

static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    int i;
    for (i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

int aios__x509_sct_verify(size_t *verified, const uint8_t *leaf_der, size_t leaf_len,
                          const uint8_t issuer_key_hash[32], const aios__x509_ctlog *logs,
                          size_t logs_n)
{
    mbedtls_x509_crt leaf;
    unsigned char *tbs = NULL, *msg = NULL;
    const unsigned char *ikh = issuer_key_hash;
    const unsigned char *sct = NULL, *p, *end;
    size_t tbs_len = 0, sct_len = 0, i, list_len;
    int rc = AIOS_OK;

    *verified = 0;
    mbedtls_x509_crt_init(&leaf);
    if ((rc = parse_der(&leaf, leaf_der, leaf_len, "certificate", (size_t)0)) != AIOS_OK)
        goto done;
    if ((tbs = aios__malloc(leaf.tbs.len)) == NULL ||
        (msg = aios__malloc(leaf.tbs.len + 64 + 65536)) == NULL) {
        rc = aios__nomem("the SCT check");
        goto done;
    }
    if (!precert_tbs(tbs, &tbs_len, &leaf, &sct, &sct_len) || sct_len < 2)
        goto done;   /* no (well-formed) SCT list */
    list_len = (size_t)be(sct, 2);
    if (list_len != sct_len - 2)
        goto done;
    p = sct + 2;
    end = sct + sct_len;
    while (p + 2 <= end) {
        size_t len = (size_t)be(p, 2), el, sl;
        const unsigned char *s = p + 2, *send = s + len, *ext, *sig;
        uint64_t ts;
        const aios__x509_ctlog *lg = NULL;
        unsigned char *m = msg;
        p = send;
        if (len > (size_t)(end - s) || len < 1 + 32 + 8 + 2 || s[0] != 0)
            break;
        ts = be(s + 33, 8);
        el = (size_t)be(s + 41, 2);
        ext = s + 43;
        if (el > (size_t)(send - ext) || (size_t)(send - ext) - el < 4)
            continue;
        sig = ext + el;
        if (sig[0] != 4 || sig[1] != 3)   /* SHA-256, ECDSA */
            continue;
        sl = (size_t)be(sig + 2, 2);
        if (sl != (size_t)(send - sig - 4))
            continue;
        for (i = 0; i < logs_n; i++)
            if (memcmp(logs[i].key_id, s + 1, 32) == 0)
                lg = &logs[i];
        if (lg == NULL || (int64_t)(ts / 1000) < lg->start || (int64_t)(ts / 1000) > lg->end)
            continue;
        /* digitally-signed struct for a precert entry (RFC 6962 3.2) */
        *m++ = 0;                       /* v1 */
        *m++ = 0;                       /* certificate_timestamp */
        memcpy(m, s + 33, 8);
        m += 8;
        *m++ = 0;
        *m++ = 1;                       /* precert_entry */
        memcpy(m, ikh, 32);
        m += 32;
        *m++ = (unsigned char)(tbs_len >> 16);
        *m++ = (unsigned char)(tbs_len >> 8);
        *m++ = (unsigned char)tbs_len;
        memcpy(m, tbs, tbs_len);
        m += tbs_len;
        *m++ = (unsigned char)(el >> 8);
        *m++ = (unsigned char)el;
        memcpy(m, ext, el);
        m += el;
        if (aios__ecdsa_verify_der(lg->curve, sig + 4, sl, msg, (size_t)(m - msg), lg->pub,
                                   lg->pub_len) == AIOS_OK)
            ++*verified;
    }
done:
    aios__free(tbs);
    aios__free(msg);
    mbedtls_x509_crt_free(&leaf);
    return rc;
}

/* ------------------------------------------------------------ RFC 3161 timestamps */

/* CMS (RFC 5652) and TSP (RFC 3161, 5816) object identifiers */
static const unsigned char oid_signed_data[] = { 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07,
                                                 0x02 };
static const unsigned char oid_ct_tst_info[] = { 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09,
                                                 0x10, 0x01, 0x04 };
static const unsigned char oid_attr_content_type[] = { 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01,
                                                       0x09, 0x03 };
static const unsigned char oid_attr_message_digest[] = { 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D,
                                                         0x01, 0x09, 0x04 };
static const unsigned char oid_attr_signing_cert[] = { 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01,
                                                       0x09, 0x10, 0x02, 0x0C };
static const unsigned char oid_attr_signing_cert_v2[] = { 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D,
                                                          0x01, 0x09, 0x10, 0x02, 0x2F };
static const unsigned char oid_ski[] = { 0x55, 0x1D, 0x0E };

#define TSP_SEQ (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)
#define TSP_SET (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SET)
#define TSP_CTX(n) (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | (n))

static int oid_eq(const unsigned char *p, size_t n, const unsigned char *oid, size_t oid_len)
{
    return n == oid_len && memcmp(p, oid, n) == 0;
}

/* An AlgorithmIdentifier naming SHA-256/384/512 (SHA-1 too if sha1_ok),
 * its parameters absent or NULL.  0 otherwise. */
static int tsp_hash_alg(unsigned char **p, unsigned char *end, mbedtls_md_type_t *md, int sha1_ok)
{
    mbedtls_asn1_buf oid, params;
    if (mbedtls_asn1_get_alg(p, end, &oid, &params) != 0 ||
        (params.tag != MBEDTLS_ASN1_NULL && params.tag != 0) || params.len != 0 ||
        mbedtls_oid_get_md_alg(&oid, md) != 0)
        return 0;
    return *md == MBEDTLS_MD_SHA256 || *md == MBEDTLS_MD_SHA384 || *md == MBEDTLS_MD_SHA512 ||
           (sha1_ok && *md == MBEDTLS_MD_SHA1);
}

static size_t tsp_hash(mbedtls_md_type_t md, const unsigned char *in, size_t len,
                       unsigned char out[MBEDTLS_MD_MAX_SIZE])
{
    const mbedtls_md_info_t *info = mbedtls_md_info_from_type(md);
    if (info == NULL || mbedtls_md(info, in, len, out) != 0)
        return 0;
    return mbedtls_md_get_size(info);
}

/* GeneralizedTime "YYYYMMDDHHMMSS[.f...]Z" (RFC 5280 4.1.2.5.2, RFC 3161
 * 2.4.2) to unix seconds; 0 if malformed. */
static int tsp_gen_time(int64_t *out, const unsigned char *s, size_t n)
{
    int v[6], i, k;
    size_t pos = 0;
    static const int widths[6] = { 4, 2, 2, 2, 2, 2 };
    for (i = 0; i < 6; i++) {
        v[i] = 0;
        for (k = 0; k < widths[i]; k++, pos++) {
            if (pos >= n || s[pos] < '0' || s[pos] > '9')
                return 0;
            v[i] = v[i] * 10 + (s[pos] - '0');
        }
    }
    if (pos < n && s[pos] == '.') {
        if (++pos >= n || s[pos] < '0' || s[pos] > '9')
            return 0;
        while (pos < n && s[pos] >= '0' && s[pos] <= '9')
            pos++;
        if (s[pos - 1] == '0')   /* DER: no trailing zero in the fraction */
            return 0;
    }
    if (pos + 1 != n || s[pos] != 'Z' || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[3] > 23 ||
        v[4] > 59 || v[5] > 60)
        return 0;
    {
        static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        int leap = (v[0] % 4 == 0 && v[0] % 100 != 0) || v[0] % 400 == 0;
        if (v[2] > mdays[v[1] - 1] + (v[1] == 2 && leap))
            return 0;
    }
    *out = aios__days_from_civil(v[0], v[1], v[2]) * 86400 + v[3] * 3600 + v[4] * 60 + v[5];
    return 1;
}

/* The extension oid of crt (the first), or 0. */
static int tsp_ext(const mbedtls_x509_crt *crt, const unsigned char *oid, size_t oid_len,
                   ext_view *out)
{
    unsigned char *p = crt->v3_ext.p, *end = crt->v3_ext.p + crt->v3_ext.len;
    size_t n;
    if (p == NULL || mbedtls_asn1_get_tag(&p, end, &n, TSP_SEQ) != 0)
        return 0;
    end = p + n;
    while (p < end) {
        if (!ext_next(&p, end, out))
            return 0;
        if (ext_is(out, oid, oid_len))
            return 1;
    }
    return 0;
}

/* The SubjectKeyIdentifier of crt, or NULL. */
static const unsigned char *tsp_ski(const mbedtls_x509_crt *crt, size_t *len)
{
    ext_view e;
    unsigned char *q;
    if (!tsp_ext(crt, oid_ski, sizeof(oid_ski), &e))
        return NULL;
    q = e.value;
    if (mbedtls_asn1_get_tag(&q, e.end, len, MBEDTLS_ASN1_OCTET_STRING) != 0 || q + *len != e.end)
        return NULL;
    return q;
}

/* RFC 3161 2.3: the authority's certificate has one extended key usage
 * extension, critical, whose only purpose is id-kp-timeStamping. */
static int tsp_eku_ok(const mbedtls_x509_crt *crt)
{
    static const unsigned char oid_eku[] = { 0x55, 0x1D, 0x25 };
    ext_view e, again;
    unsigned char *q, *end;
    size_t n;
    if (!tsp_ext(crt, oid_eku, sizeof(oid_eku), &e) || !e.critical)
        return 0;
    {   /* and no second one */
        unsigned char *p = crt->v3_ext.p, *xend = crt->v3_ext.p + crt->v3_ext.len;
        size_t m, count = 0;
        if (mbedtls_asn1_get_tag(&p, xend, &m, TSP_SEQ) != 0)
            return 0;
        xend = p + m;
        while (p < xend) {
            if (!ext_next(&p, xend, &again))
                return 0;
            count += ext_is(&again, oid_eku, sizeof(oid_eku));
        }
        if (count != 1)
            return 0;
    }
    q = e.value;
    if (mbedtls_asn1_get_tag(&q, e.end, &n, TSP_SEQ) != 0 || q + n != e.end)
        return 0;
    end = q + n;
    if (mbedtls_asn1_get_tag(&q, end, &n, MBEDTLS_ASN1_OID) != 0 || q + n != end)
        return 0;
    return oid_eq(q, n, (const unsigned char *)MBEDTLS_OID_TIME_STAMPING,
                  MBEDTLS_OID_SIZE(MBEDTLS_OID_TIME_STAMPING));
}

/* The SignerInfo's sid names crt: by issuer and serial number, or by
 * subject key identifier. */
static int tsp_signer_is(const mbedtls_x509_crt *crt, const unsigned char *issuer,
                         size_t issuer_len, const unsigned char *serial, size_t serial_len,
                         const unsigned char *ski, size_t ski_len)
{
    const unsigned char *k;
    size_t kl = 0;
    if (issuer != NULL)
        return crt->issuer_raw.len == issuer_len &&
               memcmp(crt->issuer_raw.p, issuer, issuer_len) == 0 &&
               crt->serial.len == serial_len && memcmp(crt->serial.p, serial, serial_len) == 0;
    k = tsp_ski(crt, &kl);
    return k != NULL && kl == ski_len && memcmp(k, ski, kl) == 0;
}

/* The ESS signing-certificate attribute's first certificate hash must be
 * the TSA certificate's (v2: its hash algorithm, SHA-256 by default;
 * v1: SHA-1).  values: the attribute's SET content. */
static int tsp_ess(unsigned char *p, unsigned char *end, int v2, const mbedtls_x509_crt *crt)
{
    mbedtls_md_type_t md = v2 ? MBEDTLS_MD_SHA256 : MBEDTLS_MD_SHA1;
    unsigned char h[MBEDTLS_MD_MAX_SIZE];
    size_t n, hl;
    /* SigningCertificate(V2) ::= SEQUENCE { certs SEQUENCE OF ESSCertID(v2), ... } */
    if (mbedtls_asn1_get_tag(&p, end, &n, TSP_SEQ) != 0 ||
        mbedtls_asn1_get_tag(&p, p + n, &n, TSP_SEQ) != 0 ||
        mbedtls_asn1_get_tag(&p, p + n, &n, TSP_SEQ) != 0)
        return AIOS_E_FORMAT;
    end = p + n;
    if (v2 && p < end && *p == TSP_SEQ && !tsp_hash_alg(&p, end, &md, 0))
        return AIOS_E_UNSUPPORTED;
    if (mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_OCTET_STRING) != 0)
        return AIOS_E_FORMAT;
    hl = tsp_hash(md, crt->raw.p, crt->raw.len, h);
    if (hl == 0 || hl != n || memcmp(h, p, n) != 0)
        return AIOS_E_AUTH;
    return AIOS_OK;
}

/* The response is DER all the way down: every constructed element holds
 * whole elements, to a depth of 24 (the OCTET STRING that holds the
 * TSTInfo is walked too), lengths in their shortest form, booleans 0x00
 * or 0xFF.  Values are read where they are used (INTEGERs as bytes). */
static int tsp_der_ok(unsigned char *p, unsigned char *end, int depth)
{
    while (p < end) {
        unsigned char tag = *p, *start = p;
        size_t n, hl;
        if ((tag & 0x1F) == 0x1F || depth > 24 || mbedtls_asn1_get_tag(&p, end, &n, tag) != 0)
            return 0;
        /* minimal lengths: the short form below 128, else no leading zero */
        hl = n < 0x80 ? 2 : n < 0x100 ? 3 : n < 0x10000 ? 4 : n < 0x1000000 ? 5 : 6;
        if ((size_t)(p - start) != hl)
            return 0;
        /* BOOLEAN: 0x00 or 0xFF */
        if (tag == MBEDTLS_ASN1_BOOLEAN && (n != 1 || (p[0] != 0x00 && p[0] != 0xFF)))
            return 0;
        if ((tag & MBEDTLS_ASN1_CONSTRUCTED) && !tsp_der_ok(p, p + n, depth + 1))
            return 0;
        p += n;
    }
    return 1;
}

int aios__x509_timestamp_verify(int64_t *gen_time, const uint8_t *resp, size_t resp_len,
                                const uint8_t *msg, size_t msg_len,
                                const uint8_t *const *tsa_chain, const size_t *tsa_lens,
                                size_t tsa_n)
{
    unsigned char *p, *end, *q, *sd_end, *si_end, *econtent = NULL, *sa = NULL, *sa_end = NULL;
    unsigned char *sig = NULL, *sid_issuer = NULL, *sid_serial = NULL, *sid_ski = NULL;
    unsigned char *ess = NULL, *ess_end = NULL, *attr_digest = NULL, h[MBEDTLS_MD_MAX_SIZE];
    unsigned char *imprint = NULL;
    size_t n, econtent_len = 0, sig_len = 0, sid_issuer_len = 0, sid_serial_len = 0,
           sid_ski_len = 0, attr_digest_len = 0, hl, imprint_len = 0;
    mbedtls_md_type_t md_signer, md_imprint;
    mbedtls_pk_type_t sig_pk = MBEDTLS_PK_NONE;
    mbedtls_x509_crt crt;
    aios__x509_leaf leaf;
    int status, have_type = 0, ess_v2 = 0, rc;
    int64_t t = 0;

    AIOS__CHECK_ARG(gen_time != NULL && resp != NULL && (msg != NULL || msg_len == 0) &&
                    tsa_chain != NULL && tsa_lens != NULL, "NULL argument");
    *gen_time = 0;
    if (tsa_n < 2 || tsa_n > AIOS__X509_CHAIN_MAX + 1)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "timestamp: the authority's chain must hold "
                          "its certificate and a root");
    p = (unsigned char *)(uintptr_t)resp;
    end = p + resp_len;
    if (!tsp_der_ok(p, end, 0))
        goto malformed;
    /* TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken OPTIONAL } */
    if (mbedtls_asn1_get_tag(&p, end, &n, TSP_SEQ) != 0 || p + n != end ||
        mbedtls_asn1_get_tag(&p, end, &n, TSP_SEQ) != 0)
        goto malformed;
    q = p + n;
    if (mbedtls_asn1_get_int(&p, q, &status) != 0)
        goto malformed;
    if (status != 0)   /* granted (not grantedWithMods, as rfc3161-client) */
        return aios__fail(AIOS_E_AUTH, "timestamp: the authority refused the request "
                          "(status %d)", status);
    p = q;
    /* ContentInfo ::= SEQUENCE { contentType id-signedData, [0] EXPLICIT SignedData } */
    if (mbedtls_asn1_get_tag(&p, end, &n, TSP_SEQ) != 0 || p + n != end ||
        mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_OID) != 0 ||
        !oid_eq(p, n, oid_signed_data, sizeof(oid_signed_data)))
        goto malformed;
    p += n;
    if (mbedtls_asn1_get_tag(&p, end, &n, TSP_CTX(0)) != 0 || p + n != end ||
        mbedtls_asn1_get_tag(&p, end, &n, TSP_SEQ) != 0 || p + n != end)
        goto malformed;
    sd_end = end;
    /* SignedData: version, digestAlgorithms, encapContentInfo, [0] certificates,
     * [1] crls, signerInfos */
    if (mbedtls_asn1_get_int(&p, sd_end, &status) != 0 ||
        mbedtls_asn1_get_tag(&p, sd_end, &n, TSP_SET) != 0)
        goto malformed;
    p += n;
    if (mbedtls_asn1_get_tag(&p, sd_end, &n, TSP_SEQ) != 0)
        goto malformed;
    q = p + n;
    if (mbedtls_asn1_get_tag(&p, q, &n, MBEDTLS_ASN1_OID) != 0 ||
        !oid_eq(p, n, oid_ct_tst_info, sizeof(oid_ct_tst_info)))
        goto malformed;
    p += n;
    if (mbedtls_asn1_get_tag(&p, q, &n, TSP_CTX(0)) != 0 || p + n != q ||
        mbedtls_asn1_get_tag(&p, q, &econtent_len, MBEDTLS_ASN1_OCTET_STRING) != 0 ||
        p + econtent_len != q)
        goto malformed;
    econtent = p;
    if (!tsp_der_ok(econtent, econtent + econtent_len, 0))
        goto malformed;
    p = q;
    while (p < sd_end && (*p == TSP_CTX(0) || *p == TSP_CTX(1))) {
        unsigned char tag = *p;
        if (mbedtls_asn1_get_tag(&p, sd_end, &n, tag) != 0)
            goto malformed;
        p += n;
    }
    if (mbedtls_asn1_get_tag(&p, sd_end, &n, TSP_SET) != 0 || p + n != sd_end)
        goto malformed;
    /* exactly one SignerInfo */
    if (mbedtls_asn1_get_tag(&p, sd_end, &n, TSP_SEQ) != 0)
        goto malformed;
    si_end = p + n;
    if (si_end != sd_end)
        return aios__fail(AIOS_E_FORMAT, "timestamp: more than one signer");
    if (mbedtls_asn1_get_int(&p, si_end, &status) != 0 || p >= si_end)
        goto malformed;
    if (*p == TSP_SEQ) {   /* IssuerAndSerialNumber */
        if (mbedtls_asn1_get_tag(&p, si_end, &n, TSP_SEQ) != 0)
            goto malformed;
        q = p + n;
        sid_issuer = p;
        if (mbedtls_asn1_get_tag(&p, q, &n, TSP_SEQ) != 0)
            goto malformed;
        p += n;
        sid_issuer_len = (size_t)(p - sid_issuer);
        if (mbedtls_asn1_get_tag(&p, q, &sid_serial_len, MBEDTLS_ASN1_INTEGER) != 0 ||
            p + sid_serial_len != q)
            goto malformed;
        sid_serial = p;
        p = q;
    } else if (*p == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 0)) {   /* [0] SubjectKeyIdentifier */
        if (mbedtls_asn1_get_tag(&p, si_end, &sid_ski_len, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 0) != 0)
            goto malformed;
        sid_ski = p;
        p += sid_ski_len;
    } else {
        goto malformed;
    }
    if (!tsp_hash_alg(&p, si_end, &md_signer, 0))
        return aios__fail(AIOS_E_UNSUPPORTED, "timestamp: the signer's digest algorithm is not "
                          "SHA-256, SHA-384 or SHA-512");
    /* signedAttrs [0] IMPLICIT SET OF Attribute: required with a TSTInfo */
    if (p >= si_end || *p != TSP_CTX(0))
        return aios__fail(AIOS_E_FORMAT, "timestamp: no signed attributes");
    sa = p;
    if (mbedtls_asn1_get_tag(&p, si_end, &n, TSP_CTX(0)) != 0)
        goto malformed;
    sa_end = p + n;
    while (p < sa_end) {
        unsigned char *a_end, *vals, *vals_end;
        const unsigned char *oid;
        size_t oid_len;
        if (mbedtls_asn1_get_tag(&p, sa_end, &n, TSP_SEQ) != 0)
            goto malformed;
        a_end = p + n;
        if (mbedtls_asn1_get_tag(&p, a_end, &oid_len, MBEDTLS_ASN1_OID) != 0)
            goto malformed;
        oid = p;
        p += oid_len;
        if (mbedtls_asn1_get_tag(&p, a_end, &n, TSP_SET) != 0 || p + n != a_end)
            goto malformed;
        vals = p;
        vals_end = a_end;
        if (oid_eq(oid, oid_len, oid_attr_content_type, sizeof(oid_attr_content_type))) {
            if (have_type || mbedtls_asn1_get_tag(&vals, vals_end, &n, MBEDTLS_ASN1_OID) != 0 ||
                vals + n != vals_end || !oid_eq(vals, n, oid_ct_tst_info, sizeof(oid_ct_tst_info)))
                goto malformed;
            have_type = 1;
        } else if (oid_eq(oid, oid_len, oid_attr_message_digest,
                          sizeof(oid_attr_message_digest))) {
            if (attr_digest != NULL ||
                mbedtls_asn1_get_tag(&vals, vals_end, &attr_digest_len,
                                     MBEDTLS_ASN1_OCTET_STRING) != 0 ||
                vals + attr_digest_len != vals_end)
                goto malformed;
            attr_digest = vals;
        } else if (oid_eq(oid, oid_len, oid_attr_signing_cert_v2,
                          sizeof(oid_attr_signing_cert_v2)) ||
                   oid_eq(oid, oid_len, oid_attr_signing_cert, sizeof(oid_attr_signing_cert))) {
            if (ess != NULL)
                goto malformed;
            ess = vals;
            ess_end = vals_end;
            ess_v2 = oid_eq(oid, oid_len, oid_attr_signing_cert_v2,
                            sizeof(oid_attr_signing_cert_v2));
        }
        p = a_end;
    }
    if (!have_type || attr_digest == NULL)
        return aios__fail(AIOS_E_FORMAT, "timestamp: the signed attributes lack the content "
                          "type or the message digest");
    {
        static const unsigned char oid_rsa[] = { 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01,
                                                 0x01 };
        mbedtls_asn1_buf oid, params;
        mbedtls_md_type_t sig_md;
        if (mbedtls_asn1_get_alg(&p, si_end, &oid, &params) != 0)
            goto malformed;
        /* ecdsa-with-SHA256/384/512 or shaNNNWithRSAEncryption with the
         * digestAlgorithm's hash, or rsaEncryption (PKCS #1 v1.5 with it,
         * RFC 3370 3.2) */
        if (oid_eq(oid.p, oid.len, oid_rsa, sizeof(oid_rsa))) {
            sig_pk = MBEDTLS_PK_RSA;
        } else if (mbedtls_oid_get_sig_alg(&oid, &sig_md, &sig_pk) != 0 ||
                   (sig_pk != MBEDTLS_PK_ECDSA && sig_pk != MBEDTLS_PK_RSA) ||
                   sig_md != md_signer) {
            return aios__fail(AIOS_E_UNSUPPORTED, "timestamp: the signature algorithm is not "
                              "ECDSA or RSA PKCS #1 v1.5 with SHA-256, SHA-384 or SHA-512");
        }
        if (mbedtls_asn1_get_tag(&p, si_end, &sig_len, MBEDTLS_ASN1_OCTET_STRING) != 0)
            goto malformed;
        sig = p;
        p += sig_len;
        if (p < si_end && *p == TSP_CTX(1)) {   /* unsignedAttrs */
            if (mbedtls_asn1_get_tag(&p, si_end, &n, TSP_CTX(1)) != 0)
                goto malformed;
            p += n;
        }
        if (p != si_end)
            goto malformed;
    }
    /* TSTInfo ::= SEQUENCE { version 1, policy, messageImprint, serialNumber,
     * genTime, accuracy OPTIONAL, ordering DEFAULT FALSE, nonce OPTIONAL,
     * tsa [0] OPTIONAL, extensions [1] OPTIONAL }: all of it well formed
     * before anything is compared. */
    p = econtent;
    end = econtent + econtent_len;
    if (mbedtls_asn1_get_tag(&p, end, &n, TSP_SEQ) != 0 || p + n != end ||
        mbedtls_asn1_get_int(&p, end, &status) != 0 || status != 1 ||
        mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_OID) != 0 || n == 0)
        goto malformed;
    p += n;
    if (mbedtls_asn1_get_tag(&p, end, &n, TSP_SEQ) != 0)
        goto malformed;
    q = p + n;
    if (!tsp_hash_alg(&p, q, &md_imprint, 0))
        return aios__fail(AIOS_E_UNSUPPORTED, "timestamp: the message imprint's hash is not "
                          "SHA-256, SHA-384 or SHA-512");
    if (mbedtls_asn1_get_tag(&p, q, &n, MBEDTLS_ASN1_OCTET_STRING) != 0 || p + n != q)
        goto malformed;
    imprint = p;
    imprint_len = n;
    p = q;
    if (mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_INTEGER) != 0 || n == 0)
        goto malformed;
    p += n;
    if (mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_GENERALIZED_TIME) != 0 ||
        !tsp_gen_time(&t, p, n))
        goto malformed;
    p += n;
    if (p < end && *p == TSP_SEQ) {   /* accuracy: seconds, [0] millis, [1] micros */
        if (mbedtls_asn1_get_tag(&p, end, &n, TSP_SEQ) != 0)
            goto malformed;
        q = p + n;
        while (p < q) {
            unsigned char tag = *p;
            if ((tag != MBEDTLS_ASN1_INTEGER && tag != (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 0) &&
                 tag != (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 1)) ||
                mbedtls_asn1_get_tag(&p, q, &n, tag) != 0 || n == 0)
                goto malformed;
            p += n;
        }
    }
    if (p < end && *p == MBEDTLS_ASN1_BOOLEAN) {
        int ordering;
        if (mbedtls_asn1_get_bool(&p, end, &ordering) != 0 || !ordering)
            goto malformed;   /* DER: the DEFAULT FALSE is never written */
    }
    if (p < end && *p == MBEDTLS_ASN1_INTEGER) {   /* nonce */
        if (mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_INTEGER) != 0 || n == 0)
            goto malformed;
        p += n;
    }
    if (p < end && *p == TSP_CTX(0)) {   /* tsa GeneralName */
        if (mbedtls_asn1_get_tag(&p, end, &n, TSP_CTX(0)) != 0)
            goto malformed;
        p += n;
    }
    if (p < end && *p == TSP_CTX(1)) {   /* extensions */
        if (mbedtls_asn1_get_tag(&p, end, &n, TSP_CTX(1)) != 0)
            goto malformed;
        p += n;
    }
    if (p != end)
        goto malformed;
    hl = tsp_hash(md_signer, econtent, econtent_len, h);
    if (hl == 0 || hl != attr_digest_len || memcmp(h, attr_digest, hl) != 0)
        return aios__fail(AIOS_E_AUTH, "timestamp: the signed message digest is not the "
                          "timestamp's");
    hl = tsp_hash(md_imprint, msg, msg_len, h);
    if (hl == 0 || hl != imprint_len || memcmp(h, imprint, hl) != 0)
        return aios__fail(AIOS_E_AUTH, "timestamp: it was made for other bytes than this "
                          "signature");

    /* The authority (from here on, a failure says "not this authority":
     * AIOS_E_AUTH, _CERT_USAGE or _CHAIN, never the response's FORMAT).
     * The cheap checks first: the signer is its certificate, the ESS
     * attribute names it, its key verifies the signature; then its
     * purpose, and last its path to the root at genTime. */
    mbedtls_x509_crt_init(&crt);
    if (aios__x509_cert_info(&leaf, tsa_chain[0], tsa_lens[0]) != AIOS_OK ||
        mbedtls_x509_crt_parse_der(&crt, tsa_chain[0], tsa_lens[0]) != 0 ||
        (leaf.alg == 0 && !(mbedtls_pk_get_type(&crt.pk) == MBEDTLS_PK_RSA &&
                            mbedtls_pk_get_bitlen(&crt.pk) >= 2048))) {
        rc = aios__fail(AIOS_E_MANIFEST_CHAIN, "timestamp: the authority's certificate does not "
                        "parse or its key is neither ECDSA P-256/P-384/P-521 nor RSA of 2048 "
                        "bits or more");
        goto done;
    }
    if ((leaf.alg == 0) != (sig_pk == MBEDTLS_PK_RSA)) {
        rc = aios__fail(AIOS_E_AUTH, "timestamp: the signature algorithm is not for the "
                        "authority's key");
        goto done;
    }
    if (!tsp_signer_is(&crt, sid_issuer, sid_issuer_len, sid_serial, sid_serial_len, sid_ski,
                       sid_ski_len)) {
        rc = aios__fail(AIOS_E_AUTH, "timestamp: signed by another certificate than the "
                        "trusted authority's");
        goto done;
    }
    if (ess != NULL && (rc = tsp_ess(ess, ess_end, ess_v2, &crt)) != AIOS_OK) {
        rc = aios__fail(AIOS_E_AUTH, "timestamp: its signing-certificate attribute %s",
                        rc == AIOS_E_AUTH ? "names another certificate" : "cannot be read");
        goto done;
    }
    {
        /* the signature is over the DER of the attributes as a SET */
        size_t sal = (size_t)(sa_end - sa);
        unsigned char *der = aios__malloc(sal);
        if (der == NULL) {
            rc = aios__nomem("timestamp");
            goto done;
        }
        memcpy(der, sa, sal);
        der[0] = TSP_SET;
        /* On the ECDSA verifier (ecdsa.c, OpenSSL's where it can) when the
         * digest is the curve's own or SHA-256 (Sigstore's authority signs
         * with P-384 and SHA-256); else mbedTLS's pk layer. */
        {
            aios__ec_curve curve = leaf.alg == AIOS__KEYENC_P256 ? AIOS__EC_P256
                                 : leaf.alg == AIOS__KEYENC_P384 ? AIOS__EC_P384
                                                                 : AIOS__EC_P521;
            mbedtls_md_type_t own = curve == AIOS__EC_P256 ? MBEDTLS_MD_SHA256
                                  : curve == AIOS__EC_P384 ? MBEDTLS_MD_SHA384 : MBEDTLS_MD_SHA512;
            if (leaf.alg == 0)   /* RSA, PKCS #1 v1.5: mbedTLS */
                rc = (hl = tsp_hash(md_signer, der, sal, h)) != 0 &&
                     mbedtls_pk_verify(&crt.pk, md_signer, h, hl, sig, sig_len) == 0
                     ? AIOS_OK : AIOS_E_AUTH;
            else if (md_signer == own)
                rc = aios__ecdsa_verify_der(curve, sig, sig_len, der, sal, leaf.pub, leaf.pub_len);
            else if (md_signer == MBEDTLS_MD_SHA256)
                rc = aios__ecdsa_verify_der_sha256(curve, sig, sig_len, der, sal, leaf.pub,
                                                   leaf.pub_len);
            else
                rc = (hl = tsp_hash(md_signer, der, sal, h)) != 0 &&
                     mbedtls_pk_verify(&crt.pk, md_signer, h, hl, sig, sig_len) == 0
                     ? AIOS_OK : AIOS_E_AUTH;
        }
        aios__free(der);
        if (rc != AIOS_OK) {
            rc = rc == AIOS_E_NOMEM ? rc : aios__fail(AIOS_E_AUTH, "timestamp: the authority's "
                                                      "signature does not verify");
            goto done;
        }
    }
    if (!tsp_eku_ok(&crt) ||
        ((crt.ext_types & MBEDTLS_X509_EXT_KEY_USAGE) &&
         !(crt.key_usage & (MBEDTLS_X509_KU_DIGITAL_SIGNATURE | MBEDTLS_X509_KU_NON_REPUDIATION)))) {
        rc = aios__fail(AIOS_E_MANIFEST_CERT_USAGE, "timestamp: the authority's certificate is "
                        "not for time stamping only (RFC 3161 2.3: one critical extended key "
                        "usage, id-kp-timeStamping; a key usage, if any, with digitalSignature "
                        "or nonRepudiation)");
        goto done;
    }
    if ((rc = aios__x509_chain_verify(&leaf, tsa_chain, tsa_lens, tsa_n - 1, &tsa_chain[tsa_n - 1],
                                      &tsa_lens[tsa_n - 1], 1,
                                      AIOS__X509_TIME_FIXED | AIOS__X509_TSA_LEAF, t))
        != AIOS_OK) {
        if (rc != AIOS_E_NOMEM)
            rc = aios__fail(AIOS_E_MANIFEST_CHAIN, "timestamp authority: %s",
                            aios_last_error_message());
        goto done;
    }
    *gen_time = t;
    rc = AIOS_OK;
done:
    mbedtls_x509_crt_free(&crt);
    return rc;
malformed:
    return aios__fail(AIOS_E_FORMAT, "timestamp: not a well-formed RFC 3161 response");
}
