/*
 * Fuzz the OMS bundle, DSSE and statement codec (lib/manifest/bundle.c,
 * docs/MANIFEST.md 3-11): arbitrary bytes as a bundle, verified with the
 * fixed golden P-384 public key (the key of the seeds in the corpus), in
 * both profiles; verified with the certificate method (7.2-7.4) under the
 * fixed golden root CA, in both profiles and at a fixed time inside its
 * validity (the path, usage and signature checks all run on the seeds);
 * parsed without trust, with the signer described; and the decoded
 * payload parsed as a statement on its own.  Only the statuses of
 * MANIFEST.md 11 may come back, and a verified statement must be
 * self-consistent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aios/aios.h"
#include "core/internal.h"
#include "crypto/crypto.h"
#include "manifest/bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ../shared/vectors/oms/model-transparency/keys/certificate/signing-key-pub.pem */
static const char KEY_PEM[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEsu6rZGBTjxtvRWPMixT+3HyndV0J0Ybt\n"
    "aHZUcO4DEK+OJHO/4e32bb/fbJKSpRgcBsIpKLcVijUomyFOERbd7u+BTPSUjGZD\n"
    "Qq6J7lTvp/EAXQGOKxW9RP0MGX3qAkvi\n"
    "-----END PUBLIC KEY-----\n";

/* ../shared/vectors/oms/model-transparency/keys/certificate/ca-cert.pem:
 * the root of every golden certificate bundle (RSA-3072) */
static const char CA_PEM[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIID9DCCAlygAwIBAgIUMqXRfD5TlsabbQzC0slV583dfHowDQYJKoZIhvcNAQEL\n"
    "BQAwEjEQMA4GA1UEAxMHcm9vdC1jYTAeFw0yNTA1MDIyMzM2MjhaFw0zNTA0MzAy\n"
    "MzM2MjhaMBIxEDAOBgNVBAMTB3Jvb3QtY2EwggGiMA0GCSqGSIb3DQEBAQUAA4IB\n"
    "jwAwggGKAoIBgQC/xiBPWRmrpY4j9XZCaED6T6/uObidGuCGAsjAEusms7M7qvTP\n"
    "pStAW7IfZlx+50fUwbiSuBbZRhvX8rBjh9ta9zKioK0pFydrNWOeWXBG0EDiRYiz\n"
    "lf7kH28H3Fp9M0wE1oNSCwb90yB6YIUnTUMuylgJtsvWe/dZMDu4mPgyTUk9ufyE\n"
    "phTwLPew73USo6RPDn7IJdoEhh5/zlCGv5BewAzXfUN+OLk5tfZGU4CHcNHE98/N\n"
    "DHTdGAtXJ50OZz9GcIa/kMTlzI3xOVylD5p//wXowbHcGKjwlVvIEmen5Hz30pxA\n"
    "TkMYxg2QRmH/AX2vKktTp4NDdvstNA16e4UwHPaQDnE5pINXLnixsLMMTZcbnSzY\n"
    "hMCVDFXSbhv5dzZ671iopWaNQQloNephR71+PtGpGomcwJ0/UNjxoHu+iFOdXx6q\n"
    "poYUj/IGZNZ5S7OEr5SrHzCutckLIIdSjZSQDxS7nqXjRJY0P2kY2zcLDGBzq/It\n"
    "5NjO/ZC62d1KWVMCAwEAAaNCMEAwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8E\n"
    "BAMCAgQwHQYDVR0OBBYEFBBCw8dXtjNLnmpoacShTy1l742lMA0GCSqGSIb3DQEB\n"
    "CwUAA4IBgQAcFEsJPeo7UhTcbX2cHVssGj3MUmcVZ6Ta+ysiYpz2q3sVtdeeK51D\n"
    "nD2g8hzP53rmd6+XOgqcjPkFJR2387sDdwptfVQincoSo6KFa7CZ76w8zJfBGNBp\n"
    "/rb2wygAM7/HRG6TfgD/wrgqfUBZ+VgNIzAbpSRvqRYrSeEfh1oJpeZA0OOgpldX\n"
    "CGCGJbNWQIhX/J608mg2g2CiVO5ALT0d2VMjffymAL7rXx71UoZaOXlGbkB7Ykg7\n"
    "Y1DgLBNGJ7IOpHMYCHggx3haKXs3Hk9bMGLJI5YRVi8b4lyksdOwvxLKqHLBIRbg\n"
    "FQOYTT34nUwWv8uvA7X1tlSVVUtLMG+couscKcorQI6nuY44KqkwwK0v+fSmHyh7\n"
    "UZOSTNdeWSMdMCJi+HLbbFcanW8WyHQ9qACmq2YIjMs6QH+xrKQkn7ARbpnrZnhq\n"
    "F11pOL1EvJG/qooceoDcJDm4I1HNwd4UYmWOIJ+oaGBw3r8OA2mPKQ7r8yVE+SuX\n"
    "fLFGLv//rKc=\n"
    "-----END CERTIFICATE-----\n";

/* The statuses of MANIFEST.md 11, steps 1-9. */
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

static void check_signer(const aios__mb_signer *sg, int verified)
{
    char *js;

    if (strnlen(sg->subject, sizeof(sg->subject)) == sizeof(sg->subject) ||
        strnlen(sg->issuer, sizeof(sg->issuer)) == sizeof(sg->issuer) ||
        strnlen(sg->hint, sizeof(sg->hint)) == sizeof(sg->hint))
        abort();
    if (verified && sg->method == AIOS__MB_METHOD_CHAIN &&
        (sg->chain_len == 0 || sg->chain_len > AIOS__MB_CERTS_MAX || sg->path_len < 1 ||
         sg->checked_at < sg->not_before || sg->checked_at > sg->not_after))
        abort();
    js = aios__mb_signer_json(sg);   /* NULL only when out of memory */
    if (js == NULL)
        abort();
    aios__free(js);
}

static void check_statement(const aios__mb_statement *st)
{
    aios__sha256_ctx h;
    uint8_t root[32];
    size_t i;

    if (st->resource_count == 0 || st->subject_name == NULL)
        abort();
    aios__sha256_init(&h);
    for (i = 0; i < st->resource_count; i++) {
        const aios__mb_resource *r = &st->resources[i];
        if (r->name == NULL || strlen(r->name) != r->name_len || r->path_len > r->name_len ||
            (r->digest_len != 32 && r->digest_len != 64))
            abort();
        aios__sha256_update(&h, r->digest, r->digest_len);
    }
    aios__sha256_final(&h, root);
    if (!(st->flags & AIOS__MB_F_LEGACY) && memcmp(root, st->root, 32) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static aios_key *key;
    static const uint8_t *anchors[1] = { (const uint8_t *)CA_PEM };
    static const size_t anchor_lens[1] = { sizeof(CA_PEM) - 1 };
    aios__mb_statement *st = NULL;
    aios__mb_bundle *b = NULL;
    aios__mb_signer sg;
    int rc, p;

    if (key == NULL) {
        if (aios_init() != AIOS_OK ||
            aios_key_from_public_pem(&key, "fuzz", KEY_PEM, sizeof(KEY_PEM) - 1) != AIOS_OK)
            abort();
    }
    for (p = 0; p < 2; p++) {
        rc = aios__mb_verify_key(&st, data, size, key, p, 0);
        if (!allowed(rc) || (rc == AIOS_OK) != (st != NULL))
            abort();
        if (st) {
            check_statement(st);
            aios__mb_statement_free(st);
            st = NULL;
        }
    }
    /* the certificate method: the profile's time, then a fixed time
     * (2030-01-01) inside the golden chain's validity */
    for (p = 0; p < 3; p++) {
        rc = aios__mb_verify_certificate(&st, &sg, data, size, anchors, anchor_lens, 1,
                                         p == 2 ? AIOS__MB_PROFILE_OMS_1_0 : p,
                                         p == 2 ? AIOS__MB_TIME_FIXED : AIOS__MB_TIME_PROFILE,
                                         INT64_C(1893456000), 0);
        if (!allowed(rc) || (rc == AIOS_OK) != (st != NULL) ||
            (rc != AIOS_OK && sg.method != 0))
            abort();
        if (st) {
            check_statement(st);
            check_signer(&sg, 1);
            aios__mb_statement_free(st);
            st = NULL;
        }
    }
    rc = aios__mb_bundle_parse(&b, data, size, 0, AIOS__MB_PROFILE_MODEL_SIGNING_1);
    if (!allowed(rc))
        abort();
    if (rc == AIOS_OK) {
        if (b->payload_len == 0 || b->sig_len == 0)
            abort();
        rc = aios__mb_bundle_signer(&sg, b);
        if (!allowed(rc))
            abort();
        if (rc == AIOS_OK)
            check_signer(&sg, 0);
        for (p = 0; p < 2; p++) {
            rc = aios__mb_statement_parse(&st, b->payload, b->payload_len, p, p == 0);
            if (!allowed(rc))
                abort();
            if (st) {
                check_statement(st);
                aios__mb_statement_free(st);
                st = NULL;
            }
        }
        aios__mb_bundle_free(b);
    }
    /* the bytes as a statement too */
    rc = aios__mb_statement_parse(&st, data, size, AIOS__MB_PROFILE_MODEL_SIGNING_1, 0);
    if (!allowed(rc))
        abort();
    if (st) {
        check_statement(st);
        aios__mb_statement_free(st);
    }
    return 0;
}
