/*
 * Fuzz Sigstore keyless verification (lib/manifest/sigstore.c,
 * docs/MANIFEST.md 7.5).  The first byte (mod 5) says what the rest is:
 *
 *   0: a bundle, verified against a trusted root.  With
 *         AIOS_FUZZ_SIGSTORE_ROOT naming Sigstore's real trusted root (the
 *         sigstore package's trusted_root.json), the golden keyless seeds
 *         pass every step, so mutations reach the inclusion proof, the
 *         checkpoint, the entry body, the chain, the identity and the
 *         statement.  Without it, a root made up here (a log key of its
 *         own under Rekor's log id, a CA of its own): the entry is parsed
 *         and its signed timestamp fails.
 *   1: a trusted root (or a client trust config holding one), for the
 *         golden v1.1.0 keyless bundle (read from ../shared/vectors/oms
 *         at start, AIOS_FUZZ_SIGSTORE_BUNDLE).
 *   2: a DER certificate for the Fulcio identity reader
 *      (aios__x509_fulcio_identity), which the signed data of a real
 *      bundle keeps the other modes from mutating.
 *   3: an inclusion proof: index and size (8 bytes each), the leaf hash,
 *      then the audit path, for aios__mb_merkle_root.
 *   4: an RFC 3161 timestamp response (aios__x509_timestamp_verify) over
 *      the golden bundle's signature, with the made-up root's CA as the
 *      authority: the seed (the golden bundle's real timestamp) passes the
 *      parse, the digests and the imprint, so mutations reach them all;
 *      the authority's certificate then fails (no timeStamping purpose).
 *      Mode 0 with the real root checks real timestamps to the end.
 *
 * Only the statuses of MANIFEST.md 7.5 may come back; a verified result
 * must carry the identity it was asked for.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aios/aios.h"
#include "core/internal.h"
#include "crypto/crypto.h"
#include "manifest/bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define IDENTITY "stefanb@us.ibm.com"
#define ISSUER   "https://sigstore.verify.ibm.com/oauth2"

/* A trusted root made up for the fuzzer (its own P-256 log key and CA). */
static const char MADE_UP_ROOT[] =
    "{\"mediaType\":\"application/vnd.dev.sigstore.trustedroot+json;vers"
    "ion=0.1\",\"tlogs\":[{\"baseUrl\":\"https://log.example\",\"hashAlgorith"
    "m\":\"SHA2_256\",\"publicKey\":{\"rawBytes\":\"MFkwEwYHKoZIzj0CAQYIKoZIz"
    "j0DAQcDQgAEFdWCyDJ/DTh4jjGlTjt+1EHlzHlp8Pr+/9LkzjBcLQBZQ94AvgONM"
    "E/fntUJNIOt6oE7NRs0XhBHRhoq9JeIDQ==\",\"keyDetails\":\"PKIX_ECDSA_P2"
    "56_SHA_256\",\"validFor\":{\"start\":\"2021-01-12T11:53:27Z\"}},\"logId\""
    ":{\"keyId\":\"wNI9atQGlz+VWfO6LRygH4QUfY/8W4RFwiT5i5WRgB0=\"}}],\"cer"
    "tificateAuthorities\":[{\"subject\":{\"commonName\":\"fuzz-ca\"},\"certC"
    "hain\":{\"certificates\":[{\"rawBytes\":\"MIIBezCCASGgAwIBAgIUMw0qN2zv"
    "r+9avstNqhK2PxOYv4cwCgYIKoZIzj0EAwIwEjEQMA4GA1UEAwwHZnV6ei1jYTAg"
    "Fw0yNjExMjcxMTIyNTZaGA8yMTI2MTEwMzExMjI1NlowEjEQMA4GA1UEAwwHZnV6"
    "ei1jYTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABBXVgsgyfw04eI4xpU47ftRB"
    "5cx5afD6/v/S5M4wXC0AWUPeAL4DjTBP357VCTSDreqBOzUbNF4QR0YaKvSXiA2j"
    "UzBRMB0GA1UdDgQWBBRrSnDw/Niv+ehq6QlqQWvHV89NGDAfBgNVHSMEGDAWgBRr"
    "SnDw/Niv+ehq6QlqQWvHV89NGDAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMC"
    "A0gAMEUCIQCpdIscG8HOwXZkuWM5lzSiq0waXmS+GG/JO+NnJLWgrgIgbnUzo1pB"
    "QvM5Fz+CuRp4VlfThHUAHyq4UAavZAIlzq4=\"}]},\"validFor\":{\"start\":\"20"
    "21-03-07T03:20:29.000Z\",\"end\":\"2099-12-31T23:59:59+01:00\"}}]}";

static int allowed(int rc)
{
    switch (rc) {
    case AIOS_OK:
    case AIOS_E_FORMAT:
    case AIOS_E_VERSION:
    case AIOS_E_AUTH:
    case AIOS_E_LIMIT:
    case AIOS_E_UNSUPPORTED:
    case AIOS_E_NOMEM:
    case AIOS_E_INVALID_ARGUMENT:
    case AIOS__MB_E_METHOD:
    case AIOS__MB_E_KEY_MISMATCH:
    case AIOS__MB_E_CHAIN:
    case AIOS__MB_E_CERT_USAGE:
    case AIOS__MB_E_ROOT_DIGEST:
    case AIOS__MB_E_PREDICATE:
    case AIOS__MB_E_PATH:
    case AIOS__MB_E_DUPLICATE:
    case AIOS__MB_E_SIGNATURES:
    case AIOS__MB_E_EMPTY:
        return 1;
    }
    return 0;
}

static uint8_t *real_root, *golden;
static size_t real_root_len, golden_len;
static aios__mb_bundle *golden_b;   /* parsed, for its signature (mode 4) */

/* fuzz-ca of MADE_UP_ROOT, DER (made at start from its base64) */
static uint8_t made_up_ca[512];
static size_t made_up_ca_len;

static uint8_t *load(const char *path, size_t *len)
{
    uint8_t *p = NULL;
    FILE *f;
    long n;
    *len = 0;
    if (path == NULL || (f = fopen(path, "rb")) == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (p = malloc((size_t)n)) != NULL && fread(p, 1, (size_t)n, f) == (size_t)n)
        *len = (size_t)n;
    fclose(f);
    if (*len == 0) {
        free(p);
        return NULL;
    }
    return p;
}

static void run(const uint8_t *bundle, size_t blen, const uint8_t *root, size_t rlen)
{
    aios__mb_statement *st = NULL;
    aios__mb_signer sg;
    int rc = aios__mb_verify_sigstore(&st, &sg, bundle, blen, root, rlen, IDENTITY, ISSUER,
                                      AIOS__MB_PROFILE_MODEL_SIGNING_1);
    char *js;
    if (!allowed(rc) || (rc == AIOS_OK) != (st != NULL))
        abort();
    if (rc != AIOS_OK)
        return;
    {   /* the signing time: the log's (v1), else an RFC 3161 timestamp's */
        int64_t t = sg.integrated_time ? sg.integrated_time : sg.timestamp;
        if (strcmp(sg.identity, IDENTITY) != 0 || strcmp(sg.oidc_issuer, ISSUER) != 0 ||
            sg.method != AIOS__MB_METHOD_KEYLESS || t == 0 || t < sg.not_before ||
            t > sg.not_after || st->resource_count == 0)
            abort();
    }
    if ((js = aios__mb_signer_json(&sg)) == NULL)
        abort();
    aios__free(js);
    aios__mb_statement_free(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        if (aios_init() != AIOS_OK)
            abort();
        real_root = load(getenv("AIOS_FUZZ_SIGSTORE_ROOT"), &real_root_len);
        if ((golden = load(AIOS_FUZZ_SIGSTORE_BUNDLE, &golden_len)) == NULL) {
            fprintf(stderr, "fuzz_manifest_sigstore: cannot read %s\n", AIOS_FUZZ_SIGSTORE_BUNDLE);
            abort();
        }
        if (aios__mb_bundle_parse(&golden_b, golden, golden_len, 0,
                                  AIOS__MB_PROFILE_MODEL_SIGNING_1) != AIOS_OK)
            abort();
        {
            const char *k = strstr(MADE_UP_ROOT, "\"certificates\":[{\"rawBytes\":\"");
            const char *v = k + strlen("\"certificates\":[{\"rawBytes\":\"");
            if (k == NULL || aios__mb_base64_decode(made_up_ca, sizeof(made_up_ca),
                                                    &made_up_ca_len, v,
                                                    (size_t)(strchr(v, '"') - v)) != AIOS_OK)
                abort();
        }
        ready = 1;
    }
    if (size < 1)
        return 0;
    switch (data[0] % 5) {
    case 0:
        if (real_root != NULL)
            run(data + 1, size - 1, real_root, real_root_len);
        run(data + 1, size - 1, (const uint8_t *)MADE_UP_ROOT, sizeof(MADE_UP_ROOT) - 1);
        break;
    case 1:
        run(golden, golden_len, data + 1, size - 1);
        break;
    case 2: {
        char san[64], iss[64];
        int rc = aios__x509_fulcio_identity(data + 1, size - 1, san, sizeof(san), iss,
                                            sizeof(iss));
        if (rc != AIOS_OK && rc != AIOS_E_FORMAT && rc != AIOS_E_LIMIT &&
            rc != AIOS_E_UNSUPPORTED && rc != AIOS_E_NOMEM && rc != AIOS__MB_E_CERT_USAGE)
            abort();
        if (strnlen(san, sizeof(san)) == sizeof(san) || strnlen(iss, sizeof(iss)) == sizeof(iss) ||
            (rc != AIOS_OK && (san[0] || iss[0])))
            abort();
        {   /* its embedded SCTs: the precertificate rebuilt, the list read */
            uint8_t ikh[32];
            size_t nsct = 1;
            aios__x509_ctlog log;
            memset(&log, 0, sizeof(log));
            memset(ikh, 0x5a, sizeof(ikh));
            log.curve = AIOS__EC_P256;
            log.end = INT64_MAX;
            rc = aios__x509_sct_verify(&nsct, data + 1, size - 1, ikh, &log, 1);
            if ((rc != AIOS_OK && rc != AIOS_E_FORMAT && rc != AIOS_E_LIMIT &&
                 rc != AIOS_E_UNSUPPORTED && rc != AIOS_E_NOMEM) || nsct != 0)
                abort();
        }
        break;
    }
    case 4: {
        const uint8_t *chain[2] = { made_up_ca, made_up_ca };
        size_t lens[2] = { made_up_ca_len, made_up_ca_len };
        int64_t t = -1;
        int rc = aios__x509_timestamp_verify(&t, data + 1, size - 1, golden_b->sig,
                                             golden_b->sig_len, chain, lens, 2);
        /* the made-up CA is no timestamp authority: never a verified time */
        if (rc == AIOS_OK || t != 0 ||
            (rc != AIOS_E_FORMAT && rc != AIOS_E_AUTH && rc != AIOS_E_UNSUPPORTED &&
             rc != AIOS_E_NOMEM && rc != AIOS_E_LIMIT && rc != AIOS__MB_E_CHAIN &&
             rc != AIOS__MB_E_CERT_USAGE))
            abort();
        break;
    }
    default:
        if (size >= 49) {
            uint64_t index = 0, tsize = 0;
            uint8_t root[32], again[32];
            size_t n = (size - 49) / 32, i;
            for (i = 0; i < 8; i++) {
                index = index << 8 | data[1 + i];
                tsize = tsize << 8 | data[9 + i];
            }
            index %= 1u << 20;   /* small trees reach every branch */
            tsize %= 1u << 20;
            if (aios__mb_merkle_root(root, data + 17, index, tsize,
                                     (const uint8_t (*)[32])(const void *)(data + 49), n) &&
                (!aios__mb_merkle_root(again, data + 17, index, tsize,
                                       (const uint8_t (*)[32])(const void *)(data + 49), n) ||
                 memcmp(root, again, 32) != 0 || index >= tsize))
                abort();
        }
        break;
    }
    return 0;
}
