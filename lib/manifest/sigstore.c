/*
 * lib/manifest/sigstore.c: Sigstore keyless bundles (MANIFEST.md 7.5),
 * the default of `model_signing sign`: a short-lived Fulcio certificate
 * for an OIDC identity, and the signature's entry in the Rekor
 * transparency log.  Verified against a Sigstore trusted root (the
 * TrustedRoot JSON the Sigstore clients ship and update through TUF),
 * which the caller supplies: libaios fetches nothing.
 *
 *   1. the bundle (steps 1-3 of 11), a keyless certificate;
 *   2. the log entry, Rekor v1 (dsse 0.0.1) or v2 (hashedrekord 0.0.2):
 *      its log is one of the trusted root's; the times it proves: v1, the
 *      integrated time under the signed entry timestamp (SET); either,
 *      every RFC 3161 timestamp over the signature that verifies with a
 *      timestamp authority of the root (lib/crypto/x509.c); at least one,
 *      each inside the log key's validity; an inclusion proof leads from
 *      the entry to the root hash of a checkpoint signed by the log's key
 *      (ECDSA for v1, Ed25519 for v2);
 *   3. the entry is this signature's: a dsse 0.0.1 body naming this
 *      payload's SHA-256, this signature and this certificate; or a
 *      hashedrekord 0.0.2 body naming the digest of the envelope's PAE,
 *      this signature, this certificate and its key details;
 *   4. the certificate chains to one of the trusted root's Fulcio CAs
 *      valid at each of those times, with each time inside every
 *      certificate's validity (a Fulcio certificate lives ten minutes:
 *      the log's or the timestamp's time is what proves it was used in
 *      time); one of its embedded SCTs verifies with a CT log key of the
 *      root;
 *   5. its SubjectAltName (email or URI) is the expected identity and its
 *      OIDC issuer extension the expected issuer, both exactly;
 *   6. the DSSE signature with the certificate's key; the statement.
 */
#include <inttypes.h>
#include <stdint.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "core/internal.h"
#include "crypto/crypto.h"

#define TR_MAX        ((size_t)4 << 20)   /* a trusted root document */
#define TR_CAS_MAX    32
#define TR_TLOGS_MAX  32
#define TR_CERTS_MAX  AIOS__X509_CHAIN_MAX
#define BODY_MAX      ((size_t)64 << 10)  /* a Rekor entry body */
#define PROOF_MAX     64                  /* hashes in an inclusion proof */
#define CHECKPOINT_MAX ((size_t)8 << 10)
#define NAME_MAX_     256
#define TR_MEDIA_TYPE_01 "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
#define TR_MEDIA_TYPE_02 "application/vnd.dev.sigstore.trustedroot.v0.2+json"
#define CTC_MEDIA_TYPE_01 "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"

typedef struct tr_ca {
    uint8_t *certs[TR_CERTS_MAX];
    size_t   lens[TR_CERTS_MAX];
    size_t   n;
    int64_t  start, end;       /* end INT64_MAX: open */
} tr_ca;

/* A log of the root (Rekor or certificate transparency): its key id, key
 * and window, as the SCT check in lib/crypto takes them. */
typedef aios__x509_ctlog tr_tlog;

typedef struct trusted_root {
    tr_ca   cas[TR_CAS_MAX];
    size_t  ncas;
    tr_ca   tsas[TR_CAS_MAX];       /* timestamp authorities (RFC 3161) */
    size_t  ntsas;
    tr_tlog tlogs[TR_TLOGS_MAX];
    size_t  ntlogs;
    tr_tlog ctlogs[TR_TLOGS_MAX];   /* certificate transparency logs */
    size_t  nctlogs;
} trusted_root;

static void tr_free(trusted_root *t)
{
    size_t i, j;
    for (i = 0; i < t->ncas; i++)
        for (j = 0; j < t->cas[i].n; j++)
            aios__free(t->cas[i].certs[j]);
    for (i = 0; i < t->ntsas; i++)
        for (j = 0; j < t->tsas[i].n; j++)
            aios__free(t->tsas[i].certs[j]);
    aios__free(t);
}

/* ---- small JSON helpers */

/* A decimal integer as a JSON string (protobuf's int64 mapping) or number. */
static int int_json(int64_t *out, const json_t *v, const char *what)
{
    const char *s;
    int64_t x = 0;
    size_t i, n;
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        if (*out < 0)
            return aios__fail(AIOS_E_FORMAT, "%s is negative", what);
        return AIOS_OK;
    }
    if (!json_is_string(v) || (n = json_string_length(v)) == 0 || n > 18)
        return aios__fail(AIOS_E_FORMAT, "%s is missing or not a decimal integer", what);
    s = json_string_value(v);
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return aios__fail(AIOS_E_FORMAT, "%s is not a decimal integer", what);
        x = x * 10 + (s[i] - '0');
    }
    *out = x;
    return AIOS_OK;
}

static int days_in_month(int y, int m)
{
    static const int d[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0) ? 29 : d[m - 1];
}

static int digits(const char *s, int n, int *out)
{
    int v = 0, i;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

/* RFC 3339 ("2022-04-13T20:06:15.000Z", any fraction, Z or +hh:mm). */
static int rfc3339(int64_t *out, const json_t *v, const char *what)
{
    const char *s;
    size_t n, i = 19;
    int Y, M, D, h, m, sec, oh = 0, om = 0, sign = 0;
    if (!json_is_string(v) || (n = json_string_length(v)) < 20 || n > 40)
        return aios__fail(AIOS_E_FORMAT, "%s is not an RFC 3339 time", what);
    s = json_string_value(v);
    if (!digits(s, 4, &Y) || s[4] != '-' || !digits(s + 5, 2, &M) || s[7] != '-' ||
        !digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) ||
        s[13] != ':' || !digits(s + 14, 2, &m) || s[16] != ':' || !digits(s + 17, 2, &sec) ||
        M < 1 || M > 12 || D < 1 || D > days_in_month(Y, M) || h > 23 || m > 59 || sec > 60)
        return aios__fail(AIOS_E_FORMAT, "%s is not an RFC 3339 time", what);
    if (s[i] == '.') {
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            ;
    }
    if (i + 1 == n && (s[i] == 'Z' || s[i] == 'z'))
        sign = 0;
    else if (i + 6 == n && (s[i] == '+' || s[i] == '-') && digits(s + i + 1, 2, &oh) &&
             s[i + 3] == ':' && digits(s + i + 4, 2, &om) && oh < 24 && om < 60)
        sign = s[i] == '+' ? 1 : -1;
    else
        return aios__fail(AIOS_E_FORMAT, "%s is not an RFC 3339 time", what);
    *out = aios__days_from_civil(Y, M, D) * 86400 + h * 3600 + m * 60 + (sec > 59 ? 59 : sec) -
           sign * (oh * 3600 + om * 60);
    return AIOS_OK;
}

static int valid_for(int64_t *start, int64_t *end, const json_t *vf, const char *what)
{
    const json_t *e;
    char w[96];
    int rc;
    *start = 0;
    *end = INT64_MAX;
    if (vf == NULL)
        return AIOS_OK;   /* no bounds */
    if (!json_is_object(vf))
        return aios__fail(AIOS_E_FORMAT, "%s.validFor is not an object", what);
    snprintf(w, sizeof(w), "%s.validFor.start", what);
    if (json_object_get(vf, "start") != NULL &&
        (rc = rfc3339(start, json_object_get(vf, "start"), w)) != AIOS_OK)
        return rc;
    e = json_object_get(vf, "end");
    snprintf(w, sizeof(w), "%s.validFor.end", what);
    if (e != NULL && !json_is_null(e) && (rc = rfc3339(end, e, w)) != AIOS_OK)
        return rc;
    return AIOS_OK;
}

static int in_window(int64_t t, int64_t start, int64_t end)
{
    return t >= start && t <= end;
}

/* ---- the trusted root */

/* One log of the root (tlogs or ctlogs): 1 parsed, 0 a key type this
 * verifier does not use (skipped), or a negative status. */
static int parse_log(tr_tlog *l, const json_t *tl, const char *what, int ed25519_ok)
{
    const json_t *pk = json_object_get(tl, "publicKey");
    uint8_t *der = NULL, *kid = NULL;
    size_t der_len, kid_len;
    int rc, alg = 0;
    memset(l, 0, sizeof(*l));
    if ((rc = aios__mb_b64_member(&der, &der_len, json_object_get(pk, "rawBytes"), 1024,
                                  what)) != AIOS_OK)
        return rc;
    rc = aios__spki_decode(der, der_len, &alg, l->pub, sizeof(l->pub), &l->pub_len);
    aios__free(der);
    if (rc == AIOS_E_NOMEM)
        return rc;
    if (rc != AIOS_OK || (alg != AIOS__KEYENC_P256 && alg != AIOS__KEYENC_P384 &&
                          !(alg == AIOS__KEYENC_ED25519 && ed25519_ok))) {
        memset(l, 0, sizeof(*l));
        return 0;
    }
    if (alg == AIOS__KEYENC_ED25519)
        l->ed25519 = 1;   /* Rekor v2 logs (their checkpoints are Ed25519 signed notes) */
    else
        l->curve = (aios__ec_curve)aios__mb_alg_curve(alg);
    if ((rc = aios__mb_b64_member(&kid, &kid_len,
                                  json_object_get(json_object_get(tl, "logId"), "keyId"), 64,
                                  what)) != AIOS_OK)
        return rc;
    if (kid_len != 32) {
        aios__free(kid);
        return aios__fail(AIOS_E_FORMAT, "%s.logId.keyId is not 32 bytes", what);
    }
    memcpy(l->key_id, kid, 32);
    aios__free(kid);
    if ((rc = valid_for(&l->start, &l->end, json_object_get(pk, "validFor"), what)) != AIOS_OK)
        return rc;
    return 1;
}

/* A certificate authority or a timestamp authority: certChain.certificates
 * (DER, base64) and validFor. */
static int parse_ca(tr_ca *c, const json_t *ca, const char *what)
{
    const json_t *certs = json_object_get(json_object_get(ca, "certChain"), "certificates");
    size_t j;
    int rc;
    if (!json_is_array(certs) || json_array_size(certs) == 0 ||
        json_array_size(certs) > TR_CERTS_MAX)
        return aios__fail(AIOS_E_FORMAT, "%s.certChain.certificates is not an array of 1..%d",
                          what, TR_CERTS_MAX);
    if ((rc = valid_for(&c->start, &c->end, json_object_get(ca, "validFor"), what)) != AIOS_OK)
        return rc;
    for (j = 0; j < json_array_size(certs); j++) {
        if ((rc = aios__mb_b64_member(&c->certs[j], &c->lens[j],
                                      json_object_get(json_array_get(certs, j), "rawBytes"),
                                      AIOS__X509_CERT_MAX, what)) != AIOS_OK)
            return rc;
        c->n++;
    }
    return AIOS_OK;
}

static int parse_trusted_root(trusted_root **out, const uint8_t *json, size_t len)
{
    trusted_root *t = NULL;
    json_t *doc = NULL;
    json_error_t err;
    const json_t *root, *cas, *tlogs, *mt;
    size_t i;
    int rc = AIOS_OK;

    *out = NULL;
    if (len == 0 || json == NULL)
        return aios__fail(AIOS_E_INVALID_ARGUMENT, "trusted root: empty");
    if (len > TR_MAX)
        return aios__fail(AIOS_E_LIMIT, "trusted root: %zu bytes is over %zu", len, TR_MAX);
    doc = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, &err);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return aios__fail(AIOS_E_FORMAT, "trusted root: not a JSON object (line %d: %.80s)",
                          err.line, err.text);
    }
    root = doc;
    mt = json_object_get(root, "mediaType");
    /* A client trust config (model_signing's --trust_config): its trusted
     * root is used, its signing config (where to sign) is not needed */
    if (json_is_string(mt) && strcmp(json_string_value(mt), CTC_MEDIA_TYPE_01) == 0) {
        root = json_object_get(doc, "trustedRoot");
        if (!json_is_object(root)) {
            rc = aios__fail(AIOS_E_FORMAT, "trusted root: the client trust config has no "
                            "trustedRoot object");
            goto done;
        }
        mt = json_object_get(root, "mediaType");
    }
    if (!json_is_string(mt) || (strcmp(json_string_value(mt), TR_MEDIA_TYPE_01) != 0 &&
                                strcmp(json_string_value(mt), TR_MEDIA_TYPE_02) != 0)) {
        rc = aios__fail(AIOS_E_FORMAT, "trusted root: mediaType is not a Sigstore trusted root "
                        "(nor a client trust config)");
        goto done;
    }
    cas = json_object_get(root, "certificateAuthorities");
    tlogs = json_object_get(root, "tlogs");
    if (!json_is_array(cas) || !json_is_array(tlogs) || json_array_size(cas) == 0 ||
        json_array_size(tlogs) == 0) {
        rc = aios__fail(AIOS_E_FORMAT, "trusted root: needs certificateAuthorities and tlogs");
        goto done;
    }
    if (json_array_size(cas) > TR_CAS_MAX || json_array_size(tlogs) > TR_TLOGS_MAX) {
        rc = aios__fail(AIOS_E_LIMIT, "trusted root: more than %d CAs or logs", TR_CAS_MAX);
        goto done;
    }
    if ((t = aios__calloc(1, sizeof(*t))) == NULL) {
        rc = aios__nomem("trusted root");
        goto done;
    }
    for (i = 0; i < json_array_size(cas); i++) {
        char what[96];
        snprintf(what, sizeof(what), "trusted root: certificateAuthorities[%zu]", i);
        if ((rc = parse_ca(&t->cas[t->ncas++], json_array_get(cas, i), what)) != AIOS_OK)
            goto done;
    }
    if (json_object_get(root, "timestampAuthorities") != NULL) {
        const json_t *tsas = json_object_get(root, "timestampAuthorities");
        if (!json_is_array(tsas)) {
            rc = aios__fail(AIOS_E_FORMAT, "trusted root: timestampAuthorities is not an array");
            goto done;
        }
        if (json_array_size(tsas) > TR_CAS_MAX) {
            rc = aios__fail(AIOS_E_LIMIT, "trusted root: more than %d timestampAuthorities",
                            TR_CAS_MAX);
            goto done;
        }
        for (i = 0; i < json_array_size(tsas); i++) {
            char what[96];
            snprintf(what, sizeof(what), "trusted root: timestampAuthorities[%zu]", i);
            if ((rc = parse_ca(&t->tsas[t->ntsas++], json_array_get(tsas, i), what)) != AIOS_OK)
                goto done;
        }
    }
    if (json_object_get(root, "ctlogs") != NULL) {
        const json_t *cts = json_object_get(root, "ctlogs");
        if (!json_is_array(cts)) {
            rc = aios__fail(AIOS_E_FORMAT, "trusted root: ctlogs is not an array");
            goto done;
        }
        if (json_array_size(cts) > TR_TLOGS_MAX) {
            rc = aios__fail(AIOS_E_LIMIT, "trusted root: more than %d ctlogs", TR_TLOGS_MAX);
            goto done;
        }
        for (i = 0; i < json_array_size(cts); i++) {
            char what[64];
            snprintf(what, sizeof(what), "trusted root: ctlogs[%zu]", i);
            if ((rc = parse_log(&t->ctlogs[t->nctlogs], json_array_get(cts, i), what, 0)) < 0)
                goto done;
            t->nctlogs += (size_t)rc;
        }
        rc = AIOS_OK;
    }
    for (i = 0; i < json_array_size(tlogs); i++) {
        char what[64];
        snprintf(what, sizeof(what), "trusted root: tlogs[%zu]", i);
        if ((rc = parse_log(&t->tlogs[t->ntlogs], json_array_get(tlogs, i), what, 1)) < 0)
            goto done;
        t->ntlogs += (size_t)rc;
        rc = AIOS_OK;
    }
    *out = t;
    t = NULL;
done:
    if (t != NULL)
        tr_free(t);
    json_decref(doc);
    return rc;
}

/* ---- the log entry */

typedef struct tlog_entry {
    int      v2;               /* hashedrekord 0.0.2 (Rekor v2); else dsse 0.0.1 */
    int64_t  log_index, integrated_time;   /* integrated_time: v1 only */
    uint8_t  log_id[32];
    uint8_t *body;             /* canonicalizedBody, decoded */
    size_t   body_len;
    uint8_t *set;              /* inclusionPromise.signedEntryTimestamp */
    size_t   set_len;
    const json_t *proof;       /* inclusionProof, borrowed; NULL if absent */
} tlog_entry;

static void entry_free(tlog_entry *e)
{
    aios__free(e->body);
    aios__free(e->set);
}

static int parse_entry(tlog_entry *e, const json_t *te)
{
    const json_t *kv = json_object_get(te, "kindVersion");
    uint8_t *id = NULL;
    size_t id_len;
    int rc;

    memset(e, 0, sizeof(*e));
    if (!json_is_object(kv) || !json_is_string(json_object_get(kv, "kind")) ||
        !json_is_string(json_object_get(kv, "version")))
        return aios__fail(AIOS_E_FORMAT, "bundle: tlogEntries[0].kindVersion is missing");
    if (strcmp(json_string_value(json_object_get(kv, "kind")), "hashedrekord") == 0 &&
        strcmp(json_string_value(json_object_get(kv, "version")), "0.0.2") == 0)
        e->v2 = 1;
    else if (strcmp(json_string_value(json_object_get(kv, "kind")), "dsse") != 0 ||
             strcmp(json_string_value(json_object_get(kv, "version")), "0.0.1") != 0)
        return aios__fail(AIOS_E_UNSUPPORTED, "bundle: a Rekor entry of kind %.40s %.20s (this "
                          "verifier knows dsse 0.0.1 and hashedrekord 0.0.2)",
                          json_string_value(json_object_get(kv, "kind")),
                          json_string_value(json_object_get(kv, "version")));
    if ((rc = int_json(&e->log_index, json_object_get(te, "logIndex"),
                       "bundle: tlogEntries[0].logIndex")) != AIOS_OK)
        return rc;
    /* Rekor v2 entries have no integrated time (0 or absent) and no signed
     * entry timestamp: their time comes from RFC 3161 timestamps. */
    if (e->v2) {
        const json_t *it = json_object_get(te, "integratedTime");
        if (it != NULL && ((rc = int_json(&e->integrated_time, it,
                                          "bundle: tlogEntries[0].integratedTime")) != AIOS_OK))
            return rc;
        if (e->integrated_time != 0 || json_object_get(te, "inclusionPromise") != NULL)
            return aios__fail(AIOS_E_FORMAT, "bundle: a Rekor v2 entry with an integrated time "
                              "or an inclusion promise");
    } else if ((rc = int_json(&e->integrated_time, json_object_get(te, "integratedTime"),
                              "bundle: tlogEntries[0].integratedTime")) != AIOS_OK) {
        return rc;
    }
    if ((rc = aios__mb_b64_member(&id, &id_len,
                                  json_object_get(json_object_get(te, "logId"), "keyId"), 64,
                                  "bundle: tlogEntries[0].logId.keyId")) != AIOS_OK)
        return rc;
    if (id_len != 32) {
        aios__free(id);
        return aios__fail(AIOS_E_FORMAT, "bundle: tlogEntries[0].logId.keyId is not 32 bytes");
    }
    memcpy(e->log_id, id, 32);
    aios__free(id);
    if ((rc = aios__mb_b64_member(&e->body, &e->body_len,
                                  json_object_get(te, "canonicalizedBody"), BODY_MAX,
                                  "bundle: tlogEntries[0].canonicalizedBody")) != AIOS_OK)
        return rc;
    if (!e->v2 &&
        (rc = aios__mb_b64_member(&e->set, &e->set_len,
                                  json_object_get(json_object_get(te, "inclusionPromise"),
                                                  "signedEntryTimestamp"),
                                  512, "bundle: tlogEntries[0].inclusionPromise."
                                  "signedEntryTimestamp")) != AIOS_OK)
        return rc;
    e->proof = json_object_get(te, "inclusionProof");
    return AIOS_OK;
}

static int log_verify(const tr_tlog *l, const uint8_t *sig, size_t sig_len, const uint8_t *msg,
                      size_t len)
{
    if (l->ed25519)
        return sig_len == AIOS__ED25519_SIG_LEN && l->pub_len == AIOS__ED25519_PK_LEN
               ? aios__ed25519_verify(sig, msg, len, l->pub) : AIOS_E_AUTH;
    return aios__ecdsa_verify_der(l->curve, sig, sig_len, msg, len, l->pub, l->pub_len);
}

/* The signed entry timestamp: the log's signature over the canonical JSON
 * {"body":<base64>,"integratedTime":N,"logID":<hex>,"logIndex":N}. */
static int check_set(const tlog_entry *e, const tr_tlog *l)
{
    char id_hex[65], *b64 = NULL, *msg = NULL;
    size_t b64_len = aios__base64_encoded_len(e->body_len, AIOS__B64_STANDARD), n;
    int rc;

    if ((b64 = aios__malloc(b64_len)) == NULL || (msg = aios__malloc(b64_len + 256)) == NULL) {
        aios__free(b64);
        return aios__nomem("the signed entry timestamp");
    }
    (void)aios__base64_encode(b64, b64_len, e->body, e->body_len, AIOS__B64_STANDARD);
    (void)aios__hex_encode(id_hex, sizeof(id_hex), e->log_id, 32);
    n = (size_t)snprintf(msg, b64_len + 256, "{\"body\":\"%s\",\"integratedTime\":%" PRId64
                         ",\"logID\":\"%s\",\"logIndex\":%" PRId64 "}", b64, e->integrated_time,
                         id_hex, e->log_index);
    rc = log_verify(l, e->set, e->set_len, (const uint8_t *)msg, n);
    aios__free(b64);
    aios__free(msg);
    if (rc != AIOS_OK)
        return aios__fail(AIOS_E_AUTH, "bundle: the log's signed entry timestamp does not "
                          "verify with the trusted root's key for that log");
    return AIOS_OK;
}

static void node_hash(uint8_t out[32], const uint8_t l[32], const uint8_t r[32])
{
    uint8_t buf[65];
    buf[0] = 1;
    memcpy(buf + 1, l, 32);
    memcpy(buf + 33, r, 32);
    aios__sha256(out, buf, sizeof(buf));
}

/* RFC 9162 2.1.3.2: the root from a leaf hash and its audit path. */
int aios__mb_merkle_root(uint8_t root[32], const uint8_t leaf[32], uint64_t index, uint64_t size,
                         const uint8_t (*path)[32], size_t n)
{
    uint64_t fn = index, sn = size - 1;
    size_t i;
    uint8_t r[32];
    if (index >= size)
        return 0;
    memcpy(r, leaf, 32);
    for (i = 0; i < n; i++) {
        if (sn == 0)
            return 0;
        if ((fn & 1) || fn == sn) {
            node_hash(r, path[i], r);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            node_hash(r, r, path[i]);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0)
        return 0;
    memcpy(root, r, 32);
    return 1;
}

/* The checkpoint (a signed note): origin, tree size, base64 root hash,
 * optional lines, a blank line, then "\u2014 <name> <base64(keyhint4 ||
 * signature)>" lines; one by this log's key must verify over the text
 * before the blank line (its final newline included). */
static int check_checkpoint(const char *cp, size_t len, const tr_tlog *l, uint64_t size,
                            const uint8_t root[32])
{
    static const char dash[] = "\xe2\x80\x94 ";
    const char *sep = NULL, *p, *line2, *line3, *end3;
    char want[64];
    uint8_t got_root[40];
    size_t i, rl;
    int ok = 0;

    for (i = 0; i + 1 < len; i++)
        if (cp[i] == '\n' && cp[i + 1] == '\n') {
            sep = cp + i + 1;   /* the signed text is cp[0..sep) */
            break;
        }
    if (sep == NULL || (line2 = memchr(cp, '\n', len)) == NULL || line2 == cp)
        return aios__fail(AIOS_E_FORMAT, "bundle: the checkpoint is not a signed note");
    line2++;
    snprintf(want, sizeof(want), "%" PRIu64 "\n", size);
    if ((size_t)(sep - line2) < strlen(want) || memcmp(line2, want, strlen(want)) != 0)
        return aios__fail(AIOS_E_AUTH, "bundle: the checkpoint's tree size is not the "
                          "inclusion proof's");
    line3 = line2 + strlen(want);
    if ((end3 = memchr(line3, '\n', (size_t)(sep - line3))) == NULL ||
        aios__mb_base64_decode(got_root, sizeof(got_root), &rl, line3, (size_t)(end3 - line3))
            != AIOS_OK || rl != 32 || memcmp(got_root, root, 32) != 0)
        return aios__fail(AIOS_E_AUTH, "bundle: the checkpoint's root hash is not the inclusion "
                          "proof's");
    for (p = sep + 1; p < cp + len;) {
        const char *eol = memchr(p, '\n', (size_t)(cp + len - p)), *sp;
        size_t ll = eol ? (size_t)(eol - p) : (size_t)(cp + len - p);
        if (ll > sizeof(dash) - 1 && memcmp(p, dash, sizeof(dash) - 1) == 0 &&
            (sp = memchr(p + 4, ' ', ll - 4)) != NULL) {
            uint8_t sig[600];
            size_t sl;
            const char *b = sp + 1;
            if (aios__mb_base64_decode(sig, sizeof(sig), &sl, b, (size_t)(p + ll - b)) == AIOS_OK &&
                sl > 4 && memcmp(sig, l->key_id, 4) == 0 &&
                log_verify(l, sig + 4, sl - 4, (const uint8_t *)cp, (size_t)(sep - cp)) == AIOS_OK)
                ok = 1;
        }
        if (eol == NULL)
            break;
        p = eol + 1;
    }
    if (!ok)
        return aios__fail(AIOS_E_AUTH, "bundle: no signature on the checkpoint verifies with "
                          "the trusted root's key for the log");
    return AIOS_OK;
}

static int check_proof(const tlog_entry *e, const tr_tlog *l)
{
    const json_t *pr = e->proof, *hashes = json_object_get(pr, "hashes"),
                 *cp = json_object_get(json_object_get(pr, "checkpoint"), "envelope");
    uint8_t (*path)[32] = NULL, leaf[32], root[32], *rh = NULL, *buf = NULL;
    int64_t index, size;
    size_t i, n, rh_len;
    int rc;

    if (!json_is_object(pr) || !json_is_array(hashes) || !json_is_string(cp))
        return aios__fail(AIOS_E_FORMAT, "bundle: tlogEntries[0].inclusionProof is malformed");
    if ((rc = int_json(&index, json_object_get(pr, "logIndex"),
                       "bundle: inclusionProof.logIndex")) != AIOS_OK ||
        (rc = int_json(&size, json_object_get(pr, "treeSize"),
                       "bundle: inclusionProof.treeSize")) != AIOS_OK)
        return rc;
    /* a Rekor v2 entry's index is its proof's (nothing else signs it; a v1
     * index is under the SET, and differs from the shard's proof index) */
    if (e->v2 && index != e->log_index)
        return aios__fail(AIOS_E_AUTH, "bundle: the entry's logIndex is not its inclusion "
                          "proof's");
    if ((n = json_array_size(hashes)) > PROOF_MAX || json_string_length(cp) > CHECKPOINT_MAX)
        return aios__fail(AIOS_E_LIMIT, "bundle: the inclusion proof is too large");
    if ((rc = aios__mb_b64_member(&rh, &rh_len, json_object_get(pr, "rootHash"), 64,
                                  "bundle: inclusionProof.rootHash")) != AIOS_OK)
        return rc;
    if (rh_len != 32) {
        aios__free(rh);
        return aios__fail(AIOS_E_FORMAT, "bundle: inclusionProof.rootHash is not 32 bytes");
    }
    if ((path = aios__calloc(n ? n : 1, 32)) == NULL) {
        aios__free(rh);
        return aios__nomem("the inclusion proof");
    }
    for (i = 0; i < n && rc == AIOS_OK; i++) {
        size_t hl;
        rc = aios__mb_b64_member(&buf, &hl, json_array_get(hashes, i), 64,
                                 "bundle: inclusionProof.hashes");
        if (rc == AIOS_OK && hl != 32)
            rc = aios__fail(AIOS_E_FORMAT, "bundle: an inclusion proof hash is not 32 bytes");
        if (rc == AIOS_OK)
            memcpy(path[i], buf, 32);
        aios__free(buf);
        buf = NULL;
    }
    if (rc == AIOS_OK) {
        uint8_t *lb = aios__malloc(e->body_len + 1);
        if (lb == NULL) {
            rc = aios__nomem("the inclusion proof");
        } else {
            lb[0] = 0;
            memcpy(lb + 1, e->body, e->body_len);
            aios__sha256(leaf, lb, e->body_len + 1);
            aios__free(lb);
            if (!aios__mb_merkle_root(root, leaf, (uint64_t)index, (uint64_t)size,
                             (const uint8_t (*)[32])path, n) || memcmp(root, rh, 32) != 0)
                rc = aios__fail(AIOS_E_AUTH, "bundle: the inclusion proof does not lead from "
                                "the entry to its root hash");
        }
    }
    if (rc == AIOS_OK)
        rc = check_checkpoint(json_string_value(cp), json_string_length(cp), l, (uint64_t)size,
                              rh);
    aios__free(path);
    aios__free(rh);
    return rc;
}

/* PEM "CERTIFICATE" text to DER (one block). */
static int pem_cert(uint8_t *out, size_t cap, size_t *out_len, const uint8_t *pem, size_t len)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----", end[] = "-----END CERTIFICATE-----";
    char *b64;
    size_t i, n = 0;
    const uint8_t *p, *q;
    int rc;
    if (len < sizeof(begin) || memcmp(pem, begin, sizeof(begin) - 1) != 0)
        return AIOS_E_FORMAT;
    p = pem + sizeof(begin) - 1;
    for (q = p; (size_t)(pem + len - q) >= sizeof(end) - 1; q++)
        if (memcmp(q, end, sizeof(end) - 1) == 0)
            break;
    if ((size_t)(pem + len - q) < sizeof(end) - 1)
        return AIOS_E_FORMAT;
    if ((b64 = aios__malloc((size_t)(q - p) + 1)) == NULL)
        return AIOS_E_NOMEM;
    for (i = 0; p + i < q; i++)
        if (p[i] != '\n' && p[i] != '\r' && p[i] != ' ' && p[i] != '\t')
            b64[n++] = (char)p[i];
    rc = aios__mb_base64_decode(out, cap, out_len, b64, n);
    aios__free(b64);
    return rc;
}

/* The entry is this signature's: dsse 0.0.1 naming the payload's SHA-256,
 * this signature and this certificate. */
static int check_body(const tlog_entry *e, const aios__mb_bundle *b)
{
    json_t *root;
    json_error_t err;
    const json_t *spec, *ph, *sigs;
    uint8_t d[32];
    char hex[65];
    size_t i;
    int found = 0;

    root = json_loadb((const char *)e->body, e->body_len, JSON_REJECT_DUPLICATES, &err);
    spec = json_object_get(root, "spec");
    ph = json_object_get(spec, "payloadHash");
    sigs = json_object_get(spec, "signatures");
    if (!json_is_object(root) || !json_is_string(json_object_get(root, "kind")) ||
        strcmp(json_string_value(json_object_get(root, "kind")), "dsse") != 0 ||
        !json_is_string(json_object_get(root, "apiVersion")) ||
        strcmp(json_string_value(json_object_get(root, "apiVersion")), "0.0.1") != 0 ||
        !json_is_object(ph) || !json_is_array(sigs) || json_array_size(sigs) != 1) {
        json_decref(root);
        return aios__fail(AIOS_E_FORMAT, "bundle: the log entry's body is not a dsse entry");
    }
    aios__sha256(d, b->payload, b->payload_len);
    (void)aios__hex_encode(hex, sizeof(hex), d, 32);
    if (!json_is_string(json_object_get(ph, "algorithm")) ||
        strcmp(json_string_value(json_object_get(ph, "algorithm")), "sha256") != 0 ||
        !json_is_string(json_object_get(ph, "value")) ||
        strcmp(json_string_value(json_object_get(ph, "value")), hex) != 0) {
        json_decref(root);
        return aios__fail(AIOS_E_AUTH, "bundle: the log entry is for another payload");
    }
    for (i = 0; i < json_array_size(sigs) && !found; i++) {
        const json_t *s = json_array_get(sigs, i);
        uint8_t *sig = NULL, *pem = NULL, der[AIOS__MB_CERT_MAX];
        size_t sl, pl, dl;
        if (aios__mb_b64_member(&sig, &sl, json_object_get(s, "signature"), 1024,
                                "signature") == AIOS_OK &&
            aios__mb_b64_member(&pem, &pl, json_object_get(s, "verifier"),
                                4 * AIOS__MB_CERT_MAX, "verifier") == AIOS_OK &&
            sl == b->sig_len && memcmp(sig, b->sig, sl) == 0 &&
            pem_cert(der, sizeof(der), &dl, pem, pl) == AIOS_OK &&
            dl == b->certs[0].len && memcmp(der, b->certs[0].p, dl) == 0)
            found = 1;
        aios__free(sig);
        aios__free(pem);
    }
    json_decref(root);
    if (!found)
        return aios__fail(AIOS_E_AUTH, "bundle: the log entry does not hold this signature "
                          "with this certificate");
    return AIOS_OK;
}

/* The bytes of a base64 JSON member equal want. */
static int b64_is(const json_t *v, const uint8_t *want, size_t want_len, size_t max)
{
    uint8_t *got = NULL;
    size_t n = 0;
    int eq;
    if (aios__mb_b64_member(&got, &n, v, max, "member") != AIOS_OK)
        return 0;
    eq = n == want_len && memcmp(got, want, n) == 0;
    aios__free(got);
    return eq;
}

static int str_is(const json_t *v, const char *lit)
{
    return json_is_string(v) && strcmp(json_string_value(v), lit) == 0;
}

/* An object with exactly the members named (NULL-terminated), each once. */
static int members_are(const json_t *o, const char *const *names)
{
    size_t n = 0;
    if (!json_is_object(o))
        return 0;
    for (; names[n] != NULL; n++)
        if (json_object_get(o, names[n]) == NULL)
            return 0;
    return json_object_size(o) == n;
}

/* Rekor v2 records a DSSE envelope as a hashedrekord 0.0.2 entry
 * (rekor-v2 spec 6.1.4): data, the digest of the envelope's PAE with the
 * hash that goes with the certificate's key; signature, this signature
 * with this certificate and its key details. */
static int check_body_v2(const tlog_entry *e, const aios__mb_bundle *b)
{
    static const struct { int alg; const char *hash, *details; } algs[] = {
        { AIOS__KEYENC_P256, "SHA2_256", "PKIX_ECDSA_P256_SHA_256" },
        { AIOS__KEYENC_P384, "SHA2_384", "PKIX_ECDSA_P384_SHA_384" },
        { AIOS__KEYENC_P521, "SHA2_512", "PKIX_ECDSA_P521_SHA_512" },
    };
    aios__x509_leaf info;
    json_t *root;
    json_error_t err;
    const json_t *spec, *data, *sig, *ver;
    uint8_t *pae = NULL, d[64];
    size_t pae_len = 0, dl = 0, i;
    int rc, k = -1;

    if ((rc = aios__x509_cert_info(&info, b->certs[0].p, b->certs[0].len)) != AIOS_OK)
        return aios__error_prefix("bundle: the certificate");
    for (i = 0; i < sizeof(algs) / sizeof(*algs); i++)
        if (algs[i].alg == (int)info.alg)
            k = (int)i;
    if (k < 0)
        return aios__fail(AIOS_E_UNSUPPORTED, "bundle: the certificate's key is not ECDSA "
                          "P-256, P-384 or P-521");
    root = json_loadb((const char *)e->body, e->body_len, JSON_REJECT_DUPLICATES, &err);
    spec = json_object_get(json_object_get(root, "spec"), "hashedRekordV002");
    data = json_object_get(spec, "data");
    sig = json_object_get(spec, "signature");
    ver = json_object_get(sig, "verifier");
    /* exactly these members, as sigstore-python's model comparison: no
     * dsseV002 beside hashedRekordV002, no publicKey beside the
     * certificate, nothing extra */
    if (!members_are(root, (const char *const[]){ "kind", "apiVersion", "spec", NULL }) ||
        !members_are(json_object_get(root, "spec"), (const char *const[]){ "hashedRekordV002",
                                                                           NULL }) ||
        !members_are(spec, (const char *const[]){ "data", "signature", NULL }) ||
        !members_are(data, (const char *const[]){ "algorithm", "digest", NULL }) ||
        !members_are(sig, (const char *const[]){ "content", "verifier", NULL }) ||
        !members_are(ver, (const char *const[]){ "x509Certificate", "keyDetails", NULL }) ||
        !members_are(json_object_get(ver, "x509Certificate"),
                     (const char *const[]){ "rawBytes", NULL }) ||
        !str_is(json_object_get(root, "kind"), "hashedrekord") ||
        !str_is(json_object_get(root, "apiVersion"), "0.0.2")) {
        json_decref(root);
        return aios__fail(AIOS_E_FORMAT, "bundle: the log entry's body is not a hashedrekord "
                          "0.0.2 entry");
    }
    if ((rc = aios__mb_pae(&pae, &pae_len, b->payload, b->payload_len)) != AIOS_OK) {
        json_decref(root);
        return rc;
    }
    switch (algs[k].alg) {
    case AIOS__KEYENC_P256: aios__sha256(d, pae, pae_len); dl = 32; break;
    case AIOS__KEYENC_P384: aios__sha384(d, pae, pae_len); dl = 48; break;
    default:                aios__sha512(d, pae, pae_len); dl = 64; break;
    }
    aios__free(pae);
    if (!str_is(json_object_get(data, "algorithm"), algs[k].hash) ||
        !b64_is(json_object_get(data, "digest"), d, dl, 64))
        rc = aios__fail(AIOS_E_AUTH, "bundle: the log entry is for another envelope");
    else if (!b64_is(json_object_get(sig, "content"), b->sig, b->sig_len, 1024) ||
             !b64_is(json_object_get(json_object_get(ver, "x509Certificate"), "rawBytes"),
                     b->certs[0].p, b->certs[0].len, AIOS__MB_CERT_MAX) ||
             !str_is(json_object_get(ver, "keyDetails"), algs[k].details))
        rc = aios__fail(AIOS_E_AUTH, "bundle: the log entry does not hold this signature "
                        "with this certificate");
    json_decref(root);
    return rc;
}

/* RFC 3161 timestamps (verificationMaterial.timestampVerificationData):
 * each one that verifies over the signature with a timestamp authority of
 * the root, at a time inside that authority's validFor, adds its time to
 * times[].  As sigstore-python: a malformed one fails the bundle
 * (AIOS_E_FORMAT, which only the response itself can cause); a
 * well-formed one (an unknown hash or signature algorithm included) that
 * verifies with no authority is not counted, and does not fail it. */
#define TS_MAX 32
static int verified_timestamps(int64_t *times, size_t *ntimes, const json_t *doc,
                               const trusted_root *tr, const aios__mb_bundle *b)
{
    const json_t *tvd = json_object_get(json_object_get(doc, "verificationMaterial"),
                                        "timestampVerificationData"), *list;
    uint8_t *ts[TS_MAX];
    size_t lens[TS_MAX], n, i, j, a;
    int rc = AIOS_OK;

    if (tvd == NULL)
        return AIOS_OK;
    list = json_object_get(tvd, "rfc3161Timestamps");
    if (!json_is_object(tvd) || (list != NULL && !json_is_array(list)))
        return aios__fail(AIOS_E_FORMAT, "bundle: timestampVerificationData is malformed");
    if ((n = json_array_size(list)) > TS_MAX)
        return aios__fail(AIOS_E_LIMIT, "bundle: more than %d timestamps", TS_MAX);
    if (n > 0 && tr->ntsas == 0)
        return aios__fail(AIOS_E_AUTH, "bundle: it holds signed timestamps but the trusted root "
                          "has no timestamp authority to check them with");
    memset(ts, 0, sizeof(ts));
    for (i = 0; i < n && rc == AIOS_OK; i++) {
        rc = aios__mb_b64_member(&ts[i], &lens[i],
                                 json_object_get(json_array_get(list, i), "signedTimestamp"),
                                 (size_t)64 << 10, "bundle: a signed timestamp");
        for (j = 0; rc == AIOS_OK && j < i; j++)
            if (lens[j] == lens[i] && memcmp(ts[j], ts[i], lens[i]) == 0)
                rc = aios__fail(AIOS_E_FORMAT, "bundle: the same timestamp twice");
    }
    for (i = 0; i < n && rc == AIOS_OK; i++)
        for (a = 0; a < tr->ntsas; a++) {
            const tr_ca *t = &tr->tsas[a];
            int64_t when = 0;
            int r;
            if (t->n < 2)
                continue;   /* the authority's certificate and a root, at least */
            r = aios__x509_timestamp_verify(&when, ts[i], lens[i], b->sig, b->sig_len,
                                            (const uint8_t *const *)t->certs, t->lens, t->n);
            if (r == AIOS_E_NOMEM) {
                rc = r;
                break;
            }
            if (r == AIOS_E_FORMAT) {   /* malformed, whoever checks it: as sigstore-python */
                rc = aios__error_prefix("bundle: signed timestamp %zu", i);
                break;
            }
            if (r == AIOS_OK && in_window(when, t->start, t->end)) {
                times[(*ntimes)++] = when;
                break;
            }
        }
    for (i = 0; i < n; i++)
        aios__free(ts[i]);
    return rc;
}

/* For messages: printable ASCII, every other byte as '?'. */
static void printable(char out[NAME_MAX_], const char *in)
{
    size_t i;
    for (i = 0; in[i] && i + 1 < NAME_MAX_; i++)
        out[i] = in[i] >= 0x20 && in[i] < 0x7f ? in[i] : '?';
    out[i] = 0;
}

static int first_tlog_entry(const json_t **out, json_t **doc, const uint8_t *bundle, size_t len)
{
    json_error_t err;
    const json_t *tl;
    *doc = json_loadb((const char *)bundle, len, JSON_REJECT_DUPLICATES, &err);
    tl = json_object_get(json_object_get(*doc, "verificationMaterial"), "tlogEntries");
    if (!json_is_array(tl) || json_array_size(tl) == 0)
        return aios__fail(AIOS_E_FORMAT, "bundle: no tlogEntries");
    /* One, as sigstore-python requires: a second entry would be material
     * in the bundle that nothing checked. */
    if (json_array_size(tl) != 1)
        return aios__fail(AIOS_E_FORMAT, "bundle: %zu tlogEntries; a keyless bundle holds "
                          "exactly one", json_array_size(tl));
    *out = json_array_get(tl, 0);
    return AIOS_OK;
}

int aios__mb_verify_sigstore(aios__mb_statement **out, aios__mb_signer *signer_out,
                             const uint8_t *bundle, size_t len, const uint8_t *trusted,
                             size_t trusted_len, const char *identity, const char *oidc_issuer,
                             int profile)
{
    const uint8_t *chain[AIOS__MB_CERTS_MAX], *anchors[TR_CAS_MAX * TR_CERTS_MAX];
    size_t lens[AIOS__MB_CERTS_MAX], anchor_lens[TR_CAS_MAX * TR_CERTS_MAX], na = 0, i, j,
           pae_len = 0;
    char san[AIOS__MB_IDENT_MAX], iss[AIOS__MB_IDENT_MAX];
    aios__mb_bundle *b = NULL;
    trusted_root *tr = NULL;
    json_t *doc = NULL;
    const json_t *te = NULL;
    const tr_tlog *log = NULL;
    tlog_entry e;
    aios__x509_leaf leaf;
    int64_t times[1 + TS_MAX], t_first, t_last;
    size_t ntimes = 0, k;
    uint8_t *pae = NULL;
    int rc;

    memset(&e, 0, sizeof(e));
    if (signer_out)
        memset(signer_out, 0, sizeof(*signer_out));
    *out = NULL;
    if ((rc = aios__mb_bundle_parse(&b, bundle, len, 0, profile)) != AIOS_OK)
        return rc;
    if (b->method != AIOS__MB_METHOD_KEYLESS) {
        rc = aios__fail(AIOS_E_MANIFEST_METHOD, "bundle: not a Sigstore keyless bundle "
                        "(verificationMaterial.certificate)");
        goto done;
    }
    if ((rc = parse_trusted_root(&tr, trusted, trusted_len)) != AIOS_OK)
        goto done;
    /* 2: the log entry */
    if ((rc = first_tlog_entry(&te, &doc, bundle, len)) != AIOS_OK ||
        (rc = parse_entry(&e, te)) != AIOS_OK)
        goto done;
    for (i = 0; i < tr->ntlogs && log == NULL; i++)
        if (memcmp(tr->tlogs[i].key_id, e.log_id, 32) == 0)
            log = &tr->tlogs[i];
    if (log == NULL) {
        rc = aios__fail(AIOS_E_AUTH, "bundle: the entry's log is not one of the trusted root's");
        goto done;
    }
    if (log->ed25519 != e.v2) {
        rc = aios__fail(AIOS_E_AUTH, "bundle: a Rekor %s entry from a log whose key is %s",
                        e.v2 ? "v2" : "v1", log->ed25519 ? "Ed25519" : "ECDSA");
        goto done;
    }
    /* the times the signature is proven to have existed at: the log's
     * integrated time (v1, under its signed entry timestamp), and every
     * RFC 3161 timestamp that verifies */
    if (!e.v2) {
        if ((rc = check_set(&e, log)) != AIOS_OK)
            goto done;
        times[ntimes++] = e.integrated_time;
    }
    if ((rc = verified_timestamps(times, &ntimes, doc, tr, b)) != AIOS_OK)
        goto done;
    if (ntimes == 0) {
        rc = aios__fail(AIOS_E_AUTH, "bundle: no verified time: a Rekor v2 entry needs an RFC "
                        "3161 timestamp from a timestamp authority of the trusted root");
        goto done;
    }
    t_first = t_last = times[0];
    for (i = 0; i < ntimes; i++)
        if (!in_window(times[i], log->start, log->end)) {
            rc = aios__fail(AIOS_E_AUTH, "bundle: the log's key was not valid at the entry's "
                            "time (%" PRId64 ")", times[i]);
            goto done;
        }
    /* v0.3 bundles carry the proof and its checkpoint (the SET alone is
     * the log's promise, not its proof) */
    if (e.proof == NULL) {
        rc = aios__fail(AIOS_E_FORMAT, "bundle: the log entry has no inclusion proof");
        goto done;
    }
    if ((rc = check_proof(&e, log)) != AIOS_OK)
        goto done;
    /* 3: this signature's entry */
    if ((rc = e.v2 ? check_body_v2(&e, b) : check_body(&e, b)) != AIOS_OK)
        goto done;
    /* 4: the chain to a Fulcio CA, valid over the span of the verified
     * times (validity windows are intervals: valid at the first and the
     * last time is valid at each); one path, one set of signature checks */
    for (i = 0; i < b->cert_count; i++) {
        chain[i] = b->certs[i].p;
        lens[i] = b->certs[i].len;
    }
    for (k = 1; k < ntimes; k++) {
        if (times[k] < t_first)
            t_first = times[k];
        if (times[k] > t_last)
            t_last = times[k];
    }
    for (i = 0; i < tr->ncas; i++)
        if (in_window(t_first, tr->cas[i].start, tr->cas[i].end) &&
            in_window(t_last, tr->cas[i].start, tr->cas[i].end))
            for (j = 0; j < tr->cas[i].n; j++) {
                anchors[na] = tr->cas[i].certs[j];
                anchor_lens[na++] = tr->cas[i].lens[j];
            }
    if (na == 0) {
        rc = aios__fail(AIOS_E_MANIFEST_CHAIN, "bundle: no certificate authority of the trusted "
                        "root was valid at the signature's time (%" PRId64 " to %" PRId64 ")",
                        t_first, t_last);
        goto done;
    }
    if ((rc = aios__x509_chain_verify_span(&leaf, chain, lens, b->cert_count, anchors,
                                           anchor_lens, na, AIOS__X509_TIME_FIXED, t_first,
                                           t_last)) != AIOS_OK) {
        rc = aios__error_prefix("bundle");
        goto done;
    }
    /* 4b: the certificate was logged for certificate transparency: at least
     * one embedded SCT verifies with a CT log key of the root */
    {
        size_t nsct = 0;
        if ((rc = aios__x509_sct_verify(&nsct, b->certs[0].p, b->certs[0].len,
                                        leaf.issuer_key_hash, tr->ctlogs, tr->nctlogs)) !=
            AIOS_OK) {
            rc = aios__error_prefix("bundle");
            goto done;
        }
        if (nsct == 0) {
            rc = aios__fail(AIOS_E_AUTH, "bundle: no signed certificate timestamp of the "
                            "certificate verifies with a CT log of the trusted root");
            goto done;
        }
    }
    /* 5: the identity */
    if ((rc = aios__x509_fulcio_identity(b->certs[0].p, b->certs[0].len, san, sizeof(san), iss,
                                         sizeof(iss))) != AIOS_OK) {
        rc = aios__error_prefix("bundle");
        goto done;
    }
    if (strcmp(san, identity) != 0 || strcmp(iss, oidc_issuer) != 0) {
        char ps[NAME_MAX_], pi[NAME_MAX_];
        printable(ps, san);
        printable(pi, iss);
        rc = aios__fail(AIOS_E_MANIFEST_KEY_MISMATCH, "bundle: signed by \"%.200s\" (issuer "
                        "\"%.200s\"), not the expected identity", ps, pi);
        goto done;
    }
    /* 6: the signature, the statement */
    if ((rc = aios__mb_pae(&pae, &pae_len, b->payload, b->payload_len)) != AIOS_OK)
        goto done;
    rc = aios__ecdsa_verify_der((aios__ec_curve)aios__mb_alg_curve(leaf.alg), b->sig, b->sig_len,
                                pae, pae_len, leaf.pub, leaf.pub_len);
    aios__free(pae);
    if (rc == AIOS_E_AUTH || rc == AIOS_E_FORMAT) {
        rc = aios__fail(AIOS_E_AUTH, "bundle: the signature does not verify with the key of the "
                        "Fulcio certificate");
        goto done;
    }
    if (rc != AIOS_OK)
        goto done;
    if ((rc = aios__mb_statement_parse(out, b->payload, b->payload_len, profile, 0)) != AIOS_OK)
        goto done;
    if (signer_out) {
        aios__mb_signer_from_leaf(signer_out, AIOS__MB_METHOD_KEYLESS, &leaf, b->cert_count);
        snprintf(signer_out->identity, sizeof(signer_out->identity), "%s", san);
        snprintf(signer_out->oidc_issuer, sizeof(signer_out->oidc_issuer), "%s", iss);
        signer_out->integrated_time = e.integrated_time;   /* 0 for Rekor v2 */
        signer_out->log_index = e.log_index;
        signer_out->timestamp = ntimes > (e.v2 ? 0u : 1u) ? times[e.v2 ? 0 : 1] : 0;
    }
done:
    entry_free(&e);
    json_decref(doc);
    if (tr != NULL)
        tr_free(tr);
    aios__mb_bundle_free(b);
    return rc;
}
