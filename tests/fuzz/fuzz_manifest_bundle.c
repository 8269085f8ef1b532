/*
 * Fuzz the OMS bundle, DSSE and statement codec (lib/manifest/bundle.c,
 * docs/MANIFEST.md 3-11): arbitrary bytes as a bundle, verified with the
 * fixed golden P-384 public key (the key of the seeds in the corpus), in
 * both profiles; parsed without trust; and the decoded payload parsed as
 * a statement on its own.  Only the statuses of MANIFEST.md 11 may come
 * back, and a verified statement must be self-consistent.
 */
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
        return 1;
    }
    return 0;
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
    aios__mb_statement *st = NULL;
    aios__mb_bundle *b = NULL;
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
    rc = aios__mb_bundle_parse(&b, data, size, 0, AIOS__MB_PROFILE_MODEL_SIGNING_1);
    if (!allowed(rc))
        abort();
    if (rc == AIOS_OK) {
        if (b->payload_len == 0 || b->sig_len == 0)
            abort();
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
